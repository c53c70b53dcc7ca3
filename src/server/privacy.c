/*
 * privacy.c - the server's side of data-subject rights, retention and consent (issue 14,
 * sdra/rights.h): GET /v1/privacy/export, POST /v1/privacy/erase, GET/PUT /v1/retention (admin
 * keys only), the consent check on uploads and the retention sweeper thread. Erasure and the
 * sweeper delete calls through srv_call_delete_ex, the path of DELETE /v1/calls/{id}.
 */
#include "internal.h"

#include "sdra/log.h"
#include "sdra/rights.h"
#include "sdra/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The request body as a JSON object, or NULL with the error answer queued in *ret. */
static json_t *body_json(req *r, struct MHD_Connection *c, enum MHD_Result *ret)
{
    if (r->body_too_big) {
        *ret = srv_send_error(r, c, 413, "limit_exceeded", "request body larger than %zu bytes", srv_route_body_max(r->route));
        return NULL;
    }
    json_error_t je;
    json_t *doc = r->body_len ? json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!json_is_object(doc)) {
        json_decref(doc);
        *ret = srv_send_error(r, c, 400, "invalid_input", "expected a JSON object as the request body");
        return NULL;
    }
    return doc;
}

static int delete_for_request(void *user, const char *call_id, bool keep_crm, sdra_error *err)
{
    req *r = user;
    return srv_call_delete_ex(r->s, r->key.org, call_id, r->key.id, r->ip, "call.delete", keep_crm, err);
}

enum MHD_Result srv_privacy_export(req *r, struct MHD_Connection *c)
{
    if (!srv_require_scope(r, c, "admin"))
        return r->status ? MHD_YES : MHD_NO;
    const char *email = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "email");
    if (!email || !*email)
        return srv_send_error(r, c, 400, "invalid_input", "give the person's address: ?email=ADDRESS");
    sdra_rights_ctx cx = sdra_rights_ctx_init(r->s->store, r->s->data_dir, r->key.org, r->key.id, r->ip);
    srv_blob_rights_hooks(r->s, &cx);
    json_t *doc = NULL;
    sdra_error err = {0};
    srv_seal sl; /* encrypted at rest: every call's files and fields open, CRM by blind index */
    int rc = srv_seal_begin(r->s, &sl, NULL, &err);
    if (rc == 0)
        rc = sdra_rights_export(&cx, email, &doc, &err);
    srv_seal_end(&sl);
    if (rc < 0)
        return srv_send_sdra_error(r, c, &err);
    return srv_send_json(r, c, 200, doc);
}

enum MHD_Result srv_privacy_erase(req *r, struct MHD_Connection *c)
{
    if (!srv_require_scope(r, c, "admin"))
        return r->status ? MHD_YES : MHD_NO;
    enum MHD_Result ret;
    json_t *doc = body_json(r, c, &ret);
    if (!doc)
        return ret;
    const char *email = json_string_value(json_object_get(doc, "email"));
    if (!email || json_object_size(doc) != 1) {
        json_decref(doc);
        return srv_send_error(r, c, 400, "invalid_input", "expected {\"email\": \"ADDRESS\"}");
    }
    sdra_rights_ctx cx = sdra_rights_ctx_init(r->s->store, r->s->data_dir, r->key.org, r->key.id, r->ip);
    srv_blob_rights_hooks(r->s, &cx);
    cx.delete_call = delete_for_request;
    cx.user = r;
    sdra_rights_counts n;
    sdra_error err = {0};
    srv_seal sl;
    int rc = srv_seal_begin(r->s, &sl, NULL, &err);
    if (rc == 0)
        rc = sdra_rights_erase(&cx, email, &n, &err);
    srv_seal_end(&sl);
    json_decref(doc);
    if (rc < 0)
        return srv_send_sdra_error(r, c, &err);
    return srv_send_json(r, c, 200, json_pack("{s:s,s:o}", "org", r->key.org, "erased", sdra_rights_counts_to_json(&n)));
}

enum MHD_Result srv_retention(req *r, struct MHD_Connection *c)
{
    if (!srv_require_scope(r, c, "admin"))
        return r->status ? MHD_YES : MHD_NO;
    sdra_store_policy p;
    sdra_error err = {0};
    if (sdra_store_policy_get(r->s->store, r->key.org, &p, &err) < 0)
        return srv_send_sdra_error(r, c, &err);
    if (strcmp(r->method, "PUT") != 0)
        return srv_send_json(r, c, 200, sdra_retention_policy_to_json(&p));
    enum MHD_Result ret;
    json_t *doc = body_json(r, c, &ret);
    if (!doc)
        return ret;
    int rc = sdra_retention_policy_from_json(&p, doc, &err);
    json_decref(doc);
    if (rc < 0)
        return srv_send_sdra_error(r, c, &err);
    char detail[SDRA_STORE_AUDIT_DETAIL_MAX];
    sdra_retention_policy_describe(&p, detail, sizeof detail);
    if (srv_audit(r, NULL, "retention.set", p.org, detail) < 0)
        return srv_send_audit_failed(r, c);
    int64_t now = sdra_store_now_ms();
    if (sdra_store_policy_put(r->s->store, &p, now, &err) < 0)
        return srv_send_sdra_error(r, c, &err);
    p.updated_ms = now;
    return srv_send_json(r, c, 200, sdra_retention_policy_to_json(&p));
}

int srv_consent_check(req *r, struct MHD_Connection *c, const sdra_call_info *ci, enum MHD_Result *ret)
{
    sdra_store_policy p;
    sdra_error err = {0};
    if (sdra_store_policy_get(r->s->store, r->key.org, &p, &err) < 0) {
        *ret = srv_send_sdra_error(r, c, &err);
        return -1;
    }
    if (sdra_rights_consent_ok(&p, ci->consent))
        return 0;
    char detail[128];
    snprintf(detail, sizeof detail, "consent=%s org=%s: refused, the policy requires consent",
             ci->consent ? ci->consent : "unknown", p.org);
    if (srv_audit(r, NULL, "call.refused", "", detail) < 0) {
        *ret = srv_send_audit_failed(r, c);
        return -1;
    }
    *ret = srv_send_error(r, c, 422, "consent_required",
                          "organisation %s processes calls only with consent: send consent=obtained or "
                          "consent=not_required (got %s)",
                          p.org, ci->consent ? ci->consent : "unknown");
    return 1;
}

/* ---- the retention sweeper ------------------------------------------------------------- */

static int delete_for_sweep(void *user, const char *call_id, bool keep_crm, sdra_error *err)
{
    /* the purge wrote its own "retention.purge" entry for the call */
    return srv_call_delete_ex(user, NULL, call_id, "retention", "local", NULL, keep_crm, err);
}

static void sweep_once(struct sdra_server *s)
{
    sdra_rights_ctx cx = sdra_rights_ctx_init(s->store, s->data_dir, NULL, "retention", "local");
    srv_blob_rights_hooks(s, &cx);
    cx.org = NULL; /* every organisation's calls, each under its own policy */
    cx.now_ms += s->p.retention_clock_offset_ms;
    cx.delete_call = delete_for_sweep;
    cx.user = s;
    sdra_rights_counts n;
    sdra_error err = {0};
    srv_seal sl;
    int rc = srv_seal_begin(s, &sl, NULL, &err);
    if (rc == 0)
        rc = sdra_retention_purge(&cx, false, &n, &err);
    srv_seal_end(&sl);
    if (rc < 0)
        sdra_log(SDRA_LOG_ERROR, "retention sweep failed: %s", err.msg);
    else if (n.calls || n.audio || n.artifacts)
        sdra_log(SDRA_LOG_INFO, "retention sweep: %d calls, %d audio files, %d artifacts deleted", n.calls, n.audio,
                 n.artifacts);
}

static void *sweeper_main(void *arg)
{
    struct sdra_server *s = arg;
    while (!atomic_load(&s->stopping)) {
        sweep_once(s);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += s->p.retention_sweep_s;
        pthread_mutex_lock(&s->mu);
        while (!atomic_load(&s->stopping) && pthread_cond_timedwait(&s->ret_cv, &s->mu, &until) != ETIMEDOUT)
            ;
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

int srv_retention_start(struct sdra_server *s, sdra_error *err)
{
    if (s->p.retention_sweep_s <= 0)
        return 0;
    if (pthread_create(&s->ret_thread, NULL, sweeper_main, s) != 0)
        return sdra_error_set(err, SDRA_EINTERNAL, "server: cannot start the retention sweeper");
    s->ret_started = true;
    return 0;
}

void srv_retention_stop(struct sdra_server *s)
{
    if (!s->ret_started)
        return;
    pthread_join(s->ret_thread, NULL);
    s->ret_started = false;
}
