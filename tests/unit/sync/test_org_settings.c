/*
 * test_org_settings.c - each organisation's remote CRM settings (docs/connectors.md,
 * Organisations): the default org reads SDRA_<SERVICE>_*, org acme-eu only
 * SDRA_ORG_ACME_EU__<SERVICE>_*; an org without settings of its own is refused with a line
 * naming the variables, never given the default's. No network: opening reads settings only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sdra/crm.h"
#include "sync/internal.h"

static void org_prefix_and_lookup(void **state)
{
    (void)state;
    char p[CRM_ENV_PREFIX_MAX];
    crm_org_prefix(p, "default");
    assert_string_equal(p, "");
    crm_org_prefix(p, "acme-eu");
    assert_string_equal(p, "SDRA_ORG_ACME_EU__");
    setenv("SDRA_HUBSPOT_TOKEN", "default-tok", 1);
    setenv("SDRA_ORG_ACME_EU__HUBSPOT_TOKEN", "acme-tok", 1);
    assert_string_equal(crm_env_in("", "SDRA_HUBSPOT_TOKEN"), "default-tok");
    assert_string_equal(crm_env_in(p, "SDRA_HUBSPOT_TOKEN"), "acme-tok");
    crm_org_prefix(p, "zeta");
    assert_null(crm_env_in(p, "SDRA_HUBSPOT_TOKEN"));
    unsetenv("SDRA_HUBSPOT_TOKEN");
    unsetenv("SDRA_ORG_ACME_EU__HUBSPOT_TOKEN");
}

static void org_settings_per_backend(void **state)
{
    (void)state;
    static const struct {
        const char *backend, *url_var, *tok_var, *org_url, *org_tok;
    } b[] = {
        {"hubspot", "SDRA_HUBSPOT_URL", "SDRA_HUBSPOT_TOKEN", "SDRA_ORG_ACME__HUBSPOT_URL",
         "SDRA_ORG_ACME__HUBSPOT_TOKEN"},
        {"salesforce", "SDRA_SALESFORCE_URL", "SDRA_SALESFORCE_TOKEN", "SDRA_ORG_ACME__SALESFORCE_URL",
         "SDRA_ORG_ACME__SALESFORCE_TOKEN"},
    };
    for (size_t i = 0; i < 2; i++) {
        sdra_error err = {0};
        sdra_crm *crm = NULL;
        setenv(b[i].url_var, "https://default.crm.example", 1);
        setenv(b[i].tok_var, "default-tok", 1);
        setenv(b[i].org_url, "https://acme.crm.example", 1);
        setenv(b[i].org_tok, "acme-tok", 1);
        assert_int_equal(sdra_crm_open(&crm, b[i].backend, NULL, &err), 0);
        assert_string_equal(sdra_crm_location(crm), "https://default.crm.example");
        assert_int_equal(sdra_crm_set_org(crm, "acme", &err), 0);
        assert_string_equal(sdra_crm_location(crm), "https://acme.crm.example");
        sdra_crm_close(crm);
        /* zeta has nothing of its own: refused, the default's settings are not used */
        assert_int_equal(sdra_crm_open(&crm, b[i].backend, NULL, &err), 0);
        assert_true(sdra_crm_set_org(crm, "zeta", &err) < 0);
        assert_non_null(strstr(err.msg, "organisation zeta has no"));
        assert_non_null(strstr(err.msg, "SDRA_ORG_ZETA__"));
        assert_null(strstr(err.msg, "default-tok"));
        sdra_crm_close(crm);
        unsetenv(b[i].url_var);
        unsetenv(b[i].tok_var);
        unsetenv(b[i].org_url);
        unsetenv(b[i].org_tok);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(org_prefix_and_lookup),
        cmocka_unit_test(org_settings_per_backend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
