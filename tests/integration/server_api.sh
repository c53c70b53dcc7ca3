#!/usr/bin/env bash
# server_api.sh - `sdra serve` end to end over real HTTP (curl) with the real stages: upload the
# generated example call (multipart, with metadata), follow its Server-Sent Events to the end,
# fetch every artifact and the audio; list/filter; every route of the OpenAPI document answers
# with a documented status; auth failures (none, malformed, unknown, revoked, wrong scope);
# each malformed request class (route, method, content type, empty, bad multipart, unknown
# field, bad metadata, oversize by header and by stream, huge header, bad query, slow client);
# concurrent uploads on an API-only server; delete removes every trace.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
FIX=${SDRA_FIXTURES:?SDRA_FIXTURES must name the generated calls}
AUDIO="$FIX/tiny.stereo.wav" # the shortest call: recognition is not the subject here
[ -f "$AUDIO" ] || { echo "FAIL: $AUDIO missing (tests/fixtures/generate.sh)" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup server_api

# start NAME DATA_DIR [serve options...]: starts a server on a free port; sets PORT.
start() {
  local name=$1 data=$2; shift 2
  rm -f "$T/$name.port"
  "$SDRA" serve --listen 127.0.0.1:0 --data "$data" --port-file "$T/$name.port" --log-level info "$@" \
    2>"$T/$name.log" &
  PIDS+=($!)
  for _ in $(seq 1 100); do [ -s "$T/$name.port" ] && break; sleep 0.1; done
  [ -s "$T/$name.port" ] || fail "server $name did not start"
  PORT=$(cat "$T/$name.port")
}

D="$T/data"
WKEY=$("$SDRA" keys create --data "$D" --name writer --scope write) || fail "keys create failed"
RKEY=$("$SDRA" keys create --data "$D" --name reader --scope read) || fail "keys create (read) failed"
OLDKEY=$("$SDRA" keys create --data "$D" --name old --scope admin) || fail "keys create (admin) failed"
AKEY=$("$SDRA" keys create --data "$D" --name eraser --scope admin) || fail "keys create (admin 2) failed"
[[ $WKEY =~ ^sdra_[0-9a-f]{12}_[0-9a-f]{64}$ ]] || fail "key format: $WKEY"
"$SDRA" keys create --data "$D" --name writer --scope read >/dev/null 2>&1 && fail "duplicate key name accepted"
"$SDRA" keys create --data "$D" --name x --scope root >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad scope not a usage error"
"$SDRA" keys list --data "$D" | grep -q "writer" || fail "keys list misses writer"
grep -q "${WKEY:18}" "$D/sdra.db"* && fail "the key's secret is stored in clear"

start main "$D" --max-upload-mb 8 --timeout-s 3
B="http://127.0.0.1:$PORT"
W=(-H "Authorization: Bearer $WKEY")
R=(-H "Authorization: Bearer $RKEY")
A=(-H "Authorization: Bearer $AKEY") # erasure (DELETE) needs admin since organisations (issue 14)

# status CURL_ARGS...: prints the HTTP status only.
status() { curl -s -o "$T/body" -w '%{http_code}' --max-time 30 "$@"; }

# --- health, readiness, OpenAPI -------------------------------------------------------------
[ "$(status "$B/healthz")" = 200 ] || fail "healthz"
[ "$(status "$B/readyz")" = 200 ] || fail "readyz: $(cat "$T/body")"
[ "$(status "$B/v1/openapi.json")" = 200 ] || fail "openapi.json not served"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["openapi"].startswith("3.")' "$T/body" \
  || fail "openapi.json is not an OpenAPI 3 document"
cp "$T/body" "$T/openapi.json"

# --- upload (multipart with metadata), follow events to the end ---------------------------
code=$(curl -s -D "$T/hdr" -o "$T/body" -w '%{http_code}' "${W[@]}" \
  -F "audio=@$AUDIO;type=audio/wav" -F contact_email=jordan@acme.example -F "contact_name=Jordan Lee" \
  -F company=Acme -F "rep_name=Sam Rivera" -F call_date=2026-11-20 -F style=friendly "$B/v1/calls")
[ "$code" = 202 ] || fail "upload answered $code: $(cat "$T/body")"
ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/body") || fail "no id in $(cat "$T/body")"
grep -qi "^Location: /v1/calls/$ID" "$T/hdr" || fail "no Location header"

curl -sN --max-time 800 "${R[@]}" "$B/v1/calls/$ID/events" > "$T/events" || true
grep -q '^event: done' "$T/events" || fail "event stream ended without 'done': $(tail -5 "$T/events")"
python3 - "$T/events" <<'PY' || fail "event stream content: $(cat "$T/events")"
import json, sys
events, cur = [], {}
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if not line:
        if cur: events.append(cur)
        cur = {}
    elif line.startswith("event: "): cur["event"] = line[7:]
    elif line.startswith("data: "): cur["data"] = json.loads(line[6:])
stages = [e["data"] for e in events if e.get("event") == "stage"]
done = [s["stage"] for s in stages if s["state"] == "done"]
assert done == ["transcribe", "analyze", "compose", "sync", "report"], done
assert events[-1]["event"] == "done" and events[-1]["data"]["status"] == "done", events[-1]
PY

[ "$(status "${R[@]}" "$B/v1/calls/$ID")" = 200 ] || fail "GET call"
python3 - "$T/body" <<'PY' || fail "call view: $(cat "$T/body")"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["status"] == "done", c["status"]
assert [s["name"] for s in c["stages"]] == ["transcribe", "analyze", "compose", "sync", "report"]
for s in c["stages"]:
    assert s["state"] == "done" and s["attempts"] == 1 and s["duration_ms"] is not None and s["error"] is None, s
names = sorted(a["name"] for a in c["artifacts"])
for n in ["transcript.json", "analysis.json", "email.json", "crm.json", "report.html"]:
    assert n in names, names
assert len(names) == len(set(names)), names
assert c["metadata"]["contact_email"] == "jordan@acme.example"
PY

for a in transcript analysis email crm; do
  [ "$(status "${R[@]}" "$B/v1/calls/$ID/$a")" = 200 ] || fail "GET $a: $(cat "$T/body")"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d.get("schema","").startswith("sdra.")' "$T/body" \
    || fail "$a is not an sdra document"
done
[ "$(status "${R[@]}" "$B/v1/calls/$ID/transcript?format=txt")" = 200 ] || fail "transcript txt"
[ -s "$T/body" ] || fail "empty transcript.txt"
[ "$(status "${R[@]}" "$B/v1/calls/$ID/email?format=eml")" = 200 ] || fail "email eml"
grep -q '^Subject: ' "$T/body" || fail "email.eml has no Subject"
[ "$(status "${R[@]}" "$B/v1/calls/$ID/report")" = 200 ] || fail "report"
grep -qi '<html' "$T/body" || fail "report is not HTML"
[ "$(status "${R[@]}" "$B/v1/calls/$ID/email?format=pdf")" = 400 ] || fail "unknown format not 400"
[ "$(status "${R[@]}" "$B/v1/calls/$ID/audio")" = 200 ] || fail "audio"
cmp -s "$T/body" "$AUDIO" || fail "downloaded audio differs from the upload"

[ "$(status "${R[@]}" "$B/v1/calls?status=done&limit=5")" = 200 ] || fail "list"
grep -q "\"$ID\"" "$T/body" || fail "list misses $ID"
[ "$(status "${R[@]}" "$B/v1/calls?status=queued")" = 200 ] || fail "list queued"
grep -q "\"$ID\"" "$T/body" && fail "status filter ignored"

# --- every documented route answers with a documented status ------------------------------
python3 - "$T/openapi.json" "$B" "$RKEY" "$ID" <<'PY' || fail "OpenAPI check"
import json, sys, urllib.request, urllib.error
doc, base, key, cid = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4]
bad = []
for path, ops in doc["paths"].items():
    for method, op in ops.items():
        url = base + path.replace("{id}", cid)
        if path.endswith("/events"):
            continue  # streams; covered above
        req = urllib.request.Request(url, method=method.upper(), headers={"Authorization": "Bearer " + key})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                code = r.status
        except urllib.error.HTTPError as e:
            code = e.code
        if str(code) not in op["responses"]:
            bad.append(f"{method.upper()} {path} -> {code} (documented {sorted(op['responses'])})")
# and the server has no undocumented routes: sibling paths are 404
for p in ["/v1/calls/%s/transcripts" % cid, "/v1/call", "/v2/calls", "/v1/calls/%s/events/x" % cid]:
    try:
        urllib.request.urlopen(urllib.request.Request(base + p, headers={"Authorization": "Bearer " + key}), timeout=10)
        bad.append(p + " answered 2xx")
    except urllib.error.HTTPError as e:
        if e.code != 404: bad.append(f"{p} -> {e.code}")
if bad:
    print("\n".join(bad)); sys.exit(1)
PY

# --- auth ------------------------------------------------------------------------------------
[ "$(status "$B/v1/calls")" = 401 ] || fail "no key not 401"
grep -q '"code":"unauthorized"' "$T/body" || fail "401 body: $(cat "$T/body")"
[ "$(status -H 'Authorization: Bearer nope' "$B/v1/calls")" = 401 ] || fail "malformed key not 401"
[ "$(status -H "Authorization: Bearer ${WKEY:0:20}$(printf '0%.0s' $(seq 1 62))" "$B/v1/calls")" = 401 ] || fail "wrong secret not 401"
[ "$(status -H "Authorization: Basic $WKEY" "$B/v1/calls")" = 401 ] || fail "Basic scheme not 401"
[ "$(status "${R[@]}" -X POST -H 'Content-Type: audio/wav' --data-binary @"$AUDIO" "$B/v1/calls")" = 403 ] || fail "read key upload not 403"
[ "$(status "${R[@]}" -X DELETE "$B/v1/calls/$ID")" = 403 ] || fail "read key delete not 403"
[ "$(status -H "Authorization: Bearer $OLDKEY" "$B/v1/calls")" = 200 ] || fail "admin key refused"
"$SDRA" keys revoke --data "$D" old || fail "keys revoke"
[ "$(status -H "Authorization: Bearer $OLDKEY" "$B/v1/calls")" = 401 ] || fail "revoked key still works"
"$SDRA" keys revoke --data "$D" old 2>/dev/null && fail "revoking twice succeeded"

# --- malformed requests --------------------------------------------------------------------------
expect() { # expect CODE ERRCODE DESCRIPTION CURL_ARGS...
  local want=$1 ecode=$2 what=$3; shift 3
  local got; got=$(status "$@")
  [ "$got" = "$want" ] || fail "$what: got $got, want $want: $(head -c 300 "$T/body")"
  if [ -n "$ecode" ]; then
    python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["error"]; assert e["code"]==sys.argv[2] and e["message"], e' \
      "$T/body" "$ecode" || fail "$what: error body $(head -c 300 "$T/body")"
  fi
}
expect 404 not_found "unknown route" "${R[@]}" "$B/v1/nothing"
expect 404 not_found "bad call id" "${R[@]}" "$B/v1/calls/NOT..valid"
expect 404 not_found "unknown call" "${R[@]}" "$B/v1/calls/0000000000000000"
expect 405 method_not_allowed "PUT on calls" "${W[@]}" -X PUT "$B/v1/calls"
expect 405 method_not_allowed "POST on a call" "${W[@]}" -X POST "$B/v1/calls/$ID"
expect 415 unsupported "text body" "${W[@]}" -H 'Content-Type: text/plain' --data-binary 'hello' "$B/v1/calls"
expect 415 unsupported "JSON body" "${W[@]}" -H 'Content-Type: application/json' --data-binary '{"a":[[[[1]]]]}' "$B/v1/calls"
expect 400 invalid_input "empty audio" "${W[@]}" -H 'Content-Type: audio/wav' --data-binary '' "$B/v1/calls"
expect 400 invalid_input "multipart without audio" "${W[@]}" -F contact_email=a@b.example "$B/v1/calls"
expect 400 invalid_input "unknown form field" "${W[@]}" -F "audio=@$AUDIO" -F evil=1 "$B/v1/calls"
expect 400 invalid_input "bad email" "${W[@]}" -F "audio=@$AUDIO" -F contact_email=not-an-email "$B/v1/calls"
expect 400 invalid_input "bad date" "${W[@]}" -H 'Content-Type: audio/wav' --data-binary @"$AUDIO" "$B/v1/calls?call_date=2026-02-30"
expect 400 invalid_input "bad style" "${W[@]}" -H 'Content-Type: audio/wav' --data-binary @"$AUDIO" "$B/v1/calls?style=rude"
expect 400 invalid_input "broken multipart" "${W[@]}" -H 'Content-Type: multipart/form-data' --data-binary 'garbage' "$B/v1/calls"
expect 400 invalid_input "limit out of range" "${R[@]}" "$B/v1/calls?limit=100000"
expect 400 invalid_input "offset not a number" "${R[@]}" "$B/v1/calls?offset=abc"
expect 400 invalid_input "unknown status" "${R[@]}" "$B/v1/calls?status=weird"
head -c $((9 * 1024 * 1024)) /dev/zero > "$T/big.bin"
expect 413 limit_exceeded "oversize (Content-Length)" "${W[@]}" -H 'Content-Type: audio/wav' --data-binary @"$T/big.bin" "$B/v1/calls"
expect 413 limit_exceeded "oversize (chunked stream)" "${W[@]}" -H 'Content-Type: audio/wav' -H 'Transfer-Encoding: chunked' \
  --data-binary @"$T/big.bin" "$B/v1/calls"
expect 413 limit_exceeded "oversize (multipart stream)" "${W[@]}" -F "audio=@$T/big.bin" "$B/v1/calls"
long=$(head -c 70000 /dev/zero | tr '\0' a)
got=$(status "${R[@]}" -H "X-Big: $long" "$B/v1/calls")
[[ $got =~ ^4[0-9][0-9]$ ]] || fail "70 KB header answered $got"
ls "$D/tmp" | grep -q upload && fail "rejected uploads left files in tmp/"
# a slow client (headers never finished) is cut after --timeout-s
start_s=$(date +%s)
( exec 3<>"/dev/tcp/127.0.0.1/$PORT"; printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n' >&3; cat <&3 >/dev/null ) &
slow=$!
for _ in $(seq 1 100); do kill -0 $slow 2>/dev/null || break; sleep 0.1; done
kill -0 $slow 2>/dev/null && { kill $slow; fail "slow client not cut after 10 s"; }
[ $(( $(date +%s) - start_s )) -ge 2 ] || fail "slow client cut too early"
[ "$(status "$B/healthz")" = 200 ] || fail "server unhealthy after the malformed requests"

# --- metrics ---------------------------------------------------------------------------------
[ "$(status "$B/metrics")" = 200 ] || fail "metrics"
for m in 'sdra_stage_duration_seconds_bucket{stage="transcribe",outcome="ok",le=' \
         'sdra_jobs{stage="report",state="done"} 1' 'sdra_queue_depth{stage="transcribe"} 0' \
         'sdra_http_requests_total{route="/v1/calls",method="POST",status="202"} 1' \
         'sdra_http_request_duration_seconds_count{route="/v1/calls/{id}"}' 'sdra_transcription_rtf_count 1' \
         'sdra_jobs_in_flight{stage="analyze"} 0' 'sdra_dead_jobs{stage="sync"} 0'; do
  grep -qF "$m" "$T/body" || fail "metrics lack '$m'"
done
grep -q '^{' "$T/main.log" || fail "logs are not JSON lines"
python3 - "$T/main.log" "$ID" <<'PY' || fail "structured logs"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
mine = [r for r in recs if r.get("call_id") == sys.argv[2] and r.get("stage") == "transcribe" and "duration_ms" in r]
assert mine and all("job_id" in r for r in mine), recs[-5:]
PY

# --- delete removes every trace ------------------------------------------------------------------
python3 - "$D/crm.sqlite3" "$ID" <<'PY' || fail "the call wrote no CRM activity before delete"
import sqlite3, sys
n = sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM activities WHERE call_id = ?", (sys.argv[2],)).fetchone()[0]
assert n == 1, n
PY
expect 403 insufficient_scope "write key delete" "${W[@]}" -X DELETE "$B/v1/calls/$ID"
expect 204 "" "delete" "${A[@]}" -X DELETE "$B/v1/calls/$ID"
expect 404 not_found "deleted call" "${R[@]}" "$B/v1/calls/$ID"
expect 404 not_found "deleted audio" "${R[@]}" "$B/v1/calls/$ID/audio"
expect 404 not_found "delete twice" "${A[@]}" -X DELETE "$B/v1/calls/$ID"
[ -e "$D/calls/$ID" ] && fail "call directory survives delete"
python3 - "$D/sdra.db" "$ID" <<'PY' || fail "rows survive delete"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for t in ["calls", "jobs", "artifacts", "outbox"]:
    col = "id" if t == "calls" else "call_id"
    n = db.execute(f"SELECT COUNT(*) FROM {t} WHERE {col} = ?", (sys.argv[2],)).fetchone()[0]
    assert n == 0, (t, n)
crm = sqlite3.connect(sys.argv[1].replace("sdra.db", "crm.sqlite3"))
for t in ["activities", "tasks", "emails", "notes"]:
    n = crm.execute(f"SELECT COUNT(*) FROM {t} WHERE call_id = ?", (sys.argv[2],)).fetchone()[0]
    assert n == 0, ("crm", t, n)
PY

# --- concurrent uploads (API-only server: no stage work) ------------------------------------------
D2="$T/data2"
K2=$("$SDRA" keys create --data "$D2" --name c --scope write) || fail "keys create (2)"
start api "$D2" --no-workers --max-active 100
B2="http://127.0.0.1:$PORT"
CURLS=()
for i in $(seq 1 12); do
  curl -s -o "$T/up$i" -w '%{http_code}\n' -H "Authorization: Bearer $K2" -H 'Content-Type: audio/wav' \
    --data-binary @"$AUDIO" "$B2/v1/calls?contact_email=p$i@x.example" > "$T/code$i" &
  CURLS+=($!)
done
wait "${CURLS[@]}"
for i in $(seq 1 12); do [ "$(cat "$T/code$i")" = 202 ] || fail "concurrent upload $i: $(cat "$T/code$i") $(cat "$T/up$i")"; done
n=$(cat "$T"/up* | python3 -c 'import sys,json; print(len({json.loads(l)["id"] for l in sys.stdin.read().replace("}{","}\n{").splitlines()}))')
[ "$n" = 12 ] || fail "12 uploads gave $n distinct ids"
curl -s -H "Authorization: Bearer $K2" "$B2/v1/calls?limit=100&status=queued" | grep -o '"id"' | wc -l | grep -qx 12 \
  || fail "12 queued calls not listed"
# stored encrypted at rest (docs/security.md): each decrypts to exactly the upload
for f in "$D2"/calls/*/audio.wav; do
  head -c 8 "$f" | grep -q SDRAENC1 || fail "stored upload $f is not encrypted"
  "$SDRA" decrypt "$f" --data "$D2" -o "$T/stored.wav" || fail "stored upload $f does not decrypt"
  cmp -s "$T/stored.wav" "$AUDIO" || fail "stored upload $f differs"
done
# an upload retried with the same Idempotency-Key names the same call
up() { curl -s -o "$T/idem" -w '%{http_code}' -H "Authorization: Bearer $K2" -H 'Content-Type: audio/wav' \
  -H 'Idempotency-Key: upload-42' --data-binary @"$AUDIO" "$B2/v1/calls"; }
[ "$(up)" = 202 ] || fail "idempotent upload: $(cat "$T/idem")"
id1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/idem")
[ "$(up)" = 200 ] || fail "idempotent retry: $(cat "$T/idem")"
id2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/idem")
[ "$id1" = "$id2" ] || fail "idempotent retry made a second call ($id1, $id2)"
[ "$(status -H "Authorization: Bearer $K2" -H 'Content-Type: audio/wav' -H 'Idempotency-Key: a b' \
  --data-binary @"$AUDIO" "$B2/v1/calls")" = 400 ] || fail "bad Idempotency-Key accepted"
echo "server_api: ok"
