#!/usr/bin/env python3
"""webhook_receiver.py - a receiver for sdra's outbox webhooks (docs/outbox.md), Python standard
library only, listening on 127.0.0.1 only.

It enforces the documented contract: POST only (405 otherwise), Content-Type application/json,
a JSON object body with id, type (call.completed | call.failed | email.sent | crm.synced),
created and data; headers Sdra-Event-Id and Idempotency-Key equal to the body's id, Sdra-Event
equal to its type; with --secret, Sdra-Signature "t=UNIX,v1=HEX" where HEX is
HMAC-SHA256(secret, "t.body") computed here independently (401 when missing or wrong). A
request that breaks the contract gets 400 {"error": "..."} and is logged as rejected.

Every request is appended as one JSON line to --log: {"t", "status", "event_id", "type",
"call_id", "valid"}. A receiver that applies each event once (as a real one deduplicates on the
event id) can be counted from the log: distinct event ids with status 2xx.

Misbehaviour for testing retries: --fail-first N answers 500 to the first N valid requests;
--reject-type TYPE answers 400 (permanent) to events of that type; --slow-ms N waits N ms
before answering (so a kill -9 can land between sending and recording).

usage: webhook_receiver.py --port-file FILE --log FILE [--secret S] [--fail-first N]
                           [--reject-type T] [--slow-ms N]
"""
import argparse
import hashlib
import hmac
import http.server
import json
import os
import sys
import threading
import time

TYPES = {"call.completed", "call.failed", "email.sent", "crm.synced"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--secret")
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--reject-type")
    ap.add_argument("--slow-ms", type=int, default=0)
    a = ap.parse_args()
    lock = threading.Lock()
    state = {"valid": 0}

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, status, doc):
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def record(self, status, eid, typ, call_id, valid):
            with lock, open(a.log, "a") as f:
                f.write(json.dumps({"t": time.time(), "status": status, "event_id": eid, "type": typ,
                                    "call_id": call_id, "valid": valid}) + "\n")
                f.flush()
                os.fsync(f.fileno())

        def do_GET(self):
            self.answer(405, {"error": "POST only"})

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n > 0 else b""
            err = None
            doc = None
            if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
                err = "Content-Type must be application/json"
            else:
                try:
                    doc = json.loads(raw)
                except ValueError:
                    err = "body is not JSON"
            if not err and (not isinstance(doc, dict) or not all(k in doc for k in ("id", "type", "created", "data"))):
                err = "body needs id, type, created and data"
            if not err and doc["type"] not in TYPES:
                err = "unknown event type"
            if not err and (self.headers.get("Sdra-Event-Id") != doc["id"] or
                            self.headers.get("Idempotency-Key") != doc["id"] or
                            self.headers.get("Sdra-Event") != doc["type"]):
                err = "Sdra-Event-Id, Idempotency-Key and Sdra-Event must match the body"
            eid = doc.get("id") if isinstance(doc, dict) else None
            typ = doc.get("type") if isinstance(doc, dict) else None
            call_id = (doc.get("data") or {}).get("call_id") if isinstance(doc, dict) else None
            if err:
                self.record(400, eid, typ, call_id, False)
                return self.answer(400, {"error": err})
            if a.secret:
                sig = self.headers.get("Sdra-Signature") or ""
                parts = dict(p.split("=", 1) for p in sig.split(",") if "=" in p)
                want = hmac.new(a.secret.encode(), (parts.get("t", "") + ".").encode() + raw,
                                hashlib.sha256).hexdigest()
                if "t" not in parts or not hmac.compare_digest(parts.get("v1", ""), want):
                    self.record(401, eid, typ, call_id, False)
                    return self.answer(401, {"error": "bad signature"})
            if a.slow_ms:
                time.sleep(a.slow_ms / 1000.0)
            with lock:
                state["valid"] += 1
                k = state["valid"]
            if k <= a.fail_first:
                self.record(500, eid, typ, call_id, True)
                return self.answer(500, {"error": "try again"})
            if a.reject_type and typ == a.reject_type:
                self.record(400, eid, typ, call_id, True)
                return self.answer(400, {"error": "this receiver refuses " + typ})
            self.record(200, eid, typ, call_id, True)
            self.answer(200, {"received": eid})

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
