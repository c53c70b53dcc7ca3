#!/usr/bin/env bash
# bench/coach.sh - the live coach's cost per update does not grow with the call (issue 17).
#
# Runs tests/unit/live/test_coach_cost.c (built as live_test_coach_cost in the build tree): a
# 2-minute and a 60-minute synthetic call (the labelled dialogues of tests/analysis repeated at
# 150 words a minute) are fed to the coach utterance by utterance; it prints the median CPU time
# of one update in the 2-minute call and in the last 2 minutes of the 60-minute one, their
# ratio (the unit test checks the work, not the time), and what analysing the whole 60-minute transcript costs: the
# naive update, about 12 times the windowed one here. RUNS times.
#
# usage: bench/coach.sh [BUILD_DIR] [RUNS]     (default: build, 3 runs)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${SDRA_BUILD:-$src/build}}
runs=${2:-3}
exe=$build/live_test_coach_cost
[ -x "$exe" ] || { echo "bench: $exe: not built (cmake --build $build --target live_test_coach_cost)" >&2; exit 1; }
export SDRA_SHARE_DIR=${SDRA_SHARE_DIR:-$src/data}
one_core=""
command -v taskset > /dev/null && one_core="taskset -c 0"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in $(seq "$runs"); do
    if ! COACH_BENCH=1 $one_core "$exe" > "$tmp/out" 2>&1; then
        cat "$tmp/out" >&2
        exit 1
    fi
    grep '^coach:' "$tmp/out"
done
