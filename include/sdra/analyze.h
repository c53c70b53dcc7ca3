/*
 * sdra/analyze.h - conversation analysis: what a sales manager wants to know about a call,
 * each finding with its evidence (speaker, time, the words said).
 *
 * Input is a transcript (include/sdra/transcript.h); output is the sdra.analysis/1 JSON
 * document described in docs/schemas/analysis.md: sentiment per utterance and per speaker,
 * prospect intents, typed objections, topics and pain points, action items with due dates
 * resolved against the call date, the next meeting, contact preferences (do-not-call /
 * do-not-email), talk metrics and an extractive summary with a one-line outcome.
 *
 * The work is done by a backend (struct sdra_analyze_ops). "rules" is the default: it reads
 * its lexicons and patterns from data/analyze/ (format in docs/analysis.md) and is also the
 * fallback when another backend fails. "llm" asks an OpenAI-compatible chat completions server
 * for objections, action items, the next meeting, pain points and a summary, checks every item
 * against the transcript, and merges them into the rules engine's document; when the server
 * fails, the rules engine's findings are kept and meta.warnings says why
 * (docs/models.md). Callers never branch on the backend they have.
 *
 *     sdra_analyze_params p = sdra_analyze_default_params();
 *     p.call_date = "2026-11-24";
 *     p.rep_name = "Alex";
 *     json_t *doc = NULL;
 *     sdra_error err = {0};
 *     if (sdra_analyze(&doc, transcript, &p, &err) < 0)
 *         fprintf(stderr, "sdra: %s\n", err.msg);
 *     ...
 *     json_decref(doc);
 *
 * Relative dates ("by Thursday", "next Tuesday", "end of the month", "tomorrow at ten") are
 * resolved by sdra_date_resolve(), public because compose and the CRM need the same answers.
 */
#ifndef SDRA_ANALYZE_H
#define SDRA_ANALYZE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "sdra/error.h"
#include "sdra/transcript.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SDRA_ANALYSIS_SCHEMA "sdra.analysis/1"

typedef struct sdra_analyze_params {
    const char *call_date; /* "YYYY-MM-DD" anchoring relative dates; NULL = the transcript's
                              recorded_date, else today */
    const char *rep_name;  /* the rep's display name (marks that speaker as rep); may be NULL */
    const char *backend;   /* "rules" (default); unknown names fail with SDRA_EINVAL */
    const char *rules_dir; /* directory of the rule files; NULL = <share dir>/analyze */
    size_t max_utterances; /* input limit; 0 = default (100000) */
    /* backend "llm" (docs/models.md): an OpenAI-compatible chat completions server */
    const char *llm_url;     /* base URL ending in /v1; required for "llm" */
    const char *llm_model;   /* model name sent; NULL = "gpt-4o-mini" */
    const char *llm_api_key; /* bearer token; NULL = the SDRA_LLM_API_KEY environment variable */
    size_t llm_max_chars;    /* transcript characters per request; longer calls are split; 0 = 24000 */
    long llm_timeout_ms;     /* per attempt; 0 = 120000 */
    int llm_max_attempts;    /* 0 = 3 */
    const char *llm_dir;     /* prompt templates and schema; NULL = <share dir>/llm */
} sdra_analyze_params;

/* Defaults: backend "rules", everything else NULL/0. */
sdra_analyze_params sdra_analyze_default_params(void);

/*
 * Analyses t and returns the whole sdra.analysis/1 document in *out (a new reference, the
 * caller json_decref()s it). Fails with SDRA_EINVAL for an empty transcript or a bad call_date,
 * SDRA_ENOTFOUND / SDRA_EINVAL when the rule files are missing or malformed (the message names
 * file and line), SDRA_ELIMIT over max_utterances; *out is untouched on failure.
 */
int sdra_analyze(json_t **out, const sdra_transcript *t, const sdra_analyze_params *p, sdra_error *err);

/* A backend. analyze() has the contract of sdra_analyze() with p already completed (call_date
 * set, rules_dir set). */
struct sdra_analyze_ops {
    const char *name;
    int (*analyze)(json_t **out, const sdra_transcript *t, const sdra_analyze_params *p,
                   sdra_error *err);
};

/* The backend with that name, or NULL. */
const struct sdra_analyze_ops *sdra_analyze_backend(const char *name);

/* ---- relative dates ---------------------------------------------------------------------- */

typedef struct sdra_date_match {
    char date[11];        /* "YYYY-MM-DD", or "" when the expression had no day */
    char time[6];         /* "HH:MM" 24h, or "" when no clock time was said */
    char part_of_day[12]; /* "morning", "afternoon", "evening", "" */
    bool pm_guessed;      /* an hour 1-7 said without am/pm or a part of day, read as pm */
    bool approx;          /* the day stands for a span named, not a day: "next week" (its Monday),
                           * "in a few weeks", "end of the month", "early next month" */
    size_t begin, end;    /* byte span of the expression in the text searched */
} sdra_date_match;

/*
 * Finds the first date and/or time expression in text (any case, punctuated or not, digits or
 * number words) and resolves it against anchor ("YYYY-MM-DD", the call date). Rules (documented
 * in docs/analysis.md): "today", "tomorrow", "day after tomorrow", bare weekday = its next
 * occurrence after the anchor, "this <weekday>" = in the anchor's Monday-based week if still
 * ahead else the next one, "next <weekday>" = that weekday of the following week, "next week" =
 * Monday of the following week, "end of the week" = Friday, "end of (the) month" = its last day,
 * "next month" = the 1st of the next month, "in N days/weeks", month-day dates ("November 19",
 * "the 19th of November", "11/19") = next occurrence on or after the anchor, "the 19th" = next
 * such day. Clock times: "at ten" (1-7 mean pm, 8-11 am), "2 pm", "10:30", "ten thirty",
 * "noon", "half past two"; parts of day: morning, afternoon, evening, tonight, lunch.
 * Returns 1 when something was found (*m filled), 0 when not, SDRA_EINVAL for a bad anchor.
 */
int sdra_date_resolve(sdra_date_match *m, const char *text, const char *anchor, sdra_error *err);

/* Adds days to a YYYY-MM-DD date (out needs 11 bytes). Returns 0 or SDRA_EINVAL. */
int sdra_date_add_days(char out[11], const char *date, int days);

/* ---- evaluation ---------------------------------------------------------------------------- */

/* Counts for one finding type in an evaluation against labels. */
typedef struct sdra_analyze_score {
    char type[24];          /* "objection", "intent", "action_item", ... */
    int tp, fp, fn;
    int n_dates, n_dates_exact; /* labelled due dates on matched items, and exact ones */
} sdra_analyze_score;

#define SDRA_ANALYZE_EVAL_MAX_TYPES 8

typedef struct sdra_analyze_eval {
    sdra_analyze_score types[SDRA_ANALYZE_EVAL_MAX_TYPES];
    int n_types;
    int n_calls;
} sdra_analyze_eval;

/*
 * Scores analyses against a labels file (format in docs/analysis.md): each call named there is
 * loaded (relative to the labels file's directory), analysed with p (call date and rep name
 * from the labels), and its findings matched to the expected ones. Fails with SDRA_EINVAL
 * naming file and line for a malformed labels file. Details of misses are logged at INFO.
 */
int sdra_analyze_eval_labels(sdra_analyze_eval *out, const char *labels_path,
                             const sdra_analyze_params *p, sdra_error *err);

#ifdef __cplusplus
}
#endif
#endif
