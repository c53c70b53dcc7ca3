# tests/integration/lib/s3.sh - sourced by the object store tests (after lib/scratch.sh): starts
# the S3-compatible servers they use on 127.0.0.1, each stopped by it_cleanup.
#
#     s3rver_start sdra-test        # s3rver (tools/s3rver) with bucket sdra-test; sets S3_PORT
#     sigv4_start main --token T    # tests/servers/s3_sigv4.py; sets SIGV4_PORT, log in $T/main.sigv4.jsonl
#     free_port                     # prints a port nothing listens on

SRC=${SDRA_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# s3rver_start BUCKET: s3rver's data in $T/s3rver, its log in $T/s3rver.log. Its credentials
# are S3RVER / S3RVER; exported here for the commands that follow.
s3rver_start() {
  local bin="$SRC/tools/s3rver/node_modules/s3rver/bin/s3rver.js" i
  [ -f "$bin" ] || fail "s3rver is not installed in tools/s3rver (scripts/install-deps.sh)"
  for i in 1 2 3; do
    S3_PORT=$(free_port)
    # --openssl-legacy-provider: s3rver's list continuation tokens use a cipher OpenSSL 3 hides
    node --openssl-legacy-provider "$bin" -d "$T/s3rver" -a 127.0.0.1 -p "$S3_PORT" --silent \
      --configure-bucket "$1" >>"$T/s3rver.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 100); do
      curl -s -o "$T/s3rver.probe" --max-time 1 "http://127.0.0.1:$S3_PORT/" 2>"$T/s3rver.probe" && break
      kill -0 "${PIDS[-1]}" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "${PIDS[-1]}" 2>/dev/null && return 0
  done
  fail "s3rver did not start"
}

# sigv4_start NAME [s3_sigv4.py options]: sets SIGV4_PORT.
sigv4_start() {
  local name=$1; shift
  rm -f "$T/$name.sigv4.port"
  python3 "$SRC/tests/servers/s3_sigv4.py" --port-file "$T/$name.sigv4.port" --log "$T/$name.sigv4.jsonl" "$@" \
    2>"$T/$name.sigv4.log" &
  PIDS+=($!)
  wait_port_file "$T/$name.sigv4.port" "the SigV4 test server $name did not start"
  SIGV4_PORT=$(cat "$T/$name.sigv4.port")
}
