/*
 * test_memory.c - streaming decode keeps memory bounded: a 2-hour MP3 (60 s of low-bitrate
 * mono MP3 made by ffmpeg, its frames repeated 120 times, so it takes a second to make) is
 * decoded through sdra_audio_read and the process's peak RSS stays far below the 230 MB the
 * decoded 16 kHz audio would take.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/resource.h>

#include "audio/audio_test_util.h"

#define HOURS 2
#define PIECE_S 60
#define MAX_RSS_MB 60

/* Under AddressSanitizer freed blocks wait in a quarantine (256 MB by default) before they are
 * reused, and since ASan serves FFmpeg's allocations too, the per-packet buffers would pile up
 * there and look like growth. With no quarantine the measure is the program's own. */
#if defined(__SANITIZE_ADDRESS__)
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "quarantine_size_mb=0";
}
#endif

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void memory_two_hour_mp3_streams_in_bounded_memory(void **state)
{
    (void)state;
    char piece[700], path[700];
    atu_path(piece, sizeof piece, "piece.mp3");
    atu_path(path, sizeof path, "two-hours.mp3");
    /* no Xing/ID3 tags: the file is a plain run of frames that can be repeated */
    assert_int_equal(atu_sh("ffmpeg -nostdin -v error -y -f lavfi -i 'sine=f=300:r=8000:d=%d' "
                            "-ac 1 -c:a libmp3lame -b:a 8k -write_xing 0 -id3v2_version 0 '%s'",
                            PIECE_S, piece),
                     0);
    assert_int_equal(atu_sh("rm -f '%s'; for i in $(seq %d); do cat '%s'; done > '%s'", path,
                            HOURS * 3600 / PIECE_S, piece, path),
                     0);
    long before_kb = peak_rss_kb();
    sdra_audio *a = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_audio_open(&a, path, NULL, &err), 0);
    int16_t mix[4096];
    int16_t ch0[4096];
    int16_t *ch[SDRA_AUDIO_MAX_CHANNELS] = {ch0};
    size_t n;
    int64_t total = 0;
    int rc;
    double energy = 0;
    while ((rc = sdra_audio_read(a, ch, mix, 4096, &n, &err)) == 0 && n > 0) {
        total += (int64_t)n;
        energy += (double)mix[n / 2] * mix[n / 2];
    }
    sdra_audio_close(a);
    assert_int_equal(rc, 0);
    long after_kb = peak_rss_kb();
    double decoded_mb = (double)total * 2 / 1e6;
    fprintf(stderr,
            "decoded %.1f s (%.0f MB of 16 kHz PCM); peak RSS %ld KB before, %ld KB after\n",
            (double)total / 16000, decoded_mb, before_kb, after_kb);
    /* all of it came out (each repeated piece adds the encoder's delay: under 1%) */
    assert_true(total >= (int64_t)HOURS * 3600 * 16000);
    assert_true(total <= (int64_t)HOURS * 3600 * 16000 * 101 / 100);
    assert_true(energy > 0);
    assert_true(decoded_mb > 200);
    assert_true(after_kb < MAX_RSS_MB * 1024L);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(memory_two_hour_mp3_streams_in_bounded_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
