#!/usr/bin/env bash
# outbox_crash_remote.sh - the crash test with real effects (issue 13): outbox_crash.sh kills
# the delivery worker with kill -9 at random moments 50 times while it syncs calls to the
# HubSpot stand-in (tests/servers/hubspot.py) and sends their emails through the Gmail
# stand-in (tests/servers/mail_apis.py), both answering late after their write so that kills
# land between the remote write and sdra's record of it. Counted on the remote sides: one
# contact, one call engagement and two tasks per call (HubSpot: every write is an upsert on
# sdra_key, so a repeat after a kill updates); one Gmail message per call (Gmail has no
# idempotency key: the entry is claimed before the send, and a worker that takes over a
# cut-off entry asks Gmail for the Message-ID, rfc822msgid:, before sending again).
# Prints outbox_crash's line with the figures.
# ctest-labels: slow
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
SRC=${SDRA_SRC:?SDRA_SRC must name the source tree}
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup outbox_crash_remote

python3 "$SRC/tests/servers/hubspot.py" --port-file "$T/hs.port" --token hs-crash-token 2>"$T/hubspot.log" &
PIDS+=($!)
python3 "$SRC/tests/servers/mail_apis.py" --api gmail --port-file "$T/gm.port" --token gm-crash-token \
  --slow-ms 60 2>"$T/gmail.log" &
PIDS+=($!)
wait_port_file "$T/hs.port" "the HubSpot stand-in did not start"
wait_port_file "$T/gm.port" "the Gmail stand-in did not start"
HS="http://127.0.0.1:$(cat "$T/hs.port")" GM="http://127.0.0.1:$(cat "$T/gm.port")"
# HubSpot answers every write 50 ms late (after the write is done)
curl -sf -X POST -H 'Content-Type: application/json' -d '{"slow":{"path":"/batch/upsert","ms":50,"count":100000}}' \
  "$HS/__control" >/dev/null || fail "HubSpot control"

export SDRA_HUBSPOT_URL="$HS" SDRA_HUBSPOT_TOKEN=hs-crash-token SDRA_GMAIL_URL="$GM" SDRA_GMAIL_TOKEN=gm-crash-token
export OUTBOX_CRASH_KINDS="webhook crm.sync mail.deliver" OUTBOX_CRASH_CRM=hubspot OUTBOX_CRASH_MAIL=gmail
export OUTBOX_CRASH_CALLS=${OUTBOX_CRASH_CALLS:-30}
export OUTBOX_CRASH_CRM_COUNT="curl -sf '$HS/__dump' | python3 -c 'import json,sys; o=json.load(sys.stdin)[\"objects\"]; print(len(o.get(\"calls\",[])), len(o.get(\"contacts\",[])), len(o.get(\"tasks\",[])))'"
export OUTBOX_CRASH_MAIL_COUNT="curl -sf '$GM/stats' | python3 -c 'import json,sys; m=json.load(sys.stdin)[\"messages\"]; print(len(m), len({x[\"message_id\"] for x in m}))'"
bash "$SRC/tests/integration/outbox_crash.sh" || fail "outbox_crash with HubSpot and Gmail"
echo "ok: outbox_crash_remote"
