/*
 * test_assemble.c - words + diarization turns -> utterances: stereo bleed words are dropped
 * and overlaps kept; mono words go to the speaker whose turn covers them; utterances split
 * at pauses and when the other party spoke in between; mono words far from every turn (where the
 * diarizer heard no speech) are dropped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "transcribe/internal.h"

static sdra_asr_word W(const char *w, double s, double e)
{
    return (sdra_asr_word){.w = (char *)w, .start_s = s, .end_s = e, .conf = 0.9f};
}

static void transcribe_assemble_stereo_bleed(void **state)
{
    /* channel 0: the rep, 0-2 s and 5-6 s; channel 1 hears the rep's bleed at 0-2 s and
     * speaks itself at 2.5-4 s and (overlapping) at 5.2-5.6 s. */
    sdra_asr_word w0[] = {W("hello", 0.1, 0.5), W("there", 0.6, 1.0), W("ok", 5.0, 5.4),
                          W("good", 5.5, 5.9)};
    sdra_asr_word w1[] = {W("yellow", 0.1, 0.5), W("hair", 0.6, 1.0), W("hi", 2.6, 2.9),
                          W("yes", 3.0, 3.5), W("right", 5.2, 5.6)};
    sdra_asr_utt u0[] = {{0.1, 1.0, w0, 2}, {5.0, 5.9, w0 + 2, 2}};
    sdra_asr_utt u1[] = {{0.1, 1.0, w1, 2}, {2.6, 3.5, w1 + 2, 2}, {5.2, 5.6, w1 + 4, 1}};
    sdra_assemble_chunk c0 = {u0, 2, 0}, c1 = {u1, 3, 0};
    sdra_turn turns[] = {{0.0, 1.1, 0}, {2.5, 3.6, 1}, {4.9, 6.0, 0}, {5.1, 5.7, 1}};
    sdra_assemble_input in = {.stereo = true, .n_streams = 2, .chunks = {&c0, &c1},
                              .n_chunks = {1, 1}, .turns = turns, .n_turns = 4,
                              .n_speakers = 2, .pause_split_s = 1.0};
    sdra_transcript *t = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_transcribe_assemble(&t, &in, &err), 0);
    assert_int_equal(t->n_speakers, 2);
    assert_int_equal(t->speakers[0].channel, 0);
    assert_int_equal(t->speakers[1].channel, 1);
    assert_int_equal(t->n_utts, 4);
    assert_string_equal(t->utts[0].text, "hello there");
    assert_int_equal(t->utts[0].speaker, 0);
    assert_string_equal(t->utts[1].text, "hi yes"); /* bleed "yellow hair" dropped */
    assert_int_equal(t->utts[1].speaker, 1);
    assert_string_equal(t->utts[2].text, "ok good"); /* overlap: both kept */
    assert_string_equal(t->utts[3].text, "right");
    assert_true(t->utts[1].start == 2.6);
    sdra_transcript_destroy(t);
}

static void transcribe_assemble_mono_speakers(void **state)
{
    sdra_asr_word w[] = {W("so", 0.0, 0.3), W("tell", 0.4, 0.7), W("me", 0.8, 1.0),
                         W("sure", 1.4, 1.8), W("well", 1.9, 2.2), W("and", 2.5, 2.8),
                         W("then", 4.5, 4.8)};
    sdra_asr_utt u[] = {{0.0, 2.8, w, 6}, {4.5, 4.8, w + 6, 1}};
    sdra_assemble_chunk c = {u, 2, 0};
    sdra_turn turns[] = {{0.0, 1.1, 0}, {1.3, 2.3, 1}, {2.4, 5.0, 0}};
    sdra_assemble_input in = {.stereo = false, .n_streams = 1, .chunks = {&c},
                              .n_chunks = {1}, .turns = turns, .n_turns = 3,
                              .n_speakers = 2, .pause_split_s = 1.0};
    sdra_transcript *t = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_transcribe_assemble(&t, &in, &err), 0);
    assert_int_equal(t->speakers[0].channel, -1);
    assert_int_equal(t->n_utts, 4);
    assert_string_equal(t->utts[0].text, "so tell me");
    assert_int_equal(t->utts[0].speaker, 0);
    assert_string_equal(t->utts[1].text, "sure well");
    assert_int_equal(t->utts[1].speaker, 1);
    assert_string_equal(t->utts[2].text, "and"); /* speaker change split it from "so tell me" */
    assert_int_equal(t->utts[2].speaker, 0);
    assert_string_equal(t->utts[3].text, "then"); /* a 1.7 s pause splits */
    assert_int_equal(t->utts[3].n_words, 1);
    assert_true(t->utts[3].words[0].start == 4.5);
    sdra_transcript_destroy(t);
}

static void transcribe_assemble_mono_unheard(void **state)
{
    /* Noise before anyone speaks: the diarizer kept a 0.3 s blip at 2.4 s, the recognizer read
     * "he" on it and "one" a second later, where the diarizer heard nothing; then the call. A
     * word just past a turn's edge (0.3 s out) is kept. */
    sdra_asr_word w[] = {W("he", 2.36, 2.66), W("one", 3.65, 4.2), W("so", 6.7, 7.0),
                         W("hello", 7.1, 7.6), W("there", 8.2, 8.5)};
    sdra_asr_utt u[] = {{2.36, 4.2, w, 2}, {6.7, 8.5, w + 2, 3}};
    sdra_assemble_chunk c = {u, 2, 0};
    sdra_turn turns[] = {{2.38, 2.68, 0}, {6.75, 7.9, 1}};
    sdra_assemble_input in = {.stereo = false, .n_streams = 1, .chunks = {&c},
                              .n_chunks = {1}, .turns = turns, .n_turns = 2,
                              .n_speakers = 2, .pause_split_s = 1.0};
    sdra_transcript *t = NULL;
    assert_int_equal(sdra_transcribe_assemble(&t, &in, NULL), 0);
    assert_int_equal(t->n_utts, 2);
    assert_string_equal(t->utts[0].text, "he");
    assert_true(t->utts[0].end == 2.66);
    assert_string_equal(t->utts[1].text, "so hello there");
    sdra_transcript_destroy(t);

    /* A Whisper server's words (keep_unheard): kept, their times may be spread estimates. */
    in.keep_unheard = true;
    assert_int_equal(sdra_transcribe_assemble(&t, &in, NULL), 0);
    assert_int_equal(t->n_utts, 2);
    assert_string_equal(t->utts[0].text, "he one");
    sdra_transcript_destroy(t);
    in.keep_unheard = false;

    /* No turns at all (diarization off): every word is kept. */
    in.n_turns = 0;
    in.n_speakers = 1;
    assert_int_equal(sdra_transcribe_assemble(&t, &in, NULL), 0);
    assert_int_equal(t->n_utts, 2);
    assert_string_equal(t->utts[0].text, "he one");
    sdra_transcript_destroy(t);
}

static void transcribe_assemble_no_words(void **state)
{
    sdra_assemble_input in = {.stereo = false, .n_streams = 1, .n_speakers = 2,
                              .pause_split_s = 1.0};
    sdra_transcript *t = NULL;
    assert_int_equal(sdra_transcribe_assemble(&t, &in, NULL), 0);
    assert_int_equal(t->n_utts, 0);
    assert_int_equal(t->n_speakers, 2);
    sdra_transcript_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(transcribe_assemble_stereo_bleed),
        cmocka_unit_test(transcribe_assemble_mono_speakers),
        cmocka_unit_test(transcribe_assemble_mono_unheard),
        cmocka_unit_test(transcribe_assemble_no_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
