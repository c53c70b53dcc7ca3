#!/usr/bin/env bash
# scripts/measure-analysis.sh - measures the analysis on the real evaluation data in
# /work/shared/eval-data (never copied into the repository):
#   1. request detection on email-ask-intent: precision / recall / F1 on the test file
#      (the train file is for development only), in both modes (requests; any action item);
#   2. a few qmsum-test meetings converted to plain-text dialogues: key phrases, topic
#      categories, action items and the summary printed next to the human topic list and
#      summary, for inspection.
# usage: scripts/measure-analysis.sh [SDRA_BINARY] [EVAL_DATA_DIR]
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
sdra=${1:-${SDRA:-$src/build/sdra}}
data=${2:-/work/shared/eval-data}
export SDRA_SHARE_DIR=${SDRA_SHARE_DIR:-$src/data}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== email-ask-intent (test file; train file used for development)"
for mode in request action; do
    printf '%-8s ' "$mode"
    "$sdra" eval analysis --ask-tsv "$data/email-ask-intent/testSet-qualifiedBatch-fixed.txt" --ask-mode "$mode" |
        sed 's/.*eval-data.//'
done

echo
echo "== qmsum-test meetings (by inspection)"
for m in ${QMSUM_MEETINGS:-ES2004a IS1003b TS3004c Bed003}; do
    f="$data/qmsum-test/meetings/$m.json"
    [ -f "$f" ] || continue
    python3 - "$f" "$tmp/$m.txt" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
with open(sys.argv[2], "w") as out:
    for t in d["meeting_transcripts"]:
        text = re.sub(r"\{[a-z_]+\}", " ", t["content"])
        text = re.sub(r"\s+([,.?!])", r"\1", re.sub(r"\s+", " ", text)).strip()
        name = re.sub(r"[^A-Za-z ]", "", t["speaker"]).strip() or "Speaker"
        if text:
            out.write("%s: %s\n" % (name, text))
PY
    "$sdra" analyze "$tmp/$m.txt" --call-date 2026-11-24 -o "$tmp/$m.json"
    python3 - "$f" "$tmp/$m.json" "$m" <<'PY'
import json, sys
ref = json.load(open(sys.argv[1]))
a = json.load(open(sys.argv[2]))
print("-- %s: %d utterances" % (sys.argv[3], a["meta"]["utterances"]))
print("   human topics:   " + " | ".join(t["topic"] for t in ref["topic_list"]))
print("   key phrases:    " + ", ".join("%s (%d)" % (t["text"], t["count"]) for t in a["topics"] if t["kind"] == "keyphrase"))
print("   categories:     " + ", ".join("%s (%d)" % (t["text"], t["count"]) for t in a["topics"] if t["kind"] == "category"))
print("   action items:   %d; first: %s" % (len(a["action_items"]), " | ".join(x["owner"] + ": " + x["text"] for x in a["action_items"][:4])))
print("   next meeting:   %s" % json.dumps(a["next_meeting"] and {k: a["next_meeting"][k] for k in ("date", "time", "part_of_day")}))
print("   outcome:        " + a["outcome"])
print("   summary:        " + a["summary"][:400])
print("   human summary:  " + ref["general_query_list"][0]["answer"][:400])
PY
done
