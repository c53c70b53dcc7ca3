/*
 * src/transcribe/adapt.c - adapting the acoustic model to a recording before it is decoded
 * (sdra_asr_adapter in sdra/asr.h; docs/asr.md, "Adapting to the recording").
 *
 * A stereo call gets a transform per channel: one party each. A mono call holds every party in
 * one stream, and one transform for all of them fits none of them well (the generated calls:
 * two voices, and a shared transform gained nothing). So a mono call is diarized first, with
 * the diarizer the stage uses anyway: its turns, cut into one span per speaker change, send
 * each speaker's audio to that speaker's adapter, and the decoding later cuts its chunks at the
 * same changes, so that every chunk is one speaker's and is decoded under that speaker's
 * transform (sdra_asr_set_mllr). A speaker with too little speech for a transform of its own
 * gets the one of the whole recording. One speaker found: the recording's transform alone,
 * as before.
 *
 * Cost: one more read of the file, for the diarizer and the recording's adapter together (the
 * turns then serve the transcript too, so the decoding pass does not diarize again), a second
 * for the speakers' adapters only when there are several, and the estimates.
 */
#include "transcribe/internal.h"
#include "sdra/util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { BLOCK = 4096 };
/* A speaker's own transform needs this much of its speech; with less, the speaker shares the
 * recording's. The recording's own bound (1 s, src/asr/adapt.c) is for a transform against no
 * transform; here the alternative is the recording's transform, which rests on more speech
 * than any one speaker's. whisper-jfk at 8 kHz is the case: one voice, which the diarizer cut
 * into two, 6.3 s of it one "speaker"'s; with that speaker's own transform, 13 errors in 22
 * words, with the recording's, 11. */
#define SPEAKER_MIN_FRAMES 1000

/* The speaker spans of a mono recording: consecutive turns of one speaker make a span; the
 * cut between two spans lies in the middle of the pause between them, or where the earlier
 * speaker stops when the later one starts first. A turn inside another speaker's turn (a
 * backchannel over them) makes no span. */
static int make_spans(const sdra_turn *t, size_t n, int rate_hz, sdra_span **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (n == 0)
        return 0;
    sdra_span *s = malloc(n * sizeof *s);
    if (!s)
        return SDRA_ENOMEM;
    size_t k = 0;
    int cur = t[0].speaker;
    double start = 0, end = t[0].end;
    for (size_t i = 1; i < n; i++) {
        if (t[i].speaker == cur) {
            end = t[i].end > end ? t[i].end : end;
            continue;
        }
        if (t[i].end <= end) /* inside the current speaker's turn */
            continue;
        double cut = t[i].start >= end ? (end + t[i].start) / 2 : end;
        s[k++] = (sdra_span){(int64_t)(start * rate_hz), (int64_t)(cut * rate_hz), cur};
        start = cut;
        cur = t[i].speaker;
        end = t[i].end;
    }
    s[k++] = (sdra_span){(int64_t)(start * rate_hz), INT64_MAX, cur};
    s[0].start = 0;
    *out = s;
    *n_out = k;
    return 0;
}

size_t sdra_span_at(const sdra_span *s, size_t n, int64_t frame)
{
    size_t lo = 0, hi = n; /* the last span starting at or before frame */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (s[mid].start <= frame)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

size_t sdra_span_run(const sdra_span *s, size_t n_s, size_t *at, int64_t pos, size_t n)
{
    while (*at + 1 < n_s && s[*at + 1].start <= pos)
        ++*at;
    int64_t left = s[*at].end - pos;
    return left < (int64_t)n ? (size_t)left : n;
}

/* One read of the file. Each block goes to what is given: the stream's adapters (ad[s]), the
 * diarizer (dz, the mix), and each speaker span's piece to its speaker's adapter (spk). */
static int read_pass(const char *path, const sdra_audio_params *ap, bool stereo,
                     sdra_asr_adapter *ad[2], sdra_diarizer *dz, sdra_asr_adapter **spk,
                     const sdra_adapt_plan *pl, const char *phase, const sdra_progress *progress,
                     double total_s, sdra_error *err)
{
    sdra_audio *a = NULL;
    int16_t *l = malloc(BLOCK * sizeof *l), *r = malloc(BLOCK * sizeof *r),
            *mix = malloc(BLOCK * sizeof *mix);
    int rc = 0;
    if (!l || !r || !mix) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = sdra_audio_open(&a, path, ap, err)) < 0)
        goto done;
    int16_t *chans[SDRA_AUDIO_MAX_CHANNELS] = {l, stereo ? r : NULL};
    int64_t pos = 0;
    size_t at = 0; /* the span that holds pos */
    for (;;) {
        size_t n = 0;
        if ((rc = sdra_audio_read(a, chans, mix, BLOCK, &n, err)) < 0 || n == 0)
            break;
        for (int s = 0; s < (stereo ? 2 : 1) && rc == 0; s++)
            if (ad[s])
                rc = sdra_asr_adapter_feed(ad[s], stereo ? chans[s] : mix, n, err);
        const int16_t *dchans[1] = {mix};
        if (dz && rc == 0)
            rc = sdra_diarizer_feed(dz, dchans, n, err);
        for (size_t off = 0, k; spk && off < n && rc == 0; off += k) {
            k = sdra_span_run(pl->spans, pl->n_spans, &at, pos + (int64_t)off, n - off);
            rc = sdra_asr_adapter_feed(spk[pl->spans[at].speaker], mix + off, k, err);
        }
        if (rc < 0)
            break;
        pos += (int64_t)n;
        if (sdra_progress_report(progress, phase, (double)pos / ap->rate_hz, total_s)) {
            rc = sdra_error_set(err, SDRA_ECANCELED, "%s: transcription canceled", path);
            break;
        }
    }
done:
    free(l);
    free(r);
    free(mix);
    sdra_audio_close(a);
    return rc;
}

/* Writes adapter ad's transform into file; "" with a log line when it cannot have one. */
static void write_one(sdra_asr_adapter *ad, char file[PATH_MAX], long *frames, const char *path,
                      const char *what)
{
    sdra_error e = {0};
    file[0] = 0;
    *frames = 0;
    if (!ad)
        return;
    if (sdra_asr_adapter_write(ad, file, PATH_MAX, &e) < 0) {
        sdra_log(SDRA_LOG_INFO, "%s: %s: not adapting the acoustic model: %s", path, what, e.msg);
        file[0] = 0;
        return;
    }
    *frames = (long)sdra_asr_adapter_frames(ad);
}

int sdra_transcribe_adapt(sdra_adapt_plan *pl, const char *path, const sdra_audio_params *ap,
                          bool stereo, const sdra_asr_params *asrp[2], const bool want[2],
                          const sdra_diarize_params *dp, const sdra_progress *progress,
                          double total_s, sdra_error *err)
{
    memset(pl, 0, sizeof *pl);
    sdra_asr_adapter *ad[2] = {NULL, NULL}, **spk = NULL;
    int rc = 0, n_streams = stereo ? 2 : 1;
    bool any = false;
    for (int s = 0; s < n_streams; s++) {
        if (!want[s])
            continue;
        sdra_error e = {0};
        if (sdra_asr_adapter_create(&ad[s], asrp[s], &e) < 0) {
            sdra_log(SDRA_LOG_WARN, "%s: not adapting the acoustic model: %s", path, e.msg);
            ad[s] = NULL;
        }
        any |= ad[s] != NULL;
    }
    if (!any)
        return 0;
    /* A mono call: the diarizer reads along with the recording's adapter; a second read
       feeds the speakers' adapters when it finds more than one. */
    if (!stereo && dp && dp->n_speakers != 1) {
        sdra_diarizer *dz = NULL;
        double t0 = sdra_clock_s();
        if ((rc = sdra_diarizer_create(&dz, dp, 1, err)) == 0 &&
            (rc = read_pass(path, ap, false, ad, dz, NULL, pl, "diarize", progress, total_s, err)) == 0 &&
            (rc = sdra_diarizer_finish(dz, &pl->turns, &pl->n_turns, &pl->n_speakers, err)) == 0) {
            pl->diarized = true;
            if (make_spans(pl->turns, pl->n_turns, ap->rate_hz, &pl->spans, &pl->n_spans) < 0)
                rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        }
        sdra_diarizer_destroy(dz);
        pl->diarize_s = sdra_clock_s() - t0;
        if (rc < 0)
            goto done;
        if (pl->n_speakers > 1) {
            int k = pl->n_speakers;
            spk = calloc((size_t)k, sizeof *spk);
            pl->spk_file = calloc((size_t)k, sizeof *pl->spk_file);
            pl->spk_frames = calloc((size_t)k, sizeof *pl->spk_frames);
            if (!spk || !pl->spk_file || !pl->spk_frames) {
                rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
                goto done;
            }
            pl->n_spk = k;
            for (int i = 0; i < k; i++)
                if ((rc = sdra_asr_adapter_create(&spk[i], asrp[0], err)) < 0)
                    goto done;
            sdra_asr_adapter *none[2] = {NULL, NULL};
            if ((rc = read_pass(path, ap, false, none, NULL, spk, pl, "adapt", progress, total_s, err)) < 0)
                goto done;
        }
    } else if ((rc = read_pass(path, ap, stereo, ad, NULL, NULL, pl, "adapt", progress, total_s, err)) < 0)
        goto done;
    bool all_own = spk != NULL, some_own = false;
    for (int i = 0; i < pl->n_spk; i++) {
        char what[32];
        snprintf(what, sizeof what, "speaker %d", i + 1);
        sdra_asr_adapter_normalise_as(spk[i], ad[0]); /* as the decoder will see them */
        if (sdra_asr_adapter_frames(spk[i]) >= SPEAKER_MIN_FRAMES)
            write_one(spk[i], pl->spk_file[i], &pl->spk_frames[i], path, what);
        else
            sdra_log(SDRA_LOG_INFO, "%s: %s: %.1f s of speech, under %d s: the recording's transform",
                     path, what, sdra_asr_adapter_frames(spk[i]) / 100.0, SPEAKER_MIN_FRAMES / 100);
        all_own &= pl->spk_file[i][0] != 0;
        some_own |= pl->spk_file[i][0] != 0;
    }
    if (!some_own) { /* no speaker of its own: as one speaker */
        free(pl->spk_file);
        free(pl->spk_frames);
        pl->spk_file = NULL;
        pl->spk_frames = NULL;
        for (int i = 0; spk && i < pl->n_spk; i++)
            sdra_asr_adapter_destroy(spk[i]);
        free(spk);
        spk = NULL;
        pl->n_spk = 0;
    }
    /* the recording's (or each channel's) transform: for the speakers without one of their
       own, or for all when there is no speaker's */
    for (int s = 0; s < n_streams; s++)
        if (!all_own)
            write_one(ad[s], pl->file[s], &pl->frames[s], path,
                      stereo ? (s ? "right channel" : "left channel") : "audio");
done:
    if (rc < 0)
        sdra_adapt_plan_release(pl);
    for (int s = 0; s < 2; s++)
        sdra_asr_adapter_destroy(ad[s]);
    for (int i = 0; spk && i < pl->n_spk; i++)
        sdra_asr_adapter_destroy(spk[i]);
    free(spk);
    return rc;
}

const char *sdra_adapt_plan_file(const sdra_adapt_plan *pl, int stream, int64_t start_frame)
{
    if (stream == 0 && pl->n_spk > 0 && pl->n_spans > 0) {
        int k = pl->spans[sdra_span_at(pl->spans, pl->n_spans, start_frame)].speaker;
        if (k >= 0 && k < pl->n_spk && pl->spk_file[k][0])
            return pl->spk_file[k];
    }
    return pl->file[stream][0] ? pl->file[stream] : NULL;
}

void sdra_adapt_plan_release(sdra_adapt_plan *pl)
{
    for (int s = 0; s < 2; s++)
        if (pl->file[s][0])
            unlink(pl->file[s]);
    for (int i = 0; pl->spk_file && i < pl->n_spk; i++)
        if (pl->spk_file[i][0])
            unlink(pl->spk_file[i]);
    free(pl->spk_file);
    free(pl->spk_frames);
    free(pl->turns);
    free(pl->spans);
    memset(pl, 0, sizeof *pl);
}
