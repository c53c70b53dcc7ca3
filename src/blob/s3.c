/*
 * s3.c - the object store on S3-compatible storage (AWS S3, MinIO, Ceph RGW, s3rver), over
 * libcurl with its AWS Signature Version 4 signer (CURLOPT_AWS_SIGV4).
 *
 * Every request is signed for service "s3" in the configured region, with
 * x-amz-content-sha256: UNSIGNED-PAYLOAD (bodies stream and are not hashed first; use https
 * outside a test). A put reads at most one part (part_bytes) into memory: a source that ends
 * within it is one PUT, a longer one a multipart upload (initiate, one PUT per part, complete),
 * aborted when anything fails so that no parts are left billed. A get streams the body to the
 * caller's sink as it arrives. Error bodies (<Error><Code>..</Code><Message>..</Message>) are
 * read, bounded, into the one-line message; credentials never appear in it.
 *
 * Query strings are written the way SigV4 canonicalises them (names sorted, values
 * percent-encoded), because the signer of libcurl before 8.2 signs the query as given.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob/internal.h"
#include "sdra/httpc.h"
#include "sdra/util.h"

#define SMALL_BODY_MAX (4u << 20) /* XML answers: errors, listings, upload ids */
#define SECRET_MAX 4096
#define MAX_PARTS 10000           /* S3's limit */
#define MIN_PART_BYTES (5u << 20) /* S3's minimum for every part but the last */

typedef struct s3 {
    char bucket[64];
    char root[SDRA_BLOB_KEY_MAX];  /* "prefix/" or "" */
    char scheme[8];                /* "http" or "https" */
    char host[256];                /* host[:port] of the endpoint */
    char region[64];
    char sigv4[96];                /* "aws:amz:REGION:s3" */
    char *userpwd;                 /* "AKID:SECRET" */
    char *token_hdr;               /* "x-amz-security-token: ..." or NULL */
    char *secret, *token;          /* to mask in messages */
    bool path_style;
    size_t part_bytes;
    long timeout_ms, connect_timeout_ms;
} s3;

/* ---- settings */

/* value from p, else $NAME, else the file named by $NAME_FILE (one line); "" when none. */
static int setting(char **out, const char *given, const char *name, bool secret, sdra_error *err)
{
    *out = NULL;
    const char *v = given ? given : getenv(name);
    if (v && *v) {
        *out = strdup(v);
        return *out ? 0 : sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", name);
    }
    char fname[96];
    snprintf(fname, sizeof fname, "%s_FILE", name);
    const char *file = given ? NULL : getenv(fname);
    if (!file || !*file)
        return 0;
    size_t len = 0;
    sdra_error e = {0};
    if (sdra_file_read(out, &len, file, SECRET_MAX, &e) < 0)
        return sdra_error_set(err, SDRA_EINVAL, "%s: %s", fname, e.msg);
    while (len > 0 && ((*out)[len - 1] == '\n' || (*out)[len - 1] == '\r' || (*out)[len - 1] == ' '))
        (*out)[--len] = '\0';
    (void)secret;
    return 0;
}

static void s3_free(s3 *c)
{
    if (!c)
        return;
    if (c->userpwd)
        memset(c->userpwd, 0, strlen(c->userpwd));
    if (c->secret)
        memset(c->secret, 0, strlen(c->secret));
    if (c->token)
        memset(c->token, 0, strlen(c->token));
    free(c->userpwd);
    free(c->token_hdr);
    free(c->secret);
    free(c->token);
    free(c);
}

/* ---- messages */

static void mask(char *msg, const char *secret)
{
    size_t sl = secret ? strlen(secret) : 0;
    char *p;
    if (sl < 4)
        return;
    while ((p = strstr(msg, secret)) != NULL) {
        memcpy(p, "***", 3);
        memmove(p + 3, p + sl, strlen(p + sl) + 1);
    }
}

/* The text of <tag>...</tag> in xml (first one at or after from), copied into out; false when
 * absent. */
static bool xml_text(const char *xml, const char *tag, char *out, size_t n, const char **after)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *a = xml ? strstr(xml, open) : NULL;
    const char *e = a ? strstr(a + strlen(open), close) : NULL;
    if (!e)
        return false;
    a += strlen(open);
    size_t len = (size_t)(e - a);
    if (len >= n)
        len = n - 1;
    memcpy(out, a, len);
    out[len] = '\0';
    for (char *c = out; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    if (after)
        *after = e + strlen(close);
    return true;
}

/* ---- one request */

typedef struct xfer {
    CURL *h;
    const char *up;          /* request body (memory) */
    size_t up_len, up_off;
    sdra_blob_write_fn sink; /* 2xx bodies go here when set */
    void *sink_ud;
    int sink_rc;
    int64_t delivered;
    char *buf;               /* other bodies, bounded */
    size_t len;
    bool buf_full;
    char etag[160];
} xfer;

static size_t on_read(char *dst, size_t size, size_t nitems, void *ud)
{
    xfer *x = ud;
    size_t n = size * nitems, left = x->up_len - x->up_off;
    if (n > left)
        n = left;
    memcpy(dst, x->up + x->up_off, n);
    x->up_off += n;
    return n;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
    if (x->sink && status >= 200 && status < 300) {
        if ((x->sink_rc = x->sink(x->sink_ud, data, n)) < 0)
            return 0;
        x->delivered += (int64_t)n;
        return n;
    }
    if (x->len + n > SMALL_BODY_MAX) {
        x->buf_full = true;
        return n; /* dropped: the message uses what fits */
    }
    char *nb = realloc(x->buf, x->len + n + 1);
    if (!nb)
        return 0;
    x->buf = nb;
    memcpy(x->buf + x->len, data, n);
    x->len += n;
    x->buf[x->len] = '\0';
    return n;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *ud)
{
    xfer *x = ud;
    size_t n = size * nitems;
    if (n > 5 && strncasecmp(line, "etag:", 5) == 0) {
        size_t i = 5;
        while (i < n && (line[i] == ' ' || line[i] == '\t'))
            i++;
        size_t len = 0;
        while (i + len < n && line[i + len] != '\r' && line[i + len] != '\n' && len < sizeof x->etag - 1)
            len++;
        memcpy(x->etag, line + i, len);
        x->etag[len] = '\0';
    }
    return n;
}

/* Percent-encodes s into out the way SigV4 canonicalises a query value (unreserved kept). */
static void qenc(char *out, size_t n, const char *s)
{
    size_t o = 0;
    for (; *s && o + 4 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, n - o, "%%%02X", c);
    }
    out[o] = '\0';
}

/* The URL of object key (full key, with the root; NULL = the bucket) and query (may be NULL). */
static int url_of(const s3 *c, const char *full_key, const char *query, char *out, size_t n)
{
    int w;
    if (c->path_style)
        w = snprintf(out, n, "%s://%s/%s/%s%s%s", c->scheme, c->host, c->bucket, full_key ? full_key : "",
                     query ? "?" : "", query ? query : "");
    else
        w = snprintf(out, n, "%s://%s.%s/%s%s%s", c->scheme, c->bucket, c->host, full_key ? full_key : "",
                     query ? "?" : "", query ? query : "");
    return w >= (int)n ? SDRA_ELIMIT : 0;
}

typedef struct s3_req {
    const char *method;   /* GET, HEAD, PUT, POST, DELETE */
    const char *key;      /* the caller's key (for messages), NULL = the bucket */
    const char *full_key; /* with the root */
    const char *query;
    const char *body;     /* PUT/POST body, may be NULL (empty) */
    size_t body_len;
    const char *range;    /* "bytes=a-b" or NULL */
    const char *ctype;
    sdra_blob_write_fn sink;
    void *sink_ud;
} s3_req;

typedef struct s3_ans {
    long status;
    int64_t content_length; /* HEAD */
    char etag[160];
    char *body;             /* non-sink body (NUL-terminated), owned; free() */
    size_t body_len;
} s3_ans;

static int fail_http(const sdra_blob *b, const s3_req *q, long status, const char *body, sdra_error *err)
{
    s3 *c = b->impl;
    char code[128] = "", msg[256] = "";
    xml_text(body, "Code", code, sizeof code, NULL);
    xml_text(body, "Message", msg, sizeof msg, NULL);
    int rc;
    if (status == 404)
        rc = SDRA_ENOTFOUND;
    else if (status == 401 || status == 403)
        rc = SDRA_EDENIED;
    else if (status == 416)
        rc = SDRA_EINVAL;
    else if (status == 500 || status == 502 || status == 503 || status == 504 || status == 429)
        rc = SDRA_ERETRY;
    else
        rc = SDRA_EUPSTREAM;
    if (!code[0]) {
        const char *def = status == 404 ? (q->key ? "NoSuchKey" : "NoSuchBucket") : status == 403 ? "AccessDenied" : "";
        snprintf(code, sizeof code, "%s", def);
    }
    sdra_error_set(err, rc, "%s%s%s: HTTP %ld%s%s%s%s", b->location, q->key ? "/" : "", q->key ? q->key : "", status,
                   code[0] ? " " : "", code, msg[0] ? ": " : "", msg);
    if (err) {
        mask(err->msg, c->secret);
        mask(err->msg, c->token);
    }
    return rc;
}

static int fail_curl(const sdra_blob *b, const s3_req *q, CURLcode cc, const char *ebuf, sdra_error *err)
{
    s3 *c = b->impl;
    int rc;
    const char *what;
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
        rc = SDRA_ERETRY, what = "connection refused";
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
        rc = SDRA_ERETRY, what = "host not found";
        break;
    case CURLE_OPERATION_TIMEDOUT:
        rc = SDRA_ETIMEOUT, what = "timed out";
        break;
    case CURLE_SEND_ERROR: case CURLE_RECV_ERROR: case CURLE_GOT_NOTHING: case CURLE_PARTIAL_FILE:
        rc = SDRA_ERETRY, what = "connection lost";
        break;
    default:
        rc = SDRA_EUPSTREAM, what = curl_easy_strerror(cc);
        break;
    }
    sdra_error_set(err, rc, "%s%s%s: %s://%s: %s%s%s", b->location, q->key ? "/" : "", q->key ? q->key : "", c->scheme,
                   c->host, what, ebuf && *ebuf && cc != CURLE_COULDNT_CONNECT ? " - " : "",
                   ebuf && cc != CURLE_COULDNT_CONNECT ? ebuf : "");
    if (err) {
        mask(err->msg, c->secret);
        mask(err->msg, c->token);
    }
    return rc;
}

/* One request, retried once when the connection failed or the server said 5xx before any body
 * byte reached the sink. 2xx: 0 with *a filled; otherwise the one-line error. */
static int s3_do(sdra_blob *b, const s3_req *q, s3_ans *a, sdra_error *err)
{
    s3 *c = b->impl;
    char url[3 * SDRA_BLOB_KEY_MAX];
    memset(a, 0, sizeof *a);
    if (url_of(c, q->full_key, q->query, url, sizeof url) < 0)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: URL too long", q->key ? q->key : b->location);
    int rc = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        xfer x = {0};
        struct curl_slist *hl = NULL;
        char ebuf[CURL_ERROR_SIZE] = "";
        CURL *h = curl_easy_init();
        if (!h)
            return sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", b->location);
        x.h = h;
        x.sink = q->sink;
        x.sink_ud = q->sink_ud;
        x.up = q->body;
        x.up_len = q->body ? q->body_len : 0;
        hl = curl_slist_append(hl, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
        if (c->token_hdr)
            hl = curl_slist_append(hl, c->token_hdr);
        if (q->ctype) {
            char ct[128];
            snprintf(ct, sizeof ct, "Content-Type: %s", q->ctype);
            hl = curl_slist_append(hl, ct);
        }
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, c->sigv4);
        curl_easy_setopt(h, CURLOPT_USERPWD, c->userpwd);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
        /* no progress for timeout_ms: a stalled server, however large the object */
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (c->timeout_ms + 999) / 1000);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
        if (q->range)
            curl_easy_setopt(h, CURLOPT_RANGE, q->range + 6); /* after "bytes=" */
        if (!strcmp(q->method, "HEAD")) {
            curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else if (!strcmp(q->method, "PUT") || !strcmp(q->method, "POST")) {
            curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(h, CURLOPT_READDATA, &x);
            curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x.up_len);
            if (!strcmp(q->method, "POST"))
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "POST");
        } else if (strcmp(q->method, "GET") != 0) {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
        }
        CURLcode cc = curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (cc == CURLE_WRITE_ERROR && x.sink_rc < 0) {
            rc = sdra_error_set(err, x.sink_rc, "%s: the sink failed: %s", q->key ? q->key : b->location,
                                sdra_strerror(x.sink_rc));
        } else if (cc != CURLE_OK) {
            rc = fail_curl(b, q, cc, ebuf, err);
        } else if (status < 200 || status >= 300) {
            rc = fail_http(b, q, status, x.buf, err);
        } else {
            rc = 0;
            a->status = status;
            curl_off_t cl = -1;
            curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
            a->content_length = (int64_t)cl;
            memcpy(a->etag, x.etag, sizeof a->etag);
            a->body = x.buf;
            a->body_len = x.len;
            x.buf = NULL;
        }
        curl_slist_free_all(hl);
        curl_easy_cleanup(h);
        free(x.buf);
        if (rc != SDRA_ERETRY || x.delivered > 0)
            break;
    }
    return rc;
}

/* ---- operations */

static int full_key(const s3 *c, const char *key, char *out, size_t n, sdra_error *err)
{
    if (snprintf(out, n, "%s%s", c->root, key) >= (int)n)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: key too long with the prefix", key);
    return 0;
}

/* Reads until buf holds n bytes or the source ends: bytes read, or a negative code. */
static long fill(sdra_blob_read_fn fn, void *ud, char *buf, size_t n)
{
    size_t have = 0;
    while (have < n) {
        long got = fn(ud, buf + have, n - have);
        if (got < 0)
            return got;
        if (got == 0)
            break;
        have += (size_t)got;
    }
    return (long)have;
}

static int s3_abort(sdra_blob *b, const char *key, const char *fk, const char *upload_id)
{
    char q[600], enc[512];
    qenc(enc, sizeof enc, upload_id);
    snprintf(q, sizeof q, "uploadId=%s", enc);
    s3_req r = {.method = "DELETE", .key = key, .full_key = fk, .query = q};
    s3_ans a;
    int rc = s3_do(b, &r, &a, NULL);
    free(a.body);
    return rc;
}

static int s3_put(sdra_blob *b, const char *key, sdra_blob_read_fn fn, void *ud, int64_t size_hint, sdra_error *err)
{
    s3 *c = b->impl;
    char fk[SDRA_BLOB_KEY_MAX * 2], upload_id[512] = "", enc_id[1600], q[1700];
    char (*etags)[160] = NULL;
    char *xml = NULL;
    s3_ans a = {0};
    int rc = full_key(c, key, fk, sizeof fk, err);
    if (rc < 0)
        return rc;
    size_t part = c->part_bytes;
    if (size_hint >= 0 && (uint64_t)size_hint < part)
        part = (size_t)size_hint + 1; /* one read sees the end */
    char *buf = malloc(part);
    if (!buf)
        return sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory for one part (%zu bytes)", key, part);
    long got = fill(fn, ud, buf, part);
    if (got < 0) {
        rc = sdra_error_set(err, (int)got, "%s: the source failed: %s", key, sdra_strerror((int)got));
        goto done;
    }
    if ((size_t)got < part) { /* the whole object fits in one request */
        s3_req r = {.method = "PUT", .key = key, .full_key = fk, .body = buf, .body_len = (size_t)got,
                    .ctype = "application/octet-stream"};
        rc = s3_do(b, &r, &a, err);
        goto done;
    }
    /* multipart */
    s3_req init = {.method = "POST", .key = key, .full_key = fk, .query = "uploads=", .ctype = "application/octet-stream"};
    if ((rc = s3_do(b, &init, &a, err)) < 0)
        goto done;
    if (!xml_text(a.body, "UploadId", upload_id, sizeof upload_id, NULL) || !upload_id[0]) {
        rc = sdra_error_set(err, SDRA_EUPSTREAM, "%s/%s: the multipart upload was not started (no UploadId)", b->location, key);
        goto done;
    }
    free(a.body);
    a.body = NULL;
    qenc(enc_id, sizeof enc_id, upload_id);
    int n_parts = 0, cap = 0;
    while (got > 0) {
        if (n_parts == MAX_PARTS) {
            rc = sdra_error_set(err, SDRA_ELIMIT, "%s: more than %d parts of %zu bytes", key, MAX_PARTS, c->part_bytes);
            goto abort;
        }
        snprintf(q, sizeof q, "partNumber=%d&uploadId=%s", n_parts + 1, enc_id);
        s3_req r = {.method = "PUT", .key = key, .full_key = fk, .query = q, .body = buf, .body_len = (size_t)got};
        if ((rc = s3_do(b, &r, &a, err)) < 0)
            goto abort;
        free(a.body);
        a.body = NULL;
        if (!a.etag[0]) {
            rc = sdra_error_set(err, SDRA_EUPSTREAM, "%s/%s: part %d: no ETag in the answer", b->location, key, n_parts + 1);
            goto abort;
        }
        if (n_parts == cap) {
            cap = cap ? cap * 2 : 16;
            void *ne = realloc(etags, (size_t)cap * sizeof *etags);
            if (!ne) {
                rc = sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", key);
                goto abort;
            }
            etags = ne;
        }
        memcpy(etags[n_parts++], a.etag, sizeof a.etag);
        if ((size_t)got < c->part_bytes)
            break;
        if ((got = fill(fn, ud, buf, c->part_bytes)) < 0) {
            rc = sdra_error_set(err, (int)got, "%s: the source failed: %s", key, sdra_strerror((int)got));
            goto abort;
        }
    }
    /* complete: <Part><PartNumber>N</PartNumber><ETag>"..."</ETag></Part> per part */
    size_t cap_xml = 128 + (size_t)n_parts * 240, off = 0;
    if (!(xml = malloc(cap_xml))) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", key);
        goto abort;
    }
    off += (size_t)snprintf(xml + off, cap_xml - off, "<CompleteMultipartUpload>");
    for (int i = 0; i < n_parts; i++)
        off += (size_t)snprintf(xml + off, cap_xml - off, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i + 1,
                                etags[i]);
    off += (size_t)snprintf(xml + off, cap_xml - off, "</CompleteMultipartUpload>");
    snprintf(q, sizeof q, "uploadId=%s", enc_id);
    s3_req done_req = {.method = "POST", .key = key, .full_key = fk, .query = q, .body = xml, .body_len = off,
                       .ctype = "application/xml"};
    if ((rc = s3_do(b, &done_req, &a, err)) < 0)
        goto abort;
    if (a.body && strstr(a.body, "<Error>")) { /* S3 may answer 200 and fail in the body */
        rc = fail_http(b, &done_req, 500, a.body, err);
        goto abort;
    }
    goto done;
abort:
    s3_abort(b, key, fk, upload_id);
done:
    free(a.body);
    free(xml);
    free(etags);
    free(buf);
    return rc;
}

static int s3_get_range(sdra_blob *b, const char *key, int64_t first, int64_t len, sdra_blob_write_fn fn, void *ud,
                        sdra_error *err)
{
    s3 *c = b->impl;
    char fk[SDRA_BLOB_KEY_MAX * 2], range[64] = "";
    int rc = full_key(c, key, fk, sizeof fk, err);
    if (rc < 0)
        return rc;
    if (len > 0)
        snprintf(range, sizeof range, "bytes=%lld-%lld", (long long)first, (long long)(first + len - 1));
    else if (first > 0)
        snprintf(range, sizeof range, "bytes=%lld-", (long long)first);
    s3_req r = {.method = "GET", .key = key, .full_key = fk, .range = range[0] ? range : NULL, .sink = fn, .sink_ud = ud};
    s3_ans a;
    rc = s3_do(b, &r, &a, err);
    free(a.body);
    if (rc == SDRA_EINVAL && err)
        sdra_error_set(err, SDRA_EINVAL, "%s: range starts at %lld, past the end", key, (long long)first);
    return rc;
}

static int s3_head(sdra_blob *b, const char *key, int64_t *size_out, sdra_error *err)
{
    s3 *c = b->impl;
    char fk[SDRA_BLOB_KEY_MAX * 2];
    int rc = full_key(c, key, fk, sizeof fk, err);
    if (rc < 0)
        return rc;
    s3_req r = {.method = "HEAD", .key = key, .full_key = fk};
    s3_ans a;
    if ((rc = s3_do(b, &r, &a, err)) == 0)
        *size_out = a.content_length < 0 ? 0 : a.content_length;
    free(a.body);
    return rc;
}

static int s3_del(sdra_blob *b, const char *key, sdra_error *err)
{
    s3 *c = b->impl;
    char fk[SDRA_BLOB_KEY_MAX * 2];
    int rc = full_key(c, key, fk, sizeof fk, err);
    if (rc < 0)
        return rc;
    s3_req r = {.method = "DELETE", .key = key, .full_key = fk};
    s3_ans a;
    rc = s3_do(b, &r, &a, err);
    free(a.body);
    return rc == SDRA_ENOTFOUND && (!err || !strstr(err->msg, "NoSuchBucket")) ? 0 : rc;
}

/* ListObjectsV2 under prefix, page by page (1000 keys at most each, so memory stays bounded):
 * fn gets each key without the root. */
static int s3_list(sdra_blob *b, const char *prefix, sdra_blob_list_fn fn, void *ud, sdra_error *err)
{
    s3 *c = b->impl;
    char fp[SDRA_BLOB_KEY_MAX * 2], enc[SDRA_BLOB_KEY_MAX * 3 + 8], q[SDRA_BLOB_KEY_MAX * 8], token[1024] = "";
    char enc_tok[3 * sizeof token], block[SDRA_BLOB_KEY_MAX * 3], k[SDRA_BLOB_KEY_MAX * 2], size[32];
    int rc = full_key(c, prefix, fp, sizeof fp, err);
    if (rc < 0)
        return rc;
    qenc(enc, sizeof enc, fp);
    for (;;) {
        if (token[0]) {
            qenc(enc_tok, sizeof enc_tok, token);
            snprintf(q, sizeof q, "continuation-token=%s&list-type=2&prefix=%s", enc_tok, enc);
        } else {
            snprintf(q, sizeof q, "list-type=2&prefix=%s", enc);
        }
        s3_req r = {.method = "GET", .key = prefix, .full_key = NULL, .query = q};
        s3_ans a;
        if ((rc = s3_do(b, &r, &a, err)) < 0)
            return rc;
        const char *p = a.body;
        while (rc == 0 && p && (p = strstr(p, "<Contents>")) != NULL) {
            const char *e = strstr(p, "</Contents>");
            if (!e)
                break;
            size_t bl = (size_t)(e - p) < sizeof block - 1 ? (size_t)(e - p) : sizeof block - 1;
            memcpy(block, p, bl);
            block[bl] = '\0';
            p = e + 11;
            if (!xml_text(block, "Key", k, sizeof k, NULL) || strncmp(k, fp, strlen(fp)) != 0)
                continue; /* not under the prefix: never handed out, never deleted */
            if (!xml_text(block, "Size", size, sizeof size, NULL))
                snprintf(size, sizeof size, "0");
            if (sdra_blob_key_valid(k + strlen(c->root)))
                rc = fn(ud, k + strlen(c->root), atoll(size));
        }
        char trunc[16] = "";
        bool more = a.body && xml_text(a.body, "IsTruncated", trunc, sizeof trunc, NULL) && !strcmp(trunc, "true") &&
                    xml_text(a.body, "NextContinuationToken", token, sizeof token, NULL);
        free(a.body);
        if (rc != 0 || !more)
            return rc;
    }
}

typedef struct del_walk {
    sdra_blob *b;
    int n;
    sdra_error *err;
} del_walk;

static int del_one(void *ud, const char *key, int64_t size)
{
    del_walk *w = ud;
    int rc = s3_del(w->b, key, w->err);
    if (rc == 0)
        w->n++;
    return rc;
}

static int s3_del_prefix(sdra_blob *b, const char *prefix, int *n_deleted, sdra_error *err)
{
    del_walk w = {b, 0, err};
    int rc = s3_list(b, prefix, del_one, &w, err);
    *n_deleted = w.n;
    return rc;
}

static void s3_close(sdra_blob *b)
{
    s3_free(b->impl);
}

static const blob_ops s3_ops = {
    .name = "s3",
    .put_stream = s3_put,
    .get_range = s3_get_range,
    .head = s3_head,
    .del = s3_del,
    .del_prefix = s3_del_prefix,
    .list = s3_list,
    .file_of = NULL,
    .close = s3_close,
};

/* Bucket names: 3..63 of [a-z0-9.-] (S3's rules, loosely). */
static bool bucket_ok(const char *s, size_t n)
{
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '-'))
            return false;
    return true;
}

int blob_s3_open(sdra_blob *b, const sdra_blob_params *p, sdra_error *err)
{
    char *endpoint = NULL, *region = NULL, *akid = NULL, *style = NULL;
    int rc = sdra_httpc_global_init(err);
    if (rc < 0)
        return rc;
    s3 *c = calloc(1, sizeof *c);
    if (!c)
        return sdra_error_set(err, SDRA_ENOMEM, "object store: out of memory");
    const char *loc = p->location + 5, *slash = strchr(loc, '/');
    size_t bn = slash ? (size_t)(slash - loc) : strlen(loc);
    if (!bucket_ok(loc, bn)) {
        rc = sdra_error_set(err, SDRA_EINVAL, "%.200s: not a bucket name (3-63 of a-z, 0-9, '.', '-')", p->location);
        goto done;
    }
    memcpy(c->bucket, loc, bn);
    if (slash && slash[1]) {
        const char *pre = slash + 1;
        size_t pn = strlen(pre);
        while (pn > 0 && pre[pn - 1] == '/')
            pn--;
        char tmp[SDRA_BLOB_KEY_MAX];
        if (pn >= sizeof tmp - 2) {
            rc = sdra_error_set(err, SDRA_EINVAL, "%.200s: prefix too long", p->location);
            goto done;
        }
        memcpy(tmp, pre, pn);
        tmp[pn] = '\0';
        if (pn && !sdra_blob_key_valid(tmp)) {
            rc = sdra_error_set(err, SDRA_EINVAL, "%.200s: the prefix is not valid ([A-Za-z0-9._-/], no \"..\")", p->location);
            goto done;
        }
        if (pn) {
            memcpy(c->root, tmp, pn);
            c->root[pn] = '/';
            c->root[pn + 1] = '\0';
        }
    }
    if ((rc = setting(&endpoint, p->endpoint, "SDRA_S3_ENDPOINT", false, err)) < 0 ||
        (rc = setting(&region, p->region, "SDRA_S3_REGION", false, err)) < 0 ||
        (rc = setting(&akid, p->access_key_id, "AWS_ACCESS_KEY_ID", false, err)) < 0 ||
        (rc = setting(&c->secret, p->secret_access_key, "AWS_SECRET_ACCESS_KEY", true, err)) < 0 ||
        (rc = setting(&c->token, p->session_token, "AWS_SESSION_TOKEN", true, err)) < 0 ||
        (rc = setting(&style, NULL, "SDRA_S3_PATH_STYLE", false, err)) < 0)
        goto done;
    snprintf(c->region, sizeof c->region, "%s", region && *region ? region : "us-east-1");
    for (const char *r = c->region; *r; r++)
        if (!isalnum((unsigned char)*r) && *r != '-') {
            rc = sdra_error_set(err, SDRA_EINVAL, "SDRA_S3_REGION: \"%.60s\" is not a region name", c->region);
            goto done;
        }
    if (endpoint && *endpoint) {
        const char *h;
        if (!strncmp(endpoint, "http://", 7))
            snprintf(c->scheme, sizeof c->scheme, "http"), h = endpoint + 7;
        else if (!strncmp(endpoint, "https://", 8))
            snprintf(c->scheme, sizeof c->scheme, "https"), h = endpoint + 8;
        else {
            rc = sdra_error_set(err, SDRA_EINVAL, "SDRA_S3_ENDPOINT: \"%.100s\" is not an http:// or https:// URL", endpoint);
            goto done;
        }
        size_t hn = strcspn(h, "/?#");
        if (hn == 0 || hn >= sizeof c->host || strchr(h, '@') || h[hn] == '?' || h[hn] == '#' ||
            (h[hn] == '/' && h[hn + 1])) {
            rc = sdra_error_set(err, SDRA_EINVAL, "SDRA_S3_ENDPOINT: \"%.100s\" must be scheme://host[:port] only", endpoint);
            goto done;
        }
        memcpy(c->host, h, hn);
        c->path_style = true;
    } else {
        snprintf(c->scheme, sizeof c->scheme, "https");
        snprintf(c->host, sizeof c->host, "s3.%s.amazonaws.com", c->region);
        c->path_style = false;
    }
    if (p->path_style >= 0)
        c->path_style = p->path_style != 0;
    else if (style && *style)
        c->path_style = strcmp(style, "0") != 0;
    if (!akid || !*akid || !c->secret || !*c->secret) {
        rc = sdra_error_set(err, SDRA_EINVAL, "%.200s: no credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                            "their _FILE forms)", p->location);
        goto done;
    }
    size_t up = strlen(akid) + strlen(c->secret) + 2;
    if (!(c->userpwd = malloc(up))) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "object store: out of memory");
        goto done;
    }
    snprintf(c->userpwd, up, "%s:%s", akid, c->secret);
    if (c->token && *c->token) {
        size_t tn = strlen(c->token) + 32;
        if (!(c->token_hdr = malloc(tn))) {
            rc = sdra_error_set(err, SDRA_ENOMEM, "object store: out of memory");
            goto done;
        }
        snprintf(c->token_hdr, tn, "x-amz-security-token: %s", c->token);
    }
    snprintf(c->sigv4, sizeof c->sigv4, "aws:amz:%s:s3", c->region);
    c->part_bytes = p->part_bytes ? p->part_bytes : SDRA_BLOB_PART_BYTES_DEFAULT;
    if (c->part_bytes < MIN_PART_BYTES && !getenv("SDRA_BLOB_TEST_SMALL_PARTS")) {
        rc = sdra_error_set(err, SDRA_EINVAL, "object store: parts of %zu bytes are below S3's minimum of 5 MiB",
                            c->part_bytes);
        goto done;
    }
    c->timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : 60000;
    c->connect_timeout_ms = p->connect_timeout_ms > 0 ? p->connect_timeout_ms : 5000;
    if (getenv("SDRA_S3_TIMEOUT_MS") && atol(getenv("SDRA_S3_TIMEOUT_MS")) > 0 && p->timeout_ms <= 0)
        c->timeout_ms = atol(getenv("SDRA_S3_TIMEOUT_MS"));
    b->impl = c;
    b->ops = &s3_ops;
    snprintf(b->location, sizeof b->location, "s3://%s%s%.*s", c->bucket, c->root[0] ? "/" : "",
             c->root[0] ? (int)strlen(c->root) - 1 : 0, c->root);
    /* one request now, so that a wrong bucket, endpoint or key fails the start in one line */
    char q[SDRA_BLOB_KEY_MAX * 3 + 64], enc[SDRA_BLOB_KEY_MAX * 3];
    qenc(enc, sizeof enc, c->root);
    snprintf(q, sizeof q, "list-type=2&max-keys=1&prefix=%s", enc);
    s3_req r = {.method = "GET", .query = q};
    s3_ans a;
    rc = s3_do(b, &r, &a, err);
    free(a.body);
    if (rc < 0) {
        b->impl = NULL;
        b->ops = NULL;
    }
done:
    if (akid)
        memset(akid, 0, strlen(akid));
    free(endpoint);
    free(region);
    free(akid);
    free(style);
    if (rc < 0)
        s3_free(c);
    return rc;
}
