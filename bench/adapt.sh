#!/usr/bin/env bash
# bench/adapt.sh - what adapting the model to a telephone call costs (docs/asr.md, "Adapting to
# the recording"), against the same call decoded unadapted in the same run.
#
# Builds a long mono call of two voices (scripts/make-long-call.sh, MINUTES long, default 10),
# passes it through the telephone channel of docs/asr.md (8 kHz, mu-law, 300-3400 Hz), then
# times on that file:
#   - sdra transcribe --jobs JOBS --adapt off   (the narrowband model as built)
#   - sdra transcribe --jobs JOBS               (the default: diarized first, a transform per
#                                                speaker, each chunk decoded under its speaker's)
# in ROUNDS rounds (default 3), the order alternating, and reports the median round's ratios of
# user CPU and of wall time (adapted / unadapted: 1.00 means adaptation is free), both peak RSS
# and both WERs against the exact reference. The adaptation's own work (one more read of the
# file, and two passes of every Gaussian over the speech frames) is about what a better-fitting
# model saves the decoder, so the ratio is near 1.
#
# usage: bench/adapt.sh [OUTDIR]   env: SDRA (default build/sdra), JOBS (2), ROUNDS (3), MINUTES (10)
# A benchmark reports; it does not pass or fail.
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SDRA="${SDRA:-$src/build/sdra}"
JOBS="${JOBS:-2}"
ROUNDS="${ROUNDS:-3}"
MINUTES="${MINUTES:-10}"
out="${1:-${TMPDIR:-/tmp}/sdra-bench}"
mkdir -p "$out"
[ -x "$SDRA" ] || { echo "bench: $SDRA not built (cmake --build build --target sdra)" >&2; exit 1; }

bash "$src/scripts/make-long-call.sh" "$out" "$MINUTES" >/dev/null
wav="$out/long-${MINUTES}m.phone.wav"
sox -R -D -V1 "$out/long-${MINUTES}m.wav" -r 8000 -e u-law "$wav" sinc 300-3400
dur=$(soxi -D "$wav")

field() { awk -F': ' -v k="$2" '$1 ~ k {print $2}' "$1"; }
wall() { awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$1"; }
user() { field "$1" 'User time'; }
rss() { field "$1" 'Maximum resident set size'; }
wer() { "$SDRA" eval asr --ref "$out/long-${MINUTES}m.txt" "$1" --json | python3 -c 'import json,sys; print("%.1f%%" % (100*json.load(sys.stdin)["wer"]))'; }
run() { # run TAG ARGS...
  local tag=$1; shift
  /usr/bin/time -v -o "$out/$tag.time" "$SDRA" transcribe "$wav" --jobs "$JOBS" -q -o "$out/$tag.json" "$@"
}

echo "audio: $wav ($dur s, 8 kHz mu-law), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $ROUNDS rounds"
cpu=() wl=()
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then run off --adapt off; run on; else run on; run off --adapt off; fi
  c=$(python3 -c "print('%.3f' % ($(user "$out/on.time")/$(user "$out/off.time")))")
  w=$(python3 -c "print('%.3f' % ($(wall "$out/on.time")/$(wall "$out/off.time")))")
  cpu+=("$c"); wl+=("$w")
  printf 'round %d: unadapted %6.1f s user %6.1f s wall (%s KB)  adapted %6.1f s user %6.1f s wall (%s KB)  ratio user %s wall %s\n' \
    "$r" "$(user "$out/off.time")" "$(wall "$out/off.time")" "$(rss "$out/off.time")" \
    "$(user "$out/on.time")" "$(wall "$out/on.time")" "$(rss "$out/on.time")" "$c" "$w"
done
median() { printf '%s\n' "$@" | sort -n | python3 -c 'import sys; v=[float(x) for x in sys.stdin]; n=len(v); print("%.2f" % (v[n//2] if n % 2 else (v[n//2-1]+v[n//2])/2))'; }
by=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["meta"]; print(m.get("adaptation_by"), m.get("adaptation_speakers_s"))' "$out/on.json")
printf 'WER: unadapted %s, adapted %s (adapted by %s)\n' "$(wer "$out/off.json")" "$(wer "$out/on.json")" "$by"
printf 'ratio adapted/unadapted: user CPU median %s (%s), wall median %s (%s)\n' \
  "$(median "${cpu[@]}")" "$(IFS=,; echo "${cpu[*]}")" "$(median "${wl[@]}")" "$(IFS=,; echo "${wl[*]}")"
