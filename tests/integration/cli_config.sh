#!/usr/bin/env bash
# cli_config.sh - config files for the CLI (docs/config.md): a value from --config takes effect,
# the command line overrides it, $SDRA_CONFIG is read when there is no --config, sections and
# the section-less part, switches, quoting; run, transcribe, analyze, compose and serve all read
# it; and bad files (unknown key, missing file, unknown section, a key another command has, a
# secret, an oversized file or line, a NUL byte) give one line naming file:line and exit 2.
set -u
: "${SDRA:?SDRA must point to the sdra binary}" "${SDRA_SRC:?SDRA_SRC must be the source dir}"
T=$(mktemp -d "${TMPDIR:-/tmp}/sdra-config.XXXXXX")
SERVE_PID=
cleanup() { [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
unset SDRA_CONFIG
A="$SDRA_SRC/tests/analysis/01-discovery.txt"
cd "$T" || exit 1

call_date() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['call_date'])" "$1"; }

# bad CONFIG_TEXT EXPECTED_SUBSTRING CMD ARGS...: exit 2, exactly one line on stderr naming it
bad() {
  local text=$1 want=$2; shift 2
  printf '%b' "$text" >"$T/sdra.conf"
  "$SDRA" "$@" --config sdra.conf >"$T/out" 2>"$T/err"
  local rc=$?
  [ "$rc" -eq 2 ] || fail "sdra $* with [$text]: exit $rc, expected 2 ($(cat "$T/err"))"
  [ "$(wc -l <"$T/err")" -eq 1 ] || fail "sdra $* with [$text]: stderr is not one line: $(cat "$T/err")"
  grep -qF -- "$want" "$T/err" || fail "sdra $* with [$text]: '$want' not in: $(cat "$T/err")"
}

# --- a value takes effect; the command line wins; $SDRA_CONFIG -------------------------------
cat >"$T/sdra.conf" <<'EOF'
# options for every command that has them
call-date = 2026-11-20
listen = 127.0.0.1:0

[analyze]
rep-name = "Alex"
timing
EOF
"$SDRA" analyze "$A" --config sdra.conf -o a1.json 2>"$T/err" || fail "analyze --config: $(cat "$T/err")"
[ "$(call_date a1.json)" = 2026-11-20 ] || fail "call-date from the file not used: $(call_date a1.json)"
grep -q "timing:" "$T/err" || fail "the switch 'timing' from the file not used"
python3 -c "
import json; d=json.load(open('a1.json'))
assert d['speakers'][0]['name']=='Alex' and d['speakers'][0]['role']=='rep', d['speakers']" ||
  fail "quoted rep-name from [analyze] not used"

"$SDRA" analyze "$A" --call-date 2026-11-16 --config=sdra.conf -o a2.json 2>/dev/null || fail "analyze with both"
[ "$(call_date a2.json)" = 2026-11-16 ] || fail "the command line did not override the file"

SDRA_CONFIG="$T/sdra.conf" "$SDRA" analyze "$A" -o a3.json 2>/dev/null || fail "analyze with \$SDRA_CONFIG"
[ "$(call_date a3.json)" = 2026-11-20 ] || fail "\$SDRA_CONFIG not read"
printf 'call-date = 2026-11-02\n' >"$T/other.conf"
SDRA_CONFIG="$T/sdra.conf" "$SDRA" analyze "$A" --config other.conf -o a4.json 2>/dev/null || fail "--config over \$SDRA_CONFIG"
[ "$(call_date a4.json)" = 2026-11-02 ] || fail "--config did not take precedence over \$SDRA_CONFIG"
"$SDRA" analyze "$A" -o a5.json 2>/dev/null || fail "analyze without a config"
[ "$(call_date a5.json)" != 2026-11-20 ] || fail "a config was read without --config or \$SDRA_CONFIG"
# a switch set to false stays off
printf '[analyze]\ntiming = false\n' >"$T/off.conf"
"$SDRA" analyze "$A" --config off.conf -o a6.json 2>"$T/err" || fail "timing = false"
grep -q "timing:" "$T/err" && fail "'timing = false' turned the switch on"

# --help works whatever the file holds, and mentions --config
printf 'nonsense\n' >"$T/broken.conf"
for c in run transcribe analyze compose serve; do
  SDRA_CONFIG="$T/broken.conf" "$SDRA" $c --help >"$T/help" 2>&1 || fail "sdra $c --help with a broken \$SDRA_CONFIG"
  grep -q -- "--config FILE" "$T/help" || fail "sdra $c --help does not mention --config"
done

# --- every configurable command reads it (a value only the file gives reaches the parser) ----
bad '[run]\njobs = 0\n' "--jobs needs a number from 1 to 64, not '0'" run missing.wav
bad '[transcribe]\nformat = nope\n' "unknown format 'nope'" transcribe missing.wav
bad '[compose]\nnow = yesterday\n' "--now: 'yesterday' is not a Unix time" compose a1.json
bad '[serve]\nmax-upload-mb = 0\n' "--max-upload-mb wants 1..16384" serve

cat >"$T/compose.conf" <<EOF
[compose]
out = $T/mail
now = 1795532400
quiet
EOF
mkdir -p "$T/mail"
"$SDRA" compose a1.json --config compose.conf >"$T/out" 2>"$T/err" || fail "compose --config: $(cat "$T/err")"
[ -s "$T/mail/email.eml" ] || fail "compose: out from the file not used"
[ -s "$T/out" ] && fail "compose: 'quiet' from the file not used"

# serve: listen, data, port-file and a switch from the file
cat >"$T/serve.conf" <<EOF
[serve]
listen = 127.0.0.1:0
data = $T/data
port-file = $T/port
no-workers
log-level = warn
EOF
"$SDRA" serve --config serve.conf 2>"$T/serve.log" &
SERVE_PID=$!
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || fail "serve with --config did not start: $(cat "$T/serve.log")"
curl -sf --max-time 10 "http://127.0.0.1:$(cat "$T/port")/healthz" >/dev/null || fail "serve: healthz"
[ -d "$T/data" ] || fail "serve: data from the file not used"
kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null; SERVE_PID=

# --- bad files: one line, exit 2, naming file:line --------------------------------------------
bad 'call-date = 2026-11-20\n\n[analyze]\nfoo = 1\n' "sdra.conf:4: unknown option 'foo' for 'analyze'" analyze "$A"
bad '# top\nfoo = 1\n' "sdra.conf:2: unknown option 'foo'" analyze "$A"
bad '[analyze]\njobs = 2\n' "sdra.conf:2: unknown option 'jobs' for 'analyze'" analyze "$A"
bad '[serve]\nfoo = 2\n' "sdra.conf:2: unknown option 'foo' for 'serve'" analyze "$A"
bad '[crm]\ndata = x\n' "sdra.conf:1: unknown section '[crm]'" analyze "$A"
bad 'llm-api-key = sk-not-here\n' "sdra.conf:1: 'llm-api-key': secrets do not belong in a config file" analyze "$A"
grep -q "sk-not-here" "$T/err" && fail "the secret's value was echoed"
bad '[analyze]\nrules = http://u:pw@h/x\n' "sdra.conf:2: 'rules': a URL with user:password@" analyze "$A"
bad 'help\n' "sdra.conf:1: 'help' cannot be set" analyze "$A"
bad 'config = x.conf\n' "sdra.conf:1: 'config' cannot be set" analyze "$A"
bad '[analyze]\nrep-name =\n' "sdra.conf:2: 'rep-name' needs a value" analyze "$A"
bad '[analyze]\ntiming = maybe\n' "sdra.conf:2: 'timing' is a switch" analyze "$A"
bad '--call-date = 2026-11-20\n' "sdra.conf:1: write the option without its dashes" analyze "$A"
bad '[analyze\n' "sdra.conf:1: a section is written [command]" analyze "$A"
bad 'rep-name = "Alex\n' "sdra.conf:1: unbalanced quotes" analyze "$A"
bad "rep-name = $(head -c 2000 /dev/zero | tr '\0' a)\n" "sdra.conf:1: line longer than 1024 bytes" analyze "$A"
head -c 70000 /dev/zero | tr '\0' '#' >"$T/big.conf"
"$SDRA" analyze "$A" --config big.conf 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "larger than the limit" "$T/err" || fail "oversized file: $rc $(cat "$T/err")"
printf 'call-date = 2026-11-20\n\0\n' >"$T/nul.conf"
"$SDRA" analyze "$A" --config nul.conf 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "not a text file" "$T/err" || fail "NUL byte: $rc $(cat "$T/err")"

# missing file: --config and $SDRA_CONFIG; a directory; no FILE
"$SDRA" analyze "$A" --config "$T/nosuch.conf" >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "nosuch.conf: No such file" "$T/err" ||
  fail "missing --config file: exit $rc: $(cat "$T/err")"
SDRA_CONFIG="$T/nosuch.conf" "$SDRA" analyze "$A" >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q 'SDRA_CONFIG .*nosuch.conf' "$T/err" ||
  fail "missing \$SDRA_CONFIG file: exit $rc: $(cat "$T/err")"
"$SDRA" analyze "$A" --config "$T" 2>"$T/err"; [ $? -eq 2 ] && grep -q "not a regular file" "$T/err" || fail "directory as config"
"$SDRA" analyze "$A" --config 2>"$T/err"; [ $? -eq 2 ] && grep -q -- "--config needs a FILE" "$T/err" || fail "--config without FILE"
"$SDRA" analyze "$A" --config a.conf --config b.conf 2>"$T/err"; [ $? -eq 2 ] && grep -q "given twice" "$T/err" || fail "--config twice"

echo "cli_config: ok"
