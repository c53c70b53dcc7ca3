/*
 * cmd_eval_analysis.c - `sdra eval analysis`: measures the analysis.
 *   --labels FILE     precision / recall / F1 per finding type on labelled calls (format in
 *                     docs/analysis.md), plus exact-date accuracy of due dates and meetings;
 *                     --min-precision / --min-recall / --min-f1 / --min-date-accuracy make it
 *                     fail (exit 1) below a threshold, so tests can assert quality.
 *   --ask-tsv FILE    request / action-item detection on "Yes|No<TAB>sentence" lines (the
 *                     email-ask-intent data): each sentence is analysed as one utterance of the
 *                     prospect; "Yes" is predicted when it yields a request (an action item
 *                     of kind "request", or a request_information / request_pricing intent);
 *                     with --ask-mode action, any action item (commitments too) counts.
 */
#include "cli.h"
#include "sdra/analyze.h"
#include "sdra/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *f)
{
    fprintf(f, "usage: sdra eval analysis --labels FILE [--min-precision P] [--min-recall R] [--min-f1 F]\n"
               "                          [--min-date-accuracy A] [--json] [--verbose]\n"
               "                          [--analyzer rules|llm --llm-url URL [--llm-model NAME] ...]\n"
               "       sdra eval analysis --ask-tsv FILE [--ask-mode request|action] [--json] [--show fp|fn]\n"
               "\n"
               "Scores the analysis against labelled calls (precision, recall, F1 per finding type;\n"
               "exact resolution of due dates and meeting dates), or request detection on\n"
               "'Yes|No<TAB>sentence' lines. Thresholds are fractions in [0, 1].\n"
               "With --labels, the analysis backend is chosen as for `sdra analyze`:\n" CLI_LLM_HELP);
}

static double ratio(int a, int b) { return b > 0 ? (double)a / b : 1.0; }

static int ask_tsv(const char *path, bool as_json, const char *show, bool any_action)
{
    sdra_error err = {0};
    char *data = NULL;
    size_t len;
    if (sdra_file_read(&data, &len, path, 64u << 20, &err) < 0)
        return cli_fail(&err);
    int tp = 0, fp = 0, fn = 0, tn = 0, line_no = 0, rc = SDRA_EXIT_OK;
    sdra_analyze_params p = sdra_analyze_default_params();
    p.call_date = "2026-01-05";
    for (char *line = data, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        line_no++;
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r')
            line[--l] = 0;
        if (!l)
            continue;
        char *tab = strchr(line, '\t');
        if (!tab || (strncmp(line, "Yes", 3) && strncmp(line, "No", 2))) {
            fprintf(stderr, "sdra: %s:%d: expected 'Yes|No<TAB>sentence'\n", path, line_no);
            rc = SDRA_EXIT_FAIL;
            break;
        }
        bool gold = line[0] == 'Y';
        sdra_transcript *t = sdra_transcript_create();
        if (!t) {
            rc = SDRA_EXIT_FAIL;
            break;
        }
        int rep = sdra_transcript_add_speaker(t, "S1", SDRA_ROLE_REP, -1);
        int pro = sdra_transcript_add_speaker(t, "S2", SDRA_ROLE_PROSPECT, -1);
        (void)rep;
        json_t *doc = NULL;
        bool pred = false;
        if (pro >= 0 && sdra_transcript_add_utterance(t, pro, 0.0, 5.0, tab + 1) &&
            sdra_analyze(&doc, t, &p, &err) == 0) {
            size_t i;
            json_t *o;
            json_array_foreach(json_object_get(doc, "action_items"), i, o) {
                if (any_action || !strcmp(json_string_value(json_object_get(o, "kind")), "request"))
                    pred = true;
            }
            json_array_foreach(json_object_get(doc, "intents"), i, o) {
                const char *ty = json_string_value(json_object_get(o, "type"));
                if (!strcmp(ty, "request_information") || !strcmp(ty, "request_pricing"))
                    pred = true;
            }
        } else if (err.code) {
            sdra_transcript_destroy(t);
            rc = cli_fail(&err);
            break;
        }
        json_decref(doc);
        sdra_transcript_destroy(t);
        if (show && ((pred && !gold && !strcmp(show, "fp")) || (!pred && gold && !strcmp(show, "fn"))))
            printf("%s\t%s\n", show, tab + 1);
        if (pred && gold)
            tp++;
        else if (pred)
            fp++;
        else if (gold)
            fn++;
        else
            tn++;
    }
    free(data);
    if (rc != SDRA_EXIT_OK)
        return rc;
    double P = ratio(tp, tp + fp), R = ratio(tp, tp + fn), F = P + R > 0 ? 2 * P * R / (P + R) : 0;
    if (as_json)
        printf("{\"file\":\"%s\",\"n\":%d,\"tp\":%d,\"fp\":%d,\"fn\":%d,\"tn\":%d,\"precision\":%.3f,"
               "\"recall\":%.3f,\"f1\":%.3f}\n",
               path, tp + fp + fn + tn, tp, fp, fn, tn, P, R, F);
    else
        printf("request detection on %s: n=%d tp=%d fp=%d fn=%d tn=%d  precision %.3f  recall %.3f  F1 %.3f\n",
               path, tp + fp + fn + tn, tp, fp, fn, tn, P, R, F);
    return SDRA_EXIT_OK;
}

static bool parse_frac(const char *s, double *out)
{
    char *e;
    double v = strtod(s, &e);
    if (*e || v < 0 || v > 1)
        return false;
    *out = v;
    return true;
}

int cmd_eval_analysis(int argc, char **argv)
{
    const char *labels = NULL, *tsv = NULL, *show = NULL;
    bool any_action = false;
    double min_p = -1, min_r = -1, min_f = -1, min_d = -1;
    bool as_json = false, verbose = false;
    cli_llm_opts lo = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help(stdout);
            return SDRA_EXIT_OK;
        } else if (cli_llm_id(a) >= 0 && i + 1 < argc) {
            if (cli_llm_option(&lo, "eval analysis", cli_llm_id(a), argv[++i]))
                return SDRA_EXIT_USAGE;
        } else if (!strcmp(a, "--json"))
            as_json = true;
        else if (!strcmp(a, "--verbose") || !strcmp(a, "-v"))
            verbose = true;
        else if (i + 1 < argc && !strcmp(a, "--labels"))
            labels = argv[++i];
        else if (i + 1 < argc && !strcmp(a, "--ask-mode") && (!strcmp(argv[i + 1], "request") || !strcmp(argv[i + 1], "action")))
            any_action = !strcmp(argv[++i], "action");
        else if (i + 1 < argc && !strcmp(a, "--ask-tsv"))
            tsv = argv[++i];
        else if (i + 1 < argc && !strcmp(a, "--show") && (!strcmp(argv[i + 1], "fp") || !strcmp(argv[i + 1], "fn")))
            show = argv[++i];
        else if (i + 1 < argc && (!strcmp(a, "--min-precision") || !strcmp(a, "--min-recall") ||
                                  !strcmp(a, "--min-f1") || !strcmp(a, "--min-date-accuracy"))) {
            double *dst = a[6] == 'p' ? &min_p : a[6] == 'r' ? &min_r : a[6] == 'f' ? &min_f : &min_d;
            if (!parse_frac(argv[++i], dst))
                return cli_usage_error("eval analysis", "%s '%s': expected a number in [0, 1]", a, argv[i]);
        } else
            return cli_usage_error("eval analysis", "unknown or incomplete option '%s'", a);
    }
    if (cli_llm_finish(&lo, "eval analysis"))
        return SDRA_EXIT_USAGE;
    if (tsv)
        return ask_tsv(tsv, as_json, show, any_action);
    if (!labels) {
        help(stderr);
        return SDRA_EXIT_USAGE;
    }
    if (verbose)
        sdra_log_set_handler(sdra_log_stderr_text, NULL, SDRA_LOG_INFO);
    sdra_error err = {0};
    sdra_analyze_eval ev;
    sdra_analyze_params ap = sdra_analyze_default_params();
    if (lo.analyzer)
        ap.backend = lo.analyzer;
    ap.llm_url = lo.url;
    ap.llm_model = lo.model;
    ap.llm_max_chars = (size_t)lo.max_chars;
    ap.llm_timeout_ms = lo.timeout_ms;
    if (sdra_analyze_eval_labels(&ev, labels, &ap, &err) < 0)
        return cli_fail(&err);
    int tp = 0, fp = 0, fn = 0, nd = 0, nde = 0;
    bool below = false;
    if (as_json)
        printf("{\"calls\":%d,\"types\":[", ev.n_calls);
    else
        printf("%d calls\n%-14s %5s %5s %5s %9s %7s %7s %11s\n", ev.n_calls, "type", "tp", "fp", "fn",
               "precision", "recall", "f1", "dates exact");
    for (int k = 0; k < ev.n_types; k++) {
        const sdra_analyze_score *s = &ev.types[k];
        double P = ratio(s->tp, s->tp + s->fp), R = ratio(s->tp, s->tp + s->fn);
        double F = P + R > 0 ? 2 * P * R / (P + R) : 0;
        tp += s->tp, fp += s->fp, fn += s->fn, nd += s->n_dates, nde += s->n_dates_exact;
        if (as_json)
            printf("%s{\"type\":\"%s\",\"tp\":%d,\"fp\":%d,\"fn\":%d,\"precision\":%.3f,\"recall\":%.3f,"
                   "\"f1\":%.3f,\"dates\":%d,\"dates_exact\":%d}",
                   k ? "," : "", s->type, s->tp, s->fp, s->fn, P, R, F, s->n_dates, s->n_dates_exact);
        else {
            char dates[32] = "-";
            if (s->n_dates)
                snprintf(dates, sizeof dates, "%d/%d", s->n_dates_exact, s->n_dates);
            printf("%-14s %5d %5d %5d %9.3f %7.3f %7.3f %11s\n", s->type, s->tp, s->fp, s->fn, P, R, F, dates);
        }
    }
    double P = ratio(tp, tp + fp), R = ratio(tp, tp + fn), F = P + R > 0 ? 2 * P * R / (P + R) : 0;
    double D = ratio(nde, nd);
    if (as_json)
        printf("],\"micro\":{\"precision\":%.3f,\"recall\":%.3f,\"f1\":%.3f},\"date_accuracy\":%.3f}\n", P, R, F, D);
    else
        printf("%-14s %5d %5d %5d %9.3f %7.3f %7.3f %6d/%d\n", "all (micro)", tp, fp, fn, P, R, F, nde, nd);
    /* thresholds apply to the micro average and to each type that has labels */
    if ((min_p >= 0 && P < min_p) || (min_r >= 0 && R < min_r) || (min_f >= 0 && F < min_f) ||
        (min_d >= 0 && D < min_d))
        below = true;
    for (int k = 0; k < ev.n_types && min_f >= 0; k++) {
        const sdra_analyze_score *s = &ev.types[k];
        if (s->tp + s->fn == 0)
            continue;
        double p1 = ratio(s->tp, s->tp + s->fp), r1 = ratio(s->tp, s->tp + s->fn);
        double f1 = p1 + r1 > 0 ? 2 * p1 * r1 / (p1 + r1) : 0;
        if (f1 < min_f - 0.15) { /* a type may sit a little under the overall bar, not far */
            fprintf(stderr, "sdra: %s F1 %.3f is far below the threshold %.3f\n", s->type, f1, min_f);
            below = true;
        }
    }
    if (below) {
        fprintf(stderr, "sdra: analysis quality below the thresholds given\n");
        return SDRA_EXIT_FAIL;
    }
    return SDRA_EXIT_OK;
}
