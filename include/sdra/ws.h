/*
 * sdra/ws.h - the WebSocket protocol (RFC 6455) without I/O: the opening handshake's accept
 * key, a push parser of frames into messages, and the frame encoder. The live endpoint
 * (src/server/live_conn.c, docs/live.md) and `sdra live-send` both use it over their own sockets.
 *
 *     sdra_ws_parser p;
 *     sdra_ws_parser_init(&p, true, 1 << 20);    // a server: client frames must be masked
 *     while ((n = read(fd, buf, sizeof buf)) > 0) {
 *         if (sdra_ws_parser_push(&p, buf, n) < 0) ... close with p.close_code
 *         sdra_ws_msg m;
 *         int rc;
 *         while ((rc = sdra_ws_parser_next(&p, &m)) == 1) use(&m);   // m.data borrowed
 *         if (rc < 0) ... send a close frame with p.close_code and p.reason, then close
 *     }
 *     sdra_ws_parser_release(&p);
 *
 * Every protocol violation ends the parse with the close code the RFC asks for: 1002 (a
 * reserved bit or opcode, an unmasked client frame, a fragmented or oversized control frame, a
 * continuation out of place, a bad close payload), 1007 (a text message or close reason that
 * is not UTF-8), 1009 (a message larger than the limit, judged from the frame headers before
 * the payload is buffered). Memory is bounded by the limit plus one read.
 */
#ifndef SDRA_WS_H
#define SDRA_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    SDRA_WS_CONT = 0x0,
    SDRA_WS_TEXT = 0x1,
    SDRA_WS_BINARY = 0x2,
    SDRA_WS_CLOSE = 0x8,
    SDRA_WS_PING = 0x9,
    SDRA_WS_PONG = 0xA,
};

/* Close codes used here (RFC 6455 section 7.4.1). */
enum {
    SDRA_WS_NORMAL = 1000,
    SDRA_WS_GOING_AWAY = 1001,
    SDRA_WS_PROTOCOL_ERROR = 1002,
    SDRA_WS_UNSUPPORTED = 1003,
    SDRA_WS_NO_STATUS = 1005,
    SDRA_WS_BAD_DATA = 1007,
    SDRA_WS_POLICY = 1008,
    SDRA_WS_TOO_BIG = 1009,
    SDRA_WS_INTERNAL = 1011,
    SDRA_WS_TRY_AGAIN = 1013,
};

/* The largest read a caller may push at once (the parser's buffer is the message limit plus
 * this). */
#define SDRA_WS_MAX_PUSH (64u << 10)

typedef struct sdra_ws_msg {
    int opcode;           /* TEXT, BINARY, CLOSE, PING or PONG */
    const uint8_t *data;  /* borrowed until the next call on the parser; NUL-terminated */
    size_t len;
    int close_code;       /* CLOSE: the peer's code, SDRA_WS_NO_STATUS when it sent none */
} sdra_ws_msg;

typedef struct sdra_ws_parser {
    bool server;              /* frames must be masked (a server reading a client) */
    size_t max_message_bytes; /* a message (all its fragments) larger than this is 1009 */
    uint8_t *in;              /* bytes pushed and not parsed yet */
    size_t in_len, in_cap;
    uint8_t *msg;             /* the message being assembled from fragments */
    size_t msg_len, msg_cap;
    int msg_opcode;           /* 0 when no fragmented message is open */
    uint8_t ctl[128];         /* the last control frame's payload */
    size_t consumed;          /* bytes of in already parsed (dropped on the next push) */
    int close_code;           /* after a failure: the code to close with */
    char reason[96];          /* and a one-line reason (sent in the close frame) */
} sdra_ws_parser;

void sdra_ws_parser_init(sdra_ws_parser *p, bool server, size_t max_message_bytes);
void sdra_ws_parser_release(sdra_ws_parser *p);
/* Appends n bytes (n <= SDRA_WS_MAX_PUSH). -1 with close_code 1009 when they would exceed the
 * bound (a caller that drains next() after each push never sees that), or 1011 out of memory. */
int sdra_ws_parser_push(sdra_ws_parser *p, const void *data, size_t n);
/* 1 with the next complete message (control messages come as they arrive, also between the
 * fragments of a data message), 0 when more bytes are needed, -1 on a protocol violation
 * (close_code and reason set; the parser is then done). */
int sdra_ws_parser_next(sdra_ws_parser *p, sdra_ws_msg *out);

/* Writes one frame's header into out (at most 14 bytes) and returns its size. mask: NULL for
 * a server's frame, else the 4 mask bytes of a client's (the caller masks the payload with
 * sdra_ws_mask). */
size_t sdra_ws_frame_header(uint8_t out[14], int opcode, bool fin, uint64_t len, const uint8_t *mask);
/* XORs data with the mask, starting at payload offset off. */
void sdra_ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], size_t off);
/* A close frame's payload: the code, then the reason cut to fit 123 bytes on a UTF-8
 * boundary. Returns its size (at most 125). */
size_t sdra_ws_close_payload(uint8_t out[125], int code, const char *reason);

/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (base64 of SHA-1 of the key and the
 * RFC's GUID): out holds 28 characters and the NUL. */
void sdra_ws_accept_key(const char *client_key, char out[29]);
/* True when a Sec-WebSocket-Key is well formed: base64 of 16 bytes (24 characters). */
bool sdra_ws_key_valid(const char *key);
/* True when s[0..n) is valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). */
bool sdra_ws_utf8_valid(const uint8_t *s, size_t n);

#ifdef __cplusplus
}
#endif
#endif
