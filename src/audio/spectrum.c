/*
 * spectrum.c - the audio module's spectral helpers: a 512-point radix-2 FFT (also the
 * diarizer's MFCC front end) and the band meter that tells telephone audio stored at a
 * wideband rate from real wideband speech (docs/asr.md, "Telephone-band recognition").
 */
#include "sdra/audio.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

void sdra_fft_init(sdra_fft *f)
{
    for (int i = 0; i < SDRA_FFT_N / 2; i++) {
        f->cos_tab[i] = (float)cos(2 * M_PI * i / SDRA_FFT_N);
        f->sin_tab[i] = (float)-sin(2 * M_PI * i / SDRA_FFT_N);
    }
}

void sdra_fft_run(const sdra_fft *f, float *re, float *im)
{
    const int n = SDRA_FFT_N;
    for (int i = 1, j = 0; i < n; i++) {
        int bit = n >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            float t = re[i];
            re[i] = re[j];
            re[j] = t;
            t = im[i];
            im[i] = im[j];
            im[j] = t;
        }
    }
    for (int len = 2; len <= n; len <<= 1) {
        int step = n / len;
        for (int i = 0; i < n; i += len) {
            for (int k = 0; k < len / 2; k++) {
                float wr = f->cos_tab[k * step], wi = f->sin_tab[k * step];
                int a = i + k, b = i + k + len / 2;
                float xr = re[b] * wr - im[b] * wi;
                float xi = re[b] * wi + im[b] * wr;
                re[b] = re[a] - xr;
                im[b] = im[a] - xi;
                re[a] += xr;
                im[a] += xi;
            }
        }
    }
}

/* ---- band meter -------------------------------------------------------------------------- */

/* The line band and the band above it that only wideband speech fills. The upper band starts
 * well above 4 kHz (an 8 kHz source's resampling filter rolls off there) and stops short of
 * 8 kHz (the 16 kHz output's own anti-alias filter). */
#define LINE_LO_HZ 300.0
#define LINE_HI_HZ 3400.0
#define HIGH_LO_HZ 4300.0
#define HIGH_HI_HZ 7600.0
#define MAX_FRAMES 1875 /* 60 s of 32 ms frames: the start of a call tells its channel */
#define MIN_FRAMES 31   /* 1 s: less is no measurement */

struct sdra_band_meter {
    sdra_fft fft;
    float window[SDRA_FFT_N];
    int line_lo, line_hi, high_lo, high_hi; /* FFT bins, inclusive */
    int16_t pending[SDRA_FFT_N];
    int n_pending;
    double line[MAX_FRAMES], high[MAX_FRAMES];
    int n_frames;
};

int sdra_band_meter_create(sdra_band_meter **out, int rate_hz, sdra_error *err)
{
    *out = NULL;
    if (rate_hz < 2 * (int)HIGH_HI_HZ + 400)
        return sdra_error_set(err, SDRA_EINVAL, "band meter: %d Hz is too low a rate to measure "
                              "above %g Hz", rate_hz, HIGH_LO_HZ);
    sdra_band_meter *m = calloc(1, sizeof *m);
    if (!m)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    sdra_fft_init(&m->fft);
    for (int i = 0; i < SDRA_FFT_N; i++)
        m->window[i] = (float)(0.5 - 0.5 * cos(2 * M_PI * i / (SDRA_FFT_N - 1)));
    double bin_hz = (double)rate_hz / SDRA_FFT_N;
    m->line_lo = (int)ceil(LINE_LO_HZ / bin_hz);
    m->line_hi = (int)floor(LINE_HI_HZ / bin_hz);
    m->high_lo = (int)ceil(HIGH_LO_HZ / bin_hz);
    m->high_hi = (int)floor(HIGH_HI_HZ / bin_hz);
    *out = m;
    return 0;
}

static void frame(sdra_band_meter *m)
{
    float re[SDRA_FFT_N], im[SDRA_FFT_N];
    double mean = 0;
    for (int i = 0; i < SDRA_FFT_N; i++)
        mean += m->pending[i];
    mean /= SDRA_FFT_N;
    for (int i = 0; i < SDRA_FFT_N; i++) {
        re[i] = (float)((m->pending[i] - mean) / 32768.0) * m->window[i];
        im[i] = 0;
    }
    sdra_fft_run(&m->fft, re, im);
    double line = 0, high = 0;
    for (int b = m->line_lo; b <= m->line_hi; b++)
        line += (double)re[b] * re[b] + (double)im[b] * im[b];
    for (int b = m->high_lo; b <= m->high_hi; b++)
        high += (double)re[b] * re[b] + (double)im[b] * im[b];
    m->line[m->n_frames] = line;
    m->high[m->n_frames] = high;
    m->n_frames++;
}

void sdra_band_meter_feed(sdra_band_meter *m, const int16_t *x, size_t n)
{
    for (size_t i = 0; i < n && m->n_frames < MAX_FRAMES; i++) {
        m->pending[m->n_pending++] = x[i];
        if (m->n_pending == SDRA_FFT_N) {
            frame(m);
            m->n_pending = 0;
        }
    }
}

bool sdra_band_meter_full(const sdra_band_meter *m) { return m->n_frames >= MAX_FRAMES; }

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

double sdra_band_meter_db(const sdra_band_meter *m)
{
    if (m->n_frames < MIN_FRAMES)
        return NAN;
    /* The louder half of the frames (speech, not the pauses between it, where a line's hiss
       or a room's noise would decide): the line band's median power is the cut. */
    double sorted[MAX_FRAMES];
    memcpy(sorted, m->line, (size_t)m->n_frames * sizeof sorted[0]);
    qsort(sorted, (size_t)m->n_frames, sizeof sorted[0], cmp_desc);
    double cut = sorted[m->n_frames / 2];
    double line = 0, high = 0;
    for (int i = 0; i < m->n_frames; i++)
        if (m->line[i] >= cut) {
            line += m->line[i];
            high += m->high[i];
        }
    if (line < 1e-9) /* silence (or digital zero): nothing to tell */
        return NAN;
    return 10.0 * log10((high + 1e-20) / line);
}

void sdra_band_meter_destroy(sdra_band_meter *m) { free(m); }
