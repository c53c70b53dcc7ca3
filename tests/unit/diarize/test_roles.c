/* test_roles.c - sdra_roles_assign on small transcripts: by channel, by the rep's name or
 * company, by opener phrases, prospect phrases count against, and the first-speaker fallback. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>

#include "sdra/diarize.h"

/* Two speakers; lines alternate starting with speaker first (0 or 1). */
static sdra_transcript *make(int first, const char *const *text, int n, int stereo)
{
    sdra_transcript *t = sdra_transcript_create();
    sdra_transcript_add_speaker(t, "S1", SDRA_ROLE_UNKNOWN, stereo ? 0 : -1);
    sdra_transcript_add_speaker(t, "S2", SDRA_ROLE_UNKNOWN, stereo ? 1 : -1);
    for (int i = 0; i < n; i++)
        assert_non_null(sdra_transcript_add_utterance(t, (first + i) % 2, i * 3.0, i * 3.0 + 2.5,
                                                      text[i]));
    return t;
}

static void roles_by_channel(void **state)
{
    (void)state;
    const char *txt[] = {"hello", "hi, this is Alex from Acme"};
    sdra_transcript *t = make(0, txt, 2, 1);
    sdra_roles_params p = {.rep_channel = 0};
    sdra_error err = {0};
    assert_int_equal(sdra_roles_assign(t, &p, &err), 0);
    assert_int_equal(t->speakers[0].role, SDRA_ROLE_REP); /* the channel wins over the text */
    assert_int_equal(t->speakers[1].role, SDRA_ROLE_PROSPECT);
    p.rep_channel = 1;
    assert_int_equal(sdra_roles_assign(t, &p, &err), 0);
    assert_int_equal(t->speakers[1].role, SDRA_ROLE_REP);
    assert_int_equal(t->speakers[0].role, SDRA_ROLE_PROSPECT);
    sdra_transcript_destroy(t);
}

static void roles_by_name_and_company(void **state)
{
    (void)state;
    const char *txt[] = {"Hello?", "Hi, this is Jordan from Brightwave. Is Sam there?",
                         "Speaking. What's this about?", "We help teams cut reporting time."};
    sdra_transcript *t = make(0, txt, 4, 0); /* the prospect answers first */
    sdra_roles_params p = {.rep_channel = -1, .rep_name = "Jordan", .company = "Brightwave"};
    sdra_error err = {0};
    assert_int_equal(sdra_roles_assign(t, &p, &err), 0);
    assert_int_equal(t->speakers[1].role, SDRA_ROLE_REP);
    assert_int_equal(t->speakers[0].role, SDRA_ROLE_PROSPECT);
    sdra_transcript_destroy(t);
}

static void roles_name_said_by_prospect_does_not_count(void **state)
{
    (void)state;
    /* the prospect greets the rep by name; the rep uses an opener phrase */
    const char *txt[] = {"Oh hi Jordan, good to hear from you.",
                         "Thanks for taking my call. The reason for my call is the renewal."};
    sdra_transcript *t = make(0, txt, 2, 0);
    sdra_roles_params p = {.rep_channel = -1, .rep_name = "Jordan"};
    sdra_error err = {0};
    assert_int_equal(sdra_roles_assign(t, &p, &err), 0);
    assert_int_equal(t->speakers[1].role, SDRA_ROLE_REP);
    sdra_transcript_destroy(t);
}

static void roles_by_opener_without_name(void **state)
{
    (void)state;
    const char *txt[] = {"Yes, who is this?", "Do you have a minute? I'm calling from a data company."};
    sdra_transcript *t = make(0, txt, 2, 0);
    sdra_error err = {0};
    assert_int_equal(sdra_roles_assign(t, NULL, &err), 0);
    assert_int_equal(t->speakers[1].role, SDRA_ROLE_REP);
    assert_int_equal(t->speakers[0].role, SDRA_ROLE_PROSPECT);
    sdra_transcript_destroy(t);
}

static void roles_wildcard_introduction(void **state)
{
    (void)state;
    /* the name is unknown and misrecognised; "this is * from" still finds the introduction,
     * and the prospect's refusal counts against them */
    const char *txt[] = {"hi this is alex from tried to wave", "not really what are you selling",
                         "we could talk next month", "we are not interested"};
    sdra_transcript *t = make(0, txt, 4, 0);
    sdra_error err = {0};
    assert_int_equal(sdra_roles_assign(t, NULL, &err), 0);
    assert_int_equal(t->speakers[0].role, SDRA_ROLE_REP);
    assert_int_equal(t->speakers[1].role, SDRA_ROLE_PROSPECT);
    /* the same words said by the other speaker move the role with them */
    const char *txt2[] = {"not really what are you selling", "hi this is alex from brightwave"};
    sdra_transcript *t2 = make(0, txt2, 2, 0);
    assert_int_equal(sdra_roles_assign(t2, NULL, &err), 0);
    assert_int_equal(t2->speakers[1].role, SDRA_ROLE_REP);
    /* a '*' must stand for exactly one word: "this is from" is not an introduction */
    const char *txt3[] = {"ok", "this is from the old days"};
    sdra_transcript *t3 = make(0, txt3, 2, 0);
    assert_int_equal(sdra_roles_assign(t3, NULL, &err), 0);
    assert_int_equal(t3->speakers[0].role, SDRA_ROLE_REP); /* fallback: first speaker */
    sdra_transcript_destroy(t);
    sdra_transcript_destroy(t2);
    sdra_transcript_destroy(t3);
}

static void roles_fallback_is_first_speaker(void **state)
{
    (void)state;
    const char *txt[] = {"Nice weather today.", "Indeed it is.", "See you then."};
    sdra_transcript *t = make(1, txt, 3, 0); /* S2 speaks first */
    sdra_roles_params p = {.rep_channel = 1}; /* mono speakers: no channel 1, so text decides */
    sdra_error err = {0};
    assert_int_equal(sdra_roles_assign(t, &p, &err), 0);
    assert_int_equal(t->speakers[1].role, SDRA_ROLE_REP);
    assert_int_equal(t->speakers[0].role, SDRA_ROLE_PROSPECT);
    sdra_transcript_destroy(t);
}

static int with_share_dir(const char *dir, sdra_transcript *t, sdra_error *err)
{
    const char *old = getenv("SDRA_SHARE_DIR");
    char *saved = old ? strdup(old) : NULL;
    setenv("SDRA_SHARE_DIR", dir, 1);
    int rc = sdra_roles_assign(t, NULL, err);
    if (saved) {
        setenv("SDRA_SHARE_DIR", saved, 1);
        free(saved);
    } else {
        unsetenv("SDRA_SHARE_DIR");
    }
    return rc;
}

static void roles_missing_or_bad_phrase_file_fails(void **state)
{
    (void)state;
    const char *txt[] = {"hello", "hi"};
    sdra_transcript *t = make(0, txt, 2, 0);
    t->speakers[0].role = SDRA_ROLE_UNKNOWN;
    sdra_error err = {0};
    assert_int_equal(with_share_dir("/nonexistent-sdra-share", t, &err), SDRA_ENOTFOUND);
    assert_non_null(strstr(err.msg, "rep-phrases.txt"));
    assert_int_equal(t->speakers[0].role, SDRA_ROLE_UNKNOWN); /* unchanged */

    const char *tmp = getenv("SDRA_TEST_TMP");
    char dir[512], sub[600], path[700];
    snprintf(dir, sizeof dir, "%s/roles-share", tmp ? tmp : "/tmp");
    snprintf(sub, sizeof sub, "%s/roles", dir);
    mkdir(tmp ? tmp : "/tmp", 0700);
    mkdir(dir, 0700);
    mkdir(sub, 0700);
    snprintf(path, sizeof path, "%s/rep-phrases.txt", sub);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("# ok\n3 the reason for my call\nthree is not a weight\n", f);
    fclose(f);
    assert_int_equal(with_share_dir(dir, t, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "rep-phrases.txt:3"));
    assert_int_equal(t->speakers[0].role, SDRA_ROLE_UNKNOWN);
    assert_int_equal(sdra_roles_assign(NULL, NULL, &err), SDRA_EINVAL);
    sdra_transcript_destroy(t);
}

static void roles_name_match_near_misses(void **state)
{
    (void)state;
#define M(h, n) sdra_roles_name_match(h, strlen(h), n, strlen(n))
    assert_true(M("diane", "Diane"));
    assert_true(M("dian", "Diane"));   /* ASR drops the final e */
    assert_true(M("dianne", "Diane"));
    assert_true(M("shela", "Sheila"));
    assert_true(M("jordon", "Jordan"));
    assert_true(M("katherine", "Catherine")); /* same key, one letter */
    assert_false(M("down", "Diane"));
    assert_false(M("done", "Diane"));
    assert_false(M("texas", "Sheila"));
    assert_false(M("el", "Al"));       /* short names: exact only */
    assert_true(M("al", "Al"));
    assert_false(M("", "Al"));
#undef M
}

/* pyannote-sample's opening as PocketSphinx hears it: the callee speaks first, names are
 * misrecognised, and the phrase list alone would call the first speaker the rep. */
static void roles_by_names_with_near_misses(void **state)
{
    (void)state;
    const char *txt[] = {"hello", "hello", "oh hello this is dian in new jersey",
                         "and i'm shela in texas originally from chicago"};
    sdra_transcript *t = make(0, txt, 4, 0);
    sdra_roles_params p = {.rep_channel = -1, .rep_name = "Sheila", .contact_name = "Diane"};
    sdra_error err = {0};
    assert_int_equal(sdra_roles_assign(t, &p, &err), 0);
    assert_int_equal(t->speakers[1].role, SDRA_ROLE_REP);
    assert_int_equal(t->speakers[0].role, SDRA_ROLE_PROSPECT);
    assert_string_equal(t->speakers[1].role_by, "names");
    assert_non_null(strstr(t->speakers[1].role_evidence, "i'm shela"));
    /* the other way round: the roles follow the names */
    p.rep_name = "Diane";
    p.contact_name = "Sheila";
    assert_int_equal(sdra_roles_assign(t, &p, &err), 0);
    assert_int_equal(t->speakers[0].role, SDRA_ROLE_REP);
    assert_int_equal(t->speakers[1].role, SDRA_ROLE_PROSPECT);
    /* only the rep's name known: still decided by who claims it */
    p.contact_name = NULL;
    assert_int_equal(sdra_roles_assign(t, &p, &err), 0);
    assert_int_equal(t->speakers[0].role, SDRA_ROLE_REP);
    assert_string_equal(t->speakers[0].role_by, "names");
    sdra_transcript_destroy(t);
}

static void roles_by_address_and_name_here(void **state)
{
    (void)state;
    /* the rep only addresses the contact ("is this Jordan"); the contact says "Jordan here" */
    const char *txt[] = {"jordan here", "hi is this jordan lee", "yes", "great thanks jordan"};
    sdra_transcript *t = make(0, txt, 4, 0);
    sdra_roles_params p = {.rep_channel = -1, .rep_name = "Alex", .contact_name = "Jordan Lee"};
    sdra_error err = {0};
    assert_int_equal(sdra_roles_assign(t, &p, &err), 0);
    assert_int_equal(t->speakers[1].role, SDRA_ROLE_REP);
    assert_int_equal(t->speakers[0].role, SDRA_ROLE_PROSPECT);
    assert_string_equal(t->speakers[0].role_by, "names");
    sdra_transcript_destroy(t);
}

static void roles_names_without_evidence_fall_back(void **state)
{
    (void)state;
    const char *txt[] = {"Nice weather today.", "Indeed it is, I'm done here."};
    sdra_transcript *t = make(0, txt, 2, 0);
    sdra_roles_params p = {.rep_channel = -1, .rep_name = "Diane", .contact_name = "Sheila"};
    sdra_error err = {0};
    assert_int_equal(sdra_roles_assign(t, &p, &err), 0);
    assert_int_equal(t->speakers[0].role, SDRA_ROLE_REP);
    assert_string_equal(t->speakers[0].role_by, "first_speaker");
    /* by channel, recorded as such */
    sdra_transcript *t2 = make(0, txt, 2, 1);
    p.rep_channel = 1;
    assert_int_equal(sdra_roles_assign(t2, &p, &err), 0);
    assert_string_equal(t2->speakers[1].role_by, "channel");
    sdra_transcript_destroy(t);
    sdra_transcript_destroy(t2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roles_by_channel),
        cmocka_unit_test(roles_by_name_and_company),
        cmocka_unit_test(roles_name_said_by_prospect_does_not_count),
        cmocka_unit_test(roles_by_opener_without_name),
        cmocka_unit_test(roles_wildcard_introduction),
        cmocka_unit_test(roles_fallback_is_first_speaker),
        cmocka_unit_test(roles_missing_or_bad_phrase_file_fails),
        cmocka_unit_test(roles_name_match_near_misses),
        cmocka_unit_test(roles_by_names_with_near_misses),
        cmocka_unit_test(roles_by_address_and_name_here),
        cmocka_unit_test(roles_names_without_evidence_fall_back),
    };
    return cmocka_run_group_tests_name("diarize_roles", tests, NULL, NULL);
}
