/* test_talking_points.c - talking-point files: parsing (entries, keywords, call flag, label,
 * comments, errors), selection by what the prospect said, skipping call proposals when the
 * contact asked not to be called, and the shipped files (one per objection type). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/internal.h"

static const char *FILE_SRC =
    "# comment\n"
    "label: pricing\n"
    "\n"
    "keywords: budget, next year\n"
    "Budget answer,\n"
    "  continued.\n"
    "\n"
    "keywords: expensive, cost\n"
    "ROI answer.\n"
    "\n"
    "keywords: walk you through, call\n"
    "call: yes\n"
    "Call answer.\n";

static void tp_parse_and_select(void **state)
{
    (void)state;
    sdra_tp_set *s = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_tp_parse(&s, FILE_SRC, "price.txt", &err), 0);
    assert_string_equal(sdra_tp_label(s), "pricing");
    assert_string_equal(sdra_tp_select(s, "It's too EXPENSIVE, the cost is high", 1), "ROI answer.");
    assert_string_equal(sdra_tp_select(s, "we have no budget until next year", 1),
                        "Budget answer, continued.");
    /* nothing matches: the first entry */
    assert_string_equal(sdra_tp_select(s, "hmm", 1), "Budget answer, continued.");
    assert_string_equal(sdra_tp_select(s, NULL, 1), "Budget answer, continued.");
    /* keywords count at word starts; the most frequent wins */
    assert_string_equal(sdra_tp_select(s, "a call would help, call me", 1), "Call answer.");
    /* do_not_call: the call entry is never chosen */
    assert_string_equal(sdra_tp_select(s, "a call would help, call me", 0), "Budget answer, continued.");
    assert_null(sdra_tp_select(NULL, "x", 1));
    sdra_tp_destroy(s);

    const char *only_call = "call: yes\nLet's talk.\n";
    assert_int_equal(sdra_tp_parse(&s, only_call, "x", &err), 0);
    assert_null(sdra_tp_label(s));
    assert_null(sdra_tp_select(s, "x", 0));
    assert_string_equal(sdra_tp_select(s, "x", 1), "Let's talk.");
    sdra_tp_destroy(s);
}

static void tp_parse_errors(void **state)
{
    (void)state;
    sdra_tp_set *s = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_tp_parse(&s, "# only comments\n\n", "e.txt", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "e.txt: no talking points"));
    assert_int_equal(sdra_tp_parse(&s, "keywords: a\n\ntext\n", "k.txt", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "k.txt:1: entry has no text"));
    assert_int_equal(sdra_tp_parse(&s, "call: maybe\ntext\n", "c.txt", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "c.txt:1: 'call:' must be yes or no"));
    assert_null(s);
    assert_int_equal(sdra_tp_load(&s, "/tmp", "../etc/passwd", &err), SDRA_EINVAL);
    assert_int_equal(sdra_tp_load(&s, "/nonexistent-dir", "price", &err), SDRA_ENOTFOUND);
}

static void tp_shipped_files_cover_every_type(void **state)
{
    (void)state;
    const char *share = getenv("SDRA_SHARE_DIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/talking_points", share ? share : SDRA_SOURCE_DATA_DIR);
    const char *types[] = {"price", "timing", "authority", "need", "competitor", "status_quo",
                           "no_time", "trust", "security", "legal", "general"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        sdra_tp_set *s = NULL;
        sdra_error err = {0};
        if (sdra_tp_load(&s, dir, types[i], &err) < 0)
            fail_msg("%s", err.msg);
        assert_non_null(sdra_tp_label(s));
        assert_non_null(sdra_tp_select(s, "", 0)); /* every type has a point without a call */
        sdra_tp_destroy(s);
    }
    /* the points the issue asks for */
    struct { const char *type, *said, *want; } cases[] = {
        {"price", "that's expensive", "ROI"},
        {"security", "is our data secure", "SOC 2"},
        {"authority", "my VP has to sign off", "one-page summary"},
        {"competitor", "we already use another vendor", "comparison"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sdra_tp_set *s = NULL;
        sdra_error err = {0};
        assert_int_equal(sdra_tp_load(&s, dir, cases[i].type, &err), 0);
        const char *p = sdra_tp_select(s, cases[i].said, 1);
        if (!p || !strstr(p, cases[i].want))
            fail_msg("%s: '%s' lacks '%s'", cases[i].type, p ? p : "(null)", cases[i].want);
        sdra_tp_destroy(s);
    }
}

/* The battlecard compose and the live coach share: the type's file, else general.txt; its
 * label, else the type; no file at all: the type as label, no point, SDRA_ENOTFOUND. */
static void tp_battlecard(void **state)
{
    (void)state;
    const char *share = getenv("SDRA_SHARE_DIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/talking_points", share ? share : SDRA_SOURCE_DATA_DIR);
    char *label = NULL, *point = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_tp_battlecard(dir, "price", "that's expensive", 1, &label, &point, &err), 0);
    assert_string_equal(label, "pricing");
    assert_non_null(strstr(point, "ROI"));
    free(label);
    free(point);
    assert_int_equal(sdra_tp_battlecard(dir, "weather", "it is raining", 1, &label, &point, &err), 0);
    assert_string_equal(label, "your concerns"); /* general.txt */
    assert_non_null(point);
    free(label);
    free(point);
    assert_int_equal(sdra_tp_battlecard("/nonexistent", "price", "x", 1, &label, &point, &err), SDRA_ENOTFOUND);
    assert_string_equal(label, "price");
    assert_null(point);
    free(label);
    assert_int_equal(sdra_tp_battlecard(dir, "../etc", "x", 1, &label, &point, &err), SDRA_EINVAL);
    free(label);
}

/* Playbook entries: only those marked "email: yes" are eligible for the email, by type; the
 * built-in talking points never are. */
static void tp_playbook_email_entries(void **state)
{
    (void)state;
    sdra_tp_set *s = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_tp_parse(&s,
                                   "type: price\nkeywords: budget\nPilot answer.\n\n"
                                   "type: price\nemail: yes\nkeywords: budget\nPayment plan.\n\n"
                                   "type: security\nemail: yes\nSOC 2 report.\n",
                                   "book.txt", &err),
                     0);
    assert_string_equal(sdra_tp_select_email(s, "price", "our budget", 1, 1), "Payment plan.");
    assert_string_equal(sdra_tp_select_email(s, "security", "", 1, 1), "SOC 2 report.");
    assert_null(sdra_tp_select_email(s, "timing", "", 1, 1));
    assert_string_equal(sdra_tp_select_email(s, "price", "budget", 1, 0), "Pilot answer.");
    sdra_tp_destroy(s);
    assert_int_equal(sdra_tp_parse(&s, FILE_SRC, "tp.txt", &err), 0);
    assert_null(sdra_tp_select_email(s, "price", "budget", 1, 1));
    sdra_tp_destroy(s);
    assert_int_equal(sdra_tp_parse(&s, "email: maybe\nText.\n", "bad.txt", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "bad.txt:1: 'email:' must be yes or no"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tp_parse_and_select),
        cmocka_unit_test(tp_parse_errors),
        cmocka_unit_test(tp_shipped_files_cover_every_type),
        cmocka_unit_test(tp_playbook_email_entries),
        cmocka_unit_test(tp_battlecard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
