/*
 * config.c - `--config FILE` (or $SDRA_CONFIG): long options of run, transcribe, analyze,
 * compose and serve read from a file (docs/config.md).
 *
 *     # sdra.conf
 *     llm-url = http://127.0.0.1:8000/v1     <- every command that has --llm-url
 *     [run]
 *     jobs = 4
 *     quiet                                  <- a switch; "quiet = false" leaves it off
 *     [serve]
 *     asr-url = http://10.0.0.5:9000/v1      <- repeatable options may repeat
 *
 * How: each subcommand calls CLI_CONFIG(cmd, opts, argc, argv) (cli.h) before it parses. That
 * finds --config in argv (or $SDRA_CONFIG), reads the file, checks every key against the option
 * tables of the commands, and gives the command a new argv: its own name, the file's options
 * as "--key value" words, then the command line without --config. getopt_long (or the
 * command's own loop) then sees the file first, so the command line wins for single-valued
 * options. The option tables are learnt from the commands themselves: config.c calls each one
 * in "probe" mode, in which CLI_CONFIG records the table and returns at once; so an option a
 * command adds to its table is configurable with no change here.
 *
 * Never in the file: help, config, and anything that looks like a secret (a key naming a key,
 * token, secret or password; a URL with a user:password@) - credentials come from the
 * environment (SDRA_LLM_API_KEY, SDRA_ASR_API_KEY, ...). Bounds: 64 KiB per file, 1024 bytes
 * per line, 256 options. Every error is one line naming file:line, exit status 2.
 */
#include "cli.h"
#include "sdra/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CONFIG_MAX_BYTES (64 * 1024)
#define CONFIG_MAX_LINE 1024
#define CONFIG_MAX_WORDS 512 /* 256 options, each "--key" and a value */
#define CONFIG_MAX_COMMANDS 8

/* The commands a config file can configure; each calls CLI_CONFIG first thing. */
static const struct {
    const char *name;
    int (*fn)(int, char **);
} configurable[] = {
    {"run", cmd_run},         {"transcribe", cmd_transcribe}, {"analyze", cmd_analyze},
    {"compose", cmd_compose}, {"serve", cmd_serve},       {"outbox", cmd_outbox},
    {"worker", cmd_worker},
};

/* What the probe learnt: each command's option table (static in its cmd_*.c file). */
static struct {
    const char *cmd;
    const struct option *opts;
} g_tables[CONFIG_MAX_COMMANDS];
static int g_n_tables;
static int g_probing;

/* The file's words and the argv built from them live until the process ends (the command
 * keeps pointers into them); kept here so that they stay reachable. */
static char *g_file;
static char **g_argv;

static int config_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int config_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "sdra %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return SDRA_EXIT_USAGE;
}

/* Records a bad file's one-line reason in err and returns the usage exit status. */
static int config_fail(sdra_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int config_fail(sdra_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = SDRA_EINVAL;
    return SDRA_EXIT_USAGE;
}

static void record_table(const char *cmd, const struct option *opts)
{
    for (int i = 0; i < g_n_tables; i++)
        if (!strcmp(g_tables[i].cmd, cmd))
            return;
    if (g_n_tables < CONFIG_MAX_COMMANDS) {
        g_tables[g_n_tables].cmd = cmd;
        g_tables[g_n_tables].opts = opts;
        g_n_tables++;
    }
}

/* Learns every configurable command's table. A command that does not answer the probe (it
 * lacks CLI_CONFIG) sees "--help", prints its help and returns: harmless, and reported. */
static int probe_all(sdra_error *err)
{
    for (size_t i = 0; i < sizeof configurable / sizeof configurable[0]; i++) {
        int before = g_n_tables;
        int known = 0;
        for (int j = 0; j < g_n_tables; j++)
            known |= !strcmp(g_tables[j].cmd, configurable[i].name);
        if (known)
            continue;
        char name[32], help[] = "--help";
        snprintf(name, sizeof name, "%s", configurable[i].name);
        char *argv[] = {name, help, NULL};
        g_probing = 1;
        configurable[i].fn(2, argv);
        g_probing = 0;
        if (g_n_tables == before)
            return config_fail(err, "internal error: 'sdra %s' does not read config files",
                                configurable[i].name);
    }
    return 0;
}

static const struct option *table_of(const char *cmd)
{
    for (int i = 0; i < g_n_tables; i++)
        if (!strcmp(g_tables[i].cmd, cmd))
            return g_tables[i].opts;
    return NULL;
}

static const struct option *find_long(const struct option *opts, const char *name, size_t n)
{
    for (const struct option *o = opts; o && o->name; o++)
        if (strlen(o->name) == n && !strncmp(o->name, name, n))
            return o;
    return NULL;
}

/* The short option ch takes a value when the table maps a long option with a value to it. */
static int short_takes_value(const struct option *opts, int ch)
{
    for (const struct option *o = opts; o && o->name; o++)
        if (o->val == ch && o->flag == NULL && o->has_arg == required_argument)
            return 1;
    return 0;
}

/*
 * Walks the command line the way getopt_long will, to find --config FILE / --config=FILE (which
 * it removes: the commands do not know it) and -h/--help, without mistaking an option's value
 * for either. Writes the remaining words to keep (n_keep), the path (NULL when absent).
 */
static int scan_argv(const char *cmd, const struct option *opts, int argc, char **argv,
                     char **keep, int *n_keep, const char **path, int *help)
{
    int k = 0;
    *path = NULL;
    *help = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (!strcmp(a, "--")) {
            while (i < argc)
                keep[k++] = argv[i++];
            break;
        }
        if (!strncmp(a, "--", 2) && a[2]) {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            if (n == 6 && !strncmp(name, "config", 6)) {
                if (*path)
                    return config_error(cmd, "--config given twice");
                if (eq) {
                    *path = eq + 1;
                } else if (i + 1 < argc) {
                    *path = argv[++i];
                } else {
                    return config_error(cmd, "--config needs a FILE");
                }
                if (!**path)
                    return config_error(cmd, "--config needs a FILE");
                continue;
            }
            if (n == 4 && !strncmp(name, "help", 4))
                *help = 1;
            keep[k++] = a;
            const struct option *o = find_long(opts, name, n);
            if (o && o->has_arg == required_argument && !eq && i + 1 < argc)
                keep[k++] = argv[++i];
            continue;
        }
        keep[k++] = a;
        if (a[0] == '-' && a[1]) { /* a cluster of short options: -qo FILE, -oFILE */
            for (const char *c = a + 1; *c; c++) {
                if (*c == 'h')
                    *help = 1;
                if (short_takes_value(opts, (unsigned char)*c)) {
                    if (!c[1] && i + 1 < argc)
                        keep[k++] = argv[++i];
                    break;
                }
            }
        }
    }
    *n_keep = k;
    return 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* Keys that name a credential: those values come from the environment only. */
static int secret_key(const char *key)
{
    static const char *const words[] = {"key", "token", "secret", "password", "passwd", "auth"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strstr(key, words[i]))
            return 1;
    return 0;
}

/* "scheme://user:pass@host..." */
static int url_with_userinfo(const char *v)
{
    const char *p = strstr(v, "://");
    if (!p)
        return 0;
    p += 3;
    size_t n = strcspn(p, "/?#");
    return memchr(p, '@', n) != NULL;
}

static int is_command(const char *name)
{
    for (size_t i = 0; i < sizeof configurable / sizeof configurable[0]; i++)
        if (!strcmp(configurable[i].name, name))
            return 1;
    return 0;
}

/* Switch values: 1 on, 0 off, -1 not a switch value. */
static int switch_value(const char *v)
{
    if (!*v || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1"))
        return 1;
    if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "0"))
        return 0;
    return -1;
}

/* Parses the file's text (NUL-terminated, modified in place: values point into it) into words
 * for cmd; the "--key" words are written to arena. */
static int parse_config(const char *cmd, const struct option *mine, const char *path, char *text,
                        char **words, int *n_words, char *arena, size_t arena_cap, size_t *arena_len,
                        sdra_error *err)
{
    int n = 0, lineno = 0;
    const char *section = NULL; /* NULL: before any section */
    char *line = text;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        lineno++;
        if (strlen(line) > CONFIG_MAX_LINE)
            return config_fail(err, "%s:%d: line longer than %d bytes", path, lineno, CONFIG_MAX_LINE);
        char *s = trim(line);
        line = nl ? nl + 1 : NULL;
        if (!*s || *s == '#')
            continue;
        if (*s == '[') {
            size_t l = strlen(s);
            if (s[l - 1] != ']')
                return config_fail(err, "%s:%d: a section is written [command]", path, lineno);
            s[l - 1] = '\0';
            char *name = trim(s + 1);
            if (!is_command(name))
                return config_fail(err, "%s:%d: unknown section '[%.64s]' (sections: run, transcribe, "
                                    "analyze, compose, serve, worker)", path, lineno, name);
            section = name;
            continue;
        }
        char *eq = strchr(s, '=');
        char *value = NULL;
        if (eq) {
            *eq = '\0';
            value = trim(eq + 1);
            size_t vl = strlen(value);
            if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
                value[vl - 1] = '\0';
                value++;
            } else if (vl && (value[0] == '"' || value[vl - 1] == '"')) {
                return config_fail(err, "%s:%d: unbalanced quotes", path, lineno);
            }
        }
        char *key = trim(s);
        if (!strncmp(key, "--", 2))
            return config_fail(err, "%s:%d: write the option without its dashes ('%.64s')", path,
                                lineno, key + 2);
        for (const char *c = key; *c; c++)
            if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '-'))
                return config_fail(err, "%s:%d: '%.64s' is not an option name (lines are 'key = value')",
                                    path, lineno, key);
        if (!*key)
            return config_fail(err, "%s:%d: a line without an option name", path, lineno);
        if (secret_key(key))
            return config_fail(err, "%s:%d: '%.64s': secrets do not belong in a config file; API keys "
                                "come from the environment (SDRA_LLM_API_KEY, SDRA_ASR_API_KEY, ...)",
                                path, lineno, key);
        if (!strcmp(key, "help") || !strcmp(key, "config"))
            return config_fail(err, "%s:%d: '%s' cannot be set in a config file", path, lineno, key);
        if (value && url_with_userinfo(value))
            return config_fail(err, "%s:%d: '%.64s': a URL with user:password@ is a secret; keep "
                                "credentials in the environment", path, lineno, key);

        /* which table decides, and whether the option is for this command */
        const struct option *o = NULL;
        int for_me = 0;
        if (section) {
            o = find_long(table_of(section), key, strlen(key));
            if (!o)
                return config_fail(err, "%s:%d: unknown option '%.64s' for '%s'", path, lineno, key,
                                    section);
            for_me = !strcmp(section, cmd);
        } else {
            o = find_long(mine, key, strlen(key));
            for_me = o != NULL;
            for (int i = 0; !o && i < g_n_tables; i++)
                o = find_long(g_tables[i].opts, key, strlen(key));
            if (!o)
                return config_fail(err, "%s:%d: unknown option '%.64s' (no command has --%.64s)",
                                    path, lineno, key, key);
        }
        if (o->has_arg == no_argument) {
            int on = switch_value(value ? value : "");
            if (on < 0)
                return config_fail(err, "%s:%d: '%s' is a switch: write '%s' or '%s = true|false'",
                                    path, lineno, key, key, key);
            if (!for_me || !on)
                continue;
        } else if (o->has_arg == required_argument && (!value || !*value)) {
            return config_fail(err, "%s:%d: '%s' needs a value ('%s = ...')", path, lineno, key, key);
        }
        if (!for_me)
            continue;
        if (n + 2 > CONFIG_MAX_WORDS)
            return config_fail(err, "%s:%d: more than %d options", path, lineno, CONFIG_MAX_WORDS / 2);
        size_t kl = strlen(key), vl = value ? strlen(value) : 0;
        if (*arena_len + kl + vl + 4 > arena_cap)
            return config_fail(err, "%s:%d: too many options", path, lineno);
        char *w = arena + *arena_len;
        if (o->has_arg == optional_argument && vl)
            snprintf(w, kl + vl + 4, "--%s=%s", key, value);
        else
            snprintf(w, kl + 3, "--%s", key);
        *arena_len += strlen(w) + 1;
        words[n++] = w;
        if (o->has_arg == required_argument)
            words[n++] = value;
    }
    *n_words = n;
    return 0;
}

int cli_config_parse(const char *cmd, const struct option *opts, const char *name, const char *data,
                     size_t len, char ***out, int *n_out, sdra_error *err)
{
    *out = NULL;
    *n_out = 0;
    if (len > CONFIG_MAX_BYTES)
        return config_fail(err, "%s: larger than %d bytes", name, CONFIG_MAX_BYTES);
    if (memchr(data, '\0', len))
        return config_fail(err, "%s: not a text file (NUL byte)", name);
    /* one block: the words (NULL-terminated), the text they point into, the "--key" arena */
    size_t words_bytes = sizeof(char *) * (CONFIG_MAX_WORDS + 1);
    size_t arena_cap = 2 * len + 4 * CONFIG_MAX_WORDS + 1, arena_len = 0;
    char *block = malloc(words_bytes + len + 1 + arena_cap);
    if (!block)
        return config_fail(err, "%s: out of memory", name);
    char **words = (char **)block, *text = block + words_bytes, *arena = text + len + 1;
    memcpy(text, data, len);
    text[len] = '\0';
    int n = 0, rc = probe_all(err);
    if (rc == 0)
        rc = parse_config(cmd, opts, name, text, words, &n, arena, arena_cap, &arena_len, err);
    if (rc != 0) {
        free(block);
        return rc;
    }
    words[n] = NULL;
    *out = words;
    *n_out = n;
    return 0;
}

const struct option *cli_config_table(const char *cmd)
{
    sdra_error err = {0};
    return is_command(cmd) && probe_all(&err) == 0 ? table_of(cmd) : NULL;
}

int cli_config_apply(const char *cmd, const struct option *opts, int *argcp, char ***argvp)
{
    record_table(cmd, opts);
    if (g_probing)
        return SDRA_EXIT_OK;
    int argc = *argcp;
    char **argv = *argvp;
    if (argc < 1)
        return CLI_CONFIG_GO;
    char **keep = malloc(sizeof *keep * (size_t)(argc + 1));
    if (!keep)
        return config_error(cmd, "out of memory");
    const char *path = NULL, *origin = "--config ";
    int n_keep = 0, help = 0, rc;
    if ((rc = scan_argv(cmd, opts, argc, argv, keep, &n_keep, &path, &help)) != 0)
        goto fail;
    int on_command_line = path != NULL;
    if (!path) {
        const char *env = getenv("SDRA_CONFIG");
        if (env && *env) {
            path = env;
            origin = "$SDRA_CONFIG ";
        }
    }
    if (!path || help) { /* no file, or --help: which must work whatever the file holds */
        if (!on_command_line) {
            free(keep);
            return CLI_CONFIG_GO;
        }
        path = NULL;
    }

    char *text = NULL, *block = NULL;
    size_t len = 0;
    char **words = NULL;
    int n_words = 0;
    if (path) {
        sdra_error err = {0};
        struct stat st;
        if (!strcmp(path, "-")) {
            rc = config_error(cmd, "config file '-': name a file (stdin is not read for options)");
            goto fail;
        }
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
            rc = config_error(cmd, "%s%s: not a regular file", origin, path);
            goto fail;
        }
        if (sdra_file_read(&text, &len, path, CONFIG_MAX_BYTES, &err) < 0) {
            rc = config_error(cmd, "%s%s", origin, err.msg);
            goto fail;
        }
        if (strlen(text) != len) {
            free(text);
            rc = config_error(cmd, "%s%s: not a text file (NUL byte)", origin, path);
            goto fail;
        }
        rc = cli_config_parse(cmd, opts, path, text, len, &words, &n_words, &err);
        free(text);
        if (rc != 0) {
            rc = config_error(cmd, "%s", err.msg);
            goto fail;
        }
        block = (char *)words;
    }

    char **nargv = malloc(sizeof *nargv * (size_t)(1 + n_words + n_keep + 1));
    if (!nargv) {
        free(block);
        rc = config_error(cmd, "out of memory");
        goto fail;
    }
    int k = 0;
    nargv[k++] = argv[0];
    for (int i = 0; i < n_words; i++)
        nargv[k++] = words[i];
    for (int i = 0; i < n_keep; i++)
        nargv[k++] = keep[i];
    nargv[k] = NULL;
    free(keep);
    /* one configured command per process; should it run twice, the earlier run is over */
    free(g_argv);
    free(g_file);
    g_argv = nargv;
    g_file = block;
    *argcp = k;
    *argvp = nargv;
    return CLI_CONFIG_GO;
fail:
    free(keep);
    return rc;
}
