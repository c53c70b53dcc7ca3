/*
 * fuzz_upload - POST /v1/calls with a multipart/form-data body: the real server (http.c,
 * upload.c, MHD's post processor, srv_call_submit) started once in this process on a loopback
 * port with no workers, each input sent as one request over a fresh connection.
 *
 * The first byte chooses how the rest becomes a body:
 *   - even: the rest is the body itself (boundary "sdrafuzz");
 *   - odd: the rest is split at "|#|" into parts, the first the audio, each further one a field
 *     (its first byte picks the name: the metadata fields, "audio" again, or an unknown name),
 *     and a well-formed body is built with a boundary that occurs in none of them; bit 1 of
 *     the first byte leaves out the closing boundary.
 * Invariants, beyond "no crash":
 *   - the answer is 202, 400, 413 or 415: never a 5xx;
 *   - accepted: the stored audio is exactly the audio part's bytes (when the body is one this
 *     target can read: one it built, or a raw one that is byte for byte what it would build),
 *     else at least a piece of the body; the accepted call is then deleted;
 *   - refused: no call directory and, once the request is over, no temporary file;
 *   - a well-formed body with one audio part, no other fields, and audio the sniffer accepts,
 *     is accepted; one that repeats a field after a non-empty part of it, has a NUL in a field,
 *     an unknown field, or no closing boundary is refused.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "sdra/audio.h"
#include "sdra/buf.h"
#include "sdra/server.h"
#include "sdra/util.h"
#include "server/internal.h"

#define MAX_PARTS 16
#define RAW_BOUNDARY "sdrafuzz"

static sdra_server *g_srv;
static char g_dir[512], g_key[SDRA_SERVER_KEY_MAX];

/* The server's last log lines, shown when an invariant fails (the server logs from its own
 * threads; printing every line would drown the fuzzer's output). */
#define LOG_RING 16
static char g_log[LOG_RING][256];
static unsigned g_log_n;
static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;

static void log_keep(void *user_data, sdra_log_level level, const sdra_log_ctx *ctx, const char *msg)
{
    (void)user_data;
    (void)level;
    (void)ctx;
    pthread_mutex_lock(&g_log_mu);
    snprintf(g_log[g_log_n++ % LOG_RING], sizeof g_log[0], "%s", msg);
    pthread_mutex_unlock(&g_log_mu);
}

static void fail(const char *why)
{
    pthread_mutex_lock(&g_log_mu);
    for (unsigned i = g_log_n > LOG_RING ? g_log_n - LOG_RING : 0; i < g_log_n; i++)
        fprintf(stderr, "fuzz_upload: server log: %s\n", g_log[i % LOG_RING]);
    pthread_mutex_unlock(&g_log_mu);
    fprintf(stderr, "fuzz_upload: %s\n", why);
    __builtin_trap();
}

static void cleanup(void)
{
    sdra_server_stop(g_srv);
    g_srv = NULL;
    if (g_dir[0] && fuzz_dir())
        srv_rm_rf(fuzz_dir()); /* the data directory and the scratch directory around it */
}

static int start(void)
{
    if (g_srv)
        return 0;
    if (getenv("FUZZ_UPLOAD_VERBOSE"))
        sdra_log_set_handler(sdra_log_stderr_text, NULL, SDRA_LOG_DEBUG);
    else
        sdra_log_set_handler(log_keep, NULL, SDRA_LOG_DEBUG);
    if (!getenv("TMPDIR") && access("/dev/shm", W_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 1); /* every upload is fsynced: keep that off the disk */
    const char *base = fuzz_dir();
    if (!base)
        return -1;
    snprintf(g_dir, sizeof g_dir, "%s/data", base);
    sdra_error err = {0};
    sdra_store *st = NULL;
    if (sdra_server_store_open(&st, g_dir, &err) < 0 ||
        sdra_server_key_create(st, "fuzz", "write", g_key, sizeof g_key, &err) < 0) {
        fprintf(stderr, "fuzz_upload: %s\n", err.msg);
        sdra_store_close(st);
        return -1;
    }
    sdra_store_close(st);
    sdra_server_params p = sdra_server_default_params();
    p.listen = "127.0.0.1:0";
    p.data_dir = g_dir;
    p.run_workers = false;
    p.no_encrypt = true; /* the invariant compares the stored bytes with the audio part (encryption at rest is tested in data_at_rest_encrypted) */
    p.http_threads = 1;
    p.max_upload_bytes = 64 * 1024;
    p.max_header_bytes = 2048; /* a small read buffer: bodies reach the parser in pieces */
    if (sdra_server_start(&g_srv, &p, &err) < 0) {
        fprintf(stderr, "fuzz_upload: %s\n", err.msg);
        return -1;
    }
    atexit(cleanup);
    return 0;
}

/* ---- bodies ---------------------------------------------------------------------------- */

typedef struct part {
    const char *name;
    const uint8_t *data;
    size_t len;
} part;

static const char *const unknown_field = "colour";

static void put(sdra_buf *b, const void *p, size_t n)
{
    sdra_buf_append(b, p, n);
}

static void puts_(sdra_buf *b, const char *s)
{
    sdra_buf_append(b, s, strlen(s));
}

/* The one way this target writes a body; a raw body that is exactly this is one it can read. */
static void build(sdra_buf *b, const part *parts, int n, const char *boundary, bool close)
{
    for (int i = 0; i < n; i++) {
        puts_(b, "--");
        puts_(b, boundary);
        puts_(b, "\r\nContent-Disposition: form-data; name=\"");
        puts_(b, parts[i].name);
        if (!strcmp(parts[i].name, "audio"))
            puts_(b, "\"; filename=\"call\"\r\nContent-Type: application/octet-stream\r\n\r\n");
        else
            puts_(b, "\"\r\n\r\n");
        put(b, parts[i].data, parts[i].len);
        puts_(b, "\r\n");
    }
    if (close) {
        puts_(b, "--");
        puts_(b, boundary);
        puts_(b, "--\r\n");
    }
}

static bool contains(const uint8_t *h, size_t hn, const char *needle)
{
    return memmem(h, hn, needle, strlen(needle)) != NULL;
}

/* Reads a raw body back into parts when it is exactly what build() writes. */
static int read_raw(const uint8_t *body, size_t n, part *parts, int *n_parts, bool *closed)
{
    static const char *const names[] = {"audio", "contact_email", "contact_name", "company", "rep_name",
                                        "rep_email", "rep_company", "call_date", "style", "direction",
                                        "colour"};
    const char *delim = "\r\n--" RAW_BOUNDARY;
    const uint8_t *p = body, *end = body + n;
    const char *first = "--" RAW_BOUNDARY;
    if (n < strlen(first) || memcmp(p, first, strlen(first)))
        return -1;
    p += strlen(first);
    int k = 0;
    *closed = false;
    for (;;) {
        if (end - p >= 4 && !memcmp(p, "--\r\n", 4) && p + 4 == end) {
            *closed = true;
            break;
        }
        if (end - p < 2 || memcmp(p, "\r\n", 2) || k == MAX_PARTS)
            return -1;
        p += 2;
        const uint8_t *hdr_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hdr_end)
            return -1;
        hdr_end += 4;
        const uint8_t *value_end = memmem(hdr_end, (size_t)(end - hdr_end), delim, strlen(delim));
        if (!value_end)
            return -1;
        parts[k].name = NULL;
        for (size_t i = 0; i < sizeof names / sizeof names[0] && !parts[k].name; i++) {
            sdra_buf h;
            sdra_buf_init(&h, 4096);
            part probe = {names[i], NULL, 0};
            build(&h, &probe, 1, RAW_BOUNDARY, false);
            size_t hl = h.len - strlen("--" RAW_BOUNDARY "\r\n") - 2; /* its header lines */
            if ((size_t)(hdr_end - p) == hl && !memcmp(p, h.data + strlen("--" RAW_BOUNDARY "\r\n"), hl))
                parts[k].name = names[i];
            sdra_buf_release(&h);
        }
        if (!parts[k].name)
            return -1;
        parts[k].data = hdr_end;
        parts[k].len = (size_t)(value_end - hdr_end);
        k++;
        p = value_end + 2 + strlen("--" RAW_BOUNDARY);
        if (p == end) /* no closing boundary */
            break;
    }
    *n_parts = k;
    /* what build() writes for these parts must be the body itself */
    sdra_buf b;
    sdra_buf_init(&b, n + 1);
    build(&b, parts, k, RAW_BOUNDARY, *closed);
    int same = b.len == n && !memcmp(b.data, body, n);
    sdra_buf_release(&b);
    return same ? 0 : -1;
}

/* ---- one request ----------------------------------------------------------------------- */

/* connect(), going on after a signal (libFuzzer's timer interrupts it now and then): the
 * connection then completes in the background, so wait for it instead of failing the input. */
static int connect_on(int fd, const struct sockaddr *sa, socklen_t n)
{
    if (connect(fd, sa, n) == 0)
        return 0;
    if (errno != EINTR)
        return -1;
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int r;
    while ((r = poll(&p, 1, 30000)) < 0 && errno == EINTR)
        ;
    if (r <= 0) {
        if (r == 0)
            errno = ETIMEDOUT;
        return -1;
    }
    int e = 0;
    socklen_t el = sizeof e;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
        return -1;
    errno = e;
    return e ? -1 : 0;
}

/* Sends the body, returns the status (-1: no answer) and the call id of a 202. */
static int post(const uint8_t *body, size_t n, const char *boundary, char *id, size_t id_n)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {30, 0}; /* a hang is libFuzzer's -timeout to report; this only ends the wait */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    /* each connection from its own address in 127/8: the server closes first, so every
     * request leaves a TIME_WAIT, and from one address the ephemeral ports run out in minutes */
    static uint32_t n_conn;
    uint32_t k = n_conn++ % 0xfffff0u;
    struct sockaddr_in from = {.sin_family = AF_INET};
    from.sin_addr.s_addr = htonl(0x7f000000u | (k + 2));
    (void)bind(fd, (struct sockaddr *)&from, sizeof from);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)sdra_server_port(g_srv))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect_on(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        fprintf(stderr, "fuzz_upload: connect: %s\n", strerror(errno));
        close(fd);
        return -1;
    }
    char head[512];
    int hn = snprintf(head, sizeof head,
                      "POST /v1/calls HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: multipart/form-data; boundary=%s\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      g_key, boundary, n);
    sdra_buf req;
    sdra_buf_init(&req, (size_t)hn + n + 1);
    sdra_buf_append(&req, head, (size_t)hn);
    sdra_buf_append(&req, body, n);
    size_t off = 0;
    while (off < req.len) {
        ssize_t w = send(fd, req.data + off, req.len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* the server may answer and close before reading everything */
        off += (size_t)w;
    }
    size_t sent = req.len;
    sdra_buf_release(&req);
    char resp[8192];
    size_t got = 0;
    for (;;) {
        ssize_t r = recv(fd, resp + got, sizeof resp - 1 - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            fprintf(stderr, "fuzz_upload: recv: %s\n", strerror(errno));
        if (r <= 0 || (got += (size_t)r) == sizeof resp - 1)
            break;
    }
    close(fd);
    resp[got] = '\0';
    if (getenv("FUZZ_UPLOAD_VERBOSE"))
        fprintf(stderr, "fuzz_upload: sent %zu of %zu bytes, answer: %.300s\n", off, sent, resp);
    int status = -1;
    if (sscanf(resp, "HTTP/1.1 %d", &status) != 1) {
        fprintf(stderr, "fuzz_upload: sent %zu of %zu bytes, no status line in %zu bytes of answer\n", off, sent, got);
        return -1;
    }
    if (status >= 500)
        fprintf(stderr, "fuzz_upload: %.300s\n", resp);
    id[0] = '\0';
    const char *p = strstr(resp, "\"id\":\"");
    if (status == 202 && p) {
        p += 6;
        size_t k = strcspn(p, "\"");
        if (k < id_n) {
            memcpy(id, p, k);
            id[k] = '\0';
        }
    }
    return status;
}

static int entries(const char *sub)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", g_dir, sub);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* The stored audio of call id, read whole into out (heap); its length or -1. */
static long stored_audio(const char *id, uint8_t **out)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/calls/%s", g_dir, id);
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    long len = -1;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "audio.", 6))
            continue;
        char path[900];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *text = NULL;
        size_t n = 0;
        if (sdra_file_read(&text, &n, path, 1 << 20, NULL) == 0) {
            *out = (uint8_t *)text;
            len = (long)n;
        }
        break;
    }
    closedir(d);
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || start() < 0)
        return 0;
    uint8_t mode = data[0];
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    part parts[MAX_PARTS];
    int n_parts = 0;
    bool known = false, closed = true; /* known: parts[] is what the body holds */
    sdra_buf body;
    sdra_buf_init(&body, 4 * size + 4096);
    char boundary[64] = RAW_BOUNDARY;
    if (mode & 1) {
        static const char *const names[] = {"contact_email", "contact_name", "company", "rep_name", "rep_email",
                                            "rep_company", "call_date", "style", "direction", "audio"};
        const uint8_t *p = in, *end = in + n;
        while (n_parts < MAX_PARTS) {
            const uint8_t *sep = memmem(p, (size_t)(end - p), "|#|", 3);
            const uint8_t *e = sep ? sep : end;
            part *pt = &parts[n_parts++];
            if (n_parts == 1) {
                *pt = (part){"audio", p, (size_t)(e - p)};
            } else if (e > p) {
                uint8_t c = p[0] % 11;
                *pt = (part){c < 10 ? names[c] : unknown_field, p + 1, (size_t)(e - p - 1)};
            } else {
                *pt = (part){"company", p, 0};
            }
            if (!sep)
                break;
            p = sep + 3;
        }
        /* a boundary that no part holds */
        for (unsigned k = 0;; k++) {
            snprintf(boundary, sizeof boundary, "sdrafuzz%u", k);
            bool clash = false;
            for (int i = 0; i < n_parts && !clash; i++)
                clash = contains(parts[i].data, parts[i].len, boundary);
            if (!clash)
                break;
        }
        closed = !(mode & 2);
        build(&body, parts, n_parts, boundary, closed);
        known = true;
    } else {
        sdra_buf_append(&body, in, n);
        known = read_raw(in, n, parts, &n_parts, &closed) == 0;
    }

    char id[SDRA_STORE_ID_MAX];
    int status = post((const uint8_t *)body.data, body.len, boundary, id, sizeof id);
    if (getenv("FUZZ_UPLOAD_VERBOSE"))
        fprintf(stderr, "fuzz_upload: %d parts, known %d, closed %d: HTTP %d\n", n_parts, known, closed, status);
    if (status != 202 && status != 400 && status != 413 && status != 415) {
        char why[96];
        snprintf(why, sizeof why, "answer %d to a body of %zu bytes: no answer, or a server error", status, body.len);
        fail(why);
    }

    /* what a well-formed body must get. A field repeated after a non-empty part of it is
     * refused; empty parts before the one that holds the value are not: MHD reports an empty
     * part as it reports the first, empty piece of a part, so upload.c cannot tell them apart,
     * and the value kept is the one that was sent (docs/security.md) */
    if (known) {
        int n_other = 0, n_filled_audio = 0;
        bool bad_field = false, repeated = false;
        const part *audio = NULL;
        for (int i = 0; i < n_parts; i++) {
            for (int j = 0; j < i && !repeated; j++)
                repeated = !strcmp(parts[j].name, parts[i].name) && parts[j].len > 0;
            if (!strcmp(parts[i].name, "audio")) {
                if (!audio || audio->len == 0)
                    audio = &parts[i];
                n_filled_audio += parts[i].len > 0;
                continue;
            }
            n_other++;
            bad_field |= !strcmp(parts[i].name, unknown_field) || memchr(parts[i].data, '\0', parts[i].len) != NULL;
        }
        bool must_refuse = repeated || bad_field || !closed;
        const char *ext = NULL;
        bool must_accept = closed && !repeated && n_filled_audio == 1 && n_other == 0 && audio->len <= 64 * 1024 &&
                           sdra_audio_sniff(audio->data, audio->len, &ext, NULL) == 0;
        if (must_refuse && status == 202)
            fail("a form that must be refused was accepted");
        if (must_accept && status != 202)
            fail("a well-formed form with good audio was refused");
        if (status == 202) {
            uint8_t *got = NULL;
            long len = audio ? stored_audio(id, &got) : -1;
            if (len < 0 || (size_t)len != audio->len || memcmp(got, audio->data, audio->len))
                fail("the stored audio is not the audio part");
            free(got);
        }
    } else if (status == 202) {
        uint8_t *got = NULL;
        long len = stored_audio(id, &got);
        if (len <= 0 || !memmem(body.data, body.len, got, (size_t)len))
            fail("stored audio that is not a piece of the body");
        free(got);
    }
    sdra_buf_release(&body);

    if (status == 202) {
        sdra_error err = {0};
        if (!id[0] || srv_call_delete(g_srv, NULL, id, "fuzz", "127.0.0.1", &err) < 0)
            fail("the accepted call could not be deleted");
    }
    /* nothing left behind: the temporary file goes when the request is over, just after the
     * answer, so wait for that a little */
    if (entries("calls") != 0)
        fail("a refused upload left a call directory");
    for (int i = 0; entries("tmp") != 0; i++) {
        if (i == 2000)
            fail("a temporary upload file stayed 2 s after the answer");
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}
