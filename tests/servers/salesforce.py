#!/usr/bin/env python3
"""salesforce.py - a stateful stand-in for the parts of the Salesforce REST API sdra's
"salesforce" CRM connector uses, written from Salesforce's public references (REST API
Developer Guide v59.0: sObject rows, upsert by external id, query, composite, limits, status
codes and error responses; OAuth 2.0 refresh token and JWT bearer flows; the Task and Event
objects of the Object Reference). Python standard library only; listens on 127.0.0.1 only.

Contract enforced:
  - Authorization: Bearer <token> on /services/data/*; a missing, wrong or expired session is
    401 [{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}].
  - POST /services/oauth2/token: grant_type=refresh_token (client_id, refresh_token) or
    grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer (assertion: an RS256 JWT whose
    signature is checked with --jwt-modulus, iss = client id, sub = --username, aud = this
    server's URL, exp in the future); answers access_token and instance_url; failures are 400
    {"error":"invalid_grant","error_description":...}.
  - /services/data/vNN.N/ with NN.N >= 59.0 (older: 404 NOT_FOUND).
  - GET .../query?q=SOQL: SELECT fields FROM object [WHERE f = 'v' [AND ...]] [LIMIT n]; unknown
    fields are 400 INVALID_FIELD, anything else 400 MALFORMED_QUERY; string comparisons ignore
    case; --query-batch records per page with nextRecordsUrl.
  - POST .../sobjects/T (201 {id, success, errors}), PATCH .../sobjects/T/Id (204), PATCH
    .../sobjects/T/Field/value (upsert on an external id field: 201 created:true / 200
    created:false; a field that is not an external id is 404 NOT_FOUND), DELETE .../sobjects/T/Id
    (204; 404 ENTITY_IS_DELETED), GET .../sobjects/User/Id. Fields: unknown ones are 400
    INVALID_FIELD; required ones (Contact LastName; Lead LastName, Company; Event
    DurationInMinutes or EndDateTime) 400 REQUIRED_FIELD_MISSING with "fields"; restricted
    picklists (Task Status, Priority, TaskSubtype, CallType) 400
    INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST; WhoId and OwnerId must name a live Contact/Lead or
    an active User (400 INVALID_CROSS_REFERENCE_KEY); Email must look like one (400
    INVALID_EMAIL_ADDRESS); dates YYYY-MM-DD; integers.
  - POST .../composite {allOrNone, compositeRequest (1..25) of {method, url, referenceId, body}}:
    200 {"compositeResponse": [{body, httpHeaders, httpStatusCode, referenceId}]}; with
    allOrNone a failure rolls every subrequest back and the others answer 400
    PROCESSING_HALTED.
  - GET .../limits: DailyApiRequests {Max, Remaining}. Every API answer has Sforce-Limit-Info.
  - The custom fields Sdra_Key__c (External ID, unique) and Sdra_Call_Id__c on Task and Event
    exist unless --no-custom-fields (then they are unknown fields, as in an org not set up).

Test-only endpoints (no auth): GET /__dump {"objects": {type: [rows]}, "log": [...]},
GET /__count?path=S, POST /__control {"fail": [{"status", "errorCode", "path", "count",
"field"}], "slow": {"path", "ms", "count"}, "expire_token": true, "deactivate_user": id,
"reject_value": {"object", "field", "value"}, "reset_log": true}.

usage: salesforce.py --port-file FILE [--token T] [--refresh-token R] [--client-id I]
                     [--username U --jwt-modulus HEX] [--no-custom-fields] [--query-batch N]
"""
import argparse
import base64
import hashlib
import http.server
import json
import os
import re
import sys
import threading
import time
import urllib.parse
import uuid

LOCK = threading.Lock()
ARGS = None
STATE = None
PREFIX = {"Contact": "003", "Lead": "00Q", "Task": "00T", "Event": "00U", "User": "005"}
TASK_PICK = {"Status": ["Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"],
             "Priority": ["High", "Normal", "Low"],
             "TaskSubtype": ["Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"],
             "CallType": ["Internal", "Inbound", "Outbound"]}


def fields_of(t):
    common = {"Id": "id", "OwnerId": "ref", "Description": "text", "CreatedDate": "ro", "LastModifiedDate": "ro"}
    person = dict(common, FirstName="text", LastName="text", Email="email", Title="text", Phone="text",
                  DoNotCall="bool", HasOptedOutOfEmail="bool")
    custom = {} if ARGS.no_custom_fields else {"Sdra_Key__c": "extid", "Sdra_Call_Id__c": "text"}
    f = {"Contact": person, "Lead": dict(person, Company="text", IsConverted="ro"),
         "Task": dict(common, Subject="text", TaskSubtype="pick", CallType="pick", CallDurationInSeconds="int",
                      WhoId="who", ActivityDate="date", Status="pick", Priority="pick", **custom),
         "Event": dict(common, Subject="text", StartDateTime="datetime", EndDateTime="datetime",
                       ActivityDate="date", IsAllDayEvent="bool", DurationInMinutes="int", WhoId="who", **custom),
         "User": {"Id": "id", "Email": "email", "IsActive": "bool", "Name": "text"}}[t]
    if t in ("Contact", "Lead") and ARGS.person_ext_field:
        f[ARGS.person_ext_field] = "extid"
    return f


def fresh_state():
    return {"objects": {t: {} for t in PREFIX},
            "seq": 0, "tokens": {ARGS.token: True}, "fail": [], "slow": None, "log": [], "rejected": set(),
            "api": 0}


class Err(Exception):
    def __init__(self, status, code, message, fields=None, headers=None):
        self.status, self.headers = status, headers or {}
        e = {"message": message, "errorCode": code}
        if fields is not None:
            e["fields"] = fields
        self.doc = [e]


def new_id(t):
    STATE["seq"] += 1
    return "%s%012dAAA" % (PREFIX[t], STATE["seq"])


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime())


def live(t, i):
    r = STATE["objects"].get(t, {}).get(i)
    return r if r and not r.get("_deleted") else None


def check_fields(t, body, creating):
    if not isinstance(body, dict):
        raise Err(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    defs = fields_of(t)
    out = {}
    for k, v in body.items():
        if k == "attributes":
            continue
        kind = defs.get(k)
        if kind is None:
            raise Err(400, "INVALID_FIELD", "No such column '%s' on sobject of type %s" % (k, t))
        if kind in ("id", "ro"):
            raise Err(400, "INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: %s" % k, [k])
        if v is None:
            out[k] = None
            continue
        if kind == "bool" and not isinstance(v, bool):
            raise Err(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of boolean from %s" % v, [k])
        if kind == "int" and (not isinstance(v, int) or isinstance(v, bool)):
            raise Err(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of int from %s" % v, [k])
        if kind in ("text", "email", "pick", "date", "datetime", "extid", "who", "ref") and not isinstance(v, str):
            raise Err(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of string from %s" % v, [k])
        if kind == "text" and k == "Subject" and len(v) > 255:
            raise Err(400, "STRING_TOO_LONG", "Subject: data value too large (max length=255)", [k])
        if kind == "email" and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", v):
            raise Err(400, "INVALID_EMAIL_ADDRESS", "Email: invalid email address: %s" % v, [k])
        if kind == "pick" and (v not in TASK_PICK.get(k, []) or (t, k, v) in STATE["rejected"]):
            raise Err(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "%s: bad value for restricted picklist field: %s"
                      % (k, v), [k])
        if kind == "date" and not re.match(r"^\d{4}-\d{2}-\d{2}$", v):
            raise Err(400, "INVALID_TYPE_ON_FIELD_IN_RECORD", "%s: value not of required type: %s" % (k, v), [k])
        if kind == "datetime" and not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?(Z|[+-]\d{4}|[+-]\d{2}:\d{2})$", v):
            raise Err(400, "INVALID_TYPE_ON_FIELD_IN_RECORD", "%s: value not of required type: %s" % (k, v), [k])
        if kind == "who" and not (live("Contact", v) or live("Lead", v)):
            raise Err(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [k])
        if kind == "ref" and k == "OwnerId":
            u = live("User", v)
            if not u or not u["IsActive"]:
                raise Err(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id (the user is not active)", [k])
        out[k] = v
    return out


def check_required(t, rec):
    need = {"Contact": ["LastName"], "Lead": ["LastName", "Company"]}.get(t, [])
    miss = [k for k in need if not rec.get(k)]
    if miss:
        raise Err(400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [%s]" % ", ".join(miss), miss)
    if t == "Event" and not rec.get("EndDateTime") and rec.get("DurationInMinutes") is None:
        raise Err(400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [DurationInMinutes]", ["DurationInMinutes"])
    if t == "Event" and not rec.get("StartDateTime") and not rec.get("ActivityDate"):
        raise Err(400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [ActivityDateTime]", ["ActivityDateTime"])


def insert(t, fields):
    rec = {"Id": new_id(t), "CreatedDate": now_iso(), "LastModifiedDate": now_iso()}
    if t == "Task":
        rec.update({"Status": "Not Started", "Priority": "Normal"})
    if t == "Lead":
        rec["IsConverted"] = False
    rec.update({k: v for k, v in fields.items()})
    check_required(t, rec)
    for k, kind in fields_of(t).items():
        if kind == "extid" and rec.get(k) and find_ext(t, k, rec[k], rec["Id"]):
            raise Err(400, "DUPLICATE_VALUE", "duplicate value found: %s duplicates value on record with id: %s"
                      % (k, find_ext(t, k, rec[k], rec["Id"])["Id"]), [k])
    STATE["objects"][t][rec["Id"]] = rec
    return rec


def find_ext(t, field, value, not_id=None):
    for r in STATE["objects"][t].values():
        if not r.get("_deleted") and r["Id"] != not_id and str(r.get(field, "")).lower() == value.lower():
            return r
    return None


def sobject(method, parts, body):
    t = parts[0]
    if t not in PREFIX:
        raise Err(404, "NOT_FOUND", "The requested resource does not exist")
    if len(parts) == 1 and method == "POST":
        rec = insert(t, check_fields(t, body, True))
        return 201, {"id": rec["Id"], "success": True, "errors": []}
    if len(parts) == 2:
        rec = live(t, parts[1])
        if method == "GET":
            if not rec:
                raise Err(404, "NOT_FOUND", "The requested resource does not exist")
            return 200, dict({"attributes": {"type": t}}, **{k: v for k, v in rec.items() if not k.startswith("_")})
        if method == "PATCH":
            if not rec:
                raise Err(404, "NOT_FOUND", "The requested resource does not exist")
            f = check_fields(t, body, False)
            merged = dict(rec, **f)
            check_required(t, merged)
            rec.update(f)
            rec["LastModifiedDate"] = now_iso()
            return 204, None
        if method == "DELETE":
            if not rec:
                raise Err(404, "ENTITY_IS_DELETED", "entity is deleted")
            rec["_deleted"] = True
            return 204, None
    if len(parts) == 3 and method == "PATCH":
        field, value = parts[1], urllib.parse.unquote(parts[2])
        if fields_of(t).get(field) != "extid":
            raise Err(404, "NOT_FOUND", "Provided external ID field does not exist or is not accessible: %s" % field)
        f = check_fields(t, body, False)
        if field in f and f[field] != value:
            raise Err(400, "INVALID_FIELD", "The value of the external id field %s in the body does not match the URL" % field)
        rec = find_ext(t, field, value)
        if rec:
            merged = dict(rec, **f)
            check_required(t, merged)
            rec.update(f)
            rec["LastModifiedDate"] = now_iso()
            return 200, {"id": rec["Id"], "success": True, "errors": [], "created": False}
        f[field] = value
        rec = insert(t, f)
        return 201, {"id": rec["Id"], "success": True, "errors": [], "created": True}
    raise Err(405, "METHOD_NOT_ALLOWED", "HTTP Method '%s' not allowed" % method)


COND = re.compile(r"^\s*(\w+)\s*=\s*('((?:[^'\\]|\\.)*)'|true|false)\s*$", re.I)


def query(q):
    m = re.match(r"^\s*SELECT\s+(.+?)\s+FROM\s+(\w+)(?:\s+WHERE\s+(.+?))?(?:\s+LIMIT\s+(\d+))?\s*$", q, re.I | re.S)
    if not m:
        raise Err(400, "MALFORMED_QUERY", "unexpected token in: %s" % q[:80])
    cols = [c.strip() for c in m.group(1).split(",")]
    t = m.group(2)
    if t not in PREFIX:
        raise Err(400, "INVALID_TYPE", "sObject type '%s' is not supported." % t)
    defs = fields_of(t)
    conds = []
    if m.group(3):
        for c in re.split(r"\s+AND\s+", m.group(3), flags=re.I):
            cm = COND.match(c)
            if not cm:
                raise Err(400, "MALFORMED_QUERY", "unexpected token: %s" % c[:60])
            if cm.group(1) not in defs:
                raise Err(400, "INVALID_FIELD", "No such column '%s' on entity '%s'." % (cm.group(1), t))
            v = cm.group(2)
            v = True if v.lower() == "true" else False if v.lower() == "false" else \
                re.sub(r"\\(.)", r"\1", cm.group(3))
            conds.append((cm.group(1), v))
    for c in cols:
        if c not in defs:
            raise Err(400, "INVALID_FIELD", "No such column '%s' on entity '%s'." % (c, t))
    rows = []
    for r in sorted(STATE["objects"][t].values(), key=lambda r: r["Id"]):
        if r.get("_deleted"):
            continue
        ok = True
        for k, v in conds:
            have = r.get(k)
            if isinstance(v, bool):
                ok &= bool(have) == v
            else:
                ok &= have is not None and str(have).lower() == v.lower()
        if ok:
            rows.append(dict({"attributes": {"type": t, "url": "/services/data/v59.0/sobjects/%s/%s" % (t, r["Id"])}},
                             **{c: r.get(c) for c in cols}))
    if m.group(4):
        rows = rows[:int(m.group(4))]
    return rows


def page(rows, version, offset=0):
    b = ARGS.query_batch
    doc = {"totalSize": len(rows), "done": offset + b >= len(rows), "records": rows[offset:offset + b]}
    if not doc["done"]:
        loc = "01g%s" % uuid.uuid4().hex[:12]
        STATE.setdefault("cursors", {})[loc] = rows
        doc["nextRecordsUrl"] = "/services/data/v%s/query/%s-%d" % (version, loc, offset + b)
    return doc


def resolve_refs(x, results):
    if isinstance(x, str):
        return re.sub(r"@\{(\w+)\.(\w+)\}", lambda m: str((results.get(m.group(1)) or {}).get(m.group(2), "")), x)
    if isinstance(x, dict):
        return {k: resolve_refs(v, results) for k, v in x.items()}
    if isinstance(x, list):
        return [resolve_refs(v, results) for v in x]
    return x


def api(method, rest, query_s, body, version):
    parts = [p for p in rest.split("/") if p]
    if parts == ["limits"] and method == "GET":
        return 200, {"DailyApiRequests": {"Max": 15000, "Remaining": 15000 - STATE["api"]}}
    if parts == ["query"] and method == "GET":
        q = urllib.parse.parse_qs(query_s).get("q", [""])[0]
        return 200, page(query(q), version)
    if len(parts) == 2 and parts[0] == "query" and method == "GET":
        loc, _, off = parts[1].rpartition("-")
        rows = STATE.get("cursors", {}).get(loc)
        if rows is None:
            raise Err(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return 200, page(rows, version, int(off))
    if parts and parts[0] == "sobjects":
        return sobject(method, [urllib.parse.unquote(p) for p in parts[1:]] if len(parts) < 4 else
                       [parts[1], parts[2], parts[3]], body)
    if parts == ["composite"] and method == "POST":
        reqs = body.get("compositeRequest") if isinstance(body, dict) else None
        if not isinstance(reqs, list) or not 1 <= len(reqs) <= 25:
            raise Err(400, "INVALID_BATCH_REQUEST", "compositeRequest must hold 1 to 25 subrequests")
        all_or_none = bool(body.get("allOrNone"))
        snapshot = json.loads(json.dumps(STATE["objects"])), STATE["seq"]
        out, results, failed = [], {}, False
        for r in reqs:
            for k in ("method", "url", "referenceId"):
                if not isinstance(r.get(k), str):
                    raise Err(400, "INVALID_BATCH_REQUEST", "subrequest needs %s" % k)
            if failed and all_or_none:
                out.append({"body": [{"errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled back "
                                      "since another operation in the same transaction failed."}],
                            "httpHeaders": {}, "httpStatusCode": 400, "referenceId": r["referenceId"]})
                continue
            u = urllib.parse.urlsplit(resolve_refs(r["url"], results))
            m = re.match(r"^/services/data/v(\d+\.\d)(/.*)$", u.path)
            try:
                if not m:
                    raise Err(400, "INVALID_BATCH_REQUEST", "url must be under /services/data/vNN.N")
                st, doc = api(r["method"], m.group(2), u.query, resolve_refs(r.get("body"), results), m.group(1))
                if isinstance(doc, dict):
                    results[r["referenceId"]] = doc
            except Err as e:
                st, doc, failed = e.status, e.doc, True
            out.append({"body": doc, "httpHeaders": {}, "httpStatusCode": st, "referenceId": r["referenceId"]})
        if failed and all_or_none:
            STATE["objects"], STATE["seq"] = snapshot
            for o in out:
                if 200 <= o["httpStatusCode"] < 300:
                    o["httpStatusCode"] = 400
                    o["body"] = [{"errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled back since "
                                  "another operation in the same transaction failed."}]
        return 200, {"compositeResponse": out}
    raise Err(404, "NOT_FOUND", "The requested resource does not exist")


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def check_jwt(assertion, base):
    try:
        h, c, s = assertion.split(".")
        hdr, claims, sig = json.loads(b64d(h)), json.loads(b64d(c)), b64d(s)
    except Exception:
        return "malformed assertion"
    if hdr.get("alg") != "RS256":
        return "algorithm must be RS256"
    if not ARGS.jwt_modulus:
        return "JWT bearer flow not configured"
    n = int(ARGS.jwt_modulus, 16)
    k = (n.bit_length() + 7) // 8
    em = pow(int.from_bytes(sig, "big"), 65537, n).to_bytes(k, "big")
    digest_info = bytes.fromhex("3031300d060960864801650304020105000420") + hashlib.sha256((h + "." + c).encode()).digest()
    if em != b"\x00\x01" + b"\xff" * (k - 3 - len(digest_info)) + b"\x00" + digest_info:
        return "invalid signature"
    if claims.get("iss") != ARGS.client_id:
        return "invalid client_id (iss)"
    if claims.get("sub") != ARGS.username:
        return "user hasn't approved this consumer (sub)"
    if claims.get("aud") != base:
        return "audience is invalid (aud)"
    if not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
        return "expired assertion (exp)"
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("salesforce: " + fmt % a + "\n")

    def send(self, status, doc, headers=None):
        body = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if doc is not None:
            self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self, method):
        u = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        base = "http://127.0.0.1:%d" % self.server.server_address[1]
        if u.path == "/__dump":
            with LOCK:
                doc = {"objects": {t: [{k: v for k, v in r.items()} for r in sorted(v.values(), key=lambda r: r["Id"])
                                       if not r.get("_deleted")] for t, v in STATE["objects"].items()},
                       "log": STATE["log"]}
            return self.send(200, doc)
        if u.path == "/__count":
            sub = urllib.parse.parse_qs(u.query).get("path", [""])[0]
            with LOCK:
                return self.send(200, sum(1 for e in STATE["log"] if sub in e["path"] and e.get("status")))
        if u.path == "/__control" and method == "POST":
            c = json.loads(raw or b"{}")
            with LOCK:
                STATE["fail"].extend(dict(f, count=f.get("count", 1)) for f in c.get("fail", []))
                if "slow" in c:
                    STATE["slow"] = dict(c["slow"], count=c["slow"].get("count", 1))
                if c.get("expire_token"):
                    STATE["tokens"] = {t: False for t in STATE["tokens"]}
                if c.get("deactivate_user"):
                    STATE["objects"]["User"][c["deactivate_user"]]["IsActive"] = False
                if c.get("delete_user"):
                    STATE["objects"]["User"][c["delete_user"]]["_deleted"] = True
                if c.get("reject_value"):
                    r = c["reject_value"]
                    STATE["rejected"].add((r["object"], r["field"], r["value"]))
                if c.get("unreject"):
                    STATE["rejected"] = set()
                if c.get("reset_log"):
                    STATE["log"] = []
            return self.send(200, {"ok": True})
        status, doc, headers, delay = 500, None, {}, 0
        with LOCK:
            entry = {"method": method, "path": u.path, "t": time.time()}
            STATE["log"].append(entry)
            try:
                if u.path == "/services/oauth2/token" and method == "POST":
                    f = urllib.parse.parse_qs(raw.decode())
                    g = lambda k: f.get(k, [None])[0]
                    gt = g("grant_type")
                    if gt == "refresh_token":
                        if g("client_id") != ARGS.client_id:
                            raise Err(400, "invalid_client_id", "client identifier invalid")
                        if not ARGS.refresh_token or g("refresh_token") != ARGS.refresh_token:
                            raise Err(400, "invalid_grant", "expired access/refresh token")
                    elif gt == "urn:ietf:params:oauth:grant-type:jwt-bearer":
                        why = check_jwt(g("assertion") or "", base)
                        if why:
                            raise Err(400, "invalid_grant", why)
                    else:
                        raise Err(400, "unsupported_grant_type", "grant type not supported")
                    tok = "00Dsf!" + uuid.uuid4().hex
                    STATE["tokens"][tok] = True
                    status, doc = 200, {"access_token": tok, "instance_url": base, "id": base + "/id/00D/005",
                                        "token_type": "Bearer", "issued_at": str(int(time.time() * 1000)),
                                        "signature": "x"}
                else:
                    m = re.match(r"^/services/data/v(\d+\.\d)(/.*)?$", u.path)
                    if not m:
                        raise Err(404, "NOT_FOUND", "The requested resource does not exist")
                    auth = self.headers.get("Authorization", "")
                    tok = auth[7:] if auth.startswith("Bearer ") else None
                    if not STATE["tokens"].get(tok):
                        raise Err(401, "INVALID_SESSION_ID", "Session expired or invalid")
                    if float(m.group(1)) < 59.0:
                        raise Err(404, "NOT_FOUND", "The requested resource does not exist")
                    STATE["api"] += 1
                    headers["Sforce-Limit-Info"] = "api-usage=%d/15000" % STATE["api"]
                    for f in STATE["fail"]:
                        if f["count"] > 0 and f.get("path", "") in u.path and (f.get("method") in (None, method)):
                            f["count"] -= 1
                            raise Err(f["status"], f.get("errorCode", "UNKNOWN_EXCEPTION"),
                                      f.get("message", "injected failure"), [f["field"]] if f.get("field") else None,
                                      {"Sforce-Limit-Info": headers["Sforce-Limit-Info"]})
                    body = json.loads(raw) if raw else None
                    status, doc = api(method, m.group(2) or "/", u.query, body, m.group(1))
                    sl = STATE["slow"]
                    if sl and sl["count"] > 0 and sl.get("path", "") in u.path:
                        sl["count"] -= 1
                        delay = sl.get("ms", 3000) / 1000.0
            except Err as e:
                status, headers = e.status, dict(headers, **e.headers)
                doc = e.doc
                if u.path == "/services/oauth2/token":
                    doc = {"error": e.doc[0]["errorCode"], "error_description": e.doc[0]["message"]}
            except (ValueError, AttributeError, TypeError, KeyError) as e:
                status, doc = 400, [{"errorCode": "JSON_PARSER_ERROR", "message": str(e)}]
            entry["status"] = status
        if delay:
            time.sleep(delay)
        self.send(status, doc, headers)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")


def main():
    global ARGS, STATE
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--token", default="00Dsf!ok")
    ap.add_argument("--refresh-token")
    ap.add_argument("--client-id", default="3MVG-client")
    ap.add_argument("--username")
    ap.add_argument("--jwt-modulus")
    ap.add_argument("--person-ext-field")
    ap.add_argument("--no-custom-fields", action="store_true")
    ap.add_argument("--query-batch", type=int, default=2000)
    ARGS = ap.parse_args()
    STATE = fresh_state()
    STATE["objects"]["User"]["005000000000001AAA"] = {"Id": "005000000000001AAA", "Email": "rep@seller.example",
                                                      "IsActive": True, "Name": "Riley Rep"}
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, ARGS.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
