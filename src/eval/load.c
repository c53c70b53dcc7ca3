/*
 * load.c - readers of what `sdra eval` compares: RTTM (who spoke when), STM (who said what,
 * when), plain text, and sdra transcripts; and the segment list they fill. Every reader caps
 * the file size (SDRA_EVAL_MAX_FILE_BYTES) and the number of segments, words and speakers, and
 * names the file and line of the first malformed record.
 */
#include "sdra/eval.h"
#include "sdra/util.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 16

int sdra_eval_segs_add(sdra_eval_segs *s, const char *speaker, double start, double end,
                       sdra_error *err)
{
    if (!(end > start))
        return SDRA_OK;
    size_t k = 0;
    while (k < s->n_names && strcmp(s->names[k], speaker) != 0)
        k++;
    if (k == s->n_names) {
        if (s->n_names >= SDRA_EVAL_MAX_SPEAKERS)
            return sdra_error_set(err, SDRA_ELIMIT, "more than %d speakers",
                                  SDRA_EVAL_MAX_SPEAKERS);
        if (s->n_names == s->cap_names) {
            size_t c = s->cap_names ? s->cap_names * 2 : 8;
            char **nm = realloc(s->names, c * sizeof *nm);
            if (!nm)
                return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
            s->names = nm;
            s->cap_names = c;
        }
        if (!(s->names[k] = strdup(speaker)))
            return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        s->n_names++;
    }
    if (s->n >= SDRA_EVAL_MAX_SEGMENTS)
        return sdra_error_set(err, SDRA_ELIMIT, "more than %d segments", SDRA_EVAL_MAX_SEGMENTS);
    if (s->n == s->cap) {
        size_t c = s->cap ? s->cap * 2 : 64;
        sdra_eval_seg *v = realloc(s->v, c * sizeof *v);
        if (!v)
            return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        s->v = v;
        s->cap = c;
    }
    s->v[s->n++] = (sdra_eval_seg){start, end, (int)k};
    return SDRA_OK;
}

void sdra_eval_segs_release(sdra_eval_segs *s)
{
    if (!s)
        return;
    for (size_t k = 0; k < s->n_names; k++)
        free(s->names[k]);
    free(s->names);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* Splits line into whitespace-separated fields (in place); the rest after max-1 fields stays
 * in the last one. Returns the number of fields. */
static int split(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    while (*p && n < max) {
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        if (!*p)
            break;
        f[n++] = p;
        if (n == max)
            break;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r')
            p++;
        if (*p)
            *p++ = '\0';
    }
    if (n == max) { /* trim trailing CR / spaces of the rest */
        size_t l = strlen(f[n - 1]);
        while (l && (f[n - 1][l - 1] == '\r' || f[n - 1][l - 1] == ' '))
            f[n - 1][--l] = '\0';
    }
    return n;
}

static int parse_time(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v) || v < 0 || v > 1e7)
        return -1;
    *out = v;
    return 0;
}

/* Calls fn for each line (NUL-terminated, without the newline) with its number. */
typedef int (*line_fn)(void *ctx, char *line, int lineno, sdra_error *err);

static int each_line(char *buf, line_fn fn, void *ctx, sdra_error *err)
{
    int lineno = 0;
    for (char *line = buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        int rc = fn(ctx, line, lineno, err);
        if (rc < 0)
            return rc;
    }
    return SDRA_OK;
}

typedef struct rttm_ctx {
    sdra_eval_segs *out;
    const char *path;
    int n_records;
} rttm_ctx;

static int rttm_line(void *vctx, char *line, int lineno, sdra_error *err)
{
    rttm_ctx *c = vctx;
    char *f[MAX_FIELDS];
    int n = split(line, f, MAX_FIELDS);
    if (n == 0 || f[0][0] == '#' || !strncmp(f[0], ";;", 2))
        return SDRA_OK;
    if (strcmp(f[0], "SPEAKER") != 0) {
        static const char *known[] = {"SPKR-INFO", "SEGMENT", "LEXEME", "NON-LEX", "NON-SPEECH",
                                      "NOSCORE", "FILLER", "NONSPEECH", "STREAM"};
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            if (!strcmp(f[0], known[i]))
                return SDRA_OK;
        return sdra_error_set(err, SDRA_EINVAL, "%s:%d: not an RTTM record ('%.20s')", c->path,
                              lineno, f[0]);
    }
    double start, dur;
    if (n < 8)
        return sdra_error_set(err, SDRA_EINVAL,
                              "%s:%d: RTTM SPEAKER record needs 8+ fields, has %d", c->path,
                              lineno, n);
    if (parse_time(f[3], &start) < 0 || parse_time(f[4], &dur) < 0)
        return sdra_error_set(err, SDRA_EINVAL, "%s:%d: bad start or duration ('%.20s %.20s')",
                              c->path, lineno, f[3], f[4]);
    c->n_records++;
    int rc = sdra_eval_segs_add(c->out, f[7], start, start + dur, err);
    if (rc < 0)
        sdra_error_prefix(err, "%s:%d", c->path, lineno);
    return rc;
}

int sdra_eval_rttm_load(sdra_eval_segs *out, const char *path, sdra_error *err)
{
    char *buf = NULL;
    size_t len;
    int rc = sdra_file_read(&buf, &len, path, SDRA_EVAL_MAX_FILE_BYTES, err);
    if (rc < 0)
        return rc;
    rttm_ctx c = {out, path, 0};
    rc = each_line(buf, rttm_line, &c, err);
    if (rc == 0 && c.n_records == 0)
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: no SPEAKER records (not an RTTM file?)",
                            path);
    free(buf);
    return rc;
}

typedef struct stm_rec {
    double start, end;
    char *speaker, *text;
    size_t order;
} stm_rec;

typedef struct stm_ctx {
    stm_rec *v;
    size_t n, cap;
    const char *path;
} stm_ctx;

static int stm_line(void *vctx, char *line, int lineno, sdra_error *err)
{
    stm_ctx *c = vctx;
    char *f[7];
    int n = split(line, f, 6);
    if (n == 0 || !strncmp(f[0], ";;", 2) || f[0][0] == '#')
        return SDRA_OK;
    if (n < 5)
        return sdra_error_set(err, SDRA_EINVAL,
                              "%s:%d: STM line needs '<file> <channel> <speaker> <start> <end> text'",
                              c->path, lineno);
    double a, b;
    if (parse_time(f[3], &a) < 0 || parse_time(f[4], &b) < 0 || b < a)
        return sdra_error_set(err, SDRA_EINVAL, "%s:%d: bad start or end time ('%.20s %.20s')",
                              c->path, lineno, f[3], f[4]);
    char *text = n == 6 ? f[5] : "";
    if (*text == '<') { /* optional <label> */
        char *e = strchr(text, '>');
        text = e ? e + 1 : (char *)"";
    }
    if (strstr(text, "ignore_time_segment_in_scoring"))
        return SDRA_OK;
    if (c->n >= SDRA_EVAL_MAX_SEGMENTS)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: more than %d segments", c->path,
                              SDRA_EVAL_MAX_SEGMENTS);
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        stm_rec *v = realloc(c->v, cap * sizeof *v);
        if (!v)
            return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n] = (stm_rec){a, b, f[2], text, c->n};
    c->n++;
    return SDRA_OK;
}

static int cmp_rec(const void *x, const void *y)
{
    const stm_rec *p = x, *q = y;
    if (p->start != q->start)
        return p->start < q->start ? -1 : 1;
    return (p->order > q->order) - (p->order < q->order);
}

int sdra_eval_stm_load(const char *path, sdra_eval_words *all, sdra_eval_spk_words *by,
                       sdra_eval_segs *segs, sdra_error *err)
{
    char *buf = NULL;
    size_t len;
    stm_ctx c = {NULL, 0, 0, path};
    int rc = sdra_file_read(&buf, &len, path, SDRA_EVAL_MAX_FILE_BYTES, err);
    if (rc < 0)
        return rc;
    if ((rc = each_line(buf, stm_line, &c, err)) < 0)
        goto done;
    if (c.n == 0) {
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: no STM records", path);
        goto done;
    }
    qsort(c.v, c.n, sizeof *c.v, cmp_rec);
    for (size_t i = 0; i < c.n && rc == 0; i++) {
        if (all)
            rc = sdra_eval_words_add_text(all, c.v[i].text, err);
        if (rc == 0 && by)
            rc = sdra_eval_spk_words_add(by, c.v[i].speaker, c.v[i].text, err);
        if (rc == 0 && segs)
            rc = sdra_eval_segs_add(segs, c.v[i].speaker, c.v[i].start, c.v[i].end, err);
    }
    if (rc < 0)
        sdra_error_prefix(err, "%s", path);
done:
    free(c.v);
    free(buf);
    return rc;
}

static const char *skip_space(const char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    return s;
}

static int transcript_parse(sdra_transcript **t, const char *buf, size_t len, const char *path,
                            sdra_error *err)
{
    json_error_t je;
    json_t *doc = json_loadb(buf, len, 0, &je);
    if (!doc)
        return sdra_error_set(err, SDRA_EINVAL, "%s:%d:%d: %s", path, je.line, je.column,
                              je.text);
    int rc = sdra_transcript_from_json(t, doc, err);
    json_decref(doc);
    if (rc < 0)
        sdra_error_prefix(err, "%s", path);
    return rc;
}

/* Reads path: an sdra transcript (JSON: parsed into *t, sorted) or else plain text (*t stays
 * NULL). *buf holds the file either way; the caller frees both. */
static int file_load(const char *path, char **buf, sdra_transcript **t, sdra_error *err)
{
    size_t len;
    *t = NULL;
    int rc = sdra_file_read(buf, &len, path, SDRA_EVAL_MAX_FILE_BYTES, err);
    if (rc < 0 || *skip_space(*buf) != '{')
        return rc;
    if ((rc = transcript_parse(t, *buf, len, path, err)) < 0)
        return rc;
    sdra_transcript_sort(*t);
    return 0;
}

int sdra_eval_text_load(const char *path, sdra_eval_words *all, sdra_eval_spk_words *by,
                        int *is_transcript, sdra_error *err)
{
    char *buf = NULL;
    sdra_transcript *t = NULL;
    int rc = file_load(path, &buf, &t, err);
    if (rc < 0)
        goto done;
    *is_transcript = t != NULL;
    if (!t) {
        rc = sdra_eval_words_add_text(all, buf, err);
        goto done;
    }
    for (size_t i = 0; i < t->n_utts && rc == 0; i++) {
        const sdra_utterance *u = &t->utts[i];
        const char *spk = t->speakers[u->speaker].id;
        if (u->text) {
            rc = sdra_eval_words_add_text(all, u->text, err);
            if (rc == 0 && by)
                rc = sdra_eval_spk_words_add(by, spk, u->text, err);
        } else {
            for (size_t w = 0; w < u->n_words && rc == 0; w++) {
                rc = sdra_eval_words_add_text(all, u->words[w].w, err);
                if (rc == 0 && by)
                    rc = sdra_eval_spk_words_add(by, spk, u->words[w].w, err);
            }
        }
    }
done:
    if (rc < 0 && err && strncmp(err->msg, path, strlen(path)) != 0)
        sdra_error_prefix(err, "%s", path);
    sdra_transcript_destroy(t);
    free(buf);
    return rc;
}

int sdra_eval_conf_load(const char *path, sdra_eval_words *all, float **conf, sdra_error *err)
{
    char *buf = NULL;
    size_t cap = 0;
    sdra_transcript *t = NULL;
    float *c = NULL;
    *conf = NULL;
    int rc = file_load(path, &buf, &t, err);
    if (rc == 0 && !t)
        rc = sdra_error_set(err, SDRA_EINVAL, "not an sdra transcript (word confidences needed)");
    if (rc < 0)
        goto done;
    for (size_t i = 0; i < t->n_utts && rc == 0; i++) {
        const sdra_utterance *u = &t->utts[i];
        for (size_t w = 0; w < u->n_words && rc == 0; w++) {
            size_t before = all->n;
            if ((rc = sdra_eval_words_add_text(all, u->words[w].w, err)) < 0)
                break;
            if (all->n > cap) {
                size_t nc = all->n * 2 + 64;
                float *x = realloc(c, nc * sizeof *x);
                if (!x) {
                    rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
                    break;
                }
                c = x;
                cap = nc;
            }
            for (size_t k = before; k < all->n; k++)
                c[k] = u->words[w].conf;
        }
    }
done:
    if (rc < 0) {
        free(c);
        c = NULL;
        if (err && strncmp(err->msg, path, strlen(path)) != 0)
            sdra_error_prefix(err, "%s", path);
    }
    *conf = c;
    sdra_transcript_destroy(t);
    free(buf);
    return rc;
}

int sdra_eval_segs_from_transcript(sdra_eval_segs *out, const sdra_transcript *t,
                                   sdra_error *err)
{
    for (size_t i = 0; i < t->n_utts; i++) {
        const sdra_utterance *u = &t->utts[i];
        if (u->speaker < 0 || (size_t)u->speaker >= t->n_speakers)
            return sdra_error_set(err, SDRA_EINVAL, "utterance %zu has no valid speaker", i);
        int rc = sdra_eval_segs_add(out, t->speakers[u->speaker].id, u->start, u->end, err);
        if (rc < 0)
            return rc;
    }
    return SDRA_OK;
}

int sdra_eval_turns_load(sdra_eval_segs *out, const char *path, sdra_error *err)
{
    char *buf = NULL;
    size_t len;
    sdra_transcript *t = NULL;
    int rc = sdra_file_read(&buf, &len, path, SDRA_EVAL_MAX_FILE_BYTES, err);
    if (rc < 0)
        return rc;
    const char *s = skip_space(buf);
    if (*s != '{') {
        free(buf);
        return sdra_eval_rttm_load(out, path, err);
    }
    if ((rc = transcript_parse(&t, buf, len, path, err)) == 0) {
        rc = sdra_eval_segs_from_transcript(out, t, err);
        if (rc < 0)
            sdra_error_prefix(err, "%s", path);
    }
    sdra_transcript_destroy(t);
    free(buf);
    return rc;
}
