/*
 * env.c - NAME_FILE variables turned into NAME (sdra/env.h). The list of names is taken from
 * the environment first, since setenv/unsetenv may move environ while it is walked.
 */
#include "sdra/env.h"
#include "sdra/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

#define ENV_NAME_MAX 128
#define ENV_MAX_FILES 64

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n > k && !memcmp(s + n - k, suffix, k);
}

bool sdra_env_file_capable(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n <= 5 || strncmp(name, "SDRA_", 5) != 0)
        return false;
    return ends_with(name, n, "_TOKEN") || ends_with(name, n, "_URL") || ends_with(name, n, "_SECRET") ||
           ends_with(name, n, "_API_KEY");
}

static int load_one(const char *name, sdra_error *err)
{
    char file_var[ENV_NAME_MAX + 8];
    snprintf(file_var, sizeof file_var, "%.*s_FILE", ENV_NAME_MAX - 1, name);
    const char *path = getenv(file_var), *direct = getenv(name);
    if (direct && *direct)
        return sdra_error_set(err, SDRA_EINVAL, "%s and %s are both set: use one of them", name, file_var);
    if (!path || !*path || !strcmp(path, "-"))
        return sdra_error_set(err, SDRA_EINVAL, "%s must name the file holding %s", file_var, name);
    char *data = NULL;
    size_t len = 0;
    sdra_error ferr = {0};
    int rc = sdra_file_read(&data, &len, path, SDRA_ENV_FILE_MAX_BYTES, &ferr);
    if (rc < 0)
        return sdra_error_set(err, rc, "%s: %s", file_var, ferr.msg);
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        data[--len] = '\0';
    for (size_t i = 0; i < len && rc == 0; i++)
        if ((unsigned char)data[i] < 0x20 || data[i] == 0x7f)
            rc = sdra_error_set(err, SDRA_EINVAL, "%s: the file holds a control character (one line expected)",
                                file_var);
    if (rc == 0 && len == 0)
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: the file is empty", file_var);
    if (rc == 0 && (setenv(name, data, 1) != 0 || unsetenv(file_var) != 0))
        rc = sdra_error_set(err, SDRA_ENOMEM, "%s: cannot set the environment", name);
    memset(data, 0, len);
    free(data);
    return rc;
}

int sdra_env_load_files(sdra_error *err)
{
    char names[ENV_MAX_FILES][ENV_NAME_MAX];
    int n = 0;
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t k = eq ? (size_t)(eq - *e) : 0;
        if (k <= 5 || k - 5 >= ENV_NAME_MAX || strncmp(*e + k - 5, "_FILE", 5) != 0)
            continue;
        char name[ENV_NAME_MAX];
        memcpy(name, *e, k - 5);
        name[k - 5] = '\0';
        if (!sdra_env_file_capable(name))
            continue;
        if (n == ENV_MAX_FILES)
            return sdra_error_set(err, SDRA_ELIMIT, "more than %d SDRA_*_FILE variables", ENV_MAX_FILES);
        memcpy(names[n++], name, sizeof name);
    }
    for (int i = 0; i < n; i++) {
        int rc = load_one(names[i], err);
        if (rc < 0)
            return rc;
    }
    return 0;
}
