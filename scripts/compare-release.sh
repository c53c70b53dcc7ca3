#!/usr/bin/env bash
# Compares this tree with an earlier release on the same data with the same measurements
# (issue 12): builds REV in a temporary git worktree and this tree, runs each build on the
# eval recordings and the generated calls, and prints one table per eval set.
#
# Usage: scripts/compare-release.sh [REV] [--text-only] [--old-build DIR]
#   REV          the release to compare with (default c1fe7b3, the last commit of stop 19)
#   --old-build DIR  a build of REV made earlier (its `sdra` and data/): not built again
#   --text-only  only the measures that need no recognizer (analysis on the blind sets,
#                sentiment): minutes instead of an hour on a 2-core machine
#
# Per recording and build, one `sdra transcribe` with that build's defaults (and the call
# sheet's names where the recording has them: pyannote-sample's rep is Diane, who makes the
# call and introduces herself first; the generated calls' rep is Alex, the contact Jordan)
# gives:
#   WER (16 kHz; 8 kHz only where the build has an 8 kHz model: data/asr/en-us-8k), DER
#   (`sdra eval diarization`, 0.25 s collar), the speaker count against the reference, and
#   role accuracy (reference speakers whose mapped transcript speaker has the right role).
# Hint insertions come from scripts/measure-hints.sh (this tree's script, run on each build),
# analysis P/R/F1 from `sdra eval analysis --labels tests/analysis/{blind,blind-final,blind3,blind4,blind5,blind6,blind7,blind8,blind9}/labels.txt`
# (this tree's labels for both), sentiment from scripts/measure-sentiment.py.
# Eval data: /work/shared/eval-data or $SDRA_EVAL_DATA. Read-only on everything but a temp dir.
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rev=c1fe7b3
text_only=0
old_build=
while [ $# -gt 0 ]; do
  a=$1; shift
  case "$a" in
    --text-only) text_only=1 ;;
    --old-build) [ $# -gt 0 ] || { echo "compare-release: --old-build needs a directory" >&2; exit 2; }
                 old_build=$(cd "$1" 2> /dev/null && pwd) && [ -x "$old_build/sdra" ] ||
                   { echo "compare-release: no sdra in --old-build $1" >&2; exit 1; }
                 shift ;;
    -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "compare-release: unknown option $a" >&2; exit 2 ;;
    *) rev="$a" ;;
  esac
done
data="${SDRA_EVAL_DATA:-/work/shared/eval-data}"
[ -d "$data" ] || { echo "compare-release: no evaluation data at $data" >&2; exit 1; }
git -C "$src" rev-parse --verify -q "$rev^{commit}" > /dev/null || { echo "compare-release: unknown revision '$rev'" >&2; exit 1; }
tmp="$(mktemp -d)"
cleanup() { git -C "$src" worktree remove --force "$tmp/old" 2> /dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
git -C "$src" worktree add -q --detach "$tmp/old" "$rev"

build() { # tree builddir
  cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$tmp/cmake.log" 2>&1 &&
    cmake --build "$2" -j2 --target sdra >> "$tmp/cmake.log" 2>&1 || { tail -20 "$tmp/cmake.log" >&2; exit 1; }
}
if [ -n "$old_build" ]; then ln -s "$old_build" "$tmp/old-build"; else build "$tmp/old" "$tmp/old-build"; fi
[ -x "$src/build/sdra" ] || build "$src" "$src/build"
fix="$tmp/fixtures"
"$src/tests/fixtures/generate.sh" "$fix" short optout > /dev/null

measure() { # label tree sdra -> "set metric value" lines on stdout
  local label=$1 tree=$2 sdra=$3 w="$tmp/$1"
  mkdir -p "$w"
  export SDRA_SHARE_DIR="$tree/data"
  for set in blind blind-final blind3 blind4 blind5 blind6 blind7 blind8 blind9; do
    "$sdra" eval analysis --labels "$src/tests/analysis/$set/labels.txt" --json > "$w/a.json" 2> /dev/null || true
    python3 - "$w/a.json" "$set" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    m = d.get("micro", d.get("overall", d))
    print(f"{sys.argv[2]} analysis_P/R/F1 {m['precision']:.3f}/{m['recall']:.3f}/{m['f1']:.3f}")
except Exception as e:
    print(f"{sys.argv[2]} analysis_P/R/F1 n/a")
PY
  done
  python3 "$src/scripts/measure-sentiment.py" "$sdra" "$data/dailydialog-validation" "$w/sent" 2> /dev/null |
    awk '$1 == "all" { print "dailydialog sentiment_pearson " $3 }'
  [ $text_only = 1 ] && return 0
  local names_ok=0
  "$sdra" transcribe --help | grep -q -- --contact-name && names_ok=1
  # recording | reference | reference speakers | rep | contact | wer reference
  while IFS='|' read -r set audio rttm nref rep contact wref; do
    local args=(-q)
    [ -n "$rep" ] && args+=(--rep-name "$rep")
    [ -n "$contact" ] && [ $names_ok = 1 ] && args+=(--contact-name "$contact")
    if ! "$sdra" transcribe "${args[@]}" "$audio" -o "$w/$set.json" 2> "$w/err"; then
      echo "$set transcribe failed"; continue
    fi
    [ -n "$wref" ] && echo "$set WER_16k $("$sdra" eval asr --ref "$wref" "$w/$set.json" --json | python3 -c 'import json,sys; print("%.1f%%" % (100 * json.load(sys.stdin)["wer"]))')"
    if [ -d "$(dirname "$sdra")/data/asr/en-us-8k" ] && [ -n "$wref" ]; then
      # the simulated telephone channel of scripts/measure-asr-8k.sh: 300-3400 Hz, 8 kHz, mu-law
      ffmpeg -nostdin -loglevel error -y -i "$audio" -af "highpass=f=300,lowpass=f=3400" -ac 1 -ar 8000 -acodec pcm_mulaw "$w/$set.8k.wav"
      "$sdra" transcribe -q "$w/$set.8k.wav" -o "$w/$set.8k.json" 2> /dev/null &&
        echo "$set WER_8k $("$sdra" eval asr --ref "$wref" "$w/$set.8k.json" --json | python3 -c 'import json,sys; print("%.1f%%" % (100 * json.load(sys.stdin)["wer"]))')"
    else
      echo "$set WER_8k n/a"
    fi
    local der="{}"
    [ -n "$rttm" ] && der=$("$sdra" eval diarization --ref "$rttm" "$w/$set.json" --json)
    python3 - "$w/$set.json" "$set" "$nref" "$rep" "$der" <<'PY'
import json, sys
t = json.load(open(sys.argv[1])); s, nref, rep, der = sys.argv[2], int(sys.argv[3]), sys.argv[4], json.loads(sys.argv[5])
n = len(t["speakers"])
print(f"{s} speakers {n} of {nref} ({'right' if n == nref else 'wrong'})")
if der:
    print(f"{s} DER {100 * der['der']:.1f}%")
    if rep:
        m = der.get("mapping", {})
        # the rep's label in the reference RTTM: the generated calls label their speakers by
        # role; in pyannote-sample's sample.rttm Diane is speaker90 (her "Hello?" at 6.68 s in
        # sample.stm is speaker90's first turn at 6.69 s)
        ref_rep = {"Alex": "rep", "Diane": "speaker90"}.get(rep, rep)
        inv = {v: k for k, v in m.items()}
        role = {sp["id"]: sp["role"] for sp in t["speakers"]}
        refs = sorted(set(m.values()))
        ok = sum(1 for r in refs if role.get(inv[r]) == ("rep" if r == ref_rep else "prospect"))
        print(f"{s} role_accuracy_names {ok}/{max(len(refs), 1)}")
PY
  done <<EOT
whisper-jfk|$data/whisper-jfk/jfk.flac||1|||$data/whisper-jfk/reference.txt
pyannote-sample|$data/pyannote-sample/sample.wav|$data/pyannote-sample/sample.rttm|2|Diane|Sheila|$data/pyannote-sample/sample.stm
pyannote-ami-seriously|$data/pyannote-ami-seriously/mixture.wav|$data/pyannote-ami-seriously/mixture.rttm|4|||
generated-short|$fix/short.mono.wav|$fix/short.rttm|2|Alex|Jordan|$fix/short.txt
generated-optout|$fix/optout.mono.wav|$fix/optout.rttm|2|Alex||$fix/optout.txt
EOT
  ffmpeg -nostdin -loglevel error -y -i "$fix/short.stereo.wav" -af "pan=mono|c0=c0" "$w/one.wav"
  "$sdra" transcribe -q "$w/one.wav" -o "$w/one.json" 2> /dev/null &&
    echo "generated-one-talker speakers $(python3 -c 'import json,sys; n = len(json.load(open(sys.argv[1]))["speakers"]); print("%d of 1 (%s)" % (n, "right" if n == 1 else "wrong"))' "$w/one.json")"
  "$src/scripts/measure-hints.sh" "$(dirname "$sdra")" "$fix" 2> /dev/null | awk '$1 ~ /^hints\./ { print "hints " $1 " " $2 }'
}

measure old "$tmp/old" "$tmp/old-build/sdra" > "$tmp/old.txt"
measure new "$src" "$src/build/sdra" > "$tmp/new.txt"
echo "# scripts/compare-release.sh $rev$([ $text_only = 1 ] && echo ' --text-only') ($(date -u +%Y-%m-%d), $(nproc) cores)"
python3 - "$tmp/old.txt" "$tmp/new.txt" "$rev" "$(git -C "$src" rev-parse --short HEAD)" <<'PY'
import sys
def load(p):
    d = {}
    for line in open(p):
        parts = line.split(None, 2)
        if len(parts) == 3:
            d.setdefault(parts[0], {})[parts[1]] = parts[2].strip()
    return d
old, new = load(sys.argv[1]), load(sys.argv[2])
for s in sorted(set(old) | set(new)):
    print(f"\n{s}\n\n| measure | {sys.argv[3]} | this tree ({sys.argv[4]}) |\n|---|---|---|")
    for m in sorted(set(old.get(s, {})) | set(new.get(s, {}))):
        print(f"| {m} | {old.get(s, {}).get(m, '-')} | {new.get(s, {}).get(m, '-')} |")
PY
