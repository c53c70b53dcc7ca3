#!/usr/bin/env bash
# ctest-labels: asan-skip
# (skips the ASan pass: what it runs of our C code the other tests run under ASan; docs/testing.md)
# data_at_rest.sh - what sdra leaves on disk (security review, findings 4 and 5).
#  1. Modes whatever the umask (umask 000 here): every directory sdra creates is 0700 and every
#     file 0600: `sdra run`'s package and CRM (crm.sqlite3 and its -wal/-shm), and `sdra
#     serve`'s data dir (sdra.db and its -wal/-shm, keys, call dirs, the uploaded audio,
#     artifacts). An --out parent that exists already keeps its mode.
#  2. Erasure leaves no copies: after DELETE /v1/calls/{id} no file under the data dir (sdra.db,
#     -wal, -shm, call dirs) holds the call's contact details, and the CRM files no longer hold
#     the call id; after `sdra crm forget --contact` the CRM files no longer hold the contact.
#     Plain byte search: the databases store text as UTF-8 (checked), so UTF-16 copies cannot
#     hide from it.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
FIX=${SDRA_FIXTURES:?SDRA_FIXTURES must name the generated calls}
AUDIO="$FIX/tiny.stereo.wav" # the shortest call: recognition is not the subject here
[ -f "$AUDIO" ] || { echo "FAIL: $AUDIO missing (tests/fixtures/generate.sh)" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup data_at_rest
umask 000
EMAIL="zephyrine.quayle@privacy-probe.example"
NAME="Zephyrine Quayle"
COMPANY="Quaylecorp Probe"

# modes DIR WHAT: every dir below DIR (itself included) 0700, every file 0600.
modes() {
  local bad
  bad=$(find "$1" \( -type d ! -perm 0700 \) -o \( -type f ! -perm 0600 \) -printf '%m %p\n')
  [ -z "$bad" ] || fail "$2: modes not 0700/0600 under umask 000:
$bad"
  [ "$(find "$1" -type f | wc -l)" -gt 0 ] || fail "$2: no files to check"
}

# --- sdra run: package dir and local CRM ------------------------------------------------------
mkdir -p "$T/shared" && chmod 0755 "$T/shared"
"$SDRA" run "$AUDIO" --out "$T/shared/out" --data "$T/rundata" --contact-email "$EMAIL" \
  --contact-name "$NAME" --company "$COMPANY" --call-date 2026-11-20 --quiet > "$T/run.log" 2>&1 \
  || { cat "$T/run.log" >&2; fail "sdra run failed"; }
[ "$(stat -c %a "$T/shared")" = 755 ] || fail "the existing --out parent's mode was changed"
modes "$T/shared/out" "sdra run package"
modes "$T/rundata" "sdra run data dir"
[ -f "$T/rundata/crm.sqlite3" ] || fail "sdra run wrote no CRM database"
"$SDRA" crm forget --contact "$EMAIL" --data "$T/rundata" > /dev/null || fail "crm forget --contact failed"
for f in "$T/rundata"/crm.sqlite3*; do
  grep -qaF -e "$EMAIL" -e "$NAME" "$f" && fail "$(basename "$f") still holds the forgotten contact"
done
modes "$T/rundata" "sdra run data dir after forget"

# --- sdra serve: data dir ----------------------------------------------------------------------
D="$T/data"
KEY=$("$SDRA" keys create --data "$D" --name w --scope admin) || fail "keys create failed" # admin: it erases
# The byte search below looks for UTF-8: both databases must store text as UTF-8 (not UTF-16).
python3 - "$D/sdra.db" "$T/rundata/crm.sqlite3" <<'PY' || fail "a database does not store text as UTF-8"
import sqlite3, sys
for path in sys.argv[1:]:
    enc = sqlite3.connect("file:%s?mode=ro" % path, uri=True).execute("PRAGMA encoding").fetchone()[0]
    assert enc == "UTF-8", (path, enc)
PY
# --no-encrypt: this is the plaintext mode's erasure (data_at_rest_encrypted.sh covers the default)
"$SDRA" serve --listen 127.0.0.1:0 --data "$D" --port-file "$T/port" --log-level info --no-encrypt 2> "$T/serve.log" &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || fail "server did not start"
B="http://127.0.0.1:$(cat "$T/port")"
H=(-H "Authorization: Bearer $KEY")
code=$(curl -s -o "$T/body" -w '%{http_code}' "${H[@]}" -F "audio=@$AUDIO;type=audio/wav" \
  -F "contact_email=$EMAIL" -F "contact_name=$NAME" -F "company=$COMPANY" -F call_date=2026-11-20 "$B/v1/calls")
[ "$code" = 202 ] || fail "upload answered $code: $(cat "$T/body")"
ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/body") || fail "no id"
curl -sN --max-time 800 "${H[@]}" "$B/v1/calls/$ID/events" > "$T/events" || true
grep -q '^event: done' "$T/events" || fail "the call did not finish: $(tail -3 "$T/events")"
grep -q '"status":"done"' "$T/events" || fail "the call failed: $(tail -3 "$T/events")"
[ -d "$D/calls/$ID" ] && ls "$D/calls/$ID" | grep -q '^audio\.' || fail "no uploaded audio in the call dir"
modes "$D" "sdra serve data dir"
grep -qaF "$EMAIL" "$D"/sdra.db* || fail "the contact is not in the store before delete (test is blind)"
grep -qaF "$ID" "$D"/crm.sqlite3* || fail "the call is not in the CRM before delete (test is blind)"

code=$(curl -s -o "$T/body" -w '%{http_code}' "${H[@]}" -X DELETE "$B/v1/calls/$ID")
[ "$code" = 204 ] || fail "delete answered $code: $(cat "$T/body")"
left=$(grep -rlaF -e "$EMAIL" -e "$NAME" -e "$COMPANY" "$D" | grep -v '/crm\.sqlite3')
[ -z "$left" ] || fail "the deleted call's contact details survive in: $left"
left=$(grep -laF "$ID" "$D"/crm.sqlite3*)
[ -z "$left" ] || fail "the deleted call's CRM records survive in: $left"
ls -la "$D" > "$T/ls"
modes "$D" "sdra serve data dir after delete"
echo "data_at_rest: ok"
