#!/usr/bin/env python3
"""live_client.py - a WebSocket client for the live endpoints that is not the server's own code
(Debian's python3-websockets, and raw sockets for frames no library would send), used by
tests/integration/live_calls.sh and bench/live.sh.

  stream URL RAW --sid SID [--speed N] [--stop | --drop-after S] [--from S] [--param K=V]...
         [--auth KEY] [--events FILE] [--alert-before-stop KIND [--alert-timeout S]]
      streams RAW (mu-law 8 kHz, 1 or 2 channels interleaved: --channels) in the Twilio Media
      Streams format, 20 ms per media message and track, at N times real time; prints each
      event received as one JSON line (to --events FILE too) and finally {"close": code}.
      --drop-after S: the connection is dropped (no close frame) after S s, or at the end of
      what it sends (--to), whichever comes first. --drop-split: at the end of what it sends,
      the drop falls after the next frame's first track and before its second.
      --hold-idle N: after the audio, the connection stays open (no stop) until N "metrics"
      events in a row reported lag 0 (or --hold-timeout S, default 60); prints
      {"idle_metrics": N} with the count reached: the server's metrics timer.
      --alert-before-stop KIND: after the audio, stop is sent only once an alert of that kind
      came (or --alert-timeout S passed, default 60: {"alert_timeout": KIND} is printed).
      --max-lag S: sending pauses while the server's last reported lag_s (utterance and
      metrics events, so ask for events) is over S, at most --max-wait S (default 60) a time,
      and the schedule restarts after each pause: a call streamed as fast as the server
      recognizes it.
  bad URL KIND [--auth KEY]
      KIND garbage|base64|unknown|oversized|binary|nostart: one misbehaving client; prints the
      close code the server sent.
"""
import argparse
import asyncio
import base64
import json
import os
import socket
import struct
import sys
import time
import urllib.parse

import websockets


def log(o, f=None):
    line = json.dumps(o)
    print(line, flush=True)
    if f:
        f.write(line + "\n")
        f.flush()


async def stream(a):
    try:
        await stream_inner(a)
    except websockets.ConnectionClosed as e:  # the server closed while we sent (a refused start)
        log({"close": e.code, "reason": e.reason}, open(a.events, "a") if a.events else None)


async def stream_inner(a):
    raw = open(a.raw, "rb").read()
    ch = a.channels
    frame = 160 * ch  # 20 ms
    start_at = int(a.from_s * 8000) * ch
    end_at = len(raw) if a.to_s is None else min(len(raw), int(a.to_s * 8000) * ch)
    hdr = {"Authorization": "Bearer " + a.auth} if a.auth else {}
    params = dict(p.split("=", 1) for p in a.param)
    out = open(a.events, "a") if a.events else None
    alert_seen = asyncio.Event()
    lag = {"s": 0.0}
    idle = {"sent": False, "n": 0}  # --hold-idle: metrics events at lag 0 since the audio ended
    idle_done = asyncio.Event()
    async with websockets.connect(a.url, extra_headers=hdr, max_size=1 << 22) as ws:
        async def reader():
            try:
                async for m in ws:
                    ev = json.loads(m)
                    ev["t"] = time.time()
                    log(ev, out)
                    if ev.get("event") in ("utterance", "metrics") and "lag_s" in (ev.get("data") or {}):
                        lag["s"] = ev["data"]["lag_s"]
                    if idle["sent"] and ev.get("event") == "metrics":
                        idle["n"] = idle["n"] + 1 if ev["data"].get("lag_s", 1) == 0 else 0
                        if a.hold_idle and idle["n"] >= a.hold_idle:
                            idle_done.set()
                    if (a.alert_before_stop and ev.get("event") == "alert"
                            and (ev.get("data") or {}).get("kind") == a.alert_before_stop):
                        alert_seen.set()
            except websockets.ConnectionClosed:
                pass

        rt = asyncio.ensure_future(reader())
        await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        tracks = ["inbound", "outbound"] if ch == 2 else ["inbound"]
        await ws.send(json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": "MZ" + a.sid,
                                  "start": {"accountSid": "AC0", "streamSid": "MZ" + a.sid, "callSid": a.sid,
                                            "tracks": tracks, "customParameters": params,
                                            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                                            "channels": 1}}}))
        seq, chunk = 2, 1
        t0 = time.time()
        pos = start_at
        while pos < end_at:
            block = raw[pos:pos + frame]
            ts = (pos - start_at) // ch // 8  # ms since this stream began
            for i, tr in enumerate(tracks):
                payload = block[i::ch]
                await ws.send(json.dumps({"event": "media", "sequenceNumber": str(seq), "streamSid": "MZ" + a.sid,
                                          "media": {"track": tr, "chunk": str(chunk), "timestamp": str(ts),
                                                    "payload": base64.b64encode(payload).decode()}}))
                seq += 1
            chunk += 1
            pos += frame
            sent_s = (pos - start_at) / ch / 8000.0
            if sent_s <= a.slow_first:  # the first seconds at real time (models load, decoding starts)
                due = t0 + sent_s
            else:
                due = t0 + a.slow_first + (sent_s - a.slow_first) / a.speed
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if a.max_lag is not None and chunk % 50 == 0:  # once a second of audio
                w0 = time.time()
                while lag["s"] > a.max_lag and time.time() - w0 < a.max_wait:
                    await asyncio.sleep(0.05)
                # the schedule restarts after a pause: without this the audio held back was sent
                # in a burst right after it, and the call went out at --speed regardless of the lag
                t0 += time.time() - w0
            if a.drop_after is not None and time.time() - t0 >= a.drop_after:
                ws.transport.abort()  # no close frame: a dropped connection
                log({"dropped_at_s": (pos - start_at) / ch / 8000.0})
                rt.cancel()
                return
        if a.drop_after is not None:  # the end of what to send: dropped there
            if a.drop_split and ch == 2 and pos < len(raw):
                # the next frame's first track only: the drop falls between the two tracks'
                # messages, and the tracks stand unequal when the call awaits its reconnect
                await ws.send(json.dumps({"event": "media", "sequenceNumber": str(seq), "streamSid": "MZ" + a.sid,
                                          "media": {"track": tracks[0], "chunk": str(chunk),
                                                    "timestamp": str((pos - start_at) // ch // 8),
                                                    "payload": base64.b64encode(raw[pos:pos + frame][0::2]).decode()}}))
            ws.transport.abort()
            log({"dropped_at_s": (pos - start_at) / ch / 8000.0})
            rt.cancel()
            return
        log({"sent_s": (pos - start_at) / ch / 8000.0, "t": time.time()}, out)
        idle["sent"] = True
        if a.hold_idle:
            try:
                await asyncio.wait_for(idle_done.wait(), timeout=a.hold_timeout)
            except asyncio.TimeoutError:
                pass
            log({"idle_metrics": idle["n"], "t": time.time()}, out)
        if a.stop and a.alert_before_stop:
            try:
                await asyncio.wait_for(alert_seen.wait(), timeout=a.alert_timeout)
            except asyncio.TimeoutError:
                log({"alert_timeout": a.alert_before_stop}, out)
        if a.stop:
            await ws.send(json.dumps({"event": "mark", "sequenceNumber": str(seq), "streamSid": "MZ" + a.sid,
                                      "mark": {"name": "end"}}))
            await ws.send(json.dumps({"event": "stop", "sequenceNumber": str(seq + 1), "streamSid": "MZ" + a.sid,
                                      "stop": {"accountSid": "AC0", "callSid": a.sid}}))
            log({"stop_sent": time.time()}, out)
        try:
            await asyncio.wait_for(rt, timeout=a.wait)
        except asyncio.TimeoutError:
            pass
        log({"close": ws.close_code, "reason": ws.close_reason}, out)


def raw_handshake(url, auth):
    u = urllib.parse.urlparse(url)
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    path = u.path + ("?" + u.query if u.query else "")
    req = (f"GET {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    if auth:
        req += f"Authorization: Bearer {auth}\r\n"
    s.sendall((req + "\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            raise SystemExit("handshake: connection closed")
        buf += d
    head = buf.split(b"\r\n\r\n", 1)[0].decode()
    if not head.startswith("HTTP/1.1 101"):
        raise SystemExit("handshake: " + head.splitlines()[0])
    return s


def frame(op, payload, fin=True, mask=True):
    b0 = (0x80 if fin else 0) | op
    n = len(payload)
    h = bytes([b0])
    m = 0x80 if mask else 0
    if n < 126:
        h += bytes([m | n])
    elif n < 65536:
        h += bytes([m | 126]) + struct.pack(">H", n)
    else:
        h += bytes([m | 127]) + struct.pack(">Q", n)
    if not mask:
        return h + payload
    k = os.urandom(4)
    return h + k + bytes(c ^ k[i % 4] for i, c in enumerate(payload))


def read_close(s):
    """Reads frames until a close frame; returns its code (None when the socket just closed)."""
    buf = b""
    s.settimeout(15)
    while True:
        while len(buf) >= 2:
            n = buf[1] & 0x7F
            off = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n = struct.unpack(">H", buf[2:4])[0]
                off = 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n = struct.unpack(">Q", buf[2:10])[0]
                off = 10
            if len(buf) < off + n:
                break
            op, pl = buf[0] & 0x0F, buf[off:off + n]
            buf = buf[off + n:]
            if op == 8:
                return (struct.unpack(">H", pl[:2])[0] if len(pl) >= 2 else 1005), pl[2:].decode("utf-8", "replace")
        try:
            d = s.recv(65536)
        except socket.timeout:
            return None, "timeout"
        if not d:
            return None, "closed without a close frame"
        buf += d


def bad(a):
    s = raw_handshake(a.url, a.auth)
    start = {"event": "start", "streamSid": "MZbad", "start": {"callSid": "CAbad-" + a.kind, "tracks": ["inbound"],
                                                               "mediaFormat": {"encoding": "audio/x-mulaw",
                                                                               "sampleRate": 8000, "channels": 1}}}
    if a.kind == "garbage":
        s.sendall(bytes([0x8F, 0x80, 1, 2, 3, 4]) + os.urandom(64))  # a reserved opcode, then noise
    elif a.kind == "unmasked":
        s.sendall(frame(1, b'{"event":"connected"}', mask=False))
    elif a.kind == "base64":
        s.sendall(frame(1, json.dumps(start).encode()))
        s.sendall(frame(1, json.dumps({"event": "media", "media": {"track": "inbound", "chunk": "1",
                                                                    "timestamp": "0", "payload": "%%%not base64%%%"}}).encode()))
    elif a.kind == "unknown":
        s.sendall(frame(1, json.dumps(start).encode()))
        s.sendall(frame(1, b'{"event":"bogus"}'))
    elif a.kind == "oversized":
        s.sendall(frame(1, json.dumps({"event": "connected", "pad": "x" * 200000}).encode()))
    elif a.kind == "binary":
        s.sendall(frame(2, b"\x00\x01\x02\x03"))
    elif a.kind == "notjson":
        s.sendall(frame(1, b"hello"))
    elif a.kind == "badutf8":
        s.sendall(frame(1, b'{"event":"\xff"}'))
    code, reason = read_close(s)
    s.close()
    print(json.dumps({"close": code, "reason": reason}))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("stream")
    p.add_argument("url")
    p.add_argument("raw")
    p.add_argument("--sid", required=True)
    p.add_argument("--channels", type=int, default=2)
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--stop", action="store_true")
    p.add_argument("--drop-after", type=float)
    p.add_argument("--drop-split", action="store_true")
    p.add_argument("--from", dest="from_s", type=float, default=0.0)
    p.add_argument("--to", dest="to_s", type=float)
    p.add_argument("--param", action="append", default=[])
    p.add_argument("--auth")
    p.add_argument("--events")
    p.add_argument("--wait", type=float, default=120.0)
    p.add_argument("--alert-before-stop", metavar="KIND")
    p.add_argument("--max-lag", type=float)
    p.add_argument("--max-wait", type=float, default=60.0)
    p.add_argument("--hold-idle", type=int, default=0)
    p.add_argument("--hold-timeout", type=float, default=60.0)
    p.add_argument("--alert-timeout", type=float, default=60.0)
    p.add_argument("--slow-first", type=float, default=0.0, help="seconds sent at 1x before --speed applies")
    b = sub.add_parser("bad")
    b.add_argument("url")
    b.add_argument("kind")
    b.add_argument("--auth")
    a = ap.parse_args()
    if a.cmd == "stream":
        asyncio.run(stream(a))
    else:
        bad(a)


if __name__ == "__main__":
    main()
