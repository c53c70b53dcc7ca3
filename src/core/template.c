/*
 * template.c - a small logic-less template engine (a mustache subset, documented in
 * docs/templates.md): {{name}} (escaped when the caller asks for HTML), {{{name}}} and
 * {{&name}} (raw), sections {{#name}}...{{/name}}, inverted sections {{^name}}...{{/name}},
 * dotted names (a numeric part indexes a list), "." for the current item, comments {{! ... }}. Section and comment tags alone
 * on a line take the whole line with them, so text templates keep their layout.
 *
 * Templates are parsed once into a tree (so every syntax error is found before anything is
 * rendered, with the file name and line) and rendered against a jansson value. Limits: source
 * size, nesting depth (SDRA_TMPL_MAX_DEPTH) and the output buffer's max_bytes.
 *
 * A core module since the report (data/report/) is rendered with it as well as the email
 * templates (src/compose, which adds its files-with-parts format on top).
 */
#include "sdra/template.h"
#include "sdra/util.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum node_type { N_TEXT, N_VAR, N_RAW, N_SECTION, N_INVERTED };

typedef struct node {
    enum node_type type;
    const char *s; /* text (points into the template's copy of the source) or name */
    size_t len;
    int line;
    struct node *kids;
    size_t n_kids, cap_kids;
} node;

struct sdra_tmpl {
    char *src;  /* owned copy of the source; nodes point into it */
    char *name; /* for error messages */
    node root;
};

typedef struct parser {
    const char *src;
    size_t len, pos;
    const char *name;
    int line;     /* line of src[pos] */
    int first_line;
    sdra_error *err;
} parser;

static void node_free(node *n)
{
    for (size_t i = 0; i < n->n_kids; i++)
        node_free(&n->kids[i]);
    free(n->kids);
}

static node *add_kid(node *parent, enum node_type type, const char *s, size_t len, int line)
{
    if (parent->n_kids == parent->cap_kids) {
        size_t cap = parent->cap_kids ? parent->cap_kids * 2 : 8;
        node *k = realloc(parent->kids, cap * sizeof *k);
        if (!k)
            return NULL;
        parent->kids = k;
        parent->cap_kids = cap;
    }
    node *n = &parent->kids[parent->n_kids++];
    memset(n, 0, sizeof *n);
    n->type = type;
    n->s = s;
    n->len = len;
    n->line = line;
    return n;
}

static int count_lines(const char *s, size_t n)
{
    int c = 0;
    for (size_t i = 0; i < n; i++)
        c += s[i] == '\n';
    return c;
}

static int name_ok(const char *s, size_t n)
{
    if (n == 1 && s[0] == '.')
        return 1;
    if (n == 0 || s[0] == '.' || s[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '_' || c == '-' || c == '.'))
            return 0;
        if (c == '.' && i + 1 < n && s[i + 1] == '.')
            return 0;
    }
    return 1;
}

static int syntax(parser *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int syntax(parser *p, int line, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return sdra_error_set(p->err, SDRA_EINVAL, "%s:%d: %s", p->name, line, what);
}

#define SHOW(n) (int)((n) > 60 ? 60 : (n))

/*
 * Parses nodes into parent until the matching {{/open_name}} (or the end when open_name is
 * NULL). depth counts open sections.
 */
static int parse_block(parser *p, node *parent, const char *open_name, size_t open_len,
                       int open_line, int depth)
{
    for (;;) {
        const char *start = p->src + p->pos;
        size_t rest = p->len - p->pos;
        const char *tag = rest >= 2 ? memmem(start, rest, "{{", 2) : NULL;
        if (!tag) {
            if (rest && !add_kid(parent, N_TEXT, start, rest, p->line))
                return sdra_error_set(p->err, SDRA_ENOMEM, "out of memory");
            p->line += count_lines(start, rest);
            p->pos = p->len;
            if (open_name)
                return syntax(p, open_line, "unclosed section '%.*s' (no {{/%.*s}} before the end)",
                              SHOW(open_len), open_name, SHOW(open_len), open_name);
            return 0;
        }
        size_t text_len = (size_t)(tag - start);
        int tag_line = p->line + count_lines(start, text_len);
        /* find the tag's end */
        const char *body = tag + 2;
        int triple = body < p->src + p->len && *body == '{';
        if (triple)
            body++;
        const char *end_search = body;
        const char *src_end = p->src + p->len;
        size_t end_rest = end_search < src_end ? (size_t)(src_end - end_search) : 0;
        const char *close = memmem(end_search, end_rest, triple ? "}}}" : "}}", triple ? 3 : 2);
        const char *nl = memchr(end_search, '\n', end_rest);
        char kind = 0;
        if (!triple && body < p->src + p->len && strchr("#^/!&>=", *body) && *body)
            kind = *body;
        if (!close || (nl && nl < close && kind != '!'))
            return syntax(p, tag_line, "unclosed tag '{{%.*s' (no closing %s on this line)",
                          SHOW((size_t)((nl ? nl : p->src + p->len) - body)), body,
                          triple ? "}}}" : "}}");
        const char *tag_end = close + (triple ? 3 : 2);
        const char *nm = body + (kind ? 1 : 0);
        const char *nm_end = close;
        while (nm < nm_end && isspace((unsigned char)*nm))
            nm++;
        while (nm_end > nm && isspace((unsigned char)nm_end[-1]))
            nm_end--;
        size_t nlen = (size_t)(nm_end - nm);

        /* standalone lines: section/inverted/close/comment tags alone on their line */
        size_t emit_len = text_len;
        size_t next_pos = (size_t)(tag_end - p->src);
        int skipped_nl = 0;
        if (kind == '#' || kind == '^' || kind == '/' || kind == '!') {
            const char *ls = tag;
            while (ls > p->src && (ls[-1] == ' ' || ls[-1] == '\t'))
                ls--;
            int at_line_start = ls == p->src || ls[-1] == '\n';
            const char *le = tag_end;
            while (le < p->src + p->len && (*le == ' ' || *le == '\t' || *le == '\r'))
                le++;
            int at_line_end = le == p->src + p->len || *le == '\n';
            if (at_line_start && at_line_end && ls >= start) {
                emit_len = (size_t)(ls - start);
                next_pos = (size_t)(le - p->src) + (le < p->src + p->len ? 1 : 0);
                skipped_nl = le < p->src + p->len;
            }
        }
        if (emit_len && !add_kid(parent, N_TEXT, start, emit_len, p->line))
            return sdra_error_set(p->err, SDRA_ENOMEM, "out of memory");
        /* lines consumed: text + the tag (comments may span lines) + a skipped newline */
        p->line = tag_line + count_lines(tag, (size_t)(tag_end - tag)) + skipped_nl;
        p->pos = next_pos;

        if (kind == '!')
            continue;
        if (kind == '>' || kind == '=')
            return syntax(p, tag_line, "unsupported tag '{{%c' (partials and delimiter changes "
                                       "are not part of this template language)",
                          kind);
        if (!name_ok(nm, nlen))
            return syntax(p, tag_line, "invalid tag name '%.*s' (letters, digits, _ - and dots)",
                          SHOW(nlen), nm);
        if (kind == '/') {
            if (!open_name)
                return syntax(p, tag_line, "'{{/%.*s}}' closes a section that was never opened",
                              SHOW(nlen), nm);
            if (nlen != open_len || memcmp(nm, open_name, nlen))
                return syntax(p, tag_line,
                              "mismatched close '{{/%.*s}}': section '%.*s' opened at line %d is "
                              "still open",
                              SHOW(nlen), nm, SHOW(open_len), open_name, open_line);
            return 0;
        }
        if (kind == '#' || kind == '^') {
            if (depth >= SDRA_TMPL_MAX_DEPTH)
                return syntax(p, tag_line, "sections nested deeper than %d levels",
                              SDRA_TMPL_MAX_DEPTH);
            node *sec = add_kid(parent, kind == '#' ? N_SECTION : N_INVERTED, nm, nlen, tag_line);
            if (!sec)
                return sdra_error_set(p->err, SDRA_ENOMEM, "out of memory");
            /* parent->kids may move when siblings are added later, but not during the child
             * parse (it only appends to sec). */
            int rc = parse_block(p, sec, nm, nlen, tag_line, depth + 1);
            if (rc < 0)
                return rc;
            continue;
        }
        if (!add_kid(parent, (triple || kind == '&') ? N_RAW : N_VAR, nm, nlen, tag_line))
            return sdra_error_set(p->err, SDRA_ENOMEM, "out of memory");
    }
}

int sdra_tmpl_parse(sdra_tmpl **out, const char *src, size_t len, const char *name,
                    int first_line, sdra_error *err)
{
    *out = NULL;
    if (!name)
        name = "template";
    if (len > SDRA_TMPL_MAX_SRC_BYTES)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: template larger than %u bytes", name,
                              SDRA_TMPL_MAX_SRC_BYTES);
    sdra_tmpl *t = calloc(1, sizeof *t);
    if (!t)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    t->src = malloc(len + 1);
    t->name = strdup(name);
    if (!t->src || !t->name) {
        sdra_tmpl_destroy(t);
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    }
    if (len)
        memcpy(t->src, src, len);
    t->src[len] = 0;
    if (memchr(t->src, 0, len)) {
        sdra_tmpl_destroy(t);
        return sdra_error_set(err, SDRA_EINVAL, "%s: template contains a NUL byte", name);
    }
    parser p = {.src = t->src, .len = len, .name = t->name, .line = first_line,
                .first_line = first_line, .err = err};
    int rc = parse_block(&p, &t->root, NULL, 0, 0, 0);
    if (rc < 0) {
        sdra_tmpl_destroy(t);
        return rc;
    }
    *out = t;
    return 0;
}

void sdra_tmpl_destroy(sdra_tmpl *t)
{
    if (!t)
        return;
    node_free(&t->root);
    free(t->src);
    free(t->name);
    free(t);
}

/* ---- rendering -------------------------------------------------------------------------- */

typedef struct renderer {
    const json_t *stack[SDRA_TMPL_MAX_DEPTH + 2];
    int n;
    int escape;
    sdra_buf *out;
    const char *name;
    sdra_error *err;
} renderer;

/* A member of an object, or an element of an array by its index in digits ("items.0": the
 * first item, so a section can test "has any" without a flag in the document). */
static const json_t *get_key(const json_t *obj, const char *s, size_t n)
{
    if (json_is_array(obj)) {
        size_t idx = 0;
        for (size_t i = 0; i < n; i++) {
            if (!isdigit((unsigned char)s[i]) || idx > SIZE_MAX / 10 - 10)
                return NULL;
            idx = idx * 10 + (size_t)(s[i] - '0');
        }
        return n ? json_array_get(obj, idx) : NULL;
    }
    if (!json_is_object(obj))
        return NULL;
    return json_object_getn(obj, s, n);
}

static const json_t *lookup(const renderer *r, const char *s, size_t n)
{
    if (n == 1 && s[0] == '.')
        return r->n ? r->stack[r->n - 1] : NULL;
    const char *dot = memchr(s, '.', n);
    size_t first = dot ? (size_t)(dot - s) : n;
    const json_t *v = NULL;
    for (int i = r->n - 1; i >= 0 && !v; i--)
        v = get_key(r->stack[i], s, first);
    while (v && dot) {
        const char *part = dot + 1;
        size_t left = n - (size_t)(part - s);
        dot = memchr(part, '.', left);
        size_t plen = dot ? (size_t)(dot - part) : left;
        v = get_key(v, part, plen);
    }
    return v;
}

static int truthy(const json_t *v)
{
    if (!v || json_is_null(v) || json_is_false(v))
        return 0;
    if (json_is_array(v))
        return json_array_size(v) > 0;
    if (json_is_string(v))
        return json_string_length(v) > 0;
    return 1;
}

int sdra_tmpl_html_escape(sdra_buf *out, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: break;
        }
        if (!rep)
            continue;
        if (i > run && sdra_buf_append(out, s + run, i - run) < 0)
            return SDRA_ELIMIT;
        if (sdra_buf_puts(out, rep) < 0)
            return SDRA_ELIMIT;
        run = i + 1;
    }
    if (n > run && sdra_buf_append(out, s + run, n - run) < 0)
        return SDRA_ELIMIT;
    return 0;
}

static int emit_value(renderer *r, const json_t *v, int escape)
{
    char num[64];
    const char *s = NULL;
    size_t n = 0;
    if (json_is_string(v)) {
        s = json_string_value(v);
        n = json_string_length(v);
    } else if (json_is_integer(v)) {
        n = (size_t)snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = num;
    } else if (json_is_real(v)) {
        n = (size_t)snprintf(num, sizeof num, "%.15g", json_real_value(v));
        s = num;
    } else if (json_is_true(v)) {
        s = "true";
        n = 4;
    }
    if (!s || !n)
        return 0;
    int rc = escape ? sdra_tmpl_html_escape(r->out, s, n) : sdra_buf_append(r->out, s, n);
    return rc < 0 ? SDRA_ELIMIT : 0;
}

static int render_nodes(renderer *r, const node *parent);

static int push_render(renderer *r, const node *sec, const json_t *v)
{
    if (r->n >= (int)(sizeof r->stack / sizeof r->stack[0]))
        return sdra_error_set(r->err, SDRA_EINTERNAL, "%s: context stack overflow", r->name);
    r->stack[r->n++] = v;
    int rc = render_nodes(r, sec);
    r->n--;
    return rc;
}

static int render_nodes(renderer *r, const node *parent)
{
    for (size_t i = 0; i < parent->n_kids; i++) {
        const node *k = &parent->kids[i];
        int rc = 0;
        switch (k->type) {
        case N_TEXT:
            rc = sdra_buf_append(r->out, k->s, k->len) < 0 ? SDRA_ELIMIT : 0;
            break;
        case N_VAR:
        case N_RAW:
            rc = emit_value(r, lookup(r, k->s, k->len), k->type == N_VAR && r->escape);
            break;
        case N_INVERTED:
            if (!truthy(lookup(r, k->s, k->len)))
                rc = render_nodes(r, k);
            break;
        case N_SECTION: {
            const json_t *v = lookup(r, k->s, k->len);
            if (!truthy(v))
                break;
            if (json_is_array(v)) {
                for (size_t j = 0; j < json_array_size(v) && rc == 0; j++)
                    rc = push_render(r, k, json_array_get(v, j));
            } else if (json_is_true(v)) {
                rc = render_nodes(r, k);
            } else {
                rc = push_render(r, k, v);
            }
            break;
        }
        }
        if (rc == SDRA_ELIMIT)
            return sdra_error_set(r->err, SDRA_ELIMIT, "%s: rendered output larger than %zu bytes",
                                  r->name, r->out->max_bytes);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int sdra_tmpl_render(const sdra_tmpl *t, const json_t *ctx, int escape_html, sdra_buf *out,
                     sdra_error *err)
{
    renderer r = {.escape = escape_html, .out = out, .name = t->name, .err = err};
    r.stack[r.n++] = ctx;
    size_t before = out->len;
    int rc = render_nodes(&r, &t->root);
    if (rc < 0 && out->data) {
        out->len = before;
        out->data[before] = 0;
    }
    return rc;
}

int sdra_tmpl_content_line(const sdra_tmpl *t)
{
    for (size_t i = 0; t && i < t->root.n_kids; i++) {
        const node *k = &t->root.kids[i];
        int ws = k->type == N_TEXT;
        for (size_t j = 0; ws && j < k->len; j++)
            ws = isspace((unsigned char)k->s[j]);
        if (!ws)
            return k->line > 0 ? k->line : 1;
    }
    return 0;
}

int sdra_tmpl_load(sdra_tmpl **out, const char *path, sdra_error *err)
{
    char *src = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = sdra_file_read(&src, &len, path, SDRA_TMPL_MAX_SRC_BYTES, err);
    if (rc < 0)
        return rc;
    rc = sdra_tmpl_parse(out, src, len, path, 1, err);
    free(src);
    return rc;
}
