/*
 * src/transcribe/assemble.c - from recognized words and diarization turns to utterances.
 *
 * Stereo: a word of channel c is kept only when the diarizer saw channel c active around it
 * (otherwise it is the other party's voice leaking into c's microphone: bleed). Both channels
 * may be active at once; overlapping speech is kept. Mono: each word goes to the speaker whose
 * turn overlaps it most (or the nearest turn); a word more than UNHEARD_TOLERANCE_S from every
 * turn lies where the diarizer heard no speech, and is dropped unless keep_unheard (a
 * recognizer adapted to the call reads words into a click or a breath in the silence:
 * pyannote-sample's "he one" before anyone speaks; docs/diarization.md). Then each speaker's
 * words are grouped into utterances; a new utterance starts after a pause longer than
 * pause_split_s or when someone else spoke in between. Pure function of its input: easy to
 * test.
 */
#include "transcribe/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLEED_TOLERANCE_S 0.15
/* A mono word this far (s) from every turn is not speech the diarizer heard. The diarizer's
 * turns end where its energy detector stops (10 ms frames, runs under 0.25 s dropped), so a
 * word at a turn's edge may stick out of it; half a second covers a short word wholly outside. */
#define UNHEARD_TOLERANCE_S 0.5

typedef struct aword {
    const sdra_asr_word *w;
    int speaker;
} aword;

static double overlap(double a0, double a1, double b0, double b1)
{
    double o = fmin(a1, b1) - fmax(a0, b0);
    return o > 0 ? o : 0;
}

/* True when [s, e) comes within tol of a turn of speaker (any speaker when speaker < 0). */
static bool turn_near(const sdra_assemble_input *in, int speaker, double s, double e, double tol)
{
    for (size_t i = 0; i < in->n_turns; i++) {
        const sdra_turn *t = &in->turns[i];
        if ((speaker < 0 || t->speaker == speaker) && overlap(s, e, t->start - tol, t->end + tol) > 0)
            return true;
    }
    return false;
}

static int mono_speaker(const sdra_assemble_input *in, double s, double e)
{
    int best = -1;
    double best_o = 0, best_d = INFINITY;
    int near = 0;
    double mid = (s + e) / 2;
    for (size_t i = 0; i < in->n_turns; i++) {
        const sdra_turn *t = &in->turns[i];
        double o = overlap(s, e, t->start, t->end);
        if (o > best_o) {
            best_o = o;
            best = t->speaker;
        }
        double d = mid < t->start ? t->start - mid : mid > t->end ? mid - t->end : 0;
        if (d < best_d) {
            best_d = d;
            near = t->speaker;
        }
    }
    int sp = best >= 0 ? best : near;
    return sp >= 0 && sp < in->n_speakers ? sp : 0;
}

static int cmp_start(const void *a, const void *b)
{
    const aword *x = a, *y = b;
    if (x->w->start_s != y->w->start_s)
        return x->w->start_s < y->w->start_s ? -1 : 1;
    return x->speaker - y->speaker;
}

/* True when a word of another speaker starts within (from, to) in the start-sorted array. */
static bool other_spoke(const aword *all, size_t n, int speaker, double from, double to)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (all[mid].w->start_s < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < n && all[i].w->start_s < to; i++)
        if (all[i].speaker != speaker)
            return true;
    return false;
}

int sdra_transcribe_assemble(sdra_transcript **out, const sdra_assemble_input *in,
                             sdra_error *err)
{
    int rc = 0;
    aword *all = NULL;
    size_t n = 0, cap = 0;
    sdra_transcript *t = sdra_transcript_create();
    if (!t)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    for (int sp = 0; sp < in->n_speakers; sp++) {
        char id[16];
        snprintf(id, sizeof id, "S%d", sp + 1);
        if (sdra_transcript_add_speaker(t, id, SDRA_ROLE_UNKNOWN, in->stereo ? sp : -1) < 0) {
            rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
            goto done;
        }
    }
    for (int s = 0; s < in->n_streams; s++)
        for (size_t c = 0; c < in->n_chunks[s]; c++)
            for (size_t u = 0; u < in->chunks[s][c].n_utts; u++) {
                const sdra_asr_utt *ut = &in->chunks[s][c].utts[u];
                for (size_t i = 0; i < ut->n_words; i++) {
                    const sdra_asr_word *w = &ut->words[i];
                    int sp;
                    if (in->stereo) {
                        if (in->n_turns && !turn_near(in, s, w->start_s, w->end_s, BLEED_TOLERANCE_S))
                            continue; /* bleed */
                        sp = s;
                    } else {
                        if (in->n_turns && !in->keep_unheard &&
                            !turn_near(in, -1, w->start_s, w->end_s, UNHEARD_TOLERANCE_S))
                            continue; /* no speech heard there */
                        sp = mono_speaker(in, w->start_s, w->end_s);
                    }
                    if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 256;
                        aword *na = realloc(all, ncap * sizeof *na);
                        if (!na) {
                            rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
                            goto done;
                        }
                        all = na;
                        cap = ncap;
                    }
                    all[n++] = (aword){.w = w, .speaker = sp};
                }
            }
    if (n > 1)
        qsort(all, n, sizeof *all, cmp_start);
    for (int sp = 0; sp < in->n_speakers; sp++) {
        sdra_utterance *cur = NULL;
        double prev_end = 0;
        for (size_t i = 0; i < n; i++) {
            if (all[i].speaker != sp)
                continue;
            const sdra_asr_word *w = all[i].w;
            if (cur && (w->start_s - prev_end > in->pause_split_s ||
                        other_spoke(all, n, sp, prev_end, w->start_s))) {
                if (sdra_utterance_join_words(cur) < 0)
                    goto nomem;
                cur = NULL;
            }
            if (!cur && !(cur = sdra_transcript_add_utterance(t, sp, w->start_s, w->end_s, NULL)))
                goto nomem;
            if (sdra_utterance_add_word(cur, w->w, w->start_s, w->end_s, w->conf) < 0)
                goto nomem;
            cur->end = w->end_s;
            prev_end = w->end_s;
        }
        if (cur && sdra_utterance_join_words(cur) < 0)
            goto nomem;
    }
    sdra_transcript_sort(t);
    goto done;
nomem:
    rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
done:
    free(all);
    if (rc < 0) {
        sdra_transcript_destroy(t);
        return rc;
    }
    *out = t;
    return 0;
}
