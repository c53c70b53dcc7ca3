/*
 * httpc.c - the one HTTP client (sdra/httpc.h) over libcurl.
 *
 * One sdra_httpc_do is one curl easy handle, configured once and performed up to max_attempts
 * times. What it owns so that callers do not repeat it:
 *   - scheme policy: the URL must start with http:// or https:// (checked before any I/O), curl
 *     is told the same (CURLOPT_PROTOCOLS_STR) and redirects are never followed;
 *   - deadlines: CURLOPT_TIMEOUT_MS per attempt, CURLOPT_CONNECTTIMEOUT_MS, CURLOPT_NOSIGNAL so
 *     that threads are safe;
 *   - a response cap: Content-Length above the cap fails at once (CURLOPT_MAXFILESIZE_LARGE),
 *     and the write callback stops a body that grows past it -> SDRA_ELIMIT;
 *   - retries: connection errors, timeouts, 408/429/500/502/503/504 are retried with
 *     exponential backoff and "equal jitter" (a random wait in [d/2, d]); a Retry-After header
 *     (delta seconds or HTTP date) replaces the computed wait; both are capped at max_backoff_ms;
 *   - cancellation: *cancel is read before each attempt, while waiting, and in the transfer's
 *     progress callback;
 *   - messages: one line, "<url without userinfo>: <what happened>", ending with the message of
 *     an OpenAI-style error document; the bearer token is never formatted into anything, and is
 *     masked should a server echo it back.
 * Zero or negative tuning fields in the request mean "the default" so that a zeroed struct works.
 */
#include "sdra/httpc.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sdra/log.h"

#define HTTPC_DEFAULT_TIMEOUT_MS 60000L
#define HTTPC_DEFAULT_CONNECT_MS 5000L
#define HTTPC_DEFAULT_MAX_RESPONSE ((size_t)8 << 20)
#define HTTPC_DEFAULT_ATTEMPTS 3
#define HTTPC_DEFAULT_BACKOFF_MS 250L
#define HTTPC_DEFAULT_MAX_BACKOFF_MS 10000L
#define HTTPC_MAX_ATTEMPTS 10
#define HTTPC_URL_MAX 8192
#define HTTPC_HEADER_MAX 8192
#define HTTPC_URL_IN_MSG 200 /* characters of the URL kept in a message */
#define HTTPC_SERVER_MSG 240 /* characters of the server's error message kept */

/* ---- process-wide init ---------------------------------------------------------------------- */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static CURLcode g_init_rc = CURLE_FAILED_INIT;

static void global_init_once(void)
{
    g_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int sdra_httpc_global_init(sdra_error *err)
{
    pthread_once(&g_once, global_init_once);
    if (g_init_rc != CURLE_OK)
        return sdra_error_set(err, SDRA_EINTERNAL, "libcurl: global init failed: %s",
                              curl_easy_strerror(g_init_rc));
    return 0;
}

/* ---- small helpers -------------------------------------------------------------------------- */

sdra_httpc_request sdra_httpc_default_request(void)
{
    sdra_httpc_request q;
    memset(&q, 0, sizeof q);
    q.method = "POST";
    q.timeout_ms = HTTPC_DEFAULT_TIMEOUT_MS;
    q.connect_timeout_ms = HTTPC_DEFAULT_CONNECT_MS;
    q.max_response_bytes = HTTPC_DEFAULT_MAX_RESPONSE;
    q.max_attempts = HTTPC_DEFAULT_ATTEMPTS;
    q.backoff_ms = HTTPC_DEFAULT_BACKOFF_MS;
    q.max_backoff_ms = HTTPC_DEFAULT_MAX_BACKOFF_MS;
    return q;
}

void sdra_httpc_response_release(sdra_httpc_response *out)
{
    if (!out)
        return;
    free(out->body);
    memset(out, 0, sizeof *out);
}

void sdra_httpc_redact_url(const char *url, char *out, size_t n)
{
    if (!out || n == 0)
        return;
    out[0] = '\0';
    if (!url)
        return;
    const char *auth = strstr(url, "://");
    size_t skip_from = 0, skip_to = 0;
    if (auth) {
        auth += 3;
        size_t alen = strcspn(auth, "/?#");
        const char *at = NULL;
        for (size_t i = 0; i < alen; i++)
            if (auth[i] == '@')
                at = auth + i; /* the last '@' ends the userinfo */
        if (at) {
            skip_from = (size_t)(auth - url);
            skip_to = (size_t)(at + 1 - url);
        }
    }
    size_t o = 0;
    for (size_t i = 0; url[i] && o + 1 < n; i++) {
        if (i >= skip_from && i < skip_to)
            continue;
        out[o++] = url[i];
    }
    out[o] = '\0';
}

static int has_ctl(const char *s)
{
    for (; s && *s; s++)
        if (*s == '\r' || *s == '\n' || *s == '\0')
            return 1;
    return 0;
}

static int scheme_ok(const char *url)
{
    return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

static int method_ok(const char *m)
{
    static const char *const allowed[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (strcmp(m, allowed[i]) == 0)
            return 1;
    return 0;
}

static int status_retryable(long s)
{
    return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

static int curl_is_tls(CURLcode c)
{
    switch (c) {
    case CURLE_SSL_CONNECT_ERROR: case CURLE_SSL_ENGINE_NOTFOUND: case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM: case CURLE_SSL_CIPHER: case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ENGINE_INITFAILED: case CURLE_SSL_CACERT_BADFILE: case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE: case CURLE_SSL_ISSUER_ERROR: case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS: case CURLE_SSL_CLIENTCERT: case CURLE_USE_SSL_FAILED:
        return 1;
    default:
        return 0;
    }
}

/* Connection-level failures worth another attempt. */
static int curl_is_transient(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST: case CURLE_COULDNT_RESOLVE_PROXY: case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR: case CURLE_RECV_ERROR: case CURLE_GOT_NOTHING: case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2: case CURLE_HTTP2_STREAM: case CURLE_OPERATION_TIMEDOUT:
        return 1;
    default:
        return 0;
    }
}

/* Replaces every occurrence of secret in msg (NUL-terminated, in place) with "***". */
static void mask_secret(char *msg, const char *secret)
{
    size_t sl = secret ? strlen(secret) : 0;
    if (sl < 4)
        return;
    char *p;
    while ((p = strstr(msg, secret)) != NULL) {
        memcpy(p, "***", 3);
        memmove(p + 3, p + sl, strlen(p + sl) + 1);
    }
}

/* The message of an error document: {"error":{"message":s}}, {"error":s}, {"message":s} or
 * {"detail":s}; copied into out (n bytes) with control characters folded. Empty when none. */
static void server_message(const char *body, size_t len, char *out, size_t n)
{
    out[0] = '\0';
    size_t i = 0;
    while (i < len && isspace((unsigned char)body[i]))
        i++;
    if (i >= len || body[i] != '{')
        return;
    json_t *doc = json_loadb(body, len, 0, NULL);
    if (!doc)
        return;
    const char *m = NULL;
    json_t *e = json_object_get(doc, "error");
    if (json_is_object(e))
        m = json_string_value(json_object_get(e, "message"));
    else if (json_is_string(e))
        m = json_string_value(e);
    if (!m)
        m = json_string_value(json_object_get(doc, "message"));
    if (!m)
        m = json_string_value(json_object_get(doc, "detail"));
    if (m) {
        size_t o = 0;
        for (; *m && o + 1 < n; m++)
            out[o++] = ((unsigned char)*m < 0x20) ? ' ' : *m;
        out[o] = '\0';
    }
    json_decref(doc);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static int canceled(const volatile int *cancel)
{
    return cancel && *cancel;
}

/* ---- per-transfer state and curl callbacks -------------------------------------------------- */

typedef struct xfer {
    char *buf;
    size_t len, cap, max;
    int too_big;
    char content_type[128];
    double retry_after_s;
    const volatile int *cancel;
    const char *capture;   /* the request's capture_header */
    char captured[256];
} xfer;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    if (n > x->max - x->len) {
        x->too_big = 1;
        return 0; /* CURLE_WRITE_ERROR */
    }
    if (x->len + n + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 4096;
        while (cap < x->len + n + 1)
            cap *= 2;
        if (cap > x->max + 1)
            cap = x->max + 1;
        char *nb = realloc(x->buf, cap);
        if (!nb)
            return 0;
        x->buf = nb;
        x->cap = cap;
    }
    memcpy(x->buf + x->len, data, n);
    x->len += n;
    x->buf[x->len] = '\0';
    return n;
}

/* Retry-After: delta seconds, or an HTTP date (seconds from now, 0 if past); -1 if unreadable. */
static double parse_retry_after(const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    if (isdigit((unsigned char)*v)) {
        char *end;
        double s = strtod(v, &end);
        while (*end == ' ' || *end == '\t')
            end++;
        if (*end == '\0' && s >= 0)
            return s;
        return -1;
    }
    time_t t = curl_getdate(v, NULL);
    if (t == (time_t)-1)
        return -1;
    double d = difftime(t, time(NULL));
    return d > 0 ? d : 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    char line[1024];
    size_t l = n < sizeof line - 1 ? n : sizeof line - 1;
    memcpy(line, data, l);
    line[l] = '\0';
    while (l > 0 && (line[l - 1] == '\r' || line[l - 1] == '\n'))
        line[--l] = '\0';
    if (strncmp(line, "HTTP/", 5) == 0) { /* a new response (after 100 Continue, say) */
        x->content_type[0] = '\0';
        x->retry_after_s = -1;
        return n;
    }
    char *colon = strchr(line, ':');
    if (!colon)
        return n;
    *colon = '\0';
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    if (strcasecmp(line, "Content-Type") == 0)
        snprintf(x->content_type, sizeof x->content_type, "%s", v);
    else if (strcasecmp(line, "Retry-After") == 0)
        x->retry_after_s = parse_retry_after(v);
    if (x->capture && strcasecmp(line, x->capture) == 0)
        snprintf(x->captured, sizeof x->captured, "%s", v);
    return n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    xfer *x = ud;
    return canceled(x->cancel) ? 1 : 0;
}

/* ---- the request ---------------------------------------------------------------------------- */

typedef struct plan {
    const char *method;
    long timeout_ms, connect_ms, backoff_ms, max_backoff_ms;
    size_t max_bytes;
    int attempts;
} plan;

static int validate(plan *p, const sdra_httpc_request *q, const char *shown, sdra_error *err)
{
    if (!q->url || !*q->url)
        return sdra_error_set(err, SDRA_EINVAL, "http request without a URL");
    if (strlen(q->url) > HTTPC_URL_MAX)
        return sdra_error_set(err, SDRA_EINVAL, "%.*s...: URL longer than %d bytes",
                              HTTPC_URL_IN_MSG, shown, HTTPC_URL_MAX);
    if (!scheme_ok(q->url))
        return sdra_error_set(err, SDRA_EINVAL, "%.*s: only http:// and https:// URLs are allowed",
                              HTTPC_URL_IN_MSG, shown);
    for (const char *c = q->url; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            return sdra_error_set(err, SDRA_EINVAL, "%.*s: URL has a space or control character",
                                  HTTPC_URL_IN_MSG, shown);
    p->method = q->method ? q->method : (q->body || q->n_parts ? "POST" : "GET");
    if (!method_ok(p->method))
        return sdra_error_set(err, SDRA_EINVAL, "%.*s: unsupported method '%.16s'",
                              HTTPC_URL_IN_MSG, shown, p->method);
    if (q->bearer && (has_ctl(q->bearer) || strlen(q->bearer) > HTTPC_HEADER_MAX))
        return sdra_error_set(err, SDRA_EINVAL, "%.*s: bearer token has a line break or is too long",
                              HTTPC_URL_IN_MSG, shown);
    for (int i = 0; i < SDRA_HTTPC_MAX_HEADERS && q->headers[i]; i++)
        if (has_ctl(q->headers[i]) || !strchr(q->headers[i], ':') ||
            strlen(q->headers[i]) > HTTPC_HEADER_MAX)
            return sdra_error_set(err, SDRA_EINVAL, "%.*s: header %d is not one 'Name: value' line",
                                  HTTPC_URL_IN_MSG, shown, i + 1);
    if (q->content_type && (has_ctl(q->content_type) || strlen(q->content_type) > 200))
        return sdra_error_set(err, SDRA_EINVAL, "%.*s: content type has a line break or is too long",
                              HTTPC_URL_IN_MSG, shown);
    if (q->body_len && !q->body)
        return sdra_error_set(err, SDRA_EINVAL, "%.*s: body_len without a body", HTTPC_URL_IN_MSG,
                              shown);
    if (q->n_parts && !q->parts)
        return sdra_error_set(err, SDRA_EINVAL, "%.*s: n_parts without parts", HTTPC_URL_IN_MSG,
                              shown);
    for (size_t i = 0; i < q->n_parts; i++) {
        const sdra_httpc_part *pt = &q->parts[i];
        if (!pt->name || !*pt->name || (pt->value_len && !pt->value) || has_ctl(pt->name) ||
            (pt->filename && has_ctl(pt->filename)) ||
            (pt->content_type && has_ctl(pt->content_type)))
            return sdra_error_set(err, SDRA_EINVAL, "%.*s: multipart part %zu is malformed",
                                  HTTPC_URL_IN_MSG, shown, i + 1);
    }
    p->timeout_ms = q->timeout_ms > 0 ? q->timeout_ms : HTTPC_DEFAULT_TIMEOUT_MS;
    p->connect_ms = q->connect_timeout_ms > 0 ? q->connect_timeout_ms : HTTPC_DEFAULT_CONNECT_MS;
    p->max_bytes = q->max_response_bytes > 0 ? q->max_response_bytes : HTTPC_DEFAULT_MAX_RESPONSE;
    p->attempts = q->max_attempts > 0 ? q->max_attempts : HTTPC_DEFAULT_ATTEMPTS;
    if (p->attempts > HTTPC_MAX_ATTEMPTS)
        p->attempts = HTTPC_MAX_ATTEMPTS;
    p->backoff_ms = q->backoff_ms > 0 ? q->backoff_ms : HTTPC_DEFAULT_BACKOFF_MS;
    p->max_backoff_ms = q->max_backoff_ms > 0 ? q->max_backoff_ms : HTTPC_DEFAULT_MAX_BACKOFF_MS;
    return 0;
}

/* Header list: extra headers, content type, bearer, and "Expect:" (no 100-continue wait). The
 * Authorization line is built in auth (freed and wiped by the caller). */
static int build_headers(struct curl_slist **out, char **auth, const sdra_httpc_request *q)
{
    struct curl_slist *h = NULL, *t;
#define ADD(s)                                                                                     \
    do {                                                                                           \
        if (!(t = curl_slist_append(h, (s))))                                                      \
            goto fail;                                                                             \
        h = t;                                                                                     \
    } while (0)
    for (int i = 0; i < SDRA_HTTPC_MAX_HEADERS && q->headers[i]; i++)
        ADD(q->headers[i]);
    if (q->n_parts == 0 && q->body && q->content_type) {
        char ct[256];
        snprintf(ct, sizeof ct, "Content-Type: %s", q->content_type);
        ADD(ct);
    }
    if (q->bearer) {
        size_t n = strlen(q->bearer) + sizeof "Authorization: Bearer ";
        if (!(*auth = malloc(n)))
            goto fail;
        snprintf(*auth, n, "Authorization: Bearer %s", q->bearer);
        ADD(*auth);
    }
    ADD("Expect:");
#undef ADD
    *out = h;
    return 0;
fail:
    curl_slist_free_all(h);
    return SDRA_ENOMEM;
}

static int build_mime(curl_mime **out, CURL *c, const sdra_httpc_request *q)
{
    curl_mime *m = curl_mime_init(c);
    if (!m)
        return SDRA_ENOMEM;
    for (size_t i = 0; i < q->n_parts; i++) {
        const sdra_httpc_part *pt = &q->parts[i];
        curl_mimepart *mp = curl_mime_addpart(m);
        if (!mp || curl_mime_name(mp, pt->name) != CURLE_OK ||
            curl_mime_data(mp, pt->value_len ? pt->value : "", pt->value_len) != CURLE_OK ||
            (pt->filename && curl_mime_filename(mp, pt->filename) != CURLE_OK) ||
            (pt->content_type && curl_mime_type(mp, pt->content_type) != CURLE_OK)) {
            curl_mime_free(m);
            return SDRA_ENOMEM;
        }
    }
    *out = m;
    return 0;
}

static int set_options(CURL *c, const sdra_httpc_request *q, const plan *p, xfer *x,
                       struct curl_slist *hdrs, curl_mime *mime, char *errbuf)
{
    CURLcode r = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (r == CURLE_OK)                                                                         \
            r = curl_easy_setopt(c, opt, val);                                                     \
    } while (0)
    SET(CURLOPT_URL, q->url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TIMEOUT_MS, p->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, p->connect_ms);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)p->max_bytes);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, x);
    SET(CURLOPT_NOPROGRESS, 0L);
    SET(CURLOPT_XFERINFOFUNCTION, on_progress);
    SET(CURLOPT_XFERINFODATA, x);
    SET(CURLOPT_ERRORBUFFER, errbuf);
    SET(CURLOPT_USERAGENT, "sdra/" SDRA_VERSION);
    SET(CURLOPT_HTTPHEADER, hdrs);
    if (mime) {
        SET(CURLOPT_MIMEPOST, mime);
        if (strcmp(p->method, "POST") != 0)
            SET(CURLOPT_CUSTOMREQUEST, p->method);
    } else if (strcmp(p->method, "GET") == 0) {
        SET(CURLOPT_HTTPGET, 1L);
    } else if (strcmp(p->method, "HEAD") == 0) {
        SET(CURLOPT_NOBODY, 1L);
    } else {
        /* POST, PUT, PATCH, DELETE: the body (possibly empty) goes as POSTFIELDS */
        SET(CURLOPT_POSTFIELDS, q->body ? (const char *)q->body : "");
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(q->body ? q->body_len : 0));
        if (strcmp(p->method, "POST") != 0)
            SET(CURLOPT_CUSTOMREQUEST, p->method);
    }
#undef SET
    return r == CURLE_OK ? 0 : SDRA_EINTERNAL;
}

/* The wait before attempt number next (2, 3, ...): backoff * 2^(next-2) with equal jitter, or
 * the server's Retry-After; both capped. */
static long retry_wait_ms(const plan *p, int next, double retry_after_s, unsigned *seed)
{
    if (retry_after_s >= 0) {
        double ms = retry_after_s * 1000.0;
        return ms > (double)p->max_backoff_ms ? p->max_backoff_ms : (long)ms;
    }
    long d = p->backoff_ms;
    for (int i = 2; i < next && d < p->max_backoff_ms; i++)
        d *= 2;
    if (d > p->max_backoff_ms)
        d = p->max_backoff_ms;
    long half = d / 2;
    return half + (half > 0 ? (long)(rand_r(seed) % (unsigned)(d - half + 1)) : 0);
}

/* Waits ms, in slices, returning non-zero as soon as *cancel is set. */
static int wait_cancelable(long ms, const volatile int *cancel)
{
    while (ms > 0) {
        if (canceled(cancel))
            return 1;
        long s = ms < 50 ? ms : 50;
        sleep_ms(s);
        ms -= s;
    }
    return canceled(cancel);
}

int sdra_httpc_do(sdra_httpc_response *out, const sdra_httpc_request *req, sdra_error *err)
{
    if (!out || !req)
        return sdra_error_set(err, SDRA_EINVAL, "http request: no request or response");
    memset(out, 0, sizeof *out);
    out->retry_after_s = -1;

    char shown[HTTPC_URL_IN_MSG + 1];
    sdra_httpc_redact_url(req->url ? req->url : "", shown, sizeof shown);
    plan p;
    memset(&p, 0, sizeof p);
    int rc = validate(&p, req, shown, err);
    if (rc < 0)
        return rc;
    if ((rc = sdra_httpc_global_init(err)) < 0)
        return rc;

    CURL *c = NULL;
    struct curl_slist *hdrs = NULL, *pinned = NULL;
    curl_mime *mime = NULL;
    char *auth = NULL;
    char errbuf[CURL_ERROR_SIZE];
    xfer x;
    memset(&x, 0, sizeof x);
    x.max = p.max_bytes;
    x.cancel = req->cancel;
    x.retry_after_s = -1;
    x.capture = req->capture_header;
    CURLcode cc = CURLE_OK;
    int what = 0; /* 0 ok; else the sdra_code of the last attempt */
    char detail[64] = "";          /* what happened: "HTTP 503", "cannot connect", ... */
    char why[CURL_ERROR_SIZE] = ""; /* curl's reason, when it has one */

    if (!(c = curl_easy_init())) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "%s: cannot create a curl handle", shown);
        goto done;
    }
    if (build_headers(&hdrs, &auth, req) < 0 || (req->n_parts && build_mime(&mime, c, req) < 0)) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory building the request", shown);
        goto done;
    }
    if (set_options(c, req, &p, &x, hdrs, mime, errbuf) < 0) {
        rc = sdra_error_set(err, SDRA_EINTERNAL, "%s: libcurl refused an option", shown);
        goto done;
    }
    /* a pinned address: the connection goes where the caller checked, whatever DNS says now */
    if (req->resolve && (!(pinned = curl_slist_append(NULL, req->resolve)) ||
                         curl_easy_setopt(c, CURLOPT_RESOLVE, pinned) != CURLE_OK)) {
        rc = sdra_error_set(err, SDRA_EINTERNAL, "%s: libcurl refused the pinned address", shown);
        goto done;
    }

    unsigned seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&x ^ (unsigned)clock();
    for (int attempt = 1;; attempt++) {
        if (canceled(req->cancel)) {
            what = SDRA_ECANCELED;
            snprintf(detail, sizeof detail, "canceled");
            break;
        }
        x.len = 0;
        x.too_big = 0;
        x.content_type[0] = '\0';
        x.retry_after_s = -1;
        if (x.buf)
            x.buf[0] = '\0';
        errbuf[0] = '\0';
        out->attempts = attempt;
        cc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        out->status = status;
        snprintf(why, sizeof why, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
        int transient = 0;
        if (cc == CURLE_OK) {
            if (status >= 200 && status < 300) {
                what = 0;
                break;
            }
            what = status == 401 || status == 403 ? SDRA_EDENIED
                 : status == 404                  ? SDRA_ENOTFOUND
                                                  : SDRA_EUPSTREAM;
            snprintf(detail, sizeof detail, "HTTP %ld", status);
            why[0] = '\0';
            transient = status_retryable(status);
        } else if (cc == CURLE_FILESIZE_EXCEEDED || (cc == CURLE_WRITE_ERROR && x.too_big)) {
            what = SDRA_ELIMIT;
            snprintf(detail, sizeof detail, "response larger than %zu bytes", p.max_bytes);
            why[0] = '\0';
        } else if (cc == CURLE_WRITE_ERROR) {
            what = SDRA_ENOMEM;
            snprintf(detail, sizeof detail, "out of memory reading the response");
            why[0] = '\0';
        } else if (cc == CURLE_ABORTED_BY_CALLBACK) {
            what = SDRA_ECANCELED;
            snprintf(detail, sizeof detail, "canceled");
            why[0] = '\0';
        } else if (cc == CURLE_OPERATION_TIMEDOUT) {
            what = SDRA_ETIMEOUT;
            snprintf(detail, sizeof detail, "timed out");
            transient = 1;
        } else if (curl_is_tls(cc)) {
            what = SDRA_EUPSTREAM;
            snprintf(detail, sizeof detail, "TLS");
        } else if (cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT) {
            what = SDRA_EINVAL;
            snprintf(detail, sizeof detail, "bad URL");
        } else {
            what = SDRA_EUPSTREAM;
            snprintf(detail, sizeof detail, "%s",
                     cc == CURLE_COULDNT_CONNECT        ? "cannot connect"
                     : cc == CURLE_COULDNT_RESOLVE_HOST ? "cannot resolve host"
                                                        : "transfer failed");
            transient = curl_is_transient(cc);
        }
        if (!transient || attempt >= p.attempts)
            break;
        long wait = retry_wait_ms(&p, attempt + 1, x.retry_after_s, &seed);
        sdra_log(SDRA_LOG_INFO, "httpc: %s: %s%s%s; attempt %d of %d in %ld ms", shown, detail,
                 why[0] ? ": " : "", why, attempt + 1, p.attempts, wait);
        if (wait_cancelable(wait, req->cancel)) {
            what = SDRA_ECANCELED;
            snprintf(detail, sizeof detail, "canceled");
            why[0] = '\0';
            break;
        }
    }

    /* hand over what the last attempt got, error document included */
    if (!x.buf && (x.buf = malloc(1)) != NULL)
        x.buf[0] = '\0';
    out->body = x.buf;
    out->body_len = x.buf ? x.len : 0;
    x.buf = NULL;
    snprintf(out->content_type, sizeof out->content_type, "%s", x.content_type);
    out->retry_after_s = x.retry_after_s;
    snprintf(out->captured, sizeof out->captured, "%s", x.captured);

    if (what == 0) {
        rc = 0;
        goto done;
    }
    char smsg[HTTPC_SERVER_MSG + 1] = "";
    if (out->body && out->status >= 300)
        server_message(out->body, out->body_len, smsg, sizeof smsg);
    char tries[48] = "";
    if (out->attempts > 1)
        snprintf(tries, sizeof tries, " after %d attempts", out->attempts);
    /* TLS failures read "TLS: <curl's reason>"; the rest "<what>[ after N attempts][: <why>]" */
    if (what == SDRA_EUPSTREAM && strcmp(detail, "TLS") == 0)
        rc = sdra_error_set(err, what, "%s: TLS: %s%s", shown, why, tries);
    else
        rc = sdra_error_set(err, what, "%s: %s%s%s%s%s%s", shown, detail, tries, why[0] ? ": " : "",
                            why, smsg[0] ? ": " : "", smsg);
    if (err) {
        mask_secret(err->msg, req->bearer);
        if (what == SDRA_ELIMIT || what == SDRA_EDENIED || what == SDRA_ENOTFOUND)
            err->retryable = false;
        else if (what == SDRA_EUPSTREAM && out->status >= 400 && !status_retryable(out->status))
            err->retryable = false;
    }

done:
    if (c)
        curl_easy_cleanup(c); /* first: the handle uses the lists and the mime body */
    free(x.buf);
    curl_slist_free_all(hdrs);
    curl_slist_free_all(pinned);
    if (auth) {
        explicit_bzero(auth, strlen(auth));
        free(auth);
    }
    curl_mime_free(mime);
    return rc;
}
