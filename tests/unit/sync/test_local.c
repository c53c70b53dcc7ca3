/* test_local.c - the local SQLite connector: upsert semantics, sticky flags, schema version,
 * and the clear errors for a corrupt database, an unwritable directory and a newer schema. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "helpers.h"

static void sync_contact_upsert_by_email(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tmpdir_make(dir, sizeof dir, "upsert");
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_crm_open(&crm, "local", dir, &err), 0);
    sdra_crm_result r1 = {0}, r2 = {0};
    sdra_crm_contact c = {.email = "Jordan@Acme.example", .name = "Jordan Lee", .company = "Acme"};
    assert_int_equal(sdra_crm_upsert_contact(crm, &c, &r1, &err), 0);
    assert_true(r1.created);
    /* Same address in another case, no name: updates, keeps the stored name. */
    sdra_crm_contact c2 = {.email = " jordan@acme.example", .title = "VP Finance"};
    assert_int_equal(sdra_crm_upsert_contact(crm, &c2, &r2, &err), 0);
    assert_false(r2.created);
    assert_string_equal(r1.id, r2.id);
    json_t *rows = NULL;
    assert_int_equal(sdra_crm_list(crm, SDRA_CRM_CONTACTS, NULL, &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 1);
    json_t *row = json_array_get(rows, 0);
    assert_string_equal(json_string_value(json_object_get(row, "email")), "jordan@acme.example");
    assert_string_equal(json_string_value(json_object_get(row, "name")), "Jordan Lee");
    assert_string_equal(json_string_value(json_object_get(row, "title")), "VP Finance");
    assert_true(json_is_false(json_object_get(row, "do_not_call")));
    json_decref(rows);
    /* Not an address: refused with the value in the message. */
    sdra_crm_contact bad = {.email = "nobody"};
    assert_int_equal(sdra_crm_upsert_contact(crm, &bad, NULL, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "nobody"));
    sdra_crm_close(crm);
    tmpdir_remove(dir);
}

static void sync_contact_flags_are_sticky(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tmpdir_make(dir, sizeof dir, "sticky");
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_crm_open(&crm, NULL, dir, &err), 0);
    sdra_crm_result r = {0};
    sdra_crm_contact c = {.email = "a@b.example", .do_not_call = true};
    assert_int_equal(sdra_crm_upsert_contact(crm, &c, &r, &err), 0);
    assert_true(r.do_not_call);
    assert_false(r.do_not_email);
    sdra_crm_contact c2 = {.email = "a@b.example", .do_not_email = true};
    assert_int_equal(sdra_crm_upsert_contact(crm, &c2, &r, &err), 0);
    assert_true(r.do_not_call); /* not cleared by an upsert that does not mention it */
    assert_true(r.do_not_email);
    sdra_crm_contact c3 = {.email = "a@b.example", .name = "A"};
    assert_int_equal(sdra_crm_upsert_contact(crm, &c3, &r, &err), 0);
    assert_true(r.do_not_call);
    assert_true(r.do_not_email);
    sdra_crm_close(crm);
    tmpdir_remove(dir);
}

static void sync_email_sent_stays_sent(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tmpdir_make(dir, sizeof dir, "email");
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_crm_open(&crm, "local", dir, &err), 0);
    sdra_crm_result r1 = {0}, r2 = {0};
    sdra_crm_email e = {.message_id = "<m1@x>", .call_id = "c1", .to = "p@x.example", .subject = "Hi",
                        .send_at = "2026-11-25T09:00:00Z", .status = "sent"};
    assert_int_equal(sdra_crm_schedule_email(crm, &e, &r1, &err), 0);
    e.status = "scheduled";
    e.send_at = NULL; /* keeps the stored send time */
    assert_int_equal(sdra_crm_schedule_email(crm, &e, &r2, &err), 0);
    assert_false(r2.created);
    assert_string_equal(r1.id, r2.id);
    json_t *rows = NULL;
    assert_int_equal(sdra_crm_list(crm, SDRA_CRM_EMAILS, NULL, &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 1);
    json_t *row = json_array_get(rows, 0);
    assert_string_equal(json_string_value(json_object_get(row, "status")), "sent");
    assert_string_equal(json_string_value(json_object_get(row, "send_at")), "2026-11-25T09:00:00Z");
    json_decref(rows);
    e.status = "bogus";
    assert_int_equal(sdra_crm_schedule_email(crm, &e, NULL, &err), SDRA_EINVAL);
    sdra_crm_close(crm);
    tmpdir_remove(dir);
}

static void sync_schema_version_and_wal(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    tmpdir_make(dir, sizeof dir, "schema");
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_crm_open(&crm, "local", dir, &err), 0);
    sdra_crm_close(crm);
    snprintf(path, sizeof path, "%s/crm.sqlite3", dir);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600); /* personal data: owner only */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 2); /* 2: organisations */
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    /* Reopening an up-to-date database changes nothing. */
    assert_int_equal(sdra_crm_open(&crm, "local", dir, &err), 0);
    sdra_crm_close(crm);
    /* A database from a newer sdra is refused, not damaged. */
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(sdra_crm_open(&crm, "local", dir, &err), SDRA_EUNSUPPORTED);
    assert_null(crm);
    assert_non_null(strstr(err.msg, "99"));
    assert_non_null(strstr(err.msg, "crm.sqlite3"));
    assert_int_equal(sdra_crm_open_ex(&crm, "local", dir, SDRA_CRM_READONLY, &err), SDRA_EUNSUPPORTED);
    tmpdir_remove(dir);
}

static void sync_corrupt_database_is_a_clear_error(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    tmpdir_make(dir, sizeof dir, "corrupt");
    snprintf(path, sizeof path, "%s/crm.sqlite3", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 512; i++)
        fputs("this is not a database, just text. ", f);
    fclose(f);
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_crm_open(&crm, "local", dir, &err), SDRA_EINVAL);
    assert_null(crm);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "not a usable CRM database"));
    assert_null(strchr(err.msg, '\n'));
    sdra_error_clear(&err);
    assert_int_equal(sdra_crm_open_ex(&crm, "local", dir, SDRA_CRM_READONLY, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "not a usable CRM database"));
    tmpdir_remove(dir);
}

static void sync_unwritable_dir_is_a_clear_error(void **state)
{
    (void)state;
    char dir[PATH_MAX], file[PATH_MAX + 16], under[PATH_MAX + 32];
    tmpdir_make(dir, sizeof dir, "unwritable");
    /* A data directory below a regular file cannot be created, even by root. */
    snprintf(file, sizeof file, "%s/plain", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(under, sizeof under, "%s/data", file);
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    assert_true(sdra_crm_open(&crm, "local", under, &err) < 0);
    assert_null(crm);
    assert_non_null(strstr(err.msg, "plain"));
    assert_non_null(strstr(err.msg, "CRM data directory"));
    /* A directory without write permission (only meaningful when not root). */
    if (geteuid() != 0) {
        char ro[PATH_MAX + 16];
        snprintf(ro, sizeof ro, "%s/ro", dir);
        assert_int_equal(mkdir(ro, 0500), 0);
        sdra_error_clear(&err);
        assert_int_equal(sdra_crm_open(&crm, "local", ro, &err), SDRA_EDENIED);
        assert_non_null(strstr(err.msg, "not writable"));
        chmod(ro, 0700);
    }
    /* Unknown backends are named. */
    assert_int_equal(sdra_crm_open(&crm, "pipedrive", dir, &err), SDRA_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "pipedrive"));
    assert_non_null(strstr(err.msg, "known: local, hubspot, salesforce"));
    tmpdir_remove(dir);
}

static void sync_readonly_missing_database_is_empty(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    tmpdir_make(dir, sizeof dir, "readonly");
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_crm_open_ex(&crm, "local", dir, SDRA_CRM_READONLY, &err), 0);
    for (int k = 0; k < SDRA_CRM_N_KINDS; k++)
        assert_int_equal(count_rows(crm, (sdra_crm_kind)k, NULL), 0);
    sdra_crm_result r;
    sdra_crm_contact c = {.email = "a@b.example"};
    assert_true(sdra_crm_upsert_contact(crm, &c, &r, &err) < 0);
    sdra_crm_close(crm);
    snprintf(path, sizeof path, "%s/crm.sqlite3", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), -1); /* looking created nothing */
    /* A directory that does not exist at all is empty too. */
    snprintf(path, sizeof path, "%s/nothing/here", dir);
    assert_int_equal(sdra_crm_open_ex(&crm, "local", path, SDRA_CRM_READONLY, &err), 0);
    assert_int_equal(count_rows(crm, SDRA_CRM_TASKS, NULL), 0);
    sdra_crm_close(crm);
    sdra_crm_close(NULL);
    tmpdir_remove(dir);
}

/* Organisations: the same contact address is a separate contact per organisation; lists and
 * erasure see the handle's organisation only. */
static void sync_orgs_are_isolated(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tmpdir_make(dir, sizeof dir, "orgs");
    sdra_crm *a = NULL, *b = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_crm_open(&a, "local", dir, &err), 0);
    assert_int_equal(sdra_crm_open(&b, "local", dir, &err), 0);
    assert_int_equal(sdra_crm_set_org(a, "acme", &err), 0);
    assert_int_equal(sdra_crm_set_org(b, "zeta", &err), 0);
    assert_int_equal(sdra_crm_set_org(b, "Bad Org", &err), SDRA_EINVAL);
    sdra_crm_result ra = {0}, rb = {0};
    sdra_crm_contact c = {.email = "jo@x.example", .name = "Jo A"};
    assert_int_equal(sdra_crm_upsert_contact(a, &c, &ra, &err), 0);
    sdra_crm_contact c2 = {.email = "jo@x.example", .name = "Jo Z", .do_not_call = true};
    assert_int_equal(sdra_crm_upsert_contact(b, &c2, &rb, &err), 0);
    assert_true(rb.created); /* not acme's row */
    assert_string_not_equal(ra.id, rb.id);
    sdra_crm_activity act = {.call_id = "call-a", .contact_id = ra.id, .summary = "acme call"};
    assert_int_equal(sdra_crm_log_activity(a, &act, NULL, &err), 0);
    sdra_crm_activity actz = {.call_id = "call-z", .contact_id = rb.id, .summary = "zeta call"};
    assert_int_equal(sdra_crm_log_activity(b, &actz, NULL, &err), 0);
    json_t *rows = NULL;
    assert_int_equal(sdra_crm_list(a, SDRA_CRM_CONTACTS, "jo@x.example", &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "name")), "Jo A");
    assert_true(json_is_false(json_object_get(json_array_get(rows, 0), "do_not_call")));
    json_decref(rows);
    assert_int_equal(sdra_crm_list(a, SDRA_CRM_ACTIVITIES, NULL, &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "call_id")), "call-a");
    json_decref(rows);
    /* erasure by another organisation removes nothing of acme's */
    int n = -1;
    assert_int_equal(sdra_crm_forget_call(b, "call-a", &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(sdra_crm_forget_contact(b, "jo@x.example", &n, &err), 0);
    assert_int_equal(n, 2); /* zeta's contact and activity */
    assert_int_equal(sdra_crm_list(a, SDRA_CRM_ACTIVITIES, NULL, &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 1);
    json_decref(rows);
    assert_int_equal(sdra_crm_list(a, SDRA_CRM_CONTACTS, NULL, &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 1);
    json_decref(rows);
    sdra_crm_close(a);
    sdra_crm_close(b);
    tmpdir_remove(dir);
}

/* A version-1 database (before organisations): its rows move to "default" with their ids and
 * links (the contacts table is rebuilt without firing ON DELETE SET NULL). */
static void sync_migrates_v1_rows_to_default(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    tmpdir_make(dir, sizeof dir, "v1");
    snprintf(path, sizeof path, "%s/crm.sqlite3", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE,"
                                  " name TEXT, company TEXT, title TEXT, phone TEXT,"
                                  " do_not_call INTEGER NOT NULL DEFAULT 0, do_not_email INTEGER NOT NULL DEFAULT 0,"
                                  " created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
                                  "CREATE TABLE activities (id INTEGER PRIMARY KEY, call_id TEXT NOT NULL UNIQUE,"
                                  " contact_id INTEGER REFERENCES contacts(id) ON DELETE SET NULL,"
                                  " type TEXT NOT NULL DEFAULT 'call', call_date TEXT, duration_s REAL,"
                                  " direction TEXT, summary TEXT, outcome TEXT, sentiment REAL, objections TEXT,"
                                  " recording TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
                                  "CREATE TABLE tasks (id INTEGER PRIMARY KEY, call_id TEXT NOT NULL,"
                                  " task_key TEXT NOT NULL, contact_id INTEGER, activity_id INTEGER, kind TEXT,"
                                  " owner TEXT, text TEXT NOT NULL, due_date TEXT, due_time TEXT, status TEXT,"
                                  " created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
                                  "CREATE TABLE emails (id INTEGER PRIMARY KEY, message_id TEXT NOT NULL UNIQUE,"
                                  " call_id TEXT, contact_id INTEGER, to_addr TEXT, subject TEXT,"
                                  " send_at TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL,"
                                  " updated_at TEXT NOT NULL);"
                                  "CREATE TABLE notes (id INTEGER PRIMARY KEY, call_id TEXT NOT NULL,"
                                  " note_key TEXT NOT NULL, contact_id INTEGER, body TEXT NOT NULL,"
                                  " created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
                                  "INSERT INTO contacts VALUES (7, 'old@x.example', 'Old', NULL, NULL, NULL, 1, 0,"
                                  " 't', 't');"
                                  "INSERT INTO activities (id, call_id, contact_id, created_at, updated_at)"
                                  " VALUES (3, 'call-old', 7, 't', 't');"
                                  "PRAGMA user_version = 1;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_crm_open_ex(&crm, "local", dir, SDRA_CRM_READONLY, &err), 0); /* migrates */
    json_t *rows = NULL;
    assert_int_equal(sdra_crm_list(crm, SDRA_CRM_ACTIVITIES, "old@x.example", &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 1); /* still linked to its contact */
    json_decref(rows);
    assert_int_equal(sdra_crm_list(crm, SDRA_CRM_CONTACTS, NULL, &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "id")), "7");
    assert_true(json_is_true(json_object_get(json_array_get(rows, 0), "do_not_call")));
    json_decref(rows);
    assert_int_equal(sdra_crm_set_org(crm, "acme", &err), 0);
    assert_int_equal(sdra_crm_list(crm, SDRA_CRM_CONTACTS, NULL, &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 0);
    json_decref(rows);
    sdra_crm_close(crm);
    tmpdir_remove(dir);
}

static void sync_task_key_is_stable(void **state)
{
    (void)state;
    char a[17], b[17], c[17], d[17];
    sdra_crm_task_key(a, "action", "Send the  case study");
    sdra_crm_task_key(b, "action", "  send the case\tstudy ");
    sdra_crm_task_key(c, "meeting", "send the case study");
    sdra_crm_task_key(d, "action", "send the case studies");
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_string_not_equal(a, d);
    assert_int_equal(strlen(a), 16);
    assert_int_equal(sdra_crm_kind_parse("tasks"), SDRA_CRM_TASKS);
    assert_int_equal(sdra_crm_kind_parse("task"), -1);
    assert_string_equal(sdra_crm_kind_name(SDRA_CRM_EMAILS), "emails");
}

static void sync_default_data_dir(void **state)
{
    (void)state;
    char out[256];
    assert_int_equal(sdra_crm_default_data_dir(out, sizeof out, "/x/y"), 0);
    assert_string_equal(out, "/x/y");
    setenv("SDRA_DATA", "/from/env", 1);
    assert_int_equal(sdra_crm_default_data_dir(out, sizeof out, NULL), 0);
    assert_string_equal(out, "/from/env");
    unsetenv("SDRA_DATA");
    setenv("HOME", "/home/u", 1);
    assert_int_equal(sdra_crm_default_data_dir(out, sizeof out, ""), 0);
    assert_string_equal(out, "/home/u/.local/share/sdra");
    assert_int_equal(sdra_crm_default_data_dir(out, 8, NULL), SDRA_ELIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sync_contact_upsert_by_email),
        cmocka_unit_test(sync_contact_flags_are_sticky),
        cmocka_unit_test(sync_email_sent_stays_sent),
        cmocka_unit_test(sync_schema_version_and_wal),
        cmocka_unit_test(sync_corrupt_database_is_a_clear_error),
        cmocka_unit_test(sync_unwritable_dir_is_a_clear_error),
        cmocka_unit_test(sync_readonly_missing_database_is_empty),
        cmocka_unit_test(sync_orgs_are_isolated),
        cmocka_unit_test(sync_migrates_v1_rows_to_default),
        cmocka_unit_test(sync_task_key_is_stable),
        cmocka_unit_test(sync_default_data_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
