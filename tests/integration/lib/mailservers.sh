# tests/integration/lib/mailservers.sh - sourced by the mail tests after scratch.sh's it_setup:
# starts REAL mail servers from Debian in $T, on free loopback ports, stopped by it_cleanup:
#   dovecot  IMAP with STARTTLS required on $IMAP_PORT (self-signed certificate $T/ca.pem),
#            LMTP delivery, SASL for postfix, maildir under $T/mail/<user>/Maildir, and a quota
#            (the user full@prospect.test has 1 KiB);
#   postfix  submission with STARTTLS and AUTH required on $SMTP_PORT, implicit TLS on
#            $SMTPS_PORT, a port without STARTTLS on $SMTP_PLAIN_PORT; it delivers the domains
#            acme.test and prospect.test to dovecot over LMTP; defer@prospect.test gets a 450 and
#            reject@prospect.test a 550 at RCPT, as a real server's access table answers, and a
#            recipient over quota a 552 from dovecot's quota-status policy service.
# Users (password $MAIL_PW): rep@acme.test (the sender), pat@prospect.test, full@prospect.test.
# Needs root (both servers start as root and drop privileges) and the packages postfix,
# dovecot-imapd and dovecot-lmtpd (scripts/install-deps.sh); otherwise the caller skips.
#
#     mail_servers_available || { echo "SKIP: ..."; exit 0; }
#     mail_servers_start
#     maildir pat@prospect.test   # -> $T/mail/pat@prospect.test/Maildir

MAIL_PW='Rep-Pass-9f3c2a'

mail_servers_available() {
  [ "$(id -u)" = 0 ] && command -v dovecot >/dev/null && command -v postfix >/dev/null &&
    [ -x /usr/lib/postfix/sbin/master ] && [ -x /usr/lib/dovecot/lmtp ] && command -v openssl >/dev/null
}

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

maildir() { echo "$T/mail/$1/Maildir"; }

wait_port() { # wait_port PORT WHAT: up to 20 s
  python3 - "$1" <<'PY' || fail "$2 did not listen on 127.0.0.1:$1"
import socket, sys, time
end = time.time() + 20
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
}

mail_servers_start() {
  chmod 755 "$T"
  IMAP_PORT=$(free_port); SMTP_PORT=$(free_port); SMTPS_PORT=$(free_port); SMTP_PLAIN_PORT=$(free_port)
  QUOTA_PORT=$(free_port)
  openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 1 \
    -keyout "$T/key.pem" -out "$T/ca.pem" 2>"$T/openssl.log" || fail "openssl req"
  chmod 644 "$T/key.pem"
  local D="$T/dovecot" P="$T/postfix"
  mkdir -p "$D/run" "$D/state" "$T/mail" "$P/spool" "$P/data"
  chown nobody:nogroup "$T/mail"
  cat >"$D/passwd" <<PW
rep@acme.test:{PLAIN}$MAIL_PW:65534:65534::$T/mail/rep@acme.test
pat@prospect.test:{PLAIN}$MAIL_PW:65534:65534::$T/mail/pat@prospect.test
full@prospect.test:{PLAIN}$MAIL_PW:65534:65534::$T/mail/full@prospect.test::userdb_quota_rule=*:storage=1K
PW
  cat >"$D/dovecot.conf" <<CONF
base_dir = $D/run
state_dir = $D/state
log_path = $T/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = required
ssl_cert = <$T/ca.pem
ssl_key = <$T/key.pem
disable_plaintext_auth = yes
auth_mechanisms = plain login
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 100
passdb {
  driver = passwd-file
  args = scheme=PLAIN $D/passwd
}
userdb {
  driver = passwd-file
  args = $D/passwd
}
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \Drafts
    auto = create
  }
  mailbox Sent {
    special_use = \Sent
    auto = create
  }
}
mail_plugins = quota
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=100M
  quota_status_success = DUNNO
  quota_status_nouser = DUNNO
  quota_status_overquota = "552 5.2.2 Mailbox is full"
}
service quota-status {
  executable = quota-status -p postfix
  client_limit = 1
  inet_listener {
    address = 127.0.0.1
    port = $QUOTA_PORT
  }
}
protocol imap {
  mail_plugins = \$mail_plugins imap_quota
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  unix_listener $D/lmtp {
    mode = 0666
  }
}
service auth {
  unix_listener $D/auth {
    mode = 0666
  }
}
CONF
  dovecot -F -c "$D/dovecot.conf" >>"$T/dovecot.log" 2>&1 &
  PIDS+=($!)
  cat >"$P/access" <<ACC
defer@prospect.test 450 4.2.1 Mailbox busy, try again later
reject@prospect.test 550 5.1.1 No such user here
ACC
  cat >"$P/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $P/spool
data_directory = $P/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = $T/postfix.log
maillog_file_prefixes = $T
myhostname = mx.sdra.test
mydomain = sdra.test
myorigin = sdra.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_transport = error:no local delivery here
virtual_mailbox_domains = acme.test prospect.test
virtual_mailbox_maps =
virtual_transport = lmtp:unix:$D/lmtp
smtpd_tls_cert_file = $T/ca.pem
smtpd_tls_key_file = $T/key.pem
smtpd_tls_security_level = encrypt
smtpd_tls_auth_only = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $D/auth
smtpd_sasl_auth_enable = yes
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = check_recipient_access texthash:$P/access, check_policy_service inet:127.0.0.1:$QUOTA_PORT, permit_sasl_authenticated, reject
smtp_dns_support_level = disabled
CONF
  cat >"$P/master.cf" <<CONF
127.0.0.1:$SMTP_PORT inet n - n - - smtpd
127.0.0.1:$SMTPS_PORT inet n - n - - smtpd -o smtpd_tls_wrappermode=yes
127.0.0.1:$SMTP_PLAIN_PORT inet n - n - - smtpd -o smtpd_tls_security_level=none -o smtpd_tls_auth_only=no
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
lmtp unix - - n - - lmtp
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
tlsmgr unix - - n 1000? 1 tlsmgr
showq unix n - n - - showq
CONF
  chown postfix "$P/data"
  postfix -c "$P" check >"$T/postfix-check.log" 2>&1 || fail "postfix check: $(tail -3 "$T/postfix-check.log")"
  /usr/lib/postfix/sbin/master -c "$P" -d >>"$T/postfix.log" 2>&1 &
  PIDS+=($!)
  wait_port "$IMAP_PORT" dovecot
  wait_port "$SMTP_PORT" postfix
}
