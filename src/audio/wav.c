/*
 * wav.c - the header of the 16-bit PCM WAV files sdra writes (sdra/audio.h). Reading WAV is
 * FFmpeg's job (decode.c); this is only the writer's half, in one place.
 */
#include <string.h>

#include "sdra/audio.h"

static void put_le(unsigned char *p, uint32_t v, int n)
{
    for (int k = 0; k < n; k++)
        p[k] = (unsigned char)(v >> (8 * k));
}

void sdra_audio_wav_header(unsigned char h[SDRA_AUDIO_WAV_HEADER_BYTES], int channels, int rate_hz,
                           uint32_t data_bytes)
{
    memcpy(h, "RIFF", 4);
    put_le(h + 4, 36 + data_bytes, 4);
    memcpy(h + 8, "WAVEfmt ", 8);
    put_le(h + 16, 16, 4); /* fmt chunk size */
    put_le(h + 20, 1, 2);  /* PCM */
    put_le(h + 22, (uint32_t)channels, 2);
    put_le(h + 24, (uint32_t)rate_hz, 4);
    put_le(h + 28, (uint32_t)(rate_hz * channels * 2), 4); /* byte rate */
    put_le(h + 32, (uint32_t)(channels * 2), 2);           /* block align */
    put_le(h + 34, 16, 2);                                 /* bits per sample */
    memcpy(h + 36, "data", 4);
    put_le(h + 40, data_bytes, 4);
}
