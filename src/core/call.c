/*
 * call.c - call metadata (sdra/call.h): field setting with validation and the JSON form.
 */
#include "sdra/call.h"
#include "sdra/date.h"
#include "sdra/seal.h"
#include "sdra/tz.h"
#include "sdra/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *styles[] = {"formal", "friendly", "concise", "consultative"};

#define FIELDS(X) X(id) X(audio) X(call_date) X(contact_email) X(contact_name) X(company) \
    X(rep_name) X(rep_email) X(rep_company) X(style) X(direction) X(consent) X(timezone)      \
    X(contact_timezone) X(callback_url) X(send_at) X(source)

void sdra_call_info_release(sdra_call_info *c)
{
    if (!c)
        return;
#define FREE(f) free(c->f);
    FIELDS(FREE)
#undef FREE
    memset(c, 0, sizeof *c);
}

int sdra_date_validate(const char *s)
{
    int64_t days;
    if (sdra_date_parse(s, &days) < 0 || s[0] > '2') /* years 1900..2999 */
        return SDRA_EINVAL;
    return 0;
}

int sdra_send_at_parse(const char *s, bool *next, int64_t *unix_ms, sdra_error *err)
{
    *next = false;
    *unix_ms = 0;
    if (s && !strcmp(s, "next")) {
        *next = true;
        return 0;
    }
    int y, mo, d, h, mi, sec = 0, n = 0, k = 0;
    char sep;
    if (!s || strlen(s) > 40 || sscanf(s, "%4d-%2d-%2d%c%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi, &n) != 6 || n != 16 ||
        (sep != 'T' && sep != 't' && sep != ' '))
        goto bad;
    char date[11];
    memcpy(date, s, 10);
    date[10] = '\0';
    const char *p = s + n;
    if (*p == ':') {
        if (sscanf(p, ":%2d%n", &sec, &k) != 1 || k != 3 || sec > 60)
            goto bad;
        p += k;
        if (*p == '.') /* fractions of a second: ignored */
            for (p++; *p >= '0' && *p <= '9'; p++)
                ;
    }
    long off_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &k) != 2 || k != 5 || oh > 23 || om > 59)
            goto bad;
        off_s = (*p == '-' ? -1L : 1L) * (oh * 3600L + om * 60L);
        p += 1 + k;
    } else {
        goto bad;
    }
    if (*p || sdra_date_validate(date) < 0 || y < 1970 || h > 23 || mi > 59)
        goto bad;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    *unix_ms = ((int64_t)timegm(&tm) - off_s) * 1000;
    return 0;
bad:
    return sdra_error_set(err, SDRA_EINVAL,
                          "send_at: '%.40s' is not an RFC 3339 time with a zone (2026-03-02T09:30:00Z, "
                          "2026-03-02T09:30:00+01:00) or 'next'",
                          s ? s : "");
}

void sdra_date_today(char out[11])
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

static int check(const char *field, const char *v, sdra_error *err)
{
    if (!v)
        return 0;
    if (strlen(v) > 1024)
        return sdra_error_set(err, SDRA_EINVAL, "%s: longer than 1024 characters", field);
    /* first: the messages below quote the value, which must then be one line of valid UTF-8 */
    int rc = sdra_text_check_line(field, v, err);
    if (rc < 0)
        return rc;
    /* the local CRM and the store know an encrypted field by this prefix (sdra/seal.h): a plain
     * value that began with it would read back as null */
    if (sdra_seal_is_sealed_text(v))
        return sdra_error_set(err, SDRA_EINVAL, "%s: begins with 'sdra:e1:', the prefix of an encrypted value", field);
    if (!strcmp(field, "call_date") && sdra_date_validate(v) < 0)
        return sdra_error_set(err, SDRA_EINVAL, "call_date: '%s' is not a date in YYYY-MM-DD form", v);
    if ((!strcmp(field, "contact_email") || !strcmp(field, "rep_email"))) {
        const char *at = strchr(v, '@');
        if (!at || at == v || !at[1] || strchr(at + 1, '@') || strpbrk(v, " \t\r\n<>,;\""))
            return sdra_error_set(err, SDRA_EINVAL, "%s: '%s' is not an email address", field, v);
    }
    if (!strcmp(field, "style")) {
        for (size_t i = 0; i < 4; i++)
            if (!strcmp(v, styles[i]))
                return 0;
        return sdra_error_set(err, SDRA_EINVAL, "style: '%s' is not one of formal, friendly, concise, consultative", v);
    }
    if (!strcmp(field, "direction") && strcmp(v, "outbound") && strcmp(v, "inbound"))
        return sdra_error_set(err, SDRA_EINVAL, "direction: '%s' is not outbound or inbound", v);
    if (!strcmp(field, "consent") && strcmp(v, "obtained") && strcmp(v, "not_required") && strcmp(v, "unknown"))
        return sdra_error_set(err, SDRA_EINVAL, "consent: '%s' is not obtained, not_required or unknown", v);
    if (!strcmp(field, "send_at")) {
        bool next;
        int64_t ms;
        return sdra_send_at_parse(v, &next, &ms, err);
    }
    if (!strcmp(field, "callback_url") && strncmp(v, "https://", 8) && strncmp(v, "http://", 7))
        return sdra_error_set(err, SDRA_EINVAL, "callback_url: '%.100s' is not an http:// or https:// URL", v);
    if (!strcmp(field, "source") && strcmp(v, "upload") && strcmp(v, "live"))
        return sdra_error_set(err, SDRA_EINVAL, "source: '%s' is not upload or live", v);
    if (!strcmp(field, "timezone") || !strcmp(field, "contact_timezone")) {
        sdra_tz z;
        return sdra_tz_load(&z, v, err);
    }
    return 0;
}

int sdra_call_info_set(sdra_call_info *c, const char *field, const char *value, sdra_error *err)
{
    int rc = check(field, value, err);
    if (rc < 0)
        return rc;
#define SET(f)                                                                   \
    if (!strcmp(field, #f)) {                                                    \
        char *dup = value ? strdup(value) : NULL;                                \
        if (value && !dup)                                                       \
            return sdra_error_set(err, SDRA_ENOMEM, "out of memory");            \
        free(c->f);                                                              \
        c->f = dup;                                                              \
        return 0;                                                                \
    }
    FIELDS(SET)
#undef SET
    return sdra_error_set(err, SDRA_EINVAL, "unknown call field '%s'", field);
}

json_t *sdra_call_info_to_json(const sdra_call_info *c)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "schema", json_string(SDRA_CALL_SCHEMA));
#define PUT(f) if (c->f) json_object_set_new(o, #f, json_string(c->f));
    FIELDS(PUT)
#undef PUT
    return o;
}

int sdra_call_info_from_json(sdra_call_info *c, const json_t *doc, sdra_error *err)
{
    if (!json_is_object(doc))
        return sdra_error_set(err, SDRA_EINVAL, "call: not a JSON object");
    sdra_call_info tmp = {0};
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)doc, k, v) {
        if (!strcmp(k, "schema"))
            continue;
        if (!json_is_string(v) && !json_is_null(v)) {
            sdra_call_info_release(&tmp);
            return sdra_error_set(err, SDRA_EINVAL, "call: field '%s' must be a string", k);
        }
        int rc = sdra_call_info_set(&tmp, k, json_string_value(v), err);
        if (rc < 0) {
            sdra_call_info_release(&tmp);
            return rc;
        }
    }
    sdra_call_info_release(c);
    *c = tmp;
    return 0;
}
