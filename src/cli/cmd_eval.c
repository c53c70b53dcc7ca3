/*
 * cmd_eval.c - `sdra eval asr|diarization|analysis`: the project's own measuring tools.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

int cmd_eval(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        FILE *f = argc < 2 ? stderr : stdout;
        fprintf(f, "usage: sdra eval asr --ref REF.txt|REF.stm HYP.json      word error rate\n"
                   "       sdra eval diarization --ref REF.rttm HYP.json     diarization error rate (0.25 s collar)\n"
                   "       sdra eval analysis --labels FILE                  analysis precision / recall / F1\n");
        return argc < 2 ? SDRA_EXIT_USAGE : SDRA_EXIT_OK;
    }
    if (!strcmp(argv[1], "asr"))
        return cmd_eval_asr(argc - 1, argv + 1);
    if (!strcmp(argv[1], "diarization"))
        return cmd_eval_diarization(argc - 1, argv + 1);
    if (!strcmp(argv[1], "analysis"))
        return cmd_eval_analysis(argc - 1, argv + 1);
    return cli_usage_error("eval", "unknown evaluation '%s'", argv[1]);
}
