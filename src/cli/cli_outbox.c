/*
 * cli_outbox.c - parsing of the shared delivery options (cli_outbox.h).
 */
#include "cli.h"
#include "cli_outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdra/httpc.h"
#include "sdra/server.h"
#include "sdra/util.h"

#include <unistd.h>

void cli_outbox_init(cli_outbox *o)
{
    memset(o, 0, sizeof *o);
    o->p = sdra_outbox_default_params();
}

int cli_outbox_option(cli_outbox *o, const char *cmd, int c, const char *arg)
{
    if (c < CLI_OUTBOX_ID || c >= CLI_OUTBOX_ID + CLI_OUTBOX_N)
        return 1;
    o->set = true;
    long v;
    sdra_error err = {0};
    switch (c - CLI_OUTBOX_ID) {
    case 0:
        if (strcmp(arg, "local") && strcmp(arg, "hubspot") && strcmp(arg, "salesforce"))
            return cli_usage_error(cmd, "--crm wants local, hubspot or salesforce, got '%s'", arg);
        o->p.crm = arg;
        return 0;
    case 1:
        if (sdra_mail_transport_parse(arg) < 0)
            return cli_usage_error(cmd, "--mail wants none, smtp, imap, gmail or graph, got '%s'", arg);
        o->p.mail = arg;
        return 0;
    case 2: {
        int m = sdra_deliver_mode_parse(arg);
        if (m < 0)
            return cli_usage_error(cmd, "--deliver wants none, draft or send, got '%s'", arg);
        o->p.deliver = (sdra_deliver_mode)m;
        return 0;
    }
    case 3: {
        int r = sdra_review_policy_parse(arg);
        if (r < 0)
            return cli_usage_error(cmd, "--review wants always, when_poor or never, got '%s'", arg);
        o->p.review = (sdra_review_policy)r;
        return 0;
    }
    case 4:
        if (sdra_outbox_check_target(arg, true, &err) < 0)
            return cli_usage_error(cmd, "--webhook-url: %s", err.msg);
        o->p.webhook_url = arg;
        return 0;
    case 5: {
        char *buf = NULL;
        size_t n = 0;
        if (sdra_file_read(&buf, &n, arg, sizeof o->secret, &err) < 0)
            return cli_usage_error(cmd, "--webhook-secret-file: %s", err.msg);
        size_t k = strcspn(buf, "\r\n");
        buf[k] = '\0';
        sdra_strlcpy(o->secret, buf, sizeof o->secret);
        free(buf);
        if (!o->secret[0])
            return cli_usage_error(cmd, "--webhook-secret-file %s: the file is empty", arg);
        o->p.webhook_secret = o->secret;
        return 0;
    }
    case 6:
        if (sdra_outbox_hours_parse(&o->p.hours, arg, &err) < 0)
            return cli_usage_error(cmd, "--business-hours: %s", err.msg);
        o->p.business_hours = true;
        return 0;
    case 7: {
        int64_t t;
        if (sdra_outbox_next_slot(0, arg, &o->p.hours, &t, &err) < 0)
            return cli_usage_error(cmd, "--default-tz: %s", err.msg);
        o->p.default_tz = arg;
        return 0;
    }
    case 8: o->p.allow_private_targets = true; return 0;
    case 9:
        if ((v = cli_parse_count(arg)) < 1 || v > 1000)
            return cli_usage_error(cmd, "--outbox-max-attempts wants 1..1000, got '%s'", arg);
        o->p.max_attempts = (int)v;
        return 0;
    case 10:
        if ((v = cli_parse_count(arg)) < 1 || v > 86400000)
            return cli_usage_error(cmd, "--outbox-retry-base-ms wants 1..86400000, got '%s'", arg);
        o->p.retry_base_ms = v;
        return 0;
    case 11:
        if ((v = cli_parse_count(arg)) < 100 || v > 86400000)
            return cli_usage_error(cmd, "--outbox-lease-ms wants 100..86400000, got '%s'", arg);
        o->p.lease_ms = v;
        return 0;
    }
    return 1;
}

int cli_outbox_finish(cli_outbox *o, const char *cmd)
{
    const char *env = getenv("SDRA_WEBHOOK_SECRET");
    if (!o->p.webhook_secret && env && *env) {
        if (strlen(env) >= sizeof o->secret)
            return cli_usage_error(cmd, "SDRA_WEBHOOK_SECRET is longer than %zu bytes", sizeof o->secret - 1);
        sdra_strlcpy(o->secret, env, sizeof o->secret);
        o->p.webhook_secret = o->secret;
    }
    if (o->p.webhook_url && !o->p.webhook_secret)
        sdra_log(SDRA_LOG_WARN, "--webhook-url without SDRA_WEBHOOK_SECRET: webhooks are sent unsigned");
    if (o->p.mail && strcmp(o->p.mail, "none") && o->p.deliver == SDRA_DELIVER_NONE)
        o->p.mail = "none";
    return 0;
}

/* `sdra run` with delivery options: the package's effects go into the outbox of the data
 * directory (the same store `sdra serve` and `sdra outbox` use) under the same keys as in the
 * server, then what is due is delivered at once. A rerun of the same recording (same call id)
 * adds nothing and redoes nothing that is done; held and scheduled entries wait for
 * `sdra outbox approve` / `sdra outbox deliver`. */
int cli_outbox_run(cli_outbox *o, const char *data_dir, const char *dir, const char *call_id)
{
    static const char *const stages[] = {"compose", "sync", "report"};
    sdra_store *st = NULL;
    sdra_error err = {0};
    int rc = sdra_server_store_open(&st, data_dir, &err);
    o->p.data_dir = data_dir;
    o->p.record_dir = true;
    int64_t now = sdra_store_now_ms();
    for (size_t i = 0; rc == 0 && i < sizeof stages / sizeof stages[0]; i++) {
        sdra_outbox_plan pl;
        rc = sdra_outbox_plan_stage(&pl, &o->p, stages[i], i + 1 == sizeof stages / sizeof stages[0],
                                    SDRA_STORE_ORG_DEFAULT, call_id, dir, now, &err);
        for (int k = 0; rc == 0 && k < pl.n; k++)
            rc = sdra_store_outbox_add(st, &pl.fx[k], now, &err);
        sdra_outbox_plan_release(&pl);
    }
    if (rc == 0)
        rc = sdra_httpc_global_init(&err);
    char owner[SDRA_STORE_ID_MAX];
    snprintf(owner, sizeof owner, "run:%d", (int)getpid());
    while (rc == 0) {
        sdra_store_outbox_item it;
        int r = sdra_outbox_deliver_one(st, &o->p, owner, sdra_store_now_ms(), &it, &err);
        if (r == SDRA_ENOTFOUND)
            break;
        if (r < 0) {
            rc = r;
            break;
        }
        sdra_store_outbox_release(&it);
    }
    sdra_store_outbox_filter f = {.org = SDRA_STORE_ORG_DEFAULT, .call_id = call_id, .state = -1};
    sdra_store_outbox_item items[16];
    int n = 0;
    if (rc == 0 && sdra_store_outbox_query(st, &f, items, 16, &n, &err) == 0)
        for (int i = 0; i < n; i++) {
            printf("outbox: %s %s%s%s\n", items[i].key, sdra_store_outbox_state_name(items[i].state),
                   items[i].last_error[0] ? ": " : "", items[i].last_error);
            sdra_store_outbox_release(&items[i]);
        }
    sdra_store_close(st);
    return rc < 0 ? cli_fail(&err) : SDRA_EXIT_OK;
}
