/*
 * sdra/sqlite_util.h - the SQLite helpers that the job store (src/store/sqlite.c) and the local
 * CRM (src/sync/local.c) share: SQLite result codes as sdra codes, statements prepared and
 * bound from a format string, one-shot statements and single-value queries with a one-line
 * error, and versioned schema migrations through PRAGMA user_version.
 *
 *     sqlite3_stmt *st = NULL;
 *     if (sdra_sqlite_prepare(db, &st, err, "SELECT n FROM t WHERE id = ?", "s", id) < 0) ...
 *     int changed = sdra_sqlite_exec(db, err, "UPDATE t SET n = ? WHERE id = ?", "ls", n, id);
 *
 * Format strings: one letter per parameter, in order: 's' text (NULL binds NULL), 'i' int,
 * 'l' int64_t. Error messages are one line: "sqlite: WHAT: SQLite's message".
 */
#ifndef SDRA_SQLITE_UTIL_H
#define SDRA_SQLITE_UTIL_H

#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>

#include "sdra/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* SQLITE_BUSY/LOCKED -> SDRA_ERETRY, CONSTRAINT -> SDRA_EEXISTS, FULL/TOOBIG -> SDRA_ELIMIT,
 * NOMEM -> SDRA_ENOMEM, NOTFOUND -> SDRA_ENOTFOUND, PERM/AUTH -> SDRA_EDENIED, else SDRA_EIO. */
int sdra_sqlite_code(int rc);
/* Records "prefix: what: message" (prefix may be NULL) with rc's code; returns the code. */
int sdra_sqlite_fail(sqlite3 *db, int rc, sdra_error *err, const char *prefix, const char *what);
/* Binds parameters 1.. from ap as fmt describes; an SQLite result code. */
int sdra_sqlite_bind(sqlite3_stmt *st, const char *fmt, va_list ap);
/* Prepares sql and binds the arguments; *st is NULL on failure. Finalize it. */
int sdra_sqlite_prepare(sqlite3 *db, sqlite3_stmt **st, sdra_error *err, const char *sql, const char *fmt, ...);
/* Runs one statement to completion: the number of rows it changed, or a negative code. */
int sdra_sqlite_exec(sqlite3 *db, sdra_error *err, const char *sql, const char *fmt, ...);
/* The first column of a one-row query into *out; no row leaves *out alone and *found (may be
 * NULL) 0. 0 or a negative code. */
int sdra_sqlite_int64(sqlite3 *db, int64_t *out, int *found, sdra_error *err, const char *sql, const char *fmt, ...);

/* Brings the schema from PRAGMA user_version up to n: migrations[v] takes it from v to v + 1
 * (SQL text, several statements allowed), all in one BEGIN IMMEDIATE transaction (the version
 * is read again under the lock, so concurrent openers apply each once). A database newer than
 * n is SDRA_EUNSUPPORTED ("NAME: KIND version V is newer than this sdra supports (N)") and
 * left unchanged; a failed migration rolls everything back. name labels messages (a path). */
int sdra_sqlite_migrate(sqlite3 *db, const char *name, const char *kind, const char *const *migrations, int n,
                        sdra_error *err);

#ifdef __cplusplus
}
#endif
#endif
