/* test_metrics.c - the metrics registry: counters, gauges, histograms with cumulative buckets,
 * the Prometheus text rendering, bad names/labels ignored, the series limit. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "sdra/obs.h"

static void obs_counters_and_gauges_render(void **state)
{
    (void)state;
    sdra_obs *m = NULL;
    assert_int_equal(sdra_obs_create(&m, NULL), 0);
    assert_int_equal(sdra_obs_define(m, "req_total", SDRA_OBS_COUNTER, "Requests", NULL, 0), 0);
    assert_int_equal(sdra_obs_define(m, "req_total", SDRA_OBS_COUNTER, "again", NULL, 0), SDRA_EEXISTS);
    assert_int_equal(sdra_obs_define(m, "bad name", SDRA_OBS_GAUGE, "x", NULL, 0), SDRA_EINVAL);
    assert_int_equal(sdra_obs_define(m, "depth", SDRA_OBS_GAUGE, "Queue depth", NULL, 0), 0);
    sdra_obs_inc(m, "req_total", "route=\"/a\",status=\"200\"", 1);
    sdra_obs_inc(m, "req_total", "route=\"/a\",status=\"200\"", 2);
    sdra_obs_inc(m, "req_total", "route=\"/a\",status=\"200\"", -5); /* counters never go down */
    sdra_obs_inc(m, "req_total", "route=\"/a\nx\"", 1);              /* bad labels ignored */
    sdra_obs_set(m, "req_total", NULL, 9);                             /* wrong type ignored */
    sdra_obs_inc(m, "req_total", "route=\"/v1/calls/{id}\"", 1); /* braces are fine in values */
    sdra_obs_set(m, "depth", NULL, 4);
    sdra_obs_add(m, "depth", NULL, -1);
    assert_true(sdra_obs_value(m, "req_total", "route=\"/a\",status=\"200\"") == 3);
    assert_true(sdra_obs_value(m, "depth", "") == 3);
    sdra_buf b;
    sdra_buf_init(&b, 1 << 16);
    assert_int_equal(sdra_obs_render(m, &b), 0);
    assert_non_null(strstr(b.data, "# TYPE req_total counter\n"));
    assert_non_null(strstr(b.data, "req_total{route=\"/a\",status=\"200\"} 3\n"));
    assert_non_null(strstr(b.data, "req_total{route=\"/v1/calls/{id}\"} 1\n"));
    assert_non_null(strstr(b.data, "# HELP depth Queue depth\n"));
    assert_non_null(strstr(b.data, "depth 3\n"));
    assert_null(strstr(b.data, "req_total 9"));
    sdra_buf_release(&b);
    sdra_obs_destroy(m);
}

static void obs_histogram_buckets_are_cumulative(void **state)
{
    (void)state;
    sdra_obs *m = NULL;
    const double bounds[] = {0.1, 1, 10};
    assert_int_equal(sdra_obs_create(&m, NULL), 0);
    assert_int_equal(sdra_obs_define(m, "lat_seconds", SDRA_OBS_HISTOGRAM, "Latency", bounds, 3), 0);
    sdra_obs_observe(m, "lat_seconds", "stage=\"x\"", 0.05);
    sdra_obs_observe(m, "lat_seconds", "stage=\"x\"", 0.5);
    sdra_obs_observe(m, "lat_seconds", "stage=\"x\"", 5);
    sdra_obs_observe(m, "lat_seconds", "stage=\"x\"", 50);
    sdra_buf b;
    sdra_buf_init(&b, 1 << 16);
    assert_int_equal(sdra_obs_render(m, &b), 0);
    assert_non_null(strstr(b.data, "lat_seconds_bucket{stage=\"x\",le=\"0.1\"} 1\n"));
    assert_non_null(strstr(b.data, "lat_seconds_bucket{stage=\"x\",le=\"1\"} 2\n"));
    assert_non_null(strstr(b.data, "lat_seconds_bucket{stage=\"x\",le=\"10\"} 3\n"));
    assert_non_null(strstr(b.data, "lat_seconds_bucket{stage=\"x\",le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(b.data, "lat_seconds_sum{stage=\"x\"} 55.55"));
    assert_non_null(strstr(b.data, "lat_seconds_count{stage=\"x\"} 4\n"));
    assert_true(sdra_obs_value(m, "lat_seconds", "stage=\"x\"") == 4);
    sdra_buf_release(&b);
    sdra_obs_destroy(m);
}

static void obs_series_limit_is_enforced(void **state)
{
    (void)state;
    sdra_obs *m = NULL;
    assert_int_equal(sdra_obs_create(&m, NULL), 0);
    assert_int_equal(sdra_obs_define(m, "g", SDRA_OBS_GAUGE, "g", NULL, 0), 0);
    char l[64];
    for (int i = 0; i < SDRA_OBS_MAX_SERIES + 10; i++) {
        snprintf(l, sizeof l, "i=\"%d\"", i);
        sdra_obs_set(m, "g", l, i);
    }
    assert_int_equal(sdra_obs_dropped_series(m), 10);
    sdra_obs_clear(m, "g");
    sdra_obs_set(m, "g", "i=\"new\"", 1);
    assert_true(sdra_obs_value(m, "g", "i=\"new\"") == 1);
    sdra_obs_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(obs_counters_and_gauges_render),
        cmocka_unit_test(obs_histogram_buckets_are_cumulative),
        cmocka_unit_test(obs_series_limit_is_enforced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
