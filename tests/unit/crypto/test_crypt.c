/* test_crypt.c - the encryption-at-rest primitives (sdra/crypt.h): master key text and
 * sources, wrapping (bound to the key id), the streamed file format (round trips at chunk
 * boundaries, truncation, tampering, trailing bytes, wrong key), self-contained files, sealed
 * fields and blind indexes, and the core hook (sdra/seal.h) through sdra_file_read/write. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sdra/crypt.h"
#include "sdra/seal.h"
#include "sdra/util.h"

#define HEX64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static char tmpdir[512];

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("SDRA_TEST_TMP") ? getenv("SDRA_TEST_TMP") : "/tmp";
    sdra_mkdir_p(base, NULL);
    snprintf(tmpdir, sizeof tmpdir, "%s/crypt-XXXXXX", base);
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static sdra_crypt_key *key(const char *id)
{
    sdra_crypt_key *k = NULL;
    assert_int_equal(sdra_crypt_key_generate(&k, id, NULL), 0);
    return k;
}

static int resolve_one(void *ud, const char *id, const unsigned char *wrapped, sdra_crypt_key **out, sdra_error *err)
{
    const sdra_crypt_key *k = ud;
    assert_null(wrapped);
    if (strcmp(id, sdra_crypt_key_id(k)))
        return sdra_error_set(err, SDRA_ENOTFOUND, "no key %s", id);
    return sdra_crypt_key_from_bytes(out, id, sdra_crypt_key_bytes(k), err);
}

static void crypt_master_key_text(void **state)
{
    (void)state;
    sdra_crypt_key *a = NULL, *b = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_crypt_key_from_text(&a, "  " HEX64 "\n", strlen(HEX64) + 3, &err), 0);
    assert_int_equal(sdra_crypt_key_from_text(&b, HEX64, strlen(HEX64), &err), 0);
    assert_string_equal(sdra_crypt_key_id(a), sdra_crypt_key_id(b)); /* the id is the key's */
    assert_int_equal(strncmp(sdra_crypt_key_id(a), "m-", 2), 0);
    assert_null(strstr(sdra_crypt_key_id(a), "0011")); /* and does not reveal it */
    sdra_crypt_key_destroy(b);
    b = NULL;
    assert_int_equal(sdra_crypt_key_from_text(&b, "abc", 3, &err), SDRA_EINVAL);
    char bad[] = HEX64;
    bad[10] = 'x';
    assert_int_equal(sdra_crypt_key_from_text(&b, bad, strlen(bad), &err), SDRA_EINVAL);
    assert_null(strstr(err.msg, bad)); /* never echoes the key text */
    sdra_crypt_key_destroy(a);
}

static void crypt_master_sources(void **state)
{
    (void)state;
    char path[600];
    sdra_crypt_key *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    sdra_error err = {0};
    snprintf(path, sizeof path, "%s/master.key", tmpdir);
    assert_int_equal(sdra_crypt_master_create_file(path, &a, &err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(sdra_crypt_master_create_file(path, &b, &err), SDRA_EEXISTS); /* never overwritten */
    sdra_crypt_master_params p = {.key_file = path};
    assert_int_equal(sdra_crypt_master_load(&b, &p, &err), 0);
    assert_string_equal(sdra_crypt_key_id(a), sdra_crypt_key_id(b));
    char cmd[700];
    snprintf(cmd, sizeof cmd, "cat '%s'", path);
    p = (sdra_crypt_master_params){.key_cmd = cmd};
    assert_int_equal(sdra_crypt_master_load(&c, &p, &err), 0);
    assert_string_equal(sdra_crypt_key_id(a), sdra_crypt_key_id(c));
    setenv("SDRA_TEST_MASTER", HEX64, 1);
    p = (sdra_crypt_master_params){.env_var = "SDRA_TEST_MASTER"};
    assert_int_equal(sdra_crypt_master_load(&d, &p, &err), 0);
    sdra_crypt_key_destroy(d);
    d = NULL;
    p = (sdra_crypt_master_params){.key_cmd = "exit 3"};
    assert_int_equal(sdra_crypt_master_load(&d, &p, &err), SDRA_EUPSTREAM);
    p = (sdra_crypt_master_params){.env_var = "SDRA_TEST_UNSET_VAR"};
    assert_int_equal(sdra_crypt_master_load(&d, &p, &err), SDRA_ENOTFOUND);
    chmod(path, 0644);
    p = (sdra_crypt_master_params){.key_file = path};
    assert_int_equal(sdra_crypt_master_load(&d, &p, &err), SDRA_EDENIED); /* readable by others */
    sdra_crypt_key_destroy(a);
    sdra_crypt_key_destroy(b);
    sdra_crypt_key_destroy(c);
}

static void crypt_wrap_bound_to_id(void **state)
{
    (void)state;
    sdra_crypt_key *m = key("m-1"), *m2 = key("m-2"), *dk = key("c-1"), *back = NULL;
    unsigned char w[SDRA_CRYPT_WRAPPED_BYTES];
    sdra_error err = {0};
    assert_int_equal(sdra_crypt_wrap(m, dk, w, &err), 0);
    assert_int_equal(sdra_crypt_unwrap(m, "c-1", w, sizeof w, &back, &err), 0);
    assert_memory_equal(sdra_crypt_key_bytes(back), sdra_crypt_key_bytes(dk), SDRA_CRYPT_KEY_BYTES);
    sdra_crypt_key_destroy(back);
    back = NULL;
    assert_int_equal(sdra_crypt_unwrap(m, "c-2", w, sizeof w, &back, &err), SDRA_EDENIED); /* moved to another call */
    assert_int_equal(sdra_crypt_unwrap(m2, "c-1", w, sizeof w, &back, &err), SDRA_EDENIED); /* another master */
    w[30] ^= 1;
    assert_int_equal(sdra_crypt_unwrap(m, "c-1", w, sizeof w, &back, &err), SDRA_EDENIED);
    assert_null(back);
    sdra_crypt_key_destroy(m);
    sdra_crypt_key_destroy(m2);
    sdra_crypt_key_destroy(dk);
}

/* Seals n pseudo-random bytes, opens them again, compares. */
static void round_trip(const sdra_crypt_key *dk, size_t n)
{
    unsigned char *in = malloc(n + 1), *sealed = NULL;
    char *out = NULL;
    size_t sn = 0, on = 0;
    sdra_error err = {0};
    for (size_t i = 0; i < n; i++)
        in[i] = (unsigned char)(i * 131 + 7);
    assert_int_equal(sdra_crypt_seal_buf(dk, NULL, in, n, &sealed, &sn, &err), 0);
    assert_true(sdra_crypt_is_sealed(sealed, sn));
    assert_int_equal(sdra_crypt_open_buf(sealed, sn, n + 10, resolve_one, (void *)dk, &out, &on, &err), 0);
    assert_int_equal(on, n);
    assert_memory_equal(out, in, n);
    free(out);
    free(sealed);
    free(in);
}

static void crypt_stream_round_trips(void **state)
{
    (void)state;
    sdra_crypt_key *dk = key("c-1");
    size_t sizes[] = {0, 1, 100, SDRA_CRYPT_CHUNK_BYTES - 1, SDRA_CRYPT_CHUNK_BYTES, SDRA_CRYPT_CHUNK_BYTES + 1,
                      3 * SDRA_CRYPT_CHUNK_BYTES, 3 * SDRA_CRYPT_CHUNK_BYTES + 17};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        round_trip(dk, sizes[i]);
    sdra_crypt_key_destroy(dk);
}

static void crypt_stream_detects_damage(void **state)
{
    (void)state;
    sdra_crypt_key *dk = key("c-1"), *other = key("c-1");
    size_t n = 2 * SDRA_CRYPT_CHUNK_BYTES + 5, sn = 0, on = 0;
    unsigned char *in = calloc(1, n), *sealed = NULL;
    char *out = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_crypt_seal_buf(dk, NULL, in, n, &sealed, &sn, &err), 0);
    /* truncated at a chunk boundary: no FINAL chunk */
    size_t head = sn - 2 * (SDRA_CRYPT_CHUNK_BYTES + 17) - (5 + 17);
    assert_int_equal(sdra_crypt_open_buf(sealed, sn - (5 + 17), n, resolve_one, dk, &out, &on, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "truncated"));
    assert_int_equal(sdra_crypt_open_buf(sealed, head, n, resolve_one, dk, &out, &on, &err), SDRA_EINVAL);
    assert_int_equal(sdra_crypt_open_buf(sealed, sn - 3, n, resolve_one, dk, &out, &on, &err), SDRA_EINVAL);
    /* a flipped bit */
    sealed[sn / 2] ^= 4;
    assert_int_equal(sdra_crypt_open_buf(sealed, sn, n, resolve_one, dk, &out, &on, &err), SDRA_EINVAL);
    sealed[sn / 2] ^= 4;
    /* bytes after the final chunk */
    unsigned char *longer = malloc(sn + 1);
    memcpy(longer, sealed, sn);
    longer[sn] = 0;
    assert_int_equal(sdra_crypt_open_buf(longer, sn + 1, n, resolve_one, dk, &out, &on, &err), SDRA_EINVAL);
    free(longer);
    /* the wrong key under the same id */
    assert_int_equal(sdra_crypt_open_buf(sealed, sn, n, resolve_one, other, &out, &on, &err), SDRA_EINVAL);
    /* a limit below the plaintext */
    assert_int_equal(sdra_crypt_open_buf(sealed, sn, n - 1, resolve_one, dk, &out, &on, &err), SDRA_ELIMIT);
    assert_null(out);
    assert_int_equal(sdra_crypt_open_buf(sealed, sn, n, resolve_one, dk, &out, &on, &err), 0);
    free(out);
    free(sealed);
    free(in);
    sdra_crypt_key_destroy(dk);
    sdra_crypt_key_destroy(other);
}

static void crypt_stream_fd_and_plain_size(void **state)
{
    (void)state;
    char path[600], out_path[600];
    snprintf(path, sizeof path, "%s/f.enc", tmpdir);
    snprintf(out_path, sizeof out_path, "%s/f.plain", tmpdir);
    sdra_crypt_key *dk = key("c-9");
    sdra_crypt_writer *w = NULL;
    sdra_error err = {0};
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(sdra_crypt_writer_open(&w, fd, dk, NULL, &err), 0);
    char buf[1000];
    memset(buf, 'a', sizeof buf);
    for (int i = 0; i < 300; i++) /* 300000 bytes in odd pieces */
        assert_int_equal(sdra_crypt_writer_write(w, buf, sizeof buf, &err), 0);
    assert_int_equal(sdra_crypt_writer_plain_bytes(w), 300000);
    assert_int_equal(sdra_crypt_writer_close(w, &err), 0);
    close(fd);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    fd = open(path, O_RDONLY);
    sdra_crypt_reader *r = NULL;
    assert_int_equal(sdra_crypt_reader_open(&r, fd, resolve_one, dk, &err), 0);
    assert_int_equal(sdra_crypt_reader_plain_bytes(r, st.st_size), 300000);
    sdra_crypt_reader_close(r);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(sdra_crypt_fd_decrypt(fd, out, resolve_one, dk, &err), 0);
    close(out);
    int mfd = -1;
    assert_int_equal(sdra_crypt_fd_plain_memfd(fd, resolve_one, dk, &mfd, &err), 0);
    struct stat ms;
    assert_int_equal(fstat(mfd, &ms), 0);
    assert_int_equal(ms.st_size, 300000);
    close(mfd);
    close(fd);
    assert_int_equal(stat(out_path, &st), 0);
    assert_int_equal(st.st_size, 300000);
    sdra_crypt_key_destroy(dk);
}

static void crypt_self_contained_file(void **state)
{
    (void)state;
    sdra_crypt_key *m = NULL, *m2 = key("m-other"), *dk = key("file");
    sdra_error err = {0};
    assert_int_equal(sdra_crypt_key_from_text(&m, HEX64, strlen(HEX64), &err), 0);
    unsigned char *sealed = NULL;
    char *out = NULL;
    size_t sn = 0, on = 0;
    assert_int_equal(sdra_crypt_seal_buf(dk, m, "hello pineapple", 15, &sealed, &sn, &err), 0);
    assert_null(memmem(sealed, sn, "pineapple", 9));
    assert_int_equal(sdra_crypt_open_buf(sealed, sn, 100, sdra_crypt_resolve_inline, m, &out, &on, &err), 0);
    assert_string_equal(out, "hello pineapple");
    free(out);
    out = NULL;
    assert_int_equal(sdra_crypt_open_buf(sealed, sn, 100, sdra_crypt_resolve_inline, m2, &out, &on, &err), SDRA_EDENIED);
    free(sealed);
    /* a server file (key by id) needs the store */
    assert_int_equal(sdra_crypt_seal_buf(dk, NULL, "x", 1, &sealed, &sn, &err), 0);
    assert_int_equal(sdra_crypt_open_buf(sealed, sn, 100, sdra_crypt_resolve_inline, m, &out, &on, &err),
                     SDRA_EUNSUPPORTED);
    free(sealed);
    sdra_crypt_key_destroy(m);
    sdra_crypt_key_destroy(m2);
    sdra_crypt_key_destroy(dk);
}

static void crypt_fields_and_blind_index(void **state)
{
    (void)state;
    sdra_crypt_key *k = key("c-1"), *k2 = key("c-2"), *ix = key("crm-index"), *ix2 = key("crm-index");
    sdra_error err = {0};
    char *v = sdra_crypt_field_seal(k, "Zephyrine Quayle", 16), *v2 = sdra_crypt_field_seal(k, "Zephyrine Quayle", 16);
    assert_true(sdra_crypt_field_is_sealed(v));
    assert_true(sdra_seal_is_sealed_text(v));
    assert_null(strstr(v, "Zephyrine"));
    assert_string_not_equal(v, v2); /* random nonces: equal values do not look equal */
    char id[SDRA_CRYPT_KEY_ID_MAX], *plain = NULL;
    assert_int_equal(sdra_crypt_field_key_id(v, id, &err), 0);
    assert_string_equal(id, "c-1");
    assert_int_equal(sdra_crypt_field_open(k, v, &plain, &err), 0);
    assert_string_equal(plain, "Zephyrine Quayle");
    free(plain);
    plain = NULL;
    assert_int_equal(sdra_crypt_field_open(k2, v, &plain, &err), SDRA_EDENIED);
    v[strlen(v) - 3] ^= 1;
    assert_int_equal(sdra_crypt_field_open(k, v, &plain, &err), SDRA_EDENIED);
    assert_int_equal(sdra_crypt_field_open(k, "plain text", &plain, &err), SDRA_EINVAL);
    char b1[SDRA_CRYPT_BLIND_MAX], b2[SDRA_CRYPT_BLIND_MAX], b3[SDRA_CRYPT_BLIND_MAX];
    sdra_crypt_blind(ix, " Zeph@Example.COM ", b1);
    sdra_crypt_blind(ix, "zeph@example.com", b2);
    sdra_crypt_blind(ix2, "zeph@example.com", b3);
    assert_string_equal(b1, b2); /* normalised */
    assert_string_not_equal(b2, b3); /* keyed */
    assert_int_equal(strncmp(b1, SDRA_CRYPT_BLIND_PREFIX, 4), 0);
    free(v);
    free(v2);
    sdra_crypt_key_destroy(k);
    sdra_crypt_key_destroy(k2);
    sdra_crypt_key_destroy(ix);
    sdra_crypt_key_destroy(ix2);
}

/* The core hook: with a sealer installed, sdra_file_write_atomic encrypts and sdra_file_read
 * decrypts; without one, an encrypted file is refused with a clear message. */
static void crypt_seal_hook_files(void **state)
{
    (void)state;
    sdra_crypt_key *m = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_crypt_key_from_text(&m, HEX64, strlen(HEX64), &err), 0);
    sdra_crypt_sealer s;
    sdra_crypt_sealer_init(&s, m);
    char path[600];
    snprintf(path, sizeof path, "%s/doc.json", tmpdir);
    const sdra_seal_ops *prev = sdra_seal_set(&s.ops);
    assert_int_equal(sdra_file_write_atomic(path, "{\"w\": \"pineapple\"}", 18, &err), 0);
    char *text = NULL;
    size_t n = 0;
    assert_int_equal(sdra_file_read(&text, &n, path, 1000, &err), 0);
    assert_string_equal(text, "{\"w\": \"pineapple\"}");
    free(text);
    text = NULL;
    sdra_seal_set(prev);
    unsigned char raw[512]; /* the bytes on disk */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    n = fread(raw, 1, sizeof raw, f);
    fclose(f);
    assert_true(sdra_seal_is_sealed(raw, n));
    assert_null(memmem(raw, n, "pineapple", 9));
    assert_int_equal(sdra_file_read(&text, &n, path, 1000, &err), SDRA_EDENIED); /* no key installed */
    json_t *doc = NULL;
    assert_int_equal(sdra_json_load_file(&doc, path, 1000, &err), SDRA_EDENIED);
    assert_non_null(strstr(err.msg, "no key"));
    sdra_crypt_key_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crypt_master_key_text),
        cmocka_unit_test(crypt_master_sources),
        cmocka_unit_test(crypt_wrap_bound_to_id),
        cmocka_unit_test(crypt_stream_round_trips),
        cmocka_unit_test(crypt_stream_detects_damage),
        cmocka_unit_test(crypt_stream_fd_and_plain_size),
        cmocka_unit_test(crypt_self_contained_file),
        cmocka_unit_test(crypt_fields_and_blind_index),
        cmocka_unit_test(crypt_seal_hook_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
