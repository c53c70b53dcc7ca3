#!/usr/bin/env bash
# server_tenants.sh - organisations, scopes and quotas of `sdra serve` (issue 14), over real
# HTTP: two organisations with a read, a write and an admin key each. Another organisation's
# call is 404 on every call route and absent from lists; the whole scope matrix (every route x
# read/write/admin: the expected status, 403 insufficient_scope in the caller's own org); the
# key API (/v1/keys) sees and changes the caller's organisation only; both quotas (429
# quota_active with Retry-After, 507 quota_storage) and that an upload is accepted again once
# below them; local CRM rows are scoped by organisation (CLI and erasure).
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
FIX=${SDRA_FIXTURES:?SDRA_FIXTURES must name the generated calls}
AUDIO="$FIX/short.mulaw8k.wav"
[ -f "$AUDIO" ] || { echo "FAIL: $AUDIO missing (tests/fixtures/generate.sh)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "FAIL: sqlite3 CLI missing" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup server_tenants

D="$T/data"
key() { "$SDRA" keys create --data "$D" --org "$1" --name "$2" --scope "$3" || fail "keys create $1/$2"; }
AR=$(key acme acme-r read) AW=$(key acme acme-w write) AA=$(key acme acme-a admin)
ZR=$(key zeta zeta-r read) ZW=$(key zeta zeta-w write) ZA=$(key zeta zeta-a admin)
DEF=$("$SDRA" keys create --data "$D" --name plain --scope read) || fail "keys create without --org"
"$SDRA" keys create --data "$D" --org "Bad Org" --name x --scope read >/dev/null 2>"$T/err"; [ $? -eq 2 ] \
  || fail "a bad --org is not a usage error"
"$SDRA" keys list --data "$D" > "$T/keys.txt" || fail "keys list"
grep -q "^${DEF:5:12} .* default " "$T/keys.txt" || fail "a key without --org is not in 'default': $(cat "$T/keys.txt")"
"$SDRA" keys list --data "$D" --org acme > "$T/keys.txt" || fail "keys list --org"
[ "$(grep -c ' acme ' "$T/keys.txt")" = 3 ] && ! grep -q zeta "$T/keys.txt" \
  || fail "keys list --org acme: $(cat "$T/keys.txt")"

"$SDRA" serve --listen 127.0.0.1:0 --data "$D" --port-file "$T/port" --no-workers --log-level info \
  2>"$T/serve.log" &
PID=$!
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || fail "server did not start"
B="http://127.0.0.1:$(cat "$T/port")"

# st KEY CURL_ARGS...: the HTTP status only (body in $T/body, headers in $T/hdr; both emptied
# first, so that a request that gets no answer leaves no earlier body behind). 60 s: an upload
# is written and fsynced before its answer, and CI runs this beside the decoding tests.
# Each request's time goes to $T/times.log (printed, slowest first, at the end; its tail on a failure).
st() {
  local k=$1; shift
  : > "$T/body"; : > "$T/hdr"
  local out
  out=$(curl -s -D "$T/hdr" -o "$T/body" -w '%{http_code} %{time_total}' --max-time 60 -H "Authorization: Bearer $k" "$@")
  echo "${out#* } ${out%% *} ${*: -1}" >> "$T/times.log"
  echo "${out%% *}"
}
# expect WANT ERRCODE WHAT KEY CURL_ARGS...
expect() {
  local want=$1 ecode=$2 what=$3; shift 3
  local got; got=$(st "$@")
  [ "$got" = "$want" ] || fail "$what: got $got, want $want: $(head -c 300 "$T/body")"
  if [ -n "$ecode" ]; then
    python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["error"]; assert e["code"]==sys.argv[2] and e["message"], e' \
      "$T/body" "$ecode" || fail "$what: error body $(head -c 300 "$T/body")"
  fi
}
# upload KEY: uploads the audio; prints the new call's id.
upload() {
  local code; code=$(st "$1" -H 'Content-Type: audio/wav' --data-binary @"$AUDIO" "$B/v1/calls")
  [ "$code" = 202 ] || fail "upload answered $code: $(head -c 300 "$T/body")"
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/body"
}
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$T/body"; }

CA=$(upload "$AW") CZ=$(upload "$ZW")

# --- another organisation's call: 404 on every call route, absent from lists -----------------
for pair in "$ZR:$ZA:$ZW:$CA" "$AR:$AA:$AW:$CZ"; do
  IFS=: read -r r a w other <<<"$pair"
  for sub in "" /audio /transcript /analysis /email /crm /report /events; do
    expect 404 not_found "GET another org's call$sub" "$r" "$B/v1/calls/$other$sub"
  done
  expect 404 not_found "GET another org's call (admin)" "$a" "$B/v1/calls/$other"
  expect 404 not_found "retry another org's call" "$w" -X POST "$B/v1/calls/$other/retry"
  expect 404 not_found "retry another org's call (admin)" "$a" -X POST "$B/v1/calls/$other/retry"
  expect 404 not_found "delete another org's call" "$a" -X DELETE "$B/v1/calls/$other"
  expect 200 "" "list" "$r" "$B/v1/calls?limit=100"
  ids=$(json '" ".join(c["id"] for c in d["calls"])')
  [[ " $ids " == *" $other "* ]] && fail "another org's call $other is listed: $ids"
  [ -n "$ids" ] || fail "the org's own call is not listed"
  for status in queued; do
    expect 200 "" "list $status" "$r" "$B/v1/calls?status=$status"
    [[ "$(cat "$T/body")" == *"$other"* ]] && fail "another org's call in the $status list"
  done
done
expect 200 "" "own call" "$ZR" "$B/v1/calls/$CZ"
expect 200 "" "default org sees neither" "$DEF" "$B/v1/calls"
[ "$(json 'len(d["calls"])')" = 0 ] || fail "the default org lists other orgs' calls: $(cat "$T/body")"
[ -d "$D/calls/$CA" ] || fail "a cross-org delete removed the call directory"

# --- the scope matrix in the caller's own organisation ----------------------------------------
# scope ROUTE-DESCRIPTION READ-STATUS WRITE-STATUS ADMIN-STATUS CURL_ARGS... ("{id}" = a fresh
# call per key for DELETE, "{key}" = a fresh key of acme to delete or revoke)
matrix() {
  local what=$1 sr=$2 sw=$3 sa=$4; shift 4
  local k want i=0 args
  for k in "$AR" "$AW" "$AA"; do
    want=$([ $i = 0 ] && echo "$sr" || { [ $i = 1 ] && echo "$sw" || echo "$sa"; })
    args=("$@")
    if [[ "${args[*]}" == *"{id}"* ]]; then
      local id; id=$(upload "$AW")
      args=("${args[@]//\{id\}/$id}")
    fi
    if [[ "${args[*]}" == *"{key}"* ]]; then
      local kid; kid=$("$SDRA" keys create --data "$D" --org acme --name "m$RANDOM$i" --scope read) || fail "key for matrix"
      args=("${args[@]//\{key\}/${kid:5:12}}")
    fi
    expect "$want" "$([ "$want" = 403 ] && echo insufficient_scope)" "$what as ${k:5:12} ($i)" "$k" "${args[@]}"
    i=$((i + 1))
  done
}
matrix "GET /v1/calls" 200 200 200 "$B/v1/calls"
matrix "GET /v1/calls/{id}" 200 200 200 "$B/v1/calls/$CA"
matrix "GET audio" 200 200 200 "$B/v1/calls/$CA/audio"
for art in transcript analysis email crm report; do # not produced yet: readable, but 404
  matrix "GET $art" 404 404 404 "$B/v1/calls/$CA/$art"
done
matrix "GET events" 200 200 200 --max-time 2 "$B/v1/calls/$CA/events"
matrix "POST /v1/calls" 403 202 202 -H 'Content-Type: audio/wav' --data-binary @"$AUDIO" "$B/v1/calls"
matrix "POST retry (nothing failed)" 403 409 409 -X POST "$B/v1/calls/$CA/retry"
matrix "DELETE /v1/calls/{id}" 403 403 204 -X DELETE "$B/v1/calls/{id}"
matrix "GET /v1/keys" 403 403 200 "$B/v1/keys"
matrix "POST /v1/keys" 403 403 201 -H 'Content-Type: application/json' -d "{\"name\":\"k$RANDOM\",\"scope\":\"read\"}" "$B/v1/keys"
matrix "POST /v1/keys/{id}/revoke" 403 403 200 -X POST "$B/v1/keys/{key}/revoke"
matrix "DELETE /v1/keys/{id}" 403 403 204 -X DELETE "$B/v1/keys/{key}"
python3 - "$D/sdra.db" <<'PY' || fail "a refused scope left no auth.fail audit entry naming it"
import sqlite3, sys
n = sqlite3.connect(sys.argv[1]).execute(
    "SELECT COUNT(*) FROM audit_log WHERE action = 'auth.fail' AND org = 'acme' AND detail LIKE '403 %'").fetchone()[0]
assert n >= 10, n
PY

# --- the key API: the caller's organisation only -------------------------------------------------
expect 200 "" "GET /v1/keys" "$AA" "$B/v1/keys"
[ "$(json 'all(k["org"] == "acme" for k in d["keys"]) and d["org"] == "acme"')" = True ] || fail "key list: $(head -c 400 "$T/body")"
[[ "$(cat "$T/body")" == *"${ZR:5:12}"* || "$(cat "$T/body")" == *zeta* ]] && fail "another org's key is listed"
grep -q '"hash"' "$T/body" && fail "key hashes are listed"
expect 404 not_found "revoke another org's key" "$AA" -X POST "$B/v1/keys/${ZR:5:12}/revoke"
expect 404 not_found "delete another org's key" "$AA" -X DELETE "$B/v1/keys/${ZR:5:12}"
expect 200 "" "the other org's key still works" "$ZR" "$B/v1/calls/$CZ"
expect 201 "" "create a key" "$AA" -H 'Content-Type: application/json' -d '{"name":"acme-bot","scope":"write"}' "$B/v1/keys"
NEW=$(json 'd["key"]')
[ "$(json 'd["org"]+" "+d["scope"]')" = "acme write" ] || fail "created key: $(cat "$T/body")"
[[ $NEW =~ ^sdra_[0-9a-f]{12}_[0-9a-f]{64}$ ]] || fail "created key format: $NEW"
expect 200 "" "the new key reads its org" "$NEW" "$B/v1/calls/$CA"
expect 404 not_found "the new key does not see the other org" "$NEW" "$B/v1/calls/$CZ"
expect 409 conflict "duplicate key name" "$AA" -d '{"name":"acme-bot","scope":"read"}' "$B/v1/keys"
expect 400 invalid_input "bad scope" "$AA" -d '{"name":"x1","scope":"root"}' "$B/v1/keys"
expect 400 invalid_input "not JSON" "$AA" -d 'name=x' "$B/v1/keys"
expect 400 invalid_input "key name shaped like an id" "$AA" -d '{"name":"0123456789ab","scope":"read"}' "$B/v1/keys"
expect 413 limit_exceeded "huge body" "$AA" -d "{\"name\":\"$(head -c 5000 /dev/zero | tr '\0' a)\",\"scope\":\"read\"}" "$B/v1/keys"
expect 405 method_not_allowed "PUT /v1/keys" "$AA" -X PUT "$B/v1/keys"
expect 200 "" "revoke" "$AA" -X POST "$B/v1/keys/${NEW:5:12}/revoke"
expect 409 conflict "revoke twice" "$AA" -X POST "$B/v1/keys/${NEW:5:12}/revoke"
expect 401 unauthorized "revoked key" "$NEW" "$B/v1/calls"
expect 204 "" "delete" "$AA" -X DELETE "$B/v1/keys/${NEW:5:12}"
expect 404 not_found "delete twice" "$AA" -X DELETE "$B/v1/keys/${NEW:5:12}"
python3 - "$D/sdra.db" "${NEW:5:12}" <<'PY' || fail "key changes over the API are not audited in the org"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
acts = {r[0] for r in db.execute("SELECT action FROM audit_log WHERE target = ? AND org = 'acme'", (sys.argv[2],))}
assert {"key.create", "key.revoke", "key.delete"} <= acts, acts
PY
"$SDRA" audit verify --data "$D" >"$T/verify.out" 2>&1 || fail "audit chain: $(cat "$T/verify.out")"

# --- quotas: calls in flight (429) and storage (507) -------------------------------------------
expect 200 "" "list" "$AR" "$B/v1/calls?limit=100&status=queued"
N=$(json 'len(d["calls"])')
"$SDRA" orgs set acme --max-active "$N" --data "$D" >/dev/null || fail "orgs set --max-active"
expect 429 quota_active "upload over the in-flight quota" "$AW" -H 'Content-Type: audio/wav' --data-binary @"$AUDIO" "$B/v1/calls"
grep -qi '^Retry-After:' "$T/hdr" || fail "429 without Retry-After"
upload "$ZW" >/dev/null # another organisation is not held back
expect 204 "" "erase one acme call" "$AA" -X DELETE "$B/v1/calls/$CA"
upload "$AW" >/dev/null # below the quota again: accepted
expect 429 quota_active "at the quota again" "$AW" -H 'Content-Type: audio/wav' --data-binary @"$AUDIO" "$B/v1/calls"
"$SDRA" orgs set acme --max-active 0 --data "$D" >/dev/null || fail "orgs set --max-active 0"
upload "$AW" >/dev/null # 0: unlimited

"$SDRA" orgs set zeta --max-storage-mb 1 --data "$D" >/dev/null || fail "orgs set --max-storage-mb"
SIZE=$(stat -c %s "$AUDIO")
got=0 zcalls=()
for _ in $(seq 1 8); do
  code=$(st "$ZW" -H 'Content-Type: audio/wav' --data-binary @"$AUDIO" "$B/v1/calls")
  [ "$code" = 202 ] && { zcalls+=("$(json 'd["id"]')"); continue; }
  got=$code
  break
done
[ "$got" = 507 ] || fail "storage quota: got $got, want 507"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["error"]["code"] == "quota_storage"' "$T/body" \
  || fail "507 body: $(cat "$T/body")"
"$SDRA" orgs list --data "$D" > "$T/orgs.txt" || fail "orgs list"
used=$(awk '$1 == "zeta" {print $5}' "$T/orgs.txt")
[ -n "$used" ] && [ "$used" -le 1048576 ] && [ $((used + SIZE)) -gt 1048576 ] || fail "zeta storage $used: $(cat "$T/orgs.txt")"
grep -q '^acme ' "$T/orgs.txt" || fail "orgs list: $(cat "$T/orgs.txt")"
expect 204 "" "erase one zeta call" "$ZA" -X DELETE "$B/v1/calls/${zcalls[0]:-$CZ}"
upload "$ZW" >/dev/null # room again: accepted
"$SDRA" orgs set zeta --max-storage-mb -1 --data "$D" >/dev/null 2>&1; [ $? -eq 2 ] || fail "negative quota not a usage error"
"$SDRA" orgs set "No Org" --max-active 1 --data "$D" >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad org not a usage error"

# --- the local CRM: rows carry their organisation ----------------------------------------------
[ -f "$D/crm.sqlite3" ] || fail "no CRM database after an erasure"
CB=$(upload "$AW")
sqlite3 "$D/crm.sqlite3" "
INSERT INTO contacts (org, email, name, created_at, updated_at) VALUES ('acme', 'jo@x.example', 'Jo Acme', 't', 't');
INSERT INTO contacts (org, email, name, created_at, updated_at) VALUES ('zeta', 'jo@x.example', 'Jo Zeta', 't', 't');
INSERT INTO activities (org, call_id, created_at, updated_at) VALUES ('acme', '$CB', 't', 't');
INSERT INTO tasks (org, call_id, task_key, text, created_at, updated_at) VALUES ('zeta', '$CB', 'k', 'zeta task', 't', 't');
" || fail "CRM rows"
"$SDRA" crm contacts --data "$D" --org acme --format json > "$T/c.json" || fail "crm contacts --org acme"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert [c["name"] for c in r] == ["Jo Acme"], r' "$T/c.json" \
  || fail "crm --org acme: $(cat "$T/c.json")"
"$SDRA" crm contacts --data "$D" --format json > "$T/c.json" || fail "crm contacts (default org)"
[ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/c.json")" = 0 ] || fail "default org sees: $(cat "$T/c.json")"
"$SDRA" crm contacts --data "$D" --org "Bad Org" >/dev/null 2>&1; [ $? -eq 2 ] || fail "crm bad --org not a usage error"
expect 204 "" "erase the acme call" "$AA" -X DELETE "$B/v1/calls/$CB"
[ "$(sqlite3 "$D/crm.sqlite3" "SELECT COUNT(*) FROM activities WHERE call_id = '$CB'")" = 0 ] || fail "acme's activity survives erasure"
[ "$(sqlite3 "$D/crm.sqlite3" "SELECT COUNT(*) FROM tasks WHERE call_id = '$CB' AND org = 'zeta'")" = 1 ] \
  || fail "erasure in acme removed zeta's row"
"$SDRA" crm forget --contact jo@x.example --org zeta --data "$D" >/dev/null || fail "crm forget --org zeta"
[ "$(sqlite3 "$D/crm.sqlite3" "SELECT group_concat(org) FROM contacts")" = acme ] || fail "forget in zeta reached acme"
echo "slowest requests (seconds, status, URL):"; sort -rn "$T/times.log" | head -5
echo "ok"
