/*
 * compose/internal.h - the pieces of the compose module, shared by its files and unit tests:
 * the email template file with parts (template_file.c), the MIME writer pieces (mime.c), the iCalendar
 * writer (ical.c), talking-point files (talking_points.c) and date formatting (dates.c).
 * None of these print or hold global state; every output goes into a bounded sdra_buf.
 */
#ifndef SDRA_COMPOSE_INTERNAL_H
#define SDRA_COMPOSE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "sdra/buf.h"
#include "sdra/error.h"
#include "sdra/talking_points.h"
#include "sdra/template.h"

/* ---- template engine (docs/templates.md) ------------------------------------------------ */

/* The engine itself is core (sdra/template.h); compose adds the email template file. */

/* A template file split into its parts ("--- subject ---", "--- text ---", "--- html ---"
 * marker lines; html optional). */
typedef struct sdra_tmpl_file {
    sdra_tmpl *subject, *text, *html; /* html may be NULL */
} sdra_tmpl_file;

/* Loads and parses a template file (at most SDRA_TMPL_MAX_SRC_BYTES). Errors name the file
 * and line. */
int sdra_tmpl_file_load(sdra_tmpl_file *tf, const char *path, sdra_error *err);
/* Same from memory; name is used in messages. */
int sdra_tmpl_file_parse(sdra_tmpl_file *tf, const char *src, size_t len, const char *name,
                         sdra_error *err);
void sdra_tmpl_file_release(sdra_tmpl_file *tf);

/* ---- MIME writer pieces (RFC 5322, 2045, 2047) ------------------------------------------ */

/* Quoted-printable encoding of text (LF or CRLF line ends) with CRLF line ends, lines at most
 * 76 octets (soft breaks "="), trailing white space and non-ASCII encoded. */
int sdra_mime_qp_encode(sdra_buf *out, const char *s, size_t n);

/* Base64 in lines of 76 characters, each ended by CRLF. */
int sdra_mime_base64(sdra_buf *out, const void *data, size_t n);

/* Appends "Name: value" CRLF with an unstructured value (e.g. Subject): folded at spaces to
 * lines of at most 78 octets; values with non-ASCII or control characters, or words too long
 * to fold, become RFC 2047 "=?UTF-8?B?...?=" encoded words of at most 75 characters. */
int sdra_mime_header_text(sdra_buf *out, const char *name, const char *value);

/* Appends "Name: phrase <addr>" CRLF (or just "<addr>"/addr when display is NULL or empty):
 * the phrase is an atom sequence, a quoted string, or encoded words for non-ASCII names.
 * SDRA_EINVAL when addr is not a plain ASCII address. */
int sdra_mime_header_address(sdra_buf *out, const char *name, const char *display,
                             const char *addr);

/* True when s is a syntactically plain ASCII address local@domain. */
int sdra_mime_addr_ok(const char *addr);

/* "Tue, 24 Nov 2026 15:00:00 +0000" for a Unix time (UTC). */
void sdra_mime_date(char out[40], int64_t t);

/* 64-bit FNV-1a, for deterministic ids and boundaries. */
uint64_t sdra_mime_hash(const char *s, uint64_t seed);

/* ---- iCalendar (RFC 5545) --------------------------------------------------------------- */

/* Appends one content line folded at 75 octets (CRLF + space; never inside a UTF-8 sequence),
 * ended by CRLF. */
int sdra_ical_line(sdra_buf *out, const char *line);

/* Escapes a TEXT value (\\ \; \, newline -> \n) onto out. */
int sdra_ical_escape(sdra_buf *out, const char *s);

typedef struct sdra_ical_event {
    const char *uid;
    int64_t dtstamp_s;        /* Unix time, written in UTC */
    const char *date;         /* YYYY-MM-DD */
    int start_min;            /* minutes after local midnight */
    int duration_min;
    const char *tzid;         /* NULL: floating local time (or tz's name when tz is set) */
    const struct sdra_tz *tz; /* the zone of date/start_min: TZID and a VTIMEZONE built from
                                 the system tz data for the event's year; NULL = tzid alone */
    const char *summary, *description;
    const char *organizer_name, *organizer_email;
    const char *attendee_name, *attendee_email; /* attendee omitted when the email is NULL */
} sdra_ical_event;

/* Appends a VCALENDAR with METHOD:REQUEST and one VEVENT. SDRA_EINVAL for a bad date. */
int sdra_ical_invite(sdra_buf *out, const sdra_ical_event *ev, sdra_error *err);

/* ---- talking points: sdra/talking_points.h (the live coach reads them too) -------------- */

/* ---- dates ------------------------------------------------------------------------------ */

/* Parses YYYY-MM-DD (validated); returns 0 or SDRA_EINVAL. */
int sdra_compose_date_parse(const char *s, int *y, int *m, int *d);
/* 0 = Sunday .. 6 = Saturday. */
int sdra_compose_weekday(int y, int m, int d);
/* "Thursday, November 26" (out >= 40 bytes); SDRA_EINVAL for a bad date. */
int sdra_compose_date_long(char *out, size_t n, const char *iso);
/* Parses "14:00", "9:30", "2pm", "2:30 pm" into minutes after midnight; -1 when not a time. */
int sdra_compose_time_parse(const char *s);
/* "2:00 PM" */
void sdra_compose_time_format(char *out, size_t n, int minutes);

#endif
