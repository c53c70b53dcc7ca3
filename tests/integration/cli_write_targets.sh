#!/usr/bin/env bash
# cli_write_targets.sh - every command that writes a file, by kind of target (security review,
# finding 0): `-o` to a character device (a mknod copy of /dev/null in the scratch dir, never
# the real one) and to a FIFO is written straight through and the node stays what it was;
# `-o -` is stdout; a directory or a socket is refused with one line and exit 1, before any
# work. A regular file is replaced with mode 0600 even under umask 000. (transcribe, the slow
# one, runs once: the other writes share sdra_file_write_atomic, tests/unit/core.)
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
: "${SDRA_SRC:?}" "${SDRA_FIXTURES:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/cli_write_targets.XXXXXX")
READER=""
cleanup() { [ -n "$READER" ] && kill "$READER" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
IN="$SDRA_SRC/tests/analysis/01-discovery.txt"
AUDIO="$SDRA_FIXTURES/tiny.stereo.wav" # the shortest call: recognition is not the subject here
[ -f "$AUDIO" ] || fail "$AUDIO missing (tests/fixtures/generate.sh)"
umask 000

# one_line_error CMD...: exit 1, exactly one line on stderr, nothing on stdout.
one_line_error() {
  "$@" > "$T/out" 2> "$T/err"
  local rc=$?
  [ "$rc" -eq 1 ] || fail "'$*' exited $rc, not 1: $(cat "$T/err")"
  [ "$(wc -l < "$T/err")" -eq 1 ] || fail "'$*' printed more than one line: $(cat "$T/err")"
  [ -s "$T/out" ] && fail "'$*' wrote to stdout"
  return 0
}

# --- a character device: written through, still the same device --------------------------------
if mknod "$T/null" c 1 3 2>/dev/null; then
  "$SDRA" analyze "$IN" -o "$T/null" || fail "analyze -o device failed"
  [ -c "$T/null" ] || fail "analyze -o replaced the character device: $(ls -l "$T/null")"
  [ "$(stat -c %t:%T "$T/null")" = 1:3 ] || fail "the device node changed"
  "$SDRA" transcribe -q "$AUDIO" -o "$T/null" || fail "transcribe -o device failed"
  [ -c "$T/null" ] || fail "transcribe -o replaced the character device"
  ls "$T"/null.tmp.* > /dev/null 2>&1 && fail "a temporary file was left beside the device"
else
  echo "note: mknod not permitted here; character device case skipped" >&2
fi

# --- a FIFO: a reader gets the document, the FIFO stays ------------------------------------------
mkfifo "$T/fifo"
(cat "$T/fifo" > "$T/fifo.out") &
READER=$!
timeout 60 "$SDRA" analyze "$IN" -o "$T/fifo" || fail "analyze -o FIFO failed"
wait "$READER"; READER=""
[ -p "$T/fifo" ] || fail "analyze -o replaced the FIFO: $(ls -l "$T/fifo")"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["schema"] == "sdra.analysis/1"' "$T/fifo.out" \
  || fail "the reader did not get the analysis through the FIFO"

# --- '-': stdout ------------------------------------------------------------------------------------
(cd "$T" && "$SDRA" analyze "$IN" -o - > "$T/stdout.json") || fail "analyze -o - failed"
[ -e "$T/-" ] && fail "analyze -o - wrote a file named '-'"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/stdout.json" || fail "-o - did not print the document"

# --- a directory, a socket: one line, exit 1, the node untouched -----------------------------------
mkdir "$T/adir"
one_line_error "$SDRA" analyze "$IN" -o "$T/adir"
grep -q "adir: .*directory" "$T/err" || fail "the error does not name the directory: $(cat "$T/err")"
[ -d "$T/adir" ] || fail "the directory was replaced"
one_line_error timeout 20 "$SDRA" transcribe -q "$AUDIO" -o "$T/adir" # refused before transcribing
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$T/sock"
one_line_error "$SDRA" analyze "$IN" -o "$T/sock"
grep -q "socket" "$T/err" || fail "the error does not say socket: $(cat "$T/err")"
[ -S "$T/sock" ] || fail "the socket was replaced"
: > "$T/afile"
one_line_error "$SDRA" run "$AUDIO" --out "$T/afile" --data "$T/data" --quiet

# --- a regular file: replaced, 0600 under umask 000 -------------------------------------------------
echo old > "$T/plain.json"
chmod 644 "$T/plain.json"
"$SDRA" analyze "$IN" -o "$T/new.json" || fail "analyze -o new file failed"
"$SDRA" analyze "$IN" -o "$T/plain.json" || fail "analyze -o existing file failed"
[ "$(stat -c %a "$T/new.json")" = 600 ] || fail "new output file mode $(stat -c %a "$T/new.json"), not 600"
[ "$(stat -c %a "$T/plain.json")" = 600 ] || fail "replaced output file mode $(stat -c %a "$T/plain.json"), not 600"
grep -q '"sdra.analysis/1"' "$T/plain.json" || fail "the regular file was not replaced"
echo "cli_write_targets: ok"
