/*
 * sdra/outbox.h - every external effect of a call (a sync to a remote CRM, the follow-up email,
 * a webhook) goes through the transactional outbox of the job store (sdra/store.h) and is
 * performed by a delivery worker, exactly once as far as the remote side can tell.
 *
 * Two halves:
 *  - Planning (sdra_outbox_plan, sdra_outbox_plan_failed): when a stage completes, the server
 *    worker asks which effects it causes and records them with the stage's outcome in one
 *    store transaction (sdra_store_job_complete_fx). Policy is applied here: an email to a
 *    contact marked do-not-email is recorded canceled, never queued; a package marked
 *    needs_review (or every package, with review "always") is recorded held until a person
 *    approves it; an email is due at send_at, or at the next business-hours slot in the
 *    contact's time zone.
 *  - Delivery (sdra_outbox_deliver_one): claims one due entry with a lease, performs it through
 *    the CRM connector (sdra/crm.h), the mail transport (sdra/mail.h) or an HTTP POST
 *    (webhooks, signed), and records done with the remote id, a retry with exponential backoff
 *    and jitter, dead for a permanent error, or held when the worker cannot tell whether an
 *    earlier attempt that was cut off arrived. A worker killed at any moment loses its lease;
 *    the next claim sees `resumed` and, for mail, asks the mailbox (sdra_mail_probe) first.
 *
 *     sdra_outbox_params p = sdra_outbox_default_params();
 *     p.data_dir = dir; p.webhook_url = "https://hooks.example/sdra"; p.webhook_secret = secret;
 *     sdra_outbox_plan pl;
 *     if (sdra_outbox_plan_stage(&pl, &p, "report", true, org, call_id, workdir, now, &err) == 0) {
 *         sdra_store_job_complete_fx(st, &job, arts, n, next, pl.fx, pl.n, now, &err);
 *         sdra_outbox_plan_release(&pl);
 *     }
 *     while (sdra_outbox_deliver_one(st, &p, "host:pid:outbox", sdra_store_now_ms(), NULL, &err) == 0)
 *         ;
 *
 * docs/outbox.md describes the states, scheduling, webhooks and their signature.
 */
#ifndef SDRA_OUTBOX_H
#define SDRA_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sdra/error.h"
#include "sdra/mail.h"
#include "sdra/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Effect kinds (the outbox entry's kind). */
#define SDRA_OUTBOX_CRM_SYNC "crm.sync"
#define SDRA_OUTBOX_MAIL "mail.deliver"
/* A person's edit of the email in review (the web app), in the call's directory: when present,
 * the approved edit is what mail.deliver sends, and an unapproved one holds the entry. */
#define SDRA_OUTBOX_DRAFT_FILE "email.draft.json"
#define SDRA_OUTBOX_WEBHOOK "webhook"

/* What is held for a person before it leaves the machine: everything, packages marked
 * needs_review (the default), or nothing. */
typedef enum sdra_review_policy {
    SDRA_REVIEW_ALWAYS = 0,
    SDRA_REVIEW_WHEN_POOR,
    SDRA_REVIEW_NEVER
} sdra_review_policy;
int sdra_review_policy_parse(const char *s); /* "always" | "when_poor" | "never"; -1 unknown */

/* Business hours in the contact's local time: [start_min, end_min) minutes after midnight on
 * the days in days_mask (bit 0 Sunday ... bit 6 Saturday). */
typedef struct sdra_outbox_hours {
    int start_min, end_min;        /* 540, 1020 (09:00-17:00) */
    unsigned days_mask;            /* 0x3e (Monday to Friday) */
} sdra_outbox_hours;
/* "09:00-17:00" (optionally followed by ",mon-fri" or a day list "mon,tue,...") -> *h. */
int sdra_outbox_hours_parse(sdra_outbox_hours *h, const char *s, sdra_error *err);

typedef struct sdra_outbox_params {
    const char *data_dir;          /* required: calls/<id>/ and the CRM's data live here */
    const char *crm;               /* remote CRM for crm.sync ("hubspot", "salesforce"); NULL or
                                    * "local": none (the sync stage writes the local CRM) */
    const char *mail;              /* mail transport (sdra/mail.h names); NULL or "none": none */
    sdra_deliver_mode deliver;     /* SDRA_DELIVER_DRAFT */
    sdra_review_policy review;     /* SDRA_REVIEW_WHEN_POOR */
    const char *webhook_url;       /* the operator's endpoint for every call's events, or NULL */
    const char *webhook_secret;    /* HMAC-SHA256 key of the Sdra-Signature header (NULL: unsigned) */
    bool allow_private_targets;    /* a call's callback_url may name a loopback or private address
                                    * (tests, one machine); never for a shared server */
    bool business_hours;           /* an email without send_at waits for the next slot */
    sdra_outbox_hours hours;
    const char *default_tz;        /* the contact's zone when the call names none ("UTC") */
    int max_attempts;              /* tries before an entry is dead (8) */
    int64_t retry_base_ms;         /* first backoff (2000), doubled per attempt, with jitter */
    int64_t retry_max_ms;          /* backoff ceiling (3600000) */
    int64_t lease_ms;              /* claim lease (60000): a dead worker's entry is taken after it */
    long timeout_ms;               /* one webhook POST (10000) */
    bool record_dir;               /* entries name the call's directory (workdir) instead of
                                    * data_dir/calls/<id>: `sdra run` packages live elsewhere */
    /* Called around the work on one call's files (a server with encryption at rest installs
     * the call's key: srv_seal_begin); NULL: plain files. */
    int (*call_begin)(void *user_data, const char *call_id, void **state, sdra_error *err);
    void (*call_end)(void *state);
    void *user_data;
} sdra_outbox_params;

sdra_outbox_params sdra_outbox_default_params(void);

/* Effects planned for one stage, with the strings they point to (owned). */
#define SDRA_OUTBOX_PLAN_MAX 6
typedef struct sdra_outbox_plan {
    sdra_store_outbox_new fx[SDRA_OUTBOX_PLAN_MAX];
    int n;
    char *owned[SDRA_OUTBOX_PLAN_MAX * 3];
    int n_owned;
} sdra_outbox_plan;
void sdra_outbox_plan_release(sdra_outbox_plan *pl); /* accepts a zeroed or released plan */

/* The effects of stage (its name) of call call_id (organisation org, directory workdir) having
 * completed; last: it was the call's last stage. compose -> mail.deliver, sync -> crm.sync,
 * the last stage -> the call.completed webhook(s). Reads call.json, analysis.json and
 * email.json from workdir. *pl is empty when the stage causes nothing. On failure *pl is
 * released and err says why (the stage's completion should then be retried). */
int sdra_outbox_plan_stage(sdra_outbox_plan *pl, const sdra_outbox_params *p, const char *stage, bool last,
                           const char *org, const char *call_id, const char *workdir, int64_t now_ms,
                           sdra_error *err);
/* The call.failed webhook(s) of a call whose stage failed for good with msg. */
int sdra_outbox_plan_failed(sdra_outbox_plan *pl, const sdra_outbox_params *p, const char *org, const char *call_id,
                            const char *workdir, const char *msg, int64_t now_ms, sdra_error *err);

/* Claims one due entry (with p->lease_ms) and performs it. 0 when one was handled, whatever
 * its outcome (*out, may be NULL, gets the entry as claimed, with state and last_error as
 * recorded; release it); SDRA_ENOTFOUND when none is due; another code when the store failed. */
int sdra_outbox_deliver_one(sdra_store *st, const sdra_outbox_params *p, const char *owner, int64_t now_ms,
                            sdra_store_outbox_item *out, sdra_error *err);

/* The API's and the CLI's view of an entry (a new object; NULL when out of memory): id (the
 * idempotency key), kind, call_id, state, attempts, times (ISO 8601 UTC or null), last_error,
 * remote_id, and what it targets (event and URL of a webhook, mode and recipients' count of an
 * email, the CRM backend), never the message or a secret. */
struct json_t;
struct json_t *sdra_outbox_item_json(const sdra_store_outbox_item *it);

/* ---- the pieces, exposed for tests -------------------------------------------------------- */

/* The backoff before attempt attempts + 1: base * 2^(attempts - 1), at most max, times a
 * jitter factor in [0.5, 1.5) taken from rnd (rnd % 1000). */
int64_t sdra_outbox_backoff_ms(int attempts, int64_t base_ms, int64_t max_ms, uint32_t rnd);

/* The first instant >= now_ms inside business hours h in time zone tz (an IANA name such as
 * "Europe/Berlin", or "UTC"). SDRA_EINVAL for an unknown zone or empty hours. */
int sdra_outbox_next_slot(int64_t now_ms, const char *tz, const sdra_outbox_hours *h, int64_t *out_ms,
                          sdra_error *err);

/* The Sdra-Signature header value for body sent at unix time t:
 * "t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>". out needs SDRA_OUTBOX_SIG_MAX bytes. */
#define SDRA_OUTBOX_SIG_MAX 96
void sdra_outbox_sign(const char *secret, int64_t t, const char *body, size_t body_len, char *out);

/* Whether url may receive a call's callback: http(s) only, and unless allow_private, every
 * address its host resolves to is public (not loopback, private, link-local, CGNAT, multicast
 * or unspecified). SDRA_EINVAL / SDRA_EDENIED with a one-line reason. */
int sdra_outbox_check_target(const char *url, bool allow_private, sdra_error *err);

/* sdra_outbox_check_target, and the address it checked as a CURLOPT_RESOLVE entry
 * ("host:port:address", sdra_httpc_request.resolve) in resolve (resolve_n bytes; "" for an
 * address literal): the POST goes to that address, so a DNS answer that changes after the
 * check (rebinding to 127.0.0.1) cannot redirect it. With allow_private no address is refused
 * but the one used is pinned all the same. $SDRA_TEST_RESOLVE ("host=address,...") stands in
 * for DNS in the check, for tests. */
#define SDRA_OUTBOX_RESOLVE_MAX 320
int sdra_outbox_pin_target(const char *url, bool allow_private, char *resolve, size_t resolve_n, sdra_error *err);

#ifdef __cplusplus
}
#endif
#endif
