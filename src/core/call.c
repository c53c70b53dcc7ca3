/*
 * call.c - call metadata (sdra/call.h): field setting with validation and the JSON form.
 */
#include "sdra/call.h"
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
    X(contact_timezone) X(source)

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
    int y, m, d;
    char tail;
    if (!s || strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
        return SDRA_EINVAL;
    if (s[4] != '-' || s[7] != '-' || y < 1900 || y > 2999 || m < 1 || m > 12 || d < 1)
        return SDRA_EINVAL;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[m - 1] + (m == 2 && leap))
        return SDRA_EINVAL;
    return 0;
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
