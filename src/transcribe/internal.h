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

/* Fills ap from the stage parameters (backend, domain model, vocabulary). */
int sdra_transcribe_asr_params(sdra_asr_params *ap, const sdra_transcribe_params *p);
/* Records the acoustic model used (meta.acoustic_model: "wideband" or "narrowband"), the
 * source's sample rate (meta.source_rate_hz) and, when measured, the band meter's reading
 * (meta.source_high_band_db) in a transcript's meta. */
void sdra_transcribe_am_meta(json_t *meta, sdra_asr_am am, int source_rate_hz,
                             double high_band_db);

/* The ingest settings (limits, stream format) that p implies. */
sdra_audio_params sdra_transcribe_audio_params(const sdra_transcribe_params *p);

/* The recognized utterances of one chunk, absolute times. */
typedef struct sdra_assemble_chunk {
    sdra_asr_utt *utts;
    size_t n_utts;
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
} sdra_assemble_input;

/* Builds the transcript (speakers, utterances split at pauses and turn changes; no roles). */
int sdra_transcribe_assemble(sdra_transcript **out, const sdra_assemble_input *in,
                             sdra_error *err);

#endif
