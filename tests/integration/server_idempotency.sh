#!/usr/bin/env bash
# server_idempotency.sh - security review finding 3: 20 concurrent uploads with the same
# Idempotency-Key. Every one must get the same 2xx answer (same status, call id and links),
# exactly one call must exist, its directory must hold the audio intact and call.json, and the
# call must complete. (Before the fix: 18 x 500 and the accepted call's directory deleted.)
set -u
SDRA=${SDRA:-${1:-}}
[ -x "$SDRA" ] || { echo "FAIL: give the sdra binary as \$SDRA or \$1" >&2; exit 1; }
FIX=${SDRA_FIXTURES:?SDRA_FIXTURES must name the generated calls}
AUDIO="$FIX/tiny.stereo.wav" # the shortest call: recognition is not the subject here
[ -f "$AUDIO" ] || { echo "FAIL: $AUDIO missing (tests/fixtures/generate.sh)" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup server_idem
D="$T/data"
KEY=$("$SDRA" keys create --data "$D" --name idem --scope write) || fail "keys create"
"$SDRA" serve --listen 127.0.0.1:0 --data "$D" --port-file "$T/port" --log-level info 2>"$T/serve.log" &
PID=$!
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || fail "server did not start"
B="http://127.0.0.1:$(cat "$T/port")"
A=(-H "Authorization: Bearer $KEY")

# 20 clients send their headers and all but the last byte of the body, wait for each other,
# then send the last byte together: all 20 requests are in flight before any is answered.
python3 - "$(cat "$T/port")" "$KEY" "$AUDIO" "$T" <<'PY' || fail "concurrent clients"
import socket, sys, threading
port, key, audio, t = int(sys.argv[1]), sys.argv[2], open(sys.argv[3], "rb").read(), sys.argv[4]
barrier = threading.Barrier(20)
def client(i):
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.sendall(("POST /v1/calls?contact_email=jo@acme.example HTTP/1.1\r\nHost: x\r\n"
               "Authorization: Bearer %s\r\nContent-Type: audio/wav\r\nIdempotency-Key: same-call-7\r\n"
               "Content-Length: %d\r\nConnection: close\r\n\r\n" % (key, len(audio))).encode() + audio[:-1])
    barrier.wait(timeout=60)
    s.sendall(audio[-1:])
    resp = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        resp += b
    head, _, body = resp.partition(b"\r\n\r\n")
    open(f"{t}/code{i}", "w").write(head.split(b" ")[1].decode())
    open(f"{t}/body{i}", "wb").write(body)
th = [threading.Thread(target=client, args=(i,)) for i in range(1, 21)]
for x in th: x.start()
for x in th: x.join()
PY
python3 - "$T" <<'PY' >"$T/id" || fail "the 20 answers differ"
import json, sys
t = sys.argv[1]
answers = []
for i in range(1, 21):
    code = open(f"{t}/code{i}").read().strip()
    body = open(f"{t}/body{i}").read()
    answers.append((code, body))
codes = sorted({c for c, _ in answers})
assert len(codes) == 1 and codes[0].startswith("2"), ("status codes", [c for c, _ in answers], answers[:3])
docs = [json.loads(b) for _, b in answers]
keys = {(d["id"], d.get("url"), d.get("events")) for d in docs}
assert len(keys) == 1, keys
d = docs[0]
assert d["url"] == "/v1/calls/" + d["id"] and d["events"] == d["url"] + "/events", d
print(d["id"])
PY
ID=$(cat "$T/id")
n=$(curl -s "${A[@]}" "$B/v1/calls?limit=100" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["calls"]))')
[ "$n" = 1 ] || fail "$n calls exist after 20 uploads with one key"
[ "$(ls "$D/calls")" = "$ID" ] || fail "call directories: $(ls "$D/calls")"
# stored encrypted at rest (docs/security.md): it decrypts to exactly the upload
"$SDRA" decrypt "$D/calls/$ID/audio.wav" --data "$D" -o "$T/stored.wav" || fail "the stored audio does not decrypt"
cmp -s "$T/stored.wav" "$AUDIO" || fail "the stored audio differs from the upload"
[ -s "$D/calls/$ID/call.json" ] || fail "call.json missing"
ls "$D/tmp" | grep -q upload && fail "uploads left files in tmp/"
# a later retry names the same call (200)
code=$(curl -s -o "$T/again" -w '%{http_code}' "${A[@]}" -H 'Content-Type: audio/wav' -H 'Idempotency-Key: same-call-7' \
  --data-binary @"$AUDIO" "$B/v1/calls")
[ "$code" = 200 ] || fail "a later retry: $code $(cat "$T/again")"
grep -q "\"$ID\"" "$T/again" || fail "a later retry named another call: $(cat "$T/again")"
# the call completes
st=
for _ in $(seq 1 600); do
  st=$(curl -s "${A[@]}" "$B/v1/calls/$ID" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
  [ "$st" = done ] || [ "$st" = failed ] && break
  sleep 0.5
done
[ "$st" = done ] || fail "the call ended '$st'"
[ -s "$D/calls/$ID/report.html" ] || fail "no report after the call completed"
echo "server_idempotency: ok ($ID)"
