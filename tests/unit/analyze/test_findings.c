/* test_findings.c - the rules backend on small transcripts: sentiment (negation, boosters,
 * contrast), questions without '?', objections and intents on lower-case ASR text, action
 * items with owners and due dates, meetings, contact preferences, roles, bad input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sdra/analyze.h"
#include "sdra/util.h"

/* Builds a transcript from "R:" / "P:" lines (rep / prospect), 3 s apart. */
static sdra_transcript *make(const char *const *lines, size_t n)
{
    sdra_transcript *t = sdra_transcript_create();
    int r = sdra_transcript_add_speaker(t, "S1", SDRA_ROLE_REP, -1);
    int p = sdra_transcript_add_speaker(t, "S2", SDRA_ROLE_PROSPECT, -1);
    for (size_t i = 0; i < n; i++) {
        sdra_utterance *u = sdra_transcript_add_utterance(t, lines[i][0] == 'R' ? r : p, 3.0 * i, 3.0 * i + 2.5,
                                                          lines[i] + 3);
        assert_non_null(u);
    }
    return t;
}

static json_t *analyze(const char *const *lines, size_t n)
{
    sdra_transcript *t = make(lines, n);
    sdra_analyze_params p = sdra_analyze_default_params();
    p.call_date = "2026-11-24";
    json_t *doc = NULL;
    sdra_error err = {0};
    int rc = sdra_analyze(&doc, t, &p, &err);
    if (rc < 0)
        fail_msg("analyze: %s", err.msg);
    sdra_transcript_destroy(t);
    return doc;
}

static double score_of(json_t *doc, size_t i)
{
    return json_real_value(json_object_get(json_array_get(json_object_get(json_object_get(doc, "sentiment"), "utterances"), i), "score"));
}

static bool has(json_t *doc, const char *list, const char *key, const char *value)
{
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(doc, list), i, o) {
        const char *v = json_string_value(json_object_get(o, key));
        if (v && !strcmp(v, value))
            return true;
    }
    return false;
}

static void findings_sentiment_rules(void **state)
{
    (void)state;
    const char *lines[] = {
        "P: this is good", "P: this is very good", "P: this is not good", "P: the demo was great but the price is terrible",
        "P: honestly it is a no brainer", "P: that is a deal breaker for us", "P: the report", "P: not bad at all",
    };
    json_t *doc = analyze(lines, 8);
    double good = score_of(doc, 0), vgood = score_of(doc, 1), ngood = score_of(doc, 2);
    assert_true(good > 0.2);
    assert_true(vgood > good);          /* booster */
    assert_true(ngood < 0);             /* negation flips */
    assert_true(score_of(doc, 3) < 0);  /* after "but" weighs more */
    assert_true(score_of(doc, 4) > 0.3); /* sales idiom */
    assert_true(score_of(doc, 5) < -0.3);
    assert_true(score_of(doc, 6) == 0.0);
    assert_true(score_of(doc, 7) > 0);
    for (size_t i = 0; i < 8; i++)
        assert_true(score_of(doc, i) >= -1 && score_of(doc, i) <= 1);
    json_decref(doc);
}

static void findings_asr_text(void **state)
{
    (void)state;
    /* lower case, no punctuation: questions and objections still found */
    const char *lines[] = {
        "R: so how are you handling this today",
        "P: we use spreadsheets and honestly it takes hours every week",
        "R: what if we automated that",
        "P: sounds interesting how much does it cost",
        "R: it is ten dollars per user",
        "P: that is too expensive and i would need to run it by my boss",
        "R: i will send you a proposal by friday",
        "P: okay can you also send me a case study",
    };
    json_t *doc = analyze(lines, 8);
    json_t *q = json_object_get(json_object_get(doc, "metrics"), "questions");
    assert_int_equal(json_integer_value(json_object_get(q, "rep")), 2);
    assert_true(json_integer_value(json_object_get(q, "prospect")) >= 1);
    assert_true(has(doc, "objections", "type", "price"));
    assert_true(has(doc, "objections", "type", "authority"));
    assert_false(has(doc, "objections", "type", "legal"));
    assert_true(has(doc, "intents", "type", "request_pricing"));
    assert_true(has(doc, "intents", "type", "interested"));
    assert_true(json_array_size(json_object_get(doc, "pain_points")) >= 1);
    /* two actions: the rep's commitment with its date, the prospect's request (owner rep) */
    json_t *acts = json_object_get(doc, "action_items");
    assert_int_equal(json_array_size(acts), 2);
    json_t *a0 = json_array_get(acts, 0);
    assert_string_equal(json_string_value(json_object_get(a0, "owner")), "rep");
    assert_string_equal(json_string_value(json_object_get(a0, "due")), "2026-11-27");
    assert_string_equal(json_string_value(json_object_get(a0, "text")), "send you a proposal");
    json_t *a1 = json_array_get(acts, 1);
    assert_string_equal(json_string_value(json_object_get(a1, "kind")), "request");
    assert_string_equal(json_string_value(json_object_get(a1, "owner")), "rep");
    json_decref(doc);
}

static void findings_meeting_and_optout(void **state)
{
    (void)state;
    const char *booked[] = {
        "R: could we do a demo next tuesday at two",
        "P: tuesday at two works for me",
        "R: great i will send the invite",
    };
    json_t *doc = analyze(booked, 3);
    json_t *m = json_object_get(doc, "next_meeting");
    assert_true(json_is_object(m));
    assert_string_equal(json_string_value(json_object_get(m, "date")), "2026-12-01");
    assert_string_equal(json_string_value(json_object_get(m, "time")), "14:00");
    assert_string_equal(json_string_value(json_object_get(m, "part_of_day")), "afternoon");
    assert_true(has(doc, "intents", "type", "agree_to_meeting"));
    assert_non_null(strstr(json_string_value(json_object_get(doc, "outcome")), "2026-12-01"));
    json_decref(doc);

    const char *declined[] = {
        "R: could we do a demo next tuesday at two",
        "P: no tuesday does not work and please do not call me again",
    };
    doc = analyze(declined, 2);
    assert_true(json_is_null(json_object_get(doc, "next_meeting")));
    json_t *cp = json_object_get(doc, "contact_preferences");
    assert_true(json_is_true(json_object_get(cp, "do_not_call")));
    assert_false(json_is_true(json_object_get(cp, "do_not_email")));
    assert_true(has(doc, "intents", "type", "opt_out"));
    json_decref(doc);

    /* the rep saying "do not call" is no opt-out; negated "interested" is not interest */
    const char *other[] = {"R: do not call it a problem yet", "P: we are not interested at all"};
    doc = analyze(other, 2);
    assert_false(json_is_true(json_object_get(json_object_get(doc, "contact_preferences"), "do_not_call")));
    assert_true(has(doc, "intents", "type", "not_interested"));
    assert_false(has(doc, "intents", "type", "interested"));
    json_decref(doc);
}

/* next_meeting's date and time (NULL: none expected) after the lines (call date Tue 2026-11-24) */
static void expect_meeting(const char *const *lines, size_t n, const char *date, const char *time)
{
    json_t *doc = analyze(lines, n);
    json_t *m = json_object_get(doc, "next_meeting");
    if (!date) {
        if (!json_is_null(m))
            fail_msg("'%s': a meeting on %s", lines[0], json_string_value(json_object_get(m, "date")));
    } else {
        if (!json_is_object(m))
            fail_msg("'%s': no meeting, expected %s %s", lines[0], date, time ? time : "");
        const char *d = json_string_value(json_object_get(m, "date")), *t = json_string_value(json_object_get(m, "time"));
        if (!d || strcmp(d, date) || (time ? !t || strcmp(t, time) : t != NULL))
            fail_msg("'%s': meeting %s %s, expected %s %s", lines[0], d ? d : "-", t ? t : "-", date, time ? time : "-");
    }
    json_decref(doc);
}

/* A meeting agreed over several turns: what was finally agreed, not the first offer; a due
 * date or a "busy until" is no meeting time. */
static void findings_meeting_negotiated_over_turns(void **state)
{
    (void)state;
    const char *counter[] = {
        "R: Could we book half an hour with your team on Monday?",
        "P: Monday is no good for us. How about Thursday afternoon?",
        "R: Thursday the 26th at 2pm?",
        "P: Make it 3 and we're on.",
        "R: 3pm Thursday, done.",
    };
    expect_meeting(counter, 5, "2026-11-26", "15:00");
    const char *deadline_after[] = {
        "R: Does Wednesday at ten work for a demo?",
        "P: Wednesday at ten works.",
        "R: Great. I'll email the pricing to you by Friday.",
        "P: Perfect.",
    };
    expect_meeting(deadline_after, 4, "2026-11-25", "10:00");
    const char *busy_until[] = {
        "P: We're slammed till the end of January, call me after that.",
        "R: Okay, I'll reach out in February.",
        "P: Sure.",
    };
    expect_meeting(busy_until, 3, NULL, NULL);
    const char *restated[] = {
        "R: Would Friday at 9:30 suit you for the walkthrough?",
        "P: Friday at 9:30 at your office.",
    };
    expect_meeting(restated, 2, "2026-11-27", "09:30");
    const char *named_week[] = {
        "R: What about Wednesday for the workshop?",
        "P: Wednesday the 2nd at 11?",
        "R: The 2nd at 11 works.",
    };
    expect_meeting(named_week, 3, "2026-12-02", "11:00");
    const char *left_open[] = {
        "R: Could we set up a call next week?",
        "P: Maybe, mornings are better for me.",
        "R: Great, I'll follow up.",
    };
    expect_meeting(left_open, 3, NULL, NULL);
    /* the prospect's own meeting is no slot; a reply deferred or a slot turned down agrees to
       nothing (2026-12-07) */
    const char *their_meeting[] = {
        "R: I'll send the ROI sheet over this afternoon.",
        "P: Good, I'll take it to our Thursday leadership meeting.",
        "R: Great, thanks.",
    };
    expect_meeting(their_meeting, 3, NULL, NULL);
    const char *deferred[] = {
        "R: Could we get a demo in with you and your ops lead?",
        "P: Maybe. Let me talk to her and I'll get back to you by Monday with a time.",
        "R: Sounds good, talk Monday.",
    };
    expect_meeting(deferred, 3, NULL, NULL);
    const char *not_booked[] = {
        "R: Shall I book a call for next Tuesday to go through it?",
        "P: No, don't book anything yet, next Tuesday is our stocktake. Later in the month.",
    };
    expect_meeting(not_booked, 2, NULL, NULL);
    /* agreed on no day: the meeting says so (approximate), and a span said later does not move
       a day already agreed */
    const char *spans[][3] = {
        {"R: Could we set up a call next week to go through the numbers?", "P: Sure, next week works.", NULL},
        {"R: I'll call you back in a few weeks with the details.", "P: Fine, afternoons are better.", NULL},
    };
    for (int k = 0; k < 2; k++) {
        json_t *doc = analyze(spans[k], 2);
        json_t *m = json_object_get(doc, "next_meeting");
        if (!json_is_object(m) || !json_is_true(json_object_get(m, "approximate")))
            fail_msg("'%s': not an approximate meeting", spans[k][0]);
        json_decref(doc);
    }
    const char *day_kept[] = {
        "R: How about Tuesday the 1st at eleven for the demo?",
        "P: Eleven on Tuesday works for me.",
        "R: Great. And I'll have the quote emailed to you this week.",
        "P: Sure, thanks.",
    };
    expect_meeting(day_kept, 4, "2026-12-01", "11:00");
    {
        json_t *doc = analyze(day_kept, 4);
        assert_null(json_object_get(json_object_get(doc, "next_meeting"), "approximate"));
        json_decref(doc);
    }
    /* a counter-offer without meeting words, after a decline in the same turn (call date
       Tuesday 2026-11-24) */
    const char *declined_then_countered[] = {
        "R: Should we book a follow-up call, say Monday the 30th?",
        "P: Monday's bad, we've got an audit. Tuesday the 1st, 10 a.m., and I'll bring Rick.",
        "R: Perfect, I'll send the invite.",
    };
    expect_meeting(declined_then_countered, 3, "2026-12-01", "10:00");
    /* "the seventh" said of the slot's 7th is that day, not the next 7th of a month */
    const char *ordinal_restated[] = {
        "R: how about monday the seventh of december at ten for the review",
        "P: the seventh ja that works ten oclock",
    };
    expect_meeting(ordinal_restated, 2, "2026-12-07", "10:00");
    /* "the following Wednesday" is next week's; the agreed hour gets its day when confirmed */
    const char *following[] = {
        "R: I'll have the comparison back to you by the following Wednesday. Can we walk through it together then?",
        "P: Let's do that. Come through to our office, two o'clock.",
        "R: Wednesday the 2nd of December, two o'clock at your office. I'll send a meeting request.",
    };
    expect_meeting(following, 3, "2026-12-02", "14:00");
    /* "good afternoon" is a greeting, no time to meet */
    const char *greeting[] = {
        "R: Good afternoon Ngozi. Can you hear me?",
        "P: Yes we can, good afternoon.",
        "R: Great. I'll email you the pricing tomorrow.",
    };
    expect_meeting(greeting, 3, NULL, NULL);
    /* an hour said without am/pm on the morning already named is a morning hour */
    const char *morning_hour[] = {
        "R: Could we do a session with the supervisors on Tuesday morning?",
        "P: Yeah, Tuesday after the toolbox talk, that's like seven thirty.",
        "R: Tuesday at seven thirty it is.",
    };
    expect_meeting(morning_hour, 3, "2026-12-01", "07:30");
    /* the day set, the hour asked: the answer completes it and agrees */
    const char *hour_asked[] = {
        "P: The week after, Wednesday the 2nd?",
        "R: Wednesday the 2nd of December. What time suits?",
        "P: Quarter past two, after the lunch service clears.",
    };
    expect_meeting(hour_asked, 3, "2026-12-02", "14:15");
    /* "first thing" after the day is the morning, so "like seven" is 7 a.m. */
    const char *first_thing[] = {
        "R: What about next Tuesday, the 1st?",
        "P: Tuesdays are toolbox talks. Wednesday the 2nd, first thing, like seven.",
        "R: Seven on Wednesday the 2nd, I'll be there.",
    };
    expect_meeting(first_thing, 3, "2026-12-02", "07:00");
    /* another hour for the slot's day is a counter-offer ("make it half nine") */
    const char *other_hour[] = {
        "P: Wednesday the 2nd would work, first thing.",
        "R: Nine o'clock on Wednesday the 2nd?",
        "P: Make it half nine, the traffic is murder.",
        "R: Half nine Wednesday the 2nd at your office.",
    };
    expect_meeting(other_hour, 4, "2026-12-02", "09:30");
    /* the day asked about, not the day turned down before it */
    const char *asked_day[] = {
        "R: Could we meet next week to go through the proposal?",
        "P: Tuesday and Wednesday I am at the port with an audit. Thursday?",
        "R: Thursday the 3rd, yes. What time?",
        "P: After lunch, say half past two.",
    };
    expect_meeting(asked_day, 4, "2026-12-03", "14:30");
}

static void findings_metrics(void **state)
{
    (void)state;
    sdra_transcript *t = sdra_transcript_create();
    int r = sdra_transcript_add_speaker(t, "S1", SDRA_ROLE_REP, -1);
    int p = sdra_transcript_add_speaker(t, "S2", SDRA_ROLE_PROSPECT, -1);
    /* rep 0-10 s (4 words over 8 s of speech), prospect 8-12 s (interrupts 2 s early),
       rep answers at 13 s (1 s gap) */
    sdra_utterance *u = sdra_transcript_add_utterance(t, r, 0, 10, "one two three four");
    for (int i = 0; i < 4; i++)
        sdra_utterance_add_word(u, "w", i * 2.5, i * 2.5 + 2.0, 1);
    u = sdra_transcript_add_utterance(t, p, 8, 12, "five six");
    sdra_utterance_add_word(u, "w", 8, 10, 1);
    sdra_utterance_add_word(u, "w", 10, 12, 1);
    u = sdra_transcript_add_utterance(t, r, 13, 14, "seven");
    sdra_utterance_add_word(u, "w", 13, 14, 1);
    sdra_analyze_params prm = sdra_analyze_default_params();
    prm.call_date = "2026-11-24";
    json_t *doc = NULL;
    assert_int_equal(sdra_analyze(&doc, t, &prm, NULL), 0);
    json_t *m = json_object_get(doc, "metrics");
    assert_int_equal(json_integer_value(json_object_get(m, "overlaps")), 1);
    assert_int_equal(json_integer_value(json_object_get(m, "interruptions")), 1);
    assert_true(fabs(json_real_value(json_object_get(m, "patience_s")) - 1.0) < 1e-9);
    json_t *ratio = json_object_get(m, "talk_ratio");
    assert_true(fabs(json_real_value(json_object_get(ratio, "rep")) - 9.0 / 13.0) < 0.001);
    json_t *s1 = json_array_get(json_object_get(m, "speakers"), 0);
    assert_true(fabs(json_real_value(json_object_get(s1, "words_per_minute")) - 5 / (9.0 / 60)) < 0.01);
    json_t *lm = json_object_get(m, "longest_monologue");
    assert_string_equal(json_string_value(json_object_get(lm, "speaker")), "S1");
    assert_true(fabs(json_real_value(json_object_get(lm, "duration_s")) - 10.0) < 1e-9);
    json_decref(doc);
    sdra_transcript_destroy(t);
}

static void findings_bad_input(void **state)
{
    (void)state;
    sdra_error err = {0};
    json_t *doc = NULL;
    sdra_transcript *t = sdra_transcript_create();
    sdra_analyze_params p = sdra_analyze_default_params();
    p.call_date = "2026-11-24";
    assert_int_equal(sdra_analyze(&doc, t, &p, &err), SDRA_EINVAL); /* empty */
    assert_null(doc);
    int s = sdra_transcript_add_speaker(t, "S1", SDRA_ROLE_REP, -1);
    sdra_transcript_add_utterance(t, s, 0, 1, "hello");
    p.call_date = "2026-02-30";
    assert_int_equal(sdra_analyze(&doc, t, &p, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "2026-02-30"));
    p.call_date = "2026-11-24";
    p.backend = "nope";
    assert_int_equal(sdra_analyze(&doc, t, &p, &err), SDRA_EINVAL);
    p.backend = "rules";
    p.rules_dir = "/nonexistent/rules";
    assert_int_equal(sdra_analyze(&doc, t, &p, &err), SDRA_ENOTFOUND);
    p.rules_dir = NULL;
    p.max_utterances = 0;
    assert_int_equal(sdra_analyze(&doc, t, &p, &err), 0);
    assert_string_equal(json_string_value(json_object_get(doc, "schema")), "sdra.analysis/1");
    json_decref(doc);
    sdra_transcript_destroy(t);
}

static void findings_malformed_rules(void **state)
{
    (void)state;
    const char *tmp = getenv("SDRA_TEST_TMP");
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/analyze-bad-rules", tmp ? tmp : "/tmp");
    assert_int_equal(sdra_mkdir_p(dir, NULL), 0);
    snprintf(path, sizeof path, "%s/x.rules", dir);
    const char *bad = "# comment\nobjection.price = too expensive\nthis line is wrong\n";
    assert_int_equal(sdra_file_write_atomic(path, bad, strlen(bad), NULL), 0);
    sdra_transcript *t = sdra_transcript_create();
    int s = sdra_transcript_add_speaker(t, "S1", SDRA_ROLE_REP, -1);
    sdra_transcript_add_utterance(t, s, 0, 1, "hello");
    sdra_analyze_params p = sdra_analyze_default_params();
    p.call_date = "2026-11-24";
    p.rules_dir = dir;
    json_t *doc = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_analyze(&doc, t, &p, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "x.rules:3"));
    sdra_transcript_destroy(t);
}

/* Is there an item of type `type` in `list` cited at utterance i? */
static bool has_at(json_t *doc, const char *list, const char *type, json_int_t i)
{
    size_t k;
    json_t *o;
    json_array_foreach(json_object_get(doc, list), k, o) {
        const char *v = json_string_value(json_object_get(o, "type"));
        if (v && !strcmp(v, type) && json_integer_value(json_object_get(o, "i")) == i)
            return true;
    }
    return false;
}

/* One expectation of an objection test: an objection of `type` cited at utterance i, or none. */
typedef struct obj_at {
    const char *type;
    json_int_t i;
    bool there;
} obj_at;

/* Analyzes the dialogue and checks each expectation. */
static void expect_objections(const char *const *lines, size_t n, const obj_at *ex, size_t n_ex)
{
    json_t *doc = analyze(lines, n);
    for (size_t k = 0; k < n_ex; k++)
        if (has_at(doc, "objections", ex[k].type, ex[k].i) != ex[k].there)
            fail_msg("objection %s at utterance %d: want it %s", ex[k].type, (int)ex[k].i,
                     ex[k].there ? "found" : "not found");
    json_decref(doc);
}

/* issue 12: paraphrases as people word them, a meeting agreed over two turns, a time budget
   that is no objection, ASR contractions without apostrophes, a counter-offer on the hour */
static void findings_paraphrases(void **state)
{
    (void)state;
    const char *lines[] = {
        "R: Is now a good time?",
        "P: Sure, I've only got about ten minutes, is that alright?",
        "R: The plan for your team would be 900 a month.",
        "P: That's more than we were hoping to spend, any room on it?",
        "R: Who else is involved?",
        "P: I'd have to run it past our finance director first.",
        "R: Could we grab half an hour on Monday?",
        "P: Monday morning is fine, send something over.",
    };
    json_t *doc = analyze(lines, 8);
    assert_false(has(doc, "objections", "type", "no_time"));
    assert_true(has_at(doc, "objections", "price", 3));
    assert_true(has_at(doc, "objections", "authority", 5));
    assert_true(has_at(doc, "intents", "agree_to_meeting", 7));
    json_t *m = json_object_get(doc, "next_meeting");
    assert_string_equal(json_string_value(json_object_get(m, "date")), "2026-11-30");
    assert_string_equal(json_string_value(json_object_get(m, "part_of_day")), "morning");
    json_decref(doc);

    const char *asr[] = {
        "R: does thursday work say ten am",
        "P: ten is tight make it eleven",
        "R: eleven works ill send the invite",
        "P: lets say we talk again after that",
    };
    doc = analyze(asr, 4);
    m = json_object_get(doc, "next_meeting");
    assert_string_equal(json_string_value(json_object_get(m, "date")), "2026-11-26");
    assert_string_equal(json_string_value(json_object_get(m, "time")), "11:00");
    size_t k;
    json_t *o;
    bool invite = false;
    json_array_foreach(json_object_get(doc, "action_items"), k, o) invite |=
        !strcmp(json_string_value(json_object_get(o, "text")), "send the invite");
    assert_true(invite);
    json_decref(doc);
}

/* issue 12: ordinary review and news sentences carry sentiment, not an exact 0 */
static void findings_sentiment_everyday(void **state)
{
    (void)state;
    const char *lines[] = {
        "P: The food was delicious and the staff were so friendly.",
        "P: Three people died when the storm destroyed the bridge.",
        "P: I am afraid the results are disappointing this year.",
        "P: What a lovely surprise, congratulations!",
    };
    json_t *doc = analyze(lines, 4);
    assert_true(score_of(doc, 0) > 0.3);
    assert_true(score_of(doc, 1) < -0.3);
    assert_true(score_of(doc, 2) < -0.2);
    assert_true(score_of(doc, 3) > 0.3);
    json_decref(doc);
}

/* A security, legal, trust or need word in the speaker's own commitment (and, but for legal, in
   a request) is the errand, not pushback; the same word as a condition still is an objection */
static void findings_objection_errand(void **state)
{
    (void)state;
    const char *lines[] = {
        "R: Happy to go through the details.",
        "P: I'll send you our security questionnaire today.",
        "R: Great, thank you.",
        "P: And I will introduce you to Helen in legal by Friday.",
        "R: Perfect.",
        "P: But honestly, we can't move until security has signed off on data residency.",
        "R: Anything else you'd need from us?",
        "P: Yes, please send me two or three references from clinics like ours.",
    };
    const obj_at ex[] = {
        {"security", 1, false}, {"legal", 3, false}, {"security", 5, true},
        {"trust", 7, false}, /* asking for references: information */
    };
    expect_objections(lines, 8, ex, 4);
}

/* "don't want" is a need objection with an object ("we don't want another system"), not before
   an infinitive ("I don't want to book his time before he has seen it") */
static void findings_dont_want_to(void **state)
{
    (void)state;
    const char *lines[] = {
        "R: Shall we put the demo in the diary?",
        "P: Let me show him the proposal first. I don't want to book his time before he has seen it.",
        "R: Understood.",
        "P: To be honest we don't want another system to look after.",
    };
    const obj_at ex[] = {{"need", 1, false}, {"need", 3, true}};
    expect_objections(lines, 4, ex, 2);
}

/* VADER's emphasis: an exclamation mark strengthens a sentiment the words have (each mark up
   to four, either sign) and gives none to words without one */
static void findings_sentiment_exclamation(void **state)
{
    (void)state;
    const char *lines[] = {
        "P: That is great.", "P: That is great!", "P: That is great!!!!!!", "P: That is awful.",
        "P: That is awful!", "P: The report is on the desk!", "P: That is great!!!!",
    };
    json_t *doc = analyze(lines, 7);
    assert_true(score_of(doc, 1) > score_of(doc, 0));
    assert_true(score_of(doc, 2) > score_of(doc, 1));
    assert_true(fabs(score_of(doc, 2) - score_of(doc, 6)) < 1e-9); /* four at most */
    assert_true(score_of(doc, 4) < score_of(doc, 3));
    assert_true(score_of(doc, 3) < 0);
    assert_true(score_of(doc, 5) == 0.0);
    json_decref(doc);
}

/* issue 17: a scheduling remark names a day ("busy on Tuesday"): no no_time objection; busy
   today, or busy now and a day in another sentence, still is one (the "!day" rule flag) */
static void findings_scheduling_is_not_no_time(void **state)
{
    (void)state;
    const char *lines[] = {
        "R: Could we set up a demo next week?",
        "P: I'm busy on Tuesday, but Wednesday at 2 works for me.",
        "P: I'm in meetings all day Thursday anyway.",
        "P: Sorry, I'm really busy today.",
        "P: I'm busy right now. Call me next week.",
        "P: im busy tuesday how about wednesday",
    };
    const obj_at ex[] = {
        {"no_time", 1, false}, {"no_time", 2, false}, {"no_time", 3, true},
        {"no_time", 4, true},  {"no_time", 5, false},
    };
    expect_objections(lines, 6, ex, 5);
}

/* An opt-out of everything stops both channels, unless the prospect allows one of them; a
 * condition or a time limit is no opt-out. */
static void findings_optout_with_one_channel_allowed(void **state)
{
    (void)state;
    const char *both[] = {"R: Could I send you a case study?", "P: Take me off your list, please. Don't ring this number again."};
    json_t *doc = analyze(both, 2);
    json_t *cp = json_object_get(doc, "contact_preferences");
    assert_true(json_is_true(json_object_get(cp, "do_not_call")));
    assert_true(json_is_true(json_object_get(cp, "do_not_email")));
    json_decref(doc);
    const char *email_ok[] = {"P: Take me off your list, please. Don't ring this number again.",
                              "R: Would it be alright if I sent one email with a case study?",
                              "P: An email's fine, I can delete an email. Just no more phone calls."};
    doc = analyze(email_ok, 3);
    cp = json_object_get(doc, "contact_preferences");
    assert_true(json_is_true(json_object_get(cp, "do_not_call")));
    assert_true(json_is_false(json_object_get(cp, "do_not_email")));
    json_decref(doc);
    /* a condition or a time limit opts out of nothing; unpunctuated speech still opts out */
    static const struct {
        const char *line;
        bool dnc;
    } cases[] = {
        {"P: In PI, if you don't call back in an hour, they've already signed with someone else.", false},
        {"P: Ya, can, just message me. Don't call during lunch, confirm I won't pick up.", false},
        {"P: Don't ring me at home, use the office line.", false},
        {"P: he said if yall call again to tell you to quit calling so please just dont call here no more", true},
        {"P: Please don't call me again.", true},
        {"P: Don't call on this number again.", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *one[] = {"R: Could I give you a ring next week?", cases[i].line};
        doc = analyze(one, 2);
        bool dnc = json_is_true(json_object_get(json_object_get(doc, "contact_preferences"), "do_not_call"));
        if (dnc != cases[i].dnc)
            fail_msg("'%s': do_not_call %d, expected %d", cases[i].line, dnc, cases[i].dnc);
        json_decref(doc);
    }
}

/* Words of an opt-out that opt out of nothing (a negated "stop", "call" as naming, a call or
 * email to someone else, a list that is one event's), the channel a "list" opt-out names, and
 * asking not to be put on a list at all. */
static void findings_optout_near_misses(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        bool dnc, dne;
    } cases[] = {
        {"P: Since the storm the office line has not stop ringing, it's chaos here.", false, false},
        {"P: the phones never stop ringing on a monday honestly", false, false},
        {"P: And don't call me Dr. Hale, please, Morgan is fine.", false, false},
        {"P: Please stop emailing the old address, I moved to the new domain in June.", false, false},
        {"P: Don't email him about it, he retired in March. Email me instead.", false, false},
        {"P: Oh, and take me off the list for the Friday workshop, I'm travelling.", false, false},
        {"P: Could you take my number off your list? Email is how I work.", true, false},
        {"P: Please don't add me to any mailing list, I get enough of those.", false, true},
        {"P: dont put us on your call list we dont do phone sales", true, false},
        {"P: Please stop calling me, I've said no twice now.", true, false},
        {"P: Take me off your list for good.", true, true},
        {"P: I don't want any more emails from you lot, thanks.", false, true},
        {"P: I don't want to miss your emails about the pilot, send them to both of us.", false, false},
        {"P: Just make sure I'm not getting the weekly newsletters after this.", false, true},
        {"P: we dont take sales calls here sorry", true, false},
        {"P: She doesn't take sales calls, email the office.", false, false},
        {"P: Can you opt me out of the marketing emails?", false, true},
        {"P: Please opt me out. Everything.", true, true},
        {"P: Scratch my mobile off your sheet, would you.", true, false},
        {"P: To be honest I would rather not be contacted again, by any means.", true, true},
        {"P: I'd prefer not to be phoned at work, email is better.", false, false}, /* a place limit */
        {"P: I'd prefer not to be phoned again, email is better.", true, false},
        {"P: Don't ring the front desk, they never pass messages on. Ring my mobile.", false, false},
        {"P: Don't email Priya about this, she's on leave until June.", false, false},
        {"P: DON'T CALL THIS NUMBER AGAIN.", true, false},
        {"P: I said don't call Me again!", true, false},
        {"P: Fine, but don't call it an ERP in the deck, our CFO hates that word.", false, false},
        {"P: I'd be grateful if you could take me off your calling list.", true, false},
        {"P: Just keep us out of your database, please.", true, true},
        {"P: I would rather not get any more emails, if that's alright.", false, true},
        {"P: Could you take me off your phone list and your mailing list, please?", true, true},
        {"P: take us off the webinar list and the newsletter list", false, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *one[] = {"R: Could I follow up with you next week?", cases[i].line};
        json_t *doc = analyze(one, 2);
        json_t *cp = json_object_get(doc, "contact_preferences");
        bool dnc = json_is_true(json_object_get(cp, "do_not_call"));
        bool dne = json_is_true(json_object_get(cp, "do_not_email"));
        if (dnc != cases[i].dnc || dne != cases[i].dne)
            fail_msg("'%s': do_not_call %d do_not_email %d, expected %d %d", cases[i].line, dnc,
                     dne, cases[i].dnc, cases[i].dne);
        json_decref(doc);
    }
}

/* One utterance that tells two problems gives two pain points: the rule's, and the classifier's
 * for the sentence no pain rule matched (marked learned); the rep's words give none. */
static void findings_learned_pains_per_sentence(void **state)
{
    (void)state;
    const char *lines[] = {
        "R: How is stock counting going? It takes us two days to reconcile everything by hand.",
        "P: It takes us two days every month to reconcile everything by hand. On top of that our night shift redoes half the counts because the numbers never match the system.",
    };
    json_t *doc = analyze(lines, 2);
    json_t *pains = json_object_get(doc, "pain_points");
    assert_int_equal(json_array_size(pains), 2);
    json_t *rule = json_array_get(pains, 0), *learned = json_array_get(pains, 1);
    assert_null(json_object_get(rule, "learned"));
    assert_int_equal(json_integer_value(json_object_get(rule, "i")), 1);
    assert_true(json_is_true(json_object_get(learned, "learned")));
    assert_int_equal(json_integer_value(json_object_get(learned, "i")), 1);
    assert_non_null(strstr(json_string_value(json_object_get(learned, "text")), "night shift redoes"));
    json_decref(doc);
}

/* An objection the rules have no wording for is found by the classifier (nb.c, trained on the
 * shipped examples) and marked learned; a rule's objection is not marked, the classifier adds
 * no second objection of a type the call already has, and reads the prospect only. The
 * outcome line names the rules' objections only. */
static void findings_learned_objection(void **state)
{
    (void)state;
    const char *lines[] = {
        "R: We help finance teams close the month faster.",
        "P: Honestly the people upstairs would never sign off on another tool this year, the money's all gone into the new warehouse.",
        "R: Honestly the people upstairs would never sign off on another tool this year.",
        "P: And to be fair it is too expensive for us anyway.",
        "R: Could I send you a short overview?",
        "P: Fine, send it over.",
    };
    json_t *doc = analyze(lines, 6);
    json_t *objs = json_object_get(doc, "objections");
    size_t i;
    json_t *o;
    int learned = 0, rule = 0;
    json_array_foreach(objs, i, o) {
        json_int_t u = json_integer_value(json_object_get(o, "i"));
        assert_true(u == 1 || u == 3); /* the prospect's */
        if (json_is_true(json_object_get(o, "learned"))) {
            learned++;
            assert_int_equal(u, 1);
            assert_non_null(json_string_value(json_object_get(o, "match")));
        } else {
            rule++;
            assert_int_equal(u, 3);
            assert_string_equal(json_string_value(json_object_get(o, "type")), "price");
        }
    }
    assert_int_equal(learned, 1);
    assert_int_equal(rule, 1);
    const char *outcome = json_string_value(json_object_get(doc, "outcome"));
    assert_non_null(strstr(outcome, "objections: price"));
    assert_null(strstr(outcome, "authority"));
    json_decref(doc);
}

/* How many action items the lines give. */
static size_t n_actions(const char *const *lines, size_t n)
{
    json_t *doc = analyze(lines, n);
    size_t k = json_array_size(json_object_get(doc, "action_items"));
    json_decref(doc);
    return k;
}

/* An offer taken up by words that name the thing ("Yes, invite Frank") and then promised in other
   words ("I'll add Frank to the invite") is one item, the promise */
static void findings_offer_taken_up_by_name(void **state)
{
    (void)state;
    const char *lines[] = {
        "R: Should I invite your managing partner too?",
        "P: Yes, invite Frank.",
        "R: Perfect, I'll add Frank to the invite.",
    };
    assert_int_equal(n_actions(lines, 3), 1);
    const char *other[] = {
        "R: Should I invite your managing partner too?",
        "P: Yes, invite Frank.",
        "R: Perfect, I'll add the pricing sheet to the email.",
    };
    assert_int_equal(n_actions(other, 3), 2); /* another thing: both stay */
}

/* A request the asked side takes on in its next turn is one action item, the commitment, which
 * carries the request; a request for another kind of thing ("call me back") stays its own item. */
static void findings_request_answered_is_one_item(void **state)
{
    (void)state;
    const char *lines[] = {
        "R: that covers the pricing side",
        "P: can you send me the usage report for this year? and call me back in february.",
        "R: sure, i will send it tonight",
        "P: thanks",
    };
    json_t *doc = analyze(lines, 4);
    json_t *acts = json_object_get(doc, "action_items");
    assert_int_equal(json_array_size(acts), 2);
    json_t *cb = json_array_get(acts, 0), *c = json_array_get(acts, 1);
    assert_string_equal(json_string_value(json_object_get(cb, "kind")), "request");
    assert_non_null(strstr(json_string_value(json_object_get(cb, "text")), "call me back"));
    assert_string_equal(json_string_value(json_object_get(c, "kind")), "commitment");
    assert_string_equal(json_string_value(json_object_get(c, "owner")), "rep");
    assert_string_equal(json_string_value(json_object_get(c, "due")), "2026-11-24");
    json_t *ans = json_object_get(c, "answers");
    assert_int_equal(json_array_size(ans), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(ans, 0), "i")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ans, 0), "role")), "prospect");
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(ans, 0), "text")), "usage report"));
    assert_true(has(doc, "intents", "type", "request_information"));
    json_decref(doc);

    /* the same commitment three turns later, or by the side that asked, answers nothing */
    const char *late[] = {
        "P: can you send me the usage report for this year",
        "R: good question",
        "P: it would help",
        "R: i will send it tonight",
    };
    assert_int_equal(n_actions(late, 4), 2);
    const char *self[] = {
        "R: can you send me your delivery sheets",
        "R: and i will send you the quote",
    };
    assert_int_equal(n_actions(self, 2), 2);
}

/* An offer is a commitment once taken up, none when not; one promised again later is that
 * promise; a commitment followed by a question is no offer. */
static void findings_offers(void **state)
{
    (void)state;
    const char *declined[] = {"R: I can send you our security whitepaper.", "P: No thanks, we are fine."};
    assert_int_equal(n_actions(declined, 2), 0);

    const char *taken[] = {"R: I can send you our security whitepaper.", "P: Yes please, that would help."};
    json_t *doc = analyze(taken, 2);
    json_t *acts = json_object_get(doc, "action_items");
    assert_int_equal(json_array_size(acts), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(acts, 0), "kind")), "commitment");
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(acts, 0), "text")), "whitepaper"));
    json_decref(doc);

    /* asked for in the reply: the offer answers the request */
    const char *asked[] = {"R: We can share our ISO certificate.", "P: Ah good, please send me the certificate."};
    doc = analyze(asked, 2);
    acts = json_object_get(doc, "action_items");
    assert_int_equal(json_array_size(acts), 1);
    assert_int_equal(json_array_size(json_object_get(json_array_get(acts, 0), "answers")), 1);
    json_decref(doc);

    const char *again[] = {"R: Should I check back in with you in January?", "P: Yes. Second week, after the holidays.",
                           "R: I'll call you in the second week of January."};
    doc = analyze(again, 3);
    acts = json_object_get(doc, "action_items");
    assert_int_equal(json_array_size(acts), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(acts, 0), "i")), 2);
    json_decref(doc);

    /* another thing of the same kind is another item: the offer taken up stays */
    const char *other[] = {"R: I can send the SOC 2 report under NDA today.", "P: Good. Where is the data stored?",
                           "R: In Frankfurt. I'll include our data processing agreement as well."};
    assert_int_equal(n_actions(other, 3), 2);

    /* an offer that answers the other side's request is taken: one item, the offer */
    const char *answering[] = {"R: I'll set up a trial account. Can you send me the instructor list?",
                               "P: Yeah, I can flick you the spreadsheet tonight.", "R: Ha, I've seen worse."};
    doc = analyze(answering, 3);
    acts = json_object_get(doc, "action_items");
    json_t *last = json_array_get(acts, json_array_size(acts) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "owner")), "prospect");
    assert_int_equal(json_integer_value(json_object_get(last, "i")), 1);
    assert_int_equal(json_array_size(json_object_get(last, "answers")), 1);
    for (size_t k = 0; k < json_array_size(acts); k++)
        assert_string_not_equal(json_string_value(json_object_get(json_array_get(acts, k), "kind")), "request");
    json_decref(doc);

    const char *notq[] = {"R: I'll send an invite to you and Dave, what's his email?", "P: It's dave at the company dot com."};
    assert_int_equal(n_actions(notq, 2), 1);
}

/* Which replies agree to a slot: a bare "yes" to a slot asked about or negotiated, not to one
 * said in passing; a day the rep asks about and the prospect answers as a slot is a proposal;
 * a greeting is no time of day; a question about the product is no request for information. */
static void findings_replies_and_greetings(void **state)
{
    (void)state;
    const char *passing[] = {"R: Hi Caroline, just following up on Tuesday's demo.", "P: Yes, thank you, it was really helpful.",
                             "R: Great to hear."};
    expect_meeting(passing, 3, NULL, NULL);
    const char *asked[] = {"R: Could we do the demo on Tuesday at ten?", "P: Yes."};
    expect_meeting(asked, 2, "2026-12-01", "10:00");
    const char *countered[] = {"R: Should we pencil in a follow-up, say Monday the 30th?",
                               "P: Monday's bad. Tuesday the 1st, 10 a.m.", "R: Perfect."};
    expect_meeting(countered, 3, "2026-12-01", "10:00");
    const char *answered[] = {"R: Could we get a look at it in the meantime? Next Tuesday maybe?",
                              "P: Next week's no good, it's the regatta.", "R: The week after, then? Wednesday the 9th?",
                              "P: The 9th. Yeah, I can do that. Nine o'clock."};
    expect_meeting(answered, 4, "2026-12-09", "09:00");
    const char *greeting[] = {"R: Morning Priya, thanks for jumping on. Can you hear me okay?", "P: Yes, loud and clear."};
    expect_meeting(greeting, 2, NULL, NULL);
    const char *about[] = {"R: Hi, it's Sam from Acme.", "P: A wee minute, aye. What's it about?"};
    json_t *doc = analyze(about, 2);
    assert_false(has(doc, "intents", "type", "request_information"));
    json_decref(doc);
}

/* The prospect proposes, the rep takes it, the prospect says it again: agree_to_meeting cites
 * that confirmation; a time said with the same day again fills the slot; "a song competition"
 * is no competitor. */
static void findings_confirmation_and_fill(void **state)
{
    (void)state;
    const char *lines[] = {"R: Could we do a demo with your manager next week? How about Tuesday?",
                           "P: Tuesday not good, Wednesday is better, Wednesday at ten in the morning.",
                           "R: Wednesday at ten, perfect. I'll send an invite.", "P: Good, then Wednesday at ten."};
    json_t *doc = analyze(lines, 4);
    json_t *m = json_object_get(doc, "next_meeting");
    assert_true(json_is_object(m));
    assert_string_equal(json_string_value(json_object_get(m, "date")), "2026-11-25");
    assert_string_equal(json_string_value(json_object_get(m, "time")), "10:00");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "confirmed"), "i")), 3);
    assert_true(has_at(doc, "intents", "agree_to_meeting", 3));
    assert_false(has_at(doc, "intents", "agree_to_meeting", 1));
    json_decref(doc);
    const char *song[] = {"R: How is the choir?", "P: Busy, we have the festival song competition in August."};
    doc = analyze(song, 2);
    assert_false(has(doc, "objections", "type", "competitor"));
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(findings_sentiment_rules), cmocka_unit_test(findings_asr_text),
        cmocka_unit_test(findings_meeting_and_optout), cmocka_unit_test(findings_metrics),
        cmocka_unit_test(findings_bad_input), cmocka_unit_test(findings_malformed_rules),
        cmocka_unit_test(findings_paraphrases), cmocka_unit_test(findings_request_answered_is_one_item), cmocka_unit_test(findings_offers), cmocka_unit_test(findings_replies_and_greetings), cmocka_unit_test(findings_confirmation_and_fill), cmocka_unit_test(findings_scheduling_is_not_no_time),
        cmocka_unit_test(findings_meeting_negotiated_over_turns), cmocka_unit_test(findings_sentiment_everyday),
        cmocka_unit_test(findings_sentiment_exclamation),
        cmocka_unit_test(findings_objection_errand),
        cmocka_unit_test(findings_dont_want_to),
        cmocka_unit_test(findings_offer_taken_up_by_name),
        cmocka_unit_test(findings_learned_objection), cmocka_unit_test(findings_learned_pains_per_sentence),
        cmocka_unit_test(findings_optout_with_one_channel_allowed),
        cmocka_unit_test(findings_optout_near_misses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
