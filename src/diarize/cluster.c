/*
 * cluster.c - the cluster method for mono recordings, run at finish over the stored features
 * (energy + 13 MFCC per 10 ms frame):
 *
 *  1. Speech detection: a frame is speech when its energy passes a threshold set between the
 *     recording's noise level (10th percentile) and its speech level (95th percentile);
 *     smoothed (gaps < 0.3 s filled, runs < 0.25 s dropped).
 *  2. Segmentation: speech regions are cut into short uniform segments (about 1 s; longer when
 *     the call is so long that there would be more than MAX_SEGMENTS / 2; neighbours joined
 *     when many short regions still make more than MAX_SEGMENTS).
 *  3. Agglomerative clustering: every segment starts as a cluster described by a full-covariance
 *     Gaussian over c1..c13 (sufficient statistics, so merging is exact and cheap). The pair with
 *     the lowest delta-BIC merges, until params.n_speakers clusters remain, or, with
 *     n_speakers = 0, until every remaining pair has delta-BIC > 0 (merging would not explain
 *     the data better than keeping two models, penalised for the extra parameters) and at most
 *     max_speakers clusters remain.
 *     On short segments of real speech the full BIC rarely stops by itself: this stage in
 *     practice ends at max_speakers clusters and steps 4-5 decide the count.
 *  4. Re-segmentation: each cluster trains a diagonal GMM on its frames; the frame
 *     log-likelihoods are averaged over 0.5 s and a Viterbi pass over each speech region with
 *     a speaker-change penalty relabels every frame; repeated RESEG_ITERS times. This moves
 *     boundaries from the 1 s grid to where the voices change. Clusters that lose all their
 *     frames disappear.
 *  5. Count (n_speakers = 0 only): the two clusters whose merge gains most held-out likelihood
 *     (best_merge: parameter-neutral BIC, two-fold) merge and step 4 runs again, while the
 *     gain is positive; then a cluster with under 3 s of speech (too little for that test)
 *     joins the nearest voice, so one talker gives one speaker.
 *
 * Turns are the runs of one label inside a speech region; speakers are numbered by first
 * appearance. Overlap is not modelled in mono (one speaker per frame).
 */
#include "internal.h"
#include "sdra/log.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define D SDRA_MFCC_N          /* model dimensions: c1..c13 */
#define SEG_FRAMES 100         /* uniform segment length (1 s) */
#define MAX_SEGMENTS 1000      /* bounds the O(n^2) distance matrix */
#define BIC_LAMBDA 1.0         /* penalty weight of the BIC stopping rule */
#define RIDGE 1e-3             /* added to covariance diagonals */
#define GMM_COMPONENTS 8       /* per cluster model */
#define GMM_MAX (2 * GMM_COMPONENTS) /* a merged model has the components of both */
#define GMM_EM_ITERS 6
#define VAR_FLOOR 0.02         /* GMM variances >= this share of the variance over all speech */
#define FOLD_FRAMES 100        /* held-out likelihood: alternate 1 s blocks */
#define RESEG_ITERS 3
#define LL_SMOOTH 25           /* frames each side: log-likelihoods averaged over 0.5 s */
#define SWITCH_PENALTY 30.0    /* nats (log-likelihood) to change speaker in the Viterbi pass */
#define VITERBI_BLOCK 6000     /* frames (60 s) decoded at once: bounds the scratch memory */
#define MIN_SPEAKER_FRAMES 300 /* 3 s: less speech than this is not a speaker of its own (count estimated) */
#define SPEECH_MAX_GAP 30
#define SPEECH_MIN_RUN 25

typedef struct gstats {
    double n;
    double s[D];
    double q[D * D];
    double logdet;
} gstats;

/* The cepstra of frame t, widened into buf (D floats); returns buf. */
static const float *cep(const sdra_diarizer *d, size_t t, float *buf)
{
    const sdra_feat *f = d->feat + t * SDRA_FEAT_DIM + 1;
    for (int i = 0; i < D; i++)
        buf[i] = (float)f[i];
    return buf;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* log|cov| of stats via Cholesky; the ridge keeps it positive definite. */
static double stats_logdet(const gstats *g)
{
    double a[D * D], mu[D];
    for (int i = 0; i < D; i++)
        mu[i] = g->s[i] / g->n;
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++)
            a[i * D + j] = g->q[i * D + j] / g->n - mu[i] * mu[j] + (i == j ? RIDGE : 0);
    double ld = 0;
    for (int j = 0; j < D; j++) {
        double s = a[j * D + j];
        for (int k = 0; k < j; k++)
            s -= a[j * D + k] * a[j * D + k];
        if (s < 1e-9)
            s = 1e-9;
        double l = sqrt(s);
        a[j * D + j] = l;
        ld += 2 * log(l);
        for (int i = j + 1; i < D; i++) {
            double v = a[i * D + j];
            for (int k = 0; k < j; k++)
                v -= a[i * D + k] * a[j * D + k];
            a[i * D + j] = v / l;
        }
    }
    return ld;
}

static void stats_add(gstats *dst, const gstats *a)
{
    dst->n += a->n;
    for (int i = 0; i < D; i++)
        dst->s[i] += a->s[i];
    for (int i = 0; i < D * D; i++)
        dst->q[i] += a->q[i];
}

static double delta_bic(const gstats *a, const gstats *b)
{
    gstats m = *a;
    stats_add(&m, b);
    double ld = stats_logdet(&m);
    double pen = 0.5 * (D + D * (D + 1) / 2.0) * log(m.n);
    return 0.5 * (m.n * ld - a->n * a->logdet - b->n * b->logdet) - BIC_LAMBDA * pen;
}

/* ---- diagonal GMM -------------------------------------------------------------------- */

typedef struct gmm {
    int g;
    double w[GMM_MAX], mu[GMM_MAX][D], var[GMM_MAX][D];
    double lconst[GMM_MAX]; /* log w - 0.5 sum log(2 pi var) */
} gmm;

static void gmm_prepare(gmm *m)
{
    for (int k = 0; k < m->g; k++) {
        double s = log(m->w[k] > 1e-12 ? m->w[k] : 1e-12);
        for (int i = 0; i < D; i++)
            s -= 0.5 * log(2 * M_PI * m->var[k][i]);
        m->lconst[k] = s;
    }
}

static double gmm_comp_ll(const gmm *m, int k, const float *x)
{
    double s = m->lconst[k];
    for (int i = 0; i < D; i++) {
        double v = x[i] - m->mu[k][i];
        s -= 0.5 * v * v / m->var[k][i];
    }
    return s;
}

static double gmm_ll(const gmm *m, const float *x)
{
    double l[GMM_MAX], mx = -DBL_MAX;
    for (int k = 0; k < m->g; k++) {
        l[k] = gmm_comp_ll(m, k, x);
        if (l[k] > mx)
            mx = l[k];
    }
    double s = 0;
    for (int k = 0; k < m->g; k++)
        s += exp(l[k] - mx);
    return mx + log(s);
}

/* Trains a GMM of at most max_g components on the frames t with lab[t] == c or lab[t] == c2
 * (count n; c2 = -2 for none). */
static void gmm_train(gmm *m, const sdra_diarizer *d, const int *lab, int c, int c2, int fold,
                      int max_g)
{
#define IN(t) ((lab[t] == c || lab[t] == c2) && (fold < 0 || (int)(((t) / FOLD_FRAMES) & 1) == fold))
    size_t n = 0;
    for (size_t t = 0; t < d->n_frames; t++)
        n += IN(t);
    if (n == 0)
        n = 1;
    size_t nf = d->n_frames;
    double gmu[D] = {0}, gvar[D] = {0};
    for (size_t t = 0; t < nf; t++)
        if (IN(t)) {
            float cb[D];
            const float *x = cep(d, t, cb);
            for (int i = 0; i < D; i++) {
                gmu[i] += x[i];
                gvar[i] += (double)x[i] * x[i];
            }
        }
    for (int i = 0; i < D; i++) {
        gmu[i] /= (double)n;
        gvar[i] = gvar[i] / (double)n - gmu[i] * gmu[i];
        if (gvar[i] < d->var_floor[i])
            gvar[i] = d->var_floor[i];
    }
    m->g = (int)(n / 50);
    if (m->g > max_g)
        m->g = max_g;
    if (m->g < 1)
        m->g = 1;
    /* initial means: frames evenly spaced through the cluster */
    size_t step = n / (size_t)m->g, seen = 0;
    int k = 0;
    for (size_t t = 0; t < nf && k < m->g; t++) {
        if (!IN(t))
            continue;
        if (seen == (size_t)k * step + step / 2) {
            float cb[D];
            const float *x = cep(d, t, cb);
            for (int i = 0; i < D; i++)
                m->mu[k][i] = x[i];
            k++;
        }
        seen++;
    }
    for (; k < m->g; k++)
        for (int i = 0; i < D; i++)
            m->mu[k][i] = gmu[i];
    for (k = 0; k < m->g; k++) {
        m->w[k] = 1.0 / m->g;
        for (int i = 0; i < D; i++)
            m->var[k][i] = gvar[i];
    }
    if (m->g == 1) {
        for (int i = 0; i < D; i++)
            m->mu[0][i] = gmu[i];
        gmm_prepare(m);
        return;
    }
    for (int it = 0; it < GMM_EM_ITERS; it++) {
        gmm_prepare(m);
        double nk[GMM_MAX] = {0}, sk[GMM_MAX][D], qk[GMM_MAX][D];
        memset(sk, 0, sizeof sk);
        memset(qk, 0, sizeof qk);
        for (size_t t = 0; t < nf; t++) {
            if (!IN(t))
                continue;
            float cb[D];
            const float *x = cep(d, t, cb);
            double l[GMM_MAX], mx = -DBL_MAX, s = 0;
            for (int j = 0; j < m->g; j++) {
                l[j] = gmm_comp_ll(m, j, x);
                if (l[j] > mx)
                    mx = l[j];
            }
            for (int j = 0; j < m->g; j++)
                s += (l[j] = exp(l[j] - mx));
            for (int j = 0; j < m->g; j++) {
                double r = l[j] / s;
                nk[j] += r;
                for (int i = 0; i < D; i++) {
                    sk[j][i] += r * x[i];
                    qk[j][i] += r * x[i] * x[i];
                }
            }
        }
        for (int j = 0; j < m->g; j++) {
            if (nk[j] < 1e-3) { /* dead component: reset to the cluster mean */
                m->w[j] = 1e-3;
                for (int i = 0; i < D; i++) {
                    m->mu[j][i] = gmu[i];
                    m->var[j][i] = gvar[i];
                }
                continue;
            }
            m->w[j] = nk[j] / (double)n;
            for (int i = 0; i < D; i++) {
                m->mu[j][i] = sk[j][i] / nk[j];
                double v = qk[j][i] / nk[j] - m->mu[j][i] * m->mu[j][i];
                double fl = 0.01 * gvar[i];
                if (fl < d->var_floor[i])
                    fl = d->var_floor[i];
                m->var[j][i] = v < fl ? fl : v;
            }
        }
    }
    gmm_prepare(m);
#undef IN
}

/* ---- steps ----------------------------------------------------------------------------- */

static void detect_speech(const sdra_diarizer *d, unsigned char *sp, float *tmp)
{
    size_t n = d->n_frames;
    for (size_t t = 0; t < n; t++)
        tmp[t] = d->feat[t * SDRA_FEAT_DIM];
    qsort(tmp, n, sizeof *tmp, cmp_float);
    float p10 = tmp[n / 10], p95 = tmp[(n * 95) / 100];
    float range = p95 - p10;
    float thr = p10 + (range * 0.3f > 6.0f ? range * 0.3f : 6.0f);
    if (thr < p95 - 40.0f)
        thr = p95 - 40.0f;
    if (thr < -65.0f)
        thr = -65.0f;
    for (size_t t = 0; t < n; t++)
        sp[t] = d->feat[t * SDRA_FEAT_DIM] > thr;
    sdra_diarize_smooth(sp, n, SPEECH_MAX_GAP, SPEECH_MIN_RUN);
}

/* Agglomerative clustering of the segments [seg_a[i], seg_b[i]); fills seg_lab with cluster
 * numbers 0..k-1 and returns k, or a negative code. */
static int cluster_segments(const sdra_diarizer *d, const unsigned char *sp, const size_t *seg_a,
                            const size_t *seg_b, int ns, int *seg_lab)
{
    int rc = 0;
    gstats *g = calloc((size_t)ns, sizeof *g);
    float *dist = malloc((size_t)ns * ns * sizeof *dist);
    int *parent = malloc((size_t)ns * sizeof *parent);
    unsigned char *alive = malloc((size_t)ns);
    if (!g || !dist || !parent || !alive) {
        rc = SDRA_ENOMEM;
        goto done;
    }
    for (int i = 0; i < ns; i++) {
        for (size_t t = seg_a[i]; t < seg_b[i]; t++) {
            if (!sp[t])
                continue;
            float cb[D];
            const float *x = cep(d, t, cb);
            for (int a = 0; a < D; a++) {
                g[i].s[a] += x[a];
                for (int b = 0; b < D; b++)
                    g[i].q[a * D + b] += (double)x[a] * x[b];
            }
            g[i].n++;
        }
        g[i].logdet = stats_logdet(&g[i]);
        parent[i] = i;
        alive[i] = 1;
    }
    for (int i = 0; i < ns; i++)
        for (int j = i + 1; j < ns; j++)
            dist[(size_t)i * ns + j] = (float)delta_bic(&g[i], &g[j]);

    int target = d->p.n_speakers, nalive = ns;
    int maxk = d->p.max_speakers > 0 ? d->p.max_speakers : 6;
    while (nalive > 1) {
        if (target > 0 && nalive <= target)
            break;
        int bi = -1, bj = -1;
        float best = FLT_MAX;
        for (int i = 0; i < ns; i++) {
            if (!alive[i])
                continue;
            for (int j = i + 1; j < ns; j++)
                if (alive[j] && dist[(size_t)i * ns + j] < best) {
                    best = dist[(size_t)i * ns + j];
                    bi = i;
                    bj = j;
                }
        }
        if (bi < 0)
            break;
        if (target == 0 && best > 0 && nalive <= maxk)
            break;
        stats_add(&g[bi], &g[bj]);
        g[bi].logdet = stats_logdet(&g[bi]);
        alive[bj] = 0;
        parent[bj] = bi;
        nalive--;
        for (int k = 0; k < ns; k++) {
            if (!alive[k] || k == bi)
                continue;
            float v = (float)delta_bic(&g[bi], &g[k]);
            if (k < bi)
                dist[(size_t)k * ns + bi] = v;
            else
                dist[(size_t)bi * ns + k] = v;
        }
    }
    /* number the surviving roots in order */
    int *num = (int *)dist; /* reuse: ns ints fit in ns*ns floats */
    int k = 0;
    for (int i = 0; i < ns; i++)
        num[i] = alive[i] ? k++ : -1;
    for (int i = 0; i < ns; i++) {
        int r = i;
        while (parent[r] != r)
            r = parent[r];
        seg_lab[i] = num[r];
    }
    rc = k;
done:
    free(g);
    free(dist);
    free(parent);
    free(alive);
    return rc;
}

/* Viterbi over frames [a, b) with per-frame log-likelihoods ll[(t-a)*k + c]. */
static void viterbi(const double *ll, size_t len, int k, int *lab_out, double *score, int *back)
{
    for (int c = 0; c < k; c++)
        score[c] = ll[c];
    for (size_t t = 1; t < len; t++) {
        int bestc = 0;
        for (int c = 1; c < k; c++)
            if (score[c] > score[bestc])
                bestc = c;
        double bests = score[bestc];
        double ns[SDRA_DIARIZE_MAX_SPK];
        for (int c = 0; c < k; c++) {
            double stay = score[c], sw = bests - SWITCH_PENALTY;
            if (stay >= sw) {
                ns[c] = stay;
                back[t * k + c] = c;
            } else {
                ns[c] = sw;
                back[t * k + c] = bestc;
            }
            ns[c] += ll[t * k + c];
        }
        memcpy(score, ns, (size_t)k * sizeof *score);
    }
    int c = 0;
    for (int j = 1; j < k; j++)
        if (score[j] > score[c])
            c = j;
    for (size_t t = len; t-- > 0;) {
        lab_out[t] = c;
        if (t > 0)
            c = back[t * k + c];
    }
}

/* Replaces each frame's log-likelihoods by their mean over +-LL_SMOOTH frames (within the
 * region): single frames follow the phone being said more than the voice, half a second of
 * them follows the voice. sm is scratch of k doubles per frame. */
static void smooth_ll(double *ll, size_t len, int k, double *sm)
{
    for (int c = 0; c < k; c++) {
        double run = 0;
        size_t lo = 0, hi = 0; /* window [lo, hi) */
        for (size_t u = 0; u < len; u++) {
            size_t want_hi = u + LL_SMOOTH + 1 < len ? u + LL_SMOOTH + 1 : len;
            size_t want_lo = u > LL_SMOOTH ? u - LL_SMOOTH : 0;
            while (hi < want_hi)
                run += ll[hi++ * k + c];
            while (lo < want_lo)
                run -= ll[lo++ * k + c];
            sm[u * k + c] = run / (double)(hi - lo);
        }
    }
    memcpy(ll, sm, len * (size_t)k * sizeof *ll);
}

/* Relabels the frames of lab (clusters 0..k-1, -1 = not speech) by RESEG_ITERS rounds of GMM
 * training and Viterbi decoding per speech region. Clusters that lose all frames are dropped
 * and the rest renumbered; returns the new k. */
static int resegment(const sdra_diarizer *d, const unsigned char *sp, int *lab, int k,
                     gmm *models, double *ll, double *sm, int *back, int *rl)
{
    size_t n = d->n_frames;
    for (int it = 0; it < RESEG_ITERS && k > 1; it++) {
        size_t cnt[SDRA_DIARIZE_MAX_SPK] = {0};
        for (size_t t = 0; t < n; t++)
            if (lab[t] >= 0)
                cnt[lab[t]]++;
        int renum[SDRA_DIARIZE_MAX_SPK], nl = 0;
        for (int c = 0; c < k; c++) {
            renum[c] = -1;
            if (cnt[c] > 0) {
                gmm_train(&models[nl], d, lab, c, -2, -1, GMM_COMPONENTS);
                renum[c] = nl++;
            }
        }
        if (nl < 2) {
            for (size_t t = 0; t < n; t++)
                if (lab[t] >= 0)
                    lab[t] = renum[lab[t]];
            return nl;
        }
        for (size_t t = 0; t < n;) {
            while (t < n && !sp[t])
                t++;
            size_t s = t;
            while (t < n && sp[t] && t - s < VITERBI_BLOCK)
                t++; /* a region longer than the block continues as the next one */
            if (t == s)
                continue;
            for (size_t u = s; u < t; u++) {
                float cb[D];
                const float *x = cep(d, u, cb);
                for (int c = 0; c < nl; c++)
                    ll[(u - s) * nl + c] = gmm_ll(&models[c], x);
            }
            smooth_ll(ll, t - s, nl, sm);
            double score[SDRA_DIARIZE_MAX_SPK];
            viterbi(ll, t - s, nl, rl, score, back);
            for (size_t u = s; u < t; u++)
                lab[u] = rl[u - s];
        }
        k = nl;
    }
    /* drop clusters left empty by the last pass */
    size_t cnt[SDRA_DIARIZE_MAX_SPK] = {0};
    for (size_t t = 0; t < n; t++)
        if (lab[t] >= 0)
            cnt[lab[t]]++;
    int renum[SDRA_DIARIZE_MAX_SPK], nl = 0;
    for (int c = 0; c < k; c++)
        renum[c] = cnt[c] ? nl++ : -1;
    for (size_t t = 0; t < n; t++)
        if (lab[t] >= 0)
            lab[t] = renum[lab[t]];
    return nl;
}

/* Total log-likelihood under m of the frames labelled c or c2 in fold (-1 = all). */
static double frames_ll(const sdra_diarizer *d, const int *lab, int c, int c2, int fold,
                        const gmm *m)
{
    double s = 0;
    float cb[D];
    for (size_t t = 0; t < d->n_frames; t++)
        if ((lab[t] == c || lab[t] == c2) && (fold < 0 || (int)((t / FOLD_FRAMES) & 1) == fold))
            s += gmm_ll(m, cep(d, t, cb));
    return s;
}

/* The pair of clusters that gains most from merging, by the parameter-neutral BIC of Ajmera
 * and Wooters: a model of the union with as many components as the two models together has
 * the same number of parameters, so delta-BIC reduces to a log-likelihood difference (no
 * penalty weight to tune). The likelihoods are held-out: models are trained on alternate
 * FOLD_FRAMES blocks and scored on the others (two-fold), so that separate models do not win
 * merely by having fitted their own frames. Returns the best gain per frame (> 0: merge). */
static double best_merge(const sdra_diarizer *d, const int *lab, int k, gmm *models, int *ci,
                         int *cj)
{
    size_t cnt[SDRA_DIARIZE_MAX_SPK] = {0};
    double own[SDRA_DIARIZE_MAX_SPK] = {0};
    int ncomp[SDRA_DIARIZE_MAX_SPK];
    gmm *merged = &models[k];
    for (size_t t = 0; t < d->n_frames; t++)
        if (lab[t] >= 0)
            cnt[lab[t]]++;
    for (int c = 0; c < k; c++)
        for (int f = 0; f < 2; f++) {
            gmm_train(&models[c], d, lab, c, -2, f, GMM_COMPONENTS);
            ncomp[c] = models[c].g;
            own[c] += frames_ll(d, lab, c, -2, 1 - f, &models[c]);
        }
    double best = -DBL_MAX;
    *ci = 0;
    *cj = 1;
    for (int i = 0; i < k; i++)
        for (int j = i + 1; j < k; j++) {
            double l = 0;
            for (int f = 0; f < 2; f++) {
                gmm_train(merged, d, lab, i, j, f, ncomp[i] + ncomp[j]);
                l += frames_ll(d, lab, i, j, 1 - f, merged);
            }
            double gain = (l - own[i] - own[j]) / (double)(cnt[i] + cnt[j]);
            sdra_log(SDRA_LOG_DEBUG, "diarize:   pair %d (%zu frames) / %d (%zu): gain %.4f", i,
                     cnt[i], j, cnt[j], gain);
            if (gain > best) {
                best = gain;
                *ci = i;
                *cj = j;
            }
        }
    return best;
}

/* How far apart two clusters' voices are: the mean over c1..c13 of |mean_a - mean_b| in units
 * of the pooled standard deviation (d'). */
static double separation(const sdra_diarizer *d, const int *lab, int a, int b)
{
    double n[2] = {0}, s[2][D] = {{0}}, q[2][D] = {{0}};
    float cb[D];
    for (size_t t = 0; t < d->n_frames; t++) {
        int k = lab[t] == a ? 0 : lab[t] == b ? 1 : -1;
        if (k < 0)
            continue;
        const float *x = cep(d, t, cb);
        n[k]++;
        for (int i = 0; i < D; i++) {
            s[k][i] += x[i];
            q[k][i] += (double)x[i] * x[i];
        }
    }
    if (n[0] < 2 || n[1] < 2)
        return 0;
    double sum = 0;
    for (int i = 0; i < D; i++) {
        double m0 = s[0][i] / n[0], m1 = s[1][i] / n[1];
        double v0 = q[0][i] / n[0] - m0 * m0, v1 = q[1][i] / n[1] - m1 * m1;
        double sd = sqrt((v0 + v1) / 2);
        sum += sd > 1e-9 ? fabs(m0 - m1) / sd : 0;
    }
    return sum / D;
}

int sdra_diarize_cluster_finish(sdra_diarizer *d, sdra_turn **turns, size_t *n_turns,
                                int *n_speakers, sdra_error *err)
{
    int rc = SDRA_OK;
    size_t n = d->n_frames;
    unsigned char *sp = NULL;
    float *tmp = NULL;
    size_t *seg_a = NULL, *seg_b = NULL;
    int *seg_lab = NULL, *lab = NULL, *back = NULL, *rl = NULL;
    double *ll = NULL, *sm = NULL;
    gmm *models = NULL;
    sdra_turn_list out = {0};

    if (n == 0)
        return SDRA_OK;
    sp = malloc(n);
    tmp = malloc(n * sizeof *tmp);
    lab = malloc(n * sizeof *lab);
    if (!sp || !tmp || !lab)
        goto nomem;
    detect_speech(d, sp, tmp);

    /* segments */
    size_t n_speech = 0;
    for (size_t t = 0; t < n; t++)
        n_speech += sp[t];
    if (n_speech == 0)
        goto done;
    {
        double mu[D] = {0}, sq[D] = {0};
        for (size_t t = 0; t < n; t++)
            if (sp[t]) {
                float cb[D];
                const float *x = cep(d, t, cb);
                for (int i = 0; i < D; i++) {
                    mu[i] += x[i];
                    sq[i] += (double)x[i] * x[i];
                }
            }
        for (int i = 0; i < D; i++) {
            double m = mu[i] / (double)n_speech, v = sq[i] / (double)n_speech - m * m;
            d->var_floor[i] = VAR_FLOOR * (v > 1e-6 ? v : 1e-6);
        }
    }
    size_t seg_len = SEG_FRAMES;
    if (n_speech / seg_len > MAX_SEGMENTS / 2)
        seg_len = n_speech / (MAX_SEGMENTS / 2) + 1;
    int ns = 0;
    /* count first to size the arrays */
    for (size_t t = 0; t < n;) {
        while (t < n && !sp[t])
            t++;
        size_t s = t;
        while (t < n && sp[t])
            t++;
        if (t > s)
            ns += (int)((t - s + seg_len - 1) / seg_len);
    }
    seg_a = malloc((size_t)ns * sizeof *seg_a);
    seg_b = malloc((size_t)ns * sizeof *seg_b);
    seg_lab = malloc((size_t)ns * sizeof *seg_lab);
    if (!seg_a || !seg_b || !seg_lab)
        goto nomem;
    int si = 0;
    for (size_t t = 0; t < n;) {
        while (t < n && !sp[t])
            t++;
        size_t s = t;
        while (t < n && sp[t])
            t++;
        if (t == s)
            continue;
        size_t len = t - s, pieces = (len + seg_len - 1) / seg_len;
        for (size_t p = 0; p < pieces; p++) {
            seg_a[si] = s + len * p / pieces;
            seg_b[si] = s + len * (p + 1) / pieces;
            si++;
        }
    }
    /* many short speech regions (a long call of short replies): join neighbours, so that the
     * distance matrix stays bounded; the gaps inside a joined segment are not counted */
    while (ns > MAX_SEGMENTS) {
        int w = 0;
        for (int i = 0; i < ns; i += 2, w++) {
            seg_a[w] = seg_a[i];
            seg_b[w] = i + 1 < ns ? seg_b[i + 1] : seg_b[i];
        }
        ns = w;
    }

    int k = cluster_segments(d, sp, seg_a, seg_b, ns, seg_lab);
    if (k < 0)
        goto nomem;
    if (k > SDRA_DIARIZE_MAX_SPK)
        k = SDRA_DIARIZE_MAX_SPK; /* cannot happen: max_speakers <= 64 */
    for (size_t t = 0; t < n; t++)
        lab[t] = -1;
    for (int i = 0; i < ns; i++)
        for (size_t t = seg_a[i]; t < seg_b[i]; t++)
            if (sp[t])
                lab[t] = seg_lab[i];

    /* re-segmentation, then (count unknown) merging of whole clusters while that gains */
    models = calloc((size_t)k + 1, sizeof *models);
    size_t max_region = 0;
    for (size_t t = 0; t < n;) {
        while (t < n && !sp[t])
            t++;
        size_t s = t;
        while (t < n && sp[t])
            t++;
        if (t - s > max_region)
            max_region = t - s;
    }
    if (max_region > VITERBI_BLOCK)
        max_region = VITERBI_BLOCK;
    ll = malloc(max_region * (size_t)k * sizeof *ll);
    sm = malloc(max_region * (size_t)k * sizeof *sm);
    back = malloc(max_region * (size_t)k * sizeof *back);
    rl = malloc(max_region * sizeof *rl);
    if (!models || !ll || !sm || !back || !rl)
        goto nomem;
    k = resegment(d, sp, lab, k, models, ll, sm, back, rl);
    while (k > 1 && d->p.n_speakers == 0) {
        int ci, cj;
        double gain = best_merge(d, lab, k, models, &ci, &cj);
        sdra_log(SDRA_LOG_DEBUG, "diarize: %d clusters, best pair %d/%d merge gain %.4f", k, ci,
                 cj, gain);
        if (gain <= 0)
            break;
        for (size_t t = 0; t < n; t++)
            if (lab[t] == cj)
                lab[t] = ci;
            else if (lab[t] > cj)
                lab[t]--;
        k--;
        k = resegment(d, sp, lab, k, models, ll, sm, back, rl);
    }

    /* A speaker with too little speech to test is no speaker (count unknown only): the
     * held-out test trains a GMM per fold, and under MIN_SPEAKER_FRAMES (1.5 s per fold for
     * 8 x 27 parameters) it says more about the fit than about a second voice. Such a cluster
     * joins the one whose voice is nearest (separation), and re-segmentation runs again. */
    while (k > 1 && d->p.n_speakers == 0) {
        size_t cnt[SDRA_DIARIZE_MAX_SPK] = {0};
        for (size_t t = 0; t < n; t++)
            if (lab[t] >= 0)
                cnt[lab[t]]++;
        int small = 0;
        for (int c = 1; c < k; c++)
            if (cnt[c] < cnt[small])
                small = c;
        if (cnt[small] >= MIN_SPEAKER_FRAMES)
            break;
        int into = small == 0 ? 1 : 0;
        double best = DBL_MAX;
        for (int c = 0; c < k; c++) {
            double sep = c == small ? DBL_MAX : separation(d, lab, small, c);
            if (sep < best) {
                best = sep;
                into = c;
            }
        }
        sdra_log(SDRA_LOG_DEBUG, "diarize: cluster %d has %zu frames: joins %d", small, cnt[small], into);
        for (size_t t = 0; t < n; t++)
            if (lab[t] == small)
                lab[t] = into;
        for (size_t t = 0; t < n; t++)
            if (lab[t] > small)
                lab[t]--;
        k--;
        k = resegment(d, sp, lab, k, models, ll, sm, back, rl);
    }
    /* turns, speakers numbered by first appearance */
    int map[SDRA_DIARIZE_MAX_SPK];
    for (int c = 0; c < SDRA_DIARIZE_MAX_SPK; c++)
        map[c] = -1;
    int nsp = 0;
    for (size_t t = 0; t < n;) {
        if (lab[t] < 0 || !sp[t]) {
            t++;
            continue;
        }
        size_t s = t;
        int c = lab[t];
        while (t < n && sp[t] && lab[t] == c)
            t++;
        if (map[c] < 0)
            map[c] = nsp++;
        if (sdra_diarize_turns_add(&out, s * 0.01, t * 0.01, map[c]) < 0)
            goto nomem;
    }
    *n_speakers = nsp;
    *turns = out.v;
    *n_turns = out.n;
    out.v = NULL;
    goto done;
nomem:
    rc = sdra_error_set(err, SDRA_ENOMEM, "diarize: out of memory");
done:
    free(out.v);
    free(sp);
    free(tmp);
    free(seg_a);
    free(seg_b);
    free(seg_lab);
    free(lab);
    free(back);
    free(rl);
    free(ll);
    free(sm);
    free(models);
    return rc;
}
