#!/usr/bin/env bash
# ctest-labels: slow
# Installable and relocatable (docs/deploy.md): `cmake --install` with a prefix and DESTDIR
# puts the binary in bin/ and the data (rules, templates, the merged language model) in
# share/sdra; the staged tree is moved elsewhere and `sdra run` processes a generated call from
# there, with no SDRA_SHARE_DIR, no SDRA_SRC and the working directory outside the source tree,
# reading its data from the moved share/sdra. `sdra --version` names the version, the git
# revision (built in; "unknown" outside git) and the share directory in use.
set -euo pipefail
: "${SDRA:?}" "${SDRA_BUILD:?}" "${SDRA_SRC:?}" "${SDRA_FIXTURES:?}"
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup deploy_install

echo "== cmake --install with DESTDIR and a prefix"
DESTDIR="$T/stage" cmake --install "$SDRA_BUILD" --prefix /opt/sdra > "$T/install.log"
inst="$T/stage/opt/sdra"
[ -x "$inst/bin/sdra" ] || fail "no bin/sdra under DESTDIR/prefix"
for f in analyze/objections.rules asr/sales.dict api/openapi.json; do
  [ -s "$inst/share/sdra/$f" ] || fail "share/sdra lacks $f"
done
ls "$inst"/share/sdra/asr/sales.merged-*.lm.bin > /dev/null 2>&1 || fail "share/sdra lacks the merged language model"
[ ! -e "$T/stage/opt/sdra/share/sdra/share" ] || fail "data installed one level too deep"

echo "== moved elsewhere, run with no source tree named"
mkdir -p "$T/moved/elsewhere" "$T/cwd"
mv "$inst" "$T/moved/elsewhere/sdra"
root="$T/moved/elsewhere/sdra"
bare=(env -u SDRA_SHARE_DIR -u SDRA_SRC -u SDRA_BUILD -u SDRA_DATA_DIR)
cd "$T/cwd"
"${bare[@]}" "$root/bin/sdra" --version > "$T/version.txt"
cat "$T/version.txt"
grep -qx "share directory: $(cd "$root/share/sdra" && pwd -P)" "$T/version.txt" ||
  fail "the moved binary does not use the moved share/sdra"
"${bare[@]}" "$root/bin/sdra" run "$SDRA_FIXTURES/tiny.stereo.wav" --contact-email jordan@northwind.example \
  --contact-name "Jordan Lee" --company "Northwind Logistics" --rep-name Alex --rep-email alex@brightwave.example \
  --rep-company Brightwave --call-date 2026-11-24 --rep-channel left --out "$T/out" --data "$T/data" --quiet \
  > "$T/run.log" 2>&1 || fail "sdra run from the moved tree failed: $(tail -n 3 "$T/run.log")"
pkg=$(ls -d "$T"/out/tiny-*/)
for f in transcript.json analysis.json email.eml report.html; do
  [ -s "$pkg/$f" ] || fail "the moved tree's run wrote no $f"
done

echo "== the data really comes from the moved tree"
# Break one rule file in the moved tree: the next run must fail on that very file.
printf 'this is not a rule\n' > "$root/share/sdra/analyze/objections.rules"
if "${bare[@]}" "$root/bin/sdra" analyze "$pkg/transcript.json" -o "$T/a2.json" > "$T/a2.log" 2>&1; then
  fail "a broken rule file in the moved share/sdra went unnoticed"
fi
grep -q "$root/share/sdra/analyze/objections.rules\|objections.rules" "$T/a2.log" ||
  fail "the failure does not name the moved rule file: $(cat "$T/a2.log")"

echo "== SDRA_SHARE_DIR overrides"
SDRA_SHARE_DIR="$SDRA_SRC/data" "$root/bin/sdra" --version | grep -qx "share directory: $SDRA_SRC/data" ||
  fail "SDRA_SHARE_DIR is not honoured"

echo "== the git revision"
head -1 "$T/version.txt" | grep -Eq '^sdra [0-9]+\.[0-9]+\.[0-9]+ \(git ([0-9a-f]{12}(-dirty)?|unknown)\)$' ||
  fail "bad version line: $(head -1 "$T/version.txt")"
if rev=$(git -C "$SDRA_SRC" rev-parse --short=12 HEAD 2>/dev/null); then
  grep -q "(git $rev" "$T/version.txt" || fail "version does not name HEAD $rev"
fi
mkdir -p "$T/nogit"
cmake -DSRC="$T/nogit" -DOUT="$T/nogit/rev.h" -P "$SDRA_SRC/cmake/git-rev.cmake"
grep -qx '#define SDRA_GIT_REV "unknown"' "$T/nogit/rev.h" || fail "outside git the revision is not 'unknown'"
echo "PASS deploy_install"
