#!/usr/bin/env bash
# web_api.sh - the routes the web app needs, over real HTTP (curl), on a plaintext server and
# on one that encrypts at rest: the static files (CSP, content types, validators, no path
# escapes); GET /v1/calls/{id}/audio with Range (206 with the right bytes, also across the
# chunks of a sealed file, suffix and open ranges, 416, multiple ranges served whole); the media
# cookie (audio only, never a change); search by words said, contact and company with the
# filters, the index holding no plaintext of an encrypted call; the email draft (read, edit,
# approve, scope, bad input, audited, sealed on disk); the team aggregate (org-scoped).
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
FIX=${SDRA_FIXTURES:?SDRA_FIXTURES must name the generated calls}
AUDIO="$FIX/tiny.stereo.wav" # the shortest call: recognition is not the subject here
[ -f "$AUDIO" ] || { echo "FAIL: $AUDIO missing (tests/fixtures/generate.sh)" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup web_api
SIZE=$(stat -c %s "$AUDIO")
TODAY=$(date -u +%Y-%m-%d)

# start NAME DATA_DIR [serve options...]: sets B to the server's base URL.
start() {
  local name=$1 data=$2; shift 2
  "$SDRA" serve --listen 127.0.0.1:0 --data "$data" --port-file "$T/$name.port" --log-level info "$@" \
    2>"$T/$name.log" &
  PIDS+=($!)
  for _ in $(seq 1 100); do [ -s "$T/$name.port" ] && break; sleep 0.1; done
  [ -s "$T/$name.port" ] || fail "server $name did not start"
  B="http://127.0.0.1:$(cat "$T/$name.port")"
}
status() { curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' --max-time 60 "$@"; }
hdr() { grep -i "^$1:" "$T/hdr" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
jq1() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/body" "$1"; }

# submit KEY: uploads the call to $B; prints its id. wait_done KEY ID: until it is done.
submit() {
  status -H "Authorization: Bearer $1" -F "audio=@$AUDIO;type=audio/wav" -F "contact_name=Jordan Lee" \
    -F company=Northwind -F contact_email=jordan@northwind.example -F "rep_name=Alex" -F "call_date=$TODAY" \
    "$B/v1/calls" >"$T/code"
  [ "$(cat "$T/code")" = 202 ] || fail "upload: $(cat "$T/code") $(cat "$T/body")"
  jq1 'd["id"]'
}
wait_done() {
  for _ in $(seq 1 1400); do
    status -H "Authorization: Bearer $1" "$B/v1/calls/$2" >/dev/null
    case $(jq1 'd["status"]') in done) return 0 ;; failed) fail "call $2 failed: $(cat "$T/body")" ;; esac
    sleep 0.5
  done
  fail "call $2 not done in 700 s"
}

# ranges KEY: the ranged audio of call $ID against the uploaded file's bytes.
ranges() {
  local K=(-H "Authorization: Bearer $1")
  [ "$(status "${K[@]}" "$B/v1/calls/$ID/audio")" = 200 ] || fail "audio: $(cat "$T/body")"
  [ "$(hdr Accept-Ranges)" = bytes ] || fail "audio without Accept-Ranges: bytes"
  cmp -s "$T/body" "$AUDIO" || fail "the whole audio differs from the upload"
  local spec want first last
  for spec in "0-99" "1000-" "-50" "70000-200000" "$((SIZE - 10))-$((SIZE + 100))"; do
    case $spec in
      -*) first=$((SIZE + spec)); last=$((SIZE - 1)) ;;
      *-) first=${spec%-}; last=$((SIZE - 1)) ;;
      *) first=${spec%-*}; last=${spec#*-}; [ "$last" -ge "$SIZE" ] && last=$((SIZE - 1)) ;;
    esac
    [ "$(status "${K[@]}" -H "Range: bytes=$spec" "$B/v1/calls/$ID/audio")" = 206 ] || fail "Range $spec: not 206"
    [ "$(hdr Content-Range)" = "bytes $first-$last/$SIZE" ] || fail "Range $spec: Content-Range $(hdr Content-Range)"
    tail -c +$((first + 1)) "$AUDIO" | head -c $((last - first + 1)) >"$T/want"
    cmp -s "$T/body" "$T/want" || fail "Range $spec: wrong bytes ($(stat -c %s "$T/body") bytes)"
  done
  [ "$(status "${K[@]}" -H "Range: bytes=$SIZE-" "$B/v1/calls/$ID/audio")" = 416 ] || fail "Range past the end not 416"
  [ "$(hdr Content-Range)" = "bytes */$SIZE" ] || fail "416 Content-Range: $(hdr Content-Range)"
  [ "$(status "${K[@]}" -H "Range: bytes=0-1,5-6" "$B/v1/calls/$ID/audio")" = 200 ] || fail "multiple ranges not served whole"
  [ "$(status "${K[@]}" -H "Range: pages=1-2" "$B/v1/calls/$ID/audio")" = 200 ] || fail "other unit not served whole"
}

# --- plaintext server ---------------------------------------------------------------------------
D="$T/plain"
WKEY=$("$SDRA" keys create --data "$D" --name writer --scope write) || fail "keys create"
RKEY=$("$SDRA" keys create --data "$D" --name reader --scope read) || fail "keys create (read)"
OKEY=$("$SDRA" keys create --data "$D" --org other --name o --scope write) || fail "keys create (other org)"
E="$T/sealed"
EKEY=$("$SDRA" keys create --data "$E" --name writer --scope write) || fail "keys create (sealed)"
start sealed "$E"
EB=$B
SEALED_ID=$(submit "$EKEY") || exit 1 # both calls are transcribed while the plaintext checks run
start plain "$D" --no-encrypt
PB=$B
W=(-H "Authorization: Bearer $WKEY")
R=(-H "Authorization: Bearer $RKEY")

# static files: public, strict CSP, types, validators, nothing outside data/web
[ "$(status "$B/")" = 200 ] || fail "GET / not 200"
case $(hdr Content-Type) in text/html*) ;; *) fail "/ content type $(hdr Content-Type)" ;; esac
CSP=$(hdr Content-Security-Policy)
case $CSP in *"default-src 'self'"*"script-src 'self';"*) ;; *) fail "CSP: $CSP" ;; esac
grep -q 'name="api_key"' "$T/body" || fail "no api_key field on the page"
grep -qi '<script>' "$T/body" && fail "inline script on the page"
grep -Eq '(src|href)="https?:' "$T/body" && fail "the page loads something from elsewhere"
[ "$(hdr X-Content-Type-Options)" = nosniff ] || fail "no nosniff"
ETAG=$(hdr ETag)
[ "$(status -H "If-None-Match: $ETAG" "$B/")" = 304 ] || fail "If-None-Match not 304"
[ "$(status "$B/app/js/app.js")" = 200 ] || fail "app.js"
case $(hdr Content-Type) in text/javascript*) ;; *) fail "app.js content type $(hdr Content-Type)" ;; esac
case $(hdr Cache-Control) in *max-age*) ;; *) fail "app.js Cache-Control $(hdr Cache-Control)" ;; esac
[ "$(status "$B/app/vendor/wavesurfer.esm.js")" = 200 ] || fail "wavesurfer not served (scripts/web-vendor.sh)"
[ "$(status "$B/app/vendor/uPlot.esm.js")" = 200 ] || fail "uPlot not served"
[ "$(status "$B/calls/0123456789abcdef")" = 200 ] || fail "/calls/{id} is not the app"
[ "$(status --path-as-is "$B/app/../api/openapi.json")" = 404 ] || fail "path escape not 404"
[ "$(status --path-as-is "$B/app/%2e%2e/api/openapi.json")" = 404 ] || fail "encoded path escape not 404"
[ "$(status "$B/app/js/app.exe")" = 404 ] || fail "unknown type not 404"
[ "$(status "$B/app/nothing.js")" = 404 ] || fail "missing file not 404"
[ "$(status -X POST "$B/")" = 405 ] || fail "POST / not 405"

ID=$(submit "$WKEY") || exit 1
wait_done "$WKEY" "$ID"
ranges "$WKEY"

# the media cookie: set by POST /v1/session, good for the audio only
[ "$(status "${R[@]}" -X POST "$B/v1/session")" = 200 ] || fail "session: $(cat "$T/body")"
COOKIE=$(hdr Set-Cookie)
for attr in HttpOnly SameSite=Strict "Path=/v1/calls/"; do
  case $COOKIE in *"$attr"*) ;; *) fail "cookie without $attr: $COOKIE" ;; esac
done
C=(-H "Cookie: ${COOKIE%%;*}")
[ "$(status "${C[@]}" -H "Range: bytes=0-9" "$B/v1/calls/$ID/audio")" = 206 ] || fail "audio with the cookie"
[ "$(status "${C[@]}" "$B/v1/calls/$ID")" = 401 ] || fail "the cookie opened more than the audio"
[ "$(status "${C[@]}" -X DELETE "$B/v1/calls/$ID")" = 401 ] || fail "the cookie may delete"
[ "$(status "${C[@]}" -X PUT --data '{"subject":"x","text":"y"}' "$B/v1/calls/$ID/email/draft")" = 401 ] || fail "the cookie may edit"
[ "$(status -H "Cookie: sdra_media=sdra_000000000000_00" "$B/v1/calls/$ID/audio")" = 401 ] || fail "bad cookie not 401"
[ "$(status "${R[@]}" -X DELETE "$B/v1/session")" = 200 ] || fail "session delete"
case $(hdr Set-Cookie) in *Max-Age=0*) ;; *) fail "session delete keeps the cookie" ;; esac

# search: words said, contact, company; filters; bad queries
status "${R[@]}" "$B/v1/calls/$ID/transcript" >/dev/null
WORD=$(jq1 'sorted((w for u in d["utterances"] for w in u["text"].split() if len(w) >= 6 and w.isalpha()), key=len)[-1]')
[ -n "$WORD" ] || fail "no word to search for"
found() { status "${R[@]}" "$B/v1/calls?$1" >/dev/null; jq1 '",".join(c["id"] for c in d["calls"])'; }
[ "$(found "q=$WORD")" = "$ID" ] || fail "search by '$WORD' (said) did not find $ID"
[ "$(found "q=${WORD^^}")" = "$ID" ] || fail "search is case-sensitive"
[ "$(found "q=northwind")" = "$ID" ] || fail "search by company"
[ "$(found "q=jordan%20lee")" = "$ID" ] || fail "search by contact"
[ "$(found "q=zyxwvut")" = "" ] || fail "search by a word not said found something"
[ "$(found "q=$WORD&from=$TODAY&to=$TODAY")" = "$ID" ] || fail "date filter dropped the call"
[ "$(found "q=$WORD&to=2000-01-01")" = "" ] || fail "date filter ignored"
[ "$(found "q=$WORD&status=done")" = "$ID" ] || fail "status with search"
status "${R[@]}" "$B/v1/calls/$ID/analysis" >/dev/null
OBJ=$(jq1 '(d["objections"] or [{"type":""}])[0]["type"]')
if [ -n "$OBJ" ]; then
  [ "$(found "objection=$OBJ")" = "$ID" ] || fail "objection filter $OBJ"
fi
[ "$(found "objection=legal&q=zyxwvut")" = "" ] || fail "filters are not all applied"
status "${R[@]}" "$B/v1/calls/$ID/email" >/dev/null
OUTCOME=$(jq1 'd["outcome"]')
[ "$(found "outcome=$OUTCOME")" = "$ID" ] || fail "outcome filter $OUTCOME"
[ "$(found "q=%22$WORD%22%20OR%20NEAR(x")" = "" ] || fail "FTS syntax in q was read as syntax" # all words must occur
[ "$(found "q=%22$WORD%22")" = "$ID" ] || fail "punctuation in q is not ignored"
[ "$(status "${R[@]}" "$B/v1/calls?from=2026-1-1")" = 400 ] || fail "a bad date is not 400"
[ "$(status "${R[@]}" "$B/v1/calls?objection=price%20OR%20x")" = 400 ] || fail "FTS syntax in a filter is not 400"
[ "$(status -H "Authorization: Bearer $OKEY" "$B/v1/calls?q=$WORD")" = 200 ] || fail "other org search"
[ "$(jq1 'len(d["calls"])')" = 0 ] || fail "search crosses organisations"

# the email draft
[ "$(status "${R[@]}" "$B/v1/calls/$ID/email/draft")" = 200 ] || fail "draft: $(cat "$T/body")"
[ "$(jq1 'd["edited"]')" = False ] || fail "a fresh draft says edited"
jq1 'd["eml"]' | grep -q "^Subject: " || fail "the draft has no .eml"
[ "$(status "${R[@]}" -X PUT --data '{"subject":"S","text":"T"}' "$B/v1/calls/$ID/email/draft")" = 403 ] || fail "read key may edit"
[ "$(status "${W[@]}" -X PUT --data 'nope' "$B/v1/calls/$ID/email/draft")" = 400 ] || fail "bad JSON not 400"
[ "$(status "${W[@]}" -X PUT --data '{"subject":"a\nBcc: x@evil.example","text":"T"}' "$B/v1/calls/$ID/email/draft")" = 400 ] \
  || fail "a subject with a line break not 400"
[ "$(status "${W[@]}" -X PUT --data '{"subject":"Edited subject","text":"Hello Jordan,\n\nEdited <b>body</b>.\n"}' \
     "$B/v1/calls/$ID/email/draft")" = 200 ] || fail "edit: $(cat "$T/body")"
[ "$(jq1 'd["approved"]')" = False ] || fail "an edit is approved"
jq1 'd["eml"]' | tr -d '\r' >"$T/eml"
grep -q "^Subject: Edited subject$" "$T/eml" || fail "the .eml lacks the subject"
grep -q "Edited <b>body</b>" "$T/eml" || fail "the text part lacks the edit"
grep -q "Edited &lt;b&gt;body&lt;/b&gt;" "$T/eml" || fail "the HTML part is not the escaped edit"
[ "$(status "${W[@]}" -X POST "$B/v1/calls/$ID/email/approve")" = 200 ] || fail "approve: $(cat "$T/body")"
[ "$(status "${R[@]}" "$B/v1/calls/$ID/email/draft")" = 200 ] || fail "draft read back"
[ "$(jq1 'd["approved"] and d["subject"] == "Edited subject" and d["approved_by"] is not None')" = True ] \
  || fail "the approval was not kept: $(cat "$T/body")"
[ "$(status "${W[@]}" -X PUT --data '{"subject":"Again","text":"T2"}' "$B/v1/calls/$ID/email/draft")" = 200 ] || fail "re-edit"
[ "$(jq1 'd["approved"]')" = False ] || fail "an edit after approval stays approved"
[ "$(status "${W[@]}" -X GET "$B/v1/calls/$ID/email/approve")" = 405 ] || fail "GET approve not 405"
[ "$(status -H "Authorization: Bearer $OKEY" "$B/v1/calls/$ID/email/draft")" = 404 ] || fail "draft crosses organisations"
"$SDRA" audit --data "$D" --target "$ID" --format json >"$T/audit.json" || fail "audit"
for a in email.edit email.approve email.draft.read; do grep -q "\"$a\"" "$T/audit.json" || fail "no $a in the audit trail"; done

# the team aggregate
[ "$(status "${R[@]}" "$B/v1/stats/team?weeks=4")" = 200 ] || fail "stats: $(cat "$T/body")"
[ "$(jq1 'd["calls"]')" = 1 ] || fail "stats calls: $(cat "$T/body")"
[ "$(jq1 'len(d["since"]) == 10 and d["since"] <= "'"$TODAY"'"')" = True ] || fail "stats since: $(cat "$T/body")"
[ "$(jq1 'd["by_week"][0]["calls"] == ["'"$ID"'"] and d["by_week"][0]["outcomes"]["'"$OUTCOME"'"]["calls"] == ["'"$ID"'"]')" = True ] \
  || fail "stats do not link to the call: $(cat "$T/body")"
[ "$(status "${R[@]}" "$B/v1/stats/team?weeks=0")" = 400 ] || fail "weeks=0 not 400"
[ "$(status -H "Authorization: Bearer $OKEY" "$B/v1/stats/team")" = 200 ] || fail "other org stats"
[ "$(jq1 'd["calls"]')" = 0 ] || fail "stats cross organisations"

# --- encrypted at rest ----------------------------------------------------------------------------
B=$EB
ID=$SEALED_ID
wait_done "$EKEY" "$ID"
ranges "$EKEY"
EW=(-H "Authorization: Bearer $EKEY")
[ "$(status "${EW[@]}" "$B/v1/calls?q=$WORD")" = 200 ] || fail "sealed search"
[ "$(jq1 '",".join(c["id"] for c in d["calls"])')" = "$ID" ] || fail "sealed search by '$WORD' did not find $ID"
[ "$(status "${EW[@]}" "$B/v1/calls?q=northwind")" = 200 ] && [ "$(jq1 'len(d["calls"])')" = 1 ] || fail "sealed search by company"
sqlite3 "$E/sdra.db" "SELECT people || ' ' || words FROM call_search" >"$T/index.txt" || fail "read the index"
[ -s "$T/index.txt" ] || fail "the sealed call is not indexed"
grep -qiw -e "$WORD" -e northwind -e jordan "$T/index.txt" && fail "the index of an encrypted call holds plaintext"
[ "$(status "${EW[@]}" -X PUT --data '{"subject":"Sealed","text":"Body"}' "$B/v1/calls/$ID/email/draft")" = 200 ] \
  || fail "sealed edit: $(cat "$T/body")"
head -c 8 "$E/calls/$ID/email.draft.json" | grep -q SDRAENC1 || fail "the draft is stored in plaintext"
echo "PASS web_api"
