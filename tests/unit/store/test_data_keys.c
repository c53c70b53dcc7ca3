/* test_data_keys.c - the wrapped data keys of encryption at rest (sdra/store.h): put and get,
 * no silent overwrite, replace, deleting the call deletes its key (crypto-shredding), and
 * rewrap is all or nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sdra/store.h"
#include "sdra/util.h"

static char dir[512], db[600];

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("SDRA_TEST_TMP") ? getenv("SDRA_TEST_TMP") : "/tmp";
    sdra_mkdir_p(base, NULL);
    snprintf(dir, sizeof dir, "%s/datakeys-XXXXXX", base);
    assert_non_null(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/sdra.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void store_data_key_put_get_delete(void **state)
{
    (void)state;
    sdra_store *st = NULL;
    sdra_error err = {0};
    unsigned char w[72], got[SDRA_STORE_WRAPPED_MAX];
    char mid[SDRA_STORE_ID_MAX];
    size_t n = 0;
    memset(w, 7, sizeof w);
    assert_int_equal(sdra_store_open(&st, db, &err), 0);
    assert_int_equal(sdra_store_call_create(st, "default", "c-1", "{}", 0, 0, 1000, 0, &err), 0);
    assert_int_equal(sdra_store_data_key_get(st, "c-1", mid, got, &n, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_store_data_key_put(st, "c-1", "m-a", w, sizeof w, false, 1000, &err), 0);
    assert_int_equal(sdra_store_data_key_get(st, "c-1", mid, got, &n, &err), 0);
    assert_string_equal(mid, "m-a");
    assert_int_equal(n, sizeof w);
    assert_memory_equal(got, w, sizeof w);
    w[0] = 9; /* a second put never overwrites a key silently */
    assert_int_equal(sdra_store_data_key_put(st, "c-1", "m-a", w, sizeof w, false, 1000, &err), SDRA_EEXISTS);
    assert_int_equal(sdra_store_data_key_get(st, "c-1", mid, got, &n, &err), 0);
    assert_int_equal(got[0], 7);
    assert_int_equal(sdra_store_data_key_put(st, "c-1", "m-a", w, sizeof w, true, 1000, &err), 0);
    assert_int_equal(sdra_store_data_key_get(st, "c-1", mid, got, &n, &err), 0);
    assert_int_equal(got[0], 9);
    assert_int_equal(sdra_store_data_key_put(st, "BAD ID", "m-a", w, sizeof w, false, 1000, &err), SDRA_EINVAL);
    /* deleting the call deletes its key */
    assert_int_equal(sdra_store_call_delete(st, NULL, "c-1", &err), 0);
    assert_int_equal(sdra_store_data_key_get(st, "c-1", mid, got, &n, &err), SDRA_ENOTFOUND);
    sdra_store_close(st);
}

static int fail_on_b(void *ud, const char *id, const char *master_id, const unsigned char *wrapped, size_t n,
                     char *new_master_id, unsigned char *new_wrapped, size_t *new_n, sdra_error *err)
{
    int *calls = ud;
    (*calls)++;
    if (!strcmp(id, "b") && calls[1])
        return sdra_error_set(err, SDRA_EDENIED, "no");
    snprintf(new_master_id, SDRA_STORE_ID_MAX, "m-new");
    memcpy(new_wrapped, wrapped, n);
    new_wrapped[0] ^= 0xff;
    *new_n = n;
    (void)master_id;
    return 0;
}

static void store_data_key_rewrap_all_or_nothing(void **state)
{
    (void)state;
    sdra_store *st = NULL;
    sdra_error err = {0};
    unsigned char w[72], got[SDRA_STORE_WRAPPED_MAX];
    char mid[SDRA_STORE_ID_MAX];
    size_t n = 0;
    memset(w, 1, sizeof w);
    assert_int_equal(sdra_store_open(&st, db, &err), 0);
    const char *ids[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(sdra_store_data_key_put(st, ids[i], "m-old", w, sizeof w, false, 1000, &err), 0);
    int ctl[2] = {0, 1}, done = 0;
    assert_int_equal(sdra_store_data_key_rewrap(st, fail_on_b, ctl, &done, &err), SDRA_EDENIED);
    for (int i = 0; i < 3; i++) { /* nothing changed */
        assert_int_equal(sdra_store_data_key_get(st, ids[i], mid, got, &n, &err), 0);
        assert_string_equal(mid, "m-old");
        assert_int_equal(got[0], 1);
    }
    ctl[0] = 0;
    ctl[1] = 0;
    assert_int_equal(sdra_store_data_key_rewrap(st, fail_on_b, ctl, &done, &err), 0);
    assert_int_equal(done, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sdra_store_data_key_get(st, ids[i], mid, got, &n, &err), 0);
        assert_string_equal(mid, "m-new");
        assert_int_equal(got[0], 0xfe);
    }
    sdra_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(store_data_key_put_get_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(store_data_key_rewrap_all_or_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
