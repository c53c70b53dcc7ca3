/*
 * live.c - live calls (docs/live.md): the WebSocket endpoints /v1/live/twilio (Twilio Media
 * Streams) and /v1/live/pcm (a JSON start message, then s16le frames), short-lived stream
 * tokens (POST /v1/live/tokens), and each call's processing from frames to the follow-up
 * package. This file holds the registry of calls and their lifetime (a reference count each),
 * each call's event list, the tokens, and the public entry points (srv_live_*): the upgrade,
 * which hands the socket to a connection thread (live_conn.c), the routes, the event streams'
 * reader, GET /v1/live/calls, the metrics, start and stop. The decoder thread and the hang-up
 * are live_decode.c's; live_internal.h says which file does what and which thread owns what.
 *
 * Bounds: the events kept per call (LIVE_EVENTS_MAX; the oldest half goes), a finished call's
 * events readable for LIVE_KEEP_S, a token's life (LIVE_TOKEN_MAX_TTL_S at most), the live
 * calls per server (503 before the upgrade; close 1013 at start, live_conn.c).
 */
#include "live_internal.h"

#include "sdra/buf.h"
#include "sdra/log.h"
#include "sdra/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ---- registry -------------------------------------------------------------------------- */

void live_call_free(live_call *c)
{
    for (int i = 0; i < 2; i++) {
        free(c->ch[i].ring);
        free(c->ch[i].pend);
        sdra_asr_destroy(c->ch[i].asr);
    }
    for (size_t i = 0; i < c->n_ev; i++)
        free(c->ev[i].data);
    free(c->ev);
    sdra_crypt_writer_abort(c->raw_cw);
    sdra_crypt_key_destroy(c->dk);
    if (c->raw_fd >= 0)
        close(c->raw_fd);
    if (c->raw_path[0])
        unlink(c->raw_path);
    sdra_call_info_release(&c->ci);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

void live_call_unref(struct srv_live *L, live_call *c)
{
    pthread_mutex_lock(&L->mu);
    bool last = --c->refs == 0;
    pthread_mutex_unlock(&L->mu);
    if (last)
        live_call_free(c);
}

/* The id of the live call callSid of org: the same for a reconnect, distinct across orgs. */
void live_call_id(const char *org, const char *sid, char out[24])
{
    unsigned char h[crypto_generichash_BYTES];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const unsigned char *)"live\0", 5);
    crypto_generichash_update(&st, (const unsigned char *)org, strlen(org) + 1);
    crypto_generichash_update(&st, (const unsigned char *)sid, strlen(sid));
    crypto_generichash_final(&st, h, sizeof h);
    strcpy(out, "live-");
    for (int i = 0; i < 8; i++)
        snprintf(out + 5 + 2 * i, 3, "%02x", h[i]);
}

/* Drops finished calls kept past LIVE_KEEP_S. Under L->mu. */
void live_registry_sweep(struct srv_live *L, double now)
{
    for (live_call **pp = &L->calls; *pp;) {
        live_call *c = *pp;
        pthread_mutex_lock(&c->mu);
        bool old = c->state == L_DONE && now - c->done_at > LIVE_KEEP_S;
        pthread_mutex_unlock(&c->mu);
        if (old) {
            *pp = c->next;
            if (--c->refs == 0)
                live_call_free(c);
            continue;
        }
        pp = &c->next;
    }
}

int live_active_calls(struct srv_live *L)
{
    int n = 0;
    for (live_call *c = L->calls; c; c = c->next) {
        pthread_mutex_lock(&c->mu);
        n += c->state != L_DONE;
        pthread_mutex_unlock(&c->mu);
    }
    return n;
}

/* ---- events ---------------------------------------------------------------------------- */

/* Records an event of the call (c->mu held) and wakes the event streams. */
void live_ev_add(live_call *c, const char *name, json_t *data)
{
    char *d = data ? json_dumps(data, JSON_COMPACT) : NULL;
    if (!d)
        return;
    if (c->n_ev == LIVE_EVENTS_MAX) { /* the oldest half goes; readers see a gap in seq */
        size_t half = LIVE_EVENTS_MAX / 2;
        for (size_t i = 0; i < half; i++)
            free(c->ev[i].data);
        memmove(c->ev, c->ev + half, (c->n_ev - half) * sizeof *c->ev);
        c->n_ev -= half;
    }
    if (c->n_ev == c->cap_ev) {
        size_t cap = c->cap_ev ? c->cap_ev * 2 : 64;
        live_ev *g = realloc(c->ev, cap * sizeof *g);
        if (!g) {
            free(d);
            return;
        }
        c->ev = g;
        c->cap_ev = cap;
    }
    live_ev *e = &c->ev[c->n_ev++];
    e->seq = ++c->ev_seq;
    snprintf(e->name, sizeof e->name, "%s", name);
    e->data = d;
    pthread_cond_broadcast(&c->cv);
}

void live_coach_emit(void *user, const char *event, json_t *data)
{
    live_call *c = user;
    json_t *d = json_deep_copy(data);
    if (!d)
        return;
    pthread_mutex_lock(&c->mu);
    if (!strcmp(event, "metrics")) {
        c->metrics_wall = sdra_clock_s();
        json_object_set_new(d, "lag_s", json_real(c->max_lag_s));
        json_object_set_new(d, "mode", json_string(c->n_fast ? "degraded" : "normal"));
        json_object_set_new(d, "degraded_channels", json_integer(c->n_fast));
    }
    live_ev_add(c, event, d);
    pthread_mutex_unlock(&c->mu);
    json_decref(d);
    if (!strcmp(event, "alert")) {
        char labels[64];
        const char *kind = json_string_value(json_object_get(data, "kind"));
        snprintf(labels, sizeof labels, "kind=\"%.32s\"", kind ? kind : "other");
        sdra_obs_inc(c->s->obs, "sdra_live_alerts_total", labels, 1);
    }
    srv_notify_event(c->s);
}

/* ---- tokens ---------------------------------------------------------------------------- */

static void token_mac(const struct srv_live *L, const char *payload, char hex[65])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256(mac, (const unsigned char *)payload, strlen(payload), L->token_key);
    sodium_bin2hex(hex, 65, mac, sizeof mac);
}

/* "lt1.<org>.<key id>.<expiry, unix s>.<HMAC-SHA256 hex>" */
static int token_make(const struct srv_live *L, const char *org, const char *key_id, long ttl_s, char *out, size_t n,
                      int64_t *exp_out)
{
    int64_t exp = (int64_t)time(NULL) + ttl_s;
    char payload[200], mac[65];
    snprintf(payload, sizeof payload, "lt1.%s.%s.%lld", org, key_id, (long long)exp);
    token_mac(L, payload, mac);
    *exp_out = exp;
    return snprintf(out, n, "%s.%s", payload, mac) < (int)n ? 0 : -1;
}

/* 0 with org and key id when tok is a valid, unexpired token; a one-line reason in why else. */
static int token_check(const struct srv_live *L, const char *tok, char *org, char *key_id, const char **why)
{
    char buf[256];
    if (!tok || strlen(tok) >= sizeof buf) {
        *why = "malformed token";
        return -1;
    }
    if (!strncmp(tok, "sdra_", 5)) {
        *why = "an API key is never accepted in a URL or a stream parameter: issue a token (POST /v1/live/tokens)";
        return -1;
    }
    strcpy(buf, tok);
    char *mac = strrchr(buf, '.');
    if (!mac || strncmp(buf, "lt1.", 4)) {
        *why = "malformed token";
        return -1;
    }
    *mac++ = '\0';
    char want[65];
    token_mac(L, buf, want);
    if (strlen(mac) != 64 || sodium_memcmp(want, mac, 64) != 0) {
        *why = "invalid token";
        return -1;
    }
    char *o = buf + 4, *k = strchr(o, '.'), *e = k ? strchr(k + 1, '.') : NULL;
    if (!k || !e) {
        *why = "malformed token";
        return -1;
    }
    *k++ = '\0';
    *e++ = '\0';
    if (strtoll(e, NULL, 10) < (long long)time(NULL)) {
        *why = "token expired";
        return -1;
    }
    sdra_strlcpy(org, o, SDRA_STORE_ID_MAX);
    sdra_strlcpy(key_id, k, SDRA_STORE_ID_MAX);
    return 0;
}

/* token_check, then the key that issued the token: still in the store, of the same
 * organisation, not revoked. A token dies with its key (checked at every connect, reconnects
 * included); a call already streaming goes on. */
int live_token_auth(struct sdra_server *s, const char *tok, char *org, char *key_id, const char **why)
{
    if (token_check(s->live, tok, org, key_id, why) < 0)
        return -1;
    sdra_store_key k;
    sdra_error err = {0};
    int rc = sdra_store_key_get(s->store, key_id, &k, &err);
    if (rc == SDRA_ENOTFOUND || (rc == 0 && (k.revoked_ms != 0 || strcmp(k.org, org)))) {
        *why = "the token's key was revoked";
        return -1;
    }
    if (rc < 0) {
        sdra_log(SDRA_LOG_WARN, "live token: looking up key %s: %s", key_id, err.msg);
        *why = "the token's key could not be checked; try again";
        return -1;
    }
    return 0;
}

enum MHD_Result srv_live_token(req *r, struct MHD_Connection *c)
{
    struct srv_live *L = r->s->live;
    long ttl = LIVE_TOKEN_MAX_TTL_S;
    if (r->body_too_big)
        return srv_send_error(r, c, 413, "too_large", "request body too large");
    if (r->body && r->body_len) {
        json_error_t je;
        json_t *doc = json_loads(r->body, 0, &je);
        if (!json_is_object(doc)) {
            json_decref(doc);
            return srv_send_error(r, c, 400, "invalid_input", "body: a JSON object expected");
        }
        json_t *t = json_object_get(doc, "ttl_s");
        if (t && (!json_is_integer(t) || json_integer_value(t) < 1 || json_integer_value(t) > LIVE_TOKEN_MAX_TTL_S)) {
            json_decref(doc);
            return srv_send_error(r, c, 400, "invalid_input", "ttl_s: an integer from 1 to %d", LIVE_TOKEN_MAX_TTL_S);
        }
        if (t)
            ttl = (long)json_integer_value(t);
        json_decref(doc);
    }
    char tok[256];
    int64_t exp = 0;
    if (token_make(L, r->key.org, r->key.id, ttl, tok, sizeof tok, &exp) < 0)
        return srv_send_error(r, c, 500, "internal", "token too long");
    if (srv_audit(r, NULL, "live.token", "", NULL) < 0)
        return srv_send_audit_failed(r, c);
    return srv_send_json(r, c, 201, json_pack("{s:s,s:o,s:i}", "token", tok, "expires_at", srv_time_or_null(exp * 1000),
                                              "ttl_s", (int)ttl));
}

/* ---- the upgrade ------------------------------------------------------------------------- */

static void on_upgrade(void *cls, struct MHD_Connection *connection, void *req_cls, const char *extra_in,
                       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    (void)connection;
    (void)req_cls;
    live_conn *k = cls;
    k->fd = sock;
    k->urh = urh;
    if (extra_in_size && (k->extra = malloc(extra_in_size))) {
        memcpy(k->extra, extra_in, extra_in_size);
        k->n_extra = extra_in_size;
    }
    int fl = fcntl(sock, F_GETFL);
    if (fl >= 0)
        fcntl(sock, F_SETFL, fl | O_NONBLOCK);
    struct srv_live *L = k->s->live;
    pthread_t th;
    pthread_mutex_lock(&L->mu);
    L->n_threads++;
    pthread_mutex_unlock(&L->mu);
    if (pthread_create(&th, NULL, live_conn_main, k) != 0) {
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        pthread_mutex_lock(&L->mu);
        L->n_threads--;
        if (k->counted)
            L->n_pending--;
        pthread_mutex_unlock(&L->mu);
        free(k->extra);
        free(k);
        return;
    }
    pthread_detach(th);
}

static bool header_has(struct MHD_Connection *c, const char *name, const char *token)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    if (!v)
        return false;
    size_t n = strlen(token);
    for (const char *p = v; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && t[-1] == ' ')
            t--;
        if ((size_t)(t - p) == n && !strncasecmp(p, token, n))
            return true;
        p = e;
    }
    return false;
}

enum MHD_Result srv_live_upgrade(req *r, struct MHD_Connection *c)
{
    struct sdra_server *s = r->s;
    struct srv_live *L = s->live;
    const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Key");
    const char *ver = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Version");
    if (!header_has(c, "Upgrade", "websocket") || !header_has(c, "Connection", "upgrade"))
        return srv_send_error(r, c, 426, "upgrade_required", "%s is a WebSocket endpoint: send Upgrade: websocket",
                              srv_route_names[r->route]);
    if (!ver || strcmp(ver, "13")) {
        struct MHD_Response *resp = srv_error_response("upgrade_required", "Sec-WebSocket-Version 13 is the one supported");
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, "Sec-WebSocket-Version", "13");
        return srv_queue(r, c, 426, resp);
    }
    if (!sdra_ws_key_valid(key))
        return srv_send_error(r, c, 400, "invalid_input", "Sec-WebSocket-Key: base64 of 16 bytes expected");
    live_conn *k = calloc(1, sizeof *k);
    if (!k)
        return MHD_NO;
    k->s = s;
    k->kind = r->route == R_LIVE_TWILIO ? K_TWILIO : K_PCM;
    k->fd = -1;
    sdra_strlcpy(k->ip, r->ip, sizeof k->ip);
    const char *ev = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "events");
    k->want_events = ev ? !strcmp(ev, "1") || !strcmp(ev, "true") : k->kind == K_PCM;
    const char *rt = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "rep_track");
    sdra_strlcpy(k->rep_track, rt ? rt : s->p.live_rep_track ? s->p.live_rep_track : "outbound", sizeof k->rep_track);
    if (strcmp(k->rep_track, "inbound") && strcmp(k->rep_track, "outbound")) {
        free(k);
        return srv_send_error(r, c, 400, "invalid_input", "rep_track: inbound or outbound");
    }
    if (r->authed) {
        k->authed = true;
        sdra_strlcpy(k->org, r->key.org, sizeof k->org);
        sdra_strlcpy(k->key_id, r->key.id, sizeof k->key_id);
    } else {
        const char *tok = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
        const char *why = NULL;
        if (tok && live_token_auth(s, tok, k->org, k->key_id, &why) < 0) {
            free(k);
            if (srv_audit(r, "-", "auth.fail", "", why) < 0)
                return srv_send_audit_failed(r, c);
            return srv_send_error(r, c, 401, "unauthorized", "%s", why);
        }
        k->authed = tok != NULL;
        /* else the token comes in the start message (Twilio's customParameters) */
    }
    pthread_mutex_lock(&L->mu);
    live_registry_sweep(L, sdra_clock_s());
    int busy = live_active_calls(L) + L->n_pending;
    bool full = busy >= s->p.max_live_calls; /* 0: live calls are off */
    if (!full) {
        L->n_pending++;
        k->counted = true;
    }
    pthread_mutex_unlock(&L->mu);
    if (full) {
        free(k);
        sdra_obs_inc(s->obs, "sdra_live_refused_total", NULL, 1);
        return srv_send_error(r, c, 503, "busy", "the server is at its limit of %d live calls; try again later",
                              s->p.max_live_calls);
    }
    struct MHD_Response *resp = MHD_create_response_for_upgrade(on_upgrade, k);
    if (!resp) {
        pthread_mutex_lock(&L->mu);
        L->n_pending--;
        pthread_mutex_unlock(&L->mu);
        free(k);
        return MHD_NO;
    }
    char accept[29];
    sdra_ws_accept_key(key, accept);
    MHD_add_response_header(resp, "Upgrade", "websocket");
    MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
    return srv_queue(r, c, 101, resp);
}

/* ---- routing ----------------------------------------------------------------------------- */

/* /v1/live/twilio, /v1/live/pcm, /v1/live/tokens, /v1/live/calls, /v1/live/{callSid}/events */
void srv_live_route(req *r, const char *p)
{
    if (!strcmp(p, "twilio"))
        r->route = R_LIVE_TWILIO;
    else if (!strcmp(p, "pcm"))
        r->route = R_LIVE_PCM;
    else if (!strcmp(p, "tokens"))
        r->route = R_LIVE_TOKENS;
    else if (!strcmp(p, "calls"))
        r->route = R_LIVE_CALLS;
    else {
        size_t n = strcspn(p, "/");
        if (n == 0 || n >= sizeof r->live_sid || strcmp(p + n, "/events"))
            return;
        for (size_t i = 0; i < n; i++)
            if (!isalnum((unsigned char)p[i]) && p[i] != '-' && p[i] != '_' && p[i] != '.')
                return;
        memcpy(r->live_sid, p, n);
        r->live_sid[n] = '\0';
        r->route = R_LIVE_EVENTS;
    }
}

/* ---- event streams ----------------------------------------------------------------------- */

bool srv_live_known(struct sdra_server *s, const char *org, const char *call_id)
{
    struct srv_live *L = s->live;
    if (!L)
        return false;
    pthread_mutex_lock(&L->mu);
    live_call *c = L->calls;
    while (c && (strcmp(c->id, call_id) || strcmp(c->org, org)))
        c = c->next;
    pthread_mutex_unlock(&L->mu);
    return c != NULL;
}

void srv_live_call_id(const char *org, const char *call_sid, char out[24])
{
    live_call_id(org, call_sid, out);
}

int srv_live_sse(struct sdra_server *s, const char *org, const char *call_id, unsigned long *seen, sdra_buf *out,
                 unsigned long *n_events)
{
    struct srv_live *L = s->live;
    int done = 0;
    if (!L)
        return 0;
    pthread_mutex_lock(&L->mu);
    live_call *c = L->calls;
    while (c && (strcmp(c->id, call_id) || strcmp(c->org, org)))
        c = c->next;
    if (!c) {
        pthread_mutex_unlock(&L->mu);
        return 0;
    }
    pthread_mutex_lock(&c->mu);
    pthread_mutex_unlock(&L->mu);
    for (size_t i = 0; i < c->n_ev; i++) {
        if (c->ev[i].seq <= *seen)
            continue;
        if (sdra_buf_printf(out, "id: %lu\nevent: %s\ndata: %s\n\n", ++*n_events, c->ev[i].name, c->ev[i].data) < 0)
            break; /* full: the rest on the next read */
        *seen = c->ev[i].seq;
        if (!strcmp(c->ev[i].name, "done"))
            done = 1;
    }
    pthread_mutex_unlock(&c->mu);
    return done;
}

/* GET /v1/live/calls: the organisation's live calls in progress (streaming, awaiting a
 * reconnect, or finishing), newest first; read-only, for the web app's live view. */
enum MHD_Result srv_live_calls(req *r, struct MHD_Connection *c)
{
    static const char *const state_names[] = {"streaming", "reconnecting", "ending", "done"};
    struct srv_live *L = r->s->live;
    json_t *list = json_array();
    if (!list)
        return MHD_NO;
    if (L) {
        pthread_mutex_lock(&L->mu);
        for (live_call *lc = L->calls; lc; lc = lc->next) {
            if (strcmp(lc->org, r->key.org))
                continue;
            pthread_mutex_lock(&lc->mu);
            if (lc->state != L_DONE) {
                const sdra_call_info *ci = &lc->ci;
                double dur = lc->rate_hz > 0 ? (double)lc->ch[0].received / lc->rate_hz : 0;
                json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:f,s:f,s:s*,s:s*,s:s*,s:s*}", "id", lc->id, "call_sid",
                                      lc->sid, "state", state_names[lc->state], "started_at",
                                      srv_time_or_null(lc->started_ms), "duration_s", dur, "lag_s", lc->max_lag_s,
                                      "contact_name", ci->contact_name, "contact_email", ci->contact_email,
                                      "company", ci->company, "rep_name", ci->rep_name);
                if (o)
                    json_array_append_new(list, o);
            }
            pthread_mutex_unlock(&lc->mu);
        }
        pthread_mutex_unlock(&L->mu);
    }
    if (srv_audit(r, NULL, "live.list", "", NULL) < 0) {
        json_decref(list);
        return srv_send_audit_failed(r, c);
    }
    return srv_send_json(r, c, 200, json_pack("{s:o}", "calls", list));
}

/* ---- start and stop ---------------------------------------------------------------------- */

static int token_key_load(struct sdra_server *s, unsigned char *key, sdra_error *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/live-token.key", s->data_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        unsigned char k[crypto_auth_hmacsha256_KEYBYTES];
        randombytes_buf(k, sizeof k);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            int ok = sdra_write_all(fd, k, sizeof k) == 0 && fsync(fd) == 0;
            close(fd);
            if (!ok)
                return sdra_error_set(err, SDRA_EIO, "%s: cannot write the live token key", path);
        } else if (errno != EEXIST) {
            return sdra_error_set(err, SDRA_EIO, "%s: %s", path, strerror(errno));
        }
        fd = open(path, O_RDONLY | O_CLOEXEC); /* ours, or the one another process made first */
    }
    if (fd < 0)
        return sdra_error_set(err, SDRA_EIO, "%s: %s", path, strerror(errno));
    ssize_t n = read(fd, key, crypto_auth_hmacsha256_KEYBYTES);
    close(fd);
    if (n != crypto_auth_hmacsha256_KEYBYTES)
        return sdra_error_set(err, SDRA_EIO, "%s: not a live token key", path);
    return 0;
}

int srv_live_start(struct sdra_server *s, sdra_error *err)
{
    struct srv_live *L = calloc(1, sizeof *L);
    if (!L)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->cv, NULL);
    s->live = L;
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/tmp", s->data_dir);
    int rc = sdra_mkdir_p(tmp, err);
    if (rc == 0)
        rc = token_key_load(s, L->token_key, err);
    /* two channels a call (the fast recognizers of degraded channels share the bound) */
    if (rc == 0)
        rc = sdra_asr_cache_create(&L->decoders, 2 * s->p.max_live_calls, err);
    sdra_obs *m = s->obs;
    static const double lat_bounds[] = {0.25, 0.5, 1, 1.5, 2, 3, 5, 10};
    sdra_obs_define(m, "sdra_live_calls", SDRA_OBS_GAUGE, "Live calls streaming or waiting for a reconnect", NULL, 0);
    sdra_obs_define(m, "sdra_live_lag_seconds", SDRA_OBS_GAUGE,
                    "Audio received and not yet recognized, the largest over live calls", NULL, 0);
    sdra_obs_define(m, "sdra_live_calls_started_total", SDRA_OBS_COUNTER, "Live calls started", NULL, 0);
    sdra_obs_define(m, "sdra_live_calls_total", SDRA_OBS_COUNTER, "Live calls ended, by outcome", NULL, 0);
    sdra_obs_define(m, "sdra_live_refused_total", SDRA_OBS_COUNTER, "Live streams refused at the call limit", NULL, 0);
    sdra_obs_define(m, "sdra_live_closes_total", SDRA_OBS_COUNTER, "Live streams closed by the server, by close code",
                    NULL, 0);
    sdra_obs_define(m, "sdra_live_alerts_total", SDRA_OBS_COUNTER, "Coaching alerts sent, by kind", NULL, 0);
    sdra_obs_define(m, "sdra_live_utterances_total", SDRA_OBS_COUNTER, "Final utterances recognized live", NULL, 0);
    sdra_obs_define(m, "sdra_live_audio_dropped_seconds_total", SDRA_OBS_COUNTER,
                    "Audio left out of recognition because a call's backlog was full (kept in the recording)",
                    NULL, 0);
    sdra_obs_define(m, "sdra_live_degraded_channels", SDRA_OBS_GAUGE,
                    "Channels of live calls recognized with the fast search because they fell behind", NULL, 0);
    sdra_obs_define(m, "sdra_live_search_switches_total", SDRA_OBS_COUNTER,
                    "Live channels switched to the fast search or back, by direction", NULL, 0);
    sdra_obs_define(m, "sdra_live_decoder_loads_total", SDRA_OBS_COUNTER,
                    "Recognizers loaded for live calls (the rest came from the idle cache)", NULL, 0);
    sdra_obs_define(m, "sdra_live_decoder_reuses_total", SDRA_OBS_COUNTER,
                    "Live-call recognizers taken from the idle cache instead of loaded", NULL, 0);
    sdra_obs_define(m, "sdra_live_utterance_latency_seconds", SDRA_OBS_HISTOGRAM,
                    "From the end of an utterance's audio arriving to its utterance event", lat_bounds,
                    (int)(sizeof lat_bounds / sizeof lat_bounds[0]));
    return rc;
}

void srv_live_metrics(struct sdra_server *s)
{
    struct srv_live *L = s->live;
    if (!L)
        return;
    int n = 0, fast = 0;
    double lag = 0;
    pthread_mutex_lock(&L->mu);
    for (live_call *c = L->calls; c; c = c->next) {
        pthread_mutex_lock(&c->mu);
        fast += c->n_fast;
        if (c->state != L_DONE) {
            n++;
            if (c->max_lag_s > lag)
                lag = c->max_lag_s;
        }
        pthread_mutex_unlock(&c->mu);
    }
    pthread_mutex_unlock(&L->mu);
    sdra_obs_set(s->obs, "sdra_live_calls", NULL, n);
    sdra_obs_set(s->obs, "sdra_live_lag_seconds", NULL, lag);
    sdra_obs_set(s->obs, "sdra_live_degraded_channels", NULL, fast);
    long loads = 0, reuses = 0;
    pthread_mutex_lock(&L->mu); /* counters only grow: the cache's new counts are added */
    if (L->decoders)
        sdra_asr_cache_counts(L->decoders, &loads, &reuses, NULL);
    sdra_obs_inc(s->obs, "sdra_live_decoder_loads_total", NULL, (double)(loads - L->loads_seen));
    sdra_obs_inc(s->obs, "sdra_live_decoder_reuses_total", NULL, (double)(reuses - L->reuses_seen));
    L->loads_seen = loads;
    L->reuses_seen = reuses;
    pthread_mutex_unlock(&L->mu);
}

/* With s->stopping set: connections close (1001), calls end with what they received and are
 * stored, then every thread is waited for. */
void srv_live_stop(struct sdra_server *s)
{
    struct srv_live *L = s->live;
    if (!L)
        return;
    pthread_mutex_lock(&L->mu);
    for (live_call *c = L->calls; c; c = c->next) {
        pthread_mutex_lock(&c->mu);
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
    while (L->n_threads > 0)
        pthread_cond_wait(&L->cv, &L->mu);
    while (L->calls) {
        live_call *c = L->calls;
        L->calls = c->next;
        if (--c->refs == 0)
            live_call_free(c);
    }
    pthread_mutex_unlock(&L->mu);
    pthread_mutex_destroy(&L->mu);
    pthread_cond_destroy(&L->cv);
    sdra_asr_cache_destroy(L->decoders);
    sodium_memzero(L->token_key, sizeof L->token_key);
    free(L);
    s->live = NULL;
}
