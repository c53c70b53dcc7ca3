#!/bin/bash
# contract_pg.sh CONTRACT_EXE [SDRA] - the store contract suite (test_contract.c) against a REAL
# PostgreSQL that this script starts (tests/integration/lib/pg.sh: initdb in a temporary
# directory, a unix socket only, stopped at exit), then, given the CLI, its bad-input lines:
# `sdra serve --store URL` with a wrong password, a missing database and an unreachable port
# each print one line naming the problem and exit 1. Registered in CMakeLists.txt as
# store_contract_pg (labels unit, store, postgres).
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../integration" && pwd)
. "$HERE/lib/scratch.sh"
. "$HERE/lib/pg.sh"
CONTRACT=$1
SDRA=${2:-}
it_setup store-contract-pg
if ! pg_available; then
  # CI installs postgresql (scripts/install-deps.sh); only a bare machine gets here
  echo "SKIP: no PostgreSQL server binaries (initdb, postgres) or no user to run them as"
  exit 0
fi
pg_start
"$CONTRACT" || fail "the store contract suite failed against PostgreSQL"

[ -n "$SDRA" ] || exit 0
# serve --store URL: each bad store is one line and exit 1, before anything listens
bad_store() { # bad_store URL EXPECTED-TEXT
  local out rc
  out=$("$SDRA" serve --store "$1" --listen 127.0.0.1:0 --data "$T/data" 2>&1 </dev/null); rc=$?
  [ "$rc" = 1 ] || fail "serve --store $1: exit $rc, wanted 1 ($out)"
  [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "serve --store $1: more than one line: $out"
  case "$out" in *"$2"*) ;; *) fail "serve --store $1: '$out' does not say '$2'" ;; esac
  case "$out" in *"$PG_PW"*|*wrong-pw*) fail "serve --store: the password leaked: $out" ;; esac
}
q="?host=$PG_DIR&port=5432"
bad_store "postgresql://sdra:wrong-pw@/sdra_test$q" "refused the login of user sdra"
bad_store "postgresql://sdra:$PG_PW@/no_such_db$q" "has no database no_such_db"
bad_store "postgresql://sdra:$PG_PW@127.0.0.1:1/sdra_test?connect_timeout=5" "cannot reach PostgreSQL at 127.0.0.1:1"
echo "ok: contract suite and bad store URLs against PostgreSQL"
