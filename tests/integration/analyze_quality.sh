#!/usr/bin/env bash
# analyze_quality.sh - precision / recall of the analysis on the labelled dialogues of
# tests/analysis (development set, thresholds near the measured figures so a regression
# fails), the held-out and the blind sets (floors near their figures), plus exact resolution
# of every labelled due date and meeting date; the learned classifiers' examples are current;
# the thresholds can fail and malformed labels name file:line.
set -u
: "${SDRA:?}" "${SDRA_SRC:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
# floor SET MIN_P MIN_R MIN_DATES [MIN_F1]: the set's figures may not fall below these
floor() {
    local set=$1 labels="$SDRA_SRC/tests/analysis/$1/labels.txt" args
    args=(--min-precision "$2" --min-recall "$3" --min-date-accuracy "$4")
    [ $# -ge 5 ] && args+=(--min-f1 "$5")
    "$SDRA" eval analysis --labels "$labels" "${args[@]}" || fail "$set below its floor (${args[*]})"
}
# the development set: near the measured figures, so a regression fails
floor . 0.90 0.90 0.95 0.90
# the held-out sets: lower, they estimate quality on text written after the rules
floor heldout 0.80 0.65 0.8
floor heldout2 0.70 0.55 0.8
floor heldout3 0.70 0.45 0.7
# the blind sets, written by helpers who had not read the rules; first scores in
# docs/analysis.md. blind: first P 0.52 R 0.42, then tuned on (P 0.71 R 0.85).
floor blind 0.65 0.75 0.65
# blind3-blind6: scored once, then tuned on (2026-12-06, now P 0.70/0.74/0.73/0.74, R 0.82/0.83/0.72/0.73)
floor blind3 0.64 0.74 0.85
floor blind4 0.70 0.78 0.8
floor blind5 0.69 0.68 0.75
floor blind6 0.70 0.69 0.75
# blind7: scored once (P 0.669 R 0.590, dates 22/27), not tuned on by hand; now in the learned
# classifiers' examples (P 0.729 R 0.785 with them)
floor blind7 0.69 0.75 0.75
# blind8: scored once (P 0.662 R 0.505, dates 29/55), with the objection classifier trained
# without it; calls 01-20 then tuned on, 21-30 scored once at the end of that round
# (docs/analysis.md); now in the classifiers' examples (P 0.767 R 0.739, dates 38/55)
floor blind8 0.73 0.70 0.65
# blind9: scored once with every 2026-12-06 change (P 0.698 R 0.559, dates 33/59); calls 01-20
# tuned on, 21-30 scored once at the end of that round; now in the classifiers' examples
# (P 0.738 R 0.742, dates 38/59)
floor blind9 0.70 0.70 0.6
# blind10: scored once with one item per thing to do (P 0.674 R 0.597, dates 34/43; 53888f7
# before it: P 0.637); calls 01-20 tuned on, 21-30 scored at the end of that round (0.613 ->
# 0.613: the round's phrases did not carry over); now in the classifiers' examples (P 0.750
# R 0.901, dates 39/43)
floor blind10 0.72 0.85 0.85
# blind11: scored once with the day's structural changes (P 0.625 R 0.633, dates 33/41; the
# code of the day's start: P 0.577 R 0.624); calls 01-20 tuned on, 21-30 scored at the end
# (0.573 before and after); kept out of the classifiers' examples (trained with it, the other
# sets left out in turn moved -0.010..+0.008), so it stays text they never saw (P 0.665 R 0.710)
floor blind11 0.64 0.68 0.85
# blind12: scored once (P 0.679 R 0.571, dates 40/48; the code of the day's start, ee56ef7:
# P 0.668 R 0.571); calls 01-20 tuned on, 21-30 scored at the end of that round (0.611 ->
# 0.619, and 0.619 after a second pass of objection wordings); kept out of the classifiers'
# examples (P 0.714 R 0.632, dates 40/48)
floor blind12 0.69 0.61 0.8
# blind13 (contact preferences: opt-outs and near-misses): first score all 0.708 (P 0.717 R 0.700;
# contact 0.560); calls 01-16 tuned on, 17-24 scored at the end of that round (contact 0/1/5);
# kept out of the classifiers' examples (P 0.760 R 0.752, dates 35/42; contact 13/0/1)
floor blind13 0.73 0.72 0.8
# the learned classifiers' examples are the labelled sets' sentences as they are now
python3 "$SDRA_SRC/scripts/nb-examples.py" --check || fail "data/analyze/*_examples.txt are out of date"
# the thresholds can fail: a labels file expecting what is not there must make it exit 1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/labels.txt" <<LBL
call $SDRA_SRC/tests/analysis/17-no-need-polite.txt date=2026-11-24 rep=Ivan
objection price "scheduling software"
meeting 2026-11-25
LBL
if "$SDRA" eval analysis --labels "$tmp/labels.txt" --min-recall 0.9 > /dev/null 2>&1; then
    fail "eval analysis passed a labels file it cannot satisfy"
fi
printf 'call x.txt\nobjection\n' > "$tmp/bad.txt"
"$SDRA" eval analysis --labels "$tmp/bad.txt" > /dev/null 2> "$tmp/err" && fail "malformed labels accepted"
grep -q "bad.txt:2" "$tmp/err" || fail "malformed labels error does not name file:line"
echo "analyze_quality: ok"
