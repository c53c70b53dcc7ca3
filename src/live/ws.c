/*
 * ws.c - the WebSocket protocol (RFC 6455) without I/O (sdra/ws.h): the handshake's accept
 * key (SHA-1 and base64, small enough to keep here rather than pull a TLS library into the
 * module), the frame parser and the encoder. The parser keeps the unparsed bytes and the
 * fragments of the open message, both bounded by the message limit; every violation it finds
 * ends it with the RFC's close code and a reason the peer is sent.
 */
#include "sdra/ws.h"
#include "sdra/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- SHA-1 (FIPS 180-4), for the accept key only ------------------------------------- */

typedef struct sha1 {
    uint32_t h[5];
    uint8_t blk[64];
    size_t n;
    uint64_t bits;
} sha1;

static uint32_t rol(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

static void sha1_block(sha1 *s, const uint8_t *b)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 | (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = s->h[0], bb = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20)
            f = (bb & c) | (~bb & d), k = 0x5A827999;
        else if (i < 40)
            f = bb ^ c ^ d, k = 0x6ED9EBA1;
        else if (i < 60)
            f = (bb & c) | (bb & d) | (c & d), k = 0x8F1BBCDC;
        else
            f = bb ^ c ^ d, k = 0xCA62C1D6;
        uint32_t t = rol(a, 5) + f + e + k + w[i];
        e = d, d = c, c = rol(bb, 30), bb = a, a = t;
    }
    s->h[0] += a, s->h[1] += bb, s->h[2] += c, s->h[3] += d, s->h[4] += e;
}

static void sha1_update(sha1 *s, const void *data, size_t n)
{
    const uint8_t *p = data;
    s->bits += (uint64_t)n * 8;
    while (n--) {
        s->blk[s->n++] = *p++;
        if (s->n == 64) {
            sha1_block(s, s->blk);
            s->n = 0;
        }
    }
}

static void sha1_digest(const void *data, size_t n, uint8_t out[20])
{
    sha1 s = {.h = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0}};
    sha1_update(&s, data, n);
    uint64_t bits = s.bits;
    uint8_t pad = 0x80, zero = 0, len[8];
    sha1_update(&s, &pad, 1);
    while (s.n != 56)
        sha1_update(&s, &zero, 1);
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha1_update(&s, len, 8);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++)
            out[4 * i + j] = (uint8_t)(s.h[i] >> (24 - 8 * j));
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void sdra_ws_accept_key(const char *client_key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char buf[128];
    int n = snprintf(buf, sizeof buf, "%.60s%s", client_key ? client_key : "", guid);
    uint8_t d[20];
    sha1_digest(buf, (size_t)n, d);
    char *o = out;
    for (int i = 0; i < 20; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < 20 ? (uint32_t)d[i + 1] << 8 : 0) | (i + 2 < 20 ? d[i + 2] : 0);
        *o++ = b64[v >> 18 & 63];
        *o++ = b64[v >> 12 & 63];
        *o++ = i + 1 < 20 ? b64[v >> 6 & 63] : '=';
        *o++ = i + 2 < 20 ? b64[v & 63] : '=';
    }
    *o = '\0';
}

bool sdra_ws_key_valid(const char *key)
{
    if (!key || strlen(key) != 24 || strcmp(key + 22, "=="))
        return false;
    for (int i = 0; i < 22; i++)
        if (!strchr(b64, key[i]) || !key[i])
            return false;
    return strchr("AQgw", key[21]) != NULL; /* the last character's low bits must be zero */
}

/* ---- UTF-8 ------------------------------------------------------------------------------ */

bool sdra_ws_utf8_valid(const uint8_t *p, size_t n)
{
    for (size_t i = 0, k; i < n; i += k)
        if (!(k = sdra_utf8_decode((const char *)p + i, n - i, NULL)))
            return false;
    return true;
}

/* ---- parser ----------------------------------------------------------------------------- */

void sdra_ws_parser_init(sdra_ws_parser *p, bool server, size_t max_message_bytes)
{
    memset(p, 0, sizeof *p);
    p->server = server;
    p->max_message_bytes = max_message_bytes ? max_message_bytes : (1u << 20);
}

void sdra_ws_parser_release(sdra_ws_parser *p)
{
    if (!p)
        return;
    free(p->in);
    free(p->msg);
    p->in = p->msg = NULL;
    p->in_len = p->in_cap = p->msg_len = p->msg_cap = 0;
}

static int fail(sdra_ws_parser *p, int code, const char *reason)
{
    p->close_code = code;
    snprintf(p->reason, sizeof p->reason, "%s", reason);
    return -1;
}

int sdra_ws_parser_push(sdra_ws_parser *p, const void *data, size_t n)
{
    if (p->close_code)
        return -1;
    if (p->consumed) {
        memmove(p->in, p->in + p->consumed, p->in_len - p->consumed);
        p->in_len -= p->consumed;
        p->consumed = 0;
    }
    size_t bound = p->max_message_bytes + SDRA_WS_MAX_PUSH + 14;
    if (n > bound - p->in_len)
        return fail(p, SDRA_WS_TOO_BIG, "message too big");
    if (p->in_len + n > p->in_cap) {
        size_t cap = p->in_cap ? p->in_cap : 4096;
        while (cap < p->in_len + n)
            cap *= 2;
        if (cap > bound)
            cap = bound;
        uint8_t *g = realloc(p->in, cap);
        if (!g)
            return fail(p, SDRA_WS_INTERNAL, "out of memory");
        p->in = g;
        p->in_cap = cap;
    }
    memcpy(p->in + p->in_len, data, n);
    p->in_len += n;
    return 0;
}

static bool close_code_valid(int c)
{
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

static int msg_append(sdra_ws_parser *p, const uint8_t *d, size_t n)
{
    if (p->msg_len + n + 1 > p->msg_cap) {
        size_t cap = p->msg_cap ? p->msg_cap : 1024;
        while (cap < p->msg_len + n + 1)
            cap *= 2;
        uint8_t *g = realloc(p->msg, cap);
        if (!g)
            return fail(p, SDRA_WS_INTERNAL, "out of memory");
        p->msg = g;
        p->msg_cap = cap;
    }
    memcpy(p->msg + p->msg_len, d, n);
    p->msg_len += n;
    p->msg[p->msg_len] = '\0';
    return 0;
}

int sdra_ws_parser_next(sdra_ws_parser *p, sdra_ws_msg *out)
{
    memset(out, 0, sizeof *out);
    if (p->close_code)
        return -1;
    for (;;) {
        uint8_t *b = p->in + p->consumed;
        size_t avail = p->in_len - p->consumed;
        if (avail < 2)
            return 0;
        bool fin = b[0] & 0x80, masked = b[1] & 0x80;
        int op = b[0] & 0x0f;
        if (b[0] & 0x70)
            return fail(p, SDRA_WS_PROTOCOL_ERROR, "reserved bits set (no extension was negotiated)");
        if (!(op <= 2 || (op >= 8 && op <= 10)))
            return fail(p, SDRA_WS_PROTOCOL_ERROR, "reserved opcode");
        if (p->server && !masked)
            return fail(p, SDRA_WS_PROTOCOL_ERROR, "client frames must be masked");
        if (!p->server && masked)
            return fail(p, SDRA_WS_PROTOCOL_ERROR, "server frames must not be masked");
        size_t hdr = 2;
        uint64_t len = b[1] & 0x7f;
        if (len == 126) {
            if (avail < 4)
                return 0;
            len = (uint64_t)b[2] << 8 | b[3];
            hdr = 4;
        } else if (len == 127) {
            if (avail < 10)
                return 0;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | b[2 + i];
            if (len >> 63)
                return fail(p, SDRA_WS_PROTOCOL_ERROR, "frame length has its top bit set");
            hdr = 10;
        }
        bool control = op >= 8;
        if (control && !fin)
            return fail(p, SDRA_WS_PROTOCOL_ERROR, "fragmented control frame");
        if (control && len > 125)
            return fail(p, SDRA_WS_PROTOCOL_ERROR, "control frame longer than 125 bytes");
        if (!control) {
            if (op == SDRA_WS_CONT && !p->msg_opcode)
                return fail(p, SDRA_WS_PROTOCOL_ERROR, "continuation frame without a message");
            if (op != SDRA_WS_CONT && p->msg_opcode)
                return fail(p, SDRA_WS_PROTOCOL_ERROR, "new message before the fragmented one ended");
            uint64_t so_far = op == SDRA_WS_CONT ? p->msg_len : 0;
            if (len > p->max_message_bytes || so_far + len > p->max_message_bytes)
                return fail(p, SDRA_WS_TOO_BIG, "message larger than the limit");
        }
        if (masked)
            hdr += 4;
        if (avail < hdr + len)
            return 0;
        uint8_t *payload = b + hdr;
        if (masked)
            sdra_ws_mask(payload, (size_t)len, b + hdr - 4, 0);
        p->consumed += hdr + (size_t)len;
        if (control) {
            memcpy(p->ctl, payload, (size_t)len);
            p->ctl[len] = '\0';
            out->opcode = op;
            out->data = p->ctl;
            out->len = (size_t)len;
            if (op == SDRA_WS_CLOSE) {
                out->close_code = SDRA_WS_NO_STATUS;
                if (len == 1)
                    return fail(p, SDRA_WS_PROTOCOL_ERROR, "close frame with a 1-byte payload");
                if (len >= 2) {
                    out->close_code = p->ctl[0] << 8 | p->ctl[1];
                    if (!close_code_valid(out->close_code))
                        return fail(p, SDRA_WS_PROTOCOL_ERROR, "invalid close code");
                    if (!sdra_ws_utf8_valid(p->ctl + 2, (size_t)len - 2))
                        return fail(p, SDRA_WS_BAD_DATA, "close reason is not UTF-8");
                    out->data = p->ctl + 2;
                    out->len = (size_t)len - 2;
                }
            }
            return 1;
        }
        if (op != SDRA_WS_CONT) {
            p->msg_opcode = op;
            p->msg_len = 0;
        }
        if (msg_append(p, payload, (size_t)len) < 0)
            return -1;
        if (!fin)
            continue;
        int mop = p->msg_opcode;
        p->msg_opcode = 0;
        if (mop == SDRA_WS_TEXT && !sdra_ws_utf8_valid(p->msg, p->msg_len))
            return fail(p, SDRA_WS_BAD_DATA, "text message is not UTF-8");
        out->opcode = mop;
        out->data = p->msg;
        out->len = p->msg_len;
        return 1;
    }
}

/* ---- encoder ---------------------------------------------------------------------------- */

size_t sdra_ws_frame_header(uint8_t out[14], int opcode, bool fin, uint64_t len, const uint8_t *mask)
{
    size_t n = 0;
    out[n++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
    uint8_t m = mask ? 0x80 : 0;
    if (len < 126) {
        out[n++] = (uint8_t)(m | len);
    } else if (len <= 0xffff) {
        out[n++] = m | 126;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = m | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (uint8_t)(len >> (8 * i));
    }
    if (mask) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

void sdra_ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], size_t off)
{
    for (size_t i = 0; i < len; i++)
        data[i] ^= mask[(i + off) & 3];
}

size_t sdra_ws_close_payload(uint8_t out[125], int code, const char *reason)
{
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    size_t n = reason ? strlen(reason) : 0;
    if (n > 123)
        n = 123;
    while (n && !sdra_ws_utf8_valid((const uint8_t *)reason, n))
        n--; /* cut on a character boundary */
    memcpy(out + 2, reason, n);
    return n + 2;
}
