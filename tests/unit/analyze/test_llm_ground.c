/* test_llm_ground.c - the checks the llm backend applies to a model's answer, without a server:
 * the schema validator (data/llm/analysis.schema.json and the subset of JSON Schema it uses)
 * and grounding (quotes in the cited utterance, roles from the transcript, dates from the
 * project's resolver, duplicates across parts, summary sentences with invented numbers). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/internal.h"
#include "sdra/util.h"

static json_t *load_schema(void)
{
    char path[1024];
    assert_int_equal(sdra_share_path(path, sizeof path, "llm/analysis.schema.json"), 0);
    json_error_t je;
    json_t *s = json_load_file(path, 0, &je);
    if (!s)
        fail_msg("%s: %s", path, je.text);
    return s;
}

static void llm_schema_accepts_and_rejects(void **state)
{
    (void)state;
    json_t *s = load_schema();
    sdra_error err = {0};
    assert_int_equal(an_jschema_check(s, &err), 0);
    char why[300];
    static const char *good = "{\"objections\":[{\"type\":\"price\",\"quote\":\"too much\",\"utterance\":3}],"
                              "\"action_items\":[{\"owner\":\"rep\",\"text\":\"send it\",\"due_said\":null,"
                              "\"quote\":\"I'll send it\",\"utterance\":2}],\"next_meeting\":null,"
                              "\"pain_points\":[],\"summary\":\"ok\"}";
    json_t *g = json_loads(good, 0, NULL);
    assert_int_equal(an_jschema_validate(s, g, why, sizeof why), 0);
    json_decref(g);
    static const struct { const char *doc, *why; } bad[] = {
        {"{\"objections\":[],\"action_items\":[],\"next_meeting\":null,\"pain_points\":[]}", "missing required property 'summary'"},
        {"{\"objections\":[{\"type\":\"budget\",\"quote\":\"x\",\"utterance\":0}],\"action_items\":[],\"next_meeting\":null,"
         "\"pain_points\":[],\"summary\":\"\"}", "$.objections[0].type: 'budget' is not one"},
        {"{\"objections\":[{\"type\":\"price\",\"quote\":\"x\",\"utterance\":\"3\"}],\"action_items\":[],\"next_meeting\":null,"
         "\"pain_points\":[],\"summary\":\"\"}", "$.objections[0].utterance: wrong type"},
        {"{\"objections\":[{\"type\":\"price\",\"quote\":\"x\",\"utterance\":-1}],\"action_items\":[],\"next_meeting\":null,"
         "\"pain_points\":[],\"summary\":\"\"}", "below minimum"},
        {"{\"objections\":[],\"action_items\":[{\"owner\":\"boss\",\"text\":\"x\",\"due_said\":null,\"quote\":\"x\",\"utterance\":0}],"
         "\"next_meeting\":null,\"pain_points\":[],\"summary\":\"\"}", "owner: 'boss'"},
        {"{\"objections\":[],\"action_items\":[],\"next_meeting\":{\"said\":\"x\",\"quote\":\"x\"},\"pain_points\":[],\"summary\":\"\"}",
         "missing required property 'utterance'"},
        {"{\"objections\":[],\"action_items\":[],\"next_meeting\":null,\"pain_points\":[],\"summary\":\"\",\"extra\":1}",
         "unexpected property 'extra'"},
        {"[]", "$: wrong type"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        json_t *d = json_loads(bad[k].doc, 0, NULL);
        assert_non_null(d);
        if (an_jschema_validate(s, d, why, sizeof why) == 0 || !strstr(why, bad[k].why))
            fail_msg("case %zu: expected '%s', got '%s'", k, bad[k].why, why);
        json_decref(d);
    }
    /* bounds: a summary over maxLength, more objections than maxItems */
    json_t *d = json_loads(good, 0, NULL);
    char *big = malloc(2101);
    memset(big, 'a', 2100);
    big[2100] = 0;
    json_object_set_new(d, "summary", json_string(big));
    assert_int_equal(an_jschema_validate(s, d, why, sizeof why), -1);
    assert_non_null(strstr(why, "maxLength"));
    free(big);
    json_object_set_new(d, "summary", json_string("ok"));
    json_t *objs = json_object_get(d, "objections");
    for (int k = 0; k < 70; k++)
        json_array_append(objs, json_array_get(objs, 0));
    assert_int_equal(an_jschema_validate(s, d, why, sizeof why), -1);
    assert_non_null(strstr(why, "maxItems"));
    json_decref(d);
    /* a schema keyword the validator does not know is refused, not ignored */
    json_t *x = json_loads("{\"type\":\"string\",\"pattern\":\"^a\"}", 0, NULL);
    assert_int_equal(an_jschema_check(x, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "pattern"));
    json_decref(x);
    json_decref(s);
}

static sdra_transcript *call(sdra_role roles[2])
{
    sdra_transcript *t = sdra_transcript_create();
    sdra_transcript_add_speaker(t, "S1", SDRA_ROLE_REP, -1);
    sdra_transcript_add_speaker(t, "S2", SDRA_ROLE_PROSPECT, -1);
    sdra_transcript_add_utterance(t, 0, 0, 4, "Hi Jordan, this is Alex from Ledgerly.");
    sdra_transcript_add_utterance(t, 1, 5, 9, "Honestly, the budget is tight this year. Send me the pricing sheet.");
    sdra_transcript_add_utterance(t, 0, 10, 14, "I'll send it by Thursday, and a case study.");
    sdra_transcript_add_utterance(t, 1, 15, 19, "We don\u2019t have time for a long project; it takes two days to reconcile.");
    sdra_transcript_add_utterance(t, 0, 20, 24, "Could we meet next Tuesday at two?");
    sdra_transcript_add_utterance(t, 1, 25, 28, "Tuesday works.");
    roles[0] = SDRA_ROLE_REP;
    roles[1] = SDRA_ROLE_PROSPECT;
    return t;
}

static json_t *acc_new(void)
{
    json_t *acc = json_object();
    json_object_set_new(acc, "objections", json_array());
    json_object_set_new(acc, "action_items", json_array());
    json_object_set_new(acc, "pain_points", json_array());
    json_object_set_new(acc, "next_meeting", json_null());
    return acc;
}

static void llm_grounding_rules(void **state)
{
    (void)state;
    sdra_role roles[2];
    sdra_transcript *t = call(roles);
    json_t *acc = acc_new();
    an_llm_stats st = {0};
    static const char *reply =
        "{\"objections\":["
        "{\"type\":\"price\",\"quote\":\"THE BUDGET, is tight\",\"utterance\":1},"      /* kept: case, punctuation */
        "{\"type\":\"no_time\",\"quote\":\"we dont have time\",\"utterance\":3},"       /* kept: curly apostrophe */
        "{\"type\":\"price\",\"quote\":\"budget is tight\",\"utterance\":3},"           /* wrong utterance */
        "{\"type\":\"need\",\"quote\":\"no need for this\",\"utterance\":1},"           /* invented */
        "{\"type\":\"trust\",\"quote\":\"this is Alex\",\"utterance\":0},"              /* the rep's words */
        "{\"type\":\"price\",\"quote\":\"budget is tight\",\"utterance\":99},"          /* no such utterance */
        "{\"type\":\"price\",\"quote\":\"budge\",\"utterance\":1}],"                    /* not on word boundaries */
        "\"action_items\":["
        "{\"owner\":\"rep\",\"text\":\"send it by Thursday\",\"due_said\":\"by Thursday\",\"quote\":\"I'll send it by Thursday\",\"utterance\":2},"
        "{\"owner\":\"rep\",\"text\":\"pricing sheet\",\"due_said\":null,\"quote\":\"Send me the pricing sheet\",\"utterance\":1},"
        "{\"owner\":\"rep\",\"text\":\"sign the contract\",\"due_said\":\"by Friday\",\"quote\":\"a case study\",\"utterance\":2}],"
        "\"next_meeting\":{\"said\":\"next Tuesday at two\",\"quote\":\"Tuesday works\",\"utterance\":5},"
        "\"pain_points\":[{\"text\":\"reconciling takes two days\",\"quote\":\"it takes two days to reconcile\",\"utterance\":3}],"
        "\"summary\":\"The prospect finds the budget tight. They will pay $40000 next year. Alex sends pricing.\"}";
    json_t *r = json_loads(reply, 0, NULL);
    assert_non_null(r);
    assert_int_equal(an_llm_ground(acc, &st, r, t, roles, "2026-11-16"), 0);
    json_t *objs = json_object_get(acc, "objections");
    assert_int_equal(json_array_size(objs), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(objs, 0), "i")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(objs, 0), "role")), "prospect");
    assert_int_equal(st.dropped_ungrounded, 3); /* wrong utterance, invented, not on word boundaries */
    assert_int_equal(st.dropped_role, 1);
    assert_int_equal(st.dropped_bad_utterance, 1);
    json_t *acts = json_object_get(acc, "action_items");
    assert_int_equal(json_array_size(acts), 3);
    /* in utterance order: the prospect's request (owner rep, kind request), then the commitment */
    json_t *a0 = json_array_get(acts, 0), *a1 = json_array_get(acts, 1), *a2 = json_array_get(acts, 2);
    assert_string_equal(json_string_value(json_object_get(a0, "kind")), "request");
    assert_string_equal(json_string_value(json_object_get(a0, "role")), "prospect");
    assert_true(json_is_null(json_object_get(a0, "due")));
    assert_string_equal(json_string_value(json_object_get(a1, "kind")), "commitment");
    assert_string_equal(json_string_value(json_object_get(a1, "due")), "2026-11-19"); /* the resolver's Thursday */
    /* "sign the contract by Friday" is not what utterance 2 says: its words become the quote's,
       and a date the utterance does not hold is not taken */
    assert_string_equal(json_string_value(json_object_get(a2, "text")), "a case study");
    assert_true(json_is_null(json_object_get(a2, "due")));
    assert_int_equal(st.dates_ungrounded, 1);
    assert_int_equal(st.text_from_quote, 1);
    json_t *m = json_object_get(acc, "next_meeting");
    assert_true(json_is_object(m));
    assert_string_equal(json_string_value(json_object_get(m, "date")), "2026-11-24");
    assert_string_equal(json_string_value(json_object_get(m, "time")), "14:00");
    assert_int_equal(json_array_size(json_object_get(acc, "pain_points")), 1);
    /* the sentence with a figure the call never names is dropped */
    const char *sum = json_string_value(json_object_get(acc, "summary"));
    assert_non_null(sum);
    assert_null(strstr(sum, "40000"));
    assert_non_null(strstr(sum, "budget tight"));
    assert_int_equal(st.summary_sentences_dropped, 1);
    assert_int_equal(st.items, 7 + 3 + 1 + 1);
    assert_int_equal(st.kept, 2 + 3 + 1 + 1);
    /* a second part repeating the same items adds nothing */
    an_llm_stats st2 = {0};
    assert_int_equal(an_llm_ground(acc, &st2, r, t, roles, "2026-11-16"), 0);
    assert_int_equal(json_array_size(objs), 2);
    assert_int_equal(json_array_size(acts), 3);
    assert_int_equal(st2.dropped_duplicate, 2 + 3 + 1);
    json_decref(r);
    json_decref(acc);
    sdra_transcript_destroy(t);
}

static void llm_meeting_said_elsewhere(void **state)
{
    (void)state;
    sdra_role roles[2];
    sdra_transcript *t = call(roles);
    json_t *acc = acc_new();
    an_llm_stats st = {0};
    /* "said" must be words of the call near the cited utterance */
    json_t *r = json_loads("{\"objections\":[],\"action_items\":[],\"pain_points\":[],\"summary\":\"\","
                           "\"next_meeting\":{\"said\":\"next Friday at nine\",\"quote\":\"Tuesday works\",\"utterance\":5}}",
                           0, NULL);
    assert_int_equal(an_llm_ground(acc, &st, r, t, roles, "2026-11-16"), 0);
    assert_true(json_is_null(json_object_get(acc, "next_meeting")));
    assert_int_equal(st.dropped_ungrounded, 1);
    assert_int_equal(st.dates_ungrounded, 1);
    json_decref(r);
    json_decref(acc);
    sdra_transcript_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(llm_schema_accepts_and_rejects),
        cmocka_unit_test(llm_grounding_rules),
        cmocka_unit_test(llm_meeting_said_elsewhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
