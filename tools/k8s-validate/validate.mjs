// validate.mjs DIR [--render FILE] [--queries FILE]: resolves the kustomization in DIR the way
// `kubectl kustomize` does for the features it uses (resources, namespace, labels, images),
// validates every object against the Kubernetes and KEDA schemas (the npm packages
// kubernetes-models and @kubernetes-models/keda, pinned in package-lock.json), then checks
// what the schemas cannot: references between objects, probes, resources, grace periods,
// secrets by reference, one ScaledObject and one PodDisruptionBudget per worker Deployment.
// Prints one line per problem and exits 1 when there is any; --render writes the resolved
// objects (JSON), --queries the KEDA PostgreSQL queries (JSON) for the SQL check in
// tests/integration/deploy_manifests.sh. Installed by scripts/install-deps.sh (npm ci).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, parse } from "yaml";

const here = path.dirname(fileURLToPath(import.meta.url));
const mods = path.join(here, "node_modules");
// The store's stage indices (the order of the pipeline's stages, src/pipeline/pipeline.c).
const STAGES = ["transcribe", "analyze", "compose", "sync", "report"];
const CHUNK_MAX_S = 30; // the longest chunk of audio one transcription unit decodes
const NAMESPACED = new Set(["Deployment", "Service", "PodDisruptionBudget", "ScaledObject",
  "TriggerAuthentication", "Secret", "ConfigMap"]);

const problems = [];
const problem = (where, msg) => problems.push(`${where}: ${msg}`);

function usage() {
  console.error("usage: node validate.mjs DIR [--render FILE] [--queries FILE]");
  process.exit(2);
}

const args = process.argv.slice(2);
let dir = null, renderOut = null, queriesOut = null;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--render") renderOut = args[++i];
  else if (args[i] === "--queries") queriesOut = args[++i];
  else if (!dir && !args[i].startsWith("-")) dir = args[i];
  else usage();
}
if (!dir || (args.includes("--render") && !renderOut) || (args.includes("--queries") && !queriesOut)) usage();

// ---- resolve the kustomization ----------------------------------------------------------
const kfile = path.join(dir, "kustomization.yaml");
let kust;
try {
  kust = parse(fs.readFileSync(kfile, "utf8"));
} catch (e) {
  console.error(`${kfile}: ${e.message.split("\n")[0]}`);
  process.exit(1);
}
if (kust?.apiVersion !== "kustomize.config.k8s.io/v1beta1" || kust?.kind !== "Kustomization")
  problem(kfile, "not a kustomize.config.k8s.io/v1beta1 Kustomization");
const known = new Set(["apiVersion", "kind", "namespace", "labels", "resources", "images"]);
for (const k of Object.keys(kust ?? {}))
  if (!known.has(k)) problem(kfile, `field '${k}' is not resolved by this checker (add it here first)`);
const resources = Array.isArray(kust?.resources) ? kust.resources : [];
if (!resources.length) problem(kfile, "no resources");
for (const f of fs.readdirSync(dir))
  if (/\.ya?ml$/.test(f) && f !== "kustomization.yaml" && !f.endsWith(".example.yaml") && !resources.includes(f))
    problem(path.join(dir, f), "not listed in kustomization.yaml resources");

const objects = [];
for (const r of resources) {
  const file = path.join(dir, r);
  let text;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    problem(file, "listed in kustomization.yaml but cannot be read");
    continue;
  }
  parseAllDocuments(text).forEach((doc, n) => {
    if (doc.errors.length) return problem(`${file} document ${n + 1}`, doc.errors[0].message.split("\n")[0]);
    const o = doc.toJS();
    if (o === null) return;
    objects.push({ o, where: `${file} document ${n + 1} (${o?.kind}/${o?.metadata?.name})` });
  });
}
const podSpecs = (o) => (o.kind === "Deployment" ? [o.spec?.template?.spec] : []).filter(Boolean);
for (const { o } of objects) {
  if (kust?.namespace && NAMESPACED.has(o.kind)) {
    o.metadata ??= {};
    o.metadata.namespace = kust.namespace;
  }
  for (const l of kust?.labels ?? []) {
    o.metadata ??= {};
    o.metadata.labels = { ...(o.metadata.labels ?? {}), ...(l.pairs ?? {}) };
  }
  for (const spec of podSpecs(o))
    for (const c of spec.containers ?? [])
      for (const im of kust?.images ?? [])
        if (c.image === im.name) c.image = `${im.newName ?? im.name}${im.newTag ? ":" + im.newTag : ""}`;
}

// ---- schemas --------------------------------------------------------------------------------
function modelPath(apiVersion, kind) {
  if (typeof apiVersion !== "string" || !/^[A-Za-z]+$/.test(kind ?? "")) return null;
  if (apiVersion.startsWith("keda.sh/"))
    return path.join(mods, "@kubernetes-models/keda", apiVersion, `${kind}.js`);
  return path.join(mods, "kubernetes-models", apiVersion, `${kind}.js`);
}
for (const { o, where } of objects) {
  const p = modelPath(o?.apiVersion, o?.kind);
  if (!p || !fs.existsSync(p)) {
    problem(where, `no schema for apiVersion '${o?.apiVersion}' kind '${o?.kind}'`);
    continue;
  }
  const mod = await import(p);
  try {
    new mod[o.kind](o).validate();
  } catch (e) {
    problem(where, `schema: ${e.message.split("\n")[0]}`);
  }
}

// ---- what the schemas do not check ----------------------------------------------------------
const byKind = (k) => objects.filter(({ o }) => o?.kind === k);
const matches = (sel, labels) =>
  sel && Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => labels?.[k] === v);
const qty = (v) => {
  const m = /^([0-9.]+)(m|Ki|Mi|Gi|k|M|G)?$/.exec(String(v ?? ""));
  if (!m) return NaN;
  const mult = { m: 1e-3, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, k: 1e3, M: 1e6, G: 1e9 }[m[2]] ?? 1;
  return parseFloat(m[1]) * mult;
};
const deployments = byKind("Deployment");
const auths = new Set(byKind("TriggerAuthentication").map(({ o }) => o.metadata?.name));
const queries = [];

for (const { o, where } of deployments) {
  const spec = o.spec?.template?.spec ?? {};
  const podLabels = o.spec?.template?.metadata?.labels;
  if (!matches(o.spec?.selector?.matchLabels, podLabels)) problem(where, "selector does not match the pod labels");
  if (spec.securityContext?.runAsNonRoot !== true) problem(where, "pods must set runAsNonRoot: true");
  const grace = spec.terminationGracePeriodSeconds;
  if (!(grace > CHUNK_MAX_S)) problem(where, `terminationGracePeriodSeconds (${grace}) must exceed a chunk's work (${CHUNK_MAX_S} s)`);
  for (const c of spec.containers ?? []) {
    const ports = new Set((c.ports ?? []).map((p) => p.name));
    for (const probe of ["readinessProbe", "livenessProbe"]) {
      const port = c[probe]?.httpGet?.port;
      if (!c[probe]?.httpGet?.path) problem(where, `container ${c.name} has no HTTP ${probe}`);
      else if (!ports.has(port)) problem(where, `container ${c.name} ${probe} names port '${port}' it does not expose`);
    }
    for (const r of ["cpu", "memory"]) {
      const req = qty(c.resources?.requests?.[r]), lim = qty(c.resources?.limits?.[r]);
      if (!(req > 0) || !(lim > 0)) problem(where, `container ${c.name} lacks a ${r} request or limit`);
      else if (req > lim) problem(where, `container ${c.name} requests more ${r} than its limit`);
    }
    for (const e of c.env ?? [])
      if (typeof e.value === "string" && /:\/\/[^/\s]*:[^@\s]*@/.test(e.value))
        problem(where, `env ${e.name} holds credentials inline: use secretKeyRef`);
    if (c.securityContext?.allowPrivilegeEscalation !== false) problem(where, `container ${c.name} allows privilege escalation`);
  }
  const a = spec.containers?.[0]?.args ?? [];
  if (a[0] !== "worker") continue;
  const stage = a[a.indexOf("--stages") + 1];
  if (a.indexOf("--stages") < 0 || !STAGES.includes(stage)) {
    problem(where, `worker without one known --stages (${stage})`);
    continue;
  }
  const pdbs = byKind("PodDisruptionBudget").filter(({ o: p }) => matches(p.spec?.selector?.matchLabels, podLabels));
  if (pdbs.length !== 1) problem(where, `${pdbs.length} PodDisruptionBudgets select its pods (want 1)`);
  const sos = byKind("ScaledObject").filter(({ o: s }) => s.spec?.scaleTargetRef?.name === o.metadata?.name);
  if (sos.length !== 1) {
    problem(where, `${sos.length} ScaledObjects scale it (want 1)`);
    continue;
  }
  const so = sos[0].o, sw = sos[0].where;
  for (const f of ["minReplicaCount", "maxReplicaCount", "cooldownPeriod", "pollingInterval"])
    if (!Number.isInteger(so.spec?.[f])) problem(sw, `${f} must be set`);
  if (so.spec?.minReplicaCount > so.spec?.maxReplicaCount) problem(sw, "minReplicaCount > maxReplicaCount");
  const trig = so.spec?.triggers ?? [];
  if (!trig.length) problem(sw, "no triggers");
  for (const t of trig) {
    if (t.type !== "postgresql") problem(sw, `trigger ${t.name}: type ${t.type}, not postgresql`);
    if (!auths.has(t.authenticationRef?.name)) problem(sw, `trigger ${t.name}: authenticationRef names no TriggerAuthentication`);
    for (const k of ["connectionFromEnv", "password", "connection", "passwordFromEnv"])
      if (t.metadata?.[k] !== undefined && k !== "connectionFromEnv") problem(sw, `trigger ${t.name}: ${k} inline (use authenticationRef)`);
    const q = t.metadata?.query;
    const m = /\bstage\s*=\s*(\d+)\b/.exec(q ?? "");
    if (!m) problem(sw, `trigger ${t.name}: the query does not select one stage`);
    else if (STAGES[+m[1]] !== stage) problem(sw, `trigger ${t.name}: query reads stage ${m[1]}, the workers run ${stage}`);
    if (!(parseFloat(t.metadata?.targetQueryValue) > 0)) problem(sw, `trigger ${t.name}: targetQueryValue must be > 0`);
    queries.push({ scaledObject: so.metadata?.name, trigger: t.name, stage: STAGES.indexOf(stage), query: q,
                   target: parseFloat(t.metadata?.targetQueryValue) });
  }
}
for (const { o, where } of byKind("ScaledObject"))
  if (!deployments.some(({ o: d }) => d.metadata?.name === o.spec?.scaleTargetRef?.name))
    problem(where, `scaleTargetRef '${o.spec?.scaleTargetRef?.name}' is no Deployment here`);
for (const { o, where } of byKind("PodDisruptionBudget"))
  if (!deployments.some(({ o: d }) => matches(o.spec?.selector?.matchLabels, d.spec?.template?.metadata?.labels)))
    problem(where, "selects no Deployment's pods");
for (const { o, where } of byKind("Service")) {
  const d = deployments.find(({ o: d }) => matches(o.spec?.selector, d.spec?.template?.metadata?.labels));
  if (!d) problem(where, "selects no Deployment's pods");
  const names = new Set((d?.o.spec.template.spec.containers ?? []).flatMap((c) => (c.ports ?? []).map((p) => p.name)));
  for (const p of o.spec?.ports ?? [])
    if (typeof p.targetPort === "string" && !names.has(p.targetPort)) problem(where, `targetPort '${p.targetPort}' is no container port`);
}
if (!deployments.some(({ o }) => o.spec?.template?.spec?.containers?.[0]?.args?.[0] === "serve"))
  problem(dir, "no API Deployment (sdra serve)");

if (renderOut) fs.writeFileSync(renderOut, JSON.stringify(objects.map(({ o }) => o), null, 1));
if (queriesOut) fs.writeFileSync(queriesOut, JSON.stringify(queries, null, 1));
for (const p of problems) console.error(p);
if (problems.length) process.exit(1);
console.log(`ok: ${objects.length} objects, ${queries.length} scaler queries`);
