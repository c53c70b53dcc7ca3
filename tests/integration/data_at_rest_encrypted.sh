#!/usr/bin/env bash
# data_at_rest_encrypted.sh - encryption at rest (issue 14, docs/security.md).
#  1. A generated call speaks a distinctive word ("pineapple"); its call sheet carries a
#     distinctive contact name, email and company. Uploaded to `sdra serve` (encryption on by
#     default, the master key made as DATA/master.key), it is transcribed: the API shows the word
#     (so the search below could find it), and the search finds none of the secrets anywhere in
#     the data directory (files, sdra.db, crm.sqlite3, -wal, -shm; master.key excluded) in any
#     encoding of tests/integration/lib/plaingrep.py.
#  2. `sdra keys rotate-master`: restarted with only the new key, the call still reads back.
#  2b. A person's export (API and `sdra privacy export --master-key-file`) finds the call, its
#     decrypted transcript and the CRM contact (blind index).
#  3. DELETE: the search still finds nothing, the call's key row is gone, and its artifacts
#     from a copy of the data directory taken before the delete no longer decrypt; erasing the
#     person (API) leaves an export that finds nothing.
#  4. Control: the same call on `sdra serve --no-encrypt` IS found by the same search.
#  4b. An upload whose plaintext begins with the encryption magic ("SDRAENC1") is refused with
#     415 and one line (multipart and raw body), and no call is made: every reader would take
#     the stored file for an encrypted one, so it could be neither transcribed nor downloaded.
#  5. `sdra run --encrypt`: the package holds none of the secrets; `sdra decrypt` reads it back,
#     refuses a wrong key and a truncated file with one line.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
SRC=${SDRA_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup data_at_rest_encrypted
GREP="$SRC/tests/integration/lib/plaingrep.py"
WORD="pineapple"
EMAIL="zephyrine.quayle@privacy-probe.example"
NAME="Zephyrine Quayle"
COMPANY="Quaylecorp Probe"
SECRETS=("$WORD" "$EMAIL" "$NAME" "$COMPANY")

cat > "$T/probe.txt" <<'TXT'
# the encryption-at-rest probe call
rep: Hello Jordan, this is Alex from Brightwave. I am calling about the pineapple project and the pineapple budget for next month.
prospect: Sure. The pineapple project is on track. Please send me the pineapple report by email.
TXT
python3 "$SRC/tests/fixtures/render_calls.py" generate "$T/calls" "$T/probe.txt" > "$T/render.log" 2>&1 \
  || fail "could not render the probe call"
AUDIO="$T/calls/probe.stereo.wav"

# serve DATA [ARGS...]: starts sdra serve on a free port; sets B and SPID.
serve() {
  local d=$1; shift
  rm -f "$T/port"
  "$SDRA" serve --listen 127.0.0.1:0 --data "$d" --port-file "$T/port" --log-level info "$@" 2>> "$T/serve.log" &
  SPID=$!
  PIDS+=($SPID)
  for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.1; done
  [ -s "$T/port" ] || fail "server did not start"
  B="http://127.0.0.1:$(cat "$T/port")"
}
stop() { kill "$SPID"; wait "$SPID" 2>/dev/null; }

# upload: posts the probe call with its call sheet, waits until it is done; sets ID.
upload() {
  local code
  code=$(curl -s -o "$T/body" -w '%{http_code}' "${H[@]}" -F "audio=@$AUDIO;type=audio/wav" \
    -F "contact_email=$EMAIL" -F "contact_name=$NAME" -F "company=$COMPANY" -F call_date=2026-11-20 "$B/v1/calls")
  [ "$code" = 202 ] || fail "upload answered $code: $(cat "$T/body")"
  ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/body") || fail "no id"
  curl -sN --max-time 800 "${H[@]}" "$B/v1/calls/$ID/events" > "$T/events" || true
  grep -q '"status":"done"' "$T/events" || fail "the call did not finish: $(tail -3 "$T/events")"
}

# word_in_transcript: the API serves the decrypted transcript, and the word is in it.
word_in_transcript() {
  curl -sf "${H[@]}" "$B/v1/calls/$ID/transcript?format=txt" > "$T/transcript.txt" || fail "GET transcript failed ($1)"
  grep -qi "$WORD" "$T/transcript.txt" || fail "'$WORD' not in the transcript ($1): the search would be blind"
  curl -sf "${H[@]}" "$B/v1/calls/$ID" > "$T/call.json" || fail "GET call failed ($1)"
  grep -qF "$EMAIL" "$T/call.json" || fail "the call's metadata does not read back ($1)"
}

key_rows() {
  python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM call_keys WHERE id=?", (sys.argv[2],)).fetchone()[0])' "$1/sdra.db" "$2"
}

# --- 1. encrypted by default --------------------------------------------------------------------
D="$T/data"
KEY=$("$SDRA" keys create --data "$D" --name w --scope admin) || fail "keys create failed"
H=(-H "Authorization: Bearer $KEY")
serve "$D"
upload
word_in_transcript "stored"
[ -f "$D/master.key" ] && [ "$(stat -c %a "$D/master.key")" = 600 ] || fail "no master.key of mode 0600 was made"
grep -q "master key" "$T/serve.log" || fail "no warning that the master key lives next to the data"
python3 "$GREP" "$D" master.key "${SECRETS[@]}" > "$T/hits1" 2> "$T/grep1.log" \
  || fail "plaintext in the data directory while the call is stored:
$(head -20 "$T/hits1")"
echo "stored: $(cat "$T/grep1.log")"
head -c 8 "$D/calls/$ID/transcript.json" | grep -q SDRAENC1 || fail "transcript.json is not encrypted"
head -c 8 "$D/calls/$ID/audio.wav" | grep -q SDRAENC1 || fail "the audio is not encrypted"
curl -sf "${H[@]}" "$B/v1/calls/$ID/audio" -o "$T/audio.back" || fail "GET audio failed"
cmp -s "$T/audio.back" "$AUDIO" || fail "the audio served is not the audio uploaded"
# the recorded sha256 (and ETag) is the served plaintext's
curl -sf -D "$T/hdr" "${H[@]}" "$B/v1/calls/$ID/transcript" -o "$T/tj" || fail "GET transcript.json failed"
etag=$(tr -d '\r' < "$T/hdr" | awk -F'"' 'tolower($1) ~ /^etag/ {print $2}')
[ "$etag" = "$(sha256sum "$T/tj" | cut -d' ' -f1)" ] || fail "the ETag is not the sha256 of the served transcript"
[ "$(key_rows "$D" "$ID")" = 1 ] || fail "no key row for the call"

# --- 2. rotate the master key ----------------------------------------------------------------------
stop
python3 -c 'import secrets; print(secrets.token_hex(32))' > "$T/new.key" && chmod 600 "$T/new.key"
"$SDRA" keys rotate-master --data "$D" --new-key-file "$T/new.key" > "$T/rotate.out" 2> "$T/rotate.log" \
  || fail "rotate-master failed: $(cat "$T/rotate.log")"
grep -q "re-wrapped" "$T/rotate.out" || fail "rotate-master said nothing"
mv "$D/master.key" "$T/old.key"  # the old master is no longer needed
serve "$D" --master-key-file "$T/new.key"
word_in_transcript "after rotate-master"
"$SDRA" decrypt "$D/calls/$ID/transcript.txt" --data "$D" --master-key-file "$T/old.key" -o "$T/x.txt" 2> "$T/dec.err" \
  && fail "the old master key still decrypts after rotation"
"$SDRA" decrypt "$D/calls/$ID/transcript.txt" --data "$D" --master-key-file "$T/new.key" -o "$T/dec.txt" \
  || fail "sdra decrypt with the new key failed"
grep -qi "$WORD" "$T/dec.txt" || fail "sdra decrypt gave no plaintext"

# --- 2b. a person's export over sealed data: the call by its subject link, the CRM contact by its
# blind index, the metadata and transcript decrypted (API and CLI) ----------------------------------
check_export() { # FILE WHAT: the export holds the call, its transcript and the contact
  python3 - "$1" "$ID" "$EMAIL" "$NAME" "$WORD" <<'PY' || fail "$2 export: $(head -c 800 "$1")"
import json, sys
d = json.load(open(sys.argv[1])); cid, email, name, word = sys.argv[2:6]
calls = {c["id"]: c for c in d["calls"]}
assert cid in calls, "call missing"
assert calls[cid]["metadata"].get("contact_name") == name, calls[cid]["metadata"]
assert word in json.dumps(calls[cid]).lower(), "transcript not decrypted"
assert [c["email"] for c in d["crm"]["contacts"]] == [email], d["crm"]["contacts"]
PY
}
curl -sf "${H[@]}" "$B/v1/privacy/export?email=$EMAIL" -o "$T/export.json" || fail "GET /v1/privacy/export failed"
check_export "$T/export.json" "API"
"$SDRA" privacy export --data "$D" --email "$EMAIL" --master-key-file "$T/new.key" -o "$T/export-cli.json" \
  2> "$T/export-cli.err" || fail "sdra privacy export failed: $(cat "$T/export-cli.err")"
check_export "$T/export-cli.json" "CLI"
# `sdra crm` reads the server's sealed CRM fields with the master key (they were null before)
crm_name() { # OUT: the listed contact's name ("None" when it stayed sealed)
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r[0]["name"] if r else "no rows")' "$1"
}
"$SDRA" crm contacts --data "$D" --format json --master-key-file "$T/new.key" > "$T/crm-srv.json" \
  2> "$T/crm-srv.err" || fail "sdra crm contacts over sealed data failed: $(cat "$T/crm-srv.err")"
[ "$(crm_name "$T/crm-srv.json")" = "$NAME" ] || fail "sdra crm contacts: name not decrypted: $(cat "$T/crm-srv.json")"
"$SDRA" crm contacts --data "$D" --master-key-file "$T/old.key" > "$T/crm-wrong.out" 2> "$T/crm-wrong.err" \
  && fail "sdra crm with the replaced master key succeeded"
[ "$(wc -l < "$T/crm-wrong.err")" = 1 ] || fail "sdra crm, wrong key: not one line: $(cat "$T/crm-wrong.err")"

# --- 3. delete: crypto-shredding --------------------------------------------------------------------
cp -a "$D" "$T/backup"  # a backup of the files taken while the call is stored
code=$(curl -s -o "$T/body" -w '%{http_code}' "${H[@]}" -X DELETE "$B/v1/calls/$ID")
[ "$code" = 204 ] || fail "delete answered $code: $(cat "$T/body")"
[ "$(key_rows "$D" "$ID")" = 0 ] || fail "the deleted call's key row survives"
python3 "$GREP" "$D" master.key "${SECRETS[@]}" > "$T/hits2" 2> "$T/grep2.log" \
  || fail "plaintext in the data directory after delete:
$(head -20 "$T/hits2")"
echo "deleted: $(cat "$T/grep2.log")"
# the backup's files put back: the call's artifacts no longer decrypt (their key is gone)
n=0
for f in "$T/backup/calls/$ID"/*; do
  "$SDRA" decrypt "$f" --data "$D" --master-key-file "$T/new.key" -o "$T/restored.out" 2> "$T/restored.err" \
    && fail "$(basename "$f") of the deleted call still decrypts"
  grep -q "no data key" "$T/restored.err" || fail "$(basename "$f"): unexpected error: $(cat "$T/restored.err")"
  n=$((n + 1))
done
[ "$n" -ge 5 ] || fail "the backup held only $n files of the call"
# erasure of the person over sealed data: the contact found by its blind index goes, and a later
# export finds nothing
code=$(curl -s -o "$T/body" -w '%{http_code}' "${H[@]}" -H 'Content-Type: application/json' \
  -d "{\"email\":\"$EMAIL\"}" "$B/v1/privacy/erase")
[ "$code" = 200 ] || fail "erase answered $code: $(cat "$T/body")"
curl -sf "${H[@]}" "$B/v1/privacy/export?email=$EMAIL" -o "$T/export2.json" || fail "export after erase failed"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(bool(d["calls"]) or any(d["crm"].values()))' \
  "$T/export2.json" || fail "export after erase is not empty: $(head -c 600 "$T/export2.json")"
stop

# --- 4. control: --no-encrypt stores plaintext, and the search finds it --------------------------------
D2="$T/plain"
KEY=$("$SDRA" keys create --data "$D2" --name w --scope admin) || fail "keys create failed"
H=(-H "Authorization: Bearer $KEY")
serve "$D2" --no-encrypt
upload
python3 "$GREP" "$D2" master.key "${SECRETS[@]}" > "$T/hits3" 2> "$T/grep3.log" \
  && fail "the control found no plaintext with --no-encrypt: the search is blind"
for s in "${SECRETS[@]}"; do
  grep -qF "'$s'" "$T/hits3" || fail "the control did not find '$s'"
done
[ -f "$D2/master.key" ] && fail "--no-encrypt made a master key"
echo "control (--no-encrypt): $(cat "$T/grep3.log")"

# --- 4b. an upload that begins with the magic ------------------------------------------------------
{ printf 'SDRAENC1'; cat "$AUDIO"; } > "$T/magic.bin"
before=$(curl -sf "${H[@]}" "$B/v1/calls" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["calls"]))') \
  || fail "GET /v1/calls failed"
for how in multipart raw; do
  if [ "$how" = raw ]; then
    code=$(curl -s -o "$T/body" -w '%{http_code}' "${H[@]}" -H 'Content-Type: audio/wav' --data-binary @"$T/magic.bin" "$B/v1/calls")
  else
    code=$(curl -s -o "$T/body" -w '%{http_code}' "${H[@]}" -F "audio=@$T/magic.bin;type=audio/wav" "$B/v1/calls")
  fi
  [ "$code" = 415 ] || fail "an upload beginning with the magic ($how) answered $code: $(cat "$T/body")"
  grep -q 'an sdra-encrypted file is not a recording; upload the audio itself' "$T/body" \
    || fail "the 415 ($how) lacks its line: $(cat "$T/body")"
done
after=$(curl -sf "${H[@]}" "$B/v1/calls" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["calls"]))')
[ "$after" = "$before" ] || fail "a refused upload made a call ($before calls before, $after after)"

# --- 5. sdra run --encrypt: a self-contained encrypted package -------------------------------------
"$SDRA" run "$AUDIO" --out "$T/out" --data "$T/rundata" --encrypt --master-key-file "$T/new.key" \
  --contact-email "$EMAIL" --contact-name "$NAME" --company "$COMPANY" --quiet > "$T/run.log" 2>&1 \
  || fail "sdra run --encrypt failed"
PKG=$(ls -d "$T/out"/*/)
python3 "$GREP" "$PKG" none "${SECRETS[@]}" > "$T/hits4" 2> "$T/grep4.log" \
  || fail "plaintext in the encrypted package:
$(head -20 "$T/hits4")"
# the run's local CRM (--data) holds the contact and the call's rows sealed too
[ -s "$T/rundata/crm.sqlite3" ] || fail "sdra run --encrypt wrote no CRM rows"
python3 "$GREP" "$T/rundata" none "${SECRETS[@]}" > "$T/hits5" 2> "$T/grep5.log" \
  || fail "plaintext in the local CRM of sdra run --encrypt:
$(head -20 "$T/hits5")"
"$SDRA" decrypt "$PKG/transcript.txt" --master-key-file "$T/new.key" -o "$T/pkg.txt" || fail "sdra decrypt (package) failed"
grep -qi "$WORD" "$T/pkg.txt" || fail "the decrypted package transcript lacks '$WORD'"
"$SDRA" decrypt "$PKG/transcript.txt" --master-key-file "$T/old.key" -o "$T/pkg2.txt" 2> "$T/wrong.err" \
  && fail "a package file decrypted with the wrong master key"
[ "$(wc -l < "$T/wrong.err")" = 1 ] && grep -q "master key" "$T/wrong.err" || fail "wrong key: not one clear line: $(cat "$T/wrong.err")"
[ -e "$T/pkg2.txt" ] && fail "a failed decrypt left an output file"
head -c 200 "$PKG/transcript.txt" > "$T/trunc.enc"
"$SDRA" decrypt "$T/trunc.enc" --master-key-file "$T/new.key" -o "$T/trunc.txt" 2> "$T/trunc.err" \
  && fail "a truncated file decrypted"
grep -q "truncated" "$T/trunc.err" || fail "truncation not named: $(cat "$T/trunc.err")"
"$SDRA" run "$AUDIO" --out "$T/out2" --data "$T/rundata" --encrypt --quiet < /dev/null > "$T/run2.log" 2>&1 \
  && fail "run --encrypt without a key succeeded"
grep -q "needs a master key" "$T/run2.log" || fail "run --encrypt without a key: $(cat "$T/run2.log")"
"$SDRA" crm contacts --data "$T/rundata" --format json --master-key-file "$T/new.key" > "$T/crm-run.json" \
  2> "$T/crm-run.err" || fail "sdra crm contacts over run --encrypt's CRM failed: $(cat "$T/crm-run.err")"
[ "$(crm_name "$T/crm-run.json")" = "$NAME" ] || fail "sdra crm (run --encrypt): name not decrypted: $(cat "$T/crm-run.json")"
"$SDRA" crm contacts --data "$T/rundata" --format json > "$T/crm-nokey.json" 2> "$T/crm-nokey.err" \
  || fail "sdra crm contacts without the key failed: $(cat "$T/crm-nokey.err")"
[ "$(crm_name "$T/crm-nokey.json")" = "None" ] || fail "sdra crm without the key listed: $(cat "$T/crm-nokey.json")"
"$SDRA" crm contacts --data "$T/rundata" --master-key-file "$T/old.key" > "$T/crm-wrong2.out" 2> "$T/crm-wrong2.err" \
  && fail "sdra crm (run --encrypt) with another master key succeeded"
[ "$(wc -l < "$T/crm-wrong2.err")" = 1 ] || fail "sdra crm (run), wrong key: not one line: $(cat "$T/crm-wrong2.err")"
echo "sdra run --encrypt: $(cat "$T/grep4.log")"
echo "data_at_rest_encrypted: ok"
