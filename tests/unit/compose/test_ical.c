/* test_ical.c - the iCalendar writer: 75-octet folding that never splits a UTF-8 sequence,
 * CRLF line ends, TEXT escaping, the required properties of a REQUEST invite, end times that
 * cross midnight, and bad dates. Also the date and time formatting the email uses. And meeting
 * times with zones (issue 12): sdra_tz_load from the system tz data (offsets, daylight rules north
 * and south, unknown names refused in one line), and invites with TZID and a VTIMEZONE parsed
 * strictly against RFC 5545 (content-line grammar, nesting, VTIMEZONE before the VEVENT using
 * its TZID, STANDARD/DAYLIGHT properties and value forms, the year's change dates). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/internal.h"
#include "sdra/tz.h"

/* Unfolds (CRLF SP removed) and checks every physical line <= 75 octets, CRLF only. */
static char *unfold_checked(const char *s)
{
    char *o = malloc(strlen(s) + 1), *d = o;
    size_t col = 0;
    for (const char *p = s; *p; p++) {
        if (p[0] == '\r') {
            assert_int_equal(p[1], '\n');
            col = 0;
            if (p[2] == ' ') {
                p += 2;
                continue;
            }
            *d++ = '\n';
            p++;
            continue;
        }
        assert_true(*p != '\n');
        col++;
        if (col > 75)
            fail_msg("line over 75 octets in\n%s", s);
        *d++ = *p;
    }
    *d = 0;
    return o;
}

static void ical_folding(void **state)
{
    (void)state;
    sdra_buf b;
    sdra_buf_init(&b, 1 << 16);
    char line[400];
    memset(line, 'x', 200);
    memcpy(line, "DESCRIPTION:", 12);
    line[200] = 0;
    assert_int_equal(sdra_ical_line(&b, line), 0);
    char *u = unfold_checked(b.data);
    char want[420];
    snprintf(want, sizeof want, "%s\n", line);
    assert_string_equal(u, want);
    free(u);
    /* exactly 75 octets: no fold */
    sdra_buf_reset(&b);
    line[75] = 0;
    sdra_ical_line(&b, line);
    assert_null(strstr(b.data, "\r\n "));
    /* multi-byte characters straddling the fold point stay whole */
    sdra_buf_reset(&b);
    strcpy(line, "SUMMARY:");
    for (int i = 0; i < 60; i++)
        strcat(line, "\xc3\xa9");
    sdra_ical_line(&b, line);
    u = unfold_checked(b.data);
    assert_int_equal(strncmp(u, line, strlen(line)), 0);
    free(u);
    for (const char *p = b.data; *p; p++)
        if (p[0] == '\n' && p[1] == ' ')
            assert_true(((unsigned char)p[2] & 0xc0) != 0x80); /* no continuation byte first */
    sdra_buf_release(&b);
}

static void ical_escaping(void **state)
{
    (void)state;
    sdra_buf b;
    sdra_buf_init(&b, 1024);
    assert_int_equal(sdra_ical_escape(&b, "a,b;c\\d\nnext\r\n"), 0);
    assert_string_equal(b.data, "a\\,b\\;c\\\\d\\nnext\\n");
    sdra_buf_release(&b);
}

static sdra_ical_event sample(void)
{
    sdra_ical_event ev = {.uid = "sdra.meeting.c1@acme.example", .dtstamp_s = 1795532400,
                          .date = "2026-12-01", .start_min = 14 * 60, .duration_min = 30,
                          .summary = "Follow-up: Northwind, Acme; next steps",
                          .description = "As agreed.\nSecond line",
                          .organizer_name = "Alex Kim", .organizer_email = "alex@acme.example",
                          .attendee_name = "Jordan \"JJ\" L\xc3\xa9" "e",
                          .attendee_email = "jordan@northwind.example"};
    return ev;
}

static void ical_invite_properties(void **state)
{
    (void)state;
    sdra_buf b;
    sdra_buf_init(&b, 1 << 16);
    sdra_error err = {0};
    sdra_ical_event ev = sample();
    assert_int_equal(sdra_ical_invite(&b, &ev, &err), 0);
    char *u = unfold_checked(b.data);
    const char *want[] = {
        "BEGIN:VCALENDAR\n", "\nVERSION:2.0\n", "\nPRODID:", "\nMETHOD:REQUEST\n",
        "\nBEGIN:VEVENT\n", "\nUID:sdra.meeting.c1@acme.example\n",
        "\nDTSTAMP:20261124T150000Z\n", "\nDTSTART:20261201T140000\n",
        "\nDTEND:20261201T143000\n", "\nSUMMARY:Follow-up: Northwind\\, Acme\\; next steps\n",
        "\nDESCRIPTION:As agreed.\\nSecond line\n",
        "\nORGANIZER;CN=\"Alex Kim\":mailto:alex@acme.example\n",
        "\nATTENDEE;CN=\"Jordan JJ L\xc3\xa9" "e\";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:jordan@northwind.example\n",
        "\nEND:VEVENT\nEND:VCALENDAR\n"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(u, want[i]))
            fail_msg("missing '%s' in\n%s", want[i], u);
    free(u);

    /* TZID and an end past midnight */
    sdra_buf_reset(&b);
    ev.tzid = "Europe/Paris";
    ev.date = "2026-12-31";
    ev.start_min = 23 * 60 + 45;
    ev.duration_min = 30;
    assert_int_equal(sdra_ical_invite(&b, &ev, &err), 0);
    assert_non_null(strstr(b.data, "DTSTART;TZID=Europe/Paris:20261231T234500\r\n"));
    assert_non_null(strstr(b.data, "DTEND;TZID=Europe/Paris:20270101T001500\r\n"));

    /* no attendee email: no ATTENDEE line */
    sdra_buf_reset(&b);
    ev = sample();
    ev.attendee_email = NULL;
    assert_int_equal(sdra_ical_invite(&b, &ev, &err), 0);
    assert_null(strstr(b.data, "ATTENDEE"));

    ev.date = "2026-02-30";
    assert_int_equal(sdra_ical_invite(&b, &ev, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "2026-02-30"));
    ev = sample();
    ev.start_min = 24 * 60;
    assert_int_equal(sdra_ical_invite(&b, &ev, &err), SDRA_EINVAL);
    sdra_buf_release(&b);
}

static void dates_long_form_and_times(void **state)
{
    (void)state;
    char d[64];
    assert_int_equal(sdra_compose_date_long(d, sizeof d, "2026-11-26"), 0);
    assert_string_equal(d, "Thursday, November 26");
    sdra_compose_date_long(d, sizeof d, "2024-02-29");
    assert_string_equal(d, "Thursday, February 29");
    sdra_compose_date_long(d, sizeof d, "2000-01-01");
    assert_string_equal(d, "Saturday, January 1");
    assert_int_equal(sdra_compose_date_long(d, sizeof d, "2026-13-01"), SDRA_EINVAL);
    assert_int_equal(sdra_compose_date_long(d, sizeof d, "tomorrow"), SDRA_EINVAL);
    assert_int_equal(sdra_compose_date_long(d, sizeof d, NULL), SDRA_EINVAL);
    assert_int_equal(sdra_compose_time_parse("14:00"), 840);
    assert_int_equal(sdra_compose_time_parse("9:30"), 570);
    assert_int_equal(sdra_compose_time_parse("2pm"), 840);
    assert_int_equal(sdra_compose_time_parse("2:30 p.m."), 870);
    assert_int_equal(sdra_compose_time_parse("12am"), 0);
    assert_int_equal(sdra_compose_time_parse("12 PM"), 720);
    assert_int_equal(sdra_compose_time_parse("14:00:00"), 840);
    assert_int_equal(sdra_compose_time_parse("25:00"), -1);
    assert_int_equal(sdra_compose_time_parse("13pm"), -1);
    assert_int_equal(sdra_compose_time_parse("noon"), -1);
    assert_int_equal(sdra_compose_time_parse(""), -1);
    assert_int_equal(sdra_compose_time_parse(NULL), -1);
    sdra_compose_time_format(d, sizeof d, 840);
    assert_string_equal(d, "2:00 PM");
    sdra_compose_time_format(d, sizeof d, 0);
    assert_string_equal(d, "12:00 AM");
    sdra_compose_time_format(d, sizeof d, 725);
    assert_string_equal(d, "12:05 PM");
}

/* Time zones (issue 12). Unfolds (unfold_checked), and checks the content-line grammar of every line:
 * name *(";" param) ":" value, names of letters, digits and '-'. Returns the unfolded text
 * with '\n' line ends. */
static char *strict_lines(const char *s)
{
    char *o = unfold_checked(s);
    for (char *l = o; *l; l = strchr(l, '\n') + 1) {
        const char *c = l;
        assert_true(isalpha((unsigned char)*c));
        while (isalnum((unsigned char)*c) || *c == '-')
            c++;
        while (*c == ';') { /* param-name "=" param-value */
            c++;
            while (isalnum((unsigned char)*c) || *c == '-')
                c++;
            assert_int_equal(*c, '=');
            c++;
            if (*c == '"') {
                c = strchr(c + 1, '"');
                assert_non_null(c);
                c++;
            } else {
                while (*c && *c != ':' && *c != ';' && *c != '\n' && *c != '"')
                    c++;
            }
        }
        if (*c != ':')
            fail_msg("not a content line: %.60s", l);
        assert_non_null(strchr(l, '\n'));
    }
    return o;
}

/* The value of property name (exact, followed by ':' or ';') within [from, to). */
static const char *prop(const char *from, const char *to, const char *name, char *val, size_t cap)
{
    size_t n = strlen(name);
    for (const char *l = from; l && l < to && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (!strncmp(l, name, n) && (l[n] == ':' || l[n] == ';')) {
            const char *v = strchr(l, ':') + 1, *e = strchr(v, '\n');
            snprintf(val, cap, "%.*s", (int)(e - v), v);
            return l;
        }
    }
    return NULL;
}

static int is_offset(const char *v)
{
    return (v[0] == '+' || v[0] == '-') && strlen(v) == 5 && strspn(v + 1, "0123456789") == 4;
}

static int is_local_datetime(const char *v)
{
    return strlen(v) == 15 && strspn(v, "0123456789") == 8 && v[8] == 'T' && strspn(v + 9, "0123456789") == 6;
}

/* Checks the nesting and the VTIMEZONE/VEVENT structure; returns the unfolded text. */
static char *strict_invite(const char *ics, const char *tzid)
{
    char *u = strict_lines(ics);
    const char *stack[8];
    int depth = 0;
    for (char *l = u; *l; l = strchr(l, '\n') + 1) {
        if (!strncmp(l, "BEGIN:", 6)) {
            assert_true(depth < 8);
            stack[depth++] = l + 6;
        } else if (!strncmp(l, "END:", 4)) {
            assert_true(depth > 0);
            size_t n = strcspn(l + 4, "\n");
            assert_true(!strncmp(stack[depth - 1], l + 4, n) && stack[depth - 1][n] == '\n');
            depth--;
        }
    }
    assert_int_equal(depth, 0);
    char v[128];
    const char *tz = strstr(u, "BEGIN:VTIMEZONE\n"), *tz_end = strstr(u, "END:VTIMEZONE\n");
    const char *ev = strstr(u, "BEGIN:VEVENT\n");
    assert_non_null(tz);
    assert_non_null(tz_end);
    assert_non_null(ev);
    assert_true(tz < ev && tz_end < ev); /* defined before it is used */
    assert_non_null(prop(tz, tz_end, "TZID", v, sizeof v));
    assert_string_equal(v, tzid);
    int n_sub = 0;
    for (const char *c = tz; (c = strstr(c, "\nBEGIN:")) && c < tz_end; c++) {
        const char *kind = c + 7;
        assert_true(!strncmp(kind, "STANDARD\n", 9) || !strncmp(kind, "DAYLIGHT\n", 9));
        const char *end = strstr(kind, "\nEND:");
        assert_non_null(prop(kind, end, "DTSTART", v, sizeof v));
        assert_true(is_local_datetime(v)); /* local time, no Z, no TZID */
        assert_non_null(prop(kind, end, "TZOFFSETFROM", v, sizeof v));
        assert_true(is_offset(v));
        assert_non_null(prop(kind, end, "TZOFFSETTO", v, sizeof v));
        assert_true(is_offset(v));
        if (prop(kind, end, "RRULE", v, sizeof v))
            assert_non_null(strstr(v, "FREQ=YEARLY;BYMONTH="));
        n_sub++;
    }
    assert_true(n_sub >= 1);
    const char *ev_end = strstr(ev, "END:VEVENT\n");
    char want[160];
    snprintf(want, sizeof want, "DTSTART;TZID=%s:", tzid);
    assert_non_null(strstr(ev, want));
    assert_true(strstr(ev, want) < ev_end);
    snprintf(want, sizeof want, "DTEND;TZID=%s:", tzid);
    assert_non_null(strstr(ev, want));
    return u;
}

static char *invite(const char *zone, const char *date, int start_min)
{
    sdra_tz z;
    sdra_error err = {0};
    assert_int_equal(sdra_tz_load(&z, zone, &err), 0);
    sdra_ical_event ev = {.uid = "u@x", .dtstamp_s = 1800000000, .date = date,
                          .start_min = start_min, .duration_min = 30, .summary = "Follow-up",
                          .tz = &z};
    sdra_buf b;
    sdra_buf_init(&b, 1 << 20);
    assert_int_equal(sdra_ical_invite(&b, &ev, &err), 0);
    char *u = strict_invite(b.data, zone);
    sdra_buf_release(&b);
    return u;
}

static void tz_berlin_invite(void **state)
{
    (void)state;
    char *u = invite("Europe/Berlin", "2027-04-06", 600);
    assert_non_null(strstr(u, "DTSTART;TZID=Europe/Berlin:20270406T100000\n"));
    assert_non_null(strstr(u, "BEGIN:DAYLIGHT\nDTSTART:20270328T020000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200\n"
                              "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\nTZNAME:CEST\nEND:DAYLIGHT\n"));
    assert_non_null(strstr(u, "BEGIN:STANDARD\nDTSTART:20271031T030000\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\n"
                              "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\nTZNAME:CET\nEND:STANDARD\n"));
    free(u);
    u = invite("America/New_York", "2026-12-08", 840);
    assert_non_null(strstr(u, "DTSTART:20261101T020000\nTZOFFSETFROM:-0400\nTZOFFSETTO:-0500\n"));
    assert_non_null(strstr(u, "DTSTART:20260308T020000\nTZOFFSETFROM:-0500\nTZOFFSETTO:-0400\n"));
    free(u);
    u = invite("Asia/Tokyo", "2027-01-05", 540); /* no daylight time: one STANDARD */
    assert_non_null(strstr(u, "BEGIN:STANDARD\nDTSTART:19700101T000000\nTZOFFSETFROM:+0900\nTZOFFSETTO:+0900\nTZNAME:JST\n"));
    assert_null(strstr(u, "DAYLIGHT"));
    free(u);
}

static void tz_offsets_and_bad_names(void **state)
{
    (void)state;
    sdra_tz z;
    sdra_error err = {0};
    int dst;
    assert_int_equal(sdra_tz_load(&z, "Europe/Berlin", &err), 0);
    assert_int_equal(sdra_tz_offset_min(&z, 2027, 7, 1, 600, &dst), 120);
    assert_int_equal(dst, 1);
    assert_int_equal(sdra_tz_offset_min(&z, 2027, 1, 10, 600, &dst), 60);
    assert_int_equal(dst, 0);
    assert_int_equal(sdra_tz_load(&z, "Australia/Sydney", &err), 0); /* southern: DST over new year */
    assert_int_equal(sdra_tz_offset_min(&z, 2027, 1, 10, 600, &dst), 660);
    assert_int_equal(dst, 1);
    assert_int_equal(sdra_tz_offset_min(&z, 2027, 7, 10, 600, &dst), 600);
    const char *bad[] = {"Mars/Base", "../../etc/passwd", "/etc/localtime", "Europe/Berlin;x", "", "zone.tab"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(sdra_tz_load(&z, bad[i], &err), SDRA_EINVAL);
        assert_non_null(strstr(err.msg, "unknown time zone"));
        assert_null(strchr(err.msg, '\n'));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ical_folding),
        cmocka_unit_test(ical_escaping),
        cmocka_unit_test(ical_invite_properties),
        cmocka_unit_test(dates_long_form_and_times),
        cmocka_unit_test(tz_berlin_invite),
        cmocka_unit_test(tz_offsets_and_bad_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
