#!/usr/bin/env bash
# web_app.sh - the browser app (docs/web.md) in Debian's headless chromium, driven by
# tests/web/app.mjs through playwright-core, against `sdra serve` with encryption at rest (so
# the player's ranged audio is read from sealed files): sign in, two uploads to done, seek by
# clicking an utterance and by keyboard, email edit and approval then send now (through the
# Gmail API stand-in tests/servers/mail_apis.py, to done), schedule and save as a draft, delivery
# and CRM status, search, team view, phone width, labels and names, no console errors. Screenshots are kept in $SDRA_BUILD/test-output/web/ (docs/web.md uses them).
# ctest-labels: slow
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
FIX=${SDRA_FIXTURES:?SDRA_FIXTURES must name the generated calls}
SRC=${SDRA_SRC:?SDRA_SRC must name the source tree}
OUT=${SDRA_BUILD:-$SRC/build}/test-output/web
A1="$FIX/optout.stereo.wav" # ten turns: the test clicks the third
A2="$FIX/short.mono.wav"
A3="$FIX/short.mono.wav" # a third call, uploaded through the API: the draft path
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup web_app
for f in "$A1" "$A2"; do [ -f "$f" ] || fail "$f missing (tests/fixtures/generate.sh)"; done
command -v node >/dev/null || fail "node is missing: run scripts/install-deps.sh"
CHROMIUM=${SDRA_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || fail "$CHROMIUM is missing: run scripts/install-deps.sh"
[ -f "$SRC/node_modules/playwright-core/package.json" ] || fail "playwright-core is missing: run scripts/install-deps.sh"
[ -f "$SRC/data/web/vendor/wavesurfer.esm.js" ] || fail "data/web/vendor is empty: run scripts/web-vendor.sh"

python3 "$SRC/tests/servers/mail_apis.py" --port-file "$T/gmail.port" --api gmail --token tok-gmail-1 \
  2>"$T/gmail.log" &
PIDS+=($!)
wait_port_file "$T/gmail.port" "gmail test server did not start"
G="http://127.0.0.1:$(cat "$T/gmail.port")"

D="$T/data"
KEY=$("$SDRA" keys create --data "$D" --name browser --scope write) || fail "keys create failed"
# every email is held for the rep's review, then goes out through the Gmail API stand-in
SDRA_GMAIL_URL="$G" SDRA_GMAIL_TOKEN=tok-gmail-1 "$SDRA" serve --listen 127.0.0.1:0 --data "$D" --port-file "$T/port" \
  --log-level info --concurrency transcribe=2 --mail gmail --deliver send --review always 2>"$T/serve.log" &
PIDS+=($!)
wait_port_file "$T/port" "server did not start"
B="http://127.0.0.1:$(cat "$T/port")"

rm -rf "$OUT"
mkdir -p "$OUT"
( cd "$SRC" && SDRA_CHROMIUM="$CHROMIUM" timeout 840 node tests/web/app.mjs "$B" "$KEY" "$A1" "$A2" "$OUT" "$A3" "$G" ) \
  >"$T/browser.log" 2>&1
rc=$?
cat "$T/browser.log"
[ $rc -eq 0 ] || fail "browser test (exit $rc)"
ls "$OUT"/*.png >/dev/null 2>&1 || fail "no screenshots in $OUT"
echo "PASS web_app (screenshots in $OUT)"
