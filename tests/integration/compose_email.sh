#!/usr/bin/env bash
# compose_email.sh - `sdra compose` end to end: the .eml must parse with Python's email package
# in strict policy (multipart structure, headers, RFC 2047 names, line lengths, CRLF), its text
# must name the contact, quote a pain point, answer every objection and list the action items
# with the right dates; the .ics must have the required properties, CRLF and 75-octet folding.
# Also: every style, re-runs are byte-identical, opt-outs, a user template, and bad input
# (one-line error naming the input, exit 1).
set -u
: "${SDRA:?SDRA must point to the sdra binary}" "${SDRA_SRC:?SDRA_SRC must be the source dir}"
G="$SDRA_SRC/tests/golden/compose"
T=$(mktemp -d "${TMPDIR:-/tmp}/sdra-compose.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
NOW=1795532400

run_ok() { # run_ok OUTDIR args... : compose must succeed
    local out=$1; shift
    if ! "$SDRA" compose "$@" --now "$NOW" --out "$out" >"$T/stdout" 2>"$T/stderr"; then
        fail "sdra compose $* failed: $(cat "$T/stderr")"
        return 1
    fi
}

run_bad() { # run_bad EXPECTED_SUBSTRING args... : compose must fail with one line naming the input
    local want=$1; shift
    "$SDRA" compose "$@" >"$T/stdout" 2>"$T/stderr"
    local rc=$?
    if [ "$rc" -ne 1 ]; then fail "sdra compose $* exited $rc, expected 1"; return; fi
    if [ "$(wc -l <"$T/stderr")" -ne 1 ]; then fail "sdra compose $*: stderr is not one line: $(cat "$T/stderr")"; fi
    grep -qF -- "$want" "$T/stderr" || fail "sdra compose $*: stderr '$(cat "$T/stderr")' lacks '$want'"
}

check_package() { # check_package DIR ANALYSIS STYLE : strict parse + content checks
    python3 - "$1" "$2" "$3" <<'PY' || return 1
import base64, datetime, email, email.policy, json, re, sys
d, analysis_path, style = sys.argv[1:4]
a = json.load(open(analysis_path))
raw = open(f"{d}/email.eml", "rb").read()
errors = []
def check(cond, msg):
    if not cond:
        errors.append(msg)

# wire format: CRLF only, lines <= 78 octets (RFC 5322 recommends 78, requires 998)
check(b"\n" not in raw.replace(b"\r\n", b""), "bare LF or CR in the message")
longest = max(len(l) for l in raw.split(b"\r\n"))
check(longest <= 78, f"a line of {longest} octets")
check(all(b < 128 for b in raw), "8-bit octets in a 7-bit message")

m = email.message_from_bytes(raw, policy=email.policy.strict)
for h in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version"):
    check(m[h] is not None, f"missing {h}")
check(m["MIME-Version"] == "1.0", "MIME-Version")
check(m["Date"].datetime == datetime.datetime(2026, 11, 24, 15, 0, tzinfo=datetime.timezone.utc), "Date")
check(re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", str(m["Message-ID"])) is not None, "Message-ID form")
to = m["To"].addresses[0]
check(to.display_name == "Jordan Lée", f"To display name decoded as {to.display_name!r}")
check(to.addr_spec == "jordan.lee@northwind.example", "To address")
check(m["From"].addresses[0].addr_spec == "alex.kim@acme.example", "From address")
for h in m.defects:
    errors.append(f"defect {h}")

has_meeting = a.get("next_meeting") and not a.get("contact_preferences", {}).get("do_not_call")
parts = [p.get_content_type() for p in m.walk()]
if has_meeting:
    check(parts == ["multipart/mixed", "multipart/alternative", "text/plain", "text/html", "text/calendar"], f"structure {parts}")
else:
    check(parts == ["multipart/alternative", "text/plain", "text/html"], f"structure {parts}")
for p in m.walk():
    if not p.is_multipart():
        check(p["Content-Transfer-Encoding"] in ("quoted-printable", "base64"), f"{p.get_content_type()} CTE")
        check(not p.defects, f"defects in {p.get_content_type()}: {p.defects}")

# Python keeps the wire's CRLF inside decoded bodies; compare text with LF line ends
text = m.get_body(("plain",)).get_content().replace("\r\n", "\n")
html = m.get_body(("html",)).get_content()
check("Jordan" in text, "text does not name the contact")
check("two hours a day typing call notes" in text, "text does not cite a pain point")
check("<html" in html.lower() and "Jordan" in html, "html part")
# objections are noted in the prospect's words; the built-in answers coach the rep (email.json
# "coaching") and promise the prospect nothing
answers = {"price": "ROI", "security": "SOC 2 Type II", "authority": "one-page summary"}
doc0 = json.load(open(f"{d}/email.json"))
coached = {c["type"]: c["point"] for c in doc0.get("coaching", [])}
for o in a.get("objections", []):
    check(o["text"].rstrip(".") in text or o["text"].rstrip(".").replace(",", "") in text, f"objection {o['type']} not noted")
    check(answers[o["type"]] not in text, f"objection {o['type']}: a built-in answer is promised ({answers[o['type']]})")
    check(answers[o["type"]] in coached.get(o["type"], ""), f"objection {o['type']}: no coaching for the rep")
for it in a.get("action_items", []):
    due = datetime.date.fromisoformat(it["due"])
    want = f"{due:%A}, {due:%B} {due.day}"
    line = [l for l in text.splitlines() if l.startswith("- ") and it["text"].lower() in l.lower()]
    check(line and want in line[0], f"action item {it['text']!r} not listed with {want!r}: {line}")

if has_meeting:
    att = [p for p in m.iter_attachments()]
    check(len(att) == 1 and att[0].get_filename() == "invite.ics", "invite attachment")
    check(att[0].get_param("method") == "REQUEST", "text/calendar method=REQUEST")
    check(att[0].get_content().encode() == open(f"{d}/invite.ics", "rb").read(), "attached invite differs from invite.ics")
    ics = open(f"{d}/invite.ics", "rb").read()
    check(ics.endswith(b"\r\n") and b"\n" not in ics.replace(b"\r\n", b""), "ics line ends")
    check(max(len(l) for l in ics.split(b"\r\n")) <= 75, "ics line over 75 octets")
    unfolded = ics.replace(b"\r\n ", b"").decode()
    props = {}
    for l in unfolded.split("\r\n"):
        if l:
            k = re.split(r"[;:]", l, 1)[0]
            props.setdefault(k, []).append(l)
    for k in ("BEGIN", "END", "VERSION", "PRODID", "METHOD", "UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "ORGANIZER", "ATTENDEE"):
        check(k in props, f"ics lacks {k}")
    check(props.get("METHOD") == ["METHOD:REQUEST"], "METHOD")
    nm = a["next_meeting"]
    start = nm["date"].replace("-", "") + "T" + nm["time"].replace(":", "") + "00"
    check(props.get("DTSTART") == [f"DTSTART:{start}"], f"DTSTART {props.get('DTSTART')}")
    check(props.get("BEGIN") == ["BEGIN:VCALENDAR", "BEGIN:VEVENT"], "BEGIN order")
    check("mailto:jordan.lee@northwind.example" in props["ATTENDEE"][0], "ATTENDEE")
    check('CN="Jordan Lée"' in props["ATTENDEE"][0], "ATTENDEE CN")

doc = json.load(open(f"{d}/email.json"))
check(doc["schema"] == "sdra.email/1" and doc["skipped"] is None, "email.json schema/skipped")
check(doc["style"] == style, "email.json style")
check(doc["subject"] == str(m["Subject"]), "email.json subject differs from the message")
check(doc["text"] == text, "email.json text differs from the text part")
check(doc["to"][0]["email"] == to.addr_spec, "email.json to")
check([x["name"] for x in doc["attachments"]] == (["invite.ics"] if has_meeting else []), "email.json attachments")
if errors:
    print(f"{d} ({style}):\n  " + "\n  ".join(errors))
    sys.exit(1)
PY
}

# 1. every style, with a meeting: strict parse and content
for style in formal friendly concise consultative; do
    run_ok "$T/$style" "$G/analysis.json" --call "$G/call.json" --style "$style" || continue
    for f in email.json email.eml invite.ics; do
        [ -s "$T/$style/$f" ] || fail "$style: $f missing"
        grep -qF "$T/$style/$f" "$T/stdout" || fail "$style: stdout does not say where $f went"
    done
    check_package "$T/$style" "$G/analysis.json" "$style" || fail "$style: package checks"
done

# 2. a re-run gives byte-identical files (Message-ID, UID, boundaries from the call id)
run_ok "$T/again" "$G/analysis.json" --call "$G/call.json" --style friendly &&
    for f in email.eml invite.ics email.json; do
        cmp -s "$T/friendly/$f" "$T/again/$f" || fail "re-run: $f differs"
    done

# 3. metadata from options instead of call.json
run_ok "$T/opts" "$G/analysis.json" --contact-email jordan.lee@northwind.example \
    --contact-name "Jordan Lée" --company "Northwind Traders" --rep-name "Alex Kim" \
    --rep-email alex.kim@acme.example --call-id golden-call-0001 --style friendly &&
    { check_package "$T/opts" "$G/analysis.json" friendly || fail "options: package checks"; }

# 4. opt-outs
python3 - "$G/analysis.json" "$T" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
a["contact_preferences"] = {"do_not_call": False, "do_not_email": True}
json.dump(a, open(sys.argv[2] + "/no_email.json", "w"))
a["contact_preferences"] = {"do_not_call": True, "do_not_email": False}
json.dump(a, open(sys.argv[2] + "/no_call.json", "w"))
b = {"schema": "sdra.transcript/1"}
json.dump(b, open(sys.argv[2] + "/wrong_schema.json", "w"))
PY
mkdir -p "$T/noemail" && echo stale >"$T/noemail/email.eml" && echo stale >"$T/noemail/invite.ics"
if run_ok "$T/noemail" "$T/no_email.json" --call "$G/call.json"; then
    [ -e "$T/noemail/email.eml" ] && fail "do_not_email: email.eml written (or stale one kept)"
    [ -e "$T/noemail/invite.ics" ] && fail "do_not_email: invite.ics written (or stale one kept)"
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["skipped"]=="contact asked not to be emailed", d' \
        "$T/noemail/email.json" || fail "do_not_email: email.json does not say why"
    grep -q "no email: contact asked not to be emailed" "$T/stdout" || fail "do_not_email: not reported"
fi
for style in formal friendly concise consultative; do
    run_ok "$T/nocall-$style" "$T/no_call.json" --call "$G/call.json" --style "$style" || continue
    [ -e "$T/nocall-$style/invite.ics" ] && fail "do_not_call ($style): invite written"
    check_package "$T/nocall-$style" "$T/no_call.json" "$style" || fail "do_not_call ($style): package checks"
    python3 - "$T/nocall-$style/email.json" <<'PY' || fail "do_not_call ($style): email proposes a call or meeting"
import json, re, sys
t = json.load(open(sys.argv[1]))["text"]
bad = [p for p in (r"\bcall\?", r"minutes", r"working session", r"December 1", r"invite", r"meet ") if re.search(p, t)]
sys.exit(1 if bad else 0)
PY
done

# 5. a user template
cat >"$T/mine.tmpl" <<'EOF'
{{! a user template }}
--- subject ---
Notes for {{contact.first_name}}
--- text ---
{{#pain_points}}
* {{text}}
{{/pain_points}}
EOF
if run_ok "$T/mine" "$G/analysis.json" --call "$G/call.json" --template "$T/mine.tmpl"; then
    python3 - "$T/mine/email.eml" <<'PY' || fail "user template output"
import email, email.policy, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.strict)
assert m["Subject"] == "Notes for Jordan", m["Subject"]
t = m.get_body(("plain",)).get_content().replace("\r\n", "\n")
assert t == "* our reps spend two hours a day typing call notes into the CRM\n* new hires take three months to ramp up\n", repr(t)
assert m.get_body(("html",)) is not None
PY
fi

# 6. bad input: one line naming the input, exit 1
run_bad "$T/missing.json" "$T/missing.json"
printf '{"schema": "sdra.analysis/1",\n  "objections": [\n' >"$T/broken.json"
run_bad "$T/broken.json:" "$T/broken.json"
run_bad "schema" "$T/wrong_schema.json"
printf -- '--- subject ---\nS\n--- text ---\nhello\n{{#pain_points}}\n{{text}}\n' >"$T/bad.tmpl"
run_bad "$T/bad.tmpl:5: unclosed section 'pain_points'" "$G/analysis.json" --template "$T/bad.tmpl"
printf -- '--- subject ---\nS\n--- text ---\n{{#a}}{{/b}}\n' >"$T/bad2.tmpl"
run_bad "$T/bad2.tmpl:4: mismatched close" "$G/analysis.json" --template "$T/bad2.tmpl"
printf -- '--- subject ---\nS\n--- text ---\nHi {{name\n' >"$T/bad3.tmpl"
run_bad "$T/bad3.tmpl:4: unclosed tag" "$G/analysis.json" --template "$T/bad3.tmpl"
run_bad "$T/nope.tmpl" "$G/analysis.json" --template "$T/nope.tmpl"
run_bad "style" "$G/analysis.json" --style sarcastic
run_bad "contact_email" "$G/analysis.json" --contact-email "not-an-address"
echo "a file" >"$T/afile"
run_bad "$T/afile" "$G/analysis.json" --out "$T/afile/sub"
run_bad "$T/missing-call.json" "$G/analysis.json" --call "$T/missing-call.json"

if [ "$fails" -ne 0 ]; then
    echo "compose_email: $fails failure(s)"
    exit 1
fi
echo "compose_email: all checks passed"
