#!/usr/bin/env bash
# crm_salesforce.sh - `sdra crm sync --backend salesforce` against the Salesforce stand-in
# (tests/servers/salesforce.py): three syncs and two kill -9 inside the sync give exactly one
# Contact, one call Task, N action Tasks, one Event, one note and one email Task; the owner is
# the User with the rep's email; a failing record rolls back the whole composite request
# (allOrNone); 403 REQUEST_LIMIT_EXCEEDED is waited out; a 401 gets a new token through the
# refresh token or the JWT bearer flow (RS256); wrong credentials, a 400 naming a field, a deleted
# owner (404) and a 409 are one clear line with a non-zero exit; Lead mode; erasure.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
SRC=${SDRA_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup crm_salesforce

openssl genrsa -out "$T/jwt.pem" 2048 2>"$T/openssl.txt" || fail "openssl genrsa"
MOD=$(openssl rsa -in "$T/jwt.pem" -noout -modulus | sed 's/^Modulus=//')
python3 "$SRC/tests/servers/salesforce.py" --port-file "$T/port" --token 'sf-tok-ok' --refresh-token sf-rt-secret \
  --client-id 3MVG-client --username sdra@seller.example --jwt-modulus "$MOD" --query-batch 2 \
  2>"$T/server.log" & PIDS+=($!)
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || fail "the Salesforce stand-in did not start"
S="http://127.0.0.1:$(cat "$T/port")"
export SDRA_SALESFORCE_URL="$S" SDRA_SALESFORCE_TOKEN=sf-tok-ok
ctl() { curl -sf -X POST -H 'Content-Type: application/json' -d "$1" "$S/__control" -o "$T/ctl.json" || fail "control $1"; }
dump() { curl -sf "$S/__dump" > "$T/dump.json" || fail "dump"; }

P="$T/pkg"; mkdir -p "$P"
cat > "$P/call.json" <<'JSON'
{"schema":"sdra.call/1","id":"sf-call-1","contact_email":"Jordan@Acme.example","contact_name":"Jordan Lée",
 "company":"Acme Logistics","call_date":"2026-11-24","audio":"call.wav","direction":"inbound",
 "rep_email":"rep@seller.example"}
JSON
cat > "$P/analysis.json" <<'JSON'
{"schema":"sdra.analysis/1","call_date":"2026-11-24","sentiment":{"overall":0.31},
 "pain_points":[{"text":"reconciling takes two days","speaker":"S2","start":20.0}],
 "action_items":[{"owner":"rep","text":"send the case study","due":"2026-11-26","start":61.0},
                 {"owner":"prospect","text":"share the current invoice volumes","due":"2026-11-30","start":70.0},
                 {"owner":"rep","text":"loop in the finance lead","start":75.0}],
 "next_meeting":{"date":"2026-12-01","time":"14:00"},
 "summary":"Discovery call; budget concern; demo agreed.","outcome":"meeting booked"}
JSON
cat > "$P/email.json" <<'JSON'
{"schema":"sdra.email/1","subject":"Next steps for Acme","to":["jordan@acme.example"],
 "message_id":"<sf-call-1@sdra.example>","send_at":"2026-11-24T17:00:00Z"}
JSON
cat > "$P/transcript.json" <<'JSON'
{"schema":"sdra.transcript/1","duration":754.4,"segments":[]}
JSON
sync() { "$SDRA" crm sync "${2:-$P}" --backend salesforce --data "$T/data" >"$T/out.txt" 2>"$T/err.txt"; }

kill_inside() { # kill -9 while the stand-in holds the answer to PATH (written, answer not read)
  ctl "{\"slow\":{\"path\":\"$1\",\"ms\":30000}}"
  "$SDRA" crm sync "$P" --backend salesforce --data "$T/data" >"$T/killed.txt" 2>&1 &
  local pid=$! n
  for _ in $(seq 200); do
    n=$(curl -sf "$S/__count?path=$1")
    [ "${n:-0}" -gt "$2" ] && break
    sleep 0.1
  done
  kill -9 "$pid"; wait "$pid" 2>>"$T/wait.txt"
  [ $? -eq 137 ] || fail "the sync was not killed inside $1 (it ended first: $(cat "$T/killed.txt"))"
}
counts() { # the expected numbers of live records after the syncs of sf-call-1
  dump
  python3 - "$T/dump.json" <<'PY' || fail "records: $1"
import json, sys
o = json.load(open(sys.argv[1]))["objects"]
n = {k: len(v) for k, v in o.items() if k != "User"}
assert n == {"Contact": 1, "Lead": 0, "Task": 6, "Event": 1}, n
PY
}

# 0. `sdra connectors test --crm salesforce`: one cheap call (limits), what it can do.
"$SDRA" connectors test --crm salesforce > "$T/out.txt" 2>"$T/err.txt" || fail "connectors test exited $?: $(cat "$T/err.txt")"
grep -q "^crm salesforce: ok: Contact, Task .*API requests left today: [0-9]* of 15000 (Sforce-Limit-Info api-usage=1/15000)" "$T/out.txt" ||
  fail "connectors test: $(cat "$T/out.txt")"

# 1. Three syncs and two crashes: one of everything.
kill_inside /sobjects/Contact 0
sync x || fail "sync 1 exited $?: $(cat "$T/err.txt")"
kill_inside /composite 1
sync x || fail "sync 2 exited $?: $(cat "$T/err.txt")"
sync x || fail "sync 3 exited $?: $(cat "$T/err.txt")"
counts "three syncs and two crashes"
python3 - "$T/dump.json" <<'PY' || fail "what was written"
import json, sys
o = json.load(open(sys.argv[1]))["objects"]
c = o["Contact"][0]
assert c["Email"] == "jordan@acme.example" and c["LastName"] == "Lée" and c["FirstName"] == "Jordan", c
by = {t["Sdra_Key__c"]: t for t in o["Task"]}
call = by["call:sf-call-1"]
assert call["TaskSubtype"] == "Call" and call["CallType"] == "Inbound" and call["CallDurationInSeconds"] == 754, call
assert call["Status"] == "Completed" and call["ActivityDate"] == "2026-11-24" and call["WhoId"] == c["Id"], call
assert call["OwnerId"] == "005000000000001AAA", "owner mapped by the rep's email: %s" % call
assert call["Description"].startswith("Discovery call; budget concern"), call
acts = sorted(t["Subject"] for t in o["Task"] if t["Sdra_Key__c"].startswith("task:"))
assert acts == ["loop in the finance lead", "send the case study", "share the current invoice volumes"], acts
assert all(t["Status"] == "Not Started" and t["WhoId"] == c["Id"] for t in o["Task"] if t["Sdra_Key__c"].startswith("task:"))
em = by["email:<sf-call-1@sdra.example>"]
assert em["TaskSubtype"] == "Email" and em["ActivityDate"] == "2026-11-24", em
assert "reconciling takes two days" in by["note:sf-call-1:pain_points"]["Description"]
ev = o["Event"][0]
assert ev["StartDateTime"] == "2026-12-01T14:00:00.000+0000" and ev["EndDateTime"] == "2026-12-01T14:30:00.000+0000", ev
PY

# 2. All or nothing: a record Salesforce refuses rolls back the whole call.
P3="$T/pkg3"; mkdir -p "$P3"; cp "$P"/*.json "$P3/"
sed -i 's/sf-call-1/sf-call-3/' "$P3/call.json" "$P3/email.json"
ctl '{"reject_value":{"object":"Task","field":"CallType","value":"Inbound"}}'
sync x "$P3" && fail "a 400 was taken for success"
[ "$(wc -l < "$T/err.txt")" -eq 1 ] || fail "400: not one line: $(cat "$T/err.txt")"
for p in "Salesforce call Task sf-call-3" "HTTP 400" "field CallType" "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" \
         "nothing of this call was written"; do
  grep -q -- "$p" "$T/err.txt" || fail "400: '$p' not in: $(cat "$T/err.txt")"
done
ctl '{"unreject":true}'
counts "a rolled-back composite request left records"

# 3. Rate limit: 403 REQUEST_LIMIT_EXCEEDED twice, then the sync goes through.
ctl '{"reset_log":true,"fail":[{"status":403,"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"TotalRequests Limit exceeded.","path":"/query","count":2}]}'
sync x || fail "sync under a rate limit exited $?: $(cat "$T/err.txt")"
dump
python3 - "$T/dump.json" <<'PY' || fail "rate limit not honoured"
import json, sys
e = [x for x in json.load(open(sys.argv[1]))["log"] if x["path"].endswith("/query")]
assert [x["status"] for x in e[:3]] == [403, 403, 200], e
assert e[1]["t"] - e[0]["t"] >= 0.4 and e[2]["t"] - e[1]["t"] >= 0.8, "no backoff: %s" % e
PY
counts "after the rate limit"

# 4. Bad input: one line naming the object (and field), non-zero exit, no secret.
one_line() {
  local what=$1; shift
  [ "$(wc -l < "$T/err.txt")" -eq 1 ] || fail "$what: not one line: $(cat "$T/err.txt")"
  for p in "$@"; do grep -q -- "$p" "$T/err.txt" || fail "$what: '$p' not in: $(cat "$T/err.txt")"; done
  ! grep -q -e sf-tok -e sf-rt-secret -e '00Dsf' -e 'BEGIN' "$T/err.txt" "$T/out.txt" || fail "$what: a secret was printed"
}
SDRA_SALESFORCE_TOKEN=sf-tok-wrong sync x && fail "a wrong token was accepted"
one_line "wrong token" "Salesforce Contact jordan@acme.example" "HTTP 401" "INVALID_SESSION_ID"
ctl '{"fail":[{"status":409,"errorCode":"CONFLICT","message":"The record is being changed by another request","path":"/sobjects/Contact","method":"PATCH"}]}'
sync x && fail "a 409 was taken for success"
one_line "409" "Salesforce Contact jordan@acme.example" "HTTP 409" "CONFLICT"
SDRA_SALESFORCE_OWNER_ID=005000000000001AAA sync x || fail "owner by id exited $?: $(cat "$T/err.txt")"
ctl '{"delete_user":"005000000000001AAA"}'
SDRA_SALESFORCE_OWNER_ID=005000000000001AAA sync x && fail "a deleted owner was accepted"
one_line "owner 404" "Salesforce owner 005000000000001AAA (OwnerId" "HTTP 404" "NOT_FOUND"
sync x && fail "a deleted owner (by email) was accepted"
one_line "owner by email" "Salesforce owner rep@seller.example (OwnerId)" "no active user"
SDRA_SALESFORCE_API_VERSION=52.0 sync x && fail "an old API version was accepted"
one_line "version" "SDRA_SALESFORCE_API_VERSION must be 59.0 or later"
sed -i 's/"rep_email":"rep@seller.example"/"rep_email":null/' "$P/call.json"
counts "after the bad input"

# 5. An expired session: refresh token, then the JWT bearer flow; wrong ones are one line.
ctl '{"expire_token":true,"reset_log":true}'
sync x && fail "an expired token without a way to refresh was accepted"
one_line "expired" "HTTP 401" "INVALID_SESSION_ID"
SDRA_SALESFORCE_CLIENT_ID=3MVG-client SDRA_SALESFORCE_REFRESH_TOKEN=sf-rt-wrong SDRA_SALESFORCE_LOGIN_URL="$S" sync x &&
  fail "a wrong refresh token was accepted"
one_line "wrong refresh token" "Salesforce token refresh: HTTP 400: invalid_grant"
SDRA_SALESFORCE_CLIENT_ID=3MVG-client SDRA_SALESFORCE_REFRESH_TOKEN=sf-rt-secret SDRA_SALESFORCE_LOGIN_URL="$S" sync x ||
  fail "sync with a refresh exited $?: $(cat "$T/err.txt")"
! grep -q -e sf-tok -e sf-rt "$T/err.txt" "$T/out.txt" || fail "a secret was printed"
ctl '{"expire_token":true}'
openssl genrsa -out "$T/other.pem" 2048 2>"$T/openssl.txt"
SDRA_SALESFORCE_CLIENT_ID=3MVG-client SDRA_SALESFORCE_USERNAME=sdra@seller.example SDRA_SALESFORCE_JWT_KEY_FILE="$T/other.pem" \
  SDRA_SALESFORCE_LOGIN_URL="$S" sync x && fail "a JWT signed with another key was accepted"
one_line "JWT wrong key" "Salesforce token refresh: HTTP 400: invalid_grant" "invalid signature"
SDRA_SALESFORCE_CLIENT_ID=3MVG-client SDRA_SALESFORCE_USERNAME=sdra@seller.example SDRA_SALESFORCE_JWT_KEY_FILE="$T/jwt.pem" \
  SDRA_SALESFORCE_LOGIN_URL="$S" sync x || fail "sync with the JWT bearer flow exited $?: $(cat "$T/err.txt")"
dump
python3 - "$T/dump.json" <<'PY' || fail "401 -> refresh -> success"
import json, sys
st = [(x["path"], x["status"]) for x in json.load(open(sys.argv[1]))["log"]]
ok = [i for i, s in enumerate(st) if s == ("/services/oauth2/token", 200)]
assert len(ok) == 2, st
assert all(s[1] == 401 for s in [st[ok[1] - 1]]), st
PY
counts "after the token refreshes"
export SDRA_SALESFORCE_CLIENT_ID=3MVG-client SDRA_SALESFORCE_REFRESH_TOKEN=sf-rt-secret SDRA_SALESFORCE_LOGIN_URL="$S"

# 6. Lead mode: a new person is a Lead (Company required), with the opt-out fields.
P4="$T/pkg4"; mkdir -p "$P4"
cat > "$P4/call.json" <<'JSON'
{"schema":"sdra.call/1","id":"sf-call-4","contact_email":"sam@beta.example","contact_name":"Sam","company":"Beta Co"}
JSON
cat > "$P4/analysis.json" <<'JSON'
{"schema":"sdra.analysis/1","summary":"Not interested; do not call again.","contact_preferences":{"do_not_call":true}}
JSON
SDRA_SALESFORCE_OBJECT=Lead sync x "$P4" || fail "Lead sync exited $?: $(cat "$T/err.txt")"
dump
python3 - "$T/dump.json" <<'PY' || fail "Lead mode"
import json, sys
o = json.load(open(sys.argv[1]))["objects"]
l = o["Lead"]
assert len(l) == 1 and l[0]["Company"] == "Beta Co" and l[0]["LastName"] == "Sam" and l[0]["DoNotCall"] is True, l
assert any(t.get("WhoId") == l[0]["Id"] and t["TaskSubtype"] == "Call" for t in o["Task"]), o["Task"]
PY

# 7. Erasure of a call's records.
"$SDRA" crm forget --call sf-call-1 --backend salesforce --data "$T/data" > "$T/out.txt" 2>"$T/err.txt" ||
  fail "forget --call exited $?: $(cat "$T/err.txt")"
grep -q "removed 7 records of call sf-call-1" "$T/out.txt" || fail "forget --call: $(cat "$T/out.txt")"
"$SDRA" crm forget --contact jordan@acme.example --backend salesforce --data "$T/data" > "$T/out.txt" 2>"$T/err.txt" ||
  fail "forget --contact exited $?: $(cat "$T/err.txt")"
dump
python3 - "$T/dump.json" <<'PY' || fail "erasure"
import json, sys
o = json.load(open(sys.argv[1]))["objects"]
assert o["Contact"] == [] and o["Event"] == [], o
assert all(t.get("WhoId") != "003000000000001AAA" for t in o["Task"]), o["Task"]
PY
echo "crm_salesforce: ok"
