/*
 * cmd_connectors.c - `sdra connectors test`: proves that the configured connectors work before
 * a job depends on them.
 *
 * For each connector asked for (--crm, --mail), or else each one the environment configures,
 * it makes one cheap authenticated call (sdra_crm_check, sdra_mail_check) and prints one line:
 * "crm hubspot: ok: <what it can do>" or "crm hubspot: failed: <why>". Secrets come from the
 * environment only (docs/connectors.md) and are never printed. The exit status is 0 when every
 * connector tested works, 1 when one failed or none is configured, 2 for a usage error.
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdra/crm.h"
#include "sdra/mail.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sdra connectors test [--crm local|hubspot|salesforce] [--mail smtp|imap|gmail|graph]\n\n"
            "Checks each connector with one cheap authenticated call and prints what it can do.\n"
            "Without --crm or --mail, every connector the environment configures is checked\n"
            "(SDRA_HUBSPOT_TOKEN or SDRA_HUBSPOT_REFRESH_TOKEN; SDRA_SALESFORCE_URL or\n"
            "SDRA_SALESFORCE_CLIENT_ID; SDRA_SMTP_URL, SDRA_IMAP_URL, SDRA_GMAIL_TOKEN, SDRA_GRAPH_TOKEN).\n"
            "Secrets are read from the environment only (docs/connectors.md).\n\n"
            "options:\n"
            "  --crm NAME     check this CRM connector (repeatable)\n"
            "  --mail NAME    check this mail transport (repeatable)\n"
            "  --data DIR     user data directory of the local CRM\n"
            "  -h, --help     this text\n\n"
            "exit status: 0 every connector checked works, 1 one failed or none is configured.\n");
}

static bool env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v;
}

static int check_crm(const char *name, const char *data)
{
    sdra_error err = {0};
    sdra_crm *crm = NULL;
    char what[512] = "";
    int rc = sdra_crm_open_ex(&crm, name, data, SDRA_CRM_READONLY, &err);
    if (rc == 0)
        rc = sdra_crm_check(crm, what, sizeof what, &err);
    sdra_crm_close(crm);
    if (rc < 0) {
        printf("crm %s: failed: %s\n", name, err.msg);
        return SDRA_EXIT_FAIL;
    }
    printf("crm %s: ok: %s\n", name, what);
    return SDRA_EXIT_OK;
}

static int check_mail(const char *name)
{
    sdra_error err = {0};
    sdra_mail_config mc;
    char what[512] = "";
    int rc = sdra_mail_config_from_env(&mc, name, &err);
    if (rc == 0)
        rc = sdra_mail_check(&mc, what, sizeof what, &err);
    memset(&mc, 0, sizeof mc); /* holds the token */
    if (rc < 0) {
        printf("mail %s: failed: %s\n", name, err.msg);
        return SDRA_EXIT_FAIL;
    }
    printf("mail %s: ok: %s\n", name, what);
    return SDRA_EXIT_OK;
}

#define MAX_NAMED 8

int cmd_connectors(int argc, char **argv)
{
    static const struct option opts[] = {{"crm", required_argument, NULL, 'c'},
                                         {"mail", required_argument, NULL, 'm'},
                                         {"data", required_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *crms[MAX_NAMED], *mails[MAX_NAMED], *data = NULL;
    int n_crm = 0, n_mail = 0, o;
    opterr = 0;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            if (!sdra_crm_backend(optarg))
                return cli_usage_error("connectors", "--crm '%s': use local, hubspot or salesforce", optarg);
            if (n_crm == MAX_NAMED)
                return cli_usage_error("connectors", "too many --crm options");
            crms[n_crm++] = optarg;
            break;
        case 'm':
            if (sdra_mail_transport_parse(optarg) <= SDRA_MAIL_NONE)
                return cli_usage_error("connectors", "--mail '%s': use smtp, imap, gmail or graph", optarg);
            if (n_mail == MAX_NAMED)
                return cli_usage_error("connectors", "too many --mail options");
            mails[n_mail++] = optarg;
            break;
        case 'd': data = optarg; break;
        case 'h': usage(stdout); return SDRA_EXIT_OK;
        default:
            if (optopt == 'c' || optopt == 'm' || optopt == 'd')
                return cli_usage_error("connectors", "option '%s' needs a value", argv[optind - 1]);
            return cli_usage_error("connectors", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error("connectors", "what to do? 'sdra connectors test'");
    if (strcmp(argv[optind], "test") != 0)
        return cli_usage_error("connectors", "unknown action '%s' (known: test)", argv[optind]);
    if (optind + 1 < argc)
        return cli_usage_error("connectors", "unexpected argument '%s'", argv[optind + 1]);
    if (n_crm == 0 && n_mail == 0) { /* everything the environment configures */
        if (env_set("SDRA_HUBSPOT_TOKEN") || env_set("SDRA_HUBSPOT_REFRESH_TOKEN"))
            crms[n_crm++] = "hubspot";
        if (env_set("SDRA_SALESFORCE_URL") || env_set("SDRA_SALESFORCE_CLIENT_ID"))
            crms[n_crm++] = "salesforce";
        static const struct {
            const char *env, *name;
        } m[] = {{"SDRA_SMTP_URL", "smtp"}, {"SDRA_IMAP_URL", "imap"}, {"SDRA_GMAIL_TOKEN", "gmail"},
                 {"SDRA_GRAPH_TOKEN", "graph"}};
        for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
            if (env_set(m[i].env))
                mails[n_mail++] = m[i].name;
        if (n_crm == 0 && n_mail == 0) {
            fprintf(stderr, "sdra: no connector is configured: set SDRA_HUBSPOT_TOKEN, SDRA_SALESFORCE_URL, "
                            "SDRA_SMTP_URL, ... (docs/connectors.md), or name one with --crm or --mail\n");
            return SDRA_EXIT_FAIL;
        }
    }
    int ret = SDRA_EXIT_OK;
    for (int i = 0; i < n_crm; i++)
        if (check_crm(crms[i], data) != SDRA_EXIT_OK)
            ret = SDRA_EXIT_FAIL;
    for (int i = 0; i < n_mail; i++)
        if (check_mail(mails[i]) != SDRA_EXIT_OK)
            ret = SDRA_EXIT_FAIL;
    if (fflush(stdout) != 0)
        ret = SDRA_EXIT_FAIL;
    return ret;
}
