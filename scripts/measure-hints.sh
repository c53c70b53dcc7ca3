#!/usr/bin/env bash
# Measures what call-sheet hints do to recognition (issue 12, "hints without hallucinations"):
#  - insertions: hint words found in the transcripts of eval recordings that never say them
#    (whisper-jfk, pyannote-sample, given invented names: "Carter Alvarez, Quintrell Systems,
#    Alex Morgan"); the target is 0;
#  - gain: hint words recognised where they are said (the generated calls `short` and `optout`
#    with their call sheet's names: Jordan Lee, Brightwave, Alex), with and without the hints,
#    counted per word as min(said, heard).
# Words under 4 letters are never hints (src/asr/sphinx.c), so they are not counted.
#
# Usage: scripts/measure-hints.sh [BUILD_DIR] [FIXTURES_DIR]
#   BUILD_DIR     a built tree with `sdra` (default: build)
#   FIXTURES_DIR  generated calls (default: BUILD_DIR/fixtures; made with tests/fixtures/generate.sh)
# Eval data: /work/shared/eval-data or $SDRA_EVAL_DATA. Prints one "name value" line per figure
# (scripts/compare-release.sh reads them) after a readable summary.
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:-$src/build}" && pwd)"
fix="${2:-$build/fixtures}"
data="${SDRA_EVAL_DATA:-/work/shared/eval-data}"
sdra="$build/sdra"
[ -x "$sdra" ] || { echo "measure-hints: $sdra missing" >&2; exit 1; }
[ -f "$fix/short.mono.wav" ] || "$src/tests/fixtures/generate.sh" "$fix" short optout >&2
[ -f "$fix/optout.mono.wav" ] || "$src/tests/fixtures/generate.sh" "$fix" short optout >&2
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

invented="Carter Alvarez, Quintrell Systems, Alex Morgan"
sheet="Jordan Lee, Brightwave, Alex"
words() { # text -> hint words of 4+ letters, lower case, one a line
  tr 'A-Z' 'a-z' <<<"$1" | tr -c 'a-z\n' ' ' | tr ' ' '\n' | awk 'length($0) >= 4'
}
hyp_text() { # transcript.json -> its words, one a line
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("\n".join(w for u in d["utterances"] for w in u["text"].lower().split()))' "$1"
}
count() { # word file -> occurrences
  grep -cx -- "$1" "$2" || true
}
tr_run() { # out audio [--hints H]
  local out=$1 audio=$2; shift 2
  "$sdra" transcribe -q --speakers 2 "$@" "$audio" -o "$out" 2> "$tmp/err" || { cat "$tmp/err" >&2; return 1; }
}

ins=0; ins_base=0
for f in "$data/whisper-jfk/jfk.flac:$data/whisper-jfk/reference.txt" "$data/pyannote-sample/sample.wav:$data/pyannote-sample/sample.stm"; do
  audio=${f%%:*}; ref=${f#*:}; n=$(basename "$audio")
  tr_run "$tmp/$n.h.json" "$audio" --hints "$invented"
  tr_run "$tmp/$n.0.json" "$audio"
  hyp_text "$tmp/$n.h.json" > "$tmp/h.txt"; hyp_text "$tmp/$n.0.json" > "$tmp/0.txt"
  tr 'A-Z' 'a-z' < "$ref" | tr -c "a-z'\n" ' ' | tr ' ' '\n' > "$tmp/ref.txt"
  for w in $(words "$invented" | sort -u); do
    [ "$(count "$w" "$tmp/ref.txt")" = 0 ] || { echo "measure-hints: '$w' is said in $ref" >&2; exit 1; }
    a=$(count "$w" "$tmp/h.txt"); b=$(count "$w" "$tmp/0.txt")
    ins=$((ins + a)); ins_base=$((ins_base + b))
    [ "$a" = 0 ] || echo "  $n: '$w' inserted $a time(s) with hints ($b without)"
  done
done
said=0; got=0; got_base=0
for n in short optout; do
  tr_run "$tmp/$n.h.json" "$fix/$n.mono.wav" --hints "$sheet"
  tr_run "$tmp/$n.0.json" "$fix/$n.mono.wav"
  hyp_text "$tmp/$n.h.json" > "$tmp/h.txt"; hyp_text "$tmp/$n.0.json" > "$tmp/0.txt"
  tr ' ' '\n' < "$fix/$n.txt" > "$tmp/ref.txt"
  for w in $(words "$sheet" | sort -u); do
    r=$(count "$w" "$tmp/ref.txt"); a=$(count "$w" "$tmp/h.txt"); b=$(count "$w" "$tmp/0.txt")
    said=$((said + r)); got=$((got + (a < r ? a : r))); got_base=$((got_base + (b < r ? b : r)))
  done
done
echo "hint insertions on eval recordings with invented names: $ins (the same recordings without hints: $ins_base)"
echo "hint words recognised where said (generated calls): $got of $said with hints, $got_base without"
echo "hints.insertions $ins"
echo "hints.recognised $got/$said"
echo "hints.recognised_without $got_base/$said"
