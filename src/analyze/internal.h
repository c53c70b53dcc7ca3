/*
 * internal.h - what the files of the analyze module share: the tokenizer that turns an
 * utterance (typed or lower-case ASR text) into normalised tokens with byte spans, number
 * words, calendar arithmetic, and the rule set (patterns, word classes, sentiment lexicon,
 * stop words) loaded from data/analyze/ together with its matcher.
 */
#ifndef SDRA_ANALYZE_INTERNAL_H
#define SDRA_ANALYZE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include "sdra/analyze.h"
#include "sdra/date.h"
#include "sdra/error.h"

/* ---- tokens ------------------------------------------------------------------------------ */

#define AN_TOK_MAX 32         /* bytes of one normalised token, NUL included */
#define AN_MAX_TOKENS 4096    /* tokens analysed per utterance; the rest is ignored */

enum {
    AN_TOK_SENT_START = 1, /* first token of a sentence (or of the utterance) */
    AN_TOK_CLAUSE_END = 2, /* last token before , ; : . ? ! or the end */
    AN_TOK_QMARK = 4,      /* last token of a sentence that ended with '?' */
    AN_TOK_SENT_END = 8,   /* last token of a sentence */
    AN_TOK_JOIN = 16,      /* followed directly by '/' or '-' and a digit (11/19, 2026-11-19) */
};

typedef struct an_tok {
    char w[AN_TOK_MAX];   /* lower case; contractions expanded ("don't" -> "do", "not") */
    unsigned begin, end;  /* byte span in the original text */
    unsigned char flags;
} an_tok;

/* Tokenizes text into at most max tokens; returns the count. */
int an_tokenize(const char *text, an_tok *toks, int max);

/* Reads a number said in words or digits at toks[i] ("ten", "twenty five", "19", "19th",
 * "nineteenth", "twenty first"). Returns tokens consumed (0 if none); *ordinal tells whether
 * it was an ordinal. Values 0..99. */
int an_number(const an_tok *toks, int n, int i, int *value, bool *ordinal);

/* ---- calendar ---------------------------------------------------------------------------- */

/* day numbers and months: sdra/date.h */
/* Parses YYYY-MM-DD (validated) into a day number; returns 0 or SDRA_EINVAL. */
int an_parse_date(const char *s, long *days);
void an_format_date(char out[11], long days);
/* Monday = 0 ... Sunday = 6 */
int an_weekday(long days);

/* Date resolution on tokens (dates.c): finds the first date/time expression starting at or
 * after token `from`; returns 1 and fills m (span in bytes of text) and the token span in tok_begin, tok_end. */
int an_date_find(sdra_date_match *m, const an_tok *toks, int n, int from, long anchor,
                 int *tok_begin, int *tok_end);

/* ---- rules --------------------------------------------------------------------------------- */

typedef struct an_alt {
    char w[AN_TOK_MAX];
    bool prefix; /* "expens*" */
} an_alt;

enum { AN_EL_WORDS = 0, AN_EL_ANY, AN_EL_GAP, AN_EL_CAPTURE, AN_EL_START };

typedef struct an_elem {
    int kind;
    int gap_max;       /* AN_EL_GAP: how many tokens may be skipped */
    bool optional;     /* "word?" */
    int alt_first, n_alts; /* AN_EL_WORDS: slice of an_rules.alts */
} an_elem;

enum { AN_FLAG_NONEG = 1, AN_FLAG_CTX_MEETING = 2, AN_FLAG_NOQ = 4, AN_FLAG_QONLY = 8, AN_FLAG_NODAY = 16 };

typedef struct an_rule {
    char category[24]; /* "objection", "intent", ... */
    char label[32];    /* "price", "request_pricing", ... */
    int flags;
    int elem_first, n_elems;
    int line;          /* in its file, for messages */
    char file[48];
} an_rule;

typedef struct an_lex {
    char phrase[4][AN_TOK_MAX];
    int n;          /* tokens in phrase */
    float score;
    char kind;      /* 'v' valence, 'b' booster, 'n' negator, 'c' contrast */
} an_lex;

typedef struct an_rules {
    an_rule *rules;
    size_t n_rules, cap_rules;
    an_elem *elems;
    size_t n_elems, cap_elems;
    an_alt *alts;
    size_t n_alts, cap_alts;
    an_lex *lex;
    size_t n_lex, cap_lex;
    char (*stop)[AN_TOK_MAX];
    size_t n_stop, cap_stop;
    /* word classes while loading: name -> alternatives */
    struct an_class {
        char name[AN_TOK_MAX];
        int alt_first, n_alts;
    } *classes;
    size_t n_classes, cap_classes;
} an_rules;

/* analyze.c: puts findings in time order (utterance index "i"); equal ones keep their order. */
void an_sort_by_i(json_t *arr);

/* nb.c: the learned classifiers of pain points and objections, trained on load from
 * "LABEL<TAB>sentence" lines; labels[0] is the negative label, and a line with a label not in
 * labels is an error naming file:line (a missing file gives *out NULL and 0: the rules alone).
 * an_nb_score is the log-odds that toks[from, to) carries any positive label rather than the
 * negative one; *best (when not NULL) gets the likeliest positive label's index. */
#define AN_NB_LABELS_MAX 24
typedef struct an_nb an_nb;
int an_nb_load(an_nb **out, const char *path, const char *const *labels, int n_labels, sdra_error *err);
double an_nb_score(const an_nb *m, const an_tok *toks, int from, int to, int *best);
const char *an_nb_label(const an_nb *m, int k);
void an_nb_free(an_nb *m);

/* Loads every *.rules file, sentiment.lex and stopwords.txt of dir. Errors name file:line. */
int an_rules_load(an_rules *r, const char *dir, sdra_error *err);
void an_rules_release(an_rules *r);

/* Matches rule at token i; returns the end token (exclusive) or -1. *cap is the capture
 * position ('>' element) or -1. */
int an_rule_match_at(const an_rules *r, const an_rule *rule, const an_tok *toks, int n, int i,
                     int *cap);

/* Is toks[i] in the word class "name" (e.g. "neg")? Classes are kept as rules with category
 * "class" after loading. */
bool an_in_class(const an_rules *r, const char *name, const char *w);

bool an_is_stopword(const an_rules *r, const char *w);

/* The first characters a match of rule can start with (a 256-bit set), for a quick reject;
 * false when the rule can start with anything. */
bool an_rule_first_mask(const an_rules *r, const an_rule *rule, unsigned char mask[32]);

/* Sentiment of one utterance's tokens in [-1, 1]; text is the utterance (its exclamation marks
 * strengthen a sentiment it has, as in VADER), or NULL. */
double an_sentiment(const an_rules *r, const char *text, const an_tok *toks, int n);

/* The rules backend. */
extern const struct sdra_analyze_ops an_rules_backend;

/* The one-line outcome of a finished document (rules_backend.c), for backends that replace
 * findings. */
json_t *an_outcome(json_t *doc);

/* ---- the llm backend ----------------------------------------------------------------------- */

extern const struct sdra_analyze_ops an_llm_backend;

/* JSON Schema subset (jschema.c). check: 0 when every keyword of schema is supported, else
 * SDRA_EINVAL naming it. validate: 0 when inst is valid, else -1 with why (one line, with the
 * JSON path) filled. */
int an_jschema_check(const json_t *schema, sdra_error *err);
int an_jschema_validate(const json_t *schema, const json_t *inst, char *why, size_t why_n);

/* Is quote (case and punctuation ignored, at least one letter or digit) inside text? */
bool an_quote_in(const char *quote, const char *text);

/* Grounds a model reply (already valid against the schema) for transcript t and merges it
 * into acc (the object with objections, action_items, pain_points, next_meeting, summary that
 * the backend builds, and its counts in stats). roles[s] is speaker s's role. Exposed for the
 * unit tests. */
typedef struct an_llm_stats {
    int items, kept, dropped_ungrounded, dropped_bad_utterance, dropped_role, dropped_duplicate;
    int text_from_quote, dates_resolved, dates_ungrounded, summary_sentences_dropped;
} an_llm_stats;
int an_llm_ground(json_t *acc, an_llm_stats *st, const json_t *reply, const sdra_transcript *t,
                  const sdra_role *roles, const char *call_date);

#endif
