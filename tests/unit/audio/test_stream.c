/*
 * test_stream.c - stdin ("-") through a pipe (non-seekable): a WAV stream, an MP3 stream, raw
 * s16le with format_hint; and the limits: max_duration_s and max_size_bytes trip with
 * SDRA_ELIMIT on files (at open, from the header) and on streams (while reading).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

#include "audio/audio_test_util.h"

static void gen(const char *name, const char *lavfi, const char *args, char *path, size_t n)
{
    atu_path(path, n, name);
    assert_int_equal(
        atu_sh("ffmpeg -nostdin -v error -y -f lavfi -i '%s' %s '%s'", lavfi, args, path), 0);
}

/* Decodes path (or stdin fed from it) into heap arrays of n_channels. */
static int load(const char *path, bool via_stdin, const sdra_audio_params *p, int16_t ***ch,
                int16_t **mix, size_t *n, int *nch, sdra_error *err)
{
    if (!via_stdin)
        return sdra_audio_load(path, p, ch, mix, n, nch, err);
    pid_t child;
    int saved = atu_stdin_from(path, &child);
    assert_true(saved >= 0);
    int rc = sdra_audio_load("-", p, ch, mix, n, nch, err);
    atu_stdin_restore(saved, child);
    return rc;
}

static void free_pcm(int16_t **ch, int16_t *mix, int nch)
{
    for (int c = 0; c < nch; c++)
        free(ch[c]);
    free(ch);
    free(mix);
}

static void stream_stdin_matches_file(void **state)
{
    (void)state;
    const char *exts[] = {"wav", "mp3", "flac", "ogg"};
    const char *args[] = {"-c:a pcm_s16le", "-c:a libmp3lame", "", "-c:a libopus"};
    for (int i = 0; i < 4; i++) {
        char name[64], path[700];
        snprintf(name, sizeof name, "pipe.%s", exts[i]);
        gen(name, "aevalsrc=0.5*sin(2*PI*440*t)|0.2*sin(2*PI*900*t):s=44100:d=3", args[i], path,
            sizeof path);
        int16_t **fc, *fm, **sc, *sm;
        size_t fn, sn;
        int fch, sch;
        sdra_error err = {0};
        assert_int_equal(load(path, false, NULL, &fc, &fm, &fn, &fch, &err), 0);
        int rc = load(path, true, NULL, &sc, &sm, &sn, &sch, &err);
        if (rc)
            fprintf(stderr, "%s via stdin: %s\n", path, err.msg);
        assert_int_equal(rc, 0);
        assert_int_equal(sch, 2);
        assert_int_equal(fch, 2);
        /* the same decoder on the same bytes: the same samples. Only the length may differ
         * by the encoder's end padding (at most one MP3 frame, 1152 samples at 44.1 kHz),
         * which FFmpeg's MP3 demuxer trims on seekable input only (5 ms here). */
        if (sn != fn && i != 1)
            fprintf(stderr, "%s: %zu frames via stdin, %zu from the file\n", path, sn, fn);
        if (i == 1)
            assert_true(sn >= fn && sn - fn <= 16000 * 1152 / 44100 + 1);
        else
            assert_int_equal(sn, fn);
        size_t m = sn < fn ? sn : fn;
        if (sn != fn)
            m -= 64; /* the resampler's last filter taps saw different input */
        assert_memory_equal(sc[0], fc[0], m * 2);
        assert_memory_equal(sc[1], fc[1], m * 2);
        assert_memory_equal(sm, fm, m * 2);
        free_pcm(fc, fm, fch);
        free_pcm(sc, sm, sch);
    }
}

/* WAV streams are read through our own header parser on pipes (see decode.c): every PCM
 * flavour, and compressed WAV which goes back to FFmpeg, decode exactly as from the file. */
static void stream_wav_variants_stdin(void **state)
{
    (void)state;
    const char *codecs[] = {"pcm_u8",   "pcm_s24le", "pcm_s32le", "pcm_f32le",
                            "pcm_alaw", "pcm_mulaw", "adpcm_ms"};
    for (int i = 0; i < 7; i++) {
        for (int k = 0; k < 2; k++) {
            /* 3 channels make FFmpeg write WAVE_FORMAT_EXTENSIBLE; ADPCM stops at 2 */
            int nch = k == 0 ? 1 : (i == 6 ? 2 : 3);
            char name[64], path[700];
            snprintf(name, sizeof name, "var_%s_%d.wav", codecs[i], nch);
            char args[96];
            snprintf(args, sizeof args, "-c:a %s -ac %d -ar %d", codecs[i], nch,
                     nch == 1 ? 8000 : 22050);
            gen(name, "aevalsrc=0.5*sin(2*PI*440*t)|0.2*sin(2*PI*900*t)|0.1:s=22050:d=1.5", args,
                path, sizeof path);
            int16_t **fc, *fm, **sc, *sm;
            size_t fn, sn;
            int fch, sch;
            sdra_error err = {0};
            assert_int_equal(load(path, false, NULL, &fc, &fm, &fn, &fch, &err), 0);
            int rc = load(path, true, NULL, &sc, &sm, &sn, &sch, &err);
            if (rc)
                fprintf(stderr, "%s via stdin: %s\n", path, err.msg);
            assert_int_equal(rc, 0);
            assert_int_equal(sch, nch);
            assert_int_equal(fch, nch);
            assert_int_equal(sn, fn);
            if (i == 6) /* ADPCM fills its last block (up to 2036 samples at 8 kHz) */
                assert_true(fn >= 24000 - 80 && fn <= 24000 + 4100);
            else
                assert_true(labs((long)fn - 24000) <= 80);
            for (int c = 0; c < nch; c++)
                assert_memory_equal(sc[c], fc[c], fn * 2);
            assert_memory_equal(sm, fm, fn * 2);
            free_pcm(fc, fm, fch);
            free_pcm(sc, sm, sch);
        }
    }
}

/* A live call: the writer sends a WAV header and half a second, then pauses. The first audio
 * must come out during the pause, not after FFmpeg's read-ahead (2 s of data that would only
 * arrive when the call goes on). */
static void stream_live_wav_starts_at_once(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        unsigned char h[44] = "RIFF\xff\xff\xff\xffWAVEfmt \x10\0\0\0\x01\0\x01\0"
                              "\x80\x3e\0\0\0\x7d\0\0\x02\0\x10\0data\xff\xff\xff\xff";
        int16_t pcm[8000];
        for (int i = 0; i < 8000; i++)
            pcm[i] = (int16_t)(8000 * sin(2 * M_PI * 440 * i / 16000.0));
        if (write(fds[1], h, 44) != 44 || write(fds[1], pcm, sizeof pcm) != sizeof pcm)
            _exit(1);
        sleep(4);
        if (write(fds[1], pcm, sizeof pcm) != sizeof pcm)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    int saved = dup(STDIN_FILENO);
    dup2(fds[0], STDIN_FILENO);
    close(fds[0]);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    sdra_audio *a = NULL;
    sdra_error err = {0};
    int rc = sdra_audio_open(&a, "-", NULL, &err);
    int16_t mix[4000];
    size_t n = 0, total = 0;
    if (rc == 0)
        rc = sdra_audio_read(a, NULL, mix, 4000, &n, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double first_s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    total = n;
    while (rc == 0 && n > 0) {
        rc = sdra_audio_read(a, NULL, mix, 4000, &n, &err);
        total += n;
    }
    sdra_audio_close(a);
    dup2(saved, STDIN_FILENO);
    close(saved);
    int st;
    waitpid(pid, &st, 0);
    if (rc)
        fprintf(stderr, "live: %s\n", err.msg);
    assert_int_equal(rc, 0);
    fprintf(stderr, "live WAV: first 0.25 s of audio after %.2f s\n", first_s);
    assert_true(first_s < 2.5); /* the writer paused for 4 s */
    assert_int_equal(total, 16000);
}

static void stream_raw_s16le_stdin(void **state)
{
    (void)state;
    char path[700];
    gen("raw.s16", "aevalsrc=0.5*sin(2*PI*440*t)|0:s=8000:d=2", "-f s16le -c:a pcm_s16le", path,
        sizeof path);
    sdra_audio_params p = sdra_audio_default_params();
    p.format_hint = "s16le";
    p.raw_channels = 2;
    p.raw_rate_hz = 8000;
    int16_t **ch, *mix;
    size_t n;
    int nch;
    sdra_error err = {0};
    int rc = load(path, true, &p, &ch, &mix, &n, &nch, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(nch, 2);
    assert_true(labs((long)n - 32000) <= 16);
    /* left carries the tone, right is silent */
    assert_true(atu_rms(ch[0], 1000, 31000) > 10000);
    assert_true(atu_rms(ch[1], 1000, 31000) < 1);
    free_pcm(ch, mix, nch);
    /* the raw format is also accepted from a file, and the info says what we were told */
    sdra_audio *a = NULL;
    assert_int_equal(sdra_audio_open(&a, path, &p, &err), 0);
    assert_int_equal(sdra_audio_get_info(a)->source_rate_hz, 8000);
    assert_int_equal(sdra_audio_get_info(a)->n_channels, 2);
    sdra_audio_close(a);
}

static void stream_max_duration_file(void **state)
{
    (void)state;
    char path[700];
    gen("long5.flac", "sine=d=5", "", path, sizeof path);
    sdra_audio_params p = sdra_audio_default_params();
    p.max_duration_s = 2.0;
    sdra_audio *a = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_audio_open(&a, path, &p, &err), SDRA_ELIMIT);
    assert_non_null(strstr(err.msg, path));
    assert_null(a);
    p.max_duration_s = 5.5;
    assert_int_equal(sdra_audio_open(&a, path, &p, &err), 0);
    sdra_audio_close(a);
}

static void stream_max_duration_stdin(void **state)
{
    (void)state;
    char path[700], live[700];
    gen("long5.wav", "sine=d=5", "", path, sizeof path);
    sdra_audio_params p = sdra_audio_default_params();
    p.max_duration_s = 2.0;
    sdra_audio *a = NULL;
    sdra_error err = {0};
    /* the header declares 5 s: refused at open, as for a file */
    pid_t child;
    int saved = atu_stdin_from(path, &child);
    int rc = sdra_audio_open(&a, "-", &p, &err);
    atu_stdin_restore(saved, child);
    assert_int_equal(rc, SDRA_ELIMIT);
    assert_non_null(strstr(err.msg, "stdin"));
    /* a streaming writer's header (no length): the limit trips while reading, after exactly
     * max_duration_s of audio */
    atu_path(live, sizeof live, "long5-live.wav");
    assert_int_equal(
        atu_sh("ffmpeg -nostdin -v error -f lavfi -i sine=d=5 -f wav - | cat > '%s'", live), 0);
    saved = atu_stdin_from(live, &child);
    assert_int_equal(sdra_audio_open(&a, "-", &p, &err), 0);
    assert_true(sdra_audio_get_info(a)->duration_s == 0);
    int16_t mix[1000];
    size_t n, total = 0;
    while ((rc = sdra_audio_read(a, NULL, mix, 1000, &n, &err)) == 0 && n > 0)
        total += n;
    sdra_audio_close(a);
    atu_stdin_restore(saved, child);
    assert_int_equal(rc, SDRA_ELIMIT);
    assert_non_null(strstr(err.msg, "stdin"));
    assert_int_equal(total, 32000);
}

static void stream_max_size(void **state)
{
    (void)state;
    char path[700];
    gen("size.wav", "sine=d=3", "", path, sizeof path); /* 265 kB: 3 s at 44.1 kHz */
    sdra_audio_params p = sdra_audio_default_params();
    p.max_size_bytes = 50000;
    sdra_audio *a = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_audio_open(&a, path, &p, &err), SDRA_ELIMIT);
    assert_non_null(strstr(err.msg, path));
    /* through a pipe the size is only known while reading */
    pid_t child;
    int saved = atu_stdin_from(path, &child);
    int rc = sdra_audio_open(&a, "-", &p, &err);
    if (rc == 0) {
        int16_t mix[1000];
        size_t n;
        while ((rc = sdra_audio_read(a, NULL, mix, 1000, &n, &err)) == 0 && n > 0)
            ;
        sdra_audio_close(a);
    }
    atu_stdin_restore(saved, child);
    assert_int_equal(rc, SDRA_ELIMIT);
    assert_non_null(strstr(err.msg, "stdin"));
    /* under the limit it decodes */
    p.max_size_bytes = 1 << 20;
    assert_int_equal(sdra_audio_open(&a, path, &p, &err), 0);
    sdra_audio_close(a);
}

static void stream_empty_stdin(void **state)
{
    (void)state;
    char path[700];
    atu_path(path, sizeof path, "empty-stream");
    assert_int_equal(atu_write(path, "", 0), 0);
    pid_t child;
    int saved = atu_stdin_from(path, &child);
    sdra_audio *a = NULL;
    sdra_error err = {0};
    int rc = sdra_audio_open(&a, "-", NULL, &err);
    atu_stdin_restore(saved, child);
    assert_int_equal(rc, SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "stdin"));
    assert_non_null(strstr(err.msg, "empty"));
}

static void stream_position_and_small_reads(void **state)
{
    (void)state;
    char path[700];
    gen("pos.ogg", "aevalsrc=0.3*sin(2*PI*500*t)|0.3*sin(2*PI*600*t):s=48000:d=1.5", "-c:a libopus",
        path, sizeof path);
    sdra_audio *a = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_audio_open(&a, path, NULL, &err), 0);
    int16_t l[7], r[7];
    int16_t *ch[SDRA_AUDIO_MAX_CHANNELS] = {l, NULL}; /* a NULL channel is skipped */
    size_t n, total = 0;
    int rc;
    (void)r;
    while ((rc = sdra_audio_read(a, ch, NULL, 7, &n, &err)) == 0 && n > 0) {
        assert_true(n <= 7);
        total += n;
        assert_int_equal(sdra_audio_position(a), (int64_t)total);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(total, 24000);
    sdra_audio_close(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stream_stdin_matches_file),
        cmocka_unit_test(stream_wav_variants_stdin),
        cmocka_unit_test(stream_live_wav_starts_at_once),
        cmocka_unit_test(stream_raw_s16le_stdin),
        cmocka_unit_test(stream_max_duration_file),
        cmocka_unit_test(stream_max_duration_stdin),
        cmocka_unit_test(stream_max_size),
        cmocka_unit_test(stream_empty_stdin),
        cmocka_unit_test(stream_position_and_small_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
