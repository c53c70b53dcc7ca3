/*
 * sched.c - the outbox's small pure parts: backoff with jitter, business-hours slots in a time
 * zone, the webhook signature and the check of a callback target (SSRF). Each is a function of
 * its arguments (the zone database aside), so the unit tests pin them down.
 */
#include "sdra/outbox.h"
#include "sdra/tz.h"
#include "sdra/util.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

int sdra_review_policy_parse(const char *s)
{
    if (!s)
        return -1;
    if (!strcmp(s, "always"))
        return SDRA_REVIEW_ALWAYS;
    if (!strcmp(s, "when_poor") || !strcmp(s, "when-poor"))
        return SDRA_REVIEW_WHEN_POOR;
    if (!strcmp(s, "never"))
        return SDRA_REVIEW_NEVER;
    return -1;
}

int64_t sdra_outbox_backoff_ms(int attempts, int64_t base_ms, int64_t max_ms, uint32_t rnd)
{
    int64_t d = base_ms > 0 ? base_ms : 1;
    for (int i = 1; i < attempts && d < max_ms; i++)
        d *= 2;
    if (max_ms > 0 && d > max_ms)
        d = max_ms;
    return (int64_t)((double)d * (0.5 + (double)(rnd % 1000) / 1000.0));
}

static const char *const day_names[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static int day_index(const char *s, size_t n)
{
    for (int i = 0; i < 7; i++)
        if (n == 3 && !strncasecmp(s, day_names[i], 3))
            return i;
    return -1;
}

int sdra_outbox_hours_parse(sdra_outbox_hours *h, const char *s, sdra_error *err)
{
    int sh, sm, eh, em, used = 0;
    if (!s || sscanf(s, "%2d:%2d-%2d:%2d%n", &sh, &sm, &eh, &em, &used) != 4 || sh < 0 || sh > 24 || eh < 0 ||
        eh > 24 || sm < 0 || sm > 59 || em < 0 || em > 59 || sh * 60 + sm >= eh * 60 + em || eh * 60 + em > 1440)
        return sdra_error_set(err, SDRA_EINVAL, "business hours '%.40s': use HH:MM-HH:MM[,mon-fri]", s ? s : "");
    sdra_outbox_hours out = {.start_min = sh * 60 + sm, .end_min = eh * 60 + em, .days_mask = 0x3e};
    const char *p = s + used;
    if (*p == ',') {
        out.days_mask = 0;
        p++;
        while (*p) {
            size_t n = strcspn(p, ",");
            const char *dash = memchr(p, '-', n);
            int a = day_index(p, dash ? (size_t)(dash - p) : n), b = a;
            if (dash)
                b = day_index(dash + 1, n - (size_t)(dash - p) - 1);
            if (a < 0 || b < 0)
                return sdra_error_set(err, SDRA_EINVAL, "business hours '%.40s': days are sun..sat, e.g. mon-fri", s);
            for (int d = a;; d = (d + 1) % 7) {
                out.days_mask |= 1u << d;
                if (d == b)
                    break;
            }
            p += n;
            if (*p == ',')
                p++;
        }
    } else if (*p) {
        return sdra_error_set(err, SDRA_EINVAL, "business hours '%.40s': use HH:MM-HH:MM[,mon-fri]", s);
    }
    *h = out;
    return 0;
}

/* The zone's rule comes from sdra/tz.h, so no process-wide TZ is touched: several workers
 * plan emails in different zones at once. Each candidate day's opening time is a local wall
 * time; its offset is the one in force then (a start inside the spring gap counts as standard
 * time, so 02:30 on the day clocks go forward is 03:30 daylight time). */
int sdra_outbox_next_slot(int64_t now_ms, const char *tz, const sdra_outbox_hours *h, int64_t *out_ms,
                          sdra_error *err)
{
    sdra_tz z;
    if (sdra_tz_load(&z, tz ? tz : "", err) < 0)
        return sdra_error_set(err, SDRA_EINVAL, "unknown time zone '%.64s'", tz ? tz : "");
    if (!h || h->start_min < 0 || h->end_min <= h->start_min || h->end_min > 1440 || !(h->days_mask & 0x7f))
        return sdra_error_set(err, SDRA_EINVAL, "business hours are empty");
    int64_t now_s = now_ms / 1000, best = -1;
    time_t local = (time_t)(now_s + (int64_t)sdra_tz_offset_at(&z, now_s, NULL) * 60);
    struct tm lt;
    gmtime_r(&local, &lt);
    int min = lt.tm_hour * 60 + lt.tm_min;
    if ((h->days_mask & (1u << lt.tm_wday)) && min >= h->start_min && min < h->end_min)
        best = now_ms;
    for (int d = 0; best < 0 && d < 8; d++) {
        struct tm t = {.tm_year = lt.tm_year, .tm_mon = lt.tm_mon, .tm_mday = lt.tm_mday + d, .tm_hour = 12};
        time_t noon = timegm(&t); /* normalises the date */
        struct tm c;
        gmtime_r(&noon, &c);
        if (!(h->days_mask & (1u << c.tm_wday)))
            continue;
        int off = sdra_tz_offset_min(&z, c.tm_year + 1900, c.tm_mon + 1, c.tm_mday, h->start_min, NULL);
        int64_t cand = ((int64_t)noon - 12 * 3600 + (int64_t)(h->start_min - off) * 60) * 1000;
        if (cand >= now_ms)
            best = cand;
    }
    if (best < 0)
        return sdra_error_set(err, SDRA_EINVAL, "no business-hours slot in the next week");
    *out_ms = best;
    return 0;
}

void sdra_outbox_sign(const char *secret, int64_t t, const char *body, size_t body_len, char *out)
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char ts[24];
    int n = snprintf(ts, sizeof ts, "%lld.", (long long)t);
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)(secret ? secret : ""), secret ? strlen(secret) : 0);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, (unsigned long long)n);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, body_len);
    crypto_auth_hmacsha256_final(&st, mac);
    char hex[2 * sizeof mac + 1];
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    snprintf(out, SDRA_OUTBOX_SIG_MAX, "t=%lld,v1=%s", (long long)t, hex);
    sodium_memzero(&st, sizeof st);
}

static bool ip4_private(const unsigned char *a)
{
    return a[0] == 0 || a[0] == 10 || a[0] == 127 || (a[0] == 169 && a[1] == 254) ||
           (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168) ||
           (a[0] == 100 && (a[1] & 0xc0) == 64) || a[0] >= 224;
}

static bool ip6_private(const unsigned char *a)
{
    static const unsigned char zero[16], v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!memcmp(a, zero, 15) && (a[15] == 0 || a[15] == 1)) /* :: and ::1 */
        return true;
    if (!memcmp(a, v4mapped, 12))
        return ip4_private(a + 12);
    return (a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || a[0] == 0xff;
}

/* SDRA_TEST_RESOLVE="host=address[,host=address]": what the check believes a name resolves
 * to, for tests only (a name that DNS does not know, resolved for the check alone, shows that
 * the connection goes to the pinned address and not to a second lookup). */
static bool test_resolve(const char *host, struct sockaddr_storage *ss)
{
    const char *list = getenv("SDRA_TEST_RESOLVE");
    size_t hn = strlen(host);
    for (const char *p = list; p && *p;) {
        size_t n = strcspn(p, ",");
        const char *eq = memchr(p, '=', n);
        if (eq && (size_t)(eq - p) == hn && !strncasecmp(p, host, hn)) {
            char addr[64];
            snprintf(addr, sizeof addr, "%.*s", (int)(n - hn - 1), eq + 1);
            memset(ss, 0, sizeof *ss);
            if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
                ss->ss_family = AF_INET;
                return true;
            }
            if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
                ss->ss_family = AF_INET6;
                return true;
            }
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

static bool addr_private(const struct sockaddr *sa)
{
    return sa->sa_family == AF_INET ? ip4_private((const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr)
                                    : sa->sa_family == AF_INET6 &&
                                          ip6_private(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
}

int sdra_outbox_pin_target(const char *url, bool allow_private, char *resolve, size_t resolve_n, sdra_error *err)
{
    const char *rest = NULL;
    int port = 0;
    if (resolve && resolve_n)
        resolve[0] = '\0';
    if (url && !strncmp(url, "https://", 8))
        rest = url + 8, port = 443;
    else if (url && !strncmp(url, "http://", 7))
        rest = url + 7, port = 80;
    if (!rest || strlen(url) > 2000)
        return sdra_error_set(err, SDRA_EINVAL, "callback URL must be http:// or https://");
    size_t n = strcspn(rest, "/?#");
    char host[256];
    if (n == 0 || n >= sizeof host || memchr(rest, '@', n))
        return sdra_error_set(err, SDRA_EINVAL, "callback URL has no host (or has user info)");
    memcpy(host, rest, n);
    host[n] = '\0';
    char *colon = NULL;
    if (host[0] == '[') {
        char *end = strchr(host, ']');
        if (!end)
            return sdra_error_set(err, SDRA_EINVAL, "callback URL: bad IPv6 host");
        colon = end[1] == ':' ? end + 1 : NULL;
        *end = '\0';
        memmove(host, host + 1, strlen(host + 1) + 1);
    } else if ((colon = strchr(host, ':')) != NULL) {
        *colon = '\0';
    }
    if (colon) {
        char *e = NULL;
        long v = strtol(colon + 1, &e, 10);
        if (e == colon + 1 || *e || v < 1 || v > 65535)
            return sdra_error_set(err, SDRA_EINVAL, "callback URL: bad port");
        port = (int)v;
    }
    struct sockaddr_storage forced;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL, one = {0};
    if (test_resolve(host, &forced)) {
        one.ai_family = forced.ss_family;
        one.ai_addr = (struct sockaddr *)&forced;
        res = &one;
    } else if (getaddrinfo(host, NULL, &hints, &res) != 0) {
        return sdra_error_set(err, SDRA_EINVAL, "callback host '%.100s' does not resolve", host);
    }
    int rc = 0;
    char addr[INET6_ADDRSTRLEN] = "";
    for (struct addrinfo *ai = res; ai && rc == 0; ai = ai->ai_next) {
        if (!allow_private && addr_private(ai->ai_addr))
            rc = sdra_error_set(err, SDRA_EDENIED,
                                "callback host '%.100s' is a loopback, private or link-local address", host);
        else if (!addr[0] && ai->ai_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, addr, sizeof addr);
        else if (!addr[0] && ai->ai_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, addr, sizeof addr);
    }
    if (res != &one)
        freeaddrinfo(res);
    if (rc == 0 && !addr[0])
        rc = sdra_error_set(err, SDRA_EINVAL, "callback host '%.100s' has no IPv4 or IPv6 address", host);
    if (rc == 0 && resolve && resolve_n) {
        /* an address literal needs no pin; a name is pinned to the address just checked */
        unsigned char lit[16];
        bool literal = inet_pton(AF_INET, host, lit) == 1 || inet_pton(AF_INET6, host, lit) == 1;
        if (!literal && (size_t)snprintf(resolve, resolve_n, strchr(addr, ':') ? "%s:%d:[%s]" : "%s:%d:%s", host,
                                         port, addr) >= resolve_n)
            rc = sdra_error_set(err, SDRA_ELIMIT, "callback host '%.100s': name too long", host);
    }
    return rc;
}

int sdra_outbox_check_target(const char *url, bool allow_private, sdra_error *err)
{
    return sdra_outbox_pin_target(url, allow_private, NULL, 0, err);
}
