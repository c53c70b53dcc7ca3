/*
 * stage.c - the pipeline's "sync" stage: loads a call's documents from its work directory,
 * opens the CRM backend the options name in the user data directory, runs sdra_crm_sync and
 * writes crm.json atomically. Safe to run again: the CRM upserts, crm.json is replaced.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "sdra/util.h"

#define DOC_MAX_BYTES (64u << 20) /* transcript of a long call with every word */

/* Loads workdir/name; a missing optional file leaves *out NULL. */
static int load_doc(json_t **out, const char *workdir, const char *name, bool optional, sdra_error *err)
{
    return sdra_json_load_doc(out, workdir, name, DOC_MAX_BYTES, optional, err);
}

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
