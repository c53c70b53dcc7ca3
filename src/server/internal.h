/*
 * internal.h - what the files of the server module share: the server object, the worker
 * pools (worker.c), the HTTP layer (http.c, upload.c, events.c) and helpers (util in server.c).
 */
#ifndef SDRA_SERVER_INTERNAL_H
#define SDRA_SERVER_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "sdra/obs.h"
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
};

/* server.c */
void srv_notify_stage(struct sdra_server *s, int stage); /* a job of stage was queued */
void srv_notify_event(struct sdra_server *s);            /* some job changed state */
int srv_call_dir(const struct sdra_server *s, char *out, size_t n, const char *call_id);
int srv_rm_rf(const char *path);
int srv_sha256_file(const char *path, char hex[65], int64_t *size_out, sdra_error *err);

/* worker.c */
int srv_workers_start(struct sdra_server *s, sdra_error *err);
void srv_workers_stop(struct sdra_server *s);

/* http.c */
int srv_http_start(struct sdra_server *s, sdra_error *err);
void srv_http_stop(struct sdra_server *s);

#endif
