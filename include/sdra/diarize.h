/*
 * sdra/diarize.h - who spoke when, and who is the rep.
 *
 * Two methods behind one streaming interface:
 *  - channel: stereo call recordings have one party per channel. A frame belongs to a channel's
 *    speaker when that channel is active and not merely carrying the other party's bleed
 *    (a much quieter copy, time-aligned with the louder channel). Both may be active (overlap).
 *  - cluster: mono recordings. Speech frames are described by MFCC statistics, cut into
 *    segments at speaker changes, and clustered agglomeratively; the number of speakers is
 *    params.n_speakers, or estimated with a BIC-like stopping rule when it is 0.
 *
 * The output is a list of turns (start, end, speaker index) sorted by start; turns of
 * different speakers may overlap. The transcription stage assigns recognised words to turns.
 *
 *     sdra_diarizer *d;
 *     sdra_diarize_params p = sdra_diarize_default_params();
 *     p.method = SDRA_DIARIZE_CLUSTER;
 *     sdra_diarizer_create(&d, &p, 1, &err);
 *     while (...) sdra_diarizer_feed(d, chans, n, &err);   // chans[c] = channel c samples
 *     sdra_diarizer_finish(d, &turns, &n_turns, &n_speakers, &err);
 *     free(turns); sdra_diarizer_destroy(d);
 *
 * Memory: features only (about 60 bytes per 10 ms frame), never the audio; at most 6 h of audio
 * (feed fails with SDRA_ELIMIT beyond). Methods, parameters and measured figures:
 * docs/diarization.md.
 */
#ifndef SDRA_DIARIZE_H
#define SDRA_DIARIZE_H

#include <stddef.h>
#include <stdint.h>
#include "sdra/error.h"
#include "sdra/transcript.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sdra_diarize_method {
    SDRA_DIARIZE_CHANNEL = 0, /* one speaker per input channel */
    SDRA_DIARIZE_CLUSTER = 1, /* mono: segmentation + clustering */
} sdra_diarize_method;

typedef struct sdra_diarize_params {
    sdra_diarize_method method;
    int rate_hz;          /* default 16000 */
    int n_speakers;       /* cluster: exact count when > 0; 0 = estimate (1..max_speakers) */
    int max_speakers;     /* cluster: upper bound for the estimate; default 6 */
    double bleed_db;      /* channel: a channel this many dB below the other is bleed; default 15 */
} sdra_diarize_params;

sdra_diarize_params sdra_diarize_default_params(void);

typedef struct sdra_turn {
    double start, end; /* seconds */
    int speaker;       /* 0-based; for CHANNEL it is the channel index */
} sdra_turn;

typedef struct sdra_diarizer sdra_diarizer;

/* n_channels: channels that will be fed (CHANNEL needs >= 2; CLUSTER uses 1, the mix). */
int sdra_diarizer_create(sdra_diarizer **out, const sdra_diarize_params *p, int n_channels,
                         sdra_error *err);
void sdra_diarizer_destroy(sdra_diarizer *d);

/* Feeds n frames of each channel (chans[c] for c < n_channels); any block size. Fails with
 * SDRA_EINVAL (missing channel, after finish) or SDRA_ELIMIT (past 6 h). */
int sdra_diarizer_feed(sdra_diarizer *d, const int16_t *const *chans, size_t n, sdra_error *err);

/* Finishes and returns the turns (*turns malloc'ed, caller frees; NULL with *n_turns = 0 when
 * there is no speech) and the number of speakers: CHANNEL, the channel count (speaker =
 * channel index); CLUSTER, the speakers found (indices 0..n-1 by first appearance). Once. */
int sdra_diarizer_finish(sdra_diarizer *d, sdra_turn **turns, size_t *n_turns, int *n_speakers,
                         sdra_error *err);

/* ---- roles ------------------------------------------------------------------------------ */

typedef struct sdra_roles_params {
    int rep_channel;         /* stereo: 0 (left) or 1 (right) is the rep; -1 = decide by text */
    const char *rep_name;    /* the rep's first name, if known ("Alex") */
    const char *company;     /* the rep's company, if known ("Acme") */
    const char *contact_name;/* the prospect's name from the call sheet, if known ("Jordan Lee") */
} sdra_roles_params;

/* Sets each speaker's role in t. Stereo with rep_channel >= 0 (and a speaker on that channel):
 * by channel. Then, when rep_name or contact_name is given, by names: a speaker who introduces
 * themself with the rep's name ("I'm X", "this is X", "X here", "my name is X") or addresses the
 * contact ("hi X", "thanks X", "is this X") scores towards the rep, the reverse towards the
 * prospect; names match through ASR near-misses (sdra_roles_name_match); used only when the
 * evidence is clear (docs/diarization.md#roles). Otherwise a documented text heuristic (docs/diarization.md#roles) with the
 * weighted phrases of data/roles/rep-phrases.txt: the speaker who introduces themself with the
 * rep's name or company, or says the call-opening phrases of a rep ("this is X from", "the
 * reason for my call", "do you have a minute"), scores up; prospect phrases ("who is this",
 * "not interested") score down; the highest positive score is the rep, the others prospects.
 * When nothing decides, the first speaker is the rep (the caller usually speaks first).
 * Fails (t unchanged) with SDRA_ENOTFOUND / SDRA_EINVAL naming the phrase file when it is
 * missing or malformed. */
int sdra_roles_assign(sdra_transcript *t, const sdra_roles_params *p, sdra_error *err);

/* Is the heard word (heard_len bytes, letters) the name, allowing ASR near-misses? Exact
 * (case-insensitive); or, for names of three letters or more, the same phonetic key (a small
 * Soundex/Metaphone-style key: the first sound, then consonant classes) within name_len / 3
 * edits (at least 1); or one edit from a name of five letters or more. "dian" and "dianne"
 * match "Diane", "shela" matches "Sheila"; "down" does not. Returns 1 or 0. */
int sdra_roles_name_match(const char *heard, size_t heard_len, const char *name, size_t name_len);

#ifdef __cplusplus
}
#endif
#endif
