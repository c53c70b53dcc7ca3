/*
 * rights.c - the data-subject rights (sdra/rights.h): export everything held about a person
 * as one JSON document, and erase it. A person is found by the subject token of their email
 * (the calls linked at submission) and by the address itself in the CRM.
 */
#include "internal.h"

#include "sdra/crm.h"
#include "sdra/log.h"
#include "sdra/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AUDIT_PER_TARGET 2000

/* The ids of the calls linked to token (heap array of *n). */
static int linked_calls(const sdra_rights_ctx *cx, const char *token, char (**ids)[SDRA_STORE_ID_MAX], int *n,
                        sdra_error *err)
{
    *ids = calloc(SDRA_RIGHTS_MAX_CALLS, sizeof **ids);
    if (!*ids)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    int rc = sdra_store_subject_calls(cx->store, cx->org, token, *ids, SDRA_RIGHTS_MAX_CALLS, n, err);
    if (rc < 0) {
        free(*ids);
        *ids = NULL;
    }
    return rc;
}

/* An artifact's content: parsed JSON for .json files, else the text. NULL when unreadable.
 * *budget (bytes the export may still hold) is charged with its size. */
static json_t *artifact_json(const sdra_rights_ctx *cx, const sdra_store_artifact *a, size_t *budget)
{
    char path[4096];
    if (strstr(a->path, "..") || sdra_path_join(path, sizeof path, cx->data_dir, a->path) < 0)
        return NULL;
    if (cx->object_fetch && access(path, F_OK) != 0 && cx->object_fetch(cx->object_user, a->path, NULL) < 0)
        return NULL;
    char *text = NULL;
    size_t len = 0;
    if (sdra_file_read(&text, &len, path, SDRA_RIGHTS_ARTIFACT_MAX, NULL) < 0)
        return NULL;
    *budget = len < *budget ? *budget - len : 0;
    json_t *v = NULL;
    size_t nl = strlen(a->name);
    if (nl > 5 && !strcmp(a->name + nl - 5, ".json"))
        v = json_loadb(text, len, 0, NULL);
    if (!v)
        v = json_stringn_nocheck(text, len);
    free(text);
    return v;
}

static json_t *export_call(const sdra_rights_ctx *cx, const sdra_store_call *sc, size_t *budget, sdra_error *err)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(sc->id));
    json_object_set_new(o, "status", json_string(sc->status));
    json_object_set_new(o, "created_at", rights_time_json(sc->created_ms));
    json_object_set_new(o, "updated_at", rights_time_json(sc->updated_ms));
    json_t *meta = rights_call_meta(sc->meta_json);
    const char *audio = json_string_value(json_object_get(meta, "audio"));
    if (audio && !strchr(audio, '/') && audio[0] != '.') {
        char path[4096];
        snprintf(path, sizeof path, "%s/calls/%s/%s", cx->data_dir, sc->id, audio);
        bool stored = access(path, F_OK) == 0;
        if (!stored && cx->object_exists)
            stored = cx->object_exists(cx->object_user, path + strlen(cx->data_dir) + 1, NULL) == 0;
        json_object_set_new(o, "audio", json_pack("{s:s,s:b}", "name", audio, "stored", stored));
    }
    json_object_set_new(o, "metadata", meta ? meta : json_object());
    sdra_store_artifact arts[32];
    int n = 0;
    int rc = sdra_store_artifact_list(cx->store, cx->org, sc->id, arts, 32, &n, err);
    json_t *al = json_object();
    for (int i = 0; rc == 0 && i < n; i++) {
        json_t *v = artifact_json(cx, &arts[i], budget);
        json_object_set_new(al, arts[i].name, v ? v : json_null());
        if (*budget == 0)
            rc = sdra_error_set(err, SDRA_ELIMIT, "export larger than %u MiB: erase or purge old calls first",
                                SDRA_RIGHTS_EXPORT_MAX >> 20);
    }
    json_object_set_new(o, "artifacts", al);
    sdra_store_outbox_item items[64];
    int no = 0;
    if (rc == 0)
        rc = sdra_store_outbox_list(cx->store, sc->id, items, 64, &no, err);
    json_t *ol = json_array();
    for (int i = 0; i < no; i++) {
        json_t *payload = json_loads(items[i].payload, 0, NULL);
        json_array_append_new(ol, json_pack("{s:s,s:s,s:s,s:i,s:o}", "key", items[i].key, "kind", items[i].kind,
                                            "state", sdra_job_state_name(items[i].state), "attempts",
                                            items[i].attempts, "payload",
                                            payload ? payload : json_string(items[i].payload)));
        sdra_store_outbox_release(&items[i]);
    }
    json_object_set_new(o, "outbox", ol);
    if (rc < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int cmp_entry(const void *a, const void *b)
{
    int64_t x = ((const sdra_store_audit_entry *)a)->id, y = ((const sdra_store_audit_entry *)b)->id;
    return x < y ? -1 : x > y;
}

/* The audit entries whose target is one of targets, oldest first, each once. */
static int export_audit(const sdra_rights_ctx *cx, const char *const *targets, int n_targets, json_t **out,
                        sdra_error *err)
{
    sdra_store_audit_entry *all = NULL, *page = malloc(sizeof *page * AUDIT_PER_TARGET);
    size_t n_all = 0;
    int rc = page ? 0 : sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    for (int t = 0; rc == 0 && t < n_targets; t++) {
        sdra_store_audit_filter f = {.target = targets[t], .oldest_first = true, .org = cx->org};
        int n = 0;
        if ((rc = sdra_store_audit_query(cx->store, &f, page, AUDIT_PER_TARGET, &n, err)) < 0)
            break;
        sdra_store_audit_entry *grown = realloc(all, sizeof *all * (n_all + (size_t)n + 1));
        if (!grown) {
            rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
            break;
        }
        all = grown;
        memcpy(all + n_all, page, sizeof *page * (size_t)n);
        n_all += (size_t)n;
    }
    free(page);
    if (rc < 0) {
        free(all);
        return rc;
    }
    if (n_all)
        qsort(all, n_all, sizeof *all, cmp_entry);
    json_t *arr = json_array();
    for (size_t i = 0; i < n_all; i++) {
        if (i && all[i].id == all[i - 1].id)
            continue;
        const sdra_store_audit_entry *e = &all[i];
        json_array_append_new(arr, json_pack("{s:I,s:o,s:s,s:s,s:s,s:s,s:s}", "id", (json_int_t)e->id, "at",
                                             rights_time_json(e->at_ms), "actor", e->actor, "action", e->action,
                                             "target", e->target, "ip", e->ip, "detail", e->detail));
    }
    free(all);
    *out = arr;
    return 0;
}

static int export_crm(const sdra_rights_ctx *cx, const char *email, json_t **out, sdra_error *err)
{
    sdra_crm *crm = NULL;
    int rc = sdra_crm_open_ex(&crm, "local", cx->data_dir, SDRA_CRM_READONLY, err);
    if (rc == 0)
        rc = sdra_crm_set_org(crm, cx->org, err);
    json_t *o = json_object();
    for (int k = 0; rc == 0 && k < SDRA_CRM_N_KINDS; k++) {
        json_t *rows = NULL;
        if ((rc = sdra_crm_list(crm, (sdra_crm_kind)k, email, &rows, err)) == 0)
            json_object_set_new(o, sdra_crm_kind_name((sdra_crm_kind)k), rows);
    }
    sdra_crm_close(crm);
    if (rc < 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

/* The person behind email: the normalised address, its token and its pseudonym ("" when the
 * subject has none: never seen, or erased). */
static int find_subject(const sdra_rights_ctx *cx, const char *email, char norm[256],
                        char token[SDRA_STORE_TOKEN_HEX + 1], char pseud[SDRA_STORE_ID_MAX], sdra_error *err)
{
    int rc;
    pseud[0] = '\0';
    if ((rc = sdra_rights_email_normalise(norm, 256, email, err)) < 0 || (rc = rights_subject(cx, norm, token, err)) < 0)
        return rc;
    rc = rights_pseudonym(cx, token, false, pseud, err);
    return rc == SDRA_ENOTFOUND ? 0 : rc;
}

int sdra_rights_export(const sdra_rights_ctx *cx, const char *email, json_t **out, sdra_error *err)
{
    char norm[256], token[SDRA_STORE_TOKEN_HEX + 1], pseud[SDRA_STORE_ID_MAX] = "", detail[160];
    char(*ids)[SDRA_STORE_ID_MAX] = NULL;
    const char **targets = NULL;
    json_t *doc = NULL, *crm = NULL, *calls = NULL, *audit = NULL;
    int n_ids = 0, rc;
    *out = NULL;
    if ((rc = find_subject(cx, email, norm, token, pseud, err)) < 0)
        return rc;
    snprintf(detail, sizeof detail, "org=%s subject=%s", cx->org, pseud[0] ? pseud : "unknown");
    /* recorded before anything is read: an export is never left out of the trail */
    if ((rc = rights_audit(cx, "privacy.export", pseud, detail, err)) < 0)
        return rc;
    if ((rc = linked_calls(cx, token, &ids, &n_ids, err)) < 0 || (rc = export_crm(cx, norm, &crm, err)) < 0)
        goto done;
    calls = json_array();
    targets = calloc((size_t)n_ids + 1, sizeof *targets);
    if (!calls || !targets) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }
    int n_targets = 0;
    size_t budget = SDRA_RIGHTS_EXPORT_MAX;
    for (int i = 0; i < n_ids; i++) {
        sdra_store_call sc;
        sdra_error e2 = {0};
        int r = sdra_store_call_get(cx->store, cx->org, ids[i], &sc, &e2);
        if (r == SDRA_ENOTFOUND)
            continue; /* a link left by a submission that never committed */
        if (r < 0) {
            if (err)
                *err = e2;
            rc = r;
            goto done;
        }
        json_t *c = export_call(cx, &sc, &budget, &e2);
        sdra_store_call_release(&sc);
        if (!c) {
            rc = e2.code ? e2.code : SDRA_ENOMEM;
            if (err)
                *err = e2;
            goto done;
        }
        json_array_append_new(calls, c);
        targets[n_targets++] = ids[i];
    }
    if (pseud[0])
        targets[n_targets++] = pseud;
    if ((rc = export_audit(cx, targets, n_targets, &audit, err)) < 0)
        goto done;
    doc = json_object();
    json_object_set_new(doc, "schema", json_string(SDRA_RIGHTS_EXPORT_SCHEMA));
    json_object_set_new(doc, "org", json_string(cx->org));
    json_object_set_new(doc, "generated_at", rights_time_json(cx->now_ms));
    json_object_set_new(doc, "subject", json_pack("{s:s,s:o}", "email", norm, "pseudonym",
                                                  pseud[0] ? json_string(pseud) : json_null()));
    json_object_set_new(doc, "crm", crm);
    json_object_set_new(doc, "calls", calls);
    json_object_set_new(doc, "audit", audit);
    crm = calls = audit = NULL;
    *out = doc;
done:
    json_decref(crm);
    json_decref(calls);
    json_decref(audit);
    free(targets);
    free(ids);
    return rc;
}

int sdra_rights_erase(const sdra_rights_ctx *cx, const char *email, sdra_rights_counts *out, sdra_error *err)
{
    char norm[256], token[SDRA_STORE_TOKEN_HEX + 1], pseud[SDRA_STORE_ID_MAX] = "", detail[200];
    char(*ids)[SDRA_STORE_ID_MAX] = NULL;
    sdra_crm *crm = NULL;
    int n_ids = 0, rc;
    memset(out, 0, sizeof *out);
    if (!cx->delete_call)
        return sdra_error_set(err, SDRA_EINVAL, "erase: no way to delete calls given");
    if ((rc = find_subject(cx, email, norm, token, pseud, err)) < 0)
        return rc;
    if ((rc = linked_calls(cx, token, &ids, &n_ids, err)) < 0)
        return rc;
    for (int i = 0; i < n_ids; i++) {
        sdra_store_outbox_item items[64];
        int n = 0;
        if (sdra_store_outbox_list(cx->store, ids[i], items, 64, &n, NULL) == 0)
            for (int k = 0; k < n; k++)
                sdra_store_outbox_release(&items[k]);
        out->outbox += n;
    }
    /* counts only: the entry must not name the person it erases */
    snprintf(detail, sizeof detail, "org=%s subject=%s linked_calls=%d", cx->org, pseud[0] ? pseud : "unknown", n_ids);
    if ((rc = rights_audit(cx, "privacy.erase", pseud, detail, err)) < 0)
        goto done;
    for (int i = 0; i < n_ids; i++) {
        sdra_error e2 = {0};
        int r = cx->delete_call(cx->user, ids[i], false, &e2);
        if (r == SDRA_ENOTFOUND)
            continue;
        if (r < 0) {
            if (err)
                *err = e2;
            rc = r;
            goto done;
        }
        out->calls++;
    }
    if ((rc = sdra_crm_open(&crm, "local", cx->data_dir, err)) < 0 ||
        (rc = sdra_crm_set_org(crm, cx->org, err)) < 0 || (rc = sdra_crm_forget_contact(crm, norm, &out->crm_rows, err)) < 0)
        goto done;
    if ((rc = sdra_store_subject_forget(cx->store, cx->org, token, &out->subject_rows, err)) < 0)
        goto done;
    sdra_error ck = {0};
    if (sdra_store_checkpoint(cx->store, &ck) < 0)
        sdra_log(SDRA_LOG_WARN, "erasure done; %s", ck.msg);
done:
    sdra_crm_close(crm);
    free(ids);
    return rc;
}
