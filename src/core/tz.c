/*
 * tz.c - IANA zones read from the system tz database (sdra/tz.h). Only the footer of a TZif
 * file (version 2 or later, RFC 8536 section 3.3) is used: the POSIX TZ string that states the
 * zone's current rule ("CET-1CEST,M3.5.0,M10.5.0/3"). Meetings are in the near future, where
 * that rule is what applies; past transitions are not needed. Names are checked before any
 * file is opened (letters, digits, '/', '_', '+', '-'; no "..", no leading '/').
 */
#include "sdra/date.h"
#include "sdra/tz.h"
#include "sdra/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TZIF_MAX_BYTES (1u << 20)

static int bad_name(sdra_error *err, const char *name)
{
    return sdra_error_set(err, SDRA_EINVAL, "unknown time zone '%.64s' (an IANA name like Europe/Berlin)", name);
}

/* Parses a POSIX abbreviation (alphabetic, or <...> quoted). */
static const char *abbr(const char *p, char *out, size_t cap)
{
    size_t n = 0;
    if (*p == '<') {
        p++;
        while (*p && *p != '>') {
            if (n + 1 < cap)
                out[n++] = *p;
            p++;
        }
        if (*p != '>')
            return NULL;
        p++;
    } else {
        while (isalpha((unsigned char)*p)) {
            if (n + 1 < cap)
                out[n++] = *p;
            p++;
        }
    }
    out[n] = 0;
    return n >= 1 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] -> minutes (sign as written). */
static const char *hms(const char *p, int *min)
{
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (!isdigit((unsigned char)*p))
        return NULL;
    int h = (int)strtol(p, (char **)&p, 10), m = 0;
    if (*p == ':') {
        m = (int)strtol(p + 1, (char **)&p, 10);
        if (*p == ':')
            strtol(p + 1, (char **)&p, 10);
    }
    if (h > 167 || m > 59)
        return NULL;
    *min = sign * (h * 60 + m);
    return p;
}

static const char *rule(const char *p, sdra_tz_rule *r, int *unsupported)
{
    if (*p != 'M') {
        *unsupported = 1;
        return NULL;
    }
    char *e;
    r->month = (int)strtol(p + 1, &e, 10);
    if (*e != '.')
        return NULL;
    r->week = (int)strtol(e + 1, &e, 10);
    if (*e != '.')
        return NULL;
    r->wday = (int)strtol(e + 1, &e, 10);
    if (r->month < 1 || r->month > 12 || r->week < 1 || r->week > 5 || r->wday < 0 || r->wday > 6)
        return NULL;
    r->time_min = 120;
    p = e;
    if (*p == '/' && !(p = hms(p + 1, &r->time_min)))
        return NULL;
    return p;
}

int sdra_tz_load(sdra_tz *out, const char *name, sdra_error *err)
{
    if (!name || !*name || strlen(name) >= SDRA_TZ_NAME_MAX || name[0] == '/' || strstr(name, ".."))
        return bad_name(err, name ? name : "");
    for (const char *c = name; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("/_+-", *c))
            return bad_name(err, name);
    const char *dir = getenv("TZDIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
    char *data = NULL;
    size_t len = 0;
    if (sdra_file_read(&data, &len, path, TZIF_MAX_BYTES, NULL) < 0)
        return bad_name(err, name);
    int rc = 0, unsupported = 0;
    sdra_tz z;
    memset(&z, 0, sizeof z);
    snprintf(z.name, sizeof z.name, "%s", name);
    /* the footer: "\n<TZ string>\n" at the very end */
    char *end = len >= 2 && data[len - 1] == '\n' ? data + len - 1 : NULL, *start = NULL;
    if (end) { /* the binary part holds NULs and newlines: search back from the end */
        *end = 0;
        for (char *c = end - 1; c >= data && !start; c--)
            if (*c == '\n')
                start = c;
    }
    if (len < 44 || memcmp(data, "TZif", 4) || data[4] < '2' || !start) {
        rc = bad_name(err, name);
        goto done;
    }
    const char *p = abbr(start + 1, z.std_abbr, sizeof z.std_abbr);
    int off;
    if (!p || !(p = hms(p, &off)))
        goto malformed;
    z.std_off_min = -off; /* POSIX counts west */
    if (*p) {
        if (!(p = abbr(p, z.dst_abbr, sizeof z.dst_abbr)))
            goto malformed;
        z.dst_off_min = z.std_off_min + 60;
        if (*p && *p != ',') {
            if (!(p = hms(p, &off)))
                goto malformed;
            z.dst_off_min = -off;
        }
        if (*p != ',' || !(p = rule(p + 1, &z.dst_start, &unsupported)) || *p != ',' ||
            !(p = rule(p + 1, &z.dst_end, &unsupported)) || *p)
            goto malformed;
        z.has_dst = 1;
    }
    *out = z;
    goto done;
malformed:
    rc = unsupported ? sdra_error_set(err, SDRA_EUNSUPPORTED, "time zone '%s': its rule '%.60s' is not supported", name, start + 1)
                     : sdra_error_set(err, SDRA_EINVAL, "time zone '%s': malformed rule '%.60s'", name, start + 1);
done:
    free(data);
    return rc;
}

int sdra_tz_rule_day(const sdra_tz_rule *r, int y)
{
    int first = 1 + (r->wday - sdra_weekday(sdra_days_from_civil(y, r->month, 1)) + 7) % 7;
    int dim = sdra_days_in_month(y, r->month);
    int day = first + 7 * (r->week - 1);
    while (day > dim)
        day -= 7;
    return day;
}

int sdra_tz_offset_min(const sdra_tz *z, int y, int m, int d, int min_of_day, int *is_dst)
{
    int dst = 0;
    if (z->has_dst) {
        /* minutes of the year, in local wall time, of the moment and of both changes */
        long at = ((long)(m * 31 + d) * 1440) + min_of_day;
        long s = (long)(z->dst_start.month * 31 + sdra_tz_rule_day(&z->dst_start, y)) * 1440 + z->dst_start.time_min;
        long e = (long)(z->dst_end.month * 31 + sdra_tz_rule_day(&z->dst_end, y)) * 1440 + z->dst_end.time_min;
        long gap = z->dst_off_min - z->std_off_min; /* the wall clock jumps by this at the start */
        if (s < e) /* northern hemisphere */
            dst = at >= s + gap && at < e;
        else       /* southern: daylight time spans the new year */
            dst = at >= s + gap || at < e;
    }
    if (is_dst)
        *is_dst = dst;
    return dst ? z->dst_off_min : z->std_off_min;
}

/* The daylight period in wall-clock daylight time is [start + gap, end) (sdra_tz_offset_min);
 * the instant t is in it exactly when t shown at the daylight offset falls there, which is
 * also right in the autumn overlap (the same wall time twice, once at each offset). */
int sdra_tz_offset_at(const sdra_tz *z, int64_t unix_s, int *is_dst)
{
    int dst = 0;
    if (z->has_dst) {
        time_t t = (time_t)(unix_s + (int64_t)z->dst_off_min * 60);
        struct tm g;
        gmtime_r(&t, &g);
        sdra_tz_offset_min(z, g.tm_year + 1900, g.tm_mon + 1, g.tm_mday, g.tm_hour * 60 + g.tm_min, &dst);
    }
    if (is_dst)
        *is_dst = dst;
    return dst ? z->dst_off_min : z->std_off_min;
}
