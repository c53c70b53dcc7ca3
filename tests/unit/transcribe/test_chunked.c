/*
 * test_chunked.c - chunked parallel decoding: a ~50 s recording (several chunks) transcribed
 * with 1 and with 3 worker threads gives the same words at the same times, and those times
 * are absolute: they match a single-stream decode of the whole file by the recognizer alone.
 * Also: bad inputs fail with one clear message naming the file.
 * ctest-labels: threads
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "asr/asr_test_util.h"
#include "sdra/asr.h"
#include "sdra/transcribe.h"

static char wav[512];

static const char *const sentences[] = {
    "hello this is chris from acme do you have a minute to talk",
    "sure what is this about",
    "we help sales teams spend less time on data entry and more time selling",
    "our reps spend hours every week updating the pipeline",
    "how many people are on your team today",
    "we have about twenty account executives and five managers",
    "what tools are you using right now for reporting",
    "mostly spreadsheets and our crm but nobody trusts the numbers",
    "that is exactly the problem we solve for our customers",
    "can you send me some information by email",
    "of course and could we schedule a demo next tuesday at two",
    "tuesday works for me thanks for calling",
};

static int setup(void **state)
{
    snprintf(wav, sizeof wav, "%s/transcribe_chunked.wav", asr_test_tmp());
    return asr_test_say(wav, sentences, (int)(sizeof sentences / sizeof sentences[0]), 0.8);
}

static size_t count_words(const sdra_transcript *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n_utts; i++)
        n += t->utts[i].n_words;
    return n;
}

static void transcribe_parallel_matches_serial(void **state)
{
    sdra_transcribe_params p = sdra_transcribe_default_params();
    sdra_transcript *t1 = NULL, *t3 = NULL;
    sdra_error err = {0};
    p.jobs = 1;
    assert_int_equal(sdra_transcribe_file(&t1, wav, &p, NULL, &err), 0);
    p.jobs = 3;
    assert_int_equal(sdra_transcribe_file(&t3, wav, &p, NULL, &err), 0);
    assert_true(t1->duration_s > 35);
    assert_int_equal(t1->n_utts, t3->n_utts);
    for (size_t i = 0; i < t1->n_utts; i++) {
        assert_string_equal(t1->utts[i].text, t3->utts[i].text);
        assert_int_equal(t1->utts[i].speaker, t3->utts[i].speaker);
        for (size_t k = 0; k < t1->utts[i].n_words; k++)
            assert_true(t1->utts[i].words[k].start == t3->utts[i].words[k].start);
    }
    json_t *jobs = json_object_get(t3->meta, "jobs");
    assert_int_equal(json_integer_value(jobs), 3);
    assert_non_null(json_object_get(t3->meta, "real_time_factor"));
    assert_string_equal(json_string_value(json_object_get(t3->meta, "engine")), "sphinx");

    /* Absolute times: a word found by a plain single-stream decode at about the same time. */
    int16_t **chans = NULL, *mix = NULL;
    size_t n = 0;
    int nch = 0;
    sdra_audio_params ap = sdra_audio_default_params();
    assert_int_equal(sdra_audio_load(wav, &ap, &chans, &mix, &n, &nch, &err), 0);
    sdra_asr_params asrp = sdra_asr_default_params();
    sdra_asr *asr = NULL;
    assert_int_equal(sdra_asr_create(&asr, &asrp, &err), 0);
    sdra_asr_utt utts[256];
    size_t nu = 0;
    assert_int_equal(sdra_asr_start_stream(asr, &err), 0);
    for (size_t pos = 0; pos <= n; pos += 8000) {
        if (pos < n)
            assert_int_equal(sdra_asr_feed(asr, mix + pos, n - pos < 8000 ? n - pos : 8000, &err), 0);
        else
            assert_int_equal(sdra_asr_end_stream(asr, &err), 0);
        bool ready;
        while (sdra_asr_poll(asr, &utts[nu], &ready, &err) == 0 && ready)
            assert_true(++nu < 256);
        if (pos + 8000 > n && pos < n) {
            assert_int_equal(sdra_asr_end_stream(asr, &err), 0);
            while (sdra_asr_poll(asr, &utts[nu], &ready, &err) == 0 && ready)
                assert_true(++nu < 256);
            break;
        }
    }
    size_t matched = 0, total = count_words(t3);
    for (size_t i = 0; i < t3->n_utts; i++)
        for (size_t k = 0; k < t3->utts[i].n_words; k++) {
            const sdra_word *w = &t3->utts[i].words[k];
            bool hit = false;
            for (size_t u = 0; u < nu && !hit; u++)
                for (size_t j = 0; j < utts[u].n_words && !hit; j++)
                    hit = !strcmp(utts[u].words[j].w, w->w) &&
                          fabs(utts[u].words[j].start_s - w->start) < 0.1;
            matched += hit;
        }
    assert_true(total > 60);
    assert_true(matched * 10 >= total * 8); /* >= 80% of words agree in text and time */
    for (size_t u = 0; u < nu; u++)
        sdra_asr_utt_release(&utts[u]);
    sdra_asr_destroy(asr);
    for (int c = 0; c < nch; c++)
        free(chans[c]);
    free(chans);
    free(mix);
    sdra_transcript_destroy(t1);
    sdra_transcript_destroy(t3);
}

static void transcribe_bad_inputs(void **state)
{
    sdra_transcribe_params p = sdra_transcribe_default_params();
    sdra_transcript *t = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_transcribe_file(&t, "/nonexistent/call.wav", &p, NULL, &err),
                     SDRA_ENOTFOUND);
    assert_non_null(strstr(err.msg, "/nonexistent/call.wav"));
    char path[600];
    snprintf(path, sizeof path, "%s/transcribe_not_audio.wav", asr_test_tmp());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("this is not audio at all\n", f);
    fclose(f);
    assert_true(sdra_transcribe_file(&t, path, &p, NULL, &err) < 0);
    assert_non_null(strstr(err.msg, "transcribe_not_audio.wav"));
    p.vocab_path = "/nonexistent/vocab.txt";
    assert_int_equal(sdra_transcribe_file(&t, wav, &p, NULL, &err), SDRA_ENOTFOUND);
    assert_null(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(transcribe_parallel_matches_serial),
        cmocka_unit_test(transcribe_bad_inputs),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
