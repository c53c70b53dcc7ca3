/*
 * mime.c - the low-level pieces of an Internet message: quoted-printable and base64 bodies
 * (RFC 2045), header fields folded to 78 octets with RFC 2047 encoded words for anything that
 * is not plain ASCII (RFC 5322 / 2047), address fields, the Date format, and a stable hash for
 * deterministic Message-IDs and boundaries. Everything appends to a bounded sdra_buf and
 * returns SDRA_ELIMIT when it is full; nothing here allocates outside the buffer.
 */
#include "compose/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LIMIT(x)                   \
    do {                           \
        if ((x) < 0)               \
            return SDRA_ELIMIT;    \
    } while (0)

uint64_t sdra_mime_hash(const char *s, uint64_t seed)
{
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (; s && *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void sdra_mime_date(char out[40], int64_t t)
{
    static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
             mons[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- bodies ----------------------------------------------------------------------------- */

int sdra_mime_qp_encode(sdra_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t pos = 0;
    while (pos < n) {
        const char *nl = memchr(s + pos, '\n', n - pos);
        size_t ll = nl ? (size_t)(nl - (s + pos)) : n - pos;
        const char *line = s + pos;
        if (ll && line[ll - 1] == '\r')
            ll--;
        size_t col = 0;
        for (size_t i = 0; i < ll; i++) {
            unsigned char c = (unsigned char)line[i];
            char enc[4];
            size_t elen;
            int last = i + 1 == ll;
            /* "From " at a line start is encoded so that mbox writers cannot mangle it */
            int from_line = i == 0 && ll >= 5 && !memcmp(line, "From ", 5);
            if (!from_line && ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last))) {
                enc[0] = (char)c;
                elen = 1;
            } else {
                enc[0] = '=';
                enc[1] = hex[c >> 4];
                enc[2] = hex[c & 15];
                elen = 3;
            }
            /* keep room for the soft break "=" unless this is the line's last piece */
            size_t room = last ? 76 : 75;
            if (col + elen > room) {
                LIMIT(sdra_buf_puts(out, "=\r\n"));
                col = 0;
            }
            LIMIT(sdra_buf_append(out, enc, elen));
            col += elen;
        }
        if (nl || ll)
            LIMIT(sdra_buf_puts(out, "\r\n"));
        pos += (nl ? (size_t)(nl - (s + pos)) + 1 : n - pos);
    }
    return 0;
}

static int b64(sdra_buf *out, const unsigned char *d, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)d[i + 1] << 8;
        if (i + 2 < n)
            v |= d[i + 2];
        char q[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63],
                     i + 1 < n ? tab[(v >> 6) & 63] : '=', i + 2 < n ? tab[v & 63] : '='};
        LIMIT(sdra_buf_append(out, q, 4));
    }
    return 0;
}

int sdra_mime_base64(sdra_buf *out, const void *data, size_t n)
{
    const unsigned char *d = data;
    for (size_t i = 0; i < n; i += 57) {
        LIMIT(b64(out, d + i, n - i < 57 ? n - i : 57));
        LIMIT(sdra_buf_puts(out, "\r\n"));
    }
    return 0;
}

/* ---- headers ---------------------------------------------------------------------------- */

static int plain_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

/* Length of the next UTF-8 sequence at s (1 for stray bytes). */
static size_t utf8_len(const unsigned char *s)
{
    size_t n = 1;
    if (*s >= 0xf0)
        n = 4;
    else if (*s >= 0xe0)
        n = 3;
    else if (*s >= 0xc0)
        n = 2;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return i;
    return n;
}

/*
 * The folding writer: tokens separated by single spaces, a line break (CRLF SP) before a token
 * that would pass 78 octets. col is the current line's length.
 */
typedef struct folder {
    sdra_buf *out;
    size_t col;
    int first; /* no space before the first token */
} folder;

static int fold_token(folder *f, const char *tok, size_t n)
{
    if (!f->first) {
        if (f->col + 1 + n > 78) {
            LIMIT(sdra_buf_puts(f->out, "\r\n "));
            f->col = 1;
        } else {
            LIMIT(sdra_buf_putc(f->out, ' '));
            f->col++;
        }
    }
    f->first = 0;
    LIMIT(sdra_buf_append(f->out, tok, n));
    f->col += n;
    return 0;
}

/* Writes s as encoded words ("=?UTF-8?B?...?=", each at most 75 characters: 45 bytes of
 * input, never splitting a UTF-8 sequence). */
static int encoded_words(folder *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    size_t i = 0;
    while (i < n) {
        /* fill the current line when a useful word fits, else start a new one */
        size_t room = f->col + 1 < 78 ? 78 - f->col - 1 : 0;
        if (room > 75)
            room = 75;
        if (room < 24)
            room = 75;
        size_t max_raw = (room - 12) / 4 * 3;
        size_t take = 0;
        while (i + take < n) {
            size_t l = utf8_len(p + i + take);
            if (take + l > max_raw)
                break;
            take += l;
        }
        if (!take) /* cannot happen with l <= 4, kept for safety */
            take = 1;
        char word[80];
        sdra_buf w;
        sdra_buf_init(&w, sizeof word - 1);
        int rc = sdra_buf_puts(&w, "=?UTF-8?B?");
        if (rc == 0)
            rc = b64(&w, p + i, take);
        if (rc == 0)
            rc = sdra_buf_puts(&w, "?=");
        if (rc == 0)
            rc = fold_token(f, w.data, w.len);
        sdra_buf_release(&w);
        LIMIT(rc);
        i += take;
    }
    return 0;
}

int sdra_mime_header_text(sdra_buf *out, const char *name, const char *value)
{
    folder f = {.out = out, .col = strlen(name) + 1, .first = 0};
    LIMIT(sdra_buf_printf(out, "%s:", name));
    if (!value)
        value = "";
    /* encode when not plain ASCII, when it could be mistaken for encoded words, or when one
     * word is too long to fold */
    int encode = !plain_ascii(value) || strstr(value, "=?") != NULL;
    size_t wl = 0;
    for (const char *p = value; *p && !encode; p++) {
        wl = *p == ' ' ? 0 : wl + 1;
        if (wl > 70)
            encode = 1;
    }
    if (encode) {
        LIMIT(encoded_words(&f, value));
    } else {
        const char *p = value;
        while (*p) {
            while (*p == ' ' || *p == '\t')
                p++;
            const char *e = p;
            while (*e && *e != ' ' && *e != '\t')
                e++;
            if (e > p)
                LIMIT(fold_token(&f, p, (size_t)(e - p)));
            p = e;
        }
    }
    LIMIT(sdra_buf_puts(out, "\r\n"));
    return 0;
}

int sdra_mime_addr_ok(const char *a)
{
    if (!a)
        return 0;
    const char *at = strchr(a, '@');
    if (!at || at == a || !at[1] || strchr(at + 1, '@') || strlen(a) > 254)
        return 0;
    for (const char *p = a; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c > 0x7e || strchr("<>()[]\\,;:\"", c))
            return 0;
    }
    if (at[1] == '.' || a[strlen(a) - 1] == '.')
        return 0;
    return 1;
}

static int atext(unsigned char c)
{
    return isalnum(c) || strchr("!#$%&'*+-/=?^_`{|}~", c);
}

int sdra_mime_header_address(sdra_buf *out, const char *name, const char *display,
                             const char *addr)
{
    if (!sdra_mime_addr_ok(addr))
        return SDRA_EINVAL;
    folder f = {.out = out, .col = strlen(name) + 1, .first = 0};
    LIMIT(sdra_buf_printf(out, "%s:", name));
    if (display && *display) {
        int atoms = 1, ascii = plain_ascii(display);
        for (const char *p = display; *p; p++)
            if (!atext((unsigned char)*p) && *p != ' ')
                atoms = 0;
        if (strstr(display, "=?"))
            atoms = ascii = 0;
        if (atoms && ascii) {
            const char *p = display;
            while (*p) {
                while (*p == ' ')
                    p++;
                const char *e = p;
                while (*e && *e != ' ')
                    e++;
                if (e > p)
                    LIMIT(fold_token(&f, p, (size_t)(e - p)));
                p = e;
            }
        } else if (ascii && strlen(display) < 60) {
            sdra_buf q;
            sdra_buf_init(&q, 200);
            int rc = sdra_buf_putc(&q, '"');
            for (const char *p = display; *p && rc == 0; p++) {
                if (*p == '"' || *p == '\\')
                    rc = sdra_buf_putc(&q, '\\');
                if (rc == 0)
                    rc = sdra_buf_putc(&q, *p);
            }
            if (rc == 0)
                rc = sdra_buf_putc(&q, '"');
            if (rc == 0)
                rc = fold_token(&f, q.data, q.len);
            sdra_buf_release(&q);
            LIMIT(rc);
        } else {
            LIMIT(encoded_words(&f, display));
        }
        char a[300];
        snprintf(a, sizeof a, "<%s>", addr);
        LIMIT(fold_token(&f, a, strlen(a)));
    } else {
        LIMIT(fold_token(&f, addr, strlen(addr)));
    }
    LIMIT(sdra_buf_puts(out, "\r\n"));
    return 0;
}
