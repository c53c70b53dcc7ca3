#!/usr/bin/env bash
# analyze_cli.sh - `sdra analyze` end to end on every input format, and its errors: bad or
# empty input gives a one-line error naming the input and a non-zero exit, never a crash.
set -u
: "${SDRA:?}" "${SDRA_SRC:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
A="$SDRA_SRC/tests/analysis"

check_doc() { # file: the document has the schema and the fields every consumer reads
    python3 - "$1" <<'PY' || fail "bad analysis document $1"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "sdra.analysis/1", d.get("schema")
for k in ("call_date", "speakers", "sentiment", "intents", "objections", "topics", "pain_points",
          "action_items", "next_meeting", "contact_preferences", "metrics", "summary", "outcome"):
    assert k in d, k
s = d["sentiment"]
assert -1 <= s["overall"] <= 1 and -1 <= s["prospect_end"] <= 1
for u in s["utterances"]:
    assert -1 <= u["score"] <= 1
for f in d["objections"] + d["intents"]:
    assert f["speaker"] and isinstance(f["start"], float) and f["text"], f
for a in d["action_items"]:
    assert a["owner"] in ("rep", "prospect") and a["text"], a
cp = d["contact_preferences"]
assert isinstance(cp["do_not_call"], bool) and isinstance(cp["do_not_email"], bool)
assert d["summary"] and d["outcome"]
PY
}

# every format, -o and stdout
"$SDRA" analyze "$A/01-discovery.txt" --call-date 2026-11-16 --rep-name Alex -o "$tmp/a.json" || fail "text dialogue"
check_doc "$tmp/a.json"
python3 -c "
import json; d=json.load(open('$tmp/a.json'))
m=d['next_meeting']; assert m and m['date']=='2026-11-24' and m['time']=='14:00', m
assert d['speakers'][0]['role']=='rep' and d['speakers'][0]['name']=='Alex'
assert any(o['type']=='price' for o in d['objections'])
assert any(a['due']=='2026-11-19' for a in d['action_items'])
" || fail "discovery findings"
"$SDRA" analyze "$A/12-inbound-interested.vtt" --call-date 2026-11-24 --rep-name Hannah > "$tmp/v.json" || fail "vtt"
check_doc "$tmp/v.json"
"$SDRA" analyze "$A/13-gong-export.srt" --call-date 2026-11-24 > "$tmp/s.json" || fail "srt"
check_doc "$tmp/s.json"
"$SDRA" analyze "$A/11-churn-asr.txt" --call-date 2026-11-24 > "$tmp/asr.json" || fail "asr text"
check_doc "$tmp/asr.json"
# same input, same output (the stage is safe to run again)
"$SDRA" analyze "$A/11-churn-asr.txt" --call-date 2026-11-24 > "$tmp/asr2.json"
cmp -s "$tmp/asr.json" "$tmp/asr2.json" || fail "output is not deterministic"
# stdin, and a transcript JSON written by the project's own writer
"$SDRA" analyze - --call-date 2026-11-24 < "$A/02-cold-call-optout.txt" > "$tmp/in.json" || fail "stdin"
python3 -c "
import json; d=json.load(open('$tmp/in.json'))
assert d['contact_preferences']['do_not_call'] is True
assert d['next_meeting'] is None
" || fail "opt-out from stdin"
# default call date: today when the input has none
"$SDRA" analyze "$A/06-discovery-asr.txt" > "$tmp/today.json" || fail "no call date"
python3 -c "
import json, datetime; d=json.load(open('$tmp/today.json'))
assert d['call_date']==datetime.date.today().isoformat(), d['call_date']" || fail "default call date"

# errors: exit status and one clear line naming the input
expect_fail() { # want_status file args...
    local want=$1; shift
    "$SDRA" analyze "$@" > "$tmp/out" 2> "$tmp/err"
    local rc=$?
    [ "$rc" = "$want" ] || fail "analyze $*: exit $rc, wanted $want"
    [ "$(wc -l < "$tmp/err")" -ge 1 ] || fail "analyze $*: no error message"
    grep -q "sdra" "$tmp/err" || fail "analyze $*: message lacks the program name"
}
: > "$tmp/empty.txt"
printf 'just some prose without speakers\n' > "$tmp/prose.txt"
printf '{"schema": "sdra.transcript/1"' > "$tmp/broken.json"
head -c 2000 /dev/urandom > "$tmp/random.bin"
expect_fail 1 "$tmp/empty.txt"
grep -q "empty.txt" "$tmp/err" || fail "empty input message does not name the file"
expect_fail 1 "$tmp/prose.txt"
expect_fail 1 "$tmp/broken.json"
expect_fail 1 "$tmp/random.bin"
expect_fail 1 "$tmp/does-not-exist.txt"
grep -q "does-not-exist.txt" "$tmp/err" || fail "missing file message does not name it"
expect_fail 2 "$A/01-discovery.txt" --call-date 2026-02-30
expect_fail 2 "$A/01-discovery.txt" --bogus
expect_fail 2 "$A/01-discovery.txt" --backend nope
expect_fail 2
echo "analyze_cli: ok"
