#!/usr/bin/env bash
# bench/transcribe.sh - transcription speed and memory, against the raw engine in the same run.
#
# Builds a 10-minute mono call (scripts/make-long-call.sh), then times, on the same 16 kHz file:
#   - pocketsphinx_continuous -infile (the raw engine, one thread, generic model)
#   - sdra transcribe --jobs 2 (chunked parallel decoding + diarization + domain model)
# in ROUNDS rounds (default 3: raw then sdra, sdra then raw, raw then sdra), because the speed
# of a shared machine drifts by tens of percent within minutes: each round's ratio compares two
# runs made back to back, the order alternates so that a steady drift favours neither, and the
# median round is reported (target <= 0.6 on 2 cores). Also both WERs
# against the exact reference and sdra's peak RSS. With BENCH_HOUR=1 it also transcribes a
# 60-minute call and prints its peak RSS (target < 300 MB): slow (about 10 minutes on 2 cores).
#
# usage: bench/transcribe.sh [OUTDIR]   env: SDRA (default build/sdra), JOBS (2), ROUNDS (3)
# A benchmark reports; it does not pass or fail on the targets.
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SDRA="${SDRA:-$src/build/sdra}"
JOBS="${JOBS:-2}"
ROUNDS="${ROUNDS:-3}"
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
wer() { "$SDRA" eval asr --ref "$out/long-10m.txt" "$1" --json | python3 -c 'import json,sys; print("%.1f%%" % (100*json.load(sys.stdin)["wer"]))'; }

echo "audio: $wav ($dur s), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $ROUNDS rounds"
run_ps() { /usr/bin/time -v -o "$out/ps.time" pocketsphinx_continuous -infile "$wav" -logfn /dev/null > "$out/ps.txt"; }
run_sdra() { /usr/bin/time -v -o "$out/sdra.time" "$SDRA" transcribe "$wav" --jobs "$JOBS" -q -o "$out/sdra.json"; }
ratios=()
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then run_ps; run_sdra; else run_sdra; run_ps; fi
  ps_s=$(wall "$out/ps.time"); sdra_s=$(wall "$out/sdra.time")
  ratio=$(python3 -c "print('%.3f' % ($sdra_s/$ps_s))")
  ratios+=("$ratio")
  printf 'round %d: pocketsphinx_continuous %7.1f s (RTF %.2f)  sdra transcribe -j%s %7.1f s (RTF %.2f, peak RSS %s KB)  ratio %s\n' \
    "$r" "$ps_s" "$(python3 -c "print($ps_s/$dur)")" "$JOBS" "$sdra_s" "$(python3 -c "print($sdra_s/$dur)")" \
    "$(rss "$out/sdra.time")" "$ratio"
done
printf 'WER: pocketsphinx_continuous %s, sdra %s (same file, exact reference)\n' "$(wer "$out/ps.txt")" "$(wer "$out/sdra.json")"
printf 'ratio sdra/pocketsphinx: median %s of %s (target <= 0.6 on 2 cores)\n' \
  "$(printf '%s\n' "${ratios[@]}" | sort -n | python3 -c 'import sys; v=[float(x) for x in sys.stdin]; n=len(v); print("%.2f" % (v[n//2] if n % 2 else (v[n//2-1]+v[n//2])/2))')" \
  "$(IFS=,; echo "${ratios[*]}")"

if [ "${BENCH_HOUR:-0}" = 1 ]; then
  bash "$src/scripts/make-long-call.sh" "$out" 60 >/dev/null
  /usr/bin/time -v -o "$out/hour.time" "$SDRA" transcribe "$out/long-60m.wav" --jobs "$JOBS" -q -o "$out/hour.json"
  printf '60-minute call: %.1f s wall, peak RSS %s KB (target < 300 MB)\n' "$(wall "$out/hour.time")" "$(rss "$out/hour.time")"
fi
