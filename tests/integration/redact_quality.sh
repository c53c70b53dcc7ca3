#!/usr/bin/env bash
# ctest-labels: slow
# redact_quality.sh - precision and recall of PII redaction on the labelled sentences in
# tests/privacy/labelled.txt (tests/privacy/score.py). The floor is below today's figures
# (docs/privacy-redaction.md) so that a regression, not a new known miss, fails it.
set -euo pipefail
SDRA=${1:-${SDRA:?}}
SRC=${SDRA_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
python3 "$SRC/tests/privacy/score.py" "$SDRA" "$SRC/tests/privacy/labelled.txt" -v \
  --min-precision 0.95 --min-recall 0.90
