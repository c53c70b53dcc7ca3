/*
 * sched.c - the outbox's small pure parts: backoff with jitter, business-hours slots in a time
 * zone, the webhook signature and the check of a callback target (SSRF). Each is a function of
 * its arguments (the zone database aside), so the unit tests pin them down.
 */
#include "sdra/outbox.h"
#include "sdra/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

/* glibc has no per-call time zone: the zone is switched through TZ under this lock, and only
 * for the few conversions below (planning an email, not a hot path). */
static pthread_mutex_t tz_mu = PTHREAD_MUTEX_INITIALIZER;

static bool tz_name_ok(const char *tz)
{
    if (!tz || !*tz || strlen(tz) > 64 || tz[0] == '/' || strstr(tz, ".."))
        return false;
    for (const char *p = tz; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_+-/", *p))
            return false;
    if (!strcmp(tz, "UTC"))
        return true;
    char path[160];
    struct stat sb;
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", tz);
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

int sdra_outbox_next_slot(int64_t now_ms, const char *tz, const sdra_outbox_hours *h, int64_t *out_ms,
                          sdra_error *err)
{
    if (!tz_name_ok(tz))
        return sdra_error_set(err, SDRA_EINVAL, "unknown time zone '%.64s'", tz ? tz : "");
    if (!h || h->start_min < 0 || h->end_min <= h->start_min || h->end_min > 1440 || !(h->days_mask & 0x7f))
        return sdra_error_set(err, SDRA_EINVAL, "business hours are empty");
    pthread_mutex_lock(&tz_mu);
    char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
    setenv("TZ", tz, 1);
    tzset();
    time_t now = (time_t)(now_ms / 1000);
    int64_t best = -1;
    struct tm lt;
    localtime_r(&now, &lt);
    int min = lt.tm_hour * 60 + lt.tm_min;
    if ((h->days_mask & (1u << lt.tm_wday)) && min >= h->start_min && min < h->end_min)
        best = now_ms;
    for (int d = 0; best < 0 && d < 8; d++) {
        struct tm t = lt;
        t.tm_mday += d;
        t.tm_hour = h->start_min / 60;
        t.tm_min = h->start_min % 60;
        t.tm_sec = 0;
        t.tm_isdst = -1;
        time_t cand = mktime(&t);
        struct tm c;
        localtime_r(&cand, &c);
        if (cand != (time_t)-1 && (int64_t)cand * 1000 >= now_ms && (h->days_mask & (1u << c.tm_wday)))
            best = (int64_t)cand * 1000;
    }
    if (old)
        setenv("TZ", old, 1);
    else
        unsetenv("TZ");
    tzset();
    free(old);
    pthread_mutex_unlock(&tz_mu);
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

int sdra_outbox_check_target(const char *url, bool allow_private, sdra_error *err)
{
    const char *rest = NULL;
    if (url && !strncmp(url, "https://", 8))
        rest = url + 8;
    else if (url && !strncmp(url, "http://", 7))
        rest = url + 7;
    if (!rest || strlen(url) > 2000)
        return sdra_error_set(err, SDRA_EINVAL, "callback URL must be http:// or https://");
    size_t n = strcspn(rest, "/?#");
    char host[256];
    if (n == 0 || n >= sizeof host || memchr(rest, '@', n))
        return sdra_error_set(err, SDRA_EINVAL, "callback URL has no host (or has user info)");
    memcpy(host, rest, n);
    host[n] = '\0';
    char *port = NULL;
    if (host[0] == '[') {
        char *end = strchr(host, ']');
        if (!end)
            return sdra_error_set(err, SDRA_EINVAL, "callback URL: bad IPv6 host");
        *end = '\0';
        memmove(host, host + 1, strlen(host + 1) + 1);
    } else if ((port = strchr(host, ':')) != NULL) {
        *port = '\0';
    }
    if (allow_private)
        return 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int g = getaddrinfo(host, NULL, &hints, &res);
    if (g != 0)
        return sdra_error_set(err, SDRA_EINVAL, "callback host '%.100s' does not resolve", host);
    int rc = 0;
    for (struct addrinfo *ai = res; ai && rc == 0; ai = ai->ai_next) {
        bool priv = ai->ai_family == AF_INET
                        ? ip4_private((const unsigned char *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr)
                        : ai->ai_family == AF_INET6 &&
                              ip6_private(((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr.s6_addr);
        if (priv)
            rc = sdra_error_set(err, SDRA_EDENIED,
                                "callback host '%.100s' is a loopback, private or link-local address", host);
    }
    freeaddrinfo(res);
    return rc;
}
