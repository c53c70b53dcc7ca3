/*
 * actions.c - action items: what each side said it will do (commitments) and what one side
 * asked the other to do (requests), each with its owner, the words of what, and a due date said
 * with it. An offer counts once the other side takes it up; a request or an offer that a
 * commitment takes on in the next turns is one item, the commitment (docs/analysis.md, "Action
 * items").
 */
#include "rules_ctx.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define ACTION_MAX_TOKENS 14

static int cmp_match_pos(const void *a, const void *b)
{
    const match *x = a, *y = b;
    if (x->u != y->u)
        return x->u - y->u;
    return x->begin - y->begin;
}

/* One action item while the calls' items are collected: where its words are, for the merge. */
typedef struct item {
    json_t *o;
    int u, from, wb, we; /* utterance, the match's first token, the "what" tokens [wb, we) */
    bool request, offer;
    sdra_role owner;
    int tu, twb, twe; /* an offer taken up: the words that took it up ("Should I invite your
                         partner?" - "Yes, invite Frank"), utterance and tokens; tu -1 if none */
} item;

/* The group of the verb that says what item a does (@deliver "send", @recontact "call back",
 * @unlist "take off the list"): 1..3, or 0 when no word of its match up to the "what" (at most
 * the last four) is one. */
static int verb_group(const actx *c, const item *a)
{
    static const char *groups[] = {"deliver", "recontact", "unlist"};
    const uview *v = &c->v[a->u];
    for (int i = a->wb; i >= a->from && i >= a->wb - 3; i--)
        for (int g = 0; g < 3; g++)
            if (i < v->n && an_in_class(&c->rules, groups[g], v->toks[i].w))
                return g + 1;
    return 0;
}

/* Does a content word of toks [ab, ae) of utterance au occur in item b's "what"? */
static bool share_span(const actx *c, int au, int ab, int ae, const item *b)
{
    const uview *va = &c->v[au], *vb = &c->v[b->u];
    for (int i = ab; i < ae; i++) {
        const char *w = va->toks[i].w;
        if (strlen(w) < 3 || an_is_stopword(&c->rules, w) || an_in_class(&c->rules, "act", w))
            continue;
        for (int j = b->wb; j < b->we; j++)
            if (!strcmp(w, vb->toks[j].w))
                return true;
    }
    return false;
}

/* Do the two items' "what"s share a content word ("send me the usage report" / "I'll have the
 * report to you")? An offer's words include those of the request that took it up ("Should I
 * invite your partner?" - "Yes, invite Frank" - "I'll add Frank to the invite"). */
static bool share_word(const actx *c, const item *a, const item *b)
{
    return share_span(c, a->u, a->wb, a->we, b) ||
           (a->tu >= 0 && share_span(c, a->tu, a->twb, a->twe, b));
}

/* Is token i of v inside a question that offers it ("Shall I call you in January?", "is there
 * anything I can send you?", "should i check back in january")? Its sentence opens (after
 * @lead words) with an inverted modal or "is there" at or within four words before i, and ends with
 * '?' or, in text without punctuation (ASR), the utterance is a question. "I'll send an invite,
 * what's his email?" offers nothing. */
static bool in_question(const actx *c, const uview *v, int i)
{
    int e = an_sentence_end(v, i);
    if (!((v->toks[e].flags & AN_TOK_QMARK) || (!an_punctuated(v) && v->question)))
        return false;
    int b = an_sentence_start(v, i);
    while (b < i && an_in_class(&c->rules, "lead", v->toks[b].w))
        b++;
    static const char *opener[] = {"shall", "should", "can", "could", "may", "mind", "would", "do", "want", "is", "anything"};
    for (int k = b; k <= i && k < b + 4; k++)
        for (size_t q = 0; q < sizeof opener / sizeof opener[0]; q++)
            if (!strcmp(v->toks[k].w, opener[q]))
                return k == b || !strcmp(opener[q], "anything");
    return false;
}

/* Does utterance u take up an offer: said by the other side than the offer's owner, with an
 * @accept word among its first four words and no refusal ("no", "not") before it? */
static bool accepts(const actx *c, int u, sdra_role offerer)
{
    if (u >= (int)c->t->n_utts || c->v[u].role == offerer)
        return false;
    const uview *v = &c->v[u];
    for (int k = 0; k < v->n && k < 4; k++) {
        const char *w = v->toks[k].w;
        if (!strcmp(w, "no") || !strcmp(w, "not") || !strcmp(w, "nah") || !strcmp(w, "never"))
            return false;
        if (an_in_class(&c->rules, "accept", w))
            return true;
    }
    return false;
}

/* Does item a's "what" name its thing only by a pronoun ("send it", "get them over to you")? */
static bool vague_object(const actx *c, const item *a)
{
    const uview *v = &c->v[a->u];
    for (int i = a->wb; i < a->we && i < a->wb + 4; i++) {
        const char *w = v->toks[i].w;
        if (an_in_class(&c->rules, "vague_object", w))
            return true;
        if (i > a->wb && strcmp(w, "you") && strcmp(w, "over") && strcmp(w, "across") && strcmp(w, "u"))
            return false;
    }
    return false;
}

#define ANSWER_TURNS 2
#define NAMED_TURNS 4

/* Do items a and b do the same kind of thing (one verb group)? */
static bool same_act(const actx *c, const item *a, const item *b)
{
    int g = verb_group(c, a);
    return g && g == verb_group(c, b);
}

/* Can item b (a commitment, later) take over item a (a request or an offer, earlier)? Owned
 * by the same side, and doing the same kind of thing within ANSWER_TURNS utterances, or
 * naming the same thing within NAMED_TURNS. */
static bool takes_over(const actx *c, const item *a, const item *b)
{
    int d = b->u - a->u;
    if (d < 0 || d > NAMED_TURNS || b->owner != a->owner || b->request)
        return false;
    if (share_word(c, a, b))
        return true;
    /* a request is answered by the same kind of act ("put that in writing" - "I'll send you a
       formal quote"); an offer only by one that says "it" ("I can send the report" - "I'll
       send it tonight"), not by another thing of the same kind */
    return d <= ANSWER_TURNS && (a->request || vague_object(c, b)) && same_act(c, a, b);
}

/* Moves item from into item to's "answers" (with the requests from answered, if any) and
 * drops it. */
static void absorb(item *to, item *from)
{
    json_t *had = json_object_get(from->o, "answers");
    if (json_array_size(had) || from->request) {
        json_t *ans = json_object_get(to->o, "answers");
        if (!ans) {
            ans = json_array();
            json_object_set_new(to->o, "answers", ans);
        }
        size_t k;
        json_t *x;
        json_array_foreach(had, k, x)
            json_array_append(ans, x);
        if (from->request) {
            json_t *q = json_object();
            json_object_set(q, "i", json_object_get(from->o, "i"));
            json_object_set(q, "text", json_object_get(from->o, "text"));
            json_object_set(q, "role", json_object_get(from->o, "role"));
            json_array_append_new(ans, q);
        }
    }
    json_decref(from->o);
    from->o = NULL;
}

/* An offer ("I can send you the certificate", "Shall I call you in January?") is a commitment
 * once the other side takes it up in the next utterance ("Yes please", or asking for it:
 * "please send me this", which it then answers); one nobody took up is no item. */
static void settle_offers(const actx *c, item *it, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (!it[k].offer || !it[k].o)
            continue;
        bool taken = accepts(c, it[k].u + 1, it[k].owner);
        if (taken) { /* the sentence that takes it up may name what is taken ("Yes, invite Frank") */
            it[k].tu = it[k].u + 1;
            it[k].twb = 0;
            it[k].twe = an_sentence_end(&c->v[it[k].u + 1], 0) + 1;
        }
        /* an offer that answers what the other side just asked for ("if you can send it over" -
           "Yeah, I can flick you the spreadsheet tonight") is taken already */
        for (size_t r = k; r-- > 0 && it[k].u - it[r].u <= ANSWER_TURNS;)
            if (it[r].request && it[r].o && it[r].u < it[k].u && takes_over(c, &it[r], &it[k])) {
                absorb(&it[k], &it[r]);
                taken = true;
            }
        for (size_t r = k + 1; r < n && it[r].u <= it[k].u + 1; r++)
            if (it[r].request && it[r].o && it[r].u == it[k].u + 1 && it[r].owner == it[k].owner &&
                (same_act(c, &it[k], &it[r]) || share_word(c, &it[k], &it[r]))) {
                it[k].tu = it[r].u; /* its words name what is taken */
                it[k].twb = it[r].wb;
                it[k].twe = it[r].we;
                absorb(&it[k], &it[r]);
                taken = true;
            }
        if (!taken) {
            json_decref(it[k].o);
            it[k].o = NULL;
        }
    }
}

/* One thing to do is one item. A request the other side takes on in its next turns ("Can you
 * send me the usage report?" - "I'll send it over tonight"), or an offer taken up and then
 * promised ("I can share the certificate" - "please do" - "I'll send the certificate
 * tomorrow"), is the commitment: its words, its due date, and the requests it answers
 * ("answers": [{"i", "text", "role"}], where compose finds what "it" is); the earlier item is
 * dropped (a request's intent stays). */
static void merge_answered(const actx *c, item *it, size_t n)
{
    for (size_t r = 0; r < n; r++) {
        if (!it[r].o || !(it[r].request || it[r].offer))
            continue;
        for (size_t k = r + 1; k < n && it[k].u - it[r].u <= NAMED_TURNS; k++) {
            if (it[k].o && it[k].u != it[r].u && takes_over(c, &it[r], &it[k])) {
                absorb(&it[k], &it[r]);
                break;
            }
        }
    }
}

json_t *an_find_actions(actx *c)
{
    json_t *arr = json_array();
    /* collect action matches in text order */
    size_t na = 0;
    match *am = malloc(sizeof *am * (c->n_m ? c->n_m : 1));
    item *it = malloc(sizeof *it * (c->n_m ? c->n_m : 1));
    size_t ni = 0;
    if (!am || !it) {
        free(am);
        free(it);
        return arr;
    }
    for (size_t k = 0; k < c->n_m; k++)
        if (!strcmp(c->m[k].rule->category, "action") && an_rule_ok(c, &c->m[k]))
            am[na++] = c->m[k];
    qsort(am, na, sizeof *am, cmp_match_pos);
    int last_u = -1, last_end = -1;
    for (size_t k = 0; k < na; k++) {
        const match *mm = &am[k];
        if (mm->u == last_u && mm->begin < last_end)
            continue; /* overlaps the previous action of this utterance */
        const uview *v = &c->v[mm->u];
        if (strcmp(mm->rule->label, "request")) {
            /* "if I ever need something I'll call you": a condition is not a commitment */
            bool cond = false;
            for (int j = mm->begin - 1; j >= 0 && j >= mm->begin - 6 && !(v->toks[j].flags & AN_TOK_SENT_END); j--) {
                const char *w = v->toks[j].w;
                if (!strcmp(w, "and") || !strcmp(w, "but") || !strcmp(w, "so"))
                    break; /* a new clause (ASR text has no commas or full stops) */
                if (!strcmp(w, "if") || !strcmp(w, "unless"))
                    cond = true;
            }
            if (cond)
                continue;
        }
        int limit = v->n;
        if (k + 1 < na && am[k + 1].u == mm->u)
            for (size_t q = k + 1; q < na && am[q].u == mm->u; q++)
                if (am[q].begin >= mm->end) {
                    limit = am[q].begin;
                    break;
                }
        int wb = mm->cap >= 0 ? mm->cap : mm->end;
        int we = wb;
        sdra_date_match dm;
        int db = -1, de = -1;
        /* the due date is said in the same sentence */
        int sent_end = mm->end - 1;
        while (sent_end < limit - 1 && !(v->toks[sent_end].flags & AN_TOK_SENT_END))
            sent_end++;
        bool has_due = an_date_find(&dm, v->toks, sent_end + 1 < limit ? sent_end + 1 : limit, mm->begin, c->anchor,
                                    &db, &de) == 1;
        if (!has_due) { /* "by friday i will send it": a date just before the commitment */
            int from = mm->begin - 6 < 0 ? 0 : mm->begin - 6;
            has_due = an_date_find(&dm, v->toks, mm->begin, from, c->anchor, &db, &de) == 1;
        }
        while (we < limit && we - wb < ACTION_MAX_TOKENS) {
            if (has_due && we == db && db >= wb)
                break;
            if (an_in_class(&c->rules, "stop_action", v->toks[we].w) && we > wb)
                break;
            we++;
            if (v->toks[we - 1].flags & AN_TOK_CLAUSE_END)
                break;
        }
        /* trailing small words ("by", "on", "the") before the date are not part of what */
        while (we > wb + 1 && an_in_class(&c->rules, "trail", v->toks[we - 1].w))
            we--;
        if (we <= wb) {
            wb = mm->begin;
            we = mm->end;
        }
        last_u = mm->u;
        last_end = we > mm->end ? we : mm->end;
        bool request = !strcmp(mm->rule->label, "request");
        bool offer = !strcmp(mm->rule->label, "offer") || (!request && in_question(c, v, mm->begin));
        sdra_role owner = v->role;
        if (request)
            owner = v->role == SDRA_ROLE_REP ? SDRA_ROLE_PROSPECT : SDRA_ROLE_REP;
        json_t *o = json_object();
        json_object_set_new(o, "owner", json_string(sdra_role_name(owner)));
        json_object_set_new(o, "kind", json_string(request ? "request" : "commitment"));
        json_object_set_new(o, "text", an_span_str(c->t->utts[mm->u].text, v->toks[wb].begin, v->toks[we - 1].end));
        json_object_set_new(o, "due", has_due && dm.date[0] ? json_string(dm.date) : json_null());
        json_object_set_new(o, "due_time", has_due && dm.time[0] ? json_string(dm.time) : json_null());
        if (has_due)
            json_object_set_new(o, "due_said", an_span_str(c->t->utts[mm->u].text, dm.begin, dm.end));
        an_evidence(o, c, mm->u);
        json_object_set_new(o, "quote", an_utt_text(&c->t->utts[mm->u]));
        it[ni++] = (item){o, mm->u, mm->begin, wb, we, request, offer, owner, -1, 0, 0};
    }
    settle_offers(c, it, ni);
    merge_answered(c, it, ni);
    for (size_t k = 0; k < ni; k++)
        if (it[k].o)
            json_array_append_new(arr, it[k].o);
    free(am);
    free(it);
    return arr;
}
