#!/usr/bin/env bash
# redact_cli.sh - PII redaction end to end. A short call is synthesised (flite, two voices) in
# which the prospect reads a card number as words. `sdra run` without --redact must leave the
# recognised digits in the package (so the check below can fail); the same package run again
# with --redact all must carry them in no file (transcript.json/.txt, analysis.json, email,
# crm.json, report.html) and carry the marker instead. `sdra redact --audio` then silences (or
# tones) the recorded spans in a copy of the recording, measured by RMS. Also: the written and
# spoken forms through `sdra redact` on a text transcript, analyses, --text, and bad input.
# Usage (CTest sets the environment): redact_cli.sh [SDRA] [SCRATCH_DIR]
set -euo pipefail
SDRA=${1:-${SDRA:?}}
work=${2:-}
if [ -z "$work" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

# ---- the recording ------------------------------------------------------------------------
flite -voice rms -t "Thanks for calling Brightwave. Can I take your card number for the order?" -o "$work/a.wav"
flite -voice slt -t "Sure. My card number is four one one one, one one one one, one one one one, one one one one. Thanks." -o "$work/b.wav"
sox "$work/a.wav" -r 16000 "$work/a16.wav"
sox "$work/b.wav" -r 16000 "$work/b16.wav"
sox "$work/a16.wav" -p pad 0 0.5 | sox - "$work/b16.wav" -b 16 -e signed-integer "$work/call.wav"

# A checker: the longest run of spelled digit words in a file's text (the recogniser spells
# numbers; numerals in these files are times and dates). The card is sixteen; nothing else in
# this call is a number.
cat > "$work/digits.py" <<'PY'
import re, sys
WORDS = {"zero","oh","one","two","three","four","five","six","seven","eight","nine","for","won","to","too"}
def longest(text):
    best = cur = 0
    for tok in re.findall(r"[A-Za-z]+", text.lower()):
        if tok in WORDS:
            cur += 1
            best = max(best, cur)
        else:
            cur = 0
    return best
for p in sys.argv[1:]:
    print(longest(open(p, encoding="utf-8", errors="replace").read()), p)
PY

echo "== transcription recognises the spoken digits"
"$SDRA" transcribe "$work/call.wav" -o "$work/t.json"
recognised=$(python3 "$work/digits.py" "$work/t.json" | awk '{print $1}')
echo "longest digit run recognised: $recognised"

common=(--call-date 2026-11-24 --rep-name Alex --contact-name Jordan --contact-email jordan@northwind.example
        --jobs 2 --out "$work/out" --data "$work/data" --quiet)

if [ "$recognised" -ge 13 ]; then
  echo "== control: without --redact the number is in the package"
  "$SDRA" run "$work/call.wav" "${common[@]}" > /dev/null
  pkg=$(ls -d "$work"/out/call-*/)
  python3 "$work/digits.py" "$pkg"/transcript.json "$pkg"/transcript.txt | tee "$work/control.txt"
  awk '$1 >= 13 {found=1} END {exit !found}' "$work/control.txt" || fail "control run lost the digits"

  echo "== run --redact all on the same package: the transcript is redone and redacted"
  "$SDRA" run "$work/call.wav" "${common[@]}" --redact all > /dev/null
  files=("$pkg"/transcript.json "$pkg"/transcript.txt "$pkg"/analysis.json "$pkg"/email.json
         "$pkg"/email.eml "$pkg"/crm.json "$pkg"/report.html)
  for f in "${files[@]}"; do [ -s "$f" ] || fail "package lacks $f"; done
  python3 "$work/digits.py" "${files[@]}" | tee "$work/after.txt"
  awk '$1 >= 4 {print "FAIL: digits left in " $2; bad=1} END {exit bad}' "$work/after.txt" || fail "digit words survived redaction"
  # the number as digits: a group of it standing alone ("4111 1111"), not four digits inside
  # a longer number (a timing such as "wall_s": 0.0411117 is no card number)
  python3 - "${files[@]}" <<'PY' || fail "the number as digits"
import re, sys
bad = [p for p in sys.argv[1:]
       if re.search(r"(?<![0-9.])(4111|1111)(?![0-9])", open(p, encoding="utf-8", errors="replace").read())]
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
  for f in "$pkg"/transcript.json "$pkg"/transcript.txt "$pkg"/report.html; do
    grep -q 'REDACTED:card' "$f" || fail "no [REDACTED:card] marker in $f"
  done
  python3 - "$pkg/transcript.json" <<'PY' || fail "transcript meta.redaction"
import json, sys
d = json.load(open(sys.argv[1]))
r = d["meta"]["redaction"]
assert r["counts"]["card"] >= 1 and "card" in r["classes"], r
assert r["spans"] and all(s["end"] > s["start"] >= 0 for s in r["spans"]), r
for u in d["utterances"]:
    for w in u["words"]:
        if w["w"].startswith("[REDACTED"):
            assert w["end"] > w["start"], w
PY

  echo "== serve --redact all: the stage workers redact before analysis, email and CRM"
  sdata="$work/sdata"
  KEY=$("$SDRA" keys create --data "$sdata" --name redactor --scope write)
  "$SDRA" serve --listen 127.0.0.1:0 --data "$sdata" --port-file "$work/serve.port" --redact all \
      --log-level warn 2>"$work/serve.log" &
  spid=$!
  trap 'kill $spid 2>/dev/null || true; [ -z "${2:-}" ] && rm -rf "$work"' EXIT
  for _ in $(seq 1 100); do [ -s "$work/serve.port" ] && break; sleep 0.1; done
  [ -s "$work/serve.port" ] || fail "serve did not start: $(cat "$work/serve.log")"
  B="http://127.0.0.1:$(cat "$work/serve.port")"
  id=$(curl -sf -H "Authorization: Bearer $KEY" -F "audio=@$work/call.wav;type=audio/wav" \
         -F contact_email=jordan@northwind.example -F rep_name=Alex -F call_date=2026-11-24 "$B/v1/calls" |
       python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') || fail "upload refused"
  curl -sN --max-time 600 -H "Authorization: Bearer $KEY" "$B/v1/calls/$id/events" > "$work/events" || true
  grep -q '^event: done' "$work/events" || fail "the call did not finish: $(tail -3 "$work/events")"
  for a in transcript analysis email crm report; do
    curl -sf -H "Authorization: Bearer $KEY" "$B/v1/calls/$id/$a" > "$work/srv-$a" || fail "GET $a"
  done
  python3 "$work/digits.py" "$work"/srv-* | tee "$work/srv.txt"
  awk '$1 >= 4 {print "FAIL: digits left in " $2; bad=1} END {exit bad}' "$work/srv.txt" || fail "serve kept digit words"
  grep -q 'REDACTED:card' "$work/srv-transcript" || fail "no [REDACTED:card] in the server's transcript"
  kill $spid; wait $spid 2>/dev/null || true

  echo "== audio: the spans are silence in the copy, untouched elsewhere"
  "$SDRA" redact "$pkg/transcript.json" --audio "$work/call.wav" --audio-out "$work/red.wav" -o "$work/t2.json"
  "$SDRA" redact "$pkg/transcript.json" --audio "$work/call.wav" --audio-out "$work/tone.wav" --tone --quiet -o "$work/t3.json"
  python3 - "$work/call.wav" "$work/red.wav" "$work/tone.wav" "$pkg/transcript.json" <<'PY' || fail "audio redaction"
import array, json, math, sys, wave
def load(p):
    w = wave.open(p)
    assert w.getsampwidth() == 2 and w.getnchannels() == 1 and w.getframerate() == 16000, p
    return array.array("h", w.readframes(w.getnframes()))
orig, red, tone = (load(p) for p in sys.argv[1:4])
assert len(orig) == len(red) == len(tone), (len(orig), len(red))
def rms(x, a, b):
    a, b = int(a * 16000), int(b * 16000)
    s = x[a:b]
    return math.sqrt(sum(v * v for v in s) / max(1, len(s)))
spans = json.load(open(sys.argv[4]))["meta"]["redaction"]["spans"]
assert spans
for s in spans:
    a, b = s["start"], s["end"]
    print("span %.2f-%.2f: rms original %.0f, redacted %.0f, tone %.0f" % (a, b, rms(orig, a, b), rms(red, a, b), rms(tone, a, b)))
    assert rms(orig, a, b) > 300, "the original has speech there"
    assert rms(red, a - 0.15, b + 0.15) == 0, "silenced (with the padding)"
    assert 2000 < rms(tone, a, b) < 2600, "a -20 dBFS tone"
first = spans[0]["start"] - 0.2
assert first > 1 and red[: int(first * 16000)] == orig[: int(first * 16000)], "audio before the span untouched"
PY
else
  echo "NOTE: the recogniser did not hear the digits (longest run $recognised); checking a text transcript instead"
fi

echo "== every class through sdra redact on a text transcript"
cat > "$work/call.txt" <<'EOF'
Alex: Can I take a card number and a phone number?
Jordan: Sure, my card is four one one one one one one one one one one one one one one one.
Jordan: Call me on five five five, one two three, four five six seven, or (555) 987-6543.
Alex: And your email and date of birth?
Jordan: jordan at northwind dot com, and I was born on March 4, 1985. SSN 123-45-6789.
Jordan: Routing number 021000021, IBAN GB82 WEST 1234 5698 7654 32.
Alex: Great, that is two thousand seats at twelve dollars, starting 2026-12-01.
EOF
"$SDRA" redact "$work/call.txt" --format text -o "$work/call.red.txt" 2> "$work/summary.txt"
cat "$work/call.red.txt" "$work/summary.txt"
for m in card phone email dob national_id bank; do
  grep -q "\[REDACTED:$m\]" "$work/call.red.txt" || fail "no $m marker"
done
grep -q "redacted 8 values (card 1, national_id 1, phone 2, email 1, bank 2, dob 1)" "$work/summary.txt" || fail "summary counts"
grep -q "two thousand seats at twelve dollars, starting 2026-12-01" "$work/call.red.txt" || fail "non-PII numbers changed"
if grep -Eiq "4111|one one one|987-6543|northwind|1985|6789|021000021|GB82" "$work/call.red.txt"; then fail "raw value left"; fi
# class selection and plain markers
"$SDRA" redact "$work/call.txt" --format text --classes phone --marker plain --quiet > "$work/phone.txt"
grep -q "four one one one one" "$work/phone.txt" || fail "--classes phone redacted the card"
[ "$(grep -o '\[REDACTED\]' "$work/phone.txt" | wc -l)" -eq 2 ] || fail "--classes phone: two plain markers"
# an analysis document and plain text
"$SDRA" analyze "$work/call.txt" --call-date 2026-11-24 -o "$work/a.json"
"$SDRA" redact "$work/a.json" -o "$work/a.red.json" --quiet
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['schema']=='sdra.analysis/1'" "$work/a.red.json" || fail "analysis schema"
if grep -Eiq "4111|one one one one|987-6543|1985" "$work/a.red.json"; then fail "raw value left in analysis"; fi
printf 'Hi, reach me at jordan@northwind.com or +44 20 7946 0958.\n' | "$SDRA" redact --text - --quiet > "$work/text.out"
[ "$(cat "$work/text.out")" = "Hi, reach me at [REDACTED:email] or [REDACTED:phone]." ] || fail "--text: $(cat "$work/text.out")"

echo "== output to a pipe is written through, never replaced by a file (issue 14, finding 0)"
mkfifo "$work/fifo"
cat "$work/fifo" > "$work/fifo.out" &
"$SDRA" redact --text "$work/call.txt" --quiet -o "$work/fifo"
wait
[ -p "$work/fifo" ] || fail "the FIFO was replaced"
grep -q "REDACTED:card" "$work/fifo.out" || fail "nothing came through the FIFO"
mkdir "$work/adir"
if "$SDRA" redact --text "$work/call.txt" --quiet -o "$work/adir" 2> /dev/null; then fail "-o a directory accepted"; fi

echo "== bad input: one clear line, non-zero exit"
set +e
"$SDRA" redact "$work/missing.json" 2> "$work/err1"; rc1=$?
"$SDRA" redact "$work/call.txt" --classes card,passport 2> "$work/err2"; rc2=$?
"$SDRA" redact "$work/call.txt" --audio "$work/call.wav" 2> "$work/err3"; rc3=$?
"$SDRA" redact "$work/call.txt" --audio "$work/call.txt" --audio-out "$work/x.wav" > "$work/out4" 2> "$work/err4"; rc4=$?
"$SDRA" run "$work/call.wav" --redact cards --out "$work/o2" 2> "$work/err5"; rc5=$?
set -e
[ $rc1 -eq 1 ] && [ "$(wc -l < "$work/err1")" -eq 1 ] && grep -q missing.json "$work/err1" || fail "missing input: rc $rc1 $(cat "$work/err1")"
[ $rc2 -eq 2 ] && grep -q passport "$work/err2" || fail "bad class: rc $rc2 $(cat "$work/err2")"
[ $rc3 -eq 2 ] || fail "--audio without --audio-out: rc $rc3"
[ $rc4 -eq 1 ] && [ "$(wc -l < "$work/err4")" -eq 1 ] && [ ! -e "$work/x.wav" ] && [ ! -s "$work/out4" ] || fail "not audio: rc $rc4 $(cat "$work/err4")"
[ $rc5 -eq 2 ] && grep -q "cards" "$work/err5" || fail "run --redact bad class: rc $rc5"
echo "redact_cli: ok"
