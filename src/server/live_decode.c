/*
 * live_decode.c - a live call's decoding and its end (docs/live.md). The connection's audio
 * comes in through live_call_audio: appended to the call's recording and to a bounded backlog
 * per channel. One decoder thread per call (live_dec_main) feeds each channel's backlog to its
 * own incremental recognizer (the narrowband model for 8 kHz audio), appends every final
 * utterance to the call's one transcript (roles from the track), hands the transcript to the
 * coach (sdra/live.h) and records the events; a channel that falls behind switches to the fast
 * search and back (degraded mode). `stop`, or the grace running out, ends the decoding (the
 * recognizers' last utterances, no second decode) and the call is stored like an upload (the
 * recording as a WAV, sealed when encryption at rest is on) with the transcript beside it, so
 * the normal job flow records it and runs analyze -> compose -> sync -> report (the transcribe
 * stage takes transcript.live.json instead of decoding).
 *
 * Bounds: the backlog per channel (backlog_s of audio; what arrives beyond it is dropped from
 * recognition, never from the recording, and counted).
 */
#include "live_internal.h"

#include "sdra/live.h"
#include "sdra/log.h"
#include "sdra/transcript.h"
#include "sdra/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- audio ----------------------------------------------------------------------------- */

static void arrival_mark(live_chan *ch, double wall)
{
    if (ch->n_arr && ch->received - ch->arr[(ch->n_arr - 1) % LIVE_ARRIVALS].at < 800)
        return;
    ch->arr[ch->n_arr % LIVE_ARRIVALS].at = ch->received;
    ch->arr[ch->n_arr % LIVE_ARRIVALS].wall = wall;
    ch->n_arr++;
}

/* Wall time when sample `at` of ch arrived (the first mark at or past it), 0 when unknown. */
static double arrival_of(const live_chan *ch, int64_t at)
{
    size_t first = ch->n_arr > LIVE_ARRIVALS ? ch->n_arr - LIVE_ARRIVALS : 0;
    for (size_t i = first; i < ch->n_arr; i++)
        if (ch->arr[i % LIVE_ARRIVALS].at >= at)
            return ch->arr[i % LIVE_ARRIVALS].wall;
    return 0;
}

/* Writes the interleaved frames both channels have (or one's alone when the other is more
 * than 2 s behind: its silence). c->mu held. */
static void rec_flush(live_call *c, bool all)
{
    if (c->raw_fd < 0 || c->rec_failed)
        return;
    size_t n;
    if (c->n_ch == 1) {
        n = c->ch[0].pend_len;
    } else {
        size_t a = c->ch[0].pend_len, b = c->ch[1].pend_len, lim = (size_t)c->rate_hz * 2;
        n = a < b ? a : b;
        if (all || a > n + lim || b > n + lim)
            n = a > b ? a : b; /* the shorter one is padded with silence */
    }
    if (!n)
        return;
    int16_t buf[4096];
    size_t done = 0;
    while (done < n) {
        size_t k = (n - done) * (size_t)c->n_ch > 4096 ? 4096 / (size_t)c->n_ch : n - done;
        for (size_t i = 0; i < k; i++)
            for (int ch = 0; ch < c->n_ch; ch++)
                buf[i * (size_t)c->n_ch + (size_t)ch] = done + i < c->ch[ch].pend_len ? c->ch[ch].pend[done + i] : 0;
        size_t bytes = k * (size_t)c->n_ch * 2;
        sdra_error e = {0};
        if (c->raw_cw ? sdra_crypt_writer_write(c->raw_cw, buf, bytes, &e) < 0
                      : write(c->raw_fd, buf, bytes) != (ssize_t)bytes) {
            c->rec_failed = true;
            sdra_log(SDRA_LOG_ERROR, "live call %s: writing the recording failed: %s", c->id,
                     e.msg[0] ? e.msg : strerror(errno));
            return;
        }
        done += k;
    }
    c->rec_frames += (int64_t)n;
    for (int ch = 0; ch < c->n_ch; ch++) {
        live_chan *h = &c->ch[ch];
        size_t take = h->pend_len < n ? h->pend_len : n;
        memmove(h->pend, h->pend + take, (h->pend_len - take) * sizeof *h->pend);
        h->pend_len -= take;
    }
}

/* Takes n samples of channel ch: into the recording, and into the backlog when it has room. */
int live_call_audio(live_call *c, int ch, const int16_t *pcm, size_t n)
{
    live_chan *h = &c->ch[ch];
    pthread_mutex_lock(&c->mu);
    if (h->pend_len + n > h->pend_cap) {
        size_t cap = h->pend_cap ? h->pend_cap : 16384;
        while (cap < h->pend_len + n)
            cap *= 2;
        int16_t *g = realloc(h->pend, cap * sizeof *g);
        if (!g) {
            pthread_mutex_unlock(&c->mu);
            return -1;
        }
        h->pend = g;
        h->pend_cap = cap;
    }
    memcpy(h->pend + h->pend_len, pcm, n * sizeof *pcm);
    h->pend_len += n;
    rec_flush(c, false);
    size_t room = h->cap - h->len, k = n < room ? n : room;
    for (size_t i = 0; i < k; i++)
        h->ring[(h->head + h->len + i) % h->cap] = pcm[i];
    h->len += k;
    h->received += (int64_t)n;
    if (k < n) {
        h->dropped += (int64_t)(n - k);
        sdra_obs_inc(c->s->obs, "sdra_live_audio_dropped_seconds_total", NULL, (double)(n - k) / c->rate_hz);
    }
    arrival_mark(h, sdra_clock_s());
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

/* ---- the decoder ----------------------------------------------------------------------- */

/* Channel i's lag: its audio received and not yet handed to the recognizer (c->mu held). */
static double chan_lag_s(const live_call *c, int i)
{
    return (double)c->ch[i].len / c->rate_hz;
}

static void lag_update(live_call *c)
{
    double lag = 0;
    for (int i = 0; i < c->n_ch; i++) {
        double l = chan_lag_s(c, i);
        if (l > lag)
            lag = l;
    }
    c->max_lag_s = lag;
}

/* One final utterance of channel ch: appended to the transcript, sent as an event, shown to
 * the coach. */
static void on_utt(live_call *c, sdra_transcript *t, sdra_coach *coach, int ch, sdra_asr_utt *u)
{
    if (!u->n_words)
        return;
    double shift = (double)(c->ch[ch].drop_before + c->ch[ch].base) / c->rate_hz;
    sdra_utterance *x = sdra_transcript_add_utterance(t, ch, u->start_s + shift, u->end_s + shift, NULL);
    if (!x)
        return;
    for (size_t i = 0; i < u->n_words; i++)
        sdra_utterance_add_word(x, u->words[i].w, u->words[i].start_s + shift, u->words[i].end_s + shift,
                                u->words[i].conf);
    sdra_utterance_join_words(x);
    json_t *d = sdra_utterance_to_json(t, x);
    sdra_transcript_sort(t);
    double now = sdra_clock_s();
    pthread_mutex_lock(&c->mu);
    double arrived = arrival_of(&c->ch[ch], (int64_t)((u->end_s) * c->rate_hz) + c->ch[ch].drop_before + c->ch[ch].base);
    if (d) {
        json_object_set_new(d, "channel", json_integer(ch));
        json_object_set_new(d, "role", json_string(sdra_role_name(t->speakers[ch].role)));
        json_object_set_new(d, "lag_s", json_real(c->max_lag_s));
        json_object_set_new(d, "mode", json_string(c->ch[ch].fast ? "degraded" : "normal"));
        if (arrived > 0)
            json_object_set_new(d, "latency_s", json_real(now - arrived));
        live_ev_add(c, "utterance", d);
    }
    pthread_mutex_unlock(&c->mu);
    json_decref(d);
    if (arrived > 0)
        sdra_obs_observe(c->s->obs, "sdra_live_utterance_latency_seconds", NULL, now - arrived);
    sdra_obs_inc(c->s->obs, "sdra_live_utterances_total", NULL, 1);
    srv_notify_event(c->s);
    sdra_error err = {0};
    if (coach && sdra_coach_update(coach, t, live_coach_emit, c, &err) < 0)
        sdra_log(SDRA_LOG_WARN, "live call %s: coach: %s", c->id, err.msg);
}

/* Hands on the recognizer's final utterances; returns how many, or -1. */
static int drain(live_call *c, sdra_transcript *t, sdra_coach *coach, int ch)
{
    for (int n = 0;; n++) {
        sdra_asr_utt u;
        bool ready = false;
        sdra_error err = {0};
        if (sdra_asr_poll(c->ch[ch].asr, &u, &ready, &err) < 0) {
            sdra_log(SDRA_LOG_WARN, "live call %s: recognizer: %s", c->id, err.msg);
            return -1;
        }
        if (!ready)
            return n;
        on_utt(c, t, coach, ch, &u);
        sdra_asr_utt_release(&u);
    }
}

/* Waits on c->cv (c->mu held) for at most ms. */
static void cond_wait_ms(live_call *c, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += ms * 1000000L;
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&c->cv, &c->mu, &ts);
}

/* Each party's microphone hears the other a little (crosstalk, echo): a 10 ms frame more than
 * BLEED_DB below the other channel's loudest frame within +-20 ms is that copy (the rule of the
 * channel diarizer, src/diarize/channel.c) and is attenuated 30 dB before recognition, so each
 * recognizer hears its own party: its words are not the other's, and its pauses end
 * utterances (the recording keeps the audio as it came). */
#define BLEED_DB 15.0
static void bleed_gate(int16_t *a, int16_t *b, size_t n, int rate_hz)
{
    size_t f = (size_t)rate_hz / 100, nf = n / f;
    double pw[2][16];
    int16_t *ch[2] = {a, b};
    if (nf > 16)
        nf = 16;
    for (int c = 0; c < 2; c++)
        for (size_t i = 0; i < nf; i++) {
            double e = 0;
            for (size_t j = 0; j < f; j++)
                e += (double)ch[c][i * f + j] * ch[c][i * f + j];
            pw[c][i] = e / (double)f;
        }
    double ratio = pow(10.0, BLEED_DB / 10.0);
    for (int c = 0; c < 2; c++)
        for (size_t i = 0; i < nf; i++) {
            double other = 0;
            for (size_t j = i >= 2 ? i - 2 : 0; j < nf && j <= i + 2; j++)
                other = pw[1 - c][j] > other ? pw[1 - c][j] : other;
            if (pw[c][i] * ratio < other)
                for (size_t j = 0; j < f; j++)
                    ch[c][i * f + j] = (int16_t)(ch[c][i * f + j] / 32);
        }
}

/* The utterance channel ch is in the middle of, as far as it is recognized: a `partial` event
 * (at most every LIVE_PARTIAL_EVERY_S, and only when the text changed). Never stored: the
 * final `utterance` supersedes it. */
static void send_partial(live_call *c, const sdra_transcript *t, int ch)
{
    live_chan *h = &c->ch[ch];
    double now = sdra_clock_s(), start = -1;
    if (now - h->partial_at < LIVE_PARTIAL_EVERY_S)
        return;
    char text[LIVE_PARTIAL_MAX];
    sdra_error err = {0};
    if (sdra_asr_partial(h->asr, text, sizeof text, &start, &err) < 0 || !text[0] || !strcmp(text, h->partial))
        return;
    h->partial_at = now;
    memcpy(h->partial, text, sizeof text);
    start += (double)(h->drop_before + h->base) / c->rate_hz;
    json_t *d = json_pack("{s:s,s:s,s:f,s:s,s:i}", "speaker", t->speakers[ch].id, "role",
                          sdra_role_name(t->speakers[ch].role), "start", start, "text", text, "channel", ch);
    if (!d)
        return;
    pthread_mutex_lock(&c->mu);
    live_ev_add(c, "partial", d);
    pthread_mutex_unlock(&c->mu);
    json_decref(d);
    srv_notify_event(c->s);
}

/* Degraded mode: channel ch, at an utterance boundary, goes to the fast search (fast) or back.
 * The old recognizer ends its stream (what it holds is the silence after the utterance) and
 * goes back to the cache; the new one starts at the decoded position (h->base). When no
 * recognizer of the other kind can be had, the channel stays as it is. */
static void switch_search(live_call *c, sdra_transcript *t, sdra_coach *coach, int ch, const sdra_asr_params *ap,
                          bool fast)
{
    struct srv_live *L = c->s->live;
    live_chan *h = &c->ch[ch];
    sdra_asr_params p = *ap;
    p.fast_search = fast;
    sdra_asr *next = NULL;
    sdra_error err = {0};
    if (sdra_asr_cache_get(L->decoders, &p, &next, &err) < 0) {
        sdra_log(SDRA_LOG_WARN, "live call %s: no %s recognizer: %s", c->id, fast ? "fast" : "normal", err.msg);
        return;
    }
    if (sdra_asr_end_stream(h->asr, &err) == 0)
        drain(c, t, coach, ch);
    sdra_asr_cache_put(L->decoders, h->asr);
    h->asr = next;
    h->base = h->decoded;
    h->partial[0] = '\0';
    pthread_mutex_lock(&c->mu);
    h->fast = fast;
    c->n_fast += fast ? 1 : -1;
    c->switches++;
    pthread_mutex_unlock(&c->mu);
    sdra_obs_inc(c->s->obs, "sdra_live_search_switches_total", fast ? "to=\"fast\"" : "to=\"normal\"", 1);
    sdra_log(SDRA_LOG_INFO, "live call %s: channel %d %s (lag %.1f s)", c->id, ch,
             fast ? "degraded to the fast search" : "back to the normal search", c->max_lag_s);
}

static int finalize(live_call *c, sdra_transcript *t);

/* A "metrics" event when none went out for LIVE_METRICS_EVERY_S of wall time: the lag is
 * reported while no utterance ends (inside a long one, or while the recognizer works through
 * a backlog), so a client can pace on it and a viewer sees the call is alive. Called and
 * returns with c->mu held. */
static void metrics_timer(live_call *c, const sdra_transcript *t, const sdra_coach *coach)
{
    if (!coach || sdra_clock_s() - c->metrics_wall < LIVE_METRICS_EVERY_S)
        return;
    lag_update(c);
    c->metrics_wall = sdra_clock_s(); /* live_coach_emit sets it too; set here should the copy fail */
    pthread_mutex_unlock(&c->mu);
    json_t *m = sdra_coach_metrics(coach, t);
    if (m)
        live_coach_emit(c, "metrics", m);
    json_decref(m);
    pthread_mutex_lock(&c->mu);
}

void *live_dec_main(void *arg)
{
    live_call *c = arg;
    struct sdra_server *s = c->s;
    struct srv_live *L = s->live;
    sdra_transcript *t = sdra_transcript_create();
    sdra_coach *coach = NULL;
    sdra_error err = {0};
    char hmm[4096];
    sdra_asr_params ap = sdra_asr_default_params();
    /* a live call is decoded as it arrives: the rate alone chooses (no band measurement) */
    sdra_asr_am am = sdra_asr_am_resolve(&ap, SDRA_ASR_AM_AUTO, c->rate_hz, NAN, hmm, sizeof hmm);
    ap.hints[0] = c->ci.contact_name;
    ap.hints[1] = c->ci.company;
    ap.hints[2] = c->ci.rep_name;
    bool ok = t != NULL;
    for (int i = 0; ok && i < c->n_ch; i++) {
        char sid[16];
        snprintf(sid, sizeof sid, "S%d", i + 1);
        sdra_role role = c->rep_ch < 0 ? SDRA_ROLE_UNKNOWN : i == c->rep_ch ? SDRA_ROLE_REP : SDRA_ROLE_PROSPECT;
        ok = sdra_transcript_add_speaker(t, sid, role, c->n_ch == 2 ? i : -1) >= 0 &&
             sdra_asr_cache_get(L->decoders, &ap, &c->ch[i].asr, &err) == 0;
        if (ok && c->rep_ch >= 0) {
            const char *name = i == c->rep_ch ? c->ci.rep_name : c->ci.contact_name;
            if (name)
                t->speakers[i].name = strdup(name);
            sdra_strlcpy(t->speakers[i].role_by, "channel", sizeof t->speakers[i].role_by);
        }
    }
    sdra_coach_params cp = sdra_coach_default_params();
    for (int k = 0; k < s->p.n_live_coach_set; k++) { /* checked when the option was read */
        char name[48];
        const char *v = strchr(s->p.live_coach_set[k], '=');
        if (v && (size_t)(v - s->p.live_coach_set[k]) < sizeof name) {
            memcpy(name, s->p.live_coach_set[k], (size_t)(v - s->p.live_coach_set[k]));
            name[v - s->p.live_coach_set[k]] = '\0';
            sdra_error e2 = {0};
            if (sdra_coach_params_set(&cp, name, v + 1, &e2) < 0)
                sdra_log(SDRA_LOG_WARN, "live call %s: %s", c->id, e2.msg);
        }
    }
    if (ok && sdra_coach_create(&coach, &cp, &err) < 0) {
        sdra_log(SDRA_LOG_WARN, "live call %s: no coaching: %s", c->id, err.msg);
        coach = NULL;
    }
    if (!ok)
        sdra_log(SDRA_LOG_ERROR, "live call %s: recognizer: %s", c->id, err.msg[0] ? err.msg : "out of memory");
    int16_t in[2][1600], up[3200];
    double next_tick = 1.0;
    bool ended[2] = {false, false};
    pthread_mutex_lock(&c->mu);
    for (;;) {
        bool any = false;
        for (int i = 0; i < c->n_ch; i++)
            any |= c->ch[i].len > 0;
        if (!any) {
            if (c->state == L_ENDING || atomic_load(&s->stopping))
                break;
            if (c->state == L_DETACHED && sdra_clock_s() - c->detached_at > s->p.live_grace_s) {
                c->state = L_ENDING; /* no reconnect came: the call ends with what was received */
                c->stop_at = sdra_clock_s();
                continue;
            }
            metrics_timer(c, t, coach);
            cond_wait_ms(c, 100);
            continue;
        }
        /* 0.1 s per channel; two channels in step, so that the bleed gate compares the same
         * instants (one channel alone when the other has sent nothing for a second) */
        size_t k[2] = {0, 0}, block = (size_t)c->rate_hz / 10;
        for (int i = 0; i < c->n_ch; i++)
            k[i] = c->ch[i].len < block ? c->ch[i].len : block;
        if (c->n_ch == 2) {
            size_t m = k[0] < k[1] ? k[0] : k[1];
            bool alone = c->state != L_STREAMING || c->ch[0].len > (size_t)c->rate_hz || c->ch[1].len > (size_t)c->rate_hz;
            if (m || !alone)
                k[0] = k[1] = m;
            if (!k[0] && !k[1]) { /* waiting for the other track (the call is alive: metrics) */
                metrics_timer(c, t, coach);
                cond_wait_ms(c, 20);
                continue;
            }
        }
        for (int i = 0; i < c->n_ch; i++) {
            live_chan *h = &c->ch[i];
            for (size_t j = 0; j < k[i]; j++)
                in[i][j] = h->ring[(h->head + j) % h->cap];
            h->head = (h->head + k[i]) % h->cap;
            h->len -= k[i];
            if (h->dropped > h->drop_before && h->len == 0)
                h->drop_before = h->dropped; /* what was dropped lies before what comes next */
        }
        lag_update(c);
        pthread_mutex_unlock(&c->mu);
        if (c->n_ch == 2 && k[0] == k[1])
            bleed_gate(in[0], in[1], k[0], c->rate_hz);
        for (int i = 0; i < c->n_ch; i++) {
            ended[i] = false;
            if (!ok || !k[i])
                continue;
            const int16_t *feed = in[i];
            size_t nf = k[i];
            if (c->rate_hz == 8000) { /* the recognizer takes 16 kHz: linear interpolation */
                for (size_t j = 0; j < k[i]; j++) {
                    int next = j + 1 < k[i] ? in[i][j + 1] : in[i][j];
                    up[2 * j] = in[i][j];
                    up[2 * j + 1] = (int16_t)((in[i][j] + next) / 2);
                }
                feed = up;
                nf = 2 * k[i];
            }
            ended[i] = sdra_asr_feed(c->ch[i].asr, feed, nf, &err) == 0 && drain(c, t, coach, i) > 0;
            if (!ended[i])
                send_partial(c, t, i);
        }
        pthread_mutex_lock(&c->mu);
        for (int i = 0; i < c->n_ch; i++)
            c->ch[i].decoded += (int64_t)k[i];
        /* degraded mode: judged per channel on its own backlog, switched where an utterance
         * just ended (PocketSphinx cannot change its search mid-utterance) */
        for (int i = 0; ok && i < c->n_ch; i++) {
            double lag = chan_lag_s(c, i);
            if (!ended[i] || sdra_live_degrade_next(c->ch[i].fast, lag, s->p.live_degrade_lag_s,
                                                    LIVE_DEGRADE_LEAVE_S) == c->ch[i].fast)
                continue;
            bool fast = !c->ch[i].fast;
            pthread_mutex_unlock(&c->mu);
            switch_search(c, t, coach, i, &ap, fast);
            pthread_mutex_lock(&c->mu);
        }
        metrics_timer(c, t, coach);
        double now_s = (double)c->ch[0].decoded / c->rate_hz;
        if (coach && now_s >= next_tick) {
            next_tick = now_s + 1.0;
            pthread_mutex_unlock(&c->mu);
            if (sdra_coach_tick(coach, t, now_s, live_coach_emit, c, &err) < 0)
                sdra_log(SDRA_LOG_WARN, "live call %s: coach: %s", c->id, err.msg);
            pthread_mutex_lock(&c->mu);
        }
    }
    pthread_mutex_unlock(&c->mu);
    for (int i = 0; ok && i < c->n_ch; i++)
        if (sdra_asr_end_stream(c->ch[i].asr, &err) == 0)
            drain(c, t, coach, i);
    if (t) {
        if ((t->meta = json_object())) {
            json_object_set_new(t->meta, "engine", json_string(c->ch[0].asr ? sdra_asr_name(c->ch[0].asr) : "none"));
            json_object_set_new(t->meta, "model", json_string(c->ch[0].asr ? sdra_asr_describe(c->ch[0].asr) : ""));
            json_object_set_new(t->meta, "mode", json_string("live"));
            json_object_set_new(t->meta, "acoustic_model", json_string(sdra_asr_am_name(am)));
            json_object_set_new(t->meta, "source_rate_hz", json_integer(c->rate_hz));
            int64_t dropped = 0;
            for (int i = 0; i < c->n_ch; i++)
                dropped += c->ch[i].dropped;
            json_object_set_new(t->meta, "live", json_pack("{s:i,s:f,s:i,s:i}", "reconnects", c->reconnects,
                                                            "dropped_s", (double)dropped / c->rate_hz,
                                                            "alerts", coach ? sdra_coach_alert_count(coach) : 0,
                                                            "search_switches", c->switches));
        }
        finalize(c, t);
    }
    sdra_coach_destroy(coach);
    sdra_transcript_destroy(t);
    for (int i = 0; i < c->n_ch; i++) { /* back to the cache for the next call (a failed one goes) */
        if (ok)
            sdra_asr_cache_put(L->decoders, c->ch[i].asr);
        else
            sdra_asr_destroy(c->ch[i].asr);
        c->ch[i].asr = NULL;
    }
    pthread_mutex_lock(&c->mu);
    c->n_fast = 0;
    pthread_mutex_unlock(&c->mu);
    live_call_unref(L, c);
    pthread_mutex_lock(&L->mu);
    L->n_threads--;
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

/* ---- the end of a call: stored like an upload ------------------------------------------ */

/* The key of the call's own encrypted recording (the only key it names). */
static int raw_key(void *ud, const char *key_id, const unsigned char *wrapped, sdra_crypt_key **out, sdra_error *err)
{
    const sdra_crypt_key *dk = ud;
    if (wrapped || strcmp(key_id, sdra_crypt_key_id(dk)))
        return sdra_error_set(err, SDRA_EINVAL, "the live recording names another key");
    return sdra_crypt_key_from_bytes(out, key_id, sdra_crypt_key_bytes(dk), err);
}

/* The recording as a WAV at tmp (encrypted under dk when given: the raw recording is then
 * encrypted under it too, and read back through a reader). */
static int write_wav(live_call *c, int fd, sdra_crypt_key *dk, size_t *bytes, sdra_error *err)
{
    sdra_crypt_writer *cw = NULL;
    sdra_crypt_reader *rd = NULL;
    lseek(c->raw_fd, 0, SEEK_SET);
    if (dk && (sdra_crypt_reader_open(&rd, c->raw_fd, raw_key, dk, err) < 0 ||
               sdra_crypt_writer_open(&cw, fd, dk, NULL, err) < 0)) {
        sdra_crypt_reader_close(rd);
        return err->code ? err->code : SDRA_EIO;
    }
    uint32_t data = (uint32_t)(c->rec_frames * c->n_ch * 2);
    uint8_t h[44];
    uint32_t v[] = {36 + data, 16, (uint32_t)c->rate_hz, (uint32_t)(c->rate_hz * c->n_ch * 2), data};
    memcpy(h, "RIFF", 4);
    memcpy(h + 8, "WAVEfmt ", 8);
    memcpy(h + 36, "data", 4);
    for (int i = 0; i < 4; i++) {
        h[4 + i] = (uint8_t)(v[0] >> (8 * i));
        h[16 + i] = (uint8_t)(v[1] >> (8 * i));
        h[24 + i] = (uint8_t)(v[2] >> (8 * i));
        h[28 + i] = (uint8_t)(v[3] >> (8 * i));
        h[40 + i] = (uint8_t)(v[4] >> (8 * i));
    }
    h[20] = 1, h[21] = 0;                         /* PCM */
    h[22] = (uint8_t)c->n_ch, h[23] = 0;
    h[32] = (uint8_t)(c->n_ch * 2), h[33] = 0;    /* block align */
    h[34] = 16, h[35] = 0;
    int rc = 0;
    char buf[65536];
    rc = cw ? sdra_crypt_writer_write(cw, h, sizeof h, err) : sdra_write_all(fd, h, sizeof h);
    for (;;) {
        size_t n = 0;
        if (rc < 0)
            break;
        if (rd) {
            rc = sdra_crypt_reader_read(rd, buf, sizeof buf, &n, err);
        } else {
            ssize_t got = read(c->raw_fd, buf, sizeof buf);
            if (got < 0)
                rc = -1;
            n = got > 0 ? (size_t)got : 0;
        }
        if (rc < 0 || n == 0)
            break;
        rc = cw ? sdra_crypt_writer_write(cw, buf, n, err) : sdra_write_all(fd, buf, n);
    }
    sdra_crypt_reader_close(rd);
    if (rc < 0 && !err->msg[0])
        sdra_error_set(err, SDRA_EIO, "writing the recording failed: %s", strerror(errno));
    if (cw && sdra_crypt_writer_close(cw, rc == 0 ? err : NULL) < 0)
        rc = -1;
    if (rc == 0 && fdatasync(fd) != 0)
        rc = sdra_error_set(err, SDRA_EIO, "storing the recording failed: %s", strerror(errno));
    *bytes = sizeof h + data;
    return rc < 0 ? (err->code ? err->code : SDRA_EIO) : 0;
}

static int finalize(live_call *c, sdra_transcript *t)
{
    struct sdra_server *s = c->s;
    sdra_error err = {0};
    sdra_crypt_key *dk = NULL;
    char wav[PATH_MAX] = "", tj[PATH_MAX] = "";
    int fd = -1, rc = 0;
    srv_submit_answer ans = {0};
    pthread_mutex_lock(&c->mu);
    rec_flush(c, true);
    if (c->raw_cw) { /* the recording's last chunk */
        sdra_crypt_writer *w = c->raw_cw;
        c->raw_cw = NULL;
        if (sdra_crypt_writer_close(w, &err) < 0) {
            sdra_log(SDRA_LOG_ERROR, "live call %s: sealing the recording failed: %s", c->id, err.msg);
            c->rec_failed = true;
        }
    }
    dk = c->dk; /* the call's key: finalize stores the call under it */
    c->dk = NULL;
    int64_t frames = c->rec_frames;
    bool rec_failed = c->rec_failed;
    pthread_mutex_unlock(&c->mu);
    t->duration_s = (double)frames / c->rate_hz;
    free(t->source);
    t->source = strdup("audio.wav");
    if (c->ci.call_date && !t->recorded_date)
        t->recorded_date = strdup(c->ci.call_date);
    if (rec_failed) {
        rc = sdra_error_set(&err, SDRA_EIO, "the recording could not be written");
        goto done;
    }
    if (frames == 0) { /* a stream that never sent audio leaves no call behind */
        sdra_strlcpy(ans.status, "empty", sizeof ans.status);
        goto done;
    }
    if (s->kr && !dk) {
        rc = sdra_error_set(&err, SDRA_EINTERNAL, "the call's key is missing");
        goto done;
    }
    snprintf(wav, sizeof wav, "%s/tmp/live-XXXXXX", s->data_dir);
    if ((fd = mkstemp(wav)) < 0) {
        wav[0] = '\0';
        rc = sdra_error_set(&err, SDRA_EIO, "cannot store the recording: %s", strerror(errno));
        goto done;
    }
    size_t bytes = 0;
    if ((rc = write_wav(c, fd, dk, &bytes, &err)) < 0)
        goto done;
    /* the transcript the decoding made, beside the audio (sealed like call.json) */
    snprintf(tj, sizeof tj, "%s/tmp/live-XXXXXX", s->data_dir);
    int tfd = mkstemp(tj);
    if (tfd < 0) {
        tj[0] = '\0';
        rc = sdra_error_set(&err, SDRA_EIO, "cannot store the transcript: %s", strerror(errno));
        goto done;
    }
    close(tfd);
    json_t *doc = sdra_transcript_to_json(t);
    srv_seal sl;
    const sdra_seal_ops *prev = NULL;
    if (dk) {
        srv_seal_init(&sl, s->kr, dk);
        prev = sdra_seal_set(&sl.ops);
    }
    rc = doc ? sdra_json_write_file(tj, doc, &err) : sdra_error_set(&err, SDRA_ENOMEM, "out of memory");
    if (dk)
        sdra_seal_set(prev);
    json_decref(doc);
    if (rc < 0)
        goto done;
    if (!c->ci.call_date) {
        char today[11];
        sdra_date_today(today);
        sdra_call_info_set(&c->ci, "call_date", today, NULL);
    }
    if (!c->ci.consent)
        sdra_call_info_set(&c->ci, "consent", "unknown", NULL);
    free(c->ci.source);
    c->ci.source = strdup("live");
    rc = srv_call_submit_ex(s, c->org, c->key_id, c->ip, NULL, c->started_ms, wav, "audio.wav", bytes, &c->ci, dk,
                            &ans, &err, c->id, tj, "transcript.live.json");
done:
    if (fd >= 0)
        close(fd);
    if (wav[0])
        unlink(wav);
    if (tj[0])
        unlink(tj);
    sdra_crypt_key_destroy(dk);
    double now = sdra_clock_s();
    pthread_mutex_lock(&c->mu);
    json_t *d = json_pack("{s:s,s:s,s:f,s:f}", "id", c->id, "status", rc == 0 ? ans.status : "failed", "duration_s",
                          t->duration_s, "finalize_s", c->stop_at > 0 ? now - c->stop_at : 0.0);
    if (rc == 0 && frames > 0)
        json_object_set_new(d, "links", srv_call_links(c->id));
    else
        json_object_set_new(d, "error", json_string(err.msg));
    live_ev_add(c, "done", d);
    json_decref(d);
    c->state = L_DONE;
    c->done_at = now;
    if (c->raw_fd >= 0) {
        close(c->raw_fd);
        c->raw_fd = -1;
    }
    if (c->raw_path[0]) {
        unlink(c->raw_path);
        c->raw_path[0] = '\0';
    }
    pthread_mutex_unlock(&c->mu);
    sdra_log_ctx lc = {.call_id = c->id, .duration_ms = -1};
    if (rc == 0)
        sdra_logc(SDRA_LOG_INFO, &lc, "live call ended: %.1f s of audio, %zu utterances", t->duration_s, t->n_utts);
    else
        sdra_logc(SDRA_LOG_ERROR, &lc, "live call could not be stored: %s", err.msg);
    char labels[40];
    snprintf(labels, sizeof labels, "outcome=\"%s\"", rc < 0 ? "failed" : frames ? "stored" : "empty");
    sdra_obs_inc(s->obs, "sdra_live_calls_total", labels, 1);
    srv_notify_event(s);
    return rc;
}
