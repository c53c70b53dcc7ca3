#!/usr/bin/env python3
"""Builds the domain language model data/asr/sales.lm (ARPA, trigram) from
data/asr/sales-corpus.txt and data/asr/sales-slots.txt.

Smoothing: interpolated modified-free Kneser-Ney (one absolute discount per order, estimated
from the count-of-counts as D = n1 / (n1 + 2 n2)), written in ARPA backoff form: each stored
n-gram carries its interpolated probability and each history the interpolation weight
gamma(h) = D * N1+(h .) / c(h), so that p(w|h) = gamma(h) * p(w|h') for unseen n-grams and the
distribution sums to one. Lower orders use continuation counts (number of distinct left
contexts), except n-grams that start with <s>, which use raw counts. Unigrams are interpolated
with the uniform distribution over the vocabulary.

Every word must be in the pronunciation dictionary (cmudict-en-us.dict); the build fails and
lists the unknown words otherwise, so the model never holds words the decoder cannot say.

usage: scripts/build-lm.py [--corpus F] [--slots F] [--dict F] [--out F] [--check]
  --check  verifies that the committed model is what the corpus builds (exit 1 if not)
"""
import argparse
import collections
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ORDER = 3
EXPANSIONS = 4  # expansions per slotted corpus line


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if line:
                yield n, line


def load_slots(path):
    slots = collections.OrderedDict()
    for n, line in read_lines(path):
        name, _, value = line.partition(" ")
        if not value.strip():
            sys.exit(f"{path}:{n}: slot {name} has no value")
        slots.setdefault(name, []).append(value.strip())
    return slots


def expand(corpus_path, slots):
    """Yields token lists; slotted lines are expanded EXPANSIONS times, cycling values with a
    per-slot offset so that different lines get different values (deterministic)."""
    counter = collections.Counter()
    for n, line in read_lines(corpus_path):
        if "{" not in line:
            yield n, line.split()
            continue
        for k in range(EXPANSIONS):
            out = []
            for tok in line.split():
                if tok.startswith("{") and tok.endswith("}"):
                    name = tok[1:-1]
                    if name not in slots:
                        sys.exit(f"{corpus_path}:{n}: unknown slot {tok}")
                    vals = slots[name]
                    out.extend(vals[(counter[name] + k) % len(vals)].split())
                else:
                    out.append(tok)
            yield n, out
        for tok in line.split():
            if tok.startswith("{"):
                counter[tok[1:-1]] += 1


def load_dict_words(path):
    words = set()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            w = line.split(" ", 1)[0]
            if "(" in w:
                w = w[: w.index("(")]
            words.add(w)
    return words


def discount(counts):
    coc = collections.Counter(counts.values())
    n1, n2 = coc.get(1, 0), coc.get(2, 0)
    d = n1 / (n1 + 2 * n2) if n1 + 2 * n2 > 0 else 0.5
    return min(max(d, 0.1), 0.9)


def build(sentences, extra_words=()):
    raw = [collections.Counter() for _ in range(ORDER + 1)]
    for toks in sentences:
        s = ["<s>"] + toks + ["</s>"]
        for n in range(1, ORDER + 1):
            for i in range(len(s) - n + 1):
                raw[n][tuple(s[i:i + n])] += 1
    # Lexicon words the corpus does not use still get the unigram floor (count 0).
    for w in extra_words:
        raw[1].setdefault((w,), 0)
    # Counts used at each order: raw for the top order and for <s>-initial n-grams, else
    # continuation counts N1+(. g).
    cont = [collections.Counter() for _ in range(ORDER + 1)]
    for n in range(2, ORDER + 1):
        for g in raw[n]:
            cont[n - 1][g[1:]] += 1
    used = [None] + [collections.Counter() for _ in range(ORDER)]
    for n in range(1, ORDER + 1):
        for g, c in raw[n].items():
            if n == ORDER or g[0] == "<s>":
                used[n][g] = c
            else:
                used[n][g] = cont[n][g]
    vocab = sorted({g[0] for g in raw[1]} | {"<s>"})
    disc = [None] + [discount(used[n]) for n in range(1, ORDER + 1)]
    prob = [None] + [dict() for _ in range(ORDER)]
    bow = [None] + [dict() for _ in range(ORDER)]
    # history totals and fan-out per order
    for n in range(1, ORDER + 1):
        tot = collections.Counter()
        fan = collections.Counter()
        for g, c in used[n].items():
            if n == 1 and g == ("<s>",):
                continue
            tot[g[:-1]] += c
            fan[g[:-1]] += 1 if c > 0 else 0
        d = disc[n]
        for g, c in used[n].items():
            h = g[:-1]
            if n == 1:
                if g == ("<s>",):
                    continue
                gamma = d * fan[h] / tot[h]
                prob[1][g] = max(c - d, 0) / tot[h] + gamma / (len(vocab) - 1)
            else:
                gamma = d * fan[h] / tot[h]
                prob[n][g] = max(c - d, 0) / tot[h] + gamma * prob[n - 1][g[1:]]
        if n > 1:
            for h in tot:
                bow[n - 1][h] = d * fan[h] / tot[h]
    return vocab, prob, bow


def write_arpa(vocab, prob, bow, nsent):
    lines = []
    counts = [len(vocab)] + [len(prob[n]) for n in range(2, ORDER + 1)]
    lines.append(f"# sdra sales-conversation trigram model: {nsent} sentences, interpolated "
                 "Kneser-Ney, built by scripts/build-lm.py")
    lines.append("")
    lines.append("\\data\\")
    for n, c in enumerate(counts, 1):
        lines.append(f"ngram {n}={c}")
    for n in range(1, ORDER + 1):
        lines.append("")
        lines.append(f"\\{n}-grams:")
        entries = sorted(prob[n].items()) if n > 1 else [((w,), prob[1].get((w,))) for w in vocab]
        for g, p in entries:
            lp = -99.0 if p is None else math.log10(p)
            line = f"{lp:.6f}\t{' '.join(g)}"
            if n < ORDER and g != ("</s>",):
                b = bow[n].get(g)
                if b is not None:
                    line += f"\t{math.log10(b):.6f}"
            lines.append(line)
    lines.append("")
    lines.append("\\end\\")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=os.path.join(ROOT, "data/asr/sales-corpus.txt"))
    ap.add_argument("--slots", default=os.path.join(ROOT, "data/asr/sales-slots.txt"))
    ap.add_argument("--dict", default="/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict")
    ap.add_argument("--lexicon", default=os.path.join(ROOT, "data/asr/sales.dict"),
                    help="extra pronunciations (vocabulary format) shipped with the model")
    ap.add_argument("--out", default=os.path.join(ROOT, "data/asr/sales.lm"))
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    slots = load_slots(a.slots)
    words = load_dict_words(a.dict)
    lexicon = []
    if os.path.exists(a.lexicon):
        lexicon = [line.split()[0] for _, line in read_lines(a.lexicon)]
        words |= set(lexicon)
    sentences, unknown = [], collections.defaultdict(list)
    for n, toks in expand(a.corpus, slots):
        for t in toks:
            if t not in words:
                unknown[t].append(n)
        sentences.append(toks)
    if unknown:
        for w, ns in sorted(unknown.items()):
            print(f"{a.corpus}:{ns[0]}: '{w}' is not in {a.dict}", file=sys.stderr)
        sys.exit(1)
    vocab, prob, bow = build(sentences, lexicon)
    text = write_arpa(vocab, prob, bow, len(sentences))
    if a.check:
        with open(a.out, encoding="utf-8") as f:
            if f.read() != text:
                sys.exit(f"{a.out} is not what {a.corpus} builds: run scripts/build-lm.py")
        print(f"{a.out}: up to date")
        return
    tmp = a.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, a.out)
    print(f"{a.out}: {len(sentences)} sentences, {len(vocab)} words, "
          f"{sum(len(p) for p in prob[1:])} n-grams")


if __name__ == "__main__":
    main()
