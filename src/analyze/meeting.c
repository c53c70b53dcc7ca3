/*
 * meeting.c - the next meeting (docs/analysis.md, "Meetings"): the date each utterance names
 * (an_choose_date), and a negotiation followed over the turns: one slot (day, time, part of day)
 * that proposals open or change, counter-offers and acceptances move, the other side's reply
 * agrees to or restates, and a decline closes (an_find_meeting).
 */
#include "rules_ctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEETING_REPLY_WITHIN 3 /* an acceptance answers a proposal at most this many turns later */
#define MEETING_OPEN_FOR 4     /* a proposal nobody takes up for this many turns is dropped */

/* The utterance's date: of all date/time expressions in it, the one nearest a scheduling word
 * (meeting.word / meeting.propose / meeting.accept), else the first; fields it lacks are
 * filled from the others when they do not conflict ("Wednesday afternoon is good. Let's say
 * 2 pm." -> Wednesday 14:00). */
void an_choose_date(actx *c, int u)
{
    uview *v = &c->v[u];
    sdra_date_match all[8];
    int pos[8], na = 0, from = 0, tb, te;
    while (na < 8 && from < v->n && an_date_find(&all[na], v->toks, v->n, from, c->anchor, &tb, &te) == 1) {
        pos[na] = tb;
        from = te > tb ? te : tb + 1;
        /* a day of the speaker's own meeting ("at our Thursday finance meeting"), inside that
           match or within 3 words after it, is no slot */
        if (!an_rule_in(c, u, "internal", tb - 4, tb + 1))
            na++;
    }
    v->has_date = na > 0;
    if (!na)
        return;
    int best = 0, best_d = 1 << 30;
    for (size_t k = v->m_first; k < v->m_first + v->m_count; k++) {
        const match *mm = &c->m[k];
        if (strcmp(mm->rule->category, "meeting") || !strcmp(mm->rule->label, "decline"))
            continue;
        for (int a = 0; a < na; a++) {
            int d = pos[a] > mm->begin ? pos[a] - mm->begin : mm->begin - pos[a];
            if (d < best_d) {
                best_d = d;
                best = a;
            }
        }
    }
    if (best_d == 1 << 30) /* no meeting words: the day asked about ("Tuesday I'm at the port. Thursday?") */
        for (int a = na - 1; a >= 0 && best_d == 1 << 30; a--) {
            int e = an_sentence_end(v, pos[a]);
            if (v->toks[e].flags & AN_TOK_QMARK) {
                best = a;
                best_d = 1 << 29;
            }
        }
    if (best_d == 1 << 30) /* no meeting words but a decline: "Monday's bad. Tuesday the 14th." */
        for (size_t k = v->m_first; k < v->m_first + v->m_count && best_d == 1 << 30; k++) {
            const match *mm = &c->m[k];
            if (strcmp(mm->rule->category, "meeting") || strcmp(mm->rule->label, "decline"))
                continue;
            for (int a = 0; a < na && best_d == 1 << 30; a++)
                if (pos[a] >= mm->end) {
                    best = a;
                    best_d = pos[a] - mm->end;
                }
        }
    v->date = all[best];
    {
        static const char *bound[] = {"by", "before", "until", "till", "til", "through"};
        int b = pos[best] - 1;
        if (b >= 0 && !strcmp(v->toks[b].w, "following")) /* "by the following Wednesday" */
            b--;
        if (b >= 0 && !strcmp(v->toks[b].w, "the"))
            b--;
        for (size_t k = 0; b >= 0 && k < sizeof bound / sizeof bound[0]; k++)
            v->date_bound |= !strcmp(v->toks[b].w, bound[k]);
    }
    /* the others fill in what the chosen one lacks, the nearest first ("Wednesday the 22nd
       would suit, say half three": the day before the time, not the one a sentence earlier) */
    int order[8], no = 0;
    for (int a = 0; a < na; a++)
        if (a != best)
            order[no++] = a;
    for (int x = 1; x < no; x++)
        for (int y = x; y > 0 && abs(pos[order[y]] - pos[best]) < abs(pos[order[y - 1]] - pos[best]); y--) {
            int tmp = order[y];
            order[y] = order[y - 1];
            order[y - 1] = tmp;
        }
    for (int x = 0; x < no; x++) {
        int a = order[x];
        if (all[a].date[0] && v->date.date[0] && strcmp(all[a].date, v->date.date))
            continue;
        if (!v->date.time[0] && all[a].time[0]) { /* a lone time, or one said with the same day
                                                       ("Wednesday is better, Wednesday at ten") */
            memcpy(v->date.time, all[a].time, sizeof v->date.time);
            v->date.pm_guessed = all[a].pm_guessed;
        }
        if (!v->date.date[0] && all[a].date[0])
            memcpy(v->date.date, all[a].date, sizeof v->date.date);
    }
    if (v->date.time[0]) { /* the part of day follows the clock time */
        int h = atoi(v->date.time);
        snprintf(v->date.part_of_day, sizeof v->date.part_of_day, "%s",
                 h < 12 ? "morning" : h < 17 ? "afternoon" : "evening");
    }
}

static json_t *find_attendees(actx *c, int from_u, int to_u)
{
    json_t *arr = json_array();
    for (size_t k = 0; k < c->n_m; k++) {
        const match *mm = &c->m[k];
        if (strcmp(mm->rule->category, "attendee") || mm->u < from_u || mm->u > to_u)
            continue;
        const uview *v = &c->v[mm->u];
        int b = mm->cap >= 0 ? mm->cap : mm->begin;
        json_t *s = an_span_str(c->t->utts[mm->u].text, v->toks[b].begin, v->toks[mm->end - 1].end);
        bool dup = false;
        size_t i;
        json_t *x;
        json_array_foreach(arr, i, x) dup |= json_equal(x, s);
        if (dup)
            json_decref(s);
        else
            json_array_append_new(arr, s);
    }
    return arr;
}

static bool same_weekday(const char *a, const char *b)
{
    long x, y;
    return a[0] && b[0] && an_parse_date(a, &x) == 0 && an_parse_date(b, &y) == 0 && an_weekday(x) == an_weekday(y);
}

/* Do the two dates have the same day of the month in different months? ("the seventh" read
 * as the next 7th, said of the slot's 7th of April) */
static bool same_month_day(const sdra_date_match *s, const sdra_date_match *v)
{
    return s->date[0] && v->date[0] && strlen(s->date) == 10 && strlen(v->date) == 10 &&
           !strcmp(s->date + 8, v->date + 8) && strncmp(s->date, v->date, 8);
}

/* The slot s after an utterance that says v of the day and time: another day brings its own
 * time and part of day ("Monday's no good. Tuesday afternoon?"); the same weekday said twice is
 * one day, the later of the two (a bare weekday resolves to the nearest: "next Tuesday at two?"
 * - "Tuesday works", "What about Wednesday?" - "Wednesday the 12th at 2?"); a clock time or part
 * of day alone changes the hour on the same day ("ten is tight, make it eleven"). */

static void slot_merge(sdra_date_match *s, const sdra_date_match *v)
{
    sdra_date_match span;
    if (v->date[0] && v->approx && s->date[0] && !s->approx) {
        /* a span does not move a day already named: "Tuesday the 7th at eleven" - "I'll have
           it emailed to you this week" */
        span = *v;
        span.date[0] = '\0';
        span.approx = false;
        v = &span;
    }
    if (v->date[0] && same_weekday(s->date, v->date) && (strcmp(v->date, s->date) > 0 || s->approx)) {
        memcpy(s->date, v->date, sizeof s->date); /* "Wednesday" - "Wednesday the 12th": the named week */
        s->approx = v->approx;
    }
    if (v->date[0] && !same_weekday(s->date, v->date)) {
        memcpy(s->date, v->date, sizeof s->date);
        s->approx = v->approx; /* "next week?" - "Tuesday the 8th": a day now */
        memcpy(s->time, v->time, sizeof s->time);
        memcpy(s->part_of_day, v->part_of_day, sizeof s->part_of_day);
        return;
    }
    if (v->time[0]) {
        memcpy(s->time, v->time, sizeof s->time);
        memcpy(s->part_of_day, v->part_of_day, sizeof s->part_of_day);
    } else if (v->part_of_day[0] && strcmp(v->part_of_day, s->part_of_day)) {
        memcpy(s->part_of_day, v->part_of_day, sizeof s->part_of_day);
        s->time[0] = '\0';
    }
}

/* The slot agreed at utterance a (proposed at p). Agreeing again to what is already agreed
 * ("Perfect, Wednesday at 2 pm." - "Great.") keeps the first agreement as the evidence. */
static void agree(sdra_date_match *d, const sdra_date_match *slot, int *best_p, int *best_a, int p, int a)
{
    if (*best_p >= 0 && !strcmp(d->date, slot->date) && !strcmp(d->time, slot->time) &&
        !strcmp(d->part_of_day, slot->part_of_day))
        return;
    *d = *slot;
    *best_p = p;
    *best_a = a;
}

/* Does v name the slot's day and time again, and nothing else: its clock time when it has one,
 * else its day ("mornings are better" restates nothing)? */
static bool restates(const sdra_date_match *s, const sdra_date_match *v)
{
    if (v->date[0] && !(s->date[0] && same_weekday(s->date, v->date)))
        return false;
    if (s->time[0])
        return !strcmp(v->time, s->time);
    return v->date[0] && !v->time[0]; /* the day again, and no new hour */
}

/* Where utterance u has meeting.accept matches: bit 1 in a statement, bit 2 in a question
 * (the sentence the match ends in ends with '?'); bit 4 when one is more than one word. */
static int accept_kind(const actx *c, int u)
{
    const uview *v = &c->v[u];
    int kind = 0;
    for (size_t k = v->m_first; k < v->m_first + v->m_count; k++) {
        const match *mm = &c->m[k];
        if (strcmp(mm->rule->category, "meeting") || strcmp(mm->rule->label, "accept"))
            continue;
        int e = an_sentence_end(v, mm->end > 0 ? mm->end - 1 : 0);
        kind |= e < v->n && (v->toks[e].flags & AN_TOK_QMARK) ? 2 : 1;
        if (mm->end - mm->begin > 1)
            kind |= 4; /* more than a bare "yes" */
    }
    return kind;
}

/* The meeting both sides agreed to, followed over the turns of its negotiation. An utterance
 * that proposes a meeting (meeting_ctx) opens a slot, or changes the open one with the day or
 * time it names; so does an acceptance that names them ("3pm Tuesday works", "1pm on the 25th,
 * perfect"). The slot is agreed when the other side accepts it: with an acceptance that names
 * a day or time, or, without one, in its first reply (meeting.accept, no meeting.decline); a
 * first reply that declines and names nothing closes it. A later agreement replaces an earlier
 * one; confirming it again ("great, I'll send the invite") changes nothing. Due dates ("I'll
 * send it this afternoon") are not scheduling: they change the slot only inside an utterance
 * about the meeting. */

json_t *an_find_meeting(actx *c, bool opted_out, int opt_out_u)
{
    const sdra_transcript *t = c->t;
    sdra_date_match slot = {0}, d = {0};
    bool open = false;
    int slot_spk = -1, slot_u = -1, slot_from = -1, best_p = -1, best_a = -1; /* slot_from: where it opened */
    for (size_t u = 0; u < t->n_utts; u++) {
        const uview *v = &c->v[u];
        int spk = t->utts[u].speaker;
        if (open && (int)u - slot_u > MEETING_OPEN_FOR)
            open = false;
        bool dec = an_has_match(c, (int)u, "meeting", "decline");
        /* "Should we pencil in Monday the 13th?": accepting words in a question that names a day
           propose it; "Friday at 3 works. Can you send the tiers before then?" accepts */
        int ak = accept_kind(c, (int)u);
        bool acc = (ak & 1) != 0, asks = !acc && (ak & 2) && v->has_date && !v->date_bound;
        /* a deadline or a limit is no time to meet ("I'll email pricing by Friday", "we're
         * slammed till the end of October") */
        bool names = v->has_date && !v->date_bound &&
                     (v->date.time[0] || v->date.part_of_day[0] ||
                      (v->date.date[0] && strcmp(v->date.date, c->p->call_date)));
        /* the other side's first words since the slot last changed */
        bool first_reply = open && spk != slot_spk && (int)u - slot_u <= MEETING_REPLY_WITHIN;
        for (int q = slot_u + 1; first_reply && q < (int)u; q++)
            first_reply = t->utts[q].speaker == slot_spk;
        /* an acceptance that is no proposal may move the slot to another day ("Make it the
         * Wednesday"), but not to today: "Great, I'll send the invite this afternoon" after
         * "Tuesday at two works" is a due time, and Tuesday stays */
        bool acc_names = acc && open && !v->meeting_ctx && (!v->date.date[0] || strcmp(v->date.date, c->p->call_date));
        /* a day and a clock time while a slot is open is a counter-offer, meeting words or not
           ("Monday's bad. Tuesday the 14th, 10 a.m.", "come thursday week like ten ish") */
        sdra_date_match said = v->date;
        if (open && same_month_day(&slot, &said))
            memcpy(said.date, slot.date, sizeof said.date); /* "Tuesday the 7th of April" - "the seventh, ja" */
        if (open && said.pm_guessed && atoi(said.time) >= 18 && !strcmp(slot.part_of_day, "morning") &&
            (!said.date[0] || !slot.date[0] || same_weekday(slot.date, said.date))) {
            /* "Tuesday mornings?" - "like seven thirty": the morning's hour, on the same day (6
               or 7: "quarter past two" is never a morning meeting) */
            int h = (atoi(said.time) + 12) % 24, mi = atoi(said.time + 3) % 60;
            char hm[16];
            snprintf(hm, sizeof hm, "%02d:%02d", h % 12, mi);
            memcpy(said.time, hm, sizeof said.time - 1);
            snprintf(said.part_of_day, sizeof said.part_of_day, "morning");
            said.pm_guessed = false;
        }
        /* a day and an hour, another hour for the slot's day, or another day asked for ("Tuesday
           I'm at the port. Thursday?") */
        bool counter = open && names && !restates(&slot, &said) &&
                       ((said.time[0] && (said.date[0] || (slot.date[0] && slot.time[0]))) ||
                        (v->question && said.date[0] && spk != slot_spk));
        /* the other side's question just before ("What time?") */
        bool answers = u > 0 && c->v[u - 1].question && t->utts[u - 1].speaker != spk;
        /* the agreed hour gets its day when someone confirms it ("Come through at two
           o'clock." - "Wednesday the sixth of May, two o'clock.") */
        if (best_a >= 0 && (int)u > best_a && (int)u - best_a <= MEETING_REPLY_WITHIN && names && !dec &&
            d.time[0] && !d.date[0] && said.date[0] && !strcmp(said.time, d.time))
            memcpy(d.date, said.date, sizeof d.date);
        if (names && (v->meeting_ctx || acc_names || counter || asks)) {
            int proposal = open ? slot_u : (int)u;
            if (!open) {
                memset(&slot, 0, sizeof slot);
                slot_from = (int)u;
            }
            slot_merge(&slot, &said);
            if (acc && !dec && open && spk != slot_spk && (int)u - slot_u <= MEETING_REPLY_WITHIN)
                agree(&d, &slot, &best_p, &best_a, proposal, (int)u); /* as it now stands */
            open = true;
            slot_spk = spk;
            slot_u = (int)u;
        } else if (first_reply && !dec && names && restates(&slot, &said)) {
            /* "Next Tuesday at eight?" - "Eight o'clock on the 3rd at the yard." */
            slot_merge(&slot, &said); /* "Thursday?" - "Thursday the 3rd, yes.": the week named */
            agree(&d, &slot, &best_p, &best_a, slot_u, (int)u);
        } else if ((first_reply || answers) && !dec && names && !said.date[0] && said.time[0] && slot.date[0] &&
                   !slot.time[0]) {
            /* "Wednesday the 8th. What time suits?" - "Quarter past two.": the hour completes the
               day, and agrees to it */
            slot_merge(&slot, &said);
            agree(&d, &slot, &best_p, &best_a, slot_u, (int)u);
        } else if (first_reply && acc && !dec &&
                   ((ak & 4) || slot_from != slot_u || !c->v[slot_u].has_date || an_slot_asked(&c->v[slot_u]))) {
            /* a bare "yes" answers the question asked: it agrees to a slot asked about or
               already negotiated, not to one said in passing ("just following up on Tuesday's
               demo." - "Yes, thanks") */
            agree(&d, &slot, &best_p, &best_a, slot_u, (int)u);
        } else if (first_reply && dec) {
            open = false;
        } else if (v->meeting_ctx && !names && !open && !dec) { /* not "I'll come back to you
                                                                 * with whether we want a demo" */
            memset(&slot, 0, sizeof slot); /* "would a demo help?": the day comes later */
            slot_from = (int)u;
            open = true;
            slot_spk = spk;
            slot_u = (int)u;
        }
    }
    if (best_p < 0 || (opted_out && opt_out_u >= best_a))
        return json_null();
    if (!d.date[0] && !d.time[0]) /* "let's talk again sometime", "mornings are better" */
        return json_null();
    json_t *o = json_object();
    json_object_set_new(o, "date", d.date[0] ? json_string(d.date) : json_null());
    json_object_set_new(o, "time", d.time[0] ? json_string(d.time) : json_null());
    json_object_set_new(o, "part_of_day", d.part_of_day[0] ? json_string(d.part_of_day) : json_null());
    if (d.approx) /* "next week works": agreed, but on no day yet */
        json_object_set_new(o, "approximate", json_true());
    json_object_set_new(o, "attendees", find_attendees(c, best_p - 2 < 0 ? 0 : best_p - 2, best_a + 1));
    json_t *ev = json_object();
    an_evidence(ev, c, best_p);
    json_object_set_new(ev, "text", an_utt_text(&t->utts[best_p]));
    json_object_set_new(o, "proposed", ev);
    ev = json_object();
    an_evidence(ev, c, best_a);
    json_object_set_new(ev, "text", an_utt_text(&t->utts[best_a]));
    json_object_set_new(o, "accepted", ev);
    /* the prospect proposed, the rep took it, and the prospect says the day or hour again
       ("Could you do Wednesday, like four?" - "Wednesday at four works." - "Choice. Wednesday
       at four then."): that is where the prospect agrees */
    if (c->v[best_a].role == SDRA_ROLE_REP) {
        for (size_t u = (size_t)best_a + 1; u < t->n_utts && (int)u - best_a <= MEETING_REPLY_WITHIN; u++) {
            const uview *v = &c->v[u];
            if (v->role != SDRA_ROLE_PROSPECT)
                continue;
            if (v->has_date && !v->date_bound && restates(&d, &v->date) &&
                !an_has_match(c, (int)u, "meeting", "decline")) {
                ev = json_object();
                an_evidence(ev, c, (int)u);
                json_object_set_new(ev, "text", an_utt_text(&t->utts[u]));
                json_object_set_new(o, "confirmed", ev);
            }
            break; /* the prospect's first words after it only */
        }
    }
    return o;
}
