/*
 * date.c - calendar arithmetic and ISO 8601 instants (sdra/date.h).
 */
#include "sdra/date.h"

#include <ctype.h>
#include <string.h>

int64_t sdra_days_from_civil(int y, int m, int d)
{
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void sdra_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

int sdra_days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12)
        return 0;
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

int sdra_weekday(int64_t days)
{
    int64_t w = (days + 4) % 7; /* 1970-01-01 was a Thursday */
    return (int)(w < 0 ? w + 7 : w);
}

/* n digits at s as a number, or -1. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int k = 0; k < n; k++) {
        if (!isdigit((unsigned char)s[k]))
            return -1;
        v = v * 10 + (s[k] - '0');
    }
    return v;
}

int sdra_date_parse(const char *s, int64_t *days)
{
    if (!s || strlen(s) < 10 || s[4] != '-' || s[7] != '-')
        return -1;
    int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
    if (y < 1900 || m < 1 || m > 12 || d < 1 || d > sdra_days_in_month(y, m))
        return -1;
    if (s[10] != '\0')
        return -1;
    *days = sdra_days_from_civil(y, m, d);
    return 0;
}

void sdra_date_format(char out[11], int64_t days)
{
    int y, m, d;
    sdra_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        y = y < 0 ? 0 : 9999;
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
}

int sdra_time_parse_ms(const char *s, int allow_epoch_ms, int64_t *ms)
{
    if (!s)
        return -1;
    size_t len = strlen(s);
    if (allow_epoch_ms && len && len <= 15 && strspn(s, "0123456789") == len) {
        int64_t v = 0;
        for (size_t k = 0; k < len; k++)
            v = v * 10 + (s[k] - '0');
        *ms = v;
        return 0;
    }
    char day[11];
    int64_t days;
    if (len < 10)
        return -1;
    memcpy(day, s, 10);
    day[10] = '\0';
    if (sdra_date_parse(day, &days) < 0)
        return -1;
    if (len == 10) {
        *ms = days * 86400000LL;
        return 0;
    }
    const char *p = s + 10;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    int h = digits(p, 2), mi = -1, sec = 0, frac = 0;
    if (h < 0 || h > 23 || p[2] != ':')
        return -1;
    mi = digits(p + 3, 2);
    if (mi < 0 || mi > 59)
        return -1;
    p += 5;
    if (*p == ':') {
        sec = digits(p + 1, 2);
        if (sec < 0 || sec > 60)
            return -1;
        p += 3;
        if (*p == '.' || *p == ',') {
            int scale = 100, n = 0;
            for (p++; isdigit((unsigned char)*p); p++, n++) {
                frac += (*p - '0') * scale;
                scale /= 10;
            }
            if (!n)
                return -1;
        }
    }
    int64_t off_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh = digits(p + 1, 2), om = 0;
        if (oh < 0 || oh > 23)
            return -1;
        p += 3;
        if (*p == ':') {
            om = digits(p + 1, 2);
            p += om < 0 ? 1 : 3;
        } else if (isdigit((unsigned char)*p)) {
            om = digits(p, 2);
            p += 2;
        }
        if (om < 0 || om > 59)
            return -1;
        off_min = sign * (oh * 60 + om);
    } else {
        return -1;
    }
    if (*p)
        return -1;
    *ms = ((days * 24 + h) * 60 + mi - off_min) * 60000LL + sec * 1000LL + frac;
    return 0;
}
