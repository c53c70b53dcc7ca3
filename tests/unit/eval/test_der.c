/* test_der.c - DER on timelines computed by hand: perfect with permuted names, confusion with
 * and without the collar, missed and false alarm, overlap, optimal mapping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sdra/eval.h"

static void seg(sdra_eval_segs *s, const char *spk, double a, double b)
{
    sdra_error err = {0};
    assert_int_equal(sdra_eval_segs_add(s, spk, a, b, &err), 0);
}

static sdra_der score(sdra_eval_segs *ref, sdra_eval_segs *hyp, double collar)
{
    sdra_der d;
    sdra_error err = {0};
    assert_int_equal(sdra_eval_der(ref, hyp, collar, &d, NULL, &err), 0);
    return d;
}

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-6)

static void eval_der_perfect_with_other_names(void **state)
{
    (void)state;
    sdra_eval_segs ref = {0}, hyp = {0};
    seg(&ref, "A", 0, 10);
    seg(&ref, "B", 10, 20);
    seg(&hyp, "x", 10, 20);
    seg(&hyp, "y", 0, 4);
    seg(&hyp, "y", 4, 10); /* split turns of one speaker join */
    int map[2];
    sdra_der d;
    sdra_error err = {0};
    assert_int_equal(sdra_eval_der(&ref, &hyp, 0, &d, map, &err), 0);
    NEAR(d.der, 0);
    NEAR(d.ref_s, 20);
    assert_int_equal(map[0], 1); /* x -> B */
    assert_int_equal(map[1], 0);
    sdra_eval_segs_release(&ref);
    sdra_eval_segs_release(&hyp);
}

static void eval_der_confusion_and_collar(void **state)
{
    (void)state;
    sdra_eval_segs ref = {0}, hyp = {0};
    seg(&ref, "A", 0, 10);
    seg(&ref, "B", 10, 20);
    seg(&hyp, "s1", 0, 12);
    seg(&hyp, "s2", 12, 20);
    sdra_der d = score(&ref, &hyp, 0);
    NEAR(d.confusion_s, 2);
    NEAR(d.der, 0.1);
    /* collar 0.25: no-score zones [-0.25,0.25], [9.75,10.25], [19.75,20.25] */
    d = score(&ref, &hyp, 0.25);
    NEAR(d.ref_s, 19);
    NEAR(d.confusion_s, 1.75);
    NEAR(d.missed_s + d.false_alarm_s, 0);
    NEAR(d.der, 1.75 / 19);
    sdra_eval_segs_release(&ref);
    sdra_eval_segs_release(&hyp);
}

static void eval_der_missed_and_false_alarm(void **state)
{
    (void)state;
    sdra_eval_segs ref = {0}, hyp = {0};
    seg(&ref, "A", 0, 10);
    seg(&hyp, "s1", 2, 12);
    sdra_der d = score(&ref, &hyp, 0);
    NEAR(d.missed_s, 2);
    NEAR(d.false_alarm_s, 2);
    NEAR(d.der, 0.4);
    /* an empty hypothesis misses everything */
    sdra_eval_segs none = {0};
    d = score(&ref, &none, 0);
    NEAR(d.der, 1.0);
    sdra_eval_segs_release(&ref);
    sdra_eval_segs_release(&hyp);
}

static void eval_der_overlap_counts_per_speaker(void **state)
{
    (void)state;
    sdra_eval_segs ref = {0}, hyp = {0}, hyp2 = {0};
    seg(&ref, "A", 0, 10);
    seg(&ref, "B", 5, 15);
    seg(&hyp, "s1", 0, 10); /* only one speaker found */
    sdra_der d = score(&ref, &hyp, 0);
    NEAR(d.ref_s, 20);
    NEAR(d.missed_s, 10);
    NEAR(d.der, 0.5);
    seg(&hyp2, "s1", 0, 10);
    seg(&hyp2, "s2", 5, 15);
    d = score(&ref, &hyp2, 0);
    NEAR(d.der, 0);
    sdra_eval_segs_release(&ref);
    sdra_eval_segs_release(&hyp);
    sdra_eval_segs_release(&hyp2);
}

static void eval_der_mapping_is_one_to_one(void **state)
{
    (void)state;
    /* three reference speakers, two hypothesis speakers: one reference speaker is confused */
    sdra_eval_segs ref = {0}, hyp = {0};
    seg(&ref, "A", 0, 10);
    seg(&ref, "B", 10, 14);
    seg(&ref, "C", 14, 30);
    seg(&hyp, "h1", 0, 14);  /* A and B */
    seg(&hyp, "h2", 14, 30); /* C */
    sdra_der d = score(&ref, &hyp, 0);
    NEAR(d.confusion_s, 4); /* B cannot also map to h1 */
    NEAR(d.der, 4.0 / 30);
    sdra_eval_segs_release(&ref);
    sdra_eval_segs_release(&hyp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eval_der_perfect_with_other_names),
        cmocka_unit_test(eval_der_confusion_and_collar),
        cmocka_unit_test(eval_der_missed_and_false_alarm),
        cmocka_unit_test(eval_der_overlap_counts_per_speaker),
        cmocka_unit_test(eval_der_mapping_is_one_to_one),
    };
    return cmocka_run_group_tests_name("eval_der", tests, NULL, NULL);
}
