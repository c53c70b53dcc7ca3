#!/usr/bin/env python3
"""fp_eval.py - how often redaction fires on real text that is (mostly) not personal data.

Usage: fp_eval.py SDRA EVAL_DATA_DIR [--show N]

Reads the shared eval data in place (nothing is copied into the project): DailyDialog's
validation dialogues (dailydialog-validation/dialogues.txt, one dialogue per line) and QMSum's
test meetings (qmsum-test/meetings/*.json, one utterance per line), runs `sdra redact --text`
on each corpus and prints, per corpus, the words, the markers per class, markers per 10,000
words, and the first N redacted lines with the original beside them, for a person to judge
which were real personal data (true positives) and which were not (false positives).
"""
import difflib, glob, json, os, re, subprocess, sys, tempfile

def corpora(root):
    dd = os.path.join(root, "dailydialog-validation", "dialogues.txt")
    lines = [l.replace("__eou__", " ").strip() for l in open(dd, encoding="utf-8")]
    yield "dailydialog-validation", lines
    lines = []
    for f in sorted(glob.glob(os.path.join(root, "qmsum-test", "meetings", "*.json"))):
        for u in json.load(open(f, encoding="utf-8"))["meeting_transcripts"]:
            lines.append(u["content"].replace("\n", " "))
    yield "qmsum-test", lines

def main():
    sdra, root = sys.argv[1], sys.argv[2]
    show = int(sys.argv[sys.argv.index("--show") + 1]) if "--show" in sys.argv else 20
    for name, lines in corpora(root):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "in.txt")
            open(src, "w", encoding="utf-8").write("\n".join(lines) + "\n")
            out = subprocess.run([sdra, "redact", "--text", src, "--quiet"], check=True,
                                 capture_output=True, text=True).stdout.split("\n")
        words = sum(len(l.split()) for l in lines)
        counts, shown = {}, 0
        for orig, red in zip(lines, out):
            marks = re.findall(r"\[REDACTED:(\w+)\]", red)
            for m in marks:
                counts[m] = counts.get(m, 0) + 1
            if not marks or shown >= show:
                continue
            a, b = orig.split(), red.split()
            for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
                if op != "equal" and shown < show:
                    shown += 1
                    ctx = " ".join(a[max(0, i1 - 8):i1])
                    print(f"  {name}: ...{ctx} <<{' '.join(a[i1:i2])}>> -> {' '.join(b[j1:j2])}")
        total = sum(counts.values())
        print(f"{name}: {words} words, {total} redactions ({', '.join(f'{k} {v}' for k, v in sorted(counts.items())) or 'none'}), "
              f"{total * 10000 / max(1, words):.2f} per 10,000 words")

if __name__ == "__main__":
    main()
