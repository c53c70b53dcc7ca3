#!/usr/bin/env bash
# Installs the Debian 12 packages sdr-assistant needs to build, test, benchmark and demo.
# Idempotent and quick when everything is present: it asks dpkg first and calls apt-get only
# for what is missing. Needs root (or sudo) only when something is missing.
set -euo pipefail

PKGS=(
  # toolchain
  build-essential cmake pkg-config git
  # audio ingest
  ffmpeg libavformat-dev libavcodec-dev libavutil-dev libswresample-dev
  # speech recognition (embedded default) and its reference tools / test data
  libpocketsphinx-dev libsphinxbase-dev pocketsphinx pocketsphinx-en-us pocketsphinx-testdata
  sphinxbase-utils
  # documents, storage, crypto, HTTP
  libjansson-dev libsqlite3-dev sqlite3 libsodium-dev libmicrohttpd-dev libcurl4-openssl-dev curl
  # tests: unit framework, speech synthesis for generated calls, audio tools, MIME parser
  libcmocka-dev clang libclang-rt-14-dev festival festvox-us-slt-hts flite sox python3
  # tests: self-signed certificates for the HTTPS server (tests/integration/server_tls.sh)
  openssl
  # benchmarks
  wrk nginx-light time
  # deployment checks: Kubernetes/KEDA manifest validation (node), the scaler queries (PostgreSQL)
  nodejs postgresql
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# The tests' npm packages (tools/*/package-lock.json, e.g. the Kubernetes and KEDA schemas),
# exactly as locked; again only when the lock file changed. Nothing is fetched at test time.
npm_deps() {
  local lock d
  # Debian's nodejs ships npm separately; other nodejs builds bundle it (and conflict with it).
  if ! command -v npm >/dev/null 2>&1; then
    $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  for lock in "$(dirname "$0")"/../tools/*/package-lock.json; do
    [ -f "$lock" ] || continue
    d=$(dirname "$lock")
    cmp -s "$lock" "$d/node_modules/.sdra-lock" && continue
    echo "install-deps: npm ci in $d"
    (cd "$d" && npm ci --no-audit --no-fund --loglevel=error >/dev/null && cp package-lock.json node_modules/.sdra-lock)
  done
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  npm_deps
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# nginx is only a benchmark reference: never leave it running as a system service.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true; fi
$SUDO nginx -s stop >/dev/null 2>&1 || true
# PostgreSQL only for the tests, which start their own server: no cluster left running.
if command -v pg_lsclusters >/dev/null 2>&1; then
  pg_lsclusters -h 2>/dev/null | while read -r v c _; do $SUDO pg_ctlcluster "$v" "$c" stop >/dev/null 2>&1 || true; done
fi
npm_deps
echo "install-deps: done"
