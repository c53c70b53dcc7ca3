/*
 * outbox.c - the server's side of the outbox (sdra/outbox.h): the delivery thread, which
 * performs due entries one at a time with the call's key installed (encryption at rest), and
 * the /v1/outbox routes (list, show, approve, retry, cancel), scoped to the key's organisation
 * (another organisation's entry is 404) and audited.
 */
#include "internal.h"

#include "sdra/log.h"
#include "sdra/outbox.h"
#include "sdra/util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OUTBOX_POLL_MS 500
#define OUTBOX_LIST_MAX 200

static int seal_begin(void *user_data, const char *call_id, void **state, sdra_error *err)
{
    char dir[1200]; /* the call's files from the object store first (blob_io.c) */
    srv_call_dir(user_data, dir, sizeof dir, call_id);
    int rc = srv_blob_pull(user_data, call_id, dir, NULL, err);
    if (rc < 0)
        return rc;
    srv_seal *sl = calloc(1, sizeof *sl);
    if (!sl)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    rc = srv_seal_begin(user_data, sl, call_id, err);
    if (rc < 0) {
        free(sl);
        return rc;
    }
    *state = sl;
    return 0;
}

static void seal_end(void *state)
{
    srv_seal_end(state);
    free(state);
}

void srv_outbox_notify(struct sdra_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->ob_seq++;
    pthread_cond_broadcast(&s->ob_cv);
    pthread_mutex_unlock(&s->mu);
}

static void *outbox_main(void *arg)
{
    struct sdra_server *s = arg;
    sdra_outbox_params p = *s->p.outbox;
    p.data_dir = s->data_dir;
    p.call_begin = seal_begin;
    p.call_end = seal_end;
    p.user_data = s;
    while (!atomic_load(&s->stopping)) {
        pthread_mutex_lock(&s->mu);
        unsigned long seen = s->ob_seq;
        pthread_mutex_unlock(&s->mu);
        sdra_error err = {0};
        int rc = sdra_outbox_deliver_one(s->store, &p, s->ob_owner, sdra_store_now_ms(), NULL, &err);
        if (rc == 0)
            continue;
        if (rc != SDRA_ENOTFOUND)
            sdra_log(SDRA_LOG_WARN, "outbox: %s", err.msg);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += OUTBOX_POLL_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&s->mu);
        while (!atomic_load(&s->stopping) && s->ob_seq == seen)
            if (pthread_cond_timedwait(&s->ob_cv, &s->mu, &ts) != 0)
                break;
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

int srv_outbox_start(struct sdra_server *s, sdra_error *err)
{
    if (!s->p.outbox || !s->p.run_workers)
        return 0;
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    snprintf(s->ob_owner, sizeof s->ob_owner, "%.20s:%d:%08x:outbox", host, (int)getpid(), randombytes_random());
    if (pthread_create(&s->ob_thread, NULL, outbox_main, s) != 0)
        return sdra_error_set(err, SDRA_ENOMEM, "server: cannot start the outbox thread");
    s->ob_started = true;
    return 0;
}

void srv_outbox_stop(struct sdra_server *s)
{
    if (!s->ob_started)
        return;
    srv_outbox_notify(s);
    pthread_join(s->ob_thread, NULL);
    s->ob_started = false;
}

/* ---- /v1/outbox ----------------------------------------------------------------------------- */

enum MHD_Result srv_outbox_list(req *r, struct MHD_Connection *c)
{
    const char *state = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "state");
    const char *call = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "call_id");
    const char *kind = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "kind");
    sdra_store_outbox_filter f = {.org = r->key.org, .call_id = call, .kind = kind, .state = -1};
    if (state && (f.state = sdra_store_outbox_state_parse(state)) < 0)
        return srv_send_error(r, c, 400, "invalid_request",
                              "state must be queued, running, done, dead, held or canceled");
    if (call && !sdra_store_org_valid(call))
        return srv_send_error(r, c, 400, "invalid_request", "call_id: use [a-z0-9-], 1-63 characters");
    if (kind && strlen(kind) > 31)
        return srv_send_error(r, c, 400, "invalid_request", "kind too long");
    if (srv_audit(r, NULL, "outbox.list", call ? call : "", state ? state : NULL) < 0)
        return srv_send_audit_failed(r, c);
    sdra_store_outbox_item *items = calloc(OUTBOX_LIST_MAX, sizeof *items);
    if (!items)
        return srv_send_error(r, c, 500, "internal", "out of memory");
    int n = 0;
    sdra_error err = {0};
    if (sdra_store_outbox_query(r->s->store, &f, items, OUTBOX_LIST_MAX, &n, &err) < 0) {
        free(items);
        return srv_send_sdra_error(r, c, &err);
    }
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(arr, sdra_outbox_item_json(&items[i]));
        sdra_store_outbox_release(&items[i]);
    }
    free(items);
    return srv_send_json(r, c, 200, json_pack("{s:o}", "entries", arr));
}

enum MHD_Result srv_outbox_get(req *r, struct MHD_Connection *c)
{
    sdra_error err = {0};
    sdra_store_outbox_item it;
    if (sdra_store_outbox_get(r->s->store, r->key.org, r->ob_key, &it, &err) < 0)
        return srv_send_sdra_error(r, c, &err);
    if (srv_audit(r, NULL, "outbox.read", it.call_id, r->ob_key) < 0) {
        sdra_store_outbox_release(&it);
        return srv_send_audit_failed(r, c);
    }
    json_t *o = sdra_outbox_item_json(&it);
    sdra_store_outbox_release(&it);
    return srv_send_json(r, c, 200, o);
}

/* After a change: wakes the delivery thread and answers with the entry as it is now. */
static enum MHD_Result changed_entry(req *r, struct MHD_Connection *c)
{
    sdra_error err = {0};
    sdra_store_outbox_item it;
    srv_outbox_notify(r->s);
    if (sdra_store_outbox_get(r->s->store, r->key.org, r->ob_key, &it, &err) < 0)
        return srv_send_sdra_error(r, c, &err);
    json_t *o = sdra_outbox_item_json(&it);
    sdra_store_outbox_release(&it);
    return srv_send_json(r, c, 200, o);
}

enum MHD_Result srv_outbox_action(req *r, struct MHD_Connection *c)
{
    if (!strcmp(r->sub, "approve") && (r->body_len || r->body_too_big)) /* with choices: below */
        return srv_outbox_approve_body(r, c);
    sdra_outbox_verb verb;
    if (!strcmp(r->sub, "approve"))
        verb = SDRA_OUTBOX_APPROVE;
    else if (!strcmp(r->sub, "retry"))
        verb = SDRA_OUTBOX_RETRY;
    else
        verb = SDRA_OUTBOX_CANCEL;
    sdra_error err = {0};
    sdra_store_outbox_item it;
    if (sdra_store_outbox_get(r->s->store, r->key.org, r->ob_key, &it, &err) < 0)
        return srv_send_sdra_error(r, c, &err);
    char action[40];
    snprintf(action, sizeof action, "outbox.%s", r->sub);
    int arc = srv_audit(r, NULL, action, it.call_id, r->ob_key);
    sdra_store_outbox_release(&it);
    if (arc < 0)
        return srv_send_audit_failed(r, c);
    int rc = sdra_store_outbox_change(r->s->store, r->key.org, r->ob_key, verb, sdra_store_now_ms(), &err);
    if (rc == SDRA_EEXISTS)
        return srv_send_error(r, c, 409, "conflict", "%s", err.msg);
    if (rc < 0)
        return srv_send_sdra_error(r, c, &err);
    return changed_entry(r, c);
}

/* ---- approving with the rep's choices (the web app's email review, issue 16) ----------------
 * POST /v1/outbox/{id}/approve and POST /v1/calls/{id}/email/approve take an optional body
 * {"mode": "send" | "draft", "send_at": ISO 8601 with Z or an offset, or null}: an email is
 * sent now, sent at send_at (scheduled), or saved as a draft in the rep's mailbox. */

#define APPROVE_PAST_SLACK_MS (5 * 60 * 1000LL)      /* a browser's clock a little behind */
#define APPROVE_AHEAD_MAX_MS (366 * 86400 * 1000LL)  /* a year ahead at most */

/* "2026-12-07T09:30[:SS](Z|+HH:MM|-HH:MM)" -> ms since the epoch; -1 when malformed. */
static int64_t iso_ms(const char *s)
{
    struct tm tm = {0};
    const char *rest = s ? strptime(s, "%Y-%m-%dT%H:%M", &tm) : NULL;
    if (rest && *rest == ':')
        rest = strptime(rest, ":%S", &tm);
    if (rest && *rest == '.') /* fractions of a second (JavaScript's toISOString) */
        for (rest++; *rest >= '0' && *rest <= '9'; rest++)
            ;
    if (!rest)
        return -1;
    long off = 0;
    if (*rest == '+' || *rest == '-') {
        int hh = 0, mm = 0, used = 0;
        if (sscanf(rest + 1, "%2d:%2d%n", &hh, &mm, &used) != 2 || rest[1 + used] || hh > 14 || mm > 59)
            return -1;
        off = (*rest == '-' ? -1 : 1) * (hh * 3600L + mm * 60L);
    } else if (strcmp(rest, "Z")) {
        return -1;
    }
    return ((int64_t)timegm(&tm) - off) * 1000;
}

int srv_approve_choice_parse(srv_approve_choice *ch, const char *body, int64_t now_ms, sdra_error *err)
{
    ch->mode[0] = '\0';
    ch->send_at_ms = -1;
    if (!body || !*body)
        return 0;
    json_error_t je;
    json_t *in = json_loads(body, 0, &je);
    int rc = 0;
    if (!json_is_object(in)) {
        rc = sdra_error_set(err, SDRA_EINVAL, "send {\"mode\": \"send\" | \"draft\", \"send_at\": ISO 8601 or null}");
        goto done;
    }
    json_t *m = json_object_get(in, "mode"), *at = json_object_get(in, "send_at");
    if (m && !json_is_null(m)) {
        const char *ms = json_string_value(m);
        int mode = ms ? sdra_deliver_mode_parse(ms) : -1;
        if (mode != SDRA_DELIVER_SEND && mode != SDRA_DELIVER_DRAFT) {
            rc = sdra_error_set(err, SDRA_EINVAL, "mode must be \"send\" or \"draft\"");
            goto done;
        }
        sdra_strlcpy(ch->mode, ms, sizeof ch->mode);
    }
    if (at && !json_is_null(at)) {
        int64_t t = iso_ms(json_string_value(at));
        if (t < 0) {
            rc = sdra_error_set(err, SDRA_EINVAL, "send_at: use ISO 8601 with Z or an offset (2026-12-07T09:30:00+01:00)");
            goto done;
        }
        if (t < now_ms - APPROVE_PAST_SLACK_MS) {
            rc = sdra_error_set(err, SDRA_EINVAL, "send_at is in the past");
            goto done;
        }
        if (t > now_ms + APPROVE_AHEAD_MAX_MS) {
            rc = sdra_error_set(err, SDRA_EINVAL, "send_at is more than a year ahead");
            goto done;
        }
        ch->send_at_ms = t > now_ms ? t : 0;
    }
done:
    json_decref(in);
    return rc;
}

int srv_outbox_approve_as(struct sdra_server *s, const char *org, const char *key, const srv_approve_choice *ch,
                          sdra_error *err)
{
    if (!ch || (!ch->mode[0] && ch->send_at_ms < 0))
        return sdra_store_outbox_approve(s->store, org, key, sdra_store_now_ms(), err);
    sdra_store_outbox_item it;
    int rc = sdra_store_outbox_get(s->store, org, key, &it, err);
    if (rc < 0)
        return rc;
    char *payload = NULL;
    if (ch->mode[0]) {
        json_t *pay = strcmp(it.kind, SDRA_OUTBOX_MAIL) ? NULL : json_loads(it.payload ? it.payload : "", 0, NULL);
        if (!json_is_object(pay)) {
            json_decref(pay);
            sdra_store_outbox_release(&it);
            return sdra_error_set(err, SDRA_EINVAL, "mode applies to an email (mail.deliver) only");
        }
        json_object_set_new(pay, "mode", json_string(ch->mode));
        payload = json_dumps(pay, JSON_COMPACT);
        json_decref(pay);
        if (!payload) {
            sdra_store_outbox_release(&it);
            return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        }
    }
    sdra_store_outbox_release(&it);
    rc = sdra_store_outbox_approve_as(s->store, org, key, ch->send_at_ms, payload, sdra_store_now_ms(), err);
    free(payload);
    return rc;
}

/* POST /v1/outbox/{id}/approve with a body: the approval with the choices it names
 * (srv_outbox_action hands such a request here). */
enum MHD_Result srv_outbox_approve_body(req *r, struct MHD_Connection *c)
{
    sdra_error err = {0};
    srv_approve_choice ch;
    if (r->body_too_big)
        return srv_send_error(r, c, 413, "too_large", "the request body is over %u bytes", SRV_BODY_MAX);
    if (srv_approve_choice_parse(&ch, r->body, sdra_store_now_ms(), &err) < 0)
        return srv_send_error(r, c, 400, "invalid_request", "%s", err.msg);
    sdra_store_outbox_item it;
    if (sdra_store_outbox_get(r->s->store, r->key.org, r->ob_key, &it, &err) < 0)
        return srv_send_sdra_error(r, c, &err);
    char detail[SDRA_STORE_AUDIT_DETAIL_MAX];
    snprintf(detail, sizeof detail, "%.128s mode=%s send_at_ms=%lld", r->ob_key, ch.mode[0] ? ch.mode : "kept",
             (long long)ch.send_at_ms);
    int arc = srv_audit(r, NULL, "outbox.approve", it.call_id, detail);
    sdra_store_outbox_release(&it);
    if (arc < 0)
        return srv_send_audit_failed(r, c);
    int rc = srv_outbox_approve_as(r->s, r->key.org, r->ob_key, &ch, &err);
    if (rc == SDRA_EEXISTS)
        return srv_send_error(r, c, 409, "conflict", "%s", err.msg);
    if (rc == SDRA_EINVAL)
        return srv_send_error(r, c, 400, "invalid_request", "%s", err.msg);
    if (rc < 0)
        return srv_send_sdra_error(r, c, &err);
    return changed_entry(r, c);
}
