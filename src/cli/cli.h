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
int cmd_redact(int argc, char **argv);

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

#endif
