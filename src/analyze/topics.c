/*
 * topics.c - the rules backend's key phrases (rules_ctx.h: an_find_topics): runs of one to three
 * content words inside a clause, scored by frequency and length.
 */
#include "rules_ctx.h"
#include "sdra/util.h"

#include <stdlib.h>
#include <string.h>

#define N_KEYPHRASES 8

typedef struct phrase {
    char text[3 * AN_TOK_MAX + 2];
    int n_words, count, first_u;
    double score;
} phrase;

static int cmp_phrase(const void *a, const void *b)
{
    const phrase *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return x->first_u - y->first_u;
}

static bool content_word(const actx *c, const char *w)
{
    size_t l = strlen(w);
    if (l < 3 || an_is_stopword(&c->rules, w))
        return false;
    for (const char *p = w; *p; p++)
        if (*p >= '0' && *p <= '9')
            return false;
    return true;
}

/* Key phrases: runs of 1-3 content words inside a clause, scored by frequency and length. A
 * simple hash table (at most 2^18 phrases, about 30 MB; phrases first seen after it is 3/4
 * full are not counted) keeps this linear in the transcript's size. */
json_t *an_find_topics(actx *c)
{
    size_t cap = 4096;
    while (cap < c->t->n_utts * 8 && cap < (1u << 18))
        cap *= 2;
    phrase *tab = calloc(cap, sizeof *tab);
    json_t *arr = json_array();
    if (!tab)
        return arr;
    size_t used = 0;
    for (size_t u = 0; u < c->t->n_utts; u++) {
        const uview *v = &c->v[u];
        for (int i = 0; i < v->n; i++) {
            char buf[sizeof tab[0].text];
            buf[0] = 0;
            for (int len = 1; len <= 3 && i + len <= v->n; len++) {
                const an_tok *tk = &v->toks[i + len - 1];
                if (!content_word(c, tk->w))
                    break;
                if (len > 1)
                    strcat(buf, " ");
                strcat(buf, tk->w);
                unsigned long h = 5381;
                for (const char *p = buf; *p; p++)
                    h = h * 33 + (unsigned char)*p;
                size_t slot = h & (cap - 1);
                while (tab[slot].text[0] && strcmp(tab[slot].text, buf))
                    slot = (slot + 1) & (cap - 1);
                if (!tab[slot].text[0]) {
                    if (used * 4 >= cap * 3)
                        goto full;
                    sdra_strlcpy(tab[slot].text, buf, sizeof tab[slot].text);
                    tab[slot].n_words = len;
                    tab[slot].first_u = (int)u;
                    used++;
                }
                tab[slot].count++;
                if (tk->flags & AN_TOK_CLAUSE_END)
                    break;
            }
        }
    }
full:
    for (size_t k = 0; k < cap; k++)
        if (tab[k].text[0])
            tab[k].score = tab[k].count < 2
                               ? 0
                               : tab[k].count * (tab[k].n_words == 1 ? 1.0 : tab[k].n_words * 1.5);
    qsort(tab, cap, sizeof *tab, cmp_phrase);
    int out = 0;
    for (size_t k = 0; k < cap && out < N_KEYPHRASES && tab[k].score > 0; k++) {
        /* skip a phrase contained in (or containing) one already chosen */
        bool dup = false;
        size_t i;
        json_t *o;
        json_array_foreach(arr, i, o)
        {
            const char *s = json_string_value(json_object_get(o, "text"));
            if (s && (strstr(s, tab[k].text) || strstr(tab[k].text, s)))
                dup = true;
        }
        json_t *txt = dup ? NULL : json_string(tab[k].text);
        if (!txt)
            continue; /* chosen already, or cut inside a character (tokens are 31 bytes at most) */
        o = json_object();
        json_object_set_new(o, "text", txt);
        json_object_set_new(o, "kind", json_string("keyphrase"));
        json_object_set_new(o, "count", json_integer(tab[k].count));
        json_object_set_new(o, "start", json_real(an_r3(c->t->utts[tab[k].first_u].start)));
        json_array_append_new(arr, o);
        out++;
    }
    free(tab);
    /* categories from topic.* rules, in order of first mention */
    for (size_t k = 0; k < c->n_m; k++) {
        const match *mm = &c->m[k];
        if (strcmp(mm->rule->category, "topic"))
            continue;
        json_t *found = NULL;
        size_t i;
        json_t *o;
        json_array_foreach(arr, i, o)
        {
            if (!strcmp(json_string_value(json_object_get(o, "kind")), "category") &&
                !strcmp(json_string_value(json_object_get(o, "text")), mm->rule->label))
                found = o;
        }
        if (found) {
            json_object_set_new(
                found, "count",
                json_integer(json_integer_value(json_object_get(found, "count")) + 1));
            continue;
        }
        o = json_object();
        json_object_set_new(o, "text", json_string(mm->rule->label));
        json_object_set_new(o, "kind", json_string("category"));
        json_object_set_new(o, "count", json_integer(1));
        json_object_set_new(o, "start", json_real(an_r3(c->t->utts[mm->u].start)));
        json_array_append_new(arr, o);
    }
    return arr;
}
