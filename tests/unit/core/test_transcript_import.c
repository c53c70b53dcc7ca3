/* test_transcript_import.c - sdra_transcript_load() on every format people bring: plain-text
 * dialogues (with and without [hh:mm:ss]), WebVTT (Teams voice tags, Zoom "Name:" prefixes),
 * SRT (Gong), sdra JSON; roles from --rep-name; clear errors for empty or foreign input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdra/transcript.h"
#include "sdra/util.h"

static char path_buf[600];

static const char *write_tmp(const char *name, const char *content)
{
    const char *tmp = getenv("SDRA_TEST_TMP");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/import", tmp ? tmp : "/tmp");
    assert_int_equal(sdra_mkdir_p(dir, NULL), 0);
    snprintf(path_buf, sizeof path_buf, "%s/%s", dir, name);
    assert_int_equal(sdra_file_write_atomic(path_buf, content, strlen(content), NULL), 0);
    return path_buf;
}

static sdra_transcript *load_ok(const char *name, const char *content, const char *rep)
{
    sdra_transcript *t = NULL;
    sdra_error err = {0};
    if (sdra_transcript_load(&t, write_tmp(name, content), rep, &err) < 0)
        fail_msg("%s: %s", name, err.msg);
    return t;
}

static void import_text_with_times(void **state)
{
    (void)state;
    sdra_transcript *t = load_ok("a.txt",
                                 "# a comment\n"
                                 "[00:00:01] Alex Smith: Hi Jordan, thanks for the time.\n"
                                 "[00:00:05] Jordan: Sure.\n"
                                 "  It's a busy day though.\n"
                                 "\n"
                                 "[00:01:02.5] Alex Smith: Understood.\n",
                                 "Alex");
    assert_int_equal(t->n_speakers, 2);
    assert_int_equal(t->n_utts, 3);
    assert_string_equal(t->speakers[0].id, "S1");
    assert_string_equal(t->speakers[0].name, "Alex Smith");
    assert_int_equal(t->speakers[0].role, SDRA_ROLE_REP);
    assert_int_equal(t->speakers[1].role, SDRA_ROLE_PROSPECT);
    assert_true(fabs(t->utts[0].start - 1.0) < 1e-9);
    assert_true(fabs(t->utts[2].start - 62.5) < 1e-9);
    assert_string_equal(t->utts[1].text, "Sure. It's a busy day though."); /* continuation joined */
    assert_int_equal(t->utts[1].n_words, 6);
    assert_true(t->utts[1].words[0].start >= t->utts[1].start);
    assert_true(t->utts[1].words[5].end <= t->utts[1].end + 1e-9);
    sdra_transcript_destroy(t);
}

static void import_text_estimated_times(void **state)
{
    (void)state;
    /* no times: 150 words per minute (0.4 s a word) and 0.5 s between turns; roles unknown */
    sdra_transcript *t = load_ok("b.txt", "A: one two three four five\nB: six seven\nA: eight\n", NULL);
    assert_int_equal(t->n_utts, 3);
    assert_true(fabs(t->utts[0].end - 2.0) < 1e-9);
    assert_true(fabs(t->utts[1].start - 2.5) < 1e-9);
    assert_true(fabs(t->utts[1].end - 3.3) < 1e-9);
    assert_int_equal(t->speakers[0].role, SDRA_ROLE_UNKNOWN);
    assert_true(fabs(t->duration_s - t->utts[2].end) < 1e-9);
    sdra_transcript_destroy(t);
    /* role words name the roles; CRLF line ends are fine */
    t = load_ok("c.txt", "rep: hi there\r\nprospect: hello\r\n", NULL);
    assert_int_equal(t->speakers[0].role, SDRA_ROLE_REP);
    assert_int_equal(t->speakers[1].role, SDRA_ROLE_PROSPECT);
    assert_string_equal(t->utts[0].text, "hi there");
    sdra_transcript_destroy(t);
}

static void import_vtt(void **state)
{
    (void)state;
    sdra_transcript *t = load_ok("a.vtt",
                                 "WEBVTT\n\nNOTE exported by Teams\n\n"
                                 "1\n00:00:01.000 --> 00:00:04.500\n<v Aisha Khan>Hi Paul, <i>welcome</i>.</v>\n\n"
                                 "00:00:05.000 --> 00:00:08.000\n<v Paul Meyer>Thanks.\nGlad to be here.</v>\n\n"
                                 "00:00:09.000 --> 00:00:10.000\nPaul Meyer: Zoom style prefix.\n",
                                 "Aisha");
    assert_int_equal(t->n_utts, 3);
    assert_int_equal(t->n_speakers, 2);
    assert_string_equal(t->utts[0].text, "Hi Paul, welcome.");
    assert_string_equal(t->utts[1].text, "Thanks. Glad to be here.");
    assert_true(fabs(t->utts[0].end - 4.5) < 1e-9);
    assert_int_equal(t->utts[2].speaker, t->utts[1].speaker);
    assert_int_equal(t->speakers[0].role, SDRA_ROLE_REP);
    sdra_transcript_destroy(t);
}

static void import_srt(void **state)
{
    (void)state;
    sdra_transcript *t = load_ok("a.srt",
                                 "1\n00:00:00,000 --> 00:00:04,000\nVictor: Hi Elena.\n\n"
                                 "2\n00:00:04,500 --> 00:00:09,250\nElena: Hi Victor,\nwhat's up?\n\n"
                                 "3\n00:00:10,000 --> 00:00:11,000\ncontinues the last speaker\n",
                                 NULL);
    assert_int_equal(t->n_utts, 3);
    assert_string_equal(t->speakers[1].name, "Elena");
    assert_string_equal(t->utts[1].text, "Hi Victor, what's up?");
    assert_true(fabs(t->utts[1].end - 9.25) < 1e-9);
    assert_int_equal(t->utts[2].speaker, t->utts[1].speaker);
    sdra_transcript_destroy(t);
}

static void import_json_round_trip(void **state)
{
    (void)state;
    sdra_transcript *t = sdra_transcript_create();
    int s = sdra_transcript_add_speaker(t, "S1", SDRA_ROLE_UNKNOWN, -1);
    t->speakers[s].name = strdup("Alex");
    sdra_transcript_add_utterance(t, s, 0, 1, "hello");
    t->duration_s = 1;
    json_t *doc = sdra_transcript_to_json(t);
    char *txt = json_dumps(doc, 0);
    sdra_transcript *u = load_ok("t.json", txt, "Alex");
    assert_int_equal(u->n_utts, 1);
    assert_int_equal(u->speakers[0].role, SDRA_ROLE_REP);
    free(txt);
    json_decref(doc);
    sdra_transcript_destroy(t);
    sdra_transcript_destroy(u);
}

static void import_bad_input(void **state)
{
    (void)state;
    static const struct {
        const char *name, *content, *needle;
    } cases[] = {
        {"empty.txt", "", "empty"},
        {"blank.txt", "  \n\n\t\n", "empty"},
        {"prose.txt", "This is just a paragraph of prose without any speaker names at all.\n", "not a dialogue"},
        {"bad.json", "{\"schema\": \"sdra.transcript/1\", ", "bad.json"},
        {"badcue.vtt", "WEBVTT\n\nxx:yy --> 00:00:01.000\nA: hi\n", "bad cue timing"},
        {"nocues.vtt", "WEBVTT\n\n", "no utterances"},
        /* Latin-1 text ("caf\xe9") is refused with the line it is on, not passed on to break
           the JSON written from it */
        {"latin1.txt", "Alex: hello\nJordan: the caf\xe9 is open\n", "latin1.txt:2: not UTF-8"},
        {"overlong.srt", "1\n00:00:01,000 --> 00:00:02,000\nA: \xc0\xaf\n", "overlong.srt:3: not UTF-8"},
        {"cut.vtt", "WEBVTT\n\n00:00.000 --> 00:01.000\nA: na\xc3", "cut.vtt:4: not UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sdra_transcript *t = NULL;
        sdra_error err = {0};
        int rc = sdra_transcript_load(&t, write_tmp(cases[i].name, cases[i].content), NULL, &err);
        if (rc != SDRA_EINVAL || t || !strstr(err.msg, cases[i].needle))
            fail_msg("%s: rc %d, message '%s'", cases[i].name, rc, err.msg);
    }
    sdra_transcript *t = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_transcript_load(&t, "/nonexistent/x.txt", NULL, &err), SDRA_ENOTFOUND);
    /* binary data */
    const char *tmp = write_tmp("bin.txt", "A: x");
    FILE *f = fopen(tmp, "wb");
    fwrite("A: \0\1\2", 1, 6, f);
    fclose(f);
    assert_int_equal(sdra_transcript_load(&t, tmp, NULL, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "binary"));
}

/* The JSON reader walks the top level itself and parses one utterance at a time: the result
 * must be what a whole-document parse gives, and malformed documents must still fail. */
static void import_json_streaming_matches_whole_parse(void **state)
{
    (void)state;
    const char *doc =
        "\xEF\xBB\xBF {\"meta\": {\"k\": [1, {\"x\": \"}]\\\"{\"}]}, \"utterances\": [],"
        " \"schema\": \"sdra.transcript/1\",\n \"duration\": 9.5, \"speakers\": [{\"id\": \"S1\","
        " \"role\": \"rep\", \"name\": \"Al\"}, {\"id\": \"S2\", \"channel\": 1}],"
        " \"utterances\" :\n[ {\"speaker\": \"S2\", \"start\": 5, \"end\": 6.5, \"text\": \"b ] } \\\" \\\\\"} ,"
        "{\"speaker\":\"S1\",\"start\":1,\"end\":2,\"words\":[{\"w\":\"hi\",\"start\":1,\"end\":1.5,\"conf\":0.5},"
        "{\"w\":\"there\",\"start\":1.5,\"end\":2}]}\t] , \"source\": \"x.wav\"}\n\n";
    sdra_transcript *t = load_ok("stream.json", doc, NULL);
    assert_int_equal(t->n_speakers, 2);
    assert_int_equal(t->n_utts, 2); /* the later "utterances" member counts */
    assert_true(fabs(t->duration_s - 9.5) < 1e-9);
    assert_string_equal(t->source, "x.wav");
    assert_string_equal(t->speakers[0].name, "Al");
    assert_int_equal(t->utts[0].speaker, 0); /* sorted by start */
    assert_string_equal(t->utts[0].text, "hi there");
    assert_int_equal(t->utts[0].n_words, 2);
    assert_string_equal(t->utts[1].text, "b ] } \" \\");
    assert_non_null(json_object_get(t->meta, "k"));
    sdra_transcript_destroy(t);

    static const struct {
        const char *name, *content, *needle;
    } bad[] = {
        {"trail1.json", "{\"schema\": \"sdra.transcript/1\", \"speakers\": [], \"utterances\": [],}", "trail1.json:1:"},
        {"trail2.json", "{\"schema\": \"sdra.transcript/1\", \"speakers\": [{\"id\": \"S1\"}], \"utterances\": "
                        "[{\"speaker\": \"S1\", \"start\": 0, \"end\": 1, \"text\": \"a\"},]}", "trail2.json:1:"},
        {"garbage.json", "{\"schema\": \"sdra.transcript/1\", \"speakers\": [], \"utterances\": []} x", "garbage.json:1:"},
        {"badutt.json", "{\"schema\": \"sdra.transcript/1\", \"speakers\": [], \"utterances\": [{\"a\": tru}]}", "badutt.json:1:"},
        {"notobj.json", "{\"schema\": \"sdra.transcript/1\", \"speakers\": [], \"utterances\": [1]}", "utterance object"},
        {"unclosed.json", "{\"schema\": \"sdra.transcript/1\", \"speakers\": [], \"utterances\": [{\"a\": \"}", "unclosed.json"},
        {"nocolon.json", "{\"schema\" \"sdra.transcript/1\"}", "':' expected"},
        {"badkey.json", "{schema: 1}", "string or '}' expected"},
        {"line.json", "{\"schema\": \"sdra.transcript/1\",\n\"speakers\": [],\n\"utterances\": [{\"speaker\": \"S9\", \"start\": 0, \"end\": 1}]}",
         "utterances[0].speaker"},
        {"utts.json", "{\"schema\": \"sdra.transcript/1\", \"speakers\": [], \"utterances\": \"no\"}", "must be arrays"},
        {"noschema.json", "{\"speakers\": [], \"utterances\": []}", "schema"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sdra_error err = {0};
        t = NULL;
        int rc = sdra_transcript_load(&t, write_tmp(bad[i].name, bad[i].content), NULL, &err);
        if (rc != SDRA_EINVAL || t || !strstr(err.msg, bad[i].needle) || strchr(err.msg, '\n'))
            fail_msg("%s: rc %d, message '%s'", bad[i].name, rc, err.msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(import_text_with_times), cmocka_unit_test(import_text_estimated_times),
        cmocka_unit_test(import_vtt),             cmocka_unit_test(import_srt),
        cmocka_unit_test(import_json_round_trip), cmocka_unit_test(import_bad_input),
        cmocka_unit_test(import_json_streaming_matches_whole_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
