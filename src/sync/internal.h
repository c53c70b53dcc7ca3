/*
 * internal.h - names the sync module shares between its files: the connector tables of the
 * backends (crm.c looks them up by name) and small JSON helpers used by sync.c.
 */
#ifndef SDRA_SYNC_INTERNAL_H
#define SDRA_SYNC_INTERNAL_H

#include "sdra/crm.h"

/* The embedded SQLite CRM (local.c). */
extern const struct sdra_crm_ops sdra_crm_local_ops;

/* The database file name inside the data directory. */
#define SDRA_CRM_LOCAL_FILE "crm.sqlite3"

/* Schema version the local backend writes (PRAGMA user_version). */
#define SDRA_CRM_LOCAL_SCHEMA_VERSION 2

/* The two bulk operations sdra_crm_sync needs, kept out of the public API (crm.c). A backend
 * without them (NULL in the ops table) reports 0 rows touched. */
int sdra_sync_prune_tasks(sdra_crm *crm, const char *call_id, const char *const *keys, int n_keys,
                          int *n_removed, sdra_error *err);
int sdra_sync_cancel_emails(sdra_crm *crm, const char *call_id, int *n_canceled, sdra_error *err);

#endif
