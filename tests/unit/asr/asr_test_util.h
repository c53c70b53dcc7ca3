/*
 * asr_test_util.h - helpers for the asr and transcribe unit tests: synthesize speech with
 * flite at test time (so the tests need no audio files) and load it as 16 kHz mono PCM.
 */
#ifndef SDRA_ASR_TEST_UTIL_H
#define SDRA_ASR_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sdra/audio.h"

static inline const char *asr_test_tmp(void)
{
    const char *d = getenv("SDRA_TEST_TMP");
    if (!d)
        d = "/tmp";
    mkdir(d, 0700);
    return d;
}

/* Speaks each sentence with flite, joined by `gap_s` seconds of silence, into a 16 kHz mono
 * WAV at path. Returns 0 on success. */
static inline int asr_test_say(const char *path, const char *const *sentences, int n,
                               double gap_s)
{
    char cmd[16384];
    size_t len = 0;
    char parts[8192] = "";
    for (int i = 0; i < n; i++) {
        char part[1024];
        snprintf(part, sizeof part, "%s.part%d.wav", path, i);
        snprintf(cmd, sizeof cmd,
                 "flite -voice slt -t \"%s\" -o %s.raw.wav && sox %s.raw.wav -r 16000 -c 1 -b 16 %s pad 0 %.2f",
                 sentences[i], part, part, part, gap_s);
        if (system(cmd) != 0)
            return -1;
        len += (size_t)snprintf(parts + len, sizeof parts - len, " %s", part);
    }
    snprintf(cmd, sizeof cmd, "sox%s %s pad 0.5 0", parts, path);
    if (system(cmd) != 0)
        return -1;
    snprintf(cmd, sizeof cmd, "rm -f %s.part*", path);
    return system(cmd) == 0 ? 0 : -1;
}

/* Loads path as 16 kHz mono PCM (the mix of its channels) into *pcm (caller frees), *n samples.
 * Returns 0 on success. */
static inline int asr_test_load_mix(const char *path, int16_t **pcm, size_t *n)
{
    sdra_audio_params ap = sdra_audio_default_params();
    int16_t **chans = NULL;
    int nch = 0;
    sdra_error err = {0};
    if (sdra_audio_load(path, &ap, &chans, pcm, n, &nch, &err) < 0)
        return -1;
    for (int c = 0; c < nch; c++)
        free(chans[c]);
    free(chans);
    return 0;
}

#endif
