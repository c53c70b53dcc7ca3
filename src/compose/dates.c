/*
 * dates.c - the calendar arithmetic the email needs, independent of the C locale and the time
 * zone: ISO dates to "Thursday, November 26", weekdays, and clock times ("14:00", "2pm") to
 * minutes and back to "2:00 PM".
 */
#include "compose/internal.h"
#include "sdra/call.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

int sdra_compose_date_parse(const char *s, int *y, int *m, int *d)
{
    if (sdra_date_validate(s) < 0)
        return SDRA_EINVAL;
    if (sscanf(s, "%4d-%2d-%2d", y, m, d) != 3)
        return SDRA_EINVAL;
    return 0;
}

int sdra_compose_weekday(int y, int m, int d)
{
    static const int t[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
    if (m < 3)
        y -= 1;
    return (y + y / 4 - y / 100 + y / 400 + t[(m - 1) % 12] + d) % 7;
}

int sdra_compose_date_long(char *out, size_t n, const char *iso)
{
    static const char *days[] = {"Sunday", "Monday", "Tuesday", "Wednesday",
                                 "Thursday", "Friday", "Saturday"};
    static const char *mons[] = {"January", "February", "March", "April", "May", "June", "July",
                                 "August", "September", "October", "November", "December"};
    int y, m, d;
    if (n)
        out[0] = 0;
    if (!iso || sdra_compose_date_parse(iso, &y, &m, &d) < 0)
        return SDRA_EINVAL;
    snprintf(out, n, "%s, %s %d", days[sdra_compose_weekday(y, m, d)], mons[m - 1], d);
    return 0;
}

int sdra_compose_time_parse(const char *s)
{
    if (!s)
        return -1;
    while (isspace((unsigned char)*s))
        s++;
    int h = 0, mi = 0, nd = 0;
    while (isdigit((unsigned char)*s) && nd < 3) {
        h = h * 10 + (*s++ - '0');
        nd++;
    }
    if (!nd || nd > 2)
        return -1;
    if (*s == ':' || *s == '.') {
        s++;
        if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]))
            return -1;
        mi = (s[0] - '0') * 10 + (s[1] - '0');
        s += 2;
        if (*s == ':' && isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2]))
            s += 3; /* seconds ignored */
    }
    while (*s == ' ')
        s++;
    if (!strncasecmp(s, "am", 2) || !strncasecmp(s, "a.m.", 4)) {
        if (h < 1 || h > 12)
            return -1;
        h %= 12;
        s += s[1] == '.' ? 4 : 2;
    } else if (!strncasecmp(s, "pm", 2) || !strncasecmp(s, "p.m.", 4)) {
        if (h < 1 || h > 12)
            return -1;
        h = h % 12 + 12;
        s += s[1] == '.' ? 4 : 2;
    }
    while (isspace((unsigned char)*s))
        s++;
    if (*s || h > 23 || mi > 59)
        return -1;
    return h * 60 + mi;
}

void sdra_compose_time_format(char *out, size_t n, int minutes)
{
    int h = (minutes / 60) % 24, m = minutes % 60;
    snprintf(out, n, "%d:%02d %s", h % 12 ? h % 12 : 12, m, h < 12 ? "AM" : "PM");
}
