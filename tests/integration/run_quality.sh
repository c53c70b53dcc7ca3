#!/usr/bin/env bash
# run_quality.sh - `sdra run` on a poor transcript: the generated short call is run once, then
# its transcript's word confidences are lowered as a recogniser unsure of most words would
# report them; the resumed run redoes analysis, email, CRM and report from it and must print
# one warning line, mark the email as needing review (so the CRM schedules nothing) and put
# the alert at the top of the report. The first, clear run must do none of that.
# ctest-labels: slow
set -euo pipefail
: "${SDRA:?}" "${SDRA_FIXTURES:?}"
work=$(mktemp -d "${TMPDIR:-/tmp}/sdra-runq.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
args=(--contact-email jordan@northwind.example --contact-name "Jordan Lee" --company Northwind
      --rep-name Alex --call-date 2026-11-24 --rep-channel left --jobs 2 --out "$work/out"
      --data "$work/data")
"$SDRA" run "$SDRA_FIXTURES/short.stereo.wav" "${args[@]}" --quiet >"$work/run1.out" 2>"$work/run1.err" ||
  fail "first run: $(cat "$work/run1.err")"
grep -q "poor transcript" "$work/run1.err" && fail "a clear call was called poor: $(cat "$work/run1.err")"
pkg=$(ls -d "$work"/out/short-*/)
python3 - "$pkg/transcript.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
q = d.get("quality")
assert q and q["words"] > 0 and not q["poor"], "clear call quality: %r" % q
for u in d["utterances"]:
    for j, w in enumerate(u["words"]):
        w["conf"] = 0.12 if j % 4 else 0.95
del d["quality"]
json.dump(d, open(sys.argv[1], "w"))
PY
"$SDRA" run "$SDRA_FIXTURES/short.stereo.wav" "${args[@]}" --quiet >"$work/run2.out" 2>"$work/run2.err" ||
  fail "second run: $(cat "$work/run2.err")"
[ "$(grep -c "poor transcript" "$work/run2.err")" = 1 ] || fail "no one-line warning: $(cat "$work/run2.err")"
# the estimate and its range, as the report gives them
python3 - "$pkg/analysis.json" "$work/run2.err" <<'PY' || fail "the warning's figures are not the quality block's: $(cat "$work/run2.err")"
import json, sys
q = json.load(open(sys.argv[1]))["quality"]
want = "estimated WER %.0f%%, likely %.0f-%.0f%%)" % (100 * q["wer_estimate"], 100 * q["wer_band"][0], 100 * q["wer_band"][1])
sys.exit(want not in open(sys.argv[2]).read())
PY
grep -q "email: needs review" "$work/run2.out" || fail "summary does not say the email needs review"
python3 - "$pkg" <<'PY'
import json, sys
pkg = sys.argv[1]
a = json.load(open(pkg + "analysis.json")); e = json.load(open(pkg + "email.json"))
c = json.load(open(pkg + "crm.json")); html = open(pkg + "report.html").read()
assert a["quality"]["poor"], a["quality"]
assert e["needs_review"] and e["review_reasons"], e.get("review_reasons")
assert not c.get("emails"), "an email needing review was scheduled: %r" % c.get("emails")
assert any("needs review" in s.get("reason", "") for s in c.get("skipped", [])), c.get("skipped")
i = html.find('id="quality"')
assert 0 < i < html.find("<header"), "report: no quality alert at the top"
PY
echo "run_quality: all checks passed"
