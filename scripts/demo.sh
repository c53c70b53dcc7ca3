#!/usr/bin/env bash
# make demo: renders the bundled example discovery call (a dialogue script the project wrote,
# spoken by festival and flite voices, one party per stereo channel) and runs the main job on
# it: sdra run -> transcript, analysis, follow-up email, CRM update and report.
set -euo pipefail
SDRA=${1:-build/sdra}
root=$(cd "$(dirname "$0")/.." && pwd)
fixtures=${SDRA_FIXTURES:-$root/build/fixtures}
out=${DEMO_OUT:-$root/out/demo}

echo "== generating the example call (festival + flite voices)"
bash "$root/tests/fixtures/generate.sh" "$fixtures" >/dev/null
audio=$fixtures/discovery.stereo.wav
[ -f "$audio" ] || { echo "demo: $audio was not generated" >&2; exit 1; }

echo "== sdra run $(basename "$audio")"
"$SDRA" run "$audio" \
  --contact-email jordan.lee@northwind.example --contact-name "Jordan Lee" \
  --company "Northwind Logistics" --rep-name Alex --rep-email alex@brightwave.example \
  --rep-company Brightwave --call-date 2026-11-24 --rep-channel left --style friendly \
  --out "$out" --data "$out/data"

echo
echo "== CRM after the call"
"$SDRA" crm contacts --data "$out/data"
"$SDRA" crm tasks --data "$out/data"
echo
report=$(ls "$out"/discovery-*/report.html | head -1)
echo "Open the report in a browser: $report"
