/* test_degrade.c - the degraded-mode decision of a live call's channel
 * (sdra_live_degrade_next, docs/live.md "Degraded mode"): it degrades at the entry lag, stays
 * degraded between the two thresholds (no flapping), comes back at the leave lag, never
 * degrades when turned off, and ignores a lag it cannot read. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sdra/live.h"

static void live_degrade_enters_at_threshold(void **state)
{
    (void)state;
    assert_false(sdra_live_degrade_next(false, 0.0, 5.0, 1.0));
    assert_false(sdra_live_degrade_next(false, 4.99, 5.0, 1.0));
    assert_true(sdra_live_degrade_next(false, 5.0, 5.0, 1.0));
    assert_true(sdra_live_degrade_next(false, 60.0, 5.0, 1.0));
}

static void live_degrade_hysteresis(void **state)
{
    (void)state;
    /* degraded: stays so until the lag is down to the leave threshold */
    assert_true(sdra_live_degrade_next(true, 4.0, 5.0, 1.0));
    assert_true(sdra_live_degrade_next(true, 1.01, 5.0, 1.0));
    assert_false(sdra_live_degrade_next(true, 1.0, 5.0, 1.0));
    assert_false(sdra_live_degrade_next(true, 0.0, 5.0, 1.0));
    /* a normal channel in the band between does not degrade */
    assert_false(sdra_live_degrade_next(false, 3.0, 5.0, 1.0));
    /* a leave threshold above the entry one is taken as the entry one */
    assert_false(sdra_live_degrade_next(true, 5.0, 5.0, 9.0));
    assert_true(sdra_live_degrade_next(true, 5.1, 5.0, 9.0));
}

static void live_degrade_off_and_bad_lag(void **state)
{
    (void)state;
    assert_false(sdra_live_degrade_next(false, 100.0, 0.0, 0.0));
    assert_false(sdra_live_degrade_next(true, 100.0, 0.0, 0.0)); /* turned off: back to normal */
    assert_false(sdra_live_degrade_next(false, 100.0, -1.0, 0.0));
    assert_true(sdra_live_degrade_next(true, NAN, 5.0, 1.0));
    assert_false(sdra_live_degrade_next(false, NAN, 5.0, 1.0));
    assert_true(sdra_live_degrade_next(true, -1.0, 5.0, 1.0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(live_degrade_enters_at_threshold),
        cmocka_unit_test(live_degrade_hysteresis),
        cmocka_unit_test(live_degrade_off_and_bad_lag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
