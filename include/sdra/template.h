/*
 * sdra/template.h - the project's logic-less template engine (a mustache subset; the language
 * is documented in docs/templates.md): {{name}} (HTML-escaped when the caller asks for it),
 * {{{name}}} and {{&name}} (raw), sections {{#name}}...{{/name}} (a list repeats, an object
 * becomes the context, true shows), inverted sections {{^name}}...{{/name}}, dotted names, "."
 * for the current item, comments {{! ... }}. No partials, no delimiter changes, no logic: the
 * document fed to a template (a view model) carries every decision.
 *
 * A template is parsed whole before anything renders, so every syntax error is found up front
 * and names the file and line. Users: the email templates (data/templates, src/compose) and
 * the call report (data/report, src/pipeline/report.c).
 *
 *     sdra_tmpl *t = NULL;
 *     sdra_buf out;
 *     sdra_buf_init(&out, 1u << 20);                       // the output limit
 *     if (sdra_tmpl_load(&t, "report.html.tmpl", &err) < 0 ||
 *         sdra_tmpl_render(t, view, 1, &out, &err) < 0) ...  // err: "report.html.tmpl:12: ..."
 *     sdra_tmpl_destroy(t);
 */
#ifndef SDRA_TEMPLATE_H
#define SDRA_TEMPLATE_H

#include <stddef.h>
#include <jansson.h>
#include "sdra/buf.h"
#include "sdra/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SDRA_TMPL_MAX_DEPTH 16        /* sections nested deeper are a syntax error */
#define SDRA_TMPL_MAX_SRC_BYTES (256u * 1024u)

typedef struct sdra_tmpl sdra_tmpl;

/* Parses template source (len bytes, need not be NUL-terminated). name is used in error
 * messages ("friendly.tmpl:12: unclosed section 'objections'"), first_line is the line number
 * of src[0] in that file. Syntax errors -> SDRA_EINVAL, a source over SDRA_TMPL_MAX_SRC_BYTES
 * -> SDRA_ELIMIT; *out stays NULL. */
int sdra_tmpl_parse(sdra_tmpl **out, const char *src, size_t len, const char *name,
                    int first_line, sdra_error *err);

/* Reads and parses the template file path (its errors name the path). A missing file is
 * SDRA_ENOTFOUND; otherwise as sdra_tmpl_parse. */
int sdra_tmpl_load(sdra_tmpl **out, const char *path, sdra_error *err);

/* Renders into out (appending; its max_bytes is the output limit -> SDRA_ELIMIT, naming the
 * template). escape_html: {{x}} is HTML-escaped when non-zero, inserted as is when zero;
 * {{{x}}} and {{&x}} are never escaped. On failure out is as it was before the call. */
int sdra_tmpl_render(const sdra_tmpl *t, const json_t *ctx, int escape_html, sdra_buf *out,
                     sdra_error *err);

void sdra_tmpl_destroy(sdra_tmpl *t); /* accepts NULL */

/* The line of the template's first content (a tag, or text that is not white space), or 0 when
 * it has none (only white space and comments). */
int sdra_tmpl_content_line(const sdra_tmpl *t);

/* HTML-escapes s (& < > " ') onto out; SDRA_ELIMIT past out's limit. */
int sdra_tmpl_html_escape(sdra_buf *out, const char *s, size_t n);

#ifdef __cplusplus
}
#endif
#endif
