/*
 * cmd_audit.c - `sdra audit [filters]` lists the audit trail of a data directory (who read or
 * changed which call or key, from where); `sdra audit verify` recomputes its hash chain and
 * names the first entry that was changed, removed or inserted (docs/security.md, finding 8).
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "sdra/crm.h"
#include "sdra/date.h"
#include "sdra/server.h"
#include "sdra/util.h"

#define AUDIT_LIMIT_MAX 10000

static void usage(FILE *f)
{
    fprintf(f, "usage: sdra audit [--data DIR] [--target ID] [--actor KEY] [--action A] [--since T]\n"
               "                  [--org ORG] [--limit N] [--format text|json]\n"
               "       sdra audit verify [--data DIR]\n\n"
               "Lists the audit trail of 'sdra serve' and 'sdra keys', newest first: every read of call\n"
               "data, every change, every authentication failure, with the client address. 'verify'\n"
               "recomputes the hash chain: 'ok, N entries' (exit 0) or the first broken entry (exit 1).\n"
               "  --data DIR       data directory (default $SDRA_DATA or ~/.local/share/sdra)\n"
               "  --target ID      a call id or key id\n"
               "  --actor KEY      an API key id, '-' (unknown) or cli:USER\n"
               "  --org ORG        entries of one organisation (the acting key's)\n"
               "  --action A       call.read, calls.list, artifact.read, audio.read, events.read,\n"
               "                   call.create, call.delete, call.retry, auth.fail, key.create, ...\n"
               "  --since T        entries at or after T: YYYY-MM-DD (UTC), an ISO 8601 time with its zone\n"
               "                   (2026-03-02T09:30:00Z, 2026-03-02T10:30+01:00) or milliseconds\n"
               "                   since the epoch\n"
               "  --limit N        at most N entries (default 100, at most %d)\n"
               "  --format F       text (default) or json\n",
            AUDIT_LIMIT_MAX);
}

/* T as milliseconds since the epoch; -1 when it is not one of the accepted forms. */
static int64_t parse_since(const char *t)
{
    int64_t ms;
    return sdra_time_parse_ms(t, 1, &ms) == 0 && ms >= 0 ? ms : -1;
}

static void iso(char out[32], int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char b[24];
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", b, (int)(ms % 1000));
}

/* Prints v with control characters shown as '?' (a terminal never gets raw escapes). */
static void put_clean(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        putchar(*p < 0x20 || *p == 0x7f ? '?' : *p);
}

static int verify(sdra_store *st)
{
    sdra_error err = {0};
    int64_t n = 0, bad = 0;
    int rc = sdra_store_audit_verify(st, &n, &bad, &err);
    if (rc < 0) {
        if (bad > 0) {
            fprintf(stderr, "sdra audit verify: BROKEN at entry %lld: %s (%lld entries before it are intact)\n",
                    (long long)bad, err.msg, (long long)n);
            return SDRA_EXIT_FAIL;
        }
        return cli_fail(&err);
    }
    sdra_store_audit_entry head;
    int k = 0;
    if (sdra_store_audit_query(st, NULL, &head, 1, &k, &err) < 0)
        return cli_fail(&err);
    /* the head hash, kept elsewhere, also shows entries cut off the end of the chain */
    printf("ok, %lld entries (head %s)\n", (long long)n, k ? head.hash : SDRA_STORE_AUDIT_GENESIS);
    return SDRA_EXIT_OK;
}

int cmd_audit(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},   {"target", required_argument, 0, 't'},
        {"actor", required_argument, 0, 'a'},  {"action", required_argument, 0, 'A'},
        {"since", required_argument, 0, 's'},  {"limit", required_argument, 0, 'l'},
        {"format", required_argument, 0, 'f'}, {"help", no_argument, 0, 'h'},
        {"org", required_argument, 0, 'o'},    {0, 0, 0, 0}};
    const char *data = NULL, *format = "text";
    sdra_store_audit_filter f = {0};
    long limit = 100;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 't': f.target = optarg; break;
        case 'a': f.actor = optarg; break;
        case 'A': f.action = optarg; break;
        case 'o': f.org = optarg; break;
        case 's':
            if ((f.since_ms = parse_since(optarg)) < 0)
                return cli_usage_error("audit", "--since: '%s' is not YYYY-MM-DD, an ISO 8601 time with its zone or milliseconds",
                                       optarg);
            break;
        case 'l': {
            char *end;
            limit = strtol(optarg, &end, 10);
            if (!*optarg || *end || limit < 1 || limit > AUDIT_LIMIT_MAX)
                return cli_usage_error("audit", "--limit must be 1 to %d", AUDIT_LIMIT_MAX);
            break;
        }
        case 'f':
            if (strcmp(optarg, "text") && strcmp(optarg, "json"))
                return cli_usage_error("audit", "--format must be text or json");
            format = optarg;
            break;
        case 'h': usage(stdout); return SDRA_EXIT_OK;
        default: return cli_usage_error("audit", "bad option");
        }
    }
    bool do_verify = false;
    if (optind < argc) {
        if (strcmp(argv[optind], "verify"))
            return cli_usage_error("audit", "unexpected argument '%s' (the only action is 'verify')", argv[optind]);
        do_verify = true;
        if (++optind < argc)
            return cli_usage_error("audit", "unexpected argument '%s'", argv[optind]);
    }
    char dir[1024];
    if (sdra_crm_default_data_dir(dir, sizeof dir, data) < 0)
        return cli_usage_error("audit", "no data directory: give --data DIR");
    sdra_error err = {0};
    sdra_store *st = NULL;
    if (sdra_server_store_open(&st, dir, &err) < 0)
        return cli_fail(&err);
    int rc = SDRA_EXIT_OK;
    sdra_store_audit_entry *e = NULL;
    if (do_verify) {
        rc = verify(st);
        goto done;
    }
    int n = 0;
    if (!(e = calloc((size_t)limit, sizeof *e))) {
        sdra_error_set(&err, SDRA_ENOMEM, "out of memory");
        rc = cli_fail(&err);
        goto done;
    }
    if (sdra_store_audit_query(st, &f, e, (int)limit, &n, &err) < 0) {
        rc = cli_fail(&err);
        goto done;
    }
    char at[32];
    if (!strcmp(format, "json")) {
        json_t *arr = json_array();
        for (int i = 0; i < n; i++) {
            iso(at, e[i].at_ms);
            json_array_append_new(arr, json_pack("{s:I,s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "id", (json_int_t)e[i].id,
                                                 "at", at, "at_ms", (json_int_t)e[i].at_ms, "actor", e[i].actor, "action",
                                                 e[i].action, "target", e[i].target, "ip", e[i].ip, "detail", e[i].detail,
                                                 "prev_hash", e[i].prev_hash, "hash", e[i].hash, "org", e[i].org));
        }
        json_t *doc = json_pack("{s:o}", "entries", arr);
        char *s = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
        json_decref(doc);
        if (!s) {
            sdra_error_set(&err, SDRA_ENOMEM, "out of memory");
            rc = cli_fail(&err);
            goto done;
        }
        printf("%s\n", s);
        free(s);
    } else {
        printf("%-6s  %-24s  %-14s  %-14s  %-18s  %-15s  %s\n", "ID", "TIME", "ACTOR", "ACTION", "TARGET", "IP", "DETAIL");
        for (int i = 0; i < n; i++) {
            iso(at, e[i].at_ms);
            printf("%-6lld  %-24s  %-14s  %-14s  %-18s  %-15s  ", (long long)e[i].id, at, e[i].actor, e[i].action,
                   e[i].target[0] ? e[i].target : "-", e[i].ip[0] ? e[i].ip : "-");
            put_clean(e[i].detail);
            putchar('\n');
        }
    }
done:
    free(e);
    sdra_store_close(st);
    return rc;
}
