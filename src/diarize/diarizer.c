/*
 * diarizer.c - the streaming diarizer object behind sdra/diarize.h: parameters, validation,
 * feeding audio (turned into 10 ms frame features on the fly, the audio itself is dropped),
 * and dispatch to the channel or cluster method at finish. Also the small helpers the two
 * methods share (frame smoothing, turn lists).
 */
#include "internal.h"
#include "sdra/log.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

sdra_diarize_params sdra_diarize_default_params(void)
{
    sdra_diarize_params p;
    memset(&p, 0, sizeof p);
    p.method = SDRA_DIARIZE_CHANNEL;
    p.rate_hz = 16000;
    p.n_speakers = 0;
    p.max_speakers = 6;
    p.bleed_db = 15.0;
    return p;
}

int sdra_diarizer_create(sdra_diarizer **out, const sdra_diarize_params *p, int n_channels,
                         sdra_error *err)
{
    sdra_diarize_params def = sdra_diarize_default_params();
    if (!p)
        p = &def;
    *out = NULL;
    if (p->method != SDRA_DIARIZE_CHANNEL && p->method != SDRA_DIARIZE_CLUSTER)
        return sdra_error_set(err, SDRA_EINVAL, "diarize: unknown method %d", (int)p->method);
    if (p->rate_hz < 8000 || p->rate_hz > 48000)
        return sdra_error_set(err, SDRA_EINVAL, "diarize: rate %d Hz out of range 8000..48000",
                              p->rate_hz);
    if (p->method == SDRA_DIARIZE_CHANNEL &&
        (n_channels < 2 || n_channels > SDRA_DIARIZE_MAX_CHANNELS))
        return sdra_error_set(err, SDRA_EINVAL,
                              "diarize: the channel method needs 2..%d channels, got %d",
                              SDRA_DIARIZE_MAX_CHANNELS, n_channels);
    if (p->method == SDRA_DIARIZE_CLUSTER && n_channels != 1)
        return sdra_error_set(err, SDRA_EINVAL,
                              "diarize: the cluster method takes 1 channel (the mix), got %d",
                              n_channels);
    if (p->n_speakers < 0 || p->n_speakers > 64 || p->max_speakers < 0 || p->max_speakers > 64)
        return sdra_error_set(err, SDRA_EINVAL, "diarize: speaker count out of range 0..64");
    if (!(p->bleed_db >= 0 && p->bleed_db <= 80))
        return sdra_error_set(err, SDRA_EINVAL, "diarize: bleed_db %.1f out of range 0..80",
                              p->bleed_db);

    sdra_diarizer *d = calloc(1, sizeof *d);
    if (!d)
        return sdra_error_set(err, SDRA_ENOMEM, "diarize: out of memory");
    d->p = *p;
    if (d->p.max_speakers == 0)
        d->p.max_speakers = def.max_speakers;
    d->n_ch = n_channels;
    d->hop = p->rate_hz / 100;
    if (p->method == SDRA_DIARIZE_CLUSTER) {
        if (sdra_diarize_mfcc_init(&d->mfcc, p->rate_hz) < 0 ||
            !(d->hist = calloc((size_t)d->mfcc.win, sizeof(float)))) {
            sdra_diarizer_destroy(d);
            return sdra_error_set(err, SDRA_ENOMEM, "diarize: out of memory");
        }
    }
    *out = d;
    return SDRA_OK;
}

void sdra_diarizer_destroy(sdra_diarizer *d)
{
    if (!d)
        return;
    free(d->feat);
    free(d->hist);
    sdra_diarize_mfcc_release(&d->mfcc);
    free(d);
}

int sdra_diarize_push_frame(sdra_diarizer *d, const float *v, int width, sdra_error *err)
{
    if (d->n_frames >= SDRA_DIARIZE_MAX_FRAMES)
        return sdra_error_set(err, SDRA_ELIMIT, "diarize: audio longer than %d s",
                              SDRA_DIARIZE_MAX_FRAMES / 100);
    if (d->n_frames == d->cap_frames) {
        size_t c = d->cap_frames ? d->cap_frames * 2 : 4096;
        if (c > SDRA_DIARIZE_MAX_FRAMES)
            c = SDRA_DIARIZE_MAX_FRAMES;
        sdra_feat *f = realloc(d->feat, c * (size_t)width * sizeof *f);
        if (!f)
            return sdra_error_set(err, SDRA_ENOMEM, "diarize: out of memory");
        d->feat = f;
        d->cap_frames = c;
    }
    sdra_feat *dst = d->feat + d->n_frames * (size_t)width;
    for (int i = 0; i < width; i++)
        dst[i] = (sdra_feat)v[i];
    d->n_frames++;
    return SDRA_OK;
}

static float energy_db(double sum_sq, int n)
{
    double ms = n > 0 ? sum_sq / n : 0;
    if (ms <= 0)
        return -100.0f;
    double db = 10.0 * log10(ms / (32768.0 * 32768.0));
    return db < -100 ? -100.0f : (float)db;
}

static int feed_channel(sdra_diarizer *d, const int16_t *const *chans, size_t n, sdra_error *err)
{
    size_t i = 0;
    while (i < n) {
        size_t take = (size_t)(d->hop - d->acc_n);
        if (take > n - i)
            take = n - i;
        for (int c = 0; c < d->n_ch; c++) {
            const int16_t *x = chans[c] + i;
            double s = 0;
            for (size_t k = 0; k < take; k++)
                s += (double)x[k] * x[k];
            d->acc[c] += s;
        }
        d->acc_n += (int)take;
        i += take;
        if (d->acc_n == d->hop) {
            float v[SDRA_DIARIZE_MAX_CHANNELS];
            for (int c = 0; c < d->n_ch; c++) {
                v[c] = energy_db(d->acc[c], d->hop);
                d->acc[c] = 0;
            }
            d->acc_n = 0;
            int rc = sdra_diarize_push_frame(d, v, d->n_ch, err);
            if (rc < 0)
                return rc;
        }
    }
    return SDRA_OK;
}

static int feed_cluster(sdra_diarizer *d, const int16_t *x, size_t n, sdra_error *err)
{
    int win = d->mfcc.win, hop = d->mfcc.hop;
    size_t i = 0;
    while (i < n) {
        size_t take = (size_t)(win - d->n_hist);
        if (take > n - i)
            take = n - i;
        for (size_t k = 0; k < take; k++)
            d->hist[d->n_hist + (int)k] = (float)x[i + k];
        d->n_hist += (int)take;
        i += take;
        if (d->n_hist == win) {
            float v[SDRA_FEAT_DIM];
            sdra_diarize_mfcc_frame(&d->mfcc, d->hist, v);
            int rc = sdra_diarize_push_frame(d, v, SDRA_FEAT_DIM, err);
            if (rc < 0)
                return rc;
            memmove(d->hist, d->hist + hop, (size_t)(win - hop) * sizeof(float));
            d->n_hist = win - hop;
        }
    }
    return SDRA_OK;
}

int sdra_diarizer_feed(sdra_diarizer *d, const int16_t *const *chans, size_t n, sdra_error *err)
{
    if (!d || (!chans && n > 0))
        return sdra_error_set(err, SDRA_EINVAL, "diarize: feed without a diarizer or samples");
    if (d->finished)
        return sdra_error_set(err, SDRA_EINVAL, "diarize: feed after finish");
    if (n == 0)
        return SDRA_OK;
    for (int c = 0; c < d->n_ch; c++)
        if (!chans[c])
            return sdra_error_set(err, SDRA_EINVAL, "diarize: channel %d has no samples", c);
    if (d->p.method == SDRA_DIARIZE_CHANNEL)
        return feed_channel(d, chans, n, err);
    return feed_cluster(d, chans[0], n, err);
}

int sdra_diarizer_finish(sdra_diarizer *d, sdra_turn **turns, size_t *n_turns, int *n_speakers,
                         sdra_error *err)
{
    *turns = NULL;
    *n_turns = 0;
    *n_speakers = 0;
    if (!d)
        return sdra_error_set(err, SDRA_EINVAL, "diarize: finish without a diarizer");
    if (d->finished)
        return sdra_error_set(err, SDRA_EINVAL, "diarize: finish called twice");
    d->finished = 1;
    if (d->p.method == SDRA_DIARIZE_CHANNEL)
        return sdra_diarize_channel_finish(d, turns, n_turns, n_speakers, err);
    return sdra_diarize_cluster_finish(d, turns, n_turns, n_speakers, err);
}

void sdra_diarize_smooth(unsigned char *v, size_t n, size_t max_gap, size_t min_run)
{
    /* fill short gaps between two true runs */
    size_t i = 0;
    while (i < n && !v[i])
        i++;
    while (i < n) {
        while (i < n && v[i])
            i++;
        size_t g = i;
        while (i < n && !v[i])
            i++;
        if (i < n && i - g < max_gap)
            memset(v + g, 1, i - g);
    }
    /* drop short runs */
    i = 0;
    while (i < n) {
        while (i < n && !v[i])
            i++;
        size_t s = i;
        while (i < n && v[i])
            i++;
        if (i > s && i - s < min_run)
            memset(v + s, 0, i - s);
    }
}

int sdra_diarize_turns_add(sdra_turn_list *l, double start, double end, int speaker)
{
    if (l->n == l->cap) {
        size_t c = l->cap ? l->cap * 2 : 64;
        sdra_turn *t = realloc(l->v, c * sizeof *t);
        if (!t)
            return SDRA_ENOMEM;
        l->v = t;
        l->cap = c;
    }
    l->v[l->n].start = start;
    l->v[l->n].end = end;
    l->v[l->n].speaker = speaker;
    l->n++;
    return SDRA_OK;
}

static int cmp_turn(const void *a, const void *b)
{
    const sdra_turn *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->speaker - y->speaker;
}

void sdra_diarize_turns_sort(sdra_turn_list *l)
{
    if (l->n > 1)
        qsort(l->v, l->n, sizeof *l->v, cmp_turn);
}
