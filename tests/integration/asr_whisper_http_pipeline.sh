#!/usr/bin/env bash
# asr_whisper_http_pipeline.sh - the --asr flags reach the transcription stage from `sdra run`
# (the call sheet's names go in the prompt) and from `sdra serve` (its stage workers transcribe
# through the Whisper test server). Needs $SDRA, $SDRA_FIXTURES, $SDRA_SRC (CTest sets them).
# ctest-labels: slow
set -euo pipefail
: "${SDRA:?}" "${SDRA_FIXTURES:?}" "${SDRA_SRC:?}"
tmp="$(mktemp -d)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
fail() { echo "asr_whisper_http_pipeline: FAIL: $*" >&2; for f in "$tmp"/*.log; do [ -f "$f" ] && tail -n 5 "$f" >&2; done; exit 1; }
unset SDRA_ASR_API_KEY
audio="$SDRA_FIXTURES/short.mono.wav"

python3 "$SDRA_SRC/tests/servers/openai_whisper.py" --sdra "$SDRA" --port-file "$tmp/w.port" \
  --concurrency 2 2>"$tmp/whisper.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/w.port" ] && break; sleep 0.1; done
[ -s "$tmp/w.port" ] || fail "whisper test server did not start"
wbase="http://127.0.0.1:$(cat "$tmp/w.port")"
requests() { curl -sf "$wbase/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])'; }

# --- sdra run ----------------------------------------------------------------------------
"$SDRA" run "$audio" --asr-url "$wbase/v1" --asr-timeout-s 600 --contact-name "Jordan Lee" \
  --company Northwind --rep-name Alex --out "$tmp/out" --data "$tmp/data" -q >/dev/null 2>"$tmp/run.log" \
  || fail "sdra run --asr-url"
t=$(ls "$tmp"/out/*/transcript.json)
python3 -c "
import json,sys
m=json.load(open('$t'))['meta']; assert m['engine'] == 'whisper-http', m" || fail "run: not transcribed by whisper-http"
curl -sf "$wbase/stats" | python3 -c "
import json,sys
log=json.load(sys.stdin)['log']; assert log
for r in log:
    p=r['fields']['prompt'][0]
    assert 'Jordan Lee' in p and 'Northwind' in p and 'Alex' in p, p" || fail "run: the call sheet's names are not in the prompt"
set +e
"$SDRA" run "$audio" --asr whisper-http --out "$tmp/out2" --data "$tmp/data" -q 2>"$tmp/err"; rc=$?
set -e
[ "$rc" = 2 ] && grep -q -- "--asr-url" "$tmp/err" || fail "run without URL: rc $rc $(cat "$tmp/err")"

# --- sdra serve ----------------------------------------------------------------------------
set +e
"$SDRA" serve --data "$tmp/sdata" --asr whisper-http 2>"$tmp/err"; rc=$?
set -e
[ "$rc" = 2 ] || fail "serve without URL: rc $rc"
before=$(requests)
key=$("$SDRA" keys create --data "$tmp/sdata" --name w --scope write) || fail "keys create"
"$SDRA" serve --listen 127.0.0.1:0 --data "$tmp/sdata" --port-file "$tmp/s.port" --asr-url "$wbase/v1" \
  --asr-timeout-s 600 2>"$tmp/serve.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/s.port" ] && break; sleep 0.1; done
[ -s "$tmp/s.port" ] || fail "sdra serve did not start"
sbase="http://127.0.0.1:$(cat "$tmp/s.port")"
id=$(curl -sf -H "Authorization: Bearer $key" -F "audio=@$audio;type=audio/wav" \
  -F contact_email=jordan@acme.example -F "contact_name=Jordan Lee" "$sbase/v1/calls" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') || fail "upload"
for _ in $(seq 600); do
  code=$(curl -s -o "$tmp/tr.json" -w '%{http_code}' -H "Authorization: Bearer $key" "$sbase/v1/calls/$id/transcript")
  [ "$code" = 200 ] && break
  sleep 0.5
done
[ "$code" = 200 ] || fail "serve: no transcript ($code)"
python3 -c "
import json
m=json.load(open('$tmp/tr.json'))['meta']; assert m['engine'] == 'whisper-http', m" || fail "serve: the stage worker did not use whisper-http"
[ "$(requests)" -gt "$before" ] || fail "serve: no request reached the Whisper server"
echo "asr_whisper_http_pipeline: ok"
