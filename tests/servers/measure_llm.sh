#!/usr/bin/env bash
# measure_llm.sh SDRA - the issue-11 measurements of the llm analysis path, against
# tests/servers/openai_llm.py on 127.0.0.1:
#  1. P/R/F1 through --analyzer llm (labels-replaying server) and through the rules engine,
#     on every labelled set of tests/analysis;
#  2. grounding: every dialogue of tests/analysis/labels.txt analysed twice, clean and with
#     H injected hallucinations per request (default 6): dropped/injected, and whether any
#     grounded item of the clean run was lost.
set -u
SDRA=${1:?usage: measure_llm.sh path/to/sdra [hallucinations]}
H=${2:-6}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
export SDRA_SHARE_DIR=${SDRA_SHARE_DIR:-$SRC/data}
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid; rm -rf "$tmp"' EXIT
A=$SRC/tests/analysis
labels=("$A/labels.txt" "$A/heldout/labels.txt" "$A/heldout2/labels.txt" "$A/heldout3/labels.txt")
largs=(); for l in "${labels[@]}"; do largs+=(--labels "$l"); done
python3 "$SRC/tests/servers/openai_llm.py" --port-file "$tmp/port" "${largs[@]}" & pid=$!
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
URL="http://127.0.0.1:$(cat "$tmp/port")/v1"
ctl() { python3 -c "import sys,urllib.request; urllib.request.urlopen(urllib.request.Request('${URL%/v1}/control', data=sys.argv[1].encode())).read()" "$1"; }
for l in "${labels[@]}"; do
  for an in rules llm; do
    printf '%-40s %-5s ' "${l#$SRC/}" "$an"
    if [ $an = llm ]; then "$SDRA" eval analysis --labels "$l" --analyzer llm --llm-url "$URL" --json
    else "$SDRA" eval analysis --labels "$l" --json; fi | python3 -c "
import json,sys; d=json.load(sys.stdin); m=d['micro']
print('calls %2d  P %.3f  R %.3f  F1 %.3f  dates %.3f' % (d['calls'], m['precision'], m['recall'], m['f1'], d['date_accuracy']))"
  done
done
inj=0 drop=0 lost=0 kept=0
while read -r file date rep; do
  args=(--call-date "$date" --analyzer llm --llm-url "$URL")
  [ -n "$rep" ] && args+=(--rep-name "$rep")
  ctl '{"hallucinate": 0}'; "$SDRA" analyze "$A/$file" "${args[@]}" -o "$tmp/clean.json" 2>/dev/null
  ctl "{\"hallucinate\": $H, \"reset\": true}"; "$SDRA" analyze "$A/$file" "${args[@]}" -o "$tmp/h.json" 2>/dev/null
  n=$(python3 -c "import json,urllib.request; print(json.load(urllib.request.urlopen('${URL%/v1}/stats'))['injected'])")
  read -r d l k < <(python3 - "$tmp/clean.json" "$tmp/h.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
m = b["meta"]["llm"]
key = lambda d: sorted(json.dumps(x, sort_keys=True) for k in ("objections", "action_items", "pain_points") for x in d[k])
lost = len(set(key(a)) - set(key(b)))
print(m["dropped_ungrounded"] + m["dropped_bad_utterance"] + m["dropped_role"], lost, a["meta"]["llm"]["kept"])
PY
)
  inj=$((inj + n)); drop=$((drop + d)); lost=$((lost + l)); kept=$((kept + k))
done < <(sed -n 's/^call \([^ ]*\) date=\([^ ]*\)\( rep=\([^ ]*\)\)\?.*/\1 \2 \4/p' "$A/labels.txt")
echo "grounding: injected $inj hallucinated items, dropped $drop ($(python3 -c "print('%.1f' % (100.0*$drop/max($inj,1)))") %); grounded items kept in the clean runs $kept, lost with injection $lost"
