/*
 * src/asr/adapt.c - adapting the acoustic model to one recording before it is decoded
 * (sdra/asr.h, docs/asr.md "Adapting to the recording").
 *
 * A global MLLR transform of the model's means (mu' = A mu + b per stream, variances
 * unchanged; Leggetter and Woodland 1995), estimated from the recording's own speech with no
 * transcript: every speech frame (the front end's voice-activity detector keeps them, as in
 * decoding) goes to the codebook that explains it and its two neighbours best (the en-us model
 * is phonetically tied: one codebook of Gaussians per base phone, in three streams of 13), and
 * its posteriors over
 * that codebook's Gaussians are the statistics of the regression, solved per stream and
 * dimension; a second pass does it again from the first transform's means. The result is
 * PocketSphinx's -mllr file (one class), which the recognizers of
 * that recording then load (sdra_asr_params.mllr_path).
 *
 * Measured on real telephone speech (docs/asr.md): a fifth to two fifths fewer word errors
 * than the narrowband model alone; the transform moves the model to the channel and the voice.
 * Cost: one pass of the front end, and ADAPT_PASSES of every Gaussian over the speech frames
 * (at most ADAPT_MAX_FRAMES of them), before decoding starts.
 */
#include "asr/internal.h"
#include "sdra/util.h"

#include <pocketsphinx.h>
#include <sphinxbase/err.h>
#include <sphinxbase/fe.h>

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NSTREAM 3
#define VEC 13                  /* each stream: 13 values (cepstra, deltas, double deltas) */
#define DIM (NSTREAM * VEC)
#define XI (VEC + 1)            /* the extended mean [1, mu] */
#define ADAPT_MAX_FRAMES 60000  /* 10 min of speech: the first so much is what the transform rests on */
/* 1 s of speech at least, else no transform. A telephone prompt of 2-4 s adapted on its own
 * speech alone loses a third of its errors (docs/asr.md, "Adapting to the recording"). */
#define ADAPT_MIN_FRAMES 100
#define SMOOTH_FRAMES 1         /* a codebook is chosen over 3 frames (see gather) */
#define ADAPT_PASSES 2          /* estimates: the second from the first's moved means */
#define MODEL_MAX_BYTES (64u << 20)
#define FE_BLOCK 256

struct sdra_asr_adapter {
    cmd_ln_t *config;
    fe_t *fe;
    int n_cb, n_dens;
    float *mean;   /* [cb][stream][dim][dens]: the inner loop runs over a codebook's Gaussians */
    float *ivar;   /* the same layout: 1 / variance (floored) */
    float *gconst; /* [cb][stream][dens]: -0.5 * sum of log variances */
    float *cep;    /* stored cepstra, VEC a frame */
    size_t n_cep, cap_cep;
    mfcc_t *block;
    bool dither, in_utt, normalised;
    double cmn[VEC]; /* once normalised: the mean taken off the kept cepstra */
    uint32_t dither_state;
};

/* ---- the model's means and variances (sphinxtrain's s3 gaussian file) ---- */

static uint32_t get_u32(const unsigned char *p, bool swap)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
}

/* Reads path into *vals (n_cb * NSTREAM * n_dens * VEC floats, the file's order: codebook,
 * stream, Gaussian, value). */
static int read_gauden(const char *path, float **vals, int *n_cb, int *n_dens, sdra_error *err)
{
    size_t len = 0;
    char *data = NULL;
    int rc = sdra_file_read(&data, &len, path, MODEL_MAX_BYTES, err);
    if (rc < 0)
        return rc;
    const unsigned char *b = (const unsigned char *)data;
    const char *end_hdr = memmem(data, len, "endhdr\n", 7);
    size_t off = end_hdr ? (size_t)(end_hdr - data) + 7 : len;
    if (off + 4 * (5 + NSTREAM) > len) {
        free(data);
        return sdra_error_set(err, SDRA_EINVAL, "%s: not a gaussian parameter file", path);
    }
    uint32_t magic = get_u32(b + off, false);
    bool swap = magic == 0x44332211u;
    if (!swap && magic != 0x11223344u) {
        free(data);
        return sdra_error_set(err, SDRA_EINVAL, "%s: bad byte-order mark", path);
    }
    off += 4;
    uint32_t cb = get_u32(b + off, swap), feat = get_u32(b + off + 4, swap),
             dens = get_u32(b + off + 8, swap);
    off += 12;
    bool ok = feat == NSTREAM && cb >= 1 && cb <= 1024 && dens >= 1 && dens <= 1024;
    for (uint32_t s = 0; ok && s < NSTREAM; s++, off += 4)
        ok = get_u32(b + off, swap) == VEC;
    size_t total = (size_t)cb * NSTREAM * dens * VEC;
    ok = ok && get_u32(b + off, swap) == total && off + 4 + total * 4 <= len;
    if (!ok) {
        free(data);
        return sdra_error_set(err, SDRA_EUNSUPPORTED, "%s: adaptation wants 3 streams of 13 "
                              "values (feature 1s_c_d_dd)", path);
    }
    off += 4;
    float *v = malloc(total * sizeof *v);
    if (!v) {
        free(data);
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < total; i++) {
        uint32_t u = get_u32(b + off + 4 * i, swap);
        memcpy(&v[i], &u, 4);
    }
    free(data);
    *vals = v;
    *n_cb = (int)cb;
    *n_dens = (int)dens;
    return 0;
}

static int load_model(sdra_asr_adapter *a, const char *hmm, sdra_error *err)
{
    char path[4096];
    float *m = NULL, *v = NULL;
    int cb = 0, dens = 0, cb2 = 0, dens2 = 0, rc;
    if (sdra_path_join(path, sizeof path, hmm, "means") < 0)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", hmm);
    if ((rc = read_gauden(path, &m, &cb, &dens, err)) < 0)
        return rc;
    if (sdra_path_join(path, sizeof path, hmm, "variances") < 0 ||
        (rc = read_gauden(path, &v, &cb2, &dens2, err)) < 0) {
        if (rc == 0)
            rc = sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", hmm);
        free(m);
        return rc;
    }
    if (cb != cb2 || dens != dens2) {
        free(m);
        free(v);
        return sdra_error_set(err, SDRA_EINVAL, "%s: means and variances differ in shape", hmm);
    }
    size_t total = (size_t)cb * NSTREAM * dens * VEC;
    a->mean = malloc(total * sizeof *a->mean);
    a->ivar = malloc(total * sizeof *a->ivar);
    a->gconst = calloc((size_t)cb * NSTREAM * dens, sizeof *a->gconst);
    if (!a->mean || !a->ivar || !a->gconst) {
        free(m);
        free(v);
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    }
    for (int c = 0; c < cb; c++)
        for (int s = 0; s < NSTREAM; s++)
            for (int d = 0; d < dens; d++)
                for (int i = 0; i < VEC; i++) {
                    size_t src = (((size_t)c * NSTREAM + s) * dens + d) * VEC + i;
                    size_t dst = (((size_t)c * NSTREAM + s) * VEC + i) * dens + d;
                    float var = v[src] < 1e-4f ? 1e-4f : v[src]; /* PocketSphinx's -varfloor */
                    a->mean[dst] = m[src];
                    a->ivar[dst] = 1.0f / var;
                    a->gconst[((size_t)c * NSTREAM + s) * dens + d] -= 0.5f * logf(var);
                }
    free(m);
    free(v);
    a->n_cb = cb;
    a->n_dens = dens;
    return 0;
}

/* ---- the front end ---- */

static void silence_log(void)
{
    err_set_logfp(NULL);
}

int sdra_asr_adapter_create(sdra_asr_adapter **out, const sdra_asr_params *p, sdra_error *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, silence_log);
    char hmm[4096], params[4096];
    sdra_asr_hmm_dir(p, hmm, sizeof hmm); /* the model the recognizers will load */
    sdra_asr_adapter *a = calloc(1, sizeof *a);
    if (!a)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    int rc = load_model(a, hmm, err);
    if (rc < 0)
        goto fail;
    const char *argv[] = {"-samprate", "16000"};
    cmd_ln_t *c = cmd_ln_parse_r(NULL, ps_args(), 2, (char **)argv, FALSE);
    if (!c) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto fail;
    }
    if (sdra_path_join(params, sizeof params, hmm, "feat.params") < 0) {
        a->config = c;
        rc = sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", hmm);
        goto fail;
    }
    /* On a failure sphinxbase may have freed c already: left alone then (a leak at worst). */
    if (!(a->config = cmd_ln_parse_file_r(c, ps_args(), params, FALSE))) {
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: cannot read the model's feat.params", hmm);
        goto fail;
    }
    const char *feat = cmd_ln_str_r(a->config, "-feat");
    if (!feat || strcmp(feat, "1s_c_d_dd") || cmd_ln_int32_r(a->config, "-ceplen") != VEC) {
        rc = sdra_error_set(err, SDRA_EUNSUPPORTED, "%s: adaptation wants feature 1s_c_d_dd "
                            "of 13 cepstra", hmm);
        goto fail;
    }
    if (!(a->fe = fe_init_auto_r(a->config))) {
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: bad front-end parameters", hmm);
        goto fail;
    }
    a->cap_cep = 4096;
    a->cep = malloc(a->cap_cep * VEC * sizeof *a->cep);
    a->block = malloc((size_t)FE_BLOCK * VEC * sizeof *a->block);
    if (!a->cep || !a->block) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto fail;
    }
    a->dither = p->hmm_dir != NULL; /* sphinx.c dithers for the narrowband model */
    a->dither_state = 1;
    *out = a;
    return 0;
fail:
    sdra_asr_adapter_destroy(a);
    return rc;
}

void sdra_asr_adapter_destroy(sdra_asr_adapter *a)
{
    if (!a)
        return;
    if (a->fe)
        fe_free(a->fe);
    if (a->config)
        cmd_ln_free_r(a->config);
    free(a->mean);
    free(a->ivar);
    free(a->gconst);
    free(a->cep);
    free(a->block);
    free(a);
}

size_t sdra_asr_adapter_frames(const sdra_asr_adapter *a)
{
    return a ? a->n_cep : 0;
}

/* Keeps the front end's speech frames, up to ADAPT_MAX_FRAMES. */
static int keep(sdra_asr_adapter *a, mfcc_t **cep, int32 nfr, sdra_error *err)
{
    for (int32 f = 0; f < nfr && a->n_cep < ADAPT_MAX_FRAMES; f++) {
        if (a->n_cep == a->cap_cep) {
            size_t cap = a->cap_cep * 2 > ADAPT_MAX_FRAMES ? ADAPT_MAX_FRAMES : a->cap_cep * 2;
            float *p = realloc(a->cep, cap * VEC * sizeof *p);
            if (!p)
                return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
            a->cep = p;
            a->cap_cep = cap;
        }
        for (int i = 0; i < VEC; i++)
            a->cep[a->n_cep * VEC + i] = (float)cep[f][i];
        a->n_cep++;
    }
    return 0;
}

int sdra_asr_adapter_feed(sdra_asr_adapter *a, const int16_t *pcm, size_t n, sdra_error *err)
{
    if (a->n_cep >= ADAPT_MAX_FRAMES || n == 0)
        return 0;
    int16_t tmp[4096];
    mfcc_t *rows[FE_BLOCK];
    for (int i = 0; i < FE_BLOCK; i++)
        rows[i] = a->block + (size_t)i * VEC;
    if (!a->in_utt) {
        fe_start_utt(a->fe);
        a->in_utt = true;
    }
    while (n > 0) {
        size_t k = n < sizeof tmp / sizeof tmp[0] ? n : sizeof tmp / sizeof tmp[0];
        const int16 *p = pcm;
        if (a->dither) { /* as the recognizer dithers for the narrowband model */
            sdra_asr_dither(&a->dither_state, pcm, tmp, k);
            p = tmp;
        }
        size_t left = k;
        while (left > 0) {
            int32 nfr = FE_BLOCK;
            size_t before = left;
            mfcc_t **cep = rows;
            if (fe_process_frames(a->fe, &p, &left, cep, &nfr, NULL) < 0)
                return sdra_error_set(err, SDRA_EINTERNAL, "adapt: front end failed");
            int rc = keep(a, rows, nfr, err);
            if (rc < 0)
                return rc;
            if (left == before && nfr == 0)
                break;
        }
        pcm += k;
        n -= k;
    }
    return 0;
}

/* ---- the estimate ---- */

/* Solves the n x n system g x = k (row-major g, destroyed) by Gaussian elimination with
 * partial pivoting; false when singular. */
static bool solve(double *g, double *k, double *x, int n)
{
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(g[r * n + c]) > fabs(g[p * n + c]))
                p = r;
        if (!(fabs(g[p * n + c]) > 1e-12))
            return false;
        if (p != c) {
            for (int j = 0; j < n; j++) {
                double t = g[c * n + j];
                g[c * n + j] = g[p * n + j];
                g[p * n + j] = t;
            }
            double t = k[c];
            k[c] = k[p];
            k[p] = t;
        }
        for (int r = c + 1; r < n; r++) {
            double f = g[r * n + c] / g[c * n + c];
            for (int j = c; j < n; j++)
                g[r * n + j] -= f * g[c * n + j];
            k[r] -= f * k[c];
        }
    }
    for (int r = n - 1; r >= 0; r--) {
        double s = k[r];
        for (int j = r + 1; j < n; j++)
            s -= g[r * n + j] * x[j];
        x[r] = s / g[r * n + r];
    }
    return true;
}

/* The 39 features of frame t (1s_c_d_dd, as sphinxbase computes them, ends repeated) from
 * cepstra c whose batch mean is already removed. */
static const float *frame_at(const float *c, size_t n, size_t t, int k)
{
    long i = (long)t + k;
    return c + (size_t)(i < 0 ? 0 : i >= (long)n ? (long)n - 1 : i) * VEC;
}

static void features(const float *c, size_t n, size_t t, float *o)
{
    const float *m3 = frame_at(c, n, t, -3), *m2 = frame_at(c, n, t, -2), *m1 = frame_at(c, n, t, -1),
                *z = frame_at(c, n, t, 0), *p1 = frame_at(c, n, t, 1), *p2 = frame_at(c, n, t, 2),
                *p3 = frame_at(c, n, t, 3);
    for (int i = 0; i < VEC; i++) {
        o[i] = z[i];
        o[VEC + i] = p2[i] - m2[i];
        o[2 * VEC + i] = (p3[i] - m1[i]) - (p1[i] - m3[i]);
    }
}

/* The log-likelihood of stream s of frame o under codebook c (a mixture of its Gaussians with
 * equal weights: the codebook's shape, not its senones' weights); each Gaussian's own
 * log-likelihood into g. */
static double stream_ll(const sdra_asr_adapter *a, const float *mean, int c, int s,
                        const float *o, float *g)
{
    int nd = a->n_dens;
    size_t base = (size_t)c * NSTREAM + s;
    memcpy(g, a->gconst + base * nd, (size_t)nd * sizeof *g);
    for (int i = 0; i < VEC; i++) {
        const float *mu = mean + (base * VEC + i) * nd, *iv = a->ivar + (base * VEC + i) * nd;
        float x = o[s * VEC + i];
        for (int d = 0; d < nd; d++) {
            float e = x - mu[d];
            g[d] -= 0.5f * e * e * iv[d];
        }
    }
    float mx = g[0];
    for (int d = 1; d < nd; d++)
        mx = g[d] > mx ? g[d] : mx;
    float sum = 0;
    for (int d = 0; d < nd; d++)
        if (g[d] - mx > -20.0f) /* the rest add less than 2e-9 each */
            sum += expf(g[d] - mx);
    return mx + logf(sum);
}

/* Every codebook's log-likelihood of frame t (its three streams) into row. */
static void frame_scores(const sdra_asr_adapter *a, const float *mean, size_t t, double *row,
                         float *ll)
{
    float o[DIM];
    features(a->cep, a->n_cep, t, o);
    for (int c = 0; c < a->n_cb; c++) {
        double v = 0;
        for (int s = 0; s < NSTREAM; s++)
            v += stream_ll(a, mean, c, s, o, ll);
        row[c] = v;
    }
}

/* One pass of statistics: each frame to its best codebook under the means `mean` (the
 * model's, or the last pass's transform of them), its posteriors over that codebook's
 * Gaussians into occ (occupancy) and obs (occupancy-weighted observations), per stream.
 * A codebook is chosen by its score over the frame and its neighbours (SMOOTH_FRAMES each side):
 * a phone rarely lasts under three frames, and a frame alone often looks like another phone's
 * (docs/asr.md, "Adapting to the recording"). */
static int gather(const sdra_asr_adapter *a, const float *mean, double *occ, double *obs, float *ll)
{
    int nc = a->n_cb, nd = a->n_dens;
    size_t n = a->n_cep, rows = 2 * SMOOTH_FRAMES + 1;
    double *ring = malloc(rows * (size_t)nc * sizeof *ring); /* frame u's scores: row u % rows */
    if (!ring)
        return SDRA_ENOMEM;
    for (size_t u = 0; u < SMOOTH_FRAMES && u < n; u++)
        frame_scores(a, mean, u, ring + (u % rows) * nc, ll);
    for (size_t t = 0; t < n; t++) {
        if (t + SMOOTH_FRAMES < n)
            frame_scores(a, mean, t + SMOOTH_FRAMES, ring + ((t + SMOOTH_FRAMES) % rows) * nc, ll);
        size_t lo = t < SMOOTH_FRAMES ? 0 : t - SMOOTH_FRAMES;
        size_t hi = t + SMOOTH_FRAMES < n ? t + SMOOTH_FRAMES : n - 1;
        int best = 0;
        double best_ll = -INFINITY;
        for (int c = 0; c < nc; c++) {
            double v = 0;
            for (size_t u = lo; u <= hi; u++)
                v += ring[(u % rows) * nc + c];
            if (v > best_ll) {
                best_ll = v;
                best = c;
            }
        }
        float o[DIM];
        features(a->cep, n, t, o);
        for (int s = 0; s < NSTREAM; s++) { /* posteriors within the best codebook */
            size_t base = (size_t)best * NSTREAM + s;
            float *g = ll + base * nd;
            stream_ll(a, mean, best, s, o, g);
            float mx = g[0];
            for (int d = 1; d < nd; d++)
                mx = g[d] > mx ? g[d] : mx;
            double sum = 0;
            for (int d = 0; d < nd; d++)
                sum += exp((double)(g[d] - mx));
            for (int d = 0; d < nd; d++) {
                double post = exp((double)(g[d] - mx)) / sum;
                if (post < 1e-6)
                    continue;
                occ[base * nd + d] += post;
                for (int i = 0; i < VEC; i++)
                    obs[(base * nd + d) * VEC + i] += post * o[s * VEC + i];
            }
        }
    }
    free(ring);
    return 0;
}

/* The maximum-likelihood transform of the model's means from the statistics: per stream s and
 * dimension i, w = G^-1 k over the extended means [1, mu]; b = w[0], A row i = w[1..]. */
static int estimate(const sdra_asr_adapter *a, const double *occ, const double *obs,
                    double A[NSTREAM][VEC][VEC], double bias[NSTREAM][VEC], sdra_error *err)
{
    int nc = a->n_cb, nd = a->n_dens;
    for (int s = 0; s < NSTREAM; s++)
        for (int i = 0; i < VEC; i++) {
            double g[XI * XI] = {0}, k[XI] = {0}, w[XI];
            for (int c = 0; c < nc; c++) {
                size_t base = (size_t)c * NSTREAM + s;
                for (int d = 0; d < nd; d++) {
                    double oc = occ[base * nd + d];
                    if (oc <= 0)
                        continue;
                    double iv = a->ivar[(base * VEC + i) * nd + d], xi[XI];
                    xi[0] = 1;
                    for (int j = 0; j < VEC; j++)
                        xi[j + 1] = a->mean[(base * VEC + j) * nd + d];
                    double ob = obs[(base * nd + d) * VEC + i] * iv;
                    for (int r = 0; r < XI; r++) {
                        k[r] += ob * xi[r];
                        for (int q = 0; q < XI; q++)
                            g[r * XI + q] += oc * iv * xi[r] * xi[q];
                    }
                }
            }
            for (int r = 0; r < XI; r++)
                g[r * XI + r] += 1e-6; /* as a ridge: unseen directions stay put */
            if (!solve(g, k, w, XI))
                return sdra_error_set(err, SDRA_EINVAL, "adapt: the statistics are degenerate");
            bias[s][i] = w[0];
            for (int j = 0; j < VEC; j++)
                A[s][i][j] = w[j + 1];
            for (int j = 0; j < XI; j++)
                if (!isfinite(w[j]))
                    return sdra_error_set(err, SDRA_EINVAL, "adapt: the statistics are degenerate");
        }
    return 0;
}

/* out = A mean + b, for every Gaussian (the layout of a->mean). */
static void apply(const sdra_asr_adapter *a, double A[NSTREAM][VEC][VEC], double bias[NSTREAM][VEC],
                  float *out)
{
    int nd = a->n_dens;
    for (int c = 0; c < a->n_cb; c++)
        for (int s = 0; s < NSTREAM; s++) {
            size_t base = (size_t)c * NSTREAM + s;
            for (int d = 0; d < nd; d++)
                for (int i = 0; i < VEC; i++) {
                    double v = bias[s][i];
                    for (int j = 0; j < VEC; j++)
                        v += A[s][i][j] * a->mean[(base * VEC + j) * nd + d];
                    out[(base * VEC + i) * nd + d] = (float)v;
                }
        }
}

/* The mean of a's kept cepstra into m (its own, before they are normalised). */
static void cep_mean(const sdra_asr_adapter *a, double m[VEC])
{
    for (int i = 0; i < VEC; i++)
        m[i] = 0;
    for (size_t t = 0; t < a->n_cep; t++)
        for (int i = 0; i < VEC; i++)
            m[i] += a->cep[t * VEC + i];
    for (int i = 0; i < VEC && a->n_cep; i++)
        m[i] /= (double)a->n_cep;
}

/* Removes the mean m from a's kept cepstra, once. */
static void subtract(sdra_asr_adapter *a, const double m[VEC])
{
    for (size_t t = 0; t < a->n_cep; t++)
        for (int i = 0; i < VEC; i++)
            a->cep[t * VEC + i] -= (float)m[i];
    memcpy(a->cmn, m, sizeof a->cmn);
    a->normalised = true;
}

void sdra_asr_adapter_normalise_as(sdra_asr_adapter *a, const sdra_asr_adapter *whole)
{
    if (a->normalised || whole->n_cep == 0)
        return;
    double m[VEC];
    if (whole->normalised)
        memcpy(m, whole->cmn, sizeof m);
    else
        cep_mean(whole, m);
    subtract(a, m);
}

int sdra_asr_adapter_write(sdra_asr_adapter *a, char *path, size_t cap, sdra_error *err)
{
    size_t n = a->n_cep;
    if (n < ADAPT_MIN_FRAMES)
        return sdra_error_set(err, SDRA_EINVAL, "adapt: %.1f s of speech, %d s needed",
                              n / 100.0, ADAPT_MIN_FRAMES / 100);
    size_t ng = (size_t)a->n_cb * NSTREAM * a->n_dens;
    double *occ = malloc(ng * sizeof *occ), *obs = malloc(ng * VEC * sizeof *obs);
    float *ll = malloc(ng * sizeof *ll), *moved = malloc(ng * VEC * sizeof *moved);
    int rc = 0;
    FILE *f = NULL;
    if (!occ || !obs || !ll || !moved) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }
    if (!a->normalised) { /* batch cepstral mean normalisation over what is kept */
        cep_mean(a, a->cmn);
        subtract(a, a->cmn);
    }
    /* ADAPT_PASSES passes: each one's posteriors come from the last one's transformed means,
       and each transform maps the model's own means. */
    double A[NSTREAM][VEC][VEC], bias[NSTREAM][VEC];
    for (int pass = 0; pass < ADAPT_PASSES; pass++) {
        memset(occ, 0, ng * sizeof *occ);
        memset(obs, 0, ng * VEC * sizeof *obs);
        if (gather(a, pass ? moved : a->mean, occ, obs, ll) < 0) {
            rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
            goto done;
        }
        if ((rc = estimate(a, occ, obs, A, bias, err)) < 0)
            goto done;
        if (pass + 1 < ADAPT_PASSES)
            apply(a, A, bias, moved);
    }
    /* PocketSphinx's -mllr file: classes, streams, then per stream its length, A by rows, b,
       and the variance scales (1: variances unchanged). */
    if (!(f = sdra_asr_tmpdir_file(path, cap, "sdra-mllr"))) {
        rc = sdra_error_set(err, SDRA_EIO, "cannot create the transform's file in $TMPDIR");
        goto done;
    }
    fprintf(f, "1\n%d\n", NSTREAM);
    for (int s = 0; s < NSTREAM; s++) {
        fprintf(f, "%d\n", VEC);
        for (int i = 0; i < VEC; i++) {
            for (int j = 0; j < VEC; j++)
                fprintf(f, "%.6f ", A[s][i][j]);
            fputc('\n', f);
        }
        for (int i = 0; i < VEC; i++)
            fprintf(f, "%.6f ", bias[s][i]);
        fputc('\n', f);
        for (int i = 0; i < VEC; i++)
            fputs("1.0 ", f);
        fputc('\n', f);
    }
    if (fclose(f) != 0) {
        unlink(path);
        rc = sdra_error_set(err, SDRA_EIO, "%s: cannot write the transform", path);
    }
done:
    free(occ);
    free(obs);
    free(ll);
    free(moved);
    return rc;
}
