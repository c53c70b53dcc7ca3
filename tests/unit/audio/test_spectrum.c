/*
 * test_spectrum.c - the audio module's spectra (src/audio/spectrum.c): the FFT puts a tone in
 * its bin, and the band meter reads how much of the signal lies above the telephone band:
 * about 0 dB for a flat spectrum, the level of a high tone under a low one, far under -58 dB
 * (SDRA_ASR_BAND_LIMITED_DB) for a signal with nothing above 3.4 kHz, and nothing (NAN) for
 * silence, under a second of audio or a rate too low to hold the upper band.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "sdra/audio.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static void fft_puts_a_tone_in_its_bin(void **state)
{
    (void)state;
    sdra_fft f;
    sdra_fft_init(&f);
    float re[SDRA_FFT_N], im[SDRA_FFT_N];
    for (int i = 0; i < SDRA_FFT_N; i++) {
        re[i] = (float)cos(2 * M_PI * 37 * i / SDRA_FFT_N);
        im[i] = 0;
    }
    sdra_fft_run(&f, re, im);
    for (int b = 0; b <= SDRA_FFT_N / 2; b++) {
        double mag = sqrt((double)re[b] * re[b] + (double)im[b] * im[b]);
        if (b == 37)
            assert_true(fabs(mag - SDRA_FFT_N / 2.0) < 1e-2);
        else
            assert_true(mag < 1e-2);
    }
}

/* rate 16 kHz: n samples of the sum of tones (hz, amplitude), plus white noise of amplitude
   noise (a fixed generator) */
static int16_t *signal(size_t n, const double *hz, const double *amp, int n_tones, double noise)
{
    int16_t *x = malloc(n * sizeof *x);
    assert_non_null(x);
    uint32_t g = 12345;
    for (size_t i = 0; i < n; i++) {
        double v = 0;
        for (int k = 0; k < n_tones; k++)
            v += amp[k] * sin(2 * M_PI * hz[k] * (double)i / 16000.0);
        g = g * 1103515245u + 12345u;
        v += noise * (((g >> 8) & 0xffff) / 32768.0 - 1.0);
        x[i] = (int16_t)lrint(v);
    }
    return x;
}

static double measure(const int16_t *x, size_t n)
{
    sdra_band_meter *m = NULL;
    assert_int_equal(sdra_band_meter_create(&m, 16000, NULL), 0);
    for (size_t i = 0; i < n; i += 1000) /* fed in pieces, as a reader does */
        sdra_band_meter_feed(m, x + i, n - i < 1000 ? n - i : 1000);
    double db = sdra_band_meter_db(m);
    sdra_band_meter_destroy(m);
    return db;
}

static void meter_reads_the_band_above_the_line(void **state)
{
    (void)state;
    const size_t n = 5 * 16000;
    /* white noise: the upper band (3.3 kHz wide) holds about as much as the line (3.1 kHz) */
    int16_t *x = signal(n, NULL, NULL, 0, 8000);
    double db = measure(x, n);
    assert_true(db > -1.0 && db < 1.5);
    free(x);
    /* a 1 kHz tone and a 6 kHz tone 30 dB under it */
    const double hz[] = {1000, 6000}, amp[] = {10000, 10000 / 31.6228};
    x = signal(n, hz, amp, 2, 0);
    db = measure(x, n);
    assert_true(fabs(db + 30.0) < 1.0);
    free(x);
    /* the line band only (tones at 500, 1500, 3000 Hz): nothing above it */
    const double lo_hz[] = {500, 1500, 3000}, lo_amp[] = {6000, 6000, 6000};
    x = signal(n, lo_hz, lo_amp, 3, 0);
    db = measure(x, n);
    assert_true(db < -80.0);
    free(x);
}

static void meter_has_no_reading_without_audio(void **state)
{
    (void)state;
    int16_t *x = calloc(3 * 16000, sizeof *x);
    assert_non_null(x);
    assert_true(isnan(measure(x, 3 * 16000))); /* digital silence */
    free(x);
    const double hz[] = {1000}, amp[] = {10000};
    x = signal(8000, hz, amp, 1, 0);
    assert_true(isnan(measure(x, 8000))); /* half a second */
    free(x);
    sdra_band_meter *m = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_band_meter_create(&m, 8000, &err), SDRA_EINVAL);
    assert_null(m);
    sdra_band_meter_destroy(NULL);
}

/* Only the first minute counts: what comes after it changes nothing. */
static void meter_stops_after_a_minute(void **state)
{
    (void)state;
    const size_t n = 70 * 16000;
    const double hz[] = {1000}, amp[] = {10000};
    int16_t *x = signal(n, hz, amp, 1, 0);
    int16_t *noise = signal(10 * 16000, NULL, NULL, 0, 8000);
    for (size_t i = 0; i < 10 * 16000; i++)
        x[60 * 16000 + i] = noise[i];
    sdra_band_meter *m = NULL;
    assert_int_equal(sdra_band_meter_create(&m, 16000, NULL), 0);
    sdra_band_meter_feed(m, x, n);
    assert_true(sdra_band_meter_full(m));
    assert_true(sdra_band_meter_db(m) < -80.0);
    sdra_band_meter_destroy(m);
    free(x);
    free(noise);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fft_puts_a_tone_in_its_bin),
        cmocka_unit_test(meter_reads_the_band_above_the_line),
        cmocka_unit_test(meter_has_no_reading_without_audio),
        cmocka_unit_test(meter_stops_after_a_minute),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
