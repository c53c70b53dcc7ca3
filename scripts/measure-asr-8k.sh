#!/usr/bin/env bash
# Measures telephone-band recognition (docs/asr.md, "Telephone-band recognition"): for every
# evaluation recording with a reference transcript and the generated calls, WER at 16 kHz,
# WER of the same audio through a simulated telephone channel (300-3400 Hz, 8 kHz, G.711
# mu-law) with the wideband model (as before the narrowband model existed) and with the model
# chosen automatically (the narrowband one), and the ratio 8 kHz after / 16 kHz.
#
# Usage: scripts/measure-asr-8k.sh [BUILD_DIR]
#
# Three runs of scripts/measure-asr.sh (without the raw engine), joined by set. LibriVox is
# part of the narrowband model's training data (scripts/build-narrowband-am.py), so its row is
# marked; the evaluation recordings and the generated calls were never trained on.
set -euo pipefail

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$src/build}"
case "$build" in -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
[ -d "$build/data/asr/en-us-8k" ] || [ -n "${SDRA_NARROWBAND_AM:-}" ] ||
  { echo "measure-asr-8k: $build/data/asr/en-us-8k missing (build the project)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

m="$src/scripts/measure-asr.sh"
bash "$m" "$build" --no-raw > "$tmp/16k.txt"
bash "$m" "$build" --no-raw --telephone -- --acoustic-model wideband > "$tmp/8k-wide.txt"
bash "$m" "$build" --no-raw --telephone > "$tmp/8k-auto.txt"

python3 - "$tmp/16k.txt" "$tmp/8k-wide.txt" "$tmp/8k-auto.txt" <<'PY'
import re, sys

def rows(path):
    out = {}
    for line in open(path):
        m = re.match(r"(.*?)\s+(\d+) words\s+sdra\s+([\d.]+) %", line)
        if m:
            out[m.group(1).strip()] = (int(m.group(2)), float(m.group(3)))
    return out

a, b, c = (rows(p) for p in sys.argv[1:4])
print("| set | words | 16 kHz | 8 kHz, wideband (before) | 8 kHz, narrowband (after) | after / 16 kHz |")
print("|---|---|---|---|---|---|")
for name, (n, w16) in a.items():
    if name not in b or name not in c:
        continue
    w8b, w8a = b[name][1], c[name][1]
    ratio = "%.2f" % (w8a / w16) if w16 > 0 else "-"
    mark = " (trained on)" if name.startswith("librivox") else ""
    print("| %s%s | %d | %.1f %% | %.1f %% | %.1f %% | %s |" % (name, mark, n, w16, w8b, w8a, ratio))
PY
