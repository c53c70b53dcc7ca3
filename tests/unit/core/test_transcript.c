/* test_transcript.c - the transcript document: JSON round trip, validation, writers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "sdra/transcript.h"

static sdra_transcript *sample(void)
{
    sdra_transcript *t = sdra_transcript_create();
    int rep = sdra_transcript_add_speaker(t, "S1", SDRA_ROLE_REP, 0);
    int pro = sdra_transcript_add_speaker(t, "S2", SDRA_ROLE_PROSPECT, 1);
    sdra_utterance *u = sdra_transcript_add_utterance(t, pro, 3.0, 4.5, NULL);
    sdra_utterance_add_word(u, "sounds", 3.0, 3.4, 0.8f);
    sdra_utterance_add_word(u, "good", 3.5, 4.5, 0.9f);
    sdra_utterance_join_words(u);
    u = sdra_transcript_add_utterance(t, rep, 62.25, 63.0, "hello there");
    sdra_utterance_add_word(u, "hello", 62.25, 62.6, 1.0f);
    t->duration_s = 64.0;
    sdra_transcript_sort(t);
    return t;
}

static void transcript_json_round_trip(void **state)
{
    (void)state;
    sdra_transcript *t = sample(), *back = NULL;
    json_t *doc = sdra_transcript_to_json(t);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "schema")), "sdra.transcript/1");
    sdra_error err = {0};
    assert_int_equal(sdra_transcript_from_json(&back, doc, &err), 0);
    assert_int_equal(back->n_utts, 2);
    assert_int_equal(back->n_speakers, 2);
    assert_string_equal(back->utts[0].text, "sounds good");
    assert_string_equal(back->speakers[back->utts[0].speaker].id, "S2");
    assert_int_equal(back->speakers[1].role, SDRA_ROLE_PROSPECT);
    assert_int_equal(back->utts[0].n_words, 2);
    assert_true(back->utts[1].start > 62.2 && back->utts[1].start < 62.3);
    json_decref(doc);
    sdra_transcript_destroy(t);
    sdra_transcript_destroy(back);
}

static void transcript_rejects_bad_documents(void **state)
{
    (void)state;
    const char *bad[] = {
        "[]",
        "{\"schema\":\"other/1\",\"speakers\":[],\"utterances\":[]}",
        "{\"schema\":\"sdra.transcript/1\",\"speakers\":{},\"utterances\":[]}",
        "{\"schema\":\"sdra.transcript/1\",\"speakers\":[{\"id\":\"S1\"}],\"utterances\":[{\"speaker\":\"S9\",\"start\":0,\"end\":1}]}",
        "{\"schema\":\"sdra.transcript/1\",\"speakers\":[{\"id\":\"S1\"}],\"utterances\":[{\"speaker\":\"S1\",\"start\":2,\"end\":1}]}",
        "{\"schema\":\"sdra.transcript/1\",\"speakers\":[{\"id\":\"S1\"},{\"id\":\"S1\"}],\"utterances\":[]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *doc = json_loads(bad[i], 0, NULL);
        assert_non_null(doc);
        sdra_transcript *t = NULL;
        sdra_error err = {0};
        assert_int_equal(sdra_transcript_from_json(&t, doc, &err), SDRA_EINVAL);
        assert_null(t);
        assert_true(strlen(err.msg) > 0);
        json_decref(doc);
    }
}

static char *render(const sdra_transcript *t, sdra_transcript_format fmt)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(sdra_transcript_write(t, fmt, f, NULL), 0);
    fclose(f);
    return buf;
}

static void transcript_text_vtt_srt(void **state)
{
    (void)state;
    sdra_transcript *t = sample();
    char *s = render(t, SDRA_TFMT_TEXT);
    assert_string_equal(s, "[00:00:03] Prospect: sounds good\n[00:01:02] Rep: hello there\n");
    free(s);
    s = render(t, SDRA_TFMT_VTT);
    assert_non_null(strstr(s, "WEBVTT\n"));
    assert_non_null(strstr(s, "00:01:02.250 --> 00:01:03.000\n<v Rep>hello there"));
    free(s);
    s = render(t, SDRA_TFMT_SRT);
    assert_non_null(strstr(s, "1\n00:00:03,000 --> 00:00:04,500\nProspect: sounds good\n"));
    free(s);
    sdra_transcript_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(transcript_json_round_trip),
        cmocka_unit_test(transcript_rejects_bad_documents),
        cmocka_unit_test(transcript_text_vtt_srt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
