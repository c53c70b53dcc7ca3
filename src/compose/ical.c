/*
 * ical.c - the meeting invite as an iCalendar object (RFC 5545): one VCALENDAR with
 * METHOD:REQUEST and one VEVENT (UID, DTSTAMP, DTSTART/DTEND, SUMMARY, DESCRIPTION, ORGANIZER,
 * ATTENDEE). Content lines end in CRLF and are folded at 75 octets without splitting a UTF-8
 * sequence; TEXT values are escaped; parameter values are quoted and stripped of DQUOTE and
 * control characters. Times are floating local times unless a zone is given; with a zone
 * (sdra/tz.h) DTSTART/DTEND carry its TZID and a VTIMEZONE states its rule for the event's year
 * (RFC 5545 3.6.5): a STANDARD and, where the zone has one, a DAYLIGHT component whose DTSTART is
 * that year's change with a yearly RRULE.
 */
#include "compose/internal.h"
#include "sdra/date.h"
#include "sdra/tz.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define LIMIT(x)                   \
    do {                           \
        if ((x) < 0)               \
            return SDRA_ELIMIT;    \
    } while (0)

int sdra_ical_line(sdra_buf *out, const char *line)
{
    const unsigned char *p = (const unsigned char *)line;
    size_t n = strlen(line), i = 0, col = 0;
    while (i < n) {
        size_t l = 1;
        if (p[i] >= 0xc0) {
            while (i + l < n && l < 4 && (p[i + l] & 0xc0) == 0x80)
                l++;
        }
        if (col + l > 75) {
            LIMIT(sdra_buf_puts(out, "\r\n "));
            col = 1;
        }
        LIMIT(sdra_buf_append(out, line + i, l));
        col += l;
        i += l;
    }
    LIMIT(sdra_buf_puts(out, "\r\n"));
    return 0;
}

int sdra_ical_escape(sdra_buf *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '\\': LIMIT(sdra_buf_puts(out, "\\\\")); break;
        case ';': LIMIT(sdra_buf_puts(out, "\\;")); break;
        case ',': LIMIT(sdra_buf_puts(out, "\\,")); break;
        case '\n': LIMIT(sdra_buf_puts(out, "\\n")); break;
        case '\r': break;
        default:
            if ((unsigned char)*s < 0x20 && *s != '\t')
                break;
            LIMIT(sdra_buf_putc(out, *s));
        }
    }
    return 0;
}

/* A quoted parameter value: DQUOTE and controls cannot appear, so they are dropped. */
static int param_value(sdra_buf *out, const char *s)
{
    LIMIT(sdra_buf_putc(out, '"'));
    for (; s && *s; s++)
        if (*s != '"' && (unsigned char)*s >= 0x20 && *s != 0x7f)
            LIMIT(sdra_buf_putc(out, *s));
    LIMIT(sdra_buf_putc(out, '"'));
    return 0;
}

/* Adds minutes to a date/time, carrying into following days. */
static void add_minutes(int *y, int *m, int *d, int *min_of_day, int add)
{
    int total = *min_of_day + add;
    *min_of_day = total % 1440;
    sdra_civil_from_days(sdra_days_from_civil(*y, *m, *d) + total / 1440, y, m, d);
}

static void utc_offset(char *out, size_t n, int min)
{
    int a = min < 0 ? -min : min;
    snprintf(out, n, "%c%02d%02d", min < 0 ? '-' : '+', a / 60, a % 60);
}

static const char *const byday[] = {"SU", "MO", "TU", "WE", "TH", "FR", "SA"};

/* One STANDARD or DAYLIGHT component: the change by rule r in year y, from offset `from` to
 * `to`; r NULL = the zone has no changes (in force since 1970). */
static int tz_component(sdra_buf *out, sdra_buf *l, const char *kind, const sdra_tz_rule *r, int y,
                        int from, int to, const char *name)
{
    char f[24], t[24];
    utc_offset(f, sizeof f, from);
    utc_offset(t, sizeof t, to);
    int ry = 1970, rm = 1, rd = 1, rmin = 0;
    if (r) {
        int t = r->time_min, shift = 0;
        while (t < 0) { /* before midnight: on the day before */
            t += 1440;
            shift--;
        }
        ry = y;
        rm = r->month;
        rd = sdra_tz_rule_day(r, y) + shift;
        add_minutes(&ry, &rm, &rd, &rmin, t);
    }
#define TZL(...)                                                                         \
    do {                                                                                 \
        sdra_buf_reset(l);                                                               \
        if (sdra_buf_printf(l, __VA_ARGS__) < 0 || sdra_ical_line(out, l->data) < 0)     \
            return SDRA_ELIMIT;                                                          \
    } while (0)
    TZL("BEGIN:%s", kind);
    TZL("DTSTART:%04d%02d%02dT%02d%02d00", ry, rm, rd, rmin / 60, rmin % 60);
    TZL("TZOFFSETFROM:%s", f);
    TZL("TZOFFSETTO:%s", t);
    if (r && r->time_min >= 0 && r->time_min < 1440)
        TZL("RRULE:FREQ=YEARLY;BYMONTH=%d;BYDAY=%d%s", r->month, r->week == 5 ? -1 : r->week,
            byday[r->wday]);
    TZL("TZNAME:%s", name);
    TZL("END:%s", kind);
#undef TZL
    return 0;
}

/* The VTIMEZONE of zone z for year y. */
static int vtimezone(sdra_buf *out, const sdra_tz *z, int y)
{
    sdra_buf l;
    sdra_buf_init(&l, 4096);
    int rc = 0;
    if (sdra_buf_printf(&l, "BEGIN:VTIMEZONE") < 0 || sdra_ical_line(out, l.data) < 0)
        rc = SDRA_ELIMIT;
    sdra_buf_reset(&l);
    if (!rc && (sdra_buf_printf(&l, "TZID:%s", z->name) < 0 || sdra_ical_line(out, l.data) < 0))
        rc = SDRA_ELIMIT;
    if (!rc && z->has_dst) {
        rc = tz_component(out, &l, "DAYLIGHT", &z->dst_start, y, z->std_off_min, z->dst_off_min, z->dst_abbr);
        if (!rc)
            rc = tz_component(out, &l, "STANDARD", &z->dst_end, y, z->dst_off_min, z->std_off_min, z->std_abbr);
    } else if (!rc) {
        rc = tz_component(out, &l, "STANDARD", NULL, y, z->std_off_min, z->std_off_min, z->std_abbr);
    }
    sdra_buf_reset(&l);
    if (!rc && (sdra_buf_printf(&l, "END:VTIMEZONE") < 0 || sdra_ical_line(out, l.data) < 0))
        rc = SDRA_ELIMIT;
    sdra_buf_release(&l);
    return rc;
}

int sdra_ical_invite(sdra_buf *out, const sdra_ical_event *ev, sdra_error *err)
{
    int y, m, d;
    if (!ev->date || sdra_compose_date_parse(ev->date, &y, &m, &d) < 0)
        return sdra_error_set(err, SDRA_EINVAL, "meeting date '%s' is not a YYYY-MM-DD date",
                              ev->date ? ev->date : "(none)");
    if (ev->start_min < 0 || ev->start_min >= 1440 || ev->duration_min <= 0 ||
        ev->duration_min > 24 * 60)
        return sdra_error_set(err, SDRA_EINVAL, "meeting time out of range");
    sdra_buf l;
    sdra_buf_init(&l, 64 * 1024);
    int rc = 0;
    char stamp[40];
    time_t ts = (time_t)ev->dtstamp_s;
    struct tm tm;
    gmtime_r(&ts, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    int ey = y, em = m, ed = d, emin = ev->start_min;
    add_minutes(&ey, &em, &ed, &emin, ev->duration_min);
    char tzp[200] = "";
    const char *tzid = ev->tz ? ev->tz->name : ev->tzid;
    if (tzid)
        snprintf(tzp, sizeof tzp, ";TZID=%s", tzid);

#define LINE(...)                                                          \
    do {                                                                   \
        sdra_buf_reset(&l);                                                \
        if (sdra_buf_printf(&l, __VA_ARGS__) < 0 || sdra_ical_line(out, l.data) < 0) { \
            rc = SDRA_ELIMIT;                                              \
            goto done;                                                     \
        }                                                                  \
    } while (0)
#define TEXTLINE(prop, val)                                                \
    do {                                                                   \
        sdra_buf_reset(&l);                                                \
        if (sdra_buf_puts(&l, prop ":") < 0 || sdra_ical_escape(&l, val) < 0 || \
            sdra_ical_line(out, l.data) < 0) {                             \
            rc = SDRA_ELIMIT;                                              \
            goto done;                                                     \
        }                                                                  \
    } while (0)

    LINE("BEGIN:VCALENDAR");
    LINE("VERSION:2.0");
    LINE("PRODID:-//sdr-assistant//sdra compose//EN");
    LINE("CALSCALE:GREGORIAN");
    LINE("METHOD:REQUEST");
    if (ev->tz && (rc = vtimezone(out, ev->tz, y)) < 0)
        goto done;
    LINE("BEGIN:VEVENT");
    TEXTLINE("UID", ev->uid);
    LINE("DTSTAMP:%s", stamp);
    LINE("DTSTART%s:%04d%02d%02dT%02d%02d00", tzp, y, m, d, ev->start_min / 60, ev->start_min % 60);
    LINE("DTEND%s:%04d%02d%02dT%02d%02d00", tzp, ey, em, ed, emin / 60, emin % 60);
    LINE("SEQUENCE:0");
    LINE("STATUS:CONFIRMED");
    TEXTLINE("SUMMARY", ev->summary ? ev->summary : "Meeting");
    if (ev->description)
        TEXTLINE("DESCRIPTION", ev->description);
    if (ev->organizer_email) {
        sdra_buf_reset(&l);
        if (sdra_buf_puts(&l, "ORGANIZER") < 0 ||
            (ev->organizer_name && (sdra_buf_puts(&l, ";CN=") < 0 ||
                                    param_value(&l, ev->organizer_name) < 0)) ||
            sdra_buf_printf(&l, ":mailto:%s", ev->organizer_email) < 0 ||
            sdra_ical_line(out, l.data) < 0) {
            rc = SDRA_ELIMIT;
            goto done;
        }
    }
    if (ev->attendee_email) {
        sdra_buf_reset(&l);
        if (sdra_buf_puts(&l, "ATTENDEE") < 0 ||
            (ev->attendee_name && (sdra_buf_puts(&l, ";CN=") < 0 ||
                                   param_value(&l, ev->attendee_name) < 0)) ||
            sdra_buf_printf(&l, ";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE"
                                ":mailto:%s", ev->attendee_email) < 0 ||
            sdra_ical_line(out, l.data) < 0) {
            rc = SDRA_ELIMIT;
            goto done;
        }
    }
    LINE("END:VEVENT");
    LINE("END:VCALENDAR");
#undef LINE
#undef TEXTLINE
done:
    sdra_buf_release(&l);
    if (rc == SDRA_ELIMIT)
        return sdra_error_set(err, SDRA_ELIMIT, "invite larger than the output limit");
    return rc;
}
