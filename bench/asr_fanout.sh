#!/usr/bin/env bash
# bench/asr_fanout.sh - wall time of `sdra transcribe --asr whisper-http` with 1, 2 and 4
# endpoints, each a test server (tests/servers/openai_whisper.py) that adds LATENCY_MS (300)
# to every reply and answers one request at a time, as a server with one GPU does.
#
# The servers share a recognition cache, filled by a first (untimed) run, so that the timed
# runs measure the fan-out (latency, scheduling, merge), not the embedded recognizer the test
# server runs. ROUNDS rounds (default 3), each timing 1, 2 and 4 endpoints back to back (the
# order alternates), report the ratio to the 1-endpoint run of the same round (a shared
# machine drifts by tens of percent within minutes), and the median round; the ideal is
# 1 : 0.5 : 0.25. All three runs must give the same transcript (checked).
#
# usage: bench/asr_fanout.sh [AUDIO]   (default: build/fixtures/discovery.mono.wav)
# env: SDRA (default build/sdra), ROUNDS (3), LATENCY_MS (300), CHUNK_S (5)
# A benchmark reports; it does not pass or fail.
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SDRA="${SDRA:-$src/build/sdra}"
ROUNDS="${ROUNDS:-3}"
LATENCY_MS="${LATENCY_MS:-300}"
CHUNK_S="${CHUNK_S:-5}"
audio="${1:-$src/build/fixtures/discovery.mono.wav}"
[ -x "$SDRA" ] || { echo "bench: $SDRA not built" >&2; exit 1; }
[ -f "$audio" ] || { echo "bench: $audio missing (ctest -R fixtures.generate)" >&2; exit 1; }
tmp="$(mktemp -d)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/cache"
urls=()
for i in 1 2 3 4; do
  python3 "$src/tests/servers/openai_whisper.py" --sdra "$SDRA" --port-file "$tmp/port$i" \
    --cache-dir "$tmp/cache" --latency-ms "$LATENCY_MS" --concurrency 1 2>"$tmp/server$i.log" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$tmp/port$i" ] && break; sleep 0.1; done
  urls+=("http://127.0.0.1:$(cat "$tmp/port$i")/v1")
done
run() { # run N OUT: transcribes with the first N endpoints; prints the wall seconds
  local n=$1 out=$2 args=() t0
  for u in "${urls[@]:0:$n}"; do args+=(--asr-url "$u"); done
  t0=$(date +%s.%N)
  "$SDRA" transcribe "$audio" -q --format text --asr-chunk-s "$CHUNK_S" --asr-timeout-s 900 "${args[@]}" -o "$out"
  python3 -c "print('%.2f' % ($(date +%s.%N) - $t0))"
}
dur=$(soxi -D "$audio" 2>/dev/null || echo "?")
echo "audio: $audio ($dur s), chunks of ~$CHUNK_S s, ${LATENCY_MS} ms per reply, one request at a time per server, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
run 4 "$tmp/warm.txt" >/dev/null # fills the recognition cache
echo "chunks (requests of the warm-up run): $(curl -s "${urls[0]%/v1}/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])') on endpoint 1 of 4"
r2s=(); r4s=()
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then order="1 2 4"; else order="4 2 1"; fi
  declare -A t=()
  for n in $order; do t[$n]=$(run "$n" "$tmp/out$n.txt"); done
  for n in 2 4; do cmp -s "$tmp/out1.txt" "$tmp/out$n.txt" || { echo "bench: $n endpoints gave another transcript" >&2; exit 1; }; done
  r2=$(python3 -c "print('%.3f' % (${t[2]}/${t[1]}))"); r4=$(python3 -c "print('%.3f' % (${t[4]}/${t[1]}))")
  r2s+=("$r2"); r4s+=("$r4")
  printf 'round %d: 1 endpoint %6.2f s  2 endpoints %6.2f s (ratio %s)  4 endpoints %6.2f s (ratio %s)\n' \
    "$r" "${t[1]}" "${t[2]}" "$r2" "${t[4]}" "$r4"
  unset t
done
med() { printf '%s\n' "$@" | sort -n | python3 -c 'import sys; v=[float(x) for x in sys.stdin]; n=len(v); print("%.2f" % (v[n//2] if n % 2 else (v[n//2-1]+v[n//2])/2))'; }
echo "median ratio to 1 endpoint: 2 endpoints $(med "${r2s[@]}"), 4 endpoints $(med "${r4s[@]}") (ideal 0.50, 0.25)"
