/*
 * test_sniff.c - sdra_audio_sniff names a recording's container from its first bytes only:
 * every container the fixtures and the format tests use, generated with the ffmpeg CLI (WAV,
 * FLAC, MP3 with and without an ID3 tag, Ogg/Opus, M4A/AAC, WebM, Matroska, ADTS AAC, AIFF,
 * CAF), whatever the file is called; playlists, concat scripts and manifests are refused with
 * the one-line message; text, noise, short and empty buffers are "unknown" (NULL), never a
 * crash or a read past n.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "audio/audio_test_util.h"

/* Sniffs the first SDRA_AUDIO_SNIFF_BYTES of path (in a heap buffer of exactly that size, so
 * the sanitizer catches a read past it). */
static const char *sniff_file(const char *path, int *rc, sdra_error *err)
{
    unsigned char tmp[SDRA_AUDIO_SNIFF_BYTES];
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(tmp, 1, sizeof tmp, f);
    fclose(f);
    unsigned char *head = malloc(n ? n : 1);
    memcpy(head, tmp, n);
    const char *ext = (const char *)0x1;
    *rc = sdra_audio_sniff(head, n, &ext, err);
    free(head);
    return ext;
}

static void expect_file(const char *name, const char *lavfi, const char *args, const char *want)
{
    char path[700];
    atu_path(path, sizeof path, name);
    assert_int_equal(
        atu_sh("ffmpeg -nostdin -v error -y -f lavfi -i '%s' %s '%s'", lavfi, args, path), 0);
    int rc;
    sdra_error err = {0};
    const char *ext = sniff_file(path, &rc, &err);
    if (rc != 0 || !ext || strcmp(ext, want))
        fprintf(stderr, "%s: rc %d ext %s (want %s)\n", name, rc, ext ? ext : "NULL", want);
    assert_int_equal(rc, 0);
    assert_non_null(ext);
    assert_string_equal(ext, want);
}

static void sniff_names_containers_by_content(void **state)
{
    (void)state;
    const char *tone = "sine=f=440:d=1";
    expect_file("s.wav", tone, "", "wav");
    expect_file("s-mulaw.wav", tone, "-ar 8000 -c:a pcm_mulaw", "wav");
    expect_file("s.flac", tone, "", "flac");
    expect_file("s.mp3", tone, "-c:a libmp3lame", "mp3");
    expect_file("s-noid3.mp3", tone, "-c:a libmp3lame -id3v2_version 0 -write_xing 0", "mp3");
    expect_file("s.ogg", tone, "-c:a libopus", "ogg");
    expect_file("s-vorbis.ogg", tone, "-c:a libvorbis", "ogg");
    expect_file("s.m4a", tone, "-c:a aac", "m4a");
    expect_file("s.webm", tone, "-c:a libopus", "webm");
    expect_file("s.mkv", tone, "-c:a flac", "mkv");
    expect_file("s.aac", tone, "-c:a aac -f adts", "aac");
    expect_file("s.aiff", tone, "", "aiff");
    expect_file("s.caf", tone, "", "caf");
    /* the name says nothing: an Ogg file called .wav is ogg, a WAV called .m3u8 is wav */
    expect_file("ogg-named.wav", tone, "-c:a libopus -f ogg", "ogg");
    expect_file("wav-named.m3u8", tone, "-f wav", "wav");
}

static void expect_bytes(const void *p, size_t n, int want_rc, const char *want_ext)
{
    unsigned char *copy = malloc(n ? n : 1);
    memcpy(copy, p, n);
    const char *ext = (const char *)0x1;
    sdra_error err = {0};
    int rc = sdra_audio_sniff(copy, n, &ext, &err);
    free(copy);
    assert_int_equal(rc, want_rc);
    if (want_ext) {
        assert_non_null(ext);
        assert_string_equal(ext, want_ext);
    } else {
        assert_null(ext);
    }
    if (want_rc < 0) {
        assert_int_equal(err.code, want_rc);
        assert_string_equal(err.msg, "playlists are not accepted; upload the audio itself");
    }
}

#define S(str) (str), strlen(str)

static void sniff_refuses_playlists(void **state)
{
    (void)state;
    expect_bytes(S("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://10.0.0.1/a.ts\n"),
                 SDRA_EUNSUPPORTED, NULL);
    expect_bytes(S("\xEF\xBB\xBF#EXTM3U\n#EXTINF:1,x\n/etc/passwd\n"), SDRA_EUNSUPPORTED, NULL);
    expect_bytes(S("  #extm3u\r\nfile:///var/lib/sdra/calls/x/audio.wav\r\n"), SDRA_EUNSUPPORTED,
                 NULL);
    expect_bytes(S("/srv/recordings/call.wav\n"), SDRA_EUNSUPPORTED, NULL);
    expect_bytes(S("# my list\nhttp://127.0.0.1:8080/call.wav\n"), SDRA_EUNSUPPORTED, NULL);
    expect_bytes(S("C:\\calls\\call.wav\r\n"), SDRA_EUNSUPPORTED, NULL);
    expect_bytes(S("[playlist]\nFile1=http://x/a.mp3\nNumberOfEntries=1\n"), SDRA_EUNSUPPORTED,
                 NULL);
    expect_bytes(S("ffconcat version 1.0\nfile 'a.wav'\n"), SDRA_EUNSUPPORTED, NULL);
    expect_bytes(S("file 'a.wav'\nfile 'b.wav'\n"), SDRA_EUNSUPPORTED, NULL);
    expect_bytes(S("v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nm=audio 5004 RTP/AVP 0\n"),
                 SDRA_EUNSUPPORTED, NULL);
    expect_bytes(S("<?xml version=\"1.0\"?>\n<MPD type=\"static\"><Period/></MPD>\n"),
                 SDRA_EUNSUPPORTED, NULL);
    expect_bytes(S("<smil><body><audio src=\"http://x/a.wav\"/></body></smil>"), SDRA_EUNSUPPORTED,
                 NULL);
    /* an error pointer is optional */
    const char *ext;
    assert_int_equal(sdra_audio_sniff("#EXTM3U\n", 8, &ext, NULL), SDRA_EUNSUPPORTED);
    assert_null(ext);
}

/* A file that starts with the encryption magic would be taken for one encrypted at rest by
 * every reader (the upload was stored, then could not be transcribed or downloaded): refused,
 * whatever follows it, and only at the very start. */
static void sniff_refuses_the_encryption_magic(void **state)
{
    (void)state;
    static const char *tails[] = {"", "RIFF\x24\0\0\0WAVEfmt ", "\x01\x02garbage"};
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        unsigned char buf[64];
        size_t n = strlen(tails[i]) + 8;
        memcpy(buf, "SDRAENC1", 8);
        memcpy(buf + 8, tails[i], n - 8);
        const char *ext = (const char *)0x1;
        sdra_error err = {0};
        assert_int_equal(sdra_audio_sniff(buf, n, &ext, &err), SDRA_EUNSUPPORTED);
        assert_null(ext);
        assert_string_equal(err.msg, "an sdra-encrypted file is not a recording; upload the audio itself");
    }
    /* seven bytes of it, or the magic later in the file: not refused */
    expect_bytes(S("SDRAENC"), 0, NULL);
    expect_bytes(S("Notes: SDRAENC1 is the magic"), 0, NULL);
}

static void sniff_unknown_is_null(void **state)
{
    (void)state;
    expect_bytes(S("Call notes: see https://example.com/pricing for details.\n"), 0, NULL);
    expect_bytes(S("hello"), 0, NULL);
    expect_bytes("", 0, 0, NULL);
    expect_bytes(S("RIFF....fake audio bytes"), 0, NULL); /* RIFF, but not WAVE */
    expect_bytes(S("RIF"), 0, NULL);
    expect_bytes(S("ID3"), 0, NULL);
    expect_bytes("\xff", 1, 0, NULL);
    expect_bytes("\xff\xfb", 2, 0, NULL);
    const char *ext = (const char *)0x1;
    assert_int_equal(sdra_audio_sniff(NULL, 0, &ext, NULL), 0);
    assert_null(ext);
    /* noise: a few thousand random buffers of every length up to 64 bytes, and longer ones */
    unsigned seed = 99;
    unsigned char buf[SDRA_AUDIO_SNIFF_BYTES];
    int named = 0;
    for (int trial = 0; trial < 4000; trial++) {
        size_t n = trial < 3000 ? (size_t)(trial % 65) : sizeof buf;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245 + 12345;
            buf[i] = (unsigned char)(seed >> 16);
        }
        unsigned char *copy = malloc(n ? n : 1);
        memcpy(copy, buf, n);
        int rc = sdra_audio_sniff(copy, n, &ext, NULL);
        free(copy);
        assert_true(rc == 0 || rc == SDRA_EUNSUPPORTED);
        named += ext != NULL;
    }
    assert_true(named < 10); /* magic bytes, not guesses */
}

/* A tag in front: ID3 before MP3 is mp3; before ADTS, the AAC behind it. */
static void sniff_looks_behind_id3(void **state)
{
    (void)state;
    char src[700], path[700];
    atu_path(src, sizeof src, "id3src.aac");
    assert_int_equal(atu_sh("ffmpeg -nostdin -v error -y -f lavfi -i sine=d=1 -c:a aac -f adts '%s'",
                            src),
                     0);
    atu_path(path, sizeof path, "id3-then-adts.bin");
    /* a 10-byte ID3v2.4 header declaring 20 bytes of tag, then zeros, then the ADTS stream */
    assert_int_equal(atu_sh("{ printf 'ID3\\004\\000\\000\\000\\000\\000\\024'; head -c 20 /dev/zero; "
                            "cat '%s'; } > '%s'",
                            src, path),
                     0);
    int rc;
    const char *ext = sniff_file(path, &rc, NULL);
    assert_int_equal(rc, 0);
    assert_string_equal(ext, "aac");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sniff_names_containers_by_content),
        cmocka_unit_test(sniff_refuses_playlists),
        cmocka_unit_test(sniff_refuses_the_encryption_magic),
        cmocka_unit_test(sniff_unknown_is_null),
        cmocka_unit_test(sniff_looks_behind_id3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
