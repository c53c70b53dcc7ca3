/* test_compose.c - sdra_compose() as a whole: personalisation reaches the text, opt-out rules
 * (do_not_email -> no message, do_not_call -> no invite and no call proposal), default meeting
 * hours, determinism, partial and malformed analyses, bad styles and templates. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compose/internal.h"
#include "sdra/compose.h"
#include "sdra/util.h"

static char g_golden[4096];

static json_t *load_analysis(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/analysis.json", g_golden);
    json_t *a = NULL;
    sdra_error err = {0};
    if (sdra_json_load_file(&a, path, 1 << 20, &err) < 0)
        fail_msg("%s", err.msg);
    return a;
}

static void load_call(sdra_call_info *c)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/call.json", g_golden);
    json_t *d = NULL;
    sdra_error err = {0};
    memset(c, 0, sizeof *c);
    assert_int_equal(sdra_json_load_file(&d, path, 1 << 20, &err), 0);
    assert_int_equal(sdra_call_info_from_json(c, d, &err), 0);
    json_decref(d);
}

static sdra_compose_params params(void)
{
    sdra_compose_params p = sdra_compose_default_params();
    p.now_s = 1795532400;
    return p;
}

/* The analysis a composed in the friendly style, without a transcript; the compose must pass. */
static sdra_email *compose_friendly(const json_t *a)
{
    sdra_compose_params p = params();
    p.style = "friendly";
    sdra_email *e = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_compose(&e, a, NULL, NULL, &p, &err), 0);
    return e;
}

static const char *text_of(const sdra_email *e)
{
    return json_string_value(json_object_get(sdra_email_doc(e), "text"));
}

static void compose_personalises_text(void **state)
{
    (void)state;
    json_t *a = load_analysis();
    sdra_call_info call;
    load_call(&call);
    sdra_compose_params p = params();
    const char *styles[] = {"formal", "friendly", "concise", "consultative"};
    for (int i = 0; i < 4; i++) {
        p.style = styles[i];
        sdra_email *e = NULL;
        sdra_error err = {0};
        if (sdra_compose(&e, a, NULL, &call, &p, &err) < 0)
            fail_msg("%s: %s", styles[i], err.msg);
        const char *t = text_of(e);
        assert_non_null(strstr(t, "Jordan"));
        assert_non_null(strstr(t, "two hours a day typing call notes"));
        /* the built-in talking points coach the rep; they promise the prospect nothing */
        assert_null(strstr(t, "ROI"));
        assert_null(strstr(t, "one-page summary"));
        assert_null(strstr(t, "I'll follow up with details"));
        const json_t *coach = json_object_get(sdra_email_doc(e), "coaching");
        assert_int_equal(json_array_size(coach), 3);
        assert_non_null(strstr(json_string_value(json_object_get(json_array_get(coach, 0), "point")),
                               "ROI"));
        /* the rep's own promise about SOC 2 is there */
        assert_non_null(strstr(t, "Send our SOC 2 report"));
        assert_non_null(strstr(t, "Send the case study"));
        assert_non_null(strstr(t, "Thursday, November 26"));
        assert_non_null(strcasestr(t, "share the pricing proposal"));
        assert_non_null(strstr(t, "Monday, November 30"));
        assert_non_null(strstr(t, "Tuesday, December 1 at 2:00 PM"));
        assert_non_null(sdra_email_ics(e));
        assert_non_null(sdra_email_eml(e));
        assert_null(sdra_email_skipped(e));
        assert_true(json_is_null(json_object_get(sdra_email_doc(e), "skipped")));
        const json_t *att = json_object_get(sdra_email_doc(e), "attachments");
        assert_int_equal(json_array_size(att), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(att, 0), "name")),
                            "invite.ics");
        /* the HTML part escapes what people said */
        const char *html = json_string_value(json_object_get(sdra_email_doc(e), "html"));
        assert_non_null(strstr(html, "I&#39;d need our VP"));
        sdra_email_destroy(e);
    }
    sdra_call_info_release(&call);
    json_decref(a);
}

static void compose_do_not_email_skips(void **state)
{
    (void)state;
    json_t *a = load_analysis();
    json_object_set_new(json_object_get(a, "contact_preferences"), "do_not_email", json_true());
    sdra_call_info call;
    load_call(&call);
    sdra_compose_params p = params();
    sdra_email *e = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_compose(&e, a, NULL, &call, &p, &err), 0);
    assert_null(sdra_email_eml(e));
    assert_null(sdra_email_ics(e));
    assert_string_equal(sdra_email_skipped(e), "contact asked not to be emailed");
    assert_string_equal(json_string_value(json_object_get(sdra_email_doc(e), "skipped")),
                        "contact asked not to be emailed");
    assert_true(json_is_null(json_object_get(sdra_email_doc(e), "text")));

    /* writing the package: email.json only, stale files from an earlier run removed */
    char dir[4096];
    const char *tmp = getenv("SDRA_TEST_TMP");
    snprintf(dir, sizeof dir, "%s/compose-skip-%d", tmp ? tmp : "/tmp", (int)getpid());
    assert_int_equal(sdra_mkdir_p(dir, &err), 0);
    char eml[4200], ics[4200], js[4200];
    snprintf(eml, sizeof eml, "%s/email.eml", dir);
    snprintf(ics, sizeof ics, "%s/invite.ics", dir);
    snprintf(js, sizeof js, "%s/email.json", dir);
    assert_int_equal(sdra_file_write_atomic(eml, "old", 3, &err), 0);
    assert_int_equal(sdra_file_write_atomic(ics, "old", 3, &err), 0);
    assert_int_equal(sdra_email_write_dir(e, dir, &err), 0);
    struct stat st;
    assert_int_not_equal(stat(eml, &st), 0);
    assert_int_not_equal(stat(ics, &st), 0);
    assert_int_equal(stat(js, &st), 0);
    unlink(js);
    rmdir(dir);
    sdra_email_destroy(e);
    sdra_call_info_release(&call);
    json_decref(a);
}

static void compose_do_not_call_proposes_no_call(void **state)
{
    (void)state;
    json_t *a = load_analysis();
    json_object_set_new(json_object_get(a, "contact_preferences"), "do_not_call", json_true());
    json_array_append_new(json_object_get(a, "action_items"),
                          json_pack("{s:s,s:s,s:s}", "owner", "rep", "text",
                                    "schedule a demo call with the team", "due", "2026-11-28"));
    json_array_append_new(json_object_get(a, "objections"),
                          json_pack("{s:s,s:s}", "type", "no_time", "text",
                                    "I have no time for a call or a demo"));
    sdra_call_info call;
    load_call(&call);
    sdra_compose_params p = params();
    const char *styles[] = {"formal", "friendly", "concise", "consultative"};
    for (int i = 0; i < 4; i++) {
        p.style = styles[i];
        sdra_email *e = NULL;
        sdra_error err = {0};
        assert_int_equal(sdra_compose(&e, a, NULL, &call, &p, &err), 0);
        assert_null(sdra_email_ics(e));
        assert_non_null(sdra_email_eml(e));
        assert_null(strstr(sdra_email_eml(e), "text/calendar"));
        const char *t = text_of(e);
        assert_null(strcasestr(t, "schedule a demo")); /* the action item proposing a call */
        /* the no_time talking point is coaching for the rep, not a line of the email */
        assert_null(strstr(t, "everything you need is in this email"));
        assert_null(strcasestr(t, " call?"));
        assert_null(strstr(t, "December 1"));
        assert_null(strstr(t, "15-minute"));
        assert_null(strstr(t, "20 minutes"));
        assert_null(strstr(t, "working session"));
        /* the other personalisation is still there */
        assert_non_null(strstr(t, "Send the case study"));
        assert_int_equal(json_array_size(json_object_get(sdra_email_doc(e), "attachments")), 0);
        assert_true(json_is_null(json_object_get(sdra_email_doc(e), "meeting")));
        sdra_email_destroy(e);
    }
    sdra_call_info_release(&call);
    json_decref(a);
}

static void compose_default_meeting_hour(void **state)
{
    (void)state;
    json_t *a = load_analysis();
    json_t *nm = json_object_get(a, "next_meeting");
    json_object_set_new(nm, "time", json_null());
    json_object_set_new(nm, "part_of_day", json_string("morning"));
    sdra_compose_params p = params();
    sdra_email *e = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_compose(&e, a, NULL, NULL, &p, &err), 0);
    assert_non_null(strstr(sdra_email_ics(e), "DTSTART:20261201T100000\r\n"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(sdra_email_doc(e), "meeting"),
                                                          "time_source")),
                        "default_for_part_of_day");
    sdra_email_destroy(e);
    json_object_set_new(nm, "part_of_day", json_string("afternoon"));
    assert_int_equal(sdra_compose(&e, a, NULL, NULL, &p, &err), 0);
    assert_non_null(strstr(sdra_email_ics(e), "DTSTART:20261201T140000\r\n"));
    sdra_email_destroy(e);
    /* no usable date: no invite */
    json_object_set_new(nm, "date", json_string("next week"));
    assert_int_equal(sdra_compose(&e, a, NULL, NULL, &p, &err), 0);
    assert_null(sdra_email_ics(e));
    sdra_email_destroy(e);
    json_object_set_new(a, "next_meeting", json_null());
    assert_int_equal(sdra_compose(&e, a, NULL, NULL, &p, &err), 0);
    assert_null(sdra_email_ics(e));
    sdra_email_destroy(e);
    json_decref(a);
}

static void compose_quotes_the_relevant_words(void **state)
{
    (void)state;
    json_t *a = json_loads(
        "{\"schema\":\"sdra.analysis/1\","
        "\"objections\":[{\"type\":\"price\",\"match\":\"expensive\","
        "\"text\":\"New hires are slow. Honestly, it sounds expensive for us! Anyway.\"}],"
        "\"pain_points\":[{\"text\":\"our reps spend two hours on notes, and it's\"},"
        "{\"text\":\"we lose deals, mostly big ones\"}]}",
        0, NULL);
    assert_non_null(a);
    sdra_email *e = compose_friendly(a);
    const char *t = text_of(e);
    assert_non_null(strstr(t, "(you said \"Honestly, it sounds expensive for us\")"));
    assert_null(strstr(t, "New hires are slow"));
    assert_non_null(strstr(t, "- \"our reps spend two hours on notes\"\n"));
    /* a real last clause (no conjunction) is kept */
    assert_non_null(strstr(t, "we lose deals, mostly big ones"));
    sdra_email_destroy(e);
    json_decref(a);
}

static void compose_cleans_action_items(void **state)
{
    (void)state;
    json_t *a = json_loads(
        "{\"schema\":\"sdra.analysis/1\","
        "\"next_meeting\":{\"date\":\"2026-12-02\",\"time\":\"10:00\"},"
        "\"action_items\":["
        "{\"owner\":\"rep\",\"text\":\"send you our security report\"},"
        "{\"owner\":\"rep\",\"text\":\"send the security report this week\",\"due\":\"2026-11-27\"},"
        "{\"owner\":\"rep\",\"text\":\"send it\",\"due\":\"2026-11-25\"},"
        "{\"owner\":\"rep\",\"text\":\"send a calendar invite\",\"due\":\"2026-11-24\"},"
        "{\"owner\":\"rep\",\"text\":\"send the case study\"},"
        "{\"owner\":\"rep\",\"text\":\"send the case study and the pricing sheet\",\"due\":\"2026-11-26\"},"
        "{\"owner\":\"prospect\",\"text\":\"check the calendar invite\"}]}",
        0, NULL);
    assert_non_null(a);
    sdra_email *e = compose_friendly(a);
    const char *t = text_of(e);
    /* duplicates merge, keeping the date; the more specific item wins */
    assert_non_null(strstr(t, "- Send you our security report (by Friday, November 27)\n"));
    assert_null(strstr(t, "this week"));
    assert_non_null(strstr(t, "- Send the case study and the pricing sheet (by Thursday, November 26)\n"));
    assert_null(strstr(t, "- Send the case study\n"));
    /* vague items and promises this email fulfils are left out */
    assert_null(strstr(t, "Send it"));
    assert_null(strstr(t, "Send a calendar invite"));
    /* the prospect's own items are not "fulfilled" by our invite */
    assert_non_null(strstr(t, "You'll check the calendar invite"));
    sdra_email_destroy(e);
    /* without an invite, sending one is a real promise */
    json_object_set_new(a, "next_meeting", json_null());
    e = compose_friendly(a);
    assert_non_null(strstr(text_of(e), "Send a calendar invite"));
    sdra_email_destroy(e);
    json_decref(a);
}

/* "I'll send it tonight", answering "send me the usage report": the email says what "it" is,
 * in its own voice, from the request the item carries. */
static void compose_resolves_answered_request(void **state)
{
    (void)state;
    json_t *a = json_loads(
        "{\"schema\":\"sdra.analysis/1\",\"action_items\":["
        "{\"owner\":\"rep\",\"kind\":\"commitment\",\"role\":\"rep\",\"i\":6,\"text\":\"send it tonight\","
        "\"answers\":[{\"i\":5,\"role\":\"prospect\",\"text\":\"send me the usage report for my team\"}]}]}",
        0, NULL);
    assert_non_null(a);
    sdra_email *e = compose_friendly(a);
    const char *t = text_of(e);
    assert_non_null(strstr(t, "- Send the usage report for your team tonight"));
    assert_null(strstr(t, "Send it"));
    sdra_email_destroy(e);
    json_decref(a);
}

static void compose_is_deterministic(void **state)
{
    (void)state;
    json_t *a = load_analysis();
    sdra_call_info call;
    load_call(&call);
    sdra_compose_params p = params();
    sdra_email *e1 = NULL, *e2 = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_compose(&e1, a, NULL, &call, &p, &err), 0);
    assert_int_equal(sdra_compose(&e2, a, NULL, &call, &p, &err), 0);
    assert_string_equal(sdra_email_eml(e1), sdra_email_eml(e2));
    assert_string_equal(sdra_email_ics(e1), sdra_email_ics(e2));
    assert_non_null(strstr(sdra_email_eml(e1), "Message-ID: <sdra.followup.golden-call-0001@acme.example>\r\n"));
    sdra_email_destroy(e2);
    /* a different call id gives a different Message-ID */
    sdra_call_info_set(&call, "id", "other-call", &err);
    assert_int_equal(sdra_compose(&e2, a, NULL, &call, &p, &err), 0);
    assert_non_null(strstr(sdra_email_eml(e2), "<sdra.followup.other-call@acme.example>"));
    sdra_email_destroy(e1);
    sdra_email_destroy(e2);
    /* no call id: derived from the analysis, still stable */
    assert_int_equal(sdra_compose(&e1, a, NULL, NULL, &p, &err), 0);
    assert_int_equal(sdra_compose(&e2, a, NULL, NULL, &p, &err), 0);
    assert_string_equal(sdra_email_eml(e1), sdra_email_eml(e2));
    assert_non_null(strstr(sdra_email_eml(e1), "@sdra.invalid>"));
    sdra_email_destroy(e1);
    sdra_email_destroy(e2);
    sdra_call_info_release(&call);
    json_decref(a);
}

static void compose_partial_and_bad_documents(void **state)
{
    (void)state;
    sdra_compose_params p = params();
    sdra_email *e = NULL;
    sdra_error err = {0};
    /* the minimum: a schema */
    json_t *a = json_pack("{s:s}", "schema", "sdra.analysis/1");
    assert_int_equal(sdra_compose(&e, a, NULL, NULL, &p, &err), 0);
    assert_non_null(strstr(text_of(e), "Hi there"));
    assert_null(sdra_email_ics(e));
    assert_null(strstr(sdra_email_eml(e), "\r\nTo:"));
    sdra_email_destroy(e);
    json_decref(a);
    /* wrong types everywhere: ignored, no crash */
    a = json_loads("{\"schema\":\"sdra.analysis/1\",\"speakers\":3,\"objections\":{\"a\":1},"
                   "\"pain_points\":[1,null,{\"text\":5},{\"text\":\"real one\"}],"
                   "\"action_items\":[{\"text\":\"do the review\",\"due\":\"2026-99-99\"},{}],"
                   "\"next_meeting\":\"soon\",\"contact_preferences\":[],\"topics\":[[]],"
                   "\"objections\":[{\"type\":\"../../etc\"},{\"type\":\"price\"},{\"text\":\"x\"}]}",
                   0, NULL);
    assert_non_null(a);
    assert_int_equal(sdra_compose(&e, a, NULL, NULL, &p, &err), 0);
    assert_non_null(strstr(text_of(e), "real one"));
    assert_non_null(strstr(text_of(e), "Do the review"));
    sdra_email_destroy(e);
    json_decref(a);
    /* wrong schema, not an object */
    a = json_pack("{s:s}", "schema", "sdra.transcript/1");
    assert_int_equal(sdra_compose(&e, a, NULL, NULL, &p, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "schema"));
    assert_null(e);
    json_decref(a);
    a = json_array();
    assert_int_equal(sdra_compose(&e, a, NULL, NULL, &p, &err), SDRA_EINVAL);
    json_decref(a);
    /* unknown style */
    a = json_pack("{s:s}", "schema", "sdra.analysis/1");
    p.style = "sarcastic";
    assert_int_equal(sdra_compose(&e, a, NULL, NULL, &p, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "sarcastic"));
    p.style = NULL;
    json_decref(a);
}

static void compose_user_template_and_errors(void **state)
{
    (void)state;
    const char *tmp = getenv("SDRA_TEST_TMP");
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/compose-tmpl-%d", tmp ? tmp : "/tmp", (int)getpid());
    sdra_error err = {0};
    assert_int_equal(sdra_mkdir_p(dir, &err), 0);
    snprintf(path, sizeof path, "%s/mine.tmpl", dir);
    const char *good = "--- subject ---\nFor {{contact.name}}\n--- text ---\n"
                       "{{#pain_points}}* {{text}}\n{{/pain_points}}";
    assert_int_equal(sdra_file_write_atomic(path, good, strlen(good), &err), 0);
    json_t *a = load_analysis();
    sdra_call_info call;
    load_call(&call);
    sdra_compose_params p = params();
    p.template_path = path;
    sdra_email *e = NULL;
    assert_int_equal(sdra_compose(&e, a, NULL, &call, &p, &err), 0);
    assert_string_equal(json_string_value(json_object_get(sdra_email_doc(e), "subject")),
                        "For Jordan L\xc3\xa9" "e");
    assert_string_equal(text_of(e), "* our reps spend two hours a day typing call notes into the CRM\n"
                                    "* new hires take three months to ramp up\n");
    /* no html part: one is made from the text */
    assert_non_null(strstr(json_string_value(json_object_get(sdra_email_doc(e), "html")),
                           "<p>* our reps"));
    /* non-ASCII subject is RFC 2047 encoded in the message */
    assert_non_null(strstr(sdra_email_eml(e), "Subject: =?UTF-8?B?"));
    sdra_email_destroy(e);

    const char *bad = "--- subject ---\nS\n--- text ---\nline\n{{#pain_points}}\n{{text}}\n";
    assert_int_equal(sdra_file_write_atomic(path, bad, strlen(bad), &err), 0);
    assert_int_equal(sdra_compose(&e, a, NULL, &call, &p, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "mine.tmpl:5: unclosed section 'pain_points'"));
    p.template_path = "/nonexistent/x.tmpl";
    assert_int_equal(sdra_compose(&e, a, NULL, &call, &p, &err), SDRA_ENOTFOUND);
    assert_non_null(strstr(err.msg, "/nonexistent/x.tmpl"));
    /* output limit */
    p.template_path = NULL;
    p.max_output_bytes = 200;
    assert_int_equal(sdra_compose(&e, a, NULL, &call, &p, &err), SDRA_ELIMIT);
    unlink(path);
    rmdir(dir);
    sdra_call_info_release(&call);
    json_decref(a);
}

/* Words heard unclearly (low mean or one guessed word) or a long speech are never quoted back:
 * objections are paraphrased by type, pain points left out. */
static void compose_quotes_only_clear_short_words(void **state)
{
    (void)state;
    json_t *a = json_loads(
        "{\"schema\":\"sdra.analysis/1\","
        "\"objections\":[{\"type\":\"price\",\"text\":\"the budget is tight until March\","
        "\"conf\":0.55,\"conf_min\":0.4},"
        "{\"type\":\"authority\",\"text\":\"my boss decides\",\"conf\":0.95,\"conf_min\":0.9}],"
        "\"pain_points\":[{\"text\":\"we lose deals to net uh\",\"conf\":0.9,\"conf_min\":0.1},"
        "{\"text\":\"one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen twenty twentyone\",\"conf\":0.99},"
        "{\"text\":\"new hires take months\",\"conf\":0.8,\"conf_min\":0.5}]}",
        0, NULL);
    assert_non_null(a);
    sdra_email *e = compose_friendly(a);
    const char *t = text_of(e);
    assert_null(strstr(t, "budget is tight"));
    assert_non_null(strstr(t, "you mentioned that the price is more than you had planned for"));
    assert_non_null(strstr(t, "(you said \"my boss decides\")"));
    assert_null(strstr(t, "net uh"));
    assert_null(strstr(t, "twentyone"));
    assert_non_null(strstr(t, "- \"new hires take months\"\n"));
    sdra_email_destroy(e);
    json_decref(a);
}

/* A rep commitment the analysis missed is taken from the transcript when heard clearly, with
 * its "that" resolved; heard unclearly, it is kept out and the email needs review. */
static void compose_keeps_rep_commitments_from_the_transcript(void **state)
{
    (void)state;
    json_t *a = json_loads("{\"schema\":\"sdra.analysis/1\",\"action_items\":[]}", 0, NULL);
    for (int pass = 0; pass < 2; pass++) {
        sdra_transcript *t = sdra_transcript_create();
        int rep = sdra_transcript_add_speaker(t, "S1", SDRA_ROLE_REP, 0);
        sdra_utterance *u = sdra_transcript_add_utterance(t, rep, 0, 3, NULL);
        const char *w[] = {"of", "course", "i", "will", "bring", "one", "of", "our",
                           "engineers", "to", "answer", "that"};
        for (int i = 0; i < 12; i++)
            sdra_utterance_add_word(u, w[i], i * 0.2, i * 0.2 + 0.2,
                                    pass == 1 && i % 2 ? 0.1f : 0.92f);
        sdra_utterance_join_words(u);
        u = sdra_transcript_add_utterance(t, rep, 4, 5, NULL);
        sdra_utterance_add_word(u, "i", 4, 4.2, 0.9f);
        sdra_utterance_add_word(u, "will", 4.2, 4.4, 0.9f);
        sdra_utterance_add_word(u, "be", 4.4, 4.6, 0.9f);
        sdra_utterance_add_word(u, "honest", 4.6, 4.8, 0.9f);
        sdra_utterance_join_words(u);
        sdra_compose_params p = params();
        p.style = "friendly";
        sdra_email *e = NULL;
        sdra_error err = {0};
        assert_int_equal(sdra_compose(&e, a, t, NULL, &p, &err), 0);
        const char *txt = text_of(e);
        const json_t *doc = sdra_email_doc(e);
        assert_null(strcasestr(txt, "be honest"));
        if (pass == 0) {
            assert_non_null(strstr(txt, "- Bring one of our engineers to answer your questions\n"));
            assert_false(json_is_true(json_object_get(doc, "needs_review")));
        } else {
            assert_null(strcasestr(txt, "engineers"));
            assert_true(json_is_true(json_object_get(doc, "needs_review")));
            assert_non_null(strstr(json_string_value(json_array_get(
                                       json_object_get(doc, "review_reasons"), 0)),
                                   "bring one of our engineers"));
        }
        sdra_email_destroy(e);
        sdra_transcript_destroy(t);
    }
    json_decref(a);
}

/* One voice (the diarizer found a single speaker, or a one-party transcript): who said what is
 * unknown, so neither side's action items go into the email, the email needs review and says
 * why; the rep's task list keeps them, whose unknown. The same analysis with its two speakers
 * lists them. */
static void compose_lists_no_items_for_one_voice(void **state)
{
    (void)state;
    json_t *a = load_analysis();
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) /* only the first speaker: as a mono call found as one voice */
            assert_int_equal(json_array_remove(json_object_get(a, "speakers"), 1), 0);
        sdra_email *e = compose_friendly(a);
        const char *txt = text_of(e);
        const json_t *doc = sdra_email_doc(e);
        const json_t *why = json_object_get(doc, "review_reasons");
        const json_t *pers = json_object_get(doc, "personalization");
        const json_t *tl = json_object_get(doc, "tasks");
        assert_int_equal(json_array_size(tl), 3);
        for (size_t i = 0; i < json_array_size(tl); i++) { /* whose: known with two voices only */
            const char *own = json_string_value(json_object_get(json_array_get(tl, i), "owner"));
            assert_non_null(own);
            if (pass == 0)
                assert_true(!strcmp(own, "rep") || !strcmp(own, "prospect"));
            else
                assert_string_equal(own, "unknown");
        }
        if (pass == 0) {
            assert_non_null(strcasestr(txt, "send the case study"));
            assert_non_null(strcasestr(txt, "share the pricing proposal"));
            for (size_t i = 0; i < json_array_size(why); i++)
                assert_null(strstr(json_string_value(json_array_get(why, i)), "one voice"));
        } else {
            assert_null(strcasestr(txt, "case study"));
            assert_null(strcasestr(txt, "SOC 2"));
            assert_null(strcasestr(txt, "pricing proposal"));
            assert_null(strstr(txt, "You'll"));
            assert_int_equal(json_integer_value(json_object_get(pers, "rep_actions")), 0);
            assert_int_equal(json_integer_value(json_object_get(pers, "prospect_actions")), 0);
            assert_true(json_is_true(json_object_get(doc, "needs_review")));
            const char *r = json_string_value(json_array_get(why, json_array_size(why) - 1));
            assert_non_null(r);
            assert_non_null(strstr(r, "one voice in the recording"));
            assert_non_null(strstr(r, "(3 left out"));
        }
        sdra_email_destroy(e);
    }
    json_decref(a);
}

/* A meeting agreed on no day ("next week works": analysis next_meeting.approximate) gets no
 * invite and no "meeting booked" subject: an invite would name a day nobody said. */
static void compose_sends_no_invite_for_an_approximate_meeting(void **state)
{
    (void)state;
    json_t *a = load_analysis();
    sdra_email *e = compose_friendly(a);
    assert_non_null(sdra_email_ics(e));
    assert_string_equal(json_string_value(json_object_get(sdra_email_doc(e), "outcome")), "meeting_booked");
    sdra_email_destroy(e);
    json_object_set_new(json_object_get(a, "next_meeting"), "approximate", json_true());
    e = compose_friendly(a);
    const json_t *doc = sdra_email_doc(e);
    assert_null(sdra_email_ics(e));
    assert_true(json_is_null(json_object_get(doc, "meeting")));
    assert_int_equal(json_array_size(json_object_get(doc, "attachments")), 0);
    assert_string_not_equal(json_string_value(json_object_get(doc, "outcome")), "meeting_booked");
    assert_null(strstr(text_of(e), "December 1"));
    sdra_email_destroy(e);
    json_decref(a);
}

/* issue 12: with the rep's zone the email names it and the invite carries it; with the
 * contact's zone too, the email adds their local time; an unknown zone is one line. */
static void compose_states_the_time_zone(void **state)
{
    (void)state;
    json_t *a = load_analysis();
    sdra_call_info call;
    load_call(&call);
    sdra_compose_params p = params();
    sdra_error err = {0};
    assert_int_equal(sdra_call_info_set(&call, "timezone", "Europe/Berlin", &err), 0);
    sdra_email *e = NULL;
    if (sdra_compose(&e, a, NULL, &call, &p, &err) < 0)
        fail_msg("%s", err.msg);
    assert_non_null(strstr(text_of(e), "Tuesday, December 1 at 2:00 PM CET"));
    assert_non_null(strstr(sdra_email_ics(e), "DTSTART;TZID=Europe/Berlin:20261201T140000"));
    assert_non_null(strstr(sdra_email_ics(e), "BEGIN:VTIMEZONE"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(sdra_email_doc(e), "meeting"), "timezone")),
                        "Europe/Berlin");
    sdra_email_destroy(e);
    e = NULL;
    assert_int_equal(sdra_call_info_set(&call, "contact_timezone", "America/New_York", &err), 0);
    if (sdra_compose(&e, a, NULL, &call, &p, &err) < 0)
        fail_msg("%s", err.msg);
    assert_non_null(strstr(text_of(e), "2:00 PM CET (8:00 AM EST for you)"));
    sdra_email_destroy(e);
    assert_int_equal(sdra_call_info_set(&call, "timezone", "Europe/Atlantis", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "unknown time zone 'Europe/Atlantis'"));
    sdra_call_info_release(&call);
    json_decref(a);
}

/* In-Reply-To and References name the previous email to the contact; the call's own
 * Message-ID (a re-run) starts no thread; a value that would inject a header is refused. */
static void compose_threads_under_the_previous_email(void **state)
{
    (void)state;
    json_t *a = load_analysis();
    sdra_call_info call;
    load_call(&call);
    sdra_compose_params p = params();
    sdra_email *e = NULL;
    sdra_error err = {0};

    p.in_reply_to = "<sdra.followup.earlier-call@acme.example>";
    if (sdra_compose(&e, a, NULL, &call, &p, &err) < 0)
        fail_msg("%s", err.msg);
    const char *eml = sdra_email_eml(e);
    const char *hdr_end = strstr(eml, "\r\n\r\n");
    const char *irt = strstr(eml, "In-Reply-To: <sdra.followup.earlier-call@acme.example>\r\n"
                                  "References: <sdra.followup.earlier-call@acme.example>\r\n");
    assert_non_null(irt);
    assert_true(irt < hdr_end);
    assert_string_equal(json_string_value(json_object_get(sdra_email_doc(e), "in_reply_to")),
                        "<sdra.followup.earlier-call@acme.example>");
    sdra_email_destroy(e);

    p.references = "<first@acme.example> <sdra.followup.earlier-call@acme.example>";
    assert_int_equal(sdra_compose(&e, a, NULL, &call, &p, &err), 0);
    assert_non_null(strstr(sdra_email_eml(e), "\r\nReferences: <first@acme.example> "
                                              "<sdra.followup.earlier-call@acme.example>\r\n"));
    sdra_email_destroy(e);

    p.references = NULL;
    p.in_reply_to = "<sdra.followup.golden-call-0001@acme.example>"; /* its own: a re-run */
    assert_int_equal(sdra_compose(&e, a, NULL, &call, &p, &err), 0);
    assert_null(strstr(sdra_email_eml(e), "In-Reply-To:"));
    assert_null(json_object_get(sdra_email_doc(e), "in_reply_to"));
    sdra_email_destroy(e);

    const char *bad[] = {"<a@b>\r\nBcc: eve@evil.example", "no-brackets@x", "<>", "<a b@x>", "<nodomain>"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        e = NULL;
        p.in_reply_to = bad[i];
        assert_int_equal(sdra_compose(&e, a, NULL, &call, &p, &err), SDRA_EINVAL);
        assert_null(e);
        assert_non_null(strstr(err.msg, "in-reply-to"));
    }
    p.in_reply_to = "<a@b.example>";
    p.references = "<x@y> Bcc: eve@evil.example";
    assert_int_equal(sdra_compose(&e, a, NULL, &call, &p, &err), SDRA_EINVAL);
    assert_null(e);
    sdra_call_info_release(&call);
    json_decref(a);
}

int main(void)
{
    const char *share = getenv("SDRA_SHARE_DIR");
    snprintf(g_golden, sizeof g_golden, "%s/../tests/golden/compose",
             share ? share : SDRA_SOURCE_DATA_DIR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compose_personalises_text),
        cmocka_unit_test(compose_do_not_email_skips),
        cmocka_unit_test(compose_do_not_call_proposes_no_call),
        cmocka_unit_test(compose_default_meeting_hour),
        cmocka_unit_test(compose_quotes_the_relevant_words),
        cmocka_unit_test(compose_cleans_action_items), cmocka_unit_test(compose_resolves_answered_request),
        cmocka_unit_test(compose_quotes_only_clear_short_words),
        cmocka_unit_test(compose_keeps_rep_commitments_from_the_transcript),
        cmocka_unit_test(compose_is_deterministic),
        cmocka_unit_test(compose_partial_and_bad_documents),
        cmocka_unit_test(compose_user_template_and_errors),
        cmocka_unit_test(compose_threads_under_the_previous_email),
        cmocka_unit_test(compose_states_the_time_zone),
        cmocka_unit_test(compose_lists_no_items_for_one_voice),
        cmocka_unit_test(compose_sends_no_invite_for_an_approximate_meeting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
