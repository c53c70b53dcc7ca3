/*
 * test_playlists.c - the decoder never follows references (security review, finding 1): an
 * HLS playlist, a plain M3U or PLS list, an ffconcat script, an SDP or DASH manifest, named as
 * itself, as "call.wav", read from a pipe or forced with a format hint, is refused at open
 * with one line naming the input ("... playlists are not accepted; upload the audio itself"),
 * and nothing is fetched: a listener on 127.0.0.1 counts the connections (there must be none)
 * and the local WAV the lists point at is never decoded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "audio/audio_test_util.h"

#define REFUSED "playlists are not accepted; upload the audio itself"

/* ---- a listener on 127.0.0.1 that answers 404 and counts connections ------------------- */

static int g_listen_fd = -1;
static int g_port;
static atomic_int g_connections;

static void *acceptor(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(g_listen_fd, NULL, NULL);
        if (c < 0)
            return NULL;
        atomic_fetch_add(&g_connections, 1);
        char buf[2048];
        (void)!read(c, buf, sizeof buf);
        const char *resp = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        (void)!write(c, resp, strlen(resp));
        close(c);
    }
}

static int setup(void **state)
{
    (void)state;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    g_listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (g_listen_fd < 0 || bind(g_listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(g_listen_fd, 16) != 0 || getsockname(g_listen_fd, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    g_port = ntohs(sa.sin_port);
    pthread_t t;
    if (pthread_create(&t, NULL, acceptor, NULL) != 0)
        return -1;
    pthread_detach(t);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------------ */

/* The local recording the lists point at (1 s of 440 Hz). */
static const char *local_wav(void)
{
    static char path[700];
    if (!path[0]) {
        atu_path(path, sizeof path, "referenced.wav");
        if (atu_sh("ffmpeg -nostdin -v error -y -f lavfi -i sine=f=440:d=1 '%s'", path) != 0)
            path[0] = '\0';
    }
    assert_true(path[0] != '\0');
    return path;
}

/* Writes text (with %U = the listener's URL, %L = the local WAV's path) to a scratch file. */
static const char *write_list(char *out, size_t n, const char *name, const char *tmpl)
{
    char text[4096], url[64];
    size_t k = 0;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/segment.wav", g_port);
    for (const char *p = tmpl; *p && k + 800 < sizeof text; p++) {
        if (p[0] == '%' && (p[1] == 'U' || p[1] == 'L')) {
            const char *s = p[1] == 'U' ? url : local_wav();
            k += (size_t)snprintf(text + k, sizeof text - k, "%s", s);
            p++;
        } else {
            text[k++] = *p;
        }
    }
    text[k] = '\0';
    atu_path(out, n, name);
    assert_int_equal(atu_write(out, text, k), 0);
    return out;
}

/* Opens path (or stdin fed from it) with an optional format hint; it must be refused as a
 * playlist, in one line naming the input, without a connection to the listener. */
static void expect_refused(const char *path, bool via_stdin, const char *hint)
{
    int before = atomic_load(&g_connections);
    sdra_audio_params p = sdra_audio_default_params();
    p.format_hint = hint;
    sdra_audio *a = NULL;
    sdra_error err = {0};
    int rc;
    if (via_stdin) {
        pid_t child;
        int saved = atu_stdin_from(path, &child);
        assert_true(saved >= 0);
        rc = sdra_audio_open(&a, "-", &p, &err);
        atu_stdin_restore(saved, child);
    } else {
        rc = sdra_audio_open(&a, path, &p, &err);
    }
    usleep(50000); /* a connection, had one been made, is counted by now */
    if (rc != SDRA_EUNSUPPORTED || !strstr(err.msg, REFUSED))
        fprintf(stderr, "%s%s: rc %d, msg '%s'\n", path, via_stdin ? " (stdin)" : "", rc, err.msg);
    if (a)
        sdra_audio_close(a);
    assert_int_equal(rc, SDRA_EUNSUPPORTED);
    assert_int_equal(err.code, SDRA_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, via_stdin ? "stdin" : path));
    assert_non_null(strstr(err.msg, REFUSED));
    assert_null(strchr(err.msg, '\n'));
    assert_int_equal(atomic_load(&g_connections), before);
}

static const char *hls_remote = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n"
                                "#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\n%U\n#EXT-X-ENDLIST\n";

/* ---- tests ---------------------------------------------------------------------------------- */

static void playlists_hls_remote_is_refused(void **state)
{
    (void)state;
    char path[700];
    expect_refused(write_list(path, sizeof path, "remote.m3u8", hls_remote), false, NULL);
    /* the same bytes under an audio name, and from a pipe */
    expect_refused(write_list(path, sizeof path, "call.wav", hls_remote), false, NULL);
    expect_refused(write_list(path, sizeof path, "call.mp3", hls_remote), false, NULL);
    expect_refused(path, true, NULL);
    /* a caller's format hint cannot name a playlist demuxer either */
    expect_refused(write_list(path, sizeof path, "remote.txt", hls_remote), false, "hls");
}

static void playlists_hls_local_file_is_refused(void **state)
{
    (void)state;
    char path[700];
    expect_refused(write_list(path, sizeof path, "local-url.m3u8",
                              "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:1.0,\nfile://%L\n"
                              "#EXT-X-ENDLIST\n"),
                   false, NULL);
    expect_refused(write_list(path, sizeof path, "local-path.m3u8",
                              "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:1.0,\n%L\n#EXT-X-ENDLIST\n"),
                   false, NULL);
    expect_refused(path, true, NULL);
}

static void playlists_m3u_and_pls_are_refused(void **state)
{
    (void)state;
    char path[700];
    expect_refused(write_list(path, sizeof path, "simple.m3u8", "#EXTM3U\n#EXTINF:1,call\n%L\n"),
                   false, NULL);
    expect_refused(write_list(path, sizeof path, "plain.m3u", "%L\n"), false, NULL);
    expect_refused(write_list(path, sizeof path, "plain-url.m3u", "%U\n"), false, NULL);
    expect_refused(write_list(path, sizeof path, "list.pls",
                              "[playlist]\nFile1=%U\nTitle1=call\nNumberOfEntries=1\nVersion=2\n"),
                   false, NULL);
}

static void playlists_concat_scripts_are_refused(void **state)
{
    (void)state;
    char path[700];
    expect_refused(write_list(path, sizeof path, "script.ffconcat", "ffconcat version 1.0\nfile '%L'\n"),
                   false, NULL);
    expect_refused(write_list(path, sizeof path, "script.wav", "ffconcat version 1.0\nfile '%L'\n"),
                   false, NULL);
    expect_refused(path, true, NULL);
    expect_refused(write_list(path, sizeof path, "concat.txt", "file '%L'\n"), false, NULL);
    expect_refused(write_list(path, sizeof path, "concat-hint.txt", "file '%L'\n"), false, "concat");
}

static void playlists_manifests_are_refused(void **state)
{
    (void)state;
    char path[700];
    char sdp[512];
    snprintf(sdp, sizeof sdp,
             "v=0\no=- 0 0 IN IP4 127.0.0.1\ns=call\nc=IN IP4 127.0.0.1\nt=0 0\n"
             "m=audio %d RTP/AVP 0\n",
             g_port);
    expect_refused(write_list(path, sizeof path, "stream.sdp", sdp), false, NULL);
    expect_refused(write_list(path, sizeof path, "manifest.mpd",
                              "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" "
                              "type=\"static\" mediaPresentationDuration=\"PT1S\">\n<Period>"
                              "<AdaptationSet mimeType=\"audio/wav\"><Representation id=\"a\" "
                              "bandwidth=\"256000\"><BaseURL>%U</BaseURL></Representation>"
                              "</AdaptationSet></Period></MPD>\n"),
                   false, NULL);
}

/* The reference formats are refused, not everything: the local WAV itself still decodes, and
 * a text file that only mentions a URL is still "not an audio file". */
static void playlists_audio_itself_still_decodes(void **state)
{
    (void)state;
    sdra_audio *a = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_audio_open(&a, local_wav(), NULL, &err), 0);
    sdra_audio_close(a);
    char path[700];
    write_list(path, sizeof path, "notes.wav", "Call notes: see https://example.com/pricing.\n");
    assert_int_equal(sdra_audio_open(&a, path, NULL, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "not an audio file"));
    assert_int_equal(atomic_load(&g_connections), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(playlists_hls_remote_is_refused),
        cmocka_unit_test(playlists_hls_local_file_is_refused),
        cmocka_unit_test(playlists_m3u_and_pls_are_refused),
        cmocka_unit_test(playlists_concat_scripts_are_refused),
        cmocka_unit_test(playlists_manifests_are_refused),
        cmocka_unit_test(playlists_audio_itself_still_decodes),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
