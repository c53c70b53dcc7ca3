#!/usr/bin/env python3
"""scaling-sim.py - replays a day's arrival curve against KEDA settings (docs/scaling.md).

Calls arrive (default: 500 between 16:00 and 18:00, lengths uniform in 2-45 minutes); each
goes through the five stages in order. Each stage is a pool of worker pods scaled the way
deploy/k8s/worker-*.yaml asks KEDA and the HPA to:
  - every POLLING seconds: desired = max(ceil(jobs queued or running / TARGET),
    ceil(oldest queued job's age in s / AGE_TARGET)), within [MIN, MAX];
  - up at once (a new pod serves after POD_START seconds);
  - down only to the highest desired count of the last COOLDOWN seconds (the HPA's
    scale-down stabilization window), idle pods first (a busy pod is not stopped; a real
    worker would finish or release its chunk on SIGTERM).
A pod runs CONC jobs at once on CPU cores (its limit); jobs share those cores evenly. A
stage's work per call is COST: 'Nx' = N core-seconds per second of audio, 'Ns' = N
core-seconds per call, or both, 'Ns+Mx' (transcribe: model loading plus decoding). Prints time-to-transcript and time-to-package percentiles
(from the end of the upload), the replica count over time and the core-hours reserved
(pods x cores, starting pods included) against the work done.

  tools/scaling-sim.py                                       # the manifests' settings
  tools/scaling-sim.py --set transcribe:max=8,cooldown=300   # another choice
  tools/scaling-sim.py --json out.json                       # machine-readable
"""
import argparse
import json
import math
import random
import sys

STAGES = ["transcribe", "analyze", "compose", "sync", "report"]
# The values of deploy/k8s/worker-*.yaml (keep in step), the costs measured in docs/scaling.md.
DEFAULTS = {
    "transcribe": dict(min=1, max=64, cooldown=600, polling=15, target=1, age=300, conc=1, cores=1.0, cost="5s+0.7x"),
    "analyze": dict(min=1, max=4, cooldown=300, polling=30, target=10, age=120, conc=4, cores=0.5, cost="0.3s"),
    "compose": dict(min=1, max=2, cooldown=300, polling=30, target=20, age=120, conc=4, cores=0.25, cost="0.2s"),
    "sync": dict(min=1, max=2, cooldown=300, polling=30, target=20, age=120, conc=4, cores=0.25, cost="0.2s"),
    "report": dict(min=1, max=2, cooldown=300, polling=30, target=20, age=120, conc=4, cores=0.25, cost="0.2s"),
}
INT_KEYS = {"min", "max", "cooldown", "polling", "target", "age", "conc"}


class UsageError(Exception):
    pass


def clock(s):
    try:
        h, m = s.split(":")
        v = int(h) * 3600 + int(m) * 60
    except ValueError:
        raise UsageError(f"'{s}' is not a time of day HH:MM")
    if not 0 <= v < 86400:
        raise UsageError(f"'{s}' is not a time of day HH:MM")
    return v


def parse_cost(s):
    """'Nx', 'Ns' or 'Ns+Mx' -> (core-seconds per call, core-seconds per audio second)."""
    fixed = rate = 0.0
    for part in s.split("+"):
        part = part.strip()
        try:
            v = float(part[:-1])
        except ValueError:
            v = -1
        if not part or part[-1] not in "xs" or not v >= 0:
            raise UsageError(f"cost '{s}' is not Ns, Nx or Ns+Mx (N core-seconds per call, M per audio second)")
        if part[-1] == "x":
            rate += v
        else:
            fixed += v
    if fixed + rate <= 0:
        raise UsageError(f"cost '{s}' is zero")
    return fixed, rate


def parse_sets(items):
    cfg = {st: dict(v) for st, v in DEFAULTS.items()}
    for item in items:
        stage, _, kvs = item.partition(":")
        targets = STAGES if stage == "all" else [stage]
        if stage != "all" and stage not in cfg:
            raise UsageError(f"--set: unknown stage '{stage}' (one of {', '.join(STAGES)}, all)")
        for kv in kvs.split(","):
            k, eq, v = kv.partition("=")
            if not eq or k not in DEFAULTS["transcribe"]:
                raise UsageError(f"--set: '{kv}' is not KEY=VALUE with KEY one of {', '.join(DEFAULTS['transcribe'])}")
            for st in targets:
                if k == "cost":
                    parse_cost(v)
                    cfg[st][k] = v
                    continue
                try:
                    num = int(v) if k in INT_KEYS else float(v)
                except ValueError:
                    raise UsageError(f"--set: {k} wants a number, got '{v}'")
                if num < 0 or (k in ("max", "polling", "target", "age", "conc") and num < 1) or (k == "cores" and num <= 0):
                    raise UsageError(f"--set: {k}={v} is out of range")
                cfg[st][k] = num
    for st, c in cfg.items():
        if c["min"] > c["max"]:
            raise UsageError(f"{st}: min {c['min']} > max {c['max']}")
    return cfg


class Pod:
    __slots__ = ("ready_at", "jobs")

    def __init__(self, ready_at):
        self.ready_at = ready_at
        self.jobs = []  # [call index, core-seconds left]


def simulate(args, cfg):
    rng = random.Random(args.seed)
    t0, t1 = clock(args.start), clock(args.end)
    if t1 <= t0:
        raise UsageError(f"--end {args.end} is not after --start {args.start}")
    arrivals = []
    for _ in range(args.calls):
        if args.curve == "peak":
            at = rng.triangular(t0, t1, (t0 + t1) / 2)
        else:
            at = rng.uniform(t0, t1)
        length = rng.uniform(args.min_len * 60, args.max_len * 60)
        arrivals.append((at, length))
    arrivals.sort()
    n = len(arrivals)
    costs = {st: parse_cost(cfg[st]["cost"]) for st in STAGES}
    work = [[fixed + rate * length for fixed, rate in costs.values()] for _, length in arrivals]
    total_work = sum(map(sum, work))

    dt = args.step
    start = t0 - 600  # ten quiet minutes before the first call
    pods = {st: [Pod(start) for _ in range(cfg[st]["min"])] for st in STAGES}
    queues = {st: [] for st in STAGES}  # [call index, queued at]
    desired_hist = {st: [] for st in STAGES}  # (time, desired)
    done_at = [[None] * len(STAGES) for _ in range(n)]
    core_s = {st: 0.0 for st in STAGES}
    timeline = []
    next_arrival, t, finished = 0, start, 0
    next_poll = {st: start for st in STAGES}
    sample_every = args.sample_min * 60
    next_sample = start
    horizon = t1 + 24 * 3600
    while (finished < n or t < t1) and t < horizon:
        while next_arrival < n and arrivals[next_arrival][0] <= t:
            queues["transcribe"].append([next_arrival, arrivals[next_arrival][0]])
            next_arrival += 1
        for si, st in enumerate(STAGES):
            c, q, ps = cfg[st], queues[st], pods[st]
            # the scaler
            if t >= next_poll[st]:
                next_poll[st] = t + c["polling"]
                busy = sum(len(p.jobs) for p in ps)
                oldest = t - q[0][1] if q else 0
                want = max(math.ceil((len(q) + busy) / c["target"]), math.ceil(oldest / c["age"]) if q else 0)
                want = min(max(want, c["min"]), c["max"])
                hist = desired_hist[st]
                hist.append((t, want))
                while hist and hist[0][0] < t - c["cooldown"]:
                    hist.pop(0)
                stable = max(w for _, w in hist)
                if want > len(ps):
                    ps.extend(Pod(t + args.pod_start) for _ in range(want - len(ps)))
                elif stable < len(ps):
                    for p in sorted(ps, key=lambda p: (len(p.jobs) > 0, -p.ready_at)):
                        if len(ps) <= stable:
                            break
                        if not p.jobs:
                            ps.remove(p)
            # dispatch, oldest first, to ready pods with a free slot
            for p in ps:
                while q and p.ready_at <= t and len(p.jobs) < c["conc"]:
                    call, _ = q.pop(0)
                    p.jobs.append([call, work[call][si]])
            # work for one step
            for p in ps:
                core_s[st] += c["cores"] * dt
                if not p.jobs:
                    continue
                rate = min(1.0, c["cores"] / len(p.jobs)) * dt
                for j in p.jobs:
                    j[1] -= rate
                for j in [j for j in p.jobs if j[1] <= 1e-9]:
                    p.jobs.remove(j)
                    done_at[j[0]][si] = t + dt
                    if si + 1 < len(STAGES):
                        queues[STAGES[si + 1]].append([j[0], t + dt])
                    else:
                        finished += 1
        if t >= next_sample:
            next_sample += sample_every
            timeline.append({"t": t, **{st: len(pods[st]) for st in STAGES},
                             "queued": len(queues["transcribe"])})
        t += dt
    if finished < n:
        raise UsageError(f"only {finished} of {n} calls finished within a day: the settings cannot keep up")

    def pct(xs, p):
        xs = sorted(xs)
        return xs[min(len(xs) - 1, max(0, math.ceil(p / 100 * len(xs)) - 1))]

    ttt = [done_at[i][0] - arrivals[i][0] for i in range(n)]
    ttp = [done_at[i][-1] - arrivals[i][0] for i in range(n)]
    res = {
        "calls": n,
        "audio_hours": sum(l for _, l in arrivals) / 3600,
        "time_to_transcript_s": {f"p{p}": pct(ttt, p) for p in (50, 90, 95, 99, 100)},
        "time_to_package_s": {f"p{p}": pct(ttp, p) for p in (50, 90, 95, 99, 100)},
        "core_hours": {st: core_s[st] / 3600 for st in STAGES},
        "core_hours_total": sum(core_s.values()) / 3600,
        "work_core_hours": total_work / 3600,
        "work_core_hours_by_stage": {st: sum(w[i] for w in work) / 3600 for i, st in enumerate(STAGES)},
        "max_replicas_seen": {st: max(s[st] for s in timeline) for st in STAGES},
        "last_call_done": max(d[-1] for d in done_at),
        "timeline": timeline,
        "settings": cfg,
    }
    return res


def hhmm(t):
    t = int(t) % 86400
    return f"{t // 3600:02d}:{t % 3600 // 60:02d}"


def report(r, out):
    w = out.write
    w(f"{r['calls']} calls, {r['audio_hours']:.1f} h of audio; last package done at {hhmm(r['last_call_done'])}\n")
    for key, label in (("time_to_transcript_s", "time to transcript"), ("time_to_package_s", "time to package")):
        p = r[key]
        w(f"{label:19s} p50 {p['p50'] / 60:6.1f} min  p90 {p['p90'] / 60:6.1f}  p95 {p['p95'] / 60:6.1f}"
          f"  p99 {p['p99'] / 60:6.1f}  max {p['p100'] / 60:6.1f}\n")
    w(f"core-hours reserved {r['core_hours_total']:.1f} (work {r['work_core_hours']:.1f}, "
      f"utilisation {100 * r['work_core_hours'] / r['core_hours_total']:.0f}%): "
      + ", ".join(f"{st} {v:.1f}" for st, v in r["core_hours"].items()) + "\n")
    w("replicas over time (transcribe queue = calls waiting for a transcriber):\n")
    w("  time   " + " ".join(f"{st:>10s}" for st in STAGES) + "      queue\n")
    for s in r["timeline"]:
        w(f"  {hhmm(s['t'])}  " + " ".join(f"{s[st]:10d}" for st in STAGES) + f" {s['queued']:10d}\n")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=500, help="calls in the window (default 500)")
    ap.add_argument("--start", default="16:00", help="first arrival, HH:MM (default 16:00)")
    ap.add_argument("--end", default="18:00", help="last arrival, HH:MM (default 18:00)")
    ap.add_argument("--curve", choices=["uniform", "peak"], default="uniform",
                    help="arrivals spread evenly, or peaking mid-window (default uniform)")
    ap.add_argument("--min-len", type=float, default=2, help="shortest call, minutes (default 2)")
    ap.add_argument("--max-len", type=float, default=45, help="longest call, minutes (default 45)")
    ap.add_argument("--pod-start", type=float, default=30, help="seconds from scale-up to a serving pod (default 30)")
    ap.add_argument("--set", action="append", default=[], metavar="STAGE:K=V,...",
                    help="override a stage's settings (min max cooldown polling target age conc cores cost); "
                         "STAGE 'all' for every stage")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--step", type=float, default=1.0, help="simulation step, seconds (default 1)")
    ap.add_argument("--sample-min", type=int, default=10, help="minutes between timeline rows (default 10)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    args = ap.parse_args(argv[1:])
    try:
        if args.calls < 1 or not (0 < args.min_len <= args.max_len) or args.pod_start < 0 or not args.step > 0 \
                or args.sample_min < 1:
            raise UsageError("--calls >= 1, 0 < --min-len <= --max-len, --pod-start >= 0, --step > 0, --sample-min >= 1")
        cfg = parse_sets(args.set)
        res = simulate(args, cfg)
    except UsageError as e:
        print(f"scaling-sim: {e}", file=sys.stderr)
        return 2
    report(res, sys.stdout)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
