/*
 * sdra/transcribe.h - the transcription stage: audio file -> speaker-separated transcript.
 *
 * Pipeline (sdra_transcribe_file): the audio is decoded as a stream (never held whole); each
 * stream (stereo: each channel; mono: the mix) is cut at silences by the chunker; chunks go
 * through a bounded queue to `jobs` worker threads, each with its own recognizer; results are
 * merged in order with absolute times. Beside it the diarizer sees the same audio: for stereo
 * its channel turns tell which words are cross-channel bleed (dropped); for mono its cluster
 * turns assign each word to a speaker, and utterances are split at speaker changes and pauses.
 * Roles come from sdra_roles_assign. The transcript's meta records engine, model, jobs,
 * timings and the real-time factor.
 *
 * With the "whisper-http" backend the workers are HTTP requests, not decoders: one endpoint
 * scheduler (sdra_asr_pool) is shared by them, jobs defaults to the endpoints' total
 * in-flight limit, chunks are not primed, words repeated across a chunk boundary are dropped,
 * and meta also holds asr_guards (what the guards dropped) and asr_requests (requests,
 * retries, failovers, endpoints marked down). Live input (sdra_transcribe_stream) is not
 * supported with it (SDRA_EUNSUPPORTED).
 *
 *     sdra_transcribe_params p = sdra_transcribe_default_params();
 *     p.jobs = 2;
 *     sdra_transcript *t = NULL;
 *     if (sdra_transcribe_file(&t, "call.mp3", &p, NULL, &err) < 0) ...
 *     sdra_transcript_write(t, SDRA_TFMT_TEXT, stdout, &err);
 *     sdra_transcript_destroy(t);
 *
 * Live input (sdra_transcribe_stream, e.g. stdin): one recognizer per channel fed as audio
 * arrives; every utterance is handed to a callback as soon as it is final.
 */
#ifndef SDRA_TRANSCRIBE_H
#define SDRA_TRANSCRIBE_H

#include "sdra/asr.h"
#include "sdra/error.h"
#include "sdra/log.h"
#include "sdra/transcript.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sdra_transcribe_params {
    int jobs;                   /* decoding threads; 0 = number of online cores (max 64) */
    int n_speakers;             /* mono: speakers to find; 0 = estimate 1..6 (default) */
    int rep_channel;            /* stereo: 0 left, 1 right is the rep; -1 = decide by text */
    const char *vocab_path;     /* user vocabulary (docs/vocabulary.md), or NULL */
    const char *rep_name;       /* the rep's first name, helps role assignment; or NULL */
    const char *company;        /* the rep's company; or NULL */
    const char *contact_name;   /* the prospect's name from the call sheet, helps role
                                   assignment (sdra_roles_assign); or NULL */
    const char *hints;          /* names and terms expected in the call (contact, prospect's
                                   company, products), free text, or NULL; rep_name and
                                   company are hints too (sdra_asr_params.hints) */
    const char *backend;        /* ASR backend: "sphinx" (or "pocketsphinx"; NULL = it) or
                                   "whisper-http" (needs remote) */
    const sdra_asr_remote_params *remote; /* whisper-http: endpoints, model, language,
                                   scheduler (sdra/asr.h); the prompt is made here from the
                                   hints, the names and the vocabulary. NULL otherwise */
    double chunk_s;             /* chunk target length, 5..30 s; 0 = default (20; chunks are
                                   cut at a silence between half and 1.5 times it, <= 30 s) */
    double prime_s;             /* embedded engine: seconds of the audio before a chunk its
                                   recognizer adapts to (sdra_asr_prime); default 10, or
                                   $SDRA_PRIME_S (0..30) when set: a measuring knob, e.g. to
                                   compare with whisper-http, whose chunks go cold */
    const char *domain_lm_path; /* NULL = data/asr/sales.lm; "" = generic model only */
    float domain_weight;        /* < 0 = backend default */
    double max_duration_s;      /* longest audio accepted; default 4 h (SDRA_ELIMIT beyond) */
    double pause_split_s;       /* a pause this long inside a speaker's speech starts a new
                                   utterance; default 1.0 */
    const char *format_hint;    /* input format for streams ("wav", "s16le"), or NULL */
    int raw_channels;           /* raw s16le input: channels (default 1) */
    int raw_rate_hz;            /* raw s16le input: sample rate (default 16000) */
    sdra_asr_am acoustic_model; /* embedded engine: AUTO (default) picks the narrowband model
                                   for a source at <= 8 kHz (sdra_asr_am_choose); the
                                   transcript's meta.acoustic_model says which was used */
    sdra_asr_adapt adapt;       /* embedded engine, a file (not "-"): adapt the model to each
                                   stream's speech first (sdra_asr_adapter); AUTO (default)
                                   for the narrowband model only; meta.adaptation says */
} sdra_transcribe_params;

sdra_transcribe_params sdra_transcribe_default_params(void);

/* Transcribes a whole file (or "-" for stdin, read to its end). On success *out is a new
 * transcript (caller destroys it). Errors: those of sdra_audio_open/read (the message names
 * the file), of the recognizer (model, vocabulary), SDRA_ECANCELED when progress asked to stop.
 * progress (may be NULL) is reported in seconds of audio read. */
int sdra_transcribe_file(sdra_transcript **out, const char *audio_path,
                         const sdra_transcribe_params *p, const sdra_progress *progress,
                         sdra_error *err);

/* Called for each final utterance of a live transcription. t holds the speakers; u is valid
 * only during the call. Return non-zero to stop (the call then fails with SDRA_ECANCELED). */
typedef int (*sdra_transcribe_utt_fn)(void *user_data, const sdra_transcript *t,
                                      const sdra_utterance *u);

/* Live transcription of a stream ("-" = stdin): one recognizer per channel (at most 2; more
 * channels are mixed), speakers by channel (stereo) or one speaker (mono; no clustering in
 * live mode), no bleed filtering. Each utterance goes to on_utt as soon as it is final. When
 * out is not NULL it receives the whole transcript at the end (roles assigned). */
int sdra_transcribe_stream(sdra_transcript **out, const char *audio_path,
                           const sdra_transcribe_params *p, sdra_transcribe_utt_fn on_utt,
                           void *user_data, sdra_error *err);

#ifdef __cplusplus
}
#endif
#endif
