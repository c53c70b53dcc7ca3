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
 *
 * The same pools run in `sdra serve` and in `sdra worker` (a server with worker_only set: no
 * API), on one store shared by any number of processes. A condition variable only reaches this
 * process, so the watch thread turns the store's notifications (sdra_store_wait_work: NOTIFY in
 * PostgreSQL) into wake-ups here; without them the timed waits poll. A claim that fails (store
 * unreachable) backs off exponentially. Draining (SIGTERM on a worker) stops the claims and
 * lets running jobs finish; at the deadline the leases of the ones still running are released
 * in the store (queued again at once, the attempt not counted) and their stages asked to stop.
 */
#include "internal.h"

#include "sdra/log.h"
#include "sdra/outbox.h"
#include "sdra/util.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IDLE_POLL_MS 500
#define CLAIM_BACKOFF_MAX_MS 30000 /* a failing store is tried again at most this far apart */
#define WATCH_WAIT_MS 250          /* one sdra_store_wait_work (also how soon the watch ends) */

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
        /* shutdown, not the job's fault: run again at once (another worker, or after restart),
         * and the attempt does not count towards going dead */
        bool shutdown = rc == SDRA_ECANCELED && atomic_load(&s->stopping);
        if (shutdown)
            delay = 0;
        char msg[SDRA_STORE_ERRMSG_MAX + 64];
        snprintf(msg, sizeof msg, "%s: %s", sdra_code_name(rc), err.msg[0] ? err.msg : sdra_strerror(rc));
        strip_server_paths(msg, sizeof msg, s, dir);
        withhold_quoted(msg);
        bool dies = !shutdown && (!retryable || job->attempts >= s->p.max_attempts);
        int max_attempts = shutdown ? job->attempts + 1 : s->p.max_attempts;
        sdra_error ferr = {0};
        if (dies && s->p.outbox && /* call.failed: recorded with the failure, only when it is final */
            sdra_outbox_plan_failed(&pl, s->p.outbox, org, job->call_id, dir, msg, now, &ferr) < 0)
            sdra_logc(SDRA_LOG_WARN, &lc, "call.failed webhook not planned: %s", ferr.msg);
        int frc = sdra_store_job_fail_fx(s->store, job, msg, retryable, now + delay, max_attempts, pl.fx, pl.n, now,
                                         &ferr);
        if (frc == 0 && pl.n)
            srv_outbox_notify(s);
        if (frc < 0) {
            sdra_logc(SDRA_LOG_WARN, &lc, "stage %s failure not recorded: %s", stage->name, ferr.msg);
        } else if (shutdown) {
            sdra_logc(SDRA_LOG_INFO, &lc, "stage %s stopped by shutdown: lease released", stage->name);
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
    long backoff_ms = 0; /* after failed claims: the store is unreachable or refuses */
    while (!atomic_load(&s->stopping) && !atomic_load(&s->draining)) {
        pthread_mutex_lock(&s->mu);
        unsigned long seen = s->wake_seq[w->stage];
        pthread_mutex_unlock(&s->mu);
        sdra_store_job job;
        sdra_error err = {0};
        int rc = sdra_store_job_claim(s->store, w->stage, w->owner, sdra_store_now_ms(), s->p.lease_ms,
                                      s->p.max_attempts, &job, &err);
        if (rc == 0) {
            if (backoff_ms)
                sdra_log(SDRA_LOG_INFO, "worker %s: the store answers again", w->owner);
            backoff_ms = 0;
            srv_notify_event(s);
            run_job(w, &job);
            continue;
        }
        struct timespec ts;
        if (rc != SDRA_ENOTFOUND) {
            backoff_ms = backoff_ms ? backoff_ms * 2 : IDLE_POLL_MS;
            if (backoff_ms > CLAIM_BACKOFF_MAX_MS)
                backoff_ms = CLAIM_BACKOFF_MAX_MS;
            sdra_log(SDRA_LOG_WARN, "worker %s: claim failed, retrying in %ld ms: %s", w->owner, backoff_ms, err.msg);
            deadline_in(&ts, backoff_ms); /* wake-ups do not shorten it: the store is the problem */
            pthread_mutex_lock(&s->mu);
            while (!atomic_load(&s->stopping) && !atomic_load(&s->draining) &&
                   pthread_cond_timedwait(&s->stage_cv[w->stage], &s->mu, &ts) == 0)
                ;
            pthread_mutex_unlock(&s->mu);
            continue;
        }
        if (backoff_ms)
            sdra_log(SDRA_LOG_INFO, "worker %s: the store answers again", w->owner);
        backoff_ms = 0;
        deadline_in(&ts, IDLE_POLL_MS);
        pthread_mutex_lock(&s->mu);
        while (!atomic_load(&s->stopping) && !atomic_load(&s->draining) && s->wake_seq[w->stage] == seen)
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

/* Whether this process runs stage st's workers (params.stage_mask). */
static bool stage_here(const struct sdra_server *s, int st)
{
    return !s->p.stage_mask || (st < 32 && (s->p.stage_mask & (UINT32_C(1) << st)));
}

int srv_workers_start(struct sdra_server *s, sdra_error *err)
{
    int total = 0;
    for (int i = 0; i < s->n_stages; i++) {
        if (!stage_here(s, i))
            continue;
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
        if (!stage_here(s, st))
            continue;
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

int sdra_server_drain(sdra_server *s, int deadline_ms)
{
    if (!s)
        return 0;
    atomic_store(&s->draining, true);
    struct timespec ts;
    deadline_in(&ts, deadline_ms > 0 ? deadline_ms : 0);
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < SDRA_SERVER_MAX_STAGES; i++)
        pthread_cond_broadcast(&s->stage_cv[i]);
    int busy;
    for (;;) { /* every job's end broadcasts ev_cv (srv_notify_event) */
        busy = 0;
        for (int i = 0; i < s->n_slots; i++)
            busy += s->slots[i].busy;
        if (busy == 0 || pthread_cond_timedwait(&s->ev_cv, &s->mu, &ts) == ETIMEDOUT)
            break;
    }
    /* the deadline passed: a stage may not look at its cancel flag for a while (a chunk being
     * decoded), so the leases are released here and now, whatever the threads do next; their
     * results, should they still come, are refused by the store (the lease is gone) */
    sdra_store_job jobs[64];
    int n = 0;
    for (int i = 0; i < s->n_slots && n < 64; i++)
        if (s->slots[i].busy) {
            jobs[n++] = s->slots[i].job;
            atomic_store(&s->slots[i].lost, true);
        }
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < n; i++) {
        sdra_error err = {0};
        int64_t now = sdra_store_now_ms();
        const char *stage = jobs[i].stage >= 0 && jobs[i].stage < s->n_stages ? s->stages[jobs[i].stage].name : "?";
        sdra_log_ctx lc = {.call_id = jobs[i].call_id, .stage = stage, .duration_ms = -1};
        /* queued again at once; max_attempts one above its attempts: this one does not count */
        if (sdra_store_job_fail_fx(s->store, &jobs[i], "ECANCELED: the worker was shut down", true, now,
                                   jobs[i].attempts + 1, NULL, 0, now, &err) == 0)
            sdra_logc(SDRA_LOG_INFO, &lc, "stage %s stopped by shutdown: lease released", stage);
        else
            sdra_logc(SDRA_LOG_WARN, &lc, "stage %s: lease not released (it expires): %s", stage, err.msg);
    }
    return n;
}

/* Other processes' news: a job queued or requeued (this process's workers), any job change
 * (its event streams), an outbox entry (its delivery thread). The store tells (PostgreSQL's
 * NOTIFY) or, without notifications, wait_work just sleeps and the others poll as before. */
static void *watch_main(void *arg)
{
    struct sdra_server *s = arg;
    while (!atomic_load(&s->stopping)) {
        sdra_error err = {0};
        int rc = sdra_store_wait_work(s->store, WATCH_WAIT_MS, &err);
        if (atomic_load(&s->stopping))
            break;
        if (rc == SDRA_ETIMEOUT)
            continue;
        if (rc < 0) { /* the listening connection was lost: poll now, listen again shortly */
            struct timespec ts = {0, WATCH_WAIT_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
        pthread_mutex_lock(&s->mu);
        for (int i = 0; i < s->n_stages; i++) {
            s->wake_seq[i]++;
            pthread_cond_broadcast(&s->stage_cv[i]);
        }
        pthread_mutex_unlock(&s->mu);
        srv_notify_event(s);
        if (s->ob_started)
            srv_outbox_notify(s);
    }
    return NULL;
}

int srv_watch_start(struct sdra_server *s, sdra_error *err)
{
    if (pthread_create(&s->watch_thread, NULL, watch_main, s) != 0)
        return sdra_error_set(err, SDRA_ENOMEM, "server: cannot start the store watch thread");
    s->watch_started = true;
    return 0;
}

void srv_watch_stop(struct sdra_server *s)
{
    if (s->watch_started)
        pthread_join(s->watch_thread, NULL);
    s->watch_started = false;
}
