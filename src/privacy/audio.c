/*
 * audio.c - audio redaction: a copy of a recording in which the redacted time spans are
 * silence or a 1 kHz tone. The input is decoded by the audio module (any format it reads, all
 * channels, at the source's rate unless asked otherwise) block by block, so memory stays
 * bounded whatever the length, and written as 16-bit PCM WAV to a temporary file beside the
 * output, which is renamed over it at the end.
 */
#include "internal.h"
#include "sdra/audio.h"
#include "sdra/seal.h"
#include "sdra/util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK_FRAMES 4096
#define TONE_HZ 1000.0
#define TONE_AMPLITUDE 3277.0 /* -20 dBFS */

sdra_redact_audio_params sdra_redact_audio_default_params(void)
{
    return (sdra_redact_audio_params){.tone = 0, .pad_s = 0.15, .rate_hz = 0};
}

int sdra_redact_audio(const char *in_path, const char *out_path, const sdra_redact_span *spans,
                      size_t n_spans, const sdra_redact_audio_params *p, sdra_error *err)
{
    sdra_redact_audio_params ap = p ? *p : sdra_redact_audio_default_params();
    sdra_audio *a = NULL;
    int16_t *ch[SDRA_AUDIO_MAX_CHANNELS] = {0};
    int16_t *inter = NULL;
    int64_t *from = NULL, *to = NULL;
    char tmp[PATH_MAX];
    FILE *f = NULL;
    int fd = -1, rc = 0, have_tmp = 0;
    struct stat st;
    if (stat(out_path, &st) == 0 && !S_ISREG(st.st_mode))
        return sdra_error_set(err, SDRA_EINVAL, "%s: not a regular file; refusing to replace it", out_path);
    if (ap.pad_s < 0 || ap.pad_s > 5)
        return sdra_error_set(err, SDRA_EINVAL, "audio redaction: padding %.2f s is not 0-5 s", ap.pad_s);
    sdra_audio_params par = sdra_audio_default_params();
    int rate = ap.rate_hz;
    if (!rate) { /* the source's own rate */
        if ((rc = sdra_audio_open(&a, in_path, &par, err)) < 0)
            goto done;
        rate = sdra_audio_get_info(a)->source_rate_hz;
        sdra_audio_close(a);
        a = NULL;
    }
    if (rate < 8000 || rate > 192000)
        rate = 16000;
    par.rate_hz = rate;
    if ((rc = sdra_audio_open(&a, in_path, &par, err)) < 0)
        goto done;
    int nch = sdra_audio_get_info(a)->n_channels;
    if (nch < 1 || nch > SDRA_AUDIO_MAX_CHANNELS) {
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: %d channels", in_path, nch);
        goto done;
    }
    for (int c = 0; c < nch; c++)
        if (!(ch[c] = malloc(BLOCK_FRAMES * sizeof **ch)))
            goto nomem;
    if (!(inter = malloc((size_t)BLOCK_FRAMES * (size_t)nch * sizeof *inter)))
        goto nomem;
    if (n_spans && (!(from = malloc(n_spans * sizeof *from)) || !(to = malloc(n_spans * sizeof *to))))
        goto nomem;
    for (size_t k = 0; k < n_spans; k++) {
        double s = spans[k].start_s - ap.pad_s, e = spans[k].end_s + ap.pad_s;
        from[k] = (int64_t)((s < 0 ? 0 : s) * rate);
        to[k] = (int64_t)((e < 0 ? 0 : e) * rate + 0.5);
    }
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", out_path) >= sizeof tmp) {
        rc = sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", out_path);
        goto done;
    }
    /* encrypted at rest (a sealing table on this thread): the plaintext is built in memory and
     * written sealed at the end, so it never reaches the disk */
    const sdra_seal_ops *seal = sdra_seal_get();
    bool in_memory = seal && seal->seal_file;
    if ((fd = in_memory ? memfd_create("sdra-redact", MFD_CLOEXEC) : mkstemp(tmp)) < 0 || !(f = fdopen(fd, "w+b"))) {
        rc = sdra_error_set(err, sdra_code_from_errno(errno), "%s: %s", out_path, strerror(errno));
        goto done;
    }
    have_tmp = !in_memory;
    fd = -1;
    unsigned char hdr[SDRA_AUDIO_WAV_HEADER_BYTES];
    sdra_audio_wav_header(hdr, nch, rate, 0);
    if (fwrite(hdr, 1, sizeof hdr, f) != sizeof hdr)
        goto ioerr;
    uint64_t data_bytes = 0;
    int64_t pos = 0;
    for (;;) {
        size_t got = 0;
        if ((rc = sdra_audio_read(a, ch, NULL, BLOCK_FRAMES, &got, err)) < 0)
            goto done;
        if (!got)
            break;
        for (size_t k = 0; k < n_spans; k++) {
            int64_t s = from[k] > pos ? from[k] : pos, e = to[k] < pos + (int64_t)got ? to[k] : pos + (int64_t)got;
            for (int64_t x = s; x < e; x++) {
                int16_t v = 0;
                if (ap.tone)
                    v = (int16_t)lrint(TONE_AMPLITUDE * sin(2.0 * M_PI * TONE_HZ * (double)(x - from[k]) / rate));
                for (int c = 0; c < nch; c++)
                    ch[c][x - pos] = v;
            }
        }
        for (size_t x = 0; x < got; x++)
            for (int c = 0; c < nch; c++)
                inter[x * (size_t)nch + (size_t)c] = ch[c][x]; /* WAV is little-endian, as is the host */
        if (fwrite(inter, sizeof *inter * (size_t)nch, got, f) != got)
            goto ioerr;
        data_bytes += got * (size_t)nch * 2;
        pos += (int64_t)got;
        if (data_bytes > UINT32_MAX - 64) {
            rc = sdra_error_set(err, SDRA_ELIMIT, "%s: over 4 GiB, too long for a WAV file", out_path);
            goto done;
        }
    }
    sdra_audio_wav_header(hdr, nch, rate, (uint32_t)data_bytes);
    if (fseek(f, 0, SEEK_SET) < 0 || fwrite(hdr, 1, sizeof hdr, f) != sizeof hdr || fflush(f) != 0)
        goto ioerr;
    if (in_memory) {
        size_t n = sizeof hdr + (size_t)data_bytes;
        void *m = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fileno(f), 0);
        if (m == MAP_FAILED)
            goto ioerr;
        rc = sdra_file_write_atomic(out_path, m, n, err); /* sealed by the table */
        munmap(m, n);
        goto done;
    }
    if (fsync(fileno(f)) < 0)
        goto ioerr;
    if (fclose(f) != 0) {
        f = NULL;
        goto ioerr;
    }
    f = NULL;
    if (rename(tmp, out_path) < 0)
        goto ioerr;
    have_tmp = 0;
    rc = 0;
    goto done;
nomem:
    rc = sdra_error_set(err, SDRA_ENOMEM, "audio redaction: out of memory");
    goto done;
ioerr:
    rc = sdra_error_set(err, SDRA_EIO, "%s: %s", out_path, strerror(errno));
done:
    if (f)
        fclose(f);
    if (fd >= 0)
        close(fd);
    if (have_tmp)
        unlink(tmp);
    sdra_audio_close(a);
    for (int c = 0; c < SDRA_AUDIO_MAX_CHANNELS; c++)
        free(ch[c]);
    free(inter);
    free(from);
    free(to);
    return rc;
}
