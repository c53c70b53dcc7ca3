#!/usr/bin/env bash
# outbox_api.sh - the outbox (issue 13) through a real `sdra serve` and the CLI:
#  - a finished call sends a signed call.completed webhook (the receiver checks the HMAC itself)
#    recorded done with the remote id; GET /v1/outbox lists it, another organisation gets 404
#    on it and cannot act on it, a read key gets 403 on the POSTs; actions are audited;
#  - --review always: the email is held; approve queues it (it then fails for good without mail
#    settings, with a clear line), retry queues the dead entry again, cancel before sending
#    works and cancel after it is 409;
#  - a contact marked do-not-email in the CRM after the email was planned: approving it ends
#    dead with that reason, never handed to the transport (planning-time cancel: unit test);
#  - the same through `sdra outbox list|show|approve|retry|cancel` (exit 1 on a wrong state).
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
SRC=${SDRA_SRC:?SDRA_SRC must name the source tree}
FIX=${SDRA_FIXTURES:?SDRA_FIXTURES must name the generated calls}
AUDIO="$FIX/tiny.mono.wav" # the shortest call: recognition is not the subject here
for f in "$AUDIO"; do [ -f "$f" ] || { echo "FAIL: $f missing (tests/fixtures/generate.sh)" >&2; exit 1; }; done
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup outbox_api

D="$T/data"
SECRET=whsec_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
key() { "$SDRA" keys create --data "$D" --org "$1" --name "$2" --scope "$3" || fail "keys create $1/$2"; }
AW=$(key acme acme-w write) AR=$(key acme acme-r read) ZA=$(key zeta zeta-a admin)

python3 "$SRC/tests/servers/webhook_receiver.py" --port-file "$T/hook.port" --log "$T/hook.jsonl" \
  --secret "$SECRET" 2>"$T/hook.log" &
PIDS+=($!)
wait_port_file "$T/hook.port" "webhook receiver did not start"
HOOK="http://127.0.0.1:$(cat "$T/hook.port")/hooks/sdra"

SDRA_WEBHOOK_SECRET=$SECRET "$SDRA" serve --listen 127.0.0.1:0 --data "$D" --port-file "$T/port" \
  --webhook-url "$HOOK" --mail smtp --deliver send --review always --outbox-retry-base-ms 50 \
  --outbox-max-attempts 2 --concurrency transcribe=3 --no-encrypt 2>"$T/serve.log" &
PID=$!
wait_port_file "$T/port" "server did not start"
B="http://127.0.0.1:$(cat "$T/port")"

st() {
  local k=$1; shift
  curl -s -o "$T/body" -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $k" "$@"
}
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$T/body"; }
upload() { # upload AUDIO: prints the call id
  local code
  code=$(st "$AW" -F "audio=@$1;type=audio/wav" -F contact_email=jordan@prospect.example \
    -F "contact_name=Jordan Lee" -F company=Prospect -F "rep_name=Sam Rivera" -F rep_email=sam@acme.example \
    -F call_date=2026-11-20 "$B/v1/calls")
  [ "$code" = 202 ] || fail "upload answered $code: $(head -c 300 "$T/body")"
  json 'd["id"]'
}
wait_call() { # wait_call ID: until done
  for _ in $(seq 1 600); do
    [ "$(st "$AR" "$B/v1/calls/$1")" = 200 ] && [ "$(json 'd["status"]')" = done ] && return 0
    [ "$(json 'd.get("status")')" = failed ] && fail "call $1 failed: $(cat "$T/body")"
    sleep 0.2
  done
  fail "call $1 did not finish"
}
# entry_state ID [KEY]: the entry's state through the API
entry_state() {
  local code; code=$(st "${2:-$AR}" "$B/v1/outbox/$1")
  [ "$code" = 200 ] || { echo "http$code"; return; }
  json 'd["state"]'
}
wait_state() { # wait_state ID STATE...
  local id=$1 s; shift
  for _ in $(seq 1 300); do
    s=$(entry_state "$id")
    for want in "$@"; do [ "$s" = "$want" ] && return 0; done
    sleep 0.1
  done
  fail "outbox entry $id is $s, want $*: $(cat "$T/body")"
}

# the three calls run together (they are slow to transcribe on a busy machine)
C1=$(upload "$AUDIO") C2=$(upload "$AUDIO") C3=$(upload "$AUDIO")
wait_call "$C1"

# --- the call.completed webhook: signed, delivered once, recorded done -----------------------
HK="webhook:call.completed:$C1:cfg"
wait_state "$HK" done
[ "$(json 'd["remote_id"]')" = "http 200" ] || fail "webhook remote id: $(cat "$T/body")"
python3 - "$T/hook.jsonl" "$HK" <<'PY' || fail "receiver log: $(cat "$T/hook.jsonl")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
mine = [r for r in rows if r["event_id"] == sys.argv[2]]
assert len(mine) == 1 and mine[0]["status"] == 200 and mine[0]["valid"] and mine[0]["type"] == "call.completed", mine
assert all(r["status"] == 200 for r in rows), rows   # the signature was right every time (else 401)
PY

# --- held by the review policy, then approve / retry / cancel -------------------------------
MK="mail.deliver:$C1"
[ "$(entry_state "$MK")" = held ] || fail "email with --review always is $(entry_state "$MK")"
json 'd["last_error"]' | grep -q "review" || fail "held entry gives no reason: $(cat "$T/body")"
[ "$(st "$AR" "$B/v1/outbox?state=held&call_id=$C1")" = 200 ] || fail "list held"
[ "$(json '" ".join(e["id"] for e in d["entries"])')" = "$MK" ] || fail "held list: $(cat "$T/body")"
# every call's webhook is listed: each entry exists once its call is done (the three run
# together, so C2 and C3 may finish after C1)
wait_call "$C2"; wait_call "$C3"
[ "$(st "$AR" "$B/v1/outbox?kind=webhook")" = 200 ] && [ "$(json 'len(d["entries"])')" = 3 ] \
  || fail "webhook list: $(cat "$T/body")"
[ "$(st "$AR" "$B/v1/outbox?state=bogus")" = 400 ] || fail "a bad state filter is not 400"
# another organisation: 404 for reading and for every action; a read key: 403 on the actions
[ "$(st "$ZA" "$B/v1/outbox/$MK")" = 404 ] || fail "another org reads the entry"
for a in approve retry cancel; do
  [ "$(st "$ZA" -X POST "$B/v1/outbox/$MK/$a")" = 404 ] || fail "another org can $a"
  [ "$(st "$AR" -X POST "$B/v1/outbox/$MK/$a")" = 403 ] || fail "a read key can $a"
done
[ "$(st "$ZA" "$B/v1/outbox")" = 200 ] && [ "$(json 'len(d["entries"])')" = 0 ] || fail "another org lists: $(cat "$T/body")"
[ "$(st "$AW" -X GET "$B/v1/outbox/$MK/approve")" = 405 ] || fail "GET on an action is not 405"
[ "$(st "$AW" -X POST "$B/v1/outbox/$MK/retry")" = 409 ] || fail "retry of a held entry is not 409"
[ "$(st "$AW" -X POST "$B/v1/outbox/$MK/approve")" = 200 ] || fail "approve: $(cat "$T/body")"
# no mail settings in the environment: it fails for good, with the variable named
wait_state "$MK" dead
json 'd["last_error"]' | grep -q "^mail: ." || fail "dead email's reason: $(cat "$T/body")"
[ "$(st "$AW" -X POST "$B/v1/outbox/$MK/cancel")" = 409 ] || fail "cancel of a dead entry is not 409"
[ "$(st "$AW" -X POST "$B/v1/outbox/$MK/retry")" = 200 ] || fail "retry: $(cat "$T/body")"
wait_state "$MK" dead
[ "$(json 'd["attempts"]')" = 1 ] || fail "retry did not reset the attempts: $(cat "$T/body")"
# the actions are in the audit log
for a in approve retry; do
  "$SDRA" audit --data "$D" --action "outbox.$a" 2>/dev/null | grep -q "$C1" || fail "outbox.$a not audited"
done

# --- do-not-email: the contact opts out (another call, synced to the CRM) before approval ----
wait_call "$C2"
mkdir -p "$T/pkg"
echo '{"id":"optout-1","contact_email":"jordan@prospect.example","call_date":"2026-11-21"}' > "$T/pkg/call.json"
echo '{"schema":"sdra.analysis/1","call_id":"optout-1","contact_preferences":{"do_not_email":true,"do_not_call":false}}' \
  > "$T/pkg/analysis.json"
"$SDRA" crm sync "$T/pkg" --data "$D" --org acme >/dev/null 2>"$T/crm.log" || fail "crm sync of the opt-out"
[ "$(st "$AW" -X POST "$B/v1/outbox/mail.deliver:$C2/approve")" = 200 ] || fail "approve C2: $(cat "$T/body")"
wait_state "mail.deliver:$C2" dead
json 'd["last_error"]' | grep -q "do-not-email" || fail "email to a do-not-email contact: $(cat "$T/body")"
[ "$(st "$AW" -X POST "$B/v1/outbox/mail.deliver:$C2/approve")" = 409 ] || fail "a dead email can be approved"

# --- the CLI on the same data directory ---------------------------------------------------
wait_call "$C3"
"$SDRA" outbox list --data "$D" --state held > "$T/list.txt" || fail "outbox list"
grep -q "mail.deliver:$C3 *held" "$T/list.txt" || fail "CLI list: $(cat "$T/list.txt")"
"$SDRA" outbox show --data "$D" "mail.deliver:$C3" > "$T/show.txt" || fail "outbox show"
grep -q "^state: *held" "$T/show.txt" || fail "CLI show: $(cat "$T/show.txt")"
"$SDRA" outbox retry --data "$D" "mail.deliver:$C3" 2>"$T/err" >/dev/null; rc=$?
[ $rc = 1 ] && grep -q "is held: cannot retry" "$T/err" || fail "CLI retry of a held entry: rc $rc, $(cat "$T/err")"
"$SDRA" outbox cancel --data "$D" "mail.deliver:$C3" > "$T/out.txt" || fail "CLI cancel"
grep -q "canceled" "$T/out.txt" || fail "CLI cancel said $(cat "$T/out.txt")"
"$SDRA" outbox show --data "$D" --org zeta "mail.deliver:$C3" 2>"$T/err" >/dev/null; rc=$?
[ $rc = 1 ] || fail "CLI show in another org: rc $rc"
"$SDRA" outbox approve --data "$D" 2>"$T/err"; [ $? = 2 ] || fail "approve without an ID is not a usage error"
"$SDRA" outbox frobnicate --data "$D" 2>"$T/err"; [ $? = 2 ] || fail "an unknown action is not a usage error"
[ "$(wc -l < "$T/err")" = 1 ] || fail "usage error is not one line: $(cat "$T/err")"
"$SDRA" audit --data "$D" --action outbox.cancel 2>/dev/null | grep -q "cli:" || fail "CLI cancel not audited"
echo "ok: outbox_api"
