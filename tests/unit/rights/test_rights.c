/* test_rights.c - the rights module's building blocks: the subject key (created once, 0600,
 * refused when others can read it), normalised addresses and their tokens, the store's subject
 * links and pseudonyms (forgotten on erase, gone with their call), retention policies (defaults,
 * validation, JSON), the consent rule, and a purge with the clock driven.
 * ctest-labels: threads */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sdra/rights.h"
#include "sdra/util.h"

static char g_dir[1024];

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("SDRA_TEST_TMP");
    static int n;
    snprintf(g_dir, sizeof g_dir, "%s/rights-%d-%d", tmp ? tmp : "/tmp", (int)getpid(), n++);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(sdra_mkdir_p(g_dir, NULL), 0);
    return 0;
}

static sdra_store *open_store(void)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/sdra.db", g_dir);
    sdra_store *s = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_store_sqlite_open(&s, path, &err), 0);
    return s;
}

static void rights_key_created_once_private(void **state)
{
    (void)state;
    unsigned char k1[32], k2[32];
    sdra_error err = {0};
    assert_int_equal(sdra_rights_key_load(k1, g_dir, &err), 0);
    assert_int_equal(sdra_rights_key_load(k2, g_dir, &err), 0);
    assert_memory_equal(k1, k2, 32);
    char path[1200];
    snprintf(path, sizeof path, "%s/subject.key", g_dir);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sb.st_size, 32);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(sdra_rights_key_load(k2, g_dir, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "readable by others"));
}

/* Concurrent uploads to a fresh data directory all create the key at once: each must end up
 * with the one key that won (a shared temporary name made some fail). */
#define N_RACERS 8
static unsigned char race_keys[N_RACERS][32];
static int race_rc[N_RACERS];
static void *racer(void *arg)
{
    int i = (int)(intptr_t)arg;
    sdra_error err = {0};
    race_rc[i] = sdra_rights_key_load(race_keys[i], g_dir, &err);
    return NULL;
}

static void rights_key_concurrent_creation(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/subject.key", g_dir);
        unlink(path);
        pthread_t t[N_RACERS];
        for (int i = 0; i < N_RACERS; i++)
            assert_int_equal(pthread_create(&t[i], NULL, racer, (void *)(intptr_t)i), 0);
        for (int i = 0; i < N_RACERS; i++)
            pthread_join(t[i], NULL);
        for (int i = 0; i < N_RACERS; i++) {
            assert_int_equal(race_rc[i], 0);
            assert_memory_equal(race_keys[i], race_keys[0], 32);
        }
    }
}

static void rights_token_normalises(void **state)
{
    (void)state;
    unsigned char key[32] = {1, 2, 3};
    char a[65], b[65], c[65];
    sdra_error err = {0};
    assert_int_equal(sdra_rights_token(a, key, "jordan@acme.example", &err), 0);
    assert_int_equal(sdra_rights_token(b, key, "  Jordan@ACME.Example\t", &err), 0);
    assert_int_equal(sdra_rights_token(c, key, "jordan@acme.example.org", &err), 0);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_int_equal(strlen(a), 64);
    assert_int_equal(strspn(a, "0123456789abcdef"), 64);
    key[0] = 9; /* another deployment's key: another token */
    assert_int_equal(sdra_rights_token(c, key, "jordan@acme.example", &err), 0);
    assert_string_not_equal(a, c);
    const char *bad[] = {"", "jordan", "@acme", "jordan@", "a@b@c", "jo rdan@acme.example", "a<b@c"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(sdra_rights_token(c, key, bad[i], &err), SDRA_EINVAL);
}

static void rights_subject_links_and_pseudonyms(void **state)
{
    (void)state;
    sdra_store *s = open_store();
    sdra_error err = {0};
    const char *tok = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    assert_int_equal(sdra_store_call_create(s, "default", "c-1", "{}", 0, 0, 1000, 0, &err), 0);
    assert_int_equal(sdra_store_call_create(s, "default", "c-2", "{}", 0, 0, 1000, 0, &err), 0);
    assert_int_equal(sdra_store_subject_add(s, "c-1", "default", tok, &err), 0);
    assert_int_equal(sdra_store_subject_add(s, "c-1", "default", tok, &err), 0); /* no duplicate */
    assert_int_equal(sdra_store_subject_add(s, "c-2", "default", tok, &err), 0);
    assert_int_equal(sdra_store_subject_add(s, "c-2", "other", tok, &err), 0);
    assert_int_equal(sdra_store_subject_add(s, "c-2", "default", "nothex", &err), SDRA_EINVAL);
    assert_int_equal(sdra_store_subject_add(s, "c-2", "bad org", tok, &err), SDRA_EINVAL);
    char ids[8][SDRA_STORE_ID_MAX];
    int n = 0;
    assert_int_equal(sdra_store_subject_calls(s, "default", tok, ids, 8, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ids[0], "c-1");
    assert_string_equal(ids[1], "c-2");
    char p1[SDRA_STORE_ID_MAX], p2[SDRA_STORE_ID_MAX];
    assert_int_equal(sdra_store_subject_pseudonym(s, "default", tok, NULL, 1, p1, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_store_subject_pseudonym(s, "default", tok, "s-1", 1, p1, &err), 0);
    assert_int_equal(sdra_store_subject_pseudonym(s, "default", tok, "s-2", 1, p2, &err), 0);
    assert_string_equal(p1, "s-1"); /* the first one stays */
    assert_string_equal(p2, "s-1");
    /* deleting a call takes its links */
    assert_int_equal(sdra_store_call_delete(s, NULL, "c-1", &err), 0);
    assert_int_equal(sdra_store_subject_calls(s, "default", tok, ids, 8, &n, &err), 0);
    assert_int_equal(n, 1);
    int removed = 0;
    assert_int_equal(sdra_store_subject_forget(s, "default", tok, &removed, &err), 0);
    assert_int_equal(removed, 2); /* the c-2 link and the pseudonym */
    assert_int_equal(sdra_store_subject_calls(s, "default", tok, ids, 8, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(sdra_store_subject_pseudonym(s, "default", tok, NULL, 1, p1, &err), SDRA_ENOTFOUND);
    assert_int_equal(sdra_store_subject_forget(s, "default", tok, &removed, &err), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(sdra_store_subject_calls(s, "other", tok, ids, 8, &n, &err), 0);
    assert_int_equal(n, 1); /* another organisation's link is its own */
    sdra_store_close(s);
}

static void rights_policy_defaults_and_validation(void **state)
{
    (void)state;
    sdra_store *s = open_store();
    sdra_error err = {0};
    sdra_store_policy p;
    assert_int_equal(sdra_store_policy_get(s, "default", &p, &err), 0);
    assert_string_equal(p.org, "default");
    assert_int_equal(p.audio_days + p.transcript_days + p.call_days + p.crm_days, 0);
    assert_false(p.require_consent);
    assert_int_equal(p.updated_ms, 0);
    json_t *doc = json_loads("{\"audio_days\":30,\"transcript_days\":365,\"require_consent\":true}", 0, NULL);
    assert_int_equal(sdra_retention_policy_from_json(&p, doc, &err), 0);
    json_decref(doc);
    assert_int_equal(sdra_store_policy_put(s, &p, 77, &err), 0);
    sdra_store_policy q;
    assert_int_equal(sdra_store_policy_get(s, "default", &q, &err), 0);
    assert_int_equal(q.audio_days, 30);
    assert_int_equal(q.transcript_days, 365);
    assert_true(q.require_consent);
    assert_int_equal(q.updated_ms, 77);
    const char *bad[] = {"{\"audio_days\":-1}", "{\"audio_days\":\"30\"}", "{\"require_consent\":1}",
                         "{\"bogus\":1}", "[]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        doc = json_loads(bad[i], 0, NULL);
        assert_int_equal(sdra_retention_policy_from_json(&q, doc, &err), SDRA_EINVAL);
        json_decref(doc);
    }
    assert_int_equal(q.audio_days, 30); /* unchanged by a refused document */
    q.call_days = -2;
    assert_int_equal(sdra_store_policy_put(s, &q, 78, &err), SDRA_EINVAL);
    assert_int_equal(sdra_store_policy_get(s, "other", &q, &err), 0);
    assert_int_equal(q.audio_days, 0); /* per organisation */
    assert_true(sdra_rights_consent_ok(&q, NULL));
    assert_false(sdra_rights_consent_ok(&p, NULL));
    assert_false(sdra_rights_consent_ok(&p, "unknown"));
    assert_true(sdra_rights_consent_ok(&p, "obtained"));
    assert_true(sdra_rights_consent_ok(&p, "not_required"));
    sdra_store_close(s);
}

/* The purge's way to delete a whole call (the server's is srv_call_delete_ex). */
static int deletes;
static int count_delete(void *user, const char *call_id, bool keep_crm, sdra_error *err)
{
    deletes++;
    assert_true(keep_crm); /* crm_days 0: what was synced stays */
    return sdra_store_call_delete(user, NULL, call_id, err);
}

static void rights_purge_by_age(void **state)
{
    (void)state;
    sdra_store *s = open_store();
    sdra_error err = {0};
    const int64_t day = 86400000, t0 = 1700000000000;
    char dir[1200], path[1300];
    snprintf(dir, sizeof dir, "%s/calls/c-1", g_dir);
    assert_int_equal(sdra_mkdir_p(dir, &err), 0);
    assert_int_equal(sdra_store_call_create(s, "default", "c-1", "{\"audio\":\"audio.wav\"}", 0, 0, t0, 0, &err), 0);
    snprintf(path, sizeof path, "%s/audio.wav", dir);
    assert_int_equal(sdra_file_write_atomic(path, "RIFF", 4, &err), 0);
    snprintf(path, sizeof path, "%s/transcript.json", dir);
    assert_int_equal(sdra_file_write_atomic(path, "{}", 2, &err), 0);
    sdra_store_job job;
    assert_int_equal(sdra_store_job_claim(s, 0, "w", t0, 1000, 3, &job, &err), 0);
    sdra_store_artifact a = {.name = "transcript.json", .path = "calls/c-1/transcript.json", .size_bytes = 2};
    assert_int_equal(sdra_store_job_complete(s, &job, &a, 1, -1, t0, &err), 0);
    sdra_store_policy p = {.org = "default", .audio_days = 30, .transcript_days = 365, .call_days = 400};
    assert_int_equal(sdra_store_policy_put(s, &p, t0, &err), 0);
    sdra_rights_ctx cx = sdra_rights_ctx_init(s, g_dir, NULL, "test", "local");
    cx.org = NULL;
    cx.delete_call = count_delete;
    cx.user = s;
    sdra_rights_counts n;
    cx.now_ms = t0 + 30 * day - 1;
    assert_int_equal(sdra_retention_purge(&cx, false, &n, &err), 0);
    assert_int_equal(n.audio + n.artifacts + n.calls, 0);
    cx.now_ms = t0 + 30 * day;
    assert_int_equal(sdra_retention_purge(&cx, true, &n, &err), 0);
    assert_int_equal(n.audio, 1);
    snprintf(path, sizeof path, "%s/audio.wav", dir);
    assert_int_equal(access(path, F_OK), 0); /* dry run */
    assert_int_equal(sdra_retention_purge(&cx, false, &n, &err), 0);
    assert_int_equal(n.audio, 1);
    assert_int_equal(n.artifacts, 0);
    assert_int_not_equal(access(path, F_OK), 0);
    cx.now_ms = t0 + 365 * day;
    assert_int_equal(sdra_retention_purge(&cx, false, &n, &err), 0);
    assert_int_equal(n.artifacts, 1);
    assert_int_equal(sdra_store_artifact_get(s, NULL, "c-1", "transcript.json", &a, &err), SDRA_ENOTFOUND);
    cx.now_ms = t0 + 400 * day;
    assert_int_equal(sdra_retention_purge(&cx, false, &n, &err), 0);
    assert_int_equal(n.calls, 1);
    assert_int_equal(deletes, 1);
    sdra_store_call c;
    assert_int_equal(sdra_store_call_get(s, NULL, "c-1", &c, &err), SDRA_ENOTFOUND);
    int64_t n_entries = 0, bad = 0;
    assert_int_equal(sdra_store_audit_verify(s, &n_entries, &bad, &err), 0);
    assert_int_equal(n_entries, 3); /* audio, transcript, whole call */
    sdra_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(rights_key_created_once_private, setup),
        cmocka_unit_test_setup(rights_key_concurrent_creation, setup),
        cmocka_unit_test_setup(rights_token_normalises, setup),
        cmocka_unit_test_setup(rights_subject_links_and_pseudonyms, setup),
        cmocka_unit_test_setup(rights_policy_defaults_and_validation, setup),
        cmocka_unit_test_setup(rights_purge_by_age, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
