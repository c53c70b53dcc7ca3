/*
 * cmd_orgs.c - `sdra orgs list|set`: the organisations (tenants) of a data directory, their
 * quotas and what they use. Quotas live in the job store; `sdra serve` applies them to every
 * upload (429 quota_active over the calls in flight, 507 quota_storage over the storage).
 * Every change of a quota is audited (actor "cli:USER", ip "local", cli_audit).
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sdra/crm.h"
#include "sdra/server.h"
#include "sdra/util.h"

#define ORGS_MAX 1024

static void usage(FILE *f)
{
    fprintf(f, "usage: sdra orgs list [--data DIR]\n"
               "       sdra orgs set ORG [--max-active N] [--max-storage-mb M] [--data DIR]\n\n"
               "Organisations (tenants) of 'sdra serve': every API key, call, CRM row and audit entry\n"
               "belongs to one, and a key never sees another organisation's data. 'list' shows each\n"
               "organisation's quotas and usage; 'set' changes the quotas given (0 = unlimited).\n"
               "  --max-active N      calls queued or running at once; over it an upload is 429\n"
               "  --max-storage-mb M  MiB of audio and artifacts; over it an upload is 507\n"
               "  --data DIR          data directory (default $SDRA_DATA or ~/.local/share/sdra)\n");
}

/* A non-negative integer option up to max; -1 when it is not one. */
static long long parse_count(const char *v, long long max)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || errno || n < 0 || n > max)
        return -1;
    return n;
}

static void fmt_limit(char out[24], long long v, long long unit)
{
    if (v == 0)
        snprintf(out, 24, "-");
    else
        snprintf(out, 24, "%lld", v / unit);
}

int cmd_orgs(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},
                                         {"max-active", required_argument, 0, 'a'},
                                         {"max-storage-mb", required_argument, 0, 's'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *data = NULL;
    long long max_active = -1, max_mb = -1;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 'a':
            if ((max_active = parse_count(optarg, 1000000)) < 0)
                return cli_usage_error("orgs", "--max-active '%.40s': a whole number from 0 (unlimited)", optarg);
            break;
        case 's':
            if ((max_mb = parse_count(optarg, 1LL << 40)) < 0)
                return cli_usage_error("orgs", "--max-storage-mb '%.40s': a whole number from 0 (unlimited)", optarg);
            break;
        case 'h': usage(stdout); return SDRA_EXIT_OK;
        default: return cli_usage_error("orgs", "bad option");
        }
    }
    if (optind >= argc)
        return cli_usage_error("orgs", "say list or set");
    const char *verb = argv[optind++];
    char dir[1024];
    if (sdra_crm_default_data_dir(dir, sizeof dir, data) < 0)
        return cli_usage_error("orgs", "no data directory: give --data DIR");
    sdra_error err = {0};
    sdra_store *st = NULL;
    int rc = SDRA_EXIT_OK;
    if (!strcmp(verb, "list")) {
        if (optind < argc)
            return cli_usage_error("orgs", "unexpected argument '%s'", argv[optind]);
        if (max_active >= 0 || max_mb >= 0)
            return cli_usage_error("orgs", "--max-active and --max-storage-mb go with 'set'");
        sdra_store_org *orgs = calloc(ORGS_MAX, sizeof *orgs);
        int n = 0;
        if (!orgs) {
            sdra_error_set(&err, SDRA_ENOMEM, "out of memory");
            rc = cli_fail(&err);
        } else if (sdra_server_store_open(&st, dir, &err) < 0 || sdra_store_org_list(st, orgs, ORGS_MAX, &n, &err) < 0) {
            rc = cli_fail(&err);
        } else {
            printf("%-24s  %5s  %6s  %10s  %14s  %14s\n", "ORG", "KEYS", "ACTIVE", "MAX-ACTIVE", "STORAGE-BYTES",
                   "MAX-STORAGE-MB");
            for (int i = 0; i < n; i++) {
                char ma[24], ms[24];
                fmt_limit(ma, orgs[i].max_active, 1);
                fmt_limit(ms, orgs[i].max_storage_bytes, 1 << 20);
                printf("%-24s  %5d  %6d  %10s  %14lld  %14s\n", orgs[i].name, orgs[i].n_keys, orgs[i].n_active, ma,
                       (long long)orgs[i].storage_bytes, ms);
            }
        }
        free(orgs);
    } else if (!strcmp(verb, "set")) {
        if (optind != argc - 1)
            return cli_usage_error("orgs", "set needs exactly one ORG");
        const char *org = argv[optind];
        if (!sdra_store_org_valid(org))
            return cli_usage_error("orgs", "organisation '%.80s': use 1-63 of [a-z0-9-], not starting with '-'", org);
        if (max_active < 0 && max_mb < 0)
            return cli_usage_error("orgs", "set needs --max-active N and/or --max-storage-mb M");
        sdra_store_org cur;
        char detail[160];
        if (sdra_server_store_open(&st, dir, &err) < 0 || sdra_store_org_get(st, org, &cur, &err) < 0) {
            rc = cli_fail(&err);
        } else {
            int a = max_active >= 0 ? (int)max_active : cur.max_active;
            int64_t b = max_mb >= 0 ? (int64_t)max_mb << 20 : cur.max_storage_bytes;
            snprintf(detail, sizeof detail, "max_active=%d max_storage_bytes=%lld", a, (long long)b);
            /* the entry first: no entry, no change */
            if (cli_audit(st, org, "org.quota", org, detail, &err) < 0 ||
                sdra_store_org_set(st, org, a, b, sdra_store_now_ms(), &err) < 0)
                rc = cli_fail(&err);
            else
                printf("%s: %s\n", org, detail);
        }
    } else {
        return cli_usage_error("orgs", "unknown action '%s' (list or set)", verb);
    }
    sdra_store_close(st);
    return rc;
}
