/*
 * der.c - diarization error rate. Each speaker's segments are merged into disjoint intervals;
 * a no-score collar of collar_s is put around every boundary of the reference speakers'
 * intervals; the timeline is cut at every boundary (reference, hypothesis, collar) into
 * elementary pieces, and in each scored piece of length d with R reference and H hypothesis
 * speakers active:
 *     reference time += R d, missed += max(0, R - H) d, false alarm += max(0, H - R) d,
 *     confusion += (min(R, H) - correct) d,
 * where correct counts active (hyp, ref) pairs that the speaker mapping joins. The mapping is
 * the one-to-one assignment maximising the total time each mapped pair is active together
 * (Hungarian method), which is the mapping that minimises DER.
 */
#include "sdra/eval.h"

#include <stdlib.h>
#include <string.h>

typedef struct iv {
    double a, b;
} iv;

typedef struct ivlist {
    iv *v;
    size_t n;
} ivlist;

static int cmp_iv(const void *x, const void *y)
{
    const iv *p = x, *q = y;
    return (p->a > q->a) - (p->a < q->a);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Sorts and merges in place (touching intervals join). */
static void merge(ivlist *l)
{
    if (l->n < 2)
        return;
    qsort(l->v, l->n, sizeof *l->v, cmp_iv);
    size_t k = 0;
    for (size_t i = 1; i < l->n; i++) {
        if (l->v[i].a <= l->v[k].b) {
            if (l->v[i].b > l->v[k].b)
                l->v[k].b = l->v[i].b;
        } else {
            l->v[++k] = l->v[i];
        }
    }
    l->n = k + 1;
}

/* Per-speaker merged interval lists of segs (array of segs->n_names lists). */
static ivlist *by_speaker(const sdra_eval_segs *s)
{
    size_t ns = s->n_names;
    ivlist *l = calloc(ns + 1, sizeof *l);
    size_t *cnt = calloc(ns + 1, sizeof *cnt);
    if (!l || !cnt)
        goto fail;
    for (size_t i = 0; i < s->n; i++)
        cnt[s->v[i].speaker]++;
    for (size_t k = 0; k < ns; k++)
        if (!(l[k].v = malloc((cnt[k] + 1) * sizeof(iv))))
            goto fail;
    for (size_t i = 0; i < s->n; i++) {
        ivlist *x = &l[s->v[i].speaker];
        x->v[x->n++] = (iv){s->v[i].start, s->v[i].end};
    }
    for (size_t k = 0; k < ns; k++)
        merge(&l[k]);
    free(cnt);
    return l;
fail:
    if (l)
        for (size_t k = 0; k < ns; k++)
            free(l[k].v);
    free(l);
    free(cnt);
    return NULL;
}

static void free_lists(ivlist *l, size_t n)
{
    if (!l)
        return;
    for (size_t k = 0; k < n; k++)
        free(l[k].v);
    free(l);
}

/* Is t inside list l (sorted, disjoint)? *pos advances monotonically with t. */
static int inside(const ivlist *l, size_t *pos, double t)
{
    while (*pos < l->n && l->v[*pos].b <= t)
        (*pos)++;
    return *pos < l->n && l->v[*pos].a <= t;
}

int sdra_eval_der(const sdra_eval_segs *ref, const sdra_eval_segs *hyp, double collar_s,
                  sdra_der *out, int *map, sdra_error *err)
{
    int rc = SDRA_OK;
    size_t nr = ref->n_names, nh = hyp->n_names;
    ivlist *rl = NULL, *hl = NULL, collar = {0};
    double *cuts = NULL, *ov = NULL, *cost = NULL;
    size_t *rpos = NULL, *hpos = NULL;
    int *act_r = NULL, *act_h = NULL, *assign = NULL;
    memset(out, 0, sizeof *out);
    out->n_ref_speakers = nr;
    out->n_hyp_speakers = nh;
    if (collar_s < 0)
        return sdra_error_set(err, SDRA_EINVAL, "collar %.3f s is negative", collar_s);

    rl = by_speaker(ref);
    hl = by_speaker(hyp);
    size_t n_rb = 0, n_hb = 0;
    if (!rl || !hl)
        goto nomem;
    for (size_t k = 0; k < nr; k++)
        n_rb += rl[k].n;
    for (size_t k = 0; k < nh; k++)
        n_hb += hl[k].n;
    if (collar_s > 0) {
        if (!(collar.v = malloc((2 * n_rb + 1) * sizeof(iv))))
            goto nomem;
        for (size_t k = 0; k < nr; k++)
            for (size_t i = 0; i < rl[k].n; i++) {
                collar.v[collar.n++] = (iv){rl[k].v[i].a - collar_s, rl[k].v[i].a + collar_s};
                collar.v[collar.n++] = (iv){rl[k].v[i].b - collar_s, rl[k].v[i].b + collar_s};
            }
        merge(&collar);
    }
    size_t nc = 0, max_cuts = 2 * (n_rb + n_hb + collar.n) + 1;
    if (!(cuts = malloc(max_cuts * sizeof *cuts)))
        goto nomem;
    for (size_t k = 0; k < nr; k++)
        for (size_t i = 0; i < rl[k].n; i++) {
            cuts[nc++] = rl[k].v[i].a;
            cuts[nc++] = rl[k].v[i].b;
        }
    for (size_t k = 0; k < nh; k++)
        for (size_t i = 0; i < hl[k].n; i++) {
            cuts[nc++] = hl[k].v[i].a;
            cuts[nc++] = hl[k].v[i].b;
        }
    for (size_t i = 0; i < collar.n; i++) {
        cuts[nc++] = collar.v[i].a;
        cuts[nc++] = collar.v[i].b;
    }
    qsort(cuts, nc, sizeof *cuts, cmp_double);

    ov = calloc(nh * nr + 1, sizeof *ov);
    rpos = calloc(nr + 1, sizeof *rpos);
    hpos = calloc(nh + 1, sizeof *hpos);
    act_r = malloc((nr + 1) * sizeof *act_r);
    act_h = malloc((nh + 1) * sizeof *act_h);
    if (!ov || !rpos || !hpos || !act_r || !act_h)
        goto nomem;
    size_t cpos = 0;
    double total_min = 0;
    for (size_t i = 0; i + 1 < nc; i++) {
        double a = cuts[i], b = cuts[i + 1];
        if (b <= a)
            continue;
        double mid = 0.5 * (a + b), d = b - a;
        if (collar.n && inside(&collar, &cpos, mid))
            continue;
        size_t R = 0, H = 0;
        for (size_t k = 0; k < nr; k++)
            if (inside(&rl[k], &rpos[k], mid))
                act_r[R++] = (int)k;
        for (size_t k = 0; k < nh; k++)
            if (inside(&hl[k], &hpos[k], mid))
                act_h[H++] = (int)k;
        out->ref_s += (double)R * d;
        if (R > H)
            out->missed_s += (double)(R - H) * d;
        else
            out->false_alarm_s += (double)(H - R) * d;
        total_min += (double)(R < H ? R : H) * d;
        for (size_t x = 0; x < H; x++)
            for (size_t y = 0; y < R; y++)
                ov[(size_t)act_h[x] * nr + (size_t)act_r[y]] += d;
    }
    double correct = 0;
    if (nh && nr) {
        cost = malloc(nh * nr * sizeof *cost);
        assign = malloc(nh * sizeof *assign);
        if (!cost || !assign)
            goto nomem;
        for (size_t i = 0; i < nh * nr; i++)
            cost[i] = -ov[i];
        if (sdra_eval_assign(cost, nh, nr, assign) < 0)
            goto nomem;
        for (size_t h = 0; h < nh; h++)
            if (assign[h] >= 0)
                correct += ov[h * nr + (size_t)assign[h]];
    }
    if (map)
        for (size_t h = 0; h < nh; h++)
            map[h] = assign ? assign[h] : -1;
    out->confusion_s = total_min - correct;
    if (out->confusion_s < 0)
        out->confusion_s = 0;
    out->der = out->ref_s > 0
                   ? (out->missed_s + out->false_alarm_s + out->confusion_s) / out->ref_s
                   : 0.0;
    goto done;
nomem:
    rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
done:
    free_lists(rl, nr);
    free_lists(hl, nh);
    free(collar.v);
    free(cuts);
    free(ov);
    free(cost);
    free(rpos);
    free(hpos);
    free(act_r);
    free(act_h);
    free(assign);
    return rc;
}
