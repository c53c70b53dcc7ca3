#!/usr/bin/env bash
# crm_hubspot.sh - `sdra crm sync --backend hubspot` against the HubSpot stand-in
# (tests/servers/hubspot.py): custom properties created on first use; a package synced three
# times with two kill -9 inside the sync gives exactly one contact, one call, one meeting, one
# note, one email and N tasks, each associated with the contact once; the owner is mapped by
# the rep's email; 429 with Retry-After is waited out; an expired token is refreshed; wrong
# credentials, a 400 naming a field, a deleted owner (404) and a 409 are one clear line and a
# non-zero exit, and the token never shows; opt-out and erasure.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
SRC=${SDRA_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup crm_hubspot

python3 "$SRC/tests/servers/hubspot.py" --port-file "$T/port" --token hs-token-ok --refresh-token rt-secret-1 \
  --client-id cid-1 --client-secret csecret-1 2>"$T/server.log" & PIDS+=($!)
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || fail "the HubSpot stand-in did not start"
H="http://127.0.0.1:$(cat "$T/port")"
export SDRA_HUBSPOT_URL="$H" SDRA_HUBSPOT_TOKEN=hs-token-ok
ctl() { curl -sf -X POST -H 'Content-Type: application/json' -d "$1" "$H/__control" -o "$T/ctl.json" || fail "control $1"; }
dump() { curl -sf "$H/__dump" > "$T/dump.json" || fail "dump"; }

P="$T/pkg"; mkdir -p "$P"
cat > "$P/call.json" <<'JSON'
{"schema":"sdra.call/1","id":"hs-call-1","contact_email":"Jordan@Acme.example","contact_name":"Jordan Lée",
 "company":"Acme Logistics","call_date":"2026-11-24","audio":"call.wav","direction":"outbound",
 "rep_email":"rep@seller.example"}
JSON
cat > "$P/analysis.json" <<'JSON'
{"schema":"sdra.analysis/1","call_date":"2026-11-24","sentiment":{"overall":0.31},
 "pain_points":[{"text":"reconciling takes two days","speaker":"S2","start":20.0}],
 "action_items":[{"owner":"rep","text":"send the case study","due":"2026-11-26","start":61.0},
                 {"owner":"prospect","text":"share the current invoice volumes","due":"2026-11-30","start":70.0},
                 {"owner":"rep","text":"loop in the finance lead","start":75.0}],
 "next_meeting":{"date":"2026-12-01","time":"14:00","part_of_day":"afternoon"},
 "contact_preferences":{"do_not_call":false,"do_not_email":false},
 "summary":"Discovery call; budget concern; demo agreed.","outcome":"meeting booked"}
JSON
cat > "$P/email.json" <<'JSON'
{"schema":"sdra.email/1","subject":"Next steps for Acme","to":["Jordan Lée <jordan@acme.example>"],
 "message_id":"<hs-call-1@sdra.example>","send_at":"2026-11-24T17:00:00Z","skipped":null}
JSON
sync() { "$SDRA" crm sync "$P" --backend hubspot --data "$T/data" >"$T/out.txt" 2>"$T/err.txt"; }

# kill -9 while the stand-in holds the answer to PATH (the write is done, the answer not read).
kill_inside() {
  ctl "{\"slow\":{\"path\":\"$1\",\"ms\":30000}}"
  "$SDRA" crm sync "$P" --backend hubspot --data "$T/data" >"$T/killed.txt" 2>&1 &
  local pid=$! n
  for _ in $(seq 200); do
    n=$(curl -sf "$H/__count?path=$1")
    [ "${n:-0}" -gt "${2:-0}" ] && break
    sleep 0.1
  done
  kill -9 "$pid"; wait "$pid" 2>>"$T/wait.txt"
  [ $? -eq 137 ] || fail "the sync was not killed inside $1 (it ended first: n=$n: $(cat "$T/killed.txt"))"
}

# 0. `sdra connectors test`: one cheap call, what it can do; wrong credentials and a mail
# transport that cannot be checked are a clear line and exit 1; nothing configured is exit 1.
"$SDRA" connectors test --crm hubspot > "$T/out.txt" 2>"$T/err.txt" || fail "connectors test exited $?: $(cat "$T/err.txt")"
grep -q "^crm hubspot: ok: contacts, calls, tasks" "$T/out.txt" || fail "connectors test: $(cat "$T/out.txt")"
SDRA_HUBSPOT_TOKEN=hs-wrong-1 "$SDRA" connectors test > "$T/out.txt" 2>"$T/err.txt" && fail "a wrong token passed the test"
grep -q "^crm hubspot: failed: HubSpot contacts (credentials check): HTTP 401" "$T/out.txt" || fail "connectors test: $(cat "$T/out.txt")"
grep -q hs-wrong-1 "$T/out.txt" "$T/err.txt" && fail "connectors test printed the token"
SDRA_SMTP_URL=smtp://127.0.0.1:1 "$SDRA" connectors test --mail smtp > "$T/out.txt" 2>"$T/err.txt" && fail "mail check passed"
grep -q "^mail smtp: failed: " "$T/out.txt" || fail "connectors test --mail: $(cat "$T/out.txt")"
env -u SDRA_HUBSPOT_TOKEN -u SDRA_HUBSPOT_URL "$SDRA" connectors test > "$T/out.txt" 2>"$T/err.txt" && fail "nothing configured passed"
grep -q "no connector is configured" "$T/err.txt" || fail "nothing configured: $(cat "$T/err.txt")"
"$SDRA" connectors test --crm nope > "$T/out.txt" 2>"$T/err.txt"; [ $? -eq 2 ] || fail "--crm nope is not a usage error"

# 1. Three syncs and two crashes.
kill_inside /crm/v3/objects/calls/batch/upsert 0
sync || fail "sync 1 exited $?: $(cat "$T/err.txt")"
kill_inside /crm/v3/objects/tasks/batch/upsert 3
sync || fail "sync 2 exited $?: $(cat "$T/err.txt")"
sync || fail "sync 3 exited $?: $(cat "$T/err.txt")"
dump
python3 - "$T/dump.json" "$P/crm.json" <<'PY' || fail "records after three syncs and two crashes"
import json, sys
d = json.load(open(sys.argv[1])); o = d["objects"]
n = {k: len(v) for k, v in o.items()}
assert n == {"contacts": 1, "calls": 1, "tasks": 3, "meetings": 1, "notes": 1, "emails": 1}, n
c = o["contacts"][0]["properties"]
assert c["email"] == "jordan@acme.example" and c["firstname"] == "Jordan" and c["lastname"] == "Lée", c
call = o["calls"][0]["properties"]
assert call["hs_call_body"].startswith("Discovery call; budget concern"), call
assert call["hs_call_direction"] == "OUTBOUND" and call["hs_call_status"] == "COMPLETED", call
assert call["hs_call_duration"] == "0" and call["sdra_key"] == "call:hs-call-1", call
assert call["hubspot_owner_id"] == "101", "owner mapped by the rep's email: %s" % call
t = sorted(x["properties"]["hs_task_subject"] for x in o["tasks"])
assert t == ["loop in the finance lead", "send the case study", "share the current invoice volumes"], t
assert all(x["properties"]["hs_task_status"] == "NOT_STARTED" for x in o["tasks"])
m = o["meetings"][0]["properties"]
assert m["hs_meeting_start_time"] == "1796133600000" and m["hs_meeting_outcome"] == "SCHEDULED", m
assert o["emails"][0]["properties"]["hs_email_status"] == "SCHEDULED"
assert "reconciling takes two days" in o["notes"][0]["properties"]["hs_note_body"]
a = d["associations"]
assert len(a) == 7 and len({tuple(x) for x in a}) == 7, a
assert sorted(x[4] for x in a) == [194, 198, 200, 202, 204, 204, 204], a
assert d["properties"]["calls"] == ["sdra_call_id", "sdra_key"], d["properties"]
r = json.load(open(sys.argv[2]))
assert r["backend"] == "hubspot" and r["contact"]["status"] == "updated", r
assert all(x["status"] == "updated" for x in r["tasks"]), r["tasks"]
PY

# 2. Rate limit: two 429 answers with Retry-After: 1 are waited out.
ctl '{"reset_log":true,"fail":[{"status":429,"path":"/crm/v3/objects/calls/batch/upsert","count":2}]}'
sync || fail "sync under a rate limit exited $?: $(cat "$T/err.txt")"
dump
python3 - "$T/dump.json" <<'PY' || fail "rate limit not honoured"
import json, sys
d = json.load(open(sys.argv[1]))
e = [x for x in d["log"] if x["path"] == "/crm/v3/objects/calls/batch/upsert"]
assert [x["status"] for x in e] == [429, 429, 200], e
assert e[1]["t"] - e[0]["t"] >= 0.9 and e[2]["t"] - e[1]["t"] >= 0.9, "Retry-After not waited: %s" % e
assert len(d["objects"]["calls"]) == 1
PY

# 3. Bad input: each a clear line naming the object (and field), non-zero exit, no secret.
one_line() { # $1 = what, then patterns the message must hold
  local what=$1; shift
  [ "$(wc -l < "$T/err.txt")" -eq 1 ] || fail "$what: not one line: $(cat "$T/err.txt")"
  for p in "$@"; do grep -q -- "$p" "$T/err.txt" || fail "$what: '$p' not in: $(cat "$T/err.txt")"; done
  ! grep -q -e hs-token -e rt-secret -e csecret "$T/err.txt" "$T/out.txt" || fail "$what: a secret was printed"
}
SDRA_HUBSPOT_TOKEN=wrong-token-x sync && fail "a wrong token was accepted"
one_line "wrong token" "HubSpot" "HTTP 401" "credentials were refused" "INVALID_AUTHENTICATION"
grep -q wrong-token-x "$T/err.txt" && fail "the wrong token was printed"
ctl '{"reject_option":{"type":"calls","property":"hs_call_status","value":"COMPLETED"}}'
sync && fail "a 400 was taken for success"
one_line "400" "HubSpot call hs-call-1" "HTTP 400" "field hs_call_status" "INVALID_OPTION\|allowed options"
ctl '{"unreject":true}'
ctl '{"fail":[{"status":409,"path":"/crm/v3/objects/tasks/batch/upsert"}]}'
sync && fail "a 409 was taken for success"
one_line "409" "HubSpot task 'send the case study' of call hs-call-1" "HTTP 409" "CONFLICT"
ctl '{"archive_owner":"101"}'
sync && fail "a deleted owner was accepted"
one_line "owner by email" "HubSpot owner rep@seller.example (hubspot_owner_id)" "no active owner"
SDRA_HUBSPOT_OWNER_ID=101 sync && fail "a deleted owner id was accepted"
one_line "owner 404" "HubSpot owner 101 (hubspot_owner_id" "HTTP 404" "not found"
dump
python3 - "$T/dump.json" <<'PY' || fail "a failed sync duplicated something"
import json, sys
o = json.load(open(sys.argv[1]))["objects"]
n = {k: len(v) for k, v in o.items()}
assert n == {"contacts": 1, "calls": 1, "tasks": 3, "meetings": 1, "notes": 1, "emails": 1}, n
PY
python3 - "$P/call.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); del c["rep_email"]; json.dump(c, open(sys.argv[1], "w"))
PY

# 4. An expired token: refreshed on the 401, then the sync goes through; without a refresh
# token it is a clear line.
ctl '{"expire_token":true,"reset_log":true}'
sync && fail "an expired token without a refresh token was accepted"
one_line "expired token" "HTTP 401" "EXPIRED_AUTHENTICATION"
SDRA_HUBSPOT_REFRESH_TOKEN=wrong-rt SDRA_HUBSPOT_CLIENT_ID=cid-1 SDRA_HUBSPOT_CLIENT_SECRET=csecret-1 sync &&
  fail "a wrong refresh token was accepted"
one_line "wrong refresh token" "HubSpot token refresh" "HTTP 400"
SDRA_HUBSPOT_REFRESH_TOKEN=rt-secret-1 SDRA_HUBSPOT_CLIENT_ID=cid-1 SDRA_HUBSPOT_CLIENT_SECRET=csecret-1 sync ||
  fail "sync with a token refresh exited $?: $(cat "$T/err.txt")"
! grep -q -e hs-token -e rt-secret -e csecret "$T/err.txt" "$T/out.txt" || fail "a secret was printed"
dump
python3 - "$T/dump.json" <<'PY' || fail "401 -> refresh -> success"
import json, sys
d = json.load(open(sys.argv[1]))
st = [(x["path"], x["status"]) for x in d["log"]]
i = st.index(("/oauth/v1/token", 200))
assert i > 0 and 401 in [s for _, s in st[:i]] and all(s < 300 for _, s in st[i + 1:]), st
assert len(d["objects"]["calls"]) == 1 and len(d["objects"]["tasks"]) == 3
PY
export SDRA_HUBSPOT_REFRESH_TOKEN=rt-secret-1 SDRA_HUBSPOT_CLIENT_ID=cid-1 SDRA_HUBSPOT_CLIENT_SECRET=csecret-1

# 5. Opt-out on a later call: the flag property, the unsubscribe, no email scheduled.
P2="$T/pkg2"; mkdir -p "$P2"
sed 's/hs-call-1/hs-call-2/' "$P/call.json" > "$P2/call.json"
cat > "$P2/analysis.json" <<'JSON'
{"schema":"sdra.analysis/1","summary":"They asked us to stop emailing.","contact_preferences":{"do_not_email":true}}
JSON
sed 's/hs-call-1/hs-call-2/' "$P/email.json" > "$P2/email.json"
SDRA_HUBSPOT_SUBSCRIPTION_ID=77 "$SDRA" crm sync "$P2" --backend hubspot --data "$T/data" >"$T/out.txt" 2>"$T/err.txt" ||
  fail "opt-out sync exited $?: $(cat "$T/err.txt")"
dump
python3 - "$T/dump.json" <<'PY' || fail "opt-out"
import json, sys
d = json.load(open(sys.argv[1])); o = d["objects"]
assert o["contacts"][0]["properties"]["sdra_do_not_email"] == "true", o["contacts"]
assert d["unsubscribed"] == [["jordan@acme.example", "77"]], d["unsubscribed"]
assert len(o["emails"]) == 1 and o["emails"][0]["properties"]["sdra_call_id"] == "hs-call-1", o["emails"]
assert any("asked not to be emailed" in n["properties"]["hs_note_body"] for n in o["notes"]), o["notes"]
PY

# 6. Erasure: a call's records, then the contact (GDPR delete).
"$SDRA" crm forget --call hs-call-1 --backend hubspot --data "$T/data" > "$T/out.txt" 2>"$T/err.txt" ||
  fail "forget --call exited $?: $(cat "$T/err.txt")"
grep -q "removed 7 records of call hs-call-1" "$T/out.txt" || fail "forget --call: $(cat "$T/out.txt")"
"$SDRA" crm forget --contact jordan@acme.example --backend hubspot --data "$T/data" > "$T/out.txt" 2>"$T/err.txt" ||
  fail "forget --contact exited $?: $(cat "$T/err.txt")"
dump
python3 - "$T/dump.json" <<'PY' || fail "erasure"
import json, sys
o = json.load(open(sys.argv[1]))["objects"]
assert o["contacts"] == [] and o["calls"] == [] and o["tasks"] == [] and o["meetings"] == [], o
PY
"$SDRA" crm tasks --backend hubspot --data "$T/data" > "$T/out.txt" 2>"$T/err.txt" && fail "listing claimed to work"
one_line "list" "HubSpot: listing tasks is not supported"
echo "crm_hubspot: ok"
