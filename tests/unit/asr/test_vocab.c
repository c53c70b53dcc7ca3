/*
 * test_vocab.c - the user vocabulary file format (docs/vocabulary.md): words, optional CMUdict
 * pronunciations, comments; each malformed input fails with a message naming file and line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdra/asr.h"

static int parse(sdra_asr_vocab **v, const char *text, sdra_error *err)
{
    return sdra_asr_vocab_parse(v, text, strlen(text), "vocab.txt", err);
}

static void vocab_parses_entries(void **state)
{
    sdra_asr_vocab *v = NULL;
    sdra_error err = {0};
    const char *text = "# company words\n"
                       "\n"
                       "Brightwave B R AY T W EY V   # our name\n"
                       "hubspot hh ah1 b s p aa2 t\r\n"
                       "salesforce\n"
                       "o'neil OW N IY L";
    assert_int_equal(parse(&v, text, &err), 0);
    assert_int_equal(v->n_entries, 4);
    assert_string_equal(v->entries[0].word, "brightwave");
    assert_string_equal(v->entries[0].phones, "B R AY T W EY V");
    assert_int_equal(v->entries[0].line, 3);
    assert_string_equal(v->entries[1].word, "hubspot");
    assert_string_equal(v->entries[1].phones, "HH AH B S P AA T"); /* stress removed */
    assert_string_equal(v->entries[2].word, "salesforce");
    assert_null(v->entries[2].phones);
    assert_string_equal(v->entries[3].word, "o'neil");
    sdra_asr_vocab_destroy(v);
    sdra_asr_vocab_destroy(NULL);
}

static void vocab_rejects_bad_input(void **state)
{
    sdra_asr_vocab *v = NULL;
    sdra_error err = {0};
    assert_int_equal(parse(&v, "acme AE K M IY\nzed Z EH QQ\n", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "vocab.txt:2:"));
    assert_non_null(strstr(err.msg, "QQ"));
    assert_int_equal(parse(&v, "<s> S\n", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "vocab.txt:1:"));
    assert_int_equal(parse(&v, "ok OW K EY\nbad/word B AE D\n", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, ":2:"));
    assert_int_equal(parse(&v, "# only a comment\n\n", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "no words"));
    char longline[2000];
    memset(longline, 'a', sizeof longline - 1);
    longline[sizeof longline - 1] = 0;
    assert_int_equal(parse(&v, longline, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "longer than"));
    char longword[100];
    memset(longword, 'b', 80);
    strcpy(longword + 80, " B\n");
    assert_int_equal(parse(&v, longword, &err), SDRA_EINVAL);
    assert_int_equal(sdra_asr_vocab_parse(&v, "a\0b\n", 4, "vocab.txt", &err), SDRA_EINVAL);
    assert_null(v);
}

static void vocab_limits(void **state)
{
    size_t n = SDRA_ASR_VOCAB_MAX_ENTRIES + 1;
    char *text = malloc(n * 4 + 1);
    assert_non_null(text);
    for (size_t i = 0; i < n; i++)
        memcpy(text + i * 4, "ab\n\n", 4);
    text[n * 4] = 0;
    sdra_asr_vocab *v = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_asr_vocab_parse(&v, text, n * 4, "big.txt", &err), SDRA_ELIMIT);
    free(text);
    assert_int_equal(sdra_asr_vocab_load(&v, "/nonexistent/vocab.txt", &err), SDRA_ENOTFOUND);
    assert_true(sdra_asr_phone_valid("ZH"));
    assert_false(sdra_asr_phone_valid("SIL"));
    assert_false(sdra_asr_phone_valid("ah"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vocab_parses_entries),
        cmocka_unit_test(vocab_rejects_bad_input),
        cmocka_unit_test(vocab_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
