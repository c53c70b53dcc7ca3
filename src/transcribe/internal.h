/*
 * src/transcribe/internal.h - names shared inside the transcribe module: the recognizer
 * parameters derived from the stage's, and the assembly of words + turns into a transcript.
 */
#ifndef SDRA_TRANSCRIBE_INTERNAL_H
#define SDRA_TRANSCRIBE_INTERNAL_H

#include "sdra/asr.h"
#include "sdra/audio.h"
#include "sdra/diarize.h"
#include "sdra/transcribe.h"
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Fills ap from the stage parameters (backend, domain model, vocabulary). */
int sdra_transcribe_asr_params(sdra_asr_params *ap, const sdra_transcribe_params *p);
/* Records the acoustic model used (meta.acoustic_model: "wideband" or "narrowband"), the
 * source's sample rate (meta.source_rate_hz) and, when measured, the band meter's reading
 * (meta.source_high_band_db) in a transcript's meta. */
void sdra_transcribe_am_meta(json_t *meta, sdra_asr_am am, int source_rate_hz,
                             double high_band_db);

/* The ingest settings (limits, stream format) that p implies. */
sdra_audio_params sdra_transcribe_audio_params(const sdra_transcribe_params *p);

/* ---- before decoding: one look at the file (prescan.c) ---- */

/* What one look at a file's first minute tells before decoding starts (files only: a stream
 * cannot be read twice).
 *
 * really_mono: a two-channel file is a call with one party per channel only when the channels
 * differ. Many recorders write the same signal twice (or leave one channel silent), and
 * decoding each channel as its own speaker would then repeat every word: when the channels'
 * difference is 30 dB below their mean, or one channel is 40 dB below the other, the file is
 * treated as mono.
 *
 * high_band_db: the band meter's reading (sdra/audio.h), which tells telephone audio stored at
 * a wideband rate: [0] of the mix, and of each channel of a two-channel file in [1] and [2]
 * (one side of a call may have come over the telephone and the other not); NAN when not asked
 * for or not measurable. */
typedef struct sdra_prescan {
    bool really_mono;
    double high_band_db[3];
} sdra_prescan;

/* Reads up to a minute of path ("-" is not read): the channels compared when check_stereo,
 * the band measured when measure_band. A file that cannot be opened leaves the answers at
 * their defaults (not mono, NAN; the decoding that follows reports the error); a read error
 * ends the look early. */
sdra_prescan sdra_transcribe_prescan(const char *path, const sdra_audio_params *ap,
                                     bool check_stereo, bool measure_band);

/* ---- adapting the model to the recording (adapt.c) ---- */

/* A stretch of a mono recording that one speaker holds: frames [start, end). */
typedef struct sdra_span {
    int64_t start, end;
    int speaker;
} sdra_span;

/* The index of the span of s (n of them, in order, the first from 0) that holds frame. */
size_t sdra_span_at(const sdra_span *s, size_t n, int64_t frame);
/* Walking the spans in order: moves *at (the span that held the last position, 0 at first)
 * to the span that holds frame pos, and returns how many of the n samples from pos lie in
 * it (at least 1). */
size_t sdra_span_run(const sdra_span *s, size_t n_s, size_t *at, int64_t pos, size_t n);

typedef struct sdra_adapt_plan {
    char file[2][PATH_MAX]; /* per stream: its transform's file, "" for none */
    long frames[2];         /* the speech frames each rests on */
    /* a mono call diarized before decoding (diarized): the diarizer's result, which then
       serves the transcript, and its speaker spans */
    bool diarized;
    sdra_turn *turns;
    size_t n_turns;
    int n_speakers;
    double diarize_s;
    sdra_span *spans;
    size_t n_spans;
    /* and with more than one speaker, a transform per speaker (n_spk of them; "" for a speaker
       with too little speech, who gets file[0]) */
    int n_spk;
    char (*spk_file)[PATH_MAX];
    long *spk_frames;
} sdra_adapt_plan;

/* The adaptation pass (sdra_asr_adapter): before decoding, each stream that wants it
 * (want[s]) gets a transform from its own speech, estimated on its recognizer params asrp[s].
 * A mono call with dp (the stage's diarizer settings, not for exactly one speaker) is
 * diarized first and gets a transform per speaker (adapt.c says why). Too little speech, or a
 * model the adapter cannot read, leaves a stream or speaker unadapted with a log line, never a
 * failed transcription; a read error or a cancel is one (pl is then empty). Release pl with
 * sdra_adapt_plan_release, which removes the files. */
int sdra_transcribe_adapt(sdra_adapt_plan *pl, const char *path, const sdra_audio_params *ap,
                          bool stereo, const sdra_asr_params *asrp[2], const bool want[2],
                          const sdra_diarize_params *dp, const sdra_progress *progress,
                          double total_s, sdra_error *err);
/* The transform for the chunk of stream that starts at start_frame, or NULL for none. */
const char *sdra_adapt_plan_file(const sdra_adapt_plan *pl, int stream, int64_t start_frame);
void sdra_adapt_plan_release(sdra_adapt_plan *pl);

/* The recognized utterances of one chunk, absolute times. */
typedef struct sdra_assemble_chunk {
    sdra_asr_utt *utts;
    size_t n_utts;
    int worker; /* the worker that decoded it (work.c deals each chunk to a fixed one) */
} sdra_assemble_chunk;

typedef struct sdra_assemble_input {
    bool stereo;            /* stream s is channel s, speaker s; words outside s's turns are
                               bleed and dropped */
    int n_streams;
    const sdra_assemble_chunk *chunks[2]; /* per stream, in time order */
    size_t n_chunks[2];
    const sdra_turn *turns; /* diarizer output */
    size_t n_turns;
    int n_speakers;         /* speakers to create (S1..Sn) */
    double pause_split_s;
    bool keep_unheard;      /* mono: keep words far from every turn (a Whisper server's words
                               may be spread over their segment's time, pauses included) */
} sdra_assemble_input;

/* Builds the transcript (speakers, utterances split at pauses and turn changes; no roles). */
int sdra_transcribe_assemble(sdra_transcript **out, const sdra_assemble_input *in,
                             sdra_error *err);

/* ---- decoding: the queue of chunks and its worker threads (work.c) ---- */

typedef struct sdra_transcribe_work sdra_transcribe_work;
/* A queued chunk and a worker thread: defined in work.c, which alone looks inside them. */
typedef struct sdra_transcribe_job sdra_transcribe_job;
typedef struct sdra_transcribe_worker sdra_transcribe_worker;

/* The queue (at most 2 * jobs chunks), the workers, and the results per (stream, chunk index).
 * Each chunk is dealt to a fixed worker, in turn among those that take its slot: a recognizer
 * carries state from chunk to chunk that moves word confidences slightly, and a fixed owner
 * makes the same recording give the same transcript on every run (work.c). */
struct sdra_transcribe_work {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    bool sync_init;
    sdra_transcribe_job *q;
    size_t q_head, q_n, q_cap;
    bool closing;
    bool failed;
    sdra_error err;
    sdra_assemble_chunk *res[2];
    size_t n_res[2], cap_res[2];
    double *start_s[2]; /* per stream and chunk: where the chunk starts (cap_res[s] of them) */
    int16_t *tail[2];   /* per stream: the last ctx_frames samples queued so far */
    size_t n_tail[2], ctx_frames;
    double asr_busy_s;
    int model_of[2];             /* per stream: its recognizer's slot in the workers' asr[] */
    size_t dealt[2];             /* per slot: chunks given out so far (work.c, job owners) */
    const sdra_adapt_plan *plan; /* the transforms, or NULL */
    sdra_transcribe_worker *wk;
    int jobs;
};

/* Sets up w (zeroed by the caller) for `jobs` workers: slot 0 decodes with asrp[0], slot 1
 * (n_slots 2: the second stream) with asrp[1]; each chunk is primed with ctx_frames samples
 * of the audio before it (0: none); plan gives each chunk's transform (may be NULL). Makes
 * worker 0's recognizer, so that a bad model or vocabulary fails before any decoding. */
int sdra_transcribe_work_init(sdra_transcribe_work *w, int jobs, const sdra_asr_params *asrp,
                              int n_slots, size_t ctx_frames, const sdra_adapt_plan *plan,
                              sdra_error *err);
/* Starts the worker threads (each loads its recognizer once there is a chunk for it). */
int sdra_transcribe_work_start(sdra_transcribe_work *w, sdra_error *err);
/* Queues one chunk of a stream (blocks while the queue is full). Takes c. */
int sdra_transcribe_work_push(sdra_transcribe_work *w, int stream, sdra_chunk *c, sdra_error *err);
/* Feeds n samples to a stream's chunker and queues each chunk it cuts. */
int sdra_transcribe_work_drain(sdra_transcribe_work *w, sdra_chunker *ck, int stream,
                               const int16_t *pcm, size_t n, sdra_error *err);
/* The same for a mono call adapted by speaker: n samples from frame pos, also cut where a
 * speaker's span ends (*span: the current span of w->plan), so each chunk is one speaker's. */
int sdra_transcribe_work_drain_by_speaker(sdra_transcribe_work *w, sdra_chunker *ck,
                                          const int16_t *pcm, size_t n, int64_t pos, size_t *span,
                                          sdra_error *err);
/* Whether a worker failed (the reader then stops). */
bool sdra_transcribe_work_failed(sdra_transcribe_work *w);
/* No more chunks: waits for the workers (rc < 0: they skip what is left) and returns rc, or a
 * worker's first failure. */
int sdra_transcribe_work_finish(sdra_transcribe_work *w, int rc, sdra_error *err);
/* Drops the words each chunk repeats from the end of the chunk before it (whisper-http);
 * returns how many. */
long sdra_transcribe_work_drop_boundary_duplicates(sdra_transcribe_work *w, int n_streams);
/* Worker 0's first recognizer (made by a successful sdra_transcribe_work_init): the one the
 * meta names. */
sdra_asr *sdra_transcribe_work_asr(const sdra_transcribe_work *w);
/* Stops the workers if they run, and frees everything w holds (results included). */
void sdra_transcribe_work_release(sdra_transcribe_work *w);

/* ---- the transcript's meta (meta.c) ---- */

/* engine, model, jobs, channels, diarization method, audio and wall time, real-time factor,
 * and timings_s (reading and chunking, recognizers busy, diarizing). */
json_t *sdra_transcribe_timing_meta(const char *engine, const char *model, int jobs, int channels,
                                    const char *diar, double audio_s, double wall_s,
                                    double decode_s, double asr_s, double diar_s);
/* The acoustic model meta of a file (sdra_transcribe_am_meta), and for a stereo call the
 * model and band reading of each channel: "acoustic_model" is "mixed" when they differ. */
void sdra_transcribe_models_meta(json_t *meta, const sdra_asr_am am[2], int n_models,
                                 int source_rate_hz, bool stereo, const double band[2]);
/* meta.adaptation and the figures behind it (meta.c says what each means). */
void sdra_transcribe_adapt_meta(json_t *meta, sdra_asr_adapt mode, int n_streams,
                                const sdra_adapt_plan *pl);
/* A Whisper server's asr_guards and asr_requests, as a new object to merge into meta. */
json_t *sdra_transcribe_remote_meta(sdra_asr_pool *pool, long boundary_dups, double chunk_s,
                                    int n_urls);

#endif
