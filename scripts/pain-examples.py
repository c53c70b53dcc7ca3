#!/usr/bin/env python3
"""pain-examples.py - writes data/analyze/pain_examples.txt, the labelled sentences the pain
classifier learns from when the analyser loads (src/analyze/painnb.c, docs/analysis.md).

Every prospect-side sentence of the labelled .txt dialogues of the sets below, one a line:
"1<TAB>sentence" when one of the call's `pain "quote"` labels lies inside it, else "0<TAB>..."
(matching as `sdra eval analysis` does: case and punctuation ignored). A new blind set stays
out until it has been scored once, so that it measures the classifier.

usage: scripts/pain-examples.py [--check]   (--check: exit 1 when the committed file differs)
"""
import os
import re
import sys

SETS = [".", "heldout", "heldout2", "heldout3", "blind", "blind-final", "blind3", "blind4", "blind5", "blind6"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "data", "analyze", "pain_examples.txt")


def norm(s):
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", s.lower().replace("'", "").replace("\u2019", "")).split())


def examples():
    out = []
    for name in SETS:
        d = os.path.join(ROOT, "tests", "analysis", name)
        calls, cur = {}, None
        for line in open(os.path.join(d, "labels.txt"), encoding="utf-8"):
            m = re.match(r"call (\S+)(.*)", line)
            if m:
                rep = re.search(r"rep=(\S+)", m.group(2))
                cur = calls.setdefault(m.group(1), {"rep": rep.group(1) if rep else None, "pains": []})
                continue
            m = re.match(r'pain "(.*)"', line.strip())
            if m and cur is not None:
                cur["pains"].append(norm(m.group(1)))
        for f, c in sorted(calls.items()):
            if not f.endswith(".txt") or not c["rep"]:
                continue
            for line in open(os.path.join(d, f), encoding="utf-8"):
                line = line.strip()
                line = re.sub(r"^\[[^\]]*\]\s*", "", line)  # a [00:01:05] timestamp
                if not line or line.startswith("#") or ":" not in line:
                    continue
                who, text = line.split(":", 1)
                who = who.strip()
                if who.lower() == c["rep"].lower():
                    continue
                for sent in re.split(r"(?<=[.!?])\s+", text.strip()):
                    sent = " ".join(sent.replace("\t", " ").split())
                    n = norm(sent)
                    if len(n.split()) < 2:
                        continue
                    out.append("%d\t%s" % (any(p and p in n for p in c["pains"]), sent))
    return out


def main():
    text = "".join(x + "\n" for x in examples())
    if "--check" in sys.argv[1:]:
        have = open(OUT, encoding="utf-8").read() if os.path.exists(OUT) else ""
        if have != text:
            print("pain-examples: %s is out of date: run scripts/pain-examples.py" % OUT, file=sys.stderr)
            return 1
        return 0
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
    print("pain-examples: %d sentences, %d with a pain" % (text.count("\n"), sum(1 for x in text.splitlines() if x[0] == "1")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
