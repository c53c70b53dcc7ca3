/* test_mime.c - the MIME writer pieces: quoted-printable (line length, trailing white space,
 * round trip), base64, unstructured headers (folding at 78, RFC 2047 encoded words for
 * non-ASCII, never splitting a UTF-8 sequence), address headers, the Date format. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/internal.h"

static int hexv(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes QP (CRLF lines) back to text with LF line ends. */
static char *qp_decode(const char *s)
{
    char *o = malloc(strlen(s) + 1), *d = o;
    while (*s) {
        if (s[0] == '=' && s[1] == '\r' && s[2] == '\n') {
            s += 3;
        } else if (s[0] == '=') {
            assert_true(hexv(s[1]) >= 0 && hexv(s[2]) >= 0);
            *d++ = (char)(hexv(s[1]) * 16 + hexv(s[2]));
            s += 3;
        } else if (s[0] == '\r' && s[1] == '\n') {
            *d++ = '\n';
            s += 2;
        } else {
            assert_true(*s != '\r' && *s != '\n');
            *d++ = *s++;
        }
    }
    *d = 0;
    return o;
}

static size_t b64_decode(const char *s, unsigned char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned v = 0;
    int bits = 0;
    size_t n = 0;
    for (; *s; s++) {
        const char *p = strchr(tab, *s);
        if (!p || *s == 0)
            continue;
        v = (v << 6) | (unsigned)(p - tab);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(v >> bits);
        }
    }
    return n;
}

/* Every line of s (CRLF-separated) is at most max octets and there is no bare LF or CR. */
static void check_lines(const char *s, size_t max)
{
    size_t col = 0;
    for (const char *p = s; *p; p++) {
        if (p[0] == '\r') {
            assert_int_equal(p[1], '\n');
            col = 0;
            p++;
            continue;
        }
        assert_true(*p != '\n');
        col++;
        if (col > max)
            fail_msg("line longer than %zu octets in:\n%s", max, s);
    }
}

static void mime_qp_roundtrip_and_line_length(void **state)
{
    (void)state;
    const char *cases[] = {
        "plain text\n",
        "a=b and trailing space \nand tab\t\n",
        "Zo\xc3\xab and caf\xc3\xa9 \xe2\x80\x94 na\xc3\xafve\n",
        "a very long line that goes on and on and on and on and on and on and on and on and on and on and on and on and on\n",
        "=================================================================================================\n",
        "no final newline",
        "\n\n\nblank lines\n",
        "crlf\r\nin input\r\n",
        "From the top\nFrom here\n",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sdra_buf b;
        sdra_buf_init(&b, 1 << 16);
        assert_int_equal(sdra_mime_qp_encode(&b, cases[i], strlen(cases[i])), 0);
        check_lines(b.data, 76);
        /* only printable ASCII in the output */
        for (const char *p = b.data; *p; p++)
            assert_true((*p >= 32 && *p < 127) || *p == '\r' || *p == '\n');
        /* no line ends in white space */
        for (const char *p = b.data; *p; p++)
            if (p[0] == '\r')
                assert_true(p == b.data || (p[-1] != ' ' && p[-1] != '\t'));
        char *dec = qp_decode(b.data);
        /* CRLF input decodes to LF; a text without a final newline gets one */
        char want[512];
        size_t j = 0;
        for (const char *p = cases[i]; *p; p++)
            if (*p != '\r')
                want[j++] = *p;
        if (j && want[j - 1] != '\n')
            want[j++] = '\n';
        want[j] = 0;
        assert_string_equal(dec, want);
        free(dec);
        sdra_buf_release(&b);
    }
    sdra_buf b;
    sdra_buf_init(&b, 1024);
    sdra_mime_qp_encode(&b, "x = 1 \n", 7);
    assert_string_equal(b.data, "x =3D 1=20\r\n");
    sdra_buf_reset(&b);
    sdra_mime_qp_encode(&b, "From me\n", 8);
    assert_string_equal(b.data, "=46rom me\r\n");
    sdra_buf_release(&b);
    sdra_buf_init(&b, 10);
    assert_int_equal(sdra_mime_qp_encode(&b, "0123456789abcdef\n", 17), SDRA_ELIMIT);
    sdra_buf_release(&b);
}

static void mime_base64_vectors(void **state)
{
    (void)state;
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *out[] = {"", "Zg==\r\n", "Zm8=\r\n", "Zm9v\r\n", "Zm9vYg==\r\n", "Zm9vYmE=\r\n",
                         "Zm9vYmFy\r\n"};
    for (int i = 0; i < 7; i++) {
        sdra_buf b;
        sdra_buf_init(&b, 1024);
        assert_int_equal(sdra_mime_base64(&b, in[i], strlen(in[i])), 0);
        assert_string_equal(b.data ? b.data : "", out[i]);
        sdra_buf_release(&b);
    }
    unsigned char data[1000], back[1000];
    for (int i = 0; i < 1000; i++)
        data[i] = (unsigned char)(i * 7);
    sdra_buf b;
    sdra_buf_init(&b, 1 << 16);
    assert_int_equal(sdra_mime_base64(&b, data, sizeof data), 0);
    check_lines(b.data, 76);
    assert_int_equal(b64_decode(b.data, back), 1000);
    assert_memory_equal(back, data, 1000);
    sdra_buf_release(&b);
}

/* Decodes an unstructured header value (unfolded) with B encoded words back to UTF-8. */
static char *header_value_decode(const char *hdr)
{
    const char *v = strchr(hdr, ':') + 1;
    char *o = calloc(1, strlen(hdr) + 1), *d = o;
    int prev_ew = 0;
    size_t lit_ws = 0;
    while (*v) {
        if (v[0] == '\r' && v[1] == '\n' && v[2] == ' ') {
            v += 2; /* unfold: CRLF removed, the space stays */
            continue;
        }
        if (v[0] == '\r')
            break;
        if (!strncmp(v, "=?UTF-8?B?", 10)) {
            const char *end = strstr(v + 10, "?=");
            assert_non_null(end);
            char tmp[200];
            memcpy(tmp, v + 10, (size_t)(end - v - 10));
            tmp[end - v - 10] = 0;
            /* literal white space between adjacent encoded words is dropped */
            if (prev_ew)
                d -= lit_ws;
            d += b64_decode(tmp, (unsigned char *)d);
            v = end + 2;
            prev_ew = 1;
            lit_ws = 0;
            continue;
        }
        if (*v != ' ')
            prev_ew = 0;
        lit_ws = *v == ' ' ? lit_ws + 1 : 0;
        *d++ = *v++;
    }
    *d = 0;
    char *s = o;
    while (*s == ' ')
        s++;
    memmove(o, s, strlen(s) + 1);
    return o;
}

static void mime_header_folding_and_encoding(void **state)
{
    (void)state;
    sdra_buf b;
    sdra_buf_init(&b, 1 << 16);
    assert_int_equal(sdra_mime_header_text(&b, "Subject", "Next steps"), 0);
    assert_string_equal(b.data, "Subject: Next steps\r\n");

    const char *long_ascii = "Following up on our conversation about the rollout plan, the security "
                             "review, the pricing proposal and the next meeting with your team";
    sdra_buf_reset(&b);
    assert_int_equal(sdra_mime_header_text(&b, "Subject", long_ascii), 0);
    check_lines(b.data, 78);
    assert_non_null(strstr(b.data, "\r\n "));
    char *dec = header_value_decode(b.data);
    assert_string_equal(dec, long_ascii);
    free(dec);

    const char *utf = "R\xc3\xa9sum\xc3\xa9 of our call with Zo\xc3\xab \xe2\x80\x94 "
                      "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad"
                      "\xe3\x82\xb9\xe3\x83\x88 and a lot more words to force several encoded "
                      "words onto more than one line";
    sdra_buf_reset(&b);
    assert_int_equal(sdra_mime_header_text(&b, "Subject", utf), 0);
    check_lines(b.data, 78);
    for (const char *p = b.data; *p; p++)
        assert_true((unsigned char)*p < 128);
    /* each encoded word at most 75 characters */
    for (const char *p = strstr(b.data, "=?"); p; p = strstr(p + 2, "=?")) {
        const char *e = strstr(p + 10, "?=");
        assert_true(e - p + 2 <= 75);
        p = e;
    }
    dec = header_value_decode(b.data);
    assert_string_equal(dec, utf);
    free(dec);

    /* a value that looks like an encoded word is encoded itself */
    sdra_buf_reset(&b);
    sdra_mime_header_text(&b, "Subject", "=?UTF-8?B?eA==?=");
    dec = header_value_decode(b.data);
    assert_string_equal(dec, "=?UTF-8?B?eA==?=");
    free(dec);
    /* control characters are never written raw */
    sdra_buf_reset(&b);
    sdra_mime_header_text(&b, "Subject", "a\r\nBcc: x@y");
    assert_null(strstr(b.data, "\r\nBcc"));
    sdra_buf_release(&b);
}

static void mime_address_headers(void **state)
{
    (void)state;
    sdra_buf b;
    sdra_buf_init(&b, 4096);
    assert_int_equal(sdra_mime_header_address(&b, "To", "Jordan Lee", "jordan@example.com"), 0);
    assert_string_equal(b.data, "To: Jordan Lee <jordan@example.com>\r\n");
    sdra_buf_reset(&b);
    sdra_mime_header_address(&b, "To", "Lee, Jordan \"JJ\"", "j@example.com");
    assert_string_equal(b.data, "To: \"Lee, Jordan \\\"JJ\\\"\" <j@example.com>\r\n");
    sdra_buf_reset(&b);
    sdra_mime_header_address(&b, "From", NULL, "a@b.example");
    assert_string_equal(b.data, "From: a@b.example\r\n");
    sdra_buf_reset(&b);
    sdra_mime_header_address(&b, "To", "Zo\xc3\xab M\xc3\xbcller", "zoe@example.de");
    assert_string_equal(b.data, "To: =?UTF-8?B?Wm/DqyBNw7xsbGVy?= <zoe@example.de>\r\n");
    sdra_buf_reset(&b);
    assert_int_equal(sdra_mime_header_address(&b, "To", "x", "not an address"), SDRA_EINVAL);
    assert_int_equal(sdra_mime_header_address(&b, "To", "x", "a@b@c"), SDRA_EINVAL);
    assert_int_equal(sdra_mime_header_address(&b, "To", "x", "a>b@c.d"), SDRA_EINVAL);
    assert_int_equal(sdra_mime_header_address(&b, "To", "x", "caf\xc3\xa9@c.d"), SDRA_EINVAL);
    assert_true(sdra_mime_addr_ok("first.last+tag@sub.example.org"));
    assert_false(sdra_mime_addr_ok("@example.org"));
    assert_false(sdra_mime_addr_ok("x@"));
    sdra_buf_release(&b);
}

static void mime_date_and_hash(void **state)
{
    (void)state;
    char d[40];
    sdra_mime_date(d, 1795532400);
    assert_string_equal(d, "Tue, 24 Nov 2026 15:00:00 +0000");
    sdra_mime_date(d, 0);
    assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 +0000");
    assert_true(sdra_mime_hash("call-1", 0) == sdra_mime_hash("call-1", 0));
    assert_true(sdra_mime_hash("call-1", 0) != sdra_mime_hash("call-2", 0));
    assert_true(sdra_mime_hash("call-1", 0) != sdra_mime_hash("call-1", 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mime_qp_roundtrip_and_line_length),
        cmocka_unit_test(mime_base64_vectors),
        cmocka_unit_test(mime_header_folding_and_encoding),
        cmocka_unit_test(mime_address_headers),
        cmocka_unit_test(mime_date_and_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
