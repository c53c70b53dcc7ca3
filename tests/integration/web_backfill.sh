#!/usr/bin/env bash
# web_backfill.sh - calls stored before the search index existed get indexed when the server
# starts (docs/web.md, "Search backfill"): a call is processed on an encrypted server (so the
# index holds keyed hashes), its search row is removed as if it predated the index, and the
# next start indexes it again in the background, logging progress, so that the calls list
# finds it by its company and by a word said; the start after that has nothing to do.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
FIX=${SDRA_FIXTURES:?SDRA_FIXTURES must name the generated calls}
AUDIO="$FIX/tiny.mono.wav" # the shortest call: recognition is not the subject here
[ -f "$AUDIO" ] || { echo "FAIL: $AUDIO missing (tests/fixtures/generate.sh)" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup web_backfill

D="$T/data"
KEY=$("$SDRA" keys create --data "$D" --name rep --scope write) || fail "keys create"
start() { # start LOG: a server on $D, $B its URL
  rm -f "$T/port"
  "$SDRA" serve --listen 127.0.0.1:0 --data "$D" --port-file "$T/port" --log-level info 2>"$T/$1" &
  PID=$!
  wait_port_file "$T/port" "server did not start"
  B="http://127.0.0.1:$(cat "$T/port")"
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null; PID=; }
st() { curl -s -o "$T/body" -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $KEY" "$@"; }
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$T/body"; }
found() { # found QUERY: the ids the calls list's search answers, comma-separated
  [ "$(st "$B/v1/calls?q=$1")" = 200 ] || fail "search $1: $(cat "$T/body")"
  json '",".join(c["id"] for c in d["calls"])'
}

start serve1.log
[ "$(st -F "audio=@$AUDIO;type=audio/wav" -F contact_email=jordan@northwind.example -F "contact_name=Jordan Lee" \
  -F company=Northwind "$B/v1/calls")" = 202 ] || fail "upload: $(cat "$T/body")"
C=$(json 'd["id"]')
for _ in $(seq 1 1500); do
  [ "$(st "$B/v1/calls/$C")" = 200 ] && [ "$(json 'd["status"]')" != queued ] && [ "$(json 'd["status"]')" != running ] && break
  sleep 0.2
done
[ "$(json 'd["status"]')" = done ] || fail "the call did not finish: $(cat "$T/body")"
[ "$(found northwind)" = "$C" ] || fail "the processed call is not found by its company"
[ "$(st "$B/v1/calls/$C/transcript")" = 200 ] || fail "transcript: $(cat "$T/body")"
WORD=$(json '[w for u in d["utterances"] for w in u["text"].split() if len(w) >= 5][0]')
[ -n "$WORD" ] || fail "no word to search for"
stop

# as if the call had been stored before the index existed
python3 - "$D/sdra.db" <<'PY' || fail "could not remove the search rows"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("DELETE FROM call_search")
db.commit()
assert db.execute("SELECT count(*) FROM call_search").fetchone()[0] == 0
PY
start serve2.log
for _ in $(seq 1 150); do grep -q 'search backfill: done' "$T/serve2.log" && break; sleep 0.2; done
grep -q 'search backfill: indexing the calls stored before the search index' "$T/serve2.log" \
  || fail "the backfill did not say it started"
grep -q 'search backfill: 1 calls indexed, 0 not, so far' "$T/serve2.log" || fail "no progress line"
grep -q 'search backfill: done, 1 calls indexed, 0 could not be' "$T/serve2.log" || fail "the backfill did not finish"
[ "$(found northwind)" = "$C" ] || fail "after the backfill the call is not found by its company"
[ "$(found "$WORD")" = "$C" ] || fail "after the backfill the call is not found by '$WORD'"
[ "$(found zyxwvut)" = "" ] || fail "a word nobody said finds calls"
# the index of the encrypted call holds hashes, not the words
python3 - "$D/sdra.db" "$WORD" <<'PY' || fail "the backfilled index holds plaintext"
import sqlite3, sys
row = sqlite3.connect(sys.argv[1]).execute("SELECT people, words FROM call_search").fetchone()
assert row and "northwind" not in row[0] and sys.argv[2] not in row[1].split(), row
PY
stop

# idempotent: the next start finds nothing to index
start serve3.log
sleep 1
[ "$(found northwind)" = "$C" ] || fail "the call is not found after another restart"
if grep -q 'search backfill' "$T/serve3.log"; then fail "a second start indexed again: $(grep 'search backfill' "$T/serve3.log")"; fi
stop
echo "PASS web_backfill"
