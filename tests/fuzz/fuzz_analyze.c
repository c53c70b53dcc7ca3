/*
 * fuzz_analyze - the rules analysis (src/analyze/) on arbitrary dialogue text: the tokenizer,
 * the date and time parser, the rules, the meeting tracker and the learned classifiers, with
 * the shipped rules and examples (SDRA_SHARE_DIR). The first byte picks the call date and
 * whether a rep is named; the rest is a plain-text dialogue ("Name: words" lines). Every input
 * must give an analysis or a clean one-line error.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "fuzz_util.h"
#include "sdra/analyze.h"
#include "sdra/transcript.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    char path[512];
    if (fuzz_write(path, sizeof path, "call.txt", data + 1, size - 1) < 0)
        return 0;
    static const char *dates[] = {"2026-01-31", "2026-02-28", "2026-11-24", "2026-12-31"};
    sdra_error err = {0};
    sdra_transcript *t = NULL;
    const char *rep = (data[0] & 4) ? "Alex" : NULL;
    if (sdra_transcript_load(&t, path, rep, &err) < 0)
        return 0; /* the importers have their own fuzzer */
    sdra_analyze_params p = sdra_analyze_default_params();
    p.call_date = dates[data[0] & 3];
    p.rep_name = rep;
    json_t *doc = NULL;
    if (sdra_analyze(&doc, t, &p, &err) == 0)
        json_decref(doc);
    else if (!err.msg[0] || strchr(err.msg, '\n'))
        __builtin_trap(); /* every failure has a one-line message */
    sdra_transcript_destroy(t);
    return 0;
}
