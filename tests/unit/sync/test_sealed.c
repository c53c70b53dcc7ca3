/* test_sealed.c - the local CRM with a sealing table installed (sdra/seal.h; encryption at rest,
 * docs/security.md): the sensitive columns hold sealed values under the right key (the call's,
 * or "contact" for a contact), email addresses are stored and looked up by their blind index,
 * lists show the plaintext, a value whose key is gone lists as null, and erasing a contact by
 * email still works. The table here is a stand-in (reversible, keyed by name), so the test
 * checks the CRM's use of the hook, not the cryptography (tests/unit/crypto). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sdra/crm.h"
#include "sdra/seal.h"
#include "sdra/util.h"

static char dir[512];
static char shredded[64]; /* a key id whose key is "gone" */
static char foreign[64];  /* a key id wrapped by another master key than the one at hand */

static char *fake_seal(void *ud, const char *key_id, const char *text)
{
    (void)ud;
    size_t n = strlen(text);
    char *out = malloc(n * 2 + strlen(key_id) + 16);
    char *p = out + sprintf(out, "sdra:e1:%s:", key_id);
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%02x", (unsigned char)text[i] ^ 0x5a);
    return out;
}

static int fake_open(void *ud, const char *value, char **out, sdra_error *err)
{
    (void)ud;
    const char *id = value + 8, *hex = strchr(id, ':') + 1;
    if (shredded[0] && !strncmp(id, shredded, strlen(shredded)))
        return sdra_error_set(err, SDRA_ENOTFOUND, "key gone");
    if (foreign[0] && !strncmp(id, foreign, strlen(foreign)))
        return sdra_error_set(err, SDRA_EDENIED, "the data key of %s is wrapped by master key m2, not m1", foreign);
    size_t n = strlen(hex) / 2;
    char *p = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        p[i] = (char)(v ^ 0x5a);
    }
    p[n] = '\0';
    *out = p;
    return 0;
}

static int fake_blind(void *ud, const char *text, char out[SDRA_SEAL_BLIND_MAX])
{
    (void)ud;
    unsigned h = 2166136261u;
    for (const char *c = text; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    snprintf(out, SDRA_SEAL_BLIND_MAX, "bx1:%08x", h);
    return 0;
}

static const sdra_seal_ops fake = {.seal_text = fake_seal, .open_text = fake_open, .blind = fake_blind};

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("SDRA_TEST_TMP") ? getenv("SDRA_TEST_TMP") : "/tmp";
    sdra_mkdir_p(base, NULL);
    snprintf(dir, sizeof dir, "%s/crmseal-XXXXXX", base);
    assert_non_null(mkdtemp(dir));
    shredded[0] = '\0';
    foreign[0] = '\0';
    sdra_seal_set(&fake);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sdra_seal_set(NULL);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Every byte of the database files (WAL included) searched for s. */
static bool in_files(const char *s)
{
    char cmd[800];
    snprintf(cmd, sizeof cmd, "cat '%s'/crm.sqlite3* | grep -qaF -- '%s'", dir, s);
    return system(cmd) == 0;
}

static void crm_sealed_rows_and_lookups(void **state)
{
    (void)state;
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    sdra_crm_result res;
    assert_int_equal(sdra_crm_open(&crm, "local", dir, &err), 0);
    sdra_crm_contact c = {.email = "Zeph.Quayle@Probe.example", .name = "Zephyrine Quayle", .company = "Quaylecorp"};
    assert_int_equal(sdra_crm_upsert_contact(crm, &c, &res, &err), 0);
    char cid[64];
    snprintf(cid, sizeof cid, "%s", res.id);
    /* the same address in another case finds the same contact (blind index of the lowercased) */
    sdra_crm_contact c2 = {.email = "zeph.quayle@probe.example", .title = "CFO"};
    assert_int_equal(sdra_crm_upsert_contact(crm, &c2, &res, &err), 0);
    assert_string_equal(res.id, cid);
    assert_false(res.created);
    sdra_crm_activity a = {.call_id = "call1", .contact_id = cid, .summary = "the pineapple budget",
                           .objections = "[{\"type\":\"price\"}]"};
    assert_int_equal(sdra_crm_log_activity(crm, &a, &res, &err), 0);
    sdra_crm_task t = {.call_id = "call1", .key = "k1", .contact_id = cid, .text = "send the pineapple report"};
    assert_int_equal(sdra_crm_upsert_task(crm, &t, &res, &err), 0);
    sdra_crm_email e = {.message_id = "<m1@x>", .call_id = "call1", .contact_id = cid,
                        .to = "zeph.quayle@probe.example", .subject = "Pineapple follow-up", .status = "scheduled"};
    assert_int_equal(sdra_crm_schedule_email(crm, &e, &res, &err), 0);
    sdra_crm_close(crm);
    crm = NULL;
    const char *secrets[] = {"pineapple", "Pineapple", "Zephyrine", "Quaylecorp", "zeph.quayle", "Zeph.Quayle"};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        assert_false(in_files(secrets[i]));
    assert_true(in_files("sdra:e1:contact:")); /* contact fields under the shared key */
    assert_true(in_files("sdra:e1:call1:"));   /* the call's rows under the call's key */

    /* lists by email show the plaintext */
    assert_int_equal(sdra_crm_open(&crm, "local", dir, &err), 0);
    json_t *l = NULL;
    assert_int_equal(sdra_crm_list(crm, SDRA_CRM_CONTACTS, "ZEPH.QUAYLE@probe.example", &l, &err), 0);
    assert_int_equal(json_array_size(l), 1);
    json_t *row = json_array_get(l, 0);
    assert_string_equal(json_string_value(json_object_get(row, "email")), "zeph.quayle@probe.example");
    assert_string_equal(json_string_value(json_object_get(row, "name")), "Zephyrine Quayle");
    assert_string_equal(json_string_value(json_object_get(row, "title")), "CFO");
    json_decref(l);
    assert_int_equal(sdra_crm_list(crm, SDRA_CRM_ACTIVITIES, "zeph.quayle@probe.example", &l, &err), 0);
    assert_int_equal(json_array_size(l), 1);
    row = json_array_get(l, 0);
    assert_string_equal(json_string_value(json_object_get(row, "summary")), "the pineapple budget");
    assert_true(json_is_array(json_object_get(row, "objections")));
    assert_string_equal(json_string_value(json_object_get(row, "contact")), "zeph.quayle@probe.example");
    json_decref(l);
    assert_int_equal(sdra_crm_list(crm, SDRA_CRM_EMAILS, "zeph.quayle@probe.example", &l, &err), 0);
    assert_int_equal(json_array_size(l), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "to")), "zeph.quayle@probe.example");
    json_decref(l);
    /* the call's key gone: its rows list as null, the contact still reads */
    snprintf(shredded, sizeof shredded, "call1:");
    assert_int_equal(sdra_crm_list(crm, SDRA_CRM_TASKS, NULL, &l, &err), 0);
    assert_true(json_is_null(json_object_get(json_array_get(l, 0), "text")));
    json_decref(l);
    assert_int_equal(sdra_crm_list(crm, SDRA_CRM_CONTACTS, NULL, &l, &err), 0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "name")), "Zephyrine Quayle");
    json_decref(l);
    /* a key the master at hand did not wrap: the list fails with that line, it does not null it */
    snprintf(foreign, sizeof foreign, "contact");
    l = NULL;
    assert_int_equal(sdra_crm_list(crm, SDRA_CRM_CONTACTS, NULL, &l, &err), SDRA_EDENIED);
    assert_null(l);
    assert_non_null(strstr(err.msg, "wrapped by master key"));
    foreign[0] = '\0';
    /* erasing the contact by email reaches everything */
    int n = 0;
    assert_int_equal(sdra_crm_forget_contact(crm, "Zeph.Quayle@probe.example", &n, &err), 0);
    assert_int_equal(n, 4);
    assert_int_equal(sdra_crm_list(crm, SDRA_CRM_CONTACTS, NULL, &l, &err), 0);
    assert_int_equal(json_array_size(l), 0);
    json_decref(l);
    sdra_crm_close(crm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(crm_sealed_rows_and_lookups, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
