/* test_call_meta.c - sdra_store_call_set_meta: the server rewrites a call's metadata when it
 * replaces the stored audio (serve --redact-audio); the new document is what call_get returns,
 * and a missing call, a bad id or an oversized document leave everything as it was. */
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

static void store_call_set_meta_replaces_document(void **state)
{
    (void)state;
    const char *tmp = getenv("SDRA_TEST_TMP");
    char dir[900], path[1000];
    snprintf(dir, sizeof dir, "%s/store-call-meta-%d", tmp ? tmp : "/tmp", (int)getpid());
    sdra_error err = {0};
    assert_int_equal(sdra_mkdir_p(dir, &err), 0);
    snprintf(path, sizeof path, "%s/sdra.db", dir);
    sdra_store *s = NULL;
    assert_int_equal(sdra_store_sqlite_open(&s, path, &err), 0);
    assert_int_equal(sdra_store_call_create(s, "default", "c-1", "{\"audio\":\"audio.mp3\"}", 0, 0, 1000, 0, &err), 0);

    const char *doc = "{\"audio\":\"audio.wav\",\"audio_redacted\":{\"mode\":\"silence\",\"spans\":2}}";
    assert_int_equal(sdra_store_call_set_meta(s, "default", "c-1", doc, &err), 0);
    sdra_store_call c = {0};
    assert_int_equal(sdra_store_call_get(s, NULL, "c-1", &c, &err), 0);
    assert_string_equal(c.meta_json, doc);
    assert_string_equal(c.status, "queued");
    sdra_store_call_release(&c);

    assert_int_equal(sdra_store_call_set_meta(s, NULL, "c-2", "{}", &err), SDRA_ENOTFOUND);
    /* another organisation's call is not found and not changed */
    assert_int_equal(sdra_store_call_set_meta(s, "other", "c-1", "{}", &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_store_call_set_meta(s, NULL, "Bad/Id", "{}", &err), SDRA_ENOTFOUND);
    char *big = malloc(SDRA_STORE_META_MAX + 2);
    assert_non_null(big);
    memset(big, ' ', SDRA_STORE_META_MAX + 1);
    big[SDRA_STORE_META_MAX + 1] = '\0';
    assert_int_equal(sdra_store_call_set_meta(s, NULL, "c-1", big, &err), SDRA_EINVAL);
    free(big);
    assert_int_equal(sdra_store_call_get(s, NULL, "c-1", &c, &err), 0);
    assert_string_equal(c.meta_json, doc);
    sdra_store_call_release(&c);

    sdra_store_close(s);
    char p[1100];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store_call_set_meta_replaces_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
