/*
 * quality.c - how far a transcript's words can be trusted (sdra/transcript.h, "Quality"):
 * the mean word confidence, the share of low-confidence words, an estimate of the word error
 * rate with its band, and the "poor" verdict that puts a package up for review; plus the
 * confidence of the words one finding rests on.
 *
 * The numbers come from the recogniser's word posteriors calibrated on real speech: for each
 * confidence band of 0.1 the share of words that were right when aligned to a reference
 * (`sdra eval asr --confidence`, scripts/calibrate-confidence.sh; the figures and the data are
 * in docs/asr.md, "Word confidence"). Nothing here depends on one call or one sentence.
 */
#include "sdra/transcript.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

/* Share of words right per confidence band [b/10, (b+1)/10), pooled over the calibration set
 * (docs/asr.md, "Word confidence"). */
static const double band_right[10] = {0.300, 0.369, 0.614, 0.761, 0.778, 0.738, 0.902, 0.886, 0.863, 0.975};
/* The spread of the per-file error estimate around the measured WER on the same set: the band
 * reported is [estimate - below, estimate + above]. */
#define EST_BELOW 0.07
#define EST_ABOVE 0.32

static double band_of(float conf)
{
    int b = (int)(conf * 10.0f);
    b = b < 0 ? 0 : b > 9 ? 9 : b;
    return band_right[b];
}

void sdra_transcript_assess(const sdra_transcript *t, sdra_transcript_quality *q)
{
    memset(q, 0, sizeof *q);
    double sum = 0, wrong = 0;
    size_t low = 0;
    for (size_t i = 0; t && i < t->n_utts; i++) {
        const sdra_utterance *u = &t->utts[i];
        for (size_t w = 0; w < u->n_words; w++) {
            float c = u->words[w].conf;
            sum += c;
            low += c < SDRA_CONF_LOW;
            wrong += 1.0 - band_of(c);
            q->n_words++;
        }
    }
    if (!q->n_words)
        return;
    q->mean_conf = sum / (double)q->n_words;
    q->low_share = (double)low / (double)q->n_words;
    q->wer_est = wrong / (double)q->n_words;
    q->wer_low = q->wer_est - EST_BELOW < 0 ? 0 : q->wer_est - EST_BELOW;
    q->wer_high = q->wer_est + EST_ABOVE > 1 ? 1 : q->wer_est + EST_ABOVE;
    q->poor = q->low_share > SDRA_QUALITY_POOR_LOW_SHARE;
}

static double r3(double x) { return round(x * 1000.0) / 1000.0; }

json_t *sdra_transcript_quality_json(const sdra_transcript_quality *q)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "words", json_integer((json_int_t)q->n_words));
    if (!q->n_words) {
        json_object_set_new(o, "mean_conf", json_null());
        json_object_set_new(o, "low_conf_share", json_null());
        json_object_set_new(o, "wer_estimate", json_null());
        json_object_set_new(o, "wer_band", json_null());
        json_object_set_new(o, "poor", json_false());
    } else {
        json_object_set_new(o, "mean_conf", json_real(r3(q->mean_conf)));
        json_object_set_new(o, "low_conf_share", json_real(r3(q->low_share)));
        json_object_set_new(o, "wer_estimate", json_real(r3(q->wer_est)));
        json_object_set_new(o, "wer_band",
                            json_pack("[ff]", r3(q->wer_low), r3(q->wer_high)));
        json_object_set_new(o, "poor", json_boolean(q->poor));
    }
    json_object_set_new(o, "low_conf_below", json_real(SDRA_CONF_LOW));
    json_object_set_new(o, "poor_above_low_share", json_real(SDRA_QUALITY_POOR_LOW_SHARE));
    return o;
}

/* Lower-case alphanumerics of the next word of s into out (at most n-1 bytes); returns the
 * position after it, or NULL at the end. Apostrophes are dropped ("don't" -> "dont"). */
static const char *next_word(const char *s, char *out, size_t n)
{
    while (*s && !isalnum((unsigned char)*s))
        s++;
    if (!*s)
        return NULL;
    size_t j = 0;
    while (*s && (isalnum((unsigned char)*s) || *s == '\'')) {
        if (*s != '\'' && j + 1 < n)
            out[j++] = (char)tolower((unsigned char)*s);
        s++;
    }
    out[j] = 0;
    return s;
}

#define SPAN_MAX_WORDS 64

double sdra_utterance_span_conf(const sdra_utterance *u, const char *text, double *min_conf)
{
    if (min_conf)
        *min_conf = -1;
    if (!u || !u->n_words)
        return -1;
    char want[SPAN_MAX_WORDS][32];
    size_t nw = 0;
    const char *p = text;
    while (p && nw < SPAN_MAX_WORDS && (p = next_word(p, want[nw], sizeof want[nw])))
        if (want[nw][0])
            nw++;
    /* the utterance's words, normalised the same way */
    /* the longest run of u's words equal to a run of text's words */
    size_t best_at = 0, best_len = 0;
    for (size_t s = 0; nw && s < u->n_words; s++)
        for (size_t f = 0; f < nw; f++) {
            size_t k = 0;
            while (f + k < nw && s + k < u->n_words) {
                char w[32];
                if (!next_word(u->words[s + k].w, w, sizeof w) || strcmp(w, want[f + k]))
                    break;
                k++;
            }
            if (k > best_len) {
                best_len = k;
                best_at = s;
            }
        }
    /* the finding's words when they are there in one run (at least half of them), else the
     * whole utterance: the finding rests on it either way */
    size_t from = 0, to = u->n_words;
    if (best_len && best_len * 2 >= nw) {
        from = best_at;
        to = best_at + best_len;
    }
    double sum = 0, lo = 1;
    for (size_t i = from; i < to; i++) {
        sum += u->words[i].conf;
        lo = u->words[i].conf < lo ? u->words[i].conf : lo;
    }
    if (min_conf)
        *min_conf = lo;
    return sum / (double)(to - from);
}
