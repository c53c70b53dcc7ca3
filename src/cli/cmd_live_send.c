/*
 * cmd_live_send.c - `sdra live-send FILE --url ws://...`: streams a recording to a live endpoint
 * in the Twilio Media Streams format (mu-law 8 kHz; a stereo file is two tracks, left inbound
 * and right outbound; mono is the inbound track alone) at real time or N times faster, and
 * prints each event the server sends back as one JSON line. A test and demo client: plain
 * ws:// only (put a TLS proxy in front for wss), one connection, the WebSocket codec of
 * sdra/ws.h. Exit status 0 when the server closed with 1000 after `done`.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sdra/audio.h"
#include "sdra/util.h"
#include "sdra/ws.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sdra live-send FILE --url ws://HOST:PORT/v1/live/twilio [options]\n\n"
            "Streams FILE (any audio sdra reads) to a live endpoint in the Twilio Media Streams\n"
            "format: mu-law 8 kHz, 20 ms per message; a stereo file is two tracks (left inbound,\n"
            "right outbound), a mono file the inbound track. Prints each event the server sends\n"
            "back (utterance, alert, metrics, done) as one JSON line (docs/live.md).\n\n"
            "options:\n"
            "  --url URL          ws://HOST:PORT/PATH (plain WebSocket; events=1 is added)\n"
            "  --speed N          N times real time (default 1; 0 = as fast as the socket takes it)\n"
            "  --token T          a stream token (POST /v1/live/tokens), sent in customParameters\n"
            "  --key KEY          an API key sent in the Authorization header (default $SDRA_API_KEY\n"
            "                     when no --token is given)\n"
            "  --call-sid SID     the callSid (default: one made from the time)\n"
            "  --param NAME=VALUE a customParameters entry (repeatable): contact_email, company, ...\n"
            "  --no-stop          end by closing the socket instead of sending stop\n"
            "  -h, --help         this text\n");
}

typedef struct ws_client {
    int fd;
    sdra_ws_parser p;
    bool got_done;
    int close_code;
} ws_client;

static int send_all(int fd, const void *d, size_t n)
{
    const char *b = d;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int ws_send(ws_client *c, int op, const void *data, size_t n)
{
    uint8_t h[14], mask[4];
    randombytes_buf(mask, sizeof mask);
    size_t hn = sdra_ws_frame_header(h, op, true, n, mask);
    uint8_t *buf = malloc(hn + n);
    if (!buf)
        return -1;
    memcpy(buf, h, hn);
    memcpy(buf + hn, data, n);
    sdra_ws_mask(buf + hn, n, mask, 0);
    int rc = send_all(c->fd, buf, hn + n);
    free(buf);
    return rc;
}

/* Reads what has arrived (waiting up to wait_ms) and prints events; -1 once the server closed. */
static int ws_pump(ws_client *c, int wait_ms)
{
    struct pollfd pf = {.fd = c->fd, .events = POLLIN};
    int pr = poll(&pf, 1, wait_ms);
    if (pr <= 0)
        return 0;
    uint8_t buf[16384];
    ssize_t n = recv(c->fd, buf, sizeof buf, 0);
    if (n <= 0)
        return -1;
    if (sdra_ws_parser_push(&c->p, buf, (size_t)n) < 0)
        return -1;
    sdra_ws_msg m;
    int rc;
    while ((rc = sdra_ws_parser_next(&c->p, &m)) == 1) {
        if (m.opcode == SDRA_WS_TEXT) {
            fwrite(m.data, 1, m.len, stdout);
            fputc('\n', stdout);
            fflush(stdout);
            if (strstr((const char *)m.data, "\"event\":\"done\""))
                c->got_done = true;
        } else if (m.opcode == SDRA_WS_PING) {
            ws_send(c, SDRA_WS_PONG, m.data, m.len);
        } else if (m.opcode == SDRA_WS_CLOSE) {
            c->close_code = m.close_code;
            if (m.close_code != SDRA_WS_NORMAL)
                fprintf(stderr, "sdra live-send: the server closed the stream with %d: %.*s\n", m.close_code,
                        (int)m.len, (const char *)m.data);
            return -1;
        }
    }
    if (rc < 0) {
        fprintf(stderr, "sdra live-send: bad frame from the server: %s\n", c->p.reason);
        return -1;
    }
    return 0;
}

/* Connects and upgrades; prints one line and returns -1 on failure. */
static int ws_open(ws_client *c, const char *url, const char *key)
{
    char host[256], port[8] = "80", path[1024];
    if (strncmp(url, "ws://", 5)) {
        fprintf(stderr, "sdra live-send: --url must start with ws:// (use a TLS proxy for wss)\n");
        return -1;
    }
    const char *h = url + 5, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    if (hl == 0 || hl >= sizeof host) {
        fprintf(stderr, "sdra live-send: --url: bad host\n");
        return -1;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *colon = strrchr(host, ':');
    if (colon) {
        *colon = '\0';
        snprintf(port, sizeof port, "%.6s", colon + 1);
    }
    snprintf(path, sizeof path, "%s%sevents=1", slash ? slash : "/", slash && strchr(slash, '?') ? "&" : "?");
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int gr = getaddrinfo(host, port, &hints, &ai);
    if (gr != 0) {
        fprintf(stderr, "sdra live-send: %s: %s\n", host, gai_strerror(gr));
        return -1;
    }
    c->fd = -1;
    for (struct addrinfo *a = ai; a && c->fd < 0; a = a->ai_next) {
        c->fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (c->fd >= 0 && connect(c->fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(c->fd);
            c->fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (c->fd < 0) {
        fprintf(stderr, "sdra live-send: cannot connect to %s:%s: %s\n", host, port, strerror(errno));
        return -1;
    }
    unsigned char nonce[16];
    char wkey[32], req[2048], accept[29];
    randombytes_buf(nonce, sizeof nonce);
    sodium_bin2base64(wkey, sizeof wkey, nonce, sizeof nonce, sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                     path, host, port, wkey, key ? "Authorization: Bearer " : "", key ? key : "", key ? "\r\n" : "");
    if (n >= (int)sizeof req || send_all(c->fd, req, (size_t)n) < 0) {
        fprintf(stderr, "sdra live-send: cannot send the upgrade request\n");
        return -1;
    }
    char resp[8192];
    size_t got = 0;
    char *end = NULL;
    while (!end && got < sizeof resp - 1) {
        ssize_t r = recv(c->fd, resp + got, sizeof resp - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
        resp[got] = '\0';
        end = strstr(resp, "\r\n\r\n");
    }
    if (!end) {
        fprintf(stderr, "sdra live-send: no answer to the upgrade request\n");
        return -1;
    }
    if (strncmp(resp, "HTTP/1.1 101", 12)) {
        char *eol = strstr(resp, "\r\n");
        *eol = '\0';
        fprintf(stderr, "sdra live-send: the server refused the stream: %s %s\n", resp, end + 4);
        return -1;
    }
    sdra_ws_accept_key(wkey, accept);
    if (!strstr(resp, accept)) {
        fprintf(stderr, "sdra live-send: the server's Sec-WebSocket-Accept does not match\n");
        return -1;
    }
    sdra_ws_parser_init(&c->p, false, 1u << 20);
    size_t extra = got - (size_t)(end + 4 - resp);
    if (extra && sdra_ws_parser_push(&c->p, end + 4, extra) < 0)
        return -1;
    return 0;
}

static uint8_t mulaw_encode(int16_t s)
{
    int sign = s < 0 ? 0x80 : 0, x = s < 0 ? -(int)s : s;
    if (x > 32635)
        x = 32635;
    x += 0x84;
    int exp = 7;
    for (int m = 0x4000; !(x & m) && exp > 0; m >>= 1)
        exp--;
    int mant = (x >> (exp + 3)) & 0x0f;
    return (uint8_t)~(sign | exp << 4 | mant);
}

int cmd_live_send(int argc, char **argv)
{
    enum { O_URL = 1, O_SPEED, O_TOKEN, O_KEY, O_SID, O_PARAM, O_NOSTOP };
    static const struct option opts[] = {
        {"url", required_argument, 0, O_URL},   {"speed", required_argument, 0, O_SPEED},
        {"token", required_argument, 0, O_TOKEN}, {"key", required_argument, 0, O_KEY},
        {"call-sid", required_argument, 0, O_SID}, {"param", required_argument, 0, O_PARAM},
        {"no-stop", no_argument, 0, O_NOSTOP},  {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *url = NULL, *token = NULL, *key = NULL;
    char sid[64];
    double speed = 1;
    bool stop = true;
    json_t *params = json_object();
    int ret = SDRA_EXIT_FAIL, c;
    snprintf(sid, sizeof sid, "CA-send-%ld", (long)time(NULL));
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_URL: url = optarg; break;
        case O_SPEED: {
            char *e;
            speed = strtod(optarg, &e);
            if (*e || speed < 0 || speed > 1000) {
                json_decref(params);
                return cli_usage_error("live-send", "--speed wants 0..1000, got '%s'", optarg);
            }
            break;
        }
        case O_TOKEN: token = optarg; break;
        case O_KEY: key = optarg; break;
        case O_SID:
            if (!*optarg || strlen(optarg) >= 64) {
                json_decref(params);
                return cli_usage_error("live-send", "--call-sid wants 1..63 characters");
            }
            snprintf(sid, sizeof sid, "%s", optarg);
            break;
        case O_PARAM: {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                json_decref(params);
                return cli_usage_error("live-send", "--param wants NAME=VALUE, got '%s'", optarg);
            }
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(eq - optarg), optarg);
            json_object_set_new(params, name, json_string(eq + 1));
            break;
        }
        case O_NOSTOP: stop = false; break;
        case 'h': usage(stdout); json_decref(params); return SDRA_EXIT_OK;
        default: json_decref(params); return cli_usage_error("live-send", "bad option");
        }
    }
    if (optind != argc - 1 || !url) {
        json_decref(params);
        return cli_usage_error("live-send", "one FILE and --url are required");
    }
    if (!token && !key)
        key = getenv("SDRA_API_KEY");
    if (token)
        json_object_set_new(params, "token", json_string(token));
    if (sodium_init() < 0) {
        json_decref(params);
        return SDRA_EXIT_FAIL;
    }
    sdra_error err = {0};
    sdra_audio *a = NULL;
    ws_client wc = {.fd = -1};
    sdra_audio_params ap = sdra_audio_default_params();
    ap.rate_hz = 8000;
    if (sdra_audio_open(&a, argv[optind], &ap, &err) < 0) {
        fprintf(stderr, "sdra live-send: %s\n", err.msg);
        goto done;
    }
    int n_ch = sdra_audio_get_info(a)->n_channels >= 2 ? 2 : 1;
    if (ws_open(&wc, url, key) < 0)
        goto done;
    const char *tracks = n_ch == 2 ? "[\"inbound\",\"outbound\"]" : "[\"inbound\"]";
    char *pj = json_dumps(params, JSON_COMPACT);
    char msg[4096];
    int mn = snprintf(msg, sizeof msg,
                      "{\"event\":\"start\",\"sequenceNumber\":\"1\",\"streamSid\":\"MZ%s\",\"start\":{\"streamSid\":"
                      "\"MZ%s\",\"callSid\":\"%s\",\"tracks\":%s,\"customParameters\":%s,\"mediaFormat\":{\"encoding\":"
                      "\"audio/x-mulaw\",\"sampleRate\":8000,\"channels\":1}}}",
                      sid, sid, sid, tracks, pj ? pj : "{}");
    free(pj);
    if (mn >= (int)sizeof msg) {
        fprintf(stderr, "sdra live-send: the call-sheet parameters are too long\n");
        goto done;
    }
    const char *connected = "{\"event\":\"connected\",\"protocol\":\"Call\",\"version\":\"1.0.0\"}";
    if (ws_send(&wc, SDRA_WS_TEXT, connected, strlen(connected)) < 0 || ws_send(&wc, SDRA_WS_TEXT, msg, (size_t)mn) < 0)
        goto sockfail;
    int16_t l[160], r[160];
    int16_t *chans[2] = {l, r};
    double t0 = sdra_clock_s();
    long seq = 2, chunk = 1;
    int64_t sent = 0;
    bool closed = false;
    for (;;) {
        size_t n = 0;
        if (sdra_audio_read(a, chans, NULL, 160, &n, &err) < 0) {
            fprintf(stderr, "sdra live-send: %s\n", err.msg);
            goto done;
        }
        if (n == 0)
            break;
        for (int t = 0; t < n_ch; t++) {
            uint8_t mu[160];
            char b64[240];
            for (size_t i = 0; i < n; i++)
                mu[i] = mulaw_encode(chans[t][i]);
            sodium_bin2base64(b64, sizeof b64, mu, n, sodium_base64_VARIANT_ORIGINAL);
            mn = snprintf(msg, sizeof msg,
                          "{\"event\":\"media\",\"sequenceNumber\":\"%ld\",\"streamSid\":\"MZ%s\",\"media\":{\"track\":"
                          "\"%s\",\"chunk\":\"%ld\",\"timestamp\":\"%lld\",\"payload\":\"%s\"}}",
                          seq++, sid, t ? "outbound" : "inbound", chunk, (long long)(sent / 8), b64);
            if (ws_send(&wc, SDRA_WS_TEXT, msg, (size_t)mn) < 0)
                goto sockfail;
        }
        chunk++;
        sent += (int64_t)n;
        double due = speed > 0 ? t0 + (double)sent / 8000.0 / speed : 0;
        do {
            double wait = due - sdra_clock_s();
            if (ws_pump(&wc, wait > 0 ? (int)(wait * 1000) + 1 : 0) < 0) {
                closed = true;
                break;
            }
        } while (sdra_clock_s() < due);
        if (closed)
            break;
    }
    if (!closed && stop) {
        mn = snprintf(msg, sizeof msg, "{\"event\":\"stop\",\"sequenceNumber\":\"%ld\",\"streamSid\":\"MZ%s\",\"stop\":"
                      "{\"callSid\":\"%s\"}}", seq, sid, sid);
        if (ws_send(&wc, SDRA_WS_TEXT, msg, (size_t)mn) < 0)
            goto sockfail;
        double deadline = sdra_clock_s() + 300;
        while (sdra_clock_s() < deadline && ws_pump(&wc, 500) == 0) {
        }
    } else if (!closed) {
        uint8_t pl[125];
        size_t pn = sdra_ws_close_payload(pl, SDRA_WS_NORMAL, "sender done");
        ws_send(&wc, SDRA_WS_CLOSE, pl, pn);
        wc.got_done = true; /* the call ends on the server after its grace period */
        wc.close_code = SDRA_WS_NORMAL;
    }
    ret = wc.close_code == SDRA_WS_NORMAL && wc.got_done ? SDRA_EXIT_OK : SDRA_EXIT_FAIL;
    if (ret != SDRA_EXIT_OK && !wc.close_code)
        fprintf(stderr, "sdra live-send: the stream ended without a close from the server\n");
    goto done;
sockfail:
    fprintf(stderr, "sdra live-send: the connection failed: %s\n", strerror(errno));
done:
    if (wc.fd >= 0)
        close(wc.fd);
    sdra_ws_parser_release(&wc.p);
    sdra_audio_close(a);
    json_decref(params);
    return ret;
}
