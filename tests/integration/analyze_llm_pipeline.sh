#!/usr/bin/env bash
# analyze_llm_pipeline.sh - the llm analyzer inside the pipeline: `sdra run --analyzer llm`
# sends the call's transcript to the configured server (tests/servers/openai_llm.py on
# 127.0.0.1) and writes a whole package with an llm analysis; with the server unreachable the
# run still finishes the package, the analysis holding the rules engine's findings and the
# warning; `sdra serve --analyzer llm` passes the settings to its analyze workers.
# ctest-labels: slow
set -u
: "${SDRA:?}" "${SDRA_SRC:?}" "${SDRA_FIXTURES:?}"
AUDIO="$SDRA_FIXTURES/tiny.stereo.wav" # the subject is the analyzer's settings, not the words
[ -f "$AUDIO" ] || { echo "FAIL: $AUDIO missing (tests/fixtures/generate.sh)" >&2; exit 1; }
T=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$T"/*.log; do [ -f "$f" ] && tail -n 8 "$f" >&2; done; exit 1; }
unset SDRA_LLM_API_KEY

python3 "$SDRA_SRC/tests/servers/openai_llm.py" --port-file "$T/llm.port" --labels "$SDRA_SRC/tests/analysis/labels.txt" \
  2>"$T/llm.log" &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$T/llm.port" ] && break; sleep 0.1; done
[ -s "$T/llm.port" ] || fail "test server did not start"
LPORT=$(cat "$T/llm.port")
URL="http://127.0.0.1:$LPORT/v1"
requests() { python3 -c "import json,urllib.request; print(json.load(urllib.request.urlopen('http://127.0.0.1:$LPORT/stats'))['requests'])"; }

common=(--rep-name Alex --call-date 2026-11-24 --rep-channel left --jobs 2 --data "$T/data" --quiet)

# --- run, server up ---------------------------------------------------------------------------
"$SDRA" run "$AUDIO" "${common[@]}" --out "$T/out1" --analyzer llm --llm-url "$URL" --llm-model test-model \
  >"$T/run1.log" 2>&1 || fail "run --analyzer llm: exit $?"
pkg=$(ls -d "$T"/out1/*/)
for f in analysis.json email.json crm.json report.html; do [ -s "$pkg/$f" ] || fail "package lacks $f"; done
[ "$(requests)" = 1 ] || fail "expected one request to the llm server, got $(requests)"
python3 - "$pkg/analysis.json" <<'PY' || fail "run: analysis not from the llm path"
import json, sys
d = json.load(open(sys.argv[1]))
m = d["meta"]["llm"]
assert d["backend"] == "llm" and m["fallback"] is False and m["model"] == "test-model", d["meta"]
assert "warnings" not in d["meta"]
PY
echo "ok: run --analyzer llm"

# --- run, server unreachable: the package is still finished -------------------------------------
# (the same package, resumed from the analyze stage: the analyzer is not part of call.json, so
# a changed analyzer needs the analysis removed, or --force)
rm -f "$pkg"/analysis.json "$pkg"/email.* "$pkg"/invite.ics "$pkg"/crm.json "$pkg"/report.html
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
"$SDRA" run "$AUDIO" "${common[@]}" --out "$T/out1" --analyzer llm --llm-url "http://127.0.0.1:$dead/v1" \
  >"$T/run2.log" 2>&1 || fail "run with the llm server down: exit $?"
for f in analysis.json email.json crm.json report.html; do [ -s "$pkg/$f" ] || fail "package lacks $f (server down)"; done
python3 - "$pkg/analysis.json" <<'PY' || fail "run: no fallback warning"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["backend"] == "rules" and d["meta"]["llm"]["fallback"] is True, d["meta"]
assert "cannot connect" in d["meta"]["warnings"][0], d["meta"]["warnings"]
PY
grep -q "llm analysis failed" "$T/run2.log" || fail "run: the warning was not shown"
echo "ok: run falls back and finishes the package"

# --- run: usage errors ----------------------------------------------------------------------------
"$SDRA" run "$AUDIO" --analyzer llm --out "$T/out3" >/dev/null 2>"$T/u.err"; rc=$?
[ $rc -eq 2 ] && grep -q "needs --llm-url" "$T/u.err" || fail "run --analyzer llm without URL: exit $rc $(cat "$T/u.err")"
[ -d "$T/out3" ] && fail "run wrote a package after a usage error"

# --- serve: the analyze workers use the settings ---------------------------------------------------
D="$T/sdata"
KEY=$("$SDRA" keys create --data "$D" --name w --scope write) || fail "keys create"
"$SDRA" serve --listen 127.0.0.1:0 --data "$D" --port-file "$T/s.port" --log-format text \
  --analyzer llm --llm-url "$URL" --llm-model served-model 2>"$T/serve.log" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$T/s.port" ] && break; sleep 0.1; done
[ -s "$T/s.port" ] || fail "serve did not start"
B="http://127.0.0.1:$(cat "$T/s.port")"
ID=$(curl -s -H "Authorization: Bearer $KEY" -F "audio=@$AUDIO;type=audio/wav" -F rep_name=Alex -F call_date=2026-11-24 \
  "$B/v1/calls" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') || fail "upload"
curl -sN --max-time 600 -H "Authorization: Bearer $KEY" "$B/v1/calls/$ID/events" | grep -q '^event: done' || fail "serve: call not done"
curl -s -H "Authorization: Bearer $KEY" "$B/v1/calls/$ID/analysis" > "$T/sa.json"
python3 - "$T/sa.json" <<'PY' || fail "serve: analysis not from the llm path: $(head -c 300 "$T/sa.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["backend"] == "llm" and d["meta"]["llm"]["model"] == "served-model", d.get("meta")
PY
[ "$(requests)" = 2 ] || fail "serve: expected a second request to the llm server, got $(requests)"
"$SDRA" serve --data "$D" --analyzer llm 2>"$T/u.err"; rc=$?
[ $rc -eq 2 ] && grep -q "needs --llm-url" "$T/u.err" || fail "serve --analyzer llm without URL: exit $rc"
echo "ok: serve passes the settings to its analyze workers"
echo PASS
