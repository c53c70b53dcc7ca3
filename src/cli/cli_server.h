/*
 * cli_server.h - the options `sdra serve` and `sdra worker` share (the same keys in the config
 * file): where the data, the job store and the blobs are, the port file, the job lease and
 * retries, logging, encryption at rest, redaction, and the analysis (LLM), recognition (ASR)
 * and delivery (outbox) options of cli.h and cli_outbox.h. One table, one parser, one help
 * text, so that an API node and a worker given the same flags agree.
 *
 *     sdra_server_params p = sdra_server_default_params();
 *     cli_server s;
 *     cli_server_init(&s, &p);
 *     static const struct option opts[] = {..., CLI_SERVER_LONGOPTS, {0, 0, 0, 0}};
 *     while ((c = getopt_long(...)) != -1)
 *         switch (c) { ...; default: if ((r = cli_server_option(&s, "serve", c, optarg)) != 0)
 *                                        return r > 0 ? r : cli_usage_error("serve", "bad option"); }
 *     if ((r = cli_server_finish(&s, "serve")) != 0) return r;
 *     ... p is ready for sdra_server_start (s.dir its data directory)
 */
#ifndef SDRA_CLI_SERVER_H
#define SDRA_CLI_SERVER_H

#include <getopt.h>
#include <stdbool.h>

#include "cli.h"
#include "cli_outbox.h"
#include "sdra/server.h"

#define CLI_SERVER_ID 0x5500
#define CLI_SERVER_N 15
#define CLI_SERVER_LONGOPTS                                                                              \
    {"data", required_argument, 0, CLI_SERVER_ID}, {"store", required_argument, 0, CLI_SERVER_ID + 1},   \
        {"blob", required_argument, 0, CLI_SERVER_ID + 2},                                               \
        {"port-file", required_argument, 0, CLI_SERVER_ID + 3},                                          \
        {"lease-ms", required_argument, 0, CLI_SERVER_ID + 4},                                           \
        {"max-attempts", required_argument, 0, CLI_SERVER_ID + 5},                                       \
        {"retry-base-ms", required_argument, 0, CLI_SERVER_ID + 6},                                      \
        {"log-level", required_argument, 0, CLI_SERVER_ID + 7},                                          \
        {"log-format", required_argument, 0, CLI_SERVER_ID + 8},                                         \
        {"master-key-file", required_argument, 0, CLI_SERVER_ID + 9},                                    \
        {"master-key-cmd", required_argument, 0, CLI_SERVER_ID + 10},                                    \
        {"no-encrypt", no_argument, 0, CLI_SERVER_ID + 11},                                              \
        {"redact", required_argument, 0, CLI_SERVER_ID + 12},                                            \
        {"redact-audio", required_argument, 0, CLI_SERVER_ID + 13},                                      \
        {"transcribe-jobs", required_argument, 0, CLI_SERVER_ID + 14}, CLI_LLM_LONGOPTS, CLI_ASR_LONGOPTS, \
        CLI_OUTBOX_LONGOPTS

/* The shared options' help, in three parts: the store and process options, then transcription
 * (redaction and ASR), then analysis and delivery. */
#define CLI_SERVER_HELP                                                                                  \
    "  --data DIR             data directory: the calls' files (default $SDRA_DATA or\n"                \
    "                         ~/.local/share/sdra)\n"                                                   \
    "  --store URL            the job store: sqlite:PATH or postgres://USER:PW@HOST/DB (default\n"      \
    "                         $SDRA_STORE, else DATA/sdra.db); API nodes and 'sdra worker'\n"           \
    "                         processes share one (docs/deploy.md)\n"                                   \
    "  --blob URL             where audio and artifacts live: s3://BUCKET[/PREFIX], file://DIR or\n"    \
    "                         a directory (default: the data directory); S3 settings and\n"             \
    "                         credentials from the environment ('sdra blob --help', docs/deploy.md)\n"  \
    "  --port-file PATH       write the port listened on to PATH once ready\n"                          \
    "  --config FILE          options from FILE first (default $SDRA_CONFIG; docs/config.md)\n"         \
    "  --master-key-file F    encryption at rest: the master key (64 hex digits, mode 0600)\n"          \
    "  --master-key-cmd CMD   ... or a command whose stdout is the key (a KMS hook); else\n"            \
    "                         $SDRA_MASTER_KEY, else DATA/master.key (made once; docs/security.md);\n"  \
    "                         API nodes and workers use the same key\n"                                 \
    "  --no-encrypt           store audio, artifacts and CRM rows in plaintext (all processes)\n"       \
    "  --lease-ms N           job lease (default 30000)\n"                                              \
    "  --max-attempts N       attempts before a job is dead (default 5)\n"                              \
    "  --retry-base-ms N      first retry delay, doubled each time (default 2000)\n"                    \
    "  --log-level LEVEL      debug|info|warn|error (default info)\n"                                   \
    "  --log-format FORMAT    json (default) or text\n"
#define CLI_SERVER_HELP_TRANSCRIBE                                                                       \
    "transcription stage (the same in every worker):\n"                                                 \
    "  --redact CLASSES       redact card,national_id,phone,email,bank,dob (or all) from each\n"        \
    "                         transcript before analysis, email, CRM or a model server sees it\n"       \
    "  --redact-audio MODE    with --redact: replace each stored upload by a WAV in which the\n"        \
    "                         redacted words are silence or a tone (MODE silence|tone)\n"              \
    "  --transcribe-jobs N    decoder threads per transcription, 1..64, or 0 = one per core\n"         \
    "                         (default: 0 for serve; 1 for worker, whose parallelism is\n"             \
    "                         --concurrency and its replicas, or with a model server its\n"            \
    "                         requests in flight: docs/scaling.md)\n" CLI_ASR_HELP
#define CLI_SERVER_HELP_ANALYZE "analysis (the analyze workers):\n" CLI_LLM_HELP CLI_OUTBOX_HELP

typedef struct cli_server {
    sdra_server_params *p;      /* the caller's, filled by the options; p->options = &po when set */
    sdra_pipeline_options po;
    cli_llm_opts lo;
    cli_asr asr;
    cli_outbox ob;
    const char *data;           /* --data, or NULL */
    const char *port_file;      /* --port-file, or NULL */
    int log_level;
    bool json_logs;
    int transcribe_jobs;        /* --transcribe-jobs; 0 = one per core; the caller may change
                                   the default after cli_server_init (worker: -1, one thread
                                   for the embedded recognizer: cli_server_finish) */
    char dir[1024];             /* after cli_server_finish: the data directory */
} cli_server;

/* Each option group's defaults; the options fill p (the caller's, from
 * sdra_server_default_params(), which must outlive the server). */
void cli_server_init(cli_server *s, sdra_server_params *p);
/* Takes option c when it is one of CLI_SERVER_LONGOPTS: 0 taken, -1 not one of them, or the
 * exit status of a usage error (printed, naming cmd). */
int cli_server_option(cli_server *s, const char *cmd, int c, const char *arg);
/* After the options: the checks across options, the pipeline options wired into p, the HTTP
 * client's global state, the data directory (s->dir, p->data_dir) and the log handler. 0, or
 * an exit status after printing why. */
int cli_server_finish(cli_server *s, const char *cmd);

#endif
