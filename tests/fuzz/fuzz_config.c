/*
 * fuzz_config - the config file parser of the CLI (src/cli/config.c, docs/config.md) on
 * arbitrary bytes, for a command chosen by the first byte, against the commands' real option
 * tables. A bad file must fail with one line naming the file; a good one must give words that
 * the command's own getopt_long accepts whole: every word an option of that command, every
 * option that takes a value followed by one, nothing left over.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"

#define NAME "fuzz.conf"

static const char *const commands[] = {"run", "transcribe", "analyze", "compose", "serve"};

static void check_words(const char *cmd, char **words, int n)
{
    const struct option *opts = cli_config_table(cmd);
    if (!opts)
        __builtin_trap();
    char **argv = calloc((size_t)n + 2, sizeof *argv);
    if (!argv)
        return;
    argv[0] = (char *)cmd;
    memcpy(argv + 1, words, (size_t)n * sizeof *argv);
    optind = 0; /* GNU: start afresh */
    opterr = 0;
    int ch;
    while ((ch = getopt_long(n + 1, argv, "+", opts, NULL)) != -1)
        if (ch == '?' || ch == ':')
            __builtin_trap(); /* a word the command would refuse */
    if (optind != n + 1)
        __builtin_trap(); /* a word that is not an option */
    free(argv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *cmd = commands[data[0] % (sizeof commands / sizeof commands[0])];
    const struct option *opts = cli_config_table(cmd);
    char **words = NULL;
    int n = -1;
    sdra_error err = {0};
    int rc = cli_config_parse(cmd, opts, NAME, (const char *)data + 1, size - 1, &words, &n, &err);
    if (rc == 0) {
        if (!words || n < 0 || n > 512 || words[n])
            __builtin_trap();
        check_words(cmd, words, n);
        free(words);
    } else if (rc != SDRA_EXIT_USAGE || words || strncmp(err.msg, NAME, strlen(NAME)) ||
               strchr(err.msg, '\n')) {
        __builtin_trap(); /* every error is one line naming the file */
    }
    return 0;
}
