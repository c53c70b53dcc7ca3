/*
 * src/asr/sphinx.c - the embedded ASR backend: PocketSphinx (5prealpha) in process.
 *
 * Model: the en-us acoustic model and dictionary, and the generic en-us n-gram model linearly
 * interpolated (sphinxbase ngram_model_set) with a domain model (data/asr/sales.lm, built by
 * scripts/build-lm.py from data/asr/sales-corpus.txt), plus the user's vocabulary words.
 *
 * Endpointing is the decoder's own voice-activity detector, exactly as pocketsphinx_continuous
 * does it: PCM goes in blocks; when the detector leaves speech the utterance is ended and its
 * words (from the segment iterator, 10 ms frames, absolute within the stream) are queued.
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

#define FEED_BLOCK 2048   /* samples per decoder call, as pocketsphinx_continuous */
#define FRAMES_PER_S 100.0 /* sphinx frame rate */
#define MAX_CEP 64
#define SDRA_ASR_VOCAB_WEIGHT 0.05f /* interpolation weight of the user-vocabulary model */

typedef struct sphinx_state {
    ps_decoder_t *ps;
    cmd_ln_t *config;
    sdra_asr_queue queue;
    /* live CMN state right after loading, restored at each stream start so that the same
       audio gives the same words whatever this decoder saw before (worker independence) */
    mfcc_t cmn_mean[MAX_CEP], cmn_sum[MAX_CEP];
    int32 cmn_nframe;
    bool streaming, in_utt, utt_speech;
    int64_t utt_speech_samples; /* samples fed since the detector entered speech */
    int64_t max_utt_samples;
    char describe[256];
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

/* Adds the words of a vocabulary file to the dictionary (ps_add_word) and, when lm_words is
 * not NULL, to the list that becomes the vocabulary language model. A word without phones
 * must already be in the dictionary. (sphinxbase's ngram_model_add_word corrupts memory on
 * trie models, so words reach the LM through a small model of their own instead.) */
static int add_vocab(sphinx_state *s, const char *path, wordlist *lm_words, sdra_error *err)
{
    sdra_asr_vocab *v = NULL;
    int rc = sdra_asr_vocab_load(&v, path, err);
    if (rc < 0)
        return rc;
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
        if (!lm_words)
            continue;
        if (lm_words->n == lm_words->cap) {
            size_t ncap = lm_words->cap ? lm_words->cap * 2 : 64;
            char **nw = realloc(lm_words->w, ncap * sizeof *nw);
            if (!nw) {
                rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
                goto done;
            }
            lm_words->w = nw;
            lm_words->cap = ncap;
        }
        if (!(lm_words->w[lm_words->n] = strdup(e->word))) {
            rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
            goto done;
        }
        lm_words->n++;
    }
done:
    sdra_asr_vocab_destroy(v);
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
    const char *tmpdir = getenv("TMPDIR");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/sdra-vocab-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
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
    ngram_model_t *m = bad ? NULL : ngram_model_read(s->config, path, NGRAM_ARPA, ps_get_logmath(s->ps));
    unlink(path);
    if (!m)
        sdra_error_set(err, SDRA_EIO, "cannot build the vocabulary language model");
    return m;
}

static int sphinx_create(void **out, const sdra_asr_params *p, sdra_error *err)
{
    int rc = 0;
    char hmm[PATH_MAX], lmpath[PATH_MAX], dict[PATH_MAX], domain[PATH_MAX];
    ngram_model_t *lms[3] = {NULL, NULL, NULL}, *set = NULL;
    int n_lms = 0;
    wordlist words = {0};
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
    snprintf(hmm, sizeof hmm, "%s/en-us", mdir);
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

    s = calloc(1, sizeof *s);
    if (!s) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }
    s->config = cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", hmm, "-dict", dict, "-samprate",
                            "16000", NULL);
    if (!s->config) {
        rc = sdra_error_set(err, SDRA_EINTERNAL, "sphinx: bad decoder configuration");
        goto done;
    }
    s->ps = ps_init(s->config);
    if (!s->ps) {
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: cannot load the acoustic model", hmm);
        goto done;
    }
    logmath_t *lmath = ps_get_logmath(s->ps);
    if (!(lms[n_lms++] = ngram_model_read(s->config, lmpath, NGRAM_AUTO, lmath))) {
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: cannot load the language model", lmpath);
        goto done;
    }
    float32 w[3] = {1.0f, 0, 0};
    const char *names[3] = {"generic", "domain", "vocabulary"};
    if (domain[0]) {
        if (!(lms[n_lms] = ngram_model_read(s->config, domain, NGRAM_ARPA, lmath))) {
            rc = sdra_error_set(err, SDRA_EINVAL, "%s: not a valid ARPA language model", domain);
            goto done;
        }
        w[n_lms++] = p->domain_weight;
        /* The domain model's own pronunciations (<model>.dict beside <model>.lm); its words
           are in the domain model already. */
        char lex[PATH_MAX];
        size_t dl = strlen(domain);
        if (dl > 3 && !strcmp(domain + dl - 3, ".lm") && dl + 3 < sizeof lex) {
            snprintf(lex, sizeof lex, "%.*s.dict", (int)(dl - 3), domain);
            if (file_exists(lex) && (rc = add_vocab(s, lex, NULL, err)) < 0)
                goto done;
        }
    }
    if (p->vocab_path) {
        if ((rc = add_vocab(s, p->vocab_path, &words, err)) < 0)
            goto done;
        if (!(lms[n_lms] = vocab_model(s, &words, err))) {
            rc = err ? err->code : SDRA_EIO;
            goto done;
        }
        w[n_lms++] = SDRA_ASR_VOCAB_WEIGHT;
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
    s->max_utt_samples = (int64_t)((p->max_utterance_s > 0 ? p->max_utterance_s : 30) * 16000);
    const char *slash = strrchr(domain, '/');
    if (domain[0])
        snprintf(s->describe, sizeof s->describe, "en-us + %.120s (%.2f)%s", slash ? slash + 1 : domain,
                 p->domain_weight, p->vocab_path ? " + vocabulary" : "");
    else
        snprintf(s->describe, sizeof s->describe, "en-us%s", p->vocab_path ? " + vocabulary" : "");
done:
    for (int i = 0; i < 3; i++)
        if (lms[i])
            ngram_model_free(lms[i]);
    if (set)
        ngram_model_free(set); /* the decoder holds its own reference */
    wordlist_release(&words);
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
        x->start_s = sf / FRAMES_PER_S;
        x->end_s = (ef + 1) / FRAMES_PER_S;
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
    s->in_utt = true;
    s->utt_speech = false;
    s->utt_speech_samples = 0;
    return 0;
}

static int sphinx_feed(void *state, const int16_t *pcm, size_t n, sdra_error *err)
{
    sphinx_state *s = state;
    if (!s->streaming)
        return sdra_error_set(err, SDRA_EINVAL, "sphinx: feed before start_stream");
    while (n > 0) {
        size_t k = n < FEED_BLOCK ? n : FEED_BLOCK;
        if (!s->in_utt) {
            if (ps_start_utt(s->ps) < 0)
                return sdra_error_set(err, SDRA_EINTERNAL, "sphinx: cannot start an utterance");
            s->in_utt = true;
        }
        if (ps_process_raw(s->ps, pcm, k, FALSE, FALSE) < 0)
            return sdra_error_set(err, SDRA_EINTERNAL, "sphinx: decoding failed");
        pcm += k;
        n -= k;
        bool speech = ps_get_in_speech(s->ps);
        if (speech) {
            s->utt_speech = true;
            s->utt_speech_samples += (int64_t)k;
        }
        if ((!speech && s->utt_speech) || s->utt_speech_samples >= s->max_utt_samples) {
            int rc = finish_utt(s, err);
            if (rc < 0)
                return rc;
        }
    }
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
    return finish_utt(s, err);
}

const struct sdra_asr_ops sdra_asr_sphinx_ops = {
    .name = "sphinx",
    .create = sphinx_create,
    .start_stream = sphinx_start_stream,
    .feed = sphinx_feed,
    .poll = sphinx_poll,
    .end_stream = sphinx_end_stream,
    .destroy = sphinx_destroy,
    .describe = sphinx_describe,
};
