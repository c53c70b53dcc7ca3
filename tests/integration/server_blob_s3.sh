#!/usr/bin/env bash
# server_blob_s3.sh - `sdra serve --blob s3://...` on s3rver (tools/s3rver) started here:
#   - a refused object store stops the start with one line (bucket missing, server down);
#   - an upload reaches done; its artifacts are listed (no store location in any answer) and
#     downloadable, and every file of the call is an object under calls/<id>/;
#   - an API node with no working copy (DATA/calls/<id> removed, --no-workers) serves the
#     artifacts and the audio from the store, byte for byte;
#   - with the store down an upload gets 503 and nothing is created; a call whose store went
#     away while it was queued waits (its stage retried) and completes once the store is back;
#   - DELETE and the privacy erasure remove the call's objects.
# ctest-labels: slow
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
FIX=${SDRA_FIXTURES:?SDRA_FIXTURES must name the generated calls}
AUDIO="$FIX/tiny.stereo.wav" # the shortest call: recognition is not the subject here
[ -f "$AUDIO" ] || { echo "FAIL: $AUDIO missing (tests/fixtures/generate.sh)" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib/s3.sh"
it_setup server_blob_s3
unset SDRA_S3_PATH_STYLE SDRA_S3_TIMEOUT_MS SDRA_BLOB AWS_SESSION_TOKEN

s3rver_start sdra-calls
S3PID=${PIDS[-1]}
export SDRA_S3_ENDPOINT="http://127.0.0.1:$S3_PORT" AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
L=s3://sdra-calls/prod
D="$T/data"
WKEY=$("$SDRA" keys create --data "$D" --name writer --scope write) || fail "keys create failed"
AKEY=$("$SDRA" keys create --data "$D" --name admin --scope admin) || fail "keys create (admin) failed"
W=(-H "Authorization: Bearer $WKEY")
A=(-H "Authorization: Bearer $AKEY")
status() { curl -s -o "$T/body" -w '%{http_code}' --max-time 60 "$@"; }

# start NAME [serve options...]: sets PORT and B; the server's pid is SPID
start() {
  local name=$1; shift
  rm -f "$T/$name.port"
  "$SDRA" serve --listen 127.0.0.1:0 --data "$D" --port-file "$T/$name.port" --log-level info \
    --retry-base-ms 300 "$@" 2>"$T/$name.log" &
  SPID=$!
  PIDS+=($SPID)
  for _ in $(seq 1 150); do [ -s "$T/$name.port" ] && break; kill -0 $SPID 2>/dev/null || break; sleep 0.1; done
  [ -s "$T/$name.port" ] || fail "server $name did not start"
  PORT=$(cat "$T/$name.port")
  B="http://127.0.0.1:$PORT"
}
stop() { kill "$SPID"; wait "$SPID" 2>/dev/null; }
upload() { status "${W[@]}" -F "audio=@$AUDIO;type=audio/wav" -F contact_email="$1" -F company=Acme "$B/v1/calls"; }
call_id() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/body"; }
wait_done() { # wait_done ID: the call's status becomes done within 600 s
  local st=""
  for _ in $(seq 1 1200); do
    [ "$(status "${A[@]}" "$B/v1/calls/$1")" = 200 ] || fail "GET call $1: $(cat "$T/body")"
    st=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$T/body")
    [ "$st" = done ] && return 0
    [ "$st" = failed ] && fail "call $1 failed: $(cat "$T/body")"
    sleep 0.5
  done
  fail "call $1 did not reach done (status $st)"
}

# --- a refused store stops the start in one line --------------------------------------------
"$SDRA" serve --listen 127.0.0.1:0 --data "$D" --blob s3://no-such-bucket/x 2>"$T/refused.log"
[ $? -ne 0 ] || fail "serve started on a missing bucket"
grep -q "NoSuchBucket" "$T/refused.log" || fail "missing bucket: $(cat "$T/refused.log")"
[ "$(grep -c . "$T/refused.log")" -eq 1 ] || fail "missing bucket: not one line: $(cat "$T/refused.log")"
SDRA_S3_ENDPOINT="http://127.0.0.1:$(free_port)" "$SDRA" serve --listen 127.0.0.1:0 --data "$D" --blob $L \
  2>"$T/refused.log"
[ $? -ne 0 ] || fail "serve started with the store down"
grep -q "connection refused" "$T/refused.log" || fail "store down: $(cat "$T/refused.log")"

# --- upload to done; artifacts listed, downloadable, stored as objects ----------------------
start main --blob $L
grep -q "audio and artifacts in s3://sdra-calls/prod" "$T/main.log" || fail "the server does not say where objects go"
[ "$(upload jordan@acme.example)" = 202 ] || fail "upload: $(cat "$T/body")"
ID=$(call_id)
wait_done "$ID"
[ "$(status "${A[@]}" "$B/v1/calls/$ID")" = 200 ] || fail "GET call"
cp "$T/body" "$T/call.json"
python3 - "$T/call.json" <<'PY' || fail "artifacts: $(cat "$T/call.json")"
import json, sys
d = json.load(open(sys.argv[1]))
names = {a["name"] for a in d["artifacts"]}
assert {"transcript.json", "analysis.json", "email.json", "crm.json", "report.html"} <= names, names
PY
grep -Eq "sdra-calls|prod/|s3://|$S3_PORT" "$T/call.json" && fail "the store's location reached a client: $(cat "$T/call.json")"
for r in transcript analysis email crm report "email?format=eml" audio; do
  [ "$(status "${A[@]}" "$B/v1/calls/$ID/$r")" = 200 ] || fail "GET $r: $(cat "$T/body")"
done
AUDIO_NAME=$(ls "$D/calls/$ID" | grep '^audio\.') || fail "no audio file in the working copy"
for o in call.json "$AUDIO_NAME" transcript.json transcript.txt analysis.json email.json email.eml crm.json report.html; do
  "$SDRA" blob --blob $L head "calls/$ID/$o" >"$T/out" 2>"$T/err.log" || fail "$o is not an object: $(cat "$T/err.log")"
  [ "$(cat "$T/out")" = "$(stat -c %s "$D/calls/$ID/$o")" ] || fail "$o: the object's size differs from the file's"
done

# --- an API node without the working copy serves from the store ------------------------------
stop
rm -rf "$D/calls/$ID"
start api --blob $L --no-workers
[ "$(status "${A[@]}" "$B/v1/calls/$ID/transcript")" = 200 ] || fail "API node: transcript: $(cat "$T/body")"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))["words"]' "$T/body" 2>"$T/err.log" \
  || python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/body" || fail "API node: transcript is not JSON"
[ "$(status "${A[@]}" "$B/v1/calls/$ID/audio")" = 200 ] || fail "API node: audio: $(cat "$T/body")"
cmp -s "$T/body" "$AUDIO" || fail "API node: the audio served is not the upload"
[ "$(status "${A[@]}" "$B/v1/calls/$ID/view")" = 200 ] || fail "API node: view: $(cat "$T/body")"
[ "$(status "${A[@]}" "$B/v1/calls/$ID/email?format=eml")" = 200 ] || fail "API node: eml"
stop

# --- the store down: uploads refused, queued calls wait --------------------------------------
s3_up() {
  node --openssl-legacy-provider "$SRC/tools/s3rver/node_modules/s3rver/bin/s3rver.js" -d "$T/s3rver" -a 127.0.0.1 \
    -p "$S3_PORT" --silent --configure-bucket sdra-calls >>"$T/s3rver.log" 2>&1 &
  S3PID=$!; PIDS+=($S3PID)
  for _ in $(seq 1 100); do "$SDRA" blob --blob $L check >"$T/out" 2>&1 && return 0; sleep 0.1; done
  fail "s3rver did not come back"
}
s3_down() { kill "$S3PID"; wait "$S3PID" 2>/dev/null; }
start api2 --blob $L --no-workers
s3_down
code=$(upload sam@acme.example)
[ "$code" = 503 ] || fail "upload with the store down answered $code: $(cat "$T/body")"
grep -Eq "sdra-calls|s3://" "$T/body" && fail "the store's location reached a client: $(cat "$T/body")"
[ "$(ls "$D/calls" | wc -l)" -eq 1 ] || fail "the refused upload left a call directory: $(ls "$D/calls")"
# a call queued on an API node; the store goes away while a worker transcribes it: the
# stage's result cannot be stored, so the stage is retried, and the call completes once the
# store is back
s3_up
ffmpeg -v error -i "$AUDIO" -t 6 "$T/clip.wav" || fail "ffmpeg could not cut the clip"
AUDIO="$T/clip.wav"
[ "$(upload sam@acme.example)" = 202 ] || fail "upload after the store came back: $(cat "$T/body")"
ID2=$(call_id)
stop
start worker --blob $L
for _ in $(seq 1 300); do grep -q "stage transcribe started" "$T/worker.log" && break; sleep 0.1; done
s3_down
for _ in $(seq 1 3000); do grep -q "retry in" "$T/worker.log" && break; sleep 0.2; done
grep -q "stage transcribe failed, retry in .*object store" "$T/worker.log" \
  || fail "the stage did not wait on the store: $(tail -3 "$T/worker.log")"
grep "retry in" "$T/worker.log" | grep -Eq "sdra-calls/prod|s3://" && fail "the stage's error names the store's location"
s3_up
wait_done "$ID2"

# --- deletion and erasure remove the objects --------------------------------------------------
[ "$(status "${A[@]}" -X DELETE "$B/v1/calls/$ID")" = 204 ] || fail "DELETE: $(cat "$T/body")"
"$SDRA" blob --blob $L head "calls/$ID/transcript.json" >"$T/out" 2>"$T/err.log" && fail "DELETE left transcript.json in the store"
grep -q "NoSuchKey\|no such object\|HTTP 404" "$T/err.log" || fail "after DELETE: $(cat "$T/err.log")"
[ "$("$SDRA" blob --blob $L rm-prefix "calls/$ID/")" = 0 ] || fail "DELETE left objects of $ID"
"$SDRA" blob --blob $L head "calls/$ID2/transcript.json" >"$T/out" 2>&1 || fail "call 2 has no transcript object"
[ "$(status "${A[@]}" -X POST -H 'Content-Type: application/json' -d '{"email":"sam@acme.example"}' "$B/v1/privacy/erase")" = 200 ] \
  || fail "erase: $(cat "$T/body")"
[ "$("$SDRA" blob --blob $L rm-prefix "calls/$ID2/")" = 0 ] || fail "the erasure left objects of $ID2"
echo "server_blob_s3: ok"
