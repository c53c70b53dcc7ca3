/*
 * wer.c - word error rate: text normalisation into words, Levenshtein alignment (counts of
 * substitutions, deletions, insertions in O(hyp) memory), word lists per speaker and cpWER
 * (the speaker mapping with the fewest errors), and the Hungarian assignment that DER shares.
 */
#include "sdra/eval.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WORD_MAX_BYTES 256

static int words_push(sdra_eval_words *w, const char *s, size_t len, sdra_error *err)
{
    if (w->n >= SDRA_EVAL_MAX_WORDS)
        return sdra_error_set(err, SDRA_ELIMIT, "more than %d words", SDRA_EVAL_MAX_WORDS);
    if (w->n == w->cap) {
        size_t c = w->cap ? w->cap * 2 : 64;
        char **v = realloc(w->v, c * sizeof *v);
        if (!v)
            return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        w->v = v;
        w->cap = c;
    }
    if (!(w->v[w->n] = strndup(s, len)))
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    w->n++;
    return SDRA_OK;
}

int sdra_eval_words_add_text(sdra_eval_words *w, const char *text, sdra_error *err)
{
    char cur[WORD_MAX_BYTES];
    size_t len = 0;
    for (const unsigned char *p = (const unsigned char *)text;; p++) {
        unsigned char c = *p;
        if (c && (isalnum(c) || c >= 0x80)) {
            if (len < sizeof cur - 1)
                cur[len++] = (char)tolower(c);
            continue;
        }
        if (c == '\'')
            continue; /* apostrophes are dropped inside words: don't -> dont */
        /* anything else (space, hyphen, slash, other punctuation, the end) ends the word */
        if (len > 0) {
            int rc = words_push(w, cur, len, err);
            if (rc < 0)
                return rc;
            len = 0;
        }
        if (!c)
            break;
    }
    return SDRA_OK;
}

void sdra_eval_words_release(sdra_eval_words *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++)
        free(w->v[i]);
    free(w->v);
    memset(w, 0, sizeof *w);
}

typedef struct cell {
    uint32_t cost, sub, del, ins;
} cell;

int sdra_eval_wer(const sdra_eval_words *ref, const sdra_eval_words *hyp, sdra_wer *out,
                  sdra_error *err)
{
    size_t n = ref->n, m = hyp->n;
    memset(out, 0, sizeof *out);
    out->n_ref = n;
    out->n_hyp = m;
    if ((double)n * (double)m > SDRA_EVAL_MAX_ALIGN_CELLS)
        return sdra_error_set(err, SDRA_ELIMIT,
                              "alignment of %zu x %zu words is beyond the limit", n, m);
    cell *prev = malloc((m + 1) * sizeof *prev), *cur = malloc((m + 1) * sizeof *cur);
    if (!prev || !cur) {
        free(prev);
        free(cur);
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    }
    for (size_t j = 0; j <= m; j++)
        prev[j] = (cell){(uint32_t)j, 0, 0, (uint32_t)j};
    for (size_t i = 1; i <= n; i++) {
        cur[0] = (cell){(uint32_t)i, 0, (uint32_t)i, 0};
        for (size_t j = 1; j <= m; j++) {
            int same = strcmp(ref->v[i - 1], hyp->v[j - 1]) == 0;
            cell d = prev[j - 1];
            if (!same) {
                d.cost++;
                d.sub++;
            }
            cell del = prev[j];
            del.cost++;
            del.del++;
            cell ins = cur[j - 1];
            ins.cost++;
            ins.ins++;
            cell best = d;
            if (del.cost < best.cost)
                best = del;
            if (ins.cost < best.cost)
                best = ins;
            cur[j] = best;
        }
        cell *t = prev;
        prev = cur;
        cur = t;
    }
    out->sub = prev[m].sub;
    out->del = prev[m].del;
    out->ins = prev[m].ins;
    size_t e = out->sub + out->del + out->ins;
    out->wer = n ? (double)e / (double)n : (m ? (double)m : 0.0);
    free(prev);
    free(cur);
    return SDRA_OK;
}

#define ALIGN_MAX_CELLS 64000000.0 /* backtrace bytes: ref words x hyp words */

int sdra_eval_align(const sdra_eval_words *ref, const sdra_eval_words *hyp,
                    unsigned char *correct, sdra_wer *out, sdra_error *err)
{
    size_t n = ref->n, m = hyp->n;
    memset(out, 0, sizeof *out);
    out->n_ref = n;
    out->n_hyp = m;
    if ((double)(n + 1) * (double)(m + 1) > ALIGN_MAX_CELLS)
        return sdra_error_set(err, SDRA_ELIMIT,
                              "alignment of %zu x %zu words is beyond the limit", n, m);
    /* op per cell: 0 match/substitution (diagonal), 1 deletion (up), 2 insertion (left) */
    unsigned char *op = malloc((n + 1) * (m + 1));
    uint32_t *prev = malloc((m + 1) * sizeof *prev), *cur = malloc((m + 1) * sizeof *cur);
    if (!op || !prev || !cur) {
        free(op);
        free(prev);
        free(cur);
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    }
    for (size_t j = 0; j <= m; j++) {
        prev[j] = (uint32_t)j;
        op[j] = 2;
    }
    for (size_t i = 1; i <= n; i++) {
        cur[0] = (uint32_t)i;
        op[i * (m + 1)] = 1;
        for (size_t j = 1; j <= m; j++) {
            uint32_t d = prev[j - 1] + (strcmp(ref->v[i - 1], hyp->v[j - 1]) != 0);
            uint32_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            unsigned char o = 0;
            uint32_t best = d;
            if (del < best) {
                best = del;
                o = 1;
            }
            if (ins < best) {
                best = ins;
                o = 2;
            }
            cur[j] = best;
            op[i * (m + 1) + j] = o;
        }
        uint32_t *t = prev;
        prev = cur;
        cur = t;
    }
    memset(correct, 0, m);
    for (size_t i = n, j = m; i > 0 || j > 0;) {
        unsigned char o = op[i * (m + 1) + j];
        if (i > 0 && j > 0 && o == 0) {
            if (strcmp(ref->v[i - 1], hyp->v[j - 1]) == 0)
                correct[j - 1] = 1;
            else
                out->sub++;
            i--;
            j--;
        } else if (i > 0 && (o == 1 || j == 0)) {
            out->del++;
            i--;
        } else {
            out->ins++;
            j--;
        }
    }
    size_t e = out->sub + out->del + out->ins;
    out->wer = n ? (double)e / (double)n : (m ? (double)m : 0.0);
    free(op);
    free(prev);
    free(cur);
    return SDRA_OK;
}

int sdra_eval_spk_words_add(sdra_eval_spk_words *s, const char *speaker, const char *text,
                            sdra_error *err)
{
    size_t i = 0;
    while (i < s->n && strcmp(s->names[i], speaker) != 0)
        i++;
    if (i == s->n) {
        if (s->n >= SDRA_EVAL_MAX_SPEAKERS)
            return sdra_error_set(err, SDRA_ELIMIT, "more than %d speakers",
                                  SDRA_EVAL_MAX_SPEAKERS);
        if (s->n == s->cap) {
            size_t c = s->cap ? s->cap * 2 : 8;
            char **nm = realloc(s->names, c * sizeof *nm);
            if (!nm)
                return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
            s->names = nm;
            sdra_eval_words *w = realloc(s->words, c * sizeof *w);
            if (!w)
                return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
            s->words = w;
            s->cap = c;
        }
        if (!(s->names[i] = strdup(speaker)))
            return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        memset(&s->words[i], 0, sizeof s->words[i]);
        s->n++;
    }
    return sdra_eval_words_add_text(&s->words[i], text, err);
}

void sdra_eval_spk_words_release(sdra_eval_spk_words *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->names[i]);
        sdra_eval_words_release(&s->words[i]);
    }
    free(s->names);
    free(s->words);
    memset(s, 0, sizeof *s);
}

int sdra_eval_cpwer(const sdra_eval_spk_words *ref, const sdra_eval_spk_words *hyp,
                    sdra_wer *out, int *map, sdra_error *err)
{
    int rc = SDRA_OK;
    size_t nr = ref->n, nh = hyp->n;
    memset(out, 0, sizeof *out);
    double tr = 0, th = 0; /* all pairs together align (sum ref words) x (sum hyp words) */
    for (size_t r = 0; r < nr; r++)
        tr += (double)ref->words[r].n;
    for (size_t h = 0; h < nh; h++)
        th += (double)hyp->words[h].n;
    if (tr * th > SDRA_EVAL_MAX_ALIGN_CELLS)
        return sdra_error_set(err, SDRA_ELIMIT,
                              "speaker-attributed alignment of %.0f x %.0f words is beyond the limit",
                              tr, th);
    /* cost[h][r] = errors when hyp h is scored against ref r, minus the cost of leaving both
     * unmapped (h's words all insertions, r's all deletions), so that a plain assignment
     * minimises the total */
    double *cost = calloc(nh * nr + 1, sizeof *cost);
    sdra_wer *pair = calloc(nh * nr + 1, sizeof *pair);
    int *assign = calloc(nh + 1, sizeof *assign);
    if (!cost || !pair || !assign) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t h = 0; h < nh; h++)
        for (size_t r = 0; r < nr; r++) {
            if ((rc = sdra_eval_wer(&ref->words[r], &hyp->words[h], &pair[h * nr + r], err)) < 0)
                goto done;
            sdra_wer *p = &pair[h * nr + r];
            cost[h * nr + r] = (double)(p->sub + p->del + p->ins) -
                               (double)(ref->words[r].n + hyp->words[h].n);
        }
    if (nh && nr && sdra_eval_assign(cost, nh, nr, assign) < 0) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }
    char *ref_used = calloc(nr + 1, 1);
    if (!ref_used) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t h = 0; h < nh; h++) {
        int r = nr ? assign[h] : -1;
        if (r >= 0 && cost[h * nr + (size_t)r] >= 0)
            r = -1; /* mapping would not help: leave unmapped */
        if (map)
            map[h] = r;
        out->n_hyp += hyp->words[h].n;
        if (r < 0) {
            out->ins += hyp->words[h].n;
            continue;
        }
        ref_used[r] = 1;
        const sdra_wer *p = &pair[h * nr + (size_t)r];
        out->sub += p->sub;
        out->del += p->del;
        out->ins += p->ins;
    }
    for (size_t r = 0; r < nr; r++) {
        out->n_ref += ref->words[r].n;
        if (!ref_used[r])
            out->del += ref->words[r].n;
    }
    free(ref_used);
    size_t e = out->sub + out->del + out->ins;
    out->wer = out->n_ref ? (double)e / (double)out->n_ref : (double)out->n_hyp;
done:
    free(cost);
    free(pair);
    free(assign);
    return rc;
}

/* Hungarian method (Kuhn-Munkres with potentials), O(n^2 m) for n <= m; transposes when there
 * are more rows than columns. */
int sdra_eval_assign(const double *cost, size_t n_rows, size_t n_cols, int *assign)
{
    int transposed = n_rows > n_cols;
    size_t n = transposed ? n_cols : n_rows, m = transposed ? n_rows : n_cols;
    for (size_t r = 0; r < n_rows; r++)
        assign[r] = -1;
    if (n == 0)
        return SDRA_OK;
    double *u = calloc(n + 1, sizeof *u), *v = calloc(m + 1, sizeof *v);
    double *minv = malloc((m + 1) * sizeof *minv);
    size_t *p = calloc(m + 1, sizeof *p), *way = calloc(m + 1, sizeof *way);
    char *used = malloc(m + 1);
    int rc = SDRA_OK;
    if (!u || !v || !minv || !p || !way || !used) {
        rc = SDRA_ENOMEM;
        goto done;
    }
#define A(i, j) (transposed ? cost[((j) - 1) * n_cols + ((i) - 1)] : cost[((i) - 1) * n_cols + ((j) - 1)])
    for (size_t i = 1; i <= n; i++) {
        p[0] = i;
        size_t j0 = 0;
        for (size_t j = 0; j <= m; j++) {
            minv[j] = DBL_MAX;
            used[j] = 0;
        }
        do {
            used[j0] = 1;
            size_t i0 = p[j0], j1 = 0;
            double delta = DBL_MAX;
            for (size_t j = 1; j <= m; j++) {
                if (used[j])
                    continue;
                double c = A(i0, j) - u[i0] - v[j];
                if (c < minv[j]) {
                    minv[j] = c;
                    way[j] = j0;
                }
                if (minv[j] < delta) {
                    delta = minv[j];
                    j1 = j;
                }
            }
            for (size_t j = 0; j <= m; j++) {
                if (used[j]) {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
        } while (p[j0] != 0);
        do {
            size_t j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        } while (j0);
    }
#undef A
    for (size_t j = 1; j <= m; j++) {
        if (!p[j])
            continue;
        if (transposed)
            assign[j - 1] = (int)(p[j] - 1);
        else
            assign[p[j] - 1] = (int)(j - 1);
    }
done:
    free(u);
    free(v);
    free(minv);
    free(p);
    free(way);
    free(used);
    return rc;
}
