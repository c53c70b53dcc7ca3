/*
 * views.c - the read and management views of the HTTP API (moved from http.c): a call,
 * the call list, artifacts and the audio served from their files, retry, delete, metrics and
 * readiness.
 */
#include "internal.h"

#include "sdra/call.h"
#include "sdra/crm.h"
#include "sdra/log.h"
#include "sdra/report.h"
#include "sdra/transcript.h"
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

/* ---- views ---------------------------------------------------------------------------- */

static const char *call_status_of(const char *s) { return s; }

/* The store's job states are internal words; clients see these (docs/service.md, "Status
 * names"): a job that used all its attempts is "failed", like its call. */
const char *srv_stage_state_name(int state)
{
    return state == SDRA_JOB_DEAD ? "failed" : sdra_job_state_name(state);
}

json_t *srv_call_links(const char *call_id)
{
    char base[96];
    snprintf(base, sizeof base, "/v1/calls/%s", call_id);
    return json_pack("{s:s, s:s+, s:s+, s:s+, s:s+}", "self", base, "events", base, "/events", "audio",
                     base, "/audio", "view", base, "/view", "report", base, "/report");
}

/* Where a stored artifact is served: its resource and, for all but the default, the format
 * (docs/service.md; "text" is the canonical name of the plain-text transcript). */
static json_t *artifact_url(const char *call_id, const char *name)
{
    static const struct { const char *file, *path; } urls[] = {
        {"transcript.json", "transcript"}, {"transcript.txt", "transcript?format=text"},
        {"analysis.json", "analysis"},     {"email.json", "email"},
        {"email.eml", "email?format=eml"}, {"invite.ics", "email?format=ics"},
        {"crm.json", "crm"},               {"report.html", "report"},
    };
    char url[160];
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++)
        if (!strcmp(name, urls[i].file)) {
            snprintf(url, sizeof url, "/v1/calls/%s/%s", call_id, urls[i].path);
            return json_string(url);
        }
    return json_null();
}

static json_t *call_summary(struct sdra_server *s, sdra_store_call *sc)
{
    sdra_error merr = {0};
    if (srv_meta_open(s, &sc->meta_json, &merr) < 0) { /* its key is gone: no metadata */
        free(sc->meta_json);
        sc->meta_json = NULL;
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(sc->id));
    json_object_set_new(o, "status", json_string(call_status_of(sc->status)));
    json_object_set_new(o, "created_at", srv_time_or_null(sc->created_ms));
    json_object_set_new(o, "updated_at", srv_time_or_null(sc->updated_ms));
    json_t *meta = json_loads(sc->meta_json ? sc->meta_json : "{}", 0, NULL);
    if (meta) {
        const char *keep[] = {"contact_email", "contact_name", "company", "call_date"};
        for (size_t i = 0; i < 4; i++) {
            json_t *v = json_object_get(meta, keep[i]);
            if (v)
                json_object_set(o, keep[i], v);
        }
        /* how the call came in: "live" (a stream, docs/live.md) or "upload" */
        json_t *src = json_object_get(meta, "source");
        json_object_set_new(o, "source", json_string(json_is_string(src) ? json_string_value(src) : "upload"));
        json_decref(meta);
    }
    return o;
}

enum MHD_Result srv_get_call(req *r, struct MHD_Connection *c)
{
    struct sdra_server *s = r->s;
    sdra_store_call sc;
    sdra_error err = {0};
    if (sdra_store_call_get(s->store, r->key.org, r->call_id, &sc, &err) < 0)
        return srv_send_sdra_error(r, c, &err);
    if (srv_audit(r, NULL, "call.read", r->call_id, NULL) < 0) {
        sdra_store_call_release(&sc);
        return srv_send_audit_failed(r, c);
    }
    if (srv_meta_open(s, &sc.meta_json, &err) < 0) {
        sdra_store_call_release(&sc);
        return srv_send_sdra_error(r, c, &err);
    }
    sdra_store_job jobs[SDRA_SERVER_MAX_STAGES];
    sdra_store_artifact arts[32];
    int n_jobs = 0, n_arts = 0;
    if (sdra_store_job_list(s->store, r->key.org, r->call_id, jobs, SDRA_SERVER_MAX_STAGES, &n_jobs, &err) < 0 ||
        sdra_store_artifact_list(s->store, r->key.org, r->call_id, arts, 32, &n_arts, &err) < 0) {
        sdra_store_call_release(&sc);
        return srv_send_sdra_error(r, c, &err);
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(sc.id));
    json_object_set_new(o, "status", json_string(sc.status));
    json_object_set_new(o, "created_at", srv_time_or_null(sc.created_ms));
    json_object_set_new(o, "updated_at", srv_time_or_null(sc.updated_ms));
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
        json_object_set_new(st, "state", json_string(j ? srv_stage_state_name(j->state) : "pending"));
        json_object_set_new(st, "attempts", json_integer(j ? j->attempts : 0));
        json_object_set_new(st, "queued_at", srv_time_or_null(j ? j->queued_ms : 0));
        json_object_set_new(st, "started_at", srv_time_or_null(j ? j->started_ms : 0));
        /* done, or failed for good: when it ended, and how long its last attempt ran */
        bool ended = j && (j->state == SDRA_JOB_DONE || j->state == SDRA_JOB_DEAD) && j->finished_ms > 0;
        json_object_set_new(st, "finished_at", srv_time_or_null(ended ? j->finished_ms : 0));
        if (ended && j->started_ms > 0 && j->finished_ms >= j->started_ms)
            json_object_set_new(st, "duration_ms", json_integer(j->finished_ms - j->started_ms));
        else
            json_object_set_new(st, "duration_ms", json_null());
        if (j && j->state == SDRA_JOB_QUEUED && j->attempts > 0)
            json_object_set_new(st, "retry_at", srv_time_or_null(j->run_after_ms));
        json_object_set_new(st, "error", j && j->last_error[0] ? json_string(j->last_error) : json_null());
        json_array_append_new(stages, st);
    }
    json_object_set_new(o, "stages", stages);
    json_t *al = json_array();
    for (int i = 0; i < n_arts; i++)
        json_array_append_new(al, json_pack("{s:s,s:s,s:s,s:I,s:o}", "name", arts[i].name, "stage",
                                            arts[i].stage >= 0 && arts[i].stage < s->n_stages
                                                ? s->stages[arts[i].stage].name : "unknown",
                                            "sha256", arts[i].sha256, "size_bytes", (json_int_t)arts[i].size_bytes,
                                            "url", artifact_url(sc.id, arts[i].name)));
    json_object_set_new(o, "artifacts", al);
    json_object_set_new(o, "links", srv_call_links(sc.id));
    sdra_store_call_release(&sc);
    return srv_send_json(r, c, 200, o);
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

enum MHD_Result srv_list_calls(req *r, struct MHD_Connection *c)
{
    int bad = 0;
    long limit = query_long(c, "limit", 20, 1, LIST_MAX, &bad);
    if (bad)
        return srv_send_error(r, c, 400, "invalid_input", "limit must be an integer from 1 to %d", LIST_MAX);
    long offset = query_long(c, "offset", 0, 0, 100000000L, &bad);
    if (bad)
        return srv_send_error(r, c, 400, "invalid_input", "offset must be a non-negative integer");
    const char *status = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "status");
    if (status && strcmp(status, "queued") && strcmp(status, "running") && strcmp(status, "done") &&
        strcmp(status, "failed"))
        return srv_send_error(r, c, 400, "invalid_input", "status must be queued, running, done or failed");
    sdra_store_call calls[LIST_MAX];
    int n = 0;
    sdra_error err = {0};
    int found = srv_calls_search(r, c, status, (int)offset, (int)limit, calls, &n, &err); /* web.c */
    if (found < 0)
        return srv_send_sdra_error(r, c, &err);
    if (!found && sdra_store_call_list(r->s->store, r->key.org, status, (int)offset, (int)limit, calls, &n, &err) < 0)
        return srv_send_sdra_error(r, c, &err);
    /* the entry names the calls the page shows (as many as fit in the detail) */
    char detail[SDRA_STORE_AUDIT_DETAIL_MAX];
    size_t len = (size_t)snprintf(detail, sizeof detail, "status=%s offset=%ld limit=%ld calls=%d:", status ? status : "any",
                                  offset, limit, n);
    for (int i = 0; i < n; i++) {
        size_t need = strlen(calls[i].id) + 1;
        if (len + need + 16 >= sizeof detail) {
            snprintf(detail + len, sizeof detail - len, " +%d more", n - i);
            break;
        }
        len += (size_t)snprintf(detail + len, sizeof detail - len, " %s", calls[i].id);
    }
    if (srv_audit(r, NULL, "calls.list", "", detail) < 0) {
        for (int i = 0; i < n; i++)
            sdra_store_call_release(&calls[i]);
        return srv_send_audit_failed(r, c);
    }
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(arr, call_summary(r->s, &calls[i]));
        sdra_store_call_release(&calls[i]);
    }
    json_t *o = json_pack("{s:o,s:i,s:i}", "calls", arr, "limit", (int)limit, "offset", (int)offset);
    json_object_set_new(o, "next_offset", n == limit ? json_integer(offset + n) : json_null());
    return srv_send_json(r, c, 200, o);
}

/* Loads one of the call's stored JSON documents (decrypted when it is sealed at rest). */
static int load_call_doc(struct sdra_server *s, const char *call_id, const char *path, json_t **out,
                         sdra_error *err)
{
    srv_seal sl;
    int rc = srv_seal_begin(s, &sl, call_id, err);
    if (rc == 0) {
        rc = sdra_json_load_file(out, path, 64u << 20, err);
        srv_seal_end(&sl);
    }
    if (rc < 0) /* the message names the file, not where the server keeps it */
        sdra_error_set(err, rc, "%s: %s", strrchr(path, '/') ? strrchr(path, '/') + 1 : path, sdra_strerror(rc));
    return rc;
}

enum MHD_Result srv_get_artifact(req *r, struct MHD_Connection *c)
{
    struct sdra_server *s = r->s;
    const char *fmt = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
    const char *name = NULL, *ctype = "application/json";
    if (!strcmp(r->sub, "transcript")) {
        if (!fmt || !strcmp(fmt, "json"))
            name = "transcript.json";
        else if (sdra_transcript_format_parse(fmt) == SDRA_TFMT_TEXT) /* "text", alias "txt" */
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
        return srv_send_error(r, c, 400, "invalid_input", "%s: unknown format '%.40s'", r->sub, fmt ? fmt : "");
    sdra_store_call sc;
    sdra_error err = {0};
    if (sdra_store_call_get(s->store, r->key.org, r->call_id, &sc, &err) < 0)
        return srv_send_sdra_error(r, c, &err);
    sdra_store_call_release(&sc);
    sdra_store_artifact a;
    if (sdra_store_artifact_get(s->store, r->key.org, r->call_id, name, &a, &err) < 0)
        return srv_send_sdra_error(r, c, &err);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", s->data_dir, a.path);
    if (srv_blob_local(s, a.path, path, a.created_ms, &err) < 0) /* from the object store */
        return srv_send_sdra_error(r, c, &err);
    if (srv_audit(r, NULL, "artifact.read", r->call_id, name) < 0)
        return srv_send_audit_failed(r, c);
    if (!strcmp(name, "crm.json")) { /* its "location" is where the server keeps the CRM */
        json_t *doc = NULL;
        if (load_call_doc(s, r->call_id, path, &doc, &err) < 0)
            return srv_send_sdra_error(r, c, &err);
        json_object_del(doc, "location");
        return srv_send_json(r, c, 200, doc);
    }
    return srv_send_file(r, c, path, ctype, a.sha256);
}

/* The call's view model, built from its stored documents as the report stage builds the
 * page's; the player's source is the API's audio resource. */
enum MHD_Result srv_get_view(req *r, struct MHD_Connection *c)
{
    struct sdra_server *s = r->s;
    sdra_store_call sc;
    sdra_error err = {0};
    if (sdra_store_call_get(s->store, r->key.org, r->call_id, &sc, &err) < 0)
        return srv_send_sdra_error(r, c, &err);
    if (srv_meta_open(s, &sc.meta_json, &err) < 0) {
        sdra_store_call_release(&sc);
        return srv_send_sdra_error(r, c, &err);
    }
    json_t *call = json_loads(sc.meta_json ? sc.meta_json : "{}", 0, NULL);
    sdra_store_call_release(&sc);
    static const char *const names[] = {"transcript.json", "analysis.json", "email.json", "crm.json"};
    json_t *docs[4] = {NULL, NULL, NULL, NULL}, *view = NULL;
    for (int i = 0; i < 4; i++) {
        sdra_store_artifact a;
        sdra_error e2 = {0};
        char path[PATH_MAX];
        if (sdra_store_artifact_get(s->store, r->key.org, r->call_id, names[i], &a, &e2) < 0)
            continue; /* not made yet */
        snprintf(path, sizeof path, "%s/%s", s->data_dir, a.path);
        if (srv_blob_local(s, a.path, path, a.created_ms, &err) < 0 ||
            load_call_doc(s, r->call_id, path, &docs[i], &err) < 0)
            goto fail;
    }
    if (!docs[1]) {
        sdra_error_set(&err, SDRA_ENOTFOUND, "call %s has no analysis yet; its view comes with it", r->call_id);
        goto fail;
    }
    char audio[96];
    snprintf(audio, sizeof audio, "/v1/calls/%s/audio", r->call_id);
    if (sdra_report_view(&view, call, docs[0], docs[1], docs[2], docs[3],
                         json_string_value(json_object_get(call, "audio")) ? audio : NULL, &err) < 0)
        goto fail;
    for (int i = 0; i < 4; i++)
        json_decref(docs[i]);
    json_decref(call);
    if (srv_audit(r, NULL, "call.view", r->call_id, NULL) < 0) {
        json_decref(view);
        return srv_send_audit_failed(r, c);
    }
    return srv_send_json(r, c, 200, view);
fail:
    for (int i = 0; i < 4; i++)
        json_decref(docs[i]);
    json_decref(call);
    return srv_send_sdra_error(r, c, &err);
}

const srv_audio_type srv_audio_types[SRV_N_AUDIO_TYPES] = {
    {"wav", "audio/wav"}, {"mp3", "audio/mpeg"}, {"ogg", "audio/ogg"}, {"opus", "audio/ogg"},
    {"flac", "audio/flac"}, {"m4a", "audio/mp4"}, {"webm", "audio/webm"}, {"aac", "audio/aac"},
};

enum MHD_Result srv_get_audio(req *r, struct MHD_Connection *c)
{
    struct sdra_server *s = r->s;
    sdra_store_call sc;
    sdra_error err = {0};
    if (sdra_store_call_get(s->store, r->key.org, r->call_id, &sc, &err) < 0)
        return srv_send_sdra_error(r, c, &err);
    if (srv_meta_open(s, &sc.meta_json, &err) < 0) {
        sdra_store_call_release(&sc);
        return srv_send_sdra_error(r, c, &err);
    }
    json_t *meta = json_loads(sc.meta_json, 0, NULL);
    sdra_store_call_release(&sc);
    const char *audio = json_string_value(json_object_get(meta, "audio"));
    char path[PATH_MAX], name[64] = "";
    if (audio)
        sdra_strlcpy(name, audio, sizeof name);
    json_decref(meta);
    if (!name[0] || strchr(name, '/') || name[0] == '.')
        return srv_send_error(r, c, 404, "not_found", "call %s has no stored audio", r->call_id);
    snprintf(path, sizeof path, "%s/calls/%s/%s", s->data_dir, r->call_id, name);
    char rel[SDRA_BLOB_KEY_MAX];
    snprintf(rel, sizeof rel, "calls/%s/%s", r->call_id, name);
    if (srv_blob_local(s, rel, path, 0, &err) < 0) /* from the object store */
        return srv_send_sdra_error(r, c, &err);
    const char *ctype = "application/octet-stream", *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof srv_audio_types / sizeof srv_audio_types[0]; i++)
        if (!strcmp(dot + 1, srv_audio_types[i].ext))
            ctype = srv_audio_types[i].ctype;
    if (srv_audit(r, NULL, "audio.read", r->call_id, name) < 0)
        return srv_send_audit_failed(r, c);
    return srv_send_ranged(r, c, path, ctype); /* seeking in the web app's player */
}

enum MHD_Result srv_retry_call(req *r, struct MHD_Connection *c)
{
    sdra_error err = {0};
    sdra_store_call sc;
    if (sdra_store_call_get(r->s->store, r->key.org, r->call_id, &sc, &err) < 0)
        return srv_send_sdra_error(r, c, &err);
    sdra_store_call_release(&sc);
    if (srv_audit(r, NULL, "call.retry", r->call_id, NULL) < 0)
        return srv_send_audit_failed(r, c);
    int rc = sdra_store_call_retry(r->s->store, r->key.org, r->call_id, sdra_store_now_ms(), &err);
    if (rc == SDRA_EINVAL)
        return srv_send_error(r, c, 409, "conflict", "%s", err.msg);
    if (rc < 0)
        return srv_send_sdra_error(r, c, &err);
    for (int i = 0; i < r->s->n_stages; i++)
        srv_notify_stage(r->s, i);
    srv_notify_event(r->s);
    return srv_send_json(r, c, 202, json_pack("{s:s,s:s}", "id", r->call_id, "status", "queued"));
}

enum MHD_Result srv_delete_call(req *r, struct MHD_Connection *c)
{
    sdra_error err = {0};
    if (srv_call_delete(r->s, r->key.org, r->call_id, r->key.id, r->ip, &err) < 0)
        return srv_send_sdra_error(r, c, &err);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    return srv_queue(r, c, 204, resp);
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
    int64_t oldest[SDRA_SERVER_MAX_STAGES];
    if (sdra_store_queue_oldest(s->store, s->n_stages, oldest, NULL) == 0) {
        int64_t now = sdra_store_now_ms();
        for (int i = 0; i < s->n_stages; i++) {
            char l[128];
            snprintf(l, sizeof l, "stage=\"%s\"", s->stages[i].name);
            sdra_obs_set(s->obs, "sdra_queue_oldest_age_seconds", l,
                         oldest[i] > 0 && now > oldest[i] ? (double)(now - oldest[i]) / 1000.0 : 0.0);
        }
    }
    int active = 0;
    if (sdra_store_count_active(s->store, NULL, &active, NULL) == 0)
        sdra_obs_set(s->obs, "sdra_calls_active", NULL, active);
}

enum MHD_Result srv_get_metrics(req *r, struct MHD_Connection *c)
{
    refresh_gauges(r->s);
    srv_live_metrics(r->s);
    sdra_buf b;
    sdra_buf_init(&b, 8u << 20);
    if (sdra_obs_render(r->s->obs, &b) < 0 || sdra_buf_putc(&b, '\0') < 0) {
        sdra_buf_release(&b);
        return srv_send_error(r, c, 500, "internal", "metrics too large");
    }
    b.len--;
    char *body = sdra_buf_detach(&b);
    return srv_send_text(r, c, 200, "text/plain; version=0.0.4; charset=utf-8", body);
}

enum MHD_Result srv_get_ready(req *r, struct MHD_Connection *c)
{
    int active = 0;
    sdra_error err = {0};
    if (atomic_load(&r->s->stopping) || atomic_load(&r->s->draining))
        return srv_send_error(r, c, 503, "unavailable", "shutting down");
    if (sdra_store_count_active(r->s->store, NULL, &active, &err) < 0)
        return srv_send_error(r, c, 503, "unavailable", "job store: %s", err.msg);
    /* a full queue is a reason to send uploads elsewhere, not to stop a worker's probes */
    if (!r->s->p.worker_only && r->s->p.max_active_calls > 0 && active >= r->s->p.max_active_calls)
        return srv_send_error(r, c, 503, "unavailable", "queue full: %d calls queued or running", active);
    return srv_send_json(r, c, 200, json_pack("{s:s,s:i,s:i}", "status", "ready", "active_calls", active,
                                           "max_active_calls", r->s->p.max_active_calls));
}
