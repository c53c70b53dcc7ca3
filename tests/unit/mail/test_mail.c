/* test_mail.c - the parts of the mail transports that need no server: configuration from the
 * environment (names, never values, in messages), base64/base64url, Message-ID checks, folding
 * of server replies, input checks before any I/O, and the retryable flag of a refused
 * connection. The transports against real servers: tests/integration/mail_smtp_imap.sh and
 * mail_apis.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/internal.h"
#include "sdra/mail.h"

static const char *const env_names[] = {
    "SDRA_SMTP_URL", "SDRA_IMAP_URL", "SDRA_GMAIL_TOKEN", "SDRA_GMAIL_URL", "SDRA_GMAIL_USER",
    "SDRA_GMAIL_REFRESH_TOKEN", "SDRA_GMAIL_CLIENT_ID", "SDRA_GMAIL_CLIENT_SECRET", "SDRA_GMAIL_TOKEN_URL",
    "SDRA_GRAPH_TOKEN", "SDRA_GRAPH_URL", "SDRA_GRAPH_USER", "SDRA_GRAPH_REFRESH_TOKEN", "SDRA_GRAPH_CLIENT_ID",
    "SDRA_GRAPH_CLIENT_SECRET", "SDRA_GRAPH_TOKEN_URL", "SDRA_GRAPH_TENANT", "SDRA_MAIL_CA_FILE",
    "SDRA_IMAP_DRAFTS", "SDRA_IMAP_SENT", "SDRA_MAIL_TIMEOUT_MS",
};

static int clear_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof env_names / sizeof env_names[0]; i++)
        unsetenv(env_names[i]);
    return 0;
}

static void mail_config_names_the_variable_not_its_value(void **state)
{
    (void)state;
    sdra_mail_config *c = calloc(1, sizeof *c);
    sdra_error err = {0};
    assert_int_equal(sdra_mail_config_from_env(c, "smtp", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "SDRA_SMTP_URL is not set"));
    setenv("SDRA_SMTP_URL", "http://user:S3cret-pw@mail.example:587", 1);
    assert_int_equal(sdra_mail_config_from_env(c, "smtp", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "SDRA_SMTP_URL must start with smtp://"));
    assert_null(strstr(err.msg, "S3cret-pw"));
    setenv("SDRA_SMTP_URL", "smtp://user:S3cret\npw@mail.example:587", 1);
    assert_int_equal(sdra_mail_config_from_env(c, "smtp", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "control character"));
    assert_null(strstr(err.msg, "S3cret"));
    setenv("SDRA_SMTP_URL", "smtps://user:pw@mail.example:465", 1);
    assert_int_equal(sdra_mail_config_from_env(c, "smtp", &err), 0);
    assert_int_equal(c->transport, SDRA_MAIL_SMTP);
    assert_string_equal(c->drafts_folder, "Drafts");
    assert_string_equal(c->sent_folder, "Sent");
    assert_string_equal(c->imap_url, "");
    setenv("SDRA_IMAP_DRAFTS", "Entw\"urfe", 1);
    assert_int_equal(sdra_mail_config_from_env(c, "smtp", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "SDRA_IMAP_DRAFTS"));
    assert_int_equal(sdra_mail_config_from_env(c, "pigeon", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "'pigeon' is unknown"));
    free(c);
}

static void mail_config_oauth_defaults_and_requirements(void **state)
{
    (void)state;
    sdra_mail_config *c = calloc(1, sizeof *c);
    sdra_error err = {0};
    assert_int_equal(sdra_mail_config_from_env(c, "gmail", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "SDRA_GMAIL_TOKEN is not set"));
    setenv("SDRA_GMAIL_REFRESH_TOKEN", "rt", 1);
    setenv("SDRA_GMAIL_CLIENT_ID", "id", 1);
    setenv("SDRA_GMAIL_CLIENT_SECRET", "cs", 1);
    assert_int_equal(sdra_mail_config_from_env(c, "gmail", &err), 0);
    assert_string_equal(c->url, "https://gmail.googleapis.com");
    assert_string_equal(c->token_url, "https://oauth2.googleapis.com/token");
    assert_string_equal(c->user, "me");
    setenv("SDRA_GMAIL_USER", "../admin", 1);
    assert_int_equal(sdra_mail_config_from_env(c, "gmail", &err), SDRA_EINVAL);

    setenv("SDRA_GRAPH_CLIENT_ID", "id", 1);
    setenv("SDRA_GRAPH_CLIENT_SECRET", "cs", 1);
    setenv("SDRA_GRAPH_TENANT", "contoso", 1);
    assert_int_equal(sdra_mail_config_from_env(c, "graph", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "SDRA_GRAPH_USER must name the mailbox"));
    setenv("SDRA_GRAPH_USER", "rep@contoso.example", 1);
    setenv("SDRA_GRAPH_URL", "https://graph.example/v1.0/", 1);
    assert_int_equal(sdra_mail_config_from_env(c, "graph", &err), 0);
    assert_string_equal(c->token_url, "https://login.microsoftonline.com/contoso/oauth2/v2.0/token");
    assert_string_equal(c->url, "https://graph.example/v1.0");
    free(c);
}

static void mail_base64_both_alphabets(void **state)
{
    (void)state;
    static const struct {
        const char *in, *std, *url;
    } v[] = {{"", "", ""}, {"f", "Zg==", "Zg"}, {"fo", "Zm8=", "Zm8"}, {"foo", "Zm9v", "Zm9v"},
             {"\xfb\xff\xbf", "+/+/", "-_-_"}, {"foobar", "Zm9vYmFy", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char *s = mail_base64(v[i].in, strlen(v[i].in), false), *u = mail_base64(v[i].in, strlen(v[i].in), true);
        assert_string_equal(s, v[i].std);
        assert_string_equal(u, v[i].url);
        free(s);
        free(u);
    }
}

static void mail_msgid_and_fold(void **state)
{
    (void)state;
    assert_true(mail_msgid_ok("<a.b@c.example>"));
    assert_false(mail_msgid_ok("a@b"));
    assert_false(mail_msgid_ok("<a\"b@c>"));
    assert_false(mail_msgid_ok("<a b@c>"));
    assert_false(mail_msgid_ok("<a@b>\r\nX: y"));
    assert_false(mail_msgid_ok(NULL));
    char out[32];
    mail_fold(out, sizeof out, "550 5.1.1\r\n  no such\tuser\r\n", 27);
    assert_string_equal(out, "550 5.1.1 no such user");
    mail_fold(out, 8, "0123456789", 10);
    assert_string_equal(out, "0123456");
    char enc[64];
    assert_int_equal(mail_urlencode(enc, sizeof enc, "rfc822msgid:<a@b> in:sent"), 0);
    assert_string_equal(enc, "rfc822msgid%3A%3Ca%40b%3E%20in%3Asent");
    assert_int_equal(mail_urlencode(enc, 4, "abcd"), -1);
}

static void mail_checks_input_before_any_io(void **state)
{
    (void)state;
    sdra_mail_config *c = calloc(1, sizeof *c);
    sdra_error err = {0};
    setenv("SDRA_SMTP_URL", "smtp://u:pw@127.0.0.1:1", 1);
    assert_int_equal(sdra_mail_config_from_env(c, "smtp", &err), 0);
    const char *eml = "From: a@b.example\r\nTo: c@d.example\r\n\r\nhi\r\n";
    const char *rcpt[] = {"c@d.example"}, *bad_rcpt[] = {"c@d.example>\r\nRCPT TO:<x@y"};
    sdra_mail_message m = {.eml = eml, .eml_len = strlen(eml), .envelope_from = "a@b.example", .rcpt = rcpt,
                           .n_rcpt = 1, .message_id = "<m1@b.example>"};
    sdra_mail_result r;
    bool found = true;

    assert_int_equal(sdra_mail_deliver(c, SDRA_DELIVER_NONE, &m, &r, &err), 0);
    m.rcpt = bad_rcpt;
    assert_int_equal(sdra_mail_deliver(c, SDRA_DELIVER_SEND, &m, &r, &err), SDRA_EINVAL);
    assert_false(err.retryable);
    m.rcpt = rcpt;
    m.n_rcpt = 0;
    assert_int_equal(sdra_mail_deliver(c, SDRA_DELIVER_SEND, &m, &r, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "no recipient"));
    m.n_rcpt = 1;
    m.message_id = "<bad id>";
    assert_int_equal(sdra_mail_deliver(c, SDRA_DELIVER_SEND, &m, &r, &err), SDRA_EINVAL);
    m.message_id = "<m1@b.example>";
    assert_int_equal(sdra_mail_deliver(c, SDRA_DELIVER_DRAFT, &m, &r, &err), SDRA_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "set SDRA_IMAP_URL"));
    assert_int_equal(sdra_mail_probe(c, SDRA_DELIVER_SEND, "<m1@b.example>", &found, &err), SDRA_EUNSUPPORTED);
    assert_false(found);
    assert_int_equal(sdra_mail_send_draft(c, "42", &r, &err), SDRA_EUNSUPPORTED);

    /* Nothing listens on port 1: retryable, and the password is not in the line. */
    assert_true(sdra_mail_deliver(c, SDRA_DELIVER_SEND, &m, &r, &err) < 0);
    assert_true(err.retryable);
    assert_non_null(strstr(err.msg, "smtp://127.0.0.1:1"));
    assert_null(strstr(err.msg, "pw"));
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(mail_config_names_the_variable_not_its_value, clear_env),
        cmocka_unit_test_setup(mail_config_oauth_defaults_and_requirements, clear_env),
        cmocka_unit_test(mail_base64_both_alphabets),
        cmocka_unit_test(mail_msgid_and_fold),
        cmocka_unit_test_setup(mail_checks_input_before_any_io, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
