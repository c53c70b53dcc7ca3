#!/usr/bin/env bash
# bench/live-search.sh - which cheaper PocketSphinx search a live call that fell behind should
# switch to (docs/live.md, "Degraded mode"): the generated calls as telephone audio (8 kHz
# mu-law, as live calls arrive), transcribed with each candidate decoder setting
# ($SDRA_SPHINX_SEARCH_ARGS, added to the recognizer's own), one job; for each, the CPU time
# (user + sys, summed over the calls) and the pooled word error rate against the exact
# reference, next to the normal search.
#
# usage: bench/live-search.sh [SDRA_BINARY]   env: SDRA_FIXTURES (default build/fixtures),
#        BENCH_CALLS (default "pricing discovery optout short"), BENCH_CONFIGS (name=args;...)
# A benchmark reports; it does not pass or fail. Run it on a quiet machine.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
sdra=${1:-${SDRA:-$src/build/sdra}}
fix=${SDRA_FIXTURES:-$src/build/fixtures}
[ -x "$sdra" ] || { echo "bench: $sdra: not an executable" >&2; exit 1; }
export SDRA_SHARE_DIR=${SDRA_SHARE_DIR:-$src/data}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
calls=${BENCH_CALLS:-pricing discovery optout short}
configs=${BENCH_CONFIGS:-"normal=;fast (the degraded mode)=-maxhmmpf 3000 -beam 1e-40 -pbeam 1e-40 -wbeam 1e-30 -fwdflat no -bestpath no;first pass only=-fwdflat no -bestpath no;narrow beams=-beam 1e-40 -pbeam 1e-40 -wbeam 1e-30;maxhmmpf 3000=-maxhmmpf 3000;ds 2=-ds 2;fast + ds 2=-maxhmmpf 3000 -beam 1e-40 -pbeam 1e-40 -wbeam 1e-30 -fwdflat no -bestpath no -ds 2"}
: >"$tmp/ref.txt"
for c in $calls; do
  [ -f "$fix/$c.stereo.wav" ] || { echo "bench: $fix/$c.stereo.wav missing (tests/fixtures/generate.sh)" >&2; exit 1; }
  ffmpeg -nostdin -loglevel error -i "$fix/$c.stereo.wav" -ar 8000 -c:a pcm_mulaw "$tmp/$c.ulaw.wav"
  ffmpeg -nostdin -loglevel error -i "$tmp/$c.ulaw.wav" -c:a pcm_s16le "$tmp/$c.wav"
  cat "$fix/$c.txt" >>"$tmp/ref.txt"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores; calls: $calls (8 kHz)"
printf '%-28s %10s %8s %s\n' config "CPU s" WER args
IFS=';' read -ra list <<<"$configs"
for entry in "${list[@]}"; do
  name=${entry%%=*} args=${entry#*=}
  : >"$tmp/hyp.txt"
  cpu=0
  for c in $calls; do
    SDRA_SPHINX_SEARCH_ARGS="$args" /usr/bin/time -f '%U %S' -o "$tmp/time" \
      "$sdra" transcribe "$tmp/$c.wav" --jobs 1 -q -o "$tmp/$c.json"
    cpu=$(awk -v c="$cpu" '{ print c + $1 + $2 }' "$tmp/time")
    python3 -c 'import json,sys; print(" ".join(u["text"] for u in json.load(open(sys.argv[1]))["utterances"]))' \
      "$tmp/$c.json" >>"$tmp/hyp.txt"
  done
  wer=$("$sdra" eval asr --ref "$tmp/ref.txt" "$tmp/hyp.txt" --json | python3 -c 'import json,sys; print("%.1f%%" % (100 * json.load(sys.stdin)["wer"]))')
  printf '%-28s %10.1f %8s %s\n' "$name" "$cpu" "$wer" "${args:-(defaults)}"
done
