/* test_dates.c - exact resolution of relative dates and times against the call date. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <string.h>

#include "sdra/analyze.h"

typedef struct {
    const char *anchor, *text, *date, *time, *part;
} dcase;

static void check(const dcase *c)
{
    sdra_date_match m;
    sdra_error err = {0};
    int rc = sdra_date_resolve(&m, c->text, c->anchor, &err);
    if (!c->date) {
        if (rc != 0)
            fail_msg("'%s': expected no date, got %s %s", c->text, m.date, m.time);
        return;
    }
    if (rc != 1)
        fail_msg("'%s' (anchor %s): no date found", c->text, c->anchor);
    if (strcmp(m.date, c->date) || strcmp(m.time, c->time ? c->time : "") ||
        (c->part && strcmp(m.part_of_day, c->part)))
        fail_msg("'%s' (anchor %s): got '%s' '%s' '%s', expected '%s' '%s' '%s'", c->text, c->anchor, m.date,
                 m.time, m.part_of_day, c->date, c->time ? c->time : "", c->part ? c->part : "*");
}

/* 2026-11-24 is a Tuesday */
static void dates_relative_days(void **state)
{
    (void)state;
    static const dcase cases[] = {
        {"2026-11-24", "I'll send it tomorrow", "2026-11-25", NULL, NULL},
        {"2026-11-24", "by Thursday", "2026-11-26", NULL, NULL},
        {"2026-11-24", "next Tuesday", "2026-12-01", NULL, NULL},
        {"2026-11-24", "see you on Tuesday", "2026-12-01", NULL, NULL},
        {"2026-11-24", "this Friday", "2026-11-27", NULL, NULL},
        {"2026-11-24", "by the end of the month", "2026-11-30", NULL, NULL},
        {"2026-11-24", "end of next month", "2026-12-31", NULL, NULL},
        {"2026-11-24", "sometime next week", "2026-11-30", NULL, NULL},
        {"2026-11-24", "by end of the week", "2026-11-27", NULL, NULL},
        {"2026-11-24", "end of next week", "2026-12-04", NULL, NULL},
        {"2026-11-24", "in two weeks", "2026-12-08", NULL, NULL},
        {"2026-11-24", "in a couple of days", "2026-11-26", NULL, NULL},
        {"2026-11-24", "the day after tomorrow", "2026-11-26", NULL, NULL},
        {"2026-11-24", "today", "2026-11-24", NULL, NULL},
        {"2026-11-24", "by end of day", "2026-11-24", NULL, NULL},
        {"2026-11-24", "a week from today", "2026-12-01", NULL, NULL},
        {"2026-11-24", "next month", "2026-12-01", NULL, NULL},
        {"2026-11-24", "end of the quarter", "2026-12-31", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check(&cases[i]);
}

static void dates_calendar_dates(void **state)
{
    (void)state;
    static const dcase cases[] = {
        {"2026-11-24", "on December 3rd", "2026-12-03", NULL, NULL},
        {"2026-11-24", "the 19th of January", "2027-01-19", NULL, NULL},
        {"2026-11-24", "november nineteenth", "2027-11-19", NULL, NULL},
        {"2026-11-24", "on 12/15", "2026-12-15", NULL, NULL},
        {"2026-11-24", "2026-12-15", "2026-12-15", NULL, NULL},
        {"2026-11-24", "Monday the 30th", "2026-11-30", NULL, NULL},
        {"2026-11-26", "Wednesday the 2nd", "2026-12-02", NULL, NULL},
        {"2026-11-24", "by the 28th", "2026-11-28", NULL, NULL},
        {"2026-12-29", "next month", "2027-01-01", NULL, NULL},
        {"2026-12-29", "end of the month", "2026-12-31", NULL, NULL},
        {"2026-12-29", "in a week", "2027-01-05", NULL, NULL},
        {"2028-02-10", "end of the month", "2028-02-29", NULL, NULL},
        {"2027-02-10", "end of the month", "2027-02-28", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check(&cases[i]);
}

static void dates_times_and_parts(void **state)
{
    (void)state;
    static const dcase cases[] = {
        {"2026-11-24", "tomorrow at ten", "2026-11-25", "10:00", "morning"},
        {"2026-11-24", "we can meet thursday at ten", "2026-11-26", "10:00", "morning"},
        {"2026-11-24", "next Thursday at 3", "2026-12-03", "15:00", "afternoon"},
        {"2026-11-24", "Friday at 2 pm", "2026-11-27", "14:00", "afternoon"},
        {"2026-11-24", "friday at two p m", "2026-11-27", "14:00", "afternoon"},
        {"2026-11-24", "Friday at 10:30am", "2026-11-27", "10:30", "morning"},
        /* am/pm glued to the number, as typed ("2pm"): it decides the hour */
        {"2026-11-24", "Friday at 2pm", "2026-11-27", "14:00", "afternoon"},
        {"2026-11-24", "Tuesday at 3:30PM?", "2026-12-01", "15:30", "afternoon"},
        {"2026-11-24", "Friday at 7pm", "2026-11-27", "19:00", "evening"},
        {"2026-11-24", "Wednesday the 2nd at 10 it is", "2026-12-02", "10:00", "morning"},
        {"2026-11-24", "Friday afternoon", "2026-11-27", NULL, "afternoon"},
        {"2026-11-24", "first thing Monday", "2026-11-30", NULL, "morning"},
        {"2026-11-24", "tonight", "2026-11-24", NULL, "evening"},
        {"2026-11-24", "this afternoon", "2026-11-24", NULL, "afternoon"},
        {"2026-11-24", "monday at two thirty", "2026-11-30", "14:30", "afternoon"},
        {"2026-11-24", "wednesday at half past nine", "2026-11-25", "09:30", "morning"},
        {"2026-11-24", "thursday at seven in the morning", "2026-11-26", "07:00", "morning"},
        {"2026-11-24", "tuesday at noon", "2026-12-01", "12:00", NULL},
        {"2026-11-24", "at 4 o'clock", "", "16:00", "afternoon"},
        /* British "half nine" is 9:30; an hour and a quarter's minutes in words need no "at" */
        {"2026-11-24", "make it half nine on Tuesday", "2026-12-01", "09:30", "morning"},
        {"2026-11-24", "Wednesday, say half three", "2026-11-25", "15:30", "afternoon"},
        {"2026-11-24", "alright nine thirty wednesday", "2026-11-25", "09:30", "morning"},
        {"2026-11-24", "i can do ten fifteen", "", "10:15", "morning"},
        /* a place's time: "at 11 Lisbon time" */
        {"2026-11-24", "the 15th at 11 Lisbon time", "2026-12-15", "11:00", "morning"},
        /* a weekday with "the Nth of <month>": the month said, not the next Nth */
        {"2026-02-17", "tuesday the seventh of april at ten", "2026-04-07", "10:00", "morning"},
        {"2026-04-28", "Thursday the 25th of June", "2026-06-25", NULL, NULL},
        {"2026-04-28", "the following Wednesday", "2026-05-06", NULL, NULL},
        /* "Thursday week": the Thursday after the coming one */
        {"2026-11-24", "come thursday week", "2026-12-03", NULL, NULL},
        {"2026-11-25", "thursday week like ten ish", "2026-12-03", "10:00", "morning"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check(&cases[i]);
}

static void dates_not_dates(void **state)
{
    (void)state;
    static const dcase cases[] = {
        {"2026-11-24", "we have two people on the team", NULL, NULL, NULL},
        {"2026-11-24", "at two people per shift", NULL, NULL, NULL},
        {"2026-11-24", "may i ask who is calling", NULL, NULL, NULL},
        {"2026-11-24", "the first thing we need is a report", NULL, NULL, NULL},
        {"2026-11-24", "", NULL, NULL, NULL},
        {"2026-11-24", "the other one started at five meters away", NULL, NULL, NULL},
        {"2026-11-24", "half the time it breaks", NULL, NULL, NULL},
        {"2026-11-24", "good afternoon, can you hear me", NULL, NULL, NULL},
        {"2026-11-24", "we cut it by half an hour", NULL, NULL, NULL},
        {"2026-11-24", "it costs one fifty a month", NULL, NULL, NULL},
        {"2026-11-24", "seven thirty people use it", NULL, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check(&cases[i]);
}

static void dates_bad_anchor(void **state)
{
    (void)state;
    sdra_date_match m;
    sdra_error err = {0};
    assert_int_equal(sdra_date_resolve(&m, "tomorrow", "2026-13-01", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "2026-13-01"));
    assert_int_equal(sdra_date_resolve(&m, "tomorrow", NULL, &err), SDRA_EINVAL);
    char out[11];
    assert_int_equal(sdra_date_add_days(out, "2026-12-31", 1), 0);
    assert_string_equal(out, "2027-01-01");
    assert_int_equal(sdra_date_add_days(out, "nope", 1), SDRA_EINVAL);
}

/* issue 12: "shortly", "right away", "end of day tomorrow", "this arvo", "make it eleven" */
static void dates_spoken_forms(void **state)
{
    (void)state;
    static const dcase cases[] = {
        {"2026-11-24", "I'll send it over shortly", "2026-11-24", NULL, NULL},
        {"2026-11-24", "I'll remove it right away", "2026-11-24", NULL, NULL},
        {"2026-11-24", "you'll have it by end of day tomorrow", "2026-11-25", NULL, NULL},
        {"2026-11-24", "I'll confirm it in writing this arvo", "2026-11-24", NULL, "afternoon"},
        {"2026-11-24", "ten is tight, make it eleven", "", "11:00", NULL},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        check(&cases[k]);
}

/* A span named, not a day ("next week", "in two weeks", "end of the month"), is marked
 * approx: a due date, but no day to meet on; a day in it is exact. */
static void dates_spans_are_approximate(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool approx;
    } cases[] = {
        {"sometime next week", true},       {"in two weeks", true},
        {"in a few weeks", true},           {"by the end of the month", true},
        {"end of next week", true},         {"early next month", true},
        {"next month", true},               {"end of November", true},
        {"next week Tuesday", false},       {"Thursday week", false},
        {"a week from today", false},       {"next Tuesday at ten", false},
        {"in a couple of days", false},     {"tomorrow afternoon", false},
        {"the 19th of November", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sdra_date_match m;
        if (sdra_date_resolve(&m, cases[i].text, "2026-11-24", NULL) != 1)
            fail_msg("'%s': no date", cases[i].text);
        if (m.approx != cases[i].approx)
            fail_msg("'%s': approx %d, expected %d", cases[i].text, m.approx, cases[i].approx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dates_relative_days),  cmocka_unit_test(dates_calendar_dates),
        cmocka_unit_test(dates_times_and_parts), cmocka_unit_test(dates_not_dates),
        cmocka_unit_test(dates_bad_anchor), cmocka_unit_test(dates_spoken_forms),
        cmocka_unit_test(dates_spans_are_approximate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
