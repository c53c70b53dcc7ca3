/*
 * test_sched.c - business-hours scheduling in the contact's zone through sdra/tz.h, never the
 * process's TZ: slots across the spring and autumn changes in America/New_York and
 * Europe/Berlin (expected instants from Python's zoneinfo; a start inside the spring gap counts
 * as standard time, one inside the autumn overlap as daylight time, like zoneinfo's fold=0), a
 * business-hours configuration with a day list, the UTC offset at the exact instants of the
 * changes, and a thread reading local time in its own zone while another plans slots in
 * other zones (the old code switched TZ under a lock only it took, so the reader saw New York).
 * And the webhook target check's pin: the CURLOPT_RESOLVE entry for the address it checked.
 *
 * ctest-labels: threads
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sdra/outbox.h"
#include "sdra/tz.h"

static void sched_slots_across_dst_changes(void **state)
{
    (void)state;
    sdra_outbox_hours h;
    sdra_error err = {0};
    int64_t t = 0;
    assert_int_equal(sdra_outbox_hours_parse(&h, "09:00-17:00", &err), 0);
    /* Friday 2026-10-30 18:00 EDT -> Monday 2026-11-02 09:00 EST (DST ended on the Sunday) */
    assert_int_equal(sdra_outbox_next_slot(1793397600000LL, "America/New_York", &h, &t, &err), 0);
    assert_int_equal(t, 1793628000000LL);
    /* hours opening at 02:30 on the Sundays of the changes in Berlin */
    assert_int_equal(sdra_outbox_hours_parse(&h, "02:30-04:00,sun", &err), 0);
    /* Saturday 2026-03-28 20:00 CET -> 02:30 lies in the gap: 01:30 UTC (03:30 CEST) */
    assert_int_equal(sdra_outbox_next_slot(1774724400000LL, "Europe/Berlin", &h, &t, &err), 0);
    assert_int_equal(t, 1774747800000LL);
    /* Saturday 2026-10-24 20:00 CEST -> 02:30 happens twice: the first, 00:30 UTC (CEST) */
    assert_int_equal(sdra_outbox_next_slot(1792864800000LL, "Europe/Berlin", &h, &t, &err), 0);
    assert_int_equal(t, 1792888200000LL);
}

static void sched_business_hours_config(void **state)
{
    (void)state;
    sdra_outbox_hours h;
    sdra_error err = {0};
    int64_t t = 0;
    assert_int_equal(sdra_outbox_hours_parse(&h, "08:30-12:00,mon,wed,fri", &err), 0);
    assert_int_equal(h.start_min, 510);
    assert_int_equal(h.end_min, 720);
    assert_int_equal(h.days_mask, 0x2a);
    /* Tuesday 2026-10-27 10:00 CET (not a working day here) -> Wednesday 08:30 CET */
    assert_int_equal(sdra_outbox_next_slot(1793091600000LL, "Europe/Berlin", &h, &t, &err), 0);
    assert_int_equal(t, 1793172600000LL);
    /* Wednesday 11:59:59 CET is inside: now */
    int64_t inside = 1793172600000LL + (3 * 3600 + 29 * 60 + 59) * 1000LL;
    assert_int_equal(sdra_outbox_next_slot(inside, "Europe/Berlin", &h, &t, &err), 0);
    assert_int_equal(t, inside);
    /* 12:00 is past the end: Friday 08:30 CET */
    assert_int_equal(sdra_outbox_next_slot(inside + 1000, "Europe/Berlin", &h, &t, &err), 0);
    assert_int_equal(t, 1793172600000LL + 2 * 86400000LL);
    assert_int_equal(sdra_outbox_next_slot(inside, "Europe/Atlantis", &h, &t, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "Europe/Atlantis"));
}

static void sched_offset_at_the_change_instants(void **state)
{
    (void)state;
    sdra_tz ny, be;
    sdra_error err = {0};
    int dst = -1;
    assert_int_equal(sdra_tz_load(&ny, "America/New_York", &err), 0);
    assert_int_equal(sdra_tz_load(&be, "Europe/Berlin", &err), 0);
    /* New York, 2026-03-08 07:00 UTC: EST -> EDT */
    assert_int_equal(sdra_tz_offset_at(&ny, 1772953200 - 1, &dst), -300);
    assert_int_equal(dst, 0);
    assert_int_equal(sdra_tz_offset_at(&ny, 1772953200, &dst), -240);
    assert_int_equal(dst, 1);
    /* New York, 2026-11-01 06:00 UTC: EDT -> EST */
    assert_int_equal(sdra_tz_offset_at(&ny, 1793512800 - 1, NULL), -240);
    assert_int_equal(sdra_tz_offset_at(&ny, 1793512800, NULL), -300);
    /* Berlin, 2026-10-25 01:00 UTC: CEST -> CET */
    assert_int_equal(sdra_tz_offset_at(&be, 1792890000 - 1, &dst), 120);
    assert_int_equal(dst, 1);
    assert_int_equal(sdra_tz_offset_at(&be, 1792890000, &dst), 60);
    assert_int_equal(dst, 0);
}

static void sched_callback_pinned_to_the_checked_address(void **state)
{
    (void)state;
    char pin[SDRA_OUTBOX_RESOLVE_MAX];
    sdra_error err = {0};
    setenv("SDRA_TEST_RESOLVE", "rebind.sdra.test=127.0.0.1,v6.sdra.test=::1,pub.sdra.test=93.184.216.34", 1);
    /* a name that resolves to loopback is refused, and nothing is pinned */
    assert_int_equal(sdra_outbox_pin_target("http://rebind.sdra.test:8080/x", false, pin, sizeof pin, &err),
                     SDRA_EDENIED);
    assert_string_equal(pin, "");
    assert_non_null(strstr(err.msg, "loopback"));
    /* the explicit override: allowed, and pinned to the address checked */
    assert_int_equal(sdra_outbox_pin_target("http://rebind.sdra.test:8080/x", true, pin, sizeof pin, &err), 0);
    assert_string_equal(pin, "rebind.sdra.test:8080:127.0.0.1");
    assert_int_equal(sdra_outbox_pin_target("https://v6.sdra.test/hook", true, pin, sizeof pin, &err), 0);
    assert_string_equal(pin, "v6.sdra.test:443:[::1]");
    /* a public answer passes the check and is what the POST will use */
    assert_int_equal(sdra_outbox_pin_target("https://pub.sdra.test/h?x=1", false, pin, sizeof pin, &err), 0);
    assert_string_equal(pin, "pub.sdra.test:443:93.184.216.34");
    /* an address literal needs no pin */
    assert_int_equal(sdra_outbox_pin_target("http://127.0.0.1:9/x", true, pin, sizeof pin, &err), 0);
    assert_string_equal(pin, "");
    assert_int_equal(sdra_outbox_pin_target("http://[::1]:9/x", false, pin, sizeof pin, &err), SDRA_EDENIED);
    assert_int_equal(sdra_outbox_pin_target("http://pub.sdra.test:99999/x", false, pin, sizeof pin, &err),
                     SDRA_EINVAL);
    unsetenv("SDRA_TEST_RESOLVE");
}

static volatile int planning_done;

static void *plan_in_other_zones(void *arg)
{
    (void)arg;
    sdra_outbox_hours h;
    sdra_outbox_hours_parse(&h, "09:00-17:00", NULL);
    for (int i = 0; i < 3000; i++) {
        int64_t t;
        sdra_outbox_next_slot(1772902800000LL + i * 60000LL, i % 2 ? "America/New_York" : "Europe/Berlin", &h, &t,
                              NULL);
    }
    __atomic_store_n(&planning_done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void sched_leaves_the_process_zone_alone(void **state)
{
    (void)state;
    setenv("TZ", "Asia/Tokyo", 1);
    tzset();
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, plan_in_other_zones, NULL), 0);
    int wrong = 0, reads = 0;
    time_t at = 1772902800; /* 2026-03-07 17:00 UTC = 2026-03-08 02:00 in Tokyo */
    while (!__atomic_load_n(&planning_done, __ATOMIC_SEQ_CST) || reads < 1000) {
        struct tm lt;
        localtime_r(&at, &lt);
        wrong += lt.tm_hour != 2 || lt.tm_mday != 8;
        reads++;
    }
    pthread_join(th, NULL);
    assert_int_equal(wrong, 0);
    assert_string_equal(getenv("TZ"), "Asia/Tokyo");
    unsetenv("TZ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sched_slots_across_dst_changes),
        cmocka_unit_test(sched_business_hours_config),
        cmocka_unit_test(sched_offset_at_the_change_instants),
        cmocka_unit_test(sched_callback_pinned_to_the_checked_address),
        cmocka_unit_test(sched_leaves_the_process_zone_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
