/*
 * cmd_privacy.c - `sdra privacy export|erase|policy|purge`: data-subject rights and retention
 * on a server's data directory (sdra/rights.h, docs/security.md). Every action is audited as
 * "cli:USER" from "local"; calls are deleted the way DELETE /v1/calls/{id} deletes them
 * (sdra_server_call_remove after the audit entry).
 */
#include "cli.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sdra/crm.h"
#include "sdra/date.h"
#include "sdra/rights.h"
#include "sdra/server.h"
#include "sdra/util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sdra privacy export --email ADDRESS [--org NAME] [-o FILE] [--data DIR]\n"
            "       sdra privacy erase --email ADDRESS [--org NAME] [--yes] [--data DIR]\n"
            "       sdra privacy policy show [--org NAME] [--data DIR]\n"
            "       sdra privacy policy set [--org NAME] [--audio-days N] [--transcript-days N]\n"
            "            [--analysis-days N] [--email-days N] [--call-days N] [--crm-days N]\n"
            "            [--require-consent yes|no] [--data DIR]\n"
            "       sdra privacy purge [--org NAME] [--dry-run] [--now TIME] [--data DIR]\n\n"
            "Data-subject rights, retention and consent (docs/security.md).\n"
            "  export   everything held about a person as one JSON document (sdra.privacy.export/1)\n"
            "  erase    deletes their calls, CRM rows and outbox entries and pseudonymises the audit\n"
            "           entries about them; prints the counts as JSON. Asks first unless --yes.\n"
            "  policy   an organisation's retention policy: days after a call's creation when its\n"
            "           audio, transcript, analysis, email artifacts or the whole call are deleted\n"
            "           (0 = keep); --crm-days: CRM rows of a deleted call go too once this old\n"
            "           (0 = keep them); --require-consent yes: uploads need consent=obtained or\n"
            "           not_required. 'set' changes only the fields given.\n"
            "  purge    applies the policies now (what 'sdra serve' does every --retention-sweep-s)\n"
            "options:\n"
            "  --org NAME     organisation (default \"default\"; purge: every organisation)\n"
            "  -o FILE        export: write the document to FILE (default stdout)\n"
            "  --yes          erase without asking\n"
            "  --dry-run      purge: count what would be deleted, delete nothing\n"
            "  --now TIME     purge, testing aid: the clock, as epoch milliseconds or YYYY-MM-DD (UTC)\n"
            "  --data DIR     data directory (default $SDRA_DATA or ~/.local/share/sdra)\n"
            "  --master-key-file FILE, --master-key-cmd CMD\n"
            "                 the master key of an encrypted data directory (else $SDRA_MASTER_KEY,\n"
            "                 else DIR/master.key when it exists; docs/security.md)\n");
}

typedef struct cli_delete {
    sdra_store *store;
    const char *data_dir;
    const char *org;  /* NULL: any organisation (the purge) */
    bool audit; /* write "call.delete" first (erase); the purge audited already */
} cli_delete;

static int delete_call(void *user, const char *call_id, bool keep_crm, sdra_error *err)
{
    cli_delete *d = user;
    sdra_store_call sc;
    int rc = sdra_store_call_get(d->store, d->org, call_id, &sc, err);
    if (rc < 0)
        return rc;
    char org[SDRA_STORE_ID_MAX];
    sdra_strlcpy(org, sc.org, sizeof org);
    sdra_store_call_release(&sc);
    if (d->audit && (rc = cli_audit(d->store, org, "call.delete", call_id, NULL, err)) < 0)
        return rc;
    return sdra_server_call_remove(d->store, d->data_dir, org, call_id, keep_crm, err);
}

/* "1767225600000" (epoch ms), "2026-01-01" (UTC midnight) or an ISO 8601 time with its zone;
 * -1 otherwise. */
static int64_t parse_now(const char *s)
{
    int64_t ms;
    return sdra_time_parse_ms(s, 1, &ms) == 0 ? ms : -1;
}

static int print_json(json_t *doc, const char *out, sdra_error *err)
{
    char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    size_t n = text ? strlen(text) : 0;
    char *grown = text ? realloc(text, n + 2) : NULL;
    if (!grown) {
        free(text);
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    }
    grown[n] = '\n';
    grown[n + 1] = '\0';
    int rc = 0;
    if (out) {
        rc = sdra_file_write_atomic(out, grown, n + 1, err);
    } else {
        fputs(grown, stdout);
        fflush(stdout);
    }
    free(grown);
    return rc;
}

static bool confirm(const char *email)
{
    if (!isatty(STDIN_FILENO))
        return false;
    fprintf(stderr, "Erase every call, CRM row and outbox entry of %s? This cannot be undone. Type 'yes': ", email);
    char line[16];
    return fgets(line, sizeof line, stdin) && !strcmp(line, "yes\n");
}

enum { O_DATA = 1, O_EMAIL, O_ORG, O_YES, O_DRY, O_NOW, O_AUDIO, O_TRANSCRIPT, O_ANALYSIS, O_EMAILD, O_CALL, O_CRM,
       O_CONSENT, O_MKFILE, O_MKCMD };

int cmd_privacy(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, O_DATA},          {"email", required_argument, 0, O_EMAIL},
        {"org", required_argument, 0, O_ORG},            {"yes", no_argument, 0, O_YES},
        {"dry-run", no_argument, 0, O_DRY},              {"now", required_argument, 0, O_NOW},
        {"audio-days", required_argument, 0, O_AUDIO},   {"transcript-days", required_argument, 0, O_TRANSCRIPT},
        {"analysis-days", required_argument, 0, O_ANALYSIS}, {"email-days", required_argument, 0, O_EMAILD},
        {"call-days", required_argument, 0, O_CALL},     {"crm-days", required_argument, 0, O_CRM},
        {"require-consent", required_argument, 0, O_CONSENT}, {"out", required_argument, 0, 'o'},
        {"master-key-file", required_argument, 0, O_MKFILE}, {"master-key-cmd", required_argument, 0, O_MKCMD},
        {"help", no_argument, 0, 'h'},                   {0, 0, 0, 0}};
    const char *data = NULL, *email = NULL, *org = NULL, *out = NULL, *mk_file = NULL, *mk_cmd = NULL;
    bool yes = false, dry = false, org_given = false;
    int64_t now = -1;
    int days[6] = {-1, -1, -1, -1, -1, -1}, consent = -1;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (c) {
        case O_DATA: data = optarg; break;
        case O_EMAIL: email = optarg; break;
        case O_ORG: org = optarg, org_given = true; break;
        case O_YES: yes = true; break;
        case O_DRY: dry = true; break;
        case 'o': out = optarg; break;
        case O_MKFILE: mk_file = optarg; break;
        case O_MKCMD: mk_cmd = optarg; break;
        case O_NOW:
            if ((now = parse_now(optarg)) < 0)
                return cli_usage_error("privacy", "--now wants epoch milliseconds or YYYY-MM-DD, got '%s'", optarg);
            break;
        case O_AUDIO: case O_TRANSCRIPT: case O_ANALYSIS: case O_EMAILD: case O_CALL: case O_CRM: {
            long v = cli_parse_count(optarg);
            if (v < 0 || v > 36500)
                return cli_usage_error("privacy", "--%s wants 0..36500 days (0 = keep), got '%s'",
                                       opts[c - 1].name, optarg);
            days[c - O_AUDIO] = (int)v;
            break;
        }
        case O_CONSENT:
            if (strcmp(optarg, "yes") && strcmp(optarg, "no"))
                return cli_usage_error("privacy", "--require-consent wants yes or no, got '%s'", optarg);
            consent = !strcmp(optarg, "yes");
            break;
        case 'h': usage(stdout); return SDRA_EXIT_OK;
        default: return cli_usage_error("privacy", "bad option");
        }
    }
    if (optind >= argc)
        return cli_usage_error("privacy", "say export, erase, policy or purge");
    const char *verb = argv[optind++];
    const char *sub = NULL;
    if (!strcmp(verb, "policy")) {
        if (optind >= argc || (strcmp(argv[optind], "show") && strcmp(argv[optind], "set")))
            return cli_usage_error("privacy", "say policy show or policy set");
        sub = argv[optind++];
    } else if (strcmp(verb, "export") && strcmp(verb, "erase") && strcmp(verb, "purge")) {
        return cli_usage_error("privacy", "unknown subcommand '%s'", verb);
    }
    if (optind < argc)
        return cli_usage_error("privacy", "unexpected argument '%s'", argv[optind]);
    if (!org)
        org = SDRA_RIGHTS_DEFAULT_ORG;
    bool needs_email = !strcmp(verb, "export") || !strcmp(verb, "erase");
    if (needs_email && !email)
        return cli_usage_error("privacy", "%s needs --email ADDRESS", verb);
    if (!needs_email && email)
        return cli_usage_error("privacy", "--email is for export and erase");
    if (out && strcmp(verb, "export"))
        return cli_usage_error("privacy", "-o is for export");
    if ((dry || now >= 0) && strcmp(verb, "purge"))
        return cli_usage_error("privacy", "--dry-run and --now are for purge");
    bool policy_opts = consent >= 0;
    for (int i = 0; i < 6; i++)
        policy_opts |= days[i] >= 0;
    if (policy_opts && !(sub && !strcmp(sub, "set")))
        return cli_usage_error("privacy", "the policy options are for 'policy set'");
    if (sub && !strcmp(sub, "set") && !policy_opts)
        return cli_usage_error("privacy", "policy set needs at least one of --audio-days ... --require-consent");

    sdra_error err = {0};
    char norm[256];
    if (email && sdra_rights_email_normalise(norm, sizeof norm, email, &err) < 0)
        return cli_usage_error("privacy", "--email: %s", err.msg);
    if (out && sdra_file_write_check(out, &err) < 0)
        return cli_usage_error("privacy", "-o: %s", err.msg);
    char dir[1024], actor[SDRA_STORE_ID_MAX];
    if (sdra_crm_default_data_dir(dir, sizeof dir, data) < 0)
        return cli_usage_error("privacy", "no data directory: give --data DIR");
    cli_audit_actor(actor, sizeof actor);
    sdra_store *st = NULL;
    json_t *doc = NULL;
    sdra_server_unseal *unseal = NULL; /* encrypted at rest: files, fields and the CRM opened */
    int rc = sdra_server_store_open(&st, dir, &err);
    if (rc < 0 || (rc = sdra_server_unseal_begin(&unseal, st, dir, mk_file, mk_cmd, &err)) < 0)
        goto done;
    sdra_rights_ctx cx = sdra_rights_ctx_init(st, dir, org, actor, "local");
    cli_delete del = {st, dir, org, true};
    cx.delete_call = delete_call;
    cx.user = &del;
    if (!strcmp(verb, "export")) {
        if ((rc = sdra_rights_export(&cx, norm, &doc, &err)) == 0)
            rc = print_json(doc, out, &err);
    } else if (!strcmp(verb, "erase")) {
        if (!yes && !confirm(norm)) {
            sdra_store_close(st);
            return cli_usage_error("privacy", "erase changes nothing without --yes (or 'yes' typed at a terminal)");
        }
        sdra_rights_counts n;
        if ((rc = sdra_rights_erase(&cx, norm, &n, &err)) == 0) {
            doc = json_pack("{s:s,s:o}", "org", org, "erased", sdra_rights_counts_to_json(&n));
            rc = print_json(doc, NULL, &err);
        }
    } else if (!strcmp(verb, "purge")) {
        if (!org_given)
            cx.org = del.org = NULL;
        if (now >= 0)
            cx.now_ms = now;
        del.audit = false; /* each call's purge is audited as retention.purge */
        sdra_rights_counts n;
        if ((rc = sdra_retention_purge(&cx, dry, &n, &err)) == 0) {
            doc = json_pack("{s:b,s:o}", "dry_run", dry, "purged", sdra_rights_counts_to_json(&n));
            rc = print_json(doc, NULL, &err);
        }
    } else {
        sdra_store_policy p;
        if ((rc = sdra_store_policy_get(st, org, &p, &err)) < 0)
            goto done;
        if (!strcmp(sub, "set")) {
            int *f[6] = {&p.audio_days, &p.transcript_days, &p.analysis_days, &p.email_days, &p.call_days, &p.crm_days};
            for (int i = 0; i < 6; i++)
                if (days[i] >= 0)
                    *f[i] = days[i];
            if (consent >= 0)
                p.require_consent = consent;
            char detail[SDRA_STORE_AUDIT_DETAIL_MAX];
            sdra_retention_policy_describe(&p, detail, sizeof detail);
            int64_t at = sdra_store_now_ms();
            if ((rc = cli_audit(st, org, "retention.set", org, detail, &err)) < 0 ||
                (rc = sdra_store_policy_put(st, &p, at, &err)) < 0)
                goto done;
            p.updated_ms = at;
        }
        doc = sdra_retention_policy_to_json(&p);
        rc = print_json(doc, NULL, &err);
    }
done:
    json_decref(doc);
    sdra_server_unseal_end(unseal);
    sdra_store_close(st);
    return rc < 0 ? cli_fail(&err) : SDRA_EXIT_OK;
}
