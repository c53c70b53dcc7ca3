/* test_sealed_audio.c - encrypted audio at rest is decoded through the sealing table's streaming
 * reader (sdra/seal.h: bounded memory, no plaintext file): every format gives exactly the
 * samples its plaintext gives, including an M4A whose index is at the end (FFmpeg seeks back
 * and forth), and without a key the file is refused with one line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "audio/audio_test_util.h"
#include "sdra/crypt.h"
#include "sdra/seal.h"

/* Open descriptors of this process that hold a whole plaintext copy in memory (a memfd). */
static int memfds_open(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++) {
        char link[64], target[256];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t k = readlink(link, target, sizeof target - 1);
        if (k > 0) {
            target[k] = '\0';
            n += strncmp(target, "/memfd:", 7) == 0;
        }
    }
    return n;
}

static int max_memfds; /* seen while decoding */

/* Every output sample (mix) of path, malloc'd; the count in *n. */
static int16_t *decode_all(const char *path, size_t *n, sdra_error *err)
{
    sdra_audio *a = NULL;
    if (sdra_audio_open(&a, path, NULL, err) < 0)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    int16_t *all = malloc(cap * sizeof *all), block[4096];
    assert_non_null(all);
    size_t got = 0;
    while (sdra_audio_read(a, NULL, block, 4096, &got, err) == 0 && got > 0) {
        if (len + got > cap) {
            cap = (len + got) * 2;
            all = realloc(all, cap * sizeof *all);
            assert_non_null(all);
        }
        memcpy(all + len, block, got * sizeof *block);
        len += got;
        int m = memfds_open();
        if (m > max_memfds)
            max_memfds = m;
    }
    sdra_audio_close(a);
    *n = len;
    return all;
}

static void seal_file_to(const sdra_seal_ops *ops, const char *in, const char *out)
{
    FILE *f = fopen(in, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    unsigned char *sealed = NULL;
    size_t sealed_n = 0;
    sdra_error err = {0};
    assert_int_equal(ops->seal_file(ops->user_data, buf, (size_t)n, &sealed, &sealed_n, &err), 0);
    assert_int_equal(atu_write(out, sealed, sealed_n), 0);
    free(buf);
    free(sealed);
}

static void one_format(const char *name, const char *ffargs)
{
    char plain[600], enc[700];
    atu_path(plain, sizeof plain, name);
    snprintf(enc, sizeof enc, "%s.sealed", plain);
    /* 70 s: the file spans many 64 KiB chunks, so a seek back reads again across them */
    assert_int_equal(atu_sh("ffmpeg -v error -y -f lavfi -i 'sine=frequency=440:duration=70' -f lavfi "
                            "-i 'anoisesrc=duration=70:amplitude=0.1' -filter_complex amix=inputs=2 %s '%s'",
                            ffargs, plain),
                     0);
    sdra_crypt_key *master = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_crypt_key_generate(&master, "test-master", &err), 0);
    sdra_crypt_sealer sealer;
    sdra_crypt_sealer_init(&sealer, master);
    seal_file_to(&sealer.ops, plain, enc);

    size_t n_plain = 0, n_sealed = 0;
    int16_t *want = decode_all(plain, &n_plain, &err);
    assert_non_null(want);
    assert_true(n_plain > 16000 * 60);

    /* no table: one line, no crash */
    sdra_error e2 = {0};
    size_t n_none = 0;
    assert_null(decode_all(enc, &n_none, &e2));
    assert_non_null(strstr(e2.msg, "no key"));
    assert_null(strchr(e2.msg, '\n'));

    const sdra_seal_ops *prev = sdra_seal_set(&sealer.ops);
    max_memfds = 0;
    int16_t *got = decode_all(enc, &n_sealed, &err);
    sdra_seal_set(prev);
    assert_int_equal(max_memfds, 0); /* streamed: no plaintext copy of the file in memory */
    assert_non_null(got);
    assert_int_equal(n_sealed, n_plain);
    assert_memory_equal(got, want, n_plain * sizeof *want);
    free(want);
    free(got);
    sdra_crypt_key_destroy(master);
}

static void sealed_wav(void **state) { one_format("tone.wav", "-ar 16000 -ac 1"); }
static void sealed_mp3(void **state) { one_format("tone.mp3", "-ar 16000 -ac 1 -c:a libmp3lame -q:a 4"); }
/* the MP4 index (moov) after the data: FFmpeg reads the end, then seeks back to the start */
static void sealed_m4a_index_at_end(void **state) { one_format("tone.m4a", "-ar 16000 -ac 1 -c:a aac -b:a 64k"); }
static void sealed_flac(void **state) { one_format("tone.flac", "-ar 16000 -ac 1"); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sealed_wav),
        cmocka_unit_test(sealed_mp3),
        cmocka_unit_test(sealed_m4a_index_at_end),
        cmocka_unit_test(sealed_flac),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
