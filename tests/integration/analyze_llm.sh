#!/usr/bin/env bash
# analyze_llm.sh - `sdra analyze --analyzer llm` against tests/servers/openai_llm.py (127.0.0.1):
# the request follows the OpenAI API (temperature 0, json_schema strict, numbered utterances,
# Bearer key from SDRA_LLM_API_KEY and nowhere else); the labelled dialogue's items come back
# grounded, with dates from the project's resolver; a split call gives the same findings; every
# server failure (401, 404, 429, 500, timeout, malformed or truncated body, refusal, content
# filter, schema-invalid or prose answer, oversized body, refused connection, TLS to a plain
# server) falls back to the rules engine with a warning in meta.warnings and exit 0; injected
# hallucinations are all dropped and counted, no grounded item is; bad flags are one line and
# exit 2. Then `sdra eval analysis` through the llm path on the labelled dialogues.
set -u
: "${SDRA:?}" "${SDRA_SRC:?}"
tmp=$(mktemp -d)
srv_pid=
cleanup() { [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
A="$SDRA_SRC/tests/analysis"
KEY="sk-test-$$-secret"

python3 "$SDRA_SRC/tests/servers/openai_llm.py" --port-file "$tmp/port" --labels "$A/labels.txt" \
  --api-key "$KEY" --delay-s 2.5 2>"$tmp/server.err" &
srv_pid=$!
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || fail "test server did not start: $(cat "$tmp/server.err")"
PORT=$(cat "$tmp/port")
URL="http://127.0.0.1:$PORT/v1"
ctl() { python3 - "$PORT" "$1" <<'PY'
import sys, urllib.request
urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%s/control" % sys.argv[1], data=sys.argv[2].encode(),
                                              headers={"Content-Type": "application/json"})).read()
PY
}
stats() { python3 -c "import json,sys,urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$PORT/stats').read().decode())"; }

run() { # name, extra args...: analyse 01-discovery through the llm path into $tmp/<name>.json
  local name=$1; shift
  SDRA_LLM_API_KEY="${KEYV-$KEY}" "$SDRA" analyze "$A/01-discovery.txt" --call-date 2026-11-16 --rep-name Alex \
    --analyzer llm --llm-url "$URL" "$@" -o "$tmp/$name.json" 2>"$tmp/$name.err"
  local rc=$?
  [ $rc -eq 0 ] || fail "$name: exit $rc: $(cat "$tmp/$name.err")"
  grep -q -- "$KEY" "$tmp/$name.err" "$tmp/$name.json" && fail "$name: the API key appears in the output"
  return 0
}

# --- the right behaviour ------------------------------------------------------------------------
run ok
stats > "$tmp/stats.json"
python3 - "$tmp/ok.json" "$tmp/stats.json" "$SDRA_SRC/data/llm/analysis.schema.json" <<'PY' || fail "llm analysis"
import json, sys
d, st, schema = (json.load(open(p)) for p in sys.argv[1:4])
assert d["schema"] == "sdra.analysis/1" and d["backend"] == "llm", d["backend"]
m = d["meta"]["llm"]
assert m["fallback"] is False and "warnings" not in d["meta"], d["meta"]
assert m["items"] == m["kept"] == 8 and m["parts"] == 1 and m["requests"] == 1, m
assert m["dropped_ungrounded"] == 0 and m["dates_resolved"] == 3, m
req = st["last_request"]
assert st["auth_ok"] is True
assert req["temperature"] == 0 and req["stream"] is False and req["model"] == "gpt-4o-mini"
rf = req["response_format"]
assert rf["type"] == "json_schema" and rf["json_schema"]["strict"] is True
enum = rf["json_schema"]["schema"]["properties"]["objections"]["items"]["properties"]["type"]["enum"]
assert len(enum) == 10 and "price" in enum
assert [x["role"] for x in req["messages"]] == ["system", "user"]
user = req["messages"][1]["content"]
assert "[0] REP: Hi Jordan" in user and "[1] PROSPECT: Sure, happy to chat." in user, user[:300]
assert "2026-11-16" in user
obj = {(o["type"], o["i"]) for o in d["objections"]}
assert obj == {("no_time", 1), ("price", 11)}, obj
for o in d["objections"]:
    assert o["role"] == "prospect" and o["speaker"] == "S2" and o["match"].lower() in o["text"].lower()
acts = {(a["owner"], a["kind"], a["i"], a["due"]) for a in d["action_items"]}
assert acts == {("rep", "commitment", 10, "2026-11-19"), ("rep", "commitment", 14, "2026-11-16"),
                ("prospect", "commitment", 13, None)}, acts
mt = d["next_meeting"]
assert mt["date"] == "2026-11-24" and mt["time"] == "14:00", mt
assert len(d["pain_points"]) == 2 and all(p["role"] == "prospect" for p in d["pain_points"])
assert d["outcome"].startswith("Meeting agreed for 2026-11-24 at 14:00"), d["outcome"]
assert d["summary"].startswith("The prospect raised"), d["summary"]
# what the rules engine computes stays
for k in ("sentiment", "intents", "topics", "metrics", "contact_preferences"):
    assert k in d, k
PY
echo "ok: llm findings grounded and merged"

# --- a split call: the same findings, quotes tied to global indices ------------------------------
run split --llm-max-chars 400
python3 - "$tmp/ok.json" "$tmp/split.json" <<'PY' || fail "split call"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
m = b["meta"]["llm"]
assert m["parts"] >= 3 and m["requests"] == m["parts"] and m["fallback"] is False, m
key = lambda d: ({(o["type"], o["i"]) for o in d["objections"]}, {(x["owner"], x["i"], x["due"]) for x in d["action_items"]},
                 {p["i"] for p in d["pain_points"]}, (d["next_meeting"] or {}).get("date"))
assert key(a) == key(b), (key(a), key(b))
PY
echo "ok: split into parts, same findings"

# --- hallucinations: every injected item dropped, no grounded one --------------------------------
ctl '{"hallucinate": 6, "reset": true}'
run halluc
stats > "$tmp/stats.json"
ctl '{"hallucinate": 0}'
python3 - "$tmp/ok.json" "$tmp/halluc.json" "$tmp/stats.json" <<'PY' || fail "hallucinations"
import json, sys
a, b, st = (json.load(open(p)) for p in sys.argv[1:4])
m = b["meta"]["llm"]
inj = st["injected"]
assert inj == 6, st
assert m["items"] == 8 + inj and m["kept"] == 8, m
assert m["dropped_ungrounded"] + m["dropped_bad_utterance"] == inj, m
assert m["dropped_bad_utterance"] == 2, m
for k in ("objections", "action_items", "pain_points"):
    assert json.dumps(a[k], sort_keys=True) == json.dumps(b[k], sort_keys=True), k
print("dropped %d of %d injected; kept %d of 8 grounded" % (m["dropped_ungrounded"] + m["dropped_bad_utterance"], inj, m["kept"]))
PY
echo "ok: hallucinations dropped"

# --- one 429 then an answer: the retry honours Retry-After and succeeds ---------------------------
ctl '{"mode": "429", "count": 1, "reset": true}'
run retry
python3 -c "
import json; d=json.load(open('$tmp/retry.json')); m=d['meta']['llm']
assert d['backend']=='llm' and m['fallback'] is False, m" || fail "429 then success"
stats | python3 -c "import json,sys; s=json.load(sys.stdin); assert s['requests']==2, s" || fail "429: not retried once"
echo "ok: 429 retried"

# --- failures: fall back to the rules engine, say why --------------------------------------------
fallback() { # name, expected words in the warning (regex), extra args...
  local name=$1 want=$2; shift 2
  run "$name" "$@"
  python3 - "$tmp/$name.json" "$want" <<'PY' || fail "$name: no fallback with a warning ($(cat "$tmp/$name.err"))"
import json, re, sys
d = json.load(open(sys.argv[1]))
w = d["meta"].get("warnings", [])
assert d["backend"] == "rules" and d["meta"]["llm"]["fallback"] is True, d["meta"]
assert len(w) == 1 and w[0].startswith("llm analysis failed, rules engine used instead: "), w
assert re.search(sys.argv[2], w[0], re.I), (sys.argv[2], w[0])
assert any(o["type"] == "price" for o in d["objections"]) and d["next_meeting"]["date"] == "2026-11-24"
PY
  [ "$(wc -l < "$tmp/$name.err")" -eq 1 ] || fail "$name: expected one warning line on stderr: $(cat "$tmp/$name.err")"
  grep -q "warn: llm analysis failed" "$tmp/$name.err" || fail "$name: stderr: $(cat "$tmp/$name.err")"
  echo "ok: $name -> rules, warning: $(sed 's/.*instead: //' "$tmp/$name.err" | cut -c1-110)"
}
mode() { ctl "{\"mode\": \"$1\", \"count\": -1}"; }
KEYV="wrong-key" fallback badkey '401|API key'
mode 429;       fallback rate_limited '429.*after 3 attempts|Rate limit'
mode 500;       fallback server_error '500'
mode malformed; fallback malformed 'reply is not JSON'
mode truncated; fallback truncated 'transfer|partial|closed|bytes|truncat'
mode refusal;   fallback refusal 'model refused'
mode filter;    fallback content_filter 'content_filter'
mode invalid;   fallback schema_invalid 'does not follow analysis.schema.json.*objections\[2\]\.type'
mode notjson;   fallback prose "answer is not JSON"
mode oversized; fallback oversized 'limit|large|bytes'
mode slow;      fallback timeout 'time|deadline' --llm-timeout-s 1
mode labels
URL="http://127.0.0.1:$PORT/v2" fallback wrong_path '404|not found|unknown'
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
URL="http://127.0.0.1:$dead/v1" fallback refused 'connect'
URL="https://127.0.0.1:$PORT/v1" fallback tls 'TLS|SSL'

# --- bad flags: one line, exit 2, nothing sent ----------------------------------------------------
bad() { # expected message regex, args...
  local want=$1; shift
  "$SDRA" analyze "$A/01-discovery.txt" "$@" >"$tmp/bad.out" 2>"$tmp/bad.err"
  local rc=$?
  [ $rc -eq 2 ] || fail "analyze $*: exit $rc, expected 2"
  grep -Eq "$want" "$tmp/bad.err" || fail "analyze $*: message: $(cat "$tmp/bad.err")"
  [ -s "$tmp/bad.out" ] && fail "analyze $*: wrote output"
  return 0
}
bad 'needs --llm-url' --analyzer llm
bad 'http:// or https://' --analyzer llm --llm-url "ftp://127.0.0.1:$PORT/v1"
bad 'http:// or https://' --analyzer llm --llm-url "127.0.0.1:$PORT/v1"
bad 'rules or llm' --analyzer gpt --llm-url "$URL"
bad 'llm-max-chars' --analyzer llm --llm-url "$URL" --llm-max-chars 10
bad 'llm-timeout-s' --analyzer llm --llm-url "$URL" --llm-timeout-s 0
echo "ok: bad flags"

# --- the labelled dialogues through the llm path ---------------------------------------------------
ctl '{"mode": "labels", "hallucinate": 0}'
SDRA_LLM_API_KEY="$KEY" "$SDRA" eval analysis --labels "$A/labels.txt" --analyzer llm --llm-url "$URL" \
  --min-f1 0.95 > "$tmp/eval.txt" 2>&1 || fail "eval through llm: $(cat "$tmp/eval.txt")"
grep -q "warn" "$tmp/eval.txt" && fail "eval through llm fell back: $(cat "$tmp/eval.txt")"
tail -1 "$tmp/eval.txt"
echo "PASS"
