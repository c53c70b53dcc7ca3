/* test_text_check.c - sdra_text_check_line, the one check for names (call-sheet fields, API
 * key names): plain and accented text passes; controls (C0, DEL, C1), bidi overrides and
 * isolates, line/paragraph separators and broken UTF-8 are refused with a message naming the
 * field; sdra_call_info_set applies it, and refuses a value that begins with the prefix of an
 * encrypted field. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "sdra/call.h"
#include "sdra/error.h"
#include "sdra/util.h"

static void plain_text_passes(void **state)
{
    (void)state;
    const char *ok[] = {"", "Jo Lee", "Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m", "O'Brien & Sons, Ltd.", "\xe5\xb1\xb1\xe7\x94\xb0",
                        "emoji \xf0\x9f\x98\x80", "\xe2\x80\x8f" /* U+200F RLM: a mark, not an override */};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        sdra_error err = {0};
        assert_int_equal(sdra_text_check_line("name", ok[i], &err), 0);
    }
}

static void forging_characters_are_refused(void **state)
{
    (void)state;
    const char *bad[] = {"a\nb", "a\tb", "a\rb", "a\x1b[31m", "del\x7f", "c1\xc2\x85", "c1\xc2\x9f",
                         "\xe2\x80\xaa", "\xe2\x80\xab", "\xe2\x80\xac", "\xe2\x80\xad", "evil\xe2\x80\xaetxt.exe",
                         "\xe2\x81\xa6", "\xe2\x81\xa7", "\xe2\x81\xa8", "\xe2\x81\xa9", "line\xe2\x80\xa8", "para\xe2\x80\xa9",
                         "bad\xff", "\xc3", "\xc0\xaf" /* overlong */, "\xed\xa0\x80" /* surrogate */,
                         "\xe0\x80\xaf" /* overlong */, "\xf4\x90\x80\x80" /* > U+10FFFF */};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sdra_error err = {0};
        assert_int_equal(sdra_text_check_line("contact_name", bad[i], &err), SDRA_EINVAL);
        assert_non_null(strstr(err.msg, "contact_name: "));
    }
}

/* The one UTF-8 decoder (the text check, the transcript importer, the server's error scrub and
 * the WebSocket text check use it): lengths and code points, and every malformed form refused. */
static void utf8_decode_lengths_and_refusals(void **state)
{
    (void)state;
    unsigned cp = 0;
    assert_int_equal(sdra_utf8_decode("a", 1, &cp), 1);
    assert_int_equal(cp, 'a');
    assert_int_equal(sdra_utf8_decode("\xc3\xa9", 2, &cp), 2); /* e acute */
    assert_int_equal(cp, 0xe9);
    assert_int_equal(sdra_utf8_decode("\xe2\x82\xac", 3, &cp), 3); /* euro sign */
    assert_int_equal(cp, 0x20ac);
    assert_int_equal(sdra_utf8_decode("\xf0\x9f\x98\x80", 4, &cp), 4);
    assert_int_equal(cp, 0x1f600);
    static const char *bad[] = {"\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                "\xf5\x80\x80\x80", "\xff", "\xc3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(sdra_utf8_decode(bad[i], strlen(bad[i]), &cp), 0);
    assert_int_equal(sdra_utf8_decode("\xe2\x82\xac", 2, &cp), 0); /* cut short by avail */
    assert_int_equal(sdra_utf8_decode("", 0, &cp), 0);
}

static void call_fields_use_it(void **state)
{
    (void)state;
    sdra_call_info ci = {0};
    sdra_error err = {0};
    assert_int_equal(sdra_call_info_set(&ci, "company", "Acme\xe2\x80\xae", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "bidirectional"));
    assert_int_equal(sdra_call_info_set(&ci, "rep_name", "Sam\x7f", &err), SDRA_EINVAL);
    assert_int_equal(sdra_call_info_set(&ci, "contact_name", "Zo\xc3\xab", &err), 0);
    /* the prefix of an encrypted field: stored plain, it would read back as null */
    assert_int_equal(sdra_call_info_set(&ci, "contact_name", "sdra:e1:Zoe", &err), SDRA_EINVAL);
    assert_string_equal(err.msg, "contact_name: begins with 'sdra:e1:', the prefix of an encrypted value");
    assert_string_equal(ci.contact_name, "Zo\xc3\xab");
    assert_int_equal(sdra_call_info_set(&ci, "company", "Acme sdra:e1: Ltd", &err), 0);
    sdra_call_info_release(&ci);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_text_passes),
        cmocka_unit_test(forging_characters_are_refused),
        cmocka_unit_test(call_fields_use_it),
        cmocka_unit_test(utf8_decode_lengths_and_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
