/*
 * src/transcribe/transcribe.c - the transcription stage (include/sdra/transcribe.h).
 *
 * One reader (the calling thread) decodes the audio block by block, feeds the diarizer, and
 * cuts each stream (stereo: the two channels; otherwise the mono mix) into chunks at silences.
 * Before that, adapt.c may adapt the model to the recording: a mono call is then diarized
 * first, cut also where the speaker changes, and each chunk decoded under its speaker's
 * transform.
 * Chunks go through a bounded queue to `jobs` worker threads (work.c), each decoding a chunk
 * as one independent stream primed with the PRIME_S seconds of audio before it, so a chunk's
 * words depend only on the audio; the results, stored per (stream, chunk index), are merged in
 * order with times shifted by the chunk's start. Memory: the queue holds at most 2 * jobs
 * chunks (<= 30 s each, with PRIME_S of context each) plus what the chunkers buffer; the
 * audio is never held whole. Words and turns are kept (small).
 *
 * Before that, prescan.c looks at the file's first minute (are a stereo file's channels two
 * parties; is the band above 4 kHz empty, telephone audio at a wideband rate). Assembly
 * (assemble.c) turns the words and the diarizer's turns into the transcript; meta.c writes
 * what the transcript's meta says about how it was made.
 *
 * A remote backend (whisper-http) changes only the numbers: its recognizers are cheap (a
 * request each), so jobs defaults to the endpoints' in-flight total, its chunks are not
 * primed, and one endpoint scheduler (sdra_asr_pool) is shared by the workers. Its results
 * get one more pass before assembly: words repeated across a chunk boundary are dropped.
 */
#include "transcribe/internal.h"
#include "sdra/asr.h"
#include "sdra/audio.h"
#include "sdra/diarize.h"
#include "sdra/util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_FRAMES 4096
#define MAX_JOBS 64
/* Each chunk's recognizer first adapts to this much of the audio before the chunk
 * (sdra_asr_prime): the live cepstral mean spans about 5-8 s of speech. 10 s was best of
 * 0/5/10/20 s on pyannote-sample (WER 91.4/86.4/84.0/85.2 %, before the 0.1 s blocks). */
#define PRIME_S 10.0

sdra_transcribe_params sdra_transcribe_default_params(void)
{
    sdra_transcribe_params p = {
        .jobs = 0,
        .n_speakers = 0, /* estimated: one talker gives one speaker (docs/diarization.md) */
        .rep_channel = -1,
        .domain_weight = -1.0f,
        .max_duration_s = 4 * 3600.0,
        .pause_split_s = 1.0,
        .raw_channels = 1,
        .raw_rate_hz = 16000,
        .prime_s = PRIME_S,
    };
    const char *env = getenv("SDRA_PRIME_S");
    char *end = NULL;
    double v = env && *env ? strtod(env, &end) : -1;
    if (env && *env && end && !*end && v >= 0 && v <= 30)
        p.prime_s = v;
    return p;
}

static bool is_remote(const sdra_transcribe_params *p)
{
    return p->backend && sdra_asr_backend(p->backend) == sdra_asr_backend("whisper-http");
}

static int default_jobs(const sdra_transcribe_params *p)
{
    if (is_remote(p) && p->remote) { /* requests, not decoders: as many as may be in flight */
        int mif = p->remote->max_in_flight > 0 ? p->remote->max_in_flight : 2;
        long n = (long)p->remote->n_urls * mif;
        return n < 1 ? 1 : n > MAX_JOBS ? MAX_JOBS : (int)n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_JOBS ? MAX_JOBS : (int)n;
}

sdra_audio_params sdra_transcribe_audio_params(const sdra_transcribe_params *p)
{
    sdra_audio_params ap = sdra_audio_default_params();
    ap.max_duration_s = p->max_duration_s;
    ap.format_hint = p->format_hint;
    ap.raw_channels = p->raw_channels;
    ap.raw_rate_hz = p->raw_rate_hz;
    return ap;
}

int sdra_transcribe_asr_params(sdra_asr_params *ap, const sdra_transcribe_params *p)
{
    *ap = sdra_asr_default_params();
    if (p->backend)
        ap->backend = p->backend;
    ap->domain_lm_path = p->domain_lm_path;
    if (p->domain_weight >= 0)
        ap->domain_weight = p->domain_weight;
    ap->vocab_path = p->vocab_path;
    ap->hints[0] = p->hints;
    ap->hints[1] = p->rep_name;
    ap->hints[2] = p->company;
    return 0;
}

/* Appends s to the prompt (", "-separated) while it fits. */
static void prompt_add(char *buf, size_t cap, const char *s)
{
    size_t n = strlen(buf), k = s ? strlen(s) : 0;
    if (!k || n + k + 3 > cap)
        return;
    snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", s);
}

/* The scheduler of a whisper-http transcription, with a prompt of the names and words the
 * call is expected to hold (the call sheet, --hints, the vocabulary), as Whisper users give. */
static int make_pool(sdra_asr_pool **out, const sdra_transcribe_params *p, sdra_error *err)
{
    if (!p->remote || p->remote->n_urls < 1)
        return sdra_error_set(err, SDRA_EINVAL, "whisper-http needs an endpoint URL (--asr-url)");
    char prompt[801] = "";
    prompt_add(prompt, sizeof prompt, p->rep_name);
    prompt_add(prompt, sizeof prompt, p->company);
    prompt_add(prompt, sizeof prompt, p->hints && strspn(p->hints, ", ") < strlen(p->hints) ? p->hints : NULL);
    if (p->vocab_path) {
        sdra_asr_vocab *v = NULL;
        int rc = sdra_asr_vocab_load(&v, p->vocab_path, err);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < v->n_entries; i++)
            prompt_add(prompt, sizeof prompt, v->entries[i].word);
        sdra_asr_vocab_destroy(v);
    }
    sdra_asr_remote_params rp = *p->remote;
    if (!rp.prompt && prompt[0])
        rp.prompt = prompt;
    return sdra_asr_pool_create(out, &rp, err);
}

int sdra_transcribe_file(sdra_transcript **out, const char *audio_path,
                         const sdra_transcribe_params *p, const sdra_progress *progress,
                         sdra_error *err)
{
    int rc = 0;
    sdra_transcribe_params def = sdra_transcribe_default_params();
    if (!p)
        p = &def;
    double t_start = sdra_clock_s();
    sdra_audio *a = NULL;
    sdra_chunker *ck[2] = {NULL, NULL};
    sdra_diarizer *dz = NULL;
    sdra_turn *turns = NULL;
    size_t n_turns = 0;
    int n_found = 0;
    sdra_transcript *t = NULL;
    int16_t *buf = NULL;
    int jobs = p->jobs > 0 ? (p->jobs > MAX_JOBS ? MAX_JOBS : p->jobs) : default_jobs(p);
    bool remote = is_remote(p);
    sdra_asr_pool *pool = NULL;
    double chunk_s = p->chunk_s > 0 ? p->chunk_s : 20.0;
    double diar_s = 0, read_s = 0;
    sdra_transcribe_work w = {0};
    sdra_adapt_plan plan = {0}; /* the transforms (adapt.c), removed at the end */

    if (!(chunk_s >= 5 && chunk_s <= 30)) {
        rc = sdra_error_set(err, SDRA_EINVAL, "chunk length %g s: want 5..30", chunk_s);
        goto done;
    }
    if (remote && (rc = make_pool(&pool, p, err)) < 0)
        goto done;
    sdra_audio_params ap = sdra_transcribe_audio_params(p);
    if ((rc = sdra_audio_open(&a, audio_path, &ap, err)) < 0)
        goto done;
    const sdra_audio_info *info = sdra_audio_get_info(a);
    /* The band decides the model only for a local recognizer left to choose, at a rate above
       the telephone's (a Whisper server takes any audio; 8 kHz is narrowband anyway). */
    bool measure_band = !remote && p->acoustic_model == SDRA_ASR_AM_AUTO &&
                        info->source_rate_hz > SDRA_ASR_NARROWBAND_MAX_HZ;
    sdra_prescan pre = sdra_transcribe_prescan(audio_path, &ap, info->n_channels == 2, measure_band);
    bool stereo = info->n_channels == 2 && !pre.really_mono;
    int n_streams = stereo ? 2 : 1;
    double total_s = info->duration_s;

    /* The acoustic model of each stream: a stereo call's channels are measured one by one, and
       each side gets its own model when they differ (slot 1 of the workers' recognizers). */
    sdra_asr_params asrp[2];
    char hmm[2][4096];
    sdra_asr_am am[2] = {SDRA_ASR_AM_WIDEBAND, SDRA_ASR_AM_WIDEBAND};
    double band[2] = {stereo ? pre.high_band_db[1] : pre.high_band_db[0], pre.high_band_db[2]};
    int n_models = 1;
    for (int k = 0; k < 2; k++) {
        sdra_transcribe_asr_params(&asrp[k], p);
        asrp[k].pool = pool;
    }
    if (!remote) {
        bool differ = stereo && sdra_asr_am_choose(p->acoustic_model, info->source_rate_hz, band[0]) !=
                                    sdra_asr_am_choose(p->acoustic_model, info->source_rate_hz, band[1]);
        for (int k = 0; k < (differ ? 2 : 1); k++)
            am[k] = sdra_asr_am_resolve(&asrp[k], p->acoustic_model, info->source_rate_hz, band[k],
                                        hmm[k], sizeof hmm[k]);
        n_models = differ && am[0] != am[1] ? 2 : 1; /* one side's model missing: one model */
        if (n_models == 1)
            am[1] = am[0];
    }
    sdra_diarize_params dp = sdra_diarize_default_params();
    dp.method = stereo ? SDRA_DIARIZE_CHANNEL : SDRA_DIARIZE_CLUSTER;
    dp.n_speakers = p->n_speakers;
    /* Adaptation: each stream that wants it gets its own transform, so a stereo call's two
       streams get a recognizer slot each even on one model; a mono call's chunks switch to
       their speaker's transform (adapt.c). */
    int n_slots = n_models;
    if (!remote && strcmp(audio_path, "-")) {
        bool want[2] = {sdra_asr_adapt_wanted(p->adapt, am[0]),
                        stereo && sdra_asr_adapt_wanted(p->adapt, am[1])};
        if (want[1] && n_models == 1) {
            asrp[1] = asrp[0];
            n_slots = 2;
        }
        const sdra_asr_params *sp[2] = {&asrp[0], &asrp[n_slots - 1]};
        if ((want[0] || want[1]) &&
            (rc = sdra_transcribe_adapt(&plan, audio_path, &ap, stereo, sp, want, &dp, progress,
                                        total_s, err)) < 0)
            goto done;
        for (int s = 0; s < n_slots; s++)
            asrp[s].mllr_path = sdra_adapt_plan_file(&plan, s, 0); /* its first chunk's */
    }
    /* a server is not primed */
    size_t ctx_frames = remote ? 0 : (size_t)((p->prime_s >= 0 && p->prime_s <= 30 ? p->prime_s : PRIME_S) * 16000);
    if ((rc = sdra_transcribe_work_init(&w, jobs, asrp, n_slots, ctx_frames, &plan, err)) < 0)
        goto done;

    sdra_chunker_params cp = sdra_chunker_default_params();
    cp.target_chunk_s = chunk_s;
    cp.min_chunk_s = chunk_s / 2;
    cp.max_chunk_s = chunk_s * 1.5 > 30 ? 30 : chunk_s * 1.5;
    for (int s = 0; s < n_streams; s++)
        if ((rc = sdra_chunker_create(&ck[s], &cp, err)) < 0)
            goto done;
    if (plan.diarized) { /* the adaptation pass diarized the call already */
        turns = plan.turns;
        n_turns = plan.n_turns;
        n_found = plan.n_speakers;
        plan.turns = NULL;
        diar_s += plan.diarize_s;
    } else if ((rc = sdra_diarizer_create(&dz, &dp, n_streams, err)) < 0)
        goto done;

    if (!(buf = malloc(3 * READ_FRAMES * sizeof *buf))) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = sdra_transcribe_work_start(&w, err)) < 0)
        goto done;

    int16_t *ch0 = buf, *ch1 = buf + READ_FRAMES, *mix = buf + 2 * READ_FRAMES;
    int16_t *chans[SDRA_AUDIO_MAX_CHANNELS] = {ch0, stereo ? ch1 : NULL};
    int64_t frames = 0;
    size_t span = 0; /* by speaker: the span being read */
    for (;;) {
        size_t n = 0;
        double t0 = sdra_clock_s();
        rc = sdra_audio_read(a, chans, mix, READ_FRAMES, &n, err);
        if (rc < 0 || n == 0)
            break;
        frames += (int64_t)n;
        const int16_t *dchans[2] = {stereo ? ch0 : mix, ch1};
        double t1 = sdra_clock_s();
        if (dz && (rc = sdra_diarizer_feed(dz, dchans, n, err)) < 0)
            break;
        double t2 = sdra_clock_s();
        diar_s += t2 - t1;
        if (plan.n_spk > 0) /* a mono call adapted by speaker: chunks end where speakers change */
            rc = sdra_transcribe_work_drain_by_speaker(&w, ck[0], mix, n, frames - (int64_t)n, &span, err);
        for (int s = 0; s < n_streams && rc == 0 && plan.n_spk == 0; s++)
            rc = sdra_transcribe_work_drain(&w, ck[s], s, stereo ? chans[s] : mix, n, err);
        read_s += (t1 - t0) + (sdra_clock_s() - t2);
        if (rc < 0 || sdra_transcribe_work_failed(&w))
            break;
        if (sdra_progress_report(progress, "transcribe", frames / 16000.0, total_s)) {
            rc = sdra_error_set(err, SDRA_ECANCELED, "%s: transcription canceled", audio_path);
            break;
        }
    }
    for (int s = 0; s < n_streams && rc == 0 && !sdra_transcribe_work_failed(&w); s++) {
        sdra_chunk c = {0};
        bool ready = false;
        if ((rc = sdra_chunker_finish(ck[s], &c, &ready, err)) == 0 && ready)
            rc = sdra_transcribe_work_push(&w, s, &c, err);
    }
    if ((rc = sdra_transcribe_work_finish(&w, rc, err)) < 0)
        goto done;
    long boundary_dups = remote ? sdra_transcribe_work_drop_boundary_duplicates(&w, n_streams) : 0;
    double t3 = sdra_clock_s();
    if (dz && (rc = sdra_diarizer_finish(dz, &turns, &n_turns, &n_found, err)) < 0)
        goto done;
    diar_s += sdra_clock_s() - t3;

    sdra_assemble_input in = {
        .stereo = stereo,
        .n_streams = n_streams,
        .turns = turns,
        .n_turns = n_turns,
        .n_speakers = stereo ? 2 : (n_found > 0 ? n_found : 1),
        .pause_split_s = p->pause_split_s > 0 ? p->pause_split_s : 1.0,
        .keep_unheard = remote, /* its word times may be estimates (src/asr/whisper_http.c) */
    };
    for (int s = 0; s < n_streams; s++) {
        in.chunks[s] = w.res[s];
        in.n_chunks[s] = w.n_res[s];
    }
    if ((rc = sdra_transcribe_assemble(&t, &in, err)) < 0)
        goto done;
    t->duration_s = frames / 16000.0;
    t->source = strdup(audio_path);
    sdra_roles_params rp = {.rep_channel = stereo ? p->rep_channel : -1,
                            .rep_name = p->rep_name,
                            .company = p->company,
                            .contact_name = p->contact_name};
    if ((rc = sdra_roles_assign(t, &rp, err)) < 0)
        goto done;
    const sdra_asr *asr0 = sdra_transcribe_work_asr(&w);
    t->meta = sdra_transcribe_timing_meta(sdra_asr_name(asr0), sdra_asr_describe(asr0), jobs,
                          info->n_channels, stereo ? "channel" : "cluster", t->duration_s,
                          sdra_clock_s() - t_start, read_s, w.asr_busy_s, diar_s);
    if (t->meta && !remote)
        sdra_transcribe_models_meta(t->meta, am, n_models, info->source_rate_hz, stereo, band);
    if (t->meta && !remote)
        sdra_transcribe_adapt_meta(t->meta, p->adapt, n_streams, &plan);
    if (t->meta && pool) {
        json_t *rm = sdra_transcribe_remote_meta(pool, boundary_dups, chunk_s, p->remote->n_urls);
        json_object_update(t->meta, rm);
        json_decref(rm);
    }
    sdra_log(SDRA_LOG_INFO, "%s: %.1f s of audio transcribed in %.1f s (%d jobs)", audio_path,
             t->duration_s, sdra_clock_s() - t_start, jobs);
    *out = t;
    t = NULL;
done:
    sdra_transcribe_work_release(&w);
    sdra_adapt_plan_release(&plan);
    free(buf);
    free(turns);
    sdra_diarizer_destroy(dz);
    for (int s = 0; s < 2; s++)
        sdra_chunker_destroy(ck[s]);
    sdra_audio_close(a);
    sdra_transcript_destroy(t);
    sdra_asr_pool_destroy(pool);
    return rc;
}
