/*
 * roles.c - sdra_roles_assign(): which speaker is the rep and which are prospects.
 *
 * Stereo with a known rep channel: by channel. Otherwise by text, with the weighted phrase list
 * in data/roles/rep-phrases.txt (format in that file; rules in docs/diarization.md#roles): each
 * speaker's words are normalised (lower case, punctuation removed) and every phrase found in
 * them adds its weight once. The speaker with the highest positive score is the rep, unique
 * ties broken by who spoke first; with no positive score the first speaker is the rep (the
 * caller usually speaks first). Every other speaker is a prospect.
 */
#include "sdra/diarize.h"
#include "sdra/buf.h"
#include "sdra/log.h"
#include "sdra/util.h"

#include <ctype.h>
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
            for (size_t s = 0; s < ns; s++)
                t->speakers[s].role =
                    t->speakers[s].channel == p->rep_channel ? SDRA_ROLE_REP : SDRA_ROLE_PROSPECT;
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
    if (rep == ns) { /* nothing decided: the first to speak */
        rep = 0;
        for (size_t s = 1; s < ns; s++)
            if (first_start(t, s) < first_start(t, rep))
                rep = s;
    }
    for (size_t s = 0; s < ns; s++)
        t->speakers[s].role = s == rep ? SDRA_ROLE_REP : SDRA_ROLE_PROSPECT;
done:
    if (text)
        for (size_t s = 0; s < ns; s++)
            sdra_buf_release(&text[s]);
    free(text);
    free(score);
    free(phr);
    return rc;
}
