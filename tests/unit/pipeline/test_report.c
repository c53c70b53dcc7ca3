/* test_report.c - the call report renderer: every string from the documents is escaped (no
 * <script> survives), the sentiment SVG has one line per speaker, every objection and action
 * item is listed, dates are spelled out, missing documents leave their section saying so, bad
 * input is refused, and the stage writes report.html. */
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

#include "sdra/pipeline.h"
#include "sdra/report.h"
#include "sdra/util.h"

static const char *CALL =
    "{\"schema\":\"sdra.call/1\",\"id\":\"rep-test-1\",\"call_date\":\"2026-11-24\","
    " \"contact_email\":\"jordan@acme.example\",\"contact_name\":\"Jordan <script>alert(1)</script>\","
    " \"company\":\"Acme & Sons\",\"rep_name\":\"Alex\",\"direction\":\"outbound\"}";

static const char *TRANSCRIPT =
    "{\"schema\":\"sdra.transcript/1\",\"duration\":190.0,"
    " \"speakers\":[{\"id\":\"S1\",\"role\":\"rep\",\"channel\":0},{\"id\":\"S2\",\"role\":\"prospect\",\"channel\":1}],"
    " \"utterances\":["
    "  {\"speaker\":\"S1\",\"start\":0.5,\"end\":10.0,\"text\":\"hi jordan this is alex\"},"
    "  {\"speaker\":\"S2\",\"start\":11.0,\"end\":30.0,\"text\":\"we lose <b>two days</b> reconciling\"},"
    "  {\"speaker\":\"S1\",\"start\":31.0,\"end\":60.0,\"text\":\"tell me more\"},"
    "  {\"speaker\":\"S2\",\"start\":61.0,\"end\":120.0,\"text\":\"it is over our budget and my CFO decides\"},"
    "  {\"speaker\":\"S1\",\"start\":121.0,\"end\":185.0,\"text\":\"I will send the case study by Thursday\"}]}";

static const char *ANALYSIS =
    "{\"schema\":\"sdra.analysis/1\",\"call_date\":\"2026-11-24\","
    " \"sentiment\":{\"overall\":0.2,\"prospect_end\":0.4,\"utterances\":["
    "  {\"i\":0,\"speaker\":\"S1\",\"start\":0.5,\"score\":0.3},{\"i\":1,\"speaker\":\"S2\",\"start\":11.0,\"score\":-0.6},"
    "  {\"i\":2,\"speaker\":\"S1\",\"start\":31.0,\"score\":0.1},{\"i\":3,\"start\":61.0,\"score\":-0.2},"
    "  {\"i\":4,\"speaker\":\"S1\",\"start\":121.0,\"score\":0.7}]},"
    " \"intents\":[{\"type\":\"request_pricing\",\"speaker\":\"S2\",\"start\":61.0,\"text\":\"what does it cost\"}],"
    " \"objections\":["
    "  {\"type\":\"price\",\"speaker\":\"S2\",\"start\":61.0,\"text\":\"it is over our budget\"},"
    "  {\"type\":\"authority\",\"speaker\":\"S2\",\"start\":65.0,\"text\":\"my CFO decides\"},"
    "  {\"type\":\"status_quo\",\"speaker\":\"S2\",\"start\":70.0,\"text\":\"<script>document.cookie</script>\"}],"
    " \"topics\":[{\"text\":\"invoice reconciliation\"},\"budget\"],"
    " \"pain_points\":[{\"text\":\"we lose two days reconciling\",\"speaker\":\"S2\",\"start\":11.0}],"
    " \"action_items\":["
    "  {\"owner\":\"rep\",\"text\":\"send the case study\",\"due\":\"2026-11-26\",\"due_time\":null,\"start\":121.0},"
    "  {\"owner\":\"prospect\",\"text\":\"ask the CFO\",\"due\":null,\"start\":70.0}],"
    " \"next_meeting\":{\"date\":\"2026-12-01\",\"time\":\"14:00\",\"part_of_day\":\"afternoon\"},"
    " \"contact_preferences\":{\"do_not_call\":false,\"do_not_email\":false},"
    " \"summary\":\"Discovery call </p><script>x()</script>\",\"outcome\":\"meeting booked\"}";

static const char *EMAIL =
    "{\"schema\":\"sdra.email/1\",\"subject\":\"Next steps <script>\",\"to\":[\"Jordan <jordan@acme.example>\"],"
    " \"text\":\"Hi Jordan,\\n\\nThanks for the call.\\n\",\"message_id\":\"<m@x>\",\"skipped\":null}";

static const char *CRM =
    "{\"schema\":\"sdra.crm/1\",\"backend\":\"local\",\"contact\":{\"id\":\"1\",\"email\":\"jordan@acme.example\","
    " \"status\":\"created\",\"do_not_call\":false,\"do_not_email\":false},"
    " \"activity\":{\"id\":\"1\",\"status\":\"created\"},\"tasks\":[{\"id\":\"1\",\"status\":\"created\"}],"
    " \"emails\":[{\"id\":\"1\",\"message_id\":\"<m@x>\",\"status\":\"scheduled\"}],\"skipped\":[]}";

static json_t *parse(const char *s)
{
    json_error_t je;
    json_t *v = json_loads(s, 0, &je);
    if (!v) {
        fprintf(stderr, "test JSON: %s (%d:%d)\n", je.text, je.line, je.column);
        abort();
    }
    return v;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static char *render(const char *call, const char *transcript, const char *analysis, const char *email,
                    const char *crm)
{
    json_t *c = parse(call), *t = transcript ? parse(transcript) : NULL, *a = parse(analysis);
    json_t *e = email ? parse(email) : NULL, *m = crm ? parse(crm) : NULL;
    char *html = NULL;
    sdra_error err = {0};
    int rc = sdra_report_render(&html, c, t, a, e, m, &err);
    if (rc < 0)
        fprintf(stderr, "render: %s\n", err.msg);
    assert_int_equal(rc, 0);
    json_decref(c);
    json_decref(t);
    json_decref(a);
    json_decref(e);
    json_decref(m);
    return html;
}

static void report_escapes_every_string(void **state)
{
    (void)state;
    char *html = render(CALL, TRANSCRIPT, ANALYSIS, EMAIL, CRM);
    /* No script element in the page at all: every one above was data. */
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<b>two days"));
    assert_non_null(strstr(html, "Jordan &lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_non_null(strstr(html, "Acme &amp; Sons"));
    assert_non_null(strstr(html, "&lt;script&gt;document.cookie&lt;/script&gt;"));
    assert_non_null(strstr(html, "we lose &lt;b&gt;two days&lt;/b&gt; reconciling"));
    assert_non_null(strstr(html, "Next steps &lt;script&gt;"));
    assert_non_null(strstr(html, "Discovery call &lt;/p&gt;&lt;script&gt;x()&lt;/script&gt;"));
    /* Self-contained: no external resources. */
    assert_null(strstr(html, "<link"));
    assert_null(strstr(html, " src="));
    assert_null(strstr(html, "href="));
    assert_int_equal(strncmp(html, "<!DOCTYPE html>", 15), 0);
    assert_non_null(strstr(html, "</html>\n"));
    free(html);
}

static void report_has_the_sentiment_svg(void **state)
{
    (void)state;
    char *html = render(CALL, TRANSCRIPT, ANALYSIS, EMAIL, CRM);
    const char *svg = strstr(html, "<svg");
    assert_non_null(svg);
    assert_non_null(strstr(svg, "</svg>"));
    /* One polyline per speaker with scores; S2's second point comes via "i" -> transcript. */
    assert_int_equal(count(html, "<polyline"), 2);
    assert_non_null(strstr(html, "data-speaker=\"S1\""));
    const char *s2 = strstr(html, "data-speaker=\"S2\"");
    assert_non_null(s2);
    const char *pts = strstr(s2, "points=\"");
    assert_non_null(pts);
    const char *end = strchr(pts + 8, '"');
    size_t n_pts = 0;
    for (const char *q = pts + 8; q < end; q++)
        n_pts += *q == ',';
    assert_int_equal(n_pts, 2);
    /* The time axis is in minutes for a 3-minute call: ticks 0..3 and its title. */
    assert_non_null(strstr(html, ">minutes</text>"));
    assert_non_null(strstr(html, "text-anchor=\"middle\">3</text>"));
    /* Talk-time bars for both speakers. */
    assert_int_equal(count(html, "class=\"fill\""), 2);
    free(html);
}

static void report_lists_every_objection_and_action(void **state)
{
    (void)state;
    char *html = render(CALL, TRANSCRIPT, ANALYSIS, EMAIL, CRM);
    assert_int_equal(count(html, "<tr class=\"objection\">"), 3);
    assert_non_null(strstr(html, "it is over our budget"));
    assert_non_null(strstr(html, "my CFO decides"));
    assert_non_null(strstr(html, ">status quo<"));
    assert_non_null(strstr(html, ">1:01<")); /* the objection's time */
    assert_int_equal(count(html, "<tr class=\"action\">"), 2);
    assert_non_null(strstr(html, "Thursday, November 26, 2026"));
    assert_non_null(strstr(html, "Tuesday, December 1, 2026 at 14:00"));
    assert_non_null(strstr(html, "we lose two days reconciling"));
    assert_non_null(strstr(html, "invoice reconciliation"));
    assert_non_null(strstr(html, "Thanks for the call."));
    assert_non_null(strstr(html, "scheduled"));
    /* Transcript: every utterance with its time. */
    /* each line carries its start and speaker, for the player (a deliberate markup change) */
    assert_int_equal(count(html, "<div class=\"u\" data-start=\""), 5);
    assert_non_null(strstr(html, "<div class=\"u\" data-start=\"121.000\" data-speaker=\"S1\">"));
    assert_non_null(strstr(html, ">2:01<"));
    free(html);
}

static void report_without_optional_documents(void **state)
{
    (void)state;
    char *html = render(CALL, NULL, "{\"schema\":\"sdra.analysis/1\"}", NULL, NULL);
    assert_non_null(strstr(html, "No email was composed."));
    assert_non_null(strstr(html, "Not synced to a CRM."));
    assert_non_null(strstr(html, "No objections raised."));
    assert_non_null(strstr(html, "None agreed."));
    assert_non_null(strstr(html, "No transcript."));
    assert_null(strstr(html, "<svg"));
    free(html);
    /* An opted-out contact: the banner, and the skipped email says why. */
    html = render(CALL, TRANSCRIPT,
                  "{\"contact_preferences\":{\"do_not_call\":true,\"do_not_email\":true},\"objections\":7,"
                  " \"action_items\":[1,{\"owner\":\"rep\"}],\"sentiment\":{\"utterances\":[{\"score\":\"x\"}]}}",
                  "{\"skipped\":\"contact asked not to be emailed\"}", NULL);
    assert_non_null(strstr(html, "asked not to be called or emailed"));
    assert_non_null(strstr(html, "Not sent: contact asked not to be emailed."));
    free(html);
}

static void report_refuses_bad_input(void **state)
{
    (void)state;
    json_t *c = parse(CALL), *a = parse("{\"schema\":\"sdra.email/1\"}"), *arr = parse("[1]");
    char *html = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_report_render(&html, NULL, NULL, a, NULL, NULL, &err), SDRA_EINVAL);
    assert_int_equal(sdra_report_render(&html, c, NULL, arr, NULL, NULL, &err), SDRA_EINVAL);
    assert_int_equal(sdra_report_render(&html, c, NULL, a, NULL, NULL, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "sdra.email/1"));
    assert_null(html);
    json_decref(c);
    json_decref(a);
    json_decref(arr);
}

static void report_long_calls_are_smoothed_and_bounded(void **state)
{
    (void)state;
    json_t *c = parse(CALL), *a = parse(ANALYSIS), *t = parse(TRANSCRIPT);
    json_t *su = json_array();
    for (int i = 0; i < 200; i++)
        json_array_append_new(su, json_pack("{s:s, s:f, s:f}", "speaker", i % 2 ? "S2" : "S1", "start", i * 0.9,
                                            "score", (i % 7) / 7.0 - 0.4));
    json_object_set_new(json_object_get(a, "sentiment"), "utterances", su);
    char *html = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_report_render(&html, c, t, a, NULL, NULL, &err), 0);
    assert_non_null(strstr(html, "moving average of up to 5 utterances"));
    assert_int_equal(count(html, "<polyline"), 2);
    assert_int_equal(count(html, "<circle"), 200);
    free(html);
    html = NULL;
    /* A page past the size limit fails cleanly with SDRA_ELIMIT. */
    size_t big = SDRA_REPORT_MAX_BYTES / 4 + 1;
    char *text = malloc(big + 1);
    assert_non_null(text);
    memset(text, '<', big); /* each becomes "&lt;": four times the size */
    text[big] = '\0';
    json_object_set_new(a, "summary", json_string(text));
    free(text);
    assert_int_equal(sdra_report_render(&html, c, t, a, NULL, NULL, &err), SDRA_ELIMIT);
    assert_null(html);
    assert_non_null(strstr(err.msg, "limit"));
    json_decref(c);
    json_decref(a);
    json_decref(t);
}

static void report_talk_metrics_without_transcript(void **state)
{
    (void)state;
    char *html = render(CALL, NULL,
                        "{\"speakers\":[{\"id\":\"S1\",\"role\":\"rep\",\"name\":\"Alex\"},"
                        " {\"id\":\"S2\",\"role\":\"prospect\"}],"
                        " \"metrics\":{\"patience_s\":0.62,\"speakers\":["
                        "  {\"speaker\":\"S1\",\"role\":\"rep\",\"talk_time_s\":60,\"words_per_minute\":151.4,\"questions\":4},"
                        "  {\"speaker\":\"S2\",\"role\":\"prospect\",\"talk_time_s\":20,\"turns\":\"x\"}]}}",
                        NULL, NULL);
    assert_int_equal(count(html, "class=\"fill\""), 2);
    assert_non_null(strstr(html, "width:75.0%"));
    assert_non_null(strstr(html, "<table class=\"metrics\">"));
    assert_non_null(strstr(html, "<td>151</td>"));
    assert_non_null(strstr(html, "0.6 s"));
    free(html);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(sdra_file_write_atomic(path, text, strlen(text), NULL), 0);
}

static void report_stage_writes_report_html(void **state)
{
    (void)state;
    const char *base = getenv("SDRA_TEST_TMP");
    char dir[PATH_MAX], path[PATH_MAX + 32];
    if (!base || !*base)
        base = "/tmp";
    sdra_mkdir_p(base, NULL);
    snprintf(dir, sizeof dir, "%s/report-XXXXXX", base);
    assert_non_null(mkdtemp(dir));
    write_file(dir, "call.json", CALL);
    write_file(dir, "transcript.json", TRANSCRIPT);
    write_file(dir, "analysis.json", ANALYSIS);
    sdra_stage_ctx ctx = {.workdir = dir};
    sdra_error err = {0};
    assert_int_equal(sdra_report_stage(&ctx, &err), 0);
    snprintf(path, sizeof path, "%s/report.html", dir);
    char *html = NULL;
    assert_int_equal(sdra_file_read(&html, NULL, path, 1 << 24, &err), 0);
    assert_non_null(strstr(html, "<svg"));
    assert_non_null(strstr(html, "No email was composed."));
    free(html);
    write_file(dir, "email.json", "{\"subject\": ");
    assert_true(sdra_report_stage(&ctx, &err) < 0);
    assert_non_null(strstr(err.msg, "email.json"));
    unlink(path);
    snprintf(path, sizeof path, "%s/email.json", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/transcript.json", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/analysis.json", dir);
    unlink(path);
    assert_int_equal(sdra_report_stage(&ctx, &err), SDRA_ENOTFOUND);
    assert_non_null(strstr(err.msg, "analysis.json"));
    snprintf(path, sizeof path, "%s/call.json", dir);
    unlink(path);
    rmdir(dir);
}

/* A poor transcript is said at the very top, with why the package needs review; the built-in
 * talking points appear as coaching for the rep, escaped. */
static void report_warns_on_poor_transcript_and_coaches(void **state)
{
    (void)state;
    json_t *a = parse(ANALYSIS);
    json_object_set_new(a, "quality", parse("{\"words\":200,\"mean_conf\":0.41,\"low_conf_share\":0.52,"
                                            "\"wer_estimate\":0.38,\"wer_band\":[0.31,0.7],\"poor\":true}"));
    char *as = json_dumps(a, 0);
    char *html = render(CALL, NULL, as,
                        "{\"schema\":\"sdra.email/1\",\"subject\":\"s\",\"skipped\":null,"
                        "\"needs_review\":true,\"review_reasons\":[\"poor transcript <b>\"],"
                        "\"coaching\":[{\"type\":\"price\",\"label\":\"pricing\",\"point\":\"Offer a <pilot>\"}]}",
                        NULL);
    const char *alert = strstr(html, "id=\"quality\"");
    assert_non_null(alert);
    assert_true(alert < strstr(html, "<header"));
    assert_non_null(strstr(html, "52% of the words"));
    assert_non_null(strstr(html, "estimated word error rate 38%, likely between 31% and 70%"));
    assert_non_null(strstr(html, "<li>poor transcript &lt;b&gt;</li>"));
    assert_non_null(strstr(html, "id=\"coaching\""));
    assert_non_null(strstr(html, "Offer a &lt;pilot&gt;"));
    free(html);
    /* a good transcript: no alert */
    html = render(CALL, NULL, ANALYSIS, EMAIL, NULL);
    assert_null(strstr(html, "id=\"quality\""));
    assert_null(strstr(html, "id=\"coaching\""));
    free(html);
    free(as);
    json_decref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(report_escapes_every_string),
        cmocka_unit_test(report_has_the_sentiment_svg),
        cmocka_unit_test(report_lists_every_objection_and_action),
        cmocka_unit_test(report_without_optional_documents),
        cmocka_unit_test(report_refuses_bad_input),
        cmocka_unit_test(report_talk_metrics_without_transcript),
        cmocka_unit_test(report_long_calls_are_smoothed_and_bounded),
        cmocka_unit_test(report_stage_writes_report_html),
        cmocka_unit_test(report_warns_on_poor_transcript_and_coaches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
