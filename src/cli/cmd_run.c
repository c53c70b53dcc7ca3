/*
 * cmd_run.c - `sdra run AUDIO`: the product's main job. Ingest, transcribe, analyze, compose,
 * sync to the CRM and write the report, into OUT/<call-id>/, printing a line per stage.
 *
 * The call id is derived from the audio's content and name, so running the same recording again
 * lands in the same package directory: stages whose outputs are current are skipped (resume),
 * and the CRM sync upserts (no duplicates).
 */
#include "cli.h"
#include "cli_outbox.h"
#include "sdra/crypt.h"
#include "sdra/call.h"
#include "sdra/compose.h"
#include "sdra/pipeline.h"
#include "sdra/privacy.h"
#include "sdra/tz.h"
#include "sdra/util.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: sdra run AUDIO [options]\n\n"
        "Runs ingest -> transcribe -> analyze -> compose -> sync -> report on one call recording\n"
        "and writes the follow-up package to OUT/<call-id>/: transcript.json and .txt,\n"
        "analysis.json, email.json, email.eml, invite.ics (when a meeting was agreed), crm.json\n"
        "and report.html. Re-running the same recording resumes and never duplicates CRM rows.\n\n"
        "who and when:\n"
        "  --contact-email E    the prospect's email address (CRM key, email recipient)\n"
        "  --contact-name N     the prospect's name\n"
        "  --company C          the prospect's company\n"
        "  --rep-name R         the rep's name       --rep-email E   the rep's address\n"
        "  --rep-company C      the rep's company (helps tell the rep from the prospect)\n"
        "  --call-date D        YYYY-MM-DD; anchors relative dates (default: today)\n"
        "  --consent C          recording consent: obtained|not_required|unknown (default unknown)\n"
        "  --timezone REP[,CONTACT]  IANA zones (Europe/Berlin): meeting times are the rep's; the\n"
        "                       invite carries the zone, the email names it and, when the\n"
        "                       contact's differs, their local time too (default: floating time)\n"
        "  --contact-timezone Z the contact's IANA zone alone (the same as --timezone's CONTACT)\n"
        "  --send-at T          when the email may go: RFC 3339 with a zone\n"
        "                       (2026-03-02T09:30:00-05:00), or 'next': the next business-hours\n"
        "                       slot (--business-hours, default 09:00-17:00 mon-fri) in the\n"
        "                       contact's zone\n"
        "  (the names above are also hints to the recognizer: it expects to hear them)\n"
        "follow-up:\n"
        "  --style S            formal|friendly|concise|consultative (default friendly)\n"
        "  --template FILE      your own email template (see docs/templates.md)\n"
        "  --playbook FILE      your answers to objections; entries marked 'email: yes' may\n"
        "                       go into the email (default data/playbook/playbook.txt if any)\n"
        "transcription (the same options as 'sdra transcribe'):\n"
        CLI_TR_HELP
        CLI_LLM_HELP
        "  --redact CLASSES     redact card,national_id,phone,email,bank,dob (or all) from the\n"
        "                       transcript before any later stage sees it (docs/privacy-redaction.md)\n"
        CLI_ASR_HELP
        "where:\n"
        "  --out DIR            package root (default ./out)\n"
        "  --data DIR           data directory with the local CRM (default $SDRA_DATA or\n"
        "                       ~/.local/share/sdra)\n"
        CLI_OUTBOX_HELP
        "  (with any delivery option the package's effects go into the outbox of the data\n"
        "  directory and what is due is delivered at once; a rerun never duplicates them)\n"
        "  --force              re-run every stage even when its output is current\n"
        "  --config FILE        options from FILE first (default $SDRA_CONFIG; docs/config.md)\n"
        "  --quiet              no progress output\n"
        "encryption at rest (docs/security.md; default: plaintext):\n"
        "  --encrypt            write the package encrypted (read it with 'sdra decrypt'); the\n"
        "                       local CRM rows stay plaintext\n"
        "  --master-key-file F  the master key (64 hex digits); else --master-key-cmd CMD\n"
        "  --master-key-cmd CMD (its stdout is the key), else $SDRA_MASTER_KEY\n");
}

/* FNV-1a 64 over the file's bytes: a stable id for the same recording. */
static int hash_file(const char *path, uint64_t *out, sdra_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return sdra_error_set(err, sdra_code_from_errno(errno), "%s: %s", path, strerror(errno));
    uint64_t h = 1469598103934665603ULL;
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < n; i++) {
            h ^= buf[i];
            h *= 1099511628211ULL;
        }
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return sdra_error_set(err, SDRA_EIO, "%s: read error", path);
    *out = h;
    return 0;
}

static void make_call_id(char *out, size_t n, const char *path, uint64_t h)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char stem[41];
    size_t j = 0;
    for (const char *p = base; *p && *p != '.' && j < sizeof stem - 1; p++) {
        unsigned char c = (unsigned char)*p;
        if (isalnum(c))
            stem[j++] = (char)tolower(c);
        else if (j && stem[j - 1] != '-')
            stem[j++] = '-';
    }
    while (j && stem[j - 1] == '-')
        j--;
    stem[j] = '\0';
    snprintf(out, n, "%s%s%010llx", stem, j ? "-" : "", (unsigned long long)(h & 0xffffffffffULL));
}

/* Writes call.json only when its content changed, so an unchanged re-run keeps later stages
 * current. */
static int write_call_json(const char *dir, const sdra_call_info *call, sdra_error *err)
{
    char path[PATH_MAX];
    sdra_path_join(path, sizeof path, dir, "call.json");
    json_t *doc = sdra_call_info_to_json(call);
    if (!doc)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    char *want = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    char *have = NULL;
    int rc = 0;
    if (sdra_file_read(&have, NULL, path, 1u << 20, NULL) == 0 && want) {
        size_t wl = strlen(want);
        if (strncmp(have, want, wl) == 0 && (have[wl] == '\n' || have[wl] == '\0'))
            goto done;
    }
    rc = sdra_json_write_file(path, doc, err);
done:
    free(want);
    free(have);
    json_decref(doc);
    return rc;
}

typedef struct run_state {
    bool quiet;
    sdra_progress bar;
    double cpu_start_s; /* the process's CPU time (user + system) when the stage started */
} run_state;

/* The process's CPU time so far, user + system, in seconds: the stages run one after the
 * other, so its growth over a stage is that stage's cost, its helper threads included. */
static double process_cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void on_stage(void *user, int stage, int n, int done, int skipped, double elapsed_s)
{
    run_state *st = user;
    if (st->quiet)
        return;
    const sdra_stage *s = sdra_pipeline_stage(stage);
    if (!done) {
        st->cpu_start_s = process_cpu_s();
        return;
    }
    cli_progress_done();
    if (skipped)
        fprintf(stderr, "[%d/%d] %-10s current, skipped\n", stage + 1, n, s->name);
    else
        fprintf(stderr, "[%d/%d] %-10s done in %.1f s, %.3f s CPU\n", stage + 1, n, s->name, elapsed_s,
                process_cpu_s() - st->cpu_start_s);
}

static void print_summary(const char *dir)
{
    char path[PATH_MAX];
    json_t *a = NULL, *e = NULL, *c = NULL;
    sdra_path_join(path, sizeof path, dir, "analysis.json");
    sdra_json_load_file(&a, path, 64u << 20, NULL);
    sdra_path_join(path, sizeof path, dir, "email.json");
    sdra_json_load_file(&e, path, 64u << 20, NULL);
    sdra_path_join(path, sizeof path, dir, "crm.json");
    sdra_json_load_file(&c, path, 64u << 20, NULL);
    const json_t *q = json_object_get(a, "quality"); /* one line when the transcript is poor */
    if (json_is_true(json_object_get(q, "poor"))) {
        /* the estimate cannot see deletions: the range (docs/schemas/transcript.md) says how far
         * the real figure went above it on the calibration files, as the report does */
        const json_t *band = json_object_get(q, "wer_band");
        char range[48] = "";
        if (json_array_size(band) == 2)
            snprintf(range, sizeof range, ", likely %.0f-%.0f%%", 100 * json_number_value(json_array_get(band, 0)),
                     100 * json_number_value(json_array_get(band, 1)));
        fprintf(stderr, "sdra: warning: poor transcript (%.0f%% of words low-confidence, estimated "
                "WER %.0f%%%s): the package needs review\n",
                100 * json_number_value(json_object_get(q, "low_conf_share")),
                100 * json_number_value(json_object_get(q, "wer_estimate")), range);
    }
    if (sdra_compose_one_voice(a))
        fprintf(stderr, "sdra: warning: one voice in the recording: who said what is unknown, so the "
                "email lists no action items and needs review (--speakers 2 if two people spoke)\n");
    printf("package: %s/\n", dir);
    const char *outcome = json_string_value(json_object_get(a, "outcome"));
    if (outcome)
        printf("outcome: %s\n", outcome);
    json_t *obj = json_object_get(a, "objections"), *acts = json_object_get(e, "tasks");
    if (!json_is_array(acts)) /* compose's task list, in the rep's words, as the CRM has it */
        acts = json_object_get(a, "action_items");
    size_t i;
    json_t *v;
    printf("objections: %zu", json_array_size(obj));
    json_array_foreach(obj, i, v) printf("%s%s", i ? ", " : " (", json_string_value(json_object_get(v, "type")));
    printf("%s\n", json_array_size(obj) ? ")" : "");
    printf("action items: %zu\n", json_array_size(acts));
    json_array_foreach(acts, i, v) {
        const char *due = json_string_value(json_object_get(v, "due"));
        const char *owner = json_string_value(json_object_get(v, "owner"));
        const char *text = json_string_value(json_object_get(v, "text"));
        printf("  - [%s] %s", owner ? owner : "?", text ? text : "");
        if (due)
            printf(" (due %s)", due);
        printf("\n");
    }
    json_t *m = json_object_get(a, "next_meeting");
    if (json_is_object(m) && json_is_true(json_object_get(m, "approximate")))
        printf("next meeting: agreed for around %s, no day set (no invite)\n",
               json_string_value(json_object_get(m, "date")) ?: "?");
    else if (json_is_object(m))
        printf("next meeting: %s %s\n", json_string_value(json_object_get(m, "date")) ?: "?",
               json_string_value(json_object_get(m, "time")) ?: (json_string_value(json_object_get(m, "part_of_day")) ?: ""));
    const char *skipped = json_string_value(json_object_get(e, "skipped"));
    if (skipped)
        printf("email: not written (%s)\n", skipped);
    else if (json_string_value(json_object_get(e, "subject")))
        printf("email: \"%s\" -> %s/email.eml\n", json_string_value(json_object_get(e, "subject")), dir);
    if (json_is_true(json_object_get(e, "needs_review")))
        printf("email: needs review before it is sent (email.json review_reasons)\n");
    printf("report: %s/report.html\n", dir);
    json_decref(a);
    json_decref(e);
    json_decref(c);
}

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"contact-email", required_argument, 0, 1}, {"contact-name", required_argument, 0, 2},
        {"company", required_argument, 0, 3},       {"rep-name", required_argument, 0, 4},
        {"rep-email", required_argument, 0, 5},     {"rep-company", required_argument, 0, 6},
        {"call-date", required_argument, 0, 7},     {"style", required_argument, 0, 8},
        {"template", required_argument, 0, 9},      {"out", required_argument, 0, 14},
        {"data", required_argument, 0, 15},         {"force", no_argument, 0, 16},
        {"quiet", no_argument, 0, 'q'},             {"help", no_argument, 0, 'h'},
        {"redact", required_argument, 0, 17},       {"consent", required_argument, 0, 18},
        {"playbook", required_argument, 0, 40},
        {"encrypt", no_argument, 0, 41},            {"master-key-file", required_argument, 0, 42},
        {"master-key-cmd", required_argument, 0, 43},
        {"timezone", required_argument, 0, 44},
        {"send-at", required_argument, 0, 45},      {"contact-timezone", required_argument, 0, 46},
        CLI_LLM_LONGOPTS,                           CLI_ASR_LONGOPTS,
        CLI_OUTBOX_LONGOPTS,                        CLI_TR_LONGOPTS,
        {0, 0, 0, 0}};
    static const char *fields[] = {NULL, "contact_email", "contact_name", "company", "rep_name",
                                   "rep_email", "rep_company", "call_date", "style"};
    CLI_CONFIG("run", opts, argc, argv);
    sdra_call_info call = {0};
    sdra_pipeline_options po = {.rep_channel = -1};
    sdra_error err = {0};
    const char *out_root = "out", *data_opt = NULL, *mk_file = NULL, *mk_cmd = NULL;
    bool encrypt = false;
    sdra_crypt_key *master = NULL;
    sdra_crypt_sealer sealer;
    const sdra_seal_ops *prev_seal = NULL;
    bool sealing = false;
    int force = 0, c, rc = SDRA_EXIT_OK;
    run_state st = {0};
    cli_llm_opts lo = {0};
    cli_asr asr;
    cli_asr_init(&asr);
    cli_outbox ob;
    cli_outbox_init(&ob);
    sdra_transcribe_params tp = sdra_transcribe_default_params();
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (c) {
        case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 8:
            if (sdra_call_info_set(&call, fields[c], optarg, &err) < 0) {
                rc = cli_usage_error("run", "--%s: %s", opts[c - 1].name, err.msg);
                goto done;
            }
            break;
        case 18:
            if (sdra_call_info_set(&call, "consent", optarg, &err) < 0) {
                rc = cli_usage_error("run", "--consent: %s", err.msg);
                goto done;
            }
            break;
        case 9: po.template_path = optarg; break;
        case 40: po.playbook_path = optarg; break;
        case 14: out_root = optarg; break;
        case 15: data_opt = optarg; break;
        case 16: force = 1; break;
        case 17:
            if (sdra_redact_classes_parse(optarg, &po.redact_classes, &err) < 0) {
                rc = cli_usage_error("run", "--redact: %s", err.msg);
                goto done;
            }
            break;
        case 44: { /* REP[,CONTACT] */
            char rep_tz[SDRA_TZ_NAME_MAX + 1];
            const char *comma = strchr(optarg, ',');
            size_t rl = comma ? (size_t)(comma - optarg) : strlen(optarg);
            snprintf(rep_tz, sizeof rep_tz, "%.*s", (int)(rl < sizeof rep_tz ? rl : sizeof rep_tz - 1), optarg);
            if (sdra_call_info_set(&call, "timezone", rep_tz, &err) < 0 ||
                (comma && sdra_call_info_set(&call, "contact_timezone", comma + 1, &err) < 0)) {
                rc = cli_usage_error("run", "--timezone: %s", err.msg);
                goto done;
            }
            break;
        }
        case 45: case 46:
            if (sdra_call_info_set(&call, c == 45 ? "send_at" : "contact_timezone", optarg, &err) < 0) {
                rc = cli_usage_error("run", "--%s: %s", c == 45 ? "send-at" : "contact-timezone", err.msg);
                goto done;
            }
            break;
        case 41: encrypt = true; break;
        case 42: mk_file = optarg; break;
        case 43: mk_cmd = optarg; break;
        case 'q': st.quiet = true; break;
        case 'h': usage(stdout); goto done;
        case CLI_LLM_ID: case CLI_LLM_ID + 1: case CLI_LLM_ID + 2: case CLI_LLM_ID + 3: case CLI_LLM_ID + 4:
            if ((rc = cli_llm_option(&lo, "run", c, optarg)) != 0)
                goto done;
            break;
        default:
            if ((rc = cli_outbox_option(&ob, "run", c, optarg)) != 1) {
                if (rc)
                    goto done;
                break;
            }
            if ((rc = cli_asr_option(&asr, "run", c, optarg)) >= 0 ||
                (rc = cli_transcribe_option(&tp, "run", c, optarg)) >= 0) {
                if (rc)
                    goto done;
                break;
            }
            rc = cli_usage_error("run", "unknown or incomplete option '%s'", argv[optind - 1]);
            goto done;
        }
    }
    if ((rc = cli_llm_finish(&lo, "run")) != 0 || (rc = cli_outbox_finish(&ob, "run")) != 0)
        goto done;
    po.analyzer = lo.analyzer;
    po.llm_url = lo.url;
    po.llm_model = lo.model;
    po.llm_max_chars = (size_t)lo.max_chars;
    po.llm_timeout_ms = lo.timeout_ms;
    if ((rc = cli_asr_check(&asr, "run")) != 0)
        goto done;
    po.asr_backend = asr.backend;
    po.asr_remote = &asr.remote;
    po.asr_chunk_s = asr.chunk_s;
    po.transcribe = &tp;
    if (optind != argc - 1) {
        rc = cli_usage_error("run", optind >= argc ? "missing AUDIO" : "expected one AUDIO, got %d", argc - optind);
        goto done;
    }
    if ((mk_file || mk_cmd) && !encrypt) {
        rc = cli_usage_error("run", "--master-key-file/--master-key-cmd go with --encrypt");
        goto done;
    }
    if (encrypt) { /* every file of the package is written self-contained under the master key */
        if (cli_master_load(&master, mk_file, mk_cmd, "SDRA_MASTER_KEY", NULL, &err) < 0) {
            if (err.code == SDRA_ENOTFOUND)
                sdra_error_set(&err, SDRA_ENOTFOUND,
                               "--encrypt needs a master key: --master-key-file, --master-key-cmd or $SDRA_MASTER_KEY");
            rc = cli_fail(&err);
            goto done;
        }
        sdra_crypt_sealer_init(&sealer, master);
        prev_seal = sdra_seal_set(&sealer.ops);
        sealing = true;
    }
    const char *audio = argv[optind];
    char abs_audio[PATH_MAX], call_id[80], dir[PATH_MAX], data_dir[PATH_MAX], today[11];
    struct stat sb;
    if (stat(audio, &sb) < 0) {
        sdra_error_set(&err, sdra_code_from_errno(errno), "%s: %s", audio, strerror(errno));
        rc = cli_fail(&err);
        goto done;
    }
    if (!S_ISREG(sb.st_mode)) {
        sdra_error_set(&err, SDRA_EINVAL, "%s: not a regular file", audio);
        rc = cli_fail(&err);
        goto done;
    }
    uint64_t h = 0;
    if (!realpath(audio, abs_audio) || hash_file(abs_audio, &h, &err) < 0) {
        if (!err.code)
            sdra_error_set(&err, SDRA_EIO, "%s: %s", audio, strerror(errno));
        rc = cli_fail(&err);
        goto done;
    }
    make_call_id(call_id, sizeof call_id, abs_audio, h);
    if (!call.call_date) {
        sdra_date_today(today);
        sdra_call_info_set(&call, "call_date", today, NULL);
    }
    if (!call.style)
        sdra_call_info_set(&call, "style", "friendly", NULL);
    if (!call.consent)
        sdra_call_info_set(&call, "consent", "unknown", NULL);
    sdra_call_info_set(&call, "id", call_id, NULL);
    sdra_call_info_set(&call, "audio", abs_audio, NULL);
    sdra_call_info_set(&call, "direction", "outbound", NULL);
    if ((size_t)snprintf(dir, sizeof dir, "%s/%s", out_root, call_id) >= sizeof dir ||
        sdra_user_data_dir(data_dir, sizeof data_dir, data_opt) < 0) {
        rc = cli_usage_error("run", "path too long");
        goto done;
    }
    if (sdra_mkdir_p(dir, &err) < 0 || sdra_mkdir_p(data_dir, &err) < 0 ||
        write_call_json(dir, &call, &err) < 0) {
        rc = cli_fail(&err);
        goto done;
    }
    if (!st.quiet)
        fprintf(stderr, "call %s -> %s/\n", call_id, dir);
    st.bar = cli_progress(st.quiet);
    if (po.redact_classes && !force) { /* a transcript from before --redact must be redone */
        json_t *tdoc = NULL;
        if (sdra_json_load_doc(&tdoc, dir, "transcript.json", 256u << 20, 1, NULL) == 0 && tdoc &&
            !sdra_redact_doc_covers(tdoc, po.redact_classes))
            force = 1;
        json_decref(tdoc);
    }
    sdra_stage_ctx ctx = {.workdir = dir, .data_dir = data_dir, .options = &po, .progress = st.bar};
    int failed = -1;
    if (sdra_pipeline_run(&ctx, force, on_stage, &st, &failed, &err) < 0) {
        cli_progress_done();
        if (failed > 0) /* a later stage: the transcript and what follows it are worth keeping */
            fprintf(stderr, "sdra: %s\nsdra: what earlier stages produced is kept in %s/; run again to resume\n",
                    err.msg, dir);
        else /* the first stage (bad audio, most often): one line, as every bad input gets */
            fprintf(stderr, "sdra: %s\n", err.msg);
        rc = SDRA_EXIT_FAIL;
        goto done;
    }
    print_summary(dir);
    if (ob.set) /* the CRM, mail and webhooks the options name, through the outbox */
        rc = cli_outbox_run(&ob, data_dir, dir, call_id);
done:
    if (sealing)
        sdra_seal_set(prev_seal);
    sdra_crypt_key_destroy(master);
    sdra_call_info_release(&call);
    return rc;
}
