#!/usr/bin/env python3
"""measure-sentiment.py - correlation of the analyzer's per-utterance sentiment with human
emotion labels (DailyDialog validation, ../shared/eval-data/dailydialog-validation).

Usage: scripts/measure-sentiment.py SDRA DAILYDIALOG_DIR WORKDIR

Polarity target per utterance: +1 happiness, -1 anger/disgust/fear/sadness, 0 no emotion;
surprise is left out (its polarity is not labelled). Prints, for the first and second half
of the dialogues and all of them: Pearson r of score with target, the share of utterances
scored exactly 0, and sign agreement on the emotional utterances. The data is only read,
never copied into the project.
"""
import json
import math
import os
import subprocess
import sys

POL = {"0": 0, "1": -1, "2": -1, "3": -1, "4": 1, "5": -1}


def pearson(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sx = math.sqrt(sum((x - mx) ** 2 for x in xs))
    sy = math.sqrt(sum((y - my) ** 2 for y in ys))
    return sxy / (sx * sy) if sx and sy else float("nan")


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: measure-sentiment.py SDRA DAILYDIALOG_DIR WORKDIR")
    sdra, ddir, work = sys.argv[1:]
    dialogues = open(os.path.join(ddir, "dialogues.txt"), encoding="utf-8").read().splitlines()
    emotions = open(os.path.join(ddir, "dialogues_emotion.txt"), encoding="utf-8").read().splitlines()
    rows = []  # (dialogue index, text, target)
    for d, (line, emo) in enumerate(zip(dialogues, emotions)):
        utts = [u.strip() for u in line.split("__eou__") if u.strip()]
        labels = emo.split()
        if len(utts) != len(labels):
            continue
        for u, e in zip(utts, labels):
            if e in POL:
                rows.append((d, " ".join(u.split()), POL[e]))
    os.makedirs(work, exist_ok=True)
    src = os.path.join(work, "dailydialog.txt")
    with open(src, "w", encoding="utf-8") as f:
        for k, (_, text, _) in enumerate(rows):
            f.write("%s: %s\n" % ("A" if k % 2 == 0 else "B", text))
    out = os.path.join(work, "dailydialog.json")
    subprocess.run([sdra, "analyze", src, "--call-date", "2026-01-01", "--rep-name", "A", "-o", out],
                   check=True)
    scores = [u["score"] for u in json.load(open(out))["sentiment"]["utterances"]]
    if len(scores) != len(rows):
        sys.exit("measure-sentiment: %d scores for %d utterances" % (len(scores), len(rows)))
    half = len(dialogues) // 2
    print("part          utts  pearson_r  zero_share  sign_agree(emotional)")
    for name, keep in (("first half", lambda d: d < half), ("second half", lambda d: d >= half),
                       ("all", lambda d: True)):
        xs = [s for (d, _, _), s in zip(rows, scores) if keep(d)]
        ys = [t for (d, _, t), s in zip(rows, scores) if keep(d)]
        emo = [(s, t) for s, t in zip(xs, ys) if t]
        agree = sum(1 for s, t in emo if s * t > 0) / len(emo) if emo else float("nan")
        zero = sum(1 for s in xs if s == 0) / len(xs)
        print("%-12s %5d  %9.3f  %10.3f  %8.3f (%d)" % (name, len(xs), pearson(xs, ys), zero, agree, len(emo)))


if __name__ == "__main__":
    main()
