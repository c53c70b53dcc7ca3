/*
 * cmd_eval_diarization.c - `sdra eval diarization --ref REF.rttm HYP [--collar S] [--json]`:
 * diarization error rate of a transcript's utterances (or an RTTM hypothesis) against a
 * reference RTTM, with the standard 0.25 s collar and the optimal speaker mapping.
 */
#include "cli.h"
#include "sdra/eval.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *f)
{
    fprintf(f,
            "usage: sdra eval diarization --ref REF.rttm HYP [--collar SECONDS] [--json]\n\n"
            "Diarization error rate: (missed + false alarm + speaker confusion) / reference\n"
            "speech, overlap counted per speaker, with a no-score collar around every reference\n"
            "boundary (default 0.25 s) and the best one-to-one mapping of hypothesis speakers\n"
            "to reference speakers.\n\n"
            "  --ref FILE       reference RTTM ('SPEAKER <file> 1 <start> <dur> <NA> <NA> <spk> ...')\n"
            "  HYP              sdra transcript JSON (its utterances) or an RTTM file\n"
            "  --collar S       collar in seconds on each side of reference boundaries (0.25)\n"
            "  --json           print the figures as a JSON object\n\n"
            "Exit status: 0 scored, 1 a file is missing or malformed, 2 usage error.\n");
}

int cmd_eval_diarization(int argc, char **argv)
{
    const char *ref_path = NULL, *hyp_path = NULL;
    double collar = 0.25;
    int as_json = 0, rc = SDRA_EXIT_FAIL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help(stdout);
            return SDRA_EXIT_OK;
        } else if (!strcmp(a, "--ref")) {
            if (++i >= argc)
                return cli_usage_error("eval diarization", "--ref needs a file");
            ref_path = argv[i];
        } else if (!strcmp(a, "--collar")) {
            char *end;
            if (++i >= argc)
                return cli_usage_error("eval diarization", "--collar needs seconds");
            collar = strtod(argv[i], &end);
            if (end == argv[i] || *end || !isfinite(collar) || collar < 0 || collar > 10)
                return cli_usage_error("eval diarization",
                                       "--collar '%s' is not a number of seconds in 0..10",
                                       argv[i]);
        } else if (!strcmp(a, "--json")) {
            as_json = 1;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("eval diarization", "unknown option '%s'", a);
        } else if (!hyp_path) {
            hyp_path = a;
        } else {
            return cli_usage_error("eval diarization", "more than one hypothesis ('%s')", a);
        }
    }
    if (!ref_path)
        return cli_usage_error("eval diarization", "--ref REF.rttm is required");
    if (!hyp_path)
        return cli_usage_error("eval diarization", "a hypothesis file is required");

    sdra_error err = {0};
    sdra_eval_segs ref = {0}, hyp = {0};
    int *map = NULL;
    sdra_der d;
    if (sdra_eval_rttm_load(&ref, ref_path, &err) < 0 ||
        sdra_eval_turns_load(&hyp, hyp_path, &err) < 0) {
        rc = cli_fail(&err);
        goto done;
    }
    map = calloc(hyp.n_names + 1, sizeof *map);
    if (!map || sdra_eval_der(&ref, &hyp, collar, &d, map, &err) < 0) {
        if (!map)
            sdra_error_set(&err, SDRA_ENOMEM, "out of memory");
        rc = cli_fail(&err);
        goto done;
    }
    if (as_json) {
        json_t *o = json_object(), *m = json_object();
        json_object_set_new(o, "der", json_real(d.der));
        json_object_set_new(o, "missed_s", json_real(d.missed_s));
        json_object_set_new(o, "false_alarm_s", json_real(d.false_alarm_s));
        json_object_set_new(o, "confusion_s", json_real(d.confusion_s));
        json_object_set_new(o, "reference_s", json_real(d.ref_s));
        json_object_set_new(o, "collar_s", json_real(collar));
        json_object_set_new(o, "n_ref_speakers", json_integer((json_int_t)d.n_ref_speakers));
        json_object_set_new(o, "n_hyp_speakers", json_integer((json_int_t)d.n_hyp_speakers));
        for (size_t h = 0; h < hyp.n_names; h++)
            json_object_set_new(m, hyp.names[h],
                                map[h] >= 0 ? json_string(ref.names[map[h]]) : json_null());
        json_object_set_new(o, "mapping", m);
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        if (s)
            puts(s);
        free(s);
        json_decref(o);
    } else {
        printf("DER %.2f%%  (missed %.2f%%, false alarm %.2f%%, confusion %.2f%%)\n",
               100 * d.der, d.ref_s > 0 ? 100 * d.missed_s / d.ref_s : 0,
               d.ref_s > 0 ? 100 * d.false_alarm_s / d.ref_s : 0,
               d.ref_s > 0 ? 100 * d.confusion_s / d.ref_s : 0);
        printf("reference speech %.2f s scored (collar %.2f s); speakers: %zu reference, %zu "
               "hypothesis\n",
               d.ref_s, collar, d.n_ref_speakers, d.n_hyp_speakers);
        for (size_t h = 0; h < hyp.n_names; h++)
            printf("  %s -> %s\n", hyp.names[h], map[h] >= 0 ? ref.names[map[h]] : "(none)");
    }
    rc = SDRA_EXIT_OK;
done:
    free(map);
    sdra_eval_segs_release(&ref);
    sdra_eval_segs_release(&hyp);
    return rc;
}
