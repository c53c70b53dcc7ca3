#!/usr/bin/env bash
# ctest-labels: slow
# diarize_calls.sh - diarization and roles through `sdra transcribe` on the generated `short`
# call (festival rep, flite prospect, known turn times): the stereo recording (channel method,
# with -30 dB cross-talk bleed on each channel) and the mono mix (cluster method, speaker count
# estimated) are scored with `sdra eval diarization` against the reference RTTM; the speaker
# the transcript calls the rep must be the reference rep.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
FIX=${SDRA_FIXTURES:?SDRA_FIXTURES must name the generated calls}
T=$(mktemp -d "${TMPDIR:-/tmp}/diarize_calls.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -f "$FIX/short.rttm" ] || fail "no generated call at $FIX/short.rttm (fixtures.generate)"

check() { # name audio max_der extra-args...
  local name=$1 audio=$2 max=$3; shift 3
  "$SDRA" transcribe -q "$@" "$audio" -o "$T/$name.json" 2> "$T/err" ||
    fail "$name: transcribe exited $?: $(cat "$T/err")"
  "$SDRA" eval diarization --ref "$FIX/short.rttm" "$T/$name.json" --json > "$T/$name.der" ||
    fail "$name: eval exited $?"
  python3 - "$T/$name.json" "$T/$name.der" "$max" "$name" <<'PY' || exit 1
import json, sys
t = json.load(open(sys.argv[1])); d = json.load(open(sys.argv[2])); mx = float(sys.argv[3]); name = sys.argv[4]
print(f"{name}: DER {100 * d['der']:.2f}% (missed {d['missed_s']:.2f} s, false alarm {d['false_alarm_s']:.2f} s, "
      f"confusion {d['confusion_s']:.2f} s), {d['n_hyp_speakers']} speakers")
if d["der"] > mx:
    sys.exit(f"FAIL: {name}: DER {d['der']:.3f} above {mx}")
if d["n_hyp_speakers"] != 2:
    sys.exit(f"FAIL: {name}: {d['n_hyp_speakers']} speakers found, want 2")
reps = [s["id"] for s in t["speakers"] if s["role"] == "rep"]
if len(reps) != 1 or d["mapping"].get(reps[0]) != "rep":
    sys.exit(f"FAIL: {name}: the transcript's rep {reps} maps to {d['mapping']}, want the reference rep")
PY
}
check stereo "$FIX/short.stereo.wav" 0.05
check mono "$FIX/short.mono.wav" 0.10 --speakers 0
echo "diarize_calls: ok"
