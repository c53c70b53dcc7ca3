/* test_report_golden.c - the golden report: report.html rendered by the report stage from
 * tests/golden/report/{call,transcript,analysis,email,crm}.json, with the audio beside it, must
 * match tests/golden/report/report.html byte for byte (the template in data/report/, the CSS
 * inlined, the player and its script). After an intended change, regenerate with
 * SDRA_UPDATE_GOLDEN=1 and review the diff. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sdra/pipeline.h"
#include "sdra/report.h"
#include "sdra/util.h"

static char g_dir[4096];

static void copy(const char *dir, const char *name)
{
    char from[4400], to[PATH_MAX + 64];
    char *text = NULL;
    size_t n = 0;
    sdra_error err = {0};
    snprintf(from, sizeof from, "%s/%s", g_dir, name);
    snprintf(to, sizeof to, "%s/%s", dir, name);
    if (sdra_file_read(&text, &n, from, 1 << 20, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(sdra_file_write_atomic(to, text, n, &err), 0);
    free(text);
}

static void compare(const char *name, const char *got)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    sdra_error err = {0};
    if (getenv("SDRA_UPDATE_GOLDEN")) {
        assert_int_equal(sdra_file_write_atomic(path, got, strlen(got), &err), 0);
        return;
    }
    char *want = NULL;
    if (sdra_file_read(&want, NULL, path, 1 << 22, &err) < 0)
        fail_msg("%s (run with SDRA_UPDATE_GOLDEN=1 to create it)", err.msg);
    if (strcmp(want, got)) {
        size_t i = 0, line = 1;
        for (; want[i] && want[i] == got[i]; i++)
            line += want[i] == '\n';
        fail_msg("%s differs from the golden file at byte %zu (line %zu): got '%.80s', want '%.80s'",
                 path, i, line, got + i, want + i);
    }
    free(want);
}

static void report_golden(void **state)
{
    (void)state;
    const char *base = getenv("SDRA_TEST_TMP");
    char dir[PATH_MAX], path[PATH_MAX + 32];
    if (!base || !*base)
        base = "/tmp";
    sdra_mkdir_p(base, NULL);
    snprintf(dir, sizeof dir, "%s/report-golden-XXXXXX", base);
    assert_non_null(mkdtemp(dir));
    const char *docs[] = {"call.json", "transcript.json", "analysis.json", "email.json", "crm.json"};
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        copy(dir, docs[i]);
    snprintf(path, sizeof path, "%s/call.wav", dir); /* the recording, beside the page */
    assert_int_equal(sdra_file_write_atomic(path, "RIFF", 4, NULL), 0);
    sdra_stage_ctx ctx = {.workdir = dir};
    sdra_error err = {0};
    if (sdra_report_stage(&ctx, &err) < 0)
        fail_msg("%s", err.msg);
    snprintf(path, sizeof path, "%s/report.html", dir);
    char *html = NULL;
    assert_int_equal(sdra_file_read(&html, NULL, path, 1 << 24, &err), 0);
    compare("report.html", html);
    free(html);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const char *share = getenv("SDRA_SHARE_DIR");
    snprintf(g_dir, sizeof g_dir, "%s/../tests/golden/report", share ? share : SDRA_SOURCE_DATA_DIR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(report_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
