# tests/integration/lib/privacy.sh - sourced by the privacy_*.sh tests (issue 14): the
# prerequisites, a scratch data directory with admin, write and read keys, a server started on
# it (`pv_start [serve options]`, stopped at exit or by `pv_stop`) and the curl helpers.
# (Not a test itself: CTest runs only tests/integration/*.sh.)
#
#     . "$(dirname "${BASH_SOURCE[0]}")/lib/privacy.sh"
#     pv_setup privacy_rights    # $T, $D, $DB, $AKEY/$WKEY/$RKEY, arrays A W R of curl headers
#     pv_start --retention-sweep-s 0
#     [ "$(status "${A[@]}" "$B/v1/retention")" = 200 ] || fail "..."; json 'd["audio_days"]'
SDRA=${SDRA:?SDRA must name the sdra binary}
FIX=${SDRA_FIXTURES:?SDRA_FIXTURES must name the generated calls}
AUDIO="$FIX/short.stereo.wav"
[ -f "$AUDIO" ] || { echo "FAIL: $AUDIO missing (tests/fixtures/generate.sh)" >&2; exit 1; }
[ -n "$(command -v sqlite3)" ] || { echo "FAIL: sqlite3 CLI missing (scripts/install-deps.sh)" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/scratch.sh"

pv_setup() {
  it_setup "$1"
  D="$T/data"
  DB="$D/sdra.db"
  AKEY=$("$SDRA" keys create --data "$D" --name admin --scope admin) || fail "keys create (admin)"
  WKEY=$("$SDRA" keys create --data "$D" --name writer --scope write) || fail "keys create (write)"
  RKEY=$("$SDRA" keys create --data "$D" --name reader --scope read) || fail "keys create (read)"
  A=(-H "Authorization: Bearer $AKEY")
  W=(-H "Authorization: Bearer $WKEY")
  R=(-H "Authorization: Bearer $RKEY")
}

# pv_start [serve options]: an API-only server on a free loopback port; $B is its base URL.
# These tests read call.json and run `sdra crm sync` on call directories themselves, so the
# server stores plaintext (PV_SERVE_OPTS, default --no-encrypt); the same rights over sealed
# data are tested in data_at_rest_encrypted.sh.
PV_SERVE_OPTS=${PV_SERVE_OPTS---no-encrypt}
pv_start() {
  rm -f "$T/port"
  "$SDRA" serve --listen 127.0.0.1:0 --data "$D" --port-file "$T/port" --no-workers $PV_SERVE_OPTS "$@" 2>>"$T/serve.log" &
  PID=$!
  local _
  for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.1; done
  [ -s "$T/port" ] || fail "server did not start"
  B="http://127.0.0.1:$(cat "$T/port")"
}

pv_stop() { kill "$PID"; wait "$PID"; PID=; }

# status CURL-ARGS...: the HTTP status; the body is in $T/body.
status() { curl -s -o "$T/body" -w '%{http_code}' --max-time 30 "$@"; }
# json EXPR: a Python expression over the last body as d.
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/body" "$1"; }

# artifact ID NAME CONTENT: an artifact as a finished stage records it (the servers run no workers).
artifact() {
  printf '%s\n' "$3" > "$D/calls/$1/$2"
  local sum size
  sum=$(sha256sum "$D/calls/$1/$2" | cut -d' ' -f1)
  size=$(stat -c %s "$D/calls/$1/$2")
  sqlite3 "$DB" "INSERT INTO artifacts (call_id, name, stage, path, sha256, size_bytes, created_ms)
    VALUES ('$1', '$2', 0, 'calls/$1/$2', '$sum', $size, 1)" || fail "artifact row $2"
}
