#!/usr/bin/env python3
"""openai_llm.py - a test server for POST /v1/chat/completions, following the public OpenAI API
reference, that answers call analyses the way a model would from the project's labelled
dialogues (tests/analysis/labels.txt format, docs/analysis.md).

Python standard library only; listens on 127.0.0.1 only, on a free port written to --port-file.

The API surface (https://platform.openai.com/docs/api-reference/chat/create):
  - POST /v1/chat/completions with a JSON body; "model" (string) and "messages" (non-empty
    array of {role, content}) are required; errors are 400 with
    {"error": {"message", "type": "invalid_request_error", "param", "code"}};
  - with --api-key, a missing or wrong "Authorization: Bearer" is 401 (code invalid_api_key);
  - "stream": true is refused (400, param "stream"): this server does not stream;
  - the answer: {id, object: "chat.completion", created, model, choices: [{index: 0,
    message: {role: "assistant", content, refusal}, finish_reason}], usage: {prompt_tokens,
    completion_tokens, total_tokens}}.

How it answers (mode "labels", the default): it reads the user message's "[i] ROLE: words"
lines, finds which labelled dialogue they are (the call with the most label quotes present),
and returns that call's objections, action items, pain points and meeting as JSON valid
against data/llm/analysis.schema.json, each quote copied verbatim from the utterance that
holds it, with that utterance's global index. A split call (parts) gets the items of its part.

Misbehaviour, chosen with --mode or POST /control {"mode": M, "count": N, "hallucinate": H,
"delay_s": S} (count: how many requests misbehave before "labels" again; -1 = all):
  429        429 with Retry-After: 1 and a rate_limit_exceeded error
  500        500 server_error
  slow       sleeps delay_s (default 3) before a normal answer
  malformed  200 with a body that is not JSON
  truncated  200 whose body stops before its Content-Length
  refusal    message.content null and message.refusal set
  filter     finish_reason "content_filter", no content
  invalid    content is JSON that breaks the schema (an objection type outside the enum)
  notjson    content is prose, not JSON
  oversized  a 3 MiB answer
  hallucinate (a number, with any mode): adds H items whose quote is not in the cited utterance
             (invented words, another utterance's words, an index past the end), counted in
             GET /stats "injected".
GET /stats: {"requests", "injected", "last_request", "auth_ok"}.
"""
import argparse
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LINE = re.compile(r"^\[(\d+)\] (REP|PROSPECT): (.*)$")
DAY = r"(?:today|tonight|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday|next week|next month|end of (?:the )?(?:day|week|month)|january|february|march|april|may|june|july|august|september|october|november|december|the \d+(?:st|nd|rd|th))"
DUE = re.compile(r"\b(?:by |before |on |until )?(?:the )?(?:end of (?:the |next )?(?:day|week|month)|today|tonight|tomorrow(?: morning| afternoon| evening)?|this (?:morning|afternoon|evening|week)|(?:next |this )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)(?: morning| afternoon| evening)?|next week|next month|in (?:a|one|two|three|four|\d+) (?:days?|weeks?))\b", re.I)
TIMEW = re.compile(r"\b(?:at|noon|morning|afternoon|evening|\d{1,2}(?::\d\d)?\s*(?:am|pm)|o'clock)\b", re.I)
DAYW = re.compile(r"\b" + DAY + r"\b", re.I)
SAID = re.compile(r"\b(?:(?:next|this|the day after) )?" + DAY + r"(?: (?:in the )?(?:morning|afternoon|evening))?"
                  r"(?: at (?:\d{1,2}(?::\d\d)?(?: ?[ap]\.?m\.?)?|[a-z]+(?: thirty| fifteen)?))?", re.I)


def norm_map(text):
    """Normalised text (lower-case alphanumerics, one space for other runs, apostrophes
    dropped) and, per normalised character, its index in text."""
    out, idx, sp = [], [], True
    for i, ch in enumerate(text):
        if ch.isalnum():
            out.append(ch.lower())
            idx.append(i)
            sp = False
        elif ch in "'\u2018\u2019":
            continue
        elif not sp:
            out.append(" ")
            idx.append(i)
            sp = True
    while out and out[-1] == " ":
        out.pop()
        idx.pop()
    return "".join(out), idx


def verbatim(quote, text):
    """The span of text that normalises to quote (on word boundaries), or None."""
    q, _ = norm_map(quote)
    t, idx = norm_map(text)
    if not q:
        return None
    for m in re.finditer(re.escape(q), t):
        b, e = m.start(), m.end()
        if (b == 0 or t[b - 1] == " ") and (e == len(t) or t[e] == " "):
            return text[idx[b]:idx[e - 1] + 1]
    return None


def load_labels(paths):
    calls = []
    for path in paths:
        cur = None
        for raw in open(path, encoding="utf-8"):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            quoted = re.findall(r'"([^"]*)"', line)
            words = line.split()
            kind = words[0]
            if kind == "call":
                cur = {"file": words[1], "items": []}
                calls.append(cur)
                continue
            if cur is None:
                continue
            opts = dict(w.split("=", 1) for w in words[1:] if "=" in w and not w.startswith('"'))
            if kind == "meeting":
                cur["items"].append({"kind": "meeting", "date": words[1], "time": opts.get("time")})
            elif kind in ("objection", "intent") and quoted:
                cur["items"].append({"kind": kind, "label": words[1], "quote": quoted[0]})
            elif kind == "action" and quoted:
                cur["items"].append({"kind": "action", "label": words[1], "quote": quoted[0], "due": opts.get("due")})
            elif kind == "pain" and quoted:
                cur["items"].append({"kind": "pain", "quote": quoted[0]})
    return calls


def sentences(text):
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.mode = args.mode
        self.count = -1
        self.hallucinate = args.hallucinate
        self.delay_s = args.delay_s
        self.requests = 0
        self.injected = 0
        self.last_request = None
        self.auth_ok = None
        self.api_key = args.api_key
        self.calls = load_labels(args.labels)

    def take_mode(self):
        with self.lock:
            self.requests += 1
            mode = self.mode
            if self.count > 0:
                self.count -= 1
                if self.count == 0:
                    self.mode, self.count = "labels", -1
            return mode, self.hallucinate, self.delay_s


def analyse(state, utts):
    """The labelled dialogue's findings for the utterances given ({index: (role, text)})."""
    best, best_n = None, 0
    for call in state.calls:
        n = sum(1 for it in call["items"] if "quote" in it and any(verbatim(it["quote"], t) for _, t in utts.values()))
        if n > best_n:
            best, best_n = call, n
    out = {"objections": [], "action_items": [], "next_meeting": None, "pain_points": [], "summary": ""}
    if not best:
        out["summary"] = "No clear findings in this part of the call."
        return out

    def find(quote):
        for i in sorted(utts):
            v = verbatim(quote, utts[i][1])
            if v:
                return i, v
        return None, None

    agree = None
    for it in best["items"]:
        if "quote" not in it:
            continue
        i, v = find(it["quote"])
        if i is None:
            continue
        if it["kind"] == "objection":
            out["objections"].append({"type": it["label"], "quote": v, "utterance": i})
        elif it["kind"] == "pain":
            out["pain_points"].append({"text": v, "quote": v, "utterance": i})
        elif it["kind"] == "action":
            due = None
            if it.get("due"):
                text = utts[i][1]
                pos = text.lower().find(v.lower())
                ms = list(DUE.finditer(text))
                if ms:
                    due = min(ms, key=lambda m: abs(m.start() - pos)).group(0)
            out["action_items"].append({"owner": it["label"], "text": v, "due_said": due, "quote": v, "utterance": i})
        elif it["kind"] == "intent" and it["label"] == "agree_to_meeting":
            agree = i
    if any(it["kind"] == "meeting" and it["date"] != "none" for it in best["items"]):
        order = [agree - 1, agree - 2, agree, agree + 1] if agree is not None else sorted(utts, reverse=True)
        pick = None
        for want_time in (True, False):
            for i in order:
                if i is None or i not in utts:
                    continue
                for s in sentences(utts[i][1]):
                    if DAYW.search(s) and (TIMEW.search(s) or not want_time):
                        pick = (i, s)
                        break
                if pick:
                    break
            if pick:
                break
        if pick:
            said = max((m.group(0) for m in SAID.finditer(pick[1])), key=len, default=pick[1])
            out["next_meeting"] = {"said": said, "quote": pick[1], "utterance": pick[0]}
    kinds = sorted({o["type"] for o in out["objections"]})
    out["summary"] = ("The prospect raised %s objections. " % ", ".join(kinds) if kinds else "The prospect raised no objections. ") + \
        ("Follow-up steps were agreed." if out["action_items"] else "No follow-up was agreed.")
    return out


def inject(out, utts, n):
    """Adds n items that grounding must drop; returns how many were added."""
    idx = sorted(utts)
    pros = [i for i in idx if utts[i][0] == "PROSPECT"] or idx
    added = 0
    for k in range(n):
        cited = pros[k % len(pros)]
        style = k % 3
        if style == 0:  # invented words
            item = {"type": "price", "quote": "we already signed a three year deal with your competitor", "utterance": cited}
            out["objections"].append(item)
        elif style == 1:  # another utterance's words
            other = next((j for j in idx if j != cited and not verbatim(utts[j][1], utts[cited][1]) and len(utts[j][1]) > 3), None)
            if other is None:
                item = {"text": "an invented pain", "quote": "our warehouse burned down last spring", "utterance": cited}
            else:
                item = {"text": utts[other][1][:200], "quote": utts[other][1][:300], "utterance": cited}
            out["pain_points"].append(item)
        else:  # an utterance that does not exist
            out["action_items"].append({"owner": "rep", "text": "send the signed contract", "due_said": "by Friday",
                                        "quote": "I'll send the signed contract by Friday", "utterance": max(idx) + 1000})
        added += 1
    return added


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "openai-llm-test/1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, message, etype="invalid_request_error", param=None, code=None, headers=()):
        self.send_json(status, {"error": {"message": message, "type": etype, "param": param, "code": code}}, headers)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 64 << 20:
            return None
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        st = self.server.state
        if self.path == "/stats":
            with st.lock:
                self.send_json(200, {"requests": st.requests, "injected": st.injected, "last_request": st.last_request,
                                     "auth_ok": st.auth_ok, "mode": st.mode})
        else:
            self.error(404, "Unknown request URL: GET %s" % self.path, code="unknown_url")

    def do_POST(self):
        st = self.server.state
        raw = self.read_body()
        if raw is None:
            return self.error(413, "request too large")
        if self.path == "/control":
            try:
                c = json.loads(raw or b"{}")
            except ValueError:
                return self.error(400, "control: not JSON")
            with st.lock:
                if "mode" in c:
                    st.mode = c["mode"]
                    st.count = int(c.get("count", -1))
                if "hallucinate" in c:
                    st.hallucinate = int(c["hallucinate"])
                if "delay_s" in c:
                    st.delay_s = float(c["delay_s"])
                if c.get("reset"):
                    st.requests = st.injected = 0
            return self.send_json(200, {"ok": True})
        if self.path != "/v1/chat/completions":
            return self.error(404, "Unknown request URL: POST %s" % self.path, code="unknown_url")
        if st.api_key is not None:
            auth = self.headers.get("Authorization", "")
            ok = auth == "Bearer " + st.api_key
            with st.lock:
                st.auth_ok = ok
            if not ok:
                return self.error(401, "Incorrect API key provided." if auth else "You didn't provide an API key.",
                                  etype="invalid_request_error", code="invalid_api_key")
        try:
            req = json.loads(raw)
        except ValueError:
            return self.error(400, "We could not parse the JSON body of your request.")
        if not isinstance(req, dict):
            return self.error(400, "The request body must be a JSON object.")
        if not isinstance(req.get("model"), str) or not req["model"]:
            return self.error(400, "you must provide a model parameter", param="model", code="missing_required_parameter")
        msgs = req.get("messages")
        if not isinstance(msgs, list) or not msgs or not all(isinstance(m, dict) and "role" in m for m in msgs):
            return self.error(400, "'messages' must be a non-empty array of messages", param="messages")
        if req.get("stream"):
            return self.error(400, "streaming is not supported by this server", param="stream", code="unsupported_value")
        with st.lock:
            st.last_request = req
        mode, halluc, delay = st.take_mode()
        if mode == "429":
            return self.error(429, "Rate limit reached for requests", etype="requests", code="rate_limit_exceeded",
                              headers=[("Retry-After", "1")])
        if mode == "500":
            return self.error(500, "The server had an error while processing your request.", etype="server_error")
        if mode == "slow":
            time.sleep(delay)
        if mode == "malformed":
            body = b'{"id": "chatcmpl-x", "choices": [{"message": '
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        utts = {}
        for m in msgs:
            if m.get("role") == "user" and isinstance(m.get("content"), str):
                for line in m["content"].splitlines():
                    mm = LINE.match(line)
                    if mm:
                        utts[int(mm.group(1))] = (mm.group(2), mm.group(3))
        result = analyse(st, utts)
        if halluc and utts:
            n = inject(result, utts, halluc)
            with st.lock:
                st.injected += n
        content, refusal, finish = json.dumps(result), None, "stop"
        if mode == "refusal":
            content, refusal = None, "I'm sorry, but I can't help with that request."
        elif mode == "filter":
            content, finish = None, "content_filter"
        elif mode == "invalid":
            result["objections"].append({"type": "budget_concerns", "quote": "x", "utterance": 0})
            content = json.dumps(result)
        elif mode == "notjson":
            content = "Sure! Here is the analysis of the call you asked for: the prospect seemed interested."
        elif mode == "oversized":
            content = json.dumps(dict(result, summary="x" * (3 << 20)))
        prompt_chars = sum(len(m.get("content") or "") for m in msgs if isinstance(m.get("content"), str))
        ans = {
            "id": "chatcmpl-test%d" % st.requests,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": req["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": refusal},
                         "logprobs": None, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt_chars // 4, "completion_tokens": len(content or "") // 4,
                      "total_tokens": prompt_chars // 4 + len(content or "") // 4},
        }
        if mode == "truncated":
            body = json.dumps(ans).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.send_json(200, ans)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--labels", action="append", default=[], help="labels file (repeatable)")
    ap.add_argument("--api-key", default=None, help="require this bearer token")
    ap.add_argument("--mode", default="labels")
    ap.add_argument("--hallucinate", type=int, default=0)
    ap.add_argument("--delay-s", type=float, default=3.0)
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.state = State(args)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(tmp, args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
