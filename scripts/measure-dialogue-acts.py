#!/usr/bin/env python3
"""measure-dialogue-acts.py - requests and commitments found by the analyzer against human
dialogue-act labels (DailyDialog validation, ../shared/eval-data/dailydialog-validation).

Usage: scripts/measure-dialogue-acts.py SDRA DAILYDIALOG_DIR WORKDIR [--show N]

Each dialogue is analyzed as one call (speakers alternate), twice: once with A as the rep and
once with B. Intents are read from a prospect, so each utterance is judged on the run in which
its speaker is the prospect. An utterance counts as found
  - a request when an action item of kind "request", or a request_information /
    request_pricing intent, rests on it;
  - a commitment when an action item of kind "commitment" rests on it (or a request it
    answered was merged into a commitment on it), or an agree_to_meeting intent does.
Targets: act 3 (directive: requests, suggestions, instructions) and act 4 (commissive: promises,
offers, accepting or refusing them). Prints precision, recall and F1 of each for the first and
second half of the dialogues and all of them. --show N prints N misses and N false findings of
each kind from the first half only (the second half stays for measuring). The data is only
read, never copied into the project.
"""
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor


def analyze(sdra, work, d, utts):
    src = os.path.join(work, "d%04d.txt" % d)
    with open(src, "w", encoding="utf-8") as f:
        for k, u in enumerate(utts):
            f.write("%s: %s\n" % ("A" if k % 2 == 0 else "B", u))
    runs = []
    for rep in ("A", "B"):
        out = os.path.join(work, "d%04d.%s.json" % (d, rep))
        r = subprocess.run([sdra, "analyze", src, "--call-date", "2026-01-01", "--rep-name", rep,
                            "-o", out], capture_output=True, text=True)
        if r.returncode != 0:
            return d, None
        runs.append(json.load(open(out, encoding="utf-8")))
    return d, runs


def found(a, n):
    req, com = set(), set()
    for it in a.get("action_items") or []:
        i = it.get("i")
        if i is None:
            continue
        if it.get("kind") == "request":
            req.add(i)
        elif it.get("kind") == "commitment":
            com.add(i)
    for it in a.get("intents") or []:
        name = it.get("intent") or it.get("type") or it.get("name") or ""
        for i in [it.get("i")] + [e.get("i") for e in it.get("evidence") or [] if isinstance(e, dict)]:
            if i is None:
                continue
            if name in ("request_information", "request_pricing"):
                req.add(i)
            elif name == "agree_to_meeting":
                com.add(i)
    return {i for i in req if i < n}, {i for i in com if i < n}


def prf(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def main():
    args = sys.argv[1:]
    show = 0
    if "--show" in args:
        k = args.index("--show")
        show = int(args[k + 1])
        del args[k:k + 2]
    if len(args) != 3:
        sys.exit("usage: measure-dialogue-acts.py SDRA DAILYDIALOG_DIR WORKDIR [--show N]")
    sdra, ddir, work = args
    os.makedirs(work, exist_ok=True)
    dialogues = open(os.path.join(ddir, "dialogues.txt"), encoding="utf-8").read().splitlines()
    acts = open(os.path.join(ddir, "dialogues_act.txt"), encoding="utf-8").read().splitlines()
    items = []
    for d, (line, act) in enumerate(zip(dialogues, acts)):
        utts = [" ".join(u.split()) for u in line.split("__eou__") if u.strip()]
        labels = act.split()
        if len(utts) == len(labels):
            items.append((d, utts, labels))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        results = dict(ex.map(lambda it: analyze(sdra, work, it[0], it[1]), items))
    failed = [d for d, a in results.items() if a is None]
    if failed:
        sys.exit("measure-dialogue-acts: sdra analyze failed on %d dialogues (first %d)"
                 % (len(failed), failed[0]))
    half = len(dialogues) // 2
    counts = {}
    examples = {"request miss": [], "request false": [], "commitment miss": [],
                "commitment false": []}
    for d, utts, labels in items:
        found_a, found_b = found(results[d][0], len(utts)), found(results[d][1], len(utts))
        # utterance i is B's (prospect in run A) when i is odd, A's (prospect in run B) when even
        req = {i for i in found_a[0] if i % 2 == 1} | {i for i in found_b[0] if i % 2 == 0}
        com = {i for i in found_a[1] if i % 2 == 1} | {i for i in found_b[1] if i % 2 == 0}
        part = "first half" if d < half else "second half"
        for i, lab in enumerate(labels):
            for kind, target, got in (("request", "3", req), ("commitment", "4", com)):
                c = counts.setdefault((part, kind), [0, 0, 0])
                t, g = lab == target, i in got
                c[0] += t and g
                c[1] += g and not t
                c[2] += t and not g
                if d < half and t != g:
                    examples["%s %s" % (kind, "miss" if t else "false")].append(
                        "%d/%d [%s] %s" % (d, i, lab, utts[i]))
    print("part          finding      targets  found  precision  recall  F1")
    for part in ("first half", "second half", "all"):
        for kind in ("request", "commitment"):
            if part == "all":
                c = [sum(counts[(p, kind)][j] for p in ("first half", "second half")) for j in range(3)]
            else:
                c = counts[(part, kind)]
            p, r, f = prf(*c)
            print("%-13s %-11s %8d %6d %9.3f %7.3f %5.3f" % (part, kind, c[0] + c[2], c[0] + c[1], p, r, f))
    for name, ex in examples.items():
        for line in ex[:show]:
            print("%s: %s" % (name, line))


if __name__ == "__main__":
    main()
