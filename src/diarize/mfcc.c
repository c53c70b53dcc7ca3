/*
 * mfcc.c - the MFCC front end of the cluster method, written out in full so that it needs no
 * outside library: pre-emphasis (0.97), Hamming window (25 ms), 512-point FFT (the audio module's
 * sdra_fft_run), power spectrum, triangular mel filterbank over the telephone band, log,
 * DCT-II. One call computes one frame; the caller slides the window by 10 ms.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static double hz_to_mel(double f) { return 2595.0 * log10(1.0 + f / 700.0); }
static double mel_to_hz(double m) { return 700.0 * (pow(10.0, m / 2595.0) - 1.0); }

int sdra_diarize_mfcc_init(sdra_mfcc *m, int rate_hz)
{
    memset(m, 0, sizeof *m);
    m->rate_hz = rate_hz;
    m->win = rate_hz / 40; /* 25 ms */
    m->hop = rate_hz / 100;
    if (m->win > SDRA_MFCC_FFT)
        m->win = SDRA_MFCC_FFT; /* 32 ms at 16 kHz+: above 20 kHz rates the window shortens */
    for (int i = 0; i < m->win; i++)
        m->window[i] = (float)(0.54 - 0.46 * cos(2 * M_PI * i / (m->win - 1)));
    sdra_fft_init(&m->fft);
    int nb = SDRA_MFCC_FFT / 2 + 1;
    m->mel_w = calloc((size_t)SDRA_MFCC_MEL * nb, sizeof(float));
    if (!m->mel_w)
        return SDRA_ENOMEM;
    double hi = rate_hz / 2.0 < 4000.0 ? rate_hz / 2.0 : 4000.0;
    double mlo = hz_to_mel(64.0), mhi = hz_to_mel(hi);
    double edges[SDRA_MFCC_MEL + 2];
    for (int i = 0; i < SDRA_MFCC_MEL + 2; i++)
        edges[i] = mel_to_hz(mlo + (mhi - mlo) * i / (SDRA_MFCC_MEL + 1)) * SDRA_MFCC_FFT / rate_hz;
    for (int f = 0; f < SDRA_MFCC_MEL; f++) {
        double l = edges[f], c = edges[f + 1], r = edges[f + 2];
        m->mel_lo[f] = nb;
        m->mel_hi[f] = -1;
        for (int b = 0; b < nb; b++) {
            double w = 0;
            if (b > l && b <= c)
                w = (b - l) / (c - l);
            else if (b > c && b < r)
                w = (r - b) / (r - c);
            if (w > 0) {
                m->mel_w[f * nb + b] = (float)w;
                if (b < m->mel_lo[f])
                    m->mel_lo[f] = b;
                m->mel_hi[f] = b;
            }
        }
        if (m->mel_hi[f] < 0) { /* narrow filter between bins: take the nearest bin */
            int b = (int)lround(c);
            if (b >= nb)
                b = nb - 1;
            m->mel_w[f * nb + b] = 1.0f;
            m->mel_lo[f] = m->mel_hi[f] = b;
        }
    }
    for (int k = 0; k <= SDRA_MFCC_N; k++)
        for (int f = 0; f < SDRA_MFCC_MEL; f++)
            m->dct[k][f] = (float)(cos(M_PI * k * (f + 0.5) / SDRA_MFCC_MEL) *
                                   sqrt(2.0 / SDRA_MFCC_MEL));
    return SDRA_OK;
}

void sdra_diarize_mfcc_release(sdra_mfcc *m)
{
    if (!m)
        return;
    free(m->mel_w);
    m->mel_w = NULL;
}

void sdra_diarize_mfcc_frame(const sdra_mfcc *m, const float *x, float *out)
{
    float re[SDRA_MFCC_FFT], im[SDRA_MFCC_FFT];
    double mean = 0, e = 0;
    for (int i = 0; i < m->win; i++)
        mean += x[i];
    mean /= m->win;
    for (int i = 0; i < m->win; i++) {
        double v = x[i] - mean;
        e += v * v;
    }
    e /= m->win;
    out[0] = e > 0 ? (float)(10.0 * log10(e / (32768.0 * 32768.0))) : -100.0f;
    if (out[0] < -100.0f)
        out[0] = -100.0f;

    float prev = (float)(x[0] - mean);
    for (int i = 0; i < m->win; i++) {
        float v = (float)(x[i] - mean);
        float pe = i ? v - 0.97f * prev : v * 0.03f;
        prev = v;
        re[i] = pe * m->window[i] / 32768.0f;
        im[i] = 0;
    }
    for (int i = m->win; i < SDRA_MFCC_FFT; i++)
        re[i] = im[i] = 0;
    sdra_fft_run(&m->fft, re, im);
    int nb = SDRA_MFCC_FFT / 2 + 1;
    float logmel[SDRA_MFCC_MEL];
    for (int f = 0; f < SDRA_MFCC_MEL; f++) {
        double s = 0;
        const float *w = m->mel_w + f * nb;
        for (int b = m->mel_lo[f]; b <= m->mel_hi[f]; b++)
            s += w[b] * ((double)re[b] * re[b] + (double)im[b] * im[b]);
        logmel[f] = (float)log(s + 1e-10);
    }
    for (int k = 1; k <= SDRA_MFCC_N; k++) {
        double c = 0;
        for (int f = 0; f < SDRA_MFCC_MEL; f++)
            c += m->dct[k][f] * logmel[f];
        out[k] = (float)c;
    }
}
