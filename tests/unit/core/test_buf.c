/* test_buf.c - the bounded buffer: growth, the hard limit, failure leaves it unchanged. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "sdra/buf.h"
#include "sdra/error.h"

static void buf_grows_and_terminates(void **state)
{
    (void)state;
    sdra_buf b;
    sdra_buf_init(&b, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(sdra_buf_printf(&b, "%d,", i), 0);
    assert_int_equal(strlen(b.data), b.len);
    assert_memory_equal(b.data, "0,1,2,", 6);
    char *s = sdra_buf_detach(&b);
    assert_null(b.data);
    free(s);
}

static void buf_limit_leaves_buffer_unchanged(void **state)
{
    (void)state;
    sdra_buf b;
    sdra_buf_init(&b, 8);
    assert_int_equal(sdra_buf_puts(&b, "12345"), 0);
    assert_int_equal(sdra_buf_puts(&b, "6789"), SDRA_ELIMIT);
    assert_string_equal(b.data, "12345");
    assert_int_equal(sdra_buf_printf(&b, "%s", "abcd"), SDRA_ELIMIT);
    assert_int_equal(b.len, 5);
    assert_int_equal(sdra_buf_puts(&b, "678"), 0);
    assert_string_equal(b.data, "12345678");
    sdra_buf_release(&b);
}

static void error_set_formats_one_line(void **state)
{
    (void)state;
    sdra_error err = {0};
    assert_int_equal(sdra_error_set(&err, SDRA_ETIMEOUT, "a\nb %d", 3), SDRA_ETIMEOUT);
    assert_string_equal(err.msg, "a b 3");
    assert_true(err.retryable);
    sdra_error_prefix(&err, "stage %s", "x");
    assert_string_equal(err.msg, "stage x: a b 3");
    assert_string_equal(sdra_code_name(SDRA_EINVAL), "invalid_input");
    assert_int_equal(sdra_error_set(NULL, SDRA_EIO, "ignored"), SDRA_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_grows_and_terminates),
        cmocka_unit_test(buf_limit_leaves_buffer_unchanged),
        cmocka_unit_test(error_set_formats_one_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
