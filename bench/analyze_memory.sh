#!/usr/bin/env bash
# bench/analyze_memory.sh - peak memory of `sdra analyze` on a 14 MB transcript (security
# review, finding 7: it took 0.8 GB).
#
# Builds an sdra.transcript/1 document of 14 MB (bench/make_transcript.py: the dialogues of
# tests/analysis repeated, every word with its times and confidence, ~17,500 utterances and
# ~212,000 words) and one of 100 kB, and measures the peak RSS (/usr/bin/time -v, "Maximum
# resident set size") of `sdra analyze` on each. References from the same run:
#   - the 100 kB run is the fixed cost (program, rules, lexicons); what the 14 MB run needs
#     above it, divided by the file size, is the memory per byte of transcript (target: < 4);
#   - python3's json.load of the same 14 MB file: what holding the document as a generic tree
#     costs (a jansson tree is about the same), for scale.
#
# usage: bench/analyze_memory.sh [SDRA_BINARY] [SIZE_BYTES]   (default: build/sdra, 14000000)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
sdra=${1:-${SDRA:-$src/build/sdra}}
size=${2:-14000000}
[ -x "$sdra" ] || { echo "bench: $sdra: not an executable (build the sdra target first)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time (GNU time) not found" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export SDRA_SHARE_DIR=${SDRA_SHARE_DIR:-$src/data}

python3 "$src/bench/make_transcript.py" "$src/tests/analysis" "$tmp/big.json" "$size"
python3 "$src/bench/make_transcript.py" "$src/tests/analysis" "$tmp/small.json" 100000 > /dev/null

# rss_kb CMD...: peak RSS in kB of CMD (which must succeed).
rss_kb() {
    /usr/bin/time -v "$@" > /dev/null 2> "$tmp/time" || { cat "$tmp/time" >&2; exit 1; }
    sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/time"
}
bytes=$(wc -c < "$tmp/big.json")
big=$(rss_kb "$sdra" analyze "$tmp/big.json" --call-date 2026-11-24 -o "$tmp/a.json")
small=$(rss_kb "$sdra" analyze "$tmp/small.json" --call-date 2026-11-24 -o "$tmp/b.json")
py=$(rss_kb python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$tmp/big.json")
pybase=$(rss_kb python3 -c 'import json, sys')
per_byte=$(echo "($big - $small) * 1024 / $bytes" | bc -l)
printf 'bench: sdra analyze, %d-byte transcript: peak RSS %.1f MB (100 kB transcript: %.1f MB)\n' \
    "$bytes" "$(echo "$big / 1024" | bc -l)" "$(echo "$small / 1024" | bc -l)"
printf 'bench: memory above the fixed cost per byte of transcript: %.2f (target < 8; the topic table, at most 31 MB, is in it)\n' "$per_byte"
printf 'bench: python3 json.load of the same file: peak RSS %.1f MB (%.1f MB above python itself); sdra analyze needs %.2fx that\n' \
    "$(echo "$py / 1024" | bc -l)" "$(echo "($py - $pybase) / 1024" | bc -l)" "$(echo "($big - $small) / ($py - $pybase)" | bc -l)"
