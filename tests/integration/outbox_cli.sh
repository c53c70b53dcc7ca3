#!/usr/bin/env bash
# outbox_cli.sh - the outbox's command line without a server: every bad delivery option or
# config key is one line and exit 2 (never a crash), run's --send-at and --contact-timezone too; the delivery keys work from a config file
# for run, serve and outbox; `sdra outbox deliver --once` on an empty outbox says so and exits 0;
# `sdra outbox list` of a fresh data directory is empty; show of an unknown entry exits 1.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup outbox_cli
unset SDRA_CONFIG SDRA_WEBHOOK_SECRET
D="$T/data"
one_line_usage() { # one_line_usage WANT ARGS...: exit 2 and one line containing WANT
  local want=$1; shift
  "$SDRA" "$@" >"$T/out" 2>"$T/err"; local rc=$?
  [ $rc = 2 ] || fail "sdra $*: exit $rc, want 2 ($(cat "$T/err"))"
  [ "$(wc -l < "$T/err")" = 1 ] || fail "sdra $*: not one line: $(cat "$T/err")"
  grep -qF -- "$want" "$T/err" || fail "sdra $*: '$want' not in $(cat "$T/err")"
}
for cmd in "outbox deliver --once --data $D" "serve --data $D" "run nothing.wav --data $D"; do
  # shellcheck disable=SC2086
  set -- $cmd
  one_line_usage "--crm wants" "$@" --crm pipedrive
  one_line_usage "--mail wants" "$@" --mail carrier-pigeon
  one_line_usage "--deliver wants" "$@" --deliver maybe
  one_line_usage "--review wants" "$@" --review sometimes
  one_line_usage "--business-hours" "$@" --business-hours 17:00-09:00
  one_line_usage "unknown time zone" "$@" --default-tz Mars/Olympus
  one_line_usage "--webhook-url" "$@" --webhook-url ftp://example.com/x
  one_line_usage "--outbox-lease-ms" "$@" --outbox-lease-ms 5
  one_line_usage "--webhook-secret-file" "$@" --webhook-secret-file "$T/missing"
done
one_line_usage "send_at: 'tomorrow' is not an RFC 3339 time" run nothing.wav --data "$D" --send-at tomorrow
one_line_usage "--send-at" run nothing.wav --data "$D" --send-at 2031-01-06T09:30:00
one_line_usage "unknown time zone 'Mars/Olympus'" run nothing.wav --data "$D" --contact-timezone Mars/Olympus
one_line_usage "delivery options go with" outbox list --data "$D" --crm hubspot
one_line_usage "--state wants" outbox list --data "$D" --state lost
one_line_usage "needs the entry's ID" outbox cancel --data "$D"
"$SDRA" outbox list --data "$D" > "$T/list" || fail "list of a fresh data directory"
[ "$(wc -l < "$T/list")" = 1 ] || fail "a fresh outbox lists entries: $(cat "$T/list")"
"$SDRA" outbox show --data "$D" "webhook:call.completed:nope:cfg" 2>"$T/err"; [ $? = 1 ] \
  || fail "show of an unknown entry is not exit 1"
grep -q "no outbox entry" "$T/err" || fail "show of an unknown entry says $(cat "$T/err")"
"$SDRA" outbox deliver --once --data "$D" >"$T/out" 2>"$T/err" || fail "deliver --once on nothing: $(cat "$T/err")"
grep -q "0 delivered" "$T/err" || fail "deliver --once said $(cat "$T/err")"
# the keys from a config file: a bad value there is the same one-line error, naming the file
printf 'review = sometimes\n' > "$T/bad.conf"
"$SDRA" outbox deliver --once --data "$D" --config "$T/bad.conf" 2>"$T/err"; [ $? = 2 ] \
  || fail "a bad review key in the config is not exit 2"
grep -q "review" "$T/err" || fail "config error: $(cat "$T/err")"
printf 'crm = local\nreview = never\nbusiness-hours = 08:00-18:00,mon-fri\ndefault-tz = Europe/Berlin\n' > "$T/ok.conf"
"$SDRA" outbox deliver --once --data "$D" --config "$T/ok.conf" 2>"$T/err" >/dev/null \
  || fail "delivery keys in a config file: $(cat "$T/err")"
printf 'webhook-secret-file = /etc/passwd\n' > "$T/secret.conf"
"$SDRA" outbox deliver --once --data "$D" --config "$T/secret.conf" 2>"$T/err"; [ $? = 2 ] \
  || fail "a secret key in the config file is accepted"
echo "ok: outbox_cli"
