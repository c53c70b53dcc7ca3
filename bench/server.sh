#!/usr/bin/env bash
# bench/server.sh - how fast and how lean `sdra serve` is, against a reference measured in the
# same run on the same machine.
#
#  1. GET /v1/calls/{id} (authenticated, read from the SQLite job store, JSON built per request)
#     with wrk at 64 connections for DURATION seconds: requests/s and p99 latency; then nginx
#     (our own process on another loopback port, temp config, `daemon off`) serving the same
#     JSON bytes as a static file with the same wrk settings; the ratio of the two.
#  2. Memory of the server while 50 clients upload 20 MB each at once (uploads are streamed to
#     disk, so peak RSS must stay far below 50 x 20 MB): RSS before, peak RSS (VmHWM) after.
#
# Usage: bench/server.sh [path/to/sdra]   (default: build/sdra; env DURATION=10 CONNECTIONS=64)
set -euo pipefail
SDRA=${1:-${SDRA:-build/sdra}}
DURATION=${DURATION:-10}
CONNS=${CONNECTIONS:-64}
[ -x "$SDRA" ] || { echo "bench: $SDRA not built (make build)" >&2; exit 1; }
for t in wrk nginx curl python3 sox; do
  command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || { echo "bench: $t missing (scripts/install-deps.sh)" >&2; exit 1; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
# $T, a scratch directory removed at exit, and PIDS, the servers stopped at exit (the
# integration tests' helper)
. "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib/scratch.sh"
it_setup bench_server

start_server() { # start_server DATA_DIR [options...]: sets PORT, SPID
  local data=$1; shift
  rm -f "$T/port"
  "$SDRA" serve --listen 127.0.0.1:0 --data "$data" --port-file "$T/port" --no-workers --log-level warn "$@" \
    2>>"$T/server.log" &
  SPID=$!
  PIDS+=("$SPID")
  for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.1; done
  [ -s "$T/port" ] || { echo "bench: server did not start" >&2; cat "$T/server.log" >&2; exit 1; }
  PORT=$(cat "$T/port")
}

# wrk_run URL [header]: prints "RPS P99_MS"
wrk_run() {
  local out
  if [ $# -gt 1 ]; then
    out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -H "$2" "$1")
  else
    out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$1")
  fi
  echo "$out" >> "$T/wrk.log"
  python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
m = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
if bad:
    sys.exit("wrk saw %s error responses" % bad.group(1))
print(f"{rps:.0f} {p99:.2f}")
PY
}

echo "== sdra serve vs nginx: GET /v1/calls/{id}, wrk -t2 -c$CONNS -d${DURATION}s ($(nproc) cores)"
D="$T/data"
KEY=$("$SDRA" keys create --data "$D" --name bench --scope read)
WKEY=$("$SDRA" keys create --data "$D" --name bench-w --scope write)
sox -n -r 16000 -c 1 -b 16 "$T/tone.wav" synth 3 sine 440 2>/dev/null
start_server "$D"
ID=$(curl -s -H "Authorization: Bearer $WKEY" -H 'Content-Type: audio/wav' --data-binary @"$T/tone.wav" \
  "http://127.0.0.1:$PORT/v1/calls?contact_email=bench@example.com&company=Bench" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
mkdir -p "$T/www"
curl -s -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/v1/calls/$ID" > "$T/www/call.json"
chmod 755 "$T" "$T/www"; chmod 644 "$T/www/call.json" # nginx workers may run as an unprivileged user
read -r S_RPS S_P99 < <(wrk_run "http://127.0.0.1:$PORT/v1/calls/$ID" "Authorization: Bearer $KEY")

NPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$T/nginx/logs"
cat > "$T/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $T/nginx/body; proxy_temp_path $T/nginx/proxy;
  fastcgi_temp_path $T/nginx/fastcgi; uwsgi_temp_path $T/nginx/uwsgi; scgi_temp_path $T/nginx/scgi;
  server {
    listen 127.0.0.1:$NPORT;
    root $T/www;
    location / { default_type application/json; }
  }
}
EOF
"$NGINX" -p "$T/nginx" -c "$T/nginx/nginx.conf" -g 'daemon off;' 2>>"$T/nginx/error.log" &
PIDS+=($!)
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$NPORT/call.json" >/dev/null && break; sleep 0.1; done
cmp -s <(curl -s "http://127.0.0.1:$NPORT/call.json") "$T/www/call.json" || { echo "bench: nginx not serving" >&2; exit 1; }
read -r N_RPS N_P99 < <(wrk_run "http://127.0.0.1:$NPORT/call.json")
printf '  sdra serve : %8s req/s   p99 %7s ms\n' "$S_RPS" "$S_P99"
printf '  nginx      : %8s req/s   p99 %7s ms   (same %s-byte JSON as a static file)\n' "$N_RPS" "$N_P99" \
  "$(stat -c %s "$T/www/call.json")"
python3 -c "import sys; s,n=float(sys.argv[1]),float(sys.argv[2]); print(f'  ratio      : sdra/nginx = {s/n:.2f} of the throughput')" "$S_RPS" "$N_RPS"

echo "== memory: 50 concurrent 20 MB uploads"
kill "$SPID"; wait "$SPID" 2>/dev/null || true
D2="$T/data2"
WK2=$("$SDRA" keys create --data "$D2" --name up --scope write)
head -c $((20 * 1024 * 1024)) /dev/urandom > "$T/big.wav"
start_server "$D2" --max-active 100 --max-upload-mb 64
rss() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$SPID/status"; }
BEFORE=$(rss VmRSS)
CURLS=()
for i in $(seq 1 50); do
  curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $WK2" -H 'Content-Type: audio/wav' \
    --data-binary @"$T/big.wav" "http://127.0.0.1:$PORT/v1/calls" >> "$T/codes" &
  CURLS+=($!)
done
wait "${CURLS[@]}"
OK=$(grep -c '^202$' "$T/codes" || true)
PEAK=$(rss VmHWM)
AFTER=$(rss VmRSS)
echo "  uploads accepted: $OK/50 ($(du -sm "$D2/calls" | cut -f1) MB on disk)"
echo "  server RSS: ${BEFORE} kB before, peak ${PEAK} kB (VmHWM), ${AFTER} kB after"
python3 -c "import sys; p=int(sys.argv[1]); print(f'  peak RSS is {p/1024:.1f} MB for 1000 MB uploaded: ' + ('bounded' if p < 200*1024 else 'NOT bounded'))" "$PEAK"
[ "$OK" = 50 ] || { echo "bench: not every upload was accepted" >&2; exit 1; }
