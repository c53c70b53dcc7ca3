/*
 * src/asr/asr.c - the recognizer handle: picks a backend table by name and forwards every
 * call to it, so that callers never branch on the backend. Also the utterance queue that
 * backends share.
 */
#include "asr/internal.h"
#include "sdra/buf.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sdra_asr {
    const struct sdra_asr_ops *ops;
    void *state;
    char *cache_key;         /* sdra_asr_cache: what its params were; NULL outside the cache */
    struct sdra_asr *next;   /* sdra_asr_cache: the idle list */
};

static const struct sdra_asr_ops *const backends[] = {&sdra_asr_sphinx_ops, &sdra_asr_whisper_http_ops};

sdra_asr_params sdra_asr_default_params(void)
{
    sdra_asr_params p = {
        .backend = "sphinx",
        .rate_hz = 16000,
        .domain_weight = 0.15f, /* merged at build time: CMakeLists.txt SDRA_MERGED_WEIGHT */
        .max_utterance_s = 30.0,
    };
    return p;
}

void sdra_asr_utt_release(sdra_asr_utt *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->n_words; i++)
        free(u->words[i].w);
    free(u->words);
    memset(u, 0, sizeof *u);
}

const struct sdra_asr_ops *sdra_asr_backend(const char *name)
{
    if (name && !strcmp(name, "pocketsphinx")) /* the engine's own name, as the CLI spells it */
        name = "sphinx";
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (name && !strcmp(name, backends[i]->name))
            return backends[i];
    return NULL;
}

int sdra_asr_create(sdra_asr **out, const sdra_asr_params *p, sdra_error *err)
{
    sdra_asr_params def = sdra_asr_default_params();
    if (!p)
        p = &def;
    const char *name = p->backend ? p->backend : "sphinx";
    const struct sdra_asr_ops *ops = sdra_asr_backend(name);
    if (!ops)
        return sdra_error_set(err, SDRA_EUNSUPPORTED,
                              "unknown ASR backend '%s' (pocketsphinx|whisper-http)", name);
    sdra_asr *a = calloc(1, sizeof *a);
    if (!a)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    a->ops = ops;
    int rc = ops->create(&a->state, p, err);
    if (rc < 0) {
        free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void sdra_asr_destroy(sdra_asr *asr)
{
    if (!asr)
        return;
    asr->ops->destroy(asr->state);
    free(asr->cache_key);
    free(asr);
}

int sdra_asr_start_stream(sdra_asr *asr, sdra_error *err)
{
    return asr->ops->start_stream(asr->state, err);
}

int sdra_asr_prime(sdra_asr *asr, const int16_t *pcm, size_t n, sdra_error *err)
{
    return n && asr->ops->prime ? asr->ops->prime(asr->state, pcm, n, err) : 0;
}

int sdra_asr_feed(sdra_asr *asr, const int16_t *pcm, size_t n, sdra_error *err)
{
    return n ? asr->ops->feed(asr->state, pcm, n, err) : 0;
}

int sdra_asr_poll(sdra_asr *asr, sdra_asr_utt *out, bool *ready, sdra_error *err)
{
    return asr->ops->poll(asr->state, out, ready, err);
}

int sdra_asr_end_stream(sdra_asr *asr, sdra_error *err)
{
    return asr->ops->end_stream(asr->state, err);
}

int sdra_asr_partial(sdra_asr *asr, char *text, size_t n, double *start_s, sdra_error *err)
{
    if (n)
        text[0] = '\0';
    *start_s = -1;
    return asr->ops->partial && n ? asr->ops->partial(asr->state, text, n, start_s, err) : 0;
}

int sdra_asr_set_mllr(sdra_asr *asr, const char *path, sdra_error *err)
{
    if (!asr->ops->set_mllr)
        return sdra_error_set(err, SDRA_EUNSUPPORTED, "%s: no acoustic model to transform", asr->ops->name);
    return asr->ops->set_mllr(asr->state, path, err);
}

const char *sdra_asr_name(const sdra_asr *asr)
{
    return asr->ops->name;
}

const char *sdra_asr_describe(const sdra_asr *asr)
{
    const char *d = asr->ops->describe ? asr->ops->describe(asr->state) : NULL;
    return d ? d : asr->ops->name;
}

/* ---- utterance queue ---------------------------------------------------------------------- */

int sdra_asr_queue_push(sdra_asr_queue *q, sdra_asr_utt *u, sdra_error *err)
{
    if (q->n >= SDRA_ASR_QUEUE_MAX) {
        sdra_asr_utt_release(u);
        return sdra_error_set(err, SDRA_ELIMIT, "more than %d utterances waiting to be polled",
                              SDRA_ASR_QUEUE_MAX);
    }
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 8;
        sdra_asr_utt *items = malloc(cap * sizeof *items);
        if (!items) {
            sdra_asr_utt_release(u);
            return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < q->n; i++)
            items[i] = q->items[(q->head + i) % q->cap];
        free(q->items);
        q->items = items;
        q->cap = cap;
        q->head = 0;
    }
    q->items[(q->head + q->n) % q->cap] = *u;
    q->n++;
    memset(u, 0, sizeof *u);
    return 0;
}

bool sdra_asr_queue_pop(sdra_asr_queue *q, sdra_asr_utt *out)
{
    if (!q->n)
        return false;
    *out = q->items[q->head];
    q->head = (q->head + 1) % q->cap;
    q->n--;
    return true;
}

void sdra_asr_queue_release(sdra_asr_queue *q)
{
    sdra_asr_utt u;
    while (sdra_asr_queue_pop(q, &u))
        sdra_asr_utt_release(&u);
    free(q->items);
    memset(q, 0, sizeof *q);
}

FILE *sdra_asr_temp_file(char *path, size_t cap, const char *prefix)
{
    if ((size_t)snprintf(path, cap, "%s-XXXXXX", prefix) >= cap)
        return NULL;
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(path);
    }
    return f;
}

FILE *sdra_asr_tmpdir_file(char *path, size_t cap, const char *stem)
{
    const char *tmpdir = getenv("TMPDIR");
    char prefix[4096];
    if ((size_t)snprintf(prefix, sizeof prefix, "%s/%s", tmpdir && *tmpdir ? tmpdir : "/tmp", stem) >= sizeof prefix)
        return NULL;
    return sdra_asr_temp_file(path, cap, prefix);
}

FILE *sdra_asr_private_file(char *path, size_t cap, const char *stem, int *keep_fd)
{
    *keep_fd = -1;
    FILE *f = sdra_asr_tmpdir_file(path, cap, stem);
    if (!f)
        return NULL;
    int keep = fcntl(fileno(f), F_DUPFD_CLOEXEC, 0); /* the file's life after fclose(f) */
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", keep);
    if (keep < 0 || access(proc, R_OK) != 0 || strlen(proc) >= cap) {
        if (keep >= 0)
            close(keep);
        return f; /* no /proc: a named file, removed by _done */
    }
    unlink(path);
    memcpy(path, proc, strlen(proc) + 1);
    *keep_fd = keep;
    return f;
}

void sdra_asr_private_file_done(const char *path, int keep_fd)
{
    if (keep_fd >= 0)
        close(keep_fd);
    else
        unlink(path);
}

/* ---- the cache of idle recognizers -------------------------------------------------------- */

struct sdra_asr_cache {
    pthread_mutex_t mu;
    sdra_asr *idle;          /* most recently put first */
    int n_idle, max_idle;
    long created, reused;
};

/* Appends one field to the key: its length first, so that no two params give the same key;
 * NULL and "" differ (a NULL path means the default). */
static int key_add(sdra_buf *b, const char *v)
{
    return v ? sdra_buf_printf(b, "%zu:%s|", strlen(v), v) : sdra_buf_puts(b, "-|");
}

/* Everything in p that shapes the recognizer; NULL when out of memory. */
static char *cache_key(const sdra_asr_params *p)
{
    sdra_buf b;
    sdra_buf_init(&b, 64 << 10);
    const struct sdra_asr_ops *ops = sdra_asr_backend(p->backend ? p->backend : "sphinx");
    int rc = key_add(&b, ops ? ops->name : p->backend);
    rc |= sdra_buf_printf(&b, "%d|%.6g|%.6g|%d|%p|", p->rate_hz, (double)p->domain_weight, p->max_utterance_s,
                          (int)p->fast_search, (void *)p->pool);
    rc |= key_add(&b, p->model_dir);
    rc |= key_add(&b, p->domain_lm_path);
    rc |= key_add(&b, p->vocab_path);
    rc |= key_add(&b, p->hmm_dir);
    rc |= key_add(&b, p->mllr_path);
    for (int i = 0; i < SDRA_ASR_HINT_PHRASES; i++)
        rc |= key_add(&b, p->hints[i]);
    char *key = rc == 0 ? sdra_buf_detach(&b) : NULL;
    sdra_buf_release(&b);
    return key;
}

int sdra_asr_cache_create(sdra_asr_cache **out, int max_idle, sdra_error *err)
{
    sdra_asr_cache *c = calloc(1, sizeof *c);
    if (!c)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    pthread_mutex_init(&c->mu, NULL);
    c->max_idle = max_idle > 0 ? max_idle : 0;
    *out = c;
    return 0;
}

void sdra_asr_cache_destroy(sdra_asr_cache *c)
{
    if (!c)
        return;
    while (c->idle) {
        sdra_asr *a = c->idle;
        c->idle = a->next;
        sdra_asr_destroy(a);
    }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int sdra_asr_cache_get(sdra_asr_cache *c, const sdra_asr_params *p, sdra_asr **out, sdra_error *err)
{
    char *key = cache_key(p);
    if (!key)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    sdra_asr *a = NULL;
    pthread_mutex_lock(&c->mu);
    for (sdra_asr **pp = &c->idle; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->cache_key, key)) {
            a = *pp;
            *pp = a->next;
            a->next = NULL;
            c->n_idle--;
            c->reused++;
            break;
        }
    pthread_mutex_unlock(&c->mu);
    int rc = 0;
    if (!a) {
        if ((rc = sdra_asr_create(&a, p, err)) < 0) {
            free(key);
            return rc;
        }
        a->cache_key = key;
        key = NULL;
        pthread_mutex_lock(&c->mu);
        c->created++;
        pthread_mutex_unlock(&c->mu);
    }
    free(key);
    if ((rc = sdra_asr_start_stream(a, err)) < 0) {
        sdra_asr_destroy(a);
        return rc;
    }
    *out = a;
    return 0;
}

void sdra_asr_cache_put(sdra_asr_cache *c, sdra_asr *asr)
{
    if (!asr)
        return;
    if (!c || !asr->cache_key) {
        sdra_asr_destroy(asr);
        return;
    }
    sdra_asr *evict = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->max_idle == 0) {
        evict = asr;
    } else {
        asr->next = c->idle;
        c->idle = asr;
        if (++c->n_idle > c->max_idle) { /* the one idle longest is last */
            sdra_asr **pp = &c->idle;
            while ((*pp)->next)
                pp = &(*pp)->next;
            evict = *pp;
            *pp = NULL;
            c->n_idle--;
        }
    }
    pthread_mutex_unlock(&c->mu);
    sdra_asr_destroy(evict); /* outside the lock: freeing a model takes a while */
}

void sdra_asr_cache_counts(sdra_asr_cache *c, long *created, long *reused, int *idle)
{
    pthread_mutex_lock(&c->mu);
    if (created)
        *created = c->created;
    if (reused)
        *reused = c->reused;
    if (idle)
        *idle = c->n_idle;
    pthread_mutex_unlock(&c->mu);
}
