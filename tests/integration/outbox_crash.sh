#!/usr/bin/env bash
# outbox_crash.sh - kill -9 the delivery worker (`sdra outbox deliver`) at random moments,
# OUTBOX_CRASH_KILLS times (default 50), while it delivers a batch of effects; then let one
# worker finish. Every effect must be performed (no loss) and applied once (no duplicate):
#  - webhook: a receiver (tests/servers/webhook_receiver.py, answering slowly so that kills land
#    between sending and recording) logs every request with its event id. Applied = distinct
#    event ids answered 200; redelivered requests of an id (a kill after the receiver answered
#    but before the worker recorded it) are counted and reported: a receiver deduplicates them
#    on the event id / Idempotency-Key, which is the documented contract.
#  - crm.sync: the CRM backend OUTBOX_CRASH_CRM (default local: the SQLite CRM in the data
#    directory) must hold exactly one activity per call and one contact per address. For a
#    remote backend set OUTBOX_CRASH_CRM=hubspot plus its environment (SDRA_HUBSPOT_URL, ...)
#    and OUTBOX_CRASH_CRM_COUNT, a command that prints "ACTIVITIES CONTACTS [TASKS]" as the
#    remote side counts them (each call has two action items: TASKS must be 2 per call).
#  - mail.deliver: sent (--deliver send) through OUTBOX_CRASH_MAIL (a transport with its
#    environment, e.g. gmail and SDRA_GMAIL_URL); OUTBOX_CRASH_MAIL_COUNT prints "MESSAGES
#    DISTINCT" (messages the mailbox holds, distinct Message-IDs among them): one per call.
# The effect kinds come from OUTBOX_CRASH_KINDS (default "webhook crm.sync"); an unknown kind
# fails the test. tests/integration/outbox_crash_remote.sh runs this with HubSpot and Gmail.
# Prints one line: "outbox_crash: kills=50 (with work left: K) entries=N lost=0 duplicates=0
# redelivered=R".
# ctest-labels: slow
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
SRC=${SDRA_SRC:?SDRA_SRC must name the source tree}
command -v sqlite3 >/dev/null || { echo "FAIL: sqlite3 CLI missing" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup outbox_crash
KILLS=${OUTBOX_CRASH_KILLS:-50}
KINDS=${OUTBOX_CRASH_KINDS:-webhook crm.sync}
CRM=${OUTBOX_CRASH_CRM:-local}
MAIL=${OUTBOX_CRASH_MAIL:-none}
N=${OUTBOX_CRASH_CALLS:-80}
D="$T/data"
SECRET=crash-secret

python3 "$SRC/tests/servers/webhook_receiver.py" --port-file "$T/hook.port" --log "$T/hook.jsonl" \
  --secret "$SECRET" --slow-ms 40 2>"$T/hook.log" &
PIDS+=($!)
wait_port_file "$T/hook.port" "webhook receiver did not start"
HOOK="http://127.0.0.1:$(cat "$T/hook.port")/hook"

"$SDRA" outbox list --data "$D" >/dev/null || fail "cannot create the store"
# N calls, each with its documents (what the stages leave) and one entry per effect kind
SQL="$T/entries.sql"
: > "$SQL"
for i in $(seq 1 "$N"); do
  c=$(printf 'crash-%03d' "$i")
  mkdir -p "$D/calls/$c"
  printf '{"id":"%s","contact_email":"p%d@prospect.example","contact_name":"Pat %d","company":"P%d","call_date":"2026-11-20","rep_name":"Sam"}\n' \
    "$c" "$i" "$i" "$i" > "$D/calls/$c/call.json"
  printf '{"schema":"sdra.analysis/1","call_id":"%s","summary":"call %d","contact_preferences":{"do_not_call":false,"do_not_email":false},"action_items":[{"owner":"rep","text":"send the deck %d","due":"2026-11-26"},{"owner":"prospect","text":"share volumes %d"}]}\n' \
    "$c" "$i" "$i" "$i" > "$D/calls/$c/analysis.json"
  printf 'From: Sam <sam@acme.example>\r\nTo: Pat %d <p%d@prospect.example>\r\nSubject: Next steps %d\r\nDate: Fri, 20 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%s@sdra.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello Pat,\r\nthanks for the call.\r\n' \
    "$i" "$i" "$i" "$c" > "$D/calls/$c/email.eml"
  for k in $KINDS; do
    case "$k" in
      webhook)
        key="webhook:call.completed:$c:cfg"
        body=$(printf '{"created":"2026-11-20T10:00:00Z","data":{"call_id":"%s","org":"default","status":"done"},"id":"%s","type":"call.completed"}' "$c" "$key")
        pay=$(python3 -c 'import json,sys; print(json.dumps({"url":sys.argv[1],"check":False,"event":"call.completed","body":sys.argv[2]}))' "$HOOK" "$body")
        ;;
      crm.sync)
        key="crm.sync:$c"
        pay="{\"call_id\":\"$c\",\"backend\":\"$CRM\"}"
        ;;
      mail.deliver)
        key="mail.deliver:$c"
        pay="{\"call_id\":\"$c\",\"transport\":\"$MAIL\",\"mode\":\"send\",\"message_id\":\"<$c@sdra.test>\",\"rcpt\":[\"p$i@prospect.example\"],\"from\":\"sam@acme.example\",\"eml\":\"email.eml\"}"
        ;;
      *) fail "OUTBOX_CRASH_KINDS: no harness for effect kind '$k' yet" ;;
    esac
    pay=${pay//\'/\'\'}
    echo "INSERT INTO outbox (idem_key, call_id, kind, payload, state, created_ms, org) VALUES ('$key', '$c', '$k', '$pay', 'queued', $i, 'default');" >> "$SQL"
  done
done
sqlite3 "$D/sdra.db" < "$SQL" || fail "cannot queue the entries"
TOTAL=$(sqlite3 "$D/sdra.db" "SELECT COUNT(*) FROM outbox")

# kill -9 at random moments: each worker is killed 0-90 ms after it reported its first delivery
# (or after 3 s), i.e. in the middle of the next one, often between the receiver's answer and
# the record of it; a short lease lets the next worker take over what a killed one held
DELIVER=("$SDRA" outbox deliver --data "$D" --crm "$CRM" --webhook-url "$HOOK" --outbox-lease-ms 300
         --outbox-retry-base-ms 20)
[ "$MAIL" = none ] || DELIVER+=(--mail "$MAIL" --deliver send)
busy_kills=0
touch "$T/deliver.out"
for k in $(seq 1 "$KILLS"); do
  before=$(wc -l < "$T/deliver.out")
  SDRA_WEBHOOK_SECRET=$SECRET "${DELIVER[@]}" >>"$T/deliver.out" 2>>"$T/deliver.log" &
  w=$!
  for i in $(seq 1 60); do
    [ "$(wc -l < "$T/deliver.out")" -gt "$before" ] && break
    [ $((i % 10)) = 0 ] && [ "$(sqlite3 "$D/sdra.db" "SELECT COUNT(*) FROM outbox WHERE state <> 'done'")" = 0 ] && break
    sleep 0.05
  done
  sleep "0.0$((RANDOM % 10))"
  kill -9 "$w" 2>/dev/null
  wait "$w" 2>/dev/null
  [ "$(sqlite3 "$D/sdra.db" "SELECT COUNT(*) FROM outbox WHERE state <> 'done'")" -gt 0 ] && busy_kills=$((busy_kills + 1))
done
sleep 0.4 # the last lease
SDRA_WEBHOOK_SECRET=$SECRET timeout 300 "${DELIVER[@]}" --once >>"$T/deliver.out" 2>>"$T/deliver.log" \
  || fail "the last worker failed"

# --- the store: every entry done -------------------------------------------------------------
left=$(sqlite3 "$D/sdra.db" "SELECT idem_key || ' ' || state || ' ' || last_error FROM outbox WHERE state <> 'done'")
[ -z "$left" ] || fail "entries not done: $left"

# --- the remote sides: nothing lost, nothing applied twice ----------------------------------
lost=0 dup=0 redelivered=0 tasks= crm_counts= mail_counts=
for k in $KINDS; do
  case "$k" in
    webhook)
      # call.completed for every call, and crm.synced for every call when CRM syncs ran
      read -r l dp rd < <(python3 - "$T/hook.jsonl" "$N" "$KINDS" <<'PY'
import json, sys, collections
rows = [json.loads(l) for l in open(sys.argv[1])]
bad = [r for r in rows if not r["valid"]]
assert not bad, bad                     # every request well-formed and correctly signed
n = int(sys.argv[2])
kinds = sys.argv[3].split()
types = ["call.completed"] + (["crm.synced"] if "crm.sync" in kinds else []) + \
        (["email.sent"] if "mail.deliver" in kinds else [])
lost = 0
for t in types:
    ok = {r["event_id"] for r in rows if r["status"] == 200 and r["type"] == t}
    lost += n - len(ok)
seen = collections.Counter(r["event_id"] for r in rows)
print(lost, 0, sum(v - 1 for v in seen.values()))
PY
      ) || fail "webhook log check"
      lost=$((lost + l)) dup=$((dup + dp)) redelivered=$((redelivered + rd))
      ;;
    crm.sync)
      if [ "$CRM" = local ]; then
        acts=$("$SDRA" crm activities --data "$D" --format json | python3 -c 'import json,sys; a=json.load(sys.stdin); print(len(a), len(set(r.get("call_id") for r in a)))')
        cons=$("$SDRA" crm contacts --data "$D" --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
      else
        [ -n "${OUTBOX_CRASH_CRM_COUNT:-}" ] || fail "OUTBOX_CRASH_CRM=$CRM needs OUTBOX_CRASH_CRM_COUNT"
        read -r a c tk < <(eval "$OUTBOX_CRASH_CRM_COUNT")
        acts="$a $a" cons=$c
        if [ -n "${tk:-}" ]; then # two tasks per call: fewer is a loss, more a duplicate
          [ "$tk" -lt $((2 * N)) ] && lost=$((lost + 2 * N - tk))
          [ "$tk" -gt $((2 * N)) ] && dup=$((dup + tk - 2 * N))
          tasks=$tk
        fi
      fi
      read -r na nd <<<"$acts"
      lost=$((lost + N - nd)) dup=$((dup + na - nd + cons - N))
      crm_counts="contacts=$cons activities=$na${tasks:+ tasks=$tasks}"
      ;;
    mail.deliver)
      [ -n "${OUTBOX_CRASH_MAIL_COUNT:-}" ] || fail "mail.deliver needs OUTBOX_CRASH_MAIL_COUNT"
      read -r msgs distinct < <(eval "$OUTBOX_CRASH_MAIL_COUNT")
      lost=$((lost + N - distinct)) dup=$((dup + msgs - distinct))
      mail_counts="emails=$msgs"
      ;;
  esac
done
echo "outbox_crash: kills=$KILLS (with work left: $busy_kills) entries=$TOTAL lost=$lost duplicates=$dup redelivered=$redelivered (kinds: $KINDS) calls=$N ${crm_counts:-} ${mail_counts:-}"
[ "$lost" = 0 ] || fail "$lost effects lost"
[ "$dup" = 0 ] || fail "$dup effects applied twice"
echo "ok: outbox_crash"
