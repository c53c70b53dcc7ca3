/*
 * cli.c - helpers shared by the subcommands: error printing, usage errors, the progress bar.
 */
#include "cli.h"
#include "sdra/store.h"
#include "sdra/util.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_fail(const sdra_error *err)
{
    fprintf(stderr, "sdra: %s\n", err && err->msg[0] ? err->msg : sdra_strerror(err ? err->code : SDRA_EINTERNAL));
    return SDRA_EXIT_FAIL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "sdra %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'sdra %s --help')\n", cmd);
    return SDRA_EXIT_USAGE;
}

static int g_bar_drawn;

static int draw_bar(void *user, const char *task, double done, double total)
{
    (void)user;
    char line[160];
    if (total > 0) {
        double f = done / total;
        if (f > 1)
            f = 1;
        int w = 30, n = (int)(f * w);
        char bar[32];
        for (int i = 0; i < w; i++)
            bar[i] = i < n ? '#' : '.';
        bar[w] = '\0';
        snprintf(line, sizeof line, "\r%-12.12s [%s] %3d%%", task, bar, (int)(f * 100));
    } else {
        snprintf(line, sizeof line, "\r%-12.12s %.0f", task, done);
    }
    fputs(line, stderr);
    fflush(stderr);
    g_bar_drawn = 1;
    return 0;
}

sdra_progress cli_progress(bool quiet)
{
    sdra_progress p = {0};
    if (!quiet && isatty(STDERR_FILENO))
        p.fn = draw_bar;
    return p;
}

void cli_progress_done(void)
{
    if (g_bar_drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        g_bar_drawn = 0;
    }
}

long cli_parse_count(const char *s)
{
    if (!s || !*s)
        return -1;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 0)
        return -1;
    return v;
}

void cli_audit_actor(char *out, size_t n)
{
    const struct passwd *pw = getpwuid(getuid());
    if (pw && pw->pw_name && strlen(pw->pw_name) + 5 <= n)
        snprintf(out, n, "cli:%s", pw->pw_name);
    else
        snprintf(out, n, "cli:uid%u", (unsigned)getuid());
}

/* Appends the audit entry of a change made with the CLI: actor "cli:<user>", ip "local". */
int cli_audit(sdra_store *st, const char *org, const char *action, const char *key_id, const char *detail,
              sdra_error *err)
{
    sdra_store_audit_entry e = {.at_ms = sdra_store_now_ms()};
    sdra_strlcpy(e.org, org, sizeof e.org);
    cli_audit_actor(e.actor, sizeof e.actor);
    sdra_strlcpy(e.action, action, sizeof e.action);
    sdra_strlcpy(e.target, key_id, sizeof e.target);
    sdra_strlcpy(e.ip, "local", sizeof e.ip);
    sdra_strlcpy(e.detail, detail ? detail : "", sizeof e.detail);
    sdra_error e2 = {0};
    if (sdra_store_audit_append(st, &e, &e2) < 0)
        return sdra_error_set(err, SDRA_EIO, "audit log write failed: %s", e2.msg);
    return 0;
}
