/*
 * talking_points.c - the answers to objections, kept as data (data/talking_points/<type>.txt,
 * format in docs/templates.md): entries separated by blank lines, each with optional
 * "keywords:" and "call:" lines and then its text; "label:" names the objection type for
 * templates; '#' starts a comment line. Selection picks the entry whose keywords best match
 * what the prospect actually said, and skips entries that propose a call when the contact
 * asked not to be called.
 *
 * A playbook (data/playbook/playbook.txt or --playbook FILE) is a file of the same format
 * whose entries may also say "type:" (the objection type they answer) and "email: yes" (the
 * user cleared the point to be put to the prospect in the follow-up email). Built-in talking
 * points never carry "email:": they coach the rep (in the report), they promise nothing.
 */
#include "compose/internal.h"
#include "sdra/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TP_MAX_BYTES (64 * 1024)
#define TP_MAX_ENTRIES 64
#define TP_MAX_KEYWORDS 32

typedef struct tp_entry {
    char *keywords[TP_MAX_KEYWORDS];
    size_t n_keywords;
    char *text;
    char *type;    /* playbooks: the objection type it answers; NULL = any */
    int proposes_call;
    int for_email; /* playbooks: "email: yes", the user cleared it for the prospect */
} tp_entry;

struct sdra_tp_set {
    char *label;
    tp_entry entries[TP_MAX_ENTRIES];
    size_t n_entries;
};

void sdra_tp_destroy(sdra_tp_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_entries; i++) {
        for (size_t k = 0; k < s->entries[i].n_keywords; k++)
            free(s->entries[i].keywords[k]);
        free(s->entries[i].text);
        free(s->entries[i].type);
    }
    free(s->label);
    free(s);
}

static char *trim_dup(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return strndup(s, n);
}

static int has_prefix(const char *line, size_t n, const char *key)
{
    size_t k = strlen(key);
    return n >= k && !strncasecmp(line, key, k);
}

/* Ends the entry being read: stores it (text required) and resets cur and text. */
static int finish_entry(sdra_tp_set *s, tp_entry *cur, sdra_buf *text, const char *name,
                        int line_no, sdra_error *err)
{
    if (!text->len)
        return sdra_error_set(err, SDRA_EINVAL, "%s:%d: entry has no text", name, line_no);
    if (s->n_entries == TP_MAX_ENTRIES)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: more than %d entries", name,
                              TP_MAX_ENTRIES);
    cur->text = sdra_buf_detach(text);
    if (!cur->text)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    s->entries[s->n_entries++] = *cur;
    memset(cur, 0, sizeof *cur);
    sdra_buf_reset(text);
    return 0;
}

int sdra_tp_parse(sdra_tp_set **out, const char *src, const char *name, sdra_error *err)
{
    *out = NULL;
    sdra_tp_set *s = calloc(1, sizeof *s);
    if (!s)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    sdra_buf text;
    sdra_buf_init(&text, TP_MAX_BYTES);
    tp_entry cur = {0};
    int rc = 0, line_no = 0, in_entry = 0;
    const char *p = src;
    for (;;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        line_no++;
        const char *l = p;
        while (n && isspace((unsigned char)*l))
            l++, n--;
        while (n && isspace((unsigned char)l[n - 1]))
            n--;
        int blank = n == 0;
        if (n && l[0] == '#') {
            /* comment */
        } else if (blank) {
            if (in_entry && (rc = finish_entry(s, &cur, &text, name, line_no - 1, err)) < 0)
                goto done;
            in_entry = 0;
        } else if (has_prefix(l, n, "label:") && !in_entry) {
            free(s->label);
            s->label = trim_dup(l + 6, n - 6);
        } else if (has_prefix(l, n, "keywords:") && !text.len) {
            in_entry = 1;
            const char *k = l + 9, *e = l + n;
            while (k < e) {
                const char *c = memchr(k, ',', (size_t)(e - k));
                if (!c)
                    c = e;
                char *kw = trim_dup(k, (size_t)(c - k));
                if (!kw) {
                    rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
                    goto done;
                }
                if (!*kw || cur.n_keywords == TP_MAX_KEYWORDS) {
                    free(kw);
                    if (cur.n_keywords == TP_MAX_KEYWORDS) {
                        rc = sdra_error_set(err, SDRA_ELIMIT, "%s:%d: more than %d keywords",
                                            name, line_no, TP_MAX_KEYWORDS);
                        goto done;
                    }
                } else {
                    for (char *q = kw; *q; q++)
                        *q = (char)tolower((unsigned char)*q);
                    cur.keywords[cur.n_keywords++] = kw;
                }
                k = c + 1;
            }
        } else if ((has_prefix(l, n, "type:") || has_prefix(l, n, "email:")) && !text.len) {
            in_entry = 1;
            int is_type = has_prefix(l, n, "type:");
            size_t k = is_type ? 5 : 6;
            char *v = trim_dup(l + k, n - k);
            if (!v) {
                rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
                goto done;
            }
            if (is_type) {
                free(cur.type);
                cur.type = v;
            } else {
                int yes = !strcasecmp(v, "yes"), no = !strcasecmp(v, "no");
                free(v);
                if (!yes && !no) {
                    rc = sdra_error_set(err, SDRA_EINVAL, "%s:%d: 'email:' must be yes or no",
                                        name, line_no);
                    goto done;
                }
                cur.for_email = yes;
            }
        } else if (has_prefix(l, n, "call:") && !text.len) {
            in_entry = 1;
            char *v = trim_dup(l + 5, n - 5);
            if (!v) {
                rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
                goto done;
            }
            int yes = !strcasecmp(v, "yes"), no = !strcasecmp(v, "no");
            free(v);
            if (!yes && !no) {
                rc = sdra_error_set(err, SDRA_EINVAL, "%s:%d: 'call:' must be yes or no", name,
                                    line_no);
                goto done;
            }
            cur.proposes_call = yes;
        } else {
            in_entry = 1;
            if ((text.len && sdra_buf_putc(&text, ' ') < 0) || sdra_buf_append(&text, l, n) < 0) {
                rc = sdra_error_set(err, SDRA_ELIMIT, "%s: larger than %d bytes", name,
                                    TP_MAX_BYTES);
                goto done;
            }
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    if (in_entry && (rc = finish_entry(s, &cur, &text, name, line_no, err)) < 0)
        goto done;
    if (!s->n_entries) {
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: no talking points in the file", name);
        goto done;
    }
done:
    for (size_t k = 0; k < cur.n_keywords; k++)
        free(cur.keywords[k]);
    free(cur.type);
    sdra_buf_release(&text);
    if (rc < 0) {
        sdra_tp_destroy(s);
        return rc;
    }
    *out = s;
    return 0;
}

int sdra_tp_load(sdra_tp_set **out, const char *dir, const char *type, sdra_error *err)
{
    *out = NULL;
    if (!type || !*type || strlen(type) > 40 || strspn(type, "abcdefghijklmnopqrstuvwxyz_") != strlen(type))
        return sdra_error_set(err, SDRA_EINVAL, "objection type '%.40s' is not [a-z_]+",
                              type ? type : "");
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s.txt", dir, type) >= sizeof path)
        return sdra_error_set(err, SDRA_ELIMIT, "talking points path too long");
    char *src = NULL;
    int rc = sdra_file_read(&src, NULL, path, TP_MAX_BYTES, err);
    if (rc < 0)
        return rc;
    rc = sdra_tp_parse(out, src, path, err);
    free(src);
    return rc;
}

const char *sdra_tp_label(const sdra_tp_set *s)
{
    return s ? s->label : NULL;
}

/* Counts occurrences of kw in said (both lowercase-compared), at word starts. */
static int occurrences(const char *said, const char *kw)
{
    size_t kl = strlen(kw);
    int c = 0;
    if (!kl)
        return 0;
    for (const char *p = said; *p; p++) {
        if (p != said && isalnum((unsigned char)p[-1]))
            continue;
        if (!strncasecmp(p, kw, kl))
            c++;
    }
    return c;
}

const char *sdra_tp_select(const sdra_tp_set *s, const char *said, int allow_call)
{
    return sdra_tp_select_email(s, NULL, said, allow_call, 0);
}

const char *sdra_tp_select_email(const sdra_tp_set *s, const char *type, const char *said,
                                 int allow_call, int email_only)
{
    if (!s)
        return NULL;
    const tp_entry *best = NULL;
    int best_score = -1;
    for (size_t i = 0; i < s->n_entries; i++) {
        const tp_entry *e = &s->entries[i];
        if ((e->proposes_call && !allow_call) || (email_only && !e->for_email) ||
            (type && e->type && strcmp(type, e->type)))
            continue;
        int score = 0;
        for (size_t k = 0; k < e->n_keywords && said; k++)
            score += occurrences(said, e->keywords[k]);
        if (score > best_score) {
            best = e;
            best_score = score;
        }
    }
    return best ? best->text : NULL;
}

int sdra_tp_battlecard(const char *dir, const char *type, const char *said, int allow_call, char **label,
                       char **point, sdra_error *err)
{
    *label = *point = NULL;
    sdra_tp_set *tp = NULL;
    int rc = sdra_tp_load(&tp, dir, type, err);
    if (rc == SDRA_ENOTFOUND) {
        sdra_error_clear(err);
        rc = sdra_tp_load(&tp, dir, "general", err);
    }
    const char *l = sdra_tp_label(tp) ? sdra_tp_label(tp) : type;
    const char *p = sdra_tp_select(tp, said, allow_call);
    *label = strdup(l ? l : "");
    *point = p ? strdup(p) : NULL;
    if (!*label || (p && !*point)) {
        free(*label);
        free(*point);
        *label = *point = NULL;
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    }
    sdra_tp_destroy(tp);
    return rc < 0 ? rc : 0;
}
