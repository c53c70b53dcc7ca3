/*
 * roles.c - sdra_roles_assign(): which speaker is the rep and which are prospects.
 *
 * Stereo with a known rep channel: by channel. Then, when the call sheet names the parties
 * (rep_name, contact_name), by who introduces themself ("I'm X", "this is X", "X here", "my name
 * is X") and who is addressed ("hi X", "thanks X", "is this X"), the name heard through ASR
 * near-misses by a phonetic key plus edit distance (sdra_roles_name_match). Otherwise by text,
 * with the weighted phrase list
 * in data/roles/rep-phrases.txt (format in that file; rules in docs/diarization.md#roles): each
 * speaker's words are normalised (lower case, punctuation removed) and every phrase found in
 * them adds its weight once. The speaker with the highest positive score is the rep, unique
 * ties broken by who spoke first; with no positive score the first speaker is the rep (the
 * caller usually speaks first). Every other speaker is a prospect. Each speaker records how its
 * role was decided (role_by, role_evidence).
 */
#include "sdra/diarize.h"
#include "sdra/buf.h"
#include "sdra/log.h"
#include "sdra/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PHRASES_MAX_BYTES (256u << 10)
#define SPEAKER_TEXT_MAX_BYTES (4u << 20) /* per speaker: more text than this is not read */
#define PLACEHOLDER_MAX 64

/* Lower-cases and reduces s to words separated by single spaces, with a space at both ends
 * (so " phrase " matching finds whole words). Keeps letters, digits, apostrophes, '{', '}'. */
static int normalise(sdra_buf *out, const char *s)
{
    if (sdra_buf_putc(out, ' ') < 0)
        return SDRA_ELIMIT;
    int sp = 1;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '\'' || c == '{' || c == '}' || c == '*' || c >= 0x80) {
            if (sdra_buf_putc(out, (char)tolower(c)) < 0)
                return SDRA_ELIMIT;
            sp = 0;
        } else if (!sp) {
            if (sdra_buf_putc(out, ' ') < 0)
                return SDRA_ELIMIT;
            sp = 1;
        }
    }
    if (!sp && sdra_buf_putc(out, ' ') < 0)
        return SDRA_ELIMIT;
    return 0;
}

/* Replaces {name} / {company} in the normalised phrase; returns 0, or 1 when a placeholder
 * has no value (skip the phrase). */
static int expand(sdra_buf *out, const char *ph, const char *name, const char *company)
{
    while (*ph) {
        const char *val = NULL;
        size_t skip = 0;
        if (!strncmp(ph, "{name}", 6)) {
            val = name;
            skip = 6;
        } else if (!strncmp(ph, "{company}", 9)) {
            val = company;
            skip = 9;
        }
        if (skip) {
            if (!val || !*val)
                return 1;
            sdra_buf tmp;
            sdra_buf_init(&tmp, PLACEHOLDER_MAX * 4);
            int rc = normalise(&tmp, val);
            if (rc == 0 && tmp.len > 2)
                rc = sdra_buf_append(out, tmp.data + 1, tmp.len - 2); /* without end spaces */
            sdra_buf_release(&tmp);
            if (rc < 0)
                return 1;
            ph += skip;
        } else {
            sdra_buf_putc(out, *ph++);
        }
    }
    return 0;
}

/* Next word of a normalised string at *p (skipping spaces): sets *len, returns its start or
 * NULL at the end. */
static const char *next_word(const char **p, size_t *len)
{
    const char *s = *p;
    while (*s == ' ')
        s++;
    if (!*s)
        return NULL;
    const char *e = s;
    while (*e && *e != ' ')
        e++;
    *len = (size_t)(e - s);
    *p = e;
    return s;
}

/* Does the normalised phrase occur in the normalised text as whole words? A '*' word in the
 * phrase matches any one word. */
static int phrase_in(const char *text, const char *phrase)
{
    if (!strchr(phrase, '*'))
        return strstr(text, phrase) != NULL;
    const char *start = text;
    size_t wl;
    while (next_word(&start, &wl)) {
        const char *t = start - wl, *ph = phrase;
        const char *pw, *tw;
        size_t pl, tl;
        int ok = 1;
        while (ok && (pw = next_word(&ph, &pl))) {
            if (!(tw = next_word(&t, &tl)))
                ok = 0;
            else if (!(pl == 1 && pw[0] == '*') && (pl != tl || memcmp(pw, tw, pl) != 0))
                ok = 0;
        }
        if (ok)
            return 1;
    }
    return 0;
}

/* ---- roles by name ------------------------------------------------------------------------ */

#define NAME_MAX_LETTERS 31

/* A phonetic key in the spirit of Soundex / Metaphone, small enough to read: letters only;
 * the first letter's sound kept, later vowels (and h, w, y) dropped; sounds that ASR and
 * spelling confuse share a class (b/p, f/v/ph, c/k/q/g/ck, s/z/soft c/x, d/t, m/n, j/soft g,
 * sh/ch/tio); repeats collapsed. "Diane", "Dian", "Dianne" -> "TN"; "Sheila", "Shela" -> "XL". */
static void name_key(const char *w, size_t n, char *key, size_t cap)
{
    size_t k = 0;
    char last = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        char c = (char)tolower((unsigned char)w[i]), nx = i + 1 < n ? (char)tolower((unsigned char)w[i + 1]) : 0;
        char o = 0;
        switch (c) {
        case 'a': case 'e': case 'i': case 'o': case 'u': case 'y': case 'h': case 'w':
            o = i == 0 ? 'A' : 0;
            break;
        case 'b': case 'p': o = c == 'p' && nx == 'h' ? 'F' : 'P'; break;
        case 'f': case 'v': o = 'F'; break;
        case 'c':
            o = nx == 'h' ? 'X' : (nx == 'e' || nx == 'i' || nx == 'y') ? 'S' : 'K';
            break;
        case 'k': case 'q': o = 'K'; break;
        case 'g': o = (nx == 'e' || nx == 'i' || nx == 'y') ? 'J' : 'K'; break;
        case 'j': o = 'J'; break;
        case 's': o = nx == 'h' ? 'X' : 'S'; break;
        case 'z': case 'x': o = 'S'; break;
        case 't': o = nx == 'h' ? '0' : (nx == 'i' && i + 2 < n && w[i + 2] == 'o') ? 'X' : 'T'; break;
        case 'd': o = 'T'; break;
        case 'm': case 'n': o = 'N'; break;
        case 'l': o = 'L'; break;
        case 'r': o = 'R'; break;
        default: o = 0;
        }
        if ((c == 'c' || c == 's' || c == 'p' || c == 't') && nx == 'h')
            i++; /* the digraph is one sound */
        if (o && o != last)
            key[k++] = o;
        if (o || (c != 'h' && c != 'w'))
            last = o; /* a vowel between two like consonants keeps both ("anna" is not "ana" ... both N) */
    }
    key[k] = 0;
}

/* Levenshtein distance of a[0..an) and b[0..bn), case-insensitive; both at most
 * NAME_MAX_LETTERS (longer inputs are compared on that prefix). */
static size_t edit_distance(const char *a, size_t an, const char *b, size_t bn)
{
    size_t row[NAME_MAX_LETTERS + 2];
    if (an > NAME_MAX_LETTERS)
        an = NAME_MAX_LETTERS;
    if (bn > NAME_MAX_LETTERS)
        bn = NAME_MAX_LETTERS;
    for (size_t j = 0; j <= bn; j++)
        row[j] = j;
    for (size_t i = 1; i <= an; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= bn; j++) {
            size_t up = row[j];
            size_t sub = diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            diag = up;
        }
    }
    return row[bn];
}

int sdra_roles_name_match(const char *heard, size_t heard_len, const char *name, size_t name_len)
{
    if (!heard_len || !name_len || heard_len > NAME_MAX_LETTERS || name_len > NAME_MAX_LETTERS)
        return 0;
    size_t d = edit_distance(heard, heard_len, name, name_len);
    if (d == 0)
        return 1;
    if (name_len < 3)
        return 0; /* "Al", "Ed": only the exact word */
    char hk[NAME_MAX_LETTERS + 1], nk[NAME_MAX_LETTERS + 1];
    name_key(heard, heard_len, hk, sizeof hk);
    name_key(name, name_len, nk, sizeof nk);
    size_t allowed = name_len / 3 > 1 ? name_len / 3 : 1;
    if (!strcmp(hk, nk) && strlen(nk) >= 2 && d <= allowed)
        return 1;
    return name_len >= 5 && d <= 1; /* one letter off a longer name, whatever the key */
}

/* Introductions and forms of address, on normalised text. The name is the word after the
 * pattern (or that word joined with the next: ASR splits names, "she la"). */
static const char *const self_patterns[] = {" i'm ", " im ", " i am ", " this is ", " my name is ",
                                            " it's ", " its ", " name's ", NULL};
static const char *const address_patterns[] = {" hi ", " hello ", " hey ", " thanks ", " thank you ",
                                               " is this ", " morning ", " afternoon ", " bye ", NULL};

/* Does the name (any word of it of three letters or more, or a shorter one-word name) follow
 * at p (a normalised text position after a pattern)? Copies the heard words to heard. */
static int name_at(const char *p, const char *name, char *heard, size_t cap)
{
    size_t l1;
    const char *q = p, *w1 = next_word(&q, &l1);
    if (!w1)
        return 0;
    size_t l2 = 0;
    const char *q2 = q, *w2 = next_word(&q2, &l2);
    for (const char *n = name; *n;) {
        while (*n && !isalpha((unsigned char)*n))
            n++;
        const char *s = n;
        while (*n && (isalpha((unsigned char)*n) || *n == '\''))
            n++;
        size_t nl = (size_t)(n - s);
        if (!nl || (nl < 3 && s != name))
            continue;
        if (sdra_roles_name_match(w1, l1, s, nl)) {
            snprintf(heard, cap, "%.*s", (int)l1, w1);
            return 1;
        }
        if (w2 && l1 + l2 <= NAME_MAX_LETTERS && l1 < nl) {
            char j[NAME_MAX_LETTERS * 2 + 1];
            memcpy(j, w1, l1);
            memcpy(j + l1, w2, l2);
            if (sdra_roles_name_match(j, l1 + l2, s, nl) && edit_distance(j, l1 + l2, s, nl) < nl / 3 + 1) {
                snprintf(heard, cap, "%.*s %.*s", (int)l1, w1, (int)l2, w2);
                return 1;
            }
        }
    }
    return 0;
}

/* Adds to *score the evidence in a speaker's normalised text that they are the rep (> 0) or
 * the contact (< 0): naming themself 3, addressing the other party 2, each pattern and name
 * once. The first piece of evidence goes to evidence. */
static void name_evidence(const char *text, const char *rep, const char *contact, long *score,
                          char *evidence, size_t cap)
{
    struct { const char *const *pats; int self; } kinds[] = {{self_patterns, 1}, {address_patterns, 0}};
    for (int k = 0; k < 2; k++)
        for (const char *const *pat = kinds[k].pats; *pat; pat++)
            for (int who = 0; who < 2; who++) { /* 0: the rep's name, 1: the contact's */
                const char *name = who ? contact : rep;
                if (!name || !*name)
                    continue;
                for (const char *at = strstr(text, *pat); at; at = strstr(at + 1, *pat)) {
                    char heard[2 * NAME_MAX_LETTERS + 2];
                    if (!name_at(at + strlen(*pat) - 1, name, heard, sizeof heard))
                        continue;
                    /* naming oneself as the rep, or addressing the contact: the rep */
                    int rep_side = kinds[k].self ? who == 0 : who == 1;
                    *score += (rep_side ? 1 : -1) * (kinds[k].self ? 3 : 2);
                    if (!*evidence)
                        snprintf(evidence, cap, "said '%.*s %s'", (int)strlen(*pat) - 2, *pat + 1, heard);
                    break;
                }
            }
    /* "X here": the name before the pattern */
    for (int who = 0; who < 2; who++) {
        const char *name = who ? contact : rep;
        if (!name || !*name)
            continue;
        for (const char *at = strstr(text, " here "); at; at = strstr(at + 1, " here ")) {
            const char *b = at;
            while (b > text && b[-1] != ' ')
                b--;
            if (b == at)
                continue;
            char word[NAME_MAX_LETTERS + 2], heard[2 * NAME_MAX_LETTERS + 2];
            snprintf(word, sizeof word, " %.*s ", (int)(at - b) < NAME_MAX_LETTERS ? (int)(at - b) : NAME_MAX_LETTERS, b);
            if (!name_at(word, name, heard, sizeof heard))
                continue;
            *score += who == 0 ? 3 : -3;
            if (!*evidence)
                snprintf(evidence, cap, "said '%s here'", heard);
            break;
        }
    }
}

/* Decides the roles from the names when the evidence is clear: the speaker with the highest
 * positive total is the rep; or, when no total is positive, with two speakers, the other one
 * than the single speaker shown to be the contact. Returns 1 when decided (roles set). */
static int decide_by_names(sdra_transcript *t, const sdra_roles_params *p, const sdra_buf *text)
{
    size_t ns = t->n_speakers;
    long sc[64] = {0};
    char ev[64][96];
    if (ns > 64)
        return 0;
    for (size_t s = 0; s < ns; s++) {
        ev[s][0] = 0;
        if (text[s].data)
            name_evidence(text[s].data, p->rep_name, p->contact_name, &sc[s], ev[s], sizeof ev[s]);
    }
    size_t rep = ns, neg = ns, n_neg = 0;
    for (size_t s = 0; s < ns; s++) {
        if (sc[s] > 0 && (rep == ns || sc[s] > sc[rep]))
            rep = s;
        else if (sc[s] > 0 && sc[s] == sc[rep])
            return 0; /* two speakers claim the rep's side equally: not clear */
        if (sc[s] < 0) {
            neg = s;
            n_neg++;
        }
    }
    if (rep == ns && ns == 2 && n_neg == 1)
        rep = 1 - neg;
    if (rep == ns)
        return 0;
    for (size_t s = 0; s < ns; s++) {
        t->speakers[s].role = s == rep ? SDRA_ROLE_REP : SDRA_ROLE_PROSPECT;
        sdra_strlcpy(t->speakers[s].role_by, "names", sizeof t->speakers[s].role_by);
        if (ev[s][0])
            sdra_strlcpy(t->speakers[s].role_evidence, ev[s], sizeof t->speakers[s].role_evidence);
        else
            snprintf(t->speakers[s].role_evidence, sizeof t->speakers[s].role_evidence,
                     "the other party %s", s == rep ? "is the contact" : "is the rep");
    }
    return 1;
}

static double first_start(const sdra_transcript *t, size_t s)
{
    double best = 1e300;
    for (size_t i = 0; i < t->n_utts; i++)
        if (t->utts[i].speaker == (int)s && t->utts[i].start < best)
            best = t->utts[i].start;
    return best;
}

static int utt_text(sdra_buf *b, const sdra_utterance *u)
{
    if (u->text)
        return normalise(b, u->text);
    for (size_t w = 0; w < u->n_words; w++)
        if (normalise(b, u->words[w].w) < 0)
            return SDRA_ELIMIT;
    return 0;
}

int sdra_roles_assign(sdra_transcript *t, const sdra_roles_params *p, sdra_error *err)
{
    int rc = SDRA_OK;
    char *phr = NULL;
    sdra_buf *text = NULL;
    long *score = NULL;
    sdra_roles_params def = {.rep_channel = -1};
    if (!p)
        p = &def;
    if (!t)
        return sdra_error_set(err, SDRA_EINVAL, "roles: no transcript");
    size_t ns = t->n_speakers;
    if (ns == 0)
        return SDRA_OK;

    if (p->rep_channel >= 0) {
        int found = 0;
        for (size_t s = 0; s < ns; s++)
            found |= t->speakers[s].channel == p->rep_channel;
        if (found) {
            for (size_t s = 0; s < ns; s++) {
                t->speakers[s].role =
                    t->speakers[s].channel == p->rep_channel ? SDRA_ROLE_REP : SDRA_ROLE_PROSPECT;
                sdra_strlcpy(t->speakers[s].role_by, "channel", sizeof t->speakers[s].role_by);
                snprintf(t->speakers[s].role_evidence, sizeof t->speakers[s].role_evidence,
                         "the rep's channel is %s", p->rep_channel ? "right" : "left");
            }
            return SDRA_OK;
        }
        sdra_log(SDRA_LOG_INFO, "roles: no speaker on channel %d; deciding by text",
                 p->rep_channel);
    }

    char path[1024];
    size_t plen = 0;
    if (sdra_share_path(path, sizeof path, "roles/rep-phrases.txt") < 0)
        return sdra_error_set(err, SDRA_ELIMIT, "roles: data directory path too long");
    if ((rc = sdra_file_read(&phr, &plen, path, PHRASES_MAX_BYTES, err)) < 0)
        return rc;

    text = calloc(ns, sizeof *text);
    score = calloc(ns, sizeof *score);
    if (!text || !score) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "roles: out of memory");
        goto done;
    }
    for (size_t s = 0; s < ns; s++)
        sdra_buf_init(&text[s], SPEAKER_TEXT_MAX_BYTES);
    for (size_t i = 0; i < t->n_utts; i++) {
        int s = t->utts[i].speaker;
        if (s < 0 || (size_t)s >= ns)
            continue;
        utt_text(&text[s], &t->utts[i]); /* ELIMIT: the first 4 MiB decide */
    }
    if ((p->rep_name || p->contact_name) && decide_by_names(t, p, text))
        goto done;

    int lineno = 0;
    for (char *line = phr, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        while (*line == ' ' || *line == '\t')
            line++;
        if (!*line || *line == '#' || *line == '\r')
            continue;
        char *end;
        long w = strtol(line, &end, 10);
        if (end == line || (*end != ' ' && *end != '\t')) {
            rc = sdra_error_set(err, SDRA_EINVAL, "%s:%d: expected '<weight> <phrase>'", path,
                                lineno);
            goto done;
        }
        sdra_buf norm, ph;
        sdra_buf_init(&norm, 4096);
        sdra_buf_init(&ph, 4096);
        int skip = normalise(&norm, end) < 0 || norm.len < 3 ||
                   expand(&ph, norm.data, p->rep_name, p->company) != 0;
        if (!skip)
            for (size_t s = 0; s < ns; s++)
                if (text[s].data && phrase_in(text[s].data, ph.data))
                    score[s] += w;
        sdra_buf_release(&norm);
        sdra_buf_release(&ph);
    }

    size_t rep = ns;
    for (size_t s = 0; s < ns; s++) {
        if (score[s] <= 0)
            continue;
        if (rep == ns || score[s] > score[rep] ||
            (score[s] == score[rep] && first_start(t, s) < first_start(t, rep)))
            rep = s;
    }
    const char *by = "phrases";
    if (rep == ns) { /* nothing decided: the first to speak */
        by = "first_speaker";
        rep = 0;
        for (size_t s = 1; s < ns; s++)
            if (first_start(t, s) < first_start(t, rep))
                rep = s;
    }
    for (size_t s = 0; s < ns; s++) {
        t->speakers[s].role = s == rep ? SDRA_ROLE_REP : SDRA_ROLE_PROSPECT;
        sdra_strlcpy(t->speakers[s].role_by, by, sizeof t->speakers[s].role_by);
        if (*by == 'p')
            snprintf(t->speakers[s].role_evidence, sizeof t->speakers[s].role_evidence,
                     "rep-phrase score %ld", score[s]);
        else
            t->speakers[s].role_evidence[0] = '\0';
    }
done:
    if (text)
        for (size_t s = 0; s < ns; s++)
            sdra_buf_release(&text[s]);
    free(text);
    free(score);
    free(phr);
    return rc;
}
