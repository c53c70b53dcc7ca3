#!/usr/bin/env bash
# End to end: `sdra run` on the generated discovery and opt-out calls produces the whole
# follow-up package, the email answers what the analysis found, the .eml is valid MIME (Python's
# strict parser), the CRM holds one contact / activity and the tasks and still one of each after
# a re-run, and an opt-out call pushes no meeting and sets the flag. Bad input fails clearly.
# ctest-labels: slow
set -euo pipefail
: "${SDRA:?}" "${SDRA_FIXTURES:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

common=(--rep-name Alex --rep-email alex@brightwave.example --rep-company Brightwave
        --call-date 2026-11-24 --rep-channel left --jobs 2 --out "$work/out" --data "$work/data")

echo "== discovery call"
"$SDRA" run "$SDRA_FIXTURES/discovery.stereo.wav" --contact-email Jordan.Lee@northwind.example \
  --contact-name "Jordan Lee" --company "Northwind Logistics" --style friendly "${common[@]}" --quiet \
  > "$work/run1.txt"
cat "$work/run1.txt"
pkg=$(ls -d "$work"/out/discovery-*/)
for f in call.json transcript.json transcript.txt analysis.json email.json email.eml invite.ics crm.json report.html; do
  [ -s "$pkg/$f" ] || fail "package lacks $f"
done
grep -q "package: " "$work/run1.txt" || fail "no summary printed"

crm() { "$SDRA" crm "$1" --data "$work/data" --format json; }
crm contacts > "$work/contacts1.json"; crm activities > "$work/act1.json"; crm tasks > "$work/tasks1.json"

python3 - "$pkg" "$work" <<'PY'
import email, email.policy, json, re, sys
pkg, work = sys.argv[1], sys.argv[2]
def load(name): return json.load(open(pkg + name))
a, e = load("analysis.json"), load("email.json")
text = e["text"]
def fail(msg): sys.exit("FAIL: " + msg)
# the email names the contact
if "Jordan" not in text: fail("email does not name the contact")
# it cites a pain point in the prospect's own words
pains = [p["text"] for p in a.get("pain_points", [])]
if not pains: fail("analysis found no pain point in the discovery call")
norm = lambda s: re.sub(r"\s+", " ", s.lower())
if not any(norm(p) in norm(text) for p in pains): fail("email cites no pain point: %r" % pains)
# every detected objection is answered; the scripted price and authority objections are found
types = sorted({o["type"] for o in a.get("objections", [])})
for t in ("price", "authority"):
    if t not in types: fail("objection %s not detected (found %s)" % (t, types))
answered = set(e["personalization"]["objections"])
if set(types) - answered: fail("objections not answered: %s" % (set(types) - answered))
# action items with the right dates: the rep's promise "by Thursday" -> 2026-11-26
acts = a.get("action_items", [])
cs = [x for x in acts if "case study" in x["text"].lower()]
if not cs or cs[0]["owner"] != "rep" or cs[0].get("due") != "2026-11-26":
    fail("case-study promise not found with due 2026-11-26: %r" % acts)
if "November 26" not in text: fail("email does not list the Thursday due date")
import datetime
def long_date(d):
    x = datetime.date.fromisoformat(d)
    return "%s, %s %d" % (x.strftime("%A"), x.strftime("%B"), x.day)
# every dated action item is listed with its date (the promise to send the invite is kept by
# the attached invite itself, so compose does not list it)
# Items are in the email's voice: what the prospect said ("check my calendar") is written to
# them ("you'll check your calendar").
voice = {"my": "your", "i": "you", "me": "you", "our": "your", "we": "you", "us": "you"}
def email_voice(x):
    t = x["text"].lower()
    return " ".join(voice.get(w, w) for w in t.split()) if x.get("role") == "prospect" else t
for x in acts:
    if not x.get("due") or "calendar invite" in x["text"].lower(): continue
    if email_voice(x) not in norm(text): fail("action item missing from email: %r" % x["text"])
    if long_date(x["due"]) not in text: fail("due date %s of %r not in email" % (long_date(x["due"]), x["text"]))
# the rep's promise the analysis does not list is kept; offers the rep never made are not
if "bring one of our engineers" not in norm(text): fail("the rep's promise to bring an engineer is missing")
for w in ("pilot", "one-page summary", "discount", "pay for itself"):
    if w in norm(text): fail("email makes an offer the rep never made: %r" % w)
# the agreed meeting: Tuesday afternoon, two pm -> 2026-12-01 14:00, with an invite
m = a.get("next_meeting")
if not m or m.get("date") != "2026-12-01" or m.get("time") != "14:00": fail("next meeting wrong: %r" % m)
ics = open(pkg + "invite.ics", "rb").read()
if b"DTSTART" not in ics or b"20261201T140000" not in ics or b"\r\n" not in ics: fail("invite.ics wrong")
# the .eml parses as valid MIME under the strict policy
msg = email.message_from_bytes(open(pkg + "email.eml", "rb").read(), policy=email.policy.strict)
if msg.defects: fail("MIME defects: %r" % msg.defects)
kinds = [p.get_content_type() for p in msg.walk()]
for k in ("multipart/mixed", "multipart/alternative", "text/plain", "text/html", "text/calendar"):
    if k not in kinds: fail("eml lacks %s: %s" % (k, kinds))
if "jordan.lee@northwind.example" not in str(msg["To"]).lower(): fail("eml To: %s" % msg["To"])
body = msg.get_body(("plain",)).get_content()
if "Jordan" not in body: fail("eml text part does not name the contact")
# the CRM after one run
c = json.load(open(work + "/contacts1.json")); act = json.load(open(work + "/act1.json")); tk = json.load(open(work + "/tasks1.json"))
if len(c) != 1 or len(act) != 1: fail("CRM holds %d contacts, %d activities" % (len(c), len(act)))
# the CRM's tasks are compose's task list (the rep's words: "send it to my work email" resolved,
# "check my calendar" -> "check their calendar", the engineer the analysis missed) and the meeting
want = sorted((x["owner"], x["text"], x.get("due")) for x in e.get("tasks", []))
got = sorted((x["owner"], x["text"], x.get("due_date")) for x in tk if x.get("kind") == "action")
if not want or got != want: fail("CRM tasks %r are not email.json's tasks %r" % (got, want))
if sum(1 for x in tk if x.get("kind") == "meeting") != 1: fail("no meeting task: %r" % tk)
texts = " | ".join(x["text"].lower() for x in e["tasks"])
for w in ("check their calendar", "to their work email", "bring one of our engineers"):
    if w not in texts: fail("task list lacks %r: %s" % (w, texts))
if " my " in " %s " % texts.replace("|", " "): fail("a task keeps the prospect's 'my': %s" % texts)
print("discovery: objections %s, %d action items, %d pain points, meeting %s %s" % (types, len(acts), len(pains), m["date"], m["time"]))
PY

echo "== second run: resumes (nothing redone) and re-syncing duplicates nothing"
"$SDRA" run "$SDRA_FIXTURES/discovery.stereo.wav" --contact-email Jordan.Lee@northwind.example \
  --contact-name "Jordan Lee" --company "Northwind Logistics" --style friendly "${common[@]}" \
  2> "$work/run2.err" >/dev/null
grep -c "current, skipped" "$work/run2.err" | grep -qx 5 || { cat "$work/run2.err"; fail "second run did not resume"; }
rm "$pkg/crm.json"   # force the sync stage (and the report) to run again on the same CRM
"$SDRA" run "$SDRA_FIXTURES/discovery.stereo.wav" --contact-email Jordan.Lee@northwind.example \
  --contact-name "Jordan Lee" --company "Northwind Logistics" --style friendly "${common[@]}" --quiet >/dev/null
crm contacts > "$work/contacts2.json"; crm activities > "$work/act2.json"; crm tasks > "$work/tasks2.json"
for k in contacts act tasks; do
  python3 -c "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); sys.exit(0 if len(a)==len(b) else 1)" \
    "$work/${k}1.json" "$work/${k}2.json" || fail "re-sync changed the number of $k"
done

echo "== opt-out call"
"$SDRA" run "$SDRA_FIXTURES/optout.stereo.wav" --contact-email sam.rivera@example.org \
  --contact-name "Sam Rivera" --company "Rivera Supply" "${common[@]}" --quiet >/dev/null
opk=$(ls -d "$work"/out/optout-*/)
crm contacts > "$work/contacts3.json"; crm tasks > "$work/tasks3.json"
python3 - "$opk" "$work" <<'PY'
import json, sys
pkg, work = sys.argv[1], sys.argv[2]
def fail(msg): sys.exit("FAIL: " + msg)
a = json.load(open(pkg + "analysis.json")); e = json.load(open(pkg + "email.json"))
if not a["contact_preferences"]["do_not_call"]: fail("do_not_call not detected")
if a.get("next_meeting"): fail("opt-out call has a next meeting: %r" % a["next_meeting"])
import os
if os.path.exists(pkg + "invite.ics"): fail("opt-out call got an invite")
if not e.get("skipped"):
    if e["personalization"]["can_call"]: fail("email to an opted-out contact proposes a call")
    low = e["text"].lower()
    for phrase in ("quick call", "calendar invite", "hop on a call", "schedule a call"):
        if phrase in low: fail("email pushes a call: %r" % phrase)
c = [x for x in json.load(open(work + "/contacts3.json")) if x["email"] == "sam.rivera@example.org"]
if len(c) != 1 or not c[0]["do_not_call"]: fail("CRM contact lacks the do-not-call flag: %r" % c)
t = [x for x in json.load(open(work + "/tasks3.json")) if "meeting" in json.dumps(x).lower() and "sam.rivera" in json.dumps(x).lower()]
if t: fail("meeting task for an opted-out contact: %r" % t)
print("opt-out: do_not_call set, no meeting push")
PY

echo "== bad input"
expect_fail() { # expected-exit message-regex command...
  local want=$1 re=$2; shift 2
  set +e; "$@" > "$work/bad.out" 2> "$work/bad.err"; local rc=$?; set -e
  [ "$rc" = "$want" ] || { cat "$work/bad.err"; fail "'$*' exited $rc, want $want"; }
  [ "$(wc -l < "$work/bad.err")" -ge 1 ] && grep -Eq "$re" "$work/bad.err" || { cat "$work/bad.err"; fail "'$*': message does not match /$re/"; }
}
expect_fail 1 "nosuch.wav" "$SDRA" run "$work/nosuch.wav" --out "$work/out" --data "$work/data" --quiet
echo "not audio" > "$work/notes.wav"
expect_fail 1 "notes.wav" "$SDRA" run "$work/notes.wav" --out "$work/out2" --data "$work/data" --quiet
expect_fail 1 "stage transcribe" "$SDRA" run "$work/notes.wav" --out "$work/out2" --data "$work/data" --quiet
touch "$work/afile"
expect_fail 1 "afile" "$SDRA" run "$SDRA_FIXTURES/short.stereo.wav" --out "$work/afile/x" --data "$work/data" --quiet
expect_fail 2 "call-date" "$SDRA" run "$SDRA_FIXTURES/short.stereo.wav" --call-date 2026-13-45 --out "$work/out" --quiet
expect_fail 2 "contact-email" "$SDRA" run "$SDRA_FIXTURES/short.stereo.wav" --contact-email nobody --quiet
expect_fail 2 "AUDIO" "$SDRA" run --quiet
echo '{"schema": "sdra.analysis/1", "objections": [' > "$work/bad.json"
expect_fail 1 "bad.json" "$SDRA" compose "$work/bad.json" --out "$work/c"
printf -- '--- subject ---\nHi {{#x}}\n--- text ---\nbody\n--- html ---\n<p>b</p>\n' > "$work/bad.tmpl"
expect_fail 1 "bad.tmpl" "$SDRA" compose "$pkg/analysis.json" --template "$work/bad.tmpl" --out "$work/c"
echo "e2e: all checks passed"
