/*
 * tools/lm-merge.c - build-time helper: writes the generic model interpolated with the
 * domain model as one model (sdra_asr_lm_merge). The build runs it to make
 * <build>/data/asr/sales.merged-0.15.lm.bin from en-us.lm.bin and data/asr/sales.lm.
 *
 * usage: sdra-lm-merge GENERIC.lm.bin DOMAIN.lm WEIGHT OUT.lm.bin
 */
#include "sdra/asr.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: sdra-lm-merge GENERIC.lm.bin DOMAIN.lm WEIGHT OUT.lm.bin\n");
        return 2;
    }
    char *end = NULL;
    double w = strtod(argv[3], &end);
    if (!end || *end) {
        fprintf(stderr, "sdra-lm-merge: %s: not a number\n", argv[3]);
        return 2;
    }
    sdra_error err = {0};
    fprintf(stderr, "sdra-lm-merge: %s + %s (%.3f) -> %s\n", argv[1], argv[2], w, argv[4]);
    if (sdra_asr_lm_merge(argv[1], argv[2], w, argv[4], &err) < 0) {
        fprintf(stderr, "sdra-lm-merge: %s\n", err.msg);
        return 1;
    }
    return 0;
}
