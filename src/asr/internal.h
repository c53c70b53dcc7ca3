/*
 * src/asr/internal.h - names shared inside the asr module: the backend tables and a small
 * queue of finalized utterances that backends fill in feed() and drain in poll().
 */
#ifndef SDRA_ASR_INTERNAL_H
#define SDRA_ASR_INTERNAL_H

#include "sdra/asr.h"

#include <stdio.h>

extern const struct sdra_asr_ops sdra_asr_sphinx_ops;

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

#endif
