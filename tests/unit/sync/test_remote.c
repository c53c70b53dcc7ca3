/* test_remote.c - the remote CRM connectors without a network: the payload builders of HubSpot
 * (hs_* properties) and Salesforce (Task, Event, Contact/Lead fields), dates, SOQL escaping,
 * configuration errors at open (a missing secret names the variable, never a value), and the
 * retryable flag of a transient failure (connection refused) with the token kept out of the
 * message. The HTTP contract itself is tested against the stand-in servers
 * (tests/integration/crm_hubspot.sh, crm_salesforce.sh). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "sync/internal.h"

static const char *sget(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void dates_are_utc_milliseconds(void **state)
{
    (void)state;
    assert_true(sdra_crm_date_ms("2026-12-01", "14:00") == 1796133600000LL);
    assert_true(sdra_crm_date_ms("2026-12-01", NULL) == 1796083200000LL);
    assert_true(sdra_crm_date_ms("2026-13-01", NULL) == -1);
    assert_true(sdra_crm_date_ms("tomorrow", NULL) == -1);
    assert_true(sdra_crm_date_ms(NULL, NULL) == -1);
    assert_true(sdra_crm_date_ms("2026-12-01", "25:00") == -1);
}

static void hubspot_call_properties(void **state)
{
    (void)state;
    sdra_crm_activity a = {.call_id = "c-1", .call_date = "2026-11-24", .duration_s = 754.4, .direction = "inbound",
                           .summary = "Discovery call.", .outcome = "meeting booked", .has_sentiment = true,
                           .sentiment = 0.3};
    json_t *p = sdra_hubspot_call_props(&a, "call:c-1", "101", 42);
    assert_string_equal(sget(p, "hs_timestamp"), "1795478400000");
    assert_string_equal(sget(p, "hs_call_duration"), "754400");
    assert_string_equal(sget(p, "hs_call_direction"), "INBOUND");
    assert_string_equal(sget(p, "hs_call_status"), "COMPLETED");
    assert_string_equal(sget(p, "hs_call_title"), "Sales call: meeting booked");
    assert_non_null(strstr(sget(p, "hs_call_body"), "Discovery call.\n\nOutcome: meeting booked"));
    assert_string_equal(sget(p, "hubspot_owner_id"), "101");
    assert_string_equal(sget(p, "sdra_key"), "call:c-1");
    assert_string_equal(sget(p, "sdra_call_id"), "c-1");
    json_decref(p);
    /* no date: now; no owner: the property is left out, not sent empty */
    a.call_date = NULL;
    a.direction = NULL;
    p = sdra_hubspot_call_props(&a, "call:c-1", "", 42);
    assert_string_equal(sget(p, "hs_timestamp"), "42");
    assert_string_equal(sget(p, "hs_call_direction"), "OUTBOUND");
    assert_null(json_object_get(p, "hubspot_owner_id"));
    json_decref(p);
}

static void hubspot_task_meeting_note_email(void **state)
{
    (void)state;
    sdra_crm_task t = {.call_id = "c-1", .key = "abc", .kind = "action", .owner = "prospect",
                       .text = "share the volumes", .due_date = "2026-11-30", .due_time = "09:30"};
    json_t *p = sdra_hubspot_task_props(&t, "task:c-1:abc", NULL, 7);
    assert_string_equal(sget(p, "hs_task_subject"), "share the volumes");
    assert_string_equal(sget(p, "hs_timestamp"), "1796031000000");
    assert_string_equal(sget(p, "hs_task_status"), "NOT_STARTED");
    assert_string_equal(sget(p, "hs_task_priority"), "HIGH");
    assert_string_equal(sget(p, "hs_task_type"), "TODO");
    assert_non_null(strstr(sget(p, "hs_task_body"), "the prospect's commitment"));
    json_decref(p);
    t.owner = "unknown"; /* one voice in the recording (compose.c's tasks) */
    p = sdra_hubspot_task_props(&t, "task:c-1:abc", NULL, 7);
    assert_non_null(strstr(sget(p, "hs_task_body"), "whose commitment is unknown"));
    assert_null(strstr(sget(p, "hs_task_body"), "the rep's"));
    json_decref(p);
    t.owner = "prospect";
    t.due_date = NULL;
    p = sdra_hubspot_task_props(&t, "task:c-1:abc", NULL, 7);
    assert_string_equal(sget(p, "hs_timestamp"), "7");
    assert_string_equal(sget(p, "hs_task_priority"), "MEDIUM");
    json_decref(p);

    sdra_crm_task m = {.call_id = "c-1", .key = "m", .kind = "meeting", .text = "Meeting with Jordan",
                       .due_date = "2026-12-01", .due_time = "14:00"};
    p = sdra_hubspot_meeting_props(&m, "task:c-1:m", "101", 7);
    assert_string_equal(sget(p, "hs_meeting_start_time"), "1796133600000");
    assert_string_equal(sget(p, "hs_meeting_end_time"), "1796135400000");
    assert_string_equal(sget(p, "hs_meeting_outcome"), "SCHEDULED");
    json_decref(p);

    sdra_crm_note n = {.call_id = "c-1", .key = "pain_points", .body = "Pain points:\n- slow"};
    p = sdra_hubspot_note_props(&n, "note:c-1:pain_points", 9);
    assert_string_equal(sget(p, "hs_note_body"), "Pain points:\n- slow");
    assert_string_equal(sget(p, "hs_timestamp"), "9");
    json_decref(p);

    sdra_crm_email e = {.message_id = "<m@x>", .call_id = "c-1", .to = "jordan@acme.example",
                        .subject = "Next steps", .send_at = "2026-11-24T17:00:00Z", .status = "scheduled"};
    p = sdra_hubspot_email_props(&e, "email:<m@x>", 9);
    assert_string_equal(sget(p, "hs_timestamp"), "2026-11-24T17:00:00Z");
    assert_string_equal(sget(p, "hs_email_status"), "SCHEDULED");
    assert_string_equal(sget(p, "hs_email_direction"), "EMAIL");
    assert_string_equal(sget(p, "hs_email_headers"), "{\"to\":[{\"email\":\"jordan@acme.example\"}]}");
    json_decref(p);
}

static void hubspot_contact_flags_only_set(void **state)
{
    (void)state;
    sdra_crm_contact c = {.email = "jordan@acme.example", .name = "Jordan van Lée", .company = "Acme"};
    json_t *p = sdra_hubspot_contact_props(&c, false, false);
    assert_string_equal(sget(p, "firstname"), "Jordan van");
    assert_string_equal(sget(p, "lastname"), "Lée");
    assert_string_equal(sget(p, "company"), "Acme");
    assert_null(json_object_get(p, "sdra_do_not_call")); /* never cleared */
    assert_null(json_object_get(p, "sdra_do_not_email"));
    json_decref(p);
    p = sdra_hubspot_contact_props(&c, true, true);
    assert_string_equal(sget(p, "sdra_do_not_call"), "true");
    assert_string_equal(sget(p, "sdra_do_not_email"), "true");
    json_decref(p);
}

static void salesforce_records(void **state)
{
    (void)state;
    sdra_crm_activity a = {.call_id = "c-1", .call_date = "2026-11-24", .duration_s = 754.6, .direction = "outbound",
                           .summary = "Discovery call."};
    json_t *o = sdra_salesforce_call_task(&a, "003A", "");
    assert_string_equal(sget(o, "TaskSubtype"), "Call");
    assert_string_equal(sget(o, "CallType"), "Outbound");
    assert_int_equal(json_integer_value(json_object_get(o, "CallDurationInSeconds")), 755);
    assert_string_equal(sget(o, "Status"), "Completed");
    assert_string_equal(sget(o, "ActivityDate"), "2026-11-24");
    assert_string_equal(sget(o, "WhoId"), "003A");
    assert_string_equal(sget(o, "Sdra_Call_Id__c"), "c-1");
    assert_null(json_object_get(o, "OwnerId"));
    assert_null(json_object_get(o, "Sdra_Key__c")); /* it is in the upsert URL */
    json_decref(o);

    sdra_crm_task t = {.call_id = "c-1", .key = "k", .kind = "action", .owner = "rep", .text = "send the deck",
                       .due_date = "2026-11-26"};
    o = sdra_salesforce_action_task(&t, NULL, "005U");
    assert_string_equal(sget(o, "Status"), "Not Started");
    assert_string_equal(sget(o, "Priority"), "High");
    assert_string_equal(sget(o, "ActivityDate"), "2026-11-26");
    assert_string_equal(sget(o, "OwnerId"), "005U");
    assert_null(json_object_get(o, "WhoId"));
    json_decref(o);

    sdra_crm_task m = {.call_id = "c-1", .key = "m", .kind = "meeting", .text = "Meeting", .due_date = "2026-12-01",
                       .due_time = "14:00"};
    o = sdra_salesforce_meeting_event(&m, "003A", NULL);
    assert_string_equal(sget(o, "StartDateTime"), "2026-12-01T14:00:00.000+0000");
    assert_string_equal(sget(o, "EndDateTime"), "2026-12-01T14:30:00.000+0000");
    json_decref(o);
    m.due_time = NULL;
    o = sdra_salesforce_meeting_event(&m, "003A", NULL);
    assert_true(json_is_true(json_object_get(o, "IsAllDayEvent")));
    assert_string_equal(sget(o, "ActivityDate"), "2026-12-01");
    assert_int_equal(json_integer_value(json_object_get(o, "DurationInMinutes")), 1440);
    json_decref(o);

    sdra_crm_email e = {.message_id = "<m@x>", .call_id = "c-1", .subject = "Next", .send_at = "2026-11-24T17:00:00Z",
                        .status = "scheduled"};
    o = sdra_salesforce_email_task(&e, "003A");
    assert_string_equal(sget(o, "TaskSubtype"), "Email");
    assert_string_equal(sget(o, "Subject"), "Email: Next");
    assert_string_equal(sget(o, "ActivityDate"), "2026-11-24");
    json_decref(o);

    sdra_crm_contact c = {.email = "sam@beta.example"};
    o = sdra_salesforce_person(&c, true, true, false);
    assert_string_equal(sget(o, "LastName"), "sam"); /* required: the local part stands in */
    assert_string_equal(sget(o, "Company"), "[not provided]");
    assert_true(json_is_true(json_object_get(o, "DoNotCall")));
    assert_null(json_object_get(o, "HasOptedOutOfEmail"));
    json_decref(o);

    char q[64];
    sdra_soql_escape(q, sizeof q, "o'brien\\x@y.z");
    assert_string_equal(q, "o\\'brien\\\\x@y.z");
}

static void open_names_the_missing_setting(void **state)
{
    (void)state;
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    unsetenv("SDRA_HUBSPOT_TOKEN");
    unsetenv("SDRA_HUBSPOT_REFRESH_TOKEN");
    assert_int_equal(sdra_crm_open(&crm, "hubspot", "/nonexistent", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "SDRA_HUBSPOT_TOKEN"));
    assert_null(crm);
    setenv("SDRA_HUBSPOT_TOKEN", "tok-secret-1", 1);
    setenv("SDRA_HUBSPOT_URL", "ftp://127.0.0.1:1", 1);
    assert_int_equal(sdra_crm_open(&crm, "hubspot", "/nonexistent", &err), SDRA_EINVAL);
    assert_null(strstr(err.msg, "tok-secret-1"));
    unsetenv("SDRA_SALESFORCE_URL");
    unsetenv("SDRA_SALESFORCE_CLIENT_ID");
    assert_int_equal(sdra_crm_open(&crm, "salesforce", "/nonexistent", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "SDRA_SALESFORCE_URL"));
    setenv("SDRA_SALESFORCE_URL", "http://127.0.0.1:1", 1);
    setenv("SDRA_SALESFORCE_TOKEN", "x", 1);
    setenv("SDRA_SALESFORCE_OBJECT", "Account", 1);
    assert_int_equal(sdra_crm_open(&crm, "salesforce", "/nonexistent", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "Contact or Lead"));
    unsetenv("SDRA_SALESFORCE_OBJECT");
    assert_int_equal(sdra_crm_open(&crm, "salesforce", "/nonexistent", &err), 0);
    json_t *rows = NULL;
    assert_int_equal(sdra_crm_list(crm, SDRA_CRM_TASKS, NULL, &rows, &err), SDRA_EUNSUPPORTED);
    sdra_crm_close(crm);
}

/* A refused connection is transient (retryable); the token never reaches the message. */
static void transient_failure_is_retryable(void **state)
{
    (void)state;
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    setenv("SDRA_HUBSPOT_URL", "http://127.0.0.1:1", 1);
    setenv("SDRA_HUBSPOT_TOKEN", "tok-secret-2", 1);
    assert_int_equal(sdra_crm_open(&crm, "hubspot", "/nonexistent", &err), 0);
    sdra_crm_contact c = {.email = "a@b.example"};
    sdra_crm_result r;
    int rc = sdra_crm_upsert_contact(crm, &c, &r, &err);
    assert_true(rc < 0);
    assert_true(err.retryable);
    assert_non_null(strstr(err.msg, "HubSpot"));
    assert_null(strstr(err.msg, "tok-secret-2"));
    sdra_crm_close(crm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dates_are_utc_milliseconds),
        cmocka_unit_test(hubspot_call_properties),
        cmocka_unit_test(hubspot_task_meeting_note_email),
        cmocka_unit_test(hubspot_contact_flags_only_set),
        cmocka_unit_test(salesforce_records),
        cmocka_unit_test(open_names_the_missing_setting),
        cmocka_unit_test(transient_failure_is_retryable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
