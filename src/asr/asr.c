/*
 * src/asr/asr.c - the recognizer handle: picks a backend table by name and forwards every
 * call to it, so that callers never branch on the backend. Also the utterance queue that
 * backends share.
 */
#include "asr/internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sdra_asr {
    const struct sdra_asr_ops *ops;
    void *state;
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
