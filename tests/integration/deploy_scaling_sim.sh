#!/usr/bin/env bash
# ctest-labels: slow
# (skips the ASan pass: it checks files with Python and node, no C code of ours runs)
# deploy_scaling_sim.sh - tools/scaling-sim.py (docs/scaling.md): its defaults are the values of
# deploy/k8s; the same seed gives the same run; more maximum replicas never make the p95 time
# to transcript worse; the core-hours reserved cover the work done, per stage; a pool that
# cannot keep up is reported, and bad settings get one line and exit 2.
set -u
: "${SDRA_SRC:?}"
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup deploy_scaling_sim
SIM=(python3 "$SDRA_SRC/tools/scaling-sim.py" --calls 200 --step 2)

echo "== defaults are the manifests' values"
"${SIM[@]}" --json "$T/default.json" > "$T/default.out" || fail "default run: $(cat "$T/default.out")"
python3 - "$T/default.json" "$SDRA_SRC/deploy/k8s" <<'PY' || fail "simulator defaults differ from deploy/k8s"
import json, re, sys
cfg = json.load(open(sys.argv[1]))["settings"]
for st, c in cfg.items():
    y = open(f"{sys.argv[2]}/worker-{st}.yaml").read()
    want = {k: int(re.search(rf"^  {f}: (\d+)$", y, re.M).group(1)) for k, f in
            (("min", "minReplicaCount"), ("max", "maxReplicaCount"), ("cooldown", "cooldownPeriod"), ("polling", "pollingInterval"))}
    t = [int(v) for v in re.findall(r'targetQueryValue: "(\d+)"', y)]
    want.update(target=t[0], age=t[1], conc=int(re.search(r'"--concurrency", "(\d+)"', y).group(1)))
    lim = re.search(r'limits:\n\s+cpu: "([0-9.]+)(m?)"', y)
    want["cores"] = float(lim.group(1)) / (1000 if lim.group(2) else 1)
    got = {k: c[k] for k in want}
    assert got == want, (st, got, want)
PY
grep -q "time to transcript" "$T/default.out" && grep -q "core-hours reserved" "$T/default.out" &&
  grep -Eq '^  1[6-9]:[0-5]0 ' "$T/default.out" || fail "report lacks percentiles, core-hours or the timeline"

echo "== deterministic"
"${SIM[@]}" --json "$T/again.json" > /dev/null 2>&1 < /dev/null || fail "second run"
cmp -s "$T/default.json" "$T/again.json" || fail "the same seed gave another result"

echo "== more max replicas never worse; core-hours cover the work"
prev=
for max in 2 4 8 16 32; do
  for cool in 60 600; do
    "${SIM[@]}" --set "transcribe:max=$max,cooldown=$cool" --set all:cost=0.05s --set transcribe:cost=0.5x \
      --json "$T/m$max-c$cool.json" > "$T/m$max-c$cool.out" 2>&1 || fail "max=$max cooldown=$cool: $(cat "$T/m$max-c$cool.out")"
  done
done
python3 - "$T" <<'PY' || fail "invariants"
import json, sys
T = sys.argv[1]
for cool in (60, 600):
    p95 = []
    for m in (2, 4, 8, 16, 32):
        r = json.load(open(f"{T}/m{m}-c{cool}.json"))
        p95.append(r["time_to_transcript_s"]["p95"])
        for st, ch in r["core_hours"].items():
            assert ch + 1e-9 >= r["work_core_hours_by_stage"][st], (m, cool, st, ch, r["work_core_hours_by_stage"][st])
        assert r["core_hours_total"] >= r["work_core_hours"]
        assert r["max_replicas_seen"]["transcribe"] <= m
    assert all(b <= a for a, b in zip(p95, p95[1:])), (cool, p95)
    assert p95[-1] < p95[0] / 2, ("more replicas should matter here", p95)
    print(cool, [round(x / 60, 1) for x in p95])
# a longer cooldown keeps pods longer: never fewer core-hours
for m in (2, 4, 8, 16, 32):
    a, b = (json.load(open(f"{T}/m{m}-c{c}.json"))["core_hours"]["transcribe"] for c in (60, 600))
    assert b + 1e-9 >= a, (m, a, b)
PY

echo "== cannot keep up; bad input"
"${SIM[@]}" --set transcribe:max=1,cost=2x > "$T/slow.out" 2>&1; rc=$?
[ $rc = 2 ] && grep -q "cannot keep up" "$T/slow.out" || fail "an overloaded pool was not reported (rc $rc): $(cat "$T/slow.out")"
bad() {
  local want=$1; shift
  "${SIM[@]}" "$@" > "$T/bad.out" 2>&1; local rc=$?
  [ $rc = 2 ] && [ "$(wc -l < "$T/bad.out")" = 1 ] && grep -q "$want" "$T/bad.out" ||
    fail "$*: rc $rc, output: $(cat "$T/bad.out")"
}
bad "min 5 > max 2" --set transcribe:min=5,max=2
bad "unknown stage 'diarize'" --set diarize:max=3
bad "cost '3'" --set analyze:cost=3
bad "is not a time of day" --start 25:00
bad "is not after --start" --start 18:00 --end 16:00
bad "polling=0 is out of range" --set sync:polling=0
echo "PASS deploy_scaling_sim"
