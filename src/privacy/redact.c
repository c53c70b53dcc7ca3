/*
 * redact.c - the public redaction calls (sdra/privacy.h): params and class names, the
 * redactor, and the three passes that share the detector (detect.c): free text, a transcript's
 * word sequence, and every string of a JSON document (the analysis).
 *
 * Text is split at whitespace; a found value is replaced from the first token's core (its
 * leading "(" or "+" included) to the last token's core, so surrounding punctuation stays:
 * "call (555) 123-4567." -> "call [REDACTED:phone].".
 */
#include "internal.h"
#include "sdra/buf.h"
#include "sdra/util.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JSON_DEPTH_MAX 64
#define MARKER_MAX 32
#define SPEAKER_JOIN_GAP_S 0.3

static const char *class_names[SDRA_REDACT_N_CLASSES] = {"card", "national_id", "phone",
                                                         "email", "bank", "dob"};

sdra_redact_params sdra_redact_default_params(void)
{
    return (sdra_redact_params){.classes = SDRA_REDACT_ALL, .marker = SDRA_REDACT_MARK_CLASS,
                                .max_text_bytes = 64u << 20};
}

int privacy_class_index(unsigned cls)
{
    for (int k = 0; k < SDRA_REDACT_N_CLASSES; k++)
        if (cls == (1u << k))
            return k;
    return -1;
}

const char *sdra_redact_class_name(unsigned cls)
{
    int k = privacy_class_index(cls);
    return k < 0 ? "unknown" : class_names[k];
}

int sdra_redact_classes_parse(const char *list, unsigned *out, sdra_error *err)
{
    unsigned m = 0;
    if (!list || !*list)
        return sdra_error_set(err, SDRA_EINVAL, "empty list of redaction classes");
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        char name[32];
        if (n == 0 || n >= sizeof name)
            return sdra_error_set(err, SDRA_EINVAL, "bad redaction class list '%s'", list);
        memcpy(name, p, n);
        name[n] = '\0';
        int k = -1;
        for (int c = 0; c < SDRA_REDACT_N_CLASSES; c++)
            if (!strcmp(name, class_names[c]))
                k = c;
        if (!strcmp(name, "ssn") || !strcmp(name, "id") || !strcmp(name, "nino"))
            k = 1;
        if (!strcmp(name, "all"))
            m |= SDRA_REDACT_ALL;
        else if (!strcmp(name, "none"))
            ;
        else if (k < 0)
            return sdra_error_set(err, SDRA_EINVAL,
                                  "unknown redaction class '%s' (card, national_id, phone, email, bank, "
                                  "dob, all, none)", name);
        else
            m |= 1u << k;
        p += n;
        if (*p == ',')
            p++;
    }
    *out = m;
    return 0;
}

void sdra_redact_report_release(sdra_redact_report *rep)
{
    if (!rep)
        return;
    free(rep->spans);
    memset(rep, 0, sizeof *rep);
}

static void count(sdra_redact_report *rep, unsigned cls)
{
    int k = privacy_class_index(cls);
    if (rep && k >= 0) {
        rep->n_by_class[k]++;
        rep->n_total++;
    }
}

static int add_span(sdra_redact_report *rep, unsigned cls, int speaker, double s, double e)
{
    if (!rep)
        return 0;
    if (rep->n_spans == rep->cap_spans) {
        size_t nc = rep->cap_spans ? rep->cap_spans * 2 : 16;
        sdra_redact_span *p = realloc(rep->spans, nc * sizeof *p);
        if (!p)
            return SDRA_ENOMEM;
        rep->spans = p;
        rep->cap_spans = nc;
    }
    rep->spans[rep->n_spans++] = (sdra_redact_span){cls, speaker, s, e};
    return 0;
}

static int cmp_span(const void *a, const void *b)
{
    const sdra_redact_span *x = a, *y = b;
    return x->start_s < y->start_s ? -1 : x->start_s > y->start_s ? 1 : 0;
}

json_t *sdra_redact_report_to_json(const sdra_redact_report *rep, unsigned classes,
                                   const sdra_transcript *t)
{
    json_t *doc = json_object(), *cl = json_array(), *counts = json_object(), *spans = json_array();
    if (!doc || !cl || !counts || !spans)
        goto fail;
    json_object_set_new(doc, "classes", cl);
    json_object_set_new(doc, "counts", counts);
    json_object_set_new(doc, "spans", spans);
    for (int k = 0; k < SDRA_REDACT_N_CLASSES; k++) {
        if (!(classes & (1u << k)))
            continue;
        if (json_array_append_new(cl, json_string(class_names[k])) < 0 ||
            json_object_set_new(counts, class_names[k], json_integer((json_int_t)(rep ? rep->n_by_class[k] : 0))) < 0)
            return json_decref(doc), NULL;
    }
    for (size_t i = 0; rep && i < rep->n_spans; i++) {
        const sdra_redact_span *s = &rep->spans[i];
        json_t *o = json_pack("{s:s,s:f,s:f}", "class", sdra_redact_class_name(s->cls),
                              "start", (double)(long long)(s->start_s * 1000 + 0.5) / 1000.0,
                              "end", (double)(long long)(s->end_s * 1000 + 0.5) / 1000.0);
        if (!o || json_array_append_new(spans, o) < 0)
            return json_decref(doc), NULL;
        if (t && s->speaker >= 0 && (size_t)s->speaker < t->n_speakers)
            json_object_set_new(o, "speaker", json_string(t->speakers[s->speaker].id));
    }
    return doc;
fail:
    json_decref(doc);
    json_decref(cl);
    json_decref(counts);
    json_decref(spans);
    return NULL;
}

int sdra_redact_report_add_recorded(sdra_redact_report *rep, const json_t *redaction)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(redaction, "spans"), i, s) {
        json_t *a = json_object_get(s, "start"), *b = json_object_get(s, "end");
        if (!json_is_number(a) || !json_is_number(b))
            continue;
        unsigned cls = 0;
        const char *name = json_string_value(json_object_get(s, "class"));
        for (int k = 0; k < SDRA_REDACT_N_CLASSES && name; k++)
            if (!strcmp(name, class_names[k]))
                cls = 1u << k;
        if (add_span(rep, cls, -1, json_number_value(a), json_number_value(b)) < 0)
            return SDRA_ENOMEM;
    }
    return 0;
}

int sdra_redact_doc_covers(const json_t *doc, unsigned classes)
{
    json_t *cl = json_object_get(json_object_get(json_object_get(doc, "meta"), "redaction"), "classes");
    if (!json_is_array(cl))
        return 0;
    unsigned have = 0;
    size_t i;
    json_t *v;
    json_array_foreach(cl, i, v) {
        for (int k = 0; k < SDRA_REDACT_N_CLASSES; k++)
            if (json_is_string(v) && !strcmp(json_string_value(v), class_names[k]))
                have |= 1u << k;
    }
    return (have & classes) == classes;
}

int sdra_redactor_create(sdra_redactor **out, const sdra_redact_params *p, sdra_error *err)
{
    char path[PATH_MAX];
    sdra_redactor *r = calloc(1, sizeof *r);
    if (!r)
        return sdra_error_set(err, SDRA_ENOMEM, "redactor: out of memory");
    r->p = p ? *p : sdra_redact_default_params();
    if (!r->p.max_text_bytes)
        r->p.max_text_bytes = sdra_redact_default_params().max_text_bytes;
    int rc;
    if (sdra_share_path(path, sizeof path, "privacy/words.txt") < 0)
        rc = sdra_error_set(err, SDRA_ELIMIT, "privacy/words.txt: path too long");
    else
        rc = privacy_lexicon_load(&r->lx, path, err);
    if (rc < 0) {
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void sdra_redactor_destroy(sdra_redactor *r)
{
    if (!r)
        return;
    privacy_lexicon_release(&r->lx);
    free(r);
}

static void marker(const sdra_redactor *r, unsigned cls, char *out, size_t n)
{
    if (r->p.marker == SDRA_REDACT_MARK_PLAIN)
        snprintf(out, n, "[REDACTED]");
    else
        snprintf(out, n, "[REDACTED:%s]", sdra_redact_class_name(cls));
}

/* ---- text ------------------------------------------------------------------------------ */

static int grow_toks(ptok **toks, size_t *cap, size_t n)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 256;
    ptok *p = realloc(*toks, nc * sizeof *p);
    if (!p)
        return SDRA_ENOMEM;
    *toks = p;
    *cap = nc;
    return 0;
}

int sdra_redactor_text(const sdra_redactor *r, const char *text, size_t len, char **out,
                       size_t *out_len, sdra_redact_report *rep, sdra_error *err)
{
    ptok *toks = NULL;
    pspan *spans = NULL;
    size_t n = 0, cap = 0, ns = 0, cs = 0;
    sdra_buf b;
    int rc = 0;
    sdra_buf_init(&b, r->p.max_text_bytes * 4 + 4096); /* a 6-byte value can become a 22-byte marker */
    if (len > r->p.max_text_bytes)
        return sdra_error_set(err, SDRA_ELIMIT, "text of %zu bytes is over the redaction limit of %zu",
                              len, r->p.max_text_bytes);
    for (size_t i = 0; i < len;) {
        while (i < len && isspace((unsigned char)text[i]))
            i++;
        if (i >= len)
            break;
        size_t s = i;
        while (i < len && !isspace((unsigned char)text[i]))
            i++;
        if ((rc = grow_toks(&toks, &cap, n)) < 0)
            goto nomem;
        ptok *t = &toks[n++];
        memset(t, 0, sizeof *t);
        t->raw = text + s;
        t->raw_len = i - s;
        t->word = s;
        privacy_tok_init(&r->lx, t);
    }
    if ((rc = privacy_detect(&r->lx, toks, n, r->p.classes, &spans, &ns, &cs)) < 0)
        goto nomem;
    size_t at = 0;
    for (size_t k = 0; k < ns; k++) {
        const ptok *f = &toks[spans[k].first], *l = &toks[spans[k].last];
        size_t from = f->word + f->core_off, to = l->word + l->core_off + l->core_len;
        while (from > f->word && (text[from - 1] == '(' || text[from - 1] == '+'))
            from--;
        if (memchr(text + from, '(', to - from) && !memchr(text + from, ')', to - from) && to < len &&
            text[to] == ')')
            to++;
        char m[MARKER_MAX];
        marker(r, spans[k].cls, m, sizeof m);
        if (sdra_buf_append(&b, text + at, from - at) < 0 || sdra_buf_puts(&b, m) < 0)
            goto nomem;
        at = to;
        count(rep, spans[k].cls);
    }
    if (sdra_buf_append(&b, text + at, len - at) < 0)
        goto nomem;
    size_t blen = b.len;
    char *res = sdra_buf_detach(&b);
    if (!res)
        goto nomem;
    *out = res;
    if (out_len)
        *out_len = blen;
    rc = 0;
    goto done;
nomem:
    rc = sdra_error_set(err, SDRA_ENOMEM, "redaction: out of memory");
done:
    sdra_buf_release(&b);
    free(toks);
    free(spans);
    return rc;
}

/* ---- transcript ------------------------------------------------------------------------ */

/* Replaces words [a, b] of u by one marker word, keeping the punctuation before the first
 * word's core and after the last word's core, the first start and the last end. */
static int replace_words(sdra_utterance *u, size_t a, size_t b, const ptok *fa, const ptok *fb,
                         const char *m)
{
    size_t pre = fa->core_off, post = fb->raw_len - fb->core_off - fb->core_len;
    while (pre > 0 && (fa->raw[pre - 1] == '(' || fa->raw[pre - 1] == '+'))
        pre--;
    size_t ml = strlen(m);
    char *w = malloc(pre + ml + post + 1);
    if (!w)
        return SDRA_ENOMEM;
    memcpy(w, fa->raw, pre);
    memcpy(w + pre, m, ml);
    memcpy(w + pre + ml, fb->raw + fb->raw_len - post, post);
    w[pre + ml + post] = '\0';
    float conf = u->words[a].conf;
    for (size_t k = a + 1; k <= b; k++)
        if (u->words[k].conf < conf)
            conf = u->words[k].conf;
    double end = u->words[b].end;
    for (size_t k = a; k <= b; k++)
        free(u->words[k].w);
    u->words[a].w = w;
    u->words[a].end = end;
    u->words[a].conf = conf;
    memmove(&u->words[a + 1], &u->words[b + 1], (u->n_words - b - 1) * sizeof *u->words);
    u->n_words -= b - a;
    return 0;
}

int sdra_redactor_transcript(const sdra_redactor *r, sdra_transcript *t, sdra_redact_report *rep,
                             sdra_error *err)
{
    ptok *toks = NULL;
    pspan *spans = NULL;
    unsigned char *changed = NULL;
    size_t n = 0, cap = 0, ns = 0, cs = 0;
    int rc = 0;
    if (!(changed = calloc(t->n_utts + 1, 1)))
        goto nomem;
    /* a digit sequence continues over a change of speaker only when the words touch: with one
     * microphone, a diarizer may cut a number spoken in one breath between two speakers */
    int stream = 0, prev_speaker = -1;
    double prev_end = -1e9;
    for (size_t ui = 0; ui < t->n_utts; ui++) {
        sdra_utterance *u = &t->utts[ui];
        for (size_t wi = 0; wi < u->n_words; wi++) {
            if (u->speaker != prev_speaker && fabs(u->words[wi].start - prev_end) >= SPEAKER_JOIN_GAP_S)
                stream++;
            prev_speaker = u->speaker;
            prev_end = u->words[wi].end;
            if (grow_toks(&toks, &cap, n) < 0)
                goto nomem;
            ptok *k = &toks[n++];
            memset(k, 0, sizeof *k);
            k->raw = u->words[wi].w ? u->words[wi].w : "";
            k->raw_len = strlen(k->raw);
            k->speaker = stream;
            k->utt = ui;
            k->word = wi;
            privacy_tok_init(&r->lx, k);
        }
    }
    if (privacy_detect(&r->lx, toks, n, r->p.classes, &spans, &ns, &cs) < 0)
        goto nomem;
    /* spans first, from the last: earlier word indexes stay valid while later ones change */
    for (size_t k = 0; k < ns; k++) {
        const ptok *f = &toks[spans[k].first], *l = &toks[spans[k].last];
        double s = t->utts[f->utt].words[f->word].start, e = t->utts[l->utt].words[l->word].end;
        if (add_span(rep, spans[k].cls, t->utts[f->utt].speaker, s, e) < 0)
            goto nomem;
        count(rep, spans[k].cls);
    }
    for (size_t k = ns; k-- > 0;) {
        char m[MARKER_MAX];
        marker(r, spans[k].cls, m, sizeof m);
        size_t last = spans[k].last;
        for (;;) { /* one segment per utterance the value runs over, last first */
            size_t first = last;
            while (first > spans[k].first && toks[first - 1].utt == toks[last].utt)
                first--;
            const ptok *f = &toks[first], *l = &toks[last];
            if (replace_words(&t->utts[f->utt], f->word, l->word, f, l, m) < 0)
                goto nomem;
            changed[f->utt] = 1;
            if (first == spans[k].first)
                break;
            last = first - 1;
        }
    }
    for (size_t ui = 0; ui < t->n_utts; ui++) {
        sdra_utterance *u = &t->utts[ui];
        if (changed[ui] && sdra_utterance_join_words(u) < 0)
            goto nomem;
        /* the text itself, for utterances without words and texts that say more than them */
        if (!u->text)
            continue;
        char *red = NULL;
        sdra_redact_report sub = {0};
        if ((rc = sdra_redactor_text(r, u->text, strlen(u->text), &red, NULL, &sub, err)) < 0)
            goto done;
        for (int c = 0; c < SDRA_REDACT_N_CLASSES; c++)
            for (size_t x = 0; x < sub.n_by_class[c]; x++) {
                count(rep, 1u << c);
                if (add_span(rep, 1u << c, u->speaker, u->start, u->end) < 0) {
                    free(red);
                    goto nomem;
                }
            }
        if (sub.n_total) {
            free(u->text);
            u->text = red;
        } else
            free(red);
    }
    if (rep && rep->n_spans > 1)
        qsort(rep->spans, rep->n_spans, sizeof *rep->spans, cmp_span);
    rc = 0;
    goto done;
nomem:
    rc = sdra_error_set(err, SDRA_ENOMEM, "redaction: out of memory");
done:
    free(changed);
    free(toks);
    free(spans);
    return rc;
}

/* ---- JSON documents -------------------------------------------------------------------- */

static int skip_key(const char *k)
{
    static const char *keys[] = {"schema", "backend", "id", "speaker", "role", "type", "kind", "owner"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (k && !strcmp(k, keys[i]))
            return 1;
    return 0;
}

static int redact_value(const sdra_redactor *r, json_t *v, int depth, sdra_redact_report *rep,
                        sdra_error *err)
{
    if (depth > JSON_DEPTH_MAX)
        return sdra_error_set(err, SDRA_ELIMIT, "document nested deeper than %d", JSON_DEPTH_MAX);
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            if (json_is_string(x) && skip_key(k))
                continue;
            int rc = redact_value(r, x, depth + 1, rep, err);
            if (rc < 0)
                return rc;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            int rc = redact_value(r, x, depth + 1, rep, err);
            if (rc < 0)
                return rc;
        }
    } else if (json_is_string(v)) {
        char *red = NULL;
        size_t len = 0;
        sdra_redact_report sub = {0};
        int rc = sdra_redactor_text(r, json_string_value(v), json_string_length(v), &red, &len, &sub, err);
        if (rc < 0)
            return rc;
        for (int c = 0; c < SDRA_REDACT_N_CLASSES; c++)
            for (size_t x = 0; x < sub.n_by_class[c]; x++)
                count(rep, 1u << c);
        if (sub.n_total && json_string_setn(v, red, len) < 0) {
            free(red);
            return sdra_error_set(err, SDRA_ENOMEM, "redaction: out of memory");
        }
        free(red);
    }
    return 0;
}

int sdra_redactor_json(const sdra_redactor *r, json_t *doc, sdra_redact_report *rep, sdra_error *err)
{
    return redact_value(r, doc, 0, rep, err);
}

/* ---- one-shot forms -------------------------------------------------------------------- */

int sdra_redact_text(const char *text, size_t len, const sdra_redact_params *p, char **out,
                     size_t *out_len, sdra_redact_report *rep, sdra_error *err)
{
    sdra_redactor *r = NULL;
    int rc = sdra_redactor_create(&r, p, err);
    if (rc == 0)
        rc = sdra_redactor_text(r, text, len, out, out_len, rep, err);
    sdra_redactor_destroy(r);
    return rc;
}

int sdra_redact_transcript(sdra_transcript *t, const sdra_redact_params *p, sdra_redact_report *rep,
                           sdra_error *err)
{
    sdra_redactor *r = NULL;
    int rc = sdra_redactor_create(&r, p, err);
    if (rc == 0)
        rc = sdra_redactor_transcript(r, t, rep, err);
    sdra_redactor_destroy(r);
    return rc;
}

int sdra_redact_analysis(json_t *analysis, const sdra_redact_params *p, sdra_redact_report *rep,
                         sdra_error *err)
{
    sdra_redactor *r = NULL;
    int rc = sdra_redactor_create(&r, p, err);
    if (rc == 0)
        rc = sdra_redactor_json(r, analysis, rep, err);
    sdra_redactor_destroy(r);
    return rc;
}
