#!/usr/bin/env bash
# worker_process.sh - `sdra worker` as its own process beside an API node (`sdra serve
# --no-workers`) on one SQLite store:
#   1. bad input: an unknown stage and an unknown store scheme are one line and exit 2 (the
#      password in the URL is not echoed);
#   2. a store that is not there yet: the worker logs each retry with a growing delay, stays up,
#      and once an API node has created the store and queued a call, processes it;
#   3. its listener serves /healthz, /readyz, /metrics and nothing else;
#   4. --stages: a transcribe-only worker leaves the later stages queued;
#   5. SIGTERM with --drain-seconds 900: the running job is finished, nothing new is claimed,
#      exit 0;
#   6. SIGTERM with --drain-seconds 0: the running job's lease is released at once (queued
#      again, the attempt not counted) and its stage asked to stop, exit 0; another worker
#      finishes the call.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup worker_process

# 1. bad input
out=$("$SDRA" worker --stages transcribe,nope --data "$T/x" 2>&1); rc=$?
[ "$rc" = 2 ] || fail "unknown stage: exit $rc ($out)"
[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && [[ "$out" == *"unknown stage 'nope'"* ]] || fail "unknown stage: $out"
out=$("$SDRA" worker --store 'mysql://u:s3cret@db/x' --data "$T/x" 2>&1); rc=$?
[ "$rc" = 2 ] || fail "unknown scheme: exit $rc ($out)"
[[ "$out" == *"unknown scheme 'mysql'"* ]] || fail "unknown scheme: $out"
[[ "$out" == *s3cret* ]] && fail "the store URL's password was echoed: $out"
"$SDRA" worker --help | grep -q -- '--drain-seconds' || fail "--help lacks --drain-seconds"
"$SDRA" --help | grep -q '^  worker ' || fail "sdra --help lacks the worker command"

flite -t "Hello Jordan, this is Alex from Brightwave. Could we meet next Tuesday at ten to go over \
the contract?" -o "$T/call.wav" || fail "flite"

# 2. the store does not exist yet: retries with backoff, then works
D="$T/data" STORE="sqlite:$T/data/sdra.db" # no directory yet: the API node makes it
W=(--store "$STORE" --data "$D" --lease-ms 3000 --retry-base-ms 200 --log-format json)
"$SDRA" worker "${W[@]}" --stages transcribe --listen 127.0.0.1:0 --port-file "$T/w1.port" --drain-seconds 900 \
  2>"$T/w1.log" &
W1=$!; PIDS+=($W1)
sleep 4
kill -0 $W1 2>>"$T/noise.log" || fail "the worker gave up on an unreachable store"
n=$(grep -c 'job store not available, retrying in' "$T/w1.log")
[ "$n" -ge 2 ] || fail "expected retry lines, got $n"
grep -q 'retrying in 1 s' "$T/w1.log" && grep -q 'retrying in 2 s' "$T/w1.log" || fail "no backoff in the retries"
"$SDRA" serve --no-workers "${W[@]}" --listen 127.0.0.1:0 --port-file "$T/api.port" 2>"$T/api.log" &
PIDS+=($!)
wait_port_file "$T/api.port" "API node did not start"
B="http://127.0.0.1:$(cat "$T/api.port")"
KEY=$("$SDRA" keys create --data "$D" --name w --scope write) || fail "keys create"
A=(-H "Authorization: Bearer $KEY")
upload() {
  curl -s --max-time 60 "${A[@]}" -H 'Content-Type: audio/wav' --data-binary @"$T/call.wav" \
    "$B/v1/calls?contact_email=$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
stage_state() { # stage_state ID STAGE
  curl -s --max-time 10 "${A[@]}" "$B/v1/calls/$1" | python3 -c 'import json,sys
c=json.load(sys.stdin); print(" ".join(s["state"] + ":" + str(s.get("attempts", 0)) for s in c["stages"] if s["name"]==sys.argv[1]))' "$2"
}
call_status() { curl -s --max-time 10 "${A[@]}" "$B/v1/calls/$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'; }
wait_stage() { # wait_stage ID STAGE STATE SECONDS
  local i
  for i in $(seq 1 $(($4 * 5))); do [[ $(stage_state "$1" "$2") == "$3"* ]] && return 0; sleep 0.2; done
  fail "call $1: stage $2 not $3 after $4 s ($(stage_state "$1" "$2"))"
}
ID1=$(upload one@acme.example) || fail "upload 1"
wait_stage "$ID1" transcribe done 240
grep -q '"msg":"stage transcribe done"' "$T/w1.log" || fail "the worker did not transcribe"
# 4. a transcribe-only worker leaves the next stage queued
sleep 2
wait_stage "$ID1" analyze queued 1

# 3. the worker's listener: probes and metrics only
WB="http://127.0.0.1:$(cat "$T/w1.port")"
[ "$(curl -s -o "$T/resp" -w '%{http_code}' "$WB/healthz")" = 200 ] || fail "worker /healthz"
[ "$(curl -s -o "$T/resp" -w '%{http_code}' "$WB/readyz")" = 200 ] || fail "worker /readyz"
curl -s "$WB/metrics" | grep -q '^sdra_queue_depth{stage="analyze"} 1' || fail "worker /metrics: $(curl -s "$WB/metrics" | grep queue_depth)"
[ "$(curl -s -o "$T/resp" -w '%{http_code}' "${A[@]}" "$WB/v1/calls")" = 404 ] || fail "the worker serves the API"

# 5. SIGTERM with time to drain: the running job finishes, nothing new is claimed
ID2=$(upload two@acme.example) || fail "upload 2"
wait_stage "$ID2" transcribe running 120
kill -TERM $W1
for _ in $(seq 1 3000); do kill -0 $W1 2>>"$T/noise.log" || break; sleep 0.2; done
kill -0 $W1 2>>"$T/noise.log" && fail "the draining worker did not exit"
wait $W1; rc=$?
[ "$rc" = 0 ] || fail "draining worker exit $rc"
[[ $(stage_state "$ID2" transcribe) == done:1 ]] || fail "the drained job did not finish: $(stage_state "$ID2" transcribe)"
python3 - "$T/w1.log" <<'PY' || fail "the draining worker claimed after SIGTERM"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
sig = next(i for i, r in enumerate(recs) if r["msg"].startswith("signal 15"))
assert not [r for r in recs[sig:] if r["msg"].startswith("stage ") and " started" in r["msg"]], recs[sig:]
PY

# 6. SIGTERM with no time to drain: the lease is released at once, the attempt not counted
"$SDRA" worker "${W[@]}" --stages transcribe --drain-seconds 0 2>"$T/w2.log" &
W2=$!; PIDS+=($W2)
ID3=$(upload three@acme.example) || fail "upload 3"
wait_stage "$ID3" transcribe running 120
kill -TERM $W2
for _ in $(seq 1 50); do grep -q 'lease released' "$T/w2.log" && break; sleep 0.2; done
grep -q 'lease released' "$T/w2.log" || fail "no lease released within 10 s of SIGTERM"
st=$(stage_state "$ID3" transcribe)
[[ "$st" == queued:1 ]] || fail "the stopped job is not queued again at once (attempt not counted): $st"
# the decoder may finish its chunk before it looks at the cancel flag: then the process ends
wait $W2; rc=$?
[ "$rc" = 0 ] || fail "worker exit $rc after SIGTERM"
# a worker for every stage finishes all three calls; the released job runs again at once
"$SDRA" worker "${W[@]}" 2>"$T/w3.log" &
PIDS+=($!)
for id in "$ID1" "$ID2" "$ID3"; do
  for _ in $(seq 1 600); do [ "$(call_status "$id")" = done ] && break; sleep 0.5; done
  [ "$(call_status "$id")" = done ] || fail "call $id not done: $(curl -s "${A[@]}" "$B/v1/calls/$id")"
done
# a worker decodes each job on one thread (--transcribe-jobs 1, its default): its parallelism
# is --concurrency and its replicas, not a thread per core of the node (docs/scaling.md)
grep -q 'transcribed in .* (1 jobs)' "$T/w3.log" || fail "the worker did not decode on one thread: $(grep -o 'transcribed in .*' "$T/w3.log" | head -1)"
echo "worker_process: ok"
