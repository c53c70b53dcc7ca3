/*
 * test_adapt.c - adapting the acoustic model to a recording (src/asr/adapt.c): which models
 * the modes adapt, too little speech (under 1 s) gives no transform and leaves no file, a transform is a
 * well-formed PocketSphinx -mllr file that a recognizer loads, the same audio gives the same
 * transform, and the same speech through a telephone band gives another; a recognizer switched
 * to a transform (sdra_asr_set_mllr) decodes as one created with it; a speaker's frames
 * normalised with the whole recording's mean give another transform than with their own.
 * (That it lowers the word error rate is measured on real speech:
 * integration.transcribe_real_telephone; by speaker: integration.transcribe_narrowband.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asr/asr_test_util.h"
#include "sdra/asr.h"

static const char *const sentences[] = {
    "thanks for taking the time to talk with me today about your support team",
    "we looked at the numbers last quarter and the renewal is coming up in march",
    "could you send the pricing overview and the case study to my work email",
    "i will check my calendar and get back to you before the end of the week",
    "our finance director has to approve anything over ten thousand dollars",
};
static char dir[512], clean[600], phone[600];
static int16_t *pcm_clean, *pcm_phone;
static size_t n_clean, n_phone;

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s/asr_adapt.XXXXXX", asr_test_tmp());
    if (!mkdtemp(dir))
        return -1;
    setenv("TMPDIR", dir, 1); /* where the transforms go: counted below */
    snprintf(clean, sizeof clean, "%s/clean.wav", dir);
    snprintf(phone, sizeof phone, "%s/phone.wav", dir);
    if (asr_test_say(clean, sentences, 5, 0.5) != 0)
        return -1;
    char cmd[2048]; /* the telephone channel of docs/asr.md: 8 kHz, mu-law, 300-3400 Hz */
    snprintf(cmd, sizeof cmd, "sox -R -D -V1 %s -r 8000 -e u-law %s sinc 300-3400", clean, phone);
    if (system(cmd) != 0)
        return -1;
    return asr_test_load_mix(clean, &pcm_clean, &n_clean) || asr_test_load_mix(phone, &pcm_phone, &n_phone);
}

static int teardown(void **state)
{
    (void)state;
    free(pcm_clean);
    free(pcm_phone);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int transforms_left(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        n += !strncmp(e->d_name, "sdra-mllr-", 10);
    if (d)
        closedir(d);
    return n;
}

static void modes(void **state)
{
    (void)state;
    sdra_asr_adapt a = SDRA_ASR_ADAPT_OFF;
    assert_int_equal(sdra_asr_adapt_parse(NULL, &a, NULL), 0);
    assert_int_equal(a, SDRA_ASR_ADAPT_AUTO);
    assert_int_equal(sdra_asr_adapt_parse("on", &a, NULL), 0);
    assert_int_equal(a, SDRA_ASR_ADAPT_ON);
    assert_int_equal(sdra_asr_adapt_parse("off", &a, NULL), 0);
    assert_int_equal(a, SDRA_ASR_ADAPT_OFF);
    sdra_error err = {0};
    assert_int_equal(sdra_asr_adapt_parse("yes", &a, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "auto, on or off"));
    assert_string_equal(sdra_asr_adapt_name(SDRA_ASR_ADAPT_AUTO), "auto");
    assert_true(sdra_asr_adapt_wanted(SDRA_ASR_ADAPT_AUTO, SDRA_ASR_AM_NARROWBAND));
    assert_false(sdra_asr_adapt_wanted(SDRA_ASR_ADAPT_AUTO, SDRA_ASR_AM_WIDEBAND));
    assert_true(sdra_asr_adapt_wanted(SDRA_ASR_ADAPT_ON, SDRA_ASR_AM_WIDEBAND));
    assert_false(sdra_asr_adapt_wanted(SDRA_ASR_ADAPT_OFF, SDRA_ASR_AM_NARROWBAND));
}

/* Reads a -mllr file of one class and three streams of 13: A and b into a, b (per stream). */
static void read_transform(const char *path, double a[3][13][13], double b[3][13])
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int ncls = 0, nstr = 0;
    assert_int_equal(fscanf(f, "%d %d", &ncls, &nstr), 2);
    assert_int_equal(ncls, 1);
    assert_int_equal(nstr, 3);
    for (int s = 0; s < 3; s++) {
        int len = 0;
        assert_int_equal(fscanf(f, "%d", &len), 1);
        assert_int_equal(len, 13);
        for (int i = 0; i < 13; i++)
            for (int j = 0; j < 13; j++) {
                assert_int_equal(fscanf(f, "%lf", &a[s][i][j]), 1);
                assert_true(isfinite(a[s][i][j]));
            }
        for (int i = 0; i < 13; i++) {
            assert_int_equal(fscanf(f, "%lf", &b[s][i]), 1);
            assert_true(isfinite(b[s][i]));
        }
        for (int i = 0; i < 13; i++) {
            double h = 0;
            assert_int_equal(fscanf(f, "%lf", &h), 1);
            assert_true(h == 1.0); /* variances unchanged */
        }
    }
    double extra;
    assert_int_equal(fscanf(f, "%lf", &extra), EOF);
    fclose(f);
}

/* How far apart two transforms are: the Frobenius distance of their A plus that of their b,
 * over the three streams. */
static double distance(double a[3][13][13], double b[3][13], double a2[3][13][13], double b2[3][13])
{
    double d = 0;
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < 13; i++) {
            for (int j = 0; j < 13; j++)
                d += (a[s][i][j] - a2[s][i][j]) * (a[s][i][j] - a2[s][i][j]);
            d += (b[s][i] - b2[s][i]) * (b[s][i] - b2[s][i]);
        }
    return sqrt(d);
}

static bool same_file(const char *x, const char *y)
{
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "cmp -s %s %s", x, y);
    return system(cmd) == 0;
}

/* Adapts the wideband model to pcm; the transform's path into path. */
static int adapt(const int16_t *pcm, size_t n, char *path, size_t cap, sdra_error *err)
{
    sdra_asr_params p = sdra_asr_default_params();
    sdra_asr_adapter *a = NULL;
    assert_int_equal(sdra_asr_adapter_create(&a, &p, err), 0);
    for (size_t off = 0; off < n; off += 3000) /* in pieces, as the reader gives them */
        assert_int_equal(sdra_asr_adapter_feed(a, pcm + off, n - off < 3000 ? n - off : 3000, err), 0);
    int rc = sdra_asr_adapter_write(a, path, cap, err);
    sdra_asr_adapter_destroy(a);
    return rc;
}

static void too_little_speech_gives_no_transform(void **state)
{
    (void)state;
    char path[4096] = "";
    sdra_error err = {0};
    assert_int_equal(adapt(pcm_clean, 16000 * 9 / 10, path, sizeof path, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "of speech")); /* 0.9 s of audio: under 1 s of speech */
    assert_int_equal(transforms_left(), 0);
    /* a few seconds, a telephone prompt's worth, are enough */
    assert_int_equal(adapt(pcm_phone, 16000 * 4, path, sizeof path, &err), 0);
    assert_int_equal(transforms_left(), 1);
    unlink(path);
}

static void a_transform_follows_the_audio(void **state)
{
    (void)state;
    assert_true(n_clean > 16000 * 12); /* well over the 1 s of speech it needs */
    char pc[4096], pp[4096], pp2[4096];
    sdra_error err = {0};
    assert_int_equal(adapt(pcm_clean, n_clean, pc, sizeof pc, &err), 0);
    assert_int_equal(adapt(pcm_phone, n_phone, pp, sizeof pp, &err), 0);
    assert_int_equal(adapt(pcm_phone, n_phone, pp2, sizeof pp2, &err), 0);
    assert_int_equal(transforms_left(), 3);
    static double a[3][13][13], b[3][13], a2[3][13][13], b2[3][13];
    read_transform(pc, a, b);
    read_transform(pp, a2, b2);
    assert_true(same_file(pp, pp2)); /* the same audio, the same transform */
    assert_true(distance(a, b, a2, b2) > 0.5); /* another channel, another transform */
    /* A recognizer loads the transform (PocketSphinx's -mllr) and still recognizes. */
    sdra_asr_params p = sdra_asr_default_params();
    p.mllr_path = pp;
    sdra_asr *asr = NULL;
    assert_int_equal(sdra_asr_create(&asr, &p, &err), 0);
    assert_int_equal(sdra_asr_start_stream(asr, &err), 0);
    assert_int_equal(sdra_asr_feed(asr, pcm_phone, n_phone, &err), 0);
    assert_int_equal(sdra_asr_end_stream(asr, &err), 0);
    size_t words = 0;
    bool ready = false;
    sdra_asr_utt u;
    while (sdra_asr_poll(asr, &u, &ready, &err) == 0 && ready) {
        words += u.n_words;
        sdra_asr_utt_release(&u);
    }
    assert_true(words >= 20);
    sdra_asr_destroy(asr);
    /* A transform that is not one fails the recognizer's creation, not later. */
    p.mllr_path = clean;
    assert_true(sdra_asr_create(&asr, &p, &err) < 0);
    unlink(pc);
    unlink(pp);
    unlink(pp2);
}

/* The words a recognizer gives for pcm, space-separated, into out. */
static void decode_words(sdra_asr *asr, const int16_t *pcm, size_t n, char *out, size_t cap)
{
    sdra_error err = {0};
    out[0] = 0;
    assert_int_equal(sdra_asr_start_stream(asr, &err), 0);
    assert_int_equal(sdra_asr_feed(asr, pcm, n, &err), 0);
    assert_int_equal(sdra_asr_end_stream(asr, &err), 0);
    bool ready = false;
    sdra_asr_utt u;
    while (sdra_asr_poll(asr, &u, &ready, &err) == 0 && ready) {
        for (size_t i = 0; i < u.n_words; i++) {
            strncat(out, u.words[i].w, cap - strlen(out) - 1);
            strncat(out, " ", cap - strlen(out) - 1);
        }
        sdra_asr_utt_release(&u);
    }
}

static void a_recognizer_switches_transforms(void **state)
{
    (void)state;
    char pc[4096], pp[4096];
    sdra_error err = {0};
    assert_int_equal(adapt(pcm_clean, n_clean, pc, sizeof pc, &err), 0);
    assert_int_equal(adapt(pcm_phone, n_phone, pp, sizeof pp, &err), 0);
    static char want_c[4096], want_p[4096], got[4096];
    /* five decodes: the first two sentences are enough to tell the transforms apart */
    size_t n_dec = n_phone * 2 / 5;
    sdra_asr_params p = sdra_asr_default_params();
    sdra_asr *asr = NULL;
    p.mllr_path = pp; /* the reference: created with the telephone transform */
    assert_int_equal(sdra_asr_create(&asr, &p, &err), 0);
    decode_words(asr, pcm_phone, n_dec, want_p, sizeof want_p);
    sdra_asr_destroy(asr);
    p.mllr_path = pc; /* and with the clean one */
    assert_int_equal(sdra_asr_create(&asr, &p, &err), 0);
    decode_words(asr, pcm_phone, n_dec, want_c, sizeof want_c);
    assert_true(strlen(want_p) > 50);
    assert_string_not_equal(want_c, want_p); /* else the check below proves nothing */
    /* switched from the clean transform to the telephone one: the telephone one's words */
    assert_int_equal(sdra_asr_set_mllr(asr, pp, &err), 0);
    decode_words(asr, pcm_phone, n_dec, got, sizeof got);
    assert_string_equal(got, want_p);
    /* and back */
    assert_int_equal(sdra_asr_set_mllr(asr, pc, &err), 0);
    assert_int_equal(sdra_asr_set_mllr(asr, pc, &err), 0); /* the same again: no change */
    decode_words(asr, pcm_phone, n_dec, got, sizeof got);
    assert_string_equal(got, want_c);
    /* a file that is no transform: an error, and the last transform stays */
    assert_int_equal(sdra_asr_set_mllr(asr, clean, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "not a transform"));
    decode_words(asr, pcm_phone, n_dec, got, sizeof got);
    assert_string_equal(got, want_c);
    sdra_asr_destroy(asr);
    unlink(pc);
    unlink(pp);
}

static void a_speaker_normalised_as_the_recording(void **state)
{
    (void)state;
    /* "the recording": the clean speech then the telephone speech; "the speaker": the latter */
    size_t n = n_clean + n_phone;
    int16_t *both = malloc(n * sizeof *both);
    assert_non_null(both);
    memcpy(both, pcm_clean, n_clean * sizeof *both);
    memcpy(both + n_clean, pcm_phone, n_phone * sizeof *both);
    sdra_asr_params p = sdra_asr_default_params();
    sdra_error err = {0};
    sdra_asr_adapter *whole = NULL, *own = NULL, *as = NULL;
    assert_int_equal(sdra_asr_adapter_create(&whole, &p, &err), 0);
    assert_int_equal(sdra_asr_adapter_create(&own, &p, &err), 0);
    assert_int_equal(sdra_asr_adapter_create(&as, &p, &err), 0);
    assert_int_equal(sdra_asr_adapter_feed(whole, both, n, &err), 0);
    assert_int_equal(sdra_asr_adapter_feed(own, pcm_phone, n_phone, &err), 0);
    assert_int_equal(sdra_asr_adapter_feed(as, pcm_phone, n_phone, &err), 0);
    sdra_asr_adapter_normalise_as(as, whole);
    char po[4096], pa[4096], pw[4096];
    assert_int_equal(sdra_asr_adapter_write(own, po, sizeof po, &err), 0);
    assert_int_equal(sdra_asr_adapter_write(as, pa, sizeof pa, &err), 0);
    assert_int_equal(sdra_asr_adapter_write(whole, pw, sizeof pw, &err), 0);
    static double a[3][13][13], b[3][13], a2[3][13][13], b2[3][13];
    read_transform(po, a, b);
    read_transform(pa, a2, b2);
    /* the same frames and the same statistics but for the mean taken off: the rotation about
       the same, the bias moved by the difference of the means (the cepstra's part of it) */
    double db = 0;
    for (int i = 0; i < 13; i++)
        db += fabs(b[0][i] - b2[0][i]);
    assert_true(db > 0.5);
    sdra_asr_adapter_destroy(whole);
    sdra_asr_adapter_destroy(own);
    sdra_asr_adapter_destroy(as);
    free(both);
    unlink(po);
    unlink(pa);
    unlink(pw);
    assert_int_equal(transforms_left(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(modes),
        cmocka_unit_test(too_little_speech_gives_no_transform),
        cmocka_unit_test(a_transform_follows_the_audio),
        cmocka_unit_test(a_recognizer_switches_transforms),
        cmocka_unit_test(a_speaker_normalised_as_the_recording),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
