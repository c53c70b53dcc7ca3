/* test_sqlite_util.c - the SQLite helpers the job store and the local CRM share
 * (sdra/sqlite_util.h): parameters bound from a format string, changes counted, single values
 * read, codes mapped, and user_version migrations applied once, all or nothing, with a newer
 * database refused and left alone. On an in-memory database. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "sdra/sqlite_util.h"

static const char *const MIGRATIONS[] = {
    "CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL);",
    "ALTER TABLE t ADD COLUMN note TEXT; CREATE INDEX t_n ON t (n);",
};

static sqlite3 *open_mem(void)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    return db;
}

static void sqlite_util_exec_bind_and_query(void **state)
{
    (void)state;
    sqlite3 *db = open_mem();
    sdra_error err = {0};
    assert_int_equal(sdra_sqlite_migrate(db, "mem", "test schema", MIGRATIONS, 2, &err), 0);
    assert_int_equal(sdra_sqlite_exec(db, &err, "INSERT INTO t (id, n, note) VALUES (?, ?, ?)", "sls", "a",
                                      (int64_t)5000000000, NULL),
                     1);
    assert_int_equal(sdra_sqlite_exec(db, &err, "INSERT INTO t (id, n) VALUES (?, ?)", "si", "b", 7), 1);
    assert_int_equal(sdra_sqlite_exec(db, &err, "UPDATE t SET n = n + 1", NULL), 2);
    int64_t v = -1;
    int found = 0;
    assert_int_equal(sdra_sqlite_int64(db, &v, &found, &err, "SELECT n FROM t WHERE id = ?", "s", "a"), 0);
    assert_true(found);
    assert_int_equal(v, 5000000001);
    assert_int_equal(sdra_sqlite_int64(db, &v, &found, &err, "SELECT COUNT(*) FROM t WHERE note IS NULL", NULL), 0);
    assert_int_equal(v, 2); /* 's' with NULL bound NULL */
    v = -1;
    assert_int_equal(sdra_sqlite_int64(db, &v, &found, &err, "SELECT n FROM t WHERE id = ?", "s", "zz"), 0);
    assert_false(found);
    assert_int_equal(v, -1);
    /* a duplicate key: SDRA_EEXISTS with one line naming what failed */
    assert_int_equal(sdra_sqlite_exec(db, &err, "INSERT INTO t (id, n) VALUES (?, 1)", "s", "a"), SDRA_EEXISTS);
    assert_non_null(strstr(err.msg, "UNIQUE constraint failed"));
    assert_int_equal(sdra_sqlite_exec(db, &err, "SELECT nonsense FROM", NULL), SDRA_EIO);
    assert_int_equal(sdra_sqlite_code(SQLITE_BUSY), SDRA_ERETRY);
    assert_int_equal(sdra_sqlite_code(SQLITE_CONSTRAINT_PRIMARYKEY), SDRA_EEXISTS);
    sqlite3_close(db);
}

static void sqlite_util_migrations_once_all_or_nothing(void **state)
{
    (void)state;
    sqlite3 *db = open_mem();
    sdra_error err = {0};
    int64_t v = 0;
    assert_int_equal(sdra_sqlite_migrate(db, "mem", "test schema", MIGRATIONS, 1, &err), 0);
    assert_int_equal(sdra_sqlite_int64(db, &v, NULL, &err, "PRAGMA user_version", NULL), 0);
    assert_int_equal(v, 1);
    /* the next one only; again changes nothing */
    assert_int_equal(sdra_sqlite_migrate(db, "mem", "test schema", MIGRATIONS, 2, &err), 0);
    assert_int_equal(sdra_sqlite_migrate(db, "mem", "test schema", MIGRATIONS, 2, &err), 0);
    assert_int_equal(sdra_sqlite_int64(db, &v, NULL, &err, "PRAGMA user_version", NULL), 0);
    assert_int_equal(v, 2);
    /* a failing migration leaves the schema and the version as they were */
    const char *const bad[] = {MIGRATIONS[0], MIGRATIONS[1], "CREATE TABLE u (x); CREATE TABLE t (y);"};
    assert_int_equal(sdra_sqlite_migrate(db, "mem", "test schema", bad, 3, &err), SDRA_EIO);
    assert_non_null(strstr(err.msg, "mem: migration to schema 3"));
    assert_int_equal(sdra_sqlite_int64(db, &v, NULL, &err, "PRAGMA user_version", NULL), 0);
    assert_int_equal(v, 2);
    assert_int_equal(sdra_sqlite_int64(db, &v, NULL, &err, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'u'", NULL),
                     0);
    assert_int_equal(v, 0);
    /* a database from a newer version is refused and left alone */
    assert_int_equal(sdra_sqlite_migrate(db, "mem", "test schema", MIGRATIONS, 1, &err), SDRA_EUNSUPPORTED);
    assert_string_equal(err.msg, "mem: test schema version 2 is newer than this sdra supports (1)");
    assert_int_equal(sdra_sqlite_int64(db, &v, NULL, &err, "PRAGMA user_version", NULL), 0);
    assert_int_equal(v, 2);
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sqlite_util_exec_bind_and_query),
        cmocka_unit_test(sqlite_util_migrations_once_all_or_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
