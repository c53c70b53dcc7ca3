/*
 * cmd_analyze.c - `sdra analyze TRANSCRIPT [--call-date YYYY-MM-DD] [--rep-name NAME]
 * [--analyzer rules|llm --llm-url URL ...] [--rules DIR] [-o FILE]`: reads a transcript (sdra JSON, plain-text
 * dialogue, WebVTT or SRT), analyses it and writes the sdra.analysis/1 document to FILE or
 * stdout. Just a user of sdra_transcript_load() and sdra_analyze().
 */
#include "cli.h"
#include "sdra/analyze.h"
#include "sdra/call.h"
#include "sdra/transcript.h"
#include "sdra/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *f)
{
    fprintf(f,
            "usage: sdra analyze TRANSCRIPT [--call-date YYYY-MM-DD] [--rep-name NAME] [-o FILE]\n"
            "\n"
            "Finds sentiment, intents, objections, topics, pain points, action items, the next\n"
            "meeting, contact preferences, talk metrics and a summary in a call transcript, and\n"
            "writes the sdra.analysis/1 JSON document (docs/schemas/analysis.md).\n"
            "\n"
            "TRANSCRIPT  sdra transcript JSON, a plain-text dialogue ('Name: words' per line,\n"
            "            optional [hh:mm:ss] prefixes), WebVTT or SRT with speaker names, in UTF-8;\n"
            "            '-' = stdin\n"
            "options:\n"
            "  --call-date D   anchors relative dates (default: the recording's date, else today)\n"
            "  --rep-name N    the sales rep's name as it appears in the transcript\n"
            "  --backend B     the same as --analyzer\n"
            CLI_LLM_HELP
            "  --rules DIR     rule files (default: <share>/analyze)\n"
            "  -o, --output F  write to F instead of stdout\n"
            "  --config FILE   options from FILE first (default $SDRA_CONFIG; docs/config.md)\n"
            "  --timing        print load and analysis times (ms) on stderr\n"
            "\n"
            "limits: 64 MiB, 100,000 utterances, 1,000,000 words per transcript (one-line\n"
            "error and exit 1 over them). -o F: a regular file is replaced atomically (mode\n"
            "0600); a device, a FIFO or '-' is written through; a directory is refused.\n");
}

int cmd_analyze(int argc, char **argv)
{
    /* the options below, for config files (the loop parses by hand) */
    static const struct option opts[] = {
        {"call-date", required_argument, 0, 1}, {"rep-name", required_argument, 0, 2},
        {"backend", required_argument, 0, 3},   {"rules", required_argument, 0, 4},
        {"output", required_argument, 0, 'o'},  {"timing", no_argument, 0, 5},
#ifdef CLI_LLM_LONGOPTS
        CLI_LLM_LONGOPTS,
#endif
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    CLI_CONFIG("analyze", opts, argc, argv);
    const char *in = NULL, *outp = NULL;
    bool timing = false;
    sdra_analyze_params p = sdra_analyze_default_params();
    cli_llm_opts lo = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help(stdout);
            return SDRA_EXIT_OK;
        }
        int lid = cli_llm_id(a);
        if (lid >= 0) {
            if (i + 1 >= argc)
                return cli_usage_error("analyze", "%s needs a value", a);
            if (cli_llm_option(&lo, "analyze", lid, argv[++i]))
                return SDRA_EXIT_USAGE;
            continue;
        }
        if (!strcmp(a, "--timing")) {
            timing = true;
            continue;
        }
        bool takes = !strcmp(a, "--call-date") || !strcmp(a, "--rep-name") || !strcmp(a, "-o") ||
                     !strcmp(a, "--output") || !strcmp(a, "--backend") || !strcmp(a, "--rules");
        if (takes) {
            if (i + 1 >= argc)
                return cli_usage_error("analyze", "%s needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--call-date")) {
                if (sdra_date_validate(v) < 0)
                    return cli_usage_error("analyze", "--call-date '%s': expected a real YYYY-MM-DD date", v);
                p.call_date = v;
            } else if (!strcmp(a, "--rep-name"))
                p.rep_name = v;
            else if (!strcmp(a, "--backend"))
                p.backend = v;
            else if (!strcmp(a, "--rules"))
                p.rules_dir = v;
            else
                outp = v;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("analyze", "unknown option '%s'", a);
        } else if (!in) {
            in = a;
        } else {
            return cli_usage_error("analyze", "more than one transcript given");
        }
    }
    if (!in) {
        help(stderr);
        return SDRA_EXIT_USAGE;
    }
    if (lo.analyzer)
        p.backend = lo.analyzer;
    else
        lo.analyzer = p.backend;
    if (!sdra_analyze_backend(p.backend))
        return cli_usage_error("analyze", "unknown backend '%s' (known: rules, llm)", p.backend);
    if (cli_llm_finish(&lo, "analyze"))
        return SDRA_EXIT_USAGE;
    p.llm_url = lo.url;
    p.llm_model = lo.model;
    p.llm_max_chars = (size_t)lo.max_chars;
    p.llm_timeout_ms = lo.timeout_ms;
    sdra_error err = {0};
    sdra_transcript *t = NULL;
    json_t *doc = NULL;
    int rc = SDRA_EXIT_FAIL;
    if (outp && sdra_file_write_check(outp, &err) < 0) /* before the work, not after */
        return cli_fail(&err);
    double t0 = sdra_clock_s();
    if (sdra_transcript_load(&t, in, p.rep_name, &err) < 0) {
        rc = cli_fail(&err);
        goto done;
    }
    double t1 = sdra_clock_s();
    if (sdra_analyze(&doc, t, &p, &err) < 0) {
        rc = cli_fail(&err);
        goto done;
    }
    if (timing)
        fprintf(stderr, "sdra: timing: load %.2f ms, analyze %.2f ms, %zu utterances\n", (t1 - t0) * 1000,
                (sdra_clock_s() - t1) * 1000, t->n_utts);
    if (outp && strcmp(outp, "-")) {
        if (sdra_json_write_file(outp, doc, &err) < 0) {
            rc = cli_fail(&err);
            goto done;
        }
    } else {
        if (json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 || fputc('\n', stdout) == EOF ||
            fflush(stdout) != 0) {
            fprintf(stderr, "sdra: stdout: write failed\n");
            goto done;
        }
    }
    rc = SDRA_EXIT_OK;
done:
    json_decref(doc);
    sdra_transcript_destroy(t);
    return rc;
}
