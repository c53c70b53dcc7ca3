#!/usr/bin/env bash
# privacy_consent.sh - per-call consent (issue 14): the upload form's consent field (obtained |
# not_required | unknown, default unknown) is stored in call.json and recorded in the audit
# trail at submission; with the organisation's require_consent an upload without obtained or
# not_required is refused with 422 consent_required (audited, no call created), while one with
# consent goes through; a bad value is 400; `sdra run --consent` checks its value. A live call
# under the same policy is closed at start (1008 consent_required, audited, no call) unless its
# stream parameters carry consent.
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

# --- a live call under the same policy: refused at start without consent, audited, nothing kept ---
PY=
for p in python3 /usr/bin/python3; do "$p" -c 'import websockets' 2>/dev/null && { PY=$p; break; }; done
[ -n "$PY" ] || fail "python3-websockets missing (scripts/install-deps.sh)"
CLIENT="$(dirname "${BASH_SOURCE[0]}")/lib/live_client.py"
head -c 16000 /dev/zero | tr '\0' '\377' >"$T/silence.ulaw" # 1 s of mu-law silence, two tracks
n=$(calls)
for v in "" unknown; do
  prm=(); [ -n "$v" ] && prm=(--param "consent=$v")
  timeout 60 "$PY" "$CLIENT" stream "ws://127.0.0.1:${B##*:}/v1/live/twilio" "$T/silence.ulaw" --sid "CA-noconsent$v" \
    --stop --auth "$WKEY" "${prm[@]}" --wait 20 >"$T/live.jsonl" 2>"$T/live.err" || fail "live stream: $(tail -2 "$T/live.err")"
  python3 - "$T/live.jsonl" <<'PY' || fail "a live call without consent (${v:-none}): $(tail -2 "$T/live.jsonl")"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
close = [e for e in evs if "close" in e][-1]
assert close["close"] == 1008 and close["reason"].startswith("consent_required:"), close
assert not any(e.get("event") for e in evs), evs
PY
done
[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM audit_log WHERE action = 'call.refused' AND detail LIKE 'live call: consent=unknown%'")" = 2 ] \
  || fail "live refusals not audited"
timeout 60 "$PY" "$CLIENT" stream "ws://127.0.0.1:${B##*:}/v1/live/twilio?events=1" "$T/silence.ulaw" --sid CA-consent \
  --stop --auth "$WKEY" --param consent=obtained --wait 60 >"$T/live.jsonl" 2>"$T/live.err" || fail "live stream: $(tail -2 "$T/live.err")"
grep -q '"event": "done"' "$T/live.jsonl" || fail "a live call with consent did not end with done: $(tail -2 "$T/live.jsonl")"
[ "$(calls)" = $((n + 1)) ] || fail "live calls: $(calls) calls, expected $((n + 1)) (only the one with consent)"
"$SDRA" audit verify --data "$D" >"$T/verify.out" 2>&1 || fail "audit verify: $(cat "$T/verify.out")"

# --- sdra run --consent -----------------------------------------------------------------------------------
"$SDRA" run --help | grep -q -- "--consent" || fail "run --help lacks --consent"
"$SDRA" run "$AUDIO" --consent sometimes --out "$T/out" 2>"$T/err.txt"
[ $? = 2 ] && grep -q "consent" "$T/err.txt" || fail "run --consent sometimes: $(cat "$T/err.txt")"
echo ok
