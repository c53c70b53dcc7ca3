/*
 * fuzz_transcript_import - sdra_transcript_load on arbitrary bytes: the JSON, WebVTT, SRT and
 * plain-text importers (src/core/transcript_import.c) and the sdra.transcript/1 reader. Every
 * input must give a transcript or a clean error; a loaded transcript must write back out in
 * every format.
 */
#include <stdint.h>
#include <stdio.h>
#include "fuzz_util.h"
#include "sdra/transcript.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    if (fuzz_write(path, sizeof path, "input.transcript", data, size) < 0)
        return 0;
    sdra_error err = {0};
    sdra_transcript *t = NULL;
    const char *rep = size && (data[0] & 1) ? "Alex" : NULL;
    if (sdra_transcript_load(&t, path, rep, &err) == 0) {
        FILE *null = fopen("/dev/null", "w");
        for (int fmt = SDRA_TFMT_JSON; null && fmt <= SDRA_TFMT_SRT; fmt++)
            (void)sdra_transcript_write(t, (sdra_transcript_format)fmt, null, &err);
        if (null)
            fclose(null);
        sdra_transcript_destroy(t);
    } else if (!err.msg[0] || strchr(err.msg, '\n')) {
        __builtin_trap(); /* every failure has a one-line message */
    }
    return 0;
}
