#!/usr/bin/env bash
# ctest-labels: slow
# asr_whisper_http.sh - `sdra transcribe --asr whisper-http` against the OpenAI-API test server
# (tests/servers/openai_whisper.py, which runs the embedded recognizer on every chunk it gets):
# what is sent, the words and times that come back, the in-order merge with replies out of
# order, retries (429/503 with Retry-After, 500, malformed and truncated replies), failover to
# a second endpoint, the guards (text on silence, repetition loops, no word timings), and bad
# input (no URL, refused connection, TLS to a plain server, oversized reply, 401, 400, timeout)
# each failing with one line. Needs $SDRA, $SDRA_FIXTURES, $SDRA_SRC (CTest sets them);
# $SDRA_RECOGNIZER (default $SDRA) is the sdra the test server runs to recognise.
set -euo pipefail
SECONDS=0
: "${SDRA:?}" "${SDRA_FIXTURES:?}" "${SDRA_SRC:?}"
tmp="$(mktemp -d)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
fx="$SDRA_FIXTURES"
fail() { echo "asr_whisper_http: FAIL: $*" >&2; exit 1; }
unset SDRA_ASR_API_KEY
mkdir -p "$tmp/cache"

# server NAME [ARGS...]: starts a test server; its base URL goes to $tmp/NAME.url
server() {
  local name="$1"; shift
  python3 "$SDRA_SRC/tests/servers/openai_whisper.py" --sdra "${SDRA_RECOGNIZER:-$SDRA}" --port-file "$tmp/$name.port" \
    --cache-dir "$tmp/cache" --concurrency 2 "$@" 2>"$tmp/$name.log" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$tmp/$name.port" ] && break; sleep 0.1; done
  [ -s "$tmp/$name.port" ] || fail "server $name did not start: $(cat "$tmp/$name.log")"
  echo "http://127.0.0.1:$(cat "$tmp/$name.port")/v1" > "$tmp/$name.url"
}
url() { cat "$tmp/$1.url"; }
control() { curl -sf -X POST -d "$2" "$(url "$1" | sed 's,/v1$,,')/control" >/dev/null; }
stats() { curl -sf "$(url "$1" | sed 's,/v1$,,')/stats"; }
meta() { python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["meta"]; print(eval(sys.argv[2], {}, {"m": m}))' "$1" "$2"; }
wer() { "$SDRA" eval asr --ref "$1" "$2" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["wer"])'; }
# one_line CMD...: must exit 1 with exactly one line on stderr; that line goes to $tmp/err
one_line() {
  set +e; "$@" >/dev/null 2>"$tmp/err"; local rc=$?; set -e
  [ "$rc" = 1 ] || fail "exit $rc, not 1: $* ($(cat "$tmp/err"))"
  [ "$(wc -l < "$tmp/err")" = 1 ] || fail "not one line on stderr: $*: $(cat "$tmp/err")"
}
T=("$SDRA" transcribe -q --asr-timeout-s 600) # a loaded machine recognises slowly
short="$fx/short.mono.wav"

server ok
server ooo --mode outoforder
server down --mode 500
server keyed --key test-key-1234

echo "[${SECONDS}s]"
# --- a clean run: what is sent, what comes back --------------------------------------------
"${T[@]}" "$fx/short.stereo.wav" --rep-channel left --asr whisper-http --asr-url "$(url ok)" \
  --asr-chunk-s 10 --hints "Jordan Lee, Northwind" -o "$tmp/stereo.json" || fail "stereo via whisper-http"
w=$(wer "$fx/short.stm" "$tmp/stereo.json"); echo "short.stereo via whisper-http: WER $w"
python3 -c "import sys; sys.exit(0 if float('$w') < 0.30 else 1)" || fail "stereo WER $w >= 0.30"
python3 - "$tmp/stereo.json" <<'PY' || fail "stereo transcript"
import json, sys
d = json.load(open(sys.argv[1]))
m = d["meta"]
assert m["engine"] == "whisper-http", m
assert set(m["asr_guards"]) == {"silent_chunks_skipped", "silence_dropped", "repetition_dropped",
                                "boundary_duplicates_dropped"}, m
assert m["asr_requests"]["requests"] >= 4 and m["asr_requests"]["retries"] == 0, m  # 2 channels, several chunks
sp = {s["id"]: s for s in d["speakers"]}
assert sp["S1"]["channel"] == 0 and sp["S1"]["role"] == "rep", sp
starts = [u["start"] for u in d["utterances"]]
assert starts == sorted(starts), "utterances not in time order"
for u in d["utterances"]:
    assert u["words"] and all(w["start"] < w["end"] and 0 <= w["conf"] <= 1 for w in u["words"]), u
    assert u["words"][-1]["end"] <= d["duration"] + 0.01, u
PY
stats ok > "$tmp/stats.json"
python3 - "$tmp/stats.json" <<'PY' || fail "what was sent"
import json, sys
log = json.load(open(sys.argv[1]))["log"]
assert log, "no request reached the server"
for r in log:
    f = r["fields"]
    assert r["path"] == "/v1/audio/transcriptions" and r["status"] == 200, r
    assert f["model"] == ["whisper-1"] and f["response_format"] == ["verbose_json"], f
    assert sorted(f["timestamp_granularities[]"]) == ["segment", "word"], f
    assert "Jordan Lee, Northwind" in f["prompt"][0], f
    assert r["file"]["content_type"] == "audio/wav" and r["file"]["bytes"] > 44, r
    assert r["auth"] == "none", r  # no key configured: no Authorization header
    assert set(f) <= {"model", "response_format", "timestamp_granularities[]", "prompt", "temperature",
                      "language"}, f  # nothing else leaves the machine
PY

echo "[${SECONDS}s]"
# --- deterministic merge: replies out of order, more workers: the same transcript ------------
"${T[@]}" "$short" --format text --jobs 1 --asr-url "$(url ok)" --asr-chunk-s 5 -o "$tmp/inorder.txt" \
  || fail "in-order run"
"${T[@]}" "$short" --format text --jobs 4 --asr-url "$(url ooo)" --asr-chunk-s 5 --asr-max-in-flight 4 \
  -o "$tmp/ooo.txt" || fail "out-of-order run"
[ -s "$tmp/inorder.txt" ] || fail "empty transcript"
diff -u "$tmp/inorder.txt" "$tmp/ooo.txt" || fail "replies out of order changed the transcript"
stats ooo | python3 -c "
import json,sys
log=sorted(json.load(sys.stdin)['log'], key=lambda r: r['seq'])
done=[r['t_done'] for r in log]
assert len(done) >= 2 and any(done[j] < done[i] for i in range(len(done)) for j in range(i + 1, len(done))), done
" || fail "the replies did not come back out of order: the test proves nothing"

echo "[${SECONDS}s]"
# --- retries: 429 and 503 with Retry-After, 500, malformed, truncated (once each) -----------
for m in 429 503 500 malformed truncated; do
  control ok "{\"reset\": true, \"modes\": [\"$m\"]}"
  "${T[@]}" "$short" --jobs 1 --asr-url "$(url ok)" --asr-chunk-s 5 -o "$tmp/r.json" 2>"$tmp/r.err" \
    || fail "$m once: not retried ($(cat "$tmp/r.err"))"
  [ "$(meta "$tmp/r.json" 'm["asr_requests"]["retries"]')" -ge 1 ] || fail "$m once: no retry counted"
  stats ok | python3 -c "
import json,sys
log=json.load(sys.stdin)['log']; st=[r['status'] for r in log]
assert st[0] != 200 or '$m' in ('malformed','truncated'), st
assert st.count(200) >= 1, st" || fail "$m once: server log"
done
# the retried transcript is the clean one
"${T[@]}" "$short" --format text --jobs 1 --asr-url "$(url ok)" --asr-chunk-s 5 -o "$tmp/again.txt"
control ok '{"reset": true, "modes": ["429", "500"]}'
"${T[@]}" "$short" --format text --jobs 1 --asr-url "$(url ok)" --asr-chunk-s 5 -o "$tmp/retried.txt" \
  || fail "429 then 500: not retried"
diff -u "$tmp/again.txt" "$tmp/retried.txt" || fail "a retried chunk changed the transcript"
# Retry-After is honoured: a 429 with Retry-After: 1 delays that endpoint's retry by >= 1 s
control ok '{"reset": true, "modes": ["429"]}'
"${T[@]}" "$short" --jobs 1 --asr-url "$(url ok)" --asr-chunk-s 5 -o "$tmp/ra.json"
stats ok | python3 -c "
import json,sys
log=json.load(sys.stdin)['log']
assert log[0]['status'] == 429 and log[1]['t'] - log[0]['t'] >= 0.95, log[:2]" || fail "Retry-After not honoured"

echo "[${SECONDS}s]"
# --- failover: one endpoint always fails, the other answers ---------------------------------
"${T[@]}" "$short" --format json --jobs 2 --asr-url "$(url down)" --asr-url "$(url ok)" --asr-chunk-s 5 \
  -o "$tmp/fo.json" 2>"$tmp/fo.err" || fail "failover: $(cat "$tmp/fo.err")"
[ "$(meta "$tmp/fo.json" 'm["asr_requests"]["failovers"]')" -ge 1 ] || fail "failover not counted"
python3 -c "
import json
t=' '.join(u['text'] for u in json.load(open('$tmp/fo.json'))['utterances'])
assert t.split() == [w for line in open('$tmp/inorder.txt') for w in line.split(': ',1)[1].split()], t
" || fail "failover transcript differs from the clean one"

echo "[${SECONDS}s]"
# --- guards ---------------------------------------------------------------------------------
control ok '{"reset": true}'
server hall --mode hallucinate
"${T[@]}" "$short" --asr-url "$(url hall)" --asr-chunk-s 5 -o "$tmp/hall.json" || fail "hallucinate run"
grep -q '"thank"' "$tmp/hall.json" && fail "the hallucinated segment on silence was kept"
[ "$(meta "$tmp/hall.json" 'm["asr_guards"]["silence_dropped"]')" -ge 1 ] || fail "silence_dropped not counted"
server rep --mode repeat
"${T[@]}" "$short" --asr-url "$(url rep)" --asr-chunk-s 5 -o "$tmp/rep.json" || fail "repeat run"
[ "$(meta "$tmp/rep.json" 'm["asr_guards"]["repetition_dropped"]')" -ge 1 ] || fail "repetition_dropped not counted"
python3 - "$tmp/rep.json" <<'PY' || fail "a repetition loop was kept"
import json, sys
ws = [w["w"] for u in json.load(open(sys.argv[1]))["utterances"] for w in u["words"]]
for n in (1, 2, 3):
    for i in range(len(ws) - 4 * n):
        assert not all(ws[i:i + n] == ws[i + k * n:i + (k + 1) * n] for k in range(1, 4)), ws[i:i + 4 * n]
PY
server now --mode nowords
"${T[@]}" "$short" --asr-url "$(url now)" --asr-chunk-s 5 -o "$tmp/now.json" || fail "nowords run"
w=$(wer "$fx/short.stm" "$tmp/now.json"); echo "short.mono, segments only: WER $w"
python3 -c "import sys; sys.exit(0 if float('$w') < 0.30 else 1)" || fail "segments-only WER $w"
python3 -c "
import json
d=json.load(open('$tmp/now.json'))
ws=[w for u in d['utterances'] for w in u['words']]
assert ws and all(a['start'] <= b['start'] and a['start'] < a['end'] for a, b in zip(ws, ws[1:])), 'word times'
" || fail "segments-only word times"

echo "[${SECONDS}s]"
# --- keys ----------------------------------------------------------------------------------
one_line "${T[@]}" "$short" --asr-url "$(url keyed)"
grep -q "401\|Incorrect API key\|denied\|auth" "$tmp/err" || fail "401 not said: $(cat "$tmp/err")"
SDRA_ASR_API_KEY=wrong-key-5678 one_line "${T[@]}" "$short" --asr-url "$(url keyed)"
grep -q "wrong-key-5678" "$tmp/err" && fail "the key is in the message"
SDRA_ASR_API_KEY=test-key-1234 "${T[@]}" "$short" --asr-url "$(url keyed)" -o "$tmp/keyed.json" 2>"$tmp/k.err" \
  || fail "right key refused: $(cat "$tmp/k.err")"
grep -q "test-key-1234" "$tmp/k.err" "$tmp/keyed.json" && fail "the key was written out"
stats keyed | python3 -c "
import json,sys
log=json.load(sys.stdin)['log']; assert log[-1]['auth'] == 'ok' and log[-1]['status'] == 200, log[-1]" \
  || fail "bearer not sent"
[ "$(stats keyed | python3 -c 'import json,sys; print(sum(r["status"]==401 for r in json.load(sys.stdin)["log"]))')" = 2 ] \
  || fail "a 401 was retried"

echo "[${SECONDS}s]"
# --- bad input: one line, exit 1 (usage errors exit 2) --------------------------------------
set +e
"${T[@]}" "$short" --asr whisper-http 2>"$tmp/err"; rc=$?
set -e
[ "$rc" = 2 ] && [ "$(wc -l < "$tmp/err")" = 1 ] && grep -q -- "--asr-url" "$tmp/err" || fail "no URL: rc $rc $(cat "$tmp/err")"
set +e
"${T[@]}" "$short" --asr-url ftp://127.0.0.1/v1 2>"$tmp/err"; rc=$?
"${T[@]}" "$short" --asr nosuch 2>>"$tmp/err"; rc2=$?
set -e
[ "$rc" = 2 ] && [ "$rc2" = 2 ] || fail "bad scheme/backend: rc $rc $rc2 $(cat "$tmp/err")"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
one_line "${T[@]}" "$short" --asr-url "http://127.0.0.1:$port/v1"
grep -qi "connect" "$tmp/err" || fail "refused: $(cat "$tmp/err")"
one_line "${T[@]}" "$short" --asr-url "$(url ok | sed 's/^http:/https:/')"
grep -qi "tls\|ssl" "$tmp/err" || fail "https to a plain server: $(cat "$tmp/err")"
for m in oversize 400 malformed; do
  control ok "{\"reset\": true, \"modes\": [\"$m\", \"$m\", \"$m\", \"$m\", \"$m\", \"$m\", \"$m\"]}"
  one_line "${T[@]}" "$short" --jobs 1 --asr-url "$(url ok)" --asr-chunk-s 5
  echo "$m: $(cat "$tmp/err")"
  case $m in
    oversize) grep -qi "limit\|large\|byte" "$tmp/err" || fail "oversize: $(cat "$tmp/err")"
              [ "$(stats ok | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')" = 1 ] || fail "oversize retried" ;;
    400) grep -q "Invalid file format" "$tmp/err" || fail "400: $(cat "$tmp/err")"
         [ "$(stats ok | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')" = 1 ] || fail "400 retried" ;;
    malformed) grep -qi "not JSON" "$tmp/err" || fail "malformed: $(cat "$tmp/err")" ;;
  esac
done
control ok '{"reset": true}'
server slow --mode slow --slow-ms 3000
one_line "${T[@]}" "$short" --jobs 1 --asr-url "$(url slow)" --asr-chunk-s 5 --asr-timeout-s 1
grep -qi "time" "$tmp/err" || fail "timeout: $(cat "$tmp/err")"
one_line "$SDRA" transcribe - --input-format wav --asr-url "$(url ok)" < "$short"
grep -qi "live\|stdin" "$tmp/err" || fail "stdin: $(cat "$tmp/err")"
echo "asr_whisper_http: ok"
