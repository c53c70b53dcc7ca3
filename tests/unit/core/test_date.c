/* test_date.c - calendar arithmetic against the C library's timegm over four centuries, strict
 * dates, and ISO 8601 instants with zones (and everything else refused). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <time.h>

#include "sdra/date.h"

static void days_match_timegm(void **state)
{
    (void)state;
    for (int64_t days = -25000; days < 120000; days += 13) { /* 1901 .. 2298 */
        int y, m, d;
        sdra_civil_from_days(days, &y, &m, &d);
        struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
        time_t t = timegm(&tm);
        assert_int_equal((int64_t)t / 86400, days);
        assert_int_equal(sdra_days_from_civil(y, m, d), days);
        assert_int_equal(sdra_weekday(days), tm.tm_wday);
        assert_true(d >= 1 && d <= sdra_days_in_month(y, m));
    }
    assert_int_equal(sdra_days_in_month(2000, 2), 29);
    assert_int_equal(sdra_days_in_month(1900, 2), 28);
    assert_int_equal(sdra_days_in_month(2024, 2), 29);
    assert_int_equal(sdra_days_in_month(2026, 13), 0);
}

static void dates_strict(void **state)
{
    (void)state;
    int64_t days = -1;
    char out[11];
    assert_int_equal(sdra_date_parse("2026-12-05", &days), 0);
    sdra_date_format(out, days);
    assert_string_equal(out, "2026-12-05");
    assert_int_equal(sdra_weekday(days), 6); /* a Saturday */
    assert_int_equal(sdra_date_parse("2024-02-29", &days), 0);
    const char *bad[] = {"2026-02-29", "2026-13-01", "2026-00-10", "2026-1-05", "2026-12-05x", "20261205",
                         "1899-12-31", "2026-12-32", "", "2026/12/05", "2026-12-0"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
        assert_int_equal(sdra_date_parse(bad[k], &days), -1);
    assert_int_equal(sdra_date_parse(NULL, &days), -1);
}

static void instants(void **state)
{
    (void)state;
    int64_t ms = 0;
    const int64_t base = 1772443800000LL; /* 2026-03-02T09:30:00Z */
    struct {
        const char *s;
        int64_t want;
    } ok[] = {
        {"2026-03-02T09:30Z", base},
        {"2026-03-02T09:30:00Z", base},
        {"2026-03-02t09:30:00z", base},
        {"2026-03-02 09:30:00Z", base},
        {"2026-03-02T09:30:00.250Z", base + 250},
        {"2026-03-02T10:30:00+01:00", base},
        {"2026-03-02T04:30-05:00", base},
        {"2026-03-02T15:00+0530", base},
        {"2026-03-02T11:30+02", base},
        {"2026-03-02", base - (9 * 60 + 30) * 60000LL},
    };
    for (size_t k = 0; k < sizeof ok / sizeof *ok; k++) {
        ms = 0;
        assert_int_equal(sdra_time_parse_ms(ok[k].s, 0, &ms), 0);
        assert_int_equal(ms, ok[k].want);
    }
    assert_int_equal(sdra_time_parse_ms("1772443800000", 1, &ms), 0);
    assert_int_equal(ms, base);
    const char *bad[] = {"2026-03-02T09:30",  "2026-03-02T09:30:00", "2026-03-02T24:00Z", "2026-03-02T09:60Z",
                         "2026-03-02T09:30+25:00", "2026-03-02T09Z",  "2026-03-02T",        "2026-03-02T09:30Zjunk",
                         "2026-03-02T09:30:00.Z", "2026-02-30T09:30Z", "1772443800000",    "2026-03-02T09:30+01:"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
        assert_int_equal(sdra_time_parse_ms(bad[k], 0, &ms), -1);
    assert_int_equal(sdra_time_parse_ms("1234567890123456", 1, &ms), -1); /* 16 digits */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(days_match_timegm),
        cmocka_unit_test(dates_strict),
        cmocka_unit_test(instants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
