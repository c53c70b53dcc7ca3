#!/usr/bin/env bash
# Builds a long mono call for benchmarks: OUTDIR/long-<MINUTES>m.wav (16 kHz mono) with exact
# references (.txt, .stm, .rttm, .ref.json), by concatenating the generated example calls.
#
# Usage: scripts/make-long-call.sh OUTDIR MINUTES
#
# The example calls are generated first (tests/fixtures/generate.sh) into $SDRA_FIXTURES when
# set, else OUTDIR/fixtures; that step is a no-op when they are up to date. The result is
# at least MINUTES long (whole calls only) and is skipped when already present and up to date.
set -euo pipefail

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ $# -ne 2 ]; then
  echo "usage: $0 OUTDIR MINUTES" >&2
  exit 2
fi
outdir="$1"
minutes="$2"
if ! [[ "$minutes" =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
  echo "make-long-call: error: MINUTES must be a number, got '$minutes'" >&2
  exit 2
fi
fixtures="${SDRA_FIXTURES:-$outdir/fixtures}"
bash "$src/tests/fixtures/generate.sh" "$fixtures"

name="long-$(python3 -c 'import sys; print("%g" % float(sys.argv[1]))' "$minutes")m"
wav="$outdir/$name.wav"
stamp="$outdir/.$name.inputs"
digest="$(cat "$fixtures"/.*.inputs "$src/scripts/make-long-call.sh" | sha256sum | cut -d' ' -f1)"
if [ -f "$wav" ] && [ -f "$outdir/$name.stm" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then
  echo "make-long-call: $wav up to date"
  exit 0
fi
python3 "$src/tests/fixtures/render_calls.py" long "$outdir" "$minutes" "$fixtures"
echo "$digest" > "$stamp"
