/* test_edit.c - a person's edit of a composed message (sdra_email_eml_edit, the web app's
 * email review): on the golden formal message, the Subject and both alternatives carry the
 * edit (HTML escaped), every other header and the invite are kept byte for byte; a subject
 * that would inject a header and a message this module did not write are refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdra/compose.h"
#include "sdra/util.h"

static char *golden(void)
{
    const char *share = getenv("SDRA_SHARE_DIR");
    char path[4200];
    snprintf(path, sizeof path, "%s/../tests/golden/compose/formal/email.eml", share ? share : SDRA_SOURCE_DATA_DIR);
    char *eml = NULL;
    size_t n = 0;
    sdra_error err = {0};
    assert_int_equal(sdra_file_read(&eml, &n, path, 1 << 20, &err), 0);
    return eml;
}

/* The text between the first line starting with `from` and the next boundary line. */
static const char *after(const char *s, const char *from) { const char *p = strstr(s, from); return p ? p : ""; }

static void compose_edit_replaces_subject_and_both_parts(void **state)
{
    (void)state;
    char *eml = golden(), *out = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_email_eml_edit(eml, "Next steps & pricing", "Hi Jordan,\n\nThe <price> is 10% off, a=b.\nAlex\n",
                                         &out, &err), 0);
    assert_non_null(strstr(out, "\r\nSubject: Next steps & pricing\r\n"));
    assert_null(strstr(out, "Our meeting on Tuesday"));
    /* the text part, quoted-printable: '=' and CRLF line ends */
    assert_non_null(strstr(out, "The <price> is 10% off, a=3Db.\r\nAlex\r\n"));
    /* the HTML part is rebuilt from the text, escaped */
    assert_non_null(strstr(after(out, "text/html"), "The &lt;price&gt; is 10% off, a=3Db.<br>"));
    assert_null(strstr(after(out, "text/html"), "Georgia")); /* the old HTML is gone */
    /* every other header, and the invite, unchanged */
    const char *keep[] = {"From: Alex Kim <alex.kim@acme.example>\r\n", "Message-ID: <sdra.followup.golden-call-0001@acme.example>\r\n",
                          "Date: Tue, 24 Nov 2026 15:00:00 +0000\r\n", "Content-Type: text/calendar"};
    for (size_t i = 0; i < 4; i++)
        assert_non_null(strstr(out, keep[i]));
    assert_string_equal(after(out, "Content-Type: text/calendar"), after(eml, "Content-Type: text/calendar"));
    free(out);
    free(eml);
}

static void compose_edit_refuses_header_injection_and_foreign_messages(void **state)
{
    (void)state;
    char *eml = golden(), *out = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_email_eml_edit(eml, "Hi\r\nBcc: all@evil.example", "x", &out, &err), SDRA_EINVAL);
    assert_null(out);
    assert_int_equal(sdra_email_eml_edit("not a message", "S", "x", &out, &err), SDRA_EINVAL);
    assert_null(out);
    assert_int_equal(sdra_email_eml_edit("From: a@b\r\nContent-Type: multipart/mixed\r\n\r\nno parts", "S", "x", &out, &err),
                     SDRA_EINVAL);
    assert_null(out);
    free(eml);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compose_edit_replaces_subject_and_both_parts),
        cmocka_unit_test(compose_edit_refuses_header_injection_and_foreign_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
