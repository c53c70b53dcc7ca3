/*
 * cli_server.c - parsing of the options `sdra serve` and `sdra worker` share (cli_server.h),
 * and the store location check `sdra keys --store` uses as well.
 */
#include "cli.h"
#include "cli_server.h"

#include <stdio.h>
#include <string.h>

#include "sdra/asr.h"
#include "sdra/crm.h"
#include "sdra/httpc.h"
#include "sdra/privacy.h"
#include "sdra/util.h"

int cli_store_url_check(const char *cmd, const char *url)
{
    const char *sep = strstr(url, "://");
    if (!*url)
        return cli_usage_error(cmd, "--store: empty location");
    if (!sep || !strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13) || !strncmp(url, "sqlite:", 7))
        return 0;
    /* only the scheme is named: the rest may hold a password */
    return cli_usage_error(cmd, "--store: unknown scheme '%.*s' (sqlite:PATH or postgres://...)",
                           (int)(sep - url > 20 ? 20 : sep - url), url);
}

void cli_server_init(cli_server *s, sdra_server_params *p)
{
    memset(s, 0, sizeof *s);
    s->p = p;
    s->po.rep_channel = -1;
    cli_asr_init(&s->asr);
    cli_outbox_init(&s->ob);
    s->log_level = SDRA_LOG_INFO;
    s->json_logs = true;
}

int cli_server_option(cli_server *s, const char *cmd, int c, const char *arg)
{
    if (c >= CLI_LLM_ID && c <= CLI_LLM_ID + 4)
        return cli_llm_option(&s->lo, cmd, c, arg) ? SDRA_EXIT_USAGE : 0;
    int r = cli_outbox_option(&s->ob, cmd, c, arg);
    if (r != 1)
        return r;
    if (c < CLI_SERVER_ID || c >= CLI_SERVER_ID + CLI_SERVER_N)
        return cli_asr_option(&s->asr, cmd, c, arg);
    long v;
    sdra_error err = {0};
    switch (c - CLI_SERVER_ID) {
    case 0: s->data = arg; return 0;
    case 1:
        if ((r = cli_store_url_check(cmd, arg)) != 0)
            return r;
        s->p->store_url = arg;
        return 0;
    case 2: s->p->blob_url = arg; return 0;
    case 3: s->port_file = arg; return 0;
    case 4:
        if ((v = cli_parse_count(arg)) < 100)
            return cli_usage_error(cmd, "--lease-ms wants at least 100, got '%s'", arg);
        s->p->lease_ms = v;
        return 0;
    case 5:
        if ((v = cli_parse_count(arg)) < 1 || v > 100)
            return cli_usage_error(cmd, "--max-attempts wants 1..100, got '%s'", arg);
        s->p->max_attempts = (int)v;
        return 0;
    case 6:
        if ((v = cli_parse_count(arg)) < 0)
            return cli_usage_error(cmd, "--retry-base-ms wants a count, got '%s'", arg);
        s->p->retry_base_ms = v;
        return 0;
    case 7:
        if ((s->log_level = sdra_log_level_parse(arg)) < 0)
            return cli_usage_error(cmd, "--log-level: debug|info|warn|error, got '%s'", arg);
        return 0;
    case 8:
        if (strcmp(arg, "json") && strcmp(arg, "text"))
            return cli_usage_error(cmd, "--log-format: json|text, got '%s'", arg);
        s->json_logs = !strcmp(arg, "json");
        return 0;
    case 9: s->p->master_key_file = arg; return 0;
    case 10: s->p->master_key_cmd = arg; return 0;
    case 11: s->p->no_encrypt = true; return 0;
    case 12:
        if (sdra_redact_classes_parse(arg, &s->po.redact_classes, &err) < 0)
            return cli_usage_error(cmd, "--redact: %s", err.msg);
        return 0;
    case 14:
        if ((v = cli_parse_count(arg)) < 0 || v > 64)
            return cli_usage_error(cmd, "--transcribe-jobs wants 0..64 (0 = one per core), got '%s'", arg);
        s->transcribe_jobs = (int)v;
        return 0;
    case 13:
        if (strcmp(arg, "silence") && strcmp(arg, "tone"))
            return cli_usage_error(cmd, "--redact-audio wants silence or tone, got '%s'", arg);
        s->p->redact_audio = !strcmp(arg, "tone") ? 2 : 1;
        return 0;
    default: return -1;
    }
}

int cli_server_finish(cli_server *s, const char *cmd)
{
    int r = cli_asr_check(&s->asr, cmd);
    if (r != 0)
        return r;
    sdra_server_params *p = s->p;
    sdra_pipeline_options *po = &s->po;
    if (s->asr.backend || s->asr.chunk_s > 0) { /* the transcribe workers recognize with these */
        po->asr_backend = s->asr.backend;
        po->asr_remote = &s->asr.remote;
        po->asr_chunk_s = s->asr.chunk_s;
        p->options = po;
    }
    if (po->redact_classes) /* the transcribe workers redact before any later stage sees it */
        p->options = po;
    /* decoder threads per transcription (0: one per core); the worker's default (-1) is one
     * thread for the embedded recognizer and, for a model server, its own count of requests
     * in flight (those are not this machine's cores) */
    int tj = s->transcribe_jobs;
    if (tj < 0)
        tj = s->asr.backend && sdra_asr_backend(s->asr.backend) == sdra_asr_backend("whisper-http") ? 0 : 1;
    if (tj > 0) {
        po->jobs = tj;
        p->options = po;
    }
    if (p->redact_audio && !po->redact_classes)
        return cli_usage_error(cmd, "--redact-audio needs --redact CLASSES (it covers what that finds)");
    if (p->no_encrypt && (p->master_key_file || p->master_key_cmd))
        return cli_usage_error(cmd, "--no-encrypt and a master key contradict each other");
    if (cli_llm_finish(&s->lo, cmd) || cli_outbox_finish(&s->ob, cmd))
        return SDRA_EXIT_USAGE;
    p->outbox = &s->ob.p; /* webhooks, and the CRM and mail the flags name, through the outbox */
    if (s->lo.analyzer) { /* the analyze workers use it; without, stages get their defaults */
        po->analyzer = s->lo.analyzer;
        po->llm_url = s->lo.url;
        po->llm_model = s->lo.model;
        po->llm_max_chars = (size_t)s->lo.max_chars;
        po->llm_timeout_ms = s->lo.timeout_ms;
        p->options = po;
    }
    sdra_error err = {0};
    if (sdra_httpc_global_init(&err) < 0) /* once, before the worker and outbox threads */
        return cli_fail(&err);
    if (sdra_crm_default_data_dir(s->dir, sizeof s->dir, s->data) < 0)
        return cli_usage_error(cmd, "no data directory: give --data DIR");
    sdra_log_set_handler(s->json_logs ? sdra_log_stderr_json : sdra_log_stderr_text, NULL,
                         (sdra_log_level)s->log_level);
    p->data_dir = s->dir;
    return 0;
}
