/* test_thread.c - the compose stage of the pipeline threads the follow-up under the previous
 * email to the same contact that the CRM knows (In-Reply-To / References), ignores the call's
 * own email (a re-run) and canceled ones, and starts a new thread when there is no CRM yet. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sdra/compose.h"
#include "sdra/crm.h"
#include "sdra/pipeline.h"
#include "sdra/util.h"

static char g_golden[4096];

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[4200];
    sdra_error err = {0};
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (sdra_file_write_atomic(path, text, strlen(text), &err) < 0)
        fail_msg("%s", err.msg);
}

/* Runs the compose stage in dir; returns the email.eml text (free it). */
static char *compose_in(const char *dir, const char *data)
{
    char path[4200], *eml = NULL;
    size_t n = 0;
    sdra_error err = {0};
    const sdra_stage *s = sdra_pipeline_stage(sdra_pipeline_stage_id("compose"));
    assert_non_null(s);
    sdra_stage_ctx ctx = {.workdir = dir, .data_dir = data};
    if (s->run(&ctx, &err) < 0)
        fail_msg("compose stage: %s", err.msg);
    snprintf(path, sizeof path, "%s/email.eml", dir);
    if (sdra_file_read(&eml, &n, path, 1 << 20, &err) < 0)
        fail_msg("%s", err.msg);
    return eml;
}

static void add_email(const char *data, const char *msgid, const char *call_id, const char *status)
{
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    sdra_crm_result r;
    sdra_crm_email e = {.message_id = msgid, .call_id = call_id, .to = "jordan.lee@northwind.example",
                        .subject = "Follow-up", .status = status};
    if (sdra_crm_open(&crm, NULL, data, &err) < 0 || sdra_crm_begin(crm, &err) < 0 ||
        sdra_crm_schedule_email(crm, &e, &r, &err) < 0 || sdra_crm_commit(crm, &err) < 0)
        fail_msg("crm: %s", err.msg);
    sdra_crm_close(crm);
}

static void pipeline_compose_threads_under_the_previous_email(void **state)
{
    (void)state;
    char root[] = "/tmp/sdra-thread-XXXXXX", dir[256], data[256], path[4200];
    assert_non_null(mkdtemp(root));
    snprintf(dir, sizeof dir, "%s/call", root);
    snprintf(data, sizeof data, "%s/data", root);
    sdra_error err = {0};
    assert_int_equal(sdra_mkdir_p(dir, &err), 0);
    char *analysis = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/analysis.json", g_golden);
    assert_int_equal(sdra_file_read(&analysis, &n, path, 1 << 20, &err), 0);
    write_file(dir, "analysis.json", analysis);
    free(analysis);
    write_file(dir, "call.json",
               "{\"schema\":\"sdra.call/1\",\"id\":\"call-two\",\"call_date\":\"2026-11-24\","
               "\"contact_email\":\"jordan.lee@northwind.example\",\"contact_name\":\"Jordan Lee\","
               "\"rep_name\":\"Alex Kim\",\"rep_email\":\"alex.kim@acme.example\"}");

    /* No CRM yet: a new thread. */
    char *eml = compose_in(dir, data);
    assert_null(strstr(eml, "In-Reply-To:"));
    free(eml);

    /* The call's own email (a re-run) and a canceled one do not count; the earlier one does. */
    add_email(data, "<sdra.followup.call-one@acme.example>", "call-one", "sent");
    add_email(data, "<sdra.followup.call-zero@acme.example>", "call-zero", "canceled");
    add_email(data, "<sdra.followup.call-two@acme.example>", "call-two", "scheduled");
    eml = compose_in(dir, data);
    assert_non_null(strstr(eml, "\r\nIn-Reply-To: <sdra.followup.call-one@acme.example>\r\n"
                                "References: <sdra.followup.call-one@acme.example>\r\n"));
    free(eml);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const char *share = getenv("SDRA_SHARE_DIR");
    snprintf(g_golden, sizeof g_golden, "%s/../tests/golden/compose", share ? share : SDRA_SOURCE_DATA_DIR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pipeline_compose_threads_under_the_previous_email),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
