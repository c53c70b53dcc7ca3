/*
 * local.c - the embedded CRM connector ("local"): contacts, activities, tasks, scheduled emails
 * and notes in one SQLite database, <data_dir>/crm.sqlite3.
 *
 * Responsibilities: opening the database safely (WAL journal, foreign keys on, a busy timeout
 * so concurrent writers wait instead of failing), versioned schema migrations through PRAGMA
 * user_version (applied in one IMMEDIATE transaction, refusing a database from a newer
 * version), the upserts on natural keys that make a re-sync idempotent, sticky opt-out flags,
 * and translating SQLite errors into sdra codes with the database path in the message.
 * A read-only open never creates anything: a missing database simply lists as empty.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sdra/log.h"
#include "sdra/seal.h"
#include "sdra/sqlite_util.h"
#include "sdra/util.h"

#define BUSY_TIMEOUT_MS 5000
#define NOW_SQL "strftime('%Y-%m-%dT%H:%M:%SZ','now')"

typedef struct local_db {
    sqlite3 *db; /* NULL for a read-only open of a database that does not exist */
    char path[PATH_MAX];
    bool erased; /* rows were erased in the open transaction: checkpoint after the commit */
    char org[64]; /* the organisation every row written, listed or erased belongs to */
    bool no_enc_columns; /* a read-only open of a database from before encryption at rest */
} local_db;

/* Migration i brings the schema from version i to i + 1. Append; never edit a released one. */
static const char *const migrations[] = {
    /* 0 -> 1: the initial schema. */
    "CREATE TABLE contacts ("
    "  id INTEGER PRIMARY KEY,"
    "  email TEXT NOT NULL UNIQUE,"
    "  name TEXT, company TEXT, title TEXT, phone TEXT,"
    "  do_not_call INTEGER NOT NULL DEFAULT 0 CHECK (do_not_call IN (0, 1)),"
    "  do_not_email INTEGER NOT NULL DEFAULT 0 CHECK (do_not_email IN (0, 1)),"
    "  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
    "CREATE TABLE activities ("
    "  id INTEGER PRIMARY KEY,"
    "  call_id TEXT NOT NULL UNIQUE,"
    "  contact_id INTEGER REFERENCES contacts(id) ON DELETE SET NULL,"
    "  type TEXT NOT NULL DEFAULT 'call',"
    "  call_date TEXT, duration_s REAL, direction TEXT, summary TEXT, outcome TEXT,"
    "  sentiment REAL, objections TEXT, recording TEXT,"
    "  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
    "CREATE INDEX activities_contact ON activities(contact_id);"
    "CREATE TABLE tasks ("
    "  id INTEGER PRIMARY KEY,"
    "  call_id TEXT NOT NULL,"
    "  task_key TEXT NOT NULL,"
    "  contact_id INTEGER REFERENCES contacts(id) ON DELETE SET NULL,"
    "  activity_id INTEGER REFERENCES activities(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL DEFAULT 'action' CHECK (kind IN ('action', 'meeting')),"
    "  owner TEXT, text TEXT NOT NULL, due_date TEXT, due_time TEXT,"
    "  status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),"
    "  created_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
    "  UNIQUE (call_id, task_key));"
    "CREATE INDEX tasks_contact ON tasks(contact_id);"
    "CREATE TABLE emails ("
    "  id INTEGER PRIMARY KEY,"
    "  message_id TEXT NOT NULL UNIQUE,"
    "  call_id TEXT,"
    "  contact_id INTEGER REFERENCES contacts(id) ON DELETE SET NULL,"
    "  to_addr TEXT, subject TEXT, send_at TEXT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('scheduled', 'sent', 'canceled')),"
    "  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
    "CREATE INDEX emails_call ON emails(call_id);"
    "CREATE INDEX emails_contact ON emails(contact_id);"
    "CREATE TABLE notes ("
    "  id INTEGER PRIMARY KEY,"
    "  call_id TEXT NOT NULL,"
    "  note_key TEXT NOT NULL,"
    "  contact_id INTEGER REFERENCES contacts(id) ON DELETE SET NULL,"
    "  body TEXT NOT NULL,"
    "  created_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
    "  UNIQUE (call_id, note_key));",
    /* 1 -> 2: organisations (issue 14). Every row belongs to one ("default" for the rows
     * before); a contact is unique per organisation (the table is rebuilt with the same ids,
     * foreign keys off: migrate()). */
    "CREATE TABLE contacts_v2 ("
    "  id INTEGER PRIMARY KEY,"
    "  org TEXT NOT NULL DEFAULT 'default',"
    "  email TEXT NOT NULL,"
    "  name TEXT, company TEXT, title TEXT, phone TEXT,"
    "  do_not_call INTEGER NOT NULL DEFAULT 0 CHECK (do_not_call IN (0, 1)),"
    "  do_not_email INTEGER NOT NULL DEFAULT 0 CHECK (do_not_email IN (0, 1)),"
    "  created_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
    "  UNIQUE (org, email));"
    "INSERT INTO contacts_v2 (id, email, name, company, title, phone, do_not_call, do_not_email,"
    "  created_at, updated_at) SELECT id, email, name, company, title, phone, do_not_call,"
    "  do_not_email, created_at, updated_at FROM contacts;"
    "DROP TABLE contacts;"
    "ALTER TABLE contacts_v2 RENAME TO contacts;"
    "ALTER TABLE activities ADD COLUMN org TEXT NOT NULL DEFAULT 'default';"
    "ALTER TABLE tasks ADD COLUMN org TEXT NOT NULL DEFAULT 'default';"
    "ALTER TABLE emails ADD COLUMN org TEXT NOT NULL DEFAULT 'default';"
    "ALTER TABLE notes ADD COLUMN org TEXT NOT NULL DEFAULT 'default';"
    "CREATE INDEX activities_org ON activities(org);"
    "CREATE INDEX tasks_org ON tasks(org);"
    "CREATE INDEX emails_org ON emails(org);"
    "CREATE INDEX notes_org ON notes(org);",
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

_Static_assert(N_MIGRATIONS == SDRA_CRM_LOCAL_SCHEMA_VERSION, "schema version and migrations agree");

/* Translates a SQLite result code into an sdra code (sdra_sqlite_code, except that a value the
 * database refuses is the caller's bad input here) and records "path: what: detail". */
static int db_fail(const local_db *l, sdra_error *err, int rc, const char *what)
{
    int code;
    switch (rc & 0xff) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return sdra_error_set(err, SDRA_EINVAL, "%s: not a usable CRM database (%s)", l->path,
                              sqlite3_errstr(rc));
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
        code = SDRA_EINVAL;
        break;
    default:
        code = sdra_sqlite_code(rc);
        break;
    }
    const char *detail = l->db ? sqlite3_errmsg(l->db) : sqlite3_errstr(rc);
    return sdra_error_set(err, code, "%s: %s: %s", l->path, what, detail);
}

static int exec_sql(local_db *l, const char *sql, const char *what, sdra_error *err)
{
    int rc = sqlite3_exec(l->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : db_fail(l, err, rc, what);
}

/* The parameter that holds the handle's organisation in every statement that has one: a
 * fixed number above the others (a named one would take the number after the last ?N before
 * it, which a later ?N can reuse). */
#define ORG_PARAM 99

/* Prepares sql; its ?99 parameter, when it has one, is bound to the handle's organisation. */
static int prepare(local_db *l, sqlite3_stmt **st, const char *sql, sdra_error *err)
{
    int rc = sqlite3_prepare_v2(l->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK)
        return db_fail(l, err, rc, "prepare");
    if (sqlite3_bind_parameter_count(*st) >= ORG_PARAM)
        sqlite3_bind_text(*st, ORG_PARAM, l->org, -1, SQLITE_TRANSIENT);
    return 0;
}

/* Binds a string or NULL; strings longer than SDRA_CRM_TEXT_MAX are cut at a UTF-8 boundary. */
static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (!s) {
        sqlite3_bind_null(st, i);
        return;
    }
    size_t n = strlen(s);
    if (n > SDRA_CRM_TEXT_MAX) {
        n = SDRA_CRM_TEXT_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    sqlite3_bind_text(st, i, s, (int)n, SQLITE_TRANSIENT);
}

/* ---- encryption at rest (docs/security.md): with a sealing table installed on the thread
 * (sdra/seal.h), the sensitive columns hold sealed values: a call's rows under the call's key
 * (gone with the call), a contact's under the shared key "contact"; email addresses are looked
 * up by a blind index (email, to_addr) with the address itself sealed beside it (email_enc,
 * to_enc). Without a table: plaintext, as before. */

/* Binds s sealed under key_id when a table is installed, else as bind_text. */
static int bind_sealed(sqlite3_stmt *st, int i, const char *key_id, const char *s, sdra_error *err)
{
    const sdra_seal_ops *so = sdra_seal_get();
    if (!s || !so || !so->seal_text) {
        bind_text(st, i, s);
        return 0;
    }
    size_t n = strlen(s);
    if (n > SDRA_CRM_TEXT_MAX) {
        n = SDRA_CRM_TEXT_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    char *cut = strndup(s, n), *v = cut ? so->seal_text(so->user_data, key_id, cut) : NULL;
    free(cut);
    if (!v)
        return sdra_error_set(err, SDRA_EIO, "CRM: cannot encrypt a field (no key for %s)", key_id);
    sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    free(v);
    return 0;
}

/* The value an email address is stored and looked up by: its blind index when a sealing table
 * is installed, else the lowercased address. */
static void email_lookup_key(char *out, size_t n, const char *lowered)
{
    const sdra_seal_ops *so = sdra_seal_get();
    char b[SDRA_SEAL_BLIND_MAX];
    if (so && so->blind && so->blind(so->user_data, lowered, b) == 0)
        snprintf(out, n, "%s", b);
    else
        snprintf(out, n, "%s", lowered);
}

/* The columns that hold sealed addresses beside their blind index (added to existing
 * databases here, not by a numbered migration, so other schema changes merge freely). */
static int crypt_migrate(local_db *l, sdra_error *err)
{
    static const struct {
        const char *table, *column;
    } cols[] = {{"contacts", "email_enc"}, {"emails", "to_enc"}};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        char sql[160];
        sqlite3_stmt *st = NULL;
        bool have = false;
        snprintf(sql, sizeof sql, "PRAGMA table_info(%s)", cols[i].table);
        if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) != SQLITE_OK)
            return db_fail(l, err, sqlite3_errcode(l->db), "table info");
        while (sqlite3_step(st) == SQLITE_ROW)
            have |= !strcmp((const char *)sqlite3_column_text(st, 1), cols[i].column);
        sqlite3_finalize(st);
        if (have)
            continue;
        snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s TEXT", cols[i].table, cols[i].column);
        int rc = sqlite3_exec(l->db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK && !strstr(sqlite3_errmsg(l->db), "duplicate column")) /* a concurrent opener */
            return db_fail(l, err, rc, "add encrypted column");
    }
    return 0;
}

static int pragma_int(local_db *l, const char *sql, int *out, sdra_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(l, &st, sql, err);
    if (rc < 0)
        return rc;
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        *out = sqlite3_column_int(st, 0);
        rc = 0;
    } else {
        rc = db_fail(l, err, s, sql);
    }
    sqlite3_finalize(st);
    return rc;
}

/* The numbered migrations (sdra_sqlite_migrate: PRAGMA user_version, one IMMEDIATE
 * transaction, a newer database refused), with foreign keys off: a table rebuild (1 -> 2) must
 * not fire the ON DELETE actions of the rows' references. */
static int migrate(local_db *l, sdra_error *err)
{
    int rc = exec_sql(l, "PRAGMA foreign_keys = OFF", "disable foreign keys", err);
    if (rc < 0)
        return rc;
    rc = sdra_sqlite_migrate(l->db, l->path, "CRM schema", migrations, N_MIGRATIONS, err);
    int fk = exec_sql(l, "PRAGMA foreign_keys = ON", "enable foreign keys", rc < 0 ? NULL : err);
    return rc < 0 ? rc : fk;
}

static void local_close(void *state)
{
    local_db *l = state;
    if (!l)
        return;
    if (l->db)
        sqlite3_close_v2(l->db);
    free(l);
}

static int local_open(void **state, const char *data_dir, int flags, sdra_error *err)
{
    int rc = 0;
    local_db *l = calloc(1, sizeof *l);
    if (!l)
        return sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", data_dir);
    sdra_strlcpy(l->org, "default", sizeof l->org);
    if ((size_t)snprintf(l->path, sizeof l->path, "%s/%s", data_dir, SDRA_CRM_LOCAL_FILE) >= sizeof l->path) {
        rc = sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", data_dir);
        goto done;
    }
    bool readonly = flags & SDRA_CRM_READONLY;
    struct stat sb;
    if (readonly) {
        if (stat(l->path, &sb) < 0) {
            if (errno == ENOENT || errno == ENOTDIR)
                goto done; /* nothing recorded yet: lists are empty */
            rc = sdra_error_set(err, sdra_code_from_errno(errno), "%s: %s", l->path, strerror(errno));
            goto done;
        }
    } else {
        if ((rc = sdra_mkdir_p(data_dir, err)) < 0) {
            sdra_error_prefix(err, "CRM data directory");
            goto done;
        }
        if (access(data_dir, W_OK | X_OK) < 0) {
            rc = sdra_error_set(err, SDRA_EDENIED, "%s: CRM data directory is not writable: %s",
                                data_dir, strerror(errno));
            goto done;
        }
    }
    bool existed = stat(l->path, &sb) == 0;
    if (existed && !S_ISREG(sb.st_mode)) {
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: not a regular file", l->path);
        goto done;
    }
    /* Contacts are personal data: a new database is created 0600 whatever the umask, before
     * SQLite opens it (it would create it 0644, and gives the -wal and -shm files the
     * database's mode). */
    if (!readonly && !existed && (rc = sdra_file_create_private(l->path, err)) < 0)
        goto done;
    int oflags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int s = sqlite3_open_v2(l->path, &l->db, oflags, NULL);
    if (s != SQLITE_OK) {
        rc = db_fail(l, err, s, "cannot open");
        goto done;
    }
    sqlite3_extended_result_codes(l->db, 1);
    sqlite3_busy_timeout(l->db, BUSY_TIMEOUT_MS);
    if ((rc = exec_sql(l, "PRAGMA foreign_keys = ON", "enable foreign keys", err)) < 0)
        goto done;
    /* erased rows are overwritten with zeros, not just unlinked (see checkpoint_erased) */
    if (!readonly && (rc = exec_sql(l, "PRAGMA secure_delete = ON", "enable secure delete", err)) < 0)
        goto done;
    int version = 0;
    /* The first read of the file: a corrupt or foreign file fails here with NOTADB. */
    if ((rc = pragma_int(l, "PRAGMA user_version", &version, err)) < 0)
        goto done;
    if (readonly) {
        if (version > N_MIGRATIONS) {
            rc = sdra_error_set(err, SDRA_EUNSUPPORTED,
                                "%s: CRM schema version %d is newer than this sdra supports (%d)",
                                l->path, version, N_MIGRATIONS);
            goto done;
        }
        if (version == 0) { /* created but never migrated: empty */
            sqlite3_close_v2(l->db);
            l->db = NULL;
        } else {
            sqlite3_stmt *ti = NULL;
            l->no_enc_columns = true;
            if (sqlite3_prepare_v2(l->db, "PRAGMA table_info(contacts)", -1, &ti, NULL) == SQLITE_OK)
                while (sqlite3_step(ti) == SQLITE_ROW)
                    if (!strcmp((const char *)sqlite3_column_text(ti, 1), "email_enc"))
                        l->no_enc_columns = false;
            sqlite3_finalize(ti);
        }
        if (version > 0 && version < N_MIGRATIONS) { /* an older schema: migrated first */
            local_close(l);
            return local_open(state, data_dir, flags & ~SDRA_CRM_READONLY, err);
        }
        goto done;
    }
    sqlite3_stmt *st = NULL;
    if ((rc = prepare(l, &st, "PRAGMA journal_mode = WAL", err)) < 0)
        goto done;
    /* Switching a new database to WAL needs a moment alone with it; when several processes
     * open it at once the busy handler is not always consulted, so wait here ourselves. */
    for (int tries = 0; (s = sqlite3_step(st)) == SQLITE_BUSY && tries < BUSY_TIMEOUT_MS / 10; tries++) {
        sqlite3_reset(st);
        usleep(10000);
    }
    const char *mode = s == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (s != SQLITE_ROW)
        rc = db_fail(l, err, s, "enable WAL journal");
    else if (!mode || strcmp(mode, "wal") != 0)
        sdra_log(SDRA_LOG_WARN, "%s: WAL journal not available (journal mode %s)", l->path,
                 mode ? mode : "unknown");
    sqlite3_finalize(st);
    if (rc < 0)
        goto done;
    if ((rc = exec_sql(l, "PRAGMA synchronous = NORMAL", "set synchronous", err)) < 0)
        goto done;
    if ((rc = migrate(l, err)) == 0)
        rc = crypt_migrate(l, err);
done:
    if (rc < 0) {
        local_close(l);
        return rc;
    }
    *state = l;
    return 0;
}

static int need_db(local_db *l, sdra_error *err)
{
    if (!l->db)
        return sdra_error_set(err, SDRA_EINVAL, "%s: CRM opened read-only and has no database", l->path);
    return 0;
}

static int local_begin(void *state, sdra_error *err)
{
    local_db *l = state;
    int rc = need_db(l, err);
    return rc < 0 ? rc : exec_sql(l, "BEGIN IMMEDIATE", "begin transaction", err);
}

/* After an erase is committed: the erased rows' old page images stay in the WAL until a
 * checkpoint copies the zeroed pages into the database; TRUNCATE also empties the WAL file.
 * Another connection still reading makes it stop short (SQLITE_BUSY): logged, and the next
 * erase or automatic checkpoint completes it. */
static void checkpoint_erased(local_db *l)
{
    if (!l->erased)
        return;
    l->erased = false;
    int s = sqlite3_wal_checkpoint_v2(l->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    if (s != SQLITE_OK)
        sdra_log(SDRA_LOG_WARN, "%s: records erased; WAL checkpoint incomplete: %s", l->path, sqlite3_errstr(s));
}

static int local_commit(void *state, sdra_error *err)
{
    local_db *l = state;
    int rc = need_db(l, err);
    if (rc < 0 || (rc = exec_sql(l, "COMMIT", "commit", err)) < 0)
        return rc;
    checkpoint_erased(l);
    return 0;
}

static void local_rollback(void *state)
{
    local_db *l = state;
    l->erased = false;
    if (l->db && !sqlite3_get_autocommit(l->db))
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Runs a statement that returns no rows; finalizes it. */
static int step_done(local_db *l, sqlite3_stmt *st, const char *what, sdra_error *err)
{
    int s = sqlite3_step(st);
    int rc = s == SQLITE_DONE ? 0 : db_fail(l, err, s, what);
    sqlite3_finalize(st);
    return rc;
}

/* Looks up one integer id with a prepared, bound statement; 1 found, 0 not, < 0 error.
 * Finalizes the statement. Extra integer columns go to extra[0..n_extra). */
static int lookup_id(local_db *l, sqlite3_stmt *st, sqlite3_int64 *id, int *extra, int n_extra,
                     sdra_error *err)
{
    int s = sqlite3_step(st), rc;
    if (s == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        for (int i = 0; i < n_extra; i++)
            extra[i] = sqlite3_column_int(st, i + 1);
        rc = 1;
    } else if (s == SQLITE_DONE) {
        rc = 0;
    } else {
        rc = db_fail(l, err, s, "lookup");
    }
    sqlite3_finalize(st);
    return rc;
}

static void set_result(sdra_crm_result *out, sqlite3_int64 id, bool created)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%lld", (long long)id);
    out->created = created;
}

/* Runs the bound INSERT or UPDATE of an upsert (found: the row existed with id *id) and reports
 * the row's id and whether it was created. Finalizes the statement. */
static int finish_upsert(local_db *l, sqlite3_stmt *st, bool found, sqlite3_int64 *id,
                         const char *kind, sdra_crm_result *out, sdra_error *err)
{
    char what[48];
    snprintf(what, sizeof what, "%s %s", found ? "update" : "insert", kind);
    int rc = step_done(l, st, what, err);
    if (rc < 0)
        return rc;
    if (!found)
        *id = sqlite3_last_insert_rowid(l->db);
    set_result(out, *id, !found);
    return 0;
}

/* Parses an id this backend handed out; NULL or "" -> no id (SQL NULL). */
static int bind_id(sqlite3_stmt *st, int i, const char *id, sdra_error *err)
{
    if (!id || !*id) {
        sqlite3_bind_null(st, i);
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(id, &end, 10);
    if (*end || errno || v <= 0)
        return sdra_error_set(err, SDRA_EINVAL, "'%s' is not a local CRM id", id);
    sqlite3_bind_int64(st, i, v);
    return 0;
}

static void lower_copy(char *dst, size_t n, const char *src)
{
    size_t i = 0;
    while (*src == ' ' || *src == '\t')
        src++;
    for (; src[i] && i + 1 < n; i++)
        dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (char)(src[i] + 32) : src[i];
    while (i > 0 && (dst[i - 1] == ' ' || dst[i - 1] == '\t'))
        i--;
    dst[i] = '\0';
}

static int local_upsert_contact(void *state, const sdra_crm_contact *c, sdra_crm_result *out, sdra_error *err)
{
    local_db *l = state;
    sqlite3_stmt *st = NULL;
    int rc = need_db(l, err);
    if (rc < 0)
        return rc;
    char email[320];
    if (!c->email || strlen(c->email) >= sizeof email || !strchr(c->email, '@'))
        return sdra_error_set(err, SDRA_EINVAL, "contact email '%.100s' is not an address",
                              c->email ? c->email : "");
    char lowered[320];
    lower_copy(lowered, sizeof lowered, c->email);
    email_lookup_key(email, sizeof email, lowered);
    if ((rc = prepare(l, &st, "SELECT id, do_not_call, do_not_email FROM contacts WHERE email = ?1 AND org = ?99", err)) < 0)
        return rc;
    bind_text(st, 1, email);
    sqlite3_int64 id = 0;
    int flags[2] = {0, 0};
    int found = lookup_id(l, st, &id, flags, 2, err);
    if (found < 0)
        return found;
    bool dnc = c->do_not_call || flags[0], dne = c->do_not_email || flags[1];
    if (found) {
        rc = prepare(l, &st,
                     "UPDATE contacts SET name = coalesce(?2, name), company = coalesce(?3, company),"
                     " title = coalesce(?4, title), phone = coalesce(?5, phone),"
                     " do_not_call = ?6, do_not_email = ?7, email_enc = coalesce(?8, email_enc),"
                     " updated_at = " NOW_SQL " WHERE id = ?1",
                     err);
        if (rc < 0)
            return rc;
        sqlite3_bind_int64(st, 1, id);
    } else {
        rc = prepare(l, &st,
                     "INSERT INTO contacts (email, name, company, title, phone, do_not_call,"
                     " do_not_email, email_enc, created_at, updated_at, org)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, " NOW_SQL ", " NOW_SQL ", ?99)",
                     err);
        if (rc < 0)
            return rc;
        bind_text(st, 1, email);
    }
    const sdra_seal_ops *so = sdra_seal_get();
    if ((rc = bind_sealed(st, 2, "contact", c->name && *c->name ? c->name : NULL, err)) < 0 ||
        (rc = bind_sealed(st, 3, "contact", c->company && *c->company ? c->company : NULL, err)) < 0 ||
        (rc = bind_sealed(st, 4, "contact", c->title && *c->title ? c->title : NULL, err)) < 0 ||
        (rc = bind_sealed(st, 5, "contact", c->phone && *c->phone ? c->phone : NULL, err)) < 0 ||
        (rc = bind_sealed(st, 8, "contact", so && so->blind ? lowered : NULL, err)) < 0) {
        sqlite3_finalize(st);
        return rc;
    }
    sqlite3_bind_int(st, 6, dnc);
    sqlite3_bind_int(st, 7, dne);
    if ((rc = finish_upsert(l, st, found, &id, "contact", out, err)) < 0)
        return rc;
    if (out) {
        out->do_not_call = dnc;
        out->do_not_email = dne;
    }
    return 0;
}

static int local_log_activity(void *state, const sdra_crm_activity *a, sdra_crm_result *out, sdra_error *err)
{
    local_db *l = state;
    sqlite3_stmt *st = NULL;
    int rc = need_db(l, err);
    if (rc < 0)
        return rc;
    if (!a->call_id || !*a->call_id)
        return sdra_error_set(err, SDRA_EINVAL, "activity without a call id");
    if ((rc = prepare(l, &st, "SELECT id FROM activities WHERE call_id = ?1 AND org = ?99", err)) < 0)
        return rc;
    bind_text(st, 1, a->call_id);
    sqlite3_int64 id = 0;
    int found = lookup_id(l, st, &id, NULL, 0, err);
    if (found < 0)
        return found;
    if (found)
        rc = prepare(l, &st,
                     "UPDATE activities SET contact_id = coalesce(?2, contact_id), call_date = ?3,"
                     " duration_s = ?4, direction = ?5, summary = ?6, outcome = ?7, sentiment = ?8,"
                     " objections = ?9, recording = ?10, updated_at = " NOW_SQL " WHERE call_id = ?1",
                     err);
    else
        rc = prepare(l, &st,
                     "INSERT INTO activities (call_id, contact_id, call_date, duration_s, direction,"
                     " summary, outcome, sentiment, objections, recording, created_at, updated_at, org)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, " NOW_SQL ", " NOW_SQL ", ?99)",
                     err);
    if (rc < 0)
        return rc;
    bind_text(st, 1, a->call_id);
    if ((rc = bind_id(st, 2, a->contact_id, err)) < 0) {
        sqlite3_finalize(st);
        return rc;
    }
    bind_text(st, 3, a->call_date);
    if (a->duration_s > 0)
        sqlite3_bind_double(st, 4, a->duration_s);
    else
        sqlite3_bind_null(st, 4);
    bind_text(st, 5, a->direction);
    if ((rc = bind_sealed(st, 6, a->call_id, a->summary, err)) < 0 ||
        (rc = bind_sealed(st, 7, a->call_id, a->outcome, err)) < 0 ||
        (rc = bind_sealed(st, 9, a->call_id, a->objections, err)) < 0) {
        sqlite3_finalize(st);
        return rc;
    }
    if (a->has_sentiment)
        sqlite3_bind_double(st, 8, a->sentiment);
    else
        sqlite3_bind_null(st, 8);
    bind_text(st, 10, a->recording);
    if ((rc = finish_upsert(l, st, found, &id, "activity", out, err)) < 0)
        return rc;
    return 0;
}

static int local_upsert_task(void *state, const sdra_crm_task *t, sdra_crm_result *out, sdra_error *err)
{
    local_db *l = state;
    sqlite3_stmt *st = NULL;
    int rc = need_db(l, err);
    if (rc < 0)
        return rc;
    if (!t->call_id || !*t->call_id || !t->key || !*t->key || !t->text || !*t->text)
        return sdra_error_set(err, SDRA_EINVAL, "task needs a call id, a key and a text");
    const char *kind = t->kind ? t->kind : "action";
    if (strcmp(kind, "action") != 0 && strcmp(kind, "meeting") != 0)
        return sdra_error_set(err, SDRA_EINVAL, "task kind '%.40s' is not action or meeting", kind);
    if ((rc = prepare(l, &st, "SELECT id FROM tasks WHERE call_id = ?1 AND task_key = ?2 AND org = ?99", err)) < 0)
        return rc;
    bind_text(st, 1, t->call_id);
    bind_text(st, 2, t->key);
    sqlite3_int64 id = 0;
    int found = lookup_id(l, st, &id, NULL, 0, err);
    if (found < 0)
        return found;
    if (found)
        rc = prepare(l, &st,
                     "UPDATE tasks SET contact_id = coalesce(?3, contact_id),"
                     " activity_id = coalesce(?4, activity_id), kind = ?5, owner = ?6, text = ?7,"
                     " due_date = ?8, due_time = ?9, updated_at = " NOW_SQL
                     " WHERE call_id = ?1 AND task_key = ?2",
                     err);
    else
        rc = prepare(l, &st,
                     "INSERT INTO tasks (call_id, task_key, contact_id, activity_id, kind, owner,"
                     " text, due_date, due_time, created_at, updated_at, org)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, " NOW_SQL ", " NOW_SQL ", ?99)",
                     err);
    if (rc < 0)
        return rc;
    bind_text(st, 1, t->call_id);
    bind_text(st, 2, t->key);
    if ((rc = bind_id(st, 3, t->contact_id, err)) < 0 || (rc = bind_id(st, 4, t->activity_id, err)) < 0) {
        sqlite3_finalize(st);
        return rc;
    }
    bind_text(st, 5, kind);
    bind_text(st, 6, t->owner);
    if ((rc = bind_sealed(st, 7, t->call_id, t->text, err)) < 0) {
        sqlite3_finalize(st);
        return rc;
    }
    bind_text(st, 8, t->due_date);
    bind_text(st, 9, t->due_time);
    if ((rc = finish_upsert(l, st, found, &id, "task", out, err)) < 0)
        return rc;
    return 0;
}

static int local_prune_tasks(void *state, const char *call_id, const char *const *keys, int n_keys,
                             int *n_removed, sdra_error *err)
{
    local_db *l = state;
    sqlite3_stmt *st = NULL, *del = NULL;
    int rc = need_db(l, err), removed = 0;
    if (rc < 0)
        return rc;
    if ((rc = prepare(l, &st, "SELECT id, task_key FROM tasks WHERE call_id = ?1 AND status = 'open' AND org = ?99", err)) < 0)
        goto done;
    if ((rc = prepare(l, &del, "DELETE FROM tasks WHERE id = ?1", err)) < 0)
        goto done;
    bind_text(st, 1, call_id);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 1);
        bool keep = false;
        for (int i = 0; i < n_keys && !keep; i++)
            keep = key && keys[i] && strcmp(key, keys[i]) == 0;
        if (keep)
            continue;
        sqlite3_reset(del);
        sqlite3_bind_int64(del, 1, sqlite3_column_int64(st, 0));
        int d = sqlite3_step(del);
        if (d != SQLITE_DONE) {
            rc = db_fail(l, err, d, "delete stale task");
            goto done;
        }
        removed++;
    }
    if (s != SQLITE_DONE)
        rc = db_fail(l, err, s, "list tasks");
done:
    sqlite3_finalize(st);
    sqlite3_finalize(del);
    if (rc == 0 && n_removed)
        *n_removed = removed;
    return rc;
}

static int local_schedule_email(void *state, const sdra_crm_email *e, sdra_crm_result *out, sdra_error *err)
{
    local_db *l = state;
    sqlite3_stmt *st = NULL;
    int rc = need_db(l, err);
    if (rc < 0)
        return rc;
    if (!e->message_id || !*e->message_id)
        return sdra_error_set(err, SDRA_EINVAL, "email without a Message-ID");
    const char *status = e->status ? e->status : "scheduled";
    if (strcmp(status, "scheduled") && strcmp(status, "sent") && strcmp(status, "canceled"))
        return sdra_error_set(err, SDRA_EINVAL, "email status '%.40s' is not scheduled, sent or canceled", status);
    if ((rc = prepare(l, &st, "SELECT id FROM emails WHERE message_id = ?1 AND org = ?99", err)) < 0)
        return rc;
    bind_text(st, 1, e->message_id);
    sqlite3_int64 id = 0;
    int found = lookup_id(l, st, &id, NULL, 0, err);
    if (found < 0)
        return found;
    if (found) /* an email already sent stays sent */
        rc = prepare(l, &st,
                     "UPDATE emails SET call_id = coalesce(?2, call_id),"
                     " contact_id = coalesce(?3, contact_id), to_addr = coalesce(?4, to_addr),"
                     " to_enc = coalesce(?8, to_enc),"
                     " subject = coalesce(?5, subject), send_at = coalesce(?6, send_at),"
                     " status = CASE WHEN status = 'sent' THEN 'sent' ELSE ?7 END,"
                     " updated_at = " NOW_SQL " WHERE message_id = ?1",
                     err);
    else
        rc = prepare(l, &st,
                     "INSERT INTO emails (message_id, call_id, contact_id, to_addr, subject, send_at,"
                     " status, to_enc, created_at, updated_at, org)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, coalesce(?6, " NOW_SQL "), ?7, ?8, " NOW_SQL ", " NOW_SQL ", ?99)",
                     err);
    if (rc < 0)
        return rc;
    bind_text(st, 1, e->message_id);
    bind_text(st, 2, e->call_id);
    if ((rc = bind_id(st, 3, e->contact_id, err)) < 0) {
        sqlite3_finalize(st);
        return rc;
    }
    const sdra_seal_ops *so = sdra_seal_get();
    char to_key[320];
    if (e->to && so && so->blind) { /* looked up by its blind index; the address sealed beside it */
        char lowered[320];
        lower_copy(lowered, sizeof lowered, e->to);
        email_lookup_key(to_key, sizeof to_key, lowered);
        bind_text(st, 4, to_key);
    } else {
        bind_text(st, 4, e->to);
    }
    const char *seal_key = e->call_id && *e->call_id ? e->call_id : "contact";
    if ((rc = bind_sealed(st, 8, seal_key, so && so->blind ? e->to : NULL, err)) < 0 ||
        (rc = bind_sealed(st, 5, seal_key, e->subject, err)) < 0) {
        sqlite3_finalize(st);
        return rc;
    }
    bind_text(st, 6, e->send_at && *e->send_at ? e->send_at : NULL);
    bind_text(st, 7, status);
    if ((rc = finish_upsert(l, st, found, &id, "email", out, err)) < 0)
        return rc;
    return 0;
}

static int local_cancel_emails(void *state, const char *call_id, int *n_canceled, sdra_error *err)
{
    local_db *l = state;
    sqlite3_stmt *st = NULL;
    int rc = need_db(l, err);
    if (rc < 0)
        return rc;
    if ((rc = prepare(l, &st,
                      "UPDATE emails SET status = 'canceled', updated_at = " NOW_SQL
                      " WHERE call_id = ?1 AND status = 'scheduled' AND org = ?99",
                      err)) < 0)
        return rc;
    bind_text(st, 1, call_id);
    if ((rc = step_done(l, st, "cancel emails", err)) < 0)
        return rc;
    if (n_canceled)
        *n_canceled = sqlite3_changes(l->db);
    return 0;
}

static int local_add_note(void *state, const sdra_crm_note *n, sdra_crm_result *out, sdra_error *err)
{
    local_db *l = state;
    sqlite3_stmt *st = NULL;
    int rc = need_db(l, err);
    if (rc < 0)
        return rc;
    if (!n->call_id || !*n->call_id || !n->key || !*n->key || !n->body)
        return sdra_error_set(err, SDRA_EINVAL, "note needs a call id, a key and a body");
    if ((rc = prepare(l, &st, "SELECT id FROM notes WHERE call_id = ?1 AND note_key = ?2 AND org = ?99", err)) < 0)
        return rc;
    bind_text(st, 1, n->call_id);
    bind_text(st, 2, n->key);
    sqlite3_int64 id = 0;
    int found = lookup_id(l, st, &id, NULL, 0, err);
    if (found < 0)
        return found;
    if (found)
        rc = prepare(l, &st,
                     "UPDATE notes SET contact_id = coalesce(?3, contact_id), body = ?4,"
                     " updated_at = " NOW_SQL " WHERE call_id = ?1 AND note_key = ?2",
                     err);
    else
        rc = prepare(l, &st,
                     "INSERT INTO notes (call_id, note_key, contact_id, body, created_at, updated_at, org)"
                     " VALUES (?1, ?2, ?3, ?4, " NOW_SQL ", " NOW_SQL ", ?99)",
                     err);
    if (rc < 0)
        return rc;
    bind_text(st, 1, n->call_id);
    bind_text(st, 2, n->key);
    if ((rc = bind_id(st, 3, n->contact_id, err)) < 0) {
        sqlite3_finalize(st);
        return rc;
    }
    if ((rc = bind_sealed(st, 4, n->call_id, n->body, err)) < 0) {
        sqlite3_finalize(st);
        return rc;
    }
    if ((rc = finish_upsert(l, st, found, &id, "note", out, err)) < 0)
        return rc;
    return 0;
}

/* One SELECT per kind; ?1 filters by contact email when not NULL. Column names become the JSON
 * keys; do_not_* become booleans, "objections" is parsed back into JSON. */
static const char *const list_sql[SDRA_CRM_N_KINDS] = {
    [SDRA_CRM_CONTACTS] =
        "SELECT id, coalesce(email_enc, email) AS email, name, company, title, phone, do_not_call, do_not_email,"
        " created_at, updated_at FROM contacts WHERE (?1 IS NULL OR email = ?1) AND org = ?99 ORDER BY id LIMIT ?2",
    [SDRA_CRM_ACTIVITIES] =
        "SELECT a.id, a.call_id, coalesce(c.email_enc, c.email) AS contact, a.type, a.call_date, a.duration_s, a.direction,"
        " a.sentiment, a.outcome, a.summary, a.objections, a.recording, a.created_at, a.updated_at"
        " FROM activities a LEFT JOIN contacts c ON c.id = a.contact_id"
        " WHERE (?1 IS NULL OR c.email = ?1) AND a.org = ?99 ORDER BY a.id LIMIT ?2",
    [SDRA_CRM_TASKS] =
        "SELECT t.id, t.call_id, coalesce(c.email_enc, c.email) AS contact, t.kind, t.owner, t.due_date, t.due_time,"
        " t.status, t.text, t.created_at, t.updated_at"
        " FROM tasks t LEFT JOIN contacts c ON c.id = t.contact_id"
        " WHERE (?1 IS NULL OR c.email = ?1) AND t.org = ?99 ORDER BY t.id LIMIT ?2",
    [SDRA_CRM_EMAILS] =
        "SELECT e.id, e.call_id, coalesce(c.email_enc, c.email) AS contact, coalesce(e.to_enc, e.to_addr) AS 'to', e.send_at, e.status,"
        " e.subject, e.message_id, e.created_at, e.updated_at"
        " FROM emails e LEFT JOIN contacts c ON c.id = e.contact_id"
        " WHERE (?1 IS NULL OR c.email = ?1 OR e.to_addr = ?1) AND e.org = ?99 ORDER BY e.id LIMIT ?2",
    [SDRA_CRM_NOTES] =
        "SELECT n.id, n.call_id, coalesce(c.email_enc, c.email) AS contact, n.note_key AS 'key', n.body, n.created_at,"
        " n.updated_at FROM notes n LEFT JOIN contacts c ON c.id = n.contact_id"
        " WHERE (?1 IS NULL OR c.email = ?1) AND n.org = ?99 ORDER BY n.id LIMIT ?2",
};

/* One column as JSON. A sealed value whose key is gone (crypto-shredded) reads as null; one that
 * the installed keys cannot open for another reason (a master key that did not wrap its data
 * key) sets *rc and err, so the list fails with that one line instead of quietly nulling it. */
static json_t *column_json(sqlite3_stmt *st, int i, const char *name, int *rc, sdra_error *err)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        if (!strncmp(name, "do_not_", 7))
            return json_boolean(sqlite3_column_int(st, i));
        if (!strcmp(name, "id")) {
            char id[32];
            snprintf(id, sizeof id, "%lld", (long long)sqlite3_column_int64(st, i));
            return json_string(id);
        }
        return json_integer(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(st, i));
    case SQLITE_TEXT: {
        const char *s = (const char *)sqlite3_column_text(st, i);
        if (sdra_seal_is_sealed_text(s)) { /* encrypted at rest: null once its key is gone */
            const sdra_seal_ops *so = sdra_seal_get();
            char *plain = NULL;
            if (!so || !so->open_text)
                return json_null();
            sdra_error e = {0};
            int orc = so->open_text(so->user_data, s, &plain, &e);
            if (orc == SDRA_EDENIED) {
                *rc = orc;
                *err = e;
            }
            if (orc < 0)
                return json_null();
            json_t *v = !strcmp(name, "objections") ? json_loads(plain, 0, NULL) : NULL;
            if (!v)
                v = json_string(plain);
            free(plain);
            return v ? v : json_null();
        }
        if (!strcmp(name, "objections")) {
            json_t *v = json_loads(s, 0, NULL);
            if (v)
                return v;
        }
        json_t *v = json_stringn(s, (size_t)sqlite3_column_bytes(st, i));
        return v ? v : json_string("?"); /* not UTF-8: written by something else */
    }
    default:
        return json_null();
    }
}

static int local_list(void *state, sdra_crm_kind kind, const char *contact_email, json_t **out, sdra_error *err)
{
    local_db *l = state;
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (kind < 0 || kind >= SDRA_CRM_N_KINDS)
        return sdra_error_set(err, SDRA_EINVAL, "unknown CRM record kind %d", (int)kind);
    json_t *arr = json_array();
    if (!arr)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    if (!l->db)
        goto done; /* read-only open of a database that does not exist yet */
    char plain_sql[1024];
    const char *sql = list_sql[kind];
    if (l->no_enc_columns) { /* the same query over the columns that exist */
        static const char *const from[] = {"coalesce(email_enc, email)", "coalesce(c.email_enc, c.email)",
                                           "coalesce(e.to_enc, e.to_addr)"};
        static const char *const to[] = {"email", "c.email", "e.to_addr"};
        snprintf(plain_sql, sizeof plain_sql, "%s", sql);
        for (int k = 0; k < 3; k++) {
            char *at = strstr(plain_sql, from[k]);
            if (at) {
                size_t fl = strlen(from[k]), tl = strlen(to[k]);
                memmove(at + tl, at + fl, strlen(at + fl) + 1);
                memcpy(at, to[k], tl);
            }
        }
        sql = plain_sql;
    }
    if ((rc = prepare(l, &st, sql, err)) < 0)
        goto done;
    char email[320];
    if (contact_email) {
        char lowered[320];
        lower_copy(lowered, sizeof lowered, contact_email);
        email_lookup_key(email, sizeof email, lowered);
        bind_text(st, 1, email);
    }
    sqlite3_bind_int(st, 2, SDRA_CRM_LIST_MAX);
    int s, nc = sqlite3_column_count(st);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *row = json_object();
        if (!row || json_array_append_new(arr, row) < 0) {
            rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
            goto done;
        }
        for (int i = 0; i < nc; i++) {
            const char *name = sqlite3_column_name(st, i);
            if (json_object_set_new(row, name, column_json(st, i, name, &rc, err)) < 0) {
                rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
                goto done;
            }
            if (rc < 0)
                goto done;
        }
    }
    if (s != SQLITE_DONE)
        rc = db_fail(l, err, s, "list");
done:
    sqlite3_finalize(st);
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

/* Runs each statement of sql[] with ?1 bound to key, summing the rows changed, in one
 * transaction (its own, or the caller's when one is open). */
static int delete_all(local_db *l, const char *const *sql, int n_sql, const char *key, int *n_removed,
                      sdra_error *err)
{
    int rc = need_db(l, err), removed = 0;
    if (rc < 0)
        return rc;
    bool own_tx = sqlite3_get_autocommit(l->db);
    if (own_tx && (rc = exec_sql(l, "BEGIN IMMEDIATE", "begin transaction", err)) < 0)
        return rc;
    for (int i = 0; i < n_sql && rc == 0; i++) {
        sqlite3_stmt *st = NULL;
        if ((rc = prepare(l, &st, sql[i], err)) < 0)
            break;
        bind_text(st, 1, key);
        if ((rc = step_done(l, st, "erase", err)) == 0)
            removed += sqlite3_changes(l->db);
    }
    if (rc == 0 && removed > 0)
        l->erased = true;
    if (own_tx) {
        if (rc == 0)
            rc = exec_sql(l, "COMMIT", "commit", err);
        if (rc < 0)
            local_rollback(l);
        else
            checkpoint_erased(l);
    }
    if (rc == 0)
        *n_removed = removed;
    return rc;
}

static int local_forget_call(void *state, const char *call_id, int *n_removed, sdra_error *err)
{
    static const char *const sql[] = {
        "DELETE FROM tasks WHERE call_id = ?1 AND org = ?99",
        "DELETE FROM emails WHERE call_id = ?1 AND org = ?99",
        "DELETE FROM notes WHERE call_id = ?1 AND org = ?99",
        "DELETE FROM activities WHERE call_id = ?1 AND org = ?99",
    };
    if (!call_id || !*call_id)
        return sdra_error_set(err, SDRA_EINVAL, "erase: no call id");
    return delete_all(state, sql, 4, call_id, n_removed, err);
}

static int local_forget_contact(void *state, const char *email, int *n_removed, sdra_error *err)
{
    /* Everything the contact's calls wrote, whatever row holds the link, then the contact. */
    static const char *const sql[] = {
        "DELETE FROM tasks WHERE org = ?99 AND (contact_id IN (SELECT id FROM contacts WHERE email = ?1 AND org = ?99)"
        " OR call_id IN (SELECT a.call_id FROM activities a JOIN contacts c ON c.id = a.contact_id"
        " WHERE c.email = ?1 AND c.org = ?99))",
        "DELETE FROM emails WHERE org = ?99 AND (to_addr = ?1"
        " OR contact_id IN (SELECT id FROM contacts WHERE email = ?1 AND org = ?99))",
        "DELETE FROM notes WHERE org = ?99 AND (contact_id IN (SELECT id FROM contacts WHERE email = ?1 AND org = ?99)"
        " OR call_id IN (SELECT a.call_id FROM activities a JOIN contacts c ON c.id = a.contact_id"
        " WHERE c.email = ?1 AND c.org = ?99))",
        "DELETE FROM activities WHERE org = ?99 AND contact_id IN (SELECT id FROM contacts WHERE email = ?1 AND org = ?99)",
        "DELETE FROM contacts WHERE email = ?1 AND org = ?99",
    };
    char addr[320];
    if (!email || strlen(email) >= sizeof addr || !strchr(email, '@'))
        return sdra_error_set(err, SDRA_EINVAL, "erase: '%.100s' is not an email address", email ? email : "");
    char lowered[320];
    lower_copy(lowered, sizeof lowered, email);
    email_lookup_key(addr, sizeof addr, lowered);
    return delete_all(state, sql, 5, addr, n_removed, err);
}

static int local_set_org(void *state, const char *org, sdra_error *err)
{
    local_db *l = state;
    if (!org || !*org || strlen(org) >= sizeof l->org)
        return sdra_error_set(err, SDRA_EINVAL, "CRM organisation '%.80s' is not valid", org ? org : "");
    sdra_strlcpy(l->org, org, sizeof l->org);
    return 0;
}

static const char *local_location(void *state)
{
    return ((local_db *)state)->path;
}

const struct sdra_crm_ops sdra_crm_local_ops = {
    .name = "local",
    .open = local_open,
    .close = local_close,
    .begin = local_begin,
    .commit = local_commit,
    .rollback = local_rollback,
    .upsert_contact = local_upsert_contact,
    .log_activity = local_log_activity,
    .upsert_task = local_upsert_task,
    .prune_tasks = local_prune_tasks,
    .schedule_email = local_schedule_email,
    .cancel_emails = local_cancel_emails,
    .add_note = local_add_note,
    .list = local_list,
    .forget_call = local_forget_call,
    .forget_contact = local_forget_contact,
    .location = local_location,
    .set_org = local_set_org,
};
