/*
 * coach.c - PLACEHOLDER for the coach (sdra/live.h) until helper "coach"'s src/live/coach.c
 * lands: it raises no alerts and emits only the "metrics" event (talk ratio so far). The real
 * file replaces this one whole (same path), so the live endpoint links against either.
 */
#include "sdra/live.h"

#include <stdlib.h>

struct sdra_coach {
    sdra_coach_params p;
};

sdra_coach_params sdra_coach_default_params(void)
{
    sdra_coach_params p = {.monologue_s = 90, .talk_ratio_low = 0.25, .talk_ratio_high = 0.70, .min_talk_s = 120,
                           .silence_s = 15, .unanswered_s = 30};
    return p;
}

int sdra_coach_create(sdra_coach **out, const sdra_coach_params *p, sdra_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    (*out)->p = p ? *p : sdra_coach_default_params();
    return 0;
}

void sdra_coach_destroy(sdra_coach *c)
{
    free(c);
}

int sdra_coach_update(sdra_coach *c, const sdra_transcript *t, sdra_coach_emit_fn emit, void *user, sdra_error *err)
{
    (void)c;
    (void)err;
    double rep = 0, prospect = 0, at = 0;
    for (size_t i = 0; i < t->n_utts; i++) {
        const sdra_utterance *u = &t->utts[i];
        sdra_role r = u->speaker >= 0 && (size_t)u->speaker < t->n_speakers ? t->speakers[u->speaker].role
                                                                          : SDRA_ROLE_UNKNOWN;
        if (r == SDRA_ROLE_REP)
            rep += u->end - u->start;
        else if (r == SDRA_ROLE_PROSPECT)
            prospect += u->end - u->start;
        if (u->end > at)
            at = u->end;
    }
    double tot = rep + prospect;
    json_t *d = json_pack("{s:f,s:{s:f,s:f},s:{s:f,s:f},s:i}", "at", at, "talk_ratio", "rep", tot > 0 ? rep / tot : 0.0,
                          "prospect", tot > 0 ? prospect / tot : 0.0, "sentiment", "rep", 0.0, "prospect", 0.0,
                          "utterances", (int)t->n_utts);
    if (d)
        emit(user, "metrics", d);
    json_decref(d);
    return 0;
}

int sdra_coach_tick(sdra_coach *c, const sdra_transcript *t, double now_s, sdra_coach_emit_fn emit, void *user,
                    sdra_error *err)
{
    (void)c, (void)t, (void)now_s, (void)emit, (void)user, (void)err;
    return 0;
}

int sdra_coach_alert_count(const sdra_coach *c)
{
    (void)c;
    return 0;
}
