/* test_coach_agreement.c - the live coach against the post-call analysis on the labelled
 * dialogues (tests/analysis/labels.txt and its held-out and blind sets): every call is fed
 * utterance by utterance, and the objections the coach alerted on by the end must be the
 * post-call analysis' objections, type and utterance, and its do-not-call alerts the analysis'
 * do-not-call evidence. Prints the counts (the measurement in docs/live.md, "Alerts"). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdra/analyze.h"
#include "sdra/live.h"
#include "sdra/util.h"

typedef struct tally {
    int calls, post, live, agreed, dnc_post, dnc_live;
} tally;

/* (kind, type, utterance) of each objection / do-not-call alert, as "type@i" strings */
static void on_event(void *user, const char *event, json_t *data)
{
    if (strcmp(event, "alert"))
        return;
    const char *kind = json_string_value(json_object_get(data, "kind"));
    char key[96];
    if (!strcmp(kind, "objection"))
        snprintf(key, sizeof key, "%s@%lld", json_string_value(json_object_get(data, "type")),
                 (long long)json_integer_value(json_object_get(data, "utterance")));
    else if (!strcmp(kind, "do_not_call"))
        snprintf(key, sizeof key, "dnc@%lld", (long long)json_integer_value(json_object_get(data, "utterance")));
    else
        return;
    json_array_append_new(user, json_string(key));
}

static bool has(const json_t *arr, const char *key)
{
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x)
        if (!strcmp(json_string_value(x), key))
            return true;
    return false;
}

static void one_call(tally *tl, const char *path, const char *date, const char *rep)
{
    sdra_transcript *full = NULL, *t = sdra_transcript_create();
    sdra_error err = {0};
    if (sdra_transcript_load(&full, path, rep, &err) < 0)
        fail_msg("%s: %s", path, err.msg);
    sdra_analyze_params ap = sdra_analyze_default_params();
    ap.call_date = date;
    ap.rep_name = rep;
    sdra_coach_params p = sdra_coach_default_params();
    p.analyze = &ap;
    sdra_coach *c = NULL;
    assert_int_equal(sdra_coach_create(&c, &p, &err), 0);
    for (size_t s = 0; s < full->n_speakers; s++) {
        assert_true(sdra_transcript_add_speaker(t, full->speakers[s].id, full->speakers[s].role, -1) >= 0);
        if (full->speakers[s].name)
            t->speakers[s].name = strdup(full->speakers[s].name);
    }
    json_t *live = json_array();
    for (size_t i = 0; i < full->n_utts; i++) {
        const sdra_utterance *u = &full->utts[i];
        sdra_utterance *v = sdra_transcript_add_utterance(t, u->speaker, u->start, u->end, u->text);
        assert_non_null(v);
        for (size_t w = 0; w < u->n_words; w++)
            sdra_utterance_add_word(v, u->words[w].w, u->words[w].start, u->words[w].end, u->words[w].conf);
        if (sdra_coach_update(c, t, on_event, live, &err) < 0)
            fail_msg("%s: update: %s", path, err.msg);
    }
    json_t *doc = NULL;
    assert_int_equal(sdra_analyze(&doc, full, &ap, &err), 0);
    json_t *post = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(doc, "objections"), i, o) {
        char key[96];
        snprintf(key, sizeof key, "%s@%lld", json_string_value(json_object_get(o, "type")),
                 (long long)json_integer_value(json_object_get(o, "i")));
        json_array_append_new(post, json_string(key));
    }
    json_array_foreach(json_object_get(json_object_get(doc, "contact_preferences"), "evidence"), i, o) {
        const char *ty = json_string_value(json_object_get(o, "type"));
        char key[96];
        snprintf(key, sizeof key, "dnc@%lld", (long long)json_integer_value(json_object_get(o, "i")));
        if ((!strcmp(ty, "do_not_call") || !strcmp(ty, "do_not_contact")) && !has(post, key))
            json_array_append_new(post, json_string(key));
    }
    tl->calls++;
    json_array_foreach(post, i, o) {
        bool dnc = !strncmp(json_string_value(o), "dnc@", 4);
        *(dnc ? &tl->dnc_post : &tl->post) += 1;
        if (!dnc && has(live, json_string_value(o)))
            tl->agreed++;
        if (!has(live, json_string_value(o)))
            print_message("coach: %s: post-call %s, no live alert\n", path, json_string_value(o));
    }
    json_array_foreach(live, i, o) {
        bool dnc = !strncmp(json_string_value(o), "dnc@", 4);
        *(dnc ? &tl->dnc_live : &tl->live) += 1;
        if (!has(post, json_string_value(o)))
            print_message("coach: %s: live %s, not in the post-call analysis\n", path, json_string_value(o));
    }
    json_decref(post);
    json_decref(live);
    json_decref(doc);
    sdra_coach_destroy(c);
    sdra_transcript_destroy(t);
    sdra_transcript_destroy(full);
}

static void agreement_on(const char *set)
{
    char labels[4096 + 16], dir[4096];
    snprintf(dir, sizeof dir, "%s/../tests/analysis/%s", sdra_share_dir(), set);
    snprintf(labels, sizeof labels, "%s/labels.txt", dir);
    FILE *f = fopen(labels, "r");
    if (!f)
        fail_msg("%s: cannot open", labels);
    tally tl = {0};
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        char file[256], path[4096 + 256], date[16] = "2026-11-24", rep[64] = "";
        if (sscanf(line, "call %255s", file) != 1)
            continue;
        const char *d = strstr(line, "date="), *r = strstr(line, "rep=");
        if (d)
            sscanf(d, "date=%15s", date);
        if (r)
            sscanf(r, "rep=%63s", rep);
        snprintf(path, sizeof path, "%s/%s", dir, file);
        one_call(&tl, path, date, *rep ? rep : NULL);
    }
    fclose(f);
    print_message("coach agreement %-12s calls %d, objections post-call %d, live %d, both %d; "
                  "do-not-call post-call %d, live %d\n",
                  set, tl.calls, tl.post, tl.live, tl.agreed, tl.dnc_post, tl.dnc_live);
    assert_true(tl.calls > 0);
    assert_int_equal(tl.live, tl.post);
    assert_int_equal(tl.agreed, tl.post);
    assert_int_equal(tl.dnc_live, tl.dnc_post);
}

static void coach_agrees_dev(void **state) { (void)state; agreement_on("."); }
static void coach_agrees_heldout(void **state)
{
    (void)state;
    agreement_on("heldout");
    agreement_on("heldout2");
    agreement_on("heldout3");
}
static void coach_agrees_blind(void **state) { (void)state; agreement_on("blind"); }
static void coach_agrees_blind_final(void **state) { (void)state; agreement_on("blind-final"); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(coach_agrees_dev),
        cmocka_unit_test(coach_agrees_heldout),
        cmocka_unit_test(coach_agrees_blind),
        cmocka_unit_test(coach_agrees_blind_final),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
