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

/* ---- the remote connectors (hubspot.c, salesforce.c) and what they share (remote.c) ---- */

#include "sdra/buf.h"

extern const struct sdra_crm_ops sdra_crm_hubspot_ops;
extern const struct sdra_crm_ops sdra_crm_salesforce_ops;

/* One CRM REST API: base URL, access token and the backend's hooks. */
typedef struct crm_remote {
    const char *service;  /* "HubSpot", "Salesforce": the first word of every message */
    char base[1024];      /* API base URL without a trailing slash */
    char token[4096];     /* the access token; "" = get one through refresh first */
    long timeout_ms;
    int max_attempts;     /* httpc attempts per request (429, 5xx, network) */
    long backoff_ms;
    int n_requests;       /* requests sent (for tests and `sdra connectors test`) */
    const char *limit_header; /* a response header reporting API usage ("Sforce-Limit-Info") */
    char limit_info[256];     /* its last value */
    bool limit_warned;
    void *owner;          /* the backend's state, for refresh */
    /* Gets a new access token into token; NULL when none can be had (a fixed token). */
    int (*refresh)(struct crm_remote *r, sdra_error *err);
    /* true when an error answer is a rate limit to wait out (besides 429, which httpc retries). */
    bool (*rate_limited)(long status, const json_t *doc);
    /* One short line from an error document: the field and the CRM's message. */
    void (*describe)(const json_t *doc, char *out, size_t n);
} crm_remote;

/* Sets r up for the API at base (http:// or https://); SDRA_EINVAL for another scheme. */
int crm_remote_init(crm_remote *r, const char *service, const char *base, sdra_error *err);

/* method path (relative to the base, or an absolute URL) with body as JSON (NULL = none). On a
 * 2xx returns 0 with *out the parsed answer (NULL when empty). A 401 refreshes the token once
 * and repeats; rate limits are waited out; any other failure is one line "<service> <object>:
 * HTTP <status>: <field: message>" with the code of the status (see remote.c). *status_out,
 * when given, gets the last HTTP status (also on failure). */
int crm_remote_call(crm_remote *r, const char *method, const char *path, const json_t *body, const char *object,
                    json_t **out, long *status_out, sdra_error *err);

/* POSTs an OAuth form (form-urlencoded) to token_url; *out gets the answer with access_token.
 * Failures name the OAuth error, never the form (it carries secrets). */
int crm_remote_token(crm_remote *r, const char *token_url, const char *form, json_t **out, sdra_error *err);
int crm_remote_set_token(crm_remote *r, const char *token, sdra_error *err);

/* A URL-escaped copy of s (caller frees), NULL when out of memory. */
char *crm_remote_escape(const char *s);
/* The environment variable name, or NULL when unset or empty. */
const char *crm_env(const char *name);
/* Organisations: the "default" one reads the plain names (SDRA_HUBSPOT_TOKEN), any other org
 * only its own, SDRA_ORG_<ORG>__<name without SDRA_> (org upper-cased, '-' as '_'):
 * SDRA_ORG_ACME__HUBSPOT_TOKEN. So one organisation's token is never used for another's call.
 * crm_org_prefix: "" or "SDRA_ORG_ACME__" into out (at least CRM_ENV_PREFIX_MAX bytes). */
#define CRM_ENV_PREFIX_MAX 96
void crm_org_prefix(char *out, const char *org);
/* crm_env of name under prefix (crm_org_prefix; "" = the plain name). */
const char *crm_env_in(const char *prefix, const char *name);
/* s cut at max_bytes on a UTF-8 boundary, as a new JSON string (CRM field length limits). */
json_t *crm_json_cut(const char *s, size_t max_bytes);
/* The text a CRM shows for a call: summary, outcome, sentiment, recording (b is initialised
 * here; the caller releases it). */
void crm_call_description(sdra_buf *b, const sdra_crm_activity *a);
/* Appends "&name=value" (URL-escaped) to a form body. */
int crm_form_add(sdra_buf *b, const char *name, const char *value);

/* ---- payload builders (pure: unit-tested in tests/unit/sync/test_remote_payloads.c) ---- */

/* HubSpot: the properties of a call engagement (hs_call_*), a task, a meeting, a note and an
 * email; key is the sdra_key idempotency value, owner_id the HubSpot owner or NULL. now_ms is
 * the timestamp used when the record has no date of its own. */
json_t *sdra_hubspot_call_props(const sdra_crm_activity *a, const char *key, const char *owner_id, long long now_ms);
json_t *sdra_hubspot_task_props(const sdra_crm_task *t, const char *key, const char *owner_id, long long now_ms);
json_t *sdra_hubspot_meeting_props(const sdra_crm_task *t, const char *key, const char *owner_id, long long now_ms);
json_t *sdra_hubspot_note_props(const sdra_crm_note *n, const char *key, long long now_ms);
json_t *sdra_hubspot_email_props(const sdra_crm_email *e, const char *key, long long now_ms);
json_t *sdra_hubspot_contact_props(const sdra_crm_contact *c, bool dnc, bool dne);
/* "YYYY-MM-DD" [+ "HH:MM"] as UTC milliseconds since the epoch; -1 when malformed. */
long long sdra_crm_date_ms(const char *date, const char *time);
/* Whose an action task is, in words, for a remote task's body: the task's owner "prospect",
 * "unknown" (one voice in the recording: compose.c's tasks) or anything else (the rep). */
const char *sdra_crm_owner_words(const char *owner);

/* Salesforce: the Task of a call, of an action item, of a note and of a scheduled email, the
 * Event of a meeting and the Contact/Lead fields. key_field is the external id field name. */
json_t *sdra_salesforce_call_task(const sdra_crm_activity *a, const char *who_id, const char *owner_id);
json_t *sdra_salesforce_action_task(const sdra_crm_task *t, const char *who_id, const char *owner_id);
json_t *sdra_salesforce_meeting_event(const sdra_crm_task *t, const char *who_id, const char *owner_id);
json_t *sdra_salesforce_note_task(const sdra_crm_note *n, const char *who_id);
json_t *sdra_salesforce_email_task(const sdra_crm_email *e, const char *who_id);
json_t *sdra_salesforce_person(const sdra_crm_contact *c, bool lead, bool dnc, bool dne);
/* A SOQL string literal body: quotes and backslashes escaped (out needs 2 * strlen + 1). */
void sdra_soql_escape(char *out, size_t n, const char *s);

#endif
