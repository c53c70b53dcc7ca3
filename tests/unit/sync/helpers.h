/*
 * helpers.h - shared by the sync unit tests: a fresh temporary data directory per test and a
 * small builder of the documents sdra_crm_sync reads.
 */
#ifndef SDRA_TEST_SYNC_HELPERS_H
#define SDRA_TEST_SYNC_HELPERS_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sdra/crm.h"
#include "sdra/util.h"

/* Makes a new empty directory under $SDRA_TEST_TMP (or /tmp) into out. */
static inline void tmpdir_make(char *out, size_t n, const char *tag)
{
    const char *base = getenv("SDRA_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    sdra_mkdir_p(base, NULL);
    snprintf(out, n, "%s/sync-%s-XXXXXX", base, tag);
    if (!mkdtemp(out)) {
        fprintf(stderr, "mkdtemp %s failed\n", out);
        abort();
    }
}

static inline void tmpdir_remove(const char *dir)
{
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static inline json_t *parse(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    if (!v) {
        fprintf(stderr, "test JSON: %s at %d:%d\n", je.text, je.line, je.column);
        abort();
    }
    return v;
}

static inline size_t count_rows(sdra_crm *crm, sdra_crm_kind kind, const char *email)
{
    json_t *rows = NULL;
    sdra_error err = {0};
    if (sdra_crm_list(crm, kind, email, &rows, &err) < 0) {
        fprintf(stderr, "list: %s\n", err.msg);
        abort();
    }
    size_t n = json_array_size(rows);
    json_decref(rows);
    return n;
}

#endif
