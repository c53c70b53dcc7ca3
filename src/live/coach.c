/*
 * coach.c - live coaching over a growing transcript (include/sdra/live.h, docs/live.md, "Alerts").
 *
 * The live endpoint appends final utterances to the call's transcript and calls
 * sdra_coach_update after each append. The coach finds the utterances it has not judged yet
 * and runs the post-call analysis (sdra_analyze, rules backend, the same data/analyze files) on
 * a window: those utterances plus COACH_CONTEXT before them, the most the rules look back
 * (ctx=meeting reads 3). An utterance's objections, do-not-contact requests, question mark and
 * sentiment depend only on it and that context, so the window gives the findings the whole
 * call would. What spans the call is carried as state instead of re-read: talk time and
 * sentiment sums per role, the current run of one speaker (monologue), whether the talk ratio
 * is outside its band, the open prospect questions, the end of the last speech (silence). So
 * one update costs the same at minute 2 and at minute 120 (bench/coach.sh measures it).
 *
 * Each utterance is judged once, when it first appears, which is what makes every alert come
 * out once: an objection per type and utterance, a do-not-call per utterance, a monologue per
 * run, a silence per gap, an unanswered question per question, a talk ratio alert per
 * excursion out of the band. Utterances are told apart by (speaker, start, end): the two
 * channels finish utterances out of order, so a new one may be sorted in before the last
 * judged ones, and indices alone would mislead.
 *
 * Battlecards come from data/talking_points through sdra_tp_battlecard (compose's loader).
 * Nothing here prints; a failure returns a code and leaves the coach as it was before the call.
 */
#include "sdra/live.h"
#include "sdra/call.h"
#include "sdra/log.h"
#include "sdra/talking_points.h"
#include "sdra/util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define COACH_CONTEXT 4        /* utterances before the first new one in the window */
#define COACH_RECENT 256       /* keys of judged utterances kept to tell new ones from old */
#define COACH_MAX_OPEN 8       /* open prospect questions; the oldest is dropped past this */
#define COACH_TEXT_MAX 400     /* bytes of utterance text quoted in an alert */
#define COACH_MAX_SECONDS 86400.0

enum { K_OBJECTION, K_MONOLOGUE, K_TALK_RATIO, K_SILENCE, K_UNANSWERED, K_DNC, K_N };
static const char *const kind_names[K_N] = {"objection", "monologue", "talk_ratio",
                                            "silence", "unanswered_question", "do_not_call"};

typedef struct ukey {
    int speaker;
    double start, end;
} ukey;

typedef struct open_q {
    ukey key;
    size_t utt; /* index when it was asked */
    char *text;
} open_q;

struct sdra_coach {
    sdra_coach_params p;
    size_t n_analysed; /* utterances handed to the analysis so far (sdra_coach_analysed) */
    sdra_analyze_params ap;
    char call_date[11];
    char *rep_name, *rules_dir;
    char tp_dir[PATH_MAX];
    size_t n_seen;                  /* utterances judged */
    ukey recent[COACH_RECENT];      /* ring of the last judged ones */
    size_t n_recent, recent_pos;
    double talk[3];                 /* seconds by role (sdra_role) */
    double sent_sum[3], sent_w[3];  /* token-weighted sentiment by role */
    double last_end;                /* end of the last speech judged */
    double silence_for;             /* last_end of the gap a silence alert was given for */
    double clock;                   /* latest tick */
    int run_speaker;                /* the current run of one speaker's utterances */
    double run_start, run_end;
    bool run_alerted, ratio_out, dnc;
    open_q open[COACH_MAX_OPEN];
    size_t n_open;
    int counts[K_N];
};

static double r3(double x) { return round(x * 1000.0) / 1000.0; }

sdra_coach_params sdra_coach_default_params(void)
{
    sdra_coach_params p = {0};
    p.monologue_s = 90;
    p.talk_ratio_low = 0.25;
    p.talk_ratio_high = 0.70;
    p.min_talk_s = 120;
    p.silence_s = 15;
    p.unanswered_s = 30;
    return p;
}

static int check_params(const sdra_coach_params *p, sdra_error *err)
{
    const struct {
        const char *name;
        double v, max;
    } f[] = {{"monologue-s", p->monologue_s, COACH_MAX_SECONDS},
             {"talk-ratio-low", p->talk_ratio_low, 1},
             {"talk-ratio-high", p->talk_ratio_high, 1},
             {"min-talk-s", p->min_talk_s, COACH_MAX_SECONDS},
             {"silence-s", p->silence_s, COACH_MAX_SECONDS},
             {"unanswered-s", p->unanswered_s, COACH_MAX_SECONDS}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (!isfinite(f[i].v) || f[i].v < 0 || f[i].v > f[i].max)
            return sdra_error_set(err, SDRA_EINVAL, "live coach: %s %g: expected a number from 0 to %g",
                                  f[i].name, f[i].v, f[i].max);
    if (p->talk_ratio_low > p->talk_ratio_high)
        return sdra_error_set(err, SDRA_EINVAL, "live coach: talk-ratio-low %g is above talk-ratio-high %g",
                              p->talk_ratio_low, p->talk_ratio_high);
    return 0;
}

int sdra_coach_params_set(sdra_coach_params *p, const char *name, const char *value, sdra_error *err)
{
    static const char *const names[] = {"monologue-s", "talk-ratio-low", "talk-ratio-high",
                                        "min-talk-s", "silence-s", "unanswered-s"};
    char norm[32];
    if (!name || strlen(name) >= sizeof norm)
        return sdra_error_set(err, SDRA_ENOTFOUND, "live coach: unknown threshold '%.40s'", name ? name : "");
    for (size_t i = 0;; i++) {
        norm[i] = name[i] == '_' ? '-' : name[i];
        if (!name[i])
            break;
    }
    size_t k = 0;
    while (k < sizeof names / sizeof names[0] && strcmp(names[k], norm))
        k++;
    if (k == sizeof names / sizeof names[0])
        return sdra_error_set(err, SDRA_ENOTFOUND,
                              "live coach: unknown threshold '%.40s' (known: monologue-s, talk-ratio-low, "
                              "talk-ratio-high, min-talk-s, silence-s, unanswered-s)",
                              name);
    char *end = NULL;
    errno = 0;
    double v = value ? strtod(value, &end) : 0;
    if (!value || !*value || end == value || *end || errno)
        return sdra_error_set(err, SDRA_EINVAL, "live coach: %s '%.40s': expected a number", norm,
                              value ? value : "");
    sdra_coach_params q = *p;
    double *slot[] = {&q.monologue_s, &q.talk_ratio_low, &q.talk_ratio_high,
                      &q.min_talk_s,  &q.silence_s,      &q.unanswered_s};
    *slot[k] = v;
    int rc = check_params(&q, err);
    if (rc < 0)
        return rc;
    *p = q;
    return 0;
}

int sdra_coach_create(sdra_coach **out, const sdra_coach_params *pin, sdra_error *err)
{
    *out = NULL;
    sdra_coach_params p = pin ? *pin : sdra_coach_default_params();
    int rc = check_params(&p, err);
    if (rc < 0)
        return rc;
    sdra_coach *c = calloc(1, sizeof *c);
    if (!c)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    c->p = p;
    c->silence_for = -1;
    c->run_speaker = -1;
    c->ap = sdra_analyze_default_params();
    if (p.analyze) {
        /* copied: the caller's strings need not outlive this call */
        const sdra_analyze_params *a = p.analyze;
        if (a->call_date && *a->call_date) {
            if (sdra_date_validate(a->call_date) < 0) {
                rc = sdra_error_set(err, SDRA_EINVAL, "live coach: call date '%.20s': expected YYYY-MM-DD",
                                    a->call_date);
                goto done;
            }
            sdra_strlcpy(c->call_date, a->call_date, sizeof c->call_date);
            c->ap.call_date = c->call_date;
        }
        if ((a->rep_name && !(c->rep_name = strdup(a->rep_name))) ||
            (a->rules_dir && !(c->rules_dir = strdup(a->rules_dir)))) {
            rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
            goto done;
        }
        c->ap.rep_name = c->rep_name;
        c->ap.rules_dir = c->rules_dir;
        c->ap.max_utterances = a->max_utterances;
    }
    /* always the rules backend: an alert cannot wait for a model server */
    c->ap.backend = "rules";
    c->p.analyze = NULL;
    c->p.talking_points_dir = NULL;
    if (p.talking_points_dir) {
        if (sdra_strlcpy(c->tp_dir, p.talking_points_dir, sizeof c->tp_dir) >= sizeof c->tp_dir) {
            rc = sdra_error_set(err, SDRA_ELIMIT, "live coach: talking points path too long");
            goto done;
        }
    } else if (sdra_share_path(c->tp_dir, sizeof c->tp_dir, "talking_points") < 0) {
        rc = sdra_error_set(err, SDRA_ELIMIT, "live coach: share directory path too long");
        goto done;
    }
    struct stat st;
    if (stat(c->tp_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        rc = sdra_error_set(err, SDRA_ENOTFOUND, "live coach: talking points '%s': no such directory", c->tp_dir);
        goto done;
    }
    *out = c;
    c = NULL;
done:
    sdra_coach_destroy(c);
    return rc;
}

void sdra_coach_destroy(sdra_coach *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_open; i++)
        free(c->open[i].text);
    free(c->rep_name);
    free(c->rules_dir);
    free(c);
}

int sdra_coach_alert_count(const sdra_coach *c)
{
    int n = 0;
    for (int k = 0; c && k < K_N; k++)
        n += c->counts[k];
    return n;
}

int sdra_coach_alert_count_kind(const sdra_coach *c, const char *kind)
{
    for (int k = 0; c && kind && k < K_N; k++)
        if (!strcmp(kind_names[k], kind))
            return c->counts[k];
    return 0;
}

/* ---- emitting ------------------------------------------------------------------------------ */

static json_t *text_json(const char *s)
{
    char buf[COACH_TEXT_MAX + 1];
    sdra_strlcpy(buf, s ? s : "", sizeof buf);
    /* never cut a UTF-8 sequence: drop a trailing partial one */
    size_t n = strlen(buf), k = n;
    while (k > 0 && ((unsigned char)buf[k - 1] & 0xC0) == 0x80)
        k--;
    if (k > 0 && ((unsigned char)buf[k - 1] & 0x80) && n == COACH_TEXT_MAX) {
        unsigned char lead = (unsigned char)buf[k - 1];
        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        if (n - (k - 1) < need)
            buf[k - 1] = '\0';
    }
    json_t *j = json_string(buf);
    return j ? j : json_string("");
}

/* A new alert object of kind k at call time at (utterance index, or SIZE_MAX for none). */
static json_t *alert_new(int k, double at, size_t utt)
{
    json_t *a = json_object();
    json_object_set_new(a, "kind", json_string(kind_names[k]));
    json_object_set_new(a, "at", json_real(r3(at)));
    if (utt != SIZE_MAX)
        json_object_set_new(a, "utterance", json_integer((json_int_t)utt));
    return a;
}

/* Hands alert a (consumed) to emit and counts it. */
static void alert_emit(sdra_coach *c, int k, json_t *a, sdra_coach_emit_fn emit, void *user)
{
    if (!a)
        return;
    c->counts[k]++;
    if (emit)
        emit(user, "alert", a);
    json_decref(a);
}

/* ---- telling new utterances from judged ones ---------------------------------------------- */

static ukey key_of(const sdra_utterance *u) { return (ukey){u->speaker, u->start, u->end}; }

static bool key_eq(ukey a, ukey b) { return a.speaker == b.speaker && a.start == b.start && a.end == b.end; }

static bool recent_has(const sdra_coach *c, ukey k)
{
    for (size_t i = 0; i < c->n_recent; i++)
        if (key_eq(c->recent[i], k))
            return true;
    return false;
}

static void recent_add(sdra_coach *c, ukey k)
{
    c->recent[c->recent_pos] = k;
    c->recent_pos = (c->recent_pos + 1) % COACH_RECENT;
    if (c->n_recent < COACH_RECENT)
        c->n_recent++;
}

/* The earliest start the ring remembers, or -inf while it holds every judged utterance. */
static double recent_horizon(const sdra_coach *c)
{
    if (c->n_recent < COACH_RECENT)
        return -INFINITY;
    double h = INFINITY;
    for (size_t i = 0; i < c->n_recent; i++)
        if (c->recent[i].start < h)
            h = c->recent[i].start;
    return h;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Fills idx with the indices of t's utterances not judged yet, ascending; returns how many.
 * Scans back from the end, so the cost follows the number of new utterances, not the call. */
static size_t find_new(const sdra_coach *c, const sdra_transcript *t, size_t *idx, size_t want)
{
    double horizon = recent_horizon(c);
    size_t found = 0;
    for (size_t i = t->n_utts; i-- > 0 && found < want;) {
        if (t->utts[i].start < horizon)
            break; /* older than anything remembered: sorted in too late to be judged */
        if (!recent_has(c, key_of(&t->utts[i])))
            idx[found++] = i;
    }
    qsort(idx, found, sizeof *idx, cmp_size);
    return found;
}

/* A transcript of t's utterances [lo, t->n_utts) with all of t's speakers. */
static int window_of(sdra_transcript **out, const sdra_transcript *t, size_t lo, sdra_error *err)
{
    sdra_transcript *w = sdra_transcript_create();
    int rc = 0;
    if (!w)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    if (t->recorded_date && !(w->recorded_date = strdup(t->recorded_date)))
        goto nomem;
    for (size_t s = 0; s < t->n_speakers; s++) {
        const sdra_speaker *sp = &t->speakers[s];
        if (sdra_transcript_add_speaker(w, sp->id, sp->role, sp->channel) < 0 ||
            (sp->name && !(w->speakers[s].name = strdup(sp->name))))
            goto nomem;
    }
    for (size_t i = lo; i < t->n_utts; i++) {
        const sdra_utterance *u = &t->utts[i];
        sdra_utterance *v = sdra_transcript_add_utterance(w, u->speaker, u->start, u->end, u->text ? u->text : "");
        if (!v)
            goto nomem;
        for (size_t k = 0; k < u->n_words; k++)
            if (sdra_utterance_add_word(v, u->words[k].w, u->words[k].start, u->words[k].end, u->words[k].conf) < 0)
                goto nomem;
    }
    w->duration_s = t->duration_s;
    *out = w;
    return 0;
nomem:
    sdra_transcript_destroy(w);
    rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    return rc;
}

/* ---- the alerts ------------------------------------------------------------------------------ */

static void fire_unanswered(sdra_coach *c, size_t q, sdra_coach_emit_fn emit, void *user)
{
    open_q *o = &c->open[q];
    json_t *a = alert_new(K_UNANSWERED, o->key.end + c->p.unanswered_s, o->utt);
    json_object_set_new(a, "text", text_json(o->text));
    alert_emit(c, K_UNANSWERED, a, emit, user);
    free(o->text);
    memmove(&c->open[q], &c->open[q + 1], (c->n_open - q - 1) * sizeof c->open[0]);
    c->n_open--;
}

/* Open questions whose time ran out by now (call time), oldest due first. */
static void due_questions(sdra_coach *c, double now, sdra_coach_emit_fn emit, void *user)
{
    if (c->p.unanswered_s <= 0)
        return;
    for (;;) {
        size_t best = SIZE_MAX;
        for (size_t q = 0; q < c->n_open; q++)
            if (c->open[q].key.end + c->p.unanswered_s <= now &&
                (best == SIZE_MAX || c->open[q].key.end < c->open[best].key.end))
                best = q;
        if (best == SIZE_MAX)
            return;
        fire_unanswered(c, best, emit, user);
    }
}

static void close_questions(sdra_coach *c, double before)
{
    for (size_t q = 0; q < c->n_open;) {
        if (c->open[q].key.start < before) {
            free(c->open[q].text);
            memmove(&c->open[q], &c->open[q + 1], (c->n_open - q - 1) * sizeof c->open[0]);
            c->n_open--;
        } else {
            q++;
        }
    }
}

static void open_question(sdra_coach *c, const sdra_utterance *u, size_t idx)
{
    if (c->p.unanswered_s <= 0)
        return;
    if (c->n_open == COACH_MAX_OPEN) { /* the oldest has waited longest: forget it */
        free(c->open[0].text);
        memmove(&c->open[0], &c->open[1], (COACH_MAX_OPEN - 1) * sizeof c->open[0]);
        c->n_open--;
    }
    char *text = strndup(u->text ? u->text : "", COACH_TEXT_MAX);
    if (!text)
        return; /* out of memory: this question goes unwatched, the call goes on */
    c->open[c->n_open++] = (open_q){key_of(u), idx, text};
}

static void objection_alert(sdra_coach *c, const json_t *ob, const sdra_utterance *u, size_t idx,
                            sdra_coach_emit_fn emit, void *user)
{
    const char *type = json_string_value(json_object_get(ob, "type"));
    const char *text = json_string_value(json_object_get(ob, "text"));
    if (!type)
        return;
    char *label = NULL, *point = NULL;
    sdra_error e = {0};
    if (sdra_tp_battlecard(c->tp_dir, type, text, !c->dnc, &label, &point, &e) < 0)
        sdra_log(SDRA_LOG_WARN, "live coach: objection '%.40s': no battlecard (%s)", type, e.msg);
    json_t *a = alert_new(K_OBJECTION, u->start, idx);
    json_object_set_new(a, "type", json_string(type));
    json_object_set_new(a, "text", text_json(text));
    json_t *card = json_object();
    json_object_set_new(card, "label", json_string(label ? label : type));
    json_object_set_new(card, "point", point ? json_string(point) : json_null());
    json_object_set_new(a, "battlecard", card);
    free(label);
    free(point);
    alert_emit(c, K_OBJECTION, a, emit, user);
}

/* Judges utterance idx of t (window index wi of doc): see the file comment for the order. */
static void judge(sdra_coach *c, const sdra_transcript *t, size_t idx, size_t wi, const json_t *doc,
                  const sdra_role *roles, sdra_coach_emit_fn emit, void *user)
{
    const sdra_utterance *u = &t->utts[idx];
    sdra_role role = roles[u->speaker] == SDRA_ROLE_REP ? SDRA_ROLE_REP : SDRA_ROLE_PROSPECT;
    const json_t *su = json_array_get(json_object_get(json_object_get(doc, "sentiment"), "utterances"), wi);
    double score = json_number_value(json_object_get(su, "score"));
    json_int_t tokens = json_integer_value(json_object_get(su, "tokens"));
    bool question = json_is_true(json_object_get(su, "question"));

    /* the clock moved to this utterance: questions whose time ran out before it */
    due_questions(c, u->start, emit, user);

    c->talk[role] += sdra_utterance_talk_s(u);
    double w = tokens > 0 ? (double)tokens : 1;
    c->sent_sum[role] += score * w;
    c->sent_w[role] += w;

    size_t i;
    const json_t *o;
    bool dnc = false;
    json_array_foreach(json_object_get(json_object_get(doc, "contact_preferences"), "evidence"), i, o) {
        const char *ty = json_string_value(json_object_get(o, "type"));
        if (json_integer_value(json_object_get(o, "i")) == (json_int_t)wi && ty &&
            (!strcmp(ty, "do_not_call") || !strcmp(ty, "do_not_contact")) && !dnc) {
            dnc = true;
            json_t *a = alert_new(K_DNC, u->start, idx);
            json_object_set_new(a, "text", text_json(json_string_value(json_object_get(o, "text"))));
            alert_emit(c, K_DNC, a, emit, user);
        }
    }
    if (dnc)
        c->dnc = true; /* from now on no battlecard proposes a call */
    json_array_foreach(json_object_get(doc, "objections"), i, o)
        if (json_integer_value(json_object_get(o, "i")) == (json_int_t)wi)
            objection_alert(c, o, u, idx, emit, user);

    /* a run of one speaker's utterances, as the analysis' longest_monologue counts it */
    if (u->speaker != c->run_speaker) {
        c->run_speaker = u->speaker;
        c->run_start = u->start;
        c->run_end = u->end;
        c->run_alerted = false;
    } else if (u->end > c->run_end) {
        c->run_end = u->end;
    }
    if (role == SDRA_ROLE_REP && c->p.monologue_s > 0 && !c->run_alerted &&
        c->run_end - c->run_start > c->p.monologue_s) {
        c->run_alerted = true;
        json_t *a = alert_new(K_MONOLOGUE, u->start, idx);
        json_object_set_new(a, "speaker", json_string(t->speakers[u->speaker].id));
        json_object_set_new(a, "seconds", json_real(r3(c->run_end - c->run_start)));
        alert_emit(c, K_MONOLOGUE, a, emit, user);
    }

    /* a rep statement answers what the prospect asked before it; a question back does not */
    if (role == SDRA_ROLE_REP && !question && tokens >= 3)
        close_questions(c, u->start);
    if (role == SDRA_ROLE_PROSPECT && question)
        open_question(c, u, idx);

    double total = c->talk[SDRA_ROLE_REP] + c->talk[SDRA_ROLE_PROSPECT];
    if (total > 0 && total >= c->p.min_talk_s) {
        double share = c->talk[SDRA_ROLE_REP] / total;
        bool out = share < c->p.talk_ratio_low || share > c->p.talk_ratio_high;
        if (out && !c->ratio_out) {
            json_t *a = alert_new(K_TALK_RATIO, u->start, idx);
            json_object_set_new(a, "rep_share", json_real(r3(share)));
            json_object_set_new(a, "low", json_real(c->p.talk_ratio_low));
            json_object_set_new(a, "high", json_real(c->p.talk_ratio_high));
            alert_emit(c, K_TALK_RATIO, a, emit, user);
        }
        c->ratio_out = out;
    }
    if (u->end > c->last_end)
        c->last_end = u->end;
}

static json_t *metrics_json(const sdra_coach *c, const sdra_transcript *t)
{
    json_t *m = json_object(), *tr = json_object(), *se = json_object();
    double total = c->talk[SDRA_ROLE_REP] + c->talk[SDRA_ROLE_PROSPECT];
    json_object_set_new(m, "at", json_real(r3(c->last_end)));
    json_object_set_new(tr, "rep", json_real(r3(total > 0 ? c->talk[SDRA_ROLE_REP] / total : 0)));
    json_object_set_new(tr, "prospect", json_real(r3(total > 0 ? c->talk[SDRA_ROLE_PROSPECT] / total : 0)));
    json_object_set_new(m, "talk_ratio", tr);
    const sdra_role r[2] = {SDRA_ROLE_REP, SDRA_ROLE_PROSPECT};
    for (int k = 0; k < 2; k++)
        json_object_set_new(se, sdra_role_name(r[k]),
                            json_real(r3(c->sent_w[r[k]] > 0 ? c->sent_sum[r[k]] / c->sent_w[r[k]] : 0)));
    json_object_set_new(m, "sentiment", se);
    json_object_set_new(m, "utterances", json_integer((json_int_t)t->n_utts));
    return m;
}

int sdra_coach_update(sdra_coach *c, const sdra_transcript *t, sdra_coach_emit_fn emit, void *user, sdra_error *err)
{
    if (!c || !t)
        return sdra_error_set(err, SDRA_EINVAL, "live coach: no coach or transcript");
    if (t->n_utts < c->n_seen)
        return sdra_error_set(err, SDRA_EINVAL, "live coach: the transcript lost utterances (%zu, had %zu)",
                              t->n_utts, c->n_seen);
    size_t want = t->n_utts - c->n_seen;
    if (!want)
        return 0;
    size_t *idx = malloc(want * sizeof *idx);
    sdra_role *roles = calloc(t->n_speakers ? t->n_speakers : 1, sizeof *roles);
    sdra_transcript *win = NULL;
    json_t *doc = NULL;
    int rc = 0;
    if (!idx || !roles) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }
    size_t n_new = find_new(c, t, idx, want);
    if (n_new < want)
        sdra_log(SDRA_LOG_DEBUG, "live coach: %zu utterances sorted in too far back to be judged", want - n_new);
    if (n_new) {
        size_t lo = idx[0] > COACH_CONTEXT ? idx[0] - COACH_CONTEXT : 0;
        if ((rc = window_of(&win, t, lo, err)) < 0 || (rc = sdra_analyze(&doc, win, &c->ap, err)) < 0)
            goto done;
        c->n_analysed += win->n_utts;
        /* roles as the analysis decided them (the transcript's, else its own rules) */
        size_t i;
        const json_t *sp;
        json_array_foreach(json_object_get(doc, "speakers"), i, sp)
            if (i < t->n_speakers)
                roles[i] = sdra_role_parse(json_string_value(json_object_get(sp, "role")));
        for (size_t k = 0; k < n_new; k++) {
            judge(c, t, idx[k], idx[k] - lo, doc, roles, emit, user);
            recent_add(c, key_of(&t->utts[idx[k]]));
        }
    }
    c->n_seen = t->n_utts;
    json_t *m = metrics_json(c, t);
    if (m && emit)
        emit(user, "metrics", m);
    json_decref(m);
done:
    json_decref(doc);
    sdra_transcript_destroy(win);
    free(idx);
    free(roles);
    return rc;
}

json_t *sdra_coach_metrics(const sdra_coach *c, const sdra_transcript *t)
{
    return c && t ? metrics_json(c, t) : NULL;
}

int sdra_coach_tick(sdra_coach *c, const sdra_transcript *t, double now_s, sdra_coach_emit_fn emit, void *user,
                    sdra_error *err)
{
    (void)t;
    if (!c || !isfinite(now_s))
        return sdra_error_set(err, SDRA_EINVAL, "live coach: no coach or a clock that is not a number");
    if (now_s < c->clock)
        return 0;
    c->clock = now_s;
    /* in call-time order: questions due before the silence fell due, the silence, the rest */
    double silence_at = c->last_end + c->p.silence_s;
    bool silence = c->p.silence_s > 0 && now_s >= silence_at && c->silence_for != c->last_end;
    due_questions(c, silence ? silence_at : now_s, emit, user);
    if (silence) {
        c->silence_for = c->last_end;
        json_t *a = alert_new(K_SILENCE, silence_at, SIZE_MAX);
        json_object_set_new(a, "seconds", json_real(r3(now_s - c->last_end)));
        alert_emit(c, K_SILENCE, a, emit, user);
        due_questions(c, now_s, emit, user);
    }
    return 0;
}

size_t sdra_coach_analysed(const sdra_coach *c)
{
    return c ? c->n_analysed : 0;
}
