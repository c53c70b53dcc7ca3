/*
 * sdra/store.h - the durable job store behind `sdra serve` (and later the distributed workers).
 *
 * It holds calls, one job per call and stage, the artifacts each stage produced, an outbox for
 * external side effects, API keys (hashed) and an audit log. The store is a table of function
 * pointers (sdra_store_ops) so that the embedded SQLite backend and a PostgreSQL backend are
 * interchangeable; one contract test suite (tests/unit/store/test_contract.c) runs against
 * every backend. Calling code never branches on the backend.
 *
 * Job life cycle: queued -> running (claimed with a lease: owner + expiry) -> done, or back to
 * queued with a later run_after (retry with backoff), or dead after max_attempts (last error
 * kept, visible, retryable by hand with sdra_store_call_retry). A worker that dies loses its
 * lease when it expires and the next claim takes the job. Completing a job is one transaction:
 * artifacts recorded, job done, next stage queued (or the call marked done). A complete or
 * heartbeat from a worker that lost its lease fails with SDRA_EEXISTS and changes nothing, so
 * a stage's result is recorded exactly once.
 *
 * Times are milliseconds since the Unix epoch, passed in by the caller (tests drive the clock).
 * Every function is thread-safe. Failures leave the store unchanged.
 *
 * Organisations: every call (with its jobs and artifacts), outbox entry, audit entry and key
 * belongs to one. Every function that reads or changes call data takes `org`: a call of
 * another organisation is SDRA_ENOTFOUND, exactly as a call that does not exist, and never
 * appears in a list. org NULL means "any organisation" and is for trusted callers only (the
 * workers, the CLI on the data directory); the HTTP API always passes the key's.
 *
 *     sdra_store *st = NULL;
 *     if (sdra_store_open(&st, "/var/lib/sdra/sdra.db", &err) < 0) ...
 *     sdra_store_call_create(st, "default", "c-1", "{...}", audio_bytes, 0, now_ms, 100, &err);
 *     sdra_store_job job;
 *     if (sdra_store_job_claim(st, 0, "host:pid:1", now_ms, 30000, 5, &job, &err) == 0) {
 *         ... run the stage ...
 *         sdra_store_job_complete(st, &job, arts, n_arts, 1, now_ms, &err);
 *     }
 *     sdra_store_close(st);
 */
#ifndef SDRA_STORE_H
#define SDRA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sdra/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SDRA_STORE_ID_MAX 64     /* call ids, owners, key ids (with NUL) */
#define SDRA_STORE_STATE_MAX 16
#define SDRA_STORE_ERRMSG_MAX 512
#define SDRA_STORE_PATH_MAX 1024
#define SDRA_STORE_META_MAX (64u << 10) /* a call's metadata document */

/* Job states as stored: "queued", "running", "done", "dead". */
typedef enum sdra_job_state {
    SDRA_JOB_QUEUED = 0,
    SDRA_JOB_RUNNING,
    SDRA_JOB_DONE,
    SDRA_JOB_DEAD,
    SDRA_N_JOB_STATES
} sdra_job_state;

const char *sdra_job_state_name(int state); /* "queued", ...; "unknown" out of range */
int sdra_job_state_parse(const char *s);    /* -1 when unknown */

/* Call status (derived from its jobs, kept in the call row): "queued" (nothing started yet),
 * "running", "done" (every stage done), "failed" (a job is dead). */
typedef struct sdra_store_call {
    char id[SDRA_STORE_ID_MAX];
    char status[SDRA_STORE_STATE_MAX];
    char *meta_json; /* the call's metadata (call.json), owned; free with _call_release */
    int64_t created_ms;
    int64_t updated_ms;
    char org[SDRA_STORE_ID_MAX];   /* its organisation */
    int64_t audio_bytes;           /* the stored audio's size (counted in the org's storage) */
} sdra_store_call;

void sdra_store_call_release(sdra_store_call *c); /* frees meta_json; accepts NULL */

typedef struct sdra_store_job {
    char call_id[SDRA_STORE_ID_MAX];
    int stage;                     /* index in the stage table */
    int state;                     /* sdra_job_state */
    int attempts;                  /* claims so far */
    int64_t run_after_ms;          /* not claimed before this time */
    char lease_owner[SDRA_STORE_ID_MAX];
    int64_t lease_expires_ms;
    int64_t queued_ms, started_ms, finished_ms; /* 0 when not yet */
    char last_error[SDRA_STORE_ERRMSG_MAX];
} sdra_store_job;

typedef struct sdra_store_artifact {
    char name[SDRA_STORE_ID_MAX];  /* file name in the call's directory: "transcript.json" */
    int stage;                     /* the stage that produced it */
    char path[SDRA_STORE_PATH_MAX];/* where it lives (relative to the data directory) */
    char sha256[65];               /* hex digest of the content */
    int64_t size_bytes;
    int64_t created_ms;
} sdra_store_artifact;

typedef struct sdra_store_key {
    char id[SDRA_STORE_ID_MAX];    /* public key id (looked up by it) */
    char name[128];
    char scope[SDRA_STORE_STATE_MAX]; /* read | write | admin */
    char hash[129];                /* hex hash of the secret part */
    int64_t created_ms;
    int64_t revoked_ms;            /* 0 while valid */
    char org[SDRA_STORE_ID_MAX];   /* its organisation ([a-z0-9-], 1..63; "" on insert: "default") */
} sdra_store_key;

/* Organisations (tenants): every key, call, outbox entry and audit entry belongs to one; rows
 * from before organisations existed belong to SDRA_STORE_ORG_DEFAULT. Names are call-id like:
 * [a-z0-9-], 1..63 characters, not starting with '-'. */
#define SDRA_STORE_ORG_DEFAULT "default"
bool sdra_store_org_valid(const char *org);

/* One audit log entry. The entries form a hash chain: hash = SHA-256(prev_hash || the canonical
 * serialisation of the entry, sdra_store_audit_hash), prev_hash being the previous entry's hash
 * (SDRA_STORE_AUDIT_GENESIS for the first), so that changing, removing or reordering an entry
 * breaks the chain at that point (sdra_store_audit_verify). */
#define SDRA_STORE_AUDIT_DETAIL_MAX 1024
#define SDRA_STORE_AUDIT_IP_MAX 64
#define SDRA_STORE_AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"
typedef struct sdra_store_audit_entry {
    int64_t id;                    /* 1, 2, 3, ... in append order */
    int64_t at_ms;
    char actor[SDRA_STORE_ID_MAX]; /* key id, "-" when unknown, "cli:USER" for the CLI */
    char action[SDRA_STORE_ID_MAX];/* "call.read", "auth.fail", "key.create", ... */
    char target[SDRA_STORE_ID_MAX];/* call id or key id; "" when none */
    char ip[SDRA_STORE_AUDIT_IP_MAX]; /* client address; "local" for the CLI */
    char detail[SDRA_STORE_AUDIT_DETAIL_MAX];
    char prev_hash[65];            /* hex */
    char hash[65];                 /* hex */
    char org[SDRA_STORE_ID_MAX];   /* the actor's organisation; "" when none is known */
    int hash_v;                    /* 1: org not hashed (written before organisations); 2: hashed
                                    * (set by _append) */
} sdra_store_audit_entry;

/* Which entries sdra_store_audit_query returns: NULL / 0 = any. */
typedef struct sdra_store_audit_filter {
    const char *target, *actor, *action;
    int64_t since_ms;              /* at_ms >= since_ms */
    int64_t after_id;              /* id > after_id (paging) */
    bool oldest_first;             /* default: newest first */
    const char *org;               /* NULL = any organisation */
} sdra_store_audit_filter;

typedef struct sdra_store_outbox_item {
    char key[128];                 /* idempotency key */
    char call_id[SDRA_STORE_ID_MAX];
    char kind[SDRA_STORE_STATE_MAX * 2];
    char *payload;                 /* owned; free with sdra_store_outbox_release */
    int state;                     /* SDRA_JOB_QUEUED / RUNNING / DONE / DEAD */
    int attempts;
    char org[SDRA_STORE_ID_MAX];
    /* the delivery life cycle (filled by _claim, _get, _query and _list) */
    int64_t send_at_ms;            /* not delivered before (0: at once) */
    int64_t next_attempt_ms;       /* when it is next due (send_at, then the backoff) */
    int64_t created_ms, updated_ms;
    char last_error[SDRA_STORE_ERRMSG_MAX]; /* one line: why it failed, is held or canceled */
    char remote_id[256];           /* what the remote side called it (message id, record id) */
    char lease_owner[SDRA_STORE_ID_MAX];
    bool resumed;                  /* _claim: taken over from an expired lease, so the previous
                                    * attempt was cut off and may have reached the remote side */
} sdra_store_outbox_item;

/* Outbox entry states beyond the job states (queued, running, done, dead): held waits for a
 * person (approve), canceled will never be sent. */
#define SDRA_OUTBOX_HELD SDRA_N_JOB_STATES
#define SDRA_OUTBOX_CANCELED (SDRA_N_JOB_STATES + 1)
#define SDRA_N_OUTBOX_STATES (SDRA_N_JOB_STATES + 2)
const char *sdra_store_outbox_state_name(int state); /* "queued", ..., "held", "canceled" */
int sdra_store_outbox_state_parse(const char *s);    /* -1 when unknown */

/* One effect to record (sdra_store_outbox_add, sdra_store_job_complete_fx). */
typedef struct sdra_store_outbox_new {
    const char *org, *key, *call_id, *kind, *payload;
    int state;                     /* SDRA_JOB_QUEUED, SDRA_OUTBOX_HELD or SDRA_OUTBOX_CANCELED */
    int64_t send_at_ms;            /* 0: at once */
    const char *reason;            /* why held or canceled (last_error); may be NULL */
} sdra_store_outbox_new;

/* Which entries sdra_store_outbox_query returns: NULL / -1 = any. */
typedef struct sdra_store_outbox_filter {
    const char *org, *call_id, *kind;
    int state;                     /* -1: any */
} sdra_store_outbox_filter;

/* What sdra_store_outbox_change does. */
typedef enum sdra_outbox_verb {
    SDRA_OUTBOX_APPROVE = 0,       /* held -> queued */
    SDRA_OUTBOX_RETRY,             /* dead -> queued, attempts reset */
    SDRA_OUTBOX_CANCEL             /* queued or held -> canceled (never once it is being sent) */
} sdra_outbox_verb;

void sdra_store_outbox_release(sdra_store_outbox_item *o);

/* An organisation's quotas (0 = unlimited) and what it uses now. */
typedef struct sdra_store_org {
    char name[SDRA_STORE_ID_MAX];
    int max_active;                /* calls queued or running at once */
    int64_t max_storage_bytes;     /* audio + artifacts, as the store records their sizes */
    int n_active;                  /* calls queued or running now */
    int64_t storage_bytes;         /* audio + artifacts now */
    int n_keys;                    /* API keys (revoked ones included) */
} sdra_store_org;

typedef struct sdra_store sdra_store;
struct sdra_store_policy;

/* Re-wraps one data key (sdra_store_data_key_rewrap): reads id's wrapped key under master_id,
 * writes the new wrapping (at most SDRA_STORE_WRAPPED_MAX bytes) and the new master id. */
#define SDRA_STORE_WRAPPED_MAX 128
typedef int (*sdra_store_rewrap_fn)(void *user_data, const char *id, const char *master_id,
                                    const unsigned char *wrapped, size_t n, char *new_master_id,
                                    unsigned char *new_wrapped, size_t *new_n, sdra_error *err);

/* The backend interface. Every backend implements every entry; see the wrappers below for the
 * contract of each. */
struct sdra_store_search_doc;
struct sdra_store_search_query;
typedef struct sdra_store_ops {
    const char *name;
    void (*close)(sdra_store *s);
    int (*call_create)(sdra_store *s, const char *org, const char *id, const char *meta_json,
                       int64_t audio_bytes, int first_stage, int64_t now_ms, int max_active, sdra_error *err);
    int (*call_get)(sdra_store *s, const char *org, const char *id, sdra_store_call *out, sdra_error *err);
    int (*call_list)(sdra_store *s, const char *org, const char *status, int offset, int limit,
                     sdra_store_call *out, int *n_out, sdra_error *err);
    int (*call_delete)(sdra_store *s, const char *org, const char *id, sdra_error *err);
    int (*call_retry)(sdra_store *s, const char *org, const char *id, int64_t now_ms, sdra_error *err);
    int (*count_active)(sdra_store *s, const char *org, int *n_out, sdra_error *err);
    int (*job_claim)(sdra_store *s, int stage, const char *owner, int64_t now_ms, int64_t lease_ms,
                     int max_attempts, sdra_store_job *out, sdra_error *err);
    int (*job_heartbeat)(sdra_store *s, const sdra_store_job *job, int64_t now_ms, int64_t lease_ms,
                         sdra_error *err);
    int (*job_complete)(sdra_store *s, const sdra_store_job *job, const sdra_store_artifact *arts,
                        int n_arts, int next_stage, int64_t now_ms, sdra_error *err);
    int (*job_fail)(sdra_store *s, const sdra_store_job *job, const char *msg, bool retryable,
                    int64_t retry_at_ms, int max_attempts, int64_t now_ms, sdra_error *err);
    int (*job_list)(sdra_store *s, const char *org, const char *call_id, sdra_store_job *out, int max,
                    int *n_out, sdra_error *err);
    int (*job_counts)(sdra_store *s, int n_stages, int (*counts)[SDRA_N_JOB_STATES], sdra_error *err);
    int (*artifact_get)(sdra_store *s, const char *org, const char *call_id, const char *name,
                        sdra_store_artifact *out, sdra_error *err);
    int (*artifact_list)(sdra_store *s, const char *org, const char *call_id, sdra_store_artifact *out,
                         int max, int *n_out, sdra_error *err);
    int (*key_insert)(sdra_store *s, const sdra_store_key *k, sdra_error *err);
    int (*key_get)(sdra_store *s, const char *id, sdra_store_key *out, sdra_error *err);
    int (*key_list)(sdra_store *s, sdra_store_key *out, int max, int *n_out, sdra_error *err);
    int (*key_revoke)(sdra_store *s, const char *id_or_name, int64_t now_ms, sdra_error *err);
    int (*key_delete)(sdra_store *s, const char *id_or_name, char *id_out, sdra_error *err);
    int (*audit_append)(sdra_store *s, sdra_store_audit_entry *e, sdra_error *err);
    int (*audit_query)(sdra_store *s, const sdra_store_audit_filter *f, sdra_store_audit_entry *out,
                       int max, int *n_out, sdra_error *err);
    int (*audit_count)(sdra_store *s, const char *target, int *n_out, sdra_error *err);
    int (*outbox_put)(sdra_store *s, const char *org, const char *key, const char *call_id, const char *kind,
                      const char *payload, int64_t now_ms, sdra_error *err);
    int (*outbox_claim)(sdra_store *s, const char *owner, int64_t now_ms, int64_t lease_ms,
                        sdra_store_outbox_item *out, sdra_error *err);
    int (*outbox_done)(sdra_store *s, const char *key, sdra_error *err);
    int (*org_set)(sdra_store *s, const char *name, int max_active, int64_t max_storage_bytes, int64_t now_ms,
                   sdra_error *err);
    int (*org_get)(sdra_store *s, const char *name, sdra_store_org *out, sdra_error *err);
    int (*org_list)(sdra_store *s, sdra_store_org *out, int max, int *n_out, sdra_error *err);
    int (*call_set_meta)(sdra_store *s, const char *org, const char *id, const char *meta_json, sdra_error *err);
    /* data-subject rights and retention (see the section at the end of this header) */
    int (*subject_add)(sdra_store *s, const char *call_id, const char *org, const char *token, sdra_error *err);
    int (*subject_calls)(sdra_store *s, const char *org, const char *token, char (*ids)[SDRA_STORE_ID_MAX], int max,
                         int *n_out, sdra_error *err);
    int (*subject_pseudonym)(sdra_store *s, const char *org, const char *token, const char *candidate,
                             int64_t now_ms, char out[SDRA_STORE_ID_MAX], sdra_error *err);
    int (*subject_forget)(sdra_store *s, const char *org, const char *token, int *n_out, sdra_error *err);
    int (*policy_get)(sdra_store *s, const char *org, struct sdra_store_policy *out, sdra_error *err);
    int (*policy_put)(sdra_store *s, const struct sdra_store_policy *p, int64_t now_ms, sdra_error *err);
    int (*outbox_list)(sdra_store *s, const char *call_id, sdra_store_outbox_item *out, int max, int *n_out,
                       sdra_error *err);
    int (*artifact_delete)(sdra_store *s, const char *call_id, const char *name, sdra_error *err);
    int (*checkpoint)(sdra_store *s, sdra_error *err);
    /* encryption at rest: wrapped data keys (sdra_store_data_key_*) */
    int (*data_key_put)(sdra_store *s, const char *id, const char *master_id, const unsigned char *wrapped,
                        size_t n, bool replace, int64_t now_ms, sdra_error *err);
    int (*data_key_get)(sdra_store *s, const char *id, char *master_id, unsigned char *wrapped, size_t *n,
                        sdra_error *err);
    int (*data_key_rewrap)(sdra_store *s, sdra_store_rewrap_fn fn, void *user_data, int *n_out, sdra_error *err);
    /* the outbox life cycle (sdra_store_outbox_add and the functions after it) */
    int (*outbox_add)(sdra_store *s, const sdra_store_outbox_new *e, int64_t now_ms, sdra_error *err);
    int (*outbox_get)(sdra_store *s, const char *org, const char *key, sdra_store_outbox_item *out, sdra_error *err);
    int (*outbox_query)(sdra_store *s, const sdra_store_outbox_filter *f, sdra_store_outbox_item *out, int max,
                        int *n_out, sdra_error *err);
    int (*outbox_change)(sdra_store *s, const char *org, const char *key, sdra_outbox_verb verb, int64_t now_ms,
                         sdra_error *err);
    int (*outbox_finish)(sdra_store *s, const sdra_store_outbox_item *it, const char *remote_id, int64_t now_ms,
                         sdra_error *err);
    int (*outbox_fail)(sdra_store *s, const sdra_store_outbox_item *it, const char *msg, int next_state,
                       int64_t retry_at_ms, int64_t now_ms, sdra_error *err);
    int (*job_complete_fx)(sdra_store *s, const sdra_store_job *job, const sdra_store_artifact *arts, int n_arts,
                           int next_stage, const sdra_store_outbox_new *fx, int n_fx, int64_t now_ms,
                           sdra_error *err);
    int (*job_fail_fx)(sdra_store *s, const sdra_store_job *job, const char *msg, bool retryable, int64_t retry_at_ms,
                       int max_attempts, const sdra_store_outbox_new *fx, int n_fx, int64_t now_ms,
                       sdra_error *err);
    /* full-text search of calls (sdra_store_search_*); NULL: the backend has none */
    int (*search_put)(sdra_store *s, const char *org, const char *call_id, const struct sdra_store_search_doc *d,
                      sdra_error *err);
    int (*call_search)(sdra_store *s, const char *org, const struct sdra_store_search_query *q, int offset, int limit,
                       sdra_store_call *out, int *n_out, sdra_error *err);
    /* queue statistics for /metrics and autoscaling (sdra_store_queue_oldest) */
    int (*queue_oldest)(sdra_store *s, int n_stages, int64_t *oldest_ms, sdra_error *err);
    /* work notifications (sdra_store_wait_work); NULL: the backend has none (the wrapper sleeps) */
    int (*wait_work)(sdra_store *s, int timeout_ms, sdra_error *err);
    /* the web app's email review and search backfill (sdra_store_outbox_approve_as,
     * sdra_store_search_missing); NULL: the backend has none */
    int (*outbox_approve_as)(sdra_store *s, const char *org, const char *key, int64_t send_at_ms, const char *payload,
                             int64_t now_ms, sdra_error *err);
    int (*search_missing)(sdra_store *s, const char *after_id, sdra_store_call *out, int max, int *n_out,
                          sdra_error *err);
} sdra_store_ops;

/* Every backend's handle starts with this. */
struct sdra_store {
    const sdra_store_ops *ops;
};

/* Opens a store by location: "sqlite:PATH" or a plain PATH (SQLite, WAL mode; created with its
 * schema when missing), or "postgres://..." / "postgresql://..." (a libpq connection URI:
 * postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=..., or ?host=/socket/dir; docs/deploy.md).
 * PostgreSQL: the schema is migrated on open (versioned, in one transaction); a schema newer
 * than this binary is SDRA_EUNSUPPORTED. Connection failures are one line naming the server
 * (never the password): unreachable SDRA_ERETRY, login refused SDRA_EDENIED, no such database
 * SDRA_ENOTFOUND, malformed URL SDRA_EINVAL. A connection lost later (a restart) fails the
 * operation in flight with SDRA_ERETRY; the next call connects again. */
int sdra_store_open(sdra_store **out, const char *location, sdra_error *err);
int sdra_store_sqlite_open(sdra_store **out, const char *path, sdra_error *err);
int sdra_store_postgres_open(sdra_store **out, const char *url, sdra_error *err);
void sdra_store_close(sdra_store *s); /* accepts NULL */

/* Creates the call of organisation org (status "queued", audio_bytes its stored audio) and
 * queues its first job, in one transaction. Fails with SDRA_EEXISTS when the id is taken (in
 * any organisation), SDRA_ELIMIT when max_active (> 0) calls are already queued or running
 * (backpressure) or when the organisation's quota (sdra_store_org_set) would be exceeded
 * (calls in flight, or storage with audio_bytes added; sdra_store_org_get tells which),
 * SDRA_EINVAL for a bad id or org ([a-z0-9-], 1..63) or metadata over SDRA_STORE_META_MAX. */
int sdra_store_call_create(sdra_store *s, const char *org, const char *id, const char *meta_json,
                           int64_t audio_bytes, int first_stage, int64_t now_ms, int max_active, sdra_error *err);
/* SDRA_ENOTFOUND when there is no such call in org (NULL: any). */
int sdra_store_call_get(sdra_store *s, const char *org, const char *id, sdra_store_call *out, sdra_error *err);
/* Newest first, org's calls only (NULL: any); status NULL = any. out must hold limit
 * entries; release each. */
int sdra_store_call_list(sdra_store *s, const char *org, const char *status, int offset, int limit,
                         sdra_store_call *out, int *n_out, sdra_error *err);
/* Removes the call and every row that refers to it. SDRA_ENOTFOUND when absent from org. */
int sdra_store_call_delete(sdra_store *s, const char *org, const char *id, sdra_error *err);
/* Queues the call's dead jobs again with attempts reset. SDRA_ENOTFOUND when absent from org,
 * SDRA_EINVAL when nothing is dead. */
int sdra_store_call_retry(sdra_store *s, const char *org, const char *id, int64_t now_ms, sdra_error *err);
/* Calls queued or running in org (NULL: in all). */
int sdra_store_count_active(sdra_store *s, const char *org, int *n_out, sdra_error *err);

/* Claims the oldest runnable job of stage: queued with run_after <= now, or running with an
 * expired lease (a dead worker's; such a job that already had max_attempts goes dead
 * instead). Sets owner and lease expiry, counts an attempt. SDRA_ENOTFOUND when none. */
int sdra_store_job_claim(sdra_store *s, int stage, const char *owner, int64_t now_ms,
                         int64_t lease_ms, int max_attempts, sdra_store_job *out, sdra_error *err);
/* Extends the lease. SDRA_EEXISTS when the job is no longer held by job->lease_owner. */
int sdra_store_job_heartbeat(sdra_store *s, const sdra_store_job *job, int64_t now_ms,
                             int64_t lease_ms, sdra_error *err);
/* One transaction: records the artifacts (replacing same-named ones), marks the job done and
 * queues next_stage (or, when next_stage < 0, marks the call done). SDRA_EEXISTS when the
 * lease was lost (nothing changes). */
int sdra_store_job_complete(sdra_store *s, const sdra_store_job *job, const sdra_store_artifact *arts,
                            int n_arts, int next_stage, int64_t now_ms, sdra_error *err);
/* Records a failure: back to queued at retry_at_ms when retryable and attempts < max_attempts,
 * else dead (and the call failed). SDRA_EEXISTS when the lease was lost. */
int sdra_store_job_fail(sdra_store *s, const sdra_store_job *job, const char *msg, bool retryable,
                        int64_t retry_at_ms, int max_attempts, int64_t now_ms, sdra_error *err);
/* The call's jobs in stage order (none when the call is not in org). */
int sdra_store_job_list(sdra_store *s, const char *org, const char *call_id, sdra_store_job *out, int max,
                        int *n_out, sdra_error *err);
/* counts[stage][state] for stages 0..n_stages-1 (zeroed first). */
int sdra_store_job_counts(sdra_store *s, int n_stages, int (*counts)[SDRA_N_JOB_STATES],
                          sdra_error *err);
/* oldest_ms[stage] = queued_ms of the stage's oldest job in state queued (whatever its
 * run_after), 0 when none is queued, for stages 0..n_stages-1 (zeroed first). The job
 * table's columns that autoscalers query directly are documented in docs/deploy.md. */
int sdra_store_queue_oldest(sdra_store *s, int n_stages, int64_t *oldest_ms, sdra_error *err);
/* A call's artifacts: SDRA_ENOTFOUND (_get) or none (_list) when the call is not in org. */
int sdra_store_artifact_get(sdra_store *s, const char *org, const char *call_id, const char *name,
                            sdra_store_artifact *out, sdra_error *err);
int sdra_store_artifact_list(sdra_store *s, const char *org, const char *call_id, sdra_store_artifact *out,
                             int max, int *n_out, sdra_error *err);

/* API keys: SDRA_EEXISTS for a duplicate id or name; _get SDRA_ENOTFOUND; _revoke by id or
 * name, SDRA_ENOTFOUND when no valid key matches. */
int sdra_store_key_insert(sdra_store *s, const sdra_store_key *k, sdra_error *err);
int sdra_store_key_get(sdra_store *s, const char *id, sdra_store_key *out, sdra_error *err);
int sdra_store_key_list(sdra_store *s, sdra_store_key *out, int max, int *n_out, sdra_error *err);
int sdra_store_key_revoke(sdra_store *s, const char *id_or_name, int64_t now_ms, sdra_error *err);
/* Removes the key row (by id or name; revoked or not); id_out (SDRA_STORE_ID_MAX, may be NULL)
 * gets its id. SDRA_ENOTFOUND when none matches. */
int sdra_store_key_delete(sdra_store *s, const char *id_or_name, char *id_out, sdra_error *err);

/* Audit log: who (key id) did what (action) to which target (call id), from where (ip).
 * _append fills e->id, e->prev_hash and e->hash; appends are serialised (one writer
 * transaction reads the chain's head and inserts), so the chain never forks. A failed append
 * changes nothing and must fail the audited operation. _add is _append without ip/detail.
 * Text fields longer than their buffers are SDRA_EINVAL, never truncated silently. */
int sdra_store_audit_append(sdra_store *s, sdra_store_audit_entry *e, sdra_error *err);
int sdra_store_audit_add(sdra_store *s, int64_t now_ms, const char *actor, const char *action,
                         const char *target, sdra_error *err);
int sdra_store_audit_count(sdra_store *s, const char *target, int *n_out, sdra_error *err);
/* At most max entries matching f (NULL: all), newest first unless f->oldest_first. */
int sdra_store_audit_query(sdra_store *s, const sdra_store_audit_filter *f, sdra_store_audit_entry *out,
                           int max, int *n_out, sdra_error *err);
/* hex = SHA-256(prev_hash || serialisation of id, at_ms, actor, action, target, ip, detail),
 * each field written as its decimal length, ':', the bytes and ',' (unambiguous); for
 * hash_v 2 (every entry written since organisations) a different tag and org after detail. */
void sdra_store_audit_hash(const sdra_store_audit_entry *e, const char *prev_hash, char hex[65]);
/* Recomputes the whole chain, oldest first. 0 with *n_out entries when intact; SDRA_EIO
 * with *bad_id the first entry whose prev_hash or hash does not match (changed, removed or
 * inserted entries) and err naming it. */
int sdra_store_audit_verify(sdra_store *s, int64_t *n_out, int64_t *bad_id, sdra_error *err);

/* Outbox for external side effects: _put records one under its idempotency key (a second put
 * with the same key changes nothing and returns 0); _claim leases the oldest pending one
 * (SDRA_ENOTFOUND when none); _done marks it performed. */
int sdra_store_outbox_put(sdra_store *s, const char *org, const char *key, const char *call_id,
                          const char *kind, const char *payload, int64_t now_ms, sdra_error *err);
int sdra_store_outbox_claim(sdra_store *s, const char *owner, int64_t now_ms, int64_t lease_ms,
                            sdra_store_outbox_item *out, sdra_error *err);
int sdra_store_outbox_done(sdra_store *s, const char *key, sdra_error *err);

/* Organisation quotas: _set records max_active and max_storage_bytes (0 = unlimited; negative
 * is SDRA_EINVAL) for name; _get fills *out with its quotas (0 when never set) and usage, for
 * any valid name; _list: every organisation that has quotas, keys or calls, by name. */
int sdra_store_org_set(sdra_store *s, const char *name, int max_active, int64_t max_storage_bytes, int64_t now_ms,
                       sdra_error *err);
int sdra_store_org_get(sdra_store *s, const char *name, sdra_store_org *out, sdra_error *err);
int sdra_store_org_list(sdra_store *s, sdra_store_org *out, int max, int *n_out, sdra_error *err);
/* Replaces a call's metadata document (when the server rewrites what it stored: the audio
 * after redaction). SDRA_ENOTFOUND for no such call in org (NULL: any), SDRA_EINVAL for a document over
 * SDRA_STORE_META_MAX; the old document stays on failure. */
int sdra_store_call_set_meta(sdra_store *s, const char *org, const char *id, const char *meta_json, sdra_error *err);
/* Encryption at rest (docs/security.md): each call's data key, wrapped by a master key, in
 * the table call_keys (id = the call id, or the name of a shared key such as "crm-fields").
 * Deleting the call deletes its row (sdra_store_call_delete), which shreds whatever its key
 * encrypted. _put fails with SDRA_EEXISTS when id has a key, unless replace (a key left by a
 * submission that never created its call); _get with SDRA_ENOTFOUND when
 * none (master_id needs SDRA_STORE_ID_MAX bytes, wrapped SDRA_STORE_WRAPPED_MAX); _rewrap
 * calls fn for every row and writes the results in one transaction (all or nothing). */
int sdra_store_data_key_put(sdra_store *s, const char *id, const char *master_id, const unsigned char *wrapped,
                            size_t n, bool replace, int64_t now_ms, sdra_error *err);
int sdra_store_data_key_get(sdra_store *s, const char *id, char *master_id, unsigned char *wrapped, size_t *n,
                            sdra_error *err);
int sdra_store_data_key_rewrap(sdra_store *s, sdra_store_rewrap_fn fn, void *user_data, int *n_out,
                               sdra_error *err);

/* Wall-clock milliseconds since the epoch. */
int64_t sdra_store_now_ms(void);

/* ---- data-subject rights and retention (issue 14; used by sdra/rights.h) -------------------
 * Subjects: a call is linked to the people on it by keyed hashes of their email addresses
 * ("subject tokens", 64 hex, computed by sdra_rights_token), never by the address, per
 * organisation. A person's audit entries carry a random pseudonym ("s-" + 16 hex) that only the
 * subject_pseudonyms row links to their token: forgetting the subject deletes that row and the
 * call links, after which nothing in the store ties the entries or the token to the person. */
#define SDRA_STORE_ORG_MAX SDRA_STORE_ID_MAX
#define SDRA_STORE_TOKEN_HEX 64

/* An organisation's retention and consent policy. Ages in days from the call's creation;
 * 0 keeps forever. crm_days: CRM rows a call wrote (not the contact) are forgotten after it. */
typedef struct sdra_store_policy {
    char org[SDRA_STORE_ORG_MAX];
    int audio_days, transcript_days, analysis_days, email_days, call_days, crm_days;
    bool require_consent;          /* refuse calls without consent obtained or not_required */
    int64_t updated_ms;            /* 0: never set (every field at its default) */
} sdra_store_policy;

/* Links call_id to a subject token in org (a second add of the same link changes nothing).
 * The links go with the call in sdra_store_call_delete. */
int sdra_store_subject_add(sdra_store *s, const char *call_id, const char *org, const char *token, sdra_error *err);
/* The ids of the calls linked to token in org (at most max, oldest link first). */
int sdra_store_subject_calls(sdra_store *s, const char *org, const char *token, char (*ids)[SDRA_STORE_ID_MAX],
                             int max, int *n_out, sdra_error *err);
/* The subject's pseudonym into out: the stored one, else candidate is stored and returned;
 * candidate NULL only looks it up (SDRA_ENOTFOUND when there is none). */
int sdra_store_subject_pseudonym(sdra_store *s, const char *org, const char *token, const char *candidate,
                                 int64_t now_ms, char out[SDRA_STORE_ID_MAX], sdra_error *err);
/* Deletes the subject's call links and pseudonym (one transaction); *n_out (may be NULL) gets
 * the rows removed. Idempotent: 0 rows is success. */
int sdra_store_subject_forget(sdra_store *s, const char *org, const char *token, int *n_out, sdra_error *err);
/* The org's policy; an org without one gets the defaults (everything kept, consent not
 * required, updated_ms 0). _put replaces it whole; negative days are SDRA_EINVAL. */
int sdra_store_policy_get(sdra_store *s, const char *org, sdra_store_policy *out, sdra_error *err);
int sdra_store_policy_put(sdra_store *s, const sdra_store_policy *p, int64_t now_ms, sdra_error *err);
/* The call's outbox entries (any state), oldest first; release each. */
int sdra_store_outbox_list(sdra_store *s, const char *call_id, sdra_store_outbox_item *out, int max, int *n_out,
                           sdra_error *err);
/* Removes one artifact row (the file is the caller's). SDRA_ENOTFOUND when absent. */
int sdra_store_artifact_delete(sdra_store *s, const char *call_id, const char *name, sdra_error *err);
/* Copies the write-ahead log into the database and truncates it, so erased rows leave no old
 * page images behind. SDRA_ERETRY when a reader kept it from finishing. */
int sdra_store_checkpoint(sdra_store *s, sdra_error *err);

/* ---- the outbox life cycle (issue 13; used by sdra/outbox.h) --------------------------------
 * An entry is one external effect (a CRM sync, an email, a webhook) under its idempotency key:
 *   queued -> running (claimed with a lease) -> done (with the remote id)
 *                                            -> queued again at next_attempt (retryable failure)
 *                                            -> dead (permanent failure; _retry queues it again)
 *                                            -> held (the worker cannot tell whether a cut-off
 *                                               attempt arrived: a person decides)
 *   held (review policy) -> queued by _approve;  queued or held -> canceled by _cancel.
 * A running entry whose lease expired (its worker died) is claimed again with resumed set. */

/* Records e (org and key required, state queued/held/canceled). A second add with the same key
 * changes nothing and returns 0. SDRA_EINVAL for a bad org, key, kind or state. */
int sdra_store_outbox_add(sdra_store *s, const sdra_store_outbox_new *e, int64_t now_ms, sdra_error *err);
/* SDRA_ENOTFOUND when there is no entry key in org (NULL: any). Release *out. */
int sdra_store_outbox_get(sdra_store *s, const char *org, const char *key, sdra_store_outbox_item *out,
                          sdra_error *err);
/* Entries matching f (NULL: all), oldest first, at most max; release each. */
int sdra_store_outbox_query(sdra_store *s, const sdra_store_outbox_filter *f, sdra_store_outbox_item *out, int max,
                            int *n_out, sdra_error *err);
/* Approve (held -> queued, due at once or at send_at), retry (dead -> queued, attempts reset,
 * due now), cancel (queued or held -> canceled). SDRA_ENOTFOUND when not in org, SDRA_EEXISTS
 * with a one-line reason when the entry is in a state the verb does not apply to. */
int sdra_store_outbox_change(sdra_store *s, const char *org, const char *key, sdra_outbox_verb verb, int64_t now_ms,
                             sdra_error *err);
int sdra_store_outbox_approve(sdra_store *s, const char *org, const char *key, int64_t now_ms, sdra_error *err);
int sdra_store_outbox_retry(sdra_store *s, const char *org, const char *key, int64_t now_ms, sdra_error *err);
int sdra_store_outbox_cancel(sdra_store *s, const char *org, const char *key, int64_t now_ms, sdra_error *err);
/* The claimed entry it (key and lease_owner as _claim filled them) was performed: done with
 * remote_id (may be NULL). SDRA_EEXISTS when the lease was lost (nothing changes). */
int sdra_store_outbox_finish(sdra_store *s, const sdra_store_outbox_item *it, const char *remote_id, int64_t now_ms,
                             sdra_error *err);
/* The claimed entry failed with msg (one line): next_state SDRA_JOB_QUEUED retries at
 * retry_at_ms, SDRA_JOB_DEAD gives up, SDRA_OUTBOX_HELD waits for a person. SDRA_EEXISTS when
 * the lease was lost. */
int sdra_store_outbox_fail(sdra_store *s, const sdra_store_outbox_item *it, const char *msg, int next_state,
                           int64_t retry_at_ms, int64_t now_ms, sdra_error *err);
/* sdra_store_job_complete and sdra_store_job_fail that also record the effects fx[0..n_fx)
 * (sdra_store_outbox_add) in the same transaction: a stage's outcome and the effects it causes
 * are committed together or not at all. */
int sdra_store_job_complete_fx(sdra_store *s, const sdra_store_job *job, const sdra_store_artifact *arts, int n_arts,
                               int next_stage, const sdra_store_outbox_new *fx, int n_fx, int64_t now_ms,
                               sdra_error *err);
int sdra_store_job_fail_fx(sdra_store *s, const sdra_store_job *job, const char *msg, bool retryable,
                           int64_t retry_at_ms, int max_attempts, const sdra_store_outbox_new *fx, int n_fx,
                           int64_t now_ms, sdra_error *err);

/* ---- full-text search of calls (the web app's calls list; docs/web.md) ----------------
 * One search row per call, replaced whole by each put and removed with the call. The terms are
 * what the caller chooses to index: words separated by spaces (the server indexes the
 * lower-cased words of the transcript, contact and company, or their keyed hashes when the
 * call is encrypted at rest, so the index holds no plaintext). outcome and objections are
 * category names (analysis.json), day "YYYY-MM-DD" (the call's date). */
#define SDRA_STORE_SEARCH_TERMS_MAX (1u << 20) /* bytes of terms per call */
#define SDRA_STORE_SEARCH_QUERY_TERMS 16       /* terms per query */
typedef struct sdra_store_search_doc {
    const char *people;     /* contact and company terms */
    const char *words;      /* the words said */
    const char *outcome;    /* "" or NULL: unknown */
    const char *objections; /* objection types, space separated */
    const char *day;        /* "YYYY-MM-DD", or NULL */
} sdra_store_search_doc;
typedef struct sdra_store_search_query {
    const char *terms;     /* space-separated terms, all of which must occur (people or words); NULL: any */
    const char *outcome;   /* NULL: any */
    const char *objection; /* an objection type the call has; NULL: any */
    const char *from_day, *to_day; /* inclusive "YYYY-MM-DD" bounds; NULL: open */
    const char *status;    /* the call's status; NULL: any */
} sdra_store_search_query;
/* Replaces call_id's search row (org's). SDRA_EINVAL for terms over SDRA_STORE_SEARCH_TERMS_MAX,
 * SDRA_EUNSUPPORTED when the backend has no search. */
int sdra_store_search_put(sdra_store *s, const char *org, const char *call_id, const sdra_store_search_doc *d,
                          sdra_error *err);
/* Like sdra_store_call_list, but only the calls whose search row matches q (every field set);
 * newest first. A term is a word of letters, digits, '_' and '-' (others are refused with
 * SDRA_EINVAL, as are more than SDRA_STORE_SEARCH_QUERY_TERMS terms or a malformed day). */
int sdra_store_call_search(sdra_store *s, const char *org, const sdra_store_search_query *q, int offset, int limit,
                           sdra_store_call *out, int *n_out, sdra_error *err);
/* Up to max finished calls (done or failed, any organisation) that have no search row and whose
 * id sorts after after_id ("" or NULL: from the first), by id: what a backfill of the index
 * still has to do. Fills id, org and status of out[] (meta_json stays NULL). Paging by id ends
 * even when a call cannot be indexed. SDRA_EUNSUPPORTED when the backend has no search. */
int sdra_store_search_missing(sdra_store *s, const char *after_id, sdra_store_call *out, int max, int *n_out,
                              sdra_error *err);

/* Approves a held entry with a person's choices (the web app's email review): held -> queued as
 * sdra_store_outbox_approve does, and then send_at_ms >= 0 replaces its send_at (0: at once,
 * -1: kept) and payload, when not NULL, replaces its payload (an email's delivery mode). All or
 * nothing; the same errors as sdra_store_outbox_approve (SDRA_EEXISTS when it is not held).
 * SDRA_EUNSUPPORTED when the backend has no such operation. */
int sdra_store_outbox_approve_as(sdra_store *s, const char *org, const char *key, int64_t send_at_ms,
                                 const char *payload, int64_t now_ms, sdra_error *err);

/* ---- waiting for work (workers; issue 15) ---------------------------------------------------
 * Returns 0 as soon as work may be available (PostgreSQL: a NOTIFY sent when a job or an
 * outbox entry is queued or requeued, by any process), SDRA_ETIMEOUT after timeout_ms without
 * one. A backend without notifications (SQLite) sleeps timeout_ms and answers SDRA_ETIMEOUT,
 * so the caller's loop is the same for every backend: wait, then claim until
 * SDRA_ENOTFOUND; the timeout is the polling fallback. Other negative codes (SDRA_ERETRY: the
 * listen connection was lost) mean "poll now and call again". Notices that arrive between
 * two calls are kept, so none is lost once the first call has returned. */
int sdra_store_wait_work(sdra_store *s, int timeout_ms, sdra_error *err);

#ifdef __cplusplus
}
#endif
#endif
