/*
 * sqlite.c - the embedded job store backend: one SQLite database file in WAL mode (synchronous
 * FULL, so a committed transaction survives kill -9 and power loss), implementing
 * sdra_store_ops. Writes are serialised on one connection behind a mutex and run as
 * BEGIN IMMEDIATE transactions (a claim is "select the oldest runnable job, conditionally
 * update it"; PostgreSQL will use FOR UPDATE SKIP LOCKED); reads use a small pool of read
 * connections so that API reads do not wait behind a commit. The SQL is kept portable
 * (standard types, ON CONFLICT upserts, LIMIT/OFFSET) so the PostgreSQL backend can reuse it.
 */
#include "sdra/store.h"
#include "internal.h"
#include "sdra/buf.h"
#include "sdra/log.h"
#include "sdra/sqlite_util.h"
#include "sdra/util.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_READERS 4 /* read connections, opened as concurrency needs them (more only add WAL read-mark contention) */

#define STMT_CACHE 16

/* A connection with its mutex and a cache of prepared statements keyed by the address of
 * their SQL (string literals only), so hot reads skip the SQL compiler. */
typedef struct conn {
    sqlite3 *db;
    pthread_mutex_t mu;
    struct {
        const char *sql;
        sqlite3_stmt *st;
    } cache[STMT_CACHE];
    int n_cache;
} conn;

typedef struct sq_store {
    sdra_store base;
    char *path;
    conn wr;
    conn *rd[MAX_READERS];     /* every read connection opened */
    int n_rd;
    conn *idle[MAX_READERS];   /* those not in use */
    int n_idle;
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    /* audit appends waiting to be written (group commit: one thread writes every waiting
     * entry in one transaction, so concurrent requests share one fsync; internal.h) */
    store_audit_queue aq;
} sq_store;

static const char *SCHEMA =
    "CREATE TABLE IF NOT EXISTS calls ("
    " id VARCHAR(64) PRIMARY KEY, status VARCHAR(16) NOT NULL, meta TEXT NOT NULL,"
    " created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS calls_by_status ON calls (status, created_ms);"
    "CREATE INDEX IF NOT EXISTS calls_by_created ON calls (created_ms);"
    "CREATE TABLE IF NOT EXISTS jobs ("
    " call_id VARCHAR(64) NOT NULL, stage INTEGER NOT NULL, state VARCHAR(16) NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, run_after_ms BIGINT NOT NULL,"
    " lease_owner VARCHAR(64), lease_expires_ms BIGINT NOT NULL DEFAULT 0,"
    " queued_ms BIGINT NOT NULL, started_ms BIGINT NOT NULL DEFAULT 0,"
    " finished_ms BIGINT NOT NULL DEFAULT 0, last_error TEXT,"
    " PRIMARY KEY (call_id, stage));"
    "CREATE INDEX IF NOT EXISTS jobs_runnable ON jobs (stage, state, run_after_ms);"
    "CREATE TABLE IF NOT EXISTS artifacts ("
    " call_id VARCHAR(64) NOT NULL, name VARCHAR(64) NOT NULL, stage INTEGER NOT NULL,"
    " path TEXT NOT NULL, sha256 VARCHAR(64) NOT NULL, size_bytes BIGINT NOT NULL,"
    " created_ms BIGINT NOT NULL, PRIMARY KEY (call_id, name));"
    "CREATE TABLE IF NOT EXISTS outbox ("
    " idem_key VARCHAR(128) PRIMARY KEY, call_id VARCHAR(64) NOT NULL, kind VARCHAR(32) NOT NULL,"
    " payload TEXT NOT NULL, state VARCHAR(16) NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " lease_owner VARCHAR(64), lease_expires_ms BIGINT NOT NULL DEFAULT 0,"
    " created_ms BIGINT NOT NULL, done_ms BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS api_keys ("
    " id VARCHAR(64) PRIMARY KEY, name VARCHAR(128) NOT NULL UNIQUE, scope VARCHAR(16) NOT NULL,"
    " hash VARCHAR(128) NOT NULL, created_ms BIGINT NOT NULL, revoked_ms BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS audit_log ("
    " id INTEGER PRIMARY KEY, at_ms BIGINT NOT NULL, actor VARCHAR(64) NOT NULL,"
    " action VARCHAR(64) NOT NULL, target VARCHAR(64) NOT NULL);"
    "CREATE INDEX IF NOT EXISTS audit_by_target ON audit_log (target);";

/* Columns added to audit_log after the first release (the hash chain, finding 8): added by
 * ALTER TABLE when an older database lacks them, then its existing rows are chained. */
static const struct {
    const char *name, *ddl;
} AUDIT_COLUMNS[] = {
    {"ip", "ALTER TABLE audit_log ADD COLUMN ip VARCHAR(64) NOT NULL DEFAULT ''"},
    {"detail", "ALTER TABLE audit_log ADD COLUMN detail TEXT NOT NULL DEFAULT ''"},
    {"prev_hash", "ALTER TABLE audit_log ADD COLUMN prev_hash VARCHAR(64)"},
    {"hash", "ALTER TABLE audit_log ADD COLUMN hash VARCHAR(64)"},
};

/* Columns added for organisations (tenants, issue 14): every row from before them belongs to
 * the organisation "default"; audit entries written before are hashed without their
 * organisation (hash_v 1), those written after with it (hash_v 2). calls.audio_bytes: the
 * stored audio's size, counted in the organisation's storage with its artifacts. */
static const struct {
    const char *table, *name, *ddl;
} ORG_COLUMNS[] = {
    {"api_keys", "org", "ALTER TABLE api_keys ADD COLUMN org VARCHAR(64) NOT NULL DEFAULT 'default'"},
    {"calls", "org", "ALTER TABLE calls ADD COLUMN org VARCHAR(64) NOT NULL DEFAULT 'default'"},
    {"calls", "audio_bytes", "ALTER TABLE calls ADD COLUMN audio_bytes BIGINT NOT NULL DEFAULT 0"},
    {"outbox", "org", "ALTER TABLE outbox ADD COLUMN org VARCHAR(64) NOT NULL DEFAULT 'default'"},
    {"audit_log", "org", "ALTER TABLE audit_log ADD COLUMN org VARCHAR(64) NOT NULL DEFAULT 'default'"},
    {"audit_log", "hash_v", "ALTER TABLE audit_log ADD COLUMN hash_v INTEGER NOT NULL DEFAULT 1"},
};

static const char *ORG_SCHEMA =
    "CREATE TABLE IF NOT EXISTS orgs ("
    " name VARCHAR(64) PRIMARY KEY, max_active INTEGER NOT NULL DEFAULT 0,"
    " max_storage_bytes BIGINT NOT NULL DEFAULT 0, updated_ms BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS calls_by_org ON calls (org, created_ms);"
    "CREATE INDEX IF NOT EXISTS api_keys_by_org ON api_keys (org);";

/* The shared SQLite helpers (sdra/sqlite_util.h) under this file's short names. */
#define code_from_sqlite(rc) sdra_sqlite_code(rc)
#define bind_v(st, fmt, ap) sdra_sqlite_bind(st, fmt, ap)
#define prep(...) sdra_sqlite_prepare(__VA_ARGS__)
#define exec(...) sdra_sqlite_exec(__VA_ARGS__)
#define query_int64(...) sdra_sqlite_int64(__VA_ARGS__)

static int db_fail(sqlite3 *db, int rc, sdra_error *err, const char *what)
{
    return sdra_sqlite_fail(db, rc, err, "store", what);
}

/* prep() through the connection's statement cache; sql must be a string literal. Release the
 * statement with cdone(), never sqlite3_finalize(). */
static int cprep(conn *c, sqlite3_stmt **st, sdra_error *err, const char *sql, const char *fmt, ...)
{
    *st = NULL;
    for (int i = 0; i < c->n_cache; i++)
        if (c->cache[i].sql == sql) {
            *st = c->cache[i].st;
            sqlite3_clear_bindings(*st);
            break;
        }
    if (!*st) {
        int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
        if (rc != SQLITE_OK)
            return db_fail(c->db, rc, err, "prepare");
        if (c->n_cache < STMT_CACHE) {
            c->cache[c->n_cache].sql = sql;
            c->cache[c->n_cache++].st = *st;
        }
    }
    va_list ap;
    va_start(ap, fmt);
    int rc = bind_v(*st, fmt, ap);
    va_end(ap);
    if (rc != SQLITE_OK) {
        int code = db_fail(c->db, rc, err, "bind");
        sqlite3_reset(*st);
        *st = NULL;
        return code;
    }
    return 0;
}

/* Resets a cached statement (ending its read transaction) or finalizes an uncached one. */
static void cdone(conn *c, sqlite3_stmt *st)
{
    if (!st)
        return;
    for (int i = 0; i < c->n_cache; i++)
        if (c->cache[i].st == st) {
            sqlite3_reset(st);
            return;
        }
    sqlite3_finalize(st);
}

static void col_text(sqlite3_stmt *st, int i, char *out, size_t n)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    sdra_strlcpy(out, t ? (const char *)t : "", n);
}

static sq_store *SQ(sdra_store *s) { return (sq_store *)s; }

static sqlite3 *wr_lock(sdra_store *s)
{
    pthread_mutex_lock(&SQ(s)->wr.mu);
    return SQ(s)->wr.db;
}

static void wr_unlock(sdra_store *s) { pthread_mutex_unlock(&SQ(s)->wr.mu); }

static int open_conn(conn *c, const char *path, int readonly, sdra_error *err);

/* Takes an idle read connection, opening another while fewer than MAX_READERS exist, else
 * waits for one (a condition variable, so a reader descheduled mid-query does not make the
 * others spin on its mutex). */
static conn *rd_lock(sdra_store *s)
{
    sq_store *q = SQ(s);
    pthread_mutex_lock(&q->pool_mu);
    for (;;) {
        if (q->n_idle > 0) {
            conn *c = q->idle[--q->n_idle];
            pthread_mutex_unlock(&q->pool_mu);
            return c;
        }
        if (q->n_rd < MAX_READERS) {
            conn *c = calloc(1, sizeof *c);
            if (c && open_conn(c, q->path, 1, NULL) == 0) {
                q->rd[q->n_rd++] = c;
                pthread_mutex_unlock(&q->pool_mu);
                return c;
            }
            free(c);
            if (q->n_rd == 0) { /* cannot happen: one is opened with the store */
                pthread_mutex_unlock(&q->pool_mu);
                return NULL;
            }
        }
        pthread_cond_wait(&q->pool_cv, &q->pool_mu);
    }
}

static void rd_unlock(sdra_store *s, conn *c)
{
    sq_store *q = SQ(s);
    pthread_mutex_lock(&q->pool_mu);
    q->idle[q->n_idle++] = c;
    pthread_cond_signal(&q->pool_cv);
    pthread_mutex_unlock(&q->pool_mu);
}

static int begin(sqlite3 *db, sdra_error *err)
{
    int rc = exec(db, err, "BEGIN IMMEDIATE", NULL);
    return rc < 0 ? rc : 0;
}

static int commit(sqlite3 *db, sdra_error *err)
{
    int rc = exec(db, err, "COMMIT", NULL);
    if (rc < 0) {
        exec(db, NULL, "ROLLBACK", NULL);
        return rc;
    }
    return 0;
}

static void rollback(sqlite3 *db) { exec(db, NULL, "ROLLBACK", NULL); }

/* ---- calls --------------------------------------------------------------------------- */

/* Inside call_create's transaction: SDRA_ELIMIT when the organisation's quotas leave no room
 * for another call with audio_bytes of audio. */
static int org_admit(sqlite3 *db, const char *org, int64_t audio_bytes, sdra_error *err);

static int sq_call_create(sdra_store *s, const char *org, const char *id, const char *meta, int64_t audio_bytes,
                          int first_stage, int64_t now, int max_active, sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int rc = begin(db, err);
    if (rc < 0)
        goto done;
    if (max_active > 0) {
        int64_t n = 0;
        if ((rc = query_int64(db, &n, NULL, err,
                              "SELECT COUNT(*) FROM calls WHERE status IN ('queued','running')", NULL)) < 0)
            goto fail;
        if (n >= max_active) {
            rc = sdra_error_set(err, SDRA_ELIMIT, "queue full: %lld calls waiting or running", (long long)n);
            goto fail;
        }
    }
    if ((rc = org_admit(db, org, audio_bytes, err)) < 0)
        goto fail;
    rc = exec(db, err,
              "INSERT INTO calls (id, status, meta, created_ms, updated_ms, org, audio_bytes)"
              " VALUES (?, 'queued', ?, ?, ?, ?, ?)",
              "ssllsl", id, meta, now, now, org, audio_bytes);
    if (rc < 0) {
        if (rc == SDRA_EEXISTS)
            sdra_error_set(err, SDRA_EEXISTS, "call %s already exists", id);
        goto fail;
    }
    rc = exec(db, err,
              "INSERT INTO jobs (call_id, stage, state, attempts, run_after_ms, queued_ms)"
              " VALUES (?, ?, 'queued', 0, ?, ?)",
              "sill", id, first_stage, now, now);
    if (rc < 0)
        goto fail;
    rc = commit(db, err);
    goto done;
fail:
    rollback(db);
done:
    wr_unlock(s);
    return rc < 0 ? rc : 0;
}

static void row_to_call(sqlite3_stmt *st, sdra_store_call *c)
{
    col_text(st, 0, c->id, sizeof c->id);
    col_text(st, 1, c->status, sizeof c->status);
    const unsigned char *m = sqlite3_column_text(st, 2);
    c->meta_json = strdup(m ? (const char *)m : "{}");
    c->created_ms = sqlite3_column_int64(st, 3);
    c->updated_ms = sqlite3_column_int64(st, 4);
    col_text(st, 5, c->org, sizeof c->org);
    c->audio_bytes = sqlite3_column_int64(st, 6);
}

#define CALL_COLS "SELECT id, status, meta, created_ms, updated_ms, org, audio_bytes FROM calls "

static int sq_call_get(sdra_store *s, const char *org, const char *id, sdra_store_call *out, sdra_error *err)
{
    conn *c = rd_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = cprep(c, &st, err, CALL_COLS "WHERE id = ?1 AND (?2 IS NULL OR org = ?2)", "ss", id, org);
    if (rc < 0)
        goto done;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        row_to_call(st, out);
        if (!out->meta_json)
            rc = sdra_error_set(err, SDRA_ENOMEM, "store: out of memory");
    } else if (r == SQLITE_DONE) {
        rc = sdra_error_set(err, SDRA_ENOTFOUND, "call %s not found", id);
    } else {
        rc = db_fail(c->db, r, err, "call get");
    }
done:
    cdone(c, st);
    rd_unlock(s, c);
    return rc;
}

static int sq_call_list(sdra_store *s, const char *org, const char *status, int offset, int limit,
                        sdra_store_call *out, int *n_out, sdra_error *err)
{
    conn *c = rd_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = status ? prep(c->db, &st, err,
                           CALL_COLS "WHERE status = ?1 AND (?2 IS NULL OR org = ?2)"
                           " ORDER BY created_ms DESC, id LIMIT ?3 OFFSET ?4",
                           "ssii", status, org, limit, offset)
                    : prep(c->db, &st, err,
                           CALL_COLS "WHERE (?1 IS NULL OR org = ?1)"
                           " ORDER BY created_ms DESC, id LIMIT ?2 OFFSET ?3",
                           "sii", org, limit, offset);
    if (rc < 0)
        goto done;
    int r = SQLITE_DONE; /* the loop may not step: read only when it did */
    while (*n_out < limit && (r = sqlite3_step(st)) == SQLITE_ROW)
        row_to_call(st, &out[(*n_out)++]);
    if (*n_out < limit && r != SQLITE_DONE)
        rc = db_fail(c->db, r, err, "call list");
done:
    sqlite3_finalize(st);
    rd_unlock(s, c);
    return rc;
}

static int sq_call_delete(sdra_store *s, const char *org, const char *id, sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int rc = begin(db, err);
    if (rc < 0)
        goto done;
    if ((rc = exec(db, err, "DELETE FROM calls WHERE id = ?1 AND (?2 IS NULL OR org = ?2)", "ss", id, org)) < 0)
        goto fail;
    if (rc == 0) {
        rc = sdra_error_set(err, SDRA_ENOTFOUND, "call %s not found", id);
        goto fail;
    }
    if ((rc = exec(db, err, "DELETE FROM jobs WHERE call_id = ?", "s", id)) < 0 ||
        (rc = exec(db, err, "DELETE FROM artifacts WHERE call_id = ?", "s", id)) < 0 ||
        (rc = exec(db, err, "DELETE FROM outbox WHERE call_id = ?", "s", id)) < 0 ||
        (rc = exec(db, err, "DELETE FROM call_subjects WHERE call_id = ?", "s", id)) < 0 ||
        (rc = exec(db, err, "DELETE FROM call_keys WHERE id = ?", "s", id)) < 0 || /* crypto-shredding */
        (rc = exec(db, err, "DELETE FROM call_search WHERE call_id = ?", "s", id)) < 0)
        goto fail;
    if ((rc = commit(db, err)) < 0)
        goto done;
    /* The erased rows' old page images stay in the WAL until a checkpoint copies the zeroed
     * pages back; TRUNCATE also empties the WAL file. A reader still inside a transaction
     * makes it give up (SQLITE_BUSY): the next erase or the automatic checkpoints finish it. */
    int ck = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    if (ck != SQLITE_OK)
        sdra_log(SDRA_LOG_WARN, "call %s erased; WAL checkpoint incomplete: %s", id, sqlite3_errstr(ck));
    goto done;
fail:
    rollback(db);
done:
    wr_unlock(s);
    return rc < 0 ? rc : 0;
}

static const char *SET_STATUS_FROM_JOBS =
    "UPDATE calls SET updated_ms = ?, status = CASE"
    " WHEN EXISTS (SELECT 1 FROM jobs WHERE call_id = ? AND state = 'dead') THEN 'failed'"
    " WHEN EXISTS (SELECT 1 FROM jobs WHERE call_id = ? AND (state = 'running' OR state = 'done'))"
    "  THEN 'running' ELSE 'queued' END WHERE id = ?";

static int sq_call_retry(sdra_store *s, const char *org, const char *id, int64_t now, sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int64_t one;
    int found;
    int rc = begin(db, err);
    if (rc < 0)
        goto done;
    if ((rc = query_int64(db, &one, &found, err, "SELECT 1 FROM calls WHERE id = ?1 AND (?2 IS NULL OR org = ?2)",
                          "ss", id, org)) < 0)
        goto fail;
    if (!found) {
        rc = sdra_error_set(err, SDRA_ENOTFOUND, "call %s not found", id);
        goto fail;
    }
    if ((rc = exec(db, err,
                   "UPDATE jobs SET state = 'queued', attempts = 0, run_after_ms = ?, queued_ms = ?,"
                   " lease_owner = NULL, lease_expires_ms = 0, finished_ms = 0"
                   " WHERE call_id = ? AND state = 'dead'",
                   "lls", now, now, id)) < 0)
        goto fail;
    if (rc == 0) {
        rc = found ? sdra_error_set(err, SDRA_EINVAL, "call %s has no failed job to retry", id)
                   : sdra_error_set(err, SDRA_ENOTFOUND, "call %s not found", id);
        goto fail;
    }
    if ((rc = exec(db, err, SET_STATUS_FROM_JOBS, "lsss", now, id, id, id)) < 0)
        goto fail;
    rc = commit(db, err);
    goto done;
fail:
    rollback(db);
done:
    wr_unlock(s);
    return rc < 0 ? rc : 0;
}

static int sq_count_active(sdra_store *s, const char *org, int *n_out, sdra_error *err)
{
    conn *c = rd_lock(s);
    int64_t n = 0;
    int rc = query_int64(c->db, &n, NULL, err,
                         "SELECT COUNT(*) FROM calls WHERE status IN ('queued','running') AND (?1 IS NULL OR org = ?1)",
                         "s", org);
    rd_unlock(s, c);
    *n_out = (int)n;
    return rc;
}

/* ---- jobs ---------------------------------------------------------------------------- */

#define JOB_COLS                                                                             \
    "SELECT call_id, stage, state, attempts, run_after_ms, lease_owner, lease_expires_ms,"    \
    " queued_ms, started_ms, finished_ms, last_error FROM jobs "

static void row_to_job(sqlite3_stmt *st, sdra_store_job *j)
{
    char state[SDRA_STORE_STATE_MAX];
    col_text(st, 0, j->call_id, sizeof j->call_id);
    j->stage = sqlite3_column_int(st, 1);
    col_text(st, 2, state, sizeof state);
    j->state = sdra_job_state_parse(state);
    j->attempts = sqlite3_column_int(st, 3);
    j->run_after_ms = sqlite3_column_int64(st, 4);
    col_text(st, 5, j->lease_owner, sizeof j->lease_owner);
    j->lease_expires_ms = sqlite3_column_int64(st, 6);
    j->queued_ms = sqlite3_column_int64(st, 7);
    j->started_ms = sqlite3_column_int64(st, 8);
    j->finished_ms = sqlite3_column_int64(st, 9);
    col_text(st, 10, j->last_error, sizeof j->last_error);
}

static int read_job(sqlite3 *db, const char *call_id, int stage, sdra_store_job *out, sdra_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(db, &st, err, JOB_COLS "WHERE call_id = ? AND stage = ?", "si", call_id, stage);
    if (rc < 0)
        return rc;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        row_to_job(st, out);
    else
        rc = r == SQLITE_DONE ? sdra_error_set(err, SDRA_ENOTFOUND, "job %s/%d not found", call_id, stage)
                              : db_fail(db, r, err, "job read");
    sqlite3_finalize(st);
    return rc;
}

static int sq_job_claim(sdra_store *s, int stage, const char *owner, int64_t now, int64_t lease_ms,
                        int max_attempts, sdra_store_job *out, sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    sqlite3_stmt *st = NULL;
    char call_id[SDRA_STORE_ID_MAX] = "";
    int rc = begin(db, err);
    if (rc < 0)
        goto done;
    /* A worker that died holding a job that already used all its attempts: the job is dead. */
    if ((rc = exec(db, err,
                   "UPDATE jobs SET state = 'dead', finished_ms = ?, lease_owner = NULL,"
                   " last_error = 'lease expired: the worker stopped during every attempt'"
                   " WHERE stage = ? AND state = 'running' AND lease_expires_ms < ? AND attempts >= ?",
                   "lili", now, stage, now, max_attempts)) < 0)
        goto fail;
    if (rc > 0 && (rc = exec(db, err,
                             "UPDATE calls SET status = 'failed', updated_ms = ? WHERE status <> 'failed'"
                             " AND id IN (SELECT call_id FROM jobs WHERE stage = ? AND state = 'dead')",
                             "li", now, stage)) < 0)
        goto fail;
    if ((rc = prep(db, &st, err,
                   "SELECT call_id FROM jobs WHERE stage = ? AND ((state = 'queued' AND run_after_ms <= ?)"
                   " OR (state = 'running' AND lease_expires_ms < ?)) ORDER BY run_after_ms, queued_ms LIMIT 1",
                   "ill", stage, now, now)) < 0)
        goto fail;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        col_text(st, 0, call_id, sizeof call_id);
    } else if (r != SQLITE_DONE) {
        rc = db_fail(db, r, err, "claim");
        goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (!call_id[0]) { /* the normal "nothing to do" (no message); keep any dead-lettering */
        rc = commit(db, err);
        if (rc == 0)
            rc = SDRA_ENOTFOUND;
        goto done;
    }
    if ((rc = exec(db, err,
                   "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ?,"
                   " lease_expires_ms = ?, started_ms = ? WHERE call_id = ? AND stage = ?",
                   "sllsi", owner, now + lease_ms, now, call_id, stage)) < 0)
        goto fail;
    if ((rc = exec(db, err, "UPDATE calls SET status = 'running', updated_ms = ? WHERE id = ? AND status = 'queued'",
                   "ls", now, call_id)) < 0)
        goto fail;
    if ((rc = read_job(db, call_id, stage, out, err)) < 0)
        goto fail;
    rc = commit(db, err);
    goto done;
fail:
    sqlite3_finalize(st);
    rollback(db);
done:
    wr_unlock(s);
    return rc < 0 ? rc : 0;
}

static int sq_job_heartbeat(sdra_store *s, const sdra_store_job *job, int64_t now, int64_t lease_ms,
                            sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int rc = exec(db, err,
                  "UPDATE jobs SET lease_expires_ms = ? WHERE call_id = ? AND stage = ?"
                  " AND state = 'running' AND lease_owner = ?",
                  "lsis", now + lease_ms, job->call_id, job->stage, job->lease_owner);
    wr_unlock(s);
    if (rc == 0)
        rc = sdra_error_set(err, SDRA_EEXISTS, "job %s/%d: lease lost", job->call_id, job->stage);
    return rc < 0 ? rc : 0;
}

static int fx_insert(sqlite3 *db, const sdra_store_outbox_new *fx, int n_fx, int64_t now, sdra_error *err);

static int sq_job_complete_fx(sdra_store *s, const sdra_store_job *job, const sdra_store_artifact *arts,
                              int n_arts, int next_stage, const sdra_store_outbox_new *fx, int n_fx, int64_t now,
                              sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int rc = begin(db, err);
    if (rc < 0)
        goto done;
    if ((rc = exec(db, err,
                   "UPDATE jobs SET state = 'done', finished_ms = ?, lease_owner = NULL, lease_expires_ms = 0,"
                   " last_error = NULL WHERE call_id = ? AND stage = ? AND state = 'running' AND lease_owner = ?",
                   "lsis", now, job->call_id, job->stage, job->lease_owner)) < 0)
        goto fail;
    if (rc == 0) {
        rc = sdra_error_set(err, SDRA_EEXISTS, "job %s/%d: lease lost, result discarded", job->call_id, job->stage);
        goto fail;
    }
    for (int i = 0; i < n_arts; i++) {
        if ((rc = exec(db, err,
                       "INSERT INTO artifacts (call_id, name, stage, path, sha256, size_bytes, created_ms)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (call_id, name) DO UPDATE SET"
                       " stage = excluded.stage, path = excluded.path, sha256 = excluded.sha256,"
                       " size_bytes = excluded.size_bytes, created_ms = excluded.created_ms",
                       "ssissll", job->call_id, arts[i].name, job->stage, arts[i].path, arts[i].sha256,
                       arts[i].size_bytes, now)) < 0)
            goto fail;
    }
    if (next_stage >= 0) {
        if ((rc = exec(db, err,
                       "INSERT INTO jobs (call_id, stage, state, attempts, run_after_ms, queued_ms)"
                       " VALUES (?, ?, 'queued', 0, ?, ?) ON CONFLICT (call_id, stage) DO NOTHING",
                       "sill", job->call_id, next_stage, now, now)) < 0)
            goto fail;
        rc = exec(db, err, "UPDATE calls SET status = 'running', updated_ms = ? WHERE id = ?", "ls", now, job->call_id);
    } else {
        rc = exec(db, err, "UPDATE calls SET status = 'done', updated_ms = ? WHERE id = ?", "ls", now, job->call_id);
    }
    if (rc < 0 || (rc = fx_insert(db, fx, n_fx, now, err)) < 0)
        goto fail;
    rc = commit(db, err);
    goto done;
fail:
    rollback(db);
done:
    wr_unlock(s);
    return rc < 0 ? rc : 0;
}

static int sq_job_complete(sdra_store *s, const sdra_store_job *job, const sdra_store_artifact *arts,
                           int n_arts, int next_stage, int64_t now, sdra_error *err)
{
    return sq_job_complete_fx(s, job, arts, n_arts, next_stage, NULL, 0, now, err);
}

static int sq_job_fail_fx(sdra_store *s, const sdra_store_job *job, const char *msg, bool retryable,
                          int64_t retry_at, int max_attempts, const sdra_store_outbox_new *fx, int n_fx, int64_t now,
                          sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int64_t attempts = 0;
    int found = 0;
    int rc = begin(db, err);
    if (rc < 0)
        goto done;
    if ((rc = query_int64(db, &attempts, &found, err,
                          "SELECT attempts FROM jobs WHERE call_id = ? AND stage = ? AND state = 'running'"
                          " AND lease_owner = ?",
                          "sis", job->call_id, job->stage, job->lease_owner)) < 0)
        goto fail;
    if (!found) {
        rc = sdra_error_set(err, SDRA_EEXISTS, "job %s/%d: lease lost", job->call_id, job->stage);
        goto fail;
    }
    if (retryable && attempts < max_attempts) {
        rc = exec(db, err,
                  "UPDATE jobs SET state = 'queued', run_after_ms = ?, lease_owner = NULL, lease_expires_ms = 0,"
                  " last_error = ? WHERE call_id = ? AND stage = ?",
                  "lssi", retry_at, msg, job->call_id, job->stage);
    } else {
        rc = exec(db, err,
                  "UPDATE jobs SET state = 'dead', finished_ms = ?, lease_owner = NULL, lease_expires_ms = 0,"
                  " last_error = ? WHERE call_id = ? AND stage = ?",
                  "lssi", now, msg, job->call_id, job->stage);
        if (rc >= 0)
            rc = exec(db, err, "UPDATE calls SET status = 'failed', updated_ms = ? WHERE id = ?", "ls", now,
                      job->call_id);
        if (rc >= 0) /* the effects of a call that failed for good (a call.failed webhook) */
            rc = fx_insert(db, fx, n_fx, now, err);
    }
    if (rc < 0)
        goto fail;
    rc = commit(db, err);
    goto done;
fail:
    rollback(db);
done:
    wr_unlock(s);
    return rc < 0 ? rc : 0;
}

static int sq_job_fail(sdra_store *s, const sdra_store_job *job, const char *msg, bool retryable,
                       int64_t retry_at, int max_attempts, int64_t now, sdra_error *err)
{
    return sq_job_fail_fx(s, job, msg, retryable, retry_at, max_attempts, NULL, 0, now, err);
}

/* A call's rows (jobs, artifacts) are the org's when the call is. */
#define IN_ORG " AND (?2 IS NULL OR call_id IN (SELECT id FROM calls WHERE org = ?2))"

static int sq_job_list(sdra_store *s, const char *org, const char *call_id, sdra_store_job *out, int max,
                       int *n_out, sdra_error *err)
{
    conn *c = rd_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = cprep(c, &st, err, JOB_COLS "WHERE call_id = ?1" IN_ORG " ORDER BY stage", "ss", call_id, org);
    int r = SQLITE_DONE;
    while (rc == 0 && *n_out < max && (r = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&out[*n_out], 0, sizeof out[0]);
        row_to_job(st, &out[(*n_out)++]);
    }
    if (rc == 0 && r != SQLITE_DONE && r != SQLITE_ROW)
        rc = db_fail(c->db, r, err, "job list");
    cdone(c, st);
    rd_unlock(s, c);
    return rc;
}

static int sq_job_counts(sdra_store *s, int n_stages, int (*counts)[SDRA_N_JOB_STATES], sdra_error *err)
{
    conn *c = rd_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = prep(c->db, &st, err, "SELECT stage, state, COUNT(*) FROM jobs GROUP BY stage, state", NULL);
    int r = SQLITE_DONE;
    while (rc == 0 && (r = sqlite3_step(st)) == SQLITE_ROW) {
        int stage = sqlite3_column_int(st, 0);
        int state = sdra_job_state_parse((const char *)sqlite3_column_text(st, 1));
        if (stage >= 0 && stage < n_stages && state >= 0)
            counts[stage][state] = sqlite3_column_int(st, 2);
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = db_fail(c->db, r, err, "job counts");
    sqlite3_finalize(st);
    rd_unlock(s, c);
    return rc;
}

/* For /metrics and the autoscaler's view: the queued_ms of each stage's oldest queued job. */
static int sq_queue_oldest(sdra_store *s, int n_stages, int64_t *oldest_ms, sdra_error *err)
{
    conn *c = rd_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = prep(c->db, &st, err, "SELECT stage, MIN(queued_ms) FROM jobs WHERE state = 'queued' GROUP BY stage", NULL);
    int r = SQLITE_DONE;
    while (rc == 0 && (r = sqlite3_step(st)) == SQLITE_ROW) {
        int stage = sqlite3_column_int(st, 0);
        if (stage >= 0 && stage < n_stages)
            oldest_ms[stage] = sqlite3_column_int64(st, 1);
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = db_fail(c->db, r, err, "queue oldest");
    sqlite3_finalize(st);
    rd_unlock(s, c);
    return rc;
}

/* ---- artifacts ----------------------------------------------------------------------- */

static void row_to_artifact(sqlite3_stmt *st, sdra_store_artifact *a)
{
    col_text(st, 0, a->name, sizeof a->name);
    a->stage = sqlite3_column_int(st, 1);
    col_text(st, 2, a->path, sizeof a->path);
    col_text(st, 3, a->sha256, sizeof a->sha256);
    a->size_bytes = sqlite3_column_int64(st, 4);
    a->created_ms = sqlite3_column_int64(st, 5);
}

static int sq_artifact_get(sdra_store *s, const char *org, const char *call_id, const char *name,
                           sdra_store_artifact *out, sdra_error *err)
{
    conn *c = rd_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = cprep(c, &st, err,
                  "SELECT name, stage, path, sha256, size_bytes, created_ms FROM artifacts"
                  " WHERE call_id = ?1" IN_ORG " AND name = ?3",
                  "sss", call_id, org, name);
    if (rc == 0) {
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW)
            row_to_artifact(st, out);
        else
            rc = r == SQLITE_DONE ? sdra_error_set(err, SDRA_ENOTFOUND, "call %s has no %s yet", call_id, name)
                                  : db_fail(c->db, r, err, "artifact get");
    }
    cdone(c, st);
    rd_unlock(s, c);
    return rc;
}

static int sq_artifact_list(sdra_store *s, const char *org, const char *call_id, sdra_store_artifact *out,
                            int max, int *n_out, sdra_error *err)
{
    conn *c = rd_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = cprep(c, &st, err,
                  "SELECT name, stage, path, sha256, size_bytes, created_ms FROM artifacts"
                  " WHERE call_id = ?1" IN_ORG " ORDER BY stage, name",
                  "ss", call_id, org);
    int r = SQLITE_DONE;
    while (rc == 0 && *n_out < max && (r = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&out[*n_out], 0, sizeof out[0]);
        row_to_artifact(st, &out[(*n_out)++]);
    }
    if (rc == 0 && r != SQLITE_DONE && r != SQLITE_ROW)
        rc = db_fail(c->db, r, err, "artifact list");
    cdone(c, st);
    rd_unlock(s, c);
    return rc;
}

/* ---- keys, audit, outbox --------------------------------------------------------------- */

static int sq_key_insert(sdra_store *s, const sdra_store_key *k, sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int rc = exec(db, err,
                  "INSERT INTO api_keys (id, name, scope, hash, created_ms, revoked_ms, org) VALUES (?, ?, ?, ?, ?, 0, ?)",
                  "ssssls", k->id, k->name, k->scope, k->hash, k->created_ms, k->org);
    wr_unlock(s);
    if (rc == SDRA_EEXISTS)
        sdra_error_set(err, SDRA_EEXISTS, "an API key named '%s' already exists", k->name);
    return rc < 0 ? rc : 0;
}

static void row_to_key(sqlite3_stmt *st, sdra_store_key *k)
{
    col_text(st, 0, k->id, sizeof k->id);
    col_text(st, 1, k->name, sizeof k->name);
    col_text(st, 2, k->scope, sizeof k->scope);
    col_text(st, 3, k->hash, sizeof k->hash);
    k->created_ms = sqlite3_column_int64(st, 4);
    k->revoked_ms = sqlite3_column_int64(st, 5);
    col_text(st, 6, k->org, sizeof k->org);
}

static int sq_key_get(sdra_store *s, const char *id, sdra_store_key *out, sdra_error *err)
{
    conn *c = rd_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = cprep(c, &st, err, "SELECT id, name, scope, hash, created_ms, revoked_ms, org FROM api_keys WHERE id = ?",
                  "s", id);
    if (rc == 0) {
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW)
            row_to_key(st, out);
        else
            rc = r == SQLITE_DONE ? sdra_error_set(err, SDRA_ENOTFOUND, "API key not found")
                                  : db_fail(c->db, r, err, "key get");
    }
    cdone(c, st);
    rd_unlock(s, c);
    return rc;
}

static int sq_key_list(sdra_store *s, sdra_store_key *out, int max, int *n_out, sdra_error *err)
{
    conn *c = rd_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = prep(c->db, &st, err,
                  "SELECT id, name, scope, hash, created_ms, revoked_ms, org FROM api_keys ORDER BY created_ms, id", NULL);
    int r = SQLITE_DONE;
    while (rc == 0 && *n_out < max && (r = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&out[*n_out], 0, sizeof out[0]);
        row_to_key(st, &out[(*n_out)++]);
    }
    if (rc == 0 && r != SQLITE_DONE && r != SQLITE_ROW)
        rc = db_fail(c->db, r, err, "key list");
    sqlite3_finalize(st);
    rd_unlock(s, c);
    return rc;
}

static int sq_key_revoke(sdra_store *s, const char *id_or_name, int64_t now, sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int rc = exec(db, err, "UPDATE api_keys SET revoked_ms = ? WHERE (id = ? OR name = ?) AND revoked_ms = 0",
                  "lss", now, id_or_name, id_or_name);
    wr_unlock(s);
    if (rc == 0)
        rc = sdra_error_set(err, SDRA_ENOTFOUND, "no valid API key '%s'", id_or_name);
    return rc < 0 ? rc : 0;
}

static void row_to_audit(sqlite3_stmt *st, sdra_store_audit_entry *e)
{
    e->id = sqlite3_column_int64(st, 0);
    e->at_ms = sqlite3_column_int64(st, 1);
    col_text(st, 2, e->actor, sizeof e->actor);
    col_text(st, 3, e->action, sizeof e->action);
    col_text(st, 4, e->target, sizeof e->target);
    col_text(st, 5, e->ip, sizeof e->ip);
    col_text(st, 6, e->detail, sizeof e->detail);
    col_text(st, 7, e->prev_hash, sizeof e->prev_hash);
    col_text(st, 8, e->hash, sizeof e->hash);
    e->hash_v = 1;
    if (sqlite3_column_count(st) > 10) { /* the organisation columns (not yet there while migrating) */
        col_text(st, 9, e->org, sizeof e->org);
        e->hash_v = sqlite3_column_int(st, 10);
    }
}

/* The chain's head (hash and id of the newest entry), inside the caller's write transaction. */
static int audit_head(sqlite3 *db, char prev[65], int64_t *last_id, sdra_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(db, &st, err, "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1", NULL);
    if (rc < 0)
        return rc;
    int r = sqlite3_step(st);
    sdra_strlcpy(prev, SDRA_STORE_AUDIT_GENESIS, 65);
    *last_id = 0;
    if (r == SQLITE_ROW) {
        *last_id = sqlite3_column_int64(st, 0);
        col_text(st, 1, prev, 65);
    } else if (r != SQLITE_DONE) {
        rc = db_fail(db, r, err, "audit head");
    }
    sqlite3_finalize(st);
    return rc;
}

/* Writes a batch of entries in one writer transaction: each one chained to the one before.
 * All or none: on failure every entry of the batch fails with the same error. */
static int audit_write_batch(sdra_store *s, store_audit_waiter *batch, sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int64_t last = 0;
    char prev[65];
    int rc = begin(db, err);
    if (rc < 0)
        goto done;
    if ((rc = audit_head(db, prev, &last, err)) < 0)
        goto fail;
    for (store_audit_waiter *w = batch; w; w = w->next) {
        sdra_store_audit_entry *e = w->e;
        e->id = ++last;
        sdra_strlcpy(e->prev_hash, prev, sizeof e->prev_hash);
        sdra_store_audit_hash(e, prev, e->hash);
        if ((rc = exec(db, err,
                       "INSERT INTO audit_log (id, at_ms, actor, action, target, ip, detail, prev_hash, hash, org, hash_v)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       "llssssssssi", e->id, e->at_ms, e->actor, e->action, e->target, e->ip, e->detail,
                       e->prev_hash, e->hash, e->org, e->hash_v)) < 0)
            goto fail;
        memcpy(prev, e->hash, sizeof prev);
    }
    rc = commit(db, err);
    if (rc >= 0)
        goto done;
fail:
    rollback(db);
done:
    wr_unlock(s);
    return rc < 0 ? rc : 0;
}

static int sq_audit_append(sdra_store *s, sdra_store_audit_entry *e, sdra_error *err)
{
    return store_audit_group_append(&SQ(s)->aq, s, audit_write_batch, e, err);
}

static int sq_audit_query(sdra_store *s, const sdra_store_audit_filter *f, sdra_store_audit_entry *out, int max,
                          int *n_out, sdra_error *err)
{
    conn *c = rd_lock(s);
    sqlite3_stmt *st = NULL;
    const char *sql_new = "SELECT id, at_ms, actor, action, target, ip, detail, prev_hash, hash, org, hash_v"
                          " FROM audit_log WHERE (?1 IS NULL OR target = ?1) AND (?2 IS NULL OR actor = ?2)"
                          " AND (?3 IS NULL OR action = ?3) AND at_ms >= ?4 AND id > ?5 AND (?7 IS NULL OR org = ?7)"
                          " ORDER BY id DESC LIMIT ?6";
    const char *sql_old = "SELECT id, at_ms, actor, action, target, ip, detail, prev_hash, hash, org, hash_v"
                          " FROM audit_log WHERE (?1 IS NULL OR target = ?1) AND (?2 IS NULL OR actor = ?2)"
                          " AND (?3 IS NULL OR action = ?3) AND at_ms >= ?4 AND id > ?5 AND (?7 IS NULL OR org = ?7)"
                          " ORDER BY id ASC LIMIT ?6";
    int rc = prep(c->db, &st, err, f->oldest_first ? sql_old : sql_new, "ssslli" "s", f->target, f->actor,
                  f->action, f->since_ms, f->after_id, max, f->org);
    int r = SQLITE_DONE;
    while (rc == 0 && *n_out < max && (r = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&out[*n_out], 0, sizeof out[0]);
        row_to_audit(st, &out[(*n_out)++]);
    }
    if (rc == 0 && r != SQLITE_DONE && r != SQLITE_ROW)
        rc = db_fail(c->db, r, err, "audit query");
    sqlite3_finalize(st);
    rd_unlock(s, c);
    return rc;
}

/* Adds the audit columns an older database lacks and chains its unchained rows (oldest
 * first), in one write transaction; a database already migrated is left as it is. */
static int audit_migrate(sqlite3 *db, sdra_error *err)
{
    int rc = begin(db, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < sizeof AUDIT_COLUMNS / sizeof AUDIT_COLUMNS[0]; i++) {
        int64_t n = 0;
        if ((rc = query_int64(db, &n, NULL, err, "SELECT COUNT(*) FROM pragma_table_info('audit_log') WHERE name = ?",
                              "s", AUDIT_COLUMNS[i].name)) < 0)
            goto fail;
        if (n == 0 && (rc = exec(db, err, AUDIT_COLUMNS[i].ddl, NULL)) < 0)
            goto fail;
    }
    if ((rc = exec(db, err, "CREATE INDEX IF NOT EXISTS audit_by_actor ON audit_log (actor)", NULL)) < 0)
        goto fail;
    int64_t unchained = 0;
    if ((rc = query_int64(db, &unchained, NULL, err, "SELECT COUNT(*) FROM audit_log WHERE hash IS NULL", NULL)) < 0)
        goto fail;
    if (unchained > 0) {
        /* rows written before the chain existed: chained in id order from the last chained one */
        char prev[65] = SDRA_STORE_AUDIT_GENESIS;
        sqlite3_stmt *st = NULL;
        if ((rc = prep(db, &st, err, "SELECT hash FROM audit_log WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1",
                       NULL)) < 0)
            goto fail;
        if (sqlite3_step(st) == SQLITE_ROW)
            col_text(st, 0, prev, sizeof prev);
        sqlite3_finalize(st);
        if ((rc = prep(db, &st, err,
                       "SELECT id, at_ms, actor, action, target, ip, detail, prev_hash, hash FROM audit_log"
                       " WHERE hash IS NULL ORDER BY id",
                       NULL)) < 0)
            goto fail;
        int r;
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
            sdra_store_audit_entry e = {0};
            row_to_audit(st, &e);
            sdra_strlcpy(e.prev_hash, prev, sizeof e.prev_hash);
            sdra_store_audit_hash(&e, prev, e.hash);
            if ((rc = exec(db, err, "UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?", "ssl", e.prev_hash,
                           e.hash, e.id)) < 0)
                break;
            memcpy(prev, e.hash, sizeof prev);
        }
        if (rc >= 0 && r != SQLITE_DONE)
            rc = db_fail(db, r, err, "audit migration");
        sqlite3_finalize(st);
        if (rc < 0)
            goto fail;
        sdra_log(SDRA_LOG_INFO, "store: chained %lld audit entries written before the hash chain",
                 (long long)unchained);
    }
    return commit(db, err);
fail:
    rollback(db);
    return rc;
}

/* Adds the organisation columns and table an older database lacks (idempotent, one write
 * transaction); its rows then belong to "default". */
static int org_migrate(sqlite3 *db, sdra_error *err)
{
    int rc = begin(db, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < sizeof ORG_COLUMNS / sizeof ORG_COLUMNS[0]; i++) {
        int64_t n = 0;
        if ((rc = query_int64(db, &n, NULL, err, "SELECT COUNT(*) FROM pragma_table_info(?) WHERE name = ?", "ss",
                              ORG_COLUMNS[i].table, ORG_COLUMNS[i].name)) < 0)
            goto fail;
        if (n == 0 && (rc = exec(db, err, ORG_COLUMNS[i].ddl, NULL)) < 0)
            goto fail;
    }
    char *msg = NULL;
    int r = sqlite3_exec(db, ORG_SCHEMA, NULL, NULL, &msg);
    if (r != SQLITE_OK) {
        rc = sdra_error_set(err, code_from_sqlite(r), "store: organisations: %s", msg ? msg : sqlite3_errstr(r));
        sqlite3_free(msg);
        goto fail;
    }
    return commit(db, err);
fail:
    rollback(db);
    return rc;
}

static int sq_key_delete(sdra_store *s, const char *id_or_name, char *id_out, sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = begin(db, err);
    if (rc < 0)
        goto done;
    if ((rc = prep(db, &st, err, "SELECT id FROM api_keys WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1",
                   "sss", id_or_name, id_or_name, id_or_name)) < 0)
        goto fail;
    int r = sqlite3_step(st);
    if (r != SQLITE_ROW) {
        rc = r == SQLITE_DONE ? sdra_error_set(err, SDRA_ENOTFOUND, "no API key '%s'", id_or_name)
                              : db_fail(db, r, err, "key delete");
        goto fail;
    }
    col_text(st, 0, id_out, SDRA_STORE_ID_MAX);
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = exec(db, err, "DELETE FROM api_keys WHERE id = ?", "s", id_out)) < 0)
        goto fail;
    rc = commit(db, err);
    goto done;
fail:
    sqlite3_finalize(st);
    rollback(db);
done:
    wr_unlock(s);
    return rc < 0 ? rc : 0;
}

static int sq_audit_count(sdra_store *s, const char *target, int *n_out, sdra_error *err)
{
    conn *c = rd_lock(s);
    int64_t n = 0;
    int rc = query_int64(c->db, &n, NULL, err, "SELECT COUNT(*) FROM audit_log WHERE target = ?", "s", target);
    rd_unlock(s, c);
    *n_out = (int)n;
    return rc;
}

static int sq_outbox_put(sdra_store *s, const char *org, const char *key, const char *call_id, const char *kind,
                         const char *payload, int64_t now, sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int rc = exec(db, err,
                  "INSERT INTO outbox (idem_key, call_id, kind, payload, state, created_ms, org)"
                  " VALUES (?, ?, ?, ?, 'queued', ?, ?) ON CONFLICT (idem_key) DO NOTHING",
                  "ssssls", key, call_id, kind, payload, now, org);
    wr_unlock(s);
    return rc < 0 ? rc : 0;
}

static int sq_outbox_claim(sdra_store *s, const char *owner, int64_t now, int64_t lease_ms,
                           sdra_store_outbox_item *out, sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = begin(db, err);
    if (rc < 0)
        goto done;
    if ((rc = prep(db, &st, err,
                   "SELECT idem_key, call_id, kind, payload, attempts, org, state FROM outbox"
                   " WHERE (state = 'queued' AND next_attempt_ms <= ?1)"
                   " OR (state = 'running' AND lease_expires_ms < ?1) ORDER BY next_attempt_ms, created_ms LIMIT 1",
                   "l", now)) < 0)
        goto fail;
    int r = sqlite3_step(st);
    if (r != SQLITE_ROW) {
        rc = r == SQLITE_DONE ? SDRA_ENOTFOUND : db_fail(db, r, err, "outbox claim");
        goto fail;
    }
    col_text(st, 0, out->key, sizeof out->key);
    col_text(st, 1, out->call_id, sizeof out->call_id);
    col_text(st, 2, out->kind, sizeof out->kind);
    const unsigned char *p = sqlite3_column_text(st, 3);
    out->payload = strdup(p ? (const char *)p : "");
    out->attempts = sqlite3_column_int(st, 4) + 1;
    col_text(st, 5, out->org, sizeof out->org);
    out->resumed = !strcmp((const char *)sqlite3_column_text(st, 6), "running");
    out->state = SDRA_JOB_RUNNING;
    sdra_strlcpy(out->lease_owner, owner, sizeof out->lease_owner);
    sqlite3_finalize(st);
    st = NULL;
    if (!out->payload) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "store: out of memory");
        goto fail;
    }
    if ((rc = exec(db, err,
                   "UPDATE outbox SET state = 'running', attempts = attempts + 1, lease_owner = ?,"
                   " lease_expires_ms = ?, updated_ms = ? WHERE idem_key = ?",
                   "slls", owner, now + lease_ms, now, out->key)) < 0)
        goto fail;
    rc = commit(db, err);
    goto done;
fail:
    sqlite3_finalize(st);
    rollback(db);
    if (rc < 0)
        sdra_store_outbox_release(out);
done:
    wr_unlock(s);
    return rc < 0 ? rc : 0;
}

static int sq_outbox_done(sdra_store *s, const char *key, sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int rc = exec(db, err, "UPDATE outbox SET state = 'done', lease_owner = NULL WHERE idem_key = ?", "s", key);
    wr_unlock(s);
    if (rc == 0)
        rc = sdra_error_set(err, SDRA_ENOTFOUND, "outbox item '%s' not found", key);
    return rc < 0 ? rc : 0;
}

/* ---- organisations --------------------------------------------------------------------- */

/* Storage of an organisation: its calls' audio and their artifacts, as recorded. */
#define ORG_STORAGE_SQL                                                                          \
    "SELECT COALESCE((SELECT SUM(audio_bytes) FROM calls WHERE org = ?1), 0)"                    \
    " + COALESCE((SELECT SUM(a.size_bytes) FROM artifacts a JOIN calls c ON c.id = a.call_id"    \
    " WHERE c.org = ?1), 0)"

static int org_usage(sqlite3 *db, const char *org, sdra_store_org *o, sdra_error *err)
{
    int64_t v = 0;
    int rc;
    sdra_strlcpy(o->name, org, sizeof o->name);
    if ((rc = query_int64(db, &v, NULL, err, "SELECT max_active FROM orgs WHERE name = ?", "s", org)) < 0)
        return rc;
    o->max_active = (int)v;
    v = 0;
    if ((rc = query_int64(db, &v, NULL, err, "SELECT max_storage_bytes FROM orgs WHERE name = ?", "s", org)) < 0)
        return rc;
    o->max_storage_bytes = v;
    if ((rc = query_int64(db, &v, NULL, err,
                          "SELECT COUNT(*) FROM calls WHERE org = ? AND status IN ('queued','running')", "s", org)) < 0)
        return rc;
    o->n_active = (int)v;
    if ((rc = query_int64(db, &v, NULL, err, ORG_STORAGE_SQL, "s", org)) < 0)
        return rc;
    o->storage_bytes = v;
    if ((rc = query_int64(db, &v, NULL, err, "SELECT COUNT(*) FROM api_keys WHERE org = ?", "s", org)) < 0)
        return rc;
    o->n_keys = (int)v;
    return 0;
}

static int org_admit(sqlite3 *db, const char *org, int64_t audio_bytes, sdra_error *err)
{
    sdra_store_org o = {0};
    int rc = org_usage(db, org, &o, err);
    if (rc < 0)
        return rc;
    if (o.max_active > 0 && o.n_active >= o.max_active)
        return sdra_error_set(err, SDRA_ELIMIT, "organisation %s has %d calls queued or running (its quota is %d)", org,
                              o.n_active, o.max_active);
    if (o.max_storage_bytes > 0 && o.storage_bytes + audio_bytes > o.max_storage_bytes)
        return sdra_error_set(err, SDRA_ELIMIT,
                              "organisation %s stores %lld bytes; %lld more would exceed its quota of %lld bytes", org,
                              (long long)o.storage_bytes, (long long)audio_bytes, (long long)o.max_storage_bytes);
    return 0;
}

static int sq_org_set(sdra_store *s, const char *name, int max_active, int64_t max_storage_bytes, int64_t now,
                      sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int rc = exec(db, err,
                  "INSERT INTO orgs (name, max_active, max_storage_bytes, updated_ms) VALUES (?, ?, ?, ?)"
                  " ON CONFLICT (name) DO UPDATE SET max_active = excluded.max_active,"
                  " max_storage_bytes = excluded.max_storage_bytes, updated_ms = excluded.updated_ms",
                  "sill", name, max_active, max_storage_bytes, now);
    wr_unlock(s);
    return rc < 0 ? rc : 0;
}

/* ---- data-subject rights and retention (issue 14) --------------------------------------
 * Their own tables, created when missing on every open (older databases gain them). */

static const char *PRIVACY_SCHEMA =
    "CREATE TABLE IF NOT EXISTS call_subjects ("
    " call_id VARCHAR(64) NOT NULL, org VARCHAR(64) NOT NULL, token VARCHAR(64) NOT NULL,"
    " PRIMARY KEY (call_id, org, token));"
    "CREATE INDEX IF NOT EXISTS call_subjects_by_token ON call_subjects (org, token);"
    "CREATE TABLE IF NOT EXISTS subject_pseudonyms ("
    " org VARCHAR(64) NOT NULL, token VARCHAR(64) NOT NULL, pseudonym VARCHAR(64) NOT NULL,"
    " created_ms BIGINT NOT NULL, PRIMARY KEY (org, token));"
    "CREATE TABLE IF NOT EXISTS retention_policies ("
    " org VARCHAR(64) PRIMARY KEY, audio_days INTEGER NOT NULL DEFAULT 0,"
    " transcript_days INTEGER NOT NULL DEFAULT 0, analysis_days INTEGER NOT NULL DEFAULT 0,"
    " email_days INTEGER NOT NULL DEFAULT 0, call_days INTEGER NOT NULL DEFAULT 0,"
    " crm_days INTEGER NOT NULL DEFAULT 0, require_consent INTEGER NOT NULL DEFAULT 0,"
    " updated_ms BIGINT NOT NULL);";

static int privacy_schema(sqlite3 *db, sdra_error *err)
{
    char *msg = NULL;
    int r = sqlite3_exec(db, PRIVACY_SCHEMA, NULL, NULL, &msg);
    if (r != SQLITE_OK) {
        int rc = sdra_error_set(err, code_from_sqlite(r), "store: privacy tables: %s", msg ? msg : sqlite3_errstr(r));
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

static int sq_subject_add(sdra_store *s, const char *call_id, const char *org, const char *token, sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int rc = exec(db, err,
                  "INSERT INTO call_subjects (call_id, org, token) VALUES (?, ?, ?)"
                  " ON CONFLICT (call_id, org, token) DO NOTHING",
                  "sss", call_id, org, token);
    wr_unlock(s);
    return rc < 0 ? rc : 0;
}

static int sq_org_get(sdra_store *s, const char *name, sdra_store_org *out, sdra_error *err)
{
    conn *c = rd_lock(s);
    int rc = exec(c->db, err, "BEGIN", NULL); /* one snapshot for the usage figures */
    if (rc >= 0) {
        rc = org_usage(c->db, name, out, err);
        exec(c->db, NULL, "COMMIT", NULL);
    }
    rd_unlock(s, c);
    return rc < 0 ? rc : 0;
}

static int sq_org_list(sdra_store *s, sdra_store_org *out, int max, int *n_out, sdra_error *err)
{
    conn *c = rd_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = exec(c->db, err, "BEGIN", NULL);
    if (rc < 0)
        goto done;
    if ((rc = prep(c->db, &st, err,
                   "SELECT name FROM orgs UNION SELECT org FROM api_keys UNION SELECT org FROM calls ORDER BY 1",
                   NULL)) < 0)
        goto end;
    int r = SQLITE_DONE;
    while (*n_out < max && (r = sqlite3_step(st)) == SQLITE_ROW)
        col_text(st, 0, out[(*n_out)++].name, sizeof out[0].name);
    if (*n_out < max && r != SQLITE_DONE)
        rc = db_fail(c->db, r, err, "org list");
    sqlite3_finalize(st);
    for (int i = 0; rc >= 0 && i < *n_out; i++) {
        char name[SDRA_STORE_ID_MAX];
        sdra_strlcpy(name, out[i].name, sizeof name);
        rc = org_usage(c->db, name, &out[i], err);
    }
end:
    exec(c->db, NULL, "COMMIT", NULL);
done:
    rd_unlock(s, c);
    return rc < 0 ? rc : 0;
}

static int sq_subject_calls(sdra_store *s, const char *org, const char *token, char (*ids)[SDRA_STORE_ID_MAX],
                            int max, int *n_out, sdra_error *err)
{
    conn *c = rd_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = prep(c->db, &st, err, "SELECT call_id FROM call_subjects WHERE org = ? AND token = ? ORDER BY rowid",
                  "ss", org, token);
    int n = 0, r = SQLITE_DONE;
    while (rc == 0 && n < max && (r = sqlite3_step(st)) == SQLITE_ROW)
        col_text(st, 0, ids[n++], SDRA_STORE_ID_MAX);
    if (rc == 0 && r != SQLITE_ROW && r != SQLITE_DONE)
        rc = db_fail(c->db, r, err, "subject calls");
    sqlite3_finalize(st);
    rd_unlock(s, c);
    *n_out = n;
    return rc;
}

static int read_pseudonym(sqlite3 *db, const char *org, const char *token, char out[SDRA_STORE_ID_MAX], sdra_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(db, &st, err, "SELECT pseudonym FROM subject_pseudonyms WHERE org = ? AND token = ?", "ss", org,
                  token);
    if (rc < 0)
        return rc;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        col_text(st, 0, out, SDRA_STORE_ID_MAX);
    else
        rc = r == SQLITE_DONE ? SDRA_ENOTFOUND : db_fail(db, r, err, "subject pseudonym");
    sqlite3_finalize(st);
    if (rc == SDRA_ENOTFOUND)
        sdra_error_set(err, SDRA_ENOTFOUND, "no such subject");
    return rc;
}

static int sq_subject_pseudonym(sdra_store *s, const char *org, const char *token, const char *candidate,
                                int64_t now, char out[SDRA_STORE_ID_MAX], sdra_error *err)
{
    if (!candidate) {
        conn *c = rd_lock(s);
        int rc = read_pseudonym(c->db, org, token, out, err);
        rd_unlock(s, c);
        return rc;
    }
    sqlite3 *db = wr_lock(s);
    int rc = exec(db, err,
                  "INSERT INTO subject_pseudonyms (org, token, pseudonym, created_ms) VALUES (?, ?, ?, ?)"
                  " ON CONFLICT (org, token) DO NOTHING",
                  "sssl", org, token, candidate, now);
    if (rc >= 0)
        rc = read_pseudonym(db, org, token, out, err);
    wr_unlock(s);
    return rc < 0 ? rc : 0;
}

static int sq_subject_forget(sdra_store *s, const char *org, const char *token, int *n_out, sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int n = 0, rc = begin(db, err);
    if (rc < 0)
        goto done;
    if ((rc = exec(db, err, "DELETE FROM call_subjects WHERE org = ? AND token = ?", "ss", org, token)) < 0)
        goto fail;
    n += rc;
    if ((rc = exec(db, err, "DELETE FROM subject_pseudonyms WHERE org = ? AND token = ?", "ss", org, token)) < 0)
        goto fail;
    n += rc;
    rc = commit(db, err);
    goto done;
fail:
    rollback(db);
done:
    wr_unlock(s);
    *n_out = rc < 0 ? 0 : n;
    return rc < 0 ? rc : 0;
}

static int sq_policy_get(sdra_store *s, const char *org, sdra_store_policy *out, sdra_error *err)
{
    conn *c = rd_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = prep(c->db, &st, err,
                  "SELECT audio_days, transcript_days, analysis_days, email_days, call_days, crm_days,"
                  " require_consent, updated_ms FROM retention_policies WHERE org = ?",
                  "s", org);
    if (rc == 0) {
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            out->audio_days = sqlite3_column_int(st, 0);
            out->transcript_days = sqlite3_column_int(st, 1);
            out->analysis_days = sqlite3_column_int(st, 2);
            out->email_days = sqlite3_column_int(st, 3);
            out->call_days = sqlite3_column_int(st, 4);
            out->crm_days = sqlite3_column_int(st, 5);
            out->require_consent = sqlite3_column_int(st, 6) != 0;
            out->updated_ms = sqlite3_column_int64(st, 7);
        } else if (r != SQLITE_DONE) {
            rc = db_fail(c->db, r, err, "policy");
        }
    }
    sqlite3_finalize(st);
    rd_unlock(s, c);
    return rc;
}

static int sq_policy_put(sdra_store *s, const sdra_store_policy *p, int64_t now, sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int rc = exec(db, err,
                  "INSERT INTO retention_policies (org, audio_days, transcript_days, analysis_days, email_days,"
                  " call_days, crm_days, require_consent, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                  " ON CONFLICT (org) DO UPDATE SET audio_days = excluded.audio_days,"
                  " transcript_days = excluded.transcript_days, analysis_days = excluded.analysis_days,"
                  " email_days = excluded.email_days, call_days = excluded.call_days,"
                  " crm_days = excluded.crm_days, require_consent = excluded.require_consent,"
                  " updated_ms = excluded.updated_ms",
                  "siiiiiiil", p->org, p->audio_days, p->transcript_days, p->analysis_days, p->email_days,
                  p->call_days, p->crm_days, p->require_consent ? 1 : 0, now);
    wr_unlock(s);
    return rc < 0 ? rc : 0;
}

static int sq_outbox_query(sdra_store *s, const sdra_store_outbox_filter *f, sdra_store_outbox_item *out, int max,
                           int *n_out, sdra_error *err);

static int sq_outbox_list(sdra_store *s, const char *call_id, sdra_store_outbox_item *out, int max, int *n_out,
                          sdra_error *err)
{
    sdra_store_outbox_filter f = {.call_id = call_id, .state = -1};
    return sq_outbox_query(s, &f, out, max, n_out, err);
}

static int sq_artifact_delete(sdra_store *s, const char *call_id, const char *name, sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int rc = exec(db, err, "DELETE FROM artifacts WHERE call_id = ? AND name = ?", "ss", call_id, name);
    wr_unlock(s);
    if (rc == 0)
        rc = sdra_error_set(err, SDRA_ENOTFOUND, "call %s has no artifact %s", call_id, name);
    return rc < 0 ? rc : 0;
}

static int sq_checkpoint(sdra_store *s, sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int ck = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    wr_unlock(s);
    if (ck == SQLITE_BUSY || ck == SQLITE_LOCKED)
        return sdra_error_set(err, SDRA_ERETRY, "store: WAL checkpoint incomplete (a reader is active)");
    if (ck != SQLITE_OK)
        return sdra_error_set(err, code_from_sqlite(ck), "store: WAL checkpoint: %s", sqlite3_errstr(ck));
    return 0;
}

/* ---- open / close ---------------------------------------------------------------------- */

static void close_conn(conn *c)
{
    for (int i = 0; i < c->n_cache; i++)
        sqlite3_finalize(c->cache[i].st);
    c->n_cache = 0;
    if (c->db) {
        sqlite3_close(c->db);
        c->db = NULL;
        pthread_mutex_destroy(&c->mu);
    }
}

static void sq_close(sdra_store *s)
{
    sq_store *q = SQ(s);
    for (int i = 0; i < q->n_rd; i++) {
        close_conn(q->rd[i]);
        free(q->rd[i]);
    }
    close_conn(&q->wr);
    pthread_mutex_destroy(&q->pool_mu);
    pthread_cond_destroy(&q->pool_cv);
    store_audit_queue_release(&q->aq);
    free(q->path);
    free(q);
}

static int sq_call_set_meta(sdra_store *s, const char *org, const char *id, const char *meta, sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int rc = exec(db, err, "UPDATE calls SET meta = ?1 WHERE id = ?2 AND (?3 IS NULL OR org = ?3)", "sss", meta, id, org);
    wr_unlock(s);
    if (rc == 0)
        return sdra_error_set(err, SDRA_ENOTFOUND, "call %s not found", id);
    return rc < 0 ? rc : 0;
}

/* ---- wrapped data keys (encryption at rest) ------------------------------------------- */

static const char *CALL_KEYS_SCHEMA =
    "CREATE TABLE IF NOT EXISTS call_keys (id TEXT PRIMARY KEY, master_id TEXT NOT NULL,"
    " wrapped BLOB NOT NULL, created_ms INTEGER NOT NULL);";

static int sq_data_key_put(sdra_store *s, const char *id, const char *master_id, const unsigned char *wrapped,
                           size_t n, bool replace, int64_t now, sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = prep(db, &st, err,
                  replace ? "INSERT OR REPLACE INTO call_keys (id, master_id, wrapped, created_ms) VALUES (?, ?, ?, ?)"
                          : "INSERT OR IGNORE INTO call_keys (id, master_id, wrapped, created_ms) VALUES (?, ?, ?, ?)",
                  "s", id);
    if (rc == 0) {
        sqlite3_bind_text(st, 2, master_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(st, 3, wrapped, (int)n, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, now);
        int r = sqlite3_step(st);
        if (r != SQLITE_DONE)
            rc = db_fail(db, r, err, "data key put");
        else if (sqlite3_changes(db) == 0)
            rc = sdra_error_set(err, SDRA_EEXISTS, "data key %s exists", id);
    }
    sqlite3_finalize(st);
    wr_unlock(s);
    return rc;
}

static int sq_data_key_get(sdra_store *s, const char *id, char *master_id, unsigned char *wrapped, size_t *n,
                           sdra_error *err)
{
    conn *c = rd_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = prep(c->db, &st, err, "SELECT master_id, wrapped FROM call_keys WHERE id = ?", "s", id);
    if (rc == 0) {
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            int len = sqlite3_column_bytes(st, 1);
            if (len <= 0 || len > SDRA_STORE_WRAPPED_MAX) {
                rc = sdra_error_set(err, SDRA_EINVAL, "data key %s: bad wrapped length %d", id, len);
            } else {
                col_text(st, 0, master_id, SDRA_STORE_ID_MAX);
                memcpy(wrapped, sqlite3_column_blob(st, 1), (size_t)len);
                *n = (size_t)len;
            }
        } else if (r == SQLITE_DONE) {
            rc = sdra_error_set(err, SDRA_ENOTFOUND, "no data key for %s (deleted?)", id);
        } else {
            rc = db_fail(c->db, r, err, "data key get");
        }
    }
    sqlite3_finalize(st);
    rd_unlock(s, c);
    return rc;
}

static int sq_data_key_rewrap(sdra_store *s, sdra_store_rewrap_fn fn, void *ud, int *n_out, sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    sqlite3_stmt *st = NULL, *up = NULL;
    int rc = begin(db, err), n = 0;
    if (rc < 0)
        goto done;
    if ((rc = prep(db, &st, err, "SELECT id, master_id, wrapped FROM call_keys ORDER BY id", NULL)) < 0 ||
        (rc = prep(db, &up, err, "UPDATE call_keys SET master_id = ?, wrapped = ? WHERE id = ?", NULL)) < 0)
        goto fail;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        char id[SDRA_STORE_ID_MAX], mid[SDRA_STORE_ID_MAX], new_mid[SDRA_STORE_ID_MAX] = "";
        unsigned char nw[SDRA_STORE_WRAPPED_MAX];
        size_t nn = 0;
        col_text(st, 0, id, sizeof id);
        col_text(st, 1, mid, sizeof mid);
        if ((rc = fn(ud, id, mid, sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2), new_mid, nw, &nn,
                     err)) < 0)
            goto fail;
        sqlite3_reset(up);
        sqlite3_bind_text(up, 1, new_mid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(up, 2, nw, (int)nn, SQLITE_TRANSIENT);
        sqlite3_bind_text(up, 3, id, -1, SQLITE_TRANSIENT);
        if ((r = sqlite3_step(up)) != SQLITE_DONE) {
            rc = db_fail(db, r, err, "data key rewrap");
            goto fail;
        }
        n++;
    }
    if (r != SQLITE_DONE) {
        rc = db_fail(db, r, err, "data key list");
        goto fail;
    }
    sqlite3_finalize(st);
    sqlite3_finalize(up);
    st = up = NULL;
    if ((rc = commit(db, err)) < 0)
        goto done;
    /* the old wrappings leave the WAL too */
    sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    *n_out = n;
    goto done;
fail:
    sqlite3_finalize(st);
    sqlite3_finalize(up);
    st = up = NULL;
    rollback(db);
done:
    wr_unlock(s);
    return rc < 0 ? rc : 0;
}

/* ---- the outbox life cycle (issue 13) -------------------------------------------------- */

/* Columns the delivery life cycle added to outbox: added by ALTER TABLE when an older database
 * lacks them (its entries are then due at once, with no error and no remote id). */
static const struct {
    const char *name, *ddl;
} OUTBOX_COLUMNS[] = {
    {"send_at_ms", "ALTER TABLE outbox ADD COLUMN send_at_ms BIGINT NOT NULL DEFAULT 0"},
    {"next_attempt_ms", "ALTER TABLE outbox ADD COLUMN next_attempt_ms BIGINT NOT NULL DEFAULT 0"},
    {"updated_ms", "ALTER TABLE outbox ADD COLUMN updated_ms BIGINT NOT NULL DEFAULT 0"},
    {"last_error", "ALTER TABLE outbox ADD COLUMN last_error TEXT NOT NULL DEFAULT ''"},
    {"remote_id", "ALTER TABLE outbox ADD COLUMN remote_id TEXT NOT NULL DEFAULT ''"},
};

static int outbox_migrate(sqlite3 *db, sdra_error *err)
{
    int rc = begin(db, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < sizeof OUTBOX_COLUMNS / sizeof OUTBOX_COLUMNS[0]; i++) {
        int64_t n = 0;
        if ((rc = query_int64(db, &n, NULL, err, "SELECT COUNT(*) FROM pragma_table_info('outbox') WHERE name = ?",
                              "s", OUTBOX_COLUMNS[i].name)) < 0)
            goto fail;
        if (n == 0 && (rc = exec(db, err, OUTBOX_COLUMNS[i].ddl, NULL)) < 0)
            goto fail;
    }
    if ((rc = exec(db, err, "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_ms)", NULL)) < 0 ||
        (rc = exec(db, err, "CREATE INDEX IF NOT EXISTS outbox_by_org ON outbox (org, created_ms)", NULL)) < 0)
        goto fail;
    return commit(db, err);
fail:
    rollback(db);
    return rc;
}

/* Inserts the effects (inside the caller's transaction); an existing key is left as it is. */
static int fx_insert(sqlite3 *db, const sdra_store_outbox_new *fx, int n_fx, int64_t now, sdra_error *err)
{
    for (int i = 0; i < n_fx; i++) {
        const sdra_store_outbox_new *e = &fx[i];
        int rc = exec(db, err,
                      "INSERT INTO outbox (idem_key, call_id, kind, payload, state, created_ms, org, send_at_ms,"
                      " next_attempt_ms, updated_ms, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                      " ON CONFLICT (idem_key) DO NOTHING",
                      "ssssslsllls", e->key, e->call_id ? e->call_id : "", e->kind, e->payload ? e->payload : "",
                      sdra_store_outbox_state_name(e->state), now, e->org, e->send_at_ms, e->send_at_ms, now,
                      e->reason ? e->reason : "");
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int sq_outbox_add(sdra_store *s, const sdra_store_outbox_new *e, int64_t now, sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int rc = fx_insert(db, e, 1, now, err);
    wr_unlock(s);
    return rc;
}

#define OUTBOX_COLS                                                                                       \
    "SELECT idem_key, call_id, kind, payload, state, attempts, org, send_at_ms, next_attempt_ms,"         \
    " created_ms, updated_ms, last_error, remote_id, COALESCE(lease_owner, '') FROM outbox "

static int row_to_outbox(sqlite3_stmt *st, sdra_store_outbox_item *o, sdra_error *err)
{
    char state[SDRA_STORE_STATE_MAX];
    memset(o, 0, sizeof *o);
    col_text(st, 0, o->key, sizeof o->key);
    col_text(st, 1, o->call_id, sizeof o->call_id);
    col_text(st, 2, o->kind, sizeof o->kind);
    col_text(st, 4, state, sizeof state);
    o->state = sdra_store_outbox_state_parse(state);
    o->attempts = sqlite3_column_int(st, 5);
    col_text(st, 6, o->org, sizeof o->org);
    o->send_at_ms = sqlite3_column_int64(st, 7);
    o->next_attempt_ms = sqlite3_column_int64(st, 8);
    o->created_ms = sqlite3_column_int64(st, 9);
    o->updated_ms = sqlite3_column_int64(st, 10);
    col_text(st, 11, o->last_error, sizeof o->last_error);
    col_text(st, 12, o->remote_id, sizeof o->remote_id);
    col_text(st, 13, o->lease_owner, sizeof o->lease_owner);
    const unsigned char *p = sqlite3_column_text(st, 3);
    if (!(o->payload = strdup(p ? (const char *)p : "")))
        return sdra_error_set(err, SDRA_ENOMEM, "store: out of memory");
    return 0;
}

static int sq_outbox_get(sdra_store *s, const char *org, const char *key, sdra_store_outbox_item *out,
                         sdra_error *err)
{
    conn *c = rd_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = prep(c->db, &st, err, OUTBOX_COLS "WHERE idem_key = ?1 AND (?2 IS NULL OR org = ?2)", "ss", key, org);
    if (rc == 0) {
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW)
            rc = row_to_outbox(st, out, err);
        else
            rc = r == SQLITE_DONE ? sdra_error_set(err, SDRA_ENOTFOUND, "no outbox entry '%s'", key)
                                  : db_fail(c->db, r, err, "outbox get");
    }
    sqlite3_finalize(st);
    rd_unlock(s, c);
    return rc;
}

static int sq_outbox_query(sdra_store *s, const sdra_store_outbox_filter *f, sdra_store_outbox_item *out, int max,
                           int *n_out, sdra_error *err)
{
    conn *c = rd_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = prep(c->db, &st, err,
                  OUTBOX_COLS "WHERE (?1 IS NULL OR org = ?1) AND (?2 IS NULL OR call_id = ?2)"
                              " AND (?3 IS NULL OR kind = ?3) AND (?4 IS NULL OR state = ?4)"
                              " ORDER BY created_ms, idem_key LIMIT ?5",
                  "ssssi", f->org, f->call_id, f->kind, f->state >= 0 ? sdra_store_outbox_state_name(f->state) : NULL,
                  max);
    int n = 0, r = SQLITE_DONE;
    while (rc == 0 && n < max && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if ((rc = row_to_outbox(st, &out[n], err)) < 0)
            break;
        n++;
    }
    if (rc == 0 && r != SQLITE_ROW && r != SQLITE_DONE)
        rc = db_fail(c->db, r, err, "outbox query");
    sqlite3_finalize(st);
    rd_unlock(s, c);
    if (rc < 0) {
        for (int i = 0; i < n; i++)
            sdra_store_outbox_release(&out[i]);
        n = 0;
    }
    *n_out = n;
    return rc;
}

/* In db's open write transaction (the write lock: no other writer until it ends): checks that
 * verb may change the outbox entry key (of org, unless NULL). 0 when it may; SDRA_ENOTFOUND
 * when there is no such entry; SDRA_EEXISTS when its state forbids verb. */
static int outbox_lock(sqlite3 *db, const char *org, const char *key, sdra_outbox_verb verb, sdra_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(db, &st, err, "SELECT state FROM outbox WHERE idem_key = ?1 AND (?2 IS NULL OR org = ?2)", "ss", key,
                  org);
    if (rc < 0)
        return rc;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        char state[SDRA_STORE_STATE_MAX];
        col_text(st, 0, state, sizeof state);
        rc = store_outbox_verb_check(key, state, verb, err);
    } else {
        rc = r == SQLITE_DONE ? sdra_error_set(err, SDRA_ENOTFOUND, "no outbox entry '%s'", key)
                              : db_fail(db, r, err, "outbox change");
    }
    sqlite3_finalize(st);
    return rc;
}

static int sq_outbox_change(sdra_store *s, const char *org, const char *key, sdra_outbox_verb verb, int64_t now,
                            sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int rc = begin(db, err);
    if (rc < 0)
        goto done;
    if ((rc = outbox_lock(db, org, key, verb, err)) < 0)
        goto fail;
    if (verb == SDRA_OUTBOX_APPROVE)
        rc = exec(db, err,
                  "UPDATE outbox SET state = 'queued', next_attempt_ms = MAX(send_at_ms, ?), updated_ms = ?,"
                  " last_error = '' WHERE idem_key = ?",
                  "lls", now, now, key);
    else if (verb == SDRA_OUTBOX_RETRY)
        rc = exec(db, err,
                  "UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_ms = ?, updated_ms = ?"
                  " WHERE idem_key = ?",
                  "lls", now, now, key);
    else
        rc = exec(db, err,
                  "UPDATE outbox SET state = 'canceled', updated_ms = ?, done_ms = ?,"
                  " last_error = 'canceled before it was sent' WHERE idem_key = ?",
                  "lls", now, now, key);
    if (rc < 0)
        goto fail;
    rc = commit(db, err);
    goto done;
fail:
    rollback(db);
done:
    wr_unlock(s);
    return rc < 0 ? rc : 0;
}

static int sq_outbox_finish(sdra_store *s, const sdra_store_outbox_item *it, const char *remote_id, int64_t now,
                            sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int rc = exec(db, err,
                  "UPDATE outbox SET state = 'done', lease_owner = NULL, lease_expires_ms = 0, done_ms = ?,"
                  " updated_ms = ?, remote_id = ?, last_error = '' WHERE idem_key = ? AND state = 'running'"
                  " AND lease_owner = ?",
                  "llsss", now, now, remote_id, it->key, it->lease_owner);
    wr_unlock(s);
    if (rc == 0)
        rc = sdra_error_set(err, SDRA_EEXISTS, "outbox entry '%s': lease lost", it->key);
    return rc < 0 ? rc : 0;
}

static int sq_outbox_fail(sdra_store *s, const sdra_store_outbox_item *it, const char *msg, int next_state,
                          int64_t retry_at, int64_t now, sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int rc = exec(db, err,
                  "UPDATE outbox SET state = ?, lease_owner = NULL, lease_expires_ms = 0, next_attempt_ms = ?,"
                  " updated_ms = ?, last_error = ? WHERE idem_key = ? AND state = 'running' AND lease_owner = ?",
                  "sllsss", sdra_store_outbox_state_name(next_state), next_state == SDRA_JOB_QUEUED ? retry_at : 0, now,
                  msg, it->key, it->lease_owner);
    wr_unlock(s);
    if (rc == 0)
        rc = sdra_error_set(err, SDRA_EEXISTS, "outbox entry '%s': lease lost", it->key);
    return rc < 0 ? rc : 0;
}

/* ---- full-text search (FTS5) -------------------------------------------------------------
 * call_search holds one row per call: people (contact, company) and words (said) are the
 * indexed terms the server chose, outcome and objections category names; call_id, org and day
 * are not indexed. A query's terms become a MATCH expression of quoted phrases, so nothing the
 * client sends is read as FTS5 syntax (store.c has already limited the characters). */
#define SEARCH_SCHEMA                                                                                         \
    "CREATE VIRTUAL TABLE IF NOT EXISTS call_search USING fts5(call_id UNINDEXED, org UNINDEXED, day UNINDEXED," \
    " people, words, outcome, objections, tokenize = 'unicode61')"

static int sq_search_put(sdra_store *s, const char *org, const char *call_id, const sdra_store_search_doc *d,
                         sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int rc = begin(db, err);
    if (rc < 0)
        goto done;
    if ((rc = exec(db, err, "DELETE FROM call_search WHERE call_id = ?", "s", call_id)) < 0 ||
        (rc = exec(db, err,
                   "INSERT INTO call_search (call_id, org, day, people, words, outcome, objections)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?)",
                   "sssssss", call_id, org, d->day, d->people ? d->people : "", d->words ? d->words : "",
                   d->outcome ? d->outcome : "", d->objections ? d->objections : "")) < 0) {
        rollback(db);
        goto done;
    }
    rc = commit(db, err);
done:
    wr_unlock(s);
    return rc < 0 ? rc : 0;
}

/* Appends `col : "t1" AND col : "t2"...` for the space-separated terms of t (quotes doubled). */
static int match_add(sdra_buf *b, const char *col, const char *t)
{
    int rc = 0;
    for (const char *p = t; rc == 0 && *p;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (!n)
            break;
        rc = sdra_buf_printf(b, "%s%s : \"", b->len ? " AND " : "", col);
        for (size_t i = 0; rc == 0 && i < n; i++)
            rc = p[i] == '"' ? sdra_buf_append(b, "\"\"", 2) : sdra_buf_putc(b, p[i]);
        if (rc == 0)
            rc = sdra_buf_putc(b, '"');
        p += n;
    }
    return rc;
}

static int sq_call_search(sdra_store *s, const char *org, const sdra_store_search_query *q, int offset, int limit,
                          sdra_store_call *out, int *n_out, sdra_error *err)
{
    sdra_buf m;
    sdra_buf_init(&m, 16384);
    int rc = 0;
    if ((q->terms && match_add(&m, "{people words}", q->terms) < 0) ||
        (q->outcome && match_add(&m, "outcome", q->outcome) < 0) ||
        (q->objection && match_add(&m, "objections", q->objection) < 0)) {
        sdra_buf_release(&m);
        return sdra_error_set(err, SDRA_EINVAL, "search: query too long");
    }
    bool match = m.len > 0;
    conn *c = rd_lock(s);
    sqlite3_stmt *st = NULL;
    const char *sql = match ? "SELECT c.id, c.status, c.meta, c.created_ms, c.updated_ms, c.org, c.audio_bytes"
                              " FROM calls c JOIN call_search ON call_search.call_id = c.id"
                              " WHERE call_search MATCH ?1 AND call_search.org = c.org AND (?2 IS NULL OR c.org = ?2)"
                              " AND (?3 IS NULL OR call_search.day >= ?3) AND (?4 IS NULL OR call_search.day <= ?4)"
                              " AND (?5 IS NULL OR c.status = ?5) ORDER BY c.created_ms DESC, c.id LIMIT ?6 OFFSET ?7"
                            : "SELECT c.id, c.status, c.meta, c.created_ms, c.updated_ms, c.org, c.audio_bytes"
                              " FROM calls c JOIN call_search ON call_search.call_id = c.id"
                              " WHERE ?1 IS NULL AND call_search.org = c.org AND (?2 IS NULL OR c.org = ?2)"
                              " AND (?3 IS NULL OR call_search.day >= ?3) AND (?4 IS NULL OR call_search.day <= ?4)"
                              " AND (?5 IS NULL OR c.status = ?5) ORDER BY c.created_ms DESC, c.id LIMIT ?6 OFFSET ?7";
    if ((rc = prep(c->db, &st, err, sql, "sssssii", match ? (const char *)m.data : NULL, org, q->from_day, q->to_day,
                   q->status, limit, offset)) < 0)
        goto done;
    int r = SQLITE_DONE;
    while (*n_out < limit && (r = sqlite3_step(st)) == SQLITE_ROW)
        row_to_call(st, &out[(*n_out)++]);
    if (*n_out < limit && r != SQLITE_DONE)
        rc = db_fail(c->db, r, err, "call search");
done:
    sqlite3_finalize(st);
    rd_unlock(s, c);
    sdra_buf_release(&m);
    return rc;
}

/* ---- the web app: approve with choices, search backfill (issue 16) ------------------------ */

static int sq_outbox_approve_as(sdra_store *s, const char *org, const char *key, int64_t send_at_ms,
                                const char *payload, int64_t now, sdra_error *err)
{
    sqlite3 *db = wr_lock(s);
    int rc = begin(db, err);
    if (rc < 0)
        goto done;
    /* only a held entry changes; send_at -1 keeps it, a NULL payload keeps it */
    if ((rc = outbox_lock(db, org, key, SDRA_OUTBOX_APPROVE, err)) < 0 ||
        (rc = exec(db, err,
                   "UPDATE outbox SET send_at_ms = IIF(?1 >= 0, ?1, send_at_ms), payload = COALESCE(?2, payload),"
                   " state = 'queued', next_attempt_ms = MAX(IIF(?1 >= 0, ?1, send_at_ms), ?3), updated_ms = ?3,"
                   " last_error = '' WHERE idem_key = ?4",
                   "lsls", send_at_ms, payload, now, key)) < 0)
        goto fail;
    rc = commit(db, err);
    goto done;
fail:
    rollback(db);
done:
    wr_unlock(s);
    return rc < 0 ? rc : 0;
}

static int sq_search_missing(sdra_store *s, const char *after_id, sdra_store_call *out, int max, int *n_out,
                             sdra_error *err)
{
    conn *c = rd_lock(s);
    sqlite3_stmt *st = NULL;
    int rc = prep(c->db, &st, err,
                  "SELECT id, org, status FROM calls WHERE status IN ('done', 'failed') AND id > ?1"
                  " AND id NOT IN (SELECT call_id FROM call_search) ORDER BY id LIMIT ?2",
                  "si", after_id, max);
    int n = 0, r = SQLITE_DONE;
    while (rc == 0 && n < max && (r = sqlite3_step(st)) == SQLITE_ROW) {
        col_text(st, 0, out[n].id, sizeof out[n].id);
        col_text(st, 1, out[n].org, sizeof out[n].org);
        col_text(st, 2, out[n].status, sizeof out[n].status);
        n++;
    }
    if (rc == 0 && r != SQLITE_ROW && r != SQLITE_DONE)
        rc = db_fail(c->db, r, err, "search backfill");
    sqlite3_finalize(st);
    rd_unlock(s, c);
    *n_out = rc < 0 ? 0 : n;
    return rc;
}


static const sdra_store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .call_create = sq_call_create,
    .call_get = sq_call_get,
    .call_list = sq_call_list,
    .call_delete = sq_call_delete,
    .call_retry = sq_call_retry,
    .count_active = sq_count_active,
    .job_claim = sq_job_claim,
    .job_heartbeat = sq_job_heartbeat,
    .job_complete = sq_job_complete,
    .job_fail = sq_job_fail,
    .job_list = sq_job_list,
    .job_counts = sq_job_counts,
    .artifact_get = sq_artifact_get,
    .artifact_list = sq_artifact_list,
    .key_insert = sq_key_insert,
    .key_get = sq_key_get,
    .key_list = sq_key_list,
    .key_revoke = sq_key_revoke,
    .key_delete = sq_key_delete,
    .audit_append = sq_audit_append,
    .audit_query = sq_audit_query,
    .audit_count = sq_audit_count,
    .outbox_put = sq_outbox_put,
    .outbox_claim = sq_outbox_claim,
    .outbox_done = sq_outbox_done,
    .org_set = sq_org_set,
    .org_get = sq_org_get,
    .org_list = sq_org_list,
    .call_set_meta = sq_call_set_meta,
    .queue_oldest = sq_queue_oldest,
    .search_put = sq_search_put,
    .call_search = sq_call_search,
    .subject_add = sq_subject_add,
    .subject_calls = sq_subject_calls,
    .subject_pseudonym = sq_subject_pseudonym,
    .subject_forget = sq_subject_forget,
    .policy_get = sq_policy_get,
    .policy_put = sq_policy_put,
    .outbox_list = sq_outbox_list,
    .artifact_delete = sq_artifact_delete,
    .checkpoint = sq_checkpoint,
    .data_key_put = sq_data_key_put,
    .data_key_get = sq_data_key_get,
    .data_key_rewrap = sq_data_key_rewrap,
    .outbox_add = sq_outbox_add,
    .outbox_get = sq_outbox_get,
    .outbox_query = sq_outbox_query,
    .outbox_change = sq_outbox_change,
    .outbox_finish = sq_outbox_finish,
    .outbox_fail = sq_outbox_fail,
    .job_complete_fx = sq_job_complete_fx,
    .job_fail_fx = sq_job_fail_fx,
    .outbox_approve_as = sq_outbox_approve_as,
    .search_missing = sq_search_missing,
};

static int open_conn(conn *c, const char *path, int readonly, sdra_error *err)
{
    int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        int code = sdra_error_set(err, code_from_sqlite(rc), "%s: cannot open database: %s", path,
                                  c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close(c->db);
        c->db = NULL;
        return code;
    }
    pthread_mutex_init(&c->mu, NULL);
    sqlite3_busy_timeout(c->db, 10000);
    if (readonly) /* many readers: keep each one's page cache small (1 MiB) */
        sqlite3_exec(c->db, "PRAGMA cache_size=-1024", NULL, NULL, NULL);
    return 0;
}

int sdra_store_sqlite_open(sdra_store **out, const char *path, sdra_error *err)
{
    sq_store *q = calloc(1, sizeof *q);
    int rc = 0;
    if (!q || !(q->path = strdup(path))) {
        free(q);
        return sdra_error_set(err, SDRA_ENOMEM, "store: out of memory");
    }
    q->base.ops = &sqlite_ops;
    pthread_mutex_init(&q->pool_mu, NULL);
    store_audit_queue_init(&q->aq);
    pthread_cond_init(&q->pool_cv, NULL);
    /* Calls, contacts and key hashes: a new database is created 0600 whatever the umask
     * (SQLite would make it 0644), and SQLite gives its -wal and -shm files the same mode.
     * Only a regular file is opened as the database. */
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: not a regular file", path);
        goto done;
    }
    sdra_error cerr = {0};
    if (strcmp(path, ":memory:") != 0 && sdra_file_create_private(path, &cerr) < 0) {
        rc = sdra_error_set(err, SDRA_EIO, "%s", cerr.msg); /* SDRA_EIO as SQLite's own "cannot open" */
        goto done;
    }
    if ((rc = open_conn(&q->wr, path, 0, err)) < 0)
        goto done;
    char *msg = NULL;
    /* secure_delete: erased rows are overwritten with zeros, not just unlinked (see
     * sq_call_delete for the WAL). */
    int r = sqlite3_exec(q->wr.db,
                         "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF; "
                         "PRAGMA secure_delete=ON;",
                         NULL, NULL, &msg);
    if (r == SQLITE_OK)
        r = sqlite3_exec(q->wr.db, SCHEMA, NULL, NULL, &msg);
    if (r != SQLITE_OK) {
        rc = sdra_error_set(err, code_from_sqlite(r), "%s: %s", path, msg ? msg : sqlite3_errstr(r));
        sqlite3_free(msg);
        goto done;
    }
    if ((rc = audit_migrate(q->wr.db, err)) < 0 || (rc = org_migrate(q->wr.db, err)) < 0 ||
        (rc = outbox_migrate(q->wr.db, err)) < 0)
        goto done;
    if ((rc = privacy_schema(q->wr.db, err)) < 0)
        goto done;
    if ((r = sqlite3_exec(q->wr.db, CALL_KEYS_SCHEMA, NULL, NULL, NULL)) != SQLITE_OK) {
        rc = db_fail(q->wr.db, r, err, "create call_keys");
        goto done;
    }
    if ((r = sqlite3_exec(q->wr.db, SEARCH_SCHEMA, NULL, NULL, NULL)) != SQLITE_OK) {
        rc = db_fail(q->wr.db, r, err, "create call_search");
        goto done;
    }
    conn *first = calloc(1, sizeof *first);
    if (!first) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "store: out of memory");
        goto done;
    }
    if ((rc = open_conn(first, path, 1, err)) < 0) {
        free(first);
        goto done;
    }
    q->rd[q->n_rd++] = first;
    q->idle[q->n_idle++] = first;
done:
    if (rc < 0) {
        sq_close(&q->base);
        return rc;
    }
    *out = &q->base;
    return 0;
}
