/*
 * live.c - live calls (docs/live.md): the WebSocket endpoints /v1/live/twilio (Twilio Media
 * Streams) and /v1/live/pcm (a JSON start message, then s16le frames), short-lived stream
 * tokens (POST /v1/live/tokens), and each call's processing from frames to the follow-up
 * package.
 *
 * Threads: MHD hands each upgraded connection's socket to a connection thread (conn_main),
 * which alone reads and writes it: it parses frames (sdra/ws.h), turns media into PCM per
 * channel, appends it to the call's recording and to a bounded backlog per channel, and sends
 * the call's new events back when the client asked for them. One decoder thread per call
 * (dec_main) feeds each channel's backlog to its own incremental recognizer (the narrowband
 * model for 8 kHz audio), appends every final utterance to the call's one transcript (roles
 * from the track), hands the transcript to the coach (sdra/live.h) and records the events.
 * The call outlives its connection: a connection that drops leaves the call waiting
 * grace_s for a reconnect with the same callSid, which continues it; `stop`, or the grace
 * running out, ends the decoding (the recognizers' last utterances, no second decode) and the
 * call is stored like an upload (the recording as a WAV, sealed when encryption at rest is on)
 * with the transcript beside it, so the normal job flow records it and runs analyze -> compose
 * -> sync -> report (the transcribe stage takes transcript.live.json instead of decoding).
 *
 * Bounds: the backlog per channel (backlog_s of audio; what arrives beyond it is dropped from
 * recognition, never from the recording, and counted), the message size, the events kept per
 * call, the live calls per server (503 before the upgrade, close 1013 at start).
 */
#include "internal.h"

#include "sdra/asr.h"
#include "sdra/buf.h"
#include "sdra/live.h"
#include "sdra/log.h"
#include "sdra/rights.h"
#include "sdra/transcript.h"
#include "sdra/util.h"
#include "sdra/ws.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LIVE_MSG_MAX (64u << 10)      /* one WebSocket message */
#define LIVE_EVENTS_MAX 20000         /* events kept per call (older ones are dropped) */
#define LIVE_SID_MAX 64
#define LIVE_KEEP_S 600.0             /* a finished call's events stay readable this long */
#define LIVE_TOKEN_MAX_TTL_S 600
#define LIVE_ARRIVALS 1024            /* arrival times kept per channel (0.1 s blocks) */
#define LIVE_PARTIAL_MAX 1024         /* text of one partial event */
#define LIVE_PARTIAL_EVERY_S 1.0      /* at most one partial event a second per channel */
#define LIVE_DEGRADE_LEAVE_S 1.0      /* a degraded channel's lag back to this: normal search */
#define LIVE_LINGER_S 2.0             /* after our close: how long the client's bytes are drained */
#define LIVE_LINGER_BYTES (4u << 20)  /* and how many at most */
#define LIVE_METRICS_EVERY_S 1.0      /* a "metrics" event at least this often (wall clock) */

enum { L_STREAMING, L_DETACHED, L_ENDING, L_DONE };
enum { K_TWILIO, K_PCM };

typedef struct live_ev {
    unsigned long seq;
    char name[12];
    char *data; /* the JSON object */
} live_ev;

typedef struct live_chan {
    int16_t *ring;          /* backlog at the input rate */
    size_t cap, head, len;
    int64_t received;       /* samples received (input rate) */
    int64_t decoded;        /* samples fed to the recognizer */
    int64_t dropped;        /* samples the full backlog refused */
    int64_t drop_before;    /* dropped samples before the decoded position (time shift) */
    sdra_asr *asr;          /* from the server's decoder cache; the decoder thread's alone */
    int64_t base;           /* decoded samples before asr's stream began (a search switch) */
    bool fast;              /* degraded mode: asr is the fast search (c->mu for readers) */
    char partial[LIVE_PARTIAL_MAX]; /* the last partial event's text */
    double partial_at;      /* when it was sent (wall s) */
    struct { int64_t at; double wall; } arr[LIVE_ARRIVALS]; /* when sample `at` arrived */
    size_t n_arr;
    int16_t *pend;          /* recording: received, not yet interleaved */
    size_t pend_len, pend_cap;
} live_chan;

typedef struct live_call {
    struct live_call *next;
    struct sdra_server *s;
    int refs;               /* the registry, the decoder, a connection (guarded by srv_live.mu) */
    char id[SDRA_STORE_ID_MAX], sid[LIVE_SID_MAX], org[SDRA_STORE_ID_MAX], key_id[SDRA_STORE_ID_MAX];
    char ip[SDRA_STORE_AUDIT_IP_MAX];
    pthread_mutex_t mu;     /* everything below */
    pthread_cond_t cv;
    int state;
    bool attached;
    double detached_at, done_at, stop_at;
    double metrics_wall; /* sdra_clock_s() of the last "metrics" event (LIVE_METRICS_EVERY_S) */
    int kind, rate_hz, n_ch, rep_ch;
    int reconnects;
    sdra_call_info ci;
    live_chan ch[2];
    int raw_fd;
    char raw_path[PATH_MAX];
    /* encryption at rest: the call's key from its start, and the recording encrypted under it
     * as it arrives (no plaintext on disk, as for an upload); NULL without encryption */
    sdra_crypt_key *dk;
    sdra_crypt_writer *raw_cw;
    int64_t rec_frames;
    bool rec_failed;
    live_ev *ev;
    size_t n_ev, cap_ev;
    unsigned long ev_seq;
    double max_lag_s;
    int n_fast;             /* channels in degraded mode */
    int switches;           /* search switches (degraded mode, either way) */
    int64_t started_ms;
    pthread_t dec;
} live_call;

struct srv_live {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    live_call *calls;
    int n_threads;          /* connection and decoder threads running */
    int n_pending;          /* upgraded connections not yet attached to a call */
    sdra_asr_cache *decoders; /* idle recognizers, reused across calls (models load once) */
    long loads_seen, reuses_seen; /* the cache's counts already added to the metrics */
    unsigned char token_key[crypto_auth_hmacsha256_KEYBYTES];
};

typedef struct live_conn {
    struct sdra_server *s;
    int kind;
    MHD_socket fd;
    struct MHD_UpgradeResponseHandle *urh;
    uint8_t *extra;
    size_t n_extra;
    bool authed, want_events, counted;
    char org[SDRA_STORE_ID_MAX], key_id[SDRA_STORE_ID_MAX], ip[SDRA_STORE_AUDIT_IP_MAX];
    char rep_track[16];
    live_call *call;
    unsigned long sent_seq;
    int64_t ts_base[2];     /* received samples when this connection attached (per channel) */
    sdra_ws_parser p;
    bool stop;              /* the client sent stop */
} live_conn;

/* ---- registry -------------------------------------------------------------------------- */

static void call_free(live_call *c)
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

static void call_unref(struct srv_live *L, live_call *c)
{
    pthread_mutex_lock(&L->mu);
    bool last = --c->refs == 0;
    pthread_mutex_unlock(&L->mu);
    if (last)
        call_free(c);
}

/* The id of the live call callSid of org: the same for a reconnect, distinct across orgs. */
static void live_call_id(const char *org, const char *sid, char out[24])
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
static void registry_sweep(struct srv_live *L, double now)
{
    for (live_call **pp = &L->calls; *pp;) {
        live_call *c = *pp;
        pthread_mutex_lock(&c->mu);
        bool old = c->state == L_DONE && now - c->done_at > LIVE_KEEP_S;
        pthread_mutex_unlock(&c->mu);
        if (old) {
            *pp = c->next;
            if (--c->refs == 0)
                call_free(c);
            continue;
        }
        pp = &c->next;
    }
}

static int active_calls(struct srv_live *L)
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
static void ev_add(live_call *c, const char *name, json_t *data)
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

static void coach_emit(void *user, const char *event, json_t *data)
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
    ev_add(c, event, d);
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
static int token_auth(struct sdra_server *s, const char *tok, char *org, char *key_id, const char **why)
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

/* ---- audio ----------------------------------------------------------------------------- */

static int16_t mulaw_decode(uint8_t u)
{
    u = (uint8_t)~u;
    int t = ((u & 0x0f) << 3) + 0x84;
    t <<= (u & 0x70) >> 4;
    return (int16_t)((u & 0x80) ? 0x84 - t : t - 0x84);
}

static void arrival_mark(live_chan *ch, double wall)
{
    if (ch->n_arr && ch->received - ch->arr[(ch->n_arr - 1) % LIVE_ARRIVALS].at < 800)
        return;
    ch->arr[ch->n_arr % LIVE_ARRIVALS].at = ch->received;
    ch->arr[ch->n_arr % LIVE_ARRIVALS].wall = wall;
    ch->n_arr++;
}

/* Wall time when sample `at` of ch arrived (the first mark at or past it), 0 when unknown. */
static double arrival_of(const live_chan *ch, int64_t at)
{
    size_t first = ch->n_arr > LIVE_ARRIVALS ? ch->n_arr - LIVE_ARRIVALS : 0;
    for (size_t i = first; i < ch->n_arr; i++)
        if (ch->arr[i % LIVE_ARRIVALS].at >= at)
            return ch->arr[i % LIVE_ARRIVALS].wall;
    return 0;
}

/* Writes the interleaved frames both channels have (or one's alone when the other is more
 * than 2 s behind: its silence). c->mu held. */
static void rec_flush(live_call *c, bool all)
{
    if (c->raw_fd < 0 || c->rec_failed)
        return;
    size_t n;
    if (c->n_ch == 1) {
        n = c->ch[0].pend_len;
    } else {
        size_t a = c->ch[0].pend_len, b = c->ch[1].pend_len, lim = (size_t)c->rate_hz * 2;
        n = a < b ? a : b;
        if (all || a > n + lim || b > n + lim)
            n = a > b ? a : b; /* the shorter one is padded with silence */
    }
    if (!n)
        return;
    int16_t buf[4096];
    size_t done = 0;
    while (done < n) {
        size_t k = (n - done) * (size_t)c->n_ch > 4096 ? 4096 / (size_t)c->n_ch : n - done;
        for (size_t i = 0; i < k; i++)
            for (int ch = 0; ch < c->n_ch; ch++)
                buf[i * (size_t)c->n_ch + (size_t)ch] = done + i < c->ch[ch].pend_len ? c->ch[ch].pend[done + i] : 0;
        size_t bytes = k * (size_t)c->n_ch * 2;
        sdra_error e = {0};
        if (c->raw_cw ? sdra_crypt_writer_write(c->raw_cw, buf, bytes, &e) < 0
                      : write(c->raw_fd, buf, bytes) != (ssize_t)bytes) {
            c->rec_failed = true;
            sdra_log(SDRA_LOG_ERROR, "live call %s: writing the recording failed: %s", c->id,
                     e.msg[0] ? e.msg : strerror(errno));
            return;
        }
        done += k;
    }
    c->rec_frames += (int64_t)n;
    for (int ch = 0; ch < c->n_ch; ch++) {
        live_chan *h = &c->ch[ch];
        size_t take = h->pend_len < n ? h->pend_len : n;
        memmove(h->pend, h->pend + take, (h->pend_len - take) * sizeof *h->pend);
        h->pend_len -= take;
    }
}

/* Takes n samples of channel ch: into the recording, and into the backlog when it has room. */
static int call_audio(live_call *c, int ch, const int16_t *pcm, size_t n)
{
    live_chan *h = &c->ch[ch];
    pthread_mutex_lock(&c->mu);
    if (h->pend_len + n > h->pend_cap) {
        size_t cap = h->pend_cap ? h->pend_cap : 16384;
        while (cap < h->pend_len + n)
            cap *= 2;
        int16_t *g = realloc(h->pend, cap * sizeof *g);
        if (!g) {
            pthread_mutex_unlock(&c->mu);
            return -1;
        }
        h->pend = g;
        h->pend_cap = cap;
    }
    memcpy(h->pend + h->pend_len, pcm, n * sizeof *pcm);
    h->pend_len += n;
    rec_flush(c, false);
    size_t room = h->cap - h->len, k = n < room ? n : room;
    for (size_t i = 0; i < k; i++)
        h->ring[(h->head + h->len + i) % h->cap] = pcm[i];
    h->len += k;
    h->received += (int64_t)n;
    if (k < n) {
        h->dropped += (int64_t)(n - k);
        sdra_obs_inc(c->s->obs, "sdra_live_audio_dropped_seconds_total", NULL, (double)(n - k) / c->rate_hz);
    }
    arrival_mark(h, sdra_clock_s());
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

/* ---- the decoder ----------------------------------------------------------------------- */

/* Channel i's lag: its audio received and not yet handed to the recognizer (c->mu held). */
static double chan_lag_s(const live_call *c, int i)
{
    return (double)c->ch[i].len / c->rate_hz;
}

static void lag_update(live_call *c)
{
    double lag = 0;
    for (int i = 0; i < c->n_ch; i++) {
        double l = chan_lag_s(c, i);
        if (l > lag)
            lag = l;
    }
    c->max_lag_s = lag;
}

/* One final utterance of channel ch: appended to the transcript, sent as an event, shown to
 * the coach. */
static void on_utt(live_call *c, sdra_transcript *t, sdra_coach *coach, int ch, sdra_asr_utt *u)
{
    if (!u->n_words)
        return;
    double shift = (double)(c->ch[ch].drop_before + c->ch[ch].base) / c->rate_hz;
    sdra_utterance *x = sdra_transcript_add_utterance(t, ch, u->start_s + shift, u->end_s + shift, NULL);
    if (!x)
        return;
    for (size_t i = 0; i < u->n_words; i++)
        sdra_utterance_add_word(x, u->words[i].w, u->words[i].start_s + shift, u->words[i].end_s + shift,
                                u->words[i].conf);
    sdra_utterance_join_words(x);
    json_t *d = sdra_utterance_to_json(t, x);
    sdra_transcript_sort(t);
    double now = sdra_clock_s();
    pthread_mutex_lock(&c->mu);
    double arrived = arrival_of(&c->ch[ch], (int64_t)((u->end_s) * c->rate_hz) + c->ch[ch].drop_before + c->ch[ch].base);
    if (d) {
        json_object_set_new(d, "channel", json_integer(ch));
        json_object_set_new(d, "role", json_string(sdra_role_name(t->speakers[ch].role)));
        json_object_set_new(d, "lag_s", json_real(c->max_lag_s));
        json_object_set_new(d, "mode", json_string(c->ch[ch].fast ? "degraded" : "normal"));
        if (arrived > 0)
            json_object_set_new(d, "latency_s", json_real(now - arrived));
        ev_add(c, "utterance", d);
    }
    pthread_mutex_unlock(&c->mu);
    json_decref(d);
    if (arrived > 0)
        sdra_obs_observe(c->s->obs, "sdra_live_utterance_latency_seconds", NULL, now - arrived);
    sdra_obs_inc(c->s->obs, "sdra_live_utterances_total", NULL, 1);
    srv_notify_event(c->s);
    sdra_error err = {0};
    if (coach && sdra_coach_update(coach, t, coach_emit, c, &err) < 0)
        sdra_log(SDRA_LOG_WARN, "live call %s: coach: %s", c->id, err.msg);
}

/* Hands on the recognizer's final utterances; returns how many, or -1. */
static int drain(live_call *c, sdra_transcript *t, sdra_coach *coach, int ch)
{
    for (int n = 0;; n++) {
        sdra_asr_utt u;
        bool ready = false;
        sdra_error err = {0};
        if (sdra_asr_poll(c->ch[ch].asr, &u, &ready, &err) < 0) {
            sdra_log(SDRA_LOG_WARN, "live call %s: recognizer: %s", c->id, err.msg);
            return -1;
        }
        if (!ready)
            return n;
        on_utt(c, t, coach, ch, &u);
        sdra_asr_utt_release(&u);
    }
}

/* Waits on c->cv (c->mu held) for at most ms. */
static void cond_wait_ms(live_call *c, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += ms * 1000000L;
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&c->cv, &c->mu, &ts);
}

/* Each party's microphone hears the other a little (crosstalk, echo): a 10 ms frame more than
 * BLEED_DB below the other channel's loudest frame within +-20 ms is that copy (the rule of the
 * channel diarizer, src/diarize/channel.c) and is attenuated 30 dB before recognition, so each
 * recognizer hears its own party: its words are not the other's, and its pauses end
 * utterances (the recording keeps the audio as it came). */
#define BLEED_DB 15.0
static void bleed_gate(int16_t *a, int16_t *b, size_t n, int rate_hz)
{
    size_t f = (size_t)rate_hz / 100, nf = n / f;
    double pw[2][16];
    int16_t *ch[2] = {a, b};
    if (nf > 16)
        nf = 16;
    for (int c = 0; c < 2; c++)
        for (size_t i = 0; i < nf; i++) {
            double e = 0;
            for (size_t j = 0; j < f; j++)
                e += (double)ch[c][i * f + j] * ch[c][i * f + j];
            pw[c][i] = e / (double)f;
        }
    double ratio = pow(10.0, BLEED_DB / 10.0);
    for (int c = 0; c < 2; c++)
        for (size_t i = 0; i < nf; i++) {
            double other = 0;
            for (size_t j = i >= 2 ? i - 2 : 0; j < nf && j <= i + 2; j++)
                other = pw[1 - c][j] > other ? pw[1 - c][j] : other;
            if (pw[c][i] * ratio < other)
                for (size_t j = 0; j < f; j++)
                    ch[c][i * f + j] = (int16_t)(ch[c][i * f + j] / 32);
        }
}

/* The utterance channel ch is in the middle of, as far as it is recognized: a `partial` event
 * (at most every LIVE_PARTIAL_EVERY_S, and only when the text changed). Never stored: the
 * final `utterance` supersedes it. */
static void send_partial(live_call *c, const sdra_transcript *t, int ch)
{
    live_chan *h = &c->ch[ch];
    double now = sdra_clock_s(), start = -1;
    if (now - h->partial_at < LIVE_PARTIAL_EVERY_S)
        return;
    char text[LIVE_PARTIAL_MAX];
    sdra_error err = {0};
    if (sdra_asr_partial(h->asr, text, sizeof text, &start, &err) < 0 || !text[0] || !strcmp(text, h->partial))
        return;
    h->partial_at = now;
    memcpy(h->partial, text, sizeof text);
    start += (double)(h->drop_before + h->base) / c->rate_hz;
    json_t *d = json_pack("{s:s,s:s,s:f,s:s,s:i}", "speaker", t->speakers[ch].id, "role",
                          sdra_role_name(t->speakers[ch].role), "start", start, "text", text, "channel", ch);
    if (!d)
        return;
    pthread_mutex_lock(&c->mu);
    ev_add(c, "partial", d);
    pthread_mutex_unlock(&c->mu);
    json_decref(d);
    srv_notify_event(c->s);
}

/* Degraded mode: channel ch, at an utterance boundary, goes to the fast search (fast) or back.
 * The old recognizer ends its stream (what it holds is the silence after the utterance) and
 * goes back to the cache; the new one starts at the decoded position (h->base). When no
 * recognizer of the other kind can be had, the channel stays as it is. */
static void switch_search(live_call *c, sdra_transcript *t, sdra_coach *coach, int ch, const sdra_asr_params *ap,
                          bool fast)
{
    struct srv_live *L = c->s->live;
    live_chan *h = &c->ch[ch];
    sdra_asr_params p = *ap;
    p.fast_search = fast;
    sdra_asr *next = NULL;
    sdra_error err = {0};
    if (sdra_asr_cache_get(L->decoders, &p, &next, &err) < 0) {
        sdra_log(SDRA_LOG_WARN, "live call %s: no %s recognizer: %s", c->id, fast ? "fast" : "normal", err.msg);
        return;
    }
    if (sdra_asr_end_stream(h->asr, &err) == 0)
        drain(c, t, coach, ch);
    sdra_asr_cache_put(L->decoders, h->asr);
    h->asr = next;
    h->base = h->decoded;
    h->partial[0] = '\0';
    pthread_mutex_lock(&c->mu);
    h->fast = fast;
    c->n_fast += fast ? 1 : -1;
    c->switches++;
    pthread_mutex_unlock(&c->mu);
    sdra_obs_inc(c->s->obs, "sdra_live_search_switches_total", fast ? "to=\"fast\"" : "to=\"normal\"", 1);
    sdra_log(SDRA_LOG_INFO, "live call %s: channel %d %s (lag %.1f s)", c->id, ch,
             fast ? "degraded to the fast search" : "back to the normal search", c->max_lag_s);
}

static int finalize(live_call *c, sdra_transcript *t);

/* A "metrics" event when none went out for LIVE_METRICS_EVERY_S of wall time: the lag is
 * reported while no utterance ends (inside a long one, or while the recognizer works through
 * a backlog), so a client can pace on it and a viewer sees the call is alive. Called and
 * returns with c->mu held. */
static void metrics_timer(live_call *c, const sdra_transcript *t, const sdra_coach *coach)
{
    if (!coach || sdra_clock_s() - c->metrics_wall < LIVE_METRICS_EVERY_S)
        return;
    lag_update(c);
    c->metrics_wall = sdra_clock_s(); /* coach_emit sets it too; set here should the copy fail */
    pthread_mutex_unlock(&c->mu);
    json_t *m = sdra_coach_metrics(coach, t);
    if (m)
        coach_emit(c, "metrics", m);
    json_decref(m);
    pthread_mutex_lock(&c->mu);
}

static void *dec_main(void *arg)
{
    live_call *c = arg;
    struct sdra_server *s = c->s;
    struct srv_live *L = s->live;
    sdra_transcript *t = sdra_transcript_create();
    sdra_coach *coach = NULL;
    sdra_error err = {0};
    char hmm[4096];
    sdra_asr_params ap = sdra_asr_default_params();
    sdra_asr_am am = sdra_asr_am_resolve(&ap, SDRA_ASR_AM_AUTO, c->rate_hz, hmm, sizeof hmm);
    ap.hints[0] = c->ci.contact_name;
    ap.hints[1] = c->ci.company;
    ap.hints[2] = c->ci.rep_name;
    bool ok = t != NULL;
    for (int i = 0; ok && i < c->n_ch; i++) {
        char sid[16];
        snprintf(sid, sizeof sid, "S%d", i + 1);
        sdra_role role = c->rep_ch < 0 ? SDRA_ROLE_UNKNOWN : i == c->rep_ch ? SDRA_ROLE_REP : SDRA_ROLE_PROSPECT;
        ok = sdra_transcript_add_speaker(t, sid, role, c->n_ch == 2 ? i : -1) >= 0 &&
             sdra_asr_cache_get(L->decoders, &ap, &c->ch[i].asr, &err) == 0;
        if (ok && c->rep_ch >= 0) {
            const char *name = i == c->rep_ch ? c->ci.rep_name : c->ci.contact_name;
            if (name)
                t->speakers[i].name = strdup(name);
            sdra_strlcpy(t->speakers[i].role_by, "channel", sizeof t->speakers[i].role_by);
        }
    }
    sdra_coach_params cp = sdra_coach_default_params();
    for (int k = 0; k < s->p.n_live_coach_set; k++) { /* checked when the option was read */
        char name[48];
        const char *v = strchr(s->p.live_coach_set[k], '=');
        if (v && (size_t)(v - s->p.live_coach_set[k]) < sizeof name) {
            memcpy(name, s->p.live_coach_set[k], (size_t)(v - s->p.live_coach_set[k]));
            name[v - s->p.live_coach_set[k]] = '\0';
            sdra_error e2 = {0};
            if (sdra_coach_params_set(&cp, name, v + 1, &e2) < 0)
                sdra_log(SDRA_LOG_WARN, "live call %s: %s", c->id, e2.msg);
        }
    }
    if (ok && sdra_coach_create(&coach, &cp, &err) < 0) {
        sdra_log(SDRA_LOG_WARN, "live call %s: no coaching: %s", c->id, err.msg);
        coach = NULL;
    }
    if (!ok)
        sdra_log(SDRA_LOG_ERROR, "live call %s: recognizer: %s", c->id, err.msg[0] ? err.msg : "out of memory");
    int16_t in[2][1600], up[3200];
    double next_tick = 1.0;
    bool ended[2] = {false, false};
    pthread_mutex_lock(&c->mu);
    for (;;) {
        bool any = false;
        for (int i = 0; i < c->n_ch; i++)
            any |= c->ch[i].len > 0;
        if (!any) {
            if (c->state == L_ENDING || atomic_load(&s->stopping))
                break;
            if (c->state == L_DETACHED && sdra_clock_s() - c->detached_at > s->p.live_grace_s) {
                c->state = L_ENDING; /* no reconnect came: the call ends with what was received */
                c->stop_at = sdra_clock_s();
                continue;
            }
            metrics_timer(c, t, coach);
            cond_wait_ms(c, 100);
            continue;
        }
        /* 0.1 s per channel; two channels in step, so that the bleed gate compares the same
         * instants (one channel alone when the other has sent nothing for a second) */
        size_t k[2] = {0, 0}, block = (size_t)c->rate_hz / 10;
        for (int i = 0; i < c->n_ch; i++)
            k[i] = c->ch[i].len < block ? c->ch[i].len : block;
        if (c->n_ch == 2) {
            size_t m = k[0] < k[1] ? k[0] : k[1];
            bool alone = c->state != L_STREAMING || c->ch[0].len > (size_t)c->rate_hz || c->ch[1].len > (size_t)c->rate_hz;
            if (m || !alone)
                k[0] = k[1] = m;
            if (!k[0] && !k[1]) { /* waiting for the other track */
                cond_wait_ms(c, 20);
                continue;
            }
        }
        for (int i = 0; i < c->n_ch; i++) {
            live_chan *h = &c->ch[i];
            for (size_t j = 0; j < k[i]; j++)
                in[i][j] = h->ring[(h->head + j) % h->cap];
            h->head = (h->head + k[i]) % h->cap;
            h->len -= k[i];
            if (h->dropped > h->drop_before && h->len == 0)
                h->drop_before = h->dropped; /* what was dropped lies before what comes next */
        }
        lag_update(c);
        pthread_mutex_unlock(&c->mu);
        if (c->n_ch == 2 && k[0] == k[1])
            bleed_gate(in[0], in[1], k[0], c->rate_hz);
        for (int i = 0; i < c->n_ch; i++) {
            ended[i] = false;
            if (!ok || !k[i])
                continue;
            const int16_t *feed = in[i];
            size_t nf = k[i];
            if (c->rate_hz == 8000) { /* the recognizer takes 16 kHz: linear interpolation */
                for (size_t j = 0; j < k[i]; j++) {
                    int next = j + 1 < k[i] ? in[i][j + 1] : in[i][j];
                    up[2 * j] = in[i][j];
                    up[2 * j + 1] = (int16_t)((in[i][j] + next) / 2);
                }
                feed = up;
                nf = 2 * k[i];
            }
            ended[i] = sdra_asr_feed(c->ch[i].asr, feed, nf, &err) == 0 && drain(c, t, coach, i) > 0;
            if (!ended[i])
                send_partial(c, t, i);
        }
        pthread_mutex_lock(&c->mu);
        for (int i = 0; i < c->n_ch; i++)
            c->ch[i].decoded += (int64_t)k[i];
        /* degraded mode: judged per channel on its own backlog, switched where an utterance
         * just ended (PocketSphinx cannot change its search mid-utterance) */
        for (int i = 0; ok && i < c->n_ch; i++) {
            double lag = chan_lag_s(c, i);
            if (!ended[i] || sdra_live_degrade_next(c->ch[i].fast, lag, s->p.live_degrade_lag_s,
                                                    LIVE_DEGRADE_LEAVE_S) == c->ch[i].fast)
                continue;
            bool fast = !c->ch[i].fast;
            pthread_mutex_unlock(&c->mu);
            switch_search(c, t, coach, i, &ap, fast);
            pthread_mutex_lock(&c->mu);
        }
        metrics_timer(c, t, coach);
        double now_s = (double)c->ch[0].decoded / c->rate_hz;
        if (coach && now_s >= next_tick) {
            next_tick = now_s + 1.0;
            pthread_mutex_unlock(&c->mu);
            if (sdra_coach_tick(coach, t, now_s, coach_emit, c, &err) < 0)
                sdra_log(SDRA_LOG_WARN, "live call %s: coach: %s", c->id, err.msg);
            pthread_mutex_lock(&c->mu);
        }
    }
    pthread_mutex_unlock(&c->mu);
    for (int i = 0; ok && i < c->n_ch; i++)
        if (sdra_asr_end_stream(c->ch[i].asr, &err) == 0)
            drain(c, t, coach, i);
    if (t) {
        if ((t->meta = json_object())) {
            json_object_set_new(t->meta, "engine", json_string(c->ch[0].asr ? sdra_asr_name(c->ch[0].asr) : "none"));
            json_object_set_new(t->meta, "model", json_string(c->ch[0].asr ? sdra_asr_describe(c->ch[0].asr) : ""));
            json_object_set_new(t->meta, "mode", json_string("live"));
            json_object_set_new(t->meta, "acoustic_model", json_string(sdra_asr_am_name(am)));
            json_object_set_new(t->meta, "source_rate_hz", json_integer(c->rate_hz));
            int64_t dropped = 0;
            for (int i = 0; i < c->n_ch; i++)
                dropped += c->ch[i].dropped;
            json_object_set_new(t->meta, "live", json_pack("{s:i,s:f,s:i,s:i}", "reconnects", c->reconnects,
                                                            "dropped_s", (double)dropped / c->rate_hz,
                                                            "alerts", coach ? sdra_coach_alert_count(coach) : 0,
                                                            "search_switches", c->switches));
        }
        finalize(c, t);
    }
    sdra_coach_destroy(coach);
    sdra_transcript_destroy(t);
    for (int i = 0; i < c->n_ch; i++) { /* back to the cache for the next call (a failed one goes) */
        if (ok)
            sdra_asr_cache_put(L->decoders, c->ch[i].asr);
        else
            sdra_asr_destroy(c->ch[i].asr);
        c->ch[i].asr = NULL;
    }
    pthread_mutex_lock(&c->mu);
    c->n_fast = 0;
    pthread_mutex_unlock(&c->mu);
    call_unref(L, c);
    pthread_mutex_lock(&L->mu);
    L->n_threads--;
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

/* ---- the end of a call: stored like an upload ------------------------------------------ */

/* The key of the call's own encrypted recording (the only key it names). */
static int raw_key(void *ud, const char *key_id, const unsigned char *wrapped, sdra_crypt_key **out, sdra_error *err)
{
    const sdra_crypt_key *dk = ud;
    if (wrapped || strcmp(key_id, sdra_crypt_key_id(dk)))
        return sdra_error_set(err, SDRA_EINVAL, "the live recording names another key");
    return sdra_crypt_key_from_bytes(out, key_id, sdra_crypt_key_bytes(dk), err);
}

/* The recording as a WAV at tmp (encrypted under dk when given: the raw recording is then
 * encrypted under it too, and read back through a reader). */
static int write_wav(live_call *c, int fd, sdra_crypt_key *dk, size_t *bytes, sdra_error *err)
{
    sdra_crypt_writer *cw = NULL;
    sdra_crypt_reader *rd = NULL;
    lseek(c->raw_fd, 0, SEEK_SET);
    if (dk && (sdra_crypt_reader_open(&rd, c->raw_fd, raw_key, dk, err) < 0 ||
               sdra_crypt_writer_open(&cw, fd, dk, NULL, err) < 0)) {
        sdra_crypt_reader_close(rd);
        return err->code ? err->code : SDRA_EIO;
    }
    uint32_t data = (uint32_t)(c->rec_frames * c->n_ch * 2);
    uint8_t h[44];
    uint32_t v[] = {36 + data, 16, (uint32_t)c->rate_hz, (uint32_t)(c->rate_hz * c->n_ch * 2), data};
    memcpy(h, "RIFF", 4);
    memcpy(h + 8, "WAVEfmt ", 8);
    memcpy(h + 36, "data", 4);
    for (int i = 0; i < 4; i++) {
        h[4 + i] = (uint8_t)(v[0] >> (8 * i));
        h[16 + i] = (uint8_t)(v[1] >> (8 * i));
        h[24 + i] = (uint8_t)(v[2] >> (8 * i));
        h[28 + i] = (uint8_t)(v[3] >> (8 * i));
        h[40 + i] = (uint8_t)(v[4] >> (8 * i));
    }
    h[20] = 1, h[21] = 0;                         /* PCM */
    h[22] = (uint8_t)c->n_ch, h[23] = 0;
    h[32] = (uint8_t)(c->n_ch * 2), h[33] = 0;    /* block align */
    h[34] = 16, h[35] = 0;
    int rc = 0;
    char buf[65536];
    rc = cw ? sdra_crypt_writer_write(cw, h, sizeof h, err) : sdra_write_all(fd, h, sizeof h);
    for (;;) {
        size_t n = 0;
        if (rc < 0)
            break;
        if (rd) {
            rc = sdra_crypt_reader_read(rd, buf, sizeof buf, &n, err);
        } else {
            ssize_t got = read(c->raw_fd, buf, sizeof buf);
            if (got < 0)
                rc = -1;
            n = got > 0 ? (size_t)got : 0;
        }
        if (rc < 0 || n == 0)
            break;
        rc = cw ? sdra_crypt_writer_write(cw, buf, n, err) : sdra_write_all(fd, buf, n);
    }
    sdra_crypt_reader_close(rd);
    if (rc < 0 && !err->msg[0])
        sdra_error_set(err, SDRA_EIO, "writing the recording failed: %s", strerror(errno));
    if (cw && sdra_crypt_writer_close(cw, rc == 0 ? err : NULL) < 0)
        rc = -1;
    if (rc == 0 && fdatasync(fd) != 0)
        rc = sdra_error_set(err, SDRA_EIO, "storing the recording failed: %s", strerror(errno));
    *bytes = sizeof h + data;
    return rc < 0 ? (err->code ? err->code : SDRA_EIO) : 0;
}

static int finalize(live_call *c, sdra_transcript *t)
{
    struct sdra_server *s = c->s;
    sdra_error err = {0};
    sdra_crypt_key *dk = NULL;
    char wav[PATH_MAX] = "", tj[PATH_MAX] = "";
    int fd = -1, rc = 0;
    srv_submit_answer ans = {0};
    pthread_mutex_lock(&c->mu);
    rec_flush(c, true);
    if (c->raw_cw) { /* the recording's last chunk */
        sdra_crypt_writer *w = c->raw_cw;
        c->raw_cw = NULL;
        if (sdra_crypt_writer_close(w, &err) < 0) {
            sdra_log(SDRA_LOG_ERROR, "live call %s: sealing the recording failed: %s", c->id, err.msg);
            c->rec_failed = true;
        }
    }
    dk = c->dk; /* the call's key: finalize stores the call under it */
    c->dk = NULL;
    int64_t frames = c->rec_frames;
    bool rec_failed = c->rec_failed;
    pthread_mutex_unlock(&c->mu);
    t->duration_s = (double)frames / c->rate_hz;
    free(t->source);
    t->source = strdup("audio.wav");
    if (c->ci.call_date && !t->recorded_date)
        t->recorded_date = strdup(c->ci.call_date);
    if (rec_failed) {
        rc = sdra_error_set(&err, SDRA_EIO, "the recording could not be written");
        goto done;
    }
    if (frames == 0) { /* a stream that never sent audio leaves no call behind */
        sdra_strlcpy(ans.status, "empty", sizeof ans.status);
        goto done;
    }
    if (s->kr && !dk) {
        rc = sdra_error_set(&err, SDRA_EINTERNAL, "the call's key is missing");
        goto done;
    }
    snprintf(wav, sizeof wav, "%s/tmp/live-XXXXXX", s->data_dir);
    if ((fd = mkstemp(wav)) < 0) {
        wav[0] = '\0';
        rc = sdra_error_set(&err, SDRA_EIO, "cannot store the recording: %s", strerror(errno));
        goto done;
    }
    size_t bytes = 0;
    if ((rc = write_wav(c, fd, dk, &bytes, &err)) < 0)
        goto done;
    /* the transcript the decoding made, beside the audio (sealed like call.json) */
    snprintf(tj, sizeof tj, "%s/tmp/live-XXXXXX", s->data_dir);
    int tfd = mkstemp(tj);
    if (tfd < 0) {
        tj[0] = '\0';
        rc = sdra_error_set(&err, SDRA_EIO, "cannot store the transcript: %s", strerror(errno));
        goto done;
    }
    close(tfd);
    json_t *doc = sdra_transcript_to_json(t);
    srv_seal sl;
    const sdra_seal_ops *prev = NULL;
    if (dk) {
        srv_seal_init(&sl, s->kr, dk);
        prev = sdra_seal_set(&sl.ops);
    }
    rc = doc ? sdra_json_write_file(tj, doc, &err) : sdra_error_set(&err, SDRA_ENOMEM, "out of memory");
    if (dk)
        sdra_seal_set(prev);
    json_decref(doc);
    if (rc < 0)
        goto done;
    if (!c->ci.call_date) {
        char today[11];
        sdra_date_today(today);
        sdra_call_info_set(&c->ci, "call_date", today, NULL);
    }
    if (!c->ci.consent)
        sdra_call_info_set(&c->ci, "consent", "unknown", NULL);
    free(c->ci.source);
    c->ci.source = strdup("live");
    rc = srv_call_submit_ex(s, c->org, c->key_id, c->ip, NULL, c->started_ms, wav, "audio.wav", bytes, &c->ci, dk,
                            &ans, &err, c->id, tj, "transcript.live.json");
done:
    if (fd >= 0)
        close(fd);
    if (wav[0])
        unlink(wav);
    if (tj[0])
        unlink(tj);
    sdra_crypt_key_destroy(dk);
    double now = sdra_clock_s();
    pthread_mutex_lock(&c->mu);
    json_t *d = json_pack("{s:s,s:s,s:f,s:f}", "id", c->id, "status", rc == 0 ? ans.status : "failed", "duration_s",
                          t->duration_s, "finalize_s", c->stop_at > 0 ? now - c->stop_at : 0.0);
    if (rc == 0 && frames > 0)
        json_object_set_new(d, "links", srv_call_links(c->id));
    else
        json_object_set_new(d, "error", json_string(err.msg));
    ev_add(c, "done", d);
    json_decref(d);
    c->state = L_DONE;
    c->done_at = now;
    if (c->raw_fd >= 0) {
        close(c->raw_fd);
        c->raw_fd = -1;
    }
    if (c->raw_path[0]) {
        unlink(c->raw_path);
        c->raw_path[0] = '\0';
    }
    pthread_mutex_unlock(&c->mu);
    sdra_log_ctx lc = {.call_id = c->id, .duration_ms = -1};
    if (rc == 0)
        sdra_logc(SDRA_LOG_INFO, &lc, "live call ended: %.1f s of audio, %zu utterances", t->duration_s, t->n_utts);
    else
        sdra_logc(SDRA_LOG_ERROR, &lc, "live call could not be stored: %s", err.msg);
    char labels[40];
    snprintf(labels, sizeof labels, "outcome=\"%s\"", rc < 0 ? "failed" : frames ? "stored" : "empty");
    sdra_obs_inc(s->obs, "sdra_live_calls_total", labels, 1);
    srv_notify_event(s);
    return rc;
}

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
    call_unref(k->s->live, c);
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
    registry_sweep(L, sdra_clock_s());
    live_call *c = L->calls;
    while (c && strcmp(c->id, id))
        c = c->next;
    if (c) {
        pthread_mutex_lock(&c->mu);
        int st = c->state;
        bool same = c->rate_hz == rate && c->n_ch == n_ch;
        if (st == L_DETACHED && same) {
            c->state = L_STREAMING;
            c->attached = true;
            c->reconnects++;
            for (int i = 0; i < c->n_ch; i++)
                k->ts_base[i] = c->ch[i].received;
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
        sdra_log_ctx lc = {.call_id = id, .duration_ms = -1};
        sdra_logc(SDRA_LOG_INFO, &lc, "live call reconnected");
        return 0;
    }
    if (active_calls(L) >= s->p.max_live_calls) {
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
    if (code == 0 && pthread_create(&c->dec, NULL, dec_main, c) != 0) {
        snprintf(why, wn, "cannot start the decoder");
        code = SDRA_WS_INTERNAL;
    }
    if (code) {
        pthread_mutex_unlock(&L->mu);
        call_free(c);
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
    if (tok && token_auth(k->s, tok, k->org, k->key_id, &reason) == 0) {
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
        if (want > have + 800) {
            static const int16_t zeros[800];
            int64_t gap = want - have;
            if (gap > 8000 * 5)
                gap = 8000 * 5; /* at most 5 s of silence per message */
            while (gap > 0) {
                size_t z = gap > 800 ? 800 : (size_t)gap;
                call_audio(c, ch, zeros, z);
                gap -= (int64_t)z;
            }
        }
    }
    if (call_audio(c, ch, pcm, n) < 0) {
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
            if (call_audio(c, ch, buf[ch], m) < 0) {
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
static void *conn_main(void *arg)
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
        call_unref(L, c);
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
    if (pthread_create(&th, NULL, conn_main, k) != 0) {
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
        if (tok && token_auth(s, tok, k->org, k->key_id, &why) < 0) {
            free(k);
            if (srv_audit(r, "-", "auth.fail", "", why) < 0)
                return srv_send_audit_failed(r, c);
            return srv_send_error(r, c, 401, "unauthorized", "%s", why);
        }
        k->authed = tok != NULL;
        /* else the token comes in the start message (Twilio's customParameters) */
    }
    pthread_mutex_lock(&L->mu);
    registry_sweep(L, sdra_clock_s());
    int busy = active_calls(L) + L->n_pending;
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
            call_free(c);
    }
    pthread_mutex_unlock(&L->mu);
    pthread_mutex_destroy(&L->mu);
    pthread_cond_destroy(&L->cv);
    sdra_asr_cache_destroy(L->decoders);
    sodium_memzero(L->token_key, sizeof L->token_key);
    free(L);
    s->live = NULL;
}
