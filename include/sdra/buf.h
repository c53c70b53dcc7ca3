/*
 * sdra/buf.h - a growable byte buffer with a hard maximum size.
 *
 * Every buffer that holds untrusted or unbounded input has a limit: appends that would pass
 * max_bytes fail with SDRA_ELIMIT and leave the buffer unchanged. The contents are always
 * NUL-terminated (not counted in len), so text can be used as a C string.
 *
 *     sdra_buf b;
 *     sdra_buf_init(&b, 1 << 20);
 *     sdra_buf_printf(&b, "%d words", n);
 *     puts(b.data);
 *     sdra_buf_release(&b);
 */
#ifndef SDRA_BUF_H
#define SDRA_BUF_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sdra_buf {
    char *data;       /* NULL until the first append; always NUL-terminated after it */
    size_t len;       /* bytes used, excluding the terminating NUL */
    size_t cap;       /* bytes allocated */
    size_t max_bytes; /* hard limit on len; 0 means SIZE_MAX / 2 */
} sdra_buf;

void sdra_buf_init(sdra_buf *b, size_t max_bytes);
void sdra_buf_release(sdra_buf *b); /* frees data; the buffer may be reused after init */
void sdra_buf_reset(sdra_buf *b);   /* len = 0, keeps memory */
int sdra_buf_append(sdra_buf *b, const void *data, size_t n);
int sdra_buf_puts(sdra_buf *b, const char *s);
int sdra_buf_putc(sdra_buf *b, char c);
int sdra_buf_printf(sdra_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the contents to the caller (free() it) and leaves the buffer empty. Never NULL on
 * success: an empty buffer yields "". Returns NULL only on allocation failure. */
char *sdra_buf_detach(sdra_buf *b);

#ifdef __cplusplus
}
#endif
#endif
