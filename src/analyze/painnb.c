/*
 * painnb.c - the learned half of pain-point detection (docs/analysis.md, "Pain points"): a
 * multinomial naive Bayes over a sentence's words and word pairs, trained when the rules load
 * on data/analyze/pain_examples.txt ("1<TAB>sentence" for a prospect sentence that states a
 * pain, "0<TAB>..." for one that does not; written by scripts/pain-examples.py from the
 * labelled dialogues). Tokens are the analyser's own (an_tokenize), so training and use see
 * the same words. Counting is the whole training: a few thousand sentences take milliseconds.
 */
#include "internal.h"

#include "sdra/util.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NB_SLOTS (1u << 16)        /* open addressing; at most 3/4 full */
#define NB_FEAT_MAX (2 * AN_TOK_MAX) /* "word word" */
#define NB_TOKENS 256              /* tokens of one training sentence */
#define NB_FILE_MAX (4u << 20)

typedef struct nb_slot {
    char key[NB_FEAT_MAX];
    uint32_t n[2]; /* occurrences in sentences without / with a pain */
} nb_slot;

struct an_nb {
    nb_slot *slots;
    size_t used;
    uint64_t total[2]; /* features counted per class */
    uint32_t docs[2];  /* sentences per class */
};

static uint32_t fnv(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Where key is, or the empty slot it would go in (NULL when the table is full and key absent). */
static nb_slot *probe(nb_slot *slots, const char *key)
{
    for (uint32_t i = fnv(key) & (NB_SLOTS - 1), k = 0; k < NB_SLOTS; k++, i = (i + 1) & (NB_SLOTS - 1))
        if (!slots[i].key[0] || !strcmp(slots[i].key, key))
            return &slots[i];
    return NULL;
}

/* key's slot, made when absent (NULL when the table is 3/4 full) */
static nb_slot *slot_add(an_nb *m, const char *key)
{
    nb_slot *s = probe(m->slots, key);
    if (s && !s->key[0]) {
        if (m->used >= NB_SLOTS / 4 * 3)
            return NULL;
        snprintf(s->key, sizeof s->key, "%s", key);
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
    nb_slot *s = slot_add(a->m, key);
    if (s) {
        s->n[a->y]++;
        a->m->total[a->y]++;
    }
}

int an_nb_load(an_nb **out, const char *path, sdra_error *err)
{
    *out = NULL;
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
    if (m)
        m->slots = calloc(NB_SLOTS, sizeof *m->slots);
    if (!m || !m->slots || !toks) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }
    int line_no = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        if ((line[0] != '0' && line[0] != '1') || line[1] != '\t') {
            rc = sdra_error_set(err, SDRA_EINVAL, "%s:%d: expected '0' or '1', a tab, then a sentence", path, line_no);
            goto done;
        }
        int y = line[0] - '0', n = an_tokenize(line + 2, toks, NB_TOKENS);
        m->docs[y]++;
        count_arg a = {m, y};
        features(toks, 0, n, count_one, &a);
    }
    if (!m->docs[0] || !m->docs[1])
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: needs sentences of both kinds", path);
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
    double s;
} score_arg;

static void score_one(void *arg, const char *key)
{
    score_arg *a = arg;
    const an_nb *m = a->m;
    const nb_slot *s = probe(m->slots, key);
    if (!s || !s->key[0])
        return; /* never seen: says nothing either way */
    double v = (double)m->used;
    a->s += log((s->n[1] + 1.0) / ((double)m->total[1] + v)) - log((s->n[0] + 1.0) / ((double)m->total[0] + v));
}

double an_nb_score(const an_nb *m, const an_tok *toks, int from, int to)
{
    score_arg a = {m, log((double)m->docs[1] / (double)m->docs[0])};
    features(toks, from, to, score_one, &a);
    return a.s;
}

void an_nb_free(an_nb *m)
{
    if (!m)
        return;
    free(m->slots);
    free(m);
}
