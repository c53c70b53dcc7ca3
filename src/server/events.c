/*
 * events.c - GET /v1/calls/{id}/events: a Server-Sent Events stream of the call's stage changes
 * until it is done, failed or deleted. The connections are served by a few event-loop threads,
 * so a stream never blocks one: when it has nothing to send it suspends its connection
 * (MHD_suspend_connection from the content reader, as MHD documents) and the ticker
 * (srv_events_tick, every 100 ms) resumes it when a job changed state or a second has passed
 * (retries, other processes' changes, keepalives).
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
#include <unistd.h>

/* ---- Server-Sent Events ----------------------------------------------------------------- */

typedef struct sse {
    struct sse *prev, *next;   /* s->streams, guarded by s->http_mu */
    struct MHD_Connection *conn;
    bool suspended;            /* guarded by s->http_mu */
    unsigned long seen;        /* s->ev_seq when it suspended */
    double suspended_at;
    struct sdra_server *s;
    char call_id[SDRA_STORE_ID_MAX];
    char org[SDRA_STORE_ID_MAX];   /* the key's organisation: the stream sees its calls only */
    int state[SDRA_SERVER_MAX_STAGES];
    int attempts[SDRA_SERVER_MAX_STAGES];
    bool finished;
    double last_send;
    unsigned long n_events;
    sdra_buf out;
    size_t pos;
    bool live_only;            /* GET /v1/live/{callSid}/events: the live events alone */
    unsigned long live_seen;   /* the live call's last event sent (live.c) */
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
    /* a live call's events (utterance, alert, metrics, done) come first, while it is known */
    if (srv_live_sse(s, e->org, e->call_id, &e->live_seen, &e->out, &e->n_events) && e->live_only)
        e->finished = true;
    if (e->live_only)
        return;
    sdra_store_call sc;
    sdra_error err = {0};
    int rc = sdra_store_call_get(s->store, e->org, e->call_id, &sc, &err);
    if (rc == SDRA_ENOTFOUND) {
        sse_event(e, "deleted", json_pack("{s:s}", "id", e->call_id));
        e->finished = true;
        return;
    }
    if (rc < 0)
        return; /* store busy: try again on the next wake-up */
    sdra_store_job jobs[SDRA_SERVER_MAX_STAGES];
    int n = 0;
    if (sdra_store_job_list(s->store, e->org, e->call_id, jobs, SDRA_SERVER_MAX_STAGES, &n, &err) == 0) {
        for (int i = 0; i < n; i++) {
            int st = jobs[i].stage;
            if (st < 0 || st >= s->n_stages)
                continue;
            if (e->state[st] == jobs[i].state && e->attempts[st] == jobs[i].attempts)
                continue;
            e->state[st] = jobs[i].state;
            e->attempts[st] = jobs[i].attempts;
            json_t *d = json_pack("{s:s,s:s,s:s,s:i}", "id", e->call_id, "stage", s->stages[st].name, "state",
                                  srv_stage_state_name(jobs[i].state), "attempts", jobs[i].attempts);
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
        /* nothing to say: give the thread back until the ticker sees news (or a second passes) */
        pthread_mutex_lock(&s->http_mu);
        if (atomic_load(&s->stopping)) {
            pthread_mutex_unlock(&s->http_mu);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        e->seen = seen;
        e->suspended_at = now;
        e->suspended = true;
        MHD_suspend_connection(e->conn);
        pthread_mutex_unlock(&s->http_mu);
        return 0;
    }
}

static void sse_free(void *cls)
{
    sse *e = cls;
    struct sdra_server *s = e->s;
    pthread_mutex_lock(&s->http_mu);
    if (e->prev)
        e->prev->next = e->next;
    else if (s->streams == e)
        s->streams = e->next;
    if (e->next)
        e->next->prev = e->prev;
    pthread_mutex_unlock(&s->http_mu);
    sdra_buf_release(&e->out);
    free(e);
}

void srv_events_tick(struct sdra_server *s, double now)
{
    pthread_mutex_lock(&s->http_mu);
    pthread_mutex_lock(&s->mu);
    unsigned long seq = s->ev_seq;
    pthread_mutex_unlock(&s->mu);
    for (sse *e = s->streams; e; e = e->next)
        if (e->suspended && (e->seen != seq || now - e->suspended_at >= 1.0)) {
            e->suspended = false;
            MHD_resume_connection(e->conn);
        }
    pthread_mutex_unlock(&s->http_mu);
}

void srv_events_release(struct sdra_server *s)
{
    pthread_mutex_lock(&s->http_mu);
    for (sse *e = s->streams; e; e = e->next)
        if (e->suspended) {
            e->suspended = false;
            MHD_resume_connection(e->conn);
        }
    pthread_mutex_unlock(&s->http_mu);
}

enum MHD_Result srv_get_events(req *r, struct MHD_Connection *c)
{
    sdra_store_call sc;
    sdra_error err = {0};
    bool live = r->route == R_LIVE_EVENTS;
    if (live)
        srv_live_call_id(r->key.org, r->live_sid, r->call_id);
    if (live && srv_live_known(r->s, r->key.org, r->call_id))
        ;
    else if (sdra_store_call_get(r->s->store, r->key.org, r->call_id, &sc, &err) < 0)
        return srv_send_sdra_error(r, c, &err);
    else
        sdra_store_call_release(&sc);
    if (srv_audit(r, NULL, "events.read", r->call_id, NULL) < 0)
        return srv_send_audit_failed(r, c);
    sse *e = calloc(1, sizeof *e);
    if (!e)
        return MHD_NO;
    e->s = r->s;
    e->conn = c;
    e->live_only = live && srv_live_known(r->s, r->key.org, r->call_id);
    sdra_strlcpy(e->call_id, r->call_id, sizeof e->call_id);
    sdra_strlcpy(e->org, r->key.org, sizeof e->org);
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
    pthread_mutex_lock(&r->s->http_mu);
    e->next = r->s->streams;
    if (e->next)
        e->next->prev = e;
    r->s->streams = e;
    pthread_mutex_unlock(&r->s->http_mu);
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    return srv_queue(r, c, 200, resp);
}
