/*
 * cmd_keys.c - `sdra keys create|list|revoke`: API keys of the server's data directory. The
 * key is printed once, on stdout, at creation; only its hash is stored.
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sdra/crm.h"
#include "sdra/server.h"
#include "sdra/util.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: sdra keys create --name NAME --scope read|write|admin [--data DIR]\n"
               "       sdra keys list [--data DIR]\n"
               "       sdra keys revoke ID|NAME [--data DIR]\n\n"
               "Manages the API keys of 'sdra serve'. 'create' prints the new key once on stdout;\n"
               "only a hash is kept. read: GET; write: also upload, retry, delete; admin: all.\n"
               "  --data DIR    data directory (default $SDRA_DATA or ~/.local/share/sdra)\n");
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

int cmd_keys(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, 0, 'd'}, {"name", required_argument, 0, 'n'},
                                         {"scope", required_argument, 0, 's'}, {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *data = NULL, *name = NULL, *scope = NULL;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 'n': name = optarg; break;
        case 's': scope = optarg; break;
        case 'h': usage(stdout); return SDRA_EXIT_OK;
        default: return cli_usage_error("keys", "bad option");
        }
    }
    if (optind >= argc)
        return cli_usage_error("keys", "say create, list or revoke");
    const char *verb = argv[optind++];
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
        char key[SDRA_SERVER_KEY_MAX];
        if (sdra_server_store_open(&st, dir, &err) < 0 || sdra_server_key_create(st, name, scope, key, sizeof key, &err) < 0)
            rc = cli_fail(&err);
        else
            printf("%s\n", key);
    } else if (!strcmp(verb, "list")) {
        if (optind < argc)
            return cli_usage_error("keys", "unexpected argument '%s'", argv[optind]);
        sdra_store_key keys[256];
        int n = 0;
        if (sdra_server_store_open(&st, dir, &err) < 0 || sdra_store_key_list(st, keys, 256, &n, &err) < 0) {
            rc = cli_fail(&err);
        } else {
            printf("%-12s  %-24s  %-5s  %-20s  %s\n", "ID", "NAME", "SCOPE", "CREATED", "REVOKED");
            for (int i = 0; i < n; i++) {
                char cr[32], rv[32];
                fmt_ms(cr, keys[i].created_ms);
                fmt_ms(rv, keys[i].revoked_ms);
                printf("%-12s  %-24.24s  %-5s  %-20s  %s\n", keys[i].id, keys[i].name, keys[i].scope, cr, rv);
            }
        }
    } else if (!strcmp(verb, "revoke")) {
        if (optind != argc - 1)
            return cli_usage_error("keys", "revoke needs exactly one ID or NAME");
        if (sdra_server_store_open(&st, dir, &err) < 0 ||
            sdra_store_key_revoke(st, argv[optind], sdra_store_now_ms(), &err) < 0)
            rc = cli_fail(&err);
    } else {
        return cli_usage_error("keys", "unknown action '%s' (create, list or revoke)", verb);
    }
    sdra_store_close(st);
    return rc;
}
