#!/usr/bin/env bash
# server_slowloris.sh - security review finding 2: a slow-loris attack must not take `sdra serve`
# down. An attacker bound to 127.0.0.2 opens 1,100 connections and dribbles one header byte
# into each every 2 s, in two waves (bounded: it stops itself after 20 s). Meanwhile /healthz, asked from
# 127.0.0.1 every 0.2 s, must answer 200 within 1 s every time; the server must hold at most
# --max-conn-per-ip of the attacker's connections at once and close each one it held once the
# header deadline has passed. Then a request body sent below --min-body-rate is cut off, while
# a normal upload from the same address still works.
# Usage: server_slowloris.sh [SDRA] (or $SDRA). SLOWLORIS_FLAGS overrides the serve options
# (empty runs the attack against the defaults of an older build).
set -u
SDRA=${SDRA:-${1:-}}
[ -x "$SDRA" ] || { echo "FAIL: give the sdra binary as \$SDRA or \$1" >&2; exit 1; }
FIX=${SDRA_FIXTURES:-}
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup server_slowloris
CAP=50
HDR=5
FLAGS=${SLOWLORIS_FLAGS-"--max-conn-per-ip $CAP --header-timeout-s $HDR --min-body-rate 1000"}
D="$T/data"
KEY=$("$SDRA" keys create --data "$D" --name loris --scope write) || fail "keys create"
# shellcheck disable=SC2086
"$SDRA" serve --listen 127.0.0.1:0 --data "$D" --port-file "$T/port" --no-workers --timeout-s 30 $FLAGS \
  --log-level warn 2>"$T/serve.log" &
PID=$!
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || fail "server did not start"
PORT=$(cat "$T/port")
B="http://127.0.0.1:$PORT"

# --- the attack ------------------------------------------------------------------------------
python3 - "$PORT" 1100 20 >"$T/attack.json" 2>"$T/attack.err" <<'PY' &
import json, resource, select, socket, sys, time
port, n, duration = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 100)), hard))
t0 = time.monotonic()
head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4096
conns = []  # [sock, opened, closed or None, bytes sent]
def wave():
    for c in conns:
        if c[2] is not None and c[0].fileno() >= 0:
            c[0].close()
    for i in range(n - sum(1 for c in conns if c[2] is None)):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.2", 0))
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            s.close()
            continue
        s.setblocking(False)
        conns.append([s, time.monotonic(), None, 0])
waves = [0.0, duration / 2.5]  # the second wave comes back after the first was cut
opened, max_alive, last_drip = 0, 0, 0.0
while time.monotonic() - t0 < duration:
    if waves and time.monotonic() - t0 >= waves[0]:
        waves.pop(0)
        before = len(conns)
        wave()
        opened = max(opened, len(conns) - before)
    now = time.monotonic()
    live = [c for c in conns if c[2] is None]
    # a connection the server closed is readable with EOF (or errors)
    pl = select.poll()
    by_fd = {}
    for c in live:
        pl.register(c[0], select.POLLIN | select.POLLERR | select.POLLHUP)
        by_fd[c[0].fileno()] = c
    for fd, ev in pl.poll(0):
        c = by_fd[fd]
        try:
            if c[0].recv(4096) == b"":
                c[2] = now
        except BlockingIOError:
            pass
        except OSError:
            c[2] = now
    if now - last_drip >= 2.0:
        last_drip = now
        for c in conns:
            if c[2] is None:
                try:
                    c[0].send(head[c[3]:c[3] + 1])
                    c[3] += 1
                except OSError:
                    c[2] = now
    # held = open for over a second and not closed: the server kept it
    held = sum(1 for c in conns if c[2] is None and now - c[1] > 1.0)
    max_alive = max(max_alive, held)
    time.sleep(0.1)
end = time.monotonic()
kept = [c for c in conns if c[2] is None or c[2] - c[1] > 1.0]  # the ones the server accepted and held
print(json.dumps({
    "opened": opened, "connections": len(conns), "max_held": max_alive, "held": len(kept),
    "still_open": sum(1 for c in conns if c[2] is None),
    "max_life": max([(c[2] if c[2] is not None else end) - c[1] for c in kept] or [0]),
    "seconds": end - t0}))
for c in conns:
    if c[0].fileno() >= 0:
        c[0].close()
PY
ATT=$!
sleep 1
n=0 bad=0
: >"$T/times"
while kill -0 $ATT 2>/dev/null; do
  out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 1 "$B/healthz")
  n=$((n + 1))
  code=${out%% *}
  echo "${out##* }" >>"$T/times"
  [ "$code" = 200 ] || { bad=$((bad + 1)); echo "healthz #$n: ${code:-none} after ${out##* }s" >&2; }
  sleep 0.2
done
worst=$(sort -g "$T/times" | tail -n 1)
wait $ATT || fail "attacker failed: $(cat "$T/attack.err")"
echo "attack: $(cat "$T/attack.json"); healthz: $n probes, $bad failed, slowest ${worst}s"
[ "$n" -ge 20 ] || fail "only $n healthz probes ran"
[ "$bad" = 0 ] || fail "$bad of $n /healthz probes failed or took over 1 s during the attack"
python3 - "$T/attack.json" "$CAP" "$HDR" <<'PY' || fail "the attacker's connections were not capped and cut"
import json, sys
a = json.load(open(sys.argv[1])); cap, hdr = int(sys.argv[2]), int(sys.argv[3])
assert a["opened"] >= 1000, a
assert a["max_held"] <= cap, ("server held more than the per-IP cap", a)
assert a["still_open"] == 0, ("connections still open after the header deadline", a)
assert a["max_life"] <= hdr + 3, ("a connection outlived the header deadline", a)
PY
[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$B/healthz")" = 200 ] || fail "healthz after the attack"

# --- a slow body is cut off; a normal upload from the same address works ---------------------
python3 - "$PORT" "$KEY" <<'PY' || fail "slow body"
import socket, sys, time
port, key = int(sys.argv[1]), sys.argv[2]
s = socket.socket(); s.bind(("127.0.0.2", 0)); s.connect(("127.0.0.1", port))
s.sendall(("POST /v1/calls HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: audio/wav\r\nContent-Length: 100000\r\n\r\n" % key).encode())
t0 = time.monotonic(); closed = None; sent = 0
s.settimeout(0.5)
while time.monotonic() - t0 < 20:
    try:
        s.send(b"\0" * 10); sent += 10   # 10 bytes every 0.5 s: 20 bytes/s, far below 1000
    except OSError:
        closed = time.monotonic() - t0; break
    try:
        if s.recv(4096) == b"":
            closed = time.monotonic() - t0; break
    except socket.timeout:
        pass
    except OSError:
        closed = time.monotonic() - t0; break
print("slow body closed after", closed, "s,", sent, "bytes sent")
assert closed is not None, "a 20 bytes/s body was never cut"
assert 3 <= closed <= 12, closed
PY
if [ -n "$FIX" ] && [ -f "$FIX/tiny.stereo.wav" ]; then
  code=$(curl -s -o "$T/up" -w '%{http_code}' --interface 127.0.0.2 -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: audio/wav' --data-binary @"$FIX/tiny.stereo.wav" "$B/v1/calls")
  [ "$code" = 202 ] || fail "a normal upload after the attack: $code $(cat "$T/up")"
fi
ls "$D/tmp" | grep -q upload && fail "the cut upload left a file in tmp/"
echo "server_slowloris: ok"
