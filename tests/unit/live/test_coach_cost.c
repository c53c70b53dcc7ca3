/* test_coach_cost.c - one coach update costs the same late in a long call as early in a short
 * one: a 2-minute and a 60-minute synthetic call (the labelled dialogues of tests/analysis
 * repeated, 150 words a minute) are fed utterance by utterance. The test checks the work,
 * which is deterministic: every utterance is judged, and the analysis is handed at most 5
 * utterances per new one (the window: the new utterance and 4 before it), in the long call as
 * in the short one; analysing the whole transcript at every update would hand it n^2/2.
 * bench/coach.sh runs this program with COACH_BENCH=1, which also prints the time: the median
 * CPU time of an update in the last 2 minutes of the long call against the short call's (a
 * timing is a benchmark's figure, never a test's pass mark). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sdra/analyze.h"
#include "sdra/live.h"
#include "sdra/util.h"

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A two-speaker call of minutes length made of the dialogues in tests/analysis (speaker S1 the
 * rep: the first speaker of each dialogue), each utterance timed by its words. */
static sdra_transcript *synthetic(double minutes)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/../tests/analysis", sdra_share_dir());
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *names[64];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64)
        if (strstr(e->d_name, ".txt") && strcmp(e->d_name, "labels.txt"))
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, cmp_name);
    sdra_transcript *t = sdra_transcript_create();
    sdra_transcript_add_speaker(t, "S1", SDRA_ROLE_REP, 1);
    sdra_transcript_add_speaker(t, "S2", SDRA_ROLE_PROSPECT, 0);
    double now = 0, end = minutes * 60;
    for (size_t k = 0; now < end; k = (k + 1) % n) {
        char path[4096 + 256];
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        sdra_transcript *one = NULL;
        sdra_error err = {0};
        if (sdra_transcript_load(&one, path, NULL, &err) < 0)
            fail_msg("%s: %s", path, err.msg);
        int first = one->n_utts ? one->utts[0].speaker : 0;
        for (size_t i = 0; i < one->n_utts && now < end; i++) {
            const sdra_utterance *u = &one->utts[i];
            double len = u->n_words ? u->n_words * 0.4 : 1;
            sdra_utterance *v = sdra_transcript_add_utterance(t, u->speaker == first ? 0 : 1, now, now + len, u->text);
            assert_non_null(v);
            for (size_t w = 0; w < u->n_words; w++)
                sdra_utterance_add_word(v, u->words[w].w, now + w * 0.4, now + w * 0.4 + 0.35, 0.9f);
            now += len + 0.5;
        }
        sdra_transcript_destroy(one);
    }
    for (size_t k = 0; k < n; k++)
        free(names[k]);
    t->duration_s = now;
    return t;
}

/* Feeds full into a coach utterance by utterance; returns the median CPU seconds of the updates
 * for utterances starting at or after from_s, and the utterance count in *n_out. */
static double replay_cost(const sdra_transcript *full, double from_s, size_t *n_out, size_t *analysed)
{
    sdra_coach *c = NULL;
    sdra_error err = {0};
    sdra_analyze_params ap = sdra_analyze_default_params();
    ap.call_date = "2026-11-24";
    sdra_coach_params p = sdra_coach_default_params();
    p.analyze = &ap;
    assert_int_equal(sdra_coach_create(&c, &p, &err), 0);
    sdra_transcript *t = sdra_transcript_create();
    sdra_transcript_add_speaker(t, "S1", SDRA_ROLE_REP, 1);
    sdra_transcript_add_speaker(t, "S2", SDRA_ROLE_PROSPECT, 0);
    double *cost = calloc(full->n_utts, sizeof *cost);
    size_t nc = 0;
    for (size_t i = 0; i < full->n_utts; i++) {
        const sdra_utterance *u = &full->utts[i];
        sdra_utterance *v = sdra_transcript_add_utterance(t, u->speaker, u->start, u->end, u->text);
        for (size_t w = 0; w < u->n_words; w++)
            sdra_utterance_add_word(v, u->words[w].w, u->words[w].start, u->words[w].end, u->words[w].conf);
        double t0 = cpu_s();
        if (sdra_coach_update(c, t, NULL, NULL, &err) < 0 || sdra_coach_tick(c, t, u->end, NULL, NULL, &err) < 0)
            fail_msg("update: %s", err.msg);
        double dt = cpu_s() - t0;
        if (u->start >= from_s)
            cost[nc++] = dt;
    }
    qsort(cost, nc, sizeof *cost, cmp_dbl);
    double med = nc ? cost[nc / 2] : 0;
    free(cost);
    *n_out = full->n_utts;
    *analysed = sdra_coach_analysed(c);
    sdra_coach_destroy(c);
    sdra_transcript_destroy(t);
    return med;
}

static void coach_cost_does_not_grow(void **state)
{
    (void)state;
    sdra_transcript *s2 = synthetic(2), *s60 = synthetic(60);
    size_t n2, n60, a2, a60;
    double c2 = replay_cost(s2, 0, &n2, &a2);
    double c60 = replay_cost(s60, 58 * 60, &n60, &a60);
    double c2b = replay_cost(s2, 0, &n2, &a2); /* again, after the long one: the machine's drift */
    /* the work: every utterance judged, at most 5 analysed per utterance, short or long */
    assert_true(n60 > 20 * n2 / 2);
    assert_true(a2 >= n2 && a2 <= 5 * n2);
    if (a60 < n60 || a60 > 5 * n60)
        fail_msg("coach: %zu utterances analysed for a %zu-utterance call (whole-call analysis: about %zu)", a60,
                 n60, n60 * n60 / 2);
    double base = c2 < c2b ? c2 : c2b;
    double ratio = base > 0 ? c60 / base : 0;
    if (getenv("COACH_BENCH")) {
        /* what one update would cost late in the call if it analysed the whole transcript */
        sdra_analyze_params ap = sdra_analyze_default_params();
        ap.call_date = "2026-11-24";
        json_t *doc = NULL;
        sdra_error err = {0};
        double t0 = cpu_s();
        assert_int_equal(sdra_analyze(&doc, s60, &ap, &err), 0);
        double whole = cpu_s() - t0;
        json_decref(doc);
        printf("coach: per-update CPU, median: 2-minute call (%zu utterances) %.3f ms; last 2 minutes of a "
               "60-minute call (%zu utterances) %.3f ms; ratio %.2f; analysing the whole 60-minute "
               "transcript instead: %.1f ms per update\n",
               n2, base * 1000, n60, c60 * 1000, ratio, whole * 1000);
    }
    sdra_transcript_destroy(s2);
    sdra_transcript_destroy(s60);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(coach_cost_does_not_grow)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
