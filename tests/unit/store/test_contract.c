/* test_contract.c - the job store contract that every backend must pass: sqlite always, and
 * postgres when SDRA_TEST_PG_URL names a database (tests/integration/store_contract_pg.sh
 * starts a real PostgreSQL and runs this binary with it set; then only postgres runs). Each
 * test opens a fresh store through the backend's open function, drives the clock explicitly,
 * and checks behaviour only through the public interface: call life cycle, claims and leases,
 * exactly-once completion, retries with dead-lettering, keys, audit, outbox, durability. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "sdra/store.h"
#include "sdra/util.h"

/* raw_exec runs backend-native SQL on the database at path behind the store's back: how the
 * tamper-evidence cases change or remove audit rows as an attacker with file access would. */
typedef struct backend {
    const char *name;
    int (*open)(sdra_store **out, const char *location, sdra_error *err);
    int (*raw_exec)(const char *path, const char *sql);
} backend;

static int sqlite_raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

/* For postgres, "path" is the database URL. */
static int pg_raw_exec(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    int ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
        PQclear(PQexec(c, "SET client_min_messages = warning"));
        PGresult *r = PQexec(c, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!ok)
            fprintf(stderr, "pg_raw_exec: %s", PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    return ok ? 0 : -1;
}

static const backend backends[] = {
    {"sqlite", sdra_store_sqlite_open, sqlite_raw_exec},
    {"postgres", sdra_store_postgres_open, pg_raw_exec},
};
static const backend *B = &backends[0];

static char g_path[1024];

static sdra_store *open_fresh(void)
{
    if (B->raw_exec == pg_raw_exec) { /* an empty database: every table dropped */
        sdra_error err = {0};
        snprintf(g_path, sizeof g_path, "%s", getenv("SDRA_TEST_PG_URL"));
        assert_int_equal(pg_raw_exec(g_path, "DROP SCHEMA public CASCADE; CREATE SCHEMA public"), 0);
        sdra_store *s = NULL;
        assert_int_equal(B->open(&s, g_path, &err), 0);
        return s;
    }
    const char *tmp = getenv("SDRA_TEST_TMP");
    char dir[900];
    snprintf(dir, sizeof dir, "%s/store-contract", tmp ? tmp : "/tmp");
    sdra_error err = {0};
    assert_int_equal(sdra_mkdir_p(dir, &err), 0);
    static int n;
    snprintf(g_path, sizeof g_path, "%s/%s-%d-%d.db", dir, B->name, (int)getpid(), n++);
    unlink(g_path);
    sdra_store *s = NULL;
    assert_int_equal(B->open(&s, g_path, &err), 0);
    return s;
}

static void cleanup(sdra_store *s)
{
    sdra_store_close(s);
    if (B->raw_exec == pg_raw_exec)
        return;
    char p[1100];
    unlink(g_path);
    snprintf(p, sizeof p, "%s-wal", g_path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", g_path);
    unlink(p);
}

static void store_call_lifecycle(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    assert_int_equal(sdra_store_call_create(s, "default", "c-1", "{\"a\":1}", 0, 0, 1000, 0, &err), 0);
    assert_int_equal(sdra_store_call_create(s, "default", "c-1", "{}", 0, 0, 1000, 0, &err), SDRA_EEXISTS);
    assert_int_equal(sdra_store_call_create(s, "default", "Bad/Id", "{}", 0, 0, 1000, 0, &err), SDRA_EINVAL);
    assert_int_equal(sdra_store_call_create(s, "default", "c-2", "{}", 0, 0, 2000, 0, &err), 0);
    sdra_store_call c;
    assert_int_equal(sdra_store_call_get(s, NULL, "c-1", &c, &err), 0);
    assert_string_equal(c.status, "queued");
    assert_string_equal(c.meta_json, "{\"a\":1}");
    assert_int_equal(c.created_ms, 1000);
    sdra_store_call_release(&c);
    assert_int_equal(sdra_store_call_get(s, NULL, "nope", &c, &err), SDRA_ENOTFOUND);

    sdra_store_call list[4];
    int n = 0;
    assert_int_equal(sdra_store_call_list(s, NULL, NULL, 0, 4, list, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].id, "c-2"); /* newest first */
    for (int i = 0; i < n; i++)
        sdra_store_call_release(&list[i]);
    assert_int_equal(sdra_store_call_list(s, NULL, NULL, 1, 4, list, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, "c-1");
    sdra_store_call_release(&list[0]);
    assert_int_equal(sdra_store_call_list(s, NULL, "done", 0, 4, list, &n, &err), 0);
    assert_int_equal(n, 0);

    int active = 0;
    assert_int_equal(sdra_store_count_active(s, NULL, &active, &err), 0);
    assert_int_equal(active, 2);
    assert_int_equal(sdra_store_call_delete(s, NULL, "c-1", &err), 0);
    assert_int_equal(sdra_store_call_delete(s, NULL, "c-1", &err), SDRA_ENOTFOUND);
    sdra_store_job jobs[8];
    assert_int_equal(sdra_store_job_list(s, NULL, "c-1", jobs, 8, &n, &err), 0);
    assert_int_equal(n, 0);
    cleanup(s);
}

static void store_backpressure_limits_active_calls(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    assert_int_equal(sdra_store_call_create(s, "default", "a", "{}", 0, 0, 1, 2, &err), 0);
    assert_int_equal(sdra_store_call_create(s, "default", "b", "{}", 0, 0, 1, 2, &err), 0);
    assert_int_equal(sdra_store_call_create(s, "default", "c", "{}", 0, 0, 1, 2, &err), SDRA_ELIMIT);
    sdra_store_call c;
    assert_int_equal(sdra_store_call_get(s, NULL, "c", &c, &err), SDRA_ENOTFOUND);
    cleanup(s);
}

static void store_stages_complete_in_order(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    sdra_store_job j;
    assert_int_equal(sdra_store_call_create(s, "default", "c", "{}", 0, 0, 100, 0, &err), 0);
    assert_int_equal(sdra_store_job_claim(s, 1, "w1", 100, 1000, 3, &j, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_store_job_claim(s, 0, "w1", 100, 1000, 3, &j, &err), 0);
    assert_string_equal(j.call_id, "c");
    assert_int_equal(j.state, SDRA_JOB_RUNNING);
    assert_int_equal(j.attempts, 1);
    assert_int_equal(j.lease_expires_ms, 1100);
    assert_string_equal(j.lease_owner, "w1");
    /* held: nobody else gets it */
    sdra_store_job j2;
    assert_int_equal(sdra_store_job_claim(s, 0, "w2", 200, 1000, 3, &j2, &err), SDRA_ENOTFOUND);
    sdra_store_call c;
    assert_int_equal(sdra_store_call_get(s, NULL, "c", &c, &err), 0);
    assert_string_equal(c.status, "running");
    sdra_store_call_release(&c);

    sdra_store_artifact a = {.name = "transcript.json", .path = "calls/c/transcript.json",
                             .sha256 = "ab", .size_bytes = 10};
    assert_int_equal(sdra_store_job_complete(s, &j, &a, 1, 1, 300, &err), 0);
    /* a second completion of the same claim is refused and changes nothing */
    assert_int_equal(sdra_store_job_complete(s, &j, &a, 1, 1, 310, &err), SDRA_EEXISTS);
    assert_int_equal(sdra_store_job_claim(s, 1, "w1", 300, 1000, 3, &j, &err), 0);
    assert_int_equal(j.stage, 1);
    assert_int_equal(sdra_store_job_complete(s, &j, NULL, 0, -1, 400, &err), 0);
    assert_int_equal(sdra_store_call_get(s, NULL, "c", &c, &err), 0);
    assert_string_equal(c.status, "done");
    sdra_store_call_release(&c);

    sdra_store_job jobs[4];
    int n = 0;
    assert_int_equal(sdra_store_job_list(s, NULL, "c", jobs, 4, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(jobs[0].state, SDRA_JOB_DONE);
    assert_int_equal(jobs[0].started_ms, 100);
    assert_int_equal(jobs[0].finished_ms, 300);
    sdra_store_artifact arts[4];
    assert_int_equal(sdra_store_artifact_list(s, NULL, "c", arts, 4, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(sdra_store_artifact_get(s, NULL, "c", "transcript.json", &a, &err), 0);
    assert_int_equal(a.size_bytes, 10);
    assert_int_equal(a.stage, 0);
    assert_int_equal(sdra_store_artifact_get(s, NULL, "c", "analysis.json", &a, &err), SDRA_ENOTFOUND);

    int counts[2][SDRA_N_JOB_STATES];
    assert_int_equal(sdra_store_job_counts(s, 2, counts, &err), 0);
    assert_int_equal(counts[0][SDRA_JOB_DONE], 1);
    assert_int_equal(counts[1][SDRA_JOB_DONE], 1);
    assert_int_equal(counts[0][SDRA_JOB_QUEUED], 0);
    cleanup(s);
}

static void store_expired_lease_is_taken_over_once(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    sdra_store_job dead_worker, j;
    assert_int_equal(sdra_store_call_create(s, "default", "c", "{}", 0, 0, 0, 0, &err), 0);
    assert_int_equal(sdra_store_job_claim(s, 0, "w1", 0, 1000, 5, &dead_worker, &err), 0);
    assert_int_equal(sdra_store_job_heartbeat(s, &dead_worker, 900, 1000, &err), 0); /* to 1900 */
    assert_int_equal(sdra_store_job_claim(s, 0, "w2", 1500, 1000, 5, &j, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_store_job_claim(s, 0, "w2", 2000, 1000, 5, &j, &err), 0);
    assert_string_equal(j.lease_owner, "w2");
    assert_int_equal(j.attempts, 2);
    /* the old holder comes back: its heartbeat, completion and failure are all refused */
    assert_int_equal(sdra_store_job_heartbeat(s, &dead_worker, 2100, 1000, &err), SDRA_EEXISTS);
    assert_int_equal(sdra_store_job_complete(s, &dead_worker, NULL, 0, 1, 2100, &err), SDRA_EEXISTS);
    assert_int_equal(sdra_store_job_fail(s, &dead_worker, "x", true, 0, 5, 2100, &err), SDRA_EEXISTS);
    assert_int_equal(sdra_store_job_complete(s, &j, NULL, 0, 1, 2200, &err), 0);
    sdra_store_job jobs[4];
    int n = 0;
    assert_int_equal(sdra_store_job_list(s, NULL, "c", jobs, 4, &n, &err), 0);
    assert_int_equal(n, 2); /* exactly one next-stage job */
    cleanup(s);
}

static void store_retries_then_dead_then_manual_retry(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    sdra_store_job j;
    assert_int_equal(sdra_store_call_create(s, "default", "c", "{}", 0, 0, 0, 0, &err), 0);
    assert_int_equal(sdra_store_job_claim(s, 0, "w", 0, 1000, 2, &j, &err), 0);
    assert_int_equal(sdra_store_job_fail(s, &j, "upstream down", true, 500, 2, 10, &err), 0);
    /* backoff: not runnable before run_after */
    assert_int_equal(sdra_store_job_claim(s, 0, "w", 499, 1000, 2, &j, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_store_job_claim(s, 0, "w", 500, 1000, 2, &j, &err), 0);
    assert_int_equal(j.attempts, 2);
    assert_string_equal(j.last_error, "upstream down");
    assert_int_equal(sdra_store_job_fail(s, &j, "upstream still down", true, 900, 2, 600, &err), 0);
    assert_int_equal(sdra_store_job_claim(s, 0, "w", 5000, 1000, 2, &j, &err), SDRA_ENOTFOUND);
    sdra_store_call c;
    assert_int_equal(sdra_store_call_get(s, NULL, "c", &c, &err), 0);
    assert_string_equal(c.status, "failed");
    sdra_store_call_release(&c);
    sdra_store_job jobs[2];
    int n = 0;
    assert_int_equal(sdra_store_job_list(s, NULL, "c", jobs, 2, &n, &err), 0);
    assert_int_equal(jobs[0].state, SDRA_JOB_DEAD);
    assert_string_equal(jobs[0].last_error, "upstream still down");
    int counts[1][SDRA_N_JOB_STATES];
    assert_int_equal(sdra_store_job_counts(s, 1, counts, &err), 0);
    assert_int_equal(counts[0][SDRA_JOB_DEAD], 1);

    assert_int_equal(sdra_store_call_retry(s, NULL, "c", 6000, &err), 0);
    assert_int_equal(sdra_store_call_retry(s, NULL, "c", 6000, &err), SDRA_EINVAL);
    assert_int_equal(sdra_store_call_retry(s, NULL, "zz", 6000, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_store_call_get(s, NULL, "c", &c, &err), 0);
    assert_string_equal(c.status, "queued");
    sdra_store_call_release(&c);
    assert_int_equal(sdra_store_job_claim(s, 0, "w", 6000, 1000, 2, &j, &err), 0);
    assert_int_equal(j.attempts, 1);
    /* a permanent failure is dead at once */
    assert_int_equal(sdra_store_job_fail(s, &j, "not audio", false, 0, 2, 6100, &err), 0);
    assert_int_equal(sdra_store_job_list(s, NULL, "c", jobs, 2, &n, &err), 0);
    assert_int_equal(jobs[0].state, SDRA_JOB_DEAD);
    cleanup(s);
}

static void store_worker_dying_every_time_ends_dead(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    sdra_store_job j;
    assert_int_equal(sdra_store_call_create(s, "default", "c", "{}", 0, 0, 0, 0, &err), 0);
    assert_int_equal(sdra_store_job_claim(s, 0, "w1", 0, 100, 2, &j, &err), 0);
    assert_int_equal(sdra_store_job_claim(s, 0, "w2", 200, 100, 2, &j, &err), 0);
    assert_int_equal(sdra_store_job_claim(s, 0, "w3", 400, 100, 2, &j, &err), SDRA_ENOTFOUND);
    sdra_store_call c;
    assert_int_equal(sdra_store_call_get(s, NULL, "c", &c, &err), 0);
    assert_string_equal(c.status, "failed");
    sdra_store_call_release(&c);
    cleanup(s);
}

static void store_artifacts_replace_not_duplicate(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    sdra_store_job j;
    assert_int_equal(sdra_store_call_create(s, "default", "c", "{}", 0, 0, 0, 0, &err), 0);
    assert_int_equal(sdra_store_job_claim(s, 0, "w", 0, 1000, 3, &j, &err), 0);
    sdra_store_artifact a = {.name = "x.json", .path = "p1", .sha256 = "11", .size_bytes = 1};
    assert_int_equal(sdra_store_job_complete(s, &j, &a, 1, -1, 1, &err), 0);
    assert_int_equal(sdra_store_call_create(s, "default", "d", "{}", 0, 0, 0, 0, &err), 0);
    /* re-running stage 0 by hand on c (retry path) replaces the artifact */
    assert_int_equal(sdra_store_job_fail(s, &j, "x", false, 0, 3, 2, &err), SDRA_EEXISTS);
    sdra_store_artifact list[4];
    int n = 0;
    assert_int_equal(sdra_store_artifact_list(s, NULL, "c", list, 4, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].sha256, "11");
    cleanup(s);
}

static void store_keys_audit_outbox(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    sdra_store_key k = {.id = "k1", .name = "ci", .scope = "write", .hash = "deadbeef", .created_ms = 5};
    assert_int_equal(sdra_store_key_insert(s, &k, &err), 0);
    assert_int_equal(sdra_store_key_insert(s, &k, &err), SDRA_EEXISTS);
    sdra_store_key bad = k;
    strcpy(bad.id, "k2");
    strcpy(bad.scope, "root");
    assert_int_equal(sdra_store_key_insert(s, &bad, &err), SDRA_EINVAL);
    sdra_store_key got;
    assert_int_equal(sdra_store_key_get(s, "k1", &got, &err), 0);
    assert_string_equal(got.scope, "write");
    assert_string_equal(got.hash, "deadbeef");
    assert_int_equal(got.revoked_ms, 0);
    assert_int_equal(sdra_store_key_get(s, "k9", &got, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_store_key_revoke(s, "ci", 77, &err), 0);
    assert_int_equal(sdra_store_key_revoke(s, "ci", 78, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_store_key_get(s, "k1", &got, &err), 0);
    assert_int_equal(got.revoked_ms, 77);
    sdra_store_key all[4];
    int n = 0;
    assert_int_equal(sdra_store_key_list(s, all, 4, &n, &err), 0);
    assert_int_equal(n, 1);

    assert_int_equal(sdra_store_audit_add(s, 1, "k1", "call.create", "c", &err), 0);
    assert_int_equal(sdra_store_audit_add(s, 2, "k1", "call.read", "c", &err), 0);
    assert_int_equal(sdra_store_audit_count(s, "c", &n, &err), 0);
    assert_int_equal(n, 2);

    sdra_store_outbox_item o;
    assert_int_equal(sdra_store_outbox_put(s, "default", "crm:c:1", "c", "crm", "{}", 1, &err), 0);
    assert_int_equal(sdra_store_outbox_put(s, "default", "crm:c:1", "c", "crm", "{}", 2, &err), 0);
    assert_int_equal(sdra_store_outbox_claim(s, "w", 10, 100, &o, &err), 0);
    assert_string_equal(o.key, "crm:c:1");
    assert_int_equal(o.attempts, 1);
    sdra_store_outbox_release(&o);
    assert_int_equal(sdra_store_outbox_claim(s, "w", 20, 100, &o, &err), SDRA_ENOTFOUND); /* one item */
    assert_int_equal(sdra_store_outbox_claim(s, "w2", 200, 100, &o, &err), 0);            /* lease gone */
    sdra_store_outbox_release(&o);
    assert_int_equal(sdra_store_outbox_done(s, "crm:c:1", &err), 0);
    assert_int_equal(sdra_store_outbox_claim(s, "w", 1000, 100, &o, &err), SDRA_ENOTFOUND);
    cleanup(s);
}

static void audit_put(sdra_store *s, int64_t at, const char *actor, const char *action, const char *target,
                      const char *ip, const char *detail)
{
    sdra_error err = {0};
    sdra_store_audit_entry e = {.at_ms = at};
    strcpy(e.actor, actor);
    strcpy(e.action, action);
    strcpy(e.target, target);
    strcpy(e.ip, ip);
    strcpy(e.detail, detail);
    assert_int_equal(sdra_store_audit_append(s, &e, &err), 0);
    assert_true(e.id > 0);
    assert_int_equal(strlen(e.hash), 64);
}

static void store_audit_chain_query_verify(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    int64_t n = 0, bad = 0;
    assert_int_equal(sdra_store_audit_verify(s, &n, &bad, &err), 0); /* empty chain is intact */
    assert_int_equal(n, 0);
    audit_put(s, 100, "k1", "call.read", "c1", "127.0.0.1", "");
    audit_put(s, 200, "k2", "auth.fail", "", "10.0.0.7", "unknown API key");
    audit_put(s, 300, "k1", "artifact.read", "c1", "::1", "transcript.json");
    audit_put(s, 400, "cli:root", "key.create", "k3", "local", "name=ci scope=read");

    sdra_store_audit_entry e[8];
    int k = 0;
    assert_int_equal(sdra_store_audit_query(s, NULL, e, 8, &k, &err), 0);
    assert_int_equal(k, 4);
    assert_int_equal(e[0].id, 4); /* newest first */
    assert_string_equal(e[0].action, "key.create");
    assert_string_equal(e[0].ip, "local");
    assert_string_equal(e[3].prev_hash, SDRA_STORE_AUDIT_GENESIS);
    for (int i = 0; i < 3; i++) /* each entry links to the one before */
        assert_string_equal(e[i].prev_hash, e[i + 1].hash);
    char h[65];
    sdra_store_audit_hash(&e[1], e[1].prev_hash, h);
    assert_string_equal(h, e[1].hash);

    sdra_store_audit_filter f = {.target = "c1"};
    assert_int_equal(sdra_store_audit_query(s, &f, e, 8, &k, &err), 0);
    assert_int_equal(k, 2);
    assert_string_equal(e[0].detail, "transcript.json");
    f = (sdra_store_audit_filter){.actor = "k1", .action = "call.read"};
    assert_int_equal(sdra_store_audit_query(s, &f, e, 8, &k, &err), 0);
    assert_int_equal(k, 1);
    assert_string_equal(e[0].ip, "127.0.0.1");
    f = (sdra_store_audit_filter){.since_ms = 250, .oldest_first = true};
    assert_int_equal(sdra_store_audit_query(s, &f, e, 8, &k, &err), 0);
    assert_int_equal(k, 2);
    assert_int_equal(e[0].id, 3);
    f = (sdra_store_audit_filter){.after_id = 3, .oldest_first = true};
    assert_int_equal(sdra_store_audit_query(s, &f, e, 8, &k, &err), 0);
    assert_int_equal(k, 1);
    assert_int_equal(sdra_store_audit_count(s, "c1", &k, &err), 0);
    assert_int_equal(k, 2);

    /* over-long fields are refused, not truncated */
    sdra_store_audit_entry big = {.at_ms = 1};
    strcpy(big.action, "x");
    memset(big.detail, 'a', sizeof big.detail); /* no NUL */
    assert_int_equal(sdra_store_audit_append(s, &big, &err), SDRA_EINVAL);

    assert_int_equal(sdra_store_audit_verify(s, &n, &bad, &err), 0);
    assert_int_equal(n, 4);
    assert_int_equal(bad, 0);

    /* a changed field: caught at that entry */
    assert_int_equal(B->raw_exec(g_path, "UPDATE audit_log SET actor = 'someone-else' WHERE id = 2"), 0);
    assert_int_equal(sdra_store_audit_verify(s, &n, &bad, &err), SDRA_EIO);
    assert_int_equal(bad, 2);
    assert_non_null(strstr(err.msg, "entry 2"));
    assert_int_equal(n, 1);
    assert_int_equal(B->raw_exec(g_path, "UPDATE audit_log SET actor = 'k2' WHERE id = 2"), 0);
    assert_int_equal(sdra_store_audit_verify(s, &n, &bad, &err), 0);

    /* a removed entry: the next one no longer links */
    assert_int_equal(B->raw_exec(g_path, "DELETE FROM audit_log WHERE id = 2"), 0);
    assert_int_equal(sdra_store_audit_verify(s, &n, &bad, &err), SDRA_EIO);
    assert_int_equal(bad, 3);
    cleanup(s);
}

static void store_audit_appends_keep_one_chain_after_tamper_and_reopen(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    for (int i = 0; i < 300; i++) /* more than one verify page */
        audit_put(s, i, "k", "call.read", "c", "127.0.0.1", "");
    sdra_store_close(s);
    assert_int_equal(B->open(&s, g_path, &err), 0);
    audit_put(s, 1000, "k", "call.delete", "c", "127.0.0.1", "");
    int64_t n = 0, bad = 0;
    assert_int_equal(sdra_store_audit_verify(s, &n, &bad, &err), 0);
    assert_int_equal(n, 301);
    /* a forged entry inserted in the middle with a made-up hash */
    assert_int_equal(B->raw_exec(g_path, "UPDATE audit_log SET hash = 'ff' || substr(hash, 3) WHERE id = 299"), 0);
    assert_int_equal(sdra_store_audit_verify(s, &n, &bad, &err), SDRA_EIO);
    assert_int_equal(bad, 299);
    cleanup(s);
}

static void *append_many(void *arg)
{
    sdra_store *s = arg;
    for (int i = 0; i < 50; i++) {
        sdra_store_audit_entry e = {.at_ms = i};
        strcpy(e.actor, "k");
        strcpy(e.action, "call.read");
        strcpy(e.target, "c");
        if (sdra_store_audit_append(s, &e, NULL) < 0)
            return (void *)1;
    }
    return NULL;
}

static void store_audit_concurrent_appends_make_one_chain(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, append_many, s), 0);
    for (int i = 0; i < 8; i++) {
        void *r = NULL;
        pthread_join(t[i], &r);
        assert_null(r);
    }
    int64_t n = 0, bad = 0;
    assert_int_equal(sdra_store_audit_verify(s, &n, &bad, &err), 0);
    assert_int_equal(n, 400);
    int k = 0;
    assert_int_equal(sdra_store_audit_count(s, "c", &k, &err), 0);
    assert_int_equal(k, 400);
    cleanup(s);
}

static void store_key_delete(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    sdra_store_key k = {.id = "k1", .name = "ci", .scope = "read", .hash = "aa", .created_ms = 5};
    assert_int_equal(sdra_store_key_insert(s, &k, &err), 0);
    char id[SDRA_STORE_ID_MAX];
    assert_int_equal(sdra_store_key_delete(s, "ci", id, &err), 0);
    assert_string_equal(id, "k1");
    sdra_store_key got;
    assert_int_equal(sdra_store_key_get(s, "k1", &got, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_store_key_delete(s, "ci", id, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_store_key_insert(s, &k, &err), 0); /* the name is free again */
    cleanup(s);
}

static void store_keys_belong_to_an_org(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    sdra_store_key k = {.id = "k1", .name = "a", .scope = "admin", .hash = "aa", .created_ms = 5, .org = "acme"};
    assert_int_equal(sdra_store_key_insert(s, &k, &err), 0);
    sdra_store_key d = {.id = "k2", .name = "b", .scope = "read", .hash = "bb", .created_ms = 6}; /* no org */
    assert_int_equal(sdra_store_key_insert(s, &d, &err), 0);
    sdra_store_key bad = {.id = "k3", .name = "c", .scope = "read", .hash = "cc", .created_ms = 7, .org = "Acme/1"};
    assert_int_equal(sdra_store_key_insert(s, &bad, &err), SDRA_EINVAL);
    sdra_store_key got;
    assert_int_equal(sdra_store_key_get(s, "k1", &got, &err), 0);
    assert_string_equal(got.org, "acme");
    assert_int_equal(sdra_store_key_get(s, "k2", &got, &err), 0);
    assert_string_equal(got.org, SDRA_STORE_ORG_DEFAULT);
    sdra_store_key all[4];
    int n = 0;
    assert_int_equal(sdra_store_key_list(s, all, 4, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(all[0].org, "acme");
    assert_string_equal(all[1].org, "default");
    assert_true(sdra_store_org_valid("team-7"));
    assert_false(sdra_store_org_valid(""));
    assert_false(sdra_store_org_valid("-x"));
    assert_false(sdra_store_org_valid("UPPER"));
    cleanup(s);
}

/* A call of another organisation is not found, exactly as a missing one, by every call query. */
static void store_orgs_are_isolated(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    assert_int_equal(sdra_store_call_create(s, "acme", "a1", "{}", 100, 0, 10, 0, &err), 0);
    assert_int_equal(sdra_store_call_create(s, "zeta", "z1", "{}", 200, 0, 20, 0, &err), 0);
    assert_int_equal(sdra_store_call_create(s, "zeta", "a1", "{}", 0, 0, 30, 0, &err), SDRA_EEXISTS); /* ids are global */
    assert_int_equal(sdra_store_call_create(s, "Bad Org", "b1", "{}", 0, 0, 30, 0, &err), SDRA_EINVAL);
    assert_int_equal(sdra_store_call_create(s, NULL, "b1", "{}", 0, 0, 30, 0, &err), SDRA_EINVAL);
    sdra_store_call c;
    assert_int_equal(sdra_store_call_get(s, "acme", "a1", &c, &err), 0);
    assert_string_equal(c.org, "acme");
    assert_int_equal(c.audio_bytes, 100);
    sdra_store_call_release(&c);
    assert_int_equal(sdra_store_call_get(s, "zeta", "a1", &c, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_store_call_get(s, NULL, "a1", &c, &err), 0); /* trusted: any org */
    sdra_store_call_release(&c);
    sdra_store_call list[4];
    int n = 0;
    assert_int_equal(sdra_store_call_list(s, "zeta", NULL, 0, 4, list, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, "z1");
    sdra_store_call_release(&list[0]);
    assert_int_equal(sdra_store_call_list(s, "acme", "queued", 0, 4, list, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, "a1");
    sdra_store_call_release(&list[0]);
    assert_int_equal(sdra_store_call_list(s, "nobody", NULL, 0, 4, list, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(sdra_store_count_active(s, "acme", &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(sdra_store_count_active(s, NULL, &n, &err), 0);
    assert_int_equal(n, 2);

    /* jobs and artifacts of a call are its organisation's */
    sdra_store_job j;
    assert_int_equal(sdra_store_job_claim(s, 0, "w", 100, 1000, 1, &j, &err), 0);
    assert_string_equal(j.call_id, "a1");
    sdra_store_artifact art = {.name = "transcript.json", .path = "calls/a1/transcript.json", .sha256 = "ab",
                               .size_bytes = 50};
    assert_int_equal(sdra_store_job_complete(s, &j, &art, 1, 1, 110, &err), 0);
    sdra_store_job jobs[4];
    assert_int_equal(sdra_store_job_list(s, "zeta", "a1", jobs, 4, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(sdra_store_job_list(s, "acme", "a1", jobs, 4, &n, &err), 0);
    assert_int_equal(n, 2);
    sdra_store_artifact a;
    assert_int_equal(sdra_store_artifact_get(s, "zeta", "a1", "transcript.json", &a, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_store_artifact_get(s, "acme", "a1", "transcript.json", &a, &err), 0);
    sdra_store_artifact arts[4];
    assert_int_equal(sdra_store_artifact_list(s, "zeta", "a1", arts, 4, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(sdra_store_artifact_list(s, "acme", "a1", arts, 4, &n, &err), 0);
    assert_int_equal(n, 1);

    /* retry and delete: another organisation's call is not found and stays */
    assert_int_equal(sdra_store_job_claim(s, 1, "w", 200, 1000, 1, &j, &err), 0);
    assert_int_equal(sdra_store_job_fail(s, &j, "boom", false, 0, 1, 210, &err), 0);
    assert_int_equal(sdra_store_call_retry(s, "zeta", "a1", 300, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_store_call_retry(s, "acme", "a1", 300, &err), 0);
    assert_int_equal(sdra_store_call_delete(s, "zeta", "a1", &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_store_call_get(s, "acme", "a1", &c, &err), 0);
    sdra_store_call_release(&c);
    assert_int_equal(sdra_store_call_delete(s, "acme", "a1", &err), 0);
    assert_int_equal(sdra_store_call_get(s, NULL, "a1", &c, &err), SDRA_ENOTFOUND);

    /* outbox and audit entries carry their organisation; the audit query filters by it */
    sdra_store_outbox_item o;
    assert_int_equal(sdra_store_outbox_put(s, "zeta", "crm:z1:1", "z1", "crm", "{}", 1, &err), 0);
    assert_int_equal(sdra_store_outbox_put(s, "Bad Org", "crm:z1:2", "z1", "crm", "{}", 1, &err), SDRA_EINVAL);
    assert_int_equal(sdra_store_outbox_claim(s, "w", 10, 100, &o, &err), 0);
    assert_string_equal(o.org, "zeta");
    sdra_store_outbox_release(&o);
    sdra_store_audit_entry e = {.at_ms = 1, .actor = "k1", .action = "call.read", .target = "z1", .org = "zeta"};
    assert_int_equal(sdra_store_audit_append(s, &e, &err), 0);
    sdra_store_audit_entry e2 = {.at_ms = 2, .actor = "k2", .action = "call.read", .target = "a1", .org = "acme"};
    assert_int_equal(sdra_store_audit_append(s, &e2, &err), 0);
    sdra_store_audit_entry bad = {.at_ms = 3, .actor = "k2", .action = "x", .org = "ACME"};
    assert_int_equal(sdra_store_audit_append(s, &bad, &err), SDRA_EINVAL);
    sdra_store_audit_entry got[4];
    sdra_store_audit_filter f = {.org = "zeta"};
    assert_int_equal(sdra_store_audit_query(s, &f, got, 4, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(got[0].target, "z1");
    assert_string_equal(got[0].org, "zeta");
    int64_t nv = 0, bad_id = 0;
    assert_int_equal(sdra_store_audit_verify(s, &nv, &bad_id, &err), 0);
    assert_int_equal(nv, 2);
    /* the organisation is part of the chain: moving an entry to another one breaks it */
    assert_int_equal(B->raw_exec(g_path, "UPDATE audit_log SET org = 'acme' WHERE id = 1"), 0);
    assert_int_equal(sdra_store_audit_verify(s, &nv, &bad_id, &err), SDRA_EIO);
    assert_int_equal(bad_id, 1);
    cleanup(s);
}

/* Quotas per organisation: calls in flight and storage (audio + artifacts). */
static void store_org_quotas(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    sdra_store_org o;
    assert_int_equal(sdra_store_org_get(s, "acme", &o, &err), 0); /* never set: unlimited */
    assert_int_equal(o.max_active, 0);
    assert_int_equal(o.max_storage_bytes, 0);
    assert_int_equal(sdra_store_org_set(s, "acme", 1, 1000, 1, &err), 0);
    assert_int_equal(sdra_store_org_set(s, "acme", -1, 0, 1, &err), SDRA_EINVAL);
    assert_int_equal(sdra_store_org_set(s, "no/org", 1, 0, 1, &err), SDRA_EINVAL);
    assert_int_equal(sdra_store_call_create(s, "acme", "a1", "{}", 600, 0, 10, 0, &err), 0);
    assert_int_equal(sdra_store_call_create(s, "acme", "a2", "{}", 100, 0, 20, 0, &err), SDRA_ELIMIT); /* in flight */
    assert_int_equal(sdra_store_call_create(s, "zeta", "z1", "{}", 5000, 0, 20, 0, &err), 0); /* others unaffected */
    sdra_store_job j;
    assert_int_equal(sdra_store_job_claim(s, 0, "w", 100, 1000, 1, &j, &err), 0);
    sdra_store_artifact art = {.name = "t.json", .path = "p", .sha256 = "ab", .size_bytes = 300};
    assert_int_equal(sdra_store_job_complete(s, &j, &art, 1, -1, 110, &err), 0);
    if (strcmp(j.call_id, "a1") != 0) { /* z1 was claimed: finish a1 too */
        assert_int_equal(sdra_store_job_claim(s, 0, "w", 120, 1000, 1, &j, &err), 0);
        assert_int_equal(sdra_store_job_complete(s, &j, NULL, 0, -1, 130, &err), 0);
    }
    assert_int_equal(sdra_store_org_get(s, "acme", &o, &err), 0);
    assert_int_equal(o.n_active, 0);
    assert_int_equal(o.max_active, 1);
    assert_int_equal(o.storage_bytes, strcmp(j.call_id, "a1") ? 600 : 900);
    int64_t used = o.storage_bytes;
    assert_int_equal(sdra_store_call_create(s, "acme", "a3", "{}", 1000 - used + 1, 0, 140, 0, &err), SDRA_ELIMIT);
    assert_int_equal(sdra_store_call_create(s, "acme", "a3", "{}", 1000 - used, 0, 140, 0, &err), 0);
    assert_int_equal(sdra_store_call_delete(s, "acme", "a1", &err), 0); /* erasure frees storage */
    assert_int_equal(sdra_store_org_get(s, "acme", &o, &err), 0);
    assert_int_equal(o.storage_bytes, 1000 - used);
    assert_int_equal(sdra_store_org_set(s, "acme", 0, 0, 2, &err), 0); /* 0: unlimited */
    assert_int_equal(sdra_store_call_create(s, "acme", "a4", "{}", 1 << 20, 0, 150, 0, &err), 0);
    sdra_store_org list[4];
    int n = 0;
    assert_int_equal(sdra_store_org_list(s, list, 4, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "acme");
    assert_int_equal(list[0].n_active, 2);
    assert_string_equal(list[1].name, "zeta");
    cleanup(s);
}

static void store_survives_reopen(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    sdra_store_job j;
    assert_int_equal(sdra_store_call_create(s, "default", "c", "{}", 0, 0, 0, 0, &err), 0);
    assert_int_equal(sdra_store_job_claim(s, 0, "w", 0, 1000, 3, &j, &err), 0);
    sdra_store_close(s);
    assert_int_equal(B->open(&s, g_path, &err), 0);
    sdra_store_job jobs[2];
    int n = 0;
    assert_int_equal(sdra_store_job_list(s, NULL, "c", jobs, 2, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(jobs[0].state, SDRA_JOB_RUNNING);
    assert_int_equal(sdra_store_job_claim(s, 0, "w2", 2000, 1000, 3, &j, &err), 0);
    cleanup(s);
}

static void store_open_rejects_bad_location(void **state)
{
    (void)state;
    sdra_store *s = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_store_open(&s, "/nonexistent-dir/x/y.db", &err), SDRA_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x/y.db"));
    /* a PostgreSQL URL opens the postgres backend: a malformed one is refused as such, a host
     * that does not answer is retryable, with one line that names it */
    assert_int_equal(sdra_store_open(&s, "postgres://h/db?no_such_option=1", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "bad PostgreSQL URL"));
    assert_int_equal(sdra_store_open(&s, "postgresql://u:secret-pw@127.0.0.1:1/db?connect_timeout=5", &err),
                     SDRA_ERETRY);
    assert_non_null(strstr(err.msg, "cannot reach PostgreSQL at 127.0.0.1:1"));
    assert_null(strstr(err.msg, "secret-pw"));
    assert_null(strchr(err.msg, '\n'));
}

/* The outbox life cycle (issue 13): held until approved, canceled only before it is sent, a
 * crashed worker's lease expires and the entry is claimed again (resumed), done with the remote
 * id, retryable failures wait for next_attempt, dead entries are queued by hand, and another
 * organisation's entry is not found. */
static void store_outbox_lifecycle(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    sdra_store_outbox_item o, dead_worker;
    sdra_store_outbox_new e = {.org = "acme", .key = "mail.deliver:c1", .call_id = "c1", .kind = "mail.deliver",
                               .payload = "{}", .state = SDRA_OUTBOX_HELD, .reason = "needs review"};
    assert_int_equal(sdra_store_outbox_add(s, &e, 10, &err), 0);
    e.state = SDRA_JOB_QUEUED; /* a second add under the same key changes nothing */
    assert_int_equal(sdra_store_outbox_add(s, &e, 11, &err), 0);
    sdra_store_outbox_new w = {.org = "acme", .key = "webhook:call.completed:c1:cfg", .call_id = "c1",
                               .kind = "webhook", .payload = "{\"a\":1}", .state = SDRA_JOB_QUEUED,
                               .send_at_ms = 500};
    assert_int_equal(sdra_store_outbox_add(s, &w, 12, &err), 0);
    sdra_store_outbox_new bad = w;
    bad.key = "has space";
    assert_int_equal(sdra_store_outbox_add(s, &bad, 12, &err), SDRA_EINVAL);
    bad = w;
    bad.state = SDRA_JOB_DONE;
    assert_int_equal(sdra_store_outbox_add(s, &bad, 12, &err), SDRA_EINVAL);

    assert_int_equal(sdra_store_outbox_get(s, "acme", "mail.deliver:c1", &o, &err), 0);
    assert_int_equal(o.state, SDRA_OUTBOX_HELD);
    assert_string_equal(o.last_error, "needs review");
    sdra_store_outbox_release(&o);
    assert_int_equal(sdra_store_outbox_get(s, "zeta", "mail.deliver:c1", &o, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_store_outbox_approve(s, "zeta", "mail.deliver:c1", 20, &err), SDRA_ENOTFOUND);

    /* held is never claimed; the webhook waits for its send_at */
    assert_int_equal(sdra_store_outbox_claim(s, "w1", 100, 1000, &o, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_store_outbox_retry(s, "acme", "mail.deliver:c1", 100, &err), SDRA_EEXISTS); /* not dead */
    assert_int_equal(sdra_store_outbox_approve(s, "acme", "mail.deliver:c1", 100, &err), 0);
    assert_int_equal(sdra_store_outbox_approve(s, "acme", "mail.deliver:c1", 100, &err), SDRA_EEXISTS);
    assert_int_equal(sdra_store_outbox_claim(s, "w1", 100, 1000, &dead_worker, &err), 0);
    assert_string_equal(dead_worker.key, "mail.deliver:c1");
    assert_false(dead_worker.resumed);
    assert_int_equal(sdra_store_outbox_cancel(s, "acme", "mail.deliver:c1", 150, &err), SDRA_EEXISTS); /* sending */
    /* the worker dies: after its lease the entry is claimed again, marked resumed */
    assert_int_equal(sdra_store_outbox_claim(s, "w2", 600, 1000, &o, &err), 0);
    assert_string_equal(o.key, "webhook:call.completed:c1:cfg"); /* due now; the mail still leased */
    sdra_store_outbox_item hook = o;
    assert_int_equal(sdra_store_outbox_claim(s, "w2", 1200, 1000, &o, &err), 0);
    assert_string_equal(o.key, "mail.deliver:c1");
    assert_true(o.resumed);
    assert_int_equal(o.attempts, 2);
    /* the old holder's outcome is refused; the new one's recorded with the remote id */
    assert_int_equal(sdra_store_outbox_finish(s, &dead_worker, "x", 1300, &err), SDRA_EEXISTS);
    assert_int_equal(sdra_store_outbox_finish(s, &o, "<m1@acme>", 1300, &err), 0);
    sdra_store_outbox_release(&o);
    sdra_store_outbox_release(&dead_worker);
    assert_int_equal(sdra_store_outbox_get(s, NULL, "mail.deliver:c1", &o, &err), 0);
    assert_int_equal(o.state, SDRA_JOB_DONE);
    assert_string_equal(o.remote_id, "<m1@acme>");
    sdra_store_outbox_release(&o);
    assert_int_equal(sdra_store_outbox_cancel(s, "acme", "mail.deliver:c1", 1400, &err), SDRA_EEXISTS); /* sent */

    /* a retryable failure waits for next_attempt, a permanent one is dead until retried */
    assert_int_equal(sdra_store_outbox_fail(s, &hook, "webhook: 503", SDRA_JOB_QUEUED, 5000, 1300, &err), 0);
    assert_int_equal(sdra_store_outbox_claim(s, "w3", 4999, 1000, &o, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_store_outbox_claim(s, "w3", 5000, 1000, &o, &err), 0);
    assert_false(o.resumed);
    assert_int_equal(sdra_store_outbox_fail(s, &o, "webhook: 400 bad request", SDRA_JOB_DEAD, 0, 5100, &err), 0);
    sdra_store_outbox_release(&o);
    sdra_store_outbox_release(&hook);
    assert_int_equal(sdra_store_outbox_claim(s, "w3", 99999, 1000, &o, &err), SDRA_ENOTFOUND);
    sdra_store_outbox_item list[4];
    int n = 0;
    sdra_store_outbox_filter f = {.org = "acme", .state = SDRA_JOB_DEAD};
    assert_int_equal(sdra_store_outbox_query(s, &f, list, 4, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].last_error, "webhook: 400 bad request");
    assert_int_equal(list[0].attempts, 2);
    sdra_store_outbox_release(&list[0]);
    f.org = "zeta";
    f.state = -1;
    assert_int_equal(sdra_store_outbox_query(s, &f, list, 4, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(sdra_store_outbox_retry(s, "acme", "webhook:call.completed:c1:cfg", 6000, &err), 0);
    assert_int_equal(sdra_store_outbox_claim(s, "w3", 6000, 1000, &o, &err), 0);
    assert_int_equal(o.attempts, 1); /* reset by the retry */
    assert_int_equal(sdra_store_outbox_finish(s, &o, NULL, 6100, &err), 0);
    sdra_store_outbox_release(&o);

    /* cancel before sending: never claimed */
    sdra_store_outbox_new c = w;
    c.key = "crm.sync:c1";
    c.kind = "crm.sync";
    c.send_at_ms = 0;
    assert_int_equal(sdra_store_outbox_add(s, &c, 7000, &err), 0);
    assert_int_equal(sdra_store_outbox_cancel(s, "acme", "crm.sync:c1", 7001, &err), 0);
    assert_int_equal(sdra_store_outbox_claim(s, "w4", 99999, 1000, &o, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_store_outbox_get(s, "acme", "crm.sync:c1", &o, &err), 0);
    assert_int_equal(o.state, SDRA_OUTBOX_CANCELED);
    sdra_store_outbox_release(&o);
    cleanup(s);
}

/* A stage's completion and the effects it causes commit together; a completion refused (lease
 * lost) records none of them. */
static void store_job_complete_records_effects_atomically(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    sdra_store_job j, stale;
    assert_int_equal(sdra_store_call_create(s, "acme", "c", "{}", 0, 0, 0, 0, &err), 0);
    assert_int_equal(sdra_store_job_claim(s, 0, "w1", 0, 100, 5, &stale, &err), 0);
    assert_int_equal(sdra_store_job_claim(s, 0, "w2", 200, 100, 5, &j, &err), 0);
    sdra_store_outbox_new fx = {.org = "acme", .key = "webhook:call.completed:c:cfg", .call_id = "c",
                                .kind = "webhook", .payload = "{}", .state = SDRA_JOB_QUEUED};
    assert_int_equal(sdra_store_job_complete_fx(s, &stale, NULL, 0, -1, &fx, 1, 250, &err), SDRA_EEXISTS);
    sdra_store_outbox_item o;
    assert_int_equal(sdra_store_outbox_get(s, NULL, fx.key, &o, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_store_job_complete_fx(s, &j, NULL, 0, -1, &fx, 1, 260, &err), 0);
    assert_int_equal(sdra_store_outbox_get(s, "acme", fx.key, &o, &err), 0);
    assert_int_equal(o.state, SDRA_JOB_QUEUED);
    sdra_store_outbox_release(&o);
    /* a failure records its effects only when the job dies */
    assert_int_equal(sdra_store_call_create(s, "acme", "d", "{}", 0, 0, 0, 0, &err), 0);
    sdra_store_outbox_new ff = fx;
    ff.key = "webhook:call.failed:d:cfg";
    ff.call_id = "d";
    assert_int_equal(sdra_store_job_claim(s, 0, "w1", 300, 100, 5, &j, &err), 0);
    assert_int_equal(sdra_store_job_fail_fx(s, &j, "x", true, 301, 5, &ff, 1, 300, &err), 0);
    assert_int_equal(sdra_store_outbox_get(s, NULL, ff.key, &o, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_store_job_claim(s, 0, "w1", 400, 100, 5, &j, &err), 0);
    assert_int_equal(sdra_store_job_fail_fx(s, &j, "x", false, 0, 5, &ff, 1, 400, &err), 0);
    assert_int_equal(sdra_store_outbox_get(s, NULL, ff.key, &o, &err), 0);
    sdra_store_outbox_release(&o);
    cleanup(s);
}

/* The ids of the calls a search returns, "a,b" (newest first), released. */
static const char *search_ids(sdra_store *s, const char *org, const sdra_store_search_query *q)
{
    static char ids[256];
    sdra_store_call out[8];
    int n = 0;
    sdra_error err = {0};
    ids[0] = '\0';
    assert_int_equal(sdra_store_call_search(s, org, q, 0, 8, out, &n, &err), 0);
    for (int i = 0; i < n; i++) {
        if (i)
            strcat(ids, ",");
        strcat(ids, out[i].id);
        sdra_store_call_release(&out[i]);
    }
    return ids;
}

static void store_search_finds_calls_by_terms_and_filters(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    assert_int_equal(sdra_store_call_create(s, "default", "c-1", "{}", 0, 0, 1000, 0, &err), 0);
    assert_int_equal(sdra_store_call_create(s, "default", "c-2", "{}", 0, 0, 2000, 0, &err), 0);
    assert_int_equal(sdra_store_call_create(s, "other", "c-3", "{}", 0, 0, 3000, 0, &err), 0);
    assert_int_equal(sdra_store_call_create(s, "default", "c-4", "{}", 0, 0, 4000, 0, &err), 0); /* no row */
    sdra_store_search_doc d1 = {.people = "jordan lee northwind", .words = "the price is too high for us",
                                .outcome = "meeting_booked", .objections = "price security", .day = "2026-11-24"};
    sdra_store_search_doc d2 = {.people = "sam contoso", .words = "we use spreadsheets today",
                                .outcome = "follow_up", .objections = "timing", .day = "2026-12-01"};
    sdra_store_search_doc d3 = {.people = "jordan", .words = "price", .outcome = "meeting_booked", .day = "2026-11-24"};
    assert_int_equal(sdra_store_search_put(s, "default", "c-1", &d1, &err), 0);
    assert_int_equal(sdra_store_search_put(s, "default", "c-2", &d2, &err), 0);
    assert_int_equal(sdra_store_search_put(s, "other", "c-3", &d3, &err), 0);

    /* words said, contact, company; every term must occur; org-scoped */
    assert_string_equal(search_ids(s, "default", &(sdra_store_search_query){.terms = "price"}), "c-1");
    assert_string_equal(search_ids(s, "default", &(sdra_store_search_query){.terms = "Northwind"}), "c-1");
    assert_string_equal(search_ids(s, "default", &(sdra_store_search_query){.terms = "jordan spreadsheets"}), "");
    assert_string_equal(search_ids(s, "other", &(sdra_store_search_query){.terms = "price"}), "c-3");
    assert_string_equal(search_ids(s, NULL, &(sdra_store_search_query){.terms = "jordan"}), "c-3,c-1");
    /* filters alone and together */
    assert_string_equal(search_ids(s, "default", &(sdra_store_search_query){.objection = "timing"}), "c-2");
    assert_string_equal(search_ids(s, "default", &(sdra_store_search_query){.outcome = "meeting_booked"}), "c-1");
    assert_string_equal(search_ids(s, "default", &(sdra_store_search_query){.from_day = "2026-11-25"}), "c-2");
    assert_string_equal(search_ids(s, "default", &(sdra_store_search_query){.to_day = "2026-11-24"}), "c-1");
    assert_string_equal(search_ids(s, "default", &(sdra_store_search_query){.terms = "price", .objection = "timing"}),
                        "");
    assert_string_equal(search_ids(s, "default", &(sdra_store_search_query){.status = "queued"}), "c-2,c-1");
    /* FTS5 syntax in a query is refused, not interpreted */
    sdra_store_call out[2];
    int n = 0;
    assert_int_equal(sdra_store_call_search(s, "default", &(sdra_store_search_query){.terms = "price OR \"x"}, 0, 2,
                                            out, &n, &err),
                     SDRA_EINVAL);
    assert_int_equal(sdra_store_call_search(s, "default", &(sdra_store_search_query){.terms = "a*"}, 0, 2, out, &n,
                                            &err),
                     SDRA_EINVAL);
    assert_int_equal(sdra_store_call_search(s, "default", &(sdra_store_search_query){.from_day = "2026-1-1"}, 0, 2,
                                            out, &n, &err),
                     SDRA_EINVAL);
    /* a put replaces the row; a deleted call leaves the index */
    d1.words = "budget approved";
    assert_int_equal(sdra_store_search_put(s, "default", "c-1", &d1, &err), 0);
    assert_string_equal(search_ids(s, "default", &(sdra_store_search_query){.terms = "price"}), "");
    assert_string_equal(search_ids(s, "default", &(sdra_store_search_query){.terms = "budget"}), "c-1");
    assert_int_equal(sdra_store_call_delete(s, NULL, "c-1", &err), 0);
    assert_string_equal(search_ids(s, "default", &(sdra_store_search_query){.terms = "budget"}), "");
    cleanup(s);
}

/* Accents do not matter, either way round, as SQLite's FTS5 (remove_diacritics) has it:
 * "jose" finds "José" and "José" finds "jose"; case and accent together too. */
static void store_search_folds_accents(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    assert_int_equal(sdra_store_call_create(s, "default", "c-1", "{}", 0, 0, 1000, 0, &err), 0);
    assert_int_equal(sdra_store_call_create(s, "default", "c-2", "{}", 0, 0, 2000, 0, &err), 0);
    sdra_store_search_doc d1 = {.people = "José Núñez Société Générale", .words = "la reunión del miércoles",
                                .objections = "précio"};
    sdra_store_search_doc d2 = {.people = "jose lopez", .words = "zoe said creme brulee"};
    assert_int_equal(sdra_store_search_put(s, "default", "c-1", &d1, &err), 0);
    assert_int_equal(sdra_store_search_put(s, "default", "c-2", &d2, &err), 0);
    assert_string_equal(search_ids(s, "default", &(sdra_store_search_query){.terms = "jose"}), "c-2,c-1");
    assert_string_equal(search_ids(s, "default", &(sdra_store_search_query){.terms = "José"}), "c-2,c-1");
    assert_string_equal(search_ids(s, "default", &(sdra_store_search_query){.terms = "nunez reunion"}), "c-1");
    assert_string_equal(search_ids(s, "default", &(sdra_store_search_query){.terms = "MIERCOLES"}), "c-1");
    assert_string_equal(search_ids(s, "default", &(sdra_store_search_query){.terms = "Zoë crème brûlée"}), "c-2");
    assert_string_equal(search_ids(s, "default", &(sdra_store_search_query){.terms = "generale"}), "c-1");
    assert_string_equal(search_ids(s, "default", &(sdra_store_search_query){.objection = "precio"}), "c-1");
    assert_string_equal(search_ids(s, "default", &(sdra_store_search_query){.terms = "josé lopez"}), "c-2");
    cleanup(s);
}

static void store_search_index_survives_reopen(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    assert_int_equal(sdra_store_call_create(s, "default", "c-1", "{}", 0, 0, 1000, 0, &err), 0);
    sdra_store_search_doc d = {.people = "northwind", .words = "hello"};
    assert_int_equal(sdra_store_search_put(s, "default", "c-1", &d, &err), 0);
    sdra_store_close(s);
    /* opening an existing database again creates nothing twice (the schema is idempotent) */
    assert_int_equal(B->open(&s, g_path, &err), 0);
    assert_string_equal(search_ids(s, "default", &(sdra_store_search_query){.terms = "hello"}), "c-1");
    cleanup(s);
}

/* The queue statistics /metrics and the autoscalers read: per stage, the queued_ms of the
 * oldest queued job; a claimed job leaves the queue, a completed stage queues the next one. */
static void store_queue_oldest_per_stage(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    int64_t oldest[3] = {-1, -1, -1};
    assert_int_equal(sdra_store_queue_oldest(s, 3, oldest, &err), 0);
    assert_int_equal(oldest[0], 0);
    assert_int_equal(oldest[2], 0);
    assert_int_equal(sdra_store_call_create(s, "default", "a", "{}", 0, 0, 1000, 0, &err), 0);
    assert_int_equal(sdra_store_call_create(s, "default", "b", "{}", 0, 0, 2000, 0, &err), 0);
    assert_int_equal(sdra_store_call_create(s, "default", "c", "{}", 0, 1, 1500, 0, &err), 0);
    assert_int_equal(sdra_store_queue_oldest(s, 3, oldest, &err), 0);
    assert_int_equal(oldest[0], 1000);
    assert_int_equal(oldest[1], 1500);
    assert_int_equal(oldest[2], 0);
    sdra_store_job j;
    assert_int_equal(sdra_store_job_claim(s, 0, "w", 3000, 1000, 5, &j, &err), 0);
    assert_string_equal(j.call_id, "a");
    assert_int_equal(sdra_store_queue_oldest(s, 3, oldest, &err), 0);
    assert_int_equal(oldest[0], 2000); /* a is running: b is the oldest queued */
    assert_int_equal(sdra_store_job_complete(s, &j, NULL, 0, 1, 3500, &err), 0);
    assert_int_equal(sdra_store_queue_oldest(s, 3, oldest, &err), 0);
    assert_int_equal(oldest[1], 1500); /* c (1500) is older than a's next stage (3500) */
    /* a stage index past n_stages is not written */
    int64_t one[1] = {-1};
    assert_int_equal(sdra_store_queue_oldest(s, 1, one, &err), 0);
    assert_int_equal(one[0], 2000);
    cleanup(s);
}


/* Workers on many threads (or machines) claiming from one queue: every job is claimed and
 * completed exactly once, whatever the interleaving (PostgreSQL: FOR UPDATE SKIP LOCKED). */
#define CLAIM_JOBS 60
typedef struct claimer {
    sdra_store *s;
    int n_done;
    int fails;
    char owner[16];
} claimer;

static void *claim_until_empty(void *arg)
{
    claimer *c = arg;
    sdra_error err = {0};
    for (;;) {
        sdra_store_job j;
        int rc = sdra_store_job_claim(c->s, 0, c->owner, 5000, 60000, 5, &j, &err);
        if (rc == SDRA_ENOTFOUND)
            return NULL;
        if (rc < 0 || sdra_store_job_complete(c->s, &j, NULL, 0, -1, 5001, &err) < 0) {
            c->fails++;
            return NULL;
        }
        c->n_done++;
    }
}

static void store_concurrent_claims_take_each_job_once(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    for (int i = 0; i < CLAIM_JOBS; i++) {
        char id[16];
        snprintf(id, sizeof id, "c-%d", i);
        assert_int_equal(sdra_store_call_create(s, "default", id, "{}", 0, 0, 1000 + i, 0, &err), 0);
    }
    claimer cl[4] = {{0}};
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        cl[i].s = s;
        snprintf(cl[i].owner, sizeof cl[i].owner, "w%d", i);
        assert_int_equal(pthread_create(&t[i], NULL, claim_until_empty, &cl[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(cl[i].fails, 0);
        total += cl[i].n_done;
    }
    assert_int_equal(total, CLAIM_JOBS);
    int counts[1][SDRA_N_JOB_STATES] = {{0}};
    assert_int_equal(sdra_store_job_counts(s, 1, counts, &err), 0);
    assert_int_equal(counts[0][SDRA_JOB_DONE], CLAIM_JOBS);
    sdra_store_job jobs[2];
    int n = 0;
    assert_int_equal(sdra_store_job_list(s, NULL, "c-7", jobs, 2, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(jobs[0].attempts, 1); /* claimed once */
    cleanup(s);
}

/* sdra_store_wait_work: the timeout passes without work; with notifications (PostgreSQL), a
 * job queued by anyone wakes the waiter at once. */
static void store_wait_work(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    int64_t t0 = sdra_store_now_ms();
    assert_int_equal(sdra_store_wait_work(s, 100, &err), SDRA_ETIMEOUT);
    assert_true(sdra_store_now_ms() - t0 >= 90);
    if (s->ops->wait_work) {
        /* another handle (another process, in real life) queues a job */
        sdra_store *other = NULL;
        assert_int_equal(B->open(&other, g_path, &err), 0);
        assert_int_equal(sdra_store_call_create(other, "default", "c-1", "{}", 0, 0, 1000, 0, &err), 0);
        sdra_store_close(other);
        t0 = sdra_store_now_ms();
        assert_int_equal(sdra_store_wait_work(s, 10000, &err), 0);
        assert_true(sdra_store_now_ms() - t0 < 5000);
        /* drained: nothing new, so the next wait times out */
        assert_int_equal(sdra_store_wait_work(s, 100, &err), SDRA_ETIMEOUT);
    }
    cleanup(s);
}

/* ---- postgres only: connection failures, schema versions, a server restart -------------- */

/* The test server's URL with another password or database: postgresql://sdra:PW@/DB?QUERY. */
static void pg_url_with(char *out, size_t n, const char *pw, const char *db)
{
    const char *url = getenv("SDRA_TEST_PG_URL");
    const char *q = strchr(url, '?');
    snprintf(out, n, "postgresql://sdra:%s@/%s%s", pw, db, q ? q : "");
}

static void pg_bad_login_and_missing_database(void **state)
{
    (void)state;
    char url[1024], good_db[128];
    const char *u = getenv("SDRA_TEST_PG_URL");
    const char *d = strstr(u, "@/") + 2;
    snprintf(good_db, sizeof good_db, "%.*s", (int)strcspn(d, "?"), d);
    sdra_store *s = NULL;
    sdra_error err = {0};
    pg_url_with(url, sizeof url, "wrong-password", good_db);
    assert_int_equal(sdra_store_open(&s, url, &err), SDRA_EDENIED);
    assert_non_null(strstr(err.msg, "refused the login of user sdra"));
    assert_null(strstr(err.msg, "wrong-password"));
    assert_null(strchr(err.msg, '\n'));
    const char *pw_start = strstr(u, "sdra:") + 5;
    char pw[128];
    snprintf(pw, sizeof pw, "%.*s", (int)strcspn(pw_start, "@"), pw_start);
    pg_url_with(url, sizeof url, pw, "no_such_db");
    assert_int_equal(sdra_store_open(&s, url, &err), SDRA_ENOTFOUND);
    assert_non_null(strstr(err.msg, "has no database no_such_db"));
    assert_null(strchr(err.msg, '\n'));
}

static void pg_newer_schema_is_refused(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    assert_int_equal(sdra_store_call_create(s, "default", "c-1", "{}", 0, 0, 1000, 0, &err), 0);
    sdra_store_close(s);
    assert_int_equal(pg_raw_exec(g_path, "INSERT INTO schema_version (version, applied_ms) VALUES (999, 0)"), 0);
    s = NULL;
    assert_int_equal(B->open(&s, g_path, &err), SDRA_EUNSUPPORTED);
    assert_null(s);
    assert_non_null(strstr(err.msg, "schema is version 999, newer than this sdra knows"));
    assert_null(strchr(err.msg, '\n'));
    /* refused, not changed: the data is still there for the newer binary */
    assert_int_equal(pg_raw_exec(g_path, "DELETE FROM schema_version WHERE version = 999"), 0);
    assert_int_equal(B->open(&s, g_path, &err), 0);
    sdra_store_call c;
    assert_int_equal(sdra_store_call_get(s, NULL, "c-1", &c, &err), 0);
    sdra_store_call_release(&c);
    sdra_store_close(s);
}

/* A server restart (every connection of the store cut): the operation in flight answers a
 * retryable error, and the next one reconnects and works. */
static void pg_lost_connection_is_retryable_then_reconnects(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    assert_int_equal(sdra_store_call_create(s, "default", "c-1", "{}", 0, 0, 1000, 0, &err), 0);
    assert_int_equal(pg_raw_exec(g_path, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                         " WHERE pid <> pg_backend_pid() AND datname = current_database()"),
                     0);
    sdra_store_call c;
    int rc = sdra_store_call_get(s, NULL, "c-1", &c, &err);
    assert_int_equal(rc, SDRA_ERETRY);
    assert_true(err.retryable);
    assert_non_null(strstr(err.msg, "lost the connection to PostgreSQL"));
    assert_int_equal(sdra_store_call_get(s, NULL, "c-1", &c, &err), 0);
    assert_string_equal(c.id, "c-1");
    sdra_store_call_release(&c);
    sdra_store_job j;
    assert_int_equal(sdra_store_job_claim(s, 0, "w", 2000, 1000, 5, &j, &err), 0);
    cleanup(s);
}

/* The web app's email review approves the held email with the rep's choices: a send_at (the
 * entry is not due before it) and a payload with the chosen delivery mode, all at once; an entry
 * that is not held is refused and left unchanged. */
static void store_outbox_approve_as_sets_send_at_and_payload(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    sdra_store_outbox_item o;
    sdra_store_outbox_new e = {.org = "acme", .key = "mail.deliver:c1", .call_id = "c1", .kind = "mail.deliver",
                               .payload = "{\"mode\":\"draft\"}", .state = SDRA_OUTBOX_HELD, .reason = "review"};
    assert_int_equal(sdra_store_outbox_add(s, &e, 10, &err), 0);
    e.key = "mail.deliver:c2";
    e.call_id = "c2";
    assert_int_equal(sdra_store_outbox_add(s, &e, 10, &err), 0);
    assert_int_equal(sdra_store_outbox_approve_as(s, "zeta", "mail.deliver:c1", 5000, NULL, 20, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_store_outbox_approve_as(s, "acme", "mail.deliver:c1", 5000, "{\"mode\":\"send\"}", 20,
                                                  &err),
                     0);
    assert_int_equal(sdra_store_outbox_get(s, "acme", "mail.deliver:c1", &o, &err), 0);
    assert_int_equal(o.state, SDRA_JOB_QUEUED);
    assert_int_equal(o.send_at_ms, 5000);
    assert_int_equal(o.next_attempt_ms, 5000);
    assert_string_equal(o.payload, "{\"mode\":\"send\"}");
    assert_string_equal(o.last_error, "");
    sdra_store_outbox_release(&o);
    /* not due before its send_at */
    assert_int_equal(sdra_store_outbox_claim(s, "w1", 4999, 1000, &o, &err), SDRA_ENOTFOUND);
    /* queued now: a second approval is refused and changes nothing */
    assert_int_equal(sdra_store_outbox_approve_as(s, "acme", "mail.deliver:c1", 0, "{}", 30, &err), SDRA_EEXISTS);
    assert_int_equal(sdra_store_outbox_get(s, "acme", "mail.deliver:c1", &o, &err), 0);
    assert_int_equal(o.send_at_ms, 5000);
    assert_string_equal(o.payload, "{\"mode\":\"send\"}");
    sdra_store_outbox_release(&o);
    /* -1 keeps send_at, NULL keeps the payload: due at once */
    assert_int_equal(sdra_store_outbox_approve_as(s, "acme", "mail.deliver:c2", -1, NULL, 40, &err), 0);
    assert_int_equal(sdra_store_outbox_claim(s, "w1", 40, 1000, &o, &err), 0);
    assert_string_equal(o.key, "mail.deliver:c2");
    assert_string_equal(o.payload, "{\"mode\":\"draft\"}");
    sdra_store_outbox_release(&o);
    assert_int_equal(sdra_store_outbox_approve_as(s, "acme", "mail.deliver:c1", -2, NULL, 40, &err), SDRA_EINVAL);
    cleanup(s);
}

/* Calls stored before the search index existed: the finished ones without a row, by id, paged
 * after an id (so a call that cannot be indexed does not stop the backfill). */
static void store_search_missing_pages_finished_calls(void **state)
{
    (void)state;
    sdra_store *s = open_fresh();
    sdra_error err = {0};
    const char *ids[] = {"c-3", "c-1", "c-2", "c-4"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(sdra_store_call_create(s, i == 3 ? "other" : "default", ids[i], "{}", 0, 0, 100 + i, 0, &err),
                         0);
    for (int i = 0; i < 3; i++) { /* c-3, c-1, c-2 done; c-4 still queued */
        sdra_store_job j;
        assert_int_equal(sdra_store_job_claim(s, 0, "w1", 200, 1000, 3, &j, &err), 0);
        assert_int_equal(sdra_store_job_complete(s, &j, NULL, 0, -1, 300, &err), 0);
    }
    sdra_store_search_doc d = {.people = "northwind", .words = "hello"};
    assert_int_equal(sdra_store_search_put(s, "default", "c-2", &d, &err), 0);
    sdra_store_call out[4];
    int n = -1;
    assert_int_equal(sdra_store_search_missing(s, "", out, 4, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].id, "c-1");
    assert_string_equal(out[0].org, "default");
    assert_string_equal(out[0].status, "done");
    assert_null(out[0].meta_json);
    assert_string_equal(out[1].id, "c-3");
    assert_int_equal(sdra_store_search_missing(s, NULL, out, 1, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].id, "c-1");
    assert_int_equal(sdra_store_search_missing(s, "c-1", out, 4, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].id, "c-3");
    assert_int_equal(sdra_store_search_put(s, "default", "c-1", &d, &err), 0);
    assert_int_equal(sdra_store_search_put(s, "default", "c-3", &d, &err), 0);
    assert_int_equal(sdra_store_search_missing(s, "", out, 4, &n, &err), 0);
    assert_int_equal(n, 0);
    cleanup(s);
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store_call_lifecycle),
        cmocka_unit_test(store_backpressure_limits_active_calls),
        cmocka_unit_test(store_stages_complete_in_order),
        cmocka_unit_test(store_expired_lease_is_taken_over_once),
        cmocka_unit_test(store_retries_then_dead_then_manual_retry),
        cmocka_unit_test(store_worker_dying_every_time_ends_dead),
        cmocka_unit_test(store_artifacts_replace_not_duplicate),
        cmocka_unit_test(store_keys_audit_outbox),
        cmocka_unit_test(store_audit_chain_query_verify),
        cmocka_unit_test(store_audit_appends_keep_one_chain_after_tamper_and_reopen),
        cmocka_unit_test(store_audit_concurrent_appends_make_one_chain),
        cmocka_unit_test(store_key_delete),
        cmocka_unit_test(store_keys_belong_to_an_org),
        cmocka_unit_test(store_orgs_are_isolated),
        cmocka_unit_test(store_org_quotas),
        cmocka_unit_test(store_survives_reopen),
        cmocka_unit_test(store_open_rejects_bad_location),
        cmocka_unit_test(store_outbox_lifecycle),
        cmocka_unit_test(store_job_complete_records_effects_atomically),
        cmocka_unit_test(store_search_finds_calls_by_terms_and_filters),
        cmocka_unit_test(store_search_index_survives_reopen),
        cmocka_unit_test(store_search_folds_accents),
        cmocka_unit_test(store_queue_oldest_per_stage),
        cmocka_unit_test(store_concurrent_claims_take_each_job_once),
        cmocka_unit_test(store_wait_work),
        cmocka_unit_test(store_outbox_approve_as_sets_send_at_and_payload),
        cmocka_unit_test(store_search_missing_pages_finished_calls),
    };
    const struct CMUnitTest pg_tests[] = {
        cmocka_unit_test(pg_bad_login_and_missing_database),
        cmocka_unit_test(pg_newer_schema_is_refused),
        cmocka_unit_test(pg_lost_connection_is_retryable_then_reconnects),
    };
    int failed = 0;
    const char *pg = getenv("SDRA_TEST_PG_URL");
    for (size_t b = 0; b < sizeof backends / sizeof backends[0]; b++) {
        B = &backends[b];
        if ((B->raw_exec == pg_raw_exec) != (pg && *pg))
            continue;
        failed += _cmocka_run_group_tests(B->name, tests, sizeof tests / sizeof tests[0], NULL, NULL);
        if (B->raw_exec == pg_raw_exec)
            failed += _cmocka_run_group_tests("postgres-only", pg_tests, sizeof pg_tests / sizeof pg_tests[0], NULL,
                                              NULL);
    }
    return failed;
}
