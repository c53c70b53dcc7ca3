#!/usr/bin/env bash
# server_input_integrity.sh - security review findings 6 and 7 (the HTTP lows), over raw
# sockets so each malformed request is sent exactly as written:
#  6: a multipart body without its closing boundary, two audio parts, a repeated field and a NUL
#     inside a field each get 400 (they were stored truncated, concatenated, appended, cut);
#  7: unknown methods share one metrics label; two Content-Length headers, or Content-Length
#     with Transfer-Encoding, get 400 and the connection closed; %00 in the path gets 400;
#     names carrying bidi controls, U+2028/U+2029, DEL or control characters get 400 (form
#     and query), and `sdra keys create --name` refuses them (and newlines) with exit 2.
set -u
SDRA=${SDRA:-${1:-}}
[ -x "$SDRA" ] || { echo "FAIL: give the sdra binary as \$SDRA or \$1" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup server_integrity
D="$T/data"
KEY=$("$SDRA" keys create --data "$D" --name integrity --scope write) || fail "keys create"

# --- key names (finding 7) ---------------------------------------------------------------------
for bad in $'two\nlines' $'tab\there' $'evil\u202etxt.exe' $'iso\u2066late' $'line\u2028sep' $'del\x7f' $'c1\u0085x'; do
  "$SDRA" keys create --data "$D" --name "$bad" --scope read >/dev/null 2>"$T/err"
  rc=$?
  [ $rc = 2 ] || fail "keys create --name $(printf %q "$bad"): exit $rc, not 2"
  grep -q -- "--name" "$T/err" || fail "keys create: unclear message: $(cat "$T/err")"
done
"$SDRA" keys create --data "$D" --name 'Zoë Ångström (ops)' --scope read >/dev/null || fail "a plain UTF-8 key name refused"

"$SDRA" serve --listen 127.0.0.1:0 --data "$D" --port-file "$T/port" --no-workers --log-level warn 2>"$T/serve.log" &
PID=$!
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || fail "server did not start"
PORT=$(cat "$T/port")

python3 - "$PORT" "$KEY" "$D" <<'PY' || fail "input integrity"
import json, os, socket, sys, time
port, key, data = int(sys.argv[1]), sys.argv[2], sys.argv[3]
WAV = (b"RIFF" + (36 + 3200).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
       + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
       + (16000).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
       + b"data" + (3200).to_bytes(4, "little") + b"\x01\x00" * 1600)
failures = []

def send(raw, timeout=10):
    """Sends raw bytes; returns (status, body, closed): closed = the server closed the connection."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(raw)
    buf = b""
    closed = False
    while True:
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        if not b:
            closed = True
            break
        buf += b
        head, sep, body = buf.partition(b"\r\n\r\n")
        if sep:
            cl = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
            if cl and len(body) >= int(cl[0].split(b":")[1]):
                s.settimeout(1)  # the answer is complete: does the server close?
    s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/") else 0
    return status, body, closed

def expect(what, raw, status, needle=None, closed=None):
    st, body, cl = send(raw)
    ok = st == status and (needle is None or needle.encode() in body) and (closed is None or cl == closed)
    print(("ok   " if ok else "FAIL ") + what + ": %d %s%s" % (st, body[:160].decode("utf-8", "replace"),
          " (closed)" if cl else ""))
    if not ok:
        failures.append(what)
    return body

def post(body, ctype, extra=b"", target="/v1/calls"):
    return (b"POST " + target.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key.encode()
            + b"\r\nContent-Type: " + ctype.encode() + b"\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\n" + extra + b"Connection: close\r\n\r\n" + body)

B = "XbOuNdArY42"
def part(name, value, filename=None):
    disp = b'form-data; name="' + name.encode() + b'"'
    if filename:
        disp += b'; filename="' + filename.encode() + b'"'
    ct = b"Content-Type: audio/wav\r\n" if filename else b""
    return b"--" + B.encode() + b"\r\nContent-Disposition: " + disp + b"\r\n" + ct + b"\r\n" + value + b"\r\n"
END = b"--" + B.encode() + b"--\r\n"
MP = "multipart/form-data; boundary=" + B

# --- finding 6: multipart integrity -----------------------------------------------------------
expect("a well-formed form (control)", post(part("audio", WAV, "a.wav") + part("contact_name", b"Jo Lee") + END, MP), 202)
expect("no closing boundary", post(part("audio", WAV, "a.wav") + part("contact_name", b"Jo"), MP), 400, "closing boundary")
expect("no closing boundary, audio last", post(part("contact_name", b"Jo") + part("audio", WAV, "a.wav")[:-2], MP), 400)
expect("two audio parts", post(part("audio", WAV, "a.wav") + part("audio", WAV, "b.wav") + END, MP), 400, "more than once")
expect("audio, field, audio", post(part("audio", WAV, "a.wav") + part("company", b"Acme") + part("audio", WAV, "b.wav") + END, MP), 400, "more than once")
expect("repeated field", post(part("audio", WAV, "a.wav") + part("company", b"Acme") + part("company", b"Evil") + END, MP), 400, "company given more than once")
expect("NUL in a field", post(part("audio", WAV, "a.wav") + part("contact_name", b"Jo\x00Admin") + END, MP), 400, "NUL")
expect("NUL in a query value", post(WAV, "audio/wav", target="/v1/calls?contact_name=Jo%00Admin"), 400, "NUL")

# --- finding 7: names --------------------------------------------------------------------------
for field, value, word in [("contact_name", "Jo\u202eLee", "bidirectional"), ("company", "Acme\u2066Corp", "bidirectional"),
                           ("rep_name", "Sam\u2028Smith", "separator"), ("contact_name", "Jo\x7f", "control"),
                           ("company", "Acme\u0085", "control"), ("rep_company", "Ex\u2029", "separator")]:
    expect("%s with U+%04X (form)" % (field, ord([c for c in value if not c.isalnum()][0])),
           post(part("audio", WAV, "a.wav") + part(field, value.encode()) + END, MP), 400, word)
expect("contact_name with U+202E (query)", post(WAV, "audio/wav", target="/v1/calls?contact_name=Jo%E2%80%AELee"), 400, "bidirectional")
expect("a plain UTF-8 name (control)", post(part("audio", WAV, "a.wav") + part("contact_name", "Zoë Ångström".encode()) + END, MP), 202)

# --- finding 7: ambiguous framing, %00, method labels ------------------------------------------
auth = b"Authorization: Bearer " + key.encode() + b"\r\n"
expect("two Content-Length headers",
       b"POST /v1/calls HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: audio/wav\r\nContent-Length: 3244\r\n"
       b"Content-Length: 10\r\n\r\n" + WAV, 400, "Content-Length", closed=True)
expect("Content-Length and Transfer-Encoding",
       b"POST /v1/calls HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: audio/wav\r\nContent-Length: 5\r\n"
       b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400, "Transfer-Encoding", closed=True)
expect("two Content-Length headers on a GET",
       b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", 400, closed=True)
expect("%00 in the path", b"GET /healthz%00x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400, "%00")
expect("%00 in a call path", b"GET /v1/calls%00/x HTTP/1.1\r\nHost: x\r\n" + auth + b"Connection: close\r\n\r\n", 400)
expect("a plain GET still works (control)", b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200)
for i in range(30):
    send(b"M%02dX /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % i, timeout=3)
st, metrics, _ = send(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
methods = {l.split(b'method="')[1].split(b'"')[0] for l in metrics.split(b"\n")
           if l.startswith(b"sdra_http_requests_total{") and b'method="' in l}
print("method labels:", sorted(methods))
if any(m.startswith(b"M") and m.endswith(b"X") for m in methods) or b"OTHER" not in methods or len(methods) > 9:
    failures.append("metrics method labels")
# --- a refusal at the headers reaches a client that is still sending its body ------------------
# (it was sent at once and the connection closed on the unread body: the reset lost the answer)
def slow_post(head, body, pause=0.3):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(head)
        time.sleep(pause)  # the server has answered by now, if it answers early
        for i in range(0, len(body), 16384):
            s.sendall(body[i:i + 16384])
        buf = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            buf += b
    except OSError as e:
        return 0, str(e).encode()
    finally:
        s.close()
    head, _, rest = buf.partition(b"\r\n\r\n")
    return (int(head.split(b" ")[1]) if head.startswith(b"HTTP/") else 0), rest

BIG = WAV + b"\x01\x00" * 200000
def refused(what, headers, body, status, needle):
    st, b = slow_post(headers, body)
    ok = st == status and needle.encode() in b
    print(("ok   " if ok else "FAIL ") + what + ": %d %s" % (st, b[:120].decode("utf-8", "replace")))
    if not ok:
        failures.append(what)
refused("401 while the body is still coming",
        b"POST /v1/calls HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\nContent-Length: %d\r\n"
        b"Connection: close\r\n\r\n" % len(BIG), BIG, 401, "unauthorized")
refused("415 while the body is still coming",
        b"POST /v1/calls HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: text/plain\r\nContent-Length: %d\r\n"
        b"Connection: close\r\n\r\n" % len(BIG), BIG, 415, "unsupported")
chunked = b"".join(b"%x\r\n" % len(BIG[i:i + 50000]) + BIG[i:i + 50000] + b"\r\n" for i in range(0, len(BIG), 50000)) + b"0\r\n\r\n"
refused("415 on a chunked body still coming",
        b"POST /v1/calls HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n", chunked, 415, "unsupported")
# with "Expect: 100-continue" the refusal comes at once and no body is invited
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"POST /v1/calls HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: text/plain\r\nContent-Length: %d\r\n"
          b"Expect: 100-continue\r\nConnection: close\r\n\r\n" % len(BIG))
first = s.recv(65536)
s.close()
ok = first.startswith(b"HTTP/1.1 415")
print(("ok   " if ok else "FAIL ") + "Expect: 100-continue refused without the body: %r" % first[:40])
if not ok:
    failures.append("Expect: 100-continue")

# nothing half-stored: exactly the two control uploads made calls
calls = os.listdir(os.path.join(data, "calls"))
if len(calls) != 2:
    failures.append("calls stored: %d, expected the 2 controls" % len(calls))
if failures:
    print("failed:", failures)
    sys.exit(1)
PY
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/healthz")
[ "$code" = 200 ] || fail "server unhealthy after the malformed requests ($code)"
echo "server_input_integrity: ok"
