#!/usr/bin/env bash
# web_live.sh - the web app's live call view (docs/web.md "Live calls") in Debian's headless
# chromium, driven by tests/web/live.mjs through playwright-core: `sdra live-send` streams the
# pricing call's first 20 s (Twilio format, 4x real time) while the page is open; the call
# shows in the Live list, its page gets the utterances, an objection card with its battlecard,
# the running metrics, and on `done` a link to the call's page; partials and the order of alert
# cards on a stream the test answers itself; the ended call has left GET /v1/live/calls (the
# API's own checks are live_list.sh). Screenshots in $SDRA_BUILD/test-output/web-live/
# (docs/web/live.png is a copy).
# ctest-labels: slow
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
FIX=${SDRA_FIXTURES:?SDRA_FIXTURES must name the generated calls}
SRC=${SDRA_SRC:?SDRA_SRC must name the source tree}
OUT=${SDRA_BUILD:-$SRC/build}/test-output/web-live
CALL="$FIX/pricing.stereo.wav" # price, competitor and security objections in its first 30 s
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup web_live
[ -f "$CALL" ] || fail "$CALL missing (tests/fixtures/generate.sh)"
command -v node >/dev/null || fail "node is missing: run scripts/install-deps.sh"
CHROMIUM=${SDRA_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || fail "$CHROMIUM is missing: run scripts/install-deps.sh"
[ -f "$SRC/node_modules/playwright-core/package.json" ] || fail "playwright-core is missing: run scripts/install-deps.sh"

# its first 20 s (the price and competitor objections at 0:13; less to recognise on a busy machine)
AUDIO="$T/pricing-20s.wav"
ffmpeg -nostdin -loglevel error -i "$CALL" -t 20 "$AUDIO" || fail "ffmpeg could not cut the pricing call"
D="$T/data"
KEY=$("$SDRA" keys create --data "$D" --name browser --scope write) || fail "keys create failed"
# a backlog long enough that recognition on a busy machine never drops the 4x stream's audio
"$SDRA" serve --listen 127.0.0.1:0 --data "$D" --port-file "$T/port" --log-level info \
  --live-backlog-s 600 2>"$T/serve.log" &
PIDS+=($!)
wait_port_file "$T/port" "server did not start"
B="http://127.0.0.1:$(cat "$T/port")"
status() { curl -s -o "$T/body" -w '%{http_code}' --max-time 30 "$@"; }

rm -rf "$OUT"
mkdir -p "$OUT"
( cd "$SRC" && SDRA_CHROMIUM="$CHROMIUM" timeout 840 node tests/web/live.mjs "$B" "$KEY" "$SDRA" "$AUDIO" "$OUT" ) \
  >"$T/browser.log" 2>&1
rc=$?
cat "$T/browser.log"
[ $rc -eq 0 ] || { tail -5 "$OUT/live-send.jsonl" >&2; fail "browser test (exit $rc)"; }
ls "$OUT"/live.png >/dev/null 2>&1 || fail "no screenshot in $OUT"
[ "$(status -H "Authorization: Bearer $KEY" "$B/v1/live/calls")" = 200 ] || fail "GET /v1/live/calls: $(cat "$T/body")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d == {"calls": []}, d' "$T/body" \
  || fail "an ended call is still in the live list: $(cat "$T/body")"
echo "PASS web_live (screenshots in $OUT)"
