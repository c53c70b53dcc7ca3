/*
 * cmd_eval_asr.c - `sdra eval asr --ref REF.txt|REF.stm HYP [--json]`: word error rate of a
 * transcript (or a plain text file) against a reference text, and with an STM reference and a
 * transcript hypothesis also the speaker-attributed cpWER.
 */
#include "cli.h"
#include "sdra/eval.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *f)
{
    fprintf(f,
            "usage: sdra eval asr --ref REF.txt|REF.stm HYP [--json] [--confidence]\n\n"
            "Word error rate: words lower-cased, punctuation removed, Levenshtein alignment;\n"
            "WER = (substitutions + deletions + insertions) / reference words.\n"
            "With an STM reference (<file> <chan> <speaker> <start> <end> text) and an sdra\n"
            "transcript as HYP, also cpWER: each hypothesis speaker's words scored against the\n"
            "reference speaker it maps to best (one-to-one).\n\n"
            "  --ref FILE   reference: plain text, or STM when the name ends in .stm\n"
            "  HYP          sdra transcript JSON or plain text\n"
            "  --json       print the figures as a JSON object\n"
            "  --confidence also align HYP's words (an sdra transcript) to the reference and\n"
            "               give, per confidence band of 0.1, how many words fell there and\n"
            "               how many of them were right (calibrates docs/schemas/transcript.md,\n"
            "               \"quality\")\n\n"
            "Exit status: 0 scored, 1 a file is missing or malformed, 2 usage error.\n");
}

static json_t *wer_json(const sdra_wer *w)
{
    json_t *o = json_object();
    json_object_set_new(o, "wer", json_real(w->wer));
    json_object_set_new(o, "ref_words", json_integer((json_int_t)w->n_ref));
    json_object_set_new(o, "hyp_words", json_integer((json_int_t)w->n_hyp));
    json_object_set_new(o, "substitutions", json_integer((json_int_t)w->sub));
    json_object_set_new(o, "deletions", json_integer((json_int_t)w->del));
    json_object_set_new(o, "insertions", json_integer((json_int_t)w->ins));
    return o;
}

#define CONF_BANDS 10

/* Words and right words per confidence band of 0.1, from the aligned hypothesis. */
static int conf_table(const char *hyp_path, const sdra_eval_words *ref, json_t **out,
                      sdra_error *err)
{
    sdra_eval_words hyp = {0};
    float *conf = NULL;
    unsigned char *ok = NULL;
    sdra_wer w;
    int rc = sdra_eval_conf_load(hyp_path, &hyp, &conf, err);
    if (rc < 0)
        goto done;
    if (!(ok = malloc(hyp.n + 1))) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = sdra_eval_align(ref, &hyp, ok, &w, err)) < 0)
        goto done;
    size_t words[CONF_BANDS] = {0}, right[CONF_BANDS] = {0};
    for (size_t j = 0; j < hyp.n; j++) {
        int b = (int)(conf[j] * CONF_BANDS);
        b = b < 0 ? 0 : b >= CONF_BANDS ? CONF_BANDS - 1 : b;
        words[b]++;
        right[b] += ok[j];
    }
    json_t *bands = json_array();
    for (int b = 0; b < CONF_BANDS; b++) {
        json_t *o = json_object();
        json_object_set_new(o, "from", json_real(b / (double)CONF_BANDS));
        json_object_set_new(o, "words", json_integer((json_int_t)words[b]));
        json_object_set_new(o, "right", json_integer((json_int_t)right[b]));
        json_array_append_new(bands, o);
    }
    *out = bands;
done:
    free(ok);
    free(conf);
    sdra_eval_words_release(&hyp);
    return rc;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

int cmd_eval_asr(int argc, char **argv)
{
    const char *ref_path = NULL, *hyp_path = NULL;
    int as_json = 0, want_conf = 0, rc = SDRA_EXIT_FAIL;
    json_t *bands = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help(stdout);
            return SDRA_EXIT_OK;
        } else if (!strcmp(a, "--ref")) {
            if (++i >= argc)
                return cli_usage_error("eval asr", "--ref needs a file");
            ref_path = argv[i];
        } else if (!strcmp(a, "--json")) {
            as_json = 1;
        } else if (!strcmp(a, "--confidence")) {
            want_conf = 1;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("eval asr", "unknown option '%s'", a);
        } else if (!hyp_path) {
            hyp_path = a;
        } else {
            return cli_usage_error("eval asr", "more than one hypothesis ('%s')", a);
        }
    }
    if (!ref_path)
        return cli_usage_error("eval asr", "--ref REF.txt|REF.stm is required");
    if (!hyp_path)
        return cli_usage_error("eval asr", "a hypothesis file is required");

    sdra_error err = {0};
    sdra_eval_words ref = {0}, hyp = {0};
    sdra_eval_spk_words ref_by = {0}, hyp_by = {0};
    int is_stm = ends_with(ref_path, ".stm"), hyp_is_transcript = 0, ref_is_transcript = 0;
    int *map = NULL;
    sdra_wer w, cp;
    int have_cp = 0;
    if (is_stm ? sdra_eval_stm_load(ref_path, &ref, &ref_by, NULL, &err) < 0
               : sdra_eval_text_load(ref_path, &ref, NULL, &ref_is_transcript, &err) < 0) {
        rc = cli_fail(&err);
        goto done;
    }
    if (sdra_eval_text_load(hyp_path, &hyp, &hyp_by, &hyp_is_transcript, &err) < 0 ||
        sdra_eval_wer(&ref, &hyp, &w, &err) < 0) {
        rc = cli_fail(&err);
        goto done;
    }
    if (ref.n == 0) {
        sdra_error_set(&err, SDRA_EINVAL, "%s: the reference has no words", ref_path);
        rc = cli_fail(&err);
        goto done;
    }
    if (want_conf && conf_table(hyp_path, &ref, &bands, &err) < 0) {
        rc = cli_fail(&err);
        goto done;
    }
    if (is_stm && hyp_is_transcript) {
        map = calloc(hyp_by.n + 1, sizeof *map);
        if (!map) {
            sdra_error_set(&err, SDRA_ENOMEM, "out of memory");
            rc = cli_fail(&err);
            goto done;
        }
        if (sdra_eval_cpwer(&ref_by, &hyp_by, &cp, map, &err) < 0) {
            rc = cli_fail(&err);
            goto done;
        }
        have_cp = 1;
    }
    if (as_json) {
        json_t *o = wer_json(&w);
        if (have_cp) {
            json_t *c = wer_json(&cp), *m = json_object();
            for (size_t h = 0; h < hyp_by.n; h++)
                json_object_set_new(m, hyp_by.names[h],
                                    map[h] >= 0 ? json_string(ref_by.names[map[h]]) : json_null());
            json_object_set_new(c, "mapping", m);
            json_object_set_new(o, "cpwer", c);
        }
        if (bands)
            json_object_set_new(o, "confidence_bands", json_incref(bands));
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        if (s)
            puts(s);
        free(s);
        json_decref(o);
    } else {
        printf("WER %.2f%%  (%zu reference words, %zu hypothesis words: %zu substitutions, %zu "
               "deletions, %zu insertions)\n",
               100 * w.wer, w.n_ref, w.n_hyp, w.sub, w.del, w.ins);
        if (have_cp) {
            printf("cpWER %.2f%%  (%zu substitutions, %zu deletions, %zu insertions)\n",
                   100 * cp.wer, cp.sub, cp.del, cp.ins);
            for (size_t h = 0; h < hyp_by.n; h++)
                printf("  %s -> %s\n", hyp_by.names[h],
                       map[h] >= 0 ? ref_by.names[map[h]] : "(none)");
        } else if (is_stm) {
            printf("cpWER not computed: the hypothesis is plain text without speakers\n");
        }
        for (size_t b = 0; b < json_array_size(bands); b++) {
            const json_t *o = json_array_get(bands, b);
            json_int_t n = json_integer_value(json_object_get(o, "words"));
            json_int_t r = json_integer_value(json_object_get(o, "right"));
            printf("conf %.1f-%.1f  %6lld words  %5.1f%% right\n", b / 10.0, (b + 1) / 10.0,
                   (long long)n, n ? 100.0 * (double)r / (double)n : 0.0);
        }
    }
    rc = SDRA_EXIT_OK;
done:
    json_decref(bands);
    free(map);
    sdra_eval_words_release(&ref);
    sdra_eval_words_release(&hyp);
    sdra_eval_spk_words_release(&ref_by);
    sdra_eval_spk_words_release(&hyp_by);
    return rc;
}
