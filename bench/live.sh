#!/usr/bin/env bash
# bench/live.sh - live calls (docs/live.md) on this machine, with the test client
# (tests/integration/lib/live_client.py, python3-websockets):
#   1. utterance latency at real time: a generated stereo call (pricing, 68 s) streamed at 1x;
#      each utterance event's latency_s (from the arrival of the utterance's last audio to the
#      event, measured by the server) and, as a cross-check, the client's receive time minus the
#      time the utterance's end was sent: median and p95.
#   2. concurrent live calls at real time: N calls (the optout call, 39 s, two tracks) at once
#      for N in $BENCH_LIVE_N (default "1 2 3 4"); a level is sustained when every call's
#      largest reported lag stays under 2 s and no audio was left out of recognition.
#      The last line says how many concurrent calls kept the lag under 2 s.
#   3. stop -> package done for a long call: BENCH_LONG_MIN minutes (default 30) made of the
#      generated calls back to back, streamed as fast as the server recognizes it: at most
#      BENCH_LONG_SPEED (default 4) times real time, and the client pauses while the reported
#      lag is over 3 s (--max-lag; the first 20 s at real time), the normal search throughout
#      (--live-degrade-lag-s 0) and nothing left out (backlog 600 s): the whole call is decoded
#      as it streams and the transcript is the full one, as in a real-time call; then the time
#      from stop to the done event (the last utterance, the transcript written, the WAV sealed,
#      the call queued) and to the call's status done (analyze, compose, sync, report), with the
#      transcript's size and the audio left out (must be 0).
#      BENCH_LONG_MIN=1 BENCH_LIVE_N=1 runs every part in a few minutes (a check that it works).
# Figures depend on the load: report them with the machine's load average (printed).
#
# usage: bench/live.sh [SDRA_BINARY]        (fixtures: $SDRA_FIXTURES or build/fixtures;
#        BENCH_LIVE_PARTS="1 2 3" picks the parts)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
sdra=${1:-${SDRA:-$src/build/sdra}}
fix=${SDRA_FIXTURES:-$src/build/fixtures}
client=$src/tests/integration/lib/live_client.py
PY=
for p in python3 /usr/bin/python3; do "$p" -c 'import websockets' 2>/dev/null && { PY=$p; break; }; done
[ -n "$PY" ] || { echo "bench: python3-websockets missing (scripts/install-deps.sh)" >&2; exit 1; }
[ -x "$sdra" ] || { echo "bench: $sdra: not an executable" >&2; exit 1; }
[ -f "$fix/pricing.stereo.wav" ] || { echo "bench: $fix/pricing.stereo.wav missing (tests/fixtures/generate.sh)" >&2; exit 1; }
export SDRA_SHARE_DIR=${SDRA_SHARE_DIR:-$src/data}
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
D=$tmp/data
KEY=$("$sdra" keys create --data "$D" --name bench --scope write)
start() {
  [ -n "$pid" ] && { kill $pid; wait $pid 2>/dev/null || true; }
  rm -f "$tmp/port"
  "$sdra" serve --listen 127.0.0.1:0 --data "$D" --port-file "$tmp/port" --max-live-calls 32 "$@" 2>>"$tmp/serve.log" &
  pid=$!
  for _ in $(seq 1 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
  PORT=$(cat "$tmp/port")
}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
for c in pricing optout discovery short; do
  ffmpeg -nostdin -loglevel error -i "$fix/$c.stereo.wav" -ar 8000 -ac 2 -f mulaw "$tmp/$c.ulaw"
done

parts=" ${BENCH_LIVE_PARTS:-1 2 3} "   # which of the three to run

# 1. latency at real time
if [[ $parts == *" 1 "* ]]; then
start --live-backlog-s 30
"$PY" "$client" stream "ws://127.0.0.1:$PORT/v1/live/twilio?events=1" "$tmp/pricing.ulaw" --sid B-lat --speed 1 \
  --stop --auth "$KEY" >"$tmp/lat.jsonl"
python3 - "$tmp/lat.jsonl" <<'PY'
import json, statistics, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
utts = [e for e in evs if e.get("event") == "utterance"]
lat = sorted(e["data"]["latency_s"] for e in utts if "latency_s" in e["data"])
def pct(v, p): return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
print(f"1. utterance latency at 1x ({len(lat)} utterances): median {statistics.median(lat):.2f} s, p95 {pct(lat, 95):.2f} s, max {lat[-1]:.2f} s")
lags = [e["data"].get("lag_s", 0) for e in evs if e.get("event") in ("utterance", "metrics")]
print(f"   largest lag reported: {max(lags):.2f} s")
PY
fi

# 2. concurrent calls at real time
[[ $parts == *" 2 "* ]] &&
for n in ${BENCH_LIVE_N:-1 2 3 4}; do
  start --live-backlog-s 30
  for i in $(seq 1 "$n"); do
    "$PY" "$client" stream "ws://127.0.0.1:$PORT/v1/live/twilio?events=1" "$tmp/optout.ulaw" --sid "B-conc-$n-$i" \
      --speed 1 --stop --auth "$KEY" >"$tmp/conc-$n-$i.jsonl" &
  done
  wait $(jobs -p | grep -v "^$pid\$") 2>/dev/null || true
  python3 - "$n" "$tmp"/conc-"$n"-*.jsonl >>"$tmp/conc.txt" <<'PY'
import json, sys
n, files = int(sys.argv[1]), sys.argv[2:]
worst, dropped, lat = 0.0, 0, []
for f in files:
    for l in open(f):
        e = json.loads(l)
        d = e.get("data", {})
        if e.get("event") in ("utterance", "metrics"):
            worst = max(worst, d.get("lag_s", 0))
        if e.get("event") == "utterance" and "latency_s" in d:
            lat.append(d["latency_s"])
lat.sort()
ok = worst < 2.0
print(f"2. {n} concurrent call(s) at 1x: largest lag {worst:.2f} s, latency median {lat[len(lat)//2] if lat else 0:.2f} s"
      f" max {lat[-1] if lat else 0:.2f} s -> {'sustained' if ok else 'NOT sustained'}")
PY
  tail -1 "$tmp/conc.txt"
done
[[ $parts == *" 2 "* ]] && {
  best=$(awk '/-> sustained/ { n = $2 } END { print n + 0 }' "$tmp/conc.txt")
  echo "   concurrent calls with every lag under 2 s: $best (of the levels ${BENCH_LIVE_N:-1 2 3 4})"
}

# 3. stop -> package done for a long call
[[ $parts == *" 3 "* ]] || exit 0
mins=${BENCH_LONG_MIN:-30}
python3 - "$tmp" "$mins" <<'PY'
import sys
tmp, mins = sys.argv[1], int(sys.argv[2])
parts = [open(f"{tmp}/{c}.ulaw", "rb").read() for c in ("discovery", "pricing", "optout", "short")]
out, need = bytearray(), mins * 60 * 8000 * 2
while len(out) < need:
    for p in parts:
        out += p
open(f"{tmp}/long.ulaw", "wb").write(bytes(out[:need]))
PY
start --live-backlog-s 600 --live-degrade-lag-s 0
t0=$(date +%s)
"$PY" "$client" stream "ws://127.0.0.1:$PORT/v1/live/twilio?events=1" "$tmp/long.ulaw" --sid B-long --speed "${BENCH_LONG_SPEED:-4}" \
  --slow-first 20 --max-lag 3 \
  --stop --auth "$KEY" --wait 600 >"$tmp/long.jsonl"
echo "   (streamed in $(( $(date +%s) - t0 )) s of wall time, stop included)"
python3 - "$tmp/long.jsonl" "http://127.0.0.1:$PORT" "$KEY" "$mins" <<'PY'
import json, sys, time, urllib.request
evs = [json.loads(l) for l in open(sys.argv[1])]
stop = next(e["stop_sent"] for e in evs if "stop_sent" in e)
done = next(e for e in evs if e.get("event") == "done")
cid = done["data"]["id"]
t_done_ev = done["t"] - stop
while True:
    req = urllib.request.Request(f"{sys.argv[2]}/v1/calls/{cid}", headers={"Authorization": "Bearer " + sys.argv[3]})
    st = json.load(urllib.request.urlopen(req))
    if st["status"] in ("done", "failed"):
        break
    time.sleep(0.2)
t_pkg = time.time() - stop
stages = {s["name"]: s.get("duration_ms") for s in st["stages"]}
errors = [f'{s["name"]}: {s["error"]}' for s in st["stages"] if s.get("error")]
req = urllib.request.Request(f"{sys.argv[2]}/v1/calls/{cid}/transcript", headers={"Authorization": "Bearer " + sys.argv[3]})
tr = json.load(urllib.request.urlopen(req))
words = sum(len(u.get("words", [])) for u in tr["utterances"])
lags = [e["data"].get("lag_s", 0) for e in evs if e.get("event") in ("utterance", "metrics")]
print(f"3. {sys.argv[4]}-minute call: stop -> done event {t_done_ev:.2f} s (server finalize {done['data']['finalize_s']:.2f} s), "
      f"stop -> package {st['status']} {t_pkg:.2f} s; stage ms {stages} {'; '.join(errors)}")
print(f"   transcript: {len(tr['utterances'])} utterances, {words} words, audio left out "
      f"{tr['meta']['live']['dropped_s']:.1f} s, largest lag {max(lags) if lags else 0:.1f} s")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
