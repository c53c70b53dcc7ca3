/*
 * sdra/env.h - secrets and connector settings from files, the Docker and Kubernetes secrets
 * convention: every SDRA_*_TOKEN, SDRA_*_URL, SDRA_*_SECRET and SDRA_*_API_KEY variable may
 * instead be given as NAME_FILE, the path of a file holding the value (a mounted secret).
 *
 *     sdra_error err = {0};
 *     if (sdra_env_load_files(&err) < 0) { fprintf(stderr, "sdra: %s\n", err.msg); return 2; }
 *     // from here on getenv("SDRA_HUBSPOT_TOKEN") has the file's content
 *
 * Called once at program start, before any thread exists (it changes the environment), so
 * that every module keeps reading plain variables.
 */
#ifndef SDRA_ENV_H
#define SDRA_ENV_H

#include <stdbool.h>
#include "sdra/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SDRA_ENV_FILE_MAX_BYTES (64u << 10)

/* Whether NAME (without _FILE) is one that may come from a file: SDRA_ followed by a name
 * ending in _TOKEN, _URL, _SECRET or _API_KEY. */
bool sdra_env_file_capable(const char *name);

/* For each NAME_FILE in the environment whose NAME is file-capable: reads the file (at most
 * SDRA_ENV_FILE_MAX_BYTES; trailing newlines stripped), sets NAME to its content and removes
 * NAME_FILE (a child process sees NAME only). Fails, leaving the variables handled so far set,
 * with SDRA_EINVAL and one line naming the variables (never the value) when NAME and NAME_FILE
 * are both set, or the file is empty or holds a control character; SDRA_ENOTFOUND / SDRA_EIO /
 * SDRA_ELIMIT when it cannot be read or is too large. */
int sdra_env_load_files(sdra_error *err);

#ifdef __cplusplus
}
#endif
#endif
