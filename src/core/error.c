/*
 * error.c - the error model (sdra/error.h): codes, their names, and recording a one-line
 * message into a caller-owned sdra_error.
 */
#include "sdra/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    int code;
    const char *text;
    const char *name;
} codes[] = {
    {SDRA_OK, "success", "ok"},
    {SDRA_ENOMEM, "out of memory", "no_memory"},
    {SDRA_EINVAL, "invalid input", "invalid_input"},
    {SDRA_ENOTFOUND, "not found", "not_found"},
    {SDRA_EIO, "input/output error", "io_error"},
    {SDRA_EUNSUPPORTED, "unsupported", "unsupported"},
    {SDRA_ETIMEOUT, "timed out", "timeout"},
    {SDRA_ERETRY, "temporary failure, try again", "retry"},
    {SDRA_EUPSTREAM, "upstream service failed", "upstream"},
    {SDRA_ELIMIT, "limit exceeded", "limit_exceeded"},
    {SDRA_ECANCELED, "canceled", "canceled"},
    {SDRA_EEXISTS, "already exists", "conflict"},
    {SDRA_EDENIED, "not allowed", "forbidden"},
    {SDRA_EINTERNAL, "internal error", "internal"},
};

const char *sdra_strerror(int code)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].code == code)
            return codes[i].text;
    return "unknown error";
}

const char *sdra_code_name(int code)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].code == code)
            return codes[i].name;
    return "unknown";
}

int sdra_error_set(sdra_error *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    err->retryable = code == SDRA_ERETRY || code == SDRA_ETIMEOUT || code == SDRA_EUPSTREAM;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    } else {
        snprintf(err->msg, sizeof err->msg, "%s", sdra_strerror(code));
    }
    /* one line: fold any newline a foreign message brought in */
    for (char *p = err->msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return code;
}

static void sdra_strlcpy_local(char *dst, const char *src, size_t cap)
{
    size_t len = strlen(src);
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

int sdra_error_prefix(sdra_error *err, const char *fmt, ...)
{
    if (!err)
        return SDRA_EINTERNAL;
    char prefix[SDRA_ERROR_MSG_MAX], old[SDRA_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof err->msg - 3)
        n = sizeof err->msg - 3;
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    sdra_strlcpy_local(err->msg + n + 2, old, sizeof err->msg - n - 2);
    return err->code;
}

int sdra_code_from_errno(int e)
{
    switch (e) {
    case 0: return SDRA_OK;
    case ENOENT: case ENOTDIR: return SDRA_ENOTFOUND;
    case ENOMEM: return SDRA_ENOMEM;
    case EACCES: case EPERM: case EROFS: return SDRA_EDENIED;
    case EEXIST: return SDRA_EEXISTS;
    case EINVAL: case EISDIR: return SDRA_EINVAL;
    case EAGAIN: case EINTR: case EBUSY: return SDRA_ERETRY;
    case ETIMEDOUT: return SDRA_ETIMEOUT;
    case EFBIG: case ENOSPC: case EDQUOT: return SDRA_ELIMIT;
    default: return SDRA_EIO;
    }
}

void sdra_error_clear(sdra_error *err)
{
    if (err) {
        err->code = 0;
        err->retryable = false;
        err->msg[0] = '\0';
    }
}
