/*
 * test_am_choose.c - which acoustic model a source gets (src/asr/am.c): the narrowband model
 * for audio sampled at 8 kHz or less or with nothing above the telephone band (the band
 * meter's reading), the wideband one otherwise, a forced choice always; a missing narrowband
 * model falls back to the wideband one with one warning, never an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sdra/asr.h"
#include "sdra/log.h"

static void am_auto_follows_the_source_rate(void **state)
{
    (void)state;
    const int narrow[] = {8000, 6000, 4000, 1};
    const int wide[] = {8001, 11025, 16000, 44100, 48000, 0, -1};
    for (size_t i = 0; i < sizeof narrow / sizeof narrow[0]; i++)
        assert_int_equal(sdra_asr_am_choose(SDRA_ASR_AM_AUTO, narrow[i], NAN), SDRA_ASR_AM_NARROWBAND);
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
        assert_int_equal(sdra_asr_am_choose(SDRA_ASR_AM_AUTO, wide[i], NAN), SDRA_ASR_AM_WIDEBAND);
}

/* A wideband rate with an empty band above the line's is telephone audio; a measurement says
 * nothing about a source at 8 kHz (narrowband either way) or a forced choice. */
static void am_auto_follows_the_band(void **state)
{
    (void)state;
    assert_int_equal(sdra_asr_am_choose(SDRA_ASR_AM_AUTO, 16000, -69.0), SDRA_ASR_AM_NARROWBAND);
    assert_int_equal(sdra_asr_am_choose(SDRA_ASR_AM_AUTO, 44100, SDRA_ASR_BAND_LIMITED_DB - 0.1),
                     SDRA_ASR_AM_NARROWBAND);
    assert_int_equal(sdra_asr_am_choose(SDRA_ASR_AM_AUTO, 44100, SDRA_ASR_BAND_LIMITED_DB),
                     SDRA_ASR_AM_WIDEBAND);
    assert_int_equal(sdra_asr_am_choose(SDRA_ASR_AM_AUTO, 16000, -48.6), SDRA_ASR_AM_WIDEBAND);
    assert_int_equal(sdra_asr_am_choose(SDRA_ASR_AM_AUTO, 16000, -15.0), SDRA_ASR_AM_WIDEBAND);
    assert_int_equal(sdra_asr_am_choose(SDRA_ASR_AM_AUTO, 8000, -15.0), SDRA_ASR_AM_NARROWBAND);
    assert_int_equal(sdra_asr_am_choose(SDRA_ASR_AM_WIDEBAND, 16000, -90.0), SDRA_ASR_AM_WIDEBAND);
}

static void am_forced_choice_wins(void **state)
{
    (void)state;
    assert_int_equal(sdra_asr_am_choose(SDRA_ASR_AM_WIDEBAND, 8000, NAN), SDRA_ASR_AM_WIDEBAND);
    assert_int_equal(sdra_asr_am_choose(SDRA_ASR_AM_NARROWBAND, 16000, NAN), SDRA_ASR_AM_NARROWBAND);
}

static void am_parse(void **state)
{
    (void)state;
    sdra_asr_am am = SDRA_ASR_AM_WIDEBAND;
    sdra_error err = {0};
    assert_int_equal(sdra_asr_am_parse(NULL, &am, &err), 0);
    assert_int_equal(am, SDRA_ASR_AM_AUTO);
    assert_int_equal(sdra_asr_am_parse("narrowband", &am, &err), 0);
    assert_int_equal(am, SDRA_ASR_AM_NARROWBAND);
    assert_int_equal(sdra_asr_am_parse("wideband", &am, &err), 0);
    assert_int_equal(am, SDRA_ASR_AM_WIDEBAND);
    assert_int_equal(sdra_asr_am_parse("8k", &am, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "'8k'"));
    assert_string_equal(sdra_asr_am_name(SDRA_ASR_AM_NARROWBAND), "narrowband");
}

static int n_warnings;
static char last_warning[512];

static void count_warnings(void *ud, sdra_log_level level, const sdra_log_ctx *ctx, const char *msg)
{
    (void)ud;
    (void)ctx;
    if (level >= SDRA_LOG_WARN) {
        n_warnings++;
        snprintf(last_warning, sizeof last_warning, "%s", msg);
    }
}

/* A model directory with every file PocketSphinx reads (empty files: only presence counts). */
static void make_model(const char *dir)
{
    static const char *const files[] = {"mdef", "means", "variances", "transition_matrices",
                                        "sendump", "feat.params", "noisedict"};
    mkdir(dir, 0700);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fclose(f);
    }
}

static void am_resolve_uses_the_model_or_falls_back(void **state)
{
    (void)state;
    char dir[512], buf[4096];
    const char *tmp = getenv("SDRA_TEST_TMP") ? getenv("SDRA_TEST_TMP") : "/tmp";
    mkdir(tmp, 0700);
    snprintf(dir, sizeof dir, "%s/am-choose-%d", tmp, (int)getpid());
    make_model(dir);
    sdra_log_set_handler(count_warnings, NULL, SDRA_LOG_WARN);

    setenv("SDRA_NARROWBAND_AM", dir, 1);
    sdra_asr_params p = sdra_asr_default_params();
    n_warnings = 0;
    assert_int_equal(sdra_asr_am_resolve(&p, SDRA_ASR_AM_AUTO, 8000, NAN, buf, sizeof buf),
                     SDRA_ASR_AM_NARROWBAND);
    assert_non_null(p.hmm_dir);
    assert_string_equal(p.hmm_dir, dir);
    assert_int_equal(n_warnings, 0);

    p = sdra_asr_default_params(); /* a wideband source never needs the narrowband model */
    assert_int_equal(sdra_asr_am_resolve(&p, SDRA_ASR_AM_AUTO, 16000, NAN, buf, sizeof buf),
                     SDRA_ASR_AM_WIDEBAND);
    assert_null(p.hmm_dir);

    /* an incomplete model: one warning naming what is missing, the wideband model */
    char f[600];
    snprintf(f, sizeof f, "%s/means", dir);
    unlink(f);
    p = sdra_asr_default_params();
    assert_int_equal(sdra_asr_am_resolve(&p, SDRA_ASR_AM_AUTO, 8000, NAN, buf, sizeof buf),
                     SDRA_ASR_AM_WIDEBAND);
    assert_null(p.hmm_dir);
    assert_int_equal(n_warnings, 1);
    assert_non_null(strstr(last_warning, "means"));
    assert_non_null(strstr(last_warning, "wideband"));

    /* a missing directory, even when narrowband is forced */
    snprintf(f, sizeof f, "%s/none", dir);
    setenv("SDRA_NARROWBAND_AM", f, 1);
    p = sdra_asr_default_params();
    assert_int_equal(sdra_asr_am_resolve(&p, SDRA_ASR_AM_NARROWBAND, 16000, NAN, buf, sizeof buf),
                     SDRA_ASR_AM_WIDEBAND);
    assert_null(p.hmm_dir);
    assert_int_equal(n_warnings, 2);

    unsetenv("SDRA_NARROWBAND_AM");
    sdra_log_set_handler(NULL, NULL, SDRA_LOG_WARN);
    static const char *const files[] = {"mdef", "variances", "transition_matrices", "sendump",
                                        "feat.params", "noisedict"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(f, sizeof f, "%s/%s", dir, files[i]);
        unlink(f);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(am_auto_follows_the_source_rate),
        cmocka_unit_test(am_auto_follows_the_band),
        cmocka_unit_test(am_forced_choice_wins),
        cmocka_unit_test(am_parse),
        cmocka_unit_test(am_resolve_uses_the_model_or_falls_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
