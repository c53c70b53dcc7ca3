/*
 * test_errors.c - bad input never crashes and always says what is wrong with which file:
 * nonexistent path, directory, empty file, a text file named .wav, truncated header,
 * truncated audio (the good part is delivered, then the error), zero-length audio, a file with
 * no audio stream (video only, subtitles only), an unsupported codec, bad parameters, and
 * damaged files of every container (bytes overwritten at random), which must decode or fail
 * cleanly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "audio/audio_test_util.h"

/* Opens path, expecting code; checks the message names the file and is one line. */
static void expect_open_fails(const char *path, int code, const char *words)
{
    sdra_audio *a = (sdra_audio *)0x1;
    sdra_error err = {0};
    int rc = sdra_audio_open(&a, path, NULL, &err);
    if (rc != code || !strstr(err.msg, path) || (words && !strstr(err.msg, words)))
        fprintf(stderr, "%s: rc %d (want %d), msg '%s'\n", path, rc, code, err.msg);
    assert_int_equal(rc, code);
    assert_int_equal(err.code, code);
    assert_null(a);
    assert_non_null(strstr(err.msg, path));
    assert_null(strchr(err.msg, '\n'));
    if (words)
        assert_non_null(strstr(err.msg, words));
}

/* Reads to the end; returns the final code and the frames delivered before it. */
static int read_all(sdra_audio *a, size_t *total, sdra_error *err)
{
    int16_t mix[4096], c0[4096], c1[4096];
    int16_t *ch[SDRA_AUDIO_MAX_CHANNELS] = {c0, c1};
    size_t n;
    int rc;
    *total = 0;
    int nch = sdra_audio_get_info(a)->n_channels;
    int16_t *chp[SDRA_AUDIO_MAX_CHANNELS] = {0};
    for (int c = 0; c < nch && c < 2; c++)
        chp[c] = ch[c];
    while ((rc = sdra_audio_read(a, chp, mix, 4096, &n, err)) == 0 && n > 0)
        *total += n;
    return rc;
}

static void gen(const char *name, const char *lavfi, const char *args, char *path, size_t n)
{
    atu_path(path, n, name);
    assert_int_equal(
        atu_sh("ffmpeg -nostdin -v error -y -f lavfi -i '%s' %s '%s'", lavfi, args, path), 0);
}

static void errors_nonexistent_path(void **state)
{
    (void)state;
    char path[700];
    atu_path(path, sizeof path, "does-not-exist.wav");
    expect_open_fails(path, SDRA_ENOTFOUND, "no such file");
    atu_path(path, sizeof path, "no-such-dir/call.mp3");
    expect_open_fails(path, SDRA_ENOTFOUND, "no such file");
}

static void errors_directory(void **state)
{
    (void)state;
    char path[700];
    atu_path(path, sizeof path, "a-directory.wav");
    mkdir(path, 0700);
    expect_open_fails(path, SDRA_EINVAL, "directory");
}

static void errors_empty_file(void **state)
{
    (void)state;
    char path[700];
    atu_path(path, sizeof path, "empty.wav");
    assert_int_equal(atu_write(path, "", 0), 0);
    expect_open_fails(path, SDRA_EINVAL, "empty");
}

static void errors_text_named_wav(void **state)
{
    (void)state;
    char path[700];
    atu_path(path, sizeof path, "notes.wav");
    const char *text = "Call notes: follow up with Dana on Tuesday about pricing.\n";
    assert_int_equal(atu_write(path, text, strlen(text)), 0);
    expect_open_fails(path, SDRA_EINVAL, "not an audio file");
    atu_path(path, sizeof path, "notes.mp3");
    assert_int_equal(atu_write(path, text, strlen(text)), 0);
    expect_open_fails(path, SDRA_EINVAL, "not an audio file");
}

static void errors_truncated_header(void **state)
{
    (void)state;
    char src[700], path[700];
    const char *exts[] = {"wav", "flac", "ogg", "m4a"};
    const char *args[] = {"", "", "-c:a libopus", "-c:a aac"};
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "hdr_src.%s", exts[i]);
        gen(name, "sine=f=440:d=2", args[i], src, sizeof src);
        snprintf(name, sizeof name, "hdr_cut.%s", exts[i]);
        atu_path(path, sizeof path, name);
        assert_int_equal(atu_sh("head -c 30 '%s' > '%s'", src, path), 0);
        expect_open_fails(path, SDRA_EINVAL, NULL);
    }
}

static void errors_truncated_audio(void **state)
{
    (void)state;
    char src[700], path[700];
    const char *exts[] = {"wav", "flac", "mp3"};
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "cut_src.%s", exts[i]);
        gen(name, "sine=f=440:d=4:r=44100", "", src, sizeof src);
        struct stat st;
        assert_int_equal(stat(src, &st), 0);
        snprintf(name, sizeof name, "cut_half.%s", exts[i]);
        atu_path(path, sizeof path, name);
        /* an odd byte count, so the cut falls inside a sample / a frame */
        assert_int_equal(
            atu_sh("head -c %lld '%s' > '%s'", (long long)st.st_size / 2 + 1, src, path), 0);
        sdra_audio *a = NULL;
        sdra_error err = {0};
        assert_int_equal(sdra_audio_open(&a, path, NULL, &err), 0);
        size_t total = 0;
        int rc = read_all(a, &total, &err);
        if (rc != SDRA_EINVAL)
            fprintf(stderr, "%s: rc %d after %zu frames\n", path, rc, total);
        assert_int_equal(rc, SDRA_EINVAL);
        assert_non_null(strstr(err.msg, path));
        assert_non_null(strstr(err.msg, "truncated"));
        /* the good audio before the cut was delivered: about half of 4 s */
        assert_true(total > 16000 * 1.5 && total < 16000 * 2.5);
        /* the error sticks */
        int16_t mix[16];
        size_t n = 99;
        assert_int_equal(sdra_audio_read(a, NULL, mix, 16, &n, &err), SDRA_EINVAL);
        assert_int_equal(n, 0);
        sdra_audio_close(a);
    }
}

/* Bytes after complete audio are not truncation when the header says how long the audio is:
 * junk after a FLAC stream, tags after MP3 frames (ID3v1), a chunk after a WAV's data. All
 * the audio comes out and the read ends cleanly. (Random junk after MP3 frames cannot be told
 * from damage: FFmpeg then drops the Xing length itself, and we report a corrupt end.) */
static void errors_trailing_junk_is_not_truncation(void **state)
{
    (void)state;
    const char *exts[] = {"flac", "mp3", "wav"};
    const char *args[] = {"", "-write_id3v1 1 -metadata title=Call", ""};
    const char *tail[] = {"head -c 3000 /dev/urandom", "true",
                          "printf 'LIST\\014\\000\\000\\000INFOISFT\\000\\000\\000\\000'"};
    for (int i = 0; i < 3; i++) {
        char name[64], path[700];
        snprintf(name, sizeof name, "junk.%s", exts[i]);
        gen(name, "sine=f=440:d=3", args[i], path, sizeof path);
        assert_int_equal(atu_sh("%s >> '%s'", tail[i], path), 0);
        sdra_audio *a = NULL;
        sdra_error err = {0};
        assert_int_equal(sdra_audio_open(&a, path, NULL, &err), 0);
        size_t total = 0;
        int rc = read_all(a, &total, &err);
        if (rc)
            fprintf(stderr, "%s: %s\n", path, err.msg);
        assert_int_equal(rc, 0);
        assert_true(total >= 48000 - 80 && total <= 48000 + 80);
        sdra_audio_close(a);
    }
}

/* A WAV written by a streaming writer (ffmpeg or arecord into a pipe) has no lengths in its
 * header; saved to a file it is complete, not truncated, whatever its last packet's size. */
static void errors_streaming_header_wav_is_complete(void **state)
{
    (void)state;
    char path[700];
    atu_path(path, sizeof path, "streamed.wav");
    assert_int_equal(atu_sh("ffmpeg -nostdin -v error -f lavfi -i 'sine=d=5.01' -ac 2 -f wav - | "
                            "cat > '%s'",
                            path),
                     0);
    sdra_audio *a = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_audio_open(&a, path, NULL, &err), 0);
    assert_true(fabs(sdra_audio_get_info(a)->duration_s - 5.01) < 0.01);
    size_t total = 0;
    int rc = read_all(a, &total, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(total, 80160);
    sdra_audio_close(a);
}

/* A canonical 44-byte WAV header for PCM (tag 1) or another format tag. */
static void wav_header(unsigned char *h, int tag, int channels, int rate, int bits, uint32_t data)
{
    uint32_t byte_rate = (uint32_t)(rate * channels * bits / 8);
    uint16_t align = (uint16_t)(channels * bits / 8);
    memcpy(h, "RIFF", 4);
    uint32_t riff = 36 + data;
    memcpy(h + 4, &riff, 4);
    memcpy(h + 8, "WAVEfmt ", 8);
    uint32_t fmt_len = 16;
    memcpy(h + 16, &fmt_len, 4);
    uint16_t t = (uint16_t)tag, ch = (uint16_t)channels, b = (uint16_t)bits;
    uint32_t r = (uint32_t)rate;
    memcpy(h + 20, &t, 2);
    memcpy(h + 22, &ch, 2);
    memcpy(h + 24, &r, 4);
    memcpy(h + 28, &byte_rate, 4);
    memcpy(h + 32, &align, 2);
    memcpy(h + 34, &b, 2);
    memcpy(h + 36, "data", 4);
    memcpy(h + 40, &data, 4);
}

static void errors_zero_length_audio(void **state)
{
    (void)state;
    char path[700];
    unsigned char h[44];
    wav_header(h, 1, 1, 16000, 16, 0);
    atu_path(path, sizeof path, "zero-length.wav");
    assert_int_equal(atu_write(path, h, sizeof h), 0);
    expect_open_fails(path, SDRA_EINVAL, "no audio");
}

static void errors_no_audio_stream(void **state)
{
    (void)state;
    char path[700];
    gen("video-only.mkv", "testsrc=d=1:s=32x32:r=5", "-c:v ffv1", path, sizeof path);
    expect_open_fails(path, SDRA_EINVAL, "no audio stream");
    atu_path(path, sizeof path, "subtitles-only.srt");
    const char *srt = "1\n00:00:01,000 --> 00:00:02,000\nHello there.\n\n"
                      "2\n00:00:03,000 --> 00:00:04,000\nThanks for calling.\n";
    assert_int_equal(atu_write(path, srt, strlen(srt)), 0);
    expect_open_fails(path, SDRA_EINVAL, "no audio stream");
    char mkv[700];
    atu_path(mkv, sizeof mkv, "subtitles-only.mkv");
    assert_int_equal(atu_sh("ffmpeg -nostdin -v error -y -i '%s' '%s'", path, mkv), 0);
    expect_open_fails(mkv, SDRA_EINVAL, "no audio stream");
}

static void errors_unsupported_codec(void **state)
{
    (void)state;
    char path[700];
    unsigned char buf[44 + 8000];
    wav_header(buf, 0x7777, 1, 8000, 8, 8000);
    for (size_t i = 44; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 7);
    atu_path(path, sizeof path, "odd-codec.wav");
    assert_int_equal(atu_write(path, buf, sizeof buf), 0);
    expect_open_fails(path, SDRA_EUNSUPPORTED, "0x7777");
}

static void errors_bad_params(void **state)
{
    (void)state;
    char path[700];
    gen("params.wav", "sine=d=1", "", path, sizeof path);
    sdra_audio_params p = sdra_audio_default_params();
    p.rate_hz = -16000;
    sdra_audio *a = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_audio_open(&a, path, &p, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, path));
    p = sdra_audio_default_params();
    p.format_hint = "no-such-format";
    assert_int_equal(sdra_audio_open(&a, path, &p, &err), SDRA_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "no-such-format"));
    assert_int_equal(sdra_audio_open(&a, "", &p, &err), SDRA_EINVAL);
    sdra_audio_close(NULL);
}

/* Damaged files: a block of bytes overwritten at several places, or the file cut anywhere.
 * Whatever happens, no crash (the sanitizer run checks memory), and a failure is an sdra code
 * with a message naming the file. */
static void errors_damaged_files_fail_cleanly(void **state)
{
    (void)state;
    const char *exts[] = {"wav", "flac", "mp3", "ogg", "m4a", "webm"};
    const char *args[] = {"", "", "-c:a libmp3lame", "-c:a libopus", "-c:a aac", "-c:a libopus"};
    unsigned seed = 12345;
    for (int i = 0; i < 6; i++) {
        char name[64], src[700], path[700];
        snprintf(name, sizeof name, "dmg_src.%s", exts[i]);
        gen(name, "aevalsrc=sin(2*PI*300*t)|0.3*sin(2*PI*700*t):s=22050:d=2", args[i], src,
            sizeof src);
        FILE *f = fopen(src, "rb");
        assert_non_null(f);
        unsigned char *data = malloc(1 << 20);
        size_t len = fread(data, 1, 1 << 20, f);
        fclose(f);
        unsigned char *copy = malloc(len);
        for (int trial = 0; trial < 12; trial++) {
            memcpy(copy, data, len);
            size_t use = len;
            if (trial % 3 == 2) {
                seed = seed * 1103515245 + 12345;
                use = 1 + (seed >> 8) % (len - 1); /* cut anywhere */
            } else {
                for (int k = 0; k < 4; k++) {
                    seed = seed * 1103515245 + 12345;
                    size_t at = (seed >> 8) % len;
                    for (size_t j = at; j < at + 64 && j < len; j++) {
                        seed = seed * 1103515245 + 12345;
                        copy[j] = (unsigned char)(seed >> 16);
                    }
                }
            }
            snprintf(name, sizeof name, "dmg_%d.%s", trial, exts[i]);
            atu_path(path, sizeof path, name);
            assert_int_equal(atu_write(path, copy, use), 0);
            sdra_audio *a = NULL;
            sdra_error err = {0};
            int rc = sdra_audio_open(&a, path, NULL, &err);
            size_t total = 0;
            if (rc == 0) {
                rc = read_all(a, &total, &err);
                sdra_audio_close(a);
            }
            if (rc < 0) {
                assert_true(rc >= SDRA_EINTERNAL);
                assert_int_not_equal(rc, SDRA_EINTERNAL);
                assert_non_null(strstr(err.msg, path));
            }
            /* never more than the original length (plus codec padding) */
            assert_true(total <= 16000 * 2 + 1600);
        }
        free(copy);
        free(data);
    }
}

/* A header's sample rate outside what is supported (the fuzzer's find: a WAV claiming
 * 1,560,223,552 Hz, which FFmpeg's demuxer accepts and whose resampler took 20 s and 1.6 GB
 * to set up) fails at open, with one line naming the file and the rate. */
static void errors_absurd_sample_rate(void **state)
{
    (void)state;
    const uint32_t rates[] = {0x5cff1f40u, 768000, 500};
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        unsigned char wav[44 + 4000] = {0};
        wav_header(wav, 1, 2, 16000, 16, 4000);
        uint32_t rate = rates[i], byte_rate = 32000; /* as the fuzzer's file: not rate * 4 */
        memcpy(wav + 24, &rate, 4);
        memcpy(wav + 28, &byte_rate, 4);
        for (size_t k = 44; k < sizeof wav; k++)
            wav[k] = (unsigned char)(k * 37);
        char name[64], path[700];
        snprintf(name, sizeof name, "rate_%u.wav", (unsigned)rate);
        atu_path(path, sizeof path, name);
        assert_int_equal(atu_write(path, wav, sizeof wav), 0);
        expect_open_fails(path, SDRA_EUNSUPPORTED, "sample rate");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(errors_nonexistent_path),
        cmocka_unit_test(errors_directory),
        cmocka_unit_test(errors_empty_file),
        cmocka_unit_test(errors_text_named_wav),
        cmocka_unit_test(errors_truncated_header),
        cmocka_unit_test(errors_truncated_audio),
        cmocka_unit_test(errors_trailing_junk_is_not_truncation),
        cmocka_unit_test(errors_streaming_header_wav_is_complete),
        cmocka_unit_test(errors_zero_length_audio),
        cmocka_unit_test(errors_no_audio_stream),
        cmocka_unit_test(errors_unsupported_codec),
        cmocka_unit_test(errors_bad_params),
        cmocka_unit_test(errors_absurd_sample_rate),
        cmocka_unit_test(errors_damaged_files_fail_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
