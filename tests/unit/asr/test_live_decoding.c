/*
 * test_live_decoding.c - what live calls need of the recognizers (docs/live.md): the cache of
 * idle recognizers hands a recognizer back to the next call with the same params, and that call
 * gives exactly the words it gives alone, after a previous call that ended or one that was
 * abandoned mid-utterance; other params (the fast search) get a recognizer of their own; the
 * cache keeps at most max_idle. Partial hypotheses come while an utterance is decoded, before
 * the utterance is final, and hold its words so far. The fast search finds the words too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "asr/asr_test_util.h"
#include "sdra/asr.h"

static const char *const sent_a[] = {"please send me the pricing information by friday"};
static const char *const sent_b[] = {"we can schedule a demo for next tuesday afternoon"};
static int16_t *pcm[2];
static size_t n_pcm[2];

static int load(const char *name, const char *const *s, int i)
{
    char wav[512];
    snprintf(wav, sizeof wav, "%s/asr_live_%s.wav", asr_test_tmp(), name);
    if (asr_test_say(wav, s, 1, 1.0) != 0)
        return -1;
    return asr_test_load_mix(wav, &pcm[i], &n_pcm[i]);
}

static int setup(void **state)
{
    (void)state;
    return load("a", sent_a, 0) == 0 && load("b", sent_b, 1) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(pcm[0]);
    free(pcm[1]);
    return 0;
}

/* Feeds clip i in 0.1 s pieces (as live calls do) to a started recognizer and ends the stream;
 * the words with their times, "w@start-end w@..." into out. */
static void decode(sdra_asr *asr, int i, char *out, size_t n)
{
    sdra_error err = {0};
    size_t len = 0;
    out[0] = '\0';
    for (size_t pos = 0; pos <= n_pcm[i]; pos += 1600) {
        bool ready;
        sdra_asr_utt u;
        if (pos < n_pcm[i])
            assert_int_equal(sdra_asr_feed(asr, pcm[i] + pos, n_pcm[i] - pos < 1600 ? n_pcm[i] - pos : 1600, &err), 0);
        else
            assert_int_equal(sdra_asr_end_stream(asr, &err), 0);
        while (sdra_asr_poll(asr, &u, &ready, &err) == 0 && ready) {
            for (size_t k = 0; k < u.n_words; k++)
                len += (size_t)snprintf(out + len, n - len, "%s@%.2f-%.2f ", u.words[k].w, u.words[k].start_s,
                                        u.words[k].end_s);
            sdra_asr_utt_release(&u);
            assert_true(len < n);
        }
    }
}

static void asr_cache_reuse_gives_the_same_words(void **state)
{
    (void)state;
    sdra_asr_params p = sdra_asr_default_params();
    sdra_asr_cache *cache = NULL;
    sdra_asr *a = NULL, *b = NULL;
    sdra_error err = {0};
    char alone_a[4096], alone_b[4096], got[4096];
    long created = 0, reused = 0;
    int idle = 0;

    assert_int_equal(sdra_asr_cache_create(&cache, 2, &err), 0);
    /* each clip alone, on a recognizer of its own */
    assert_int_equal(sdra_asr_cache_get(cache, &p, &a, &err), 0);
    assert_int_equal(sdra_asr_cache_get(cache, &p, &b, &err), 0);
    assert_ptr_not_equal(a, b);
    decode(a, 0, alone_a, sizeof alone_a);
    decode(b, 1, alone_b, sizeof alone_b);
    assert_non_null(strstr(alone_a, "pricing@"));
    assert_non_null(strstr(alone_b, "demo@"));
    sdra_asr_cache_put(cache, b);
    sdra_asr_cache_put(cache, a);
    sdra_asr_cache_counts(cache, &created, &reused, &idle);
    assert_int_equal(created, 2);
    assert_int_equal(reused, 0);
    assert_int_equal(idle, 2);

    /* the next call takes the one put last: it decoded a, and now gives b's words exactly */
    sdra_asr *c = NULL;
    assert_int_equal(sdra_asr_cache_get(cache, &p, &c, &err), 0);
    assert_ptr_equal(c, a);
    decode(c, 1, got, sizeof got);
    assert_string_equal(got, alone_b);

    /* a call abandoned mid-utterance (no end_stream) leaks nothing into the next */
    assert_int_equal(sdra_asr_feed(c, pcm[1], n_pcm[1] / 2, &err), 0);
    sdra_asr_cache_put(cache, c);
    assert_int_equal(sdra_asr_cache_get(cache, &p, &c, &err), 0);
    assert_ptr_equal(c, a);
    decode(c, 0, got, sizeof got);
    assert_string_equal(got, alone_a);
    sdra_asr_cache_put(cache, c);
    sdra_asr_cache_counts(cache, &created, &reused, &idle);
    assert_int_equal(created, 2);
    assert_int_equal(reused, 2);
    assert_int_equal(idle, 2);

    /* other params, another recognizer; the cache keeps at most 2, the one idle longest goes */
    p.fast_search = true;
    sdra_asr *f = NULL;
    assert_int_equal(sdra_asr_cache_get(cache, &p, &f, &err), 0);
    assert_ptr_not_equal(f, a);
    assert_ptr_not_equal(f, b);
    assert_non_null(strstr(sdra_asr_describe(f), "fast search"));
    decode(f, 0, got, sizeof got);
    assert_non_null(strstr(got, "pricing@"));
    sdra_asr_cache_put(cache, f);
    sdra_asr_cache_counts(cache, &created, &reused, &idle);
    assert_int_equal(created, 3);
    assert_int_equal(idle, 2);
    sdra_asr_cache_destroy(cache);
}

static void asr_partial_precedes_the_utterance(void **state)
{
    (void)state;
    sdra_asr_params p = sdra_asr_default_params();
    sdra_asr_cache *cache = NULL;
    sdra_asr *a = NULL;
    sdra_error err = {0};
    char text[1024], best[1024] = "";
    double start = -1;
    bool final_seen = false;
    int n_partials = 0;
    assert_int_equal(sdra_asr_cache_create(&cache, 0, &err), 0);
    assert_int_equal(sdra_asr_cache_get(cache, &p, &a, &err), 0);
    /* nothing decoded yet: no partial */
    assert_int_equal(sdra_asr_partial(a, text, sizeof text, &start, &err), 0);
    assert_string_equal(text, "");
    assert_true(start < 0);
    for (size_t pos = 0; pos < n_pcm[0]; pos += 1600) {
        bool ready;
        sdra_asr_utt u;
        assert_int_equal(sdra_asr_feed(a, pcm[0] + pos, n_pcm[0] - pos < 1600 ? n_pcm[0] - pos : 1600, &err), 0);
        while (sdra_asr_poll(a, &u, &ready, &err) == 0 && ready) {
            final_seen = true;
            sdra_asr_utt_release(&u);
        }
        assert_int_equal(sdra_asr_partial(a, text, sizeof text, &start, &err), 0);
        if (text[0] && !final_seen) {
            n_partials++;
            assert_true(start >= 0 && start < (double)n_pcm[0] / 16000);
            snprintf(best, sizeof best, "%s", text);
        }
    }
    assert_true(n_partials > 0);
    assert_non_null(strstr(best, "pricing")); /* the last partial before the end holds most words */
    /* a partial never exceeds the buffer */
    char small[8];
    sdra_asr_end_stream(a, &err);
    assert_int_equal(sdra_asr_partial(a, small, sizeof small, &start, &err), 0);
    assert_string_equal(small, ""); /* the stream ended: nothing in progress */
    sdra_asr_cache_put(cache, a);   /* max_idle 0: destroyed */
    long created = 0;
    int idle = -1;
    sdra_asr_cache_counts(cache, &created, NULL, &idle);
    assert_int_equal(idle, 0);
    sdra_asr_cache_destroy(cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(asr_cache_reuse_gives_the_same_words),
        cmocka_unit_test(asr_partial_precedes_the_utterance),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
