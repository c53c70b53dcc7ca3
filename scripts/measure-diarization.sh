#!/usr/bin/env bash
# Measures diarization on the real evaluation data (/work/shared/eval-data, or $SDRA_EVAL_DATA)
# and on the generated example calls, and prints the figures. Read-only on the data.
#
# Usage: scripts/measure-diarization.sh [BUILD_DIR] [--transcribe]
#
#   BUILD_DIR     a configured and built tree with the `sdra` target (default: build)
#   --transcribe  also run the whole `sdra transcribe` (ASR + diarization + word assignment)
#                 and score its transcripts (slower: PocketSphinx runs on every file)
#
# The diarizer alone is run through tools/diarize_wav.c (compiled here against the build's
# libsdra_diarize.a, libsdra_audio.a and libsdra_core.a), which prints RTTM; `sdra eval
# diarization` scores it (DER, 0.25 s collar, overlap scored, optimal mapping). The last
# section reads each file as `sdra transcribe` does (--decode: resampled to 16 kHz) and shows
# how stable the estimated count is under one least significant bit of noise (--dither).
# Figures are described in docs/diarization.md ("Measured").
set -euo pipefail

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$src/build"
transcribe=0
for a in "$@"; do
  case "$a" in
    --transcribe) transcribe=1 ;;
    -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "measure-diarization: unknown option $a" >&2; exit 2 ;;
    *) build="$(cd "$a" && pwd)" ;;
  esac
done
data="${SDRA_EVAL_DATA:-/work/shared/eval-data}"
sdra="$build/sdra"
for f in "$sdra" "$build/libsdra_diarize.a" "$build/libsdra_audio.a" "$build/libsdra_core.a"; do
  [ -e "$f" ] || { echo "measure-diarization: $f missing (build the sdra target in $build)" >&2; exit 1; }
done
[ -d "$data" ] || { echo "measure-diarization: no evaluation data at $data" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
drv="$tmp/diarize_wav"
cc -O2 -D_GNU_SOURCE -I"$src/include" "$src/tools/diarize_wav.c" "$build/libsdra_diarize.a" \
   "$build/libsdra_audio.a" "$build/libsdra_core.a" \
   $(pkg-config --libs jansson libavformat libavcodec libavutil libswresample) -lm -lpthread -o "$drv"

der() { # ref.rttm hyp -> "DER x% (missed, fa, confusion)"
  "$sdra" eval diarization --ref "$1" "$2" | head -1
}
count() { # rttm -> number of distinct speakers
  awk '$1 == "SPEAKER" { s[$8] = 1 } END { print length(s) }' "$1"
}
run_drv() { # out.rttm args...
  local out="$1"; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$drv" "$@" > "$out" 2> "$tmp/drv.err" || { cat "$tmp/drv.err" >&2; return 1; }
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }' > "$tmp/secs"
}

echo "== pyannote-sample: 30 s real telephone conversation, mono, 2 speakers (cluster method)"
s="$data/pyannote-sample"
run_drv "$tmp/s2.rttm" --cluster --speakers 2 "$s/sample.wav" sample
echo "  n_speakers=2 given:    $(der "$s/sample.rttm" "$tmp/s2.rttm")   [$(cat "$tmp/secs") s]"
run_drv "$tmp/s0.rttm" --cluster "$s/sample.wav" sample
echo "  n_speakers estimated:  $(der "$s/sample.rttm" "$tmp/s0.rttm")   found $(count "$tmp/s0.rttm") of $(count "$s/sample.rttm") speakers"
if [ $transcribe = 1 ]; then
  if "$sdra" transcribe -q "$s/sample.wav" -o "$tmp/sample.json"; then
    echo "  sdra transcribe:       $(der "$s/sample.rttm" "$tmp/sample.json")"
    "$sdra" eval asr --ref "$s/sample.stm" "$tmp/sample.json" | sed -n '1,2p' | sed 's/^/  /'
  else
    echo "  sdra transcribe failed (exit $?)"
  fi
fi

echo "== faster-whisper-stereo: 5 s, one talker per channel, overlapping (channel method)"
s="$data/faster-whisper-stereo"
run_drv "$tmp/st.rttm" --channel "$s/stereo_diarization.wav" stereo
awk '$1 == "SPEAKER" { d[$8] += $5; n[$8]++ } END { for (k in d) printf "  %s: %d turn(s), %.2f s of speech\n", k, n[k], d[k] }' "$tmp/st.rttm" | sort
# overlap: time both channels are active
awk '$1 == "SPEAKER" { a[NR] = $4; b[NR] = $4 + $5; s[NR] = $8 } END {
  o = 0; for (i in a) for (j in a) if (i < j && s[i] != s[j]) { lo = a[i] > a[j] ? a[i] : a[j]; hi = b[i] < b[j] ? b[i] : b[j]; if (hi > lo) o += hi - lo }
  printf "  both channels active: %.2f s (no reference RTTM exists for this file)\n", o }' "$tmp/st.rttm"
if [ $transcribe = 1 ]; then
  # cpWER against the per-channel reference text: is each channel's speech given to one speaker?
  awk -F'\t' 'NR > 1 { printf "stereo 1 %s 0.0 5.0 %s\n", $1, $2 }' "$s/reference.tsv" > "$tmp/st.stm"
  if "$sdra" transcribe -q "$s/stereo_diarization.wav" -o "$tmp/st.json"; then
    "$sdra" eval asr --ref "$tmp/st.stm" "$tmp/st.json" | sed 's/^/  /'
  else
    echo "  sdra transcribe failed (exit $?)"
  fi
fi

echo "== pyannote-ami-seriously: 60 s meeting, 4 speakers with overlap (speaker counting)"
s="$data/pyannote-ami-seriously"
awk '$1 == "SPEAKER" { d[$8] += $5 } END { for (k in d) printf "  reference %s: %.1f s\n", k, d[k] }' "$s/mixture.rttm" | sort
run_drv "$tmp/m0.rttm" --cluster "$s/mixture.wav" mixture
echo "  estimated speakers: $(count "$tmp/m0.rttm") (reference $(count "$s/mixture.rttm"))   $(der "$s/mixture.rttm" "$tmp/m0.rttm")"
run_drv "$tmp/m4.rttm" --cluster --speakers 4 "$s/mixture.wav" mixture
echo "  n_speakers=4 given: $(der "$s/mixture.rttm" "$tmp/m4.rttm")"
# the four 'sources' tracks (one per speaker, from a separation tutorial; they carry residual
# noise and cross-talk) as a 4-channel recording: the channel method with bleed rejection
if command -v sox >/dev/null; then
  sox -M "$s/sources/source0.wav" "$s/sources/source1.wav" "$s/sources/source2.wav" \
      "$s/sources/source3.wav" "$tmp/sources4.wav" 2>/dev/null
  run_drv "$tmp/mch.rttm" --channel "$tmp/sources4.wav" mixture
  echo "  channel method on the 4 'sources' tracks as one 4-channel file: $(der "$s/mixture.rttm" "$tmp/mch.rttm")"
fi

fix="${SDRA_FIXTURES:-$build/fixtures}"
if [ -d "$fix" ] && ls "$fix"/*.rttm >/dev/null 2>&1; then
  echo "== generated calls in $fix (festival rep + flite prospect, bleed at -30 dB)"
  for r in "$fix"/*.rttm; do
    n="$(basename "$r" .rttm)"
    [ -f "$fix/$n.stereo.wav" ] || continue
    run_drv "$tmp/c.rttm" --channel "$fix/$n.stereo.wav" "$n"
    a="$(der "$r" "$tmp/c.rttm" | cut -d' ' -f2)"
    run_drv "$tmp/c.rttm" --cluster "$fix/$n.mono.wav" "$n"
    b="$(der "$r" "$tmp/c.rttm" | cut -d' ' -f2)"
    k="$(count "$tmp/c.rttm")"
    echo "  $n: stereo/channel DER $a   mono/cluster (count estimated: $k) DER $b"
  done
fi

echo "== the estimated count as sdra transcribe gets it (16 kHz), and with one LSB of noise"
echo "   (the count with --dither 1..5 after the plain one; each file's right count in brackets)"
if command -v sox >/dev/null; then
  for spec in "whisper-jfk/jfk.flac 1" "pyannote-sample/sample.wav 2"; do
    set -- $spec
    f="$data/$1"
    sox -R -D -V1 "$f" -r 8000 -e u-law "$tmp/phone.wav" sinc 300-3400
    for v in "$f" "$tmp/phone.wav"; do
      c=""
      for seed in none 1 2 3 4 5; do
        d=(); [ "$seed" = none ] || d=(--dither "$seed")
        run_drv "$tmp/d.rttm" --cluster --decode "${d[@]}" "$v" x
        c="$c $(count "$tmp/d.rttm")"
      done
      [ "$v" = "$f" ] && what="as recorded" || what="telephone channel (8 kHz mu-law)"
      printf "  %-28s %-34s [%s]%s\n" "$1" "$what" "$2" "$c"
    done
  done
fi
