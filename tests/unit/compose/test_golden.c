/* test_golden.c - golden files: for each style, the email.eml, email.json and invite.ics
 * composed from tests/golden/compose/{analysis,call}.json with a fixed Date must match the
 * files in tests/golden/compose/<style>/ byte for byte. After an intended change, regenerate
 * with SDRA_UPDATE_GOLDEN=1 and review the diff. */
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

#define GOLDEN_NOW 1795532400 /* Tue, 24 Nov 2026 15:00:00 +0000 */

static char g_dir[4096];

static void compare(const char *style, const char *name, const char *got)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s/%s", g_dir, style, name);
    sdra_error err = {0};
    if (getenv("SDRA_UPDATE_GOLDEN")) {
        char sub[4300];
        snprintf(sub, sizeof sub, "%s/%s", g_dir, style);
        assert_int_equal(sdra_mkdir_p(sub, &err), 0);
        assert_int_equal(sdra_file_write_atomic(path, got, strlen(got), &err), 0);
        return;
    }
    char *want = NULL;
    if (sdra_file_read(&want, NULL, path, 1 << 20, &err) < 0)
        fail_msg("%s (run with SDRA_UPDATE_GOLDEN=1 to create it)", err.msg);
    if (strcmp(want, got)) {
        size_t i = 0;
        while (want[i] && want[i] == got[i])
            i++;
        fail_msg("%s differs from the golden file at byte %zu: got '%.60s', want '%.60s'", path,
                 i, got + i, want + i);
    }
    free(want);
}

static void golden_style(const char *style)
{
    char path[4400];
    json_t *a = NULL, *cd = NULL;
    sdra_error err = {0};
    sdra_call_info call = {0};
    snprintf(path, sizeof path, "%s/analysis.json", g_dir);
    assert_int_equal(sdra_json_load_file(&a, path, 1 << 20, &err), 0);
    snprintf(path, sizeof path, "%s/call.json", g_dir);
    assert_int_equal(sdra_json_load_file(&cd, path, 1 << 20, &err), 0);
    assert_int_equal(sdra_call_info_from_json(&call, cd, &err), 0);
    sdra_compose_params p = sdra_compose_default_params();
    p.style = style;
    p.now_s = GOLDEN_NOW;
    sdra_email *e = NULL;
    if (sdra_compose(&e, a, NULL, &call, &p, &err) < 0)
        fail_msg("%s", err.msg);
    char *doc = json_dumps(sdra_email_doc(e), JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    size_t n = strlen(doc);
    doc = realloc(doc, n + 2);
    strcpy(doc + n, "\n");
    compare(style, "email.json", doc);
    compare(style, "email.eml", sdra_email_eml(e));
    compare(style, "invite.ics", sdra_email_ics(e));
    free(doc);
    sdra_email_destroy(e);
    sdra_call_info_release(&call);
    json_decref(a);
    json_decref(cd);
}

static void golden_formal(void **state) { (void)state; golden_style("formal"); }
static void golden_friendly(void **state) { (void)state; golden_style("friendly"); }
static void golden_concise(void **state) { (void)state; golden_style("concise"); }
static void golden_consultative(void **state) { (void)state; golden_style("consultative"); }

int main(void)
{
    const char *share = getenv("SDRA_SHARE_DIR");
    snprintf(g_dir, sizeof g_dir, "%s/../tests/golden/compose", share ? share : SDRA_SOURCE_DATA_DIR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_formal),
        cmocka_unit_test(golden_friendly),
        cmocka_unit_test(golden_concise),
        cmocka_unit_test(golden_consultative),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
