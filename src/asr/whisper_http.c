/*
 * src/asr/whisper_http.c - the "whisper-http" backend: one stream (a chunk of a call) is sent
 * to an OpenAI-compatible POST {base}/audio/transcriptions through the shared scheduler
 * (remote.c), and the verbose_json reply becomes utterances.
 *
 * feed() only collects the PCM (at most SDRA_ASR_REMOTE_MAX_S); end_stream() makes the
 * request; poll() hands out one utterance per kept segment. Times are seconds from the start
 * of the stream (the stage adds the chunk's offset). Words come from the reply's "words"
 * (each placed in the segment that holds its midpoint); a server that gives none gets the
 * segment's text spread over the segment's time by length. Confidence: a word's
 * "probability" when the server gives it (faster-whisper, whisper.cpp), else exp(avg_logprob)
 * of its segment.
 *
 * Guards against Whisper's known failure modes (counted in the pool's stats, which the stage
 * writes to the transcript's meta.asr_guards):
 *   - a chunk with no speech energy is never sent (Whisper writes text on silence);
 *   - a segment with no_speech_prob > 0.6 and avg_logprob < -1 (Whisper's own thresholds), or
 *     with under 60 ms of speech energy in its span, is dropped (silence_dropped);
 *   - a run of one n-gram (n <= 6) repeated 3+ times and 8+ words long is cut to one copy;
 *     failing that, a segment with compression_ratio > 2.4 is dropped (repetition_dropped).
 * Speech energy is the chunker's rule (src/audio/chunker.c): a 20 ms frame is speech when
 * above -60 dBFS and 9 dB above the chunk's 10th-percentile level.
 */
#include "asr/internal.h"
#include "sdra/audio.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FRAME 320 /* 20 ms at 16 kHz */
#define SPEECH_ABS_DB -60.0
#define SPEECH_MARGIN_DB 9.0
#define MIN_CHUNK_SPEECH_FRAMES 10 /* 200 ms */
#define MIN_SEG_SPEECH_FRAMES 3    /* 60 ms */
#define NO_SPEECH_PROB 0.6
#define LOGPROB_FLOOR -1.0
#define COMPRESSION_MAX 2.4
#define MAX_SEGMENTS 20000
#define MAX_WORDS 200000

typedef struct whttp {
    sdra_asr_pool *pool;
    int16_t *pcm;
    size_t n, cap;
    sdra_asr_queue q;
    char desc[320];
} whttp;

static int wh_create(void **state, const sdra_asr_params *p, sdra_error *err)
{
    if (!p->pool)
        return sdra_error_set(err, SDRA_EINVAL, "whisper-http needs an endpoint URL (--asr-url)");
    if (p->rate_hz != 16000)
        return sdra_error_set(err, SDRA_EINVAL, "whisper-http: PCM must be 16000 Hz, not %d", p->rate_hz);
    whttp *w = calloc(1, sizeof *w);
    if (!w)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    w->pool = p->pool;
    snprintf(w->desc, sizeof w->desc, "%s over HTTP (OpenAI audio/transcriptions)",
             sdra_asr_pool_model(p->pool));
    *state = w;
    return 0;
}

static void wh_destroy(void *state)
{
    whttp *w = state;
    if (!w)
        return;
    sdra_asr_queue_release(&w->q);
    free(w->pcm);
    free(w);
}

static int wh_start(void *state, sdra_error *err)
{
    whttp *w = state;
    w->n = 0;
    sdra_asr_queue_release(&w->q);
    return 0;
}

static int wh_feed(void *state, const int16_t *pcm, size_t n, sdra_error *err)
{
    whttp *w = state;
    size_t max = (size_t)(SDRA_ASR_REMOTE_MAX_S * 16000);
    if (n > max - w->n)
        return sdra_error_set(err, SDRA_ELIMIT, "whisper-http: a stream holds at most %.0f s of audio",
                              SDRA_ASR_REMOTE_MAX_S);
    if (w->n + n > w->cap) {
        size_t cap = w->cap ? w->cap : 16000 * 8;
        while (cap < w->n + n)
            cap *= 2;
        if (cap > max)
            cap = max;
        int16_t *np = realloc(w->pcm, cap * sizeof *np);
        if (!np)
            return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        w->pcm = np;
        w->cap = cap;
    }
    memcpy(w->pcm + w->n, pcm, n * sizeof *pcm);
    w->n += n;
    return 0;
}

static int wh_poll(void *state, sdra_asr_utt *out, bool *ready, sdra_error *err)
{
    whttp *w = state;
    *ready = sdra_asr_queue_pop(&w->q, out);
    return 0;
}

static const char *wh_describe(void *state)
{
    return ((whttp *)state)->desc;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* Marks each 20 ms frame of pcm as speech or not; returns the number of speech frames. */
static size_t speech_frames(const int16_t *pcm, size_t n, unsigned char *speech, size_t n_frames)
{
    float *db = malloc((n_frames ? n_frames : 1) * sizeof *db), *sorted = malloc((n_frames ? n_frames : 1) * sizeof *db);
    size_t count = 0;
    if (!db || !sorted) { /* cannot tell: call it all speech (no guard rather than lost words) */
        memset(speech, 1, n_frames);
        free(db);
        free(sorted);
        return n_frames;
    }
    for (size_t i = 0; i < n_frames; i++) {
        size_t k = (i + 1) * FRAME <= n ? FRAME : n - i * FRAME;
        db[i] = (float)sdra_audio_rms_db(pcm + i * FRAME, k);
    }
    memcpy(sorted, db, n_frames * sizeof *db);
    qsort(sorted, n_frames, sizeof *sorted, cmp_float);
    double floor_db = n_frames ? sorted[n_frames / 10] : -100;
    for (size_t i = 0; i < n_frames; i++) {
        speech[i] = db[i] > SPEECH_ABS_DB && db[i] > floor_db + SPEECH_MARGIN_DB;
        count += speech[i];
    }
    free(db);
    free(sorted);
    return count;
}

/* ---- verbose_json -> utterances ---------------------------------------------------------- */

/* A word as sdra writes them: lower case, no surrounding punctuation ("Hello," -> "hello",
 * "don't" kept). Returns NULL when nothing is left (or out of memory). */
static char *norm_word(const char *s, size_t n)
{
    size_t a = 0, b = n;
    while (a < b && !isalnum((unsigned char)s[a]) && !((unsigned char)s[a] & 0x80))
        a++;
    while (b > a && !isalnum((unsigned char)s[b - 1]) && !((unsigned char)s[b - 1] & 0x80))
        b--;
    if (a == b || b - a > SDRA_ASR_WORD_MAX)
        return NULL;
    char *w = malloc(b - a + 1);
    if (!w)
        return NULL;
    for (size_t i = a; i < b; i++)
        w[i - a] = (char)tolower((unsigned char)s[i]);
    w[b - a] = '\0';
    return w;
}

static double num(const json_t *o, const char *k, double def)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : def;
}

typedef struct seg {
    double start, end, avg_logprob, no_speech, compression;
    const char *text;
    sdra_asr_word *w;
    size_t n, cap;
} seg;

static int seg_add(seg *s, char *word, double start, double end, float conf)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        sdra_asr_word *nw = realloc(s->w, cap * sizeof *nw);
        if (!nw) {
            free(word);
            return SDRA_ENOMEM;
        }
        s->w = nw;
        s->cap = cap;
    }
    s->w[s->n++] = (sdra_asr_word){.w = word, .start_s = start, .end_s = end, .conf = conf};
    return 0;
}

static void seg_cut(seg *s, size_t from, size_t to) /* removes words [from, to) */
{
    if (from >= to)
        return;
    for (size_t i = from; i < to; i++)
        free(s->w[i].w);
    memmove(s->w + from, s->w + to, (s->n - to) * sizeof *s->w);
    s->n -= to - from;
}

/* Cuts every run of an n-gram (n <= 6) repeated 3+ times, 8+ words in all, down to one copy.
 * Returns true when it cut something. */
static bool cut_loops(seg *s)
{
    bool cut = false;
    for (size_t i = 0; i < s->n; i++) {
        for (size_t n = 1; n <= 6 && i + 2 * n <= s->n; n++) {
            size_t reps = 1;
            while (i + (reps + 1) * n <= s->n) {
                bool same = true;
                for (size_t k = 0; k < n && same; k++)
                    same = !strcmp(s->w[i + k].w, s->w[i + reps * n + k].w);
                if (!same)
                    break;
                reps++;
            }
            if (reps >= 3 && reps * n >= 8) {
                seg_cut(s, i + n, i + reps * n);
                cut = true;
                break;
            }
        }
    }
    return cut;
}

/* Spreads the segment's text over its time by length (servers without word timings). */
static int spread_text(seg *s, float conf)
{
    const char *t = s->text ? s->text : "";
    size_t total = 0;
    for (const char *p = t; *p; p++)
        total += !isspace((unsigned char)*p);
    double pos = 0, dur = s->end - s->start;
    for (const char *p = t; *p;) {
        while (*p && isspace((unsigned char)*p))
            p++;
        const char *q = p;
        while (*q && !isspace((unsigned char)*q))
            q++;
        if (q == p)
            break;
        double len = (double)(q - p);
        double a = s->start + dur * pos / (double)(total ? total : 1);
        pos += len;
        double b = s->start + dur * pos / (double)(total ? total : 1);
        char *w = norm_word(p, (size_t)(q - p));
        if (w && seg_add(s, w, a, b, conf) < 0)
            return SDRA_ENOMEM;
        p = q;
    }
    return 0;
}

int sdra_asr_whisper_convert(const json_t *root, const unsigned char *speech, size_t n_frames,
                             double dur_s, sdra_asr_queue *q, long *n_silence, long *n_repetition,
                             sdra_error *err)
{
    int rc = 0;
    json_t *segs = json_object_get(root, "segments");
    json_t *words = json_object_get(root, "words");
    size_t n_seg = json_is_array(segs) ? json_array_size(segs) : 0;
    bool whole = !json_is_array(segs); /* a reply with text only: one segment, the whole chunk */
    if (whole)
        n_seg = 1;
    if (n_seg > MAX_SEGMENTS || (json_is_array(words) && json_array_size(words) > MAX_WORDS))
        return sdra_error_set(err, SDRA_ELIMIT, "whisper-http: more than %d segments or %d words in a reply",
                              MAX_SEGMENTS, MAX_WORDS);
    seg *sv = calloc(n_seg ? n_seg : 1, sizeof *sv);
    if (!sv)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    for (size_t i = 0; i < n_seg; i++) {
        json_t *o = whole ? (json_t *)root : json_array_get(segs, i);
        seg *s = &sv[i];
        s->start = whole ? 0 : num(o, "start", 0);
        s->end = whole ? dur_s : num(o, "end", s->start);
        s->avg_logprob = num(o, "avg_logprob", 0);
        s->no_speech = num(o, "no_speech_prob", 0);
        s->compression = num(o, "compression_ratio", 1);
        s->text = json_string_value(json_object_get(o, "text"));
        if (!(s->start >= 0) || s->start > dur_s + 1)
            s->start = 0;
        if (!(s->end >= s->start))
            s->end = s->start;
        if (s->end > dur_s)
            s->end = dur_s;
    }
    size_t n_words = json_is_array(words) ? json_array_size(words) : 0;
    for (size_t k = 0; k < n_words && n_seg; k++) {
        json_t *o = json_array_get(words, k);
        const char *t = json_string_value(json_object_get(o, "word"));
        double a = num(o, "start", -1), b = num(o, "end", -1);
        if (!t || !(a >= 0) || !(b >= a))
            continue;
        if (a > dur_s)
            a = dur_s;
        if (b > dur_s)
            b = dur_s;
        double mid = (a + b) / 2, best_d = 1e300;
        size_t best = 0;
        for (size_t i = 0; i < n_seg; i++) {
            double d = mid < sv[i].start ? sv[i].start - mid : mid > sv[i].end ? mid - sv[i].end : 0;
            if (d < best_d) {
                best_d = d;
                best = i;
            }
        }
        double p = num(o, "probability", -1);
        float conf = (float)(p >= 0 && p <= 1 ? p : exp(sv[best].avg_logprob));
        char *w = norm_word(t, strlen(t));
        if (w && seg_add(&sv[best], w, a, b, conf) < 0) {
            rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
            goto done;
        }
    }
    for (size_t i = 0; i < n_seg; i++) {
        seg *s = &sv[i];
        float conf = (float)exp(s->avg_logprob > 0 ? 0 : s->avg_logprob);
        if (!n_words && spread_text(s, conf) < 0) {
            rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
            goto done;
        }
        if (!s->n)
            continue;
        /* text on silence: Whisper's own test, then the audio's */
        bool silent = s->no_speech > NO_SPEECH_PROB && s->avg_logprob < LOGPROB_FLOOR;
        if (!silent && speech) {
            size_t a = (size_t)(fmax(s->w[0].start_s - 0.1, 0) / 0.02);
            size_t b = (size_t)ceil((s->w[s->n - 1].end_s + 0.1) / 0.02);
            size_t sp = 0;
            for (size_t f = a; f < b && f < n_frames; f++)
                sp += speech[f];
            silent = sp < MIN_SEG_SPEECH_FRAMES;
        }
        if (silent) {
            (*n_silence)++;
            seg_cut(s, 0, s->n);
            continue;
        }
        if (cut_loops(s))
            (*n_repetition)++;
        else if (s->compression > COMPRESSION_MAX) {
            (*n_repetition)++;
            seg_cut(s, 0, s->n);
            continue;
        }
        sdra_asr_utt u = {0};
        for (size_t k = 0; k < s->n; k++) { /* monotonic, non-empty times */
            sdra_asr_word *w = &s->w[k];
            if (k && w->start_s < s->w[k - 1].start_s)
                w->start_s = s->w[k - 1].start_s;
            if (w->end_s < w->start_s + 0.01)
                w->end_s = w->start_s + 0.01;
            if (w->conf < 0 || !(w->conf <= 1))
                w->conf = w->conf < 0 ? 0 : 1;
        }
        u.words = s->w;
        u.n_words = s->n;
        u.start_s = s->w[0].start_s;
        u.end_s = s->w[s->n - 1].end_s;
        s->w = NULL;
        s->n = s->cap = 0;
        if ((rc = sdra_asr_queue_push(q, &u, err)) < 0)
            goto done;
    }
done:
    for (size_t i = 0; i < n_seg; i++) {
        seg_cut(&sv[i], 0, sv[i].n);
        free(sv[i].w);
    }
    free(sv);
    return rc;
}

static int wh_end(void *state, sdra_error *err)
{
    whttp *w = state;
    int rc = 0;
    json_t *root = NULL;
    size_t n_frames = (w->n + FRAME - 1) / FRAME;
    unsigned char *speech = malloc(n_frames ? n_frames : 1);
    if (!speech)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    if (!w->n)
        goto done;
    if (speech_frames(w->pcm, w->n, speech, n_frames) < MIN_CHUNK_SPEECH_FRAMES) {
        sdra_asr_pool_count(w->pool, 1, 0, 0);
        goto done;
    }
    if ((rc = sdra_asr_pool_transcribe(w->pool, w->pcm, w->n, &root, err)) < 0)
        goto done;
    long n_sil = 0, n_rep = 0;
    rc = sdra_asr_whisper_convert(root, speech, n_frames, w->n / 16000.0, &w->q, &n_sil, &n_rep, err);
    sdra_asr_pool_count(w->pool, 0, n_sil, n_rep);
done:
    json_decref(root);
    free(speech);
    w->n = 0;
    return rc;
}

const struct sdra_asr_ops sdra_asr_whisper_http_ops = {
    .name = "whisper-http",
    .create = wh_create,
    .start_stream = wh_start,
    .prime = NULL,
    .feed = wh_feed,
    .poll = wh_poll,
    .end_stream = wh_end,
    .destroy = wh_destroy,
    .describe = wh_describe,
};

/* ---- chunk-boundary duplicates ------------------------------------------------------------ */

size_t sdra_asr_drop_boundary_duplicates(sdra_asr_utt *prev, size_t n_prev, sdra_asr_utt *next,
                                         size_t n_next, double boundary_s)
{
    /* the last words of prev (up to 4, within 1 s of the boundary), newest last */
    const sdra_asr_word *tail[4];
    size_t nt = 0;
    for (size_t i = n_prev; i-- > 0 && nt < 4;)
        for (size_t k = prev[i].n_words; k-- > 0 && nt < 4;) {
            if (prev[i].words[k].end_s < boundary_s - 1.0)
                goto tail_done;
            tail[nt++] = &prev[i].words[k];
        }
tail_done:
    if (!nt)
        return 0;
    /* the first words of next, in order */
    sdra_asr_word *head[4];
    size_t nh = 0;
    for (size_t i = 0; i < n_next && nh < 4; i++)
        for (size_t k = 0; k < next[i].n_words && nh < 4; k++) {
            if (next[i].words[k].start_s > boundary_s + 1.0)
                goto head_done;
            head[nh++] = &next[i].words[k];
        }
head_done:
    /* the longest m such that next's first m words repeat prev's last m words */
    for (size_t m = nh < nt ? nh : nt; m > 0; m--) {
        bool same = head[0]->start_s - tail[m - 1]->end_s <= 0.5;
        for (size_t k = 0; k < m && same; k++)
            same = !strcmp(head[k]->w, tail[m - 1 - k]->w);
        if (!same)
            continue;
        size_t left = m;
        for (size_t i = 0; i < n_next && left; i++) {
            size_t d = left < next[i].n_words ? left : next[i].n_words;
            for (size_t k = 0; k < d; k++)
                free(next[i].words[k].w);
            memmove(next[i].words, next[i].words + d, (next[i].n_words - d) * sizeof *next[i].words);
            next[i].n_words -= d;
            left -= d;
            if (next[i].n_words)
                next[i].start_s = next[i].words[0].start_s;
        }
        return m;
    }
    return 0;
}
