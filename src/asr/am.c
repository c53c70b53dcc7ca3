/*
 * src/asr/am.c - which acoustic model a source gets: the wideband en-us model, or for audio
 * sampled at 8 kHz or less (telephone, G.711), or telephone audio stored at a wideband rate
 * (nothing above the line band: the band meter, sdra/audio.h), the narrowband model the build
 * adapts from it
 * (scripts/build-narrowband-am.py, docs/asr.md "Telephone-band recognition"). A missing
 * narrowband model is a warning and the wideband model, never a failed transcription. Also
 * the --adapt modes (which models are adapted to the recording: adapt.c).
 */
#include "sdra/asr.h"
#include "sdra/log.h"
#include "sdra/util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* What PocketSphinx reads from a model directory (the build writes all of them). */
static const char *const model_files[] = {"mdef", "means", "variances", "transition_matrices",
                                          "sendump", "feat.params", "noisedict"};

int sdra_asr_am_parse(const char *s, sdra_asr_am *out, sdra_error *err)
{
    if (!s || !strcmp(s, "auto"))
        *out = SDRA_ASR_AM_AUTO;
    else if (!strcmp(s, "wideband"))
        *out = SDRA_ASR_AM_WIDEBAND;
    else if (!strcmp(s, "narrowband"))
        *out = SDRA_ASR_AM_NARROWBAND;
    else
        return sdra_error_set(err, SDRA_EINVAL, "acoustic model '%s': want auto, wideband or "
                              "narrowband", s);
    return 0;
}

int sdra_asr_adapt_parse(const char *s, sdra_asr_adapt *out, sdra_error *err)
{
    if (!s || !strcmp(s, "auto"))
        *out = SDRA_ASR_ADAPT_AUTO;
    else if (!strcmp(s, "on"))
        *out = SDRA_ASR_ADAPT_ON;
    else if (!strcmp(s, "off"))
        *out = SDRA_ASR_ADAPT_OFF;
    else
        return sdra_error_set(err, SDRA_EINVAL, "adaptation '%s': want auto, on or off", s);
    return 0;
}

const char *sdra_asr_adapt_name(sdra_asr_adapt a)
{
    return a == SDRA_ASR_ADAPT_ON ? "on" : a == SDRA_ASR_ADAPT_OFF ? "off" : "auto";
}

bool sdra_asr_adapt_wanted(sdra_asr_adapt a, sdra_asr_am am)
{
    return a == SDRA_ASR_ADAPT_ON || (a == SDRA_ASR_ADAPT_AUTO && am == SDRA_ASR_AM_NARROWBAND);
}

const char *sdra_asr_am_name(sdra_asr_am am)
{
    switch (am) {
    case SDRA_ASR_AM_WIDEBAND: return "wideband";
    case SDRA_ASR_AM_NARROWBAND: return "narrowband";
    default: return "auto";
    }
}

sdra_asr_am sdra_asr_am_choose(sdra_asr_am requested, int source_rate_hz, double high_band_db)
{
    if (requested == SDRA_ASR_AM_WIDEBAND || requested == SDRA_ASR_AM_NARROWBAND)
        return requested;
    if (source_rate_hz > 0 && source_rate_hz <= SDRA_ASR_NARROWBAND_MAX_HZ)
        return SDRA_ASR_AM_NARROWBAND;
    return high_band_db < SDRA_ASR_BAND_LIMITED_DB ? SDRA_ASR_AM_NARROWBAND /* NAN: false */
                                                   : SDRA_ASR_AM_WIDEBAND;
}

/* dir holds every model file: NULL, or the first one missing (into miss, size n). */
static bool complete(const char *dir, char *miss, size_t n)
{
    for (size_t i = 0; i < sizeof model_files / sizeof model_files[0]; i++) {
        char path[4096];
        struct stat st;
        if (sdra_path_join(path, sizeof path, dir, model_files[i]) < 0 || stat(path, &st) != 0 ||
            !S_ISREG(st.st_mode)) {
            sdra_strlcpy(miss, model_files[i], n);
            return false;
        }
    }
    return true;
}

int sdra_asr_narrowband_dir(char *out, size_t n, sdra_error *err)
{
    char path[4096], miss[32] = "";
    const char *env = getenv("SDRA_NARROWBAND_AM");
    if (env && *env) {
        if (sdra_strlcpy(path, env, sizeof path) >= sizeof path || !complete(path, miss, sizeof miss))
            return sdra_error_set(err, SDRA_ENOTFOUND, "%s: narrowband acoustic model incomplete "
                                  "(no %s; $SDRA_NARROWBAND_AM)", env, miss[0] ? miss : "path");
    } else {
        bool found = sdra_share_path(path, sizeof path, "asr/en-us-8k") == 0 &&
                     complete(path, miss, sizeof miss);
#ifdef SDRA_BUILD_DATA_DIR
        if (!found)
            found = sdra_path_join(path, sizeof path, SDRA_BUILD_DATA_DIR, "asr/en-us-8k") == 0 &&
                    complete(path, miss, sizeof miss);
#endif
        if (!found)
            return sdra_error_set(err, SDRA_ENOTFOUND, "%s: narrowband acoustic model not built "
                                  "(no %s)", path, miss);
    }
    if (sdra_strlcpy(out, path, n) >= n)
        return sdra_error_set(err, SDRA_ELIMIT, "narrowband model path too long");
    return 0;
}

sdra_asr_am sdra_asr_am_resolve(sdra_asr_params *p, sdra_asr_am requested, int source_rate_hz,
                                double high_band_db, char *buf, size_t n)
{
    sdra_asr_am am = sdra_asr_am_choose(requested, source_rate_hz, high_band_db);
    if (am != SDRA_ASR_AM_NARROWBAND)
        return am;
    sdra_error e = {0};
    if (sdra_asr_narrowband_dir(buf, n, &e) < 0) {
        sdra_log(SDRA_LOG_WARN, "%s: using the wideband model for telephone-band audio (%d Hz "
                 "source; recognition will be poor)", e.msg, source_rate_hz);
        return SDRA_ASR_AM_WIDEBAND;
    }
    if (requested == SDRA_ASR_AM_AUTO && source_rate_hz > SDRA_ASR_NARROWBAND_MAX_HZ)
        sdra_log(SDRA_LOG_INFO, "%d Hz source with nothing above the telephone band (%.0f dB): "
                 "narrowband acoustic model", source_rate_hz, high_band_db);
    p->hmm_dir = buf;
    return SDRA_ASR_AM_NARROWBAND;
}
