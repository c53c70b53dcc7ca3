/*
 * nb.c - the learned half of pain-point and objection detection (docs/analysis.md, "Learned
 * findings"): a multinomial naive Bayes over a sentence's words and word pairs, trained when
 * the rules load on an examples file of "LABEL<TAB>sentence" lines (written by
 * scripts/nb-examples.py from the labelled dialogues). The caller names the labels the file
 * may use; the first is the negative one ("0": no pain, "none": no objection). Tokens are the
 * analyser's own (an_tokenize), so training and use see the same words. Counting is the whole
 * training: a few thousand sentences take milliseconds.
 */
#include "internal.h"

#include "sdra/util.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NB_SLOTS (1u << 16)          /* open addressing; at most 3/4 full */
#define NB_FEAT_MAX (2 * AN_TOK_MAX) /* "word word" */
#define NB_TOKENS 256                /* tokens of one training sentence */
#define NB_FILE_MAX (4u << 20)

struct an_nb {
    char (*keys)[NB_FEAT_MAX]; /* NB_SLOTS features; "" is an empty slot */
    uint32_t *n;               /* NB_SLOTS x n_labels: occurrences of a feature per label */
    size_t used;
    int n_labels;
    char labels[AN_NB_LABELS_MAX][AN_TOK_MAX];
    uint64_t total[AN_NB_LABELS_MAX]; /* features counted per label */
    uint32_t docs[AN_NB_LABELS_MAX];  /* sentences per label */
};

static uint32_t fnv(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The slot where key is, or the empty one it would go in (-1 when the table is full and key
 * absent). */
static long probe(const an_nb *m, const char *key)
{
    for (uint32_t i = fnv(key) & (NB_SLOTS - 1), k = 0; k < NB_SLOTS; k++, i = (i + 1) & (NB_SLOTS - 1))
        if (!m->keys[i][0] || !strcmp(m->keys[i], key))
            return (long)i;
    return -1;
}

/* key's slot, made when absent (-1 when the table is 3/4 full) */
static long slot_add(an_nb *m, const char *key)
{
    long s = probe(m, key);
    if (s >= 0 && !m->keys[s][0]) {
        if (m->used >= NB_SLOTS / 4 * 3)
            return -1;
        snprintf(m->keys[s], NB_FEAT_MAX, "%s", key);
        m->used++;
    }
    return s;
}

/* Calls fn for every feature of toks[from, to): each word, and each pair of neighbours. */
static void features(const an_tok *toks, int from, int to, void (*fn)(void *, const char *), void *arg)
{
    char pair[NB_FEAT_MAX];
    for (int i = from; i < to; i++) {
        fn(arg, toks[i].w);
        if (i + 1 < to) {
            snprintf(pair, sizeof pair, "%s %s", toks[i].w, toks[i + 1].w);
            fn(arg, pair);
        }
    }
}

typedef struct count_arg {
    an_nb *m;
    int y;
} count_arg;

static void count_one(void *arg, const char *key)
{
    count_arg *a = arg;
    long s = slot_add(a->m, key);
    if (s >= 0) {
        a->m->n[(size_t)s * (size_t)a->m->n_labels + (size_t)a->y]++;
        a->m->total[a->y]++;
    }
}

static int label_index(const an_nb *m, const char *s, size_t len)
{
    for (int k = 0; k < m->n_labels; k++)
        if (strlen(m->labels[k]) == len && !memcmp(m->labels[k], s, len))
            return k;
    return -1;
}

int an_nb_load(an_nb **out, const char *path, const char *const *labels, int n_labels, sdra_error *err)
{
    *out = NULL;
    if (n_labels < 2 || n_labels > AN_NB_LABELS_MAX)
        return sdra_error_set(err, SDRA_EINVAL, "%s: a classifier needs 2 to %d labels", path, AN_NB_LABELS_MAX);
    char *text = NULL;
    size_t len = 0;
    int rc = sdra_file_read(&text, &len, path, NB_FILE_MAX, err);
    if (rc == SDRA_ENOTFOUND) { /* no examples: the rules alone */
        sdra_error_clear(err);
        return 0;
    }
    if (rc < 0)
        return rc;
    an_nb *m = calloc(1, sizeof *m);
    an_tok *toks = malloc(sizeof *toks * NB_TOKENS);
    if (m) {
        m->n_labels = n_labels;
        m->keys = calloc(NB_SLOTS, sizeof *m->keys);
        m->n = calloc((size_t)NB_SLOTS * (size_t)n_labels, sizeof *m->n);
    }
    if (!m || !m->keys || !m->n || !toks) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < n_labels; k++)
        sdra_strlcpy(m->labels[k], labels[k], sizeof m->labels[k]);
    int line_no = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        const char *tab = strchr(line, '\t');
        int y = tab ? label_index(m, line, (size_t)(tab - line)) : -1;
        if (y < 0) {
            rc = sdra_error_set(err, SDRA_EINVAL, "%s:%d: expected one of the labels %s..%s, a tab, then a sentence",
                                path, line_no, labels[0], labels[n_labels - 1]);
            goto done;
        }
        int n = an_tokenize(tab + 1, toks, NB_TOKENS);
        m->docs[y]++;
        count_arg a = {m, y};
        features(toks, 0, n, count_one, &a);
    }
    uint32_t pos = 0;
    for (int k = 1; k < n_labels; k++)
        pos += m->docs[k];
    if (!m->docs[0] || !pos)
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: needs sentences labelled %s and sentences with another label", path,
                            labels[0]);
done:
    free(toks);
    free(text);
    if (rc < 0) {
        an_nb_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

typedef struct score_arg {
    const an_nb *m;
    uint64_t total_pos;
    double s;                       /* any positive label against the negative one */
    double ll[AN_NB_LABELS_MAX];    /* each label's log-likelihood */
} score_arg;

static void score_one(void *arg, const char *key)
{
    score_arg *a = arg;
    const an_nb *m = a->m;
    long s = probe(m, key);
    if (s < 0 || !m->keys[s][0])
        return; /* never seen: says nothing either way */
    double v = (double)m->used;
    const uint32_t *n = m->n + (size_t)s * (size_t)m->n_labels;
    uint64_t pos = 0;
    for (int k = 0; k < m->n_labels; k++) {
        a->ll[k] += log((n[k] + 1.0) / ((double)m->total[k] + v));
        if (k)
            pos += n[k];
    }
    a->s += log((pos + 1.0) / ((double)a->total_pos + v)) - log((n[0] + 1.0) / ((double)m->total[0] + v));
}

double an_nb_score(const an_nb *m, const an_tok *toks, int from, int to, int *best)
{
    score_arg a = {.m = m};
    uint32_t docs_pos = 0;
    for (int k = 1; k < m->n_labels; k++) {
        a.total_pos += m->total[k];
        docs_pos += m->docs[k];
        a.ll[k] = m->docs[k] ? log((double)m->docs[k]) : -INFINITY;
    }
    a.s = log((double)docs_pos / (double)m->docs[0]);
    features(toks, from, to, score_one, &a);
    if (best) {
        *best = 1;
        for (int k = 2; k < m->n_labels; k++)
            if (a.ll[k] > a.ll[*best])
                *best = k;
    }
    return a.s;
}

const char *an_nb_label(const an_nb *m, int k)
{
    return k >= 0 && k < m->n_labels ? m->labels[k] : "";
}

void an_nb_free(an_nb *m)
{
    if (!m)
        return;
    free(m->keys);
    free(m->n);
    free(m);
}
