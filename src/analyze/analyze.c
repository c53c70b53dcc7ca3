/*
 * analyze.c - the module's entry point: default parameters, completing them (call date from
 * the recording, else today; rules directory under the share dir), input limits, and choosing
 * the backend. "rules" is the default and the fallback: when another backend fails, the rules
 * backend answers and the failure is logged, so a flaky LLM never loses an analysis.
 */
#include "internal.h"
#include "sdra/call.h"
#include "sdra/log.h"
#include "sdra/util.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_UTTERANCES 100000

static int cmp_i(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "i"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "i"));
    return (x > y) - (x < y);
}

void an_sort_by_i(json_t *arr)
{
    size_t n = json_array_size(arr);
    if (n < 2)
        return;
    json_t **v = malloc(n * sizeof *v);
    if (!v)
        return;
    for (size_t k = 0; k < n; k++)
        v[k] = json_incref(json_array_get(arr, k));
    for (size_t k = 1; k < n; k++) /* insertion sort: stable, and the arrays are short */
        for (size_t j = k; j > 0 && cmp_i(&v[j - 1], &v[j]) > 0; j--) {
            json_t *x = v[j];
            v[j] = v[j - 1];
            v[j - 1] = x;
        }
    json_array_clear(arr);
    for (size_t k = 0; k < n; k++)
        json_array_append_new(arr, v[k]);
    free(v);
}

static const struct sdra_analyze_ops *const backends[] = {&an_rules_backend, &an_llm_backend};

sdra_analyze_params sdra_analyze_default_params(void)
{
    sdra_analyze_params p = {0};
    p.backend = "rules";
    return p;
}

const struct sdra_analyze_ops *sdra_analyze_backend(const char *name)
{
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (name && !strcmp(backends[i]->name, name))
            return backends[i];
    return NULL;
}

/* Sets "conf" on obj when it cites an utterance i of t that has words. */
static void cite_conf(json_t *obj, const sdra_transcript *t)
{
    json_t *ji = json_object_get(obj, "i");
    if (!json_is_integer(ji) || json_integer_value(ji) < 0 ||
        (size_t)json_integer_value(ji) >= t->n_utts)
        return;
    const char *text = json_string_value(json_object_get(obj, "text"));
    if (!text)
        text = json_string_value(json_object_get(obj, "match"));
    double lo;
    double c = sdra_utterance_span_conf(&t->utts[json_integer_value(ji)], text ? text : "", &lo);
    if (c >= 0) {
        json_object_set_new(obj, "conf", json_real(round(c * 1000.0) / 1000.0));
        json_object_set_new(obj, "conf_min", json_real(round(lo * 1000.0) / 1000.0));
    }
}

/* The confidence of each finding's words and the transcript's quality (see the file comment). */
static void add_confidence(json_t *doc, const sdra_transcript *t)
{
    static const char *lists[] = {"intents", "objections", "pain_points", "action_items"};
    for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++) {
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(doc, lists[k]), i, it)
            cite_conf(it, t);
    }
    json_t *nm = json_object_get(doc, "next_meeting");
    cite_conf(json_object_get(nm, "proposed"), t);
    cite_conf(json_object_get(nm, "accepted"), t);
    sdra_transcript_quality q;
    sdra_transcript_assess(t, &q);
    if (q.n_words)
        json_object_set_new(doc, "quality", sdra_transcript_quality_json(&q));
}

int sdra_analyze(json_t **out, const sdra_transcript *t, const sdra_analyze_params *pin, sdra_error *err)
{
    sdra_analyze_params p = pin ? *pin : sdra_analyze_default_params();
    char today[11], rules_dir[PATH_MAX];
    if (!t || t->n_utts == 0)
        return sdra_error_set(err, SDRA_EINVAL, "transcript: no utterances to analyse");
    size_t max_u = p.max_utterances ? p.max_utterances : DEFAULT_MAX_UTTERANCES;
    if (t->n_utts > max_u)
        return sdra_error_set(err, SDRA_ELIMIT, "transcript: %zu utterances, more than the limit of %zu",
                              t->n_utts, max_u);
    for (size_t u = 0; u < t->n_utts; u++)
        if (t->utts[u].speaker < 0 || (size_t)t->utts[u].speaker >= t->n_speakers)
            return sdra_error_set(err, SDRA_EINVAL, "transcript: utterance %zu has no valid speaker", u);
    if (!p.call_date || !*p.call_date) {
        if (t->recorded_date && sdra_date_validate(t->recorded_date) == 0)
            p.call_date = t->recorded_date;
        else {
            sdra_date_today(today);
            p.call_date = today;
        }
    }
    if (sdra_date_validate(p.call_date) < 0)
        return sdra_error_set(err, SDRA_EINVAL, "call date '%s': expected a real YYYY-MM-DD date", p.call_date);
    if (!p.rules_dir) {
        if (sdra_share_path(rules_dir, sizeof rules_dir, "analyze") < 0)
            return sdra_error_set(err, SDRA_ELIMIT, "share directory path too long");
        p.rules_dir = rules_dir;
    }
    if (!p.backend)
        p.backend = "rules";
    const struct sdra_analyze_ops *ops = sdra_analyze_backend(p.backend);
    if (!ops)
        return sdra_error_set(err, SDRA_EINVAL, "analysis backend '%s': unknown (known: rules, llm)", p.backend);
    int rc = ops->analyze(out, t, &p, err);
    if (rc < 0 && ops != &an_rules_backend && rc != SDRA_EINVAL) {
        sdra_log(SDRA_LOG_WARN, "analysis backend %s failed (%s); using the rules backend", ops->name,
                 err ? err->msg : sdra_strerror(rc));
        sdra_error_clear(err);
        rc = an_rules_backend.analyze(out, t, &p, err);
    }
    if (rc == 0 && *out)
        add_confidence(*out, t);
    return rc;
}
