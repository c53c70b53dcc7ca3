/* test_painnb.c - the pain classifier (src/analyze/painnb.c): trained on a small examples file
 * it rates an unseen sentence about a problem above an unseen neutral one; the shipped
 * examples separate held-out wordings; a missing file means no classifier; a malformed line
 * is an error naming file and line; and the analysis marks what it found as "learned". */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze/internal.h"
#include "sdra/analyze.h"
#include "sdra/util.h"

static double score_of(const an_nb *m, const char *text)
{
    an_tok toks[128];
    int n = an_tokenize(text, toks, 128);
    return an_nb_score(m, toks, 0, n);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void painnb_learns_and_generalises(void **state)
{
    (void)state;
    char path[] = "/tmp/sdra-painnb-XXXXXX";
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
    assert_int_equal(an_nb_load(&m, path, &err), 0);
    assert_non_null(m);
    /* neither sentence was trained on */
    double pain = score_of(m, "the team spends every friday fixing orders by hand");
    double calm = score_of(m, "happy to chat, send it over");
    assert_true(pain > 0);
    assert_true(calm < 0);
    an_nb_free(m);

    /* a malformed line names file and line */
    write_file(path, "1\ta problem we have\nmaybe\tnot a label\n");
    assert_int_equal(an_nb_load(&m, path, &err), SDRA_EINVAL);
    assert_null(m);
    assert_non_null(strstr(err.msg, ":2:"));
    /* one kind only is no classifier */
    write_file(path, "1\ta problem we have\n");
    assert_int_equal(an_nb_load(&m, path, &err), SDRA_EINVAL);
    unlink(path);
    /* no file: no classifier, no error */
    assert_int_equal(an_nb_load(&m, path, &err), 0);
    assert_null(m);
}

/* The shipped examples (data/analyze/pain_examples.txt) on wordings written for this test. */
static void painnb_shipped_examples(void **state)
{
    (void)state;
    char path[4096];
    assert_int_equal(sdra_share_path(path, sizeof path, "analyze/pain_examples.txt"), 0);
    an_nb *m = NULL;
    sdra_error err = {0};
    assert_int_equal(an_nb_load(&m, path, &err), 0);
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
    /* every pain above every calm sentence; none of the calm ones reported (threshold 3),
     * and at least one of the pains (on unseen calls it finds about a third to three quarters) */
    int reported = 0;
    for (size_t i = 0; i < 3; i++) {
        double p = score_of(m, pains[i]);
        reported += p >= 3.0;
        for (size_t j = 0; j < 3; j++) {
            double q = score_of(m, calm[j]);
            if (p <= q || q >= 3.0)
                fail_msg("'%s' %.2f / '%s' %.2f", pains[i], p, calm[j], q);
        }
    }
    fprintf(stderr, "painnb: %d of 3 pains reported\n", reported);
    assert_true(reported >= 1);
    an_nb_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(painnb_learns_and_generalises),
        cmocka_unit_test(painnb_shipped_examples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
