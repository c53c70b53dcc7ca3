/*
 * upload.c - POST /v1/calls: admission, the body (raw audio or multipart/form-data through
 * MHD's post processor, which must be complete: closing boundary, one part per field, no NULs)
 * streamed to a temporary file, the metadata fields, then srv_call_submit (server.c) stores
 * and queues the call and this file answers.
 */
#include "internal.h"

#include "sdra/audio.h"
#include "sdra/call.h"
#include "sdra/crm.h"
#include "sdra/log.h"
#include "sdra/outbox.h"
#include "sdra/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- uploads -------------------------------------------------------------------------- */

static void upload_fail(req *r, int status, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void upload_fail(req *r, int status, int code, const char *fmt, ...)
{
    if (r->fail_status)
        return;
    r->fail_status = status;
    r->fail.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->fail.msg, sizeof r->fail.msg, fmt, ap);
    va_end(ap);
}

static void upload_write(req *r, const char *data, size_t n)
{
    if (r->fail_status)
        return;
    if (r->bytes + n > r->s->p.max_upload_bytes) {
        upload_fail(r, 413, SDRA_ELIMIT, "audio larger than the limit of %zu bytes", r->s->p.max_upload_bytes);
        return;
    }
    if (r->head_n < sizeof r->head) { /* the sniffer's bytes, before any encryption */
        size_t k = sizeof r->head - r->head_n < n ? sizeof r->head - r->head_n : n;
        memcpy(r->head + r->head_n, data, k);
        r->head_n += k;
    }
    if (r->cw) { /* encrypted as it arrives: no plaintext on disk, one chunk in memory */
        sdra_error e = {0};
        if (sdra_crypt_writer_write(r->cw, data, n, &e) < 0) {
            upload_fail(r, 500, SDRA_EIO, "storing the upload failed: %s", e.msg);
            return;
        }
        r->bytes += n;
        return;
    }
    while (n > 0) {
        ssize_t w = write(r->fd, data, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            upload_fail(r, errno == ENOSPC ? 507 : 500, SDRA_EIO, "storing the upload failed: %s", strerror(errno));
            return;
        }
        data += w;
        n -= (size_t)w;
        r->bytes += (size_t)w;
    }
}

static int meta_index(const char *key)
{
    for (int i = 0; i < N_META; i++)
        if (!strcmp(key, srv_meta_fields[i]))
            return i;
    return -1;
}

static enum MHD_Result post_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                                 const char *content_type, const char *transfer_encoding, const char *data,
                                 uint64_t off, size_t size)
{
    (void)kind;
    (void)transfer_encoding;
    req *r = cls;
    if (r->fail_status)
        return MHD_YES;
    if (!key)
        return MHD_YES;
    int i = !strcmp(key, "audio") ? N_META : meta_index(key);
    if (i < 0) {
        char k[41];
        size_t n = 0;
        for (; key[n] && n < 40; n++)
            k[n] = isprint((unsigned char)key[n]) ? key[n] : '?';
        k[n] = '\0';
        upload_fail(r, 400, SDRA_EINVAL, "unknown form field '%s' (expected audio and call metadata)", k);
        return MHD_YES;
    }
    /* MHD gives a part's value in pieces at growing offsets: a piece of another field, or one
     * at offset 0 after a non-empty piece, starts a new part. Each field may come once (a
     * second part would be appended to the first). */
    if (i != r->part_field || (off == 0 && r->part_end > 0)) {
        if (++r->parts[i] > 1) {
            upload_fail(r, 400, SDRA_EINVAL, "form field %s given more than once", i == N_META ? "audio" : key);
            return MHD_YES;
        }
        r->part_field = i;
    }
    r->part_end = off + size;
    if (i == N_META) {
        if (off == 0 && !r->got_audio_field)
            r->got_audio_field = true;
        upload_write(r, data, size);
        return MHD_YES;
    }
    if (size && memchr(data, '\0', size)) {
        upload_fail(r, 400, SDRA_EINVAL, "form field %s contains a NUL byte", key);
        return MHD_YES;
    }
    if (off == 0 && !r->meta_seen[i]) { /* a form field replaces the query parameter */
        r->meta_seen[i] = true;
        r->meta[i][0] = '\0';
    }
    size_t have = strlen(r->meta[i]);
    if (off + size >= FIELD_MAX || have + size >= FIELD_MAX) {
        upload_fail(r, 400, SDRA_EINVAL, "form field %s longer than %d bytes", key, FIELD_MAX - 1);
        return MHD_YES;
    }
    memcpy(r->meta[i] + have, data, size);
    r->meta[i][have + size] = '\0';
    r->meta_set[i] = true;
    return MHD_YES;
}

/* The key's organisation over a quota with more_bytes of new audio: 429 quota_active (calls
 * in flight; Retry-After) or 507 quota_storage (audio + artifacts). *answered false when
 * neither (the org's figures could not be read: admitted here, the store checks again). */
static enum MHD_Result org_quota_refuse(req *r, struct MHD_Connection *c, int64_t more_bytes, bool *answered)
{
    sdra_store_org o;
    *answered = false;
    if (sdra_store_org_get(r->s->store, r->key.org, &o, NULL) < 0)
        return MHD_YES;
    *answered = true;
    if (o.max_active > 0 && o.n_active >= o.max_active)
        return srv_send_error(r, c, 429, "quota_active",
                              "organisation %s has %d calls queued or running, its quota; retry when one is done",
                              o.name, o.n_active);
    if (o.max_storage_bytes > 0 && o.storage_bytes + more_bytes > o.max_storage_bytes)
        return srv_send_error(r, c, 507, "quota_storage",
                              "organisation %s stores %lld bytes of its %lld-byte quota; this upload does not fit: "
                              "erase calls or raise the quota",
                              o.name, (long long)o.storage_bytes, (long long)o.max_storage_bytes);
    *answered = false;
    return MHD_YES;
}

/* First call of POST /v1/calls: admission (backpressure, size, type), temp file, parser. */
enum MHD_Result srv_upload_begin(req *r, struct MHD_Connection *c)
{
    struct sdra_server *s = r->s;
    int active = 0;
    sdra_error err = {0};
    if (sdra_store_count_active(s->store, NULL, &active, &err) < 0)
        return srv_send_error(r, c, 503, "unavailable", "job store busy: %s", err.msg);
    if (s->p.max_active_calls > 0 && active >= s->p.max_active_calls)
        return srv_send_error(r, c, 503, "unavailable", "queue full: %d calls queued or running; retry later", active);
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > s->p.max_upload_bytes)
        return srv_send_error(r, c, 413, "limit_exceeded", "audio larger than the limit of %zu bytes", s->p.max_upload_bytes);
    bool refused = false;
    enum MHD_Result qr = org_quota_refuse(r, c, cl ? (int64_t)strtoull(cl, NULL, 10) : 0, &refused);
    if (refused)
        return qr;
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (!ct)
        return srv_send_error(r, c, 415, "unsupported", "missing Content-Type: send audio/* or multipart/form-data");
    bool multipart = !strncasecmp(ct, "multipart/form-data", 19);
    if (!multipart && strncasecmp(ct, "audio/", 6) && strncasecmp(ct, "application/octet-stream", 24))
        return srv_send_error(r, c, 415, "unsupported", "Content-Type %.60s: send audio/* or multipart/form-data", ct);
    for (int i = 0; i < N_META; i++) {
        const char *v = NULL;
        size_t vlen = 0;
        if (MHD_lookup_connection_value_n(c, MHD_GET_ARGUMENT_KIND, srv_meta_fields[i], strlen(srv_meta_fields[i]),
                                          &v, &vlen) != MHD_YES)
            v = NULL;
        if (v && memchr(v, '\0', vlen))
            return srv_send_error(r, c, 400, "invalid_input", "%s contains a NUL byte", srv_meta_fields[i]);
        if (v) {
            if (strlen(v) >= FIELD_MAX)
                return srv_send_error(r, c, 400, "invalid_input", "%s longer than %d bytes", srv_meta_fields[i], FIELD_MAX - 1);
            sdra_strlcpy(r->meta[i], v, FIELD_MAX);
            r->meta_set[i] = true;
        }
    }
    if (multipart) {
        r->pp = MHD_create_post_processor(c, PP_BUFFER, post_iter, r);
        if (!r->pp)
            return srv_send_error(r, c, 400, "invalid_input", "multipart/form-data without a usable boundary");
    }
    snprintf(r->tmp_path, sizeof r->tmp_path, "%s/tmp/upload-XXXXXX", s->data_dir);
    r->fd = mkstemp(r->tmp_path);
    if (r->fd < 0) {
        r->tmp_path[0] = '\0';
        return srv_send_error(r, c, 500, "io_error", "cannot store the upload: %s", strerror(errno));
    }
    if (s->kr) {
        srv_call_id_make(r->key.id, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key"), r->new_id);
        if (sdra_crypt_key_generate(&r->dk, r->new_id, &err) < 0 ||
            sdra_crypt_writer_open(&r->cw, r->fd, r->dk, NULL, &err) < 0)
            return srv_send_error(r, c, 500, "internal", "cannot encrypt the upload: %s", err.msg);
    }
    r->upload = true;
    return MHD_YES;
}

void srv_upload_feed(req *r, const char *data, size_t n)
{
    if (r->fail_status)
        return;
    if (r->pp) {
        if (MHD_post_process(r->pp, data, n) != MHD_YES)
            upload_fail(r, 400, SDRA_EINVAL, "malformed multipart/form-data body");
    } else {
        upload_write(r, data, n);
    }
}

enum MHD_Result srv_upload_finish(req *r, struct MHD_Connection *c)
{
    struct sdra_server *s = r->s;
    sdra_call_info ci = {0};
    sdra_error err = {0};
    char audio[32];
    enum MHD_Result ret;
    bool form_complete = true;
    if (r->pp) {
        form_complete = MHD_destroy_post_processor(r->pp) == MHD_YES;
        r->pp = NULL;
    }
    if (r->fail_status) {
        ret = srv_send_error(r, c, r->fail_status, sdra_code_name(r->fail.code), "%s", r->fail.msg);
        goto done;
    }
    if (!form_complete) {
        ret = srv_send_error(r, c, 400, "invalid_input",
                             "multipart/form-data body ends without its closing boundary (truncated?)");
        goto done;
    }
    if (r->bytes == 0) {
        ret = srv_send_error(r, c, 400, "invalid_input",
                         "no audio: send it as the body (Content-Type: audio/...) or in the form field 'audio'");
        goto done;
    }
    for (int i = 0; i < N_META; i++)
        if (r->meta_set[i] && r->meta[i][0] && sdra_call_info_set(&ci, srv_meta_fields[i], r->meta[i], &err) < 0) {
            ret = srv_send_error(r, c, 400, "invalid_input", "%s", err.msg);
            goto done;
        }
    /* the SSRF rule at the door too (it is checked again, and the address pinned, when sent) */
    if (ci.callback_url &&
        sdra_outbox_check_target(ci.callback_url, s->p.outbox && s->p.outbox->allow_private_targets, &err) < 0) {
        ret = srv_send_error(r, c, 400, "invalid_input", "callback_url: %s", err.msg);
        goto done;
    }
    if (!ci.call_date) {
        char today[11];
        sdra_date_today(today);
        sdra_call_info_set(&ci, "call_date", today, NULL);
    }
    if (r->cw) {
        sdra_crypt_writer *cw = r->cw;
        r->cw = NULL;
        if (sdra_crypt_writer_close(cw, &err) < 0) {
            ret = srv_send_error(r, c, 500, "io_error", "storing the upload failed: %s", err.msg);
            goto done;
        }
    }
    if (!ci.consent)
        sdra_call_info_set(&ci, "consent", "unknown", NULL);
    if (srv_consent_check(r, c, &ci, &ret) != 0)
        goto done;
    if (fdatasync(r->fd) != 0) {
        ret = srv_send_error(r, c, 500, "io_error", "storing the upload failed: %s", strerror(errno));
        goto done;
    }
    const char *ik = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
    if (ik) {
        size_t n = strlen(ik);
        bool ok = n >= 1 && n <= 128;
        for (size_t i = 0; ok && i < n; i++)
            ok = ik[i] > 32 && ik[i] < 127;
        if (!ok) {
            ret = srv_send_error(r, c, 400, "invalid_input", "Idempotency-Key: 1-128 printable characters, no spaces");
            goto done;
        }
    }
    /* the stored name comes from the content, never the client's file name or type; a
     * playlist is refused here (security review, finding 1; the decoder refuses it too) */
    unsigned char head[SDRA_AUDIO_SNIFF_BYTES];
    ssize_t head_n = r->dk ? (ssize_t)r->head_n : pread(r->fd, head, sizeof head, 0);
    if (r->dk)
        memcpy(head, r->head, r->head_n);
    const char *ext = NULL;
    if (head_n > 0 && sdra_audio_sniff(head, (size_t)head_n, &ext, &err) < 0) {
        ret = srv_send_error(r, c, 415, "unsupported", "%s", err.msg);
        goto done;
    }
    snprintf(audio, sizeof audio, "audio.%s", ext ? ext : "bin");
    srv_submit_answer ans;
    int rc = srv_call_submit(s, r->key.org, r->key.id, r->ip, ik, r->started_ms, r->tmp_path, audio, r->bytes, &ci,
                             r->dk, &ans, &err);
    if (rc == SDRA_ELIMIT) { /* the organisation's quota, or the server's queue */
        bool refused = false;
        enum MHD_Result qr = org_quota_refuse(r, c, (int64_t)r->bytes, &refused);
        if (refused) {
            ret = qr;
            goto done;
        }
        ret = srv_send_error(r, c, 503, "unavailable", "%s; retry later", err.msg);
        goto done;
    }
    if (rc < 0) {
        ret = srv_send_sdra_error(r, c, &err);
        goto done;
    }
    /* the same answer for the upload that created the call and for every retry of it */
    char loc[96], ev[112];
    snprintf(loc, sizeof loc, "/v1/calls/%s", ans.id);
    snprintf(ev, sizeof ev, "%s/events", loc);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:o}", "id", ans.id, "status", ans.status, "url", loc, "events", ev,
                          "links", srv_call_links(ans.id));
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    struct MHD_Response *resp = body ? MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!resp) {
        free(body);
        ret = MHD_NO;
        goto done;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Location", loc);
    ret = srv_queue(r, c, ans.http_status, resp);
done:
    sdra_call_info_release(&ci);
    return ret;
}
