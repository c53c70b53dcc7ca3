"""bench/dialogues.py - the labelled dialogues of tests/analysis as one list of turns, for the
benchmarks that build long transcripts from them (bench/analyze.sh, bench/make_transcript.py).

turns(DIR, REP, PROSPECT): every dialogue in DIR in file-name order, each line "Name: text"
(a leading "[hh:mm:ss]" dropped) as (REP or PROSPECT, text): the rep is the name labels.txt
gives for that call (rep=NAME), or "rep".
"""
import os
import re


def turns(d, rep_label, prospect_label):
    reps = {}
    for line in open(os.path.join(d, "labels.txt")):
        m = re.match(r"call (\S+).*rep=(\S+)", line)
        if m:
            reps[m.group(1)] = m.group(2)
    out = []
    for name in sorted(os.listdir(d)):
        if not name.endswith(".txt") or name == "labels.txt":
            continue
        rep = reps.get(name, "rep")
        for line in open(os.path.join(d, name)):
            line = re.sub(r"^\[[0-9:.]+\]\s*", "", line.strip())
            m = re.match(r"([A-Za-z ]{1,30}):\s+(.*)", line)
            if m:
                who = rep_label if m.group(1).lower() in (rep.lower(), "rep") else prospect_label
                out.append((who, m.group(2)))
    return out
