#!/usr/bin/env bash
# server_tls.sh - `sdra serve --tls-cert/--tls-key`: with a self-signed certificate for
# 127.0.0.1, /healthz and an authenticated GET work over HTTPS (curl --cacert) and carry
# Strict-Transport-Security; plain HTTP to the TLS port gets no answer; the connection
# deadlines still cut a client that never starts the TLS handshake and one that dribbles its
# headers inside TLS; an encoded NUL in the path is still refused; a mismatched or unreadable
# certificate/key, or only one of the two options, fails at start with one line.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
command -v openssl >/dev/null || { echo "FAIL: openssl missing (scripts/install-deps.sh)" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup server_tls

cert() { # cert NAME: a self-signed certificate for 127.0.0.1 and its key
  openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 1 \
    -keyout "$T/$1.key" -out "$T/$1.crt" 2>"$T/openssl.log" || fail "openssl req: $(cat "$T/openssl.log")"
}
cert a
cert b

D="$T/data"
RKEY=$("$SDRA" keys create --data "$D" --name reader --scope read) || fail "keys create failed"
"$SDRA" serve --listen 127.0.0.1:0 --data "$D" --port-file "$T/port" --no-workers --header-timeout-s 2 \
  --tls-cert "$T/a.crt" --tls-key "$T/a.key" --log-level info 2>"$T/serve.log" &
PID=$!
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || fail "server did not start with TLS"
PORT=$(cat "$T/port")
B="https://127.0.0.1:$PORT"
C=(-s --max-time 10 --cacert "$T/a.crt")

code=$(curl "${C[@]}" -D "$T/hdr" -o "$T/body" -w '%{http_code}' "$B/healthz") || fail "healthz over https: curl $?"
[ "$code" = 200 ] || fail "healthz over https answered $code"
grep -qi '^Strict-Transport-Security: max-age=31536000' "$T/hdr" || fail "no HSTS: $(cat "$T/hdr")"
code=$(curl "${C[@]}" -D "$T/hdr" -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $RKEY" "$B/v1/calls")
[ "$code" = 200 ] || fail "authenticated GET over https answered $code: $(cat "$T/body")"
grep -q '"calls":\[\]' "$T/body" || fail "list body: $(cat "$T/body")"
grep -qi '^Strict-Transport-Security: max-age=31536000' "$T/hdr" || fail "no HSTS on the API"
[ "$(curl "${C[@]}" -o /dev/null -w '%{http_code}' "$B/v1/calls")" = 401 ] || fail "no key over https not 401"
[ "$(curl "${C[@]}" -o /dev/null -w '%{http_code}' "$B/healthz%00x")" = 400 ] || fail "%00 over https not 400"
# the certificate is checked: without the CA curl refuses, and another certificate is not it
curl -s --max-time 10 -o /dev/null "$B/healthz" && fail "curl accepted the self-signed cert without --cacert"
curl -s --max-time 10 --cacert "$T/b.crt" -o /dev/null "$B/healthz" && fail "curl accepted the server with the wrong CA"
# plain HTTP to the TLS port gets no HTTP answer
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")
[ "$code" = 000 ] || fail "plain http to the TLS port answered $code"
# the header deadline (2 s) still applies: before the handshake and inside TLS
python3 - "$PORT" "$T/a.crt" <<'PY' || fail "connection deadlines over TLS"
import socket, ssl, sys, time
port, ca = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port)); s.settimeout(8)
t0 = time.time()
try:
    d = s.recv(1)
except (ConnectionResetError, socket.timeout) as e:
    d = e
assert not isinstance(d, socket.timeout), "a silent client (no handshake) was not cut"
assert time.time() - t0 < 6, "silent client cut after %.1f s" % (time.time() - t0)
ctx = ssl.create_default_context(cafile=ca)
t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1")
t.settimeout(1)
t0, cut = time.time(), False
t.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
while time.time() - t0 < 8:
    try:
        t.sendall(b"X-a: b\r\n")
        if t.recv(1) == b"":
            cut = True; break
    except socket.timeout:
        continue
    except (OSError, ssl.SSLError):
        cut = True; break
assert cut, "a client dribbling headers inside TLS was not cut"
assert time.time() - t0 < 6, "dribbling client cut after %.1f s" % (time.time() - t0)
PY
kill "$PID"; wait "$PID" 2>/dev/null; PID=

# bad certificates and keys: one line, exit 1 (2 for a usage error), nothing listening
one_line() { # one_line WANT_RC WHAT ARGS...: serve fails at start with WANT_RC and one line
  local want=$1 what=$2; shift 2
  timeout 20 "$SDRA" serve --listen 127.0.0.1:0 --data "$D" --no-workers "$@" >"$T/o" 2>"$T/e"; local rc=$?
  [ $rc -eq "$want" ] || fail "$what: exit $rc (want $want): $(cat "$T/e")"
  [ "$(wc -l < "$T/e")" -eq 1 ] || fail "$what: not one line: $(cat "$T/e")"
}
one_line 1 "mismatched pair" --tls-cert "$T/a.crt" --tls-key "$T/b.key"
grep -qi "match" "$T/e" || fail "mismatched pair message: $(cat "$T/e")"
one_line 1 "missing cert" --tls-cert "$T/none.crt" --tls-key "$T/a.key"
grep -q "none.crt" "$T/e" || fail "missing cert message: $(cat "$T/e")"
one_line 1 "key as cert" --tls-cert "$T/a.key" --tls-key "$T/a.key"
printf 'garbage\n' > "$T/g.key"
one_line 1 "garbage key" --tls-cert "$T/a.crt" --tls-key "$T/g.key"
one_line 2 "cert without key" --tls-cert "$T/a.crt"
echo "ok: server TLS"
