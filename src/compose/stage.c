/*
 * stage.c - compose as a pipeline stage (sdra/pipeline.h): reads call.json, analysis.json and,
 * when present, transcript.json from the call's work directory and writes email.json (always;
 * it marks the stage done), email.eml and invite.ics (when produced; stale ones removed).
 * The style comes from call.json, a user template from the run's options. Date: the current
 * time, or $SDRA_COMPOSE_NOW (Unix seconds) when set, for reproducible packages.
 */
#include "sdra/compose.h"
#include "sdra/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_DOC_BYTES (32u * 1024u * 1024u)

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
        (rc = sdra_json_load_file(&analysis, path, MAX_DOC_BYTES, err)) < 0)
        goto done;
    if ((rc = path_in(path, sizeof path, ctx->workdir, "transcript.json", err)) < 0)
        goto done;
    if (stat(path, &st) == 0) {
        if ((rc = sdra_json_load_file(&tdoc, path, MAX_DOC_BYTES, err)) < 0 ||
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
