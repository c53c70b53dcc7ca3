/*
 * sdra/eval.h - the project's measuring tools: word error rate (plain and speaker-attributed,
 * cpWER) and diarization error rate, with loaders for the reference formats (plain text, STM,
 * RTTM) and for sdra transcripts. `sdra eval asr` and `sdra eval diarization` are thin users.
 *
 *     sdra_eval_words ref = {0}, hyp = {0};
 *     sdra_eval_words_add_text(&ref, "Hello, world!", &err);   // -> "hello" "world"
 *     sdra_eval_words_add_text(&hyp, "hello word", &err);
 *     sdra_wer w;
 *     sdra_eval_wer(&ref, &hyp, &w, &err);                       // w.sub = 1, w.wer = 0.5
 *     sdra_eval_words_release(&ref); sdra_eval_words_release(&hyp);
 *
 * Scoring conventions (docs/diarization.md#measuring):
 *  - WER: words lower-cased, punctuation removed (hyphens and slashes split words, apostrophes
 *    are dropped: "Didn't" -> "didnt"), Levenshtein alignment with unit costs;
 *    WER = (substitutions + deletions + insertions) / reference words.
 *  - cpWER: the hypothesis speakers are mapped one-to-one onto reference speakers (the mapping
 *    with the fewest errors, Hungarian method); each speaker's words are concatenated in time
 *    order; unmapped speakers count all their words as insertions or deletions.
 *  - DER = (missed + false alarm + speaker confusion) / reference speech time, overlap scored
 *    (a region with 2 reference speakers counts twice), a no-score collar of collar_s on each
 *    side of every reference speaker boundary, one-to-one optimal speaker mapping.
 */
#ifndef SDRA_EVAL_H
#define SDRA_EVAL_H

#include <stddef.h>
#include "sdra/error.h"
#include "sdra/transcript.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SDRA_EVAL_MAX_WORDS 1000000   /* per word list */
#define SDRA_EVAL_MAX_SEGMENTS 1000000 /* per segment list */
#define SDRA_EVAL_MAX_SPEAKERS 256
#define SDRA_EVAL_MAX_FILE_BYTES (64u << 20)
#define SDRA_EVAL_MAX_ALIGN_CELLS 400000000.0 /* ref words x hyp words per alignment */

/* ---- words and WER ---------------------------------------------------------------------- */

typedef struct sdra_eval_words {
    char **v;
    size_t n, cap;
} sdra_eval_words;

/* Normalises text (see above) and appends its words. SDRA_ELIMIT past SDRA_EVAL_MAX_WORDS. */
int sdra_eval_words_add_text(sdra_eval_words *w, const char *text, sdra_error *err);
void sdra_eval_words_release(sdra_eval_words *w); /* NULL fine; w can be reused after */

typedef struct sdra_wer {
    size_t n_ref, n_hyp;
    size_t sub, del, ins;
    double wer; /* (sub + del + ins) / n_ref; 0 when both are empty, 1+ when only ref is */
} sdra_wer;

/* Aligns hyp to ref. SDRA_ELIMIT when n_ref * n_hyp > SDRA_EVAL_MAX_ALIGN_CELLS. */
int sdra_eval_wer(const sdra_eval_words *ref, const sdra_eval_words *hyp, sdra_wer *out,
                  sdra_error *err);

/* The same alignment with its path: correct[j] (hyp->n entries, caller-allocated) is 1 when hyp
 * word j is aligned to an identical reference word, else 0 (a substitution or an insertion).
 * The counts in out are those of one minimum-cost path (the same total as sdra_eval_wer).
 * Holds (ref->n + 1) x (hyp->n + 1) bytes: SDRA_ELIMIT beyond 64 million cells. Used to
 * calibrate word confidences (`sdra eval asr --confidence`). */
int sdra_eval_align(const sdra_eval_words *ref, const sdra_eval_words *hyp,
                    unsigned char *correct, sdra_wer *out, sdra_error *err);

/* The words of an sdra transcript with each word's confidence: every transcript word is
 * normalised as sdra_eval_words_add_text does and each resulting word gets that word's
 * conf (*conf is a new array of all->n entries after the call; free() it). Utterances in time
 * order. SDRA_EINVAL when path is not a transcript. */
int sdra_eval_conf_load(const char *path, sdra_eval_words *all, float **conf, sdra_error *err);

/* Words grouped by speaker (speaker names owned; words in the order added). */
typedef struct sdra_eval_spk_words {
    char **names;
    sdra_eval_words *words;
    size_t n, cap;
} sdra_eval_spk_words;

/* Appends text's words to the named speaker (created on first use). */
int sdra_eval_spk_words_add(sdra_eval_spk_words *s, const char *speaker, const char *text,
                            sdra_error *err);
void sdra_eval_spk_words_release(sdra_eval_spk_words *s);

/* cpWER. out counts errors over all speakers (n_ref = all reference words). If map is not NULL
 * it receives, for each hyp speaker, the ref speaker it was mapped to or -1 (hyp->n entries). */
int sdra_eval_cpwer(const sdra_eval_spk_words *ref, const sdra_eval_spk_words *hyp,
                    sdra_wer *out, int *map, sdra_error *err);

/* ---- segments and DER ------------------------------------------------------------------- */

typedef struct sdra_eval_seg {
    double start, end; /* seconds, end > start */
    int speaker;       /* index into names */
} sdra_eval_seg;

typedef struct sdra_eval_segs {
    sdra_eval_seg *v;
    size_t n, cap;
    char **names;
    size_t n_names, cap_names;
} sdra_eval_segs;

/* Adds a segment of the named speaker. Empty or reversed segments are ignored (returns 0). */
int sdra_eval_segs_add(sdra_eval_segs *s, const char *speaker, double start, double end,
                       sdra_error *err);
void sdra_eval_segs_release(sdra_eval_segs *s);

typedef struct sdra_der {
    double ref_s;         /* scored reference speech (speaker-seconds, outside collars) */
    double missed_s, false_alarm_s, confusion_s;
    double der;           /* (missed + false alarm + confusion) / ref_s; 0 when ref_s = 0 */
    size_t n_ref_speakers, n_hyp_speakers;
} sdra_der;

/* Scores hyp against ref. collar_s >= 0. If map is not NULL it receives, for each hyp speaker,
 * the ref speaker index it was mapped to or -1 (hyp->n_names entries). */
int sdra_eval_der(const sdra_eval_segs *ref, const sdra_eval_segs *hyp, double collar_s,
                  sdra_der *out, int *map, sdra_error *err);

/* ---- loaders ---------------------------------------------------------------------------- */

/* RTTM: "SPEAKER <file> <chan> <start> <dur> <NA> <NA> <speaker> ..." lines; other record
 * types and ';;' comments are skipped. Errors name the file and line (SDRA_EINVAL). */
int sdra_eval_rttm_load(sdra_eval_segs *out, const char *path, sdra_error *err);

/* STM: "<file> <chan> <speaker> <start> <end> [<label>] text" lines (';;' comments skipped,
 * "ignore_time_segment_in_scoring" lines skipped). Fills the words of all speakers in time
 * order (all, may be NULL), per speaker (by, may be NULL) and the segments (segs, may be NULL). */
int sdra_eval_stm_load(const char *path, sdra_eval_words *all, sdra_eval_spk_words *by,
                       sdra_eval_segs *segs, sdra_error *err);

/* Reads a hypothesis or reference for WER: an sdra transcript JSON (utterances in time order;
 * by, may be NULL, gets words per speaker id) or else plain text (by stays empty). *is_transcript
 * says which it was. */
int sdra_eval_text_load(const char *path, sdra_eval_words *all, sdra_eval_spk_words *by,
                        int *is_transcript, sdra_error *err);

/* Turns of a hypothesis for DER: an RTTM file (detected by its first record) or an sdra
 * transcript (one segment per utterance, speaker = speaker id). */
int sdra_eval_turns_load(sdra_eval_segs *out, const char *path, sdra_error *err);

/* Segments from a transcript's utterances. */
int sdra_eval_segs_from_transcript(sdra_eval_segs *out, const sdra_transcript *t,
                                   sdra_error *err);

/* Minimum-cost one-to-one assignment (Hungarian method) on an n_rows x n_cols cost matrix
 * (row-major). assign[r] = column given to row r, or -1 when rows outnumber columns.
 * Returns SDRA_ENOMEM or 0. */
int sdra_eval_assign(const double *cost, size_t n_rows, size_t n_cols, int *assign);

#ifdef __cplusplus
}
#endif
#endif
