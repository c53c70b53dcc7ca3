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
  # the web app's libraries (npm, scripts/web-vendor.sh) and its browser tests (tests/web/)
  nodejs chromium
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# The web app's browser libraries and playwright-core, pinned by package-lock.json, into
# node_modules/ and data/web/vendor/ (docs/web.md); npm comes with nodejs or as Debian's npm.
web_vendor() {
  if ! command -v npm >/dev/null 2>&1; then
    local SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  bash "$(dirname "$0")/web-vendor.sh"
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  web_vendor
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
web_vendor
echo "install-deps: done"
