/*
 * subject.c - who a call is about (sdra/rights.h): the deployment's subject key, normalised
 * email addresses and their keyed hashes (subject tokens), the pseudonyms audit entries carry,
 * recording a new call's subjects and consent, and the retention policy's JSON form.
 */
#include "internal.h"
#include "sdra/seal.h"

#include "sdra/log.h"
#include "sdra/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

sdra_rights_ctx sdra_rights_ctx_init(sdra_store *store, const char *data_dir, const char *org, const char *actor,
                                     const char *ip)
{
    sdra_rights_ctx cx = {0};
    cx.store = store;
    cx.data_dir = data_dir;
    cx.org = org && *org ? org : SDRA_RIGHTS_DEFAULT_ORG;
    cx.actor = actor;
    cx.ip = ip;
    cx.now_ms = sdra_store_now_ms();
    return cx;
}

static int read_key(int fd, unsigned char key[SDRA_RIGHTS_KEY_BYTES], const char *path, sdra_error *err)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return sdra_error_set(err, SDRA_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode) || sb.st_size != SDRA_RIGHTS_KEY_BYTES)
        return sdra_error_set(err, SDRA_EINVAL, "%s: not a %d-byte subject key", path, SDRA_RIGHTS_KEY_BYTES);
    if (sb.st_mode & 077)
        return sdra_error_set(err, SDRA_EINVAL, "%s: readable by others (mode %03o); chmod 600 it", path,
                              (unsigned)(sb.st_mode & 0777));
    size_t got = 0;
    while (got < SDRA_RIGHTS_KEY_BYTES) {
        ssize_t r = read(fd, key + got, SDRA_RIGHTS_KEY_BYTES - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return sdra_error_set(err, SDRA_EIO, "%s: short read", path);
        got += (size_t)r;
    }
    return 0;
}

int sdra_rights_key_load(unsigned char key[SDRA_RIGHTS_KEY_BYTES], const char *data_dir, sdra_error *err)
{
    char path[4096];
    if (sodium_init() < 0)
        return sdra_error_set(err, SDRA_EINTERNAL, "libsodium failed to initialise");
    if (sdra_path_join(path, sizeof path, data_dir, "subject.key") < 0)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", data_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        /* created once, exclusively: two processes racing both end up reading the winner's */
        int rc = sdra_mkdir_p(data_dir, err);
        if (rc < 0)
            return rc;
        unsigned char fresh[SDRA_RIGHTS_KEY_BYTES];
        randombytes_buf(fresh, sizeof fresh);
        char tmp[4200], rnd_hex[17];
        unsigned char rnd[8];
        randombytes_buf(rnd, sizeof rnd); /* unique per thread and process */
        sodium_bin2hex(rnd_hex, sizeof rnd_hex, rnd, sizeof rnd);
        snprintf(tmp, sizeof tmp, "%s.%s.tmp", path, rnd_hex);
        int wfd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        bool ok = wfd >= 0 && fchmod(wfd, 0600) == 0 && write(wfd, fresh, sizeof fresh) == (ssize_t)sizeof fresh &&
                  fsync(wfd) == 0;
        if (wfd >= 0)
            close(wfd);
        sodium_memzero(fresh, sizeof fresh);
        if (!ok || (link(tmp, path) != 0 && errno != EEXIST)) {
            int e = errno;
            unlink(tmp);
            return sdra_error_set(err, SDRA_EIO, "%s: cannot create the subject key: %s", path, strerror(e));
        }
        unlink(tmp);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (fd < 0)
        return sdra_error_set(err, SDRA_EIO, "%s: %s", path, strerror(errno));
    int rc = read_key(fd, key, path, err);
    close(fd);
    return rc;
}

int sdra_rights_email_normalise(char *out, size_t n, const char *email, sdra_error *err)
{
    if (!email)
        return sdra_error_set(err, SDRA_EINVAL, "no email address given");
    while (*email == ' ' || *email == '\t')
        email++;
    size_t len = strlen(email);
    while (len && (email[len - 1] == ' ' || email[len - 1] == '\t'))
        len--;
    const char *at = memchr(email, '@', len);
    bool ok = len > 2 && len <= 254 && len < n && at && at != email && at != email + len - 1 &&
              !memchr(at + 1, '@', len - (size_t)(at + 1 - email));
    for (size_t i = 0; ok && i < len; i++)
        ok = (unsigned char)email[i] > 32 && email[i] != 127 && !strchr("<>,;\"", email[i]);
    if (!ok)
        return sdra_error_set(err, SDRA_EINVAL, "'%.80s' is not an email address", email);
    for (size_t i = 0; i < len; i++)
        out[i] = (char)tolower((unsigned char)email[i]);
    out[len] = '\0';
    return 0;
}

int sdra_rights_token(char hex[SDRA_STORE_TOKEN_HEX + 1], const unsigned char key[SDRA_RIGHTS_KEY_BYTES],
                      const char *email, sdra_error *err)
{
    char norm[256];
    int rc = sdra_rights_email_normalise(norm, sizeof norm, email, err);
    if (rc < 0)
        return rc;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, SDRA_RIGHTS_KEY_BYTES);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)norm, strlen(norm));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(hex, SDRA_STORE_TOKEN_HEX + 1, mac, sizeof mac);
    sodium_memzero(norm, sizeof norm);
    return 0;
}

int rights_subject(const sdra_rights_ctx *cx, const char *email, char token[SDRA_STORE_TOKEN_HEX + 1],
                   sdra_error *err)
{
    unsigned char key[SDRA_RIGHTS_KEY_BYTES];
    int rc = sdra_rights_key_load(key, cx->data_dir, err);
    if (rc == 0)
        rc = sdra_rights_token(token, key, email, err);
    sodium_memzero(key, sizeof key);
    return rc;
}

int rights_pseudonym(const sdra_rights_ctx *cx, const char *token, bool create, char out[SDRA_STORE_ID_MAX],
                     sdra_error *err)
{
    char cand[24] = "s-";
    unsigned char rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(cand + 2, sizeof cand - 2, rnd, sizeof rnd);
    return sdra_store_subject_pseudonym(cx->store, cx->org, token, create ? cand : NULL, cx->now_ms, out, err);
}

json_t *rights_call_meta(const char *meta_json)
{
    if (!meta_json)
        return json_object();
    if (!sdra_seal_is_sealed_text(meta_json))
        return json_loads(meta_json, 0, NULL);
    const sdra_seal_ops *seal = sdra_seal_get();
    char *plain = NULL;
    sdra_error e = {0};
    if (!seal || !seal->open_text || seal->open_text(seal->user_data, meta_json, &plain, &e) < 0)
        return NULL;
    json_t *doc = json_loads(plain, 0, NULL);
    sodium_memzero(plain, strlen(plain));
    free(plain);
    return doc;
}

int rights_audit(const sdra_rights_ctx *cx, const char *action, const char *target, const char *detail,
                 sdra_error *err)
{
    sdra_store_audit_entry e = {.at_ms = cx->now_ms};
    sdra_strlcpy(e.org, cx->org ? cx->org : "", sizeof e.org);
    sdra_strlcpy(e.actor, cx->actor && *cx->actor ? cx->actor : "-", sizeof e.actor);
    sdra_strlcpy(e.action, action, sizeof e.action);
    sdra_strlcpy(e.target, target ? target : "", sizeof e.target);
    sdra_strlcpy(e.ip, cx->ip ? cx->ip : "", sizeof e.ip);
    sdra_strlcpy(e.detail, detail ? detail : "", sizeof e.detail);
    sdra_error e2 = {0};
    if (sdra_store_audit_append(cx->store, &e, &e2) < 0) {
        sdra_log(SDRA_LOG_ERROR, "audit log write failed (%s %s): %s", action, e.target, e2.msg);
        return sdra_error_set(err, SDRA_EIO, "audit log write failed (%s): nothing was done", e2.msg);
    }
    return 0;
}

int sdra_rights_record_call(const sdra_rights_ctx *cx, const char *call_id, const sdra_call_info *ci,
                            sdra_error *err)
{
    char token[SDRA_STORE_TOKEN_HEX + 1], pseud[SDRA_STORE_ID_MAX] = "", detail[256];
    int rc;
    if (ci->contact_email) {
        if ((rc = rights_subject(cx, ci->contact_email, token, err)) < 0 ||
            (rc = rights_pseudonym(cx, token, true, pseud, err)) < 0 ||
            (rc = sdra_store_subject_add(cx->store, call_id, cx->org, token, err)) < 0)
            return rc;
    }
    snprintf(detail, sizeof detail, "consent=%s org=%s subject=%s", ci->consent ? ci->consent : "unknown", cx->org,
             pseud[0] ? pseud : "-");
    return rights_audit(cx, "call.consent", call_id, detail, err);
}

bool sdra_rights_consent_ok(const sdra_store_policy *p, const char *consent)
{
    if (!p || !p->require_consent)
        return true;
    return consent && (!strcmp(consent, "obtained") || !strcmp(consent, "not_required"));
}


/* ---- the policy as JSON ---------------------------------------------------------------- */

static const char *const DAY_FIELDS[] = {"audio_days", "transcript_days", "analysis_days",
                                         "email_days", "call_days",       "crm_days"};
#define N_DAY_FIELDS 6

static int *day_field(sdra_store_policy *p, int i)
{
    int *f[N_DAY_FIELDS] = {&p->audio_days, &p->transcript_days, &p->analysis_days,
                            &p->email_days, &p->call_days,       &p->crm_days};
    return f[i];
}

json_t *sdra_retention_policy_to_json(const sdra_store_policy *p)
{
    sdra_store_policy c = *p;
    json_t *o = json_object();
    json_object_set_new(o, "org", json_string(c.org));
    for (int i = 0; i < N_DAY_FIELDS; i++)
        json_object_set_new(o, DAY_FIELDS[i], json_integer(*day_field(&c, i)));
    json_object_set_new(o, "require_consent", json_boolean(c.require_consent));
    json_object_set_new(o, "updated_at", rights_time_json(c.updated_ms));
    return o;
}

int sdra_retention_policy_from_json(sdra_store_policy *p, const json_t *doc, sdra_error *err)
{
    if (!json_is_object(doc))
        return sdra_error_set(err, SDRA_EINVAL, "retention policy: expected a JSON object");
    sdra_store_policy n = *p;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)doc, k, v) {
        int i = 0;
        while (i < N_DAY_FIELDS && strcmp(k, DAY_FIELDS[i]))
            i++;
        if (i < N_DAY_FIELDS) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 36500)
                return sdra_error_set(err, SDRA_EINVAL, "retention policy: %s must be a whole number of days 0..36500 (0 = keep)", k);
            *day_field(&n, i) = (int)json_integer_value(v);
        } else if (!strcmp(k, "require_consent")) {
            if (!json_is_boolean(v))
                return sdra_error_set(err, SDRA_EINVAL, "retention policy: require_consent must be true or false");
            n.require_consent = json_is_true(v);
        } else if (strcmp(k, "org") && strcmp(k, "updated_at")) {
            char name[41];
            sdra_strlcpy(name, k, sizeof name);
            return sdra_error_set(err, SDRA_EINVAL, "retention policy: unknown field '%s'", name);
        }
    }
    *p = n;
    return 0;
}

void sdra_retention_policy_describe(const sdra_store_policy *p, char *out, size_t n)
{
    snprintf(out, n,
             "audio_days=%d transcript_days=%d analysis_days=%d email_days=%d call_days=%d crm_days=%d "
             "require_consent=%d",
             p->audio_days, p->transcript_days, p->analysis_days, p->email_days, p->call_days, p->crm_days,
             p->require_consent);
}

json_t *sdra_rights_counts_to_json(const sdra_rights_counts *c)
{
    return json_pack("{s:i,s:i,s:i,s:i,s:i,s:i}", "calls", c->calls, "crm_rows", c->crm_rows, "outbox", c->outbox,
                     "subject_rows", c->subject_rows, "audio", c->audio, "artifacts", c->artifacts);
}

json_t *rights_time_json(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char buf[40];
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}
