/*
 * src/transcribe/meta.c - what a transcript's meta says about how it was made (internal.h):
 * engine, timings, acoustic models and band readings, adaptation, a Whisper server's requests
 * and guards.
 */
#include "transcribe/internal.h"

#include <math.h>

json_t *sdra_transcribe_remote_meta(sdra_asr_pool *pool, long boundary_dups, double chunk_s,
                                    int n_urls)
{
    sdra_asr_stats st;
    sdra_asr_pool_get_stats(pool, &st);
    json_t *g = json_pack("{s:I,s:I,s:I,s:I}", "silent_chunks_skipped",
                          (json_int_t)st.silent_chunks_skipped, "silence_dropped",
                          (json_int_t)st.silence_dropped, "repetition_dropped",
                          (json_int_t)st.repetition_dropped, "boundary_duplicates_dropped",
                          (json_int_t)boundary_dups);
    json_t *r = json_pack("{s:i,s:f,s:I,s:I,s:I,s:I}", "endpoints", n_urls, "chunk_s", chunk_s,
                          "requests", (json_int_t)st.requests, "retries", (json_int_t)st.retries,
                          "failovers", (json_int_t)st.failovers, "endpoints_marked_down",
                          (json_int_t)st.endpoints_marked_down);
    json_t *m = json_object();
    json_object_set_new(m, "asr_guards", g);
    json_object_set_new(m, "asr_requests", r);
    return m;
}

json_t *sdra_transcribe_timing_meta(const char *engine, const char *model, int jobs, int channels,
                                    const char *diar, double audio_s, double wall_s,
                                    double decode_s, double asr_s, double diar_s)
{
    json_t *m = json_object();
    if (!m)
        return NULL;
    json_object_set_new(m, "engine", json_string(engine));
    json_object_set_new(m, "model", json_string(model));
    json_object_set_new(m, "jobs", json_integer(jobs));
    json_object_set_new(m, "channels", json_integer(channels));
    json_object_set_new(m, "diarization", json_string(diar));
    json_object_set_new(m, "audio_s", json_real(audio_s));
    json_object_set_new(m, "wall_s", json_real(wall_s));
    json_object_set_new(m, "real_time_factor", json_real(audio_s > 0 ? wall_s / audio_s : 0));
    json_t *t = json_object();
    json_object_set_new(t, "read_and_chunk_s", json_real(decode_s));
    json_object_set_new(t, "asr_busy_s", json_real(asr_s));
    json_object_set_new(t, "diarize_s", json_real(diar_s));
    json_object_set_new(m, "timings_s", t);
    return m;
}

void sdra_transcribe_am_meta(json_t *meta, sdra_asr_am am, int source_rate_hz, double high_band_db)
{
    json_object_set_new(meta, "acoustic_model", json_string(sdra_asr_am_name(am)));
    json_object_set_new(meta, "source_rate_hz", json_integer(source_rate_hz));
    if (isfinite(high_band_db))
        json_object_set_new(meta, "source_high_band_db", json_real(round(high_band_db * 10) / 10));
}

void sdra_transcribe_models_meta(json_t *meta, const sdra_asr_am am[2], int n_models,
                                 int source_rate_hz, bool stereo, const double band[2])
{
    sdra_transcribe_am_meta(meta, am[0], source_rate_hz, stereo ? NAN : band[0]);
    if (n_models == 2)
        json_object_set_new(meta, "acoustic_model", json_string("mixed"));
    if (!stereo)
        return;
    json_t *models = json_array(), *bands = json_array();
    for (int s = 0; s < 2; s++) {
        json_array_append_new(models, json_string(sdra_asr_am_name(am[s])));
        json_array_append_new(bands, isfinite(band[s]) ? json_real(round(band[s] * 10) / 10)
                                                       : json_null());
    }
    json_object_set_new(meta, "channel_acoustic_models", models);
    json_object_set_new(meta, "channel_high_band_db", bands);
}

/* meta.adaptation: "mllr" when every stream was adapted, "none" when none was, "partial"
 * otherwise; meta.adaptation_by: "speaker" (a mono call's speakers, each with a transform or
 * the recording's), "channel" or "recording"; meta.adaptation_speech_s: per stream, the speech
 * its transforms rest on; meta.adaptation_speakers_s (by speaker): per diarized speaker (S1,
 * S2, ...), the speech of its own transform, or null where it shares the recording's. */
void sdra_transcribe_adapt_meta(json_t *meta, sdra_asr_adapt mode, int n_streams,
                                const sdra_adapt_plan *pl)
{
    int n = 0;
    json_t *speech = json_array();
    for (int s = 0; s < n_streams; s++) {
        /* the recording's transform rests on all its speech; else the speakers' on theirs */
        bool whole = pl->file[s][0] != 0, adapted = whole;
        long fr = whole ? pl->frames[s] : 0;
        for (int k = 0; s == 0 && k < pl->n_spk; k++)
            if (pl->spk_file[k][0]) {
                adapted = true;
                fr += whole ? 0 : pl->spk_frames[k];
            }
        n += adapted;
        json_array_append_new(speech, adapted ? json_real(fr / 100.0) : json_null());
    }
    json_object_set_new(meta, "adapt", json_string(sdra_asr_adapt_name(mode)));
    json_object_set_new(meta, "adaptation",
                        json_string(n == 0           ? "none"
                                    : n == n_streams ? "mllr"
                                                     : "partial"));
    if (n > 0)
        json_object_set_new(meta, "adaptation_by",
                            json_string(pl->n_spk > 0    ? "speaker"
                                        : n_streams == 2 ? "channel"
                                                         : "recording"));
    json_object_set_new(meta, "adaptation_speech_s", speech);
    if (n > 0 && pl->n_spk > 0) {
        json_t *spk = json_array();
        for (int k = 0; k < pl->n_spk; k++)
            json_array_append_new(spk, pl->spk_file[k][0] ? json_real(pl->spk_frames[k] / 100.0)
                                                          : json_null());
        json_object_set_new(meta, "adaptation_speakers_s", spk);
    }
}
