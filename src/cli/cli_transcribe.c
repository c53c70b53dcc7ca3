/*
 * cli_transcribe.c - the transcription options that `sdra transcribe` and `sdra run` share
 * (--speakers, --jobs, --rep-channel, --vocab, --hints, --no-domain-lm, --domain-weight,
 * --acoustic-model, --adapt;
 * cli.h), parsed once into sdra_transcribe_params so that the two commands take the same
 * options with the same checks and the same messages.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "sdra/asr.h"

int cli_transcribe_option(sdra_transcribe_params *p, const char *cmd, int c, const char *arg)
{
    long v;
    switch (c - CLI_TR_OPT) {
    case 0: /* --speakers N|auto */
        if (!strcmp(arg, "auto")) {
            p->n_speakers = 0;
            return 0;
        }
        if ((v = cli_parse_count(arg)) < 0 || v > 16)
            return cli_usage_error(cmd, "--speakers wants auto or 1..16 (0 = auto), not '%s'", arg);
        p->n_speakers = (int)v;
        return 0;
    case 1:
        if ((v = cli_parse_count(arg)) < 1 || v > 64)
            return cli_usage_error(cmd, "--jobs needs a number from 1 to 64, not '%s'", arg);
        p->jobs = (int)v;
        return 0;
    case 2:
        if (!strcmp(arg, "left"))
            p->rep_channel = 0;
        else if (!strcmp(arg, "right"))
            p->rep_channel = 1;
        else
            return cli_usage_error(cmd, "--rep-channel wants left or right, not '%s'", arg);
        return 0;
    case 3: p->vocab_path = arg; return 0;
    case 4:
        if (strlen(arg) > CLI_TR_HINTS_MAX)
            return cli_usage_error(cmd, "--hints wants at most %d characters", CLI_TR_HINTS_MAX);
        p->hints = arg;
        return 0;
    case 5: p->domain_lm_path = ""; return 0;
    case 6: {
        char *end = NULL;
        double w = strtod(arg, &end);
        if (end == arg || *end || !(w >= 0 && w <= 0.9))
            return cli_usage_error(cmd, "--domain-weight wants 0..0.9, not '%s'", arg);
        p->domain_weight = (float)w;
        return 0;
    }
    case 7:
        if (sdra_asr_am_parse(arg, &p->acoustic_model, NULL) < 0)
            return cli_usage_error(cmd, "--acoustic-model wants auto, wideband or narrowband, not '%s'", arg);
        return 0;
    case 8:
        if (sdra_asr_adapt_parse(arg, &p->adapt, NULL) < 0)
            return cli_usage_error(cmd, "--adapt wants auto, on or off, not '%s'", arg);
        return 0;
    default:
        return -1;
    }
}
