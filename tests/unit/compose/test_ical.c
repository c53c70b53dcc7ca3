/* test_ical.c - the iCalendar writer: 75-octet folding that never splits a UTF-8 sequence,
 * CRLF line ends, TEXT escaping, the required properties of a REQUEST invite, end times that
 * cross midnight, and bad dates. Also the date and time formatting the email uses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/internal.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ical_folding),
        cmocka_unit_test(ical_escaping),
        cmocka_unit_test(ical_invite_properties),
        cmocka_unit_test(dates_long_form_and_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
