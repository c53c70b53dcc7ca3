/* test_ws.c - the WebSocket codec (sdra/ws.h): the handshake key, frames parsed however the
 * bytes are split, fragmentation with control frames between, and the close code of each
 * violation (1002 protocol, 1007 bad UTF-8, 1009 too big). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "sdra/ws.h"

static const uint8_t mask4[4] = {0x37, 0xfa, 0x21, 0x3d};

/* A client frame (masked) of payload d into out; returns its size. */
static size_t client_frame(uint8_t *out, int op, bool fin, const void *d, size_t n)
{
    size_t h = sdra_ws_frame_header(out, op, fin, n, mask4);
    memcpy(out + h, d, n);
    sdra_ws_mask(out + h, n, mask4, 0);
    return h + n;
}

static void ws_accept_key_matches_rfc(void **state)
{
    (void)state;
    char out[29];
    sdra_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_true(sdra_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=="));
    assert_false(sdra_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ="));
    assert_false(sdra_ws_key_valid("dGhlIHNhbXBsZSBub25j!Q=="));
    assert_false(sdra_ws_key_valid(NULL));
}

static void ws_parses_rfc_masked_frame_byte_by_byte(void **state)
{
    (void)state;
    /* RFC 6455 5.7: a single-frame masked text message "Hello" */
    const uint8_t f[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    sdra_ws_parser p;
    sdra_ws_parser_init(&p, true, 1024);
    sdra_ws_msg m;
    for (size_t i = 0; i < sizeof f - 1; i++) {
        assert_int_equal(sdra_ws_parser_push(&p, f + i, 1), 0);
        assert_int_equal(sdra_ws_parser_next(&p, &m), 0);
    }
    assert_int_equal(sdra_ws_parser_push(&p, f + sizeof f - 1, 1), 0);
    assert_int_equal(sdra_ws_parser_next(&p, &m), 1);
    assert_int_equal(m.opcode, SDRA_WS_TEXT);
    assert_int_equal(m.len, 5);
    assert_memory_equal(m.data, "Hello", 5);
    assert_int_equal(sdra_ws_parser_next(&p, &m), 0);
    sdra_ws_parser_release(&p);
}

static void ws_fragments_with_ping_between(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t n = client_frame(buf, SDRA_WS_TEXT, false, "Hel", 3);
    n += client_frame(buf + n, SDRA_WS_PING, true, "hb", 2);
    n += client_frame(buf + n, SDRA_WS_CONT, true, "lo", 2);
    uint8_t big[300];
    memset(big, 0xab, sizeof big);
    n += client_frame(buf + n, SDRA_WS_BINARY, true, big, sizeof big); /* a 16-bit length */
    sdra_ws_parser p;
    sdra_ws_parser_init(&p, true, 1024);
    assert_int_equal(sdra_ws_parser_push(&p, buf, n), 0);
    sdra_ws_msg m;
    assert_int_equal(sdra_ws_parser_next(&p, &m), 1);
    assert_int_equal(m.opcode, SDRA_WS_PING);
    assert_memory_equal(m.data, "hb", 2);
    assert_int_equal(sdra_ws_parser_next(&p, &m), 1);
    assert_int_equal(m.opcode, SDRA_WS_TEXT);
    assert_int_equal(m.len, 5);
    assert_string_equal((const char *)m.data, "Hello");
    assert_int_equal(sdra_ws_parser_next(&p, &m), 1);
    assert_int_equal(m.opcode, SDRA_WS_BINARY);
    assert_int_equal(m.len, 300);
    assert_memory_equal(m.data, big, 300);
    assert_int_equal(sdra_ws_parser_next(&p, &m), 0);
    sdra_ws_parser_release(&p);
}

/* Parses raw bytes with a server parser; returns the close code of the failure (0 when none). */
static int close_code_of(const uint8_t *b, size_t n, size_t limit)
{
    sdra_ws_parser p;
    sdra_ws_parser_init(&p, true, limit);
    sdra_ws_msg m;
    int rc = sdra_ws_parser_push(&p, b, n);
    while (rc == 0 && (rc = sdra_ws_parser_next(&p, &m)) == 1)
        rc = 0 * (int)m.len;
    int code = rc < 0 ? p.close_code : 0;
    if (rc < 0)
        assert_true(p.reason[0] != '\0');
    sdra_ws_parser_release(&p);
    return code;
}

static void ws_violations_get_their_close_codes(void **state)
{
    (void)state;
    uint8_t b[256];
    /* unmasked client frame */
    const uint8_t unmasked[] = {0x81, 0x02, 'h', 'i'};
    assert_int_equal(close_code_of(unmasked, sizeof unmasked, 1024), SDRA_WS_PROTOCOL_ERROR);
    /* a reserved bit */
    size_t n = client_frame(b, SDRA_WS_TEXT, true, "hi", 2);
    b[0] |= 0x40;
    assert_int_equal(close_code_of(b, n, 1024), SDRA_WS_PROTOCOL_ERROR);
    /* a reserved opcode */
    n = client_frame(b, 0x3, true, "hi", 2);
    assert_int_equal(close_code_of(b, n, 1024), SDRA_WS_PROTOCOL_ERROR);
    /* a fragmented ping */
    n = client_frame(b, SDRA_WS_PING, false, "hi", 2);
    assert_int_equal(close_code_of(b, n, 1024), SDRA_WS_PROTOCOL_ERROR);
    /* a continuation without a message */
    n = client_frame(b, SDRA_WS_CONT, true, "hi", 2);
    assert_int_equal(close_code_of(b, n, 1024), SDRA_WS_PROTOCOL_ERROR);
    /* a new message inside a fragmented one */
    n = client_frame(b, SDRA_WS_TEXT, false, "a", 1);
    n += client_frame(b + n, SDRA_WS_TEXT, true, "b", 1);
    assert_int_equal(close_code_of(b, n, 1024), SDRA_WS_PROTOCOL_ERROR);
    /* text that is not UTF-8 (a lone continuation byte; an encoded surrogate) */
    n = client_frame(b, SDRA_WS_TEXT, true, "a\x80", 2);
    assert_int_equal(close_code_of(b, n, 1024), SDRA_WS_BAD_DATA);
    n = client_frame(b, SDRA_WS_TEXT, true, "\xed\xa0\x80", 3);
    assert_int_equal(close_code_of(b, n, 1024), SDRA_WS_BAD_DATA);
    /* binary data is not checked */
    n = client_frame(b, SDRA_WS_BINARY, true, "a\x80", 2);
    assert_int_equal(close_code_of(b, n, 1024), 0);
    /* a close with a 1-byte payload, with a reserved code, with a bad reason */
    n = client_frame(b, SDRA_WS_CLOSE, true, "\x03", 1);
    assert_int_equal(close_code_of(b, n, 1024), SDRA_WS_PROTOCOL_ERROR);
    n = client_frame(b, SDRA_WS_CLOSE, true, "\x03\xed", 2); /* 1005 may not be sent */
    assert_int_equal(close_code_of(b, n, 1024), SDRA_WS_PROTOCOL_ERROR);
    n = client_frame(b, SDRA_WS_CLOSE, true, "\x03\xe8\xff", 3);
    assert_int_equal(close_code_of(b, n, 1024), SDRA_WS_BAD_DATA);
}

static void ws_too_big_is_judged_from_the_header(void **state)
{
    (void)state;
    uint8_t h[14];
    /* only the header of a 1 MB frame: refused before any payload is buffered */
    size_t n = sdra_ws_frame_header(h, SDRA_WS_BINARY, true, 1u << 20, mask4);
    assert_int_equal(close_code_of(h, n, 4096), SDRA_WS_TOO_BIG);
    /* fragments that add up past the limit */
    uint8_t b[5000], part[3000];
    memset(part, 'x', sizeof part);
    n = client_frame(b, SDRA_WS_BINARY, false, part, 3000);
    size_t n2 = sdra_ws_frame_header(b + n, SDRA_WS_CONT, true, 2000, mask4);
    assert_int_equal(close_code_of(b, n + n2, 4096), SDRA_WS_TOO_BIG);
    /* a 64-bit length with the top bit set */
    const uint8_t huge[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};
    assert_int_equal(close_code_of(huge, sizeof huge, 4096), SDRA_WS_PROTOCOL_ERROR);
}

static void ws_close_is_parsed_and_payload_cut_on_a_boundary(void **state)
{
    (void)state;
    uint8_t pl[125], b[256];
    size_t pn = sdra_ws_close_payload(pl, 1008, "policy");
    size_t n = client_frame(b, SDRA_WS_CLOSE, true, pl, pn);
    sdra_ws_parser p;
    sdra_ws_parser_init(&p, true, 1024);
    sdra_ws_msg m;
    assert_int_equal(sdra_ws_parser_push(&p, b, n), 0);
    assert_int_equal(sdra_ws_parser_next(&p, &m), 1);
    assert_int_equal(m.opcode, SDRA_WS_CLOSE);
    assert_int_equal(m.close_code, 1008);
    assert_int_equal(m.len, 6);
    assert_memory_equal(m.data, "policy", 6);
    sdra_ws_parser_release(&p);
    /* a long reason of 2-byte characters is cut to 123 bytes or fewer, never mid-character */
    char reason[300] = "";
    for (int i = 0; i < 100; i++)
        strcat(reason, "\xc3\xa9");
    pn = sdra_ws_close_payload(pl, 1000, reason);
    assert_true(pn <= 125);
    assert_int_equal((pn - 2) % 2, 0);
    assert_true(sdra_ws_utf8_valid(pl + 2, pn - 2));
}

static void ws_server_frames_parse_on_the_client_side(void **state)
{
    (void)state;
    /* a server frame (unmasked) with a 64-bit length, read by a client parser */
    size_t len = 70000;
    uint8_t *b = malloc(len + 14);
    assert_non_null(b);
    size_t h = sdra_ws_frame_header(b, SDRA_WS_BINARY, true, len, NULL);
    assert_int_equal(h, 10);
    memset(b + h, 7, len);
    sdra_ws_parser p;
    sdra_ws_parser_init(&p, false, 1u << 20);
    sdra_ws_msg m;
    size_t off = 0;
    int rc = 0;
    while (off < h + len) {
        size_t k = h + len - off < SDRA_WS_MAX_PUSH ? h + len - off : SDRA_WS_MAX_PUSH;
        assert_int_equal(sdra_ws_parser_push(&p, b + off, k), 0);
        off += k;
        rc = sdra_ws_parser_next(&p, &m);
        if (rc)
            break;
    }
    assert_int_equal(rc, 1);
    assert_int_equal(m.len, len);
    assert_int_equal(m.data[len - 1], 7);
    sdra_ws_parser_release(&p);
    /* a masked frame is a protocol error for a client */
    uint8_t c[16];
    size_t n = client_frame(c, SDRA_WS_TEXT, true, "hi", 2);
    sdra_ws_parser_init(&p, false, 1024);
    assert_int_equal(sdra_ws_parser_push(&p, c, n), 0);
    assert_int_equal(sdra_ws_parser_next(&p, &m), -1);
    assert_int_equal(p.close_code, SDRA_WS_PROTOCOL_ERROR);
    sdra_ws_parser_release(&p);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ws_accept_key_matches_rfc),
        cmocka_unit_test(ws_parses_rfc_masked_frame_byte_by_byte),
        cmocka_unit_test(ws_fragments_with_ping_between),
        cmocka_unit_test(ws_violations_get_their_close_codes),
        cmocka_unit_test(ws_too_big_is_judged_from_the_header),
        cmocka_unit_test(ws_close_is_parsed_and_payload_cut_on_a_boundary),
        cmocka_unit_test(ws_server_frames_parse_on_the_client_side),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
