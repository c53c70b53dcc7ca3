#!/usr/bin/env python3
"""openai_whisper.py - a test server for POST /v1/audio/transcriptions, as the public OpenAI
API reference describes it, that answers with REAL recognition: it runs the project's own
embedded recognizer (`sdra transcribe FILE --format json --asr pocketsphinx --speakers 1`) on
the audio it receives and converts the result to verbose_json. Python standard library only;
listens on 127.0.0.1 only.

The request (multipart/form-data): file (required), model (required), language, prompt,
response_format (json|text|srt|verbose_json|vtt; default json), temperature,
timestamp_granularities[] (word, segment; needs verbose_json), stream (not supported:
400). Errors are {"error": {"message", "type", "param", "code"}}: 400 for a bad request,
401 for a missing or wrong bearer when --key is given, 404 for another path, 413 for a file
over --max-file-bytes. The prompt is passed to the recognizer as --hints, the way Whisper
takes it as context.

Misbehaviour, for every request (--mode M, repeatable) or for the next requests one each
(POST /control {"modes": ["429", "500", ...]}; {"reset": true} clears the queue and the log):
  429         429 with Retry-After: 1 (rate limit)
  500         500 server_error
  503         503 with Retry-After: 1 (model loading)
  400         400 invalid_request_error (a request the server refuses: never worth a retry)
  slow        waits --slow-ms (default 3000) before answering
  malformed   200 with a body that is not JSON
  truncated   200 whose body stops halfway (Content-Length promises more; then close)
  oversize    200 with a valid verbose_json of about 6 MiB
  hallucinate adds "Thank you for watching." on the chunk's longest silence, with Whisper's
              no_speech_prob 0.9 / avg_logprob -1.2 (what real Whisper writes on silence)
  repeat      a repetition loop: the longest segment ends with its last two words ten more
              times (compression_ratio computed on the text, as Whisper does)
  nowords     no "words" even when word timestamps are asked (segments only)
  outoforder  request 0 is answered only after request 1 has been, 2 after 3, and so on (each
              waits at most 30 s, outside --concurrency): replies come back in another order
              than the requests went out, however slowly the machine recognises
Also --latency-ms N (every reply waits N ms more: a remote GPU), --concurrency N (at most N
requests recognised at once, the others wait: a server with one GPU), --cache-dir DIR (the
recognition of the same audio and prompt is kept, shared between servers: benchmarks).

GET /stats gives {"requests": N, "log": [...]}: per request when it came and was answered
(t, t_done), its path, the form fields (not
the file), file size and name, whether a bearer was sent and right ("none", "ok", "bad"; the
key itself is never recorded), the mode and the status.

usage: openai_whisper.py --sdra PATH --port-file FILE [--key K] [--mode M]... [options]
"""
import argparse
import hashlib
import http.server
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import wave
import zlib

ARGS = None
LOCK = threading.Lock()
STATE = {"queue": [], "log": [], "seq": 0}
ANSWERED = threading.Condition(LOCK)  # notified whenever a request's reply has been written
DONE = set()  # the seq of every request answered since the last reset
SEM = None


def error_doc(message, typ="invalid_request_error", param=None, code=None):
    return {"error": {"message": message, "type": typ, "param": param, "code": code}}


def parse_multipart(body, ctype):
    """Returns {name: [value bytes...]} and {name: (filename, content_type)} for file parts."""
    bnd = None
    for piece in ctype.split(";")[1:]:
        k, _, v = piece.strip().partition("=")
        if k.lower() == "boundary":
            bnd = v.strip('"')
    if not bnd:
        raise ValueError("multipart/form-data without a boundary")
    fields, files = {}, {}
    delim = b"--" + bnd.encode()
    for part in body.split(delim)[1:]:
        if part.startswith(b"--"):
            break
        part = part[2:] if part.startswith(b"\r\n") else part
        head, sep, data = part.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("a multipart part without headers")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        name, filename, pctype = None, None, None
        for line in head.decode("utf-8", "replace").split("\r\n"):
            k, _, v = line.partition(":")
            if k.lower() == "content-disposition":
                for item in v.split(";"):
                    ik, _, iv = item.strip().partition("=")
                    if ik == "name":
                        name = iv.strip('"')
                    elif ik == "filename":
                        filename = iv.strip('"')
            elif k.lower() == "content-type":
                pctype = v.strip()
        if name is None:
            raise ValueError("a multipart part without a name")
        fields.setdefault(name, []).append(data)
        if filename is not None:
            files[name] = (filename, pctype)
    return fields, files


def recognise(audio, filename, prompt):
    """Runs the embedded recognizer on the audio; returns sdra.transcript/1 as a dict."""
    key = hashlib.sha256(audio + b"\0" + prompt.encode()).hexdigest()
    if ARGS.cache_dir:
        path = os.path.join(ARGS.cache_dir, key + ".json")
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            pass
    suffix = os.path.splitext(filename or "")[1] or ".wav"
    if not suffix[1:].isalnum():
        suffix = ".wav"
    with tempfile.TemporaryDirectory(prefix="whisper-test-") as d:
        src = os.path.join(d, "in" + suffix)
        with open(src, "wb") as f:
            f.write(audio)
        cmd = [ARGS.sdra, "transcribe", src, "--format", "json", "--asr", "pocketsphinx",
               "--speakers", "1", "--jobs", "1", "-q"]
        if prompt.strip():
            cmd += ["--hints", prompt[:500]]
        r = subprocess.run(cmd, capture_output=True, timeout=600)
        if r.returncode != 0:
            raise ValueError("could not decode the audio file: " +
                             r.stderr.decode("utf-8", "replace").strip()[:200])
        doc = json.loads(r.stdout)
    if ARGS.cache_dir:
        tmp = os.path.join(ARGS.cache_dir, ".%s.%d" % (key, threading.get_ident()))
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, os.path.join(ARGS.cache_dir, key + ".json"))
    return doc


def compression_ratio(text):
    b = text.encode()
    return len(b) / len(zlib.compress(b)) if b else 0.0


def make_segment(i, start, end, words, avg_logprob, no_speech):
    text = " " + " ".join(w["word"] for w in words)
    return {"id": i, "seek": 0, "start": round(start, 3), "end": round(end, 3), "text": text,
            "tokens": [50364 + (zlib.crc32(w["word"].encode()) % 1000) for w in words],
            "temperature": 0.0, "avg_logprob": round(avg_logprob, 4),
            "compression_ratio": round(compression_ratio(text), 4),
            "no_speech_prob": no_speech}


def verbose_json(doc, duration, language, modes, want_words):
    segs, words = [], []
    for u in doc.get("utterances", []):
        ws = [{"word": w["w"], "start": w["start"], "end": w["end"]} for w in u["words"]]
        if not ws:
            continue
        lp = sum(math.log(max(w.get("conf", 0.5), 1e-3)) for w in u["words"]) / len(ws)
        segs.append([u["start"], u["end"], ws, max(lp, -0.99), 0.02])
    if "repeat" in modes and segs:
        s = max(segs, key=lambda s: len(s[2]))
        tail = s[2][-2:]
        t, step = s[2][-1]["end"], 0.12
        for _ in range(10):
            for w in tail:
                s[2].append({"word": w["word"], "start": round(t, 3), "end": round(t + step, 3)})
                t += step
        s[1] = max(s[1], t)
    if "hallucinate" in modes:
        edges = [0.0] + [x for s in segs for x in (s[0], s[1])] + [duration]
        gaps = [(edges[i + 1] - edges[i], edges[i]) for i in range(0, len(edges), 2)]
        _, at = max(gaps)
        text = ["thank", "you", "for", "watching"]
        ws = [{"word": w, "start": round(at + 0.1 + 0.2 * k, 3), "end": round(at + 0.3 + 0.2 * k, 3)}
              for k, w in enumerate(text)]
        segs.append([ws[0]["start"], ws[-1]["end"], ws, -1.2, 0.9])
        segs.sort(key=lambda s: s[0])
    out_segs = [make_segment(i, *s) for i, s in enumerate(segs)]
    for s in segs:
        words.extend(s[2])
    res = {"task": "transcribe", "language": language or "english", "duration": round(duration, 3),
           "text": "".join(s["text"] for s in out_segs).strip(), "segments": out_segs}
    if want_words and "nowords" not in modes:
        res["words"] = words
    return res


def wav_duration(audio, doc):
    try:
        import io
        with wave.open(io.BytesIO(audio)) as w:
            return w.getnframes() / float(w.getframerate())
    except (wave.Error, EOFError):
        return float(doc.get("duration") or 0)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "openai-whisper-test/1"

    def log_message(self, fmt, *a):
        if ARGS.verbose:
            sys.stderr.write("whisper-test: " + (fmt % a) + "\n")

    def send_json(self, status, obj, headers=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > ARGS.max_file_bytes + (1 << 20):
            return None
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        if self.path == "/stats":
            with LOCK:
                self.send_json(200, {"requests": len(STATE["log"]), "log": STATE["log"]})
        else:
            self.send_json(404, error_doc("Unknown request URL: GET %s" % self.path, code="unknown_url"))

    def do_POST(self):
        if self.path == "/control":
            try:
                req = json.loads(self.read_body() or b"{}")
            except ValueError:
                return self.send_json(400, error_doc("control: not JSON"))
            with LOCK:
                if req.get("reset"):
                    STATE["queue"].clear()
                    STATE["log"].clear()
                    STATE["seq"] = 0
                    DONE.clear()
                STATE["queue"].extend(req.get("modes", []))
                q = list(STATE["queue"])
            return self.send_json(200, {"queue": q})
        if self.path != "/v1/audio/transcriptions":
            self.read_body()
            return self.send_json(404, error_doc("Unknown request URL: POST %s" % self.path,
                                                 code="unknown_url"))
        with LOCK:
            seq = STATE["seq"]
            STATE["seq"] += 1
            modes = set(ARGS.mode)
            if STATE["queue"]:
                modes.add(STATE["queue"].pop(0))
        rec = {"seq": seq, "t": time.time(), "path": self.path, "modes": sorted(modes)}
        with LOCK:
            STATE["log"].append(rec)  # before the reply: a client may hang up on it
        try:
            rec["status"] = self.transcribe(rec, modes, seq)
            rec["t_done"] = time.time()
        except (BrokenPipeError, ConnectionResetError):
            rec["status"] = "client closed"
            self.close_connection = True
        with ANSWERED:
            DONE.add(seq)
            ANSWERED.notify_all()

    def transcribe(self, rec, modes, seq):
        auth = self.headers.get("Authorization")
        rec["auth"] = "none" if not auth else ("ok" if ARGS.key and auth == "Bearer " + ARGS.key else "bad")
        body = self.read_body()
        if body is None:
            self.close_connection = True
            self.send_json(413, error_doc("Maximum content size limit exceeded."))
            return 413
        if ARGS.key and rec["auth"] != "ok":
            self.send_json(401, error_doc("Incorrect API key provided.", code="invalid_api_key"))
            return 401
        try:
            fields, files = parse_multipart(body, self.headers.get("Content-Type", ""))
        except ValueError as e:
            self.send_json(400, error_doc("Could not parse multipart form: %s" % e))
            return 400
        f1 = lambda k, d=None: fields[k][0].decode("utf-8", "replace") if k in fields else d
        rec["fields"] = {k: [v.decode("utf-8", "replace") for v in vs] for k, vs in fields.items() if k != "file"}
        if "file" in files:
            rec["file"] = {"bytes": len(fields["file"][0]), "filename": files["file"][0],
                           "content_type": files["file"][1]}
        if "file" not in fields or "file" not in files:
            self.send_json(400, error_doc("you must provide a file", param="file"))
            return 400
        if not f1("model"):
            self.send_json(400, error_doc("you must provide a model parameter", param="model"))
            return 400
        fmt = f1("response_format", "json")
        if fmt not in ("json", "text", "srt", "verbose_json", "vtt"):
            self.send_json(400, error_doc("Invalid response_format '%s'" % fmt, param="response_format"))
            return 400
        gran = [v.decode() for v in fields.get("timestamp_granularities[]", [])]
        if any(g not in ("word", "segment") for g in gran):
            self.send_json(400, error_doc("Invalid timestamp_granularities", param="timestamp_granularities"))
            return 400
        if gran and fmt != "verbose_json":
            self.send_json(400, error_doc("timestamp_granularities requires response_format=verbose_json",
                                          param="timestamp_granularities"))
            return 400
        if f1("stream", "false").lower() == "true":
            self.send_json(400, error_doc("Streaming is not supported for this model.", param="stream"))
            return 400
        if len(fields["file"][0]) > ARGS.max_file_bytes:
            self.send_json(413, error_doc("Maximum content size limit exceeded."))
            return 413
        if "400" in modes:
            self.send_json(400, error_doc("Invalid file format.", param="file"))
            return 400
        if "429" in modes:
            self.send_json(429, error_doc("Rate limit reached for requests", "requests",
                                          code="rate_limit_exceeded"), {"Retry-After": "1"})
            return 429
        if "500" in modes:
            self.send_json(500, error_doc("The server had an error while processing your request.",
                                          "server_error"))
            return 500
        if "503" in modes:
            self.send_json(503, error_doc("The model is loading.", "server_error"), {"Retry-After": "1"})
            return 503
        with SEM:
            try:
                doc = recognise(fields["file"][0], files["file"][0], f1("prompt", ""))
            except (ValueError, subprocess.TimeoutExpired) as e:
                self.send_json(400, error_doc(str(e), param="file"))
                return 400
            delay = ARGS.latency_ms / 1000.0
            if "slow" in modes:
                delay += ARGS.slow_ms / 1000.0
            time.sleep(delay)
        if "outoforder" in modes and seq % 2 == 0:
            # not a fixed delay: on a starved machine the next request's recognition can take
            # longer than any margin. Waiting outside SEM lets it be recognised meanwhile.
            with ANSWERED:
                ANSWERED.wait_for(lambda: seq + 1 in DONE, timeout=30.0)
        dur = wav_duration(fields["file"][0], doc)
        res = verbose_json(doc, dur, f1("language"), modes, "word" in gran)
        if fmt == "text":
            data, ctype = (res["text"] + "\n").encode(), "text/plain; charset=utf-8"
        elif fmt == "json":
            data, ctype = json.dumps({"text": res["text"]}).encode(), "application/json"
        elif fmt in ("srt", "vtt"):
            data, ctype = res["text"].encode(), "text/plain; charset=utf-8"
        else:
            if "oversize" in modes:
                res["padding"] = "x" * (6 << 20)
            data, ctype = json.dumps(res).encode(), "application/json"
        if "malformed" in modes:
            data = b'{"task": "transcribe", "text": "hello, segments: [{' + b"\x00 not json"
        rec["status"] = 200
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        if "truncated" in modes:
            self.send_header("Connection", "close")
        self.end_headers()
        if "truncated" in modes:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return 200
        self.wfile.write(data)
        return 200


def main():
    global ARGS, SEM
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sdra", required=True, help="the sdra CLI (its embedded recognizer)")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--key", default=None, help="bearer key to require (none: any or no key)")
    ap.add_argument("--mode", action="append", default=[])
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--slow-ms", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--max-file-bytes", type=int, default=25 << 20)
    ap.add_argument("--verbose", action="store_true")
    ARGS = ap.parse_args()
    SEM = threading.Semaphore(max(1, ARGS.concurrency))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    srv.daemon_threads = True
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(tmp, ARGS.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
