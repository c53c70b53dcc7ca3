#!/usr/bin/env bash
# bench/analyze.sh - how long analysis takes for a 60-minute call, against transcription.
#
# Builds a ~9,000-word, 60-minute two-speaker transcript by repeating the labelled dialogues of
# tests/analysis (speaker names replaced by Rep/Prospect, times at 150 words per minute), then
# times `sdra analyze` on one core (taskset -c 0 when available; median of N runs) and reports
# ms per call and MB/s of transcript text. In the same run it times pocketsphinx_continuous on a
# short speech file to get the real-time factor of transcription here, scales it to 60 minutes,
# and prints analysis time as a share of it (target: under 1%).
#
# usage: bench/analyze.sh [SDRA_BINARY] [RUNS]     (default: build/sdra, 5 runs)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
sdra=${1:-${SDRA:-$src/build/sdra}}
runs=${2:-5}
[ -x "$sdra" ] || { echo "bench: $sdra: not an executable (build the sdra target first)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export SDRA_SHARE_DIR=${SDRA_SHARE_DIR:-$src/data}
one_core=""
command -v taskset > /dev/null && one_core="taskset -c 0"

python3 - "$src/tests/analysis" "$tmp/call60.txt" "$src/bench" <<'PY'
import re, sys
d, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, sys.argv[3])
import dialogues  # bench/dialogues.py
turns = dialogues.turns(d, "Rep", "Prospect")
t, words, k, lines = 0.0, 0, 0, []
while words < 9000:
    who, text = turns[k % len(turns)]
    if k >= len(turns):  # vary the repeats a little
        text = text.replace("Thursday", "Friday") if (k // len(turns)) % 2 else text
    n = len(text.split())
    h, r = divmod(int(t), 3600)
    lines.append("[%02d:%02d:%02d] %s: %s" % (h, r // 60, r % 60, who, text))
    t += n * 0.4 + 0.5
    words += n
    k += 1
# stretch to 60 minutes (real calls have pauses)
scale = 3600.0 / t
out_lines = []
for ln in lines:
    m = re.match(r"\[(\d+):(\d+):(\d+)\] (.*)", ln)
    s = (int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3))) * scale
    h, r = divmod(int(s), 3600)
    out_lines.append("[%02d:%02d:%02d] %s" % (h, r // 60, r % 60, m.group(4)))
open(out, "w").write("\n".join(out_lines) + "\n")
print("bench: transcript %d utterances, %d words, 60 min" % (len(out_lines), words))
PY
bytes=$(wc -c < "$tmp/call60.txt")
# sdra analyze: median wall time of N runs (includes process start, reading rules and the file)
times=()
inproc=()
for i in $(seq "$runs"); do
    s=$(date +%s.%N)
    $one_core "$sdra" analyze "$tmp/call60.txt" --call-date 2026-11-24 -o "$tmp/a.json" --timing 2> "$tmp/timing"
    e=$(date +%s.%N)
    times+=("$(echo "($e - $s) * 1000" | bc -l)")
    inproc+=("$(sed -n 's/.*load \([0-9.]*\) ms, analyze \([0-9.]*\) ms.*/\1 \2/p' "$tmp/timing" | awk '{print $1 + $2}')")
done
median_ms=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
median_in=$(printf '%s\n' "${inproc[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
python3 - "$tmp/a.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print("bench: findings: %d objections, %d intents, %d action items, %d pain points" % (
    len(d["objections"]), len(d["intents"]), len(d["action_items"]), len(d["pain_points"])))
PY
mbps=$(echo "$bytes / 1048576 / ($median_ms / 1000)" | bc -l)
mbps_in=$(echo "$bytes / 1048576 / ($median_in / 1000)" | bc -l)
printf 'bench: analyze 60-min call: %.1f ms per call as a process (median of %d, one core), %d bytes, %.2f MB/s\n' \
    "$median_ms" "$runs" "$bytes" "$mbps"
printf 'bench: in-process (read + analyze, no process start): %.1f ms, %.2f MB/s\n' "$median_in" "$mbps_in"

# transcription reference: pocketsphinx_continuous on a short file, same machine, same run
# all the librivox test files joined (about a minute), so model loading weighs little
wav=""
if ls /usr/share/pocketsphinx/test/data/librivox/*.wav > /dev/null 2>&1 && command -v sox > /dev/null; then
    sox /usr/share/pocketsphinx/test/data/librivox/*.wav "$tmp/speech.wav" && wav="$tmp/speech.wav"
fi
if command -v pocketsphinx_continuous > /dev/null && [ -n "$wav" ]; then
    audio_s=$(python3 -c "import wave,sys; w=wave.open(sys.argv[1]); print(w.getnframes()/w.getframerate())" "$wav")
    s=$(date +%s.%N)
    $one_core pocketsphinx_continuous -infile "$wav" > /dev/null 2>&1 || true
    e=$(date +%s.%N)
    asr_s=$(echo "$e - $s" | bc -l)
    rtf=$(echo "$asr_s / $audio_s" | bc -l)
    asr60=$(echo "$rtf * 3600" | bc -l)
    share=$(echo "($median_ms / 1000) / $asr60 * 100" | bc -l)
    printf 'bench: pocketsphinx_continuous: %.1f s audio in %.2f s (RTF %.3f) -> %.0f s for 60 min\n' \
        "$audio_s" "$asr_s" "$rtf" "$asr60"
    printf 'bench: analysis is %.4f%% of transcription time (target < 1%%)\n' "$share"
else
    echo "bench: pocketsphinx_continuous or test audio not found; no transcription reference"
fi
