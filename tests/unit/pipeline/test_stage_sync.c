/* test_stage_sync.c - the pipeline's sync stage (src/pipeline/stages.c): reads the call's
 * documents from the work directory, writes crm.json, is safe to run again, and names a broken
 * or missing analysis.json in its error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "sync/helpers.h"
#include "sdra/pipeline.h"

static const char *ANALYSIS =
    "{\"schema\":\"sdra.analysis/1\",\"call_date\":\"2026-11-24\","
    " \"sentiment\":{\"overall\":0.25,\"prospect_end\":0.5},"
    " \"objections\":[{\"type\":\"price\",\"speaker\":\"S2\",\"start\":40.1,\"text\":\"that is over our budget\"},"
    "                {\"type\":\"authority\",\"speaker\":\"S2\",\"start\":80.0,\"text\":\"my CFO signs off\"}],"
    " \"pain_points\":[{\"text\":\"it takes two days to reconcile\",\"speaker\":\"S2\",\"start\":20.0}],"
    " \"action_items\":[{\"owner\":\"rep\",\"text\":\"send the case study\",\"due\":\"2026-11-26\",\"due_time\":null,\"start\":61.0},"
    "                   {\"owner\":\"prospect\",\"text\":\"loop in the CFO\",\"due\":null,\"start\":70.0}],"
    " \"next_meeting\":{\"date\":\"2026-12-01\",\"time\":\"14:00\",\"part_of_day\":\"afternoon\"},"
    " \"contact_preferences\":{\"do_not_call\":false,\"do_not_email\":false},"
    " \"summary\":\"Discovery call with Acme.\",\"outcome\":\"meeting booked\"}";

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(sdra_file_write_atomic(path, text, strlen(text), NULL), 0);
}

static void sync_stage_writes_crm_json(void **state)
{
    (void)state;
    char dir[PATH_MAX], data[PATH_MAX + 16], path[PATH_MAX + 32];
    tmpdir_make(dir, sizeof dir, "stage");
    snprintf(data, sizeof data, "%s/data", dir);
    write_file(dir, "call.json",
               "{\"schema\":\"sdra.call/1\",\"id\":\"stage-1\",\"contact_email\":\"jordan@acme.example\","
               "\"contact_name\":\"Jordan\",\"company\":\"Acme\",\"call_date\":\"2026-11-24\"}");
    write_file(dir, "analysis.json", ANALYSIS);
    write_file(dir, "transcript.json", "{\"schema\":\"sdra.transcript/1\",\"duration\":12.0}");
    sdra_pipeline_options opts = {.crm_backend = "local"};
    sdra_stage_ctx ctx = {.workdir = dir, .data_dir = data, .options = &opts};
    sdra_error err = {0};
    assert_int_equal(sdra_sync_stage(&ctx, &err), 0);
    assert_int_equal(sdra_sync_stage(&ctx, &err), 0); /* safe to run again */
    snprintf(path, sizeof path, "%s/crm.json", dir);
    json_t *doc = NULL;
    assert_int_equal(sdra_json_load_file(&doc, path, 1 << 20, &err), 0);
    assert_string_equal(json_string_value(json_object_get(doc, "schema")), "sdra.crm/1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "contact"), "status")), "updated");
    json_decref(doc);
    sdra_crm *crm = NULL;
    assert_int_equal(sdra_crm_open_ex(&crm, NULL, data, SDRA_CRM_READONLY, &err), 0);
    assert_int_equal(count_rows(crm, SDRA_CRM_ACTIVITIES, NULL), 1);
    assert_int_equal(count_rows(crm, SDRA_CRM_EMAILS, NULL), 0); /* no email.json */
    sdra_crm_close(crm);
    /* A broken analysis.json is named in the error. */
    write_file(dir, "analysis.json", "{\"schema\": ");
    assert_true(sdra_sync_stage(&ctx, &err) < 0);
    assert_non_null(strstr(err.msg, "analysis.json"));
    /* A missing one too. */
    snprintf(path, sizeof path, "%s/analysis.json", dir);
    unlink(path);
    assert_int_equal(sdra_sync_stage(&ctx, &err), SDRA_ENOTFOUND);
    assert_non_null(strstr(err.msg, "analysis.json"));
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sync_stage_writes_crm_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
