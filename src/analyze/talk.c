/*
 * talk.c - the rules backend's talk metrics (rules_ctx.h: an_talk_metrics): talk time and
 * ratio, words and words per minute, questions, interruptions and overlaps, turns and patience
 * per speaker and role, and the longest monologue.
 */
#include "rules_ctx.h"
#include "sdra/util.h"

#include <stdlib.h>

static size_t word_count(const uview *v, const sdra_utterance *u)
{
    return u->n_words ? u->n_words : (size_t)v->n;
}

json_t *an_talk_metrics(actx *c)
{
    const sdra_transcript *t = c->t;
    size_t ns = t->n_speakers;
    double *talk = calloc(ns + 1, sizeof *talk), *mono = calloc(ns + 1, sizeof *mono);
    long *words = calloc(ns + 1, sizeof *words), *qs = calloc(ns + 1, sizeof *qs),
         *inter = calloc(ns + 1, sizeof *inter), *turns = calloc(ns + 1, sizeof *turns);
    json_t *m = json_object();
    if (!talk || !mono || !words || !qs || !inter || !turns)
        goto done;
    double total = 0, longest = 0, longest_start = 0;
    int longest_sp = -1;
    long overlaps = 0, interruptions = 0;
    double gap_sum = 0;
    long gap_n = 0;
    long q_side[3] = {0};
    /* a monologue is a run of consecutive utterances by one speaker */
    int run_sp = -1;
    double run_start = 0, run_end = 0;
    double prev_end = 0;
    int prev_sp = -1;
    for (size_t u = 0; u < t->n_utts; u++) {
        const sdra_utterance *ut = &t->utts[u];
        int sp = ut->speaker;
        double tt = sdra_utterance_talk_s(ut);
        talk[sp] += tt;
        total += tt;
        words[sp] += (long)word_count(&c->v[u], ut);
        if (c->v[u].question) {
            qs[sp]++;
            q_side[c->v[u].role]++;
        }
        if (sp != run_sp) {
            if (run_sp >= 0 && run_end - run_start > mono[run_sp])
                mono[run_sp] = run_end - run_start;
            if (run_sp >= 0 && run_end - run_start > longest) {
                longest = run_end - run_start;
                longest_start = run_start;
                longest_sp = run_sp;
            }
            run_sp = sp;
            run_start = ut->start;
            turns[sp]++;
        }
        if (ut->end > run_end || sp != prev_sp)
            run_end = ut->end;
        if (prev_sp >= 0 && sp != prev_sp) {
            if (ut->start < prev_end) {
                overlaps++;
                /* an interruption: the new speaker starts 1 s or more before the other ends */
                if (prev_end - ut->start >= 1.0) {
                    interruptions++;
                    inter[sp]++;
                }
            }
            if (c->v[u].role == SDRA_ROLE_REP && c->roles[prev_sp] == SDRA_ROLE_PROSPECT) {
                double gap = ut->start - prev_end;
                gap_sum += gap > 0 ? gap : 0;
                gap_n++;
            }
        }
        if (sp != prev_sp || ut->end > prev_end)
            prev_end = ut->end;
        prev_sp = sp;
    }
    if (run_sp >= 0) {
        if (run_end - run_start > mono[run_sp])
            mono[run_sp] = run_end - run_start;
        if (run_end - run_start > longest) {
            longest = run_end - run_start;
            longest_start = run_start;
            longest_sp = run_sp;
        }
    }
    json_t *sps = json_array();
    double rep_talk = 0, pros_talk = 0;
    for (size_t sp = 0; sp < ns; sp++) {
        json_t *o = json_object();
        json_object_set_new(o, "speaker", json_string(t->speakers[sp].id));
        json_object_set_new(o, "role", json_string(sdra_role_name(c->roles[sp])));
        json_object_set_new(o, "talk_time_s", json_real(an_r3(talk[sp])));
        json_object_set_new(o, "talk_ratio", json_real(an_r3(total > 0 ? talk[sp] / total : 0)));
        json_object_set_new(o, "words", json_integer(words[sp]));
        json_object_set_new(o, "words_per_minute",
                            json_real(an_r3(talk[sp] > 0 ? words[sp] / (talk[sp] / 60.0) : 0)));
        json_object_set_new(o, "questions", json_integer(qs[sp]));
        json_object_set_new(o, "turns", json_integer(turns[sp]));
        json_object_set_new(o, "longest_monologue_s", json_real(an_r3(mono[sp])));
        json_object_set_new(o, "interruptions", json_integer(inter[sp]));
        json_array_append_new(sps, o);
        if (c->roles[sp] == SDRA_ROLE_REP)
            rep_talk += talk[sp];
        else
            pros_talk += talk[sp];
    }
    double dur = t->duration_s;
    if (t->n_utts && t->utts[t->n_utts - 1].end > dur)
        dur = t->utts[t->n_utts - 1].end;
    json_object_set_new(m, "duration_s", json_real(an_r3(dur)));
    json_object_set_new(m, "talk_time_s", json_real(an_r3(total)));
    json_t *ratio = json_object();
    json_object_set_new(ratio, "rep", json_real(an_r3(total > 0 ? rep_talk / total : 0)));
    json_object_set_new(ratio, "prospect", json_real(an_r3(total > 0 ? pros_talk / total : 0)));
    json_object_set_new(m, "talk_ratio", ratio);
    json_t *lm = json_object();
    json_object_set_new(lm, "speaker",
                        longest_sp >= 0 ? json_string(t->speakers[longest_sp].id) : json_null());
    json_object_set_new(lm, "start", json_real(an_r3(longest_start)));
    json_object_set_new(lm, "duration_s", json_real(an_r3(longest)));
    json_object_set_new(m, "longest_monologue", lm);
    json_t *q = json_object();
    json_object_set_new(q, "rep", json_integer(q_side[SDRA_ROLE_REP]));
    json_object_set_new(q, "prospect", json_integer(q_side[SDRA_ROLE_PROSPECT]));
    json_object_set_new(m, "questions", q);
    json_object_set_new(m, "overlaps", json_integer(overlaps));
    json_object_set_new(m, "interruptions", json_integer(interruptions));
    json_object_set_new(m, "patience_s", gap_n ? json_real(an_r3(gap_sum / gap_n)) : json_null());
    json_object_set_new(m, "speakers", sps);
done:
    free(talk);
    free(mono);
    free(words);
    free(qs);
    free(inter);
    free(turns);
    return m;
}
