#!/usr/bin/env bash
# bench/workers-scale.sh - does stage work scale with worker processes? The same batch of CALLS
# short generated calls is queued through an API node (`sdra serve --no-workers`) while no
# worker runs, then processed once by 1 `sdra worker --concurrency 1` and once (a fresh data
# directory, the same batch) by 2 such processes on the same store; the wall time from the
# workers' start to the last call done is the measure, and the ratio of the two is the result
# (measured in the same run, so the machine is the same for both). Target on a 2-core machine:
# at least 1.8. The load average before and after is printed: on a busy machine the ratio
# means little.
#
# Usage: bench/workers-scale.sh [path/to/sdra]   (default build/sdra; env CALLS=24,
#        STORE=sqlite|pg: pg starts a throwaway PostgreSQL with tests/integration/lib/pg.sh)
set -euo pipefail
SDRA=$(readlink -f "${1:-${SDRA:-build/sdra}}")
CALLS=${CALLS:-24}
KIND=${STORE:-sqlite}
HERE=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$SDRA" ] || { echo "bench: $SDRA not built (make build)" >&2; exit 1; }
for t in flite curl python3; do [ -n "$(command -v "$t")" ] || { echo "bench: $t missing" >&2; exit 1; }; done
export SDRA_SHARE_DIR=${SDRA_SHARE_DIR:-$HERE/data}
. "$HERE/tests/integration/lib/scratch.sh"
. "$HERE/tests/integration/lib/pg.sh"
it_setup bench_workers
fail() { # also from inside $(run ...), a subshell whose processes the EXIT trap does not know
  echo "bench: $*" >&2; for f in "$T"/*.log; do tail -n 5 "$f" >&2; done
  [ ${#PIDS[@]} -gt 0 ] && kill "${PIDS[@]}" 2>/dev/null; exit 1; }
if [ "$KIND" = pg ]; then
  pg_available || fail "STORE=pg but no PostgreSQL server binaries"
  pg_start
fi
flite -t "Hello Jordan, this is Alex. Shall we meet on Tuesday?" -o "$T/call.wav"

# run NAME WORKERS: prints the seconds WORKERS processes took over the batch
run() {
  local name=$1 n=$2 d="$T/$1" store pids=() key port t0 t1 api
  mkdir -p "$d"
  if [ "$KIND" = pg ]; then
    store="$SDRA_TEST_PG_URL"
    PGPASSWORD=$PG_PW "$PG_BIN/psql" -q -h "$PG_DIR" -p 5432 -U sdra -d sdra_test \
      -c "DROP SCHEMA public CASCADE; CREATE SCHEMA public;" >"$T/psql.out"
  else
    store="sqlite:$d/sdra.db"
  fi
  local common=(--store "$store" --data "$d" --log-level warn --no-encrypt)
  "$SDRA" serve --no-workers "${common[@]}" --listen 127.0.0.1:0 --port-file "$d/port" --max-active 100000 \
    >"$T/$name.api.out" 2>"$T/$name.api.log" & # not the caller's $(...) pipe: it would never close
  api=$!
  PIDS+=($api)
  wait_port_file "$d/port" "API node did not start"
  port=$(cat "$d/port")
  key=$("$SDRA" keys create --store "$store" --data "$d" --name bench --scope write) || fail "keys create"
  for i in $(seq 1 "$CALLS"); do
    curl -sf -H "Authorization: Bearer $key" -H 'Content-Type: audio/wav' --data-binary @"$T/call.wav" \
      -o "$T/upload.json" "http://127.0.0.1:$port/v1/calls?contact_email=c$i@acme.example" || fail "upload $i"
  done
  t0=$(date +%s.%N)
  for w in $(seq 1 "$n"); do
    "$SDRA" worker "${common[@]}" --concurrency 1 >"$T/$name.worker$w.out" 2>"$T/$name.worker$w.log" &
    pids+=($!)
    PIDS+=($!)
  done
  while :; do
    local left
    left=$(curl -sf -H "Authorization: Bearer $key" "http://127.0.0.1:$port/v1/calls?limit=100" |
      "$PY" -c 'import json,sys; c=json.load(sys.stdin)["calls"]
if any(x["status"] == "failed" for x in c): print("failed")
else: print(sum(1 for x in c if x["status"] != "done"))')
    [ "$left" = failed ] && fail "a call failed in run $name"
    [ "$left" = 0 ] && break
    sleep 0.5
  done
  t1=$(date +%s.%N)
  for p in "${pids[@]}" "$api"; do kill "$p"; wait "$p" 2>>"$T/noise.log" || true; done
  python3 -c "print(f'{$t1 - $t0:.2f}')"
}

# the interpreter itself, not a version manager's shim: the poll below runs several times a
# second on the machine being measured (a pyenv shim costs 0.6 s of CPU per start)
PY=$(python3 -c 'import sys; print(sys.executable)')
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
T1=$(run one 1)
T2=$(run two 2)
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$T1" "$T2" "$CALLS" "$KIND" "$LOAD0" "$LOAD1" "$(nproc)" <<'PY'
import sys
t1, t2, n, kind, l0, l1, cores = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:]
print(f"workers-scale: {n} calls, store {kind}, {cores} cores")
print(f"  1 worker : {t1:7.2f} s  ({n / t1 * 3600:7.0f} calls/h)")
print(f"  2 workers: {t2:7.2f} s  ({n / t2 * 3600:7.0f} calls/h)")
print(f"  speed-up : {t1 / t2:.2f}x (target >= 1.8 on 2 cores)")
print(f"  load average before: {l0}; after: {l1}")
PY
