/*
 * sdra/server.h - `sdra serve`: the HTTP API (libmicrohttpd) in front of the durable job store,
 * and the stage workers that run the pipeline's stages on uploaded calls.
 *
 * Everything lives in one data directory: sdra.db (the job store, SQLite WAL), calls/<id>/ (the
 * audio, call.json and each stage's artifacts), tmp/ (uploads in progress) and the local CRM.
 * Each stage has its own pool of worker threads (its own concurrency); workers sleep on a
 * condition variable and are woken when a job of their stage is queued. A job is claimed with a
 * lease that a heartbeat renews; after a crash the lease expires and the job is taken again.
 * Completing a stage is one store transaction (artifacts + job done + next stage queued).
 *
 *     sdra_server_params p = sdra_server_default_params();
 *     p.listen = "127.0.0.1:0";
 *     p.data_dir = "/var/lib/sdra";
 *     sdra_server *srv = NULL;
 *     if (sdra_server_start(&srv, &p, &err) < 0) ...
 *     printf("port %d\n", sdra_server_port(srv));
 *     ... wait for a signal ...
 *     sdra_server_stop(srv);
 *
 * The API is described by data/api/openapi.json (served at GET /v1/openapi.json).
 */
#ifndef SDRA_SERVER_H
#define SDRA_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sdra/error.h"
#include "sdra/pipeline.h"
#include "sdra/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SDRA_SERVER_MAX_STAGES 16
#define SDRA_SERVER_MAX_WORKERS 64 /* per stage */

typedef struct sdra_server sdra_server;

typedef struct sdra_server_params {
    const char *listen;          /* "HOST:PORT" (IPv4); PORT 0 picks a free port */
    const char *data_dir;        /* required */
    const sdra_stage *stages;    /* stage table; NULL = the pipeline's (sdra_pipeline_stage) */
    int n_stages;
    int concurrency[SDRA_SERVER_MAX_STAGES]; /* workers per stage; 0 = default (1) */
    bool run_workers;            /* run the stage workers in this process (default true) */
    int max_active_calls;        /* backpressure: calls queued or running; 503 beyond (64) */
    size_t max_upload_bytes;     /* one upload (256 MiB) */
    size_t max_header_bytes;     /* request line + headers per connection (32 KiB) */
    int max_connections;         /* concurrent connections (1024) */
    int request_timeout_s;       /* idle connection timeout: slow clients are cut (30) */
    int max_connections_per_ip;  /* concurrent connections from one client address; 0 = no cap (128) */
    int header_timeout_s;        /* the whole request line + headers must arrive within this (10) */
    int min_body_rate;           /* bytes/s a request body must average after a grace of
                                  * header_timeout_s, or the connection is cut (1024) */
    int http_threads;            /* event-loop threads serving connections (4) */
    int64_t lease_ms;            /* job lease; renewed every lease_ms / 3 (30000) */
    int max_attempts;            /* claims before a job is dead (5) */
    int64_t retry_base_ms;       /* backoff after the first failure, doubled after each (2000) */
    int64_t retry_max_ms;        /* backoff ceiling (300000) */
    int sse_keepalive_s;         /* comment line on idle event streams (15) */
    const char *tls_cert_path;   /* PEM certificate (chain) and private key: HTTPS only, with */
    const char *tls_key_path;    /* Strict-Transport-Security; both or neither (NULL: plain HTTP) */
    const sdra_pipeline_options *options; /* passed to every stage; may be NULL */
    int redact_audio;            /* with options->redact_classes: once the transcribe stage has
                                  * the redacted spans, the stored audio is replaced by a WAV in
                                  * which they are silence (1) or a tone (2); 0 keeps the upload */
    int retention_sweep_s;       /* retention sweeper period; 0 = off (3600) */
    int64_t retention_clock_offset_ms; /* testing aid: added to the sweeper's clock (0) */
    /* encryption at rest (docs/security.md): on unless no_encrypt; the master key from
     * master_key_file, master_key_cmd or $SDRA_MASTER_KEY, else DATA/master.key (made once) */
    bool no_encrypt;
    const char *master_key_file;
    const char *master_key_cmd;
    /* the outbox (sdra/outbox.h): effects planned with each stage's completion and a delivery
     * thread; NULL: no effects are recorded (data_dir and the hooks are the server's own) */
    const struct sdra_outbox_params *outbox;
    /* scale-out (docs/deploy.md): several processes, on one machine or many, share one store */
    const char *store_url;       /* the job store: "sqlite:PATH", "postgres://..." (sdra_store_open);
                                  * NULL: $SDRA_STORE when set, else
                                  * DATA/sdra.db */
    bool worker_only;            /* a stage worker (`sdra worker`): no API, no upload recovery;
                                  * listen (NULL: none) serves /healthz, /readyz, /metrics only */
    uint32_t stage_mask;         /* stages whose workers run here: bit i = stage i; 0 = every one */
    /* where audio and artifacts live (sdra/blob.h): s3://BUCKET/PREFIX, file://DIR or a
     * directory; NULL = the data directory (DATA/calls/<id>/, as always). DATA/calls/ is then
     * the working copy of the machine (docs/deploy.md, "Object storage"). */
    const char *blob_url;
    /* live calls (docs/live.md) */
    int max_live_calls;          /* streaming or awaiting a reconnect; 503 / close 1013 beyond (8) */
    double live_grace_s;         /* a dropped stream's call waits this long for a reconnect (30) */
    double live_backlog_s;       /* audio per channel awaiting recognition; more is left out (30) */
    const char *live_rep_track;  /* Twilio track of the rep: "outbound" (default) or "inbound" */
    /* the live coach's thresholds (sdra_coach_params_set): "name=value" each, applied in order */
#define SDRA_SERVER_LIVE_COACH_MAX 8
    const char *live_coach_set[SDRA_SERVER_LIVE_COACH_MAX];
    int n_live_coach_set;
    /* a live channel this far behind (s of audio not yet recognized) switches to the fast search
       until it is back within 1 s (docs/live.md, "Degraded mode"); 0 = never (5) */
    double live_degrade_lag_s;
} sdra_server_params;

sdra_server_params sdra_server_default_params(void);

/* Opens the store, cleans up after a crash (unfinished uploads, orphan call directories),
 * starts the workers and the HTTP listener. On failure nothing is left running. */
int sdra_server_start(sdra_server **out, const sdra_server_params *p, sdra_error *err);

/* Graceful stop of the stage workers (SIGTERM on `sdra worker`): no job is claimed any more,
 * and the running ones may finish within deadline_ms. Returns the number of jobs still
 * running then (0: all finished): their leases are released in the store at once (queued
 * again for any worker, the attempt not counted against them) and their stages asked to stop;
 * a result they still produce is refused. /readyz answers 503 from the first call on. Call it
 * at most once, before sdra_server_stop. */
int sdra_server_drain(sdra_server *s, int deadline_ms);

/* The TCP port actually listened on (-1 when the server has no listener). */
int sdra_server_port(const sdra_server *s);

/* Stops accepting, ends event streams, lets running stages see a cancel request, joins every
 * thread and closes the store. Accepts NULL. */
void sdra_server_stop(sdra_server *s);

/* Encryption at rest (docs/security.md): the data key id (a call id, "crm-fields", ...) stored
 * in the store, unwrapped with master. SDRA_ENOTFOUND when there is none (a deleted call),
 * SDRA_EDENIED when another master wrapped it. */
struct sdra_crypt_key;
/* For commands that work on a server's data directory without a server (sdra privacy): when
 * a master key is given (key_file, key_cmd, $SDRA_MASTER_KEY) or DATA/master.key exists,
 * installs on the calling thread a sealing table (sdra/seal.h) that opens any call's files
 * and fields and looks CRM contacts up by their blind index, until _end; *out is NULL (and
 * nothing installed) for a plaintext directory. Never creates a key. */
typedef struct sdra_server_unseal sdra_server_unseal;
int sdra_server_unseal_begin(sdra_server_unseal **out, sdra_store *store, const char *data_dir, const char *key_file,
                             const char *key_cmd, sdra_error *err);
void sdra_server_unseal_end(sdra_server_unseal *u); /* accepts NULL */
int sdra_server_data_key(sdra_store *store, const struct sdra_crypt_key *master, const char *id,
                         struct sdra_crypt_key **out, sdra_error *err);

/* Opens the job store of a data directory (DIR/sdra.db, DIR created 0700 when missing), or the
 * one $SDRA_STORE names when it is set (any sdra_store_open location: postgres://...), so that
 * every command working on a server's data sees the store the server uses. */
int sdra_server_store_open(sdra_store **out, const char *data_dir, sdra_error *err);

/* API keys: "sdra_<id>_<secret>", id 12 hex digits, secret 64 hex digits (256 bits from
 * libsodium); only a BLAKE2b hash of the key is stored. key_out receives the key (needs
 * SDRA_SERVER_KEY_MAX bytes) and is shown once. scope: read | write | admin. */
#define SDRA_SERVER_KEY_MAX 96
int sdra_server_key_create(sdra_store *st, const char *name, const char *scope, char *key_out,
                           size_t n, sdra_error *err);

/* The same for a key of organisation org ([a-z0-9-], 1..63; SDRA_EINVAL otherwise);
 * sdra_server_key_create makes keys of "default". */
int sdra_server_org_key_create(sdra_store *st, const char *org, const char *name, const char *scope, char *key_out,
                               size_t n, sdra_error *err);

/* Checks a presented key: SDRA_EDENIED (with a message that does not echo the key) when it is
 * malformed, unknown, revoked or its hash does not match; else fills *out. */
int sdra_server_key_verify(sdra_store *st, const char *key, sdra_store_key *out, sdra_error *err);

/* True when a key with scope `have` may do what needs scope `need` (read < write < admin). */
bool sdra_server_scope_allows(const char *have, const char *need);

/* Removes a stored call without a server running (what DELETE /v1/calls/{id} does after its
 * audit entry, for `sdra privacy erase|purge`): its rows in one transaction, its directory and,
 * unless keep_crm, what the sync stage wrote to the local CRM. The caller audits first.
 * SDRA_ENOTFOUND when the call is not stored. */
int sdra_server_call_remove(sdra_store *st, const char *data_dir, const char *org, const char *call_id, bool keep_crm,
                            sdra_error *err);

#ifdef __cplusplus
}
#endif
#endif
