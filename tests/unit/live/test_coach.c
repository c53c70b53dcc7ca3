/* test_coach.c - the live coach (sdra/live.h) fed calls utterance by utterance, as the live
 * endpoint does: each alert kind fires once where it should and not where it should not, alerts
 * come in call-time order, the running metrics end where the post-call analysis' talk metrics
 * are, the live objections agree with the post-call ones on the labelled dialogues, and the
 * cost of one update does not grow with the length of the call. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sdra/analyze.h"
#include "sdra/live.h"
#include "sdra/util.h"

/* ---- helpers ------------------------------------------------------------------------------- */

typedef struct events {
    json_t *alerts;  /* every alert, copied */
    json_t *metrics; /* the last metrics event */
    int n_metrics;
} events;

static void on_event(void *user, const char *event, json_t *data)
{
    events *ev = user;
    if (!strcmp(event, "alert")) {
        json_array_append_new(ev->alerts, json_deep_copy(data));
    } else {
        assert_string_equal(event, "metrics");
        json_decref(ev->metrics);
        ev->metrics = json_deep_copy(data);
        ev->n_metrics++;
    }
}

static void events_init(events *ev) { *ev = (events){json_array(), NULL, 0}; }
static void events_release(events *ev)
{
    json_decref(ev->alerts);
    json_decref(ev->metrics);
}

static const char *jstr(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* Alerts of one kind (and type, when given). */
static int count(const events *ev, const char *kind, const char *type)
{
    int n = 0;
    size_t i;
    json_t *a;
    json_array_foreach(ev->alerts, i, a)
        if (!strcmp(jstr(a, "kind"), kind) && (!type || (jstr(a, "type") && !strcmp(jstr(a, "type"), type))))
            n++;
    return n;
}

static const json_t *first(const events *ev, const char *kind)
{
    size_t i;
    json_t *a;
    json_array_foreach(ev->alerts, i, a)
        if (!strcmp(jstr(a, "kind"), kind))
            return a;
    return NULL;
}

static sdra_transcript *new_call(void)
{
    sdra_transcript *t = sdra_transcript_create();
    assert_int_equal(sdra_transcript_add_speaker(t, "S1", SDRA_ROLE_REP, 1), 0);
    assert_int_equal(sdra_transcript_add_speaker(t, "S2", SDRA_ROLE_PROSPECT, 0), 1);
    return t;
}

static sdra_coach *coach(const sdra_coach_params *p)
{
    sdra_coach_params q = p ? *p : sdra_coach_default_params();
    sdra_analyze_params ap = sdra_analyze_default_params();
    ap.call_date = "2026-11-24";
    q.analyze = &ap;
    sdra_coach *c = NULL;
    sdra_error err = {0};
    if (sdra_coach_create(&c, &q, &err) < 0)
        fail_msg("coach: %s", err.msg);
    return c;
}

/* One utterance: 'R' or 'P', start, end (no words: its talk time is its span). */
typedef struct line {
    char who;
    double start, end;
    const char *text;
} line;

/* Appends l to t and updates c; ticks once a second of call time from the previous line's
 * start up to this one's (when tick). */
static void say(sdra_coach *c, sdra_transcript *t, const line *l, double *clock, bool tick, events *ev)
{
    sdra_error err = {0};
    for (; tick && *clock + 1 <= l->start; *clock += 1)
        assert_int_equal(sdra_coach_tick(c, t, *clock + 1, on_event, ev, &err), 0);
    assert_non_null(sdra_transcript_add_utterance(t, l->who == 'R' ? 0 : 1, l->start, l->end, l->text));
    if (sdra_coach_update(c, t, on_event, ev, &err) < 0)
        fail_msg("update: %s", err.msg);
}

static void play(sdra_coach *c, sdra_transcript *t, const line *lines, size_t n, bool tick, double until,
                 events *ev)
{
    double clock = 0;
    sdra_error err = {0};
    for (size_t i = 0; i < n; i++)
        say(c, t, &lines[i], &clock, tick, ev);
    for (; tick && clock + 1 <= until; clock += 1)
        assert_int_equal(sdra_coach_tick(c, t, clock + 1, on_event, ev, &err), 0);
}

/* A call in progress: its transcript, its coach and what the coach said. */
typedef struct session {
    sdra_transcript *t;
    sdra_coach *c;
    events ev;
} session;

static void session_start(session *s, const sdra_coach_params *p)
{
    s->t = new_call();
    s->c = coach(p);
    events_init(&s->ev);
}

static void session_end(session *s)
{
    events_release(&s->ev);
    sdra_coach_destroy(s->c);
    sdra_transcript_destroy(s->t);
}

/* ---- each kind once ---------------------------------------------------------------------- */

static void coach_objection_once_with_battlecard(void **state)
{
    (void)state;
    static const line call[] = {
        {'R', 0, 4, "Hi, this is Alex from Brightwave. Our platform is not expensive at all."},
        {'P', 5, 9, "Honestly, that is way too expensive for us. We do not have the budget this year."},
        {'R', 10, 14, "I understand. Most teams see it pay for itself in six months."},
        {'P', 15, 18, "Maybe. We will see."},
    };
    session s;
    session_start(&s, NULL);
    play(s.c, s.t, call, 4, false, 0, &s.ev);
    /* the rep's "expensive" is no objection; the prospect's is, once, with the pricing card */
    assert_int_equal(count(&s.ev, "objection", NULL), 1);
    const json_t *a = first(&s.ev, "objection");
    assert_string_equal(jstr(a, "type"), "price");
    assert_int_equal(json_integer_value(json_object_get(a, "utterance")), 1);
    assert_true(fabs(json_number_value(json_object_get(a, "at")) - 5.0) < 1e-9);
    const json_t *card = json_object_get(a, "battlecard");
    assert_string_equal(jstr(card, "label"), "pricing");
    assert_non_null(jstr(card, "point"));
    assert_non_null(strstr(jstr(card, "point"), "budget")); /* the entry matching what was said */
    assert_int_equal(sdra_coach_alert_count_kind(s.c, "objection"), 1);
    assert_int_equal(s.ev.n_metrics, 4);
    /* an update with nothing new says nothing */
    sdra_error err = {0};
    assert_int_equal(sdra_coach_update(s.c, s.t, on_event, &s.ev, &err), 0);
    assert_int_equal(json_array_size(s.ev.alerts), 1);
    session_end(&s);
}

static void coach_scheduling_is_not_no_time(void **state)
{
    (void)state;
    static const line call[] = {
        {'R', 0, 4, "Could we set up a demo next week?"},
        {'P', 5, 9, "I'm busy on Tuesday, but Wednesday at 2 works for me."},
        {'R', 10, 13, "Great, Wednesday at 2 it is."},
        {'P', 14, 17, "I'm in meetings all day Thursday, so Wednesday is better anyway."},
        {'P', 18, 21, "Sorry, I'm really busy right now, can you call me back later?"},
    };
    session s;
    session_start(&s, NULL);
    play(s.c, s.t, call, 5, false, 0, &s.ev);
    /* only the last remark is a no_time objection */
    assert_int_equal(count(&s.ev, "objection", "no_time"), 1);
    assert_int_equal(json_integer_value(json_object_get(first(&s.ev, "objection"), "utterance")), 4);
    session_end(&s);
}

static void coach_do_not_call(void **state)
{
    (void)state;
    static const line call[] = {
        {'R', 0, 4, "We never call after six, promise."},
        {'P', 5, 9, "Please take me off your call list and do not call this number again."},
        {'R', 10, 12, "Understood, I will remove you."},
        {'P', 13, 16, "Thanks. Also, it costs too much anyway."},
    };
    session s;
    session_start(&s, NULL);
    play(s.c, s.t, call, 4, false, 0, &s.ev);
    assert_int_equal(count(&s.ev, "do_not_call", NULL), 1);
    const json_t *a = first(&s.ev, "do_not_call");
    assert_int_equal(json_integer_value(json_object_get(a, "utterance")), 1);
    assert_non_null(strstr(jstr(a, "text"), "call list"));
    /* after the request, no battlecard proposes a call */
    const json_t *ob = first(&s.ev, "objection");
    if (ob && jstr(json_object_get(ob, "battlecard"), "point"))
        assert_null(strstr(jstr(json_object_get(ob, "battlecard"), "point"), "call"));
    session_end(&s);
}

static void coach_monologue(void **state)
{
    (void)state;
    static const line call[] = {
        {'R', 0, 30, "Let me walk you through the platform and what it does for teams like yours."},
        {'R', 31, 60, "First the dashboard, which shows every open deal at a glance."},
        {'R', 61, 85, "Then the reports, which your managers get every Monday morning."},
        {'R', 86, 100, "And finally the integrations with the tools you already use."},
        {'R', 101, 110, "There is a lot more, of course."},
        {'P', 111, 114, "Okay, that sounds useful."},
        {'R', 115, 170, "Good. The onboarding takes two weeks and we do most of the work for you."},
        {'P', 171, 174, "Fine."},
        {'P', 175, 290, "We had a long project last year that took forever and nobody was happy with it at all."},
    };
    session s;
    session_start(&s, NULL);
    play(s.c, s.t, call, 9, false, 0, &s.ev);
    /* the first run passes 90 s at its 4th utterance; the 55 s run does not; the prospect's
       long turn is no rep monologue */
    assert_int_equal(count(&s.ev, "monologue", NULL), 1);
    const json_t *a = first(&s.ev, "monologue");
    assert_int_equal(json_integer_value(json_object_get(a, "utterance")), 3);
    assert_string_equal(jstr(a, "speaker"), "S1");
    assert_true(json_number_value(json_object_get(a, "seconds")) > 90);
    session_end(&s);
}

static void coach_talk_ratio_rearms(void **state)
{
    (void)state;
    sdra_coach_params p = sdra_coach_default_params();
    p.monologue_s = 0; /* off: only the ratio here */
    static const line call[] = {
        {'R', 0, 60, "Let me tell you about us."},        /* 60 rep, 0 prospect: not judged yet */
        {'P', 61, 71, "Sure."},                           /* 70 s heard */
        {'R', 72, 132, "So here is what we do for you."}, /* 130 s heard, rep 120: 0.92 out */
        {'R', 133, 150, "And more."},                     /* still out: no second alert */
        {'P', 151, 291, "Well, let me tell you about our setup."}, /* rep 137 / 287: 0.48 in */
        {'R', 292, 592, "Then let me go through it all in detail."}, /* rep 437 / 587: 0.74 out */
    };
    session s;
    session_start(&s, &p);
    play(s.c, s.t, call, 6, false, 0, &s.ev);
    assert_int_equal(count(&s.ev, "talk_ratio", NULL), 2);
    const json_t *a = first(&s.ev, "talk_ratio");
    assert_int_equal(json_integer_value(json_object_get(a, "utterance")), 2);
    assert_true(json_number_value(json_object_get(a, "rep_share")) > 0.9);
    assert_true(fabs(json_number_value(json_object_get(a, "high")) - 0.70) < 1e-9);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(s.ev.alerts, 1), "utterance")), 5);
    session_end(&s);
}

static void coach_silence_once_per_gap(void **state)
{
    (void)state;
    session s;
    session_start(&s, NULL);
    sdra_error err = {0};
    static const line a = {'R', 0, 10, "Hello, can you hear me?"}, b = {'P', 31, 33, "Yes, sorry."};
    double clock = 0;
    say(s.c, s.t, &a, &clock, true, &s.ev);
    for (double now = 11; now <= 30; now += 1) /* 15 s after 10: once, at 25 */
        assert_int_equal(sdra_coach_tick(s.c, s.t, now, on_event, &s.ev, &err), 0);
    assert_int_equal(count(&s.ev, "silence", NULL), 1);
    const json_t *sil = first(&s.ev, "silence");
    assert_true(fabs(json_number_value(json_object_get(sil, "at")) - 25) < 1e-9);
    assert_null(json_object_get(sil, "utterance"));
    clock = 30;
    say(s.c, s.t, &b, &clock, true, &s.ev);
    for (double now = 34; now <= 47; now += 1) /* 14 s: nothing */
        assert_int_equal(sdra_coach_tick(s.c, s.t, now, on_event, &s.ev, &err), 0);
    assert_int_equal(count(&s.ev, "silence", NULL), 1);
    assert_int_equal(sdra_coach_tick(s.c, s.t, 48, on_event, &s.ev, &err), 0);
    assert_int_equal(sdra_coach_tick(s.c, s.t, 40, on_event, &s.ev, &err), 0); /* a clock going back: ignored */
    assert_int_equal(count(&s.ev, "silence", NULL), 2);
    session_end(&s);
}

static void coach_unanswered_question(void **state)
{
    (void)state;
    /* asked at 5-8; the rep answers: nothing, however long the call goes on */
    static const line answered[] = {
        {'R', 0, 4, "Thanks for taking the time today."},
        {'P', 5, 8, "Does it integrate with Salesforce?"},
        {'R', 9, 14, "Yes, it syncs contacts and activities both ways."},
        {'P', 15, 17, "Good."},
    };
    /* asked at 5-8; the rep asks back and never answers: one alert at 8 + 30 */
    static const line ignored[] = {
        {'R', 0, 4, "Thanks for taking the time today."},
        {'P', 5, 8, "How long does the onboarding take?"},
        {'R', 9, 12, "What CRM do you use today?"},
        {'P', 13, 15, "HubSpot."},
        {'P', 16, 30, "We have used it for about three years now."},
    };
    for (int k = 0; k < 2; k++) {
        session s;
        session_start(&s, NULL);
        play(s.c, s.t, k ? ignored : answered, k ? 5 : 4, true, 80, &s.ev);
        assert_int_equal(count(&s.ev, "unanswered_question", NULL), k ? 1 : 0);
        if (k) {
            const json_t *a = first(&s.ev, "unanswered_question");
            assert_int_equal(json_integer_value(json_object_get(a, "utterance")), 1);
            assert_true(fabs(json_number_value(json_object_get(a, "at")) - 38) < 1e-9);
            assert_non_null(strstr(jstr(a, "text"), "onboarding"));
        }
        session_end(&s);
    }
    /* without ticks the next utterance's start moves the clock: the same alert, at 38 */
    session s;
    session_start(&s, NULL);
    static const line late[] = {
        {'P', 5, 8, "How long does the onboarding take?"},
        {'R', 40, 45, "About two weeks, and we do most of the work."},
    };
    play(s.c, s.t, late, 2, false, 0, &s.ev);
    assert_int_equal(count(&s.ev, "unanswered_question", NULL), 1);
    assert_true(fabs(json_number_value(json_object_get(first(&s.ev, "unanswered_question"), "at")) - 38) < 1e-9);
    session_end(&s);
}

/* ---- a whole call: order and metrics against the post-call analysis ------------------------ */

static sdra_transcript *load(const char *rel, const char *rep)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/../tests/%s", sdra_share_dir(), rel);
    sdra_transcript *t = NULL;
    sdra_error err = {0};
    if (sdra_transcript_load(&t, path, rep, &err) < 0)
        fail_msg("%s: %s", path, err.msg);
    return t;
}

/* Feeds full's utterances one by one into a new transcript, ticking every second; returns the
 * grown transcript. */
static sdra_transcript *replay(sdra_coach *c, const sdra_transcript *full, events *ev)
{
    sdra_transcript *t = sdra_transcript_create();
    for (size_t s = 0; s < full->n_speakers; s++) {
        assert_true(sdra_transcript_add_speaker(t, full->speakers[s].id, full->speakers[s].role, -1) >= 0);
        if (full->speakers[s].name)
            t->speakers[s].name = strdup(full->speakers[s].name);
    }
    sdra_error err = {0};
    double clock = 0;
    for (size_t i = 0; i < full->n_utts; i++) {
        const sdra_utterance *u = &full->utts[i];
        for (; clock + 1 <= u->start; clock += 1)
            assert_int_equal(sdra_coach_tick(c, t, clock + 1, on_event, ev, &err), 0);
        sdra_utterance *v = sdra_transcript_add_utterance(t, u->speaker, u->start, u->end, u->text);
        assert_non_null(v);
        for (size_t w = 0; w < u->n_words; w++)
            assert_int_equal(sdra_utterance_add_word(v, u->words[w].w, u->words[w].start, u->words[w].end,
                                                     u->words[w].conf), 0);
        if (sdra_coach_update(c, t, on_event, ev, &err) < 0)
            fail_msg("update: %s", err.msg);
    }
    return t;
}

static double num(const json_t *o, const char *a, const char *b)
{
    const json_t *x = json_object_get(o, a);
    return json_number_value(b ? json_object_get(x, b) : x);
}

static void coach_whole_call_order_and_metrics(void **state)
{
    (void)state;
    static const char *const calls[][2] = {{"fixtures/dialogues/discovery.txt", "rep"},
                                           {"fixtures/dialogues/pricing.txt", "rep"},
                                           {"fixtures/dialogues/optout.txt", "rep"},
                                           {"analysis/03-pricing-negotiation.txt", "Dana"}};
    for (size_t k = 0; k < sizeof calls / sizeof calls[0]; k++) {
        sdra_transcript *full = load(calls[k][0], calls[k][1]);
        sdra_coach_params p = sdra_coach_default_params();
        p.min_talk_s = 20; /* short calls: judge the ratio early enough to see it */
        p.silence_s = 5;
        sdra_coach *c = coach(&p);
        events ev;
        events_init(&ev);
        sdra_transcript *t = replay(c, full, &ev);
        /* alerts in call-time order */
        double prev = -1;
        size_t i;
        json_t *a;
        json_array_foreach(ev.alerts, i, a) {
            double at = json_number_value(json_object_get(a, "at"));
            if (at < prev)
                fail_msg("%s: alert %zu (%s) at %.3f comes after one at %.3f", calls[k][0], i, jstr(a, "kind"),
                         at, prev);
            prev = at;
        }
        /* the running metrics end where the post-call analysis is */
        json_t *doc = NULL;
        sdra_analyze_params ap = sdra_analyze_default_params();
        ap.call_date = "2026-11-24";
        sdra_error err = {0};
        assert_int_equal(sdra_analyze(&doc, t, &ap, &err), 0);
        const json_t *m = json_object_get(doc, "metrics"), *s = json_object_get(doc, "sentiment");
        assert_non_null(ev.metrics);
        assert_int_equal(json_integer_value(json_object_get(ev.metrics, "utterances")), (json_int_t)t->n_utts);
        assert_true(fabs(num(ev.metrics, "talk_ratio", "rep") - num(m, "talk_ratio", "rep")) < 0.0015);
        assert_true(fabs(num(ev.metrics, "talk_ratio", "prospect") - num(m, "talk_ratio", "prospect")) < 0.0015);
        assert_true(fabs(num(ev.metrics, "sentiment", "prospect") - num(s, "overall", NULL)) < 0.002);
        assert_true(fabs(num(ev.metrics, "sentiment", "rep") - num(s, "rep_overall", NULL)) < 0.002);
        /* the live objections are the post-call ones */
        size_t n_post = json_array_size(json_object_get(doc, "objections"));
        assert_int_equal(count(&ev, "objection", NULL), (int)n_post);
        json_array_foreach(json_object_get(doc, "objections"), i, a) {
            const json_t *b = NULL;
            size_t j;
            json_t *x;
            json_array_foreach(ev.alerts, j, x)
                if (!strcmp(jstr(x, "kind"), "objection") && !strcmp(jstr(x, "type"), jstr(a, "type")) &&
                    json_integer_value(json_object_get(x, "utterance")) == json_integer_value(json_object_get(a, "i")))
                    b = x;
            if (!b)
                fail_msg("%s: post-call objection %s at utterance %lld has no live alert", calls[k][0],
                         jstr(a, "type"), (long long)json_integer_value(json_object_get(a, "i")));
        }
        /* and the do-not-call request of the opt-out call */
        bool dnc = json_is_true(json_object_get(json_object_get(doc, "contact_preferences"), "do_not_call"));
        assert_int_equal(count(&ev, "do_not_call", NULL) > 0, dnc);
        json_decref(doc);
        events_release(&ev);
        sdra_coach_destroy(c);
        sdra_transcript_destroy(t);
        sdra_transcript_destroy(full);
    }
}

/* ---- out of order, parameters ------------------------------------------------------------ */

static void coach_out_of_order_append(void **state)
{
    (void)state;
    /* the prospect's utterance finishes decoding after the rep's later one: sorted in before it */
    session s;
    session_start(&s, NULL);
    sdra_error err = {0};
    assert_non_null(sdra_transcript_add_utterance(s.t, 0, 0, 3, "Hi, this is Alex."));
    assert_int_equal(sdra_coach_update(s.c, s.t, on_event, &s.ev, &err), 0);
    assert_non_null(sdra_transcript_add_utterance(s.t, 0, 10, 12, "So, shall we go on?"));
    assert_int_equal(sdra_coach_update(s.c, s.t, on_event, &s.ev, &err), 0);
    assert_non_null(sdra_transcript_add_utterance(s.t, 1, 4, 9, "It is far too expensive for us."));
    sdra_transcript_sort(s.t);
    assert_int_equal(sdra_coach_update(s.c, s.t, on_event, &s.ev, &err), 0);
    assert_int_equal(count(&s.ev, "objection", "price"), 1);
    assert_int_equal(json_integer_value(json_object_get(first(&s.ev, "objection"), "utterance")), 1);
    assert_int_equal(sdra_coach_update(s.c, s.t, on_event, &s.ev, &err), 0);
    assert_int_equal(count(&s.ev, "objection", NULL), 1);
    session_end(&s);
}

static void coach_params(void **state)
{
    (void)state;
    sdra_coach_params p = sdra_coach_default_params();
    assert_true(p.monologue_s == 90 && p.talk_ratio_low == 0.25 && p.talk_ratio_high == 0.70 &&
                p.min_talk_s == 120 && p.silence_s == 15 && p.unanswered_s == 30);
    sdra_error err = {0};
    assert_int_equal(sdra_coach_params_set(&p, "silence-s", "20", &err), 0);
    assert_int_equal(sdra_coach_params_set(&p, "talk_ratio_high", "0.8", &err), 0);
    assert_true(p.silence_s == 20 && p.talk_ratio_high == 0.8);
    assert_int_equal(sdra_coach_params_set(&p, "silence", "20", &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_coach_params_set(&p, "silence-s", "-1", &err), SDRA_EINVAL);
    assert_int_equal(sdra_coach_params_set(&p, "silence-s", "ten", &err), SDRA_EINVAL);
    assert_int_equal(sdra_coach_params_set(&p, "silence-s", "nan", &err), SDRA_EINVAL);
    assert_int_equal(sdra_coach_params_set(&p, "talk-ratio-low", "0.9", &err), SDRA_EINVAL); /* above high */
    assert_non_null(strstr(err.msg, "talk-ratio-low"));
    assert_true(p.silence_s == 20 && p.talk_ratio_low == 0.25); /* unchanged by the failures */
    sdra_coach *c = NULL;
    p.monologue_s = -5;
    assert_int_equal(sdra_coach_create(&c, &p, &err), SDRA_EINVAL);
    assert_null(c);
    p = sdra_coach_default_params();
    p.talking_points_dir = "/nonexistent/talking_points";
    assert_int_equal(sdra_coach_create(&c, &p, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_coach_create(&c, NULL, &err), 0);
    /* a transcript that lost utterances is refused */
    sdra_transcript *t = new_call();
    assert_non_null(sdra_transcript_add_utterance(t, 0, 0, 1, "Hello."));
    assert_int_equal(sdra_coach_update(c, t, NULL, NULL, &err), 0);
    t->n_utts = 0;
    assert_int_equal(sdra_coach_update(c, t, NULL, NULL, &err), SDRA_EINVAL);
    t->n_utts = 1;
    assert_int_equal(sdra_coach_tick(c, t, NAN, NULL, NULL, &err), SDRA_EINVAL);
    sdra_coach_destroy(c);
    sdra_coach_destroy(NULL);
    sdra_transcript_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(coach_objection_once_with_battlecard),
        cmocka_unit_test(coach_scheduling_is_not_no_time),
        cmocka_unit_test(coach_do_not_call),
        cmocka_unit_test(coach_monologue),
        cmocka_unit_test(coach_talk_ratio_rearms),
        cmocka_unit_test(coach_silence_once_per_gap),
        cmocka_unit_test(coach_unanswered_question),
        cmocka_unit_test(coach_whole_call_order_and_metrics),
        cmocka_unit_test(coach_out_of_order_append),
        cmocka_unit_test(coach_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
