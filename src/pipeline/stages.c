/*
 * stages.c - the stage table (sdra/pipeline.h) and every stage adapter: thin functions from
 * files in a work directory to library calls. transcribe (audio -> transcript.json/.txt),
 * analyze (transcript.json -> analysis.json), compose (-> email.json, email.eml, invite.ics),
 * sync (-> crm.json and the CRM) and report (-> report.html). The modules they call know
 * nothing of work directories or of the stage table, so sdra/compose.h and sdra/crm.h do not
 * include sdra/pipeline.h.
 *
 * Every stage reads call.json first; every output is written atomically, so a crash leaves
 * either the old artifact or the new one, and "output exists" can mean "stage done".
 */
#include "sdra/pipeline.h"
#include "sdra/call.h"
#include "sdra/transcript.h"
#include "sdra/util.h"
#include "sdra/analyze.h"
#include "sdra/compose.h"
#include "sdra/crm.h"
#include "sdra/privacy.h"
#include "sdra/report.h"
#include "sdra/transcribe.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


/* Loads ctx->workdir/call.json into *call. */
static int load_call(const sdra_stage_ctx *ctx, sdra_call_info *call, sdra_error *err)
{
    char path[PATH_MAX];
    json_t *doc = NULL;
    sdra_path_join(path, sizeof path, ctx->workdir, "call.json");
    int rc = sdra_json_load_file(&doc, path, 1u << 20, err);
    if (rc < 0)
        return rc;
    rc = sdra_call_info_from_json(call, doc, err);
    json_decref(doc);
    if (rc < 0)
        sdra_error_prefix(err, "%s", path);
    return rc;
}

/* Redacts t for the classes asked for and records what was done (classes, counts, time spans;
 * never the values) in t->meta.redaction, which `sdra redact --audio` and resumed runs read. */
static int redact_transcript(sdra_transcript *t, unsigned classes, sdra_error *err)
{
    sdra_redact_params p = sdra_redact_default_params();
    sdra_redact_report rep = {0};
    p.classes = classes;
    int rc = sdra_redact_transcript(t, &p, &rep, err);
    if (rc == 0 && !t->meta)
        t->meta = json_object();
    json_t *r = rc < 0 || !t->meta ? NULL : sdra_redact_report_to_json(&rep, classes, t);
    if (rc == 0 && (!r || json_object_set_new(t->meta, "redaction", r) < 0))
        rc = sdra_error_set(err, SDRA_ENOMEM, "redaction: out of memory");
    sdra_redact_report_release(&rep);
    return rc;
}

/* Fewer words than this in a whole recording is no conversation: silence, line noise (the
 * recognizer makes a word of 5 s of hiss now and then), a dropped call. Such a recording gets
 * no package: a follow-up email "thanks for taking the time to talk" would be false. */
#define MIN_PACKAGE_WORDS 3

static int stage_transcribe(const sdra_stage_ctx *ctx, sdra_error *err)
{
    sdra_call_info call = {0};
    sdra_transcript *t = NULL;
    char path[PATH_MAX], audio[PATH_MAX];
    char *text = NULL;
    size_t text_len = 0;
    FILE *mem = NULL;
    int rc = load_call(ctx, &call, err);
    if (rc < 0)
        goto done;
    if (!call.audio) {
        rc = sdra_error_set(err, SDRA_EINVAL, "call.json names no audio");
        goto done;
    }
    if ((call.audio[0] == '/' ? (sdra_strlcpy(audio, call.audio, sizeof audio) >= sizeof audio ? SDRA_ELIMIT : 0)
                              : sdra_path_join(audio, sizeof audio, ctx->workdir, call.audio)) < 0) {
        rc = sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", call.audio);
        goto done;
    }

    const sdra_pipeline_options *o = ctx->options;
    sdra_transcribe_params p = o && o->transcribe ? *o->transcribe : sdra_transcribe_default_params();
    if (o) {
        if (o->jobs > 0)
            p.jobs = o->jobs;
        if (o->n_speakers > 0)
            p.n_speakers = o->n_speakers;
        if (o->rep_channel >= 0 || !o->transcribe)
            p.rep_channel = o->rep_channel;
        if (o->vocab_path)
            p.vocab_path = o->vocab_path;
        p.backend = o->asr_backend;
        p.remote = o->asr_remote;
        p.chunk_s = o->asr_chunk_s;
    }
    p.rep_name = call.rep_name;
    p.company = call.rep_company;
    p.contact_name = call.contact_name;
    /* the names on the call sheet are the words the recognizer most needs and least knows */
    char hints[1024];
    snprintf(hints, sizeof hints, "%s, %s%s%s", call.contact_name ? call.contact_name : "",
             call.company ? call.company : "", p.hints ? ", " : "", p.hints ? p.hints : "");
    p.hints = hints;
    if (call.source && !strcmp(call.source, "live")) {
        /* a live call (docs/live.md) was decoded while it streamed: its words are final and
         * are not decoded a second time */
        json_t *live = NULL;
        sdra_path_join(path, sizeof path, ctx->workdir, "transcript.live.json");
        if ((rc = sdra_json_load_file(&live, path, 256u << 20, err)) < 0)
            goto done;
        rc = sdra_transcript_from_json(&t, live, err);
        json_decref(live);
        if (rc < 0)
            goto done;
    } else if ((rc = sdra_transcribe_file(&t, audio, &p, &ctx->progress, err)) < 0)
        goto done;
    sdra_transcript_quality q; /* how far the words can be trusted (docs/schemas/transcript.md) */
    sdra_transcript_assess(t, &q);
    if (q.n_words < MIN_PACKAGE_WORDS) { /* silence, noise, a dropped call: nothing any later
                                          * stage can use, and a rerun will not change it */
        rc = sdra_error_set(err, SDRA_EINVAL, "no speech found in %s (%.1f s of audio, %zu "
                            "word%s recognised): no package to make", call.audio, t->duration_s,
                            q.n_words, q.n_words == 1 ? "" : "s");
        goto done;
    }
    /* the transcript names its audio as call.json does (relative to the work directory for a
     * server's calls), not by the path it was read from: a server's data directory is no
     * business of its API clients (security review, finding 7) */
    char *source = strdup(call.audio);
    if (!source) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "transcript: out of memory");
        goto done;
    }
    free(t->source);
    t->source = source;
    if (call.call_date && !t->recorded_date)
        t->recorded_date = strdup(call.call_date);
    if (o && o->redact_classes && (rc = redact_transcript(t, o->redact_classes, err)) < 0)
        goto done;

    json_t *doc = sdra_transcript_to_json(t);
    if (!doc) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "transcript: out of memory");
        goto done;
    }
    if (q.n_words)
        json_object_set_new(doc, "quality", sdra_transcript_quality_json(&q));
    sdra_path_join(path, sizeof path, ctx->workdir, "transcript.json");
    rc = sdra_json_write_file(path, doc, err);
    json_decref(doc);
    if (rc < 0)
        goto done;
    if (!(mem = open_memstream(&text, &text_len))) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "transcript: out of memory");
        goto done;
    }
    rc = sdra_transcript_write(t, SDRA_TFMT_TEXT, mem, err);
    fclose(mem);
    if (rc < 0)
        goto done;
    sdra_path_join(path, sizeof path, ctx->workdir, "transcript.txt");
    rc = sdra_file_write_atomic(path, text, text_len, err);
done:
    free(text);
    sdra_transcript_destroy(t);
    sdra_call_info_release(&call);
    return rc;
}


static int stage_analyze(const sdra_stage_ctx *ctx, sdra_error *err)
{
    sdra_call_info call = {0};
    sdra_transcript *t = NULL;
    json_t *analysis = NULL;
    char path[PATH_MAX], today[11];
    int rc = load_call(ctx, &call, err);
    if (rc < 0)
        goto done;
    sdra_path_join(path, sizeof path, ctx->workdir, "transcript.json");
    /* one utterance at a time, within the transcript limits (not a whole-document tree) */
    if ((rc = sdra_transcript_load(&t, path, NULL, err)) < 0)
        goto done;
    sdra_analyze_params p = sdra_analyze_default_params();
    sdra_date_today(today);
    p.call_date = call.call_date ? call.call_date : t->recorded_date ? t->recorded_date : today;
    p.rep_name = call.rep_name;
    const sdra_pipeline_options *po = ctx->options;
    if (po && po->analyzer) {
        p.backend = po->analyzer;
        p.llm_url = po->llm_url;
        p.llm_model = po->llm_model;
        p.llm_max_chars = po->llm_max_chars;
        p.llm_timeout_ms = po->llm_timeout_ms;
    }
    if ((rc = sdra_analyze(&analysis, t, &p, err)) < 0)
        goto done;
    sdra_path_join(path, sizeof path, ctx->workdir, "analysis.json");
    rc = sdra_json_write_file(path, analysis, err);
done:
    json_decref(analysis);
    sdra_transcript_destroy(t);
    sdra_call_info_release(&call);
    return rc;
}


#define DOC_MAX_BYTES (64u << 20) /* transcript of a long call with every word */

/* Loads workdir/name; a missing optional file leaves *out NULL. */
static int load_doc(json_t **out, const char *workdir, const char *name, bool optional, sdra_error *err)
{
    return sdra_json_load_doc(out, workdir, name, DOC_MAX_BYTES, optional, err);
}

/* ---- compose: reads call.json, analysis.json and, when present, transcript.json; writes
 * email.json (always; it marks the stage done), email.eml and invite.ics (when produced; stale
 * ones removed). The style comes from call.json, a user template from the run's options. Date:
 * the current time, or $SDRA_COMPOSE_NOW (Unix seconds) when set, for reproducible packages. */

#define COMPOSE_MAX_DOC_BYTES (32u * 1024u * 1024u)

static int path_in(char *out, size_t n, const char *dir, const char *name, sdra_error *err)
{
    if ((size_t)snprintf(out, n, "%s/%s", dir, name) >= n)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", dir);
    return 0;
}

int sdra_compose_stage(const sdra_stage_ctx *ctx, sdra_error *err)
{
    return sdra_compose_stage_thread(ctx, NULL, err);
}

int sdra_compose_stage_thread(const sdra_stage_ctx *ctx, const char *in_reply_to, sdra_error *err)
{
    char path[4096];
    json_t *call_doc = NULL, *analysis = NULL, *tdoc = NULL;
    sdra_transcript *t = NULL;
    sdra_call_info call = {0};
    sdra_email *e = NULL;
    int rc;
    struct stat st;

    if ((rc = path_in(path, sizeof path, ctx->workdir, "call.json", err)) < 0)
        goto done;
    if (stat(path, &st) == 0) {
        if ((rc = sdra_json_load_file(&call_doc, path, 1024 * 1024, err)) < 0 ||
            (rc = sdra_call_info_from_json(&call, call_doc, err)) < 0)
            goto done;
    }
    if ((rc = path_in(path, sizeof path, ctx->workdir, "analysis.json", err)) < 0 ||
        (rc = sdra_json_load_file(&analysis, path, COMPOSE_MAX_DOC_BYTES, err)) < 0)
        goto done;
    if ((rc = path_in(path, sizeof path, ctx->workdir, "transcript.json", err)) < 0)
        goto done;
    if (stat(path, &st) == 0) {
        if ((rc = sdra_json_load_file(&tdoc, path, COMPOSE_MAX_DOC_BYTES, err)) < 0 ||
            (rc = sdra_transcript_from_json(&t, tdoc, err)) < 0)
            goto done;
    }
    sdra_compose_params p = sdra_compose_default_params();
    if (ctx->options && ctx->options->template_path)
        p.template_path = ctx->options->template_path;
    if (ctx->options && ctx->options->playbook_path)
        p.playbook_path = ctx->options->playbook_path;
    p.in_reply_to = in_reply_to;
    const char *now = getenv("SDRA_COMPOSE_NOW");
    if (now && *now) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(now, &end, 10);
        if (errno || *end || v <= 0) {
            rc = sdra_error_set(err, SDRA_EINVAL, "SDRA_COMPOSE_NOW: '%.40s' is not a Unix time", now);
            goto done;
        }
        p.now_s = v;
    }
    if ((rc = sdra_compose(&e, analysis, t, &call, &p, err)) < 0)
        goto done;
    rc = sdra_email_write_dir(e, ctx->workdir, err);
done:
    sdra_email_destroy(e);
    sdra_transcript_destroy(t);
    sdra_call_info_release(&call);
    json_decref(call_doc);
    json_decref(analysis);
    json_decref(tdoc);
    return rc;
}

/* ---- sync: loads the call's documents, opens the CRM backend the options name in the user
 * data directory, runs sdra_crm_sync and writes crm.json atomically. Safe to run again: the
 * CRM upserts, crm.json is replaced. */

int sdra_sync_stage(const sdra_stage_ctx *ctx, sdra_error *err)
{
    int rc;
    json_t *calldoc = NULL, *transcript = NULL, *analysis = NULL, *email = NULL, *report = NULL;
    sdra_call_info call = {0};
    sdra_crm *crm = NULL;
    char path[PATH_MAX];

    if ((rc = load_doc(&calldoc, ctx->workdir, "call.json", false, err)) < 0)
        goto done;
    if ((rc = sdra_call_info_from_json(&call, calldoc, err)) < 0) {
        sdra_error_prefix(err, "%s/call.json", ctx->workdir);
        goto done;
    }
    if ((rc = load_doc(&transcript, ctx->workdir, "transcript.json", true, err)) < 0)
        goto done;
    if ((rc = load_doc(&analysis, ctx->workdir, "analysis.json", false, err)) < 0)
        goto done;
    if ((rc = load_doc(&email, ctx->workdir, "email.json", true, err)) < 0)
        goto done;
    const char *backend = ctx->options ? ctx->options->crm_backend : NULL;
    if ((rc = sdra_crm_open(&crm, backend, ctx->data_dir, err)) < 0 ||
        (ctx->org && (rc = sdra_crm_set_org(crm, ctx->org, err)) < 0))
        goto done;
    if ((rc = sdra_crm_sync(crm, &call, transcript, analysis, email, &report, err)) < 0)
        goto done;
    if ((size_t)snprintf(path, sizeof path, "%s/crm.json", ctx->workdir) >= sizeof path) {
        rc = sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", ctx->workdir);
        goto done;
    }
    rc = sdra_json_write_file(path, report, err);
done:
    sdra_crm_close(crm);
    sdra_call_info_release(&call);
    json_decref(calldoc);
    json_decref(transcript);
    json_decref(analysis);
    json_decref(email);
    json_decref(report);
    return rc;
}

/* ---- report: reads call.json, analysis.json and, when present, transcript.json, email.json,
 * crm.json; writes report.html atomically, with an audio player when the recording is in the
 * work directory beside it. */

/* The recording as report.html beside it reaches it: the file name of call.json's "audio",
 * percent-encoded as a relative URL, when that file is in the work directory; else NULL. */
static const char *audio_beside(char *out, size_t n, const char *workdir, const json_t *call)
{
    const char *audio = json_string_value(json_object_get(call, "audio"));
    const char *name = audio ? strrchr(audio, '/') : NULL;
    char path[PATH_MAX];
    struct stat st;
    name = name ? name + 1 : audio;
    if (!name || !*name || !strcmp(name, ".") || !strcmp(name, "..") ||
        sdra_path_join(path, sizeof path, workdir, name) < 0 || stat(path, &st) < 0 ||
        !S_ISREG(st.st_mode))
        return NULL;
    size_t k = 0;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
        if (k + 4 > n)
            return NULL;
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
            strchr("-._~", *c))
            out[k++] = (char)*c;
        else
            k += (size_t)snprintf(out + k, 4, "%%%02X", *c);
    }
    out[k] = 0;
    return out;
}

int sdra_report_stage(const sdra_stage_ctx *ctx, sdra_error *err)
{
    json_t *call = NULL, *transcript = NULL, *analysis = NULL, *email = NULL, *crm = NULL;
    json_t *view = NULL;
    char *html = NULL, path[PATH_MAX], src[3 * 256 + 1];
    int rc;
    if ((rc = load_doc(&call, ctx->workdir, "call.json", false, err)) < 0 ||
        (rc = load_doc(&transcript, ctx->workdir, "transcript.json", true, err)) < 0 ||
        (rc = load_doc(&analysis, ctx->workdir, "analysis.json", false, err)) < 0 ||
        (rc = load_doc(&email, ctx->workdir, "email.json", true, err)) < 0 ||
        (rc = load_doc(&crm, ctx->workdir, "crm.json", true, err)) < 0)
        goto done;
    if ((rc = sdra_report_view(&view, call, transcript, analysis, email, crm,
                               audio_beside(src, sizeof src, ctx->workdir, call), err)) < 0 ||
        (rc = sdra_report_render_view(&html, view, err)) < 0)
        goto done;
    if ((size_t)snprintf(path, sizeof path, "%s/report.html", ctx->workdir) >= sizeof path) {
        rc = sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", ctx->workdir);
        goto done;
    }
    rc = sdra_file_write_atomic(path, html, strlen(html), err);
done:
    free(html);
    json_decref(view);
    json_decref(call);
    json_decref(transcript);
    json_decref(analysis);
    json_decref(email);
    json_decref(crm);
    return rc;
}

/* The Message-ID of the newest earlier email (of another call, not canceled) to this call's
 * contact in the CRM, into out; "" when there is none. Best effort: no CRM yet, a backend that
 * cannot list, or no contact email all mean a new thread, never a failed stage. */
static void previous_message_id(const sdra_stage_ctx *ctx, char *out, size_t n)
{
    char path[4096];
    json_t *doc = NULL, *rows = NULL;
    sdra_call_info call = {0};
    sdra_crm *crm = NULL;
    sdra_error e = {0};
    out[0] = '\0';
    if (sdra_path_join(path, sizeof path, ctx->workdir, "call.json") < 0 ||
        sdra_json_load_file(&doc, path, 1024 * 1024, &e) < 0 || sdra_call_info_from_json(&call, doc, &e) < 0 ||
        !call.contact_email)
        goto done;
    const char *backend = ctx->options ? ctx->options->crm_backend : NULL;
    if (sdra_crm_open_ex(&crm, backend, ctx->data_dir, SDRA_CRM_READONLY, &e) < 0 ||
        (ctx->org && sdra_crm_set_org(crm, ctx->org, &e) < 0) ||
        sdra_crm_list(crm, SDRA_CRM_EMAILS, call.contact_email, &rows, &e) < 0)
        goto done;
    for (size_t i = json_array_size(rows); i-- > 0;) {
        const json_t *r = json_array_get(rows, i);
        const char *cid = json_string_value(json_object_get(r, "call_id"));
        const char *st = json_string_value(json_object_get(r, "status"));
        const char *mid = json_string_value(json_object_get(r, "message_id"));
        if (mid && (!cid || !call.id || strcmp(cid, call.id)) && (!st || strcmp(st, "canceled"))) {
            sdra_strlcpy(out, mid, n);
            break;
        }
    }
done:
    json_decref(rows);
    sdra_crm_close(crm);
    sdra_call_info_release(&call);
    json_decref(doc);
}

/* compose, threaded under the previous email to the same contact (In-Reply-To, References). */
static int stage_compose(const sdra_stage_ctx *ctx, sdra_error *err)
{
    char prev[256];
    previous_message_id(ctx, prev, sizeof prev);
    return sdra_compose_stage_thread(ctx, prev[0] ? prev : NULL, err);
}

static const sdra_stage stages[SDRA_N_STAGES] = {
    {"transcribe", "transcript.json", stage_transcribe},
    {"analyze", "analysis.json", stage_analyze},
    {"compose", "email.json", stage_compose},
    {"sync", "crm.json", sdra_sync_stage},
    {"report", "report.html", sdra_report_stage},
};

const sdra_stage *sdra_pipeline_stage(int id)
{
    if (id < 0 || id >= SDRA_N_STAGES)
        return NULL;
    return &stages[id];
}

int sdra_pipeline_stage_id(const char *name)
{
    for (int i = 0; i < SDRA_N_STAGES; i++)
        if (name && !strcmp(stages[i].name, name))
            return i;
    return -1;
}
