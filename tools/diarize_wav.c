/*
 * diarize_wav.c - a measuring driver: runs the diarizer on a 16-bit PCM WAV file and prints
 * the turns as RTTM, so that `sdra eval diarization` can score them. Built and used by
 * scripts/measure-diarization.sh (it needs only libsdra_diarize, libsdra_audio and libsdra_core).
 *
 *     diarize_wav [--cluster|--channel] [--speakers N] [--bleed-db DB] FILE.wav [NAME]
 *
 * The cluster method gets the mean of the file's channels; the channel method gets each.
 */
#include "sdra/diarize.h"
#include "sdra/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WAV_BYTES (1u << 30)

static uint32_t le32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

int main(int argc, char **argv)
{
    sdra_log_set_handler(sdra_log_stderr_text, NULL, getenv("DIARIZE_DEBUG") ? SDRA_LOG_DEBUG : SDRA_LOG_WARN);
    sdra_diarize_params p = sdra_diarize_default_params();
    p.method = SDRA_DIARIZE_CLUSTER;
    const char *path = NULL, *name = "file";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cluster"))
            p.method = SDRA_DIARIZE_CLUSTER;
        else if (!strcmp(argv[i], "--channel"))
            p.method = SDRA_DIARIZE_CHANNEL;
        else if (!strcmp(argv[i], "--speakers") && i + 1 < argc)
            p.n_speakers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--bleed-db") && i + 1 < argc)
            p.bleed_db = atof(argv[++i]);
        else if (!path)
            path = argv[i];
        else
            name = argv[i];
    }
    if (!path) {
        fprintf(stderr, "usage: diarize_wav [--cluster|--channel] [--speakers N] FILE.wav [NAME]\n");
        return 2;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "diarize_wav: %s: cannot open\n", path);
        return 1;
    }
    unsigned char *buf = malloc(MAX_WAV_BYTES);
    size_t len = buf ? fread(buf, 1, MAX_WAV_BYTES, f) : 0;
    fclose(f);
    if (len < 44 || memcmp(buf, "RIFF", 4) || memcmp(buf + 8, "WAVE", 4)) {
        fprintf(stderr, "diarize_wav: %s: not a WAV file\n", path);
        free(buf);
        return 1;
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
        fprintf(stderr, "diarize_wav: %s: need 16-bit PCM WAV with 1..8 channels\n", path);
        free(buf);
        return 1;
    }
    size_t n = dlen / (2u * nch);
    p.rate_hz = rate;
    int use_ch = p.method == SDRA_DIARIZE_CLUSTER ? 1 : nch;
    int16_t *ch[8] = {0};
    for (int c = 0; c < use_ch; c++)
        ch[c] = malloc(n * sizeof(int16_t));
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
