/*
 * cli_asr.c - the speech-recognizer options that transcribe, run and serve share (--asr,
 * --asr-url, ...; cli.h), parsed once so the three commands agree. The API key is never an
 * option: the backend reads $SDRA_ASR_API_KEY (docs/models.md).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

void cli_asr_init(cli_asr *a)
{
    memset(a, 0, sizeof *a);
    a->remote = sdra_asr_remote_default_params();
}

static bool seconds(const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

int cli_asr_option(cli_asr *a, const char *cmd, int c, const char *arg)
{
    double v;
    long n;
    switch (c - CLI_ASR_OPT) {
    case 0:
        if (!sdra_asr_backend(arg))
            return cli_usage_error(cmd, "--asr wants pocketsphinx or whisper-http, not '%s'", arg);
        a->backend = arg;
        return 0;
    case 1:
        if (a->remote.n_urls >= SDRA_ASR_MAX_URLS)
            return cli_usage_error(cmd, "at most %d --asr-url", SDRA_ASR_MAX_URLS);
        if (strncmp(arg, "http://", 7) && strncmp(arg, "https://", 8))
            return cli_usage_error(cmd, "--asr-url wants http(s)://HOST[:PORT]/.../v1, not '%.80s'", arg);
        a->remote.urls[a->remote.n_urls++] = arg;
        return 0;
    case 2:
        if (!*arg || strlen(arg) > 200)
            return cli_usage_error(cmd, "--asr-model wants a model name");
        a->remote.model = arg;
        return 0;
    case 3:
        if (!*arg || strlen(arg) > 16 || strpbrk(arg, "\r\n\" "))
            return cli_usage_error(cmd, "--asr-language wants a language code like 'en', not '%.40s'", arg);
        a->remote.language = arg;
        return 0;
    case 4:
        if (!seconds(arg, 5, 30, &v))
            return cli_usage_error(cmd, "--asr-chunk-s wants 5..30 seconds, not '%s'", arg);
        a->chunk_s = v;
        return 0;
    case 5:
        if (!seconds(arg, 1, 3600, &v))
            return cli_usage_error(cmd, "--asr-timeout-s wants 1..3600 seconds, not '%s'", arg);
        a->remote.timeout_ms = (long)(v * 1000);
        return 0;
    case 6:
        if ((n = cli_parse_count(arg)) < 1 || n > 16)
            return cli_usage_error(cmd, "--asr-max-in-flight wants 1..16, not '%s'", arg);
        a->remote.max_in_flight = (int)n;
        return 0;
    default:
        return -1;
    }
}

int cli_asr_check(cli_asr *a, const char *cmd)
{
    bool remote = a->backend && sdra_asr_backend(a->backend) == sdra_asr_backend("whisper-http");
    if (!a->backend && a->remote.n_urls) {
        a->backend = "whisper-http";
        remote = true;
    }
    if (remote && !a->remote.n_urls)
        return cli_usage_error(cmd, "--asr whisper-http needs --asr-url URL (an OpenAI-compatible "
                               "server's base URL, e.g. http://127.0.0.1:8000/v1)");
    if (!remote && a->remote.n_urls)
        return cli_usage_error(cmd, "--asr-url is for --asr whisper-http, not --asr %s", a->backend);
    return 0;
}
