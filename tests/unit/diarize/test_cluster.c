/* test_cluster.c - the cluster method on a two-voice conversation generated at test time with
 * flite (voices slt and rms, different sentences, known times): frame error below a threshold
 * with the count given, the right count when it is estimated, silence gives no turns. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sdra/diarize.h"

#define RATE 16000
#define GAP_S 0.4

static const char *lines[][2] = {
    {"slt", "Hello, thanks for picking up. I am calling about the analytics platform you asked about last week."},
    {"rms", "Oh right, yes. We looked at the brochure, but honestly the budget is tight this quarter."},
    {"slt", "I understand. Many of our customers start with a small pilot and expand once they see results."},
    {"rms", "How long would a pilot take, and who on our side would need to be involved?"},
    {"slt", "Usually about four weeks, with one analyst and someone from your data team."},
    {"rms", "That sounds manageable. Send me the details and I will talk to my manager on Friday."},
};
#define N_LINES (sizeof lines / sizeof lines[0])

static int16_t *pcm;
static size_t n_pcm;
static double seg_a[N_LINES], seg_b[N_LINES];

/* Reads the samples of a 16 kHz mono 16-bit WAV written by flite (canonical 44-byte header). */
static int16_t *read_wav(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 44, SEEK_SET);
    *n = len > 44 ? (size_t)(len - 44) / 2 : 0;
    int16_t *x = malloc(*n * 2 + 2);
    if (x && fread(x, 2, *n, f) != *n) {
        free(x);
        x = NULL;
    }
    fclose(f);
    return x;
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("SDRA_TEST_TMP");
    char dir[512], path[600], cmd[1200];
    snprintf(dir, sizeof dir, "%s/diarize", tmp ? tmp : "/tmp");
    mkdir(tmp ? tmp : "/tmp", 0700);
    mkdir(dir, 0700);
    size_t cap = 80 * RATE;
    pcm = calloc(cap, 2);
    size_t pos = (size_t)(0.5 * RATE);
    for (size_t i = 0; i < N_LINES; i++) {
        snprintf(path, sizeof path, "%s/line%zu.wav", dir, i);
        snprintf(cmd, sizeof cmd, "flite -voice %s -t \"%s\" -o '%s'", lines[i][0], lines[i][1], path);
        if (system(cmd) != 0)
            return -1;
        size_t n;
        int16_t *x = read_wav(path, &n);
        if (!x || pos + n + (size_t)(GAP_S * RATE) > cap)
            return -1;
        /* trim flite's leading/trailing silence so the reference times are the speech */
        size_t a = 0, b = n;
        while (a < n && abs(x[a]) < 300)
            a++;
        while (b > a && abs(x[b - 1]) < 300)
            b--;
        memcpy(pcm + pos, x + a, (b - a) * 2);
        seg_a[i] = (double)pos / RATE;
        pos += b - a;
        seg_b[i] = (double)pos / RATE;
        pos += (size_t)(GAP_S * RATE);
        free(x);
    }
    n_pcm = pos + RATE / 2;
    uint32_t r = 99; /* a faint noise floor, like a real line */
    for (size_t i = 0; i < n_pcm; i++) {
        r = r * 1664525u + 1013904223u;
        pcm[i] = (int16_t)(pcm[i] + (int)((r >> 24) % 9) - 4);
    }
    /* keep the conversation beside the clips, for a person looking into a failure */
    snprintf(path, sizeof path, "%s/conversation.wav", dir);
    FILE *f = fopen(path, "wb");
    if (f) {
        uint32_t bytes = (uint32_t)(n_pcm * 2), rate = RATE, brate = RATE * 2, fmt_len = 16;
        uint32_t riff = 36 + bytes;
        uint16_t pcm_fmt = 1, ch = 1, align = 2, bits = 16;
        fwrite("RIFF", 1, 4, f);
        fwrite(&riff, 4, 1, f);
        fwrite("WAVEfmt ", 1, 8, f);
        fwrite(&fmt_len, 4, 1, f);
        fwrite(&pcm_fmt, 2, 1, f);
        fwrite(&ch, 2, 1, f);
        fwrite(&rate, 4, 1, f);
        fwrite(&brate, 4, 1, f);
        fwrite(&align, 2, 1, f);
        fwrite(&bits, 2, 1, f);
        fwrite("data", 1, 4, f);
        fwrite(&bytes, 4, 1, f);
        fwrite(pcm, 2, n_pcm, f);
        fclose(f);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(pcm);
    return 0;
}

/* Fraction of reference speech (outside 0.25 s of each boundary) not labelled with the speaker
 * the best mapping gives (2 reference speakers: slt = 0, rms = 1). */
static double frame_error(const sdra_turn *t, size_t nt, int n_hyp)
{
    double err_best = 1.0;
    for (int swap = 0; swap < 2; swap++) {
        double tot = 0, bad = 0;
        for (size_t i = 0; i < N_LINES; i++) {
            int ref = strcmp(lines[i][0], "slt") == 0 ? 0 : 1;
            int want = swap ? 1 - ref : ref;
            for (double x = seg_a[i] + 0.25; x < seg_b[i] - 0.25; x += 0.01) {
                int got = -1;
                for (size_t k = 0; k < nt; k++)
                    if (t[k].start <= x && x < t[k].end)
                        got = t[k].speaker;
                tot += 1;
                bad += got != want;
            }
        }
        if (bad / tot < err_best)
            err_best = bad / tot;
    }
    (void)n_hyp;
    return err_best;
}

static sdra_turn *run_on(const int16_t *x, size_t n, int n_speakers, size_t *nt, int *ns)
{
    sdra_diarizer *d = NULL;
    sdra_diarize_params p = sdra_diarize_default_params();
    p.method = SDRA_DIARIZE_CLUSTER;
    p.n_speakers = n_speakers;
    sdra_error err = {0};
    sdra_turn *turns = NULL;
    assert_int_equal(sdra_diarizer_create(&d, &p, 1, &err), 0);
    for (size_t i = 0; i < n; i += 3000) {
        const int16_t *b[1] = {x + i};
        assert_int_equal(sdra_diarizer_feed(d, b, n - i < 3000 ? n - i : 3000, &err), 0);
    }
    assert_int_equal(sdra_diarizer_finish(d, &turns, nt, ns, &err), 0);
    sdra_diarizer_destroy(d);
    return turns;
}

static sdra_turn *run(int n_speakers, size_t *nt, int *ns)
{
    return run_on(pcm, n_pcm, n_speakers, nt, ns);
}

static void cluster_two_voices_known_count(void **state)
{
    (void)state;
    size_t nt;
    int ns;
    sdra_turn *t = run(2, &nt, &ns);
    assert_int_equal(ns, 2);
    double e = frame_error(t, nt, ns);
    printf("# two voices, n_speakers=2: frame error %.3f, %zu turns\n", e, nt);
    assert_true(e < 0.10);
    free(t);
}

static void cluster_two_voices_estimated_count(void **state)
{
    (void)state;
    size_t nt;
    int ns;
    sdra_turn *t = run(0, &nt, &ns);
    double e = frame_error(t, nt, ns);
    printf("# two voices, n_speakers=0: %d speakers, frame error %.3f\n", ns, e);
    assert_int_equal(ns, 2);
    assert_true(e < 0.15);
    free(t);
}

/* One talker, count estimated: one speaker (a voicemail, a monologue, whisper-jfk), and the
 * other voice's short "okay" (under 3 s) is not a speaker of its own either. */
static void cluster_one_voice_estimated_is_one_speaker(void **state)
{
    (void)state;
    int16_t *one = calloc(n_pcm, 2);
    assert_non_null(one);
    size_t pos = RATE / 2;
    for (size_t i = 0; i < N_LINES; i += 2) {
        size_t a = (size_t)(seg_a[i] * RATE), b = (size_t)(seg_b[i] * RATE);
        memcpy(one + pos, pcm + a, (b - a) * 2);
        pos += b - a + (size_t)(GAP_S * RATE);
    }
    size_t n_one = pos;
    size_t nt;
    int ns;
    sdra_turn *t = run_on(one, n_one, 0, &nt, &ns);
    printf("# one voice, %.1f s, n_speakers=0: %d speakers, %zu turns\n", (double)n_one / RATE, ns, nt);
    assert_int_equal(ns, 1);
    free(t);
    free(one);
}

static void cluster_silence_gives_no_turns(void **state)
{
    (void)state;
    sdra_diarizer *d = NULL;
    sdra_diarize_params p = sdra_diarize_default_params();
    p.method = SDRA_DIARIZE_CLUSTER;
    sdra_error err = {0};
    assert_int_equal(sdra_diarizer_create(&d, &p, 2, &err), SDRA_EINVAL); /* mono only */
    assert_int_equal(sdra_diarizer_create(&d, &p, 1, &err), 0);
    int16_t *z = calloc(3 * RATE, 2);
    const int16_t *b[1] = {z};
    assert_int_equal(sdra_diarizer_feed(d, b, 3 * RATE, &err), 0);
    sdra_turn *t = NULL;
    size_t nt = 5;
    int ns = 5;
    assert_int_equal(sdra_diarizer_finish(d, &t, &nt, &ns, &err), 0);
    assert_int_equal(nt, 0);
    assert_int_equal(ns, 0);
    free(t);
    free(z);
    sdra_diarizer_destroy(d);
}

static void cluster_tiny_input_asks_for_many_speakers(void **state)
{
    (void)state;
    /* 0.8 s of one voice, 5 speakers asked for: fewer come back, no failure */
    sdra_diarizer *d = NULL;
    sdra_diarize_params p = sdra_diarize_default_params();
    p.method = SDRA_DIARIZE_CLUSTER;
    p.n_speakers = 5;
    sdra_error err = {0};
    assert_int_equal(sdra_diarizer_create(&d, &p, 1, &err), 0);
    size_t a = (size_t)(seg_a[0] * RATE);
    const int16_t *b[1] = {pcm + a};
    assert_int_equal(sdra_diarizer_feed(d, b, (size_t)(0.8 * RATE), &err), 0);
    sdra_turn *t = NULL;
    size_t nt = 0;
    int ns = 0;
    assert_int_equal(sdra_diarizer_finish(d, &t, &nt, &ns, &err), 0);
    assert_true(ns >= 1 && ns <= 5);
    for (size_t i = 0; i < nt; i++) {
        assert_true(t[i].speaker >= 0 && t[i].speaker < ns);
        assert_true(t[i].end > t[i].start);
    }
    free(t);
    sdra_diarizer_destroy(d);
    /* max_speakers = 1 makes everything one speaker */
    p.n_speakers = 0;
    p.max_speakers = 1;
    assert_int_equal(sdra_diarizer_create(&d, &p, 1, &err), 0);
    const int16_t *all[1] = {pcm};
    assert_int_equal(sdra_diarizer_feed(d, all, n_pcm, &err), 0);
    assert_int_equal(sdra_diarizer_finish(d, &t, &nt, &ns, &err), 0);
    assert_int_equal(ns, 1);
    free(t);
    sdra_diarizer_destroy(d);
}

/* A long call of short replies: 1100 bursts of 0.3 s with 0.35 s pauses, alternating two
 * synthetic voices (harmonic series, different pitch and brightness). More speech regions than
 * the clusterer keeps segments for: neighbours are joined; the result must still be sane. */
static void cluster_many_short_regions_stay_bounded(void **state)
{
    (void)state;
    const size_t bursts = 1100, on = (size_t)(0.3 * RATE), off = (size_t)(0.35 * RATE);
    size_t n = bursts * (on + off);
    int16_t *x = calloc(n, 2);
    assert_non_null(x);
    uint32_t r = 7;
    for (size_t k = 0; k < bursts; k++) {
        int v = (int)(k % 2);
        double f0 = v ? 210.0 : 115.0, tilt = v ? 0.6 : 0.9;
        for (size_t i = 0; i < on; i++) {
            double t = (double)i / RATE, s = 0, a = 1;
            for (int h = 1; h <= 20; h++, a *= tilt)
                s += a * sin(2 * M_PI * f0 * h * t);
            r = r * 1664525u + 1013904223u;
            x[k * (on + off) + i] = (int16_t)(2500 * s + (int)((r >> 24) % 41) - 20);
        }
    }
    sdra_diarizer *d = NULL;
    sdra_diarize_params p = sdra_diarize_default_params();
    p.method = SDRA_DIARIZE_CLUSTER;
    sdra_error err = {0};
    assert_int_equal(sdra_diarizer_create(&d, &p, 1, &err), 0);
    const int16_t *b[1] = {x};
    assert_int_equal(sdra_diarizer_feed(d, b, n, &err), 0);
    sdra_turn *t = NULL;
    size_t nt = 0;
    int ns = 0;
    assert_int_equal(sdra_diarizer_finish(d, &t, &nt, &ns, &err), 0);
    printf("# %zu bursts: %d speakers, %zu turns\n", bursts, ns, nt);
    assert_true(ns >= 1 && ns <= p.max_speakers);
    assert_true(nt >= bursts / 2);
    free(t);
    free(x);
    sdra_diarizer_destroy(d);
}

/* 65 s without a pause (two synthetic voices taking 5 s turns back to back): one speech region
 * longer than a Viterbi block; every second must still be covered by exactly one turn. */
static void cluster_one_long_region(void **state)
{
    (void)state;
    size_t n = 65 * RATE;
    int16_t *x = calloc(n, 2);
    assert_non_null(x);
    uint32_t r = 3;
    for (size_t i = 0; i < n; i++) {
        int v = (int)((i / (5 * RATE)) % 2);
        double f0 = v ? 205.0 : 110.0, tilt = v ? 0.55 : 0.9, t = (double)i / RATE, s = 0, a = 1;
        for (int h = 1; h <= 12; h++, a *= tilt)
            s += a * sin(2 * M_PI * f0 * h * t);
        r = r * 1664525u + 1013904223u;
        x[i] = (int16_t)(2500 * s * (0.7 + 0.3 * sin(2 * M_PI * 3 * t)) + (int)((r >> 24) % 41) - 20);
    }
    sdra_diarizer *d = NULL;
    sdra_diarize_params p = sdra_diarize_default_params();
    p.method = SDRA_DIARIZE_CLUSTER;
    p.n_speakers = 2;
    sdra_error err = {0};
    assert_int_equal(sdra_diarizer_create(&d, &p, 1, &err), 0);
    const int16_t *b[1] = {x};
    assert_int_equal(sdra_diarizer_feed(d, b, n, &err), 0);
    sdra_turn *t = NULL;
    size_t nt = 0;
    int ns = 0;
    assert_int_equal(sdra_diarizer_finish(d, &t, &nt, &ns, &err), 0);
    double covered = 0;
    for (size_t i = 0; i < nt; i++) {
        covered += t[i].end - t[i].start;
        if (i)
            assert_true(t[i].start >= t[i - 1].end - 1e-9); /* mono: no overlap */
    }
    printf("# one 65 s region: %d speakers, %zu turns, %.1f s covered\n", ns, nt, covered);
    assert_true(covered > 60.0);
    assert_true(ns >= 1 && ns <= 2);
    free(t);
    free(x);
    sdra_diarizer_destroy(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cluster_two_voices_known_count),
        cmocka_unit_test(cluster_two_voices_estimated_count),
        cmocka_unit_test(cluster_silence_gives_no_turns),
        cmocka_unit_test(cluster_tiny_input_asks_for_many_speakers),
        cmocka_unit_test(cluster_one_voice_estimated_is_one_speaker),
        cmocka_unit_test(cluster_many_short_regions_stay_bounded),
        cmocka_unit_test(cluster_one_long_region),
    };
    return cmocka_run_group_tests_name("diarize_cluster", tests, setup, teardown);
}
