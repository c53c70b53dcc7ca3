/*
 * postgres.c - the PostgreSQL job store backend (libpq), implementing sdra_store_ops with the
 * same contract as sqlite.c, for stateless API nodes and workers on many machines.
 *
 * Connections: a small pool, each connection used by one thread at a time. Every write that
 * must be atomic is one transaction on one connection. Jobs and outbox entries are claimed with
 * SELECT ... FOR UPDATE SKIP LOCKED, so concurrent claimers on any number of machines never
 * take the same row and never wait on each other; leases and heartbeats are the columns
 * sqlite.c uses. Call admission (the queue and quota limits) and audit appends (one hash chain)
 * are serialised by a transaction-level advisory lock and a table lock respectively.
 *
 * Schema: versioned migrations (MIGRATIONS below) run on open inside one transaction under an
 * advisory lock, recorded in schema_version; a database whose version is newer than this binary
 * knows is refused. A trigger NOTIFYs channel "sdra_work" whenever a job or an outbox entry
 * becomes queued; wait_work LISTENs on a connection of its own.
 *
 * Errors: libpq failures become sdra codes here (SQLSTATE classes, connection failures); a
 * connection lost mid-operation answers SDRA_ERETRY, and the next call connects again (a
 * PostgreSQL restart costs one retryable failure per connection in flight).
 */
#include "sdra/store.h"
#include "internal.h"
#include "sdra/log.h"
#include "sdra/util.h"

#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POOL_MAX 8      /* connections per store handle */
#define MAX_PARAMS 16
#define ADMIT_LOCK 725001 /* advisory lock key: call admission (queue and quota checks) */
#define MIGRATE_LOCK 725002

typedef struct pg_store {
    sdra_store base;
    char *url;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    PGconn *idle[POOL_MAX];
    int n_idle, n_open;
    pthread_mutex_t lmu; /* the LISTEN connection (wait_work) */
    PGconn *listen;
    store_audit_queue aq; /* audit group commit (internal.h) */
} pg_store;

static pg_store *PG(sdra_store *s) { return (pg_store *)s; }

/* ---- errors ------------------------------------------------------------------------------ */

/* The first line of a libpq message, without the "FATAL:  " / "ERROR:  " prefix. */
static void first_line(const char *msg, char *out, size_t n)
{
    if (!msg)
        msg = "";
    static const char *const pfx[] = {"FATAL:  ", "ERROR:  "};
    for (size_t i = 0; i < 2; i++)
        if (!strncmp(msg, pfx[i], strlen(pfx[i])))
            msg += strlen(pfx[i]);
    size_t len = strcspn(msg, "\n");
    if (len >= n)
        len = n - 1;
    memcpy(out, msg, len);
    out[len] = '\0';
}

static int code_from_sqlstate(const char *st)
{
    if (!st || strlen(st) != 5)
        return SDRA_EIO;
    if (!strncmp(st, "23", 2))
        return SDRA_EEXISTS; /* integrity constraint violation */
    if (!strcmp(st, "40001") || !strcmp(st, "40P01") || !strcmp(st, "55P03") || !strncmp(st, "08", 2) ||
        !strncmp(st, "57P", 3))
        return SDRA_ERETRY; /* serialization, deadlock, lock timeout, connection, shutdown */
    if (!strncmp(st, "53", 2) || !strncmp(st, "54", 2))
        return SDRA_ELIMIT; /* insufficient resources, program limit */
    if (!strncmp(st, "22", 2))
        return SDRA_EINVAL; /* data exception (value too long, bad encoding) */
    if (!strcmp(st, "28P01") || !strcmp(st, "28000") || !strcmp(st, "42501"))
        return SDRA_EDENIED;
    return SDRA_EIO;
}

static int pq_fail(PGconn *c, PGresult *r, sdra_error *err, const char *what)
{
    char line[300];
    const char *prim = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    first_line(prim ? prim : PQerrorMessage(c), line, sizeof line);
    if (PQstatus(c) == CONNECTION_BAD)
        return sdra_error_set(err, SDRA_ERETRY,
                              "store: lost the connection to PostgreSQL during %s (%s); the next call reconnects", what,
                              line[0] ? line : "server closed the connection");
    return sdra_error_set(err, code_from_sqlstate(r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL),
                          "store: %s: %s", what, line);
}

/* ---- statements ---------------------------------------------------------------------------- */

/* Runs sql with arguments described by fmt: 's' text (NULL binds NULL), 'i' int, 'l' int64.
 * Returns the rows returned (a query) or changed (a command), or a negative code. With out,
 * a query's result is handed to the caller (PQclear it), also when it has no rows. */
static int pq_v(PGconn *c, PGresult **out, sdra_error *err, const char *what, const char *sql, const char *fmt,
                va_list ap)
{
    const char *vals[MAX_PARAMS];
    char nums[MAX_PARAMS][24];
    int n = 0;
    for (; fmt && fmt[n]; n++) {
        if (n >= MAX_PARAMS)
            return sdra_error_set(err, SDRA_EINTERNAL, "store: %s: too many parameters", what);
        switch (fmt[n]) {
        case 's': vals[n] = va_arg(ap, const char *); break;
        case 'i': snprintf(nums[n], sizeof nums[n], "%d", va_arg(ap, int)), vals[n] = nums[n]; break;
        case 'l': snprintf(nums[n], sizeof nums[n], "%lld", (long long)va_arg(ap, int64_t)), vals[n] = nums[n]; break;
        default: return sdra_error_set(err, SDRA_EINTERNAL, "store: %s: bad parameter type", what);
        }
    }
    PGresult *r = PQexecParams(c, sql, n, NULL, vals, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int rc;
    if (st == PGRES_TUPLES_OK) {
        rc = PQntuples(r);
        if (out) {
            *out = r;
            return rc;
        }
    } else if (st == PGRES_COMMAND_OK) {
        rc = atoi(PQcmdTuples(r));
    } else {
        rc = pq_fail(c, r, err, what);
    }
    PQclear(r);
    return rc;
}

static int pq(PGconn *c, PGresult **out, sdra_error *err, const char *what, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = pq_v(c, out, err, what, sql, fmt, ap);
    va_end(ap);
    return rc;
}

/* A single int64 from a one-row query: 0 and *out untouched when there is no row. */
static int pq_int64(PGconn *c, int64_t *out, int *found, sdra_error *err, const char *sql, const char *fmt, ...)
{
    PGresult *r = NULL;
    va_list ap;
    va_start(ap, fmt);
    int rc = pq_v(c, &r, err, "query", sql, fmt, ap);
    va_end(ap);
    if (found)
        *found = rc > 0;
    if (rc > 0)
        *out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return rc < 0 ? rc : 0;
}

static void gtext(PGresult *r, int row, int col, char *out, size_t n)
{
    sdra_strlcpy(out, PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col), n);
}

static int64_t gl(PGresult *r, int row, int col) { return strtoll(PQgetvalue(r, row, col), NULL, 10); }
static int gi(PGresult *r, int row, int col) { return (int)strtol(PQgetvalue(r, row, col), NULL, 10); }

/* Transactions: a function that fails inside one jumps to its exit, where release() rolls back
 * whatever transaction the connection still has open (or is in error). */
static int begin(PGconn *c, sdra_error *err)
{
    int rc = pq(c, NULL, err, "begin", "BEGIN", NULL);
    return rc < 0 ? rc : 0;
}

static int commit(PGconn *c, sdra_error *err)
{
    int rc = pq(c, NULL, err, "commit", "COMMIT", NULL);
    return rc < 0 ? rc : 0;
}

static void rollback(PGconn *c) { PQclear(PQexec(c, "ROLLBACK")); }

/* ---- connections ----------------------------------------------------------------------- */

/* Connects to url; failures are one line naming the server (never the password): unreachable
 * SDRA_ERETRY, refused login SDRA_EDENIED, missing database SDRA_ENOTFOUND, bad URL SDRA_EINVAL. */
static int pg_connect(const char *url, PGconn **out, sdra_error *err)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    if (!opts) {
        char line[300];
        first_line(perr ? perr : "out of memory", line, sizeof line);
        PQfreemem(perr);
        return sdra_error_set(err, SDRA_EINVAL, "store: bad PostgreSQL URL: %s", line);
    }
    PQconninfoFree(opts);
    PGconn *c = PQconnectdb(url);
    if (!c)
        return sdra_error_set(err, SDRA_ENOMEM, "store: out of memory");
    if (PQstatus(c) != CONNECTION_OK) {
        char line[300], where[200];
        const char *m = PQerrorMessage(c);
        const char *host = PQhost(c), *port = PQport(c), *db = PQdb(c), *user = PQuser(c);
        snprintf(where, sizeof where, "%s%s%s", host && *host ? host : "localhost", port && *port ? ":" : "",
                 port ? port : "");
        /* libpq prefixes 'connection to server at "h" (a), port p failed: ' on each attempt */
        const char *why = strstr(m, "failed: ");
        first_line(why ? why + 8 : m, line, sizeof line);
        int rc;
        if (strstr(m, "password authentication failed") || strstr(m, "no password supplied") ||
            strstr(m, "authentication failed") || strstr(m, "no pg_hba.conf entry"))
            rc = sdra_error_set(err, SDRA_EDENIED, "store: PostgreSQL at %s refused the login of user %s: %s", where,
                                user ? user : "?", line);
        else if (strstr(m, "database \"") && strstr(m, "does not exist"))
            rc = sdra_error_set(err, SDRA_ENOTFOUND, "store: PostgreSQL at %s has no database %s (create it first)",
                                where, db ? db : "?");
        else
            rc = sdra_error_set(err, SDRA_ERETRY, "store: cannot reach PostgreSQL at %s: %s", where, line);
        PQfinish(c);
        return rc;
    }
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    *out = c;
    return 0;
}

/* Takes an idle connection, connecting another while fewer than POOL_MAX are open, else waits. */
static int acquire(sdra_store *s, PGconn **out, sdra_error *err)
{
    pg_store *p = PG(s);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->n_idle > 0) {
            *out = p->idle[--p->n_idle];
            pthread_mutex_unlock(&p->mu);
            return 0;
        }
        if (p->n_open < POOL_MAX) {
            p->n_open++;
            pthread_mutex_unlock(&p->mu);
            int rc = pg_connect(p->url, out, err);
            if (rc < 0) {
                pthread_mutex_lock(&p->mu);
                p->n_open--;
                pthread_cond_signal(&p->cv);
                pthread_mutex_unlock(&p->mu);
            }
            return rc;
        }
        pthread_cond_wait(&p->cv, &p->mu);
    }
}

/* Gives the connection back; a broken one is closed, and so are the idle ones (they talked to
 * the same server, which has most likely restarted), so that the next calls connect afresh. */
static void release(sdra_store *s, PGconn *c)
{
    pg_store *p = PG(s);
    PGconn *drop[POOL_MAX];
    int n_drop = 0;
    pthread_mutex_lock(&p->mu);
    if (PQstatus(c) != CONNECTION_OK) {
        drop[n_drop++] = c;
        while (p->n_idle > 0)
            drop[n_drop++] = p->idle[--p->n_idle];
        p->n_open -= n_drop;
    } else {
        if (PQtransactionStatus(c) != PQTRANS_IDLE)
            rollback(c); /* never hand on an open transaction */
        p->idle[p->n_idle++] = c;
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < n_drop; i++)
        PQfinish(drop[i]);
}

#define ACQUIRE(c)                                                                                                \
    PGconn *c = NULL;                                                                                             \
    do {                                                                                                          \
        int arc_ = acquire(s, &c, err);                                                                           \
        if (arc_ < 0)                                                                                             \
            return arc_;                                                                                          \
    } while (0)

/* ---- schema migrations ------------------------------------------------------------------- */

/* Migration i takes the schema from version i to i + 1. Append only: never edit one that has
 * shipped. */
static const char *const MIGRATIONS[] = {
    /* 1: the tables of sqlite.c's latest schema */
    "CREATE TABLE calls (id VARCHAR(64) PRIMARY KEY, status VARCHAR(16) NOT NULL, meta TEXT NOT NULL,"
    " created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL, org VARCHAR(64) NOT NULL DEFAULT 'default',"
    " audio_bytes BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX calls_by_status ON calls (status, created_ms);"
    "CREATE INDEX calls_by_created ON calls (created_ms);"
    "CREATE INDEX calls_by_org ON calls (org, created_ms);"
    "CREATE TABLE jobs (call_id VARCHAR(64) NOT NULL, stage INTEGER NOT NULL, state VARCHAR(16) NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, run_after_ms BIGINT NOT NULL, lease_owner VARCHAR(64),"
    " lease_expires_ms BIGINT NOT NULL DEFAULT 0, queued_ms BIGINT NOT NULL, started_ms BIGINT NOT NULL DEFAULT 0,"
    " finished_ms BIGINT NOT NULL DEFAULT 0, last_error TEXT, PRIMARY KEY (call_id, stage));"
    "CREATE INDEX jobs_runnable ON jobs (stage, state, run_after_ms);"
    "CREATE TABLE artifacts (call_id VARCHAR(64) NOT NULL, name VARCHAR(64) NOT NULL, stage INTEGER NOT NULL,"
    " path TEXT NOT NULL, sha256 VARCHAR(64) NOT NULL, size_bytes BIGINT NOT NULL, created_ms BIGINT NOT NULL,"
    " PRIMARY KEY (call_id, name));"
    "CREATE TABLE outbox (idem_key VARCHAR(128) PRIMARY KEY, call_id VARCHAR(64) NOT NULL, kind VARCHAR(32) NOT NULL,"
    " payload TEXT NOT NULL, state VARCHAR(16) NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " lease_owner VARCHAR(64), lease_expires_ms BIGINT NOT NULL DEFAULT 0, created_ms BIGINT NOT NULL,"
    " done_ms BIGINT NOT NULL DEFAULT 0, org VARCHAR(64) NOT NULL DEFAULT 'default',"
    " send_at_ms BIGINT NOT NULL DEFAULT 0, next_attempt_ms BIGINT NOT NULL DEFAULT 0,"
    " updated_ms BIGINT NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '', remote_id TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX outbox_due ON outbox (state, next_attempt_ms);"
    "CREATE INDEX outbox_by_org ON outbox (org, created_ms);"
    "CREATE TABLE api_keys (id VARCHAR(64) PRIMARY KEY, name VARCHAR(128) NOT NULL UNIQUE,"
    " scope VARCHAR(16) NOT NULL, hash VARCHAR(128) NOT NULL, created_ms BIGINT NOT NULL,"
    " revoked_ms BIGINT NOT NULL DEFAULT 0, org VARCHAR(64) NOT NULL DEFAULT 'default');"
    "CREATE INDEX api_keys_by_org ON api_keys (org);"
    "CREATE TABLE audit_log (id BIGINT PRIMARY KEY, at_ms BIGINT NOT NULL, actor VARCHAR(64) NOT NULL,"
    " action VARCHAR(64) NOT NULL, target VARCHAR(64) NOT NULL, ip VARCHAR(64) NOT NULL DEFAULT '',"
    " detail TEXT NOT NULL DEFAULT '', prev_hash VARCHAR(64), hash VARCHAR(64),"
    " org VARCHAR(64) NOT NULL DEFAULT 'default', hash_v INTEGER NOT NULL DEFAULT 1);"
    "CREATE INDEX audit_by_target ON audit_log (target);"
    "CREATE INDEX audit_by_actor ON audit_log (actor);"
    "CREATE TABLE orgs (name VARCHAR(64) PRIMARY KEY, max_active INTEGER NOT NULL DEFAULT 0,"
    " max_storage_bytes BIGINT NOT NULL DEFAULT 0, updated_ms BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE call_subjects (seq BIGSERIAL, call_id VARCHAR(64) NOT NULL, org VARCHAR(64) NOT NULL,"
    " token VARCHAR(64) NOT NULL, PRIMARY KEY (call_id, org, token));"
    "CREATE INDEX call_subjects_by_token ON call_subjects (org, token);"
    "CREATE TABLE subject_pseudonyms (org VARCHAR(64) NOT NULL, token VARCHAR(64) NOT NULL,"
    " pseudonym VARCHAR(64) NOT NULL, created_ms BIGINT NOT NULL, PRIMARY KEY (org, token));"
    "CREATE TABLE retention_policies (org VARCHAR(64) PRIMARY KEY, audio_days INTEGER NOT NULL DEFAULT 0,"
    " transcript_days INTEGER NOT NULL DEFAULT 0, analysis_days INTEGER NOT NULL DEFAULT 0,"
    " email_days INTEGER NOT NULL DEFAULT 0, call_days INTEGER NOT NULL DEFAULT 0,"
    " crm_days INTEGER NOT NULL DEFAULT 0, require_consent INTEGER NOT NULL DEFAULT 0, updated_ms BIGINT NOT NULL);"
    "CREATE TABLE call_keys (id TEXT PRIMARY KEY, master_id TEXT NOT NULL, wrapped BYTEA NOT NULL,"
    " created_ms BIGINT NOT NULL);"
    "CREATE TABLE call_search (call_id VARCHAR(64) PRIMARY KEY, org VARCHAR(64) NOT NULL, day VARCHAR(10),"
    " people_words TSVECTOR NOT NULL, outcome TSVECTOR NOT NULL, objections TSVECTOR NOT NULL);"
    "CREATE INDEX call_search_terms ON call_search USING GIN (people_words);"
    /* wake the workers (wait_work) when a job or an outbox entry becomes runnable */
    "CREATE FUNCTION sdra_notify_work() RETURNS trigger LANGUAGE plpgsql AS"
    " $f$ BEGIN PERFORM pg_notify('sdra_work', TG_TABLE_NAME); RETURN NULL; END $f$;"
    "CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE OF state, run_after_ms ON jobs FOR EACH ROW"
    " WHEN (NEW.state = 'queued') EXECUTE FUNCTION sdra_notify_work();"
    "CREATE TRIGGER outbox_notify AFTER INSERT OR UPDATE OF state ON outbox FOR EACH ROW"
    " WHEN (NEW.state = 'queued') EXECUTE FUNCTION sdra_notify_work();",
    /* 2: search folds accents as sqlite.c's FTS5 (remove_diacritics) does: "José" and "jose"
     * are one word. sdra_fold is PostgreSQL's unaccent (contrib, a trusted extension) where it
     * can be installed, else translate() over the Latin-1 and Latin Extended-A letters. The
     * rows indexed before are dropped: the server's search backfill indexes them again. */
    "DO $m$ DECLARE ns text; BEGIN"
    " BEGIN CREATE EXTENSION IF NOT EXISTS unaccent; EXCEPTION WHEN OTHERS THEN NULL; END;"
    " SELECT n.nspname INTO ns FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
    " WHERE e.extname = 'unaccent';"
    " IF ns IS NOT NULL THEN"
    " EXECUTE format('CREATE OR REPLACE FUNCTION sdra_fold(t text) RETURNS text LANGUAGE sql IMMUTABLE"
    " PARALLEL SAFE STRICT AS $f$ SELECT %I.unaccent(%L::regdictionary, t) $f$', ns, ns || '.unaccent');"
    " ELSE"
    " CREATE OR REPLACE FUNCTION sdra_fold(t text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS"
    " $f$ SELECT translate(t, '"
    "ÀÁÂÃÄÅàáâãäåĀāĂăĄąÇçĆćĈĉĊċČčĎďĐđÈÉÊËèéêëĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĦħÌÍÎÏìíîïĨĩĪīĬĭĮįİıĴĵĶķĹĺĻļĽľĿŀŁłÑñŃńŅņŇňÒÓÔÕÖØòóôõöøŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŦŧÙÚÛÜùúûüŨũŪūŬŭŮůŰűŲųŴŵÝýÿŶŷŸŹźŻżŽž',"
    " '"
    "AAAAAAaaaaaaAaAaAaCcCcCcCcCcDdDdEEEEeeeeEeEeEeEeEeGgGgGgGgHhHhIIIIiiiiIiIiIiIiIiJjKkLlLlLlLlLlNnNnNnNnOOOOOOooooooOoOoOoRrRrRrSsSsSsSsTtTtTtUUUUuuuuUuUuUuUuUuUuWwYyyYyYZzZzZz') $f$;"
    " END IF; END $m$;"
    "DELETE FROM call_search;",
};
#define N_MIGRATIONS ((int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]))

/* Brings the schema up to N_MIGRATIONS in one transaction (concurrent opens wait on the lock);
 * a newer schema is SDRA_EUNSUPPORTED and nothing changes. */
static int migrate(PGconn *c, sdra_error *err)
{
    int64_t v = 0;
    int rc = begin(c, err);
    if (rc < 0)
        return rc;
    if ((rc = pq(c, NULL, err, "migration lock", "SELECT pg_advisory_xact_lock($1)", "l", (int64_t)MIGRATE_LOCK)) < 0 ||
        (rc = pq(c, NULL, err, "schema_version",
                 "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)",
                 NULL)) < 0 ||
        (rc = pq_int64(c, &v, NULL, err, "SELECT COALESCE(MAX(version), 0) FROM schema_version", NULL)) < 0)
        goto fail;
    if (v > N_MIGRATIONS) {
        rc = sdra_error_set(err, SDRA_EUNSUPPORTED,
                            "store: the database schema is version %lld, newer than this sdra knows (%d): "
                            "upgrade sdra before using this database",
                            (long long)v, N_MIGRATIONS);
        goto fail;
    }
    for (int i = (int)v; i < N_MIGRATIONS; i++) {
        PGresult *r = PQexec(c, MIGRATIONS[i]);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            rc = pq_fail(c, r, err, "schema migration");
            PQclear(r);
            goto fail;
        }
        PQclear(r);
        if ((rc = pq(c, NULL, err, "schema_version", "INSERT INTO schema_version (version, applied_ms) VALUES ($1, $2)",
                     "il", i + 1, sdra_store_now_ms())) < 0)
            goto fail;
        sdra_log(SDRA_LOG_INFO, "store: PostgreSQL schema migrated to version %d", i + 1);
    }
    return commit(c, err);
fail:
    rollback(c);
    return rc;
}

/* ---- calls --------------------------------------------------------------------------------- */

#define CALL_COLS "SELECT id, status, meta, created_ms, updated_ms, org, audio_bytes FROM calls "

static int row_to_call(PGresult *r, int i, sdra_store_call *c, sdra_error *err)
{
    gtext(r, i, 0, c->id, sizeof c->id);
    gtext(r, i, 1, c->status, sizeof c->status);
    c->meta_json = strdup(PQgetvalue(r, i, 2));
    c->created_ms = gl(r, i, 3);
    c->updated_ms = gl(r, i, 4);
    gtext(r, i, 5, c->org, sizeof c->org);
    c->audio_bytes = gl(r, i, 6);
    return c->meta_json ? 0 : sdra_error_set(err, SDRA_ENOMEM, "store: out of memory");
}

/* Copies a query's rows into out (at most limit), releasing them all on failure. */
static int rows_to_calls(PGresult *r, sdra_store_call *out, int limit, int *n_out, sdra_error *err)
{
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(r) && *n_out < limit; i++)
        if ((rc = row_to_call(r, i, &out[*n_out], err)) == 0)
            (*n_out)++;
    if (rc < 0) {
        for (int i = 0; i < *n_out; i++)
            sdra_store_call_release(&out[i]);
        *n_out = 0;
    }
    return rc;
}

#define ORG_USAGE_SQL                                                                                          \
    "SELECT COALESCE((SELECT max_active FROM orgs WHERE name = $1), 0),"                                       \
    " COALESCE((SELECT max_storage_bytes FROM orgs WHERE name = $1), 0),"                                      \
    " (SELECT COUNT(*) FROM calls WHERE org = $1 AND status IN ('queued','running')),"                         \
    " COALESCE((SELECT SUM(audio_bytes) FROM calls WHERE org = $1), 0)"                                        \
    " + COALESCE((SELECT SUM(a.size_bytes) FROM artifacts a JOIN calls c ON c.id = a.call_id WHERE c.org = $1), 0),"\
    " (SELECT COUNT(*) FROM api_keys WHERE org = $1)"

static int org_usage(PGconn *c, const char *org, sdra_store_org *o, sdra_error *err)
{
    PGresult *r = NULL;
    int rc = pq(c, &r, err, "organisation usage", ORG_USAGE_SQL, "s", org);
    if (rc > 0) {
        sdra_strlcpy(o->name, org, sizeof o->name);
        o->max_active = gi(r, 0, 0);
        o->max_storage_bytes = gl(r, 0, 1);
        o->n_active = gi(r, 0, 2);
        o->storage_bytes = gl(r, 0, 3);
        o->n_keys = gi(r, 0, 4);
    }
    PQclear(r);
    return rc < 0 ? rc : 0;
}

static int pg_call_create(sdra_store *s, const char *org, const char *id, const char *meta, int64_t audio_bytes,
                          int first_stage, int64_t now, int max_active, sdra_error *err)
{
    ACQUIRE(c);
    int rc = begin(c, err);
    if (rc < 0)
        goto done;
    /* admission is serialised so that two nodes cannot both take the last free place */
    if ((rc = pq(c, NULL, err, "admission lock", "SELECT pg_advisory_xact_lock($1)", "l", (int64_t)ADMIT_LOCK)) < 0)
        goto done;
    if (max_active > 0) {
        int64_t n = 0;
        if ((rc = pq_int64(c, &n, NULL, err, "SELECT COUNT(*) FROM calls WHERE status IN ('queued','running')", NULL)) < 0)
            goto done;
        if (n >= max_active) {
            rc = sdra_error_set(err, SDRA_ELIMIT, "queue full: %lld calls waiting or running", (long long)n);
            goto done;
        }
    }
    sdra_store_org o = {0};
    if ((rc = org_usage(c, org, &o, err)) < 0)
        goto done;
    if (o.max_active > 0 && o.n_active >= o.max_active) {
        rc = sdra_error_set(err, SDRA_ELIMIT, "organisation %s has %d calls queued or running (its quota is %d)", org,
                            o.n_active, o.max_active);
        goto done;
    }
    if (o.max_storage_bytes > 0 && o.storage_bytes + audio_bytes > o.max_storage_bytes) {
        rc = sdra_error_set(err, SDRA_ELIMIT,
                            "organisation %s stores %lld bytes; %lld more would exceed its quota of %lld bytes", org,
                            (long long)o.storage_bytes, (long long)audio_bytes, (long long)o.max_storage_bytes);
        goto done;
    }
    rc = pq(c, NULL, err, "call create",
            "INSERT INTO calls (id, status, meta, created_ms, updated_ms, org, audio_bytes)"
            " VALUES ($1, 'queued', $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
            "ssllsl", id, meta, now, now, org, audio_bytes);
    if (rc == 0)
        rc = sdra_error_set(err, SDRA_EEXISTS, "call %s already exists", id);
    if (rc < 0)
        goto done;
    if ((rc = pq(c, NULL, err, "job create",
                 "INSERT INTO jobs (call_id, stage, state, attempts, run_after_ms, queued_ms)"
                 " VALUES ($1, $2, 'queued', 0, $3, $4)",
                 "sill", id, first_stage, now, now)) < 0)
        goto done;
    rc = commit(c, err);
done:
    release(s, c);
    return rc < 0 ? rc : 0;
}

static int pg_call_get(sdra_store *s, const char *org, const char *id, sdra_store_call *out, sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    int rc = pq(c, &r, err, "call get", CALL_COLS "WHERE id = $1 AND ($2::text IS NULL OR org = $2)", "ss", id, org);
    if (rc == 0)
        rc = sdra_error_set(err, SDRA_ENOTFOUND, "call %s not found", id);
    else if (rc > 0)
        rc = row_to_call(r, 0, out, err);
    PQclear(r);
    release(s, c);
    return rc;
}

static int pg_call_list(sdra_store *s, const char *org, const char *status, int offset, int limit,
                        sdra_store_call *out, int *n_out, sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    int rc = pq(c, &r, err, "call list",
                CALL_COLS "WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR org = $2)"
                          " ORDER BY created_ms DESC, id LIMIT $3 OFFSET $4",
                "ssii", status, org, limit, offset);
    if (rc >= 0)
        rc = rows_to_calls(r, out, limit, n_out, err);
    PQclear(r);
    release(s, c);
    return rc;
}

static int pg_call_delete(sdra_store *s, const char *org, const char *id, sdra_error *err)
{
    ACQUIRE(c);
    int rc = begin(c, err);
    if (rc < 0)
        goto done;
    if ((rc = pq(c, NULL, err, "call delete", "DELETE FROM calls WHERE id = $1 AND ($2::text IS NULL OR org = $2)", "ss",
                 id, org)) < 0)
        goto done;
    if (rc == 0) {
        rc = sdra_error_set(err, SDRA_ENOTFOUND, "call %s not found", id);
        goto done;
    }
    static const char *const deps[] = {
        "DELETE FROM jobs WHERE call_id = $1",          "DELETE FROM artifacts WHERE call_id = $1",
        "DELETE FROM outbox WHERE call_id = $1",        "DELETE FROM call_subjects WHERE call_id = $1",
        "DELETE FROM call_keys WHERE id = $1", /* crypto-shredding */
        "DELETE FROM call_search WHERE call_id = $1",
    };
    for (size_t i = 0; i < sizeof deps / sizeof deps[0]; i++)
        if ((rc = pq(c, NULL, err, "call delete", deps[i], "s", id)) < 0)
            goto done;
    rc = commit(c, err);
done:
    release(s, c);
    return rc < 0 ? rc : 0;
}

static const char *SET_STATUS_FROM_JOBS =
    "UPDATE calls SET updated_ms = $1, status = CASE"
    " WHEN EXISTS (SELECT 1 FROM jobs WHERE call_id = $2 AND state = 'dead') THEN 'failed'"
    " WHEN EXISTS (SELECT 1 FROM jobs WHERE call_id = $2 AND (state = 'running' OR state = 'done'))"
    "  THEN 'running' ELSE 'queued' END WHERE id = $2";

static int pg_call_retry(sdra_store *s, const char *org, const char *id, int64_t now, sdra_error *err)
{
    ACQUIRE(c);
    int found = 0;
    int64_t one;
    int rc = begin(c, err);
    if (rc < 0)
        goto done;
    if ((rc = pq_int64(c, &one, &found, err, "SELECT 1 FROM calls WHERE id = $1 AND ($2::text IS NULL OR org = $2) FOR UPDATE",
                       "ss", id, org)) < 0)
        goto done;
    if (!found) {
        rc = sdra_error_set(err, SDRA_ENOTFOUND, "call %s not found", id);
        goto done;
    }
    if ((rc = pq(c, NULL, err, "call retry",
                 "UPDATE jobs SET state = 'queued', attempts = 0, run_after_ms = $1, queued_ms = $1,"
                 " lease_owner = NULL, lease_expires_ms = 0, finished_ms = 0 WHERE call_id = $2 AND state = 'dead'",
                 "ls", now, id)) < 0)
        goto done;
    if (rc == 0) {
        rc = sdra_error_set(err, SDRA_EINVAL, "call %s has no failed job to retry", id);
        goto done;
    }
    if ((rc = pq(c, NULL, err, "call retry", SET_STATUS_FROM_JOBS, "ls", now, id)) < 0)
        goto done;
    rc = commit(c, err);
done:
    release(s, c);
    return rc < 0 ? rc : 0;
}

static int pg_count_active(sdra_store *s, const char *org, int *n_out, sdra_error *err)
{
    ACQUIRE(c);
    int64_t n = 0;
    int rc = pq_int64(c, &n, NULL, err,
                      "SELECT COUNT(*) FROM calls WHERE status IN ('queued','running') AND ($1::text IS NULL OR org = $1)",
                      "s", org);
    release(s, c);
    *n_out = (int)n;
    return rc;
}

static int pg_call_set_meta(sdra_store *s, const char *org, const char *id, const char *meta, sdra_error *err)
{
    ACQUIRE(c);
    int rc = pq(c, NULL, err, "call metadata", "UPDATE calls SET meta = $1 WHERE id = $2 AND ($3::text IS NULL OR org = $3)",
                "sss", meta, id, org);
    release(s, c);
    if (rc == 0)
        return sdra_error_set(err, SDRA_ENOTFOUND, "call %s not found", id);
    return rc < 0 ? rc : 0;
}

/* ---- jobs ------------------------------------------------------------------------------------ */

#define JOB_COLS_BARE                                                                                    \
    "call_id, stage, state, attempts, run_after_ms, lease_owner, lease_expires_ms, queued_ms, started_ms," \
    " finished_ms, last_error"
#define JOB_COLS "SELECT " JOB_COLS_BARE " FROM jobs "

static void row_to_job(PGresult *r, int i, sdra_store_job *j)
{
    char state[SDRA_STORE_STATE_MAX];
    memset(j, 0, sizeof *j);
    gtext(r, i, 0, j->call_id, sizeof j->call_id);
    j->stage = gi(r, i, 1);
    gtext(r, i, 2, state, sizeof state);
    j->state = sdra_job_state_parse(state);
    j->attempts = gi(r, i, 3);
    j->run_after_ms = gl(r, i, 4);
    gtext(r, i, 5, j->lease_owner, sizeof j->lease_owner);
    j->lease_expires_ms = gl(r, i, 6);
    j->queued_ms = gl(r, i, 7);
    j->started_ms = gl(r, i, 8);
    j->finished_ms = gl(r, i, 9);
    gtext(r, i, 10, j->last_error, sizeof j->last_error);
}

static int pg_job_claim(sdra_store *s, int stage, const char *owner, int64_t now, int64_t lease_ms, int max_attempts,
                        sdra_store_job *out, sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    char call_id[SDRA_STORE_ID_MAX] = "";
    int rc = begin(c, err);
    if (rc < 0)
        goto done;
    /* A worker that died holding a job that already used all its attempts: the job is dead
     * (rows another claimer holds are left to it). */
    if ((rc = pq(c, NULL, err, "claim",
                 "WITH d AS (UPDATE jobs SET state = 'dead', finished_ms = $1, lease_owner = NULL,"
                 " last_error = 'lease expired: the worker stopped during every attempt'"
                 " WHERE (call_id, stage) IN (SELECT call_id, stage FROM jobs WHERE stage = $2 AND state = 'running'"
                 " AND lease_expires_ms < $1 AND attempts >= $3 FOR UPDATE SKIP LOCKED) RETURNING call_id)"
                 " UPDATE calls SET status = 'failed', updated_ms = $1 WHERE status <> 'failed'"
                 " AND id IN (SELECT call_id FROM d)",
                 "lii", now, stage, max_attempts)) < 0)
        goto done;
    if ((rc = pq(c, &r, err, "claim",
                 "SELECT call_id FROM jobs WHERE stage = $1 AND ((state = 'queued' AND run_after_ms <= $2)"
                 " OR (state = 'running' AND lease_expires_ms < $2)) ORDER BY run_after_ms, queued_ms LIMIT 1"
                 " FOR UPDATE SKIP LOCKED",
                 "il", stage, now)) < 0)
        goto done;
    if (rc > 0)
        gtext(r, 0, 0, call_id, sizeof call_id);
    PQclear(r);
    r = NULL;
    if (!call_id[0]) { /* the normal "nothing to do" (no message); keep any dead-lettering */
        rc = commit(c, err);
        if (rc == 0)
            rc = SDRA_ENOTFOUND;
        goto done;
    }
    if ((rc = pq(c, &r, err, "claim",
                 "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = $1,"
                 " lease_expires_ms = $2, started_ms = $3 WHERE call_id = $4 AND stage = $5 RETURNING " JOB_COLS_BARE,
                 "sllsi", owner, now + lease_ms, now, call_id, stage)) < 0)
        goto done;
    row_to_job(r, 0, out);
    if ((rc = pq(c, NULL, err, "claim",
                 "UPDATE calls SET status = 'running', updated_ms = $1 WHERE id = $2 AND status = 'queued'", "ls", now,
                 call_id)) < 0)
        goto done;
    rc = commit(c, err);
done:
    PQclear(r);
    release(s, c);
    return rc < 0 ? rc : 0;
}

static int pg_job_heartbeat(sdra_store *s, const sdra_store_job *job, int64_t now, int64_t lease_ms, sdra_error *err)
{
    ACQUIRE(c);
    int rc = pq(c, NULL, err, "heartbeat",
                "UPDATE jobs SET lease_expires_ms = $1 WHERE call_id = $2 AND stage = $3 AND state = 'running'"
                " AND lease_owner = $4",
                "lsis", now + lease_ms, job->call_id, job->stage, job->lease_owner);
    release(s, c);
    if (rc == 0)
        rc = sdra_error_set(err, SDRA_EEXISTS, "job %s/%d: lease lost", job->call_id, job->stage);
    return rc < 0 ? rc : 0;
}

static int fx_insert(PGconn *c, const sdra_store_outbox_new *fx, int n_fx, int64_t now, sdra_error *err);

static int pg_job_complete_fx(sdra_store *s, const sdra_store_job *job, const sdra_store_artifact *arts, int n_arts,
                              int next_stage, const sdra_store_outbox_new *fx, int n_fx, int64_t now, sdra_error *err)
{
    ACQUIRE(c);
    int rc = begin(c, err);
    if (rc < 0)
        goto done;
    if ((rc = pq(c, NULL, err, "complete",
                 "UPDATE jobs SET state = 'done', finished_ms = $1, lease_owner = NULL, lease_expires_ms = 0,"
                 " last_error = NULL WHERE call_id = $2 AND stage = $3 AND state = 'running' AND lease_owner = $4",
                 "lsis", now, job->call_id, job->stage, job->lease_owner)) < 0)
        goto done;
    if (rc == 0) {
        rc = sdra_error_set(err, SDRA_EEXISTS, "job %s/%d: lease lost, result discarded", job->call_id, job->stage);
        goto done;
    }
    for (int i = 0; i < n_arts; i++)
        if ((rc = pq(c, NULL, err, "artifact",
                     "INSERT INTO artifacts (call_id, name, stage, path, sha256, size_bytes, created_ms)"
                     " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (call_id, name) DO UPDATE SET"
                     " stage = excluded.stage, path = excluded.path, sha256 = excluded.sha256,"
                     " size_bytes = excluded.size_bytes, created_ms = excluded.created_ms",
                     "ssissll", job->call_id, arts[i].name, job->stage, arts[i].path, arts[i].sha256,
                     arts[i].size_bytes, now)) < 0)
            goto done;
    if (next_stage >= 0) {
        if ((rc = pq(c, NULL, err, "next job",
                     "INSERT INTO jobs (call_id, stage, state, attempts, run_after_ms, queued_ms)"
                     " VALUES ($1, $2, 'queued', 0, $3, $3) ON CONFLICT (call_id, stage) DO NOTHING",
                     "sil", job->call_id, next_stage, now)) < 0)
            goto done;
        rc = pq(c, NULL, err, "complete", "UPDATE calls SET status = 'running', updated_ms = $1 WHERE id = $2", "ls", now,
                job->call_id);
    } else {
        rc = pq(c, NULL, err, "complete", "UPDATE calls SET status = 'done', updated_ms = $1 WHERE id = $2", "ls", now,
                job->call_id);
    }
    if (rc < 0 || (rc = fx_insert(c, fx, n_fx, now, err)) < 0)
        goto done;
    rc = commit(c, err);
done:
    release(s, c);
    return rc < 0 ? rc : 0;
}

static int pg_job_complete(sdra_store *s, const sdra_store_job *job, const sdra_store_artifact *arts, int n_arts,
                           int next_stage, int64_t now, sdra_error *err)
{
    return pg_job_complete_fx(s, job, arts, n_arts, next_stage, NULL, 0, now, err);
}

static int pg_job_fail_fx(sdra_store *s, const sdra_store_job *job, const char *msg, bool retryable, int64_t retry_at,
                          int max_attempts, const sdra_store_outbox_new *fx, int n_fx, int64_t now, sdra_error *err)
{
    ACQUIRE(c);
    int64_t attempts = 0;
    int found = 0;
    int rc = begin(c, err);
    if (rc < 0)
        goto done;
    if ((rc = pq_int64(c, &attempts, &found, err,
                       "SELECT attempts FROM jobs WHERE call_id = $1 AND stage = $2 AND state = 'running'"
                       " AND lease_owner = $3 FOR UPDATE",
                       "sis", job->call_id, job->stage, job->lease_owner)) < 0)
        goto done;
    if (!found) {
        rc = sdra_error_set(err, SDRA_EEXISTS, "job %s/%d: lease lost", job->call_id, job->stage);
        goto done;
    }
    if (retryable && attempts < max_attempts) {
        rc = pq(c, NULL, err, "fail",
                "UPDATE jobs SET state = 'queued', run_after_ms = $1, lease_owner = NULL, lease_expires_ms = 0,"
                " last_error = $2 WHERE call_id = $3 AND stage = $4",
                "lssi", retry_at, msg, job->call_id, job->stage);
    } else {
        rc = pq(c, NULL, err, "fail",
                "UPDATE jobs SET state = 'dead', finished_ms = $1, lease_owner = NULL, lease_expires_ms = 0,"
                " last_error = $2 WHERE call_id = $3 AND stage = $4",
                "lssi", now, msg, job->call_id, job->stage);
        if (rc >= 0)
            rc = pq(c, NULL, err, "fail", "UPDATE calls SET status = 'failed', updated_ms = $1 WHERE id = $2", "ls", now,
                    job->call_id);
        if (rc >= 0) /* the effects of a call that failed for good (a call.failed webhook) */
            rc = fx_insert(c, fx, n_fx, now, err);
    }
    if (rc < 0)
        goto done;
    rc = commit(c, err);
done:
    release(s, c);
    return rc < 0 ? rc : 0;
}

static int pg_job_fail(sdra_store *s, const sdra_store_job *job, const char *msg, bool retryable, int64_t retry_at,
                       int max_attempts, int64_t now, sdra_error *err)
{
    return pg_job_fail_fx(s, job, msg, retryable, retry_at, max_attempts, NULL, 0, now, err);
}

/* A call's rows (jobs, artifacts) are the org's when the call is. */
#define IN_ORG " AND ($2::text IS NULL OR call_id IN (SELECT id FROM calls WHERE org = $2))"

static int pg_job_list(sdra_store *s, const char *org, const char *call_id, sdra_store_job *out, int max, int *n_out,
                       sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    int rc = pq(c, &r, err, "job list", JOB_COLS "WHERE call_id = $1" IN_ORG " ORDER BY stage", "ss", call_id, org);
    for (int i = 0; rc > 0 && i < PQntuples(r) && *n_out < max; i++)
        row_to_job(r, i, &out[(*n_out)++]);
    PQclear(r);
    release(s, c);
    return rc < 0 ? rc : 0;
}

static int pg_job_counts(sdra_store *s, int n_stages, int (*counts)[SDRA_N_JOB_STATES], sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    int rc = pq(c, &r, err, "job counts", "SELECT stage, state, COUNT(*) FROM jobs GROUP BY stage, state", NULL);
    for (int i = 0; rc > 0 && i < PQntuples(r); i++) {
        int stage = gi(r, i, 0), state = sdra_job_state_parse(PQgetvalue(r, i, 1));
        if (stage >= 0 && stage < n_stages && state >= 0)
            counts[stage][state] = gi(r, i, 2);
    }
    PQclear(r);
    release(s, c);
    return rc < 0 ? rc : 0;
}

static int pg_queue_oldest(sdra_store *s, int n_stages, int64_t *oldest_ms, sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    int rc = pq(c, &r, err, "queue oldest",
                "SELECT stage, MIN(queued_ms) FROM jobs WHERE state = 'queued' GROUP BY stage", NULL);
    for (int i = 0; rc > 0 && i < PQntuples(r); i++) {
        int stage = gi(r, i, 0);
        if (stage >= 0 && stage < n_stages)
            oldest_ms[stage] = gl(r, i, 1);
    }
    PQclear(r);
    release(s, c);
    return rc < 0 ? rc : 0;
}

/* ---- artifacts ------------------------------------------------------------------------------ */

#define ART_COLS "SELECT name, stage, path, sha256, size_bytes, created_ms FROM artifacts "

static void row_to_artifact(PGresult *r, int i, sdra_store_artifact *a)
{
    memset(a, 0, sizeof *a);
    gtext(r, i, 0, a->name, sizeof a->name);
    a->stage = gi(r, i, 1);
    gtext(r, i, 2, a->path, sizeof a->path);
    gtext(r, i, 3, a->sha256, sizeof a->sha256);
    a->size_bytes = gl(r, i, 4);
    a->created_ms = gl(r, i, 5);
}

static int pg_artifact_get(sdra_store *s, const char *org, const char *call_id, const char *name,
                           sdra_store_artifact *out, sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    int rc = pq(c, &r, err, "artifact get", ART_COLS "WHERE call_id = $1" IN_ORG " AND name = $3", "sss", call_id, org,
                name);
    if (rc == 0)
        rc = sdra_error_set(err, SDRA_ENOTFOUND, "call %s has no %s yet", call_id, name);
    else if (rc > 0)
        row_to_artifact(r, 0, out), rc = 0;
    PQclear(r);
    release(s, c);
    return rc;
}

static int pg_artifact_list(sdra_store *s, const char *org, const char *call_id, sdra_store_artifact *out, int max,
                            int *n_out, sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    int rc = pq(c, &r, err, "artifact list", ART_COLS "WHERE call_id = $1" IN_ORG " ORDER BY stage, name", "ss", call_id,
                org);
    for (int i = 0; rc > 0 && i < PQntuples(r) && *n_out < max; i++)
        row_to_artifact(r, i, &out[(*n_out)++]);
    PQclear(r);
    release(s, c);
    return rc < 0 ? rc : 0;
}

static int pg_artifact_delete(sdra_store *s, const char *call_id, const char *name, sdra_error *err)
{
    ACQUIRE(c);
    int rc = pq(c, NULL, err, "artifact delete", "DELETE FROM artifacts WHERE call_id = $1 AND name = $2", "ss", call_id,
                name);
    release(s, c);
    if (rc == 0)
        rc = sdra_error_set(err, SDRA_ENOTFOUND, "call %s has no artifact %s", call_id, name);
    return rc < 0 ? rc : 0;
}

/* ---- keys ------------------------------------------------------------------------------------ */

#define KEY_COLS "SELECT id, name, scope, hash, created_ms, revoked_ms, org FROM api_keys "

static void row_to_key(PGresult *r, int i, sdra_store_key *k)
{
    memset(k, 0, sizeof *k);
    gtext(r, i, 0, k->id, sizeof k->id);
    gtext(r, i, 1, k->name, sizeof k->name);
    gtext(r, i, 2, k->scope, sizeof k->scope);
    gtext(r, i, 3, k->hash, sizeof k->hash);
    k->created_ms = gl(r, i, 4);
    k->revoked_ms = gl(r, i, 5);
    gtext(r, i, 6, k->org, sizeof k->org);
}

static int pg_key_insert(sdra_store *s, const sdra_store_key *k, sdra_error *err)
{
    ACQUIRE(c);
    int rc = pq(c, NULL, err, "key insert",
                "INSERT INTO api_keys (id, name, scope, hash, created_ms, revoked_ms, org) VALUES ($1, $2, $3, $4, $5, 0, $6)",
                "ssssls", k->id, k->name, k->scope, k->hash, k->created_ms, k->org);
    release(s, c);
    if (rc == SDRA_EEXISTS)
        sdra_error_set(err, SDRA_EEXISTS, "an API key named '%s' already exists", k->name);
    return rc < 0 ? rc : 0;
}

static int pg_key_get(sdra_store *s, const char *id, sdra_store_key *out, sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    int rc = pq(c, &r, err, "key get", KEY_COLS "WHERE id = $1", "s", id);
    if (rc == 0)
        rc = sdra_error_set(err, SDRA_ENOTFOUND, "API key not found");
    else if (rc > 0)
        row_to_key(r, 0, out), rc = 0;
    PQclear(r);
    release(s, c);
    return rc;
}

static int pg_key_list(sdra_store *s, sdra_store_key *out, int max, int *n_out, sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    int rc = pq(c, &r, err, "key list", KEY_COLS "ORDER BY created_ms, id", NULL);
    for (int i = 0; rc > 0 && i < PQntuples(r) && *n_out < max; i++)
        row_to_key(r, i, &out[(*n_out)++]);
    PQclear(r);
    release(s, c);
    return rc < 0 ? rc : 0;
}

static int pg_key_revoke(sdra_store *s, const char *id_or_name, int64_t now, sdra_error *err)
{
    ACQUIRE(c);
    int rc = pq(c, NULL, err, "key revoke",
                "UPDATE api_keys SET revoked_ms = $1 WHERE (id = $2 OR name = $2) AND revoked_ms = 0", "ls", now,
                id_or_name);
    release(s, c);
    if (rc == 0)
        rc = sdra_error_set(err, SDRA_ENOTFOUND, "no valid API key '%s'", id_or_name);
    return rc < 0 ? rc : 0;
}

static int pg_key_delete(sdra_store *s, const char *id_or_name, char *id_out, sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    int rc = pq(c, &r, err, "key delete",
                "DELETE FROM api_keys WHERE id = (SELECT id FROM api_keys WHERE id = $1 OR name = $1"
                " ORDER BY (id = $1) DESC LIMIT 1) RETURNING id",
                "s", id_or_name);
    if (rc == 0)
        rc = sdra_error_set(err, SDRA_ENOTFOUND, "no API key '%s'", id_or_name);
    else if (rc > 0)
        gtext(r, 0, 0, id_out, SDRA_STORE_ID_MAX), rc = 0;
    PQclear(r);
    release(s, c);
    return rc;
}

/* ---- audit ----------------------------------------------------------------------------------- */

#define AUDIT_COLS "SELECT id, at_ms, actor, action, target, ip, detail, prev_hash, hash, org, hash_v FROM audit_log "

/* Whether every entry of batch records a read ("call.read", "calls.list", ...): nothing was
 * changed that the entry must outlive. */
static bool audit_batch_reads_only(const store_audit_waiter *batch)
{
    for (const store_audit_waiter *w = batch; w; w = w->next) {
        const char *dot = strrchr(w->e->action, '.');
        if (!dot || (strcmp(dot, ".read") && strcmp(dot, ".list")))
            return false;
    }
    return true;
}

/* One writer at a time (a table lock held to commit, whichever node) reads the chain's head
 * and appends the batch, so the chain never forks; concurrent appends of this process share
 * that one commit (store_audit_group_append).
 *
 * A batch of reads only commits with synchronous_commit off: the commit returns once it is in
 * the server's WAL buffers. Durable against a crash of sdra and a restart of PostgreSQL, lost
 * only on a crash of the PostgreSQL host within about 3 x wal_writer_delay (0.6 s by default),
 * and then without a gap in the chain (the WAL is replayed in order: the newest entries go,
 * not a middle one). Weaker than sqlite.c's synchronous=FULL for these rows, on purpose: a
 * synchronous commit per read held GET /v1/calls to 0.12x SQLite's rate. Any batch holding a
 * change (an upload, a key, an erasure, an auth failure) stays synchronous (docs/security.md). */
static int audit_write_batch(sdra_store *s, store_audit_waiter *batch, sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    char prev[65] = SDRA_STORE_AUDIT_GENESIS;
    int64_t last = 0;
    int rc = begin(c, err);
    if (rc < 0)
        goto done;
    if (audit_batch_reads_only(batch) &&
        (rc = pq(c, NULL, err, "audit commit mode", "SET LOCAL synchronous_commit = off", NULL)) < 0)
        goto done;
    if ((rc = pq(c, NULL, err, "audit lock", "LOCK TABLE audit_log IN EXCLUSIVE MODE", NULL)) < 0 ||
        (rc = pq(c, &r, err, "audit head", "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1", NULL)) < 0)
        goto done;
    if (rc > 0) {
        last = gl(r, 0, 0);
        gtext(r, 0, 1, prev, sizeof prev);
    }
    for (store_audit_waiter *w = batch; w; w = w->next) {
        sdra_store_audit_entry *e = w->e;
        e->id = ++last;
        sdra_strlcpy(e->prev_hash, prev, sizeof e->prev_hash);
        sdra_store_audit_hash(e, prev, e->hash);
        if ((rc = pq(c, NULL, err, "audit append",
                     "INSERT INTO audit_log (id, at_ms, actor, action, target, ip, detail, prev_hash, hash, org, hash_v)"
                     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                     "llssssssssi", e->id, e->at_ms, e->actor, e->action, e->target, e->ip, e->detail, e->prev_hash,
                     e->hash, e->org, e->hash_v)) < 0)
            goto done;
        memcpy(prev, e->hash, sizeof prev);
    }
    rc = commit(c, err);
done:
    PQclear(r);
    release(s, c);
    return rc < 0 ? rc : 0;
}

static int pg_audit_append(sdra_store *s, sdra_store_audit_entry *e, sdra_error *err)
{
    return store_audit_group_append(&PG(s)->aq, s, audit_write_batch, e, err);
}

static int pg_audit_query(sdra_store *s, const sdra_store_audit_filter *f, sdra_store_audit_entry *out, int max,
                          int *n_out, sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    int rc = pq(c, &r, err, "audit query",
                f->oldest_first
                    ? AUDIT_COLS "WHERE ($1::text IS NULL OR target = $1) AND ($2::text IS NULL OR actor = $2)"
                                 " AND ($3::text IS NULL OR action = $3) AND at_ms >= $4 AND id > $5"
                                 " AND ($7::text IS NULL OR org = $7) ORDER BY id ASC LIMIT $6"
                    : AUDIT_COLS "WHERE ($1::text IS NULL OR target = $1) AND ($2::text IS NULL OR actor = $2)"
                                 " AND ($3::text IS NULL OR action = $3) AND at_ms >= $4 AND id > $5"
                                 " AND ($7::text IS NULL OR org = $7) ORDER BY id DESC LIMIT $6",
                "sssllis", f->target, f->actor, f->action, f->since_ms, f->after_id, max, f->org);
    for (int i = 0; rc > 0 && i < PQntuples(r) && *n_out < max; i++) {
        sdra_store_audit_entry *e = &out[(*n_out)++];
        memset(e, 0, sizeof *e);
        e->id = gl(r, i, 0);
        e->at_ms = gl(r, i, 1);
        gtext(r, i, 2, e->actor, sizeof e->actor);
        gtext(r, i, 3, e->action, sizeof e->action);
        gtext(r, i, 4, e->target, sizeof e->target);
        gtext(r, i, 5, e->ip, sizeof e->ip);
        gtext(r, i, 6, e->detail, sizeof e->detail);
        gtext(r, i, 7, e->prev_hash, sizeof e->prev_hash);
        gtext(r, i, 8, e->hash, sizeof e->hash);
        gtext(r, i, 9, e->org, sizeof e->org);
        e->hash_v = gi(r, i, 10);
    }
    PQclear(r);
    release(s, c);
    return rc < 0 ? rc : 0;
}

static int pg_audit_count(sdra_store *s, const char *target, int *n_out, sdra_error *err)
{
    ACQUIRE(c);
    int64_t n = 0;
    int rc = pq_int64(c, &n, NULL, err, "SELECT COUNT(*) FROM audit_log WHERE target = $1", "s", target);
    release(s, c);
    *n_out = (int)n;
    return rc;
}

/* ---- outbox ------------------------------------------------------------------------------------ */

static int pg_outbox_put(sdra_store *s, const char *org, const char *key, const char *call_id, const char *kind,
                         const char *payload, int64_t now, sdra_error *err)
{
    ACQUIRE(c);
    int rc = pq(c, NULL, err, "outbox put",
                "INSERT INTO outbox (idem_key, call_id, kind, payload, state, created_ms, org)"
                " VALUES ($1, $2, $3, $4, 'queued', $5, $6) ON CONFLICT (idem_key) DO NOTHING",
                "ssssls", key, call_id, kind, payload, now, org);
    release(s, c);
    return rc < 0 ? rc : 0;
}

static int pg_outbox_claim(sdra_store *s, const char *owner, int64_t now, int64_t lease_ms, sdra_store_outbox_item *out,
                           sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    int rc = begin(c, err);
    if (rc < 0)
        goto done;
    if ((rc = pq(c, &r, err, "outbox claim",
                 "SELECT idem_key, call_id, kind, payload, attempts, org, state FROM outbox"
                 " WHERE (state = 'queued' AND next_attempt_ms <= $1) OR (state = 'running' AND lease_expires_ms < $1)"
                 " ORDER BY next_attempt_ms, created_ms LIMIT 1 FOR UPDATE SKIP LOCKED",
                 "l", now)) < 0)
        goto done;
    if (rc == 0) {
        rc = SDRA_ENOTFOUND;
        goto done;
    }
    gtext(r, 0, 0, out->key, sizeof out->key);
    gtext(r, 0, 1, out->call_id, sizeof out->call_id);
    gtext(r, 0, 2, out->kind, sizeof out->kind);
    out->payload = strdup(PQgetvalue(r, 0, 3));
    out->attempts = gi(r, 0, 4) + 1;
    gtext(r, 0, 5, out->org, sizeof out->org);
    out->resumed = !strcmp(PQgetvalue(r, 0, 6), "running");
    out->state = SDRA_JOB_RUNNING;
    sdra_strlcpy(out->lease_owner, owner, sizeof out->lease_owner);
    if (!out->payload) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "store: out of memory");
        goto done;
    }
    if ((rc = pq(c, NULL, err, "outbox claim",
                 "UPDATE outbox SET state = 'running', attempts = attempts + 1, lease_owner = $1,"
                 " lease_expires_ms = $2, updated_ms = $3 WHERE idem_key = $4",
                 "slls", owner, now + lease_ms, now, out->key)) < 0)
        goto done;
    rc = commit(c, err);
done:
    if (rc < 0)
        sdra_store_outbox_release(out);
    PQclear(r);
    release(s, c);
    return rc < 0 ? rc : 0;
}

static int pg_outbox_done(sdra_store *s, const char *key, sdra_error *err)
{
    ACQUIRE(c);
    int rc = pq(c, NULL, err, "outbox done", "UPDATE outbox SET state = 'done', lease_owner = NULL WHERE idem_key = $1",
                "s", key);
    release(s, c);
    if (rc == 0)
        rc = sdra_error_set(err, SDRA_ENOTFOUND, "outbox item '%s' not found", key);
    return rc < 0 ? rc : 0;
}

/* Inserts the effects (inside the caller's transaction); an existing key is left as it is. */
static int fx_insert(PGconn *c, const sdra_store_outbox_new *fx, int n_fx, int64_t now, sdra_error *err)
{
    for (int i = 0; i < n_fx; i++) {
        const sdra_store_outbox_new *e = &fx[i];
        int rc = pq(c, NULL, err, "outbox add",
                    "INSERT INTO outbox (idem_key, call_id, kind, payload, state, created_ms, org, send_at_ms,"
                    " next_attempt_ms, updated_ms, last_error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $6, $9)"
                    " ON CONFLICT (idem_key) DO NOTHING",
                    "ssssslsls", e->key, e->call_id ? e->call_id : "", e->kind, e->payload ? e->payload : "",
                    sdra_store_outbox_state_name(e->state), now, e->org, e->send_at_ms, e->reason ? e->reason : "");
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int pg_outbox_add(sdra_store *s, const sdra_store_outbox_new *e, int64_t now, sdra_error *err)
{
    ACQUIRE(c);
    int rc = fx_insert(c, e, 1, now, err);
    release(s, c);
    return rc;
}

#define OUTBOX_COLS                                                                               \
    "SELECT idem_key, call_id, kind, payload, state, attempts, org, send_at_ms, next_attempt_ms," \
    " created_ms, updated_ms, last_error, remote_id, COALESCE(lease_owner, '') FROM outbox "

static int row_to_outbox(PGresult *r, int i, sdra_store_outbox_item *o, sdra_error *err)
{
    char state[SDRA_STORE_STATE_MAX];
    memset(o, 0, sizeof *o);
    gtext(r, i, 0, o->key, sizeof o->key);
    gtext(r, i, 1, o->call_id, sizeof o->call_id);
    gtext(r, i, 2, o->kind, sizeof o->kind);
    gtext(r, i, 4, state, sizeof state);
    o->state = sdra_store_outbox_state_parse(state);
    o->attempts = gi(r, i, 5);
    gtext(r, i, 6, o->org, sizeof o->org);
    o->send_at_ms = gl(r, i, 7);
    o->next_attempt_ms = gl(r, i, 8);
    o->created_ms = gl(r, i, 9);
    o->updated_ms = gl(r, i, 10);
    gtext(r, i, 11, o->last_error, sizeof o->last_error);
    gtext(r, i, 12, o->remote_id, sizeof o->remote_id);
    gtext(r, i, 13, o->lease_owner, sizeof o->lease_owner);
    if (!(o->payload = strdup(PQgetvalue(r, i, 3))))
        return sdra_error_set(err, SDRA_ENOMEM, "store: out of memory");
    return 0;
}

static int pg_outbox_get(sdra_store *s, const char *org, const char *key, sdra_store_outbox_item *out,
                         sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    int rc = pq(c, &r, err, "outbox get", OUTBOX_COLS "WHERE idem_key = $1 AND ($2::text IS NULL OR org = $2)", "ss",
                key, org);
    if (rc == 0)
        rc = sdra_error_set(err, SDRA_ENOTFOUND, "no outbox entry '%s'", key);
    else if (rc > 0)
        rc = row_to_outbox(r, 0, out, err);
    PQclear(r);
    release(s, c);
    return rc;
}

static int pg_outbox_query(sdra_store *s, const sdra_store_outbox_filter *f, sdra_store_outbox_item *out, int max,
                           int *n_out, sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    int n = 0;
    int rc = pq(c, &r, err, "outbox query",
                OUTBOX_COLS "WHERE ($1::text IS NULL OR org = $1) AND ($2::text IS NULL OR call_id = $2)"
                            " AND ($3::text IS NULL OR kind = $3) AND ($4::text IS NULL OR state = $4)"
                            " ORDER BY created_ms, idem_key LIMIT $5",
                "ssssi", f->org, f->call_id, f->kind, f->state >= 0 ? sdra_store_outbox_state_name(f->state) : NULL, max);
    for (int i = 0; rc > 0 && i < PQntuples(r) && n < max; i++) {
        int x = row_to_outbox(r, i, &out[n], err);
        if (x < 0) {
            rc = x;
            break;
        }
        n++;
    }
    PQclear(r);
    release(s, c);
    if (rc < 0) {
        for (int i = 0; i < n; i++)
            sdra_store_outbox_release(&out[i]);
        n = 0;
    }
    *n_out = n;
    return rc < 0 ? rc : 0;
}

static int pg_outbox_list(sdra_store *s, const char *call_id, sdra_store_outbox_item *out, int max, int *n_out,
                          sdra_error *err)
{
    sdra_store_outbox_filter f = {.call_id = call_id, .state = -1};
    return pg_outbox_query(s, &f, out, max, n_out, err);
}

/* In c's open transaction: locks the outbox entry key (of org, unless NULL) and checks that verb
 * may change it. 0 when it may; SDRA_ENOTFOUND when there is no such entry; SDRA_EEXISTS when
 * its state forbids verb (the message names the state); the row stays locked either way until
 * the transaction ends. */
static int outbox_lock(PGconn *c, const char *org, const char *key, sdra_outbox_verb verb, sdra_error *err)
{
    PGresult *r = NULL;
    int rc = pq(c, &r, err, "outbox change",
                "SELECT state FROM outbox WHERE idem_key = $1 AND ($2::text IS NULL OR org = $2) FOR UPDATE", "ss", key,
                org);
    if (rc == 0)
        rc = sdra_error_set(err, SDRA_ENOTFOUND, "no outbox entry '%s'", key);
    if (rc < 0)
        goto done;
    char state[SDRA_STORE_STATE_MAX];
    gtext(r, 0, 0, state, sizeof state);
    rc = store_outbox_verb_check(key, state, verb, err);
done:
    PQclear(r);
    return rc < 0 ? rc : 0;
}

static int pg_outbox_change(sdra_store *s, const char *org, const char *key, sdra_outbox_verb verb, int64_t now,
                            sdra_error *err)
{
    ACQUIRE(c);
    int rc = begin(c, err);
    if (rc < 0 || (rc = outbox_lock(c, org, key, verb, err)) < 0)
        goto done;
    if (verb == SDRA_OUTBOX_APPROVE)
        rc = pq(c, NULL, err, "outbox approve",
                "UPDATE outbox SET state = 'queued', next_attempt_ms = GREATEST(send_at_ms, $1), updated_ms = $1,"
                " last_error = '' WHERE idem_key = $2",
                "ls", now, key);
    else if (verb == SDRA_OUTBOX_RETRY)
        rc = pq(c, NULL, err, "outbox retry",
                "UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_ms = $1, updated_ms = $1"
                " WHERE idem_key = $2",
                "ls", now, key);
    else
        rc = pq(c, NULL, err, "outbox cancel",
                "UPDATE outbox SET state = 'canceled', updated_ms = $1, done_ms = $1,"
                " last_error = 'canceled before it was sent' WHERE idem_key = $2",
                "ls", now, key);
    if (rc < 0)
        goto done;
    rc = commit(c, err);
done:
    release(s, c);
    return rc < 0 ? rc : 0;
}

static int pg_outbox_finish(sdra_store *s, const sdra_store_outbox_item *it, const char *remote_id, int64_t now,
                            sdra_error *err)
{
    ACQUIRE(c);
    int rc = pq(c, NULL, err, "outbox finish",
                "UPDATE outbox SET state = 'done', lease_owner = NULL, lease_expires_ms = 0, done_ms = $1,"
                " updated_ms = $1, remote_id = $2, last_error = '' WHERE idem_key = $3 AND state = 'running'"
                " AND lease_owner = $4",
                "lsss", now, remote_id, it->key, it->lease_owner);
    release(s, c);
    if (rc == 0)
        rc = sdra_error_set(err, SDRA_EEXISTS, "outbox entry '%s': lease lost", it->key);
    return rc < 0 ? rc : 0;
}

static int pg_outbox_fail(sdra_store *s, const sdra_store_outbox_item *it, const char *msg, int next_state,
                          int64_t retry_at, int64_t now, sdra_error *err)
{
    ACQUIRE(c);
    int rc = pq(c, NULL, err, "outbox fail",
                "UPDATE outbox SET state = $1, lease_owner = NULL, lease_expires_ms = 0, next_attempt_ms = $2,"
                " updated_ms = $3, last_error = $4 WHERE idem_key = $5 AND state = 'running' AND lease_owner = $6",
                "sllsss", sdra_store_outbox_state_name(next_state), next_state == SDRA_JOB_QUEUED ? retry_at : 0, now,
                msg, it->key, it->lease_owner);
    release(s, c);
    if (rc == 0)
        rc = sdra_error_set(err, SDRA_EEXISTS, "outbox entry '%s': lease lost", it->key);
    return rc < 0 ? rc : 0;
}

/* ---- organisations ------------------------------------------------------------------------- */

static int pg_org_set(sdra_store *s, const char *name, int max_active, int64_t max_storage_bytes, int64_t now,
                      sdra_error *err)
{
    ACQUIRE(c);
    int rc = pq(c, NULL, err, "organisation set",
                "INSERT INTO orgs (name, max_active, max_storage_bytes, updated_ms) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (name) DO UPDATE SET max_active = excluded.max_active,"
                " max_storage_bytes = excluded.max_storage_bytes, updated_ms = excluded.updated_ms",
                "sill", name, max_active, max_storage_bytes, now);
    release(s, c);
    return rc < 0 ? rc : 0;
}

static int pg_org_get(sdra_store *s, const char *name, sdra_store_org *out, sdra_error *err)
{
    ACQUIRE(c);
    int rc = org_usage(c, name, out, err); /* one statement: one snapshot */
    release(s, c);
    return rc;
}

static int pg_org_list(sdra_store *s, sdra_store_org *out, int max, int *n_out, sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    int rc = pq(c, NULL, err, "organisation list", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL);
    if (rc < 0)
        goto done;
    if ((rc = pq(c, &r, err, "organisation list",
                 "SELECT name FROM orgs UNION SELECT org FROM api_keys UNION SELECT org FROM calls ORDER BY 1", NULL)) < 0)
        goto end;
    for (int i = 0; i < PQntuples(r) && *n_out < max; i++)
        gtext(r, i, 0, out[(*n_out)++].name, sizeof out[0].name);
    for (int i = 0; rc >= 0 && i < *n_out; i++) {
        char name[SDRA_STORE_ID_MAX];
        sdra_strlcpy(name, out[i].name, sizeof name);
        rc = org_usage(c, name, &out[i], err);
    }
end:
    rollback(c);
done:
    PQclear(r);
    release(s, c);
    return rc < 0 ? rc : 0;
}

/* ---- data-subject rights and retention --------------------------------------------------- */

static int pg_subject_add(sdra_store *s, const char *call_id, const char *org, const char *token, sdra_error *err)
{
    ACQUIRE(c);
    int rc = pq(c, NULL, err, "subject add",
                "INSERT INTO call_subjects (call_id, org, token) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", "sss",
                call_id, org, token);
    release(s, c);
    return rc < 0 ? rc : 0;
}

static int pg_subject_calls(sdra_store *s, const char *org, const char *token, char (*ids)[SDRA_STORE_ID_MAX], int max,
                            int *n_out, sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    int n = 0;
    int rc = pq(c, &r, err, "subject calls", "SELECT call_id FROM call_subjects WHERE org = $1 AND token = $2 ORDER BY seq",
                "ss", org, token);
    for (int i = 0; rc > 0 && i < PQntuples(r) && n < max; i++)
        gtext(r, i, 0, ids[n++], SDRA_STORE_ID_MAX);
    PQclear(r);
    release(s, c);
    *n_out = n;
    return rc < 0 ? rc : 0;
}

static int pg_subject_pseudonym(sdra_store *s, const char *org, const char *token, const char *candidate, int64_t now,
                                char out[SDRA_STORE_ID_MAX], sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    int rc = 0;
    if (candidate)
        rc = pq(c, NULL, err, "subject pseudonym",
                "INSERT INTO subject_pseudonyms (org, token, pseudonym, created_ms) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (org, token) DO NOTHING",
                "sssl", org, token, candidate, now);
    if (rc >= 0)
        rc = pq(c, &r, err, "subject pseudonym", "SELECT pseudonym FROM subject_pseudonyms WHERE org = $1 AND token = $2",
                "ss", org, token);
    if (rc == 0)
        rc = sdra_error_set(err, SDRA_ENOTFOUND, "no such subject");
    else if (rc > 0)
        gtext(r, 0, 0, out, SDRA_STORE_ID_MAX), rc = 0;
    PQclear(r);
    release(s, c);
    return rc;
}

static int pg_subject_forget(sdra_store *s, const char *org, const char *token, int *n_out, sdra_error *err)
{
    ACQUIRE(c);
    int n = 0, rc = begin(c, err);
    if (rc < 0)
        goto done;
    if ((rc = pq(c, NULL, err, "subject forget", "DELETE FROM call_subjects WHERE org = $1 AND token = $2", "ss", org,
                 token)) < 0)
        goto done;
    n += rc;
    if ((rc = pq(c, NULL, err, "subject forget", "DELETE FROM subject_pseudonyms WHERE org = $1 AND token = $2", "ss",
                 org, token)) < 0)
        goto done;
    n += rc;
    rc = commit(c, err);
done:
    release(s, c);
    *n_out = rc < 0 ? 0 : n;
    return rc < 0 ? rc : 0;
}

static int pg_policy_get(sdra_store *s, const char *org, sdra_store_policy *out, sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    int rc = pq(c, &r, err, "policy",
                "SELECT audio_days, transcript_days, analysis_days, email_days, call_days, crm_days,"
                " require_consent, updated_ms FROM retention_policies WHERE org = $1",
                "s", org);
    if (rc > 0) {
        out->audio_days = gi(r, 0, 0);
        out->transcript_days = gi(r, 0, 1);
        out->analysis_days = gi(r, 0, 2);
        out->email_days = gi(r, 0, 3);
        out->call_days = gi(r, 0, 4);
        out->crm_days = gi(r, 0, 5);
        out->require_consent = gi(r, 0, 6) != 0;
        out->updated_ms = gl(r, 0, 7);
    }
    PQclear(r);
    release(s, c);
    return rc < 0 ? rc : 0;
}

static int pg_policy_put(sdra_store *s, const sdra_store_policy *p, int64_t now, sdra_error *err)
{
    ACQUIRE(c);
    int rc = pq(c, NULL, err, "policy",
                "INSERT INTO retention_policies (org, audio_days, transcript_days, analysis_days, email_days,"
                " call_days, crm_days, require_consent, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                " ON CONFLICT (org) DO UPDATE SET audio_days = excluded.audio_days,"
                " transcript_days = excluded.transcript_days, analysis_days = excluded.analysis_days,"
                " email_days = excluded.email_days, call_days = excluded.call_days, crm_days = excluded.crm_days,"
                " require_consent = excluded.require_consent, updated_ms = excluded.updated_ms",
                "siiiiiiil", p->org, p->audio_days, p->transcript_days, p->analysis_days, p->email_days, p->call_days,
                p->crm_days, p->require_consent ? 1 : 0, now);
    release(s, c);
    return rc < 0 ? rc : 0;
}

/* PostgreSQL overwrites nothing in place either (MVCC), but keeps no write-ahead copy that a
 * checkpoint call could shorten from here: VACUUM reclaims erased rows. Nothing to do. */
static int pg_checkpoint(sdra_store *s, sdra_error *err)
{
    (void)s;
    (void)err;
    return 0;
}

/* ---- wrapped data keys (bytea, passed as hex) ---------------------------------------------- */

static void to_hex(const unsigned char *b, size_t n, char *hex)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++)
        hex[2 * i] = d[b[i] >> 4], hex[2 * i + 1] = d[b[i] & 15];
    hex[2 * n] = '\0';
}

/* Decodes hex into out (at most max bytes); -1 when malformed or too long. */
static long from_hex(const char *hex, unsigned char *out, size_t max)
{
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > max)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v = 0;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return (long)(n / 2);
}

static int pg_data_key_put(sdra_store *s, const char *id, const char *master_id, const unsigned char *wrapped, size_t n,
                           bool replace, int64_t now, sdra_error *err)
{
    char hex[2 * SDRA_STORE_WRAPPED_MAX + 1];
    if (n > SDRA_STORE_WRAPPED_MAX)
        return sdra_error_set(err, SDRA_EINVAL, "data key %s: wrapped key over %d bytes", id, SDRA_STORE_WRAPPED_MAX);
    to_hex(wrapped, n, hex);
    ACQUIRE(c);
    int rc = pq(c, NULL, err, "data key put",
                replace ? "INSERT INTO call_keys (id, master_id, wrapped, created_ms) VALUES ($1, $2, decode($3, 'hex'), $4)"
                          " ON CONFLICT (id) DO UPDATE SET master_id = excluded.master_id, wrapped = excluded.wrapped,"
                          " created_ms = excluded.created_ms"
                        : "INSERT INTO call_keys (id, master_id, wrapped, created_ms) VALUES ($1, $2, decode($3, 'hex'), $4)"
                          " ON CONFLICT (id) DO NOTHING",
                "sssl", id, master_id, hex, now);
    release(s, c);
    if (rc == 0)
        rc = sdra_error_set(err, SDRA_EEXISTS, "data key %s exists", id);
    return rc < 0 ? rc : 0;
}

static int pg_data_key_get(sdra_store *s, const char *id, char *master_id, unsigned char *wrapped, size_t *n,
                           sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    int rc = pq(c, &r, err, "data key get", "SELECT master_id, encode(wrapped, 'hex') FROM call_keys WHERE id = $1", "s",
                id);
    if (rc == 0) {
        rc = sdra_error_set(err, SDRA_ENOTFOUND, "no data key for %s (deleted?)", id);
    } else if (rc > 0) {
        long len = from_hex(PQgetvalue(r, 0, 1), wrapped, SDRA_STORE_WRAPPED_MAX);
        if (len <= 0) {
            rc = sdra_error_set(err, SDRA_EINVAL, "data key %s: bad wrapped length", id);
        } else {
            gtext(r, 0, 0, master_id, SDRA_STORE_ID_MAX);
            *n = (size_t)len;
            rc = 0;
        }
    }
    PQclear(r);
    release(s, c);
    return rc;
}

static int pg_data_key_rewrap(sdra_store *s, sdra_store_rewrap_fn fn, void *ud, int *n_out, sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    int n = 0, rc = begin(c, err);
    if (rc < 0)
        goto done;
    if ((rc = pq(c, &r, err, "data key list",
                 "SELECT id, master_id, encode(wrapped, 'hex') FROM call_keys ORDER BY id FOR UPDATE", NULL)) < 0)
        goto done;
    for (int i = 0; i < PQntuples(r); i++) {
        char id[SDRA_STORE_ID_MAX], mid[SDRA_STORE_ID_MAX], new_mid[SDRA_STORE_ID_MAX] = "";
        unsigned char w[SDRA_STORE_WRAPPED_MAX], nw[SDRA_STORE_WRAPPED_MAX];
        char hex[2 * SDRA_STORE_WRAPPED_MAX + 1];
        size_t nn = 0;
        gtext(r, i, 0, id, sizeof id);
        gtext(r, i, 1, mid, sizeof mid);
        long len = from_hex(PQgetvalue(r, i, 2), w, sizeof w);
        if (len < 0) {
            rc = sdra_error_set(err, SDRA_EINVAL, "data key %s: bad wrapped length", id);
            goto done;
        }
        if ((rc = fn(ud, id, mid, w, (size_t)len, new_mid, nw, &nn, err)) < 0)
            goto done;
        if (nn > SDRA_STORE_WRAPPED_MAX) {
            rc = sdra_error_set(err, SDRA_EINVAL, "data key %s: rewrapped key too long", id);
            goto done;
        }
        to_hex(nw, nn, hex);
        if ((rc = pq(c, NULL, err, "data key rewrap",
                     "UPDATE call_keys SET master_id = $1, wrapped = decode($2, 'hex') WHERE id = $3", "sss", new_mid,
                     hex, id)) < 0)
            goto done;
        n++;
    }
    if ((rc = commit(c, err)) == 0)
        *n_out = n;
done:
    PQclear(r);
    release(s, c);
    return rc < 0 ? rc : 0;
}

/* ---- full-text search (tsvector / tsquery) -----------------------------------------------
 * The same semantics as sqlite.c's FTS5 table (tokenizer unicode61): ASCII punctuation
 * separates words, case does not matter, a term of several words ("follow-up") is a phrase,
 * every term must occur, accents do not matter (sdra_fold, migration 2: "jose" finds "José"
 * and the reverse). The 'simple' configuration: no stemming, no stop words. A query's
 * terms are bound as parameters and made into tsqueries by phraseto_tsquery, so nothing the
 * client sends is read as tsquery syntax. */
#define PUNCT "'!\"#$%&''()*+,-./:;<=>?@[\\]^_`{|}~'"
#define SPACES "'                                        '"
#define TSV(p) "to_tsvector('simple', translate(sdra_fold(COALESCE(" p ", '')), " PUNCT ", " SPACES "))"
#define TSQ(t) "phraseto_tsquery('simple', translate(sdra_fold(" t "), " PUNCT ", " SPACES "))"
/* true when every space-separated term of param p occurs in column col */
#define ALL_TERMS(p, col)                                                                                    \
    "NOT EXISTS (SELECT 1 FROM unnest(string_to_array(" p "::text, ' ')) t WHERE numnode(" TSQ("t") ") > 0" \
    " AND NOT (" col " @@ " TSQ("t") "))"

static int pg_search_put(sdra_store *s, const char *org, const char *call_id, const sdra_store_search_doc *d,
                         sdra_error *err)
{
    ACQUIRE(c);
    int rc = pq(c, NULL, err, "search put",
                "INSERT INTO call_search (call_id, org, day, people_words, outcome, objections)"
                " VALUES ($1, $2, $3, " TSV("$4::text") " || " TSV("$5::text") ", " TSV("$6::text") ", " TSV("$7::text") ")"
                " ON CONFLICT (call_id) DO UPDATE SET org = excluded.org, day = excluded.day,"
                " people_words = excluded.people_words, outcome = excluded.outcome, objections = excluded.objections",
                "sssssss", call_id, org, d->day, d->people, d->words, d->outcome, d->objections);
    release(s, c);
    return rc < 0 ? rc : 0;
}

static int pg_call_search(sdra_store *s, const char *org, const sdra_store_search_query *q, int offset, int limit,
                          sdra_store_call *out, int *n_out, sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    int rc = pq(c, &r, err, "call search",
                "SELECT c.id, c.status, c.meta, c.created_ms, c.updated_ms, c.org, c.audio_bytes"
                " FROM calls c JOIN call_search cs ON cs.call_id = c.id AND cs.org = c.org"
                " WHERE ($1::text IS NULL OR " ALL_TERMS("$1", "cs.people_words") ")"
                " AND ($2::text IS NULL OR " ALL_TERMS("$2", "cs.outcome") ")"
                " AND ($3::text IS NULL OR " ALL_TERMS("$3", "cs.objections") ")"
                " AND ($4::text IS NULL OR c.org = $4) AND ($5::text IS NULL OR cs.day >= $5)"
                " AND ($6::text IS NULL OR cs.day <= $6) AND ($7::text IS NULL OR c.status = $7)"
                " ORDER BY c.created_ms DESC, c.id LIMIT $8 OFFSET $9",
                "sssssssii", q->terms, q->outcome, q->objection, org, q->from_day, q->to_day, q->status, limit, offset);
    if (rc >= 0)
        rc = rows_to_calls(r, out, limit, n_out, err);
    PQclear(r);
    release(s, c);
    return rc;
}

/* ---- the web app: approve with choices, search backfill (issue 16) ------------------------ */

static int pg_outbox_approve_as(sdra_store *s, const char *org, const char *key, int64_t send_at_ms,
                                const char *payload, int64_t now, sdra_error *err)
{
    ACQUIRE(c);
    int rc = begin(c, err);
    if (rc < 0 || (rc = outbox_lock(c, org, key, SDRA_OUTBOX_APPROVE, err)) < 0)
        goto done;
    /* send_at -1 keeps it, a NULL payload keeps it */
    if ((rc = pq(c, NULL, err, "outbox approve",
                 "UPDATE outbox SET send_at_ms = CASE WHEN $1::bigint >= 0 THEN $1::bigint ELSE send_at_ms END,"
                 " payload = COALESCE($2::text, payload), state = 'queued',"
                 " next_attempt_ms = GREATEST(CASE WHEN $1::bigint >= 0 THEN $1::bigint ELSE send_at_ms END,"
                 " $3::bigint), updated_ms = $3::bigint,"
                 " last_error = '' WHERE idem_key = $4",
                 "lsls", send_at_ms, payload, now, key)) < 0)
        goto done;
    rc = commit(c, err);
done:
    release(s, c);
    return rc < 0 ? rc : 0;
}

static int pg_search_missing(sdra_store *s, const char *after_id, sdra_store_call *out, int max, int *n_out,
                             sdra_error *err)
{
    ACQUIRE(c);
    PGresult *r = NULL;
    *n_out = 0;
    int rc = pq(c, &r, err, "search backfill",
                "SELECT id, org, status FROM calls WHERE status IN ('done', 'failed') AND id > $1"
                " AND NOT EXISTS (SELECT 1 FROM call_search cs WHERE cs.call_id = calls.id) ORDER BY id LIMIT $2",
                "si", after_id, max);
    for (int i = 0; rc > 0 && i < rc && i < max; i++) {
        gtext(r, i, 0, out[i].id, sizeof out[i].id);
        gtext(r, i, 1, out[i].org, sizeof out[i].org);
        gtext(r, i, 2, out[i].status, sizeof out[i].status);
        (*n_out)++;
    }
    PQclear(r);
    release(s, c);
    return rc < 0 ? rc : 0;
}

/* ---- work notifications ------------------------------------------------------------------- */

/* Waits on the LISTEN connection (opened on first use) for a NOTIFY on "sdra_work" or until
 * timeout_ms pass. 0 when notified, SDRA_ETIMEOUT when not; a lost connection is closed and
 * SDRA_ERETRY returned (the next call listens again: the caller polls meanwhile). */
static int pg_wait_work(sdra_store *s, int timeout_ms, sdra_error *err)
{
    pg_store *p = PG(s);
    int rc = 0;
    pthread_mutex_lock(&p->lmu);
    if (!p->listen) {
        if ((rc = pg_connect(p->url, &p->listen, err)) < 0)
            goto done;
        PGresult *r = PQexec(p->listen, "LISTEN sdra_work");
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            rc = pq_fail(p->listen, r, err, "listen");
            PQclear(r);
            PQfinish(p->listen);
            p->listen = NULL;
            goto done;
        }
        PQclear(r);
    }
    int64_t deadline = sdra_store_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        if (!PQconsumeInput(p->listen)) {
            rc = pq_fail(p->listen, NULL, err, "listen");
            PQfinish(p->listen);
            p->listen = NULL;
            goto done;
        }
        PGnotify *nt;
        bool got = false;
        while ((nt = PQnotifies(p->listen)) != NULL) { /* drain: one wake for a burst */
            got = true;
            PQfreemem(nt);
        }
        if (got) {
            rc = 0;
            goto done;
        }
        int64_t left = deadline - sdra_store_now_ms();
        if (left <= 0) {
            rc = SDRA_ETIMEOUT;
            goto done;
        }
        struct pollfd pfd = {.fd = PQsocket(p->listen), .events = POLLIN};
        if (pfd.fd < 0 || poll(&pfd, 1, (int)left) < 0) {
            rc = sdra_error_set(err, SDRA_ERETRY, "store: waiting for work: the listen connection failed");
            PQfinish(p->listen);
            p->listen = NULL;
            goto done;
        }
    }
done:
    pthread_mutex_unlock(&p->lmu);
    return rc;
}

/* ---- open / close --------------------------------------------------------------------------- */

static void pg_close(sdra_store *s)
{
    pg_store *p = PG(s);
    for (int i = 0; i < p->n_idle; i++)
        PQfinish(p->idle[i]);
    if (p->listen)
        PQfinish(p->listen);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->lmu);
    store_audit_queue_release(&p->aq);
    free(p->url);
    free(p);
}

static const sdra_store_ops postgres_ops = {
    .name = "postgres",
    .close = pg_close,
    .call_create = pg_call_create,
    .call_get = pg_call_get,
    .call_list = pg_call_list,
    .call_delete = pg_call_delete,
    .call_retry = pg_call_retry,
    .count_active = pg_count_active,
    .job_claim = pg_job_claim,
    .job_heartbeat = pg_job_heartbeat,
    .job_complete = pg_job_complete,
    .job_fail = pg_job_fail,
    .job_list = pg_job_list,
    .job_counts = pg_job_counts,
    .artifact_get = pg_artifact_get,
    .artifact_list = pg_artifact_list,
    .key_insert = pg_key_insert,
    .key_get = pg_key_get,
    .key_list = pg_key_list,
    .key_revoke = pg_key_revoke,
    .key_delete = pg_key_delete,
    .audit_append = pg_audit_append,
    .audit_query = pg_audit_query,
    .audit_count = pg_audit_count,
    .outbox_put = pg_outbox_put,
    .outbox_claim = pg_outbox_claim,
    .outbox_done = pg_outbox_done,
    .org_set = pg_org_set,
    .org_get = pg_org_get,
    .org_list = pg_org_list,
    .call_set_meta = pg_call_set_meta,
    .subject_add = pg_subject_add,
    .subject_calls = pg_subject_calls,
    .subject_pseudonym = pg_subject_pseudonym,
    .subject_forget = pg_subject_forget,
    .policy_get = pg_policy_get,
    .policy_put = pg_policy_put,
    .outbox_list = pg_outbox_list,
    .artifact_delete = pg_artifact_delete,
    .checkpoint = pg_checkpoint,
    .data_key_put = pg_data_key_put,
    .data_key_get = pg_data_key_get,
    .data_key_rewrap = pg_data_key_rewrap,
    .outbox_add = pg_outbox_add,
    .outbox_get = pg_outbox_get,
    .outbox_query = pg_outbox_query,
    .outbox_change = pg_outbox_change,
    .outbox_finish = pg_outbox_finish,
    .outbox_fail = pg_outbox_fail,
    .job_complete_fx = pg_job_complete_fx,
    .job_fail_fx = pg_job_fail_fx,
    .search_put = pg_search_put,
    .call_search = pg_call_search,
    .outbox_approve_as = pg_outbox_approve_as,
    .search_missing = pg_search_missing,
    .queue_oldest = pg_queue_oldest,
    .wait_work = pg_wait_work,
};

int sdra_store_postgres_open(sdra_store **out, const char *url, sdra_error *err)
{
    pg_store *p = calloc(1, sizeof *p);
    if (!p || !(p->url = strdup(url))) {
        free(p);
        return sdra_error_set(err, SDRA_ENOMEM, "store: out of memory");
    }
    p->base.ops = &postgres_ops;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_mutex_init(&p->lmu, NULL);
    store_audit_queue_init(&p->aq);
    PGconn *c = NULL;
    int rc = pg_connect(url, &c, err);
    if (rc == 0) {
        p->n_open = 1;
        rc = migrate(c, err);
        p->idle[p->n_idle++] = c;
    }
    if (rc < 0) {
        pg_close(&p->base);
        return rc;
    }
    *out = &p->base;
    return 0;
}
