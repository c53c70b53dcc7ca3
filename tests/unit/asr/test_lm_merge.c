/*
 * test_lm_merge.c - the merged language model that the build writes (sdra_asr_lm_merge:
 * en-us.lm.bin + data/asr/sales.lm at 0.15, the default weight) against the run-time mixture of the two models
 * that it replaces: every n-gram of the domain model, and every trigram of real sentences
 * that the merged model holds, has the mixture's probability; backed-off ones stay close;
 * the distributions after a few histories (generic, domain-only, empty) sum to one; bad
 * inputs give one clear error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <unistd.h>

#include <sphinxbase/err.h>
#include <sphinxbase/logmath.h>
#include <sphinxbase/ngram_model.h>

#include "asr/asr_test_util.h"
#include "sdra/asr.h"

#define WEIGHT 0.15

static logmath_t *lmath;
static ngram_model_t *mix, *merged;
static char domain[1024], generic[1024];

static int setup(void **state)
{
    err_set_logfp(NULL);
    snprintf(generic, sizeof generic, "%s/en-us/en-us.lm.bin", SDRA_SPHINX_MODELDIR);
    snprintf(domain, sizeof domain, "%s/asr/sales.lm", SDRA_SOURCE_DATA_DIR);
    char path[1024];
    snprintf(path, sizeof path, "%s/asr/sales.merged-0.15.lm.bin", SDRA_BUILD_DATA_DIR);
    lmath = logmath_init(1.0001, 0, 0);
    ngram_model_t *lms[2] = {ngram_model_read(NULL, generic, NGRAM_BIN, lmath),
                             ngram_model_read(NULL, domain, NGRAM_ARPA, lmath)};
    merged = ngram_model_read(NULL, path, NGRAM_BIN, lmath);
    if (!lms[0] || !lms[1] || !merged) {
        fprintf(stderr, "cannot load %s, %s or %s (is the build complete?)\n", generic, domain, path);
        return -1;
    }
    const char *names[2] = {"generic", "domain"};
    float32 w[2] = {1 - WEIGHT, WEIGHT};
    mix = ngram_model_set_init(NULL, lms, (char **)names, w, 2);
    ngram_model_free(lms[0]);
    ngram_model_free(lms[1]);
    return mix ? 0 : -1;
}

static int teardown(void **state)
{
    ngram_model_free(mix);
    ngram_model_free(merged);
    logmath_free(lmath);
    return 0;
}

/* log10 p(words[n-1] | words[0..n-2]) in lm; *used = the order it was found at. */
static double lp(ngram_model_t *lm, const char *const *words, int n, int *used)
{
    int32 hist[2], n_hist = 0, u = 0;
    for (int i = n - 2; i >= 0; i--)
        hist[n_hist++] = ngram_wid(lm, words[i]);
    int32 s = ngram_ng_prob(lm, ngram_wid(lm, words[n - 1]), hist, n_hist, &u);
    if (used)
        *used = u;
    return logmath_log_to_log10(lmath, s);
}

static void test_domain_ngrams_have_the_mixture_probability(void **state)
{
    FILE *f = fopen(domain, "r");
    assert_non_null(f);
    char line[1024];
    int order = 0, checked = 0;
    double worst = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '\\') {
            order = line[1] >= '1' && line[1] <= '3' ? line[1] - '0' : 0;
            continue;
        }
        char *save = NULL, *tok = strtok_r(line, " \t\n", &save);
        const char *words[3];
        int n = 0;
        while (order && tok && n < order && (tok = strtok_r(NULL, " \t\n", &save)))
            words[n++] = tok;
        if (!order || n != order || !strcmp(words[n - 1], "<s>"))
            continue;
        double d = fabs(lp(merged, words, n, NULL) - lp(mix, words, n, NULL));
        if (d > worst)
            worst = d;
        checked++;
    }
    fclose(f);
    print_message("domain n-grams: %d checked, worst difference %.4f (log10)\n", checked, worst);
    assert_true(checked > 4000); /* 656 + 1916 + 2249 n-grams, less the <s> unigram */
    /* the trie stores probabilities in 65,536 bins: a few thousandths of log10 at most */
    assert_true(worst < 0.005);
}

static const char *const text[] = {
    "<s> thanks for taking the time to talk with me today </s>",
    "<s> could you send me the pricing for the enterprise plan by friday </s>",
    "<s> it was the best of times it was the worst of times </s>",
    "<s> the committee will meet again next week to review the budget </s>",
    "<s> we are evaluating a few vendors for our billing and reporting workflow </s>",
    "<s> she sells sea shells by the sea shore </s>",
};

static void test_sentence_trigrams_match_or_stay_close(void **state)
{
    int exact = 0, backed = 0;
    double worst_exact = 0, worst_backed = 0;
    for (size_t s = 0; s < sizeof text / sizeof *text; s++) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s", text[s]);
        const char *w[64];
        int n = 0;
        char *save = NULL;
        for (char *t = strtok_r(buf, " ", &save); t && n < 64; t = strtok_r(NULL, " ", &save))
            w[n++] = t;
        for (int i = 1; i < n; i++) {
            int k = i >= 2 ? 3 : 2, used = 0;
            const char *const *g = w + i - k + 1;
            double d = fabs(lp(merged, g, k, &used) - lp(mix, g, k, NULL));
            if (used == 0)
                continue; /* a word neither model has ("workflow") */
            if (used == k) {
                exact++;
                worst_exact = fmax(worst_exact, d);
            } else {
                backed++;
                worst_backed = fmax(worst_backed, d);
            }
        }
    }
    print_message("sentence n-grams: %d held (worst %.4f), %d backed off (worst %.4f)\n", exact,
                  worst_exact, backed, worst_backed);
    assert_true(exact > 20 && backed > 5);
    assert_true(worst_exact < 0.005);
    /* static interpolation backs off in the mixture, not in each model: close, not equal */
    assert_true(worst_backed < 0.25);
}

/* sum over the vocabulary of p(w | hist) in the merged model */
static double total(const char *const *hist, int n_hist)
{
    int32 h[2];
    for (int i = 0; i < n_hist; i++)
        h[i] = ngram_wid(merged, hist[n_hist - 1 - i]);
    double sum = 0;
    int32 n_words = (int32)ngram_model_get_counts(merged)[0];
    for (int32 wid = 0; wid < n_words; wid++) {
        if (!strcmp(ngram_word(merged, wid), "<s>"))
            continue;
        int32 used = 0;
        sum += logmath_exp(lmath, ngram_ng_prob(merged, wid, h, n_hist, &used));
    }
    return sum;
}

static void test_distributions_sum_to_one(void **state)
{
    const char *none[1] = {NULL};
    const char *the[1] = {"the"}, *pricing[1] = {"pricing"}, *hubspot[1] = {"hubspot"};
    const char *we_can[2] = {"we", "can"}, *send_me[2] = {"send", "me"}, *s_hi[2] = {"<s>", "hi"};
    assert_true(ngram_wid(merged, "hubspot") != ngram_unknown_wid(merged)); /* a domain-only word */
    assert_float_equal(total(none, 0), 1.0, 0.01);
    assert_float_equal(total(the, 1), 1.0, 0.01);
    assert_float_equal(total(pricing, 1), 1.0, 0.01);
    assert_float_equal(total(hubspot, 1), 1.0, 0.01);
    assert_float_equal(total(we_can, 2), 1.0, 0.01);
    assert_float_equal(total(send_me, 2), 1.0, 0.01);
    assert_float_equal(total(s_hi, 2), 1.0, 0.01);
}

static void test_bad_inputs_fail_clearly(void **state)
{
    char out[1024], text_file[1024], cut[1024];
    snprintf(out, sizeof out, "%s/lm_merge_out.lm.bin", asr_test_tmp());
    snprintf(text_file, sizeof text_file, "%s/lm_merge_text.lm.bin", asr_test_tmp());
    snprintf(cut, sizeof cut, "%s/lm_merge_cut.lm.bin", asr_test_tmp());
    FILE *f = fopen(text_file, "w");
    assert_non_null(f);
    fputs("this is not a language model\n", f);
    fclose(f);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "head -c 2000000 %s > %s", generic, cut);
    assert_int_equal(system(cmd), 0);

    sdra_error err = {0};
    assert_int_equal(sdra_asr_lm_merge(generic, domain, 0, out, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "weight"));
    assert_int_equal(sdra_asr_lm_merge(text_file, domain, WEIGHT, out, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, text_file));
    assert_int_equal(sdra_asr_lm_merge(cut, domain, WEIGHT, out, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, cut));
    assert_int_equal(sdra_asr_lm_merge(generic, text_file, WEIGHT, out, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, text_file));
    assert_int_equal(access(out, F_OK), -1); /* nothing half-written */
    unlink(text_file);
    unlink(cut);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_domain_ngrams_have_the_mixture_probability),
        cmocka_unit_test(test_sentence_trigrams_match_or_stay_close),
        cmocka_unit_test(test_distributions_sum_to_one),
        cmocka_unit_test(test_bad_inputs_fail_clearly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
