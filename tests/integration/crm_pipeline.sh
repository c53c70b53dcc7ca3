#!/usr/bin/env bash
# crm_pipeline.sh - from real speech to the CRM: `sdra run` on the generated opt-out call (the
# prospect says "don't call me again", email is fine) must set the contact's do-not-call flag,
# create no meeting task, log the call once, and write a report with the compliance banner.
# Re-syncing the package changes no counts; a later call of the same contact that says nothing
# about preferences keeps the flag (sticky) and still gets no meeting task.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
FIX=${SDRA_FIXTURES:?SDRA_FIXTURES must name the generated calls}
AUDIO="$FIX/optout.stereo.wav"
[ -f "$AUDIO" ] || { echo "FAIL: fixture $AUDIO missing" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/crm_pipeline.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$SDRA" run "$AUDIO" --contact-email Dana@Northwind.example --contact-name "Dana Smith" \
  --company Northwind --rep-name Alex --rep-company Brightwave --call-date 2026-11-24 \
  --jobs 2 --out "$T/out" --data "$T/data" --quiet > "$T/run.log" 2>&1
rc=$?; [ $rc -eq 0 ] || { cat "$T/run.log" >&2; fail "sdra run exited $rc"; }
PKG=$(dirname "$(ls "$T"/out/*/crm.json | head -1)")
[ -f "$PKG/crm.json" ] || fail "no crm.json in the package"

python3 - "$PKG" <<'PY' || fail "crm.json after the opt-out call"
import json, sys, os
p = sys.argv[1]
a = json.load(open(os.path.join(p, "analysis.json")))
c = json.load(open(os.path.join(p, "crm.json")))
assert a["contact_preferences"]["do_not_call"] is True, ("analysis missed the opt-out", a["contact_preferences"])
assert c["schema"] == "sdra.crm/1"
assert c["contact"]["email"] == "dana@northwind.example", c["contact"]
assert c["contact"]["do_not_call"] is True, c["contact"]
assert all(t["kind"] != "meeting" for t in c["tasks"]), c["tasks"]
assert any(n["key"] == "contact_preferences" for n in c["notes"]), c["notes"]
PY

count() { "$SDRA" crm "$1" --data "$T/data" --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
before="$(count contacts) $(count activities) $(count tasks) $(count emails)"
"$SDRA" crm sync "$PKG" --data "$T/data" > /dev/null || fail "re-sync exited $?"
"$SDRA" run "$AUDIO" --contact-email Dana@Northwind.example --contact-name "Dana Smith" \
  --company Northwind --rep-name Alex --rep-company Brightwave --call-date 2026-11-24 \
  --jobs 2 --out "$T/out" --data "$T/data" --quiet > "$T/run2.log" 2>&1
rc=$?; [ $rc -eq 0 ] || { cat "$T/run2.log" >&2; fail "second sdra run exited $rc"; }
after="$(count contacts) $(count activities) $(count tasks) $(count emails)"
[ "$before" = "$after" ] || fail "re-running changed the CRM counts: $before -> $after"
case "$before" in "1 1 "*) ;; *) fail "expected one contact and one activity, got: $before" ;; esac
"$SDRA" crm contacts --data "$T/data" --format json | python3 -c '
import json, sys
c = json.load(sys.stdin)[0]
assert c["do_not_call"] is True and c["name"] == "Dana Smith", c' || fail "contact row"

# The report says it too.
grep -q "asked not to be called" "$PKG/report.html" || fail "report has no compliance banner"
grep -q "<svg" "$PKG/report.html" || fail "report has no sentiment chart"
grep -qi "<script" "$PKG/report.html" && fail "report contains a script element"

# A later call with the same contact that agrees a meeting and says nothing about calls.
P2="$T/later"; mkdir -p "$P2"
python3 - "$PKG" "$P2" <<'PY' || fail "building the later call"
import json, sys, os
src, dst = sys.argv[1], sys.argv[2]
call = json.load(open(os.path.join(src, "call.json"))); call["id"] = "later-call-1"
json.dump(call, open(os.path.join(dst, "call.json"), "w"))
a = json.load(open(os.path.join(src, "analysis.json")))
a["contact_preferences"] = {"do_not_call": False, "do_not_email": False}
a["next_meeting"] = {"date": "2026-12-01", "time": "10:00", "part_of_day": "morning"}
json.dump(a, open(os.path.join(dst, "analysis.json"), "w"))
PY
"$SDRA" crm sync "$P2" --data "$T/data" > /dev/null || fail "later sync exited $?"
python3 - "$P2/crm.json" <<'PY' || fail "later call's crm.json"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["contact"]["status"] == "updated" and c["contact"]["do_not_call"] is True, c["contact"]
assert all(t["kind"] != "meeting" for t in c["tasks"]), c["tasks"]
assert any(s["what"] == "meeting_task" for s in c["skipped"]), c["skipped"]
PY
[ "$(count contacts)" = 1 ] || fail "the later call duplicated the contact"
echo "crm_pipeline: ok"
