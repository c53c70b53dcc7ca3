/*
 * cmd_worker.c - `sdra worker`: runs the stage work of calls that API nodes (`sdra serve
 * --no-workers`) received, on any machine that reaches the same job store. It is the server
 * library with worker_only set (sdra/server.h): the same worker pools as `sdra serve`, no API;
 * --listen serves /healthz, /readyz and /metrics for probes and scrapers.
 *
 * A store that cannot be reached when the worker starts (a database still starting, a network
 * partition, a wrong password being fixed) is tried again with exponential backoff, one log
 * line per try, until it answers or a signal ends the wait: nothing is claimed meanwhile, so
 * no job is lost. A malformed or unknown store location is refused at once (exit 2).
 *
 * SIGTERM (or SIGINT): no new claims, the running jobs get --drain-seconds to finish, the
 * rest are stopped and their leases released (queued again for another worker), exit 0.
 */
#include "cli.h"
#include "cli_outbox.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sdra/crm.h"
#include "sdra/httpc.h"
#include "sdra/privacy.h"
#include "sdra/server.h"
#include "sdra/util.h"

#define STORE_RETRY_MAX_S 30 /* the longest wait between two tries of an unreachable store */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sdra worker [--store URL] [--data DIR] [--stages LIST] [--concurrency N] [options]\n\n"
            "Runs the pipeline's stages on calls that API nodes ('sdra serve --no-workers')\n"
            "received: claims jobs from the shared job store, runs them, records the results\n"
            "(docs/deploy.md). Any number of workers, on any machines, may share a store.\n\n"
            "options:\n"
            "  --store URL            the job store: sqlite:PATH or postgres://USER:PW@HOST/DB\n"
            "                         (default: DATA/sdra.db); retried with backoff while unreachable\n"
            "  --data DIR             the calls' files (default $SDRA_DATA or ~/.local/share/sdra)\n"
            "  --blob URL             where audio and artifacts live: s3://BUCKET[/PREFIX], file://DIR or\n"
            "                         a directory (default: the data directory; as on 'sdra serve')\n"
            "  --stages LIST          comma-separated stages to run: transcribe,analyze,compose,\n"
            "                         sync,report (default: all)\n"
            "  --concurrency N        jobs at once for each listed stage (default 1)\n"
            "  --listen HOST:PORT     serve /healthz, /readyz and /metrics here (default: none)\n"
            "  --port-file PATH       write the port listened on to PATH once ready\n"
            "  --drain-seconds N      on SIGTERM, running jobs get N s to finish before they are\n"
            "                         stopped and released to other workers (default 25)\n"
            "  --config FILE          options from FILE first (default $SDRA_CONFIG; docs/config.md)\n"
            "  --master-key-file F    encryption at rest: the master key (the API nodes' own)\n"
            "  --master-key-cmd CMD   ... or a command printing it; else $SDRA_MASTER_KEY, else DATA/master.key\n"
            "  --no-encrypt           the API nodes store plaintext (they must agree)\n"
            "  --lease-ms N           job lease (default 30000)\n"
            "  --max-attempts N       attempts before a job is dead (default 5)\n"
            "  --retry-base-ms N      first retry delay, doubled each time (default 2000)\n"
            "  --log-level LEVEL      debug|info|warn|error (default info)\n"
            "  --log-format FORMAT    json (default) or text\n"
            "transcription stage:\n"
            "  --redact CLASSES       redact card,national_id,phone,email,bank,dob (or all) from each\n"
            "                         transcript before any later stage sees it\n"
            "  --redact-audio MODE    with --redact: silence|tone over the redacted words in the stored audio\n"
            CLI_ASR_HELP
            "analysis:\n" CLI_LLM_HELP CLI_OUTBOX_HELP
            "  -h, --help             this text\n");
}

/* Refuses a location that no backend takes ("mysql://..."), naming only its scheme (the rest
 * may hold a password). 0 when it may be opened. */
static int store_url_check(const char *url)
{
    const char *sep = strstr(url, "://");
    if (!*url)
        return cli_usage_error("worker", "--store: empty location");
    if (!sep || !strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13) || !strncmp(url, "sqlite:", 7))
        return 0;
    return cli_usage_error("worker", "--store: unknown scheme '%.*s' (sqlite:PATH or postgres://...)",
                           (int)(sep - url > 20 ? 20 : sep - url), url);
}

/* Parses --stages into mask (bit i = stage i). 0, or the exit status of a usage error. */
static int parse_stages(const char *list, uint32_t *mask)
{
    char buf[256];
    if (sdra_strlcpy(buf, list, sizeof buf) >= sizeof buf)
        return cli_usage_error("worker", "--stages: list too long");
    *mask = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int id = sdra_pipeline_stage_id(t);
        if (id < 0 || id >= 32)
            return cli_usage_error("worker", "--stages: unknown stage '%.40s' (transcribe, analyze, compose, sync, "
                                   "report)", t);
        *mask |= UINT32_C(1) << id;
    }
    if (!*mask)
        return cli_usage_error("worker", "--stages: no stage named");
    return 0;
}

/* Waits until the store answers (opened and closed again), trying again with backoff while it
 * does not. 0 when it answers, 1 when a signal of set ended the wait, else an exit status. */
static int wait_for_store(const char *url, const char *data_dir, const sigset_t *set)
{
    int delay_s = 1;
    for (;;) {
        sdra_store *st = NULL;
        sdra_error err = {0};
        int rc = url ? sdra_store_open(&st, url, &err) : sdra_server_store_open(&st, data_dir, &err);
        sdra_store_close(st);
        if (rc == 0)
            return 0;
        if (rc == SDRA_EINVAL || rc == SDRA_EUNSUPPORTED) /* a retry cannot mend these */
            return cli_fail(&err);
        sdra_log(SDRA_LOG_WARN, "job store not available, retrying in %d s: %s", delay_s, err.msg);
        struct timespec ts = {delay_s, 0};
        int sig = sigtimedwait(set, NULL, &ts);
        if (sig > 0) {
            sdra_log(SDRA_LOG_INFO, "signal %d: stopping", sig);
            return 1;
        }
        delay_s = delay_s * 2 > STORE_RETRY_MAX_S ? STORE_RETRY_MAX_S : delay_s * 2;
    }
}

int cmd_worker(int argc, char **argv)
{
    enum { O_STORE = 1, O_DATA, O_STAGES, O_CONC, O_LISTEN, O_PORTFILE, O_DRAIN, O_LEASE, O_ATTEMPTS, O_RETRY,
           O_LOGLEVEL, O_LOGFMT, O_MKFILE, O_MKCMD, O_NOENC, O_REDACT, O_REDACT_AUDIO, O_BLOB };
    static const struct option opts[] = {
        {"store", required_argument, 0, O_STORE},           {"data", required_argument, 0, O_DATA},
        {"stages", required_argument, 0, O_STAGES},         {"concurrency", required_argument, 0, O_CONC},
        {"listen", required_argument, 0, O_LISTEN},         {"port-file", required_argument, 0, O_PORTFILE},
        {"drain-seconds", required_argument, 0, O_DRAIN},   {"lease-ms", required_argument, 0, O_LEASE},
        {"max-attempts", required_argument, 0, O_ATTEMPTS}, {"retry-base-ms", required_argument, 0, O_RETRY},
        {"log-level", required_argument, 0, O_LOGLEVEL},    {"log-format", required_argument, 0, O_LOGFMT},
        {"master-key-file", required_argument, 0, O_MKFILE}, {"master-key-cmd", required_argument, 0, O_MKCMD},
        {"no-encrypt", no_argument, 0, O_NOENC},            {"redact", required_argument, 0, O_REDACT},
        {"redact-audio", required_argument, 0, O_REDACT_AUDIO},
        {"blob", required_argument, 0, O_BLOB},
        {"help", no_argument, 0, 'h'},
        CLI_LLM_LONGOPTS,                                   CLI_ASR_LONGOPTS,
        CLI_OUTBOX_LONGOPTS,
        {0, 0, 0, 0}};
    sdra_server_params p = sdra_server_default_params();
    sdra_pipeline_options po = {.rep_channel = -1};
    cli_llm_opts lo = {0};
    const char *data = NULL, *port_file = NULL;
    CLI_CONFIG("worker", opts, argc, argv);
    p.worker_only = true;
    p.listen = NULL;
    int level = SDRA_LOG_INFO, concurrency = 1;
    long drain_s = 25;
    bool json_logs = true;
    cli_asr asr;
    cli_asr_init(&asr);
    cli_outbox ob;
    cli_outbox_init(&ob);
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        long v;
        int r;
        switch (c) {
        case O_STORE:
            if ((r = store_url_check(optarg)) != 0)
                return r;
            p.store_url = optarg;
            break;
        case O_BLOB:
            p.blob_url = optarg;
            break;
        case O_DATA: data = optarg; break;
        case O_STAGES:
            if ((r = parse_stages(optarg, &p.stage_mask)) != 0)
                return r;
            break;
        case O_CONC:
            if ((v = cli_parse_count(optarg)) < 1 || v > SDRA_SERVER_MAX_WORKERS)
                return cli_usage_error("worker", "--concurrency wants 1..%d, got '%s'", SDRA_SERVER_MAX_WORKERS, optarg);
            concurrency = (int)v;
            break;
        case O_LISTEN: p.listen = optarg; break;
        case O_PORTFILE: port_file = optarg; break;
        case O_DRAIN:
            if ((drain_s = cli_parse_count(optarg)) < 0 || drain_s > 3600)
                return cli_usage_error("worker", "--drain-seconds wants 0..3600, got '%s'", optarg);
            break;
        case O_LEASE:
            if ((v = cli_parse_count(optarg)) < 100)
                return cli_usage_error("worker", "--lease-ms wants at least 100, got '%s'", optarg);
            p.lease_ms = v;
            break;
        case O_ATTEMPTS:
            if ((v = cli_parse_count(optarg)) < 1 || v > 100)
                return cli_usage_error("worker", "--max-attempts wants 1..100, got '%s'", optarg);
            p.max_attempts = (int)v;
            break;
        case O_RETRY:
            if ((v = cli_parse_count(optarg)) < 0)
                return cli_usage_error("worker", "--retry-base-ms wants a count, got '%s'", optarg);
            p.retry_base_ms = v;
            break;
        case O_LOGLEVEL:
            if ((level = sdra_log_level_parse(optarg)) < 0)
                return cli_usage_error("worker", "--log-level: debug|info|warn|error, got '%s'", optarg);
            break;
        case O_LOGFMT:
            if (strcmp(optarg, "json") && strcmp(optarg, "text"))
                return cli_usage_error("worker", "--log-format: json|text, got '%s'", optarg);
            json_logs = !strcmp(optarg, "json");
            break;
        case O_MKFILE: p.master_key_file = optarg; break;
        case O_MKCMD: p.master_key_cmd = optarg; break;
        case O_NOENC: p.no_encrypt = true; break;
        case O_REDACT: {
            sdra_error rerr = {0};
            if (sdra_redact_classes_parse(optarg, &po.redact_classes, &rerr) < 0)
                return cli_usage_error("worker", "--redact: %s", rerr.msg);
            p.options = &po;
            break;
        }
        case O_REDACT_AUDIO:
            if (strcmp(optarg, "silence") && strcmp(optarg, "tone"))
                return cli_usage_error("worker", "--redact-audio wants silence or tone, got '%s'", optarg);
            p.redact_audio = !strcmp(optarg, "tone") ? 2 : 1;
            break;
        case 'h': usage(stdout); return SDRA_EXIT_OK;
        case CLI_LLM_ID: case CLI_LLM_ID + 1: case CLI_LLM_ID + 2: case CLI_LLM_ID + 3: case CLI_LLM_ID + 4:
            if (cli_llm_option(&lo, "worker", c, optarg))
                return SDRA_EXIT_USAGE;
            break;
        default:
            if ((r = cli_outbox_option(&ob, "worker", c, optarg)) != 1) {
                if (r)
                    return r;
                break;
            }
            if ((r = cli_asr_option(&asr, "worker", c, optarg)) > 0)
                return r;
            if (r < 0)
                return cli_usage_error("worker", "bad option");
            break;
        }
    }
    if (optind < argc)
        return cli_usage_error("worker", "unexpected argument '%s'", argv[optind]);
    if ((c = cli_asr_check(&asr, "worker")) != 0)
        return c;
    if (asr.backend || asr.chunk_s > 0) {
        po.asr_backend = asr.backend;
        po.asr_remote = &asr.remote;
        po.asr_chunk_s = asr.chunk_s;
        p.options = &po;
    }
    if (p.redact_audio && !po.redact_classes)
        return cli_usage_error("worker", "--redact-audio needs --redact CLASSES (it covers what that finds)");
    if (p.no_encrypt && (p.master_key_file || p.master_key_cmd))
        return cli_usage_error("worker", "--no-encrypt and a master key contradict each other");
    if (port_file && !p.listen)
        return cli_usage_error("worker", "--port-file needs --listen");
    if (cli_llm_finish(&lo, "worker") || cli_outbox_finish(&ob, "worker"))
        return SDRA_EXIT_USAGE;
    p.outbox = &ob.p;
    if (lo.analyzer) {
        po.analyzer = lo.analyzer;
        po.llm_url = lo.url;
        po.llm_model = lo.model;
        po.llm_max_chars = (size_t)lo.max_chars;
        po.llm_timeout_ms = lo.timeout_ms;
        p.options = &po;
    }
    for (int i = 0; i < SDRA_SERVER_MAX_STAGES; i++)
        p.concurrency[i] = concurrency;

    char dir[1024];
    sdra_error err = {0};
    if (sdra_httpc_global_init(&err) < 0)
        return cli_fail(&err);
    if (sdra_crm_default_data_dir(dir, sizeof dir, data) < 0)
        return cli_usage_error("worker", "no data directory: give --data DIR");
    sdra_log_set_handler(json_logs ? sdra_log_stderr_json : sdra_log_stderr_text, NULL, (sdra_log_level)level);
    p.data_dir = dir;

    /* Signals are taken synchronously by this thread; every other thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = wait_for_store(p.store_url, dir, &set);
    if (rc == 1)
        return SDRA_EXIT_OK;
    if (rc != 0)
        return rc;
    sdra_server *srv = NULL;
    if (sdra_server_start(&srv, &p, &err) < 0)
        return cli_fail(&err);
    if (port_file) {
        char buf[16];
        int n = snprintf(buf, sizeof buf, "%d\n", sdra_server_port(srv));
        if (sdra_file_write_atomic(port_file, buf, (size_t)n, &err) < 0) {
            sdra_server_stop(srv);
            return cli_fail(&err);
        }
    }
    int sig = 0;
    sigwait(&set, &sig);
    sdra_log(SDRA_LOG_INFO, "signal %d: no new jobs; running ones get %ld s to finish", sig, drain_s);
    int left = sdra_server_drain(srv, (int)(drain_s * 1000));
    if (left > 0)
        sdra_log(SDRA_LOG_WARN, "%d job(s) still running at the deadline: leases released, stopping them", left);
    sdra_server_stop(srv);
    sdra_log(SDRA_LOG_INFO, "worker stopped");
    return SDRA_EXIT_OK;
}
