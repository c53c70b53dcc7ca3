#!/usr/bin/env python3
"""nb-examples.py - writes the labelled sentences the learned classifiers train on when the
analyser loads (src/analyze/nb.c, docs/analysis.md "Learned findings"):

  data/analyze/pain_examples.txt       "1<TAB>sentence" when one of the call's `pain "quote"`
                                       labels lies inside it, else "0<TAB>sentence"
  data/analyze/objection_examples.txt  "TYPE<TAB>sentence" when an `objection TYPE "quote"`
                                       label lies inside it, else "none<TAB>sentence"

Every prospect-side sentence of the labelled .txt dialogues of the sets below, one a line
(matching as `sdra eval analysis` does: case and punctuation ignored; a quote that runs over
two sentences labels each sentence it covers). A new blind set stays out until it has been
scored once, so that it measures the classifiers.

usage: scripts/nb-examples.py [--check] [--exclude SET]... [--out DIR]
  --check    exit 1 when the committed files differ
  --exclude  leave a set out (to measure the classifiers on it: docs/analysis.md)
  --out      write into DIR instead of data/analyze
"""
import os
import re
import sys

SETS = [".", "heldout", "heldout2", "heldout3", "blind", "blind-final", "blind3", "blind4", "blind5", "blind6",
        "blind7", "blind8", "blind9", "blind10"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KINDS = {"pain": "pain_examples.txt", "objection": "objection_examples.txt"}


def norm(s):
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", s.lower().replace("'", "").replace("\u2019", "")).split())


def label_of(sents, i, quotes, none):
    """The label of sentence i of an utterance: that of the first quote inside it, or of a quote
    that runs over it and its neighbours; none otherwise."""
    n = norm(sents[i])
    for q, lab in quotes:
        if q and q in n:
            return lab
    for q, lab in quotes:  # a quote over two or three sentences
        for a in range(max(0, i - 2), i + 1):
            for b in range(i + 1, min(len(sents), a + 3) + 1):
                if b - a >= 2 and q in norm(" ".join(sents[a:b])) and not any(
                        q in norm(" ".join(sents[x:y])) for x in range(a, b) for y in range(x + 1, b + 1) if (x, y) != (a, b)):
                    return lab
    return none


def examples(exclude):
    out = {"pain": [], "objection": []}
    for name in SETS:
        if name in exclude:
            continue
        d = os.path.join(ROOT, "tests", "analysis", name)
        calls, cur = {}, None
        for line in open(os.path.join(d, "labels.txt"), encoding="utf-8"):
            m = re.match(r"call (\S+)(.*)", line)
            if m:
                rep = re.search(r"rep=(\S+)", m.group(2))
                cur = calls.setdefault(m.group(1), {"rep": rep.group(1) if rep else None, "pain": [], "objection": []})
                continue
            m = re.match(r'pain "(.*)"', line.strip())
            if m and cur is not None:
                cur["pain"].append((norm(m.group(1)), "1"))
            m = re.match(r'objection (\w+) "(.*)"', line.strip())
            if m and cur is not None:
                cur["objection"].append((norm(m.group(2)), m.group(1)))
        for f, c in sorted(calls.items()):
            if not f.endswith(".txt") or not c["rep"]:
                continue
            for line in open(os.path.join(d, f), encoding="utf-8"):
                line = line.strip()
                line = re.sub(r"^\[[^\]]*\]\s*", "", line)  # a [00:01:05] timestamp
                if not line or line.startswith("#") or ":" not in line:
                    continue
                who, text = line.split(":", 1)
                if who.strip().lower() == c["rep"].lower():
                    continue
                sents = [" ".join(s.replace("\t", " ").split()) for s in re.split(r"(?<=[.!?])\s+", text.strip())]
                for i, sent in enumerate(sents):
                    if len(norm(sent).split()) < 2:
                        continue
                    out["pain"].append("%s\t%s" % (label_of(sents, i, c["pain"], "0"), sent))
                    out["objection"].append("%s\t%s" % (label_of(sents, i, c["objection"], "none"), sent))
    return out


def main(argv):
    check, exclude, out_dir = False, set(), os.path.join(ROOT, "data", "analyze")
    while argv:
        a = argv.pop(0)
        if a == "--check":
            check = True
        elif a == "--exclude" and argv:
            exclude.add(argv.pop(0))
        elif a == "--out" and argv:
            out_dir = argv.pop(0)
        else:
            print("usage: scripts/nb-examples.py [--check] [--exclude SET]... [--out DIR]", file=sys.stderr)
            return 2
    ex = examples(exclude)
    rc = 0
    for kind, fname in KINDS.items():
        path = os.path.join(out_dir, fname)
        text = "".join(x + "\n" for x in ex[kind])
        if check:
            have = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
            if have != text:
                print("nb-examples: %s is out of date: run scripts/nb-examples.py" % path, file=sys.stderr)
                rc = 1
            continue
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        neg = "0" if kind == "pain" else "none"
        print("nb-examples: %s: %d sentences, %d labelled" % (fname, len(ex[kind]),
                                                             sum(1 for x in ex[kind] if not x.startswith(neg + "\t"))))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
