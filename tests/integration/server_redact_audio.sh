#!/usr/bin/env bash
# server_redact_audio.sh - `serve --redact card --redact-audio silence`: a call in which a card
# number is read out (flite, two voices, as in redact_cli.sh) is uploaded; once the transcribe
# stage is done, the stored audio is a WAV in which the recorded card spans are silence and
# every other sample is the upload's own; the upload itself is gone from the call directory;
# GET /v1/calls/{id}/audio serves the redacted file; the call's metadata and the audit trail
# say what was done. The same with `--redact-audio tone`: a 1 kHz tone over the span instead.
# And `--redact-audio` without `--redact`, or with a bad mode, is refused.
# ctest-labels: slow
set -u
SDRA=${SDRA:-${1:-}}
[ -x "$SDRA" ] || { echo "FAIL: give the sdra binary as \$SDRA or \$1" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup server_redact_audio
D="$T/data"

# ---- usage errors -----------------------------------------------------------------------------
"$SDRA" serve --data "$D" --redact-audio silence 2>"$T/err" && fail "--redact-audio without --redact started"
[ $? = 2 ] || true
grep -q -- "--redact-audio needs --redact" "$T/err" || fail "unclear message: $(cat "$T/err")"
"$SDRA" serve --data "$D" --redact card --redact-audio loud 2>"$T/err" && fail "--redact-audio loud started"
grep -q "silence or tone" "$T/err" || fail "unclear message: $(cat "$T/err")"
"$SDRA" serve --help | grep -q -- "--redact-audio MODE" || fail "--redact-audio not in --help"

# ---- the recording ----------------------------------------------------------------------------
flite -voice rms -t "Thanks for calling Brightwave. Can I take your card number for the order?" -o "$T/a.wav"
flite -voice slt -t "Sure. My card number is four one one one, one one one one, one one one one, one one one one. Thanks." -o "$T/b.wav"
sox "$T/a.wav" -r 16000 "$T/a16.wav"
sox "$T/b.wav" -r 16000 "$T/b16.wav"
sox "$T/a16.wav" -p pad 0 0.5 | sox - "$T/b16.wav" -b 16 -e signed-integer "$T/call.wav"

# check_mode MODE: a server with --redact-audio MODE and its own data directory, one upload.
check_mode() {
  MODE=$1
  D="$T/data-$MODE"
  KEY=$("$SDRA" keys create --data "$D" --name redactor --scope admin) || fail "keys create"
  "$SDRA" serve --listen 127.0.0.1:0 --data "$D" --port-file "$T/port-$MODE" --redact card --redact-audio "$MODE" \
    --log-level info --log-format text 2>"$T/serve-$MODE.log" &
  PIDS+=($!)
  for _ in $(seq 1 100); do [ -s "$T/port-$MODE" ] && break; sleep 0.1; done
  [ -s "$T/port-$MODE" ] || fail "server did not start"
  B="http://127.0.0.1:$(cat "$T/port-$MODE")"
  A=(-H "Authorization: Bearer $KEY")

  code=$(curl -s -o "$T/up.json" -w '%{http_code}' "${A[@]}" -F "audio=@$T/call.wav;type=audio/wav" \
    -F call_date=2026-11-24 -F "rep_name=Alex" "$B/v1/calls")
  [ "$code" = 202 ] || fail "upload answered $code: $(cat "$T/up.json")"
  ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/up.json") || fail "no id"

  # wait for the transcribe stage
  for _ in $(seq 1 600); do
    curl -s "${A[@]}" -o "$T/call.json" "$B/v1/calls/$ID"
    state=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stages"][0]["state"])' "$T/call.json" 2>/dev/null)
    [ "$state" = done ] || [ "$state" = failed ] && break
    sleep 1
  done
  [ "$state" = done ] || fail "transcribe stage: ${state:-?}: $(cat "$T/call.json")"

  curl -s "${A[@]}" -o "$T/served.wav" -D "$T/audio.hdr" "$B/v1/calls/$ID/audio"
  grep -qi '^Content-Type: audio/wav' "$T/audio.hdr" || fail "audio served as: $(grep -i content-type "$T/audio.hdr")"
  ls "$D/calls/$ID" > "$T/files"
  [ "$(grep -c '^audio\.' "$T/files")" = 1 ] && grep -qx audio.wav "$T/files" || fail "audio files in the call: $(tr '\n' ' ' < "$T/files")"
  # stored encrypted at rest (the server's default): the served file is the stored one decrypted
  "$SDRA" decrypt "$D/calls/$ID/audio.wav" --data "$D" -o "$T/stored.wav" 2>"$T/dec.err" \
    || fail "the stored audio does not decrypt: $(cat "$T/dec.err")"
  cmp -s "$T/served.wav" "$T/stored.wav" || fail "GET audio is not the stored file"
  head -c 8 "$D/calls/$ID/audio.wav" | grep -q SDRAENC1 || fail "the redacted audio is stored in plaintext"

  "$SDRA" decrypt "$D/calls/$ID/transcript.json" --data "$D" -o "$T/transcript.json" 2>"$T/dec.err" \
    || fail "the stored transcript does not decrypt: $(cat "$T/dec.err")"
  python3 - "$T/call.wav" "$T/served.wav" "$T/transcript.json" "$T/call.json" "$MODE" <<'PY' || fail "redacted audio ($MODE)"
import json, struct, sys, wave
def samples(path):
    w = wave.open(path)
    assert w.getsampwidth() == 2, path
    n, ch, rate = w.getnframes(), w.getnchannels(), w.getframerate()
    return struct.unpack("<%dh" % (n * ch), w.readframes(n)), ch, rate
orig, ch, rate = samples(sys.argv[1])
red, ch2, rate2 = samples(sys.argv[2])
assert (ch, rate, len(orig)) == (ch2, rate2, len(red)), ((ch, rate, len(orig)), (ch2, rate2, len(red)))
spans = json.load(open(sys.argv[3]))["meta"]["redaction"]["spans"]
cards = [s for s in spans if s["class"] == "card"]
assert cards, "no card span recorded: %r" % spans
meta = json.load(open(sys.argv[4]))["metadata"]
mode = sys.argv[5]
assert meta.get("audio") == "audio.wav" and meta.get("audio_redacted") == {"mode": mode, "spans": len(spans)}, meta
pad = 0.15
covered = [False] * (len(orig) // ch)
for s in spans:
    a, b = max(0, int((s["start"] - pad) * rate)), min(len(covered), int((s["end"] + pad) * rate) + 1)
    for i in range(a, b):
        covered[i] = True
inside = outside = 0
for s in cards:
    a, b = int(s["start"] * rate) + 1, int(s["end"] * rate)
    for i in range(a * ch, b * ch):
        if mode == "silence":
            assert red[i] == 0, "sample %d (%.3f s) in the card span is %d" % (i, i / ch / rate, red[i])
        inside += orig[i] != 0
    if mode == "tone":  # 1 kHz at -20 dBFS: peak 3277, RMS 2317, and none of the voice left
        seg = red[a * ch:b * ch]
        rms = (sum(x * x for x in seg) / len(seg)) ** 0.5
        assert max(abs(x) for x in seg) <= 3400 and 1900 < rms < 2700, "tone: peak %d, rms %.0f" % (max(abs(x) for x in seg), rms)
        crossings = sum(1 for i in range(1, len(seg)) if (seg[i - 1] < 0) != (seg[i] < 0))
        hz = crossings / 2 / (len(seg) / ch / rate)
        assert 900 < hz < 1100, "tone at %.0f Hz" % hz
edge = int(0.01 * rate)  # a frame either side of a padded span may be rounded either way
for f, c in enumerate(covered):
    if c or any(covered[max(0, f - edge):f + edge + 1]):
        continue
    for k in range(ch):
        assert red[f * ch + k] == orig[f * ch + k], "sample %d (%.3f s) outside the spans changed" % (f, f / rate)
    outside += 1
assert inside > rate // 2, "the card spans held little sound before: %d samples" % inside
print("%s: card spans: %d, %.2f s covered that held sound; %d frames outside unchanged" % (mode, len(cards), inside / ch / rate, outside))
PY

  "$SDRA" audit --data "$D" --target "$ID" --action audio.redact > "$T/audit.txt" || fail "sdra audit"
  grep -q "$MODE over" "$T/audit.txt" || fail "no audio.redact audit entry: $(cat "$T/audit.txt")"
}
check_mode silence
check_mode tone
echo "server_redact_audio: ok"
