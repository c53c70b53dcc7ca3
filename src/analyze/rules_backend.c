/*
 * rules_backend.c - the "rules" analysis backend: everything in sdra.analysis/1 computed from
 * the transcript with the patterns and lexicons of data/analyze/ (see docs/analysis.md).
 *
 * Order of work: tokenize every utterance; decide who is the rep (transcript roles, else the
 * rep name, else rep cues such as "calling from", else the first speaker) and treat every
 * other speaker as the prospect; run all patterns once over all tokens; then turn matches into
 * findings (intents, objections, pain points, action items, meetings, contact preferences),
 * each with its evidence (utterance index, speaker, time, words), and add sentiment, topics,
 * talk metrics, an extractive summary and a one-line outcome. Deterministic: the same input
 * gives the same document.
 */
#include "rules_ctx.h"
#include "sdra/buf.h"
#include "sdra/log.h"
#include "sdra/util.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_MATCHES 2000000

/* Copies text[b, e) into a JSON string, capped at EVIDENCE_MAX_CHARS (cut on a space). */
json_t *an_span_str(const char *text, size_t b, size_t e)
{
    size_t len = strlen(text);
    if (e > len)
        e = len;
    if (b > e)
        b = e;
    size_t n = e - b;
    if (n > EVIDENCE_MAX_CHARS) {
        n = EVIDENCE_MAX_CHARS;
        while (n > 0 && text[b + n] != ' ')
            n--;
        if (n == 0)
            n = EVIDENCE_MAX_CHARS;
    }
    /* keep valid UTF-8: do not end inside a multi-byte sequence */
    while (n > 0 && ((unsigned char)text[b + n] & 0xC0) == 0x80)
        n--;
    return json_stringn(text + b, n);
}

json_t *an_utt_text(const sdra_utterance *u) { return an_span_str(u->text ? u->text : "", 0, SIZE_MAX); }

static const char *speaker_id(const actx *c, int u) { return c->t->speakers[c->t->utts[u].speaker].id; }

/* The evidence fields every finding carries. */
void an_evidence(json_t *o, const actx *c, int u)
{
    const sdra_utterance *ut = &c->t->utts[u];
    json_object_set_new(o, "speaker", json_string(speaker_id(c, u)));
    json_object_set_new(o, "role", json_string(sdra_role_name(c->v[u].role)));
    json_object_set_new(o, "start", json_real(an_r3(ut->start)));
    json_object_set_new(o, "end", json_real(an_r3(ut->end)));
    json_object_set_new(o, "i", json_integer(u));
}

json_t *an_match_words(const actx *c, const match *mm)
{
    const uview *v = &c->v[mm->u];
    return an_span_str(c->t->utts[mm->u].text, v->toks[mm->begin].begin, v->toks[mm->end - 1].end);
}

/* ---- roles --------------------------------------------------------------------------------- */

static int resolve_roles(actx *c)
{
    const sdra_transcript *t = c->t;
    size_t ns = t->n_speakers;
    c->roles = calloc(ns ? ns : 1, sizeof *c->roles);
    if (!c->roles)
        return sdra_error_set(c->err, SDRA_ENOMEM, "out of memory");
    int rep = -1;
    for (size_t s = 0; s < ns; s++)
        if (t->speakers[s].role == SDRA_ROLE_REP)
            rep = (int)s;
    if (rep < 0 && c->p->rep_name && *c->p->rep_name) {
        size_t rl = strlen(c->p->rep_name);
        for (size_t s = 0; s < ns && rep < 0; s++) {
            const char *nm = t->speakers[s].name;
            if (nm && (!strcasecmp(nm, c->p->rep_name) ||
                       (!strncasecmp(nm, c->p->rep_name, rl) && nm[rl] == ' ')))
                rep = (int)s;
        }
    }
    if (rep < 0) {
        /* all known prospects and one unknown speaker: the unknown one is the rep */
        int unknown = -1, n_unknown = 0;
        for (size_t s = 0; s < ns; s++)
            if (t->speakers[s].role == SDRA_ROLE_UNKNOWN)
                unknown = (int)s, n_unknown++;
        if (n_unknown == 1 && ns > 1)
            rep = unknown;
    }
    if (rep < 0) {
        /* rep cues ("calling from", "our platform"): the speaker who says most of them */
        int *cues = calloc(ns ? ns : 1, sizeof *cues);
        if (!cues)
            return sdra_error_set(c->err, SDRA_ENOMEM, "out of memory");
        for (size_t k = 0; k < c->n_m; k++)
            if (!strcmp(c->m[k].rule->category, "rep"))
                cues[t->utts[c->m[k].u].speaker]++;
        int best = -1;
        for (size_t s = 0; s < ns; s++)
            if (cues[s] > 0 && (best < 0 || cues[s] > cues[best]))
                best = (int)s;
        free(cues);
        rep = best >= 0 ? best : (t->n_utts ? t->utts[0].speaker : 0);
    }
    for (size_t s = 0; s < ns; s++)
        c->roles[s] = (int)s == rep ? SDRA_ROLE_REP : SDRA_ROLE_PROSPECT;
    return 0;
}

/* ---- pass 1: tokens and matches ------------------------------------------------------------ */

static int add_match(actx *c, int u, const an_rule *rule, int b, int e, int cap)
{
    if (c->n_m == c->cap_m) {
        size_t nc = c->cap_m ? c->cap_m * 2 : 256;
        if (nc > MAX_MATCHES)
            return sdra_error_set(c->err, SDRA_ELIMIT, "transcript: too many rule matches");
        match *p = realloc(c->m, nc * sizeof *p);
        if (!p)
            return sdra_error_set(c->err, SDRA_ENOMEM, "out of memory");
        c->m = p;
        c->cap_m = nc;
    }
    c->m[c->n_m++] = (match){u, rule, b, e, cap};
    return 0;
}

bool an_has_match(const actx *c, int u, const char *cat, const char *label)
{
    const uview *v = &c->v[u];
    for (size_t k = v->m_first; k < v->m_first + v->m_count; k++)
        if (c->m[k].u == u && !strcmp(c->m[k].rule->category, cat) &&
            (!label || !strcmp(c->m[k].rule->label, label)))
            return true;
    return false;
}

static int tokenize_all(actx *c)
{
    const sdra_transcript *t = c->t;
    an_tok *scratch = malloc(sizeof *scratch * AN_MAX_TOKENS);
    c->v = calloc(t->n_utts, sizeof *c->v);
    if (!scratch || !c->v) {
        free(scratch);
        return sdra_error_set(c->err, SDRA_ENOMEM, "out of memory");
    }
    for (size_t u = 0; u < t->n_utts; u++) {
        int n = an_tokenize(t->utts[u].text ? t->utts[u].text : "", scratch, AN_MAX_TOKENS);
        c->v[u].n = n;
        if (n) {
            c->v[u].toks = malloc(sizeof *scratch * (size_t)n);
            if (!c->v[u].toks) {
                free(scratch);
                return sdra_error_set(c->err, SDRA_ENOMEM, "out of memory");
            }
            memcpy(c->v[u].toks, scratch, sizeof *scratch * (size_t)n);
        }
    }
    free(scratch);
    return 0;
}

static int match_all(actx *c)
{
    size_t nr = c->rules.n_rules;
    unsigned char(*masks)[32] = malloc(32 * (nr ? nr : 1));
    bool *has_mask = malloc(nr ? nr : 1);
    if (!masks || !has_mask) {
        free(masks);
        free(has_mask);
        return sdra_error_set(c->err, SDRA_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < nr; k++)
        has_mask[k] = an_rule_first_mask(&c->rules, &c->rules.rules[k], masks[k]);
    int rc = 0;
    for (size_t u = 0; u < c->t->n_utts && rc == 0; u++) {
        uview *v = &c->v[u];
        v->m_first = c->n_m;
        for (int i = 0; i < v->n && rc == 0; i++)
            for (size_t k = 0; k < nr; k++) {
                unsigned char ch = (unsigned char)v->toks[i].w[0];
                if (has_mask[k] && !(masks[k][ch >> 3] & (1u << (ch & 7))))
                    continue;
                const an_rule *rule = &c->rules.rules[k];
                int cap;
                int e = an_rule_match_at(&c->rules, rule, v->toks, v->n, i, &cap);
                if (e > i && (rc = add_match(c, (int)u, rule, i, e, cap)) < 0)
                    break;
            }
        v->m_count = c->n_m - v->m_first;
    }
    free(masks);
    free(has_mask);
    return rc;
}

/* Does utterance u answer a proposed slot: a meeting decline, or an accept of two words or
 * more (a bare "yes" answers anything)? */
static bool slot_reply(const actx *c, int u)
{
    const uview *v = &c->v[u];
    for (size_t k = v->m_first; k < v->m_first + v->m_count; k++) {
        const match *mm = &c->m[k];
        if (strcmp(mm->rule->category, "meeting") || !an_rule_ok(c, mm))
            continue;
        if (!strcmp(mm->rule->label, "decline") || (!strcmp(mm->rule->label, "accept") && mm->end - mm->begin >= 2))
            return true;
    }
    return false;
}

bool an_punctuated(const uview *v)
{
    for (int k = 0; k < v->n - 1; k++)
        if (v->toks[k].flags & (AN_TOK_SENT_END | AN_TOK_CLAUSE_END))
            return true;
    return false;
}

bool an_slot_asked(const uview *v)
{
    if (!an_punctuated(v))
        return v->question;
    for (int k = 0; k < v->n; k++)
        if (v->toks[k].begin >= v->date.begin)
            return v->toks[an_sentence_end(v, k)].flags & AN_TOK_QMARK;
    return false;
}

/* Per-utterance facts: question, date expression, meeting context. */
static void utterance_facts(actx *c)
{
    for (size_t u = 0; u < c->t->n_utts; u++) {
        uview *v = &c->v[u];
        v->role = c->roles[c->t->utts[u].speaker];
        for (int i = 0; i < v->n; i++)
            if (v->toks[i].flags & AN_TOK_QMARK)
                v->question = true;
    }
    for (size_t u = 0; u < c->t->n_utts; u++)
        an_choose_date(c, (int)u);
    for (size_t k = 0; k < c->n_m; k++) {
        const match *mm = &c->m[k];
        if (!strcmp(mm->rule->category, "question"))
            c->v[mm->u].question = true;
        if (!strcmp(mm->rule->category, "meeting") && !strcmp(mm->rule->label, "propose"))
            c->v[mm->u].meeting_ctx = true;
    }
    for (size_t u = 0; u < c->t->n_utts; u++) {
        uview *v = &c->v[u];
        /* a day or time with a scheduling word; "do you have a minute to talk today" is
           about now, not a meeting: today counts only with a time or part of day */
        bool slot = v->has_date && (v->date.time[0] || (v->date.date[0] && strcmp(v->date.date, c->p->call_date)) ||
                                    (v->date.date[0] && v->date.part_of_day[0]));
        if (slot && an_has_match(c, (int)u, "meeting", "word"))
            v->meeting_ctx = true;
        if (v->has_date && (v->date.time[0] || v->date.part_of_day[0]) && v->question)
            v->meeting_ctx = true; /* "tomorrow at ten?", "Tuesday afternoon?" */
        v->score = an_sentiment(&c->rules, c->t->utts[u].text, v->toks, v->n);
    }
    /* a day the rep asks about ("Next Tuesday maybe?", "Wednesday the 22nd?") that the
       prospect answers as a slot, turning it down or taking it in more than a word ("Next
       week's no good", "Yeah, I can do that"), was a proposal; not an offer to get back in
       touch ("Shall I follow up at the end of next week?" - "That's fine") */
    for (size_t u = 0; u + 1 < c->t->n_utts; u++) {
        uview *v = &c->v[u];
        if (v->meeting_ctx || !v->question || !v->has_date || v->date_bound || !v->date.date[0] ||
            !strcmp(v->date.date, c->p->call_date) || v->role != SDRA_ROLE_REP ||
            c->v[u + 1].role != SDRA_ROLE_PROSPECT)
            continue;
        bool recontact = false;
        for (int i = 0; i < v->n && !recontact; i++)
            recontact = an_in_class(&c->rules, "recontact", v->toks[i].w);
        if (!recontact && slot_reply(c, (int)u + 1))
            v->meeting_ctx = true;
    }
}

/* "!day": does the match's sentence name a day other than the call date, or a clock time,
 * within 3 words of it ("I'm busy on Tuesday", "in meetings all day Thursday", "8:30 we're
 * slammed": a scheduling remark, not a brush-off)? */
static bool names_other_slot(const actx *c, const match *mm)
{
    const uview *v = &c->v[mm->u];
    int from = mm->begin > 3 ? mm->begin - 3 : 0;
    for (int i = mm->begin - 1; i >= from; i--)
        if (v->toks[i].flags & AN_TOK_SENT_END) {
            from = i + 1;
            break;
        }
    sdra_date_match dm;
    int tb, te;
    while (from < v->n && an_date_find(&dm, v->toks, v->n, from, c->anchor, &tb, &te) == 1 && tb <= mm->end + 2) {
        bool crossed = false;
        for (int i = mm->end - 1; i < tb && !crossed; i++)
            crossed = (v->toks[i].flags & AN_TOK_SENT_END) != 0;
        if (!crossed && ((dm.date[0] && strcmp(dm.date, c->p->call_date)) || dm.time[0]))
            return true; /* another day, or a clock time ("8:30 we're slammed, 9:45 would be better") */
        from = te > tb ? te : tb + 1;
    }
    return false;
}

/* Does the rule's context condition hold at utterance u? */
bool an_rule_ok(const actx *c, const match *mm)
{
    const uview *v = &c->v[mm->u];
    int f = mm->rule->flags;
    if ((f & AN_FLAG_QONLY) && !v->question)
        return false;
    if ((f & AN_FLAG_NOQ) && v->question)
        return false;
    if ((f & AN_FLAG_NODAY) && names_other_slot(c, mm))
        return false;
    if (f & AN_FLAG_CTX_MEETING) {
        bool ok = false;
        for (int u = mm->u; u >= 0 && u >= mm->u - 3 && !ok; u--)
            ok = c->v[u].meeting_ctx;
        if (!ok)
            return false;
    }
    return true;
}

/* Like seen() for arrays filled in utterance order: only the tail with the same utterance is
 * looked at, which keeps long calls linear. */
static bool seen_tail(json_t *arr, int u, const char *key, const char *label)
{
    for (size_t i = json_array_size(arr); i-- > 0;) {
        json_t *o = json_array_get(arr, i);
        if (json_integer_value(json_object_get(o, "i")) != u)
            return false;
        if (!strcmp(json_string_value(json_object_get(o, key)), label))
            return true;
    }
    return false;
}

static bool seen(json_t *arr, int u, const char *key, const char *label)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        if (json_integer_value(json_object_get(o, "i")) == u &&
            !strcmp(json_string_value(json_object_get(o, key)), label))
            return true;
    }
    return false;
}

/* ---- findings ------------------------------------------------------------------------------ */

/* Is an objection of this type at token i of utterance u the speaker's own errand rather than
 * pushback? Objection types of the class @errand (security, legal, ...) are named by nouns,
 * and a sentence in which the speaker commits to something ("I'll send you our security
 * questionnaire", "I'll introduce you to Helen in procurement") names them as the errand; for
 * the types of @errand_asked a request does too ("send me two or three references"). */
bool an_objection_is_errand(const actx *c, int u, int i, const char *type)
{
    if (!an_in_class(&c->rules, "errand", type))
        return false;
    bool asked = an_in_class(&c->rules, "errand_asked", type);
    const uview *v = &c->v[u];
    int b = an_sentence_start(v, i), e = an_sentence_end(v, i);
    for (size_t k = v->m_first; k < v->m_first + v->m_count; k++) {
        const match *mm = &c->m[k];
        if (!strcmp(mm->rule->category, "action") && (strcmp(mm->rule->label, "request") || asked) &&
            mm->begin <= e && mm->end > b && an_rule_ok(c, mm))
            return true;
    }
    return false;
}

static json_t *find_labelled(actx *c, const char *cat, bool prospect_only)
{
    json_t *arr = json_array();
    for (size_t k = 0; k < c->n_m; k++) {
        const match *mm = &c->m[k];
        if (strcmp(mm->rule->category, cat) || (prospect_only && c->v[mm->u].role != SDRA_ROLE_PROSPECT))
            continue;
        if (!an_rule_ok(c, mm) || seen_tail(arr, mm->u, "type", mm->rule->label))
            continue;
        if (!strcmp(cat, "objection") && an_objection_is_errand(c, mm->u, mm->begin, mm->rule->label))
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "type", json_string(mm->rule->label));
        an_evidence(o, c, mm->u);
        json_object_set_new(o, "text", an_utt_text(&c->t->utts[mm->u]));
        json_object_set_new(o, "match", an_match_words(c, mm));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* The first token of the sentence that token i of v is in. */
int an_sentence_start(const uview *v, int i)
{
    while (i > 0 && !(v->toks[i].flags & AN_TOK_SENT_START))
        i--;
    return i;
}

/* The last token of the sentence that token i of v is in. */
int an_sentence_end(const uview *v, int i)
{
    while (i < v->n - 1 && !(v->toks[i].flags & AN_TOK_SENT_END))
        i++;
    return i;
}

/* Does a rule of category cat hold in toks[b, e) of utterance u? */
bool an_rule_in(const actx *c, int u, const char *cat, int b, int e)
{
    const uview *v = &c->v[u];
    for (size_t k = v->m_first; k < v->m_first + v->m_count; k++) {
        const match *mm = &c->m[k];
        if (!strcmp(mm->rule->category, cat) && mm->begin < e && mm->end > b && an_rule_ok(c, mm))
            return true;
    }
    return false;
}

static json_t *find_objections(actx *c)
{
    json_t *arr = find_labelled(c, "objection", true);
    an_learned_objections(c, arr);
    return arr;
}

static void add_intent(actx *c, json_t *arr, int u, const char *type, const match *mm)
{
    if (seen(arr, u, "type", type))
        return;
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(type));
    an_evidence(o, c, u);
    json_object_set_new(o, "text", an_utt_text(&c->t->utts[u]));
    json_object_set_new(o, "match", mm ? an_match_words(c, mm) : an_utt_text(&c->t->utts[u]));
    json_array_append_new(arr, o);
}

/* intents, with agree_to_meeting from meeting.accept near a proposal by the other side (and
   from the agreed meeting), and opt_out from the contact preferences */
static json_t *find_intents(actx *c, json_t *meeting, json_t *contact)
{
    json_t *arr = find_labelled(c, "intent", true);
    for (size_t k = 0; k < c->n_m; k++) {
        const match *mm = &c->m[k];
        if (strcmp(mm->rule->category, "meeting") || strcmp(mm->rule->label, "accept") ||
            c->v[mm->u].role != SDRA_ROLE_PROSPECT || an_has_match(c, mm->u, "meeting", "decline"))
            continue;
        bool near = false;
        for (int q = mm->u - 1; q >= 0 && q >= mm->u - 3; q--)
            if (c->v[q].role != SDRA_ROLE_PROSPECT) { /* the other side's last words */
                /* a proposal with a day or time: "is now a good time?" - "yes, fine" agrees to
                   talk now, not to a meeting */
                near = c->v[q].meeting_ctx && c->v[q].has_date && !c->v[q].date_bound;
                /* a bare "yes" answers the question asked, so it agrees only when the slot
                   is in that question ("Is it still okay to talk? We'd said Friday
                   morning." - "Yes, yes, come on then") */
                if (near && mm->end - mm->begin == 1 && !an_slot_asked(&c->v[q]))
                    near = false;
                break;
            }
        if (near)
            add_intent(c, arr, mm->u, "agree_to_meeting", mm);
    }
    if (json_is_object(meeting)) {
        const char *keys[3] = {"confirmed", "accepted", "proposed"};
        /* where the prospect agreed: its confirmation of what the rep took up, its own
           acceptance, or its proposal */
        for (int k = 0; k < 3; k++) {
            json_t *ev = json_object_get(meeting, keys[k]);
            if (ev && !strcmp(json_string_value(json_object_get(ev, "role")), "prospect")) {
                add_intent(c, arr, (int)json_integer_value(json_object_get(ev, "i")), "agree_to_meeting", NULL);
                break;
            }
        }
    }
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(contact, "evidence"), i, o)
        add_intent(c, arr, (int)json_integer_value(json_object_get(o, "i")), "opt_out", NULL);
    an_sort_by_i(arr); /* keep time order */
    /* a "not interested" or an opt-out outweighs an "interested" or an agreement in the same
       utterance; request_pricing is the more specific ask than request_information. One pass
       to flag, one to filter: linear in the number of intents. */
    size_t n_u = c->t->n_utts;
    unsigned char *flag = calloc(n_u ? n_u : 1, 1);
    json_t *kept = json_array();
    if (flag && kept) {
        json_array_foreach(arr, i, o) {
            const char *ty = json_string_value(json_object_get(o, "type"));
            json_int_t u = json_integer_value(json_object_get(o, "i"));
            if (u < 0 || (size_t)u >= n_u)
                continue;
            if (!strcmp(ty, "not_interested") || !strcmp(ty, "opt_out"))
                flag[u] |= 1;
            if (!strcmp(ty, "request_pricing"))
                flag[u] |= 2;
        }
        json_array_foreach(arr, i, o) {
            const char *ty = json_string_value(json_object_get(o, "type"));
            json_int_t u = json_integer_value(json_object_get(o, "i"));
            bool drop = u >= 0 && (size_t)u < n_u &&
                        (((flag[u] & 1) && (!strcmp(ty, "interested") || !strcmp(ty, "agree_to_meeting"))) ||
                         ((flag[u] & 2) && !strcmp(ty, "request_information")));
            if (!drop)
                json_array_append(kept, o);
        }
        json_decref(arr);
        arr = kept;
        kept = NULL;
    }
    json_decref(kept);
    free(flag);
    return arr;
}

static json_t *find_pain(actx *c)
{
    json_t *arr = json_array();
    for (size_t k = 0; k < c->n_m;) {
        const match *mm = &c->m[k];
        if (strcmp(mm->rule->category, "pain") || c->v[mm->u].role != SDRA_ROLE_PROSPECT || !an_rule_ok(c, mm)) {
            k++;
            continue;
        }
        /* every pain match of this utterance: the text runs from the sentence of the first
           (at most 6 tokens before it) to the end of the sentence of the last (at most 10
           tokens after it) */
        int u = mm->u, first = mm->begin, last = mm->end - 1;
        bool consequence = false;
        size_t q = k;
        for (; q < c->n_m && c->m[q].u == u; q++) {
            const match *x = &c->m[q];
            if (strcmp(x->rule->category, "pain") || !an_rule_ok(c, x))
                continue;
            if (x->begin < first)
                first = x->begin;
            if (x->end - 1 > last)
                last = x->end - 1;
            if (!strcmp(x->rule->label, "consequence"))
                consequence = true;
        }
        const uview *v = &c->v[u];
        int b = first, e = last;
        while (b > 0 && first - b < 6 && !(v->toks[b].flags & AN_TOK_SENT_START))
            b--;
        while (e < v->n - 1 && e - last < 10 && !(v->toks[e].flags & AN_TOK_SENT_END))
            e++;
        json_t *o = json_object();
        json_object_set_new(o, "text", an_span_str(c->t->utts[u].text, v->toks[b].begin, v->toks[e].end));
        json_object_set_new(o, "kind", json_string(consequence ? "consequence" : "problem"));
        an_evidence(o, c, u);
        json_object_set_new(o, "match", an_match_words(c, mm));
        json_array_append_new(arr, o);
        k = q;
    }
    an_learned_pain(c, arr);
    return arr;
}

/* ---- the next meeting: a negotiation tracked over the turns -------------------------------- */



static bool tok_in(const uview *v, int i, const char *const *words)
{
    if (i < 0 || i >= v->n)
        return false;
    for (; *words; words++)
        if (!strcmp(v->toks[i].w, *words))
            return true;
    return false;
}

/* Does token i end a clause or a sentence? */
static bool ends_clause(const uview *v, int i)
{
    return (v->toks[i].flags & (AN_TOK_CLAUSE_END | AN_TOK_SENT_END)) != 0;
}

/* The phrase a match ending at token e goes on with when the next word is one of preps ("off
 * the list for the Tuesday webinar", "opt me out of the marketing emails"): one past its last
 * token, at most 4 words after e and up to the clause's end; e when there is none. */
static int prep_phrase_end(const uview *v, int e, const char *const *preps)
{
    if (e >= v->n || ends_clause(v, e - 1) || !tok_in(v, e, preps))
        return e;
    int to = e + 1;
    while (to < v->n && to <= e + 4 && !ends_clause(v, to - 1))
        to++;
    return to;
}

/* A contact match that opts out of nothing: inside a condition, an "if" or "when" at most 4
 * words before it in its clause ("if you don't call back in an hour, they've signed with someone
 * else"; the window keeps unpunctuated speech from reaching a condition said long before), or
 * limited to a time or place ("don't call during lunch", "don't ring me at home"); "stop"
 * negated, which reports rather than asks ("my phone did not stop ringing"); "call" naming
 * someone ("don't call me Mr. Ortiz, it's Rafa"); a call or email to someone or somewhere else
 * ("stop emailing the old address", "don't email her, she's left"); a list that is one
 * event's ("take me off the list for Thursday's webinar"). */
static bool not_an_opt_out(const actx *c, const match *mm)
{
    const uview *v = &c->v[mm->u];
    static const char *const modals[] = {"could", "would", "can", "will", "might", NULL};
    for (int i = mm->begin - 1; i >= 0 && i >= mm->begin - 4 && !ends_clause(v, i); i--)
        if ((!strcmp(v->toks[i].w, "if") || !strcmp(v->toks[i].w, "unless") || !strcmp(v->toks[i].w, "when") ||
             !strcmp(v->toks[i].w, "whenever")) &&
            /* "I'd appreciate it if you could take me off": a polite request, no condition */
            !(!strcmp(v->toks[i].w, "if") && i + 2 < v->n && !strcmp(v->toks[i + 1].w, "you") &&
              tok_in(v, i + 2, modals)))
            return true;
    static const char *const negs[] = {"not", "never", NULL};
    if (!strcmp(v->toks[mm->begin].w, "stop") && tok_in(v, mm->begin - 1, negs) &&
        !ends_clause(v, mm->begin - 1))
        return true;
    const char *last = v->toks[mm->end - 1].w;
    const an_rules *r = &c->rules;
    if (an_in_class(r, "optout_verb", last) && !ends_clause(v, mm->end - 1)) {
        int o = mm->end;
        bool call = !strcmp(last, "call") || !strcmp(last, "calling");
        static const char *const selves[] = {"i", "me", "us", NULL}, *const me_us[] = {"me", "us", NULL},
                                 *const things[] = {"it", "this", "that", NULL},
                                 *const arts[] = {"a", "an", NULL}, *const dets[] = {"the", "that", "my", "our", "an", NULL},
                                 *const their_dets[] = {"the", "that", "our", NULL};
        if (call && tok_in(v, o, me_us) && !ends_clause(v, o) &&
            o + 1 < v->n && an_in_class(r, "optout_title", v->toks[o + 1].w))
            return true; /* "don't call me Mr. Ortiz" */
        if (call && tok_in(v, o, things) && tok_in(v, o + 1, arts))
            return true; /* "don't call it a CRM when you present" */
        if (o < v->n && (an_in_class(r, "optout_other", v->toks[o].w) ||
                         (tok_in(v, o, dets) && o + 1 < v->n && an_in_class(r, "optout_former", v->toks[o + 1].w)) ||
                         (tok_in(v, o, their_dets) && o + 1 < v->n && an_in_class(r, "optout_place", v->toks[o + 1].w))))
            return true;
        /* someone named: "don't email Sarah, she's left" (typed text, where names are capitals;
           a word in capitals throughout is shouting or an all-caps export, not a name) */
        const char *text = c->t->utts[mm->u].text;
        if (o < v->n && text && !tok_in(v, o, selves)) {
            const char *w = text + v->toks[o].begin;
            if (isupper((unsigned char)w[0]) && v->toks[o].end - v->toks[o].begin > 1 &&
                islower((unsigned char)w[1]))
                return true;
        }
    }
    static const char *const list_of[] = {"for", "of", NULL};
    if (!strcmp(last, "list") || !strcmp(last, "lists"))
        for (int i = mm->end + 1, pe = prep_phrase_end(v, mm->end, list_of); i < pe; i++)
            if (an_in_class(r, "optout_event", v->toks[i].w))
                return true;
    static const char *limits[] = {"during", "before", "after", "between", "until", "till", "at",
                                   "mornings", "afternoons", "evenings", "weekends", "on"};
    int e = mm->end;
    if (e < v->n && (!strcmp(v->toks[e].w, "me") || !strcmp(v->toks[e].w, "us")) && !(v->toks[e].flags & AN_TOK_CLAUSE_END))
        e++; /* "don't call me during lunch" */
    if (e >= v->n || ends_clause(v, e - 1))
        return false;
    for (size_t k = 0; k < sizeof limits / sizeof limits[0]; k++)
        if (!strcmp(v->toks[e].w, limits[k]))
            return !(e + 1 < v->n && (!strcmp(v->toks[e + 1].w, "this") || !strcmp(v->toks[e + 1].w, "all"))); /* "on this number" */
    return false;
}

static json_t *find_contact(actx *c, bool *any, int *last_u)
{
    /* an opt-out of everything ("take me off your list") stops calls and emails, unless the
       prospect says one of them is fine ("An email's fine. Just no more phone calls.") */
    bool dnc = false, dne = false, all = false, call_ok = false, email_ok = false;
    json_t *ev = json_array();
    *last_u = -1;
    for (size_t k = 0; k < c->n_m; k++) {
        const match *mm = &c->m[k];
        if (strcmp(mm->rule->category, "contact") || c->v[mm->u].role != SDRA_ROLE_PROSPECT || !an_rule_ok(c, mm))
            continue;
        const char *l = mm->rule->label;
        if (not_an_opt_out(c, mm))
            continue;
        if (!strcmp(l, "allow_call") || !strcmp(l, "allow_email")) {
            call_ok |= l[6] == 'c';
            email_ok |= l[6] == 'e';
            continue;
        }
        if (!strcmp(l, "do_not_contact")) { /* "take my number off your list", "opt me out of
                                               * the emails": one channel */
            static const char *const of_from_for[] = {"of", "from", "for", NULL};
            const uview *v = &c->v[mm->u];
            for (int i = mm->begin, to = prep_phrase_end(v, mm->end, of_from_for); i < to; i++) {
                const char *w = v->toks[i].w;
                if (an_in_class(&c->rules, "channel_call", w))
                    l = "do_not_call";
                else if (an_in_class(&c->rules, "channel_email", w))
                    l = "do_not_email";
            }
        }
        all |= !strcmp(l, "do_not_contact");
        dnc |= !strcmp(l, "do_not_call");
        dne |= !strcmp(l, "do_not_email");
        if (mm->u > *last_u)
            *last_u = mm->u;
        if (!seen(ev, mm->u, "type", l)) {
            json_t *o = json_object();
            json_object_set_new(o, "type", json_string(l));
            an_evidence(o, c, mm->u);
            json_object_set_new(o, "text", an_utt_text(&c->t->utts[mm->u]));
            json_array_append_new(ev, o);
        }
    }
    dnc |= all && !call_ok;
    dne |= all && !email_ok;
    *any = dnc || dne;
    json_t *o = json_object();
    json_object_set_new(o, "do_not_call", json_boolean(dnc));
    json_object_set_new(o, "do_not_email", json_boolean(dne));
    json_object_set_new(o, "evidence", ev);
    return o;
}

/* ---- sentiment ------------------------------------------------------------------------------ */

static json_t *sentiment_doc(actx *c)
{
    const sdra_transcript *t = c->t;
    json_t *s = json_object(), *utts = json_array(), *by = json_object();
    double wsum = 0, wn = 0, rsum = 0, rn = 0;
    int last_pros[3] = {-1, -1, -1};
    for (size_t u = 0; u < t->n_utts; u++) {
        const uview *v = &c->v[u];
        json_t *o = json_object();
        json_object_set_new(o, "i", json_integer((json_int_t)u));
        json_object_set_new(o, "speaker", json_string(speaker_id(c, (int)u)));
        json_object_set_new(o, "start", json_real(an_r3(t->utts[u].start)));
        json_object_set_new(o, "score", json_real(an_r3(v->score)));
        json_object_set_new(o, "tokens", json_integer(v->n));
        json_object_set_new(o, "question", json_boolean(v->question));
        json_array_append_new(utts, o);
        double w = v->n > 0 ? v->n : 1;
        if (v->role == SDRA_ROLE_PROSPECT) {
            wsum += v->score * w;
            wn += w;
            if (v->n >= 3 || v->score != 0) {
                last_pros[0] = last_pros[1];
                last_pros[1] = last_pros[2];
                last_pros[2] = (int)u;
            }
        } else {
            rsum += v->score * w;
            rn += w;
        }
    }
    /* per-speaker timeline: moving average over that speaker's last three utterances */
    for (size_t sp = 0; sp < t->n_speakers; sp++) {
        json_t *tl = json_array();
        double win[3] = {0};
        int nwin = 0;
        for (size_t u = 0; u < t->n_utts; u++) {
            if (t->utts[u].speaker != (int)sp)
                continue;
            win[nwin % 3] = c->v[u].score;
            nwin++;
            int m = nwin < 3 ? nwin : 3;
            double avg = (win[0] + win[1] + win[2]) / m;
            json_t *pt = json_object();
            json_object_set_new(pt, "start", json_real(an_r3(t->utts[u].start)));
            json_object_set_new(pt, "score", json_real(an_r3(c->v[u].score)));
            json_object_set_new(pt, "smoothed", json_real(an_r3(avg)));
            json_array_append_new(tl, pt);
        }
        json_object_set_new(by, t->speakers[sp].id, tl);
    }
    double end = 0;
    int ne = 0;
    for (int k = 0; k < 3; k++)
        if (last_pros[k] >= 0) {
            end += c->v[last_pros[k]].score;
            ne++;
        }
    json_object_set_new(s, "overall", json_real(an_r3(wn > 0 ? wsum / wn : 0)));
    json_object_set_new(s, "prospect_end", json_real(an_r3(ne ? end / ne : 0)));
    json_object_set_new(s, "rep_overall", json_real(an_r3(rn > 0 ? rsum / rn : 0)));
    json_object_set_new(s, "utterances", utts);
    json_object_set_new(s, "by_speaker", by);
    return s;
}

/* ---- summary and outcome ------------------------------------------------------------------ */

static void mark(double *w, json_t *arr, double add)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        json_t *iv = json_object_get(o, "i");
        if (json_is_integer(iv))
            w[json_integer_value(iv)] += add;
    }
}

static json_t *summary_doc(actx *c, json_t *doc)
{
    size_t n = c->t->n_utts;
    double *w = calloc(n, sizeof *w);
    if (!w)
        return json_string("");
    mark(w, json_object_get(doc, "objections"), 3);
    mark(w, json_object_get(doc, "intents"), 2);
    mark(w, json_object_get(doc, "pain_points"), 3);
    mark(w, json_object_get(doc, "action_items"), 3);
    for (size_t u = 0; u < n; u++) {
        if (c->v[u].n < 5)
            w[u] = 0;
        else if (w[u] > 0)
            w[u] += c->v[u].n / 40.0; /* longer evidence reads better, a little */
    }
    sdra_buf b;
    sdra_buf_init(&b, 4096);
    int picked = 0;
    bool *chosen = calloc(n, sizeof *chosen);
    if (!chosen) {
        free(w);
        return json_string("");
    }
    for (int k = 0; k < 4; k++) {
        int best = -1;
        for (size_t u = 0; u < n; u++)
            if (!chosen[u] && w[u] > 0 && (best < 0 || w[u] > w[best]))
                best = (int)u;
        if (best < 0)
            break;
        chosen[best] = true;
        picked++;
    }
    for (size_t u = 0; u < n; u++) {
        if (!chosen[u])
            continue;
        const char *txt = c->t->utts[u].text;
        size_t len = strlen(txt);
        if (len > 200) {
            len = 200;
            while (len > 0 && txt[len] != ' ')
                len--;
        }
        sdra_buf_printf(&b, "%s%s: %.*s%s", b.len ? " " : "",
                        sdra_transcript_speaker_label(c->t, c->t->utts[u].speaker), (int)len, txt,
                        len < strlen(txt) ? "..." : "");
    }
    free(chosen);
    free(w);
    json_t *s = json_string(b.data ? b.data : "");
    sdra_buf_release(&b);
    return s;
}

static bool has_type(json_t *arr, const char *type)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        if (!strcmp(json_string_value(json_object_get(o, "type")), type))
            return true;
    }
    return false;
}

json_t *an_outcome(json_t *doc)
{
    char buf[512];
    json_t *cp = json_object_get(doc, "contact_preferences");
    json_t *mt = json_object_get(doc, "next_meeting");
    json_t *intents = json_object_get(doc, "intents");
    json_t *obj = json_object_get(doc, "objections");
    json_t *acts = json_object_get(doc, "action_items");
    bool dnc = json_is_true(json_object_get(cp, "do_not_call"));
    bool dne = json_is_true(json_object_get(cp, "do_not_email"));
    if (dnc || dne) {
        snprintf(buf, sizeof buf, "Prospect asked not to be contacted (%s)",
                 dnc && dne ? "no calls, no emails" : dnc ? "no calls" : "no emails");
    } else if (json_is_object(mt)) {
        const char *d = json_string_value(json_object_get(mt, "date"));
        const char *tm = json_string_value(json_object_get(mt, "time"));
        const char *pd = json_string_value(json_object_get(mt, "part_of_day"));
        snprintf(buf, sizeof buf, "Meeting agreed%s%s%s%s", d ? " for " : "", d ? d : "",
                 tm ? " at " : pd ? " in the " : "", tm ? tm : pd ? pd : "");
    } else if (has_type(intents, "not_interested")) {
        snprintf(buf, sizeof buf, "Prospect not interested");
    } else if (json_array_size(acts) > 0) {
        json_t *a = json_array_get(acts, 0);
        snprintf(buf, sizeof buf, "Follow-up agreed (%s): %s", json_string_value(json_object_get(a, "owner")),
                 json_string_value(json_object_get(a, "text")));
    } else if (has_type(intents, "ask_for_time")) {
        snprintf(buf, sizeof buf, "Prospect asked for time to decide");
    } else if (has_type(intents, "interested")) {
        snprintf(buf, sizeof buf, "Prospect interested, no next step set");
    } else {
        snprintf(buf, sizeof buf, "No clear next step");
    }
    /* the rules' objection types, each once, at most 4 (the classifier's guesses are in the
       findings, marked, not in the outcome) */
    const char *types[4];
    size_t n_types = 0, i;
    json_t *o;
    json_array_foreach(obj, i, o) {
        const char *ty = json_string_value(json_object_get(o, "type"));
        bool dup = !ty;
        for (size_t k = 0; k < n_types && !dup; k++)
            dup = dup || !strcmp(types[k], ty);
        if (!dup && n_types < 4 && !json_is_true(json_object_get(o, "learned")))
            types[n_types++] = ty;
    }
    for (size_t k = 0; k < n_types && strlen(buf) < sizeof buf - 64; k++) {
        strcat(buf, k ? ", " : "; objections: ");
        strncat(buf, types[k], sizeof buf - strlen(buf) - 1);
    }
    return json_string(buf);
}

/* ---- the document ----------------------------------------------------------------------- */

static json_t *speakers_doc(actx *c)
{
    json_t *arr = json_array();
    for (size_t s = 0; s < c->t->n_speakers; s++) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(c->t->speakers[s].id));
        json_object_set_new(o, "role", json_string(sdra_role_name(c->roles[s])));
        json_object_set_new(o, "name", c->t->speakers[s].name ? json_string(c->t->speakers[s].name) : json_null());
        json_array_append_new(arr, o);
    }
    return arr;
}

static int rules_analyze(json_t **out, const sdra_transcript *t, const sdra_analyze_params *p, sdra_error *err)
{
    actx c = {.t = t, .p = p, .err = err};
    json_t *doc = NULL;
    int rc;
    double t0 = sdra_clock_s();
    if ((rc = an_parse_date(p->call_date, &c.anchor)) < 0) {
        rc = sdra_error_set(err, SDRA_EINVAL, "call date '%s': expected YYYY-MM-DD", p->call_date ? p->call_date : "");
        goto done;
    }
    if ((rc = an_rules_load(&c.rules, p->rules_dir, err)) < 0)
        goto done;
    if ((rc = an_load_classifiers(&c, p->rules_dir, err)) < 0)
        goto done;
    if ((rc = tokenize_all(&c)) < 0 || (rc = match_all(&c)) < 0 || (rc = resolve_roles(&c)) < 0)
        goto done;
    utterance_facts(&c);
    doc = json_object();
    json_object_set_new(doc, "schema", json_string(SDRA_ANALYSIS_SCHEMA));
    json_object_set_new(doc, "backend", json_string("rules"));
    json_object_set_new(doc, "call_date", json_string(p->call_date));
    json_object_set_new(doc, "speakers", speakers_doc(&c));
    const char *pname = NULL, *rname = NULL;
    for (size_t s = 0; s < t->n_speakers; s++) {
        if (c.roles[s] == SDRA_ROLE_PROSPECT && !pname)
            pname = t->speakers[s].name;
        if (c.roles[s] == SDRA_ROLE_REP && !rname)
            rname = t->speakers[s].name;
    }
    json_object_set_new(doc, "prospect_name", pname ? json_string(pname) : json_null());
    json_object_set_new(doc, "rep_name", rname ? json_string(rname) : p->rep_name ? json_string(p->rep_name) : json_null());
    json_object_set_new(doc, "sentiment", sentiment_doc(&c));
    bool opted = false;
    int opt_u = -1;
    json_t *cp = find_contact(&c, &opted, &opt_u);
    json_t *mt = an_find_meeting(&c, opted, opt_u);
    json_object_set_new(doc, "intents", find_intents(&c, mt, cp));
    json_object_set_new(doc, "objections", find_objections(&c));
    json_object_set_new(doc, "topics", an_find_topics(&c));
    json_object_set_new(doc, "pain_points", find_pain(&c));
    json_object_set_new(doc, "action_items", an_find_actions(&c));
    json_object_set_new(doc, "next_meeting", mt);
    json_object_set_new(doc, "contact_preferences", cp);
    json_object_set_new(doc, "metrics", an_talk_metrics(&c));
    json_object_set_new(doc, "summary", summary_doc(&c, doc));
    json_object_set_new(doc, "outcome", an_outcome(doc));
    json_t *meta = json_object();
    json_object_set_new(meta, "utterances", json_integer((json_int_t)t->n_utts));
    json_object_set_new(meta, "rules", json_integer((json_int_t)c.rules.n_rules));
    json_object_set_new(meta, "lexicon", json_integer((json_int_t)c.rules.n_lex));
    json_object_set_new(doc, "meta", meta);
    sdra_log(SDRA_LOG_DEBUG, "analyze: %zu utterances, %zu matches in %.1f ms", t->n_utts, c.n_m,
             (sdra_clock_s() - t0) * 1000.0);
    *out = doc;
    doc = NULL;
    rc = 0;
done:
    json_decref(doc);
    if (c.v)
        for (size_t u = 0; u < t->n_utts; u++)
            free(c.v[u].toks);
    free(c.v);
    free(c.roles);
    free(c.m);
    an_rules_release(&c.rules);
    an_nb_free(c.nb_owned[0]);
    an_nb_free(c.nb_owned[1]);
    return rc;
}

const struct sdra_analyze_ops an_rules_backend = {.name = "rules", .analyze = rules_analyze};
