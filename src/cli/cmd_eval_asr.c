/* cmd_eval_asr.c - placeholder until its issue lands: says so and fails. */
#include "cli.h"

#include <stdio.h>

int cmd_eval_asr(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "sdra: 'eval_asr' is not available in this build yet\n");
    return SDRA_EXIT_FAIL;
}
