# tests/integration/lib/expect_fail.sh - sourced by the mail tests (after scratch.sh): runs a
# command that must fail the way sdra's mail transports fail, with one line that ends in
# [retryable] or [permanent] and an exit status to match.
#
#     SECRETS_RE='pw-1|token-2'   # an extended regex of what must never be printed
#     expect_fail "what" 75 "substring" retryable -- "$SDRA" mail send ...

expect_fail() { # expect_fail WHAT RC SUBSTRING KIND -- cmd...
  local what=$1 want_rc=$2 want=$3 kind=$4
  shift 5
  "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  [ "$rc" = "$want_rc" ] || fail "$what: exit $rc, expected $want_rc: $(cat "$T/err")"
  [ "$(wc -l <"$T/err")" = 1 ] || fail "$what: stderr is not one line: $(cat "$T/err")"
  grep -qF -- "$want" "$T/err" || fail "$what: '$(cat "$T/err")' lacks '$want'"
  grep -qF "[$kind]" "$T/err" || fail "$what: not [$kind]: $(cat "$T/err")"
  if grep -qE "${SECRETS_RE:?}" "$T/err" "$T/out"; then fail "$what: a secret is in the output"; fi
  [ -s "$T/out" ] && fail "$what: printed a remote id on failure: $(cat "$T/out")"
  return 0
}
