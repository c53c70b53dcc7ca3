#!/usr/bin/env bash
# mail_apis.sh - `sdra mail` through the Gmail API and Microsoft Graph, against the
# contract-faithful test servers in tests/servers/mail_apis.py:
#   - Gmail: users.getProfile (check), users.drafts.create with the raw base64url message (the
#     server gets compose's message byte for byte), the probe by rfc822msgid in:drafts / in:sent,
#     users.drafts.send, users.messages.send; a 429 with Retry-After is waited out; a 500 is a
#     retryable failure; an expired token is refreshed with the refresh token (one token issued)
#     and, without one, is a permanent line; a refused grant, an unknown draft and a message
#     without recipient are permanent lines;
#   - Graph: create a draft from the base64 MIME (201), send it (202), sendMail (202), probes in
#     drafts and sentitems; client credentials for an application mailbox (SDRA_GRAPH_USER);
#     /me with an app token refused; refresh after expiry.
# Counts come from the server's state: nothing is sent twice, nothing is lost.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
SRC=${SDRA_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib/expect_fail.sh"
it_setup mail_apis
EML="$SRC/tests/golden/compose/friendly/email.eml"
MSGID='<sdra.followup.golden-call-0001@acme.example>'
SECRET='cs-5ecret-77a1'
REFRESH='rt-refresh-4b2e'
SECRETS_RE="$SECRET|$REFRESH|tok-g"

start() { # start NAME ARGS...: a mail_apis.py server; sets ${NAME}_URL
  local name=$1
  shift
  python3 "$SRC/tests/servers/mail_apis.py" --port-file "$T/$name.port" "$@" 2>"$T/$name.log" &
  PIDS+=($!)
  for _ in $(seq 1 100); do [ -s "$T/$name.port" ] && break; sleep 0.1; done
  [ -s "$T/$name.port" ] || fail "$name server did not start"
  printf -v "${name}_URL" 'http://127.0.0.1:%s' "$(cat "$T/$name.port")"
}
start gmail --api gmail --token tok-gmail-1 --client-secret "$SECRET" --refresh-token "$REFRESH"
start graph --api graph --token tok-graph-1 --client-secret "$SECRET" --refresh-token "$REFRESH" --tenant t1

stat() { # stat URL PYEXPR: evaluates PYEXPR over the server's /stats document (as s)
  curl -s --max-time 10 "$1/stats" -o "$T/stats.json" || fail "stats: curl $?"
  python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print($2)" "$T/stats.json"
}
control() { curl -s --max-time 10 -X POST -d "$2" "$1/control" -o "$T/control.json" || fail "control: curl $?"; }


# ---- Gmail ----
export SDRA_GMAIL_URL="$gmail_URL" SDRA_GMAIL_TOKEN=tok-gmail-1
out=$("$SDRA" mail check --mail gmail 2>"$T/err") || fail "gmail check: $(cat "$T/err")"
[ "$out" = "gmail: ok: draft, send, send draft (mailbox rep@acme.example)" ] || fail "gmail check said: $out"
did=$("$SDRA" mail draft "$EML" --mail gmail 2>"$T/err") || fail "gmail draft: $(cat "$T/err")"
[[ "$did" == r-* ]] || fail "gmail draft id '$did'"
[ "$(stat "$gmail_URL" 's["drafts"], s["sent"]')" = "1 0" ] || fail "after the draft: $(cat "$T/stats.json")"
stat "$gmail_URL" 's["messages"][0]["raw"]' >"$T/raw.eml"
python3 - "$T/stats.json" "$EML" <<'PY' || fail "gmail got another message than compose wrote"
import email, email.policy, json, sys
raw = json.load(open(sys.argv[1]))["messages"][0]["raw"].encode()
assert raw == open(sys.argv[2], "rb").read()
email.message_from_bytes(raw, policy=email.policy.strict)
PY
[ "$("$SDRA" mail probe "$EML" --mail gmail)" = found ] || fail "gmail probe missed the draft"
[ "$("$SDRA" mail probe "$EML" --mail gmail --deliver send)" = absent ] || fail "gmail probe: sent before sending"
mid=$("$SDRA" mail send-draft "$did" --mail gmail 2>"$T/err") || fail "gmail send-draft: $(cat "$T/err")"
[ -n "$mid" ] || fail "gmail send-draft printed no id"
[ "$(stat "$gmail_URL" 's["drafts"], s["sent"]')" = "0 1" ] || fail "after drafts.send: $(cat "$T/stats.json")"
[ "$("$SDRA" mail probe "$MSGID" --mail gmail --deliver send)" = found ] || fail "gmail probe missed the sent one"
"$SDRA" mail send "$EML" --mail gmail >"$T/out" 2>"$T/err" || fail "gmail send: $(cat "$T/err")"
[ "$(stat "$gmail_URL" 's["sent"]')" = 2 ] || fail "after messages.send"
# 429 with Retry-After: waited out, sent once.
control "$gmail_URL" '{"modes": ["429"]}'
"$SDRA" mail send "$EML" --mail gmail >"$T/out" 2>"$T/err" || fail "gmail send after a 429: $(cat "$T/err")"
[ "$(stat "$gmail_URL" 's["sent"], [e["status"] for e in s["log"]][-2:]')" = "3 [429, 200]" ] ||
  fail "429 then 200 expected: $(cat "$T/stats.json" | head -c 600)"
control "$gmail_URL" '{"modes": ["429", "429", "429"]}'
expect_fail "gmail rate limited" 75 "rate limited" retryable -- "$SDRA" mail send "$EML" --mail gmail
control "$gmail_URL" '{"modes": ["500"]}'
expect_fail "gmail 500" 75 "HTTP 500" retryable -- "$SDRA" mail send "$EML" --mail gmail
[ "$(stat "$gmail_URL" 's["sent"]')" = 3 ] || fail "a failed send counted"
expect_fail "gmail unknown draft" 1 "Requested entity was not found" permanent -- \
  "$SDRA" mail send-draft r-nope --mail gmail
printf 'From: rep@acme.example\r\nSubject: x\r\nMessage-ID: <x1@acme.example>\r\n\r\nhi\r\n' >"$T/norcpt.eml"
expect_fail "gmail no recipient" 1 "Recipient address required" permanent -- \
  "$SDRA" mail send "$T/norcpt.eml" --mail gmail --to pat@prospect.example
# Expired token: permanent without a refresh token; refreshed once with one.
control "$gmail_URL" '{"expire": true}'
expect_fail "gmail expired token" 1 "access token was refused" permanent -- "$SDRA" mail send "$EML" --mail gmail
export SDRA_GMAIL_TOKEN_URL="$gmail_URL/token" SDRA_GMAIL_CLIENT_ID=client-1 SDRA_GMAIL_CLIENT_SECRET="$SECRET"
expect_fail "gmail refused grant" 1 "refused the grant (HTTP 400: invalid_grant" permanent -- \
  env SDRA_GMAIL_REFRESH_TOKEN=wrong "$SDRA" mail send "$EML" --mail gmail
export SDRA_GMAIL_REFRESH_TOKEN="$REFRESH"
"$SDRA" mail send "$EML" --mail gmail >"$T/out" 2>"$T/err" || fail "gmail send after refresh: $(cat "$T/err")"
[ "$(stat "$gmail_URL" 's["sent"], s["tokens_issued"]')" = "4 1" ] || fail "refresh: $(cat "$T/stats.json" | head -c 300)"
unset SDRA_GMAIL_TOKEN
"$SDRA" mail draft "$EML" --mail gmail >"$T/out" 2>"$T/err" || fail "gmail with a refresh token only: $(cat "$T/err")"
[ "$(stat "$gmail_URL" 's["drafts"], s["tokens_issued"]')" = "1 2" ] || fail "refresh-only draft"
unset SDRA_GMAIL_REFRESH_TOKEN SDRA_GMAIL_CLIENT_ID SDRA_GMAIL_CLIENT_SECRET SDRA_GMAIL_TOKEN_URL SDRA_GMAIL_URL
expect_fail "gmail no token" 1 "SDRA_GMAIL_TOKEN is not set" permanent -- "$SDRA" mail send "$EML" --mail gmail

# ---- Graph ----
export SDRA_GRAPH_URL="$graph_URL/v1.0" SDRA_GRAPH_TOKEN=tok-graph-1
out=$("$SDRA" mail check --mail graph 2>"$T/err") || fail "graph check: $(cat "$T/err")"
[ "$out" = "graph: ok: draft, send, send draft (mailbox rep@acme.example)" ] || fail "graph check said: $out"
gid=$("$SDRA" mail draft "$EML" --mail graph 2>"$T/err") || fail "graph draft: $(cat "$T/err")"
[[ "$gid" == AAMk* ]] || fail "graph draft id '$gid'"
python3 - "$graph_URL" "$EML" <<'PY' || fail "graph got another message than compose wrote"
import json, sys, urllib.request
s = json.load(urllib.request.urlopen(sys.argv[1] + "/stats"))
assert s["drafts"] == 1 and s["messages"][0]["raw"].encode() == open(sys.argv[2], "rb").read()
PY
[ "$("$SDRA" mail probe "$EML" --mail graph)" = found ] || fail "graph probe missed the draft"
[ "$("$SDRA" mail probe "$EML" --mail graph --deliver send)" = absent ] || fail "graph probe: sent before sending"
"$SDRA" mail send-draft "$gid" --mail graph >"$T/out" 2>"$T/err" || fail "graph send draft: $(cat "$T/err")"
[ "$(stat "$graph_URL" 's["drafts"], s["sent"]')" = "0 1" ] || fail "after send: $(cat "$T/stats.json")"
[ "$("$SDRA" mail probe "$EML" --mail graph --deliver send)" = found ] || fail "graph probe missed the sent one"
expect_fail "graph send unknown draft" 1 "HTTP 404: The specified object was not found" permanent -- "$SDRA" mail send-draft AAMknope --mail graph
control "$graph_URL" '{"modes": ["429"]}'
rid=$("$SDRA" mail send "$EML" --mail graph 2>"$T/err") || fail "graph sendMail after 429: $(cat "$T/err")"
[ "$rid" = "$MSGID" ] || fail "graph sendMail remote id '$rid'"
[ "$(stat "$graph_URL" 's["sent"]')" = 2 ] || fail "after sendMail"
# Client credentials: an application token for the mailbox named by SDRA_GRAPH_USER.
unset SDRA_GRAPH_TOKEN
export SDRA_GRAPH_CLIENT_ID=client-1 SDRA_GRAPH_CLIENT_SECRET="$SECRET" SDRA_GRAPH_TENANT=t1
export SDRA_GRAPH_TOKEN_URL="$graph_URL/t1/oauth2/v2.0/token"
expect_fail "graph app token without a mailbox" 1 "SDRA_GRAPH_USER must name the mailbox" permanent -- \
  "$SDRA" mail send "$EML" --mail graph
SDRA_GRAPH_USER=rep@acme.example "$SDRA" mail send "$EML" --mail graph >"$T/out" 2>"$T/err" ||
  fail "graph with client credentials: $(cat "$T/err")"
[ "$(stat "$graph_URL" 's["sent"], s["tokens_issued"]')" = "3 1" ] || fail "client credentials: $(cat "$T/stats.json" | head -c 300)"
expect_fail "graph wrong client secret" 1 "invalid_client" permanent -- \
  env SDRA_GRAPH_USER=rep@acme.example SDRA_GRAPH_CLIENT_SECRET=wrong "$SDRA" mail send "$EML" --mail graph
# Delegated: a refresh token renews an expired token.
export SDRA_GRAPH_TOKEN=tok-graph-1 SDRA_GRAPH_REFRESH_TOKEN="$REFRESH"
control "$graph_URL" '{"expire": true}'
"$SDRA" mail draft "$EML" --mail graph >"$T/out" 2>"$T/err" || fail "graph after expiry: $(cat "$T/err")"
[ "$(stat "$graph_URL" 's["drafts"], s["tokens_issued"]')" = "1 2" ] || fail "graph refresh"
control "$graph_URL" '{"modes": ["500"]}'
expect_fail "graph 500" 75 "HTTP 500" retryable -- "$SDRA" mail send "$EML" --mail graph
[ "$(stat "$graph_URL" 's["sent"]')" = 3 ] || fail "a failed sendMail counted"
echo "mail_apis: ok"
