/*
 * cmd_keys.c - `sdra keys create|list|revoke|delete`: API keys of the server's data directory.
 * The key is printed once, on stdout, at creation; only its hash is stored. Every creation,
 * revocation and deletion is written to the audit trail (actor "cli:USER", ip "local"); a
 * creation whose audit entry cannot be written is undone and the key never shown.
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sdra/crm.h"
#include "sdra/server.h"
#include "sdra/util.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: sdra keys create --name NAME --scope read|write|admin [--org ORG] [--data DIR|--store URL]\n"
               "       sdra keys list [--org ORG] [--data DIR|--store URL]\n"
               "       sdra keys revoke ID|NAME [--data DIR|--store URL]\n"
               "       sdra keys delete ID|NAME [--data DIR|--store URL]\n"
               "       sdra keys rotate-master --new-key-file F [--data DIR] (see rotate-master --help)\n\n"
               "Manages the API keys of 'sdra serve'. 'create' prints the new key once on stdout;\n"
               "only a hash is kept. Every key belongs to one organisation and sees only its calls.\n"
               "read: GET; write: also upload, retry; admin: also erase calls and manage the\n"
               "organisation's keys over the API. 'delete' removes a key's row (revoke keeps it\n"
               "listed). Each change is audited.\n"
               "  --org ORG     the key's organisation, [a-z0-9-] 1-63 (default \"default\");\n"
               "                with list: only that organisation's keys\n"
               "  --data DIR    data directory (default $SDRA_DATA or ~/.local/share/sdra)\n"
               "  --store URL   the server's store: sqlite:PATH or postgres://USER:PW@HOST/DB, as on\n"
               "                'sdra serve' and 'sdra worker' (default $SDRA_STORE, else DATA/sdra.db)\n");
}

static void fmt_ms(char out[32], int64_t ms)
{
    if (!ms) {
        strcpy(out, "-");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The id (and organisation) of the key named which (an id or a name); valid_only: a revoked
 * one does not count. */
static int resolve_key(sdra_store *st, const char *which, bool valid_only, char id[SDRA_STORE_ID_MAX],
                       char org[SDRA_STORE_ID_MAX], sdra_error *err)
{
    static sdra_store_key keys[1024];
    int n = 0;
    int rc = sdra_store_key_list(st, keys, 1024, &n, err);
    if (rc < 0)
        return rc;
    for (int pass = 0; pass < 2; pass++) /* an id match wins over a name match */
        for (int i = 0; i < n; i++)
            if (!strcmp(pass ? keys[i].name : keys[i].id, which) && (!valid_only || !keys[i].revoked_ms)) {
                sdra_strlcpy(id, keys[i].id, SDRA_STORE_ID_MAX);
                sdra_strlcpy(org, keys[i].org, SDRA_STORE_ID_MAX);
                return 0;
            }
    return sdra_error_set(err, SDRA_ENOTFOUND, valid_only ? "no valid API key '%s'" : "no API key '%s'", which);
}

/* The store the keys live in: --store URL when given, else the data directory's (or
 * $SDRA_STORE's, sdra_server_store_open). */
static int keys_store_open(sdra_store **st, const char *url, const char *dir, sdra_error *err)
{
    return url ? sdra_store_open(st, url, err) : sdra_server_store_open(st, dir, err);
}

int cmd_keys(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, 0, 'd'}, {"name", required_argument, 0, 'n'},
                                         {"scope", required_argument, 0, 's'}, {"help", no_argument, 0, 'h'},
                                         {"org", required_argument, 0, 'o'}, {"store", required_argument, 0, 'S'},
                                         {0, 0, 0, 0}};
    const char *data = NULL, *name = NULL, *scope = NULL, *org = NULL, *store = NULL;
    if (argc > 1 && !strcmp(argv[1], "rotate-master")) /* encryption at rest: cmd_crypt.c */
        return cmd_keys_rotate_master(argc - 1, argv + 1);
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 'n': name = optarg; break;
        case 's': scope = optarg; break;
        case 'o': org = optarg; break;
        case 'S':
            if (cli_store_url_check("keys", optarg) != 0)
                return SDRA_EXIT_USAGE;
            store = optarg;
            break;
        case 'h': usage(stdout); return SDRA_EXIT_OK;
        default: return cli_usage_error("keys", "bad option");
        }
    }
    if (optind >= argc)
        return cli_usage_error("keys", "say create, list or revoke");
    const char *verb = argv[optind++];
    if (org && !sdra_store_org_valid(org))
        return cli_usage_error("keys", "--org '%.80s': use 1-63 of [a-z0-9-], not starting with '-'", org);
    char dir[1024];
    if (sdra_crm_default_data_dir(dir, sizeof dir, data) < 0)
        return cli_usage_error("keys", "no data directory: give --data DIR");
    sdra_error err = {0};
    sdra_store *st = NULL;
    int rc = SDRA_EXIT_OK;
    if (!strcmp(verb, "create")) {
        if (!name)
            return cli_usage_error("keys", "create needs --name");
        if (sdra_text_check_line("--name", name, &err) < 0)
            return cli_usage_error("keys", "%s", err.msg);
        if (!scope || (strcmp(scope, "read") && strcmp(scope, "write") && strcmp(scope, "admin")))
            return cli_usage_error("keys", "create needs --scope read|write|admin");
        if (optind < argc)
            return cli_usage_error("keys", "unexpected argument '%s'", argv[optind]);
        char key[SDRA_SERVER_KEY_MAX], id[16], detail[200];
        if (!org)
            org = SDRA_STORE_ORG_DEFAULT;
        if (keys_store_open(&st, store, dir, &err) < 0 ||
            sdra_server_org_key_create(st, org, name, scope, key, sizeof key, &err) < 0) {
            rc = cli_fail(&err);
        } else {
            memcpy(id, key + 5, 12); /* "sdra_<12 hex id>_<secret>" */
            id[12] = '\0';
            snprintf(detail, sizeof detail, "name=%.120s scope=%s org=%s", name, scope, org);
            if (cli_audit(st, org, "key.create", id, detail, &err) < 0) {
                /* no entry, no key: it is removed and never shown */
                sdra_error e2 = {0};
                if (sdra_store_key_delete(st, id, NULL, &e2) < 0)
                    sdra_store_key_revoke(st, id, sdra_store_now_ms(), NULL);
                rc = cli_fail(&err);
            } else {
                printf("%s\n", key);
            }
            memset(key, 0, sizeof key);
        }
    } else if (!strcmp(verb, "list")) {
        if (optind < argc)
            return cli_usage_error("keys", "unexpected argument '%s'", argv[optind]);
        sdra_store_key keys[256];
        int n = 0;
        if (keys_store_open(&st, store, dir, &err) < 0 || sdra_store_key_list(st, keys, 256, &n, &err) < 0) {
            rc = cli_fail(&err);
        } else {
            printf("%-12s  %-24s  %-16s  %-5s  %-20s  %s\n", "ID", "NAME", "ORG", "SCOPE", "CREATED", "REVOKED");
            for (int i = 0; i < n; i++) {
                char cr[32], rv[32];
                if (org && strcmp(org, keys[i].org))
                    continue;
                fmt_ms(cr, keys[i].created_ms);
                fmt_ms(rv, keys[i].revoked_ms);
                printf("%-12s  %-24.24s  %-16s  %-5s  %-20s  %s\n", keys[i].id, keys[i].name, keys[i].org,
                       keys[i].scope, cr, rv);
            }
        }
    } else if (!strcmp(verb, "revoke")) {
        if (optind != argc - 1)
            return cli_usage_error("keys", "revoke needs exactly one ID or NAME");
        /* the entry first (no entry, no change), naming the key by its id */
        char id[SDRA_STORE_ID_MAX], korg[SDRA_STORE_ID_MAX];
        const char *which = argv[optind];
        if (keys_store_open(&st, store, dir, &err) < 0 || resolve_key(st, which, true, id, korg, &err) < 0 ||
            cli_audit(st, korg, "key.revoke", id, NULL, &err) < 0 ||
            sdra_store_key_revoke(st, id, sdra_store_now_ms(), &err) < 0)
            rc = cli_fail(&err);
    } else if (!strcmp(verb, "delete")) {
        if (optind != argc - 1)
            return cli_usage_error("keys", "delete needs exactly one ID or NAME");
        char id[SDRA_STORE_ID_MAX], korg[SDRA_STORE_ID_MAX];
        if (keys_store_open(&st, store, dir, &err) < 0 || resolve_key(st, argv[optind], false, id, korg, &err) < 0 ||
            cli_audit(st, korg, "key.delete", id, NULL, &err) < 0 || sdra_store_key_delete(st, id, NULL, &err) < 0)
            rc = cli_fail(&err);
    } else {
        return cli_usage_error("keys", "unknown action '%s' (create, list, revoke or delete)", verb);
    }
    sdra_store_close(st);
    return rc;
}
