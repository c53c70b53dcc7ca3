/*
 * buf.c - growable byte buffer with a hard maximum (sdra/buf.h). A failed append leaves the
 * buffer exactly as it was.
 */
#include "sdra/buf.h"
#include "sdra/error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sdra_buf_init(sdra_buf *b, size_t max_bytes)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max_bytes = max_bytes ? max_bytes : SIZE_MAX / 2;
}

void sdra_buf_release(sdra_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void sdra_buf_reset(sdra_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int reserve(sdra_buf *b, size_t extra)
{
    if (extra > b->max_bytes - b->len)
        return SDRA_ELIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return SDRA_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int sdra_buf_append(sdra_buf *b, const void *data, size_t n)
{
    int rc = reserve(b, n);
    if (rc < 0)
        return rc;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int sdra_buf_puts(sdra_buf *b, const char *s)
{
    return sdra_buf_append(b, s, strlen(s));
}

int sdra_buf_putc(sdra_buf *b, char c)
{
    return sdra_buf_append(b, &c, 1);
}

int sdra_buf_printf(sdra_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return SDRA_EINVAL;
    int rc = reserve(b, (size_t)n);
    if (rc < 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *sdra_buf_detach(sdra_buf *b)
{
    char *p = b->data;
    if (!p)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
