#!/usr/bin/env bash
# Measures WER through --asr whisper-http (tests/servers/openai_whisper.py, which runs the
# embedded recognizer on each chunk it receives) against the embedded path, on the same
# generated calls (stereo and mono), with `sdra eval asr`. The two must be equal within noise:
# the server sees each chunk cold (no priming with the audio before it), otherwise the words
# are the embedded recognizer's, so a difference beyond noise would be an offset or merge bug.
#
# usage: scripts/measure-asr-http.sh [BUILD_DIR] [CALL...]   (default: every generated call)
# env: CHUNK_S (default 20), JOBS (default 2). Needs BUILD_DIR/fixtures (ctest -R fixtures).
# Also, per file, the words both paths recognized alike (aligned with difflib) and how far
# apart their start times are (median and 95th percentile): wrong chunk offsets or a wrong
# merge would show there as seconds, not milliseconds.
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:-$src/build}" && pwd)"; shift || true
sdra="$build/sdra"; fx="$build/fixtures"
calls=("$@"); [ ${#calls[@]} -gt 0 ] || calls=(short optout pricing discovery)
tmp="$(mktemp -d)"
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
python3 "$src/tests/servers/openai_whisper.py" --sdra "$sdra" --port-file "$tmp/port" --concurrency 2 &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
url="http://127.0.0.1:$(cat "$tmp/port")/v1"
# wer REF HYP TAG: prints the WER, adds errors and reference words to $tmp/TAG.sum
wer() {
  "$sdra" eval asr --ref "$1" "$2" --json | python3 -c '
import json,sys; d=json.load(sys.stdin); e=d["substitutions"]+d["deletions"]+d["insertions"]
open(sys.argv[1],"a").write("%d %d\n" % (e, d["ref_words"])); print("%.3f" % d["wer"])' "$tmp/$3.sum"
}
pooled() { awk '{e+=$1; n+=$2} END {printf "%.3f", e/n}' "$tmp/$1.sum"; }
# dt A B: matched words and their start-time differences (ms)
dt() {
  python3 - "$1" "$2" <<'PY'
import difflib, json, sys
def words(p):
    return [(w["w"], w["start"]) for u in json.load(open(p))["utterances"] for w in u["words"]]
a, b = words(sys.argv[1]), words(sys.argv[2])
a.sort(key=lambda x: x[1]); b.sort(key=lambda x: x[1])
sm = difflib.SequenceMatcher(a=[w for w, _ in a], b=[w for w, _ in b], autojunk=False)
d = sorted(abs(a[m.a + k][1] - b[m.b + k][1]) * 1000 for m in sm.get_matching_blocks() for k in range(m.size))
print("%d/%d words alike, |dt| median %.0f ms, p95 %.0f ms" % (len(d), len(a), d[len(d) // 2] if d else -1,
      d[int(len(d) * 0.95)] if d else -1))
PY
}
printf '%-10s %-6s %10s %10s\n' call mode embedded http
for c in "${calls[@]}"; do
  for m in stereo mono; do
    "$sdra" transcribe "$fx/$c.$m.wav" --jobs "${JOBS:-2}" -q -o "$tmp/$c.$m.emb.json"
    "$sdra" transcribe "$fx/$c.$m.wav" --asr whisper-http --asr-url "$url" --asr-chunk-s "${CHUNK_S:-20}" -q -o "$tmp/$c.$m.http.json"
    printf '%-10s %-6s %10s %10s\n' "$c" "$m" "$(wer "$fx/$c.stm" "$tmp/$c.$m.emb.json" emb)" \
      "$(wer "$fx/$c.stm" "$tmp/$c.$m.http.json" http)"
    echo "           $(dt "$tmp/$c.$m.emb.json" "$tmp/$c.$m.http.json")"
  done
done
printf '%-17s %10s %10s\n' "pooled" "$(pooled emb)" "$(pooled http)"
python3 -c "import json,sys; print('http guards/requests (last file):', json.load(open(sys.argv[1]))['meta'].get('asr_requests'))" "$tmp/${calls[-1]}.mono.http.json"
