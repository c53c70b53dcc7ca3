/*
 * eval.c - sdra_analyze_eval_labels(): scores the analysis against hand-labelled calls.
 *
 * Labels file (docs/analysis.md), one directive per line, '#' comments:
 *   call FILE [date=YYYY-MM-DD] [rep=NAME]      starts a call (FILE relative to the labels file)
 *   objection TYPE "quote"                       an expected objection in the utterance quoted
 *   intent TYPE "quote"
 *   action OWNER [due=YYYY-MM-DD] [time=HH:MM] "quote"
 *   pain "quote"
 *   meeting YYYY-MM-DD|none [time=HH:MM]
 *   contact do_not_call|do_not_email
 * A finding matches an expected item of the same type (and owner) when the utterance it cites
 * contains the quote (case and punctuation ignored). Everything not listed for a call is
 * expected absent: unmatched findings are false positives, unmatched labels false negatives.
 */
#include "internal.h"
#include "sdra/log.h"
#include "sdra/util.h"
#include "sdra/call.h"

#include <ctype.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABEL_BYTES (4u << 20)
#define MAX_EXPECTED 512
#define MAX_FIELD 256

enum { T_OBJECTION, T_INTENT, T_ACTION, T_PAIN, T_MEETING, T_CONTACT, N_T };
static const char *type_names[N_T] = {"objection", "intent", "action_item", "pain_point", "next_meeting", "contact"};

typedef struct expected {
    int type;
    char label[32]; /* objection/intent type, action owner, contact flag, meeting date */
    char quote[MAX_FIELD];
    char due[11], time[6];
    bool matched;
} expected;

typedef struct callspec {
    char file[512];
    char date[11];
    char rep[64];
    int line;
    expected *ex;
    int n_ex;
} callspec;

/* lower-case alphanumerics, everything else one space */
static void norm(char *out, size_t n, const char *in)
{
    size_t o = 0;
    bool sp = true;
    for (; *in && o + 1 < n; in++) {
        unsigned char ch = (unsigned char)*in;
        if (isalnum(ch) || ch >= 0x80) {
            out[o++] = (char)tolower(ch);
            sp = false;
        } else if (ch == '\'') {
            continue; /* don't = dont */
        } else if (!sp) {
            out[o++] = ' ';
            sp = true;
        }
    }
    while (o && out[o - 1] == ' ')
        o--;
    out[o] = 0;
}

static bool quote_in(const char *quote, const char *text)
{
    char q[MAX_FIELD], *t;
    size_t tl = strlen(text) + 1;
    if (!(t = malloc(tl)))
        return false;
    norm(q, sizeof q, quote);
    norm(t, tl, text);
    bool r = *q && strstr(t, q) != NULL;
    free(t);
    return r;
}

/* Splits a labels line into fields; "quoted strings" keep their spaces. */
static int split(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    while (*p && n < max) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (*p == '"') {
            char *e = strchr(p + 1, '"');
            if (!e)
                return -1;
            *e = 0;
            f[n++] = p + 1;
            p = e + 1;
        } else {
            f[n++] = p;
            while (*p && *p != ' ' && *p != '\t')
                p++;
            if (*p)
                *p++ = 0;
        }
    }
    return n;
}

static int score_call(sdra_analyze_eval *out, const callspec *cs, const char *base_dir,
                      const sdra_analyze_params *pin, sdra_error *err)
{
    char path[1024];
    if (cs->file[0] == '/')
        snprintf(path, sizeof path, "%s", cs->file);
    else if ((size_t)snprintf(path, sizeof path, "%s/%s", base_dir, cs->file) >= sizeof path)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", cs->file);
    sdra_transcript *t = NULL;
    json_t *doc = NULL;
    sdra_analyze_params p = *pin;
    p.call_date = cs->date[0] ? cs->date : pin->call_date;
    p.rep_name = cs->rep[0] ? cs->rep : pin->rep_name;
    int rc = sdra_transcript_load(&t, path, p.rep_name, err);
    if (rc < 0)
        return rc;
    if ((rc = sdra_analyze(&doc, t, &p, err)) < 0) {
        sdra_transcript_destroy(t);
        return sdra_error_prefix(err, "%s", cs->file);
    }
    for (int k = 0; k < cs->n_ex; k++)
        cs->ex[k].matched = false;
    /* objections, intents, action items, pain points */
    static const struct { const char *key; int type; const char *label_key; } lists[] = {
        {"objections", T_OBJECTION, "type"},
        {"intents", T_INTENT, "type"},
        {"action_items", T_ACTION, "owner"},
        {"pain_points", T_PAIN, NULL},
    };
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
        sdra_analyze_score *sc = &out->types[lists[l].type];
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(doc, lists[l].key), i, o) {
            json_int_t u = json_integer_value(json_object_get(o, "i"));
            const char *label = lists[l].label_key ? json_string_value(json_object_get(o, lists[l].label_key)) : "";
            const char *text = (u >= 0 && (size_t)u < t->n_utts && t->utts[u].text) ? t->utts[u].text : "";
            expected *hit = NULL;
            for (int k = 0; k < cs->n_ex && !hit; k++) {
                expected *e = &cs->ex[k];
                if (e->type == lists[l].type && !e->matched && (!lists[l].label_key || !strcmp(e->label, label ? label : "")) &&
                    quote_in(e->quote, text))
                    hit = e;
            }
            if (!hit) {
                sc->fp++;
                sdra_log(SDRA_LOG_INFO, "%s: unexpected %s %s at utterance %lld: %s", cs->file,
                         type_names[lists[l].type], label ? label : "", (long long)u, text);
                continue;
            }
            hit->matched = true;
            sc->tp++;
            if (lists[l].type == T_ACTION && hit->due[0]) {
                const char *due = json_string_value(json_object_get(o, "due"));
                const char *tm = json_string_value(json_object_get(o, "due_time"));
                sc->n_dates++;
                bool ok = due && !strcmp(due, hit->due) && (!hit->time[0] || (tm && !strcmp(tm, hit->time)));
                if (ok)
                    sc->n_dates_exact++;
                else
                    sdra_log(SDRA_LOG_INFO, "%s: action \"%s\" due %s %s, expected %s %s", cs->file, hit->quote,
                             due ? due : "none", tm ? tm : "", hit->due, hit->time);
            }
        }
    }
    /* next meeting */
    {
        sdra_analyze_score *sc = &out->types[T_MEETING];
        json_t *m = json_object_get(doc, "next_meeting");
        if (json_is_true(json_object_get(m, "approximate")))
            m = NULL; /* agreed on no day ("next week"): no meeting is booked, no invite sent */
        const char *got = json_is_object(m) ? json_string_value(json_object_get(m, "date")) : NULL;
        bool got_any = json_is_object(m);
        expected *e = NULL;
        for (int k = 0; k < cs->n_ex; k++)
            if (cs->ex[k].type == T_MEETING)
                e = &cs->ex[k];
        if (e && got_any && got && !strcmp(got, e->label)) {
            sc->tp++;
            e->matched = true;
            sc->n_dates++;
            const char *tm = json_string_value(json_object_get(m, "time"));
            if (!e->time[0] || (tm && !strcmp(tm, e->time)))
                sc->n_dates_exact++;
            else
                sdra_log(SDRA_LOG_INFO, "%s: meeting time %s, expected %s", cs->file, tm ? tm : "none", e->time);
        } else if (got_any) {
            sc->fp++;
            sdra_log(SDRA_LOG_INFO, "%s: meeting found for %s, expected %s", cs->file, got ? got : "(no date)",
                     e ? e->label : "none");
        }
    }
    /* contact preferences */
    {
        sdra_analyze_score *sc = &out->types[T_CONTACT];
        json_t *cp = json_object_get(doc, "contact_preferences");
        const char *flags[2] = {"do_not_call", "do_not_email"};
        for (int f = 0; f < 2; f++) {
            bool got = json_is_true(json_object_get(cp, flags[f]));
            expected *e = NULL;
            for (int k = 0; k < cs->n_ex; k++)
                if (cs->ex[k].type == T_CONTACT && !strcmp(cs->ex[k].label, flags[f]))
                    e = &cs->ex[k];
            if (got && e) {
                sc->tp++;
                e->matched = true;
            } else if (got) {
                sc->fp++;
                sdra_log(SDRA_LOG_INFO, "%s: unexpected %s", cs->file, flags[f]);
            }
        }
    }
    for (int k = 0; k < cs->n_ex; k++) {
        const expected *e = &cs->ex[k];
        if (e->matched || (e->type == T_MEETING && !strcmp(e->label, "none")))
            continue;
        out->types[e->type].fn++;
        if (e->type == T_ACTION && e->due[0])
            out->types[e->type].n_dates++; /* a missed item's date was not resolved either */
        if (e->type == T_MEETING)
            out->types[e->type].n_dates++;
        sdra_log(SDRA_LOG_INFO, "%s: missed %s %s \"%s\"", cs->file, type_names[e->type], e->label, e->quote);
    }
    out->n_calls++;
    json_decref(doc);
    sdra_transcript_destroy(t);
    return 0;
}

int sdra_analyze_eval_labels(sdra_analyze_eval *out, const char *labels_path, const sdra_analyze_params *p,
                             sdra_error *err)
{
    memset(out, 0, sizeof *out);
    out->n_types = N_T;
    for (int k = 0; k < N_T; k++)
        sdra_strlcpy(out->types[k].type, type_names[k], sizeof out->types[k].type);
    sdra_analyze_params defp = sdra_analyze_default_params();
    if (!p)
        p = &defp;
    char *data = NULL;
    size_t len;
    int rc = sdra_file_read(&data, &len, labels_path, MAX_LABEL_BYTES, err);
    if (rc < 0)
        return rc;
    char dirbuf[1024];
    sdra_strlcpy(dirbuf, labels_path, sizeof dirbuf);
    const char *base = dirname(dirbuf);
    callspec cs = {0};
    cs.ex = calloc(MAX_EXPECTED, sizeof *cs.ex);
    if (!cs.ex) {
        free(data);
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    }
    bool have_call = false;
    int line_no = 0;
    for (char *line = data, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        line_no++;
        char *hash = strchr(line, '#');
        if (hash && (hash == line || hash[-1] == ' ' || hash[-1] == '\t'))
            *hash = 0;
        char *f[16];
        int nf = split(line, f, 16);
        if (nf < 0) {
            rc = sdra_error_set(err, SDRA_EINVAL, "%s:%d: unterminated quote", labels_path, line_no);
            goto done;
        }
        if (nf == 0)
            continue;
#define BAD(msg)                                                                              \
    do {                                                                                      \
        rc = sdra_error_set(err, SDRA_EINVAL, "%s:%d: %s", labels_path, line_no, msg);        \
        goto done;                                                                            \
    } while (0)
        if (!strcmp(f[0], "call")) {
            if (have_call && (rc = score_call(out, &cs, base, p, err)) < 0)
                goto done;
            if (nf < 2)
                BAD("call needs a file");
            memset(cs.file, 0, sizeof cs.file);
            cs.date[0] = cs.rep[0] = 0;
            cs.n_ex = 0;
            cs.line = line_no;
            sdra_strlcpy(cs.file, f[1], sizeof cs.file);
            for (int k = 2; k < nf; k++) {
                if (!strncmp(f[k], "date=", 5)) {
                    if (sdra_date_validate(f[k] + 5) < 0)
                        BAD("date= needs YYYY-MM-DD");
                    sdra_strlcpy(cs.date, f[k] + 5, sizeof cs.date);
                } else if (!strncmp(f[k], "rep=", 4))
                    sdra_strlcpy(cs.rep, f[k] + 4, sizeof cs.rep);
                else
                    BAD("unknown call option (date=, rep=)");
            }
            have_call = true;
            continue;
        }
        if (!have_call)
            BAD("a 'call FILE' line must come first");
        if (cs.n_ex == MAX_EXPECTED)
            BAD("too many labels for one call");
        expected *e = &cs.ex[cs.n_ex];
        memset(e, 0, sizeof *e);
        if (!strcmp(f[0], "objection") || !strcmp(f[0], "intent")) {
            if (nf != 3)
                BAD("expected: objection|intent TYPE \"quote\"");
            e->type = f[0][0] == 'o' ? T_OBJECTION : T_INTENT;
            sdra_strlcpy(e->label, f[1], sizeof e->label);
            sdra_strlcpy(e->quote, f[2], sizeof e->quote);
        } else if (!strcmp(f[0], "action")) {
            if (nf < 3 || (strcmp(f[1], "rep") && strcmp(f[1], "prospect")))
                BAD("expected: action rep|prospect [due=YYYY-MM-DD] [time=HH:MM] \"quote\"");
            e->type = T_ACTION;
            sdra_strlcpy(e->label, f[1], sizeof e->label);
            for (int k = 2; k < nf - 1; k++) {
                if (!strncmp(f[k], "due=", 4) && sdra_date_validate(f[k] + 4) == 0)
                    sdra_strlcpy(e->due, f[k] + 4, sizeof e->due);
                else if (!strncmp(f[k], "time=", 5) && strlen(f[k] + 5) == 5)
                    sdra_strlcpy(e->time, f[k] + 5, sizeof e->time);
                else
                    BAD("bad action option (due=YYYY-MM-DD, time=HH:MM)");
            }
            sdra_strlcpy(e->quote, f[nf - 1], sizeof e->quote);
        } else if (!strcmp(f[0], "pain")) {
            if (nf != 2)
                BAD("expected: pain \"quote\"");
            e->type = T_PAIN;
            sdra_strlcpy(e->quote, f[1], sizeof e->quote);
        } else if (!strcmp(f[0], "meeting")) {
            if (nf < 2 || (strcmp(f[1], "none") && sdra_date_validate(f[1]) < 0))
                BAD("expected: meeting YYYY-MM-DD|none [time=HH:MM]");
            e->type = T_MEETING;
            sdra_strlcpy(e->label, f[1], sizeof e->label);
            for (int k = 2; k < nf; k++) {
                if (!strncmp(f[k], "time=", 5) && strlen(f[k] + 5) == 5)
                    sdra_strlcpy(e->time, f[k] + 5, sizeof e->time);
                else
                    BAD("bad meeting option (time=HH:MM)");
            }
        } else if (!strcmp(f[0], "contact")) {
            if (nf != 2 || (strcmp(f[1], "do_not_call") && strcmp(f[1], "do_not_email")))
                BAD("expected: contact do_not_call|do_not_email");
            e->type = T_CONTACT;
            sdra_strlcpy(e->label, f[1], sizeof e->label);
        } else
            BAD("unknown directive (call, objection, intent, action, pain, meeting, contact)");
        cs.n_ex++;
#undef BAD
    }
    if (!have_call) {
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: no 'call' lines", labels_path);
        goto done;
    }
    rc = score_call(out, &cs, base, p, err);
done:
    free(cs.ex);
    free(data);
    return rc < 0 ? rc : 0;
}
