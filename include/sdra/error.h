/*
 * sdra/error.h - the one error model of sdr-assistant.
 *
 * Every fallible function returns an int: 0 (SDRA_OK) on success, a negative sdra_code on
 * failure. Callers branch on the code; people read the message. The detail of a failure (code,
 * one-line message, whether a retry may help) is written into a caller-owned sdra_error passed
 * as the last argument (NULL is allowed when the caller does not want the detail). There is no
 * global "last error": with workers and callbacks it would belong to someone else's job.
 *
 * Foreign codes (errno, SQLite, FFmpeg, libcurl, ...) are translated where they enter.
 *
 *     sdra_error err = {0};
 *     if (sdra_audio_open(&a, path, NULL, &err) < 0)
 *         fprintf(stderr, "sdra: %s\n", err.msg);   // "call.wav: not an audio file"
 */
#ifndef SDRA_ERROR_H
#define SDRA_ERROR_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sdra_code {
    SDRA_OK = 0,
    SDRA_ENOMEM = -1,       /* allocation failed */
    SDRA_EINVAL = -2,       /* invalid input: bad file, bad document, bad argument value */
    SDRA_ENOTFOUND = -3,    /* a named thing does not exist */
    SDRA_EIO = -4,          /* reading or writing failed */
    SDRA_EUNSUPPORTED = -5, /* a valid request this build or backend cannot serve */
    SDRA_ETIMEOUT = -6,     /* a deadline passed */
    SDRA_ERETRY = -7,       /* transient: try again later */
    SDRA_EUPSTREAM = -8,    /* a remote service failed or answered nonsense */
    SDRA_ELIMIT = -9,       /* a configured size, duration or rate limit was exceeded */
    SDRA_ECANCELED = -10,   /* stopped by the caller (abort callback, signal) */
    SDRA_EEXISTS = -11,     /* already exists / conflict */
    SDRA_EDENIED = -12,     /* not allowed (auth, scope, opt-out) */
    SDRA_EINTERNAL = -13,   /* a bug: an invariant did not hold */
} sdra_code;

#define SDRA_ERROR_MSG_MAX 512

typedef struct sdra_error {
    int code;                     /* an sdra_code; 0 when no error was recorded */
    bool retryable;               /* true when trying again later may succeed */
    char msg[SDRA_ERROR_MSG_MAX]; /* one line, no trailing newline, names the input */
} sdra_error;

/* Static, human-readable name of a code ("invalid input"); never NULL. */
const char *sdra_strerror(int code);

/* Stable identifier of a code for APIs and logs ("invalid_input"); never NULL. */
const char *sdra_code_name(int code);

/*
 * Records code and a printf-style message into err (if err is not NULL) and returns code, so
 * that `return sdra_error_set(err, SDRA_EINVAL, "%s: empty file", path);` reads naturally.
 * retryable is set for SDRA_ERETRY, SDRA_ETIMEOUT and SDRA_EUPSTREAM.
 */
int sdra_error_set(sdra_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes err->msg with "prefix: " (for adding context on the way up). Returns err->code. */
int sdra_error_prefix(sdra_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Translates an errno value into an sdra_code (ENOENT -> SDRA_ENOTFOUND, ENOMEM, ...). */
int sdra_code_from_errno(int errnum);

/* Clears err back to success. */
void sdra_error_clear(sdra_error *err);

#ifdef __cplusplus
}
#endif
#endif
