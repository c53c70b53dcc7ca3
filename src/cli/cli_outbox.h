/*
 * cli_outbox.h - the delivery options `sdra run`, `sdra serve` and `sdra outbox deliver` share
 * (the same keys in the config file): which CRM and mail transport effects go to, the delivery
 * mode, the review policy, webhooks and business hours. Secrets never come from flags: the
 * webhook secret is $SDRA_WEBHOOK_SECRET or --webhook-secret-file.
 */
#ifndef SDRA_CLI_OUTBOX_H
#define SDRA_CLI_OUTBOX_H

#include <getopt.h>
#include "sdra/outbox.h"

#define CLI_OUTBOX_ID 0x4f00
#define CLI_OUTBOX_N 12
#define CLI_OUTBOX_LONGOPTS                                                                              \
    {"crm", required_argument, 0, CLI_OUTBOX_ID}, {"mail", required_argument, 0, CLI_OUTBOX_ID + 1},     \
        {"deliver", required_argument, 0, CLI_OUTBOX_ID + 2},                                            \
        {"review", required_argument, 0, CLI_OUTBOX_ID + 3},                                             \
        {"webhook-url", required_argument, 0, CLI_OUTBOX_ID + 4},                                        \
        {"webhook-secret-file", required_argument, 0, CLI_OUTBOX_ID + 5},                                \
        {"business-hours", required_argument, 0, CLI_OUTBOX_ID + 6},                                     \
        {"default-tz", required_argument, 0, CLI_OUTBOX_ID + 7},                                         \
        {"allow-private-callbacks", no_argument, 0, CLI_OUTBOX_ID + 8},                                  \
        {"outbox-max-attempts", required_argument, 0, CLI_OUTBOX_ID + 9},                                \
        {"outbox-retry-base-ms", required_argument, 0, CLI_OUTBOX_ID + 10},                              \
        {"outbox-lease-ms", required_argument, 0, CLI_OUTBOX_ID + 11}
#define CLI_OUTBOX_HELP                                                                                  \
    "delivery (the outbox; docs/outbox.md):\n"                                                          \
    "  --crm BACKEND          local (default) | hubspot | salesforce: a remote CRM gets each call\n"     \
    "                         through the outbox (the local CRM is written as well)\n"                  \
    "  --mail TRANSPORT       none (default) | smtp | imap | gmail | graph (settings from the\n"        \
    "                         environment, docs/connectors.md)\n"                                       \
    "  --deliver MODE         none | draft (default) | send: what happens to the email\n"               \
    "  --review POLICY        always | when_poor (default) | never: hold packages for approval\n"       \
    "                         ('sdra outbox approve ID')\n"                                             \
    "  --webhook-url URL      POST call.completed, call.failed, email.sent, crm.synced here, signed\n"  \
    "                         with $SDRA_WEBHOOK_SECRET (or --webhook-secret-file FILE)\n"              \
    "  --webhook-secret-file F  the webhook signing secret (first line of F)\n"                        \
    "  --business-hours H     send email only in HH:MM-HH:MM[,mon-fri] of the contact's zone\n"         \
    "  --default-tz ZONE      the contact's zone when the call names none (default UTC)\n"              \
    "  --allow-private-callbacks  a call's callback_url may be a loopback/private address\n"            \
    "  --outbox-max-attempts N  tries before an entry is dead (default 8)\n"                            \
    "  --outbox-retry-base-ms N first retry delay, doubled each time (default 2000)\n"                  \
    "  --outbox-lease-ms N    a delivery's lease: a crashed worker's entry is taken after it (60000)\n"

typedef struct cli_outbox {
    sdra_outbox_params p;
    bool set;                /* an option was given */
    char secret[512];
} cli_outbox;

void cli_outbox_init(cli_outbox *o);
/* Handles option id c (CLI_OUTBOX_ID..+CLI_OUTBOX_N-1): 0 handled, 1 not ours, SDRA_EXIT_USAGE
 * after printing the error. */
int cli_outbox_option(cli_outbox *o, const char *cmd, int c, const char *arg);
/* After parsing: the secret from the environment; checks that go across options. */
int cli_outbox_finish(cli_outbox *o, const char *cmd);
/* `sdra run`: records the package's effects (call call_id, directory dir) in the outbox of
 * data_dir and delivers what is due; prints one line per entry. An exit status. */
int cli_outbox_run(cli_outbox *o, const char *data_dir, const char *dir, const char *call_id);

#endif
