/*
 * chunker.c - splits one stream of 16-bit PCM into chunks at silences (sdra/audio.h), so that
 * long audio can be recognised in pieces, in parallel, without cutting through words.
 *
 * Voice activity is energy based: the stream is cut into 20 ms frames; each frame's RMS level
 * (dBFS) is compared with an adaptive noise floor, the 10th percentile of the frame levels of
 * the last 15 s (a sliding histogram in 1 dB steps), so the detector follows a line that gets
 * noisier or quieter. A frame is silent when it is less than SIL_MARGIN_DB above that floor,
 * below SIL_ALWAYS_DB whatever the floor, and never when it is above SIL_NEVER_DB.
 *
 * Cutting: samples collect in one buffer of max_chunk_s. When it is full, the cut goes at the
 * quietest frame boundary of the longest silence after target_chunk_s; failing that, of the
 * longest silence after min_chunk_s; failing any silence at all, at the quietest point after
 * min_chunk_s (a forced cut). The rest of the buffer starts the next chunk. Memory is the
 * buffer (max_chunk_s of samples and its frame levels) plus the chunks ready for the caller.
 */
#include "sdra/audio.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_S 0.02
#define FLOOR_WINDOW_S 15.0
#define FLOOR_PERCENTILE 0.10
#define SIL_MARGIN_DB 9.0
#define SIL_ALWAYS_DB -60.0
#define SIL_NEVER_DB -30.0
#define N_BINS 101 /* 1 dB histogram bins for -100 .. 0 dBFS */

struct sdra_chunker {
    sdra_chunker_params p;
    size_t frame_len; /* samples per analysis frame */
    size_t cap;       /* buffer capacity in samples (a whole number of frames) */
    size_t min_frames, target_frames, min_sil_frames;

    int16_t *buf;
    size_t len;  /* samples in buf */
    size_t n_an; /* analysed frames in buf (the first n_an * frame_len samples) */
    float *db;   /* level of each analysed frame */
    unsigned char *silent;
    int64_t start; /* stream position of buf[0] */
    int next_index;

    /* noise floor: histogram of the levels of the last ring_len frames */
    unsigned char *ring;
    size_t ring_len, ring_pos, ring_fill;
    unsigned hist[N_BINS];

    sdra_chunk *ready; /* FIFO of finished chunks */
    size_t n_ready, ready_head, ready_cap;
};

sdra_chunker_params sdra_chunker_default_params(void)
{
    sdra_chunker_params p = {
        .rate_hz = 16000,
        .min_chunk_s = 10.0,
        .target_chunk_s = 20.0,
        .max_chunk_s = 30.0,
        .min_silence_s = 0.3,
    };
    return p;
}

void sdra_chunk_release(sdra_chunk *c)
{
    if (!c)
        return;
    free(c->pcm);
    c->pcm = NULL;
    c->n_frames = 0;
}

int sdra_chunker_create(sdra_chunker **out, const sdra_chunker_params *params, sdra_error *err)
{
    *out = NULL;
    sdra_chunker_params p = params ? *params : sdra_chunker_default_params();
    if (p.rate_hz < SDRA_AUDIO_MIN_RATE_HZ || p.rate_hz > SDRA_AUDIO_MAX_RATE_HZ)
        return sdra_error_set(err, SDRA_EINVAL, "chunker: rate %d Hz out of range", p.rate_hz);
    if (!(p.min_chunk_s >= 0 && p.min_chunk_s <= p.target_chunk_s &&
          p.target_chunk_s <= p.max_chunk_s && p.max_chunk_s >= 0.1 && p.max_chunk_s <= 3600 &&
          p.min_silence_s >= 0))
        return sdra_error_set(err, SDRA_EINVAL,
                              "chunker: need 0 <= min <= target <= max (0.1 .. 3600 s), "
                              "min_silence >= 0 (got %g, %g, %g, %g)",
                              p.min_chunk_s, p.target_chunk_s, p.max_chunk_s, p.min_silence_s);
    sdra_chunker *c = calloc(1, sizeof *c);
    if (!c)
        return sdra_error_set(err, SDRA_ENOMEM, "chunker: out of memory");
    c->p = p;
    c->frame_len = (size_t)lround(p.rate_hz * FRAME_S);
    size_t max_frames = (size_t)floor(p.max_chunk_s / FRAME_S + 1e-9);
    if (max_frames < 1)
        max_frames = 1;
    c->cap = max_frames * c->frame_len;
    c->min_frames = (size_t)ceil(p.min_chunk_s / FRAME_S - 1e-9);
    c->target_frames = (size_t)ceil(p.target_chunk_s / FRAME_S - 1e-9);
    c->min_sil_frames = (size_t)ceil(p.min_silence_s / FRAME_S - 1e-9);
    if (c->min_sil_frames < 1)
        c->min_sil_frames = 1;
    c->ring_len = (size_t)(FLOOR_WINDOW_S / FRAME_S);
    c->buf = malloc(c->cap * sizeof *c->buf);
    c->db = malloc(max_frames * sizeof *c->db);
    c->silent = malloc(max_frames);
    c->ring = malloc(c->ring_len);
    if (!c->buf || !c->db || !c->silent || !c->ring) {
        sdra_chunker_destroy(c);
        return sdra_error_set(err, SDRA_ENOMEM, "chunker: out of memory");
    }
    *out = c;
    return 0;
}

void sdra_chunker_destroy(sdra_chunker *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_ready; i++)
        sdra_chunk_release(&c->ready[(c->ready_head + i) % c->ready_cap]);
    free(c->ready);
    free(c->buf);
    free(c->db);
    free(c->silent);
    free(c->ring);
    free(c);
}

/* The adaptive noise floor: the FLOOR_PERCENTILE level of the recent frames. */
static double noise_floor(const sdra_chunker *c)
{
    size_t want = (size_t)(c->ring_fill * FLOOR_PERCENTILE);
    size_t acc = 0;
    for (int b = 0; b < N_BINS; b++) {
        acc += c->hist[b];
        if (acc > want)
            return (double)b - 100.0;
    }
    return 0.0;
}

static void analyse_new_frames(sdra_chunker *c)
{
    while ((c->n_an + 1) * c->frame_len <= c->len) {
        double db = sdra_audio_rms_db(c->buf + c->n_an * c->frame_len, c->frame_len);
        int bin = (int)lround(db + 100.0);
        if (bin < 0)
            bin = 0;
        if (bin >= N_BINS)
            bin = N_BINS - 1;
        if (c->ring_fill == c->ring_len)
            c->hist[c->ring[c->ring_pos]]--;
        else
            c->ring_fill++;
        c->ring[c->ring_pos] = (unsigned char)bin;
        c->ring_pos = (c->ring_pos + 1) % c->ring_len;
        c->hist[bin]++;
        double thr = noise_floor(c) + SIL_MARGIN_DB;
        if (thr < SIL_ALWAYS_DB)
            thr = SIL_ALWAYS_DB;
        if (thr > SIL_NEVER_DB)
            thr = SIL_NEVER_DB;
        c->db[c->n_an] = (float)db;
        c->silent[c->n_an] = db < thr;
        c->n_an++;
    }
}

/* The quietest frame boundary k in [lo, hi] (cut before frame k), judged by the two frames
 * around it. */
static size_t quietest_boundary(const sdra_chunker *c, size_t lo, size_t hi)
{
    size_t best = lo;
    double best_e = INFINITY;
    for (size_t k = lo; k <= hi; k++) {
        double e = (k > 0 ? c->db[k - 1] : 0.0) + (k < c->n_an ? c->db[k] : 0.0);
        if (k == 0 || k >= c->n_an)
            e *= 2; /* one side only: count it twice */
        if (e < best_e) {
            best_e = e;
            best = k;
        }
    }
    return best;
}

/* The longest silent run within frames [lo, hi); returns its length, start in *s. */
static size_t longest_silence(const sdra_chunker *c, size_t lo, size_t hi, size_t *s)
{
    size_t best = 0, run = 0;
    for (size_t k = lo; k < hi; k++) {
        run = c->silent[k] ? run + 1 : 0;
        if (run > best) {
            best = run;
            *s = k + 1 - run;
        }
    }
    return best;
}

/* Picks the cut (in frames from the start of buf) for a full buffer. */
static size_t choose_cut(const sdra_chunker *c)
{
    size_t nf = c->n_an;
    size_t lo = c->min_frames < nf ? c->min_frames : nf - 1;
    size_t tg = c->target_frames < nf ? c->target_frames : lo;
    if (lo < 1)
        lo = 1;
    if (tg < lo)
        tg = lo;
    size_t s = 0, len = longest_silence(c, tg, nf, &s);
    if (len < c->min_sil_frames) {
        size_t s2 = 0, len2 = longest_silence(c, lo, nf, &s2);
        if (len2 > len) {
            len = len2;
            s = s2;
        }
    }
    if (len == 0) /* no silence at all: the quietest point */
        return quietest_boundary(c, lo, nf);
    /* inside the run when it has an inside, else at the edge of its one frame */
    if (len >= 2)
        return quietest_boundary(c, s + 1, s + len - 1);
    size_t k = quietest_boundary(c, s, s + 1);
    return k < 1 ? 1 : k;
}

static int push_ready(sdra_chunker *c, size_t n, sdra_error *err)
{
    if (c->n_ready == c->ready_cap) {
        size_t ncap = c->ready_cap ? c->ready_cap * 2 : 4;
        sdra_chunk *nr = malloc(ncap * sizeof *nr);
        if (!nr)
            return sdra_error_set(err, SDRA_ENOMEM, "chunker: out of memory");
        for (size_t i = 0; i < c->n_ready; i++)
            nr[i] = c->ready[(c->ready_head + i) % c->ready_cap];
        free(c->ready);
        c->ready = nr;
        c->ready_cap = ncap;
        c->ready_head = 0;
    }
    int16_t *pcm = malloc((n ? n : 1) * sizeof *pcm);
    if (!pcm)
        return sdra_error_set(err, SDRA_ENOMEM, "chunker: out of memory");
    memcpy(pcm, c->buf, n * sizeof *pcm);
    sdra_chunk *ch = &c->ready[(c->ready_head + c->n_ready) % c->ready_cap];
    ch->start_frame = c->start;
    ch->pcm = pcm;
    ch->n_frames = n;
    ch->index = c->next_index++;
    c->n_ready++;
    /* the rest of the buffer starts the next chunk */
    size_t kf = n / c->frame_len;
    memmove(c->buf, c->buf + n, (c->len - n) * sizeof *c->buf);
    c->len -= n;
    c->start += (int64_t)n;
    if (n % c->frame_len == 0 && kf <= c->n_an) {
        memmove(c->db, c->db + kf, (c->n_an - kf) * sizeof *c->db);
        memmove(c->silent, c->silent + kf, c->n_an - kf);
        c->n_an -= kf;
    } else {
        c->n_an = 0; /* only after the final chunk, where nothing is left */
    }
    return 0;
}

static bool pop_ready(sdra_chunker *c, sdra_chunk *out)
{
    if (c->n_ready == 0)
        return false;
    *out = c->ready[c->ready_head];
    c->ready_head = (c->ready_head + 1) % c->ready_cap;
    c->n_ready--;
    return true;
}

int sdra_chunker_feed(sdra_chunker *c, const int16_t *pcm, size_t n, sdra_chunk *out, bool *ready,
                      sdra_error *err)
{
    int rc;
    *ready = false;
    while (n > 0) {
        size_t take = c->cap - c->len;
        if (take > n)
            take = n;
        memcpy(c->buf + c->len, pcm, take * sizeof *pcm);
        c->len += take;
        pcm += take;
        n -= take;
        analyse_new_frames(c);
        if (c->len == c->cap) {
            size_t k = choose_cut(c);
            if ((rc = push_ready(c, k * c->frame_len, err)) < 0)
                return rc;
        }
    }
    *ready = pop_ready(c, out);
    return 0;
}

int sdra_chunker_finish(sdra_chunker *c, sdra_chunk *out, bool *ready, sdra_error *err)
{
    int rc;
    *ready = false;
    if (c->n_ready == 0 && c->len > 0)
        if ((rc = push_ready(c, c->len, err)) < 0)
            return rc;
    *ready = pop_ready(c, out);
    return 0;
}
