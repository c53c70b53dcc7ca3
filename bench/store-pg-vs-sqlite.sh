#!/usr/bin/env bash
# bench/store-pg-vs-sqlite.sh - API request throughput of `sdra serve` with the PostgreSQL job
# store against the SQLite store, measured in the same run on the same machine: the reference
# is the SQLite store.
#
#  1. GET /v1/calls (authenticated list of the newest calls, read from the store) with wrk at
#     CONNECTIONS connections for DURATION seconds, on a store holding 200 calls.
#  2. POST /v1/calls of a small WAV (each request creates a call and queues its first job in
#     one store transaction) with wrk for DURATION seconds.
# Both servers run with --no-workers (the API alone) and the same options; PostgreSQL is a
# throwaway server this script starts (tests/integration/lib/pg.sh: initdb in a temporary
# directory, unix socket, fsync on as in production) and stops.
#
# Usage: bench/store-pg-vs-sqlite.sh [path/to/sdra]  (default build/sdra; env DURATION=10 CONNECTIONS=16)
set -euo pipefail
SDRA=${1:-${SDRA:-build/sdra}}
DURATION=${DURATION:-10}
CONNS=${CONNECTIONS:-16}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -x "$SDRA" ] || { echo "bench: $SDRA not built (make build)" >&2; exit 1; }
for t in wrk curl python3 sox; do
  command -v "$t" >/dev/null || { echo "bench: $t missing (scripts/install-deps.sh)" >&2; exit 1; }
done
. "$HERE/../tests/integration/lib/scratch.sh"
. "$HERE/../tests/integration/lib/pg.sh"
pg_available || { echo "bench: no PostgreSQL server binaries (scripts/install-deps.sh)" >&2; exit 1; }
it_setup bench_store
PG_FSYNC=on pg_start

start_server() { # start_server DATA_DIR [options...]: sets PORT, SPID
  local data=$1; shift
  rm -f "$T/port"
  "$SDRA" serve --listen 127.0.0.1:0 --data "$data" --port-file "$T/port" --no-workers --log-level warn \
    --max-active 1000000 --no-encrypt "$@" 2>>"$T/server.log" &
  SPID=$!
  PIDS+=("$SPID")
  wait_port_file "$T/port" "bench: the server did not start"
  PORT=$(cat "$T/port")
}

# wrk_run URL HEADER [script]: prints requests/s (fails on any non-2xx answer)
wrk_run() {
  local out
  if [ $# -gt 2 ]; then
    out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" -H "$2" -s "$3" "$1")
  else
    out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" -H "$2" "$1")
  fi
  echo "$out" >> "$T/wrk.log"
  python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
if bad:
    sys.exit("wrk saw %s error responses" % bad.group(1))
print("%.0f" % float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)))
PY
}

sox -n -r 8000 -c 1 -b 16 "$T/tiny.wav" synth 0.2 sine 440 2>/dev/null
cat > "$T/post.lua" <<LUA
local f = io.open("$T/tiny.wav", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "audio/wav"
wrk.path = "/v1/calls?contact_email=bench@example.com&company=Bench"
LUA

# measure NAME DATA_DIR [serve options]: prints "GET_RPS POST_RPS"
measure() {
  local name=$1 data=$2; shift 2
  local rkey wkey
  rkey=$("$SDRA" keys create --data "$data" --name "r-$name" --scope read)
  wkey=$("$SDRA" keys create --data "$data" --name "w-$name" --scope write)
  start_server "$data" "$@"
  for _ in $(seq 1 200); do
    curl -sf -o /dev/null -H "Authorization: Bearer $wkey" -H 'Content-Type: audio/wav' --data-binary @"$T/tiny.wav" \
      "http://127.0.0.1:$PORT/v1/calls?contact_email=bench@example.com&company=Bench" || {
      echo "bench: upload failed on $name" >&2; exit 1; }
  done
  local get post
  get=$(wrk_run "http://127.0.0.1:$PORT/v1/calls" "Authorization: Bearer $rkey")
  post=$(wrk_run "http://127.0.0.1:$PORT/v1/calls" "Authorization: Bearer $wkey" "$T/post.lua")
  kill "$SPID"; wait "$SPID" 2>/dev/null || true
  echo "$get $post"
}

echo "== API throughput: PostgreSQL store vs SQLite store (wrk -t2 -c$CONNS -d${DURATION}s, $(nproc) cores)"
read -r SQ_GET SQ_POST < <(measure sqlite "$T/sqlite")
read -r PG_GET PG_POST < <(SDRA_STORE=$SDRA_TEST_PG_URL measure postgres "$T/pg" --store "$SDRA_TEST_PG_URL")
printf '  %-22s %10s %10s\n' "" "SQLite" "PostgreSQL"
printf '  %-22s %10s %10s req/s\n' "GET /v1/calls" "$SQ_GET" "$PG_GET"
printf '  %-22s %10s %10s req/s\n' "POST /v1/calls (tiny)" "$SQ_POST" "$PG_POST"
python3 -c "import sys; a,b,c,d=map(float,sys.argv[1:]); print(f'  ratio postgres/sqlite : GET {b/a:.2f}, POST {d/c:.2f}')" \
  "$SQ_GET" "$PG_GET" "$SQ_POST" "$PG_POST"
echo "  (PostgreSQL on this machine over a unix socket, fsync on; SQLite WAL, synchronous=FULL)"
