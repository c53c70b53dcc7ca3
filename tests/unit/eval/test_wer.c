/* test_wer.c - WER and cpWER on examples counted by hand: substitutions, deletions, insertions,
 * normalisation, empty sides, speaker permutation, extra and missing speakers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sdra/eval.h"

static sdra_wer wer_of(const char *ref, const char *hyp)
{
    sdra_eval_words r = {0}, h = {0};
    sdra_error err = {0};
    sdra_wer w;
    assert_int_equal(sdra_eval_words_add_text(&r, ref, &err), 0);
    assert_int_equal(sdra_eval_words_add_text(&h, hyp, &err), 0);
    assert_int_equal(sdra_eval_wer(&r, &h, &w, &err), 0);
    sdra_eval_words_release(&r);
    sdra_eval_words_release(&h);
    return w;
}

static void eval_wer_sub_del_ins(void **state)
{
    (void)state;
    sdra_wer w = wer_of("the cat sat on the mat", "the cat sit on mat");
    assert_int_equal(w.n_ref, 6);
    assert_int_equal(w.sub, 1);
    assert_int_equal(w.del, 1);
    assert_int_equal(w.ins, 0);
    assert_true(fabs(w.wer - 2.0 / 6) < 1e-9);
    w = wer_of("a b", "a x b");
    assert_int_equal(w.ins, 1);
    assert_int_equal(w.sub + w.del, 0);
    assert_true(fabs(w.wer - 0.5) < 1e-9);
    w = wer_of("one two three", "");
    assert_int_equal(w.del, 3);
    assert_true(fabs(w.wer - 1.0) < 1e-9);
    w = wer_of("one", "two three four");
    assert_int_equal(w.sub + w.del + w.ins, 3); /* 1 sub + 2 ins */
    assert_true(fabs(w.wer - 3.0) < 1e-9);
    w = wer_of("", "");
    assert_true(w.wer == 0);
}

static void eval_wer_normalises_case_and_punctuation(void **state)
{
    (void)state;
    sdra_wer w = wer_of("Hello, World! Don't follow-up... OK?", "hello world dont follow up ok");
    assert_int_equal(w.n_ref, 6);
    assert_true(w.wer == 0);
    sdra_eval_words x = {0};
    sdra_error err = {0};
    assert_int_equal(sdra_eval_words_add_text(&x, "  \"Quoted\"  (words);  ", &err), 0);
    assert_int_equal(x.n, 2);
    assert_string_equal(x.v[0], "quoted");
    assert_string_equal(x.v[1], "words");
    sdra_eval_words_release(&x);
}

static void add(sdra_eval_spk_words *s, const char *spk, const char *text)
{
    sdra_error err = {0};
    assert_int_equal(sdra_eval_spk_words_add(s, spk, text, &err), 0);
}

static void eval_cpwer_maps_speakers(void **state)
{
    (void)state;
    sdra_eval_spk_words ref = {0}, hyp = {0};
    sdra_error err = {0};
    add(&ref, "A", "hello there");
    add(&ref, "B", "good morning");
    add(&ref, "B", "friend");
    add(&hyp, "S1", "good morning friend"); /* S1 is B */
    add(&hyp, "S2", "hello their");         /* S2 is A, one substitution */
    sdra_wer w;
    int map[2];
    assert_int_equal(sdra_eval_cpwer(&ref, &hyp, &w, map, &err), 0);
    assert_int_equal(map[0], 1);
    assert_int_equal(map[1], 0);
    assert_int_equal(w.n_ref, 5);
    assert_int_equal(w.sub, 1);
    assert_int_equal(w.sub + w.del + w.ins, 1);
    assert_true(fabs(w.wer - 0.2) < 1e-9);

    /* an extra hypothesis speaker: its words are insertions */
    add(&hyp, "S3", "um uh");
    int map3[3];
    assert_int_equal(sdra_eval_cpwer(&ref, &hyp, &w, map3, &err), 0);
    assert_int_equal(map3[2], -1);
    assert_int_equal(w.ins, 2);
    assert_true(fabs(w.wer - 3.0 / 5) < 1e-9);
    sdra_eval_spk_words_release(&hyp);

    /* one hypothesis speaker for both: the other reference speaker is all deletions */
    add(&hyp, "S1", "hello there good morning friend");
    int map1[1];
    assert_int_equal(sdra_eval_cpwer(&ref, &hyp, &w, map1, &err), 0);
    /* S1 -> B: 3 correct + 2 insertions, A: 2 deletions = 4 errors; S1 -> A: 3 ins + 3 del = 6 */
    assert_int_equal(map1[0], 1);
    assert_int_equal(w.sub + w.del + w.ins, 4);
    sdra_eval_spk_words_release(&ref);
    sdra_eval_spk_words_release(&hyp);
}

static void eval_assign_is_optimal_not_greedy(void **state)
{
    (void)state;
    const double cost[] = {1, 2, 2, 100};
    int a[2];
    assert_int_equal(sdra_eval_assign(cost, 2, 2, a), 0);
    assert_int_equal(a[0], 1);
    assert_int_equal(a[1], 0);
    /* more rows than columns: one row is left out */
    const double c3[] = {5, 1, 0, 9, 3, 3};
    int b[3];
    assert_int_equal(sdra_eval_assign(c3, 3, 2, b), 0);
    assert_int_equal(b[0], 1);
    assert_int_equal(b[1], 0);
    assert_int_equal(b[2], -1);
}

/* The aligned path: which hypothesis words are right, and the same counts as sdra_eval_wer. */
static void eval_align_marks_right_words(void **state)
{
    (void)state;
    sdra_eval_words r = {0}, h = {0};
    sdra_error err = {0};
    assert_int_equal(sdra_eval_words_add_text(&r, "the cat sat on the mat", &err), 0);
    assert_int_equal(sdra_eval_words_add_text(&h, "the cat sit on uh mat", &err), 0);
    unsigned char ok[6];
    sdra_wer w;
    assert_int_equal(sdra_eval_align(&r, &h, ok, &w, &err), 0);
    const unsigned char want[6] = {1, 1, 0, 1, 0, 1};
    assert_memory_equal(ok, want, 6);
    assert_int_equal(w.sub, 2);
    assert_int_equal(w.del + w.ins, 0);
    sdra_eval_words_release(&h);
    /* insertions are wrong words, deletions have no hypothesis word */
    assert_int_equal(sdra_eval_words_add_text(&h, "uh the cat on the mat", &err), 0);
    assert_int_equal(sdra_eval_align(&r, &h, ok, &w, &err), 0);
    const unsigned char want2[6] = {0, 1, 1, 1, 1, 1};
    assert_memory_equal(ok, want2, 6);
    assert_int_equal(w.ins, 1);
    assert_int_equal(w.del, 1);
    sdra_wer w2;
    assert_int_equal(sdra_eval_wer(&r, &h, &w2, &err), 0);
    assert_int_equal(w.sub + w.del + w.ins, w2.sub + w2.del + w2.ins);
    sdra_eval_words_release(&r);
    sdra_eval_words_release(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eval_wer_sub_del_ins),
        cmocka_unit_test(eval_wer_normalises_case_and_punctuation),
        cmocka_unit_test(eval_cpwer_maps_speakers),
        cmocka_unit_test(eval_assign_is_optimal_not_greedy),
        cmocka_unit_test(eval_align_marks_right_words),
    };
    return cmocka_run_group_tests_name("eval_wer", tests, NULL, NULL);
}
