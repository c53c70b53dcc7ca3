/*
 * rules_ctx.h - what the parts of the rules backend share (rules_backend.c: tokens, matches,
 * roles and most findings; meeting.c: dates per utterance and the meeting tracker; actions.c:
 * action items; learned.c: the learned classifiers' findings; topics.c: key phrases; talk.c: talk
 * metrics): the view of one call and the helpers that turn a match into a finding. Private to
 * src/analyze.
 */
#ifndef SDRA_ANALYZE_RULES_CTX_H
#define SDRA_ANALYZE_RULES_CTX_H

#include "internal.h"

#include <math.h>

#define EVIDENCE_MAX_CHARS 300

/* A figure rounded to 3 decimals, as the document gives them. */
static inline double an_r3(double x) { return round(x * 1000.0) / 1000.0; }

typedef struct uview {
    an_tok *toks;
    int n;
    sdra_role role; /* resolved: rep or prospect */
    bool question;
    bool meeting_ctx; /* proposes a meeting or names a day/time */
    bool has_date;
    bool date_bound; /* the date is a deadline or a limit ("by Friday", "till the end of October") */
    sdra_date_match date; /* first date expression in the utterance */
    double score;
    size_t m_first, m_count; /* this utterance's slice of actx.m (matches are in order) */
} uview;

typedef struct match {
    int u;
    const an_rule *rule;
    int begin, end, cap;
} match;

typedef struct actx {
    const sdra_transcript *t;
    const sdra_analyze_params *p;
    an_rules rules;
    const an_nb *pain_nb; /* the pain classifier (nb.c), or NULL; shared, read-only */
    const an_nb *obj_nb;  /* the objection classifier, or NULL */
    an_nb *nb_owned[2];   /* those of them this analysis must free (the cache was full) */
    uview *v;
    sdra_role *roles; /* per speaker */
    match *m;
    size_t n_m, cap_m;
    long anchor;
    sdra_error *err;
} actx;

/* text[b, e) as a JSON string, capped at EVIDENCE_MAX_CHARS (cut on a space, never inside a
 * character); an utterance's whole text the same way */
json_t *an_span_str(const char *text, size_t b, size_t e);
json_t *an_utt_text(const sdra_utterance *u);
/* the evidence fields every finding carries: speaker, role, start, end, utterance index "i" */
void an_evidence(json_t *o, const actx *c, int u);
/* the words a match covers */
json_t *an_match_words(const actx *c, const match *mm);
/* does utterance u have a match of category cat (and label, when not NULL)? */
bool an_has_match(const actx *c, int u, const char *cat, const char *label);
/* does the rule's context condition hold at the match? */
bool an_rule_ok(const actx *c, const match *mm);
/* does a rule of category cat hold in toks[b, e) of utterance u? */
bool an_rule_in(const actx *c, int u, const char *cat, int b, int e);
/* does v have punctuation before its last word (typed text), or none (raw ASR text, where
 * questions come from question.* rules)? */
bool an_punctuated(const uview *v);
/* is v's date said in a question: the sentence it is in ends with '?' (in text without
 * punctuation: the utterance is a question)? */
bool an_slot_asked(const uview *v);
/* the first and the last token of the sentence that token i of v is in */
int an_sentence_start(const uview *v, int i);
int an_sentence_end(const uview *v, int i);
/* An objection of type at token i of u in a sentence where the speaker commits to something
 * (type in @errand) or asks for something (type in @errand_asked): the errand, not pushback
 * (rules_backend.c). */
bool an_objection_is_errand(const actx *c, int u, int i, const char *type);

/* meeting.c: the date an utterance names (v->date, has_date, date_bound), and the next meeting
 * both sides agreed to (null when none; none after an opt-out at or after it) */
void an_choose_date(actx *c, int u);
json_t *an_find_meeting(actx *c, bool opted_out, int opt_out_u);

/* actions.c: the action items (commitments and requests), in text order */
json_t *an_find_actions(actx *c);

/* learned.c: the classifiers of dir (a missing examples file: none; trained once per process and
 * file version), and what they add to the rules' objections and pain points */
int an_load_classifiers(actx *c, const char *dir, sdra_error *err);
void an_learned_objections(actx *c, json_t *arr);
void an_learned_pain(actx *c, json_t *arr);

/* topics.c: the call's key phrases, best first (at most 8). */
json_t *an_find_topics(actx *c);
/* talk.c: the talk metrics of sdra.analysis/1 (per speaker and per role). */
json_t *an_talk_metrics(actx *c);

#endif
