/*
 * sdra/rights.h - data-subject rights, retention and consent (issue 14): finding everything
 * held about a person by their email address, exporting it, erasing it, and deleting what an
 * organisation's retention policy says is past its age.
 *
 * A person is found through "subject tokens": HMAC-SHA256 of their normalised email address
 * (trimmed, lower-cased) under a deployment secret kept in <data>/subject.key (32 random bytes,
 * mode 0600, created once). Each call records the tokens of the people on it at submission
 * (sdra_rights_record_call), so calls are found by email without reading their metadata. Audit
 * entries about a person carry a random pseudonym ("s-" + 16 hex), never the address; only the
 * store's subject_pseudonyms row links it to the token, and erasure deletes that row, so the
 * entries stay (the hash chain verifies) but no longer point at anyone. See docs/security.md,
 * "Data-subject rights, retention and consent".
 *
 *     sdra_rights_ctx cx = sdra_rights_ctx_init(store, data_dir, "default", "cli:ann", "local");
 *     cx.delete_call = my_delete; cx.user = ...;  // the DELETE /v1/calls/{id} path
 *     json_t *doc = NULL;
 *     if (sdra_rights_export(&cx, "jordan@acme.example", &doc, &err) == 0) ...
 *     sdra_rights_counts n;
 *     sdra_rights_erase(&cx, "jordan@acme.example", &n, &err);
 *
 * Every function returns 0 or a negative sdra_code with err set. Each action is written to the
 * audit trail before it is carried out; a failed audit write fails the action.
 */
#ifndef SDRA_RIGHTS_H
#define SDRA_RIGHTS_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "sdra/call.h"
#include "sdra/error.h"
#include "sdra/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SDRA_RIGHTS_DEFAULT_ORG "default"
#define SDRA_RIGHTS_EXPORT_SCHEMA "sdra.privacy.export/1"
#define SDRA_RIGHTS_KEY_BYTES 32
#define SDRA_RIGHTS_MAX_CALLS 10000           /* calls one export or erase covers at most */
#define SDRA_RIGHTS_ARTIFACT_MAX (16u << 20)   /* bytes of one artifact an export includes */
#define SDRA_RIGHTS_EXPORT_MAX (256u << 20)    /* artifact bytes of one export (SDRA_ELIMIT beyond) */

/* Loads <data_dir>/subject.key, creating it (32 random bytes, 0600, exclusive create) when it
 * is missing. SDRA_EIO when it cannot be read or written, SDRA_EINVAL when it has the wrong
 * size or is readable by others (a key that leaked is not used). */
int sdra_rights_key_load(unsigned char key[SDRA_RIGHTS_KEY_BYTES], const char *data_dir, sdra_error *err);

/* The normalised form of an email address (surrounding space trimmed, lower-cased) into out.
 * SDRA_EINVAL when it is not an address (one '@' with text on both sides, no space or control
 * characters, at most 254 bytes). */
int sdra_rights_email_normalise(char *out, size_t n, const char *email, sdra_error *err);

/* hex = HMAC-SHA256(key, normalised email), 64 lower-case hex digits. */
int sdra_rights_token(char hex[SDRA_STORE_TOKEN_HEX + 1], const unsigned char key[SDRA_RIGHTS_KEY_BYTES],
                      const char *email, sdra_error *err);

/* What the functions below work on. delete_call deletes one call the way DELETE
 * /v1/calls/{id} does (its audit entry included; keep_crm: leave the CRM rows the call wrote),
 * answering SDRA_ENOTFOUND for a call already gone; NULL means calls cannot be deleted here. */
typedef struct sdra_rights_ctx {
    sdra_store *store;
    const char *data_dir;  /* the server's data directory (calls/, crm.sqlite3, subject.key) */
    const char *org;       /* organisation the subjects and policies belong to */
    const char *actor;     /* audit actor: a key id, "cli:USER", "retention" */
    const char *ip;        /* audit address: the client's, or "local" */
    int64_t now_ms;        /* the clock (tests drive it) */
    int (*delete_call)(void *user, const char *call_id, bool keep_crm, sdra_error *err);
    void *user;
    /* The object store behind data_dir (`serve --blob`), each hook given object_user and an
     * object's path relative to data_dir ("calls/<id>/audio.mp3"): exists answers 0 when it is
     * stored, fetch makes data_dir/rel hold it, remove deletes it (absent is not an error).
     * NULL (sdra_rights_ctx_init): the files in data_dir are all there is. */
    int (*object_exists)(void *object_user, const char *rel, sdra_error *err);
    int (*object_fetch)(void *object_user, const char *rel, sdra_error *err);
    int (*object_remove)(void *object_user, const char *rel, sdra_error *err);
    void *object_user;
} sdra_rights_ctx;

/* A context with now_ms = the wall clock and no delete_call. */
sdra_rights_ctx sdra_rights_ctx_init(sdra_store *store, const char *data_dir, const char *org, const char *actor,
                                     const char *ip);

/* At a call's submission: links the call to the token of ci->contact_email (when given) and
 * appends the "call.consent" audit entry (consent value and the contact's pseudonym, never an
 * address). Call it before the call row is created: a failure must refuse the upload. */
int sdra_rights_record_call(const sdra_rights_ctx *cx, const char *call_id, const sdra_call_info *ci,
                            sdra_error *err);

/* Everything held about email in cx->org as one sdra.privacy.export/1 document (schema in
 * docs/security.md): CRM rows, the calls linked to the person with their metadata and
 * artifacts, those calls' outbox entries and the audit entries about them. The export is
 * audited ("privacy.export", target the pseudonym) before it is built. */
int sdra_rights_export(const sdra_rights_ctx *cx, const char *email, json_t **out, sdra_error *err);

/* What an erasure or a purge did (or, dry run, would do). */
typedef struct sdra_rights_counts {
    int calls;        /* whole calls deleted */
    int crm_rows;     /* CRM rows removed (contact and everything linked to it) */
    int outbox;       /* outbox entries removed with the calls */
    int subject_rows; /* subject links and pseudonyms removed */
    int audio;        /* retention: audio files deleted */
    int artifacts;    /* retention: artifacts deleted (transcripts, analyses, emails) */
} sdra_rights_counts;

/* Erases a person: an audit entry ("privacy.erase", target the pseudonym, counts only) first,
 * then each linked call through cx->delete_call, the CRM contact and every row linked to it
 * (sdra_crm_forget_contact), and finally the subject links and pseudonym, which pseudonymises
 * the audit entries about them. Idempotent: a second erase finds nothing and counts zeros.
 * SDRA_EINVAL without cx->delete_call. */
int sdra_rights_erase(const sdra_rights_ctx *cx, const char *email, sdra_rights_counts *out, sdra_error *err);

/* Applies the retention policy of every call's organisation (only cx->org's calls when it is
 * not NULL) at cx->now_ms (calls still queued
 * or running are left alone): deletes audio files, transcripts (transcript.json/.txt and
 * report.html), analyses (analysis.json, crm.json) and emails (email.json/.eml, invite.ics)
 * past their age, and whole calls past call_days through cx->delete_call (their CRM rows kept
 * unless crm_days is set and passed too). Each call's purge is audited ("retention.purge")
 * first; the WAL is checkpointed afterwards. dry_run counts without changing anything. */
int sdra_retention_purge(const sdra_rights_ctx *cx, bool dry_run, sdra_rights_counts *out, sdra_error *err);


/* Policies as JSON: {"org":..,"audio_days":N,...,"require_consent":bool,"updated_at":..}.
 * _from_json applies the fields present in doc onto p (unknown fields, wrong types and
 * negative days are SDRA_EINVAL, p unchanged). */
json_t *sdra_retention_policy_to_json(const sdra_store_policy *p);
int sdra_retention_policy_from_json(sdra_store_policy *p, const json_t *doc, sdra_error *err);

/* "audio_days=30 transcript_days=365 ... require_consent=0": the policy in one line (the detail
 * of its "retention.set" audit entry). */
void sdra_retention_policy_describe(const sdra_store_policy *p, char *out, size_t n);

/* Whether a call with this consent value may be processed under p: always without
 * require_consent, else only "obtained" or "not_required". */
bool sdra_rights_consent_ok(const sdra_store_policy *p, const char *consent);

/* The counts as {"calls":N,"crm_rows":N,...}. */
json_t *sdra_rights_counts_to_json(const sdra_rights_counts *c);

#ifdef __cplusplus
}
#endif
#endif
