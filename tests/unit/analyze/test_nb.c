/* test_nb.c - the learned classifiers (src/analyze/nb.c): trained on a small examples file
 * the pain classifier rates an unseen sentence about a problem above an unseen neutral one;
 * the objection classifier also names the likeliest type; the shipped examples separate
 * held-out wordings; a missing file means no classifier; a line with a label the caller did
 * not name is an error naming file and line; and the analysis marks what it found as
 * "learned". */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "analyze/internal.h"
#include "sdra/analyze.h"
#include "sdra/transcript.h"
#include "sdra/util.h"

static const char *const PAIN[] = {"0", "1"};

static double score_of(const an_nb *m, const char *text)
{
    an_tok toks[128];
    int n = an_tokenize(text, toks, 128);
    return an_nb_score(m, toks, 0, n, NULL);
}

/* the likeliest positive label of text */
static const char *type_of(const an_nb *m, const char *text)
{
    an_tok toks[128];
    int n = an_tokenize(text, toks, 128), k = -1;
    an_nb_score(m, toks, 0, n, &k);
    return an_nb_label(m, k);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void nb_pain_learns_and_generalises(void **state)
{
    (void)state;
    char path[] = "/tmp/sdra-nb-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, "1\tour team spends hours every week fixing invoices by hand\n"
                     "1\twe keep losing orders because quotes go out late\n"
                     "1\tit takes us two days to close the month and it is a mess\n"
                     "0\tsure, happy to chat\n"
                     "0\tthat sounds good, send it over\n"
                     "0\twe have about twenty people in the office\n");
    an_nb *m = NULL;
    sdra_error err = {0};
    assert_int_equal(an_nb_load(&m, path, PAIN, 2, &err), 0);
    assert_non_null(m);
    /* neither sentence was trained on */
    double pain = score_of(m, "the team spends every friday fixing orders by hand");
    double calm = score_of(m, "happy to chat, send it over");
    assert_true(pain > 0);
    assert_true(calm < 0);
    an_nb_free(m);

    /* a malformed line names file and line */
    write_file(path, "1\ta problem we have\nmaybe\tnot a label\n");
    assert_int_equal(an_nb_load(&m, path, PAIN, 2, &err), SDRA_EINVAL);
    assert_null(m);
    assert_non_null(strstr(err.msg, ":2:"));
    /* a label the caller did not name */
    write_file(path, "1\ta problem we have\n0\tfine\n2\tanother\n");
    assert_int_equal(an_nb_load(&m, path, PAIN, 2, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, ":3:"));
    /* one kind only is no classifier */
    write_file(path, "1\ta problem we have\n");
    assert_int_equal(an_nb_load(&m, path, PAIN, 2, &err), SDRA_EINVAL);
    unlink(path);
    /* no file: no classifier, no error */
    assert_int_equal(an_nb_load(&m, path, PAIN, 2, &err), 0);
    assert_null(m);
}

/* Several positive labels: the score is any of them against the negative one, and the best
 * names which. */
static void nb_objection_types(void **state)
{
    (void)state;
    char path[] = "/tmp/sdra-nb-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, "price\tthat is a lot more than we budgeted for this year\n"
                     "price\tthe cost per seat is steep for us\n"
                     "authority\tI would have to run it past my boss first\n"
                     "authority\tthe board signs off on anything like this\n"
                     "none\tsure, happy to chat\n"
                     "none\twe have about twenty people in the office\n"
                     "none\tthursday works for me\n");
    static const char *const types[] = {"none", "price", "authority"};
    an_nb *m = NULL;
    sdra_error err = {0};
    assert_int_equal(an_nb_load(&m, path, types, 3, &err), 0);
    assert_non_null(m);
    assert_string_equal(type_of(m, "honestly the cost is more than we budgeted"), "price");
    assert_string_equal(type_of(m, "my boss signs off on it"), "authority");
    assert_true(score_of(m, "the cost is steep") > score_of(m, "happy to chat on thursday"));
    an_nb_free(m);
    unlink(path);
}

/* The shipped examples (data/analyze/pain_examples.txt) on wordings written for this test. */
static void nb_pain_shipped_examples(void **state)
{
    (void)state;
    char path[4096];
    assert_int_equal(sdra_share_path(path, sizeof path, "analyze/pain_examples.txt"), 0);
    an_nb *m = NULL;
    sdra_error err = {0};
    assert_int_equal(an_nb_load(&m, path, PAIN, 2, &err), 0);
    assert_non_null(m);
    static const char *pains[] = {
        "Honestly our dispatchers waste half the morning ringing drivers to find out where they are.",
        "We had three complaints last month because deliveries showed up a day late.",
        "Every quarter end my finance team works until midnight pulling numbers out of five systems.",
    };
    static const char *calm[] = {
        "Yes, Thursday works for me.",
        "We're a team of about forty, based in Leeds.",
        "Thanks for calling, I have a few minutes.",
    };
    /* every pain above every calm sentence; none of the calm ones reported (threshold 1.5,
     * PAIN_NB_MIN),
     * and at least one of the pains (on unseen calls it finds about a third to three quarters) */
    int reported = 0;
    for (size_t i = 0; i < 3; i++) {
        double p = score_of(m, pains[i]);
        reported += p >= 1.5;
        for (size_t j = 0; j < 3; j++) {
            double q = score_of(m, calm[j]);
            if (p <= q || q >= 1.5)
                fail_msg("'%s' %.2f / '%s' %.2f", pains[i], p, calm[j], q);
        }
    }
    fprintf(stderr, "nb: %d of 3 pains reported\n", reported);
    assert_true(reported >= 1);
    an_nb_free(m);
}

/* Pain points of one prospect line analysed with the rules of dir. */
static size_t learned_pains(const char *dir, const char *line)
{
    sdra_transcript *t = sdra_transcript_create();
    int r = sdra_transcript_add_speaker(t, "S1", SDRA_ROLE_REP, -1);
    int p = sdra_transcript_add_speaker(t, "S2", SDRA_ROLE_PROSPECT, -1);
    assert_non_null(sdra_transcript_add_utterance(t, r, 0.0, 2.0, "How are things at the depot?"));
    assert_non_null(sdra_transcript_add_utterance(t, p, 3.0, 6.0, line));
    sdra_analyze_params prm = sdra_analyze_default_params();
    prm.call_date = "2026-11-24";
    prm.rules_dir = dir;
    json_t *doc = NULL;
    sdra_error err = {0};
    if (sdra_analyze(&doc, t, &prm, &err) < 0)
        fail_msg("analyze: %s", err.msg);
    size_t n = 0, i;
    json_t *o;
    json_array_foreach(json_object_get(doc, "pain_points"), i, o)
        n += json_is_true(json_object_get(o, "learned"));
    json_decref(doc);
    sdra_transcript_destroy(t);
    return n;
}

/* The classifiers are trained once per process and examples file: a second analysis reuses
 * them, and a changed file (another size or modification time) is trained again. */
static void nb_retrained_when_examples_change(void **state)
{
    (void)state;
    char dir[] = "/tmp/sdra-nb-rules-XXXXXX", src[4096], path[4200];
    assert_non_null(mkdtemp(dir));
    assert_int_equal(sdra_share_path(src, sizeof src, "analyze"), 0);
    DIR *d = opendir(src);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) { /* the shipped rules, not their examples */
        if (e->d_name[0] == '.' || strstr(e->d_name, "_examples.txt"))
            continue;
        char from[4400];
        snprintf(from, sizeof from, "%s/%s", src, e->d_name);
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        assert_int_equal(symlink(from, path), 0);
    }
    closedir(d);
    const char *line = "The blue widgets squeak loudly near the loading bay every single morning.";
    snprintf(path, sizeof path, "%s/pain_examples.txt", dir);
    write_file(path, "1\tthe blue widgets squeak loudly near the bay\n1\twidgets squeak every morning at the loading bay\n"
                     "0\tsure, happy to chat\n0\tthursday works for me\n0\twe have twenty people\n");
    assert_int_equal(learned_pains(dir, line), 1);
    assert_int_equal(learned_pains(dir, line), 1); /* the cached classifier */
    /* the same sentences, labelled the other way, and a later modification time */
    write_file(path, "0\tthe blue widgets squeak loudly near the bay\n0\twidgets squeak every morning at the loading bay\n"
                     "1\tsure, happy to chat\n1\tthursday works for me\n1\twe have twenty people\n");
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec += 10;
    tv[1] = tv[0];
    assert_int_equal(utimes(path, tv), 0);
    assert_int_equal(learned_pains(dir, line), 0);
    d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nb_pain_learns_and_generalises),
        cmocka_unit_test(nb_pain_shipped_examples),
        cmocka_unit_test(nb_objection_types),
        cmocka_unit_test(nb_retrained_when_examples_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
