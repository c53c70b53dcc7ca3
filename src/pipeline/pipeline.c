/*
 * pipeline.c - the stage table (sdra/pipeline.h) and the two stages that are thin adapters from
 * files in a work directory to library calls: transcribe (audio -> transcript.json/.txt) and
 * analyze (transcript.json -> analysis.json). compose, sync and report live with their modules
 * (src/compose/stage.c, src/sync/stage.c, src/pipeline/report.c).
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

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DOC_BYTES (256u << 20)

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
    if ((rc = sdra_transcribe_file(&t, audio, &p, &ctx->progress, err)) < 0)
        goto done;
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
    sdra_transcript_quality q; /* how far the words can be trusted (docs/schemas/transcript.md) */
    sdra_transcript_assess(t, &q);
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


static const sdra_stage stages[SDRA_N_STAGES] = {
    {"transcribe", "transcript.json", stage_transcribe},
    {"analyze", "analysis.json", stage_analyze},
    {"compose", "email.json", sdra_compose_stage},
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
