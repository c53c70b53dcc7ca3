#!/usr/bin/env bash
# ctest-labels: slow
# scale_out_crash.sh - the scale-out layout on one machine: 2 API nodes (`sdra serve
# --no-workers`) and 3 worker processes (`sdra worker`) sharing one job store and one data
# directory, SCALE_CALLS (default 100) short generated calls uploaded through both API nodes,
# workers killed with kill -9 at random moments (and started again), one API node killed with
# kill -9, and with PostgreSQL the database restarted once. Then:
#   - every call ends done, and every stage of every call was committed exactly once (one
#     "stage X done" line across all the workers' logs; the API nodes ran no stage);
#   - no duplicate CRM rows (one contact per address, one activity per call) and no duplicate
#     outbox effects (one call.completed entry per call in the outbox, one distinct event id per
#     call at the webhook receiver, which deduplicates as a real one would);
#   - an event stream (SSE) opened on the API node that survives sees the stages that workers
#     in other processes complete; the delay from the worker's commit to the event is printed;
#   - the time each killed worker's jobs took to be taken again (lease expiry) is printed.
# The store: SCALE_STORE=pg (the default: a real PostgreSQL started by tests/integration/lib/pg.sh,
# restarted once during the run; without the server binaries the test says SKIP) or sqlite (the
# data directory's SQLite file, WAL, several processes: scale_out_crash_sqlite.sh runs that with
# fewer calls). The key is made with `sdra keys create --store URL`, as an operator would.
# Cheap, so that it runs in CI: every call is the same 2 s of generated speech, and the
# transcribe stage recognises it through the Whisper-API test server (tests/servers/
# openai_whisper.py: real recognition by the embedded recognizer, once, then from its cache).
# The embedded recognizer in the workers would load its models for every call (about 5 CPU s
# each: 500 for 100 calls); through the server, every stage still runs in the workers
# (chunking, the remote recognizer's client, diarization, analysis, email, CRM, report,
# outbox) and what is tested, the claims, leases and commits, is the same.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
SRC=${SDRA_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib/pg.sh"
it_setup scale_out_crash
N=${SCALE_CALLS:-100}
KIND=${SCALE_STORE:-pg}
LEASE_MS=3000
D="$T/data"
mkdir -p "$D"
if [ "$KIND" = pg ]; then
  pg_available || { echo "SKIP: SCALE_STORE=pg but no PostgreSQL server binaries"; exit 0; }
  pg_start
  STORE=$SDRA_TEST_PG_URL
  psql_() { PGPASSWORD=$PG_PW "$PG_BIN/psql" -qtA -h "$PG_DIR" -p 5432 -U sdra -d sdra_test "$@"; }
else
  STORE="sqlite:$D/sdra.db"
fi
T0=$(date +%s)

# a short call (about 2 s of speech) that still gives every stage something to work on
flite -t "Hello Jordan, this is Alex. Shall we meet on Tuesday?" -o "$T/call.wav" || fail "flite"

mkdir -p "$T/whisper-cache"
python3 "$SRC/tests/servers/openai_whisper.py" --sdra "$SDRA" --port-file "$T/whisper.port" --concurrency 2 \
  --cache-dir "$T/whisper-cache" 2>"$T/whisper.log" & PIDS+=($!)
wait_port_file "$T/whisper.port" "the Whisper test server did not start"
ASR=(--asr whisper-http --asr-url "http://127.0.0.1:$(cat "$T/whisper.port")/v1" --asr-timeout-s 120)

export SDRA_WEBHOOK_SECRET=scale-secret
python3 "$SRC/tests/servers/webhook_receiver.py" --port-file "$T/hook.port" --log "$T/hook.jsonl" \
  --secret "$SDRA_WEBHOOK_SECRET" 2>"$T/hook.log" & PIDS+=($!)
wait_port_file "$T/hook.port" "webhook receiver did not start"
HOOK="http://127.0.0.1:$(cat "$T/hook.port")/hook"

COMMON=(--store "$STORE" --data "$D" --lease-ms "$LEASE_MS" --max-attempts 20 --retry-base-ms 200 --log-level info)
declare -A API_PID
start_api() { # start_api I
  rm -f "$T/api$1.port"
  "$SDRA" serve --no-workers "${COMMON[@]}" --listen 127.0.0.1:0 --port-file "$T/api$1.port" --max-active 100000 \
    2>"$T/api$1.log" &
  API_PID[$1]=$!
  PIDS+=($!)
  wait_port_file "$T/api$1.port" "API node $1 did not start"
}
declare -A W_PID W_GEN
start_worker() { # start_worker I: a new log per start
  W_GEN[$1]=$(( ${W_GEN[$1]:-0} + 1 ))
  "$SDRA" worker "${COMMON[@]}" "${ASR[@]}" --stages transcribe,analyze,compose,sync,report --concurrency 1 \
    --webhook-url "$HOOK" 2>"$T/worker$1.${W_GEN[$1]}.log" &
  W_PID[$1]=$!
  PIDS+=($!)
}
start_api 1 # first: it makes the data directory's master key the others read
KEY=$("$SDRA" keys create --store "$STORE" --data "$D" --name scale --scope write) || fail "keys create --store"
start_api 2
for i in 1 2 3; do start_worker "$i"; done
API1="http://127.0.0.1:$(cat "$T/api1.port")"
API2="http://127.0.0.1:$(cat "$T/api2.port")"

# uploads through both nodes, 4 at a time, in the background while the chaos goes on
python3 - "$T/call.wav" "$KEY" "$N" "$T/ids" "$API1" "$API2" >"$T/upload.log" 2>&1 <<'PY' &
import json, sys, time, urllib.error, urllib.request, concurrent.futures as cf
wav, key, n, out, bases = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5:]
audio = open(wav, "rb").read()
def up(i):
    # as a client behind a load balancer would: a 5xx or a dead node is retried on the next node
    # under the same Idempotency-Key, so a retry never makes a second call
    for attempt in range(30):
        req = urllib.request.Request(f"{bases[(i + attempt) % 2]}/v1/calls?contact_email=c{i}@acme.example&company=Acme",
                                     data=audio, method="POST",
                                     headers={"Authorization": "Bearer " + key, "Content-Type": "audio/wav",
                                              "Idempotency-Key": f"scale-{i}"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return json.load(r)["id"]
        except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
            if isinstance(e, urllib.error.HTTPError) and e.code < 500:
                raise
            print(f"upload {i}: {e}; retrying", file=sys.stderr)
            time.sleep(1)
    raise SystemExit(f"upload {i} never succeeded")
with cf.ThreadPoolExecutor(4) as ex:
    ids = list(ex.map(up, range(n)))
open(out, "w").write("\n".join(ids) + "\n")
PY
UPLOADER=$!

# an event stream on API node 2 (never killed) for the first call it receives
python3 - "$API2" "$KEY" "$T/sse.jsonl" "$T/ids.sse" <<'PY' >"$T/sse.log" 2>&1 &
import json, sys, time, urllib.request
base, key, out, idf = sys.argv[1:5]
hdr = {"Authorization": "Bearer " + key}
calls = []
for _ in range(3000):
    try:
        with urllib.request.urlopen(urllib.request.Request(base + "/v1/calls?limit=1", headers=hdr), timeout=30) as r:
            calls = json.load(r)["calls"]
    except OSError:  # the store restarting: ask again
        pass
    if calls:
        break
    time.sleep(0.1)
cid = calls[0]["id"]
open(idf, "w").write(cid)
with urllib.request.urlopen(urllib.request.Request(f"{base}/v1/calls/{cid}/events", headers=hdr), timeout=600) as r, \
        open(out, "w") as f:
    ev = None
    for raw in r:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            ev = line[7:]
        elif line.startswith("data: "):
            f.write(json.dumps({"t": time.time(), "event": ev, "data": json.loads(line[6:])}) + "\n")
            f.flush()
            if ev == "done":
                break
PY
PIDS+=($!)

# the chaos: kill -9 a random worker every few seconds (started again at once); API node 1
# once the uploads are in; PostgreSQL restarted once
: >"$T/kills"
round=0 api_killed=0 pg_restarted=0
while :; do
  sleep "$((2 + RANDOM % 3)).$((RANDOM % 10))"
  round=$((round + 1))
  i=$((1 + RANDOM % 3))
  kill -9 "${W_PID[$i]}" 2>>"$T/noise.log"
  wait "${W_PID[$i]}" 2>>"$T/noise.log"
  echo "$(date +%s.%N) worker$i.${W_GEN[$i]}" >>"$T/kills"
  start_worker "$i"
  if [ "$api_killed" = 0 ] && ! kill -0 "$UPLOADER" 2>>"$T/noise.log"; then
    kill -9 "${API_PID[1]}" 2>>"$T/noise.log"
    wait "${API_PID[1]}" 2>>"$T/noise.log"
    api_killed=1
  fi
  if [ "$KIND" = pg ] && [ "$pg_restarted" = 0 ] && [ "$round" -ge 3 ]; then
    pg_restart || fail "PostgreSQL did not restart"
    pg_restarted=1
  fi
  [ "$round" -ge 8 ] && [ "$api_killed" = 1 ] && break
  [ "$round" -ge 200 ] && fail "the uploads never finished: $(tail -3 "$T/upload.log")"
done
[ "$KIND" != pg ] || [ "$pg_restarted" = 1 ] || fail "PostgreSQL was never restarted"
wait "$UPLOADER" || fail "uploads failed: $(tail -5 "$T/upload.log")"
[ "$(wc -l <"$T/ids")" = "$N" ] || fail "expected $N call ids"

# twice_done: fails at once when a stage of a call was committed more than once (a broken
# claim runs work again: waiting for every call to settle would only time out)
twice_done() {
  python3 - "$T" <<'PY' || fail "a stage committed twice"
import collections, glob, json, sys
n = collections.Counter()
for p in glob.glob(sys.argv[1] + "/worker*.log"):
    for l in open(p, errors="replace"):
        if l.startswith("{") and '"msg":"stage ' in l and ' done"' in l:
            try:
                r = json.loads(l)
            except ValueError:  # a line cut by kill -9
                continue
            n[(r.get("call_id"), r.get("msg"))] += 1
twice = [(k, v) for k, v in n.items() if v > 1]
assert not twice, f"{len(twice)} stage(s) committed more than once, e.g. {twice[0]}"
PY
}

# every call done (asked of the surviving API node)
deadline=$(( $(date +%s) + 900 ))
while :; do
  twice_done
  left=$(python3 - "$API2" "$KEY" "$T/ids" <<'PY'
import json, sys, urllib.request
base, key, idf = sys.argv[1:4]
ids = set(open(idf).read().split())
done, off = {}, 0
while off is not None:
    req = urllib.request.Request(f"{base}/v1/calls?limit=100&offset={off}", headers={"Authorization": "Bearer " + key})
    with urllib.request.urlopen(req, timeout=30) as r:
        page = json.load(r)
    for c in page["calls"]:
        done[c["id"]] = c["status"]
    off = page.get("next_offset")
bad = [i for i in ids if done.get(i) == "failed"]
if bad:
    print("FAILED", " ".join(bad))
else:
    print(sum(1 for i in ids if done.get(i) != "done"))
PY
)
  case "$left" in FAILED*) fail "calls failed: $left" ;; esac
  [ "$left" = 0 ] && break
  [ "$(date +%s)" -lt "$deadline" ] || fail "$left calls not done in time"
  sleep 1
done
ELAPSED=$(( $(date +%s) - T0 ))

# exactly one committed completion per call and stage; the API nodes ran no stage; recovery
python3 - "$T" "$T/ids" "$T/kills" "$LEASE_MS" <<'PY' || fail "stage commits"
import glob, json, os, sys, datetime
t, idf, killf, lease_ms = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ids = open(idf).read().split()
def recs(path):
    out = []
    for l in open(path, errors="replace"):
        if l.startswith("{"):
            try:
                r = json.loads(l)
            except ValueError:  # a line cut by kill -9
                continue
            r["_ts"] = datetime.datetime.fromisoformat(r["ts"].replace("Z", "+00:00")).timestamp()
            out.append(r)
    return out
wlogs = {os.path.basename(p)[:-4]: recs(p) for p in glob.glob(t + "/worker*.log")}
every = [r for rs in wlogs.values() for r in rs]
for p in glob.glob(t + "/api*.log"):
    assert not [r for r in recs(p) if r.get("stage")], "an API node ran stage work: " + p
stages = ["transcribe", "analyze", "compose", "sync", "report"]
killed = {line.split()[1] for line in open(killf)}
unlogged = set()  # committed by a worker killed between its commit and its "done" line
for cid in ids:
    for st in stages:
        n = sum(1 for r in every if r.get("call_id") == cid and r.get("msg") == f"stage {st} done")
        if n == 0:
            # the call is done (the store says so), so this stage was committed; with no "done"
            # line anywhere, the commit was a killed worker's, which started it and died before
            # it could log: that worker's log must show the start
            ran = [name for name, rs in wlogs.items() if name in killed and any(
                r.get("call_id") == cid and r.get("msg", "").startswith(f"stage {st} started") for r in rs)]
            assert ran, (cid, st, "committed, but no worker's log shows it started")
            unlogged.add((cid, st))
            continue
        assert n == 1, (cid, st, n)
if unlogged:
    print(f"{len(unlogged)} stage(s) committed by a worker killed before it logged the commit")
# lease expiry: the jobs a killed worker held, and when another process started them again
delays = []
for line in open(killf):
    kt, name = line.split()
    kt = float(kt)
    held = {}
    for r in wlogs.get(name, []):
        key = (r.get("call_id"), r.get("stage"))
        if r.get("msg", "").startswith(f"stage {key[1]} started"):
            held[key] = r["_ts"]
        elif r.get("msg", "").startswith(f"stage {key[1]} "):
            held.pop(key, None)
    for key in held:
        if key in unlogged:  # it committed before it died: nothing to take again
            continue
        again = [r["_ts"] for r in every if (r.get("call_id"), r.get("stage")) == key and
                 r.get("msg", "").startswith(f"stage {key[1]} started") and r["_ts"] > kt]
        assert again, ("a killed worker's job was never taken again", key)
        delays.append(min(again) - kt)
if delays:
    delays.sort()
    print(f"lease-expiry recovery: {len(delays)} jobs held by killed workers, taken again after "
          f"{delays[0]:.1f}-{delays[-1]:.1f} s (median {delays[len(delays)//2]:.1f} s; lease {lease_ms/1000:.1f} s)")
else:
    print("lease-expiry recovery: the kills found no job running")
PY

# SSE on the surviving API node: each stage a worker committed reached the stream
python3 - "$T" "$T/sse.jsonl" "$T/ids.sse" <<'PY' || fail "event stream"
import glob, json, sys, datetime
t, ssef, idf = sys.argv[1:4]
cid = open(idf).read().strip()
evs = [json.loads(l) for l in open(ssef)]
assert evs and evs[-1]["event"] == "done" and evs[-1]["data"]["status"] == "done", evs[-3:]
commits = {}
for p in glob.glob(t + "/worker*.log"):
    for l in open(p, errors="replace"):
        if l.startswith("{") and cid in l and '"msg":"stage ' in l and ' done"' in l:
            r = json.loads(l)
            commits[r["stage"]] = datetime.datetime.fromisoformat(r["ts"].replace("Z", "+00:00")).timestamp()
seen = {e["data"]["stage"]: e["t"] for e in evs if e["event"] == "stage" and e["data"]["state"] == "done"}
delays = []
for st, ct in commits.items():
    if st in seen:  # a stage done before the stream opened comes in its first event
        delays.append(max(0.0, seen[st] - ct))
assert "report" in seen, ("the last stage's completion never reached the stream", sorted(seen))
print("SSE delay on an API node without workers (worker commit -> event): " +
      ", ".join(f"{d:.2f}" for d in delays) + f" s (max {max(delays):.2f} s)")
PY

# no duplicate CRM rows
python3 - "$D/crm.sqlite3" "$T/ids" "$N" <<'PY' || fail "CRM rows"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
ids, n = open(sys.argv[2]).read().split(), int(sys.argv[3])
for email, k in db.execute("SELECT email, COUNT(*) FROM contacts GROUP BY email"):
    assert k == 1, ("duplicate contact", email, k)
assert db.execute("SELECT COUNT(*) FROM contacts").fetchone()[0] == n, "contacts"
for cid in ids:
    k = db.execute("SELECT COUNT(*) FROM activities WHERE call_id = ?", (cid,)).fetchone()[0]
    assert k == 1, ("activities", cid, k)
PY

# no duplicate outbox effects: one call.completed per call, delivered under one event id
for _ in $(seq 1 120); do
  got=$(python3 -c 'import json,sys
ok={json.loads(l)["call_id"] for l in open(sys.argv[1]) if json.loads(l)["status"]==200 and json.loads(l)["type"]=="call.completed"}
print(len(ok))' "$T/hook.jsonl" 2>>"$T/noise.log")
  [ "$got" = "$N" ] && break
  sleep 1
done
python3 - "$T/hook.jsonl" "$T/ids" <<'PY' || fail "webhook deliveries"
import json, sys, collections
rows = [json.loads(l) for l in open(sys.argv[1])]
ids = open(sys.argv[2]).read().split()
assert all(r["valid"] for r in rows), [r for r in rows if not r["valid"]][:3]
ev = collections.defaultdict(set)
for r in rows:
    if r["type"] == "call.completed" and r["status"] == 200:
        ev[r["call_id"]].add(r["event_id"])
for cid in ids:
    assert len(ev[cid]) == 1, ("call.completed events for", cid, ev[cid])
PY
Q="SELECT call_id || ' ' || kind || ' ' || COUNT(*) FROM outbox GROUP BY call_id, kind HAVING COUNT(*) > 1"
if [ "$KIND" = pg ]; then dup=$(psql_ -c "$Q" 2>&1); else dup=$(sqlite3 "$D/sdra.db" "$Q" 2>&1); fi
[ -z "$dup" ] || fail "duplicate outbox entries: $dup"
restarted=""
[ "$KIND" = pg ] && restarted=", PostgreSQL restarted once"
echo "scale_out_crash: ok ($N calls, store $KIND, $(wc -l <"$T/kills") worker kills, API node 1 killed$restarted, ${ELAPSED} s; load $(cut -d' ' -f1-3 /proc/loadavg))"
