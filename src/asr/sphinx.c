/*
 * src/asr/sphinx.c - the embedded ASR backend: PocketSphinx (5prealpha) in process.
 *
 * Model: the en-us acoustic model and dictionary, and the generic en-us n-gram model linearly
 * interpolated (sphinxbase ngram_model_set) with a domain model (data/asr/sales.lm, built by
 * scripts/build-lm.py from data/asr/sales-corpus.txt), plus the user's vocabulary words.
 *
 * Endpointing is the decoder's own voice-activity detector, as pocketsphinx_continuous uses it:
 * PCM goes in blocks; when the detector has left speech at the end of a block the utterance is
 * ended and its words (from the segment iterator, 10 ms frames, absolute within the stream)
 * are queued. The blocks are 0.1 s, not pocketsphinx_continuous's 2048 samples: the detector
 * needs 10 frames of speech to re-enter speech, so in a block of at most 10 frames it cannot
 * leave and re-enter speech unseen. In a longer block it can, and the decoder then carries on
 * the utterance but restarts its frame clock at the new speech, so every word said before is
 * stamped seconds too late (seen on the generated calls: a 15 s utterance moved by 5.6 s, its
 * words sorted into the next speaker's). An utterance cut at max_utterance_s restarts the
 * detector too, so its successor's times are right as well.
 *
 * A decoder is not thread-safe; each state owns one. Model loading is serialised by a mutex
 * because sphinxbase keeps a little global state (its logger), which is silenced once.
 */
#include "asr/internal.h"
#include "sdra/log.h"
#include "sdra/util.h"

#include <pocketsphinx.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/err.h>
#include <sphinxbase/fe.h>
#include <sphinxbase/feat.h>
#include <sphinxbase/ngram_model.h>

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FEED_BLOCK 1600   /* samples per decoder call (see decode_block) */
#define FRAMES_PER_S 100.0 /* sphinx frame rate */
#define MAX_CEP 64
#define SDRA_ASR_VOCAB_WEIGHT 0.05f /* interpolation weight of the user-vocabulary model */
/* Hints (call-sheet names, --hints) the generic model lacks have a model of their own, weighted
 * so that each gets about this probability wherever it could occur: enough to bring the name,
 * little enough not to be heard where nobody says it; hints the generic model knows are not
 * boosted at all. In the vocabulary model they had
 * 0.05 / (n + 1), about 0.01 each, and "carter" and "alex" were inserted into real calls that
 * never said them (issue 12). $SDRA_HINT_WORD_P (1e-6..0.05) overrides it: a measuring knob
 * (scripts/measure-hints.sh). */
#define SDRA_ASR_HINT_WORD_P 0.001
#define SDRA_SPHINX_MAXHMMPF "10000" /* active HMMs per frame (see sphinx_create) */
/* The narrowband model scores the 8 best Gaussians of each codebook a frame, not 4: on real
 * telephone speech (2,053 words of recorded prompts through the telephone channel, 1,172 as
 * recorded at 8 kHz) 5-7 % fewer errors, for about 17 % more decoding CPU; at 16 kHz no gain
 * (docs/asr.md, "Real recorded speech at 8 kHz"). */
#define SDRA_SPHINX_NARROWBAND_TOPN "8"
/* fast_search: the first pass alone (no flat-lexicon second pass, no lattice best path), with
 * narrower beams (defaults 1e-48, 1e-48, 7e-29) and at most 3000 active HMMs a frame. */
#define SDRA_SPHINX_FAST_MAXHMMPF "3000"
#define SDRA_SPHINX_FAST_BEAM "1e-40"
#define SDRA_SPHINX_FAST_WBEAM "1e-30"

typedef struct sphinx_state {
    ps_decoder_t *ps;
    cmd_ln_t *config;
    logmath_t *lmath; /* the language models' (the decoder has its own, equal one) */
    sdra_asr_queue queue;
    /* live CMN state right after loading, restored at each stream start so that the same
       audio gives the same words whatever this decoder saw before (worker independence) */
    mfcc_t cmn_mean[MAX_CEP], cmn_sum[MAX_CEP];
    int32 cmn_nframe;
    bool streaming, in_utt, utt_speech;
    int64_t utt_speech_samples; /* samples fed since the detector entered speech */
    int64_t max_utt_samples;
    int16_t block[FEED_BLOCK]; /* PCM waiting for a whole block */
    size_t n_block;
    int64_t primed_frames; /* frames the front end counted while priming: taken off times */
    bool dither;           /* narrowband model: dither the PCM (see dither()) */
    uint32_t dither_state; /* its generator, restarted with every stream */
    char describe[256];
    char *mllr; /* the transform the means are under now (sdra_asr_set_mllr), or NULL */
} sphinx_state;

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void silence_sphinx_log(void)
{
    err_set_logfp(NULL);
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void sphinx_destroy(void *state)
{
    sphinx_state *s = state;
    if (!s)
        return;
    sdra_asr_queue_release(&s->queue);
    if (s->ps)
        ps_free(s->ps);
    if (s->config)
        cmd_ln_free_r(s->config);
    if (s->lmath)
        logmath_free(s->lmath);
    free(s->mllr);
    free(s);
}

/* Word list of the vocabulary model (sorted, unique at the end). */
typedef struct wordlist {
    char **w;
    size_t n, cap;
} wordlist;

static void wordlist_release(wordlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->w[i]);
    free(l->w);
    memset(l, 0, sizeof *l);
}

/* Appends a copy of w to l. */
static int wordlist_add(wordlist *l, const char *w)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        char **nw = realloc(l->w, ncap * sizeof *nw);
        if (!nw)
            return SDRA_ENOMEM;
        l->w = nw;
        l->cap = ncap;
    }
    if (!(l->w[l->n] = strdup(w)))
        return SDRA_ENOMEM;
    l->n++;
    return 0;
}

static bool wordlist_has(const wordlist *l, const char *w)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->w[i], w))
            return true;
    return false;
}

/* Adds the words of a vocabulary file (path names it in messages) to the dictionary
 * (ps_add_word) and, when lm_words is not NULL, to the list that becomes the vocabulary
 * language model. A word without phones
 * must already be in the dictionary. (sphinxbase's ngram_model_add_word corrupts memory on
 * trie models, so words reach the LM through a small model of their own instead.) */
static int add_vocab(sphinx_state *s, const sdra_asr_vocab *v, const char *path,
                     wordlist *lm_words, sdra_error *err)
{
    int rc = 0;
    for (size_t i = 0; i < v->n_entries; i++) {
        const sdra_asr_vocab_entry *e = &v->entries[i];
        char *known = ps_lookup_word(s->ps, e->word);
        if (!e->phones && !known) {
            rc = sdra_error_set(err, SDRA_EINVAL,
                                "%s:%d: '%s' has no pronunciation and is not in the dictionary; "
                                "give its phones (see docs/vocabulary.md)",
                                path, e->line, e->word);
            goto done;
        }
        if (e->phones) {
            char name[SDRA_ASR_WORD_MAX + 8];
            snprintf(name, sizeof name, "%s", e->word);
            /* An existing word gets the pronunciation as an alternate: word(2), word(3)... */
            for (int alt = 2; known && alt < 100; alt++) {
                ckd_free(known);
                snprintf(name, sizeof name, "%s(%d)", e->word, alt);
                known = ps_lookup_word(s->ps, name);
            }
            ckd_free(known);
            known = NULL;
            if (ps_add_word(s->ps, name, e->phones, FALSE) < 0) {
                rc = sdra_error_set(err, SDRA_EINVAL, "%s:%d: the decoder refused '%s %s'",
                                    path, e->line, e->word, e->phones);
                goto done;
            }
        }
        ckd_free(known);
        if (lm_words && wordlist_add(lm_words, e->word) < 0) {
            rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
            goto done;
        }
    }
done:
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A unigram model over the user's words (uniform), read back through a temporary ARPA file:
 * interpolated with a small weight it makes those words likely wherever they occur. */
static ngram_model_t *vocab_model(sphinx_state *s, wordlist *l, sdra_error *err)
{
    if (l->n > 1)
        qsort(l->w, l->n, sizeof *l->w, cmp_str);
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        if (!n || strcmp(l->w[n - 1], l->w[i]))
            l->w[n++] = l->w[i];
        else
            free(l->w[i]);
    l->n = n;
    char path[PATH_MAX];
    int keep_fd;
    FILE *f = sdra_asr_private_file(path, sizeof path, "sdra-vocab", &keep_fd);
    if (!f) {
        sdra_error_set(err, SDRA_EIO, "%s: cannot write the vocabulary model", path);
        return NULL;
    }
    double lp = log10(1.0 / (double)(n + 1));
    fprintf(f, "\\data\\\nngram 1=%zu\n\n\\1-grams:\n-99.0 <s>\n%.6f </s>\n", n + 2, lp);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%.6f %s\n", lp, l->w[i]);
    fprintf(f, "\n\\end\\\n");
    bool bad = ferror(f) != 0;
    bad |= fclose(f) != 0;
    ngram_model_t *m = bad ? NULL : ngram_model_read(s->config, path, NGRAM_ARPA, s->lmath);
    sdra_asr_private_file_done(path, keep_fd);
    if (!m)
        sdra_error_set(err, SDRA_EIO, "cannot build the vocabulary language model");
    return m;
}

/* The words of the hint phrases: lower-cased runs of letters and apostrophes, each once, at
 * most SDRA_ASR_MAX_HINT_WORDS. Words under HINT_MIN_LETTERS letters are left out: made likely,
 * a short name sounds like too much else ("lee" turned up for "-ly" and "he" on read speech
 * that never said it), while the long ones it would miss are exactly what it brings. */
#define HINT_MIN_LETTERS 4
static int hint_words(const sdra_asr_params *p, wordlist *out)
{
    for (int i = 0; i < SDRA_ASR_HINT_PHRASES; i++) {
        const char *t = p->hints[i];
        while (t && *t) {
            char w[SDRA_ASR_WORD_MAX];
            size_t n = 0;
            while (*t && !isalpha((unsigned char)*t))
                t++;
            while (*t && (isalpha((unsigned char)*t) || *t == '\'')) {
                if (n + 1 < sizeof w)
                    w[n++] = (char)tolower((unsigned char)*t);
                t++;
            }
            while (n && w[n - 1] == '\'')
                n--;
            w[n] = 0;
            if (n < HINT_MIN_LETTERS || wordlist_has(out, w))
                continue;
            if (out->n >= SDRA_ASR_MAX_HINT_WORDS)
                return 0;
            if (wordlist_add(out, w) < 0)
                return SDRA_ENOMEM;
        }
    }
    return 0;
}

/* Spells w (not in the dictionary) from dictionary words it is made of: the split into the
 * fewest parts of three letters or more (at most four), ties going to the longer first part;
 * phones is the parts' first pronunciations joined. False when there is no such split. */
static bool compound_phones(ps_decoder_t *ps, const char *w, char *phones, size_t cap)
{
    enum { MAXP = 4, MINLEN = 3 };
    size_t n = strlen(w);
    int best[SDRA_ASR_WORD_MAX + 1], from[SDRA_ASR_WORD_MAX + 1];
    if (n > SDRA_ASR_WORD_MAX || n < 2 * MINLEN)
        return false;
    for (size_t i = 0; i <= n; i++)
        best[i] = MAXP + 1;
    best[0] = 0;
    for (size_t i = MINLEN; i <= n; i++)
        for (size_t j = 0; j + MINLEN <= i; j++) { /* j ascending: the longest part last wins ties */
            if (best[j] >= MAXP || best[j] + 1 >= best[i])
                continue;
            char part[SDRA_ASR_WORD_MAX + 1];
            memcpy(part, w + j, i - j);
            part[i - j] = 0;
            char *pr = ps_lookup_word(ps, part);
            if (pr) {
                best[i] = best[j] + 1;
                from[i] = (int)j;
                ckd_free(pr);
            }
        }
    if (best[n] > MAXP)
        return false;
    size_t cut[MAXP + 1], k = 0;
    for (size_t i = n; i > 0; i = (size_t)from[i])
        cut[k++] = i;
    phones[0] = 0;
    size_t len = 0, j = 0;
    while (k--) {
        char part[SDRA_ASR_WORD_MAX + 1];
        memcpy(part, w + j, cut[k] - j);
        part[cut[k] - j] = 0;
        char *pr = ps_lookup_word(ps, part);
        int m = snprintf(phones + len, cap - len, "%s%s", len ? " " : "", pr ? pr : "");
        ckd_free(pr);
        if (m < 0 || (size_t)m >= cap - len)
            return false;
        len += (size_t)m;
        j = cut[k];
    }
    return len > 0;
}

/* Makes the hint words known to the decoder (spelling those the dictionary lacks) and adds
 * them to the vocabulary model's list. Returns how many made it. */
static int add_hints(sphinx_state *s, const wordlist *hints, wordlist *lm_words, sdra_error *err)
{
    int added = 0;
    for (size_t i = 0; i < hints->n; i++) {
        const char *w = hints->w[i];
        char *known = ps_lookup_word(s->ps, w);
        if (!known) {
            char phones[512];
            if (!compound_phones(s->ps, w, phones, sizeof phones)) {
                sdra_log(SDRA_LOG_DEBUG, "asr: hint '%s': no pronunciation, left out", w);
                continue;
            }
            if (ps_add_word(s->ps, w, phones, FALSE) < 0)
                continue;
            sdra_log(SDRA_LOG_DEBUG, "asr: hint '%s' spelled %s", w, phones);
        }
        ckd_free(known);
        if (!wordlist_has(lm_words, w) && wordlist_add(lm_words, w) < 0)
            return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        added++;
    }
    return added;
}

/* Writes the pronunciation dictionary the decoder loads to a new private temporary file (path;
 * the caller hands it to sdra_asr_private_file_done with *keep_fd after a success, a failure
 * leaves none): the lines of the full dictionary
 * whose word (alternates included) is in one of the language models, is a vocabulary word
 * without phones of its own, or is a hint. PocketSphinx
 * builds search structures for every dictionary word, yet a word no model knows can never be
 * recognized: cmudict has 134,723 words and en-us.lm.bin 72,547, so this keeps the same
 * recognizer in about 12 MB less per decoder (the words found are the same). */
static int restricted_dict(char *path, size_t path_len, int *keep_fd, const char *full,
                           ngram_model_t *const *lms, int n_lms, const sdra_asr_vocab *user,
                           const wordlist *hints, sdra_error *err)
{
    int rc = 0;
    /* the words kept although no model has them, sorted for bsearch (borrowed strings) */
    size_t n_extra = 0;
    const char **extra = malloc((hints->n + (user ? user->n_entries : 0) + 1) * sizeof *extra);
    if (!extra)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    for (size_t i = 0; user && i < user->n_entries; i++)
        if (!user->entries[i].phones)
            extra[n_extra++] = user->entries[i].word;
    for (size_t i = 0; i < hints->n; i++)
        extra[n_extra++] = hints->w[i];
    qsort(extra, n_extra, sizeof *extra, cmp_str);
    FILE *in = fopen(full, "r");
    if (!in) {
        free(extra);
        return sdra_error_set(err, SDRA_ENOTFOUND, "%s: cannot read the dictionary", full);
    }
    FILE *out = sdra_asr_private_file(path, path_len, "sdra-dict", keep_fd);
    if (!out) {
        free(extra);
        fclose(in);
        return sdra_error_set(err, SDRA_EIO, "%s: cannot write the decoder's dictionary", path);
    }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) > 0) {
        char w[SDRA_ASR_WORD_MAX * 2];
        size_t k = 0;
        while (line[k] && line[k] != '(' && line[k] != ' ' && line[k] != '\t' && line[k] != '\n' &&
               k + 1 < sizeof w) {
            w[k] = line[k];
            k++;
        }
        w[k] = 0;
        if (k == 0)
            continue;
        bool keep = false;
        for (int i = 0; !keep && i < n_lms; i++)
            keep = ngram_wid(lms[i], w) != ngram_unknown_wid(lms[i]);
        const char *key = w;
        if (!keep && n_extra)
            keep = bsearch(&key, extra, n_extra, sizeof *extra, cmp_str) != NULL;
        if (keep)
            fputs(line, out);
    }
    free(line);
    free(extra);
    if (ferror(in))
        rc = sdra_error_set(err, SDRA_EIO, "%s: cannot read the dictionary", full);
    fclose(in);
    if ((ferror(out) | (fclose(out) != 0)) && rc == 0)
        rc = sdra_error_set(err, SDRA_EIO, "%s: cannot write the decoder's dictionary", path);
    if (rc < 0)
        sdra_asr_private_file_done(path, *keep_fd);
    return rc;
}

/* The build's merged model for the default domain model at this weight (file name
 * asr/sales.merged-<weight>.lm.bin, in the share dir, else in the build tree): true with its
 * path in out. */
static bool merged_model(char *out, size_t n, float weight)
{
    char rel[64], path[PATH_MAX];
    snprintf(rel, sizeof rel, "asr/sales.merged-%g.lm.bin", (double)weight); /* 0.051 is not 0.05 */
    bool found = sdra_share_path(path, sizeof path, rel) == 0 && file_exists(path);
#ifdef SDRA_BUILD_DATA_DIR
    if (!found)
        found = (size_t)snprintf(path, sizeof path, "%s/%s", SDRA_BUILD_DATA_DIR, rel) < sizeof path &&
                file_exists(path);
#endif
    return found && sdra_strlcpy(out, path, n) < n;
}

static int sphinx_create(void **out, const sdra_asr_params *p, sdra_error *err)
{
    int rc = 0;
    char hmm[PATH_MAX], lmpath[PATH_MAX], dict[PATH_MAX], domain[PATH_MAX], lex[PATH_MAX];
    char dict_tmp[PATH_MAX] = "";
    sdra_asr_vocab *lex_v = NULL, *user_v = NULL;
    ngram_model_t *lms[4] = {NULL, NULL, NULL, NULL}, *set = NULL;
    int n_lms = 0;
    wordlist words = {0}, hints = {0}, hint_lm = {0};
    int n_hints = 0;
    sphinx_state *s = NULL;
    const char *mdir = p->model_dir ? p->model_dir : SDRA_SPHINX_MODELDIR "/en-us";

    pthread_once(&log_once, silence_sphinx_log);
    pthread_mutex_lock(&load_lock);
    if (p->rate_hz != 16000) {
        rc = sdra_error_set(err, SDRA_EINVAL, "sphinx: PCM must be 16000 Hz, not %d", p->rate_hz);
        goto done;
    }
    if (p->domain_weight < 0 || p->domain_weight > 0.9) {
        rc = sdra_error_set(err, SDRA_EINVAL, "sphinx: domain weight %.2f is not in 0..0.9",
                            p->domain_weight);
        goto done;
    }
    sdra_asr_hmm_dir(p, hmm, sizeof hmm);
    snprintf(lmpath, sizeof lmpath, "%s/en-us.lm.bin", mdir);
    snprintf(dict, sizeof dict, "%s/cmudict-en-us.dict", mdir);
    const char *need[] = {hmm, lmpath, dict};
    for (int i = 0; i < 3; i++)
        if (!file_exists(need[i])) {
            rc = sdra_error_set(err, SDRA_ENOTFOUND, "%s: speech model file not found", need[i]);
            goto done;
        }
    domain[0] = 0;
    if (!p->domain_lm_path)
        sdra_share_path(domain, sizeof domain, "asr/sales.lm");
    else
        sdra_strlcpy(domain, p->domain_lm_path, sizeof domain);
    if (p->domain_weight == 0)
        domain[0] = 0;
    if (domain[0] && !file_exists(domain)) {
        rc = sdra_error_set(err, SDRA_ENOTFOUND, "%s: domain language model not found", domain);
        goto done;
    }
    /* The default mixture, written once by the build (sdra_asr_lm_merge), saves scoring two
       models at every word; other weights or models are mixed here. */
    bool merged = domain[0] && !p->domain_lm_path && merged_model(lmpath, sizeof lmpath, p->domain_weight);

    s = calloc(1, sizeof *s);
    if (!s) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }
    /* -maxhmmpf: at most 10000 active HMMs a frame (default 30000). The cap only bites in the
       frames where the search spreads widest; it evaluated 8 % fewer HMMs on a generated call
       and changed no word on LibriVox, jfk, pyannote-sample or the generated calls, clean or
       as telephone audio; 8500 and 7000 lost words on the telephone calls (docs/asr.md). */
    {
        /* $SDRA_SPHINX_SEARCH_ARGS ("-beam 1e-40 -ds 2"): decoder arguments added to every
           recognizer's, after the fast search's: a measuring knob (bench/live-search.sh), at
           most 16 pairs; later arguments win. */
        const char *argv[64] = {"-hmm", hmm, "-samprate", "16000", "-maxhmmpf", SDRA_SPHINX_MAXHMMPF};
        int argc = 6;
        if (p->fast_search) { /* a live call that fell behind (docs/live.md, "Degraded mode") */
            const char *fast[] = {"-maxhmmpf", SDRA_SPHINX_FAST_MAXHMMPF, "-beam", SDRA_SPHINX_FAST_BEAM,
                                  "-pbeam", SDRA_SPHINX_FAST_BEAM, "-wbeam", SDRA_SPHINX_FAST_WBEAM,
                                  "-fwdflat", "no", "-bestpath", "no"};
            for (size_t i = 0; i < sizeof fast / sizeof fast[0]; i++)
                argv[argc++] = fast[i];
        } else if (p->hmm_dir) {
            argv[argc++] = "-topn";
            argv[argc++] = SDRA_SPHINX_NARROWBAND_TOPN;
        }
        if (p->mllr_path) { /* this recording's transform (src/asr/adapt.c) */
            argv[argc++] = "-mllr";
            argv[argc++] = p->mllr_path;
            s->mllr = strdup(p->mllr_path); /* NULL only means a later set reloads it */
        }
        const char *env = getenv("SDRA_SPHINX_SEARCH_ARGS");
        if (env && *env && strlen(env) < sizeof s->describe) {
            sdra_strlcpy(s->describe, env, sizeof s->describe); /* scratch until the end */
            for (char *sp = NULL, *tok = strtok_r(s->describe, " \t", &sp); tok && argc < 62; tok = strtok_r(NULL, " \t", &sp))
                argv[argc++] = tok;
            if (argc % 2) {
                rc = sdra_error_set(err, SDRA_EINVAL, "SDRA_SPHINX_SEARCH_ARGS: name and value pairs expected");
                goto done;
            }
        }
        s->config = cmd_ln_parse_r(NULL, ps_args(), argc, (char **)argv, FALSE);
    }
    if (!s->config) {
        rc = sdra_error_set(err, SDRA_EINTERNAL, "sphinx: bad decoder configuration");
        goto done;
    }
    /* The models are read before the decoder exists, so that its dictionary can be limited to
       their words; their log base is the one ps_init gives the decoder (same base, same table
       use: the same integer scores). */
    s->lmath = logmath_init((float64)cmd_ln_float32_r(s->config, "-logbase"), 0,
                            cmd_ln_boolean_r(s->config, "-bestpath"));
    if (!s->lmath) {
        rc = sdra_error_set(err, SDRA_EINTERNAL, "sphinx: bad log base");
        goto done;
    }
    if (!(lms[n_lms++] = ngram_model_read(s->config, lmpath, NGRAM_AUTO, s->lmath))) {
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: cannot load the language model", lmpath);
        goto done;
    }
    float32 w[4] = {1.0f, 0, 0, 0};
    const char *names[4] = {"generic", "domain", "vocabulary", "hints"};
    if (domain[0]) {
        if (!merged && !(lms[n_lms] = ngram_model_read(s->config, domain, NGRAM_ARPA, s->lmath))) {
            rc = sdra_error_set(err, SDRA_EINVAL, "%s: not a valid ARPA language model", domain);
            goto done;
        }
        if (!merged)
            w[n_lms++] = p->domain_weight;
        /* The domain model's own pronunciations (<model>.dict beside <model>.lm); its words
           are in the domain model already. */
        size_t dl = strlen(domain);
        if (dl > 3 && !strcmp(domain + dl - 3, ".lm") && dl + 3 < sizeof lex) {
            snprintf(lex, sizeof lex, "%.*s.dict", (int)(dl - 3), domain);
            if (file_exists(lex) && (rc = sdra_asr_vocab_load(&lex_v, lex, err)) < 0)
                goto done;
        }
    }
    if (p->vocab_path && (rc = sdra_asr_vocab_load(&user_v, p->vocab_path, err)) < 0)
        goto done;
    if (hint_words(p, &hints) < 0) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }
    int dict_fd = -1;
    if ((rc = restricted_dict(dict_tmp, sizeof dict_tmp, &dict_fd, dict, lms, n_lms, user_v, &hints,
                              err)) < 0)
        goto done;
    cmd_ln_set_str_r(s->config, "-dict", dict_tmp);
    s->ps = ps_init(s->config);
    sdra_asr_private_file_done(dict_tmp, dict_fd);
    if (!s->ps) {
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: cannot load the acoustic model", hmm);
        goto done;
    }
    if (lex_v && (rc = add_vocab(s, lex_v, lex, NULL, err)) < 0)
        goto done;
    if (user_v && (rc = add_vocab(s, user_v, p->vocab_path, &words, err)) < 0)
        goto done;
    if ((n_hints = add_hints(s, &hints, &hint_lm, err)) < 0) {
        rc = n_hints;
        goto done;
    }
    /* A hint the generic model already knows ("carter", "alvarez") keeps its own probability:
     * boosting it is where insertions come from, while the gain is in names the model lacks
     * ("brightwave"), which the hint model alone makes possible (docs/vocabulary.md#hints). */
    {
        size_t k = 0;
        for (size_t i = 0; i < hint_lm.n; i++) {
            if (ngram_wid(lms[0], hint_lm.w[i]) != ngram_unknown_wid(lms[0]))
                free(hint_lm.w[i]);
            else
                hint_lm.w[k++] = hint_lm.w[i];
        }
        hint_lm.n = k;
    }
    if (words.n) {
        if (!(lms[n_lms] = vocab_model(s, &words, err))) {
            rc = err ? err->code : SDRA_EIO;
            goto done;
        }
        w[n_lms++] = SDRA_ASR_VOCAB_WEIGHT;
    }
    if (hint_lm.n) {
        size_t n_hint_lm = hint_lm.n;
        if (!(lms[n_lms] = vocab_model(s, &hint_lm, err))) {
            rc = err ? err->code : SDRA_EIO;
            goto done;
        }
        const char *env = getenv("SDRA_HINT_WORD_P");
        char *end = NULL;
        double hp = env && *env ? strtod(env, &end) : -1;
        if (!(env && *env && end && !*end && hp >= 1e-6 && hp <= 0.05))
            hp = SDRA_ASR_HINT_WORD_P;
        double hw = hp * (double)(n_hint_lm + 1); /* the model gives each word 1 / (n + 1) */
        w[n_lms++] = (float32)(hw < SDRA_ASR_VOCAB_WEIGHT ? hw : SDRA_ASR_VOCAB_WEIGHT);
    }
    for (int i = 1; i < n_lms; i++)
        w[0] -= w[i];
    if (n_lms > 1) {
        set = ngram_model_set_init(s->config, lms, (char **)names, w, n_lms);
        if (!set || !ngram_model_set_interp(set, names, w)) {
            rc = sdra_error_set(err, SDRA_EINTERNAL, "sphinx: cannot interpolate language models");
            goto done;
        }
        /* the set holds its own references to the models; ours are dropped at done */
    } else {
        set = lms[0];
        lms[0] = NULL;
    }
    if (ps_set_lm(s->ps, "sdra", set) < 0 || ps_set_search(s->ps, "sdra") < 0) {
        rc = sdra_error_set(err, SDRA_EINTERNAL, "sphinx: cannot set up the search");
        goto done;
    }
    feat_t *feat = ps_get_feat(s->ps);
    cmn_t *cmn = feat->cmn_struct;
    if (!cmn || cmn->veclen > MAX_CEP) {
        rc = sdra_error_set(err, SDRA_EINTERNAL, "sphinx: unexpected feature layout");
        goto done;
    }
    memcpy(s->cmn_mean, cmn->cmn_mean, (size_t)cmn->veclen * sizeof(mfcc_t));
    memcpy(s->cmn_sum, cmn->sum, (size_t)cmn->veclen * sizeof(mfcc_t));
    s->cmn_nframe = cmn->nframe;
    s->dither = p->hmm_dir != NULL; /* the narrowband model was adapted on dithered features */
    s->max_utt_samples = (int64_t)((p->max_utterance_s > 0 ? p->max_utterance_s : 30) * 16000);
    const char *slash = strrchr(domain, '/');
    const char *am = p->hmm_dir ? "en-us-8k" : "en-us"; /* the only other model is the narrowband one */
    int m = domain[0] ? snprintf(s->describe, sizeof s->describe, "%s + %.120s (%.2f%s)", am,
                                 slash ? slash + 1 : domain, p->domain_weight, merged ? ", merged" : "")
                      : snprintf(s->describe, sizeof s->describe, "%s", am);
    snprintf(s->describe + m, sizeof s->describe - (size_t)m, "%s%s%s",
             p->vocab_path ? " + vocabulary" : "", n_hints ? " + hints" : "", p->fast_search ? ", fast search" : "");
done:
    for (int i = 0; i < 4; i++)
        if (lms[i])
            ngram_model_free(lms[i]);
    if (set)
        ngram_model_free(set); /* the decoder holds its own reference */
    wordlist_release(&words);
    wordlist_release(&hints);
    wordlist_release(&hint_lm);
    sdra_asr_vocab_destroy(lex_v);
    sdra_asr_vocab_destroy(user_v);
    pthread_mutex_unlock(&load_lock);
    if (rc < 0) {
        sphinx_destroy(s);
        return rc;
    }
    *out = s;
    return 0;
}

static const char *sphinx_describe(void *state)
{
    return ((sphinx_state *)state)->describe;
}

/* Copies the word of a segment without the "(2)" alternate suffix, lower-cased; returns false
 * for fillers (<s>, </s>, <sil>, [NOISE], ++GARBAGE++). */
static bool clean_word(char *dst, size_t n, const char *w)
{
    if (!w || !*w || w[0] == '<' || w[0] == '[' || w[0] == '+')
        return false;
    size_t i = 0;
    for (; w[i] && w[i] != '(' && i + 1 < n; i++)
        dst[i] = (char)tolower((unsigned char)w[i]);
    dst[i] = 0;
    return i > 0;
}

/* Ends the current utterance and queues its words (if any). */
static int finish_utt(sphinx_state *s, sdra_error *err)
{
    int rc = 0;
    sdra_asr_utt u = {0};
    size_t cap = 0;
    if (!s->in_utt)
        return 0;
    s->in_utt = false;
    s->utt_speech = false;
    s->utt_speech_samples = 0;
    if (ps_end_utt(s->ps) < 0)
        return sdra_error_set(err, SDRA_EINTERNAL, "sphinx: cannot end the utterance");
    logmath_t *lmath = ps_get_logmath(s->ps);
    for (ps_seg_t *seg = ps_seg_iter(s->ps); seg; seg = ps_seg_next(seg)) {
        char w[SDRA_ASR_WORD_MAX];
        if (!clean_word(w, sizeof w, ps_seg_word(seg)))
            continue;
        int sf = 0, ef = 0;
        ps_seg_frames(seg, &sf, &ef);
        double conf = logmath_exp(lmath, ps_seg_prob(seg, NULL, NULL, NULL));
        if (!(conf >= 0))
            conf = 0;
        if (conf > 1)
            conf = 1;
        if (u.n_words == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            sdra_asr_word *nw = realloc(u.words, ncap * sizeof *nw);
            if (!nw) {
                ps_seg_free(seg);
                rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
                goto done;
            }
            u.words = nw;
            cap = ncap;
        }
        sdra_asr_word *x = &u.words[u.n_words];
        x->w = strdup(w);
        if (!x->w) {
            ps_seg_free(seg);
            rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
            goto done;
        }
        x->start_s = (sf - s->primed_frames) / FRAMES_PER_S;
        x->end_s = (ef + 1 - s->primed_frames) / FRAMES_PER_S;
        x->conf = (float)conf;
        u.n_words++;
    }
    if (u.n_words) {
        u.start_s = u.words[0].start_s;
        u.end_s = u.words[u.n_words - 1].end_s;
        rc = sdra_asr_queue_push(&s->queue, &u, err);
    }
done:
    sdra_asr_utt_release(&u);
    return rc;
}

static void restore_cmn(sphinx_state *s)
{
    cmn_t *cmn = ps_get_feat(s->ps)->cmn_struct;
    memcpy(cmn->cmn_mean, s->cmn_mean, (size_t)cmn->veclen * sizeof(mfcc_t));
    memcpy(cmn->sum, s->cmn_sum, (size_t)cmn->veclen * sizeof(mfcc_t));
    cmn->nframe = s->cmn_nframe;
}

static int sphinx_start_stream(void *state, sdra_error *err)
{
    sphinx_state *s = state;
    if (s->in_utt) {
        ps_end_utt(s->ps);
        s->in_utt = false;
    }
    sdra_asr_queue_release(&s->queue);
    restore_cmn(s);
    if (ps_start_stream(s->ps) < 0 || ps_start_utt(s->ps) < 0)
        return sdra_error_set(err, SDRA_EINTERNAL, "sphinx: cannot start a stream");
    s->streaming = true;
    s->n_block = 0;
    s->primed_frames = 0;
    s->dither_state = 1;
    s->in_utt = true;
    s->utt_speech = false;
    s->utt_speech_samples = 0;
    return 0;
}

/* The narrowband model was adapted on features made with the front end's dither (+1 on a
 * quarter of the samples, as sphinx_fe -dither does): upsampled 8 kHz audio has no energy above
 * 4 kHz, and without it the log energies of the empty filters swing with the resampler's
 * last bits. The front end's own dither draws from one generator shared by every decoder of
 * the process, so threads would change each other's words; this one is per recognizer and
 * restarts with each stream, so the same audio still gives the same words (docs/asr.md). */
void sdra_asr_dither(uint32_t *state, const int16_t *in, int16_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        *state = *state * 1103515245u + 12345u;
        int v = in[i] + ((*state >> 16) % 4 == 0);
        out[i] = (int16_t)(v > INT16_MAX ? INT16_MAX : v);
    }
}

void sdra_asr_hmm_dir(const sdra_asr_params *p, char *out, size_t n)
{
    if (p->hmm_dir)
        sdra_strlcpy(out, p->hmm_dir, n);
    else
        snprintf(out, n, "%s/en-us", p->model_dir ? p->model_dir : SDRA_SPHINX_MODELDIR "/en-us");
}

/* Decodes one block: the detector's state is read after each block, as
 * pocketsphinx_continuous does, so block boundaries decide where utterances end. */
static int decode_block(sphinx_state *s, const int16_t *pcm, size_t k, sdra_error *err)
{
    if (!s->in_utt) {
        if (ps_start_utt(s->ps) < 0)
            return sdra_error_set(err, SDRA_EINTERNAL, "sphinx: cannot start an utterance");
        s->in_utt = true;
    }
    int16_t dithered[FEED_BLOCK];
    if (s->dither) {
        sdra_asr_dither(&s->dither_state, pcm, dithered, k);
        pcm = dithered;
    }
    if (ps_process_raw(s->ps, pcm, k, FALSE, FALSE) < 0)
        return sdra_error_set(err, SDRA_EINTERNAL, "sphinx: decoding failed");
    bool speech = ps_get_in_speech(s->ps);
    if (speech) {
        s->utt_speech = true;
        s->utt_speech_samples += (int64_t)k;
    }
    if ((!speech && s->utt_speech) || s->utt_speech_samples >= s->max_utt_samples)
        return finish_utt(s, err);
    return 0;
}

/* PCM is regrouped into FEED_BLOCK blocks whatever the caller's piece sizes, so the words
 * depend only on the audio (the same file fed in 0.1 s or 0.5 s pieces gives the same
 * utterances, and the same as pocketsphinx_continuous on it). */
static int sphinx_feed(void *state, const int16_t *pcm, size_t n, sdra_error *err)
{
    sphinx_state *s = state;
    if (!s->streaming)
        return sdra_error_set(err, SDRA_EINVAL, "sphinx: feed before start_stream");
    while (n > 0) {
        int rc = 0;
        if (s->n_block == 0 && n >= FEED_BLOCK) {
            rc = decode_block(s, pcm, FEED_BLOCK, err);
            pcm += FEED_BLOCK;
            n -= FEED_BLOCK;
        } else {
            size_t k = FEED_BLOCK - s->n_block < n ? FEED_BLOCK - s->n_block : n;
            memcpy(s->block + s->n_block, pcm, k * sizeof *pcm);
            s->n_block += k;
            pcm += k;
            n -= k;
            if (s->n_block == FEED_BLOCK) {
                s->n_block = 0;
                rc = decode_block(s, s->block, FEED_BLOCK, err);
            }
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Adapts the front end to audio that came just before the stream: its noise estimate and
 * voice-activity detector see it, and its speech frames update the live cepstral mean, as if
 * the decoder had heard it, but nothing is searched. The front end counts the samples, so the
 * frames are taken off the times of what follows. */
#define PRIME_FRAMES 256
static int sphinx_prime(void *state, const int16_t *pcm, size_t n, sdra_error *err)
{
    sphinx_state *s = state;
    if (!s->streaming || s->n_block || s->utt_speech)
        return sdra_error_set(err, SDRA_EINVAL, "sphinx: prime right after start_stream");
    fe_t *fe = ps_get_fe(s->ps);
    cmn_t *cmn = ps_get_feat(s->ps)->cmn_struct;
    int shift = 0, size = 0;
    fe_get_input_size(fe, &shift, &size);
    if (shift <= 0)
        return sdra_error_set(err, SDRA_EINTERNAL, "sphinx: unexpected front end");
    size_t skip = n % (size_t)shift; /* a whole number of frames, so times stay exact */
    pcm += skip;
    n -= skip;
    if (n == 0)
        return 0;
    size_t dim = (size_t)fe_get_output_size(fe);
    mfcc_t *rows[PRIME_FRAMES], *cep_data = malloc(PRIME_FRAMES * dim * sizeof *cep_data);
    int16_t *dithered = s->dither ? malloc(n * sizeof *dithered) : NULL;
    if (!cep_data || (s->dither && !dithered)) {
        free(cep_data);
        free(dithered);
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    }
    if (dithered) {
        sdra_asr_dither(&s->dither_state, pcm, dithered, n);
        pcm = dithered;
    }
    for (size_t i = 0; i < PRIME_FRAMES; i++)
        rows[i] = cep_data + i * dim;
    mfcc_t **cep = rows;
    fe_start_utt(fe);
    size_t left = n;
    const int16 *p = pcm;
    while (left > 0) {
        int32 nfr = PRIME_FRAMES;
        size_t before = left;
        if (fe_process_frames(fe, &p, &left, cep, &nfr, NULL) < 0) {
            free(cep_data);
            free(dithered);
            return sdra_error_set(err, SDRA_EINTERNAL, "sphinx: front end failed");
        }
        if (nfr > 0)
            cmn_live(cmn, cep, FALSE, nfr);
        if (left == before && nfr == 0)
            break; /* cannot happen: every call consumes or emits */
    }
    free(cep_data);
    free(dithered);
    cmn_live_update(cmn);
    fe_start_utt(fe); /* the stream's first utterance starts with a fresh detector */
    s->primed_frames += (int64_t)(n / (size_t)shift);
    return 0;
}

static int sphinx_poll(void *state, sdra_asr_utt *out, bool *ready, sdra_error *err)
{
    sphinx_state *s = state;
    *ready = sdra_asr_queue_pop(&s->queue, out);
    return 0;
}

static int sphinx_end_stream(void *state, sdra_error *err)
{
    sphinx_state *s = state;
    if (!s->streaming)
        return 0;
    s->streaming = false;
    if (s->n_block) {
        size_t k = s->n_block;
        s->n_block = 0;
        int rc = decode_block(s, s->block, k, err);
        if (rc < 0)
            return rc;
    }
    return finish_utt(s, err);
}

/* The best path so far through the utterance in progress (the first pass's backpointers:
 * ps_seg_iter mid-utterance), fillers left out. */
static int sphinx_partial(void *state, char *text, size_t n, double *start_s, sdra_error *err)
{
    sphinx_state *s = state;
    (void)err;
    if (!s->streaming || !s->in_utt || !s->utt_speech)
        return 0;
    size_t len = 0;
    for (ps_seg_t *seg = ps_seg_iter(s->ps); seg; seg = ps_seg_next(seg)) {
        char w[SDRA_ASR_WORD_MAX];
        if (!clean_word(w, sizeof w, ps_seg_word(seg)))
            continue;
        size_t wl = strlen(w);
        if (len + wl + 2 > n) {
            ps_seg_free(seg);
            break;
        }
        if (len == 0) {
            int sf = 0, ef = 0;
            ps_seg_frames(seg, &sf, &ef);
            *start_s = (sf - s->primed_frames) / FRAMES_PER_S;
        } else {
            text[len++] = ' ';
        }
        memcpy(text + len, w, wl + 1);
        len += wl;
    }
    return 0;
}

/* PocketSphinx rereads the model's means and applies the transform to them (acmod_update_mllr),
 * as -mllr does at load time: a few milliseconds for the en-us models. Under load_lock, like
 * every model read. */
static int sphinx_set_mllr(void *state, const char *path, sdra_error *err)
{
    sphinx_state *s = state;
    if (!path)
        return sdra_error_set(err, SDRA_EINVAL, "sphinx: no transform given");
    if (s->mllr && !strcmp(s->mllr, path))
        return 0;
    char *copy = strdup(path);
    if (!copy)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    pthread_mutex_lock(&load_lock);
    ps_mllr_t *m = ps_mllr_read(path);
    if (m)
        ps_update_mllr(s->ps, m); /* the decoder owns it now, and frees the last one */
    pthread_mutex_unlock(&load_lock);
    if (!m) {
        free(copy);
        return sdra_error_set(err, SDRA_EINVAL, "%s: not a transform the recognizer can read", path);
    }
    free(s->mllr);
    s->mllr = copy;
    return 0;
}

const struct sdra_asr_ops sdra_asr_sphinx_ops = {
    .name = "sphinx",
    .create = sphinx_create,
    .start_stream = sphinx_start_stream,
    .prime = sphinx_prime,
    .feed = sphinx_feed,
    .poll = sphinx_poll,
    .end_stream = sphinx_end_stream,
    .destroy = sphinx_destroy,
    .describe = sphinx_describe,
    .partial = sphinx_partial,
    .set_mllr = sphinx_set_mllr,
};
