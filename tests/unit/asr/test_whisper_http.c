/*
 * test_whisper_http.c - the whisper-http backend without a network: verbose_json replies
 * become utterances (words, times, confidences; segments only; text only), the guards drop
 * text on silence (by Whisper's probabilities and by the audio's energy) and repetition loops
 * (by n-gram and by compression_ratio), words repeated across a chunk boundary are dropped,
 * and the scheduler refuses bad settings with one clear message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "asr/internal.h"

static json_t *load(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    assert_non_null(j);
    return j;
}

/* Converts reply (no energy test unless speech given); returns the utterances. */
static size_t convert(const char *reply, const unsigned char *speech, size_t n_frames, double dur,
                      sdra_asr_utt *out, size_t cap, long *sil, long *rep)
{
    json_t *root = load(reply);
    sdra_asr_queue q = {0};
    sdra_error err = {0};
    *sil = *rep = 0;
    assert_int_equal(sdra_asr_whisper_convert(root, speech, n_frames, dur, &q, sil, rep, &err), 0);
    json_decref(root);
    size_t n = 0;
    while (n < cap && sdra_asr_queue_pop(&q, &out[n]))
        n++;
    assert_int_equal(q.n, 0);
    sdra_asr_queue_release(&q);
    return n;
}

static void release(sdra_asr_utt *u, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sdra_asr_utt_release(&u[i]);
}

static void test_words_and_segments(void **state)
{
    (void)state;
    const char *reply =
        "{\"task\":\"transcribe\",\"language\":\"english\",\"duration\":6.0,\"text\":\"Hello, Jordan. Sure!\","
        "\"segments\":[{\"id\":0,\"start\":0.5,\"end\":2.0,\"text\":\" Hello, Jordan.\",\"avg_logprob\":-0.2,"
        "\"no_speech_prob\":0.01,\"compression_ratio\":1.1},"
        "{\"id\":1,\"start\":3.0,\"end\":4.0,\"text\":\" Sure!\",\"avg_logprob\":-0.5,\"no_speech_prob\":0.02,"
        "\"compression_ratio\":0.9}],"
        "\"words\":[{\"word\":\"Hello,\",\"start\":0.5,\"end\":0.9},{\"word\":\"Jordan.\",\"start\":1.0,\"end\":1.6},"
        "{\"word\":\"Sure!\",\"start\":3.1,\"end\":3.5,\"probability\":0.75}]}";
    sdra_asr_utt u[4];
    long sil, rep;
    size_t n = convert(reply, NULL, 0, 6.0, u, 4, &sil, &rep);
    assert_int_equal(n, 2);
    assert_int_equal(u[0].n_words, 2);
    assert_string_equal(u[0].words[0].w, "hello");
    assert_string_equal(u[0].words[1].w, "jordan");
    assert_true(fabs(u[0].words[1].start_s - 1.0) < 1e-9 && fabs(u[0].words[1].end_s - 1.6) < 1e-9);
    assert_true(fabsf(u[0].words[0].conf - expf(-0.2f)) < 1e-4); /* from avg_logprob */
    assert_true(fabs(u[0].start_s - 0.5) < 1e-9 && fabs(u[0].end_s - 1.6) < 1e-9);
    assert_string_equal(u[1].words[0].w, "sure");
    assert_true(fabsf(u[1].words[0].conf - 0.75f) < 1e-6); /* the word's own probability */
    assert_int_equal(sil + rep, 0);
    release(u, n);
}

static void test_segments_only(void **state)
{
    (void)state; /* no "words": the text is spread over the segment by length */
    const char *reply = "{\"segments\":[{\"start\":2.0,\"end\":4.0,\"text\":\" ab, abc de\",\"avg_logprob\":-0.1,"
                        "\"no_speech_prob\":0.0,\"compression_ratio\":1.0}]}";
    sdra_asr_utt u[2];
    long sil, rep;
    size_t n = convert(reply, NULL, 0, 5.0, u, 2, &sil, &rep);
    assert_int_equal(n, 1);
    assert_int_equal(u[0].n_words, 3);
    assert_string_equal(u[0].words[0].w, "ab");
    assert_true(fabs(u[0].words[0].start_s - 2.0) < 1e-9);
    assert_true(fabs(u[0].words[2].end_s - 4.0) < 1e-9);
    for (size_t i = 0; i < 3; i++)
        assert_true(u[0].words[i].start_s < u[0].words[i].end_s);
    assert_true(u[0].words[1].start_s >= u[0].words[0].end_s - 1e-9);
    release(u, n);
    /* a reply with only text: one utterance over the chunk */
    n = convert("{\"text\":\"Hi there\"}", NULL, 0, 3.0, u, 2, &sil, &rep);
    assert_int_equal(n, 1);
    assert_int_equal(u[0].n_words, 2);
    assert_true(fabs(u[0].words[1].end_s - 3.0) < 1e-9);
    release(u, n);
}

static void test_text_on_silence(void **state)
{
    (void)state;
    /* Whisper's own verdict: high no_speech_prob and low avg_logprob */
    const char *reply = "{\"segments\":[{\"start\":0,\"end\":1,\"text\":\" yes\",\"avg_logprob\":-0.3,\"no_speech_prob\":0.1},"
                        "{\"start\":3,\"end\":4,\"text\":\" Thank you for watching.\",\"avg_logprob\":-1.2,"
                        "\"no_speech_prob\":0.9}]}";
    sdra_asr_utt u[4];
    long sil, rep;
    size_t n = convert(reply, NULL, 0, 5.0, u, 4, &sil, &rep);
    assert_int_equal(n, 1);
    assert_string_equal(u[0].words[0].w, "yes");
    assert_int_equal(sil, 1);
    release(u, n);
    /* the audio's verdict: confident text where the chunk holds no speech energy */
    unsigned char speech[250] = {0}; /* 5 s of 20 ms frames; speech only in 0..1 s */
    memset(speech, 1, 50);
    reply = "{\"segments\":[{\"start\":0,\"end\":1,\"text\":\" yes\",\"avg_logprob\":-0.3,\"no_speech_prob\":0.1},"
            "{\"start\":3,\"end\":4,\"text\":\" you\",\"avg_logprob\":-0.2,\"no_speech_prob\":0.1}]}";
    n = convert(reply, speech, 250, 5.0, u, 4, &sil, &rep);
    assert_int_equal(n, 1);
    assert_int_equal(sil, 1);
    release(u, n);
}

static void test_repetition(void **state)
{
    (void)state;
    /* a loop of one bigram: cut to one copy, the words before it kept */
    const char *reply = "{\"segments\":[{\"start\":0,\"end\":9,\"text\":\" we can do it i think i think i think i think"
                        " i think i think\",\"avg_logprob\":-0.3,\"no_speech_prob\":0.1,\"compression_ratio\":2.9}]}";
    sdra_asr_utt u[2];
    long sil, rep;
    size_t n = convert(reply, NULL, 0, 10.0, u, 2, &sil, &rep);
    assert_int_equal(n, 1);
    assert_int_equal(rep, 1);
    const char *want[] = {"we", "can", "do", "it", "i", "think"};
    assert_int_equal(u[0].n_words, 6);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(u[0].words[i].w, want[i]);
    release(u, n);
    /* "no no no": real speech, kept */
    n = convert("{\"segments\":[{\"start\":0,\"end\":2,\"text\":\" no no no\",\"compression_ratio\":1.2}]}", NULL, 0,
                3.0, u, 2, &sil, &rep);
    assert_int_equal(n, 1);
    assert_int_equal(u[0].n_words, 3);
    assert_int_equal(rep, 0);
    release(u, n);
    /* a high compression_ratio with no n-gram loop found: the segment goes */
    n = convert("{\"segments\":[{\"start\":0,\"end\":2,\"text\":\" blah\",\"compression_ratio\":3.5}]}", NULL, 0,
                3.0, u, 2, &sil, &rep);
    assert_int_equal(n, 0);
    assert_int_equal(rep, 1);
}

static sdra_asr_utt utt(const char *const *w, const double *t, size_t n)
{
    sdra_asr_utt u = {0};
    u.words = calloc(n, sizeof *u.words);
    assert_non_null(u.words);
    for (size_t i = 0; i < n; i++)
        u.words[i] = (sdra_asr_word){.w = strdup(w[i]), .start_s = t[2 * i], .end_s = t[2 * i + 1], .conf = 1};
    u.n_words = n;
    u.start_s = t[0];
    u.end_s = t[2 * n - 1];
    return u;
}

static void test_boundary_duplicates(void **state)
{
    (void)state;
    const char *a[] = {"see", "you", "tomorrow"}, *b[] = {"tomorrow", "then"};
    double ta[] = {9.0, 9.2, 9.2, 9.4, 9.4, 9.95}, tb[] = {10.0, 10.4, 10.5, 10.8};
    sdra_asr_utt p = utt(a, ta, 3), q = utt(b, tb, 2);
    assert_int_equal(sdra_asr_drop_boundary_duplicates(&p, 1, &q, 1, 10.0), 1);
    assert_int_equal(q.n_words, 1);
    assert_string_equal(q.words[0].w, "then");
    assert_true(fabs(q.start_s - 10.5) < 1e-9);
    assert_int_equal(p.n_words, 3);
    sdra_asr_utt_release(&p);
    sdra_asr_utt_release(&q);
    /* the same word said again after a real pause is not a duplicate */
    double tb2[] = {10.6, 11.0, 11.1, 11.3};
    p = utt(a, ta, 3);
    q = utt(b, tb2, 2);
    assert_int_equal(sdra_asr_drop_boundary_duplicates(&p, 1, &q, 1, 10.0), 0);
    assert_int_equal(q.n_words, 2);
    sdra_asr_utt_release(&p);
    sdra_asr_utt_release(&q);
    /* two words repeated */
    const char *c[] = {"you", "tomorrow", "then"};
    double tc[] = {9.8, 10.1, 10.1, 10.5, 10.6, 10.9};
    p = utt(a, ta, 3);
    q = utt(c, tc, 3);
    assert_int_equal(sdra_asr_drop_boundary_duplicates(&p, 1, &q, 1, 10.0), 2);
    assert_int_equal(q.n_words, 1);
    sdra_asr_utt_release(&p);
    sdra_asr_utt_release(&q);
}

static void test_pool_settings(void **state)
{
    (void)state;
    sdra_asr_pool *pool = NULL;
    sdra_error err = {0};
    sdra_asr_remote_params p = sdra_asr_remote_default_params();
    assert_int_equal(sdra_asr_pool_create(&pool, &p, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "--asr-url"));
    p.urls[0] = "ftp://user:secret@127.0.0.1/v1";
    p.n_urls = 1;
    assert_int_equal(sdra_asr_pool_create(&pool, &p, &err), SDRA_EINVAL);
    assert_null(strstr(err.msg, "secret")); /* userinfo never in messages */
    p.urls[0] = "http://127.0.0.1:9/v1/";
    p.max_in_flight = 0;
    assert_int_equal(sdra_asr_pool_create(&pool, &p, &err), SDRA_EINVAL);
    p.max_in_flight = 2;
    p.api_key = "k";
    assert_int_equal(sdra_asr_pool_create(&pool, &p, &err), 0);
    assert_string_equal(sdra_asr_pool_model(pool), "whisper-1");
    sdra_asr_stats st;
    sdra_asr_pool_get_stats(pool, &st);
    assert_int_equal(st.requests, 0);
    /* the backend needs the pool, and 16 kHz */
    sdra_asr_params ap = sdra_asr_default_params();
    ap.backend = "whisper-http";
    sdra_asr *asr = NULL;
    assert_int_equal(sdra_asr_create(&asr, &ap, &err), SDRA_EINVAL);
    ap.pool = pool;
    assert_int_equal(sdra_asr_create(&asr, &ap, &err), 0);
    assert_string_equal(sdra_asr_name(asr), "whisper-http");
    /* silence is never sent: no request, counted */
    int16_t zeros[16000] = {0};
    assert_int_equal(sdra_asr_start_stream(asr, &err), 0);
    assert_int_equal(sdra_asr_feed(asr, zeros, 16000, &err), 0);
    assert_int_equal(sdra_asr_end_stream(asr, &err), 0);
    sdra_asr_utt u;
    bool ready = true;
    assert_int_equal(sdra_asr_poll(asr, &u, &ready, &err), 0);
    assert_false(ready);
    sdra_asr_pool_get_stats(pool, &st);
    assert_int_equal(st.requests, 0);
    assert_int_equal(st.silent_chunks_skipped, 1);
    sdra_asr_destroy(asr);
    sdra_asr_pool_destroy(pool);
    assert_non_null(sdra_asr_backend("pocketsphinx"));
    assert_ptr_equal(sdra_asr_backend("pocketsphinx"), sdra_asr_backend("sphinx"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words_and_segments), cmocka_unit_test(test_segments_only),
        cmocka_unit_test(test_text_on_silence),    cmocka_unit_test(test_repetition),
        cmocka_unit_test(test_boundary_duplicates), cmocka_unit_test(test_pool_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
