/*
 * internal.h - what the store's backends share (not public): the audit log's group commit.
 *
 * Audit appends come from every request thread and each must be durable before the request
 * is answered. Rather than one commit (one fsync) per entry, the first thread to find no
 * writer at work writes every entry queued so far (up to STORE_AUDIT_BATCH_MAX) in one
 * transaction through the backend's write_batch, while the others wait, then hands over. A
 * failed batch fails each of its entries with the same error.
 */
#ifndef SDRA_STORE_INTERNAL_H
#define SDRA_STORE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "sdra/store.h"

#define STORE_AUDIT_BATCH_MAX 64

typedef struct store_audit_waiter {
    struct store_audit_waiter *next;
    sdra_store_audit_entry *e;
    bool done;
    int rc;
    sdra_error err;
} store_audit_waiter;

typedef struct store_audit_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    store_audit_waiter *head, **tail;
    bool writing;
} store_audit_queue;

/* Writes the entries of batch (linked by next, oldest first) in one transaction, chained to
 * the log's head: fills each e->id, e->prev_hash and e->hash. All or none. */
typedef int (*store_audit_write_fn)(sdra_store *s, store_audit_waiter *batch, sdra_error *err);

void store_audit_queue_init(store_audit_queue *q);
void store_audit_queue_release(store_audit_queue *q);
/* Queues e and returns once it is committed (0) or has failed (e->id 0, err set). */
int store_audit_group_append(store_audit_queue *q, sdra_store *s, store_audit_write_fn write_batch,
                             sdra_store_audit_entry *e, sdra_error *err);

/* Whether verb (approve, retry, cancel) may change the outbox entry key, now in state (its
 * name): 0 when it may, else SDRA_EEXISTS with a message naming the state. The backends call it
 * with the entry's row locked, so that the check and the change are one step. */
int store_outbox_verb_check(const char *key, const char *state, sdra_outbox_verb verb, sdra_error *err);

#endif
