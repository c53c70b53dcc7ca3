/*
 * web.c - what the browser app (data/web, docs/web.md) needs from the server beyond the call
 * API: its static files under a strict Content-Security-Policy, ranged audio (seeking in the
 * player, over encrypted files too), the media cookie an <audio> element authenticates with,
 * the email review (an edited draft and its approval), the team view's aggregate, and the
 * full-text index of calls that the calls list searches.
 *
 * The search index never holds plaintext of an encrypted call: with encryption at rest each
 * term is replaced by a keyed hash (the seal table's blind index), and queries are hashed the
 * same way, so search finds whole words only.
 *
 * The CSP allows inline styles (never scripts): wavesurfer.js draws in a shadow DOM with its own
 * <style> element, and a hash cannot name it (its text depends on the options).
 */
#include "internal.h"

#include "sdra/outbox.h"

#include "sdra/buf.h"
#include "sdra/compose.h"
#include "sdra/crypt.h"
#include "sdra/log.h"
#include "sdra/seal.h"
#include "sdra/transcript.h"
#include "sdra/util.h"

#include <ctype.h>
#include <sodium.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WEB_CSP                                                                                                      \
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; " \
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "                \
    "frame-ancestors 'none'"
#define DOC_MAX (16u << 20)
#define DRAFT_NAME SDRA_OUTBOX_DRAFT_FILE
#define DRAFT_TEXT_MAX (32u << 10)
#define STATS_CALLS_MAX 2000 /* calls one team view reads */

/* ---- static files ------------------------------------------------------------------------ */

static const struct {
    const char *ext, *ctype;
} web_types[] = {
    {"html", "text/html; charset=utf-8"}, {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"}, {"css", "text/css; charset=utf-8"},
    {"json", "application/json"}, {"svg", "image/svg+xml"}, {"png", "image/png"},
    {"ico", "image/x-icon"}, {"woff2", "font/woff2"}, {"txt", "text/plain; charset=utf-8"},
};

bool srv_web_path_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n >= SRV_WEB_PATH_MAX || p[0] == '/' || p[0] == '.' || strstr(p, "..") || strstr(p, "//"))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)p[i]) || p[i] == '.' || p[i] == '-' || p[i] == '_' || p[i] == '/'))
            return false;
    return true;
}

static void web_headers(struct MHD_Response *resp, const char *ctype, const char *cache)
{
    MHD_add_response_header(resp, "Content-Type", ctype);
    MHD_add_response_header(resp, "Cache-Control", cache);
    MHD_add_response_header(resp, "Content-Security-Policy", WEB_CSP);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
}

/* Like srv_queue, with the static files' own caching (srv_queue says no-store). */
static enum MHD_Result web_queue(req *r, struct MHD_Connection *c, int status, struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO;
    r->status = status;
    if (r->s->tls)
        MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result srv_web_static(req *r, struct MHD_Connection *c)
{
    char rel[SRV_WEB_PATH_MAX + 8], path[PATH_MAX];
    snprintf(rel, sizeof rel, "web/%s", r->web_path);
    if (sdra_share_path(path, sizeof path, rel) < 0)
        return srv_send_error(r, c, 500, "internal", "share directory path too long");
    const char *dot = strrchr(r->web_path, '.'), *ctype = NULL;
    for (size_t i = 0; dot && i < sizeof web_types / sizeof web_types[0]; i++)
        if (!strcmp(dot + 1, web_types[i].ext))
            ctype = web_types[i].ctype;
    int fd = ctype ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return srv_send_error(r, c, 404, "not_found", "no such file: %.200s", r->web_path);
    }
    /* a weak validator from size and modification time: a changed file is fetched again */
    char etag[64];
    snprintf(etag, sizeof etag, "W/\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ull + (unsigned long long)st.st_mtim.tv_nsec);
    /* the page revalidates every time; the rest may be used for an hour, then revalidated */
    const char *cache = !strcmp(dot, ".html") ? "no-cache" : "public, max-age=3600";
    const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
    struct MHD_Response *resp;
    int status = 200;
    if (inm && !strcmp(inm, etag)) {
        close(fd);
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        status = 304;
    } else {
        resp = MHD_create_response_from_fd((size_t)st.st_size, fd);
        if (!resp)
            close(fd);
    }
    if (!resp)
        return MHD_NO;
    web_headers(resp, ctype, cache);
    MHD_add_response_header(resp, "ETag", etag);
    return web_queue(r, c, status, resp);
}

/* ---- ranged files (the audio) --------------------------------------------------------------
 * One range of bytes=A-B, A- or -N; anything else (several ranges, other units, syntax this
 * does not know) is ignored and the whole file served, as RFC 9110 allows. */

enum { RANGE_NONE, RANGE_OK, RANGE_UNSATISFIABLE };

static int parse_range(const char *h, int64_t size, int64_t *first, int64_t *last)
{
    if (!h || strncmp(h, "bytes=", 6) || strchr(h, ','))
        return RANGE_NONE;
    const char *p = h + 6;
    char *end;
    errno = 0;
    if (*p == '-') { /* the last N bytes */
        if (!isdigit((unsigned char)p[1]))
            return RANGE_NONE;
        long long n = strtoll(p + 1, &end, 10);
        if (*end || errno || n < 0)
            return RANGE_NONE;
        if (n == 0 || size == 0)
            return RANGE_UNSATISFIABLE;
        *first = n >= size ? 0 : size - n;
        *last = size - 1;
        return RANGE_OK;
    }
    if (!isdigit((unsigned char)*p))
        return RANGE_NONE;
    long long a = strtoll(p, &end, 10);
    if (errno || *end != '-')
        return RANGE_NONE;
    long long b = size - 1;
    if (end[1]) {
        if (!isdigit((unsigned char)end[1]))
            return RANGE_NONE;
        char *e2;
        b = strtoll(end + 1, &e2, 10);
        if (*e2 || errno || b < a)
            return RANGE_NONE;
    }
    if (a >= size)
        return RANGE_UNSATISFIABLE;
    *first = a;
    *last = b >= size ? size - 1 : b;
    return RANGE_OK;
}

enum MHD_Result srv_send_ranged(req *r, struct MHD_Connection *c, const char *path, const char *ctype)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return srv_send_error(r, c, 404, "not_found", "%s is gone", strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
    }
    sdra_crypt_reader *cr = NULL;
    sdra_error err = {0};
    if (srv_open_plain(r->s, fd, &cr, &err) < 0) {
        close(fd);
        return srv_send_sdra_error(r, c, &err);
    }
    int64_t size = cr ? sdra_crypt_reader_plain_bytes(cr, (int64_t)st.st_size) : (int64_t)st.st_size;
    if (size < 0) {
        sdra_crypt_reader_close(cr);
        close(fd);
        return srv_send_error(r, c, 500, "internal", "encrypted file truncated");
    }
    int64_t first = 0, last = size - 1;
    int rk = parse_range(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range"), size, &first, &last);
    char cr_hdr[96];
    if (rk == RANGE_UNSATISFIABLE) {
        sdra_crypt_reader_close(cr);
        close(fd);
        snprintf(cr_hdr, sizeof cr_hdr, "bytes */%lld", (long long)size);
        struct MHD_Response *resp =
            srv_error_response("range_not_satisfiable", "the range starts beyond the end of the audio");
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, "Content-Range", cr_hdr);
        MHD_add_response_header(resp, "Accept-Ranges", "bytes");
        return srv_queue(r, c, 416, resp);
    }
    uint64_t len = size > 0 ? (uint64_t)(last - first + 1) : 0;
    struct MHD_Response *resp = NULL;
    if (cr) {
        if (srv_plain_response_range(cr, fd, first, len, &resp, &err) < 0) { /* owns cr and fd */
            close(fd);
            return srv_send_sdra_error(r, c, &err);
        }
    } else {
        resp = MHD_create_response_from_fd_at_offset64(len, fd, (uint64_t)first);
        if (!resp) {
            close(fd);
            return MHD_NO;
        }
    }
    MHD_add_response_header(resp, "Content-Type", ctype);
    MHD_add_response_header(resp, "Accept-Ranges", "bytes");
    if (rk == RANGE_OK) {
        snprintf(cr_hdr, sizeof cr_hdr, "bytes %lld-%lld/%lld", (long long)first, (long long)last, (long long)size);
        MHD_add_response_header(resp, "Content-Range", cr_hdr);
    }
    return srv_queue(r, c, rk == RANGE_OK ? 206 : 200, resp);
}

/* ---- the media cookie -----------------------------------------------------------------------
 * An <audio> element cannot send an Authorization header. POST /v1/session (authenticated
 * with the key) answers with a cookie holding that key, HttpOnly (no script reads it),
 * SameSite=Strict (no other site's page sends it), scoped to /v1/calls/ and to the browser
 * session; http.c accepts it for GET and HEAD of /v1/calls/{id}/audio only, so it can never
 * change anything (no CSRF). DELETE /v1/session clears it. */

bool srv_media_cookie(struct MHD_Connection *c, char *out, size_t n)
{
    const char *v = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, SRV_MEDIA_COOKIE);
    if (!v || !*v || strlen(v) >= n)
        return false;
    for (const char *p = v; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-'))
            return false;
    sdra_strlcpy(out, v, n);
    return true;
}

enum MHD_Result srv_session(req *r, struct MHD_Connection *c)
{
    char cookie[400];
    const char *secure = r->s->tls ? "; Secure" : "";
    if (!strcmp(r->method, "DELETE")) {
        snprintf(cookie, sizeof cookie, "%s=; Path=/v1/calls/; HttpOnly; SameSite=Strict; Max-Age=0%s",
                 SRV_MEDIA_COOKIE, secure);
    } else {
        const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        h = h && strlen(h) > 7 ? h + 7 : "";
        while (*h == ' ')
            h++;
        char key[256];
        if (strlen(h) >= sizeof key)
            return srv_send_error(r, c, 400, "invalid_input", "API key too long");
        sdra_strlcpy(key, h, sizeof key);
        for (const char *p = key; *p; p++)
            if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-'))
                return srv_send_error(r, c, 400, "invalid_input", "the API key has characters a cookie cannot hold");
        snprintf(cookie, sizeof cookie, "%s=%s; Path=/v1/calls/; HttpOnly; SameSite=Strict%s", SRV_MEDIA_COOKIE, key,
                 secure);
        sodium_memzero(key, sizeof key);
    }
    json_t *doc = json_pack("{s:s,s:s}", "key_id", r->key.id, "scope", r->key.scope);
    char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    struct MHD_Response *resp = body ? MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!resp) {
        free(body);
        sodium_memzero(cookie, sizeof cookie);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Set-Cookie", cookie);
    sodium_memzero(cookie, sizeof cookie);
    return srv_queue(r, c, 200, resp);
}

/* ---- email review --------------------------------------------------------------------------
 * GET /v1/calls/{id}/email/draft: the draft a person works on (the composed email until
 * someone edits it), with the .eml it produces. PUT (write scope) stores subject and text as
 * the call's edited draft (DRAFT_NAME in the call directory, encrypted at rest like the rest)
 * and withdraws an earlier approval; POST .../email/approve records who approved which text.
 * Each is audited. What happens after approval (sending, scheduling) is the outbox's. */

static int draft_load(struct sdra_server *s, const char *call_id, json_t **draft, json_t **email, char **eml,
                      sdra_error *err)
{
    char dir[1200];
    srv_call_dir(s, dir, sizeof dir, call_id);
    *draft = *email = NULL;
    *eml = NULL;
    /* from the object store (blob_io.c); the draft always, another API node may have edited it */
    static const char *const names[] = {"email.json", "email.eml", DRAFT_NAME};
    for (int i = 0; i < 3; i++) {
        char rel[SDRA_BLOB_KEY_MAX], fp[1300];
        snprintf(rel, sizeof rel, "calls/%s/%s", call_id, names[i]);
        snprintf(fp, sizeof fp, "%s/%s", dir, names[i]);
        int frc = srv_blob_local(s, rel, fp, i == 2 ? INT64_MAX : 0, err);
        if (frc < 0 && frc != SDRA_ENOTFOUND)
            return frc;
        if (frc == SDRA_ENOTFOUND && i == 2)
            unlink(fp); /* withdrawn elsewhere */
    }
    int rc = sdra_json_load_doc(email, dir, "email.json", DOC_MAX, 0, err);
    if (rc == SDRA_ENOTFOUND || (rc == SDRA_EIO && err->code == SDRA_ENOTFOUND))
        return sdra_error_set(err, SDRA_ENOTFOUND, "call %s has no email yet", call_id);
    if (rc < 0)
        return rc;
    if (json_is_string(json_object_get(*email, "skipped")))
        return sdra_error_set(err, SDRA_EINVAL, "call %s has no email: %s", call_id,
                              json_string_value(json_object_get(*email, "skipped")));
    if ((rc = sdra_json_load_doc(draft, dir, DRAFT_NAME, DOC_MAX, 1, err)) < 0)
        return rc;
    char p[1300];
    size_t n = 0;
    snprintf(p, sizeof p, "%s/email.eml", dir);
    return sdra_file_read(eml, &n, p, DOC_MAX, err);
}

/* The draft document the API answers with: the stored one, or one made from the email. */
static json_t *draft_view(const char *call_id, json_t *draft, json_t *email, const char *eml, sdra_error *err)
{
    const char *subject = json_string_value(json_object_get(draft ? draft : email, "subject"));
    const char *text = json_string_value(json_object_get(draft ? draft : email, draft ? "text" : "text"));
    if (!subject || !text) {
        sdra_error_set(err, SDRA_EINVAL, "the email of call %s has no subject or text", call_id);
        return NULL;
    }
    char *edited = NULL;
    if (sdra_email_eml_edit(eml, subject, text, &edited, err) < 0)
        return NULL;
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:b}", "schema", "sdra.email_draft/1", "call_id", call_id, "subject", subject,
                          "text", text, "edited", draft != NULL);
    const char *keep[] = {"edited_at", "edited_by", "approved_at", "approved_by"};
    for (size_t i = 0; i < 4; i++) {
        json_t *v = draft ? json_object_get(draft, keep[i]) : NULL;
        json_object_set(o, keep[i], v ? v : json_null());
    }
    json_t *ap = draft ? json_object_get(draft, "approved_at") : NULL;
    json_object_set_new(o, "approved", json_boolean(ap && json_is_string(ap)));
    json_t *nr = json_object_get(email, "needs_review"), *rr = json_object_get(email, "review_reasons");
    json_object_set(o, "needs_review", nr ? nr : json_false());
    json_object_set(o, "review_reasons", rr ? rr : json_array());
    json_object_set(o, "to", json_object_get(email, "to") ? json_object_get(email, "to") : json_null());
    json_object_set_new(o, "eml", json_string(edited));
    free(edited);
    return o;
}

/* The call's mail.deliver outbox entry as the API shows it, or null. */
static json_t *mail_entry_json(struct sdra_server *s, const char *org, const char *call_id)
{
    char key[SDRA_STORE_ID_MAX + 32];
    snprintf(key, sizeof key, "%s:%s", SDRA_OUTBOX_MAIL, call_id);
    sdra_store_outbox_item it;
    if (sdra_store_outbox_get(s->store, org, key, &it, NULL) < 0)
        return json_null();
    json_t *o = sdra_outbox_item_json(&it);
    sdra_store_outbox_release(&it);
    return o ? o : json_null();
}

static void now_iso(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

enum MHD_Result srv_email_draft(req *r, struct MHD_Connection *c)
{
    struct sdra_server *s = r->s;
    bool put = !strcmp(r->method, "PUT"), approve = r->route == R_EMAIL_APPROVE;
    sdra_store_call sc;
    sdra_error err = {0};
    if (sdra_store_call_get(s->store, r->key.org, r->call_id, &sc, &err) < 0)
        return srv_send_sdra_error(r, c, &err);
    sdra_store_call_release(&sc);
    json_t *in = NULL;
    const char *subject = NULL, *text = NULL;
    if (put) {
        if (r->body_too_big)
            return srv_send_error(r, c, 413, "too_large", "the draft is over %u bytes", SRV_BODY_MAX);
        json_error_t je;
        in = r->body ? json_loads(r->body, 0, &je) : NULL;
        subject = json_string_value(json_object_get(in, "subject"));
        text = json_string_value(json_object_get(in, "text"));
        if (!subject || !text) {
            json_decref(in);
            return srv_send_error(r, c, 400, "invalid_input", "send {\"subject\": string, \"text\": string}");
        }
        if (sdra_text_check_line("subject", subject, &err) < 0 || strlen(subject) > 900) {
            json_decref(in);
            return srv_send_error(r, c, 400, "invalid_input", "%s", err.msg[0] ? err.msg : "subject: over 900 bytes");
        }
        if (strlen(text) > DRAFT_TEXT_MAX || !strlen(text)) {
            json_decref(in);
            return srv_send_error(r, c, 400, "invalid_input", "text: 1 to %u bytes", DRAFT_TEXT_MAX);
        }
    }
    srv_approve_choice choice = {.send_at_ms = -1}; /* send now, schedule or save as a draft */
    if (approve && (r->body_too_big || srv_approve_choice_parse(&choice, r->body, sdra_store_now_ms(), &err) < 0))
        return srv_send_error(r, c, 400, "invalid_input", "%s", r->body_too_big ? "the body is too large" : err.msg);
    const char *action = put ? "email.edit" : approve ? "email.approve" : "email.draft.read";
    if (srv_audit(r, NULL, action, r->call_id, NULL) < 0) {
        json_decref(in);
        return srv_send_audit_failed(r, c);
    }
    srv_seal sl;
    json_t *draft = NULL, *email = NULL, *view = NULL;
    char *eml = NULL;
    int rc = srv_seal_begin(s, &sl, r->call_id, &err);
    if (rc == 0)
        rc = draft_load(s, r->call_id, &draft, &email, &eml, &err);
    if (rc == 0 && (put || approve)) {
        char now[32], dir[1200], path[1300];
        now_iso(now);
        if (!draft) {
            draft = json_pack("{s:s,s:s,s:O,s:O}", "schema", "sdra.email_draft/1", "call_id", r->call_id, "subject",
                              json_object_get(email, "subject"), "text", json_object_get(email, "text"));
            json_object_set_new(draft, "edited_at", json_null());
            json_object_set_new(draft, "edited_by", json_null());
        }
        if (put) {
            json_object_set_new(draft, "subject", json_string(subject));
            json_object_set_new(draft, "text", json_string(text));
            json_object_set_new(draft, "edited_at", json_string(now));
            json_object_set_new(draft, "edited_by", json_string(r->key.id));
            json_object_set_new(draft, "approved_at", json_null()); /* a changed text is approved again */
            json_object_set_new(draft, "approved_by", json_null());
        } else {
            json_object_set_new(draft, "approved_at", json_string(now));
            json_object_set_new(draft, "approved_by", json_string(r->key.id));
        }
        /* the .eml must be producible before the draft is kept */
        json_t *check = draft_view(r->call_id, draft, email, eml, &err);
        if (!check)
            rc = err.code ? err.code : SDRA_EINVAL;
        json_decref(check);
        srv_call_dir(s, dir, sizeof dir, r->call_id);
        snprintf(path, sizeof path, "%s/%s", dir, DRAFT_NAME);
        if (rc == 0)
            rc = sdra_json_write_file(path, draft, &err);
        char rel[SDRA_BLOB_KEY_MAX];
        snprintf(rel, sizeof rel, "calls/%s/%s", r->call_id, DRAFT_NAME);
        if (rc == 0)
            rc = srv_blob_store(s, rel, path, &err);
    }
    if (rc == 0 && approve) {
        /* the email held for review in the outbox goes on its way with the approved text; an
         * entry in another state (none yet, queued, sent) is left as it is */
        char key[SDRA_STORE_ID_MAX + 32];
        sdra_error e2 = {0};
        snprintf(key, sizeof key, "%s:%s", SDRA_OUTBOX_MAIL, r->call_id);
        int arc = srv_outbox_approve_as(s, r->key.org, key, &choice, &e2);
        if (arc < 0 && arc != SDRA_ENOTFOUND && arc != SDRA_EEXISTS)
            sdra_log(SDRA_LOG_WARN, "approving the held email of call %s in the outbox failed: %s", r->call_id, e2.msg);
    }
    if (rc == 0 && !(view = draft_view(r->call_id, draft, email, eml, &err)))
        rc = err.code ? err.code : SDRA_EINVAL;
    if (rc == 0 && approve) /* where the email stands now: the outbox entry, or null without one */
        json_object_set_new(view, "outbox", mail_entry_json(s, r->key.org, r->call_id));
    srv_seal_end(&sl);
    json_decref(in);
    json_decref(draft);
    json_decref(email);
    free(eml);
    if (rc < 0) {
        if (rc == SDRA_EINVAL && (put || approve))
            return srv_send_error(r, c, 409, "conflict", "%s", err.msg);
        return srv_send_sdra_error(r, c, &err);
    }
    return srv_send_json(r, c, 200, view);
}

/* ---- the search index --------------------------------------------------------------------- */

/* Appends the search terms of text to b: lower-cased runs of letters and digits (bytes >= 0x80
 * count as letters), each replaced by its keyed hash when a seal table with a blind index is
 * installed on this thread. At most max_terms terms. */
static int add_terms(sdra_buf *b, const char *text, int max_terms)
{
    const sdra_seal_ops *so = sdra_seal_get();
    int n = 0, rc = 0;
    for (const char *p = text; p && *p && rc == 0 && n < max_terms;) {
        while (*p && !(isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80))
            p++;
        char w[129];
        size_t k = 0;
        while (*p && (isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80)) {
            if (k < sizeof w - 1)
                w[k++] = (char)tolower((unsigned char)*p);
            p++;
        }
        if (!k)
            break;
        w[k] = '\0';
        if (so && so->blind) {
            char h[SDRA_SEAL_BLIND_MAX];
            if (so->blind(so->user_data, w, h) < 0)
                return -1;
            const char *hex = strchr(h, ':') ? strchr(h, ':') + 1 : h;
            rc = sdra_buf_printf(b, "%sh%.20s", b->len ? " " : "", hex); /* 80 bits suffice to tell words apart */
        } else {
            rc = sdra_buf_printf(b, "%s%s", b->len ? " " : "", w);
        }
        n++;
    }
    return rc;
}

/* email.json's outcome when composed (meeting_booked, follow_up, not_interested,
 * do_not_contact), else "" */
int srv_search_index(struct sdra_server *s, const char *call_id, const char *org, const char *dir, sdra_error *err)
{
    json_t *t = NULL, *a = NULL, *e = NULL, *meta = NULL;
    sdra_buf people, words, objections;
    sdra_buf_init(&people, 64u << 10);
    sdra_buf_init(&words, SDRA_STORE_SEARCH_TERMS_MAX - (128u << 10));
    sdra_buf_init(&objections, 16u << 10);
    int rc = 0;
    sdra_store_call sc;
    char day[16] = "";
    if ((rc = sdra_store_call_get(s->store, NULL, call_id, &sc, err)) < 0)
        goto done;
    rc = srv_meta_open(s, &sc.meta_json, err);
    meta = rc == 0 ? json_loads(sc.meta_json ? sc.meta_json : "{}", 0, NULL) : NULL;
    if (rc == 0) {
        const char *cd = json_string_value(json_object_get(meta, "call_date"));
        if (cd && strlen(cd) == 10)
            sdra_strlcpy(day, cd, sizeof day);
        else {
            time_t tt = (time_t)(sc.created_ms / 1000);
            struct tm tm;
            gmtime_r(&tt, &tm);
            strftime(day, sizeof day, "%Y-%m-%d", &tm);
        }
    }
    sdra_store_call_release(&sc);
    if (rc < 0)
        goto done;
    const char *pf[] = {"contact_name", "company", "contact_email"};
    for (size_t i = 0; i < 3; i++)
        if (add_terms(&people, json_string_value(json_object_get(meta, pf[i])), 64) < 0)
            goto toolong;
    if ((rc = sdra_json_load_doc(&t, dir, "transcript.json", SDRA_TRANSCRIPT_MAX_BYTES, 1, err)) < 0 ||
        (rc = sdra_json_load_doc(&a, dir, "analysis.json", DOC_MAX, 1, err)) < 0 ||
        (rc = sdra_json_load_doc(&e, dir, "email.json", DOC_MAX, 1, err)) < 0)
        goto done;
    json_t *u;
    size_t i;
    json_array_foreach(json_object_get(t, "utterances"), i, u) {
        if (add_terms(&words, json_string_value(json_object_get(u, "text")), 4096) < 0)
            break; /* the index holds what fits */
    }
    json_t *o;
    json_array_foreach(json_object_get(a, "objections"), i, o) {
        const char *ty = json_string_value(json_object_get(o, "type"));
        if (ty && !strstr(objections.data ? objections.data : "", ty))
            sdra_buf_printf(&objections, "%s%s", objections.len ? " " : "", ty);
    }
    const char *outcome = json_string_value(json_object_get(e, "outcome"));
    sdra_store_search_doc d = {.people = people.data, .words = words.data, .objections = objections.data,
                               .outcome = outcome, .day = day[0] ? day : NULL};
    rc = sdra_store_search_put(s->store, org, call_id, &d, err);
    goto done;
toolong:
    rc = sdra_error_set(err, SDRA_ELIMIT, "search terms too long");
done:
    json_decref(t);
    json_decref(a);
    json_decref(e);
    json_decref(meta);
    sdra_buf_release(&people);
    sdra_buf_release(&words);
    sdra_buf_release(&objections);
    return rc;
}

int srv_calls_search(req *r, struct MHD_Connection *c, const char *status, int offset, int limit, sdra_store_call *out,
                     int *n_out, sdra_error *err)
{
    const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "q");
    sdra_store_search_query sq = {
        .outcome = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "outcome"),
        .objection = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "objection"),
        .from_day = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "from"),
        .to_day = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "to"),
        .status = status};
    if (q && !*q)
        q = NULL;
    const char *f[] = {"outcome", "objection", "from", "to"};
    const char **fv[] = {&sq.outcome, &sq.objection, &sq.from_day, &sq.to_day};
    for (size_t i = 0; i < 4; i++)
        if (*fv[i] && !**fv[i])
            *fv[i] = NULL;
    (void)f;
    if (!q && !sq.outcome && !sq.objection && !sq.from_day && !sq.to_day)
        return 0;
    if (q && strlen(q) > FIELD_MAX)
        return sdra_error_set(err, SDRA_EINVAL, "q: at most %d bytes", FIELD_MAX);
    sdra_buf terms;
    sdra_buf_init(&terms, 64u << 10);
    srv_seal sl;
    int rc = srv_seal_begin(r->s, &sl, NULL, err); /* the blind index of an encrypted store */
    if (rc == 0 && q && add_terms(&terms, q, SDRA_STORE_SEARCH_QUERY_TERMS + 1) < 0)
        rc = sdra_error_set(err, SDRA_EINVAL, "q: cannot be searched");
    srv_seal_end(&sl);
    if (rc == 0 && q && !terms.len) { /* nothing searchable in q: no call matches */
        sdra_buf_release(&terms);
        return 1;
    }
    sq.terms = q ? terms.data : NULL;
    if (rc == 0)
        rc = sdra_store_call_search(r->s->store, r->key.org, &sq, offset, limit, out, n_out, err);
    sdra_buf_release(&terms);
    return rc < 0 ? rc : 1;
}

/* ---- the team view --------------------------------------------------------------------------
 * GET /v1/stats/team?weeks=N (1..52, default 8): the organisation's done calls of the last N
 * weeks (by call date), read from their analysis and email, grouped by ISO week (Monday) and
 * by rep. Every number carries the calls it counts, so each chart links to them. */

static void week_of(const char *day, char out[16])
{
    struct tm tm = {0};
    out[0] = '\0';
    if (!day || sscanf(day, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
        return;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_hour = 12;
    time_t t = timegm(&tm);
    gmtime_r(&t, &tm);
    t -= (time_t)(((tm.tm_wday + 6) % 7) * 86400); /* back to Monday */
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

static json_t *bucket(json_t *parent, const char *key)
{
    json_t *b = json_object_get(parent, key);
    if (!b) {
        b = json_pack("{s:i,s:[]}", "count", 0, "calls");
        json_object_set_new(parent, key, b);
    }
    return b;
}

static void bucket_add(json_t *parent, const char *key, const char *call_id)
{
    json_t *b = bucket(parent, key);
    json_object_set_new(b, "count", json_integer(json_integer_value(json_object_get(b, "count")) + 1));
    json_array_append_new(json_object_get(b, "calls"), json_string(call_id));
}

static json_t *week_entry(json_t *weeks, const char *week)
{
    json_t *w = json_object_get(weeks, week);
    if (!w) {
        w = json_pack("{s:s,s:[],s:[],s:{},s:{},s:{s:i,s:[]},s:n,s:{}}", "week", week, "calls", "talk_ratio", "objections",
                      "outcomes", "meetings_booked", "count", 0, "calls", "longest_monologue", "reps");
        json_object_set_new(weeks, week, w);
    }
    return w;
}

enum MHD_Result srv_stats_team(req *r, struct MHD_Connection *c)
{
    struct sdra_server *s = r->s;
    const char *wv = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "weeks");
    long weeks = 8;
    if (wv) {
        char *end;
        errno = 0;
        weeks = strtol(wv, &end, 10);
        if (!*wv || *end || errno || weeks < 1 || weeks > 52)
            return srv_send_error(r, c, 400, "invalid_input", "weeks must be an integer from 1 to 52");
    }
    char since[16];
    {
        time_t t = time(NULL) - (time_t)(weeks * 7 * 86400);
        struct tm tm;
        gmtime_r(&t, &tm);
        char day[16];
        strftime(day, sizeof day, "%Y-%m-%d", &tm);
        week_of(day, since); /* whole weeks: from a Monday */
    }
    if (srv_audit(r, NULL, "stats.team", "", NULL) < 0)
        return srv_send_audit_failed(r, c);
    json_t *wk = json_object();
    int n_calls = 0;
    sdra_error err = {0};
    sdra_store_call *page = calloc(LIST_MAX, sizeof *page);
    if (!page) {
        json_decref(wk);
        return srv_send_error(r, c, 500, "internal", "out of memory");
    }
    for (int offset = 0; offset < STATS_CALLS_MAX;) {
        int n = 0;
        if (sdra_store_call_list(s->store, r->key.org, "done", offset, LIST_MAX, page, &n, &err) < 0)
            break;
        for (int i = 0; i < n; i++) {
            sdra_store_call *sc = &page[i];
            srv_seal sl;
            json_t *a = NULL, *e = NULL, *meta = NULL;
            char dir[1200];
            srv_call_dir(s, dir, sizeof dir, sc->id);
            sdra_error e2 = {0};
            if (srv_seal_begin(s, &sl, sc->id, &e2) == 0) {
                if (srv_meta_open(s, &sc->meta_json, &e2) == 0)
                    meta = json_loads(sc->meta_json ? sc->meta_json : "{}", 0, NULL);
                if (sdra_json_load_doc(&a, dir, "analysis.json", DOC_MAX, 1, &e2) < 0)
                    a = NULL;
                if (sdra_json_load_doc(&e, dir, "email.json", DOC_MAX, 1, &e2) < 0)
                    e = NULL;
                srv_seal_end(&sl);
            }
            char day[16] = "", week[16];
            const char *cd = json_string_value(json_object_get(meta, "call_date"));
            if (!cd)
                cd = json_string_value(json_object_get(a, "call_date"));
            if (cd)
                sdra_strlcpy(day, cd, sizeof day);
            else {
                time_t tt = (time_t)(sc->created_ms / 1000);
                struct tm tm;
                gmtime_r(&tt, &tm);
                strftime(day, sizeof day, "%Y-%m-%d", &tm);
            }
            week_of(day, week);
            if (a && week[0] && strcmp(week, since) >= 0) {
                n_calls++;
                json_t *w = week_entry(wk, week);
                json_array_append_new(json_object_get(w, "calls"), json_string(sc->id));
                json_t *m = json_object_get(a, "metrics");
                double rep_share = json_number_value(json_object_get(json_object_get(m, "talk_ratio"), "rep"));
                json_array_append_new(json_object_get(w, "talk_ratio"),
                                      json_pack("{s:s,s:f}", "call_id", sc->id, "rep", rep_share));
                json_t *o;
                size_t k;
                json_t *seen = json_object();
                json_array_foreach(json_object_get(a, "objections"), k, o) {
                    const char *ty = json_string_value(json_object_get(o, "type"));
                    if (ty && !json_object_get(seen, ty)) { /* calls that raised it, once each */
                        json_object_set_new(seen, ty, json_true());
                        bucket_add(json_object_get(w, "objections"), ty, sc->id);
                    }
                }
                json_decref(seen);
                const char *outcome = json_string_value(json_object_get(e, "outcome"));
                bucket_add(json_object_get(w, "outcomes"), outcome ? outcome : "unknown", sc->id);
                json_t *nm = json_object_get(a, "next_meeting");
                if (nm && json_is_object(nm) && !json_is_true(json_object_get(nm, "approximate"))) {
                    json_t *mb = json_object_get(w, "meetings_booked");
                    json_object_set_new(mb, "count", json_integer(json_integer_value(json_object_get(mb, "count")) + 1));
                    json_array_append_new(json_object_get(mb, "calls"), json_string(sc->id));
                }
                json_t *lm = json_object_get(m, "longest_monologue");
                double lms = json_number_value(json_object_get(lm, "duration_s"));
                json_t *cur = json_object_get(w, "longest_monologue");
                if (lm && (json_is_null(cur) || lms > json_number_value(json_object_get(cur, "duration_s"))))
                    json_object_set_new(w, "longest_monologue",
                                        json_pack("{s:s,s:f,s:O,s:O}", "call_id", sc->id, "duration_s", lms, "start",
                                                  json_object_get(lm, "start") ? json_object_get(lm, "start") : json_null(),
                                                  "speaker",
                                                  json_object_get(lm, "speaker") ? json_object_get(lm, "speaker")
                                                                                 : json_null()));
                const char *rep = json_string_value(json_object_get(meta, "rep_name"));
                if (!rep)
                    rep = json_string_value(json_object_get(a, "rep_name"));
                json_t *rb = bucket(json_object_get(w, "reps"), rep ? rep : "unknown");
                json_object_set_new(rb, "count", json_integer(json_integer_value(json_object_get(rb, "count")) + 1));
                json_array_append_new(json_object_get(rb, "calls"), json_string(sc->id));
                double sum = json_number_value(json_object_get(rb, "talk_ratio_sum")) + rep_share;
                json_object_set_new(rb, "talk_ratio_sum", json_real(sum));
                json_object_set_new(rb, "talk_ratio_mean",
                                    json_real(sum / (double)json_integer_value(json_object_get(rb, "count"))));
            }
            json_decref(a);
            json_decref(e);
            json_decref(meta);
            sdra_store_call_release(sc);
        }
        if (n < LIST_MAX)
            break;
        offset += n;
    }
    free(page);
    /* weeks newest first, as an array */
    json_t *arr = json_array();
    const char *key;
    json_t *v;
    json_object_foreach(wk, key, v) {
        json_t *reps = json_object_get(v, "reps");
        const char *rk;
        json_t *rv;
        json_object_foreach(reps, rk, rv) json_object_del(rv, "talk_ratio_sum");
        size_t at = 0;
        while (at < json_array_size(arr) &&
               strcmp(json_string_value(json_object_get(json_array_get(arr, at), "week")), key) > 0)
            at++;
        json_array_insert(arr, at, v);
    }
    json_decref(wk);
    json_t *o = json_pack("{s:i,s:s,s:i,s:o}", "weeks", (int)weeks, "since", since, "calls", n_calls, "by_week", arr);
    return srv_send_json(r, c, 200, o);
}

/* ---- search backfill -----------------------------------------------------------------------
 * Calls stored before the search index existed (or whose indexing failed) have no search row.
 * At start the server indexes them from their directories in a thread of its own, in batches
 * of SEARCH_BACKFILL_BATCH ordered by id, logging progress; an indexed call has a row and is
 * not read again, so a restart goes on where the last one stopped and a second run finds none.
 * A call that cannot be indexed (its key is gone) is logged and passed over. */

#define SEARCH_BACKFILL_BATCH 50

int srv_search_backfill(struct sdra_server *s, int *n_indexed, int *n_failed, sdra_error *err)
{
    sdra_store_call *batch = calloc(SEARCH_BACKFILL_BATCH, sizeof *batch);
    char after[SDRA_STORE_ID_MAX] = "";
    int n = 0, rc = 0;
    *n_indexed = *n_failed = 0;
    if (!batch)
        return sdra_error_set(err, SDRA_ENOMEM, "search backfill: out of memory");
    while (!atomic_load(&s->stopping)) {
        if ((rc = sdra_store_search_missing(s->store, after, batch, SEARCH_BACKFILL_BATCH, &n, err)) < 0 || n == 0)
            break;
        if (!after[0] && !*n_indexed && !*n_failed)
            sdra_log(SDRA_LOG_INFO, "search backfill: indexing the calls stored before the search index");
        for (int i = 0; i < n && !atomic_load(&s->stopping); i++) {
            char dir[1200];
            sdra_error e2 = {0};
            srv_seal sl;
            srv_call_dir(s, dir, sizeof dir, batch[i].id);
            int irc = srv_seal_begin(s, &sl, batch[i].id, &e2);
            if (irc == 0) {
                irc = srv_search_index(s, batch[i].id, batch[i].org, dir, &e2);
                srv_seal_end(&sl);
            }
            if (irc < 0) {
                (*n_failed)++;
                sdra_log(SDRA_LOG_WARN, "search backfill: call %s not indexed: %s", batch[i].id, e2.msg);
            } else {
                (*n_indexed)++;
            }
            sdra_strlcpy(after, batch[i].id, sizeof after);
        }
        sdra_log(SDRA_LOG_INFO, "search backfill: %d calls indexed, %d not, so far", *n_indexed, *n_failed);
        if (n < SEARCH_BACKFILL_BATCH)
            break;
    }
    free(batch);
    if (rc == SDRA_EUNSUPPORTED)
        return 0; /* a store without search has nothing to fill */
    if (rc == 0 && (*n_indexed || *n_failed))
        sdra_log(SDRA_LOG_INFO, "search backfill: done, %d calls indexed, %d could not be", *n_indexed, *n_failed);
    return rc;
}

static void *backfill_main(void *arg)
{
    struct sdra_server *s = arg;
    int ok = 0, bad = 0;
    sdra_error err = {0};
    if (srv_search_backfill(s, &ok, &bad, &err) < 0)
        sdra_log(SDRA_LOG_WARN, "search backfill stopped: %s", err.msg);
    return NULL;
}

int srv_search_backfill_start(struct sdra_server *s, sdra_error *err)
{
    if (pthread_create(&s->sb_thread, NULL, backfill_main, s) != 0)
        return sdra_error_set(err, SDRA_ENOMEM, "server: cannot start the search backfill");
    s->sb_started = true;
    return 0;
}

void srv_search_backfill_stop(struct sdra_server *s)
{
    if (!s->sb_started)
        return;
    pthread_join(s->sb_thread, NULL);
    s->sb_started = false;
}
