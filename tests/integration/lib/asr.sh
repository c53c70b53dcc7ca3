# tests/integration/lib/asr.sh - sourced by the integration tests that score transcripts.
# (Not a test itself: CTest runs only tests/integration/*.sh.)
#
#     wer HYP.json REF        the word error rate of HYP against REF (text or STM), e.g. 0.167
#     meta HYP.json FIELD     a field of the transcript's meta ("None" when absent)
#     below A B               succeeds when the number A is less than B

wer() { "$SDRA" eval asr --ref "$2" "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["wer"])'; }
meta() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["meta"].get(sys.argv[2]))' "$1" "$2"; }
below() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$1" "$2"; }
