/*
 * cli_outbox.c - parsing of the shared delivery options (cli_outbox.h).
 */
#include "cli.h"
#include "cli_outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdra/util.h"

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
