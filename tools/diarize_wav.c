/*
 * diarize_wav.c - a measuring driver: runs the diarizer on an audio file and prints the turns
 * as RTTM, so that `sdra eval diarization` can score them. Built and used by
 * scripts/measure-diarization.sh (it needs libsdra_diarize, libsdra_audio, libsdra_core and
 * FFmpeg's libraries).
 *
 *     diarize_wav [--cluster|--channel] [--speakers N] [--bleed-db DB] [--decode]
 *                 [--dither SEED] FILE [NAME]
 *
 * The cluster method gets the mean of the file's channels; the channel method gets each.
 * Without --decode the file must be a 16-bit PCM WAV (1..8 channels), diarized at its own
 * rate. With --decode it is read as `sdra transcribe` reads it (sdra_audio: any format,
 * resampled to 16 kHz, at most two channels), so the diarizer sees what it sees in the product:
 * the two differ (an 8 kHz file resampled to 16 kHz is not the same input; docs/diarization.md,
 * "What the count rests on"). --dither SEED adds -1, 0 or +1 to each sample (a seeded
 * generator), one least significant bit of noise, to show how stable the result is.
 */
#include "sdra/audio.h"
#include "sdra/diarize.h"
#include "sdra/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WAV_BYTES (1u << 30)

static uint32_t le32(const unsigned char *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static int read_wav(const char *path, sdra_diarize_params *pp, int16_t *ch[8], size_t *n_out,
                    int *use_out);
static int run(const sdra_diarize_params *pp, const char *path, const char *name, int16_t *ch[8],
               size_t n, int use_ch);

/* The file as sdra transcribe reads it: 16 kHz, the first two channels (or the mix). */
static int load_decoded(const char *path, int use_mix, int16_t *ch[8], size_t *n, int *nch)
{
    sdra_audio_params ap = sdra_audio_default_params();
    int16_t **chans = NULL, *mix = NULL;
    sdra_error err = {0};
    if (sdra_audio_load(path, &ap, &chans, &mix, n, nch, &err) < 0) {
        fprintf(stderr, "diarize_wav: %s\n", err.msg);
        return -1;
    }
    if (use_mix) {
        ch[0] = mix;
        for (int c = 0; c < *nch; c++)
            free(chans[c]);
    } else {
        for (int c = 0; c < *nch; c++)
            ch[c] = chans[c];
        free(mix);
    }
    free(chans);
    return 0;
}

int main(int argc, char **argv)
{
    sdra_log_set_handler(sdra_log_stderr_text, NULL,
                         getenv("DIARIZE_DEBUG") ? SDRA_LOG_DEBUG : SDRA_LOG_WARN);
    sdra_diarize_params p = sdra_diarize_default_params();
    p.method = SDRA_DIARIZE_CLUSTER;
    const char *path = NULL, *name = "file";
    int decode = 0;
    long dither = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cluster"))
            p.method = SDRA_DIARIZE_CLUSTER;
        else if (!strcmp(argv[i], "--channel"))
            p.method = SDRA_DIARIZE_CHANNEL;
        else if (!strcmp(argv[i], "--speakers") && i + 1 < argc)
            p.n_speakers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--bleed-db") && i + 1 < argc)
            p.bleed_db = atof(argv[++i]);
        else if (!strcmp(argv[i], "--decode"))
            decode = 1;
        else if (!strcmp(argv[i], "--dither") && i + 1 < argc)
            dither = atol(argv[++i]);
        else if (!path)
            path = argv[i];
        else
            name = argv[i];
    }
    if (!path) {
        fprintf(stderr, "usage: diarize_wav [--cluster|--channel] [--speakers N] [--bleed-db DB] "
                        "[--decode] [--dither SEED] FILE [NAME]\n");
        return 2;
    }
    int16_t *ch[8] = {0};
    int use_ch = 1;
    size_t n = 0;
    if (decode) {
        int nch = 0;
        if (load_decoded(path, p.method == SDRA_DIARIZE_CLUSTER, ch, &n, &nch) < 0)
            return 1;
        use_ch = p.method == SDRA_DIARIZE_CLUSTER ? 1 : nch;
        p.rate_hz = 16000;
    } else if (read_wav(path, &p, ch, &n, &use_ch) < 0) {
        return 1;
    }
    if (dither >= 0) {
        uint32_t st = (uint32_t)dither * 2654435761u + 1;
        for (int c = 0; c < use_ch; c++)
            for (size_t i = 0; i < n; i++) {
                st = st * 1103515245u + 12345u;
                int v = ch[c][i] + (int)((st >> 16) % 3) - 1;
                ch[c][i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
            }
    }
    return run(&p, path, name, ch, n, use_ch);
}

/* A 16-bit PCM WAV at its own rate: the mean of its channels (cluster) or each (channel). */
static int read_wav(const char *path, sdra_diarize_params *pp, int16_t *ch[8], size_t *n_out,
                    int *use_out)
{
    sdra_diarize_params p = *pp;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "diarize_wav: %s: cannot open\n", path);
        return -1;
    }
    unsigned char *buf = malloc(MAX_WAV_BYTES);
    size_t len = buf ? fread(buf, 1, MAX_WAV_BYTES, f) : 0;
    fclose(f);
    if (len < 44 || memcmp(buf, "RIFF", 4) || memcmp(buf + 8, "WAVE", 4)) {
        fprintf(stderr, "diarize_wav: %s: not a WAV file (--decode reads any format)\n", path);
        free(buf);
        return -1;
    }
    int nch = 0, rate = 0, bits = 0;
    const unsigned char *data = NULL;
    size_t dlen = 0;
    for (size_t o = 12; o + 8 <= len;) {
        uint32_t cl = le32(buf + o + 4);
        if (!memcmp(buf + o, "fmt ", 4) && o + 24 <= len) {
            nch = le16(buf + o + 10);
            rate = (int)le32(buf + o + 12);
            bits = le16(buf + o + 22);
        } else if (!memcmp(buf + o, "data", 4)) {
            data = buf + o + 8;
            dlen = cl < len - o - 8 ? cl : len - o - 8;
            break;
        }
        o += 8 + cl + (cl & 1);
    }
    if (!data || bits != 16 || nch < 1 || nch > 8) {
        fprintf(stderr, "diarize_wav: %s: need 16-bit PCM WAV with 1..8 channels (or --decode)\n",
                path);
        free(buf);
        return -1;
    }
    size_t n = dlen / (2u * nch);
    p.rate_hz = rate;
    int use_ch = p.method == SDRA_DIARIZE_CLUSTER ? 1 : nch;
    for (int c = 0; c < use_ch; c++)
        if (!(ch[c] = malloc((n ? n : 1) * sizeof(int16_t)))) {
            fprintf(stderr, "diarize_wav: out of memory\n");
            free(buf);
            return -1;
        }
    for (size_t i = 0; i < n; i++) {
        long sum = 0;
        for (int c = 0; c < nch; c++) {
            int16_t v = (int16_t)le16(data + (i * nch + c) * 2);
            sum += v;
            if (use_ch > 1)
                ch[c][i] = v;
        }
        if (use_ch == 1)
            ch[0][i] = (int16_t)(sum / nch);
    }
    free(buf);
    *pp = p;
    *n_out = n;
    *use_out = use_ch;
    return 0;
}

static int run(const sdra_diarize_params *pp, const char *path, const char *name, int16_t *ch[8],
               size_t n, int use_ch)
{
    sdra_diarize_params p = *pp;
    sdra_error err = {0};
    sdra_diarizer *d = NULL;
    sdra_turn *turns = NULL;
    size_t nt = 0;
    int nsp = 0, rc = 1;
    if (sdra_diarizer_create(&d, &p, use_ch, &err) < 0)
        goto fail;
    for (size_t i = 0; i < n; i += 4000) { /* feed in blocks, as a streaming caller would */
        const int16_t *blk[8];
        for (int c = 0; c < use_ch; c++)
            blk[c] = ch[c] + i;
        if (sdra_diarizer_feed(d, blk, n - i < 4000 ? n - i : 4000, &err) < 0)
            goto fail;
    }
    if (sdra_diarizer_finish(d, &turns, &nt, &nsp, &err) < 0)
        goto fail;
    for (size_t i = 0; i < nt; i++)
        printf("SPEAKER %s 1 %.3f %.3f <NA> <NA> spk%d <NA> <NA>\n", name, turns[i].start,
               turns[i].end - turns[i].start, turns[i].speaker);
    fprintf(stderr, "diarize_wav: %s: %d speakers, %zu turns\n", path, nsp, nt);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "diarize_wav: %s: %s\n", path, err.msg);
done:
    free(turns);
    sdra_diarizer_destroy(d);
    for (int c = 0; c < use_ch; c++)
        free(ch[c]);
    return rc;
}
