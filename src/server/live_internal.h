/*
 * live_internal.h - what the three files of live calls (docs/live.md) share: the call, its
 * channels and events, a connection, the server's registry of calls (struct srv_live), the
 * limits, and the functions one file calls in another. Private to src/server; the public entry
 * points (srv_live_*) are declared in internal.h.
 *
 *   live.c         the registry and the calls' lifetime, the event list, stream tokens, the
 *                  upgrade and the routes, the event streams' reader, metrics, start and stop
 *   live_conn.c    the connection thread and the two wire protocols (Twilio Media Streams,
 *                  PCM); a start message starts a call (or continues it on a reconnect)
 *   live_decode.c  the call's audio in (recording, backlog), the decoder thread, and the
 *                  hang-up: the call stored like an upload
 *
 * Threads: MHD hands each upgraded connection's socket to a connection thread (live_conn_main),
 * which alone reads and writes it: it parses frames (sdra/ws.h), turns media into PCM per
 * channel, appends it to the call's recording and to a bounded backlog per channel, and sends
 * the call's new events back when the client asked for them. One decoder thread per call
 * (live_dec_main) feeds each channel's backlog to its own incremental recognizer (the
 * narrowband model for 8 kHz audio), appends every final utterance to the call's one transcript
 * (roles from the track), hands the transcript to the coach (sdra/live.h) and records the
 * events. The call outlives its connection: a connection that drops leaves the call waiting
 * grace_s for a reconnect with the same callSid, which continues it; `stop`, or the grace
 * running out, ends the decoding and the decoder thread stores the call.
 *
 * Who owns what: srv_live.mu guards the registry (calls, n_threads, n_pending, the cache counts
 * seen) and every call's refs; a call's mu guards the fields below it in live_call (its state,
 * the channels' backlogs and recording, the event list), and its cv, which the decoder waits
 * on, is broadcast on new audio, a new event, a state change and the server stopping. Lock
 * order: srv_live.mu, then a call's mu. A channel's recognizer (asr, base, partial) is the
 * decoder thread's alone; a live_conn is its connection thread's alone. A call is referred to
 * by the registry, its decoder and the connection attached to it (one more while a connection
 * that sent stop waits for the end); the last live_call_unref frees it.
 */
#ifndef SDRA_SERVER_LIVE_INTERNAL_H
#define SDRA_SERVER_LIVE_INTERNAL_H

#include "internal.h"

#include "sdra/asr.h"
#include "sdra/ws.h"

#include <sodium.h>

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

/* ---- live.c ------------------------------------------------------------------------------ */

/* Frees c, which no one refers to any more: its recognizers, events, key and raw recording. */
void live_call_free(live_call *c);
/* Drops one reference to c (takes L->mu); the last one frees it. */
void live_call_unref(struct srv_live *L, live_call *c);
/* The id of the live call callSid of org: the same for a reconnect, distinct across orgs. */
void live_call_id(const char *org, const char *sid, char out[24]);
/* Drops finished calls kept past LIVE_KEEP_S. Under L->mu. */
void live_registry_sweep(struct srv_live *L, double now);
/* How many calls of the registry are not done yet. Under L->mu. */
int live_active_calls(struct srv_live *L);
/* Records an event of the call (c->mu held) and wakes the event streams. */
void live_ev_add(live_call *c, const char *name, json_t *data);
/* The coach's sdra_coach_emit_fn for the call user (c->mu not held): records the event (a
 * "metrics" one with the call's lag and mode added) and counts alerts. */
void live_coach_emit(void *user, const char *event, json_t *data);
/* 0 with org and key id when tok is a valid, unexpired stream token whose key is still in the
 * store, of the same organisation and not revoked; -1 with a one-line reason in why else. */
int live_token_auth(struct sdra_server *s, const char *tok, char *org, char *key_id, const char **why);

/* ---- live_decode.c ----------------------------------------------------------------------- */

/* Takes n samples of channel ch: into the recording, and into the backlog when it has room
 * (what does not fit is counted as dropped). Takes c->mu; -1 when out of memory. */
int live_call_audio(live_call *c, int ch, const int16_t *pcm, size_t n);
/* The decoder thread of the call arg, started with a reference and an n_threads count of its
 * own: decodes until the call ends, stores it (its `done` event, state L_DONE), then drops both. */
void *live_dec_main(void *arg);

/* ---- live_conn.c ------------------------------------------------------------------------- */

/* The connection thread of the live_conn arg (its socket upgraded, an n_threads count of its
 * own): reads frames, handles messages, sends events; ends with a close, then frees arg and
 * drops its counts. */
void *live_conn_main(void *arg);

#endif
