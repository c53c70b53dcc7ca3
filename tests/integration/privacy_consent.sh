#!/usr/bin/env bash
# privacy_consent.sh - per-call consent (issue 14): the upload form's consent field (obtained |
# not_required | unknown, default unknown) is stored in call.json and recorded in the audit
# trail at submission; with the organisation's require_consent an upload without obtained or
# not_required is refused with 422 consent_required (audited, no call created), while one with
# consent goes through; a bad value is 400; `sdra run --consent` checks its value.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib/privacy.sh"
pv_setup privacy_consent
WID=${WKEY:5:12}
pv_start --retention-sweep-s 0
up() { status "${W[@]}" -F "audio=@$AUDIO;type=audio/wav" -F contact_email=lee@acme.example "$@" "$B/v1/calls"; }
calls() { sqlite3 "$DB" "SELECT COUNT(*) FROM calls"; }

# --- without a policy: consent defaults to unknown, is stored and audited --------------------------
[ "$(up)" = 202 ] || fail "upload without consent: $(cat "$T/body")"
ID=$(json 'd["id"]')
python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1])).get("consent") != "unknown")' "$D/calls/$ID/call.json" \
  || fail "call.json consent: $(cat "$D/calls/$ID/call.json")"
sqlite3 "$DB" "SELECT actor, detail FROM audit_log WHERE action = 'call.consent' AND target = '$ID'" > "$T/entry"
grep -q "^$WID|consent=unknown org=default subject=s-" "$T/entry" || fail "consent entry: $(cat "$T/entry")"
[ "$(up -F consent=maybe)" = 400 ] || fail "consent=maybe not 400: $(cat "$T/body")"
grep -q "consent" "$T/body" || fail "400 does not name the field: $(cat "$T/body")"

# --- require_consent ----------------------------------------------------------------------------------
[ "$(status "${A[@]}" -X PUT -d '{"require_consent":true}' "$B/v1/retention")" = 200 ] || fail "PUT: $(cat "$T/body")"
n=$(calls)
for v in "" unknown; do
  if [ -z "$v" ]; then code=$(up); else code=$(up -F "consent=$v"); fi
  [ "$code" = 422 ] || fail "consent '$v' under require_consent answered $code: $(cat "$T/body")"
  [ "$(json 'd["error"]["code"]')" = consent_required ] || fail "error code: $(cat "$T/body")"
done
[ "$(calls)" = "$n" ] || fail "a refused upload created a call"
[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM audit_log WHERE action = 'call.refused' AND detail LIKE 'consent=unknown%'")" = 2 ] \
  || fail "refusals not audited"
ls "$D/tmp" | grep -q . && fail "a refused upload left its file in tmp/"
for v in obtained not_required; do
  [ "$(up -F "consent=$v")" = 202 ] || fail "consent=$v refused: $(cat "$T/body")"
  ID=$(json 'd["id"]')
  grep -q "\"consent\": *\"$v\"" "$D/calls/$ID/call.json" || fail "call.json: $(cat "$D/calls/$ID/call.json")"
  sqlite3 "$DB" "SELECT detail FROM audit_log WHERE action = 'call.consent' AND target = '$ID'" | grep -q "^consent=$v " \
    || fail "consent=$v not audited"
done
"$SDRA" audit verify --data "$D" >"$T/verify.out" 2>&1 || fail "audit verify: $(cat "$T/verify.out")"

# --- sdra run --consent -----------------------------------------------------------------------------------
"$SDRA" run --help | grep -q -- "--consent" || fail "run --help lacks --consent"
"$SDRA" run "$AUDIO" --consent sometimes --out "$T/out" 2>"$T/err.txt"
[ $? = 2 ] && grep -q "consent" "$T/err.txt" || fail "run --consent sometimes: $(cat "$T/err.txt")"
echo ok
