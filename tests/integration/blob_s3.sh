#!/usr/bin/env bash
# blob_s3.sh - the S3 object store backend (src/blob/s3.c) against servers started here on
# 127.0.0.1:
#   1. SigV4: tests/servers/s3_sigv4.py checks every request's signature with its own signer
#      (which first reproduces AWS's published examples), path-style and virtual-host, with a
#      session token: a 20 MiB put (multipart: initiate, 3 parts, complete), get, ranged get,
#      head, delete by prefix; and a wrong secret is refused.
#   2. Bad input, one line each and exit 1: bucket missing, wrong credentials, no credentials,
#      server down, a server that never answers (timeout), a bad location or endpoint.
#   3. s3rver: the whole object store contract (tests/unit/blob/test_contract.c) on S3, with
#      a 20 MiB object in 8 MiB parts, and the peak memory of `sdra blob put` of 20 MiB.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
BUILD=${SDRA_BUILD:?SDRA_BUILD must name the build directory}
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib/s3.sh"
it_setup blob_s3
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
export AWS_SESSION_TOKEN=session-token-1 SDRA_S3_REGION=us-east-1
unset SDRA_S3_PATH_STYLE SDRA_S3_TIMEOUT_MS SDRA_BLOB

head -c $((20 << 20)) /dev/urandom >"$T/big.bin"
printf 'hello object store\n' >"$T/small.txt"

# --- 1. SigV4 ------------------------------------------------------------------------------
sigv4_start sig --token session-token-1
export SDRA_S3_ENDPOINT="http://127.0.0.1:$SIGV4_PORT"
L=s3://sdra-test/pre/fix
"$SDRA" blob --blob $L check >"$T/out" 2>"$T/err.log" || fail "check: $(cat "$T/err.log")"
grep -qx "ok: s3://sdra-test/pre/fix (s3)" "$T/out" || fail "check said: $(cat "$T/out")"
"$SDRA" blob --blob $L put calls/c1/audio.wav "$T/big.bin" 2>"$T/err.log" || fail "put 20 MiB: $(cat "$T/err.log")"
"$SDRA" blob --blob $L put calls/c1/call.json "$T/small.txt" 2>"$T/err.log" || fail "put small: $(cat "$T/err.log")"
"$SDRA" blob --blob $L get calls/c1/audio.wav "$T/back.bin" 2>"$T/err.log" || fail "get: $(cat "$T/err.log")"
cmp -s "$T/big.bin" "$T/back.bin" || fail "the 20 MiB object came back different"
[ "$("$SDRA" blob --blob $L head calls/c1/audio.wav)" = $((20 << 20)) ] || fail "head: wrong size"
# virtual-host style: curl resolves BUCKET.localhost to the loopback address
SDRA_S3_ENDPOINT="http://localhost:$SIGV4_PORT" SDRA_S3_PATH_STYLE=0 \
  "$SDRA" blob --blob $L get calls/c1/audio.wav "$T/range.bin" --range 8388600-8388615 2>"$T/err.log" \
  || fail "virtual-host ranged get: $(cat "$T/err.log")"
cmp -s "$T/range.bin" <(tail -c +8388601 "$T/big.bin" | head -c 16) || fail "the range came back different"
[ "$("$SDRA" blob --blob $L rm-prefix calls/c1/)" = 2 ] || fail "rm-prefix did not remove 2 objects"
"$SDRA" blob --blob $L head calls/c1/audio.wav >"$T/out" 2>"$T/err.log" && fail "head after rm-prefix succeeded"
python3 - "$T/sig.sigv4.jsonl" <<'PY' || fail "the SigV4 server saw: $(cat "$T/sig.sigv4.jsonl")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
bad = [r for r in rows if not r["sig_ok"]]
assert not bad, ("signature refused", bad)
seen = {(r["method"], r["query"].split("=")[0] if r["query"] else "", r["vhost"]) for r in rows}
need = {("POST", "uploads", False), ("PUT", "partNumber", False), ("POST", "uploadId", False),
        ("PUT", "", False), ("GET", "", False), ("GET", "", True), ("HEAD", "", False),
        ("GET", "list-type", False), ("DELETE", "", False)}
assert need <= seen, ("not covered", need - seen)
parts = [r for r in rows if r["method"] == "PUT" and r["query"].startswith("partNumber")]
assert len(parts) == 3, ("parts", len(parts))  # 20 MiB in 8 MiB parts
for r in rows:
    assert {"host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"} <= set(r["signed_headers"]), r
ranged = [r for r in rows if r["status"] == 206]
assert ranged and ranged[0]["vhost"], "ranged get not virtual-host"
print(len(rows), "requests, every signature verified")
PY
# a wrong secret: the server's signer disagrees, one line
AWS_SECRET_ACCESS_KEY=wrong-secret "$SDRA" blob --blob $L check >"$T/out" 2>"$T/err.log"
[ $? -eq 1 ] || fail "a wrong secret did not exit 1"
[ "$(wc -l <"$T/err.log")" -eq 1 ] || fail "wrong secret: not one line: $(cat "$T/err.log")"
grep -q "HTTP 403 SignatureDoesNotMatch" "$T/err.log" || fail "wrong secret: $(cat "$T/err.log")"
grep -q "wrong-secret" "$T/err.log" && fail "the secret is in the message"

# --- 2. bad input: one line each ------------------------------------------------------------
# one_line NAME PATTERN CMD...: CMD exits 1 with exactly one line on stderr matching PATTERN
one_line() {
  local name=$1 pat=$2; shift 2
  "$@" >"$T/out" 2>"$T/err.log"
  local rc=$?
  [ $rc -eq 1 ] || fail "$name: exit $rc, not 1: $(cat "$T/err.log")"
  [ "$(wc -l <"$T/err.log")" -eq 1 ] || fail "$name: not one line: $(cat "$T/err.log")"
  grep -Eq "$pat" "$T/err.log" || fail "$name: '$(cat "$T/err.log")' does not match '$pat'"
  grep -q "$AWS_SECRET_ACCESS_KEY" "$T/err.log" && fail "$name: the secret is in the message"
  return 0
}
one_line "bucket missing" "^sdra: s3://no-such-bucket/p: HTTP 404 NoSuchBucket" \
  "$SDRA" blob --blob s3://no-such-bucket/p check
one_line "wrong access key" "^sdra: s3://sdra-test: HTTP 403 InvalidAccessKeyId" \
  env AWS_ACCESS_KEY_ID=AKIDWRONG "$SDRA" blob --blob s3://sdra-test check
one_line "no credentials" "no credentials \(set AWS_ACCESS_KEY_ID" \
  env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$SDRA" blob --blob s3://sdra-test check
echo -n "$AWS_SECRET_ACCESS_KEY" >"$T/secret"
AWS_SECRET_ACCESS_KEY= AWS_SECRET_ACCESS_KEY_FILE="$T/secret" "$SDRA" blob --blob s3://sdra-test check >"$T/out" 2>"$T/err.log" \
  || fail "AWS_SECRET_ACCESS_KEY_FILE not used: $(cat "$T/err.log")"
DOWN=$(free_port)
one_line "server down" "^sdra: s3://sdra-test: http://127.0.0.1:$DOWN: connection refused$" \
  env SDRA_S3_ENDPOINT="http://127.0.0.1:$DOWN" "$SDRA" blob --blob s3://sdra-test check
sigv4_start stall --stall
t0=$(date +%s)
one_line "timeout" "^sdra: s3://sdra-test: http://127.0.0.1:$SIGV4_PORT: timed out" \
  env SDRA_S3_ENDPOINT="http://127.0.0.1:$SIGV4_PORT" SDRA_S3_TIMEOUT_MS=1500 "$SDRA" blob --blob s3://sdra-test check
[ $(($(date +%s) - t0)) -lt 15 ] || fail "the timeout took $(($(date +%s) - t0)) s"
one_line "bad bucket name" "not a bucket name" "$SDRA" blob --blob "s3://Bad_Bucket/x" check
one_line "bad endpoint" "SDRA_S3_ENDPOINT: .* is not an http:// or https:// URL" \
  env SDRA_S3_ENDPOINT=ftp://127.0.0.1:1 "$SDRA" blob --blob s3://sdra-test check
one_line "bad key" "object key .* is not valid" "$SDRA" blob --blob "$T/local" put ../escape "$T/small.txt"
one_line "bad scheme" "not an object store location" "$SDRA" blob --blob gs://bucket check
"$SDRA" blob --blob s3://sdra-test frobnicate >"$T/out" 2>"$T/err.log"; [ $? -eq 2 ] || fail "unknown command not a usage error"

# --- 3. s3rver: the contract on S3, and bounded memory -------------------------------------
s3rver_start sdra-test
export SDRA_S3_ENDPOINT="http://127.0.0.1:$S3_PORT" AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
unset AWS_SESSION_TOKEN
SDRA_TEST_TMP="$T" SDRA_TEST_S3_ONLY=1 SDRA_TEST_S3_URL=s3://sdra-test/contract "$BUILD/blob_test_contract" \
  >"$T/contract.log" 2>&1 || fail "the object store contract failed on s3rver: $(grep -E 'FAIL|ERROR|error' "$T/contract.log" | head -5)"
grep -q "PASSED.*8 test" "$T/contract.log" || fail "contract on s3rver: $(tail -3 "$T/contract.log")"
# 20 MiB through `sdra blob put` holds one 8 MiB part at a time, not the file
/usr/bin/time -f %M -o "$T/rss" "$SDRA" blob --blob s3://sdra-test/mem put calls/m/audio.wav "$T/big.bin" \
  2>"$T/err.log" || fail "put on s3rver: $(cat "$T/err.log")"
rss_kb=$(tail -1 "$T/rss")
/usr/bin/time -f %M -o "$T/rss0" "$SDRA" blob --blob s3://sdra-test/mem put calls/m/small.txt "$T/small.txt" \
  2>"$T/err.log" || fail "small put on s3rver: $(cat "$T/err.log")"
base_kb=$(tail -1 "$T/rss0")
# one 8 MiB part and curl's buffers above what a 19-byte put needs; a whole-file buffer is 20 MiB
[ $((rss_kb - base_kb)) -lt 12288 ] || fail "sdra blob put of 20 MiB peaked at $rss_kb KiB ($base_kb KiB for 19 bytes)"
"$SDRA" blob --blob s3://sdra-test/mem get calls/m/audio.wav - 2>"$T/err.log" | cmp -s - "$T/big.bin" \
  || fail "get from s3rver differs: $(cat "$T/err.log")"
echo "blob_s3: ok (peak RSS: $rss_kb KiB for a 20 MiB put, $base_kb KiB for 19 bytes)"
