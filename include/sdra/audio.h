/*
 * sdra/audio.h - audio ingest: the audio containers of docs/audio.md in any codec FFmpeg
 * decodes (never playlists or other references to media elsewhere), streamed, resampled to
 * 16-bit PCM at a fixed rate, with the source channels kept apart and a mono mix beside them.
 *
 * Memory stays bounded whatever the length: the reader decodes on demand, one block at a time.
 * Limits on duration and input size are enforced while reading (SDRA_ELIMIT).
 *
 *     sdra_audio_params p = sdra_audio_default_params();
 *     sdra_audio *a = NULL;
 *     if (sdra_audio_open(&a, "call.mp3", &p, &err) < 0) ...
 *     const sdra_audio_info *info = sdra_audio_get_info(a);
 *     int16_t *ch[SDRA_AUDIO_MAX_CHANNELS], mix[4096];   // ch[i] point at caller buffers
 *     size_t n;
 *     while (sdra_audio_read(a, ch, mix, 4096, &n, &err) == 0 && n > 0) ...
 *     sdra_audio_close(a);
 *
 * Voice activity and chunking (split long audio at silences) are in the same module: see
 * sdra_chunker below.
 *
 * Threads: a reader or chunker is used by one thread at a time; different ones may run in
 * different threads at once. Formats, limits and messages: docs/audio.md.
 */
#ifndef SDRA_AUDIO_H
#define SDRA_AUDIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "sdra/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SDRA_AUDIO_MAX_CHANNELS 8
/* Sample rates accepted, of a source and of any output or chunker rate: a header may claim
 * any rate, and setting up the resampler for an absurd one (1.5 GHz) takes seconds and
 * gigabytes. */
#define SDRA_AUDIO_MIN_RATE_HZ 1000
#define SDRA_AUDIO_MAX_RATE_HZ 384000

typedef struct sdra_audio_params {
    int rate_hz;             /* output sample rate; default 16000 */
    double max_duration_s;   /* fail with SDRA_ELIMIT beyond this; default 4 h; 0 = no limit */
    int64_t max_size_bytes;  /* fail with SDRA_ELIMIT for larger inputs; default 2 GiB; 0 = none */
    const char *format_hint; /* FFmpeg input format name for streams ("wav", "s16le"); or NULL */
    int raw_channels;        /* for raw s16le input on stdin: channels (default 1) */
    int raw_rate_hz;         /* for raw s16le input on stdin: rate (default 16000) */
} sdra_audio_params;

sdra_audio_params sdra_audio_default_params(void);

typedef struct sdra_audio_info {
    int n_channels;          /* channels delivered (source channels, capped at MAX_CHANNELS) */
    int source_rate_hz;
    double duration_s;       /* container's estimate; 0 when unknown (streams) */
    char codec[32];          /* "pcm_s16le", "mp3", "opus", ... */
    char container[32];      /* "wav", "mp3", "ogg", ... */
} sdra_audio_info;

typedef struct sdra_audio sdra_audio;

/* Opens path ("-" = stdin) and finds its audio stream. Fails with SDRA_ENOTFOUND (no such
 * file), SDRA_EINVAL (empty, not audio, no audio stream, truncated header, a container outside
 * the accepted list in docs/audio.md), SDRA_EUNSUPPORTED (no decoder for the codec; a playlist,
 * concat script or manifest, which is never followed) or SDRA_ELIMIT; the message names the
 * file and the reason. Only the input itself is read: the demuxer may open nothing else (no
 * URL, no other file), whatever the input says. */
int sdra_audio_open(sdra_audio **out, const char *path, const sdra_audio_params *params,
                    sdra_error *err);

const sdra_audio_info *sdra_audio_get_info(const sdra_audio *a);

/* Reads up to max_frames frames. For each delivered channel c < info.n_channels, if chans is
 * not NULL and chans[c] is not NULL, writes that channel's samples to chans[c]; if mix is not
 * NULL writes the mono mix (mean of channels) to it. *n_frames = 0 at end of stream.
 * A decode error mid-stream (truncated file) returns SDRA_EINVAL after the good audio was
 * delivered; zero frames in the whole stream is SDRA_EINVAL ("no audio").
 * Details: channels are never remixed (a source with more than SDRA_AUDIO_MAX_CHANNELS
 * delivers its first ones; the mix is the rounded mean of the delivered channels). A file is
 * "truncated" when its last packets do not decode or it ends well before the length its
 * header declares; isolated corrupt frames in the middle are skipped (logged at warn). Once an
 * error (or SDRA_ELIMIT past max_duration_s, after exactly max_duration_s of audio) has been
 * returned, every later call returns it again. */
int sdra_audio_read(sdra_audio *a, int16_t *const *chans, int16_t *mix, size_t max_frames,
                    size_t *n_frames, sdra_error *err);

/* Frames delivered so far (position in output samples). */
int64_t sdra_audio_position(const sdra_audio *a);

void sdra_audio_close(sdra_audio *a); /* NULL is fine */

/* The 44-byte header of a 16-bit PCM WAV file (little-endian, the canonical RIFF layout) with
 * data_bytes of samples after it. Used wherever sdra writes WAV: chunks sent to a Whisper
 * server (src/asr/remote.c) and redacted copies of recordings (src/privacy/audio.c). */
#define SDRA_AUDIO_WAV_HEADER_BYTES 44
void sdra_audio_wav_header(unsigned char h[SDRA_AUDIO_WAV_HEADER_BYTES], int channels, int rate_hz,
                           uint32_t data_bytes);

/* Bytes of a file's start that sdra_audio_sniff looks at (pass this many when there are). */
#define SDRA_AUDIO_SNIFF_BYTES 4096

/* Names the container of a recording from its first n bytes (magic bytes only; the name or
 * type a client gave is never consulted): *ext is set to a canonical extension ("wav", "flac",
 * "mp3", "ogg", "m4a", "mov", "webm", "mkv", "aac", "aiff", "caf", "amr", "wma", "au", "w64",
 * "wv", "ape", "tta", "mpc") or to NULL when the bytes are none of those, and 0 is returned; the
 * decoder is then the judge. A playlist, concat script or streaming manifest (M3U/HLS, PLS,
 * ffconcat, SDP, DASH, ...) fails with SDRA_EUNSUPPORTED and the message "playlists are not
 * accepted; upload the audio itself". A file that begins with sdra's encryption magic (sdra/seal.h)
 * fails the same way ("an sdra-encrypted file is not a recording; upload the audio itself"):
 * every reader would take it for a file encrypted at rest. Reads at most
 * min(n, SDRA_AUDIO_SNIFF_BYTES) bytes. */
int sdra_audio_sniff(const void *head, size_t n, const char **ext, sdra_error *err);

/* Convenience for tests and small files: decodes everything into heap arrays (free() each of
 * (*chans)[c] and *chans and *mix). Honors params' limits. */
int sdra_audio_load(const char *path, const sdra_audio_params *params, int16_t ***chans,
                    int16_t **mix, size_t *n_frames, int *n_channels, sdra_error *err);

/* ---- spectra ------------------------------------------------------------------------------ */

/* A 512-point radix-2 FFT, in place on re[] and im[] (SDRA_FFT_N each); the tables come from
 * sdra_fft_init. Used by the band meter below and the diarizer's MFCC front end. */
#define SDRA_FFT_N 512
typedef struct sdra_fft {
    float cos_tab[SDRA_FFT_N / 2], sin_tab[SDRA_FFT_N / 2];
} sdra_fft;
void sdra_fft_init(sdra_fft *f);
void sdra_fft_run(const sdra_fft *f, float *re, float *im);

/* The band meter: how much of a recording's speech lies above the telephone band. Telephone
 * audio (8 kHz, often mu-law) stored or resampled at 16 kHz or more has a normal sample rate
 * and nothing above 4 kHz; the wideband acoustic model reads it as badly as the 8 kHz file.
 * Fed PCM at rate_hz (at least 16 kHz), the meter returns the power of 4.3-7.6 kHz relative
 * to that of 0.3-3.4 kHz, in dB, over the louder half of the first 60 s of 32 ms frames
 * (speech rather than the pauses). Wideband speech measures about -15 to -45 dB, telephone
 * audio at a wideband rate below -60 dB (docs/asr.md). NAN with under 1 s of audio or none
 * above silence. sdra_band_meter_full says 60 s have been measured (more is not read). */
typedef struct sdra_band_meter sdra_band_meter;
int sdra_band_meter_create(sdra_band_meter **out, int rate_hz, sdra_error *err);
void sdra_band_meter_feed(sdra_band_meter *m, const int16_t *x, size_t n);
bool sdra_band_meter_full(const sdra_band_meter *m);
double sdra_band_meter_db(const sdra_band_meter *m);
void sdra_band_meter_destroy(sdra_band_meter *m); /* NULL is fine */

/* ---- voice activity and chunking ------------------------------------------------------- */

typedef struct sdra_chunker_params {
    int rate_hz;           /* default 16000 */
    double min_chunk_s;    /* never cut before this much audio; default 10 */
    double target_chunk_s; /* look for a silence to cut at from here; default 20 */
    double max_chunk_s;    /* force a cut at the quietest point before this; default 30 */
    double min_silence_s;  /* a silence this long is a cut candidate; default 0.3 */
} sdra_chunker_params;

sdra_chunker_params sdra_chunker_default_params(void);

/* A chunk of one stream: samples [start_frame, start_frame + n_frames) of that stream. */
typedef struct sdra_chunk {
    int64_t start_frame;
    int16_t *pcm;   /* owned by the chunk; free with sdra_chunk_release */
    size_t n_frames;
    int index;      /* 0, 1, 2, ... in stream order */
} sdra_chunk;

void sdra_chunk_release(sdra_chunk *c);

typedef struct sdra_chunker sdra_chunker;

int sdra_chunker_create(sdra_chunker **out, const sdra_chunker_params *p, sdra_error *err);
void sdra_chunker_destroy(sdra_chunker *c);

/* Feeds samples. Whenever a chunk is complete, *ready is set to true and *out filled (the
 * caller owns it); call again with n = 0 to drain further ready chunks before feeding more.
 * Internal buffering is bounded by max_chunk_s (plus the chunks completed by one call, so feed
 * long audio in blocks). Chunks are contiguous and together are the input, sample for sample;
 * every chunk but the last is between min_chunk_s and max_chunk_s long. */
int sdra_chunker_feed(sdra_chunker *c, const int16_t *pcm, size_t n, sdra_chunk *out, bool *ready,
                      sdra_error *err);

/* Flushes the final partial chunk (if any samples remain): *ready says whether out was set.
 * Call it until *ready is false (it first hands out any chunk still waiting). Feeding may go
 * on after it: the next chunk starts where this one ended, so it also cuts a stream at a
 * chosen point (a chunk then may be shorter than min_chunk_s). */
int sdra_chunker_finish(sdra_chunker *c, sdra_chunk *out, bool *ready, sdra_error *err);

/* Frame energy helper shared by VAD, chunking and diarization: RMS in dBFS of n samples
 * (-100 for silence). */
double sdra_audio_rms_db(const int16_t *pcm, size_t n);

#ifdef __cplusplus
}
#endif
#endif
