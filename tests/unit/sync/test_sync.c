/* test_sync.c - sdra_crm_sync: idempotency (sync twice -> one contact, one activity, the same
 * tasks), compliance (sticky opt-outs, no email with do-not-email, no meeting task with
 * do-not-call), email scheduling rules, pruning of tasks a new analysis dropped, defensive
 * reading of partial analyses, all-or-nothing transactions (the sync stage is tested in
 * tests/unit/pipeline/test_stage_sync.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "helpers.h"

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

static const char *EMAIL =
    "{\"schema\":\"sdra.email/1\",\"subject\":\"Next steps\",\"to\":[\"Jordan Lee <jordan@acme.example>\"],"
    " \"message_id\":\"<call-1@sdra.example>\",\"send_at\":\"2026-11-24T16:00:00Z\",\"skipped\":null}";

static void call_init(sdra_call_info *c, const char *id, const char *email)
{
    memset(c, 0, sizeof *c);
    sdra_call_info_set(c, "id", id, NULL);
    if (email)
        sdra_call_info_set(c, "contact_email", email, NULL);
    sdra_call_info_set(c, "contact_name", "Jordan Lee", NULL);
    sdra_call_info_set(c, "company", "Acme", NULL);
    sdra_call_info_set(c, "call_date", "2026-11-24", NULL);
    sdra_call_info_set(c, "audio", "call.wav", NULL);
}

static json_t *sync_ok(sdra_crm *crm, const sdra_call_info *c, const char *analysis, const char *email)
{
    json_t *a = parse(analysis), *e = email ? parse(email) : NULL, *t = parse("{\"schema\":\"sdra.transcript/1\",\"duration\":300.5}");
    json_t *report = NULL;
    sdra_error err = {0};
    int rc = sdra_crm_sync(crm, c, t, a, e, &report, &err);
    if (rc < 0)
        fprintf(stderr, "sync: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_non_null(report);
    json_decref(a);
    json_decref(e);
    json_decref(t);
    return report;
}

static const char *task_status(const json_t *report, size_t i)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(report, "tasks"), i), "status"));
}

static void sync_twice_updates_never_duplicates(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tmpdir_make(dir, sizeof dir, "twice");
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_crm_open(&crm, "local", dir, &err), 0);
    sdra_call_info c;
    call_init(&c, "call-1", "Jordan@Acme.example");

    json_t *r1 = sync_ok(crm, &c, ANALYSIS, EMAIL);
    assert_string_equal(json_string_value(json_object_get(r1, "schema")), "sdra.crm/1");
    json_t *contact = json_object_get(r1, "contact");
    assert_string_equal(json_string_value(json_object_get(contact, "status")), "created");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r1, "activity"), "status")), "created");
    assert_int_equal(json_array_size(json_object_get(r1, "tasks")), 3); /* 2 actions + meeting */
    assert_string_equal(task_status(r1, 0), "created");
    json_t *em = json_array_get(json_object_get(r1, "emails"), 0);
    assert_string_equal(json_string_value(json_object_get(em, "status")), "scheduled");
    assert_string_equal(json_string_value(json_object_get(em, "result")), "created");

    json_t *r2 = sync_ok(crm, &c, ANALYSIS, EMAIL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r2, "contact"), "status")), "updated");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r2, "activity"), "status")), "updated");
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(task_status(r2, i), "updated");
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r1, "tasks"), i), "id")),
                            json_string_value(json_object_get(json_array_get(json_object_get(r2, "tasks"), i), "id")));
    }
    assert_int_equal(json_integer_value(json_object_get(r2, "tasks_removed")), 0);

    assert_int_equal(count_rows(crm, SDRA_CRM_CONTACTS, NULL), 1);
    assert_int_equal(count_rows(crm, SDRA_CRM_ACTIVITIES, NULL), 1);
    assert_int_equal(count_rows(crm, SDRA_CRM_TASKS, NULL), 3);
    assert_int_equal(count_rows(crm, SDRA_CRM_EMAILS, NULL), 1);
    assert_int_equal(count_rows(crm, SDRA_CRM_NOTES, NULL), 1);
    assert_int_equal(count_rows(crm, SDRA_CRM_TASKS, "jordan@acme.example"), 3);
    assert_int_equal(count_rows(crm, SDRA_CRM_TASKS, "other@acme.example"), 0);

    /* The activity carries the call's facts. */
    json_t *rows = NULL;
    assert_int_equal(sdra_crm_list(crm, SDRA_CRM_ACTIVITIES, NULL, &rows, &err), 0);
    json_t *act = json_array_get(rows, 0);
    assert_string_equal(json_string_value(json_object_get(act, "call_id")), "call-1");
    assert_string_equal(json_string_value(json_object_get(act, "contact")), "jordan@acme.example");
    assert_string_equal(json_string_value(json_object_get(act, "summary")), "Discovery call with Acme.");
    assert_true(json_real_value(json_object_get(act, "duration_s")) > 300.0);
    assert_true(json_real_value(json_object_get(act, "sentiment")) > 0.2);
    assert_int_equal(json_array_size(json_object_get(act, "objections")), 2);
    json_decref(rows);
    /* The meeting task has the agreed date and time. */
    assert_int_equal(sdra_crm_list(crm, SDRA_CRM_TASKS, NULL, &rows, &err), 0);
    json_t *meeting = json_array_get(rows, 2);
    assert_string_equal(json_string_value(json_object_get(meeting, "kind")), "meeting");
    assert_string_equal(json_string_value(json_object_get(meeting, "due_date")), "2026-12-01");
    assert_string_equal(json_string_value(json_object_get(meeting, "due_time")), "14:00");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "due_date")), "2026-11-26");
    json_decref(rows);

    json_decref(r1);
    json_decref(r2);
    sdra_call_info_release(&c);
    sdra_crm_close(crm);
    tmpdir_remove(dir);
}

static void sync_opt_outs_are_sticky_and_obeyed(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tmpdir_make(dir, sizeof dir, "optout");
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_crm_open(&crm, "local", dir, &err), 0);
    sdra_call_info c1, c2;
    call_init(&c1, "call-1", "jordan@acme.example");
    call_init(&c2, "call-2", "jordan@acme.example");

    /* Call 1: the prospect asks not to be called or emailed. */
    json_t *a = parse(ANALYSIS);
    json_object_set_new(json_object_get(a, "contact_preferences"), "do_not_call", json_true());
    json_object_set_new(json_object_get(a, "contact_preferences"), "do_not_email", json_true());
    char *optout = json_dumps(a, 0);
    json_decref(a);
    json_t *r1 = sync_ok(crm, &c1, optout, EMAIL);
    json_t *contact = json_object_get(r1, "contact");
    assert_true(json_is_true(json_object_get(contact, "do_not_call")));
    assert_true(json_is_true(json_object_get(contact, "do_not_email")));
    assert_int_equal(json_array_size(json_object_get(r1, "emails")), 0);
    assert_int_equal(json_array_size(json_object_get(r1, "tasks")), 2); /* no meeting task */
    json_t *skipped = json_object_get(r1, "skipped");
    int saw_email = 0, saw_meeting = 0;
    for (size_t i = 0; i < json_array_size(skipped); i++) {
        const char *what = json_string_value(json_object_get(json_array_get(skipped, i), "what"));
        saw_email += !strcmp(what, "email");
        saw_meeting += !strcmp(what, "meeting_task");
    }
    assert_int_equal(saw_email, 1);
    assert_int_equal(saw_meeting, 1);

    /* Call 2 does not mention preferences: the flags still hold and are still obeyed. */
    json_t *r2 = sync_ok(crm, &c2, ANALYSIS, "{\"subject\":\"Again\",\"to\":\"jordan@acme.example\","
                                              "\"message_id\":\"<call-2@sdra.example>\"}");
    contact = json_object_get(r2, "contact");
    assert_true(json_is_true(json_object_get(contact, "do_not_call")));
    assert_true(json_is_true(json_object_get(contact, "do_not_email")));
    assert_int_equal(json_array_size(json_object_get(r2, "emails")), 0);
    assert_int_equal(count_rows(crm, SDRA_CRM_EMAILS, NULL), 0);
    json_t *rows = NULL;
    assert_int_equal(sdra_crm_list(crm, SDRA_CRM_TASKS, NULL, &rows, &err), 0);
    for (size_t i = 0; i < json_array_size(rows); i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(rows, i), "kind")), "action");
    json_decref(rows);
    assert_int_equal(sdra_crm_list(crm, SDRA_CRM_CONTACTS, NULL, &rows, &err), 0);
    assert_true(json_is_true(json_object_get(json_array_get(rows, 0), "do_not_email")));
    json_decref(rows);

    free(optout);
    json_decref(r1);
    json_decref(r2);
    sdra_call_info_release(&c1);
    sdra_call_info_release(&c2);
    sdra_crm_close(crm);
    tmpdir_remove(dir);
}

static void sync_opt_out_cancels_scheduled_email(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tmpdir_make(dir, sizeof dir, "cancel");
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_crm_open(&crm, "local", dir, &err), 0);
    sdra_call_info c;
    call_init(&c, "call-1", "jordan@acme.example");
    json_decref(sync_ok(crm, &c, ANALYSIS, EMAIL));
    /* Re-analysed: the prospect had said "please stop emailing me". Compose skipped the email. */
    json_t *a = parse(ANALYSIS);
    json_object_set_new(json_object_get(a, "contact_preferences"), "do_not_email", json_true());
    char *txt = json_dumps(a, 0);
    json_decref(a);
    json_t *r = sync_ok(crm, &c, txt, "{\"schema\":\"sdra.email/1\",\"skipped\":\"contact asked not to be emailed\"}");
    assert_int_equal(json_integer_value(json_object_get(r, "emails_canceled")), 1);
    json_t *rows = NULL;
    assert_int_equal(sdra_crm_list(crm, SDRA_CRM_EMAILS, NULL, &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "status")), "canceled");
    json_decref(rows);
    free(txt);
    json_decref(r);
    sdra_call_info_release(&c);
    sdra_crm_close(crm);
    tmpdir_remove(dir);
}

static void sync_email_rules(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tmpdir_make(dir, sizeof dir, "emailrules");
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_crm_open(&crm, "local", dir, &err), 0);
    /* No contact email on the call: the email's recipient becomes the contact. */
    sdra_call_info c;
    call_init(&c, "call-9", NULL);
    json_t *r = sync_ok(crm, &c, ANALYSIS, EMAIL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "contact"), "email")),
                        "jordan@acme.example");
    json_t *em = json_array_get(json_object_get(r, "emails"), 0);
    assert_string_equal(json_string_value(json_object_get(em, "message_id")), "<call-1@sdra.example>");
    assert_string_equal(json_string_value(json_object_get(em, "send_at")), "2026-11-24T16:00:00Z");
    json_decref(r);
    sdra_call_info_release(&c);
    /* No address anywhere: the activity is logged, the email is skipped with its reason. */
    call_init(&c, "call-10", NULL);
    r = sync_ok(crm, &c, ANALYSIS, "{\"subject\":\"x\"}");
    assert_true(json_is_null(json_object_get(r, "contact")));
    assert_int_equal(json_array_size(json_object_get(r, "emails")), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "activity"), "status")), "created");
    json_decref(r);
    sdra_call_info_release(&c);
    /* No email document (compose skipped): nothing scheduled, nothing reported skipped. */
    call_init(&c, "call-11", "sam@beta.example");
    r = sync_ok(crm, &c, ANALYSIS, NULL);
    assert_int_equal(json_array_size(json_object_get(r, "emails")), 0);
    assert_int_equal(json_array_size(json_object_get(r, "skipped")), 0);
    json_decref(r);
    /* An email without a Message-ID gets one derived from the call id: a re-sync matches it. */
    r = sync_ok(crm, &c, ANALYSIS, "{\"subject\":\"x\",\"to\":\"sam@beta.example\"}");
    json_decref(r);
    r = sync_ok(crm, &c, ANALYSIS, "{\"subject\":\"x\",\"to\":\"sam@beta.example\"}");
    em = json_array_get(json_object_get(r, "emails"), 0);
    assert_string_equal(json_string_value(json_object_get(em, "message_id")), "<sdra-call-11@local>");
    assert_string_equal(json_string_value(json_object_get(em, "result")), "updated");
    json_decref(r);
    assert_int_equal(count_rows(crm, SDRA_CRM_EMAILS, "sam@beta.example"), 1);
    /* An email that needs review (a poor transcript) is not scheduled, and the one scheduled
     * before for the call is canceled: nothing leaves without a person reading it. */
    r = sync_ok(crm, &c, ANALYSIS,
                "{\"subject\":\"x\",\"to\":\"sam@beta.example\",\"needs_review\":true}");
    assert_int_equal(json_array_size(json_object_get(r, "emails")), 0);
    assert_int_equal(json_integer_value(json_object_get(r, "emails_canceled")), 1);
    const char *why = json_string_value(json_object_get(json_array_get(json_object_get(r, "skipped"), 0), "reason"));
    assert_non_null(why);
    assert_non_null(strstr(why, "needs review"));
    json_decref(r);
    sdra_call_info_release(&c);
    sdra_crm_close(crm);
    tmpdir_remove(dir);
}

static void sync_prunes_tasks_the_analysis_dropped(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tmpdir_make(dir, sizeof dir, "prune");
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_crm_open(&crm, "local", dir, &err), 0);
    sdra_call_info c;
    call_init(&c, "call-1", "jordan@acme.example");
    json_decref(sync_ok(crm, &c, ANALYSIS, NULL));
    /* New analysis: one item reworded, the meeting moved, the other item gone. */
    json_t *a = parse(ANALYSIS);
    json_t *items = json_object_get(a, "action_items");
    json_array_remove(items, 1);
    json_object_set_new(json_array_get(items, 0), "due", json_string("2026-11-27"));
    json_object_set_new(json_object_get(a, "next_meeting"), "date", json_string("2026-12-02"));
    char *txt = json_dumps(a, 0);
    json_decref(a);
    json_t *r = sync_ok(crm, &c, txt, NULL);
    assert_int_equal(json_integer_value(json_object_get(r, "tasks_removed")), 1);
    assert_string_equal(task_status(r, 0), "updated");
    assert_string_equal(task_status(r, 1), "updated"); /* the moved meeting is the same task */
    json_t *rows = NULL;
    assert_int_equal(sdra_crm_list(crm, SDRA_CRM_TASKS, NULL, &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "due_date")), "2026-11-27");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 1), "due_date")), "2026-12-02");
    json_decref(rows);
    free(txt);
    json_decref(r);
    sdra_call_info_release(&c);
    sdra_crm_close(crm);
    tmpdir_remove(dir);
}

/* With an email that carries compose's task list, the tasks are that list (the rep's words),
 * not the analysis' items as they were said; without one, the analysis' items. */
static void sync_takes_the_emails_task_list(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tmpdir_make(dir, sizeof dir, "tasklist");
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_crm_open(&crm, "local", dir, &err), 0);
    sdra_call_info c;
    call_init(&c, "call-1", "jordan@acme.example");
    json_t *e = parse(EMAIL);
    json_object_set_new(e, "tasks",
                        parse("[{\"owner\":\"rep\",\"text\":\"Send the case study to their work email\",\"due\":\"2026-11-26\"},"
                              " {\"owner\":\"prospect\",\"text\":\"Check their calendar\",\"due\":\"2026-11-30\",\"due_time\":\"09:00\"},"
                              " {\"owner\":\"rep\",\"text\":\"Bring one of our engineers\"}]"));
    char *etxt = json_dumps(e, 0);
    json_decref(e);
    json_decref(sync_ok(crm, &c, ANALYSIS, etxt));
    json_t *rows = NULL;
    assert_int_equal(sdra_crm_list(crm, SDRA_CRM_TASKS, NULL, &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 4); /* three from the list, the meeting */
    const char *want[][4] = {{"rep", "Send the case study to their work email", "2026-11-26", NULL},
                             {"prospect", "Check their calendar", "2026-11-30", "09:00"},
                             {"rep", "Bring one of our engineers", NULL, NULL}};
    for (size_t i = 0; i < 3; i++) {
        const json_t *r = json_array_get(rows, i);
        assert_string_equal(json_string_value(json_object_get(r, "owner")), want[i][0]);
        assert_string_equal(json_string_value(json_object_get(r, "text")), want[i][1]);
        const char *due = json_string_value(json_object_get(r, "due_date")), *tm = json_string_value(json_object_get(r, "due_time"));
        if (want[i][2])
            assert_string_equal(due, want[i][2]);
        else
            assert_null(due);
        if (want[i][3])
            assert_string_equal(tm, want[i][3]);
        else
            assert_null(tm);
    }
    json_decref(rows);
    /* the same call synced from the analysis alone: its items replace the list's */
    json_t *r = sync_ok(crm, &c, ANALYSIS, NULL);
    assert_int_equal(json_integer_value(json_object_get(r, "tasks_removed")), 3);
    json_decref(r);
    assert_int_equal(sdra_crm_list(crm, SDRA_CRM_TASKS, NULL, &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 3);
    bool said = false; /* the meeting kept its row, the items are new ones */
    for (size_t i = 0; i < json_array_size(rows); i++)
        said |= !strcmp(json_string_value(json_object_get(json_array_get(rows, i), "text")), "send the case study");
    assert_true(said);
    json_decref(rows);
    free(etxt);
    sdra_call_info_release(&c);
    sdra_crm_close(crm);
    tmpdir_remove(dir);
}

/* A pain the classifier found (learned: true) says so in the CRM note; a rule's does not. An
 * objection it found is logged with "learned": true, a rule's without. */
static void sync_marks_learned_findings(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tmpdir_make(dir, sizeof dir, "learned");
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_crm_open(&crm, "local", dir, &err), 0);
    sdra_call_info c;
    call_init(&c, "call-1", "jordan@acme.example");
    json_t *a = parse(ANALYSIS);
    json_array_append_new(json_object_get(a, "pain_points"),
                          parse("{\"text\":\"we rekey every order twice\",\"speaker\":\"S2\",\"start\":65.0,\"learned\":true}"));
    json_array_append_new(json_object_get(a, "objections"),
                          parse("{\"type\":\"timing\",\"text\":\"not before the audit\",\"speaker\":\"S2\",\"start\":70.0,\"learned\":true}"));
    char *txt = json_dumps(a, 0);
    json_decref(a);
    json_decref(sync_ok(crm, &c, txt, NULL));
    json_t *rows = NULL;
    assert_int_equal(sdra_crm_list(crm, SDRA_CRM_NOTES, NULL, &rows, &err), 0);
    const char *body = json_string_value(json_object_get(json_array_get(rows, 0), "body"));
    assert_non_null(body);
    assert_non_null(strstr(body, "- it takes two days to reconcile (at 00:20)\n"));
    assert_non_null(strstr(body, "- we rekey every order twice (at 01:05; found by the classifier, check it)"));
    json_decref(rows);
    assert_int_equal(sdra_crm_list(crm, SDRA_CRM_ACTIVITIES, NULL, &rows, &err), 0);
    json_t *objs = json_object_get(json_array_get(rows, 0), "objections");
    assert_int_equal(json_array_size(objs), 3);
    assert_null(json_object_get(json_array_get(objs, 0), "learned"));
    assert_true(json_is_true(json_object_get(json_array_get(objs, 2), "learned")));
    json_decref(rows);
    free(txt);
    sdra_call_info_release(&c);
    sdra_crm_close(crm);
    tmpdir_remove(dir);
}

static void sync_partial_and_bad_analyses(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tmpdir_make(dir, sizeof dir, "partial");
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_crm_open(&crm, "local", dir, &err), 0);
    sdra_call_info c;
    call_init(&c, "call-p", "p@x.example");
    /* Fields missing or of the wrong type are treated as absent. */
    json_t *r = sync_ok(crm, &c, "{\"schema\":\"sdra.analysis/1\"}", NULL);
    assert_int_equal(json_array_size(json_object_get(r, "tasks")), 0);
    json_decref(r);
    r = sync_ok(crm, &c,
                "{\"action_items\":\"none\",\"objections\":{},\"sentiment\":[],\"next_meeting\":null,"
                " \"contact_preferences\":7,\"summary\":3,\"pain_points\":[1,{\"text\":null}],"
                " \"action_items\":[{\"text\":\"\"},5,{\"owner\":\"rep\"},{\"text\":\"call back\"}]}",
                NULL);
    assert_int_equal(json_array_size(json_object_get(r, "tasks")), 1);
    json_decref(r);
    /* Wrong schema or not an object: a clear error and no report. */
    json_t *bad = parse("{\"schema\":\"sdra.email/1\"}");
    json_t *report = NULL;
    assert_int_equal(sdra_crm_sync(crm, &c, NULL, bad, NULL, &report, &err), SDRA_EINVAL);
    assert_null(report);
    assert_non_null(strstr(err.msg, "sdra.email/1"));
    json_decref(bad);
    bad = parse("[1,2]");
    assert_int_equal(sdra_crm_sync(crm, &c, NULL, bad, NULL, &report, &err), SDRA_EINVAL);
    json_decref(bad);
    sdra_call_info noid = {0};
    bad = parse("{}");
    assert_int_equal(sdra_crm_sync(crm, &noid, NULL, bad, NULL, &report, &err), SDRA_EINVAL);
    json_decref(bad);
    sdra_call_info_release(&c);
    sdra_crm_close(crm);
    tmpdir_remove(dir);
}

/* A failure halfway (injected with a trigger that refuses emails) leaves nothing behind. */
static void sync_is_all_or_nothing(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    tmpdir_make(dir, sizeof dir, "atomic");
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_crm_open(&crm, "local", dir, &err), 0);
    snprintf(path, sizeof path, "%s/crm.sqlite3", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TRIGGER no_email BEFORE INSERT ON emails"
                                  " BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    sdra_call_info c;
    call_init(&c, "call-1", "jordan@acme.example");
    json_t *a = parse(ANALYSIS), *e = parse(EMAIL), *report = NULL;
    assert_true(sdra_crm_sync(crm, &c, NULL, a, e, &report, &err) < 0);
    assert_null(report);
    assert_non_null(strstr(err.msg, "injected fault"));
    assert_non_null(strstr(err.msg, "call-1"));
    for (int k = 0; k < SDRA_CRM_N_KINDS; k++)
        assert_int_equal(count_rows(crm, (sdra_crm_kind)k, NULL), 0);
    /* The handle is still usable afterwards. */
    json_t *r = sync_ok(crm, &c, ANALYSIS, NULL);
    json_decref(r);
    assert_int_equal(count_rows(crm, SDRA_CRM_CONTACTS, NULL), 1);
    json_decref(a);
    json_decref(e);
    sdra_call_info_release(&c);
    sdra_crm_close(crm);
    tmpdir_remove(dir);
}

/* Several processes syncing calls of the same contact at once: writers wait for each other
 * (busy timeout + IMMEDIATE transactions), nothing fails, nothing is duplicated. */
static void sync_concurrent_writers(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tmpdir_make(dir, sizeof dir, "concurrent");
    enum { N_PROC = 4, N_CALLS = 10 };
    pid_t pids[N_PROC];
    for (int k = 0; k < N_PROC; k++) {
        pids[k] = fork();
        assert_true(pids[k] >= 0);
        if (pids[k] == 0) {
            sdra_crm *crm = NULL;
            sdra_error err = {0};
            int bad = sdra_crm_open(&crm, "local", dir, &err) < 0;
            if (bad)
                fprintf(stderr, "child %d: open: %s\n", k, err.msg);
            for (int i = 0; i < N_CALLS && !bad; i++) {
                char id[64];
                snprintf(id, sizeof id, "conc-%d-%d", k, i);
                sdra_call_info c;
                call_init(&c, id, "jordan@acme.example");
                json_t *a = parse(ANALYSIS), *report = NULL;
                bad = sdra_crm_sync(crm, &c, NULL, a, NULL, &report, &err) < 0;
                if (bad)
                    fprintf(stderr, "child %d: %s\n", k, err.msg);
                json_decref(a);
                json_decref(report);
                sdra_call_info_release(&c);
            }
            sdra_crm_close(crm);
            _exit(bad);
        }
    }
    for (int k = 0; k < N_PROC; k++) {
        int st = 0;
        assert_int_equal(waitpid(pids[k], &st, 0), pids[k]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_crm_open_ex(&crm, "local", dir, SDRA_CRM_READONLY, &err), 0);
    assert_int_equal(count_rows(crm, SDRA_CRM_CONTACTS, NULL), 1);
    assert_int_equal(count_rows(crm, SDRA_CRM_ACTIVITIES, NULL), N_PROC * N_CALLS);
    assert_int_equal(count_rows(crm, SDRA_CRM_TASKS, NULL), N_PROC * N_CALLS * 3);
    sdra_crm_close(crm);
    tmpdir_remove(dir);
}

/* Erasure: a call's records, then a contact with everything linked to it; others untouched. */
static void sync_forget_call_and_contact(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tmpdir_make(dir, sizeof dir, "forget");
    sdra_crm *crm = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_crm_open(&crm, "local", dir, &err), 0);
    sdra_call_info a1, a2, b1;
    call_init(&a1, "a-1", "jordan@acme.example");
    call_init(&a2, "a-2", "jordan@acme.example");
    call_init(&b1, "b-1", "sam@beta.example");
    json_decref(sync_ok(crm, &a1, ANALYSIS, EMAIL));
    json_decref(sync_ok(crm, &a2, ANALYSIS, NULL));
    json_decref(sync_ok(crm, &b1, ANALYSIS, "{\"to\":\"sam@beta.example\",\"message_id\":\"<b@x>\"}"));
    int n = -1;
    assert_int_equal(sdra_crm_forget_call(crm, "a-1", &n, &err), 0);
    assert_int_equal(n, 3 + 1 + 1 + 1); /* tasks, email, note, activity */
    assert_int_equal(count_rows(crm, SDRA_CRM_ACTIVITIES, NULL), 2);
    assert_int_equal(count_rows(crm, SDRA_CRM_CONTACTS, NULL), 2);
    assert_int_equal(count_rows(crm, SDRA_CRM_EMAILS, NULL), 1);
    assert_int_equal(sdra_crm_forget_call(crm, "a-1", &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(sdra_crm_forget_contact(crm, "JORDAN@acme.example", &n, &err), 0);
    assert_int_equal(n, 3 + 1 + 1 + 1); /* a-2's tasks, note, activity, and the contact */
    assert_int_equal(count_rows(crm, SDRA_CRM_CONTACTS, NULL), 1);
    assert_int_equal(count_rows(crm, SDRA_CRM_CONTACTS, "jordan@acme.example"), 0);
    assert_int_equal(count_rows(crm, SDRA_CRM_TASKS, NULL), 3);
    assert_int_equal(count_rows(crm, SDRA_CRM_TASKS, "sam@beta.example"), 3);
    assert_int_equal(count_rows(crm, SDRA_CRM_EMAILS, "sam@beta.example"), 1);
    assert_int_equal(sdra_crm_forget_contact(crm, "nobody", &n, &err), SDRA_EINVAL);
    sdra_call_info_release(&a1);
    sdra_call_info_release(&a2);
    sdra_call_info_release(&b1);
    sdra_crm_close(crm);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sync_twice_updates_never_duplicates),
        cmocka_unit_test(sync_opt_outs_are_sticky_and_obeyed),
        cmocka_unit_test(sync_opt_out_cancels_scheduled_email),
        cmocka_unit_test(sync_email_rules),
        cmocka_unit_test(sync_prunes_tasks_the_analysis_dropped),
        cmocka_unit_test(sync_takes_the_emails_task_list),
        cmocka_unit_test(sync_marks_learned_findings),
        cmocka_unit_test(sync_partial_and_bad_analyses),
        cmocka_unit_test(sync_is_all_or_nothing),
        cmocka_unit_test(sync_concurrent_writers),
        cmocka_unit_test(sync_forget_call_and_contact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
