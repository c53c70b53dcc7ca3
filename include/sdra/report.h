/*
 * sdra/report.h - the call report: one self-contained HTML page (no external assets; no
 * script unless it has an audio player) that a person reads after the call, and the view model
 * it is rendered from, which the HTTP API serves (GET /v1/calls/{id}/view) for the web app's
 * call page.
 *
 * It shows the header (contact, company, date, duration, outcome, summary), compliance flags,
 * a sentiment-over-time chart (inline SVG, one polyline per speaker, an axis in minutes),
 * talk-time bars, objections (type, quote, time), pain points, topics, action items with due
 * dates, the next meeting, the follow-up email (subject and text, or why it was skipped), what
 * the CRM recorded, and the transcript coloured by speaker with times. With the recording
 * beside the page it gains an <audio> player, and clicking a transcript line, objection, pain
 * point or action item seeks it (one small script, allowed by the page's CSP by its hash).
 * Every piece of text from the documents is HTML-escaped. Missing documents or fields leave
 * their section out or say "none"; they are never an error.
 *
 * The page comes in two steps: sdra_report_view builds the view model, a JSON document
 * ("sdra.call_view/1", docs/schemas/call_view.md) holding every number, label and colour, and
 * sdra_report_render_view renders it with the template data/report/report.html.tmpl (markup
 * and copy) and data/report/report.css (inlined).
 *
 *     json_t *view = NULL;
 *     char *html = NULL;
 *     if (sdra_report_view(&view, call, transcript, analysis, email, crm, "call.mp3", &err) == 0 &&
 *         sdra_report_render_view(&html, view, &err) == 0)
 *         sdra_file_write_atomic("report.html", html, strlen(html), &err);
 *     free(html);
 *     json_decref(view);
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

#define SDRA_REPORT_VIEW_SCHEMA "sdra.call_view/1"

/*
 * Builds the view model into *out (a new reference). call (sdra.call/1) and analysis
 * (sdra.analysis/1) are required JSON objects; transcript, email (sdra.email/1) and crm
 * (sdra.crm/1) may be NULL. audio_src is the player's source as the page will reach it (a file
 * name beside report.html, or a URL), or NULL for no player. The view holds no server path.
 * Fails with SDRA_EINVAL for a missing/non-object call or analysis or an analysis with another
 * schema, SDRA_ENOMEM; *out is left untouched on failure.
 */
int sdra_report_view(json_t **out, const json_t *call, const json_t *transcript,
                     const json_t *analysis, const json_t *email, const json_t *crm,
                     const char *audio_src, sdra_error *err);

/*
 * Renders a view from sdra_report_view into *html (NUL-terminated, free() it) with the
 * template and CSS in <share>/report/. Fails with SDRA_ENOTFOUND / SDRA_EINVAL when the
 * template is missing or broken (the message names the file and line), SDRA_ELIMIT when the
 * page would pass SDRA_REPORT_MAX_BYTES; *html is left untouched on failure.
 */
int sdra_report_render_view(char **html, const json_t *view, sdra_error *err);

/*
 * Both steps at once, without a player: renders the report into *html (NUL-terminated, free() it). call (sdra.call/1) and analysis
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
