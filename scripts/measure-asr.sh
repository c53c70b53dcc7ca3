#!/usr/bin/env bash
# Measures speech recognition on the real evaluation data (/work/shared/eval-data, or
# $SDRA_EVAL_DATA), on pocketsphinx-testdata's LibriVox files and on the generated example
# calls, each against plain `pocketsphinx_continuous -infile` (the raw engine sdra wraps) on
# the same 16 kHz audio in the same run. Read-only on the data; prints one row per set.
#
# Usage: scripts/measure-asr.sh [BUILD_DIR] [--long] [--telephone] [--no-raw]
#                               [-- SDRA_TRANSCRIBE_ARGS...]
#
#   BUILD_DIR   a built tree with the `sdra` target (default: build)
#   --long      also the 10-minute generated mono call of bench/transcribe.sh (slow: minutes)
#   --telephone every file through a simulated telephone channel first (300-3400 Hz, 8 kHz,
#               G.711 mu-law, channels kept): sdra reads that file, the raw engine the same
#               audio resampled to 16 kHz (scripts/measure-asr-8k.sh compares the models)
#   --no-raw    skip the raw engine (its column shows 0)
#   -- ARGS     extra options for every `sdra transcribe` (e.g. -- --no-domain-lm)
#
# The generated calls are also run one by one with their call sheet's names as hints
# (--hints "Jordan Lee, Northwind Logistics" --rep-name Alex --company Brightwave), as
# `sdra run` passes them from the call's CRM fields.
# WER is pooled over a set (errors summed over its files / reference words); cpWER and DER
# where the set has speaker references. Figures are described in docs/asr.md ("Measured").
set -euo pipefail

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$src/build"
long=0
telephone=0
raw=1
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --long) long=1 ;;
    --telephone) telephone=1 ;;
    --no-raw) raw=0 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "measure-asr: unknown option $1" >&2; exit 2 ;;
    *) build="$(cd "$1" && pwd)" ;;
  esac
  shift
done
data="${SDRA_EVAL_DATA:-/work/shared/eval-data}"
libri=/usr/share/pocketsphinx/test/data/librivox
sdra="$build/sdra"
[ -x "$sdra" ] || { echo "measure-asr: $sdra missing (make build)" >&2; exit 1; }
[ -d "$data" ] || { echo "measure-asr: no evaluation data at $data" >&2; exit 1; }
command -v pocketsphinx_continuous >/dev/null || { echo "measure-asr: pocketsphinx_continuous missing" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# errors REF HYP -> "errors ref_words" (and cpWER errors when REF is an STM)
score() {
  "$sdra" eval asr --ref "$1" "$2" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
e = d["substitutions"] + d["deletions"] + d["insertions"]
cp = d.get("cpwer")
print(e, d["ref_words"], (cp["substitutions"] + cp["deletions"] + cp["insertions"]) if cp else "")'
}
sdra_run() { "$sdra" transcribe -q "$1" -o "$2" "${extra[@]}" "${sheet[@]}"; }
use_sheet=0
sheet=()
call_sheet() { # NAME.mono.wav -> sheet=(the call's names as sdra run would pass them)
  local h=""
  case "$(basename "$1")" in
    discovery.*|short.*) h="Jordan Lee, Northwind Logistics" ;;
    pricing.*) h="Sam Rivera" ;;
  esac
  sheet=(--hints "$h" --rep-name Alex --company Brightwave)
}
psc_run() { # 16 kHz mono wav -> text
  if [ "$raw" = 1 ]; then pocketsphinx_continuous -infile "$1" -logfn /dev/null > "$2"; else : > "$2"; fi
}
# The telephone channel of scripts/build-narrowband-am.py: 300-3400 Hz, 8 kHz, G.711 mu-law.
to_phone() { sox -R -D -V1 "$1" -r 8000 -e u-law "$2" sinc 300-3400; }
to16k() { # IN OUT [ffmpeg options]: 16 kHz s16 WAV, 44-byte header
  local in="$1" out="$2"; shift 2
  ffmpeg -nostdin -loglevel error -y -i "$in" "$@" -ar 16000 -c:a pcm_s16le -map_metadata -1 \
    -fflags +bitexact -flags:a +bitexact "$out"
}

# row NAME "file ref [file ref ...]": pooled WER of both systems
row() {
  local name="$1"; shift
  local se=0 pe=0 n=0 sc=0 cp=1
  while [ $# -ge 2 ]; do
    local f="$1" ref="$2"; shift 2
    local b; b="$tmp/$(basename "${f%.*}")"
    # Both get the same 16 kHz samples in a WAV with a plain 44-byte header: the raw engine
    # reads any WAV from byte 44, and a longer header (LIST chunk) would shift its samples.
    local in="$b.16k.wav"
    if [ "$telephone" = 1 ]; then
      to_phone "$f" "$b.8k.wav"
      in="$b.8k.wav"
      f="$b.8k.wav"
    else
      to16k "$f" "$b.16k.wav"
    fi
    to16k "$f" "$b.16k.mono.wav" -ac 1
    sheet=()
    [ "$use_sheet" = 1 ] && call_sheet "$f"
    sdra_run "$in" "$b.json"
    psc_run "$b.16k.mono.wav" "$b.psc.txt"
    read -r e r c < <(score "$ref" "$b.json")
    se=$((se + e)); n=$((n + r))
    if [ -n "$c" ]; then sc=$((sc + c)); else cp=0; fi
    read -r e r c < <(score "$ref" "$b.psc.txt")
    pe=$((pe + e))
  done
  python3 - "$name" "$se" "$pe" "$n" "$sc" "$cp" <<'PY'
import sys
name, se, pe, n, sc, cp = sys.argv[1], *map(int, sys.argv[2:])
extra = "  cpWER %5.1f %%" % (100 * sc / n) if cp else ""
print("%-34s %5d words  sdra %5.1f %%  pocketsphinx %5.1f %%  (sdra - raw %+5.1f)%s" %
      (name, n, 100 * se / n, 100 * pe / n, 100 * (se - pe) / n, extra))
PY
}

echo "sdra: $("$sdra" --version 2>/dev/null || echo sdra) ${extra[*]:-}"
# LibriVox: one reference line per file in 'transcription'
set --
while read -r line; do
  id="$(sed -E 's/.*\(([^)]*)\)$/\1/' <<<"$line")"
  sed -E 's/<\/?s>//g; s/\([^)]*\)$//' <<<"$line" > "$tmp/$id.ref.txt"
  set -- "$@" "$libri/$id.wav" "$tmp/$id.ref.txt"
done < "$libri/transcription"
row "librivox (5 files, read speech)" "$@"
row "whisper-jfk (speech, 44.1k FLAC)" "$data/whisper-jfk/jfk.flac" "$data/whisper-jfk/reference.txt"
row "pyannote-sample (phone call)" "$data/pyannote-sample/sample.wav" "$data/pyannote-sample/sample.stm"
echo "  pyannote-sample DER: $("$sdra" eval diarization --ref "$data/pyannote-sample/sample.rttm" "$tmp/sample.json" | head -1)"
awk -F'\t' 'NR > 1 { printf "stereo 1 %s 0.0 5.0 %s\n", $1, $2 }' \
  "$data/faster-whisper-stereo/reference.tsv" > "$tmp/st.stm"
row "faster-whisper-stereo (2 channels)" "$data/faster-whisper-stereo/stereo_diarization.wav" "$tmp/st.stm"

fix="${SDRA_FIXTURES:-$build/fixtures}"
if ls "$fix"/*.mono.wav >/dev/null 2>&1; then
  set --
  for r in "$fix"/*.stm; do
    n="$(basename "$r" .stm)"
    [ -f "$fix/$n.mono.wav" ] && set -- "$@" "$fix/$n.mono.wav" "$r"
  done
  row "generated calls, mono ($(($# / 2)))" "$@"
  # The same calls with what the CRM knows about each: who the rep is calling, and from where.
  use_sheet=1
  row "  the same, with the call sheet's names" "$@"
  use_sheet=0
fi
if [ $long = 1 ]; then
  ldir="${TMPDIR:-/tmp}/sdra-bench" # shared with bench/transcribe.sh: built once
  bash "$src/scripts/make-long-call.sh" "$ldir" 10 >/dev/null
  row "generated 10-minute call, mono" "$ldir/long-10m.wav" "$ldir/long-10m.stm"
fi
