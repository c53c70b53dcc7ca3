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
    char *data;
    words call, invite, filler, vague;
} wordlists;

static int load_wordlists(wordlists *wl, sdra_error *err)
{
    memset(wl, 0, sizeof *wl);
    char path[4096];
    if (sdra_share_path(path, sizeof path, "compose/action_words.txt") < 0)
        return sdra_error_set(err, SDRA_ELIMIT, "share path too long");
    int rc = sdra_file_read(&wl->data, NULL, path, 32 * 1024, err);
    if (rc < 0)
        return rc;
    words *cur = NULL;
    int line_no = 0;
    char *save = NULL;
    for (char *line = strtok_r(wl->data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
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

/* ---- context ---------------------------------------------------------------------------- */

typedef struct people {
    char *contact_name, *contact_email, *company;
    char *rep_name, *rep_email, *rep_company;
    char contact_first[64], rep_first[64];
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
    return 0;
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

/* Lists of {"text": ...} items from an array of objects with a "text" field; prospect's words
 * only when speaker roles are known. */
static json_t *pain_points(const json_t *a, int max_items)
{
    json_t *out = json_array();
    const json_t *arr = json_object_get(a, "pain_points");
    size_t i;
    const json_t *it;
    json_array_foreach(arr, i, it) {
        if ((int)json_array_size(out) >= max_items)
            break;
        char *txt = clean(jstr(it, "text"), MAX_ITEM_BYTES);
        if (!txt)
            continue;
        drop_dangling_clause(txt);
        tidy_quote(txt);
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

static json_t *objections(const json_t *a, const char *tp_dir, int can_call, int max_items,
                          json_t *types_out)
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
        sdra_error e = {0};
        sdra_tp_set *tp = NULL;
        int rc = sdra_tp_load(&tp, tp_dir, type, &e);
        if (rc == SDRA_ENOTFOUND)
            rc = sdra_tp_load(&tp, tp_dir, "general", &e);
        if (rc < 0)
            sdra_log(SDRA_LOG_WARN, "objection '%.40s': no talking point (%s)", type, e.msg);
        char *said = clean(jstr(it, "text"), MAX_ITEM_BYTES);
        sentence_with(said, jstr(it, "match"));
        tidy_quote(said);
        const char *point = sdra_tp_select(tp, said, can_call);
        json_t *ob = json_object();
        set_str(ob, "type", type);
        const char *label = sdra_tp_label(tp) ? sdra_tp_label(tp) : type;
        set_str(ob, "label", label);
        char heading[128];
        sdra_strlcpy(heading, label, sizeof heading);
        heading[0] = (char)toupper((unsigned char)heading[0]);
        set_str(ob, "heading", heading);
        set_str(ob, "said", said);
        set_str(ob, "point", point);
        json_array_append_new(out, ob);
        json_array_append_new(types_out, json_string(type));
        free(said);
        sdra_tp_destroy(tp);
    }
    return out;
}

/* One action item for the template, or NULL when it is left out: empty, vague, a call
 * proposal to a contact who opted out of calls, or (rep's items) fulfilled by the attached
 * invite itself. */
static json_t *action_item(const json_t *it, const wordlists *wl, int can_call, int is_rep,
                           int invite_attached)
{
    char *txt = clean(jstr(it, "text"), MAX_ITEM_BYTES);
    if (!txt)
        return NULL;
    if ((!can_call && mentions(&wl->call, txt)) || vague_item(txt, &wl->vague) ||
        (is_rep && invite_attached && mentions(&wl->invite, txt))) {
        free(txt);
        return NULL;
    }
    tidy_item(txt);
    json_t *o = json_object();
    set_str(o, "text", txt);
    free(txt);
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

/* Adds o to dst unless an item there already says the same: when o's content words are a
 * subset of an earlier item's, o is dropped (its due date kept if the other had none); when
 * an earlier item's are a subset of o's, o replaces it. Steals o. */
static void add_unique(json_t *dst, json_t *o, const words *filler, int max_items)
{
    char a[32][32], b[32][32];
    size_t na = content_words(a, 32, jstr(o, "text"), filler);
    size_t i;
    json_t *k;
    json_array_foreach(dst, i, k) {
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
        json_t *o = action_item(it, wl, can_call, is_rep, invite_attached);
        if (o)
            add_unique(is_rep ? *rep : *prospect, o, &wl->filler, max_items);
    }
}

static json_t *build_context(const json_t *a, const people *pp, const meeting *m,
                             const char *style, const char *call_id, const char *tp_dir,
                             int can_call, const wordlists *wl, int max_items, json_t *types_out)
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
    char *summary = clean(jstr(a, "summary"), 2000), *outcome = clean(jstr(a, "outcome"), 400);
    set_str(c, "summary", summary);
    set_str(c, "outcome", outcome);
    free(summary);
    free(outcome);

    json_t *pains = pain_points(a, max_items);
    json_object_set_new(c, "pain_points", pains);
    json_t *obj = objections(a, tp_dir, can_call, max_items, types_out);
    json_object_set_new(c, "objections", obj);
    json_t *rep, *pro;
    actions(a, wl, can_call, m->present && can_call, max_items, &rep, &pro);
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
        char d[64], tm[32], when[128];
        sdra_compose_date_long(d, sizeof d, m->date);
        sdra_compose_time_format(tm, sizeof tm, m->start_min);
        snprintf(when, sizeof when, "%s at %s", d, tm);
        set_str(mo, "date", m->date);
        set_str(mo, "date_long", d);
        set_str(mo, "time", tm);
        set_str(mo, "when", when);
        json_object_set_new(mo, "time_guessed", json_boolean(!m->time_said));
        json_object_set_new(c, "meeting", mo);
    }
    const json_t *pe = json_object_get(json_object_get(a, "sentiment"), "prospect_end");
    json_object_set_new(c, "positive", json_boolean(json_is_number(pe) && json_number_value(pe) >= 0.3));
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

static int build_eml(sdra_buf *m, const people *pp, const char *from_addr, const char *subject,
                     const char *date, const char *msgid, uint64_t h, const char *text,
                     const char *html, const char *ics)
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
    json_t *ctx = NULL, *types = NULL, *to = NULL;
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
    if (!e || !types) {
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
    if ((rc = load_wordlists(&wl, err)) < 0)
        goto done;

    meeting m;
    meeting_read(&m, a);
    ctx = build_context(a, &pp, &m, style, call_id, tp_dir, can_call, &wl, p.max_items, types);
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
                              .attendee_email = pp.contact_email};
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
        json_object_set_new(mdoc, "duration_min", json_integer(p.meeting_minutes));
        set_str(mdoc, "time_source", m.time_said ? "said" : "default_for_part_of_day");
        set_str(mdoc, "uid", uid);
    }

    rc = build_eml(&eml, &pp, from_addr, subject, date, msgid,
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
    sdra_tmpl_file_release(&tf);
    free(wl.data);
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
