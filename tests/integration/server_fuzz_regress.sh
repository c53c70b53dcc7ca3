#!/usr/bin/env bash
# server_fuzz_regress.sh - what the upload fuzzer (tests/fuzz/fuzz_upload.c) found, as requests
# sent over a raw socket exactly as written. A call field whose bad value is not valid UTF-8
# (call_date = "2026-\x96..."), or whose valid UTF-8 error message is cut mid-character at the
# message limit, made an error document jansson refused: the server closed the connection with
# no answer at all. Each must get a 400 with a JSON error naming the field.
set -u
SDRA=${SDRA:-${1:-}}
[ -x "$SDRA" ] || { echo "FAIL: give the sdra binary as \$SDRA or \$1" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup server_fuzz_regress
D="$T/data"
KEY=$("$SDRA" keys create --data "$D" --name fuzzregress --scope write) || fail "keys create"
"$SDRA" serve --listen 127.0.0.1:0 --data "$D" --port-file "$T/port" --no-workers --log-level warn 2>"$T/serve.log" &
PID=$!
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || fail "server did not start"

python3 - "$(cat "$T/port")" "$KEY" "$D" <<'PY' || fail "error answers"
import json, os, socket, sys
port, key, data = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
WAV = (b"RIFF" + (36 + 3200).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
       + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
       + (16000).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
       + b"data" + (3200).to_bytes(4, "little") + b"\x01\x00" * 1600)
B = b"fUzZbOuNdArY"
def part(name, value):
    fn = b'; filename="a.wav"\r\nContent-Type: audio/wav' if name == b"audio" else b""
    return b"--" + B + b'\r\nContent-Disposition: form-data; name="' + name + b'"' + fn + b"\r\n\r\n" + value + b"\r\n"
def post(body, ctype, target=b"/v1/calls"):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"POST " + target + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + b"\r\nContent-Type: "
              + ctype + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    buf = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        buf += b
    s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    return (int(head.split(b" ")[1]) if head.startswith(b"HTTP/") else 0), body
failures = []
def expect(what, status_body, field):
    st, body = status_body
    try:
        msg = json.loads(body)["error"]["message"]
    except Exception:
        msg = None
    ok = st == 400 and msg is not None and msg.startswith(field) and "\n" not in msg
    print(("ok   " if ok else "FAIL ") + what + ": %d %r" % (st, msg if msg is not None else body[:120]))
    if not ok:
        failures.append(what)
MP = b"multipart/form-data; boundary=" + B
END = b"--" + B + b"--\r\n"
expect("call_date not UTF-8 (form; the fuzzer's input)",
       post(part(b"audio", WAV) + part(b"call_date", b" 405bou\x96dary=2-01-02") + END, MP), "call_date")
expect("style not UTF-8 (query)", post(WAV, b"audio/wav", b"/v1/calls?style=fr%96iendly"), "style")
expect("call_date whose message is cut mid-character",
       post(part(b"audio", WAV) + part(b"call_date", "é".encode() * 255) + END, MP), "call_date")
expect("contact_email with a newline (query)", post(WAV, b"audio/wav", b"/v1/calls?contact_email=a%0Ab"), "contact_email")
if os.listdir(os.path.join(data, "calls")):
    failures.append("a refused upload left a call")
if failures:
    print("failed:", failures)
    sys.exit(1)
PY
echo "server_fuzz_regress: ok"
