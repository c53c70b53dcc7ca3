#!/usr/bin/env bash
# crm_cli.sh - `sdra crm`: an empty or missing CRM lists as empty; `sdra crm sync` writes a call
# package into the CRM idempotently; the table is aligned; --format json is a JSON array with
# the stored fields; --contact filters; bad options are usage errors (exit 2); a corrupt
# database is a one-line error (exit 1).
set -u
SDRA=${SDRA:?SDRA must name the sdra binary}
T=$(mktemp -d "${TMPDIR:-/tmp}/crm_cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

D="$T/data"
# 1. Nothing recorded yet: empty results, not errors, and nothing created.
out=$("$SDRA" crm contacts --data "$D") || fail "contacts on a missing CRM exited $?"
[ "$out" = "(no contacts)" ] || fail "missing CRM table output: '$out'"
out=$("$SDRA" crm tasks --data "$D" --format json) || fail "json on a missing CRM exited $?"
python3 -c 'import json,sys; v=json.loads(sys.argv[1]); assert v == [], v' "$out" || fail "missing CRM json: '$out'"
[ ! -e "$D/crm.sqlite3" ] || fail "listing created a database"
E="$T/empty"; mkdir -p "$E"; : > "$E/crm.sqlite3"
out=$("$SDRA" crm emails --data "$E" --format json) || fail "empty database file exited $?"
[ "$out" = "[]" ] || fail "empty database file: '$out'"

# 2. A call package synced twice.
P="$T/pkg"; mkdir -p "$P"
cat > "$P/call.json" <<'JSON'
{"schema":"sdra.call/1","id":"cli-call-1","contact_email":"Jordan@Acme.example","contact_name":"Jordan Lée",
 "company":"Acme Logistics","call_date":"2026-11-24","audio":"call.wav","direction":"outbound"}
JSON
cat > "$P/analysis.json" <<'JSON'
{"schema":"sdra.analysis/1","call_date":"2026-11-24",
 "sentiment":{"overall":0.31,"prospect_end":0.5},
 "objections":[{"type":"price","speaker":"S2","start":40.1,"text":"it is over our budget"}],
 "pain_points":[{"text":"reconciling takes two days","speaker":"S2","start":20.0}],
 "action_items":[{"owner":"rep","text":"send the case study","due":"2026-11-26","due_time":null,"start":61.0},
                 {"owner":"prospect","text":"share the current invoice volumes","due":"2026-11-30","start":70.0}],
 "next_meeting":{"date":"2026-12-01","time":"14:00","part_of_day":"afternoon"},
 "contact_preferences":{"do_not_call":false,"do_not_email":false},
 "summary":"Discovery call; budget concern; demo agreed.","outcome":"meeting booked"}
JSON
cat > "$P/email.json" <<'JSON'
{"schema":"sdra.email/1","subject":"Next steps for Acme","to":["Jordan Lée <jordan@acme.example>"],
 "message_id":"<cli-call-1@sdra.example>","send_at":"2026-11-24T17:00:00Z","skipped":null}
JSON
"$SDRA" crm sync "$P" --data "$D" >/dev/null || fail "crm sync exited $?"
"$SDRA" crm sync "$P" --data "$D" >/dev/null || fail "second crm sync exited $?"
python3 - "$P/crm.json" <<'PY' || fail "crm.json content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "sdra.crm/1", d
assert d["contact"]["status"] == "updated" and d["contact"]["email"] == "jordan@acme.example", d["contact"]
assert d["activity"]["status"] == "updated", d["activity"]
assert len(d["tasks"]) == 3 and all(t["status"] == "updated" for t in d["tasks"]), d["tasks"]
assert d["emails"][0]["status"] == "scheduled" and d["emails"][0]["result"] == "updated", d["emails"]
PY

# 3. JSON listings: one row each, the stored fields.
for kind in contacts activities tasks emails notes; do
  "$SDRA" crm "$kind" --data "$D" --format json > "$T/$kind.json" || fail "crm $kind --format json exited $?"
done
python3 - "$T" <<'PY' || fail "json listings"
import json, sys, os
t = sys.argv[1]
load = lambda k: json.load(open(os.path.join(t, k + ".json")))
c = load("contacts"); assert len(c) == 1, c
assert c[0]["email"] == "jordan@acme.example" and c[0]["name"] == "Jordan Lée", c
assert c[0]["do_not_call"] is False and c[0]["do_not_email"] is False, c
a = load("activities"); assert len(a) == 1 and a[0]["call_id"] == "cli-call-1", a
assert a[0]["objections"][0]["type"] == "price" and abs(a[0]["sentiment"] - 0.31) < 1e-9, a
tk = load("tasks"); assert len(tk) == 3, tk
assert [x["kind"] for x in tk] == ["action", "action", "meeting"], tk
assert tk[2]["due_date"] == "2026-12-01" and tk[2]["due_time"] == "14:00", tk
e = load("emails"); assert len(e) == 1 and e[0]["status"] == "scheduled", e
assert e[0]["message_id"] == "<cli-call-1@sdra.example>" and e[0]["send_at"] == "2026-11-24T17:00:00Z", e
n = load("notes"); assert len(n) == 1 and "reconciling takes two days" in n[0]["body"], n
PY

# 4. The table: a header, one line per row, columns aligned (non-ASCII names included).
"$SDRA" crm tasks --data "$D" > "$T/tasks.txt" || fail "crm tasks exited $?"
"$SDRA" crm contacts --data "$D" > "$T/contacts.txt" || fail "crm contacts exited $?"
python3 - "$T/tasks.txt" "$T/contacts.txt" <<'PY' || fail "table layout"
import sys
for path, rows, header in ((sys.argv[1], 3, ["ID", "CONTACT", "KIND", "OWNER", "DUE", "TIME", "STATUS", "TEXT"]),
                           (sys.argv[2], 1, ["ID", "EMAIL", "NAME", "COMPANY"])):
    lines = open(path, encoding="utf-8").read().splitlines()
    assert len(lines) == rows + 1, (path, lines)
    h = lines[0]
    assert h.split()[:len(header)] == header, (path, h)
    # every column after the first starts at its header's offset in every row
    starts = [h.index(" " + name + " ") + 1 if (" " + name + " ") in h else h.index(" " + name) + 1 for name in header[1:]]
    for line in lines[1:]:
        for s in starts:
            assert line[s - 2:s] == "  " and line[s] != " ", (path, s, line)
t = open(sys.argv[1], encoding="utf-8").read()
assert "send the case study" in t and "2026-11-26" in t and "meeting" in t, t
c = open(sys.argv[2], encoding="utf-8").read()
assert "Jordan Lée" in c and "Acme Logistics" in c, c
PY

# 5. --contact filters (case-insensitive); an unknown contact is an empty result.
n=$("$SDRA" crm tasks --data "$D" --contact JORDAN@acme.example --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" = 3 ] || fail "--contact filter found $n tasks"
out=$("$SDRA" crm emails --data "$D" --contact nobody@else.example) || fail "unknown contact exited $?"
[ "$out" = "(no emails)" ] || fail "unknown contact: '$out'"
# The data directory defaults to $SDRA_DATA, then ~/.local/share/sdra.
n=$(SDRA_DATA="$D" "$SDRA" crm tasks --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" = 3 ] || fail "\$SDRA_DATA default found $n tasks"
n=$(env -u SDRA_DATA HOME="$T/home" "$SDRA" crm tasks --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" = 0 ] || fail "HOME default found $n tasks"
# Options before the record kind work too.
"$SDRA" crm --data "$D" --format json activities > /dev/null || fail "options before the kind"

# 6. Usage errors exit 2 with one line naming the problem.
expect_usage() {
  local err rc
  err=$("$SDRA" crm "$@" 2>&1 >/dev/null); rc=$?
  [ $rc -eq 2 ] || fail "'sdra crm $*' exited $rc, expected 2"
  [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "'sdra crm $*' error is not one line: $err"
}
expect_usage contacts --format xml --data "$D"
expect_usage widgets --data "$D"
expect_usage
expect_usage contacts --data
expect_usage contacts --bogus
expect_usage contacts extra --data "$D"
expect_usage contacts --contact not-an-address --data "$D"
"$SDRA" crm --help | grep -q "usage: sdra crm" || fail "--help"

# 7. A corrupt database: exit 1, one line naming the file.
C="$T/corrupt"; mkdir -p "$C"; head -c 8192 /dev/urandom > "$C/crm.sqlite3"
err=$("$SDRA" crm contacts --data "$C" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] || fail "corrupt database exited $rc"
[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "corrupt database error is not one line: $err"
case "$err" in *"$C/crm.sqlite3"*) ;; *) fail "error does not name the database: $err" ;; esac

# 8. Erasure: one call's records, then the contact with everything linked to it.
expect_usage forget --data "$D"
expect_usage forget --call x --contact y@z.example --data "$D"
expect_usage contacts --call cli-call-1 --data "$D"
out=$("$SDRA" crm forget --call cli-call-1 --data "$D") || fail "forget --call exited $?"
[ "$out" = "removed 6 records of call cli-call-1" ] || fail "forget --call said: $out"
[ "$("$SDRA" crm activities --data "$D")" = "(no activities)" ] || fail "activity survived forget --call"
"$SDRA" crm contacts --data "$D" --format json | grep -q jordan@acme.example || fail "forget --call removed the contact"
out=$("$SDRA" crm forget --contact JORDAN@acme.example --data "$D") || fail "forget --contact exited $?"
[ "$out" = "removed 1 record of contact JORDAN@acme.example" ] || fail "forget --contact said: $out"
[ "$("$SDRA" crm contacts --data "$D")" = "(no contacts)" ] || fail "contact survived forget --contact"

# 9. A package whose analysis is broken: sync fails cleanly, naming the file, nothing written.
echo '{"schema": ' > "$P/analysis.json"
err=$("$SDRA" crm sync "$P" --data "$T/other" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] || fail "broken analysis exited $rc"
case "$err" in *analysis.json*) ;; *) fail "error does not name analysis.json: $err" ;; esac
echo "crm_cli: ok"
