/*
 * internal.h - what the files of the server module share: the server object, the worker
 * pools (worker.c), the HTTP layer (http.c, views.c, events.c, upload.c) and helpers (server.c).
 */
#ifndef SDRA_SERVER_INTERNAL_H
#define SDRA_SERVER_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include <jansson.h>
#include <limits.h>

#include "sdra/blob.h"
#include "sdra/call.h"
#include "sdra/crypt.h"
#include "sdra/obs.h"
#include "sdra/seal.h"
#include "sdra/server.h"

typedef struct worker_slot {
    struct sdra_server *srv;
    int stage;
    int index;
    pthread_t thread;
    bool started;
    bool busy;               /* holds job (guarded by srv->mu) */
    sdra_store_job job;
    atomic_bool lost;        /* the heartbeat found the lease taken: ask the stage to stop */
    char owner[SDRA_STORE_ID_MAX];
} worker_slot;

struct sdra_server {
    sdra_server_params p;
    char data_dir[1024];
    sdra_stage stages[SDRA_SERVER_MAX_STAGES];
    int n_stages;
    sdra_store *store;
    sdra_obs *obs;
    struct MHD_Daemon *mhd;
    int port;

    pthread_mutex_t mu;
    pthread_cond_t stage_cv[SDRA_SERVER_MAX_STAGES];
    unsigned long wake_seq[SDRA_SERVER_MAX_STAGES];
    pthread_cond_t hb_cv;
    pthread_cond_t ev_cv;    /* broadcast on every job state change (event streams) */
    unsigned long ev_seq;
    atomic_bool stopping;

    worker_slot *slots;
    int n_slots;
    pthread_t hb_thread;
    bool hb_started;
    int in_flight[SDRA_SERVER_MAX_STAGES]; /* guarded by mu */

    /* the HTTP layer's own bookkeeping (http.c, events.c), guarded by http_mu; lock order:
     * http_mu, then mu, then MHD's internal locks */
    pthread_mutex_t http_mu;
    struct srv_conn *conns;      /* open connections, for the header and body deadlines */
    struct sse *streams;         /* open event streams, resumed by the ticker */
    pthread_t ticker;
    bool ticker_started;

    struct srv_idem *idem;       /* idempotency keys being submitted (guarded by mu) */
    bool tls;                    /* HTTPS: responses carry Strict-Transport-Security */
    char *tls_cert, *tls_key;    /* the PEM texts, kept until MHD is stopped */
    char mhd_error[256];         /* MHD's last log line while starting (why it did not start) */
    pthread_cond_t idem_cv;      /* broadcast when one of them is settled */

    pthread_t ret_thread;        /* the retention sweeper (privacy.c), woken by ret_cv under mu */
    bool ret_started;
    pthread_cond_t ret_cv;
    struct srv_keyring *kr;      /* encryption at rest (at_rest.c); NULL with --no-encrypt */
    /* the outbox delivery thread (outbox.c), woken through ob_cv under mu */
    pthread_t ob_thread;
    bool ob_started;
    pthread_cond_t ob_cv;
    unsigned long ob_seq;
    char ob_owner[SDRA_STORE_ID_MAX];
    /* the search backfill at start (web.c) */
    pthread_t sb_thread;
    bool sb_started;
    /* scale-out (worker.c): draining stops the claims (sdra_server_drain); the watch thread
     * wakes this process's workers, event streams and outbox on other processes' news
     * (sdra_store_wait_work) */
    atomic_bool draining;
    pthread_t watch_thread;
    bool watch_started;
    struct sdra_blob *blob;      /* audio and artifacts (blob_io.c, --blob); never NULL once started */
    struct srv_live *live;       /* live calls (live.c) */
};

/* server.c */
void srv_notify_stage(struct sdra_server *s, int stage); /* a job of stage was queued */
void srv_notify_event(struct sdra_server *s);            /* some job changed state */
int srv_call_dir(const struct sdra_server *s, char *out, size_t n, const char *call_id);
int srv_rm_rf(const char *path);
int srv_sha256_file(const char *path, char hex[65], int64_t *size_out, sdra_error *err);

/* Call submission and deletion (server.c): what talks to the store and the filesystem.
 * srv_call_submit stores an upload whose audio is at tmp_path (fsynced): the call id is random,
 * or derived from the API key id and idem_key when one is given. Under one Idempotency-Key only
 * one submission runs at a time: the id is reserved in this process (concurrent submissions
 * wait for it and get its answer), and across processes the call directory is created with an
 * exclusive mkdir, so a submission never writes to or removes a directory it did not create.
 * Then the audio is moved in, call.json written, and the call row with its first job inserted
 * in one transaction. ci->id and ci->audio are set here. On success out says what to answer:
 * 202 "queued" when the call was created by this submission or by one with the same key that
 * committed after this request began (started_ms): concurrent duplicates get the creator's
 * answer; 200 with the call's status when it was created before (a later retry).
 * tmp_path is emptied once the file has been moved. */
typedef struct srv_submit_answer {
    int http_status;                  /* 202 or 200 */
    char id[SDRA_STORE_ID_MAX];
    char status[SDRA_STORE_STATE_MAX]; /* the call's status */
} srv_submit_answer;
int srv_call_submit(struct sdra_server *s, const char *org, const char *key_id, const char *ip, const char *idem_key, int64_t started_ms,
                    char *tmp_path, const char *audio_name, size_t bytes, sdra_call_info *ci,
                    const struct sdra_crypt_key *dk, srv_submit_answer *out, sdra_error *err);
/* The id srv_call_submit gives a call: derived from key_id and idem_key, else random. With
 * encryption at rest the upload chooses it when it begins (its data key is named by it), and
 * srv_call_submit takes it from dk (tmp_path then holds the audio encrypted under dk, and
 * call.json and the stored metadata are encrypted under it too). */
void srv_call_id_make(const char *key_id, const char *idem_key, char id[24]);
/* Deletes a call: an audit entry naming actor and ip first (no entry, no deletion), then its
 * rows (one transaction), a running stage asked to stop, its directory and what the sync
 * stage wrote to the local CRM. */
int srv_call_delete(struct sdra_server *s, const char *org, const char *call_id, const char *actor, const char *ip,
                    sdra_error *err);
/* The same with the audit action to record (NULL: the caller has audited it) and keep_crm
 * (retention keeps what was synced to the CRM unless its policy says otherwise); org NULL
 * (the sweeper): any organisation, the audit entry and CRM rows in the call's own. */
int srv_call_delete_ex(struct sdra_server *s, const char *org, const char *call_id, const char *actor, const char *ip,
                       const char *action, bool keep_crm, sdra_error *err);
/* Appends an audit entry (finding 8); logs the failure. Every caller must refuse the request
 * when this fails: an action or a read of call data is never left out of the trail. */
int srv_audit_write(struct sdra_server *s, const char *actor, const char *ip, const char *action, const char *target,
                    const char *detail, sdra_error *err);
/* The same for an entry of organisation org (the acting key's; srv_audit_write: none). */
int srv_audit_write_org(struct sdra_server *s, const char *org, const char *actor, const char *ip, const char *action,
                        const char *target, const char *detail, sdra_error *err);

/* redact.c: stored audio after upload. srv_call_audio_replace is the one place that rewrites
 * a call's stored audio: new_path (a file in the call directory dir) is renamed to name, the
 * call's metadata (store and call.json) names it, with note (may be NULL) recorded under
 * "audio_redacted", and every other audio.* file of the call is removed. srv_call_audio_redact
 * runs after the transcribe stage when p.redact_audio is set: an audit entry, then the spans
 * the transcript recorded (meta.redaction) silenced or toned in a WAV that replaces the audio.
 * On failure the stage fails (and is retried); the audio is either the old or the new file. */
int srv_call_audio_replace(struct sdra_server *s, const char *call_id, const char *dir, const char *new_path,
                           const char *name, json_t *note, sdra_error *err);
int srv_call_audio_redact(struct sdra_server *s, const char *call_id, const char *dir, sdra_error *err);

/* at_rest.c: the master key, the calls' data keys, and the sealing table (sdra/seal.h) a
 * thread installs while it works on one call. */
typedef struct srv_keyring srv_keyring;
typedef struct srv_seal {
    sdra_seal_ops ops;
    const sdra_seal_ops *prev;
    srv_keyring *kr;
    sdra_crypt_key *dk; /* the call's key (owned), or NULL */
    bool active;
} srv_seal;
int srv_keyring_open(srv_keyring **out, sdra_store *store, const char *data_dir, const char *key_file,
                     const char *key_cmd, sdra_error *err);
void srv_keyring_close(srv_keyring *kr);
/* What the server should warn about once it is up (the master key next to the data), or NULL:
 * a start that fails says one line, not this. */
const char *srv_keyring_warning(const srv_keyring *kr);
const char *srv_keyring_master_id(const srv_keyring *kr);
/* Stores k wrapped by the master under k's id (replace: over a leftover one). */
int srv_keyring_store_key(srv_keyring *kr, const sdra_crypt_key *k, bool replace, sdra_error *err);
int srv_keyring_new_key(srv_keyring *kr, const char *id, sdra_crypt_key **out, sdra_error *err);
int srv_keyring_key(srv_keyring *kr, const char *id, sdra_crypt_key **out, sdra_error *err);
void srv_seal_init(srv_seal *sl, srv_keyring *kr, sdra_crypt_key *dk);
/* With encryption on, installs the sealing table with call_id's key (NULL: reading only) on
 * this thread; a no-op without. srv_seal_end restores the previous table and wipes the key. */
int srv_seal_begin(struct sdra_server *s, srv_seal *sl, const char *call_id, sdra_error *err);
void srv_seal_end(srv_seal *sl);
/* For a file that is encrypted at rest (else *out NULL, fd untouched): a reader of its
 * plaintext, fd rewound. */
int srv_open_plain(struct sdra_server *s, int fd, struct sdra_crypt_reader **out, sdra_error *err);
/* srv_sha256_file over the plaintext: artifacts' sha256 and size are the served bytes'. */
int srv_sha256_plain(struct sdra_server *s, const char *path, char hex[65], int64_t *size_out, sdra_error *err);
/* 1 with a response streaming the decrypted file (owning fd), 0 when fd is plaintext, < 0. */
int srv_plain_response(struct sdra_server *s, int fd, int64_t file_bytes, struct MHD_Response **out, sdra_error *err);
/* The same for len plaintext bytes from first, over a reader srv_open_plain opened on fd: 1
 * with the response owning r and fd, or < 0 with r closed and fd left to the caller. */
int srv_plain_response_range(struct sdra_crypt_reader *r, int fd, int64_t first, uint64_t len,
                             struct MHD_Response **out, sdra_error *err);
/* The body and type of an {"error":{"code","message"}} response, for callers that add their
 * own headers (srv_send_error otherwise); NULL when out of memory. */
struct MHD_Response *srv_error_response(const char *code, const char *msg);
/* Replaces a sealed metadata document (store) by its plaintext; plaintext is left alone. */
int srv_meta_open(struct sdra_server *s, char **meta_json, sdra_error *err);

/* The same, for a call whose id the caller chose (id; NULL: as srv_call_submit) and with one
 * more file (extra_tmp, NULL: none) moved into the call's directory as extra_name before the
 * call is committed (a live call's transcript, live_decode.c). */
int srv_call_submit_ex(struct sdra_server *s, const char *org, const char *key_id, const char *ip, const char *idem_key,
                       int64_t started_ms, char *tmp_path, const char *audio_name, size_t bytes, sdra_call_info *ci,
                       const struct sdra_crypt_key *dk, srv_submit_answer *out, sdra_error *err, const char *id,
                       const char *extra_tmp, const char *extra_name);

/* worker.c */
int srv_workers_start(struct sdra_server *s, sdra_error *err);
void srv_workers_stop(struct sdra_server *s);
/* The watch thread: started on every server, ended by s->stopping (srv_watch_stop joins it). */
int srv_watch_start(struct sdra_server *s, sdra_error *err);
void srv_watch_stop(struct sdra_server *s);


/* ---- the HTTP layer: http.c (routing, auth, responses, callbacks), views.c, events.c, upload.c */

#define FIELD_MAX 512          /* one metadata form field or query value */
#define LIST_MAX 100           /* calls per page */
#define PP_BUFFER 32768        /* post processor buffer */
#define SRV_DRAIN_MAX (16u << 20) /* the most body bytes read and dropped to deliver an early refusal */

enum route {
    R_NONE, R_HEALTH, R_READY, R_METRICS, R_OPENAPI, R_CALLS, R_CALL, R_ARTIFACT, R_AUDIO, R_EVENTS, R_RETRY,
    R_KEYS, R_KEY, R_KEY_REVOKE, /* keys.c: /v1/keys, /v1/keys/{id}, /v1/keys/{id}/revoke */
    R_PRIVACY_EXPORT, R_PRIVACY_ERASE, R_RETENTION, /* privacy.c */
    R_VIEW, /* views.c: /v1/calls/{id}/view */
    R_OUTBOX, R_OUTBOX_ITEM, R_OUTBOX_ACTION, /* outbox.c: /v1/outbox, /{id}, /{id}/approve|retry|cancel */
    R_WEB, R_SESSION, R_EMAIL_DRAFT, R_EMAIL_APPROVE, R_STATS_TEAM, /* web.c */
    R_LIVE_TWILIO, R_LIVE_PCM, R_LIVE_TOKENS, R_LIVE_EVENTS, /* live.c */
    R_LIVE_CALLS, /* live.c: GET /v1/live/calls, the live calls in progress */
    SRV_N_ROUTES
};
extern const char *const srv_route_names[SRV_N_ROUTES];

#define N_META 13 /* ..., callback_url, send_at, contact_timezone (the outbox and the web app schedule in it) */
extern const char *const srv_meta_fields[N_META];

typedef struct srv_audio_type {
    const char *ext, *ctype;
} srv_audio_type;
#define SRV_N_AUDIO_TYPES 8
extern const srv_audio_type srv_audio_types[SRV_N_AUDIO_TYPES];

typedef struct req {
    struct sdra_server *s;
    double t0;
    int64_t started_ms;  /* wall clock when the request arrived (request_arrival_ms) */
    enum route route;
    int status;
    const char *method;
    char call_id[SDRA_STORE_ID_MAX];
    char sub[16];
    sdra_store_key key;        /* the caller's key: key.org scopes every store query */
    bool authed;
    char key_id[SDRA_STORE_ID_MAX]; /* /v1/keys/{id} */
    char ip[SDRA_STORE_AUDIT_IP_MAX]; /* the client's address, for the audit trail */
    /* upload */
    bool upload;
    struct MHD_PostProcessor *pp;
    int fd;
    char tmp_path[PATH_MAX];
    size_t bytes;
    bool got_audio_field;
    char meta[N_META][FIELD_MAX];
    bool meta_set[N_META];
    bool meta_seen[N_META]; /* seen in the form */
    int parts[N_META + 1];  /* form parts per field (N_META: audio) */
    int part_field;         /* field of the part being read (-1 before the first) */
    uint64_t part_end;      /* bytes of it so far */
    int fail_status;
    sdra_error fail;
    /* a small JSON request body (POST /v1/keys, PUT /v1/retention, POST /v1/privacy/erase),
     * NUL-terminated */
    char *body;
    size_t body_len;
    bool body_too_big;
    /* encryption at rest: the upload is encrypted as it arrives under the call's new key */
    struct sdra_crypt_writer *cw;
    struct sdra_crypt_key *dk;
    char new_id[24];                 /* the call id, chosen when the upload begins */
    unsigned char head[4096];        /* the first plaintext bytes, for the format sniffer */
    size_t head_n;
    char ob_key[128];                /* /v1/outbox/{id} */
    char web_path[256];              /* R_WEB: the file under <share>/web */
    char live_sid[64];               /* R_LIVE_EVENTS: the callSid */
    /* an answer given before the body was read (a refusal) is held until the body has been
     * read and dropped: closing on unread bytes resets the connection, and a client still
     * sending loses the answer (srv_queue) */
    bool heading;                    /* in the call that brought the headers */
    bool drain_ok;                   /* a body of a known, bounded size is to come */
    uint64_t drained;                /* body bytes dropped so far */
    struct MHD_Response *held;       /* the early answer, sent with r->status */
} req;

/* http.c: responses */
enum MHD_Result srv_queue(req *r, struct MHD_Connection *c, int status, struct MHD_Response *resp);
enum MHD_Result srv_send_text(req *r, struct MHD_Connection *c, int status, const char *ctype, char *body);
enum MHD_Result srv_send_json(req *r, struct MHD_Connection *c, int status, json_t *doc);
enum MHD_Result srv_send_error(req *r, struct MHD_Connection *c, int status, const char *code,
                               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
enum MHD_Result srv_send_sdra_error(req *r, struct MHD_Connection *c, const sdra_error *err);
enum MHD_Result srv_send_file(req *r, struct MHD_Connection *c, const char *path, const char *ctype,
                              const char *etag);
json_t *srv_time_or_null(int64_t ms);
/* http.c: the audit trail. srv_audit records r's key (or actor when not NULL) and address;
 * on failure the request is answered with srv_send_audit_failed (500, no data). Reads of call
 * data are recorded before the data is sent. */
int srv_audit(req *r, const char *actor, const char *action, const char *target, const char *detail);
enum MHD_Result srv_send_audit_failed(req *r, struct MHD_Connection *c);

/* http.c: true when r's key has scope (read < write < admin); else the request is answered
 * 403 insufficient_scope (it is the caller's own organisation) with an auth.fail audit entry,
 * and false returned: return r->status ? MHD_YES : MHD_NO then. Routes that need more than
 * their method's scope (GET read, else write) call it first:
 *     if (!srv_require_scope(r, c, "admin")) return r->status ? MHD_YES : MHD_NO; */
bool srv_require_scope(req *r, struct MHD_Connection *c, const char *scope);

/* keys.c: key management within the caller's organisation (admin scope) */
enum MHD_Result srv_keys_list(req *r, struct MHD_Connection *c);
enum MHD_Result srv_keys_create(req *r, struct MHD_Connection *c);
enum MHD_Result srv_key_delete(req *r, struct MHD_Connection *c);
enum MHD_Result srv_key_revoke(req *r, struct MHD_Connection *c);

/* views.c */
enum MHD_Result srv_get_call(req *r, struct MHD_Connection *c);
enum MHD_Result srv_list_calls(req *r, struct MHD_Connection *c);
enum MHD_Result srv_get_artifact(req *r, struct MHD_Connection *c);
enum MHD_Result srv_get_audio(req *r, struct MHD_Connection *c);
/* views.c: the call's view model (sdra.call_view/1, sdra/report.h) for the web app. */
enum MHD_Result srv_get_view(req *r, struct MHD_Connection *c);
/* views.c: the links of a call ({self, events, audio, view, report}), the same in the upload's
 * reply, its replays and GET /v1/calls/{id}. */
json_t *srv_call_links(const char *call_id);
/* views.c: the user-facing name of a job state (docs/service.md, "Status names"): queued,
 * running, done, failed (the store's "dead"). */
const char *srv_stage_state_name(int state);
enum MHD_Result srv_retry_call(req *r, struct MHD_Connection *c);
enum MHD_Result srv_delete_call(req *r, struct MHD_Connection *c);
enum MHD_Result srv_get_metrics(req *r, struct MHD_Connection *c);
enum MHD_Result srv_get_ready(req *r, struct MHD_Connection *c);

/* events.c: an idle stream suspends its connection (no thread waits for it); the ticker
 * resumes it on news or after a second. srv_events_release resumes every stream (stopping). */
enum MHD_Result srv_get_events(req *r, struct MHD_Connection *c);
void srv_events_tick(struct sdra_server *s, double now);
void srv_events_release(struct sdra_server *s);

/* upload.c */
enum MHD_Result srv_upload_begin(req *r, struct MHD_Connection *c);
void srv_upload_feed(req *r, const char *data, size_t n);
enum MHD_Result srv_upload_finish(req *r, struct MHD_Connection *c);

/* http.c: the small JSON request bodies of the key, erasure and retention routes (at most
 * srv_route_body_max, else 413) */
#define SRV_BODY_MAX (64u << 10)
#define SRV_KEY_BODY_MAX 1024u
size_t srv_route_body_max(enum route rt);
bool srv_route_wants_body(enum route rt);
void srv_body_append(req *r, const char *data, size_t n);

/* privacy.c: data-subject rights, retention and consent (issue 14) */
enum MHD_Result srv_privacy_export(req *r, struct MHD_Connection *c);
enum MHD_Result srv_privacy_erase(req *r, struct MHD_Connection *c);
enum MHD_Result srv_retention(req *r, struct MHD_Connection *c);
/* Refuses (422, consent_required) an upload without consent its org's policy requires; 0 when
 * it may go on, else the queued answer is in *ret. */
int srv_consent_check(req *r, struct MHD_Connection *c, const sdra_call_info *ci, enum MHD_Result *ret);
int srv_retention_start(struct sdra_server *s, sdra_error *err);
void srv_retention_stop(struct sdra_server *s);

/* web.c: the browser app (docs/web.md). Static files of <share>/web under a strict CSP;
 * srv_web_path_ok tells whether a path may name one ([A-Za-z0-9._-/], no "..", relative). */
#define SRV_WEB_PATH_MAX 256
#define SRV_MEDIA_COOKIE "sdra_media"
bool srv_web_path_ok(const char *p);
enum MHD_Result srv_web_static(req *r, struct MHD_Connection *c);
/* Serves path (plaintext or encrypted at rest) honouring one Range (206, 416, Accept-Ranges). */
enum MHD_Result srv_send_ranged(req *r, struct MHD_Connection *c, const char *path, const char *ctype);
/* The media cookie's key (true) when the request carries a well-formed one. */
bool srv_media_cookie(struct MHD_Connection *c, char *out, size_t n);
enum MHD_Result srv_session(req *r, struct MHD_Connection *c);
enum MHD_Result srv_email_draft(req *r, struct MHD_Connection *c); /* draft GET/PUT and approve */
enum MHD_Result srv_stats_team(req *r, struct MHD_Connection *c);
/* Replaces call_id's search row from what its directory holds (meta, transcript, analysis,
 * email); runs with the call's seal installed, so terms are hashed when it is encrypted. */
int srv_search_index(struct sdra_server *s, const char *call_id, const char *org, const char *dir, sdra_error *err);
/* For GET /v1/calls with q, outcome, objection, from or to: the matching page in out (1), or 0
 * when the request has none of them (the plain list applies), or < 0. */
int srv_calls_search(req *r, struct MHD_Connection *c, const char *status, int offset, int limit, sdra_store_call *out,
                     int *n_out, sdra_error *err);
/* Indexes the finished calls without a search row (stored before the index existed), in
 * batches, logging progress; stops early when the server stops. 0 also when the store has no
 * search. The thread that runs it at start, and joining it (after s->stopping is set). */
int srv_search_backfill(struct sdra_server *s, int *n_indexed, int *n_failed, sdra_error *err);
int srv_search_backfill_start(struct sdra_server *s, sdra_error *err);
void srv_search_backfill_stop(struct sdra_server *s);

/* http.c */
int srv_http_start(struct sdra_server *s, sdra_error *err);
void srv_http_stop(struct sdra_server *s);

/* outbox.c: the delivery thread (started when p.outbox is set) and the /v1/outbox routes */
int srv_outbox_start(struct sdra_server *s, sdra_error *err);
void srv_outbox_stop(struct sdra_server *s);
void srv_outbox_notify(struct sdra_server *s); /* entries were queued or changed */
enum MHD_Result srv_outbox_list(req *r, struct MHD_Connection *c);
enum MHD_Result srv_outbox_get(req *r, struct MHD_Connection *c);
enum MHD_Result srv_outbox_action(req *r, struct MHD_Connection *c);
/* outbox.c: approving a held entry with the rep's choices (the web app's email review): an
 * email's delivery mode ("send" or "draft"; "" keeps the planned one) and when it may go
 * (send_at_ms: -1 keeps the planned time, 0 at once). */
typedef struct srv_approve_choice {
    char mode[8];
    int64_t send_at_ms;
} srv_approve_choice;
/* Parses an approval body {"mode", "send_at"} (NULL or "": no choices); SDRA_EINVAL with a
 * one-line reason for a bad mode, a malformed, past or far-off send_at. */
int srv_approve_choice_parse(srv_approve_choice *ch, const char *body, int64_t now_ms, sdra_error *err);
/* Approves org's held entry key with ch (NULL: as planned). The store's errors (SDRA_EEXISTS: not
 * held), SDRA_EINVAL for a mode on an entry that is not an email. */
int srv_outbox_approve_as(struct sdra_server *s, const char *org, const char *key, const srv_approve_choice *ch,
                          sdra_error *err);
enum MHD_Result srv_outbox_approve_body(req *r, struct MHD_Connection *c);
/* blob_io.c: the object store behind DATA/calls/<id>/ (sdra/blob.h). srv_blob_pull fetches
 * the call's objects that dir lacks and, with snap, notes what dir then holds; srv_blob_push
 * stores what changed since snap (everything with NULL) and removes the objects of files
 * removed since. srv_blob_local makes sure the file at path (object rel) is here and, when
 * newer_than_ms > 0, no older than that (refetched otherwise). srv_blob_forget removes every
 * object of a call. Failures of the store are retryable. srv_blob_rights_hooks points a
 * rights context's object hooks (export, erasure, retention) at the store. */
#define SRV_BLOB_SNAP_MAX 48
typedef struct srv_blob_snap {
    int n;
    struct srv_blob_file {
        char name[64];
        int64_t size;
        struct timespec mtime;
    } f[SRV_BLOB_SNAP_MAX];
} srv_blob_snap;
int srv_blob_open(struct sdra_server *s, sdra_error *err);
int srv_blob_pull(struct sdra_server *s, const char *call_id, const char *dir, srv_blob_snap *snap, sdra_error *err);
int srv_blob_push(struct sdra_server *s, const char *call_id, const char *dir, const srv_blob_snap *snap,
                  sdra_error *err);
int srv_blob_local(struct sdra_server *s, const char *rel, const char *path, int64_t newer_than_ms, sdra_error *err);
int srv_blob_forget(struct sdra_server *s, const char *call_id, sdra_error *err);
int srv_blob_store(struct sdra_server *s, const char *rel, const char *path, sdra_error *err); /* path -> object rel */
struct sdra_rights_ctx;
void srv_blob_rights_hooks(struct sdra_server *s, struct sdra_rights_ctx *cx);
/* live.c: live calls over WebSocket (docs/live.md). srv_live_upgrade answers the upgrade of
 * /v1/live/twilio and /v1/live/pcm (r->authed when an API key came in Authorization; else a
 * token in the query or the start message); srv_live_token is POST /v1/live/tokens. The event
 * streams (events.c) read a live call's events through srv_live_sse: it appends the events
 * after *seen to out and returns 1 once the call's `done` was appended. */
int srv_live_start(struct sdra_server *s, sdra_error *err);
void srv_live_stop(struct sdra_server *s);
void srv_live_metrics(struct sdra_server *s);
enum MHD_Result srv_live_upgrade(req *r, struct MHD_Connection *c);
enum MHD_Result srv_live_token(req *r, struct MHD_Connection *c);
/* Sets r->route (and r->live_sid) for the path p after "/v1/live/"; leaves R_NONE when nothing
 * matches. */
void srv_live_route(req *r, const char *p);
bool srv_live_known(struct sdra_server *s, const char *org, const char *call_id);
void srv_live_call_id(const char *org, const char *call_sid, char out[24]);
struct sdra_buf;
int srv_live_sse(struct sdra_server *s, const char *org, const char *call_id, unsigned long *seen, struct sdra_buf *out,
                 unsigned long *n_events);
enum MHD_Result srv_live_calls(req *r, struct MHD_Connection *c); /* GET /v1/live/calls */
#endif
