/*
 * report.c - the call report (sdra/report.h): renders call.json, transcript.json,
 * analysis.json, email.json and crm.json into one self-contained HTML page (the pipeline stage
 * that writes it as report.html is in stages.c).
 *
 * Responsibilities: reading every document defensively (a missing field leaves its part of the
 * page out; only a missing call or analysis is an error), HTML-escaping every string that comes
 * from a document (the page has no scripts and no external assets, so escaping is the whole of
 * its safety), the sentiment chart as inline SVG computed here, talk time from the transcript's
 * utterance times, and a hard size limit on the page.
 */
#include "sdra/report.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <errno.h>
#include <time.h>

#include "sdra/buf.h"
#include "sdra/call.h"
#include "sdra/util.h"

#define MAX_SPEAKERS 16
#define MAX_CHART_DOTS 1500     /* beyond this the chart draws lines only */
#define SMOOTH_FROM 40          /* a speaker with more scored utterances gets a moving average */

typedef struct speaker {
    char id[32];
    char label[96];
    const char *role;
    const char *color;
    double talk_s;
} speaker;

typedef struct page {
    sdra_buf b;
    int rc; /* first append failure; later appends are skipped */
    speaker spk[MAX_SPEAKERS];
    int n_spk;
    const json_t *call, *transcript, *analysis, *email, *crm;
    double duration_s;
} page;

static const char *const palette[] = {"#16a34a", "#9333ea", "#0891b2", "#be123c", "#a16207", "#475569"};

/* ---------- output ---------- */

static void put(page *p, const char *s)
{
    if (p->rc == 0)
        p->rc = sdra_buf_puts(&p->b, s);
}

static void putf(page *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(page *p, const char *fmt, ...)
{
    if (p->rc)
        return;
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        p->rc = SDRA_EINTERNAL;
    else if ((size_t)n < sizeof tmp)
        p->rc = sdra_buf_append(&p->b, tmp, (size_t)n);
    else
        p->rc = SDRA_EINTERNAL; /* only short, fixed markup goes through putf */
}

/* Appends s HTML-escaped (text and attribute values alike). NULL appends nothing. */
static void esc(page *p, const char *s)
{
    if (!s || p->rc)
        return;
    const char *run = s;
    for (; *s; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: continue;
        }
        if (s > run && p->rc == 0)
            p->rc = sdra_buf_append(&p->b, run, (size_t)(s - run));
        put(p, rep);
        run = s + 1;
    }
    if (s > run && p->rc == 0)
        p->rc = sdra_buf_append(&p->b, run, (size_t)(s - run));
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
 * text as given. */
static void put_date_fmt(page *p, const char *date, bool short_form)
{
    int y, m, d;
    if (date && sdra_date_validate(date) == 0 && sscanf(date, "%4d-%2d-%2d", &y, &m, &d) == 3) {
        struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12};
        time_t t = timegm(&tm);
        struct tm out;
        char buf[64];
        if (t != (time_t)-1 && gmtime_r(&t, &out) && strftime(buf, sizeof buf, short_form ? "%a, %b %-d, %Y" : "%A, %B %-d, %Y", &out)) {
            put(p, buf);
            return;
        }
    }
    esc(p, date);
}

static void put_date(page *p, const char *date)
{
    put_date_fmt(p, date, false);
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

static void put_speaker(page *p, const char *id)
{
    speaker *sp = id ? find_speaker(p, id) : NULL;
    if (!sp) {
        esc(p, id ? id : "");
        return;
    }
    putf(p, "<span class=\"who\" style=\"color:%s\">", sp->color);
    esc(p, sp->label);
    put(p, "</span>");
}

/* ---------- sections ---------- */

static const char CSS[] =
    ":root{--ink:#1f2937;--mute:#6b7280;--line:#e5e7eb;--card:#fff;--bg:#f8fafc}"
    "*{box-sizing:border-box}"
    "body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}"
    "main{max-width:980px;margin:0 auto;padding:24px}"
    "header.top{background:#0f172a;color:#f8fafc;padding:24px;border-radius:12px;margin-bottom:16px}"
    "header.top h1{margin:0 0 4px;font-size:24px}"
    "header.top .sub{color:#cbd5e1}"
    "header.top dl{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:8px 16px;margin:16px 0 0}"
    "header.top dt{font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:#94a3b8}"
    "header.top dd{margin:0;font-weight:600}"
    ".summary{margin:16px 0 0;color:#e2e8f0}"
    "section{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:16px 20px;margin-bottom:16px}"
    "h2{font-size:17px;margin:0 0 12px}"
    ".grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}"
    ".grid section{margin-bottom:0}"
    "@media (max-width:760px){.grid{grid-template-columns:1fr}}"
    "table{width:100%;border-collapse:collapse}"
    "th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}"
    "th{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--mute)}"
    ".tag{display:inline-block;padding:1px 8px;border-radius:999px;background:#eef2ff;color:#3730a3;font-size:12px;font-weight:600;white-space:nowrap}"
    ".tag.obj{background:#fef3c7;color:#92400e}"
    ".time{font-variant-numeric:tabular-nums;color:var(--mute);white-space:nowrap}"
    ".alert{background:#fee2e2;color:#991b1b;border:1px solid #fecaca;border-radius:8px;padding:8px 12px;margin-bottom:16px;font-weight:600}"
    ".none{color:var(--mute);font-style:italic}"
    ".bars .row{display:grid;grid-template-columns:140px 1fr 110px;gap:8px;align-items:center;margin:6px 0}"
    ".bars .track{background:#f1f5f9;border-radius:6px;height:14px;overflow:hidden}"
    ".bars .fill{height:100%;border-radius:6px}"
    "table.metrics{margin-top:12px}"
    ".legend span{margin-right:16px;font-size:13px}"
    ".legend i{display:inline-block;width:12px;height:3px;vertical-align:middle;margin-right:6px}"
    ".mail{white-space:pre-wrap;font:inherit;background:#f8fafc;border:1px solid var(--line);border-radius:8px;padding:12px;margin:8px 0 0}"
    ".u{display:grid;grid-template-columns:56px 130px 1fr;gap:8px;padding:6px 0;border-bottom:1px solid #f1f5f9}"
    ".u p{margin:0}"
    ".who{font-weight:600}"
    "svg text{font:11px system-ui,sans-serif;fill:#6b7280}"
    "ul{margin:0;padding-left:20px}"
    "li{margin:4px 0}"
    "footer{color:var(--mute);font-size:12px;text-align:center;padding:8px}";

static void section_header(page *p)
{
    const json_t *c = p->call;
    const char *name = jstr(c, "contact_name"), *company = jstr(c, "company");
    if (!name)
        name = jstr(p->analysis, "prospect_name");
    put(p, "<header class=\"top\"><h1>Call with ");
    esc(p, name ? name : company ? company : "an unnamed contact");
    if (name && company) {
        put(p, " <span class=\"sub\">(");
        esc(p, company);
        put(p, ")</span>");
    }
    put(p, "</h1><div class=\"sub\">");
    if (jstr(c, "contact_email"))
        esc(p, jstr(c, "contact_email"));
    if (jstr(c, "rep_name")) {
        put(p, jstr(c, "contact_email") ? " &middot; rep: " : "rep: ");
        esc(p, jstr(c, "rep_name"));
    }
    put(p, "</div><dl>");
    const char *date = jstr(c, "call_date") ? jstr(c, "call_date") : jstr(p->analysis, "call_date");
    put(p, "<div><dt>Date</dt><dd>");
    if (date)
        put_date_fmt(p, date, true);
    else
        put(p, "unknown");
    put(p, "</dd></div><div><dt>Duration</dt><dd>");
    char t[32];
    fmt_time(t, sizeof t, p->duration_s);
    put(p, p->duration_s > 0 ? t : "unknown");
    put(p, "</dd></div>");
    if (jstr(c, "direction")) {
        put(p, "<div><dt>Direction</dt><dd>");
        esc(p, jstr(c, "direction"));
        put(p, "</dd></div>");
    }
    put(p, "<div><dt>Outcome</dt><dd>");
    esc(p, jstr(p->analysis, "outcome") ? jstr(p->analysis, "outcome") : "not determined");
    put(p, "</dd></div>");
    json_t *sent = json_object_get(p->analysis, "sentiment");
    double v;
    if (jnum(sent, "overall", &v))
        putf(p, "<div><dt>Sentiment</dt><dd>%+.2f</dd></div>", v);
    put(p, "</dl>");
    if (jstr(p->analysis, "summary")) {
        put(p, "<p class=\"summary\">");
        esc(p, jstr(p->analysis, "summary"));
        put(p, "</p>");
    }
    put(p, "</header>\n");
    json_t *prefs = json_object_get(p->analysis, "contact_preferences");
    bool dnc = json_is_true(json_object_get(prefs, "do_not_call"));
    bool dne = json_is_true(json_object_get(prefs, "do_not_email"));
    if (dnc || dne)
        putf(p, "<div class=\"alert\">Compliance: the contact asked not to be %s.</div>\n",
             dnc && dne ? "called or emailed" : dnc ? "called" : "emailed");
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

static void section_sentiment(page *p)
{
    json_t *su = json_object_get(json_object_get(p->analysis, "sentiment"), "utterances");
    put(p, "<section id=\"sentiment\"><h2>Sentiment over time</h2>");
    if (!json_is_array(su) || json_array_size(su) == 0 || p->duration_s <= 0) {
        put(p, "<p class=\"none\">No sentiment timeline in the analysis.</p></section>\n");
        return;
    }
    const double W = 900, H = 240, ml = 44, mr = 12, mt = 12, mb = 36;
    const double pw = W - ml - mr, ph = H - mt - mb, dur = p->duration_s;
    putf(p, "<svg viewBox=\"0 0 %.0f %.0f\" width=\"100%%\" role=\"img\" aria-label=\"sentiment per speaker over the call\" xmlns=\"http://www.w3.org/2000/svg\">", W, H);
    /* Horizontal grid at -1, -0.5, 0, 0.5, 1. */
    for (int g = -2; g <= 2; g++) {
        double y = mt + (1 - g / 2.0) / 2 * ph;
        putf(p, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1\"/>", ml, y,
             ml + pw, y, g == 0 ? "#9ca3af" : "#e5e7eb");
        if (g % 2 == 0)
            putf(p, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>", ml - 6, y + 4,
                 g == 2 ? "+1" : g == 0 ? "0" : "&#8722;1");
    }
    /* Time axis: ticks every 1, 2, 5, 10, 15, 30 or 60 minutes (seconds for short calls). */
    static const double steps[] = {10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600};
    double step = steps[sizeof steps / sizeof steps[0] - 1];
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++)
        if (dur / steps[k] <= 10 && (steps[k] >= 60 || dur < 120)) { /* minutes from 2 min on */
            step = steps[k];
            break;
        }
    double base = mt + ph;
    putf(p, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#9ca3af\"/>", ml, base, ml + pw, base);
    for (double t = 0; t <= dur + 1e-6; t += step) {
        double x = ml + t / dur * pw;
        char label[32];
        if (step >= 60)
            snprintf(label, sizeof label, "%.0f", t / 60);
        else
            fmt_time(label, sizeof label, t);
        putf(p, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#9ca3af\"/>", x, base, x, base + 4);
        putf(p, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>", x, base + 16, label);
    }
    putf(p, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>", ml + pw / 2, H - 4,
         step >= 60 ? "minutes" : "minutes:seconds");
    /* One polyline per speaker. Long calls are smoothed with a centred moving average so the
     * trend reads; the raw scores stay as faint dots (with a tooltip) while there are few enough. */
    size_t n = json_array_size(su);
    double *pt = malloc(2 * n * sizeof *pt);
    if (!pt) {
        p->rc = SDRA_ENOMEM;
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
            double t, v;
            if (!id || strcmp(id, sp->id) || !jnum(u, "start", &t) || !jnum(u, "score", &v))
                continue;
            pt[2 * np] = t < 0 ? 0 : t > dur ? dur : t;
            pt[2 * np + 1] = v < -1 ? -1 : v > 1 ? 1 : v;
            np++;
        }
        if (np == 0)
            continue;
        size_t half = np > SMOOTH_FROM ? np / SMOOTH_FROM : 0;
        if (half && (int)(2 * half + 1) > smooth_w)
            smooth_w = (int)(2 * half + 1);
        put(p, "<polyline class=\"spk\" data-speaker=\"");
        esc(p, sp->id);
        putf(p, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"", sp->color);
        for (size_t j = 0; j < np; j++) {
            double sum = 0;
            size_t lo = j >= half ? j - half : 0, hi = j + half < np ? j + half : np - 1;
            for (size_t q = lo; q <= hi; q++)
                sum += pt[2 * q + 1];
            double v = sum / (double)(hi - lo + 1);
            putf(p, "%.1f,%.1f ", ml + pt[2 * j] / dur * pw, mt + (1 - v) / 2 * ph);
        }
        put(p, "\"/>");
        if (n > MAX_CHART_DOTS)
            continue;
        for (size_t j = 0; j < np; j++) {
            char at[32];
            fmt_time(at, sizeof at, pt[2 * j]);
            putf(p, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\"%s><title>", ml + pt[2 * j] / dur * pw,
                 mt + (1 - pt[2 * j + 1]) / 2 * ph, half ? "2" : "2.5", sp->color, half ? " fill-opacity=\"0.35\"" : "");
            esc(p, sp->label);
            putf(p, " at %s: %+.2f</title></circle>", at, pt[2 * j + 1]);
        }
    }
    free(pt);
    put(p, "</svg><div class=\"legend\">");
    for (int k = 0; k < p->n_spk; k++) {
        putf(p, "<span><i style=\"background:%s\"></i>", p->spk[k].color);
        esc(p, p->spk[k].label);
        put(p, "</span>");
    }
    double v;
    json_t *sent = json_object_get(p->analysis, "sentiment");
    if (jnum(sent, "prospect_end", &v))
        putf(p, "<span>prospect at the end: %+.2f</span>", v);
    if (smooth_w)
        putf(p, "<span>lines: moving average of up to %d utterances; dots: each utterance</span>", smooth_w);
    put(p, "</div></section>\n");
}

static void section_talk(page *p)
{
    double total = 0;
    for (int k = 0; k < p->n_spk; k++)
        total += p->spk[k].talk_s;
    put(p, "<section id=\"talk\"><h2>Talk time</h2>");
    if (total <= 0) {
        put(p, "<p class=\"none\">No utterance times in the transcript.</p></section>\n");
        return;
    }
    put(p, "<div class=\"bars\">");
    for (int k = 0; k < p->n_spk; k++) {
        speaker *sp = &p->spk[k];
        double pct = 100 * sp->talk_s / total;
        char t[32];
        fmt_time(t, sizeof t, sp->talk_s);
        put(p, "<div class=\"row\"><span class=\"who\" style=\"color:");
        put(p, sp->color);
        put(p, "\">");
        esc(p, sp->label);
        putf(p, "</span><div class=\"track\"><div class=\"fill\" style=\"width:%.1f%%;background:%s\"></div></div>"
                "<span class=\"time\">%.0f%% &middot; %s</span></div>",
             pct, sp->color, pct, t);
    }
    put(p, "</div>");
    /* The analysis' talk metrics per speaker, when it has them. */
    json_t *m = json_object_get(p->analysis, "metrics");
    json_t *ms = json_object_get(m, "speakers");
    if (json_is_array(ms) && json_array_size(ms) > 0) {
        put(p, "<table class=\"metrics\"><thead><tr><th>Speaker</th><th>Words/min</th><th>Questions</th>"
               "<th>Turns</th><th>Longest monologue</th><th>Interruptions</th></tr></thead><tbody>");
        size_t i;
        json_t *u;
        json_array_foreach(ms, i, u)
        {
            if (!json_is_object(u))
                continue;
            double v;
            char t[32];
            put(p, "<tr><td>");
            put_speaker(p, jstr(u, "speaker"));
            put(p, "</td><td>");
            if (jnum(u, "words_per_minute", &v))
                putf(p, "%.0f", v);
            put(p, "</td><td>");
            if (jnum(u, "questions", &v))
                putf(p, "%.0f", v);
            put(p, "</td><td>");
            if (jnum(u, "turns", &v))
                putf(p, "%.0f", v);
            put(p, "</td><td class=\"time\">");
            if (jnum(u, "longest_monologue_s", &v)) {
                fmt_time(t, sizeof t, v);
                put(p, t);
            }
            put(p, "</td><td>");
            if (jnum(u, "interruptions", &v))
                putf(p, "%.0f", v);
            put(p, "</td></tr>");
        }
        put(p, "</tbody></table>");
        double v;
        if (jnum(m, "patience_s", &v))
            putf(p, "<p class=\"time\">Patience (mean pause before the rep answers): %.1f s</p>", v);
    }
    put(p, "</section>\n");
}

static void section_objections(page *p)
{
    json_t *objs = json_object_get(p->analysis, "objections");
    put(p, "<section id=\"objections\"><h2>Objections</h2>");
    size_t n = json_is_array(objs) ? json_array_size(objs) : 0, shown = 0;
    if (n)
        put(p, "<table><thead><tr><th>Type</th><th>What was said</th><th>Who</th><th>Time</th></tr></thead><tbody>");
    size_t i;
    json_t *o;
    json_array_foreach(objs, i, o)
    {
        if (!json_is_object(o))
            continue;
        shown++;
        put(p, "<tr class=\"objection\"><td><span class=\"tag obj\">");
        const char *type = jstr(o, "type");
        char pretty[64];
        sdra_strlcpy(pretty, type ? type : "other", sizeof pretty);
        for (char *c = pretty; *c; c++)
            if (*c == '_')
                *c = ' ';
        esc(p, pretty);
        put(p, "</span></td><td>&ldquo;");
        esc(p, jstr(o, "text"));
        put(p, "&rdquo;</td><td>");
        put_speaker(p, jstr(o, "speaker"));
        put(p, "</td><td class=\"time\">");
        double t;
        if (jnum(o, "start", &t)) {
            char at[32];
            fmt_time(at, sizeof at, t);
            put(p, at);
        }
        put(p, "</td></tr>");
    }
    if (n)
        put(p, "</tbody></table>");
    if (!shown)
        put(p, "<p class=\"none\">No objections raised.</p>");
    put(p, "</section>\n");
}

/* At the top of the page: the transcript was poor (its "quality" block, else the analysis'
 * copy) and why the package needs review (email.json "review_reasons"). */
static void section_quality(page *p)
{
    const json_t *q = json_object_get(p->transcript, "quality");
    if (!json_is_object(q))
        q = json_object_get(p->analysis, "quality");
    double low, mean, wer, lo = 0, hi = 0;
    const json_t *band = json_object_get(q, "wer_band");
    if (json_is_true(json_object_get(q, "poor")) && jnum(q, "low_conf_share", &low) &&
        jnum(q, "mean_conf", &mean) && jnum(q, "wer_estimate", &wer)) {
        if (json_is_array(band) && json_array_size(band) == 2) {
            lo = json_number_value(json_array_get(band, 0));
            hi = json_number_value(json_array_get(band, 1));
        }
        putf(p, "<div class=\"alert\" id=\"quality\">Poor transcript: %.0f%% of the words were "
                "recognised with low confidence (mean confidence %.2f; estimated word error rate "
                "%.0f%%, likely between %.0f%% and %.0f%%). Check the transcript before relying "
                "on what it says; the package needs review.</div>\n",
             100 * low, mean, 100 * wer, 100 * lo, 100 * hi);
    }
    const json_t *why = json_object_get(p->email, "review_reasons");
    if (json_is_true(json_object_get(p->email, "needs_review")) && json_array_size(why)) {
        put(p, "<div class=\"alert\" id=\"review\">Needs review before anything is sent:<ul>");
        size_t i;
        const json_t *r;
        json_array_foreach(why, i, r) {
            put(p, "<li>");
            esc(p, json_string_value(r));
            put(p, "</li>");
        }
        put(p, "</ul></div>\n");
    }
}

/* The built-in talking points for the objections raised: coaching for the rep, never sent
 * (email.json "coaching"). */
static void section_coaching(page *p)
{
    const json_t *co = json_object_get(p->email, "coaching");
    if (!json_array_size(co))
        return;
    put(p, "<section id=\"coaching\"><h2>Coaching: answers to the objections</h2>"
           "<p class=\"none\">For the rep, not sent to the prospect.</p><ul>");
    size_t i;
    const json_t *c;
    json_array_foreach(co, i, c) {
        put(p, "<li><strong>");
        esc(p, jstr(c, "label") ? jstr(c, "label") : jstr(c, "type"));
        put(p, "</strong>: ");
        esc(p, jstr(c, "point"));
        put(p, "</li>");
    }
    put(p, "</ul></section>\n");
}

/* A list of findings with text, and time/speaker when given (pain points, intents). */
static void list_findings(page *p, const json_t *arr, const char *type_key, const char *empty)
{
    size_t i, shown = 0;
    json_t *o;
    put(p, "<ul>");
    json_array_foreach(arr, i, o)
    {
        const char *text = json_is_string(o) ? json_string_value(o) : jstr(o, "text");
        const char *type = type_key ? jstr(o, type_key) : NULL;
        if (!text && !type)
            continue;
        shown++;
        put(p, "<li>");
        if (type) {
            char pretty[64];
            sdra_strlcpy(pretty, type, sizeof pretty);
            for (char *c = pretty; *c; c++)
                if (*c == '_')
                    *c = ' ';
            put(p, "<span class=\"tag\">");
            esc(p, pretty);
            put(p, "</span> ");
        }
        if (text) {
            put(p, type ? "&ldquo;" : "");
            esc(p, text);
            put(p, type ? "&rdquo;" : "");
        }
        double t;
        if (jnum(o, "start", &t)) {
            char at[32];
            fmt_time(at, sizeof at, t);
            put(p, " <span class=\"time\">");
            put(p, at);
            put(p, "</span>");
        }
        put(p, "</li>");
    }
    put(p, "</ul>");
    if (!shown) {
        put(p, "<p class=\"none\">");
        put(p, empty);
        put(p, "</p>");
    }
}

static void section_findings(page *p)
{
    put(p, "<div class=\"grid\"><section id=\"pain-points\"><h2>Pain points</h2>");
    list_findings(p, json_object_get(p->analysis, "pain_points"), NULL, "None described.");
    put(p, "</section><section id=\"intents\"><h2>Intents &amp; topics</h2>");
    list_findings(p, json_object_get(p->analysis, "intents"), "type", "No intents detected.");
    json_t *topics = json_object_get(p->analysis, "topics");
    if (json_is_array(topics) && json_array_size(topics) > 0) {
        put(p, "<p>");
        size_t i;
        json_t *o;
        json_array_foreach(topics, i, o)
        {
            const char *text = json_is_string(o) ? json_string_value(o) : jstr(o, "text");
            if (!text)
                continue;
            put(p, "<span class=\"tag\">");
            esc(p, text);
            put(p, "</span> ");
        }
        put(p, "</p>");
    }
    put(p, "</section></div><div style=\"height:16px\"></div>\n");
}

static void section_actions(page *p)
{
    json_t *items = json_object_get(p->analysis, "action_items");
    put(p, "<section id=\"actions\"><h2>Action items</h2>");
    size_t i, shown = 0;
    json_t *o;
    json_array_foreach(items, i, o)
    {
        if (!jstr(o, "text"))
            continue;
        if (!shown++)
            put(p, "<table><thead><tr><th>Owner</th><th>What</th><th>Due</th></tr></thead><tbody>");
        put(p, "<tr class=\"action\"><td>");
        const char *owner = jstr(o, "owner");
        bool rep = owner && !strcmp(owner, "rep");
        const char *label = owner;
        for (int k = 0; k < p->n_spk; k++)
            if (owner && !strcmp(p->spk[k].role, owner))
                label = p->spk[k].label;
        putf(p, "<span class=\"who\" style=\"color:%s\">", rep ? "#2563eb" : "#ea580c");
        esc(p, label ? label : "unassigned");
        put(p, "</span></td><td>");
        esc(p, jstr(o, "text"));
        put(p, "</td><td>");
        if (jstr(o, "due")) {
            put_date(p, jstr(o, "due"));
            if (jstr(o, "due_time")) {
                put(p, ", ");
                esc(p, jstr(o, "due_time"));
            }
        } else {
            put(p, "<span class=\"none\">no date</span>");
        }
        put(p, "</td></tr>");
    }
    if (shown)
        put(p, "</tbody></table>");
    else
        put(p, "<p class=\"none\">No action items.</p>");
    put(p, "<h2 style=\"margin-top:16px\">Next meeting</h2>");
    json_t *m = json_object_get(p->analysis, "next_meeting");
    if (json_is_object(m) && (jstr(m, "date") || jstr(m, "time") || jstr(m, "part_of_day"))) {
        put(p, "<p id=\"next-meeting\">");
        if (jstr(m, "date"))
            put_date(p, jstr(m, "date"));
        else
            put(p, "Date to be confirmed");
        if (jstr(m, "time")) {
            put(p, " at ");
            esc(p, jstr(m, "time"));
        } else if (jstr(m, "part_of_day")) {
            put(p, ", ");
            esc(p, jstr(m, "part_of_day"));
        }
        put(p, "</p>");
    } else {
        put(p, "<p class=\"none\">None agreed.</p>");
    }
    put(p, "</section>\n");
}

static void put_recipients(page *p, const json_t *to)
{
    if (json_is_string(to)) {
        esc(p, json_string_value(to));
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(to, i, v)
    {
        if (i)
            put(p, ", ");
        const char *addr = jstr(v, "email") ? jstr(v, "email") : jstr(v, "address");
        if (json_is_string(v)) {
            esc(p, json_string_value(v));
        } else if (jstr(v, "name") && addr) {
            esc(p, jstr(v, "name"));
            put(p, " &lt;");
            esc(p, addr);
            put(p, "&gt;");
        } else {
            esc(p, addr);
        }
    }
}

static void section_email(page *p)
{
    const json_t *e = p->email;
    put(p, "<section id=\"email\"><h2>Follow-up email</h2>");
    if (!json_is_object(e)) {
        put(p, "<p class=\"none\">No email was composed.</p></section>\n");
        return;
    }
    if (jstr(e, "skipped")) {
        put(p, "<p class=\"none\">Not sent: ");
        esc(p, jstr(e, "skipped"));
        put(p, ".</p></section>\n");
        return;
    }
    put(p, "<table><tbody><tr><th>Subject</th><td><strong>");
    esc(p, jstr(e, "subject") ? jstr(e, "subject") : "(no subject)");
    put(p, "</strong></td></tr><tr><th>To</th><td>");
    put_recipients(p, json_object_get(e, "to"));
    put(p, "</td></tr>");
    if (json_object_get(e, "cc") && json_array_size(json_object_get(e, "cc")) + json_is_string(json_object_get(e, "cc"))) {
        put(p, "<tr><th>Cc</th><td>");
        put_recipients(p, json_object_get(e, "cc"));
        put(p, "</td></tr>");
    }
    if (jstr(e, "send_at")) {
        put(p, "<tr><th>Send at</th><td>");
        esc(p, jstr(e, "send_at"));
        put(p, "</td></tr>");
    }
    json_t *att = json_object_get(e, "attachments");
    if (json_is_array(att) && json_array_size(att) > 0) {
        put(p, "<tr><th>Attached</th><td>");
        size_t i;
        json_t *a;
        json_array_foreach(att, i, a)
        {
            if (i)
                put(p, ", ");
            esc(p, json_is_string(a) ? json_string_value(a) : jstr(a, "name"));
        }
        put(p, "</td></tr>");
    }
    put(p, "</tbody></table><pre class=\"mail\">");
    esc(p, jstr(e, "text") ? jstr(e, "text") : "");
    put(p, "</pre></section>\n");
}

static void section_crm(page *p)
{
    const json_t *c = p->crm;
    put(p, "<section id=\"crm\"><h2>CRM</h2>");
    if (!json_is_object(c)) {
        put(p, "<p class=\"none\">Not synced to a CRM.</p></section>\n");
        return;
    }
    put(p, "<ul>");
    json_t *contact = json_object_get(c, "contact");
    if (json_is_object(contact)) {
        put(p, "<li>Contact ");
        esc(p, jstr(contact, "email"));
        put(p, ": <strong>");
        esc(p, jstr(contact, "status"));
        put(p, "</strong>");
        if (json_is_true(json_object_get(contact, "do_not_call")))
            put(p, " <span class=\"tag obj\">do not call</span>");
        if (json_is_true(json_object_get(contact, "do_not_email")))
            put(p, " <span class=\"tag obj\">do not email</span>");
        put(p, "</li>");
    }
    json_t *act = json_object_get(c, "activity");
    if (json_is_object(act)) {
        put(p, "<li>Call activity #");
        esc(p, jstr(act, "id"));
        put(p, ": <strong>");
        esc(p, jstr(act, "status"));
        put(p, "</strong></li>");
    }
    json_t *tasks = json_object_get(c, "tasks");
    if (json_is_array(tasks)) {
        size_t created = 0, i;
        json_t *t;
        json_array_foreach(tasks, i, t)
        {
            const char *s = jstr(t, "status");
            created += s && !strcmp(s, "created");
        }
        putf(p, "<li>%zu task%s (%zu new, %zu updated)", json_array_size(tasks),
             json_array_size(tasks) == 1 ? "" : "s", created, json_array_size(tasks) - created);
        json_t *rm = json_object_get(c, "tasks_removed");
        if (json_is_integer(rm) && json_integer_value(rm) > 0)
            putf(p, ", %lld no longer in the analysis removed", (long long)json_integer_value(rm));
        put(p, "</li>");
    }
    json_t *emails = json_object_get(c, "emails");
    size_t i;
    json_t *e;
    json_array_foreach(emails, i, e)
    {
        put(p, "<li>Email ");
        esc(p, jstr(e, "message_id"));
        put(p, ": <strong>");
        esc(p, jstr(e, "status"));
        put(p, "</strong>");
        if (jstr(e, "send_at")) {
            put(p, " for ");
            esc(p, jstr(e, "send_at"));
        }
        put(p, "</li>");
    }
    json_t *skipped = json_object_get(c, "skipped");
    json_array_foreach(skipped, i, e)
    {
        put(p, "<li>Skipped ");
        esc(p, jstr(e, "what"));
        put(p, ": ");
        esc(p, jstr(e, "reason"));
        put(p, "</li>");
    }
    put(p, "</ul>");
    if (jstr(c, "backend")) {
        put(p, "<p class=\"time\">");
        esc(p, jstr(c, "backend"));
        if (jstr(c, "location")) {
            put(p, " &middot; ");
            esc(p, jstr(c, "location"));
        }
        put(p, "</p>");
    }
    put(p, "</section>\n");
}

static void section_transcript(page *p)
{
    json_t *utts = json_object_get(p->transcript, "utterances");
    put(p, "<section id=\"transcript\"><h2>Transcript</h2>");
    size_t i, shown = 0;
    json_t *u;
    json_array_foreach(utts, i, u)
    {
        const char *text = json_string_value(json_object_get(u, "text"));
        if (!text)
            continue;
        shown++;
        double t = 0;
        char at[32];
        jnum(u, "start", &t);
        fmt_time(at, sizeof at, t);
        put(p, "<div class=\"u\"><span class=\"time\">");
        put(p, at);
        put(p, "</span>");
        put_speaker(p, jstr(u, "speaker"));
        put(p, "<p>");
        esc(p, text);
        put(p, "</p></div>\n");
    }
    if (!shown)
        put(p, "<p class=\"none\">No transcript.</p>");
    put(p, "</section>\n");
}

int sdra_report_render(char **html, const json_t *call, const json_t *transcript,
                       const json_t *analysis, const json_t *email, const json_t *crm,
                       sdra_error *err)
{
    if (!json_is_object(call))
        return sdra_error_set(err, SDRA_EINVAL, "report: the call document is missing or not an object");
    if (!json_is_object(analysis))
        return sdra_error_set(err, SDRA_EINVAL, "report: the analysis document is missing or not an object");
    const char *schema = jstr(analysis, "schema");
    if (schema && strcmp(schema, "sdra.analysis/1") != 0)
        return sdra_error_set(err, SDRA_EINVAL, "report: analysis has schema '%.60s', expected sdra.analysis/1", schema);
    page *p = calloc(1, sizeof *p);
    if (!p)
        return sdra_error_set(err, SDRA_ENOMEM, "report: out of memory");
    sdra_buf_init(&p->b, SDRA_REPORT_MAX_BYTES);
    p->call = call;
    p->transcript = json_is_object(transcript) ? transcript : NULL;
    p->analysis = analysis;
    p->email = email;
    p->crm = crm;
    speakers_collect(p);

    const char *name = jstr(call, "contact_name"), *company = jstr(call, "company");
    put(p, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
           "<title>Call report: ");
    esc(p, name ? name : company ? company : "call");
    if (name && company) {
        put(p, " (");
        esc(p, company);
        put(p, ")");
    }
    if (jstr(call, "call_date")) {
        put(p, ", ");
        esc(p, jstr(call, "call_date"));
    }
    put(p, "</title><style>");
    put(p, CSS);
    put(p, "</style></head><body><main>\n");
    section_quality(p);
    section_header(p);
    section_sentiment(p);
    section_talk(p);
    section_objections(p);
    section_coaching(p);
    section_findings(p);
    section_actions(p);
    section_email(p);
    section_crm(p);
    section_transcript(p);
    put(p, "<footer>sdr-assistant ");
    put(p, SDRA_VERSION);
    if (jstr(call, "id")) {
        put(p, " &middot; call ");
        esc(p, jstr(call, "id"));
    }
    put(p, "</footer></main></body></html>\n");

    int rc = p->rc;
    if (rc == SDRA_ELIMIT)
        rc = sdra_error_set(err, rc, "report: larger than the limit of %u bytes", SDRA_REPORT_MAX_BYTES);
    else if (rc < 0)
        rc = sdra_error_set(err, rc, "report: %s", sdra_strerror(rc));
    else if (!(*html = sdra_buf_detach(&p->b)))
        rc = sdra_error_set(err, SDRA_ENOMEM, "report: out of memory");
    sdra_buf_release(&p->b);
    free(p);
    return rc;
}
