/*
 * seal.c - the per-thread sealing hook (sdra/seal.h). Thread-local because the server's
 * workers run stages of different calls, each with its own data key, at the same time.
 */
#include "sdra/seal.h"

#include <string.h>

static _Thread_local const sdra_seal_ops *current;

const sdra_seal_ops *sdra_seal_set(const sdra_seal_ops *ops)
{
    const sdra_seal_ops *old = current;
    current = ops;
    return old;
}

const sdra_seal_ops *sdra_seal_get(void) { return current; }

bool sdra_seal_is_sealed(const void *head, size_t n) { return n >= 8 && !memcmp(head, "SDRAENC1", 8); }

bool sdra_seal_is_sealed_text(const char *value) { return value && !strncmp(value, "sdra:e1:", 8); }
