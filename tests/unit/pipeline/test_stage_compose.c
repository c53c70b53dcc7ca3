/* test_stage_compose.c - compose as a pipeline stage: reads call.json / analysis.json /
 * transcript.json from the work directory, writes email.json, email.eml and invite.ics, is
 * byte-identical when re-run with $SDRA_COMPOSE_NOW, and fails clearly without an analysis. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sdra/compose.h"
#include "sdra/pipeline.h"
#include "sdra/util.h"

static char g_golden[4096], g_work[4096];

static void copy(const char *from_dir, const char *name)
{
    char src[4200], dst[4200], *data = NULL;
    size_t n = 0;
    sdra_error err = {0};
    snprintf(src, sizeof src, "%s/%s", from_dir, name);
    snprintf(dst, sizeof dst, "%s/%s", g_work, name);
    assert_int_equal(sdra_file_read(&data, &n, src, 1 << 20, &err), 0);
    assert_int_equal(sdra_file_write_atomic(dst, data, n, &err), 0);
    free(data);
}

static char *slurp(const char *name)
{
    char path[4200], *data = NULL;
    sdra_error err = {0};
    snprintf(path, sizeof path, "%s/%s", g_work, name);
    if (sdra_file_read(&data, NULL, path, 1 << 20, &err) < 0)
        return NULL;
    return data;
}

static void remove_work(void)
{
    const char *names[] = {"call.json", "analysis.json", "email.json", "email.eml", "invite.ics"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", g_work, names[i]);
        unlink(p);
    }
    rmdir(g_work);
}

static void stage_writes_the_package(void **state)
{
    (void)state;
    sdra_error err = {0};
    assert_int_equal(sdra_mkdir_p(g_work, &err), 0);
    copy(g_golden, "call.json");
    copy(g_golden, "analysis.json");
    setenv("SDRA_COMPOSE_NOW", "1795532400", 1);
    sdra_pipeline_options opts = {0};
    sdra_stage_ctx ctx = {.workdir = g_work, .options = &opts};
    assert_int_equal(sdra_compose_stage(&ctx, &err), 0);
    char *eml = slurp("email.eml"), *ics = slurp("invite.ics"), *js = slurp("email.json");
    assert_non_null(eml);
    assert_non_null(ics);
    assert_non_null(js);
    assert_non_null(strstr(eml, "Date: Tue, 24 Nov 2026 15:00:00 +0000\r\n"));
    assert_non_null(strstr(js, "\"schema\": \"sdra.email/1\""));
    /* the style comes from call.json (friendly); a meeting was booked */
    assert_non_null(strstr(eml, "Subject: See you Tuesday, December 1, Jordan"));
    /* again: identical */
    assert_int_equal(sdra_compose_stage(&ctx, &err), 0);
    char *eml2 = slurp("email.eml");
    assert_string_equal(eml, eml2);
    free(eml);
    free(eml2);
    free(ics);
    free(js);
    /* a bad SDRA_COMPOSE_NOW is an error, not a silent default */
    setenv("SDRA_COMPOSE_NOW", "yesterday", 1);
    assert_int_equal(sdra_compose_stage(&ctx, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "SDRA_COMPOSE_NOW"));
    unsetenv("SDRA_COMPOSE_NOW");
    /* no analysis: the error names the file */
    char ap[4200];
    snprintf(ap, sizeof ap, "%s/analysis.json", g_work);
    unlink(ap);
    assert_int_equal(sdra_compose_stage(&ctx, &err), SDRA_ENOTFOUND);
    assert_non_null(strstr(err.msg, "analysis.json"));
    remove_work();
}

int main(void)
{
    const char *share = getenv("SDRA_SHARE_DIR");
    const char *tmp = getenv("SDRA_TEST_TMP");
    snprintf(g_golden, sizeof g_golden, "%s/../tests/golden/compose", share ? share : SDRA_SOURCE_DATA_DIR);
    snprintf(g_work, sizeof g_work, "%s/compose-stage-%d", tmp ? tmp : "/tmp", (int)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stage_writes_the_package),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
