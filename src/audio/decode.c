/*
 * decode.c - streaming audio ingest over FFmpeg (sdra/audio.h): opens a file or stdin through
 * our own AVIOContext (so pipes, byte counting and error translation all happen in one place),
 * finds the audio stream, decodes it packet by packet and resamples each decoded frame to
 * interleaved s16 at the output rate with the source channels kept apart. The reader holds at
 * most one decoded frame of output at a time, so memory does not grow with the length of the
 * input. PCM WAV headers are read here and the samples handed to FFmpeg's raw PCM demuxer
 * (live streams start at once; truncation is the declared length against the bytes there).
 * FFmpeg's error codes are translated here into sdra codes with a one-line message that
 * names the input; FFmpeg's own log lines go to sdra_log at debug level.
 *
 * Only the input itself is ever read (security review, finding 1): the container is probed
 * here and must be one of ACCEPTED_FORMATS before its demuxer runs; playlists, concat scripts
 * and manifests are refused by name ("playlists are not accepted"); and the demuxer's io_open
 * is replaced by one that refuses everything, with an empty protocol whitelist behind it, so
 * no demuxer can open a URL or another file whatever the input says.
 */
#include "internal.h"
#include "sdra/seal.h"
#include "sdra/log.h"
#include "sdra/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>

#define IO_BUF_BYTES (32 * 1024)
/* The largest single decoded frame we accept, in output frames (FLAC allows 65535 input
 * samples per frame; 20 s at the output rate is far beyond any real codec). */
#define MAX_FRAME_OUT_S 20
#define NAME_MAX_CHARS 200
/* Sources with more channels are refused: with MAX_FRAME_OUT_S this bounds the output buffer
 * (64 channels x 20 s x 16 kHz x 2 bytes = 41 MB at the very worst). */
#define MAX_SOURCE_CHANNELS 64
/* How much of a non-seekable stream FFmpeg may read before the first audio is delivered. */
#define STREAM_PROBE_BYTES (8 * 1024)
#define STREAM_ANALYZE_US 500000

/* The demuxers we run (FFmpeg names; av_match_list matches any name of a multi-name demuxer
 * such as "mov,mp4,m4a,3gp,3g2,mj2" or "matroska,webm"): audio containers that hold their
 * media inline, and the raw PCM demuxers behind our WAV reader and format hints. The list in
 * docs/audio.md follows this one. */
#define ACCEPTED_FORMATS                                                                          \
    "wav,w64,flac,mp3,ogg,mov,matroska,aac,loas,aiff,caf,amr,amrnb,amrwb,asf,au,wv,ape,tta,mpc,"  \
    "mpc8,ac3,eac3,dts,gsm,voc,"                                                                  \
    "u8,s8,s16le,s16be,u16le,u16be,s24le,s24be,u24le,u24be,s32le,s32be,u32le,u32be,f32le,f32be,"  \
    "f64le,f64be,alaw,mulaw"
/* Demuxers that read other media named inside the input (or a script that makes it): refused
 * with the playlist message, whatever their name or the probe says. */
#define REFERENCE_FORMATS                                                                         \
    "hls,applehttp,concat,dash,webm_dash_manifest,sdp,rtsp,rtp,imf,image2,avisynth,vapoursynth," \
    "lavfi"

struct sdra_audio {
    char name[NAME_MAX_CHARS + 1]; /* the input as messages name it */
    sdra_audio_params p;
    sdra_audio_info info;

    int fd;
    bool own_fd;
    bool seekable;
    /* an sdra-encrypted file (sdra/seal.h): read through the sealing table's streaming reader,
     * one chunk in memory; a seek backwards reads again from the start */
    const struct sdra_seal_ops *seal;
    void *sealed;
    int64_t plain_pos;
    int64_t file_bytes; /* size of a regular file, else -1 */
    int64_t bytes_read; /* through io_read, for the size limit on streams */
    /* bytes read ahead while looking at a stream's WAV header, served again by io_read */
    unsigned char *pre;
    size_t pre_len, pre_pos;
    int64_t payload_left; /* WAV stream read as raw PCM: data bytes left; -1 = unbounded */
    bool size_exceeded;
    int io_errno;

    AVIOContext *avio;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    SwrContext *swr;
    AVPacket *pkt;
    AVFrame *frame;
    int stream_index;

    /* the format swr was set up for */
    int swr_in_rate;
    int swr_in_fmt;
    AVChannelLayout swr_in_layout;
    AVChannelLayout out_layout;
    int out_channels; /* channels swr produces (= source channels) */

    int16_t *obuf;   /* interleaved, out_channels per frame */
    size_t obuf_cap; /* in frames */
    size_t obuf_len; /* frames held */
    size_t obuf_pos; /* frames already handed out */

    bool demux_eof;
    bool decoder_eof;
    bool done;             /* nothing more will come from the decoder or swr */
    int n_decode_errors;   /* corrupt packets skipped */
    int packets_since_bad; /* packets of our stream since the last corrupt one */
    int64_t end_frames;    /* container's exact length in output frames (MP4); 0 = unknown */
    bool duration_exact;   /* info.duration_s comes from the container, not a bitrate guess */
    bool raw_wav;          /* PCM WAV read by our header reader and a raw demuxer */

    int pending_rc; /* an error to report once the good audio before it was delivered */
    sdra_error pending_err;

    int64_t delivered;    /* output frames handed to the caller */
    int64_t limit_frames; /* from max_duration_s; 0 = none */
};

/* ---- FFmpeg logging -------------------------------------------------------------------- */

static void av_log_to_sdra(void *avcl, int level, const char *fmt, va_list vl)
{
    if (level > AV_LOG_WARNING)
        return;
    char line[512];
    int print_prefix = 1;
    va_list copy;
    va_copy(copy, vl);
    av_log_format_line2(avcl, level, fmt, copy, line, sizeof line, &print_prefix);
    va_end(copy);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (n > 0)
        sdra_log(SDRA_LOG_DEBUG, "ffmpeg: %s", line);
}

static pthread_once_t sdra_av_log_once = PTHREAD_ONCE_INIT;

static void av_log_init(void)
{
    av_log_set_level(AV_LOG_WARNING);
    av_log_set_callback(av_log_to_sdra);
}

/* ---- error translation ----------------------------------------------------------------- */

/* FFmpeg's text for an AVERROR, with a lower-case first letter to sit inside our message. */
static void av_reason(char *out, size_t n, int averr)
{
    if (av_strerror(averr, out, n) < 0)
        snprintf(out, n, "error %d", averr);
    if (out[0] >= 'A' && out[0] <= 'Z' && !(out[1] >= 'A' && out[1] <= 'Z'))
        out[0] = (char)(out[0] - 'A' + 'a');
}

/* Translates an AVERROR met while opening or reading into an sdra code and message. */
static int fail_av(sdra_audio *a, sdra_error *err, int averr, const char *what)
{
    char reason[128];
    if (a->size_exceeded)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: input larger than the limit of %lld bytes",
                              a->name, (long long)a->p.max_size_bytes);
    if (a->io_errno)
        return sdra_error_set(err,
                              sdra_code_from_errno(a->io_errno) == SDRA_ENOTFOUND
                                  ? SDRA_EIO
                                  : sdra_code_from_errno(a->io_errno),
                              "%s: read error (%s)", a->name, strerror(a->io_errno));
    av_reason(reason, sizeof reason, averr);
    if (averr == AVERROR(ENOMEM))
        return sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", a->name);
    /* With no read error of ours, FFmpeg's EOF or EIO means a parser ran out of input. */
    if (averr == AVERROR_EOF || averr == AVERROR(EIO))
        return sdra_error_set(err, SDRA_EINVAL, "%s: truncated or not audio (input ends too early)",
                              a->name);
    if (averr == AVERROR_DECODER_NOT_FOUND || averr == AVERROR_DEMUXER_NOT_FOUND ||
        averr == AVERROR_PATCHWELCOME || averr == AVERROR(ENOSYS))
        return sdra_error_set(err, SDRA_EUNSUPPORTED, "%s: %s (%s)", a->name, what, reason);
    return sdra_error_set(err, SDRA_EINVAL, "%s: %s (%s)", a->name, what, reason);
}

/* ---- I/O: our own AVIOContext over a file descriptor ------------------------------------ */

/* read(2) on the input, or on the plaintext of an encrypted one. */
static ssize_t src_read(sdra_audio *a, void *buf, size_t n)
{
    if (!a->sealed) {
        ssize_t r;
        do {
            r = read(a->fd, buf, n);
        } while (r < 0 && errno == EINTR);
        return r;
    }
    size_t got = 0;
    sdra_error e = {0};
    if (a->seal->reader_read(a->sealed, buf, n, &got, &e) < 0) {
        errno = EIO;
        return -1;
    }
    a->plain_pos += (int64_t)got;
    return (ssize_t)got;
}

/* lseek(2) on the input; on an encrypted one forwards by reading, backwards by starting again. */
static int64_t src_seek(sdra_audio *a, int64_t offset, int whence)
{
    if (!a->sealed) {
        off_t r = lseek(a->fd, (off_t)offset, whence);
        return r < 0 ? -1 : (int64_t)r;
    }
    int64_t to = whence == SEEK_SET ? offset : whence == SEEK_CUR ? a->plain_pos + offset : a->file_bytes + offset;
    if (to < 0 || to > a->file_bytes) {
        errno = EINVAL;
        return -1;
    }
    if (to < a->plain_pos) {
        void *fresh = NULL;
        int64_t plain = 0;
        sdra_error e = {0};
        if (a->seal->reader_open(a->seal->user_data, a->fd, &fresh, &plain, &e) < 0) {
            errno = EIO;
            return -1;
        }
        a->seal->reader_close(a->sealed);
        a->sealed = fresh;
        a->plain_pos = 0;
    }
    unsigned char skip[4096];
    while (a->plain_pos < to) {
        int64_t want = to - a->plain_pos;
        ssize_t r = src_read(a, skip, want < (int64_t)sizeof skip ? (size_t)want : sizeof skip);
        if (r <= 0) {
            errno = r < 0 ? EIO : EINVAL;
            return -1;
        }
    }
    return to;
}

static int io_read(void *opaque, uint8_t *buf, int size)
{
    sdra_audio *a = opaque;
    ssize_t n;
    if (a->pre_pos < a->pre_len) {
        size_t k = a->pre_len - a->pre_pos;
        if (k > (size_t)size)
            k = (size_t)size;
        memcpy(buf, a->pre + a->pre_pos, k);
        a->pre_pos += k;
        return (int)k;
    }
    if (a->payload_left == 0)
        return AVERROR_EOF;
    if (a->payload_left > 0 && size > a->payload_left)
        size = (int)a->payload_left;
    n = src_read(a, buf, (size_t)size);
    if (n > 0 && a->payload_left > 0)
        a->payload_left -= n;
    if (n < 0) {
        a->io_errno = errno;
        return AVERROR(errno);
    }
    if (n == 0)
        return AVERROR_EOF;
    a->bytes_read += n;
    /* Regular files were checked by size up front (and may be re-read after a seek); streams
     * are counted as they arrive. */
    if (!a->seekable && a->p.max_size_bytes > 0 && a->bytes_read > a->p.max_size_bytes) {
        a->size_exceeded = true;
        return AVERROR(EFBIG);
    }
    return (int)n;
}

static int64_t io_seek(void *opaque, int64_t offset, int whence)
{
    sdra_audio *a = opaque;
    if (whence & AVSEEK_SIZE)
        return a->file_bytes >= 0 ? a->file_bytes : AVERROR(ENOSYS);
    whence &= ~AVSEEK_FORCE;
    int64_t r = src_seek(a, offset, whence);
    if (r < 0)
        return AVERROR(errno);
    return r;
}

/* Installed as the demuxer's io_open: nothing inside an input may open another resource (a
 * playlist's segments, a concat script's files, a QuickTime data reference). */
static int io_open_refused(struct AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                           AVDictionary **options)
{
    (void)s;
    (void)flags;
    (void)options;
    *pb = NULL;
    sdra_log(SDRA_LOG_DEBUG, "audio: refused to open '%.200s' named inside the input",
             url ? url : "");
    return AVERROR(EPERM);
}

/* ---- WAV streams ----------------------------------------------------------------------- */

/* FFmpeg's WAV demuxer reads 64 KiB past the header of PCM data to look for S/PDIF (2 s of
 * 16 kHz mono) before it returns anything, which on a live stream is 2 s of silence from us.
 * So on a non-seekable input we read a PCM WAV header ourselves and hand the data to FFmpeg's
 * raw PCM demuxer. Anything else (not WAV, compressed WAV, odd headers) is given back to
 * FFmpeg untouched: the bytes read are served again by io_read. */
#define WAV_HEADER_MAX_BYTES (64 * 1024)

typedef struct wav_stream {
    const char *raw_format; /* FFmpeg raw demuxer name */
    int rate_hz;
    int channels;
    int64_t data_bytes; /* -1 when the header does not say (streaming writers) */
    int64_t header_bytes;
} wav_stream;

/* Reads exactly n more bytes into a->pre (grown as needed); false at EOF or error. */
static bool pre_read(sdra_audio *a, size_t n, size_t *cap)
{
    if (a->pre_len + n > WAV_HEADER_MAX_BYTES)
        return false;
    if (a->pre_len + n > *cap) {
        size_t nc = *cap ? *cap : 256;
        while (nc < a->pre_len + n)
            nc *= 2;
        unsigned char *p = realloc(a->pre, nc);
        if (!p)
            return false;
        a->pre = p;
        *cap = nc;
    }
    while (n > 0) {
        ssize_t r = src_read(a, a->pre + a->pre_len, n);
        if (r <= 0) {
            if (r < 0)
                a->io_errno = errno;
            return false;
        }
        a->pre_len += (size_t)r;
        a->bytes_read += r;
        n -= (size_t)r;
    }
    return true;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* Looks at the start of a stream; true (and *w filled, header consumed) when it is a PCM WAV
 * that a raw demuxer can read. Otherwise everything read stays in a->pre for FFmpeg. */
static bool sniff_wav_stream(sdra_audio *a, wav_stream *w)
{
    size_t cap = 0;
    int tag = -1, channels = 0, rate = 0, bits = 0, align = 0;
    if (!pre_read(a, 12, &cap) || memcmp(a->pre, "RIFF", 4) != 0 ||
        memcmp(a->pre + 8, "WAVE", 4) != 0)
        return false;
    for (;;) {
        size_t at = a->pre_len;
        if (!pre_read(a, 8, &cap))
            return false;
        uint32_t size = le32(a->pre + at + 4);
        if (memcmp(a->pre + at, "data", 4) == 0) {
            w->data_bytes = (size == 0 || size == 0xFFFFFFFFu) ? -1 : (int64_t)size;
            break;
        }
        if (size > WAV_HEADER_MAX_BYTES || !pre_read(a, size + (size & 1), &cap))
            return false;
        if (memcmp(a->pre + at, "fmt ", 4) == 0) {
            const unsigned char *f = a->pre + at + 8;
            if (size < 16)
                return false;
            tag = le16(f);
            channels = le16(f + 2);
            rate = (int)le32(f + 4);
            align = le16(f + 12);
            bits = le16(f + 14);
            if (tag == 0xFFFE) { /* WAVE_FORMAT_EXTENSIBLE: the real tag opens the GUID */
                if (size < 40)
                    return false;
                tag = le16(f + 24);
            }
        }
    }
    if (channels < 1 || channels > MAX_SOURCE_CHANNELS || rate < 1 || rate > SDRA_AUDIO_MAX_RATE_HZ)
        return false;
    const char *fmt = NULL;
    if (tag == 1 && bits == 8)
        fmt = "u8";
    else if (tag == 1 && bits == 16)
        fmt = "s16le";
    else if (tag == 1 && bits == 24)
        fmt = "s24le";
    else if (tag == 1 && bits == 32)
        fmt = "s32le";
    else if (tag == 3 && bits == 32)
        fmt = "f32le";
    else if (tag == 3 && bits == 64)
        fmt = "f64le";
    else if (tag == 6 && bits == 8)
        fmt = "alaw";
    else if (tag == 7 && bits == 8)
        fmt = "mulaw";
    if (!fmt || align != channels * bits / 8)
        return false;
    w->raw_format = fmt;
    w->header_bytes = (int64_t)a->pre_len;
    w->rate_hz = rate;
    w->channels = channels;
    /* the header is consumed: FFmpeg sees the samples only */
    a->pre_len = a->pre_pos = 0;
    return true;
}

/* The name FFmpeg gives (and parses back) for the default layout of n channels: "mono",
 * "stereo", ..., "10 channels". */
static void layout_name(char *out, size_t n, int channels)
{
    AVChannelLayout l = {0};
    av_channel_layout_default(&l, channels);
    if (av_channel_layout_describe(&l, out, n) < 0)
        snprintf(out, n, "%dc", channels);
    av_channel_layout_uninit(&l);
}

/* ---- parameters ------------------------------------------------------------------------ */

sdra_audio_params sdra_audio_default_params(void)
{
    sdra_audio_params p = {
        .rate_hz = 16000,
        .max_duration_s = 4 * 3600.0,
        .max_size_bytes = (int64_t)2 << 30,
        .format_hint = NULL,
        .raw_channels = 1,
        .raw_rate_hz = 16000,
    };
    return p;
}

static int check_params(const sdra_audio_params *p, const char *name, sdra_error *err)
{
    if (p->rate_hz < SDRA_AUDIO_MIN_RATE_HZ || p->rate_hz > SDRA_AUDIO_MAX_RATE_HZ)
        return sdra_error_set(err, SDRA_EINVAL, "%s: output rate %d Hz out of range", name,
                              p->rate_hz);
    if (p->max_duration_s < 0 || p->max_size_bytes < 0)
        return sdra_error_set(err, SDRA_EINVAL, "%s: negative limit", name);
    if (p->raw_channels < 0 || p->raw_channels > MAX_SOURCE_CHANNELS || p->raw_rate_hz < 0 ||
        p->raw_rate_hz > SDRA_AUDIO_MAX_RATE_HZ)
        return sdra_error_set(err, SDRA_EINVAL, "%s: raw channels/rate out of range", name);
    return 0;
}

/* ---- resampling ------------------------------------------------------------------------ */

static int setup_swr(sdra_audio *a, const AVFrame *f, sdra_error *err)
{
    int rc;
    swr_free(&a->swr);
    av_channel_layout_uninit(&a->swr_in_layout);
    AVChannelLayout in = {0};
    if (f->ch_layout.nb_channels > 0)
        rc = av_channel_layout_copy(&in, &f->ch_layout);
    else
        rc = AVERROR(EINVAL);
    if (rc < 0)
        return sdra_error_set(err, SDRA_EINVAL, "%s: decoded audio has no channels", a->name);
    if (in.nb_channels > MAX_SOURCE_CHANNELS) {
        av_channel_layout_uninit(&in);
        return sdra_error_set(err, SDRA_EUNSUPPORTED, "%s: %d channels (at most %d supported)",
                              a->name, f->ch_layout.nb_channels, MAX_SOURCE_CHANNELS);
    }
    if (a->out_channels == 0) {
        /* first frame: the output keeps the source's channels as they are */
        a->out_channels = in.nb_channels;
        av_channel_layout_uninit(&a->out_layout);
        av_channel_layout_default(&a->out_layout, in.nb_channels);
    } else if (in.nb_channels != a->out_channels) {
        av_channel_layout_uninit(&in);
        return sdra_error_set(err, SDRA_EUNSUPPORTED,
                              "%s: the number of channels changes mid-stream (%d to %d)", a->name,
                              a->out_channels, f->ch_layout.nb_channels);
    }
    /* Treat the input as the default order for its count so that swr never remixes: the
     * channels come out exactly as they went in, only resampled. */
    AVChannelLayout in_plain = {0};
    av_channel_layout_default(&in_plain, in.nb_channels);
    rc = swr_alloc_set_opts2(&a->swr, &a->out_layout, AV_SAMPLE_FMT_S16, a->p.rate_hz, &in_plain,
                             (enum AVSampleFormat)f->format, f->sample_rate, 0, NULL);
    av_channel_layout_uninit(&in_plain);
    if (rc >= 0)
        rc = swr_init(a->swr);
    if (rc < 0) {
        av_channel_layout_uninit(&in);
        return fail_av(a, err, rc, "cannot set up the resampler");
    }
    a->swr_in_layout = in;
    a->swr_in_rate = f->sample_rate;
    a->swr_in_fmt = f->format;
    return 0;
}

static int ensure_obuf(sdra_audio *a, int64_t frames, sdra_error *err)
{
    if (frames <= (int64_t)a->obuf_cap)
        return 0;
    if (frames > (int64_t)a->p.rate_hz * MAX_FRAME_OUT_S)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: a decoded frame is longer than %d s", a->name,
                              MAX_FRAME_OUT_S);
    size_t cap = a->obuf_cap ? a->obuf_cap : 4096;
    while ((int64_t)cap < frames)
        cap *= 2;
    int16_t *nb = realloc(a->obuf, cap * (size_t)a->out_channels * sizeof *nb);
    if (!nb)
        return sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", a->name);
    a->obuf = nb;
    a->obuf_cap = cap;
    return 0;
}

/* Converts one decoded frame (or drains swr when f is NULL) into obuf, which is empty. */
static int convert(sdra_audio *a, const AVFrame *f, sdra_error *err)
{
    int rc;
    if (f) {
        if (!a->swr || f->sample_rate != a->swr_in_rate || f->format != a->swr_in_fmt ||
            av_channel_layout_compare(&f->ch_layout, &a->swr_in_layout) != 0) {
            if (f->sample_rate <= 0)
                return sdra_error_set(err, SDRA_EINVAL, "%s: decoded audio has no sample rate",
                                      a->name);
            if (f->sample_rate < SDRA_AUDIO_MIN_RATE_HZ || f->sample_rate > SDRA_AUDIO_MAX_RATE_HZ)
                return sdra_error_set(err, SDRA_EUNSUPPORTED,
                                      "%s: sample rate %d Hz is not supported (%d to %d Hz)",
                                      a->name, f->sample_rate, SDRA_AUDIO_MIN_RATE_HZ,
                                      SDRA_AUDIO_MAX_RATE_HZ);
            if ((rc = setup_swr(a, f, err)) < 0)
                return rc;
        }
    } else if (!a->swr) {
        return 0;
    }
    int in_n = f ? f->nb_samples : 0;
    int out_max = swr_get_out_samples(a->swr, in_n);
    if (out_max < 0)
        return fail_av(a, err, out_max, "resampling failed");
    if ((rc = ensure_obuf(a, (int64_t)out_max + 16, err)) < 0)
        return rc;
    uint8_t *outp[1] = {(uint8_t *)a->obuf};
    int got = swr_convert(a->swr, outp, (int)a->obuf_cap,
                          f ? (const uint8_t **)f->extended_data : NULL, in_n);
    if (got < 0)
        return fail_av(a, err, got, "resampling failed");
    a->obuf_len = (size_t)got;
    a->obuf_pos = 0;
    return 0;
}

/* ---- the decode loop ------------------------------------------------------------------- */

/* Records an error to report after the audio already decoded, and ends the stream. */
static void set_pending(sdra_audio *a, int rc, const sdra_error *e)
{
    if (a->pending_rc == 0) {
        a->pending_rc = rc;
        if (e)
            a->pending_err = *e;
        else
            sdra_error_set(&a->pending_err, rc, "%s: %s", a->name, sdra_strerror(rc));
    }
}

/* At the end of the stream: a stream whose last packets were corrupt or did not decode, or
 * that ends well before the length its container declares, was cut short. The good audio
 * before the cut is still delivered; the error comes after it. */
static void check_truncated(sdra_audio *a)
{
    sdra_error e;
    double got_s = (double)(a->delivered + (int64_t)a->obuf_len) / a->p.rate_hz;
    /* all the audio the header declares came out: bad bytes after it are trailing junk */
    bool complete =
        a->duration_exact && a->info.duration_s > 0 && got_s >= a->info.duration_s * 0.99 - 0.1;
    if (a->raw_wav && a->payload_left > 0) {
        sdra_error_set(&e, SDRA_EINVAL, "%s: truncated (%.2f s of audio, the header says %.2f s)",
                       a->name, got_s, a->info.duration_s);
        set_pending(a, SDRA_EINVAL, &e);
    } else if (a->n_decode_errors > 0 && a->packets_since_bad <= 2 && !complete) {
        sdra_error_set(&e, SDRA_EINVAL,
                       "%s: truncated or corrupt at %.2f s (the end does not decode)", a->name,
                       got_s);
        set_pending(a, SDRA_EINVAL, &e);
    } else if (a->duration_exact && a->seekable && a->info.duration_s > 0.5 &&
               got_s < a->info.duration_s * 0.98 - 0.25) {
        sdra_error_set(&e, SDRA_EINVAL, "%s: truncated (%.2f s of audio, the header says %.2f s)",
                       a->name, got_s, a->info.duration_s);
        set_pending(a, SDRA_EINVAL, &e);
    } else if (a->n_decode_errors > 0) {
        sdra_log(SDRA_LOG_WARN, "%s: %d corrupt frames skipped", a->name, a->n_decode_errors);
    }
}

/* Fills obuf with the next block of output (obuf is empty on entry). On return obuf holds
 * frames, or a->done is set. Errors that end the stream early are left pending; only errors
 * that make the reader unusable are returned. */
static int fill(sdra_audio *a, sdra_error *err)
{
    int rc;
    sdra_error e = {0};
    a->obuf_len = a->obuf_pos = 0;
    while (!a->done) {
        if (!a->decoder_eof) {
            rc = avcodec_receive_frame(a->dec, a->frame);
            if (rc == 0) {
                rc = convert(a, a->frame, &e);
                av_frame_unref(a->frame);
                if (rc < 0) {
                    set_pending(a, rc, &e);
                    a->done = true;
                    break;
                }
                if (a->obuf_len > 0)
                    return 0;
                continue;
            }
            if (rc == AVERROR_EOF) {
                a->decoder_eof = true;
                continue;
            }
            if (rc != AVERROR(EAGAIN)) {
                /* a corrupt frame: skip it, as players do */
                a->n_decode_errors++;
                a->packets_since_bad = 0;
                char reason[128];
                av_reason(reason, sizeof reason, rc);
                sdra_log(SDRA_LOG_DEBUG, "%s: skipping a frame that does not decode (%s)", a->name,
                         reason);
                if (a->n_decode_errors > 1000) {
                    fail_av(a, &e, rc, "too many decode errors");
                    set_pending(a, e.code, &e);
                    a->done = true;
                    break;
                }
                continue;
            }
            /* EAGAIN: the decoder wants input */
            if (a->demux_eof) {
                /* the flush packet was sent; EAGAIN here would be a decoder bug */
                a->decoder_eof = true;
                continue;
            }
            rc = av_read_frame(a->fmt, a->pkt);
            if (rc < 0) {
                if (rc != AVERROR_EOF) {
                    /* an I/O error, the size limit, or data the demuxer cannot follow */
                    fail_av(a, &e, rc, "cannot read past this point");
                    set_pending(a, e.code, &e);
                }
                a->demux_eof = true;
                avcodec_send_packet(a->dec, NULL);
                continue;
            }
            if (a->pkt->stream_index == a->stream_index) {
                if (a->pkt->flags & AV_PKT_FLAG_CORRUPT) {
                    a->n_decode_errors++;
                    a->packets_since_bad = 0;
                } else {
                    a->packets_since_bad++;
                }
                rc = avcodec_send_packet(a->dec, a->pkt);
                if (rc < 0 && rc != AVERROR(EAGAIN)) {
                    a->n_decode_errors++;
                    a->packets_since_bad = 0;
                    char reason[128];
                    av_reason(reason, sizeof reason, rc);
                    sdra_log(SDRA_LOG_DEBUG, "%s: skipping a packet that does not decode (%s)",
                             a->name, reason);
                }
            }
            av_packet_unref(a->pkt);
            continue;
        }
        /* decoder drained: drain the resampler's delay line once */
        rc = convert(a, NULL, &e);
        a->done = true;
        if (rc < 0) {
            set_pending(a, rc, &e);
            break;
        }
        check_truncated(a);
        if (a->obuf_len > 0)
            return 0;
    }
    (void)err;
    return 0;
}

/* ---- open / read / close ----------------------------------------------------------------- */

static const char *first_name(const char *names, char *out, size_t n)
{
    size_t i = 0;
    while (names[i] && names[i] != ',' && i + 1 < n) {
        out[i] = names[i];
        i++;
    }
    out[i] = '\0';
    return out;
}

/* Judges the container before its demuxer runs: a reference format (playlist, concat script,
 * manifest), or text that is a list of media, is refused with the playlist message; any other
 * demuxer outside ACCEPTED_FORMATS is "no audio stream in a format we accept". ifmt NULL: the
 * probe found nothing, and only the playlist test applies. probed: the bytes the probe read
 * are waiting in a->avio (FFmpeg rewinds to them), so the start of the input can be read. */
static int check_format(sdra_audio *a, const AVInputFormat *ifmt, bool probed, sdra_error *err)
{
    if (ifmt && av_match_list(ifmt->name, ACCEPTED_FORMATS, ',') > 0)
        return 0;
    bool playlist = ifmt && av_match_list(ifmt->name, REFERENCE_FORMATS, ',') > 0;
    if (!playlist && probed) {
        unsigned char head[SDRA_AUDIO_SNIFF_BYTES];
        int n = avio_read(a->avio, head, (int)sizeof head);
        playlist = n > 0 && audio_sniff_is_playlist(head, (size_t)n);
    }
    if (playlist)
        return sdra_error_set(err, SDRA_EUNSUPPORTED, "%s: " AUDIO_PLAYLIST_REFUSED, a->name);
    if (!ifmt)
        return 0;
    char fname[32];
    first_name(ifmt->name, fname, sizeof fname);
    if (!probed)
        return sdra_error_set(err, SDRA_EUNSUPPORTED,
                              "%s: input format '%s' is not an accepted audio format", a->name,
                              fname);
    return sdra_error_set(err, SDRA_EINVAL, "%s: no audio stream in a format we accept (%s)",
                          a->name, fname);
}

static int open_input(sdra_audio *a, const char *path, sdra_error *err)
{
    int is_stdin = strcmp(path, "-") == 0;
    a->file_bytes = -1;
    if (is_stdin) {
        a->fd = STDIN_FILENO;
        a->own_fd = false;
    } else {
        a->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (a->fd < 0) {
            int e = errno;
            if (e == ENOENT || e == ENOTDIR)
                return sdra_error_set(err, SDRA_ENOTFOUND, "%s: no such file", a->name);
            return sdra_error_set(err, sdra_code_from_errno(e), "%s: cannot open (%s)", a->name,
                                  strerror(e));
        }
        a->own_fd = true;
        /* encrypted at rest (sdra/seal.h): FFmpeg reads the decrypting stream (or, from a table
         * without a reader, a plaintext descriptor), never a plaintext file */
        unsigned char head[8];
        if (pread(a->fd, head, sizeof head, 0) == (ssize_t)sizeof head && sdra_seal_is_sealed(head, sizeof head)) {
            const sdra_seal_ops *so = sdra_seal_get();
            int plain = -1, rc;
            if (!so || !(so->reader_open || so->open_fd))
                return sdra_error_set(err, SDRA_EDENIED, "%s: encrypted (sdra) file: no key to read it", a->name);
            if (so->reader_open) { /* streamed: bounded memory, seekable by reading again */
                int64_t plain_bytes = 0;
                if ((rc = so->reader_open(so->user_data, a->fd, &a->sealed, &plain_bytes, err)) < 0)
                    return rc;
                a->seal = so;
                a->file_bytes = plain_bytes;
                a->seekable = true;
                if (plain_bytes == 0)
                    return sdra_error_set(err, SDRA_EINVAL, "%s: empty file", a->name);
                if (a->p.max_size_bytes > 0 && plain_bytes > a->p.max_size_bytes)
                    return sdra_error_set(err, SDRA_ELIMIT, "%s: %lld bytes, larger than the limit of %lld bytes",
                                          a->name, (long long)plain_bytes, (long long)a->p.max_size_bytes);
                return 0;
            }
            if ((rc = so->open_fd(so->user_data, a->fd, &plain, err)) < 0)
                return rc;
            close(a->fd);
            a->fd = plain;
        }
    }
    struct stat st;
    if (fstat(a->fd, &st) != 0)
        return sdra_error_set(err, SDRA_EIO, "%s: cannot stat (%s)", a->name, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return sdra_error_set(err, SDRA_EINVAL, "%s: is a directory, not an audio file", a->name);
    if (S_ISREG(st.st_mode)) {
        a->file_bytes = (int64_t)st.st_size;
        a->seekable = !is_stdin || lseek(a->fd, 0, SEEK_CUR) == 0;
        if (st.st_size == 0)
            return sdra_error_set(err, SDRA_EINVAL, "%s: empty file", a->name);
        if (a->p.max_size_bytes > 0 && st.st_size > a->p.max_size_bytes)
            return sdra_error_set(err, SDRA_ELIMIT,
                                  "%s: %lld bytes, larger than the limit of %lld bytes", a->name,
                                  (long long)st.st_size, (long long)a->p.max_size_bytes);
    } else {
        a->seekable = false;
    }
    return 0;
}

int sdra_audio_open(sdra_audio **out, const char *path, const sdra_audio_params *params,
                    sdra_error *err)
{
    int rc = 0, avrc;
    sdra_audio *a = NULL;
    AVDictionary *opts = NULL;
    unsigned char *iobuf = NULL;

    pthread_once(&sdra_av_log_once, av_log_init);
    *out = NULL;
    if (!path || !*path)
        return sdra_error_set(err, SDRA_EINVAL, "audio: no input path given");
    a = calloc(1, sizeof *a);
    if (!a)
        return sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", path);
    a->fd = -1;
    a->payload_left = -1;
    a->stream_index = -1;
    a->p = params ? *params : sdra_audio_default_params();
    if (a->p.raw_channels == 0)
        a->p.raw_channels = 1;
    if (a->p.raw_rate_hz == 0)
        a->p.raw_rate_hz = 16000;
    if (a->p.rate_hz == 0)
        a->p.rate_hz = 16000;
    if (strcmp(path, "-") == 0)
        sdra_strlcpy(a->name, "stdin", sizeof a->name);
    else
        sdra_strlcpy(a->name, path, sizeof a->name);
    if ((rc = check_params(&a->p, a->name, err)) < 0)
        goto done;
    if ((rc = open_input(a, path, err)) < 0)
        goto done;
    if (a->p.max_duration_s > 0)
        a->limit_frames = (int64_t)(a->p.max_duration_s * a->p.rate_hz + 0.5);

    /* PCM WAV goes through our own header reader (see sniff_wav_stream). */
    wav_stream ws = {0};
    bool raw_wav = false;
    if (!(a->p.format_hint && *a->p.format_hint)) {
        raw_wav = sniff_wav_stream(a, &ws);
        if (!raw_wav && a->seekable) {
            /* a file: FFmpeg starts again from the first byte instead of a replay */
            if (src_seek(a, 0, SEEK_SET) != 0) {
                rc =
                    sdra_error_set(err, SDRA_EIO, "%s: cannot seek (%s)", a->name, strerror(errno));
                goto done;
            }
            a->pre_len = a->pre_pos = 0;
            a->bytes_read = 0;
        }
    }
    a->raw_wav = raw_wav;
    /* raw PCM never needs to seek; everything else may, when the input allows it */
    bool avio_seekable = a->seekable && !raw_wav;

    iobuf = av_malloc(IO_BUF_BYTES);
    if (!iobuf) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", a->name);
        goto done;
    }
    a->avio = avio_alloc_context(iobuf, IO_BUF_BYTES, 0, a, io_read, NULL,
                                 avio_seekable ? io_seek : NULL);
    if (!a->avio) {
        av_free(iobuf);
        rc = sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", a->name);
        goto done;
    }
    a->avio->seekable = avio_seekable ? AVIO_SEEKABLE_NORMAL : 0;
    a->fmt = avformat_alloc_context();
    if (!a->fmt) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", a->name);
        goto done;
    }
    a->fmt->pb = a->avio;
    a->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    a->fmt->io_open = io_open_refused;
    av_dict_set(&opts, "format_whitelist", ACCEPTED_FORMATS, 0);
    av_dict_set(&opts, "protocol_whitelist", "none", 0);

    const AVInputFormat *ifmt = NULL;
    if (raw_wav) {
        ifmt = av_find_input_format(ws.raw_format);
        if (!ifmt) {
            rc = sdra_error_set(err, SDRA_EUNSUPPORTED, "%s: no demuxer for %s", a->name,
                                ws.raw_format);
            goto done;
        }
        char v[32];
        snprintf(v, sizeof v, "%d", ws.rate_hz);
        av_dict_set(&opts, "sample_rate", v, 0);
        layout_name(v, sizeof v, ws.channels);
        av_dict_set(&opts, "ch_layout", v, 0);
        a->payload_left = ws.data_bytes;
    } else if (a->p.format_hint && *a->p.format_hint) {
        ifmt = av_find_input_format(a->p.format_hint);
        if (!ifmt) {
            rc = sdra_error_set(err, SDRA_EUNSUPPORTED, "%s: unknown input format '%s'", a->name,
                                a->p.format_hint);
            goto done;
        }
        if (ifmt->flags & AVFMT_NOFILE) {
            rc =
                sdra_error_set(err, SDRA_EUNSUPPORTED, "%s: input format '%s' is not a file format",
                               a->name, a->p.format_hint);
            goto done;
        }
        if ((rc = check_format(a, ifmt, false, err)) < 0)
            goto done;
        if (ifmt->priv_class && av_opt_find((void *)&ifmt->priv_class, "sample_rate", NULL, 0,
                                            AV_OPT_SEARCH_FAKE_OBJ)) {
            char v[32];
            snprintf(v, sizeof v, "%d", a->p.raw_rate_hz);
            av_dict_set(&opts, "sample_rate", v, 0);
            layout_name(v, sizeof v, a->p.raw_channels);
            av_dict_set(&opts, "ch_layout", v, 0);
        }
    }
    /* The file name is passed only as a hint for probing by extension. The container is
     * probed here, not in avformat_open_input, so that it is judged before its demuxer runs. */
    const char *probe_name = strcmp(path, "-") == 0 ? "" : path;
    int score = -1; /* the probe's, when we probed */
    if (!ifmt) {
        score = av_probe_input_buffer2(a->avio, &ifmt, probe_name, a->fmt, 0, 0);
        if (score < 0 || !ifmt) {
            if (a->bytes_read == 0 && !a->seekable && !a->io_errno)
                rc = sdra_error_set(err, SDRA_EINVAL, "%s: empty input (no data)", a->name);
            else if ((rc = check_format(a, NULL, true, err)) == 0)
                rc = fail_av(a, err, score < 0 ? score : AVERROR_INVALIDDATA, "not an audio file");
            goto done;
        }
        if ((rc = check_format(a, ifmt, true, err)) < 0)
            goto done;
    }
    avrc = avformat_open_input(&a->fmt, probe_name, ifmt, &opts);
    if (avrc < 0) {
        /* avformat_open_input frees the context on failure (not our AVIOContext) */
        a->fmt = NULL;
        if (a->bytes_read == 0 && !a->seekable && !a->io_errno)
            rc = sdra_error_set(err, SDRA_EINVAL, "%s: empty input (no data)", a->name);
        else
            rc = fail_av(a, err, avrc, "not an audio file");
        goto done;
    }
    if (score >= 0)
        a->fmt->probe_score = score; /* as avformat_open_input's own probe would have set it */
    if (!avio_seekable) {
        /* A live stream: the format is known now; look at a little of it, not FFmpeg's
         * default 5 MB / 5 s, so that the first audio comes out while the call goes on. */
        a->fmt->probesize = STREAM_PROBE_BYTES;
        a->fmt->max_analyze_duration = STREAM_ANALYZE_US;
    }
    avrc = avformat_find_stream_info(a->fmt, NULL);
    if (avrc < 0) {
        rc = fail_av(a, err, avrc, "cannot read the stream layout");
        goto done;
    }
    const AVCodec *codec = NULL;
    avrc = av_find_best_stream(a->fmt, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    if (avrc == AVERROR_STREAM_NOT_FOUND) {
        char kinds[96] = "";
        for (unsigned i = 0; i < a->fmt->nb_streams && strlen(kinds) < 64; i++) {
            const char *k = av_get_media_type_string(a->fmt->streams[i]->codecpar->codec_type);
            if (k && !strstr(kinds, k)) {
                if (kinds[0])
                    strcat(kinds, ", ");
                strcat(kinds, k);
            }
        }
        if (kinds[0])
            rc = sdra_error_set(err, SDRA_EINVAL, "%s: no audio stream (only %s)", a->name, kinds);
        else
            rc = sdra_error_set(err, SDRA_EINVAL, "%s: no audio stream", a->name);
        goto done;
    }
    if (avrc == AVERROR_DECODER_NOT_FOUND || (avrc >= 0 && !codec)) {
        /* find the audio stream to name its codec */
        char cname[64] = "unknown";
        for (unsigned i = 0; i < a->fmt->nb_streams; i++) {
            AVCodecParameters *cp = a->fmt->streams[i]->codecpar;
            if (cp->codec_type == AVMEDIA_TYPE_AUDIO) {
                if (cp->codec_id != AV_CODEC_ID_NONE)
                    sdra_strlcpy(cname, avcodec_get_name(cp->codec_id), sizeof cname);
                else if (cp->codec_tag)
                    snprintf(cname, sizeof cname, "unknown, format tag 0x%04x",
                             (unsigned)cp->codec_tag);
                break;
            }
        }
        rc = sdra_error_set(err, SDRA_EUNSUPPORTED, "%s: unsupported audio codec (%s: no decoder)",
                            a->name, cname);
        goto done;
    }
    if (avrc < 0) {
        rc = fail_av(a, err, avrc, "cannot find the audio stream");
        goto done;
    }
    a->stream_index = avrc;
    for (unsigned i = 0; i < a->fmt->nb_streams; i++)
        if ((int)i != a->stream_index)
            a->fmt->streams[i]->discard = AVDISCARD_ALL;
    AVStream *st = a->fmt->streams[a->stream_index];

    a->dec = avcodec_alloc_context3(codec);
    a->pkt = av_packet_alloc();
    a->frame = av_frame_alloc();
    if (!a->dec || !a->pkt || !a->frame) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", a->name);
        goto done;
    }
    avrc = avcodec_parameters_to_context(a->dec, st->codecpar);
    if (avrc >= 0) {
        a->dec->pkt_timebase = st->time_base;
        avrc = avcodec_open2(a->dec, codec, NULL);
    }
    if (avrc < 0) {
        rc = fail_av(a, err, avrc, "cannot open the audio decoder");
        if (rc == SDRA_EINVAL)
            rc = err ? (err->code = SDRA_EUNSUPPORTED) : SDRA_EUNSUPPORTED;
        goto done;
    }

    /* what we know before decoding */
    a->info.n_channels = st->codecpar->ch_layout.nb_channels;
    a->info.source_rate_hz = st->codecpar->sample_rate;
    if (a->fmt->duration != AV_NOPTS_VALUE && a->fmt->duration > 0)
        a->info.duration_s = (double)a->fmt->duration / AV_TIME_BASE;
    else if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
        a->info.duration_s = (double)st->duration * av_q2d(st->time_base);
    a->duration_exact =
        av_fmt_ctx_get_duration_estimation_method(a->fmt) != AVFMT_DURATION_FROM_BITRATE;
    /* MP4 decoders deliver the last codec frame whole (AAC: 1024 samples), past the end the
     * edit list declares; the container's length is exact there, so cut at it. */
    if (strstr(a->fmt->iformat->name, "mp4") && st->duration != AV_NOPTS_VALUE && st->duration > 0)
        a->end_frames = (int64_t)(st->duration * av_q2d(st->time_base) * a->p.rate_hz + 0.5);
    sdra_strlcpy(a->info.codec, avcodec_get_name(st->codecpar->codec_id), sizeof a->info.codec);
    first_name(a->fmt->iformat->name, a->info.container, sizeof a->info.container);
    if (raw_wav) {
        sdra_strlcpy(a->info.container, "wav", sizeof a->info.container);
        double bytes_per_s = (double)ws.rate_hz * st->codecpar->block_align;
        a->info.duration_s = 0;
        a->duration_exact = false;
        if (ws.data_bytes > 0 && bytes_per_s > 0) {
            a->info.duration_s = (double)ws.data_bytes / bytes_per_s;
            a->duration_exact = true;
        } else if (a->file_bytes > ws.header_bytes && bytes_per_s > 0) {
            /* a streaming writer's header saved to a file: the file size tells */
            a->info.duration_s = (double)(a->file_bytes - ws.header_bytes) / bytes_per_s;
        }
    }
    if (a->p.max_duration_s > 0 && a->info.duration_s > a->p.max_duration_s) {
        rc = sdra_error_set(err, SDRA_ELIMIT, "%s: %.1f s long, over the limit of %.1f s", a->name,
                            a->info.duration_s, a->p.max_duration_s);
        goto done;
    }

    /* Decode the first block now, so that a file with no decodable audio fails at open and the
     * channel count and rate in info are the decoder's, not the container's guess. */
    if ((rc = fill(a, err)) < 0)
        goto done;
    if (a->obuf_len == 0) {
        if (a->pending_rc < 0) {
            rc = a->pending_rc;
            if (err)
                *err = a->pending_err;
        } else {
            rc = sdra_error_set(err, SDRA_EINVAL, "%s: no audio (zero-length stream)", a->name);
        }
        goto done;
    }
    if (a->out_channels > 0)
        a->info.n_channels = a->out_channels;
    if (a->swr_in_rate > 0)
        a->info.source_rate_hz = a->swr_in_rate;
    if (a->info.n_channels > SDRA_AUDIO_MAX_CHANNELS)
        a->info.n_channels = SDRA_AUDIO_MAX_CHANNELS;
    sdra_log(SDRA_LOG_DEBUG, "%s: %s in %s, %d ch, %d Hz, %.2f s", a->name, a->info.codec,
             a->info.container, a->info.n_channels, a->info.source_rate_hz, a->info.duration_s);

done:
    av_dict_free(&opts);
    if (rc < 0) {
        sdra_audio_close(a);
        return rc;
    }
    *out = a;
    return 0;
}

const sdra_audio_info *sdra_audio_get_info(const sdra_audio *a)
{
    return &a->info;
}

int64_t sdra_audio_position(const sdra_audio *a)
{
    return a ? a->delivered : 0;
}

int sdra_audio_read(sdra_audio *a, int16_t *const *chans, int16_t *mix, size_t max_frames,
                    size_t *n_frames, sdra_error *err)
{
    int rc;
    size_t got = 0;
    *n_frames = 0;
    if (max_frames == 0)
        return 0;
    const int nch = a->info.n_channels;
    const int stride = a->out_channels;

    while (got < max_frames) {
        if (a->obuf_pos >= a->obuf_len) {
            if (a->done)
                break;
            if ((rc = fill(a, err)) < 0)
                return rc;
            if (a->obuf_len == 0)
                break;
        }
        size_t n = a->obuf_len - a->obuf_pos;
        if (n > max_frames - got)
            n = max_frames - got;
        if (a->end_frames > 0 && a->delivered + (int64_t)n >= a->end_frames) {
            n = a->delivered < a->end_frames ? (size_t)(a->end_frames - a->delivered) : 0;
            if (n == 0) {
                a->done = true;
                a->obuf_len = a->obuf_pos = 0;
                break;
            }
        }
        if (a->limit_frames > 0 && a->delivered + (int64_t)n > a->limit_frames) {
            n = (size_t)(a->limit_frames - a->delivered);
            if (n == 0) {
                sdra_error e;
                sdra_error_set(&e, SDRA_ELIMIT, "%s: longer than the limit of %.1f s", a->name,
                               a->p.max_duration_s);
                set_pending(a, SDRA_ELIMIT, &e);
                a->done = true;
                a->obuf_len = a->obuf_pos = 0;
                break;
            }
        }
        const int16_t *src = a->obuf + a->obuf_pos * (size_t)stride;
        if (chans)
            for (int c = 0; c < nch; c++) {
                int16_t *dst = chans[c];
                if (!dst)
                    continue;
                dst += got;
                for (size_t i = 0; i < n; i++)
                    dst[i] = src[i * (size_t)stride + (size_t)c];
            }
        if (mix) {
            int16_t *dst = mix + got;
            if (nch == 1) {
                for (size_t i = 0; i < n; i++)
                    dst[i] = src[i * (size_t)stride];
            } else {
                for (size_t i = 0; i < n; i++) {
                    int32_t s = 0;
                    for (int c = 0; c < nch; c++)
                        s += src[i * (size_t)stride + (size_t)c];
                    /* round to nearest, halves away from zero */
                    s = s >= 0 ? (s + nch / 2) / nch : -((-s + nch / 2) / nch);
                    dst[i] = (int16_t)s;
                }
            }
        }
        a->obuf_pos += n;
        a->delivered += (int64_t)n;
        got += n;
    }
    *n_frames = got;
    if (got > 0)
        return 0;
    if (a->pending_rc < 0) {
        if (err)
            *err = a->pending_err;
        return a->pending_rc;
    }
    if (a->delivered == 0)
        return sdra_error_set(err, SDRA_EINVAL, "%s: no audio (zero-length stream)", a->name);
    return 0;
}

void sdra_audio_close(sdra_audio *a)
{
    if (!a)
        return;
    swr_free(&a->swr);
    av_channel_layout_uninit(&a->swr_in_layout);
    av_channel_layout_uninit(&a->out_layout);
    av_frame_free(&a->frame);
    av_packet_free(&a->pkt);
    avcodec_free_context(&a->dec);
    avformat_close_input(&a->fmt);
    if (a->avio) {
        av_freep(&a->avio->buffer);
        avio_context_free(&a->avio);
    }
    if (a->sealed)
        a->seal->reader_close(a->sealed);
    if (a->own_fd && a->fd >= 0)
        close(a->fd);
    free(a->obuf);
    free(a->pre);
    free(a);
}

/* ---- whole-file convenience ------------------------------------------------------------ */

int sdra_audio_load(const char *path, const sdra_audio_params *params, int16_t ***chans,
                    int16_t **mix, size_t *n_frames, int *n_channels, sdra_error *err)
{
    int rc = 0;
    sdra_audio *a = NULL;
    int16_t **ch = NULL, *mx = NULL;
    size_t len = 0, cap = 0;
    int nch = 0;
    const size_t block = 16384;

    *chans = NULL;
    *mix = NULL;
    *n_frames = 0;
    *n_channels = 0;
    if ((rc = sdra_audio_open(&a, path, params, err)) < 0)
        return rc;
    nch = sdra_audio_get_info(a)->n_channels;
    ch = calloc((size_t)nch, sizeof *ch);
    if (!ch) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (;;) {
        if (len + block > cap) {
            size_t ncap = cap ? cap * 2 : block * 8;
            for (int c = 0; c < nch; c++) {
                int16_t *p = realloc(ch[c], ncap * sizeof *p);
                if (!p) {
                    rc = sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", path);
                    goto done;
                }
                ch[c] = p;
            }
            int16_t *p = realloc(mx, ncap * sizeof *p);
            if (!p) {
                rc = sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", path);
                goto done;
            }
            mx = p;
            cap = ncap;
        }
        int16_t *dst[SDRA_AUDIO_MAX_CHANNELS];
        for (int c = 0; c < nch; c++)
            dst[c] = ch[c] + len;
        size_t n = 0;
        if ((rc = sdra_audio_read(a, dst, mx + len, block, &n, err)) < 0)
            goto done;
        if (n == 0)
            break;
        len += n;
    }
done:
    sdra_audio_close(a);
    if (rc < 0) {
        if (ch)
            for (int c = 0; c < nch; c++)
                free(ch[c]);
        free(ch);
        free(mx);
        return rc;
    }
    *chans = ch;
    *mix = mx;
    *n_frames = len;
    *n_channels = nch;
    return 0;
}

double sdra_audio_rms_db(const int16_t *pcm, size_t n)
{
    if (!pcm || n == 0)
        return -100.0;
    double acc = 0;
    for (size_t i = 0; i < n; i++)
        acc += (double)pcm[i] * pcm[i];
    double ms = acc / (double)n;
    if (ms <= 0)
        return -100.0;
    double db = 10.0 * log10(ms / (32768.0 * 32768.0));
    return db < -100.0 ? -100.0 : db;
}
