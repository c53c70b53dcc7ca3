# tests/integration/lib/scratch.sh - sourced by the integration tests that start servers: one
# scratch directory, every server they start stopped at exit, and fail() that shows the tail
# of each log in the scratch directory. (Not a test itself: CTest runs only
# tests/integration/*.sh.)
#
#     . "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
#     it_setup server_api        # $T = a new scratch dir; PIDS=() and PID= are killed at exit
#     "$SDRA" serve ... 2>"$T/serve.log" & PIDS+=($!)
#     [ ... ] || fail "what went wrong"

# it_setup NAME: makes $T (removed at exit) and arms the cleanup.
it_setup() {
  T=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  PIDS=()
  PID=
  trap it_cleanup EXIT
}

# (Each step may fail, a process already gone, and must not stop the rest under set -e.)
it_cleanup() {
  local p
  for p in "${PIDS[@]}" $PID; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}" $PID; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}

# fail MESSAGE: prints it and the last lines of every log in $T, then exits 1.
fail() {
  echo "FAIL: $*" >&2
  local f
  for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f (tail)" >&2; tail -n 15 "$f" >&2; }; done
  exit 1
}

# wait_port_file FILE MSG: waits up to 10 s for a server started with --port-file FILE to write
# its port there; fails with MSG when it does not.
wait_port_file() {
  for _ in $(seq 1 100); do [ -s "$1" ] && return 0; sleep 0.1; done
  fail "$2"
}
