/*
 * src/transcribe/stream.c - live transcription (sdra_transcribe_stream): audio from a stream
 * (stdin) goes to one recognizer per channel as it arrives, and each utterance the recognizer
 * finalizes is appended to the transcript and handed to the caller's callback at once. No
 * chunk parallelism, no clustering: latency first. Memory: the transcript's words only.
 */
#include "transcribe/internal.h"
#include "sdra/audio.h"
#include "sdra/log.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LIVE_FRAMES 1600 /* 0.1 s: the recognizer sees audio within 100 ms of its arrival */

static int emit(sdra_transcript *t, int speaker, sdra_asr_utt *u, sdra_transcribe_utt_fn fn,
                void *ud, sdra_error *err)
{
    sdra_utterance *x = sdra_transcript_add_utterance(t, speaker, u->start_s, u->end_s, NULL);
    if (!x)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    for (size_t i = 0; i < u->n_words; i++)
        if (sdra_utterance_add_word(x, u->words[i].w, u->words[i].start_s, u->words[i].end_s,
                                    u->words[i].conf) < 0)
            return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    if (sdra_utterance_join_words(x) < 0)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    if (fn && fn(ud, t, x))
        return sdra_error_set(err, SDRA_ECANCELED, "transcription stopped by the caller");
    return 0;
}

static int drain(sdra_asr *asr, sdra_transcript *t, int speaker, sdra_transcribe_utt_fn fn,
                 void *ud, sdra_error *err)
{
    for (;;) {
        sdra_asr_utt u;
        bool ready = false;
        int rc = sdra_asr_poll(asr, &u, &ready, err);
        if (rc < 0 || !ready)
            return rc;
        rc = emit(t, speaker, &u, fn, ud, err);
        sdra_asr_utt_release(&u);
        if (rc < 0)
            return rc;
    }
}

int sdra_transcribe_stream(sdra_transcript **out, const char *audio_path,
                           const sdra_transcribe_params *p, sdra_transcribe_utt_fn on_utt,
                           void *user_data, sdra_error *err)
{
    int rc = 0;
    sdra_transcribe_params def = sdra_transcribe_default_params();
    if (!p)
        p = &def;
    sdra_audio *a = NULL;
    sdra_asr *asr[2] = {NULL, NULL};
    sdra_transcript *t = NULL;
    int16_t ch0[LIVE_FRAMES], ch1[LIVE_FRAMES], mix[LIVE_FRAMES];

    if (p->backend && sdra_asr_backend(p->backend) == sdra_asr_backend("whisper-http")) {
        rc = sdra_error_set(err, SDRA_EUNSUPPORTED, "live transcription (stdin) needs the embedded "
                            "recognizer (--asr pocketsphinx); whisper-http takes a file");
        goto done;
    }
    sdra_audio_params ap = sdra_transcribe_audio_params(p);
    if ((rc = sdra_audio_open(&a, audio_path, &ap, err)) < 0)
        goto done;
    const sdra_audio_info *info = sdra_audio_get_info(a);
    bool stereo = info->n_channels == 2;
    int n_streams = stereo ? 2 : 1;
    sdra_asr_params asrp;
    sdra_transcribe_asr_params(&asrp, p);
    char hmm[4096];
    /* A stream is decoded as it arrives, so the model is chosen by the sample rate alone (the
       band meter needs the audio before the first word). */
    sdra_asr_am am = sdra_asr_am_resolve(&asrp, p->acoustic_model, info->source_rate_hz, NAN,
                                         hmm, sizeof hmm);
    if (!(t = sdra_transcript_create())) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }
    for (int s = 0; s < n_streams; s++) {
        char id[16];
        snprintf(id, sizeof id, "S%d", s + 1);
        if ((rc = sdra_transcript_add_speaker(t, id, SDRA_ROLE_UNKNOWN, stereo ? s : -1)) < 0)
            goto done;
        rc = 0;
        if ((rc = sdra_asr_create(&asr[s], &asrp, err)) < 0 ||
            (rc = sdra_asr_start_stream(asr[s], err)) < 0)
            goto done;
    }
    /* Roles by channel are known up front in stereo with --rep-channel. */
    if (stereo && p->rep_channel >= 0 && p->rep_channel <= 1) {
        t->speakers[p->rep_channel].role = SDRA_ROLE_REP;
        t->speakers[1 - p->rep_channel].role = SDRA_ROLE_PROSPECT;
    }
    int16_t *chans[SDRA_AUDIO_MAX_CHANNELS] = {ch0, stereo ? ch1 : NULL};
    int64_t frames = 0;
    for (;;) {
        size_t n = 0;
        if ((rc = sdra_audio_read(a, chans, mix, LIVE_FRAMES, &n, err)) < 0 || n == 0)
            break;
        frames += (int64_t)n;
        for (int s = 0; s < n_streams && rc == 0; s++) {
            rc = sdra_asr_feed(asr[s], stereo ? chans[s] : mix, n, err);
            if (rc == 0)
                rc = drain(asr[s], t, s, on_utt, user_data, err);
        }
        if (rc < 0)
            break;
    }
    for (int s = 0; s < n_streams && rc == 0; s++) {
        if ((rc = sdra_asr_end_stream(asr[s], err)) == 0)
            rc = drain(asr[s], t, s, on_utt, user_data, err);
    }
    if (rc < 0)
        goto done;
    t->duration_s = frames / 16000.0;
    t->source = strdup(audio_path);
    sdra_transcript_sort(t);
    sdra_roles_params rp = {.rep_channel = stereo ? p->rep_channel : -1,
                            .rep_name = p->rep_name,
                            .company = p->company,
                            .contact_name = p->contact_name};
    if ((rc = sdra_roles_assign(t, &rp, err)) < 0)
        goto done;
    if ((t->meta = json_object())) {
        json_object_set_new(t->meta, "engine", json_string(sdra_asr_name(asr[0])));
        json_object_set_new(t->meta, "model", json_string(sdra_asr_describe(asr[0])));
        json_object_set_new(t->meta, "mode", json_string("live"));
        sdra_transcribe_am_meta(t->meta, am, info->source_rate_hz, NAN);
    }
    if (out) {
        *out = t;
        t = NULL;
    }
done:
    for (int s = 0; s < 2; s++)
        sdra_asr_destroy(asr[s]);
    sdra_audio_close(a);
    sdra_transcript_destroy(t);
    return rc;
}
