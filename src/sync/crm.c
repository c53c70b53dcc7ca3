/*
 * crm.c - the connector-neutral side of the CRM: looking up a backend by name, the opaque
 * sdra_crm handle that wraps a backend's ops table and state, the thin call-through wrappers,
 * the user data directory default, record-kind names and stable task keys. Nothing here knows
 * which backend it talks to.
 */
#include "internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sdra_crm {
    const struct sdra_crm_ops *ops;
    void *state;
};

static const struct sdra_crm_ops *const backends[] = {
    &sdra_crm_local_ops,
    &sdra_crm_hubspot_ops,
    &sdra_crm_salesforce_ops,
};

const struct sdra_crm_ops *sdra_crm_backend(const char *name)
{
    if (!name || !*name)
        name = "local";
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (!strcmp(backends[i]->name, name))
            return backends[i];
    return NULL;
}

int sdra_crm_default_data_dir(char *out, size_t n, const char *dir)
{
    int w;
    const char *env = getenv("SDRA_DATA"), *home = getenv("HOME");
    if (dir && *dir)
        w = snprintf(out, n, "%s", dir);
    else if (env && *env)
        w = snprintf(out, n, "%s", env);
    else if (home && *home)
        w = snprintf(out, n, "%s/.local/share/sdra", home);
    else
        return SDRA_ENOTFOUND;
    return w < 0 || (size_t)w >= n ? SDRA_ELIMIT : 0;
}

int sdra_crm_open_ex(sdra_crm **out, const char *backend, const char *data_dir, int flags,
                     sdra_error *err)
{
    *out = NULL;
    const struct sdra_crm_ops *ops = sdra_crm_backend(backend);
    if (!ops)
        return sdra_error_set(err, SDRA_EUNSUPPORTED, "CRM backend '%.60s' is not available (known: local, hubspot, salesforce)",
                              backend);
    char dir[4096];
    int rc = sdra_crm_default_data_dir(dir, sizeof dir, data_dir);
    if (rc == SDRA_ENOTFOUND)
        return sdra_error_set(err, rc, "no data directory: give --data DIR or set SDRA_DATA or HOME");
    if (rc < 0)
        return sdra_error_set(err, rc, "data directory path too long");
    sdra_crm *crm = calloc(1, sizeof *crm);
    if (!crm)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    crm->ops = ops;
    if ((rc = ops->open(&crm->state, dir, flags, err)) < 0) {
        free(crm);
        return rc;
    }
    *out = crm;
    return 0;
}

int sdra_crm_open(sdra_crm **out, const char *backend, const char *data_dir, sdra_error *err)
{
    return sdra_crm_open_ex(out, backend, data_dir, 0, err);
}

void sdra_crm_close(sdra_crm *crm)
{
    if (!crm)
        return;
    crm->ops->close(crm->state);
    free(crm);
}

const char *sdra_crm_backend_name(const sdra_crm *crm)
{
    return crm->ops->name;
}

const char *sdra_crm_location(const sdra_crm *crm)
{
    return crm->ops->location ? crm->ops->location(crm->state) : crm->ops->name;
}

int sdra_crm_begin(sdra_crm *crm, sdra_error *err)
{
    return crm->ops->begin ? crm->ops->begin(crm->state, err) : 0;
}

int sdra_crm_commit(sdra_crm *crm, sdra_error *err)
{
    return crm->ops->commit ? crm->ops->commit(crm->state, err) : 0;
}

void sdra_crm_rollback(sdra_crm *crm)
{
    if (crm->ops->rollback)
        crm->ops->rollback(crm->state);
}

int sdra_crm_upsert_contact(sdra_crm *crm, const sdra_crm_contact *c, sdra_crm_result *out, sdra_error *err)
{
    return crm->ops->upsert_contact(crm->state, c, out, err);
}

int sdra_crm_log_activity(sdra_crm *crm, const sdra_crm_activity *a, sdra_crm_result *out, sdra_error *err)
{
    return crm->ops->log_activity(crm->state, a, out, err);
}

int sdra_crm_upsert_task(sdra_crm *crm, const sdra_crm_task *t, sdra_crm_result *out, sdra_error *err)
{
    return crm->ops->upsert_task(crm->state, t, out, err);
}

int sdra_crm_schedule_email(sdra_crm *crm, const sdra_crm_email *e, sdra_crm_result *out, sdra_error *err)
{
    return crm->ops->schedule_email(crm->state, e, out, err);
}

int sdra_crm_add_note(sdra_crm *crm, const sdra_crm_note *n, sdra_crm_result *out, sdra_error *err)
{
    return crm->ops->add_note(crm->state, n, out, err);
}

int sdra_crm_list(sdra_crm *crm, sdra_crm_kind kind, const char *contact_email, json_t **out,
                  sdra_error *err)
{
    return crm->ops->list(crm->state, kind, contact_email, out, err);
}

int sdra_crm_forget_call(sdra_crm *crm, const char *call_id, int *n_removed, sdra_error *err)
{
    *n_removed = 0;
    if (!crm->ops->forget_call)
        return sdra_error_set(err, SDRA_EUNSUPPORTED, "CRM backend %s cannot erase calls", crm->ops->name);
    return crm->ops->forget_call(crm->state, call_id, n_removed, err);
}

int sdra_crm_forget_contact(sdra_crm *crm, const char *email, int *n_removed, sdra_error *err)
{
    *n_removed = 0;
    if (!crm->ops->forget_contact)
        return sdra_error_set(err, SDRA_EUNSUPPORTED, "CRM backend %s cannot erase contacts", crm->ops->name);
    return crm->ops->forget_contact(crm->state, email, n_removed, err);
}

int sdra_sync_prune_tasks(sdra_crm *crm, const char *call_id, const char *const *keys, int n_keys,
                          int *n_removed, sdra_error *err)
{
    *n_removed = 0;
    return crm->ops->prune_tasks ? crm->ops->prune_tasks(crm->state, call_id, keys, n_keys, n_removed, err) : 0;
}

int sdra_sync_cancel_emails(sdra_crm *crm, const char *call_id, int *n_canceled, sdra_error *err)
{
    *n_canceled = 0;
    return crm->ops->cancel_emails ? crm->ops->cancel_emails(crm->state, call_id, n_canceled, err) : 0;
}

static const char *const kind_names[SDRA_CRM_N_KINDS] = {"contacts", "activities", "tasks", "emails", "notes"};

int sdra_crm_kind_parse(const char *s)
{
    for (int i = 0; s && i < SDRA_CRM_N_KINDS; i++)
        if (!strcmp(s, kind_names[i]))
            return i;
    return -1;
}

const char *sdra_crm_kind_name(sdra_crm_kind kind)
{
    return kind >= 0 && kind < SDRA_CRM_N_KINDS ? kind_names[kind] : "unknown";
}

void sdra_crm_task_key(char out[17], const char *kind, const char *text)
{
    uint64_t h = 1469598103934665603ULL;
    const uint64_t prime = 1099511628211ULL;
    for (const char *p = kind ? kind : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * prime;
    h = (h ^ (unsigned char)'|') * prime;
    bool space = false, any = false;
    for (const char *p = text ? text : ""; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            space = any;
            continue;
        }
        if (space) {
            h = (h ^ (unsigned char)' ') * prime;
            space = false;
        }
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        h = (h ^ c) * prime;
        any = true;
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

int sdra_crm_set_org(sdra_crm *crm, const char *org, sdra_error *err)
{
    size_t n = org ? strlen(org) : 0;
    bool ok = n > 0 && n < 64 && org[0] != '-' && strspn(org, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
    if (!ok)
        return sdra_error_set(err, SDRA_EINVAL, "organisation '%.80s': use 1-63 of [a-z0-9-]", org ? org : "");
    if (!crm->ops->set_org)
        return strcmp(org, "default") ? sdra_error_set(err, SDRA_EUNSUPPORTED, "CRM backend %s has no organisations",
                                                       crm->ops->name)
                                      : 0;
    return crm->ops->set_org(crm->state, org, err);
}

int sdra_crm_check(sdra_crm *crm, char *what, size_t what_n, sdra_error *err)
{
    if (!crm->ops->check) {
        snprintf(what, what_n, "%s at %s", crm->ops->name, sdra_crm_location(crm));
        return 0;
    }
    return crm->ops->check(crm->state, what, what_n, err);
}

const char *sdra_crm_owner_words(const char *owner)
{
    if (owner && !strcmp(owner, "prospect"))
        return "the prospect's commitment";
    if (owner && !strcmp(owner, "unknown"))
        return "whose commitment is unknown: one voice in the recording";
    return "the rep's commitment";
}
