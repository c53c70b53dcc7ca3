#!/usr/bin/env bash
# crm_pipeline.sh - analysis -> email -> CRM with the real stages, on the words of the generated
# opt-out call (its reference transcript, so no speech recognition is needed here; e2e_run.sh
# covers the path from audio). The prospect says "don't call me again", email is fine: the
# contact's do-not-call flag must be set, no meeting task created, a compliance note written,
# the email still scheduled. Re-syncing changes no counts; a later call of the same contact
# that agrees a meeting and says nothing about calls keeps the flag (sticky) and gets no
# meeting task.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
FIX=${SDRA_FIXTURES:?SDRA_FIXTURES must name the generated calls}
REF="$FIX/optout.ref.json"
[ -f "$REF" ] || { echo "FAIL: fixture $REF missing" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/crm_pipeline.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

P="$T/pkg"; mkdir -p "$P"
python3 - "$REF" "$P" <<'PY' || fail "building the package from $REF"
import json, sys, os
ref, pkg = json.load(open(sys.argv[1])), sys.argv[2]
ids = {s["id"]: "S%d" % (i + 1) for i, s in enumerate(ref["speakers"])}
t = {"schema": "sdra.transcript/1", "duration": ref["duration_s"],
     "speakers": [{"id": ids[s["id"]], "role": s["role"], "channel": s.get("channel")} for s in ref["speakers"]],
     "utterances": [{"speaker": ids[u["speaker"]], "start": u["start_s"], "end": u["end_s"], "text": u["text"], "words": []}
                    for u in ref["turns"]]}
json.dump(t, open(os.path.join(pkg, "transcript.json"), "w"))
call = {"schema": "sdra.call/1", "id": "optout-ref-1", "call_date": "2026-11-24", "audio": "optout.stereo.wav",
        "contact_email": "Dana@Northwind.example", "contact_name": "Dana Smith", "company": "Northwind",
        "rep_name": "Alex", "rep_email": "alex@brightwave.example", "rep_company": "Brightwave", "direction": "outbound"}
json.dump(call, open(os.path.join(pkg, "call.json"), "w"))
PY
"$SDRA" analyze "$P/transcript.json" --call-date 2026-11-24 --rep-name Alex -o "$P/analysis.json" \
  || fail "sdra analyze exited $?"
"$SDRA" compose "$P/analysis.json" --call "$P/call.json" --transcript "$P/transcript.json" --out "$P" > /dev/null \
  || fail "sdra compose exited $?"
"$SDRA" crm sync "$P" --data "$T/data" > /dev/null || fail "sdra crm sync exited $?"

python3 - "$P" <<'PY' || fail "crm.json after the opt-out call"
import json, sys, os
p = sys.argv[1]
a = json.load(open(os.path.join(p, "analysis.json")))
e = json.load(open(os.path.join(p, "email.json")))
c = json.load(open(os.path.join(p, "crm.json")))
assert a["contact_preferences"]["do_not_call"] is True, ("analysis missed the opt-out", a["contact_preferences"])
assert c["schema"] == "sdra.crm/1"
assert c["contact"]["email"] == "dana@northwind.example", c["contact"]
assert c["contact"]["do_not_call"] is True, c["contact"]
assert all(t["kind"] != "meeting" for t in c["tasks"]), c["tasks"]
assert any(n["key"] == "contact_preferences" for n in c["notes"]), c["notes"]
if e.get("skipped"):   # composing may still decide not to email; then nothing is scheduled
    assert c["emails"] == [], c["emails"]
else:                  # "email is fine": the follow-up is scheduled under compose's Message-ID
    assert len(c["emails"]) == 1 and c["emails"][0]["message_id"] == e["message_id"], (c["emails"], e.get("message_id"))
PY

count() { "$SDRA" crm "$1" --data "$T/data" --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
before="$(count contacts) $(count activities) $(count tasks) $(count emails) $(count notes)"
"$SDRA" crm sync "$P" --data "$T/data" > /dev/null || fail "re-sync exited $?"
"$SDRA" crm sync "$P" --data "$T/data" > /dev/null || fail "third sync exited $?"
after="$(count contacts) $(count activities) $(count tasks) $(count emails) $(count notes)"
[ "$before" = "$after" ] || fail "re-syncing changed the CRM counts: $before -> $after"
case "$before" in "1 1 "*) ;; *) fail "expected one contact and one activity, got: $before" ;; esac
"$SDRA" crm contacts --data "$T/data" --format json | python3 -c '
import json, sys
c = json.load(sys.stdin)[0]
assert c["do_not_call"] is True and c["name"] == "Dana Smith", c' || fail "contact row"

# A later call with the same contact that agrees a meeting and says nothing about calls.
P2="$T/later"; mkdir -p "$P2"
python3 - "$P" "$P2" <<'PY' || fail "building the later call"
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
[ "$(count activities)" = 2 ] || fail "the later call was not logged as its own activity"
echo "crm_pipeline: ok"
