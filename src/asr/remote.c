/*
 * src/asr/remote.c - the endpoint scheduler of the whisper-http backend (sdra_asr_pool in
 * sdra/asr.h): which endpoint gets a chunk, retries, failover, and the request itself.
 *
 * Every request goes through sdra_httpc_do with one attempt: the retry loop is here, not in
 * the client, so that a retry can go to another endpoint. State per endpoint, under the pool's
 * mutex: requests in flight (at most max_in_flight), failures in a row, and two times before
 * which it is not used: rest_until (Retry-After of a 429/503: the server is alive but busy,
 * so it is not counted as down) and down_until (down_after failures in a row; after down_ms it
 * gets a request again, and one success makes it healthy). A request waits on the condition
 * variable while every usable endpoint is full, and sleeps until the first one comes back
 * when none is usable. When every endpoint is down the chunk fails at once with the last
 * error rather than waiting down_ms.
 *
 * The reply must be a JSON object with a "segments" array or a "text" string; anything else
 * (malformed, truncated, an HTML error page with 200) is a transient failure of that endpoint.
 */
#include "asr/internal.h"
#include "sdra/audio.h"
#include "sdra/httpc.h"
#include "sdra/log.h"
#include "sdra/util.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define URL_MAX 1024
#define PROMPT_MAX 800

typedef struct endpoint {
    char url[URL_MAX];   /* {base}/audio/transcriptions */
    char shown[URL_MAX]; /* the same without userinfo, for messages */
    int in_flight;
    int fails_in_row;
    double rest_until, down_until;
    long n_requests;
} endpoint;

struct sdra_asr_pool {
    sdra_asr_remote_params p;
    char *model, *language, *key, *prompt;
    endpoint ep[SDRA_ASR_MAX_URLS];
    int n_ep;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sdra_asr_stats stats;
    unsigned seed;
};

sdra_asr_remote_params sdra_asr_remote_default_params(void)
{
    sdra_asr_remote_params p = {
        .model = "whisper-1",
        .timeout_ms = 120000,
        .max_in_flight = 2,
        .max_attempts = 6,
        .backoff_ms = 500,
        .max_backoff_ms = 10000,
        .down_after = 3,
        .down_ms = 30000,
        .max_response_bytes = 4u << 20,
    };
    return p;
}

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

void sdra_asr_pool_destroy(sdra_asr_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->cv);
    free(pool->model);
    free(pool->language);
    if (pool->key) {
        memset(pool->key, 0, strlen(pool->key));
        free(pool->key);
    }
    free(pool->prompt);
    free(pool);
}

int sdra_asr_pool_create(sdra_asr_pool **out, const sdra_asr_remote_params *p, sdra_error *err)
{
    *out = NULL;
    if (!p || p->n_urls < 1)
        return sdra_error_set(err, SDRA_EINVAL, "whisper-http needs an endpoint URL (--asr-url)");
    if (p->n_urls > SDRA_ASR_MAX_URLS)
        return sdra_error_set(err, SDRA_EINVAL, "at most %d ASR endpoints", SDRA_ASR_MAX_URLS);
    if (p->max_in_flight < 1 || p->max_in_flight > 64 || p->max_attempts < 1 ||
        p->max_attempts > 100 || p->timeout_ms < 100 || p->down_after < 1 || p->backoff_ms < 0 ||
        p->max_backoff_ms < p->backoff_ms || p->down_ms < 0 || p->max_response_bytes < 1024)
        return sdra_error_set(err, SDRA_EINVAL, "whisper-http: a scheduler setting is out of range");
    if (p->model && (!*p->model || strlen(p->model) > 200))
        return sdra_error_set(err, SDRA_EINVAL, "whisper-http: bad model name");
    if (p->language && (strlen(p->language) > 16 || strpbrk(p->language, "\r\n\"")))
        return sdra_error_set(err, SDRA_EINVAL, "whisper-http: bad language '%s'", p->language);
    sdra_asr_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->cv, NULL);
    pool->p = *p;
    const char *key = p->api_key ? p->api_key : getenv("SDRA_ASR_API_KEY");
    pool->model = strdup(p->model ? p->model : "whisper-1");
    pool->language = dup_or_null(p->language);
    pool->key = dup_or_null(key);
    pool->prompt = dup_or_null(p->prompt);
    if (!pool->model || (p->language && *p->language && !pool->language) || (key && *key && !pool->key) ||
        (p->prompt && *p->prompt && !pool->prompt)) {
        sdra_asr_pool_destroy(pool);
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    }
    if (pool->prompt && strlen(pool->prompt) > PROMPT_MAX) {
        size_t n = PROMPT_MAX;
        while (n > 0 && ((unsigned char)pool->prompt[n] & 0xC0) == 0x80) /* whole UTF-8 chars */
            n--;
        pool->prompt[n] = '\0';
    }
    pool->p.model = pool->model;
    pool->p.language = pool->language;
    pool->p.api_key = NULL;
    pool->p.prompt = pool->prompt;
    for (int i = 0; i < p->n_urls; i++) {
        const char *u = p->urls[i];
        endpoint *e = &pool->ep[i];
        char shown[URL_MAX];
        sdra_httpc_redact_url(u ? u : "", shown, sizeof shown);
        if (!u || (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) ||
            strlen(u) + 32 > URL_MAX || strpbrk(u, " \t\r\n")) {
            sdra_asr_pool_destroy(pool);
            return sdra_error_set(err, SDRA_EINVAL,
                                  "--asr-url '%s': want http(s)://HOST[:PORT]/.../v1", shown);
        }
        size_t n = strlen(u);
        while (n > 0 && u[n - 1] == '/')
            n--;
        snprintf(e->url, sizeof e->url, "%.*s/audio/transcriptions", (int)n, u);
        sdra_httpc_redact_url(e->url, e->shown, sizeof e->shown);
    }
    pool->n_ep = p->n_urls;
    pool->seed = (unsigned)time(NULL);
    *out = pool;
    return 0;
}

void sdra_asr_pool_get_stats(sdra_asr_pool *pool, sdra_asr_stats *out)
{
    pthread_mutex_lock(&pool->mu);
    *out = pool->stats;
    pthread_mutex_unlock(&pool->mu);
}

void sdra_asr_pool_count(sdra_asr_pool *pool, long silent_chunks, long silence, long repetition)
{
    pthread_mutex_lock(&pool->mu);
    pool->stats.silent_chunks_skipped += silent_chunks;
    pool->stats.silence_dropped += silence;
    pool->stats.repetition_dropped += repetition;
    pthread_mutex_unlock(&pool->mu);
}

const char *sdra_asr_pool_model(const sdra_asr_pool *pool)
{
    return pool->model;
}

/* 16 kHz mono 16-bit WAV of pcm. */
static unsigned char *wav_encode(const int16_t *pcm, size_t n, size_t *len)
{
    size_t data = n * 2;
    unsigned char *b = malloc(SDRA_AUDIO_WAV_HEADER_BYTES + data);
    if (!b)
        return NULL;
    sdra_audio_wav_header(b, 1, 16000, (uint32_t)data);
    unsigned char *d = b + SDRA_AUDIO_WAV_HEADER_BYTES;
    for (size_t i = 0; i < n; i++) { /* little-endian whatever the host */
        uint16_t s = (uint16_t)pcm[i];
        d[2 * i] = (unsigned char)(s & 0xff);
        d[2 * i + 1] = (unsigned char)(s >> 8);
    }
    *len = SDRA_AUDIO_WAV_HEADER_BYTES + data;
    return b;
}

/* The endpoint for the next attempt, or -1 when none can take it now: then *all_down says
 * every endpoint is down, else *wait_s > 0 is when the first resting one comes back, or < 0
 * when they are all just full (wait for a request to finish). */
static int pick_locked(sdra_asr_pool *pool, int avoid, double now, double *wait_s, bool *all_down)
{
    int best = -1;
    double soonest = -1;
    bool any_up = false;
    for (int i = 0; i < pool->n_ep; i++) {
        endpoint *e = &pool->ep[i];
        bool down = now < e->down_until;
        if (!down)
            any_up = true;
        double back = e->down_until > e->rest_until ? e->down_until : e->rest_until;
        if (now < back) {
            if (!down && (soonest < 0 || back - now < soonest))
                soonest = back - now;
            continue;
        }
        if (e->in_flight >= pool->p.max_in_flight)
            continue;
        if (best < 0)
            best = i;
        else {
            endpoint *b = &pool->ep[best];
            /* least loaded; then not the one that just failed this chunk; then least used */
            int key_e = e->in_flight * 4 + (i == avoid) * 2, key_b = b->in_flight * 4 + (best == avoid) * 2;
            if (key_e < key_b || (key_e == key_b && e->n_requests < b->n_requests))
                best = i;
        }
    }
    *all_down = !any_up;
    if (best >= 0)
        return best;
    *wait_s = soonest; /* < 0: only full endpoints; wait for a request to finish */
    return -1;
}

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - floor(s)) * 1e9)};
    nanosleep(&ts, NULL);
}

static void timed_wait(pthread_cond_t *cv, pthread_mutex_t *mu, double s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double t = (double)ts.tv_sec + ts.tv_nsec / 1e9 + s;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - floor(t)) * 1e9);
    pthread_cond_timedwait(cv, mu, &ts);
}

/* The reply's JSON when it is a verbose_json-like object, else NULL with why. */
static json_t *parse_reply(const sdra_httpc_response *r, char *why, size_t n_why)
{
    json_error_t je;
    json_t *root = json_loadb(r->body ? r->body : "", r->body_len, 0, &je);
    if (!root) {
        snprintf(why, n_why, "the reply is not JSON (%s)", je.text);
        return NULL;
    }
    json_t *segs = json_object_get(root, "segments");
    if (!json_is_object(root) || (!json_is_array(segs) && !json_is_string(json_object_get(root, "text")))) {
        snprintf(why, n_why, "the reply is not verbose_json (no segments, no text)");
        json_decref(root);
        return NULL;
    }
    return root;
}

/* Non-transient: retrying, here or elsewhere, would get the same answer. */
static bool permanent(int rc, long status)
{
    if (rc == SDRA_EINVAL || rc == SDRA_EDENIED || rc == SDRA_ENOTFOUND || rc == SDRA_ELIMIT ||
        rc == SDRA_ECANCELED)
        return true;
    return status >= 400 && status < 500 && status != 408 && status != 429;
}

int sdra_asr_pool_transcribe(sdra_asr_pool *pool, const int16_t *pcm, size_t n, json_t **out,
                             sdra_error *err)
{
    int rc = 0;
    size_t wav_len = 0;
    unsigned char *wav = wav_encode(pcm, n, &wav_len);
    if (!wav)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    sdra_httpc_part parts[8];
    size_t np = 0;
    parts[np++] = (sdra_httpc_part){.name = "file", .value = wav, .value_len = wav_len,
                                    .filename = "chunk.wav", .content_type = "audio/wav"};
    parts[np++] = (sdra_httpc_part){.name = "model", .value = pool->model, .value_len = strlen(pool->model)};
    parts[np++] = (sdra_httpc_part){.name = "response_format", .value = "verbose_json", .value_len = 12};
    parts[np++] = (sdra_httpc_part){.name = "timestamp_granularities[]", .value = "word", .value_len = 4};
    parts[np++] = (sdra_httpc_part){.name = "timestamp_granularities[]", .value = "segment", .value_len = 7};
    parts[np++] = (sdra_httpc_part){.name = "temperature", .value = "0", .value_len = 1};
    if (pool->language)
        parts[np++] = (sdra_httpc_part){.name = "language", .value = pool->language,
                                        .value_len = strlen(pool->language)};
    if (pool->prompt)
        parts[np++] = (sdra_httpc_part){.name = "prompt", .value = pool->prompt,
                                        .value_len = strlen(pool->prompt)};

    sdra_error last = {0};
    int last_ep = -1;
    long backoff = pool->p.backoff_ms;
    for (int attempt = 0;; attempt++) {
        pthread_mutex_lock(&pool->mu);
        int i;
        for (;;) {
            double wait_s = 0;
            bool all_down = false;
            i = pick_locked(pool, last_ep, sdra_clock_s(), &wait_s, &all_down);
            if (i >= 0)
                break;
            if (all_down)
                break;
            if (wait_s < 0)
                pthread_cond_wait(&pool->cv, &pool->mu);
            else
                timed_wait(&pool->cv, &pool->mu, wait_s > 0.001 ? wait_s : 0.001);
        }
        if (i < 0) {
            pthread_mutex_unlock(&pool->mu);
            if (last.code)
                rc = sdra_error_set(err, last.code, "%s (every ASR endpoint is down)", last.msg);
            else
                rc = sdra_error_set(err, SDRA_EUPSTREAM, "%s: down after failures in a row, "
                                    "like every ASR endpoint", pool->ep[0].shown);
            goto done;
        }
        endpoint *e = &pool->ep[i];
        e->in_flight++;
        e->n_requests++;
        pool->stats.requests++;
        if (attempt > 0) {
            pool->stats.retries++;
            if (i != last_ep)
                pool->stats.failovers++;
        }
        pthread_mutex_unlock(&pool->mu);

        sdra_httpc_request q = sdra_httpc_default_request();
        q.url = e->url;
        q.bearer = pool->key;
        q.parts = parts;
        q.n_parts = np;
        q.timeout_ms = pool->p.timeout_ms;
        q.max_response_bytes = pool->p.max_response_bytes;
        q.max_attempts = 1;
        q.headers[0] = "Accept: application/json";
        sdra_httpc_response r = {0};
        sdra_error e1 = {0};
        int hrc = sdra_httpc_do(&r, &q, &e1);
        json_t *root = NULL;
        if (hrc == 0) {
            char why[256];
            if (!(root = parse_reply(&r, why, sizeof why))) {
                hrc = SDRA_EUPSTREAM;
                sdra_error_set(&e1, SDRA_EUPSTREAM, "%s: %s", e->shown, why);
            }
        }
        bool perm = hrc < 0 && permanent(hrc, r.status);
        double retry_after = r.retry_after_s;
        long status = r.status;
        sdra_httpc_response_release(&r);

        pthread_mutex_lock(&pool->mu);
        e->in_flight--;
        double now = sdra_clock_s();
        if (hrc == 0) {
            e->fails_in_row = 0;
            e->down_until = 0;
        } else if (!perm) {
            if ((status == 429 || status == 503) && retry_after >= 0) {
                double ra = retry_after * 1000 > pool->p.max_backoff_ms ? pool->p.max_backoff_ms / 1000.0 : retry_after;
                e->rest_until = now + ra; /* alive, but asks us to wait */
            } else if (++e->fails_in_row >= pool->p.down_after && now >= e->down_until) {
                e->down_until = now + pool->p.down_ms / 1000.0;
                pool->stats.endpoints_marked_down++;
                sdra_log(pool->n_ep > 1 ? SDRA_LOG_WARN : SDRA_LOG_INFO,
                         "%s: down after %d failures in a row (%s); its chunks go to the other "
                         "endpoints", e->shown, e->fails_in_row, e1.msg);
            }
        }
        unsigned r_jit = rand_r(&pool->seed);
        pthread_cond_broadcast(&pool->cv);
        pthread_mutex_unlock(&pool->mu);

        if (hrc == 0) {
            *out = root;
            goto done;
        }
        last = e1;
        last_ep = i;
        if (perm || attempt + 1 >= pool->p.max_attempts) {
            if (perm)
                rc = sdra_error_set(err, hrc, "%s", e1.msg);
            else
                rc = sdra_error_set(err, hrc, "%s (gave up after %d attempts)", e1.msg, attempt + 1);
            goto done;
        }
        sdra_log(SDRA_LOG_INFO, "ASR attempt %d failed, retrying: %s", attempt + 1, e1.msg);
        /* backoff with jitter (50-100 %), shorter when another endpoint can take it now */
        double b = backoff / 1000.0 * (0.5 + (r_jit % 1000) / 2000.0);
        if (pool->n_ep > 1)
            b /= 4;
        sleep_s(b);
        backoff = backoff * 2 > pool->p.max_backoff_ms ? pool->p.max_backoff_ms : backoff * 2;
    }
done:
    free(wav);
    return rc;
}
