#!/usr/bin/env python3
"""hubspot.py - a stateful stand-in for the parts of the HubSpot API sdra's "hubspot" CRM
connector uses, written from HubSpot's public API reference (developers.hubspot.com: CRM v3
objects, batch upsert, search, properties and property groups, v4 associations, owners, GDPR
delete, communication preferences v3, OAuth v1 token). Python standard library only; listens on
127.0.0.1 only.

Contract enforced:
  - Authorization: Bearer <token> on every API path; a missing/unknown token is 401
    INVALID_AUTHENTICATION, an expired one 401 EXPIRED_AUTHENTICATION.
  - POST /oauth/v1/token (form: grant_type=refresh_token, client_id, client_secret,
    refresh_token) issues a new access token; a wrong one is 400 BAD_REFRESH_TOKEN.
  - POST /crm/v3/objects/{type}/batch/upsert: inputs (1..100) of {idProperty, id, properties};
    idProperty must be a unique-value property ("email" on contacts, or a custom property
    created with hasUniqueValue); every property must exist on the type (400
    PROPERTY_DOESNT_EXIST naming it) and enumeration values must be options (400 INVALID_OPTION);
    engagements need hs_timestamp. Results carry "new".
  - POST /crm/v3/objects/{type}/search: filterGroups/filters (EQ, NEQ, IN, HAS_PROPERTY) on
    existing properties only, limit (<= 200, default 10), paging.next.after.
  - GET /crm/v3/objects/{type} (limit, after), DELETE /crm/v3/objects/{type}/{id} (204).
  - GET/POST /crm/v3/properties/{type}[/{name}] (404 for an unknown property, 409 for an
    existing name, groupName must exist, bool needs options), POST .../groups.
  - GET /crm/v4/objects/{from}/{id}/associations/{to} (the records associated, both ways);
    PUT /crm/v4/objects/{from}/{id}/associations/{to}/{toId} with [{associationCategory,
    associationTypeId}]: the type id must be the HUBSPOT_DEFINED one for the pair (194 call,
    198 email, 200 meeting, 202 note, 204 task -> contact); both records must exist (404).
  - GET /crm/v3/owners/?email=, GET /crm/v3/owners/{id} (404 when unknown or archived).
  - POST /crm/v3/objects/contacts/gdpr-delete {objectId, idProperty}.
  - POST /communication-preferences/v3/unsubscribe {emailAddress, subscriptionId}.
Errors are HubSpot's document: {"status":"error","message","correlationId","category",
"errors":[{"message","code","context":{"propertyName":[..]}}]}; 429 adds errorType RATE_LIMIT,
policyName and Retry-After.

Test-only endpoints (no auth):
  GET  /__dump      {"objects": {type: [records, archived ones left out]}, "associations": [...],
                    "properties": {type: [custom names]}, "log": [{method, path, status, t}]}
  GET  /__count?path=S   how many answered requests had S in their path (a plain number)
  POST /__control   {"fail": [{"status": 429|400|409|500, "path": substring, "count": n}],
                    "slow": {"path": substring, "ms": N, "count": n} (answers late, after the
                    write is done: a kill lands between the write and its record),
                    "expire_token": true, "archive_owner": id, "reject_option":
                    {"type": t, "property": p, "value": v}, "unreject": true, "reset_log": true}

usage: hubspot.py --port-file FILE [--token T] [--refresh-token R --client-id I --client-secret S]
"""
import argparse
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse
import uuid

LOCK = threading.Lock()
ARGS = None

ENGAGEMENTS = {"calls", "tasks", "meetings", "notes", "emails"}
TYPES = {"contacts"} | ENGAGEMENTS
TYPE_IDS = {"contacts": "0-1", "calls": "0-48", "emails": "0-49", "meetings": "0-47", "notes": "0-46", "tasks": "0-27"}
ASSOC = {("calls", "contacts"): 194, ("emails", "contacts"): 198, ("meetings", "contacts"): 200,
         ("notes", "contacts"): 202, ("tasks", "contacts"): 204}


def std_props():
    s = lambda: {"type": "string", "fieldType": "text"}
    num = lambda: {"type": "number", "fieldType": "number"}
    dt = lambda: {"type": "datetime", "fieldType": "date"}
    enum = lambda *o: {"type": "enumeration", "fieldType": "select", "options": [{"label": x, "value": x} for x in o]}
    common = {"hs_timestamp": dt(), "hubspot_owner_id": {"type": "enumeration", "fieldType": "select", "owner": True}}
    p = {
        "contacts": {k: s() for k in ("email", "firstname", "lastname", "company", "jobtitle", "phone")},
        "calls": dict(common, hs_call_title=s(), hs_call_body=s(), hs_call_duration=num(),
                      hs_call_direction=enum("INBOUND", "OUTBOUND"),
                      hs_call_status=enum("BUSY", "CALLING_CRM_USER", "CANCELED", "COMPLETED", "CONNECTING",
                                          "FAILED", "IN_PROGRESS", "NO_ANSWER", "QUEUED", "RINGING"),
                      hs_call_recording_url=s()),
        "tasks": dict(common, hs_task_subject=s(), hs_task_body=s(),
                      hs_task_status=enum("NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"),
                      hs_task_priority=enum("NONE", "LOW", "MEDIUM", "HIGH"),
                      hs_task_type=enum("CALL", "EMAIL", "TODO", "LINKED_IN")),
        "meetings": dict(common, hs_meeting_title=s(), hs_meeting_body=s(), hs_meeting_start_time=dt(),
                         hs_meeting_end_time=dt(),
                         hs_meeting_outcome=enum("SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED")),
        "notes": dict(common, hs_note_body=s()),
        "emails": dict(common, hs_email_subject=s(), hs_email_text=s(), hs_email_headers=s(),
                       hs_email_direction=enum("EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL"),
                       hs_email_status=enum("BOUNCED", "FAILED", "SCHEDULED", "SENDING", "SENT")),
    }
    for t, d in p.items():
        for k, v in d.items():
            v["name"] = k
            v["custom"] = False
            v["hasUniqueValue"] = (t == "contacts" and k == "email")
    return p


def fresh_state():
    return {"objects": {t: {} for t in TYPES}, "props": std_props(),
            "groups": {t: {"contactinformation", "callinformation", "taskinformation", "meetinginformation",
                           "noteinformation", "emailinformation"} for t in TYPES},
            "assoc": set(), "seq": 1000, "owners": {"101": {"id": "101", "email": "rep@seller.example",
                                                             "firstName": "Riley", "lastName": "Rep",
                                                             "userId": 5001, "archived": False}},
            "tokens": {ARGS.token: True} if ARGS.token else {}, "refresh": ARGS.refresh_token,
            "fail": [], "slow": None, "log": [], "unsub": set(), "rejected": set()}


STATE = None


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


class Err(Exception):
    def __init__(self, status, message, category, code=None, prop=None, extra=None, headers=None):
        self.status, self.headers = status, headers or {}
        self.doc = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}
        if code or prop:
            e = {"message": message, "code": code or category}
            if prop:
                e["context"] = {"propertyName": [prop]}
            self.doc["errors"] = [e]
        if extra:
            self.doc.update(extra)


def validation(message, code, prop):
    return Err(400, message, "VALIDATION_ERROR", code, prop)


def check_props(otype, props):
    defs = STATE["props"][otype]
    if not isinstance(props, dict):
        raise validation("properties must be an object", "INVALID_INPUT", None)
    for k, v in props.items():
        d = defs.get(k)
        if d is None:
            raise validation("Property \"%s\" does not exist" % k, "PROPERTY_DOESNT_EXIST", k)
        if v is None:
            continue
        if not isinstance(v, (str, int, float, bool)):
            raise validation("%s must be a string" % k, "INVALID_PROPERTY_VALUE", k)
        v = str(v) if not isinstance(v, bool) else ("true" if v else "false")
        if d.get("owner"):
            o = STATE["owners"].get(v)
            if not o or o["archived"]:
                raise validation("%s was not a valid owner id" % v, "INVALID_OWNER_ID", k)
        elif d["type"] in ("enumeration", "bool") and "options" in d:
            if v not in [o["value"] for o in d["options"]] or (otype, k, v) in STATE["rejected"]:
                raise validation("%s was not one of the allowed options: %s" % (v, [o["value"] for o in d["options"]]),
                                 "INVALID_OPTION", k)
        elif d["type"] == "number":
            try:
                float(v)
            except ValueError:
                raise validation("%s was not a valid number" % v, "INVALID_INTEGER", k)
        elif d["type"] == "datetime":
            if not (v.isdigit() or (len(v) >= 10 and v[4] == "-" and v[7] == "-")):
                raise validation("%s was not a valid long or ISO 8601 date" % v, "INVALID_DATE", k)
    return {k: (None if v is None else ("true" if v is True else "false" if v is False else str(v)))
            for k, v in props.items()}


def find_by(otype, prop, value):
    for rec in STATE["objects"][otype].values():
        if not rec["archived"] and rec["properties"].get(prop) is not None:
            a, b = rec["properties"][prop], value
            if prop == "email":
                a, b = a.lower(), b.lower()
            if a == b:
                return rec
    return None


def new_id():
    STATE["seq"] += 1
    return str(STATE["seq"])


def batch_upsert(otype, body):
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list) or not 1 <= len(inputs) <= 100:
        raise validation("inputs must hold 1 to 100 items", "INVALID_INPUT", None)
    results = []
    for inp in inputs:
        idp, idv, props = inp.get("idProperty"), inp.get("id"), inp.get("properties")
        if not isinstance(idp, str) or not isinstance(idv, str) or not idv:
            raise validation("idProperty and id are required", "INVALID_INPUT", None)
        d = STATE["props"][otype].get(idp)
        if d is None:
            raise validation("Property \"%s\" does not exist" % idp, "PROPERTY_DOESNT_EXIST", idp)
        if not d.get("hasUniqueValue"):
            raise validation("%s is not a unique identifier property" % idp, "INVALID_ID_PROPERTY", idp)
        props = check_props(otype, props)
        props[idp] = idv.lower() if idp == "email" else idv
        rec = find_by(otype, idp, idv)
        if otype in ENGAGEMENTS and not (rec and rec["properties"].get("hs_timestamp")) and not props.get("hs_timestamp"):
            raise validation("hs_timestamp is required", "REQUIRED_PROPERTY", "hs_timestamp")
        if otype == "emails" and not (rec or props.get("hs_email_direction")):
            raise validation("hs_email_direction is required", "REQUIRED_PROPERTY", "hs_email_direction")
        is_new = rec is None
        if is_new:
            rec = {"id": new_id(), "properties": {}, "createdAt": now_iso(), "archived": False}
            STATE["objects"][otype][rec["id"]] = rec
        rec["properties"].update({k: v for k, v in props.items() if v is not None})
        rec["updatedAt"] = now_iso()
        results.append({"id": rec["id"], "properties": dict(rec["properties"]), "createdAt": rec["createdAt"],
                        "updatedAt": rec["updatedAt"], "archived": False, "new": is_new})
    return 200, {"status": "COMPLETE", "results": results, "startedAt": now_iso(), "completedAt": now_iso()}


def matches(rec, f):
    prop, op, val = f.get("propertyName"), f.get("operator"), f.get("value")
    have = rec["properties"].get(prop)
    if op == "EQ":
        return have is not None and (have.lower() == str(val).lower() if prop == "email" else have == str(val))
    if op == "NEQ":
        return have != str(val)
    if op == "IN":
        return have in [str(x) for x in f.get("values", [])]
    if op == "HAS_PROPERTY":
        return have is not None
    raise validation("operator %s is not supported here" % op, "INVALID_FILTER_OPERATOR", prop)


def search(otype, body):
    groups = body.get("filterGroups", [])
    for g in groups:
        for f in g.get("filters", []):
            if f.get("propertyName") not in STATE["props"][otype]:
                raise validation("There was a problem with the request: property %s does not exist" % f.get("propertyName"),
                                 "PROPERTY_DOESNT_EXIST", f.get("propertyName"))
    limit = body.get("limit", 10)
    if not isinstance(limit, int) or not 1 <= limit <= 200:
        raise validation("limit must be between 1 and 200", "INVALID_LIMIT", None)
    recs = [r for r in sorted(STATE["objects"][otype].values(), key=lambda r: int(r["id"])) if not r["archived"]]
    if groups:
        recs = [r for r in recs if any(all(matches(r, f) for f in g.get("filters", [])) for g in groups)]
    after = int(body.get("after", 0) or 0)
    page = recs[after:after + limit]
    want = body.get("properties") or []
    out = []
    for r in page:
        props = {k: r["properties"].get(k) for k in want}
        props["hs_object_id"] = r["id"]
        out.append({"id": r["id"], "properties": props, "createdAt": r["createdAt"], "updatedAt": r["updatedAt"],
                    "archived": False})
    doc = {"total": len(recs), "results": out}
    if after + limit < len(recs):
        doc["paging"] = {"next": {"after": str(after + limit)}}
    return 200, doc


def create_property(otype, body):
    for k in ("name", "label", "type", "fieldType", "groupName"):
        if not isinstance(body.get(k), str) or not body[k]:
            raise validation("%s is required" % k, "REQUIRED_FIELD", k)
    if body["type"] not in ("bool", "enumeration", "date", "datetime", "string", "number", "phone_number"):
        raise validation("type %s is not valid" % body["type"], "INVALID_OPTION", "type")
    if body["fieldType"] not in ("booleancheckbox", "checkbox", "date", "file", "number", "phonenumber", "radio",
                                 "select", "text", "textarea", "calculation_equation", "html"):
        raise validation("fieldType %s is not valid" % body["fieldType"], "INVALID_OPTION", "fieldType")
    if body["groupName"] not in STATE["groups"][otype]:
        raise validation("group %s does not exist" % body["groupName"], "INVALID_GROUP", "groupName")
    if body["type"] in ("bool", "enumeration") and not body.get("options"):
        raise validation("options are required for %s properties" % body["type"], "REQUIRED_FIELD", "options")
    if body["name"] in STATE["props"][otype]:
        raise Err(409, "Property named '%s' already exists." % body["name"], "CONFLICT")
    d = {"name": body["name"], "label": body["label"], "type": body["type"], "fieldType": body["fieldType"],
         "groupName": body["groupName"], "hasUniqueValue": bool(body.get("hasUniqueValue")), "custom": True}
    if body.get("options"):
        d["options"] = body["options"]
    STATE["props"][otype][body["name"]] = d
    return 201, d


def route(method, path, query, body):
    parts = [p for p in path.split("/") if p]
    if parts[:3] == ["crm", "v3", "objects"] and len(parts) >= 4:
        otype = parts[3]
        if otype not in TYPES:
            raise Err(400, "Unable to infer object type from: %s" % otype, "VALIDATION_ERROR")
        if len(parts) == 6 and parts[4] == "batch" and parts[5] == "upsert" and method == "POST":
            return batch_upsert(otype, body)
        if len(parts) == 5 and parts[4] == "search" and method == "POST":
            return search(otype, body if isinstance(body, dict) else {})
        if len(parts) == 5 and parts[4] == "gdpr-delete" and method == "POST" and otype == "contacts":
            if not isinstance(body, dict) or not body.get("objectId"):
                raise validation("objectId is required", "REQUIRED_FIELD", "objectId")
            rec = find_by("contacts", "email", body["objectId"]) if body.get("idProperty") == "email" \
                else STATE["objects"]["contacts"].get(body["objectId"])
            if not rec or rec["archived"]:
                raise Err(404, "Object not found. objectId are usually numeric.", "OBJECT_NOT_FOUND")
            del STATE["objects"]["contacts"][rec["id"]]
            STATE["assoc"] = {a for a in STATE["assoc"] if a[3] != rec["id"]}
            return 204, None
        if len(parts) == 4 and method == "GET":
            limit = int(query.get("limit", ["10"])[0])
            return search(otype, {"limit": min(max(limit, 1), 100), "after": query.get("after", ["0"])[0]})
        if len(parts) == 5 and method == "DELETE":
            rec = STATE["objects"][otype].get(parts[4])
            if rec:
                rec["archived"] = True
            return 204, None
        if len(parts) == 5 and method == "GET":
            rec = STATE["objects"][otype].get(parts[4])
            if not rec or rec["archived"]:
                raise Err(404, "Object not found.", "OBJECT_NOT_FOUND")
            return 200, rec
    if parts[:3] == ["crm", "v3", "properties"] and len(parts) >= 4:
        otype = parts[3]
        if otype not in TYPES:
            raise Err(400, "Unable to infer object type from: %s" % otype, "VALIDATION_ERROR")
        if len(parts) == 5 and parts[4] == "groups" and method == "POST":
            if not body.get("name") or not body.get("label"):
                raise validation("name and label are required", "REQUIRED_FIELD", "name")
            if body["name"] in STATE["groups"][otype]:
                raise Err(409, "Group named '%s' already exists." % body["name"], "CONFLICT")
            STATE["groups"][otype].add(body["name"])
            return 201, {"name": body["name"], "label": body["label"], "displayOrder": -1, "archived": False}
        if len(parts) == 4 and method == "POST":
            return create_property(otype, body if isinstance(body, dict) else {})
        if len(parts) == 5 and method == "GET":
            d = STATE["props"][otype].get(parts[4])
            if not d:
                raise Err(404, "Unable to find property %s on object type %s" % (parts[4], otype), "OBJECT_NOT_FOUND")
            return 200, d
    if parts[:3] == ["crm", "v4", "objects"] and len(parts) == 8 and parts[5] == "associations" and method == "PUT":
        frm, fid, to, tid = parts[3], parts[4], parts[6], parts[7]
        want = ASSOC.get((frm, to))
        if want is None:
            raise Err(400, "Association from %s to %s is not supported" % (frm, to), "VALIDATION_ERROR")
        if not isinstance(body, list) or not body:
            raise validation("a list of association types is required", "INVALID_INPUT", None)
        for a in body:
            if a.get("associationCategory") != "HUBSPOT_DEFINED" or a.get("associationTypeId") != want:
                raise Err(400, "associationTypeId %s is not valid from %s to %s (HUBSPOT_DEFINED %d)"
                          % (a.get("associationTypeId"), frm, to, want), "VALIDATION_ERROR", "INVALID_ASSOCIATION",
                          "associationTypeId")
        for t, i in ((frm, fid), (to, tid)):
            r = STATE["objects"].get(t, {}).get(i)
            if not r or r["archived"]:
                raise Err(404, "No %s with id %s exists" % (t, i), "OBJECT_NOT_FOUND")
        STATE["assoc"].add((frm, fid, to, tid, want))
        return 200, {"fromObjectTypeId": TYPE_IDS[frm], "fromObjectId": int(fid), "toObjectTypeId": TYPE_IDS[to],
                     "toObjectId": int(tid), "labels": []}
    if parts[:3] == ["crm", "v4", "objects"] and len(parts) == 7 and parts[5] == "associations" and method == "GET":
        frm, fid, to = parts[3], parts[4], parts[6]
        if frm not in TYPES or to not in TYPES:
            raise Err(400, "Unable to infer object type", "VALIDATION_ERROR")
        res = {}
        for a in STATE["assoc"]:
            if a[0] == frm and a[1] == fid and a[2] == to:
                res.setdefault(a[3], []).append(a[4])
            if a[2] == frm and a[3] == fid and a[0] == to:
                res.setdefault(a[1], []).append(a[4])
        res = [{"toObjectId": int(k), "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": t,
                                                             "label": None} for t in v]}
               for k, v in sorted(res.items()) if not STATE["objects"][to].get(k, {"archived": True})["archived"]]
        return 200, {"results": res}
    if parts[:3] == ["crm", "v3", "owners"] and method == "GET":
        if len(parts) == 4:
            o = STATE["owners"].get(parts[3])
            if not o or o["archived"]:
                raise Err(404, "Owner with id %s not found" % parts[3], "OBJECT_NOT_FOUND")
            return 200, o
        email = query.get("email", [None])[0]
        res = [o for o in STATE["owners"].values() if not o["archived"] and (email is None or o["email"] == email.lower())]
        return 200, {"results": res}
    if path == "/communication-preferences/v3/unsubscribe" and method == "POST":
        if not body.get("emailAddress") or not body.get("subscriptionId"):
            raise validation("emailAddress and subscriptionId are required", "REQUIRED_FIELD", "emailAddress")
        k = (body["emailAddress"].lower(), str(body["subscriptionId"]))
        if k in STATE["unsub"]:
            raise Err(400, "%s is already unsubscribed from subscription %s" % k, "VALIDATION_ERROR")
        STATE["unsub"].add(k)
        return 200, {"recipient": k[0], "subscriptionId": k[1], "status": "NOT_SUBSCRIBED"}
    raise Err(404, "no route for %s %s" % (method, path), "OBJECT_NOT_FOUND")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("hubspot: " + fmt % a + "\n")

    def send(self, status, doc, headers=None):
        body = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if doc is not None:
            self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self, method):
        u = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if u.path == "/__dump" and method == "GET":
            with LOCK:
                objs = {t: [r for r in sorted(v.values(), key=lambda r: int(r["id"])) if not r["archived"]]
                        for t, v in STATE["objects"].items()}
                doc = {"objects": objs, "associations": [list(a) for a in sorted(STATE["assoc"])],
                       "properties": {t: sorted(k for k, d in v.items() if d.get("custom")) for t, v in STATE["props"].items()},
                       "unsubscribed": sorted(list(x) for x in STATE["unsub"]), "log": STATE["log"]}
            return self.send(200, doc)
        if u.path == "/__count" and method == "GET":
            sub = urllib.parse.parse_qs(u.query).get("path", [""])[0]
            with LOCK:
                n = sum(1 for e in STATE["log"] if sub in e["path"] and e.get("status"))
            return self.send(200, n)
        if u.path == "/__control" and method == "POST":
            c = json.loads(raw or b"{}")
            with LOCK:
                STATE["fail"].extend(dict(f, count=f.get("count", 1)) for f in c.get("fail", []))
                if "slow" in c:
                    STATE["slow"] = dict(c["slow"], count=c["slow"].get("count", 1))
                if c.get("expire_token"):
                    STATE["tokens"] = {t: False for t in STATE["tokens"]}
                if c.get("archive_owner"):
                    STATE["owners"][c["archive_owner"]]["archived"] = True
                if c.get("reject_option"):
                    r = c["reject_option"]
                    STATE["rejected"].add((r["type"], r["property"], r["value"]))
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
                if u.path == "/oauth/v1/token" and method == "POST":
                    f = urllib.parse.parse_qs(raw.decode())
                    g = lambda k: f.get(k, [None])[0]
                    if g("grant_type") != "refresh_token" or not g("client_id") or not g("client_secret"):
                        raise Err(400, "grant_type, client_id and client_secret are required", "BAD_REQUEST")
                    if g("client_id") != ARGS.client_id or g("client_secret") != ARGS.client_secret:
                        doc = {"status": "BAD_CLIENT_ID", "message": "missing or invalid client id"}
                        raise Err(400, doc["message"], "BAD_CLIENT_ID")
                    if not STATE["refresh"] or g("refresh_token") != STATE["refresh"]:
                        raise Err(400, "missing or unknown refresh token", "BAD_REFRESH_TOKEN")
                    tok = "hs-at-" + uuid.uuid4().hex
                    STATE["tokens"][tok] = True
                    status, doc = 200, {"token_type": "bearer", "refresh_token": STATE["refresh"],
                                        "access_token": tok, "expires_in": 1800}
                else:
                    auth = self.headers.get("Authorization", "")
                    tok = auth[7:] if auth.startswith("Bearer ") else None
                    if tok not in STATE["tokens"]:
                        raise Err(401, "Authentication credentials not found. This API supports OAuth 2.0 "
                                  "authentication and you can find more details at https://developers.hubspot.com/"
                                  "docs/methods/auth/oauth-overview", "INVALID_AUTHENTICATION")
                    if not STATE["tokens"][tok]:
                        raise Err(401, "The OAuth token used to make this call expired 1 second(s) ago.",
                                  "EXPIRED_AUTHENTICATION")
                    for f in STATE["fail"]:
                        if f["count"] > 0 and f.get("path", "") in u.path:
                            f["count"] -= 1
                            s = f["status"]
                            if s == 429:
                                raise Err(429, "You have reached your ten_secondly_rolling limit.", "RATE_LIMITS",
                                          extra={"errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING",
                                                 "groupName": "publicapi:private-app-api-calls-ten-secondly"},
                                          headers={"Retry-After": "1"})
                            if s == 409:
                                raise Err(409, "Conflict: the record was changed by another request. Existing ID: 42",
                                          "CONFLICT", "CONFLICT", f.get("property"))
                            if s == 400:
                                raise validation("Property values were not valid", "INVALID_PROPERTY_VALUE",
                                                 f.get("property"))
                            raise Err(s, "internal error", "INTERNAL_ERROR")
                    body = json.loads(raw) if raw else {}
                    status, doc = route(method, u.path, urllib.parse.parse_qs(u.query), body)
                    sl = STATE["slow"]
                    if sl and sl["count"] > 0 and sl.get("path", "") in u.path:
                        sl["count"] -= 1
                        delay = sl.get("ms", 3000) / 1000.0
            except Err as e:
                status, doc, headers = e.status, e.doc, e.headers
            except (ValueError, AttributeError, TypeError) as e:
                status, doc = 400, Err(400, "Invalid input JSON: %s" % e, "VALIDATION_ERROR").doc
            entry["status"] = status
        if delay:
            time.sleep(delay)
        self.send(status, doc, headers)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")


def main():
    global ARGS, STATE
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--token", default="hs-token-ok")
    ap.add_argument("--refresh-token")
    ap.add_argument("--client-id", default="client-1")
    ap.add_argument("--client-secret", default="secret-1")
    ARGS = ap.parse_args()
    STATE = fresh_state()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, ARGS.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
