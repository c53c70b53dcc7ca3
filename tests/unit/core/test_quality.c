/* test_quality.c - transcript quality (sdra_transcript_assess, the "quality" block) and the
 * confidence of the words a finding rests on (sdra_utterance_span_conf). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sdra/transcript.h"

static sdra_utterance *utt(sdra_transcript *t, int spk, const char *words, const float *conf)
{
    sdra_utterance *u = sdra_transcript_add_utterance(t, spk, 0, 1, NULL);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", words);
    int i = 0;
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
        sdra_utterance_add_word(u, w, i * 0.1, i * 0.1 + 0.1, conf[i]), i++;
    sdra_utterance_join_words(u);
    return u;
}

static void quality_counts_low_confidence_words(void **state)
{
    (void)state;
    sdra_transcript *t = sdra_transcript_create();
    int s = sdra_transcript_add_speaker(t, "S1", SDRA_ROLE_PROSPECT, 0);
    const float clear[] = {0.95f, 0.95f, 0.95f, 0.95f};
    utt(t, s, "the budget is tight", clear);
    sdra_transcript_quality q;
    sdra_transcript_assess(t, &q);
    assert_int_equal(q.n_words, 4);
    assert_true(fabs(q.mean_conf - 0.95) < 1e-6);
    assert_true(q.low_share == 0);
    assert_false(q.poor);
    assert_true(q.wer_low <= q.wer_est && q.wer_est <= q.wer_high);
    assert_true(q.wer_est < 0.05);
    /* half the words guessed: poor, and a much higher error estimate */
    const float guessed[] = {0.1f, 0.2f, 0.05f, 0.9f};
    utt(t, s, "uh net for it", guessed);
    sdra_transcript_assess(t, &q);
    assert_int_equal(q.n_words, 8);
    assert_true(fabs(q.low_share - 3.0 / 8) < 1e-9);
    assert_true(q.poor);
    assert_true(q.wer_est > 0.2);
    json_t *j = sdra_transcript_quality_json(&q);
    assert_true(json_is_true(json_object_get(j, "poor")));
    assert_int_equal(json_integer_value(json_object_get(j, "words")), 8);
    assert_int_equal(json_array_size(json_object_get(j, "wer_band")), 2);
    json_decref(j);
    sdra_transcript_destroy(t);
    /* no words: nothing to judge */
    sdra_transcript_assess(NULL, &q);
    assert_int_equal(q.n_words, 0);
    assert_false(q.poor);
}

static void span_conf_is_that_of_the_cited_words(void **state)
{
    (void)state;
    sdra_transcript *t = sdra_transcript_create();
    int s = sdra_transcript_add_speaker(t, "S1", SDRA_ROLE_PROSPECT, 0);
    const float c[] = {0.2f, 0.1f, 0.9f, 0.8f, 1.0f, 0.3f};
    sdra_utterance *u = utt(t, s, "uh well budget is tight now", c);
    double lo, m = sdra_utterance_span_conf(u, "The budget is TIGHT.", &lo);
    assert_true(fabs(m - 0.9) < 1e-6); /* "budget is tight": 0.9 0.8 1.0 */
    assert_true(fabs(lo - 0.8) < 1e-6);
    /* words not in the utterance: the whole utterance */
    m = sdra_utterance_span_conf(u, "something else entirely", &lo);
    assert_true(fabs(m - 3.3 / 6) < 1e-6);
    assert_true(fabs(lo - 0.1) < 1e-6);
    /* a typed utterance has no words to doubt */
    sdra_utterance *typed = sdra_transcript_add_utterance(t, s, 2, 3, "typed text");
    assert_true(sdra_utterance_span_conf(typed, "typed", &lo) < 0);
    assert_true(lo < 0);
    sdra_transcript_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quality_counts_low_confidence_words),
        cmocka_unit_test(span_conf_is_that_of_the_cited_words),
    };
    return cmocka_run_group_tests_name("core_quality", tests, NULL, NULL);
}
