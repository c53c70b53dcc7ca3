/*
 * cmd_serve.c - `sdra serve`: runs the HTTP API and the stage workers on a data directory until
 * SIGINT/SIGTERM, logging JSON lines (one object per line) on stderr. With --port-file the
 * port actually bound (useful with port 0) is written to a file once the server listens.
 */
#include "cli.h"
#include "cli_server.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdra/crm.h"
#include "sdra/httpc.h"
#include "sdra/live.h"
#include "sdra/privacy.h"
#include "sdra/server.h"
#include "sdra/util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sdra serve [--listen HOST:PORT] [--data DIR] [options]\n\n"
            "Serves the HTTP API (see docs/service.md, GET /v1/openapi.json) and runs the\n"
            "pipeline's stages on uploaded calls. API keys: 'sdra keys create'.\n\n"
            "options:\n"
            "  --listen HOST:PORT     address to listen on (default 127.0.0.1:8080; port 0 = any free)\n"
            "  --concurrency STAGE=N  workers for a stage (repeatable; default 1 each)\n"
            "  --no-workers           serve the API only; run no stages in this process\n"
            "  --max-active N         calls queued or running before uploads get 503 (default 64)\n"
            "  --max-upload-mb N      largest upload in MiB (default 256)\n"
            "  --timeout-s N          idle connection timeout in seconds (default 30)\n"
            "  --max-conn-per-ip N    connections from one client address (default 128; 0 = no cap)\n"
            "  --header-timeout-s N   request line and headers must be complete within N s (default 10)\n"
            "  --min-body-rate N      bytes/s a request body must average after the first\n"
            "                         header-timeout-s seconds (default 1024; 0 = no minimum)\n"
            "  --tls-cert FILE        serve HTTPS with this PEM certificate (chain) and, with\n"
            "  --tls-key FILE         this PEM private key (both; docs/service.md, TLS)\n"
            "  --retention-sweep-s N  apply the retention policies every N s (default 3600; 0 = off;\n"
            "                         'sdra privacy policy', docs/security.md)\n"
            "  --retention-clock-offset-days N  testing aid: the sweeper's clock runs N days ahead\n"
            "live calls (WebSocket /v1/live/twilio and /v1/live/pcm; docs/live.md):\n"
            "  --max-live-calls N     live calls at once; more are refused (503, close 1013; default 8)\n"
            "  --live-grace-s N       a dropped stream's call waits N s for a reconnect (default 30)\n"
            "  --live-backlog-s N     audio per channel awaiting recognition; beyond it audio is left\n"
            "                         out of recognition, never of the recording (default 30)\n"
            "  --live-rep-track T     the Twilio track of the rep: outbound (default) or inbound\n"
            "  --live-monologue-s N, --live-talk-ratio-low X, --live-talk-ratio-high X,\n"
            "  --live-min-talk-s N, --live-silence-s N, --live-unanswered-s N\n"
            "                         the live coach's alert thresholds (defaults 90, 0.25, 0.70, 120,\n"
            "                         15, 30; 0 seconds turns an alert off; docs/live.md)\n"
            "  --live-degrade-lag-s N a channel N s behind switches to a cheaper search until it has\n"
            "                         caught up (0..600, default 5; 0 = never; docs/live.md)\n"
            "shared with 'sdra worker':\n"
            CLI_SERVER_HELP CLI_SERVER_HELP_TRANSCRIBE CLI_SERVER_HELP_ANALYZE
            "  -h, --help             this text\n");
}

int cmd_serve(int argc, char **argv)
{
    /* serve's own options; the ones it shares with `sdra worker` are cli_server.h's */
    enum { O_LISTEN = 1, O_CONC, O_NOWORK, O_MAXACT, O_MAXUP, O_TIMEOUT, O_PERIP, O_HDRTIMEOUT, O_MINRATE,
           O_TLSCERT, O_TLSKEY, O_RETSWEEP, O_RETOFFSET, O_MAXLIVE, O_LIVEGRACE, O_LIVEBACKLOG, O_LIVEREP,
           O_LIVEDEGRADE };
    enum { O_COACH = 0x5401 }; /* O_COACH + k: the live coach's threshold coach_opts[k] */
    static const char *const coach_opts[] = {"monologue-s", "talk-ratio-low", "talk-ratio-high",
                                             "min-talk-s", "silence-s", "unanswered-s"};
    static const struct option opts[] = {
        {"listen", required_argument, 0, O_LISTEN},       {"concurrency", required_argument, 0, O_CONC},
        {"no-workers", no_argument, 0, O_NOWORK},         {"max-active", required_argument, 0, O_MAXACT},
        {"max-upload-mb", required_argument, 0, O_MAXUP}, {"timeout-s", required_argument, 0, O_TIMEOUT},
        {"help", no_argument, 0, 'h'},
        {"max-conn-per-ip", required_argument, 0, O_PERIP},
        {"header-timeout-s", required_argument, 0, O_HDRTIMEOUT},
        {"min-body-rate", required_argument, 0, O_MINRATE},
        {"tls-cert", required_argument, 0, O_TLSCERT},    {"tls-key", required_argument, 0, O_TLSKEY},
        {"retention-sweep-s", required_argument, 0, O_RETSWEEP},
        {"retention-clock-offset-days", required_argument, 0, O_RETOFFSET},
        {"live-monologue-s", required_argument, 0, O_COACH},     {"live-talk-ratio-low", required_argument, 0, O_COACH + 1},
        {"live-talk-ratio-high", required_argument, 0, O_COACH + 2}, {"live-min-talk-s", required_argument, 0, O_COACH + 3},
        {"live-silence-s", required_argument, 0, O_COACH + 4},   {"live-unanswered-s", required_argument, 0, O_COACH + 5},
        {"max-live-calls", required_argument, 0, O_MAXLIVE}, {"live-grace-s", required_argument, 0, O_LIVEGRACE},
        {"live-backlog-s", required_argument, 0, O_LIVEBACKLOG}, {"live-rep-track", required_argument, 0, O_LIVEREP},
        {"live-degrade-lag-s", required_argument, 0, O_LIVEDEGRADE},
        CLI_SERVER_LONGOPTS, /* the options shared with `sdra worker` (cli_server.h) */
        {0, 0, 0, 0}};
    sdra_server_params p = sdra_server_default_params();
    cli_server s;
    cli_server_init(&s, &p);
    CLI_CONFIG("serve", opts, argc, argv);
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        long v;
        switch (c) {
        case O_LISTEN: p.listen = optarg; break;
        case O_NOWORK: p.run_workers = false; break;
        case O_CONC: {
            const char *eq = strchr(optarg, '=');
            char name[32];
            if (!eq || (size_t)(eq - optarg) >= sizeof name)
                return cli_usage_error("serve", "--concurrency wants STAGE=N, got '%s'", optarg);
            memcpy(name, optarg, (size_t)(eq - optarg));
            name[eq - optarg] = '\0';
            int id = sdra_pipeline_stage_id(name);
            v = cli_parse_count(eq + 1);
            if (id < 0 || id >= SDRA_SERVER_MAX_STAGES)
                return cli_usage_error("serve", "--concurrency: unknown stage '%s'", name);
            if (v < 1 || v > SDRA_SERVER_MAX_WORKERS)
                return cli_usage_error("serve", "--concurrency %s: N must be 1..%d", name, SDRA_SERVER_MAX_WORKERS);
            p.concurrency[id] = (int)v;
            break;
        }
        case O_MAXACT:
            if ((v = cli_parse_count(optarg)) < 1 || v > 1000000)
                return cli_usage_error("serve", "--max-active wants a positive count, got '%s'", optarg);
            p.max_active_calls = (int)v;
            break;
        case O_MAXUP:
            if ((v = cli_parse_count(optarg)) < 1 || v > 16384)
                return cli_usage_error("serve", "--max-upload-mb wants 1..16384, got '%s'", optarg);
            p.max_upload_bytes = (size_t)v << 20;
            break;
        case O_TIMEOUT:
            if ((v = cli_parse_count(optarg)) < 1 || v > 3600)
                return cli_usage_error("serve", "--timeout-s wants 1..3600, got '%s'", optarg);
            p.request_timeout_s = (int)v;
            break;
        case O_PERIP:
            if ((v = cli_parse_count(optarg)) < 0 || v > 65535)
                return cli_usage_error("serve", "--max-conn-per-ip wants 0..65535, got '%s'", optarg);
            p.max_connections_per_ip = (int)v;
            break;
        case O_HDRTIMEOUT:
            if ((v = cli_parse_count(optarg)) < 1 || v > 3600)
                return cli_usage_error("serve", "--header-timeout-s wants 1..3600, got '%s'", optarg);
            p.header_timeout_s = (int)v;
            break;
        case O_RETSWEEP:
            if ((v = cli_parse_count(optarg)) < 0 || v > 31 * 86400)
                return cli_usage_error("serve", "--retention-sweep-s wants 0..2678400 seconds, got '%s'", optarg);
            p.retention_sweep_s = (int)v;
            break;
        case O_RETOFFSET:
            if ((v = cli_parse_count(optarg)) < 0 || v > 36500)
                return cli_usage_error("serve", "--retention-clock-offset-days wants 0..36500, got '%s'", optarg);
            p.retention_clock_offset_ms = (int64_t)v * 86400000;
            break;
        case O_MINRATE:
            if ((v = cli_parse_count(optarg)) < 0 || v > 1000000000)
                return cli_usage_error("serve", "--min-body-rate wants 0..1000000000 bytes/s, got '%s'", optarg);
            p.min_body_rate = (int)v;
            break;
        case O_TLSCERT: p.tls_cert_path = optarg; break;
        case O_TLSKEY: p.tls_key_path = optarg; break;
        case O_COACH: case O_COACH + 1: case O_COACH + 2: case O_COACH + 3: case O_COACH + 4: case O_COACH + 5: {
            sdra_coach_params cp = sdra_coach_default_params();
            sdra_error cerr = {0};
            if (sdra_coach_params_set(&cp, coach_opts[c - O_COACH], optarg, &cerr) < 0)
                return cli_usage_error("serve", "--live-%s: %s", coach_opts[c - O_COACH], cerr.msg);
            if (p.n_live_coach_set >= SDRA_SERVER_LIVE_COACH_MAX)
                return cli_usage_error("serve", "too many --live-* thresholds");
            static char sets[SDRA_SERVER_LIVE_COACH_MAX][64];
            int k = p.n_live_coach_set++;
            snprintf(sets[k], sizeof sets[0], "%s=%s", coach_opts[c - O_COACH], optarg);
            p.live_coach_set[k] = sets[k];
            break;
        }
        case O_MAXLIVE:
            if ((v = cli_parse_count(optarg)) < 0 || v > 1000)
                return cli_usage_error("serve", "--max-live-calls wants 0..1000 (0 = no live calls), got '%s'", optarg);
            p.max_live_calls = (int)v;
            break;
        case O_LIVEGRACE:
            if ((v = cli_parse_count(optarg)) < 0 || v > 3600)
                return cli_usage_error("serve", "--live-grace-s wants 0..3600, got '%s'", optarg);
            p.live_grace_s = (double)v;
            break;
        case O_LIVEBACKLOG:
            if ((v = cli_parse_count(optarg)) < 1 || v > 600)
                return cli_usage_error("serve", "--live-backlog-s wants 1..600, got '%s'", optarg);
            p.live_backlog_s = (double)v;
            break;
        case O_LIVEDEGRADE:
            if ((v = cli_parse_count(optarg)) < 0 || v > 600)
                return cli_usage_error("serve", "--live-degrade-lag-s wants 0..600 (0 = never), got '%s'", optarg);
            p.live_degrade_lag_s = (double)v;
            break;
        case O_LIVEREP:
            if (strcmp(optarg, "outbound") && strcmp(optarg, "inbound"))
                return cli_usage_error("serve", "--live-rep-track: outbound|inbound, got '%s'", optarg);
            p.live_rep_track = optarg;
            break;
        case 'h': usage(stdout); return SDRA_EXIT_OK;
        default: {
            int r = cli_server_option(&s, "serve", c, optarg);
            if (r > 0)
                return r;
            if (r < 0)
                return cli_usage_error("serve", "bad option");
            break;
        }
        }
    }
    if (optind < argc)
        return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    if (!p.tls_cert_path != !p.tls_key_path)
        return cli_usage_error("serve", "--tls-cert and --tls-key go together");
    if ((c = cli_server_finish(&s, "serve")) != 0)
        return c;
    const char *port_file = s.port_file;
    sdra_error err = {0};

    /* Signals are taken synchronously by this thread; every other thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

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
    sdra_log(SDRA_LOG_INFO, "signal %d: stopping", sig);
    sdra_server_stop(srv);
    return SDRA_EXIT_OK;
}
