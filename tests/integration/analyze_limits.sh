#!/usr/bin/env bash
# analyze_limits.sh - `sdra analyze` input limits (security review, finding 7): a transcript over
# the documented limits (docs/schemas/transcript.md "Limits": 64 MiB, 100,000 utterances,
# 1,000,000 words) fails with one line naming the file and the limit, and exit 1, in JSON and
# in text form; one just under the utterance limit still loads.
set -u
: "${SDRA:?}" "${SDRA_SRC:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/analyze_limits.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# over_limit FILE NEEDLE: exit 1, one line on stderr naming FILE and NEEDLE, nothing on stdout.
over_limit() {
  "$SDRA" analyze "$1" > "$T/out" 2> "$T/err"
  local rc=$?
  [ "$rc" -eq 1 ] || fail "$(basename "$1"): exit $rc, not 1: $(head -c 300 "$T/err")"
  [ "$(wc -l < "$T/err")" -eq 1 ] || fail "$(basename "$1"): not one line: $(head -c 300 "$T/err")"
  grep -q "$(basename "$1"): .*$2" "$T/err" || fail "$(basename "$1"): message: $(cat "$T/err")"
  [ -s "$T/out" ] && fail "$(basename "$1"): wrote to stdout"
  return 0
}

python3 - "$T" <<'PY'
import json, sys
d = sys.argv[1]
def transcript(path, n_utts, text):
    with open(path, "w") as f:
        f.write('{"schema": "sdra.transcript/1", "speakers": [{"id": "S1", "role": "rep"}, '
                '{"id": "S2", "role": "prospect"}], "utterances": [\n')
        f.write(",\n".join('{"speaker":"S%d","start":%d,"end":%d,"text":"%s"}' % (1 + i % 2, i, i + 1, text)
                           for i in range(n_utts)))
        f.write("]}\n")
transcript(d + "/utts.json", 100001, "ok")           # one utterance over the limit
transcript(d + "/under.json", 100000, "fine thanks")  # at the limit: loads
with open(d + "/words.txt", "w") as f:                # 1,001,000 words in 1,000 turns
    for i in range(1000):
        f.write("%s: %s\n" % ("Rep" if i % 2 == 0 else "Prospect", " ".join(["ok"] * 1001)))
with open(d + "/words.json", "w") as f:               # 1,000,001 words in words[]
    f.write('{"schema": "sdra.transcript/1", "speakers": [{"id": "S1"}], "utterances": [\n')
    w = ",".join('{"w":"a","start":0,"end":0}' for _ in range(10001))
    f.write(",\n".join('{"speaker":"S1","start":0,"end":1,"words":[%s]}' % w for _ in range(100)))
    f.write("]}\n")
PY
truncate -s 65M "$T/big.json"

over_limit "$T/utts.json" "limit of 100000 utterances"
over_limit "$T/words.txt" "limit of 1000000 words"
over_limit "$T/words.json" "limit of 1000000 words"
over_limit "$T/big.json" "limit of 67108864 bytes"
"$SDRA" analyze "$T/under.json" -o "$T/under.analysis.json" 2> "$T/err" || fail "a transcript at the limit failed: $(cat "$T/err")"
echo "analyze_limits: ok"
