/*
 * test_delivery_fields.c - the call fields that steer delivery (send_at, callback_url,
 * contact_timezone: sdra/call.h) and secrets from NAME_FILE (sdra/env.h): RFC 3339 times with
 * a zone or "next", refused without a zone or out of range; NAME_FILE read with its trailing
 * newline stripped and removed afterwards; NAME and NAME_FILE both set, an empty file, a
 * second line: one-line errors that never quote the value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sdra/call.h"
#include "sdra/env.h"

static void fields_send_at_rfc3339_or_next(void **state)
{
    (void)state;
    bool next = true;
    int64_t ms = -1;
    sdra_error err = {0};
    assert_int_equal(sdra_send_at_parse("2031-01-06T09:30:00-05:00", &next, &ms, &err), 0);
    assert_false(next);
    assert_int_equal(ms, 1925476200000LL); /* 14:30 UTC */
    assert_int_equal(sdra_send_at_parse("2031-01-06t14:30z", &next, &ms, &err), 0);
    assert_int_equal(ms, 1925476200000LL);
    assert_int_equal(sdra_send_at_parse("2031-01-06 15:30:00.250+01:00", &next, &ms, &err), 0);
    assert_int_equal(ms, 1925476200000LL);
    assert_int_equal(sdra_send_at_parse("next", &next, &ms, &err), 0);
    assert_true(next);
    const char *bad[] = {"2031-01-06T09:30:00", "tomorrow", "2031-02-30T09:30:00Z", "2031-01-06T24:00:00Z",
                         "2031-01-06T09:30:00+25:00", "2031-01-06T09:30:00Zjunk", "", "1969-12-31T23:59:59Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = '\0';
        assert_int_equal(sdra_send_at_parse(bad[i], &next, &ms, &err), SDRA_EINVAL);
        assert_non_null(strstr(err.msg, "send_at"));
        assert_null(strchr(err.msg, '\n'));
    }
    sdra_call_info ci = {0};
    assert_int_equal(sdra_call_info_set(&ci, "send_at", "next", &err), 0);
    assert_int_equal(sdra_call_info_set(&ci, "callback_url", "https://hooks.example/x", &err), 0);
    assert_int_equal(sdra_call_info_set(&ci, "callback_url", "file:///etc/passwd", &err), SDRA_EINVAL);
    assert_int_equal(sdra_call_info_set(&ci, "contact_timezone", "America/New_York", &err), 0);
    json_t *j = sdra_call_info_to_json(&ci);
    assert_string_equal(json_string_value(json_object_get(j, "send_at")), "next");
    assert_string_equal(json_string_value(json_object_get(j, "callback_url")), "https://hooks.example/x");
    json_decref(j);
    sdra_call_info_release(&ci);
}

static char dir[256];

static void write_file(const char *name, const char *content, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static void fields_env_from_files(void **state)
{
    (void)state;
    const char *tmp = getenv("SDRA_TEST_TMP");
    snprintf(dir, sizeof dir, "%s/envfile-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    char mk[300];
    snprintf(mk, sizeof mk, "mkdir -p %s", tmp && *tmp ? tmp : "/tmp");
    assert_int_equal(system(mk), 0);
    assert_non_null(mkdtemp(dir));
    char p1[320], p2[320], p3[320];
    write_file("tok", "pat-na1-secret\r\n\n", p1, sizeof p1);
    write_file("two", "line one\nline two\n", p2, sizeof p2);
    write_file("empty", "\n", p3, sizeof p3);
    sdra_error err = {0};

    assert_true(sdra_env_file_capable("SDRA_HUBSPOT_TOKEN"));
    assert_true(sdra_env_file_capable("SDRA_ORG_ACME__SMTP_URL"));
    assert_false(sdra_env_file_capable("SDRA_SALESFORCE_JWT_KEY")); /* its _FILE is a path already */
    assert_false(sdra_env_file_capable("HOME_URL"));

    unsetenv("SDRA_UT_TOKEN");
    setenv("SDRA_UT_TOKEN_FILE", p1, 1);
    assert_int_equal(sdra_env_load_files(&err), 0);
    assert_string_equal(getenv("SDRA_UT_TOKEN"), "pat-na1-secret");
    assert_null(getenv("SDRA_UT_TOKEN_FILE"));

    setenv("SDRA_UT_TOKEN_FILE", p1, 1); /* both set now */
    assert_int_equal(sdra_env_load_files(&err), SDRA_EINVAL);
    assert_string_equal(err.msg, "SDRA_UT_TOKEN and SDRA_UT_TOKEN_FILE are both set: use one of them");
    unsetenv("SDRA_UT_TOKEN_FILE");
    unsetenv("SDRA_UT_TOKEN");

    setenv("SDRA_UT_URL_FILE", p2, 1);
    assert_int_equal(sdra_env_load_files(&err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "control character"));
    assert_null(strstr(err.msg, "line one"));
    setenv("SDRA_UT_URL_FILE", p3, 1);
    assert_int_equal(sdra_env_load_files(&err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "empty"));
    snprintf(p3, sizeof p3, "%s/none", dir);
    setenv("SDRA_UT_URL_FILE", p3, 1);
    assert_true(sdra_env_load_files(&err) < 0);
    assert_non_null(strstr(err.msg, "SDRA_UT_URL_FILE: "));
    unsetenv("SDRA_UT_URL_FILE");
    assert_null(getenv("SDRA_UT_URL"));
    char rm[320];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    assert_int_equal(system(rm), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fields_send_at_rfc3339_or_next),
        cmocka_unit_test(fields_env_from_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
