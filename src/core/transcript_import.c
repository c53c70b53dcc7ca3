/*
 * transcript_import.c - sdra_transcript_load(): reads a transcript from a file in any of the
 * formats people bring, detecting which one it is:
 *   - sdra JSON (schema sdra.transcript/1), first non-blank byte '{';
 *   - WebVTT ("WEBVTT" header): cues with "<v Name>" voice tags (Teams) or "Name: " prefixes
 *     (Zoom), other inline tags stripped;
 *   - SubRip/SRT (numbered cues with "-->" timings) with "Name: " prefixes (Gong, Zoom);
 *   - plain-text dialogues: "Name: words" per line, optionally prefixed by "[hh:mm:ss]" or
 *     "hh:mm:ss"; a line without a name continues the previous utterance.
 * Text without times gets estimated ones (150 words per minute, 0.5 s between turns); every
 * utterance of a text format gets words spread evenly over its span, so talk metrics work on
 * imported text too. Speakers are S1, S2, ... in order of appearance, named as in the file.
 * Roles: the speaker matching rep_name (whole name or first name, any case) is the rep and
 * the others prospects; names such as "Rep"/"Agent" and "Prospect"/"Customer" say their
 * role; otherwise roles stay unknown for the analyzer to decide.
 */
#include "sdra/transcript.h"
#include "sdra/buf.h"
#include "sdra/util.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_NAME 64
#define SECONDS_PER_WORD 0.4 /* 150 words per minute */
#define TURN_GAP_S 0.5

typedef struct import_ctx {
    sdra_transcript *t;
    const char *path;
    sdra_error *err;
    size_t n_words; /* so far, against SDRA_TRANSCRIPT_MAX_WORDS */
} import_ctx;

static char *trim(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

/* Parses "hh:mm:ss(.|,)mmm", "mm:ss(.mmm)" or "hh:mm:ss"; returns chars consumed or 0. */
static size_t parse_clock(const char *s, double *out)
{
    double parts[3];
    int n = 0;
    const char *p = s;
    while (n < 3) {
        if (!isdigit((unsigned char)*p))
            return 0;
        double v = 0;
        int digits = 0;
        while (isdigit((unsigned char)*p) && digits < 6)
            v = v * 10 + (*p++ - '0'), digits++;
        parts[n++] = v;
        if (*p != ':')
            break;
        p++;
    }
    if (n < 2)
        return 0;
    double frac = 0;
    if ((*p == '.' || *p == ',') && isdigit((unsigned char)p[1])) {
        p++;
        double scale = 0.1;
        while (isdigit((unsigned char)*p)) {
            frac += (*p++ - '0') * scale;
            scale /= 10;
        }
    }
    double secs = n == 3 ? parts[0] * 3600 + parts[1] * 60 + parts[2] : parts[0] * 60 + parts[1];
    *out = secs + frac;
    return (size_t)(p - s);
}

static int count_words(const char *s)
{
    int n = 0;
    bool in = false;
    for (; *s; s++) {
        bool sp = isspace((unsigned char)*s);
        if (!sp && !in)
            n++;
        in = !sp;
    }
    return n;
}

static sdra_role role_from_name(const char *name, const char *rep_name)
{
    if (rep_name && *rep_name) {
        size_t rl = strlen(rep_name);
        if (!strcasecmp(name, rep_name))
            return SDRA_ROLE_REP;
        /* "Alex" matches "Alex Smith" and the other way round */
        size_t nl = strlen(name);
        if ((nl > rl && !strncasecmp(name, rep_name, rl) && name[rl] == ' ') ||
            (rl > nl && !strncasecmp(rep_name, name, nl) && rep_name[nl] == ' '))
            return SDRA_ROLE_REP;
        return SDRA_ROLE_PROSPECT;
    }
    static const char *reps[] = {"rep", "sales rep", "agent", "sdr", "ae", "seller", "salesperson"};
    static const char *pros[] = {"prospect", "customer", "client", "caller", "buyer", "lead"};
    for (size_t i = 0; i < sizeof reps / sizeof reps[0]; i++)
        if (!strcasecmp(name, reps[i]))
            return SDRA_ROLE_REP;
    for (size_t i = 0; i < sizeof pros / sizeof pros[0]; i++)
        if (!strcasecmp(name, pros[i]))
            return SDRA_ROLE_PROSPECT;
    return SDRA_ROLE_UNKNOWN;
}

/* Index of the speaker with that display name, creating it when new. */
static int speaker_for(sdra_transcript *t, const char *name)
{
    for (size_t i = 0; i < t->n_speakers; i++)
        if (t->speakers[i].name && !strcasecmp(t->speakers[i].name, name))
            return (int)i;
    char id[32];
    snprintf(id, sizeof id, "S%zu", t->n_speakers + 1);
    int s = sdra_transcript_add_speaker(t, id, SDRA_ROLE_UNKNOWN, -1);
    if (s < 0)
        return s;
    if (!(t->speakers[s].name = strdup(name)))
        return SDRA_ENOMEM;
    return s;
}

/* Spreads the words of u->text evenly over [u->start, u->end]. */
static int spread_words(sdra_utterance *u)
{
    int n = count_words(u->text);
    if (n == 0)
        return 0;
    double step = (u->end - u->start) / n;
    const char *p = u->text;
    char w[256];
    for (int i = 0; i < n; i++) {
        while (isspace((unsigned char)*p))
            p++;
        size_t len = 0;
        while (p[len] && !isspace((unsigned char)p[len]))
            len++;
        size_t c = len < sizeof w - 1 ? len : sizeof w - 1;
        memcpy(w, p, c);
        w[c] = 0;
        p += len;
        double ws = u->start + i * step;
        if (sdra_utterance_add_word(u, w, ws, ws + step * 0.9, 1.0f) < 0)
            return SDRA_ENOMEM;
    }
    return 0;
}

/* One pending utterance of a text format: start < 0 when the file gave no time. */
typedef struct pending {
    char name[MAX_NAME];
    double start, end; /* end < 0 when unknown */
    sdra_buf text;
    bool open;
} pending;

static int flush(import_ctx *c, pending *pd, double *cursor)
{
    if (!pd->open)
        return 0;
    pd->open = false;
    char *txt = pd->text.data ? trim(pd->text.data) : "";
    if (!*txt) {
        sdra_buf_reset(&pd->text);
        return 0;
    }
    int s = speaker_for(c->t, pd->name);
    if (s < 0)
        return sdra_error_set(c->err, SDRA_ENOMEM, "%s: out of memory", c->path);
    double start = pd->start >= 0 ? pd->start : *cursor;
    int n = count_words(txt);
    c->n_words += (size_t)n;
    if (c->t->n_utts >= SDRA_TRANSCRIPT_MAX_UTTERANCES)
        return sdra_error_set(c->err, SDRA_ELIMIT, "%s: more than the limit of %u utterances", c->path,
                              SDRA_TRANSCRIPT_MAX_UTTERANCES);
    if (c->n_words > SDRA_TRANSCRIPT_MAX_WORDS)
        return sdra_error_set(c->err, SDRA_ELIMIT, "%s: more than the limit of %u words", c->path,
                              SDRA_TRANSCRIPT_MAX_WORDS);
    double end = pd->end > start ? pd->end : start + n * SECONDS_PER_WORD;
    sdra_utterance *u = sdra_transcript_add_utterance(c->t, s, start, end, txt);
    sdra_buf_reset(&pd->text);
    if (!u || spread_words(u) < 0)
        return sdra_error_set(c->err, SDRA_ENOMEM, "%s: out of memory", c->path);
    *cursor = end + TURN_GAP_S;
    return 0;
}

/* Splits "Name: words" when the part before ':' looks like a name (1-4 words, or up to 8
 * capitalised ones; some letters; at most MAX_NAME-1 bytes). Returns the words or NULL. */
static char *split_name(char *line, char name[MAX_NAME])
{
    char *colon = strchr(line, ':');
    if (!colon || colon == line || (size_t)(colon - line) >= MAX_NAME)
        return NULL;
    if (colon[1] && !isspace((unsigned char)colon[1]))
        return NULL; /* "10:30", "http://" */
    /* up to 4 words; 5-8 when every word is capitalised ("The Chair Hon Anthony Rota") */
    int words = 1;
    bool alpha = false, capitalised = isupper((unsigned char)line[0]);
    for (char *p = line; p < colon; p++) {
        if (*p == ' ') {
            words++;
            if (p + 1 < colon && !isupper((unsigned char)p[1]))
                capitalised = false;
        }
        if (isalpha((unsigned char)*p))
            alpha = true;
        if (*p == '<' || *p == '>' || *p == '"')
            return NULL;
    }
    if (!alpha || words > 8 || (words > 4 && !capitalised))
        return NULL;
    size_t n = (size_t)(colon - line);
    memcpy(name, line, n);
    name[n] = 0;
    char *nm = trim(name);
    memmove(name, nm, strlen(nm) + 1);
    if (!*name)
        return NULL;
    return colon + 1;
}

/* Removes <...> tags in place, taking a "<v Name>" voice tag's name into name (if given). */
static void strip_tags(char *s, char name[MAX_NAME], bool *got_name)
{
    char *w = s;
    for (char *p = s; *p;) {
        if (*p == '<') {
            char *close = strchr(p, '>');
            if (!close)
                break;
            if ((p[1] == 'v' || p[1] == 'V') && (p[2] == ' ' || p[2] == '.') && name) {
                const char *nb = p + 3;
                if (p[2] == '.') { /* <v.class Name> */
                    while (nb < close && *nb != ' ')
                        nb++;
                }
                size_t n = (size_t)(close - nb);
                if (n >= MAX_NAME)
                    n = MAX_NAME - 1;
                memcpy(name, nb, n);
                name[n] = 0;
                char *nm = trim(name);
                memmove(name, nm, strlen(nm) + 1);
                if (*name)
                    *got_name = true;
            }
            p = close + 1;
            continue;
        }
        *w++ = *p++;
    }
    *w = 0;
}

static int load_text(import_ctx *c, char *data)
{
    pending pd = {.start = -1, .end = -1};
    sdra_buf_init(&pd.text, 1u << 20);
    double cursor = 0;
    int rc = 0;
    char *save = NULL;
    for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *l = trim(line);
        if (!*l || *l == '#')
            continue;
        double ts = -1;
        if (*l == '[') {
            size_t k = parse_clock(l + 1, &ts);
            if (k && l[1 + k] == ']')
                l = trim(l + 2 + k);
            else
                ts = -1;
        } else {
            size_t k = parse_clock(l, &ts);
            if (k && isspace((unsigned char)l[k]))
                l = trim(l + k);
            else
                ts = -1;
        }
        char name[MAX_NAME];
        char *words = split_name(l, name);
        if (words) {
            if ((rc = flush(c, &pd, &cursor)) < 0)
                goto done;
            sdra_strlcpy(pd.name, name, sizeof pd.name);
            pd.start = ts;
            pd.end = -1;
            pd.open = true;
            l = trim(words);
        } else if (!pd.open) {
            rc = sdra_error_set(c->err, SDRA_EINVAL,
                                "%s: not a dialogue: expected 'Name: words' lines, got '%.40s'",
                                c->path, l);
            goto done;
        }
        if (pd.text.len && (rc = sdra_buf_putc(&pd.text, ' ')) < 0)
            goto limit;
        if ((rc = sdra_buf_puts(&pd.text, l)) < 0)
            goto limit;
    }
    rc = flush(c, &pd, &cursor);
    goto done;
limit:
    rc = sdra_error_set(c->err, SDRA_ELIMIT, "%s: an utterance is longer than 1 MiB", c->path);
done:
    sdra_buf_release(&pd.text);
    return rc;
}

/* WebVTT and SRT: cues separated by blank lines; timing line "a --> b"; text lines after it. */
static int load_cues(import_ctx *c, char *data, bool vtt)
{
    pending pd = {.start = -1, .end = -1};
    sdra_buf_init(&pd.text, 1u << 20);
    double cursor = 0;
    int rc = 0;
    char last_name[MAX_NAME] = "Unknown";
    char *p = data;
    bool in_cue = false, skip_block = false;
    while (p && *p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        char *l = trim(p);
        p = nl ? nl + 1 : NULL;
        if (!*l) {
            if ((rc = flush(c, &pd, &cursor)) < 0)
                goto done;
            in_cue = skip_block = false;
            continue;
        }
        if (skip_block)
            continue;
        char *arrow = strstr(l, "-->");
        if (arrow) {
            if ((rc = flush(c, &pd, &cursor)) < 0)
                goto done;
            double a, b;
            if (!parse_clock(l, &a) || !parse_clock(trim(arrow + 3), &b)) {
                rc = sdra_error_set(c->err, SDRA_EINVAL, "%s: bad cue timing '%.40s'", c->path, l);
                goto done;
            }
            pd.start = a;
            pd.end = b;
            pd.name[0] = 0;
            in_cue = true;
            continue;
        }
        if (!in_cue) {
            /* cue identifiers, WEBVTT header, NOTE/STYLE/REGION blocks */
            if (vtt && (!strncmp(l, "NOTE", 4) || !strncmp(l, "STYLE", 5) || !strncmp(l, "REGION", 6)))
                skip_block = true;
            continue;
        }
        char name[MAX_NAME] = "";
        bool got = false;
        strip_tags(l, name, &got);
        l = trim(l);
        char nm2[MAX_NAME];
        char *words = split_name(l, nm2);
        if (words) {
            sdra_strlcpy(name, nm2, sizeof name);
            got = true;
            l = trim(words);
        }
        if (got && pd.open && pd.name[0] && strcasecmp(name, pd.name)) {
            /* a second voice inside one cue: split it, sharing the cue's times */
            double s0 = pd.start, e0 = pd.end;
            if ((rc = flush(c, &pd, &cursor)) < 0)
                goto done;
            pd.start = s0;
            pd.end = e0;
        }
        if (!pd.open) {
            pd.open = true;
            sdra_strlcpy(pd.name, got ? name : last_name, sizeof pd.name);
        }
        if (got)
            sdra_strlcpy(last_name, name, sizeof last_name);
        if (!*l)
            continue;
        if (pd.text.len && (rc = sdra_buf_putc(&pd.text, ' ')) < 0)
            goto limit;
        if ((rc = sdra_buf_puts(&pd.text, l)) < 0)
            goto limit;
    }
    rc = flush(c, &pd, &cursor);
    goto done;
limit:
    rc = sdra_error_set(c->err, SDRA_ELIMIT, "%s: a cue is longer than 1 MiB", c->path);
done:
    sdra_buf_release(&pd.text);
    return rc;
}

static bool looks_srt(const char *s)
{
    /* first line a number, second a timing line */
    while (isdigit((unsigned char)*s))
        s++;
    while (*s == ' ' || *s == '\r')
        s++;
    if (*s != '\n')
        return false;
    const char *nl = strchr(s + 1, '\n');
    size_t n = nl ? (size_t)(nl - s) : strlen(s);
    const char *a = memmem(s, n, "-->", 3);
    return a != NULL;
}

/* --- sdra JSON, one utterance at a time -------------------------------------------------------
 * A jansson tree of a whole transcript costs about ten times the text (an object with a hash
 * table per word), so a 14 MB file took most of a gigabyte. The loader below walks the
 * document's top level itself: every member but "utterances" is parsed into a small object
 * for sdra_transcript_from_json_header, and each utterance is parsed, converted and freed in
 * turn. The scanner only finds where values end; jansson still parses (and validates) every
 * byte, so malformed input fails with jansson's message and its line and column. */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* End of the JSON value starting at p (strings and nesting followed, contents not checked),
 * or NULL when it runs past end or closes what it did not open. */
static const char *value_end(const char *p, const char *end)
{
    char stack[64]; /* deeper nesting than a transcript has: let jansson report it */
    size_t depth = 0;
    while (p < end) {
        char c = *p;
        if (c == '"') {
            for (p++; p < end && *p != '"'; p++)
                if (*p == '\\')
                    p++;
            if (p >= end)
                return NULL;
            p++;
        } else if (c == '{' || c == '[') {
            if (depth == sizeof stack)
                return NULL;
            stack[depth++] = c == '{' ? '}' : ']';
            p++;
        } else if (c == '}' || c == ']') {
            if (depth == 0 || stack[depth - 1] != c)
                return depth == 0 ? p : NULL; /* depth 0: the enclosing container's end */
            depth--;
            p++;
        } else if (depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
            return p;
        } else {
            p++;
        }
        if (depth == 0 && (c == '"' || c == '}' || c == ']'))
            return p;
    }
    return depth == 0 ? p : NULL;
}

/* "path:line:col: msg" for a byte offset into the text. */
static int json_fail(const char *text, const char *at, const char *path, const char *msg, sdra_error *err)
{
    int line = 1, col = 1;
    for (const char *q = text; q < at; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    return sdra_error_set(err, SDRA_EINVAL, "%s:%d:%d: %s", path, line, col, msg);
}

/* Parses the value in [p, e) with jansson; a failure reports the position in the whole text. */
static json_t *parse_span(const char *text, const char *p, const char *e, const char *path, int *rc, sdra_error *err)
{
    json_error_t je;
    json_t *v = json_loadb(p, (size_t)(e - p), JSON_DECODE_ANY, &je);
    if (!v)
        *rc = json_fail(text, p + (je.position > 0 ? je.position - 1 : 0), path, je.text, err);
    return v;
}

static size_t utt_words(const sdra_utterance *u)
{
    if (u->n_words || !u->text)
        return u->n_words;
    size_t n = 0;
    for (const char *q = u->text; *q;) {
        while (*q && isspace((unsigned char)*q))
            q++;
        if (*q)
            n++;
        while (*q && !isspace((unsigned char)*q))
            q++;
    }
    return n;
}

/* SDRA_ELIMIT once the transcript has more utterances or words than the load limits. */
static int check_counts(const sdra_transcript *t, size_t n_words, const char *path, sdra_error *err)
{
    if (t->n_utts > SDRA_TRANSCRIPT_MAX_UTTERANCES)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: more than the limit of %u utterances", path,
                              SDRA_TRANSCRIPT_MAX_UTTERANCES);
    if (n_words > SDRA_TRANSCRIPT_MAX_WORDS)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: more than the limit of %u words", path, SDRA_TRANSCRIPT_MAX_WORDS);
    return 0;
}

static int load_json(sdra_transcript **out, const char *text, size_t len, const char *path, sdra_error *err)
{
    const char *end = text + len, *p = skip_ws(text, end), *utts = NULL, *utts_end = NULL;
    json_t *head = json_object(), *key = NULL, *v = NULL;
    sdra_transcript *t = NULL;
    int rc = 0;
    if (!head)
        return sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", path);
    if (p >= end || *p != '{') {
        rc = json_fail(text, p, path, "'{' expected", err);
        goto done;
    }
    p = skip_ws(p + 1, end);
    while (p < end && *p != '}') {
        const char *ke = *p == '"' ? value_end(p, end) : NULL;
        if (!ke) {
            rc = json_fail(text, p, path, "string or '}' expected", err);
            goto done;
        }
        if (!(key = parse_span(text, p, ke, path, &rc, err)))
            goto done;
        p = skip_ws(ke, end);
        if (p >= end || *p != ':') {
            rc = json_fail(text, p, path, "':' expected", err);
            goto done;
        }
        p = skip_ws(p + 1, end);
        const char *ve = value_end(p, end);
        if (!ve || ve == p) {
            rc = json_fail(text, p, path, "value expected", err);
            goto done;
        }
        if (!strcmp(json_string_value(key), "utterances") && *p == '[') {
            utts = p; /* the last one counts, as when a parser keeps the last duplicate */
            utts_end = ve;
            json_object_del(head, "utterances");
        } else {
            if (!(v = parse_span(text, p, ve, path, &rc, err)))
                goto done;
            if (json_object_set_new(head, json_string_value(key), v) < 0) {
                rc = sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", path);
                goto done;
            }
            if (!strcmp(json_string_value(key), "utterances"))
                utts = utts_end = NULL;
        }
        v = NULL;
        json_decref(key);
        key = NULL;
        p = skip_ws(ve, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            if (p >= end || *p != '"') {
                rc = json_fail(text, p, path, "string expected", err);
                goto done;
            }
        } else if (p >= end || *p != '}') {
            rc = json_fail(text, p, path, "',' or '}' expected", err);
            goto done;
        }
    }
    if (p >= end) {
        rc = json_fail(text, p, path, "'}' expected near end of file", err);
        goto done;
    }
    if (skip_ws(p + 1, end) != end) {
        rc = json_fail(text, skip_ws(p + 1, end), path, "end of file expected", err);
        goto done;
    }
    if (utts && json_object_set_new(head, "utterances", json_array()) < 0) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    if ((rc = sdra_transcript_from_json_header(&t, head, err)) < 0)
        goto prefix;
    size_t n_words = 0, i = 0;
    for (p = utts ? skip_ws(utts + 1, utts_end) : NULL; p && p < utts_end - 1; i++) {
        const char *ue = value_end(p, utts_end);
        if (!ue || ue == p || *p != '{') {
            rc = json_fail(text, p, path, "utterance object expected", err);
            goto done;
        }
        if (!(v = parse_span(text, p, ue, path, &rc, err)))
            goto done;
        rc = sdra_transcript_add_utterance_json(t, v, i, err);
        json_decref(v);
        v = NULL;
        if (rc < 0)
            goto prefix;
        n_words += utt_words(&t->utts[t->n_utts - 1]);
        if ((rc = check_counts(t, n_words, path, err)) < 0)
            goto done;
        p = skip_ws(ue, utts_end);
        if (*p == ',') {
            p = skip_ws(p + 1, utts_end);
            if (*p == ']') {
                rc = json_fail(text, p, path, "value expected", err);
                goto done;
            }
        } else if (*p != ']') {
            rc = json_fail(text, p, path, "',' or ']' expected", err);
            goto done;
        }
    }
    sdra_transcript_sort(t);
    *out = t;
    t = NULL;
    goto done;
prefix:
    sdra_error_prefix(err, "%s", path);
done:
    json_decref(key);
    json_decref(v);
    json_decref(head);
    sdra_transcript_destroy(t);
    return rc;
}

/* The offset of the first byte of s[0, len) that is not valid UTF-8, or len when it all is. */
static size_t utf8_bad_at(const char *s, size_t len)
{
    size_t at = 0, n;
    while (at < len && (n = sdra_utf8_decode(s + at, len - at, NULL)) > 0)
        at += n;
    return at;
}

int sdra_transcript_load(sdra_transcript **out, const char *path, const char *rep_name, sdra_error *err)
{
    char *data = NULL;
    size_t len = 0;
    sdra_transcript *t = NULL;
    int rc = sdra_file_read(&data, &len, path, SDRA_TRANSCRIPT_MAX_BYTES, err);
    if (rc < 0)
        return rc;
    if (memchr(data, 0, len)) {
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: binary data, not a transcript", path);
        goto done;
    }
    size_t bad = utf8_bad_at(data, len);
    if (bad < len) {
        size_t line = 1;
        for (size_t i = 0; i < bad; i++)
            line += data[i] == '\n';
        rc = sdra_error_set(err, SDRA_EINVAL, "%s:%zu: not UTF-8 text (convert it first, e.g. iconv -f latin1 -t utf-8)",
                            path, line);
        goto done;
    }
    char *s = data;
    if (!strncmp(s, "\xEF\xBB\xBF", 3))
        s += 3;
    for (char *q = s; *q; q++) /* CRLF -> LF */
        if (*q == '\r')
            *q = (q[1] == '\n') ? ' ' : '\n';
    while (*s && isspace((unsigned char)*s))
        s++;
    if (!*s) {
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: empty transcript", path);
        goto done;
    }
    if (*s == '{') {
        if ((rc = load_json(&t, s, len - (size_t)(s - data), path, err)) < 0)
            goto done;
        /* the text is no longer needed: give it back before the caller's work begins */
        free(data);
        data = NULL;
        if (rep_name && *rep_name)
            for (size_t i = 0; i < t->n_speakers; i++)
                if (t->speakers[i].name)
                    t->speakers[i].role = role_from_name(t->speakers[i].name, rep_name);
    } else {
        import_ctx c = {.path = path, .err = err};
        if (!(t = c.t = sdra_transcript_create())) {
            rc = sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", path);
            goto done;
        }
        if (!strncmp(s, "WEBVTT", 6))
            rc = load_cues(&c, s, true);
        else if (looks_srt(s))
            rc = load_cues(&c, s, false);
        else
            rc = load_text(&c, s);
        if (rc < 0)
            goto done;
        if (t->n_utts == 0) {
            rc = sdra_error_set(err, SDRA_EINVAL, "%s: no utterances found", path);
            goto done;
        }
        for (size_t i = 0; i < t->n_speakers; i++)
            t->speakers[i].role = role_from_name(t->speakers[i].name, rep_name);
        sdra_transcript_sort(t);
        double end = 0;
        for (size_t i = 0; i < t->n_utts; i++)
            if (t->utts[i].end > end)
                end = t->utts[i].end;
        t->duration_s = end;
        if (strcmp(path, "-") && !(t->source = strdup(path))) {
            rc = sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", path);
            goto done;
        }
    }
    if (t->n_utts == 0) {
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: transcript has no utterances", path);
        goto done;
    }
    *out = t;
    t = NULL;
    rc = 0;
done:
    sdra_transcript_destroy(t);
    free(data);
    return rc;
}
