/*
 * src/transcribe/work.c - the decoding queue of the transcription stage (internal.h).
 *
 * The reader (transcribe.c) cuts each stream into chunks and pushes them here; `jobs` worker
 * threads take them from a bounded queue (2 * jobs chunks) and decode each as one independent
 * stream with a recognizer of their own, primed with the audio before the chunk
 * (sdra_asr_prime: the recognizer's noise estimate and cepstral mean then start where a
 * one-pass decode would have them, instead of at the model's defaults, which cost real phone
 * audio most of its accuracy at every cut). A chunk's words and times therefore depend only
 * on the audio (unit.transcribe.test_chunked). Its word confidences do not quite: the
 * recognizer keeps some state from one stream to the next that PocketSphinx's API does not
 * reset (the same chunk decoded by a fresh recognizer and by one that had decoded others
 * differs in the fourth decimal of a few confidences; docs/asr.md, "The same transcript on
 * every run"), and a new recognizer per chunk costs 0.45 s of loading. So each chunk has a
 * fixed owner, dealt in turn to the workers that take its slot (`dealt`): the same recording
 * with the same --jobs gives the same transcript on every run. Worker 0's recognizer is loaded
 * before reading starts; worker i loads its own when it is dealt its first chunk. Results
 * are stored per (stream, chunk index), for assemble.c to merge in order. A worker's failure
 * is recorded once: the reader sees it (sdra_transcribe_work_failed) and stops.
 */
#include "transcribe/internal.h"
#include "sdra/asr.h"
#include "sdra/audio.h"
#include "sdra/util.h"

#include <stdlib.h>
#include <string.h>

#define FEED_FRAMES 8000 /* 0.5 s pieces into the recognizer */

/* One chunk to decode: its stream, its place in the stream's results, its audio and the audio
 * just before it (for sdra_asr_prime), and the transform to decode it under (the plan's). */
struct sdra_transcribe_job {
    int stream;
    size_t index;
    sdra_chunk chunk;
    int16_t *ctx;
    size_t n_ctx;
    const char *mllr;
    int owner; /* the worker that decodes it */
};

/* A worker holds a recognizer per acoustic model its chunks need: slot 0 for the first
 * stream's model, slot 1 for the second stream's when it differs (a stereo call whose one side
 * came over the telephone and the other did not), or for its own transform. With two slots and
 * two workers or more, each worker takes the chunks of one slot only (worker i those of slot
 * i % 2), so it holds one recognizer (about 90 MB) instead of both. Worker 0's slot-0
 * recognizer is made by sdra_transcribe_work_init; every other one when the worker first
 * decodes a chunk that needs it. */
struct sdra_transcribe_worker {
    sdra_transcribe_work *w;
    sdra_asr *asr[2];
    const sdra_asr_params *asrp[2]; /* per slot; [1] NULL when one serves both streams */
    int only;                       /* the one slot whose chunks it takes, or -1: any */
    int index;
    pthread_t tid;
    bool started;
};

typedef sdra_transcribe_job job;
typedef sdra_transcribe_work work;
typedef sdra_transcribe_worker worker;
typedef sdra_assemble_chunk chunk_result;

/* Decodes one chunk as its own stream; utterances get absolute times. */
static int decode_chunk(sdra_asr *asr, const job *j, int rate_hz, sdra_asr_utt **out, size_t *n_out,
                        sdra_error *err)
{
    const sdra_chunk *c = &j->chunk;
    sdra_asr_utt *utts = NULL;
    size_t n = 0, cap = 0;
    double off = (double)c->start_frame / rate_hz;
    int rc = sdra_asr_start_stream(asr, err);
    if (rc == 0)
        rc = sdra_asr_prime(asr, j->ctx, j->n_ctx, err);
    for (size_t pos = 0; rc == 0;) {
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

/* The queue position (0 = head) of the first job worker `index` owns, or -1 when none is
 * queued. Called with w->mu held. */
static long next_job(const work *w, int index)
{
    for (size_t k = 0; k < w->q_n; k++)
        if (w->q[(w->q_head + k) % w->q_cap].owner == index)
            return (long)k;
    return -1;
}

/* Whether worker wk takes the chunks of recognizer slot `slot`. */
static bool takes(const worker *wk, int slot)
{
    return wk->only < 0 || wk->only == slot;
}

/* The owner of the next chunk of `slot`: the workers that take it, in turn. With w->mu held. */
static int deal(work *w, int slot)
{
    int n = 0;
    for (int i = 0; i < w->jobs; i++)
        n += takes(&w->wk[i], slot);
    size_t turn = w->dealt[slot]++ % (size_t)(n ? n : 1);
    for (int i = 0; i < w->jobs; i++)
        if (takes(&w->wk[i], slot) && turn-- == 0)
            return i;
    return 0; /* cannot happen: every slot has a worker */
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
    /* Loading takes a second or two and 90 MB: a worker loads its recognizer when it is dealt
       its first chunk (a call of one chunk never needs a second one), meanwhile the others
       decode, and a worker dealt none loads nothing. */
    for (;;) {
        pthread_mutex_lock(&w->mu);
        long at;
        while ((at = next_job(w, wk->index)) < 0 && !w->closing)
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
            r->worker = wk->index;
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
int sdra_transcribe_work_push(work *w, int stream, sdra_chunk *c, sdra_error *err)
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
        (job){.stream = stream,
              .index = index,
              .chunk = *c,
              .ctx = ctx,
              .n_ctx = n_ctx,
              .mllr = w->plan ? sdra_adapt_plan_file(w->plan, stream, c->start_frame) : NULL,
              .owner = deal(w, w->model_of[stream])};
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

bool sdra_transcribe_work_failed(work *w)
{
    pthread_mutex_lock(&w->mu);
    bool f = w->failed;
    pthread_mutex_unlock(&w->mu);
    return f;
}

/* Drains ready chunks from a chunker into the queue. */
int sdra_transcribe_work_drain(work *w, sdra_chunker *ck, int stream, const int16_t *pcm, size_t n,
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
        if ((rc = sdra_transcribe_work_push(w, stream, &c, err)) < 0)
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
        if ((rc = sdra_transcribe_work_push(w, stream, &c, err)) < 0)
            return rc;
    }
}

/* sdra_transcribe_work_drain for a mono call adapted by speaker: n samples from stream frame pos,
 * cut where a speaker span ends, so that each chunk is one speaker's (*span: the current span). */
int sdra_transcribe_work_drain_by_speaker(work *w, sdra_chunker *ck, const int16_t *pcm, size_t n,
                                          int64_t pos, size_t *span, sdra_error *err)
{
    int rc = 0;
    for (size_t off = 0, k; off < n && rc == 0; off += k) {
        size_t was = *span;
        k = sdra_span_run(w->plan->spans, w->plan->n_spans, span, pos + (int64_t)off, n - off);
        if (*span != was)
            rc = cut_chunker(w, ck, 0, err);
        if (rc == 0)
            rc = sdra_transcribe_work_drain(w, ck, 0, pcm + off, k, err);
    }
    return rc;
}

/* Drops the words each chunk repeats from the end of the chunk before it (whisper-http). */
long sdra_transcribe_work_drop_boundary_duplicates(work *w, int n_streams)
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

int sdra_transcribe_work_init(work *w, int jobs, const sdra_asr_params *asrp, int n_slots,
                              size_t ctx_frames, const sdra_adapt_plan *plan, sdra_error *err)
{
    w->jobs = jobs;
    w->ctx_frames = ctx_frames;
    w->plan = plan;
    w->model_of[0] = 0;
    w->model_of[1] = n_slots - 1;
    w->q_cap = (size_t)jobs * 2;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->not_empty, NULL);
    pthread_cond_init(&w->not_full, NULL);
    w->sync_init = true;
    if (!(w->wk = calloc((size_t)jobs, sizeof *w->wk)) || !(w->q = calloc(w->q_cap, sizeof *w->q)))
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    for (int i = 0; i < jobs; i++) {
        w->wk[i].w = w;
        w->wk[i].asrp[0] = &asrp[0];
        w->wk[i].asrp[1] = n_slots == 2 ? &asrp[1] : NULL;
        w->wk[i].only = n_slots == 2 && jobs >= 2 ? i % 2 : -1;
        w->wk[i].index = i;
    }
    /* the first recognizer here, so that a bad vocabulary or model fails before any decoding;
       the other workers load theirs in their own threads while this one decodes */
    return sdra_asr_create(&w->wk[0].asr[0], &asrp[0], err);
}

int sdra_transcribe_work_start(work *w, sdra_error *err)
{
    for (int i = 0; i < w->jobs; i++) {
        if (pthread_create(&w->wk[i].tid, NULL, worker_main, &w->wk[i]) != 0)
            return sdra_error_set(err, SDRA_ENOMEM, "cannot start a decoding thread");
        w->wk[i].started = true;
    }
    return 0;
}

/* Tells the workers no more chunks come (fail: they skip what is left) and waits for them. */
static void close_and_join(work *w, bool fail)
{
    if (!w->sync_init)
        return;
    pthread_mutex_lock(&w->mu);
    w->closing = true;
    if (fail)
        w->failed = true;
    pthread_cond_broadcast(&w->not_empty);
    pthread_cond_broadcast(&w->not_full);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; w->wk && i < w->jobs; i++)
        if (w->wk[i].started) {
            pthread_join(w->wk[i].tid, NULL);
            w->wk[i].started = false;
        }
}

int sdra_transcribe_work_finish(work *w, int rc, sdra_error *err)
{
    close_and_join(w, rc < 0);
    if (rc == 0 && w->failed) {
        if (err)
            *err = w->err;
        rc = w->err.code ? w->err.code : SDRA_EINTERNAL;
    }
    return rc;
}

sdra_asr *sdra_transcribe_work_asr(const work *w)
{
    return w->wk[0].asr[0];
}

void sdra_transcribe_work_release(work *w)
{
    close_and_join(w, true);
    for (int i = 0; w->wk && i < w->jobs; i++) {
        sdra_asr_destroy(w->wk[i].asr[0]);
        sdra_asr_destroy(w->wk[i].asr[1]);
    }
    free(w->wk);
    for (size_t i = 0; w->q && i < w->q_n; i++) {
        sdra_chunk_release(&w->q[(w->q_head + i) % w->q_cap].chunk);
        free(w->q[(w->q_head + i) % w->q_cap].ctx);
    }
    free(w->tail[0]);
    free(w->tail[1]);
    free(w->q);
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < w->n_res[s]; i++) {
            for (size_t k = 0; k < w->res[s][i].n_utts; k++)
                sdra_asr_utt_release(&w->res[s][i].utts[k]);
            free(w->res[s][i].utts);
        }
        free(w->res[s]);
        free(w->start_s[s]);
    }
    if (w->sync_init) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->not_empty);
        pthread_cond_destroy(&w->not_full);
    }
    memset(w, 0, sizeof *w);
}
