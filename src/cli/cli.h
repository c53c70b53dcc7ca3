/*
 * cli.h - what the subcommands of `sdra` share. Each subcommand lives in cmd_<name>.c and is
 * just another user of the library: it parses its options, calls module functions, prints.
 *
 * Exit codes: 0 success, 1 the work failed (bad input, I/O, upstream), 2 usage error.
 */
#ifndef SDRA_CLI_H
#define SDRA_CLI_H

#include <stdbool.h>
#include "sdra/error.h"
#include "sdra/log.h"

#define SDRA_EXIT_OK 0
#define SDRA_EXIT_FAIL 1
#define SDRA_EXIT_USAGE 2

int cmd_transcribe(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_compose(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_crm(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_keys(int argc, char **argv);

/* `sdra eval` subcommands, each in its own file (cmd_eval_<what>.c). */
int cmd_eval_asr(int argc, char **argv);
int cmd_eval_diarization(int argc, char **argv);
int cmd_eval_analysis(int argc, char **argv);

/* Prints "sdra: <err->msg>" on stderr and returns SDRA_EXIT_FAIL. */
int cli_fail(const sdra_error *err);

/* Prints "sdra <cmd>: <msg>" and a hint to --help on stderr; returns SDRA_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A progress reporter that draws a one-line bar on stderr when stderr is a terminal and quiet
 * is false (else reports nothing). Call cli_progress_done() to end the line. */
sdra_progress cli_progress(bool quiet);
void cli_progress_done(void);

/* Parses a non-negative integer option value; returns -1 when it is not one. */
long cli_parse_count(const char *s);

/* ---- speech-recognizer options, shared by transcribe, run and serve (cli_asr.c) ---------- */
#include "sdra/asr.h"
#include <getopt.h>

#define CLI_ASR_OPT 0x400 /* option values CLI_ASR_OPT .. CLI_ASR_OPT + 6 */
#define CLI_ASR_LONGOPTS                                                                        \
    {"asr", required_argument, 0, CLI_ASR_OPT},                                                 \
    {"asr-url", required_argument, 0, CLI_ASR_OPT + 1},                                         \
    {"asr-model", required_argument, 0, CLI_ASR_OPT + 2},                                       \
    {"asr-language", required_argument, 0, CLI_ASR_OPT + 3},                                    \
    {"asr-chunk-s", required_argument, 0, CLI_ASR_OPT + 4},                                     \
    {"asr-timeout-s", required_argument, 0, CLI_ASR_OPT + 5},                                   \
    {"asr-max-in-flight", required_argument, 0, CLI_ASR_OPT + 6}
#define CLI_ASR_HELP                                                                            \
    "  --asr NAME           recognizer: pocketsphinx (embedded, default) or whisper-http\n"    \
    "  --asr-url URL        whisper-http: an OpenAI-compatible base URL ending in /v1\n"       \
    "                       (repeatable: chunks fan out over the endpoints); implies\n"        \
    "                       --asr whisper-http. Key: $SDRA_ASR_API_KEY (docs/models.md)\n"     \
    "  --asr-model NAME     whisper-http model (default whisper-1)\n"                          \
    "  --asr-language L     whisper-http: ISO-639-1 language (default: the server detects)\n"  \
    "  --asr-chunk-s S      chunk target length, 5..30 s (default 20)\n"                        \
    "  --asr-timeout-s S    whisper-http: per-request timeout (default 120)\n"                 \
    "  --asr-max-in-flight N  whisper-http: requests at once per endpoint (default 2)\n"

typedef struct cli_asr {
    const char *backend; /* NULL = the default (pocketsphinx) */
    sdra_asr_remote_params remote;
    double chunk_s;      /* 0 = default */
} cli_asr;

void cli_asr_init(cli_asr *a);
/* Takes option c when it is one of CLI_ASR_LONGOPTS: returns 0 when taken, -1 when c is not
 * one of them, or the exit status of a usage error (printed). */
int cli_asr_option(cli_asr *a, const char *cmd, int c, const char *arg);
/* After the options: whisper-http without --asr-url (and the reverse) is a usage error
 * (printed, its exit status returned); else 0. */
int cli_asr_check(cli_asr *a, const char *cmd);

#endif
