#!/usr/bin/env bash
# server_audit.sh - the audit trail (issue 14, finding 8) end to end: every read of call data
# (list, detail, artifact, audio, events) and every auth failure (no key, bad key, wrong secret,
# revoked key, wrong scope) is recorded with the client's address; key creation, revocation and
# deletion by the CLI are recorded as "local"; `sdra audit` filters; `sdra audit verify` is ok,
# then names the entry an attacker changed with sqlite3; and when the audit write fails (a
# trigger makes the insert fail under the running server) the request is refused with 500 and
# no call data.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
FIX=${SDRA_FIXTURES:?SDRA_FIXTURES must name the generated calls}
AUDIO="$FIX/tiny.stereo.wav" # the shortest call: recognition is not the subject here
[ -f "$AUDIO" ] || { echo "FAIL: $AUDIO missing (tests/fixtures/generate.sh)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "FAIL: sqlite3 CLI missing (scripts/install-deps.sh)" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup server_audit

D="$T/data"
DB="$D/sdra.db"
WKEY=$("$SDRA" keys create --data "$D" --name writer --scope write) || fail "keys create failed"
RKEY=$("$SDRA" keys create --data "$D" --name reader --scope read) || fail "keys create (read) failed"
OLDKEY=$("$SDRA" keys create --data "$D" --name old --scope admin) || fail "keys create (admin) failed"
AKEY=$("$SDRA" keys create --data "$D" --name eraser --scope admin) || fail "keys create (admin 2) failed"
WID=${WKEY:5:12} RID=${RKEY:5:12} OLDID=${OLDKEY:5:12}

"$SDRA" serve --listen 127.0.0.1:0 --data "$D" --port-file "$T/port" --no-workers --log-level info 2>"$T/serve.log" &
PID=$!
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || fail "server did not start"
B="http://127.0.0.1:$(cat "$T/port")"
W=(-H "Authorization: Bearer $WKEY")
R=(-H "Authorization: Bearer $RKEY")
status() { curl -s -o "$T/body" -w '%{http_code}' --max-time 30 "$@"; }

# --- reads of call data ---------------------------------------------------------------------
code=$(status "${W[@]}" -F "audio=@$AUDIO;type=audio/wav" -F contact_email=jordan@acme.example "$B/v1/calls")
[ "$code" = 202 ] || fail "upload answered $code: $(cat "$T/body")"
ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/body") || fail "no id"
[ "$(status "${R[@]}" "$B/v1/calls")" = 200 ] || fail "list"
[ "$(status "${R[@]}" "$B/v1/calls/$ID")" = 200 ] || fail "detail"
grep -q jordan@acme.example "$T/body" || fail "detail lacks the metadata: $(cat "$T/body")"
[ "$(status "${R[@]}" "$B/v1/calls/$ID/audio")" = 200 ] || fail "audio"
# an artifact as a finished stage would record it (this server runs no workers)
printf '{"segments":[]}\n' > "$D/calls/$ID/transcript.json"
SUM=$(sha256sum "$D/calls/$ID/transcript.json" | cut -d' ' -f1)
sqlite3 "$DB" "INSERT INTO artifacts (call_id, name, stage, path, sha256, size_bytes, created_ms)
  VALUES ('$ID', 'transcript.json', 0, 'calls/$ID/transcript.json', '$SUM', 16, 1)" || fail "artifact row"
[ "$(status "${R[@]}" "$B/v1/calls/$ID/transcript")" = 200 ] || fail "artifact: $(cat "$T/body")"
curl -s -o /dev/null --max-time 1 "${R[@]}" "$B/v1/calls/$ID/events"   # a stream: cut after 1 s

# --- auth failures ----------------------------------------------------------------------------
[ "$(status "$B/v1/calls/$ID")" = 401 ] || fail "no key not 401"
[ "$(status -H 'Authorization: Bearer nope' "$B/v1/calls")" = 401 ] || fail "malformed key not 401"
[ "$(status -H "Authorization: Bearer ${WKEY:0:18}$(printf '0%.0s' $(seq 1 64))" "$B/v1/calls/$ID")" = 401 ] \
  || fail "wrong secret not 401"
[ "$(status "${R[@]}" -X DELETE "$B/v1/calls/$ID")" = 403 ] || fail "read key delete not 403"
"$SDRA" keys revoke --data "$D" old || fail "keys revoke"
[ "$(status -H "Authorization: Bearer $OLDKEY" "$B/v1/calls")" = 401 ] || fail "revoked key still works"
"$SDRA" keys delete --data "$D" old || fail "keys delete"
"$SDRA" keys list --data "$D" | grep -q " old " && fail "deleted key still listed"
"$SDRA" keys delete --data "$D" old 2>/dev/null && fail "deleting twice succeeded"

# --- the entries -------------------------------------------------------------------------------
"$SDRA" audit --data "$D" --format json --limit 1000 > "$T/audit.json" || fail "sdra audit failed"
python3 - "$T/audit.json" "$ID" "$WID" "$RID" "$OLDID" <<'PY' || fail "audit entries: $(cat "$T/audit.json")"
import json, sys
entries = json.load(open(sys.argv[1]))["entries"]
cid, wid, rid, oldid = sys.argv[2:6]
def has(action, actor=None, target=None, ip="127.0.0.1", detail=None):
    for e in entries:
        if e["action"] == action and (actor is None or e["actor"] == actor) and \
           (target is None or e["target"] == target) and e["ip"] == ip and \
           (detail is None or detail in e["detail"]):
            return
    sys.exit("no %s entry (actor %s target %s ip %s detail %s)" % (action, actor, target, ip, detail))
has("call.create", wid, cid)
has("calls.list", rid, "", detail=cid)
has("call.read", rid, cid)
has("audio.read", rid, cid)
has("artifact.read", rid, cid, detail="transcript.json")
has("events.read", rid, cid)
has("auth.fail", "-", cid, detail="missing API key")
has("auth.fail", "-", "", detail="malformed API key")
has("auth.fail", wid, cid, detail="unknown API key")
has("auth.fail", rid, cid, detail="403 DELETE")
has("auth.fail", oldid, "", detail="revoked")
for k, name, scope in ((wid, "writer", "write"), (rid, "reader", "read"), (oldid, "old", "admin")):
    has("key.create", None, k, ip="local", detail="name=%s scope=%s" % (name, scope))
has("key.revoke", None, oldid, ip="local")
has("key.delete", None, oldid, ip="local")
ids = [e["id"] for e in entries]
assert ids == sorted(ids, reverse=True), "not newest first"
for a, b in zip(entries, entries[1:]):
    assert a["prev_hash"] == b["hash"], "chain link %d -> %d" % (b["id"], a["id"])
PY
"$SDRA" audit --data "$D" --target "$ID" --action audio.read | grep -q "audio.read.*127.0.0.1" || fail "--target/--action filter"
n=$("$SDRA" audit --data "$D" --actor "$RID" --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))')
[ "$n" -ge 6 ] || fail "--actor filter found $n entries"
[ "$("$SDRA" audit --data "$D" --since 2999-01-01 --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))')" = 0 ] \
  || fail "--since in the future still lists entries"
"$SDRA" audit --data "$D" --since yesterday >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad --since not a usage error"
"$SDRA" audit --data "$D" --limit 0 >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad --limit not a usage error"

# --- a failed audit write fails the request -----------------------------------------------------
sqlite3 "$DB" "CREATE TRIGGER audit_down BEFORE INSERT ON audit_log BEGIN SELECT RAISE(FAIL, 'audit down'); END;" \
  || fail "trigger"
for path in "/v1/calls/$ID" "/v1/calls" "/v1/calls/$ID/audio" "/v1/calls/$ID/transcript"; do
  code=$(status "${R[@]}" "$B$path")
  [ "$code" = 500 ] || fail "GET $path with the audit log down answered $code"
  grep -q 'audit log write failed' "$T/body" || fail "GET $path: 500 body: $(head -c 300 "$T/body")"
  grep -q -e "$ID" -e jordan -e segments "$T/body" && fail "GET $path: call data in the refusal: $(head -c 300 "$T/body")"
  [ "$(wc -c < "$T/body")" -lt 300 ] || fail "GET $path: body of $(wc -c < "$T/body") bytes"
done
[ "$(status -H 'Authorization: Bearer nope' "$B/v1/calls")" = 500 ] || fail "auth failure with the audit log down not 500"
[ "$(status -H "Authorization: Bearer $AKEY" -X DELETE "$B/v1/calls/$ID")" = 500 ] || fail "delete with the audit log down not 500"
[ -d "$D/calls/$ID" ] || fail "the call was deleted although its audit entry failed"
"$SDRA" keys create --data "$D" --name later --scope read > "$T/key.out" 2>"$T/key.err" && fail "key created without audit"
[ -s "$T/key.out" ] && fail "a key was printed although its audit entry failed"
grep -q "audit" "$T/key.err" || fail "keys create error: $(cat "$T/key.err")"
"$SDRA" keys list --data "$D" | grep -q " later " && fail "unaudited key left in the store"
grep -q "audit log write failed" "$T/serve.log" || fail "the server did not log the audit failure"
sqlite3 "$DB" "DROP TRIGGER audit_down" || fail "drop trigger"
[ "$(status "${R[@]}" "$B/v1/calls/$ID")" = 200 ] || fail "detail after the audit log is back"

# --- verify, then tamper ----------------------------------------------------------------------
out=$("$SDRA" audit verify --data "$D") || fail "verify on an intact log: $out"
[[ $out =~ ^ok,\ [0-9]+\ entries ]] || fail "verify output: $out"
EID=$(sqlite3 "$DB" "SELECT id FROM audit_log WHERE action = 'audio.read' LIMIT 1")
sqlite3 "$DB" "UPDATE audit_log SET actor = 'someone-else' WHERE id = $EID" || fail "tamper"
"$SDRA" audit verify --data "$D" > "$T/v.out" 2> "$T/v.err"; rc=$?
[ $rc -eq 1 ] || fail "verify on a changed log exited $rc: $(cat "$T/v.out" "$T/v.err")"
grep -q "entry $EID" "$T/v.err" || fail "verify does not name entry $EID: $(cat "$T/v.err")"
NEXT=$(sqlite3 "$DB" "SELECT MIN(id) FROM audit_log WHERE id > $EID")
sqlite3 "$DB" "UPDATE audit_log SET actor = (SELECT actor FROM audit_log WHERE id = $NEXT) WHERE id = $EID; DELETE FROM audit_log WHERE id = $EID" \
  || fail "tamper (delete)"
"$SDRA" audit verify --data "$D" 2> "$T/v.err" >/dev/null; rc=$?
[ $rc -eq 1 ] && grep -q "entry $NEXT" "$T/v.err" || fail "verify after a removed entry: rc $rc, $(cat "$T/v.err")"
echo "ok: server audit trail"
