/*
 * http.c - the HTTP API of `sdra serve` on libmicrohttpd (one thread per connection, so an
 * event stream may block waiting for news): routing, API-key auth and scopes, uploads streamed
 * to disk (raw audio body or multipart/form-data through MHD's post processor, never held in
 * memory), call and job views, artifacts served from their files, Server-Sent Events, retry,
 * delete, health, readiness, metrics and the OpenAPI document. Every error is JSON
 * {"error":{"code","message"}} with a matching status; every input has a limit (headers via the
 * connection memory limit, bodies via max_upload_bytes, form fields, query values); idle
 * connections time out. The OpenAPI document in data/api/openapi.json describes these routes.
 */
#include "internal.h"

#include "sdra/audio.h"
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
#include <unistd.h>

#define FIELD_MAX 512          /* one metadata form field or query value */
#define LIST_MAX 100           /* calls per page */
#define PP_BUFFER 32768        /* post processor buffer */

enum route {
    R_NONE, R_HEALTH, R_READY, R_METRICS, R_OPENAPI, R_CALLS, R_CALL, R_ARTIFACT, R_AUDIO, R_EVENTS, R_RETRY
};

static const char *route_names[] = {
    "unmatched", "/healthz", "/readyz", "/metrics", "/v1/openapi.json", "/v1/calls", "/v1/calls/{id}",
    "/v1/calls/{id}/{artifact}", "/v1/calls/{id}/audio", "/v1/calls/{id}/events", "/v1/calls/{id}/retry",
};

static const char *meta_fields[] = {"contact_email", "contact_name", "company", "rep_name", "rep_email",
                                    "rep_company", "call_date", "style", "direction"};
#define N_META (int)(sizeof meta_fields / sizeof meta_fields[0])

typedef struct req {
    struct sdra_server *s;
    double t0;
    enum route route;
    int status;
    const char *method;
    char call_id[SDRA_STORE_ID_MAX];
    char sub[16];
    sdra_store_key key;
    bool authed;
    /* upload */
    bool upload;
    struct MHD_PostProcessor *pp;
    int fd;
    char tmp_path[PATH_MAX];
    size_t bytes;
    char ext[8];
    bool got_audio_field;
    char meta[N_META][FIELD_MAX];
    bool meta_set[N_META];
    bool meta_seen[N_META]; /* seen in the form */
    int fail_status;
    sdra_error fail;
} req;

/* ---- responses ------------------------------------------------------------------------ */

static enum MHD_Result queue(req *r, struct MHD_Connection *c, int status, struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO;
    r->status = status;
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_text(req *r, struct MHD_Connection *c, int status, const char *ctype, char *body)
{
    if (!body)
        return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", ctype);
    return queue(r, c, status, resp);
}

static enum MHD_Result send_json(req *r, struct MHD_Connection *c, int status, json_t *doc)
{
    char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return send_text(r, c, status, "application/json", body);
}

static enum MHD_Result send_error(req *r, struct MHD_Connection *c, int status, const char *code,
                                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static enum MHD_Result send_error(req *r, struct MHD_Connection *c, int status, const char *code,
                                  const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
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
        else if (r->route == R_RETRY)
            allow = "POST";
        MHD_add_response_header(resp, "Allow", allow);
    }
    return queue(r, c, status, resp);
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

static enum MHD_Result send_sdra_error(req *r, struct MHD_Connection *c, const sdra_error *err)
{
    int st = http_status(err->code);
    return send_error(r, c, st, st == 500 ? "internal" : sdra_code_name(err->code), "%s",
                      err->msg[0] ? err->msg : sdra_strerror(err->code));
}

static enum MHD_Result send_file(req *r, struct MHD_Connection *c, const char *path, const char *ctype,
                                 const char *etag)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return send_error(r, c, 404, "not_found", "%s is gone", strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
    }
    struct MHD_Response *resp = MHD_create_response_from_fd((size_t)st.st_size, fd);
    if (!resp) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", ctype);
    if (etag) {
        char q[80];
        snprintf(q, sizeof q, "\"%s\"", etag);
        MHD_add_response_header(resp, "ETag", q);
    }
    return queue(r, c, 200, resp);
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

static json_t *time_or_null(int64_t ms)
{
    char b[32];
    iso_time(b, ms);
    return b[0] ? json_string(b) : json_null();
}

/* ---- auth ------------------------------------------------------------------------------ */

static const char *needed_scope(const char *method, enum route route)
{
    (void)route;
    return !strcmp(method, "GET") || !strcmp(method, "HEAD") ? "read" : "write";
}

/* Returns MHD_YES with r->authed set, or the queued error response result (r->status set). */
static enum MHD_Result authenticate(req *r, struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || !*h)
        return send_error(r, c, 401, "unauthorized", "missing API key: send 'Authorization: Bearer sdra_...'");
    if (strncasecmp(h, "Bearer ", 7))
        return send_error(r, c, 401, "unauthorized", "unsupported Authorization scheme: use 'Bearer <API key>'");
    h += 7;
    while (*h == ' ')
        h++;
    sdra_error err = {0};
    int rc = sdra_server_key_verify(r->s->store, h, &r->key, &err);
    if (rc == SDRA_EDENIED)
        return send_error(r, c, 401, "unauthorized", "%s", err.msg);
    if (rc < 0)
        return send_sdra_error(r, c, &err);
    const char *need = needed_scope(r->method, r->route);
    if (!sdra_server_scope_allows(r->key.scope, need))
        return send_error(r, c, 403, "forbidden", "API key %s has scope '%s'; this request needs '%s'", r->key.id,
                          r->key.scope, need);
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
    else if (!strcmp(url, "/v1/calls") || !strcmp(url, "/v1/calls/"))
        r->route = R_CALLS;
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
        else
            for (size_t i = 0; i < sizeof artifact_names / sizeof artifact_names[0]; i++)
                if (!strcmp(sub, artifact_names[i])) {
                    r->route = R_ARTIFACT;
                    sdra_strlcpy(r->sub, sub, sizeof r->sub);
                }
    }
}

static bool method_ok(enum route rt, const char *m)
{
    bool get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
    switch (rt) {
    case R_CALLS: return get || !strcmp(m, "POST");
    case R_CALL: return get || !strcmp(m, "DELETE");
    case R_RETRY: return !strcmp(m, "POST");
    default: return get;
    }
}

/* ---- views ---------------------------------------------------------------------------- */

static const char *call_status_of(const char *s) { return s; }

static json_t *call_summary(const sdra_store_call *sc)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(sc->id));
    json_object_set_new(o, "status", json_string(call_status_of(sc->status)));
    json_object_set_new(o, "created_at", time_or_null(sc->created_ms));
    json_object_set_new(o, "updated_at", time_or_null(sc->updated_ms));
    json_t *meta = json_loads(sc->meta_json ? sc->meta_json : "{}", 0, NULL);
    if (meta) {
        const char *keep[] = {"contact_email", "contact_name", "company", "call_date"};
        for (size_t i = 0; i < 4; i++) {
            json_t *v = json_object_get(meta, keep[i]);
            if (v)
                json_object_set(o, keep[i], v);
        }
        json_decref(meta);
    }
    return o;
}

static enum MHD_Result get_call(req *r, struct MHD_Connection *c)
{
    struct sdra_server *s = r->s;
    sdra_store_call sc;
    sdra_error err = {0};
    if (sdra_store_call_get(s->store, r->call_id, &sc, &err) < 0)
        return send_sdra_error(r, c, &err);
    sdra_store_job jobs[SDRA_SERVER_MAX_STAGES];
    sdra_store_artifact arts[32];
    int n_jobs = 0, n_arts = 0;
    if (sdra_store_job_list(s->store, r->call_id, jobs, SDRA_SERVER_MAX_STAGES, &n_jobs, &err) < 0 ||
        sdra_store_artifact_list(s->store, r->call_id, arts, 32, &n_arts, &err) < 0) {
        sdra_store_call_release(&sc);
        return send_sdra_error(r, c, &err);
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(sc.id));
    json_object_set_new(o, "status", json_string(sc.status));
    json_object_set_new(o, "created_at", time_or_null(sc.created_ms));
    json_object_set_new(o, "updated_at", time_or_null(sc.updated_ms));
    json_t *meta = json_loads(sc.meta_json ? sc.meta_json : "{}", 0, NULL);
    json_object_set_new(o, "metadata", meta ? meta : json_object());
    json_t *stages = json_array();
    for (int i = 0; i < s->n_stages; i++) {
        const sdra_store_job *j = NULL;
        for (int k = 0; k < n_jobs; k++)
            if (jobs[k].stage == i)
                j = &jobs[k];
        json_t *st = json_object();
        json_object_set_new(st, "name", json_string(s->stages[i].name));
        json_object_set_new(st, "state", json_string(j ? sdra_job_state_name(j->state) : "pending"));
        json_object_set_new(st, "attempts", json_integer(j ? j->attempts : 0));
        json_object_set_new(st, "queued_at", time_or_null(j ? j->queued_ms : 0));
        json_object_set_new(st, "started_at", time_or_null(j ? j->started_ms : 0));
        json_object_set_new(st, "finished_at", time_or_null(j && j->state == SDRA_JOB_DONE ? j->finished_ms : 0));
        if (j && j->state == SDRA_JOB_DONE && j->started_ms > 0)
            json_object_set_new(st, "duration_ms", json_integer(j->finished_ms - j->started_ms));
        else
            json_object_set_new(st, "duration_ms", json_null());
        if (j && j->state == SDRA_JOB_QUEUED && j->attempts > 0)
            json_object_set_new(st, "retry_at", time_or_null(j->run_after_ms));
        json_object_set_new(st, "error", j && j->last_error[0] ? json_string(j->last_error) : json_null());
        json_array_append_new(stages, st);
    }
    json_object_set_new(o, "stages", stages);
    json_t *al = json_array();
    for (int i = 0; i < n_arts; i++)
        json_array_append_new(al, json_pack("{s:s,s:s,s:s,s:I}", "name", arts[i].name, "stage",
                                            arts[i].stage >= 0 && arts[i].stage < s->n_stages
                                                ? s->stages[arts[i].stage].name : "unknown",
                                            "sha256", arts[i].sha256, "size_bytes", (json_int_t)arts[i].size_bytes));
    json_object_set_new(o, "artifacts", al);
    sdra_store_call_release(&sc);
    return send_json(r, c, 200, o);
}

static long query_long(struct MHD_Connection *c, const char *name, long dflt, long lo, long hi, int *bad)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    if (!v)
        return dflt;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (!*v || *end || errno || n < lo || n > hi) {
        *bad = 1;
        return dflt;
    }
    return n;
}

static enum MHD_Result list_calls(req *r, struct MHD_Connection *c)
{
    int bad = 0;
    long limit = query_long(c, "limit", 20, 1, LIST_MAX, &bad);
    if (bad)
        return send_error(r, c, 400, "invalid_input", "limit must be an integer from 1 to %d", LIST_MAX);
    long offset = query_long(c, "offset", 0, 0, 100000000L, &bad);
    if (bad)
        return send_error(r, c, 400, "invalid_input", "offset must be a non-negative integer");
    const char *status = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "status");
    if (status && strcmp(status, "queued") && strcmp(status, "running") && strcmp(status, "done") &&
        strcmp(status, "failed"))
        return send_error(r, c, 400, "invalid_input", "status must be queued, running, done or failed");
    sdra_store_call calls[LIST_MAX];
    int n = 0;
    sdra_error err = {0};
    if (sdra_store_call_list(r->s->store, status, (int)offset, (int)limit, calls, &n, &err) < 0)
        return send_sdra_error(r, c, &err);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(arr, call_summary(&calls[i]));
        sdra_store_call_release(&calls[i]);
    }
    json_t *o = json_pack("{s:o,s:i,s:i}", "calls", arr, "limit", (int)limit, "offset", (int)offset);
    json_object_set_new(o, "next_offset", n == limit ? json_integer(offset + n) : json_null());
    return send_json(r, c, 200, o);
}

static enum MHD_Result get_artifact(req *r, struct MHD_Connection *c)
{
    struct sdra_server *s = r->s;
    const char *fmt = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
    const char *name = NULL, *ctype = "application/json";
    if (!strcmp(r->sub, "transcript")) {
        if (!fmt || !strcmp(fmt, "json"))
            name = "transcript.json";
        else if (!strcmp(fmt, "txt"))
            name = "transcript.txt", ctype = "text/plain; charset=utf-8";
    } else if (!strcmp(r->sub, "analysis")) {
        if (!fmt || !strcmp(fmt, "json"))
            name = "analysis.json";
    } else if (!strcmp(r->sub, "email")) {
        if (!fmt || !strcmp(fmt, "json"))
            name = "email.json";
        else if (!strcmp(fmt, "eml"))
            name = "email.eml", ctype = "message/rfc822";
        else if (!strcmp(fmt, "ics"))
            name = "invite.ics", ctype = "text/calendar; charset=utf-8";
    } else if (!strcmp(r->sub, "crm")) {
        if (!fmt || !strcmp(fmt, "json"))
            name = "crm.json";
    } else if (!strcmp(r->sub, "report")) {
        if (!fmt || !strcmp(fmt, "html"))
            name = "report.html", ctype = "text/html; charset=utf-8";
    }
    if (!name)
        return send_error(r, c, 400, "invalid_input", "%s: unknown format '%.40s'", r->sub, fmt ? fmt : "");
    sdra_store_call sc;
    sdra_error err = {0};
    if (sdra_store_call_get(s->store, r->call_id, &sc, &err) < 0)
        return send_sdra_error(r, c, &err);
    sdra_store_call_release(&sc);
    sdra_store_artifact a;
    if (sdra_store_artifact_get(s->store, r->call_id, name, &a, &err) < 0)
        return send_sdra_error(r, c, &err);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", s->data_dir, a.path);
    sdra_store_audit_add(s->store, sdra_store_now_ms(), r->key.id, "artifact.read", r->call_id, NULL);
    return send_file(r, c, path, ctype, a.sha256);
}

static const struct {
    const char *ext, *ctype;
} audio_types[] = {
    {"wav", "audio/wav"}, {"mp3", "audio/mpeg"}, {"ogg", "audio/ogg"}, {"opus", "audio/ogg"},
    {"flac", "audio/flac"}, {"m4a", "audio/mp4"}, {"webm", "audio/webm"}, {"aac", "audio/aac"},
};

static enum MHD_Result get_audio(req *r, struct MHD_Connection *c)
{
    struct sdra_server *s = r->s;
    sdra_store_call sc;
    sdra_error err = {0};
    if (sdra_store_call_get(s->store, r->call_id, &sc, &err) < 0)
        return send_sdra_error(r, c, &err);
    json_t *meta = json_loads(sc.meta_json, 0, NULL);
    sdra_store_call_release(&sc);
    const char *audio = json_string_value(json_object_get(meta, "audio"));
    char path[PATH_MAX], name[64] = "";
    if (audio)
        sdra_strlcpy(name, audio, sizeof name);
    json_decref(meta);
    if (!name[0] || strchr(name, '/') || name[0] == '.')
        return send_error(r, c, 404, "not_found", "call %s has no stored audio", r->call_id);
    snprintf(path, sizeof path, "%s/calls/%s/%s", s->data_dir, r->call_id, name);
    const char *ctype = "application/octet-stream", *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof audio_types / sizeof audio_types[0]; i++)
        if (!strcmp(dot + 1, audio_types[i].ext))
            ctype = audio_types[i].ctype;
    sdra_store_audit_add(s->store, sdra_store_now_ms(), r->key.id, "audio.read", r->call_id, NULL);
    return send_file(r, c, path, ctype, NULL);
}

static enum MHD_Result retry_call(req *r, struct MHD_Connection *c)
{
    sdra_error err = {0};
    int rc = sdra_store_call_retry(r->s->store, r->call_id, sdra_store_now_ms(), &err);
    if (rc == SDRA_EINVAL)
        return send_error(r, c, 409, "conflict", "%s", err.msg);
    if (rc < 0)
        return send_sdra_error(r, c, &err);
    sdra_store_audit_add(r->s->store, sdra_store_now_ms(), r->key.id, "call.retry", r->call_id, NULL);
    for (int i = 0; i < r->s->n_stages; i++)
        srv_notify_stage(r->s, i);
    srv_notify_event(r->s);
    return send_json(r, c, 202, json_pack("{s:s,s:s}", "id", r->call_id, "status", "queued"));
}

static enum MHD_Result delete_call(req *r, struct MHD_Connection *c)
{
    sdra_error err = {0};
    if (sdra_store_call_delete(r->s->store, r->call_id, &err) < 0)
        return send_sdra_error(r, c, &err);
    /* a stage running on the call is asked to stop (its result would be refused anyway) */
    pthread_mutex_lock(&r->s->mu);
    for (int i = 0; i < r->s->n_slots; i++)
        if (r->s->slots[i].busy && !strcmp(r->s->slots[i].job.call_id, r->call_id))
            atomic_store(&r->s->slots[i].lost, true);
    pthread_mutex_unlock(&r->s->mu);
    char dir[PATH_MAX];
    srv_call_dir(r->s, dir, sizeof dir, r->call_id);
    if (srv_rm_rf(dir) != 0)
        sdra_log(SDRA_LOG_WARN, "call %s: could not remove every file in %s", r->call_id, dir);
    /* every trace includes what the sync stage wrote to the CRM (activity, tasks, emails, notes);
     * the contact itself stays: it may have other calls, and erasing a person is a separate act */
    sdra_crm *crm = NULL;
    int n_removed = 0;
    sdra_error cerr = {0};
    if (sdra_crm_open(&crm, "local", r->s->data_dir, &cerr) < 0 ||
        sdra_crm_forget_call(crm, r->call_id, &n_removed, &cerr) < 0)
        sdra_log(SDRA_LOG_WARN, "call %s: CRM records not erased: %s", r->call_id, cerr.msg);
    sdra_crm_close(crm);
    sdra_store_audit_add(r->s->store, sdra_store_now_ms(), r->key.id, "call.delete", r->call_id, NULL);
    srv_notify_event(r->s);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    return queue(r, c, 204, resp);
}

static void refresh_gauges(struct sdra_server *s)
{
    int counts[SDRA_SERVER_MAX_STAGES][SDRA_N_JOB_STATES];
    if (sdra_store_job_counts(s->store, s->n_stages, counts, NULL) == 0) {
        sdra_obs_clear(s->obs, "sdra_jobs");
        for (int i = 0; i < s->n_stages; i++) {
            char l[128];
            for (int k = 0; k < SDRA_N_JOB_STATES; k++) {
                snprintf(l, sizeof l, "stage=\"%s\",state=\"%s\"", s->stages[i].name, sdra_job_state_name(k));
                sdra_obs_set(s->obs, "sdra_jobs", l, counts[i][k]);
            }
            snprintf(l, sizeof l, "stage=\"%s\"", s->stages[i].name);
            sdra_obs_set(s->obs, "sdra_queue_depth", l, counts[i][SDRA_JOB_QUEUED]);
            sdra_obs_set(s->obs, "sdra_dead_jobs", l, counts[i][SDRA_JOB_DEAD]);
            pthread_mutex_lock(&s->mu);
            int inflight = s->in_flight[i];
            pthread_mutex_unlock(&s->mu);
            sdra_obs_set(s->obs, "sdra_jobs_in_flight", l, inflight);
        }
    }
    int active = 0;
    if (sdra_store_count_active(s->store, &active, NULL) == 0)
        sdra_obs_set(s->obs, "sdra_calls_active", NULL, active);
}

static enum MHD_Result get_metrics(req *r, struct MHD_Connection *c)
{
    refresh_gauges(r->s);
    sdra_buf b;
    sdra_buf_init(&b, 8u << 20);
    if (sdra_obs_render(r->s->obs, &b) < 0 || sdra_buf_putc(&b, '\0') < 0) {
        sdra_buf_release(&b);
        return send_error(r, c, 500, "internal", "metrics too large");
    }
    b.len--;
    char *body = sdra_buf_detach(&b);
    return send_text(r, c, 200, "text/plain; version=0.0.4; charset=utf-8", body);
}

static enum MHD_Result get_ready(req *r, struct MHD_Connection *c)
{
    int active = 0;
    sdra_error err = {0};
    if (atomic_load(&r->s->stopping))
        return send_error(r, c, 503, "unavailable", "shutting down");
    if (sdra_store_count_active(r->s->store, &active, &err) < 0)
        return send_error(r, c, 503, "unavailable", "job store: %s", err.msg);
    if (r->s->p.max_active_calls > 0 && active >= r->s->p.max_active_calls)
        return send_error(r, c, 503, "unavailable", "queue full: %d calls queued or running", active);
    return send_json(r, c, 200, json_pack("{s:s,s:i,s:i}", "status", "ready", "active_calls", active,
                                           "max_active_calls", r->s->p.max_active_calls));
}

/* ---- Server-Sent Events ----------------------------------------------------------------- */

typedef struct sse {
    struct sdra_server *s;
    char call_id[SDRA_STORE_ID_MAX];
    int state[SDRA_SERVER_MAX_STAGES];
    int attempts[SDRA_SERVER_MAX_STAGES];
    bool finished;
    double last_send;
    unsigned long n_events;
    sdra_buf out;
    size_t pos;
} sse;

static void sse_event(sse *e, const char *type, json_t *data)
{
    char *d = json_dumps(data, JSON_COMPACT);
    json_decref(data);
    if (d)
        sdra_buf_printf(&e->out, "id: %lu\nevent: %s\ndata: %s\n\n", ++e->n_events, type, d);
    free(d);
}

/* Appends events for whatever changed since the last look; marks the stream finished when the
 * call is done, failed or gone. */
static void sse_poll(sse *e)
{
    struct sdra_server *s = e->s;
    sdra_store_call sc;
    sdra_error err = {0};
    int rc = sdra_store_call_get(s->store, e->call_id, &sc, &err);
    if (rc == SDRA_ENOTFOUND) {
        sse_event(e, "deleted", json_pack("{s:s}", "id", e->call_id));
        e->finished = true;
        return;
    }
    if (rc < 0)
        return; /* store busy: try again on the next wake-up */
    sdra_store_job jobs[SDRA_SERVER_MAX_STAGES];
    int n = 0;
    if (sdra_store_job_list(s->store, e->call_id, jobs, SDRA_SERVER_MAX_STAGES, &n, &err) == 0) {
        for (int i = 0; i < n; i++) {
            int st = jobs[i].stage;
            if (st < 0 || st >= s->n_stages)
                continue;
            if (e->state[st] == jobs[i].state && e->attempts[st] == jobs[i].attempts)
                continue;
            e->state[st] = jobs[i].state;
            e->attempts[st] = jobs[i].attempts;
            json_t *d = json_pack("{s:s,s:s,s:s,s:i}", "id", e->call_id, "stage", s->stages[st].name, "state",
                                  sdra_job_state_name(jobs[i].state), "attempts", jobs[i].attempts);
            if (jobs[i].state == SDRA_JOB_DONE && jobs[i].started_ms > 0)
                json_object_set_new(d, "duration_ms", json_integer(jobs[i].finished_ms - jobs[i].started_ms));
            if (jobs[i].last_error[0])
                json_object_set_new(d, "error", json_string(jobs[i].last_error));
            sse_event(e, "stage", d);
        }
    }
    if (!strcmp(sc.status, "done") || !strcmp(sc.status, "failed")) {
        sse_event(e, "done", json_pack("{s:s,s:s}", "id", e->call_id, "status", sc.status));
        e->finished = true;
    }
    sdra_store_call_release(&sc);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    sse *e = cls;
    struct sdra_server *s = e->s;
    for (;;) {
        if (e->pos < e->out.len) {
            size_t n = e->out.len - e->pos < max ? e->out.len - e->pos : max;
            memcpy(buf, e->out.data + e->pos, n);
            e->pos += n;
            return (ssize_t)n;
        }
        if (e->finished || atomic_load(&s->stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;
        sdra_buf_reset(&e->out);
        e->pos = 0;
        pthread_mutex_lock(&s->mu);
        unsigned long seen = s->ev_seq;
        pthread_mutex_unlock(&s->mu);
        sse_poll(e);
        double now = sdra_clock_s();
        if (e->out.len > 0) {
            e->last_send = now;
            continue;
        }
        if (now - e->last_send >= s->p.sse_keepalive_s) {
            sdra_buf_puts(&e->out, ": keepalive\n\n");
            e->last_send = now;
            continue;
        }
        /* wait for news; wake at least every second (retries, other processes' changes) */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_mutex_lock(&s->mu);
        while (!atomic_load(&s->stopping) && s->ev_seq == seen)
            if (pthread_cond_timedwait(&s->ev_cv, &s->mu, &ts) != 0)
                break;
        pthread_mutex_unlock(&s->mu);
    }
}

static void sse_free(void *cls)
{
    sse *e = cls;
    sdra_buf_release(&e->out);
    free(e);
}

static enum MHD_Result get_events(req *r, struct MHD_Connection *c)
{
    sdra_store_call sc;
    sdra_error err = {0};
    if (sdra_store_call_get(r->s->store, r->call_id, &sc, &err) < 0)
        return send_sdra_error(r, c, &err);
    sdra_store_call_release(&sc);
    sse *e = calloc(1, sizeof *e);
    if (!e)
        return MHD_NO;
    e->s = r->s;
    sdra_strlcpy(e->call_id, r->call_id, sizeof e->call_id);
    for (int i = 0; i < SDRA_SERVER_MAX_STAGES; i++)
        e->state[i] = -1;
    e->last_send = sdra_clock_s();
    sdra_buf_init(&e->out, 1 << 20);
    sdra_buf_puts(&e->out, "retry: 2000\n\n");
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, e, sse_free);
    if (!resp) {
        sse_free(e);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    return queue(r, c, 200, resp);
}

/* ---- uploads -------------------------------------------------------------------------- */

static void upload_fail(req *r, int status, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void upload_fail(req *r, int status, int code, const char *fmt, ...)
{
    if (r->fail_status)
        return;
    r->fail_status = status;
    r->fail.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->fail.msg, sizeof r->fail.msg, fmt, ap);
    va_end(ap);
}

static void upload_write(req *r, const char *data, size_t n)
{
    if (r->fail_status)
        return;
    if (r->bytes + n > r->s->p.max_upload_bytes) {
        upload_fail(r, 413, SDRA_ELIMIT, "audio larger than the limit of %zu bytes", r->s->p.max_upload_bytes);
        return;
    }
    while (n > 0) {
        ssize_t w = write(r->fd, data, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            upload_fail(r, errno == ENOSPC ? 507 : 500, SDRA_EIO, "storing the upload failed: %s", strerror(errno));
            return;
        }
        data += w;
        n -= (size_t)w;
        r->bytes += (size_t)w;
    }
}

static void set_ext(req *r, const char *name_or_type, bool is_type)
{
    if (!name_or_type)
        return;
    const char *e = NULL;
    if (is_type) {
        for (size_t i = 0; i < sizeof audio_types / sizeof audio_types[0]; i++)
            if (!strncasecmp(name_or_type, audio_types[i].ctype, strlen(audio_types[i].ctype)))
                e = audio_types[i].ext;
        if (!strncasecmp(name_or_type, "audio/x-wav", 11) || !strncasecmp(name_or_type, "audio/wave", 10))
            e = "wav";
    } else {
        const char *dot = strrchr(name_or_type, '.');
        if (dot && strlen(dot + 1) >= 1 && strlen(dot + 1) <= 5) {
            bool ok = true;
            for (const char *p = dot + 1; *p; p++)
                ok = ok && isalnum((unsigned char)*p);
            if (ok)
                e = dot + 1;
        }
    }
    if (e) {
        size_t i = 0;
        for (; e[i] && i < sizeof r->ext - 1; i++)
            r->ext[i] = (char)tolower((unsigned char)e[i]);
        r->ext[i] = '\0';
    }
}

static int meta_index(const char *key)
{
    for (int i = 0; i < N_META; i++)
        if (!strcmp(key, meta_fields[i]))
            return i;
    return -1;
}

static enum MHD_Result post_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                                 const char *content_type, const char *transfer_encoding, const char *data,
                                 uint64_t off, size_t size)
{
    (void)kind;
    (void)transfer_encoding;
    req *r = cls;
    if (r->fail_status)
        return MHD_YES;
    if (!key)
        return MHD_YES;
    if (!strcmp(key, "audio")) {
        if (off == 0 && !r->got_audio_field) {
            r->got_audio_field = true;
            set_ext(r, content_type, true);
            set_ext(r, filename, false);
        }
        upload_write(r, data, size);
        return MHD_YES;
    }
    int i = meta_index(key);
    if (i < 0) {
        char k[41];
        size_t n = 0;
        for (; key[n] && n < 40; n++)
            k[n] = isprint((unsigned char)key[n]) ? key[n] : '?';
        k[n] = '\0';
        upload_fail(r, 400, SDRA_EINVAL, "unknown form field '%s' (expected audio and call metadata)", k);
        return MHD_YES;
    }
    if (off == 0 && !r->meta_seen[i]) { /* a form field replaces the query parameter */
        r->meta_seen[i] = true;
        r->meta[i][0] = '\0';
    }
    size_t have = strlen(r->meta[i]);
    if (off + size >= FIELD_MAX || have + size >= FIELD_MAX) {
        upload_fail(r, 400, SDRA_EINVAL, "form field %s longer than %d bytes", key, FIELD_MAX - 1);
        return MHD_YES;
    }
    memcpy(r->meta[i] + have, data, size);
    r->meta[i][have + size] = '\0';
    r->meta_set[i] = true;
    return MHD_YES;
}

/* First call of POST /v1/calls: admission (backpressure, size, type), temp file, parser. */
static enum MHD_Result upload_begin(req *r, struct MHD_Connection *c)
{
    struct sdra_server *s = r->s;
    int active = 0;
    sdra_error err = {0};
    if (sdra_store_count_active(s->store, &active, &err) < 0)
        return send_error(r, c, 503, "unavailable", "job store busy: %s", err.msg);
    if (s->p.max_active_calls > 0 && active >= s->p.max_active_calls)
        return send_error(r, c, 503, "unavailable", "queue full: %d calls queued or running; retry later", active);
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > s->p.max_upload_bytes)
        return send_error(r, c, 413, "limit_exceeded", "audio larger than the limit of %zu bytes", s->p.max_upload_bytes);
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (!ct)
        return send_error(r, c, 415, "unsupported", "missing Content-Type: send audio/* or multipart/form-data");
    bool multipart = !strncasecmp(ct, "multipart/form-data", 19);
    if (!multipart && strncasecmp(ct, "audio/", 6) && strncasecmp(ct, "application/octet-stream", 24))
        return send_error(r, c, 415, "unsupported", "Content-Type %.60s: send audio/* or multipart/form-data", ct);
    for (int i = 0; i < N_META; i++) {
        const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, meta_fields[i]);
        if (v) {
            if (strlen(v) >= FIELD_MAX)
                return send_error(r, c, 400, "invalid_input", "%s longer than %d bytes", meta_fields[i], FIELD_MAX - 1);
            sdra_strlcpy(r->meta[i], v, FIELD_MAX);
            r->meta_set[i] = true;
        }
    }
    if (multipart) {
        r->pp = MHD_create_post_processor(c, PP_BUFFER, post_iter, r);
        if (!r->pp)
            return send_error(r, c, 400, "invalid_input", "multipart/form-data without a usable boundary");
    } else {
        set_ext(r, ct, true);
    }
    snprintf(r->tmp_path, sizeof r->tmp_path, "%s/tmp/upload-XXXXXX", s->data_dir);
    r->fd = mkstemp(r->tmp_path);
    if (r->fd < 0) {
        r->tmp_path[0] = '\0';
        return send_error(r, c, 500, "io_error", "cannot store the upload: %s", strerror(errno));
    }
    r->upload = true;
    return MHD_YES;
}

static void upload_feed(req *r, const char *data, size_t n)
{
    if (r->fail_status)
        return;
    if (r->pp) {
        if (MHD_post_process(r->pp, data, n) != MHD_YES)
            upload_fail(r, 400, SDRA_EINVAL, "malformed multipart/form-data body");
    } else {
        upload_write(r, data, n);
    }
}

static enum MHD_Result upload_finish(req *r, struct MHD_Connection *c)
{
    struct sdra_server *s = r->s;
    sdra_call_info ci = {0};
    sdra_error err = {0};
    json_t *doc = NULL;
    char *meta = NULL, dir[1200], id[24], audio[32], path[1300];
    bool dir_made = false;
    enum MHD_Result ret;
    if (r->pp) {
        MHD_destroy_post_processor(r->pp);
        r->pp = NULL;
    }
    if (r->fail_status) {
        ret = send_error(r, c, r->fail_status, sdra_code_name(r->fail.code), "%s", r->fail.msg);
        goto done;
    }
    if (r->bytes == 0) {
        ret = send_error(r, c, 400, "invalid_input",
                         "no audio: send it as the body (Content-Type: audio/...) or in the form field 'audio'");
        goto done;
    }
    for (int i = 0; i < N_META; i++)
        if (r->meta_set[i] && r->meta[i][0] && sdra_call_info_set(&ci, meta_fields[i], r->meta[i], &err) < 0) {
            ret = send_error(r, c, 400, "invalid_input", "%s", err.msg);
            goto done;
        }
    if (!ci.call_date) {
        char today[11];
        sdra_date_today(today);
        sdra_call_info_set(&ci, "call_date", today, NULL);
    }
    if (fdatasync(r->fd) != 0) {
        ret = send_error(r, c, 500, "io_error", "storing the upload failed: %s", strerror(errno));
        goto done;
    }
    unsigned char rnd[8];
    const char *ik = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
    if (ik) {
        /* the same key (per API key) always names the same call: a client that retries an
         * upload whose answer it lost (a crash, a timeout) gets the call, not a second one */
        size_t n = strlen(ik);
        bool ok = n >= 1 && n <= 128;
        for (size_t i = 0; ok && i < n; i++)
            ok = ik[i] > 32 && ik[i] < 127;
        if (!ok) {
            ret = send_error(r, c, 400, "invalid_input", "Idempotency-Key: 1-128 printable characters, no spaces");
            goto done;
        }
        crypto_generichash_state hs;
        crypto_generichash_init(&hs, NULL, 0, sizeof rnd);
        crypto_generichash_update(&hs, (const unsigned char *)r->key.id, strlen(r->key.id));
        crypto_generichash_update(&hs, (const unsigned char *)":", 1);
        crypto_generichash_update(&hs, (const unsigned char *)ik, n);
        crypto_generichash_final(&hs, rnd, sizeof rnd);
    } else {
        randombytes_buf(rnd, sizeof rnd);
    }
    sodium_bin2hex(id, sizeof id, rnd, sizeof rnd);
    if (ik) {
        sdra_store_call old;
        int grc = sdra_store_call_get(s->store, id, &old, &err);
        if (grc == 0) {
            json_t *o = json_pack("{s:s,s:s}", "id", id, "status", old.status);
            sdra_store_call_release(&old);
            ret = send_json(r, c, 200, o);
            goto done;
        }
        if (grc != SDRA_ENOTFOUND) {
            ret = send_sdra_error(r, c, &err);
            goto done;
        }
    }
    /* the stored name comes from the content, never the client's file name or type; a
     * playlist is refused here (security review, finding 1; the decoder refuses it too) */
    unsigned char head[SDRA_AUDIO_SNIFF_BYTES];
    ssize_t head_n = pread(r->fd, head, sizeof head, 0);
    const char *ext = NULL;
    if (head_n > 0 && sdra_audio_sniff(head, (size_t)head_n, &ext, &err) < 0) {
        ret = send_error(r, c, 415, "unsupported", "%s", err.msg);
        goto done;
    }
    snprintf(audio, sizeof audio, "audio.%s", ext ? ext : "bin");
    free(ci.id);
    ci.id = strdup(id);
    free(ci.audio);
    ci.audio = strdup(audio);
    srv_call_dir(s, dir, sizeof dir, id);
    if (sdra_mkdir_p(dir, &err) < 0) {
        ret = send_sdra_error(r, c, &err);
        goto done;
    }
    dir_made = true;
    snprintf(path, sizeof path, "%s/%s", dir, audio);
    if (rename(r->tmp_path, path) != 0) {
        ret = send_error(r, c, 500, "io_error", "storing the upload failed: %s", strerror(errno));
        goto done;
    }
    r->tmp_path[0] = '\0';
    doc = sdra_call_info_to_json(&ci);
    snprintf(path, sizeof path, "%s/call.json", dir);
    if (!doc || sdra_json_write_file(path, doc, &err) < 0 || !(meta = json_dumps(doc, JSON_COMPACT))) {
        ret = send_error(r, c, 500, "io_error", "storing the call failed: %s", err.msg);
        goto done;
    }
    int rc = sdra_store_call_create(s->store, id, meta, 0, sdra_store_now_ms(), s->p.max_active_calls, &err);
    if (rc == SDRA_ELIMIT) {
        ret = send_error(r, c, 503, "unavailable", "%s; retry later", err.msg);
        goto done;
    }
    if (rc == SDRA_EEXISTS && ik) { /* the same key uploaded concurrently: that one won */
        dir_made = false;
        ret = send_json(r, c, 200, json_pack("{s:s,s:s}", "id", id, "status", "queued"));
        goto done;
    }
    if (rc < 0) {
        ret = send_sdra_error(r, c, &err);
        goto done;
    }
    dir_made = false; /* committed: the directory belongs to the call now */
    sdra_obs_inc(s->obs, "sdra_http_upload_bytes_total", NULL, (double)r->bytes);
    sdra_store_audit_add(s->store, sdra_store_now_ms(), r->key.id, "call.create", id, NULL);
    sdra_log_ctx lc = {.call_id = id, .duration_ms = -1};
    sdra_logc(SDRA_LOG_INFO, &lc, "call received: %zu bytes of audio", r->bytes);
    srv_notify_stage(s, 0);
    srv_notify_event(s);
    char loc[96];
    snprintf(loc, sizeof loc, "/v1/calls/%s", id);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "id", id, "status", "queued", "url", loc, "events", "");
    char ev[112];
    snprintf(ev, sizeof ev, "%s/events", loc);
    json_object_set_new(o, "events", json_string(ev));
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    struct MHD_Response *resp = body ? MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!resp) {
        free(body);
        ret = MHD_NO;
        goto done;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Location", loc);
    ret = queue(r, c, 202, resp);
done:
    if (dir_made)
        srv_rm_rf(dir);
    free(meta);
    json_decref(doc);
    sdra_call_info_release(&ci);
    return ret;
}

/* ---- the MHD callbacks ------------------------------------------------------------------ */

static enum MHD_Result dispatch(req *r, struct MHD_Connection *c)
{
    switch (r->route) {
    case R_HEALTH: return send_json(r, c, 200, json_pack("{s:s}", "status", "ok"));
    case R_READY: return get_ready(r, c);
    case R_METRICS: return get_metrics(r, c);
    case R_OPENAPI: {
        char path[PATH_MAX];
        if (sdra_share_path(path, sizeof path, "api/openapi.json") < 0)
            return send_error(r, c, 500, "internal", "share directory path too long");
        return send_file(r, c, path, "application/json", NULL);
    }
    case R_CALLS: return list_calls(r, c);
    case R_CALL: return !strcmp(r->method, "DELETE") ? delete_call(r, c) : get_call(r, c);
    case R_ARTIFACT: return get_artifact(r, c);
    case R_AUDIO: return get_audio(r, c);
    case R_EVENTS: return get_events(r, c);
    case R_RETRY: return retry_call(r, c);
    default: return send_error(r, c, 404, "not_found", "no such resource");
    }
}

static bool public_route(enum route rt)
{
    return rt == R_HEALTH || rt == R_READY || rt == R_METRICS || rt == R_OPENAPI;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    struct sdra_server *s = cls;
    req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->s = s;
        r->fd = -1;
        r->t0 = sdra_clock_s();
        r->method = method;
        *con_cls = r;
        route(r, url);
        if (r->route == R_NONE)
            return send_error(r, c, 404, "not_found", "no such resource: %.200s", url);
        if (!method_ok(r->route, method))
            return send_error(r, c, 405, "method_not_allowed", "%.10s not allowed on %s", method, route_names[r->route]);
        if (!public_route(r->route)) {
            enum MHD_Result a = authenticate(r, c);
            if (!r->authed)
                return a;
        }
        if (r->route == R_CALLS && !strcmp(method, "POST"))
            return upload_begin(r, c);
        return MHD_YES; /* respond once any request body has been read (and dropped) */
    }
    if (r->status)
        return MHD_YES; /* already answered (early error); drop the rest */
    if (*upload_data_size) {
        if (r->upload)
            upload_feed(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->upload)
        return upload_finish(r, c);
    return dispatch(r, c);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)c;
    struct sdra_server *s = cls;
    req *r = *con_cls;
    if (!r)
        return;
    if (r->pp)
        MHD_destroy_post_processor(r->pp);
    if (r->fd >= 0)
        close(r->fd);
    if (r->tmp_path[0])
        unlink(r->tmp_path);
    char labels[160];
    int status = r->status ? r->status : (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? 408 : 499);
    snprintf(labels, sizeof labels, "route=\"%s\",method=\"%s\",status=\"%d\"", route_names[r->route],
             r->method && strlen(r->method) < 8 && !strchr(r->method, '"') ? r->method : "OTHER", status);
    sdra_obs_inc(s->obs, "sdra_http_requests_total", labels, 1);
    snprintf(labels, sizeof labels, "route=\"%s\"", route_names[r->route]);
    double dt = sdra_clock_s() - r->t0;
    sdra_obs_observe(s->obs, "sdra_http_request_duration_seconds", labels, dt);
    sdra_log_ctx lc = {.call_id = r->call_id[0] ? r->call_id : NULL, .duration_ms = dt * 1000};
    sdra_logc(SDRA_LOG_DEBUG, &lc, "%s %s -> %d", r->method ? r->method : "?", route_names[r->route], status);
    free(r);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    sdra_log(SDRA_LOG_DEBUG, "http: %s", msg);
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
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_ERROR_LOG;
    s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(s->p.request_timeout_s > 0 ? s->p.request_timeout_s : 30),
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(s->p.max_header_bytes ? s->p.max_header_bytes : 32768),
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)(s->p.max_connections > 0 ? s->p.max_connections : 1024),
                              MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
                              MHD_OPTION_END);
    if (!s->mhd)
        return sdra_error_set(err, SDRA_EIO, "cannot listen on %s (address in use or not permitted)", s->p.listen);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : ntohs(sa.sin_port);
    return 0;
}

void srv_http_stop(struct sdra_server *s)
{
    if (s->mhd) {
        MHD_stop_daemon(s->mhd);
        s->mhd = NULL;
    }
}
