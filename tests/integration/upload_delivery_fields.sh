#!/usr/bin/env bash
# upload_delivery_fields.sh - POST /v1/calls takes callback_url, send_at and contact_timezone
# (issue 13), checked at the door, and the callback is delivered to the address it was checked
# against (DNS pinning):
#  - a strict server (no --allow-private-callbacks) answers 400 with one line to a callback_url
#    whose name resolves to 127.0.0.1 (SDRA_TEST_RESOLVE stands in for a DNS answer), to
#    "localhost", to a non-http URL; to a send_at without a zone or not a time; to an unknown
#    contact_timezone. Form fields and query parameters alike.
#  - a server with the explicit test override (--allow-private-callbacks): a call whose
#    callback_url names rebind.sdra.test, a name only the check can resolve (to the receiver on
#    127.0.0.1), gets its call.completed webhook: the POST went to the pinned address, not to a
#    second DNS lookup (which fails). Its send_at (RFC 3339 with an offset) is the email's; a
#    second call's send_at=next with contact_timezone=America/New_York is due at the next
#    business-hours slot in New York (checked with Python's zoneinfo). call.json keeps all three.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
SRC=${SDRA_SRC:?SDRA_SRC must name the source tree}
FIX=${SDRA_FIXTURES:?SDRA_FIXTURES must name the generated calls}
AUDIO="$FIX/tiny.mono.wav" # the shortest call: recognition is not the subject here
[ -f "$AUDIO" ] || { echo "FAIL: $AUDIO missing (tests/fixtures/generate.sh)" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup upload_delivery_fields

python3 "$SRC/tests/servers/webhook_receiver.py" --port-file "$T/hook.port" --log "$T/hook.jsonl" 2>"$T/hook.log" &
PIDS+=($!)
wait_port_file "$T/hook.port" "webhook receiver did not start"
HP=$(cat "$T/hook.port")
export SDRA_TEST_RESOLVE="rebind.sdra.test=127.0.0.1"

start() { # start NAME OPTIONS...: a server on data dir $T/NAME; sets B
  local n=$1; shift
  "$SDRA" keys create --data "$T/$n" --org acme --name w --scope write > "$T/$n.key" || fail "keys create"
  "$SDRA" serve --listen 127.0.0.1:0 --data "$T/$n" --port-file "$T/$n.port" --no-encrypt "$@" 2>"$T/$n.log" &
  PIDS+=($!)
  wait_port_file "$T/$n.port" "server $n did not start"
  B="http://127.0.0.1:$(cat "$T/$n.port")"
  K=$(cat "$T/$n.key")
}
post() { # post URL-SUFFIX FIELDS...: prints the status; the body is in $T/body
  local q=$1; shift
  curl -s -o "$T/body" -w '%{http_code}' --max-time 60 -H "Authorization: Bearer $K" \
    -F "audio=@$AUDIO;type=audio/wav" -F contact_email=jo@prospect.example "$@" "$B/v1/calls$q"
}
refused() { # refused WHAT-THE-ERROR-SAYS URL-SUFFIX FIELDS...
  local want=$1 code; shift
  code=$(post "$@")
  [ "$code" = 400 ] || fail "$* answered $code, want 400: $(head -c 300 "$T/body")"
  python3 - "$T/body" "$want" <<'PY' || fail "$*: the error is not one line naming '$want': $(cat "$T/body")"
import json, sys
m = json.load(open(sys.argv[1]))["error"]["message"]
assert sys.argv[2] in m and "\n" not in m, m
PY
}

# --- the strict server: refused at the door ---------------------------------------------------
start strict
refused "loopback, private or link-local" "" -F "callback_url=http://rebind.sdra.test:$HP/hooks/sdra"
refused "loopback, private or link-local" "" -F "callback_url=http://localhost:$HP/hooks/sdra"
refused "loopback, private or link-local" "?callback_url=http://127.0.0.1:$HP/x"
refused "callback_url" "" -F "callback_url=ftp://files.example/x"
refused "send_at" "" -F "send_at=tomorrow"
refused "send_at" "" -F "send_at=2031-01-06T09:30:00"   # no zone: ambiguous
refused "send_at" "?send_at=2031-02-30T09:30:00Z"
refused "Mars/Olympus" "" -F "contact_timezone=Mars/Olympus"
[ -z "$(ls "$T/strict/calls" 2>/dev/null)" ] || fail "a refused upload left a call: $(ls "$T/strict/calls")"

# --- the test override: the callback reaches the pinned address --------------------------------
start open --allow-private-callbacks --mail smtp --deliver send --review always \
  --business-hours 03:00-03:01,sun --outbox-retry-base-ms 50
code=$(post "" -F "callback_url=http://rebind.sdra.test:$HP/hooks/sdra" -F "send_at=2031-01-06T09:30:00-05:00")
[ "$code" = 202 ] || fail "upload with a callback answered $code: $(cat "$T/body")"
C1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/body")
code=$(post "?send_at=next&contact_timezone=America/New_York")
[ "$code" = 202 ] || fail "upload with send_at=next answered $code: $(cat "$T/body")"
C2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/body")
python3 - "$T/open/calls/$C1/call.json" "$T/open/calls/$C2/call.json" "$HP" <<'PY' || fail "call.json lacks the fields"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["callback_url"] == "http://rebind.sdra.test:%s/hooks/sdra" % sys.argv[3], a
assert a["send_at"] == "2031-01-06T09:30:00-05:00", a
assert b["send_at"] == "next" and b["contact_timezone"] == "America/New_York", b
PY
ob() { "$SDRA" outbox show --data "$T/open" "$1" 2>/dev/null; }
for _ in $(seq 1 1500); do
  ob "webhook:call.completed:$C1:cb" | grep -q "^state: *done" && ob "mail.deliver:$C2" | grep -q "^state" && break
  grep -q "call .* failed" "$T/open.log" && fail "a call failed"
  sleep 0.2
done
ob "webhook:call.completed:$C1:cb" > "$T/cb.txt"
grep -q "^state: *done" "$T/cb.txt" || fail "the callback to the pinned address was not delivered: $(cat "$T/cb.txt")"
python3 - "$T/hook.jsonl" "webhook:call.completed:$C1:cb" <<'PY' || fail "receiver log: $(cat "$T/hook.jsonl")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["status"] for r in rows if r["event_id"] == sys.argv[2]] == [200], rows
PY
ob "mail.deliver:$C1" | grep -q "^send_at: *2031-01-06T14:30:00Z" || fail "email send_at: $(ob "mail.deliver:$C1")"
ob "mail.deliver:$C2" > "$T/m2.txt"
python3 - "$T/m2.txt" <<'PY' || fail "send_at=next in New York: $(cat "$T/m2.txt")"
import re, sys, datetime
from zoneinfo import ZoneInfo
m = re.search(r"^send_at:\s*(\S+)", open(sys.argv[1]).read(), re.M)
t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
local = t.astimezone(ZoneInfo("America/New_York"))
now = datetime.datetime.now(datetime.timezone.utc)
assert local.weekday() == 6 and (local.hour, local.minute) == (3, 0), local
assert now - datetime.timedelta(minutes=30) < t <= now + datetime.timedelta(days=7), (t, now)
PY
echo "ok: upload_delivery_fields"
