/*
 * cmd_outbox.c - `sdra outbox list|show|approve|retry|cancel|deliver` on a data directory (the
 * server's, or the one `sdra run` keeps): the same store operations as /v1/outbox, changes
 * audited as "cli:<user>". `deliver` performs due entries without a server (--once: until
 * none is due, then exit).
 */
#include "cli.h"
#include "cli_outbox.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sdra/crm.h"
#include "sdra/httpc.h"
#include "sdra/server.h"
#include "sdra/util.h"

#define LIST_MAX 1000

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sdra outbox list [--state S] [--call ID] [--kind K] [--json]\n"
            "       sdra outbox show ID\n"
            "       sdra outbox approve|retry|cancel ID\n"
            "       sdra outbox deliver [--once] [delivery options]\n\n"
            "The outbox holds every external effect of a call: the sync to a remote CRM (crm.sync),\n"
            "the follow-up email (mail.deliver) and webhooks, each under its idempotency key (the ID).\n"
            "States: queued, running, done, dead, held (waiting for approval), canceled.\n"
            "  approve   a held entry is queued (sent at its send_at, or now)\n"
            "  retry     a dead entry is queued again with its attempts reset\n"
            "  cancel    a queued or held entry will never be sent\n"
            "  deliver   perform due entries here (no server needed); --once stops when none is due\n\n"
            "options:\n"
            "  --data DIR             data directory (default $SDRA_DATA or ~/.local/share/sdra)\n"
            "  --org ORG              only this organisation's entries (default: all)\n"
            "  --state S              list: queued|running|done|dead|held|canceled\n"
            "  --call ID              list: one call's entries\n"
            "  --kind K               list: crm.sync|mail.deliver|webhook\n"
            "  --json                 list, show: JSON instead of text\n"
            "  --once                 deliver: stop when nothing is due\n"
            "  --master-key-file F    deliver: the master key of an encrypted data directory\n"
            CLI_OUTBOX_HELP
            "  -h, --help             this text\n"
            "Exit status: 0 done, 1 not found or not possible in the entry's state, 2 usage.\n");
}

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void print_item(const sdra_store_outbox_item *it, bool json)
{
    json_t *o = sdra_outbox_item_json(it);
    if (json) {
        char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
        if (s)
            printf("%s\n", s);
        free(s);
    } else {
        char *t = o ? json_dumps(json_object_get(o, "target"), JSON_COMPACT) : NULL;
        printf("id:          %s\nkind:        %s\ncall:        %s\norg:         %s\nstate:       %s\n"
               "attempts:    %d\nsend_at:     %s\nnext:        %s\nremote_id:   %s\nlast_error:  %s\ntarget:      %s\n",
               it->key, it->kind, it->call_id, it->org, sdra_store_outbox_state_name(it->state), it->attempts,
               json_string_value(json_object_get(o, "send_at")) ? json_string_value(json_object_get(o, "send_at")) : "-",
               json_string_value(json_object_get(o, "next_attempt_at"))
                   ? json_string_value(json_object_get(o, "next_attempt_at"))
                   : "-",
               it->remote_id[0] ? it->remote_id : "-", it->last_error[0] ? it->last_error : "-", t ? t : "{}");
        free(t);
    }
    json_decref(o);
}

static int do_list(sdra_store *st, const sdra_store_outbox_filter *f, bool json)
{
    sdra_store_outbox_item *items = calloc(LIST_MAX, sizeof *items);
    if (!items)
        return cli_fail(&(sdra_error){.code = SDRA_ENOMEM, .msg = "out of memory"});
    int n = 0;
    sdra_error err = {0};
    if (sdra_store_outbox_query(st, f, items, LIST_MAX, &n, &err) < 0) {
        free(items);
        return cli_fail(&err);
    }
    json_t *arr = json ? json_array() : NULL;
    if (!json)
        printf("%-44s %-9s %-13s %-9s %s\n", "ID", "STATE", "KIND", "ATTEMPTS", "LAST ERROR");
    for (int i = 0; i < n; i++) {
        if (json)
            json_array_append_new(arr, sdra_outbox_item_json(&items[i]));
        else
            printf("%-44s %-9s %-13s %-9d %s\n", items[i].key, sdra_store_outbox_state_name(items[i].state),
                   items[i].kind, items[i].attempts, items[i].last_error[0] ? items[i].last_error : "-");
        sdra_store_outbox_release(&items[i]);
    }
    free(items);
    if (json) {
        char *s = json_dumps(arr, JSON_INDENT(2));
        if (s)
            printf("%s\n", s);
        free(s);
        json_decref(arr);
    }
    return SDRA_EXIT_OK;
}

static int do_deliver(sdra_store *st, const char *dir, cli_outbox *ob, bool once, const char *mk_file)
{
    sdra_error err = {0};
    sdra_server_unseal *u = NULL;
    if (sdra_httpc_global_init(&err) < 0)
        return cli_fail(&err);
    if (sdra_server_unseal_begin(&u, st, dir, mk_file, NULL, &err) < 0)
        return cli_fail(&err);
    ob->p.data_dir = dir;
    char owner[SDRA_STORE_ID_MAX], host[40] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    snprintf(owner, sizeof owner, "%.30s:%d:cli-outbox", host, (int)getpid());
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    int n_done = 0, n_other = 0, rc = 0;
    while (!stop_flag) {
        sdra_store_outbox_item it;
        rc = sdra_outbox_deliver_one(st, &ob->p, owner, sdra_store_now_ms(), &it, &err);
        if (rc == 0) {
            printf("%s %s%s%s\n", it.key, sdra_store_outbox_state_name(it.state), it.last_error[0] ? ": " : "",
                   it.last_error);
            fflush(stdout);
            if (it.state == SDRA_JOB_DONE)
                n_done++;
            else
                n_other++;
            sdra_store_outbox_release(&it);
            continue;
        }
        if (rc != SDRA_ENOTFOUND)
            break;
        rc = 0;
        if (once)
            break;
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
    sdra_server_unseal_end(u);
    if (rc < 0)
        return cli_fail(&err);
    fprintf(stderr, "sdra: outbox: %d delivered, %d not (see 'sdra outbox list')\n", n_done, n_other);
    return SDRA_EXIT_OK;
}

int cmd_outbox(int argc, char **argv)
{
    enum { O_DATA = 1, O_ORG, O_STATE, O_CALL, O_KIND, O_JSON, O_ONCE, O_MKFILE };
    static const struct option opts[] = {
        {"data", required_argument, 0, O_DATA}, {"org", required_argument, 0, O_ORG},
        {"state", required_argument, 0, O_STATE}, {"call", required_argument, 0, O_CALL},
        {"kind", required_argument, 0, O_KIND}, {"json", no_argument, 0, O_JSON},
        {"once", no_argument, 0, O_ONCE}, {"master-key-file", required_argument, 0, O_MKFILE},
        {"help", no_argument, 0, 'h'}, CLI_OUTBOX_LONGOPTS, {0, 0, 0, 0}};
    CLI_CONFIG("outbox", opts, argc, argv);
    const char *data = NULL, *org = NULL, *state = NULL, *call = NULL, *kind = NULL, *mk_file = NULL;
    bool json = false, once = false;
    cli_outbox ob;
    cli_outbox_init(&ob);
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_DATA: data = optarg; break;
        case O_ORG: org = optarg; break;
        case O_STATE: state = optarg; break;
        case O_CALL: call = optarg; break;
        case O_KIND: kind = optarg; break;
        case O_JSON: json = true; break;
        case O_ONCE: once = true; break;
        case O_MKFILE: mk_file = optarg; break;
        case 'h': usage(stdout); return SDRA_EXIT_OK;
        case '?': return SDRA_EXIT_USAGE;
        default: {
            int r = cli_outbox_option(&ob, "outbox", c, optarg);
            if (r == SDRA_EXIT_USAGE)
                return r;
            if (r)
                return cli_usage_error("outbox", "bad option");
        }
        }
    }
    if (optind >= argc)
        return cli_usage_error("outbox", "what to do? list, show, approve, retry, cancel or deliver");
    const char *verb = argv[optind++];
    const char *id = optind < argc ? argv[optind++] : NULL;
    bool needs_id = !strcmp(verb, "show") || !strcmp(verb, "approve") || !strcmp(verb, "retry") ||
                    !strcmp(verb, "cancel");
    if (!needs_id && strcmp(verb, "list") && strcmp(verb, "deliver"))
        return cli_usage_error("outbox", "unknown action '%s' (list, show, approve, retry, cancel, deliver)", verb);
    if (needs_id && !id)
        return cli_usage_error("outbox", "%s needs the entry's ID (see 'sdra outbox list')", verb);
    if (!needs_id && id)
        return cli_usage_error("outbox", "unexpected argument '%s'", id);
    if (optind < argc)
        return cli_usage_error("outbox", "unexpected argument '%s'", argv[optind]);
    if (org && !sdra_store_org_valid(org))
        return cli_usage_error("outbox", "--org '%.80s': use 1-63 of [a-z0-9-]", org);
    sdra_store_outbox_filter f = {.org = org, .call_id = call, .kind = kind, .state = -1};
    if (state && (f.state = sdra_store_outbox_state_parse(state)) < 0)
        return cli_usage_error("outbox", "--state wants queued, running, done, dead, held or canceled, got '%s'", state);
    if (call && !sdra_store_org_valid(call))
        return cli_usage_error("outbox", "--call '%.80s' is not a call id", call);
    if (strcmp(verb, "deliver") && ob.set)
        return cli_usage_error("outbox", "delivery options go with 'sdra outbox deliver'");
    if (cli_outbox_finish(&ob, "outbox"))
        return SDRA_EXIT_USAGE;
    char dir[1024];
    if (sdra_crm_default_data_dir(dir, sizeof dir, data) < 0)
        return cli_usage_error("outbox", "no data directory: give --data DIR");
    sdra_store *st = NULL;
    sdra_error err = {0};
    if (sdra_server_store_open(&st, dir, &err) < 0)
        return cli_fail(&err);
    int rc = SDRA_EXIT_OK;
    if (!strcmp(verb, "list")) {
        rc = do_list(st, &f, json);
    } else if (!strcmp(verb, "deliver")) {
        rc = do_deliver(st, dir, &ob, once, mk_file);
    } else {
        sdra_store_outbox_item it;
        if (sdra_store_outbox_get(st, org, id, &it, &err) < 0) {
            rc = cli_fail(&err);
        } else if (!strcmp(verb, "show")) {
            print_item(&it, json);
            sdra_store_outbox_release(&it);
        } else {
            sdra_outbox_verb v = !strcmp(verb, "approve") ? SDRA_OUTBOX_APPROVE
                                 : !strcmp(verb, "retry") ? SDRA_OUTBOX_RETRY
                                                          : SDRA_OUTBOX_CANCEL;
            char action[32];
            snprintf(action, sizeof action, "outbox.%s", verb);
            if (cli_audit(st, it.org, action, it.call_id, id, &err) < 0 ||
                sdra_store_outbox_change(st, org, id, v, sdra_store_now_ms(), &err) < 0) {
                rc = cli_fail(&err);
            } else {
                sdra_store_outbox_release(&it);
                if (sdra_store_outbox_get(st, org, id, &it, &err) == 0)
                    printf("%s %s\n", id, sdra_store_outbox_state_name(it.state));
            }
            sdra_store_outbox_release(&it);
        }
    }
    sdra_store_close(st);
    return rc;
}
