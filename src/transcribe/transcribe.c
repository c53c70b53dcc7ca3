/*
 * src/transcribe/transcribe.c - the transcription stage (include/sdra/transcribe.h).
 *
 * One reader (the calling thread) decodes the audio block by block, feeds the diarizer, and
 * cuts each stream (stereo: the two channels; otherwise the mono mix) into chunks at silences.
 * Before that, adapt.c may adapt the model to the recording: a mono call is then diarized
 * first, cut also where the speaker changes, and each chunk decoded under its speaker's
 * transform.
 * Chunks go through a bounded queue to `jobs` worker threads; each worker owns a recognizer and
 * decodes a chunk as one independent stream, primed with the PRIME_S seconds of audio before
 * it (sdra_asr_prime: the recognizer's noise estimate and cepstral mean then start where a
 * one-pass decode would have them, instead of at the model's defaults, which cost real phone
 * audio most of its accuracy at every cut). A chunk's words therefore depend only on the
 * audio, not on which worker took it. Worker 0's recognizer is loaded before reading starts (a
 * bad model or vocabulary fails at once); worker i loads its own once there are more than i
 * chunks, while the others decode. Results are stored per (stream, chunk index) and merged in
 * order, with times shifted by the chunk's start. Memory: the queue holds at most 2 * jobs
 * chunks (<= 30 s each, with PRIME_S of context each) plus what the chunkers buffer; the
 * audio is never held whole. Words and turns are kept (small).
 *
 * Before that, prescan.c looks at the file's first minute (are a stereo file's channels two
 * parties; is the band above 4 kHz empty, telephone audio at a wideband rate). Assembly
 * (assemble.c) turns the words and the diarizer's turns into the transcript; meta.c writes
 * what the transcript's meta says about how it was made.
 *
 * A remote backend (whisper-http) changes only the numbers: its recognizers are cheap (a
 * request each), so jobs defaults to the endpoints' in-flight total, its chunks are not
 * primed, and one endpoint scheduler (sdra_asr_pool) is shared by the workers. Its results
 * get one more pass before assembly: words repeated across a chunk boundary are dropped.
 */
#include "transcribe/internal.h"
#include "sdra/asr.h"
#include "sdra/audio.h"
#include "sdra/diarize.h"
#include "sdra/util.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_FRAMES 4096
#define FEED_FRAMES 8000 /* 0.5 s pieces into the recognizer */
#define MAX_JOBS 64
/* Each chunk's recognizer first adapts to this much of the audio before the chunk
 * (sdra_asr_prime): the live cepstral mean spans about 5-8 s of speech. 10 s was best of
 * 0/5/10/20 s on pyannote-sample (WER 91.4/86.4/84.0/85.2 %, before the 0.1 s blocks). */
#define PRIME_S 10.0

sdra_transcribe_params sdra_transcribe_default_params(void)
{
    sdra_transcribe_params p = {
        .jobs = 0,
        .n_speakers = 0, /* estimated: one talker gives one speaker (docs/diarization.md) */
        .rep_channel = -1,
        .domain_weight = -1.0f,
        .max_duration_s = 4 * 3600.0,
        .pause_split_s = 1.0,
        .raw_channels = 1,
        .raw_rate_hz = 16000,
        .prime_s = PRIME_S,
    };
    const char *env = getenv("SDRA_PRIME_S");
    char *end = NULL;
    double v = env && *env ? strtod(env, &end) : -1;
    if (env && *env && end && !*end && v >= 0 && v <= 30)
        p.prime_s = v;
    return p;
}

static bool is_remote(const sdra_transcribe_params *p)
{
    return p->backend && sdra_asr_backend(p->backend) == sdra_asr_backend("whisper-http");
}

static int default_jobs(const sdra_transcribe_params *p)
{
    if (is_remote(p) && p->remote) { /* requests, not decoders: as many as may be in flight */
        int mif = p->remote->max_in_flight > 0 ? p->remote->max_in_flight : 2;
        long n = (long)p->remote->n_urls * mif;
        return n < 1 ? 1 : n > MAX_JOBS ? MAX_JOBS : (int)n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_JOBS ? MAX_JOBS : (int)n;
}

typedef struct job {
    int stream;
    size_t index;
    sdra_chunk chunk;
    int16_t *ctx; /* the audio just before the chunk (its stream's), for sdra_asr_prime */
    size_t n_ctx;
    const char *mllr; /* the transform to decode it under (the plan's), or NULL */
} job;

typedef sdra_assemble_chunk chunk_result;

typedef struct work {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    job *q;
    size_t q_head, q_n, q_cap;
    bool closing;
    bool failed;
    sdra_error err;
    chunk_result *res[2];
    size_t n_res[2], cap_res[2];
    double *start_s[2]; /* per stream and chunk: where the chunk starts (cap_res[s] of them) */
    int16_t *tail[2]; /* per stream: the last ctx_frames samples queued so far */
    size_t n_tail[2], ctx_frames;
    double asr_busy_s;
    int model_of[2]; /* per stream: its acoustic model's slot in worker.asr (see worker) */
    const sdra_adapt_plan *plan; /* the transforms */
} work;

/* A worker holds a recognizer per acoustic model its chunks need: slot 0 for the first
 * stream's model, slot 1 for the second stream's when it differs (a stereo call whose one side
 * came over the telephone and the other did not). With two models and two workers or more,
 * each worker takes the chunks of one model only (worker i those of slot i % 2), so it holds
 * one recognizer (about 90 MB) instead of both. Worker 0's slot-0 recognizer is made by the
 * caller; every other one is made when the worker first decodes a chunk that needs it. */
typedef struct worker {
    work *w;
    sdra_asr *asr[2];
    const sdra_asr_params *asrp[2]; /* per slot; [1] NULL when one model serves both streams */
    int only;                       /* the one slot whose chunks it takes, or -1: any */
    int index;
    pthread_t tid;
    bool started;
} worker;

sdra_audio_params sdra_transcribe_audio_params(const sdra_transcribe_params *p)
{
    sdra_audio_params ap = sdra_audio_default_params();
    ap.max_duration_s = p->max_duration_s;
    ap.format_hint = p->format_hint;
    ap.raw_channels = p->raw_channels;
    ap.raw_rate_hz = p->raw_rate_hz;
    return ap;
}

int sdra_transcribe_asr_params(sdra_asr_params *ap, const sdra_transcribe_params *p)
{
    *ap = sdra_asr_default_params();
    if (p->backend)
        ap->backend = p->backend;
    ap->domain_lm_path = p->domain_lm_path;
    if (p->domain_weight >= 0)
        ap->domain_weight = p->domain_weight;
    ap->vocab_path = p->vocab_path;
    ap->hints[0] = p->hints;
    ap->hints[1] = p->rep_name;
    ap->hints[2] = p->company;
    return 0;
}

/* Appends s to the prompt (", "-separated) while it fits. */
static void prompt_add(char *buf, size_t cap, const char *s)
{
    size_t n = strlen(buf), k = s ? strlen(s) : 0;
    if (!k || n + k + 3 > cap)
        return;
    snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", s);
}

/* The scheduler of a whisper-http transcription, with a prompt of the names and words the
 * call is expected to hold (the call sheet, --hints, the vocabulary), as Whisper users give. */
static int make_pool(sdra_asr_pool **out, const sdra_transcribe_params *p, sdra_error *err)
{
    if (!p->remote || p->remote->n_urls < 1)
        return sdra_error_set(err, SDRA_EINVAL, "whisper-http needs an endpoint URL (--asr-url)");
    char prompt[801] = "";
    prompt_add(prompt, sizeof prompt, p->rep_name);
    prompt_add(prompt, sizeof prompt, p->company);
    prompt_add(prompt, sizeof prompt, p->hints && strspn(p->hints, ", ") < strlen(p->hints) ? p->hints : NULL);
    if (p->vocab_path) {
        sdra_asr_vocab *v = NULL;
        int rc = sdra_asr_vocab_load(&v, p->vocab_path, err);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < v->n_entries; i++)
            prompt_add(prompt, sizeof prompt, v->entries[i].word);
        sdra_asr_vocab_destroy(v);
    }
    sdra_asr_remote_params rp = *p->remote;
    if (!rp.prompt && prompt[0])
        rp.prompt = prompt;
    return sdra_asr_pool_create(out, &rp, err);
}

/* Decodes one chunk as its own stream; utterances get absolute times. */
static int decode_chunk(sdra_asr *asr, const job *j, int rate_hz, sdra_asr_utt **out,
                        size_t *n_out, sdra_error *err)
{
    const sdra_chunk *c = &j->chunk;
    sdra_asr_utt *utts = NULL;
    size_t n = 0, cap = 0;
    double off = (double)c->start_frame / rate_hz;
    int rc = sdra_asr_start_stream(asr, err);
    if (rc == 0)
        rc = sdra_asr_prime(asr, j->ctx, j->n_ctx, err);
    for (size_t pos = 0; rc == 0; ) {
        bool last = pos >= c->n_frames;
        if (last)
            rc = sdra_asr_end_stream(asr, err);
        else {
            size_t k = c->n_frames - pos < FEED_FRAMES ? c->n_frames - pos : FEED_FRAMES;
            rc = sdra_asr_feed(asr, c->pcm + pos, k, err);
            pos += k;
        }
        sdra_asr_utt u;
        bool ready = false;
        while (rc == 0 && (rc = sdra_asr_poll(asr, &u, &ready, err)) == 0 && ready) {
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                sdra_asr_utt *nu = realloc(utts, ncap * sizeof *nu);
                if (!nu) {
                    sdra_asr_utt_release(&u);
                    rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
                    break;
                }
                utts = nu;
                cap = ncap;
            }
            u.start_s += off;
            u.end_s += off;
            for (size_t i = 0; i < u.n_words; i++) {
                u.words[i].start_s += off;
                u.words[i].end_s += off;
            }
            utts[n++] = u;
        }
        if (last)
            break;
    }
    if (rc < 0) {
        for (size_t i = 0; i < n; i++)
            sdra_asr_utt_release(&utts[i]);
        free(utts);
        return rc;
    }
    *out = utts;
    *n_out = n;
    return 0;
}

/* Records the first failure (the reader stops and reports it). Call with w->mu held. */
static void fail_locked(work *w, const sdra_error *e)
{
    if (!w->failed) {
        w->failed = true;
        w->err = *e;
    }
}

/* The queue position (0 = head) of the first job for a worker taking only slot `only` (-1:
 * any), or -1 when none is queued. Called with w->mu held. */
static long next_job(const work *w, int only)
{
    for (size_t k = 0; k < w->q_n; k++)
        if (only < 0 || w->model_of[w->q[(w->q_head + k) % w->q_cap].stream] == only)
            return (long)k;
    return -1;
}

/* Takes the job at queue position k out, keeping the others in order. With w->mu held. */
static job take_job(work *w, size_t k)
{
    job j = w->q[(w->q_head + k) % w->q_cap];
    for (size_t m = k; m > 0; m--) /* the ones before it move up one place */
        w->q[(w->q_head + m) % w->q_cap] = w->q[(w->q_head + m - 1) % w->q_cap];
    w->q_head = (w->q_head + 1) % w->q_cap;
    w->q_n--;
    return j;
}

static void *worker_main(void *arg)
{
    worker *wk = arg;
    work *w = wk->w;
    if (!wk->asr[0]) {
        /* Loading takes a second or two and 90 MB: worker i loads once the reader has cut more
           than i chunks (a call of one chunk never needs a second recognizer), and meanwhile
           the others decode. */
        pthread_mutex_lock(&w->mu);
        while (w->n_res[0] + w->n_res[1] <= (size_t)wk->index && !w->closing)
            pthread_cond_wait(&w->not_empty, &w->mu);
        bool idle = w->n_res[0] + w->n_res[1] <= (size_t)wk->index;
        pthread_mutex_unlock(&w->mu);
        if (idle)
            return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&w->mu);
        long at;
        while ((at = next_job(w, wk->only)) < 0 && !w->closing)
            pthread_cond_wait(&w->not_empty, &w->mu);
        if (at < 0) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        job j = take_job(w, (size_t)at);
        bool skip = w->failed;
        pthread_cond_signal(&w->not_full);
        pthread_mutex_unlock(&w->mu);

        sdra_asr_utt *utts = NULL;
        size_t n = 0;
        sdra_error e = {0};
        int rc = 0;
        int slot = w->model_of[j.stream];
        if (!skip && !wk->asr[slot])
            rc = sdra_asr_create(&wk->asr[slot], wk->asrp[slot], &e);
        double t0 = sdra_clock_s();
        if (!skip && rc == 0 && j.mllr) /* a no-op unless the speaker changed */
            rc = sdra_asr_set_mllr(wk->asr[slot], j.mllr, &e);
        if (!skip && rc == 0)
            rc = decode_chunk(wk->asr[slot], &j, 16000, &utts, &n, &e);
        double busy = sdra_clock_s() - t0;
        sdra_chunk_release(&j.chunk);
        free(j.ctx);

        pthread_mutex_lock(&w->mu);
        w->asr_busy_s += busy;
        if (rc < 0)
            fail_locked(w, &e);
        if (rc == 0 && !skip) {
            chunk_result *r = &w->res[j.stream][j.index];
            r->utts = utts;
            r->n_utts = n;
            utts = NULL;
        }
        pthread_mutex_unlock(&w->mu);
        for (size_t i = 0; utts && i < n; i++)
            sdra_asr_utt_release(&utts[i]);
        free(utts);
    }
    return NULL;
}

/* The context of the next chunk of a stream: a copy of its tail, then the tail moves on by c. */
static int take_context(work *w, int stream, const sdra_chunk *c, int16_t **ctx, size_t *n_ctx)
{
    size_t cap = w->ctx_frames;
    *ctx = NULL;
    *n_ctx = 0;
    if (!cap)
        return 0;
    if (!w->tail[stream] && !(w->tail[stream] = malloc(cap * sizeof(int16_t))))
        return SDRA_ENOMEM;
    int16_t *t = w->tail[stream];
    size_t nt = w->n_tail[stream];
    if (nt && !(*ctx = malloc(nt * sizeof **ctx)))
        return SDRA_ENOMEM;
    if (nt)
        memcpy(*ctx, t, nt * sizeof *t);
    *n_ctx = nt;
    if (c->n_frames >= cap) {
        memcpy(t, c->pcm + (c->n_frames - cap), cap * sizeof *t);
        nt = cap;
    } else {
        size_t keep = nt + c->n_frames > cap ? cap - c->n_frames : nt;
        memmove(t, t + (nt - keep), keep * sizeof *t);
        memcpy(t + keep, c->pcm, c->n_frames * sizeof *t);
        nt = keep + c->n_frames;
    }
    w->n_tail[stream] = nt;
    return 0;
}

/* Registers a result slot and queues the chunk (blocks while the queue is full). Takes c. */
static int push_job(work *w, int stream, sdra_chunk *c, sdra_error *err)
{
    int rc = 0;
    int16_t *ctx = NULL;
    size_t n_ctx = 0;
    if (take_context(w, stream, c, &ctx, &n_ctx) < 0) {
        sdra_chunk_release(c);
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&w->mu);
    if (w->n_res[stream] == w->cap_res[stream]) {
        size_t ncap = w->cap_res[stream] ? w->cap_res[stream] * 2 : 64;
        chunk_result *nr = realloc(w->res[stream], ncap * sizeof *nr);
        if (nr)
            w->res[stream] = nr;
        double *ns = nr ? realloc(w->start_s[stream], ncap * sizeof *ns) : NULL;
        if (!ns) {
            rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
            goto done;
        }
        w->start_s[stream] = ns;
        w->cap_res[stream] = ncap;
    }
    size_t index = w->n_res[stream]++;
    w->res[stream][index] = (chunk_result){0};
    w->start_s[stream][index] = c->start_frame / 16000.0;
    while (w->q_n == w->q_cap && !w->failed)
        pthread_cond_wait(&w->not_full, &w->mu);
    if (w->failed) /* a worker failed: drop the chunk; the reader stops and reports it */
        goto done;
    w->q[(w->q_head + w->q_n) % w->q_cap] =
        (job){.stream = stream, .index = index, .chunk = *c, .ctx = ctx, .n_ctx = n_ctx,
              .mllr = w->plan ? sdra_adapt_plan_file(w->plan, stream, c->start_frame) : NULL};
    memset(c, 0, sizeof *c);
    ctx = NULL;
    w->q_n++;
    pthread_cond_broadcast(&w->not_empty); /* also wakes a worker waiting to load */
done:
    pthread_mutex_unlock(&w->mu);
    sdra_chunk_release(c);
    free(ctx);
    return rc;
}

static bool work_failed(work *w)
{
    pthread_mutex_lock(&w->mu);
    bool f = w->failed;
    pthread_mutex_unlock(&w->mu);
    return f;
}

/* Drains ready chunks from a chunker into the queue. */
static int drain_chunker(work *w, sdra_chunker *ck, int stream, const int16_t *pcm, size_t n,
                         sdra_error *err)
{
    for (;;) {
        sdra_chunk c = {0};
        bool ready = false;
        int rc = sdra_chunker_feed(ck, pcm, n, &c, &ready, err);
        if (rc < 0)
            return rc;
        pcm = NULL;
        n = 0;
        if (!ready)
            return 0;
        if ((rc = push_job(w, stream, &c, err)) < 0)
            return rc;
    }
}

/* Hands the chunker what it holds as a chunk of its own, even a short one: a cut. */
static int cut_chunker(work *w, sdra_chunker *ck, int stream, sdra_error *err)
{
    for (;;) {
        sdra_chunk c = {0};
        bool ready = false;
        int rc = sdra_chunker_finish(ck, &c, &ready, err);
        if (rc < 0 || !ready)
            return rc;
        if ((rc = push_job(w, stream, &c, err)) < 0)
            return rc;
    }
}

/* drain_chunker for a mono call adapted by speaker: n samples from stream frame pos, cut
 * where a speaker span ends, so that each chunk is one speaker's (*span: the current span). */
static int drain_by_speaker(work *w, sdra_chunker *ck, const int16_t *pcm, size_t n, int64_t pos,
                            size_t *span, sdra_error *err)
{
    int rc = 0;
    for (size_t off = 0, k; off < n && rc == 0; off += k) {
        size_t was = *span;
        k = sdra_span_run(w->plan->spans, w->plan->n_spans, span, pos + (int64_t)off, n - off);
        if (*span != was)
            rc = cut_chunker(w, ck, 0, err);
        if (rc == 0)
            rc = drain_chunker(w, ck, 0, pcm + off, k, err);
    }
    return rc;
}

/* Drops the words each chunk repeats from the end of the chunk before it (whisper-http). */
static long drop_boundary_duplicates(work *w, int n_streams)
{
    long n = 0;
    for (int s = 0; s < n_streams; s++)
        for (size_t i = 1; i < w->n_res[s]; i++) {
            chunk_result *a = &w->res[s][i - 1], *b = &w->res[s][i];
            n += (long)sdra_asr_drop_boundary_duplicates(a->utts, a->n_utts, b->utts, b->n_utts,
                                                         w->start_s[s][i]);
        }
    return n;
}

int sdra_transcribe_file(sdra_transcript **out, const char *audio_path,
                         const sdra_transcribe_params *p, const sdra_progress *progress,
                         sdra_error *err)
{
    int rc = 0;
    sdra_transcribe_params def = sdra_transcribe_default_params();
    if (!p)
        p = &def;
    double t_start = sdra_clock_s();
    sdra_audio *a = NULL;
    sdra_chunker *ck[2] = {NULL, NULL};
    sdra_diarizer *dz = NULL;
    sdra_turn *turns = NULL;
    size_t n_turns = 0;
    int n_found = 0;
    sdra_transcript *t = NULL;
    int16_t *buf = NULL;
    worker *wk = NULL;
    int jobs = p->jobs > 0 ? (p->jobs > MAX_JOBS ? MAX_JOBS : p->jobs) : default_jobs(p);
    bool remote = is_remote(p);
    sdra_asr_pool *pool = NULL;
    double chunk_s = p->chunk_s > 0 ? p->chunk_s : 20.0;
    double diar_s = 0, read_s = 0;
    work w = {0};
    bool sync_init = false;
    sdra_adapt_plan plan = {0}; /* the transforms (adapt.c), removed at the end */

    if (!(chunk_s >= 5 && chunk_s <= 30)) {
        rc = sdra_error_set(err, SDRA_EINVAL, "chunk length %g s: want 5..30", chunk_s);
        goto done;
    }
    if (remote && (rc = make_pool(&pool, p, err)) < 0)
        goto done;
    sdra_audio_params ap = sdra_transcribe_audio_params(p);
    if ((rc = sdra_audio_open(&a, audio_path, &ap, err)) < 0)
        goto done;
    const sdra_audio_info *info = sdra_audio_get_info(a);
    /* The band decides the model only for a local recognizer left to choose, at a rate above
       the telephone's (a Whisper server takes any audio; 8 kHz is narrowband anyway). */
    bool measure_band = !remote && p->acoustic_model == SDRA_ASR_AM_AUTO &&
                        info->source_rate_hz > SDRA_ASR_NARROWBAND_MAX_HZ;
    sdra_prescan pre = sdra_transcribe_prescan(audio_path, &ap, info->n_channels == 2, measure_band);
    bool stereo = info->n_channels == 2 && !pre.really_mono;
    int n_streams = stereo ? 2 : 1;
    double total_s = info->duration_s;

    /* The acoustic model of each stream: a stereo call's channels are measured one by one, and
       each side gets its own model when they differ (slot 1 of the workers' recognizers). */
    sdra_asr_params asrp[2];
    char hmm[2][4096];
    sdra_asr_am am[2] = {SDRA_ASR_AM_WIDEBAND, SDRA_ASR_AM_WIDEBAND};
    double band[2] = {stereo ? pre.high_band_db[1] : pre.high_band_db[0], pre.high_band_db[2]};
    int n_models = 1;
    for (int k = 0; k < 2; k++) {
        sdra_transcribe_asr_params(&asrp[k], p);
        asrp[k].pool = pool;
    }
    if (!remote) {
        bool differ = stereo && sdra_asr_am_choose(p->acoustic_model, info->source_rate_hz, band[0]) !=
                                    sdra_asr_am_choose(p->acoustic_model, info->source_rate_hz, band[1]);
        for (int k = 0; k < (differ ? 2 : 1); k++)
            am[k] = sdra_asr_am_resolve(&asrp[k], p->acoustic_model, info->source_rate_hz, band[k],
                                        hmm[k], sizeof hmm[k]);
        n_models = differ && am[0] != am[1] ? 2 : 1; /* one side's model missing: one model */
        if (n_models == 1)
            am[1] = am[0];
    }
    sdra_diarize_params dp = sdra_diarize_default_params();
    dp.method = stereo ? SDRA_DIARIZE_CHANNEL : SDRA_DIARIZE_CLUSTER;
    dp.n_speakers = p->n_speakers;
    /* Adaptation: each stream that wants it gets its own transform, so a stereo call's two
       streams get a recognizer slot each even on one model; a mono call's chunks switch to
       their speaker's transform (adapt.c). */
    int n_slots = n_models;
    if (!remote && strcmp(audio_path, "-")) {
        bool want[2] = {sdra_asr_adapt_wanted(p->adapt, am[0]),
                        stereo && sdra_asr_adapt_wanted(p->adapt, am[1])};
        if (want[1] && n_models == 1) {
            asrp[1] = asrp[0];
            n_slots = 2;
        }
        const sdra_asr_params *sp[2] = {&asrp[0], &asrp[n_slots - 1]};
        if ((want[0] || want[1]) &&
            (rc = sdra_transcribe_adapt(&plan, audio_path, &ap, stereo, sp, want, &dp, progress,
                                        total_s, err)) < 0)
            goto done;
        for (int s = 0; s < n_slots; s++)
            asrp[s].mllr_path = sdra_adapt_plan_file(&plan, s, 0); /* its first chunk's */
    }
    w.plan = &plan;
    w.model_of[0] = 0;
    w.model_of[1] = n_slots - 1;
    if (!(wk = calloc((size_t)jobs, sizeof *wk))) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }
    /* The first recognizer here, so that a bad vocabulary or model fails before any decoding;
       the other workers load theirs in their own threads while this one decodes. */
    if ((rc = sdra_asr_create(&wk[0].asr[0], &asrp[0], err)) < 0)
        goto done;
    for (int i = 0; i < jobs; i++) {
        wk[i].asrp[0] = &asrp[0];
        wk[i].asrp[1] = n_slots == 2 ? &asrp[1] : NULL;
        wk[i].only = n_slots == 2 && jobs >= 2 ? i % 2 : -1;
        wk[i].index = i;
    }

    sdra_chunker_params cp = sdra_chunker_default_params();
    cp.target_chunk_s = chunk_s;
    cp.min_chunk_s = chunk_s / 2;
    cp.max_chunk_s = chunk_s * 1.5 > 30 ? 30 : chunk_s * 1.5;
    for (int s = 0; s < n_streams; s++)
        if ((rc = sdra_chunker_create(&ck[s], &cp, err)) < 0)
            goto done;
    if (plan.diarized) { /* the adaptation pass diarized the call already */
        turns = plan.turns;
        n_turns = plan.n_turns;
        n_found = plan.n_speakers;
        plan.turns = NULL;
        diar_s += plan.diarize_s;
    } else if ((rc = sdra_diarizer_create(&dz, &dp, n_streams, err)) < 0)
        goto done;

    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.not_empty, NULL);
    pthread_cond_init(&w.not_full, NULL);
    sync_init = true;
    w.q_cap = (size_t)jobs * 2;
    w.ctx_frames = remote ? 0 : (size_t)((p->prime_s >= 0 && p->prime_s <= 30 ? p->prime_s : PRIME_S) * 16000); /* a server is not primed */
    if (!(w.q = calloc(w.q_cap, sizeof *w.q)) ||
        !(buf = malloc(3 * READ_FRAMES * sizeof *buf))) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < jobs; i++) {
        wk[i].w = &w;
        if (pthread_create(&wk[i].tid, NULL, worker_main, &wk[i]) != 0) {
            rc = sdra_error_set(err, SDRA_ENOMEM, "cannot start a decoding thread");
            goto done;
        }
        wk[i].started = true;
    }

    int16_t *ch0 = buf, *ch1 = buf + READ_FRAMES, *mix = buf + 2 * READ_FRAMES;
    int16_t *chans[SDRA_AUDIO_MAX_CHANNELS] = {ch0, stereo ? ch1 : NULL};
    int64_t frames = 0;
    size_t span = 0; /* by speaker: the span being read */
    for (;;) {
        size_t n = 0;
        double t0 = sdra_clock_s();
        rc = sdra_audio_read(a, chans, mix, READ_FRAMES, &n, err);
        if (rc < 0 || n == 0)
            break;
        frames += (int64_t)n;
        const int16_t *dchans[2] = {stereo ? ch0 : mix, ch1};
        double t1 = sdra_clock_s();
        if (dz && (rc = sdra_diarizer_feed(dz, dchans, n, err)) < 0)
            break;
        double t2 = sdra_clock_s();
        diar_s += t2 - t1;
        if (plan.n_spk > 0) /* a mono call adapted by speaker: chunks end where speakers change */
            rc = drain_by_speaker(&w, ck[0], mix, n, frames - (int64_t)n, &span, err);
        for (int s = 0; s < n_streams && rc == 0 && plan.n_spk == 0; s++)
            rc = drain_chunker(&w, ck[s], s, stereo ? chans[s] : mix, n, err);
        read_s += (t1 - t0) + (sdra_clock_s() - t2);
        if (rc < 0 || work_failed(&w))
            break;
        if (sdra_progress_report(progress, "transcribe", frames / 16000.0, total_s)) {
            rc = sdra_error_set(err, SDRA_ECANCELED, "%s: transcription canceled", audio_path);
            break;
        }
    }
    for (int s = 0; s < n_streams && rc == 0 && !work_failed(&w); s++) {
        sdra_chunk c = {0};
        bool ready = false;
        if ((rc = sdra_chunker_finish(ck[s], &c, &ready, err)) == 0 && ready)
            rc = push_job(&w, s, &c, err);
    }
    pthread_mutex_lock(&w.mu);
    w.closing = true;
    if (rc < 0)
        w.failed = true; /* workers skip what is left */
    pthread_cond_broadcast(&w.not_empty);
    pthread_mutex_unlock(&w.mu);
    for (int i = 0; i < jobs; i++)
        if (wk[i].started) {
            pthread_join(wk[i].tid, NULL);
            wk[i].started = false;
        }
    if (rc == 0 && w.failed) {
        if (err)
            *err = w.err;
        rc = w.err.code ? w.err.code : SDRA_EINTERNAL;
    }
    if (rc < 0)
        goto done;
    long boundary_dups = remote ? drop_boundary_duplicates(&w, n_streams) : 0;
    double t3 = sdra_clock_s();
    if (dz && (rc = sdra_diarizer_finish(dz, &turns, &n_turns, &n_found, err)) < 0)
        goto done;
    diar_s += sdra_clock_s() - t3;

    sdra_assemble_input in = {
        .stereo = stereo,
        .n_streams = n_streams,
        .turns = turns,
        .n_turns = n_turns,
        .n_speakers = stereo ? 2 : (n_found > 0 ? n_found : 1),
        .pause_split_s = p->pause_split_s > 0 ? p->pause_split_s : 1.0,
    };
    for (int s = 0; s < n_streams; s++) {
        in.chunks[s] = w.res[s];
        in.n_chunks[s] = w.n_res[s];
    }
    if ((rc = sdra_transcribe_assemble(&t, &in, err)) < 0)
        goto done;
    t->duration_s = frames / 16000.0;
    t->source = strdup(audio_path);
    sdra_roles_params rp = {.rep_channel = stereo ? p->rep_channel : -1,
                            .rep_name = p->rep_name,
                            .company = p->company,
                            .contact_name = p->contact_name};
    if ((rc = sdra_roles_assign(t, &rp, err)) < 0)
        goto done;
    t->meta = sdra_transcribe_timing_meta(sdra_asr_name(wk[0].asr[0]), sdra_asr_describe(wk[0].asr[0]), jobs,
                          info->n_channels, stereo ? "channel" : "cluster", t->duration_s,
                          sdra_clock_s() - t_start, read_s, w.asr_busy_s, diar_s);
    if (t->meta && !remote)
        sdra_transcribe_models_meta(t->meta, am, n_models, info->source_rate_hz, stereo, band);
    if (t->meta && !remote)
        sdra_transcribe_adapt_meta(t->meta, p->adapt, n_streams, &plan);
    if (t->meta && pool) {
        json_t *rm = sdra_transcribe_remote_meta(pool, boundary_dups, chunk_s, p->remote->n_urls);
        json_object_update(t->meta, rm);
        json_decref(rm);
    }
    sdra_log(SDRA_LOG_INFO, "%s: %.1f s of audio transcribed in %.1f s (%d jobs)", audio_path,
             t->duration_s, sdra_clock_s() - t_start, jobs);
    *out = t;
    t = NULL;
done:
    if (sync_init) {
        pthread_mutex_lock(&w.mu);
        w.closing = true;
        w.failed = true;
        pthread_cond_broadcast(&w.not_empty);
        pthread_cond_broadcast(&w.not_full);
        pthread_mutex_unlock(&w.mu);
    }
    for (int i = 0; wk && i < jobs; i++) {
        if (wk[i].started)
            pthread_join(wk[i].tid, NULL);
        sdra_asr_destroy(wk[i].asr[0]);
        sdra_asr_destroy(wk[i].asr[1]);
    }
    free(wk);
    for (size_t i = 0; i < w.q_n; i++) {
        sdra_chunk_release(&w.q[(w.q_head + i) % w.q_cap].chunk);
        free(w.q[(w.q_head + i) % w.q_cap].ctx);
    }
    free(w.tail[0]);
    free(w.tail[1]);
    free(w.q);
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < w.n_res[s]; i++) {
            for (size_t k = 0; k < w.res[s][i].n_utts; k++)
                sdra_asr_utt_release(&w.res[s][i].utts[k]);
            free(w.res[s][i].utts);
        }
        free(w.res[s]);
        free(w.start_s[s]);
    }
    if (sync_init) {
        pthread_mutex_destroy(&w.mu);
        pthread_cond_destroy(&w.not_empty);
        pthread_cond_destroy(&w.not_full);
    }
    sdra_adapt_plan_release(&plan);
    free(buf);
    free(turns);
    sdra_diarizer_destroy(dz);
    for (int s = 0; s < 2; s++)
        sdra_chunker_destroy(ck[s]);
    sdra_audio_close(a);
    sdra_transcript_destroy(t);
    sdra_asr_pool_destroy(pool);
    return rc;
}
