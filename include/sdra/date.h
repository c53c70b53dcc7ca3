/*
 * date.h - calendar arithmetic and ISO 8601 parsing, once for the whole program (proleptic
 * Gregorian, UTC; time zones are sdra/tz.h's). Days count from 1970-01-01 (day 0).
 */
#ifndef SDRA_DATE_H
#define SDRA_DATE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Howard Hinnant's days_from_civil / civil_from_days: exact for any year an int holds. */
int64_t sdra_days_from_civil(int y, int m, int d);
void sdra_civil_from_days(int64_t days, int *y, int *m, int *d);
int sdra_days_in_month(int y, int m);  /* m 1..12 */
int sdra_weekday(int64_t days);        /* 0 = Sunday .. 6 = Saturday */

/* "YYYY-MM-DD" exactly (year 1900..9999, a real day): 0 and *days, else -1. */
int sdra_date_parse(const char *s, int64_t *days);
void sdra_date_format(char out[11], int64_t days); /* "YYYY-MM-DD" */

/* An instant as milliseconds since the epoch: "YYYY-MM-DD" (UTC midnight) or
 * "YYYY-MM-DDTHH:MM[:SS[.fff]]" followed by "Z", "+HH:MM", "-HH:MM", "+HHMM" or "+HH" (a space
 * may stand for the T). With allow_epoch_ms, all digits (at most 15) are already milliseconds.
 * 0 and *ms, else -1 (nothing else accepted: no local time without a zone). */
int sdra_time_parse_ms(const char *s, int allow_epoch_ms, int64_t *ms);

#ifdef __cplusplus
}
#endif
#endif
