/*
 * text.c - the analyzer's view of text: a tokenizer that works the same on typed dialogue and
 * on lower-case unpunctuated ASR output (lower-cases, keeps byte spans for evidence, expands
 * contractions so rules say "do not" once, marks sentence and clause boundaries where
 * punctuation exists), number words, and calendar arithmetic on day numbers.
 */
#include "internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put(an_tok *toks, int *n, int max, const char *w, size_t len, unsigned b, unsigned e)
{
    if (*n >= max || len == 0)
        return;
    if (len >= AN_TOK_MAX) { /* cut, but not inside a UTF-8 character */
        len = AN_TOK_MAX - 1;
        while (len > 0 && ((unsigned char)w[len] & 0xc0) == 0x80)
            len--;
        if (len == 0)
            return;
    }
    memcpy(toks[*n].w, w, len);
    toks[*n].w[len] = 0;
    toks[*n].begin = b;
    toks[*n].end = e;
    toks[*n].flags = 0;
    (*n)++;
}

/* Emits a word, expanding English contractions. */
static void emit_word(an_tok *toks, int *n, int max, char *w, size_t len, unsigned b, unsigned e)
{
    static const struct { const char *full, *a, *b; } whole[] = {
        {"can't", "can", "not"}, {"won't", "will", "not"}, {"shan't", "shall", "not"},
        {"ain't", "is", "not"}, {"let's", "let", "us"}, {"cannot", "can", "not"},
        {"gonna", "going", "to"}, {"wanna", "want", "to"}, {"gotta", "got", "to"},
        {"dont", "do", "not"}, {"doesnt", "does", "not"}, {"didnt", "did", "not"},
        {"isnt", "is", "not"}, {"wasnt", "was", "not"}, {"arent", "are", "not"},
        {"cant", "can", "not"}, {"wont", "will", "not"}, {"couldnt", "could", "not"},
        {"wouldnt", "would", "not"}, {"shouldnt", "should", "not"}, {"havent", "have", "not"},
        {"im", "i", "am"}, {"ive", "i", "have"}, {"youre", "you", "are"}, {"theyre", "they", "are"},
        {"itll", "it", "will"}, {"thats", "that", "is"},
        /* ASR output drops apostrophes: "ill send it", "youve got a deal" */
        {"ill", "i", "will"}, {"youll", "you", "will"}, {"theyll", "they", "will"},
        {"youve", "you", "have"}, {"weve", "we", "have"}, {"theyve", "they", "have"},
        {"whats", "what", "is"}, {"hows", "how", "is"}, {"theres", "there", "is"},
        {"hes", "he", "is"}, {"shes", "she", "is"}, {"hasnt", "has", "not"},
        {"hadnt", "had", "not"}, {"werent", "were", "not"}, {"youd", "you", "would"},
    };
    w[len] = 0;
    /* "lets say two" is "let us"; "it lets you export" is the verb */
    if (!strcmp(w, "lets") || !strcmp(w, "id")) {
        static const char *verb_subj[] = {"it", "that", "this", "which", "he", "she", "who", "also",
                                          "your", "my", "an", "the", "user", "account", "photo"};
        bool verb = false;
        for (size_t k = 0; *n > 0 && k < sizeof verb_subj / sizeof verb_subj[0]; k++)
            verb |= !strcmp(toks[*n - 1].w, verb_subj[k]);
        if (!verb) {
            bool lets = w[0] == 'l';
            put(toks, n, max, lets ? "let" : "i", lets ? 3 : 1, b, e);
            put(toks, n, max, lets ? "us" : "would", lets ? 2 : 5, b, e);
            return;
        }
    }
    for (size_t k = 0; k < sizeof whole / sizeof whole[0]; k++)
        if (!strcmp(w, whole[k].full)) {
            put(toks, n, max, whole[k].a, strlen(whole[k].a), b, e);
            put(toks, n, max, whole[k].b, strlen(whole[k].b), b, e);
            return;
        }
    char *ap = strchr(w, '\'');
    if (ap && ap > w) {
        const char *suf = ap + 1;
        const char *exp = NULL;
        size_t stem = (size_t)(ap - w);
        if (!strcmp(suf, "t") && stem > 1 && w[stem - 1] == 'n') {
            stem--; /* do|n't */
            exp = "not";
        } else if (!strcmp(suf, "ll"))
            exp = "will";
        else if (!strcmp(suf, "re"))
            exp = "are";
        else if (!strcmp(suf, "ve"))
            exp = "have";
        else if (!strcmp(suf, "m"))
            exp = "am";
        else if (!strcmp(suf, "d"))
            exp = "would";
        else if (!strcmp(suf, "s")) {
            static const char *is_words[] = {"it", "that", "what", "there", "here", "he", "she",
                                             "who", "where", "how", "when", "everything", "nothing"};
            for (size_t k = 0; k < sizeof is_words / sizeof is_words[0]; k++)
                if (stem == strlen(is_words[k]) && !strncmp(w, is_words[k], stem))
                    exp = "is";
            if (!exp) { /* possessive: drop the 's */
                put(toks, n, max, w, stem, b, e);
                return;
            }
        }
        if (exp) {
            put(toks, n, max, w, stem, b, e);
            put(toks, n, max, exp, strlen(exp), b, e);
            return;
        }
        /* other apostrophes (o'clock, rock'n'roll): drop them */
        size_t o = 0;
        for (size_t k = 0; k < len; k++)
            if (w[k] != '\'')
                w[o++] = w[k];
        len = o;
    }
    put(toks, n, max, w, len, b, e);
}

int an_tokenize(const char *text, an_tok *toks, int max)
{
    int n = 0;
    bool sent_start = true;
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (s[i] && n < max) {
        unsigned char c = s[i];
        bool wordc = isalnum(c) || c >= 0x80;
        if (wordc) {
            char w[128];
            size_t len = 0;
            size_t b = i;
            while (s[i]) {
                unsigned char d = s[i];
                if (isalnum(d) || d >= 0x80) {
                    if (len < sizeof w - 1)
                        w[len++] = (char)tolower(d);
                    i++;
                } else if ((d == '\'' || d == 0xE2) && len) {
                    /* straight apostrophe or U+2019 (E2 80 99) inside a word */
                    size_t step = d == '\'' ? 1 : (s[i + 1] == 0x80 && s[i + 2] == 0x99 ? 3 : 0);
                    if (!step || !isalpha(s[i + step]))
                        break;
                    if (len < sizeof w - 1)
                        w[len++] = '\'';
                    i += step;
                } else if ((d == ':' || d == ',' || d == '.') && isdigit((unsigned char)w[len - 1]) &&
                           isdigit(s[i + 1])) {
                    /* 10:30, 5,000, 2.5 */
                    if (d != ',' && len < sizeof w - 1)
                        w[len++] = (char)d;
                    i++;
                } else if (d == '-' && isalpha(s[i + 1]) && len && isalpha((unsigned char)w[len - 1])) {
                    /* hyphenated words become separate tokens: "follow-up" -> follow up */
                    break;
                } else
                    break;
            }
            int before = n;
            /* split digits glued to am/pm/st/nd/th? keep ordinals whole, split am/pm */
            if (len > 2 && isdigit((unsigned char)w[0]) &&
                (!strncmp(w + len - 2, "am", 2) || !strncmp(w + len - 2, "pm", 2)) &&
                isdigit((unsigned char)w[len - 3])) {
                char ampm[3] = {w[len - 2], w[len - 1], 0}; /* emit_word ends w at its length */
                emit_word(toks, &n, max, w, len - 2, (unsigned)b, (unsigned)i);
                put(toks, &n, max, ampm, 2, (unsigned)b, (unsigned)i);
            } else
                emit_word(toks, &n, max, w, len, (unsigned)b, (unsigned)i);
            if (n > before && sent_start) {
                toks[before].flags |= AN_TOK_SENT_START;
                sent_start = false;
            }
            continue;
        }
        if (n > 0) {
            if ((c == '/' || c == '-') && toks[n - 1].end == i && isdigit(s[i + 1]) &&
                isdigit((unsigned char)toks[n - 1].w[0]))
                toks[n - 1].flags |= AN_TOK_JOIN;
            else if (c == '.' || c == '?' || c == '!') {
                toks[n - 1].flags |= AN_TOK_CLAUSE_END | AN_TOK_SENT_END;
                if (c == '?')
                    toks[n - 1].flags |= AN_TOK_QMARK;
                sent_start = true;
            } else if (c == ',' || c == ';' || c == ':' || (c == '-' && s[i + 1] == '-'))
                toks[n - 1].flags |= AN_TOK_CLAUSE_END;
            else if (c == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0x94 || s[i + 2] == 0x93))
                toks[n - 1].flags |= AN_TOK_CLAUSE_END; /* em / en dash */
        }
        i++;
    }
    if (n > 0)
        toks[n - 1].flags |= AN_TOK_CLAUSE_END | AN_TOK_SENT_END;
    return n;
}

static const char *units[] = {"zero", "one", "two", "three", "four", "five", "six", "seven",
                              "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen",
                              "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
static const char *ord_units[] = {"zeroth", "first", "second", "third", "fourth", "fifth",
                                  "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh",
                                  "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth",
                                  "seventeenth", "eighteenth", "nineteenth"};
static const char *tens[] = {"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy",
                             "eighty", "ninety"};
static const char *ord_tens[] = {"", "", "twentieth", "thirtieth", "fortieth", "fiftieth",
                                 "sixtieth", "seventieth", "eightieth", "ninetieth"};

/* One word: returns value or -1; *ord set for ordinals; *is_ten for multiples of ten. */
static int number_word(const char *w, bool *ord, bool *is_ten)
{
    *ord = *is_ten = false;
    if (isdigit((unsigned char)w[0])) {
        char *end;
        long v = strtol(w, &end, 10);
        if (v < 0 || v > 99)
            return -1;
        if (!*end)
            return (int)v;
        if (!strcmp(end, "st") || !strcmp(end, "nd") || !strcmp(end, "rd") || !strcmp(end, "th")) {
            *ord = true;
            return (int)v;
        }
        return -1;
    }
    for (int k = 0; k < 20; k++) {
        if (!strcmp(w, units[k]))
            return k;
        if (!strcmp(w, ord_units[k])) {
            *ord = true;
            return k;
        }
    }
    for (int k = 2; k < 10; k++) {
        if (!strcmp(w, tens[k])) {
            *is_ten = true;
            return k * 10;
        }
        if (!strcmp(w, ord_tens[k])) {
            *ord = true;
            return k * 10;
        }
    }
    return -1;
}

int an_number(const an_tok *toks, int n, int i, int *value, bool *ordinal)
{
    if (i >= n)
        return 0;
    bool ord, ten;
    int v = number_word(toks[i].w, &ord, &ten);
    if (v < 0)
        return 0;
    if (ten && i + 1 < n) {
        bool ord2, ten2;
        int u = number_word(toks[i + 1].w, &ord2, &ten2);
        if (u >= 1 && u <= 9 && !isdigit((unsigned char)toks[i + 1].w[0])) {
            *value = v + u;
            *ordinal = ord2;
            return 2;
        }
    }
    *value = v;
    *ordinal = ord;
    return 1;
}

int an_parse_date(const char *s, long *days)
{
    int64_t d;
    if (sdra_date_parse(s, &d) < 0)
        return SDRA_EINVAL;
    *days = (long)d;
    return 0;
}

void an_format_date(char out[11], long days)
{
    sdra_date_format(out, days);
}

int an_weekday(long days)
{
    return (sdra_weekday(days) + 6) % 7;
}

int sdra_date_add_days(char out[11], const char *date, int days)
{
    long d;
    if (an_parse_date(date, &d) < 0)
        return SDRA_EINVAL;
    an_format_date(out, d + days);
    return 0;
}
