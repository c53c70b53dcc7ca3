/*
 * lexicon.c - loads data/privacy/words.txt (format in the file's header) into a hash table of
 * single words (a word may have several kinds: "second" is an ordinal only, "may" a month) and
 * a list of trigger phrases. The file is small and read once per redactor.
 */
#include "internal.h"
#include "sdra/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define LEXICON_MAX_BYTES (1u << 20)

static const char *kind_names[LK_N] = {"digit", "teen", "tens", "repeat", "hundred", "filler",
                                       "quantity", "tld", "notlocal", "month", "ordinal",
                                       "dategap", "datejoin", "digitlike"};
static const char *trigger_names[TR_N] = {"card", "ssn", "phone", "account", "routing",
                                          "sortcode", "dob"};

static size_t hash_word(const char *s)
{
    size_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

const lex_entry *privacy_lexicon_get(const sdra_lexicon *lx, const char *word)
{
    if (!lx->n_slots || !word[0])
        return NULL;
    size_t m = lx->n_slots - 1;
    for (size_t i = hash_word(word) & m;; i = (i + 1) & m) {
        const lex_entry *e = &lx->slots[i];
        if (!e->word[0])
            return NULL;
        if (!strcmp(e->word, word))
            return e;
    }
}

static lex_entry *lex_put(sdra_lexicon *lx, const char *word)
{
    size_t m = lx->n_slots - 1;
    for (size_t i = hash_word(word) & m;; i = (i + 1) & m) {
        lex_entry *e = &lx->slots[i];
        if (!e->word[0]) {
            if (lx->n_used * 2 >= lx->n_slots)
                return NULL; /* the table is sized from the line count; cannot happen */
            sdra_strlcpy(e->word, word, sizeof e->word);
            lx->n_used++;
            return e;
        }
        if (!strcmp(e->word, word))
            return e;
    }
}

void privacy_lexicon_release(sdra_lexicon *lx)
{
    if (!lx)
        return;
    free(lx->slots);
    free(lx->trig);
    memset(lx, 0, sizeof *lx);
}

int privacy_lexicon_load(sdra_lexicon *lx, const char *path, sdra_error *err)
{
    char *text = NULL;
    size_t len = 0, lines = 1;
    int rc = sdra_file_read(&text, &len, path, LEXICON_MAX_BYTES, err);
    if (rc < 0)
        return rc;
    memset(lx, 0, sizeof *lx);
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    lx->n_slots = 64;
    while (lx->n_slots < lines * 2 + 2)
        lx->n_slots *= 2;
    lx->slots = calloc(lx->n_slots, sizeof *lx->slots);
    lx->trig = calloc(lines, sizeof *lx->trig);
    if (!lx->slots || !lx->trig) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    char *save = NULL;
    size_t lineno = 0;
    for (char *line = text, *next; line; line = next) {
        lineno++;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *f[8];
        int nf = 0;
        for (char *w = strtok_r(line, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
            if (nf == 8) {
                rc = sdra_error_set(err, SDRA_EINVAL, "%s:%zu: too many fields", path, lineno);
                goto done;
            }
            for (char *c = w; *c; c++)
                *c = (char)tolower((unsigned char)*c);
            if (strlen(w) >= LEX_WORD_MAX) {
                rc = sdra_error_set(err, SDRA_EINVAL, "%s:%zu: word too long", path, lineno);
                goto done;
            }
            f[nf++] = w;
        }
        if (nf == 0)
            continue;
        if (!strcmp(f[0], "trigger")) {
            int cls = -1;
            for (int k = 0; k < TR_N; k++)
                if (nf > 1 && !strcmp(f[1], trigger_names[k]))
                    cls = k;
            if (cls < 0 || nf < 3 || nf - 2 > TRIGGER_WORDS_MAX) {
                rc = sdra_error_set(err, SDRA_EINVAL,
                                    "%s:%zu: expected 'trigger CLASS WORD...' with a known class "
                                    "and at most %d words", path, lineno, TRIGGER_WORDS_MAX);
                goto done;
            }
            lex_trigger *t = &lx->trig[lx->n_trig++];
            t->cls = cls;
            t->n = nf - 2;
            for (int k = 2; k < nf; k++)
                sdra_strlcpy(t->words[k - 2], f[k], LEX_WORD_MAX);
            continue;
        }
        int kind = -1;
        for (int k = 0; k < LK_N; k++)
            if (!strcmp(f[0], kind_names[k]))
                kind = k;
        if (kind < 0 || nf < 2 || nf > 3) {
            rc = sdra_error_set(err, SDRA_EINVAL, "%s:%zu: expected 'KIND WORD [VALUE]' with a known kind",
                                path, lineno);
            goto done;
        }
        int val = 0;
        if (nf == 3) {
            char *end;
            long v = strtol(f[2], &end, 10);
            if (*end || v < 0 || v > 100) {
                rc = sdra_error_set(err, SDRA_EINVAL, "%s:%zu: value '%s' is not 0-100", path, lineno, f[2]);
                goto done;
            }
            val = (int)v;
        }
        lex_entry *e = lex_put(lx, f[1]);
        if (!e) {
            rc = sdra_error_set(err, SDRA_EINTERNAL, "%s: lexicon table full", path);
            goto done;
        }
        e->mask |= 1u << kind;
        e->val[kind] = val;
    }
done:
    free(text);
    if (rc < 0)
        privacy_lexicon_release(lx);
    return rc;
}
