/*
 * edit.c - a person's edit of a composed message (the web app's email review, docs/web.md):
 * the .eml the composer wrote, with the subject and the text a person changed. The rest of the
 * message (addresses, Date, Message-ID, boundaries, the invite) is kept byte for byte, so the
 * edited message threads and delivers as the composed one would. The HTML alternative is
 * rebuilt from the edited text (escaped, one paragraph per blank-line block), since the two
 * alternatives must say the same thing.
 */
#include "internal.h"

#include "sdra/buf.h"
#include "sdra/compose.h"
#include "sdra/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Where the content of the first part whose header block (from hdr on) names ctype begins and
 * ends (before the CRLF of the next boundary line), or 0 when there is none. */
static int find_part(const char *eml, const char *ctype, size_t *begin, size_t *end)
{
    const char *h = strstr(eml, ctype);
    if (!h)
        return 0;
    const char *b = strstr(h, "\r\n\r\n");
    if (!b)
        return 0;
    b += 4;
    const char *e = strstr(b, "\r\n--");
    if (!e)
        e = b + strlen(b);
    *begin = (size_t)(b - eml);
    *end = (size_t)(e - eml);
    return 1;
}

static int html_of(sdra_buf *out, const char *text)
{
    int rc = sdra_buf_puts(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Follow-up</title></head>\n"
                                "<body>\n<p>");
    for (const char *p = text; rc == 0 && *p; p++) {
        if (*p == '\n' && p[1] == '\n') {
            rc = sdra_buf_puts(out, "</p>\n<p>");
            while (p[1] == '\n')
                p++;
        } else if (*p == '\n') {
            rc = sdra_buf_puts(out, "<br>\n");
        } else if (*p == '&') {
            rc = sdra_buf_puts(out, "&amp;");
        } else if (*p == '<') {
            rc = sdra_buf_puts(out, "&lt;");
        } else if (*p == '>') {
            rc = sdra_buf_puts(out, "&gt;");
        } else if (*p == '"') {
            rc = sdra_buf_puts(out, "&quot;");
        } else if (*p != '\r') {
            rc = sdra_buf_putc(out, *p);
        }
    }
    return rc < 0 ? rc : sdra_buf_puts(out, "</p>\n</body></html>\n");
}

int sdra_email_eml_edit(const char *eml, const char *subject, const char *text, char **out, sdra_error *err)
{
    *out = NULL;
    if (sdra_text_check_line("subject", subject, err) < 0)
        return SDRA_EINVAL;
    const char *hdr_end = strstr(eml, "\r\n\r\n");
    if (!hdr_end || strncmp(eml, "From:", 5))
        return sdra_error_set(err, SDRA_EINVAL, "the composed message has no header block");
    sdra_buf b, html;
    sdra_buf_init(&b, 4u << 20);
    sdra_buf_init(&html, 1u << 20);
    int rc = 0;
    /* headers: the same, with the new Subject where the old one was */
    size_t hdr_n = (size_t)(hdr_end - eml) + 2;
    bool top_text = false;
    for (size_t pos = 0; rc == 0 && pos < hdr_n;) {
        const char *line = eml + pos;
        const char *nl = strstr(line, "\r\n");
        size_t n = (size_t)(nl - line) + 2;
        if (!strncasecmp(line, "Subject:", 8)) {
            rc = sdra_mime_header_text(&b, "Subject", subject);
            while (pos + n < hdr_n && (eml[pos + n] == ' ' || eml[pos + n] == '\t')) /* folded */
                n += (size_t)(strstr(eml + pos + n, "\r\n") - (eml + pos + n)) + 2;
        } else {
            if (!strncasecmp(line, "Content-Type: text/plain", 24))
                top_text = true;
            rc = sdra_buf_append(&b, line, n);
        }
        pos += n;
    }
    if (rc == 0)
        rc = sdra_buf_puts(&b, "\r\n");
    const char *body = hdr_end + 4;
    size_t tb = 0, te = 0, hb = 0, he = 0;
    if (rc == 0 && top_text) {
        rc = sdra_mime_qp_encode(&b, text, strlen(text));
    } else if (rc == 0) {
        if (!find_part(body, "Content-Type: text/plain", &tb, &te)) {
            rc = sdra_error_set(err, SDRA_EINVAL, "the composed message has no text part");
            goto done;
        }
        int has_html = find_part(body, "Content-Type: text/html", &hb, &he) && hb > te;
        if ((rc = sdra_buf_append(&b, body, tb)) == 0 && (rc = sdra_mime_qp_encode(&b, text, strlen(text))) == 0) {
            if (has_html && (rc = sdra_buf_append(&b, body + te, hb - te)) == 0 &&
                (rc = html_of(&html, text)) == 0 && (rc = sdra_mime_qp_encode(&b, html.data, html.len)) == 0)
                rc = sdra_buf_puts(&b, body + he);
            else if (!has_html && rc == 0)
                rc = sdra_buf_puts(&b, body + te);
        }
    }
    if (rc < 0) {
        if (!err->msg[0])
            sdra_error_set(err, SDRA_ELIMIT, "the edited message is too large");
        rc = err->code ? err->code : SDRA_ELIMIT;
        goto done;
    }
    *out = sdra_buf_detach(&b);
    if (!*out)
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
done:
    sdra_buf_release(&b);
    sdra_buf_release(&html);
    return rc;
}
