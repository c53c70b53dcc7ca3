#!/usr/bin/env bash
# make demo: placeholder until the end-to-end work lands.
set -euo pipefail
"$1" --help
