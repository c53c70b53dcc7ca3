#!/usr/bin/env bash
# ctest-labels: slow
# (skips the ASan pass: it checks files with Python and node, no C code of ours runs)
# deploy_manifests.sh - deploy/k8s (docs/deploy.md): the kustomization resolves and every
# object passes the Kubernetes and KEDA schemas and the cross-checks of
# tools/k8s-validate/validate.mjs (npm packages installed by scripts/install-deps.sh; nothing
# fetched here); broken copies are refused with a line naming the problem; and every KEDA
# scaler query runs on a real PostgreSQL (initdb in the scratch dir, a unix socket there,
# stopped at exit) against the jobs table as sdra creates it, answering the queue length and
# the oldest queued job's age of its own stage.
set -u
: "${SDRA:?}" "${SDRA_SRC:?}"
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup deploy_manifests
V="$SDRA_SRC/tools/k8s-validate/validate.mjs"
[ -d "$SDRA_SRC/tools/k8s-validate/node_modules/kubernetes-models" ] ||
  fail "tools/k8s-validate/node_modules missing: run scripts/install-deps.sh"

echo "== the manifests as committed"
node "$V" "$SDRA_SRC/deploy/k8s" --render "$T/render.json" --queries "$T/queries.json" > "$T/ok.log" 2>&1 ||
  fail "deploy/k8s does not validate: $(cat "$T/ok.log")"
python3 - "$T/render.json" "$T/queries.json" <<'PY' || fail "rendered objects"
import json, sys
objs, qs = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
kinds = [o["kind"] for o in objs]
assert kinds.count("ScaledObject") == 5 and kinds.count("Deployment") == 6, kinds
assert all(o["metadata"]["namespace"] == "sdra" for o in objs), "namespace not applied"
imgs = {c["image"] for o in objs if o["kind"] == "Deployment" for c in o["spec"]["template"]["spec"]["containers"]}
assert imgs == {"registry.example.com/sdra:0.1.0"}, imgs
assert sorted({q["stage"] for q in qs}) == [0, 1, 2, 3, 4] and len(qs) == 10, qs
res = {o["metadata"]["name"]: o["spec"]["template"]["spec"]["containers"][0]["resources"] for o in objs if o["kind"] == "Deployment"}
cpu = lambda v: float(v[:-1]) / 1000 if v.endswith("m") else float(v)
assert cpu(res["sdra-worker-transcribe"]["requests"]["cpu"]) >= 4 * cpu(res["sdra-worker-analyze"]["requests"]["cpu"]), res
# every pod shares the object store (--blob) and has a writable --data volume (the root
# filesystem is read-only): an upload on one API pod must be readable by a worker on another
for o in objs:
    if o["kind"] != "Deployment":
        continue
    spec = o["spec"]["template"]["spec"]
    for c in spec["containers"]:
        a = c.get("args", [])
        name = o["metadata"]["name"]
        assert "--blob" in a and a[a.index("--blob") + 1] == "$(SDRA_BLOB)", (name, "no --blob")
        assert any(e["name"] == "SDRA_BLOB" for e in c.get("env", [])), (name, "no SDRA_BLOB")
        assert "--data" in a, (name, "no --data")
        d = a[a.index("--data") + 1]
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        assert d in mounts and "emptyDir" in vols.get(mounts[d], {}), (name, "--data is not a writable volume")
PY

echo "== broken copies are refused"
# mutate NAME FILE PYTHON-EXPR EXPECTED: copies deploy/k8s, edits FILE's text with
# s = EXPR, and expects the validator to fail with a line matching EXPECTED.
mutate() {
  local name=$1 file=$2 expr=$3 want=$4
  rm -rf "$T/$name" && cp -r "$SDRA_SRC/deploy/k8s" "$T/$name"
  python3 -c "import sys; p=sys.argv[1]; s=open(p).read(); t=$expr; assert t != s, 'no change'; open(p,'w').write(t)" \
    "$T/$name/$file" || fail "$name: the edit did not apply"
  if node "$V" "$T/$name" > "$T/$name.out" 2>&1; then fail "$name: accepted"; fi
  grep -Eq "$want" "$T/$name.out" || fail "$name: wrong message: $(cat "$T/$name.out")"
}
mutate minrep worker-analyze.yaml 's.replace("minReplicaCount: 1", "minReplicaCount: one")' \
  'ScaledObject/sdra-worker-analyze.*minReplicaCount must be integer'
mutate target worker-sync.yaml 's.replace("name: sdra-worker-sync\n  minReplicaCount", "name: sdra-worker-syn\n  minReplicaCount")' \
  "scaleTargetRef 'sdra-worker-syn' is no Deployment"
mutate stage worker-report.yaml 's.replace("stage = 4 AND state IN", "stage = 3 AND state IN")' \
  'query reads stage 3, the workers run report'
mutate grace worker-transcribe.yaml 's.replace("terminationGracePeriodSeconds: 120", "terminationGracePeriodSeconds: 20")' \
  "terminationGracePeriodSeconds \(20\) must exceed"
mutate probe api.yaml 's.replace("port: http\n            periodSeconds: 5", "port: web\n            periodSeconds: 5")' \
  "readinessProbe names port 'web'"
mutate secret api.yaml 's.replace("valueFrom:\n                secretKeyRef:\n                  name: sdra-store\n                  key: store-url", "value: postgres://sdra:hunter2@db/sdra")' \
  'SDRA_STORE holds credentials inline'
mutate limits worker-transcribe.yaml 's.replace("requests:\n              cpu: \"1\"", "requests:\n              cpu: \"3\"")' \
  'requests more cpu than its limit'
mutate unlisted kustomization.yaml 's.replace("  - worker-sync.yaml\n", "")' \
  'worker-sync.yaml: not listed in kustomization.yaml'
mutate pdb worker-compose.yaml 's.replace("kind: PodDisruptionBudget", "kind: PodDisruptionBudgets")' \
  "no schema for apiVersion 'policy/v1' kind 'PodDisruptionBudgets'"

echo "== the scaler queries on a real PostgreSQL"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || fail "no PostgreSQL server binaries (scripts/install-deps.sh)"
as_pg=()
if [ "$(id -u)" = 0 ]; then as_pg=(runuser -u postgres --); chmod 755 "$T"; fi
mkdir -p "$T/pg" "$T/pgsock" && chmod 700 "$T/pg"
[ "$(id -u)" = 0 ] && chown postgres "$T/pg" "$T/pgsock"
"${as_pg[@]}" "$PGBIN/initdb" -D "$T/pg" -U sdra --auth=trust > "$T/initdb.log" 2>&1 || fail "initdb"
"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$T/pg" -l "$T/pgsock/postgres.log" -w \
  -o "-c listen_addresses='' -c unix_socket_directories='$T/pgsock'" start > "$T/pg_ctl.log" 2>&1 || fail "postgres did not start"
trap '"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$T/pg" -m immediate stop >/dev/null 2>&1; it_cleanup' EXIT
psql_() { psql -h "$T/pgsock" -U sdra -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

# The jobs table exactly as sdra creates it (its DDL is plain SQL both engines accept).
"$SDRA" keys create --data "$T/data" --name k --scope read > /dev/null || fail "keys create"
sqlite3 "$T/data/sdra.db" ".schema jobs" > "$T/jobs.sql"
grep -q "CREATE TABLE" "$T/jobs.sql" || fail "no jobs table in sdra.db"
psql_ -f "$T/jobs.sql" > "$T/ddl.log" 2>&1 || fail "the jobs DDL: $(cat "$T/ddl.log")"
now=$(date +%s%3N)
psql_ -c "INSERT INTO jobs (call_id, stage, state, run_after_ms, queued_ms) VALUES
  ('a', 0, 'queued', 0, $((now - 600000))), ('b', 0, 'queued', 0, $((now - 30000))),
  ('c', 0, 'running', 0, $((now - 900000))), ('d', 0, 'done', 0, $((now - 990000))),
  ('c', 1, 'queued', 0, $((now - 5000))), ('e', 2, 'dead', 0, $((now - 99000)))" || fail "insert jobs"
python3 - "$T/queries.json" > "$T/cases" <<'PY'
import json, sys
for q in json.load(open(sys.argv[1])):
    print(q["stage"], q["trigger"], q["query"], sep="\t")
PY
while IFS=$'\t' read -r stage trig q; do
  got=$(psql_ -c "$q" 2> "$T/q.err") || fail "stage $stage $trig: not valid SQL here: $(cat "$T/q.err")"
  [[ $got =~ ^[0-9]+(\.[0-9]+)?$ ]] || fail "stage $stage $trig: answer '$got' is not one number"
  # the ages are counted from $now, taken before the inserts: allow the seconds since
  case "$stage/$trig" in
    0/queue-length) lo=3 hi=3 ;;    # two queued + one running
    0/oldest-age) lo=599 hi=660 ;;  # 'a', queued ten minutes before $now
    1/queue-length) lo=1 hi=1 ;;
    1/oldest-age) lo=4 hi=65 ;;
    *) lo=0 hi=0 ;;                 # nothing queued or running (a dead job does not count)
  esac
  [ "${got%.*}" -ge $lo ] && [ "${got%.*}" -le $hi ] || fail "stage $stage $trig: answered $got, want $lo..$hi"
  echo "stage $stage $trig = $got"
done < "$T/cases"
echo "== the manifests' command lines are the CLI's"
# every flag a container passes is one its command documents in --help, and a worker's
# --drain-seconds ends before the kubelet's SIGKILL (terminationGracePeriodSeconds)
python3 - "$T/render.json" "$SDRA" <<'PY' || fail "manifest flags"
import json, subprocess, sys
objs, sdra = json.load(open(sys.argv[1])), sys.argv[2]
n = 0
for o in objs:
    if o["kind"] != "Deployment":
        continue
    spec = o["spec"]["template"]["spec"]
    for c in spec["containers"]:
        args = c.get("args", [])
        helptext = subprocess.run([sdra, args[0], "--help"], capture_output=True, text=True, check=True).stdout
        for a in args[1:]:
            if a.startswith("--"):
                assert f"  {a} " in helptext or f"  {a}\n" in helptext, (o["metadata"]["name"], a, "not in sdra", args[0], "--help")
                n += 1
        if args[0] == "worker":
            drain = int(args[args.index("--drain-seconds") + 1]) if "--drain-seconds" in args else 25
            assert drain < spec["terminationGracePeriodSeconds"], (o["metadata"]["name"], drain)
print(f"{n} flags checked")
PY
echo "PASS deploy_manifests"
