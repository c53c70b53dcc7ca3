/*
 * worker.c - the stage workers: one pool of threads per stage, each with its own concurrency.
 * A worker claims a job of its stage from the store (with a lease), runs the stage on the
 * call's directory, then records the outcome in one transaction: artifacts + job done + next
 * stage queued, or a failure with exponential backoff and jitter (dead after max_attempts).
 * Idle workers sleep on their stage's condition variable (woken when a job of the stage is
 * queued; a timed wait also picks up retries whose backoff ended and leases that expired).
 * One heartbeat thread renews the leases of running jobs; a job whose lease was lost (taken by
 * another worker after an expiry) is asked to stop through the progress callback, and its
 * completion is refused by the store, so a result is recorded exactly once.
 */
#include "internal.h"

#include "sdra/log.h"
#include "sdra/outbox.h"
#include "sdra/util.h"

#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IDLE_POLL_MS 500

/* Files a stage writes besides its main output (recorded as artifacts when present). */
static const struct {
    const char *stage;
    const char *files[3];
} extra_outputs[] = {
    {"transcribe", {"transcript.txt"}},
    {"compose", {"email.eml", "invite.ics"}},
};

static void deadline_in(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static int cancel_check(void *user_data, const char *task, double done, double total)
{
    (void)task;
    (void)done;
    (void)total;
    worker_slot *w = user_data;
    return atomic_load(&w->srv->stopping) || atomic_load(&w->lost);
}

static int add_artifact(struct sdra_server *s, const char *call_id, const char *dir, const char *name,
                        sdra_store_artifact *a, sdra_error *err)
{
    char path[1300];
    memset(a, 0, sizeof *a);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = srv_sha256_plain(s, path, a->sha256, &a->size_bytes, err);
    if (rc < 0)
        return rc;
    sdra_strlcpy(a->name, name, sizeof a->name);
    snprintf(a->path, sizeof a->path, "calls/%s/%s", call_id, name);
    return 0;
}

/* Replaces every occurrence of from in msg (a string in a buffer of cap bytes) with to; the
 * result is cut at cap - 1 bytes. */
static void replace_all(char *msg, size_t cap, const char *from, const char *to)
{
    size_t k = strlen(from), t = strlen(to), n = 0;
    char out[SDRA_STORE_ERRMSG_MAX + 64];
    if (k == 0 || !strstr(msg, from) || cap > sizeof out)
        return;
    for (const char *p = msg; *p && n + 1 < cap;) {
        if (!strncmp(p, from, k)) {
            for (size_t i = 0; i < t && n + 1 < cap; i++)
                out[n++] = to[i];
            p += k;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    memcpy(msg, out, n + 1);
}

/* What API clients may see of a stage's error message: file names relative to the call
 * ("audio.wav"), never where the server keeps its data (security review, finding 7). The call
 * directory goes first ("<data>/calls/<id>/audio.wav" -> "audio.wav"), then any other path
 * under an absolute data directory ("<data>/crm.db" -> "crm.db"), as given and as resolved. */
static void strip_server_paths(char *msg, size_t cap, const struct sdra_server *s, const char *call_dir)
{
    char with_slash[PATH_MAX + 2], real[PATH_MAX];
    snprintf(with_slash, sizeof with_slash, "%s/", call_dir);
    replace_all(msg, cap, with_slash, "");
    replace_all(msg, cap, call_dir, "the call's directory");
    const char *roots[2] = {s->data_dir, realpath(s->data_dir, real) ? real : NULL};
    for (int i = 0; i < 2; i++) {
        /* a relative name ("data") could be any word of the message: only absolute ones */
        if (!roots[i] || roots[i][0] != '/' || !roots[i][1] || (i == 1 && !strcmp(roots[0], roots[1])))
            continue;
        snprintf(with_slash, sizeof with_slash, "%s/", roots[i]);
        replace_all(msg, cap, with_slash, "");
        replace_all(msg, cap, roots[i], "the data directory");
    }
}

/* Stage errors are stored and logged: the JSON parser quotes the text it stopped at ("near
 * 'pineapple'"), which may be what was said in the call. The quoted text is withheld. */
static void withhold_quoted(char *msg)
{
    char *p = msg;
    while ((p = strstr(p, "near '")) != NULL) {
        char *q = p + 6, *end = strchr(q, '\'');
        if (!end)
            end = q + strlen(q);
        if (end - q <= 3) { /* never grows the message */
            p = end;
            continue;
        }
        static const char mark[] = "...";
        size_t tail = strlen(end);
        memmove(q + 3, end, tail + 1);
        memcpy(q, mark, 3);
        p = q + 3;
    }
}

/* Real-time factor of a transcription: wall seconds over audio seconds (from transcript.json). */
static void observe_rtf(struct sdra_server *s, const char *dir, double wall_s)
{
    char path[1300];
    json_t *doc = NULL;
    snprintf(path, sizeof path, "%s/transcript.json", dir);
    if (sdra_json_load_file(&doc, path, 64u << 20, NULL) < 0)
        return;
    double dur = 0;
    json_t *d = json_object_get(doc, "duration_s");
    if (!d)
        d = json_object_get(doc, "duration");
    if (json_is_number(d))
        dur = json_number_value(d);
    json_decref(doc);
    if (dur > 0)
        sdra_obs_observe(s->obs, "sdra_transcription_rtf", NULL, wall_s / dur);
}

static void run_job(worker_slot *w, sdra_store_job *job)
{
    struct sdra_server *s = w->srv;
    const sdra_stage *stage = &s->stages[w->stage];
    char dir[1200], job_id[SDRA_STORE_ID_MAX + 40], labels[160];
    sdra_error err = {0};
    snprintf(job_id, sizeof job_id, "%s/%s", job->call_id, stage->name);
    sdra_log_ctx lc = {.call_id = job->call_id, .job_id = job_id, .stage = stage->name, .duration_ms = -1};

    pthread_mutex_lock(&s->mu);
    w->busy = true;
    w->job = *job;
    atomic_store(&w->lost, false);
    s->in_flight[w->stage]++;
    pthread_mutex_unlock(&s->mu);
    srv_notify_event(s);

    srv_call_dir(s, dir, sizeof dir, job->call_id);
    /* the call's organisation: what the stage writes outside the call (the CRM) is its */
    sdra_store_call sc;
    char org[SDRA_STORE_ID_MAX] = SDRA_STORE_ORG_DEFAULT;
    if (sdra_store_call_get(s->store, NULL, job->call_id, &sc, NULL) == 0)
        sdra_strlcpy(org, sc.org, sizeof org);
    sdra_store_call_release(&sc);
    sdra_stage_ctx ctx = {.workdir = dir, .data_dir = s->data_dir, .options = s->p.options,
                          .progress = {.fn = cancel_check, .user_data = w}, .org = org};
    sdra_logc(SDRA_LOG_INFO, &lc, "stage %s started (attempt %d)", stage->name, job->attempts);
    double t0 = sdra_clock_s();
    /* encrypted at rest: the stage reads and writes through the call's key (sdra/seal.h) */
    srv_seal sl = {0};
    srv_blob_snap *snap = malloc(sizeof *snap); /* the call's files from the object store */
    int rc = snap ? srv_blob_pull(s, job->call_id, dir, snap, &err) : sdra_error_set(&err, SDRA_ENOMEM, "out of memory");
    if (rc == 0)
        rc = srv_seal_begin(s, &sl, job->call_id, &err);
    if (rc == 0)
        rc = stage->run(&ctx, &err);
    if (rc == 0 && s->p.redact_audio && !strcmp(stage->name, "transcribe"))
        rc = srv_call_audio_redact(s, job->call_id, dir, &err); /* before anyone may fetch it again */
    double wall = sdra_clock_s() - t0;
    lc.duration_ms = wall * 1000;

    sdra_store_artifact arts[4];
    int n_arts = 0;
    if (rc == 0 && stage->output) {
        if ((rc = add_artifact(s, job->call_id, dir, stage->output, &arts[n_arts], &err)) == 0)
            n_arts++;
        else
            sdra_error_prefix(&err, "stage %s wrote no %s", stage->name, stage->output);
        for (size_t i = 0; rc == 0 && i < sizeof extra_outputs / sizeof extra_outputs[0]; i++) {
            if (strcmp(extra_outputs[i].stage, stage->name))
                continue;
            for (int k = 0; k < 3 && extra_outputs[i].files[k]; k++) {
                char p[1300];
                struct stat st;
                snprintf(p, sizeof p, "%s/%s", dir, extra_outputs[i].files[k]);
                if (stat(p, &st) == 0 && n_arts < 4 &&
                    add_artifact(s, job->call_id, dir, extra_outputs[i].files[k], &arts[n_arts], NULL) == 0)
                    n_arts++;
            }
        }
    }
    if (rc == 0) /* what the stage wrote is stored before its completion is recorded */
        rc = srv_blob_push(s, job->call_id, dir, snap, &err);
    free(snap);
    int64_t now = sdra_store_now_ms();
    /* the external effects the stage causes, committed with its completion (sdra/outbox.h) */
    int next = w->stage + 1 < s->n_stages ? w->stage + 1 : -1;
    sdra_outbox_plan pl = {0};
    if (rc == 0 && s->p.outbox)
        rc = sdra_outbox_plan_stage(&pl, s->p.outbox, stage->name, next < 0, org, job->call_id, dir, now, &err);
    snprintf(labels, sizeof labels, "stage=\"%s\",outcome=\"%s\"", stage->name, rc == 0 ? "ok" : "error");
    sdra_obs_observe(s->obs, "sdra_stage_duration_seconds", labels, wall);
    snprintf(labels, sizeof labels, "stage=\"%s\"", stage->name);
    if (rc == 0) {
        sdra_error cerr = {0};
        int crc = sdra_store_job_complete_fx(s->store, job, arts, n_arts, next, pl.fx, pl.n, now, &cerr);
        if (crc == 0 && pl.n)
            srv_outbox_notify(s);
        if (crc == 0) {
            sdra_logc(SDRA_LOG_INFO, &lc, "stage %s done", stage->name);
            sdra_obs_inc(s->obs, "sdra_jobs_completed_total", labels, 1);
            if (!strcmp(stage->name, "transcribe"))
                observe_rtf(s, dir, wall);
            if (!strcmp(stage->name, "transcribe") || !strcmp(stage->name, "analyze") || !strcmp(stage->name, "compose")) {
                sdra_error serr = {0}; /* the calls list's search (web.c): a failure costs findability only */
                if (srv_search_index(s, job->call_id, org, dir, &serr) < 0)
                    sdra_logc(SDRA_LOG_WARN, &lc, "call not indexed for search: %s", serr.msg);
            }
            srv_notify_stage(s, next);
        } else {
            sdra_logc(SDRA_LOG_WARN, &lc, "stage %s result not recorded: %s", stage->name, cerr.msg);
        }
    } else {
        bool retryable = err.retryable || rc == SDRA_ERETRY || rc == SDRA_ETIMEOUT || rc == SDRA_EUPSTREAM ||
                         rc == SDRA_EIO || rc == SDRA_ENOMEM || rc == SDRA_ECANCELED;
        int64_t delay = s->p.retry_base_ms;
        for (int i = 1; i < job->attempts && delay < s->p.retry_max_ms; i++)
            delay *= 2;
        if (delay > s->p.retry_max_ms)
            delay = s->p.retry_max_ms;
        delay = (int64_t)((double)delay * (0.5 + randombytes_uniform(1000) / 1000.0)); /* jitter */
        if (rc == SDRA_ECANCELED && atomic_load(&s->stopping))
            delay = 0; /* shutdown, not the job's fault: run again right after restart */
        char msg[SDRA_STORE_ERRMSG_MAX + 64];
        snprintf(msg, sizeof msg, "%s: %s", sdra_code_name(rc), err.msg[0] ? err.msg : sdra_strerror(rc));
        strip_server_paths(msg, sizeof msg, s, dir);
        withhold_quoted(msg);
        bool dies = !retryable || job->attempts >= s->p.max_attempts;
        sdra_error ferr = {0};
        if (dies && s->p.outbox && /* call.failed: recorded with the failure, only when it is final */
            sdra_outbox_plan_failed(&pl, s->p.outbox, org, job->call_id, dir, msg, now, &ferr) < 0)
            sdra_logc(SDRA_LOG_WARN, &lc, "call.failed webhook not planned: %s", ferr.msg);
        int frc = sdra_store_job_fail_fx(s->store, job, msg, retryable, now + delay, s->p.max_attempts, pl.fx, pl.n,
                                         now, &ferr);
        if (frc == 0 && pl.n)
            srv_outbox_notify(s);
        if (frc < 0) {
            sdra_logc(SDRA_LOG_WARN, &lc, "stage %s failure not recorded: %s", stage->name, ferr.msg);
        } else if (dies) {
            sdra_logc(SDRA_LOG_ERROR, &lc, "stage %s failed for good: %s", stage->name, msg);
            sdra_obs_inc(s->obs, "sdra_jobs_dead_total", labels, 1);
        } else {
            sdra_logc(SDRA_LOG_WARN, &lc, "stage %s failed, retry in %lld ms: %s", stage->name, (long long)delay, msg);
            sdra_obs_inc(s->obs, "sdra_job_retries_total", labels, 1);
        }
    }
    sdra_outbox_plan_release(&pl);
    srv_seal_end(&sl);
    pthread_mutex_lock(&s->mu);
    w->busy = false;
    s->in_flight[w->stage]--;
    pthread_mutex_unlock(&s->mu);
    srv_notify_event(s);
}

static void *worker_main(void *arg)
{
    worker_slot *w = arg;
    struct sdra_server *s = w->srv;
    while (!atomic_load(&s->stopping)) {
        pthread_mutex_lock(&s->mu);
        unsigned long seen = s->wake_seq[w->stage];
        pthread_mutex_unlock(&s->mu);
        sdra_store_job job;
        sdra_error err = {0};
        int rc = sdra_store_job_claim(s->store, w->stage, w->owner, sdra_store_now_ms(), s->p.lease_ms,
                                      s->p.max_attempts, &job, &err);
        if (rc == 0) {
            srv_notify_event(s);
            run_job(w, &job);
            continue;
        }
        if (rc != SDRA_ENOTFOUND)
            sdra_log(SDRA_LOG_WARN, "worker %s: claim failed: %s", w->owner, err.msg);
        struct timespec ts;
        deadline_in(&ts, IDLE_POLL_MS);
        pthread_mutex_lock(&s->mu);
        while (!atomic_load(&s->stopping) && s->wake_seq[w->stage] == seen)
            if (pthread_cond_timedwait(&s->stage_cv[w->stage], &s->mu, &ts) != 0)
                break;
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

/* Renews the leases of running jobs every lease/3. */
static void *heartbeat_main(void *arg)
{
    struct sdra_server *s = arg;
    long every_ms = (long)(s->p.lease_ms / 3);
    if (every_ms < 30)
        every_ms = 30;
    sdra_store_job *jobs = calloc((size_t)s->n_slots + 1, sizeof *jobs);
    int *idx = calloc((size_t)s->n_slots + 1, sizeof *idx);
    if (!jobs || !idx) {
        free(jobs);
        free(idx);
        return NULL;
    }
    pthread_mutex_lock(&s->mu);
    while (!atomic_load(&s->stopping)) {
        struct timespec ts;
        deadline_in(&ts, every_ms);
        while (!atomic_load(&s->stopping) && pthread_cond_timedwait(&s->hb_cv, &s->mu, &ts) == 0)
            ;
        if (atomic_load(&s->stopping))
            break;
        int n = 0;
        for (int i = 0; i < s->n_slots; i++)
            if (s->slots[i].busy) {
                idx[n] = i;
                jobs[n++] = s->slots[i].job;
            }
        pthread_mutex_unlock(&s->mu);
        for (int i = 0; i < n; i++) {
            sdra_error err = {0};
            int rc = sdra_store_job_heartbeat(s->store, &jobs[i], sdra_store_now_ms(), s->p.lease_ms, &err);
            if (rc == SDRA_EEXISTS) { /* unless the job simply finished meanwhile */
                pthread_mutex_lock(&s->mu);
                worker_slot *w = &s->slots[idx[i]];
                if (w->busy && !strcmp(w->job.call_id, jobs[i].call_id) && w->job.attempts == jobs[i].attempts) {
                    atomic_store(&w->lost, true);
                    sdra_log(SDRA_LOG_WARN, "%s", err.msg);
                }
                pthread_mutex_unlock(&s->mu);
            } else if (rc < 0) {
                sdra_log(SDRA_LOG_WARN, "%s", err.msg);
            }
        }
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    free(jobs);
    free(idx);
    return NULL;
}

int srv_workers_start(struct sdra_server *s, sdra_error *err)
{
    int total = 0;
    for (int i = 0; i < s->n_stages; i++) {
        int c = s->p.concurrency[i] > 0 ? s->p.concurrency[i] : 1;
        if (c > SDRA_SERVER_MAX_WORKERS)
            c = SDRA_SERVER_MAX_WORKERS;
        total += c;
    }
    s->slots = calloc((size_t)total, sizeof *s->slots);
    if (!s->slots)
        return sdra_error_set(err, SDRA_ENOMEM, "server: out of memory");
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    unsigned char nonce[3];
    randombytes_buf(nonce, sizeof nonce);
    for (int st = 0; st < s->n_stages; st++) {
        int c = s->p.concurrency[st] > 0 ? s->p.concurrency[st] : 1;
        if (c > SDRA_SERVER_MAX_WORKERS)
            c = SDRA_SERVER_MAX_WORKERS;
        for (int i = 0; i < c; i++) {
            worker_slot *w = &s->slots[s->n_slots];
            w->srv = s;
            w->stage = st;
            w->index = i;
            snprintf(w->owner, sizeof w->owner, "%.20s:%d:%02x%02x%02x:%.10s:%d", host, (int)getpid(), nonce[0],
                     nonce[1], nonce[2], s->stages[st].name, i);
            if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
                return sdra_error_set(err, SDRA_ENOMEM, "server: cannot start worker thread");
            w->started = true;
            s->n_slots++;
        }
    }
    if (pthread_create(&s->hb_thread, NULL, heartbeat_main, s) != 0)
        return sdra_error_set(err, SDRA_ENOMEM, "server: cannot start heartbeat thread");
    s->hb_started = true;
    return 0;
}

void srv_workers_stop(struct sdra_server *s)
{
    for (int i = 0; i < s->n_slots; i++)
        if (s->slots[i].started)
            pthread_join(s->slots[i].thread, NULL);
    if (s->hb_started)
        pthread_join(s->hb_thread, NULL);
    free(s->slots);
    s->slots = NULL;
    s->n_slots = 0;
}
