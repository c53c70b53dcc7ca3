/*
 * rules.c - loads the rules backend's data (data/analyze/: *.rules pattern files,
 * sentiment.lex, stopwords.txt; formats in docs/analysis.md), matches token patterns, and
 * scores sentiment with the lexicon (valence words and idioms, boosters, negators, contrast).
 * Every file and line is bounded; a malformed line fails the load naming file and line.
 */
#include "internal.h"
#include "sdra/util.h"

#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RULE_FILE_BYTES (4u << 20)
#define MAX_RULE_FILES 32
#define MAX_ITEMS 200000

#define GROW(arr, n, cap)                                                                 \
    do {                                                                                  \
        if ((n) == (cap)) {                                                               \
            size_t nc_ = (cap) ? (cap) * 2 : 64;                                          \
            if (nc_ > MAX_ITEMS)                                                          \
                return SDRA_ELIMIT;                                                       \
            void *p_ = realloc((arr), nc_ * sizeof *(arr));                               \
            if (!p_)                                                                      \
                return SDRA_ENOMEM;                                                       \
            (arr) = p_;                                                                   \
            (cap) = nc_;                                                                  \
        }                                                                                 \
    } while (0)

void an_rules_release(an_rules *r)
{
    if (!r)
        return;
    free(r->rules);
    free(r->elems);
    free(r->alts);
    free(r->lex);
    free(r->stop);
    free(r->classes);
    memset(r, 0, sizeof *r);
}

static int add_alt(an_rules *r, const char *w, size_t len)
{
    GROW(r->alts, r->n_alts, r->cap_alts);
    an_alt *a = &r->alts[r->n_alts];
    memset(a, 0, sizeof *a);
    if (len && w[len - 1] == '*') {
        a->prefix = true;
        len--;
    }
    if (len == 0 || len >= AN_TOK_MAX)
        return SDRA_EINVAL;
    for (size_t i = 0; i < len; i++)
        a->w[i] = (char)tolower((unsigned char)w[i]);
    r->n_alts++;
    return 0;
}

static const struct an_class *find_class(const an_rules *r, const char *name)
{
    for (size_t i = 0; i < r->n_classes; i++)
        if (!strcmp(r->classes[i].name, name))
            return &r->classes[i];
    return NULL;
}

bool an_in_class(const an_rules *r, const char *name, const char *w)
{
    const struct an_class *c = find_class(r, name);
    if (!c)
        return false;
    for (int k = 0; k < c->n_alts; k++) {
        const an_alt *a = &r->alts[c->alt_first + k];
        if (a->w[0] != w[0])
            continue;
        if (a->prefix ? !strncmp(w, a->w, strlen(a->w)) : !strcmp(w, a->w))
            return true;
    }
    return false;
}

/* Parses a '|'-separated alternative list into alts; returns count or <0. */
static int parse_alts(an_rules *r, const char *s, size_t len, int *first)
{
    *first = (int)r->n_alts;
    int cnt = 0;
    size_t a = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '|') {
            if (i == a)
                return SDRA_EINVAL;
            if (s[a] == '@') { /* a class among the alternatives: copy its words */
                char name[AN_TOK_MAX];
                size_t nl = i - a - 1;
                if (nl == 0 || nl >= sizeof name)
                    return SDRA_ENOTFOUND;
                memcpy(name, s + a + 1, nl);
                name[nl] = 0;
                const struct an_class *c = find_class(r, name);
                if (!c)
                    return SDRA_ENOTFOUND;
                int cf = c->alt_first, cn = c->n_alts;
                for (int k = 0; k < cn; k++) {
                    GROW(r->alts, r->n_alts, r->cap_alts);
                    r->alts[r->n_alts++] = r->alts[cf + k];
                    cnt++;
                }
                a = i + 1;
                continue;
            }
            for (size_t k = a; k < i; k++)
                if (s[k] == '\'' || s[k] == '@')
                    return SDRA_EINVAL;
            int rc = add_alt(r, s + a, i - a);
            if (rc < 0)
                return rc;
            cnt++;
            a = i + 1;
        }
    }
    return cnt;
}

typedef struct loadpos {
    const char *file;
    int line;
    sdra_error *err;
} loadpos;

static int bad(const loadpos *lp, const char *what)
{
    return sdra_error_set(lp->err, SDRA_EINVAL, "%s:%d: %s", lp->file, lp->line, what);
}

static int parse_rule_line(an_rules *r, char *line, const loadpos *lp)
{
    char *eq = strstr(line, " = ");
    if (!eq)
        return bad(lp, "expected 'category.label [flags] = pattern' or '@class = words'");
    *eq = 0;
    char *lhs = line, *rhs = eq + 3;
    while (*rhs == ' ')
        rhs++;
    if (!*rhs)
        return bad(lp, "empty pattern");
    if (lhs[0] == '@') {
        char name[AN_TOK_MAX];
        size_t nl = strcspn(lhs + 1, " \t");
        if (nl == 0 || nl >= AN_TOK_MAX)
            return bad(lp, "bad class name");
        memcpy(name, lhs + 1, nl);
        name[nl] = 0;
        struct an_class *c = (struct an_class *)find_class(r, name);
        if (!c) {
            GROW(r->classes, r->n_classes, r->cap_classes);
            c = &r->classes[r->n_classes++];
            memset(c, 0, sizeof *c);
            sdra_strlcpy(c->name, name, sizeof c->name);
            c->alt_first = (int)r->n_alts;
        } else if (c->alt_first + c->n_alts != (int)r->n_alts)
            return bad(lp, "a word class must be defined on consecutive lines");
        char *save = NULL;
        for (char *w = strtok_r(rhs, " \t|", &save); w; w = strtok_r(NULL, " \t|", &save)) {
            if (strchr(w, '\''))
                return bad(lp, "write contractions expanded (\"do not\", not \"don't\")");
            if (add_alt(r, w, strlen(w)) < 0)
                return bad(lp, "bad word in class");
            c->n_alts++;
        }
        return 0;
    }
    GROW(r->rules, r->n_rules, r->cap_rules);
    an_rule *rule = &r->rules[r->n_rules];
    memset(rule, 0, sizeof *rule);
    rule->line = lp->line;
    sdra_strlcpy(rule->file, lp->file, sizeof rule->file);
    char *save = NULL;
    char *name = strtok_r(lhs, " \t", &save);
    char *dot = name ? strchr(name, '.') : NULL;
    if (!dot || dot == name || !dot[1] || (size_t)(dot - name) >= sizeof rule->category ||
        strlen(dot + 1) >= sizeof rule->label)
        return bad(lp, "rule name must be category.label");
    memcpy(rule->category, name, (size_t)(dot - name));
    sdra_strlcpy(rule->label, dot + 1, sizeof rule->label);
    for (char *f = strtok_r(NULL, " \t", &save); f; f = strtok_r(NULL, " \t", &save)) {
        if (!strcmp(f, "!neg"))
            rule->flags |= AN_FLAG_NONEG;
        else if (!strcmp(f, "ctx=meeting"))
            rule->flags |= AN_FLAG_CTX_MEETING;
        else if (!strcmp(f, "!q"))
            rule->flags |= AN_FLAG_NOQ;
        else if (!strcmp(f, "q"))
            rule->flags |= AN_FLAG_QONLY;
        else if (!strcmp(f, "!day"))
            rule->flags |= AN_FLAG_NODAY;
        else
            return bad(lp, "unknown flag (known: !neg ctx=meeting !q q !day)");
    }
    rule->elem_first = (int)r->n_elems;
    save = NULL;
    int n = 0;
    for (char *tok = strtok_r(rhs, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save), n++) {
        GROW(r->elems, r->n_elems, r->cap_elems);
        an_elem *e = &r->elems[r->n_elems];
        memset(e, 0, sizeof *e);
        size_t tl = strlen(tok);
        if (tl > 1 && tok[tl - 1] == '?') {
            e->optional = true;
            tok[--tl] = 0;
        }
        if (!strcmp(tok, "^")) {
            if (n != 0)
                return bad(lp, "'^' only at the start of a pattern");
            e->kind = AN_EL_START;
        } else if (!strcmp(tok, "_"))
            e->kind = AN_EL_ANY;
        else if (!strcmp(tok, ".."))
            e->kind = AN_EL_GAP, e->gap_max = 3;
        else if (!strcmp(tok, "..."))
            e->kind = AN_EL_GAP, e->gap_max = 6;
        else if (!strcmp(tok, ">"))
            e->kind = AN_EL_CAPTURE;
        else if (tok[0] == '@' && !strchr(tok, '|')) {
            const struct an_class *c = find_class(r, tok + 1);
            if (!c)
                return bad(lp, "unknown word class (define '@name = ...' first)");
            e->kind = AN_EL_WORDS;
            e->alt_first = c->alt_first;
            e->n_alts = c->n_alts;
        } else {
            e->kind = AN_EL_WORDS;
            int cnt = parse_alts(r, tok, tl, &e->alt_first);
            if (cnt == SDRA_EINVAL)
                return bad(lp, "bad word (contractions are written expanded: \"do not\")");
            if (cnt == SDRA_ENOTFOUND)
                return bad(lp, "unknown word class among the alternatives");
            if (cnt < 0)
                return bad(lp, "too many rules");
            e->n_alts = cnt;
        }
        r->n_elems++;
    }
    rule->n_elems = n;
    if (n == 0 || (n == 1 && r->elems[rule->elem_first].kind != AN_EL_WORDS))
        return bad(lp, "pattern needs at least one word");
    r->n_rules++;
    return 0;
}

static int cmp_lex(const void *a, const void *b)
{
    return strcmp(((const an_lex *)a)->phrase[0], ((const an_lex *)b)->phrase[0]);
}

static int parse_lex_line(an_rules *r, char *line, const loadpos *lp)
{
    GROW(r->lex, r->n_lex, r->cap_lex);
    an_lex *x = &r->lex[r->n_lex];
    memset(x, 0, sizeof *x);
    x->kind = 'v';
    if (line[0] == '+' || line[0] == '!' || line[0] == '~') {
        x->kind = line[0] == '+' ? 'b' : line[0] == '!' ? 'n' : 'c';
        line++;
    }
    char *words[8];
    int nw = 0;
    char *save = NULL;
    for (char *w = strtok_r(line, " \t", &save); w && nw < 8; w = strtok_r(NULL, " \t", &save))
        words[nw++] = w;
    if (x->kind == 'v' || x->kind == 'b') {
        if (nw < 2)
            return bad(lp, "expected 'phrase score'");
        char *end;
        double s = strtod(words[nw - 1], &end);
        if (*end || s < -4 || s > 4)
            return bad(lp, "score must be a number in [-4, 4]");
        x->score = (float)s;
        nw--;
    }
    if (nw < 1 || nw > 4)
        return bad(lp, "a phrase has 1 to 4 words");
    for (int i = 0; i < nw; i++) {
        if (strlen(words[i]) >= AN_TOK_MAX || strchr(words[i], '\''))
            return bad(lp, "bad word (too long, or a contraction: write it expanded)");
        for (char *c = words[i]; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        sdra_strlcpy(x->phrase[i], words[i], AN_TOK_MAX);
    }
    x->n = nw;
    r->n_lex++;
    return 0;
}

static int parse_stop_line(an_rules *r, char *line, const loadpos *lp)
{
    char *save = NULL;
    for (char *w = strtok_r(line, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        if (strlen(w) >= AN_TOK_MAX)
            return bad(lp, "word too long");
        GROW(r->stop, r->n_stop, r->cap_stop);
        sdra_strlcpy(r->stop[r->n_stop++], w, AN_TOK_MAX);
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(a, b); }

bool an_is_stopword(const an_rules *r, const char *w)
{
    return r->n_stop && bsearch(w, r->stop, r->n_stop, AN_TOK_MAX, cmp_str) != NULL;
}

static int load_file(an_rules *r, const char *dir, const char *name, int kind, sdra_error *err)
{
    char path[1024];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", dir);
    char *data = NULL;
    size_t len;
    int rc = sdra_file_read(&data, &len, path, MAX_RULE_FILE_BYTES, err);
    if (rc < 0)
        return rc;
    loadpos lp = {.file = name, .line = 0, .err = err};
    char *save = NULL;
    char *p = data;
    while (p && *p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        char *line = p;
        p = nl ? nl + 1 : NULL;
        lp.line++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        while (*line == ' ' || *line == '\t')
            line++;
        size_t l = strlen(line);
        while (l && isspace((unsigned char)line[l - 1]))
            line[--l] = 0;
        if (!*line)
            continue;
        rc = kind == 0 ? parse_rule_line(r, line, &lp) : kind == 1 ? parse_lex_line(r, line, &lp)
                                                                 : parse_stop_line(r, line, &lp);
        if (rc == SDRA_ENOMEM || rc == SDRA_ELIMIT)
            rc = sdra_error_set(err, rc, "%s:%d: %s", name, lp.line, sdra_strerror(rc));
        if (rc < 0)
            break;
    }
    (void)save;
    free(data);
    return rc < 0 ? rc : 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int an_rules_load(an_rules *r, const char *dir, sdra_error *err)
{
    memset(r, 0, sizeof *r);
    char *names[MAX_RULE_FILES];
    int n_names = 0, rc = 0;
    DIR *d = opendir(dir);
    if (!d)
        return sdra_error_set(err, SDRA_ENOTFOUND, "%s: rules directory not found", dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 6 && !strcmp(de->d_name + l - 6, ".rules") && de->d_name[0] != '.') {
            if (n_names == MAX_RULE_FILES) {
                rc = sdra_error_set(err, SDRA_ELIMIT, "%s: more than %d rule files", dir, MAX_RULE_FILES);
                break;
            }
            if (!(names[n_names] = strdup(de->d_name))) {
                rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
                break;
            }
            n_names++;
        }
    }
    closedir(d);
    if (rc < 0)
        goto done;
    if (n_names == 0) {
        rc = sdra_error_set(err, SDRA_ENOTFOUND, "%s: no *.rules files", dir);
        goto done;
    }
    /* classes first: "classes.rules" sorts first by name convention (00-classes.rules) */
    qsort(names, (size_t)n_names, sizeof names[0], cmp_name);
    for (int i = 0; i < n_names && rc >= 0; i++)
        rc = load_file(r, dir, names[i], 0, err);
    if (rc >= 0)
        rc = load_file(r, dir, "sentiment.lex", 1, err);
    if (rc >= 0)
        rc = load_file(r, dir, "stopwords.txt", 2, err);
    if (rc >= 0) {
        qsort(r->lex, r->n_lex, sizeof r->lex[0], cmp_lex);
        qsort(r->stop, r->n_stop, AN_TOK_MAX, cmp_str);
    }
done:
    for (int i = 0; i < n_names; i++)
        free(names[i]);
    if (rc < 0)
        an_rules_release(r);
    return rc < 0 ? rc : 0;
}

/* ---- matching ------------------------------------------------------------------------------ */

static bool alt_match(const an_rules *r, const an_elem *e, const char *w)
{
    for (int k = 0; k < e->n_alts; k++) {
        const an_alt *a = &r->alts[e->alt_first + k];
        if (a->w[0] != w[0])
            continue;
        if (a->prefix ? !strncmp(w, a->w, strlen(a->w)) : !strcmp(w, a->w))
            return true;
    }
    return false;
}

/* Matches elements ei.. at token ti. first_ti is where the match began: once a token has been
 * consumed, the match may not run past the end of a sentence. */
static int match_from(const an_rules *r, const an_elem *el, int ne, int ei, const an_tok *t, int n,
                      int ti, int *cap, int depth, int first_ti)
{
    if (ei == ne)
        return ti;
    if (depth > 64)
        return -1;
    const an_elem *e = &el[ei];
    int res;
    switch (e->kind) {
    case AN_EL_START:
        return match_from(r, el, ne, ei + 1, t, n, ti, cap, depth + 1, first_ti);
    case AN_EL_CAPTURE:
        res = match_from(r, el, ne, ei + 1, t, n, ti, cap, depth + 1, first_ti);
        if (res >= 0 && *cap < 0)
            *cap = ti;
        return res;
    case AN_EL_ANY:
        if (ti < n && !(ti > first_ti && (t[ti - 1].flags & AN_TOK_SENT_END))) {
            res = match_from(r, el, ne, ei + 1, t, n, ti + 1, cap, depth + 1, first_ti);
            if (res >= 0)
                return res;
        }
        return e->optional ? match_from(r, el, ne, ei + 1, t, n, ti, cap, depth + 1, first_ti) : -1;
    case AN_EL_GAP:
        for (int g = 0; g <= e->gap_max && ti + g <= n; g++) {
            if (g > 0 && (t[ti + g - 1].flags & AN_TOK_SENT_END))
                break;
            res = match_from(r, el, ne, ei + 1, t, n, ti + g, cap, depth + 1, first_ti);
            if (res >= 0)
                return res;
        }
        return -1;
    default:
        if (ti < n && alt_match(r, e, t[ti].w) && !(ti > first_ti && (t[ti - 1].flags & AN_TOK_SENT_END))) {
            res = match_from(r, el, ne, ei + 1, t, n, ti + 1, cap, depth + 1, first_ti);
            if (res >= 0)
                return res;
        }
        return e->optional ? match_from(r, el, ne, ei + 1, t, n, ti, cap, depth + 1, first_ti) : -1;
    }
}

int an_rule_match_at(const an_rules *r, const an_rule *rule, const an_tok *t, int n, int i, int *cap)
{
    const an_elem *el = &r->elems[rule->elem_first];
    *cap = -1;
    if (el[0].kind == AN_EL_START && i > 0 && !(t[i].flags & AN_TOK_SENT_START)) {
        /* allowed after discourse markers ("so", "okay", "well") that open the sentence */
        int j = i - 1;
        while (j >= 0 && an_in_class(r, "lead", t[j].w) && !(t[j].flags & AN_TOK_SENT_START))
            j--;
        if (j < 0 || !(t[j].flags & AN_TOK_SENT_START) || !an_in_class(r, "lead", t[j].w))
            return -1;
    }
    /* cheap first-element check */
    int first = el[0].kind == AN_EL_START ? 1 : 0;
    if (first < rule->n_elems && el[first].kind == AN_EL_WORDS && !el[first].optional &&
        (i >= n || !alt_match(r, &el[first], t[i].w)))
        return -1;
    int end = match_from(r, el, rule->n_elems, 0, t, n, i, cap, 0, i);
    if (end < 0 || end == i)
        return -1;
    if (rule->flags & AN_FLAG_NONEG) {
        for (int j = i - 1; j >= 0 && j >= i - 3; j--) {
            if (t[j].flags & AN_TOK_CLAUSE_END)
                break;
            if (an_in_class(r, "neg", t[j].w))
                return -1;
        }
    }
    return end;
}

/* ---- sentiment ----------------------------------------------------------------------------- */

/* Longest lexicon phrase starting at toks[i]; returns its entry or NULL. */
static const an_lex *lex_at(const an_rules *r, const an_tok *t, int n, int i)
{
    an_lex key;
    sdra_strlcpy(key.phrase[0], t[i].w, AN_TOK_MAX);
    size_t lo = 0, hi = r->n_lex;
    while (lo < hi) { /* lower bound */
        size_t mid = (lo + hi) / 2;
        if (strcmp(r->lex[mid].phrase[0], key.phrase[0]) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    const an_lex *best = NULL;
    for (size_t k = lo; k < r->n_lex && !strcmp(r->lex[k].phrase[0], t[i].w); k++) {
        const an_lex *x = &r->lex[k];
        if (i + x->n > n)
            continue;
        bool ok = true;
        for (int j = 1; j < x->n && ok; j++)
            ok = !strcmp(x->phrase[j], t[i + j].w);
        if (ok && (!best || x->n > best->n))
            best = x;
    }
    return best;
}

/* VADER's emphasis (Hutto & Gilbert 2014): each '!' of the utterance, up to four, adds 0.292
   to the size of a sentiment it already has ("Great!" is more than "Great."). */
#define EXCL_BOOST 0.292
#define EXCL_MAX 4

double an_sentiment(const an_rules *r, const char *text, const an_tok *t, int n)
{
    if (n <= 0 || r->n_lex == 0)
        return 0;
    double sum = 0;
    int contrast_at = -1;
    /* the last contrast word ("but", "however") splits the utterance */
    for (int i = 0; i < n; i++) {
        const an_lex *x = lex_at(r, t, n, i);
        if (x && x->kind == 'c')
            contrast_at = i;
    }
    int last_kind_at[2] = {-10, -10}; /* last booster position, last negator position */
    float boost = 0;
    int neg_at = -10;
    for (int i = 0; i < n;) {
        const an_lex *x = lex_at(r, t, n, i);
        int len = x ? x->n : 1;
        if (x && x->kind == 'b') {
            boost = x->score;
            last_kind_at[0] = i + len - 1;
        } else if (x && x->kind == 'n') {
            neg_at = i + len - 1;
            last_kind_at[1] = neg_at;
        } else if (x && x->kind == 'v') {
            double v = x->score;
            if (i - last_kind_at[0] <= 2 && boost != 0)
                v += v > 0 ? boost : -boost;
            /* negation within three tokens before, not across a clause end */
            bool negated = false;
            if (i - neg_at <= 3 && neg_at >= 0) {
                negated = true;
                for (int j = neg_at; j < i; j++)
                    if (t[j].flags & AN_TOK_CLAUSE_END)
                        negated = false;
            }
            if (negated)
                v *= -0.74;
            if (contrast_at >= 0)
                v *= i < contrast_at ? 0.5 : 1.5;
            sum += v;
        }
        if (t[i + len - 1].flags & AN_TOK_CLAUSE_END) {
            neg_at = -10;
            boost = 0;
        }
        i += len;
    }
    int excl = 0;
    for (const char *c = text; c && *c && excl < EXCL_MAX; c++)
        excl += *c == '!';
    if (sum != 0)
        sum += sum > 0 ? EXCL_BOOST * excl : -EXCL_BOOST * excl;
    return sum / sqrt(sum * sum + 15.0);
}

bool an_rule_first_mask(const an_rules *r, const an_rule *rule, unsigned char mask[32])
{
    const an_elem *el = &r->elems[rule->elem_first];
    int first = el[0].kind == AN_EL_START ? 1 : 0;
    if (first >= rule->n_elems || el[first].kind != AN_EL_WORDS || el[first].optional)
        return false;
    memset(mask, 0, 32);
    for (int k = 0; k < el[first].n_alts; k++) {
        unsigned char ch = (unsigned char)r->alts[el[first].alt_first + k].w[0];
        if (!ch)
            return false; /* an empty prefix matches anything */
        mask[ch >> 3] |= (unsigned char)(1u << (ch & 7));
    }
    return true;
}
