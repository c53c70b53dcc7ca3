/* test_report_view.c - the report's view model (sdra_report_view, "sdra.call_view/1"): what the
 * page and the web app's call page read. Speakers named and coloured, talk time, every
 * objection / action / utterance with its time as m:ss and seconds, dates spelled out, the
 * player only when asked, null or empty parts for missing documents, no server path (the CRM's
 * location) anywhere, bad input refused; and a broken template names its file and line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sdra/report.h"
#include "sdra/util.h"

static char g_dir[4096];

static json_t *golden(const char *name)
{
    char path[4400];
    json_t *doc = NULL;
    sdra_error err = {0};
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    if (sdra_json_load_file(&doc, path, 1 << 20, &err) < 0)
        fail_msg("%s", err.msg);
    return doc;
}

static json_t *view_of(const char *audio)
{
    json_t *c = golden("call.json"), *t = golden("transcript.json"), *a = golden("analysis.json");
    json_t *e = golden("email.json"), *m = golden("crm.json"), *v = NULL;
    sdra_error err = {0};
    if (sdra_report_view(&v, c, t, a, e, m, audio, &err) < 0)
        fail_msg("%s", err.msg);
    json_decref(c), json_decref(t), json_decref(a), json_decref(e), json_decref(m);
    return v;
}

static const char *str(const json_t *v, const char *path)
{
    char key[128];
    const json_t *cur = v;
    const char *p = path;
    while (cur && *p) {
        size_t n = strcspn(p, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        char *end;
        long idx = strtol(key, &end, 10);
        cur = *end == 0 && json_is_array(cur) ? json_array_get(cur, (size_t)idx) : json_object_get(cur, key);
        p += n + (p[n] == '.');
    }
    return json_string_value(cur);
}

static void view_carries_what_the_page_shows(void **state)
{
    (void)state;
    json_t *v = view_of(NULL);
    assert_string_equal(str(v, "schema"), "sdra.call_view/1");
    assert_string_equal(str(v, "call_id"), "rep-test-1");
    assert_true(json_is_null(json_object_get(v, "audio")));
    /* the header: spelled-out date, m:ss duration, signed sentiment */
    assert_string_equal(str(v, "contact.name"), "Jordan <script>alert(1)</script>"); /* raw: the page escapes */
    assert_string_equal(str(v, "contact.company"), "Acme & Sons");
    assert_string_equal(str(v, "date_short"), "Tue, Nov 24, 2026");
    assert_string_equal(str(v, "duration"), "3:10");
    assert_string_equal(str(v, "sentiment_overall"), "+0.20");
    /* speakers: the rep by the call's name, the one prospect by the contact's */
    assert_int_equal(json_array_size(json_object_get(v, "speakers")), 2);
    assert_string_equal(str(v, "speakers.0.label"), "Alex");
    assert_string_equal(str(v, "speakers.0.role"), "rep");
    assert_string_equal(str(v, "speakers.0.color"), "#2563eb");
    assert_string_equal(str(v, "speakers.0.talk"), "1:43");
    assert_string_equal(str(v, "speakers.0.talk_pct"), "56.8");
    assert_string_equal(str(v, "speakers.1.color"), "#ea580c");
    /* every objection with its type, speaker and time */
    assert_int_equal(json_array_size(json_object_get(v, "objections")), 3);
    assert_string_equal(str(v, "objections.2.type_label"), "status quo");
    assert_string_equal(str(v, "objections.0.at"), "1:01");
    assert_string_equal(str(v, "objections.0.start"), "61.000");
    assert_string_equal(str(v, "objections.0.who.label"), "Jordan <script>alert(1)</script>");
    /* what the classifiers found is marked for the rep to check */
    assert_true(json_is_false(json_object_get(json_array_get(json_object_get(v, "objections"), 0), "learned")));
    assert_true(json_is_true(json_object_get(json_array_get(json_object_get(v, "objections"), 1), "learned")));
    assert_true(json_is_false(json_object_get(json_array_get(json_object_get(v, "pain_points"), 0), "learned")));
    assert_true(json_is_true(json_object_get(json_array_get(json_object_get(v, "pain_points"), 1), "learned")));
    /* actions and the meeting, dates spelled out */
    assert_string_equal(str(v, "action_items.0.due_long"), "Thursday, November 26, 2026");
    assert_string_equal(str(v, "action_items.0.owner_label"), "Alex");
    assert_true(json_is_null(json_object_get(json_array_get(json_object_get(v, "action_items"), 1), "due_long")));
    assert_string_equal(str(v, "next_meeting.date_long"), "Tuesday, December 1, 2026");
    assert_string_equal(str(v, "next_meeting.time"), "14:00");
    assert_true(json_is_null(json_object_get(json_object_get(v, "next_meeting"), "part_of_day")));
    /* the transcript: every utterance with start (seconds), m:ss and speaker */
    json_t *tr = json_object_get(v, "transcript");
    assert_int_equal(json_array_size(tr), 5);
    assert_string_equal(str(v, "transcript.4.start"), "121.000");
    assert_string_equal(str(v, "transcript.4.at"), "2:01");
    assert_string_equal(str(v, "transcript.4.who_id"), "S1");
    assert_string_equal(str(v, "transcript.1.text"), "we lose <b>two days</b> reconciling");
    /* the chart: a line per speaker; S2's second point comes from utterance "i" */
    json_t *lines = json_object_get(json_object_get(v, "chart"), "lines");
    assert_int_equal(json_array_size(lines), 2);
    assert_int_equal(json_array_size(json_object_get(json_array_get(lines, 1), "dots")), 2);
    /* email, review, quality, CRM */
    assert_true(json_is_true(json_object_get(json_object_get(v, "email"), "composed")));
    assert_string_equal(str(v, "email.to"), "Jordan <jordan@acme.example>");
    assert_string_equal(str(v, "email.attachments"), "case-study.pdf");
    assert_int_equal(json_array_size(json_object_get(v, "review")), 2);
    assert_string_equal(str(v, "quality.low_conf_pct"), "41");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(v, "crm"), "tasks"), "removed")), 1);
    assert_string_equal(str(v, "crm.backend"), "local");
    /* no server path: the CRM's location (and nothing else naming /srv) stays out */
    char *dump = json_dumps(v, 0);
    assert_non_null(dump);
    assert_null(strstr(dump, "/srv/"));
    assert_null(strstr(dump, "location"));
    assert_null(strstr(dump, "/home/alex")); /* the recording's path on the rep's machine */
    free(dump);
    json_decref(v);
    /* with a player: its source as given */
    v = view_of("call%20one.wav");
    assert_string_equal(str(v, "audio.src"), "call%20one.wav");
    json_decref(v);
}

static void view_of_missing_documents(void **state)
{
    (void)state;
    json_t *c = golden("call.json"), *a = json_loads("{\"schema\":\"sdra.analysis/1\"}", 0, NULL), *v = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_report_view(&v, c, NULL, a, NULL, NULL, NULL, &err), 0);
    assert_true(json_is_null(json_object_get(v, "email")));
    assert_true(json_is_null(json_object_get(v, "crm")));
    assert_true(json_is_null(json_object_get(v, "chart")));
    assert_true(json_is_null(json_object_get(v, "next_meeting")));
    assert_true(json_is_null(json_object_get(v, "duration")));
    assert_true(json_is_null(json_object_get(v, "outcome")));
    assert_int_equal(json_array_size(json_object_get(v, "transcript")), 0);
    assert_int_equal(json_array_size(json_object_get(v, "objections")), 0);
    assert_true(json_is_false(json_object_get(v, "has_talk")));
    json_decref(v);
    /* bad input: refused, *out untouched */
    json_t *e = json_loads("{\"schema\":\"sdra.email/1\"}", 0, NULL);
    v = NULL;
    assert_int_equal(sdra_report_view(&v, NULL, NULL, a, NULL, NULL, NULL, &err), SDRA_EINVAL);
    assert_int_equal(sdra_report_view(&v, c, NULL, e, NULL, NULL, NULL, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "sdra.email/1"));
    assert_null(v);
    json_decref(e);
    json_decref(a);
    json_decref(c);
}

/* A broken report template fails the render with its file and line; nothing is returned. */
static void render_names_a_broken_template(void **state)
{
    (void)state;
    char dir[] = "/tmp/sdra-share-XXXXXX", sub[64], path[96];
    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof sub, "%s/report", dir);
    assert_int_equal(sdra_mkdir_p(sub, NULL), 0);
    snprintf(path, sizeof path, "%s/report.css", sub);
    assert_int_equal(sdra_file_write_atomic(path, "", 0, NULL), 0);
    snprintf(path, sizeof path, "%s/report.html.tmpl", sub);
    const char *bad = "<html>\n{{#speakers}}\n<p>{{label}}</p>\n";
    assert_int_equal(sdra_file_write_atomic(path, bad, strlen(bad), NULL), 0);
    const char *old = getenv("SDRA_SHARE_DIR");
    char *saved = old ? strdup(old) : NULL;
    setenv("SDRA_SHARE_DIR", dir, 1);
    json_t *v = view_of(NULL);
    char *html = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_report_render_view(&html, v, &err), SDRA_EINVAL);
    assert_null(html);
    char want[160];
    snprintf(want, sizeof want, "%s:2: unclosed section 'speakers'", path);
    if (!strstr(err.msg, want))
        fail_msg("'%s' lacks '%s'", err.msg, want);
    /* and a fixed one renders from the view */
    const char *good = "<p>{{#speakers}}{{label}};{{/speakers}}</p>";
    assert_int_equal(sdra_file_write_atomic(path, good, strlen(good), NULL), 0);
    assert_int_equal(sdra_report_render_view(&html, v, &err), 0);
    assert_string_equal(html, "<p>Alex;Jordan &lt;script&gt;alert(1)&lt;/script&gt;;</p>");
    free(html);
    json_decref(v);
    if (saved)
        setenv("SDRA_SHARE_DIR", saved, 1);
    else
        unsetenv("SDRA_SHARE_DIR");
    free(saved);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* What the web app's call page reads beyond the report (issue 16): each word with its start
 * (a click on a word seeks there), the sentiment scores per speaker as numbers for its chart,
 * the longest monologue with its moment, and the contact's time zone (the email is scheduled
 * in it). */
static void view_feeds_the_web_call_page(void **state)
{
    (void)state;
    json_t *c = golden("call.json"), *t = golden("transcript.json"), *a = golden("analysis.json"), *v = NULL;
    json_object_set_new(c, "contact_timezone", json_string("Europe/Berlin"));
    json_object_set_new(json_array_get(json_object_get(t, "utterances"), 0), "words",
                        json_pack("[{s:s,s:f,s:f},{s:s,s:f,s:f},{s:s}]", "w", "hello", "start", 0.5, "end", 0.9, "w",
                                  "jordan", "start", 1.25, "end", 1.7, "w", "untimed"));
    json_object_set_new(json_object_get(a, "metrics"), "longest_monologue",
                        json_pack("{s:s,s:f,s:f}", "speaker", "S1", "start", 31.0, "duration_s", 75.4));
    sdra_error err = {0};
    assert_int_equal(sdra_report_view(&v, c, t, a, NULL, NULL, NULL, &err), 0);
    assert_string_equal(str(v, "contact.timezone"), "Europe/Berlin");
    assert_int_equal(json_array_size(json_object_get(json_array_get(json_object_get(v, "transcript"), 0), "words")), 2);
    assert_string_equal(str(v, "transcript.0.words.1.w"), "jordan");
    assert_string_equal(str(v, "transcript.0.words.1.start"), "1.250");
    assert_int_equal(json_array_size(json_object_get(json_array_get(json_object_get(v, "transcript"), 1), "words")), 0);
    /* S1 scored at 0.5, 31 and 121; S2 at 11 and (utterance 3, by its "i") 61 */
    json_t *ser = json_object_get(v, "sentiment_series");
    assert_int_equal(json_array_size(ser), 2);
    assert_string_equal(str(v, "sentiment_series.0.id"), "S1");
    assert_string_equal(str(v, "sentiment_series.0.label"), "Alex");
    assert_string_equal(str(v, "sentiment_series.0.color"), "#2563eb");
    json_t *p1 = json_object_get(json_array_get(ser, 0), "points");
    assert_int_equal(json_array_size(p1), 3);
    assert_true(json_real_value(json_array_get(json_array_get(p1, 2), 0)) == 121.0);
    assert_true(json_real_value(json_array_get(json_array_get(p1, 2), 1)) == 0.7);
    json_t *p2 = json_object_get(json_array_get(ser, 1), "points");
    assert_int_equal(json_array_size(p2), 2);
    assert_true(json_real_value(json_array_get(json_array_get(p2, 1), 0)) == 61.0);
    assert_string_equal(str(v, "longest_monologue.who.label"), "Alex");
    assert_string_equal(str(v, "longest_monologue.duration"), "1:15");
    assert_string_equal(str(v, "longest_monologue.at"), "0:31");
    assert_string_equal(str(v, "longest_monologue.start"), "31.000");
    json_decref(v);
    /* none of it: empty or null, never absent */
    json_t *bare = json_loads("{\"schema\":\"sdra.analysis/1\"}", 0, NULL);
    json_object_del(c, "contact_timezone");
    assert_int_equal(sdra_report_view(&v, c, NULL, bare, NULL, NULL, NULL, &err), 0);
    assert_true(json_is_null(json_object_get(json_object_get(v, "contact"), "timezone")));
    assert_int_equal(json_array_size(json_object_get(v, "sentiment_series")), 0);
    assert_true(json_is_array(json_object_get(v, "sentiment_series")));
    assert_true(json_is_null(json_object_get(v, "longest_monologue")));
    json_decref(v);
    json_decref(bare);
    json_decref(c), json_decref(t), json_decref(a);
}

int main(void)
{
    const char *share = getenv("SDRA_SHARE_DIR");
    snprintf(g_dir, sizeof g_dir, "%s/../tests/golden/report", share ? share : SDRA_SOURCE_DATA_DIR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(view_carries_what_the_page_shows),
        cmocka_unit_test(view_of_missing_documents),
        cmocka_unit_test(render_names_a_broken_template),
        cmocka_unit_test(view_feeds_the_web_call_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
