#!/usr/bin/env bash
# eval_cli.sh - `sdra eval asr` and `sdra eval diarization` on small files with results counted
# by hand (WER with sub/del/ins, cpWER with a speaker permutation, DER with collar and
# overlap, RTTM and transcript hypotheses, --json), and their errors: missing or malformed
# files exit 1 with a one-line message naming the file, usage errors exit 2, --help exits 0.
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
T=$(mktemp -d "${TMPDIR:-/tmp}/eval_cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
jget() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v = v[k]
print(v)' "$1" "$2"; }
near() { python3 -c 'import sys; sys.exit(0 if abs(float(sys.argv[1]) - float(sys.argv[2])) < 1e-6 else 1)' "$1" "$2"; }

# --- WER on plain text: "the cat sat on the mat" vs "The cat sit on mat." = 1 sub + 1 del / 6
echo "the cat sat on the mat" > "$T/ref.txt"
echo "The cat sit on mat." > "$T/hyp.txt"
"$SDRA" eval asr --ref "$T/ref.txt" "$T/hyp.txt" --json > "$T/w.json" || fail "eval asr exited $?"
near "$(jget "$T/w.json" wer)" "$(python3 -c 'print(2/6)')" || fail "WER: $(cat "$T/w.json")"
[ "$(jget "$T/w.json" substitutions)" = 1 ] && [ "$(jget "$T/w.json" deletions)" = 1 ] &&
  [ "$(jget "$T/w.json" insertions)" = 0 ] || fail "WER counts: $(cat "$T/w.json")"
"$SDRA" eval asr --ref "$T/ref.txt" "$T/hyp.txt" | grep -q '^WER 33.33%' || fail "text output"

# --- cpWER with an STM reference and a transcript whose speakers are named differently
cat > "$T/ref.stm" <<'STM'
call 1 alice 0.0 2.0 hello there
call 1 bob 2.5 4.0 good morning friend
STM
cat > "$T/hyp.json" <<'JSON'
{"schema": "sdra.transcript/1", "duration": 5,
 "speakers": [{"id": "S1", "role": "rep"}, {"id": "S2", "role": "prospect"}],
 "utterances": [
  {"speaker": "S2", "start": 0.1, "end": 1.9, "text": "Hello their."},
  {"speaker": "S1", "start": 2.4, "end": 4.1, "text": "good morning friend"}]}
JSON
"$SDRA" eval asr --ref "$T/ref.stm" "$T/hyp.json" --json > "$T/c.json" || fail "cpwer exited $?"
near "$(jget "$T/c.json" wer)" 0.2 || fail "WER with transcript: $(cat "$T/c.json")"
near "$(jget "$T/c.json" cpwer.wer)" 0.2 || fail "cpWER: $(cat "$T/c.json")"
[ "$(jget "$T/c.json" cpwer.mapping.S2)" = alice ] || fail "cpWER mapping: $(cat "$T/c.json")"

# --- DER: A 0-10, B 10-20; hyp s1 0-12, s2 12-20: collar 0 -> 2/20; collar 0.25 -> 1.75/19
cat > "$T/ref.rttm" <<'RTTM'
SPEAKER call 1 0.00 10.00 <NA> <NA> A <NA> <NA>
SPEAKER call 1 10.00 10.00 <NA> <NA> B <NA> <NA>
RTTM
cat > "$T/hyp.rttm" <<'RTTM'
SPEAKER call 1 12.00 8.00 <NA> <NA> s2 <NA> <NA>
SPEAKER call 1 0.00 12.00 <NA> <NA> s1 <NA> <NA>
RTTM
"$SDRA" eval diarization --ref "$T/ref.rttm" "$T/hyp.rttm" --collar 0 --json > "$T/d.json" || fail "der exited $?"
near "$(jget "$T/d.json" der)" 0.1 || fail "DER collar 0: $(cat "$T/d.json")"
[ "$(jget "$T/d.json" mapping.s2)" = B ] || fail "DER mapping: $(cat "$T/d.json")"
"$SDRA" eval diarization --ref "$T/ref.rttm" "$T/hyp.rttm" --json > "$T/d.json" || fail "der exited $?"
near "$(jget "$T/d.json" der)" "$(python3 -c 'print(1.75/19)')" || fail "DER collar 0.25: $(cat "$T/d.json")"
# overlap: reference A 0-10 and B 5-15, the transcript only finds A -> missed 10 of 20
cat > "$T/ov.rttm" <<'RTTM'
SPEAKER call 1 0.00 10.00 <NA> <NA> A <NA> <NA>
SPEAKER call 1 5.00 10.00 <NA> <NA> B <NA> <NA>
RTTM
cat > "$T/ov.json" <<'JSON'
{"schema": "sdra.transcript/1", "duration": 15,
 "speakers": [{"id": "S1", "role": "rep"}],
 "utterances": [{"speaker": "S1", "start": 0, "end": 10, "text": "words"}]}
JSON
"$SDRA" eval diarization --ref "$T/ov.rttm" "$T/ov.json" --collar 0 --json > "$T/o.json" || fail "overlap exited $?"
near "$(jget "$T/o.json" der)" 0.5 || fail "DER with overlap: $(cat "$T/o.json")"
"$SDRA" eval diarization --ref "$T/ref.rttm" "$T/hyp.rttm" | grep -q '^DER ' || fail "text output"

# --- errors
expect() { # code pattern cmd...
  local want=$1 pat=$2; shift 2
  "$@" > "$T/out" 2> "$T/err"; local rc=$?
  [ $rc = "$want" ] || fail "'$*' exited $rc, want $want: $(cat "$T/err")"
  [ "$(wc -l < "$T/err")" -le 2 ] || fail "'$*' printed more than a line: $(cat "$T/err")"
  grep -q -- "$pat" "$T/err" || fail "'$*' error does not mention '$pat': $(cat "$T/err")"
}
expect 1 "$T/nope.rttm" "$SDRA" eval diarization --ref "$T/nope.rttm" "$T/hyp.rttm"
expect 1 "$T/nope.json" "$SDRA" eval diarization --ref "$T/ref.rttm" "$T/nope.json"
printf 'SPEAKER call 1 zero 1.0 <NA> <NA> A <NA> <NA>\n' > "$T/bad.rttm"
expect 1 "bad.rttm:1" "$SDRA" eval diarization --ref "$T/bad.rttm" "$T/hyp.rttm"
printf '{"schema": "sdra.transcript/1", "speakers": [' > "$T/bad.json"
expect 1 "bad.json" "$SDRA" eval diarization --ref "$T/ref.rttm" "$T/bad.json"
expect 1 "bad.json" "$SDRA" eval asr --ref "$T/ref.txt" "$T/bad.json"
printf 'call 1 alice 0.0\n' > "$T/bad.stm"
expect 1 "bad.stm:1" "$SDRA" eval asr --ref "$T/bad.stm" "$T/hyp.json"
: > "$T/empty.txt"
expect 1 "empty.txt" "$SDRA" eval asr --ref "$T/empty.txt" "$T/hyp.txt"
head -c 3000 /dev/urandom > "$T/binary.rttm"
expect 1 "binary.rttm" "$SDRA" eval diarization --ref "$T/binary.rttm" "$T/hyp.rttm"
expect 2 "--ref" "$SDRA" eval diarization "$T/hyp.rttm"
expect 2 "hypothesis" "$SDRA" eval asr --ref "$T/ref.txt"
expect 2 "collar" "$SDRA" eval diarization --ref "$T/ref.rttm" "$T/hyp.rttm" --collar abc
expect 2 "unknown option" "$SDRA" eval asr --ref "$T/ref.txt" "$T/hyp.txt" --frobnicate
"$SDRA" eval diarization --help | grep -q collar || fail "diarization --help"
"$SDRA" eval asr --help | grep -q cpWER || fail "asr --help"
echo "eval_cli: ok"
