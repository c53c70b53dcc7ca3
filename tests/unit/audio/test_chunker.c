/*
 * test_chunker.c - splitting a stream at silences: on generated tone bursts separated by
 * pauses every cut falls inside a pause, chunk lengths respect min/max, and the chunks put
 * back together are the input sample for sample; the noise floor adapts (a pause in loud line
 * noise is still a pause); without any silence the cut is forced before max; short and empty
 * streams; bad parameters; and synthetic speech (flite), where no cut lands inside a word.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "audio/audio_test_util.h"

#define RATE 16000

typedef struct span {
    size_t from, to; /* samples */
} span;

typedef struct signal {
    int16_t *pcm;
    size_t n;
    span gaps[512];
    int n_gaps;
} test_signal;

static unsigned rng = 1;
static double urand(void)
{
    rng = rng * 1103515245u + 12345u;
    return (double)((rng >> 8) & 0xffffff) / 16777216.0;
}

/* Tone bursts of 1.5-5 s (level burst_db, warbling so that they look like voiced speech,
 * with short stops inside) separated by gaps of 0.35-1.2 s, over noise at noise_db (a different
 * noise_db2 in the second half). */
static void make_bursts(test_signal *s, double seconds, double burst_db, double noise_db,
                        double noise_db2)
{
    s->n = (size_t)(seconds * RATE);
    s->pcm = malloc(s->n * sizeof *s->pcm);
    assert_non_null(s->pcm);
    s->n_gaps = 0;
    size_t i = 0;
    double amp = pow(10, burst_db / 20) * 32767 * sqrt(2);
    while (i < s->n) {
        size_t burst = (size_t)((1.5 + 3.5 * urand()) * RATE);
        size_t gap = (size_t)((0.35 + 0.85 * urand()) * RATE);
        size_t next_stop = (size_t)((0.5 + 0.4 * urand()) * RATE);
        for (size_t k = 0; k < burst && i < s->n; k++, i++) {
            double t = (double)i / RATE;
            s->pcm[i] = (int16_t)(amp * (0.7 + 0.3 * sin(2 * M_PI * 4 * t)) *
                                  sin(2 * M_PI * (180 + 40 * sin(2 * M_PI * 0.5 * t)) * t));
            /* a 60 ms stop inside the "word" (like a plosive's closure): as quiet as a pause
             * but short, so it must not be taken for one */
            if (k >= next_stop && k < next_stop + RATE * 6 / 100)
                s->pcm[i] = 0;
            else if (k >= next_stop + RATE * 6 / 100)
                next_stop = k + (size_t)((0.5 + 0.4 * urand()) * RATE);
        }
        if (i < s->n && s->n_gaps < 512) {
            s->gaps[s->n_gaps].from = i;
            s->gaps[s->n_gaps].to = i + gap < s->n ? i + gap : s->n;
            s->n_gaps++;
        }
        for (size_t k = 0; k < gap && i < s->n; k++, i++)
            s->pcm[i] = 0;
    }
    for (i = 0; i < s->n; i++) {
        double ndb = i < s->n / 2 ? noise_db : noise_db2;
        double na = pow(10, ndb / 20) * 32767 * sqrt(3); /* uniform noise of that RMS */
        double v = s->pcm[i] + (urand() * 2 - 1) * na;
        s->pcm[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
    }
}

typedef struct cut_list {
    size_t cuts[4096];
    size_t lens[4096];
    int n;
} cut_list;

/* Feeds pcm in random-sized pieces, checks the chunks rebuild the input exactly, and records
 * the chunk lengths and cut positions. */
static void run_chunker(const sdra_chunker_params *p, const int16_t *pcm, size_t n, cut_list *cl)
{
    sdra_chunker *c = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_chunker_create(&c, p, &err), 0);
    int16_t *rebuilt = malloc((n ? n : 1) * sizeof *rebuilt);
    size_t pos = 0, fed = 0;
    int expect_index = 0;
    cl->n = 0;
    sdra_chunk ch;
    bool ready;
    for (;;) {
        size_t piece = 1 + (size_t)(urand() * 7000);
        if (piece > n - fed)
            piece = n - fed;
        if (piece == 0) {
            assert_int_equal(sdra_chunker_finish(c, &ch, &ready, &err), 0);
        } else {
            assert_int_equal(sdra_chunker_feed(c, pcm + fed, piece, &ch, &ready, &err), 0);
            fed += piece;
        }
        while (ready) {
            assert_int_equal(ch.index, expect_index);
            expect_index++;
            assert_int_equal(ch.start_frame, (int64_t)pos);
            assert_true(pos + ch.n_frames <= n);
            memcpy(rebuilt + pos, ch.pcm, ch.n_frames * sizeof *rebuilt);
            pos += ch.n_frames;
            assert_true(cl->n < 4096);
            cl->lens[cl->n] = ch.n_frames;
            cl->cuts[cl->n] = pos;
            cl->n++;
            sdra_chunk_release(&ch);
            if (piece == 0)
                assert_int_equal(sdra_chunker_finish(c, &ch, &ready, &err), 0);
            else
                assert_int_equal(sdra_chunker_feed(c, NULL, 0, &ch, &ready, &err), 0);
        }
        if (piece == 0)
            break;
    }
    assert_int_equal(pos, n);
    if (n)
        assert_memory_equal(rebuilt, pcm, n * sizeof *pcm);
    free(rebuilt);
    sdra_chunker_destroy(c);
}

static void check_lengths(const sdra_chunker_params *p, const cut_list *cl)
{
    for (int i = 0; i < cl->n; i++) {
        double len_s = (double)cl->lens[i] / RATE;
        assert_true(len_s <= p->max_chunk_s + 1e-9);
        if (i < cl->n - 1) /* the last chunk is whatever is left */
            assert_true(len_s >= p->min_chunk_s - 1e-9);
    }
}

static bool in_gap(const test_signal *s, size_t cut, size_t margin)
{
    for (int g = 0; g < s->n_gaps; g++)
        if (cut >= s->gaps[g].from + margin && cut + margin <= s->gaps[g].to)
            return true;
    return false;
}

static void chunker_cuts_fall_in_silences(void **state)
{
    (void)state;
    rng = 7;
    test_signal s;
    make_bursts(&s, 300, -14, -62, -62);
    sdra_chunker_params p = sdra_chunker_default_params();
    static cut_list cl;
    run_chunker(&p, s.pcm, s.n, &cl);
    check_lengths(&p, &cl);
    assert_true(cl.n >= 10);
    for (int i = 0; i < cl.n - 1; i++) {
        if (!in_gap(&s, cl.cuts[i], RATE / 100))
            fail_msg("cut %d at %.3f s is not inside a pause", i, (double)cl.cuts[i] / RATE);
    }
    free(s.pcm);
}

static void chunker_adapts_to_noise_floor(void **state)
{
    (void)state;
    rng = 11;
    test_signal s;
    /* quiet line for 2.5 minutes, then loud line noise (only 20 dB under the talk) */
    make_bursts(&s, 300, -12, -65, -34);
    sdra_chunker_params p = sdra_chunker_default_params();
    p.min_chunk_s = 5;
    p.target_chunk_s = 10;
    p.max_chunk_s = 15;
    static cut_list cl;
    run_chunker(&p, s.pcm, s.n, &cl);
    check_lengths(&p, &cl);
    int noisy = 0;
    for (int i = 0; i < cl.n - 1; i++) {
        if (cl.cuts[i] > s.n / 2)
            noisy++;
        if (!in_gap(&s, cl.cuts[i], RATE / 100))
            fail_msg("cut %d at %.3f s is not inside a pause", i, (double)cl.cuts[i] / RATE);
    }
    assert_true(noisy >= 8);
    free(s.pcm);
}

static void chunker_forced_cut_without_silence(void **state)
{
    (void)state;
    size_t n = 100 * RATE;
    int16_t *pcm = malloc(n * sizeof *pcm);
    for (size_t i = 0; i < n; i++)
        pcm[i] = (int16_t)(8000 * sin(2 * M_PI * 300 * (double)i / RATE));
    sdra_chunker_params p = sdra_chunker_default_params();
    static cut_list cl;
    rng = 3;
    run_chunker(&p, pcm, n, &cl);
    check_lengths(&p, &cl);
    assert_true(cl.n >= 4); /* 100 s in chunks of at most 30 s */
    free(pcm);
}

static void chunker_short_and_empty_streams(void **state)
{
    (void)state;
    sdra_chunker_params p = sdra_chunker_default_params();
    size_t n = 3 * RATE;
    int16_t *pcm = calloc(n, sizeof *pcm);
    static cut_list cl;
    rng = 5;
    run_chunker(&p, pcm, n, &cl);
    assert_int_equal(cl.n, 1);
    assert_int_equal(cl.lens[0], n);
    run_chunker(&p, pcm, 0, &cl);
    assert_int_equal(cl.n, 0);
    /* exactly max_chunk_s of input is one chunk */
    free(pcm);
    n = (size_t)(p.max_chunk_s * RATE);
    pcm = calloc(n, sizeof *pcm);
    run_chunker(&p, pcm, n, &cl);
    assert_true(cl.n >= 1 && cl.n <= 2);
    free(pcm);
    sdra_chunk_release(NULL);
    sdra_chunker_destroy(NULL);
}

/* sdra_chunker_finish cuts where the caller chooses and feeding goes on: chunks stay
 * contiguous, numbered on, and the cut lies exactly there (transcribe.c cuts a mono call where
 * the speaker changes). */
static void chunker_cut_and_go_on(void **state)
{
    (void)state;
    sdra_chunker_params p = sdra_chunker_default_params();
    size_t n = 50 * RATE, at = 3 * RATE + 123; /* a cut 3 s in, off any frame boundary */
    int16_t *pcm = malloc(n * sizeof *pcm);
    for (size_t i = 0; i < n; i++)
        pcm[i] = (int16_t)(8000 * sin(2 * M_PI * 300 * (double)i / RATE));
    sdra_chunker *c = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_chunker_create(&c, &p, &err), 0);
    sdra_chunk ch[8];
    int k = 0;
    bool ready = false;
    assert_int_equal(sdra_chunker_feed(c, pcm, at, &ch[k], &ready, &err), 0);
    assert_false(ready); /* 3 s: under min_chunk_s, nothing yet */
    assert_int_equal(sdra_chunker_finish(c, &ch[k], &ready, &err), 0);
    assert_true(ready);
    k++;
    for (size_t off = at; off < n; off += 4000) {
        assert_int_equal(sdra_chunker_feed(c, pcm + off, n - off < 4000 ? n - off : 4000, &ch[k], &ready, &err), 0);
        while (ready && k < 7) {
            k++;
            assert_int_equal(sdra_chunker_feed(c, NULL, 0, &ch[k], &ready, &err), 0);
        }
    }
    for (;;) {
        assert_int_equal(sdra_chunker_finish(c, &ch[k], &ready, &err), 0);
        if (!ready)
            break;
        k++;
        assert_true(k < 8);
    }
    assert_int_equal(ch[0].start_frame, 0);
    assert_int_equal(ch[0].n_frames, at);
    assert_true(k >= 3); /* 47 s more: at least two chunks of at most 30 s */
    int64_t pos = 0;
    for (int i = 0; i < k; i++) {
        assert_int_equal(ch[i].index, i);
        assert_int_equal(ch[i].start_frame, pos);
        assert_memory_equal(ch[i].pcm, pcm + pos, ch[i].n_frames * sizeof *pcm);
        pos += (int64_t)ch[i].n_frames;
        sdra_chunk_release(&ch[i]);
    }
    assert_int_equal(pos, (int64_t)n);
    sdra_chunker_destroy(c);
    free(pcm);
}

static void chunker_bad_params(void **state)
{
    (void)state;
    sdra_chunker *c = (sdra_chunker *)0x1;
    sdra_error err = {0};
    sdra_chunker_params p = sdra_chunker_default_params();
    p.min_chunk_s = 40; /* above max */
    assert_int_equal(sdra_chunker_create(&c, &p, &err), SDRA_EINVAL);
    assert_null(c);
    assert_non_null(strstr(err.msg, "chunker"));
    p = sdra_chunker_default_params();
    p.rate_hz = 0;
    assert_int_equal(sdra_chunker_create(&c, &p, &err), SDRA_EINVAL);
    p = sdra_chunker_default_params();
    p.max_chunk_s = 1e9;
    p.target_chunk_s = 20;
    assert_int_equal(sdra_chunker_create(&c, &p, &err), SDRA_EINVAL);
}

/* Synthetic speech: sentences spoken by flite, run together with their natural pauses. No cut
 * may land where the voice is sounding: the 40 ms around every cut must be far quieter than
 * the speech. */
static void chunker_real_speech(void **state)
{
    (void)state;
    char txt[700], wav[700];
    atu_path(txt, sizeof txt, "speech.txt");
    atu_path(wav, sizeof wav, "speech.wav");
    const char *text =
        "Hello, this is Sam from Northwind. Thanks for taking my call today. "
        "I wanted to follow up on the demo we did last week. You mentioned that your team "
        "spends a lot of time on manual reporting. Our platform can automate most of that. "
        "What would it take to get a pilot started next month? "
        "We would need to talk about the budget first. The price you quoted seems high. "
        "I understand. Many customers felt the same until they saw the time savings. "
        "Could we schedule a call with your finance lead on Thursday at two? "
        "That works for me. Please send me an email with the details. "
        "Great, I will send the proposal and a calendar invite this afternoon. "
        "Thank you for your time, and have a great day. Goodbye.";
    assert_int_equal(atu_write(txt, text, strlen(text)), 0);
    if (atu_sh("flite -f '%s' -o '%s' >/dev/null 2>&1", txt, wav) != 0)
        skip();
    int16_t **ch = NULL, *mix = NULL;
    size_t n = 0;
    int nch = 0;
    sdra_error err = {0};
    assert_int_equal(sdra_audio_load(wav, NULL, &ch, &mix, &n, &nch, &err), 0);
    sdra_chunker_params p = sdra_chunker_default_params();
    p.min_chunk_s = 4;
    p.target_chunk_s = 8;
    p.max_chunk_s = 12;
    static cut_list cl;
    rng = 9;
    run_chunker(&p, mix, n, &cl);
    check_lengths(&p, &cl);
    assert_true(cl.n >= 3);
    double speech_db = sdra_audio_rms_db(mix, n);
    for (int i = 0; i < cl.n - 1; i++) {
        size_t c = cl.cuts[i];
        size_t from = c > 320 ? c - 320 : 0, to = c + 320 < n ? c + 320 : n;
        double db = sdra_audio_rms_db(mix + from, to - from);
        if (db > speech_db - 20)
            fail_msg("cut at %.3f s is at %.1f dB, speech is %.1f dB", (double)c / RATE, db,
                     speech_db);
    }
    for (int c = 0; c < nch; c++)
        free(ch[c]);
    free(ch);
    free(mix);
}

static void chunker_rms_db(void **state)
{
    (void)state;
    int16_t z[100] = {0}, full[100];
    assert_true(sdra_audio_rms_db(z, 100) == -100.0);
    assert_true(sdra_audio_rms_db(NULL, 0) == -100.0);
    for (int i = 0; i < 100; i++)
        full[i] = (i & 1) ? 32767 : -32767;
    assert_true(fabs(sdra_audio_rms_db(full, 100)) < 0.01);
    for (int i = 0; i < 100; i++)
        full[i] = (i & 1) ? 3277 : -3277;
    assert_true(fabs(sdra_audio_rms_db(full, 100) + 20.0) < 0.01);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chunker_cuts_fall_in_silences),
        cmocka_unit_test(chunker_adapts_to_noise_floor),
        cmocka_unit_test(chunker_forced_cut_without_silence),
        cmocka_unit_test(chunker_short_and_empty_streams),
        cmocka_unit_test(chunker_cut_and_go_on),
        cmocka_unit_test(chunker_bad_params),
        cmocka_unit_test(chunker_real_speech),
        cmocka_unit_test(chunker_rms_db),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
