/*
 * sqlite_util.c - the SQLite helpers of sdra/sqlite_util.h, shared by the job store and the
 * local CRM so that both translate SQLite's codes, bind parameters and migrate schemas the
 * same way.
 */
#include "sdra/sqlite_util.h"
#include "sdra/log.h"

#include <stdio.h>

int sdra_sqlite_code(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return SDRA_ERETRY;
    case SQLITE_CONSTRAINT: return SDRA_EEXISTS;
    case SQLITE_FULL:
    case SQLITE_TOOBIG: return SDRA_ELIMIT;
    case SQLITE_NOMEM: return SDRA_ENOMEM;
    case SQLITE_NOTFOUND: return SDRA_ENOTFOUND;
    case SQLITE_PERM:
    case SQLITE_AUTH: return SDRA_EDENIED;
    default: return SDRA_EIO;
    }
}

int sdra_sqlite_fail(sqlite3 *db, int rc, sdra_error *err, const char *prefix, const char *what)
{
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if (prefix)
        return sdra_error_set(err, sdra_sqlite_code(rc), "%s: %s: %s", prefix, what, msg);
    return sdra_error_set(err, sdra_sqlite_code(rc), "%s: %s", what, msg);
}

int sdra_sqlite_bind(sqlite3_stmt *st, const char *fmt, va_list ap)
{
    for (int i = 0; fmt && fmt[i]; i++) {
        int rc;
        switch (fmt[i]) {
        case 's': {
            const char *v = va_arg(ap, const char *);
            rc = v ? sqlite3_bind_text(st, i + 1, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i + 1);
            break;
        }
        case 'i': rc = sqlite3_bind_int(st, i + 1, va_arg(ap, int)); break;
        case 'l': rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t)); break;
        default: rc = SQLITE_MISUSE;
        }
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

/* Prepares sql and binds ap: 0, or a negative code with *st NULL. */
static int prepare_v(sqlite3 *db, sqlite3_stmt **st, sdra_error *err, const char *sql, const char *fmt, va_list ap)
{
    int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
    if (rc != SQLITE_OK) {
        *st = NULL;
        return sdra_sqlite_fail(db, rc, err, "sqlite", "prepare");
    }
    if ((rc = sdra_sqlite_bind(*st, fmt, ap)) != SQLITE_OK) {
        int code = sdra_sqlite_fail(db, rc, err, "sqlite", "bind");
        sqlite3_finalize(*st);
        *st = NULL;
        return code;
    }
    return 0;
}

int sdra_sqlite_prepare(sqlite3 *db, sqlite3_stmt **st, sdra_error *err, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = prepare_v(db, st, err, sql, fmt, ap);
    va_end(ap);
    return rc;
}

int sdra_sqlite_exec(sqlite3 *db, sdra_error *err, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st = NULL;
    va_list ap;
    va_start(ap, fmt);
    int rc = prepare_v(db, &st, err, sql, fmt, ap);
    va_end(ap);
    if (rc < 0)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sdra_sqlite_fail(db, rc, err, "sqlite", "exec");
    return sqlite3_changes(db);
}

int sdra_sqlite_int64(sqlite3 *db, int64_t *out, int *found, sdra_error *err, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st = NULL;
    va_list ap;
    va_start(ap, fmt);
    int rc = prepare_v(db, &st, err, sql, fmt, ap);
    va_end(ap);
    if (found)
        *found = 0;
    if (rc < 0)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        if (found)
            *found = 1;
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : sdra_sqlite_fail(db, rc, err, "sqlite", "query");
}

static int exec_text(sqlite3 *db, const char *sql, const char *name, const char *what, sdra_error *err)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sdra_sqlite_fail(db, rc, err, name, what);
}

int sdra_sqlite_migrate(sqlite3 *db, const char *name, const char *kind, const char *const *migrations, int n,
                        sdra_error *err)
{
    int64_t version = 0;
    int rc = sdra_sqlite_int64(db, &version, NULL, err, "PRAGMA user_version", NULL);
    if (rc < 0)
        return rc;
    if (version > n)
        return sdra_error_set(err, SDRA_EUNSUPPORTED, "%s: %s version %lld is newer than this sdra supports (%d)", name,
                              kind, (long long)version, n);
    if (version == n)
        return 0;
    if ((rc = exec_text(db, "BEGIN IMMEDIATE", name, "begin migration", err)) < 0)
        return rc;
    /* Another process may have migrated between the check and the lock: read again. */
    if ((rc = sdra_sqlite_int64(db, &version, NULL, err, "PRAGMA user_version", NULL)) < 0)
        goto done;
    for (int v = (int)version; v < n; v++) {
        char what[64], set[64];
        snprintf(what, sizeof what, "migration to schema %d", v + 1);
        if ((rc = exec_text(db, migrations[v], name, what, err)) < 0)
            goto done;
        snprintf(set, sizeof set, "PRAGMA user_version = %d", v + 1);
        if ((rc = exec_text(db, set, name, what, err)) < 0)
            goto done;
        sdra_log(SDRA_LOG_INFO, "%s: %s migrated to version %d", name, kind, v + 1);
    }
    rc = exec_text(db, "COMMIT", name, "commit migration", err);
done:
    if (rc < 0)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}
