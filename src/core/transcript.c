/*
 * transcript.c - the transcript document (sdra/transcript.h): building, sorting, the JSON form
 * (schema sdra.transcript/1, docs/schemas/transcript.md) and the text / WebVTT / SRT writers.
 * Readers of other formats are in transcript_import.c.
 */
#include "sdra/transcript.h"
#include "sdra/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

sdra_transcript *sdra_transcript_create(void)
{
    return calloc(1, sizeof(sdra_transcript));
}

void sdra_transcript_destroy(sdra_transcript *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_utts; i++) {
        sdra_utterance *u = &t->utts[i];
        for (size_t j = 0; j < u->n_words; j++)
            free(u->words[j].w);
        free(u->words);
        free(u->text);
    }
    for (size_t i = 0; i < t->n_speakers; i++)
        free(t->speakers[i].name);
    free(t->utts);
    free(t->speakers);
    free(t->source);
    free(t->recorded_date);
    json_decref(t->meta);
    free(t);
}

static int grow(void **p, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 8;
    void *q = realloc(*p, c * elem);
    if (!q)
        return SDRA_ENOMEM;
    memset((char *)q + *cap * elem, 0, (c - *cap) * elem);
    *p = q;
    *cap = c;
    return 0;
}

int sdra_transcript_add_speaker(sdra_transcript *t, const char *id, sdra_role role, int channel)
{
    if (grow((void **)&t->speakers, &t->cap_speakers, t->n_speakers, sizeof(sdra_speaker)) < 0)
        return SDRA_ENOMEM;
    sdra_speaker *s = &t->speakers[t->n_speakers];
    memset(s, 0, sizeof *s);
    sdra_strlcpy(s->id, id, sizeof s->id);
    s->role = role;
    s->channel = channel;
    return (int)t->n_speakers++;
}

int sdra_transcript_find_speaker(const sdra_transcript *t, const char *id)
{
    for (size_t i = 0; i < t->n_speakers; i++)
        if (strcmp(t->speakers[i].id, id) == 0)
            return (int)i;
    return -1;
}

sdra_utterance *sdra_transcript_add_utterance(sdra_transcript *t, int speaker, double start,
                                              double end, const char *text)
{
    if (grow((void **)&t->utts, &t->cap_utts, t->n_utts, sizeof(sdra_utterance)) < 0)
        return NULL;
    sdra_utterance *u = &t->utts[t->n_utts];
    memset(u, 0, sizeof *u);
    u->speaker = speaker;
    u->start = start;
    u->end = end;
    if (text && !(u->text = strdup(text)))
        return NULL;
    t->n_utts++;
    return u;
}

int sdra_utterance_add_word(sdra_utterance *u, const char *w, double start, double end, float conf)
{
    if (grow((void **)&u->words, &u->cap_words, u->n_words, sizeof(sdra_word)) < 0)
        return SDRA_ENOMEM;
    sdra_word *x = &u->words[u->n_words];
    if (!(x->w = strdup(w)))
        return SDRA_ENOMEM;
    x->start = start;
    x->end = end;
    x->conf = conf;
    u->n_words++;
    return 0;
}

double sdra_utterance_talk_s(const sdra_utterance *u)
{
    if (u->n_words == 0)
        return u->end > u->start ? u->end - u->start : 0;
    double s = 0;
    for (size_t w = 0; w < u->n_words; w++)
        if (u->words[w].end > u->words[w].start)
            s += u->words[w].end - u->words[w].start;
    return s;
}

int sdra_utterance_join_words(sdra_utterance *u)
{
    size_t len = 1;
    for (size_t i = 0; i < u->n_words; i++)
        len += strlen(u->words[i].w) + 1;
    char *s = malloc(len), *p = s;
    if (!s)
        return SDRA_ENOMEM;
    *p = '\0';
    for (size_t i = 0; i < u->n_words; i++) {
        if (i)
            *p++ = ' ';
        size_t n = strlen(u->words[i].w);
        memcpy(p, u->words[i].w, n);
        p += n;
        *p = '\0';
    }
    free(u->text);
    u->text = s;
    return 0;
}

static int cmp_utt(const void *a, const void *b)
{
    const sdra_utterance *x = a, *y = b;
    if (x->start < y->start)
        return -1;
    if (x->start > y->start)
        return 1;
    return x->speaker - y->speaker;
}

void sdra_transcript_sort(sdra_transcript *t)
{
    /* insertion-stable merge via qsort on (start, speaker) is stable enough: ties on both keys
     * keep arbitrary order only for identical starts of one speaker, which builders avoid */
    if (t->n_utts > 1)
        qsort(t->utts, t->n_utts, sizeof(sdra_utterance), cmp_utt);
}

const char *sdra_role_name(sdra_role r)
{
    switch (r) {
    case SDRA_ROLE_REP: return "rep";
    case SDRA_ROLE_PROSPECT: return "prospect";
    default: return "unknown";
    }
}

sdra_role sdra_role_parse(const char *s)
{
    if (s && strcmp(s, "rep") == 0)
        return SDRA_ROLE_REP;
    if (s && strcmp(s, "prospect") == 0)
        return SDRA_ROLE_PROSPECT;
    return SDRA_ROLE_UNKNOWN;
}

const char *sdra_transcript_speaker_label(const sdra_transcript *t, int speaker)
{
    if (speaker < 0 || (size_t)speaker >= t->n_speakers)
        return "Unknown";
    const sdra_speaker *s = &t->speakers[speaker];
    if (s->name)
        return s->name;
    if (s->role == SDRA_ROLE_REP)
        return "Rep";
    if (s->role == SDRA_ROLE_PROSPECT)
        return "Prospect";
    return s->id;
}

static double r3(double x)
{
    return round(x * 1000.0) / 1000.0;
}

json_t *sdra_utterance_to_json(const sdra_transcript *t, const sdra_utterance *u)
{
    json_t *o = json_object(), *words = json_array();
    if (!o || !words) {
        json_decref(o);
        json_decref(words);
        return NULL;
    }
    const char *sid = (u->speaker >= 0 && (size_t)u->speaker < t->n_speakers) ? t->speakers[u->speaker].id : "";
    json_object_set_new(o, "speaker", json_string(sid));
    json_object_set_new(o, "start", json_real(r3(u->start)));
    json_object_set_new(o, "end", json_real(r3(u->end)));
    json_object_set_new(o, "text", json_string(u->text ? u->text : ""));
    for (size_t j = 0; j < u->n_words; j++) {
        const sdra_word *w = &u->words[j];
        json_t *wo = json_pack("{s:s, s:f, s:f, s:f}", "w", w->w, "start", r3(w->start), "end",
                               r3(w->end), "conf", round(w->conf * 1000.0) / 1000.0);
        json_array_append_new(words, wo);
    }
    json_object_set_new(o, "words", words);
    return o;
}

json_t *sdra_transcript_to_json(const sdra_transcript *t)
{
    json_t *doc = json_object(), *spk = json_array(), *utts = json_array();
    if (!doc || !spk || !utts)
        goto fail;
    json_object_set_new(doc, "schema", json_string(SDRA_TRANSCRIPT_SCHEMA));
    json_object_set_new(doc, "duration", json_real(r3(t->duration_s)));
    if (t->source)
        json_object_set_new(doc, "source", json_string(t->source));
    if (t->recorded_date)
        json_object_set_new(doc, "recorded_date", json_string(t->recorded_date));
    for (size_t i = 0; i < t->n_speakers; i++) {
        const sdra_speaker *s = &t->speakers[i];
        json_t *so = json_object();
        json_object_set_new(so, "id", json_string(s->id));
        json_object_set_new(so, "role", json_string(sdra_role_name(s->role)));
        json_object_set_new(so, "channel", s->channel >= 0 ? json_integer(s->channel) : json_null());
        if (s->name)
            json_object_set_new(so, "name", json_string(s->name));
        if (s->role_by[0])
            json_object_set_new(so, "role_by", json_string(s->role_by));
        if (s->role_evidence[0])
            json_object_set_new(so, "role_evidence", json_string(s->role_evidence));
        json_array_append_new(spk, so);
    }
    json_object_set_new(doc, "speakers", spk);
    spk = NULL;
    for (size_t i = 0; i < t->n_utts; i++) {
        json_t *u = sdra_utterance_to_json(t, &t->utts[i]);
        if (!u)
            goto fail;
        json_array_append_new(utts, u);
    }
    json_object_set_new(doc, "utterances", utts);
    if (t->meta)
        json_object_set(doc, "meta", t->meta);
    return doc;
fail:
    json_decref(doc);
    json_decref(spk);
    json_decref(utts);
    return NULL;
}

static int num_field(const json_t *o, const char *k, double *out)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_number(v))
        return -1;
    *out = json_number_value(v);
    return isfinite(*out) && *out >= 0 ? 0 : -1;
}

/* The document's members other than the utterances: schema, duration, source, date, speakers,
 * meta. doc["utterances"] must be an array (it may be empty: the streaming loader passes them
 * one by one to sdra_transcript_add_utterance_json). */
static int header_from_json(sdra_transcript *t, const json_t *doc, sdra_error *err)
{
    if (!json_is_object(doc))
        return sdra_error_set(err, SDRA_EINVAL, "transcript: not a JSON object");
    const char *schema = json_string_value(json_object_get(doc, "schema"));
    if (!schema || strcmp(schema, SDRA_TRANSCRIPT_SCHEMA) != 0)
        return sdra_error_set(err, SDRA_EINVAL, "transcript: schema is not \"%s\"", SDRA_TRANSCRIPT_SCHEMA);
    json_t *spk = json_object_get(doc, "speakers"), *utts = json_object_get(doc, "utterances");
    if (!json_is_array(spk) || !json_is_array(utts))
        return sdra_error_set(err, SDRA_EINVAL, "transcript: \"speakers\" and \"utterances\" must be arrays");
    double d = 0;
    if (json_object_get(doc, "duration") && num_field(doc, "duration", &d) < 0)
        return sdra_error_set(err, SDRA_EINVAL, "transcript: \"duration\" must be a number >= 0");
    t->duration_s = d;
    const char *src = json_string_value(json_object_get(doc, "source"));
    const char *rd = json_string_value(json_object_get(doc, "recorded_date"));
    if ((src && !(t->source = strdup(src))) || (rd && !(t->recorded_date = strdup(rd))))
        return sdra_error_set(err, SDRA_ENOMEM, "transcript: out of memory");
    size_t i;
    json_t *v;
    json_array_foreach(spk, i, v) {
        const char *id = json_string_value(json_object_get(v, "id"));
        if (!id || !*id || strlen(id) >= sizeof t->speakers[0].id)
            return sdra_error_set(err, SDRA_EINVAL, "transcript: speakers[%zu].id must be a short non-empty string", i);
        if (sdra_transcript_find_speaker(t, id) >= 0)
            return sdra_error_set(err, SDRA_EINVAL, "transcript: speaker id \"%s\" appears twice", id);
        json_t *ch = json_object_get(v, "channel");
        int channel = json_is_integer(ch) ? (int)json_integer_value(ch) : -1;
        int s = sdra_transcript_add_speaker(t, id, sdra_role_parse(json_string_value(json_object_get(v, "role"))), channel);
        if (s < 0)
            return sdra_error_set(err, SDRA_ENOMEM, "transcript: out of memory");
        const char *name = json_string_value(json_object_get(v, "name"));
        if (name && !(t->speakers[s].name = strdup(name)))
            return sdra_error_set(err, SDRA_ENOMEM, "transcript: out of memory");
        const char *by = json_string_value(json_object_get(v, "role_by"));
        const char *ev = json_string_value(json_object_get(v, "role_evidence"));
        if (by)
            sdra_strlcpy(t->speakers[s].role_by, by, sizeof t->speakers[s].role_by);
        if (ev)
            sdra_strlcpy(t->speakers[s].role_evidence, ev, sizeof t->speakers[s].role_evidence);
    }
    json_t *meta = json_object_get(doc, "meta");
    if (json_is_object(meta))
        t->meta = json_incref(meta);
    return 0;
}

int sdra_transcript_add_utterance_json(sdra_transcript *t, const json_t *v, size_t i, sdra_error *err)
{
    const char *sid = json_string_value(json_object_get(v, "speaker"));
    int s = sid ? sdra_transcript_find_speaker(t, sid) : -1;
    double start, end;
    if (s < 0)
        return sdra_error_set(err, SDRA_EINVAL, "transcript: utterances[%zu].speaker is not a known speaker id", i);
    if (num_field(v, "start", &start) < 0 || num_field(v, "end", &end) < 0 || end < start)
        return sdra_error_set(err, SDRA_EINVAL, "transcript: utterances[%zu] needs numbers start <= end", i);
    json_t *text = json_object_get(v, "text");
    if (text && !json_is_string(text))
        return sdra_error_set(err, SDRA_EINVAL, "transcript: utterances[%zu].text must be a string", i);
    json_t *words = json_object_get(v, "words");
    if (words && !json_is_array(words))
        return sdra_error_set(err, SDRA_EINVAL, "transcript: utterances[%zu].words must be an array", i);
    sdra_utterance *u = sdra_transcript_add_utterance(t, s, start, end, json_string_value(text));
    if (!u)
        return sdra_error_set(err, SDRA_ENOMEM, "transcript: out of memory");
    size_t j;
    json_t *w;
    json_array_foreach(words, j, w) {
        const char *ws = json_string_value(json_object_get(w, "w"));
        double ws_start, ws_end, conf = 1.0;
        if (!ws || num_field(w, "start", &ws_start) < 0 || num_field(w, "end", &ws_end) < 0)
            return sdra_error_set(err, SDRA_EINVAL, "transcript: utterances[%zu].words[%zu] needs w, start, end", i, j);
        if (json_object_get(w, "conf"))
            num_field(w, "conf", &conf);
        if (sdra_utterance_add_word(u, ws, ws_start, ws_end, (float)conf) < 0)
            return sdra_error_set(err, SDRA_ENOMEM, "transcript: out of memory");
    }
    if (!u->text && sdra_utterance_join_words(u) < 0)
        return sdra_error_set(err, SDRA_ENOMEM, "transcript: out of memory");
    return 0;
}

int sdra_transcript_from_json_header(sdra_transcript **out, const json_t *doc, sdra_error *err)
{
    sdra_transcript *t = sdra_transcript_create();
    if (!t)
        return sdra_error_set(err, SDRA_ENOMEM, "transcript: out of memory");
    int rc = header_from_json(t, doc, err);
    if (rc < 0) {
        sdra_transcript_destroy(t);
        return rc;
    }
    *out = t;
    return 0;
}

int sdra_transcript_from_json(sdra_transcript **out, const json_t *doc, sdra_error *err)
{
    sdra_transcript *t = NULL;
    int rc = sdra_transcript_from_json_header(&t, doc, err);
    if (rc < 0)
        return rc;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(doc, "utterances"), i, v) {
        if ((rc = sdra_transcript_add_utterance_json(t, v, i, err)) < 0)
            goto done;
    }
    sdra_transcript_sort(t);
    *out = t;
    t = NULL;
done:
    sdra_transcript_destroy(t);
    return rc;
}

int sdra_transcript_format_parse(const char *s)
{
    static const char *names[] = {"json", "text", "vtt", "srt"};
    for (int i = 0; i < 4; i++)
        if (s && strcmp(s, names[i]) == 0)
            return i;
    if (s && strcmp(s, "txt") == 0)
        return SDRA_TFMT_TEXT;
    return -1;
}

int sdra_transcript_write(const sdra_transcript *t, sdra_transcript_format fmt, FILE *f, sdra_error *err)
{
    char a[32], b[32];
    switch (fmt) {
    case SDRA_TFMT_JSON: {
        json_t *doc = sdra_transcript_to_json(t);
        if (!doc)
            return sdra_error_set(err, SDRA_ENOMEM, "transcript: out of memory");
        int rc = json_dumpf(doc, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        json_decref(doc);
        fputc('\n', f);
        if (rc < 0)
            return sdra_error_set(err, SDRA_EIO, "transcript: write failed");
        break;
    }
    case SDRA_TFMT_TEXT:
        for (size_t i = 0; i < t->n_utts; i++) {
            sdra_fmt_hms(a, sizeof a, t->utts[i].start, 0);
            fprintf(f, "[%s] %s: %s\n", a, sdra_transcript_speaker_label(t, t->utts[i].speaker),
                    t->utts[i].text ? t->utts[i].text : "");
        }
        break;
    case SDRA_TFMT_VTT:
        fputs("WEBVTT\n", f);
        for (size_t i = 0; i < t->n_utts; i++) {
            sdra_fmt_hms(a, sizeof a, t->utts[i].start, '.');
            sdra_fmt_hms(b, sizeof b, t->utts[i].end, '.');
            fprintf(f, "\n%zu\n%s --> %s\n<v %s>%s\n", i + 1, a, b,
                    sdra_transcript_speaker_label(t, t->utts[i].speaker), t->utts[i].text ? t->utts[i].text : "");
        }
        break;
    case SDRA_TFMT_SRT:
        for (size_t i = 0; i < t->n_utts; i++) {
            sdra_fmt_hms(a, sizeof a, t->utts[i].start, ',');
            sdra_fmt_hms(b, sizeof b, t->utts[i].end, ',');
            fprintf(f, "%s%zu\n%s --> %s\n%s: %s\n", i ? "\n" : "", i + 1, a, b,
                    sdra_transcript_speaker_label(t, t->utts[i].speaker), t->utts[i].text ? t->utts[i].text : "");
        }
        break;
    default:
        return sdra_error_set(err, SDRA_EINVAL, "transcript: unknown output format");
    }
    if (ferror(f))
        return sdra_error_set(err, SDRA_EIO, "transcript: write failed");
    return 0;
}
