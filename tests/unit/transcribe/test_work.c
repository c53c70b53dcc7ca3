/*
 * test_work.c - the decoding queue deals each chunk to a fixed worker, in turn among the
 * workers that take its slot, however long each decode and each push takes: a recognizer
 * carries state from chunk to chunk that moves word confidences, so which worker decodes a
 * chunk must not depend on timing (src/transcribe/work.c). Before, the first idle worker took
 * the next chunk, and two runs of one recording with --jobs 2 gave different confidences.
 * Also: with more workers than chunks, the workers dealt none stay idle and the queue finishes.
 * ctest-labels: threads
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "transcribe/internal.h"

#define CHUNK_FRAMES 4800 /* 0.3 s at 16 kHz */

/* A chunk of quiet noise (the recognizer decodes it quickly and finds no words). */
static sdra_chunk quiet_chunk(int index, unsigned *seed)
{
    sdra_chunk c = {
        .start_frame = (int64_t)index * CHUNK_FRAMES, .n_frames = CHUNK_FRAMES, .index = index};
    c.pcm = malloc(CHUNK_FRAMES * sizeof *c.pcm);
    assert_non_null(c.pcm);
    for (size_t i = 0; i < CHUNK_FRAMES; i++)
        c.pcm[i] = (int16_t)(rand_r(seed) % 41 - 20);
    return c;
}

/* A pause of 0-40 ms between pushes, different on every run, so that the workers finish their
 * chunks in varying order. (Each recognizer takes about 0.5 s to load, several under TSan, so
 * the test loads as few as show the dealing: 3 + 3 + 2.) */
static void jitter(unsigned *seed)
{
    struct timespec ts = {0, (long)(rand_r(seed) % 40) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Runs jobs workers over n chunks per stream (n_streams 1 or 2; two streams on two slots) and
 * checks each chunk's worker. */
static void run_queue(int jobs, int n_streams, int n, const unsigned seed0)
{
    unsigned seed = seed0;
    sdra_asr_params asrp[2] = {sdra_asr_default_params(), sdra_asr_default_params()};
    sdra_transcribe_work w = {0};
    sdra_error err = {0};
    assert_int_equal(sdra_transcribe_work_init(&w, jobs, asrp, n_streams, 0, NULL, &err), 0);
    assert_int_equal(sdra_transcribe_work_start(&w, &err), 0);
    for (int k = 0; k < n; k++)
        for (int s = 0; s < n_streams; s++) {
            sdra_chunk c = quiet_chunk(k, &seed);
            assert_int_equal(sdra_transcribe_work_push(&w, s, &c, &err), 0);
            jitter(&seed);
        }
    assert_int_equal(sdra_transcribe_work_finish(&w, 0, &err), 0);
    for (int s = 0; s < n_streams; s++) {
        assert_int_equal(w.n_res[s], (size_t)n);
        for (int k = 0; k < n; k++) {
            /* one slot: every worker in turn; two slots with two workers or more: worker i
               takes slot i % 2, so stream s's chunks go to s, s + 2, s + 4, ... in turn */
            int want = n_streams == 1 ? k % jobs : s + 2 * (k % ((jobs - s + 1) / 2));
            if (w.res[s][k].worker != want)
                fail_msg("jobs %d, stream %d, chunk %d: worker %d, want %d (seed %u)", jobs, s, k,
                         w.res[s][k].worker, want, seed0);
        }
    }
    sdra_transcribe_work_release(&w);
}

static void chunks_are_dealt_in_turn(void **state)
{
    (void)state;
    unsigned seed = (unsigned)time(NULL);
    run_queue(3, 1, 9, seed);
}

static void two_slots_are_dealt_to_their_workers(void **state)
{
    (void)state;
    unsigned seed = (unsigned)time(NULL) + 7;
    run_queue(3, 2, 5, seed); /* slot 0: workers 0 and 2; slot 1: worker 1 */
}

static void workers_dealt_nothing_stay_idle(void **state)
{
    (void)state;
    unsigned seed = 1;
    run_queue(4, 1, 2, seed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chunks_are_dealt_in_turn),
        cmocka_unit_test(two_slots_are_dealt_to_their_workers),
        cmocka_unit_test(workers_dealt_nothing_stay_idle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
