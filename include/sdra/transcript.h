/*
 * sdra/transcript.h - the transcript document (schema "sdra.transcript/1").
 *
 * What the transcription stage produces and every later stage reads: speakers with roles,
 * time-ordered utterances, and words with start/end times and confidences. Times are seconds
 * from the start of the call. The JSON form is documented in docs/schemas/transcript.md.
 *
 * A transcript owns all its strings. Utterances are kept sorted by start time by
 * sdra_transcript_sort(); builders may append out of order and sort once at the end.
 *
 *     sdra_transcript *t = sdra_transcript_create();
 *     int s = sdra_transcript_add_speaker(t, "S1", SDRA_ROLE_REP, 0);
 *     sdra_utterance *u = sdra_transcript_add_utterance(t, s, 0.5, 2.0, "hi there");
 *     sdra_utterance_add_word(u, "hi", 0.5, 0.8, 0.9f);
 *     json_t *doc = sdra_transcript_to_json(t);
 *     sdra_transcript_destroy(t);
 */
#ifndef SDRA_TRANSCRIPT_H
#define SDRA_TRANSCRIPT_H

#include <stddef.h>
#include <stdio.h>
#include <jansson.h>
#include "sdra/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SDRA_TRANSCRIPT_SCHEMA "sdra.transcript/1"

typedef enum sdra_role { SDRA_ROLE_UNKNOWN = 0, SDRA_ROLE_REP = 1, SDRA_ROLE_PROSPECT = 2 } sdra_role;

typedef struct sdra_word {
    char *w;
    double start, end; /* seconds */
    float conf;        /* 0..1 */
} sdra_word;

typedef struct sdra_utterance {
    int speaker; /* index into sdra_transcript.speakers */
    double start, end;
    char *text;
    sdra_word *words;
    size_t n_words, cap_words;
} sdra_utterance;

typedef struct sdra_speaker {
    char id[32];   /* "S1", "S2", ... */
    char *name;    /* display name when known ("Alex"), else NULL */
    sdra_role role;
    int channel;   /* 0 = left/first, 1 = right/second, -1 = mono / not channel-based */
    char role_by[16];        /* how the role was decided: "channel", "names", "phrases",
                              * "first_speaker", or "" when not recorded (sdra_roles_assign) */
    char role_evidence[96];  /* the words that decided it ("said 'this is dian'"), or "" */
} sdra_speaker;

typedef struct sdra_transcript {
    double duration_s;
    char *source;          /* the audio file it came from, or NULL */
    char *recorded_date;   /* ISO date of the recording when known, or NULL */
    json_t *meta;          /* free-form: engine, model, timings; owned; may be NULL */
    sdra_speaker *speakers;
    size_t n_speakers, cap_speakers;
    sdra_utterance *utts;
    size_t n_utts, cap_utts;
} sdra_transcript;

sdra_transcript *sdra_transcript_create(void);
void sdra_transcript_destroy(sdra_transcript *t);

/* Adds a speaker and returns its index (>= 0) or SDRA_ENOMEM. id is copied. */
int sdra_transcript_add_speaker(sdra_transcript *t, const char *id, sdra_role role, int channel);

/* Finds a speaker by id; returns its index or -1. */
int sdra_transcript_find_speaker(const sdra_transcript *t, const char *id);

/* Appends an utterance (text copied; may be NULL and built from words later with
 * sdra_utterance_join_words). Returns a pointer valid until the next add, or NULL on ENOMEM. */
sdra_utterance *sdra_transcript_add_utterance(sdra_transcript *t, int speaker, double start,
                                              double end, const char *text);

int sdra_utterance_add_word(sdra_utterance *u, const char *w, double start, double end, float conf);

/* Sets u->text to the words joined by single spaces. */
int sdra_utterance_join_words(sdra_utterance *u);

/* Seconds u's speaker talks in it: the sum of its words' durations, or its span when it has
 * no words (docs/analysis.md, "Talk metrics"; the analysis and the live coach both use it). */
double sdra_utterance_talk_s(const sdra_utterance *u);

/* Stable sort of utterances by start time (then speaker). */
void sdra_transcript_sort(sdra_transcript *t);

const char *sdra_role_name(sdra_role r);   /* "rep", "prospect", "unknown" */
sdra_role sdra_role_parse(const char *s);  /* unknown strings -> SDRA_ROLE_UNKNOWN */

/* Display label of a speaker: its name, else "Rep"/"Prospect" by role, else its id. */
const char *sdra_transcript_speaker_label(const sdra_transcript *t, int speaker);

/* JSON form. to_json returns a new reference (NULL on ENOMEM). from_json validates the schema,
 * types and ranges and fails with SDRA_EINVAL naming the offending field. */
json_t *sdra_transcript_to_json(const sdra_transcript *t);
int sdra_transcript_from_json(sdra_transcript **out, const json_t *doc, sdra_error *err);

/* from_json in pieces, for a reader that parses one utterance at a time instead of holding
 * the whole document: _header validates and copies everything but the utterances (doc's
 * "utterances" must be an array; its entries are ignored) into a new transcript; then each
 * utterance object, with its index i for error messages, is appended by add_utterance_json
 * (same checks as from_json). The caller sorts (sdra_transcript_sort) at the end. */
int sdra_transcript_from_json_header(sdra_transcript **out, const json_t *doc, sdra_error *err);
int sdra_transcript_add_utterance_json(sdra_transcript *t, const json_t *utterance, size_t i, sdra_error *err);

/* Input limits of sdra_transcript_load (docs/schemas/transcript.md, "Limits"): a file over
 * them fails with SDRA_ELIMIT and one line naming the file and the limit, before its rest is
 * read into memory. Words are counted from words[], or the text's words when it has none. */
#define SDRA_TRANSCRIPT_MAX_BYTES (64u << 20)
#define SDRA_TRANSCRIPT_MAX_UTTERANCES 100000u
#define SDRA_TRANSCRIPT_MAX_WORDS 1000000u

typedef enum sdra_transcript_format {
    SDRA_TFMT_JSON = 0,
    SDRA_TFMT_TEXT,  /* "[00:01:02] Rep: words" per utterance */
    SDRA_TFMT_VTT,   /* WebVTT with <v Speaker> voice tags */
    SDRA_TFMT_SRT,   /* SubRip with "Speaker: " prefixes */
} sdra_transcript_format;

/* Parses "json|text|vtt|srt" ("txt" is an alias of "text", as in the HTTP API); -1 when
 * unknown. */
int sdra_transcript_format_parse(const char *s);

/* Writes the transcript in the given format to f. */
int sdra_transcript_write(const sdra_transcript *t, sdra_transcript_format fmt, FILE *f, sdra_error *err);

/* One utterance as a single-line JSON object (the streaming form of `transcribe -`). */
json_t *sdra_utterance_to_json(const sdra_transcript *t, const sdra_utterance *u);

/* Loads a transcript from a file, detecting the format: sdra JSON, WebVTT, SRT, or a plain-text
 * dialogue ("Name: words" per line, optional "[hh:mm:ss]" prefixes). Speakers are created from
 * the names found; roles are guessed only when rep_name is given (that speaker is the rep, the
 * others prospects) or already present in JSON. Fails with SDRA_EINVAL for empty or
 * unrecognised input. Implemented in src/core/transcript_import.c. */
int sdra_transcript_load(sdra_transcript **out, const char *path, const char *rep_name,
                         sdra_error *err);

/* ---- Quality (docs/schemas/transcript.md, "quality"; calibration in docs/asr.md) ---------- */

/* A word whose confidence is below this is a low-confidence word. */
#define SDRA_CONF_LOW 0.3
/* A finding may be quoted back to the prospect only when its words' mean confidence is at
 * least this (compose; docs/schemas/email.md). */
#define SDRA_CONF_QUOTE 0.7
/* A transcript with more than this share of low-confidence words is poor: `sdra run` warns,
 * the report says so at the top and the package needs review. */
#define SDRA_QUALITY_POOR_LOW_SHARE 0.25

typedef struct sdra_transcript_quality {
    size_t n_words;    /* words with a confidence */
    double mean_conf;  /* 0 when n_words is 0 */
    double low_share;  /* share of words below SDRA_CONF_LOW */
    double wer_est;    /* expected word error rate from the calibrated confidences */
    double wer_low, wer_high; /* the band around it measured on the calibration set */
    int poor;          /* low_share > SDRA_QUALITY_POOR_LOW_SHARE */
} sdra_transcript_quality;

/* Fills q from t's words (t may be NULL: all zero, not poor). Never fails. */
void sdra_transcript_assess(const sdra_transcript *t, sdra_transcript_quality *q);
/* The "quality" block of transcript.json (new reference; NULL on ENOMEM). */
json_t *sdra_transcript_quality_json(const sdra_transcript_quality *q);
/* Mean confidence of the words of u that text rests on: the longest run of u's words equal to
 * text's words (case and punctuation ignored) when it holds at least half of them, else all of
 * u's words; *min_conf (may be NULL) gets the lowest of them. -1 (both) when u has no words (a
 * typed transcript: nothing to doubt). */
double sdra_utterance_span_conf(const sdra_utterance *u, const char *text, double *min_conf);

#ifdef __cplusplus
}
#endif
#endif
