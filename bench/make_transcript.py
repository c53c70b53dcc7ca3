#!/usr/bin/env python3
"""bench/make_transcript.py - writes an sdra.transcript/1 document of about N bytes.

Repeats the labelled dialogues of tests/analysis (speaker names replaced by S1 = rep and S2 =
prospect) with word timings at 150 words per minute and a confidence per word, until the JSON
reaches the target size. Used by bench/analyze_memory.sh.

usage: make_transcript.py ANALYSIS_DIR OUT.json TARGET_BYTES
"""
import json, os, re, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dialogues  # noqa: E402 (bench/dialogues.py)

d, out, target = sys.argv[1], sys.argv[2], int(sys.argv[3])
turns = []
for who, text in dialogues.turns(d, "S1", "S2"):
    words = re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()
    if words:
        turns.append((who, words))

# Each utterance is written as it is made, so the generator itself stays small.
t, k, size = 0.0, 0, 0
with open(out, "w") as f:
    head = '{"schema": "sdra.transcript/1", "duration": %s, "speakers": [{"id": "S1", "role": "rep", "channel": 0}, {"id": "S2", "role": "prospect", "channel": 1}], "utterances": [\n'
    # the duration is not known yet: reserve room and patch it at the end
    pos_dur = len('{"schema": "sdra.transcript/1", "duration": ')
    f.write(head % ("%-16s" % "0"))
    size = f.tell()
    while size < target:
        who, words = turns[k % len(turns)]
        ws, start = [], t
        for w in words:
            ws.append({"w": w, "start": round(t, 3), "end": round(t + 0.35, 3), "conf": 0.9})
            t += 0.4
        u = {"speaker": who, "start": round(start, 3), "end": round(t - 0.05, 3),
             "text": " ".join(words), "words": ws}
        f.write((",\n" if k else "") + json.dumps(u, separators=(",", ":")))
        t += 0.5
        k += 1
        size = f.tell()
    f.write('\n], "meta": {"engine": "bench"}}\n')
    f.seek(pos_dur)
    f.write("%-16s" % ("%.3f" % t))
print("bench: transcript %d utterances, %d bytes, %.0f s" % (k, os.path.getsize(out), t))
