#!/usr/bin/env bash
# keys_store.sh - `sdra keys --store URL` (and $SDRA_STORE) manage the API keys of a job store
# that is not a data directory's SQLite file: a REAL PostgreSQL (tests/integration/lib/pg.sh).
#   1. bad input: an unknown scheme and an empty location are one line, exit 2, the password
#      not echoed; an unreachable store is one line, exit 1;
#   2. create, list, revoke and delete on PostgreSQL, each audited there (actor cli:USER);
#      nothing is written to the data directory's SQLite store;
#   3. an API node on the same store (`sdra serve --store URL`) accepts the key made with
#      --store, and refuses it once `keys revoke --store` has revoked it;
#   4. $SDRA_STORE stands for --store.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib/pg.sh"
it_setup keys_store

# 1. bad input (no database needed)
out=$("$SDRA" keys list --store 'mysql://u:s3cret@db/x' --data "$T/x" 2>&1); rc=$?
[ "$rc" = 2 ] || fail "unknown scheme: exit $rc ($out)"
[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && [[ "$out" == *"unknown scheme 'mysql'"* ]] || fail "unknown scheme: $out"
[[ "$out" == *s3cret* ]] && fail "the store URL's password was echoed: $out"
out=$("$SDRA" keys create --store '' --name a --scope read --data "$T/x" 2>&1); rc=$?
[ "$rc" = 2 ] && [[ "$out" == *"empty location"* ]] || fail "empty --store: exit $rc ($out)"
"$SDRA" keys --help | grep -q -- '--store URL' || fail "keys --help lacks --store"

pg_available || { echo "SKIP: no PostgreSQL server binaries (initdb, postgres)"; exit 0; }
pg_start
U=$SDRA_TEST_PG_URL
out=$("$SDRA" keys list --store "postgresql://sdra:$PG_PW@/sdra_test?host=$PG_DIR&port=1" --data "$T/x" 2>&1); rc=$?
[ "$rc" = 1 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "unreachable store: exit $rc ($out)"
[[ "$out" == *"$PG_PW"* ]] && fail "the password was echoed: $out"
psql_() { PGPASSWORD=$PG_PW "$PG_BIN/psql" -qtA -h "$PG_DIR" -p 5432 -U sdra -d sdra_test "$@"; }

# 2. create / list / revoke / delete on PostgreSQL
KEY=$("$SDRA" keys create --store "$U" --data "$T/data" --name bot --scope write --org acme) || fail "keys create --store"
[[ "$KEY" == sdra_* ]] || fail "keys create printed '$KEY'"
ID=${KEY:5:12}
[ "$(psql_ -c "SELECT name || ' ' || scope || ' ' || org FROM api_keys WHERE id = '$ID'")" = "bot write acme" ] ||
  fail "the key is not in PostgreSQL: $(psql_ -c 'SELECT id, name FROM api_keys')"
[ "$(psql_ -c "SELECT COUNT(*) FROM audit_log WHERE action = 'key.create' AND target = '$ID' AND actor LIKE 'cli:%'")" = 1 ] ||
  fail "the creation is not audited in PostgreSQL"
[ ! -e "$T/data/sdra.db" ] || fail "keys --store wrote the data directory's SQLite store"
"$SDRA" keys list --store "$U" --data "$T/data" --org acme >"$T/list.out" || fail "keys list --store"
grep -q "^$ID  bot" "$T/list.out" || fail "keys list --store: $(cat "$T/list.out")"

# 3. an API node on the store takes the key, then refuses it once revoked
"$SDRA" serve --no-workers --store "$U" --data "$T/data" --listen 127.0.0.1:0 --port-file "$T/api.port" \
  2>"$T/api.log" & PIDS+=($!)
wait_port_file "$T/api.port" "the API node did not start"
API="http://127.0.0.1:$(cat "$T/api.port")"
code=$(curl -s -o "$T/calls.json" -w '%{http_code}' -H "Authorization: Bearer $KEY" "$API/v1/calls")
[ "$code" = 200 ] || fail "GET /v1/calls with the key: $code $(cat "$T/calls.json")"
"$SDRA" keys revoke bot --store "$U" --data "$T/data" || fail "keys revoke --store"
code=$(curl -s -o "$T/calls.json" -w '%{http_code}' -H "Authorization: Bearer $KEY" "$API/v1/calls")
[ "$code" = 401 ] || fail "GET /v1/calls with the revoked key: $code"

# 4. $SDRA_STORE stands for --store; delete removes the row
SDRA_STORE=$U "$SDRA" keys delete "$ID" --data "$T/data" || fail "keys delete with \$SDRA_STORE"
[ "$(psql_ -c "SELECT COUNT(*) FROM api_keys WHERE id = '$ID'")" = 0 ] || fail "keys delete left the row"
[ "$(psql_ -c "SELECT COUNT(*) FROM audit_log WHERE target = '$ID' AND action IN ('key.revoke', 'key.delete')")" = 2 ] ||
  fail "revoke and delete are not both audited in PostgreSQL"
echo "keys_store: ok"
