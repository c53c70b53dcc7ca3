/*
 * server.c - the server's life cycle (sdra/server.h): parameters and their defaults, opening
 * the data directory and the job store, cleaning up after a crash (half-received uploads,
 * call directories whose creating transaction never committed), the metrics the other files
 * update, starting and stopping workers and the HTTP listener in the right order; API keys
 * (libsodium: random keys, BLAKE2b hashes, constant-time compare); storing an uploaded call
 * (idempotency included) and deleting one; small file helpers.
 */
#include "internal.h"

#include "sdra/crm.h"
#include "sdra/log.h"
#include "sdra/rights.h"
#include "sdra/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

sdra_server_params sdra_server_default_params(void)
{
    sdra_server_params p = {0};
    p.listen = "127.0.0.1:8080";
    p.run_workers = true;
    p.max_active_calls = 64;
    p.max_upload_bytes = (size_t)256 << 20;
    p.max_header_bytes = 32 << 10;
    p.max_connections = 1024;
    p.request_timeout_s = 30;
    p.max_connections_per_ip = 128;
    p.header_timeout_s = 10;
    p.min_body_rate = 1024;
    p.http_threads = 4;
    p.lease_ms = 30000;
    p.max_attempts = 5;
    p.retry_base_ms = 2000;
    p.retry_max_ms = 300000;
    p.sse_keepalive_s = 15;
    p.retention_sweep_s = 3600;
    p.max_live_calls = 8;
    p.live_grace_s = 30;
    p.live_backlog_s = 30;
    p.live_degrade_lag_s = 5;
    return p;
}

int sdra_server_store_open(sdra_store **out, const char *data_dir, sdra_error *err)
{
    char path[PATH_MAX];
    if (!data_dir || !*data_dir)
        return sdra_error_set(err, SDRA_EINVAL, "no data directory given");
    if (snprintf(path, sizeof path, "%s/sdra.db", data_dir) >= (int)sizeof path)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", data_dir);
    int rc = sdra_mkdir_p(data_dir, err);
    if (rc < 0)
        return rc;
    const char *loc = getenv("SDRA_STORE");
    if (loc && *loc)
        return sdra_store_open(out, loc, err);
    return sdra_store_sqlite_open(out, path, err);
}

/* ---- keys -------------------------------------------------------------------------- */

static void hash_key(const char *key, char hex[65])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)key, strlen(key), NULL, 0);
    sodium_bin2hex(hex, 65, h, sizeof h);
}

int sdra_server_key_create(sdra_store *st, const char *name, const char *scope, char *key_out, size_t n,
                           sdra_error *err)
{
    return sdra_server_org_key_create(st, SDRA_STORE_ORG_DEFAULT, name, scope, key_out, n, err);
}

int sdra_server_org_key_create(sdra_store *st, const char *org, const char *name, const char *scope, char *key_out,
                               size_t n, sdra_error *err)
{
    if (sodium_init() < 0)
        return sdra_error_set(err, SDRA_EINTERNAL, "libsodium failed to initialise");
    if (!name || !*name || strlen(name) >= 128)
        return sdra_error_set(err, SDRA_EINVAL, "key name must be 1-127 characters");
    int vrc = sdra_text_check_line("key name", name, err);
    if (vrc < 0)
        return vrc;
    /* revoke and delete take an id or a name: a name shaped like an id could name another
     * organisation's key */
    if (strlen(name) == 12 && strspn(name, "0123456789abcdef") == 12)
        return sdra_error_set(err, SDRA_EINVAL, "key name '%s' looks like a key id: choose another", name);
    if (n < SDRA_SERVER_KEY_MAX)
        return sdra_error_set(err, SDRA_ELIMIT, "key buffer too small");
    unsigned char id_bin[6], secret[32];
    char id_hex[13], secret_hex[65];
    randombytes_buf(id_bin, sizeof id_bin);
    randombytes_buf(secret, sizeof secret);
    sodium_bin2hex(id_hex, sizeof id_hex, id_bin, sizeof id_bin);
    sodium_bin2hex(secret_hex, sizeof secret_hex, secret, sizeof secret);
    sodium_memzero(secret, sizeof secret);
    sdra_store_key k = {0};
    snprintf(key_out, n, "sdra_%s_%s", id_hex, secret_hex);
    sodium_memzero(secret_hex, sizeof secret_hex);
    sdra_strlcpy(k.id, id_hex, sizeof k.id);
    sdra_strlcpy(k.name, name, sizeof k.name);
    sdra_strlcpy(k.scope, scope ? scope : "", sizeof k.scope);
    if (!sdra_store_org_valid(org))
        return sdra_error_set(err, SDRA_EINVAL, "organisation '%.80s': use 1-63 of [a-z0-9-]", org ? org : "");
    sdra_strlcpy(k.org, org, sizeof k.org);
    hash_key(key_out, k.hash);
    k.created_ms = sdra_store_now_ms();
    int rc = sdra_store_key_insert(st, &k, err);
    if (rc < 0)
        sodium_memzero(key_out, n);
    return rc;
}

int sdra_server_key_verify(sdra_store *st, const char *key, sdra_store_key *out, sdra_error *err)
{
    char id[13], hex[65];
    size_t len = key ? strlen(key) : 0;
    if (len != 5 + 12 + 1 + 64 || strncmp(key, "sdra_", 5) || key[17] != '_')
        return sdra_error_set(err, SDRA_EDENIED, "malformed API key");
    memcpy(id, key + 5, 12);
    id[12] = '\0';
    sdra_error e2 = {0};
    int rc = sdra_store_key_get(st, id, out, &e2);
    if (rc == SDRA_ENOTFOUND)
        return sdra_error_set(err, SDRA_EDENIED, "unknown API key");
    if (rc < 0) {
        if (err)
            *err = e2;
        return rc;
    }
    hash_key(key, hex);
    if (sodium_memcmp(hex, out->hash, 64) != 0 || strlen(out->hash) != 64)
        return sdra_error_set(err, SDRA_EDENIED, "unknown API key");
    if (out->revoked_ms)
        return sdra_error_set(err, SDRA_EDENIED, "API key %s was revoked", out->id);
    return 0;
}

static int scope_rank(const char *s)
{
    if (!s)
        return -1;
    if (!strcmp(s, "read"))
        return 0;
    if (!strcmp(s, "write"))
        return 1;
    if (!strcmp(s, "admin"))
        return 2;
    return -1;
}

bool sdra_server_scope_allows(const char *have, const char *need)
{
    int h = scope_rank(have), n = scope_rank(need);
    return h >= 0 && n >= 0 && h >= n;
}

/* ---- helpers ------------------------------------------------------------------------- */

int srv_call_dir(const struct sdra_server *s, char *out, size_t n, const char *call_id)
{
    return snprintf(out, n, "%s/calls/%s", s->data_dir, call_id) >= (int)n ? SDRA_ELIMIT : 0;
}

int srv_rm_rf(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[PATH_MAX];
        if (snprintf(p, sizeof p, "%s/%s", path, e->d_name) >= (int)sizeof p) {
            rc = -1;
            continue;
        }
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rc |= srv_rm_rf(p);
        else if (unlink(p) != 0 && errno != ENOENT)
            rc = -1;
    }
    closedir(d);
    if (rmdir(path) != 0 && errno != ENOENT)
        rc = -1;
    return rc;
}

int srv_sha256_file(const char *path, char hex[65], int64_t *size_out, sdra_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sdra_error_set(err, sdra_code_from_errno(errno), "%s: %s", path, strerror(errno));
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char buf[65536], h[32];
    int64_t total = 0;
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0) {
        crypto_hash_sha256_update(&st, buf, (unsigned long long)r);
        total += r;
    }
    int e = errno;
    close(fd);
    if (r < 0)
        return sdra_error_set(err, SDRA_EIO, "%s: %s", path, strerror(e));
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(hex, 65, h, sizeof h);
    *size_out = total;
    return 0;
}

/* ---- call submission and deletion ------------------------------------------------------- */

typedef struct srv_idem {
    struct srv_idem *next;
    char id[SDRA_STORE_ID_MAX];
    int refs;        /* the submitter and its waiters */
    bool settled;
    bool created;    /* the submitter committed the call */
} srv_idem;

static void idem_put(srv_idem *e) /* with s->mu held */
{
    if (--e->refs == 0)
        free(e);
}

static void idem_settle(struct sdra_server *s, srv_idem *e, bool created)
{
    pthread_mutex_lock(&s->mu);
    e->settled = true;
    e->created = created;
    for (srv_idem **pp = &s->idem; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    pthread_cond_broadcast(&s->idem_cv);
    idem_put(e);
    pthread_mutex_unlock(&s->mu);
}

/* Reserves id for this submission (*mine set), or waits for the submission that holds it: then
 * *waited says whether that one created the call. */
static int idem_reserve(struct sdra_server *s, const char *id, srv_idem **mine, bool *created_by_other,
                        sdra_error *err)
{
    *mine = NULL;
    *created_by_other = false;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        srv_idem *e = s->idem;
        while (e && strcmp(e->id, id))
            e = e->next;
        if (!e) {
            e = calloc(1, sizeof *e);
            if (!e) {
                pthread_mutex_unlock(&s->mu);
                return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
            }
            sdra_strlcpy(e->id, id, sizeof e->id);
            e->refs = 1;
            e->next = s->idem;
            s->idem = e;
            *mine = e;
            pthread_mutex_unlock(&s->mu);
            return 0;
        }
        e->refs++;
        int waited = 0;
        while (!e->settled && !atomic_load(&s->stopping) && waited < 120) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 500 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->idem_cv, &s->mu, &ts);
            waited++;
        }
        bool settled = e->settled, created = e->created;
        idem_put(e);
        if (!settled) {
            pthread_mutex_unlock(&s->mu);
            return sdra_error_set(err, SDRA_EEXISTS, "an upload with this Idempotency-Key is still being stored; retry later");
        }
        if (created) {
            *created_by_other = true;
            pthread_mutex_unlock(&s->mu);
            return 0;
        }
        /* the other submission failed: this one may try (take the reservation) */
    }
}

void srv_call_id_make(const char *key_id, const char *idem_key, char id[24])
{
    unsigned char rnd[8];
    if (idem_key) {
        /* the same key (per API key) always names the same call: a client that retries an
         * upload whose answer it lost (a crash, a timeout) gets the call, not a second one */
        crypto_generichash_state hs;
        crypto_generichash_init(&hs, NULL, 0, sizeof rnd);
        crypto_generichash_update(&hs, (const unsigned char *)key_id, strlen(key_id));
        crypto_generichash_update(&hs, (const unsigned char *)":", 1);
        crypto_generichash_update(&hs, (const unsigned char *)idem_key, strlen(idem_key));
        crypto_generichash_final(&hs, rnd, sizeof rnd);
    } else {
        randombytes_buf(rnd, sizeof rnd);
    }
    sodium_bin2hex(id, 24, rnd, sizeof rnd);
}

int srv_call_submit(struct sdra_server *s, const char *org, const char *key_id, const char *ip, const char *idem_key,
                    int64_t started_ms, char *tmp_path, const char *audio_name, size_t bytes, sdra_call_info *ci,
                    const sdra_crypt_key *dk, srv_submit_answer *out, sdra_error *err)
{
    return srv_call_submit_ex(s, org, key_id, ip, idem_key, started_ms, tmp_path, audio_name, bytes, ci, dk, out, err,
                              NULL, NULL, NULL);
}

int srv_call_submit_ex(struct sdra_server *s, const char *org, const char *key_id, const char *ip, const char *idem_key,
                       int64_t started_ms, char *tmp_path, const char *audio_name, size_t bytes, sdra_call_info *ci,
                       const sdra_crypt_key *dk, srv_submit_answer *out, sdra_error *err, const char *id_in,
                       const char *extra_tmp, const char *extra_name)
{
    char id[24], dir[1200], path[1300];
    char *meta = NULL;
    json_t *doc = NULL;
    srv_idem *mine = NULL;
    bool dir_made = false, created = false;
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (dk)
        sdra_strlcpy(id, sdra_crypt_key_id(dk), sizeof id);
    else if (id_in)
        sdra_strlcpy(id, id_in, sizeof id);
    else
        srv_call_id_make(key_id, idem_key, id);
    sdra_strlcpy(out->id, id, sizeof out->id);
    if (idem_key) {
        bool by_other = false;
        if ((rc = idem_reserve(s, id, &mine, &by_other, err)) < 0)
            return rc;
        if (by_other) { /* a concurrent submission with this key created it: its answer */
            out->http_status = 202;
            sdra_strlcpy(out->status, "queued", sizeof out->status);
            return 0;
        }
        sdra_store_call old;
        rc = sdra_store_call_get(s->store, org, id, &old, err);
        if (rc == 0) {
            if (old.created_ms >= started_ms) { /* created while this request was arriving */
                out->http_status = 202;
                sdra_strlcpy(out->status, "queued", sizeof out->status);
            } else {
                out->http_status = 200;
                sdra_strlcpy(out->status, old.status, sizeof out->status);
            }
            sdra_store_call_release(&old);
            goto done;
        }
        if (rc != SDRA_ENOTFOUND)
            goto done;
        rc = 0;
    }
    free(ci->id);
    ci->id = strdup(id);
    free(ci->audio);
    ci->audio = strdup(audio_name);
    if (!ci->id || !ci->audio) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }
    srv_call_dir(s, dir, sizeof dir, id);
    if (mkdir(dir, 0700) != 0) { /* exclusive: the directory is this submission's alone */
        if (errno == EEXIST)
            rc = sdra_error_set(err, SDRA_EEXISTS, "an upload with this Idempotency-Key is still being stored; retry later");
        else
            rc = sdra_error_set(err, SDRA_EIO, "storing the upload failed: %s", strerror(errno));
        goto done;
    }
    dir_made = true;
    snprintf(path, sizeof path, "%s/%s", dir, audio_name);
    if (rename(tmp_path, path) != 0) {
        rc = sdra_error_set(err, SDRA_EIO, "storing the upload failed: %s", strerror(errno));
        goto done;
    }
    tmp_path[0] = '\0';
    if (extra_tmp) {
        snprintf(path, sizeof path, "%s/%s", dir, extra_name);
        if (rename(extra_tmp, path) != 0) {
            rc = sdra_error_set(err, SDRA_EIO, "storing the call failed: %s", strerror(errno));
            goto done;
        }
    }
    doc = sdra_call_info_to_json(ci);
    snprintf(path, sizeof path, "%s/call.json", dir);
    sdra_error e2 = {0};
    /* encrypted at rest: call.json and the metadata in the store under the call's key */
    srv_seal sl;
    const sdra_seal_ops *prev = NULL;
    if (dk) {
        srv_seal_init(&sl, s->kr, (sdra_crypt_key *)dk);
        prev = sdra_seal_set(&sl.ops);
    }
    rc = !doc || sdra_json_write_file(path, doc, &e2) < 0 || !(meta = json_dumps(doc, JSON_COMPACT)) ? -1 : 0;
    if (rc == 0 && dk) {
        char *sealed = sl.ops.seal_text(&sl, id, meta);
        free(meta);
        meta = sealed;
        if (!meta)
            rc = -1;
    }
    if (dk)
        sdra_seal_set(prev);
    if (rc < 0) {
        rc = sdra_error_set(err, SDRA_EIO, "storing the call failed: %s", e2.msg[0] ? e2.msg : "out of memory");
        goto done;
    }
    /* a key row already there belongs to a committed call (then call_create answers below) or
     * is left by a submission that died before creating its call: only then is it replaced */
    if (dk && (rc = srv_keyring_store_key(s->kr, dk, false, err)) == SDRA_EEXISTS) {
        sdra_store_call other;
        if ((rc = sdra_store_call_get(s->store, NULL, id, &other, err)) == 0)
            sdra_store_call_release(&other);
        else if (rc == SDRA_ENOTFOUND)
            rc = srv_keyring_store_key(s->kr, dk, true, err);
    }
    if (rc < 0)
        goto done;
    /* the audio and call.json into the object store before the call exists (blob_io.c) */
    if ((rc = srv_blob_push(s, id, dir, NULL, err)) < 0)
        goto done;
    /* the people on the call (subject tokens) and its consent, then the creation: recorded
     * before the call exists, so a call is never created without its audit entries */
    sdra_rights_ctx cx = sdra_rights_ctx_init(s->store, s->data_dir, org, key_id, ip);
    if ((rc = sdra_rights_record_call(&cx, id, ci, err)) < 0)
        goto done;
    if ((rc = srv_audit_write_org(s, org, key_id, ip, "call.create", id, NULL, err)) < 0)
        goto done;
    rc = sdra_store_call_create(s->store, org, id, meta, (int64_t)bytes, 0, sdra_store_now_ms(), s->p.max_active_calls,
                                err);
    if (rc == SDRA_EEXISTS && idem_key) { /* another process committed it first: its answer */
        dir_made = false;
        rc = 0;
        out->http_status = 202;
        sdra_strlcpy(out->status, "queued", sizeof out->status);
        goto done;
    }
    if (rc < 0)
        goto done;
    dir_made = false; /* committed: the directory belongs to the call now */
    created = true;
    out->http_status = 202;
    sdra_strlcpy(out->status, "queued", sizeof out->status);
    sdra_obs_inc(s->obs, "sdra_http_upload_bytes_total", NULL, (double)bytes);
    sdra_log_ctx lc = {.call_id = id, .duration_ms = -1};
    sdra_logc(SDRA_LOG_INFO, &lc, "call received: %zu bytes of audio", bytes);
    srv_notify_stage(s, 0);
    srv_notify_event(s);
done:
    if (dir_made) {
        srv_rm_rf(dir);
        srv_blob_forget(s, id, NULL); /* what the push above may have stored */
    }
    if (mine)
        idem_settle(s, mine, created);
    free(meta);
    json_decref(doc);
    return rc;
}

int srv_audit_write(struct sdra_server *s, const char *actor, const char *ip, const char *action, const char *target,
                    const char *detail, sdra_error *err)
{
    return srv_audit_write_org(s, "", actor, ip, action, target, detail, err);
}

int srv_audit_write_org(struct sdra_server *s, const char *org, const char *actor, const char *ip, const char *action,
                        const char *target, const char *detail, sdra_error *err)
{
    sdra_store_audit_entry e = {.at_ms = sdra_store_now_ms()};
    sdra_strlcpy(e.org, org ? org : "", sizeof e.org);
    sdra_strlcpy(e.actor, actor && *actor ? actor : "-", sizeof e.actor);
    sdra_strlcpy(e.action, action, sizeof e.action);
    sdra_strlcpy(e.target, target ? target : "", sizeof e.target);
    sdra_strlcpy(e.ip, ip ? ip : "", sizeof e.ip);
    sdra_strlcpy(e.detail, detail ? detail : "", sizeof e.detail);
    sdra_error e2 = {0};
    int rc = sdra_store_audit_append(s->store, &e, &e2);
    if (rc < 0) {
        sdra_log(SDRA_LOG_ERROR, "audit log write failed (%s %s): %s", action, e.target, e2.msg);
        sdra_obs_inc(s->obs, "sdra_audit_failures_total", NULL, 1);
        return sdra_error_set(err, SDRA_EIO, "audit log write failed: the request was refused");
    }
    return 0;
}

/* What a deleted call leaves outside the store: its directory and (unless keep_crm) the rows
 * the sync stage wrote to org's local CRM. */
static void call_remove_files(const char *data_dir, const char *org, const char *call_id, bool keep_crm)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/calls/%s", data_dir, call_id) < (int)sizeof dir && srv_rm_rf(dir) != 0)
        sdra_log(SDRA_LOG_WARN, "call %s: could not remove every file in %s", call_id, dir);
    if (keep_crm) /* retention: what was synced to the CRM stays unless the policy says otherwise */
        return;
    /* every trace includes what the sync stage wrote to the CRM (activity, tasks, emails, notes);
     * the contact itself stays: it may have other calls, and erasing a person is a separate act */
    sdra_crm *crm = NULL;
    int n_removed = 0;
    sdra_error cerr = {0};
    if (sdra_crm_open(&crm, "local", data_dir, &cerr) < 0 || sdra_crm_set_org(crm, org, &cerr) < 0 ||
        sdra_crm_forget_call(crm, call_id, &n_removed, &cerr) < 0)
        sdra_log(SDRA_LOG_WARN, "call %s: CRM records not erased: %s", call_id, cerr.msg);
    sdra_crm_close(crm);
}

int sdra_server_call_remove(sdra_store *st, const char *data_dir, const char *org, const char *call_id, bool keep_crm,
                            sdra_error *err)
{
    sdra_store_call sc;
    int rc = sdra_store_call_get(st, org, call_id, &sc, err);
    if (rc < 0)
        return rc;
    char call_org[SDRA_STORE_ID_MAX];
    sdra_strlcpy(call_org, sc.org, sizeof call_org);
    sdra_store_call_release(&sc);
    if ((rc = sdra_store_call_delete(st, call_org, call_id, err)) < 0)
        return rc;
    call_remove_files(data_dir, call_org, call_id, keep_crm);
    return 0;
}

int srv_call_delete_ex(struct sdra_server *s, const char *org, const char *call_id, const char *actor, const char *ip,
                       const char *action, bool keep_crm, sdra_error *err)
{
    sdra_store_call sc;
    int rc = sdra_store_call_get(s->store, org, call_id, &sc, err);
    if (rc < 0)
        return rc;
    char call_org[SDRA_STORE_ID_MAX]; /* org may be NULL (the sweeper): the call's own */
    sdra_strlcpy(call_org, sc.org, sizeof call_org);
    org = call_org;
    sdra_store_call_release(&sc);
    if (action && (rc = srv_audit_write_org(s, org, actor, ip, action, call_id, NULL, err)) < 0)
        return rc;
    rc = sdra_store_call_delete(s->store, org, call_id, err);
    if (rc < 0)
        return rc;
    /* a stage running on the call is asked to stop (its result would be refused anyway) */
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n_slots; i++)
        if (s->slots[i].busy && !strcmp(s->slots[i].job.call_id, call_id))
            atomic_store(&s->slots[i].lost, true);
    pthread_mutex_unlock(&s->mu);
    call_remove_files(s->data_dir, org, call_id, keep_crm);
    sdra_error berr = {0};
    if (srv_blob_forget(s, call_id, &berr) < 0)
        sdra_log(SDRA_LOG_WARN, "call %s: objects not removed: %s", call_id, berr.msg);
    srv_notify_event(s);
    return 0;
}

int srv_call_delete(struct sdra_server *s, const char *org, const char *call_id, const char *actor, const char *ip,
                    sdra_error *err)
{
    return srv_call_delete_ex(s, org, call_id, actor, ip, "call.delete", false, err);
}

void srv_notify_stage(struct sdra_server *s, int stage)
{
    if (stage < 0 || stage >= s->n_stages)
        return;
    pthread_mutex_lock(&s->mu);
    s->wake_seq[stage]++;
    pthread_cond_signal(&s->stage_cv[stage]);
    pthread_mutex_unlock(&s->mu);
}

void srv_notify_event(struct sdra_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->ev_seq++;
    pthread_cond_broadcast(&s->ev_cv);
    pthread_mutex_unlock(&s->mu);
}

/* Removes what a crash can leave behind: partial uploads in tmp/ and call directories whose
 * creating transaction never committed (the directory is written first, the row last). */
static void recover_files(struct sdra_server *s)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/tmp", s->data_dir);
    srv_rm_rf(path);
    sdra_mkdir_p(path, NULL);
    snprintf(path, sizeof path, "%s/calls", s->data_dir);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        sdra_store_call c;
        sdra_error err = {0};
        int rc = sdra_store_call_get(s->store, NULL, e->d_name, &c, &err);
        sdra_store_call_release(&c);
        if (rc == SDRA_ENOTFOUND) {
            char p[PATH_MAX + 256];
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            sdra_log(SDRA_LOG_WARN, "removing %s: its upload never committed", p);
            srv_rm_rf(p);
        }
    }
    closedir(d);
}

static const double rtf_bounds[] = {0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5};

static int define_metrics(sdra_obs *m)
{
    int rc = 0;
    rc |= sdra_obs_define(m, "sdra_http_requests_total", SDRA_OBS_COUNTER, "HTTP requests by route, method and status", NULL, 0);
    rc |= sdra_obs_define(m, "sdra_http_request_duration_seconds", SDRA_OBS_HISTOGRAM, "HTTP request latency by route", NULL, 0);
    rc |= sdra_obs_define(m, "sdra_http_upload_bytes_total", SDRA_OBS_COUNTER, "Bytes of audio received", NULL, 0);
    rc |= sdra_obs_define(m, "sdra_stage_duration_seconds", SDRA_OBS_HISTOGRAM, "Wall time of each stage run by stage and outcome", NULL, 0);
    rc |= sdra_obs_define(m, "sdra_jobs", SDRA_OBS_GAUGE, "Jobs in the store by stage and state", NULL, 0);
    rc |= sdra_obs_define(m, "sdra_queue_depth", SDRA_OBS_GAUGE, "Jobs waiting to run by stage", NULL, 0);
    rc |= sdra_obs_define(m, "sdra_jobs_in_flight", SDRA_OBS_GAUGE, "Jobs running in this process by stage", NULL, 0);
    rc |= sdra_obs_define(m, "sdra_queue_oldest_age_seconds", SDRA_OBS_GAUGE,
                          "Age of the oldest queued job by stage (0 when none is queued)", NULL, 0);
    rc |= sdra_obs_define(m, "sdra_dead_jobs", SDRA_OBS_GAUGE, "Jobs that used up their attempts, by stage", NULL, 0);
    rc |= sdra_obs_define(m, "sdra_job_retries_total", SDRA_OBS_COUNTER, "Failed attempts that will be retried, by stage", NULL, 0);
    rc |= sdra_obs_define(m, "sdra_jobs_dead_total", SDRA_OBS_COUNTER, "Jobs that went dead in this process, by stage", NULL, 0);
    rc |= sdra_obs_define(m, "sdra_jobs_completed_total", SDRA_OBS_COUNTER, "Jobs completed in this process, by stage", NULL, 0);
    rc |= sdra_obs_define(m, "sdra_transcription_rtf", SDRA_OBS_HISTOGRAM,
                          "Transcription real-time factor (processing seconds per audio second)", rtf_bounds,
                          (int)(sizeof rtf_bounds / sizeof rtf_bounds[0]));
    rc |= sdra_obs_define(m, "sdra_calls_active", SDRA_OBS_GAUGE, "Calls queued or running", NULL, 0);
    return rc;
}

int sdra_server_start(sdra_server **out, const sdra_server_params *p, sdra_error *err)
{
    int rc = 0;
    *out = NULL;
    if (sodium_init() < 0)
        return sdra_error_set(err, SDRA_EINTERNAL, "libsodium failed to initialise");
    if (!p || !p->data_dir || !*p->data_dir)
        return sdra_error_set(err, SDRA_EINVAL, "server: no data directory given");
    struct sdra_server *s = calloc(1, sizeof *s);
    if (!s)
        return sdra_error_set(err, SDRA_ENOMEM, "server: out of memory");
    s->p = *p;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->http_mu, NULL);
    pthread_cond_init(&s->hb_cv, NULL);
    pthread_cond_init(&s->ev_cv, NULL);
    pthread_cond_init(&s->idem_cv, NULL);
    pthread_cond_init(&s->ret_cv, NULL);
    pthread_cond_init(&s->ob_cv, NULL);
    for (int i = 0; i < SDRA_SERVER_MAX_STAGES; i++)
        pthread_cond_init(&s->stage_cv[i], NULL);
    atomic_init(&s->stopping, false);
    if (sdra_strlcpy(s->data_dir, p->data_dir, sizeof s->data_dir) >= sizeof s->data_dir - 64) {
        rc = sdra_error_set(err, SDRA_ELIMIT, "%s: data directory path too long", p->data_dir);
        goto done;
    }
    if (p->stages) {
        if (p->n_stages < 1 || p->n_stages > SDRA_SERVER_MAX_STAGES) {
            rc = sdra_error_set(err, SDRA_EINVAL, "server: %d stages (1..%d)", p->n_stages, SDRA_SERVER_MAX_STAGES);
            goto done;
        }
        memcpy(s->stages, p->stages, sizeof s->stages[0] * (size_t)p->n_stages);
        s->n_stages = p->n_stages;
    } else {
        for (int i = 0; i < SDRA_N_STAGES; i++) {
            const sdra_stage *st = sdra_pipeline_stage(i);
            if (!st) {
                rc = sdra_error_set(err, SDRA_EINTERNAL, "server: pipeline stage %d missing", i);
                goto done;
            }
            s->stages[s->n_stages++] = *st;
        }
    }
    if (s->p.worker_only)
        s->p.run_workers = true;
    if (s->p.lease_ms < 100)
        s->p.lease_ms = 100;
    if (s->p.max_attempts < 1)
        s->p.max_attempts = 1;
    if (s->p.request_timeout_s < 1)
        s->p.request_timeout_s = 30;
    /* an idle event stream must send something before the idle timeout cuts it */
    if (s->p.sse_keepalive_s * 2 > s->p.request_timeout_s)
        s->p.sse_keepalive_s = s->p.request_timeout_s / 2;
    if (s->p.sse_keepalive_s < 1)
        s->p.sse_keepalive_s = 1;

    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/calls", s->data_dir);
    if ((rc = sdra_mkdir_p(path, err)) < 0)
        goto done;
    if ((rc = s->p.store_url ? sdra_store_open(&s->store, s->p.store_url, err)
                             : sdra_server_store_open(&s->store, s->data_dir, err)) < 0)
        goto done;
    if ((rc = srv_blob_open(s, err)) < 0)
        goto done;
    if (!s->p.no_encrypt &&
        (rc = srv_keyring_open(&s->kr, s->store, s->data_dir, s->p.master_key_file, s->p.master_key_cmd, err)) < 0)
        goto done;
    if ((rc = sdra_obs_create(&s->obs, err)) < 0)
        goto done;
    if (define_metrics(s->obs) != 0) {
        rc = sdra_error_set(err, SDRA_EINTERNAL, "server: metric definitions clash");
        goto done;
    }
    /* a worker never receives uploads: what looks unfinished may be an API node's upload */
    if (!s->p.worker_only)
        recover_files(s);
    if (s->p.run_workers && (rc = srv_workers_start(s, err)) < 0)
        goto done;
    if ((rc = srv_live_start(s, err)) < 0)
        goto done;
    if ((!s->p.worker_only || s->p.listen) && (rc = srv_http_start(s, err)) < 0)
        goto done;
    if (!s->p.worker_only && (rc = srv_retention_start(s, err)) < 0) /* the API nodes sweep */
        goto done;
    if ((rc = srv_watch_start(s, err)) < 0)
        goto done;
    if ((rc = srv_outbox_start(s, err)) < 0)
        goto done;
    if ((rc = srv_search_backfill_start(s, err)) < 0) /* calls stored before the search index */
        goto done;
    if (srv_keyring_warning(s->kr))
        sdra_log(SDRA_LOG_WARN, "%s", srv_keyring_warning(s->kr));
    if (s->mhd)
        sdra_log(SDRA_LOG_INFO, "listening on port %d, data in %s", s->port, s->data_dir);
    else
        sdra_log(SDRA_LOG_INFO, "working, data in %s", s->data_dir);
    if (strcmp(sdra_blob_backend(s->blob), "local") || strcmp(sdra_blob_location(s->blob), s->data_dir))
        sdra_log(SDRA_LOG_INFO, "audio and artifacts in %s", sdra_blob_location(s->blob));
done:
    if (rc < 0) {
        sdra_server_stop(s);
        return rc;
    }
    *out = s;
    return 0;
}

int sdra_server_port(const sdra_server *s)
{
    return s && s->mhd ? s->port : -1;
}

void sdra_server_stop(sdra_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, true);
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < SDRA_SERVER_MAX_STAGES; i++)
        pthread_cond_broadcast(&s->stage_cv[i]);
    pthread_cond_broadcast(&s->ev_cv);
    pthread_cond_broadcast(&s->hb_cv);
    pthread_cond_broadcast(&s->idem_cv);
    pthread_cond_broadcast(&s->ret_cv);
    pthread_mutex_unlock(&s->mu);
    srv_retention_stop(s);
    srv_search_backfill_stop(s);
    srv_watch_stop(s);
    srv_outbox_stop(s);
    srv_live_stop(s);
    srv_http_stop(s);
    srv_workers_stop(s);
    srv_keyring_close(s->kr);
    sdra_store_close(s->store);
    sdra_blob_close(s->blob);
    sdra_obs_destroy(s->obs);
    for (int i = 0; i < SDRA_SERVER_MAX_STAGES; i++)
        pthread_cond_destroy(&s->stage_cv[i]);
    pthread_cond_destroy(&s->ev_cv);
    pthread_cond_destroy(&s->idem_cv);
    pthread_cond_destroy(&s->ret_cv);
    pthread_cond_destroy(&s->hb_cv);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->http_mu);
    free(s);
}
