#!/usr/bin/env bash
# scripts/measure-stage-cost.sh - what one call costs each stage, in CPU time, for sizing
# (docs/scaling.md, tools/scaling-sim.py --set STAGE:cost=...).
#
# For each call (a NAME.stereo.wav of FIXTURES_DIR: tests/fixtures/generate.sh makes them;
# default discovery pricing optout), `sdra run CALL --jobs 1` runs the five stages one after
# the other in one process and prints each stage's wall time and CPU time (user + system: the
# process's getrusage growth over the stage, its helper threads included; cmd_run.c). CPU
# time, not wall time: on a shared machine the wall time depends on the neighbours' load, the
# CPU time much less. The whole run is also timed by /usr/bin/time, as a check that the
# stages' figures add up to the process's.
#
# Prints, per stage, CPU seconds per call and per minute of audio, and calls per hour per
# core = 3600 / CPU seconds per call: for transcribe (whose cost grows with the audio) of a
# 20-minute call, from the fit fixed + rate x audio (the fixed part is the model loading) when
# the calls' lengths differ enough, else from the CPU per audio minute.
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
  /usr/bin/time -f "%U %S" -o "$T/$c.rt" "$SDRA" run "$wav" --jobs 1 --contact-email jordan@northwind.example \
    --contact-name "Jordan Lee" --company Northwind --rep-name Alex --rep-email alex@brightwave.example \
    --rep-company Brightwave --call-date 2026-11-24 --rep-channel left --out "$T/out-$c" --data "$T/data-$c" \
    > "$T/$c.run.out" 2> "$T/$c.run.err" || { echo "measure: sdra run $c failed: $(tail -3 "$T/$c.run.err")" >&2; exit 1; }
  echo "$c $dur $(cat "$T/$c.rt")" >> "$T/total"
  # "[1/5] transcribe done in 12.3 s, 10.20 s CPU"
  sed -nE "s/^\[[0-9]+\/[0-9]+\] +([a-z]+) +done in ([0-9.]+) s, ([0-9.]+) s CPU$/$c $dur \1 \2 \3/p" \
    "$T/$c.run.err" >> "$T/stages"
done
python3 - "$T/total" "$T/stages" <<'PY'
import collections, sys
total = {c: (float(d), float(u) + float(s)) for c, d, u, s in (l.split() for l in open(sys.argv[1]))}
per = collections.defaultdict(list)  # stage -> [(cpu s, audio s)]
by_call = collections.defaultdict(float)
for c, dur, stage, wall, cpu in (l.split() for l in open(sys.argv[2])):
    per[stage].append((float(cpu), float(dur)))
    by_call[c] += float(cpu)
audio = sum(d for d, _ in total.values())
print(f"{len(total)} calls, {audio / 60:.1f} min of audio; CPU seconds (user + system) per stage")
for c, (d, t) in total.items():
    print(f"  {c}: {d:.0f} s of audio, the whole run {t:.2f} CPU s, the stages {by_call[c]:.2f}")
print(f"{'stage':12s} {'CPU s/call':>11s} {'CPU s/audio min':>16s} {'calls/h/core':>13s}")
for k in ["transcribe", "analyze", "compose", "sync", "report"]:
    xs = per.get(k, [])
    if not xs:
        print(f"{k:12s} (not run)")
        continue
    cpu_s, dur = sum(x for x, _ in xs), sum(d for _, d in xs)
    per_call, per_min = cpu_s / len(xs), cpu_s / (dur / 60)
    if k != "transcribe":
        print(f"{k:12s} {per_call:11.3f} {per_min:16.3f} {3600 / max(per_call, 1e-3):13.0f}")
        continue
    ds = [d for _, d in xs]
    line = f"{k:12s} {per_call:11.2f} {per_min:16.2f} {3600 / (per_min * 20):13.1f}  (20-min calls, CPU s per audio min)"
    if len(xs) >= 2 and max(ds) - min(ds) > 10:
        # cpu = fixed + rate * audio seconds (model loading is the fixed part)
        md, mc = sum(ds) / len(ds), cpu_s / len(xs)
        rate = sum((d - md) * (c - mc) for c, d in xs) / sum((d - md) ** 2 for d in ds)
        fixed = mc - rate * md
        line += (f"\n{'':12s} fit: {fixed:.1f} CPU s per call + {rate:.3f} CPU s per audio second; a 20-min call "
                 f"{fixed + rate * 1200:.0f} CPU s: {3600 / (fixed + rate * 1200):.1f} calls/h/core")
    print(line)
PY
