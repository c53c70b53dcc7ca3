#!/usr/bin/env bash
# web-vendor.sh - puts the web app's third-party browser libraries where `sdra serve` serves
# them (data/web/vendor/, git-ignored): `npm ci` installs the versions pinned in package.json
# and package-lock.json into node_modules/ (from the npm registry, at install time only), then
# the files the app loads are copied. Nothing is fetched when the app runs. Run by
# scripts/install-deps.sh; quick when node_modules is current. Also installs playwright-core,
# the driver of the browser tests (tests/web/).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
command -v npm >/dev/null || { echo "web-vendor: npm is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
V=data/web/vendor
mkdir -p "$V"
cp node_modules/wavesurfer.js/dist/wavesurfer.esm.js "$V/wavesurfer.esm.js"
cp node_modules/uplot/dist/uPlot.esm.js "$V/uPlot.esm.js"
cp node_modules/uplot/dist/uPlot.min.css "$V/uPlot.min.css"
cp node_modules/wavesurfer.js/LICENSE "$V/wavesurfer.LICENSE" 2>/dev/null || true
cp node_modules/uplot/LICENSE "$V/uPlot.LICENSE" 2>/dev/null || true
echo "web-vendor: data/web/vendor is current"
