/* test_channel.c - the channel method on synthetic stereo: bleed is not a turn, overlap is
 * kept, feeding in odd block sizes changes nothing, bad use fails cleanly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sdra/diarize.h"

#define RATE 16000

static uint32_t rng = 12345;
static double noise(void)
{
    rng = rng * 1664525u + 1013904223u;
    return ((rng >> 8) / (double)(1 << 24)) * 2.0 - 1.0;
}

/* "Speech": noise with a 4 Hz syllable envelope at about -20 dBFS between a and b seconds. */
static void add_talk(int16_t *x, size_t n, double a, double b, double gain)
{
    for (size_t i = (size_t)(a * RATE); i < (size_t)(b * RATE) && i < n; i++) {
        double t = (double)i / RATE;
        double env = 0.55 + 0.45 * sin(2 * M_PI * 4 * t);
        double v = x[i] + 8000.0 * gain * env * noise();
        x[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
    }
}

static void add_floor(int16_t *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (int16_t)(x[i] + 10 * noise()); /* about -70 dBFS */
}

static sdra_turn *run(int16_t **ch, size_t n, size_t block, size_t *nt, int *ns)
{
    sdra_diarizer *d = NULL;
    sdra_diarize_params p = sdra_diarize_default_params();
    sdra_error err = {0};
    sdra_turn *turns = NULL;
    assert_int_equal(sdra_diarizer_create(&d, &p, 2, &err), 0);
    for (size_t i = 0; i < n; i += block) {
        const int16_t *b[2] = {ch[0] + i, ch[1] + i};
        assert_int_equal(sdra_diarizer_feed(d, b, n - i < block ? n - i : block, &err), 0);
    }
    assert_int_equal(sdra_diarizer_finish(d, &turns, nt, ns, &err), 0);
    sdra_diarizer_destroy(d);
    return turns;
}

/* Seconds of speaker s's turns inside [a, b). */
static double covered(const sdra_turn *t, size_t n, int s, double a, double b)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i].speaker != s)
            continue;
        double lo = t[i].start > a ? t[i].start : a, hi = t[i].end < b ? t[i].end : b;
        if (hi > lo)
            sum += hi - lo;
    }
    return sum;
}

static void channel_bleed_is_not_a_turn(void **state)
{
    (void)state;
    size_t n = 10 * RATE;
    int16_t *a = calloc(n, 2), *b = calloc(n, 2);
    add_talk(a, n, 0.5, 2.5, 1.0);
    add_talk(a, n, 5.0, 7.0, 1.0);
    add_talk(b, n, 3.0, 4.5, 1.0);
    for (size_t i = 0; i < n; i++) /* B carries A at -25 dB */
        b[i] = (int16_t)(b[i] + a[i] * 0.0562);
    add_floor(a, n);
    add_floor(b, n);
    int16_t *ch[2] = {a, b};
    size_t nt;
    int ns;
    sdra_turn *t = run(ch, n, 4096, &nt, &ns);
    assert_int_equal(ns, 2);
    assert_true(covered(t, nt, 0, 0.5, 2.5) > 1.8);
    assert_true(covered(t, nt, 0, 5.0, 7.0) > 1.8);
    assert_true(covered(t, nt, 1, 3.0, 4.5) > 1.3);
    /* no B turn where only A's bleed is on B, and no A turn where B talks */
    assert_true(covered(t, nt, 1, 0.0, 2.9) < 0.05);
    assert_true(covered(t, nt, 1, 4.7, 10.0) < 0.05);
    assert_true(covered(t, nt, 0, 2.7, 4.8) < 0.05);
    for (size_t i = 1; i < nt; i++)
        assert_true(t[i - 1].start <= t[i].start);
    free(t);
    free(a);
    free(b);
}

static void channel_delayed_bleed_is_not_a_turn(void **state)
{
    (void)state;
    /* an echo path: B carries A at -20 dB, 15 ms late; B says nothing */
    size_t n = 6 * RATE, lag = (size_t)(0.015 * RATE);
    int16_t *a = calloc(n, 2), *b = calloc(n, 2);
    add_talk(a, n, 0.5, 2.0, 1.0);
    add_talk(a, n, 2.6, 4.5, 1.0);
    for (size_t i = lag; i < n; i++)
        b[i] = (int16_t)(a[i - lag] / 10);
    add_floor(a, n);
    add_floor(b, n);
    int16_t *ch[2] = {a, b};
    size_t nt;
    int ns;
    sdra_turn *t = run(ch, n, 3333, &nt, &ns);
    assert_true(covered(t, nt, 0, 0.5, 4.5) > 3.2);
    assert_true(covered(t, nt, 1, 0.0, 6.0) < 0.05);
    free(t);
    free(a);
    free(b);
}

static void channel_overlap_is_kept(void **state)
{
    (void)state;
    size_t n = 6 * RATE;
    int16_t *a = calloc(n, 2), *b = calloc(n, 2);
    add_talk(a, n, 1.0, 4.0, 1.0);
    add_talk(b, n, 3.0, 5.0, 0.7); /* the other party talks over, a bit quieter */
    add_floor(a, n);
    add_floor(b, n);
    int16_t *ch[2] = {a, b};
    size_t nt;
    int ns;
    sdra_turn *t = run(ch, n, 1000, &nt, &ns);
    assert_true(covered(t, nt, 0, 3.0, 4.0) > 0.9);
    assert_true(covered(t, nt, 1, 3.0, 4.0) > 0.9);
    assert_true(covered(t, nt, 1, 4.0, 5.0) > 0.9);
    free(t);
    free(a);
    free(b);
}

static void channel_block_size_does_not_matter(void **state)
{
    (void)state;
    size_t n = 5 * RATE;
    int16_t *a = calloc(n, 2), *b = calloc(n, 2);
    add_talk(a, n, 0.3, 1.7, 1.0);
    add_talk(b, n, 2.2, 4.1, 1.0);
    add_floor(a, n);
    add_floor(b, n);
    int16_t *ch[2] = {a, b};
    size_t n1, n2;
    int s1, s2;
    sdra_turn *t1 = run(ch, n, n, &n1, &s1);
    sdra_turn *t2 = run(ch, n, 77, &n2, &s2);
    assert_int_equal(n1, n2);
    assert_true(n1 >= 2);
    for (size_t i = 0; i < n1; i++) {
        assert_int_equal(t1[i].speaker, t2[i].speaker);
        assert_true(fabs(t1[i].start - t2[i].start) < 1e-9);
        assert_true(fabs(t1[i].end - t2[i].end) < 1e-9);
    }
    free(t1);
    free(t2);
    free(a);
    free(b);
}

static void channel_bad_use_fails_cleanly(void **state)
{
    (void)state;
    sdra_diarizer *d = NULL;
    sdra_diarize_params p = sdra_diarize_default_params();
    sdra_error err = {0};
    assert_int_equal(sdra_diarizer_create(&d, &p, 1, &err), SDRA_EINVAL);
    assert_null(d);
    assert_non_null(strstr(err.msg, "channel"));
    p.rate_hz = 100;
    assert_int_equal(sdra_diarizer_create(&d, &p, 2, &err), SDRA_EINVAL);
    p = sdra_diarize_default_params();
    p.bleed_db = -3;
    assert_int_equal(sdra_diarizer_create(&d, &p, 2, &err), SDRA_EINVAL);
    p = sdra_diarize_default_params();
    assert_int_equal(sdra_diarizer_create(&d, &p, 2, &err), 0);
    const int16_t *missing[2] = {NULL, NULL};
    assert_int_equal(sdra_diarizer_feed(d, missing, 10, &err), SDRA_EINVAL);
    sdra_turn *t = NULL;
    size_t nt = 1;
    int ns = 0;
    assert_int_equal(sdra_diarizer_finish(d, &t, &nt, &ns, &err), 0); /* no audio: no turns */
    assert_int_equal(nt, 0);
    assert_int_equal(sdra_diarizer_finish(d, &t, &nt, &ns, &err), SDRA_EINVAL);
    int16_t z[10] = {0};
    const int16_t *ok[2] = {z, z};
    assert_int_equal(sdra_diarizer_feed(d, ok, 10, &err), SDRA_EINVAL);
    sdra_diarizer_destroy(d);
    sdra_diarizer_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(channel_bleed_is_not_a_turn),
        cmocka_unit_test(channel_delayed_bleed_is_not_a_turn),
        cmocka_unit_test(channel_overlap_is_kept),
        cmocka_unit_test(channel_block_size_does_not_matter),
        cmocka_unit_test(channel_bad_use_fails_cleanly),
    };
    return cmocka_run_group_tests_name("diarize_channel", tests, NULL, NULL);
}
