#!/usr/bin/env bash
# Real recorded speech at 8 kHz is recognised with the narrowband acoustic model, and better
# than with the wideband one. The speech is Debian's asterisk-core-sounds-en-wav: a voice
# talent's telephone prompts, recorded for phone systems at 8 kHz (CC-BY-SA-3.0), with their
# text in core-sounds-en.txt. It is the only real human speech the tests decode at 8 kHz; the
# narrowband model never trained on it (scripts/build-narrowband-am.py: synthetic voices and
# LibriVox). Measured figures: docs/asr.md, "Recorded telephone prompts".
# ctest-labels: slow
set -euo pipefail
: "${SDRA:?}" "${SDRA_BUILD:?}"
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup transcribe_real_telephone
snd=/usr/share/asterisk/sounds/en_US_f_Allison
txt=/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz
[ -d "$snd" ] && [ -f "$txt" ] || fail "asterisk-core-sounds-en-wav missing (scripts/install-deps.sh)"
[ -f "$SDRA_BUILD/data/asr/en-us-8k/means" ] || fail "the build made no narrowband model"

# The first 60 prompts of five words or more whose words are all plain (no digits, no * or #),
# as recorded (8 kHz, 16-bit), joined with 0.8 s of silence between them, and their text.
python3 - "$txt" "$snd" "$T" <<'PY'
import gzip, os, re, subprocess, sys
txt, snd, out = sys.argv[1:]
wavs, words = [], []
for line in gzip.open(txt, "rt", encoding="utf-8", errors="replace"):
    if ":" not in line or line.startswith(";"):
        continue
    name, text = line.split(":", 1)
    wav = os.path.join(snd, name.strip() + ".wav")
    toks = [t.strip(".,!?;:\"()'") for t in text.lower().replace("-", " ").split()]
    toks = [t for t in toks if t]
    if (len(toks) < 5 or not os.path.exists(wav) or
            any(not re.fullmatch(r"[a-z']+", t) for t in toks)):
        continue
    wavs.append(wav)
    words += toks
    if len(wavs) == 60:
        break
sil = os.path.join(out, "sil.wav")
subprocess.run(["sox", "-R", "-D", "-n", "-r", "8000", "-c", "1", "-b", "16", sil, "trim", "0", "0.8"], check=True)
subprocess.run(["sox", "-R", "-D"] + [f for w in wavs for f in (w, sil)] + [os.path.join(out, "prompts.wav")], check=True)
open(os.path.join(out, "prompts.txt"), "w").write(" ".join(words) + "\n")
PY
[ "$(wc -w < "$T/prompts.txt")" -ge 500 ] || fail "too few prompts found in $txt"

. "$(dirname "${BASH_SOURCE[0]}")/lib/asr.sh" # wer, meta, below

"$SDRA" transcribe "$T/prompts.wav" -q --jobs 2 --speakers 1 -o "$T/auto.json"
"$SDRA" transcribe "$T/prompts.wav" -q --jobs 2 --speakers 1 --acoustic-model wideband -o "$T/wide.json"
[ "$(meta "$T/auto.json" acoustic_model)" = narrowband ] || fail "8 kHz recording: not the narrowband model"
n=$(wer "$T/auto.json" "$T/prompts.txt")
w=$(wer "$T/wide.json" "$T/prompts.txt")
echo "recorded telephone prompts ($(wc -w < "$T/prompts.txt") words): WER $n narrowband, $w wideband"
# measured 0.620 narrowband and 0.678 wideband (60 prompts, 521 words); 0.660 narrowband with
# 4 Gaussians a codebook (before SDRA_SPHINX_NARROWBAND_TOPN, src/asr/sphinx.c), which the
# first bound fails
below "$n" 0.64 || fail "narrowband model on real 8 kHz speech: WER $n (0.64 or more)"
below "$n" "$(python3 -c "print($w - 0.03)")" || fail "narrowband $n not better than wideband $w by 3 points"
echo "transcribe_real_telephone: ok"
