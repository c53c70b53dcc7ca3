/* test_contract.c - the object store contract every backend must pass (sdra/blob.h): round
 * trips from files and streams, replacement, ranged reads, head, delete, delete by prefix,
 * key checks, a large object (multipart on S3) streamed with bounded memory, and a failing
 * source or sink leaving the old object as it was. The local backend always runs; the S3
 * backend runs when SDRA_TEST_S3_URL names a bucket on a server the caller started
 * (tests/integration/blob_s3.sh starts s3rver and runs this binary with it). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sdra/blob.h"
#include "sdra/util.h"

static const char *g_location; /* the backend under test */
static char g_tmp[900];
static int64_t g_big_bytes = 20 << 20;

static sdra_blob *open_blob(void)
{
    sdra_blob *b = NULL;
    sdra_error err = {0};
    int rc = sdra_blob_open(&b, g_location, &err);
    if (rc < 0)
        fail_msg("open %s: %s", g_location, err.msg);
    return b;
}

/* A deterministic byte stream (xorshift), so that big objects are checked without holding
 * them: the source and the checking sink generate the same bytes. */
typedef struct gen {
    uint64_t state;
    int64_t left;      /* bytes still to produce */
    int64_t fail_at;   /* the source fails once this many bytes were produced (-1: never) */
    int64_t produced;
} gen;

static unsigned char gen_byte(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (unsigned char)(*s >> 24);
}

static long gen_read(void *ud, char *buf, size_t n)
{
    gen *g = ud;
    if (g->fail_at >= 0 && g->produced >= g->fail_at)
        return SDRA_EIO;
    size_t k = 0;
    while (k < n && g->left > 0) {
        buf[k++] = (char)gen_byte(&g->state);
        g->left--;
        g->produced++;
    }
    return (long)k;
}

typedef struct check {
    uint64_t state;
    int64_t got;
    int64_t mismatches;
    int fail_after;    /* > 0: the sink fails on that call */
    int calls;
} check;

static int check_write(void *ud, const char *data, size_t n)
{
    check *c = ud;
    if (c->fail_after > 0 && ++c->calls >= c->fail_after)
        return SDRA_EIO;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)data[i] != gen_byte(&c->state))
            c->mismatches++;
    c->got += (int64_t)n;
    return 0;
}

typedef struct membuf {
    char data[256];
    size_t len;
} membuf;

static int mem_write(void *ud, const char *data, size_t n)
{
    membuf *m = ud;
    if (m->len + n > sizeof m->data)
        return SDRA_ELIMIT;
    memcpy(m->data + m->len, data, n);
    m->len += n;
    return 0;
}

typedef struct strsrc {
    const char *s;
    size_t off;
} strsrc;

static long str_read(void *ud, char *buf, size_t n)
{
    strsrc *s = ud;
    size_t left = strlen(s->s) - s->off;
    if (n > left)
        n = left;
    memcpy(buf, s->s + s->off, n);
    s->off += n;
    return (long)n;
}

static void put_str(sdra_blob *b, const char *key, const char *text)
{
    strsrc src = {text, 0};
    sdra_error err = {0};
    if (sdra_blob_put_stream(b, key, str_read, &src, &err) < 0)
        fail_msg("put %s: %s", key, err.msg);
}

static void get_str(sdra_blob *b, const char *key, membuf *m)
{
    sdra_error err = {0};
    m->len = 0;
    if (sdra_blob_get_stream(b, key, mem_write, m, &err) < 0)
        fail_msg("get %s: %s", key, err.msg);
    m->data[m->len < sizeof m->data ? m->len : sizeof m->data - 1] = '\0';
}

static void blob_round_trip_from_files_and_streams(void **state)
{
    sdra_blob *b = open_blob();
    sdra_error err = {0};
    char src[1024], dst[1024];
    snprintf(src, sizeof src, "%s/src-%d.txt", g_tmp, (int)getpid());
    snprintf(dst, sizeof dst, "%s/dst-%d.txt", g_tmp, (int)getpid());
    assert_int_equal(sdra_file_write_atomic(src, "hello object store\n", 19, &err), 0);
    assert_int_equal(sdra_blob_put_file(b, "calls/rt/a.txt", src, &err), 0);
    int64_t size = -1;
    assert_int_equal(sdra_blob_head(b, "calls/rt/a.txt", &size, &err), 0);
    assert_int_equal(size, 19);
    assert_int_equal(sdra_blob_get_file(b, "calls/rt/a.txt", dst, &err), 0);
    char *back = NULL;
    size_t len = 0;
    assert_int_equal(sdra_file_read(&back, &len, dst, 1024, &err), 0);
    assert_int_equal(len, 19);
    assert_memory_equal(back, "hello object store\n", 19);
    free(back);
    /* replaced, not appended */
    put_str(b, "calls/rt/a.txt", "v2");
    membuf m;
    get_str(b, "calls/rt/a.txt", &m);
    assert_string_equal(m.data, "v2");
    /* an empty object is an object */
    put_str(b, "calls/rt/empty", "");
    assert_int_equal(sdra_blob_head(b, "calls/rt/empty", &size, &err), 0);
    assert_int_equal(size, 0);
    get_str(b, "calls/rt/empty", &m);
    assert_int_equal(m.len, 0);
    unlink(src);
    unlink(dst);
    sdra_blob_close(b);
}

static void blob_ranged_get(void **state)
{
    sdra_blob *b = open_blob();
    sdra_error err = {0};
    put_str(b, "calls/range/r.txt", "0123456789");
    membuf m = {0};
    assert_int_equal(sdra_blob_get_range(b, "calls/range/r.txt", 3, 4, mem_write, &m, &err), 0);
    assert_int_equal(m.len, 4);
    assert_memory_equal(m.data, "3456", 4);
    m.len = 0;
    assert_int_equal(sdra_blob_get_range(b, "calls/range/r.txt", 7, -1, mem_write, &m, &err), 0);
    assert_int_equal(m.len, 3);
    assert_memory_equal(m.data, "789", 3);
    m.len = 0; /* a length past the end is cut at the end */
    assert_int_equal(sdra_blob_get_range(b, "calls/range/r.txt", 8, 100, mem_write, &m, &err), 0);
    assert_int_equal(m.len, 2);
    m.len = 0;
    assert_int_equal(sdra_blob_get_range(b, "calls/range/r.txt", 10, 5, mem_write, &m, &err), SDRA_EINVAL);
    assert_int_equal(m.len, 0);
    assert_non_null(strstr(err.msg, "calls/range/r.txt"));
    sdra_blob_close(b);
}

static void blob_missing_objects(void **state)
{
    sdra_blob *b = open_blob();
    sdra_error err = {0};
    int64_t size = 0;
    membuf m = {0};
    assert_int_equal(sdra_blob_head(b, "calls/none/x", &size, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_blob_get_stream(b, "calls/none/x", mem_write, &m, &err), SDRA_ENOTFOUND);
    assert_non_null(strstr(err.msg, "calls/none/x"));
    assert_null(strchr(err.msg, '\n'));
    assert_int_equal(m.len, 0);
    char dst[1024];
    snprintf(dst, sizeof dst, "%s/missing-%d", g_tmp, (int)getpid());
    assert_int_equal(sdra_blob_get_file(b, "calls/none/x", dst, &err), SDRA_ENOTFOUND);
    assert_int_equal(access(dst, F_OK), -1); /* nothing half-written left */
    /* deleting what is not there is not an error */
    assert_int_equal(sdra_blob_delete(b, "calls/none/x", &err), 0);
    put_str(b, "calls/del/x", "x");
    assert_int_equal(sdra_blob_delete(b, "calls/del/x", &err), 0);
    assert_int_equal(sdra_blob_head(b, "calls/del/x", &size, &err), SDRA_ENOTFOUND);
    sdra_blob_close(b);
}

static void blob_delete_by_prefix(void **state)
{
    sdra_blob *b = open_blob();
    sdra_error err = {0};
    put_str(b, "calls/p1/audio.mp3", "a");
    put_str(b, "calls/p1/transcript.json", "t");
    put_str(b, "calls/p1/sub/deep.txt", "d");
    put_str(b, "calls/p10/keep.json", "k"); /* shares the characters, not the directory */
    int n = -1;
    assert_int_equal(sdra_blob_delete_prefix(b, "calls/p1/", &n, &err), 0);
    assert_int_equal(n, 3);
    int64_t size;
    assert_int_equal(sdra_blob_head(b, "calls/p1/audio.mp3", &size, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_blob_head(b, "calls/p1/sub/deep.txt", &size, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_blob_head(b, "calls/p10/keep.json", &size, &err), 0);
    /* again: nothing left, nothing to do */
    assert_int_equal(sdra_blob_delete_prefix(b, "calls/p1/", &n, &err), 0);
    assert_int_equal(n, 0);
    /* a prefix must name a "directory" */
    assert_int_equal(sdra_blob_delete_prefix(b, "calls/p1", &n, &err), SDRA_EINVAL);
    assert_int_equal(sdra_blob_delete_prefix(b, "/", &n, &err), SDRA_EINVAL);
    assert_int_equal(sdra_blob_delete_prefix(b, "../", &n, &err), SDRA_EINVAL);
    assert_int_equal(sdra_blob_head(b, "calls/p10/keep.json", &size, &err), 0);
    sdra_blob_close(b);
}

typedef struct seen {
    char keys[8][64];
    int64_t sizes[8];
    int n;
} seen;

static int collect(void *ud, const char *key, int64_t size)
{
    seen *s = ud;
    if (s->n == 8)
        return 1;
    snprintf(s->keys[s->n], sizeof s->keys[0], "%s", key);
    s->sizes[s->n++] = size;
    return 0;
}

static int64_t seen_size(const seen *s, const char *key)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->keys[i], key))
            return s->sizes[i];
    return -1;
}

static void blob_list_by_prefix(void **state)
{
    sdra_blob *b = open_blob();
    sdra_error err = {0};
    put_str(b, "calls/l1/audio.mp3", "abc");
    put_str(b, "calls/l1/sub/x.json", "{}");
    put_str(b, "calls/l10/other.json", "zz");
    seen s = {0};
    assert_int_equal(sdra_blob_list(b, "calls/l1/", collect, &s, &err), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(seen_size(&s, "calls/l1/audio.mp3"), 3);
    assert_int_equal(seen_size(&s, "calls/l1/sub/x.json"), 2);
    memset(&s, 0, sizeof s);
    assert_int_equal(sdra_blob_list(b, "calls/none/", collect, &s, &err), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(sdra_blob_list(b, "calls/l1", collect, &s, &err), SDRA_EINVAL);
    sdra_blob_close(b);
}

static void blob_rejects_bad_keys(void **state)
{
    sdra_blob *b = open_blob();
    sdra_error err = {0};
    const char *bad[] = {"", "/abs", "../up", "calls/../../etc/passwd", "a//b", "dir/", "sp ace", "q?x", "a/./b",
                         "new\nline", "pct%2F"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strsrc src = {"x", 0};
        assert_false(sdra_blob_key_valid(bad[i]));
        assert_int_equal(sdra_blob_put_stream(b, bad[i], str_read, &src, &err), SDRA_EINVAL);
        assert_null(strchr(err.msg, '\n'));
        int64_t size;
        assert_int_equal(sdra_blob_head(b, bad[i], &size, &err), SDRA_EINVAL);
        assert_int_equal(sdra_blob_delete(b, bad[i], &err), SDRA_EINVAL);
    }
    assert_true(sdra_blob_key_valid("calls/c-1/transcript.json"));
    assert_true(sdra_blob_key_valid("a..b/c"));
    sdra_blob_close(b);
}

/* A large object (20 MiB: three parts on S3) streamed up and down and ranged in the middle. */
static void blob_large_object_streams(void **state)
{
    sdra_blob *b = open_blob();
    sdra_error err = {0};
    gen g = {.state = 0x9e3779b97f4a7c15ull, .left = g_big_bytes, .fail_at = -1};
    if (sdra_blob_put_stream(b, "calls/big/audio.wav", gen_read, &g, &err) < 0)
        fail_msg("put: %s", err.msg);
    int64_t size = 0;
    assert_int_equal(sdra_blob_head(b, "calls/big/audio.wav", &size, &err), 0);
    assert_int_equal(size, g_big_bytes);
    check c = {.state = 0x9e3779b97f4a7c15ull};
    if (sdra_blob_get_stream(b, "calls/big/audio.wav", check_write, &c, &err) < 0)
        fail_msg("get: %s", err.msg);
    assert_int_equal(c.got, g_big_bytes);
    assert_int_equal(c.mismatches, 0);
    /* a range across the first part boundary (8 MiB) */
    int64_t first = (8 << 20) - 100;
    check r = {.state = 0x9e3779b97f4a7c15ull};
    for (int64_t i = 0; i < first; i++)
        gen_byte(&r.state);
    assert_int_equal(sdra_blob_get_range(b, "calls/big/audio.wav", first, 300, check_write, &r, &err), 0);
    assert_int_equal(r.got, 300);
    assert_int_equal(r.mismatches, 0);
    /* a sink that fails stops the get with its code */
    check f = {.state = 0x9e3779b97f4a7c15ull, .fail_after = 2};
    assert_int_equal(sdra_blob_get_stream(b, "calls/big/audio.wav", check_write, &f, &err), SDRA_EIO);
    sdra_blob_close(b);
}

/* A source that fails half way (inside the second part) leaves the old object as it was. */
static void blob_failed_put_keeps_old_object(void **state)
{
    sdra_blob *b = open_blob();
    sdra_error err = {0};
    put_str(b, "calls/fail/audio.wav", "old");
    gen g = {.state = 1, .left = 12 << 20, .fail_at = 9 << 20};
    assert_int_equal(sdra_blob_put_stream(b, "calls/fail/audio.wav", gen_read, &g, &err), SDRA_EIO);
    assert_non_null(strstr(err.msg, "calls/fail/audio.wav"));
    membuf m;
    get_str(b, "calls/fail/audio.wav", &m);
    assert_string_equal(m.data, "old");
    /* and a failing small source creates nothing */
    gen g2 = {.state = 1, .left = 10, .fail_at = 0};
    assert_int_equal(sdra_blob_put_stream(b, "calls/fail/new.wav", gen_read, &g2, &err), SDRA_EIO);
    int64_t size;
    assert_int_equal(sdra_blob_head(b, "calls/fail/new.wav", &size, &err), SDRA_ENOTFOUND);
    sdra_blob_close(b);
}

static int run(const char *name)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(blob_round_trip_from_files_and_streams),
        cmocka_unit_test(blob_ranged_get),
        cmocka_unit_test(blob_missing_objects),
        cmocka_unit_test(blob_delete_by_prefix),
        cmocka_unit_test(blob_list_by_prefix),
        cmocka_unit_test(blob_rejects_bad_keys),
        cmocka_unit_test(blob_large_object_streams),
        cmocka_unit_test(blob_failed_put_keeps_old_object),
    };
    return _cmocka_run_group_tests(name, tests, sizeof tests / sizeof tests[0], NULL, NULL);
}

int main(void)
{
    const char *tmp = getenv("SDRA_TEST_TMP");
    snprintf(g_tmp, sizeof g_tmp, "%s/blob-contract-%d", tmp ? tmp : "/tmp", (int)getpid());
    sdra_error err = {0};
    if (sdra_mkdir_p(g_tmp, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    char local[1024];
    snprintf(local, sizeof local, "%s/store", g_tmp);
    int failed = 0;
    const char *s3 = getenv("SDRA_TEST_S3_URL");
    if (!s3 || !getenv("SDRA_TEST_S3_ONLY")) {
        g_location = local;
        failed += run("local");
    }
    if (s3 && *s3) {
        g_location = s3;
        failed += run("s3");
    }
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (!failed && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_tmp);
    return failed ? 1 : 0;
}
