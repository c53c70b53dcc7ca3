/*
 * src/asr/vocab.c - the user vocabulary file (docs/vocabulary.md): one word per line with an
 * optional pronunciation in CMUdict phones. Parsing only; the backend adds the words to its
 * dictionary and language model. Every limit (file size, entries, word and line length) is
 * checked, and every error names the file and line.
 */
#include "asr/internal.h"
#include "sdra/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES 1024
#define PHONES_MAX 40

static const char *const cmu_phones[] = {
    "AA", "AE", "AH", "AO", "AW", "AY", "B",  "CH", "D",  "DH", "EH", "ER", "EY",
    "F",  "G",  "HH", "IH", "IY", "JH", "K",  "L",  "M",  "N",  "NG", "OW", "OY",
    "P",  "R",  "S",  "SH", "T",  "TH", "UH", "UW", "V",  "W",  "Y",  "Z",  "ZH",
};

bool sdra_asr_phone_valid(const char *s)
{
    for (size_t i = 0; i < sizeof cmu_phones / sizeof cmu_phones[0]; i++)
        if (!strcmp(s, cmu_phones[i]))
            return true;
    return false;
}

void sdra_asr_vocab_destroy(sdra_asr_vocab *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n_entries; i++) {
        free(v->entries[i].word);
        free(v->entries[i].phones);
    }
    free(v->entries);
    free(v);
}

/* Words: letters, digits, apostrophe, hyphen, underscore, period; must start with a letter
 * or digit. Lower-cased in place. */
static bool word_valid(char *w)
{
    size_t n = strlen(w);
    if (!n || n >= SDRA_ASR_WORD_MAX || !isalnum((unsigned char)w[0]))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)w[i];
        if (!isalnum(c) && c != '\'' && c != '-' && c != '_' && c != '.')
            return false;
        w[i] = (char)tolower(c);
    }
    return true;
}

/* Parses one line's tokens into e. Returns 0, 1 for a blank/comment line, or an error. */
static int parse_line(sdra_asr_vocab_entry *e, char *line, const char *name, int lineno,
                      sdra_error *err)
{
    char *hash = strchr(line, '#');
    if (hash)
        *hash = 0;
    char *save = NULL;
    char *tok = strtok_r(line, " \t\r", &save);
    if (!tok)
        return 1;
    if (!word_valid(tok))
        return sdra_error_set(err, SDRA_EINVAL, "%s:%d: '%.64s' is not a valid word", name,
                              lineno, tok);
    char phones[LINE_MAX_BYTES];
    size_t plen = 0;
    int n_phones = 0;
    phones[0] = 0;
    char *ph;
    while ((ph = strtok_r(NULL, " \t\r", &save))) {
        char up[8];
        size_t n = strlen(ph);
        if (n > 4)
            return sdra_error_set(err, SDRA_EINVAL, "%s:%d: '%.16s' is not a CMUdict phone",
                                  name, lineno, ph);
        for (size_t i = 0; i <= n; i++)
            up[i] = (char)toupper((unsigned char)ph[i]);
        if (n > 1 && up[n - 1] >= '0' && up[n - 1] <= '2') /* stress marker: AH0 -> AH */
            up[--n] = 0;
        if (!sdra_asr_phone_valid(up))
            return sdra_error_set(err, SDRA_EINVAL, "%s:%d: '%s' is not a CMUdict phone", name,
                                  lineno, ph);
        if (++n_phones > PHONES_MAX)
            return sdra_error_set(err, SDRA_EINVAL, "%s:%d: more than %d phones", name, lineno,
                                  PHONES_MAX);
        plen += (size_t)snprintf(phones + plen, sizeof phones - plen, "%s%s", plen ? " " : "", up);
    }
    e->word = strdup(tok);
    e->phones = n_phones ? strdup(phones) : NULL;
    e->line = lineno;
    if (!e->word || (n_phones && !e->phones)) {
        free(e->word);
        free(e->phones);
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    }
    return 0;
}

int sdra_asr_vocab_parse(sdra_asr_vocab **out, const char *text, size_t len, const char *name,
                         sdra_error *err)
{
    int rc = 0;
    sdra_asr_vocab *v = calloc(1, sizeof *v);
    size_t cap = 0;
    if (!v)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    if (len > SDRA_ASR_VOCAB_MAX_BYTES) {
        rc = sdra_error_set(err, SDRA_ELIMIT, "%s: larger than %d bytes", name,
                            SDRA_ASR_VOCAB_MAX_BYTES);
        goto done;
    }
    size_t pos = 0;
    int lineno = 0;
    while (pos < len) {
        lineno++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        char line[LINE_MAX_BYTES];
        if (n >= sizeof line) {
            rc = sdra_error_set(err, SDRA_EINVAL, "%s:%d: line longer than %d bytes", name,
                                lineno, LINE_MAX_BYTES - 1);
            goto done;
        }
        memcpy(line, text + pos, n);
        line[n] = 0;
        if (memchr(line, 0, n)) {
            rc = sdra_error_set(err, SDRA_EINVAL, "%s:%d: NUL byte (not a text file)", name,
                                lineno);
            goto done;
        }
        pos += n + (nl ? 1 : 0);
        sdra_asr_vocab_entry e = {0};
        rc = parse_line(&e, line, name, lineno, err);
        if (rc < 0)
            goto done;
        if (rc == 1) {
            rc = 0;
            continue;
        }
        if (v->n_entries >= SDRA_ASR_VOCAB_MAX_ENTRIES) {
            free(e.word);
            free(e.phones);
            rc = sdra_error_set(err, SDRA_ELIMIT, "%s: more than %d words", name,
                                SDRA_ASR_VOCAB_MAX_ENTRIES);
            goto done;
        }
        if (v->n_entries == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            sdra_asr_vocab_entry *ne = realloc(v->entries, ncap * sizeof *ne);
            if (!ne) {
                free(e.word);
                free(e.phones);
                rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
                goto done;
            }
            v->entries = ne;
            cap = ncap;
        }
        v->entries[v->n_entries++] = e;
    }
    if (!v->n_entries) {
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: no words", name);
        goto done;
    }
done:
    if (rc < 0) {
        sdra_asr_vocab_destroy(v);
        return rc;
    }
    *out = v;
    return 0;
}

int sdra_asr_vocab_load(sdra_asr_vocab **out, const char *path, sdra_error *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = sdra_file_read(&text, &len, path, SDRA_ASR_VOCAB_MAX_BYTES, err);
    if (rc < 0)
        return rc;
    rc = sdra_asr_vocab_parse(out, text, len, path, err);
    free(text);
    return rc;
}
