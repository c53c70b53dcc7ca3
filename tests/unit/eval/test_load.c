/* test_load.c - the readers: RTTM and STM read right, transcripts and plain text as
 * hypotheses, and malformed or missing files fail with SDRA_EINVAL / SDRA_ENOTFOUND naming the
 * file (and the line). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sdra/eval.h"

static char dir[512];

static const char *write_file(const char *name, const char *content)
{
    static char path[4][700];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 700, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    return p;
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("SDRA_TEST_TMP");
    mkdir(tmp ? tmp : "/tmp", 0700);
    snprintf(dir, sizeof dir, "%s/eval-load", tmp ? tmp : "/tmp");
    mkdir(dir, 0700);
    return 0;
}

static void eval_rttm_reads_speaker_records(void **state)
{
    (void)state;
    const char *p = write_file("a.rttm", ";; comment\n"
                                         "SPEAKER call 1 0.50 1.25 <NA> <NA> alice <NA> <NA>\n"
                                         "SPKR-INFO call 1 <NA> <NA> <NA> unknown bob <NA>\n"
                                         "SPEAKER call 1 2.00 1.00 <NA> <NA> bob <NA> <NA>\r\n"
                                         "\n");
    sdra_eval_segs s = {0};
    sdra_error err = {0};
    assert_int_equal(sdra_eval_rttm_load(&s, p, &err), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.n_names, 2);
    assert_string_equal(s.names[s.v[1].speaker], "bob");
    assert_true(fabs(s.v[0].end - 1.75) < 1e-9);
    sdra_eval_segs_release(&s);
}

static void eval_malformed_inputs_fail_cleanly(void **state)
{
    (void)state;
    sdra_eval_segs s = {0};
    sdra_error err = {0};
    const char *p = write_file("bad.rttm", "SPEAKER call 1 0.5 1 <NA> <NA> a <NA> <NA>\n"
                                           "SPEAKER call 1 abc 1 <NA> <NA> a <NA> <NA>\n");
    assert_int_equal(sdra_eval_rttm_load(&s, p, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "bad.rttm:2"));
    sdra_eval_segs_release(&s);
    p = write_file("short.rttm", "SPEAKER call 1 0.5\n");
    assert_int_equal(sdra_eval_rttm_load(&s, p, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "short.rttm:1"));
    sdra_eval_segs_release(&s);
    p = write_file("prose.rttm", "this is not an rttm file\n");
    assert_int_equal(sdra_eval_rttm_load(&s, p, &err), SDRA_EINVAL);
    sdra_eval_segs_release(&s);
    p = write_file("empty.rttm", "");
    assert_int_equal(sdra_eval_rttm_load(&s, p, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "empty.rttm"));
    sdra_eval_segs_release(&s);
    assert_int_equal(sdra_eval_rttm_load(&s, "/nonexistent/x.rttm", &err), SDRA_ENOTFOUND);
    assert_non_null(strstr(err.msg, "/nonexistent/x.rttm"));

    sdra_eval_words w = {0};
    p = write_file("bad.stm", "call 1 A 0.0 1.0 hello\ncall 1 B 2.0\n");
    assert_int_equal(sdra_eval_stm_load(p, &w, NULL, NULL, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "bad.stm:2"));
    sdra_eval_words_release(&w);
    p = write_file("rev.stm", "call 1 A 3.0 1.0 hello\n");
    assert_int_equal(sdra_eval_stm_load(p, &w, NULL, NULL, &err), SDRA_EINVAL);
    sdra_eval_words_release(&w);

    int is_t = 0;
    p = write_file("broken.json", "{\"schema\": \"sdra.transcript/1\", \"speakers\": [");
    assert_int_equal(sdra_eval_text_load(p, &w, NULL, &is_t, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "broken.json"));
    sdra_eval_words_release(&w);
    assert_int_equal(sdra_eval_turns_load(&s, p, &err), SDRA_EINVAL);
    sdra_eval_segs_release(&s);
    p = write_file("other.json", "{\"schema\": \"something/1\"}");
    assert_int_equal(sdra_eval_turns_load(&s, p, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "other.json"));
    sdra_eval_segs_release(&s);
}

static void eval_stm_words_in_time_order(void **state)
{
    (void)state;
    const char *p = write_file("a.stm", ";; header\n"
                                        "call 1 B 2.0 3.0 <o,f0,male> how are you\n"
                                        "call 1 A 0.0 1.5 Hello, Bob.\n"
                                        "call 1 A 4.0 5.0 ignore_time_segment_in_scoring\n"
                                        "call 1 A 3.5 4.0 fine\n");
    sdra_eval_words all = {0};
    sdra_eval_spk_words by = {0};
    sdra_eval_segs segs = {0};
    sdra_error err = {0};
    assert_int_equal(sdra_eval_stm_load(p, &all, &by, &segs, &err), 0);
    assert_int_equal(all.n, 6);
    assert_string_equal(all.v[0], "hello");
    assert_string_equal(all.v[2], "how");
    assert_string_equal(all.v[5], "fine");
    assert_int_equal(by.n, 2);
    assert_string_equal(by.names[0], "A");
    assert_int_equal(by.words[0].n, 3);
    assert_int_equal(segs.n, 3);
    sdra_eval_words_release(&all);
    sdra_eval_spk_words_release(&by);
    sdra_eval_segs_release(&segs);
}

static void eval_transcript_and_text_hypotheses(void **state)
{
    (void)state;
    const char *p = write_file(
        "t.json",
        "{\"schema\": \"sdra.transcript/1\", \"duration\": 6,"
        " \"speakers\": [{\"id\": \"S1\", \"role\": \"rep\"}, {\"id\": \"S2\", \"role\": \"prospect\"}],"
        " \"utterances\": [{\"speaker\": \"S2\", \"start\": 3.0, \"end\": 4.0, \"text\": \"second part\"},"
        " {\"speaker\": \"S1\", \"start\": 0.5, \"end\": 2.0, \"text\": \"First, part.\"}]}");
    sdra_eval_words all = {0};
    sdra_eval_spk_words by = {0};
    sdra_eval_segs segs = {0};
    sdra_error err = {0};
    int is_t = 0;
    int rc = sdra_eval_text_load(p, &all, &by, &is_t, &err);
    if (rc < 0)
        fail_msg("%s", err.msg);
    assert_true(is_t);
    assert_int_equal(all.n, 4);
    assert_string_equal(all.v[0], "first"); /* sorted by time */
    assert_int_equal(by.n, 2);
    assert_int_equal(sdra_eval_turns_load(&segs, p, &err), 0);
    assert_int_equal(segs.n, 2);
    assert_int_equal(segs.n_names, 2);
    sdra_eval_words_release(&all);
    sdra_eval_spk_words_release(&by);
    sdra_eval_segs_release(&segs);

    p = write_file("h.txt", "Just some words.\nOn two lines\n");
    assert_int_equal(sdra_eval_text_load(p, &all, NULL, &is_t, &err), 0);
    assert_false(is_t);
    assert_int_equal(all.n, 6);
    sdra_eval_words_release(&all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eval_rttm_reads_speaker_records),
        cmocka_unit_test(eval_malformed_inputs_fail_cleanly),
        cmocka_unit_test(eval_stm_words_in_time_order),
        cmocka_unit_test(eval_transcript_and_text_hypotheses),
    };
    return cmocka_run_group_tests_name("eval_load", tests, setup, NULL);
}
