/*
 * sdra/pipeline.h - the stage table: each stage is a function from documents to a document.
 *
 * A stage reads the call's earlier artifacts from a work directory and writes its own there
 * (atomically: a reader sees the old file or the new one). It holds no global state and is
 * safe to run again: same inputs, same output, no duplicate side effects (the sync stage
 * upserts). The same table serves the three runners: `sdra run` (in process, files in --out),
 * `sdra serve` (job store in SQLite) and the distributed workers.
 *
 *   stage       reads                                   writes
 *   transcribe  call.json, the audio                    transcript.json, transcript.txt
 *   analyze     call.json, transcript.json              analysis.json
 *   compose     call.json, transcript.json, analysis    email.json, email.eml, invite.ics (if any)
 *   sync        call.json, all of the above             crm.json (and the CRM itself)
 *   report      call.json, all of the above             report.html
 *
 *     sdra_stage_ctx ctx = {.workdir = dir, .data_dir = data, .options = &opts};
 *     for (int s = 0; s < SDRA_N_STAGES; s++)
 *         if (sdra_pipeline_stage(s)->run(&ctx, &err) < 0) ...
 */
#ifndef SDRA_PIPELINE_H
#define SDRA_PIPELINE_H

#include <jansson.h>
#include "sdra/asr.h"
#include "sdra/error.h"
#include "sdra/log.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sdra_stage_id {
    SDRA_STAGE_TRANSCRIBE = 0,
    SDRA_STAGE_ANALYZE,
    SDRA_STAGE_COMPOSE,
    SDRA_STAGE_SYNC,
    SDRA_STAGE_REPORT,
    SDRA_N_STAGES
} sdra_stage_id;

/* Per-run knobs the stages read (NULL/0 = default). */
typedef struct sdra_pipeline_options {
    int jobs;                 /* transcription threads; 0 = number of cores */
    int n_speakers;           /* mono diarization; 0 = default (2) */
    int rep_channel;          /* stereo: 0 left, 1 right, -1 decide by text (default -1) */
    const char *vocab_path;   /* extra vocabulary file, or NULL */
    const char *template_path;/* user email template, or NULL */
    const char *crm_backend;  /* "local" (default) */
    const char *analyzer;     /* analysis backend: "rules" (default) or "llm" */
    const char *llm_url, *llm_model; /* for "llm" (sdra_analyze_params) */
    size_t llm_max_chars;
    long llm_timeout_ms;
    unsigned redact_classes;  /* SDRA_REDACT_* bits (sdra/privacy.h): redact the transcript right
                               * after transcription, so no later stage sees those values; 0 = off */
    const char *asr_backend;  /* "pocketsphinx" (NULL, default) or "whisper-http" */
    const sdra_asr_remote_params *asr_remote; /* whisper-http's endpoints and settings */
    double asr_chunk_s;       /* chunk target length; 0 = default */
    const char *playbook_path; /* the user's playbook for the email, or NULL (docs/templates.md) */
    const struct sdra_transcribe_params *transcribe; /* the transcription options as `sdra
                               * transcribe` takes them (speakers, hints, vocabulary, domain model,
                               * ...); the fields above override it when set; NULL = defaults.
                               * Its hints are added to the call sheet's names */
} sdra_pipeline_options;

typedef struct sdra_stage_ctx {
    const char *workdir;      /* the call's directory: call.json, inputs and outputs */
    const char *data_dir;     /* user data directory (local CRM database, ...) */
    const sdra_pipeline_options *options;
    sdra_progress progress;   /* may be empty */
    void *user_data;
    const char *org;          /* the call's organisation (CRM rows are written in it); NULL: "default" */
} sdra_stage_ctx;

typedef struct sdra_stage {
    const char *name;         /* "transcribe", "analyze", "compose", "sync", "report" */
    const char *output;       /* the artifact whose presence means the stage is done */
    int (*run)(const sdra_stage_ctx *ctx, sdra_error *err);
} sdra_stage;

/* The stage with that id, or NULL when out of range. */
const sdra_stage *sdra_pipeline_stage(int id);

/* The stage id for a name, or -1. */
int sdra_pipeline_stage_id(const char *name);

/* ---- the stage adapters (src/pipeline/stages.c), public for callers that run one stage ----- */

/* compose: reads call.json, analysis.json and (if present) transcript.json from ctx->workdir;
 * style from call.json, template from ctx->options->template_path; writes the files as
 * sdra_email_write_dir(). The Date is the current time unless $SDRA_COMPOSE_NOW holds a Unix
 * time (for reproducible packages). */
int sdra_compose_stage(const sdra_stage_ctx *ctx, sdra_error *err);

/* The same, threaded under the previous email to the contact (params.in_reply_to; NULL = none):
 * the pipeline looks that email up in the CRM and passes its Message-ID here. */
int sdra_compose_stage_thread(const sdra_stage_ctx *ctx, const char *in_reply_to, sdra_error *err);

/* sync: reads call.json, transcript.json, analysis.json and email.json (when present) from
 * ctx->workdir, syncs them into the CRM in ctx->data_dir (backend ctx->options->crm_backend)
 * and writes crm.json atomically. */
int sdra_sync_stage(const sdra_stage_ctx *ctx, sdra_error *err);

/* report: reads call.json, analysis.json and, when present, transcript.json, email.json,
 * crm.json from ctx->workdir and writes report.html atomically. */
int sdra_report_stage(const sdra_stage_ctx *ctx, sdra_error *err);

/* ---- in-process runner (`sdra run`) ----------------------------------------------------- */

/* Called before (done = 0) and after (done = 1) each stage; skipped stages report done = 1 with
 * skipped = 1. elapsed_s is the stage's wall time. */
typedef void (*sdra_pipeline_stage_fn)(void *user_data, int stage, int n_stages, int done,
                                       int skipped, double elapsed_s);

/* True when stage's output exists in workdir and is not older than call.json and every earlier
 * stage's output: re-running it would produce the same artifact. */
int sdra_pipeline_stage_is_current(const char *workdir, int stage);

/* Runs every stage in order on ctx->workdir, skipping stages that are current (unless force),
 * so that an interrupted or failed run resumes where it stopped. On failure returns the stage's
 * code with err->msg prefixed "stage NAME", and *failed_stage (if not NULL) set; the artifacts of
 * earlier stages are kept. */
int sdra_pipeline_run(const sdra_stage_ctx *ctx, int force, sdra_pipeline_stage_fn on_stage,
                      void *user_data, int *failed_stage, sdra_error *err);

#ifdef __cplusplus
}
#endif
#endif
