/*
 * live_conn.c - a live call's WebSocket connection (docs/live.md): MHD hands each upgraded
 * connection's socket to a connection thread (live_conn_main), which alone reads and writes
 * it: it parses frames (sdra/ws.h), speaks the stream's protocol (Twilio Media Streams: JSON
 * messages with base64 mu-law, one track per party; PCM: a JSON start message, then s16le
 * frames), turns media into PCM per channel for the call (live_call_audio, live_decode.c), and
 * sends the call's new events back when the client asked for them. The start message
 * authenticates when the upgrade carried no credentials, is checked against the
 * organisation's consent policy, and starts the call with its decoder thread, or continues it
 * for a reconnect with the same callSid. A connection that drops leaves the call waiting
 * grace_s for that reconnect; after `stop` the connection waits for the stored call's `done`
 * event before it closes.
 *
 * Bounds: the message size (LIVE_MSG_MAX), the live calls per server (close 1013 at start),
 * 10 s for the start message, LIVE_LINGER_S and LIVE_LINGER_BYTES after our close.
 */
#include "live_internal.h"

#include "sdra/log.h"
#include "sdra/rights.h"
#include "sdra/util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* ---- connections ----------------------------------------------------------------------- */

static int send_frame(live_conn *k, int op, const void *data, size_t n)
{
    uint8_t h[14];
    size_t hn = sdra_ws_frame_header(h, op, true, n, NULL);
    struct {
        const void *b;
        size_t n;
    } parts[2] = {{h, hn}, {data, n}};
    for (int i = 0; i < 2; i++) {
        const char *b = parts[i].b;
        size_t left = parts[i].n;
        while (left) {
            ssize_t w = send(k->fd, b, left, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                struct pollfd pf = {.fd = k->fd, .events = POLLOUT};
                if (poll(&pf, 1, 5000) <= 0)
                    return -1; /* a client that does not read is cut */
                continue;
            }
            if (w <= 0)
                return -1;
            b += w;
            left -= (size_t)w;
        }
    }
    return 0;
}

/* After our close frame: our side of the socket is shut, and what the client still sends
 * (the rest of an oversized message, its media, its own close frame) is read and dropped until
 * it closes, for at most LIVE_LINGER_S or LIVE_LINGER_BYTES. Closing on unread bytes sends a
 * reset, which can destroy the close frame before the client reads it (RFC 6455 7.1.1: the
 * client closes its side once it has the close). */
static void linger(live_conn *k)
{
    if (shutdown(k->fd, SHUT_WR) != 0)
        return;
    double t0 = sdra_clock_s();
    size_t total = 0;
    char buf[16384];
    for (;;) {
        double left = LIVE_LINGER_S - (sdra_clock_s() - t0);
        if (left <= 0 || total >= LIVE_LINGER_BYTES)
            return;
        struct pollfd pf = {.fd = k->fd, .events = POLLIN};
        int pr = poll(&pf, 1, (int)(left * 1000) + 1);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return;
        ssize_t n = recv(k->fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        total += (size_t)n;
    }
}

static void send_close(live_conn *k, int code, const char *reason)
{
    uint8_t pl[125];
    size_t n = sdra_ws_close_payload(pl, code, reason);
    send_frame(k, SDRA_WS_CLOSE, pl, n);
    char labels[32];
    snprintf(labels, sizeof labels, "code=\"%d\"", code);
    sdra_obs_inc(k->s->obs, "sdra_live_closes_total", labels, 1);
    if (code != SDRA_WS_NORMAL && code != SDRA_WS_GOING_AWAY)
        sdra_log(SDRA_LOG_INFO, "live: closing a stream with %d: %s", code, reason);
}

/* Sends the call's events after sent_seq (when the client wants them). */
static int send_events(live_conn *k)
{
    live_call *c = k->call;
    if (!c || !k->want_events)
        return 0;
    for (;;) {
        char *msg = NULL;
        pthread_mutex_lock(&c->mu);
        for (size_t i = 0; i < c->n_ev; i++)
            if (c->ev[i].seq > k->sent_seq) {
                size_t n = strlen(c->ev[i].data) + 64;
                if ((msg = malloc(n)))
                    snprintf(msg, n, "{\"event\":\"%s\",\"seq\":%lu,\"data\":%s}", c->ev[i].name, c->ev[i].seq,
                             c->ev[i].data);
                k->sent_seq = c->ev[i].seq;
                break;
            }
        pthread_mutex_unlock(&c->mu);
        if (!msg)
            return 0;
        int rc = send_frame(k, SDRA_WS_TEXT, msg, strlen(msg));
        free(msg);
        if (rc < 0)
            return -1;
    }
}

static void detach(live_conn *k)
{
    live_call *c = k->call;
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->attached = false;
    if (c->state == L_STREAMING) {
        if (k->stop) {
            c->state = L_ENDING;
            c->stop_at = sdra_clock_s();
        } else {
            c->state = L_DETACHED; /* a reconnect within the grace period continues it */
            c->detached_at = sdra_clock_s();
        }
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    live_call_unref(k->s->live, c);
    k->call = NULL;
}

/* Sets a call-sheet field from a stream parameter; false (with why) when the value is bad. */
static bool sheet_set(sdra_call_info *ci, const char *name, json_t *v, char *why, size_t n)
{
    static const struct { const char *param, *field; } map[] = {
        {"contact_email", "contact_email"}, {"contactEmail", "contact_email"}, {"contact_name", "contact_name"},
        {"contactName", "contact_name"},    {"company", "company"},           {"rep_name", "rep_name"},
        {"repName", "rep_name"},            {"rep", "rep_name"},              {"rep_email", "rep_email"},
        {"repEmail", "rep_email"},          {"rep_company", "rep_company"},   {"call_date", "call_date"},
        {"style", "style"},                 {"direction", "direction"},       {"consent", "consent"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(name, map[i].param))
            continue;
        if (!json_is_string(v)) {
            snprintf(why, n, "%s: a string expected", name);
            return false;
        }
        sdra_error e = {0};
        if (sdra_call_info_set(ci, map[i].field, json_string_value(v), &e) < 0) {
            snprintf(why, n, "%.40s: %.110s", name, e.msg);
            return false;
        }
        return true;
    }
    return true; /* other parameters are the caller's own */
}

/* The organisation's consent policy (as for an upload, privacy.c): a call it may not process
 * is refused at start (policy close, audited "call.refused") before any audio is kept. The
 * consent comes from the stream's parameters ("consent"); none is "unknown". 0, or a close
 * code with why. */
static int consent_refused(live_conn *k, json_t *params, char *why, size_t wn)
{
    sdra_store_policy p;
    sdra_error err = {0};
    if (sdra_store_policy_get(k->s->store, k->org, &p, &err) < 0) {
        snprintf(why, wn, "the organisation's policy could not be read: %.80s", err.msg);
        return SDRA_WS_INTERNAL;
    }
    const char *consent = json_string_value(json_object_get(params, "consent"));
    if (sdra_rights_consent_ok(&p, consent))
        return 0;
    char detail[160];
    snprintf(detail, sizeof detail, "live call: consent=%.20s org=%.40s: refused, the policy requires consent",
             consent ? consent : "unknown", p.org);
    if (srv_audit_write_org(k->s, k->org, k->key_id, k->ip, "call.refused", "", detail, &err) < 0) {
        snprintf(why, wn, "the audit trail could not be written");
        return SDRA_WS_INTERNAL;
    }
    snprintf(why, wn, "consent_required: organisation %.24s needs consent=obtained or not_required (got %.12s)",
             p.org, consent ? consent : "unknown");
    return SDRA_WS_POLICY;
}

/* n samples of silence on channel ch (a gap in a track, or a track behind at a reconnect). */
static int pad_silence(live_call *c, int ch, int64_t n)
{
    static const int16_t zeros[800];
    while (n > 0) {
        size_t z = n > 800 ? 800 : (size_t)n;
        if (live_call_audio(c, ch, zeros, z) < 0)
            return -1;
        n -= (int64_t)z;
    }
    return 0;
}

/* Starts (or, for a known callSid, continues) the call. 0, or a close code with why. */
static int attach(live_conn *k, const char *sid, int rate, int n_ch, int rep_ch, json_t *params, char *why, size_t wn)
{
    struct sdra_server *s = k->s;
    struct srv_live *L = s->live;
    char id[24];
    live_call_id(k->org, sid, id);
    int refused = consent_refused(k, params, why, wn); /* before the registry's lock: a store read */
    if (refused)
        return refused;
    pthread_mutex_lock(&L->mu);
    live_registry_sweep(L, sdra_clock_s());
    live_call *c = L->calls;
    while (c && strcmp(c->id, id))
        c = c->next;
    if (c) {
        int64_t pad[2] = {0, 0};
        pthread_mutex_lock(&c->mu);
        int st = c->state;
        bool same = c->rate_hz == rate && c->n_ch == n_ch;
        if (st == L_DETACHED && same) {
            c->state = L_STREAMING;
            c->attached = true;
            c->reconnects++;
            /* the tracks start again together: one that lost more at the drop (its last
             * messages, or a message of one track without the other's) is padded with silence
             * up to the other, or it would stay behind for the rest of the call */
            int64_t top = 0;
            for (int i = 0; i < c->n_ch; i++)
                top = c->ch[i].received > top ? c->ch[i].received : top;
            for (int i = 0; i < c->n_ch; i++) {
                pad[i] = top - c->ch[i].received;
                k->ts_base[i] = top;
            }
        }
        pthread_mutex_unlock(&c->mu);
        if (st != L_DETACHED || !same) {
            pthread_mutex_unlock(&L->mu);
            snprintf(why, wn, "%s", st == L_STREAMING ? "this call is already streaming on another connection"
                                    : !same && st == L_DETACHED ? "a reconnect must keep the call's audio format"
                                                               : "this call has ended");
            return SDRA_WS_POLICY;
        }
        c->refs++;
        k->call = c;
        if (k->counted) {
            L->n_pending--;
            k->counted = false;
        }
        pthread_mutex_unlock(&L->mu);
        for (int i = 0; i < c->n_ch; i++)
            if (pad_silence(c, i, pad[i]) < 0) {
                snprintf(why, wn, "out of memory");
                return SDRA_WS_INTERNAL;
            }
        sdra_log_ctx lc = {.call_id = id, .duration_ms = -1};
        if (pad[0] || pad[1]) /* what the drop cost one track more than the other */
            sdra_logc(SDRA_LOG_INFO, &lc, "live call reconnected (track %d padded with %.3f s of silence)",
                      pad[0] ? 1 : 2, (double)(pad[0] ? pad[0] : pad[1]) / c->rate_hz);
        else
            sdra_logc(SDRA_LOG_INFO, &lc, "live call reconnected");
        return 0;
    }
    if (live_active_calls(L) >= s->p.max_live_calls) {
        pthread_mutex_unlock(&L->mu);
        snprintf(why, wn, "the server is at its limit of %d live calls; try again later", s->p.max_live_calls);
        return SDRA_WS_TRY_AGAIN;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        pthread_mutex_unlock(&L->mu);
        snprintf(why, wn, "out of memory");
        return SDRA_WS_INTERNAL;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->raw_fd = -1;
    c->s = s;
    sdra_strlcpy(c->id, id, sizeof c->id);
    sdra_strlcpy(c->sid, sid, sizeof c->sid);
    sdra_strlcpy(c->org, k->org, sizeof c->org);
    sdra_strlcpy(c->key_id, k->key_id, sizeof c->key_id);
    sdra_strlcpy(c->ip, k->ip, sizeof c->ip);
    c->kind = k->kind;
    c->rate_hz = rate;
    c->n_ch = n_ch;
    c->rep_ch = rep_ch;
    c->started_ms = sdra_store_now_ms();
    int code = 0;
    const char *key;
    json_t *v;
    json_object_foreach(params, key, v) {
        if (!sheet_set(&c->ci, key, v, why, wn)) {
            code = SDRA_WS_BAD_DATA;
            break;
        }
    }
    size_t cap = (size_t)(s->p.live_backlog_s > 0 ? s->p.live_backlog_s : 30) * (size_t)rate;
    for (int i = 0; code == 0 && i < n_ch; i++)
        if (!(c->ch[i].ring = malloc(cap * sizeof(int16_t)))) {
            snprintf(why, wn, "out of memory");
            code = SDRA_WS_INTERNAL;
        } else
            c->ch[i].cap = cap;
    if (code == 0) {
        snprintf(c->raw_path, sizeof c->raw_path, "%s/tmp/live-raw-XXXXXX", s->data_dir);
        if ((c->raw_fd = mkstemp(c->raw_path)) < 0) {
            c->raw_path[0] = '\0';
            snprintf(why, wn, "cannot store the recording");
            code = SDRA_WS_INTERNAL;
        } else if (s->kr) { /* encrypted as it arrives, under the call's key */
            sdra_error e = {0};
            if (sdra_crypt_key_generate(&c->dk, id, &e) < 0 ||
                sdra_crypt_writer_open(&c->raw_cw, c->raw_fd, c->dk, NULL, &e) < 0) {
                snprintf(why, wn, "cannot encrypt the recording");
                code = SDRA_WS_INTERNAL;
            }
        }
    }
    c->state = L_STREAMING;
    c->attached = true;
    c->refs = 3; /* the registry, the decoder, this connection */
    if (code == 0 && pthread_create(&c->dec, NULL, live_dec_main, c) != 0) {
        snprintf(why, wn, "cannot start the decoder");
        code = SDRA_WS_INTERNAL;
    }
    if (code) {
        pthread_mutex_unlock(&L->mu);
        live_call_free(c);
        return code;
    }
    pthread_detach(c->dec);
    L->n_threads++;
    c->next = L->calls;
    L->calls = c;
    k->call = c;
    if (k->counted) {
        L->n_pending--;
        k->counted = false;
    }
    pthread_mutex_unlock(&L->mu);
    sdra_obs_inc(s->obs, "sdra_live_calls_started_total", NULL, 1);
    sdra_log_ctx lc = {.call_id = id, .duration_ms = -1};
    sdra_logc(SDRA_LOG_INFO, &lc, "live call started (%s, %d Hz, %d channel%s)", k->kind == K_TWILIO ? "twilio" : "pcm",
              rate, n_ch, n_ch > 1 ? "s" : "");
    return 0;
}

/* Authenticates from a stream parameter when the upgrade carried no credentials. */
static int param_auth(live_conn *k, const char *tok, char *why, size_t wn)
{
    if (k->authed)
        return 0;
    const char *reason = "missing credentials: an Authorization header, ?token= or a token parameter";
    if (tok && live_token_auth(k->s, tok, k->org, k->key_id, &reason) == 0) {
        k->authed = true;
        return 0;
    }
    snprintf(why, wn, "%s", reason);
    sdra_error e = {0};
    srv_audit_write(k->s, "-", k->ip, "auth.fail", "", "live stream: bad or missing token", &e);
    return SDRA_WS_POLICY;
}

static int twilio_start(live_conn *k, json_t *msg, char *why, size_t wn)
{
    json_t *st = json_object_get(msg, "start");
    const char *sid = json_string_value(json_object_get(st, "callSid"));
    json_t *fmt = json_object_get(st, "mediaFormat"), *params = json_object_get(st, "customParameters");
    if (!json_is_object(st) || !sid || !*sid || strlen(sid) >= LIVE_SID_MAX) {
        snprintf(why, wn, "start: callSid missing or too long");
        return SDRA_WS_BAD_DATA;
    }
    if (params && !json_is_object(params)) {
        snprintf(why, wn, "start: customParameters must be an object");
        return SDRA_WS_BAD_DATA;
    }
    int code = param_auth(k, json_string_value(json_object_get(params, "token")), why, wn);
    if (code)
        return code;
    const char *enc = json_string_value(json_object_get(fmt, "encoding"));
    json_t *rate = json_object_get(fmt, "sampleRate"), *chn = json_object_get(fmt, "channels");
    if (fmt && ((enc && strcasecmp(enc, "audio/x-mulaw")) || (rate && json_integer_value(rate) != 8000) ||
                (chn && json_integer_value(chn) != 1))) {
        snprintf(why, wn, "mediaFormat: only audio/x-mulaw, 8000 Hz, 1 channel per track");
        return SDRA_WS_UNSUPPORTED;
    }
    json_t *tracks = json_object_get(st, "tracks");
    int n_ch = 1;
    size_t i;
    json_t *tv;
    json_array_foreach(tracks, i, tv)
    {
        const char *tn = json_string_value(tv);
        if (tn && (!strcmp(tn, "outbound") || !strcmp(tn, "both_tracks")))
            n_ch = 2;
    }
    const char *rt = json_string_value(json_object_get(params, "rep_track"));
    if (!rt)
        rt = k->rep_track;
    int rep_ch = n_ch == 2 ? (!strcmp(rt, "inbound") ? 0 : 1) : -1;
    return attach(k, sid, 8000, n_ch, rep_ch, params, why, wn);
}

static int16_t mulaw_decode(uint8_t u)
{
    u = (uint8_t)~u;
    int t = ((u & 0x0f) << 3) + 0x84;
    t <<= (u & 0x70) >> 4;
    return (int16_t)((u & 0x80) ? 0x84 - t : t - 0x84);
}

static int twilio_media(live_conn *k, json_t *msg, char *why, size_t wn)
{
    live_call *c = k->call;
    json_t *m = json_object_get(msg, "media");
    const char *track = json_string_value(json_object_get(m, "track"));
    const char *payload = json_string_value(json_object_get(m, "payload"));
    if (!c) {
        snprintf(why, wn, "media before start");
        return SDRA_WS_POLICY;
    }
    if (!payload || (track && strcmp(track, "inbound") && strcmp(track, "outbound"))) {
        snprintf(why, wn, "media: track must be inbound or outbound, with a base64 payload");
        return SDRA_WS_BAD_DATA;
    }
    int ch = track && !strcmp(track, "outbound") ? 1 : 0;
    if (ch >= c->n_ch) {
        snprintf(why, wn, "media: outbound audio on a stream that started with the inbound track only");
        return SDRA_WS_BAD_DATA;
    }
    uint8_t raw[12288];
    size_t n = 0;
    const char *end = NULL;
    if (sodium_base642bin(raw, sizeof raw, payload, strlen(payload), NULL, &n, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 || (end && *end)) {
        snprintf(why, wn, "media: payload is not base64 (or longer than %zu bytes)", sizeof raw);
        return SDRA_WS_BAD_DATA;
    }
    int16_t pcm[12288];
    for (size_t i = 0; i < n; i++)
        pcm[i] = mulaw_decode(raw[i]);
    /* a gap in a track's timestamps (ms) is silence: the two tracks stay aligned */
    const char *ts = json_string_value(json_object_get(m, "timestamp"));
    json_t *tsn = json_object_get(m, "timestamp");
    long long ms = ts ? atoll(ts) : json_is_integer(tsn) ? json_integer_value(tsn) : -1;
    if (ms >= 0) {
        pthread_mutex_lock(&c->mu);
        int64_t have = c->ch[ch].received;
        pthread_mutex_unlock(&c->mu);
        int64_t want = k->ts_base[ch] + (int64_t)ms * 8;
        if (want > have + 800 && pad_silence(c, ch, want - have > 8000 * 5 ? 8000 * 5 : want - have) < 0) {
            snprintf(why, wn, "out of memory"); /* at most 5 s of silence per message */
            return SDRA_WS_INTERNAL;
        }
    }
    if (live_call_audio(c, ch, pcm, n) < 0) {
        snprintf(why, wn, "out of memory");
        return SDRA_WS_INTERNAL;
    }
    return 0;
}

/* One text message of the Twilio protocol: 0 to go on, 1 after stop, or a close code. */
static int twilio_text(live_conn *k, const char *text, size_t len, char *why, size_t wn)
{
    json_error_t je;
    json_t *msg = json_loadb(text, len, 0, &je);
    int rc = 0;
    const char *ev = json_string_value(json_object_get(msg, "event"));
    if (!json_is_object(msg) || !ev) {
        snprintf(why, wn, "not a Media Streams message (a JSON object with an event)");
        rc = SDRA_WS_BAD_DATA;
    } else if (!strcmp(ev, "connected") || !strcmp(ev, "mark") || !strcmp(ev, "dtmf")) {
        rc = 0;
    } else if (!strcmp(ev, "start")) {
        rc = k->call ? (snprintf(why, wn, "a second start on one stream"), SDRA_WS_POLICY) : twilio_start(k, msg, why, wn);
    } else if (!strcmp(ev, "media")) {
        rc = twilio_media(k, msg, why, wn);
    } else if (!strcmp(ev, "stop")) {
        k->stop = true;
        rc = 1;
    } else {
        snprintf(why, wn, "unknown event '%.40s'", ev);
        rc = SDRA_WS_UNSUPPORTED;
    }
    json_decref(msg);
    return rc;
}

static int pcm_text(live_conn *k, const char *text, size_t len, char *why, size_t wn)
{
    json_error_t je;
    json_t *msg = json_loadb(text, len, 0, &je);
    const char *ev = json_string_value(json_object_get(msg, "event"));
    int rc = 0;
    if (!json_is_object(msg) || !ev) {
        snprintf(why, wn, "not a JSON object with an event");
        rc = SDRA_WS_BAD_DATA;
    } else if (!strcmp(ev, "stop")) {
        k->stop = true;
        rc = 1;
    } else if (strcmp(ev, "start")) {
        snprintf(why, wn, "unknown event '%.40s'", ev);
        rc = SDRA_WS_UNSUPPORTED;
    } else if (k->call) {
        snprintf(why, wn, "a second start on one stream");
        rc = SDRA_WS_POLICY;
    } else {
        const char *sid = json_string_value(json_object_get(msg, "call_id"));
        json_t *sheet = json_object_get(msg, "call");
        int rate = (int)json_integer_value(json_object_get(msg, "sample_rate"));
        int n_ch = json_object_get(msg, "channels") ? (int)json_integer_value(json_object_get(msg, "channels")) : 1;
        json_t *rc_j = json_object_get(msg, "rep_channel");
        int rep = n_ch == 2 ? (rc_j ? (int)json_integer_value(rc_j) : 0) : -1;
        if (!sid || !*sid || strlen(sid) >= LIVE_SID_MAX || (sheet && !json_is_object(sheet))) {
            snprintf(why, wn, "start: call_id (a string) required; call must be an object");
            rc = SDRA_WS_BAD_DATA;
        } else if ((rate != 8000 && rate != 16000) || (n_ch != 1 && n_ch != 2) || (n_ch == 2 && rep != 0 && rep != 1)) {
            snprintf(why, wn, "start: sample_rate 8000 or 16000, channels 1 or 2, rep_channel 0 or 1");
            rc = SDRA_WS_UNSUPPORTED;
        } else if (!(rc = param_auth(k, json_string_value(json_object_get(msg, "token")), why, wn))) {
            rc = attach(k, sid, rate, n_ch, rep, sheet, why, wn);
        }
    }
    json_decref(msg);
    return rc;
}

static int pcm_binary(live_conn *k, const uint8_t *d, size_t n, char *why, size_t wn)
{
    live_call *c = k->call;
    if (!c) {
        snprintf(why, wn, "audio before start");
        return SDRA_WS_POLICY;
    }
    if (n % (size_t)(2 * c->n_ch)) {
        snprintf(why, wn, "a frame must hold whole samples of every channel (s16le, interleaved)");
        return SDRA_WS_BAD_DATA;
    }
    size_t frames = n / (size_t)(2 * c->n_ch);
    int16_t buf[2][4096];
    for (size_t off = 0; off < frames;) {
        size_t m = frames - off > 4096 ? 4096 : frames - off;
        for (size_t i = 0; i < m; i++)
            for (int ch = 0; ch < c->n_ch; ch++) {
                const uint8_t *p = d + ((off + i) * (size_t)c->n_ch + (size_t)ch) * 2;
                buf[ch][i] = (int16_t)(p[0] | p[1] << 8);
            }
        for (int ch = 0; ch < c->n_ch; ch++)
            if (live_call_audio(c, ch, buf[ch], m) < 0) {
                snprintf(why, wn, "out of memory");
                return SDRA_WS_INTERNAL;
            }
        off += m;
    }
    return 0;
}

/* After stop: waits up to wait_ms for frames and answers pings (clients that ping, like
 * python-websockets, give up on a peer that does not answer); -1 when the client closed or
 * broke the protocol (anything else it sends is ignored now). */
static int read_control(live_conn *k, int wait_ms)
{
    struct pollfd pf = {.fd = k->fd, .events = POLLIN};
    int pr = poll(&pf, 1, wait_ms);
    if (pr <= 0)
        return pr < 0 && errno != EINTR ? -1 : 0;
    uint8_t buf[16384];
    ssize_t n = recv(k->fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n <= 0 || sdra_ws_parser_push(&k->p, buf, (size_t)n) < 0)
        return -1;
    sdra_ws_msg m;
    int rc;
    while ((rc = sdra_ws_parser_next(&k->p, &m)) == 1) {
        if (m.opcode == SDRA_WS_PING)
            send_frame(k, SDRA_WS_PONG, m.data, m.len);
        else if (m.opcode == SDRA_WS_CLOSE)
            return -1;
    }
    return rc < 0 ? -1 : 0;
}

/* The connection thread: reads frames, handles messages, sends events; ends with a close. */
void *live_conn_main(void *arg)
{
    live_conn *k = arg;
    struct sdra_server *s = k->s;
    struct srv_live *L = s->live;
    char why[160] = "";
    int code = 0;
    bool peer_closed = false;
    uint8_t buf[16384];
    sdra_ws_parser_init(&k->p, true, LIVE_MSG_MAX);
    if (k->n_extra && sdra_ws_parser_push(&k->p, k->extra, k->n_extra) < 0)
        code = k->p.close_code;
    double idle_since = sdra_clock_s();
    while (!code && !peer_closed) {
        if (atomic_load(&s->stopping)) {
            code = SDRA_WS_GOING_AWAY;
            snprintf(why, sizeof why, "server shutting down");
            break;
        }
        sdra_ws_msg m;
        int rc;
        while (!code && (rc = sdra_ws_parser_next(&k->p, &m)) == 1) {
            idle_since = sdra_clock_s();
            if (m.opcode == SDRA_WS_PING) {
                send_frame(k, SDRA_WS_PONG, m.data, m.len);
            } else if (m.opcode == SDRA_WS_PONG) {
            } else if (m.opcode == SDRA_WS_CLOSE) {
                peer_closed = true;
                break;
            } else if (m.opcode == SDRA_WS_TEXT) {
                int r = k->kind == K_TWILIO ? twilio_text(k, (const char *)m.data, m.len, why, sizeof why)
                                            : pcm_text(k, (const char *)m.data, m.len, why, sizeof why);
                if (r == 1)
                    break; /* stop */
                code = r;
            } else if (k->kind == K_PCM) {
                code = pcm_binary(k, m.data, m.len, why, sizeof why);
            } else {
                code = SDRA_WS_UNSUPPORTED;
                snprintf(why, sizeof why, "binary messages are not part of the Media Streams protocol");
            }
        }
        if (!code && rc < 0) {
            code = k->p.close_code;
            snprintf(why, sizeof why, "%s", k->p.reason);
        }
        if (code || peer_closed || k->stop)
            break;
        if (send_events(k) < 0) {
            peer_closed = true;
            break;
        }
        if (!k->call && sdra_clock_s() - idle_since > 10) {
            code = SDRA_WS_POLICY;
            snprintf(why, sizeof why, "no start message within 10 s");
            break;
        }
        struct pollfd pf = {.fd = k->fd, .events = POLLIN};
        int pr = poll(&pf, 1, 50);
        if (pr < 0 && errno != EINTR)
            break;
        if (pr > 0) {
            ssize_t n = recv(k->fd, buf, sizeof buf, 0);
            if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
                continue;
            if (n <= 0) {
                peer_closed = true; /* dropped: the call waits for a reconnect */
                break;
            }
            if (sdra_ws_parser_push(&k->p, buf, (size_t)n) < 0) {
                code = k->p.close_code;
                snprintf(why, sizeof why, "%s", k->p.reason);
            }
        }
    }
    if (k->stop && k->call) {
        /* the call ends: the client hears about the decoding's end and the stored call */
        live_call *c = k->call;
        pthread_mutex_lock(&L->mu);
        c->refs++; /* kept to wait on */
        pthread_mutex_unlock(&L->mu);
        detach(k);
        k->call = c;
        double t0 = sdra_clock_s();
        for (;;) {
            if (send_events(k) < 0 || read_control(k, 100) < 0)
                break;
            pthread_mutex_lock(&c->mu);
            bool done = c->state == L_DONE && k->sent_seq >= c->ev_seq;
            pthread_mutex_unlock(&c->mu);
            if (done || sdra_clock_s() - t0 >= 300)
                break;
        }
        live_call_unref(L, c);
        k->call = NULL;
        send_close(k, SDRA_WS_NORMAL, "call ended");
    } else if (code) {
        send_close(k, code, why);
    } else {
        send_close(k, SDRA_WS_NORMAL, peer_closed ? "" : "stopped before start");
    }
    if (!peer_closed)
        linger(k);
    detach(k);
    sdra_ws_parser_release(&k->p);
    MHD_upgrade_action(k->urh, MHD_UPGRADE_ACTION_CLOSE);
    pthread_mutex_lock(&L->mu);
    if (k->counted)
        L->n_pending--;
    L->n_threads--;
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
    free(k->extra);
    free(k);
    return NULL;
}
