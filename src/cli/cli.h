/*
 * cli.h - what the subcommands of `sdra` share. Each subcommand lives in cmd_<name>.c and is
 * just another user of the library: it parses its options, calls module functions, prints.
 *
 * Exit codes: 0 success, 1 the work failed (bad input, I/O, upstream), 2 usage error.
 */
#ifndef SDRA_CLI_H
#define SDRA_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
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
int cmd_decrypt(int argc, char **argv);            /* cmd_crypt.c */
int cmd_encrypt(int argc, char **argv);            /* cmd_crypt.c */
int cmd_keys_rotate_master(int argc, char **argv); /* cmd_crypt.c: `sdra keys rotate-master` */
struct sdra_crypt_key;
int cli_master_load(struct sdra_crypt_key **out, const char *file, const char *cmd, const char *env_var,
                    const char *data_dir, sdra_error *err);
int cmd_audit(int argc, char **argv);
int cmd_orgs(int argc, char **argv);
int cmd_live_send(int argc, char **argv); /* cmd_live_send.c: a live-stream client (docs/live.md) */

/* cmd_keys.c: appends the audit entry of a change made with the CLI (actor "cli:USER", ip
 * "local", organisation org, target and detail); SDRA_EIO when it cannot be written. */
struct sdra_store;
int cli_audit(struct sdra_store *st, const char *org, const char *action, const char *target, const char *detail,
              sdra_error *err);
int cmd_redact(int argc, char **argv);
int cmd_privacy(int argc, char **argv);
int cmd_mail(int argc, char **argv);
int cmd_connectors(int argc, char **argv);
int cmd_outbox(int argc, char **argv);  /* cmd_outbox.c: the outbox of a data directory */
int cmd_worker(int argc, char **argv);  /* cmd_worker.c: stage work on a shared job store */
int cmd_blob(int argc, char **argv);    /* cmd_blob.c: the object store of audio and artifacts */

/* `sdra eval` subcommands, each in its own file (cmd_eval_<what>.c). */
int cmd_eval_asr(int argc, char **argv);
int cmd_eval_diarization(int argc, char **argv);
int cmd_eval_analysis(int argc, char **argv);

/* Config files (config.c, docs/config.md). A subcommand whose long options may come from a
 * file calls CLI_CONFIG(name, opts, argc, argv) before it parses, with its option table:
 * with --config FILE (or $SDRA_CONFIG) it replaces argc/argv by the file's options followed by
 * the command line without --config; on a bad file it prints one line and returns 2 from the
 * subcommand. (config.c also calls each subcommand once in a probe mode to learn its table; the
 * macro then returns 0 at once, so it must come before anything the command does.) */
#define CLI_CONFIG_GO (-1)
int cli_config_apply(const char *cmd, const struct option *opts, int *argc, char ***argv);
/* The parser of cli_config_apply on bytes (the fuzz target's way in): the words a config file
 * (data, len; name in messages) gives command cmd, whose table is opts: "--key" and its value,
 * "--key=value" (optional value) or "--key" (a switch that is on). On success *words is one
 * allocation (the NULL-terminated words and the text they point into; free() it) holding *n
 * words. On a bad file: SDRA_EXIT_USAGE, err->msg one line naming name:line, *words NULL. */
int cli_config_parse(const char *cmd, const struct option *opts, const char *name, const char *data,
                     size_t len, char ***words, int *n, sdra_error *err);
/* The option table of configurable command cmd, learnt by probing; NULL for another name. */
const struct option *cli_config_table(const char *cmd);
#define CLI_CONFIG(cmd, opts, argc, argv)                                                          \
    do {                                                                                           \
        int cli_config_rc_ = cli_config_apply((cmd), (opts), &(argc), &(argv));                    \
        if (cli_config_rc_ != CLI_CONFIG_GO)                                                       \
            return cli_config_rc_;                                                                 \
    } while (0)

/* Prints "sdra: <err->msg>" on stderr and returns SDRA_EXIT_FAIL. */
int cli_fail(const sdra_error *err);

/* Prints "sdra <cmd>: <msg>" and a hint to --help on stderr; returns SDRA_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A progress reporter that draws a one-line bar on stderr when stderr is a terminal and quiet
 * is false (else reports nothing). Call cli_progress_done() to end the line. */
sdra_progress cli_progress(bool quiet);
void cli_progress_done(void);

/* The audit actor of a change made with the CLI: "cli:<user name>" (or "cli:uid<N>"). */
void cli_audit_actor(char *out, size_t n);

/* Parses a non-negative integer option value; returns -1 when it is not one. */
long cli_parse_count(const char *s);

/* The analysis backend options that analyze, run, serve and eval analysis share (cli_llm.c):
 * --analyzer rules|llm, --llm-url URL, --llm-model NAME, --llm-max-chars N, --llm-timeout-s N.
 * The API key is read from SDRA_LLM_API_KEY by the backend, never from an option. getopt_long
 * users put CLI_LLM_LONGOPTS in their table (ids CLI_LLM_ID..+4); others call cli_llm_id(). */
typedef struct cli_llm_opts {
    const char *analyzer, *url, *model;
    long max_chars, timeout_ms;
} cli_llm_opts;
#define CLI_LLM_ID 0x4c00
#define CLI_LLM_LONGOPTS                                                                                 \
    {"analyzer", required_argument, 0, CLI_LLM_ID}, {"llm-url", required_argument, 0, CLI_LLM_ID + 1},  \
        {"llm-model", required_argument, 0, CLI_LLM_ID + 2},                                            \
        {"llm-max-chars", required_argument, 0, CLI_LLM_ID + 3},                                        \
        {"llm-timeout-s", required_argument, 0, CLI_LLM_ID + 4}
#define CLI_LLM_HELP                                                                                     \
    "  --analyzer A        analysis backend: rules (default) or llm (docs/models.md)\n"             \
    "  --llm-url URL       OpenAI-compatible server base, e.g. http://127.0.0.1:8000/v1\n"              \
    "  --llm-model NAME    model name sent to the server (default gpt-4o-mini)\n"                       \
    "  --llm-max-chars N   transcript characters per request; longer calls are split (default 24000)\n" \
    "  --llm-timeout-s N   per request attempt (default 120); the key comes from SDRA_LLM_API_KEY\n"
/* The id for an option name ("--llm-url"), or -1. */
int cli_llm_id(const char *name);
/* Stores one option value; returns 0, or SDRA_EXIT_USAGE after printing why. */
int cli_llm_option(cli_llm_opts *o, const char *cmd, int id, const char *val);
/* After parsing: --analyzer llm needs --llm-url. Returns 0 or SDRA_EXIT_USAGE. */
int cli_llm_finish(const cli_llm_opts *o, const char *cmd);

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

/* ---- transcription options, shared by transcribe and run (cli_transcribe.c) -------------- */
#include "sdra/transcribe.h"

#define CLI_TR_OPT 0x500 /* option values CLI_TR_OPT .. CLI_TR_OPT + 8 */
#define CLI_TR_HINTS_MAX 400
#define CLI_TR_LONGOPTS                                                                         \
    {"speakers", required_argument, 0, CLI_TR_OPT},                                             \
    {"jobs", required_argument, 0, CLI_TR_OPT + 1},                                             \
    {"rep-channel", required_argument, 0, CLI_TR_OPT + 2},                                      \
    {"vocab", required_argument, 0, CLI_TR_OPT + 3},                                            \
    {"hints", required_argument, 0, CLI_TR_OPT + 4},                                            \
    {"no-domain-lm", no_argument, 0, CLI_TR_OPT + 5},                                           \
    {"domain-weight", required_argument, 0, CLI_TR_OPT + 6},                                    \
    {"acoustic-model", required_argument, 0, CLI_TR_OPT + 7},                                   \
    {"adapt", required_argument, 0, CLI_TR_OPT + 8}
#define CLI_TR_HELP                                                                             \
    "  --speakers N|auto     speakers in a mono recording: auto (default) estimates 1..6;\n"    \
    "                        N fixes the count (0 is auto)\n"                                   \
    "  --jobs N              decoding threads (default: number of cores); each holds its\n"     \
    "                        own copy of the model, about 90 MB (loaded only when the\n"        \
    "                        recording is long enough to keep it busy)\n"                       \
    "  --rep-channel left|right  stereo: which channel is the rep (default: by content)\n"      \
    "  --vocab FILE          extra words with pronunciations (docs/vocabulary.md)\n"            \
    "  --hints TEXT          names and terms expected in the call: the contact, the\n"          \
    "                        prospect's company, products (\"Jordan Lee, Northwind\"); made\n"  \
    "                        a little more likely (docs/vocabulary.md#hints); the call\n"       \
    "                        sheet's names count as hints too\n"                                \
    "  --no-domain-lm        generic English model only (no sales-language adaptation)\n"       \
    "  --domain-weight W     weight of the sales-language model, 0..0.9 (default 0.15,\n"       \
    "                        merged with the generic model at build time; another weight\n"     \
    "                        is mixed at run time, about 11 %% slower; 0 = --no-domain-lm)\n"    \
    "  --acoustic-model M    auto|wideband|narrowband (default auto: the telephone-band\n"     \
    "                        model for audio sampled at 8 kHz or less, or with nothing\n"  \
    "                        above 4 kHz at any rate: telephone audio, docs/asr.md)\n"     \
    "  --adapt auto|on|off   adapt the acoustic model to the recording's own speech\n"     \
    "                        (to each speaker of a mono call) before decoding it\n"      \
    "                        (default auto: with the telephone-band model; a fifth to\n" \
    "                        two fifths fewer word errors on real phone audio, for one\n" \
    "                        or two more reads of the file; docs/asr.md)\n"

/* Takes option c when it is one of CLI_TR_LONGOPTS, into p: returns 0 when taken, -1 when c
 * is not one of them, or the exit status of a usage error (printed). */
int cli_transcribe_option(sdra_transcribe_params *p, const char *cmd, int c, const char *arg);

/* ---- the options `sdra serve` and `sdra worker` share: cli_server.h (cli_server.c) ---------- */
/* A job store location (--store): 0 when a backend may take it (sqlite:PATH, postgres://...,
 * a path), else the exit status of a usage error naming only its scheme (printed). */
int cli_store_url_check(const char *cmd, const char *url);

#endif
