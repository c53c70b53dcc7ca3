#!/usr/bin/env python3
"""s3_sigv4.py - a small S3-compatible server that checks every request's AWS Signature
Version 4 with its own implementation (hmac, hashlib), Python standard library only, listening
on 127.0.0.1 only. It is the independent check of the signatures libcurl makes for sdra's
object store (src/blob/s3.c); s3rver (tools/s3rver) is the fuller S3 the contract runs on.

Before it listens it checks its signer against AWS's published examples (the get-vanilla case
of the SigV4 test suite, and the GetObject example with a Range header from the S3 API
reference) and exits 1 naming the one that differs.

What it enforces, as S3 does: Authorization "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/s3/
aws4_request, SignedHeaders=..., Signature=..." with the configured key, region and service s3;
host and x-amz-date signed; x-amz-date within 15 minutes of now and on the credential's date;
x-amz-content-sha256 present (UNSIGNED-PAYLOAD or the body's hash, which is checked);
x-amz-security-token equal to --token when one is configured. Failures answer 403 with S3's
XML error (InvalidAccessKeyId, SignatureDoesNotMatch, RequestTimeTooSkewed, AccessDenied,
XAmzContentSHA256Mismatch). The bucket (--bucket) is found in the path or, virtual-host style,
in the Host header; another bucket is 404 NoSuchBucket.

Objects live in memory: PUT, GET (one Range), HEAD, DELETE, ListObjectsV2 (list-type=2,
prefix, max-keys), and multipart uploads (POST ?uploads, PUT ?partNumber&uploadId, POST
?uploadId with the part list, DELETE ?uploadId; parts other than the last must be >= 5 MiB).

Every request is appended as one JSON line to --log: {"method", "path", "query", "status",
"signed_headers", "sig_ok", "vhost"}.

--stall: accept connections and never answer (a timeout test).

usage: s3_sigv4.py --port-file FILE --log FILE [--bucket B] [--region R] [--access-key K]
                   [--secret-key S] [--token T] [--stall]
"""
import argparse
import hashlib
import hmac
import http.server
import json
import re
import sys
import threading
import time
import urllib.parse

MIN_PART = 5 << 20


def sha256_hex(b):
    return hashlib.sha256(b).hexdigest()


def uri_encode(s, slash=True):
    return urllib.parse.quote(s, safe="-_.~" + ("" if slash else "/"))


def canonical_query(q):
    if not q:
        return ""
    pairs = []
    for part in q.split("&"):
        k, _, v = part.partition("=")
        pairs.append((uri_encode(urllib.parse.unquote(k)), uri_encode(urllib.parse.unquote(v))))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def signing_key(secret, date, region, service):
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    k = hmac.new(k, region.encode(), hashlib.sha256).digest()
    k = hmac.new(k, service.encode(), hashlib.sha256).digest()
    return hmac.new(k, b"aws4_request", hashlib.sha256).digest()


def signature(secret, method, path, query, headers, signed, payload_hash, amz_date, region, service):
    """headers: dict of lower-case name -> value. Returns (signature hex, canonical request)."""
    canon_headers = "".join(f"{h}:{' '.join(headers.get(h, '').strip().split())}\n" for h in signed)
    creq = "\n".join([method, path, canonical_query(query), canon_headers, ";".join(signed), payload_hash])
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, sha256_hex(creq.encode())])
    key = signing_key(secret, amz_date[:8], region, service)
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest(), creq


def self_check():
    # aws-sig-v4-test-suite, get-vanilla
    sig, _ = signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "GET", "/", "",
                       {"host": "example.amazonaws.com", "x-amz-date": "20150830T123600Z"},
                       ["host", "x-amz-date"], sha256_hex(b""), "20150830T123600Z", "us-east-1", "service")
    if sig != "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31":
        return "get-vanilla: " + sig
    # S3 API reference, "Example: GET Object" (Range bytes=0-9)
    sig, _ = signature("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "GET", "/test.txt", "",
                       {"host": "examplebucket.s3.amazonaws.com", "range": "bytes=0-9",
                        "x-amz-content-sha256": sha256_hex(b""), "x-amz-date": "20130524T000000Z"},
                       ["host", "range", "x-amz-content-sha256", "x-amz-date"], sha256_hex(b""),
                       "20130524T000000Z", "us-east-1", "s3")
    if sig != "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41":
        return "s3 GET Object example: " + sig
    return None


AUTH_RE = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
                     r"SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--bucket", default="sdra-test")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--access-key", default="AKIDEXAMPLE")
    ap.add_argument("--secret-key", default="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    ap.add_argument("--token")
    ap.add_argument("--stall", action="store_true")
    a = ap.parse_args()
    bad = self_check()
    if bad:
        print(f"s3_sigv4: the signer does not reproduce AWS's published example: {bad}", file=sys.stderr)
        sys.exit(1)
    lock = threading.Lock()
    objects = {}   # key -> bytes
    uploads = {}   # upload id -> {"key", "parts": {n: bytes}}
    counter = [0]

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send(self, status, body=b"", ctype="application/xml", headers=None, head=False):
            self.send_response(status)
            if body or not head:
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if body and not head:
                self.wfile.write(body)

        def error(self, status, code, msg):
            body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>"
                    f"<Message>{msg}</Message></Error>").encode()
            self.send(status, body, head=self.command == "HEAD")
            return status

        def record(self, status, signed, ok, vhost):
            u = urllib.parse.urlsplit(self.path)
            with lock, open(a.log, "a") as f:
                f.write(json.dumps({"method": self.command, "path": u.path, "query": u.query, "status": status,
                                    "signed_headers": signed, "sig_ok": ok, "vhost": vhost}) + "\n")

        def body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = b""
                while True:
                    n = int(self.rfile.readline().strip() or b"0", 16)
                    if n == 0:
                        self.rfile.readline()
                        return out
                    out += self.rfile.read(n)
                    self.rfile.readline()
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def verify(self, data):
            """(status or 0, signed header list)"""
            auth = self.headers.get("Authorization", "")
            m = AUTH_RE.match(auth)
            if not m:
                return self.error(403, "AccessDenied", "missing or malformed AWS4-HMAC-SHA256 Authorization"), []
            akid, date, region, service, signed_s, sig = m.groups()
            signed = signed_s.split(";")
            if akid != a.access_key:
                return self.error(403, "InvalidAccessKeyId",
                                  "The AWS Access Key Id you provided does not exist in our records."), signed
            if region != a.region or service != "s3":
                return self.error(403, "SignatureDoesNotMatch", f"wrong scope {region}/{service}"), signed
            amz_date = self.headers.get("x-amz-date", "")
            if "host" not in signed or "x-amz-date" not in signed or not amz_date.startswith(date):
                return self.error(403, "AccessDenied", "host and x-amz-date must be signed"), signed
            try:
                t = time.mktime(time.strptime(amz_date, "%Y%m%dT%H%M%SZ")) - time.timezone
            except ValueError:
                return self.error(403, "AccessDenied", "bad x-amz-date"), signed
            if abs(t - time.time()) > 900:
                return self.error(403, "RequestTimeTooSkewed", "The difference between the request time and the "
                                  "current time is too large."), signed
            payload = self.headers.get("x-amz-content-sha256")
            if not payload:
                return self.error(400, "InvalidRequest", "Missing required header x-amz-content-sha256"), signed
            if payload != "UNSIGNED-PAYLOAD" and payload != sha256_hex(data):
                return self.error(400, "XAmzContentSHA256Mismatch", "payload hash mismatch"), signed
            if a.token and self.headers.get("x-amz-security-token") != a.token:
                return self.error(403, "InvalidToken", "The provided token is malformed or otherwise invalid."), signed
            hdrs = {k.lower(): v for k, v in self.headers.items()}
            u = urllib.parse.urlsplit(self.path)
            want, _ = signature(a.secret_key, self.command, u.path, u.query, hdrs, signed, payload, amz_date,
                                a.region, "s3")
            if not hmac.compare_digest(want, sig):
                return self.error(403, "SignatureDoesNotMatch", "The request signature we calculated does not "
                                  "match the signature you provided."), signed
            return 0, signed

        def handle_any(self):
            if a.stall:
                time.sleep(3600)
                return
            data = self.body() if self.command in ("PUT", "POST") else b""
            status, signed = self.verify(data)
            host = self.headers.get("Host", "").split(":")[0]
            vhost = host.startswith(a.bucket + ".")
            u = urllib.parse.urlsplit(self.path)
            if not status:
                path = urllib.parse.unquote(u.path)
                if vhost:
                    bucket, key = a.bucket, path[1:]
                else:
                    bucket, _, key = path[1:].partition("/")
                q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
                status = self.serve(bucket, key, q, data)
            self.record(status, signed, status < 400 or status == 404, vhost)

        def serve(self, bucket, key, q, data):
            if bucket != a.bucket:
                return self.error(404, "NoSuchBucket", "The specified bucket does not exist")
            m = self.command
            with lock:
                if not key and m == "GET" and q.get("list-type") == "2":
                    prefix = q.get("prefix", "")
                    keys = sorted(k for k in objects if k.startswith(prefix))[: int(q.get("max-keys", "1000"))]
                    items = "".join(f"<Contents><Key>{k}</Key><Size>{len(objects[k])}</Size></Contents>" for k in keys)
                    body = (f"<ListBucketResult><Name>{bucket}</Name><Prefix>{prefix}</Prefix>"
                            f"<KeyCount>{len(keys)}</KeyCount><IsTruncated>false</IsTruncated>{items}"
                            f"</ListBucketResult>").encode()
                    self.send(200, body)
                    return 200
                if not key:
                    return self.error(405, "MethodNotAllowed", "not supported here")
                if m == "POST" and "uploads" in q:
                    counter[0] += 1
                    uid = f"up{counter[0]}.{int(time.time() * 1000)}"
                    uploads[uid] = {"key": key, "parts": {}}
                    self.send(200, f"<InitiateMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{key}</Key>"
                              f"<UploadId>{uid}</UploadId></InitiateMultipartUploadResult>".encode())
                    return 200
                if "uploadId" in q:
                    up = uploads.get(q["uploadId"])
                    if not up or up["key"] != key:
                        return self.error(404, "NoSuchUpload", "The specified upload does not exist.")
                    if m == "PUT":
                        n = int(q.get("partNumber", "0"))
                        if not 1 <= n <= 10000:
                            return self.error(400, "InvalidArgument", "partNumber")
                        up["parts"][n] = data
                        self.send(200, headers={"ETag": '"' + hashlib.md5(data).hexdigest() + '"'})
                        return 200
                    if m == "DELETE":
                        del uploads[q["uploadId"]]
                        self.send(204)
                        return 204
                    if m == "POST":
                        listed = re.findall(r"<Part><PartNumber>(\d+)</PartNumber><ETag>([^<]*)</ETag></Part>",
                                            data.decode(errors="replace"))
                        nums = [int(n) for n, _ in listed]
                        if not listed or nums != sorted(nums):
                            return self.error(400, "InvalidPartOrder", "parts must be listed in ascending order")
                        out = b""
                        for i, (n, etag) in enumerate(listed):
                            part = up["parts"].get(int(n))
                            if part is None or etag.strip('"') != hashlib.md5(part).hexdigest():
                                return self.error(400, "InvalidPart", f"part {n} was not uploaded or its ETag differs")
                            if i < len(listed) - 1 and len(part) < MIN_PART:
                                return self.error(400, "EntityTooSmall", f"part {n} is smaller than 5 MiB")
                            out += part
                        objects[key] = out
                        del uploads[q["uploadId"]]
                        self.send(200, f"<CompleteMultipartUploadResult><Key>{key}</Key>"
                                  f"</CompleteMultipartUploadResult>".encode())
                        return 200
                if m == "PUT":
                    objects[key] = data
                    self.send(200, headers={"ETag": '"' + hashlib.md5(data).hexdigest() + '"'})
                    return 200
                if m == "DELETE":
                    objects.pop(key, None)
                    self.send(204)
                    return 204
                if m in ("GET", "HEAD"):
                    if key not in objects:
                        return self.error(404, "NoSuchKey", "The specified key does not exist.")
                    obj = objects[key]
                    rng = self.headers.get("Range")
                    if rng and m == "GET":
                        mm = re.match(r"bytes=(\d+)-(\d*)$", rng)
                        first = int(mm.group(1)) if mm else 0
                        if not mm or first >= len(obj):
                            return self.error(416, "InvalidRange", "The requested range is not satisfiable")
                        last = min(int(mm.group(2)) if mm.group(2) else len(obj) - 1, len(obj) - 1)
                        self.send(206, obj[first:last + 1], "application/octet-stream",
                                  {"Content-Range": f"bytes {first}-{last}/{len(obj)}"})
                        return 206
                    if m == "HEAD":
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(obj)))
                        self.end_headers()
                        return 200
                    self.send(200, obj, "application/octet-stream")
                    return 200
            return self.error(405, "MethodNotAllowed", "not supported here")

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
