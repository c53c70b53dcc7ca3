/*
 * channel.c - the channel method: stereo (or multi-channel) call recordings carry one party per
 * channel. Per channel and 10 ms frame we have the energy in dBFS. A frame of channel c is
 * speech when it is
 *   - above c's adaptive noise floor by SPEECH_MARGIN_DB (the floor follows drops at once and
 *     rises slowly, computed forwards and backwards so the start is not biased), and above an
 *     absolute minimum level, and
 *   - not bleed: at most params.bleed_db below the loudest other channel within +-20 ms.
 *     Crosstalk and echo put a much quieter, time-aligned copy of the talker on the other
 *     channel; a frame that quiet relative to the other side is that copy, not a second talker.
 * Both channels may be speech in the same frame: that is overlap and is kept. Each channel's
 * decisions are smoothed (gaps under MAX_GAP filled, runs under MIN_RUN dropped) and its runs
 * become turns with speaker = channel index.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define SPEECH_MARGIN_DB 10.0f /* above the noise floor */
#define ABS_MIN_DB -60.0f      /* never speech below this level */
#define FLOOR_RISE_DB 0.005f   /* per frame: 0.5 dB/s */
#define MAX_GAP 30             /* frames (0.3 s): pauses inside a turn */
#define MIN_RUN 20             /* frames (0.2 s): shorter blips are clicks or breaths */
#define BLEED_SLACK 2          /* frames: bleed may lag its source by up to 20 ms (echo paths) */

/* Noise floor of channel c: min of a forward and a backward tracker. */
static void noise_floor(const sdra_feat *e, size_t n, int stride, int c, float *floor_out)
{
    float f = e[c];
    for (size_t t = 0; t < n; t++) {
        float v = e[t * stride + c];
        f = v < f ? v : f + FLOOR_RISE_DB;
        floor_out[t] = f;
    }
    f = e[(n - 1) * stride + c];
    for (size_t t = n; t-- > 0;) {
        float v = e[t * stride + c];
        f = v < f ? v : f + FLOOR_RISE_DB;
        if (f < floor_out[t])
            floor_out[t] = f;
    }
}

int sdra_diarize_channel_finish(sdra_diarizer *d, sdra_turn **turns, size_t *n_turns,
                                int *n_speakers, sdra_error *err)
{
    int rc = SDRA_OK;
    size_t n = d->n_frames;
    int nc = d->n_ch;
    float *fl = NULL;
    unsigned char *act = NULL;
    sdra_turn_list out = {0};

    *n_speakers = nc;
    if (n == 0)
        return SDRA_OK;
    fl = malloc(n * sizeof *fl);
    act = malloc(n);
    if (!fl || !act) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "diarize: out of memory");
        goto done;
    }
    for (int c = 0; c < nc; c++) {
        noise_floor(d->feat, n, nc, c, fl);
        for (size_t t = 0; t < n; t++) {
            float v = d->feat[t * nc + c], other = -100.0f;
            size_t lo = t >= BLEED_SLACK ? t - BLEED_SLACK : 0;
            size_t hi = t + BLEED_SLACK < n ? t + BLEED_SLACK : n - 1;
            for (size_t u = lo; u <= hi; u++)
                for (int o = 0; o < nc; o++)
                    if (o != c && d->feat[u * nc + o] > other)
                        other = d->feat[u * nc + o];
            act[t] = v > fl[t] + SPEECH_MARGIN_DB && v > ABS_MIN_DB &&
                     v >= other - (float)d->p.bleed_db;
        }
        sdra_diarize_smooth(act, n, MAX_GAP, MIN_RUN);
        for (size_t t = 0; t < n;) {
            while (t < n && !act[t])
                t++;
            size_t s = t;
            while (t < n && act[t])
                t++;
            if (t > s && sdra_diarize_turns_add(&out, s * 0.01, t * 0.01, c) < 0) {
                rc = sdra_error_set(err, SDRA_ENOMEM, "diarize: out of memory");
                goto done;
            }
        }
    }
    sdra_diarize_turns_sort(&out);
    *turns = out.v;
    *n_turns = out.n;
    out.v = NULL;
done:
    free(out.v);
    free(fl);
    free(act);
    return rc;
}
