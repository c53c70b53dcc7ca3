/*
 * sdra/tz.h - IANA time zones from the system's tz database (/usr/share/zoneinfo, or $TZDIR),
 * enough to put a meeting in a zone: the zone's current rule (the POSIX TZ string at the end of
 * its TZif file, RFC 8536): standard and daylight offsets and names, and when daylight time
 * starts and ends. Used by the invite's VTIMEZONE (RFC 5545) and the email's "10:00 CET".
 *
 *     sdra_tz z;
 *     if (sdra_tz_load(&z, "Europe/Berlin", &err) < 0) ...   // "unknown time zone ..."
 *     int dst, off = sdra_tz_offset_min(&z, 2027, 3, 30, 600, &dst); // +120, dst = 1
 */
#ifndef SDRA_TZ_H
#define SDRA_TZ_H

#include <stdint.h>
#include "sdra/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SDRA_TZ_NAME_MAX 64

typedef struct sdra_tz_rule {
    int month, week, wday; /* POSIX Mm.w.d: day wday (0 = Sunday) of week 1..5 (5 = last) */
    int time_min;          /* local time of the change, minutes after midnight (may be < 0 or >= 1440) */
} sdra_tz_rule;

typedef struct sdra_tz {
    char name[SDRA_TZ_NAME_MAX];  /* "Europe/Berlin" */
    char std_abbr[16], dst_abbr[16]; /* "CET", "CEST"; numeric ones as given ("+03") */
    int std_off_min, dst_off_min; /* offsets east of UTC in minutes: CET +60, CEST +120 */
    int has_dst;
    sdra_tz_rule dst_start, dst_end; /* in the local time in force before each change */
} sdra_tz;

/* Loads zone name (an IANA name like "Europe/Berlin", or "UTC"). Fails with SDRA_EINVAL and a
 * one-line message ("unknown time zone 'Mars/Base' (an IANA name like Europe/Berlin)") for a
 * malformed or unknown name or a file that is not TZif version 2+, SDRA_EUNSUPPORTED for a
 * rule form other than Mm.w.d; z is then unchanged. */
int sdra_tz_load(sdra_tz *z, const char *name, sdra_error *err);

/* The offset east of UTC in minutes in force at local wall time y-m-d min_of_day; *is_dst (may
 * be NULL) set. A time in the spring gap counts as standard, one in the autumn overlap as
 * daylight. */
int sdra_tz_offset_min(const sdra_tz *z, int y, int m, int d, int min_of_day, int *is_dst);

/* The offset east of UTC in minutes in force at the instant unix_s (seconds since 1970, UTC);
 * *is_dst (may be NULL) set. The zone's current rule is applied to any year (sdra_tz keeps no
 * history), which is right for the present and the future. */
int sdra_tz_offset_at(const sdra_tz *z, int64_t unix_s, int *is_dst);

/* The day of month on which rule r falls in year y. */
int sdra_tz_rule_day(const sdra_tz_rule *r, int y);

#ifdef __cplusplus
}
#endif
#endif
