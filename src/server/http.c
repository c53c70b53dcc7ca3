/*
 * http.c - the HTTP API of `sdra serve` on libmicrohttpd (a pool of epoll event-loop threads;
 * no handler may block for long, so event streams suspend their connection when idle): routing,
 * API-key auth and scopes, responses, the connection deadlines (per-IP cap, whole-header
 * deadline, minimum body rate) and the MHD callbacks; the views are in views.c, event streams
 * in events.c, uploads in upload.c. Every error is JSON {"error":{"code","message"}} with a
 * matching status; every input has a limit (headers via the connection memory limit and the
 * header deadline, bodies via max_upload_bytes and the body rate, form fields, query values);
 * idle connections time out. The OpenAPI document in data/api/openapi.json describes these routes.
 */
#include "internal.h"

#include "sdra/call.h"
#include "sdra/crm.h"
#include "sdra/log.h"
#include "sdra/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

const char *const srv_route_names[SRV_N_ROUTES] = {
    "unmatched", "/healthz", "/readyz", "/metrics", "/v1/openapi.json", "/v1/calls", "/v1/calls/{id}",
    "/v1/calls/{id}/{artifact}", "/v1/calls/{id}/audio", "/v1/calls/{id}/events", "/v1/calls/{id}/retry",
    "/v1/keys", "/v1/keys/{id}", "/v1/keys/{id}/revoke",
    "/v1/privacy/export", "/v1/privacy/erase", "/v1/retention",
    "/v1/calls/{id}/view",
    "/v1/outbox", "/v1/outbox/{id}", "/v1/outbox/{id}/{action}",
    "/ (web app)", "/v1/session", "/v1/calls/{id}/email/draft", "/v1/calls/{id}/email/approve", "/v1/stats/team",
    "/v1/live/twilio", "/v1/live/pcm", "/v1/live/tokens", "/v1/live/{callSid}/events",
    "/v1/live/calls",
};

const char *const srv_meta_fields[N_META] = {"contact_email", "contact_name", "company", "rep_name", "rep_email",
                                    "rep_company", "call_date", "style", "direction", "consent",
                                    "callback_url", "send_at", "contact_timezone"};

/* ---- responses ------------------------------------------------------------------------ */

enum MHD_Result srv_queue(req *r, struct MHD_Connection *c, int status, struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO;
    r->status = status;
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (r->s->tls) /* clients remember to use HTTPS only */
        MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
    if (r->heading && r->drain_ok && !r->held) { /* answered once the body is dropped (on_request) */
        r->held = resp; /* its status is r->status */
        return MHD_YES;
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result srv_send_text(req *r, struct MHD_Connection *c, int status, const char *ctype, char *body)
{
    if (!body)
        return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", ctype);
    return srv_queue(r, c, status, resp);
}

enum MHD_Result srv_send_json(req *r, struct MHD_Connection *c, int status, json_t *doc)
{
    char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return srv_send_text(r, c, status, "application/json", body);
}

/* Replaces each byte that does not start a valid UTF-8 sequence (stray continuation bytes,
 * overlong forms, surrogates, beyond U+10FFFF, a sequence cut short by truncation) with '?'.
 * An error message may quote what a client sent, and jansson refuses invalid UTF-8: without
 * this the error document could not be made and the client got no answer at all. */
static void utf8_scrub(char *s)
{
    for (size_t at = 0, len = strlen(s), n; at < len; at += n)
        if (!(n = sdra_utf8_decode(s + at, len - at, NULL))) {
            s[at] = '?';
            n = 1;
        }
}

enum MHD_Result srv_send_error(req *r, struct MHD_Connection *c, int status, const char *code,
                               const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    utf8_scrub(msg);
    json_t *doc = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!body)
        return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (status == 401)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"sdra\"");
    if (status == 503 || status == 429)
        MHD_add_response_header(resp, "Retry-After", "5");
    if (status == 405) {
        const char *allow = "GET";
        if (r->route == R_CALLS)
            allow = "GET, POST";
        else if (r->route == R_CALL)
            allow = "GET, DELETE";
        else if (r->route == R_RETRY || r->route == R_KEY_REVOKE || r->route == R_PRIVACY_ERASE)
            allow = "POST";
        else if (r->route == R_KEYS)
            allow = "GET, POST";
        else if (r->route == R_KEY)
            allow = "DELETE";
        else if (r->route == R_RETENTION)
            allow = "GET, PUT";
        else if (r->route == R_SESSION)
            allow = "POST, DELETE";
        else if (r->route == R_EMAIL_DRAFT)
            allow = "GET, PUT";
        else if (r->route == R_EMAIL_APPROVE || r->route == R_OUTBOX_ACTION || r->route == R_LIVE_TOKENS)
            allow = "POST";
        MHD_add_response_header(resp, "Allow", allow);
    }
    return srv_queue(r, c, status, resp);
}

struct MHD_Response *srv_error_response(const char *code, const char *msg)
{
    json_t *doc = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    struct MHD_Response *resp = body ? MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!resp) {
        free(body);
        return NULL;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    return resp;
}

/* Status and code for an sdra_error. */
static int http_status(int code)
{
    switch (code) {
    case SDRA_EINVAL: return 400;
    case SDRA_ENOTFOUND: return 404;
    case SDRA_EDENIED: return 403;
    case SDRA_EEXISTS: return 409;
    case SDRA_ELIMIT: return 413;
    case SDRA_EUNSUPPORTED: return 415;
    case SDRA_ERETRY: case SDRA_ETIMEOUT: return 503;
    default: return 500;
    }
}

enum MHD_Result srv_send_sdra_error(req *r, struct MHD_Connection *c, const sdra_error *err)
{
    int st = http_status(err->code);
    return srv_send_error(r, c, st, st == 500 ? "internal" : sdra_code_name(err->code), "%s",
                      err->msg[0] ? err->msg : sdra_strerror(err->code));
}

enum MHD_Result srv_send_file(req *r, struct MHD_Connection *c, const char *path, const char *ctype,
                                 const char *etag)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return srv_send_error(r, c, 404, "not_found", "%s is gone", strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
    }
    struct MHD_Response *resp = NULL;
    sdra_error perr = {0};
    int prc = srv_plain_response(r->s, fd, (int64_t)st.st_size, &resp, &perr); /* encrypted at rest */
    if (prc < 0) {
        close(fd);
        return srv_send_sdra_error(r, c, &perr);
    }
    if (prc == 0)
        resp = MHD_create_response_from_fd((size_t)st.st_size, fd);
    if (!resp) {
        if (prc == 0)
            close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", ctype);
    if (etag) {
        char q[80];
        snprintf(q, sizeof q, "\"%s\"", etag);
        MHD_add_response_header(resp, "ETag", q);
    }
    return srv_queue(r, c, 200, resp);
}

static void iso_time(char out[32], int64_t ms)
{
    if (ms <= 0) {
        out[0] = '\0';
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char b[24];
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", b, (int)(ms % 1000));
}

json_t *srv_time_or_null(int64_t ms)
{
    char b[32];
    iso_time(b, ms);
    return b[0] ? json_string(b) : json_null();
}

/* ---- audit trail (finding 8) ---------------------------------------------------------- */

int srv_audit(req *r, const char *actor, const char *action, const char *target, const char *detail)
{
    return srv_audit_write_org(r->s, r->key.org, actor ? actor : r->key.id, r->ip, action, target, detail, NULL);
}

enum MHD_Result srv_send_audit_failed(req *r, struct MHD_Connection *c)
{
    return srv_send_error(r, c, 500, "internal", "audit log write failed: the request was refused");
}

/* The client's address as text ("" when MHD does not know it). Behind a reverse proxy this is
 * the proxy's address (docs/service.md). */
static void client_ip(struct MHD_Connection *c, char *out, size_t n)
{
    out[0] = '\0';
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (!sa)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)n);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)n);
}

/* Records an authentication or authorisation failure, then answers it; a failed audit write
 * answers 500 instead. actor: the key id the client presented, "-" when none could be read. */
static enum MHD_Result auth_fail(req *r, struct MHD_Connection *c, const char *actor, int status, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static enum MHD_Result auth_fail(req *r, struct MHD_Connection *c, const char *actor, int status, const char *fmt, ...)
{
    char msg[400], detail[SDRA_STORE_AUDIT_DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(detail, sizeof detail, "%d %.10s %s: %s", status, r->method, srv_route_names[r->route], msg);
    if (srv_audit(r, actor, "auth.fail", r->call_id, detail) < 0)
        return srv_send_audit_failed(r, c);
    return srv_send_error(r, c, status, status == 401 ? "unauthorized" : "insufficient_scope", "%s", msg);
}

/* ---- auth ------------------------------------------------------------------------------ */

/* read: GETs; write: also upload and retry; admin: also erasure (DELETE of a call) and the
 * organisation's keys. Routes added later that need admin call srv_require_scope. */
static const char *needed_scope(const char *method, enum route route)
{
    if (route == R_KEYS || route == R_KEY || route == R_KEY_REVOKE || (route == R_CALL && !strcmp(method, "DELETE")))
        return "admin";
    if (route == R_PRIVACY_EXPORT || route == R_PRIVACY_ERASE || route == R_RETENTION)
        return "admin"; /* personal data of anyone, and the policies (issue 14) */
    if (route == R_SESSION)
        return "read"; /* any key may open and close its own media cookie */
    if (route == R_LIVE_TWILIO || route == R_LIVE_PCM)
        return "write"; /* a live stream creates a call */
    return !strcmp(method, "GET") || !strcmp(method, "HEAD") ? "read" : "write";
}

bool srv_require_scope(req *r, struct MHD_Connection *c, const char *scope)
{
    if (sdra_server_scope_allows(r->key.scope, scope))
        return true;
    auth_fail(r, c, r->key.id, 403, "API key %s has scope '%s'; this request needs '%s'", r->key.id, r->key.scope,
              scope);
    return false;
}

/* Returns MHD_YES with r->authed set, or the queued error response result (r->status set). */
static enum MHD_Result authenticate(req *r, struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    char media[256 + 8] = "Bearer "; /* the web app's <audio>: the media cookie, for reading audio only (web.c) */
    if ((!h || !*h) && r->route == R_AUDIO && (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD")) &&
        srv_media_cookie(c, media + 7, sizeof media - 7))
        h = media;
    if (!h || !*h)
        return auth_fail(r, c, "-", 401, "missing API key: send 'Authorization: Bearer sdra_...'");
    if (strncasecmp(h, "Bearer ", 7))
        return auth_fail(r, c, "-", 401, "unsupported Authorization scheme: use 'Bearer <API key>'");
    h += 7;
    while (*h == ' ')
        h++;
    /* the key id the client claims (never the secret): "sdra_<12 hex>_..." */
    char claimed[16] = "-";
    if (!strncmp(h, "sdra_", 5) && strlen(h) > 17 && h[17] == '_' && strspn(h + 5, "0123456789abcdef") >= 12) {
        memcpy(claimed, h + 5, 12);
        claimed[12] = '\0';
    }
    sdra_error err = {0};
    int rc = sdra_server_key_verify(r->s->store, h, &r->key, &err);
    if (rc == SDRA_EDENIED)
        return auth_fail(r, c, claimed, 401, "%s", err.msg);
    if (rc < 0)
        return srv_send_sdra_error(r, c, &err);
    if (!srv_require_scope(r, c, needed_scope(r->method, r->route)))
        return r->status ? MHD_YES : MHD_NO; /* answered 403 (500 when the audit entry failed) */
    r->authed = true;
    return MHD_YES;
}

/* ---- routing ------------------------------------------------------------------------- */

static int valid_call_id(const char *s, size_t n)
{
    if (n == 0 || n >= SDRA_STORE_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
            return 0;
    return 1;
}

static const char *artifact_names[] = {"transcript", "analysis", "email", "crm", "report"};

/* Parses the path into r->route (+ call id, sub-resource). R_NONE when nothing matches; a
 * malformed call id is treated as unmatched (404). */
static void route_outbox(req *r, const char *id);

static void route(req *r, const char *url)
{
    r->route = R_NONE;
    if (!strcmp(url, "/healthz"))
        r->route = R_HEALTH;
    else if (!strcmp(url, "/readyz"))
        r->route = R_READY;
    else if (!strcmp(url, "/metrics"))
        r->route = R_METRICS;
    else if (!strcmp(url, "/v1/openapi.json"))
        r->route = R_OPENAPI;
    else if (!strcmp(url, "/v1/privacy/export"))
        r->route = R_PRIVACY_EXPORT;
    else if (!strcmp(url, "/v1/privacy/erase"))
        r->route = R_PRIVACY_ERASE;
    else if (!strcmp(url, "/v1/retention"))
        r->route = R_RETENTION;
    else if (!strncmp(url, "/v1/live/", 9))
        srv_live_route(r, url + 9);
    else if (!strcmp(url, "/v1/calls") || !strcmp(url, "/v1/calls/"))
        r->route = R_CALLS;
    else if (!strcmp(url, "/v1/session"))
        r->route = R_SESSION;
    else if (!strcmp(url, "/v1/stats/team"))
        r->route = R_STATS_TEAM;
    else if (!strcmp(url, "/") || !strcmp(url, "/team") || (!strncmp(url, "/calls/", 7) && valid_call_id(url + 7, strlen(url + 7)))) {
        r->route = R_WEB; /* the app's pages: one document, the script shows the view */
        sdra_strlcpy(r->web_path, "index.html", sizeof r->web_path);
    } else if (!strncmp(url, "/app/", 5) && srv_web_path_ok(url + 5)) {
        r->route = R_WEB;
        sdra_strlcpy(r->web_path, url + 5, sizeof r->web_path);
    }
    else if (!strcmp(url, "/v1/keys") || !strcmp(url, "/v1/keys/"))
        r->route = R_KEYS;
    else if (!strcmp(url, "/v1/outbox") || !strcmp(url, "/v1/outbox/"))
        r->route = R_OUTBOX;
    else if (!strncmp(url, "/v1/outbox/", 11))
        route_outbox(r, url + 11);
    else if (!strncmp(url, "/v1/keys/", 9)) {
        const char *id = url + 9, *slash = strchr(id, '/');
        size_t n = slash ? (size_t)(slash - id) : strlen(id);
        if (!valid_call_id(id, n))
            return;
        memcpy(r->key_id, id, n);
        r->key_id[n] = '\0';
        if (!slash || !slash[1])
            r->route = R_KEY;
        else if (!strcmp(slash + 1, "revoke"))
            r->route = R_KEY_REVOKE;
    }
    else if (!strncmp(url, "/v1/calls/", 10)) {
        const char *id = url + 10, *slash = strchr(id, '/');
        size_t n = slash ? (size_t)(slash - id) : strlen(id);
        if (!valid_call_id(id, n))
            return;
        memcpy(r->call_id, id, n);
        r->call_id[n] = '\0';
        if (!slash || !slash[1]) {
            r->route = R_CALL;
            return;
        }
        const char *sub = slash + 1;
        if (!strcmp(sub, "audio"))
            r->route = R_AUDIO;
        else if (!strcmp(sub, "events"))
            r->route = R_EVENTS;
        else if (!strcmp(sub, "retry"))
            r->route = R_RETRY;
        else if (!strcmp(sub, "view"))
            r->route = R_VIEW;
        else if (!strcmp(sub, "email/draft"))
            r->route = R_EMAIL_DRAFT;
        else if (!strcmp(sub, "email/approve"))
            r->route = R_EMAIL_APPROVE;
        else
            for (size_t i = 0; i < sizeof artifact_names / sizeof artifact_names[0]; i++)
                if (!strcmp(sub, artifact_names[i])) {
                    r->route = R_ARTIFACT;
                    sdra_strlcpy(r->sub, sub, sizeof r->sub);
                }
    }
}

/* A stage worker's listener (worker_only) serves the probes and metrics, nothing else. */
static void route_worker_only(req *r)
{
    if (r->s->p.worker_only && r->route != R_HEALTH && r->route != R_READY && r->route != R_METRICS)
        r->route = R_NONE;
}

/* /v1/outbox/{id}[/approve|retry|cancel]: the id is the entry's idempotency key. */
static void route_outbox(req *r, const char *id)
{
    const char *slash = strchr(id, '/');
    size_t n = slash ? (size_t)(slash - id) : strlen(id);
    if (n == 0 || n >= sizeof r->ob_key)
        return;
    memcpy(r->ob_key, id, n);
    r->ob_key[n] = '\0';
    if (!slash || !slash[1])
        r->route = R_OUTBOX_ITEM;
    else if (!strcmp(slash + 1, "approve") || !strcmp(slash + 1, "retry") || !strcmp(slash + 1, "cancel")) {
        r->route = R_OUTBOX_ACTION;
        sdra_strlcpy(r->sub, slash + 1, sizeof r->sub);
    }
}

static bool method_ok(enum route rt, const char *m)
{
    bool get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
    switch (rt) {
    case R_CALLS: return get || !strcmp(m, "POST");
    case R_CALL: return get || !strcmp(m, "DELETE");
    case R_RETRY: case R_KEY_REVOKE: case R_PRIVACY_ERASE: case R_OUTBOX_ACTION: return !strcmp(m, "POST");
    case R_KEYS: return get || !strcmp(m, "POST");
    case R_KEY: return !strcmp(m, "DELETE");
    case R_RETENTION: return get || !strcmp(m, "PUT");
    case R_SESSION: return !strcmp(m, "POST") || !strcmp(m, "DELETE");
    case R_EMAIL_DRAFT: return get || !strcmp(m, "PUT");
    case R_EMAIL_APPROVE: return !strcmp(m, "POST");
    case R_LIVE_TOKENS: return !strcmp(m, "POST");
    case R_LIVE_TWILIO: case R_LIVE_PCM: return !strcmp(m, "GET");
    default: return get;
    }
}

/* ---- the MHD callbacks ------------------------------------------------------------------ */

static enum MHD_Result dispatch(req *r, struct MHD_Connection *c)
{
    switch (r->route) {
    case R_HEALTH: return srv_send_json(r, c, 200, json_pack("{s:s}", "status", "ok"));
    case R_READY: return srv_get_ready(r, c);
    case R_METRICS: return srv_get_metrics(r, c);
    case R_OPENAPI: {
        char path[PATH_MAX];
        if (sdra_share_path(path, sizeof path, "api/openapi.json") < 0)
            return srv_send_error(r, c, 500, "internal", "share directory path too long");
        return srv_send_file(r, c, path, "application/json", NULL);
    }
    case R_CALLS: return srv_list_calls(r, c);
    case R_CALL: return !strcmp(r->method, "DELETE") ? srv_delete_call(r, c) : srv_get_call(r, c);
    case R_ARTIFACT: return srv_get_artifact(r, c);
    case R_AUDIO: return srv_get_audio(r, c);
    case R_EVENTS: return srv_get_events(r, c);
    case R_RETRY: return srv_retry_call(r, c);
    case R_KEYS: return !strcmp(r->method, "POST") ? srv_keys_create(r, c) : srv_keys_list(r, c);
    case R_KEY: return srv_key_delete(r, c);
    case R_KEY_REVOKE: return srv_key_revoke(r, c);
    case R_PRIVACY_EXPORT: return srv_privacy_export(r, c);
    case R_PRIVACY_ERASE: return srv_privacy_erase(r, c);
    case R_RETENTION: return srv_retention(r, c);
    case R_VIEW: return srv_get_view(r, c);
    case R_OUTBOX: return srv_outbox_list(r, c);
    case R_OUTBOX_ITEM: return srv_outbox_get(r, c);
    case R_OUTBOX_ACTION: return srv_outbox_action(r, c);
    case R_WEB: return srv_web_static(r, c);
    case R_SESSION: return srv_session(r, c);
    case R_EMAIL_DRAFT: case R_EMAIL_APPROVE: return srv_email_draft(r, c);
    case R_STATS_TEAM: return srv_stats_team(r, c);
    case R_LIVE_TWILIO: case R_LIVE_PCM: return srv_live_upgrade(r, c);
    case R_LIVE_TOKENS: return srv_live_token(r, c);
    case R_LIVE_EVENTS: return srv_get_events(r, c);
    case R_LIVE_CALLS: return srv_live_calls(r, c);
    default: return srv_send_error(r, c, 404, "not_found", "no such resource");
    }
}

/* ---- connection deadlines ---------------------------------------------------------------
 * MHD's idle timeout is reset by every byte, so a client dribbling one byte every few seconds
 * would hold a connection forever. Every connection is registered when MHD accepts it
 * (MHD_OPTION_NOTIFY_CONNECTION, with its socket) and goes through three phases: HEADERS (from
 * the accept, or the end of the previous request on a kept-alive connection) until the access
 * handler is first called, BODY until the handler's last call, then RESPONSE. The ticker thread
 * cuts a connection whose headers are not complete header_timeout_s after the phase began, or
 * whose body is behind min_body_rate (after a grace of header_timeout_s), with
 * shutdown(SHUT_RDWR): MHD sees the end of the stream and closes it on its own thread. That is
 * safe because MHD notifies CLOSED (which unregisters the entry under http_mu) before it closes
 * the socket, and the ticker shuts sockets down only under http_mu, so the descriptor it
 * touches is always the connection's own. The access handler applies the body rate too, on
 * every piece of body it is given. */

enum { PH_HEADERS, PH_BODY, PH_RESPONSE };

typedef struct srv_conn {
    struct srv_conn *prev, *next;
    int fd;
    int phase;
    double t0;            /* start of the phase */
    uint64_t body_bytes;
    bool cut;
    int64_t waiting_ms;   /* wall clock since the connection waits for a request (opened, or
                           * the previous request answered): a request's arrival */
} srv_conn;

/* ---- small JSON request bodies (keys, erasure, retention) ---------------------------- */

bool srv_route_wants_body(enum route rt)
{
    return rt == R_PRIVACY_ERASE || rt == R_RETENTION || rt == R_KEYS || rt == R_EMAIL_DRAFT ||
           rt == R_EMAIL_APPROVE || rt == R_OUTBOX_ACTION /* approval choices (outbox.c) */ || rt == R_LIVE_TOKENS;
}

size_t srv_route_body_max(enum route rt)
{
    return rt == R_KEYS ? SRV_KEY_BODY_MAX : SRV_BODY_MAX; /* a key: a name and a scope */
}

void srv_body_append(req *r, const char *data, size_t n)
{
    if (r->body_too_big)
        return;
    if (r->body_len + n > srv_route_body_max(r->route)) {
        r->body_too_big = true;
        return;
    }
    char *g = realloc(r->body, r->body_len + n + 1);
    if (!g) {
        r->body_too_big = true;
        return;
    }
    r->body = g;
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct sdra_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        srv_conn *k = calloc(1, sizeof *k);
        if (!k || !ci) {
            free(k);
            return; /* untracked: MHD's idle timeout still applies */
        }
        k->fd = ci->connect_fd;
        k->phase = PH_HEADERS;
        k->t0 = sdra_clock_s();
        k->waiting_ms = sdra_store_now_ms();
        pthread_mutex_lock(&s->http_mu);
        k->next = s->conns;
        if (k->next)
            k->next->prev = k;
        s->conns = k;
        pthread_mutex_unlock(&s->http_mu);
        *socket_context = k;
        return;
    }
    srv_conn *k = *socket_context;
    if (!k)
        return;
    pthread_mutex_lock(&s->http_mu);
    if (k->prev)
        k->prev->next = k->next;
    else
        s->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    pthread_mutex_unlock(&s->http_mu);
    free(k);
    *socket_context = NULL;
}

static srv_conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void conn_phase(struct sdra_server *s, struct MHD_Connection *c, int phase)
{
    srv_conn *k = conn_of(c);
    if (!k)
        return;
    pthread_mutex_lock(&s->http_mu);
    k->phase = phase;
    k->t0 = sdra_clock_s();
    k->body_bytes = 0;
    if (phase == PH_HEADERS)
        k->waiting_ms = sdra_store_now_ms();
    pthread_mutex_unlock(&s->http_mu);
}

/* When the request now on c arrived: its connection's waiting time (the server may first read
 * a request long after its client sent it, under load), else now. */
static int64_t request_arrival_ms(struct sdra_server *s, struct MHD_Connection *c)
{
    srv_conn *k = conn_of(c);
    int64_t now = sdra_store_now_ms();
    if (!k)
        return now;
    pthread_mutex_lock(&s->http_mu);
    int64_t t = k->waiting_ms;
    pthread_mutex_unlock(&s->http_mu);
    return t > 0 && t < now ? t : now;
}

/* True when a body that began at t0 and has brought `bytes` so far is behind the minimum rate. */
static bool body_too_slow(const struct sdra_server *s, double t0, uint64_t bytes, double now)
{
    if (s->p.min_body_rate <= 0)
        return false;
    return now > t0 + s->p.header_timeout_s + (double)bytes / s->p.min_body_rate;
}

/* Counts n more body bytes; false when the body is too slow (the caller closes the connection). */
static bool conn_body(struct sdra_server *s, struct MHD_Connection *c, size_t n)
{
    srv_conn *k = conn_of(c);
    if (!k)
        return true;
    pthread_mutex_lock(&s->http_mu);
    k->body_bytes += n;
    bool slow = k->phase == PH_BODY && body_too_slow(s, k->t0, k->body_bytes, sdra_clock_s());
    pthread_mutex_unlock(&s->http_mu);
    return !slow;
}

static void reap(struct sdra_server *s, double now)
{
    pthread_mutex_lock(&s->http_mu);
    for (srv_conn *k = s->conns; k; k = k->next) {
        if (k->cut)
            continue;
        bool late = (k->phase == PH_HEADERS && now - k->t0 > s->p.header_timeout_s) ||
                    (k->phase == PH_BODY && body_too_slow(s, k->t0, k->body_bytes, now));
        if (late) {
            k->cut = true;
            shutdown(k->fd, SHUT_RDWR);
        }
    }
    pthread_mutex_unlock(&s->http_mu);
}

static void *ticker_main(void *arg)
{
    struct sdra_server *s = arg;
    while (!atomic_load(&s->stopping)) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
        double now = sdra_clock_s();
        reap(s, now);
        srv_events_tick(s, now);
    }
    return NULL;
}

static bool public_route(enum route rt)
{
    return rt == R_HEALTH || rt == R_READY || rt == R_METRICS || rt == R_OPENAPI || rt == R_WEB;
}

/* The raw request target, before MHD decodes it: a %00 in the path would be decoded to a NUL
 * that ends the path early ("/healthz%00x" would be served as /healthz), so such a request is
 * marked here (the return value becomes *con_cls) and answered 400. */
static char bad_target_mark;

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    size_t n = strcspn(uri, "?");
    for (size_t i = 0; i + 2 < n; i++)
        if (uri[i] == '%' && uri[i + 1] == '0' && uri[i + 2] == '0')
            return &bad_target_mark;
    return NULL;
}

typedef struct framing {
    int content_length, transfer_encoding;
} framing;

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    (void)value;
    framing *f = cls;
    if (!strcasecmp(key, "Content-Length"))
        f->content_length++;
    else if (!strcasecmp(key, "Transfer-Encoding"))
        f->transfer_encoding++;
    return MHD_YES;
}

/* True when a body is to come that an early answer should wait for: Content-Length up to
 * SRV_DRAIN_MAX, or chunked (on_request cuts it past the bound). Not when the client sent
 * "Expect: 100-continue": then MHD answers without inviting the body, which is better. */
static bool body_drainable(struct MHD_Connection *c)
{
    const char *ex = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Expect");
    if (ex && !strcasecmp(ex, "100-continue"))
        return false;
    const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
    if (te)
        return !strcasecmp(te, "chunked");
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (!cl || !*cl)
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    return errno == 0 && end && !*end && n > 0 && n <= SRV_DRAIN_MAX;
}

/* An ambiguous body length (two Content-Length headers, or Content-Length with
 * Transfer-Encoding) is how requests are smuggled past a proxy that reads it differently:
 * answered 400, and the connection is closed since where the body ends is unknown. */
static enum MHD_Result check_framing(req *r, struct MHD_Connection *c)
{
    framing f = {0, 0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &f);
    if (f.content_length <= 1 && f.transfer_encoding <= 1 && !(f.content_length && f.transfer_encoding))
        return MHD_YES;
    const char *msg = f.content_length > 1 ? "more than one Content-Length header"
                      : f.transfer_encoding > 1 ? "more than one Transfer-Encoding header"
                                                : "both Content-Length and Transfer-Encoding";
    struct MHD_Response *resp = srv_error_response("invalid_input", msg);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Connection", "close");
    return srv_queue(r, c, 400, resp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    struct sdra_server *s = cls;
    req *r = *con_cls;
    bool bad_target = r == (void *)&bad_target_mark;
    if (bad_target)
        r = *con_cls = NULL;
    if (r)
        r->heading = false;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->s = s;
        r->fd = -1;
        r->part_field = -1;
        r->t0 = sdra_clock_s();
        r->started_ms = request_arrival_ms(s, c);
        r->method = method;
        client_ip(c, r->ip, sizeof r->ip);
        *con_cls = r;
        r->heading = true;
        conn_phase(s, c, PH_BODY); /* the headers are complete */
        route(r, url);
        route_worker_only(r);
        if (check_framing(r, c) != MHD_YES || r->status)
            return r->status ? MHD_YES : MHD_NO;
        r->drain_ok = body_drainable(c);
        if (bad_target) {
            r->route = R_NONE;
            return srv_send_error(r, c, 400, "invalid_input", "the path contains an encoded NUL (%%00)");
        }
        if (r->route == R_NONE)
            return srv_send_error(r, c, 404, "not_found", "no such resource: %.200s", url);
        if (!method_ok(r->route, method))
            return srv_send_error(r, c, 405, "method_not_allowed", "%.10s not allowed on %s", method, srv_route_names[r->route]);
        /* a live stream without an Authorization header brings a token (live.c checks it) */
        bool live_token = (r->route == R_LIVE_TWILIO || r->route == R_LIVE_PCM) &&
                          !MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        if (!public_route(r->route) && !live_token) {
            enum MHD_Result a = authenticate(r, c);
            if (!r->authed)
                return a;
        }
        if (r->route == R_CALLS && !strcmp(method, "POST"))
            return srv_upload_begin(r, c);
        return MHD_YES; /* respond once any request body has been read (and dropped) */
    }
    if (*upload_data_size && !conn_body(s, c, *upload_data_size)) {
        sdra_log(SDRA_LOG_WARN, "cutting a request body slower than %d bytes/s", s->p.min_body_rate);
        r->status = 408;
        return MHD_NO; /* closes the connection */
    }
    if (r->held) { /* refused at the headers: drop the body, then answer */
        if (*upload_data_size) {
            r->drained += *upload_data_size;
            *upload_data_size = 0;
            return r->drained > SRV_DRAIN_MAX ? MHD_NO : MHD_YES; /* a chunked body past the bound */
        }
        struct MHD_Response *resp = r->held;
        r->held = NULL;
        enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    if (r->status)
        return MHD_YES; /* already answered (early error); drop the rest */
    if (*upload_data_size) {
        if (r->upload) {
            srv_upload_feed(r, upload_data, *upload_data_size);
        } else if (srv_route_wants_body(r->route)) {
            srv_body_append(r, upload_data, *upload_data_size);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    conn_phase(s, c, PH_RESPONSE);
    if (r->upload)
        return srv_upload_finish(r, c);
    return dispatch(r, c);
}

/* The method label of the request metrics: the standard methods, else one "OTHER" (a client
 * must not be able to mint a label series per request). */
static const char *metric_method(const char *m)
{
    static const char *known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"};
    for (size_t i = 0; m && i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(m, known[i]))
            return known[i];
    return "OTHER";
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    struct sdra_server *s = cls;
    conn_phase(s, c, PH_HEADERS); /* a kept-alive connection waits for the next request's headers */
    req *r = *con_cls;
    if (!r || r == (void *)&bad_target_mark)
        return;
    if (r->pp)
        MHD_destroy_post_processor(r->pp);
    if (r->held)
        MHD_destroy_response(r->held);
    sdra_crypt_writer_abort(r->cw);
    sdra_crypt_key_destroy(r->dk);
    if (r->fd >= 0)
        close(r->fd);
    if (r->tmp_path[0])
        unlink(r->tmp_path);
    free(r->body);
    char labels[160];
    int status = r->status ? r->status : (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? 408 : 499);
    snprintf(labels, sizeof labels, "route=\"%s\",method=\"%s\",status=\"%d\"", srv_route_names[r->route],
             metric_method(r->method), status);
    sdra_obs_inc(s->obs, "sdra_http_requests_total", labels, 1);
    snprintf(labels, sizeof labels, "route=\"%s\"", srv_route_names[r->route]);
    double dt = sdra_clock_s() - r->t0;
    sdra_obs_observe(s->obs, "sdra_http_request_duration_seconds", labels, dt);
    sdra_log_ctx lc = {.call_id = r->call_id[0] ? r->call_id : NULL, .duration_ms = dt * 1000};
    sdra_logc(SDRA_LOG_DEBUG, &lc, "%s %s -> %d", r->method ? r->method : "?", srv_route_names[r->route], status);
    free(r);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct sdra_server *s = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    if (!s->mhd && !s->mhd_error[0]) /* starting: the first message says why a start failed */
        sdra_strlcpy(s->mhd_error, msg, sizeof s->mhd_error);
    sdra_log(SDRA_LOG_DEBUG, "http: %s", msg);
}

#define TLS_PEM_MAX (1u << 20)

static void free_pem(char **p)
{
    if (*p) {
        sodium_memzero(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

/* Reads the PEM certificate and key for HTTPS (bounded); one line when they are unusable. */
static int tls_load(struct sdra_server *s, sdra_error *err)
{
    if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
        return sdra_error_set(err, SDRA_EUNSUPPORTED,
                              "this libmicrohttpd was built without TLS: serve plain HTTP behind a TLS proxy "
                              "(docs/service.md)");
    const char *paths[2] = {s->p.tls_cert_path, s->p.tls_key_path};
    const char *what[2] = {"--tls-cert", "--tls-key"};
    const char *marker[2] = {"-----BEGIN CERTIFICATE-----", "PRIVATE KEY-----"};
    char **out[2] = {&s->tls_cert, &s->tls_key};
    for (int i = 0; i < 2; i++) {
        sdra_error e2 = {0};
        size_t len = 0;
        if (sdra_file_read(out[i], &len, paths[i], TLS_PEM_MAX, &e2) < 0)
            return sdra_error_set(err, e2.code, "%s: %s", what[i], e2.msg);
        if (!strstr(*out[i], marker[i]))
            return sdra_error_set(err, SDRA_EINVAL, "%s %s: not a PEM %s", what[i], paths[i],
                                  i ? "private key" : "certificate");
    }
    s->tls = true;
    return 0;
}

static int parse_listen(const char *listen, struct sockaddr_in *sa, sdra_error *err)
{
    char host[64];
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    if (!colon || (size_t)(colon - listen) >= sizeof host)
        return sdra_error_set(err, SDRA_EINVAL, "listen address '%s': use HOST:PORT", listen ? listen : "");
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || port < 0 || port > 65535)
        return sdra_error_set(err, SDRA_EINVAL, "listen address '%s': bad port", listen);
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (!strcmp(host, "localhost"))
        strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &sa->sin_addr) != 1)
        return sdra_error_set(err, SDRA_EINVAL, "listen address '%s': not an IPv4 address", listen);
    return 0;
}

int srv_http_start(struct sdra_server *s, sdra_error *err)
{
    struct sockaddr_in sa;
    int rc = parse_listen(s->p.listen, &sa, err);
    if (rc < 0)
        return rc;
    /* a few event-loop threads (epoll) serve every connection: an idle or slow connection costs
     * a socket and a little memory, not a thread */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_UPGRADE; /* the live WebSocket endpoints (live.c) */
    if (s->p.header_timeout_s < 1)
        s->p.header_timeout_s = 10;
    unsigned threads = (unsigned)(s->p.http_threads > 0 ? s->p.http_threads : 4);
    struct MHD_OptionItem tls_opts[4] = {{MHD_OPTION_END, 0, NULL}};
    if (s->p.tls_cert_path || s->p.tls_key_path) {
        if (!s->p.tls_cert_path || !s->p.tls_key_path)
            return sdra_error_set(err, SDRA_EINVAL, "TLS needs both a certificate and a key");
        if ((rc = tls_load(s, err)) < 0) {
            free_pem(&s->tls_cert);
            free_pem(&s->tls_key);
            return rc;
        }
        flags |= MHD_USE_TLS;
        tls_opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert};
        tls_opts[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key};
        /* TLS 1.2 and 1.3 only */
        tls_opts[2] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                              (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"};
    }
    s->mhd_error[0] = '\0';
    s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, /* first, so it sees every message */
                              MHD_OPTION_ARRAY, tls_opts,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                              MHD_OPTION_THREAD_POOL_SIZE, threads,
                              MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                              (unsigned)(s->p.max_connections_per_ip > 0 ? s->p.max_connections_per_ip : 0),
                              MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                              MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(s->p.request_timeout_s > 0 ? s->p.request_timeout_s : 30),
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(s->p.max_header_bytes ? s->p.max_header_bytes : 32768),
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)(s->p.max_connections > 0 ? s->p.max_connections : 1024),
                              MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                              MHD_OPTION_END);
    if (!s->mhd) {
        free_pem(&s->tls_cert);
        free_pem(&s->tls_key);
        if (s->tls) /* most often a certificate and key that do not load or do not match */
            return sdra_error_set(err, SDRA_EIO, "cannot start HTTPS on %s: %s", s->p.listen,
                                  s->mhd_error[0] ? s->mhd_error : "certificate/key rejected, or address in use");
        return sdra_error_set(err, SDRA_EIO, "cannot listen on %s (address in use or not permitted)", s->p.listen);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : ntohs(sa.sin_port);
    if (pthread_create(&s->ticker, NULL, ticker_main, s) != 0) {
        MHD_stop_daemon(s->mhd);
        s->mhd = NULL;
        free_pem(&s->tls_cert);
        free_pem(&s->tls_key);
        return sdra_error_set(err, SDRA_EINTERNAL, "cannot start the connection ticker thread");
    }
    s->ticker_started = true;
    return 0;
}

/* Called with s->stopping set: the ticker ends, suspended event streams are resumed (they end
 * at once), then MHD closes every connection. */
void srv_http_stop(struct sdra_server *s)
{
    if (s->ticker_started) {
        pthread_join(s->ticker, NULL);
        s->ticker_started = false;
    }
    srv_events_release(s);
    if (s->mhd) {
        MHD_stop_daemon(s->mhd);
        s->mhd = NULL;
    }
    free_pem(&s->tls_cert);
    free_pem(&s->tls_key);
}

