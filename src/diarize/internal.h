/*
 * internal.h - what the files of the diarize module share: the diarizer object, the MFCC front
 * end (mfcc.c), the two methods (channel.c, cluster.c) and small frame-sequence helpers.
 *
 * The diarizer keeps features only: per 10 ms frame, the energy of each channel (channel
 * method) or the energy plus SDRA_MFCC_N cepstra of the mix (cluster method), as half-precision
 * floats (11 significant bits: 0.03 dB at -60 dB, far below what either method resolves; an
 * hour of mono call is 10 MB instead of 20). Audio passes through a window-sized history and
 * is never stored.
 */
#ifndef SDRA_DIARIZE_INTERNAL_H
#define SDRA_DIARIZE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "sdra/diarize.h"
#include "sdra/audio.h"

#if defined(__clang__) && __clang_major__ < 15 && (defined(__x86_64__) || defined(__i386__))
typedef float sdra_feat; /* clang 14 has no _Float16 on x86: full floats (the fuzz build links
                          * the server, hence this module; features are never stored on disk) */
#else
typedef _Float16 sdra_feat; /* one stored feature value */
#endif

#define SDRA_MFCC_N 13          /* cepstra c1..c13 kept per frame (c0 replaced by energy) */
#define SDRA_FEAT_DIM (SDRA_MFCC_N + 1) /* stored per frame: [0] energy dB, [1..] c1..c13 */
#define SDRA_MFCC_FFT SDRA_FFT_N
#define SDRA_MFCC_MEL 24
#define SDRA_DIARIZE_MAX_FRAMES (6 * 3600 * 100) /* 6 h of 10 ms frames */
#define SDRA_DIARIZE_MAX_CHANNELS 8
#define SDRA_DIARIZE_MAX_SPK 64  /* params allow at most 64 speakers */

/* MFCC front end: 25 ms Hamming window, 10 ms hop, pre-emphasis 0.97, 512-point FFT,
 * SDRA_MFCC_MEL triangular mel filters (64 Hz .. min(4000, rate/2) Hz: telephone band), log,
 * DCT-II. */
typedef struct sdra_mfcc {
    int rate_hz, win, hop;
    float window[SDRA_MFCC_FFT];
    sdra_fft fft;
    int mel_lo[SDRA_MFCC_MEL], mel_hi[SDRA_MFCC_MEL]; /* FFT bin range of each filter */
    float *mel_w;                                      /* [MEL][FFT/2+1] weights */
    float dct[SDRA_MFCC_N + 1][SDRA_MFCC_MEL];
} sdra_mfcc;

int sdra_diarize_mfcc_init(sdra_mfcc *m, int rate_hz);
void sdra_diarize_mfcc_release(sdra_mfcc *m);
/* Computes one frame from m->win samples: out[0] = energy in dBFS, out[1..] = c1..c13. */
void sdra_diarize_mfcc_frame(const sdra_mfcc *m, const float *samples, float *out);

struct sdra_diarizer {
    sdra_diarize_params p;
    int n_ch;
    int hop;              /* samples per 10 ms frame */
    size_t n_frames;      /* frames stored */
    size_t cap_frames;
    sdra_feat *feat;      /* CHANNEL: [frame][n_ch] energy dB; CLUSTER: [frame][SDRA_FEAT_DIM] */
    /* channel method: partial frame accumulators */
    double acc[SDRA_DIARIZE_MAX_CHANNELS];
    int acc_n;
    /* cluster method: window history of the mix */
    sdra_mfcc mfcc;
    float *hist;          /* mfcc.win samples */
    int n_hist;
    double var_floor[SDRA_MFCC_N]; /* cluster: GMM variance floor, from all speech frames */
    int finished;
};

/* Appends one frame of width floats to d->feat, enforcing SDRA_DIARIZE_MAX_FRAMES. */
int sdra_diarize_push_frame(sdra_diarizer *d, const float *v, int width, sdra_error *err);

int sdra_diarize_channel_finish(sdra_diarizer *d, sdra_turn **turns, size_t *n_turns,
                                int *n_speakers, sdra_error *err);
int sdra_diarize_cluster_finish(sdra_diarizer *d, sdra_turn **turns, size_t *n_turns,
                                int *n_speakers, sdra_error *err);

/* Boolean frame sequences: fills gaps of false shorter than max_gap frames between trues, then
 * clears runs of true shorter than min_run frames. */
void sdra_diarize_smooth(unsigned char *v, size_t n, size_t max_gap, size_t min_run);

/* A growable turn list. */
typedef struct sdra_turn_list {
    sdra_turn *v;
    size_t n, cap;
} sdra_turn_list;
int sdra_diarize_turns_add(sdra_turn_list *l, double start, double end, int speaker);
/* Sorts by start (then speaker). */
void sdra_diarize_turns_sort(sdra_turn_list *l);

#endif
