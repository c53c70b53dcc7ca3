#!/usr/bin/env bash
# ctest-labels: slow
# A two-channel file whose channels carry the same signal (many recorders write mono twice), or
# only one of which is used, is transcribed as mono: the same transcript as the mono file,
# not every word twice under two speakers.
set -euo pipefail
: "${SDRA:?}" "${SDRA_FIXTURES:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
mono="$SDRA_FIXTURES/short.mono.wav"
# the mono samples copied to both channels, unchanged: exactly the mono signal
ffmpeg -loglevel error -y -i "$mono" -af "pan=stereo|c0=c0|c1=c0" "$tmp/dual.wav"
# ffmpeg's own upmix (-ac 2) writes each channel 3 dB down (-37 becomes -26): the same
# signal twice, but not the mono file's samples
ffmpeg -loglevel error -y -i "$mono" -ac 2 "$tmp/upmix.wav"
ffmpeg -loglevel error -y -i "$mono" -af "pan=stereo|c0=c0|c1=0*c0" "$tmp/left-only.wav"
"$SDRA" transcribe "$mono" --format text --quiet --jobs 2 > "$tmp/mono.txt"
"$SDRA" transcribe "$tmp/dual.wav" --format text --quiet --jobs 2 > "$tmp/dual.txt"
"$SDRA" transcribe "$tmp/upmix.wav" --format text --quiet --jobs 2 > "$tmp/upmix.txt"
"$SDRA" transcribe "$tmp/left-only.wav" --format text --quiet --jobs 2 > "$tmp/left.txt"
[ -s "$tmp/mono.txt" ] || fail "empty mono transcript"
diff -u "$tmp/mono.txt" "$tmp/dual.txt" || fail "dual-mono stereo differs from the mono transcript"
sed 's/^\[[^]]*\] [^:]*: //' "$tmp/mono.txt" > "$tmp/mono.words"
# upmix and left-only: decoded from other samples (3 dB down; the used channel at half
# level), so a word may differ; the utterances and speakers must be the same and the words
# nearly so
for v in upmix left; do
  [ "$(cut -d' ' -f2 "$tmp/mono.txt")" = "$(cut -d' ' -f2 "$tmp/$v.txt")" ] || fail "$v stereo: other utterances/speakers"
  sed 's/^\[[^]]*\] [^:]*: //' "$tmp/$v.txt" > "$tmp/$v.words"
  wer=$("$SDRA" eval asr --ref "$tmp/mono.words" "$tmp/$v.words" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["wer"])')
  python3 -c "import sys; sys.exit(0 if float('$wer') < 0.1 else 1)" || fail "$v stereo: WER $wer against the mono transcript"
done
echo "transcribe_dualmono: ok ($(wc -l < "$tmp/mono.txt") utterances)"
