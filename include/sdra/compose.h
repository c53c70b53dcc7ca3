/*
 * sdra/compose.h - the follow-up email: analysis -> personalised MIME message + calendar invite.
 *
 * sdra_compose() turns a call's analysis (schema "sdra.analysis/1", see
 * docs/schemas/analysis.md) and the call metadata into an sdra_email: the "sdra.email/1" JSON
 * document (docs/schemas/email.md), the RFC 5322 / MIME message text (.eml) and, when a meeting
 * was agreed and calls are allowed, an RFC 5545 invite (.ics). The words come from a template
 * (data/templates/<style>.tmpl, or a user file; language in docs/templates.md) and the answers
 * to objections from data/talking_points/<type>.txt.
 *
 * Output is a pure function of (analysis, call, params): with params.now_s and the call id
 * fixed, a re-run gives byte-identical files (Message-ID, UID and MIME boundaries are derived
 * from the call id). Missing analysis fields are treated as absent; a wrong schema or a
 * non-object document is SDRA_EINVAL.
 *
 * Opt-outs: contact_preferences.do_not_email -> no message at all (sdra_email_eml() NULL, the
 * document says "skipped": "contact asked not to be emailed"); do_not_call -> the email proposes
 * no call or meeting and there is no invite.
 *
 *     sdra_compose_params p = sdra_compose_default_params();
 *     p.style = "friendly";
 *     sdra_email *e = NULL;
 *     if (sdra_compose(&e, analysis, NULL, &call, &p, &err) < 0) ...
 *     sdra_json_write_file("email.json", sdra_email_doc(e), &err);
 *     if (sdra_email_eml(e)) write "email.eml";
 *     if (sdra_email_ics(e)) write "invite.ics";
 *     sdra_email_destroy(e);
 */
#ifndef SDRA_COMPOSE_H
#define SDRA_COMPOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "sdra/call.h"
#include "sdra/error.h"
#include "sdra/transcript.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SDRA_EMAIL_SCHEMA "sdra.email/1"
#define SDRA_ANALYSIS_SCHEMA_V1 "sdra.analysis/1"

typedef struct sdra_compose_params {
    const char *style;          /* formal|friendly|concise|consultative; NULL = call->style,
                                   else "friendly" */
    const char *template_path;  /* user template file; NULL = data/templates/<style>.tmpl */
    const char *talking_points_dir; /* NULL = <share>/talking_points */
    int64_t now_s;              /* Unix time for Date and DTSTAMP; 0 = the current time */
    const char *msgid_domain;   /* domain of Message-ID / UID; NULL = the rep's email domain,
                                   else "sdra.invalid" */
    const char *default_from;   /* From address when the rep's email is unknown */
    int meeting_minutes;        /* invite length; default 30 */
    size_t max_output_bytes;    /* limit on each rendered part; default 256 KiB */
    int max_items;              /* at most this many pain points / objections / actions; 8 */
    const char *playbook_path;  /* the user's playbook (docs/templates.md, "Playbook"); NULL =
                                   <share>/playbook/playbook.txt when it exists, else none */
    const char *in_reply_to;    /* Message-ID ("<id@domain>") of the previous email to this
                                   contact: the message gets In-Reply-To and References and the
                                   document "in_reply_to"; NULL = a new thread. Ignored when it
                                   is this call's own Message-ID (a re-run). */
    const char *references;     /* the whole References chain ("<a@x> <b@y>"), oldest first;
                                   NULL = in_reply_to alone */
} sdra_compose_params;

typedef struct sdra_email sdra_email;

sdra_compose_params sdra_compose_default_params(void);

/*
 * Composes the follow-up email. analysis is required; t may be NULL (it only supplies speaker
 * names the analysis lacks); call may be NULL (everything then comes from the analysis).
 * On success *out is a new sdra_email (free with sdra_email_destroy). On failure *out is left
 * NULL and err says why: SDRA_EINVAL (bad analysis, unknown style, template syntax error naming
 * the file and line), SDRA_ENOTFOUND (template missing), SDRA_ELIMIT (output too large).
 */
int sdra_compose(sdra_email **out, const json_t *analysis, const sdra_transcript *t,
                 const sdra_call_info *call, const sdra_compose_params *p, sdra_error *err);

/* Does the analysis hold exactly one speaker (a voicemail, a one-party transcript, or two
 * voices the diarizer could not tell apart)? Who said what is then unknown: sdra_compose puts
 * no action item in the email and marks it needs_review (docs/schemas/email.md). */
bool sdra_compose_one_voice(const json_t *analysis);

void sdra_email_destroy(sdra_email *e);

/* The "sdra.email/1" document (borrowed; valid until destroy). */
const json_t *sdra_email_doc(const sdra_email *e);
/* The message text with CRLF line ends, or NULL when the email was skipped (borrowed). */
const char *sdra_email_eml(const sdra_email *e);
/* The iCalendar invite with CRLF line ends, or NULL when there is none (borrowed). */
const char *sdra_email_ics(const sdra_email *e);
/* NULL when an email was produced, else the reason (borrowed). */
const char *sdra_email_skipped(const sdra_email *e);

/*
 * Writes email.json, and email.eml / invite.ics when present, into dir (atomically), removing
 * a stale email.eml / invite.ics left there by an earlier run that produced one.
 */
int sdra_email_write_dir(const sdra_email *e, const char *dir, sdra_error *err);

/*
 * A person's edit of a composed message (the web app's email review): eml (the .eml this
 * module wrote, CRLF line ends) with the Subject replaced by subject (one line) and the text
 * part by text (LF line ends); the HTML alternative, when there is one, is rebuilt from text.
 * Every other header and part (the invite) is kept as it was. On success *out is a new string
 * (free()); on failure NULL and SDRA_EINVAL (a subject that is not one clean line, a message
 * this module did not write) or SDRA_ELIMIT.
 */
int sdra_email_eml_edit(const char *eml, const char *subject, const char *text, char **out, sdra_error *err);

#ifdef __cplusplus
}
#endif
#endif
