#!/usr/bin/env python3
"""measure-ask-nb.py - the issue 12 experiment with a learned component: multinomial naive
Bayes over word uni- and bigrams (the analyzer's own lower-casing), trained on the
email-ask-intent train file plus the project's labelled dialogue utterances, scored on the
email-ask-intent test file (never trained on) alone and combined with the rules (rules OR a
confident classifier). Prints precision / recall / F1 of each.

Usage: scripts/measure-ask-nb.py SDRA EMAIL_ASK_DIR WORKDIR [SRC_DIR]
"""
import json
import math
import os
import re
import subprocess
import sys


def words(s):
    s = s.lower().replace("n't", " not").replace("'ll", " will").replace("'re", " are")
    return re.findall(r"[a-z0-9]+|\?", s)


def feats(s):
    w = words(s)
    return w + ["%s_%s" % (a, b) for a, b in zip(w, w[1:])]


def read_tsv(path):
    rows = []
    for line in open(path, encoding="utf-8", errors="replace"):
        lab, _, text = line.rstrip("\n").partition("\t")
        if lab in ("Yes", "No") and text.strip():
            rows.append((text.strip(), lab == "Yes"))
    return rows


def dialogue_rows(src):
    """labelled dialogue utterances: a request (intent request_* or a prospect request)
    is Yes, other prospect utterances No"""
    rows = []
    for labels in ("tests/analysis/labels.txt", "tests/analysis/heldout/labels.txt",
                   "tests/analysis/heldout2/labels.txt", "tests/analysis/heldout3/labels.txt"):
        path = os.path.join(src, labels)
        base = os.path.dirname(path)
        quotes = {}
        cur = None
        for line in open(path, encoding="utf-8"):
            p = line.split()
            if not p or p[0].startswith("#"):
                continue
            if p[0] == "call":
                cur = os.path.join(base, p[1])
                quotes[cur] = []
            elif p[0] == "intent" and p[1].startswith("request"):
                m = re.search(r'"(.*)"', line)
                if m:
                    quotes[cur].append(m.group(1).lower())
        for f, qs in quotes.items():
            if not f.endswith(".txt"):
                continue
            for line in open(f, encoding="utf-8"):
                m = re.match(r"^(?:\[[0-9:]+\]\s*)?[^:#]{1,30}:\s*(.+)$", line.strip())
                if m:
                    t = m.group(1)
                    rows.append((t, any(q in t.lower() for q in qs)))
    return rows


class NB:
    def __init__(self, rows):
        self.c = {True: {}, False: {}}
        self.n = {True: 0, False: 0}
        self.docs = {True: 0, False: 0}
        for text, y in rows:
            self.docs[y] += 1
            for f in feats(text):
                self.c[y][f] = self.c[y].get(f, 0) + 1
                self.n[y] += 1
        self.v = len(set(self.c[True]) | set(self.c[False]))

    def logodds(self, text):
        s = math.log(self.docs[True] / self.docs[False])
        for f in feats(text):
            s += math.log((self.c[True].get(f, 0) + 1) / (self.n[True] + self.v))
            s -= math.log((self.c[False].get(f, 0) + 1) / (self.n[False] + self.v))
        return s


def prf(pred, gold):
    tp = sum(1 for p, g in zip(pred, gold) if p and g)
    fp = sum(1 for p, g in zip(pred, gold) if p and not g)
    fn = sum(1 for p, g in zip(pred, gold) if g and not p)
    p = tp / (tp + fp) if tp + fp else 0
    r = tp / (tp + fn) if tp + fn else 0
    return p, r, (2 * p * r / (p + r) if p + r else 0)


def rules_predict(sdra, rows, work):
    os.makedirs(work, exist_ok=True)
    src = os.path.join(work, "ask.txt")
    with open(src, "w", encoding="utf-8") as f:
        f.write("Rep: hello\n")
        for text, _ in rows:
            f.write("Prospect: %s\n" % " ".join(text.split()))
    out = os.path.join(work, "ask.json")
    subprocess.run([sdra, "analyze", src, "--call-date", "2026-01-01", "--rep-name", "Rep", "-o", out], check=True)
    d = json.load(open(out))
    hit = set()
    for a in d["action_items"]:
        if a["kind"] == "request" and a["role"] == "prospect":
            hit.add(a["i"] - 1)
    for x in d["intents"]:
        if x["type"] in ("request_information", "request_pricing"):
            hit.add(x["i"] - 1)
    return [k in hit for k in range(len(rows))]


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: measure-ask-nb.py SDRA EMAIL_ASK_DIR WORKDIR [SRC_DIR]")
    sdra, ddir, work = sys.argv[1:4]
    src = sys.argv[4] if len(sys.argv) > 4 else "."
    train = read_tsv(os.path.join(ddir, "Ask0729-fixed.txt")) + dialogue_rows(src)
    test = read_tsv(os.path.join(ddir, "testSet-qualifiedBatch-fixed.txt"))
    nb = NB(train)
    gold = [y for _, y in test]
    rules = rules_predict(sdra, test, work)
    print("email-ask-intent test (n=%d), request detection; trained on train + dialogues (%d rows)" % (len(test), len(train)))
    print("%-28s %9s %7s %7s" % ("", "precision", "recall", "F1"))
    print("%-28s %9.3f %7.3f %7.3f" % (("rules",) + prf(rules, gold)))
    lo = [nb.logodds(t) for t, _ in test]
    for th in (0.0, 2.0, 4.0):
        nbp = [x > th for x in lo]
        print("%-28s %9.3f %7.3f %7.3f" % (("naive Bayes, log-odds > %g" % th,) + prf(nbp, gold)))
        print("%-28s %9.3f %7.3f %7.3f" % (("rules OR NB > %g" % th,) + prf([a or b for a, b in zip(rules, nbp)], gold)))


if __name__ == "__main__":
    main()
