#!/usr/bin/env bash
# Calibrates word confidences (docs/asr.md, "Word confidence"): transcribes the real evaluation
# data (/work/shared/eval-data, or $SDRA_EVAL_DATA), pocketsphinx-testdata's LibriVox files and
# the generated example calls, aligns each transcript's words to its reference with
# `sdra eval asr --confidence`, and prints, pooled over all files, the share of words right per
# confidence band of 0.1, then per file the measured WER, the share of low-confidence words and
# the error estimate of the "quality" block (each file's estimate from the bands of the others).
# Read-only on the data.
#
# Usage: scripts/calibrate-confidence.sh [BUILD_DIR]
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:-$src/build}" && pwd)"
sdra="$build/sdra"
data="${SDRA_EVAL_DATA:-/work/shared/eval-data}"
libri=/usr/share/pocketsphinx/test/data/librivox
fix="${SDRA_FIXTURES:-$build/fixtures}"
[ -x "$sdra" ] || { echo "calibrate-confidence: $sdra missing (make build)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
bash "$src/tests/fixtures/generate.sh" "$fix" >/dev/null
pairs=()
one() { # NAME AUDIO REF [transcribe options]
  local n=$1 audio=$2 ref=$3; shift 3
  [ -f "$audio" ] && [ -f "$ref" ] || return 0
  "$sdra" transcribe -q "$audio" -o "$tmp/$n.json" "$@"
  "$sdra" eval asr --ref "$ref" "$tmp/$n.json" --confidence --json >"$tmp/$n.eval.json"
}
for n in discovery pricing optout short; do one "$n" "$fix/$n.stereo.wav" "$fix/$n.txt" --rep-name Alex; done
one jfk "$data/whisper-jfk/jfk.flac" "$data/whisper-jfk/reference.txt"
one sample "$data/pyannote-sample/sample.wav" "$data/pyannote-sample/sample.stm"
if [ -f "$data/faster-whisper-stereo/reference.tsv" ]; then
  awk -F'\t' 'NR > 1 { printf "stereo 1 %s 0.0 5.0 %s\n", $1, $2 }' \
    "$data/faster-whisper-stereo/reference.tsv" >"$tmp/st.stm"
  one stereo "$data/faster-whisper-stereo/stereo_diarization.wav" "$tmp/st.stm"
fi
if [ -f "$libri/transcription" ]; then
  while read -r line; do
    id="$(sed -E 's/.*\(([^)]*)\)$/\1/' <<<"$line")"
    sed -E 's/<\/?s>//g; s/\([^)]*\)$//' <<<"$line" >"$tmp/$id.ref.txt"
    one "$id" "$libri/$id.wav" "$tmp/$id.ref.txt"
  done <"$libri/transcription"
fi
python3 - "$tmp" <<'PY'
import glob, json, os, sys
files = []
for f in sorted(glob.glob(sys.argv[1] + "/*.eval.json")):
    d = json.load(open(f))
    files.append((os.path.basename(f)[:-10], d["wer"], d["confidence_bands"]))
tot = [[0, 0] for _ in range(10)]
for _, _, b in files:
    for i, x in enumerate(b):
        tot[i][0] += x["words"]; tot[i][1] += x["right"]
print("confidence band   words   right")
for i, (w, r) in enumerate(tot):
    print("  %.1f-%.1f      %6d  %5.1f %%" % (i / 10, (i + 1) / 10, w, 100 * r / w if w else 0))
print("file                                      WER   low<0.3  estimate  WER-estimate")
for name, wer, b in files:
    n = sum(x["words"] for x in b) or 1
    low = sum(x["words"] for x in b[:3]) / n
    acc = []
    for i, x in enumerate(b):
        w, r = tot[i][0] - x["words"], tot[i][1] - x["right"]
        acc.append(r / w if w else 0)
    est = sum(x["words"] * (1 - acc[i]) for i, x in enumerate(b)) / n
    print("  %-38s %5.3f  %5.3f   %5.3f    %+5.3f" % (name, wer, low, est, wer - est))
PY
