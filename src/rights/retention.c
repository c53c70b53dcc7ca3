/*
 * retention.c - the retention sweep (sdra/rights.h): every finished call is compared with its
 * organisation's policy at cx->now_ms, and what is past its age is deleted: the audio file,
 * artifacts by kind, or the whole call through the same path as DELETE /v1/calls/{id}. Each
 * call's purge is audited before anything of it is deleted; running it again changes nothing.
 */
#include "internal.h"

#include "sdra/log.h"
#include "sdra/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAY_MS 86400000LL
#define MAX_ORGS 64

/* Artifacts by the policy field that governs them (report.html holds the transcript, crm.json
 * the analysis' summary). */
static const char *const TRANSCRIPT_ARTS[] = {"transcript.json", "transcript.txt", "report.html", NULL};
static const char *const ANALYSIS_ARTS[] = {"analysis.json", "crm.json", NULL};
static const char *const EMAIL_ARTS[] = {"email.json", "email.eml", "invite.ics", NULL};

typedef struct call_ref {
    char id[SDRA_STORE_ID_MAX];
    char org[SDRA_STORE_ORG_MAX];
    char audio[64];
    char status[SDRA_STORE_STATE_MAX];
    int64_t created_ms;
} call_ref;

typedef struct policy_cache {
    sdra_store_policy p[MAX_ORGS];
    int n;
} policy_cache;

static int policy_for(const sdra_rights_ctx *cx, policy_cache *pc, const char *org, const sdra_store_policy **out,
                      sdra_error *err)
{
    for (int i = 0; i < pc->n; i++)
        if (!strcmp(pc->p[i].org, org)) {
            *out = &pc->p[i];
            return 0;
        }
    sdra_store_policy p;
    int rc = sdra_store_policy_get(cx->store, org, &p, err);
    if (rc < 0)
        return rc;
    if (pc->n == MAX_ORGS) /* more organisations than the cache holds: the oldest entry goes */
        memmove(pc->p, pc->p + 1, sizeof pc->p[0] * (MAX_ORGS - 1)), pc->n--;
    pc->p[pc->n] = p;
    *out = &pc->p[pc->n++];
    return 0;
}

/* Every call in the store (id, org, audio, status, age), read before anything is deleted. */
static int all_calls(const sdra_rights_ctx *cx, call_ref **out, int *n_out, sdra_error *err)
{
    enum { PAGE = 100 };
    sdra_store_call page[PAGE];
    call_ref *refs = NULL;
    int n = 0, cap = 0, rc = 0;
    for (int off = 0;; off += PAGE) {
        int got = 0;
        if ((rc = sdra_store_call_list(cx->store, cx->org, NULL, off, PAGE, page, &got, err)) < 0)
            break;
        if (n + got > cap) {
            cap = (n + got) * 2;
            call_ref *g = realloc(refs, sizeof *refs * (size_t)cap);
            if (!g) {
                for (int i = 0; i < got; i++)
                    sdra_store_call_release(&page[i]);
                rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
                break;
            }
            refs = g;
        }
        for (int i = 0; i < got; i++) {
            call_ref *r = &refs[n++];
            memset(r, 0, sizeof *r);
            sdra_strlcpy(r->id, page[i].id, sizeof r->id);
            sdra_strlcpy(r->status, page[i].status, sizeof r->status);
            r->created_ms = page[i].created_ms;
            json_t *meta = rights_call_meta(page[i].meta_json);
            sdra_strlcpy(r->org, page[i].org, sizeof r->org);
            const char *audio = json_string_value(json_object_get(meta, "audio"));
            if (audio && !strchr(audio, '/') && audio[0] != '.')
                sdra_strlcpy(r->audio, audio, sizeof r->audio);
            json_decref(meta);
            sdra_store_call_release(&page[i]);
        }
        if (got < PAGE)
            break;
    }
    if (rc < 0) {
        free(refs);
        return rc;
    }
    *out = refs;
    *n_out = n;
    return 0;
}

/* The audit entry of a purge, in the call's own organisation (cx->org is NULL when purging
 * every organisation). */
static int purge_audit(const sdra_rights_ctx *cx, const call_ref *r, const char *detail, sdra_error *err)
{
    sdra_rights_ctx in_org = *cx;
    in_org.org = r->org;
    return rights_audit(&in_org, "retention.purge", r->id, detail, err);
}

static bool past(int64_t age_ms, int days)
{
    return days > 0 && age_ms >= (int64_t)days * DAY_MS;
}

/* Appends name to the detail list (as much as fits). */
static void note(char *detail, size_t n, const char *name)
{
    size_t len = strlen(detail);
    if (len + strlen(name) + 2 < n)
        snprintf(detail + len, n - len, "%s%s", len ? " " : "", name);
}

static int purge_call(const sdra_rights_ctx *cx, const call_ref *r, const sdra_store_policy *p, bool dry_run,
                      sdra_rights_counts *out, bool *changed, sdra_error *err)
{
    int64_t age = cx->now_ms - r->created_ms;
    char detail[SDRA_STORE_AUDIT_DETAIL_MAX];
    int rc;
    if (past(age, p->call_days)) {
        if (!cx->delete_call)
            return 0;
        bool keep_crm = !past(age, p->crm_days);
        out->calls++;
        if (dry_run)
            return 0;
        snprintf(detail, sizeof detail, "org=%s call_days=%d whole call; crm rows %s", r->org, p->call_days,
                 keep_crm ? "kept" : "forgotten");
        if ((rc = purge_audit(cx, r, detail, err)) < 0)
            return rc;
        rc = cx->delete_call(cx->user, r->id, keep_crm, err);
        *changed = true;
        return rc == SDRA_ENOTFOUND ? 0 : rc;
    }
    /* what is due: the audio file, then artifacts by kind */
    char audio_path[4096] = "";
    if (r->audio[0] && past(age, p->audio_days)) {
        snprintf(audio_path, sizeof audio_path, "%s/calls/%s/%s", cx->data_dir, r->id, r->audio);
        if (access(audio_path, F_OK) != 0 &&
            (!cx->object_exists || cx->object_exists(cx->object_user, audio_path + strlen(cx->data_dir) + 1, NULL) != 0))
            audio_path[0] = '\0';
    }
    const char *const *kinds[3] = {past(age, p->transcript_days) ? TRANSCRIPT_ARTS : NULL,
                                   past(age, p->analysis_days) ? ANALYSIS_ARTS : NULL,
                                   past(age, p->email_days) ? EMAIL_ARTS : NULL};
    sdra_store_artifact due[16];
    int n_due = 0;
    for (int k = 0; k < 3; k++)
        for (int i = 0; kinds[k] && kinds[k][i]; i++) {
            sdra_error e2 = {0};
            rc = sdra_store_artifact_get(cx->store, r->org, r->id, kinds[k][i], &due[n_due], &e2);
            if (rc == 0)
                n_due++;
            else if (rc != SDRA_ENOTFOUND) {
                if (err)
                    *err = e2;
                return rc;
            }
        }
    if (!audio_path[0] && n_due == 0)
        return 0;
    out->audio += audio_path[0] ? 1 : 0;
    out->artifacts += n_due;
    if (dry_run)
        return 0;
    snprintf(detail, sizeof detail, "org=%s deleted:", r->org);
    if (audio_path[0])
        note(detail, sizeof detail, r->audio);
    for (int i = 0; i < n_due; i++)
        note(detail, sizeof detail, due[i].name);
    if ((rc = purge_audit(cx, r, detail, err)) < 0)
        return rc;
    *changed = true;
    if (audio_path[0] && unlink(audio_path) != 0 && errno != ENOENT)
        return sdra_error_set(err, SDRA_EIO, "%s: %s", audio_path, strerror(errno));
    if (audio_path[0] && cx->object_remove &&
        (rc = cx->object_remove(cx->object_user, audio_path + strlen(cx->data_dir) + 1, err)) < 0)
        return rc;
    for (int i = 0; i < n_due; i++) {
        char path[4096];
        if (!strstr(due[i].path, "..") && sdra_path_join(path, sizeof path, cx->data_dir, due[i].path) == 0 &&
            unlink(path) != 0 && errno != ENOENT)
            return sdra_error_set(err, SDRA_EIO, "%s: %s", path, strerror(errno));
        if (cx->object_remove && !strstr(due[i].path, "..") &&
            (rc = cx->object_remove(cx->object_user, due[i].path, err)) < 0)
            return rc;
        sdra_error e2 = {0};
        rc = sdra_store_artifact_delete(cx->store, r->id, due[i].name, &e2);
        if (rc < 0 && rc != SDRA_ENOTFOUND) {
            if (err)
                *err = e2;
            return rc;
        }
    }
    return 0;
}

int sdra_retention_purge(const sdra_rights_ctx *cx, bool dry_run, sdra_rights_counts *out, sdra_error *err)
{
    call_ref *refs = NULL;
    int n = 0;
    memset(out, 0, sizeof *out);
    int rc = all_calls(cx, &refs, &n, err);
    if (rc < 0)
        return rc;
    policy_cache *pc = calloc(1, sizeof *pc);
    if (!pc) {
        free(refs);
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    }
    bool changed = false;
    for (int i = 0; i < n && rc == 0; i++) {
        const sdra_store_policy *p = NULL;
        if (!strcmp(refs[i].status, "queued") || !strcmp(refs[i].status, "running"))
            continue; /* a stage may still be writing it */
        if (cx->org && strcmp(refs[i].org, cx->org))
            continue;
        if ((rc = policy_for(cx, pc, refs[i].org, &p, err)) == 0)
            rc = purge_call(cx, &refs[i], p, dry_run, out, &changed, err);
    }
    if (changed) {
        sdra_error ck = {0};
        if (sdra_store_checkpoint(cx->store, &ck) < 0)
            sdra_log(SDRA_LOG_WARN, "retention purge done; %s", ck.msg);
    }
    free(pc);
    free(refs);
    return rc;
}
