#!/usr/bin/env bash
# ctest-labels: asan-skip
# (skips the ASan pass: it checks the generated audio with sox, ffprobe and Python, no C code of ours runs)
# Checks the generated example calls (tests/fixtures/generate.sh) that the other integration
# tests rely on: every output exists; WAV layout and durations agree with the references
# (soxi/ffprobe); .txt/.stm/.rttm/.ref.json agree with each other and with the dialogue script;
# each stereo channel carries its own party (energy per channel inside every reference turn,
# bleed present but about 30 dB down) and the gaps between turns are quiet; every extra format
# decodes to the same duration; a second generate run is a no-op; regeneration is byte-identical;
# a bad dialogue is refused with a file:line error.
#
# Env: SDRA_FIXTURES (generated calls; generated into a scratch dir when unset), SDRA_SRC.
set -euo pipefail

SDRA_SRC="${SDRA_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
gen="$SDRA_SRC/tests/fixtures/generate.sh"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
if [ -z "${SDRA_FIXTURES:-}" ]; then
  SDRA_FIXTURES="$scratch/fixtures"
  bash "$gen" "$SDRA_FIXTURES"
fi
fx="$SDRA_FIXTURES"
fail() { echo "fixtures_check: FAIL: $*" >&2; exit 1; }

# 1. Files, layout, durations, reference consistency, channel energy: one Python pass.
python3 - "$fx" "$SDRA_SRC/tests/fixtures/dialogues" <<'PY' || fail "content checks (see above)"
import glob, json, math, os, re, subprocess, sys, warnings, wave
from array import array
fx, dialogues = sys.argv[1], sys.argv[2]
errors = []
def err(msg):
    errors.append(msg)
    print("fixtures_check: " + msg, file=sys.stderr)

def soxi(path, opt):
    return subprocess.run(["soxi", opt, path], capture_output=True, text=True, check=True).stdout.strip()

def norm_words(text):
    return [w.strip("'") for w in re.sub(r"[^a-z0-9']+", " ", text.lower()).split() if w.strip("'")]

def load_channels(path):
    with wave.open(path, "rb") as w:
        nch, n = w.getnchannels(), w.getnframes()
        a = array("h")
        a.frombytes(w.readframes(n))
    if sys.byteorder != "little":
        a.byteswap()
    return [a[c::nch] for c in range(nch)]

def rms_db(samples, a, b):
    a, b = max(0, a), min(len(samples), b)
    if b - a < 160:
        return None
    seg = samples[a:b]
    s = sum(x * x for x in seg)
    return 10 * math.log10(max(s / len(seg), 1e-9) / (32768.0 ** 2))

names = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(dialogues, "*.txt")))
if not names:
    err("no dialogues in " + dialogues)
for name in names:
    base = os.path.join(fx, name)
    outs = [".stereo.wav", ".mono.wav", ".txt", ".stm", ".rttm", ".ref.json"]
    missing = [base + o for o in outs if not os.path.isfile(base + o)]
    if missing:
        err("missing " + ", ".join(missing))
        continue
    # layout and duration
    for o, ch in ((".stereo.wav", "2"), (".mono.wav", "1")):
        if soxi(base + o, "-c") != ch or soxi(base + o, "-r") != "16000" or soxi(base + o, "-b") != "16":
            err("%s%s: expected 16 kHz 16-bit %s channel(s)" % (name, o, ch))
    dur_s = float(soxi(base + ".stereo.wav", "-D"))
    dur_m = float(soxi(base + ".mono.wav", "-D"))
    if abs(dur_s - dur_m) > 0.001:
        err("%s: stereo %.3f s and mono %.3f s differ" % (name, dur_s, dur_m))
    # references
    stm = [l.split() for l in open(base + ".stm") if l.strip()]
    rttm = [l.split() for l in open(base + ".rttm") if l.strip()]
    ref = json.load(open(base + ".ref.json"))
    txt = open(base + ".txt").read().split()
    script = []
    for line in open(os.path.join(dialogues, name + ".txt")):
        m = re.match(r"^\s*(rep|prospect)\s*:\s*(.+)$", line)
        if m:
            script.append((m.group(1), norm_words(m.group(2))))
    if not (len(stm) == len(rttm) == len(ref["turns"]) == len(script)):
        err("%s: turn counts differ: stm %d rttm %d json %d script %d" %
            (name, len(stm), len(rttm), len(ref["turns"]), len(script)))
        continue
    if ref.get("schema") != "sdra.fixture/1" or abs(ref["duration_s"] - dur_s) > 0.002:
        err("%s: ref.json schema/duration wrong (%s, %s vs %.3f)" %
            (name, ref.get("schema"), ref.get("duration_s"), dur_s))
    turns = []
    for s, r, j in zip(stm, rttm, ref["turns"]):
        if s[0] != name or s[1] != "1" or s[2] not in ("rep", "prospect"):
            err("%s: bad stm line %s" % (name, " ".join(s[:5])))
            continue
        start, end = float(s[3]), float(s[4])
        if not (0 <= start < end <= dur_s):
            err("%s: turn %.3f-%.3f outside the audio (%.3f s)" % (name, start, end, dur_s))
        if (r[0], r[1], r[7]) != ("SPEAKER", name, s[2]) or abs(float(r[3]) - start) > 0.0005 \
                or abs(float(r[3]) + float(r[4]) - end) > 0.0015:
            err("%s: rttm %s disagrees with stm %s" % (name, " ".join(r), " ".join(s[:5])))
        if j["speaker"] != s[2] or abs(j["start_s"] - start) > 0.0005 or j["words"] != s[5:]:
            err("%s: ref.json turn disagrees with stm at %.3f" % (name, start))
        turns.append((s[2], start, end, s[5:]))
    if sum((t[3] for t in turns), []) != txt:
        err("%s: .txt is not the stm words in order" % name)
    # The script order may differ from time order only where turns overlap: compare as multisets.
    if sorted((sp, " ".join(w)) for sp, w in script) != sorted((t[0], " ".join(t[3])) for t in turns):
        err("%s: reference words/speakers differ from the dialogue script" % name)
    if [t[1] for t in turns] != sorted(t[1] for t in turns):
        err("%s: stm not in time order" % name)
    # energy: own channel loud, other channel carries only the -30 dB bleed
    left, right = load_channels(base + ".stereo.wav")
    mono = load_channels(base + ".mono.wav")[0]
    hz = 16000
    for i, (spk, start, end, _) in enumerate(turns):
        a, b = int(start * hz), int(end * hz)
        for k, (_, s2, e2, _) in enumerate(turns):   # only the part nobody else talks over
            if k != i and s2 < end and e2 > start:
                if s2 <= start: a = max(a, int(e2 * hz))
                else: b = min(b, int(s2 * hz))
        own, other = (left, right) if spk == "rep" else (right, left)
        e_own, e_other, e_mono = rms_db(own, a, b), rms_db(other, a, b), rms_db(mono, a, b)
        if e_own is None:
            continue
        sep = e_own - e_other
        if e_own < -35 or e_mono < -35:
            err("%s: %s turn at %.2f s too quiet (own %.1f dB, mono %.1f dB)" % (name, spk, start, e_own, e_mono))
        if not 20 <= sep <= 40:
            err("%s: %s turn at %.2f s: channel separation %.1f dB, expected about 30" % (name, spk, start, sep))
    # the gaps between turns (and the lead-in) are silence apart from light noise
    bounds = [(0.0, 0.0)] + [(t[1], t[2]) for t in turns]
    last_end = 0.0
    for (s1, e1), (s2, e2) in zip(bounds, bounds[1:]):
        last_end = max(last_end, e1)
        if s2 - last_end >= 0.25:
            g = rms_db(mono, int((last_end + 0.03) * hz), int((s2 - 0.03) * hz))
            if g is not None and g > -45:
                err("%s: gap %.2f-%.2f s not quiet (%.1f dB): reference times off?" % (name, last_end, s2, g))
    print("fixtures_check: %s ok: %d turns, %.1f s" % (name, len(turns), dur_s))
sys.exit(1 if errors else 0)
PY

# 2. Every extra format of `short` decodes, with the right layout and the same duration.
wav_dur="$(soxi -D "$fx/short.stereo.wav")"
check_format() {  # file codec channels rate
  local f="$fx/$1" info dur
  [ -s "$f" ] || fail "missing $f"
  info="$(ffprobe -v error -select_streams a:0 -show_entries stream=codec_name,channels,sample_rate \
          -of csv=p=0 "$f")" || fail "ffprobe cannot read $f"
  [ "$info" = "$2,$4,$3" ] || fail "$f: got '$info', expected '$2,$4,$3' (codec,rate,channels)"
  dur="$(ffmpeg -nostdin -v error -i "$f" -f s16le -ac 1 -ar 16000 - | wc -c)"
  python3 -c 'import sys; d=int(sys.argv[1])/32000; w=float(sys.argv[2]); sys.exit(abs(d-w) > 0.15)' \
    "$dur" "$wav_dur" || fail "$f decodes to $((dur / 32)) ms, expected ${wav_dur} s"
  echo "fixtures_check: $1 ok ($info)"
}
check_format short.flac flac 2 16000
check_format short.mp3 mp3 2 44100
check_format short.opus opus 2 48000
check_format short.m4a aac 2 44100
check_format short.webm opus 2 48000
check_format short.mulaw8k.wav pcm_mulaw 2 8000
check_format short.44k.wav pcm_s16le 2 44100

# 3. A second run over the same directory is a no-op.
before="$(stat -c '%n %Y' "$fx"/*.* | sort)"
out="$(bash "$gen" "$fx")" || fail "second generate run failed"
echo "$out" | grep -qv "up to date" && fail "second generate run regenerated something: $out"
[ "$before" = "$(stat -c '%n %Y' "$fx"/*.* | sort)" ] || fail "second generate run touched outputs"
echo "fixtures_check: second run is a no-op"

# 4. Regenerating from scratch gives byte-identical files.
bash "$gen" "$scratch/again" short >/dev/null || fail "regenerating short failed"
for f in "$scratch"/again/short.*; do
  cmp -s "$f" "$fx/$(basename "$f")" || fail "$(basename "$f") differs on regeneration (not deterministic)"
done
echo "fixtures_check: regeneration is byte-identical"

# 5. A bad dialogue is refused with a clear file:line error and no output.
printf 'rep: hello there\nprospect: we have 2 offices\n' > "$scratch/bad.txt"
if python3 "$SDRA_SRC/tests/fixtures/render_calls.py" generate "$scratch/badout" "$scratch/bad.txt" \
     2>"$scratch/bad.err"; then
  fail "a dialogue with digits was accepted"
fi
grep -q "bad.txt:2: spell numbers as words" "$scratch/bad.err" || fail "unclear error: $(cat "$scratch/bad.err")"
[ ! -e "$scratch/badout/bad.stereo.wav" ] || fail "a refused dialogue left output behind"
printf 'agent: hello\n' > "$scratch/bad.txt"
python3 "$SDRA_SRC/tests/fixtures/render_calls.py" generate "$scratch/badout" "$scratch/bad.txt" \
  2>"$scratch/bad.err" && fail "a dialogue with an unknown speaker was accepted"
grep -q "bad.txt:1: expected" "$scratch/bad.err" || fail "unclear error: $(cat "$scratch/bad.err")"
echo "fixtures_check: bad dialogues refused"

# 6. Without festival the generator says so and fails (PATH holds only what the script needs).
mkdir -p "$scratch/bin"
for t in dirname flite sox ffmpeg python3; do ln -s "$(command -v "$t")" "$scratch/bin/$t"; done
if PATH="$scratch/bin" "$BASH" "$gen" "$scratch/nofest" 2>"$scratch/nofest.err"; then
  fail "generate.sh succeeded without festival"
fi
grep -q "missing festival" "$scratch/nofest.err" || fail "unclear error without festival: $(cat "$scratch/nofest.err")"
[ ! -e "$scratch/nofest" ] || fail "generate.sh without festival created its output dir"
echo "fixtures_check: missing festival reported"
echo "fixtures_check: all ok"
