/*
 * src/asr/lm_merge.c - the generic language model and the domain model as one model
 * (sdra_asr_lm_merge in sdra/asr.h).
 *
 * Interpolating at run time (ngram_model_set) scores every word in both models and adds the
 * two; that cost 11 % more instructions than the generic model alone (docs/asr.md). This
 * writes the same mixture once,
 * as one trigram model, in the standard static way:
 *   - every n-gram of either model is kept, with p(w|h) = (1 - l) pG(w|h) + l pS(w|h), where
 *     each side backs off in its own model (a word a model lacks has probability 0 there, and
 *     a history word it lacks cuts the history short, as the run-time set does);
 *   - each history's backoff weight is recomputed so that its distribution sums to one:
 *     bo(h) = (1 - sum p(w|h)) / (1 - sum p(w|h')) over the words seen after h, where h' is h
 *     without its oldest word.
 * For the n-grams either model holds, the result is the run-time mixture exactly; for the
 * others it backs off once, in the mixture, rather than in each model.
 *
 * The generic model is Debian's en-us.lm.bin, in sphinxbase's trie format. sphinxbase cannot
 * list its n-grams (it has no public iterator, and its ARPA writer aborts on this file), so
 * read_trie walks the file's tries itself (layout: sphinxbase lm_trie.c): a header, the order
 * and counts, the quantizer's tables, the unigrams {float prob, float backoff, uint32 next},
 * then bit-packed bigram records {word, 16-bit prob, 16-bit backoff, next} and trigram
 * records {word, 16-bit prob}, then the words. The tries run backwards, as the scorer reads
 * them (get_available_prob): under a unigram w are the words h before it (the bigram h w),
 * and under that record the words before h (the trigram g h w). Only the words and structure are taken from
 * it; every probability is asked of sphinxbase. The mixture is written as ARPA to a temporary
 * file and converted to the trie format by sphinxbase.
 */
#include "asr/internal.h"
#include "sdra/util.h"

#include <sphinxbase/err.h>
#include <sphinxbase/logmath.h>
#include <sphinxbase/ngram_model.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char trie_header[] = "Trie Language Model";

typedef struct {
    uint32_t w[3]; /* word ids, oldest first; unused slots 0 */
    double p;      /* probability in the mixture */
    double bo;     /* backoff weight (histories only) */
} gram;

typedef struct {
    gram *g;
    size_t n, cap;
} gram_list;

typedef struct {
    char **words; /* merged vocabulary: the generic model's ids first, then the domain's new words */
    size_t n_words, n_generic;
    gram_list ng[3]; /* unigrams (by id), bigrams, trigrams (sorted by ids) */
    gram_list ctx[2]; /* the domain model's histories of one and two words (refine) */
} merged;

static int push(gram_list *l, const uint32_t *w, int order)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        gram *g = realloc(l->g, cap * sizeof *g);
        if (!g)
            return -1;
        l->g = g;
        l->cap = cap;
    }
    gram *g = &l->g[l->n++];
    memset(g, 0, sizeof *g);
    memcpy(g->w, w, (size_t)order * sizeof *w);
    return 0;
}

static int cmp_gram(const void *a, const void *b)
{
    const gram *x = a, *y = b;
    for (int i = 0; i < 3; i++)
        if (x->w[i] != y->w[i])
            return x->w[i] < y->w[i] ? -1 : 1;
    return 0;
}

static void sort_unique(gram_list *l)
{
    if (!l->n)
        return;
    qsort(l->g, l->n, sizeof *l->g, cmp_gram);
    size_t k = 1;
    for (size_t i = 1; i < l->n; i++)
        if (cmp_gram(&l->g[i], &l->g[k - 1]))
            l->g[k++] = l->g[i];
    l->n = k;
}

static gram *find(const gram_list *l, const uint32_t *w, int order)
{
    gram key = {{0, 0, 0}, 0, 0};
    memcpy(key.w, w, (size_t)order * sizeof *w);
    return bsearch(&key, l->g, l->n, sizeof *l->g, cmp_gram);
}

/* ---- the generic model's structure, from its trie file ---- */

static unsigned required_bits(uint32_t max)
{
    unsigned b = 0;
    while (max) {
        b++;
        max >>= 1;
    }
    return b;
}

static uint32_t read_bits(const uint8_t *mem, size_t mem_size, uint64_t bit, unsigned len)
{
    uint64_t v = 0;
    size_t at = (size_t)(bit >> 3);
    size_t take = at + 8 <= mem_size ? 8 : mem_size - at;
    memcpy(&v, mem + at, take); /* little-endian, as sphinxbase writes on x86 and arm */
    return (uint32_t)((v >> (bit & 7)) & ((1ULL << len) - 1));
}

typedef struct {
    float prob, bo;
    uint32_t next;
} trie_unigram;

static int read_trie(merged *m, const char *path, sdra_error *err)
{
    int rc = 0;
    uint8_t *mem = NULL;
    trie_unigram *uni = NULL;
    char *names = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return sdra_error_set(err, SDRA_ENOTFOUND, "%s: cannot open the language model", path);
    char hdr[sizeof trie_header] = "";
    uint8_t order = 0;
    uint32_t counts[3] = {0, 0, 0};
    if (fread(hdr, 1, sizeof trie_header - 1, f) != sizeof trie_header - 1 ||
        memcmp(hdr, trie_header, sizeof trie_header - 1) || fread(&order, 1, 1, f) != 1 ||
        order != 3 || fread(counts, sizeof *counts, 3, f) != 3 || !counts[0] || !counts[1] ||
        !counts[2] || counts[0] >= (1u << 25) || counts[2] >= (1u << 25)) {
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: not a trigram model in sphinxbase's trie format", path);
        goto done;
    }
    /* the quantizer: an int, then (order - 2) prob + backoff tables and one prob table of 2^16 floats */
    long quant = (long)sizeof(int) + (long)((1 << 16) * 2 + (1 << 16)) * (long)sizeof(float);
    if (fseek(f, quant, SEEK_CUR) != 0)
        goto bad;
    if (!(uni = malloc(((size_t)counts[0] + 1) * sizeof *uni)))
        goto nomem;
    if (fread(uni, sizeof *uni, (size_t)counts[0] + 1, f) != (size_t)counts[0] + 1)
        goto bad;
    unsigned word_bits = required_bits(counts[0]), next_bits = required_bits(counts[2]);
    unsigned mid_bits = word_bits + 32 + next_bits, long_bits = word_bits + 16;
    size_t mid_size = (((size_t)counts[1] + 1) * mid_bits + 7) / 8 + 8;
    size_t long_size = (((size_t)counts[2] + 1) * long_bits + 7) / 8 + 8;
    if (!(mem = malloc(mid_size + long_size)))
        goto nomem;
    if (fread(mem, 1, mid_size + long_size, f) != mid_size + long_size)
        goto bad;
    int32_t k = 0;
    if (fread(&k, sizeof k, 1, f) != 1 || k <= 0 || !(names = malloc((size_t)k + 1)))
        goto bad;
    if (fread(names, 1, (size_t)k, f) != (size_t)k)
        goto bad;
    names[k] = 0;
    if (!(m->words = calloc(counts[0], sizeof *m->words)))
        goto nomem;
    for (int32_t at = 0; m->n_words < counts[0] && at < k; at += (int32_t)strlen(names + at) + 1)
        if (!(m->words[m->n_words++] = strdup(names + at)))
            goto nomem;
    if (m->n_words != counts[0])
        goto bad;
    m->n_generic = m->n_words;

    const uint8_t *mid = mem, *lng = mem + mid_size;
    for (uint32_t u = 0; u < counts[0]; u++) {
        uint32_t w1[1] = {u};
        if (push(&m->ng[0], w1, 1) < 0)
            goto nomem;
        uint32_t b0 = uni[u].next, b1 = uni[u + 1].next;
        if (b0 > b1 || b1 > counts[1])
            goto bad;
        for (uint32_t b = b0; b < b1; b++) {
            uint64_t at = (uint64_t)b * mid_bits;
            uint32_t v = read_bits(mid, mid_size, at, word_bits);
            uint32_t t0 = read_bits(mid, mid_size, at + word_bits + 32, next_bits);
            uint32_t t1 = read_bits(mid, mid_size, at + mid_bits + word_bits + 32, next_bits);
            uint32_t w2[2] = {v, u};
            if (v >= counts[0] || t0 > t1 || t1 > counts[2] || push(&m->ng[1], w2, 2) < 0)
                goto bad;
            for (uint32_t t = t0; t < t1; t++) {
                uint32_t w3[3] = {read_bits(lng, long_size, (uint64_t)t * long_bits, word_bits), v, u};
                if (w3[0] >= counts[0] || push(&m->ng[2], w3, 3) < 0)
                    goto bad;
            }
        }
    }
    goto done;
nomem:
    rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    goto done;
bad:
    rc = sdra_error_set(err, SDRA_EINVAL, "%s: truncated or inconsistent trie language model", path);
done:
    free(mem);
    free(uni);
    free(names);
    fclose(f);
    return rc;
}

/* ---- the domain model's n-grams, from its ARPA text ---- */

static uint32_t word_id(merged *m, ngram_model_t *generic, const char *w)
{
    int32 id = ngram_wid(generic, w);
    if (id >= 0 && (size_t)id < m->n_generic && !strcmp(m->words[id], w))
        return (uint32_t)id;
    for (size_t i = m->n_generic; i < m->n_words; i++)
        if (!strcmp(m->words[i], w))
            return (uint32_t)i;
    char **words = realloc(m->words, (m->n_words + 1) * sizeof *words);
    if (!words)
        return UINT32_MAX;
    m->words = words;
    if (!(m->words[m->n_words] = strdup(w)))
        return UINT32_MAX;
    uint32_t u[1] = {(uint32_t)m->n_words};
    if (push(&m->ng[0], u, 1) < 0)
        return UINT32_MAX;
    return (uint32_t)m->n_words++;
}

static int read_arpa_grams(merged *m, ngram_model_t *generic, const char *path, sdra_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return sdra_error_set(err, SDRA_ENOTFOUND, "%s: cannot open the domain model", path);
    char *line = NULL;
    size_t cap = 0;
    int order = 0, rc = 0;
    while (rc == 0 && getline(&line, &cap, f) > 0) {
        if (line[0] == '\\') {
            order = (line[1] >= '1' && line[1] <= '3' && !strncmp(line + 2, "-grams:", 7)) ? line[1] - '0' : 0;
            continue;
        }
        if (!order)
            continue;
        char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save); /* the probability */
        uint32_t w[3];
        int n = 0;
        while (tok && n < order && (tok = strtok_r(NULL, " \t\r\n", &save)))
            if ((w[n++] = word_id(m, generic, tok)) == UINT32_MAX)
                rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        if (rc == 0 && n == order && order > 1 &&
            (push(&m->ng[order - 1], w, order) < 0 || push(&m->ctx[order - 2], w, order - 1) < 0))
            rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    }
    free(line);
    fclose(f);
    return rc;
}

/* ---- probabilities ---- */

/* p(w[order-1] | w[0..order-2]) in model lm, whose ids for the merged words are in map
 * (-1 for a word it lacks). The history stops at the first word the model lacks. */
static double model_prob(ngram_model_t *lm, logmath_t *lmath, const int32 *map, const uint32_t *w, int order)
{
    int32 wid = map[w[order - 1]];
    if (wid < 0)
        return 0;
    int32 hist[2];
    int n_hist = 0;
    for (int i = order - 2; i >= 0 && map[w[i]] >= 0; i--)
        hist[n_hist++] = map[w[i]];
    int32 used = 0;
    int32 score = ngram_ng_prob(lm, wid, hist, n_hist, &used);
    return logmath_exp(lmath, score);
}

/* p(w | w[1..order-2]) in the mixture, backing off through the merged lower orders. */
static double mixed_lower(const merged *m, const uint32_t *w, int order)
{
    if (order == 2)
        return m->ng[0].g[w[1]].p;
    const gram *bg = find(&m->ng[1], w + 1, 2);
    if (bg)
        return bg->p;
    return m->ng[0].g[w[1]].bo * m->ng[0].g[w[2]].p;
}

static int cmp_prefix(const gram *a, const gram *b, int k)
{
    for (int i = 0; i < k; i++)
        if (a->w[i] != b->w[i])
            return a->w[i] < b->w[i] ? -1 : 1;
    return 0;
}

/* Recomputes the backoff weight of every history of the given order (1 or 2): both lists are
 * sorted, so each history's successors are the next run of the longer list. */
static void backoffs(merged *m, int hist_order)
{
    gram_list *hist = &m->ng[hist_order - 1], *succ = &m->ng[hist_order];
    size_t s = 0;
    for (size_t i = 0; i < hist->n; i++) {
        gram *h = &hist->g[i];
        double sum = 0, lower = 0;
        while (s < succ->n && cmp_prefix(&succ->g[s], h, hist_order) < 0)
            s++;
        bool any = false;
        for (; s < succ->n && cmp_prefix(&succ->g[s], h, hist_order) == 0; s++) {
            sum += succ->g[s].p;
            lower += mixed_lower(m, succ->g[s].w, hist_order + 1);
            any = true;
        }
        double num = 1 - sum, den = 1 - lower;
        h->bo = any ? (num > 1e-9 ? num : 1e-9) / (den > 1e-9 ? den : 1e-9) : 1;
    }
}

/* Static interpolation backs off once, in the mixture; where the domain model backs off to a
 * word it makes far likelier than the generic model does ("thursday" after "i" in sales
 * talk), that loses most of the domain's share. So after every history of the domain model,
 * each domain word whose backed-off mixture probability is off by more than REFINE_LOG10
 * from the run-time mixture's is added as an n-gram with the exact value; the caller then
 * recomputes the backoff weights. Returns the number added, or -1 (out of memory). */
#define REFINE_LOG10 0.05
static long refine(merged *m, int hist_order, ngram_model_t *g, ngram_model_t *s, logmath_t *lmath,
                   const int32 *gmap, const int32 *smap, double weight)
{
    gram_list *ctx = &m->ctx[hist_order - 1], *level = &m->ng[hist_order];
    size_t before = level->n;
    /* what refine adds is appended unsorted; lookups go to the sorted part before it */
    gram_list sorted = {level->g, before, before};
    uint32_t start = UINT32_MAX; /* "<s>" never follows a history */
    for (size_t w = 0; w < m->n_words && start == UINT32_MAX; w++)
        if (!strcmp(m->words[w], "<s>"))
            start = (uint32_t)w;
    for (size_t c = 0; c < ctx->n; c++) {
        const gram *h = find(&m->ng[hist_order - 1], ctx->g[c].w, hist_order);
        if (!h)
            continue;
        for (size_t w = 0; w < m->n_words; w++) {
            if (smap[w] < 0 || w == start)
                continue;
            uint32_t key[3];
            memcpy(key, h->w, (size_t)hist_order * sizeof *key);
            key[hist_order] = (uint32_t)w;
            sorted.g = level->g; /* push may have moved the array */
            if (find(&sorted, key, hist_order + 1))
                continue;
            double exact = (1 - weight) * model_prob(g, lmath, gmap, key, hist_order + 1) +
                           weight * model_prob(s, lmath, smap, key, hist_order + 1);
            double backed = h->bo * mixed_lower(m, key, hist_order + 1);
            if (exact > 0 && backed > 0 && fabs(log10(exact / backed)) <= REFINE_LOG10)
                continue;
            if (push(level, key, hist_order + 1) < 0)
                return -1;
            level->g[level->n - 1].p = exact;
        }
    }
    long added = (long)(level->n - before);
    sort_unique(level);
    return added;
}

static double lg(double p)
{
    return p > 0 ? log10(p) : -99;
}

static int write_arpa(const merged *m, FILE *out, double weight)
{
    fprintf(out, "# sdra: generic model interpolated with the domain model (weight %.4f)\n\n\\data\\\n", weight);
    for (int o = 0; o < 3; o++)
        fprintf(out, "ngram %d=%zu\n", o + 1, m->ng[o].n);
    for (int o = 0; o < 3; o++) {
        fprintf(out, "\n\\%d-grams:\n", o + 1);
        for (size_t i = 0; i < m->ng[o].n; i++) {
            const gram *g = &m->ng[o].g[i];
            fprintf(out, "%.6f", lg(g->p));
            for (int k = 0; k <= o; k++)
                fprintf(out, "\t%s", m->words[g->w[k]]);
            if (o < 2)
                fprintf(out, "\t%.6f", lg(g->bo));
            fputc('\n', out);
        }
    }
    fprintf(out, "\n\\end\\\n");
    return ferror(out) ? -1 : 0;
}

int sdra_asr_lm_merge(const char *generic_path, const char *domain_path, double weight,
                      const char *out_path, sdra_error *err)
{
    int rc = 0;
    merged m = {0};
    int32 *gmap = NULL, *smap = NULL;
    ngram_model_t *g = NULL, *s = NULL, *out = NULL;
    char tmp[4096] = "", bin[4112] = "";
    if (!(weight > 0 && weight < 1))
        return sdra_error_set(err, SDRA_EINVAL, "lm merge: weight %.3f is not in (0, 1)", weight);
    /* the model is renamed into place: only a regular file (or a new path) may be replaced */
    if ((rc = sdra_file_write_check(out_path, err)) != 0)
        return rc < 0 ? rc : sdra_error_set(err, SDRA_EINVAL, "%s: not a regular file", out_path);
    err_set_logfp(NULL);
    logmath_t *lmath = logmath_init(1.0001, 0, 0);
    if (!lmath)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    /* the file is checked whole (read_trie) before sphinxbase, which trusts it, reads it */
    if ((rc = read_trie(&m, generic_path, err)) < 0)
        goto done;
    if (!(g = ngram_model_read(NULL, generic_path, NGRAM_BIN, lmath))) {
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: cannot load the language model", generic_path);
        goto done;
    }
    if (!(s = ngram_model_read(NULL, domain_path, NGRAM_ARPA, lmath))) {
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: not a valid ARPA language model", domain_path);
        goto done;
    }
    if ((rc = read_arpa_grams(&m, g, domain_path, err)) < 0)
        goto done;
    for (int o = 1; o < 3; o++)
        sort_unique(&m.ng[o]);
    if (!(gmap = malloc(m.n_words * sizeof *gmap)) || !(smap = malloc(m.n_words * sizeof *smap))) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < m.n_words; i++) {
        int32 id = ngram_wid(s, m.words[i]);
        smap[i] = id >= 0 && !strcmp(ngram_word(s, id), m.words[i]) ? id : -1;
        gmap[i] = i < m.n_generic ? (int32)i : -1;
    }
    for (int o = 0; o < 3; o++)
        for (size_t i = 0; i < m.ng[o].n; i++) {
            gram *x = &m.ng[o].g[i];
            x->p = (1 - weight) * model_prob(g, lmath, gmap, x->w, o + 1) +
                   weight * model_prob(s, lmath, smap, x->w, o + 1);
        }
    for (int o = 0; o < 2; o++)
        sort_unique(&m.ctx[o]);
    long added[2] = {0, 0};
    for (int h = 1; h <= 2; h++) {
        backoffs(&m, h);
        if ((added[h - 1] = refine(&m, h, g, s, lmath, gmap, smap, weight)) < 0) {
            rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
            goto done;
        }
        backoffs(&m, h);
    }
    if (getenv("SDRA_LM_MERGE_VERBOSE"))
        fprintf(stderr, "lm merge: %ld bigrams and %ld trigrams added where backing off was off\n",
                added[0], added[1]);

    /* beside out_path, so that the final rename stays on one file system */
    char prefix[4096];
    snprintf(prefix, sizeof prefix, "%s.arpa", out_path);
    FILE *f = sdra_asr_temp_file(tmp, sizeof tmp, prefix);
    if (!f) {
        tmp[0] = 0;
        rc = sdra_error_set(err, SDRA_EIO, "%s: cannot write a temporary file", out_path);
        goto done;
    }
    int wr = write_arpa(&m, f, weight);
    if ((fclose(f) != 0) | (wr < 0)) {
        rc = sdra_error_set(err, SDRA_EIO, "%s: cannot write the merged model", tmp);
        goto done;
    }
    /* converted next to out_path, then renamed: a failed build never leaves half a model */
    snprintf(bin, sizeof bin, "%s.bin", tmp);
    if (!(out = ngram_model_read(NULL, tmp, NGRAM_ARPA, lmath)) ||
        ngram_model_write(out, bin, NGRAM_BIN) < 0 || rename(bin, out_path) < 0)
        rc = sdra_error_set(err, SDRA_EIO, "%s: cannot convert the merged model", out_path);
done:
    if (tmp[0]) {
        unlink(tmp);
        unlink(bin);
    }
    for (size_t i = 0; i < m.n_words; i++)
        free(m.words[i]);
    free(m.words);
    for (int o = 0; o < 3; o++)
        free(m.ng[o].g);
    for (int o = 0; o < 2; o++)
        free(m.ctx[o].g);
    free(gmap);
    free(smap);
    if (out)
        ngram_model_free(out);
    if (s)
        ngram_model_free(s);
    if (g)
        ngram_model_free(g);
    logmath_free(lmath);
    return rc;
}
