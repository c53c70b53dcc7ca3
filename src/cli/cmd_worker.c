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
#include "cli_server.h"

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
            "(docs/deploy.md). Any number of workers, on any machines, may share a store; one\n"
            "not reachable yet is tried again with backoff.\n\n"
            "options:\n"
            "  --stages LIST          comma-separated stages to run: transcribe,analyze,compose,\n"
            "                         sync,report (default: all)\n"
            "  --concurrency N        jobs at once for each listed stage (default 1)\n"
            "  --listen HOST:PORT     serve /healthz, /readyz and /metrics here (default: none)\n"
            "  --drain-seconds N      on SIGTERM, running jobs get N s to finish before they are\n"
            "                         stopped and released to other workers (default 25)\n"
            "shared with 'sdra serve' (give the API nodes' values):\n"
            CLI_SERVER_HELP
            CLI_SERVER_HELP_TRANSCRIBE CLI_SERVER_HELP_ANALYZE
            "  -h, --help             this text\n");
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
    enum { O_STAGES = 1, O_CONC, O_LISTEN, O_DRAIN };
    static const struct option opts[] = {
        {"stages", required_argument, 0, O_STAGES},       {"concurrency", required_argument, 0, O_CONC},
        {"listen", required_argument, 0, O_LISTEN},       {"drain-seconds", required_argument, 0, O_DRAIN},
        {"help", no_argument, 0, 'h'},                    CLI_SERVER_LONGOPTS,
        {0, 0, 0, 0}};
    sdra_server_params params = sdra_server_default_params(), *p = &params;
    cli_server s;
    cli_server_init(&s, p);
    s.transcribe_jobs = -1; /* one decoder thread per job: the worker scales by --concurrency and replicas */
    CLI_CONFIG("worker", opts, argc, argv);
    p->worker_only = true;
    p->listen = NULL;
    int concurrency = 1;
    long drain_s = 25;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        long v;
        int r;
        switch (c) {
        case O_STAGES:
            if ((r = parse_stages(optarg, &p->stage_mask)) != 0)
                return r;
            break;
        case O_CONC:
            if ((v = cli_parse_count(optarg)) < 1 || v > SDRA_SERVER_MAX_WORKERS)
                return cli_usage_error("worker", "--concurrency wants 1..%d, got '%s'", SDRA_SERVER_MAX_WORKERS, optarg);
            concurrency = (int)v;
            break;
        case O_LISTEN: p->listen = optarg; break;
        case O_DRAIN:
            if ((drain_s = cli_parse_count(optarg)) < 0 || drain_s > 3600)
                return cli_usage_error("worker", "--drain-seconds wants 0..3600, got '%s'", optarg);
            break;
        case 'h': usage(stdout); return SDRA_EXIT_OK;
        default:
            if ((r = cli_server_option(&s, "worker", c, optarg)) > 0)
                return r;
            if (r < 0)
                return cli_usage_error("worker", "bad option");
            break;
        }
    }
    if (optind < argc)
        return cli_usage_error("worker", "unexpected argument '%s'", argv[optind]);
    if (s.port_file && !p->listen)
        return cli_usage_error("worker", "--port-file needs --listen");
    if ((c = cli_server_finish(&s, "worker")) != 0)
        return c;
    for (int i = 0; i < SDRA_SERVER_MAX_STAGES; i++)
        p->concurrency[i] = concurrency;
    const char *port_file = s.port_file;
    sdra_error err = {0};

    /* Signals are taken synchronously by this thread; every other thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = wait_for_store(p->store_url, s.dir, &set);
    if (rc == 1)
        return SDRA_EXIT_OK;
    if (rc != 0)
        return rc;
    sdra_server *srv = NULL;
    if (sdra_server_start(&srv, p, &err) < 0)
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
