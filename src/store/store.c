/*
 * store.c - the backend-independent face of the job store (sdra/store.h): opening by location,
 * argument checks every backend relies on, and the thin wrappers that dispatch through the
 * sdra_store_ops table. Backends (sqlite.c, later postgres.c) implement the table only.
 */
#include "sdra/store.h"
#include "internal.h"
#include "sdra/util.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static const char *state_names[SDRA_N_JOB_STATES] = {"queued", "running", "done", "dead"};

const char *sdra_job_state_name(int state)
{
    return state >= 0 && state < SDRA_N_JOB_STATES ? state_names[state] : "unknown";
}

int sdra_job_state_parse(const char *s)
{
    for (int i = 0; s && i < SDRA_N_JOB_STATES; i++)
        if (!strcmp(s, state_names[i]))
            return i;
    return -1;
}

void sdra_store_call_release(sdra_store_call *c)
{
    if (!c)
        return;
    free(c->meta_json);
    c->meta_json = NULL;
}

void sdra_store_outbox_release(sdra_store_outbox_item *o)
{
    if (!o)
        return;
    free(o->payload);
    o->payload = NULL;
}

int64_t sdra_store_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Call ids are used in paths and URLs: [a-z0-9-], 1..63 characters, not starting with '-'. */
static int valid_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= SDRA_STORE_ID_MAX || id[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') || id[i] == '-'))
            return 0;
    return 1;
}

bool sdra_store_org_valid(const char *org) { return valid_id(org); }

int sdra_store_open(sdra_store **out, const char *location, sdra_error *err)
{
    if (!location || !*location)
        return sdra_error_set(err, SDRA_EINVAL, "store: empty location");
    if (!strncmp(location, "sqlite:", 7))
        return sdra_store_sqlite_open(out, location + 7, err);
    if (!strncmp(location, "postgres://", 11) || !strncmp(location, "postgresql://", 13))
        return sdra_store_postgres_open(out, location, err);
    return sdra_store_sqlite_open(out, location, err);
}

void sdra_store_close(sdra_store *s)
{
    if (s)
        s->ops->close(s);
}

/* An org argument: NULL (any) or a valid name. */
static bool org_arg_ok(const char *org) { return !org || valid_id(org); }

int sdra_store_call_create(sdra_store *s, const char *org, const char *id, const char *meta_json,
                           int64_t audio_bytes, int first_stage, int64_t now_ms, int max_active, sdra_error *err)
{
    if (!org || !valid_id(org))
        return sdra_error_set(err, SDRA_EINVAL, "organisation '%.80s': use 1-63 of [a-z0-9-]", org ? org : "");
    if (audio_bytes < 0)
        return sdra_error_set(err, SDRA_EINVAL, "call %.80s: negative audio size", id ? id : "");
    if (!valid_id(id))
        return sdra_error_set(err, SDRA_EINVAL, "call id '%.80s': use 1-63 of [a-z0-9-]", id ? id : "");
    if (!meta_json || strlen(meta_json) > SDRA_STORE_META_MAX)
        return sdra_error_set(err, SDRA_EINVAL, "call %s: metadata missing or over %u bytes", id,
                              SDRA_STORE_META_MAX);
    if (first_stage < 0)
        return sdra_error_set(err, SDRA_EINVAL, "call %s: bad first stage %d", id, first_stage);
    return s->ops->call_create(s, org, id, meta_json, audio_bytes, first_stage, now_ms, max_active, err);
}

int sdra_store_call_get(sdra_store *s, const char *org, const char *id, sdra_store_call *out, sdra_error *err)
{
    memset(out, 0, sizeof *out);
    if (!valid_id(id) || !org_arg_ok(org))
        return sdra_error_set(err, SDRA_ENOTFOUND, "call '%.80s' not found", id ? id : "");
    return s->ops->call_get(s, org, id, out, err);
}

int sdra_store_call_list(sdra_store *s, const char *org, const char *status, int offset, int limit,
                         sdra_store_call *out, int *n_out, sdra_error *err)
{
    *n_out = 0;
    if (!org_arg_ok(org))
        return 0;
    if (offset < 0 || limit < 0)
        return sdra_error_set(err, SDRA_EINVAL, "call list: negative offset or limit");
    if (limit == 0)
        return 0;
    memset(out, 0, sizeof *out * (size_t)limit);
    return s->ops->call_list(s, org, status, offset, limit, out, n_out, err);
}

int sdra_store_call_delete(sdra_store *s, const char *org, const char *id, sdra_error *err)
{
    if (!valid_id(id) || !org_arg_ok(org))
        return sdra_error_set(err, SDRA_ENOTFOUND, "call '%.80s' not found", id ? id : "");
    return s->ops->call_delete(s, org, id, err);
}

int sdra_store_call_retry(sdra_store *s, const char *org, const char *id, int64_t now_ms, sdra_error *err)
{
    if (!valid_id(id) || !org_arg_ok(org))
        return sdra_error_set(err, SDRA_ENOTFOUND, "call '%.80s' not found", id ? id : "");
    return s->ops->call_retry(s, org, id, now_ms, err);
}

int sdra_store_count_active(sdra_store *s, const char *org, int *n_out, sdra_error *err)
{
    *n_out = 0;
    if (!org_arg_ok(org))
        return 0;
    return s->ops->count_active(s, org, n_out, err);
}

int sdra_store_job_claim(sdra_store *s, int stage, const char *owner, int64_t now_ms,
                         int64_t lease_ms, int max_attempts, sdra_store_job *out, sdra_error *err)
{
    memset(out, 0, sizeof *out);
    if (!owner || !*owner || strlen(owner) >= SDRA_STORE_ID_MAX || lease_ms <= 0 || max_attempts < 1)
        return sdra_error_set(err, SDRA_EINVAL, "job claim: bad owner, lease or max attempts");
    return s->ops->job_claim(s, stage, owner, now_ms, lease_ms, max_attempts, out, err);
}

int sdra_store_job_heartbeat(sdra_store *s, const sdra_store_job *job, int64_t now_ms,
                             int64_t lease_ms, sdra_error *err)
{
    return s->ops->job_heartbeat(s, job, now_ms, lease_ms, err);
}

int sdra_store_job_complete(sdra_store *s, const sdra_store_job *job, const sdra_store_artifact *arts,
                            int n_arts, int next_stage, int64_t now_ms, sdra_error *err)
{
    if (n_arts < 0 || (n_arts > 0 && !arts))
        return sdra_error_set(err, SDRA_EINVAL, "job complete: bad artifact list");
    return s->ops->job_complete(s, job, arts, n_arts, next_stage, now_ms, err);
}

int sdra_store_job_fail(sdra_store *s, const sdra_store_job *job, const char *msg, bool retryable,
                        int64_t retry_at_ms, int max_attempts, int64_t now_ms, sdra_error *err)
{
    return s->ops->job_fail(s, job, msg ? msg : "", retryable, retry_at_ms, max_attempts, now_ms, err);
}

int sdra_store_job_list(sdra_store *s, const char *org, const char *call_id, sdra_store_job *out, int max,
                        int *n_out, sdra_error *err)
{
    *n_out = 0;
    if (!valid_id(call_id) || !org_arg_ok(org))
        return 0;
    return s->ops->job_list(s, org, call_id, out, max, n_out, err);
}

int sdra_store_job_counts(sdra_store *s, int n_stages, int (*counts)[SDRA_N_JOB_STATES], sdra_error *err)
{
    memset(counts, 0, sizeof *counts * (size_t)n_stages);
    return s->ops->job_counts(s, n_stages, counts, err);
}

int sdra_store_queue_oldest(sdra_store *s, int n_stages, int64_t *oldest_ms, sdra_error *err)
{
    memset(oldest_ms, 0, sizeof *oldest_ms * (size_t)n_stages);
    return s->ops->queue_oldest(s, n_stages, oldest_ms, err);
}

int sdra_store_artifact_get(sdra_store *s, const char *org, const char *call_id, const char *name,
                            sdra_store_artifact *out, sdra_error *err)
{
    memset(out, 0, sizeof *out);
    if (!valid_id(call_id) || !name || !org_arg_ok(org))
        return sdra_error_set(err, SDRA_ENOTFOUND, "artifact not found");
    return s->ops->artifact_get(s, org, call_id, name, out, err);
}

int sdra_store_artifact_list(sdra_store *s, const char *org, const char *call_id, sdra_store_artifact *out,
                             int max, int *n_out, sdra_error *err)
{
    *n_out = 0;
    if (!valid_id(call_id) || !org_arg_ok(org))
        return 0;
    return s->ops->artifact_list(s, org, call_id, out, max, n_out, err);
}

int sdra_store_key_insert(sdra_store *s, const sdra_store_key *k, sdra_error *err)
{
    if (!k->id[0] || !k->name[0] || !k->hash[0])
        return sdra_error_set(err, SDRA_EINVAL, "api key: id, name and hash are required");
    if (strcmp(k->scope, "read") && strcmp(k->scope, "write") && strcmp(k->scope, "admin"))
        return sdra_error_set(err, SDRA_EINVAL, "api key: scope '%s' is not read|write|admin", k->scope);
    if (k->org[0] && !sdra_store_org_valid(k->org))
        return sdra_error_set(err, SDRA_EINVAL, "api key: organisation '%.80s': use 1-63 of [a-z0-9-]", k->org);
    sdra_store_key ins = *k;
    if (!ins.org[0])
        sdra_strlcpy(ins.org, SDRA_STORE_ORG_DEFAULT, sizeof ins.org);
    return s->ops->key_insert(s, &ins, err);
}

int sdra_store_key_get(sdra_store *s, const char *id, sdra_store_key *out, sdra_error *err)
{
    memset(out, 0, sizeof *out);
    return s->ops->key_get(s, id, out, err);
}

int sdra_store_key_list(sdra_store *s, sdra_store_key *out, int max, int *n_out, sdra_error *err)
{
    *n_out = 0;
    return s->ops->key_list(s, out, max, n_out, err);
}

int sdra_store_key_revoke(sdra_store *s, const char *id_or_name, int64_t now_ms, sdra_error *err)
{
    return s->ops->key_revoke(s, id_or_name, now_ms, err);
}

int sdra_store_key_delete(sdra_store *s, const char *id_or_name, char *id_out, sdra_error *err)
{
    char id[SDRA_STORE_ID_MAX] = "";
    if (!id_or_name || !*id_or_name)
        return sdra_error_set(err, SDRA_EINVAL, "key delete: give an id or a name");
    int rc = s->ops->key_delete(s, id_or_name, id, err);
    if (rc == 0 && id_out)
        sdra_strlcpy(id_out, id, SDRA_STORE_ID_MAX);
    return rc;
}

static bool fits(const char *v, size_t n) { return !v || strnlen(v, n) < n; } /* NUL within the buffer */

int sdra_store_audit_append(sdra_store *s, sdra_store_audit_entry *e, sdra_error *err)
{
    if (e->org[0] && !valid_id(e->org))
        return sdra_error_set(err, SDRA_EINVAL, "audit entry: bad organisation");
    if (!fits(e->actor, sizeof e->actor) || !fits(e->action, sizeof e->action) ||
        !fits(e->target, sizeof e->target) || !fits(e->ip, sizeof e->ip) || !fits(e->detail, sizeof e->detail))
        return sdra_error_set(err, SDRA_EINVAL, "audit entry: a field is too long");
    if (!e->action[0])
        return sdra_error_set(err, SDRA_EINVAL, "audit entry: no action");
    e->id = 0;
    e->hash_v = 2;
    e->prev_hash[0] = e->hash[0] = '\0';
    return s->ops->audit_append(s, e, err);
}

int sdra_store_audit_add(sdra_store *s, int64_t now_ms, const char *actor, const char *action,
                         const char *target, sdra_error *err)
{
    sdra_store_audit_entry e = {0};
    e.at_ms = now_ms;
    if (sdra_strlcpy(e.actor, actor ? actor : "", sizeof e.actor) >= sizeof e.actor ||
        sdra_strlcpy(e.action, action ? action : "", sizeof e.action) >= sizeof e.action ||
        sdra_strlcpy(e.target, target ? target : "", sizeof e.target) >= sizeof e.target)
        return sdra_error_set(err, SDRA_EINVAL, "audit entry: a field is too long");
    return sdra_store_audit_append(s, &e, err);
}

int sdra_store_audit_query(sdra_store *s, const sdra_store_audit_filter *f, sdra_store_audit_entry *out,
                           int max, int *n_out, sdra_error *err)
{
    static const sdra_store_audit_filter any = {0};
    *n_out = 0;
    if (max <= 0)
        return 0;
    return s->ops->audit_query(s, f ? f : &any, out, max, n_out, err);
}

static void hash_field(crypto_hash_sha256_state *st, const char *v, size_t n)
{
    char len[24];
    int k = snprintf(len, sizeof len, "%zu:", n);
    crypto_hash_sha256_update(st, (const unsigned char *)len, (unsigned long long)k);
    crypto_hash_sha256_update(st, (const unsigned char *)v, (unsigned long long)n);
    crypto_hash_sha256_update(st, (const unsigned char *)",", 1);
}

void sdra_store_audit_hash(const sdra_store_audit_entry *e, const char *prev_hash, char hex[65])
{
    crypto_hash_sha256_state st;
    unsigned char h[crypto_hash_sha256_BYTES];
    char num[24];
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)prev_hash, strlen(prev_hash));
    bool v2 = e->hash_v >= 2;
    hash_field(&st, v2 ? "sdra-audit-v2" : "sdra-audit-v1", 13);
    snprintf(num, sizeof num, "%lld", (long long)e->id);
    hash_field(&st, num, strlen(num));
    snprintf(num, sizeof num, "%lld", (long long)e->at_ms);
    hash_field(&st, num, strlen(num));
    const char *f[] = {e->actor, e->action, e->target, e->ip, e->detail};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        hash_field(&st, f[i], strnlen(f[i], SDRA_STORE_AUDIT_DETAIL_MAX));
    if (v2)
        hash_field(&st, e->org, strnlen(e->org, sizeof e->org));
    crypto_hash_sha256_final(&st, h);
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof h; i++) {
        hex[2 * i] = digits[h[i] >> 4];
        hex[2 * i + 1] = digits[h[i] & 15];
    }
    hex[64] = '\0';
}

#define VERIFY_PAGE 256

int sdra_store_audit_verify(sdra_store *s, int64_t *n_out, int64_t *bad_id, sdra_error *err)
{
    *n_out = 0;
    *bad_id = 0;
    sdra_store_audit_entry *page = calloc(VERIFY_PAGE, sizeof *page);
    if (!page)
        return sdra_error_set(err, SDRA_ENOMEM, "audit verify: out of memory");
    char prev[65] = SDRA_STORE_AUDIT_GENESIS, h[65];
    sdra_store_audit_filter f = {.oldest_first = true};
    int rc = 0;
    for (;;) {
        int n = 0;
        if ((rc = sdra_store_audit_query(s, &f, page, VERIFY_PAGE, &n, err)) < 0)
            break;
        for (int i = 0; i < n; i++) {
            const sdra_store_audit_entry *e = &page[i];
            if (strcmp(e->prev_hash, prev) != 0) {
                *bad_id = e->id;
                rc = sdra_error_set(err, SDRA_EIO,
                                    "audit entry %lld: its prev_hash does not match entry %lld before it "
                                    "(an entry was removed, inserted or changed)",
                                    (long long)e->id, (long long)(i ? page[i - 1].id : f.after_id));
                goto done;
            }
            sdra_store_audit_hash(e, prev, h);
            if (strcmp(h, e->hash) != 0) {
                *bad_id = e->id;
                rc = sdra_error_set(err, SDRA_EIO, "audit entry %lld: content does not match its hash (changed)",
                                    (long long)e->id);
                goto done;
            }
            memcpy(prev, e->hash, sizeof prev);
            (*n_out)++;
        }
        if (n < VERIFY_PAGE)
            break;
        f.after_id = page[n - 1].id;
    }
done:
    free(page);
    return rc;
}

int sdra_store_audit_count(sdra_store *s, const char *target, int *n_out, sdra_error *err)
{
    *n_out = 0;
    return s->ops->audit_count(s, target, n_out, err);
}

int sdra_store_outbox_put(sdra_store *s, const char *org, const char *key, const char *call_id,
                          const char *kind, const char *payload, int64_t now_ms, sdra_error *err)
{
    if (!key || !*key || strlen(key) >= 128 || !kind || strlen(kind) >= 32)
        return sdra_error_set(err, SDRA_EINVAL, "outbox: bad idempotency key or kind");
    if (!org || !valid_id(org))
        return sdra_error_set(err, SDRA_EINVAL, "outbox: bad organisation");
    return s->ops->outbox_put(s, org, key, call_id ? call_id : "", kind, payload ? payload : "", now_ms, err);
}

int sdra_store_outbox_claim(sdra_store *s, const char *owner, int64_t now_ms, int64_t lease_ms,
                            sdra_store_outbox_item *out, sdra_error *err)
{
    memset(out, 0, sizeof *out);
    return s->ops->outbox_claim(s, owner, now_ms, lease_ms, out, err);
}

int sdra_store_outbox_done(sdra_store *s, const char *key, sdra_error *err)
{
    return s->ops->outbox_done(s, key, err);
}

int sdra_store_org_set(sdra_store *s, const char *name, int max_active, int64_t max_storage_bytes, int64_t now_ms,
                       sdra_error *err)
{
    if (!valid_id(name))
        return sdra_error_set(err, SDRA_EINVAL, "organisation '%.80s': use 1-63 of [a-z0-9-]", name ? name : "");
    if (max_active < 0 || max_storage_bytes < 0)
        return sdra_error_set(err, SDRA_EINVAL, "organisation %s: quotas must be 0 (unlimited) or more", name);
    return s->ops->org_set(s, name, max_active, max_storage_bytes, now_ms, err);
}

int sdra_store_org_get(sdra_store *s, const char *name, sdra_store_org *out, sdra_error *err)
{
    memset(out, 0, sizeof *out);
    if (!valid_id(name))
        return sdra_error_set(err, SDRA_EINVAL, "organisation '%.80s': use 1-63 of [a-z0-9-]", name ? name : "");
    return s->ops->org_get(s, name, out, err);
}

int sdra_store_org_list(sdra_store *s, sdra_store_org *out, int max, int *n_out, sdra_error *err)
{
    *n_out = 0;
    if (max <= 0)
        return 0;
    memset(out, 0, sizeof *out * (size_t)max);
    return s->ops->org_list(s, out, max, n_out, err);
}

int sdra_store_call_set_meta(sdra_store *s, const char *org, const char *id, const char *meta_json, sdra_error *err)
{
    if (!valid_id(id))
        return sdra_error_set(err, SDRA_ENOTFOUND, "call '%.80s' not found", id ? id : "");
    if (!meta_json || strlen(meta_json) > SDRA_STORE_META_MAX)
        return sdra_error_set(err, SDRA_EINVAL, "call %s: metadata missing or over %u bytes", id, SDRA_STORE_META_MAX);
    if (!s->ops->call_set_meta)
        return sdra_error_set(err, SDRA_EUNSUPPORTED, "store %s cannot rewrite call metadata", s->ops->name);
    return s->ops->call_set_meta(s, org, id, meta_json, err);
}

/* ---- data-subject rights and retention ------------------------------------------------- */

/* A subject token: 64 lower-case hex digits. */
static int valid_token(const char *t)
{
    return t && strlen(t) == SDRA_STORE_TOKEN_HEX && strspn(t, "0123456789abcdef") == SDRA_STORE_TOKEN_HEX;
}

static int check_subject(const char *org, const char *token, sdra_error *err)
{
    if (!sdra_store_org_valid(org))
        return sdra_error_set(err, SDRA_EINVAL, "organisation '%.80s': use 1-63 of [a-z0-9-]",
                              org ? org : "");
    if (!valid_token(token))
        return sdra_error_set(err, SDRA_EINVAL, "subject token must be 64 hex digits");
    return 0;
}

int sdra_store_subject_add(sdra_store *s, const char *call_id, const char *org, const char *token, sdra_error *err)
{
    if (!valid_id(call_id))
        return sdra_error_set(err, SDRA_EINVAL, "call id '%.80s': use 1-63 of [a-z0-9-]", call_id ? call_id : "");
    int rc = check_subject(org, token, err);
    return rc < 0 ? rc : s->ops->subject_add(s, call_id, org, token, err);
}

int sdra_store_subject_calls(sdra_store *s, const char *org, const char *token, char (*ids)[SDRA_STORE_ID_MAX],
                             int max, int *n_out, sdra_error *err)
{
    *n_out = 0;
    int rc = check_subject(org, token, err);
    return rc < 0 ? rc : s->ops->subject_calls(s, org, token, ids, max, n_out, err);
}

int sdra_store_subject_pseudonym(sdra_store *s, const char *org, const char *token, const char *candidate,
                                 int64_t now_ms, char out[SDRA_STORE_ID_MAX], sdra_error *err)
{
    out[0] = '\0';
    int rc = check_subject(org, token, err);
    if (rc < 0)
        return rc;
    if (candidate && !valid_id(candidate))
        return sdra_error_set(err, SDRA_EINVAL, "pseudonym '%.80s': use 1-63 of [a-z0-9-]", candidate);
    return s->ops->subject_pseudonym(s, org, token, candidate, now_ms, out, err);
}

int sdra_store_subject_forget(sdra_store *s, const char *org, const char *token, int *n_out, sdra_error *err)
{
    int n = 0;
    int rc = check_subject(org, token, err);
    if (rc == 0)
        rc = s->ops->subject_forget(s, org, token, &n, err);
    if (n_out)
        *n_out = n;
    return rc;
}

int sdra_store_policy_get(sdra_store *s, const char *org, sdra_store_policy *out, sdra_error *err)
{
    memset(out, 0, sizeof *out);
    if (!sdra_store_org_valid(org))
        return sdra_error_set(err, SDRA_EINVAL, "organisation '%.80s': use 1-63 of [a-z0-9-]",
                              org ? org : "");
    sdra_strlcpy(out->org, org, sizeof out->org);
    return s->ops->policy_get(s, org, out, err);
}

int sdra_store_policy_put(sdra_store *s, const sdra_store_policy *p, int64_t now_ms, sdra_error *err)
{
    if (!sdra_store_org_valid(p->org))
        return sdra_error_set(err, SDRA_EINVAL, "organisation '%.80s': use 1-63 of [a-z0-9-]", p->org);
    const int days[] = {p->audio_days, p->transcript_days, p->analysis_days, p->email_days, p->call_days, p->crm_days};
    for (size_t i = 0; i < sizeof days / sizeof days[0]; i++)
        if (days[i] < 0 || days[i] > 365 * 100)
            return sdra_error_set(err, SDRA_EINVAL, "retention days must be 0 (keep) to 36500");
    return s->ops->policy_put(s, p, now_ms, err);
}

int sdra_store_outbox_list(sdra_store *s, const char *call_id, sdra_store_outbox_item *out, int max, int *n_out,
                           sdra_error *err)
{
    *n_out = 0;
    if (!valid_id(call_id))
        return 0;
    return s->ops->outbox_list(s, call_id, out, max, n_out, err);
}

int sdra_store_artifact_delete(sdra_store *s, const char *call_id, const char *name, sdra_error *err)
{
    if (!valid_id(call_id) || !name || !*name)
        return sdra_error_set(err, SDRA_ENOTFOUND, "artifact not found");
    return s->ops->artifact_delete(s, call_id, name, err);
}

int sdra_store_checkpoint(sdra_store *s, sdra_error *err)
{
    return s->ops->checkpoint(s, err);
}

/* ---- the outbox life cycle ------------------------------------------------------------- */

static const char *const outbox_state_names[SDRA_N_OUTBOX_STATES] = {"queued", "running", "done", "dead", "held",
                                                                      "canceled"};

const char *sdra_store_outbox_state_name(int state)
{
    return state >= 0 && state < SDRA_N_OUTBOX_STATES ? outbox_state_names[state] : "unknown";
}

int sdra_store_outbox_state_parse(const char *s)
{
    for (int i = 0; s && i < SDRA_N_OUTBOX_STATES; i++)
        if (!strcmp(s, outbox_state_names[i]))
            return i;
    return -1;
}

int store_outbox_verb_check(const char *key, const char *state, sdra_outbox_verb verb, sdra_error *err)
{
    static const char *const verbs[] = {"approve", "retry", "cancel"};
    int cur = sdra_store_outbox_state_parse(state);
    bool ok = (verb == SDRA_OUTBOX_APPROVE && cur == SDRA_OUTBOX_HELD) ||
              (verb == SDRA_OUTBOX_RETRY && cur == SDRA_JOB_DEAD) ||
              (verb == SDRA_OUTBOX_CANCEL && (cur == SDRA_JOB_QUEUED || cur == SDRA_OUTBOX_HELD));
    if (ok)
        return 0;
    return sdra_error_set(err, SDRA_EEXISTS, "outbox entry '%s' is %s: cannot %s it%s", key, state, verbs[verb],
                          verb == SDRA_OUTBOX_CANCEL && cur == SDRA_JOB_RUNNING ? " (it is being sent)" : "");
}

/* Keys are printable ASCII without spaces, quotes or slashes (they appear in URLs and logs). */
static bool outbox_key_ok(const char *key)
{
    if (!key || !*key || strlen(key) >= 128)
        return false;
    for (const char *p = key; *p; p++)
        if (*p <= ' ' || *p >= 127 || *p == '/' || *p == '"' || *p == '\\' || *p == '?' || *p == '#' || *p == '%')
            return false;
    return true;
}

static int outbox_new_check(const sdra_store_outbox_new *e, sdra_error *err)
{
    if (!outbox_key_ok(e->key) || !e->kind || !*e->kind || strlen(e->kind) >= 32)
        return sdra_error_set(err, SDRA_EINVAL, "outbox: bad idempotency key or kind");
    if (!e->org || !valid_id(e->org))
        return sdra_error_set(err, SDRA_EINVAL, "outbox: bad organisation");
    if (e->state != SDRA_JOB_QUEUED && e->state != SDRA_OUTBOX_HELD && e->state != SDRA_OUTBOX_CANCELED)
        return sdra_error_set(err, SDRA_EINVAL, "outbox: a new entry is queued, held or canceled");
    if (e->send_at_ms < 0)
        return sdra_error_set(err, SDRA_EINVAL, "outbox: send_at before 1970");
    return 0;
}

int sdra_store_outbox_add(sdra_store *s, const sdra_store_outbox_new *e, int64_t now_ms, sdra_error *err)
{
    int rc = outbox_new_check(e, err);
    return rc < 0 ? rc : s->ops->outbox_add(s, e, now_ms, err);
}

int sdra_store_outbox_get(sdra_store *s, const char *org, const char *key, sdra_store_outbox_item *out,
                          sdra_error *err)
{
    memset(out, 0, sizeof *out);
    if (!org_arg_ok(org) || !outbox_key_ok(key))
        return sdra_error_set(err, SDRA_ENOTFOUND, "no outbox entry '%.128s'", key ? key : "");
    return s->ops->outbox_get(s, org, key, out, err);
}

int sdra_store_outbox_query(sdra_store *s, const sdra_store_outbox_filter *f, sdra_store_outbox_item *out, int max,
                            int *n_out, sdra_error *err)
{
    static const sdra_store_outbox_filter all = {.state = -1};
    *n_out = 0;
    if (!f)
        f = &all;
    if (!org_arg_ok(f->org) || (f->call_id && !valid_id(f->call_id)) || max <= 0)
        return 0;
    return s->ops->outbox_query(s, f, out, max, n_out, err);
}

int sdra_store_outbox_change(sdra_store *s, const char *org, const char *key, sdra_outbox_verb verb, int64_t now_ms,
                             sdra_error *err)
{
    if (!org_arg_ok(org) || !outbox_key_ok(key))
        return sdra_error_set(err, SDRA_ENOTFOUND, "no outbox entry '%.128s'", key ? key : "");
    if (verb < SDRA_OUTBOX_APPROVE || verb > SDRA_OUTBOX_CANCEL)
        return sdra_error_set(err, SDRA_EINVAL, "outbox: unknown change");
    return s->ops->outbox_change(s, org, key, verb, now_ms, err);
}

int sdra_store_outbox_approve(sdra_store *s, const char *org, const char *key, int64_t now_ms, sdra_error *err)
{
    return sdra_store_outbox_change(s, org, key, SDRA_OUTBOX_APPROVE, now_ms, err);
}

int sdra_store_outbox_retry(sdra_store *s, const char *org, const char *key, int64_t now_ms, sdra_error *err)
{
    return sdra_store_outbox_change(s, org, key, SDRA_OUTBOX_RETRY, now_ms, err);
}

int sdra_store_outbox_cancel(sdra_store *s, const char *org, const char *key, int64_t now_ms, sdra_error *err)
{
    return sdra_store_outbox_change(s, org, key, SDRA_OUTBOX_CANCEL, now_ms, err);
}

int sdra_store_outbox_finish(sdra_store *s, const sdra_store_outbox_item *it, const char *remote_id, int64_t now_ms,
                             sdra_error *err)
{
    if (remote_id && strlen(remote_id) >= sizeof it->remote_id)
        return sdra_error_set(err, SDRA_EINVAL, "outbox: remote id longer than %zu bytes", sizeof it->remote_id - 1);
    return s->ops->outbox_finish(s, it, remote_id ? remote_id : "", now_ms, err);
}

int sdra_store_outbox_fail(sdra_store *s, const sdra_store_outbox_item *it, const char *msg, int next_state,
                           int64_t retry_at_ms, int64_t now_ms, sdra_error *err)
{
    if (next_state != SDRA_JOB_QUEUED && next_state != SDRA_JOB_DEAD && next_state != SDRA_OUTBOX_HELD)
        return sdra_error_set(err, SDRA_EINVAL, "outbox: a failed entry is queued again, dead or held");
    return s->ops->outbox_fail(s, it, msg ? msg : "", next_state, retry_at_ms, now_ms, err);
}

int sdra_store_job_complete_fx(sdra_store *s, const sdra_store_job *job, const sdra_store_artifact *arts, int n_arts,
                               int next_stage, const sdra_store_outbox_new *fx, int n_fx, int64_t now_ms,
                               sdra_error *err)
{
    for (int i = 0; i < n_fx; i++) {
        int rc = outbox_new_check(&fx[i], err);
        if (rc < 0)
            return rc;
    }
    return s->ops->job_complete_fx(s, job, arts, n_arts, next_stage, fx, n_fx, now_ms, err);
}

int sdra_store_job_fail_fx(sdra_store *s, const sdra_store_job *job, const char *msg, bool retryable,
                           int64_t retry_at_ms, int max_attempts, const sdra_store_outbox_new *fx, int n_fx,
                           int64_t now_ms, sdra_error *err)
{
    for (int i = 0; i < n_fx; i++) {
        int rc = outbox_new_check(&fx[i], err);
        if (rc < 0)
            return rc;
    }
    return s->ops->job_fail_fx(s, job, msg, retryable, retry_at_ms, max_attempts, fx, n_fx, now_ms, err);
}

/* ---- full-text search ------------------------------------------------------------------- */

/* A query's terms: 1..SDRA_STORE_SEARCH_QUERY_TERMS words of [A-Za-z0-9_-] and bytes >= 0x80
 * (UTF-8 letters), separated by spaces. */
static int search_terms_ok(const char *t, sdra_error *err)
{
    int n = 0;
    for (const char *p = t; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        size_t len = 0;
        for (; p[len] && p[len] != ' '; len++) {
            unsigned char ch = (unsigned char)p[len];
            if (!(isalnum(ch) || ch == '_' || ch == '-' || ch >= 0x80))
                return sdra_error_set(err, SDRA_EINVAL, "search: '%c' is not allowed in a search term", ch);
        }
        if (len > 128)
            return sdra_error_set(err, SDRA_EINVAL, "search: a term is longer than 128 bytes");
        if (++n > SDRA_STORE_SEARCH_QUERY_TERMS)
            return sdra_error_set(err, SDRA_EINVAL, "search: more than %d terms", SDRA_STORE_SEARCH_QUERY_TERMS);
        p += len;
    }
    return 0;
}

static bool search_day_ok(const char *d)
{
    if (!d)
        return true;
    if (strlen(d) != 10 || d[4] != '-' || d[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)d[i]))
            return false;
    return true;
}

int sdra_store_search_put(sdra_store *s, const char *org, const char *call_id, const sdra_store_search_doc *d,
                          sdra_error *err)
{
    if (!s->ops->search_put)
        return sdra_error_set(err, SDRA_EUNSUPPORTED, "store %s has no full-text search", s->ops->name);
    if (!valid_id(call_id) || !org || !org_arg_ok(org))
        return sdra_error_set(err, SDRA_EINVAL, "search: bad call id or organisation");
    size_t n = (d->people ? strlen(d->people) : 0) + (d->words ? strlen(d->words) : 0) +
               (d->objections ? strlen(d->objections) : 0);
    if (n > SDRA_STORE_SEARCH_TERMS_MAX)
        return sdra_error_set(err, SDRA_EINVAL, "search: %zu bytes of terms (at most %u)", n,
                              SDRA_STORE_SEARCH_TERMS_MAX);
    if (!search_day_ok(d->day))
        return sdra_error_set(err, SDRA_EINVAL, "search: day must be YYYY-MM-DD");
    return s->ops->search_put(s, org, call_id, d, err);
}

int sdra_store_call_search(sdra_store *s, const char *org, const sdra_store_search_query *q, int offset, int limit,
                           sdra_store_call *out, int *n_out, sdra_error *err)
{
    *n_out = 0;
    if (!s->ops->call_search)
        return sdra_error_set(err, SDRA_EUNSUPPORTED, "store %s has no full-text search", s->ops->name);
    if (offset < 0 || limit < 0)
        return sdra_error_set(err, SDRA_EINVAL, "call search: negative offset or limit");
    int rc = 0;
    const char *one[] = {q->terms, q->outcome, q->objection};
    for (size_t i = 0; i < 3; i++)
        if (one[i] && (rc = search_terms_ok(one[i], err)) < 0)
            return rc;
    if ((q->outcome && strchr(q->outcome, ' ')) || (q->objection && strchr(q->objection, ' ')))
        return sdra_error_set(err, SDRA_EINVAL, "search: outcome and objection are one word each");
    if (!search_day_ok(q->from_day) || !search_day_ok(q->to_day))
        return sdra_error_set(err, SDRA_EINVAL, "search: dates must be YYYY-MM-DD");
    if (!org_arg_ok(org) || limit == 0)
        return 0;
    memset(out, 0, sizeof *out * (size_t)limit);
    return s->ops->call_search(s, org, q, offset, limit, out, n_out, err);
}

int sdra_store_wait_work(sdra_store *s, int timeout_ms, sdra_error *err)
{
    if (timeout_ms < 0)
        timeout_ms = 0;
    if (s->ops->wait_work)
        return s->ops->wait_work(s, timeout_ms, err);
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0)
        ;
    return SDRA_ETIMEOUT;
}

/* ---- audit group commit (internal.h) ------------------------------------------------------ */

void store_audit_queue_init(store_audit_queue *q)
{
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->head = NULL;
    q->tail = &q->head;
    q->writing = false;
}

void store_audit_queue_release(store_audit_queue *q)
{
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
}

int store_audit_group_append(store_audit_queue *q, sdra_store *s, store_audit_write_fn write_batch,
                             sdra_store_audit_entry *e, sdra_error *err)
{
    store_audit_waiter me = {.e = e};
    pthread_mutex_lock(&q->mu);
    *q->tail = &me;
    q->tail = &me.next;
    while (!me.done) {
        if (q->writing) {
            pthread_cond_wait(&q->cv, &q->mu);
            continue;
        }
        q->writing = true;
        store_audit_waiter *batch = q->head, **end = &q->head;
        for (int n = 0; *end && n < STORE_AUDIT_BATCH_MAX; n++)
            end = &(*end)->next;
        q->head = *end;
        *end = NULL;
        if (!q->head)
            q->tail = &q->head;
        pthread_mutex_unlock(&q->mu);
        sdra_error berr = {0};
        int rc = write_batch(s, batch, &berr);
        pthread_mutex_lock(&q->mu);
        for (store_audit_waiter *w = batch, *next; w; w = next) {
            next = w->next;
            w->rc = rc;
            w->err = berr;
            if (rc < 0)
                w->e->id = 0, w->e->hash[0] = w->e->prev_hash[0] = '\0';
            w->done = true; /* last: the waiter may return (and its frame go) once it sees this */
        }
        q->writing = false;
        pthread_cond_broadcast(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    if (me.rc < 0 && err)
        *err = me.err;
    return me.rc;
}

int sdra_store_search_missing(sdra_store *s, const char *after_id, sdra_store_call *out, int max, int *n_out,
                              sdra_error *err)
{
    *n_out = 0;
    if (!s->ops->search_missing)
        return sdra_error_set(err, SDRA_EUNSUPPORTED, "store %s has no full-text search", s->ops->name);
    if (max <= 0)
        return 0;
    memset(out, 0, sizeof *out * (size_t)max);
    return s->ops->search_missing(s, after_id ? after_id : "", out, max, n_out, err);
}

int sdra_store_outbox_approve_as(sdra_store *s, const char *org, const char *key, int64_t send_at_ms,
                                 const char *payload, int64_t now_ms, sdra_error *err)
{
    if (!s->ops->outbox_approve_as)
        return sdra_error_set(err, SDRA_EUNSUPPORTED, "store %s cannot approve with choices", s->ops->name);
    if (!org_arg_ok(org) || !outbox_key_ok(key))
        return sdra_error_set(err, SDRA_ENOTFOUND, "no outbox entry '%.128s'", key ? key : "");
    if (send_at_ms < -1)
        return sdra_error_set(err, SDRA_EINVAL, "outbox: send_at before 1970");
    return s->ops->outbox_approve_as(s, org, key, send_at_ms, payload, now_ms, err);
}
