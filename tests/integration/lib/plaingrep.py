#!/usr/bin/env python3
"""plaingrep.py - finds a secret in a directory tree in every encoding we can think of.

Usage: plaingrep.py DIR EXCLUDE_NAME SECRET... ; prints one line per hit
("path: secret as encoding") and exits 1 when there is any, 0 when none.
Encodings: as is, lower, upper, title case; UTF-16LE/BE and UTF-32LE of each; base64
(standard and URL-safe) at the three alignments; hex (lower and upper); URL-encoding
(quote and quote_plus); JSON \\u escapes; quoted-printable. (Not a test itself: CTest runs only
tests/integration/*.sh.)
"""
import base64, binascii, json, os, quopri, sys, urllib.parse


def b64_variants(raw):
    out = set()
    for enc in (base64.b64encode, base64.urlsafe_b64encode):
        for k in range(3):
            e = enc(b"\0" * k + raw).rstrip(b"=")
            skip = (0, 2, 3)[k]
            end = ((k + len(raw)) * 8) // 6
            part = e[skip:end]
            if len(part) >= 8:  # shorter runs would match random base64 ciphertext
                out.add(part)
    return out


def variants(secret):
    texts = {secret, secret.lower(), secret.upper(), secret.title()}
    out = {}
    for t in texts:
        raw = t.encode()
        out[raw] = "utf-8 (%s)" % t
        out[t.encode("utf-16-le")] = "utf-16le"
        out[t.encode("utf-16-be")] = "utf-16be"
        out[t.encode("utf-32-le")] = "utf-32le"
        for v in b64_variants(raw):
            out[v] = "base64"
        out[binascii.hexlify(raw)] = "hex"
        out[binascii.hexlify(raw).upper()] = "HEX"
        out[urllib.parse.quote(t, safe="").encode()] = "url-encoded"
        out[urllib.parse.quote_plus(t).encode()] = "url-encoded (+)"
        out["".join("\\u%04x" % ord(ch) for ch in t).encode()] = "json \\u"
        out[json.dumps(t, ensure_ascii=True).strip('"').encode()] = "json"
        out[quopri.encodestring(raw).rstrip(b"=\n")] = "quoted-printable"
        out[quopri.encodestring(raw, quotetabs=True).rstrip(b"=\n")] = "quoted-printable (tabs)"
    return out


def main():
    root, exclude, secrets = sys.argv[1], sys.argv[2], sys.argv[3:]
    needles = {}
    for s in secrets:
        for k, v in variants(s).items():
            if len(k) >= 6:
                needles[k] = (s, v)
    hits = 0
    n_files = 0
    for d, _, files in os.walk(root):
        for f in files:
            if f == exclude:
                continue
            p = os.path.join(d, f)
            try:
                data = open(p, "rb").read()
            except OSError:
                continue
            n_files += 1
            for k, (s, how) in needles.items():
                if k in data:
                    print("%s: %r as %s" % (p, s, how))
                    hits += 1
    print("searched %d files for %d secrets in %d encodings: %d hits" % (n_files, len(secrets), len(needles), hits),
          file=sys.stderr)
    sys.exit(1 if hits else 0)


main()
