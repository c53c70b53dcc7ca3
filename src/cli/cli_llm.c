/*
 * cli_llm.c - the analysis backend options shared by analyze, run, serve and eval analysis
 * (see cli.h). Values are checked here so that every command says the same thing about them;
 * the library checks them again.
 */
#include "cli.h"

#include <getopt.h>
#include <string.h>

static const char *const names[] = {"--analyzer", "--llm-url", "--llm-model", "--llm-max-chars", "--llm-timeout-s"};

int cli_llm_id(const char *name)
{
    for (int i = 0; i < 5; i++)
        if (name && !strcmp(name, names[i]))
            return CLI_LLM_ID + i;
    return -1;
}

int cli_llm_option(cli_llm_opts *o, const char *cmd, int id, const char *val)
{
    long v;
    switch (id - CLI_LLM_ID) {
    case 0:
        if (strcmp(val, "rules") && strcmp(val, "llm"))
            return cli_usage_error(cmd, "--analyzer is rules or llm, not '%s'", val);
        o->analyzer = val;
        return 0;
    case 1:
        if (strncmp(val, "http://", 7) && strncmp(val, "https://", 8))
            return cli_usage_error(cmd, "--llm-url '%s': expected an http:// or https:// URL ending in /v1", val);
        if (strlen(val) > 1900 || strpbrk(val, " \t\r\n"))
            return cli_usage_error(cmd, "--llm-url: not a usable URL");
        o->url = val;
        return 0;
    case 2:
        if (!*val || strlen(val) > 200)
            return cli_usage_error(cmd, "--llm-model needs a name of 1 to 200 characters");
        o->model = val;
        return 0;
    case 3:
        if ((v = cli_parse_count(val)) < 200 || v > 10000000)
            return cli_usage_error(cmd, "--llm-max-chars wants 200..10000000, not '%s'", val);
        o->max_chars = v;
        return 0;
    case 4:
        if ((v = cli_parse_count(val)) < 1 || v > 3600)
            return cli_usage_error(cmd, "--llm-timeout-s wants 1..3600, not '%s'", val);
        o->timeout_ms = v * 1000;
        return 0;
    default:
        return cli_usage_error(cmd, "unknown option");
    }
}

int cli_llm_finish(const cli_llm_opts *o, const char *cmd)
{
    if (o->analyzer && !strcmp(o->analyzer, "llm") && !o->url)
        return cli_usage_error(cmd, "--analyzer llm needs --llm-url (the server's base URL, ending in /v1)");
    return 0;
}
