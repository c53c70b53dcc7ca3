/*
 * outbox.c - planning a call's external effects (policy: do-not-email, review, scheduling) and
 * delivering them one claimed entry at a time (sdra/outbox.h). Nothing here talks to a remote
 * system directly: the CRM goes through sdra/crm.h, mail through sdra/mail.h, webhooks through
 * sdra/httpc.h. Idempotency keys: "<kind>:<call id>" ("webhook:<event>:<call id>:cfg|cb"), so
 * planning the same stage twice (a worker that completed it and crashed before the commit)
 * records each effect once.
 */
#include "sdra/outbox.h"
#include "sdra/call.h"
#include "sdra/compose.h"
#include "sdra/crm.h"
#include "sdra/httpc.h"
#include "sdra/log.h"
#include "sdra/util.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DOC_MAX (64u << 20)
#define EML_MAX (32u << 20)

sdra_outbox_params sdra_outbox_default_params(void)
{
    sdra_outbox_params p = {0};
    p.deliver = SDRA_DELIVER_DRAFT;
    p.review = SDRA_REVIEW_WHEN_POOR;
    p.hours = (sdra_outbox_hours){.start_min = 540, .end_min = 1020, .days_mask = 0x3e};
    p.default_tz = "UTC";
    p.max_attempts = 8;
    p.retry_base_ms = 2000;
    p.retry_max_ms = 3600000;
    p.lease_ms = 60000;
    p.timeout_ms = 10000;
    return p;
}

void sdra_outbox_plan_release(sdra_outbox_plan *pl)
{
    if (!pl)
        return;
    for (int i = 0; i < pl->n_owned; i++)
        free(pl->owned[i]);
    memset(pl, 0, sizeof *pl);
}

static const char *own(sdra_outbox_plan *pl, char *s)
{
    if (!s || pl->n_owned >= (int)(sizeof pl->owned / sizeof pl->owned[0])) {
        free(s);
        return NULL;
    }
    pl->owned[pl->n_owned++] = s;
    return s;
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static bool remote_crm(const sdra_outbox_params *p)
{
    return p->crm && *p->crm && strcmp(p->crm, "local") != 0;
}

static bool mail_on(const sdra_outbox_params *p)
{
    return p->mail && *p->mail && strcmp(p->mail, "none") != 0 && p->deliver != SDRA_DELIVER_NONE;
}

/* Adds one effect whose key, payload and reason are built here (taken over by the plan). */
static int add_fx(sdra_outbox_plan *pl, const char *org, const char *call_id, const char *kind, char *key,
                  char *payload, int state, int64_t send_at_ms, char *reason, sdra_error *err)
{
    if (pl->n >= SDRA_OUTBOX_PLAN_MAX) {
        free(key);
        free(payload);
        free(reason);
        return sdra_error_set(err, SDRA_ELIMIT, "outbox: too many effects for one stage");
    }
    const char *k = own(pl, key), *pa = own(pl, payload);
    const char *r = reason ? own(pl, reason) : NULL;
    if (!k || !pa || (reason && !r))
        return sdra_error_set(err, SDRA_ENOMEM, "outbox: out of memory");
    pl->fx[pl->n++] = (sdra_store_outbox_new){.org = org, .key = k, .call_id = call_id, .kind = kind,
                                              .payload = pa, .state = state, .send_at_ms = send_at_ms,
                                              .reason = r};
    return 0;
}

static char *dupf(const char *fmt, const char *a, const char *b, const char *c)
{
    char buf[512];
    snprintf(buf, sizeof buf, fmt, a, b, c);
    return strdup(buf);
}

static void iso_utc(char out[32], int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The webhook entries of event for the call: the configured endpoint and the call's own
 * callback_url (call.json), each with the body fixed now so that every retry sends the same
 * bytes (and the same event id). data is borrowed. */
static int plan_webhooks(sdra_outbox_plan *pl, const sdra_outbox_params *p, const char *org, const char *call_id,
                         const json_t *calldoc, const char *event, json_t *data, int64_t now_ms, sdra_error *err)
{
    const char *targets[2] = {p->webhook_url, calldoc ? jstr(calldoc, "callback_url") : NULL};
    static const char *const tags[2] = {"cfg", "cb"};
    for (int i = 0; i < 2; i++) {
        if (!targets[i] || !*targets[i])
            continue;
        char *key = dupf("webhook:%s:%s:%s", event, call_id, tags[i]);
        char created[32];
        iso_utc(created, now_ms);
        json_t *body = json_pack("{s:s?, s:s, s:s, s:O}", "id", key, "type", event, "created", created, "data", data);
        char *btext = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(body);
        json_t *pay = btext ? json_pack("{s:s, s:b, s:s, s:s}", "url", targets[i], "check", i == 1, "event", event,
                                        "body", btext)
                            : NULL;
        free(btext);
        char *ptext = pay ? json_dumps(pay, JSON_COMPACT) : NULL;
        json_decref(pay);
        if (!key || !ptext) {
            free(key);
            free(ptext);
            return sdra_error_set(err, SDRA_ENOMEM, "outbox: out of memory");
        }
        int rc = add_fx(pl, org, call_id, SDRA_OUTBOX_WEBHOOK, key, ptext, SDRA_JOB_QUEUED, 0, NULL, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* plan_webhooks with data taken over (NULL: out of memory). */
static int plan_event(sdra_outbox_plan *pl, const sdra_outbox_params *p, const char *org, const char *call_id,
                      const json_t *calldoc, const char *event, json_t *data, int64_t now_ms, sdra_error *err)
{
    int rc = data ? plan_webhooks(pl, p, org, call_id, calldoc, event, data, now_ms, err)
                  : sdra_error_set(err, SDRA_ENOMEM, "outbox: out of memory");
    json_decref(data);
    return rc;
}

/* Whether the review policy holds the package (email.json needs_review), and why. */
static char *review_reason(const sdra_outbox_params *p, const json_t *email)
{
    if (p->review == SDRA_REVIEW_ALWAYS)
        return strdup("held for review (review policy: always); approve to send");
    if (p->review == SDRA_REVIEW_NEVER || !json_is_true(json_object_get(email, "needs_review")))
        return NULL;
    char buf[SDRA_STORE_ERRMSG_MAX];
    size_t n = (size_t)snprintf(buf, sizeof buf, "held for review: the package needs review");
    json_t *why = json_object_get(email, "review_reasons");
    size_t i;
    json_t *w;
    json_array_foreach(why, i, w) {
        if (json_is_string(w) && n < sizeof buf)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s %s", i == 0 ? " (" : ";", json_string_value(w));
    }
    if (json_array_size(why) && n < sizeof buf)
        snprintf(buf + n, sizeof buf - n, ")");
    for (char *c = buf; *c; c++) /* one line */
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    return strdup(buf);
}

/* When the email may go: call.json send_at (RFC 3339 with a zone, sdra_send_at_parse), else
 * the next business-hours slot in the contact's zone (call.json contact_timezone / timezone)
 * when send_at is "next" or business hours are on, else now. */
static int send_time(const sdra_outbox_params *p, const json_t *calldoc, int64_t now_ms, int64_t *out,
                     sdra_error *err)
{
    const char *at = jstr(calldoc, "send_at");
    bool next = false;
    *out = 0;
    if (at && *at) {
        sdra_error perr = {0};
        int rc = sdra_send_at_parse(at, &next, out, &perr);
        if (rc < 0)
            return sdra_error_set(err, rc, "call.json %s", perr.msg);
        if (!next)
            return 0;
    }
    if (!p->business_hours && !next)
        return 0;
    const char *tz = jstr(calldoc, "contact_timezone");
    if (!tz)
        tz = jstr(calldoc, "timezone");
    if (!tz || !*tz)
        tz = p->default_tz && *p->default_tz ? p->default_tz : "UTC";
    int64_t slot = 0;
    int rc = sdra_outbox_next_slot(now_ms, tz, &p->hours, &slot, err);
    if (rc < 0)
        return rc;
    *out = slot > now_ms ? slot : 0;
    return 0;
}

static int plan_mail(sdra_outbox_plan *pl, const sdra_outbox_params *p, const char *org, const char *call_id,
                     const char *workdir, const json_t *calldoc, int64_t now_ms, sdra_error *err)
{
    json_t *email = NULL, *analysis = NULL;
    int rc = sdra_json_load_doc(&email, workdir, "email.json", DOC_MAX, 1, err);
    if (rc == 0)
        rc = sdra_json_load_doc(&analysis, workdir, "analysis.json", DOC_MAX, 1, err);
    if (rc < 0 || !email)
        goto done;
    int state = SDRA_JOB_QUEUED;
    char *reason = NULL;
    const json_t *prefs = json_object_get(analysis, "contact_preferences");
    json_t *to = json_object_get(email, "to"), *rcpt = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(to, i, a) {
        const char *addr = json_is_string(a) ? json_string_value(a) : jstr(a, "email");
        if (!addr)
            addr = jstr(a, "address");
        if (addr && *addr)
            json_array_append_new(rcpt, json_string(addr));
    }
    /* policy first: never to a contact who asked not to be emailed */
    if (jstr(email, "skipped") || json_is_true(json_object_get(prefs, "do_not_email"))) {
        state = SDRA_OUTBOX_CANCELED;
        reason = strdup("never sent: the contact asked not to be emailed (do-not-email)");
    } else if (!json_array_size(rcpt) || !jstr(email, "message_id")) {
        state = SDRA_OUTBOX_CANCELED;
        reason = strdup("never sent: the email has no recipient address");
    } else if ((reason = review_reason(p, email)) != NULL) {
        state = SDRA_OUTBOX_HELD;
    }
    int64_t send_at = 0;
    if (state != SDRA_OUTBOX_CANCELED && (rc = send_time(p, calldoc, now_ms, &send_at, err)) < 0) {
        free(reason);
        json_decref(rcpt);
        goto done;
    }
    const json_t *from = json_object_get(email, "from");
    json_t *pay = json_pack("{s:s, s:s, s:s, s:s?, s:o, s:s?, s:s}", "call_id", call_id, "transport", p->mail, "mode",
                            sdra_deliver_mode_name(p->deliver), "message_id", jstr(email, "message_id"), "rcpt", rcpt,
                            "from", json_is_string(from) ? json_string_value(from) : jstr(from, "email"), "eml",
                            "email.eml");
    if (pay && p->record_dir)
        json_object_set_new(pay, "dir", json_string(workdir));
    char *ptext = pay ? json_dumps(pay, JSON_COMPACT) : NULL;
    json_decref(pay);
    if (!ptext) {
        free(reason);
        rc = sdra_error_set(err, SDRA_ENOMEM, "outbox: out of memory");
        goto done;
    }
    rc = add_fx(pl, org, call_id, SDRA_OUTBOX_MAIL, dupf("%s:%s%s", SDRA_OUTBOX_MAIL, call_id, ""), ptext, state,
                send_at, reason, err);
done:
    json_decref(email);
    json_decref(analysis);
    return rc;
}

static int plan_crm(sdra_outbox_plan *pl, const sdra_outbox_params *p, const char *org, const char *call_id,
                    const char *workdir, sdra_error *err)
{
    json_t *email = NULL;
    int rc = sdra_json_load_doc(&email, workdir, "email.json", DOC_MAX, 1, err);
    if (rc < 0)
        return rc;
    char *reason = review_reason(p, email);
    json_decref(email);
    /* whose connector settings the sync uses: the call's own organisation's, never another's
     * (docs/connectors.md, Organisations) */
    json_t *pay = json_pack("{s:s, s:s, s:s}", "call_id", call_id, "backend", p->crm, "settings_of",
                            org && *org ? org : "default");
    if (pay && p->record_dir)
        json_object_set_new(pay, "dir", json_string(workdir));
    char *ptext = pay ? json_dumps(pay, JSON_COMPACT) : NULL;
    json_decref(pay);
    if (!ptext) {
        free(reason);
        return sdra_error_set(err, SDRA_ENOMEM, "outbox: out of memory");
    }
    return add_fx(pl, org, call_id, SDRA_OUTBOX_CRM_SYNC, dupf("%s:%s%s", SDRA_OUTBOX_CRM_SYNC, call_id, ""), ptext,
                  reason ? SDRA_OUTBOX_HELD : SDRA_JOB_QUEUED, 0, reason, err);
}

int sdra_outbox_plan_stage(sdra_outbox_plan *pl, const sdra_outbox_params *p, const char *stage, bool last,
                           const char *org, const char *call_id, const char *workdir, int64_t now_ms,
                           sdra_error *err)
{
    memset(pl, 0, sizeof *pl);
    json_t *calldoc = NULL;
    bool mail = mail_on(p) && !strcmp(stage, "compose"), crm = remote_crm(p) && !strcmp(stage, "sync");
    if (!mail && !crm && !last)
        return 0;
    int rc = sdra_json_load_doc(&calldoc, workdir, "call.json", DOC_MAX, 1, err);
    if (rc == 0 && mail)
        rc = plan_mail(pl, p, org, call_id, workdir, calldoc, now_ms, err);
    if (rc == 0 && crm)
        rc = plan_crm(pl, p, org, call_id, workdir, err);
    if (rc == 0 && last)
        rc = plan_event(pl, p, org, call_id, calldoc, "call.completed",
                        json_pack("{s:s, s:s, s:s}", "call_id", call_id, "org", org, "status", "done"), now_ms, err);
    json_decref(calldoc);
    if (rc < 0)
        sdra_outbox_plan_release(pl);
    return rc;
}

int sdra_outbox_plan_failed(sdra_outbox_plan *pl, const sdra_outbox_params *p, const char *org, const char *call_id,
                            const char *workdir, const char *msg, int64_t now_ms, sdra_error *err)
{
    memset(pl, 0, sizeof *pl);
    json_t *calldoc = NULL;
    int rc = sdra_json_load_doc(&calldoc, workdir, "call.json", DOC_MAX, 1, err);
    if (rc < 0) { /* the failure itself may be a bad call.json: the configured hook still hears */
        calldoc = NULL;
        rc = 0;
    }
    rc = plan_event(pl, p, org, call_id, calldoc, "call.failed",
                    json_pack("{s:s, s:s, s:s, s:s}", "call_id", call_id, "org", org, "status", "failed", "error",
                              msg ? msg : ""),
                    now_ms, err);
    json_decref(calldoc);
    if (rc < 0)
        sdra_outbox_plan_release(pl);
    return rc;
}

/* ---- delivery ------------------------------------------------------------------------------ */

/* How one attempt ended. */
typedef enum outcome { OK = 0, RETRY, DEAD, HOLD } outcome;

typedef struct attempt {
    outcome how;
    char remote_id[256];
    char msg[SDRA_STORE_ERRMSG_MAX];
} attempt;

__attribute__((noinline)) static void set_msg(attempt *a, outcome how, const char *fmt, const char *detail)
{
    a->how = how;
    snprintf(a->msg, sizeof a->msg, fmt, detail ? detail : "");
    for (char *c = a->msg; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
}

static outcome by_code(int rc, const sdra_error *err)
{
    if (err->retryable || rc == SDRA_ERETRY || rc == SDRA_ETIMEOUT || rc == SDRA_EUPSTREAM || rc == SDRA_EIO ||
        rc == SDRA_ENOMEM || rc == SDRA_ECANCELED)
        return RETRY;
    return DEAD;
}

/* A mail transport says itself whether a failure may pass (sdra/mail.h: err->retryable, the
 * same flag that makes `sdra mail` print [retryable] or [permanent]); its codes do not: an SMTP
 * 550 or 552 is SDRA_EUPSTREAM like a 451, and must end dead, not be retried. */
static outcome by_mail(int rc, const sdra_error *err)
{
    return err->retryable || rc == SDRA_ENOMEM || rc == SDRA_ECANCELED ? RETRY : DEAD;
}

/* The call's directory: the one the entry names (sdra run), else data_dir/calls/<id>. */
static void entry_dir(char *out, size_t n, const sdra_outbox_params *p, const sdra_store_outbox_item *it,
                      const json_t *pay)
{
    const char *d = jstr(pay, "dir");
    if (d && *d)
        snprintf(out, n, "%s", d);
    else
        snprintf(out, n, "%s/calls/%s", p->data_dir, it->call_id);
}

static void do_webhook(const sdra_outbox_params *p, const sdra_store_outbox_item *it, const json_t *pay,
                       int64_t now_ms, attempt *a)
{
    const char *url = jstr(pay, "url"), *body = jstr(pay, "body"), *event = jstr(pay, "event");
    sdra_error err = {0};
    if (!url || !body || !event) {
        set_msg(a, DEAD, "webhook entry is malformed%s", NULL);
        return;
    }
    char pin[SDRA_OUTBOX_RESOLVE_MAX] = "";
    if (json_is_true(json_object_get(pay, "check")) &&
        sdra_outbox_pin_target(url, p->allow_private_targets, pin, sizeof pin, &err) < 0) {
        set_msg(a, DEAD, "webhook target refused: %s", err.msg);
        return;
    }
    char sig[SDRA_OUTBOX_SIG_MAX], h_sig[SDRA_OUTBOX_SIG_MAX + 32], h_id[200], h_idem[200], h_ev[80];
    sdra_outbox_sign(p->webhook_secret, now_ms / 1000, body, strlen(body), sig);
    snprintf(h_sig, sizeof h_sig, "Sdra-Signature: %s", sig);
    snprintf(h_id, sizeof h_id, "Sdra-Event-Id: %s", it->key);
    snprintf(h_idem, sizeof h_idem, "Idempotency-Key: %s", it->key);
    snprintf(h_ev, sizeof h_ev, "Sdra-Event: %s", event);
    sdra_httpc_request q = sdra_httpc_default_request();
    q.url = url;
    q.method = "POST";
    q.content_type = "application/json";
    q.body = body;
    q.body_len = strlen(body);
    q.max_attempts = 1; /* the outbox retries, with its own backoff */
    q.timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : 10000;
    q.max_response_bytes = 64u << 10;
    q.resolve = pin[0] ? pin : NULL; /* the address just checked, not a second DNS answer */
    int h = 0;
    if (p->webhook_secret && *p->webhook_secret)
        q.headers[h++] = h_sig;
    q.headers[h++] = h_id;
    q.headers[h++] = h_idem;
    q.headers[h++] = h_ev;
    sdra_httpc_response r = {0};
    int rc = sdra_httpc_do(&r, &q, &err);
    if (rc == 0) {
        a->how = OK;
        snprintf(a->remote_id, sizeof a->remote_id, "http %ld", r.status);
    } else {
        /* 4xx other than 408 and 429 will not get better by trying again */
        bool perm = rc == SDRA_EINVAL || (r.status >= 400 && r.status < 500 && r.status != 408 && r.status != 429);
        set_msg(a, perm ? DEAD : RETRY, "webhook: %s", err.msg);
    }
    sdra_httpc_response_release(&r);
}

static int load_call(const char *dir, sdra_call_info *ci, json_t **calldoc, sdra_error *err)
{
    int rc = sdra_json_load_doc(calldoc, dir, "call.json", DOC_MAX, 0, err);
    if (rc == 0)
        rc = sdra_call_info_from_json(ci, *calldoc, err);
    return rc;
}

static void do_crm(const sdra_outbox_params *p, const sdra_store_outbox_item *it, const json_t *pay, attempt *a)
{
    char dir[1200];
    sdra_error err = {0};
    sdra_call_info ci = {0};
    json_t *calldoc = NULL, *tr = NULL, *an = NULL, *em = NULL, *report = NULL;
    sdra_crm *crm = NULL;
    const char *backend = jstr(pay, "backend");
    entry_dir(dir, sizeof dir, p, it, pay);
    int rc = load_call(dir, &ci, &calldoc, &err);
    if (rc == 0)
        rc = sdra_json_load_doc(&tr, dir, "transcript.json", DOC_MAX, 1, &err);
    if (rc == 0)
        rc = sdra_json_load_doc(&an, dir, "analysis.json", DOC_MAX, 0, &err);
    if (rc == 0)
        rc = sdra_json_load_doc(&em, dir, "email.json", DOC_MAX, 1, &err);
    if (rc < 0) {
        set_msg(a, rc == SDRA_ENOTFOUND || rc == SDRA_EINVAL ? DEAD : RETRY, "crm.sync: %s", err.msg);
        goto done;
    }
    const char *settings_of = jstr(pay, "settings_of");
    if (settings_of && strcmp(settings_of, it->org)) { /* a payload naming another org is not obeyed */
        set_msg(a, DEAD, "crm.sync: the entry names another organisation's connector%s", NULL);
        goto done;
    }
    if ((rc = sdra_crm_open(&crm, backend, p->data_dir, &err)) < 0 || (rc = sdra_crm_set_org(crm, it->org, &err)) < 0 ||
        (rc = sdra_crm_sync(crm, &ci, tr, an, em, &report, &err)) < 0) {
        set_msg(a, by_code(rc, &err), "crm.sync: %s", err.msg);
        goto done;
    }
    a->how = OK;
    const char *id = jstr(json_object_get(report, "activity"), "id");
    if (!id)
        id = jstr(json_object_get(report, "contact"), "id");
    snprintf(a->remote_id, sizeof a->remote_id, "%s", id ? id : "");
done:
    sdra_crm_close(crm);
    sdra_call_info_release(&ci);
    json_decref(calldoc);
    json_decref(tr);
    json_decref(an);
    json_decref(em);
    json_decref(report);
}

/* Whether the local CRM marks any recipient do-not-email (the flag is sticky: a later call
 * that set it wins over the analysis this entry was planned from). */
static bool crm_says_no_email(const sdra_outbox_params *p, const char *org, const json_t *rcpt)
{
    sdra_crm *crm = NULL;
    bool no = false;
    if (sdra_crm_open_ex(&crm, "local", p->data_dir, SDRA_CRM_READONLY, NULL) < 0 ||
        sdra_crm_set_org(crm, org, NULL) < 0) {
        sdra_crm_close(crm);
        return false;
    }
    size_t i;
    json_t *r;
    json_array_foreach(rcpt, i, r) {
        json_t *rows = NULL;
        if (!json_is_string(r) || sdra_crm_list(crm, SDRA_CRM_CONTACTS, json_string_value(r), &rows, NULL) < 0)
            continue;
        size_t k;
        json_t *row;
        json_array_foreach(rows, k, row) {
            json_t *f = json_object_get(row, "do_not_email");
            if (json_is_true(f) || (json_is_integer(f) && json_integer_value(f) != 0))
                no = true;
        }
        json_decref(rows);
    }
    sdra_crm_close(crm);
    return no;
}

static void do_mail(const sdra_outbox_params *p, const sdra_store_outbox_item *it, const json_t *pay, attempt *a)
{
    sdra_error err = {0};
    sdra_mail_config mc;
    char *eml = NULL;
    size_t eml_n = 0;
    const json_t *rcpt = json_object_get(pay, "rcpt");
    const char *mid = jstr(pay, "message_id"), *transport = jstr(pay, "transport"), *mode_s = jstr(pay, "mode");
    int mode = sdra_deliver_mode_parse(mode_s);
    if (!mid || !transport || mode < 0 || !json_array_size(rcpt) || json_array_size(rcpt) > 50) {
        set_msg(a, DEAD, "mail.deliver entry is malformed%s", NULL);
        return;
    }
    if (crm_says_no_email(p, it->org, rcpt)) {
        set_msg(a, DEAD, "never sent: the contact is marked do-not-email in the CRM%s", NULL);
        return;
    }
    if (sdra_mail_config_from_env(&mc, transport, &err) < 0) {
        set_msg(a, DEAD, "mail: %s", err.msg);
        goto done;
    }
    if (it->resumed) {
        /* an earlier attempt was cut off between sending and recording: ask before sending */
        bool found = false;
        int rc = sdra_mail_probe(&mc, (sdra_deliver_mode)mode, mid, &found, &err);
        if (rc == SDRA_EUNSUPPORTED) {
            set_msg(a, HOLD,
                    "an earlier attempt was cut off and %s cannot tell whether it arrived: check the mailbox, then "
                    "approve (sends again) or cancel",
                    transport);
            goto done;
        }
        if (rc < 0) {
            set_msg(a, by_mail(rc, &err), "mail probe: %s", err.msg);
            goto done;
        }
        if (found) {
            a->how = OK;
            snprintf(a->remote_id, sizeof a->remote_id, "%s", mid);
            goto done;
        }
    }
    char path[1300], dir[1200];
    entry_dir(dir, sizeof dir, p, it, pay);
    snprintf(path, sizeof path, "%s/%s", dir, "email.eml");
    int rc = sdra_file_read(&eml, &eml_n, path, EML_MAX, &err);
    if (rc < 0) {
        set_msg(a, rc == SDRA_ENOTFOUND ? DEAD : RETRY, "mail: %s", err.msg);
        goto done;
    }
    /* a person's edit in review (the web app's email draft) is what goes out, once approved; an
     * edit not approved yet holds the entry rather than sending the text the person changed */
    snprintf(path, sizeof path, "%s/%s", dir, SDRA_OUTBOX_DRAFT_FILE);
    json_t *draft = NULL;
    if ((rc = sdra_json_load_file(&draft, path, EML_MAX, &err)) < 0 && rc != SDRA_ENOTFOUND) {
        set_msg(a, RETRY, "mail: %s", err.msg);
        goto done;
    }
    if (draft) {
        const char *subj = jstr(draft, "subject"), *text = jstr(draft, "text");
        bool approved = json_is_string(json_object_get(draft, "approved_at"));
        char *edited = NULL;
        if (!approved)
            set_msg(a, HOLD, "the email was edited in review and that edit is not approved yet%s", NULL);
        else if (!subj || !text || (rc = sdra_email_eml_edit(eml, subj, text, &edited, &err)) < 0)
            set_msg(a, DEAD, "mail: the approved draft does not make a message: %s", subj && text ? err.msg : "no subject or text");
        json_decref(draft);
        if (!edited)
            goto done;
        free(eml);
        eml = edited;
        eml_n = strlen(edited);
    }
    const char *list[50];
    int n = 0;
    size_t i;
    json_t *r;
    json_array_foreach(rcpt, i, r) if (json_is_string(r)) list[n++] = json_string_value(r);
    sdra_mail_message m = {.eml = eml, .eml_len = eml_n, .envelope_from = jstr(pay, "from"), .rcpt = list,
                           .n_rcpt = n, .message_id = mid};
    sdra_mail_result res = {{0}};
    if ((rc = sdra_mail_deliver(&mc, (sdra_deliver_mode)mode, &m, &res, &err)) < 0) {
        set_msg(a, by_mail(rc, &err), "mail: %s", err.msg);
        goto done;
    }
    a->how = OK;
    snprintf(a->remote_id, sizeof a->remote_id, "%s", res.remote_id[0] ? res.remote_id : mid);
done:
    sodium_memzero(&mc, sizeof mc);
    free(eml);
}

/* An email sent (not drafted) is marked sent in the local CRM, where the sync stage recorded it
 * as scheduled; a row the local CRM does not have (a remote CRM was synced) is left alone, and
 * a failure here only logs: the email went out, the record of it is best effort. */
static void crm_mark_sent(const sdra_outbox_params *p, const sdra_store_outbox_item *it, const json_t *pay)
{
    const char *mid = jstr(pay, "message_id");
    const json_t *rcpt = json_object_get(pay, "rcpt");
    if (sdra_deliver_mode_parse(jstr(pay, "mode")) != SDRA_DELIVER_SEND || !mid || !json_array_size(rcpt))
        return;
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    json_t *rows = NULL;
    if (sdra_crm_open_ex(&crm, "local", p->data_dir, SDRA_CRM_READONLY, &err) < 0 ||
        sdra_crm_set_org(crm, it->org, &err) < 0)
        goto done;
    size_t i;
    json_t *r, *row;
    json_array_foreach(rcpt, i, r) {
        if (!json_is_string(r) || sdra_crm_list(crm, SDRA_CRM_EMAILS, json_string_value(r), &rows, &err) < 0)
            continue;
        size_t k;
        json_array_foreach(rows, k, row) {
            const char *m = json_string_value(json_object_get(row, "message_id"));
            if (!m || strcmp(m, mid))
                continue;
            sdra_crm *rw = NULL;
            sdra_crm_email e = {.message_id = mid, .status = "sent"};
            sdra_crm_result res;
            if (sdra_crm_open(&rw, "local", p->data_dir, &err) < 0 || sdra_crm_set_org(rw, it->org, &err) < 0 ||
                sdra_crm_schedule_email(rw, &e, &res, &err) < 0)
                sdra_log(SDRA_LOG_WARN, "outbox: %s was sent but the local CRM still says scheduled: %s", it->key,
                         err.msg);
            sdra_crm_close(rw);
            goto done; /* rows is released there */
        }
        json_decref(rows);
        rows = NULL;
    }
done:
    json_decref(rows);
    sdra_crm_close(crm);
}

/* The webhook that reports a delivered effect (email.sent, crm.synced), recorded before the
 * entry is marked done: a crash in between records it again under the same key, i.e. once. */
static void follow_up(sdra_store *st, const sdra_outbox_params *p, const sdra_store_outbox_item *it,
                      const json_t *pay, const char *event, const char *remote_id, int64_t now_ms)
{
    char dir[1200];
    json_t *calldoc = NULL;
    entry_dir(dir, sizeof dir, p, it, pay);
    if (sdra_json_load_doc(&calldoc, dir, "call.json", DOC_MAX, 1, NULL) < 0)
        calldoc = NULL;
    sdra_outbox_plan pl = {0};
    sdra_error err = {0};
    json_t *data = json_pack("{s:s, s:s, s:s, s:s}", "call_id", it->call_id, "org", it->org, "remote_id", remote_id,
                             "effect", it->key);
    if (plan_event(&pl, p, it->org, it->call_id, calldoc, event, data, now_ms, &err) == 0)
        for (int i = 0; i < pl.n; i++)
            if (sdra_store_outbox_add(st, &pl.fx[i], now_ms, &err) < 0)
                sdra_log(SDRA_LOG_WARN, "outbox: %s webhook for %s not recorded: %s", event, it->call_id, err.msg);
    json_decref(calldoc);
    sdra_outbox_plan_release(&pl);
}

int sdra_outbox_deliver_one(sdra_store *st, const sdra_outbox_params *p, const char *owner, int64_t now_ms,
                            sdra_store_outbox_item *out, sdra_error *err)
{
    sdra_store_outbox_item it;
    int rc = sdra_store_outbox_claim(st, owner, now_ms, p->lease_ms > 0 ? p->lease_ms : 60000, &it, err);
    if (rc < 0)
        return rc;
    attempt a = {.how = DEAD};
    json_error_t je;
    json_t *pay = json_loads(it.payload, 0, &je);
    void *cs = NULL;
    sdra_error cerr = {0};
    if (!json_is_object(pay)) {
        set_msg(&a, DEAD, "outbox entry payload is not a JSON object%s", NULL);
    } else if (p->call_begin && it.call_id[0] && p->call_begin(p->user_data, it.call_id, &cs, &cerr) < 0) {
        set_msg(&a, cerr.code == SDRA_ENOTFOUND ? DEAD : RETRY, "%s", cerr.msg);
        cs = NULL;
    } else {
        if (!strcmp(it.kind, SDRA_OUTBOX_WEBHOOK))
            do_webhook(p, &it, pay, now_ms, &a);
        else if (!strcmp(it.kind, SDRA_OUTBOX_CRM_SYNC))
            do_crm(p, &it, pay, &a);
        else if (!strcmp(it.kind, SDRA_OUTBOX_MAIL))
            do_mail(p, &it, pay, &a);
        else
            set_msg(&a, DEAD, "unknown effect kind '%s'", it.kind);
        if (a.how == OK && !strcmp(it.kind, SDRA_OUTBOX_MAIL))
            crm_mark_sent(p, &it, pay);
        if (a.how == OK && strcmp(it.kind, SDRA_OUTBOX_WEBHOOK))
            follow_up(st, p, &it, pay, !strcmp(it.kind, SDRA_OUTBOX_MAIL) ? "email.sent" : "crm.synced", a.remote_id,
                      now_ms);
        if (p->call_end && cs)
            p->call_end(cs);
    }
    json_decref(pay);
    int64_t done_ms = sdra_store_now_ms() > now_ms ? sdra_store_now_ms() : now_ms;
    int max = p->max_attempts > 0 ? p->max_attempts : 8;
    if (a.how == OK) {
        rc = sdra_store_outbox_finish(st, &it, a.remote_id, done_ms, err);
        it.state = SDRA_JOB_DONE;
        sdra_strlcpy(it.remote_id, a.remote_id, sizeof it.remote_id);
        sdra_log(SDRA_LOG_INFO, "outbox: %s done (attempt %d, remote id %s)", it.key, it.attempts, a.remote_id);
    } else {
        int next = a.how == HOLD ? SDRA_OUTBOX_HELD : a.how == RETRY && it.attempts < max ? SDRA_JOB_QUEUED : SDRA_JOB_DEAD;
        int64_t delay = sdra_outbox_backoff_ms(it.attempts, p->retry_base_ms, p->retry_max_ms, randombytes_random());
        rc = sdra_store_outbox_fail(st, &it, a.msg, next, done_ms + delay, done_ms, err);
        it.state = next;
        sdra_strlcpy(it.last_error, a.msg, sizeof it.last_error);
        sdra_log(next == SDRA_JOB_QUEUED ? SDRA_LOG_WARN : SDRA_LOG_ERROR, "outbox: %s %s (attempt %d): %s", it.key,
                 next == SDRA_JOB_QUEUED ? "will be retried" : sdra_store_outbox_state_name(next), it.attempts, a.msg);
    }
    if (out)
        *out = it;
    else
        sdra_store_outbox_release(&it);
    if (rc == SDRA_EEXISTS) /* the lease was lost (a slow attempt): another worker has it */
        rc = 0;
    return rc;
}

static json_t *time_or_null(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char b[32];
    iso_utc(b, ms);
    return json_string(b);
}

json_t *sdra_outbox_item_json(const sdra_store_outbox_item *it)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "id", json_string(it->key));
    json_object_set_new(o, "kind", json_string(it->kind));
    json_object_set_new(o, "call_id", json_string(it->call_id));
    json_object_set_new(o, "org", json_string(it->org));
    json_object_set_new(o, "state", json_string(sdra_store_outbox_state_name(it->state)));
    json_object_set_new(o, "attempts", json_integer(it->attempts));
    json_object_set_new(o, "send_at", time_or_null(it->send_at_ms));
    json_object_set_new(o, "next_attempt_at",
                        it->state == SDRA_JOB_QUEUED ? time_or_null(it->next_attempt_ms) : json_null());
    json_object_set_new(o, "created_at", time_or_null(it->created_ms));
    json_object_set_new(o, "updated_at", time_or_null(it->updated_ms));
    json_object_set_new(o, "last_error", it->last_error[0] ? json_string(it->last_error) : json_null());
    json_object_set_new(o, "remote_id", it->remote_id[0] ? json_string(it->remote_id) : json_null());
    json_t *pay = it->payload ? json_loads(it->payload, 0, NULL) : NULL;
    json_t *t = json_object();
    if (!strcmp(it->kind, SDRA_OUTBOX_WEBHOOK)) {
        json_object_set(t, "event", json_object_get(pay, "event"));
        json_object_set(t, "url", json_object_get(pay, "url"));
    } else if (!strcmp(it->kind, SDRA_OUTBOX_MAIL)) {
        json_object_set(t, "transport", json_object_get(pay, "transport"));
        json_object_set(t, "mode", json_object_get(pay, "mode"));
        json_object_set(t, "message_id", json_object_get(pay, "message_id"));
        json_object_set_new(t, "recipients", json_integer((json_int_t)json_array_size(json_object_get(pay, "rcpt"))));
    } else if (!strcmp(it->kind, SDRA_OUTBOX_CRM_SYNC)) {
        json_object_set(t, "backend", json_object_get(pay, "backend"));
        json_object_set(t, "settings_of", json_object_get(pay, "settings_of"));
    }
    json_decref(pay);
    json_object_set_new(o, "target", t);
    return o;
}
