#!/usr/bin/env python3
"""mail_apis.py - test servers for the two mail APIs sdra delivers through, written from their
public references; Python standard library only; listens on 127.0.0.1 only.

--api gmail: the Gmail API v1 (developers.google.com/gmail/api/reference/rest) and Google's
OAuth token endpoint:
  POST /token                                     grant_type=refresh_token, refresh_token,
                                                  client_id, client_secret (form) -> access_token
  GET  /gmail/v1/users/{userId}/profile           -> {emailAddress, messagesTotal, ...}
  POST /gmail/v1/users/{userId}/drafts            {"message": {"raw": base64url}} -> Draft
  POST /gmail/v1/users/{userId}/drafts/send       {"id": draftId} -> Message (labelIds SENT)
  POST /gmail/v1/users/{userId}/messages/send     {"raw": base64url} -> Message
  GET  /gmail/v1/users/{userId}/messages?q=&maxResults=   q terms: rfc822msgid:ID in:drafts
                                                  in:sent; "messages" absent when none
  Errors {"error": {"code", "message", "errors": [...], "status"}}: 401 UNAUTHENTICATED
  (missing or expired token), 400 INVALID_ARGUMENT (bad JSON, raw not base64url, not a message,
  "Recipient address required"), 403 PERMISSION_DENIED (userId not "me" nor the mailbox), 404
  NOT_FOUND, 429 RESOURCE_EXHAUSTED with Retry-After.

--api graph: Microsoft Graph v1.0 mail (learn.microsoft.com/graph/api) and the Microsoft
identity platform token endpoint:
  POST /{tenant}/oauth2/v2.0/token                client_credentials (scope must be
                                                  https://graph.microsoft.com/.default) or
                                                  refresh_token -> access_token
  GET  /v1.0/me | /v1.0/users/{id}                -> user (/me needs a delegated token)
  POST /v1.0/{me|users/{id}}/messages             text/plain base64 MIME -> 201 message (draft)
  POST /v1.0/{...}/messages/{id}/send             -> 202 (draft needs a recipient)
  POST /v1.0/{...}/sendMail                       text/plain base64 MIME -> 202
  GET  /v1.0/{...}/mailFolders/{drafts|sentitems}/messages?$filter=internetMessageId eq '<id>'
  Errors {"error": {"code", "message", "innerError"}}: 401 InvalidAuthenticationToken, 400
  ErrorMimeContentInvalidBase64String / ErrorInvalidRecipients / BadRequest, 404
  ErrorItemNotFound, 415 for another Content-Type, 429 ApplicationThrottled with Retry-After.

Both: tokens are issued by the token endpoint (and --token gives a first valid one); POST
/control {"modes": ["429", "500", ...]} makes the next requests misbehave one each,
{"expire": true} expires every token issued so far (the next call gets 401), {"reset": true}
clears the state. GET /stats gives {"drafts": N, "sent": N, "tokens_issued": N, "log": [...],
"messages": [{"id", "labels", "message_id", "to", "raw"}]} (the raw MIME text, for the test to
parse). Secrets are never logged. --slow-ms N answers a request that stored a message N ms late (the
message is kept first), so that a kill -9 lands between the send and sdra's record of it.

usage: mail_apis.py --api gmail|graph --port-file FILE [--token T] [--mailbox ADDR]
                    [--client-id ID --client-secret S --refresh-token R] [--tenant T]
                    [--slow-ms N]
"""
import argparse
import base64
import binascii
import email
import email.policy
import http.server
import json
import os
import secrets
import threading
import time
import urllib.parse

ARGS = None
LOCK = threading.Lock()
STATE = {}


def reset():
    STATE.clear()
    STATE.update({"tokens": set(), "issued": 0, "modes": [], "log": [], "messages": {}, "drafts": {},
                  "seq": 0})
    if ARGS.token:
        STATE["tokens"].add(ARGS.token)


def next_id(prefix):
    STATE["seq"] += 1
    return "%s%016x" % (prefix, STATE["seq"] * 7919)


def parse_mime(raw_bytes):
    """The message, or None when it is not one (no header block)."""
    try:
        text = raw_bytes.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\n\n" not in text.replace("\r\n", "\n") or ":" not in text.split("\n", 1)[0]:
        return None
    return email.message_from_bytes(raw_bytes, policy=email.policy.default)


def recipients(msg):
    out = []
    for h in ("To", "Cc", "Bcc"):
        for v in msg.get_all(h, []):
            out += [a.addr_spec for a in v.addresses]
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    # ---- plumbing ----
    def reply(self, status, doc=None, headers=None):
        if getattr(self, "stored", False) and ARGS.slow_ms:  # the message is kept; the answer is late
            time.sleep(ARGS.slow_ms / 1000.0)
        body = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(status)
        if doc is not None:
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        with LOCK:
            STATE["log"].append({"method": self.command, "path": self.path.split("?")[0], "status": status})

    def gerr(self, status, message, gstatus, reason="invalidArgument", headers=None):
        self.reply(status, {"error": {"code": status, "message": message, "status": gstatus,
                                      "errors": [{"message": message, "domain": "global", "reason": reason}]}},
                   headers)

    def merr(self, status, code, message, headers=None):
        self.reply(status, {"error": {"code": code, "message": message,
                                      "innerError": {"request-id": "00000000-0000-0000-0000-000000000000"}}},
                   headers)

    def err(self, status, what, headers=None):
        """The API's own error document for the usual cases."""
        g = {400: ("INVALID_ARGUMENT", "BadRequest"), 401: ("UNAUTHENTICATED", "InvalidAuthenticationToken"),
             403: ("PERMISSION_DENIED", "ErrorAccessDenied"), 404: ("NOT_FOUND", "ErrorItemNotFound"),
             405: ("INVALID_ARGUMENT", "BadRequest"), 415: ("INVALID_ARGUMENT", "UnsupportedMediaType"),
             429: ("RESOURCE_EXHAUSTED", "ApplicationThrottled"), 500: ("INTERNAL", "InternalServerError")}[status]
        if ARGS.api == "gmail":
            self.gerr(status, what, g[0], headers=headers)
        else:
            self.merr(status, g[1], what, headers)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 36 * 1024 * 1024:
            return None
        return self.rfile.read(n) if n else b""

    def authed(self):
        a = self.headers.get("Authorization", "")
        if not a.startswith("Bearer "):
            self.err(401, "Request is missing required authentication credential." if ARGS.api == "gmail"
                     else "Access token is empty.")
            return False
        with LOCK:
            ok = a[7:] in STATE["tokens"]
        if not ok:
            self.err(401, "Request had invalid authentication credentials. Expected OAuth 2 access token."
                     if ARGS.api == "gmail" else "Access token has expired or is not yet valid.")
            return False
        return True

    def misbehave(self):
        with LOCK:
            mode = STATE["modes"].pop(0) if STATE["modes"] else None
        if mode == "429":
            self.err(429, "User-rate limit exceeded." if ARGS.api == "gmail"
                     else "Application is over its MailboxConcurrency limit.", {"Retry-After": "1"})
            return True
        if mode == "500":
            self.err(500, "Backend Error" if ARGS.api == "gmail" else "An internal server error occurred.")
            return True
        return False

    # ---- routing ----
    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def do_DELETE(self):
        self.route("DELETE")

    def route(self, method):
        self.stored = False
        u = urllib.parse.urlsplit(self.path)
        path, query = u.path, urllib.parse.parse_qs(u.query)
        if path == "/stats" and method == "GET":
            with LOCK:
                msgs = list(STATE["messages"].values())
                doc = {"drafts": sum(1 for m in msgs if "DRAFT" in m["labels"]),
                       "sent": sum(1 for m in msgs if "SENT" in m["labels"]),
                       "tokens_issued": STATE["issued"], "log": STATE["log"], "messages": msgs}
            return self.reply(200, doc)
        if path == "/control" and method == "POST":
            doc = json.loads(self.body() or b"{}")
            with LOCK:
                if doc.get("reset"):
                    reset()
                if doc.get("expire"):
                    STATE["tokens"].clear()
                STATE["modes"] += doc.get("modes", [])
            return self.reply(200, {"ok": True})
        parts = [p for p in path.split("/") if p]
        if ARGS.api == "gmail":
            if parts == ["token"]:
                return self.token(method) if method == "POST" else self.err(405, "Method not allowed")
            return self.gmail(method, parts, query)
        if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
            return self.token(method, parts[0]) if method == "POST" else self.err(405, "Method not allowed")
        return self.graph(method, parts, query)

    def token(self, method, tenant=None):
        form = urllib.parse.parse_qs((self.body() or b"").decode(), keep_blank_values=True)
        f = {k: v[0] for k, v in form.items()}
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()

        def oerr(status, code, desc):
            doc = {"error": code, "error_description": desc}
            if ARGS.api == "graph":
                doc["error_codes"] = [int(desc[6:desc.index(":")])] if desc.startswith("AADSTS") else []
            self.reply(status, doc)

        if ctype != "application/x-www-form-urlencoded":
            return oerr(400, "invalid_request", "AADSTS900144: The request body must be form-urlencoded."
                        if ARGS.api == "graph" else "Bad Request")
        if ARGS.api == "graph" and tenant != ARGS.tenant:
            return oerr(400, "invalid_tenant", "AADSTS90002: Tenant '%s' not found." % tenant)
        if f.get("client_id") != ARGS.client_id or f.get("client_secret") != ARGS.client_secret:
            return oerr(401, "invalid_client", "AADSTS7000215: Invalid client secret provided."
                        if ARGS.api == "graph" else "The OAuth client was not found.")
        grant = f.get("grant_type")
        if grant == "refresh_token":
            if not ARGS.refresh_token or f.get("refresh_token") != ARGS.refresh_token:
                return oerr(400, "invalid_grant", "AADSTS70000: The provided grant is invalid or malformed."
                            if ARGS.api == "graph" else "Token has been expired or revoked.")
            delegated = True
        elif grant == "client_credentials" and ARGS.api == "graph":
            if f.get("scope") != "https://graph.microsoft.com/.default":
                return oerr(400, "invalid_scope", "AADSTS1002012: The provided value for scope is not valid. "
                            "Client credential flows must have a scope value with /.default suffixed.")
            delegated = False
        else:
            return oerr(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type."
                        if ARGS.api == "graph" else "Invalid grant_type: %s" % grant)
        tok = ("d-" if delegated else "a-") + secrets.token_hex(16)
        with LOCK:
            STATE["tokens"].add(tok)
            STATE["issued"] += 1
        self.reply(200, {"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})

    # ---- Gmail ----
    def gmail(self, method, parts, query):
        if len(parts) < 5 or parts[:3] != ["gmail", "v1", "users"]:
            return self.err(404, "Not Found")
        if not self.authed() or self.misbehave():
            return
        user, rest = urllib.parse.unquote(parts[3]), parts[4:]
        if user not in ("me", ARGS.mailbox):
            return self.gerr(403, "Delegation denied for %s" % ARGS.mailbox, "PERMISSION_DENIED", "forbidden")
        routes = {("profile",): ("GET", self.g_profile), ("drafts",): ("POST", self.g_draft_create),
                  ("drafts", "send"): ("POST", self.g_draft_send), ("messages", "send"): ("POST", self.g_send),
                  ("messages",): ("GET", self.g_list)}
        r = routes.get(tuple(rest))
        if not r:
            return self.err(404, "Requested entity was not found.")
        if r[0] != method:
            return self.err(405, "Method not allowed")
        return r[1](query)

    def json_body(self):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype != "application/json":
            self.err(400, "Invalid JSON payload received. Content-Type must be application/json.")
            return None
        try:
            doc = json.loads(self.body() or b"")
        except ValueError:
            self.err(400, "Invalid JSON payload received.")
            return None
        if not isinstance(doc, dict):
            self.err(400, "Invalid JSON payload received. Expected an object.")
            return None
        return doc

    def g_raw(self, raw):
        if not isinstance(raw, str) or not raw:
            self.err(400, "'raw' RFC822 payload message string or uploading message via /upload/* URL required")
            return None
        if "+" in raw or "/" in raw:
            self.err(400, "Invalid value for ByteString: raw must be base64url")
            return None
        try:
            data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        except (binascii.Error, ValueError):
            self.err(400, "Invalid value for ByteString")
            return None
        msg = parse_mime(data)
        if msg is None:
            self.err(400, "Invalid RFC822 message")
            return None
        return data, msg

    def store(self, data, msg, labels):
        mid = next_id("18c")
        rec = {"id": mid, "threadId": mid, "labels": labels, "message_id": msg.get("Message-ID", ""),
               "to": recipients(msg), "raw": data.decode("utf-8")}
        STATE["messages"][mid] = rec
        self.stored = True
        return rec

    def g_profile(self, query):
        with LOCK:
            n = len(STATE["messages"])
        self.reply(200, {"emailAddress": ARGS.mailbox, "messagesTotal": n, "threadsTotal": n, "historyId": "1000"})

    def g_draft_create(self, query):
        doc = self.json_body()
        if doc is None:
            return
        m = doc.get("message")
        if not isinstance(m, dict):
            return self.err(400, "Invalid draft: message is required")
        got = self.g_raw(m.get("raw"))
        if not got:
            return
        with LOCK:
            rec = self.store(got[0], got[1], ["DRAFT"])
            did = next_id("r-")
            STATE["drafts"][did] = rec["id"]
        self.reply(200, {"id": did, "message": {"id": rec["id"], "threadId": rec["threadId"], "labelIds": ["DRAFT"]}})

    def g_draft_send(self, query):
        doc = self.json_body()
        if doc is None:
            return
        did = doc.get("id")
        if not isinstance(did, str) or not did:
            return self.err(400, "Invalid draft: id is required")
        with LOCK:
            mid = STATE["drafts"].get(did)
            rec = STATE["messages"].get(mid) if mid else None
            if rec and not rec["to"]:
                rec = "norcpt"
            elif rec:
                del STATE["drafts"][did]
                rec["labels"] = ["SENT"]
        if rec is None:
            return self.err(404, "Requested entity was not found.")
        if rec == "norcpt":
            return self.err(400, "Recipient address required")
        self.reply(200, {"id": rec["id"], "threadId": rec["threadId"], "labelIds": ["SENT"]})

    def g_send(self, query):
        doc = self.json_body()
        if doc is None:
            return
        got = self.g_raw(doc.get("raw"))
        if not got:
            return
        if not recipients(got[1]):
            return self.err(400, "Recipient address required")
        with LOCK:
            rec = self.store(got[0], got[1], ["SENT"])
        self.reply(200, {"id": rec["id"], "threadId": rec["threadId"], "labelIds": ["SENT"]})

    def g_list(self, query):
        q = query.get("q", [""])[0].split()
        label = None
        msgid = None
        for term in q:
            if term.startswith("rfc822msgid:"):
                msgid = term[len("rfc822msgid:"):]
            elif term == "in:drafts":
                label = "DRAFT"
            elif term == "in:sent":
                label = "SENT"
            else:
                return self.err(400, "Invalid query term (this test server knows rfc822msgid:, in:drafts, in:sent)")
        with LOCK:
            found = [{"id": m["id"], "threadId": m["threadId"]} for m in STATE["messages"].values()
                     if (msgid is None or m["message_id"].strip("<>") == msgid.strip("<>")) and
                     (label is None or label in m["labels"])]
        doc = {"resultSizeEstimate": len(found)}
        if found:
            doc["messages"] = found[:int(query.get("maxResults", ["100"])[0])]
        self.reply(200, doc)

    # ---- Graph ----
    def graph(self, method, parts, query):
        if len(parts) < 2 or parts[0] != "v1.0":
            return self.err(404, "Resource not found for the segment.")
        if not self.authed() or self.misbehave():
            return
        tok = self.headers["Authorization"][7:]
        if parts[1] == "me":
            if not tok.startswith("d-") and tok != ARGS.token:
                return self.merr(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
            rest = parts[2:]
        elif parts[1] == "users" and len(parts) >= 3:
            if urllib.parse.unquote(parts[2]) not in (ARGS.mailbox, "user-0001"):
                return self.merr(404, "ErrorInvalidUser", "The requested user '%s' is invalid." % parts[2])
            rest = parts[3:]
        else:
            return self.err(404, "Resource not found for the segment '%s'." % parts[1])
        if not rest:
            if method != "GET":
                return self.err(405, "Method not allowed")
            return self.reply(200, {"id": "user-0001", "mail": ARGS.mailbox, "userPrincipalName": ARGS.mailbox,
                                    "displayName": "Rep"})
        if rest == ["messages"] and method == "POST":
            return self.m_create()
        if rest == ["sendMail"] and method == "POST":
            return self.m_sendmail()
        if len(rest) == 3 and rest[0] == "messages" and rest[2] == "send" and method == "POST":
            return self.m_send(rest[1])
        if len(rest) == 3 and rest[0] == "mailFolders" and rest[2] == "messages" and method == "GET":
            return self.m_list(rest[1], query)
        return self.err(404 if method in ("GET", "POST") else 405, "Resource not found for the segment.")

    def m_mime(self):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype != "text/plain":
            self.err(415, "Content-Type must be text/plain (base64 MIME) for this test server")
            return None
        body = self.body() or b""
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            data = None
        msg = parse_mime(data) if data else None
        if msg is None:
            self.merr(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.")
            return None
        return data, msg

    def m_create(self):
        got = self.m_mime()
        if not got:
            return
        with LOCK:
            rec = self.store(got[0], got[1], ["DRAFT"])
            rec["id"] = "AAMk" + rec["id"]
            STATE["messages"][rec["id"]] = STATE["messages"].pop(rec["id"][4:])
        self.reply(201, {"id": rec["id"], "internetMessageId": rec["message_id"], "isDraft": True,
                         "subject": got[1].get("Subject", "")})

    def m_sendmail(self):
        got = self.m_mime()
        if not got:
            return
        if not recipients(got[1]):
            return self.merr(400, "ErrorInvalidRecipients", "At least one recipient isn't valid.")
        with LOCK:
            self.store(got[0], got[1], ["SENT"])
        self.reply(202)

    def m_send(self, mid):
        with LOCK:
            rec = STATE["messages"].get(urllib.parse.unquote(mid))
            state = "missing" if not rec or "DRAFT" not in rec["labels"] else ("norcpt" if not rec["to"] else "ok")
            if state == "ok":
                rec["labels"] = ["SENT"]
        if state == "missing":
            return self.merr(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        if state == "norcpt":
            return self.merr(400, "ErrorInvalidRecipients", "At least one recipient isn't valid.")
        self.reply(202)

    def m_list(self, folder, query):
        label = {"drafts": "DRAFT", "sentitems": "SENT"}.get(folder.lower())
        if not label:
            return self.merr(404, "ErrorFolderNotFound", "The specified folder could not be found in the store.")
        f = query.get("$filter", [""])[0]
        pre = "internetMessageId eq '"
        if f and not (f.startswith(pre) and f.endswith("'")):
            return self.merr(400, "BadRequest", "Invalid filter clause")
        want = f[len(pre):-1] if f else None
        with LOCK:
            vals = [{"id": m["id"]} for m in STATE["messages"].values()
                    if label in m["labels"] and (want is None or m["message_id"] == want)]
        self.reply(200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#messages(id)", "value": vals})


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", choices=["gmail", "graph"], required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--token", default="")
    ap.add_argument("--mailbox", default="rep@acme.example")
    ap.add_argument("--client-id", default="client-1")
    ap.add_argument("--client-secret", default="")
    ap.add_argument("--refresh-token", default="")
    ap.add_argument("--tenant", default="tenant-1")
    ap.add_argument("--slow-ms", type=int, default=0)
    ARGS = ap.parse_args()
    reset()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(tmp, ARGS.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
