/*
 * sdra/report.h - the call report: one self-contained HTML page (no external assets, no
 * scripts) that a person reads after the call.
 *
 * It shows the header (contact, company, date, duration, outcome, summary), compliance flags,
 * a sentiment-over-time chart (inline SVG, one polyline per speaker, an axis in minutes),
 * talk-time bars, objections (type, quote, time), pain points, topics, action items with due
 * dates, the next meeting, the follow-up email (subject and text, or why it was skipped), what
 * the CRM recorded, and the transcript coloured by speaker with times. Every piece of text from
 * the documents is HTML-escaped. Missing documents or fields leave their section out or say
 * "none"; they are never an error.
 *
 *     char *html = NULL;
 *     if (sdra_report_render(&html, call, transcript, analysis, email, crm, &err) == 0) {
 *         sdra_file_write_atomic("report.html", html, strlen(html), &err);
 *         free(html);
 *     }
 */
#ifndef SDRA_REPORT_H
#define SDRA_REPORT_H

#include <jansson.h>
#include "sdra/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Size limit of a rendered report; a larger one fails with SDRA_ELIMIT. */
#define SDRA_REPORT_MAX_BYTES (32u << 20)

/*
 * Renders the report into *html (NUL-terminated, free() it). call (sdra.call/1) and analysis
 * (sdra.analysis/1) are required JSON objects; transcript, email (sdra.email/1) and crm
 * (sdra.crm/1) may be NULL. Fails with SDRA_EINVAL for a missing/non-object call or analysis
 * or an analysis with another schema, SDRA_ELIMIT when the page would pass
 * SDRA_REPORT_MAX_BYTES; *html is left untouched on failure.
 */
int sdra_report_render(char **html, const json_t *call, const json_t *transcript,
                       const json_t *analysis, const json_t *email, const json_t *crm,
                       sdra_error *err);

#ifdef __cplusplus
}
#endif
#endif
