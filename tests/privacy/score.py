#!/usr/bin/env python3
"""score.py - precision and recall of `sdra redact --text` on tests/privacy/labelled.txt.

Usage: score.py SDRA [LABELLED] [--min-precision P --min-recall R] [-v]

Each line is redacted on its own. A marked value counts as found (true positive) only when a
marker of its class stands exactly where the whole value stood (the text around it the same),
so a value redacted in part counts as missed; other markers are false positives. Lines without marks must
come out unchanged, else each marker is a false positive. With the --min-* options the exit
status says whether the figures reach them (for CTest).
"""
import os, re, subprocess, sys, tempfile

MARK = re.compile(r"\{(\w+)\|([^}]*)\}")

def main():
    args = sys.argv[1:]
    sdra = args[0]
    path = args[1] if len(args) > 1 and not args[1].startswith("-") else \
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "labelled.txt")
    minp = float(args[args.index("--min-precision") + 1]) if "--min-precision" in args else 0
    minr = float(args[args.index("--min-recall") + 1]) if "--min-recall" in args else 0
    verbose = "-v" in args
    cases = [l.rstrip("\n") for l in open(path, encoding="utf-8") if l.strip() and not l.startswith("#")]
    plain = [MARK.sub(lambda m: m.group(2), c) for c in cases]
    with tempfile.TemporaryDirectory() as tmp:
        outs = []
        for i, text in enumerate(plain):
            f = os.path.join(tmp, "%d.txt" % i)
            open(f, "w", encoding="utf-8").write(text)
            outs.append(subprocess.run([sdra, "redact", "--text", f, "--quiet"], check=True,
                                       capture_output=True, text=True).stdout)
    tp, fp, fn = {}, {}, {}
    for case, text, out in zip(cases, plain, outs):
        want = MARK.findall(case)
        got = re.findall(r"\[REDACTED:(\w+)\]", out)
        avail = {}
        for c in got:
            avail[c] = avail.get(c, 0) + 1
        expected = MARK.sub(lambda m: "[REDACTED:%s]" % m.group(1), case)
        pos = 0
        for cls, value in want:
            # exact: the marker stands where the whole value stood, with the same text around it
            mk = "[REDACTED:%s]" % cls
            at = expected.index(mk, pos)
            pos = at + len(mk)
            left = expected[max(0, at - 20):at]
            right = expected[pos:pos + 20]
            left, right = left.split("[REDACTED:")[-1].split("]")[-1], right.split("[REDACTED:")[0]
            if left + mk + right in out and avail.get(cls, 0) > 0:
                avail[cls] -= 1
                tp[cls] = tp.get(cls, 0) + 1
            else:
                fn[cls] = fn.get(cls, 0) + 1
                if verbose:
                    print("MISS %-11s %s\n     -> %s" % (cls, case, out))
        for cls, k in avail.items():
            if k:
                fp[cls] = fp.get(cls, 0) + k
                if verbose:
                    print("FP   %-11s %s\n     -> %s" % (cls, case, out))
    classes = sorted(set(tp) | set(fp) | set(fn))
    print("%-12s %4s %4s %4s %9s %7s" % ("class", "tp", "fp", "fn", "precision", "recall"))
    for c in classes + ["all"]:
        a = sum(tp.values()) if c == "all" else tp.get(c, 0)
        b = sum(fp.values()) if c == "all" else fp.get(c, 0)
        d = sum(fn.values()) if c == "all" else fn.get(c, 0)
        p = a / (a + b) if a + b else 1.0
        r = a / (a + d) if a + d else 1.0
        print("%-12s %4d %4d %4d %9.3f %7.3f" % (c, a, b, d, p, r))
    print("%d lines, %d with personal data" % (len(cases), sum(1 for c in cases if MARK.search(c))))
    if p < minp or r < minr:
        print("below the minimum (precision %.2f, recall %.2f)" % (minp, minr))
        return 1
    return 0

if __name__ == "__main__":
    sys.exit(main())
