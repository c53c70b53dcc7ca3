/*
 * fuzz_redact - PII redaction (src/privacy) on arbitrary text: the text pass, and the
 * transcript pass over the same words split into utterances of two speakers (a new utterance
 * at every newline, the speaker flipping at every other one, words 0.5 s apart so that
 * sequences both join and break across speakers). Every input must redact or fail cleanly;
 * marker words keep start <= end and utterances stay in time order.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_util.h"
#include "sdra/privacy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sdra_redactor *r;
    sdra_error err = {0};
    if (!r && sdra_redactor_create(&r, NULL, &err) < 0)
        __builtin_trap(); /* the word lists must load (SDRA_SHARE_DIR) */
    if (size > 1 << 16)
        return 0;
    char *out = NULL;
    sdra_redact_report rep = {0};
    if (sdra_redactor_text(r, (const char *)data, size, &out, NULL, &rep, &err) == 0)
        free(out);
    sdra_redact_report_release(&rep);

    sdra_transcript *t = sdra_transcript_create();
    int s0 = sdra_transcript_add_speaker(t, "S1", SDRA_ROLE_REP, 0);
    int s1 = sdra_transcript_add_speaker(t, "S2", SDRA_ROLE_PROSPECT, 1);
    sdra_utterance *u = NULL;
    double x = 0;
    size_t i = 0, line = 0;
    char w[64];
    while (i < size) {
        if (!u || data[i] == '\n') {
            u = sdra_transcript_add_utterance(t, (line++ / 2) % 2 ? s1 : s0, x, x, NULL);
            if (!u)
                break;
        }
        while (i < size && (data[i] == ' ' || data[i] == '\n' || data[i] == '\0'))
            i++;
        size_t n = 0;
        while (i < size && data[i] != ' ' && data[i] != '\n' && data[i] != '\0') {
            if (n < sizeof w - 1)
                w[n++] = (char)data[i];
            i++;
        }
        if (n) {
            w[n] = '\0';
            sdra_utterance_add_word(u, w, x, x + 0.4, 0.9f);
            u->end = x + 0.4;
            x += (n & 1) ? 0.5 : 0.1;
        }
    }
    for (size_t k = 0; k < t->n_utts; k++)
        sdra_utterance_join_words(&t->utts[k]);
    if (sdra_redactor_transcript(r, t, &rep, &err) == 0) {
        for (size_t k = 0; k < t->n_utts; k++)
            for (size_t j = 0; j < t->utts[k].n_words; j++) {
                const sdra_word *wd = &t->utts[k].words[j];
                if (wd->end < wd->start || (j && wd->start < t->utts[k].words[j - 1].start))
                    __builtin_trap();
            }
        for (size_t k = 0; k < rep.n_spans; k++)
            if (rep.spans[k].end_s < rep.spans[k].start_s)
                __builtin_trap();
    }
    sdra_redact_report_release(&rep);
    sdra_transcript_destroy(t);
    return 0;
}
