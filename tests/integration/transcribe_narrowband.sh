#!/usr/bin/env bash
# Telephone audio (8 kHz, G.711 mu-law) is recognised with the narrowband acoustic model the
# build adapts (docs/asr.md, "Telephone-band recognition"), chosen automatically from the
# source's sample rate, or from its band when telephone audio was stored at a wideband rate
# (16 kHz WAV, 44.1 kHz MP3), and named in the transcript; a missing model falls back to the
# wideband one with a warning, never a failure. The calls used here are never in the model's training
# data (scripts/build-narrowband-am.py trains on the sales corpus and LibriVox only).
# ctest-labels: slow
set -euo pipefail
: "${SDRA:?}" "${SDRA_FIXTURES:?}" "${SDRA_BUILD:?}"
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup transcribe_narrowband
fx="$SDRA_FIXTURES"
[ -f "$SDRA_BUILD/data/asr/en-us-8k/means" ] || fail "the build made no narrowband model"

. "$(dirname "${BASH_SOURCE[0]}")/lib/asr.sh" # wer, meta, below

# 1. a generated call through a telephone channel (300-3400 Hz, 8 kHz, mu-law), as measured
sox -R -D -V1 "$fx/short.mono.wav" -r 8000 -e u-law "$T/short.phone.wav" sinc 300-3400
"$SDRA" transcribe "$T/short.phone.wav" -q --jobs 2 -o "$T/phone.json" 2> "$T/phone.log"
[ "$(meta "$T/phone.json" acoustic_model)" = narrowband ] || fail "8 kHz source: not the narrowband model"
[ "$(meta "$T/phone.json" source_rate_hz)" = 8000 ] || fail "source rate not recorded"
meta "$T/phone.json" model | grep -q '^en-us-8k' || fail "meta.model does not name en-us-8k"
w=$(wer "$T/phone.json" "$fx/short.stm")
echo "short through a telephone channel: WER $w (narrowband)"
# measured 0.111 (8 of 72 words, adapted by speaker as by default; 0.125 before codebooks were
# chosen over three frames, src/asr/adapt.c; one transform for the recording, 0.167; before adaptation 0.153; the first narrowband model, MLLR+MAP on 155
# utterances, 0.208; the wideband model 0.417; 0.125 at 16 kHz). The bound fails the first model.
below "$w" 0.19 || fail "telephone call: WER $w (0.19 or more: no better than the first narrowband model)"

# 1b. a longer mono call through the same channel: two voices in one stream, so the model is
# adapted by speaker (src/transcribe/adapt.c): diarized first, a transform per speaker, each
# chunk one speaker's, decoded under that speaker's transform; the transforms' files go at the end
mkdir "$T/tmp"
sox -R -D -V1 "$fx/pricing.mono.wav" -r 8000 -e u-law "$T/pricing.phone.wav" sinc 300-3400
TMPDIR="$T/tmp" "$SDRA" transcribe "$T/pricing.phone.wav" -q --jobs 2 -o "$T/pspk.json"
[ "$(meta "$T/pspk.json" adaptation)" = mllr ] || fail "pricing: not adapted"
[ "$(meta "$T/pspk.json" adaptation_by)" = speaker ] || fail "pricing: not adapted by speaker"
python3 - "$T/pspk.json" <<'PY' || fail "pricing: adaptation_speakers_s"
import json, sys
m = json.load(open(sys.argv[1]))["meta"]
s = m["adaptation_speakers_s"]
assert len(s) == 2 and all(v is not None and v > 20 for v in s), s  # about 31 and 36 s each
assert abs(sum(s) - m["adaptation_speech_s"][0]) < 0.05, m
PY
[ -z "$(ls -A "$T/tmp")" ] || fail "pricing: transform files left in TMPDIR: $(ls "$T/tmp")"
ws=$(wer "$T/pspk.json" "$fx/pricing.stm")
echo "pricing through a telephone channel: WER $ws adapted by speaker"
# measured 0.125 (23 of 184 words) by speaker, 0.196 not adapted; 0.147 before codebooks were
# chosen over three frames; one transform for the recording, 0.255; the same call at 16 kHz,
# 0.109. The bound fails all three others, so the call is no longer decoded unadapted here
# as well (half a minute of CPU); the gain over no adaptation is checked on real speech by
# transcribe_real_telephone.
below "$ws" 0.14 || fail "pricing, adapted by speaker: WER $ws (unadapted 0.196, one transform 0.255)"

# 2. the 8 kHz mu-law fixture the other tests read (stereo, not band-limited); the suite's one
# check of that format through the whole CLI path (transcribe_calls leaves it to this one)
"$SDRA" transcribe "$fx/short.mulaw8k.wav" -q --jobs 2 -o "$T/mulaw.json" 2> "$T/mulaw.log"
[ "$(meta "$T/mulaw.json" acoustic_model)" = narrowband ] || fail "mu-law fixture: not the narrowband model"
w=$(wer "$T/mulaw.json" "$fx/short.stm")
echo "short.mulaw8k.wav: WER $w (narrowband)"
# measured 0.208 (15 of 72 words; 0.222 with codebooks chosen frame by frame; 0.264 before
# adaptation)
below "$w" 0.35 || fail "mu-law fixture: WER $w"

# 3. a 16 kHz source keeps the wideband model; its band is measured and recorded
ffmpeg -nostdin -loglevel error -y -i "$fx/short.mono.wav" -t 4 "$T/clip16.wav"
"$SDRA" transcribe "$T/clip16.wav" -q -o "$T/clip16.json"
[ "$(meta "$T/clip16.json" acoustic_model)" = wideband ] || fail "16 kHz source: not the wideband model"
meta "$T/clip16.json" model | grep -q '^en-us ' || fail "16 kHz source: meta.model"
b=$(meta "$T/clip16.json" source_high_band_db)
below -50 "$b" || fail "16 kHz wideband speech: band reading $b dB (want above -50)"

# 3b. the telephone call of 1 stored at a wideband rate: 16 kHz WAV (sox's resampler) and a
# 44.1 kHz MP3 (FFmpeg's). The rate says wideband; the empty band above 4 kHz says telephone.
sox -R -V1 "$T/short.phone.wav" -r 16000 -e signed -b 16 "$T/phone16.wav"
ffmpeg -nostdin -loglevel error -y -i "$T/short.phone.wav" -ar 44100 -c:a libmp3lame -b:a 64k "$T/phone44.mp3"
for f in phone16.wav phone44.mp3; do
  "$SDRA" transcribe "$T/$f" -q --jobs 2 -o "$T/$f.json" 2> "$T/$f.log"
  [ "$(meta "$T/$f.json" acoustic_model)" = narrowband ] || fail "$f: telephone audio at a wideband rate: not the narrowband model"
  b=$(meta "$T/$f.json" source_high_band_db)
  below "$b" -65 || fail "$f: band reading $b dB (want under -65)"
  w=$(wer "$T/$f.json" "$fx/short.stm")
  echo "short through a telephone channel, stored as $f: WER $w (narrowband; band $b dB)"
  # measured 0.125 and 0.125 adapted by speaker (0.139 and 0.139 with codebooks chosen frame
  # by frame; 0.222 and 0.208 with one transform for the
  # recording; 0.194 and 0.181 before adaptation; the wideband model: 0.389 and 0.444)
  below "$w" 0.25 || fail "$f: WER $w"
done
# 3c. a stereo call whose prospect side came over the telephone and whose rep side did not
# (a softphone recording at 16 kHz): each channel gets its own model
sox "$fx/short.stereo.wav" -c 1 "$T/left.wav" remix 1
sox "$fx/short.stereo.wav" -c 1 "$T/right.wav" remix 2
sox -R -D -V1 "$T/right.wav" -r 8000 -e u-law "$T/right8.wav" sinc 300-3400
sox -R -V1 "$T/right8.wav" -r 16000 -e signed -b 16 "$T/right16.wav"
sox -M "$T/left.wav" "$T/right16.wav" "$T/mixed.wav"
"$SDRA" transcribe "$T/mixed.wav" -q --jobs 2 -o "$T/mixed.json"
[ "$(meta "$T/mixed.json" acoustic_model)" = mixed ] || fail "one telephone side: acoustic_model not 'mixed'"
[ "$(meta "$T/mixed.json" channel_acoustic_models)" = "['wideband', 'narrowband']" ] ||
  fail "one telephone side: channel models $(meta "$T/mixed.json" channel_acoustic_models)"
w=$(wer "$T/mixed.json" "$fx/short.stm")
"$SDRA" transcribe "$T/mixed.wav" -q --jobs 2 --acoustic-model wideband -o "$T/mixedw.json"
ww=$(wer "$T/mixedw.json" "$fx/short.stm")
echo "stereo, the prospect's side over the telephone: WER $w (a model per side), $ww (wideband for both)"
# measured 0.167 and 0.278 (0.194 with codebooks chosen frame by frame)
below "$w" "$ww" || fail "a model per side ($w) is not better than wideband for both ($ww)"
below "$w" 0.25 || fail "one telephone side: WER $w"
# both sides wideband: one model, as before (tiny: the model choice is all this checks)
"$SDRA" transcribe "$fx/tiny.stereo.wav" -q --jobs 2 -o "$T/stereo.json"
[ "$(meta "$T/stereo.json" channel_acoustic_models)" = "['wideband', 'wideband']" ] ||
  fail "wideband stereo: channel models $(meta "$T/stereo.json" channel_acoustic_models)"

# forcing wins over the band: the first 4 s of 3b's 16 kHz telephone copy, which on its own
# is still read as telephone audio
sox "$T/phone16.wav" "$T/phone16clip.wav" trim 0 4
"$SDRA" transcribe "$T/phone16clip.wav" -q -o "$T/phone16clip.json"
[ "$(meta "$T/phone16clip.json" acoustic_model)" = narrowband ] || fail "4 s of telephone audio at 16 kHz: not the narrowband model"
"$SDRA" transcribe "$T/phone16clip.wav" -q --acoustic-model wideband -o "$T/phone16w.json"
[ "$(meta "$T/phone16w.json" acoustic_model)" = wideband ] || fail "--acoustic-model wideband ignored for a band-limited source"

# 4. a missing narrowband model: one warning, the wideband model, success
sox -R -D -V1 "$T/clip16.wav" -r 8000 -e u-law "$T/clip8.wav" sinc 300-3400
SDRA_NARROWBAND_AM="$T/none" "$SDRA" transcribe "$T/clip8.wav" -q -o "$T/fallback.json" \
  2> "$T/fallback.log" || fail "missing narrowband model failed the transcription"
[ "$(meta "$T/fallback.json" acoustic_model)" = wideband ] || fail "fallback: not the wideband model"
[ "$(grep -c 'narrowband acoustic model' "$T/fallback.log")" = 1 ] || fail "fallback: no single warning"
grep -q 'using the wideband model' "$T/fallback.log" || fail "fallback: warning does not say what happens"

# 5. forcing: wideband on 8 kHz audio; a bad value is a usage error
"$SDRA" transcribe "$T/clip8.wav" -q --acoustic-model wideband -o "$T/forced.json"
[ "$(meta "$T/forced.json" acoustic_model)" = wideband ] || fail "--acoustic-model wideband ignored"
rc=0
"$SDRA" transcribe "$T/clip8.wav" -q --acoustic-model 8k -o "$T/bad.json" 2> "$T/bad.log" || rc=$?
[ "$rc" = 2 ] || fail "bad --acoustic-model: exit $rc, want 2"
[ "$(wc -l < "$T/bad.log")" = 1 ] && grep -q "acoustic-model" "$T/bad.log" || fail "bad --acoustic-model: message"
"$SDRA" transcribe --help | grep -q -- '--acoustic-model' || fail "--help lacks --acoustic-model"
echo "transcribe_narrowband: ok"
