#!/usr/bin/env bash
# privacy_retention.sh - retention policies (issue 14) with the clock driven: an admin key sets
# the policy (GET/PUT /v1/retention; read and write keys get 403, bad policies 400); `sdra
# privacy purge --now` deletes the audio at 30 days and not before, keeps the transcript until
# 365 days, deletes the whole call at call_days while the CRM rows it synced stay; --dry-run
# counts and changes nothing; every purge is in the audit trail and the chain verifies. Then
# the sweeper of `sdra serve --retention-sweep-s 1` (its clock set ahead with the testing aid
# --retention-clock-offset-days) is seen deleting a finished call's audio by itself.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib/privacy.sh"
pv_setup privacy_retention
# a finished call: uploaded, with the artifacts its stages would have recorded, status done
finished_call() {
  [ "$(status "${W[@]}" -F "audio=@$AUDIO;type=audio/wav" -F contact_email=kim@acme.example "$B/v1/calls")" = 202 ] \
    || fail "upload: $(cat "$T/body")"
  local id name
  id=$(json 'd["id"]')
  for name in transcript.json analysis.json email.json; do
    artifact "$id" "$name" "{\"from\":\"$name\"}"
  done
  printf '{"summary":"Kim call","action_items":[{"text":"Call Kim back","owner":"rep"}]}\n' > "$D/calls/$id/analysis.json"
  sqlite3 "$DB" "UPDATE calls SET status = 'done' WHERE id = '$id'" || fail "status"
  echo "$id"
}
purge() { "$SDRA" privacy purge --data "$D" "$@" > "$T/purge.json" || fail "purge $*: $(cat "$T/purge.json")"; }
purged() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["purged"]; print(d[sys.argv[2]])' "$T/purge.json" "$1"; }

pv_start --retention-sweep-s 0
ID=$(finished_call) || exit 1
"$SDRA" crm sync "$D/calls/$ID" --data "$D" >"$T/sync.out" 2>&1 || fail "crm sync: $(cat "$T/sync.out")"
C=$(sqlite3 "$DB" "SELECT created_ms FROM calls WHERE id = '$ID'")
DAY=86400000
at() { echo $((C + $1 * DAY)); }
AUDIOF=$(ls "$D/calls/$ID"/audio.*)

# --- the policy through the API: admin only, validated ---------------------------------------------
PUT=(-X PUT -H 'Content-Type: application/json' "$B/v1/retention")
[ "$(status "${R[@]}" "$B/v1/retention")" = 403 ] || fail "read key GET retention not 403"
[ "$(status "${W[@]}" "${PUT[@]}" -d '{"audio_days":30}')" = 403 ] || fail "write key PUT retention not 403"
[ "$(status "${A[@]}" "${PUT[@]}" -d '{"audio_days":-1}')" = 400 ] || fail "negative days not 400"
[ "$(status "${A[@]}" "${PUT[@]}" -d '{"audio_dayz":3}')" = 400 ] || fail "unknown field not 400"
[ "$(status "${A[@]}" "${PUT[@]}" -d '{"audio_days":30,"transcript_days":365}')" = 200 ] || fail "PUT: $(cat "$T/body")"
[ "$(status "${A[@]}" "$B/v1/retention")" = 200 ] || fail "GET retention"
[ "$(json '(d["audio_days"], d["transcript_days"], d["call_days"], d["require_consent"])')" = "(30, 365, 0, False)" ] \
  || fail "policy as stored: $(cat "$T/body")"

# --- audio at 30 days, not before; dry run changes nothing -----------------------------------------
purge --now "$(at 29)"
[ "$(purged audio)" = 0 ] && [ -f "$AUDIOF" ] || fail "audio purged before 30 days: $(cat "$T/purge.json")"
purge --now "$(at 30)" --dry-run
[ "$(purged audio)" = 1 ] && [ -f "$AUDIOF" ] || fail "dry run: $(cat "$T/purge.json")"
purge --now "$(at 30)"
[ "$(purged audio)" = 1 ] && [ "$(purged artifacts)" = 0 ] || fail "purge at 30 days: $(cat "$T/purge.json")"
[ ! -e "$AUDIOF" ] || fail "audio still on disk at 30 days"
[ "$(status "${R[@]}" "$B/v1/calls/$ID/transcript")" = 200 ] || fail "transcript gone with the audio"
[ "$(status "${R[@]}" "$B/v1/calls/$ID/audio")" = 200 ] && fail "purged audio still served"
purge --now "$(at 31)"
[ "$(purged audio)" = 0 ] || fail "second purge found the audio again"

# --- the transcript until 365 days --------------------------------------------------------------------
purge --now "$(at 364)"
[ "$(purged artifacts)" = 0 ] || fail "transcript purged before 365 days: $(cat "$T/purge.json")"
purge --now "$(at 365)"
[ "$(purged artifacts)" = 1 ] || fail "purge at 365 days: $(cat "$T/purge.json")"
[ ! -e "$D/calls/$ID/transcript.json" ] || fail "transcript file left"
[ "$(status "${R[@]}" "$B/v1/calls/$ID/transcript")" = 404 ] || fail "purged transcript still served"
[ "$(status "${R[@]}" "$B/v1/calls/$ID/analysis")" = 200 ] || fail "analysis (kept) gone"

# --- the whole call at call_days; its CRM rows stay -----------------------------------------------------
"$SDRA" privacy policy set --data "$D" --call-days 400 > "$T/policy.json" || fail "policy set"
grep -q '"transcript_days": 365' "$T/policy.json" || fail "policy set changed other fields: $(cat "$T/policy.json")"
purge --now "$(at 400)"
[ "$(purged calls)" = 1 ] || fail "call not purged at call_days: $(cat "$T/purge.json")"
[ "$(status "${R[@]}" "$B/v1/calls/$ID")" = 404 ] || fail "purged call still served"
[ ! -e "$D/calls/$ID" ] || fail "call directory left"
"$SDRA" crm activities --data "$D" --format json | grep -q "\"$ID\"" || fail "synced CRM rows deleted with the call"
sqlite3 "$DB" "SELECT detail FROM audit_log WHERE action = 'retention.purge' AND target = '$ID' ORDER BY id" > "$T/purges"
[ "$(wc -l < "$T/purges")" = 3 ] || fail "purge entries: $(cat "$T/purges")"
grep -q "deleted: audio\." "$T/purges" && grep -q "deleted: transcript.json" "$T/purges" && grep -q "whole call; crm rows kept" "$T/purges" \
  || fail "purge entries: $(cat "$T/purges")"
"$SDRA" audit verify --data "$D" >"$T/verify.out" 2>&1 || fail "audit verify: $(cat "$T/verify.out")"
"$SDRA" privacy purge --data "$D" --now yesterday 2>"$T/err.txt"
[ $? = 2 ] || fail "bad --now not a usage error"
"$SDRA" privacy policy set --data "$D" --audio-days -3 2>"$T/err.txt"
[ $? = 2 ] || fail "negative --audio-days not a usage error"

# --- the sweeper in the server ---------------------------------------------------------------------------
"$SDRA" privacy policy set --data "$D" --call-days 0 > "$T/policy.json" || fail "policy set"
pv_stop
pv_start --retention-sweep-s 1 --retention-clock-offset-days 31
ID2=$(finished_call) || exit 1
AUDIOF2=$(ls "$D/calls/$ID2"/audio.*)
for _ in $(seq 1 100); do [ -e "$AUDIOF2" ] || break; sleep 0.1; done
[ ! -e "$AUDIOF2" ] || fail "the sweeper did not delete the audio"
[ -f "$D/calls/$ID2/transcript.json" ] || fail "the sweeper deleted the transcript"
sqlite3 "$DB" "SELECT actor, ip FROM audit_log WHERE action = 'retention.purge' AND target = '$ID2'" | grep -qx 'retention|local' \
  || fail "sweeper purge not audited"
echo ok
