/*
 * learned.c - what the learned classifiers (nb.c) add to the rules' findings (docs/analysis.md,
 * "Learned findings"): objections and pain points in sentences no rule matched, marked
 * "learned": true.
 */
#include "rules_ctx.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define OBJ_NB_MIN 4.0  /* log-odds a sentence needs (docs/analysis.md, "Learned findings") */
#define PAIN_NB_MIN 1.5 /* log-odds a sentence needs (docs/analysis.md, "Learned findings") */

/* The first sentence of prospect utterance u from token b on that the classifiers read: 4 words
 * or more, and no rule of category cat in it. Returns its first token (its last in *e), or -1
 * when there is none (and for the rep's utterances). */
static int unruled_sentence(const actx *c, int u, const char *cat, int b, int *e)
{
    const uview *v = &c->v[u];
    if (v->role != SDRA_ROLE_PROSPECT)
        return -1;
    for (; b < v->n; b = *e + 1) {
        *e = an_sentence_end(v, b);
        if (*e - b + 1 >= 4 && !an_rule_in(c, u, cat, b, *e + 1))
            return b;
    }
    return -1;
}

/* Objections the rules did not see: in a prospect utterance, the first sentence of 4 words or
 * more without a rule objection that the classifier rates OBJ_NB_MIN or more, when its
 * likeliest type was not raised before (the sets label one objection per type and call; only
 * the past counts, so a live call finds what the analysis after it finds). One an utterance,
 * marked learned. */
void an_learned_objections(actx *c, json_t *arr)
{
    if (!c->obj_nb)
        return;
    size_t n_u = c->t->n_utts, i, n_rules = json_array_size(arr);
    json_t *o;
    for (size_t u = 0; u < n_u; u++) {
        const uview *v = &c->v[u];
        for (int b = 0, e; (b = unruled_sentence(c, (int)u, "objection", b, &e)) >= 0; b = e + 1) {
            int k = 0;
            if (an_nb_score(c->obj_nb, v->toks, b, e + 1, &k) < OBJ_NB_MIN)
                continue;
            const char *type = an_nb_label(c->obj_nb, k);
            if (an_objection_is_errand(c, (int)u, b, type))
                continue;
            bool dup = false; /* only what came before counts, so a live call finds the same */
            json_array_foreach(arr, i, o)
                dup = dup || (json_integer_value(json_object_get(o, "i")) <= (json_int_t)u &&
                              !strcmp(json_string_value(json_object_get(o, "type")), type));
            if (dup)
                continue;
            json_t *x = json_object();
            json_object_set_new(x, "type", json_string(type));
            an_evidence(x, c, (int)u);
            json_object_set_new(x, "text", an_utt_text(&c->t->utts[u]));
            json_object_set_new(x, "match", an_span_str(c->t->utts[u].text, v->toks[b].begin, v->toks[e].end));
            json_object_set_new(x, "learned", json_true()); /* compose does not answer it */
            json_array_append_new(arr, x);
            break;
        }
    }
    if (json_array_size(arr) > n_rules)
        an_sort_by_i(arr);
}

/* Pains the rules did not see: every prospect statement (not a question, 4 words or more) that
 * no pain rule matched and the classifier rates PAIN_NB_MIN or more - several in one utterance
 * when it tells several problems, as people do ("the counts are out by four percent, and the
 * night shift redoes them by hand"). Marked learned. */
void an_learned_pain(actx *c, json_t *arr)
{
    if (!c->pain_nb)
        return;
    size_t n_u = c->t->n_utts, n_rules = json_array_size(arr);
    for (size_t u = 0; u < n_u; u++) {
        const uview *v = &c->v[u];
        for (int b = 0, e; (b = unruled_sentence(c, (int)u, "pain", b, &e)) >= 0; b = e + 1) {
            if ((v->toks[e].flags & AN_TOK_QMARK) || an_nb_score(c->pain_nb, v->toks, b, e + 1, NULL) < PAIN_NB_MIN)
                continue;
            json_t *x = json_object();
            json_t *text = an_span_str(c->t->utts[u].text, v->toks[b].begin, v->toks[e].end);
            json_object_set_new(x, "text", text);
            json_object_set_new(x, "kind", json_string("problem"));
            json_object_set_new(x, "learned", json_true()); /* compose does not quote it */
            an_evidence(x, c, (int)u);
            json_object_set(x, "match", text);
            json_array_append_new(arr, x);
        }
    }
    if (json_array_size(arr) > n_rules)
        an_sort_by_i(arr);
}

#define NB_CACHE_MAX 16

/* Trained classifiers, kept for the life of the process and shared read-only by every analysis
 * (the live coach analyses a window at every utterance; training is most of a short call's
 * analysis): one per examples file version (path, size, modification time) and label set. */
static struct {
    char *key;
    an_nb *m;
} nb_cache[NB_CACHE_MAX];
static size_t nb_cached;
static pthread_mutex_t nb_mu = PTHREAD_MUTEX_INITIALIZER;

static an_nb *cache_find(const char *key)
{
    for (size_t i = 0; i < nb_cached; i++)
        if (!strcmp(nb_cache[i].key, key))
            return nb_cache[i].m;
    return NULL;
}

/* The classifier of path with labels: from the cache, or trained and cached. *owned gets it too
 * when the cache is full: the caller frees that one. A missing file gives NULL and 0. */
static int classifier(const an_nb **out, an_nb **owned, const char *path, const char *const *labels, int n,
                      sdra_error *err)
{
    *out = NULL;
    *owned = NULL;
    struct stat st;
    char key[8192];
    size_t len = 0;
    if (stat(path, &st) == 0) {
        len = (size_t)snprintf(key, sizeof key, "%s|%lld|%lld.%09ld", path, (long long)st.st_size,
                               (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
        for (int k = 0; k < n && len < sizeof key; k++)
            len += (size_t)snprintf(key + len, sizeof key - len, "|%s", labels[k]);
    }
    bool cacheable = len > 0 && len < sizeof key;
    if (cacheable) {
        pthread_mutex_lock(&nb_mu);
        *out = cache_find(key);
        pthread_mutex_unlock(&nb_mu);
        if (*out)
            return 0;
    }
    an_nb *m = NULL;
    int rc = an_nb_load(&m, path, labels, n, err);
    if (rc < 0 || !m)
        return rc;
    *out = m;
    if (!cacheable) {
        *owned = m;
        return 0;
    }
    pthread_mutex_lock(&nb_mu);
    const an_nb *have = cache_find(key);
    char *k = have ? NULL : strdup(key);
    if (have) { /* another analysis trained it meanwhile */
        an_nb_free(m);
        *out = have;
    } else if (k && nb_cached < NB_CACHE_MAX) {
        nb_cache[nb_cached].key = k;
        nb_cache[nb_cached++].m = m;
    } else {
        free(k);
        *owned = m;
    }
    pthread_mutex_unlock(&nb_mu);
    return 0;
}

/* The pain and objection classifiers of dir (nb.c): pain_examples.txt labels a sentence 0 or 1,
 * objection_examples.txt "none" or one of the objection types the rules know. */
int an_load_classifiers(actx *c, const char *dir, sdra_error *err)
{
    char path[4096];
    static const char *const pain[] = {"0", "1"};
    if ((size_t)snprintf(path, sizeof path, "%s/pain_examples.txt", dir) >= sizeof path)
        return sdra_error_set(err, SDRA_ELIMIT, "rules directory path too long");
    int rc = classifier(&c->pain_nb, &c->nb_owned[0], path, pain, 2, err);
    if (rc < 0)
        return rc;
    const char *types[AN_NB_LABELS_MAX] = {"none"};
    int n = 1;
    for (size_t r = 0; r < c->rules.n_rules; r++) {
        const an_rule *ru = &c->rules.rules[r];
        bool known = false;
        for (int k = 1; k < n && !known; k++)
            known = !strcmp(types[k], ru->label);
        if (strcmp(ru->category, "objection") || known)
            continue;
        if (n == AN_NB_LABELS_MAX)
            return sdra_error_set(err, SDRA_ELIMIT, "%s: more than %d objection types", ru->file, AN_NB_LABELS_MAX - 1);
        types[n++] = ru->label;
    }
    if (n < 2)
        return 0; /* no objection rules, no objection classifier */
    snprintf(path, sizeof path, "%s/objection_examples.txt", dir);
    return classifier(&c->obj_nb, &c->nb_owned[1], path, types, n, err);
}
