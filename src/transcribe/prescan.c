/*
 * src/transcribe/prescan.c - one look at a file's first minute before it is decoded
 * (sdra_transcribe_prescan, internal.h): is a two-channel file really a call with a party per
 * channel, and does each side carry the band above 4 kHz (telephone audio at a wideband rate).
 */
#include "transcribe/internal.h"
#include "sdra/log.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

sdra_prescan sdra_transcribe_prescan(const char *path, const sdra_audio_params *ap,
                                     bool check_stereo, bool measure_band)
{
    enum { BLOCK = 4096 };
    sdra_prescan out = {.really_mono = false, .high_band_db = {NAN, NAN, NAN}};
    if (!strcmp(path, "-") || (!check_stereo && !measure_band))
        return out;
    sdra_audio *a = NULL;
    sdra_band_meter *meter[3] = {NULL, NULL, NULL};
    if (sdra_audio_open(&a, path, ap, NULL) < 0)
        return out;
    for (int k = 0; measure_band && k < (check_stereo ? 3 : 1); k++)
        if (sdra_band_meter_create(&meter[k], ap->rate_hz, NULL) < 0)
            meter[k] = NULL;
    static const double max_frames = 60.0 * 16000;
    int16_t *l = malloc(BLOCK * sizeof *l), *r = malloc(BLOCK * sizeof *r),
            *mix = malloc(BLOCK * sizeof *mix);
    int16_t *chans[SDRA_AUDIO_MAX_CHANNELS] = {l, r};
    double el = 0, er = 0, ed = 0, es = 0, done_frames = 0;
    size_t n = 0;
    while (l && r && mix && done_frames < max_frames &&
           sdra_audio_read(a, chans, mix, BLOCK, &n, NULL) == 0 && n > 0) {
        if (check_stereo)
            for (size_t i = 0; i < n; i++) {
                double x = l[i], y = r[i];
                el += x * x;
                er += y * y;
                ed += (x - y) * (x - y);
                es += (x + y) * (x + y) / 4;
            }
        const int16_t *fed[3] = {mix, l, r};
        for (int k = 0; k < 3; k++)
            if (meter[k])
                sdra_band_meter_feed(meter[k], fed[k], n);
        done_frames += (double)n;
    }
    free(l);
    free(r);
    free(mix);
    for (int k = 0; k < 3; k++)
        if (meter[k]) {
            out.high_band_db[k] = sdra_band_meter_db(meter[k]);
            sdra_band_meter_destroy(meter[k]);
        }
    sdra_audio_close(a);
    if (check_stereo && es > 0) {
        bool same = ed < es * 1e-3;                         /* difference 30 dB down */
        bool one_silent = el < er * 1e-4 || er < el * 1e-4; /* one channel 40 dB down */
        if (same || one_silent)
            sdra_log(SDRA_LOG_INFO, "%s: the two channels %s; transcribing it as mono", path,
                     same ? "carry the same signal" : "are not both in use");
        out.really_mono = same || one_silent;
    }
    return out;
}
