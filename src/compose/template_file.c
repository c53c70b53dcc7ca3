/*
 * template_file.c - the email template file format (docs/templates.md): one file split into
 * parts by "--- subject ---", "--- text ---" and "--- html ---" marker lines, each part a
 * template of the core engine (sdra/template.h) whose errors carry the file's own line numbers.
 */
#include "compose/internal.h"
#include "sdra/util.h"

#include <stdlib.h>
#include <string.h>

/* ---- template files with parts ---------------------------------------------------------- */

static int marker(const char *line, size_t n)
{
    while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    if (n == 15 && !memcmp(line, "--- subject ---", 15))
        return 1;
    if (n == 12 && !memcmp(line, "--- text ---", 12))
        return 2;
    if (n == 12 && !memcmp(line, "--- html ---", 12))
        return 3;
    return 0;
}

void sdra_tmpl_file_release(sdra_tmpl_file *tf)
{
    if (!tf)
        return;
    sdra_tmpl_destroy(tf->subject);
    sdra_tmpl_destroy(tf->text);
    sdra_tmpl_destroy(tf->html);
    memset(tf, 0, sizeof *tf);
}

int sdra_tmpl_file_parse(sdra_tmpl_file *tf, const char *src, size_t len, const char *name,
                         sdra_error *err)
{
    memset(tf, 0, sizeof *tf);
    const char *part_start[4] = {0};
    size_t part_len[4] = {0};
    int part_line[4] = {0};
    int cur = 0, line = 1;
    size_t pos = 0;
    const char *first_marker = NULL;
    while (pos < len) {
        const char *ls = src + pos;
        const char *nl = memchr(ls, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - ls) : len - pos;
        int m = marker(ls, ll);
        if (m) {
            if (part_start[m])
                return sdra_error_set(err, SDRA_EINVAL, "%s:%d: second '%.*s' marker", name, line,
                                      (int)ll, ls);
            if (cur)
                part_len[cur] = (size_t)(ls - part_start[cur]);
            if (!first_marker)
                first_marker = ls;
            cur = m;
            part_start[m] = nl ? nl + 1 : src + len;
            part_line[m] = line + 1;
        }
        pos += ll + (nl ? 1 : 0);
        line++;
    }
    if (cur)
        part_len[cur] = (size_t)(src + len - part_start[cur]);
    /* before the first marker only white space and comments are allowed */
    const char *first = first_marker ? first_marker : src + len;
    sdra_tmpl *pre = NULL;
    int prc = sdra_tmpl_parse(&pre, src, (size_t)(first - src), name, 1, err);
    if (prc < 0)
        return prc;
    int stray = sdra_tmpl_content_line(pre);
    sdra_tmpl_destroy(pre);
    if (stray)
        return sdra_error_set(err, SDRA_EINVAL,
                              "%s:%d: text before the first '--- subject ---' / '--- text ---' "
                              "marker (only comments may come first)",
                              name, stray);
    if (!part_start[1] || !part_start[2])
        return sdra_error_set(err, SDRA_EINVAL,
                              "%s: a template needs a '--- subject ---' and a '--- text ---' part",
                              name);
    /* the subject is one line: trailing newlines are not part of it */
    while (part_len[1] && (part_start[1][part_len[1] - 1] == '\n' ||
                           part_start[1][part_len[1] - 1] == '\r'))
        part_len[1]--;
    sdra_tmpl **dst[4] = {NULL, &tf->subject, &tf->text, &tf->html};
    for (int i = 1; i <= 3; i++) {
        if (!part_start[i])
            continue;
        int rc = sdra_tmpl_parse(dst[i], part_start[i], part_len[i], name, part_line[i], err);
        if (rc < 0) {
            sdra_tmpl_file_release(tf);
            return rc;
        }
    }
    return 0;
}

int sdra_tmpl_file_load(sdra_tmpl_file *tf, const char *path, sdra_error *err)
{
    char *src = NULL;
    size_t len = 0;
    memset(tf, 0, sizeof *tf);
    int rc = sdra_file_read(&src, &len, path, SDRA_TMPL_MAX_SRC_BYTES, err);
    if (rc < 0)
        return rc;
    rc = sdra_tmpl_file_parse(tf, src, len, path, err);
    free(src);
    return rc;
}
