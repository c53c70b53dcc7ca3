/* test_sqlite_migrate.c - the SQLite backend opens a database written by an older version
 * (audit_log without ip/detail/prev_hash/hash): the columns are added, the old entries are
 * chained in id order, new entries extend the chain, and opening it again changes nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sdra/store.h"
#include "sdra/util.h"

static const char *OLD_SCHEMA =
    "CREATE TABLE api_keys (id VARCHAR(64) PRIMARY KEY, name VARCHAR(128) NOT NULL UNIQUE,"
    " scope VARCHAR(16) NOT NULL, hash VARCHAR(128) NOT NULL, created_ms BIGINT NOT NULL,"
    " revoked_ms BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE audit_log (id INTEGER PRIMARY KEY, at_ms BIGINT NOT NULL, actor VARCHAR(64) NOT NULL,"
    " action VARCHAR(64) NOT NULL, target VARCHAR(64) NOT NULL);"
    "CREATE INDEX audit_by_target ON audit_log (target);"
    "INSERT INTO audit_log (at_ms, actor, action, target) VALUES (1, 'k1', 'call.create', 'c1');"
    "INSERT INTO audit_log (at_ms, actor, action, target) VALUES (2, 'k1', 'audio.read', 'c1');";

/* Writes a database of an older version at path: OLD_SCHEMA, then more (NULL: nothing). */
static void make_old_db(char *path, size_t n, const char *name, const char *more)
{
    const char *tmp = getenv("SDRA_TEST_TMP");
    snprintf(path, n, "%s/%s-%d.db", tmp ? tmp : "/tmp", name, (int)getpid());
    unlink(path);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, OLD_SCHEMA, NULL, NULL, NULL), SQLITE_OK);
    if (more)
        assert_int_equal(sqlite3_exec(db, more, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void remove_db(const char *path)
{
    char p[1100];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static void opens_and_chains_an_old_audit_log(void **state)
{
    (void)state;
    char path[1024];
    make_old_db(path, sizeof path, "migrate", NULL);

    sdra_store *s = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_store_sqlite_open(&s, path, &err), 0);
    int64_t n = 0, bad = 0;
    assert_int_equal(sdra_store_audit_verify(s, &n, &bad, &err), 0);
    assert_int_equal(n, 2);
    sdra_store_audit_entry e = {.at_ms = 3};
    strcpy(e.actor, "k1");
    strcpy(e.action, "call.read");
    strcpy(e.target, "c1");
    strcpy(e.ip, "127.0.0.1");
    assert_int_equal(sdra_store_audit_append(s, &e, &err), 0);
    assert_int_equal(e.id, 3);
    sdra_store_close(s);

    assert_int_equal(sdra_store_sqlite_open(&s, path, &err), 0); /* a second open: already migrated */
    assert_int_equal(sdra_store_audit_verify(s, &n, &bad, &err), 0);
    assert_int_equal(n, 3);
    sdra_store_audit_entry got[4];
    int k = 0;
    assert_int_equal(sdra_store_audit_query(s, NULL, got, 4, &k, &err), 0);
    assert_int_equal(k, 3);
    assert_string_equal(got[2].action, "call.create");
    assert_string_equal(got[2].ip, "");
    assert_string_equal(got[2].prev_hash, SDRA_STORE_AUDIT_GENESIS);
    sdra_store_close(s);
    remove_db(path);
}

/* A database from before organisations (chained audit log, keys, calls, outbox without org):
 * every row belongs to "default", the old entries still verify (hashed without org), new
 * entries are hashed with theirs, and a second open changes nothing. */
static const char *PRE_ORG_SCHEMA =
    "CREATE TABLE calls (id VARCHAR(64) PRIMARY KEY, status VARCHAR(16) NOT NULL, meta TEXT NOT NULL,"
    " created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL);"
    "CREATE TABLE outbox (idem_key VARCHAR(128) PRIMARY KEY, call_id VARCHAR(64) NOT NULL, kind VARCHAR(32) NOT NULL,"
    " payload TEXT NOT NULL, state VARCHAR(16) NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " lease_owner VARCHAR(64), lease_expires_ms BIGINT NOT NULL DEFAULT 0,"
    " created_ms BIGINT NOT NULL, done_ms BIGINT NOT NULL DEFAULT 0);"
    "INSERT INTO calls VALUES ('c1', 'done', '{}', 1, 2);"
    "INSERT INTO api_keys VALUES ('k1', 'ci', 'write', 'aa', 1, 0);"
    "INSERT INTO outbox (idem_key, call_id, kind, payload, state, created_ms) VALUES ('x', 'c1', 'crm', '{}', 'queued', 1);";

static void moves_rows_from_before_organisations_to_default(void **state)
{
    (void)state;
    char path[1024];
    make_old_db(path, sizeof path, "migrate-org", PRE_ORG_SCHEMA);

    sdra_store *s = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_store_sqlite_open(&s, path, &err), 0);
    sdra_store_call c;
    assert_int_equal(sdra_store_call_get(s, "default", "c1", &c, &err), 0);
    assert_string_equal(c.org, "default");
    sdra_store_call_release(&c);
    assert_int_equal(sdra_store_call_get(s, "acme", "c1", &c, &err), SDRA_ENOTFOUND);
    sdra_store_key k;
    assert_int_equal(sdra_store_key_get(s, "k1", &k, &err), 0);
    assert_string_equal(k.org, "default");
    sdra_store_outbox_item o;
    assert_int_equal(sdra_store_outbox_claim(s, "w", 10, 100, &o, &err), 0);
    assert_string_equal(o.org, "default");
    sdra_store_outbox_release(&o);
    sdra_store_audit_entry e = {.at_ms = 3, .actor = "k1", .action = "call.read", .target = "c1", .org = "acme"};
    assert_int_equal(sdra_store_audit_append(s, &e, &err), 0);
    sdra_store_close(s);

    assert_int_equal(sdra_store_sqlite_open(&s, path, &err), 0);
    int64_t n = 0, bad = 0;
    assert_int_equal(sdra_store_audit_verify(s, &n, &bad, &err), 0);
    assert_int_equal(n, 3);
    sdra_store_audit_entry got[4];
    int k2 = 0;
    assert_int_equal(sdra_store_audit_query(s, NULL, got, 4, &k2, &err), 0);
    assert_int_equal(k2, 3);
    assert_string_equal(got[0].org, "acme");
    assert_int_equal(got[0].hash_v, 2);
    assert_string_equal(got[2].org, "default");
    assert_int_equal(got[2].hash_v, 1);
    sdra_store_close(s);
    remove_db(path);
}

/* An outbox from before the delivery life cycle (no send_at, next_attempt, last_error,
 * remote_id): its entries are due at once, can be finished with a remote id, and opening the
 * database again changes nothing. */
static void outbox_from_before_the_life_cycle_is_migrated(void **state)
{
    (void)state;
    char path[1024];
    make_old_db(path, sizeof path, "migrate-outbox", PRE_ORG_SCHEMA);
    sdra_store *s = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_store_sqlite_open(&s, path, &err), 0);
    sdra_store_close(s);
    assert_int_equal(sdra_store_sqlite_open(&s, path, &err), 0); /* idempotent */
    sdra_store_outbox_item o;
    assert_int_equal(sdra_store_outbox_claim(s, "w", 10, 100, &o, &err), 0);
    assert_string_equal(o.key, "x");
    assert_false(o.resumed);
    assert_int_equal(sdra_store_outbox_finish(s, &o, "r-1", 20, &err), 0);
    sdra_store_outbox_release(&o);
    assert_int_equal(sdra_store_outbox_get(s, "default", "x", &o, &err), 0);
    assert_int_equal(o.state, SDRA_JOB_DONE);
    assert_string_equal(o.remote_id, "r-1");
    assert_string_equal(o.last_error, "");
    sdra_store_outbox_release(&o);
    sdra_store_close(s);
    remove_db(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(opens_and_chains_an_old_audit_log),
        cmocka_unit_test(moves_rows_from_before_organisations_to_default),
        cmocka_unit_test(outbox_from_before_the_life_cycle_is_migrated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
