/*
 * src/asr/internal.h - names shared inside the asr module: the backend tables and a small
 * queue of finalized utterances that backends fill in feed() and drain in poll().
 */
#ifndef SDRA_ASR_INTERNAL_H
#define SDRA_ASR_INTERNAL_H

#include "sdra/asr.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

extern const struct sdra_asr_ops sdra_asr_sphinx_ops;
extern const struct sdra_asr_ops sdra_asr_whisper_http_ops;

/* FIFO of utterances; at most SDRA_ASR_QUEUE_MAX pending (a caller that never polls gets
 * SDRA_ELIMIT rather than unbounded growth). */
#define SDRA_ASR_QUEUE_MAX 4096
typedef struct sdra_asr_queue {
    sdra_asr_utt *items;
    size_t head, n, cap;
} sdra_asr_queue;

int sdra_asr_queue_push(sdra_asr_queue *q, sdra_asr_utt *u, sdra_error *err); /* takes u */
bool sdra_asr_queue_pop(sdra_asr_queue *q, sdra_asr_utt *out);
void sdra_asr_queue_release(sdra_asr_queue *q);

/* Creates a new file <prefix>-XXXXXX (path gets its name) open for writing; NULL, with
 * nothing left behind, when it cannot. sphinxbase reads models and dictionaries only by path,
 * so what the module builds for it goes through such a file. */
FILE *sdra_asr_temp_file(char *path, size_t cap, const char *prefix);
/* The same in $TMPDIR (else /tmp): $TMPDIR/<stem>-XXXXXX. */
FILE *sdra_asr_tmpdir_file(char *path, size_t cap, const char *stem);
/* A file in $TMPDIR that nothing leaves behind, not even a killed process: created as above
 * and unlinked at once; path becomes its name through /proc (/proc/self/fd/N), which reads as
 * the file until sdra_asr_private_file_done. The decoder's dictionary and vocabulary hold the
 * call sheet's names (hints), which must not outlive the process on disk. Where /proc is not
 * mounted, the file keeps its name until _done removes it (*keep_fd is then -1). */
FILE *sdra_asr_private_file(char *path, size_t cap, const char *stem, int *keep_fd);
void sdra_asr_private_file_done(const char *path, int keep_fd);

/* ---- sphinx (sphinx.c; adapt.c reads the same model and front end) ---- */

/* The acoustic model directory a sphinx recognizer on p loads: p->hmm_dir, else the wideband
 * model under p->model_dir (default SDRA_SPHINX_MODELDIR/en-us). */
void sdra_asr_hmm_dir(const sdra_asr_params *p, char *out, size_t n);
/* The dither the narrowband model's features are made with (sphinx.c says why): in to out, n
 * samples, from the generator *state (1 at the start of a stream). */
void sdra_asr_dither(uint32_t *state, const int16_t *in, int16_t *out, size_t n);

/* ---- whisper-http (remote.c, whisper_http.c) ---- */

/* Sends 16 kHz mono PCM as a WAV to an endpoint of the pool (retries, failover: sdra/asr.h)
 * and gives back the reply's JSON, an object with "segments" (or at least "text"). */
int sdra_asr_pool_transcribe(sdra_asr_pool *pool, const int16_t *pcm, size_t n, json_t **out,
                             sdra_error *err);
/* Adds the guards' counts of one chunk to the pool's stats. */
void sdra_asr_pool_count(sdra_asr_pool *pool, long silent_chunks, long silence, long repetition);
const char *sdra_asr_pool_model(const sdra_asr_pool *pool);

/* Turns a verbose_json reply for a chunk of dur_s seconds into utterances pushed on q, with
 * the guards of whisper_http.c. speech (may be NULL: no energy test) marks the chunk's 20 ms
 * frames that hold speech energy. Adds the dropped segments to *n_silence / *n_repetition. */
int sdra_asr_whisper_convert(const json_t *root, const unsigned char *speech, size_t n_frames,
                             double dur_s, sdra_asr_queue *q, long *n_silence, long *n_repetition,
                             sdra_error *err);

#endif
