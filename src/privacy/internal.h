/*
 * internal.h - what the files of src/privacy share: the word lists (lexicon.c), the token
 * stream and the detector (detect.c) that redact.c runs over text and transcripts.
 */
#ifndef SDRA_PRIVACY_INTERNAL_H
#define SDRA_PRIVACY_INTERNAL_H

#include <stddef.h>
#include "sdra/privacy.h"

/* Word kinds of data/privacy/words.txt (bits of a lexicon entry's mask). */
enum {
    LK_DIGIT = 0, LK_TEEN, LK_TENS, LK_REPEAT, LK_HUNDRED, LK_FILLER, LK_QUANTITY, LK_TLD,
    LK_NOTLOCAL, LK_MONTH, LK_ORDINAL, LK_DATEGAP, LK_DATEJOIN, LK_DIGITLIKE, LK_N
};

/* Trigger classes. */
enum { TR_CARD = 0, TR_SSN, TR_PHONE, TR_ACCOUNT, TR_ROUTING, TR_SORTCODE, TR_DOB, TR_N };

#define LEX_WORD_MAX 32
#define TRIGGER_WORDS_MAX 4

typedef struct lex_entry {
    char word[LEX_WORD_MAX];
    unsigned mask;      /* 1 << LK_* */
    int val[LK_N];      /* value per kind */
} lex_entry;

typedef struct lex_trigger {
    int cls;            /* TR_* */
    int n;
    char words[TRIGGER_WORDS_MAX][LEX_WORD_MAX];
} lex_trigger;

typedef struct sdra_lexicon {
    lex_entry *slots;   /* open addressing, power-of-two size */
    size_t n_slots, n_used;
    lex_trigger *trig;
    size_t n_trig;
} sdra_lexicon;

int privacy_lexicon_load(sdra_lexicon *lx, const char *path, sdra_error *err);
void privacy_lexicon_release(sdra_lexicon *lx);
/* The entry for a normalized word, or NULL. */
const lex_entry *privacy_lexicon_get(const sdra_lexicon *lx, const char *word);

#define TOK_NORM_MAX 64

/* One whitespace-separated token of the input (a transcript word or a piece of text). */
typedef struct ptok {
    const char *raw;      /* the token's bytes (not NUL-terminated) */
    size_t raw_len;
    size_t core_off, core_len; /* the token without surrounding punctuation */
    char norm[TOK_NORM_MAX];   /* lower-cased core, truncated */
    const lex_entry *lex;      /* lexicon entry of norm, or NULL */
    int speaker;               /* a digit sequence never continues across speakers */
    size_t utt, word;          /* transcript position, or byte offset (text) in utt */
} ptok;

/* A found value: tokens [first, last] and its class bit. */
typedef struct pspan {
    size_t first, last;
    unsigned cls;
} pspan;

/* Finds values in toks; appends spans (in token order, not overlapping) of the enabled classes
 * to *spans (realloc'd; *n, *cap). Returns 0 or SDRA_ENOMEM. */
int privacy_detect(const sdra_lexicon *lx, const ptok *toks, size_t n, unsigned classes,
                   pspan **spans, size_t *n_spans, size_t *cap_spans);

/* Fills tok's core, norm and lex from raw. */
void privacy_tok_init(const sdra_lexicon *lx, ptok *tok);

struct sdra_redactor {
    sdra_redact_params p;
    sdra_lexicon lx;
};

/* Bit index of a class bit (0..5). */
int privacy_class_index(unsigned cls);

#endif
