/*
 * sdra/util.h - small shared helpers: files with size limits, atomic writes, directories,
 * where the read-only resources (data/) live, clocks, time formatting, JSON files.
 */
#ifndef SDRA_UTIL_H
#define SDRA_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "sdra/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads a whole file ("-" = stdin) of at most max_bytes into a NUL-terminated heap buffer
 * (*out, free() it). Fails with SDRA_ENOTFOUND, SDRA_EIO or SDRA_ELIMIT; *out untouched then. */
int sdra_file_read(char **out, size_t *len_out, const char *path, size_t max_bytes, sdra_error *err);

/* Writes data to path. A regular file (or a new path) is replaced atomically (temporary file
 * in the same directory, mode 0600 whatever the umask, fsync, rename): readers see the old
 * contents or the new, never half. A character device, a FIFO or "-" (stdout) is written
 * straight through and never replaced. Any other target (a directory, a socket, a block
 * device) fails with SDRA_EINVAL and a one-line message before anything is written. "-"
 * writes to file descriptor 1: a caller that also prints through stdio flushes stdout first. */
int sdra_file_write_atomic(const char *path, const void *data, size_t n, sdra_error *err);

/* What sdra_file_write_atomic would do with path: 0 = replace atomically (a regular file or a
 * new path), 1 = write straight through (character device, FIFO, "-", a symbolic link to a
 * regular file such as /dev/stdout redirected to a file), negative = refused
 * (err says why in one line). For writers that stream instead of writing one buffer. */
int sdra_file_write_check(const char *path, sdra_error *err);

/* Creates path as an empty regular file of mode 0600 (whatever the umask) unless it exists;
 * an existing file is left as it is. For files another library opens afterwards (SQLite
 * gives a database's -wal and -shm files the database file's mode). */
int sdra_file_create_private(const char *path, sdra_error *err);

/* mkdir -p; the directories it creates get mode 0700 whatever the umask, existing ones are
 * left as they are. */
int sdra_mkdir_p(const char *path, sdra_error *err);

/* The directory of read-only resources (rules, lexicons, templates, language models):
 * $SDRA_SHARE_DIR if set, else ../share/sdra beside the executable's directory (an installed
 * tree, wherever it was moved), else the source tree's data/ this binary was built from.
 * Borrowed string, valid for the life of the process. */
const char *sdra_share_dir(void);

/* Joins sdra_share_dir() and rel into out (size n). Returns SDRA_ELIMIT when it does not fit. */
int sdra_share_path(char *out, size_t n, const char *rel);

/* The user data directory (local CRM, job store, keys): explicit if not NULL, else $SDRA_DATA,
 * else $HOME/.local/share/sdra. Writes it into out (size n); SDRA_ELIMIT when it does not fit. */
int sdra_user_data_dir(char *out, size_t n, const char *explicit_dir);

/* out = dir + "/" + name. Returns SDRA_ELIMIT (out then holds a truncated path) when it does
 * not fit in n bytes. */
int sdra_path_join(char *out, size_t n, const char *dir, const char *name);

/* Writes all n bytes of data to fd, going on after EINTR and short writes. 0, or -1 with errno
 * set (EIO when write made no progress); part of data may have been written then. */
int sdra_write_all(int fd, const void *data, size_t n);

/* Monotonic seconds, for durations. */
double sdra_clock_s(void);

/* "hh:mm:ss" (or "hh:mm:ss.mmm" / "hh:mm:ss,mmm" with the separator given; sep 0 = no ms). */
void sdra_fmt_hms(char *out, size_t n, double seconds, char ms_sep);

/* Loads a JSON document from a file ("-" = stdin) of at most max_bytes. Parse errors name the
 * file, line and column: "analysis.json:3:14: unexpected token". */
int sdra_json_load_file(json_t **out, const char *path, size_t max_bytes, sdra_error *err);

/* Loads the JSON object dir/name (an artifact in a stage's work directory). When optional and
 * the file does not exist, succeeds with *out = NULL. A document that is not an object fails
 * with SDRA_EINVAL naming the file. */
int sdra_json_load_doc(json_t **out, const char *dir, const char *name, size_t max_bytes,
                       int optional, sdra_error *err);

/* Serialises doc (indented, keys in insertion order) and writes it atomically, with a final
 * newline. */
int sdra_json_write_file(const char *path, const json_t *doc, sdra_error *err);

/* Copies at most n-1 bytes and NUL-terminates; returns strlen(src). */
size_t sdra_strlcpy(char *dst, const char *src, size_t n);

/* The code point of the UTF-8 character at s (at most avail bytes) in *cp_out (when not NULL);
 * returns its length in bytes, or 0 when s does not start with a valid one (overlong forms,
 * surrogates and a character cut by avail included). */
size_t sdra_utf8_decode(const char *s, size_t avail, unsigned *cp_out);

/* The one check for names and other one-line text a person typed (a contact's or company's
 * name, any call-sheet field, an API key's name): valid UTF-8 without control characters (C0
 * including newlines and tabs, DEL, C1), bidirectional overrides, embeddings or isolates
 * (U+202A-U+202E, U+2066-U+2069) or line/paragraph separators (U+2028, U+2029), which could
 * forge what a reader sees in a list, a log or an email. SDRA_EINVAL with a one-line message
 * that starts with `what` and never echoes the text. */
int sdra_text_check_line(const char *what, const char *s, sdra_error *err);

#ifdef __cplusplus
}
#endif
#endif
