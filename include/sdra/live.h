/*
 * live.h - live calls (docs/live.md): the coach that watches a call's transcript grow and
 * raises alerts while the call is on.
 *
 * The WebSocket endpoint (src/server/live.c, src/live/) decodes each party's audio as it
 * arrives and appends every final utterance to one sdra_transcript (speaker roles set from the
 * track: outbound = rep by default). After each append it calls sdra_coach_update, and on its
 * clock (about once a second of call time) sdra_coach_tick. The coach runs the same analysis
 * rules and documents as the post-call analysis (sdra_analyze over the transcript so far, or
 * over its tail; never a second rule implementation) and emits each alert once.
 *
 * Events handed to emit (event name, then the JSON object's fields):
 *   "alert"   {"kind": K, "at": seconds into the call, "utterance": index or absent, ...}
 *             K = "objection"          + "type" (objections.rules' type), "text", and
 *                                        "battlecard" {"label", "point"} from
 *                                        data/talking_points (the rep's coaching, never sent
 *                                        to the prospect)
 *                 "monologue"          + "speaker", "seconds" (rep talking longer than
 *                                        monologue_s without a prospect turn)
 *                 "talk_ratio"         + "rep_share", "low", "high" (outside the band, once
 *                                        min_talk_s of speech has been heard; again only
 *                                        after it went back inside)
 *                 "silence"            + "seconds" (nobody spoke for silence_s)
 *                 "unanswered_question"+ "text" (a prospect question the rep's next turns
 *                                        have not answered within unanswered_s)
 *                 "do_not_call"        + "text" (the prospect asked not to be contacted)
 *   "metrics" {"at", "talk_ratio": {"rep", "prospect"}, "sentiment": {"rep", "prospect"},
 *              "utterances"}
 * The JSON object passed to emit is borrowed: emit copies or serialises it before returning.
 */
#ifndef SDRA_LIVE_H
#define SDRA_LIVE_H

#include "sdra/analyze.h"
#include "sdra/error.h"
#include "sdra/transcript.h"

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sdra_coach sdra_coach;

typedef struct sdra_coach_params {
    const sdra_analyze_params *analyze; /* rules and documents; NULL: sdra_analyze_default_params() */
    const char *talking_points_dir;     /* battlecards; NULL: the installed data/talking_points */
    double monologue_s;                 /* default 90 */
    double talk_ratio_low, talk_ratio_high; /* rep share band; default 0.25 .. 0.70 */
    double min_talk_s;                  /* speech heard before the ratio is judged; default 120 */
    double silence_s;                   /* default 15 */
    double unanswered_s;                /* default 30 */
} sdra_coach_params;

sdra_coach_params sdra_coach_default_params(void);

/* event: "alert" or "metrics"; data borrowed for the call's duration. */
typedef void (*sdra_coach_emit_fn)(void *user, const char *event, json_t *data);

int sdra_coach_create(sdra_coach **out, const sdra_coach_params *p, sdra_error *err);
void sdra_coach_destroy(sdra_coach *c); /* NULL is fine */

/* The transcript t grew by one or more final utterances (t holds the whole call so far, sorted,
 * speakers' roles set). Emits the alerts it now supports that were not emitted before, then one
 * "metrics" event. Bounded work per call: the analysis looks at a window of recent utterances
 * plus the state it keeps, so a 2-hour call costs no more per utterance than a 2-minute one. */
int sdra_coach_update(sdra_coach *c, const sdra_transcript *t, sdra_coach_emit_fn emit, void *user,
                      sdra_error *err);

/* The call's clock reached now_s (seconds of audio received): emits time-based alerts (silence,
 * an unanswered question whose time ran out). */
int sdra_coach_tick(sdra_coach *c, const sdra_transcript *t, double now_s, sdra_coach_emit_fn emit, void *user,
                    sdra_error *err);

/* Counts of alerts emitted so far, by kind (for /metrics and the call's record). */
int sdra_coach_alert_count(const sdra_coach *c);

#ifdef __cplusplus
}
#endif
#endif
