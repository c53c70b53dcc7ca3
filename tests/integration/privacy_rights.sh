#!/usr/bin/env bash
# privacy_rights.sh - data-subject rights (issue 14) end to end: calls uploaded for a person are
# linked to them by subject token; `sdra privacy export` and GET /v1/privacy/export (admin key)
# return their CRM rows, calls with metadata and artifacts, outbox entries and the audit
# entries about them, checked field by field, and nothing of another person; POST
# /v1/privacy/erase deletes their calls, CRM rows and outbox entries, after which an export
# finds nothing, the stores hold no trace of the address, `sdra audit verify` still passes and
# a second erase (CLI) counts zeros. Read and write keys get 403; bad input 400 / exit 2.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib/privacy.sh"
pv_setup privacy_rights
pv_start --retention-sweep-s 0
upload() { # EMAIL [CONSENT] -> prints the id
  local extra=()
  [ -n "${2:-}" ] && extra=(-F "consent=$2")
  [ "$(status "${W[@]}" -F "audio=@$AUDIO;type=audio/wav" -F "contact_email=$1" -F contact_name=Jordan \
       "${extra[@]}" "$B/v1/calls")" = 202 ] || fail "upload for $1: $(cat "$T/body")"
  json 'd["id"]'
}
# --- two calls of Jordan's (the address written differently), one of Sam's ---------------------
ID1=$(upload jordan@acme.example obtained) || exit 1
ID2=$(upload " Jordan@ACME.example" "") || exit 1
ID3=$(upload sam@other.example not_required) || exit 1
artifact "$ID1" transcript.json '{"segments":[{"speaker":"prospect","text":"We need pricing by Friday"}]}'
artifact "$ID1" analysis.json '{"summary":"Pricing call with Jordan","action_items":[{"text":"Send the pricing sheet","owner":"rep"}]}'
artifact "$ID1" email.json '{"subject":"Pricing for Acme","to":"jordan@acme.example"}'
artifact "$ID3" transcript.json '{"segments":[{"speaker":"prospect","text":"Sam speaking"}]}'
artifact "$ID3" analysis.json '{"summary":"Sam call","action_items":[]}'
# the CRM rows the sync stage would write for Jordan's first call and Sam's
"$SDRA" crm sync "$D/calls/$ID1" --data "$D" >"$T/sync.out" 2>&1 || fail "crm sync 1: $(cat "$T/sync.out")"
cp "$D/calls/$ID3/transcript.json" "$T/keep.json"
"$SDRA" crm sync "$D/calls/$ID3" --data "$D" >"$T/sync.out" 2>&1 || fail "crm sync 3: $(cat "$T/sync.out")"
sqlite3 "$DB" "INSERT INTO outbox (idem_key, call_id, kind, payload, state, created_ms)
  VALUES ('email:$ID1', '$ID1', 'email', '{\"to\":\"jordan@acme.example\",\"subject\":\"Pricing for Acme\"}', 'queued', 5)" \
  || fail "outbox row"
[ "$(status "${R[@]}" "$B/v1/calls/$ID1")" = 200 ] || fail "read call 1"

# --- export (CLI), field by field ----------------------------------------------------------------
"$SDRA" privacy export --data "$D" --email JORDAN@acme.example -o "$T/export.json" || fail "privacy export"
python3 - "$T/export.json" "$ID1" "$ID2" "$ID3" <<'PY' || fail "export content: $(head -c 3000 "$T/export.json")"
import json, sys
d = json.load(open(sys.argv[1])); id1, id2, id3 = sys.argv[2:5]
def eq(a, b, what):
    if a != b: sys.exit("%s: %r != %r" % (what, a, b))
eq(d["schema"], "sdra.privacy.export/1", "schema")
eq(d["org"], "default", "org")
eq(d["subject"]["email"], "jordan@acme.example", "normalised address")
p = d["subject"]["pseudonym"]
assert p and p.startswith("s-") and len(p) == 18, p
calls = {c["id"]: c for c in d["calls"]}
eq(sorted(calls), sorted([id1, id2]), "calls (Sam's must not be there)")
c1 = calls[id1]
eq(c1["metadata"]["contact_email"], "jordan@acme.example", "metadata contact")
eq(c1["metadata"]["consent"], "obtained", "consent")
eq(calls[id2]["metadata"]["consent"], "unknown", "default consent")
eq(c1["status"], "queued", "status")
eq(c1["audio"]["stored"], True, "audio stored")
eq(c1["artifacts"]["transcript.json"]["segments"][0]["text"], "We need pricing by Friday", "transcript")
eq(c1["artifacts"]["analysis.json"]["summary"], "Pricing call with Jordan", "analysis")
eq(c1["artifacts"]["email.json"]["subject"], "Pricing for Acme", "email artifact")
eq(len(c1["outbox"]), 1, "outbox entries")
eq(c1["outbox"][0]["key"], "email:" + id1, "outbox key")
eq(c1["outbox"][0]["state"], "queued", "outbox state")
eq(c1["outbox"][0]["payload"]["subject"], "Pricing for Acme", "outbox payload")
eq(calls[id2]["outbox"], [], "no outbox for call 2")
crm = d["crm"]
eq([r["email"] for r in crm["contacts"]], ["jordan@acme.example"], "CRM contacts")
eq([r["call_id"] for r in crm["activities"]], [id1], "CRM activities")
eq([r["text"] for r in crm["tasks"]], ["Send the pricing sheet"], "CRM tasks")
acts = [(e["action"], e["target"]) for e in d["audit"]]
for need in [("call.create", id1), ("call.consent", id1), ("call.read", id1), ("call.create", id2),
             ("privacy.export", p)]:
    if need not in acts: sys.exit("audit entry %s missing: %s" % (need, acts))
if any(e["target"] == id3 for e in d["audit"]): sys.exit("Sam's entries exported")
consent = [e for e in d["audit"] if e["action"] == "call.consent" and e["target"] == id1][0]
assert "consent=obtained" in consent["detail"] and ("subject=" + p) in consent["detail"], consent
assert all("@" not in e["detail"] and "@" not in e["target"] for e in d["audit"]), "an address in the audit trail"
PY

# --- export and erase through the API: admin only ---------------------------------------------------
[ "$(status "${A[@]}" "$B/v1/privacy/export?email=jordan%40acme.example")" = 200 ] || fail "API export: $(cat "$T/body")"
[ "$(json 'sorted(c["id"] for c in d["calls"])')" = "$(python3 -c 'import sys; print(sorted(sys.argv[1:]))' "$ID1" "$ID2")" ] \
  || fail "API export calls: $(head -c 600 "$T/body")"
[ "$(json 'd["crm"]["contacts"][0]["name"]')" = "Jordan" ] || fail "API export CRM: $(head -c 600 "$T/body")"
[ "$(status "${W[@]}" "$B/v1/privacy/export?email=jordan%40acme.example")" = 403 ] || fail "write key export not 403"
[ "$(status "${R[@]}" "$B/v1/privacy/export?email=jordan%40acme.example")" = 403 ] || fail "read key export not 403"
[ "$(status "${A[@]}" "$B/v1/privacy/export")" = 400 ] || fail "export without email not 400"
[ "$(status "${A[@]}" "$B/v1/privacy/export?email=nobody")" = 400 ] || fail "export of a non-address not 400"
ERASE=(-X POST -H 'Content-Type: application/json' -d '{"email":"jordan@acme.example"}' "$B/v1/privacy/erase")
[ "$(status "${W[@]}" "${ERASE[@]}")" = 403 ] || fail "write key erase not 403"
[ "$(status "${R[@]}" "${ERASE[@]}")" = 403 ] || fail "read key erase not 403"
[ "$(status "${A[@]}" -X POST -d 'not json' "$B/v1/privacy/erase")" = 400 ] || fail "erase with a bad body not 400"
[ "$(status "${A[@]}" -X GET "$B/v1/privacy/erase")" = 405 ] || fail "GET erase not 405"
[ -d "$D/calls/$ID1" ] || fail "a refused erase deleted something"
[ "$(status "${A[@]}" "${ERASE[@]}")" = 200 ] || fail "API erase: $(cat "$T/body")"
[ "$(json 'd["erased"]["calls"]')" = 2 ] || fail "erase counts calls: $(cat "$T/body")"
[ "$(json 'd["erased"]["outbox"]')" = 1 ] || fail "erase counts outbox: $(cat "$T/body")"
[ "$(json 'd["erased"]["crm_rows"] >= 1')" = True ] || fail "erase counts CRM rows: $(cat "$T/body")"

# --- afterwards: nothing of Jordan, Sam untouched -------------------------------------------------
"$SDRA" privacy export --data "$D" --email jordan@acme.example -o "$T/after.json" || fail "export after erase"
python3 - "$T/after.json" <<'PY' || fail "export after erase not empty: $(cat "$T/after.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["calls"] == [], d["calls"]
assert all(v == [] for v in d["crm"].values()), d["crm"]
assert d["audit"] == [], d["audit"]
assert d["subject"]["pseudonym"] is None
PY
[ ! -e "$D/calls/$ID1" ] && [ ! -e "$D/calls/$ID2" ] || fail "call directories left"
[ "$(status "${R[@]}" "$B/v1/calls/$ID1")" = 404 ] || fail "erased call still served"
[ "$(status "${R[@]}" "$B/v1/calls/$ID3")" = 200 ] || fail "Sam's call went too"
cmp -s "$T/keep.json" "$D/calls/$ID3/transcript.json" || fail "Sam's transcript changed"
"$SDRA" crm contacts --data "$D" --format json > "$T/contacts.json" || fail "crm contacts"
python3 -c 'import json,sys; e=[r["email"] for r in json.load(open(sys.argv[1]))]; sys.exit(e != ["sam@other.example"])' \
  "$T/contacts.json" || fail "CRM contacts after erase: $(cat "$T/contacts.json")"
for db in "$DB" "$D/crm.sqlite3"; do
  sqlite3 "$db" .dump | grep -qi 'jordan@acme' && fail "$db still holds the address"
done
[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM outbox")" = 0 ] || fail "outbox entry left"
"$SDRA" audit verify --data "$D" > "$T/verify.out" 2>&1 || fail "audit chain broken by the erase: $(cat "$T/verify.out")"
sqlite3 "$DB" "SELECT actor, action, target, detail FROM audit_log" | grep -qi 'jordan\|acme.example' \
  && fail "the audit trail names the person"
sqlite3 "$DB" "SELECT COUNT(*) FROM audit_log WHERE action = 'privacy.erase'" | grep -qx 1 || fail "erase not audited"

# --- idempotent: a second erase (CLI) finds nothing; the CLI refuses without --yes -----------------
"$SDRA" privacy erase --data "$D" --email jordan@acme.example --yes > "$T/erase2.json" || fail "second erase failed"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["erased"]; sys.exit(any(d.values()))' "$T/erase2.json" \
  || fail "second erase counted something: $(cat "$T/erase2.json")"
"$SDRA" privacy erase --data "$D" --email sam@other.example </dev/null 2>"$T/err.txt"
[ $? = 2 ] || fail "erase without --yes did not exit 2"
[ -d "$D/calls/$ID3" ] || fail "erase without --yes deleted"
"$SDRA" privacy export --data "$D" --email 'not an address' 2>"$T/err.txt"
[ $? = 2 ] && grep -q "not an email address" "$T/err.txt" || fail "bad --email: $(cat "$T/err.txt")"
"$SDRA" privacy export --data "$D" --email sam@other.example -o "$D" 2>"$T/err.txt"
[ $? = 2 ] || fail "-o onto a directory not refused: $(cat "$T/err.txt")"
echo "ok"
