# tests/integration/lib/pg.sh - sourced by the tests that need a REAL PostgreSQL (Debian's
# postgresql package): initdb into a new temporary directory, postgres on a unix socket in that
# directory only (no TCP), password (SCRAM) authentication, a database created, and the server
# stopped (pg_ctl stop -m immediate) and its directory removed at exit. No system service is
# used or left running.
#
# initdb and postgres refuse to run as root: as root (CI runs in a container as root) the
# server runs as the user postgres (created by the Debian package), else nobody, through
# runuser; the client side (the test) stays root.
#
#     . "$(dirname "${BASH_SOURCE[0]}")/lib/pg.sh"
#     pg_available || { echo "SKIP: no PostgreSQL server binaries"; exit 0; }
#     pg_start                      # exports SDRA_TEST_PG_URL, PG_DIR, PG_PW, PG_BIN
#     "$SDRA" serve --store "$SDRA_TEST_PG_URL" ...

PG_PW='sdra-Test-pw-3e71c9'

# The directory holding initdb, postgres and pg_ctl (PATH first, then Debian's versioned dirs).
pg_bin_dir() {
  local d
  if command -v initdb >/dev/null 2>&1; then
    d=$(dirname "$(readlink -f "$(command -v initdb)")")
    [ -x "$d/postgres" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -Vr); do
    [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  done
  return 1
}

# The user the server runs as: ourselves, or (as root) postgres / nobody.
pg_run_user() {
  if [ "$(id -u)" != 0 ]; then id -un; return 0; fi
  if id postgres >/dev/null 2>&1; then echo postgres; return 0; fi
  if id nobody >/dev/null 2>&1; then echo nobody; return 0; fi
  return 1
}

pg_available() {
  pg_bin_dir >/dev/null || return 1
  [ "$(id -u)" != 0 ] && return 0
  command -v runuser >/dev/null && pg_run_user >/dev/null
}

# as_pg CMD...: runs CMD as the server's user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi
}

pg_start() {
  PG_BIN=$(pg_bin_dir) || { echo "FAIL: no PostgreSQL server binaries (initdb, postgres)" >&2; exit 1; }
  PG_USER=$(pg_run_user) || { echo "FAIL: no user to run PostgreSQL as (root cannot)" >&2; exit 1; }
  # a short path: the socket's path must stay under 107 bytes
  PG_DIR=$(mktemp -d /tmp/sdra-pg.XXXXXX)
  trap 'pg_stop; it_cleanup' EXIT
  printf '%s\n' "$PG_PW" >"$PG_DIR/pw"
  chmod 700 "$PG_DIR"
  chmod 600 "$PG_DIR/pw"
  [ "$(id -u)" = 0 ] && chown -R "$PG_USER" "$PG_DIR"
  as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U sdra --pwfile="$PG_DIR/pw" --auth=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 ||
    { cat "$PG_DIR/initdb.log" >&2; echo "FAIL: initdb" >&2; exit 1; }
  # fsync off unless PG_FSYNC=on (the bench): a test server, thrown away at exit
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-k $PG_DIR -c listen_addresses= -p 5432 -c fsync=${PG_FSYNC:-off} -c max_connections=200" start >/dev/null ||
    { tail -n 20 "$PG_DIR/server.log" >&2; echo "FAIL: postgres did not start" >&2; exit 1; }
  PGPASSWORD=$PG_PW "$PG_BIN/createdb" -h "$PG_DIR" -p 5432 -U sdra sdra_test ||
    { echo "FAIL: createdb" >&2; exit 1; }
  export SDRA_TEST_PG_URL="postgresql://sdra:$PG_PW@/sdra_test?host=$PG_DIR&port=5432"
  export PG_DIR PG_PW PG_BIN
}

# pg_restart: stops the server at once (as a crash would) and starts it again.
pg_restart() {
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" stop -m immediate >/dev/null 2>&1
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-k $PG_DIR -c listen_addresses= -p 5432 -c fsync=${PG_FSYNC:-off} -c max_connections=200" start >/dev/null
}

pg_stop() {
  [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR" ] || return 0
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" stop -m immediate >/dev/null 2>&1
  rm -rf "$PG_DIR"
}
