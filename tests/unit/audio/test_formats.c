/*
 * test_formats.c - decoding every container/codec we promise (WAV s16 and mu-law, FLAC, MP3,
 * Ogg/Opus, Ogg/Vorbis, M4A/AAC, WebM/Opus), mono and stereo, at 8 / 16 / 22.05 / 44.1 /
 * 48 kHz: the output is 16 kHz, the length is right within a few ms, a tone that is only in
 * the left channel stays in channel 0 (and the right one in channel 1), the mix is the mean of
 * the channels, and the samples match the generated signal modulo codec loss.
 *
 * Inputs are generated with the ffmpeg CLI from lavfi's aevalsrc: stereo files carry a 440 Hz
 * tone on the left for the first second and a 1 kHz tone on the right for the second.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "audio/audio_test_util.h"

#define DUR_S 2.0
#define OUT_RATE 16000
#define TOL_FRAMES 80 /* 5 ms */

typedef struct fmt_case {
    const char *name;  /* file suffix */
    const char *args;  /* ffmpeg encoder arguments */
    const char *codec; /* expected info.codec */
    double min_corr;   /* similarity to the generated signal */
    double max_leak;   /* energy of the silent channel relative to the active one */
    bool fixed_48k;    /* the codec always decodes at 48 kHz */
    bool only_8k;
} fmt_case;

static const int rates[] = {8000, 16000, 22050, 44100, 48000};

static double ref_left(size_t i)
{
    double t = (double)i / OUT_RATE;
    return t < 1.0 ? 0.5 * 32767 * sin(2 * M_PI * 440 * t) : 0.0;
}

static double ref_right(size_t i)
{
    double t = (double)i / OUT_RATE;
    return t >= 1.0 ? 0.4 * 32767 * sin(2 * M_PI * 1000 * t) : 0.0;
}

static double ref_mono(size_t i)
{
    double t = (double)i / OUT_RATE;
    return 0.5 * 32767 * sin(2 * M_PI * 440 * t);
}

static void check_one(const fmt_case *fc, int rate, int nch)
{
    char path[700];
    char name[96];
    snprintf(name, sizeof name, "fmt_%d_%dch.%s", rate, nch, fc->name);
    atu_path(path, sizeof path, name);
    const char *expr = nch == 2 ? "0.5*sin(2*PI*440*t)*lt(t\\,1)|0.4*sin(2*PI*1000*t)*gte(t\\,1)"
                                : "0.5*sin(2*PI*440*t)";
    assert_int_equal(
        atu_sh("ffmpeg -nostdin -v error -y -f lavfi -i 'aevalsrc=%s:s=%d:d=%g' %s '%s'", expr,
               rate, DUR_S, fc->args, path),
        0);

    int16_t **ch = NULL, *mix = NULL;
    size_t n = 0;
    int got_nch = 0;
    sdra_error err = {0};
    sdra_audio_params p = sdra_audio_default_params();
    int rc = sdra_audio_load(path, &p, &ch, &mix, &n, &got_nch, &err);
    if (rc != 0)
        fprintf(stderr, "%s: %s\n", name, err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(got_nch, nch);

    sdra_audio *a = NULL;
    assert_int_equal(sdra_audio_open(&a, path, &p, &err), 0);
    const sdra_audio_info *info = sdra_audio_get_info(a);
    assert_int_equal(info->n_channels, nch);
    assert_int_equal(info->source_rate_hz, fc->fixed_48k ? 48000 : rate);
    assert_string_equal(info->codec, fc->codec);
    /* the container's estimate: MP3 counts its padding frames */
    assert_true(info->duration_s > DUR_S - 0.25 && info->duration_s < DUR_S + 0.25);
    sdra_audio_close(a);

    long want = (long)(DUR_S * OUT_RATE);
    if (labs((long)n - want) > TOL_FRAMES || getenv("AUDIO_TEST_VERBOSE"))
        fprintf(stderr, "%s: %zu frames, want %ld\n", name, n, want);
    assert_true(labs((long)n - want) <= TOL_FRAMES);

    size_t len = n < (size_t)want ? n : (size_t)want;
    double *ref = malloc(len * sizeof *ref);
    assert_non_null(ref);
    size_t a0 = OUT_RATE / 10, a1 = OUT_RATE * 9 / 10;       /* left active */
    size_t b0 = OUT_RATE * 11 / 10, b1 = OUT_RATE * 19 / 10; /* right active */
    if (nch == 1) {
        for (size_t i = 0; i < len; i++)
            ref[i] = ref_mono(i);
        double c = atu_corr(ch[0], ref, a0, b1);
        if (c < fc->min_corr || getenv("AUDIO_TEST_VERBOSE"))
            fprintf(stderr, "%s: correlation %.4f\n", name, c);
        assert_true(c >= fc->min_corr);
        assert_memory_equal(mix, ch[0], n * sizeof *mix);
    } else {
        for (size_t i = 0; i < len; i++)
            ref[i] = ref_left(i);
        double cl = atu_corr(ch[0], ref, a0, a1);
        for (size_t i = 0; i < len; i++)
            ref[i] = ref_right(i);
        double cr = atu_corr(ch[1], ref, b0, b1);
        /* channel separation: each tone stays in its own channel */
        double leak_r = atu_rms(ch[1], a0, a1) / atu_rms(ch[0], a0, a1);
        double leak_l = atu_rms(ch[0], b0, b1) / atu_rms(ch[1], b0, b1);
        if (cl < fc->min_corr || cr < fc->min_corr || leak_r > fc->max_leak ||
            leak_l > fc->max_leak || getenv("AUDIO_TEST_VERBOSE"))
            fprintf(stderr, "%s: corr L %.4f R %.4f, leak into R %.4f into L %.4f\n", name, cl, cr,
                    leak_r, leak_l);
        assert_true(cl >= fc->min_corr && cr >= fc->min_corr);
        assert_true(leak_r <= fc->max_leak && leak_l <= fc->max_leak);
        /* the mix is the rounded mean of the channels, sample for sample */
        for (size_t i = 0; i < n; i++) {
            int s = ch[0][i] + ch[1][i];
            int m = s >= 0 ? (s + 1) / 2 : -((-s + 1) / 2);
            if (mix[i] != m)
                fail_msg("%s: mix[%zu] = %d, want %d", name, i, mix[i], m);
        }
        for (size_t i = 0; i < len; i++)
            ref[i] = (ref_left(i) + ref_right(i)) / 2;
        assert_true(atu_corr(mix, ref, a0, b1) >= fc->min_corr);
    }
    free(ref);
    for (int c = 0; c < got_nch; c++)
        free(ch[c]);
    free(ch);
    free(mix);
}

static void check_format(const fmt_case *fc)
{
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        if (fc->only_8k && rates[r] != 8000)
            continue;
        check_one(fc, rates[r], 1);
        check_one(fc, rates[r], 2);
    }
}

static void formats_wav_s16(void **state)
{
    (void)state;
    fmt_case fc = {"wav", "-c:a pcm_s16le", "pcm_s16le", 0.9999, 0.001, false, false};
    check_format(&fc);
}

static void formats_wav_mulaw_8k(void **state)
{
    (void)state;
    fmt_case fc = {"mulaw.wav", "-c:a pcm_mulaw", "pcm_mulaw", 0.999, 0.01, false, true};
    check_format(&fc);
}

static void formats_flac(void **state)
{
    (void)state;
    fmt_case fc = {"flac", "-c:a flac", "flac", 0.9999, 0.001, false, false};
    check_format(&fc);
}

static void formats_mp3(void **state)
{
    (void)state;
    fmt_case fc = {"mp3", "-c:a libmp3lame -q:a 2", "mp3", 0.99, 0.01, false, false};
    check_format(&fc);
}

static void formats_ogg_opus(void **state)
{
    (void)state;
    fmt_case fc = {"opus.ogg", "-c:a libopus -b:a 96k", "opus", 0.99, 0.01, true, false};
    check_format(&fc);
}

static void formats_ogg_vorbis(void **state)
{
    (void)state;
    fmt_case fc = {"vorbis.ogg", "-c:a libvorbis -q:a 5", "vorbis", 0.99, 0.01, false, false};
    check_format(&fc);
}

static void formats_m4a_aac(void **state)
{
    (void)state;
    fmt_case fc = {"m4a", "-c:a aac -b:a 128k", "aac", 0.99, 0.01, false, false};
    check_format(&fc);
}

static void formats_webm_opus(void **state)
{
    (void)state;
    fmt_case fc = {"webm", "-c:a libopus -b:a 96k", "opus", 0.99, 0.01, true, false};
    check_format(&fc);
}

/* The output rate is a parameter: the same file at 8 and 48 kHz out has the matching length
 * and the tone where it was. */
static void formats_output_rate_param(void **state)
{
    (void)state;
    char path[700];
    atu_path(path, sizeof path, "rate_param.flac");
    assert_int_equal(atu_sh("ffmpeg -nostdin -v error -y -f lavfi -i 'sine=f=440:r=44100:d=2' "
                            "'%s'",
                            path),
                     0);
    const int outs[] = {8000, 48000};
    for (int k = 0; k < 2; k++) {
        sdra_audio_params p = sdra_audio_default_params();
        p.rate_hz = outs[k];
        int16_t **ch = NULL, *mix = NULL;
        size_t n = 0;
        int nch = 0;
        sdra_error err = {0};
        assert_int_equal(sdra_audio_load(path, &p, &ch, &mix, &n, &nch, &err), 0);
        assert_int_equal(n, (size_t)(2 * outs[k]));
        double *ref = malloc(n * sizeof *ref);
        for (size_t i = 0; i < n; i++)
            ref[i] = sin(2 * M_PI * 440 * (double)i / outs[k]);
        assert_true(atu_corr(ch[0], ref, n / 10, n * 9 / 10) > 0.999);
        free(ref);
        free(ch[0]);
        free(ch);
        free(mix);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(formats_wav_s16),
        cmocka_unit_test(formats_wav_mulaw_8k),
        cmocka_unit_test(formats_flac),
        cmocka_unit_test(formats_mp3),
        cmocka_unit_test(formats_ogg_opus),
        cmocka_unit_test(formats_ogg_vorbis),
        cmocka_unit_test(formats_m4a_aac),
        cmocka_unit_test(formats_webm_opus),
        cmocka_unit_test(formats_output_rate_param),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
