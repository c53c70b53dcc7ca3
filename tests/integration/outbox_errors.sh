#!/usr/bin/env bash
# outbox_errors.sh - remote failures as the outbox records them (issue 13): each is one line in
# `sdra outbox show`, a permanent one ends dead at once, a transient one is retried with backoff
# and ends dead after --outbox-max-attempts, never retried forever. Against the HubSpot and
# Gmail stand-ins (tests/servers/hubspot.py, mail_apis.py): a wrong token, an expired one, a 400
# naming a field, a deleted owner (404), a 409, a 500 that does not go away; Gmail: a wrong
# token, 500s. (SMTP 4xx/5xx, a full mailbox and a TLS failure through the outbox are in
# mail_smtp_imap.sh, which has the real mail servers.)
# Also, on the same stand-ins:
#  - organisations (docs/connectors.md): the default org syncs with SDRA_HUBSPOT_*, org acme
#    with its own SDRA_ORG_ACME__HUBSPOT_* (a second HubSpot account), org zeta without settings
#    is dead with a clear line; acme's records land in acme's account only, the default
#    account never sees acme's token (nor acme's the default's); the entry shows settings_of;
#  - a kill -9 while Gmail holds the answer to a send (the message is kept): the next worker
#    claims the cut-off entry, finds the Message-ID in Gmail (rfc822msgid:) and records it done
#    without a second send;
#  - secrets from files (docs/config.md): NAME_FILE with a trailing newline works, NAME and
#    NAME_FILE both set is one line and exit 2, an unreadable file is one line and exit 2.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
SRC=${SDRA_SRC:?SDRA_SRC must name the source tree}
command -v sqlite3 >/dev/null || { echo "FAIL: sqlite3 CLI missing" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib/outbox.sh"
it_setup outbox_errors
unset SDRA_CONFIG SDRA_HUBSPOT_REFRESH_TOKEN SDRA_HUBSPOT_OWNER_ID SDRA_GMAIL_REFRESH_TOKEN

python3 "$SRC/tests/servers/hubspot.py" --port-file "$T/h1.port" --token hs-default-tok 2>"$T/h1.log" &
PIDS+=($!)
python3 "$SRC/tests/servers/hubspot.py" --port-file "$T/h2.port" --token hs-acme-tok 2>"$T/h2.log" &
PIDS+=($!)
python3 "$SRC/tests/servers/mail_apis.py" --api gmail --port-file "$T/gm.port" --token gm-tok 2>"$T/gm.log" &
PIDS+=($!)
for p in h1 h2 gm; do wait_port_file "$T/$p.port" "stand-in $p did not start"; done
H1="http://127.0.0.1:$(cat "$T/h1.port")" H2="http://127.0.0.1:$(cat "$T/h2.port")"
GM="http://127.0.0.1:$(cat "$T/gm.port")"
ctl() { curl -sf -X POST -H 'Content-Type: application/json' -d "$2" "$1/__control" >/dev/null || fail "control $2"; }
export SDRA_HUBSPOT_URL="$H1" SDRA_HUBSPOT_TOKEN=hs-default-tok SDRA_GMAIL_URL="$GM" SDRA_GMAIL_TOKEN=gm-tok
D="$T/data"
"$SDRA" outbox list --data "$D" >/dev/null || fail "cannot create the store"

pkg() { # pkg CALL: a package directory for CALL
  local P="$T/pkg/$1"
  mkdir -p "$P"
  printf '{"schema":"sdra.call/1","id":"%s","contact_email":"jo-%s@prospect.example","contact_name":"Jo Lee","call_date":"2026-11-24","rep_email":"rep@seller.example"}\n' "$1" "$1" > "$P/call.json"
  printf '{"schema":"sdra.analysis/1","summary":"call %s","contact_preferences":{"do_not_call":false,"do_not_email":false},"action_items":[{"owner":"rep","text":"send the deck","due":"2026-11-26"}]}\n' "$1" > "$P/analysis.json"
  printf 'From: rep@seller.example\r\nTo: jo-%s@prospect.example\r\nSubject: Next steps\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%s@sdra.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello.\r\n' "$1" "$1" > "$P/email.eml"
  echo "$P"
}
queue() { # queue KIND CALL [ORG]: one entry for the call's package
  local P pay key org=${3:-default}
  P=$(pkg "$2")
  if [ "$1" = crm.sync ]; then
    key="crm.sync:$2"
    pay="{\"call_id\":\"$2\",\"backend\":\"hubspot\",\"dir\":\"$P\",\"settings_of\":\"$org\"}"
  else
    key="mail.deliver:$2"
    pay="{\"call_id\":\"$2\",\"transport\":\"gmail\",\"mode\":\"send\",\"message_id\":\"<$2@sdra.test>\",\"rcpt\":[\"jo-$2@prospect.example\"],\"eml\":\"email.eml\",\"dir\":\"$P\"}"
  fi
  sqlite3 "$D/sdra.db" "INSERT INTO outbox (idem_key, call_id, kind, payload, state, created_ms, org) VALUES ('$key', '$2', '$1', '$pay', 'queued', 1, '$org');" \
    || fail "cannot queue $key"
}
deliver() { outbox_drain "$D"; }
expect() { outbox_expect "$D" "$@"; }
SECRETS_RE='hs-default-tok|hs-acme-tok|gm-tok'

# --- HubSpot: permanent errors end dead at once, a transient one after the attempts ------------
queue crm.sync e-token
SDRA_HUBSPOT_TOKEN=hs-wrong-tok deliver
expect crm.sync:e-token dead 1 "crm.sync: CRM sync of call e-token: HubSpot" "HTTP 401" "credentials were refused"
queue crm.sync e-field
ctl "$H1" '{"reject_option":{"type":"calls","property":"hs_call_status","value":"COMPLETED"}}'
deliver
expect crm.sync:e-field dead 1 "HTTP 400" "field hs_call_status"
ctl "$H1" '{"unreject":true}'
queue crm.sync e-conflict
ctl "$H1" '{"fail":[{"status":409,"path":"/crm/v3/objects/tasks/batch/upsert"}]}'
deliver
expect crm.sync:e-conflict dead 1 "HTTP 409"
queue crm.sync e-owner
ctl "$H1" '{"archive_owner":"101"}'
SDRA_HUBSPOT_OWNER_ID=101 deliver
expect crm.sync:e-owner dead 1 "HubSpot owner 101" "HTTP 404"
queue crm.sync e-expired
ctl "$H1" '{"expire_token":true}'
deliver
expect crm.sync:e-expired dead 1 "HTTP 401" "EXPIRED_AUTHENTICATION"
# a 500 that does not go away: retried with backoff, dead after --outbox-max-attempts (3)
python3 "$SRC/tests/servers/hubspot.py" --port-file "$T/h4.port" --token hs-default-tok 2>"$T/h4.log" &
PIDS+=($!)
wait_port_file "$T/h4.port" "stand-in h4 did not start"
H4="http://127.0.0.1:$(cat "$T/h4.port")"
queue crm.sync e-500
ctl "$H4" '{"fail":[{"status":500,"path":"/crm/v3/objects/calls/batch/upsert","count":1000}]}'
SDRA_HUBSPOT_URL="$H4" deliver
expect crm.sync:e-500 dead 3 "HTTP 500"
grep -q "crm.sync:e-500 queued" "$T/deliver.out" || fail "the 500 was not retried: $(cat "$T/deliver.out")"

# --- Gmail ----------------------------------------------------------------------------------
queue mail.deliver m-token
SDRA_GMAIL_TOKEN=gm-wrong deliver
expect mail.deliver:m-token dead 1 "mail: " "401"
queue mail.deliver m-500
curl -sf -X POST -H 'Content-Type: application/json' -d '{"modes":["500","500","500","500","500","500"]}' "$GM/control" >/dev/null
deliver
expect mail.deliver:m-500 dead 3 "mail: " "500"

# --- a kill -9 between Gmail's send and the record of it: the next worker asks Gmail --------
python3 "$SRC/tests/servers/mail_apis.py" --api gmail --port-file "$T/gs.port" --token gm-tok --slow-ms 20000 \
  2>"$T/gs.log" &
PIDS+=($!)
wait_port_file "$T/gs.port" "slow Gmail stand-in did not start"
GS="http://127.0.0.1:$(cat "$T/gs.port")"
sent() { curl -sf "$GS/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sent"])'; }
queue mail.deliver m-cut
SDRA_GMAIL_URL="$GS" "$SDRA" outbox deliver --data "$D" --outbox-lease-ms 300 >"$T/cut.out" 2>"$T/cut.log" &
w=$!
for _ in $(seq 1 100); do [ "$(sent)" = 1 ] && break; sleep 0.1; done
[ "$(sent)" = 1 ] || fail "the message was not sent before the kill"
kill -9 $w; wait $w 2>/dev/null
"$SDRA" outbox show --data "$D" mail.deliver:m-cut | grep -q "^state: *running" || fail "the cut-off entry is not running"
sleep 0.5 # the lease
SDRA_GMAIL_URL="$GS" deliver
expect mail.deliver:m-cut done 2
grep -q "^remote_id: *<m-cut@sdra.test>" "$T/show.txt" || fail "cut-off send not found by the probe: $(cat "$T/show.txt")"
[ "$(sent)" = 1 ] || fail "the cut-off email was sent again: $(sent) messages"

# --- organisations: each its own HubSpot account, or a refusal ------------------------------
python3 "$SRC/tests/servers/hubspot.py" --port-file "$T/h3.port" --token hs-default-tok 2>"$T/h3.log" &
PIDS+=($!)
wait_port_file "$T/h3.port" "stand-in h3 did not start"
H3="http://127.0.0.1:$(cat "$T/h3.port")"   # a fresh default account (H1 has the failures above)
queue crm.sync o-default default
queue crm.sync o-acme acme
queue crm.sync o-zeta zeta
SDRA_HUBSPOT_URL="$H3" SDRA_ORG_ACME__HUBSPOT_URL="$H2" SDRA_ORG_ACME__HUBSPOT_TOKEN=hs-acme-tok deliver
expect crm.sync:o-default done 1
expect crm.sync:o-acme done 1
grep -q '"settings_of":"acme"' "$T/show.txt" || fail "the entry does not say whose settings: $(cat "$T/show.txt")"
expect crm.sync:o-zeta dead 1 "organisation zeta has no HubSpot settings of its own" "SDRA_ORG_ZETA__HUBSPOT_TOKEN"
curl -sf "$H3/__dump" > "$T/dump.h3.json" || fail "dump h3"
curl -sf "$H2/__dump" > "$T/dump.h2.json" || fail "dump h2"
python3 - "$T/dump.h3.json" "$T/dump.h2.json" <<'PY' || fail "org separation"
import json, sys
dflt, acme = (json.load(open(p)) for p in sys.argv[1:3])
ids = lambda d: sorted(c["properties"].get("sdra_call_id") for c in d["objects"].get("calls", []))
assert ids(dflt) == ["o-default"], ids(dflt)
assert ids(acme) == ["o-acme"], ids(acme)
assert all(r["status"] != 401 for r in dflt["log"] + acme["log"]), "a token was sent to the other account"
PY

# --- secrets from files ---------------------------------------------------------------------
printf 'hs-default-tok\n' > "$T/tok"
env -u SDRA_HUBSPOT_TOKEN SDRA_HUBSPOT_TOKEN_FILE="$T/tok" SDRA_HUBSPOT_URL="$H3" \
  "$SDRA" connectors test --crm hubspot > "$T/out.txt" 2>"$T/err.txt" || fail "a token from a file: $(cat "$T/out.txt" "$T/err.txt")"
grep -q "^crm hubspot: ok" "$T/out.txt" || fail "connectors test with a token file: $(cat "$T/out.txt")"
printf '%s\n' "$H3" > "$T/url"
env -u SDRA_HUBSPOT_URL SDRA_HUBSPOT_URL_FILE="$T/url" "$SDRA" connectors test --crm hubspot > "$T/out.txt" 2>"$T/err.txt" \
  || fail "a URL from a file: $(cat "$T/out.txt" "$T/err.txt")"
SDRA_HUBSPOT_TOKEN_FILE="$T/tok" "$SDRA" connectors test --crm hubspot > "$T/out.txt" 2>"$T/err.txt"; rc=$?
[ $rc = 2 ] || fail "NAME and NAME_FILE both set: exit $rc"
[ "$(cat "$T/err.txt")" = "sdra: SDRA_HUBSPOT_TOKEN and SDRA_HUBSPOT_TOKEN_FILE are both set: use one of them" ] \
  || fail "both set: $(cat "$T/err.txt")"
env -u SDRA_HUBSPOT_TOKEN SDRA_HUBSPOT_TOKEN_FILE="$T/missing" "$SDRA" connectors test --crm hubspot > "$T/out.txt" 2>"$T/err.txt"; rc=$?
[ $rc = 2 ] && [ "$(grep -c '' "$T/err.txt")" = 1 ] && grep -q "SDRA_HUBSPOT_TOKEN_FILE: " "$T/err.txt" \
  || fail "a missing token file: exit $rc: $(cat "$T/err.txt")"
printf 'two\nlines\n' > "$T/two"
env -u SDRA_HUBSPOT_TOKEN SDRA_ORG_ACME__HUBSPOT_TOKEN_FILE="$T/two" "$SDRA" connectors test --crm hubspot > "$T/out.txt" 2>"$T/err.txt"; rc=$?
[ $rc = 2 ] && grep -q "SDRA_ORG_ACME__HUBSPOT_TOKEN_FILE: the file holds a control character" "$T/err.txt" \
  || fail "a two-line token file: exit $rc: $(cat "$T/err.txt")"
! grep -q -e two -e lines "$T/err.txt" || fail "the file's content was printed"
echo "ok: outbox_errors"
