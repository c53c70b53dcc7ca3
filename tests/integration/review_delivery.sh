#!/usr/bin/env bash
# ctest-labels: asan-skip
# (skips the ASan pass: what it runs of our C code the other tests run under ASan; docs/testing.md)
# review_delivery.sh - the email review (web app API) and the outbox are one flow (issue 13/16):
# a server that sends through the Gmail API (the contract test server tests/servers/mail_apis.py)
# with --review always holds a call's email; the rep edits the draft (PUT .../email/draft): still
# held; approval bodies that are wrong (a mode, a malformed or past send_at) are refused and
# change nothing; approves it, scheduled a few seconds ahead (POST .../email/approve with
# {"mode": "send", "send_at"}): the outbox entry waits for that time, then the message Gmail
# receives carries the edited subject and text, exactly once; the local CRM then says sent.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
SRC=${SDRA_SRC:?SDRA_SRC must name the source tree}
FIX=${SDRA_FIXTURES:?SDRA_FIXTURES must name the generated calls}
AUDIO="$FIX/tiny.mono.wav" # the shortest call: recognition is not the subject here
[ -f "$AUDIO" ] || { echo "FAIL: $AUDIO missing (tests/fixtures/generate.sh)" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup review_delivery

python3 "$SRC/tests/servers/mail_apis.py" --port-file "$T/gmail.port" --api gmail --token tok-gmail-1 \
  2>"$T/gmail.log" &
PIDS+=($!)
wait_port_file "$T/gmail.port" "gmail test server did not start"
G="http://127.0.0.1:$(cat "$T/gmail.port")"

D="$T/data"
AW=$("$SDRA" keys create --data "$D" --name rep --scope write) || fail "keys create"
SDRA_GMAIL_URL="$G" SDRA_GMAIL_TOKEN=tok-gmail-1 "$SDRA" serve --listen 127.0.0.1:0 --data "$D" \
  --port-file "$T/port" --mail gmail --deliver send --review always --no-encrypt 2>"$T/serve.log" &
PIDS+=($!)
wait_port_file "$T/port" "server did not start"
B="http://127.0.0.1:$(cat "$T/port")"

st() { curl -s -o "$T/body" -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $AW" "$@"; }
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$T/body"; }
sent() { curl -s --max-time 10 "$G/stats" -o "$T/stats.json"; python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sent"])' "$T/stats.json"; }

code=$(st -F "audio=@$AUDIO;type=audio/wav" -F contact_email=jordan@prospect.example -F "contact_name=Jordan Lee" \
  -F company=Prospect -F "rep_name=Sam Rivera" -F rep_email=sam@acme.example -F call_date=2026-11-20 "$B/v1/calls")
[ "$code" = 202 ] || fail "upload answered $code: $(cat "$T/body")"
C=$(json 'd["id"]')
for _ in $(seq 1 900); do
  [ "$(st "$B/v1/calls/$C")" = 200 ] && [ "$(json 'd["status"]')" = done ] && break
  [ "$(json 'd.get("status")')" = failed ] && fail "call failed: $(cat "$T/body")"
  sleep 0.2
done
[ "$(json 'd["status"]')" = done ] || fail "call did not finish: $(cat "$T/body")"
K="mail.deliver:$C"
state() { st "$B/v1/outbox/$K" > /dev/null; json 'd["state"]'; }
[ "$(state)" = held ] || fail "with --review always the email is $(state): $(cat "$T/body")"

# the rep's edit: still held, nothing sent
SUBJ="Edited in review: next steps for Prospect"
python3 -c 'import json,sys; print(json.dumps({"subject": sys.argv[1], "text": "Hi Jordan,\n\nEdited by the rep in review.\n\nSam"}))' \
  "$SUBJ" > "$T/draft.json"
[ "$(st -X PUT -H 'Content-Type: application/json' --data-binary @"$T/draft.json" "$B/v1/calls/$C/email/draft")" = 200 ] \
  || fail "PUT draft: $(cat "$T/body")"
sleep 1
[ "$(state)" = held ] || fail "an edit released the email: $(state)"
[ "$(sent)" = 0 ] || fail "sent before approval: $(cat "$T/stats.json")"

# approval choices that are wrong are refused; the draft stays unapproved and the entry held
post() { st -X POST -H 'Content-Type: application/json' --data-binary "$2" "$1"; }
[ "$(post "$B/v1/outbox/$K/approve" '{"mode":"fax"}')" = 400 ] || fail "mode fax: $(cat "$T/body")"
[ "$(post "$B/v1/calls/$C/email/approve" '{"send_at":"2020-01-01T00:00:00Z"}')" = 400 ] \
  || fail "a past send_at: $(cat "$T/body")"
grep -q 'in the past' "$T/body" || fail "the refusal does not say why: $(cat "$T/body")"
[ "$(post "$B/v1/calls/$C/email/approve" '{"send_at":"tomorrow"}')" = 400 ] || fail "send_at tomorrow: $(cat "$T/body")"
[ "$(post "$B/v1/calls/$C/email/approve" 'not json')" = 400 ] || fail "a body that is not JSON: $(cat "$T/body")"
[ "$(state)" = held ] || fail "a refused approval changed the entry: $(state)"
[ "$(st "$B/v1/calls/$C/email/draft")" = 200 ] && [ "$(json 'd["approved"]')" = False ] \
  || fail "a refused approval approved the draft: $(cat "$T/body")"

# approval in the review releases the entry at the time chosen, 10 s ahead (an offset, not UTC: the
# contact's clock); Gmail gets the edited message once, not before
AT=$(python3 -c 'import datetime as d; z=d.timezone(d.timedelta(hours=-5)); print((d.datetime.now(z)+d.timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%S-05:00"))')
[ "$(post "$B/v1/calls/$C/email/approve" "{\"mode\":\"send\",\"send_at\":\"$AT\"}")" = 200 ] || fail "approve: $(cat "$T/body")"
WANT=$(python3 -c 'import datetime as d,sys; print(d.datetime.fromisoformat(sys.argv[1]).astimezone(d.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))' "$AT")
[ "$(json 'd["outbox"]["send_at"]')" = "$WANT" ] || fail "the approval answered send_at $(json 'd["outbox"]')"
[ "$(json 'd["outbox"]["target"]["mode"]')" = send ] || fail "the approval answered $(json 'd["outbox"]')"
[ "$(json 'd["outbox"]["state"]')" = queued ] || fail "the scheduled email is $(json 'd["outbox"]["state"]')"
for _ in $(seq 1 150); do [ "$(state)" = done ] && break; sleep 0.2; done
# not before its time (a loaded machine may take longer than the 10 s to look, so the check is
# on the entry's own record: when it was done)
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["updated_at"] >= d["send_at"], d' "$T/body" \
  || fail "the scheduled email went before its time: $(cat "$T/body")"
[ "$(state)" = done ] || fail "the approved email is $(state): $(cat "$T/body")"
[ "$(sent)" = 1 ] || fail "Gmail got $(sent) messages: $(cat "$T/stats.json")"
python3 - "$T/stats.json" "$SUBJ" <<'PY' || fail "the message sent is not the approved edit"
import email, email.policy, json, sys
s = json.load(open(sys.argv[1]))
m = email.message_from_bytes(s["messages"][-1]["raw"].encode(), policy=email.policy.default)
assert m["Subject"] == sys.argv[2], m["Subject"]
body = m.get_body(("plain",)).get_content()
assert "Edited by the rep in review." in body, body
PY
# the local CRM, where the sync stage recorded the email as scheduled, now says sent
"$SDRA" crm emails --data "$D" --format json > "$T/emails.json" 2>"$T/crm.err" || fail "sdra crm emails: $(cat "$T/crm.err")"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert [e["status"] for e in r] == ["sent"], r' "$T/emails.json" \
  || fail "the local CRM does not say sent: $(cat "$T/emails.json")"
echo "PASS review_delivery"
