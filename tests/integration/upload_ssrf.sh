#!/usr/bin/env bash
# upload_ssrf.sh - security review findings 1 and 7 against a real `sdra serve` over HTTP.
#
# Finding 1 (SSRF / local file read through FFmpeg): a tiny HTTP server on 127.0.0.1 records
# every request and serves a real WAV. Uploads of (a) an HLS playlist pointing at it, (b) lists
# pointing at a local recording (file:// URL, bare absolute path, plain M3U), (c) an ffconcat
# script and (d) the same playlist named call.wav (multipart and raw body) must each be refused
# (4xx, or a call that fails with the clear error), the HTTP server must see no request, and no
# transcript may exist. `sdra transcribe` on the playlist (file, call.wav, stdin) says one line
# and exits 1.
# Finding 7 (server paths): after a stage failure, the call view, the event stream and the
# transcript artifact of a good call never contain the server's data directory.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
FIX=${SDRA_FIXTURES:?SDRA_FIXTURES must name the generated calls}
GOOD="$FIX/tiny.mono.wav"     # the audio the uploads are allowed to transcribe
REMOTE="$FIX/tiny.stereo.wav" # served over HTTP
LOCAL="$FIX/pricing.mono.wav"  # a local recording the lists point at
for f in "$GOOD" "$REMOTE" "$LOCAL"; do
  [ -f "$f" ] || { echo "FAIL: $f missing (tests/fixtures/generate.sh)" >&2; exit 1; }
done
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup upload_ssrf
REFUSED="playlists are not accepted; upload the audio itself"

# --- the HTTP server the playlists point at (records every request) -------------------------
cat > "$T/recorder.py" <<'PY'
import http.server, os, sys
log, port_file, wav = sys.argv[1:4]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(log, "a") as f:
            f.write(self.command + " " + self.path + "\n")
        data = open(wav, "rb").read()
        self.send_response(200)
        self.send_header("Content-Type", "audio/wav")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(data)
    do_HEAD = do_GET
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(port_file + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(port_file + ".tmp", port_file)
s.serve_forever()
PY
: > "$T/requests"
python3 "$T/recorder.py" "$T/requests" "$T/http.port" "$REMOTE" 2>"$T/recorder.log" &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$T/http.port" ] && break; sleep 0.1; done
[ -s "$T/http.port" ] || fail "recorder did not start"
URL="http://127.0.0.1:$(cat "$T/http.port")/call.wav"
curl -s -o /dev/null "$URL" && [ -s "$T/requests" ] || fail "the recorder does not record"
: > "$T/requests"

# --- the server ----------------------------------------------------------------------------
D="$T/data"
KEY=$("$SDRA" keys create --data "$D" --name ssrf --scope admin) || fail "keys create failed"
rm -f "$T/sdra.port"
"$SDRA" serve --listen 127.0.0.1:0 --data "$D" --port-file "$T/sdra.port" --log-level info \
  --timeout-s 10 2>"$T/server.log" &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$T/sdra.port" ] && break; sleep 0.1; done
[ -s "$T/sdra.port" ] || fail "server did not start"
B="http://127.0.0.1:$(cat "$T/sdra.port")"
A=(-H "Authorization: Bearer $KEY")

# json FILE EXPR: prints a Python expression over the JSON document d.
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# wait_final ID: waits for the call's status to be done or failed; prints it.
wait_final() {
  local st=""
  for _ in $(seq 1 600); do
    curl -s -o "$T/call.json" --max-time 10 "${A[@]}" "$B/v1/calls/$1"
    st=$(json "$T/call.json" 'd.get("status","")' 2>/dev/null)
    case "$st" in done|failed) break ;; esac
    sleep 0.5
  done
  echo "$st"
}

# --- the playlists -------------------------------------------------------------------------
printf '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:30\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:30.0,\n%s\n#EXT-X-ENDLIST\n' \
  "$URL" > "$T/remote.m3u8"
printf '#EXTM3U\n#EXT-X-TARGETDURATION:30\n#EXTINF:30.0,\nfile://%s\n#EXT-X-ENDLIST\n' "$LOCAL" > "$T/local-url.m3u8"
printf '#EXTM3U\n#EXT-X-TARGETDURATION:30\n#EXTINF:30.0,\n%s\n#EXT-X-ENDLIST\n' "$LOCAL" > "$T/local-path.m3u8"
printf '#EXTM3U\n#EXTINF:30,call\n%s\n' "$LOCAL" > "$T/plain.m3u"
printf 'ffconcat version 1.0\nfile %s\n' "$LOCAL" > "$T/script.ffconcat"

# upload NAME FILE [raw]: uploads FILE (as multipart with filename NAME, or as the raw body);
# the upload must be refused with the clear error, or make a call that fails with it.
upload() {
  local name=$1 file=$2 how=${3:-multipart} code id st
  if [ "$how" = raw ]; then
    code=$(curl -s -o "$T/body" -w '%{http_code}' --max-time 30 "${A[@]}" -H 'Content-Type: audio/wav' \
      --data-binary @"$file" "$B/v1/calls")
  else
    code=$(curl -s -o "$T/body" -w '%{http_code}' --max-time 30 "${A[@]}" \
      -F "audio=@$file;filename=$name;type=audio/wav" "$B/v1/calls")
  fi
  case "$code" in
    4??) grep -q "$REFUSED" "$T/body" || fail "$name ($how): $code without the clear error: $(cat "$T/body")" ;;
    202)
      id=$(json "$T/body" 'd["id"]') || fail "$name ($how): no id in $(cat "$T/body")"
      st=$(wait_final "$id")
      [ -s "$T/requests" ] && fail "$name ($how): the server fetched from the playlist's URL: $(cat "$T/requests")"
      [ "$st" = failed ] || fail "$name ($how): accepted and the call ended '$st' (must fail): $(cat "$T/call.json")"
      grep -q "$REFUSED" "$T/call.json" || fail "$name ($how): call failed without the clear error: $(cat "$T/call.json")"
      ;;
    *) fail "$name ($how): answered $code: $(cat "$T/body")" ;;
  esac
  [ -s "$T/requests" ] && fail "$name ($how): the server fetched from the playlist's URL: $(cat "$T/requests")"
  return 0
}

upload remote.m3u8 "$T/remote.m3u8"                  # (a) HLS pointing at our HTTP server
upload local-url.m3u8 "$T/local-url.m3u8"            # (b) file:// URL
upload local-path.m3u8 "$T/local-path.m3u8"          #     bare absolute path
upload plain.m3u "$T/plain.m3u"                      #     plain M3U list
upload script.ffconcat "$T/script.ffconcat"          # (c) ffconcat script
upload call.wav "$T/remote.m3u8"                     # (d) the playlist named call.wav
upload call.wav "$T/local-path.m3u8"
upload call.wav "$T/remote.m3u8" raw                 #     and as a raw audio/wav body
upload call.wav "$T/script.ffconcat" raw

sleep 1
[ -s "$T/requests" ] && fail "the server fetched from the playlist's URL: $(cat "$T/requests")"
found=$(find "$D" -name 'transcript.*' | head -3)
[ -z "$found" ] || fail "a transcript of referenced audio exists: $found"
curl -s -o "$T/list" "${A[@]}" "$B/v1/calls?status=done"
grep -q '"id"' "$T/list" && fail "a call reached done: $(cat "$T/list")"

# --- the CLI: one decode path, one line, exit 1 --------------------------------------------
cli() { # cli LABEL ARGS...: sdra transcribe must fail with the clear error in one line
  local label=$1; shift
  "$SDRA" transcribe "$@" >"$T/cli.out" 2>"$T/cli.err" </dev/null
  local rc=$?
  [ $rc -eq 1 ] || fail "transcribe $label: exit $rc (want 1): $(cat "$T/cli.err")"
  [ "$(wc -l < "$T/cli.err")" -eq 1 ] || fail "transcribe $label: not one line: $(cat "$T/cli.err")"
  grep -q "$REFUSED" "$T/cli.err" || fail "transcribe $label: $(cat "$T/cli.err")"
  [ -s "$T/cli.out" ] && fail "transcribe $label printed a transcript: $(head -c 300 "$T/cli.out")"
  return 0
}
cli remote.m3u8 "$T/remote.m3u8"
grep -q "^sdra: $T/remote.m3u8: $REFUSED\$" "$T/cli.err" || fail "CLI message: $(cat "$T/cli.err")"
cp "$T/remote.m3u8" "$T/call.wav"
cli call.wav "$T/call.wav"
cli local-path.m3u8 "$T/local-path.m3u8"
cli script.ffconcat "$T/script.ffconcat"
"$SDRA" transcribe - <"$T/remote.m3u8" >"$T/cli.out" 2>"$T/cli.err"
[ $? -eq 1 ] && grep -q "stdin: $REFUSED" "$T/cli.err" || fail "transcribe - (playlist on stdin): $(cat "$T/cli.err")"
[ -s "$T/requests" ] && fail "the CLI fetched from the playlist's URL: $(cat "$T/requests")"

# --- finding 7: no server path in what API clients see --------------------------------------
# A stage failure (bytes that are no audio format): the call view and the events.
python3 -c 'import random,sys; random.seed(7); sys.stdout.buffer.write(bytes(random.randrange(256) for _ in range(4096)))' > "$T/noise.bin"
code=$(curl -s -o "$T/body" -w '%{http_code}' "${A[@]}" -H 'Content-Type: audio/wav' --data-binary @"$T/noise.bin" "$B/v1/calls")
[ "$code" = 202 ] || fail "non-audio upload answered $code (the decoder, not the upload, judges it): $(cat "$T/body")"
BAD=$(json "$T/body" 'd["id"]')
[ "$(wait_final "$BAD")" = failed ] || fail "non-audio call did not fail: $(cat "$T/call.json")"
grep -qF "$T" "$T/call.json" && fail "the call view shows a server path: $(cat "$T/call.json")"
# (the call's API links, /v1/calls/ID/..., are URLs of this API, not paths on the server)
sed 's#/v1/calls/#/API/#g' "$T/call.json" | grep -qF "/calls/$BAD/" \
  && fail "the call view shows a server path: $(cat "$T/call.json")"
json "$T/call.json" 'd["stages"][0]["error"]' | grep -q '^invalid_input: audio\.bin: not an audio file' \
  || fail "stage error does not name the file relative to the call: $(cat "$T/call.json")"
curl -sN --max-time 30 "${A[@]}" "$B/v1/calls/$BAD/events" > "$T/events"
grep -q '^event: done' "$T/events" || fail "events of the failed call: $(cat "$T/events")"
grep -q 'audio\.bin: not an audio file' "$T/events" || fail "events carry no stage error: $(cat "$T/events")"
grep -qF "$T" "$T/events" && fail "the event stream shows a server path: $(cat "$T/events")"
# Audio with no speech in it (10 s of silence): the call fails at once, not retried, with a
# reason that names the file as the call knows it.
sox -n -r 16000 -c 1 -b 16 "$T/silence.wav" trim 0 10
code=$(curl -s -o "$T/body" -w '%{http_code}' "${A[@]}" -H 'Content-Type: audio/wav' --data-binary @"$T/silence.wav" "$B/v1/calls")
[ "$code" = 202 ] || fail "silent upload answered $code: $(cat "$T/body")"
SIL=$(json "$T/body" 'd["id"]')
[ "$(wait_final "$SIL")" = failed ] || fail "silent call did not fail: $(cat "$T/call.json")"
json "$T/call.json" 'd["stages"][0]["error"]' | grep -q '^invalid_input: no speech found in audio\.wav (10\.0 s of audio, 0 words recognised)' \
  || fail "silent call: stage error $(cat "$T/call.json")"
grep -qF "$T" "$T/call.json" && fail "the silent call's view shows a server path: $(cat "$T/call.json")"
json "$T/call.json" 'd["stages"][0]["finished_at"] is not None and d["stages"][0]["duration_ms"] >= 0 and d["stages"][0]["attempts"] == 1' |
  grep -qx True || fail "silent call: the failed stage has no end time or was retried: $(cat "$T/call.json")"

# A good call: the transcript artifact names the audio relative to the call.
code=$(curl -s -o "$T/body" -w '%{http_code}' "${A[@]}" -F "audio=@$GOOD;filename=good.wav;type=audio/wav" "$B/v1/calls")
[ "$code" = 202 ] || fail "good upload answered $code: $(cat "$T/body")"
GID=$(json "$T/body" 'd["id"]')
for _ in $(seq 1 1200); do
  curl -s -o "$T/call.json" "${A[@]}" "$B/v1/calls/$GID"
  st=$(json "$T/call.json" 'd["stages"][0]["state"]' 2>/dev/null)
  case "$st" in done|failed) break ;; esac
  sleep 0.5
done
[ "$st" = done ] || fail "good call: transcribe ended '$st': $(cat "$T/call.json")"
[ "$(curl -s -o "$T/transcript.json" -w '%{http_code}' "${A[@]}" "$B/v1/calls/$GID/transcript")" = 200 ] \
  || fail "GET transcript: $(cat "$T/transcript.json")"
grep -qF "$T" "$T/transcript.json" && fail "transcript.json shows a server path: $(head -c 400 "$T/transcript.json")"
[ "$(json "$T/transcript.json" 'd.get("source")')" = audio.wav ] \
  || fail "transcript.json source: $(json "$T/transcript.json" 'd.get("source")')"
grep -qF "$T" "$T/call.json" && fail "the good call's view shows a server path: $(cat "$T/call.json")"
[ -s "$T/requests" ] && fail "requests reached the recorder: $(cat "$T/requests")"
echo "upload_ssrf: ok"
