/* cmd_keys.c - placeholder until its issue lands: says so and fails. */
#include "cli.h"

#include <stdio.h>

int cmd_keys(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "sdra: 'keys' is not available in this build yet\n");
    return SDRA_EXIT_FAIL;
}
