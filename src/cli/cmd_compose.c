/*
 * cmd_compose.c - `sdra compose ANALYSIS`: the follow-up email for one analysed call. Reads the
 * analysis (and optionally call.json and a transcript), applies metadata given as options,
 * calls sdra_compose() and writes email.json, email.eml and invite.ics (when there is a
 * meeting) into --out. Prints the paths written; bad input is one line on stderr and exit 1.
 */
#include "cli.h"
#include "sdra/compose.h"
#include "sdra/util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ANALYSIS_BYTES (32u * 1024u * 1024u)

static void help(void)
{
    printf("usage: sdra compose ANALYSIS [options]\n\n"
           "Writes a personalised follow-up email for an analysed call: email.json, email.eml\n"
           "(MIME, text + HTML) and invite.ics when a meeting was agreed.\n\n"
           "options:\n"
           "  --call FILE           call metadata (call.json: names, emails, company, style)\n"
           "  --transcript FILE     the call's transcript (speaker names, and rep commitments\n"
           "                        the analysis did not list)\n"
           "  --style S             formal | friendly | concise | consultative\n"
           "  --template FILE       your own template (see docs/templates.md)\n"
           "  --playbook FILE       your playbook: answers to objections, those marked\n"
           "                        'email: yes' may go into the email (docs/templates.md)\n"
           "  --contact-email E     --contact-name N   --company C\n"
           "  --rep-email E         --rep-name N       --rep-company C\n"
           "  --call-id ID          call id (Message-ID and invite UID derive from it)\n"
           "  --in-reply-to MSGID   the previous email to this contact (<id@domain>): the\n"
           "                        message gets In-Reply-To and References (a thread)\n"
           "  --now T               Date of the message, Unix seconds (reproducible output)\n"
           "  --out DIR             output directory (default .)\n"
           "  --config FILE         options from FILE first (default $SDRA_CONFIG; docs/config.md)\n"
           "  -q, --quiet           print nothing on success\n");
}

int cmd_compose(int argc, char **argv)
{
    static const struct option opts[] = {
        {"call", required_argument, 0, 'c'},
        {"transcript", required_argument, 0, 't'},
        {"style", required_argument, 0, 's'},
        {"template", required_argument, 0, 'T'},
        {"contact-email", required_argument, 0, 1},
        {"contact-name", required_argument, 0, 2},
        {"company", required_argument, 0, 3},
        {"rep-name", required_argument, 0, 4},
        {"rep-email", required_argument, 0, 5},
        {"rep-company", required_argument, 0, 6},
        {"call-id", required_argument, 0, 7},
        {"now", required_argument, 0, 8},
        {"playbook", required_argument, 0, 9},
        {"in-reply-to", required_argument, 0, 10},
        {"out", required_argument, 0, 'o'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    static const char *fields[] = {NULL, "contact_email", "contact_name", "company", "rep_name",
                                   "rep_email", "rep_company", "id"};
    CLI_CONFIG("compose", opts, argc, argv);
    const char *call_path = NULL, *transcript_path = NULL, *out_dir = ".";
    const char *overrides[8] = {0};
    int quiet = 0;
    sdra_compose_params p = sdra_compose_default_params();
    sdra_error err = {0};
    sdra_call_info call = {0};
    json_t *analysis = NULL, *call_doc = NULL;
    sdra_transcript *t = NULL;
    sdra_email *e = NULL;
    int ret = SDRA_EXIT_FAIL, c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:t:s:T:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': call_path = optarg; break;
        case 't': transcript_path = optarg; break;
        case 's': p.style = optarg; break;
        case 'T': p.template_path = optarg; break;
        case 'o': out_dir = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': help(); return SDRA_EXIT_OK;
        case 9: p.playbook_path = optarg; break;
        case 10: p.in_reply_to = optarg; break;
        case 8: {
            char *end = NULL;
            errno = 0;
            long long v = strtoll(optarg, &end, 10);
            if (errno || *end || v <= 0)
                return cli_usage_error("compose", "--now: '%s' is not a Unix time", optarg);
            p.now_s = v;
            break;
        }
        case '?':
            return cli_usage_error("compose", "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
        default:
            if (c >= 1 && c <= 7)
                overrides[c] = optarg;
            break;
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("compose", "expected one ANALYSIS file");
    const char *analysis_path = argv[optind];

    if (call_path) {
        if (sdra_json_load_file(&call_doc, call_path, 1024 * 1024, &err) < 0 ||
            sdra_call_info_from_json(&call, call_doc, &err) < 0) {
            if (strncmp(err.msg, call_path, strlen(call_path)))
                sdra_error_prefix(&err, "%s", call_path);
            goto done;
        }
    }
    for (int i = 1; i <= 7; i++)
        if (overrides[i] && sdra_call_info_set(&call, fields[i], overrides[i], &err) < 0)
            goto done;
    if (p.style && sdra_call_info_set(&call, "style", p.style, &err) < 0)
        goto done;
    if (sdra_json_load_file(&analysis, analysis_path, MAX_ANALYSIS_BYTES, &err) < 0)
        goto done;
    if (transcript_path && sdra_transcript_load(&t, transcript_path, call.rep_name, &err) < 0)
        goto done;
    if (sdra_compose(&e, analysis, t, &call, &p, &err) < 0) {
        if (strncmp(err.msg, "analysis", 8) == 0)
            sdra_error_prefix(&err, "%s", analysis_path);
        goto done;
    }
    if (sdra_mkdir_p(out_dir, &err) < 0 || sdra_email_write_dir(e, out_dir, &err) < 0)
        goto done;
    if (!quiet) {
        if (sdra_email_skipped(e))
            printf("no email: %s\nwrote %s/email.json\n", sdra_email_skipped(e), out_dir);
        else
            printf("wrote %s/email.json\nwrote %s/email.eml\n%s%s%s", out_dir, out_dir,
                   sdra_email_ics(e) ? "wrote " : "", sdra_email_ics(e) ? out_dir : "",
                   sdra_email_ics(e) ? "/invite.ics\n" : "");
    }
    ret = SDRA_EXIT_OK;
done:
    if (ret != SDRA_EXIT_OK)
        cli_fail(&err);
    sdra_email_destroy(e);
    sdra_transcript_destroy(t);
    sdra_call_info_release(&call);
    json_decref(analysis);
    json_decref(call_doc);
    return ret;
}
