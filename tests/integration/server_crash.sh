#!/usr/bin/env bash
# ctest-labels: asan-skip
# (skips the ASan pass: what it runs of our C code the other tests run under ASan; docs/testing.md)
# server_crash.sh - kill -9 the server while jobs are mid-stage (and once mid-upload), restart it
# on the same data directory each time, and check that every call still completes exactly once:
# every stage done once (one "done" commit per call and stage across all the runs' logs), one
# artifact per name with the recorded sha256 matching the file, no duplicate CRM rows (one
# contact per email, one activity and one scheduled email per call), and no leftovers of the
# interrupted upload. Each kill costs the jobs it interrupts an attempt (that is how a job that
# crashes its worker every time ends dead), so the server runs with --max-attempts 10 here.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
FIX=${SDRA_FIXTURES:?SDRA_FIXTURES must name the generated calls}
AUDIO="$FIX/short.stereo.wav"
[ -f "$AUDIO" ] || { echo "FAIL: $AUDIO missing (tests/fixtures/generate.sh)" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/server_crash.XXXXXX")
PID=
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; fi
  rm -rf "$T"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  tail -n 20 "$T"/run*.log >&2 2>/dev/null
  exit 1
}
D="$T/data"
KEY=$("$SDRA" keys create --data "$D" --name crash --scope write) || fail "keys create"
RUN=0
start() {
  RUN=$((RUN + 1))
  rm -f "$T/port"
  "$SDRA" serve --listen 127.0.0.1:0 --data "$D" --port-file "$T/port" --lease-ms 1500 --retry-base-ms 200 --max-attempts 10 \
    --log-level info 2>"$T/run$RUN.log" &
  PID=$!
  for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.1; done
  [ -s "$T/port" ] || fail "server run $RUN did not start"
  B="http://127.0.0.1:$(cat "$T/port")"
}
crash() {
  kill -9 "$PID" 2>/dev/null
  wait "$PID" 2>/dev/null
  PID=
} 2>/dev/null
A=(-H "Authorization: Bearer $KEY")
call_json() { curl -s --max-time 10 "${A[@]}" "$B/v1/calls/$1"; }
# running_stage ID: the stage now running, if any
running_stage() {
  call_json "$1" | python3 -c 'import json,sys
try: c=json.load(sys.stdin)
except Exception: sys.exit(0)
print(" ".join(s["name"] for s in c.get("stages",[]) if s["state"]=="running"))'
}

start
IDS=()
for who in ann@acme.example ann@acme.example; do  # the same contact twice: one contact row
  out=$(curl -s --max-time 60 "${A[@]}" -H 'Content-Type: audio/wav' --data-binary @"$AUDIO" \
    "$B/v1/calls?contact_email=$who&company=Acme&call_date=2026-11-20") || fail "upload failed"
  id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$out") || fail "upload: $out"
  IDS+=("$id")
done

# 1. kill while the first call is being transcribed
for _ in $(seq 1 300); do [[ $(running_stage "${IDS[0]}") == *transcribe* ]] && break; sleep 0.1; done
[[ $(running_stage "${IDS[0]}") == *transcribe* ]] || fail "transcription never started"
sleep 1
crash

# 2. kill in the middle of an upload (slow client) — nothing may be left of it
start
head -c $((3 * 1024 * 1024)) /dev/urandom > "$T/partial.bin"
curl -s --max-time 60 --limit-rate 200k "${A[@]}" -H 'Content-Type: audio/wav' --data-binary @"$T/partial.bin" \
  "$B/v1/calls" > /dev/null 2>&1 &
CURL=$!
sleep 2
ls "$D/tmp" | grep -q upload || fail "no upload in progress to interrupt"
crash
wait $CURL 2>/dev/null

# 3. then kill at random moments while work goes on, then let everything finish
for round in 1 2 3 4; do
  start
  sleep $((1 + RANDOM % 6)).$((RANDOM % 10))
  crash
done
start
ls "$D/tmp" | grep -q . && fail "interrupted upload left files in tmp/"

deadline=$(( $(date +%s) + 840 ))
for id in "${IDS[@]}"; do
  while :; do
    st=$(call_json "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null)
    [ "$st" = done ] && break
    [ "$st" = failed ] && fail "call $id failed: $(call_json "$id")"
    [ "$(date +%s)" -lt "$deadline" ] || fail "call $id not done in time ($st): $(call_json "$id")"
    sleep 1
  done
done
n=$(curl -s "${A[@]}" "$B/v1/calls?limit=100" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["calls"]))')
[ "$n" = 2 ] || fail "expected 2 calls, found $n (the interrupted upload must not count)"

for id in "${IDS[@]}"; do
  call_json "$id" > "$T/$id.json"
  python3 - "$T/$id.json" "$D" <<'PY' || fail "call $id: $(cat "$T/$id.json")"
import hashlib, json, os, subprocess, sys
c, data = json.load(open(sys.argv[1])), sys.argv[2]
assert all(s["state"] == "done" for s in c["stages"]), c["stages"]
names = [a["name"] for a in c["artifacts"]]
assert len(names) == len(set(names)), names
for n in ["transcript.json", "analysis.json", "email.json", "crm.json", "report.html"]:
    assert n in names, (n, names)
sdra = os.environ["SDRA"]
for a in c["artifacts"]:
    p = os.path.join(data, "calls", c["id"], a["name"])
    # encrypted at rest (docs/security.md): the recorded sha256 is the plaintext's
    plain = subprocess.run([sdra, "decrypt", p, "--data", data, "-o", "-"], capture_output=True, check=True).stdout
    h = hashlib.sha256(plain).hexdigest()
    assert h == a["sha256"], (a["name"], "file does not match the recorded sha256")
PY
done

# exactly one committed completion per call and stage across every run
cat "$T"/run*.log > "$T/all.log"
python3 - "$T/all.log" "${IDS[@]}" <<'PY' || fail "stage commits"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
for cid in sys.argv[2:]:
    for stage in ["transcribe", "analyze", "compose", "sync", "report"]:
        n = sum(1 for r in recs if r.get("call_id") == cid and r.get("msg") == f"stage {stage} done")
        assert n == 1, (cid, stage, n)
PY

python3 - "$D/crm.sqlite3" "${IDS[@]}" <<'PY' || fail "CRM rows"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for email, n in db.execute("SELECT email, COUNT(*) FROM contacts GROUP BY email"):
    assert n == 1, (email, n)
# both calls are ann's; encrypted at rest, her address is stored as its blind index
n = db.execute("SELECT COUNT(*) FROM contacts").fetchone()[0]
assert n == 1, ("contacts for ann", n)
assert db.execute("SELECT email FROM contacts").fetchone()[0].startswith("bx1:"), "contact email not blind-indexed"
for cid in sys.argv[2:]:
    n = db.execute("SELECT COUNT(*) FROM activities WHERE call_id = ?", (cid,)).fetchone()[0]
    assert n == 1, ("activities", cid, n)
    n = db.execute("SELECT COUNT(*) FROM emails WHERE call_id = ?", (cid,)).fetchone()[0]
    assert n <= 1, ("emails", cid, n)
PY
echo "server_crash: ok ($RUN server runs)"
