/*
 * report.c - the call report (sdra/report.h). Two steps:
 *
 *   1. sdra_report_view: the view model, one JSON document ("sdra.call_view/1") built from
 *      call.json, transcript.json, analysis.json, email.json and crm.json. Every decision and
 *      every number is made here (speaker names and colours, talk time, the sentiment chart's
 *      geometry, dates spelled out, times as m:ss), read defensively: a missing field leaves
 *      its part null or empty; only a missing call or analysis is an error. It holds no server
 *      path (the CRM's location is left out), so the HTTP API serves it as it is
 *      (GET /v1/calls/{id}/view) and the web app's call page shares it.
 *   2. sdra_report_render_view: the page, from the template data/report/report.html.tmpl with
 *      data/report/report.css inlined (and data/report/report.js when the page has an audio
 *      player), so that report.html stays one offline file. The template holds the markup and
 *      the copy; every string from the view is HTML-escaped by the engine, and the page's CSP
 *      allows no script but that one file, by its hash.
 */
#include "sdra/report.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "sdra/buf.h"
#include "sdra/call.h"
#include "sdra/template.h"
#include "sdra/util.h"

#define MAX_SPEAKERS 16
#define MAX_CHART_DOTS 1500     /* beyond this the chart draws lines only */
#define SMOOTH_FROM 40          /* a speaker with more scored utterances gets a moving average */
#define ASSET_MAX_BYTES (256u << 10)

typedef struct speaker {
    char id[32];
    char label[96];
    const char *role;
    const char *color;
    double talk_s;
} speaker;

typedef struct page {
    speaker spk[MAX_SPEAKERS];
    int n_spk;
    const json_t *call, *transcript, *analysis, *email, *crm;
    double duration_s;
    int rc; /* first failure (out of memory) */
} page;

static const char *const palette[] = {"#16a34a", "#9333ea", "#0891b2", "#be123c", "#a16207", "#475569"};

/* ---------- building JSON ---------- */

/* Sets key to v (a new reference; NULL means out of memory and is recorded). */
static void set(page *p, json_t *o, const char *key, json_t *v)
{
    if (!v || json_object_set_new(o, key, v) < 0)
        p->rc = SDRA_ENOMEM;
}

/* Sets key to the string s, or null when s is NULL. */
static void set_s(page *p, json_t *o, const char *key, const char *s)
{
    set(p, o, key, s ? json_string(s) : json_null());
}

static void set_f(page *p, json_t *o, const char *key, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void set_f(page *p, json_t *o, const char *key, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    set(p, o, key, json_string(tmp));
}

static json_t *obj(page *p)
{
    json_t *o = json_object();
    if (!o)
        p->rc = SDRA_ENOMEM;
    return o;
}

static void push(page *p, json_t *arr, json_t *v)
{
    if (!v || json_array_append_new(arr, v) < 0)
        p->rc = SDRA_ENOMEM;
}

/* ---------- reading documents ---------- */

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && *s ? s : NULL;
}

static bool jnum(const json_t *o, const char *key, double *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        return false;
    *out = json_number_value(v);
    return isfinite(*out);
}

/* "m:ss", or "h:mm:ss" from an hour on. */
static void fmt_time(char *out, size_t n, double t)
{
    if (!(t >= 0))
        t = 0;
    long s = (long)(t + 0.5);
    if (s >= 3600)
        snprintf(out, n, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    else
        snprintf(out, n, "%ld:%02ld", s / 60, s % 60);
}

/* "Thursday, November 26, 2026" (short: "Thu, Nov 26, 2026") for a valid YYYY-MM-DD, else the
 * text as given; NULL for NULL. */
static json_t *date_text(const char *date, bool short_form)
{
    int y, m, d;
    if (!date)
        return json_null();
    if (sdra_date_validate(date) == 0 && sscanf(date, "%4d-%2d-%2d", &y, &m, &d) == 3) {
        struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12};
        time_t t = timegm(&tm);
        struct tm out;
        char buf[64];
        if (t != (time_t)-1 && gmtime_r(&t, &out) &&
            strftime(buf, sizeof buf, short_form ? "%a, %b %-d, %Y" : "%A, %B %-d, %Y", &out))
            return json_string(buf);
    }
    return json_string(date);
}

/* ---------- speakers ---------- */

static speaker *find_speaker(page *p, const char *id)
{
    for (int i = 0; i < p->n_spk; i++)
        if (!strcmp(p->spk[i].id, id))
            return &p->spk[i];
    return NULL;
}

/* A role as a static string: "rep", "prospect" or "unknown". */
static const char *role_norm(const char *role)
{
    if (role && !strcmp(role, "rep"))
        return "rep";
    if (role && !strcmp(role, "prospect"))
        return "prospect";
    return "unknown";
}

/* The speaker with that id, added (role unknown) when first seen; NULL past MAX_SPEAKERS. */
static speaker *speaker_for(page *p, const char *id, const char *role)
{
    if (!id)
        return NULL;
    speaker *s = find_speaker(p, id);
    if (s || p->n_spk >= MAX_SPEAKERS)
        return s;
    s = &p->spk[p->n_spk++];
    memset(s, 0, sizeof *s);
    sdra_strlcpy(s->id, id, sizeof s->id);
    s->role = role_norm(role);
    return s;
}

static void speakers_collect(page *p)
{
    /* Speakers and names from the transcript, then the analysis (which may know names). */
    const json_t *lists[2] = {json_object_get(p->transcript, "speakers"), json_object_get(p->analysis, "speakers")};
    for (int l = 0; l < 2; l++) {
        size_t i;
        json_t *s;
        if (!json_is_array(lists[l]))
            continue;
        json_array_foreach(lists[l], i, s)
        {
            speaker *sp = speaker_for(p, jstr(s, "id"), jstr(s, "role"));
            if (!sp)
                continue;
            if (!strcmp(sp->role, "unknown")) /* the transcript's role wins when it has one */
                sp->role = role_norm(jstr(s, "role"));
            if (!sp->label[0] && jstr(s, "name"))
                sdra_strlcpy(sp->label, jstr(s, "name"), sizeof sp->label);
        }
    }
    /* Talk time from utterance times; speakers only seen here are added. */
    json_t *utts = json_object_get(p->transcript, "utterances");
    size_t i;
    json_t *u;
    double last_end = 0;
    json_array_foreach(utts, i, u)
    {
        double st, en;
        speaker *sp = speaker_for(p, jstr(u, "speaker"), NULL);
        if (jnum(u, "start", &st) && jnum(u, "end", &en) && en > st) {
            if (sp)
                sp->talk_s += en - st;
            if (en > last_end)
                last_end = en;
        }
    }
    /* Without utterance times, the analysis' own talk metrics. */
    if (last_end <= 0) {
        json_t *ms = json_object_get(json_object_get(p->analysis, "metrics"), "speakers");
        json_array_foreach(ms, i, u)
        {
            double tt;
            speaker *sp = speaker_for(p, jstr(u, "speaker"), jstr(u, "role"));
            if (sp && jnum(u, "talk_time_s", &tt) && tt > 0)
                sp->talk_s = tt;
        }
    }
    const char *rep_name = jstr(p->call, "rep_name"), *contact_name = jstr(p->call, "contact_name");
    int n_prospects = 0;
    for (int k = 0; k < p->n_spk; k++)
        n_prospects += !strcmp(p->spk[k].role, "prospect");
    int other = 0;
    for (int k = 0; k < p->n_spk; k++) {
        speaker *sp = &p->spk[k];
        if (!strcmp(sp->role, "rep"))
            sp->color = "#2563eb";
        else if (!strcmp(sp->role, "prospect") && n_prospects == 1)
            sp->color = "#ea580c";
        else
            sp->color = palette[other++ % (int)(sizeof palette / sizeof palette[0])];
        if (!sp->label[0]) {
            const char *l = !strcmp(sp->role, "rep") ? (rep_name ? rep_name : "Rep")
                            : !strcmp(sp->role, "prospect") && n_prospects == 1 ? (contact_name ? contact_name : "Prospect")
                                                                                : sp->id;
            sdra_strlcpy(sp->label, l, sizeof sp->label);
        }
    }
    /* Duration: the transcript's, else the end of its last utterance, else the last scored
     * utterance of the analysis. */
    double d = 0;
    if (!jnum(p->transcript, "duration", &d) || d <= 0)
        d = last_end;
    if (d <= 0) {
        json_t *su = json_object_get(json_object_get(p->analysis, "sentiment"), "utterances");
        json_array_foreach(su, i, u)
        {
            double st;
            if (jnum(u, "start", &st) && st + 1 > d)
                d = st + 1;
        }
    }
    p->duration_s = d;
}


/* {"label", "color"} of a known speaker, else null (the template shows the raw id). */
static void set_who(page *p, json_t *o, const char *id)
{
    speaker *sp = id ? find_speaker(p, id) : NULL;
    if (!sp) {
        set(p, o, "who", json_null());
        set_s(p, o, "who_id", id ? id : "");
        return;
    }
    json_t *w = obj(p);
    if (w) {
        set_s(p, w, "id", sp->id);
        set_s(p, w, "label", sp->label);
        set_s(p, w, "color", sp->color);
    }
    set(p, o, "who", w);
    set_s(p, o, "who_id", sp->id);
}

/* "at" (m:ss) and "start" (seconds, for data-start) of a finding, or nulls. */
static void set_at(page *p, json_t *o, const json_t *src)
{
    double t;
    if (jnum(src, "start", &t)) {
        char at[32];
        fmt_time(at, sizeof at, t);
        set_s(p, o, "at", at);
        set_f(p, o, "start", "%.3f", t < 0 ? 0 : t);
    } else {
        set(p, o, "at", json_null());
        set(p, o, "start", json_null());
    }
}

/* "status_quo" -> "status quo". */
static json_t *pretty(const char *type)
{
    char buf[64];
    sdra_strlcpy(buf, type, sizeof buf);
    for (char *c = buf; *c; c++)
        if (*c == '_')
            *c = ' ';
    return json_string(buf);
}

/* ---------- the view's parts ---------- */

static void view_header(page *p, json_t *v)
{
    const json_t *c = p->call;
    const char *name = jstr(c, "contact_name"), *company = jstr(c, "company");
    json_t *title = obj(p), *contact = obj(p);
    if (!title || !contact) {
        json_decref(title);
        json_decref(contact);
        return;
    }
    set_s(p, title, "name", name ? name : company ? company : "call");
    set_s(p, title, "company", name ? company : NULL);
    set_s(p, title, "call_date", jstr(c, "call_date"));
    set(p, v, "title", title);
    if (!name)
        name = jstr(p->analysis, "prospect_name");
    set_s(p, contact, "name", name ? name : company);
    set_s(p, contact, "company", name ? company : NULL);
    set_s(p, contact, "email", jstr(c, "contact_email"));
    set_s(p, contact, "rep_name", jstr(c, "rep_name"));
    /* the contact's time zone (an IANA name) when the call names one: the web app schedules the
     * email in it */
    set_s(p, contact, "timezone", jstr(c, "contact_timezone") ? jstr(c, "contact_timezone") : jstr(c, "timezone"));
    set(p, v, "contact", contact);
    const char *date = jstr(c, "call_date") ? jstr(c, "call_date") : jstr(p->analysis, "call_date");
    set_s(p, v, "call_date", date);
    set(p, v, "date_short", date_text(date, true));
    char t[32];
    fmt_time(t, sizeof t, p->duration_s);
    set(p, v, "duration_s", json_real(p->duration_s));
    set_s(p, v, "duration", p->duration_s > 0 ? t : NULL);
    set_s(p, v, "direction", jstr(c, "direction"));
    set_s(p, v, "outcome", jstr(p->analysis, "outcome"));
    double s;
    if (jnum(json_object_get(p->analysis, "sentiment"), "overall", &s))
        set_f(p, v, "sentiment_overall", "%+.2f", s);
    else
        set(p, v, "sentiment_overall", json_null());
    set_s(p, v, "summary", jstr(p->analysis, "summary"));
    json_t *prefs = json_object_get(p->analysis, "contact_preferences");
    bool dnc = json_is_true(json_object_get(prefs, "do_not_call"));
    bool dne = json_is_true(json_object_get(prefs, "do_not_email"));
    json_t *cmp = dnc || dne ? json_pack("{s:b, s:b, s:b}", "do_not_call", dnc, "do_not_email", dne,
                                        "both", dnc && dne)
                             : json_null();
    set(p, v, "compliance", cmp);
}

/* The transcript was poor (its "quality" block, else the analysis' copy) and why the package
 * needs review (email.json "review_reasons"). */
static void view_quality(page *p, json_t *v)
{
    const json_t *q = json_object_get(p->transcript, "quality");
    if (!json_is_object(q))
        q = json_object_get(p->analysis, "quality");
    double low, mean, wer, lo = 0, hi = 0;
    const json_t *band = json_object_get(q, "wer_band");
    json_t *out = json_null();
    if (json_is_true(json_object_get(q, "poor")) && jnum(q, "low_conf_share", &low) &&
        jnum(q, "mean_conf", &mean) && jnum(q, "wer_estimate", &wer)) {
        if (json_is_array(band) && json_array_size(band) == 2) {
            lo = json_number_value(json_array_get(band, 0));
            hi = json_number_value(json_array_get(band, 1));
        }
        json_decref(out);
        out = obj(p);
        if (out) {
            set_f(p, out, "low_conf_pct", "%.0f", 100 * low);
            set_f(p, out, "mean_conf", "%.2f", mean);
            set_f(p, out, "wer_pct", "%.0f", 100 * wer);
            set_f(p, out, "wer_low_pct", "%.0f", 100 * lo);
            set_f(p, out, "wer_high_pct", "%.0f", 100 * hi);
        }
    }
    set(p, v, "quality", out);
    const json_t *why = json_object_get(p->email, "review_reasons");
    json_t *reasons = json_array();
    if (!reasons) {
        p->rc = SDRA_ENOMEM;
        return;
    }
    if (json_is_true(json_object_get(p->email, "needs_review")) && json_is_array(why)) {
        size_t i;
        const json_t *r;
        json_array_foreach(why, i, r)
            if (json_is_string(r))
                push(p, reasons, json_string(json_string_value(r)));
    }
    set(p, v, "review", reasons);
}

static void view_speakers(page *p, json_t *v)
{
    json_t *arr = json_array();
    double total = 0;
    for (int k = 0; k < p->n_spk; k++)
        total += p->spk[k].talk_s;
    for (int k = 0; arr && k < p->n_spk; k++) {
        speaker *sp = &p->spk[k];
        json_t *o = obj(p);
        if (!o)
            break;
        char t[32];
        fmt_time(t, sizeof t, sp->talk_s);
        set_s(p, o, "id", sp->id);
        set_s(p, o, "label", sp->label);
        set_s(p, o, "role", sp->role);
        set_s(p, o, "color", sp->color);
        set(p, o, "talk_s", json_real(sp->talk_s));
        set_s(p, o, "talk", t);
        double pct = total > 0 ? 100 * sp->talk_s / total : 0;
        set_f(p, o, "talk_pct", "%.1f", pct);
        set_f(p, o, "talk_pct_round", "%.0f", pct);
        push(p, arr, o);
    }
    set(p, v, "speakers", arr ? arr : NULL);
    set(p, v, "has_talk", json_boolean(total > 0));
}

/* The speaker of a sentiment entry: its own, else that of transcript utterance "i". */
static const char *sentiment_speaker(page *p, const json_t *u)
{
    const char *s = jstr(u, "speaker");
    if (s)
        return s;
    json_t *i = json_object_get(u, "i");
    if (!json_is_integer(i))
        return NULL;
    return jstr(json_array_get(json_object_get(p->transcript, "utterances"), (size_t)json_integer_value(i)), "speaker");
}

/* The sentiment chart's geometry in a 900 x 240 box: grid, axis ticks, one line per speaker
 * (a centred moving average on long calls) and a dot per score while there are few enough. */
static void view_chart(page *p, json_t *v)
{
    json_t *su = json_object_get(json_object_get(p->analysis, "sentiment"), "utterances");
    if (!json_is_array(su) || json_array_size(su) == 0 || p->duration_s <= 0) {
        set(p, v, "chart", json_null());
        return;
    }
    const double W = 900, H = 240, ml = 44, mr = 12, mt = 12, mb = 36;
    const double pw = W - ml - mr, ph = H - mt - mb, dur = p->duration_s;
    json_t *ch = obj(p), *grid = json_array(), *ticks = json_array(), *lines = json_array();
    if (!ch || !grid || !ticks || !lines) {
        p->rc = SDRA_ENOMEM;
        json_decref(ch), json_decref(grid), json_decref(ticks), json_decref(lines);
        return;
    }
    set_f(p, ch, "view_box", "0 0 %.0f %.0f", W, H);
    for (int g = -2; g <= 2; g++) { /* horizontal grid at -1, -0.5, 0, 0.5, 1 */
        double y = mt + (1 - g / 2.0) / 2 * ph;
        json_t *o = obj(p);
        if (!o)
            break;
        set_f(p, o, "x1", "%.1f", ml);
        set_f(p, o, "x2", "%.1f", ml + pw);
        set_f(p, o, "y", "%.1f", y);
        set_s(p, o, "stroke", g == 0 ? "#9ca3af" : "#e5e7eb");
        if (g % 2 == 0) {
            set_f(p, o, "label_x", "%.1f", ml - 6);
            set_f(p, o, "label_y", "%.1f", y + 4);
            set_s(p, o, "label", g == 2 ? "+1" : g == 0 ? "0" : "\u22121");
        } else {
            set(p, o, "label", json_null());
        }
        push(p, grid, o);
    }
    set(p, ch, "grid", grid);
    /* Time axis: ticks every 1, 2, 5, 10, 15, 30 or 60 minutes (seconds for short calls). */
    static const double steps[] = {10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600};
    double step = steps[sizeof steps / sizeof steps[0] - 1];
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++)
        if (dur / steps[k] <= 10 && (steps[k] >= 60 || dur < 120)) { /* minutes from 2 min on */
            step = steps[k];
            break;
        }
    double base = mt + ph;
    set_f(p, ch, "base_x1", "%.1f", ml);
    set_f(p, ch, "base_x2", "%.1f", ml + pw);
    set_f(p, ch, "base_y", "%.1f", base);
    set_f(p, ch, "tick_y2", "%.1f", base + 4);
    set_f(p, ch, "tick_label_y", "%.1f", base + 16);
    for (double t = 0; t <= dur + 1e-6; t += step) {
        json_t *o = obj(p);
        if (!o)
            break;
        char label[32];
        if (step >= 60)
            snprintf(label, sizeof label, "%.0f", t / 60);
        else
            fmt_time(label, sizeof label, t);
        set_f(p, o, "x", "%.1f", ml + t / dur * pw);
        set_s(p, o, "label", label);
        push(p, ticks, o);
    }
    set(p, ch, "ticks", ticks);
    set_f(p, ch, "axis_x", "%.1f", ml + pw / 2);
    set_f(p, ch, "axis_y", "%.1f", H - 4);
    set_s(p, ch, "axis_title", step >= 60 ? "minutes" : "minutes:seconds");
    size_t n = json_array_size(su);
    double *pt = malloc(2 * n * sizeof *pt);
    char *pts = malloc(n * 24 + 1);
    if (!pt || !pts) {
        p->rc = SDRA_ENOMEM;
        free(pt);
        free(pts);
        json_decref(lines);
        json_decref(ch);
        return;
    }
    int smooth_w = 0;
    for (int k = 0; k < p->n_spk; k++) {
        speaker *sp = &p->spk[k];
        size_t np = 0, i;
        json_t *u;
        json_array_foreach(su, i, u)
        {
            const char *id = sentiment_speaker(p, u);
            double t, s;
            if (!id || strcmp(id, sp->id) || !jnum(u, "start", &t) || !jnum(u, "score", &s))
                continue;
            pt[2 * np] = t < 0 ? 0 : t > dur ? dur : t;
            pt[2 * np + 1] = s < -1 ? -1 : s > 1 ? 1 : s;
            np++;
        }
        if (np == 0)
            continue;
        size_t half = np > SMOOTH_FROM ? np / SMOOTH_FROM : 0;
        if (half && (int)(2 * half + 1) > smooth_w)
            smooth_w = (int)(2 * half + 1);
        size_t len = 0;
        for (size_t j = 0; j < np; j++) {
            double sum = 0;
            size_t lo = j >= half ? j - half : 0, hi = j + half < np ? j + half : np - 1;
            for (size_t q = lo; q <= hi; q++)
                sum += pt[2 * q + 1];
            double avg = sum / (double)(hi - lo + 1);
            len += (size_t)snprintf(pts + len, 25, "%.1f,%.1f ", ml + pt[2 * j] / dur * pw, mt + (1 - avg) / 2 * ph);
        }
        json_t *line = obj(p), *dots = json_array();
        if (!line || !dots) {
            json_decref(line);
            json_decref(dots);
            p->rc = SDRA_ENOMEM;
            break;
        }
        set_s(p, line, "speaker", sp->id);
        set_s(p, line, "label", sp->label);
        set_s(p, line, "color", sp->color);
        set_s(p, line, "points", pts);
        for (size_t j = 0; n <= MAX_CHART_DOTS && j < np; j++) {
            json_t *d = obj(p);
            if (!d)
                break;
            char at[32];
            fmt_time(at, sizeof at, pt[2 * j]);
            set_f(p, d, "cx", "%.1f", ml + pt[2 * j] / dur * pw);
            set_f(p, d, "cy", "%.1f", mt + (1 - pt[2 * j + 1]) / 2 * ph);
            set_s(p, d, "r", half ? "2" : "2.5");
            set(p, d, "faint", json_boolean(half));
            set_s(p, d, "at", at);
            set_f(p, d, "score", "%+.2f", pt[2 * j + 1]);
            push(p, dots, d);
        }
        set(p, line, "dots", dots);
        push(p, lines, line);
    }
    free(pt);
    free(pts);
    set(p, ch, "lines", lines);
    double pe;
    if (jnum(json_object_get(p->analysis, "sentiment"), "prospect_end", &pe))
        set_f(p, ch, "prospect_end", "%+.2f", pe);
    else
        set(p, ch, "prospect_end", json_null());
    set(p, ch, "smooth_window", smooth_w ? json_integer(smooth_w) : json_null());
    set(p, v, "chart", ch);
}

/* The analysis' talk metrics per speaker, when it has them. */
static void view_metrics(page *p, json_t *v)
{
    json_t *m = json_object_get(p->analysis, "metrics");
    json_t *ms = json_object_get(m, "speakers");
    json_t *rows = json_array();
    if (!rows) {
        p->rc = SDRA_ENOMEM;
        return;
    }
    size_t i;
    json_t *u;
    json_array_foreach(ms, i, u)
    {
        if (!json_is_object(u))
            continue;
        json_t *o = obj(p);
        if (!o)
            break;
        double x;
        set_who(p, o, jstr(u, "speaker"));
        static const char *const keys[] = {"words_per_minute", "questions", "turns", "interruptions"};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            if (jnum(u, keys[k], &x))
                set_f(p, o, keys[k], "%.0f", x);
            else
                set(p, o, keys[k], json_null());
        }
        char t[32];
        if (jnum(u, "longest_monologue_s", &x)) {
            fmt_time(t, sizeof t, x);
            set_s(p, o, "longest_monologue", t);
        } else {
            set(p, o, "longest_monologue", json_null());
        }
        push(p, rows, o);
    }
    set(p, v, "metrics", rows);
    double x;
    if (json_array_size(rows) && jnum(m, "patience_s", &x))
        set_f(p, v, "patience", "%.1f", x);
    else
        set(p, v, "patience", json_null());
}

static void view_objections(page *p, json_t *v)
{
    json_t *arr = json_array();
    if (!arr) {
        p->rc = SDRA_ENOMEM;
        return;
    }
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(p->analysis, "objections"), i, o)
    {
        if (!json_is_object(o))
            continue;
        json_t *x = obj(p);
        if (!x)
            break;
        set_s(p, x, "type", jstr(o, "type") ? jstr(o, "type") : "other");
        set(p, x, "type_label", pretty(jstr(o, "type") ? jstr(o, "type") : "other"));
        set_s(p, x, "text", jstr(o, "text"));
        set(p, x, "learned", json_boolean(json_is_true(json_object_get(o, "learned"))));
        set_who(p, x, jstr(o, "speaker"));
        set_at(p, x, o);
        push(p, arr, x);
    }
    set(p, v, "objections", arr);
    /* the built-in talking points for them: coaching for the rep, never sent */
    json_t *co = json_array();
    if (!co) {
        p->rc = SDRA_ENOMEM;
        return;
    }
    json_array_foreach(json_object_get(p->email, "coaching"), i, o)
    {
        json_t *x = obj(p);
        if (!x)
            break;
        set_s(p, x, "label", jstr(o, "label") ? jstr(o, "label") : jstr(o, "type"));
        set_s(p, x, "point", jstr(o, "point"));
        push(p, co, x);
    }
    set(p, v, "coaching", co);
}

/* Findings with text, and time/speaker when given (pain points, intents); type_key names the
 * kind of finding (shown as a tag, the text then quoted). */
static json_t *findings(page *p, const json_t *arr, const char *type_key)
{
    json_t *out = json_array();
    if (!out) {
        p->rc = SDRA_ENOMEM;
        return NULL;
    }
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        const char *text = json_is_string(o) ? json_string_value(o) : jstr(o, "text");
        const char *type = type_key ? jstr(o, type_key) : NULL;
        if (!text && !type)
            continue;
        json_t *x = obj(p);
        if (!x)
            break;
        set(p, x, "type_label", type ? pretty(type) : json_null());
        set_s(p, x, "text", text);
        set(p, x, "quoted", json_boolean(type != NULL));
        set(p, x, "learned", json_boolean(json_is_true(json_object_get(o, "learned"))));
        set_at(p, x, o);
        push(p, out, x);
    }
    return out;
}

static void view_findings(page *p, json_t *v)
{
    set(p, v, "pain_points", findings(p, json_object_get(p->analysis, "pain_points"), NULL));
    set(p, v, "intents", findings(p, json_object_get(p->analysis, "intents"), "type"));
    json_t *topics = json_array();
    if (!topics) {
        p->rc = SDRA_ENOMEM;
        return;
    }
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(p->analysis, "topics"), i, o)
    {
        const char *text = json_is_string(o) ? json_string_value(o) : jstr(o, "text");
        if (text)
            push(p, topics, json_string(text));
    }
    set(p, v, "topics", topics);
}

static void view_actions(page *p, json_t *v)
{
    json_t *arr = json_array();
    if (!arr) {
        p->rc = SDRA_ENOMEM;
        return;
    }
    size_t i;
    json_t *o;
    /* compose's task list (email.json "tasks", in the rep's words) when there is one */
    const json_t *items = json_object_get(p->email, "tasks");
    if (!json_is_array(items))
        items = json_object_get(p->analysis, "action_items");
    json_array_foreach(items, i, o)
    {
        if (!jstr(o, "text"))
            continue;
        json_t *x = obj(p);
        if (!x)
            break;
        const char *owner = jstr(o, "owner");
        const char *label = owner;
        for (int k = 0; k < p->n_spk; k++)
            if (owner && !strcmp(p->spk[k].role, owner))
                label = p->spk[k].label;
        set_s(p, x, "owner", owner);
        set_s(p, x, "owner_label", label ? label : "unassigned");
        set_s(p, x, "color", owner && !strcmp(owner, "rep") ? "#2563eb" : "#ea580c");
        set_s(p, x, "text", jstr(o, "text"));
        set_s(p, x, "due", jstr(o, "due"));
        set(p, x, "due_long", date_text(jstr(o, "due"), false));
        set_s(p, x, "due_time", jstr(o, "due") ? jstr(o, "due_time") : NULL);
        set_at(p, x, o);
        push(p, arr, x);
    }
    set(p, v, "action_items", arr);
    json_t *m = json_object_get(p->analysis, "next_meeting");
    json_t *nm = json_null();
    if (json_is_object(m) && (jstr(m, "date") || jstr(m, "time") || jstr(m, "part_of_day"))) {
        json_decref(nm);
        if ((nm = obj(p))) {
            set_s(p, nm, "date", jstr(m, "date"));
            set(p, nm, "date_long", date_text(jstr(m, "date"), false));
            set_s(p, nm, "time", jstr(m, "time"));
            set_s(p, nm, "part_of_day", jstr(m, "time") ? NULL : jstr(m, "part_of_day"));
            set(p, nm, "approximate", json_boolean(json_is_true(json_object_get(m, "approximate"))));
        }
    }
    set(p, v, "next_meeting", nm);
}

/* "Name <addr>, addr2" from a string or a list of strings / {name, email|address}. */
static json_t *recipients(const json_t *to)
{
    if (json_is_string(to))
        return json_string(json_string_value(to));
    sdra_buf b;
    sdra_buf_init(&b, 64u << 10);
    size_t i;
    json_t *v;
    int rc = 0;
    json_array_foreach(to, i, v)
    {
        const char *addr = jstr(v, "email") ? jstr(v, "email") : jstr(v, "address");
        if (i)
            rc |= sdra_buf_puts(&b, ", ");
        if (json_is_string(v))
            rc |= sdra_buf_puts(&b, json_string_value(v));
        else if (jstr(v, "name") && addr)
            rc |= sdra_buf_printf(&b, "%s <%s>", jstr(v, "name"), addr);
        else if (addr)
            rc |= sdra_buf_puts(&b, addr);
    }
    json_t *out = rc || !b.len ? json_null() : json_string(b.data);
    sdra_buf_release(&b);
    return out;
}

static void view_email(page *p, json_t *v)
{
    const json_t *e = p->email;
    json_t *x = obj(p);
    if (!x)
        return;
    set(p, x, "composed", json_boolean(json_is_object(e) && !jstr(e, "skipped")));
    set_s(p, x, "skipped", json_is_object(e) ? jstr(e, "skipped") : NULL);
    set_s(p, x, "subject", jstr(e, "subject") ? jstr(e, "subject") : "(no subject)");
    set(p, x, "to", recipients(json_object_get(e, "to")));
    set(p, x, "cc", recipients(json_object_get(e, "cc")));
    set_s(p, x, "send_at", jstr(e, "send_at"));
    /* attachment names, joined like the recipients */
    json_t *names = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(e, "attachments"), i, a)
    {
        const char *n = json_is_string(a) ? json_string_value(a) : jstr(a, "name");
        if (n && names)
            push(p, names, json_string(n));
    }
    set(p, x, "attachments", recipients(names));
    json_decref(names);
    set_s(p, x, "text", jstr(e, "text") ? jstr(e, "text") : "");
    set(p, v, "email", json_is_object(e) ? x : (json_decref(x), json_null()));
}

/* What the CRM recorded. Its location (a server path) is left out. */
static void view_crm(page *p, json_t *v)
{
    const json_t *c = p->crm;
    if (!json_is_object(c)) {
        set(p, v, "crm", json_null());
        return;
    }
    json_t *x = obj(p);
    if (!x)
        return;
    json_t *contact = json_object_get(c, "contact");
    if (json_is_object(contact))
        set(p, x, "contact", json_pack("{s:s?, s:s?, s:b, s:b}", "email", jstr(contact, "email"),
                                       "status", jstr(contact, "status"), "do_not_call",
                                       json_is_true(json_object_get(contact, "do_not_call")),
                                       "do_not_email", json_is_true(json_object_get(contact, "do_not_email"))));
    else
        set(p, x, "contact", json_null());
    json_t *act = json_object_get(c, "activity");
    if (json_is_object(act))
        set(p, x, "activity", json_pack("{s:s?, s:s?}", "id", jstr(act, "id"), "status", jstr(act, "status")));
    else
        set(p, x, "activity", json_null());
    json_t *tasks = json_object_get(c, "tasks");
    if (json_is_array(tasks)) {
        size_t created = 0, i, n = json_array_size(tasks);
        json_t *t;
        json_array_foreach(tasks, i, t)
        {
            const char *s = jstr(t, "status");
            created += s && !strcmp(s, "created");
        }
        json_t *rm = json_object_get(c, "tasks_removed");
        json_int_t removed = json_is_integer(rm) && json_integer_value(rm) > 0 ? json_integer_value(rm) : 0;
        json_t *tv = json_pack("{s:I, s:b, s:I, s:I}", "count", (json_int_t)n, "plural", n != 1,
                               "created", (json_int_t)created, "updated", (json_int_t)(n - created));
        if (tv)
            set(p, tv, "removed", removed ? json_integer(removed) : json_null());
        set(p, x, "tasks", tv);
    } else {
        set(p, x, "tasks", json_null());
    }
    json_t *emails = json_array(), *skipped = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(c, "emails"), i, e)
        if (emails)
            push(p, emails, json_pack("{s:s?, s:s?, s:s?}", "message_id", jstr(e, "message_id"),
                                      "status", jstr(e, "status"), "send_at", jstr(e, "send_at")));
    json_array_foreach(json_object_get(c, "skipped"), i, e)
        if (skipped)
            push(p, skipped, json_pack("{s:s?, s:s?}", "what", jstr(e, "what"), "reason", jstr(e, "reason")));
    set(p, x, "emails", emails);
    set(p, x, "skipped", skipped);
    set_s(p, x, "backend", jstr(c, "backend"));
    set(p, v, "crm", x);
}

/* The words of an utterance with their start (seconds, three decimals), so that a click on a
 * word seeks there; an empty list when the transcript has no word times. */
static json_t *utterance_words(page *p, const json_t *words)
{
    json_t *arr = json_array();
    if (!arr) {
        p->rc = SDRA_ENOMEM;
        return NULL;
    }
    size_t i;
    json_t *w;
    json_array_foreach(words, i, w)
    {
        double t;
        if (!jstr(w, "w") || !jnum(w, "start", &t))
            continue;
        json_t *x = obj(p);
        if (!x)
            break;
        set_s(p, x, "w", jstr(w, "w"));
        set_f(p, x, "start", "%.3f", t < 0 ? 0 : t);
        push(p, arr, x);
    }
    return arr;
}

/* The sentiment scores per speaker as numbers ([start, score] pairs in time order), for a chart
 * drawn in the browser (the web app's call page); the report draws "chart" instead. */
static void view_sentiment_series(page *p, json_t *v)
{
    json_t *su = json_object_get(json_object_get(p->analysis, "sentiment"), "utterances");
    json_t *arr = json_array();
    if (!arr) {
        p->rc = SDRA_ENOMEM;
        return;
    }
    for (int k = 0; k < p->n_spk; k++) {
        speaker *sp = &p->spk[k];
        json_t *pts = json_array();
        size_t i;
        json_t *u;
        json_array_foreach(su, i, u)
        {
            const char *id = sentiment_speaker(p, u);
            double t, sc;
            if (pts && id && !strcmp(id, sp->id) && jnum(u, "start", &t) && jnum(u, "score", &sc))
                push(p, pts, json_pack("[f,f]", t, sc));
        }
        if (!pts || !json_array_size(pts)) {
            json_decref(pts);
            continue;
        }
        json_t *o = obj(p);
        if (!o) {
            json_decref(pts);
            break;
        }
        set_s(p, o, "id", sp->id);
        set_s(p, o, "label", sp->label);
        set_s(p, o, "color", sp->color);
        set(p, o, "points", pts);
        push(p, arr, o);
    }
    set(p, v, "sentiment_series", arr);
}

/* The call's longest monologue: who, how long (m:ss) and from when, or null. */
static void view_longest_monologue(page *p, json_t *v)
{
    json_t *lm = json_object_get(json_object_get(p->analysis, "metrics"), "longest_monologue");
    double d;
    if (!json_is_object(lm) || !jnum(lm, "duration_s", &d) || d <= 0) {
        set(p, v, "longest_monologue", json_null());
        return;
    }
    json_t *o = obj(p);
    if (!o)
        return;
    char dur[32];
    fmt_time(dur, sizeof dur, d);
    set_who(p, o, jstr(lm, "speaker"));
    set_s(p, o, "duration", dur);
    set_at(p, o, lm);
    set(p, v, "longest_monologue", o);
}

static void view_transcript(page *p, json_t *v)
{
    json_t *arr = json_array();
    if (!arr) {
        p->rc = SDRA_ENOMEM;
        return;
    }
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(p->transcript, "utterances"), i, u)
    {
        const char *text = json_string_value(json_object_get(u, "text"));
        if (!text)
            continue;
        json_t *x = obj(p);
        if (!x)
            break;
        double t = 0, e = 0;
        char at[32];
        jnum(u, "start", &t);
        fmt_time(at, sizeof at, t);
        set(p, x, "i", json_integer((json_int_t)i));
        set_f(p, x, "start", "%.3f", t < 0 ? 0 : t);
        if (jnum(u, "end", &e))
            set_f(p, x, "end", "%.3f", e);
        else
            set(p, x, "end", json_null());
        set_s(p, x, "at", at);
        set_who(p, x, jstr(u, "speaker"));
        set_s(p, x, "text", text);
        set(p, x, "words", utterance_words(p, json_object_get(u, "words")));
        push(p, arr, x);
    }
    set(p, v, "transcript", arr);
}

int sdra_report_view(json_t **out, const json_t *call, const json_t *transcript,
                     const json_t *analysis, const json_t *email, const json_t *crm,
                     const char *audio_src, sdra_error *err)
{
    if (!json_is_object(call))
        return sdra_error_set(err, SDRA_EINVAL, "report: the call document is missing or not an object");
    if (!json_is_object(analysis))
        return sdra_error_set(err, SDRA_EINVAL, "report: the analysis document is missing or not an object");
    const char *schema = jstr(analysis, "schema");
    if (schema && strcmp(schema, "sdra.analysis/1") != 0)
        return sdra_error_set(err, SDRA_EINVAL, "report: analysis has schema '%.60s', expected sdra.analysis/1", schema);
    page *p = calloc(1, sizeof *p);
    json_t *v = json_object();
    if (!p || !v) {
        free(p);
        json_decref(v);
        return sdra_error_set(err, SDRA_ENOMEM, "report: out of memory");
    }
    p->call = call;
    p->transcript = json_is_object(transcript) ? transcript : NULL;
    p->analysis = analysis;
    p->email = json_is_object(email) ? email : NULL;
    p->crm = crm;
    speakers_collect(p);
    set_s(p, v, "schema", SDRA_REPORT_VIEW_SCHEMA);
    set_s(p, v, "call_id", jstr(call, "id"));
    set_s(p, v, "version", SDRA_VERSION);
    set(p, v, "audio", audio_src ? json_pack("{s:s}", "src", audio_src) : json_null());
    view_header(p, v);
    view_quality(p, v);
    view_speakers(p, v);
    view_chart(p, v);
    view_metrics(p, v);
    view_sentiment_series(p, v);
    view_longest_monologue(p, v);
    view_objections(p, v);
    view_findings(p, v);
    view_actions(p, v);
    view_email(p, v);
    view_crm(p, v);
    view_transcript(p, v);
    int rc = p->rc;
    free(p);
    if (rc < 0) {
        json_decref(v);
        return sdra_error_set(err, rc, "report: out of memory");
    }
    *out = v;
    return 0;
}

/* ---------- the page ---------- */

/* Reads <share>/report/name into *out (NUL-terminated). */
static int load_asset(char **out, const char *name, sdra_error *err)
{
    char rel[64], path[PATH_MAX];
    snprintf(rel, sizeof rel, "report/%s", name);
    if (sdra_share_path(path, sizeof path, rel) < 0)
        return sdra_error_set(err, SDRA_ELIMIT, "report: the data directory's path is too long");
    return sdra_file_read(out, NULL, path, ASSET_MAX_BYTES, err);
}

/* The CSP source of an inline script: 'sha256-<base64 of its SHA-256>'. */
static int script_hash(char *out, size_t n, const char *script, sdra_error *err)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    char b64[64];
    if (sodium_init() < 0)
        return sdra_error_set(err, SDRA_EINTERNAL, "report: libsodium failed to initialise");
    crypto_hash_sha256(h, (const unsigned char *)script, strlen(script));
    sodium_bin2base64(b64, sizeof b64, h, sizeof h, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, n, "'sha256-%s'", b64);
    return 0;
}

int sdra_report_render_view(char **html, const json_t *view, sdra_error *err)
{
    sdra_tmpl *t = NULL;
    char *css = NULL, *js = NULL, path[PATH_MAX], hash[96];
    json_t *ctx = NULL;
    sdra_buf b;
    sdra_buf_init(&b, SDRA_REPORT_MAX_BYTES);
    int rc;
    if (!json_is_object(view)) {
        rc = sdra_error_set(err, SDRA_EINVAL, "report: the view is not an object");
        goto done;
    }
    if (sdra_share_path(path, sizeof path, "report/report.html.tmpl") < 0) {
        rc = sdra_error_set(err, SDRA_ELIMIT, "report: the data directory's path is too long");
        goto done;
    }
    bool audio = json_is_object(json_object_get(view, "audio"));
    if ((rc = sdra_tmpl_load(&t, path, err)) < 0 || (rc = load_asset(&css, "report.css", err)) < 0 ||
        (audio && (rc = load_asset(&js, "report.js", err)) < 0) ||
        (audio && (rc = script_hash(hash, sizeof hash, js, err)) < 0))
        goto done;
    /* the page's own assets beside the view: the CSS, and the player's script with its hash */
    if (!(ctx = json_deep_copy(view)) || json_object_set_new(ctx, "css", json_string(css)) < 0 ||
        (audio && (json_object_set_new(ctx, "script", json_string(js)) < 0 ||
                   json_object_set_new(ctx, "script_hash", json_string(hash)) < 0))) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "report: out of memory");
        goto done;
    }
    if ((rc = sdra_tmpl_render(t, ctx, 1, &b, err)) < 0) {
        if (rc == SDRA_ELIMIT)
            rc = sdra_error_set(err, rc, "report: larger than the limit of %u bytes", SDRA_REPORT_MAX_BYTES);
        goto done;
    }
    if (!(*html = sdra_buf_detach(&b)))
        rc = sdra_error_set(err, SDRA_ENOMEM, "report: out of memory");
done:
    sdra_buf_release(&b);
    sdra_tmpl_destroy(t);
    json_decref(ctx);
    free(css);
    free(js);
    return rc;
}

int sdra_report_render(char **html, const json_t *call, const json_t *transcript,
                       const json_t *analysis, const json_t *email, const json_t *crm,
                       sdra_error *err)
{
    json_t *view = NULL;
    int rc = sdra_report_view(&view, call, transcript, analysis, email, crm, NULL, err);
    if (rc == 0)
        rc = sdra_report_render_view(html, view, err);
    json_decref(view);
    return rc;
}
