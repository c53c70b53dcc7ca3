/*
 * sniff.c - what kind of file this is, from its first bytes only (sdra/audio.h): the audio
 * containers the decoder accepts, named by their magic bytes, and the reference formats it
 * refuses (playlists, concat scripts, streaming manifests, which are text; sdra's own
 * encryption magic, which every reader would take for a file encrypted at rest). Callers that store
 * untrusted uploads name the stored file by this, never by the client's file name or type;
 * the decoder uses the playlist test for its one-line refusal. Pure functions over a bounded
 * buffer: no I/O, no allocation, never reads past n.
 */
#include "internal.h"

#include "sdra/seal.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

static bool at(const unsigned char *p, size_t n, size_t off, const char *magic, size_t len)
{
    return off + len <= n && memcmp(p + off, magic, len) == 0;
}

/* ---- MPEG audio and ADTS frame headers ---------------------------------------------------- */

/* Length in bytes of the MPEG audio (layer I-III) frame whose header is at p, or 0. */
static size_t mpa_frame_bytes(const unsigned char *p)
{
    static const int kbps[2][3][16] = {
        {/* MPEG-1: layer I, II, III */
         {0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448, 0},
         {0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 0},
         {0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0}},
        {/* MPEG-2 / 2.5 */
         {0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256, 0},
         {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0},
         {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0}}};
    static const int rates[4] = {44100, 48000, 32000, 0};
    if (p[0] != 0xFF || (p[1] & 0xE0) != 0xE0)
        return 0;
    int version = (p[1] >> 3) & 3; /* 0: 2.5, 1: reserved, 2: MPEG-2, 3: MPEG-1 */
    int layer = (p[1] >> 1) & 3;   /* 1: III, 2: II, 3: I, 0: reserved (ADTS) */
    int br = p[2] >> 4, sr = (p[2] >> 2) & 3, pad = (p[2] >> 1) & 1;
    if (version == 1 || layer == 0 || br == 0 || br == 15 || sr == 3)
        return 0;
    int rate = rates[sr] >> (version == 3 ? 0 : version == 2 ? 1 : 2);
    int bitrate = kbps[version == 3 ? 0 : 1][3 - layer][br] * 1000;
    if (layer == 3) /* layer I: 4-byte slots */
        return (size_t)((12 * bitrate / rate + pad) * 4);
    int spf = (layer == 1 && version != 3) ? 576 : 1152; /* samples per frame / 8 */
    return (size_t)(spf / 8 * bitrate / rate + pad);
}

/* Length of the ADTS (AAC) frame whose header is at p (7 bytes), or 0. */
static size_t adts_frame_bytes(const unsigned char *p)
{
    if (p[0] != 0xFF || (p[1] & 0xF6) != 0xF0)
        return 0;
    int sr = (p[2] >> 2) & 15;
    if (sr > 12)
        return 0;
    size_t len = ((size_t)(p[3] & 3) << 11) | ((size_t)p[4] << 3) | (p[5] >> 5);
    return len >= 7 ? len : 0;
}

/* A frame header at off, and another right after it when the buffer holds that far. */
static bool frames_at(const unsigned char *p, size_t n, size_t off, size_t (*frame)(const unsigned char *))
{
    if (off + 7 > n)
        return false;
    size_t len = frame(p + off);
    if (len == 0)
        return false;
    if (off + len + 7 <= n && frame(p + off + len) == 0)
        return false;
    return true;
}

/* ---- playlists and other reference formats ------------------------------------------------- */

/* True when the line [s, e) is a URL ("scheme://...") or an absolute path: what a list of
 * media holds, one per line. */
static bool line_is_reference(const unsigned char *s, const unsigned char *e)
{
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        e--;
    if (s == e || memchr(s, ' ', (size_t)(e - s)))
        return false;
    if (*s == '/' || *s == '\\' || (e - s > 2 && isalpha(s[0]) && s[1] == ':' && s[2] == '\\'))
        return true;
    const unsigned char *p = s;
    while (p < e && (isalnum(*p) || *p == '+' || *p == '-' || *p == '.'))
        p++;
    return p > s && e - p > 3 && memcmp(p, "://", 3) == 0;
}

bool audio_sniff_is_playlist(const void *head, size_t n)
{
    const unsigned char *p = head, *end = p + n;
    if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) /* UTF-8 byte order mark */
        p += 3;
    while (p < end && isspace(*p))
        p++;
    size_t left = (size_t)(end - p);
    /* text only: a NUL or a run of control bytes is binary media */
    size_t ctrl = 0;
    for (const unsigned char *q = p; q < end; q++) {
        if (*q == 0)
            return false;
        if (*q < 32 && *q != '\n' && *q != '\r' && *q != '\t')
            ctrl++;
    }
    if (left == 0 || ctrl * 20 > left)
        return false;
    static const char *const starts[] = {
        "#EXTM3U", "#EXTINF", "#EXT-X-", "ffconcat", "[playlist]", "v=0", "<MPD", "<smil",
        "<asx", "<playlist", "<CompositionPlaylist", "<SmoothStreamingMedia", "#EXTCPlayList",
    };
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        size_t k = strlen(starts[i]);
        if (left >= k && strncasecmp((const char *)p, starts[i], k) == 0)
            return true;
    }
    if (left >= 5 && strncasecmp((const char *)p, "<?xml", 5) == 0) {
        static const char *const roots[] = {"<MPD", "<smil", "<asx", "<playlist",
                                            "<CompositionPlaylist", "<SmoothStreamingMedia"};
        for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++) {
            size_t k = strlen(roots[i]);
            for (const unsigned char *q = p; q + k <= end; q++)
                if (strncasecmp((const char *)q, roots[i], k) == 0)
                    return true;
        }
    }
    /* a plain list (M3U without a header, a concat script without its line): a line that is
     * a URL or an absolute path, or a concat "file" directive */
    for (const unsigned char *s = p; s < end;) {
        const unsigned char *e = memchr(s, '\n', (size_t)(end - s));
        if (!e)
            e = end;
        if (line_is_reference(s, e) ||
            (e - s > 5 && strncmp((const char *)s, "file ", 5) == 0))
            return true;
        s = e + 1;
    }
    return false;
}

/* ---- containers ------------------------------------------------------------------------------ */

static const char *sniff_container(const unsigned char *p, size_t n)
{
    if ((at(p, n, 0, "RIFF", 4) || at(p, n, 0, "RF64", 4) || at(p, n, 0, "BW64", 4)) &&
        at(p, n, 8, "WAVE", 4))
        return "wav";
    if (at(p, n, 0, "riff\x2e\x91\xcf\x11", 8))
        return "w64";
    if (at(p, n, 0, "fLaC", 4))
        return "flac";
    if (at(p, n, 0, "OggS", 4))
        return "ogg";
    if (at(p, n, 4, "ftyp", 4))
        return "m4a";
    if (at(p, n, 4, "moov", 4) || at(p, n, 4, "mdat", 4) || at(p, n, 4, "wide", 4))
        return "mov";
    if (at(p, n, 0, "\x1a\x45\xdf\xa3", 4)) {
        /* EBML: the DocType says webm or matroska */
        for (size_t i = 4; i + 6 <= n && i < 64; i++)
            if (at(p, n, i, "webm", 4))
                return "webm";
        return "mkv";
    }
    if (at(p, n, 0, "FORM", 4) && (at(p, n, 8, "AIFF", 4) || at(p, n, 8, "AIFC", 4)))
        return "aiff";
    if (at(p, n, 0, "caff", 4))
        return "caf";
    if (at(p, n, 0, "#!AMR", 5))
        return "amr";
    if (at(p, n, 0, "\x30\x26\xb2\x75\x8e\x66\xcf\x11", 8))
        return "wma";
    if (at(p, n, 0, ".snd", 4))
        return "au";
    if (at(p, n, 0, "wvpk", 4))
        return "wv";
    if (at(p, n, 0, "MAC ", 4))
        return "ape";
    if (at(p, n, 0, "TTA1", 4))
        return "tta";
    if (at(p, n, 0, "MPCK", 4) || at(p, n, 0, "MP+", 3))
        return "mpc";
    if (frames_at(p, n, 0, adts_frame_bytes))
        return "aac";
    if (frames_at(p, n, 0, mpa_frame_bytes))
        return "mp3";
    return NULL;
}

int sdra_audio_sniff(const void *head, size_t n, const char **ext, sdra_error *err)
{
    const unsigned char *p = head;
    *ext = NULL;
    if (!p || n == 0)
        return 0;
    if (n > SDRA_AUDIO_SNIFF_BYTES)
        n = SDRA_AUDIO_SNIFF_BYTES;
    /* sdra's own encryption magic: every reader takes a file that starts with it for one that
     * is encrypted at rest (sdra/seal.h), so a plaintext upload that begins with it could be
     * stored but never read back */
    if (sdra_seal_is_sealed(p, n))
        return sdra_error_set(err, SDRA_EUNSUPPORTED, AUDIO_SEALED_REFUSED);
    /* ID3v2 tags precede MP3 (and sometimes AAC or FLAC): look behind the tag */
    if (at(p, n, 0, "ID3", 3) && n >= 10) {
        size_t tag = 10 + ((size_t)(p[6] & 0x7f) << 21 | (size_t)(p[7] & 0x7f) << 14 |
                           (size_t)(p[8] & 0x7f) << 7 | (size_t)(p[9] & 0x7f));
        if (p[5] & 0x10)
            tag += 10; /* footer */
        const char *behind = tag < n ? sniff_container(p + tag, n - tag) : NULL;
        *ext = behind ? behind : "mp3";
        return 0;
    }
    if ((*ext = sniff_container(p, n)) != NULL)
        return 0;
    if (audio_sniff_is_playlist(p, n))
        return sdra_error_set(err, SDRA_EUNSUPPORTED, AUDIO_PLAYLIST_REFUSED);
    return 0;
}
