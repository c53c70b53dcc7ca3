#!/usr/bin/env bash
# mail_smtp_imap.sh - `sdra mail` against REAL mail servers (postfix for submission, dovecot for
# IMAP and the mailboxes; tests/integration/lib/mailservers.sh), started here on loopback ports:
#   - SMTP submission on 587-style STARTTLS with AUTH, and on 465-style implicit TLS: compose's
#     message (multipart, with the iTIP invite) arrives in the recipient's mailbox byte for byte,
#     parses under Python's strict email policy, with the envelope sender (Return-Path) separate
#     from From:, and the remote id is postfix's queue id;
#   - with SDRA_IMAP_URL the sent copy lands in Sent; `probe --deliver send` finds it;
#   - IMAP APPEND of the draft into Drafts with \Draft (maildir flag D); the remote id is the UID;
#     `probe` finds the draft by Message-ID and does not find another id;
#   - bad input, each one line with the right retryable flag and exit status: wrong password
#     (SMTP and IMAP), a recipient the server rejects (550) and one it defers (450), a mailbox
#     over quota (SMTP 552 from the quota policy, IMAP NO [OVERQUOTA]), a certificate nobody
#     trusts, a server without STARTTLS, nothing listening; the password never appears;
#   - the same failures through the outbox (`sdra outbox deliver`): one line in `sdra outbox
#     show`, dead at once when permanent, the deferred one dead after the attempts.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
SRC=${SDRA_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib/expect_fail.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib/mailservers.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib/outbox.sh"
if ! mail_servers_available; then
  echo "SKIP: needs root and postfix, dovecot-imapd, dovecot-lmtpd (scripts/install-deps.sh)"
  exit 0
fi
it_setup mail_smtp_imap
mail_servers_start

EML="$SRC/tests/golden/compose/friendly/email.eml"
MSGID='<sdra.followup.golden-call-0001@acme.example>'
export SDRA_MAIL_CA_FILE="$T/ca.pem"
SECRETS_RE="$MAIL_PW"
SMTP="smtp://rep%40acme.test:$MAIL_PW@127.0.0.1:$SMTP_PORT"
IMAP="imap://rep%40acme.test:$MAIL_PW@127.0.0.1:$IMAP_PORT"
unset SDRA_SMTP_URL SDRA_IMAP_URL

# wait_file DIR: the one message file that arrives in DIR within 20 s.
wait_file() {
  for _ in $(seq 1 200); do
    f=$(find "$1" -maxdepth 1 -type f 2>"$T/find.err" | head -n 1)
    [ -n "$f" ] && { echo "$f"; return 0; }
    sleep 0.1
  done
  return 1
}

# check_msg FILE ORIGINAL RETURN_PATH: parses strictly, compares with the original.
check_msg() {
  python3 - "$1" "$2" "$3" <<'PY'
import email, email.policy, sys
got = open(sys.argv[1], "rb").read()
orig = open(sys.argv[2], "rb").read()
m = email.message_from_bytes(got, policy=email.policy.strict)
o = email.message_from_bytes(orig, policy=email.policy.strict)
norm = lambda b: b.replace(b"\r\n", b"\n")
assert norm(got).endswith(norm(orig)), "the message changed on the way"
assert m["Message-ID"] == o["Message-ID"], (m["Message-ID"], o["Message-ID"])
assert m["Subject"] == o["Subject"] and m["From"] == o["From"]
want_rp = sys.argv[3]
if want_rp:
    assert m["Return-Path"] == "<%s>" % want_rp, ("Return-Path", m["Return-Path"])
cal = [p for p in m.walk() if p.get_content_type() == "text/calendar"]
assert cal and cal[0].get_param("method") == "REQUEST", "no iTIP REQUEST part"
assert "METHOD:REQUEST" in cal[0].get_content()
PY
}


# 1. Submission with STARTTLS and AUTH; envelope sender differs from From:.
id=$(SDRA_SMTP_URL="$SMTP" "$SDRA" mail send "$EML" --mail smtp --from bounce@acme.test --to pat@prospect.test 2>"$T/err") ||
  fail "send over STARTTLS: $(cat "$T/err")"
[[ "$id" =~ ^[0-9A-F]{6,}$ ]] || fail "remote id '$id' is not a postfix queue id"
grep -q "postfix/smtpd.*: $id: client=" "$T/postfix.log" || fail "queue id $id is not the one postfix logged"
f=$(wait_file "$(maildir pat@prospect.test)/new") || fail "nothing arrived in pat's mailbox"
check_msg "$f" "$EML" bounce@acme.test || fail "the delivered message (STARTTLS)"
rm -f "$f"

# 2. Implicit TLS (465 style).
SDRA_SMTP_URL="smtps://rep%40acme.test:$MAIL_PW@127.0.0.1:$SMTPS_PORT" "$SDRA" mail send "$EML" --mail smtp \
  --to pat@prospect.test >"$T/out" 2>"$T/err" || fail "send over implicit TLS: $(cat "$T/err")"
f=$(wait_file "$(maildir pat@prospect.test)/new") || fail "nothing arrived over implicit TLS"
check_msg "$f" "$EML" alex.kim@acme.example || fail "the delivered message (implicit TLS)"
rm -f "$f"

# 3. IMAP draft: \Draft in Drafts, the UID as remote id, found by the probe.
uid=$(SDRA_IMAP_URL="$IMAP" "$SDRA" mail draft "$EML" --mail imap 2>"$T/err") || fail "draft: $(cat "$T/err")"
[[ "$uid" =~ ^[0-9]+$ ]] || fail "draft remote id '$uid' is not a UID"
d=$(find "$(maildir rep@acme.test)/.Drafts/cur" -type f) || fail "no Drafts folder"
[ "$(echo "$d" | grep -c .)" = 1 ] || fail "not exactly one draft: $d"
case "$d" in *:2,*D*) ;; *) fail "the draft is not flagged \\Draft: $d" ;; esac
check_msg "$d" "$EML" "" || fail "the draft"
out=$(SDRA_IMAP_URL="$IMAP" "$SDRA" mail probe "$EML" --mail imap 2>"$T/err") || fail "probe: $(cat "$T/err")"
[ "$out" = found ] || fail "probe did not find the draft: $out"
out=$(SDRA_IMAP_URL="$IMAP" "$SDRA" mail probe '<other@acme.example>' --mail imap 2>"$T/err") || fail "probe other"
[ "$out" = absent ] || fail "probe found a message that is not there: $out"
out=$(SDRA_IMAP_URL="$IMAP" "$SDRA" mail check --mail imap 2>"$T/err") || fail "imap check: $(cat "$T/err")"
grep -q "^imap: ok: draft" <<<"$out" || fail "imap check said: $out"

# 4. SMTP with IMAP: a draft goes to Drafts over IMAP; a send leaves the sent copy in Sent.
out=$(SDRA_SMTP_URL="$SMTP" SDRA_IMAP_URL="$IMAP" "$SDRA" mail probe "$EML" --mail smtp --deliver send 2>"$T/err") ||
  fail "probe sent: $(cat "$T/err")"
[ "$out" = absent ] || fail "probe found a sent copy before sending: $out"
SDRA_SMTP_URL="$SMTP" SDRA_IMAP_URL="$IMAP" "$SDRA" mail send "$EML" --mail smtp --to pat@prospect.test \
  >"$T/out" 2>"$T/err" || fail "send with a sent copy: $(cat "$T/err")"
wait_file "$(maildir pat@prospect.test)/new" >"$T/out" || fail "nothing arrived (send with copy)"
s=$(find "$(maildir rep@acme.test)/.Sent/cur" -type f)
[ "$(echo "$s" | grep -c .)" = 1 ] || fail "not exactly one sent copy: $s"
case "$s" in *:2,*S*) ;; *) fail "the sent copy is not \\Seen: $s" ;; esac
out=$(SDRA_SMTP_URL="$SMTP" SDRA_IMAP_URL="$IMAP" "$SDRA" mail probe "$EML" --mail smtp --deliver send 2>"$T/err") ||
  fail "probe sent: $(cat "$T/err")"
[ "$out" = found ] || fail "probe did not find the sent copy: $out"
out=$(SDRA_SMTP_URL="$SMTP" "$SDRA" mail check --mail smtp 2>"$T/err") || fail "smtp check: $(cat "$T/err")"
grep -q "^smtp: ok: send" <<<"$out" || fail "smtp check said: $out"
expect_fail "smtp probe without IMAP" 1 "set SDRA_IMAP_URL" permanent -- \
  env SDRA_SMTP_URL="$SMTP" "$SDRA" mail probe "$EML" --mail smtp --deliver send

# 5. Bad input.
head -c 3000 /dev/zero | tr '\0' x | fold -w 70 | sed 's/$/\r/' >"$T/pad"
cat "$EML" "$T/pad" >"$T/big.eml" # over full@'s 1 KiB quota
expect_fail "wrong SMTP password" 1 "refused the login: 535" permanent -- \
  env SDRA_SMTP_URL="smtp://rep%40acme.test:Wrong-$MAIL_PW@127.0.0.1:$SMTP_PORT" "$SDRA" mail send "$EML" --mail smtp
expect_fail "rejected recipient" 1 "550 5.1.1 <reject@prospect.test>" permanent -- \
  env SDRA_SMTP_URL="$SMTP" "$SDRA" mail send "$EML" --mail smtp --to reject@prospect.test
expect_fail "deferred recipient" 75 "450 4.2.1 <defer@prospect.test>" retryable -- \
  env SDRA_SMTP_URL="$SMTP" "$SDRA" mail send "$EML" --mail smtp --to defer@prospect.test
expect_fail "recipient over quota" 1 "552 5.2.2" permanent -- \
  env SDRA_SMTP_URL="$SMTP" "$SDRA" mail send "$T/big.eml" --mail smtp --to full@prospect.test
expect_fail "IMAP draft over quota" 1 "over its quota: NO [OVERQUOTA]" permanent -- \
  env SDRA_IMAP_URL="imap://full%40prospect.test:$MAIL_PW@127.0.0.1:$IMAP_PORT" "$SDRA" mail draft "$T/big.eml" --mail imap
expect_fail "wrong IMAP password" 1 "refused the login" permanent -- \
  env SDRA_IMAP_URL="imap://rep%40acme.test:Wrong-$MAIL_PW@127.0.0.1:$IMAP_PORT" "$SDRA" mail draft "$EML" --mail imap
expect_fail "untrusted certificate (SMTP)" 1 "TLS: " permanent -- \
  env -u SDRA_MAIL_CA_FILE SDRA_SMTP_URL="$SMTP" "$SDRA" mail send "$EML" --mail smtp
expect_fail "untrusted certificate (IMAP)" 1 "TLS: " permanent -- \
  env -u SDRA_MAIL_CA_FILE SDRA_IMAP_URL="$IMAP" "$SDRA" mail draft "$EML" --mail imap
expect_fail "no STARTTLS" 1 "does not offer STARTTLS" permanent -- \
  env SDRA_SMTP_URL="smtp://rep%40acme.test:$MAIL_PW@127.0.0.1:$SMTP_PLAIN_PORT" "$SDRA" mail send "$EML" --mail smtp
DEAD=$(free_port)
expect_fail "nothing listening" 75 "127.0.0.1:$DEAD" retryable -- \
  env SDRA_SMTP_URL="smtp://rep%40acme.test:$MAIL_PW@127.0.0.1:$DEAD" "$SDRA" mail send "$EML" --mail smtp
expect_fail "imap cannot send" 1 "imap cannot send" permanent -- \
  env SDRA_IMAP_URL="$IMAP" "$SDRA" mail send "$EML" --mail imap
expect_fail "bad URL" 1 "SDRA_SMTP_URL must start with smtp://" permanent -- \
  env SDRA_SMTP_URL="http://127.0.0.1:$SMTP_PORT" "$SDRA" mail send "$EML" --mail smtp
# 6. The same failures through the outbox: one line in `sdra outbox show`; permanent ones dead
# at once, the deferred one retried with backoff and dead after --outbox-max-attempts.
if command -v sqlite3 >/dev/null; then
  OD="$T/outbox"
  "$SDRA" outbox list --data "$OD" >/dev/null || fail "cannot create the outbox store"
  ob_queue() { # ob_queue NAME RCPT EML
    mkdir -p "$T/ob/$1"
    cp "$3" "$T/ob/$1/email.eml"
    sqlite3 "$OD/sdra.db" "INSERT INTO outbox (idem_key, call_id, kind, payload, state, created_ms, org) VALUES ('mail.deliver:$1', '$1', 'mail.deliver', '{\"call_id\":\"$1\",\"transport\":\"smtp\",\"mode\":\"send\",\"message_id\":\"<$1@sdra.test>\",\"rcpt\":[\"$2\"],\"from\":\"bounce@acme.test\",\"eml\":\"email.eml\",\"dir\":\"$T/ob/$1\"}', 'queued', 1, 'default');" \
      || fail "cannot queue $1"
  }
  ob_deliver() { outbox_drain "$OD"; }
  ob_expect() { local n=$1; shift; outbox_expect "$OD" "mail.deliver:$n" "$@"; }
  ob_queue ob-reject reject@prospect.test "$EML"
  ob_queue ob-defer defer@prospect.test "$EML"
  ob_queue ob-full full@prospect.test "$T/big.eml"
  SDRA_SMTP_URL="$SMTP" ob_deliver
  ob_expect ob-reject dead 1 "550 5.1.1"
  ob_expect ob-defer dead 3 "450 4.2.1"
  grep -q "mail.deliver:ob-defer queued" "$T/deliver.out" || fail "the deferred email was not retried: $(cat "$T/deliver.out")"
  ob_expect ob-full dead 1 "552 5.2.2"
  ob_queue ob-tls pat@prospect.test "$EML"
  (unset SDRA_MAIL_CA_FILE; SDRA_SMTP_URL="$SMTP" ob_deliver) || fail "outbox deliver without the CA"
  ob_expect ob-tls dead 1 "TLS: "
  ob_queue ob-login pat@prospect.test "$EML"
  SDRA_SMTP_URL="smtp://rep%40acme.test:Wrong-$MAIL_PW@127.0.0.1:$SMTP_PORT" ob_deliver
  ob_expect ob-login dead 1 "refused the login: 535"
else
  echo "mail_smtp_imap: no sqlite3 CLI: the outbox part is skipped" >&2
fi
# Nothing but the two good sends and the sent-with-copy reached pat; nothing reached full@.
[ -z "$(find "$(maildir full@prospect.test)" -path '*/new/*' -type f 2>"$T/find.err")" ] || fail "full@ got mail"
echo "mail_smtp_imap: ok"
