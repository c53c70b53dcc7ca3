#!/usr/bin/env bash
# audio_bad_input.sh - bad audio given to the CLI (`sdra transcribe`, the first user of the
# audio module) fails the way the project promises: exit status 1, exactly one line on stderr
# that names the file and says why, no crash and no sanitizer report. Inputs are generated here:
# missing path, directory, empty file, text named .wav, truncated header, truncated audio,
# zero-length WAV, video-only file, subtitles-only file, unknown codec, empty stdin, garbage
# on stdin; `sdra run` on two of them, and on audio with no speech in it.
set -uo pipefail
: "${SDRA:?SDRA must point at the sdra binary}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sdra-audio-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0

ff() { ffmpeg -nostdin -v error -y "$@" || { echo "FAIL: ffmpeg $*"; exit 1; }; }

# expect NAME-IN-MESSAGE WORDS -- command...
expect_fail() {
    local name=$1 words=$2
    shift 3
    local out="$tmp/out" errf="$tmp/err"
    timeout 60 "$@" >"$out" 2>"$errf"
    local rc=$?
    local lines
    lines=$(wc -l <"$errf")
    if [ "$rc" -ne 1 ]; then
        echo "FAIL: $*: exit $rc, want 1"; cat "$errf"; fail=1; return
    fi
    if [ "$lines" -ne 1 ]; then
        echo "FAIL: $*: $lines lines on stderr, want 1"; cat "$errf"; fail=1; return
    fi
    if ! grep -qF -- "$name" "$errf" || ! grep -qiF -- "$words" "$errf"; then
        echo "FAIL: $*: message does not name '$name' / say '$words':"; cat "$errf"; fail=1; return
    fi
    if grep -qE 'Sanitizer|runtime error|Segmentation' "$errf"; then
        echo "FAIL: $*: crash report"; cat "$errf"; fail=1; return
    fi
    echo "ok: $(cat "$errf")"
}

expect_fail "$tmp/missing.wav" "no such file" -- "$SDRA" transcribe "$tmp/missing.wav"
mkdir "$tmp/folder.wav"
expect_fail "$tmp/folder.wav" "directory" -- "$SDRA" transcribe "$tmp/folder.wav"
: >"$tmp/empty.mp3"
expect_fail "$tmp/empty.mp3" "empty" -- "$SDRA" transcribe "$tmp/empty.mp3"
echo "Meeting notes: call Dana back on Tuesday." >"$tmp/notes.wav"
expect_fail "$tmp/notes.wav" "not an audio file" -- "$SDRA" transcribe "$tmp/notes.wav"

ff -f lavfi -i "sine=f=300:d=6" -ac 2 "$tmp/good.flac"
head -c 30 "$tmp/good.flac" >"$tmp/header-cut.flac"
expect_fail "$tmp/header-cut.flac" "truncated" -- "$SDRA" transcribe "$tmp/header-cut.flac"
size=$(stat -c %s "$tmp/good.flac")
head -c $((size / 2 + 1)) "$tmp/good.flac" >"$tmp/half.flac"
expect_fail "$tmp/half.flac" "truncated" -- "$SDRA" transcribe "$tmp/half.flac"

# a WAV header with no samples
printf 'RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00\x00\x7d\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00' >"$tmp/zero.wav"
expect_fail "$tmp/zero.wav" "no audio" -- "$SDRA" transcribe "$tmp/zero.wav"

ff -f lavfi -i "testsrc=d=1:s=32x32:r=5" -c:v ffv1 "$tmp/video.mkv"
expect_fail "$tmp/video.mkv" "no audio stream" -- "$SDRA" transcribe "$tmp/video.mkv"
printf '1\n00:00:01,000 --> 00:00:02,000\nHello.\n' >"$tmp/subs.srt"
ff -i "$tmp/subs.srt" "$tmp/subs.mkv"
expect_fail "$tmp/subs.mkv" "no audio stream" -- "$SDRA" transcribe "$tmp/subs.mkv"

# format tag 0x7777: no decoder
{ printf 'RIFF\x64\x1f\x00\x00WAVEfmt \x10\x00\x00\x00\x77\x77\x01\x00\x40\x1f\x00\x00\x40\x1f\x00\x00\x01\x00\x08\x00data\x40\x1f\x00\x00'
  head -c 8000 /dev/urandom; } >"$tmp/odd.wav"
expect_fail "$tmp/odd.wav" "unsupported" -- "$SDRA" transcribe "$tmp/odd.wav"

# `sdra run` says the same one line (nothing of a package was made to resume from)
expect_fail "$tmp/empty.mp3" "empty" -- "$SDRA" run "$tmp/empty.mp3" --out "$tmp/pkg" --data "$tmp/data" --quiet
expect_fail "$tmp/notes.wav" "not an audio file" -- "$SDRA" run "$tmp/notes.wav" --out "$tmp/pkg" --data "$tmp/data" --quiet
# audio that holds no speech (silence, noise): `transcribe` gives an empty transcript, `run` one
# line and no package, since no stage after it has anything to work on
ff -f lavfi -i "anullsrc=r=16000:cl=mono" -t 8 "$tmp/silence.wav"
ff -f lavfi -i "anoisesrc=d=5:c=white:a=0.05:r=48000" "$tmp/hiss.flac"
"$SDRA" transcribe "$tmp/silence.wav" --format text >"$tmp/out" 2>"$tmp/err" && [ ! -s "$tmp/out" ] ||
    { echo "FAIL: transcribe silence: $(cat "$tmp/err")"; fail=1; }
expect_fail "$tmp/silence.wav" "no speech found" -- "$SDRA" run "$tmp/silence.wav" --out "$tmp/pkg" --data "$tmp/data" --quiet
expect_fail "$tmp/hiss.flac" "no speech found" -- "$SDRA" run "$tmp/hiss.flac" --out "$tmp/pkg" --data "$tmp/data" --quiet
ls "$tmp/pkg"/silence-* "$tmp/pkg"/hiss-* >/dev/null 2>&1 && [ -n "$(ls "$tmp/pkg"/silence-*/*.json "$tmp/pkg"/hiss-*/*.json 2>/dev/null | grep -v call.json)" ] &&
    { echo "FAIL: a package from audio with no speech: $(ls -R "$tmp/pkg")"; fail=1; }

expect_fail "stdin" "empty" -- bash -c "\"$SDRA\" transcribe - </dev/null"
expect_fail "stdin" "" -- bash -c "head -c 20000 /dev/urandom | \"$SDRA\" transcribe -"

if [ "$fail" -ne 0 ]; then
    echo "audio_bad_input: FAILED"
    exit 1
fi
echo "audio_bad_input: all bad inputs failed cleanly"
