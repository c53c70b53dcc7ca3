#!/usr/bin/env bash
# server_call_view.sh - issue 16's API: a call's view model at GET /v1/calls/{id}/view (read
# scope, the caller's organisation only), artifact lists with URLs that serve, one name per
# format ("text" canonical, "txt" its alias), user-facing status names, the same links in an
# idempotent upload's first reply and its replay, and no server path (the data directory) in
# any JSON the server answers.
set -u
SDRA=${SDRA:-${1:-}}
[ -x "$SDRA" ] || { echo "FAIL: give the sdra binary as \$SDRA or \$1" >&2; exit 1; }
FIX=${SDRA_FIXTURES:?SDRA_FIXTURES must name the generated calls}
AUDIO="$FIX/tiny.stereo.wav" # the shortest call: recognition is not the subject here
[ -f "$AUDIO" ] || { echo "FAIL: $AUDIO missing (tests/fixtures/generate.sh)" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup server_call_view
D="$T/data"
WKEY=$("$SDRA" keys create --data "$D" --name writer --scope write) || fail "keys create"
RKEY=$("$SDRA" keys create --data "$D" --name reader --scope read) || fail "keys create (read)"
OKEY=$("$SDRA" keys create --data "$D" --org other --name nosy --scope admin) || fail "keys create (other org)"
"$SDRA" serve --listen 127.0.0.1:0 --data "$D" --port-file "$T/port" --log-level info 2>"$T/serve.log" &
PID=$!
wait_port_file "$T/port" "server did not start"
B="http://127.0.0.1:$(cat "$T/port")"
W=(-H "Authorization: Bearer $WKEY")
R=(-H "Authorization: Bearer $RKEY")
status() { curl -s -o "$T/body" -w '%{http_code}' --max-time 30 "$@"; }
# nopath FILE WHAT: the JSON answer names neither the data directory nor any absolute path
# under it (the scratch dir's own prefix is the giveaway).
nopath() { ! grep -qF "$T" "$1" || fail "$2 names a server path: $(grep -oF "$T[^\"]*" "$1" | head -3)"; }

# --- an idempotent upload and its replay: the same links ----------------------------------
up() {
  curl -s -o "$T/$1" -w '%{http_code}' --max-time 60 "${W[@]}" -H 'Idempotency-Key: view-call-1' \
    -F "audio=@$AUDIO;type=audio/wav" -F contact_email=jordan@acme.example -F "contact_name=Jordan Lee" \
    -F company=Acme -F "rep_name=Sam Rivera" -F call_date=2026-11-20 "$B/v1/calls"
}
c1=$(up first.json); [ "$c1" = 202 ] || fail "upload answered $c1: $(cat "$T/first.json")"
c2=$(up replay.json); case "$c2" in 200|202) ;; *) fail "replay answered $c2: $(cat "$T/replay.json")" ;; esac
nopath "$T/first.json" "the upload's reply"
python3 - "$T/first.json" "$T/replay.json" <<'PY' || fail "replay links: $(cat "$T/first.json") vs $(cat "$T/replay.json")"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["id"] == b["id"], (a, b)
base = "/v1/calls/" + a["id"]
want = {"self": base, "events": base + "/events", "audio": base + "/audio", "view": base + "/view",
        "report": base + "/report"}
assert a["links"] == want, a["links"]
for k in ("url", "events", "links"):
    assert a[k] == b[k], (k, a[k], b[k])
PY
ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/first.json")

# --- wait for the call ---------------------------------------------------------------------
[ "$(status "${R[@]}" "$B/v1/calls/$ID/view")" = 404 ] || [ -s "$T/body" ] || fail "view before the analysis"
for _ in $(seq 1 1500); do
  curl -s -o "$T/call.json" --max-time 30 "${R[@]}" "$B/v1/calls/$ID"
  st=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$T/call.json" 2>/dev/null)
  case "$st" in done|failed) break ;; esac
  sleep 0.5
done
[ "$st" = done ] || fail "call ended '$st': $(cat "$T/call.json")"
nopath "$T/call.json" "GET /v1/calls/{id}"

# --- artifact URLs serve, status names are the documented ones ------------------------------
python3 - "$T/call.json" > "$T/urls" <<'PY' || fail "call: $(cat "$T/call.json")"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["links"]["view"] == "/v1/calls/%s/view" % c["id"], c["links"]
for s in c["stages"]:
    assert s["state"] in ("pending", "queued", "running", "done", "failed"), s
for a in c["artifacts"]:
    assert a["url"] and a["url"].startswith("/v1/calls/%s/" % c["id"]), a
    print(a["name"], a["url"])
PY
grep -q '^transcript.txt .*/transcript?format=text$' "$T/urls" || fail "transcript.txt URL: $(cat "$T/urls")"
while read -r name url; do
  [ "$(status "${R[@]}" "$B$url")" = 200 ] || fail "$name at $url: $(cat "$T/body")"
  case "$name" in *.json) nopath "$T/body" "$url" ;; esac
done < "$T/urls"
# one name per format: "text" and its alias "txt" serve the same bytes; unknown ones are 400
[ "$(status "${R[@]}" "$B/v1/calls/$ID/transcript?format=text")" = 200 ] || fail "format=text"
cp "$T/body" "$T/text"
[ "$(status "${R[@]}" "$B/v1/calls/$ID/transcript?format=txt")" = 200 ] || fail "format=txt"
cmp -s "$T/body" "$T/text" || fail "format=txt and format=text differ"
[ "$(status "${R[@]}" "$B/v1/calls/$ID/transcript?format=doc")" = 400 ] || fail "format=doc not 400"

# --- the view: read scope, the caller's organisation only ------------------------------------
[ "$(status "${R[@]}" "$B/v1/calls/$ID/view")" = 200 ] || fail "GET view: $(cat "$T/body")"
nopath "$T/body" "the view"
python3 - "$T/body" "$ID" <<'PY' || fail "view content: $(head -c 600 "$T/body")"
import json, sys
v, cid = json.load(open(sys.argv[1])), sys.argv[2]
assert v["schema"] == "sdra.call_view/1", v.get("schema")
assert v["call_id"] == cid
assert v["audio"] == {"src": "/v1/calls/%s/audio" % cid}, v["audio"]
assert v["contact"]["name"] == "Jordan Lee" and v["contact"]["company"] == "Acme", v["contact"]
assert len(v["transcript"]) > 0 and all("start" in u and "who_id" in u for u in v["transcript"])
assert v["crm"] and "location" not in v["crm"], v["crm"]
PY
[ "$(status -H "Authorization: Bearer $OKEY" "$B/v1/calls/$ID/view")" = 404 ] || fail "another organisation reads the view"
[ "$(status "$B/v1/calls/$ID/view")" = 401 ] || fail "view without a key"
[ "$(status "${R[@]}" -X POST "$B/v1/calls/$ID/view")" = 405 ] || fail "POST view not 405"
[ "$(status "${R[@]}" "$B/v1/calls/nosuchcall/view")" = 404 ] || fail "unknown call's view not 404"
[ "$(status "${R[@]}" "$B/v1/calls?limit=5")" = 200 ] || fail "list"
nopath "$T/body" "the call list"
echo "PASS server_call_view"
