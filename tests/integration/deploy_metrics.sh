#!/usr/bin/env bash
# deploy_metrics.sh - the per-stage metrics an autoscaler reads on /metrics (docs/deploy.md):
# an API-only server (--no-workers) with two uploaded calls reports the transcribe queue's
# length and the age of its oldest job, growing while nothing works; a server with workers on
# the same data directory then runs them, and reports the queue empty, nothing in flight and
# a duration histogram for every stage.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
FIX=${SDRA_FIXTURES:?SDRA_FIXTURES must name the generated calls}
AUDIO="$FIX/tiny.stereo.wav" # the shortest call: recognition is not the subject here
[ -f "$AUDIO" ] || { echo "FAIL: $AUDIO missing (tests/fixtures/generate.sh)" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup deploy_metrics

start() {
  local name=$1; shift
  rm -f "$T/$name.port"
  "$SDRA" serve --listen 127.0.0.1:0 --data "$D" --port-file "$T/$name.port" "$@" 2>"$T/$name.log" &
  PIDS+=($!)
  for _ in $(seq 1 100); do [ -s "$T/$name.port" ] && break; sleep 0.1; done
  [ -s "$T/$name.port" ] || fail "server $name did not start"
  PORT=$(cat "$T/$name.port")
}
# metric URL NAME{LABELS}: prints the sample's value (empty when absent).
metric() {
  curl -s --max-time 10 "$1/metrics" > "$T/metrics" || fail "GET $1/metrics"
  awk -v k="$2" '$1 == k { print $2 }' "$T/metrics"
}

D="$T/data"
KEY=$("$SDRA" keys create --data "$D" --name w --scope admin) || fail "keys create failed"
echo "== API-only: two calls wait in the transcribe queue"
start api --no-workers
API="http://127.0.0.1:$PORT"
for i in 1 2; do
  code=$(curl -s -o "$T/up$i" -w '%{http_code}' -H "Authorization: Bearer $KEY" -F "audio=@$AUDIO;type=audio/wav" \
    -F contact_email=jordan@acme.example -F company=Acme -F "rep_name=Sam Rivera" "$API/v1/calls")
  [ "$code" = 202 ] || fail "upload $i answered $code: $(cat "$T/up$i")"
  sleep 1
done
[ "$(metric "$API" 'sdra_queue_depth{stage="transcribe"}')" = 2 ] || fail "queue length is not 2: $(grep queue "$T/metrics")"
[ "$(metric "$API" 'sdra_queue_depth{stage="analyze"}')" = 0 ] || fail "analyze queue is not empty"
age1=$(metric "$API" 'sdra_queue_oldest_age_seconds{stage="transcribe"}')
[ -n "$age1" ] || fail "no sdra_queue_oldest_age_seconds for transcribe: $(grep -c . "$T/metrics") lines"
sleep 1.5
age2=$(metric "$API" 'sdra_queue_oldest_age_seconds{stage="transcribe"}')
python3 -c 'import sys; a, b = map(float, sys.argv[1:]); assert 1.0 <= a < 60 and b >= a + 1.0, (a, b)' "$age1" "$age2" \
  || fail "the oldest job's age does not grow from ~1 s: $age1 then $age2"
[ "$(metric "$API" 'sdra_queue_oldest_age_seconds{stage="analyze"}')" = 0 ] || fail "empty queue's age is not 0"
grep -q '^# TYPE sdra_queue_oldest_age_seconds gauge' "$T/metrics" || fail "age gauge has no TYPE line"

echo "== a server with workers runs them"
start work --concurrency transcribe=2
WORK="http://127.0.0.1:$PORT"
for _ in $(seq 1 600); do
  [ "$(metric "$WORK" 'sdra_jobs{stage="report",state="done"}')" = 2 ] && break
  sleep 1
done
[ "$(metric "$WORK" 'sdra_jobs{stage="report",state="done"}')" = 2 ] || fail "the worker server did not finish both calls"
for st in transcribe analyze compose sync report; do
  [ "$(metric "$WORK" "sdra_queue_depth{stage=\"$st\"}")" = 0 ] || fail "$st queue not empty"
  [ "$(metric "$WORK" "sdra_queue_oldest_age_seconds{stage=\"$st\"}")" = 0 ] || fail "$st oldest age not 0"
  [ "$(metric "$WORK" "sdra_jobs_in_flight{stage=\"$st\"}")" = 0 ] || fail "$st still in flight"
  [ "$(metric "$WORK" "sdra_stage_duration_seconds_count{stage=\"$st\",outcome=\"ok\"}")" = 2 ] ||
    fail "$st has no duration histogram of 2 runs"
  grep -qF "sdra_stage_duration_seconds_bucket{stage=\"$st\",outcome=\"ok\",le=\"+Inf\"} 2" "$T/metrics" ||
    fail "$st histogram has no +Inf bucket"
done
echo "PASS deploy_metrics"
