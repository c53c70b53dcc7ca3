# tests/integration/lib/outbox.sh - sourced (after scratch.sh) by the tests that queue outbox
# entries by hand and deliver them with `sdra outbox deliver` (no server): drain the outbox,
# and check an entry as `sdra outbox show` prints it. Needs $SDRA and the sqlite3 CLI.
#
#     outbox_drain "$D"                                   # appends to $T/deliver.out / .log
#     outbox_expect "$D" crm.sync:c-1 dead 1 "HTTP 409"   # state, attempts, last_error parts

# outbox_drain DATA: `sdra outbox deliver --once` until nothing is queued or running (a retry
# is due within its short backoff: at most 3 attempts, 20 ms apart and doubling).
outbox_drain() {
  for _ in $(seq 1 40); do
    "$SDRA" outbox deliver --once --data "$1" --outbox-max-attempts 3 --outbox-retry-base-ms 20 \
      >>"$T/deliver.out" 2>>"$T/deliver.log" || fail "outbox deliver failed"
    [ "$(sqlite3 "$1/sdra.db" "SELECT COUNT(*) FROM outbox WHERE state IN ('queued','running')")" = 0 ] && return 0
    sleep 0.1
  done
  fail "entries still queued: $(sqlite3 "$1/sdra.db" "SELECT idem_key, state, attempts FROM outbox WHERE state IN ('queued','running')")"
}

# outbox_expect DATA KEY STATE ATTEMPTS TEXT...: `sdra outbox show` gives that state and number
# of attempts and a one-line last_error holding every TEXT, and nothing matching $SECRETS_RE.
# The output stays in $T/show.txt.
outbox_expect() {
  local d=$1 key=$2 state=$3 attempts=$4
  shift 4
  "$SDRA" outbox show --data "$d" "$key" >"$T/show.txt" 2>"$T/show.err" || fail "show $key: $(cat "$T/show.err")"
  grep -q "^state: *$state\$" "$T/show.txt" || fail "$key: want $state: $(cat "$T/show.txt")"
  grep -q "^attempts: *$attempts\$" "$T/show.txt" || fail "$key: want $attempts attempts: $(cat "$T/show.txt")"
  [ "$(grep -c '' "$T/show.txt")" = 11 ] || fail "$key: last_error is not one line: $(cat "$T/show.txt")"
  local w
  for w in "$@"; do
    grep "^last_error:" "$T/show.txt" | grep -qF -- "$w" || fail "$key: '$w' not in: $(grep last_error "$T/show.txt")"
  done
  if [ -n "${SECRETS_RE:-}" ] && grep -qE "$SECRETS_RE" "$T/show.txt"; then fail "$key: a secret is shown"; fi
  return 0
}
