/*
 * test_outbox.c - the outbox's pure parts and its planning policy: backoff with jitter,
 * business-hours slots across zones and a DST change (expected instants computed with Python's
 * zoneinfo), the webhook signature (checked against Python's hmac, not against this code),
 * callback target checks (SSRF), and what a completed stage plans: an email to a do-not-email
 * contact is canceled, a needs_review package is held (review when_poor / always / never).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sdra/outbox.h"
#include "sdra/util.h"

static void outbox_backoff_doubles_caps_and_jitters(void **state)
{
    (void)state;
    /* rnd % 1000 == 500: factor exactly 1.0 */
    assert_int_equal(sdra_outbox_backoff_ms(1, 1000, 60000, 500), 1000);
    assert_int_equal(sdra_outbox_backoff_ms(2, 1000, 60000, 500), 2000);
    assert_int_equal(sdra_outbox_backoff_ms(4, 1000, 60000, 500), 8000);
    assert_int_equal(sdra_outbox_backoff_ms(30, 1000, 60000, 500), 60000); /* capped, no overflow */
    assert_int_equal(sdra_outbox_backoff_ms(1, 1000, 60000, 0), 500);      /* jitter 0.5 .. */
    assert_int_equal(sdra_outbox_backoff_ms(1, 1000, 60000, 999), 1499);   /* .. 1.499 */
}

static void outbox_business_hours_across_zones_and_dst(void **state)
{
    (void)state;
    sdra_outbox_hours h;
    sdra_error err = {0};
    assert_int_equal(sdra_outbox_hours_parse(&h, "09:00-17:00", &err), 0);
    assert_int_equal(h.start_min, 540);
    assert_int_equal(h.end_min, 1020);
    assert_int_equal(h.days_mask, 0x3e);
    int64_t t = 0;
    /* Friday 18:30 in Berlin -> Monday 09:00 Berlin */
    assert_int_equal(sdra_outbox_next_slot(1772818200000LL, "Europe/Berlin", &h, &t, &err), 0);
    assert_int_equal(t, 1773043200000LL);
    /* inside the hours: now */
    assert_int_equal(sdra_outbox_next_slot(1773134100000LL, "Europe/Berlin", &h, &t, &err), 0);
    assert_int_equal(t, 1773134100000LL);
    /* Saturday noon in New York -> Monday 09:00 EDT (DST began on the Sunday in between) */
    assert_int_equal(sdra_outbox_next_slot(1772902800000LL, "America/New_York", &h, &t, &err), 0);
    assert_int_equal(t, 1773061200000LL);
    /* before the hours on a weekday -> 09:00 the same day */
    assert_int_equal(sdra_outbox_next_slot(1773226800000LL, "America/New_York", &h, &t, &err), 0);
    assert_int_equal(t, 1773234000000LL);
    /* weekend days only */
    assert_int_equal(sdra_outbox_hours_parse(&h, "10:00-12:00,sat-sun", &err), 0);
    assert_int_equal(h.days_mask, 0x41);
    assert_int_equal(sdra_outbox_hours_parse(&h, "10:00-12:00,fri,mon", &err), 0);
    assert_int_equal(h.days_mask, 0x22);
    /* bad input: one clear error */
    assert_int_equal(sdra_outbox_hours_parse(&h, "17:00-09:00", &err), SDRA_EINVAL);
    assert_int_equal(sdra_outbox_hours_parse(&h, "9-5", &err), SDRA_EINVAL);
    assert_int_equal(sdra_outbox_hours_parse(&h, "09:00-17:00,funday", &err), SDRA_EINVAL);
    assert_int_equal(sdra_outbox_hours_parse(&h, "09:00-17:00", &err), 0);
    assert_int_equal(sdra_outbox_next_slot(0, "Mars/Olympus", &h, &t, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "Mars/Olympus"));
    assert_int_equal(sdra_outbox_next_slot(0, "../../etc/passwd", &h, &t, &err), SDRA_EINVAL);
}

static void outbox_signature_matches_python_hmac(void **state)
{
    (void)state;
    char sig[SDRA_OUTBOX_SIG_MAX];
    const char *body = "{\"id\":\"webhook:call.completed:c-1:cfg\",\"type\":\"call.completed\"}";
    sdra_outbox_sign("whsec_test", 1700000000, body, strlen(body), sig);
    /* python3 -c 'import hmac,hashlib; print(hmac.new(b"whsec_test", b"1700000000." + BODY,
     * hashlib.sha256).hexdigest())' */
    assert_string_equal(sig, "t=1700000000,v1=b15d0876474c52e2294c86151f007e369e76bcf01decce6643bbb99d4ba0495c");
    sdra_outbox_sign("k", 0, "", 0, sig);
    assert_string_equal(sig, "t=0,v1=6b4a4b8b3c40f1e8f53a3d36682e5f99f7ad2ac1df1c93dfe336f329167641e7");
}

static void outbox_callback_targets_refuse_private_addresses(void **state)
{
    (void)state;
    sdra_error err = {0};
    assert_int_equal(sdra_outbox_check_target("http://127.0.0.1:9/x", false, &err), SDRA_EDENIED);
    assert_int_equal(sdra_outbox_check_target("http://localhost/x", false, &err), SDRA_EDENIED);
    assert_int_equal(sdra_outbox_check_target("http://10.1.2.3/x", false, &err), SDRA_EDENIED);
    assert_int_equal(sdra_outbox_check_target("http://169.254.169.254/latest", false, &err), SDRA_EDENIED);
    assert_int_equal(sdra_outbox_check_target("http://[::1]:80/", false, &err), SDRA_EDENIED);
    assert_int_equal(sdra_outbox_check_target("http://[::ffff:192.168.0.1]/", false, &err), SDRA_EDENIED);
    assert_int_equal(sdra_outbox_check_target("http://100.64.0.1/", false, &err), SDRA_EDENIED);
    assert_int_equal(sdra_outbox_check_target("http://0.0.0.0/", false, &err), SDRA_EDENIED);
    assert_int_equal(sdra_outbox_check_target("http://8.8.8.8/hook", false, &err), 0);
    assert_int_equal(sdra_outbox_check_target("file:///etc/passwd", false, &err), SDRA_EINVAL);
    assert_int_equal(sdra_outbox_check_target("gopher://x/", true, &err), SDRA_EINVAL);
    assert_int_equal(sdra_outbox_check_target("http://user:pw@8.8.8.8/", false, &err), SDRA_EINVAL);
    assert_int_equal(sdra_outbox_check_target("http://127.0.0.1:9/x", true, &err), 0); /* allowed by the operator */
}

/* A call directory with call.json, analysis.json and email.json as the stages write them. */
static void write_call(char *dir, size_t n, bool dne, bool needs_review, const char *send_at)
{
    const char *tmp = getenv("SDRA_TEST_TMP");
    static int k;
    snprintf(dir, n, "%s/outbox-plan-%d-%d", tmp ? tmp : "/tmp", (int)getpid(), k++);
    sdra_error err = {0};
    assert_int_equal(sdra_mkdir_p(dir, &err), 0);
    char p[1200];
    json_t *call = json_pack("{s:s, s:s}", "id", "c-1", "contact_email", "pat@prospect.example");
    if (send_at)
        json_object_set_new(call, "send_at", json_string(send_at));
    snprintf(p, sizeof p, "%s/call.json", dir);
    assert_int_equal(sdra_json_write_file(p, call, &err), 0);
    json_decref(call);
    json_t *a = json_pack("{s:{s:b, s:b}}", "contact_preferences", "do_not_email", dne, "do_not_call", 0);
    snprintf(p, sizeof p, "%s/analysis.json", dir);
    assert_int_equal(sdra_json_write_file(p, a, &err), 0);
    json_decref(a);
    json_t *e = json_pack("{s:[{s:s}], s:s, s:{s:s}, s:b, s:[s]}", "to", "email", "pat@prospect.example", "message_id",
                          "<sdra.followup.c-1@acme.example>", "from", "email", "rep@acme.example", "needs_review",
                          needs_review, "review_reasons", "poor transcript");
    if (dne)
        json_object_set_new(e, "skipped", json_string("contact asked not to be emailed"));
    snprintf(p, sizeof p, "%s/email.json", dir);
    assert_int_equal(sdra_json_write_file(p, e, &err), 0);
    json_decref(e);
}

static const sdra_store_outbox_new *find(const sdra_outbox_plan *pl, const char *kind)
{
    for (int i = 0; i < pl->n; i++)
        if (!strcmp(pl->fx[i].kind, kind))
            return &pl->fx[i];
    return NULL;
}

static void outbox_plan_applies_do_not_email_and_review(void **state)
{
    (void)state;
    char dir[1024];
    sdra_error err = {0};
    sdra_outbox_plan pl;
    sdra_outbox_params p = sdra_outbox_default_params();
    p.mail = "smtp";
    p.crm = "hubspot";
    p.webhook_url = "http://127.0.0.1:9/hook";

    /* a clean package: queued at once */
    write_call(dir, sizeof dir, false, false, NULL);
    assert_int_equal(sdra_outbox_plan_stage(&pl, &p, "compose", false, "default", "c-1", dir, 1000, &err), 0);
    const sdra_store_outbox_new *m = find(&pl, SDRA_OUTBOX_MAIL);
    assert_non_null(m);
    assert_int_equal(m->state, SDRA_JOB_QUEUED);
    assert_string_equal(m->key, "mail.deliver:c-1");
    assert_int_equal(m->send_at_ms, 0);
    assert_null(find(&pl, SDRA_OUTBOX_WEBHOOK)); /* not the last stage */
    sdra_outbox_plan_release(&pl);

    /* do-not-email: canceled with the reason, never queued, whatever the review policy */
    write_call(dir, sizeof dir, true, false, NULL);
    p.review = SDRA_REVIEW_NEVER;
    assert_int_equal(sdra_outbox_plan_stage(&pl, &p, "compose", false, "default", "c-1", dir, 1000, &err), 0);
    m = find(&pl, SDRA_OUTBOX_MAIL);
    assert_non_null(m);
    assert_int_equal(m->state, SDRA_OUTBOX_CANCELED);
    assert_non_null(strstr(m->reason, "do-not-email"));
    sdra_outbox_plan_release(&pl);

    /* needs_review: held under when_poor (email and CRM), queued under never */
    write_call(dir, sizeof dir, false, true, NULL);
    p.review = SDRA_REVIEW_WHEN_POOR;
    assert_int_equal(sdra_outbox_plan_stage(&pl, &p, "compose", false, "default", "c-1", dir, 1000, &err), 0);
    m = find(&pl, SDRA_OUTBOX_MAIL);
    assert_int_equal(m->state, SDRA_OUTBOX_HELD);
    assert_non_null(strstr(m->reason, "poor transcript"));
    sdra_outbox_plan_release(&pl);
    assert_int_equal(sdra_outbox_plan_stage(&pl, &p, "sync", false, "default", "c-1", dir, 1000, &err), 0);
    m = find(&pl, SDRA_OUTBOX_CRM_SYNC);
    assert_non_null(m);
    assert_int_equal(m->state, SDRA_OUTBOX_HELD);
    sdra_outbox_plan_release(&pl);
    p.review = SDRA_REVIEW_NEVER;
    assert_int_equal(sdra_outbox_plan_stage(&pl, &p, "compose", false, "default", "c-1", dir, 1000, &err), 0);
    assert_int_equal(find(&pl, SDRA_OUTBOX_MAIL)->state, SDRA_JOB_QUEUED);
    sdra_outbox_plan_release(&pl);
    /* always: even a clean package waits */
    write_call(dir, sizeof dir, false, false, NULL);
    p.review = SDRA_REVIEW_ALWAYS;
    assert_int_equal(sdra_outbox_plan_stage(&pl, &p, "compose", false, "default", "c-1", dir, 1000, &err), 0);
    assert_int_equal(find(&pl, SDRA_OUTBOX_MAIL)->state, SDRA_OUTBOX_HELD);
    sdra_outbox_plan_release(&pl);

    /* explicit send_at; a bad one fails the plan with a clear line */
    p.review = SDRA_REVIEW_NEVER;
    write_call(dir, sizeof dir, false, false, "2026-03-09T09:30:00+01:00");
    assert_int_equal(sdra_outbox_plan_stage(&pl, &p, "compose", false, "default", "c-1", dir, 1000, &err), 0);
    assert_int_equal(find(&pl, SDRA_OUTBOX_MAIL)->send_at_ms, 1773045000000LL);
    sdra_outbox_plan_release(&pl);
    write_call(dir, sizeof dir, false, false, "next tuesday");
    assert_int_equal(sdra_outbox_plan_stage(&pl, &p, "compose", false, "default", "c-1", dir, 1000, &err),
                     SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "send_at"));
    assert_int_equal(pl.n, 0);

    /* the last stage: call.completed to the configured webhook, with the event id as key */
    write_call(dir, sizeof dir, false, false, NULL);
    assert_int_equal(sdra_outbox_plan_stage(&pl, &p, "report", true, "acme", "c-1", dir, 1000, &err), 0);
    m = find(&pl, SDRA_OUTBOX_WEBHOOK);
    assert_non_null(m);
    assert_string_equal(m->key, "webhook:call.completed:c-1:cfg");
    assert_string_equal(m->org, "acme");
    json_t *pay = json_loads(m->payload, 0, NULL);
    json_t *body = json_loads(json_string_value(json_object_get(pay, "body")), 0, NULL);
    assert_string_equal(json_string_value(json_object_get(body, "id")), m->key);
    assert_string_equal(json_string_value(json_object_get(body, "type")), "call.completed");
    json_decref(body);
    json_decref(pay);
    sdra_outbox_plan_release(&pl);

    /* nothing configured: a stage plans nothing */
    sdra_outbox_params none = sdra_outbox_default_params();
    assert_int_equal(sdra_outbox_plan_stage(&pl, &none, "compose", true, "default", "c-1", dir, 1000, &err), 0);
    assert_int_equal(pl.n, 0);
    sdra_outbox_plan_release(&pl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(outbox_backoff_doubles_caps_and_jitters),
        cmocka_unit_test(outbox_business_hours_across_zones_and_dst),
        cmocka_unit_test(outbox_signature_matches_python_hmac),
        cmocka_unit_test(outbox_callback_targets_refuse_private_addresses),
        cmocka_unit_test(outbox_plan_applies_do_not_email_and_review),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
