/*
 * live.h - live calls (docs/live.md): the coach that watches a call's transcript grow and
 * raises alerts while the call is on.
 *
 * The WebSocket endpoint (src/server/live*.c, src/live/) decodes each party's audio as it
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
 *
 * "at" of an alert is call time, and alerts come out in call-time order: the start of the
 * utterance an alert rests on (objection, monologue, talk_ratio, do_not_call), the moment a
 * time-based one fell due (silence: the end of the last speech + silence_s; an unanswered
 * question: its end + unanswered_s). Each alert is emitted once: objection once per type and
 * utterance, do_not_call once per utterance, monologue once per run of rep utterances, silence
 * once per gap, unanswered_question once per question, talk_ratio again only after the share
 * went back inside the band. Findings of an utterance are judged when it arrives, on it and
 * the few utterances before it (the rules look back at most 3); an utterance sorted in before
 * one already judged does not change that one's findings, and its own alerts come late (at its
 * earlier time). One coach serves one call, from one thread at a time.
 *
 * Thresholds (docs/live.md, "Alerts"): monologue_s, silence_s or unanswered_s 0 turns that alert
 * off (min_talk_s 0: the ratio is judged from the first word); the server's
 * config names them live-monologue-s, live-talk-ratio-low, ... and hands them over with
 * sdra_coach_params_set().
 */
#ifndef SDRA_LIVE_H
#define SDRA_LIVE_H

#include "sdra/analyze.h"
#include "sdra/error.h"
#include "sdra/transcript.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sdra_coach sdra_coach;

typedef struct sdra_coach_params {
    const sdra_analyze_params *analyze; /* call_date, rep_name, rules_dir (copied at create; the
                                           backend is always "rules"); NULL: the defaults */
    const char *talking_points_dir;     /* battlecards; NULL: the installed data/talking_points */
    double monologue_s;                 /* default 90; 0 = off (so for silence_s, unanswered_s) */
    double talk_ratio_low, talk_ratio_high; /* rep share band; default 0.25 .. 0.70 */
    double min_talk_s;                  /* speech heard before the ratio is judged; default 120 */
    double silence_s;                   /* default 15 */
    double unanswered_s;                /* default 30 */
} sdra_coach_params;

sdra_coach_params sdra_coach_default_params(void);

/* Sets one threshold of p by its name, as config files and options spell it without the
 * "live-" prefix: "monologue-s", "talk-ratio-low", "talk-ratio-high", "min-talk-s",
 * "silence-s", "unanswered-s" ('_' accepted for '-'). SDRA_ENOTFOUND for an unknown name,
 * SDRA_EINVAL for a value that is not a number in range (seconds 0..86400, shares 0..1); p is
 * unchanged on failure. */
int sdra_coach_params_set(sdra_coach_params *p, const char *name, const char *value, sdra_error *err);

/* event: "alert" or "metrics"; data borrowed for the call's duration. */
typedef void (*sdra_coach_emit_fn)(void *user, const char *event, json_t *data);

/* p NULL: the defaults. Fails with SDRA_EINVAL for a threshold out of range (negative, not a
 * number, low > high) and SDRA_ENOTFOUND when the talking points directory does not exist. */
int sdra_coach_create(sdra_coach **out, const sdra_coach_params *p, sdra_error *err);
void sdra_coach_destroy(sdra_coach *c); /* NULL is fine */

/* The transcript t grew by one or more final utterances (t holds the whole call so far, sorted,
 * speakers' roles set). Emits the alerts it now supports that were not emitted before, then one
 * "metrics" event. Bounded work per call: the analysis looks at a window of recent utterances
 * plus the state it keeps, so a 2-hour call costs no more per utterance than a 2-minute one. */
int sdra_coach_update(sdra_coach *c, const sdra_transcript *t, sdra_coach_emit_fn emit, void *user,
                      sdra_error *err);

/* The call's clock reached now_s: emits time-based alerts (silence, an unanswered question
 * whose time ran out). now_s should be the point up to which recognition has finished (the
 * audio received minus the recognizer's backlog): past that, speech not yet decoded would read
 * as silence. A now_s earlier than a previous one is ignored. Emits no "metrics". */
int sdra_coach_tick(sdra_coach *c, const sdra_transcript *t, double now_s, sdra_coach_emit_fn emit, void *user,
                    sdra_error *err);

/* The running figures of a "metrics" event (talk ratio, sentiment by role, utterances) for t as
 * the coach has seen it: new, the caller's to free; NULL without a coach or a transcript.
 * sdra_coach_update emits them after each batch; a live call sends them on a timer too, so a
 * client learns the lag while no utterance ends. */
json_t *sdra_coach_metrics(const sdra_coach *c, const sdra_transcript *t);

/* Counts of alerts emitted so far (for /metrics and the call's record): all of them, and those
 * of one kind ("objection", ...; 0 for a kind it does not know). */
int sdra_coach_alert_count(const sdra_coach *c);
int sdra_coach_alert_count_kind(const sdra_coach *c, const char *kind);

/* Utterances handed to the analysis so far, windows' context included: the coach's work, which
 * stays under (1 + 4) times the utterances of the call however long it is (the window is the
 * new utterances plus 4 before them), where analysing the whole call at every update would grow
 * with the square of its length. */
size_t sdra_coach_analysed(const sdra_coach *c);

/* ---- degraded mode (docs/live.md, "Degraded mode") -----------------------------------------
 *
 * A channel whose recognition falls behind switches, at an utterance boundary, to a cheaper
 * search (sdra_asr_params.fast_search) and back once it has caught up. The decision: a channel
 * in normal mode degrades when its lag (audio received, not yet recognized) reaches
 * enter_lag_s; a degraded one goes back when the lag is down to leave_lag_s (at most
 * enter_lag_s: the gap between them keeps it from flapping). enter_lag_s <= 0 turns degrading
 * off (a degraded channel goes back). A NaN or negative lag leaves the mode as it is. */
bool sdra_live_degrade_next(bool degraded, double lag_s, double enter_lag_s, double leave_lag_s);

#ifdef __cplusplus
}
#endif
#endif
