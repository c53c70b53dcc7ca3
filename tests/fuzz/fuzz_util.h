/*
 * fuzz_util.h - what the libFuzzer targets share: a per-process scratch directory and writing
 * one input to a file in it (the code under test reads files, as the CLI and the server do).
 */
#ifndef SDRA_FUZZ_UTIL_H
#define SDRA_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sdra/log.h"

/* A directory private to this fuzzing process, made on first use; NULL when it cannot be made
 * (the target then skips the input: nothing to learn from a full /tmp). */
static inline const char *fuzz_dir(void)
{
    static char dir[256];
    if (!dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/sdra-fuzz-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(dir)) {
            dir[0] = 0;
            return NULL;
        }
    }
    return dir;
}

/* Writes data to <fuzz_dir>/<name> and returns that path in out; 0 or -1. */
static inline int fuzz_write(char *out, size_t n, const char *name, const uint8_t *data, size_t len)
{
    const char *dir = fuzz_dir();
    if (!dir || (size_t)snprintf(out, n, "%s/%s", dir, name) >= n)
        return -1;
    FILE *f = fopen(out, "wb");
    if (!f)
        return -1;
    size_t w = len ? fwrite(data, 1, len, f) : 0;
    int rc = fclose(f);
    return (w == len && rc == 0) ? 0 : -1;
}

#endif
