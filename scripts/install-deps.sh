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
  # the telephone-band acoustic model, adapted at build time (scripts/build-narrowband-am.py)
  sphinxtrain
  # ... and two more voices for its adaptation speech (used when installed)
  festvox-kallpc16k festvox-kdlpc16k
  # tests: real recorded speech at 8 kHz with its text (tests/integration/transcribe_real_telephone.sh)
  asterisk-core-sounds-en-wav asterisk-core-sounds-en
  # documents, storage, crypto, HTTP
  libjansson-dev libsqlite3-dev sqlite3 libsodium-dev libmicrohttpd-dev libcurl4-openssl-dev curl
  # CRM connectors: RS256 signatures of the Salesforce JWT bearer flow (libcrypto)
  libssl-dev
  # tests: unit framework, speech synthesis for generated calls, audio tools, MIME parser
  libcmocka-dev clang libclang-rt-14-dev festival festvox-us-slt-hts flite sox python3
  # tests: self-signed certificates for the HTTPS server (tests/integration/server_tls.sh)
  openssl
  # tests: a WebSocket client that is not ours, for the live endpoints (tests/integration/live_calls.sh)
  python3-websockets
  # benchmarks
  wrk nginx-light time
  # tests: real mail servers for the SMTP/IMAP transports (tests/integration/lib/mailservers.sh
  # starts its own instances on loopback; the system services stay off, see below)
  postfix dovecot-imapd dovecot-lmtpd
  # the web app's libraries (npm, scripts/web-vendor.sh) and its browser tests (tests/web/)
  nodejs chromium
  # deployment checks: Kubernetes/KEDA manifest validation (node), the scaler queries (PostgreSQL)
  postgresql
  # the PostgreSQL job store (src/store/postgres.c) and its tests (tests/integration/lib/pg.sh)
  libpq-dev
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

# The web app's browser libraries and playwright-core, pinned by package-lock.json, into
# node_modules/ and data/web/vendor/ (docs/web.md).
web_vendor() {
  bash "$(dirname "$0")/web-vendor.sh"
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  npm_deps
  web_vendor
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# postfix unconfigured ("No configuration"), and no service may start while installing (a mail
# server bound to public ports): a policy-rc.d refuses starts unless one is already in place.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
policy_rc_made=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  $SUDO sh -c 'printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
  policy_rc_made=1
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [ -n "$policy_rc_made" ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
# postfix and dovecot are only test servers: never leave them running or enabled.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now postfix dovecot >/dev/null 2>&1 || true; fi
# nginx is only a benchmark reference: never leave it running as a system service.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true; fi
$SUDO nginx -s stop >/dev/null 2>&1 || true
# PostgreSQL only for the tests, which start their own server: no cluster left running.
if command -v pg_lsclusters >/dev/null 2>&1; then
  pg_lsclusters -h 2>/dev/null | while read -r v c _; do $SUDO pg_ctlcluster "$v" "$c" stop >/dev/null 2>&1 || true; done
fi
npm_deps
web_vendor
echo "install-deps: done"
