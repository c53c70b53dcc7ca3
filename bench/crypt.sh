#!/usr/bin/env bash
# bench/crypt.sh - what encryption at rest costs (docs/security.md, "Encryption at rest").
#
#  1. Throughput: a SIZE_MB file of random bytes copied with `cat` (the reference, same run,
#     same disk), encrypted with `sdra encrypt` and decrypted with `sdra decrypt` (the streamed
#     secretstream format the server uses); MB/s of each and the ratio to cat. The round trip
#     is checked with cmp.
#  2. Memory: one UPLOAD_MB upload to `sdra serve --no-workers`, encrypted (default) and with
#     --no-encrypt: the server's peak RSS (VmHWM) in each; the upload is encrypted as it
#     arrives, so the peak must not grow with the upload.
#
# Usage: bench/crypt.sh [path/to/sdra]   (default build/sdra; env SIZE_MB=512 UPLOAD_MB=200)
set -euo pipefail
SDRA=${1:-${SDRA:-build/sdra}}
SIZE_MB=${SIZE_MB:-512}
UPLOAD_MB=${UPLOAD_MB:-200}
[ -x "$SDRA" ] || { echo "bench: $SDRA not built" >&2; exit 1; }
# $T, a scratch directory removed at exit, and PIDS, the servers stopped at exit (the
# integration tests' helper)
. "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib/scratch.sh"
it_setup bench_crypt
python3 -c 'import secrets; print(secrets.token_hex(32))' > "$T/master.key"
chmod 600 "$T/master.key"
head -c $((SIZE_MB << 20)) /dev/urandom > "$T/in"
sync
secs() { local t0 t1; t0=$(date +%s.%N); "$@"; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
echo "== throughput: $SIZE_MB MB"
cat "$T/in" > "$T/warm"; rm -f "$T/warm"
c=$(secs sh -c "cat '$T/in' > '$T/copy'")
e=$(secs "$SDRA" encrypt "$T/in" -o "$T/enc" --master-key-file "$T/master.key")
d=$(secs "$SDRA" decrypt "$T/enc" -o "$T/dec" --master-key-file "$T/master.key")
cmp -s "$T/in" "$T/dec" || { echo "bench: round trip differs" >&2; exit 1; }
printf "  cat      %7.1f MB/s\n" "$(echo "$SIZE_MB / $c" | bc -l)"
printf "  encrypt  %7.1f MB/s  (%.2f of cat)\n" "$(echo "$SIZE_MB / $e" | bc -l)" "$(echo "$c / $e" | bc -l)"
printf "  decrypt  %7.1f MB/s  (%.2f of cat)\n" "$(echo "$SIZE_MB / $d" | bc -l)" "$(echo "$c / $d" | bc -l)"
echo "  ciphertext overhead: $(( $(stat -c %s "$T/enc") - $(stat -c %s "$T/in") )) bytes"
rm -f "$T/copy" "$T/enc" "$T/dec"

echo "== memory: one $UPLOAD_MB MB upload"
head -c $((UPLOAD_MB << 20)) /dev/urandom > "$T/up"
printf 'RIFF' | dd of="$T/up" conv=notrunc 2>/dev/null  # any body; the sniffer answers 415 or stores it
for mode in encrypted plaintext; do
  D="$T/data-$mode"
  KEY=$("$SDRA" keys create --data "$D" --name b --scope write)
  extra=(--master-key-file "$T/master.key")
  [ "$mode" = plaintext ] && extra=(--no-encrypt)
  rm -f "$T/port"
  "$SDRA" serve --listen 127.0.0.1:0 --data "$D" --port-file "$T/port" --no-workers --log-level warn \
    --max-upload-mb $((UPLOAD_MB + 10)) "${extra[@]}" 2>> "$T/server.log" &
  SPID=$!
  PIDS+=("$SPID")
  for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.1; done
  before=$(awk '$1 == "VmRSS:" {print $2}' "/proc/$SPID/status")
  code=$(curl -s -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $KEY" -H 'Content-Type: audio/wav' \
    --data-binary @"$T/up" "http://127.0.0.1:$(cat "$T/port")/v1/calls")
  peak=$(awk '$1 == "VmHWM:" {print $2}' "/proc/$SPID/status")
  echo "  $mode: answer $code, RSS ${before} kB before, peak ${peak} kB (VmHWM)"
  kill "$SPID"; wait "$SPID" 2>/dev/null || true
done 2>&1
