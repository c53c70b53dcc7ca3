/*
 * sdra/asr.h - speech recognition behind one incremental interface.
 *
 * A backend turns 16-bit PCM (at params.rate_hz, 16 kHz) into finalized utterances: the words
 * with their start/end times (seconds from the start of the stream) and confidences (0..1).
 * PCM is fed as it arrives; an utterance comes out as soon as the backend detects its end
 * (a pause), or at end_stream. Callers never branch on the backend: they hold an sdra_asr and
 * call the functions below, which forward to the backend's table (struct sdra_asr_ops).
 *
 * A recognizer is not thread-safe: use one per thread (the transcription stage keeps one per
 * worker). The default backend, "sphinx" (alias "pocketsphinx"), is PocketSphinx in process
 * with the en-us model, interpolated with a sales-conversation language model
 * (data/asr/sales.lm), plus the user's words from a vocabulary file (docs/vocabulary.md).
 * "whisper-http" sends each stream (one chunk of a call) to an OpenAI-compatible
 * /audio/transcriptions endpoint through a shared scheduler (sdra_asr_pool, below): feed()
 * only collects the PCM, end_stream() makes the request, poll() hands out its segments.
 *
 *     sdra_asr_params p = sdra_asr_default_params();
 *     sdra_asr *asr = NULL;
 *     if (sdra_asr_create(&asr, &p, &err) < 0) ...
 *     sdra_asr_start_stream(asr, &err);
 *     while (more audio) {
 *         sdra_asr_feed(asr, pcm, n, &err);
 *         sdra_asr_utt u; bool ready;
 *         while (sdra_asr_poll(asr, &u, &ready, &err) == 0 && ready) { use(&u); sdra_asr_utt_release(&u); }
 *     }
 *     sdra_asr_end_stream(asr, &err);   // then poll the last utterances the same way
 *     sdra_asr_destroy(asr);
 */
#ifndef SDRA_ASR_H
#define SDRA_ASR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sdra/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SDRA_ASR_HINT_PHRASES 4
#define SDRA_ASR_MAX_HINT_WORDS 64

typedef struct sdra_asr_params {
    const char *backend;        /* "sphinx" (default) */
    int rate_hz;                /* sample rate of the fed PCM; default 16000 (sphinx needs it) */
    const char *model_dir;      /* sphinx: dir with en-us/, en-us.lm.bin, cmudict-en-us.dict;
                                   NULL = SDRA_SPHINX_MODELDIR/en-us */
    const char *domain_lm_path; /* ARPA model interpolated with the generic one; NULL =
                                   <share>/asr/sales.lm; "" = none (generic model only) */
    float domain_weight;        /* interpolation weight of the domain model, 0..0.9; default 0.15 */
    const char *vocab_path;     /* user words (docs/vocabulary.md), or NULL */
    /* Names and terms expected in this call (the contact, the companies, products), as free
       text; NULL entries are skipped. Each word is made likely like a vocabulary word; one
       missing from the dictionary is spelled from dictionary words it is made of
       ("brightwave" = bright + wave), else left out. At most SDRA_ASR_MAX_HINT_WORDS words. */
    const char *hints[SDRA_ASR_HINT_PHRASES];
    double max_utterance_s;     /* end an utterance after this much speech; default 30 */
    /* whisper-http: the shared endpoint scheduler (sdra_asr_pool_create below). Required by
       that backend; ignored by sphinx. Not owned: it must outlive the recognizer. */
    struct sdra_asr_pool *pool;
    /* sphinx: the acoustic model directory; NULL = <model_dir>/en-us, the wideband model.
       sdra_asr_am_resolve (below) sets it for a telephone-band source. */
    const char *hmm_dir;
    /* sphinx: a cheaper search (narrower beams, fewer active HMMs, no second pass) for a live
       call whose recognition fell behind: a fraction of the CPU for a few more word errors
       (docs/live.md, "Degraded mode"). */
    bool fast_search;
    /* sphinx: a transform of the acoustic model's means for this recording (PocketSphinx's
       -mllr file, as sdra_asr_adapter_write below writes it), or NULL. */
    const char *mllr_path;
} sdra_asr_params;

sdra_asr_params sdra_asr_default_params(void);

/* ---- acoustic model choice (docs/asr.md, "Telephone-band recognition") -----------------
 *
 * The en-us model is wideband (16 kHz, filters up to 6.8 kHz). Audio sampled at 8 kHz or less
 * (telephone, G.711), or telephone audio stored at a higher rate (SDRA_ASR_BAND_LIMITED_DB),
 * gets the narrowband model the build adapts from it with sphinxtrain
 * (scripts/build-narrowband-am.py): <build>/data/asr/en-us-8k, or $SDRA_NARROWBAND_AM. */
typedef enum sdra_asr_am {
    SDRA_ASR_AM_AUTO = 0,   /* narrowband for telephone-band audio (below), else wideband */
    SDRA_ASR_AM_WIDEBAND,
    SDRA_ASR_AM_NARROWBAND,
} sdra_asr_am;

#define SDRA_ASR_NARROWBAND_MAX_HZ 8000

/* "auto" (or NULL), "wideband", "narrowband" -> *out; SDRA_EINVAL otherwise. */
int sdra_asr_am_parse(const char *s, sdra_asr_am *out, sdra_error *err);
const char *sdra_asr_am_name(sdra_asr_am am); /* "auto", "wideband", "narrowband" */

/* Telephone audio stored at a wideband rate: the band meter (sdra/audio.h) reads less than this
 * (power above 4.3 kHz relative to the line band, dB). A resampler's stop band lies 60 dB and
 * more under its pass band; wideband speech, even an old recording, stays above -50 dB
 * (docs/asr.md, "Telephone audio at a wideband rate"). */
#define SDRA_ASR_BAND_LIMITED_DB (-58.0)

/* The model a source gets: the requested one, or for AUTO narrowband when 0 < source_rate_hz
 * <= SDRA_ASR_NARROWBAND_MAX_HZ or when high_band_db (the band meter's reading; NAN when not
 * measured) is under SDRA_ASR_BAND_LIMITED_DB, else wideband (an unknown rate, 0, is taken as
 * wideband). Never returns AUTO. */
sdra_asr_am sdra_asr_am_choose(sdra_asr_am requested, int source_rate_hz, double high_band_db);

/* The narrowband model directory: $SDRA_NARROWBAND_AM when set, else asr/en-us-8k in the share
 * dir, else in the build tree. 0 with its path in out when it holds every model file;
 * SDRA_ENOTFOUND (message names the directory) when not. */
int sdra_asr_narrowband_dir(char *out, size_t n, sdra_error *err);

/* Chooses the model for a source (sdra_asr_am_choose) and sets p->hmm_dir (pointing into
 * buf, size n) for narrowband. When the narrowband model is missing it logs one warning and
 * leaves p on the wideband model: a missing model never fails a transcription. Returns the
 * model p now uses (WIDEBAND or NARROWBAND). */
sdra_asr_am sdra_asr_am_resolve(sdra_asr_params *p, sdra_asr_am requested, int source_rate_hz,
                                double high_band_db, char *buf, size_t n);

/* ---- adapting the model to a recording (docs/asr.md, "Adapting to the recording") -------
 *
 * Before a recording is decoded, its speech can move the acoustic model's means to its channel
 * and voice: a global MLLR transform estimated with no transcript (src/asr/adapt.c); the
 * transcription stage makes one per channel of a stereo call and per speaker of a mono call
 * (src/transcribe/adapt.c). AUTO
 * adapts the narrowband model only: on real telephone speech it removes a fifth to two fifths
 * of the word errors; on wideband speech it was measured to gain about 3 % (docs/asr.md). */
typedef enum sdra_asr_adapt {
    SDRA_ASR_ADAPT_AUTO = 0, /* the narrowband model: yes; the wideband model: no */
    SDRA_ASR_ADAPT_OFF,
    SDRA_ASR_ADAPT_ON,
} sdra_asr_adapt;

/* "auto" (or NULL), "on", "off" -> *out; SDRA_EINVAL otherwise. */
int sdra_asr_adapt_parse(const char *s, sdra_asr_adapt *out, sdra_error *err);
const char *sdra_asr_adapt_name(sdra_asr_adapt a); /* "auto", "on", "off" */
/* Whether a recording decoded with model am is adapted under mode a. */
bool sdra_asr_adapt_wanted(sdra_asr_adapt a, sdra_asr_am am);

typedef struct sdra_asr_adapter sdra_asr_adapter;
/* Loads the means and variances of the acoustic model p's recognizer would use (p->hmm_dir,
 * else the wideband model under p->model_dir) and a front end like its. SDRA_EUNSUPPORTED
 * for a model that is not 3 streams of 13 (1s_c_d_dd). */
int sdra_asr_adapter_create(sdra_asr_adapter **out, const sdra_asr_params *p, sdra_error *err);
/* 16 kHz PCM of one recording (one channel), in order; its speech frames are kept, the first
 * 10 minutes of them at most. */
int sdra_asr_adapter_feed(sdra_asr_adapter *a, const int16_t *pcm, size_t n, sdra_error *err);
size_t sdra_asr_adapter_frames(const sdra_asr_adapter *a); /* speech frames kept (100 a second) */
/* Estimates the transform and writes it to a new file $TMPDIR/sdra-mllr-XXXXXX (mode 0600; its
 * name into path, size cap), for sdra_asr_params.mllr_path; the caller unlinks it when the
 * recognizers are done. SDRA_EINVAL when there is under 1 s of speech or the statistics are
 * degenerate (decode unadapted then); nothing is left behind on an error. */
int sdra_asr_adapter_write(sdra_asr_adapter *a, char *path, size_t cap, sdra_error *err);
/* Before a's first write: its frames are normalised with the cepstral mean of whole's (the
 * whole recording's, of which a holds one speaker), not with their own, as the recognizer's
 * running mean, which follows the whole recording, will normalise them. */
void sdra_asr_adapter_normalise_as(sdra_asr_adapter *a, const sdra_asr_adapter *whole);
void sdra_asr_adapter_destroy(sdra_asr_adapter *a); /* NULL is fine */

/* Writes the generic model (generic_bin: a trigram model in sphinxbase's trie format, like
 * en-us.lm.bin) interpolated with a domain model (domain_arpa: ARPA, order <= 3) with the
 * given weight of the domain, 0 < weight < 1, as one model in the trie format at out_bin
 * (src/asr/lm_merge.c explains how). The decoder then scores one model, not two; the build
 * makes the default mixture this way (docs/asr.md). */
int sdra_asr_lm_merge(const char *generic_bin, const char *domain_arpa, double weight,
                      const char *out_bin, sdra_error *err);

typedef struct sdra_asr_word {
    char *w;                /* lower case, no alternate-pronunciation suffix */
    double start_s, end_s;  /* seconds from the start of the stream */
    float conf;             /* posterior probability, 0..1 */
} sdra_asr_word;

typedef struct sdra_asr_utt {
    double start_s, end_s;
    sdra_asr_word *words;   /* fillers (silence, noise) are never included */
    size_t n_words;
} sdra_asr_utt;

/* Frees the words of u (not u itself) and zeroes it. NULL is fine. */
void sdra_asr_utt_release(sdra_asr_utt *u);

/* The backend table. state is the backend's own object. Every function returns 0 or a
 * negative sdra_code with err filled. poll sets *ready = false when no utterance is final. */
struct sdra_asr_ops {
    const char *name;
    int (*create)(void **state, const sdra_asr_params *p, sdra_error *err);
    int (*start_stream)(void *state, sdra_error *err);
    /* May be NULL: the backend has nothing to adapt (sdra_asr_prime then does nothing). */
    int (*prime)(void *state, const int16_t *pcm, size_t n, sdra_error *err);
    int (*feed)(void *state, const int16_t *pcm, size_t n, sdra_error *err);
    int (*poll)(void *state, sdra_asr_utt *out, bool *ready, sdra_error *err);
    int (*end_stream)(void *state, sdra_error *err);
    void (*destroy)(void *state);
    /* Static description of the model ("en-us + sales.lm (0.30)"), for transcript metadata. */
    const char *(*describe)(void *state);
    /* May be NULL (no partial hypotheses): see sdra_asr_partial. */
    int (*partial)(void *state, char *text, size_t n, double *start_s, sdra_error *err);
    /* May be NULL (nothing to transform): see sdra_asr_set_mllr. */
    int (*set_mllr)(void *state, const char *path, sdra_error *err);
};

/* The table of a backend by name, or NULL when this build has none of that name. */
const struct sdra_asr_ops *sdra_asr_backend(const char *name);

typedef struct sdra_asr sdra_asr;

/* Creates a recognizer (loads its models: expect a second or so for sphinx). Fails with
 * SDRA_EINVAL for a bad params value or vocabulary file (message names file and line),
 * SDRA_ENOTFOUND for a missing model file, SDRA_EUNSUPPORTED for an unknown backend. */
int sdra_asr_create(sdra_asr **out, const sdra_asr_params *p, sdra_error *err);
void sdra_asr_destroy(sdra_asr *asr); /* NULL is fine */

/* Begins a stream: times restart at 0 and the recognizer forgets the previous stream's
 * acoustics (so the same audio gives the same words, whatever was decoded before). */
int sdra_asr_start_stream(sdra_asr *asr, sdra_error *err);
/* Right after start_stream, before any feed: pcm is audio that came just before the stream
 * in the same recording (a chunk's predecessor). The recognizer adapts to it (noise level,
 * cepstral mean) as if it had heard it, without recognizing it; times still count from the
 * first fed sample. So a recording cut into chunks decodes each chunk as it would have been
 * decoded in one pass, yet every chunk stays independent of which worker decodes it. */
int sdra_asr_prime(sdra_asr *asr, const int16_t *pcm, size_t n, sdra_error *err);
int sdra_asr_feed(sdra_asr *asr, const int16_t *pcm, size_t n, sdra_error *err);
/* Takes the oldest finalized utterance (caller releases it) when *ready is true. */
int sdra_asr_poll(sdra_asr *asr, sdra_asr_utt *out, bool *ready, sdra_error *err);
/* Ends the stream: the last utterance becomes final (poll for it). */
int sdra_asr_end_stream(sdra_asr *asr, sdra_error *err);

/* The words recognized so far in the utterance being decoded (not final: a later feed may
 * change them, and the utterance poll gives is what counts), space-separated, cut to fit n,
 * with the stream time of its first word in *start_s. An empty text (start -1) when no
 * utterance is in progress or the backend gives no partial hypotheses. Costs a backtrace of
 * the search: call it about once a second, not per feed. */
int sdra_asr_partial(sdra_asr *asr, char *text, size_t n, double *start_s, sdra_error *err);

/* Between streams: the model's means from now on are the model's own under the transform in
 * path (a -mllr file, as sdra_asr_adapter_write writes it), instead of the one the recognizer
 * was created with (sdra_asr_params.mllr_path) or last set; the same path again costs nothing.
 * So one recognizer decodes each speaker of a mono call with that speaker's transform. Such a
 * recognizer no longer matches its params: never hand it to a cache. SDRA_EUNSUPPORTED for a
 * backend with no acoustic model to transform; SDRA_EINVAL for a file that is no transform
 * (the recognizer keeps its last one). */
int sdra_asr_set_mllr(sdra_asr *asr, const char *path, sdra_error *err);

const char *sdra_asr_name(const sdra_asr *asr);     /* "sphinx" */
const char *sdra_asr_describe(const sdra_asr *asr); /* model description; never NULL */

/* ---- a cache of idle recognizers (live calls) -------------------------------------------
 *
 * Loading a sphinx model takes a second or two; a live call must not wait for it. The cache
 * keeps recognizers that finished their stream, keyed by everything in their params that
 * shapes the model (backend, rate, model and acoustic-model directories, domain model and
 * weight, vocabulary, hints, max_utterance_s, fast_search), and hands one back to the next
 * get with the same params, so a server loads each configuration once, not once per call.
 * Thread-safe. At most max_idle recognizers wait in it; putting one more destroys the one idle
 * longest. The pool API of whisper-http (below) is a different thing: a request scheduler.
 *
 *     sdra_asr *a;
 *     sdra_asr_cache_get(cache, &p, &a, &err);  // started: sdra_asr_start_stream done
 *     ... feed, poll, end_stream, poll ...
 *     sdra_asr_cache_put(cache, a);             // or sdra_asr_destroy(a) after a failure
 */
typedef struct sdra_asr_cache sdra_asr_cache;

/* max_idle 0: nothing is kept (every get creates, every put destroys). */
int sdra_asr_cache_create(sdra_asr_cache **out, int max_idle, sdra_error *err);
void sdra_asr_cache_destroy(sdra_asr_cache *c); /* destroys the idle ones; NULL is fine */

/* An idle recognizer made with the same params, else a new one (sdra_asr_create, same
 * errors); either way its stream is started (sdra_asr_start_stream: it remembers nothing of
 * an earlier call). On failure *out is untouched. */
int sdra_asr_cache_get(sdra_asr_cache *c, const sdra_asr_params *p, sdra_asr **out, sdra_error *err);

/* Gives asr (from sdra_asr_cache_get; NULL is fine) back for reuse. */
void sdra_asr_cache_put(sdra_asr_cache *c, sdra_asr *asr);

/* Recognizers created and gets served from idle ones so far, and how many wait now. */
void sdra_asr_cache_counts(sdra_asr_cache *c, long *created, long *reused, int *idle);

/* ---- remote recognizers: the endpoint scheduler of whisper-http --------------------------
 *
 * One pool per transcription, shared by its workers (thread-safe). It holds the endpoints
 * (base URLs ending in /v1; requests go to {base}/audio/transcriptions), at most
 * max_in_flight requests per endpoint, and sends each request to the least-loaded healthy
 * endpoint. Transient failures (connection, timeout, 408/429/5xx, a reply that is not
 * verbose_json) are retried with exponential backoff and jitter, on another endpoint when one
 * is free; 429/503 with Retry-After rest that endpoint for that long (capped). down_after
 * failures in a row mark an endpoint down for down_ms and its chunks go to the others. A
 * 4xx (bad request, 401/403), a bad URL or an oversized reply fails at once. The bearer key is
 * api_key, or else $SDRA_ASR_API_KEY; it is never logged nor put into messages. */
#define SDRA_ASR_MAX_URLS 8
#define SDRA_ASR_REMOTE_MAX_S 120.0 /* most audio one whisper-http stream may hold */

typedef struct sdra_asr_remote_params {
    const char *urls[SDRA_ASR_MAX_URLS]; /* http(s)://host[:port]/.../v1 */
    int n_urls;
    const char *model;          /* default "whisper-1" */
    const char *language;       /* ISO-639-1 ("en"), or NULL to let the server detect */
    const char *api_key;        /* NULL = $SDRA_ASR_API_KEY (or none) */
    const char *prompt;         /* names and words to expect (the stage fills it from the call
                                   sheet and the vocabulary), or NULL; cut to 800 bytes */
    long timeout_ms;            /* per request; default 120000 */
    int max_in_flight;          /* per endpoint; default 2 */
    int max_attempts;           /* per chunk, over all endpoints; default 6 */
    long backoff_ms;            /* first backoff, doubled per retry; default 500 */
    long max_backoff_ms;        /* cap of backoff and Retry-After; default 10000 */
    int down_after;             /* failures in a row that mark an endpoint down; default 3 */
    long down_ms;               /* a down endpoint is tried again after this; default 30000 */
    size_t max_response_bytes;  /* default 4 MiB (a larger reply fails: SDRA_ELIMIT) */
} sdra_asr_remote_params;

sdra_asr_remote_params sdra_asr_remote_default_params(void);

/* Counters of one pool (requests) and of the whisper-http recognizers that used it (guards
 * against Whisper's failure modes: docs/models.md). */
typedef struct sdra_asr_stats {
    long requests;              /* HTTP requests made (attempts) */
    long retries;               /* attempts after a transient failure */
    long failovers;             /* retries that went to another endpoint */
    long endpoints_marked_down; /* times an endpoint was marked down */
    long silent_chunks_skipped; /* chunks with no speech energy, never sent */
    long silence_dropped;       /* segments dropped as text on silence */
    long repetition_dropped;    /* segments dropped or loops cut as repetition */
} sdra_asr_stats;

typedef struct sdra_asr_pool sdra_asr_pool;

/* Copies p (strings too). Fails with SDRA_EINVAL (message names the URL) when there is no URL,
 * a URL is not http(s), or a value is out of range. */
int sdra_asr_pool_create(sdra_asr_pool **out, const sdra_asr_remote_params *p, sdra_error *err);
void sdra_asr_pool_destroy(sdra_asr_pool *pool); /* NULL is fine */
void sdra_asr_pool_get_stats(sdra_asr_pool *pool, sdra_asr_stats *out);

/* Whisper repeats a word or two at a chunk's edge when the cut is close to speech. Drops the
 * words at the start of next (a chunk that begins at boundary_s) that repeat the last words of
 * prev, same text within 1 s of the boundary and at most 0.5 s apart; returns how many were
 * dropped. Utterances left empty are kept with no words (the caller skips them). */
size_t sdra_asr_drop_boundary_duplicates(sdra_asr_utt *prev, size_t n_prev, sdra_asr_utt *next,
                                         size_t n_next, double boundary_s);

/* ---- user vocabulary (docs/vocabulary.md) ---------------------------------------------- */

#define SDRA_ASR_VOCAB_MAX_ENTRIES 10000
#define SDRA_ASR_VOCAB_MAX_BYTES (1 << 20)
#define SDRA_ASR_WORD_MAX 64

typedef struct sdra_asr_vocab_entry {
    char *word;   /* lower case */
    char *phones; /* "AH K M IY" (CMUdict phones, stress removed, upper case), or NULL to look
                     the word up in the dictionary */
    int line;     /* line number in the file, for messages */
} sdra_asr_vocab_entry;

typedef struct sdra_asr_vocab {
    sdra_asr_vocab_entry *entries;
    size_t n_entries;
} sdra_asr_vocab;

/* Parses a vocabulary file: one "word [PHONE ...]" per line, '#' comments, blank lines.
 * Fails with SDRA_EINVAL naming file:line for an unknown phone, a bad word or a too-long line,
 * SDRA_ELIMIT beyond the size/entry limits, SDRA_ENOTFOUND when the file is missing. */
int sdra_asr_vocab_load(sdra_asr_vocab **out, const char *path, sdra_error *err);
/* The same from a string (name is used in messages). */
int sdra_asr_vocab_parse(sdra_asr_vocab **out, const char *text, size_t len, const char *name,
                         sdra_error *err);
void sdra_asr_vocab_destroy(sdra_asr_vocab *v); /* NULL is fine */

/* True when s is a phone of the CMUdict set (AA AE ... ZH, without stress digits). */
bool sdra_asr_phone_valid(const char *s);

#ifdef __cplusplus
}
#endif
#endif
