/*
 * dates.c - sdra_date_resolve(): finds date and time expressions in what people say and
 * resolves them against the call date. Works on tokens, so "Tuesday at 2pm", "tuesday at two"
 * and "next tuesday two p m" read alike. One expression is a run of up to one day part
 * (weekday, "tomorrow", "end of the month", "November 19", "in two weeks"), one clock time
 * and one part of day, joined by small words ("at", "on", "in the"). The rules are listed in
 * include/sdra/analyze.h and docs/analysis.md; they are deliberately simple and predictable.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *weekdays[7][3] = {
    {"monday", "mon", "mondays"},    {"tuesday", "tue", "tues"},     {"wednesday", "wed", "weds"},
    {"thursday", "thu", "thurs"},    {"friday", "fri", "fridays"},   {"saturday", "sat", "saturdays"},
    {"sunday", "sun", "sundays"}};
static const char *months[12][2] = {{"january", "jan"}, {"february", "feb"}, {"march", "mar"},
                                    {"april", "apr"},   {"may", "may"},      {"june", "jun"},
                                    {"july", "jul"},    {"august", "aug"},   {"september", "sep"},
                                    {"october", "oct"}, {"november", "nov"}, {"december", "dec"}};

static bool is(const an_tok *t, int n, int i, const char *w)
{
    return i >= 0 && i < n && !strcmp(t[i].w, w);
}

static int weekday_at(const an_tok *t, int n, int i)
{
    if (i >= n)
        return -1;
    for (int k = 0; k < 7; k++)
        for (int j = 0; j < 3; j++)
            if (!strcmp(t[i].w, weekdays[k][j]))
                return k;
    /* "sept" */
    return -1;
}

static int month_at(const an_tok *t, int n, int i)
{
    if (i >= n)
        return -1;
    for (int k = 0; k < 12; k++)
        if (!strcmp(t[i].w, months[k][0]) || !strcmp(t[i].w, months[k][1]))
            return k + 1;
    if (!strcmp(t[i].w, "sept"))
        return 9;
    return -1;
}

typedef struct parsed {
    long day;       /* day number, or LONG_MIN */
    bool has_day, day_span; /* day_span: the day stands for a week, month... (day_span()) */
    int hour, minute; /* hour < 0: none */
    int ampm;       /* 0 unknown, 1 am, 2 pm */
    const char *part;
} parsed;

/* Monday of the week containing d */
static long week_monday(long d) { return d - an_weekday(d); }

static long month_end(long anchor, int add_months)
{
    int y, m, dd;
    sdra_civil_from_days(anchor, &y, &m, &dd);
    m += add_months;
    while (m > 12)
        m -= 12, y++;
    return sdra_days_from_civil(y, m, sdra_days_in_month(y, m));
}

static long month_first(long anchor, int add_months)
{
    int y, m, dd;
    sdra_civil_from_days(anchor, &y, &m, &dd);
    m += add_months;
    while (m > 12)
        m -= 12, y++;
    return sdra_days_from_civil(y, m, 1);
}

/* A month/day (year optional): the next occurrence on or after the anchor. */
static bool month_day(long anchor, int mo, int dd, int year, long *out)
{
    int ay, am, ad;
    sdra_civil_from_days(anchor, &ay, &am, &ad);
    int y = year > 0 ? year : ay;
    if (mo < 1 || mo > 12 || dd < 1 || dd > sdra_days_in_month(y, mo))
        return false;
    long d = sdra_days_from_civil(y, mo, dd);
    if (year <= 0 && d < anchor) {
        y++;
        if (dd > sdra_days_in_month(y, mo))
            return false;
        d = sdra_days_from_civil(y, mo, dd);
    }
    *out = d;
    return true;
}

/* A duration "N days|weeks|months" at i (N in words or digits, "a", "a couple of", "a few"). */
static int duration_at(const an_tok *t, int n, int i, long anchor, long *out)
{
    int v = 0, k = 0;
    bool ord;
    if (is(t, n, i, "a") || is(t, n, i, "an")) {
        v = 1;
        k = 1;
        if (is(t, n, i + 1, "couple")) {
            v = 2;
            k = is(t, n, i + 2, "of") ? 3 : 2;
        } else if (is(t, n, i + 1, "few")) {
            v = 3;
            k = 2;
        }
    } else if (is(t, n, i, "couple") || is(t, n, i, "few")) {
        v = t[i].w[0] == 'c' ? 2 : 3;
        k = is(t, n, i + 1, "of") ? 2 : 1;
    } else {
        k = an_number(t, n, i, &v, &ord);
        if (!k || ord || v <= 0 || v > 60)
            return 0;
    }
    if (i + k >= n)
        return 0;
    const char *u = t[i + k].w;
    if (!strcmp(u, "day") || !strcmp(u, "days"))
        *out = anchor + v;
    else if (!strcmp(u, "minute") || !strcmp(u, "minutes") || !strcmp(u, "hour") || !strcmp(u, "hours"))
        *out = anchor; /* "in a few minutes": today */
    else if (!strcmp(u, "week") || !strcmp(u, "weeks"))
        *out = anchor + 7L * v;
    else if (!strcmp(u, "month") || !strcmp(u, "months")) {
        int y, m, d;
        sdra_civil_from_days(anchor, &y, &m, &d);
        m += v;
        while (m > 12)
            m -= 12, y++;
        if (d > sdra_days_in_month(y, m))
            d = sdra_days_in_month(y, m);
        *out = sdra_days_from_civil(y, m, d);
    } else
        return 0;
    return k + 1;
}

/* Day expressions. Returns tokens consumed. */
static int parse_day(const an_tok *t, int n, int i, long anchor, long *out)
{
    int wd;
    if (is(t, n, i, "today") || is(t, n, i, "tonight")) {
        *out = anchor;
        return 1;
    }
    if (is(t, n, i, "tomorrow") || is(t, n, i, "tmrw")) {
        *out = anchor + 1;
        return 1;
    }
    int k = is(t, n, i, "the") ? 1 : 0;
    if (is(t, n, i + k, "day") && is(t, n, i + k + 1, "after") && is(t, n, i + k + 2, "tomorrow")) {
        *out = anchor + 2;
        return k + 3;
    }
    /* end / close of day */
    if ((is(t, n, i, "end") || is(t, n, i, "close")) && is(t, n, i + 1, "of") &&
        (is(t, n, i + 2, "day") || is(t, n, i + 2, "business") || is(t, n, i + 2, "today"))) {
        if (is(t, n, i + 3, "tomorrow") || is(t, n, i + 3, "tmrw")) { /* "end of day tomorrow" */
            *out = anchor + 1;
            return 4;
        }
        *out = anchor;
        return 3;
    }
    /* "right after this call", "after the call": today */
    if (is(t, n, i, "after") && (is(t, n, i + 1, "this") || is(t, n, i + 1, "the") || is(t, n, i + 1, "our")) &&
        is(t, n, i + 2, "call")) {
        *out = anchor;
        return 3;
    }
    /* "I'll send it over shortly", "right away", "asap": today */
    if (is(t, n, i, "shortly") || is(t, n, i, "asap") ||
        ((is(t, n, i, "right") || is(t, n, i, "straight")) && is(t, n, i + 1, "away"))) {
        *out = anchor;
        return is(t, n, i, "shortly") || is(t, n, i, "asap") ? 1 : 2;
    }
    if (is(t, n, i, "eod") || is(t, n, i, "cob")) {
        *out = anchor;
        return 1;
    }
    /* end of (the|this|next) week / month / quarter ; beginning|start|early of next month */
    if (is(t, n, i, "end") && is(t, n, i + 1, "of")) {
        int j = i + 2;
        int next = 0;
        if (is(t, n, j, "the") || is(t, n, j, "this"))
            j++;
        if (is(t, n, j, "next")) {
            next = 1;
            j++;
        }
        if (is(t, n, j, "week")) {
            long fri = week_monday(anchor) + 4 + 7L * next;
            if (!next && fri < anchor)
                fri += 7;
            *out = fri;
            return j - i + 1;
        }
        if (is(t, n, j, "month")) {
            *out = month_end(anchor, next);
            return j - i + 1;
        }
        if (is(t, n, j, "quarter")) {
            int y, m, d;
            sdra_civil_from_days(anchor, &y, &m, &d);
            int qm = ((m - 1) / 3 + 1 + next) * 3;
            while (qm > 12)
                qm -= 12, y++;
            *out = sdra_days_from_civil(y, qm, sdra_days_in_month(y, qm));
            return j - i + 1;
        }
        if ((wd = month_at(t, n, j)) > 0) {
            int y, m, d;
            sdra_civil_from_days(anchor, &y, &m, &d);
            if (wd < m)
                y++;
            *out = sdra_days_from_civil(y, wd, sdra_days_in_month(y, wd));
            return j - i + 1;
        }
        return 0;
    }
    if ((is(t, n, i, "beginning") || is(t, n, i, "start") || is(t, n, i, "early")) &&
        (is(t, n, i + 1, "of") || is(t, n, i + 1, "next"))) {
        int j = i + 1 + is(t, n, i + 1, "of");
        if (is(t, n, j, "next") && is(t, n, j + 1, "month")) {
            *out = month_first(anchor, 1);
            return j - i + 2;
        }
        if (is(t, n, j, "next") && is(t, n, j + 1, "week")) {
            *out = week_monday(anchor) + 7;
            return j - i + 2;
        }
        return 0;
    }
    /* this|next|coming <weekday> [next week]; next week|month */
    if (is(t, n, i, "this") || is(t, n, i, "next") || is(t, n, i, "coming") ||
        (is(t, n, i, "the") && (is(t, n, i + 1, "coming") || is(t, n, i + 1, "following")))) {
        int j = i + (is(t, n, i, "the") ? 2 : 1);
        bool next = is(t, n, i, "next") || is(t, n, i + 1, "following"); /* "the following Wednesday" */
        if ((wd = weekday_at(t, n, j)) >= 0) {
            long d;
            if (next)
                d = week_monday(anchor) + 7 + wd;
            else {
                d = week_monday(anchor) + wd;
                if (d <= anchor)
                    d += 7;
            }
            *out = d;
            return j - i + 1;
        }
        if (next && is(t, n, j, "week")) {
            if ((wd = weekday_at(t, n, j + 1)) >= 0) { /* "next week tuesday" */
                *out = week_monday(anchor) + 7 + wd;
                return j - i + 2;
            }
            *out = week_monday(anchor) + 7;
            return j - i + 1;
        }
        if (is(t, n, i, "this") && is(t, n, j, "week") && weekday_at(t, n, j + 1) < 0) {
            long fri = week_monday(anchor) + 4; /* "this week": by its Friday */
            *out = fri < anchor ? anchor : fri;
            return 2;
        }
        if (!next && (is(t, n, j, "morning") || is(t, n, j, "afternoon") || is(t, n, j, "arvo") ||
                      is(t, n, j, "evening"))) {
            *out = anchor; /* "this afternoon": today; the part of day is read next */
            return j - i;
        }
        if (next && is(t, n, j, "month")) {
            *out = month_first(anchor, 1);
            return j - i + 1;
        }
        return 0;
    }
    if ((wd = weekday_at(t, n, i)) >= 0) {
        long d = week_monday(anchor) + wd;
        if (d <= anchor)
            d += 7;
        int used = 1;
        if (is(t, n, i + 1, "next") && is(t, n, i + 2, "week")) {
            d = week_monday(anchor) + 7 + wd;
            used = 3;
        } else if (is(t, n, i + 1, "this") && is(t, n, i + 2, "week")) {
            used = 3;
        } else if (is(t, n, i + 1, "week")) { /* "thursday week": a week after the coming one */
            d += 7;
            used = 2;
        }
        /* "thursday the 19th", "thursday november 19": the explicit date wins */
        int j = i + used, v;
        bool ord;
        if (is(t, n, j, "the")) {
            int k2 = an_number(t, n, j + 1, &v, &ord);
            if (k2 && ord) {
                long d2;
                int y, m, dd;
                sdra_civil_from_days(anchor, &y, &m, &dd);
                /* "tuesday the 7th of april", "thursday the 25th june": the month said wins */
                int after = j + 1 + k2, of = is(t, n, after, "of") ? 1 : 0, mo = month_at(t, n, after + of);
                if (mo > 0 && month_day(anchor, mo, v, 0, &d2)) {
                    *out = d2;
                    return used + 1 + k2 + of + 1;
                }
                if (month_day(anchor, v >= dd ? m : (m % 12) + 1, v, 0, &d2)) {
                    *out = d2;
                    return used + 1 + k2;
                }
            }
        }
        *out = d;
        return used;
    }
    /* in N days|weeks|months ; N weeks from now|today ; a week from today */
    if (is(t, n, i, "in") || is(t, n, i, "within")) {
        int k2 = duration_at(t, n, i + 1, anchor, out);
        if (k2)
            return k2 + 1;
        return 0;
    }
    {
        long d;
        int k2 = duration_at(t, n, i, anchor, &d);
        if (k2 && (is(t, n, i + k2, "from") &&
                   (is(t, n, i + k2 + 1, "now") || is(t, n, i + k2 + 1, "today")))) {
            *out = d;
            return k2 + 2;
        }
    }
    /* ISO 2026-11-19 appears as three tokens? the tokenizer keeps "2026", "11", "19" apart */
    if (i + 2 < n && strlen(t[i].w) == 4 && t[i].w[0] >= '1' && t[i].w[0] <= '2' &&
        (t[i].flags & AN_TOK_JOIN) && (t[i + 1].flags & AN_TOK_JOIN)) {
        int y = atoi(t[i].w), m = atoi(t[i + 1].w), d = atoi(t[i + 2].w);
        long dd;
        if (y >= 1900 && month_day(anchor, m, d, y, &dd)) {
            *out = dd;
            return 3;
        }
    }
    /* numeric m/d[/y]: tokens "11" "19" ["2026"] adjacent with '/' between (text not kept;
     * spans tell adjacency) */
    if (i + 1 < n && (t[i].flags & AN_TOK_JOIN)) {
        char *e1, *e2;
        long m = strtol(t[i].w, &e1, 10), d = strtol(t[i + 1].w, &e2, 10);
        if (!*e1 && !*e2 && m >= 1 && m <= 12 && d >= 1 && d <= 31) {
            int used = 2, year = 0;
            if (i + 2 < n && (t[i + 1].flags & AN_TOK_JOIN)) {
                char *e3;
                long y = strtol(t[i + 2].w, &e3, 10);
                if (!*e3 && (y >= 1900 || y < 100)) {
                    year = (int)(y < 100 ? 2000 + y : y);
                    used = 3;
                }
            }
            long dd;
            if (month_day(anchor, (int)m, (int)d, year, &dd)) {
                *out = dd;
                return used;
            }
        }
    }
    /* <month> <day>[,] [year] ; <month> the <day> */
    int mo;
    if ((mo = month_at(t, n, i)) > 0) {
        int j = i + 1 + is(t, n, i + 1, "the");
        int v;
        bool ord;
        int k2 = an_number(t, n, j, &v, &ord);
        if (k2 && v >= 1 && v <= 31) {
            int year = 0, used = j - i + k2;
            char *e;
            if (i + used < n) {
                long y = strtol(t[i + used].w, &e, 10);
                if (!*e && y >= 1900 && y <= 2200) {
                    year = (int)y;
                    used++;
                }
            }
            long dd;
            if (month_day(anchor, mo, v, year, &dd)) {
                *out = dd;
                return used;
            }
        }
        return 0;
    }
    /* [the] <day>[th] [of] <month> ; the <ordinal> */
    {
        int j = i + is(t, n, i, "the");
        int v;
        bool ord;
        int k2 = an_number(t, n, j, &v, &ord);
        if (k2 && v >= 1 && v <= 31) {
            int m2 = j + k2 + is(t, n, j + k2, "of");
            if ((mo = month_at(t, n, m2)) > 0) {
                long dd;
                if (month_day(anchor, mo, v, 0, &dd)) {
                    *out = dd;
                    return m2 - i + 1;
                }
            }
            /* bare "the 19th": must be an ordinal after "the", not followed by a noun-ish word */
            if (j > i && ord && (j + k2 >= n || !strcmp(t[j + k2].w, "at") ||
                                 !strcmp(t[j + k2].w, "then") || !strcmp(t[j + k2].w, "works") ||
                                 !strcmp(t[j + k2].w, "in") || !strcmp(t[j + k2].w, "would") ||
                                 !strcmp(t[j + k2].w, "is") || (t[j + k2 - 1].flags & AN_TOK_CLAUSE_END))) {
                int y, m, d;
                sdra_civil_from_days(anchor, &y, &m, &d);
                long dd;
                if (v < d) {
                    m++;
                    if (m > 12)
                        m = 1, y++;
                }
                if (v <= sdra_days_in_month(y, m)) {
                    dd = sdra_days_from_civil(y, m, v);
                    *out = dd;
                    return j - i + k2;
                }
            }
        }
    }
    return 0;
}

static bool time_trigger(const an_tok *t, int n, int i)
{
    static const char *tr[] = {"at", "around", "about", "by", "from", "after", "before", "till",
                               "until", "say", "maybe", "like", "or"};
    if (i < 0)
        return false;
    if (i > 0 && is(t, n, i, "it") && is(t, n, i - 1, "make")) /* "ten is tight, make it eleven" */
        return true;
    for (size_t k = 0; k < sizeof tr / sizeof tr[0]; k++)
        if (is(t, n, i, tr[k]))
            return true;
    return false;
}

/* am/pm markers at i: "am", "pm", "a m", "p m", "a.m." (tokenized "a" "m") */
static int ampm_at(const an_tok *t, int n, int i, int *ampm)
{
    if (is(t, n, i, "am") || is(t, n, i, "pm")) {
        *ampm = t[i].w[0] == 'a' ? 1 : 2;
        return 1;
    }
    if ((is(t, n, i, "a") || is(t, n, i, "p")) && is(t, n, i + 1, "m")) {
        *ampm = t[i].w[0] == 'a' ? 1 : 2;
        return 2;
    }
    return 0;
}

static int minutes_at(const an_tok *t, int n, int i, int *min)
{
    int v;
    bool ord;
    if (is(t, n, i, "oh") || is(t, n, i, "o")) {
        int k = an_number(t, n, i + 1, &v, &ord);
        if (k == 1 && !ord && v >= 1 && v <= 9) {
            *min = v;
            return 2;
        }
        return 0;
    }
    if (i < n && t[i].w[0] >= '0' && t[i].w[0] <= '9')
        return 0; /* "at 2 10 people" is too ambiguous; digits use 2:10 */
    int k = an_number(t, n, i, &v, &ord);
    if (k && !ord && v >= 10 && v <= 59 && (v % 5 == 0 || k == 2)) {
        *min = v;
        return k;
    }
    return 0;
}

/* Clock times. Returns tokens consumed (including a leading trigger word if used). */
static int parse_time(const an_tok *t, int n, int i, parsed *p)
{
    if (is(t, n, i, "noon") || is(t, n, i, "midday")) {
        p->hour = 12;
        p->minute = 0;
        p->ampm = 2;
        return 1;
    }
    /* half past / quarter past / quarter to */
    if ((is(t, n, i, "half") || is(t, n, i, "quarter")) && (is(t, n, i + 1, "past") || is(t, n, i + 1, "to"))) {
        int v;
        bool ord;
        int k = an_number(t, n, i + 2, &v, &ord);
        if (k && !ord && v >= 1 && v <= 12) {
            int mins = t[i].w[0] == 'h' ? 30 : 15;
            if (is(t, n, i + 1, "to")) {
                v = v == 1 ? 12 : v - 1;
                mins = 60 - mins;
            }
            p->hour = v;
            p->minute = mins;
            int a = 0, ka = ampm_at(t, n, i + 2 + k, &a);
            p->ampm = a;
            return 2 + k + ka;
        }
        return 0;
    }
    /* "half nine" (British: 9:30) */
    if (is(t, n, i, "half")) {
        int v;
        bool ord;
        int k = an_number(t, n, i + 1, &v, &ord);
        if (k && !ord && v >= 1 && v <= 12 && !(i + 1 < n && t[i + 1].w[0] >= '0' && t[i + 1].w[0] <= '9')) {
            p->hour = v;
            p->minute = 30;
            int a = 0, ka = ampm_at(t, n, i + 1 + k, &a);
            p->ampm = a;
            return 1 + k + ka;
        }
        return 0;
    }
    /* digits "10:30" */
    const char *w = i < n ? t[i].w : "";
    const char *colon = strchr(w, ':');
    if (colon) {
        int h = atoi(w), m = atoi(colon + 1);
        if (h >= 0 && h <= 23 && m >= 0 && m <= 59 && strlen(colon + 1) == 2) {
            p->hour = h;
            p->minute = m;
            int a = 0, ka = ampm_at(t, n, i + 1, &a);
            p->ampm = a;
            if (h > 12)
                p->ampm = 2;
            return 1 + ka;
        }
        return 0;
    }
    int v;
    bool ord;
    int k = an_number(t, n, i, &v, &ord);
    if (!k || ord || v < 1 || v > 12)
        return 0;
    int j = i + k, mins = 0, a = 0;
    int km = minutes_at(t, n, j, &mins);
    j += km;
    int ka = ampm_at(t, n, j, &a);
    j += ka;
    bool oclock = false;
    if (is(t, n, j, "oclock") || (is(t, n, j, "o") && is(t, n, j + 1, "clock"))) {
        oclock = true;
        j += is(t, n, j, "oclock") ? 1 : 2;
    }
    bool trigger = time_trigger(t, n, i - 1);
    /* "seven thirty", "ten fifteen": an hour and a quarter's minutes in words read as a time
       without a trigger, where the clause ends or a word that goes with times follows */
    bool spoken = km && (mins == 15 || mins == 30 || mins == 45) && !(t[i].w[0] >= '0' && t[i].w[0] <= '9');
    if (!ka && !oclock && !trigger && !spoken)
        return 0;
    /* "at two people", "at five meters": a bare number after a trigger is a time only when
       the clause ends there or a word that goes with times follows */
    if (!ka && !oclock && (!km || !trigger) && j < n && !(t[j - 1].flags & AN_TOK_CLAUSE_END)) {
        static const char *follow[] = {"on", "tomorrow", "today", "tonight", "this", "next", "in", "to",
                                       "works", "work", "is", "would", "should", "could", "then",
                                       "or", "and", "if", "for", "with", "okay", "ok", "sounds",
                                       "that", "please", "your", "my", "our", "sharp", "ish",
                                       "so", "but", "we", "i", "you", "let", "see", "talk", "suit",
                                       "suits", "good", "fine", "perfect", "great", "instead", "it",
                                       "latest", "eastern", "pacific", "central", "est", "pst",
                                       "cet", "gmt", "utc", "time", "monday", "tuesday",
                                       "wednesday", "thursday", "friday", "saturday", "sunday"};
        bool ok = is(t, n, j + 1, "time"); /* "at 11 Lisbon time" */
        for (size_t q = 0; q < sizeof follow / sizeof follow[0] && !ok; q++)
            ok = !strcmp(t[j].w, follow[q]);
        if (!ok)
            return 0;
    }
    p->hour = v;
    p->minute = mins;
    p->ampm = a;
    return j - i;
}

static const char *part_at(const an_tok *t, int n, int i, int *used)
{
    *used = 1;
    if (i > 0 && is(t, n, i - 1, "good")) /* "good afternoon": a greeting */
        return NULL;
    if (i == 0 && !(t[0].flags & AN_TOK_QMARK) &&
        ((t[0].flags & AN_TOK_CLAUSE_END) || (n > 1 && (t[1].flags & AN_TOK_CLAUSE_END) && weekday_at(t, n, 1) < 0 &&
                                              !is(t, n, 1, "then") && !is(t, n, 1, "works") && !is(t, n, 1, "is"))))
        return NULL; /* "Afternoon, is this Beau?", "Morning Priya, thanks for jumping on": a greeting too */
    if (is(t, n, i, "morning") || is(t, n, i, "mornings"))
        return "morning";
    if (is(t, n, i, "afternoon") || is(t, n, i, "afternoons") || is(t, n, i, "arvo"))
        return "afternoon";
    if (is(t, n, i, "evening") || is(t, n, i, "tonight"))
        return "evening";
    if (is(t, n, i, "lunch") || is(t, n, i, "lunchtime"))
        return "midday";
    if (is(t, n, i, "first") && is(t, n, i + 1, "thing") &&
        (is(t, n, i + 2, "tomorrow") || is(t, n, i + 2, "in") || is(t, n, i + 2, "on") ||
         weekday_at(t, n, i + 2) >= 0 || (i > 0 && (t[i - 1].flags & AN_TOK_CLAUSE_END)) ||
         (i > 0 && weekday_at(t, n, i - 1) >= 0))) { /* "Wednesday the 24th, first thing, like seven" */
        *used = 2;
        return "morning";
    }
    return NULL;
}

static bool connector(const an_tok *t, int n, int i)
{
    static const char *c[] = {"at", "on", "in", "the", "around", "about", "by", "say", "maybe",
                              "like", "early", "late", "this", "that"};
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++)
        if (is(t, n, i, c[k]))
            return true;
    return false;
}

/* Do the k tokens of a day expression at i name a span rather than a day: a week, month or
 * quarter with no weekday in it ("next week", "in two weeks", "end of the month"; not "thursday
 * week", "next week tuesday", "a week from today"), or an end/start of something ("end of
 * November", "early next month")? */
static bool day_span(const an_tok *t, int n, int i, int k)
{
    bool unit = false;
    for (int j = i; j < i + k && j < n; j++) {
        if (weekday_at(t, n, j) >= 0 || is(t, n, j, "from") || is(t, n, j, "today") ||
            is(t, n, j, "tomorrow"))
            return false;
        unit |= is(t, n, j, "week") || is(t, n, j, "weeks") || is(t, n, j, "month") ||
                is(t, n, j, "months") || is(t, n, j, "quarter");
    }
    return unit || is(t, n, i, "end") || is(t, n, i, "beginning") || is(t, n, i, "start") ||
           is(t, n, i, "early");
}

int an_date_find(sdra_date_match *m, const an_tok *t, int n, int from, long anchor, int *tb, int *te)
{
    for (int i = from < 0 ? 0 : from; i < n; i++) {
        parsed p = {.hour = -1};
        int first = -1, last = -1;
        int j = i;
        int k, used;
        long d;
        const char *part;
        bool progress = true;
        int skipped = 0;
        while (j < n && progress) {
            progress = false;
            if (!p.has_day && (k = parse_day(t, n, j, anchor, &d)) > 0) {
                p.day = d;
                p.has_day = true;
                p.day_span = day_span(t, n, j, k);
                if (!strcmp(t[j].w, "tonight"))
                    p.part = "evening";
                if (first < 0)
                    first = j;
                j += k;
                last = j;
                progress = true;
            } else if (p.hour < 0 && (k = parse_time(t, n, j, &p)) > 0) {
                if (first < 0)
                    first = j;
                j += k;
                last = j;
                progress = true;
            } else if (!p.part && (part = part_at(t, n, j, &used)) != NULL) {
                p.part = part;
                if (first < 0)
                    first = j;
                j += used;
                last = j;
                progress = true;
            } else if (first >= 0 && connector(t, n, j) && skipped < 2 && !(t[j - 1].flags & AN_TOK_SENT_END)) {
                j++;
                skipped++;
                progress = true;
                continue;
            }
            if (progress)
                skipped = 0;
        }
        if (first < 0)
            continue;
        /* a part of day alone ("this morning we had...") is not a date expression unless
           scheduling words surround it: keep it, callers decide by context */
        memset(m, 0, sizeof *m);
        if (p.has_day)
            an_format_date(m->date, p.day);
        m->approx = p.has_day && p.day_span;
        if (p.hour >= 0) {
            int h = p.hour;
            if (p.ampm == 2 && h < 12)
                h += 12;
            else if (p.ampm == 1 && h == 12)
                h = 0;
            else if (p.ampm == 0) {
                if (p.part && (!strcmp(p.part, "afternoon") || !strcmp(p.part, "evening")) && h < 12)
                    h += 12;
                else if (p.part && !strcmp(p.part, "morning"))
                    ;
                else if (h >= 1 && h <= 7) {
                    h += 12;
                    m->pm_guessed = true;
                }
            }
            char tb2[32];
            snprintf(tb2, sizeof tb2, "%02d:%02d", (h % 24 + 24) % 24, (p.minute % 60 + 60) % 60);
            memcpy(m->time, tb2, 6);
            if (!p.part)
                p.part = h < 12 ? "morning" : h < 17 ? "afternoon" : "evening";
        }
        if (p.part)
            snprintf(m->part_of_day, sizeof m->part_of_day, "%s", p.part);
        m->begin = t[first].begin;
        m->end = t[last - 1].end;
        if (tb)
            *tb = first;
        if (te)
            *te = last;
        return 1;
    }
    return 0;
}

int sdra_date_resolve(sdra_date_match *m, const char *text, const char *anchor, sdra_error *err)
{
    long a;
    if (an_parse_date(anchor, &a) < 0)
        return sdra_error_set(err, SDRA_EINVAL, "call date '%s': expected YYYY-MM-DD",
                              anchor ? anchor : "(null)");
    if (!text)
        return 0;
    an_tok *toks = malloc(sizeof *toks * AN_MAX_TOKENS);
    if (!toks)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    int n = an_tokenize(text, toks, AN_MAX_TOKENS);
    int rc = an_date_find(m, toks, n, 0, a, NULL, NULL);
    free(toks);
    return rc;
}
