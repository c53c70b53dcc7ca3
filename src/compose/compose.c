/*
 * compose.c - the follow-up email (sdra/compose.h): reads what it needs from the analysis
 * (names, pain points, objections, action items, the next meeting, contact preferences),
 * builds the template context (fields documented in docs/templates.md), renders the style's
 * template, answers each objection from data/talking_points/, and assembles the "sdra.email/1"
 * document, the MIME message and the iCalendar invite.
 *
 * Everything that varies between runs is derived from the inputs: Message-ID, invite UID and
 * MIME boundaries come from the call id (or a hash of the analysis when there is none), and the
 * Date from params.now_s, so golden files can pin the output byte for byte.
 *
 * Opt-out rules live here and nowhere else: do_not_email -> no message, only the document with
 * "skipped"; do_not_call -> no invite, no meeting or call proposal in the context (can_call
 * false), action items that speak of calls or meetings dropped (words in
 * data/compose/action_words.txt), talking points marked "call: yes" never chosen.
 */
#include "sdra/compose.h"
#include "compose/internal.h"
#include "sdra/tz.h"
#include "sdra/buf.h"
#include "sdra/log.h"
#include "sdra/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SKIP_NO_EMAIL "contact asked not to be emailed"
#define MAX_ITEM_BYTES 600
#define MAX_NAME_BYTES 120

struct sdra_email {
    json_t *doc;
    char *eml;
    char *ics;
    char *skipped;
};

static const char *styles[] = {"formal", "friendly", "concise", "consultative"};

sdra_compose_params sdra_compose_default_params(void)
{
    sdra_compose_params p = {0};
    p.default_from = "follow-up@sdra.invalid";
    p.meeting_minutes = 30;
    p.max_output_bytes = 256 * 1024;
    p.max_items = 8;
    return p;
}

void sdra_email_destroy(sdra_email *e)
{
    if (!e)
        return;
    json_decref(e->doc);
    free(e->eml);
    free(e->ics);
    free(e->skipped);
    free(e);
}

const json_t *sdra_email_doc(const sdra_email *e) { return e ? e->doc : NULL; }
const char *sdra_email_eml(const sdra_email *e) { return e ? e->eml : NULL; }
const char *sdra_email_ics(const sdra_email *e) { return e ? e->ics : NULL; }
const char *sdra_email_skipped(const sdra_email *e) { return e ? e->skipped : NULL; }

/* ---- small helpers ---------------------------------------------------------------------- */

/* A cleaned copy of s: control characters and runs of white space become one space, trimmed,
 * cut at max bytes on a UTF-8 boundary (with "..."). NULL for NULL/empty input. */
static char *clean(const char *s, size_t max)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *o = malloc(n + 4);
    if (!o)
        return NULL;
    size_t j = 0;
    int space = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == ' ') {
            if (!space)
                o[j++] = ' ';
            space = 1;
        } else {
            o[j++] = (char)c;
            space = 0;
        }
    }
    while (j && o[j - 1] == ' ')
        j--;
    if (j > max) {
        j = max;
        while (j && ((unsigned char)o[j] & 0xc0) == 0x80)
            j--;
        while (j && o[j - 1] != ' ')
            j--;
        while (j && o[j - 1] == ' ')
            j--;
        if (!j)
            j = max - max % 4; /* one long word: cut anyway (boundary fixed below) */
        while (j && ((unsigned char)o[j] & 0xc0) == 0x80)
            j--;
        memcpy(o + j, "...", 3);
        j += 3;
    }
    o[j] = 0;
    if (!j) {
        free(o);
        return NULL;
    }
    return o;
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && *s ? s : NULL;
}

/* First word of a name ("Jordan" of "Jordan Lee"); out gets at most n-1 bytes. */
static void first_name(char *out, size_t n, const char *name)
{
    out[0] = 0;
    if (!name)
        return;
    size_t l = strcspn(name, " ");
    if (l >= n)
        l = n - 1;
    memcpy(out, name, l);
    out[l] = 0;
}

static int set_str(json_t *o, const char *key, const char *v)
{
    if (!v)
        return 0;
    return json_object_set_new(o, key, json_string(v)) < 0 ? SDRA_ENOMEM : 0;
}

/* Capitalises the first ASCII letter and drops one trailing '.', for list items. */
static void tidy_item(char *s)
{
    if (!s)
        return;
    if (islower((unsigned char)s[0]))
        s[0] = (char)toupper((unsigned char)s[0]);
    size_t n = strlen(s);
    if (n && s[n - 1] == '.' && !(n >= 3 && !strcmp(s + n - 3, "...")))
        s[n - 1] = 0;
}

/* Strips trailing sentence punctuation (the quote is embedded in our own sentence). */
static void tidy_quote(char *s)
{
    if (!s)
        return;
    size_t n = strlen(s);
    while (n && strchr(".,;:!? ", s[n - 1]) && !(n >= 3 && !strcmp(s + n - 3, "...")))
        s[--n] = 0;
}

/* In place: keeps only the sentence of s that contains match (case-insensitive), so a quote
 * is what the prospect said about the point, not the whole utterance. Unchanged when match is
 * NULL or not found. */
static void sentence_with(char *s, const char *match)
{
    if (!s || !match || !*match)
        return;
    char *hit = strcasestr(s, match);
    if (!hit)
        return;
    char *b = hit;
    while (b > s && !(strchr(".!?", b[-1]) && (b[0] == ' ')))
        b--;
    while (*b == ' ')
        b++;
    char *e = hit + strlen(match);
    while (*e && !(strchr(".!?", *e) && (e[1] == ' ' || e[1] == 0)))
        e++;
    if (*e)
        e++;
    size_t n = (size_t)(e - b);
    memmove(s, b, n);
    s[n] = 0;
}

/* In place: drops a dangling last clause such as ", and it's" left where an extractor cut a
 * sentence short (at most three words after the last comma, starting with a conjunction). */
static void drop_dangling_clause(char *s)
{
    if (!s)
        return;
    char *c = strrchr(s, ',');
    if (!c || c == s)
        return;
    const char *w = c + 1;
    while (*w == ' ')
        w++;
    static const char *conj[] = {"and ", "but ", "so ", "or ", "because ", "which "};
    int is_conj = 0;
    for (size_t i = 0; i < sizeof conj / sizeof conj[0]; i++)
        if (!strncasecmp(w, conj[i], strlen(conj[i])))
            is_conj = 1;
    int words = 0;
    for (const char *p = w; *p; p++)
        if (*p != ' ' && (p == w || p[-1] == ' '))
            words++;
    if (is_conj && words <= 3 && !strpbrk(w, ".!?"))
        *c = 0;
}

/* A speaker's name by role from the analysis, else from the transcript. */
static const char *speaker_name(const json_t *analysis, const sdra_transcript *t, const char *role)
{
    const json_t *sp = json_object_get(analysis, "speakers");
    size_t i;
    const json_t *s;
    json_array_foreach(sp, i, s) {
        const char *r = jstr(s, "role");
        if (r && !strcmp(r, role) && jstr(s, "name"))
            return jstr(s, "name");
    }
    if (t)
        for (size_t k = 0; k < t->n_speakers; k++)
            if (!strcmp(sdra_role_name(t->speakers[k].role), role) && t->speakers[k].name &&
                *t->speakers[k].name)
                return t->speakers[k].name;
    return NULL;
}

/* ---- action word lists (data/compose/action_words.txt) --------------------------------- */

#define WORDS_MAX 256

typedef struct words {
    const char *w[WORDS_MAX];
    size_t n;
} words;

/* The sections of action_words.txt: [call] words that make an item a call or meeting
 * proposal, [invite] words of items this email itself fulfils when an invite is attached,
 * [filler] words ignored when comparing items, [vague] objects that say nothing alone. */
typedef struct wordlists {
    char *data, *data2;
    words call, invite, filler, vague;
    /* data/compose/email_words.txt */
    words voice, paraphrase, commit, not_commit, resolve, vague_ref, task_voice;
} wordlists;

static int load_words_file(wordlists *wl, const char *rel, char **data, sdra_error *err)
{
    char path[4096];
    if (sdra_share_path(path, sizeof path, rel) < 0)
        return sdra_error_set(err, SDRA_ELIMIT, "share path too long");
    int rc = sdra_file_read(data, NULL, path, 32 * 1024, err);
    if (rc < 0)
        return rc;
    words *cur = NULL;
    int line_no = 0;
    char *save = NULL;
    for (char *line = strtok_r(*data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        while (isspace((unsigned char)*line))
            line++;
        size_t l = strlen(line);
        while (l && isspace((unsigned char)line[l - 1]))
            line[--l] = 0;
        if (!l || line[0] == '#')
            continue;
        if (line[0] == '[') {
            cur = !strcmp(line, "[call]")     ? &wl->call
                  : !strcmp(line, "[invite]") ? &wl->invite
                  : !strcmp(line, "[filler]") ? &wl->filler
                  : !strcmp(line, "[vague]")  ? &wl->vague
                  : !strcmp(line, "[voice]")  ? &wl->voice
                  : !strcmp(line, "[paraphrase]") ? &wl->paraphrase
                  : !strcmp(line, "[commit]") ? &wl->commit
                  : !strcmp(line, "[not_commitment]") ? &wl->not_commit
                  : !strcmp(line, "[resolve]") ? &wl->resolve
                  : !strcmp(line, "[vague_ref]") ? &wl->vague_ref
                  : !strcmp(line, "[task_voice]") ? &wl->task_voice
                                              : NULL;
            if (!cur)
                return sdra_error_set(err, SDRA_EINVAL, "%s: unknown section %.40s", path, line);
            continue;
        }
        if (!cur)
            return sdra_error_set(err, SDRA_EINVAL, "%s: '%.40s' before the first [section]",
                                  path, line);
        if (cur->n == WORDS_MAX)
            return sdra_error_set(err, SDRA_ELIMIT, "%s: more than %d words in a section", path,
                                  WORDS_MAX);
        cur->w[cur->n++] = line;
    }
    return 0;
}

static int load_wordlists(wordlists *wl, sdra_error *err)
{
    memset(wl, 0, sizeof *wl);
    int rc = load_words_file(wl, "compose/action_words.txt", &wl->data, err);
    if (rc == 0)
        rc = load_words_file(wl, "compose/email_words.txt", &wl->data2, err);
    return rc;
}

/* The right side of the "key = value" line of w whose key is key (n bytes, case-insensitive),
 * or NULL. */
static const char *pair_value(const words *w, const char *key, size_t n)
{
    for (size_t i = 0; i < w->n; i++) {
        const char *eq = strstr(w->w[i], " = ");
        if (eq && (size_t)(eq - w->w[i]) == n && !strncasecmp(w->w[i], key, n))
            return eq + 3;
    }
    return NULL;
}

static int in_list(const words *w, const char *word, size_t n)
{
    for (size_t i = 0; i < w->n; i++)
        if (strlen(w->w[i]) == n && !strncasecmp(w->w[i], word, n))
            return 1;
    return 0;
}

/* True when text contains one of the words as a whole word (case-insensitive). */
static int mentions(const words *w, const char *text)
{
    for (size_t i = 0; i < w->n; i++) {
        size_t l = strlen(w->w[i]);
        for (const char *p = text; *p; p++) {
            if (p != text && isalnum((unsigned char)p[-1]))
                continue;
            if (!strncasecmp(p, w->w[i], l) && !isalnum((unsigned char)p[l]))
                return 1;
        }
    }
    return 0;
}

/* The content words of an action item (lowercase, no filler, at least 3 letters), for
 * telling duplicates apart. Returns how many (at most max). */
static size_t content_words(char out[][32], size_t max, const char *text, const words *filler)
{
    size_t n = 0;
    const char *p = text;
    while (*p && n < max) {
        while (*p && !isalnum((unsigned char)*p))
            p++;
        const char *b = p;
        while (isalnum((unsigned char)*p) || *p == '\'')
            p++;
        size_t l = (size_t)(p - b);
        if (l >= 3 && l < 32 && !in_list(filler, b, l)) {
            for (size_t i = 0; i < l; i++)
                out[n][i] = (char)tolower((unsigned char)b[i]);
            out[n][l] = 0;
            int dup = 0;
            for (size_t k = 0; k < n; k++)
                dup |= !strcmp(out[k], out[n]);
            if (!dup)
                n++;
        }
    }
    return n;
}

static int subset(char a[][32], size_t na, char b[][32], size_t nb)
{
    for (size_t i = 0; i < na; i++) {
        int found = 0;
        for (size_t j = 0; j < nb && !found; j++)
            found = !strcmp(a[i], b[j]);
        if (!found)
            return 0;
    }
    return 1;
}

/* True for items like "send it": at most two words, the last one a vague object. */
static int vague_item(const char *text, const words *vague)
{
    const char *last = NULL;
    int n = 0;
    for (const char *p = text; *p; p++)
        if (!isspace((unsigned char)*p) && (p == text || isspace((unsigned char)p[-1]))) {
            n++;
            last = p;
        }
    if (!last || n > 2)
        return 0;
    size_t l = 0;
    while (last[l] && isalpha((unsigned char)last[l]))
        l++;
    return in_list(vague, last, l);
}

/* ---- saying only what was said (docs/schemas/email.md, "What the email says") ----------- */

#define QUOTE_MAX_WORDS 20   /* longer words are not a quote but a speech: paraphrase or leave out */
#define QUOTE_MAX_BYTES 160
#define RESOLVE_TURNS 4      /* "send that" looks this many utterances back for what "that" is */
#define TASKS_MAX 64 /* tasks kept in email.json (the CRM syncs at most its own limit) */
#define COMMIT_MAX_WORDS 12  /* a commitment found in the transcript: at most this many words */

/* Whether the words a finding rests on were heard clearly enough to repeat: its "conf" (mean)
 * at least SDRA_CONF_QUOTE and its "conf_min" at least SDRA_CONF_LOW. A finding without them
 * comes from a typed transcript, which has nothing to doubt. */
static int heard_clearly(const json_t *it)
{
    const json_t *c = json_object_get(it, "conf"), *lo = json_object_get(it, "conf_min");
    if (json_is_number(c) && json_number_value(c) < SDRA_CONF_QUOTE)
        return 0;
    return !(json_is_number(lo) && json_number_value(lo) < SDRA_CONF_LOW);
}

static size_t word_count(const char *s)
{
    size_t n = 0;
    for (const char *p = s; p && *p; p++)
        n += !isspace((unsigned char)*p) && (p == s || isspace((unsigned char)p[-1]));
    return n;
}

static int quotable(const json_t *it, const char *quote)
{
    return quote && *quote && heard_clearly(it) && word_count(quote) <= QUOTE_MAX_WORDS &&
           strlen(quote) <= QUOTE_MAX_BYTES;
}

/* Lower-cases the first letter (for an item inside a sentence) unless it is "I". */
static void lower_first(char *s)
{
    if (s && isupper((unsigned char)s[0]) && !(s[0] == 'I' && (s[1] == ' ' || s[1] == '\'')))
        s[0] = (char)tolower((unsigned char)s[0]);
}

static int said_by_prospect(const json_t *it)
{
    const char *r = jstr(it, "role");
    return r && !strcmp(r, "prospect");
}

/* text rewritten to the email's point of view when the prospect said it ([voice] pairs:
 * "my" -> "your", "you" -> "me"); a copy otherwise. NULL on ENOMEM. */
static char *to_email_voice(const char *text, int by_prospect, const words *voice)
{
    if (!by_prospect)
        return strdup(text);
    size_t n = strlen(text);
    char *o = malloc(n * 4 + 1);
    if (!o)
        return NULL;
    size_t j = 0;
    for (const char *p = text; *p;) {
        if (!isalpha((unsigned char)*p)) {
            o[j++] = *p++;
            continue;
        }
        const char *q = p;
        while (isalpha((unsigned char)*q) || (*q == '\'' && isalpha((unsigned char)q[1])))
            q++;
        const char *v = pair_value(voice, p, (size_t)(q - p));
        if (v && strlen(v) <= (size_t)(q - p) * 4) {
            size_t l = strlen(v);
            memcpy(o + j, v, l);
            if (p == text && isupper((unsigned char)*p))
                o[j] = (char)toupper((unsigned char)o[j]);
            j += l;
        } else {
            memcpy(o + j, p, (size_t)(q - p));
            j += (size_t)(q - p);
        }
        p = q;
    }
    o[j] = 0;
    return o;
}

/* Replaces the first whole-word, case-insensitive occurrence of what (n bytes) in *s by with;
 * returns 1 when it did. *s is reallocated. */
static int replace_word(char **s, const char *what, size_t n, const char *with)
{
    for (char *p = *s; *p; p++) {
        if ((p != *s && isalnum((unsigned char)p[-1])) || strncasecmp(p, what, n) ||
            isalnum((unsigned char)p[n]))
            continue;
        size_t at = (size_t)(p - *s), wl = strlen(with), total = strlen(*s) - n + wl;
        char *o = malloc(total + 1);
        if (!o)
            return 0;
        memcpy(o, *s, at);
        memcpy(o + at, with, wl);
        strcpy(o + at + wl, *s + at + n);
        free(*s);
        *s = o;
        return 1;
    }
    return 0;
}

/* What an item offers or asks for: its words after the verb, without a leading "you"/"me",
 * up to " to ", " by " or a time ("send you the case study by Thursday" -> "the case study").
 * NULL when that is itself vague. */
static char *item_object(const char *text, const words *vague_ref)
{
    const char *p = strchr(text, ' ');
    if (!p)
        return NULL;
    while (*p == ' ')
        p++;
    static const char *skip[] = {"you ", "me ", "us ", "them ", "over "};
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (!strncasecmp(p, skip[i], strlen(skip[i])))
            p += strlen(skip[i]);
    size_t n = strlen(p);
    const char *cut[] = {" to ", " by ", " before ", " on ", " this ", " today", " tomorrow",
                         " next "};
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
        const char *c = strcasestr(p, cut[i]);
        if (c && (size_t)(c - p) < n)
            n = (size_t)(c - p);
    }
    size_t w = strcspn(p, " ");
    if (!n || (w >= n && in_list(vague_ref, p, n)))
        return NULL;
    return strndup(p, n);
}

/* What an earlier item (or the request an item answers) offered or asked for, in the email's
 * voice ("the usage report" of "send me the usage report"); NULL when it names nothing. */
static char *earlier_object(const json_t *prev, const wordlists *wl)
{
    char *ptxt = clean(jstr(prev, "text"), MAX_ITEM_BYTES);
    char *pv = ptxt ? to_email_voice(ptxt, said_by_prospect(prev), &wl->voice) : NULL;
    char *obj = pv ? item_object(pv, &wl->vague_ref) : NULL;
    free(ptxt);
    free(pv);
    return obj;
}

/* The text of item k of arr in the email's voice, with "send that" / "send it" resolved to
 * what an earlier item (within RESOLVE_TURNS utterances) offered or asked for, and [resolve]
 * phrases ("answer that") replaced. NULL when there is no text. */
static char *item_text(const json_t *arr, size_t k, const wordlists *wl)
{
    const json_t *it = json_array_get(arr, k);
    char *raw = clean(jstr(it, "text"), MAX_ITEM_BYTES);
    if (!raw)
        return NULL;
    char *txt = to_email_voice(raw, said_by_prospect(it), &wl->voice);
    free(raw);
    if (!txt)
        return NULL;
    for (size_t i = 0; i < wl->resolve.n; i++) {
        const char *eq = strstr(wl->resolve.w[i], " = ");
        if (eq)
            replace_word(&txt, wl->resolve.w[i], (size_t)(eq - wl->resolve.w[i]), eq + 3);
    }
    /* the word after the verb, when it is a vague reference */
    const char *sp = strchr(txt, ' ');
    if (!sp)
        return txt;
    const char *w2 = sp + 1;
    size_t l2 = 0;
    while (isalpha((unsigned char)w2[l2]))
        l2++;
    if (!l2 || !in_list(&wl->vague_ref, w2, l2))
        return txt;
    char word[32];
    snprintf(word, sizeof word, "%.*s", (int)(l2 < 31 ? l2 : 31), w2);
    /* first the request this item answers ("Send me the report" - "I'll send it"), then the
       items said before it */
    const json_t *ans = json_object_get(it, "answers");
    for (size_t j = json_array_size(ans); j-- > 0;) {
        char *obj = earlier_object(json_array_get(ans, j), wl);
        if (obj) {
            replace_word(&txt, word, strlen(word), obj);
            free(obj);
            return txt;
        }
    }
    const json_t *self_i = json_object_get(it, "i");
    for (size_t j = k; j-- > 0;) {
        const json_t *prev = json_array_get(arr, j);
        const json_t *pi = json_object_get(prev, "i");
        if (json_is_integer(self_i) && json_is_integer(pi) &&
            json_integer_value(self_i) - json_integer_value(pi) > RESOLVE_TURNS)
            break;
        char *obj = earlier_object(prev, wl);
        if (obj) {
            replace_word(&txt, word, strlen(word), obj);
            free(obj);
            break;
        }
        if (!json_is_integer(self_i))
            break; /* without utterance numbers only the item right before can be meant */
    }
    return txt;
}

/* ---- context ---------------------------------------------------------------------------- */

typedef struct people {
    char *contact_name, *contact_email, *company;
    char *rep_name, *rep_email, *rep_company;
    char contact_first[64], rep_first[64];
    sdra_tz tz, contact_tz; /* the rep's zone (meeting times are in it) and the prospect's */
    int has_tz, has_contact_tz;
} people;

static void people_release(people *pp)
{
    free(pp->contact_name);
    free(pp->contact_email);
    free(pp->company);
    free(pp->rep_name);
    free(pp->rep_email);
    free(pp->rep_company);
}

static int people_fill(people *pp, const json_t *a, const sdra_transcript *t,
                       const sdra_call_info *call, sdra_error *err)
{
    memset(pp, 0, sizeof *pp);
    const char *cn = call && call->contact_name ? call->contact_name : speaker_name(a, t, "prospect");
    const char *rn = call && call->rep_name ? call->rep_name : speaker_name(a, t, "rep");
    pp->contact_name = clean(cn, MAX_NAME_BYTES);
    pp->rep_name = clean(rn, MAX_NAME_BYTES);
    pp->company = clean(call && call->company ? call->company : jstr(a, "company"), MAX_NAME_BYTES);
    pp->rep_company = clean(call ? call->rep_company : NULL, MAX_NAME_BYTES);
    if (call && call->contact_email) {
        if (!sdra_mime_addr_ok(call->contact_email))
            return sdra_error_set(err, SDRA_EINVAL, "contact email '%.100s' is not an address",
                                  call->contact_email);
        pp->contact_email = strdup(call->contact_email);
    }
    if (call && call->rep_email) {
        if (!sdra_mime_addr_ok(call->rep_email))
            return sdra_error_set(err, SDRA_EINVAL, "rep email '%.100s' is not an address",
                                  call->rep_email);
        pp->rep_email = strdup(call->rep_email);
    }
    first_name(pp->contact_first, sizeof pp->contact_first, pp->contact_name);
    first_name(pp->rep_first, sizeof pp->rep_first, pp->rep_name);
    int rc;
    if (call && call->timezone) {
        if ((rc = sdra_tz_load(&pp->tz, call->timezone, err)) < 0)
            return rc;
        pp->has_tz = 1;
    }
    if (call && call->contact_timezone && pp->has_tz) {
        if ((rc = sdra_tz_load(&pp->contact_tz, call->contact_timezone, err)) < 0)
            return rc;
        pp->has_contact_tz = 1;
    }
    return 0;
}

/* A zone's name for people: its abbreviation ("CET"), or "UTC+03" for a numeric one. */
static void zone_label(char *out, size_t n, const sdra_tz *z, int dst)
{
    const char *ab = dst ? z->dst_abbr : z->std_abbr;
    if (isalpha((unsigned char)ab[0]))
        snprintf(out, n, "%s", ab);
    else
        snprintf(out, n, "UTC%s", ab);
}

/* " CET", or " CET (8:00 AM EST for you)" when the prospect's zone differs: appended to the
 * meeting's time in the email (the time said on the call is in the rep's zone). */
static void zone_suffix(char *out, size_t n, const people *pp, const char *date, int start_min)
{
    int y, m, d, dst;
    out[0] = 0;
    if (!pp->has_tz || sdra_compose_date_parse(date, &y, &m, &d) < 0)
        return;
    int off = sdra_tz_offset_min(&pp->tz, y, m, d, start_min, &dst);
    char lab[24];
    zone_label(lab, sizeof lab, &pp->tz, dst);
    int k = snprintf(out, n, " %s", lab);
    if (!pp->has_contact_tz || k < 0 || (size_t)k >= n)
        return;
    /* the same instant on the prospect's clock (the offset of the rep's date is close enough
     * to pick the prospect's daylight state: changes are days apart, not minutes) */
    int cdst, coff = sdra_tz_offset_min(&pp->contact_tz, y, m, d, start_min, &cdst);
    if (coff == off && !strcmp(pp->contact_tz.name, pp->tz.name))
        return;
    int cm = start_min - off + coff, day = 0;
    while (cm < 0) {
        cm += 1440;
        day--;
    }
    while (cm >= 1440) {
        cm -= 1440;
        day++;
    }
    char tm[32], clab[24];
    sdra_compose_time_format(tm, sizeof tm, cm);
    zone_label(clab, sizeof clab, &pp->contact_tz, cdst);
    snprintf(out + k, n - (size_t)k, " (%s %s%s for you)", tm, clab,
             day < 0 ? " the day before" : day > 0 ? " the day after" : "");
}

typedef struct meeting {
    int present;
    char date[11];
    int start_min;
    int time_said; /* 0 when the hour is the documented default for the part of day */
} meeting;

/* Documented in docs/schemas/email.md: the hour used when only a part of day was agreed. */
static int default_start_min(const char *part)
{
    if (part && !strcmp(part, "afternoon"))
        return 14 * 60;
    if (part && !strcmp(part, "evening"))
        return 17 * 60;
    if (part && (!strcmp(part, "noon") || !strcmp(part, "lunch")))
        return 12 * 60;
    return 10 * 60; /* morning, or nothing said */
}

static void meeting_read(meeting *m, const json_t *a)
{
    memset(m, 0, sizeof *m);
    const json_t *nm = json_object_get(a, "next_meeting");
    const char *date = jstr(nm, "date");
    if (!json_is_object(nm) || !date || sdra_date_validate(date) < 0)
        return;
    /* "next week works": agreed, but on no day; an invite would name one nobody said. The email
       proposes a call instead, as on a call that agreed to keep talking. */
    if (json_is_true(json_object_get(nm, "approximate")))
        return;
    m->present = 1;
    sdra_strlcpy(m->date, date, sizeof m->date);
    int t = sdra_compose_time_parse(jstr(nm, "time"));
    if (t >= 0) {
        m->start_min = t;
        m->time_said = 1;
    } else {
        m->start_min = default_start_min(jstr(nm, "part_of_day"));
    }
}

static json_t *person_obj(const char *name, const char *first, const char *email,
                          const char *company)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    set_str(o, "name", name);
    set_str(o, "first_name", first && *first ? first : NULL);
    set_str(o, "email", email);
    set_str(o, "company", company);
    return o;
}

/* The prospect's pain points as {"text"} quotes: only those heard clearly and short enough
 * to quote (quotable()); the rest are left out. */
static json_t *pain_points(const json_t *a, int max_items)
{
    json_t *out = json_array();
    const json_t *arr = json_object_get(a, "pain_points");
    size_t i;
    const json_t *it;
    json_array_foreach(arr, i, it) {
        if ((int)json_array_size(out) >= max_items)
            break;
        if (json_is_true(json_object_get(it, "learned")))
            continue; /* the classifier's guess: for the rep's report, not quoted to the prospect */
        char *txt = clean(jstr(it, "text"), MAX_ITEM_BYTES);
        if (!txt)
            continue;
        drop_dangling_clause(txt);
        tidy_quote(txt);
        if (!quotable(it, txt)) { /* unclear or long: not repeated to the prospect */
            free(txt);
            continue;
        }
        int dup = 0;
        size_t k;
        json_t *o;
        json_array_foreach(out, k, o)
            if (!strcasecmp(jstr(o, "text"), txt))
                dup = 1;
        if (!dup && *txt) {
            json_t *po = json_object();
            set_str(po, "text", txt);
            json_array_append_new(out, po);
        }
        free(txt);
    }
    return out;
}

/* One item per objection type: "said" the prospect's sentence when quotable, else
 * "paraphrase" ([paraphrase] of email_words.txt); "point" only from a playbook entry cleared
 * for email; the built-in talking point goes to coaching_out (for the rep, in the report). */
/* Appends the rep's coaching for an objection type to arr. */
static void coaching(json_t *arr, const char *type, const char *label, const char *point)
{
    json_t *co = json_object();
    set_str(co, "type", type);
    set_str(co, "label", label);
    set_str(co, "point", point);
    json_array_append_new(arr, co);
}

static json_t *objections(const json_t *a, const char *tp_dir, const sdra_tp_set *playbook,
                          const wordlists *wl, int can_call, int max_items, json_t *types_out,
                          json_t *coaching_out)
{
    json_t *out = json_array();
    const json_t *arr = json_object_get(a, "objections");
    size_t i;
    const json_t *it;
    json_array_foreach(arr, i, it) {
        if ((int)json_array_size(out) >= max_items)
            break;
        const char *type = jstr(it, "type");
        if (!type)
            continue;
        int dup = 0;
        size_t k;
        json_t *o;
        json_array_foreach(out, k, o)
            if (!strcmp(jstr(o, "type"), type))
                dup = 1;
        if (dup)
            continue;
        char *said = clean(jstr(it, "text"), MAX_ITEM_BYTES);
        sentence_with(said, jstr(it, "match"));
        tidy_quote(said);
        sdra_error e = {0};
        char *tp_label = NULL, *coach = NULL;
        if (sdra_tp_battlecard(tp_dir, type, said, can_call, &tp_label, &coach, &e) < 0)
            sdra_log(SDRA_LOG_WARN, "objection '%.40s': no talking point (%s)", type, e.msg);
        if (json_is_true(json_object_get(it, "learned"))) {
            /* the classifier's guess: the rep gets the coaching, the prospect no answer to an
               objection the rules did not hear */
            if (coach)
                coaching(coaching_out, type, tp_label ? tp_label : type, coach);
            free(said);
            free(tp_label);
            free(coach);
            continue;
        }
        const char *point = sdra_tp_select_email(playbook, type, said, can_call, 1);
        if (!quotable(it, said)) {
            free(said);
            said = NULL;
        }
        json_t *ob = json_object();
        set_str(ob, "type", type);
        const char *label = tp_label ? tp_label : type;
        set_str(ob, "label", label);
        char heading[128];
        sdra_strlcpy(heading, label, sizeof heading);
        heading[0] = (char)toupper((unsigned char)heading[0]);
        set_str(ob, "heading", heading);
        set_str(ob, "said", said);
        if (!said)
            set_str(ob, "paraphrase", pair_value(&wl->paraphrase, type, strlen(type)));
        set_str(ob, "point", point);
        json_array_append_new(out, ob);
        if (coach)
            coaching(coaching_out, type, label, coach);
        json_array_append_new(types_out, json_string(type));
        free(said);
        free(tp_label);
        free(coach);
    }
    return out;
}

/* {"text": txt} with txt tidied as a list item (capital first, no trailing '.'); frees txt. */
static json_t *text_item(char *txt)
{
    tidy_item(txt);
    json_t *o = json_object();
    set_str(o, "text", txt);
    free(txt);
    return o;
}

/* One action item for the template from txt (item_text(); freed here), or NULL when it is
 * left out: empty, vague, a call proposal to a contact who opted out of calls, or (rep's
 * items) fulfilled by the attached invite itself. */
static json_t *action_item(const json_t *it, char *txt, const wordlists *wl, int can_call,
                           int is_rep, int invite_attached)
{
    if (!txt)
        return NULL;
    if ((!can_call && mentions(&wl->call, txt)) || vague_item(txt, &wl->vague) ||
        (is_rep && invite_attached && mentions(&wl->invite, txt))) {
        free(txt);
        return NULL;
    }
    json_t *o = text_item(txt);
    const char *due = jstr(it, "due");
    char long_date[64];
    if (due && sdra_compose_date_long(long_date, sizeof long_date, due) == 0) {
        set_str(o, "due", due);
        set_str(o, "due_long", long_date);
        int t = sdra_compose_time_parse(jstr(it, "due_time"));
        if (t >= 0) {
            char tm[32];
            sdra_compose_time_format(tm, sizeof tm, t);
            set_str(o, "due_time", tm);
        }
    }
    return o;
}

static void copy_due(json_t *to, const json_t *from)
{
    const char *keys[] = {"due", "due_long", "due_time"};
    for (int i = 0; i < 3; i++) {
        json_t *v = json_object_get(from, keys[i]);
        if (v)
            json_object_set(to, keys[i], v);
    }
}

/* Adds o to dst unless an item there (of the same "owner", where both have one) already says
 * the same: when o's content words are a subset of an earlier item's, o is dropped (its due
 * date kept if the other had none); when an earlier item's are a subset of o's, o replaces
 * it. Steals o. */
static void add_unique(json_t *dst, json_t *o, const words *filler, int max_items)
{
    char a[32][32], b[32][32];
    size_t na = content_words(a, 32, jstr(o, "text"), filler);
    size_t i;
    json_t *k;
    json_array_foreach(dst, i, k) {
        const char *ow = jstr(o, "owner"), *kw = jstr(k, "owner");
        if (ow && kw && strcmp(ow, kw))
            continue; /* the rep's task and the prospect's are two, whatever their words */
        size_t nb = content_words(b, 32, jstr(k, "text"), filler);
        if (subset(a, na, b, nb)) {
            if (!json_object_get(k, "due"))
                copy_due(k, o);
            json_decref(o);
            return;
        }
        if (subset(b, nb, a, na)) {
            if (!json_object_get(o, "due"))
                copy_due(o, k);
            json_array_set_new(dst, i, o);
            return;
        }
    }
    if ((int)json_array_size(dst) < max_items)
        json_array_append_new(dst, o);
    else
        json_decref(o);
}

static void actions(const json_t *a, const wordlists *wl, int can_call, int invite_attached,
                    int max_items, json_t **rep, json_t **prospect)
{
    *rep = json_array();
    *prospect = json_array();
    const json_t *arr = json_object_get(a, "action_items");
    size_t i;
    const json_t *it;
    json_array_foreach(arr, i, it) {
        const char *owner = jstr(it, "owner");
        int is_rep = !(owner && !strcmp(owner, "prospect"));
        json_t *o = action_item(it, item_text(arr, i, wl), wl, can_call, is_rep, invite_attached);
        if (o)
            add_unique(is_rep ? *rep : *prospect, o, &wl->filler, max_items);
    }
    /* the prospect's items as the email says them: "You'll check your calendar" */
    size_t k;
    json_t *o;
    json_array_foreach(*prospect, k, o) {
        char *x = strdup(jstr(o, "text") ? jstr(o, "text") : "");
        if (!x)
            continue;
        lower_first(x);
        char line[MAX_ITEM_BYTES + 16];
        snprintf(line, sizeof line, "You'll %s", x);
        set_str(o, "you_will", line);
        free(x);
    }
}

/* Rep commitments the analysis did not list: in each rep utterance of t, a [commit] phrase
 * ("I will") followed by a verb phrase (not a [not_commitment] word), up to the sentence end or
 * COMMIT_MAX_WORDS words. One already said by an item of rep is skipped; one heard unclearly
 * goes to unclear (for the rep to check) instead of into the email. */
static void transcript_commitments(const sdra_transcript *t, const json_t *a,
                                   const wordlists *wl, int can_call, int invite_attached,
                                   int max_items, json_t *rep, json_t *unclear)
{
    for (size_t u = 0; t && u < t->n_utts; u++) {
        const sdra_utterance *ut = &t->utts[u];
        if (ut->speaker < 0 || (size_t)ut->speaker >= t->n_speakers ||
            t->speakers[ut->speaker].role != SDRA_ROLE_REP || !ut->text)
            continue;
        const char *text = ut->text;
        for (const char *p = text; *p; p++) {
            if (p != text && isalnum((unsigned char)p[-1]))
                continue;
            size_t cl = 0;
            for (size_t k = 0; k < wl->commit.n && !cl; k++) {
                size_t l = strlen(wl->commit.w[k]);
                if (!strncasecmp(p, wl->commit.w[k], l) && p[l] == ' ')
                    cl = l;
            }
            if (!cl)
                continue;
            const char *b = p + cl + 1, *e = b;
            size_t n = 0;
            while (*e && !strchr(".!?;", *e) && n < COMMIT_MAX_WORDS) {
                while (*e == ' ' || *e == ',')
                    e++;
                if (!*e || strchr(".!?;", *e))
                    break;
                while (*e && !strchr(" .!?;", *e))
                    e++;
                n++;
            }
            size_t vl = strcspn(b, " .,!?;");
            if (n < 2 || in_list(&wl->not_commit, b, vl))
                continue;
            char *phrase = strndup(b, (size_t)(e - b));
            if (!phrase)
                return;
            tidy_quote(phrase);
            char cw[32][32], iw[32][32];
            size_t nc = content_words(cw, 32, phrase, &wl->filler), k;
            int covered = 0;
            json_t *o;
            json_array_foreach(rep, k, o) {
                size_t ni = content_words(iw, 32, jstr(o, "text"), &wl->filler);
                covered |= subset(iw, ni, cw, nc) || subset(cw, nc, iw, ni);
            }
            double lo, c = sdra_utterance_span_conf(ut, phrase, &lo);
            json_t *item = json_pack("{s:s, s:I}", "text", phrase, "i", (json_int_t)u);
            free(phrase);
            if (!item)
                return;
            if (c >= 0) {
                json_object_set_new(item, "conf", json_real(c));
                json_object_set_new(item, "conf_min", json_real(lo));
            }
            /* the analysis' items up to this utterance, then this one: what "it" may mean */
            json_t *one = json_array();
            size_t q;
            json_t *ai;
            json_array_foreach(json_object_get(a, "action_items"), q, ai) {
                json_t *qi = json_object_get(ai, "i");
                if (json_is_integer(qi) && json_integer_value(qi) <= (json_int_t)u)
                    json_array_append(one, ai);
            }
            json_array_append(one, item);
            if (!covered && heard_clearly(item)) {
                ai = action_item(item, one ? item_text(one, json_array_size(one) - 1, wl) : NULL,
                                 wl, can_call, 1, invite_attached);
                if (ai) { /* where it was said, for the task list (tasks()) */
                    json_object_set_new(ai, "i", json_integer((json_int_t)u));
                    json_object_set_new(ai, "start", json_real(ut->start));
                    json_object_set_new(ai, "end", json_real(ut->end));
                    add_unique(rep, ai, &wl->filler, max_items);
                }
            } else if (!covered) {
                json_array_append(unclear, json_object_get(item, "text"));
            }
            json_decref(one);
            json_decref(item);
        }
    }
}

/* Sorts arr's items by "start" in place, stably (an insertion sort: a task list is short);
 * an item without a start stays where it is. */
static void sort_by_start(json_t *arr)
{
    for (size_t k = 1; arr && k < json_array_size(arr); k++)
        for (size_t j = k; j > 0; j--) {
            json_t *x = json_array_get(arr, j - 1), *y = json_array_get(arr, j);
            const json_t *sx = json_object_get(x, "start"), *sy = json_object_get(y, "start");
            if (!json_is_number(sx) || !json_is_number(sy) || json_number_value(sx) <= json_number_value(sy))
                break;
            json_incref(x);
            json_array_set(arr, j - 1, y);
            json_array_set_new(arr, j, x);
        }
}

/* The item's fields a task keeps, where they are known. */
static void copy_known(json_t *o, const json_t *from)
{
    static const char *keep[] = {"kind", "due", "due_time", "start", "end", "i", "conf"};
    for (size_t k = 0; k < sizeof keep / sizeof keep[0]; k++) {
        json_t *v = json_object_get(from, keep[k]);
        if (v && !json_is_null(v))
            json_object_set(o, keep[k], v);
    }
}

/* One task from the email's wording of an item (not freed): [task_voice] applied; NULL when
 * it is vague ("send it" left unresolved) or on ENOMEM. */
static json_t *task_of(const char *email_words, const wordlists *wl)
{
    char *txt = email_words ? to_email_voice(email_words, 1, &wl->task_voice) : NULL;
    if (!txt || vague_item(txt, &wl->vague)) {
        free(txt);
        return NULL;
    }
    return text_item(txt);
}

/* The action items as the rep's task list says them (email.json "tasks": the CRM's tasks,
 * the report, the run summary). Each is the email's wording of the item ("send it" resolved,
 * the prospect's words turned to the email's point of view) turned once more by [task_voice]
 * so that the prospect is "them" ("check your calendar" -> "check their calendar", "send you
 * the case study" -> "send them the case study"); the same task said twice is one. Unlike
 * the email's lists nothing is left out for proposing a call or being met by the attached
 * invite: those are still the rep's to do. With one voice (sdra_compose_one_voice) every
 * task's owner is "unknown": who took it on cannot be told. NULL on ENOMEM. */
static json_t *tasks(const json_t *a, const sdra_transcript *t, const wordlists *wl)
{
    bool one_voice = sdra_compose_one_voice(a);
    json_t *out = json_array();
    const json_t *arr = json_object_get(a, "action_items");
    size_t i;
    const json_t *it;
    json_array_foreach(arr, i, it) {
        if (!out)
            break;
        char *email_words = item_text(arr, i, wl);
        json_t *o = task_of(email_words, wl);
        free(email_words);
        if (!o)
            continue;
        const char *owner = jstr(it, "owner");
        set_str(o, "owner", one_voice                              ? "unknown"
                            : owner && !strcmp(owner, "prospect") ? "prospect"
                                                                   : "rep");
        copy_known(o, it);
        if (o)
            add_unique(out, o, &wl->filler, TASKS_MAX);
    }
    /* the rep's commitments heard in the transcript that the analysis did not list ("I will
     * bring one of our engineers"), as the email has them; unclear ones are the rep's to check
     * (email.json review_reasons), not tasks */
    json_t *heard = json_array(), *unclear = json_array();
    if (out && heard && unclear)
        transcript_commitments(t, a, wl, 1, 0, TASKS_MAX, heard, unclear);
    json_t *h;
    json_array_foreach(heard, i, h) {
        json_t *o = out ? task_of(jstr(h, "text"), wl) : NULL;
        if (!o)
            continue;
        set_str(o, "owner", one_voice ? "unknown" : "rep");
        set_str(o, "kind", "commitment");
        copy_known(o, h);
        add_unique(out, o, &wl->filler, TASKS_MAX);
    }
    json_decref(heard);
    json_decref(unclear);
    sort_by_start(out); /* in the order they were said (the heard ones came last) */
    return out;
}

/* The call's outcome for the subject and opening: do_not_contact (no calls: the contact asked),
 * meeting_booked, not_interested, else follow_up. */
static const char *outcome_kind(const json_t *a, int can_call, int has_meeting)
{
    if (!can_call)
        return "do_not_contact";
    if (has_meeting)
        return "meeting_booked";
    const char *o = jstr(a, "outcome");
    if (o && strcasestr(o, "not interested"))
        return "not_interested";
    size_t i;
    const json_t *it;
    json_array_foreach(json_object_get(a, "intents"), i, it) {
        const char *ty = jstr(it, "type");
        if (ty && !strcmp(ty, "interested"))
            return "follow_up";
    }
    json_array_foreach(json_object_get(a, "intents"), i, it) {
        const char *ty = jstr(it, "type");
        if (ty && !strcmp(ty, "not_interested"))
            return "not_interested";
    }
    return "follow_up";
}

/* Appends the text of the first one or two items of list, joined by " and ". */
static void join_items(sdra_buf *b, const json_t *list, const char *key)
{
    for (size_t i = 0; i < json_array_size(list) && i < 2; i++) {
        char *x = clean(jstr(json_array_get(list, i), key), 300);
        if (!x)
            continue;
        tidy_quote(x);
        lower_first(x);
        sdra_buf_printf(b, "%s%s", i ? " and " : "", x);
        free(x);
    }
}

/* The recap: up to 5 sentences built from the facts in the context (who and the need, the
 * objections, what was agreed, who does what next), never from the transcript's words
 * beyond a quotable pain point put in the email's voice; a fact the analysis did not find
 * gets no sentence, so a call with little in it gets a short recap. NULL on ENOMEM. */
static char *build_recap(const json_t *c, const char *kind, const wordlists *wl)
{
    sdra_buf b;
    sdra_buf_init(&b, 4096);
    const char *company = json_string_value(json_object_get(c, "company"));
    /* the need: the first pain point that is one sentence (a quote is never cut here) */
    const json_t *p0 = NULL, *pp;
    size_t k;
    json_array_foreach(json_object_get(c, "pain_points"), k, pp) {
        const char *x = jstr(pp, "text");
        if (!p0 && x && !strpbrk(x, ".!?;"))
            p0 = pp;
    }
    char *need = p0 ? to_email_voice(jstr(p0, "text"), 1, &wl->voice) : NULL;
    /* "we spoke about what they need" only when the call had some substance; a call with none
     * (small talk, a prospect who had to go) gets an offer to learn more instead */
    bool substance = need || json_array_size(json_object_get(c, "pain_points")) ||
                     json_array_size(json_object_get(c, "objections")) || strcmp(kind, "follow_up") ||
                     json_is_true(json_object_get(c, "agreed_to_continue"));
    if (substance)
        sdra_buf_printf(&b, "We spoke about what %s needs.", company ? company : "your team");
    else /* the openings already say "learning more" */
        sdra_buf_printf(&b, "When you have a moment, I would like to hear what matters most to %s right now.",
                        company ? company : "your team");
    if (need) {
        lower_first(need);
        sdra_buf_printf(&b, " You told me that %s.", need);
    } /* no need heard: nothing said about it (a stock line would claim what the call lacked) */
    free(need);
    const json_t *obj = json_object_get(c, "objections");
    if (json_array_size(obj)) { /* always paraphrased here, never quoted */
        sdra_buf_puts(&b, " You also mentioned that ");
        size_t n = 0;
        for (size_t i = 0; i < json_array_size(obj) && n < 2; i++) {
            const char *ty = jstr(json_array_get(obj, i), "type");
            const char *ph = ty ? pair_value(&wl->paraphrase, ty, strlen(ty)) : NULL;
            const char *lab = jstr(json_array_get(obj, i), "label");
            if (ph)
                sdra_buf_printf(&b, "%s%s", n++ ? ", and that " : "", ph);
            else if (lab)
                sdra_buf_printf(&b, "%s%s matters to you", n++ ? ", and that " : "", lab);
        }
        sdra_buf_puts(&b, ".");
    }
    const json_t *m = json_object_get(c, "meeting");
    if (!strcmp(kind, "meeting_booked") && m)
        sdra_buf_printf(&b, " We agreed to meet again on %s.", jstr(m, "when"));
    else if (!strcmp(kind, "not_interested"))
        sdra_buf_puts(&b, " You told me this is not a priority for you right now, and I respect that.");
    else if (!strcmp(kind, "do_not_contact"))
        sdra_buf_puts(&b, " As you asked, I will only follow up in writing.");
    else if (json_is_true(json_object_get(c, "agreed_to_continue")))
        sdra_buf_puts(&b, " We agreed to keep the conversation going.");
    const json_t *ra = json_object_get(c, "rep_actions"), *pa = json_object_get(c, "prospect_actions");
    if (json_array_size(ra) || json_array_size(pa)) {
        sdra_buf_puts(&b, " Next, ");
        if (json_array_size(ra)) {
            sdra_buf_puts(&b, "I will ");
            join_items(&b, ra, "text");
        }
        if (json_array_size(pa)) {
            sdra_buf_puts(&b, json_array_size(ra) ? ", and you will " : "you will ");
            join_items(&b, pa, "text");
        }
        sdra_buf_puts(&b, ".");
    }
    return sdra_buf_detach(&b);
}

/* What build_context reports besides the template context (owned by the caller). */
typedef struct context_out {
    json_t *types;    /* objection types */
    json_t *coaching; /* built-in talking points for the rep: {type, label, point} */
    json_t *unclear;  /* rep commitments heard too unclearly to put in the email */
    const char *outcome_kind;
    size_t withheld; /* action items left out because the call has one voice (sdra_compose_one_voice) */
} context_out;

/* One speaker: a mono recording in which the diarizer found one voice (a voicemail, or two
 * voices it could not tell apart: telephone audio, docs/diarization.md), or a transcript of one
 * party. No action item can then be given to the rep or to the prospect: "please send me the
 * pricing" may be either side's request. An analysis without a speakers list says nothing
 * either way. */
bool sdra_compose_one_voice(const json_t *a)
{
    return json_array_size(json_object_get(a, "speakers")) == 1;
}

static json_t *build_context(const json_t *a, const sdra_transcript *t, const people *pp,
                             const meeting *m, const char *style, const char *call_id,
                             const char *tp_dir, const sdra_tp_set *playbook, int can_call,
                             const wordlists *wl, int max_items, context_out *co)
{
    json_t *c = json_object();
    if (!c)
        return NULL;
    set_str(c, "style", style);
    json_object_set_new(c, "contact", person_obj(pp->contact_name, pp->contact_first,
                                                 pp->contact_email, pp->company));
    json_object_set_new(c, "rep", person_obj(pp->rep_name, pp->rep_first, pp->rep_email,
                                             pp->rep_company));
    set_str(c, "company", pp->company);
    set_str(c, "greeting_name", pp->contact_first[0] ? pp->contact_first : "there");
    json_t *call = json_object();
    const char *cd = jstr(a, "call_date");
    char long_date[64];
    if (cd && sdra_compose_date_long(long_date, sizeof long_date, cd) == 0) {
        set_str(call, "date", cd);
        set_str(call, "date_long", long_date);
    }
    set_str(call, "id", call_id);
    json_object_set_new(c, "call", call);
    char *outcome = clean(jstr(a, "outcome"), 400);
    set_str(c, "outcome", outcome);
    free(outcome);

    json_t *pains = pain_points(a, max_items);
    json_object_set_new(c, "pain_points", pains);
    json_t *obj = objections(a, tp_dir, playbook, wl, can_call, max_items, co->types, co->coaching);
    json_object_set_new(c, "objections", obj);
    json_t *rep, *pro;
    actions(a, wl, can_call, m->present && can_call, max_items, &rep, &pro);
    transcript_commitments(t, a, wl, can_call, m->present && can_call, max_items, rep, co->unclear);
    if (sdra_compose_one_voice(a)) { /* nobody's items: the email promises nothing and asks for nothing */
        co->withheld = json_array_size(rep) + json_array_size(pro) + json_array_size(co->unclear);
        json_array_clear(rep);
        json_array_clear(pro);
        json_array_clear(co->unclear);
    }
    json_object_set_new(c, "rep_actions", rep);
    json_object_set_new(c, "prospect_actions", pro);
    json_object_set_new(c, "has_pain_points", json_boolean(json_array_size(pains) > 0));
    json_object_set_new(c, "has_objections", json_boolean(json_array_size(obj) > 0));
    json_object_set_new(c, "has_rep_actions", json_boolean(json_array_size(rep) > 0));
    json_object_set_new(c, "has_prospect_actions", json_boolean(json_array_size(pro) > 0));
    json_object_set_new(c, "has_actions",
                        json_boolean(json_array_size(rep) || json_array_size(pro)));
    json_t *topics = json_array();
    size_t i;
    const json_t *it;
    json_array_foreach(json_object_get(a, "topics"), i, it) {
        if ((int)json_array_size(topics) >= max_items)
            break;
        char *txt = clean(json_is_string(it) ? json_string_value(it) : jstr(it, "text"), 200);
        if (txt) {
            json_t *t = json_object();
            set_str(t, "text", txt);
            json_array_append_new(topics, t);
        }
        free(txt);
    }
    json_object_set_new(c, "topics", topics);
    json_object_set_new(c, "can_call", json_boolean(can_call));
    if (m->present && can_call) {
        json_t *mo = json_object();
        char d[64], tm[32], when[256];
        sdra_compose_date_long(d, sizeof d, m->date);
        sdra_compose_time_format(tm, sizeof tm, m->start_min);
        char zs[96];
        zone_suffix(zs, sizeof zs, pp, m->date, m->start_min);
        snprintf(when, sizeof when, "%s at %s%s", d, tm, zs);
        set_str(mo, "date", m->date);
        set_str(mo, "date_long", d);
        set_str(mo, "time", tm);
        set_str(mo, "when", when);
        json_object_set_new(mo, "time_guessed", json_boolean(!m->time_said));
        json_object_set_new(c, "meeting", mo);
    }
    const json_t *pe = json_object_get(json_object_get(a, "sentiment"), "prospect_end");
    json_object_set_new(c, "positive", json_boolean(json_is_number(pe) && json_number_value(pe) >= 0.3));
    co->outcome_kind = outcome_kind(a, can_call, m->present && can_call);
    /* "we agreed to keep the conversation going" only on evidence: the prospect's interest, or
     * something either side will do next */
    bool go_on = json_array_size(rep) || json_array_size(pro);
    json_array_foreach(json_object_get(a, "intents"), i, it) {
        const char *ty = jstr(it, "type");
        go_on |= ty && !strcmp(ty, "interested");
    }
    json_object_set_new(c, "agreed_to_continue", json_boolean(go_on));
    json_t *ok = json_object();
    json_object_set_new(ok, co->outcome_kind, json_true());
    json_object_set_new(c, "outcome_is", ok);
    set_str(c, "outcome_kind", co->outcome_kind);
    json_object_set_new(c, "propose_call",
                        json_boolean(can_call && strcmp(co->outcome_kind, "not_interested")));
    /* the analysis' summary strings quotes together: the recap replaces it */
    char *recap = build_recap(c, co->outcome_kind, wl);
    set_str(c, "recap", recap);
    set_str(c, "summary", recap);
    free(recap);
    return c;
}

/* ---- rendering -------------------------------------------------------------------------- */

/* The HTML part for templates without one: paragraphs from blank-line separated blocks. */
static int text_to_html(sdra_buf *out, const char *text)
{
    if (sdra_buf_puts(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n<p>") < 0)
        return SDRA_ELIMIT;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n == 0) {
            if (sdra_buf_puts(out, "</p>\n<p>") < 0)
                return SDRA_ELIMIT;
        } else {
            if (sdra_tmpl_html_escape(out, p, n) < 0 || sdra_buf_puts(out, "<br>\n") < 0)
                return SDRA_ELIMIT;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    return sdra_buf_puts(out, "</p>\n</body></html>\n") < 0 ? SDRA_ELIMIT : 0;
}

/* Collapses blank-line runs to one and ends the text with exactly one newline. */
static void tidy_text(sdra_buf *b)
{
    if (!b->data)
        return;
    size_t j = 0, nl_run = 0;
    char *s = b->data;
    /* skip leading newlines */
    size_t i = 0;
    while (i < b->len && (s[i] == '\n' || s[i] == '\r'))
        i++;
    for (; i < b->len; i++) {
        if (s[i] == '\r')
            continue;
        if (s[i] == '\n') {
            /* drop trailing spaces on the line */
            while (j && (s[j - 1] == ' ' || s[j - 1] == '\t'))
                j--;
            if (++nl_run > 2)
                continue;
        } else {
            nl_run = 0;
        }
        s[j++] = s[i];
    }
    while (j && (s[j - 1] == '\n' || s[j - 1] == ' '))
        j--;
    s[j++] = '\n';
    s[j] = 0;
    b->len = j;
}

/* ---- the message ------------------------------------------------------------------------ */

/* Whether s is 1..max Message-IDs "<local@domain>" separated by single spaces, each printable
 * ASCII without '<', '>' or space inside (what may go into In-Reply-To / References). */
static int msgid_list_ok(const char *s, int max)
{
    int n = 0;
    while (*s) {
        if (*s != '<' || ++n > max)
            return 0;
        const char *e = s + 1;
        while (*e > ' ' && *e < 0x7f && *e != '<' && *e != '>')
            e++;
        if (*e != '>' || e - s < 4 || !memchr(s, '@', (size_t)(e - s)) || e - s > 250)
            return 0;
        s = e + 1;
        if (*s == ' ' && s[1])
            s++;
        else if (*s)
            return 0;
    }
    return n > 0;
}

static int build_eml(sdra_buf *m, const people *pp, const char *from_addr, const char *subject,
                     const char *date, const char *msgid, const char *in_reply_to,
                     const char *references, uint64_t h, const char *text, const char *html,
                     const char *ics)
{
#define P(x)                    \
    do {                        \
        if ((x) < 0)            \
            return SDRA_ELIMIT; \
    } while (0)
    char alt[64], mixed[64];
    snprintf(alt, sizeof alt, "=_sdra_alt_%016llx", (unsigned long long)h);
    snprintf(mixed, sizeof mixed, "=_sdra_mixed_%016llx", (unsigned long long)(h ^ 0x5bd1e995u));
    int rc = sdra_mime_header_address(m, "From", pp->rep_name, from_addr);
    if (rc == SDRA_EINVAL)
        return rc;
    P(rc);
    if (pp->contact_email)
        P(sdra_mime_header_address(m, "To", pp->contact_name, pp->contact_email));
    P(sdra_mime_header_text(m, "Subject", subject));
    P(sdra_buf_printf(m, "Date: %s\r\n", date));
    P(sdra_buf_printf(m, "Message-ID: %s\r\n", msgid));
    if (in_reply_to) { /* RFC 5322 3.6.4: a reply in the thread of the previous email */
        P(sdra_buf_printf(m, "In-Reply-To: %s\r\n", in_reply_to));
        P(sdra_buf_printf(m, "References: %s\r\n", references ? references : in_reply_to));
    }
    P(sdra_buf_puts(m, "MIME-Version: 1.0\r\n"));
    if (ics) {
        P(sdra_buf_printf(m, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", mixed));
        P(sdra_buf_puts(m, "This is a multi-part message in MIME format.\r\n\r\n"));
        P(sdra_buf_printf(m, "--%s\r\n", mixed));
    }
    P(sdra_buf_printf(m, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", alt));
    if (!ics)
        P(sdra_buf_puts(m, "This is a multi-part message in MIME format.\r\n\r\n"));
    P(sdra_buf_printf(m, "--%s\r\n", alt));
    P(sdra_buf_puts(m, "Content-Type: text/plain; charset=\"utf-8\"\r\n"
                       "Content-Transfer-Encoding: quoted-printable\r\n\r\n"));
    P(sdra_mime_qp_encode(m, text, strlen(text)));
    P(sdra_buf_printf(m, "\r\n--%s\r\n", alt));
    P(sdra_buf_puts(m, "Content-Type: text/html; charset=\"utf-8\"\r\n"
                       "Content-Transfer-Encoding: quoted-printable\r\n\r\n"));
    P(sdra_mime_qp_encode(m, html, strlen(html)));
    P(sdra_buf_printf(m, "\r\n--%s--\r\n", alt));
    if (ics) {
        P(sdra_buf_printf(m, "\r\n--%s\r\n", mixed));
        P(sdra_buf_puts(m, "Content-Type: text/calendar; charset=\"utf-8\"; method=REQUEST;\r\n"
                           " name=\"invite.ics\"\r\n"
                           "Content-Transfer-Encoding: base64\r\n"
                           "Content-Disposition: attachment; filename=\"invite.ics\"\r\n\r\n"));
        P(sdra_mime_base64(m, ics, strlen(ics)));
        P(sdra_buf_printf(m, "\r\n--%s--\r\n", mixed));
    }
#undef P
    return 0;
}

static int style_known(const char *s)
{
    for (size_t i = 0; i < sizeof styles / sizeof styles[0]; i++)
        if (!strcmp(s, styles[i]))
            return 1;
    return 0;
}

/* Call id usable in Message-ID / UID as is, else a hash. */
static void id_token(char *out, size_t n, const char *call_id, const json_t *a)
{
    if (call_id && *call_id && strlen(call_id) <= 64 &&
        strspn(call_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
            strlen(call_id)) {
        snprintf(out, n, "%s", call_id);
        return;
    }
    char *dump = call_id ? NULL : json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(out, n, "h%016llx",
             (unsigned long long)sdra_mime_hash(call_id ? call_id : dump ? dump : "", 0));
    free(dump);
}

static json_t *addr_obj(const char *name, const char *email)
{
    json_t *o = json_object();
    set_str(o, "name", name);
    set_str(o, "email", email);
    return o;
}

/* The playbook: path, else <share>/playbook/playbook.txt when there is one (none is fine). */
static int load_playbook(sdra_tp_set **out, const char *path, sdra_error *err)
{
    char def[4096];
    *out = NULL;
    if (!path) {
        if (sdra_share_path(def, sizeof def, "playbook/playbook.txt") < 0)
            return sdra_error_set(err, SDRA_ELIMIT, "share path too long");
        FILE *f = fopen(def, "r");
        if (!f)
            return 0;
        fclose(f);
        path = def;
    }
    char *src = NULL;
    int rc = sdra_file_read(&src, NULL, path, 64 * 1024, err);
    if (rc == 0)
        rc = sdra_tp_parse(out, src, path, err);
    free(src);
    return rc;
}

/* "needs_review" and "review_reasons": the transcript was poor (analysis quality.poor), the
 * call has one voice (sdra_compose_one_voice: withheld action items were left out), or a commitment the rep
 * made was heard too unclearly to put in the email. */
static void set_review(json_t *doc, const json_t *a, const json_t *unclear, size_t withheld)
{
    json_t *why = json_array();
    if (json_is_true(json_object_get(json_object_get(a, "quality"), "poor")))
        json_array_append_new(why, json_string("poor transcript: many words were recognised with "
                                               "low confidence"));
    if (sdra_compose_one_voice(a)) {
        char line[300];
        snprintf(line, sizeof line, "one voice in the recording: who said what is unknown, so "
                 "the email lists no action items (%zu left out; the report has the analysis' "
                 "items); if two people spoke, run it again with --speakers 2", withheld);
        json_array_append_new(why, json_string(line));
    }
    size_t i;
    json_t *u;
    json_array_foreach(unclear, i, u) {
        char line[300];
        snprintf(line, sizeof line, "unclear rep commitment not in the email: \"%.200s\"",
                 json_string_value(u));
        json_array_append_new(why, json_string(line));
    }
    json_object_set_new(doc, "needs_review", json_boolean(json_array_size(why) > 0));
    json_object_set_new(doc, "review_reasons", why);
}

int sdra_compose(sdra_email **out, const json_t *a, const sdra_transcript *t,
                 const sdra_call_info *call, const sdra_compose_params *params, sdra_error *err)
{
    *out = NULL;
    sdra_compose_params p = params ? *params : sdra_compose_default_params();
    sdra_compose_params d = sdra_compose_default_params();
    if (!p.default_from)
        p.default_from = d.default_from;
    if (p.meeting_minutes <= 0)
        p.meeting_minutes = d.meeting_minutes;
    if (!p.max_output_bytes)
        p.max_output_bytes = d.max_output_bytes;
    if (p.max_items <= 0)
        p.max_items = d.max_items;

    if (!json_is_object(a))
        return sdra_error_set(err, SDRA_EINVAL, "analysis: not a JSON object");
    const char *schema = jstr(a, "schema");
    if (!schema || strcmp(schema, SDRA_ANALYSIS_SCHEMA_V1))
        return sdra_error_set(err, SDRA_EINVAL, "analysis: schema is '%.60s', expected '%s'",
                              schema ? schema : "(none)", SDRA_ANALYSIS_SCHEMA_V1);
    const char *style = p.style ? p.style : call && call->style ? call->style : "friendly";
    if (!style_known(style))
        return sdra_error_set(err, SDRA_EINVAL,
                              "style '%.40s' is not one of formal, friendly, concise, consultative",
                              style);

    int rc = 0;
    sdra_email *e = NULL;
    people pp;
    wordlists wl = {0};
    sdra_tmpl_file tf = {0};
    json_t *ctx = NULL, *types = NULL, *to = NULL, *coaching = NULL, *unclear = NULL;
    sdra_tp_set *playbook = NULL;
    sdra_buf subj, text, html, ics, eml;
    sdra_buf_init(&subj, p.max_output_bytes);
    sdra_buf_init(&text, p.max_output_bytes);
    sdra_buf_init(&html, p.max_output_bytes);
    sdra_buf_init(&ics, 64 * 1024);
    sdra_buf_init(&eml, p.max_output_bytes * 4 + 128 * 1024);
    rc = people_fill(&pp, a, t, call, err);
    if (rc < 0)
        goto done;

    e = calloc(1, sizeof *e);
    types = json_array();
    coaching = json_array();
    unclear = json_array();
    if (!e || !types || !coaching || !unclear) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }
    const json_t *prefs = json_object_get(a, "contact_preferences");
    int no_email = json_is_true(json_object_get(prefs, "do_not_email"));
    int can_call = !json_is_true(json_object_get(prefs, "do_not_call"));
    const char *call_id = call && call->id ? call->id : jstr(a, "call_id");
    char idtok[80];
    id_token(idtok, sizeof idtok, call_id, a);
    const char *from_addr = pp.rep_email ? pp.rep_email : p.default_from;
    const char *domain = p.msgid_domain;
    if (!domain && pp.rep_email)
        domain = strchr(pp.rep_email, '@') + 1;
    if (!domain)
        domain = "sdra.invalid";
    char msgid[256];
    snprintf(msgid, sizeof msgid, "<sdra.followup.%s@%s>", idtok, domain);
    /* Threading: the previous email to this contact, unless it is this call's own (a re-run). */
    const char *in_reply_to = p.in_reply_to && *p.in_reply_to && strcmp(p.in_reply_to, msgid) ? p.in_reply_to : NULL;
    const char *references = in_reply_to ? p.references : NULL;
    if (in_reply_to && !msgid_list_ok(in_reply_to, 1)) {
        rc = sdra_error_set(err, SDRA_EINVAL, "in-reply-to '%.100s' is not a Message-ID (<id@domain>)", in_reply_to);
        goto done;
    }
    if (references && *references && !msgid_list_ok(references, 40)) {
        rc = sdra_error_set(err, SDRA_EINVAL, "references: not a list of Message-IDs (<id@domain> ...)");
        goto done;
    }
    if (references && !*references)
        references = NULL;
    int64_t now = p.now_s ? p.now_s : (int64_t)time(NULL);
    char date[40];
    sdra_mime_date(date, now);

    e->doc = json_object();
    json_object_set_new(e->doc, "schema", json_string(SDRA_EMAIL_SCHEMA));
    if (call_id)
        json_object_set_new(e->doc, "call_id", json_string(call_id));
    json_object_set_new(e->doc, "style", json_string(style));
    json_object_set_new(e->doc, "template",
                        json_string(p.template_path ? p.template_path : style));
    if ((rc = load_wordlists(&wl, err)) < 0)
        goto done;
    json_object_set_new(e->doc, "tasks", tasks(a, t, &wl)); /* also when no email is written */
    to = json_array();
    if (pp.contact_email)
        json_array_append_new(to, addr_obj(pp.contact_name, pp.contact_email));
    if (no_email) {
        e->skipped = strdup(SKIP_NO_EMAIL);
        json_object_set_new(e->doc, "skipped", json_string(SKIP_NO_EMAIL));
        json_object_set_new(e->doc, "to", to);
        to = NULL;
        json_object_set_new(e->doc, "subject", json_null());
        json_object_set_new(e->doc, "text", json_null());
        json_object_set_new(e->doc, "html", json_null());
        json_object_set_new(e->doc, "attachments", json_array());
        if (!e->skipped) {
            rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
            goto done;
        }
        goto done;
    }
    json_object_set_new(e->doc, "skipped", json_null());

    /* template */
    char path[4096], tp_dir[4096];
    if (p.template_path) {
        sdra_strlcpy(path, p.template_path, sizeof path);
    } else {
        char rel[64];
        snprintf(rel, sizeof rel, "templates/%s.tmpl", style);
        if (sdra_share_path(path, sizeof path, rel) < 0) {
            rc = sdra_error_set(err, SDRA_ELIMIT, "share path too long");
            goto done;
        }
    }
    if (p.talking_points_dir)
        sdra_strlcpy(tp_dir, p.talking_points_dir, sizeof tp_dir);
    else if (sdra_share_path(tp_dir, sizeof tp_dir, "talking_points") < 0) {
        rc = sdra_error_set(err, SDRA_ELIMIT, "share path too long");
        goto done;
    }
    if ((rc = sdra_tmpl_file_load(&tf, path, err)) < 0)
        goto done;
    if ((rc = load_playbook(&playbook, p.playbook_path, err)) < 0)
        goto done;

    meeting m;
    meeting_read(&m, a);
    context_out co = {.types = types, .coaching = coaching, .unclear = unclear};
    ctx = build_context(a, t, &pp, &m, style, call_id, tp_dir, playbook, can_call, &wl,
                        p.max_items, &co);
    if (!ctx) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = sdra_tmpl_render(tf.subject, ctx, 0, &subj, err)) < 0 ||
        (rc = sdra_tmpl_render(tf.text, ctx, 0, &text, err)) < 0)
        goto done;
    tidy_text(&text);
    if (tf.html)
        rc = sdra_tmpl_render(tf.html, ctx, 1, &html, err);
    else if (text_to_html(&html, text.data ? text.data : "") < 0)
        rc = sdra_error_set(err, SDRA_ELIMIT, "html part larger than %zu bytes", p.max_output_bytes);
    if (rc < 0)
        goto done;
    char *subject = clean(subj.data ? subj.data : "", 400);
    if (!subject)
        subject = strdup("Following up on our call");
    if (!subject) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }

    json_t *attachments = json_array();
    json_t *mdoc = json_null();
    if (m.present && can_call) {
        char uid[256], summary[400], desc[600], cd_long[64] = "";
        snprintf(uid, sizeof uid, "sdra.meeting.%s@%s", idtok, domain);
        const char *who = pp.company ? pp.company : pp.contact_name;
        const char *us = pp.rep_company ? pp.rep_company : pp.rep_name;
        if (who && us)
            snprintf(summary, sizeof summary, "Follow-up: %s and %s", who, us);
        else
            snprintf(summary, sizeof summary, "Follow-up call%s%s", who || us ? " with " : "",
                     who ? who : us ? us : "");
        const char *cd = jstr(a, "call_date");
        if (cd)
            sdra_compose_date_long(cd_long, sizeof cd_long, cd);
        snprintf(desc, sizeof desc, "As agreed on our call%s%s.%s", cd_long[0] ? " of " : "",
                 cd_long, m.time_said ? "" : " The time is a placeholder; reply to move it.");
        sdra_ical_event ev = {.uid = uid, .dtstamp_s = now, .date = m.date,
                              .start_min = m.start_min, .duration_min = p.meeting_minutes,
                              .summary = summary, .description = desc,
                              .organizer_name = pp.rep_name, .organizer_email = from_addr,
                              .attendee_name = pp.contact_name,
                              .attendee_email = pp.contact_email,
                              .tz = pp.has_tz ? &pp.tz : NULL};
        if ((rc = sdra_ical_invite(&ics, &ev, err)) < 0) {
            free(subject);
            json_decref(attachments);
            goto done;
        }
        json_t *att = json_object();
        set_str(att, "name", "invite.ics");
        set_str(att, "content_type", "text/calendar; method=REQUEST");
        json_array_append_new(attachments, att);
        mdoc = json_object();
        char start[32];
        snprintf(start, sizeof start, "%sT%02d:%02d:00", m.date, m.start_min / 60, m.start_min % 60);
        set_str(mdoc, "date", m.date);
        set_str(mdoc, "start", start);
        if (pp.has_tz)
            set_str(mdoc, "timezone", pp.tz.name);
        json_object_set_new(mdoc, "duration_min", json_integer(p.meeting_minutes));
        set_str(mdoc, "time_source", m.time_said ? "said" : "default_for_part_of_day");
        set_str(mdoc, "uid", uid);
    }

    rc = build_eml(&eml, &pp, from_addr, subject, date, msgid, in_reply_to, references,
                   sdra_mime_hash(idtok, 0x7365), text.data ? text.data : "\n",
                   html.data ? html.data : "", ics.len ? ics.data : NULL);
    if (rc < 0) {
        rc = rc == SDRA_EINVAL ? sdra_error_set(err, rc, "from address '%.100s' is not an address",
                                                from_addr)
                               : sdra_error_set(err, rc, "email larger than the output limit");
        free(subject);
        json_decref(attachments);
        json_decref(mdoc);
        goto done;
    }
    json_object_set_new(e->doc, "from", addr_obj(pp.rep_name, from_addr));
    json_object_set_new(e->doc, "to", to);
    to = NULL;
    json_object_set_new(e->doc, "cc", json_array());
    json_object_set_new(e->doc, "subject", json_string(subject));
    free(subject);
    json_object_set_new(e->doc, "date", json_string(date));
    json_object_set_new(e->doc, "message_id", json_string(msgid));
    if (in_reply_to)
        json_object_set_new(e->doc, "in_reply_to", json_string(in_reply_to));
    json_object_set_new(e->doc, "text", json_string(text.data ? text.data : ""));
    json_object_set_new(e->doc, "html", json_string(html.data ? html.data : ""));
    json_object_set_new(e->doc, "attachments", attachments);
    json_object_set_new(e->doc, "meeting", mdoc);
    json_t *pers = json_object();
    json_object_set_new(pers, "pain_points",
                        json_integer((json_int_t)json_array_size(json_object_get(ctx, "pain_points"))));
    json_object_set_new(pers, "objections", json_incref(types));
    json_object_set_new(pers, "rep_actions",
                        json_integer((json_int_t)json_array_size(json_object_get(ctx, "rep_actions"))));
    json_object_set_new(pers, "prospect_actions",
                        json_integer((json_int_t)json_array_size(json_object_get(ctx, "prospect_actions"))));
    json_object_set_new(pers, "can_call", json_boolean(can_call));
    json_object_set_new(e->doc, "personalization", pers);
    json_object_set_new(e->doc, "outcome", json_string(co.outcome_kind));
    json_object_set(e->doc, "recap", json_object_get(ctx, "recap"));
    json_object_set_new(e->doc, "coaching", json_incref(coaching));
    set_review(e->doc, a, unclear, co.withheld);
    e->eml = sdra_buf_detach(&eml);
    if (ics.len)
        e->ics = sdra_buf_detach(&ics);
    if (!e->eml || (ics.len && !e->ics))
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    if (!pp.contact_email)
        sdra_log(SDRA_LOG_INFO, "compose: no contact email known; the message has no To");
done:
    json_decref(to);
    if (rc == 0 && e && !e->doc)
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    if (rc < 0) {
        sdra_email_destroy(e);
        e = NULL;
    }
    *out = e;
    json_decref(ctx);
    json_decref(types);
    json_decref(coaching);
    json_decref(unclear);
    sdra_tp_destroy(playbook);
    sdra_tmpl_file_release(&tf);
    free(wl.data);
    free(wl.data2);
    people_release(&pp);
    sdra_buf_release(&subj);
    sdra_buf_release(&text);
    sdra_buf_release(&html);
    sdra_buf_release(&ics);
    sdra_buf_release(&eml);
    return rc;
}

/* ---- files ------------------------------------------------------------------------------ */

static int write_or_remove(const char *dir, const char *name, const char *data, sdra_error *err)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", dir);
    if (data)
        return sdra_file_write_atomic(path, data, strlen(data), err);
    if (remove(path) < 0 && errno != ENOENT)
        return sdra_error_set(err, SDRA_EIO, "%s: cannot remove stale file", path);
    return 0;
}

int sdra_email_write_dir(const sdra_email *e, const char *dir, sdra_error *err)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/email.json", dir) >= sizeof path)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", dir);
    int rc = write_or_remove(dir, "email.eml", e->eml, err);
    if (rc == 0)
        rc = write_or_remove(dir, "invite.ics", e->ics, err);
    /* email.json last: its presence marks the stage done */
    if (rc == 0)
        rc = sdra_json_write_file(path, e->doc, err);
    return rc;
}
