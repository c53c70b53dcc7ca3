/*
 * fuzz_audio_open - audio ingest (src/audio/decode.c) on arbitrary bytes: container probing
 * and WAV sniffing through FFmpeg, then decoding at most a few seconds to 16 kHz PCM. Any input
 * must decode or fail cleanly, never read past a buffer or hang. The input is offered once
 * under a neutral name and once as ".wav" (the name is a hint the decoder must not trust).
 */
#include <stdint.h>
#include <stdlib.h>
#include "fuzz_util.h"
#include "sdra/audio.h"

static void try_open(const char *path)
{
    sdra_error err = {0};
    sdra_audio_params p = sdra_audio_default_params();
    p.max_duration_s = 5;
    sdra_audio *a = NULL;
    if (sdra_audio_open(&a, path, &p, &err) < 0)
        return;
    const sdra_audio_info *info = sdra_audio_get_info(a);
    int nch = info->n_channels > 0 && info->n_channels <= SDRA_AUDIO_MAX_CHANNELS ? info->n_channels : 1;
    enum { FRAMES = 4096 };
    int16_t *chans[SDRA_AUDIO_MAX_CHANNELS] = {0};
    int16_t *mix = malloc(FRAMES * sizeof *mix);
    for (int c = 0; c < nch; c++)
        chans[c] = malloc(FRAMES * sizeof(int16_t));
    for (int i = 0; i < 40; i++) { /* at most ~10 s of 16 kHz audio */
        size_t got = 0;
        if (sdra_audio_read(a, chans, mix, FRAMES, &got, &err) < 0 || got == 0)
            break;
    }
    for (int c = 0; c < nch; c++)
        free(chans[c]);
    free(mix);
    sdra_audio_close(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    if (fuzz_write(path, sizeof path, "input", data, size) == 0)
        try_open(path);
    if (fuzz_write(path, sizeof path, "input.wav", data, size) == 0)
        try_open(path);
    return 0;
}
