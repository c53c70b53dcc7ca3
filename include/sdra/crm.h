/*
 * sdra/crm.h - the CRM connector: where a call's outcome is recorded (contact, the call as an
 * activity, follow-up tasks, the scheduled follow-up email, notes).
 *
 * A connector is a table of functions (struct sdra_crm_ops). The embedded default, "local",
 * keeps the CRM in SQLite in the user data directory (<data_dir>/crm.sqlite3); "hubspot" and
 * "salesforce" implement the same table over the CRMs' REST APIs (configured from the
 * environment: docs/connectors.md). Callers hold an opaque sdra_crm and
 * never branch on which backend it is.
 *
 * Every write is an upsert on a natural key, so syncing the same call twice updates rows and
 * never duplicates them: contact by email (case-insensitive), activity by call id, task by
 * call id + task key (a hash of its kind and text), email by Message-ID, note by call id + key.
 * Do-not-call / do-not-email flags are sticky: an upsert can set them, never clear them.
 *
 *     sdra_crm *crm = NULL;
 *     sdra_error err = {0};
 *     json_t *report = NULL;
 *     if (sdra_crm_open(&crm, "local", data_dir, &err) < 0 ||
 *         sdra_crm_sync(crm, &call, transcript, analysis, email, &report, &err) < 0)
 *         fprintf(stderr, "sdra: %s\n", err.msg);
 *     json_decref(report);
 *     sdra_crm_close(crm);
 *
 * The sdra.crm/1 document sdra_crm_sync returns is described in docs/schemas/crm.md.
 */
#ifndef SDRA_CRM_H
#define SDRA_CRM_H

#include <stdbool.h>
#include <jansson.h>
#include "sdra/call.h"
#include "sdra/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SDRA_CRM_SCHEMA "sdra.crm/1"
#define SDRA_CRM_ID_MAX 64         /* ids are strings so remote CRMs' ids fit */
#define SDRA_CRM_TEXT_MAX 8192     /* longer free text (summaries, notes) is cut here */
#define SDRA_CRM_LIST_MAX 100000   /* rows a list call returns at most */

typedef struct sdra_crm sdra_crm;

/* A contact. Strings may be NULL (= leave the stored value as it is). The flags only ever set:
 * false means "not mentioned", never "clear it". */
typedef struct sdra_crm_contact {
    const char *email; /* required: the natural key */
    const char *name;
    const char *company;
    const char *title;
    const char *phone;
    bool do_not_call;
    bool do_not_email;
} sdra_crm_contact;

/* A call logged as an activity; upserted by call_id. */
typedef struct sdra_crm_activity {
    const char *call_id;    /* required */
    const char *contact_id; /* from upsert_contact, or NULL when the contact is unknown */
    const char *call_date;  /* YYYY-MM-DD */
    double duration_s;
    const char *direction;  /* outbound|inbound */
    const char *summary;
    const char *outcome;
    double sentiment;       /* the prospect's overall sentiment, -1..1 */
    bool has_sentiment;
    const char *objections; /* JSON array text of {type, text, start}, or NULL */
    const char *recording;  /* the audio reference */
    const char *rep_email;  /* the rep: a remote CRM's record owner (mapped by email); may be NULL */
} sdra_crm_activity;

/* A follow-up task; upserted by (call_id, key). */
typedef struct sdra_crm_task {
    const char *call_id;     /* required */
    const char *key;         /* required: stable within the call (see sdra_crm_task_key) */
    const char *contact_id;  /* may be NULL */
    const char *activity_id; /* may be NULL */
    const char *kind;        /* "action" or "meeting" */
    const char *owner;       /* rep|prospect */
    const char *text;        /* required */
    const char *due_date;    /* YYYY-MM-DD or NULL */
    const char *due_time;    /* HH:MM or NULL */
    const char *rep_email;   /* the rep: a remote CRM's record owner (mapped by email); may be NULL */
} sdra_crm_task;

/* A follow-up email to send later; upserted by message_id. status is "scheduled", "sent" or
 * "canceled"; an email already sent stays sent. */
typedef struct sdra_crm_email {
    const char *message_id; /* required */
    const char *call_id;
    const char *contact_id;
    const char *to;
    const char *subject;
    const char *send_at;    /* ISO 8601; NULL keeps a stored value, else now */
    const char *status;     /* required */
} sdra_crm_email;

/* A note; upserted by (call_id, key). */
typedef struct sdra_crm_note {
    const char *call_id; /* required */
    const char *key;     /* required */
    const char *contact_id;
    const char *body;    /* required */
} sdra_crm_note;

/* What an upsert did. */
typedef struct sdra_crm_result {
    char id[SDRA_CRM_ID_MAX];
    bool created;      /* false: an existing row was updated */
    /* upsert_contact only: the flags as stored after the merge (sticky). */
    bool do_not_call;
    bool do_not_email;
} sdra_crm_result;

typedef enum sdra_crm_kind {
    SDRA_CRM_CONTACTS = 0,
    SDRA_CRM_ACTIVITIES,
    SDRA_CRM_TASKS,
    SDRA_CRM_EMAILS,
    SDRA_CRM_NOTES,
    SDRA_CRM_N_KINDS
} sdra_crm_kind;

/* Open flags. */
#define SDRA_CRM_READONLY 1 /* never create or migrate; a missing database lists as empty */

/*
 * The connector table. Each function returns 0 or a negative sdra_code with err filled.
 * begin/commit/rollback group the writes of one call (a remote backend without transactions
 * may leave them NULL). list returns a new JSON array of row objects, newest last, filtered by
 * contact email when contact_email is not NULL.
 */
struct sdra_crm_ops {
    const char *name;
    int (*open)(void **state, const char *data_dir, int flags, sdra_error *err);
    void (*close)(void *state);
    int (*begin)(void *state, sdra_error *err);
    int (*commit)(void *state, sdra_error *err);
    void (*rollback)(void *state);
    int (*upsert_contact)(void *state, const sdra_crm_contact *c, sdra_crm_result *out, sdra_error *err);
    int (*log_activity)(void *state, const sdra_crm_activity *a, sdra_crm_result *out, sdra_error *err);
    int (*upsert_task)(void *state, const sdra_crm_task *t, sdra_crm_result *out, sdra_error *err);
    /* Removes the open tasks of call_id whose keys are not in keys[0..n_keys): a re-sync after
     * the analysis changed leaves exactly the current tasks. *n_removed gets the count. */
    int (*prune_tasks)(void *state, const char *call_id, const char *const *keys, int n_keys,
                       int *n_removed, sdra_error *err);
    int (*schedule_email)(void *state, const sdra_crm_email *e, sdra_crm_result *out, sdra_error *err);
    /* Cancels still-scheduled emails of call_id (opt-out after the email was scheduled). */
    int (*cancel_emails)(void *state, const char *call_id, int *n_canceled, sdra_error *err);
    int (*add_note)(void *state, const sdra_crm_note *n, sdra_crm_result *out, sdra_error *err);
    int (*list)(void *state, sdra_crm_kind kind, const char *contact_email, json_t **out, sdra_error *err);
    /* Erasure. forget_call removes everything one call wrote (activity, tasks, emails, notes;
     * the contact stays). forget_contact removes a contact and every record linked to it,
     * opt-out flags included. *n_removed gets the number of rows removed (0: nothing known). */
    int (*forget_call)(void *state, const char *call_id, int *n_removed, sdra_error *err);
    int (*forget_contact)(void *state, const char *email, int *n_removed, sdra_error *err);
    /* A description of where the data lives ("/home/u/.local/share/sdra/crm.sqlite3"). */
    const char *(*location)(void *state);
    /* The organisation (tenant) every later write, list and erasure belongs to; "default"
     * until set. May be NULL for a backend that serves one organisation only. */
    int (*set_org)(void *state, const char *org, sdra_error *err);
    /* One cheap authenticated call that proves the configuration works; *what gets a short
     * line of what the backend can do. NULL: nothing to check (local). */
    int (*check)(void *state, char *what, size_t what_n, sdra_error *err);
};

/* The connector named name ("local"), or NULL when there is none. */
const struct sdra_crm_ops *sdra_crm_backend(const char *name);

/*
 * Opens the CRM backend (NULL or "" = "local") with its data in data_dir (created with mode
 * 0700 when missing; NULL = sdra_crm_default_data_dir()). On failure *out is left NULL and err
 * names the database: an unknown backend is SDRA_EUNSUPPORTED, an unwritable directory
 * SDRA_EIO/EDENIED, a file that is not a CRM database SDRA_EINVAL.
 */
int sdra_crm_open(sdra_crm **out, const char *backend, const char *data_dir, sdra_error *err);
int sdra_crm_open_ex(sdra_crm **out, const char *backend, const char *data_dir, int flags,
                     sdra_error *err);
void sdra_crm_close(sdra_crm *crm); /* accepts NULL */

const char *sdra_crm_backend_name(const sdra_crm *crm);
const char *sdra_crm_location(const sdra_crm *crm);

/* The user data directory: dir when given, else $SDRA_DATA, else $HOME/.local/share/sdra.
 * Returns SDRA_ELIMIT when it does not fit in out (size n), SDRA_ENOTFOUND without HOME. */
int sdra_crm_default_data_dir(char *out, size_t n, const char *dir);

/* Thin wrappers over the ops table (see struct sdra_crm_ops). */
int sdra_crm_begin(sdra_crm *crm, sdra_error *err);
int sdra_crm_commit(sdra_crm *crm, sdra_error *err);
void sdra_crm_rollback(sdra_crm *crm);
int sdra_crm_upsert_contact(sdra_crm *crm, const sdra_crm_contact *c, sdra_crm_result *out, sdra_error *err);
int sdra_crm_log_activity(sdra_crm *crm, const sdra_crm_activity *a, sdra_crm_result *out, sdra_error *err);
int sdra_crm_upsert_task(sdra_crm *crm, const sdra_crm_task *t, sdra_crm_result *out, sdra_error *err);
int sdra_crm_schedule_email(sdra_crm *crm, const sdra_crm_email *e, sdra_crm_result *out, sdra_error *err);
int sdra_crm_add_note(sdra_crm *crm, const sdra_crm_note *n, sdra_crm_result *out, sdra_error *err);
int sdra_crm_list(sdra_crm *crm, sdra_crm_kind kind, const char *contact_email, json_t **out,
                  sdra_error *err);
/* Erasure (see the ops table); each runs in its own transaction. A backend without it fails
 * with SDRA_EUNSUPPORTED. */
int sdra_crm_forget_call(sdra_crm *crm, const char *call_id, int *n_removed, sdra_error *err);
int sdra_crm_forget_contact(sdra_crm *crm, const char *email, int *n_removed, sdra_error *err);

/* Scopes the handle to organisation org ([a-z0-9-], 1..63): rows are written with it, and
 * lists and erasure see its rows only (another organisation's are never read or removed). A
 * handle starts in "default". SDRA_EINVAL for a bad name. */
int sdra_crm_set_org(sdra_crm *crm, const char *org, sdra_error *err);

/* `sdra connectors test`: the backend's credentials check (see the ops table); a backend
 * without one answers "ok" with what it is. */
int sdra_crm_check(sdra_crm *crm, char *what, size_t what_n, sdra_error *err);

/* "contacts", "activities", "tasks", "emails", "notes" <-> kind; -1 when unknown. */
int sdra_crm_kind_parse(const char *s);
const char *sdra_crm_kind_name(sdra_crm_kind kind);

/* A stable task key: 16 hex digits of a 64-bit FNV-1a hash of kind and the text lower-cased
 * with runs of space folded (out needs 17 bytes). */
void sdra_crm_task_key(char out[17], const char *kind, const char *text);

/*
 * Writes everything one call produced, in one transaction (all or nothing): the contact (from
 * call->contact_email, else the email's recipient), the activity, a task per action item and
 * one for the next meeting, the follow-up email as scheduled, a note with the pain points.
 * Compliance: the analysis' contact_preferences set the sticky flags; with do-not-email (now
 * or from an earlier call) no email is scheduled and a scheduled one is canceled; with
 * do-not-call no meeting task is created. transcript, email may be NULL; analysis may be
 * partial (missing fields are treated as absent). *report gets the sdra.crm/1 document.
 * On failure nothing was written and *report is left NULL.
 */
int sdra_crm_sync(sdra_crm *crm, const sdra_call_info *call, const json_t *transcript,
                  const json_t *analysis, const json_t *email, json_t **report, sdra_error *err);

#ifdef __cplusplus
}
#endif
#endif
