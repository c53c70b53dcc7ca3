/*
 * sdra/call.h - what is known about a call before any stage runs: who it was with, who made
 * it, when, and how the follow-up should sound. Every stage after transcription reads it beside
 * the earlier artifacts; the server stores it with the call; `sdra run` fills it from options.
 *
 * JSON form (stored as call.json in a package directory):
 *   {"schema":"sdra.call/1","id":"...","audio":"call.mp3","call_date":"2026-11-24",
 *    "contact_email":"...","contact_name":"...","company":"...","rep_name":"...",
 *    "rep_email":"...","rep_company":"...","style":"friendly","direction":"outbound",
 *    "consent":"obtained","timezone":"Europe/Berlin","contact_timezone":"America/New_York",
 *    "callback_url":"https://hooks.example/sdra","send_at":"2026-11-25T09:30:00-05:00"}
 * Absent strings are NULL in C and absent in JSON.
 */
#ifndef SDRA_CALL_H
#define SDRA_CALL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "sdra/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SDRA_CALL_SCHEMA "sdra.call/1"

typedef struct sdra_call_info {
    char *id;            /* call id: [a-z0-9-], stable for the same audio + metadata */
    char *audio;         /* audio file path or reference */
    char *call_date;     /* YYYY-MM-DD: anchors relative dates in the analysis */
    char *contact_email;
    char *contact_name;
    char *company;       /* the prospect's company */
    char *rep_name;
    char *rep_email;
    char *rep_company;   /* the rep's own company (used for role detection and signatures) */
    char *style;         /* email style: formal|friendly|concise|consultative */
    char *direction;     /* outbound|inbound */
    char *consent;       /* recording consent: obtained|not_required|unknown (NULL = unknown) */
    char *timezone;      /* the rep's IANA zone ("Europe/Berlin"): meeting times are in it */
    char *contact_timezone; /* the prospect's zone, when known and different */
    char *callback_url;  /* this call's own webhook target (http/https; the SSRF rule applies
                          * when it is sent, sdra_outbox_check_target) */
    char *send_at;       /* when the email may go: RFC 3339 with a zone, or "next" (the next
                          * business-hours slot in the contact's zone); NULL: at once */
    char *source;        /* how the server got the call: "live" (a stream, docs/live.md), or
                            NULL / "upload" */
} sdra_call_info;

/* Frees every string and zeroes the struct. */
void sdra_call_info_release(sdra_call_info *c);

/* Sets one field by its JSON name (copying value; NULL clears). SDRA_EINVAL for unknown names
 * or an invalid value (call_date must be YYYY-MM-DD and a real date; emails need one '@';
 * style one of the four; consent obtained, not_required or unknown; timezone and
 * contact_timezone a zone of the system tz database, sdra/tz.h). */
int sdra_call_info_set(sdra_call_info *c, const char *field, const char *value, sdra_error *err);

json_t *sdra_call_info_to_json(const sdra_call_info *c);
int sdra_call_info_from_json(sdra_call_info *c, const json_t *doc, sdra_error *err);

/* Parses a send_at value: "next" (*next = true), or an RFC 3339 time with "Z" or an offset
 * ("2026-03-02T09:30:00+01:00"; seconds and fractions optional) -> *unix_ms. SDRA_EINVAL with
 * a one-line message otherwise (a time without a zone is refused: it would be ambiguous). */
int sdra_send_at_parse(const char *s, bool *next, int64_t *unix_ms, sdra_error *err);

/* Validates a YYYY-MM-DD date; returns 0 or SDRA_EINVAL. */
int sdra_date_validate(const char *s);

/* Today's date in local time as YYYY-MM-DD (out needs 11 bytes). */
void sdra_date_today(char out[11]);

#ifdef __cplusplus
}
#endif
#endif
