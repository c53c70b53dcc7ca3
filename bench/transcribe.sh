#!/usr/bin/env bash
# bench/transcribe.sh - transcription speed and memory, against the raw engine in the same run.
#
# Builds a 10-minute mono call (scripts/make-long-call.sh), then times, on the same 16 kHz file:
#   - pocketsphinx_continuous -infile (the raw engine, one thread, generic model)
#   - sdra transcribe --jobs 2 (chunked parallel decoding + diarization + domain model)
# and prints both wall times, their ratio (target <= 0.6 on 2 cores), both WERs against the
# exact reference, and sdra's peak RSS. With BENCH_HOUR=1 it also transcribes a 60-minute call
# and prints its peak RSS (target < 300 MB): slow (tens of minutes on 2 cores).
#
# usage: bench/transcribe.sh [OUTDIR]      env: SDRA (default build/sdra), JOBS (default 2)
# A benchmark reports; it does not pass or fail on the targets.
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SDRA="${SDRA:-$src/build/sdra}"
JOBS="${JOBS:-2}"
out="${1:-${TMPDIR:-/tmp}/sdra-bench}"
mkdir -p "$out"
[ -x "$SDRA" ] || { echo "bench: $SDRA not built (cmake --build build --target sdra)" >&2; exit 1; }
command -v pocketsphinx_continuous >/dev/null || { echo "bench: pocketsphinx_continuous missing (apt-get install pocketsphinx)" >&2; exit 1; }

bash "$src/scripts/make-long-call.sh" "$out" 10 >/dev/null
wav="$out/long-10m.wav"
dur=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["duration_s"])' "$out/long-10m.ref.json" 2>/dev/null \
      || soxi -D "$wav")

wall() { # wall TIMEFILE -> seconds from /usr/bin/time -v
  awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$1"
}
rss() { awk -F': ' '/Maximum resident set size/ {print $2}' "$1"; }

echo "audio: $wav ($dur s), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -v -o "$out/ps.time" pocketsphinx_continuous -infile "$wav" -logfn /dev/null > "$out/ps.txt"
/usr/bin/time -v -o "$out/sdra.time" "$SDRA" transcribe "$wav" --jobs "$JOBS" -q -o "$out/sdra.json"
ps_s=$(wall "$out/ps.time"); sdra_s=$(wall "$out/sdra.time")
ps_wer=$("$SDRA" eval asr --ref "$out/long-10m.txt" "$out/ps.txt" --json | python3 -c 'import json,sys; print("%.1f%%" % (100*json.load(sys.stdin)["wer"]))')
sdra_wer=$("$SDRA" eval asr --ref "$out/long-10m.txt" "$out/sdra.json" --json | python3 -c 'import json,sys; print("%.1f%%" % (100*json.load(sys.stdin)["wer"]))')
printf 'pocketsphinx_continuous: %7.1f s wall  RTF %.2f  WER %s  peak RSS %s KB\n' "$ps_s" \
  "$(python3 -c "print($ps_s/$dur)")" "$ps_wer" "$(rss "$out/ps.time")"
printf 'sdra transcribe -j%s:    %7.1f s wall  RTF %.2f  WER %s  peak RSS %s KB\n' "$JOBS" "$sdra_s" \
  "$(python3 -c "print($sdra_s/$dur)")" "$sdra_wer" "$(rss "$out/sdra.time")"
printf 'ratio sdra/pocketsphinx: %.2f (target <= 0.6 on 2 cores)\n' "$(python3 -c "print($sdra_s/$ps_s)")"

if [ "${BENCH_HOUR:-0}" = 1 ]; then
  bash "$src/scripts/make-long-call.sh" "$out" 60 >/dev/null
  /usr/bin/time -v -o "$out/hour.time" "$SDRA" transcribe "$out/long-60m.wav" --jobs "$JOBS" -q -o "$out/hour.json"
  printf '60-minute call: %.1f s wall, peak RSS %s KB (target < 300 MB)\n' "$(wall "$out/hour.time")" "$(rss "$out/hour.time")"
fi
