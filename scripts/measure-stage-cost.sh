#!/usr/bin/env bash
# scripts/measure-stage-cost.sh - what one call costs each stage, in CPU time, for sizing
# (docs/scaling.md, tools/scaling-sim.py --set STAGE:cost=...).
#
# For each generated call (tests/fixtures/generate.sh; default discovery pricing optout):
#   - `sdra transcribe CALL --jobs 1` under /usr/bin/time: CPU seconds (user + system) per
#     second of audio: the transcribe stage's cost (one decoding thread, as a worker with
#     --concurrency 1 on one core);
#   - `sdra run CALL --jobs 1`: its total CPU time, and each stage's wall time (its progress
#     lines); the CPU time not spent transcribing is split over the other stages in proportion
#     to their wall times.
# CPU time, not wall time: on a shared machine the wall time depends on the neighbours' load.
# Prints, per stage, CPU seconds per call (per audio minute for transcribe) and calls per hour
# per core (for transcribe, of a 20-minute call; with calls of different lengths also the fit
# fixed + rate x audio, the fixed part being the model loading).
#
# usage: scripts/measure-stage-cost.sh FIXTURES_DIR [CALL...]   env: SDRA (default build/sdra)
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SDRA="${SDRA:-$src/build/sdra}"
fix="${1:?usage: scripts/measure-stage-cost.sh FIXTURES_DIR [CALL...]}"
shift
calls=("$@")
[ ${#calls[@]} -gt 0 ] || calls=(discovery pricing optout)
[ -x "$SDRA" ] || { echo "measure: $SDRA not built" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "measure: /usr/bin/time missing (scripts/install-deps.sh)" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/stage_cost.XXXXXX")
trap 'rm -rf "$T"' EXIT
for c in "${calls[@]}"; do
  wav="$fix/$c.stereo.wav"
  [ -f "$wav" ] || { echo "measure: $wav missing (tests/fixtures/generate.sh)" >&2; exit 1; }
  dur=$(soxi -D "$wav")
  /usr/bin/time -f "%U %S" -o "$T/$c.tt" "$SDRA" transcribe "$wav" --jobs 1 -o "$T/$c.transcript.json" 2> "$T/$c.t.err" >&2
  /usr/bin/time -f "%U %S" -o "$T/$c.rt" "$SDRA" run "$wav" --jobs 1 --contact-email jordan@northwind.example \
    --contact-name "Jordan Lee" --company Northwind --rep-name Alex --rep-email alex@brightwave.example \
    --rep-company Brightwave --call-date 2026-11-24 --rep-channel left --out "$T/out-$c" --data "$T/data-$c" \
    > "$T/$c.run.out" 2> "$T/$c.run.err"
  echo "$c $dur $(cat "$T/$c.tt") $(cat "$T/$c.rt")" >> "$T/cpu"
  grep -E '^\[[0-9]+/[0-9]+\] ' "$T/$c.run.err" | awk -v c="$c" '{ print c, $2, $(NF-1) }' >> "$T/walls"
done
python3 - "$T/cpu" "$T/walls" <<'PY'
import collections, sys
cpu = [l.split() for l in open(sys.argv[1])]
walls = collections.defaultdict(dict)
for c, stage, s in (l.split() for l in open(sys.argv[2])):
    walls[c][stage] = float(s)
per_stage = collections.defaultdict(list)
audio = 0.0
for c, dur, tu, ts, ru, rs in cpu:
    dur, t_cpu, r_cpu = float(dur), float(tu) + float(ts), float(ru) + float(rs)
    audio += dur
    per_stage["transcribe"].append((t_cpu, dur))
    rest = max(r_cpu - t_cpu, 0.0)
    others = {k: v for k, v in walls[c].items() if k != "transcribe"}
    total = sum(others.values()) or 1.0
    for k, v in others.items():
        per_stage[k].append((rest * v / total, dur))
print(f"{len(cpu)} calls, {audio / 60:.1f} min of audio; CPU seconds (user + system)")
print(f"{'stage':12s} {'CPU s/call':>11s} {'CPU s/audio min':>16s} {'calls/h/core':>13s}")
for k in ["transcribe", "analyze", "compose", "sync", "report"]:
    xs = per_stage.get(k, [])
    if not xs:
        continue
    cpu_s, dur = sum(x for x, _ in xs), sum(d for _, d in xs)
    per_call = cpu_s / len(xs)
    per_min = cpu_s / (dur / 60)
    if k == "transcribe":
        print(f"{k:12s} {per_call:11.2f} {per_min:16.2f} {3600 / (per_min * 20):13.1f}  (20-min calls; cost {cpu_s / dur:.3f}x)")
        # cpu = fixed + rate * audio seconds (model loading is the fixed part), when the
        # calls' lengths differ enough to tell the two apart
        ds = [d for _, d in xs]
        if len(xs) >= 2 and max(ds) - min(ds) > 10:
            md, mc = sum(ds) / len(ds), cpu_s / len(xs)
            rate = sum((d - md) * (c - mc) for c, d in xs) / sum((d - md) ** 2 for d in ds)
            fixed = mc - rate * md
            print(f"{'':12s} fit: {fixed:.1f} CPU s per call + {rate:.3f} CPU s per audio second; "
                  f"a 20-min call {fixed + rate * 1200:.0f} CPU s, {3600 / (fixed + rate * 1200):.1f} calls/h/core")
    else:
        print(f"{k:12s} {per_call:11.3f} {'':16s} {3600 / max(per_call, 1e-3):13.0f}  (cost {per_call:.3f}s)")
PY
