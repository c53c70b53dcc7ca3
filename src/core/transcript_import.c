/*
 * transcript_import.c - sdra_transcript_load(): reads a transcript from a file in any of the
 * formats people bring (sdra JSON; WebVTT and SRT with speaker names as Zoom, Teams and Gong
 * export them; plain-text dialogues). Owned by the analysis work: text/VTT/SRT readers go here.
 */
#include "sdra/transcript.h"
#include "sdra/util.h"

#include <stdlib.h>
#include <string.h>

#define MAX_TRANSCRIPT_BYTES (64u << 20)

int sdra_transcript_load(sdra_transcript **out, const char *path, const char *rep_name, sdra_error *err)
{
    (void)rep_name;
    json_t *doc = NULL;
    int rc = sdra_json_load_file(&doc, path, MAX_TRANSCRIPT_BYTES, err);
    if (rc < 0)
        return rc;
    rc = sdra_transcript_from_json(out, doc, err);
    json_decref(doc);
    if (rc < 0)
        sdra_error_prefix(err, "%s", path);
    return rc;
}
