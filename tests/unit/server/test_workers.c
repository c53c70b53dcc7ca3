/* test_workers.c - the server's job machinery against a stage table of test functions: stages
 * run in order with their artifacts recorded, transient failures are retried with backoff,
 * permanent ones go dead and are retryable by hand, a dead worker's lease is taken over,
 * uploads beyond the active-call limit get 503 + Retry-After, keys and scopes are enforced; an
 * API node without workers and a worker_only server (`sdra worker`) share a store, the worker
 * runs only its stages, serves only probes and metrics, and drains or releases on stop.
 * Talks to the real server over a loopback socket with a tiny HTTP/1.0 client.
 * ctest-labels: threads */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sdra/server.h"
#include "sdra/util.h"

/* ---- test stages -------------------------------------------------------------------- */

static atomic_int g_b_failures_left;  /* stage b fails with SDRA_ERETRY this many times */
static atomic_int g_c_permanent;      /* stage c fails with SDRA_EINVAL while set */
static atomic_int g_block;            /* stage a waits while set */
static atomic_int g_runs[3];

static int write_out(const sdra_stage_ctx *ctx, const char *name, sdra_error *err)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", ctx->workdir, name);
    return sdra_file_write_atomic(p, "{\"ok\":true}\n", 12, err);
}

static int stage_a(const sdra_stage_ctx *ctx, sdra_error *err)
{
    atomic_fetch_add(&g_runs[0], 1);
    while (atomic_load(&g_block)) {
        if (sdra_progress_report(&ctx->progress, "a", 0, 0))
            return sdra_error_set(err, SDRA_ECANCELED, "canceled");
        usleep(10000);
    }
    return write_out(ctx, "transcript.json", err);
}

static int stage_b(const sdra_stage_ctx *ctx, sdra_error *err)
{
    atomic_fetch_add(&g_runs[1], 1);
    if (atomic_fetch_sub(&g_b_failures_left, 1) > 0)
        return sdra_error_set(err, SDRA_ERETRY, "upstream flaky");
    return write_out(ctx, "analysis.json", err);
}

static int stage_c(const sdra_stage_ctx *ctx, sdra_error *err)
{
    atomic_fetch_add(&g_runs[2], 1);
    if (atomic_load(&g_c_permanent))
        return sdra_error_set(err, SDRA_EINVAL, "bad document");
    return write_out(ctx, "email.json", err);
}

static const sdra_stage test_stages[] = {
    {"transcribe", "transcript.json", stage_a},
    {"analyze", "analysis.json", stage_b},
    {"compose", "email.json", stage_c},
};

/* ---- tiny HTTP client ------------------------------------------------------------------ */

typedef struct resp {
    int status;
    char head[4096];
    char body[65536];
} resp;

static void http(int port, const char *method, const char *path, const char *key, const char *ctype,
                 const char *body, resp *out)
{
    memset(out, 0, sizeof *out);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char req[2048];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.0\r\nHost: x\r\n", method, path);
    if (key)
        n += snprintf(req + n, sizeof req - (size_t)n, "Authorization: Bearer %s\r\n", key);
    if (ctype)
        n += snprintf(req + n, sizeof req - (size_t)n, "Content-Type: %s\r\n", ctype);
    n += snprintf(req + n, sizeof req - (size_t)n, "Content-Length: %zu\r\n\r\n", blen);
    assert_int_equal(write(fd, req, (size_t)n), n);
    if (blen)
        assert_int_equal(write(fd, body, blen), (ssize_t)blen);
    static char buf[80000];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof buf - 1 && (r = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = '\0';
    close(fd);
    assert_int_equal(sscanf(buf, "HTTP/1.%*d %d", &out->status), 1);
    char *sep = strstr(buf, "\r\n\r\n");
    assert_non_null(sep);
    size_t hl = (size_t)(sep - buf);
    memcpy(out->head, buf, hl < sizeof out->head - 1 ? hl : sizeof out->head - 1);
    sdra_strlcpy(out->body, sep + 4, sizeof out->body);
}

static void json_str(const char *body, const char *key, char *out, size_t n)
{
    json_t *d = json_loads(body, 0, NULL);
    assert_non_null(d);
    const char *v = json_string_value(json_object_get(d, key));
    assert_non_null(v);
    sdra_strlcpy(out, v, n);
    json_decref(d);
}

/* Polls GET /v1/calls/{id} until the status is want (or 20 s pass). */
static json_t *wait_status(int port, const char *key, const char *id, const char *want)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/calls/%s", id);
    resp r;
    for (int i = 0; i < 400; i++) {
        http(port, "GET", path, key, NULL, NULL, &r);
        assert_int_equal(r.status, 200);
        json_t *d = json_loads(r.body, 0, NULL);
        assert_non_null(d);
        if (!strcmp(json_string_value(json_object_get(d, "status")), want))
            return d;
        json_decref(d);
        usleep(50000);
    }
    fail_msg("call %s never reached %s: %s", id, want, r.body);
    return NULL;
}

/* ---- fixture -------------------------------------------------------------------------- */

typedef struct fx {
    char dir[512];
    sdra_server *srv;
    int port;
    char wkey[SDRA_SERVER_KEY_MAX], rkey[SDRA_SERVER_KEY_MAX], akey[SDRA_SERVER_KEY_MAX];
} fx;

static void (*g_tweak)(sdra_server_params *p); /* fx_start: changes the parameters when set */

static void fx_start(fx *f, int max_active, int64_t lease_ms, void (*before)(fx *f))
{
    static int n;
    const char *tmp = getenv("SDRA_TEST_TMP");
    snprintf(f->dir, sizeof f->dir, "%s/server-workers-%d-%d", tmp ? tmp : "/tmp", (int)getpid(), n++);
    sdra_error err = {0};
    sdra_store *st = NULL;
    assert_int_equal(sdra_server_store_open(&st, f->dir, &err), 0);
    assert_int_equal(sdra_server_key_create(st, "w", "write", f->wkey, sizeof f->wkey, &err), 0);
    assert_int_equal(sdra_server_key_create(st, "r", "read", f->rkey, sizeof f->rkey, &err), 0);
    assert_int_equal(sdra_server_key_create(st, "a", "admin", f->akey, sizeof f->akey, &err), 0);
    sdra_store_close(st);
    if (before)
        before(f);
    sdra_server_params p = sdra_server_default_params();
    p.listen = "127.0.0.1:0";
    p.data_dir = f->dir;
    p.stages = test_stages;
    p.n_stages = 3;
    p.retry_base_ms = 20;
    p.retry_max_ms = 100;
    p.max_attempts = 4;
    p.lease_ms = lease_ms;
    p.max_active_calls = max_active;
    p.concurrency[0] = 2;
    if (g_tweak)
        g_tweak(&p);
    assert_int_equal(sdra_server_start(&f->srv, &p, &err), 0);
    f->port = sdra_server_port(f->srv);
    assert_true(f->port > 0);
}

static void fx_stop(fx *f)
{
    sdra_server_stop(f->srv);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
}

static void upload(fx *f, const char *query, char id[64])
{
    resp r;
    char path[256];
    snprintf(path, sizeof path, "/v1/calls%s", query ? query : "");
    http(f->port, "POST", path, f->wkey, "audio/wav", "RIFF....fake audio bytes", &r);
    assert_int_equal(r.status, 202);
    assert_non_null(strstr(r.head, "Location: /v1/calls/"));
    json_str(r.body, "id", id, 64);
}

/* ---- tests ------------------------------------------------------------------------------ */

static void server_runs_stages_with_retries(void **state)
{
    (void)state;
    fx f;
    atomic_store(&g_b_failures_left, 2);
    atomic_store(&g_c_permanent, 0);
    memset(g_runs, 0, sizeof g_runs);
    fx_start(&f, 10, 5000, NULL);
    char id[64];
    upload(&f, "?contact_email=ann@example.com&company=Acme", id);
    json_t *d = wait_status(f.port, f.rkey, id, "done");
    json_t *stages = json_object_get(d, "stages");
    assert_int_equal(json_array_size(stages), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(stages, 1), "state")), "done");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(stages, 1), "attempts")), 3);
    assert_int_equal(json_array_size(json_object_get(d, "artifacts")), 3);
    assert_string_equal(json_string_value(json_object_get(json_object_get(d, "metadata"), "company")), "Acme");
    json_decref(d);
    assert_int_equal(atomic_load(&g_runs[0]), 1);
    assert_int_equal(atomic_load(&g_runs[2]), 1);

    resp r;
    char path[128];
    snprintf(path, sizeof path, "/v1/calls/%s/analysis", id);
    http(f.port, "GET", path, f.rkey, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"ok\":true}\n");
    snprintf(path, sizeof path, "/v1/calls/%s/report", id);
    http(f.port, "GET", path, f.rkey, NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body, "\"code\":\"not_found\""));
    snprintf(path, sizeof path, "/v1/calls/%s/audio", id);
    http(f.port, "GET", path, f.rkey, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "RIFF....fake audio bytes");

    http(f.port, "GET", "/metrics", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "sdra_job_retries_total{stage=\"analyze\"} 2"));
    assert_non_null(strstr(r.body, "sdra_jobs{stage=\"compose\",state=\"done\"} 1"));
    assert_non_null(strstr(r.body, "sdra_stage_duration_seconds_count{stage=\"analyze\",outcome=\"error\"} 2"));
    fx_stop(&f);
}

static void server_dead_job_is_retryable_by_hand(void **state)
{
    (void)state;
    fx f;
    atomic_store(&g_b_failures_left, 0);
    atomic_store(&g_c_permanent, 1);
    fx_start(&f, 10, 5000, NULL);
    char id[64], path[128];
    upload(&f, NULL, id);
    json_t *d = wait_status(f.port, f.rkey, id, "failed");
    json_t *c = json_array_get(json_object_get(d, "stages"), 2);
    assert_string_equal(json_string_value(json_object_get(c, "state")), "failed"); /* user-facing: the store's "dead" (docs/service.md, "Status names") */
    assert_int_equal(json_integer_value(json_object_get(c, "attempts")), 1); /* permanent: no retry */
    assert_non_null(strstr(json_string_value(json_object_get(c, "error")), "bad document"));
    json_decref(d);
    resp r;
    snprintf(path, sizeof path, "/v1/calls/%s/retry", id);
    http(f.port, "POST", path, f.rkey, NULL, NULL, &r);
    assert_int_equal(r.status, 403); /* read scope may not retry */
    atomic_store(&g_c_permanent, 0);
    http(f.port, "POST", path, f.wkey, NULL, NULL, &r);
    assert_int_equal(r.status, 202);
    json_decref(wait_status(f.port, f.rkey, id, "done"));
    http(f.port, "POST", path, f.wkey, NULL, NULL, &r);
    assert_int_equal(r.status, 409);

    snprintf(path, sizeof path, "/v1/calls/%s", id);
    http(f.port, "DELETE", path, f.wkey, NULL, NULL, &r); /* erasure needs admin (issue 14) */
    assert_int_equal(r.status, 403);
    http(f.port, "DELETE", path, f.akey, NULL, NULL, &r);
    assert_int_equal(r.status, 204);
    http(f.port, "GET", path, f.rkey, NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    char dir[700];
    struct stat st;
    snprintf(dir, sizeof dir, "%s/calls/%s", f.dir, id);
    assert_int_not_equal(stat(dir, &st), 0);
    fx_stop(&f);
}

/* A process that died holding a job: a call created and claimed through a second handle,
 * before this server starts; its lease runs out and the server takes the job over. */
static sdra_store_job g_ghost_job;

static void ghost_claims(fx *f)
{
    sdra_store *st = NULL;
    sdra_error err = {0};
    char dir[700];
    snprintf(dir, sizeof dir, "%s/calls/ghost-call", f->dir);
    assert_int_equal(sdra_mkdir_p(dir, &err), 0);
    assert_int_equal(sdra_server_store_open(&st, f->dir, &err), 0);
    int64_t now = sdra_store_now_ms();
    assert_int_equal(sdra_store_call_create(st, "default", "ghost-call", "{}", 0, 0, now, 0, &err), 0);
    assert_int_equal(sdra_store_job_claim(st, 0, "ghost", now, 300, 4, &g_ghost_job, &err), 0);
    sdra_store_close(st);
}

static void server_takes_over_a_dead_workers_lease(void **state)
{
    (void)state;
    fx f;
    atomic_store(&g_b_failures_left, 0);
    atomic_store(&g_c_permanent, 0);
    atomic_store(&g_block, 0);
    memset(g_runs, 0, sizeof g_runs);
    fx_start(&f, 10, 300, ghost_claims);
    json_decref(wait_status(f.port, f.rkey, "ghost-call", "done"));
    sdra_store *st = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_server_store_open(&st, f.dir, &err), 0);
    /* the ghost comes back: its result is refused, nothing is duplicated */
    assert_int_equal(sdra_store_job_complete(st, &g_ghost_job, NULL, 0, 1, sdra_store_now_ms(), &err), SDRA_EEXISTS);
    sdra_store_job jobs[4];
    int n = 0;
    assert_int_equal(sdra_store_job_list(st, NULL, "ghost-call", jobs, 4, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(jobs[0].attempts, 2);
    assert_int_equal(atomic_load(&g_runs[0]), 1);
    sdra_store_close(st);
    fx_stop(&f);
}

static void server_backpressure_and_auth(void **state)
{
    (void)state;
    fx f;
    atomic_store(&g_block, 1);
    fx_start(&f, 1, 5000, NULL);
    char id[64];
    upload(&f, NULL, id);
    json_decref(wait_status(f.port, f.rkey, id, "running")); /* held by the blocked stage */
    resp r;
    http(f.port, "POST", "/v1/calls", f.wkey, "audio/wav", "more audio", &r);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.head, "Retry-After: "));
    http(f.port, "GET", "/readyz", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 503);
    http(f.port, "GET", "/v1/calls", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.head, "WWW-Authenticate: Bearer"));
    http(f.port, "GET", "/v1/calls", "sdra_000000000000_0000000000000000000000000000000000000000000000000000000000000000", NULL,
         NULL, &r);
    assert_int_equal(r.status, 401);
    http(f.port, "POST", "/v1/calls", f.rkey, "audio/wav", "x", &r);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(r.body, "\"code\":\"insufficient_scope\""));
    http(f.port, "GET", "/v1/calls?limit=0", f.rkey, NULL, NULL, &r);
    assert_int_equal(r.status, 400);
    http(f.port, "GET", "/v1/calls?status=running", f.rkey, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, id));
    http(f.port, "PUT", "/v1/calls", f.wkey, NULL, NULL, &r);
    assert_int_equal(r.status, 405);
    http(f.port, "GET", "/v1/nope", f.rkey, NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    atomic_store(&g_block, 0);
    fx_stop(&f);
}

static void api_only(sdra_server_params *p)
{
    p->run_workers = false;
}

/* A worker_only server on f's store running the first stage only (stage_mask 1). */
static sdra_server *worker_start(fx *f, int max_attempts)
{
    static char url[600];
    snprintf(url, sizeof url, "sqlite:%s/sdra.db", f->dir);
    sdra_server_params p = sdra_server_default_params();
    p.worker_only = true;
    p.listen = "127.0.0.1:0";
    p.store_url = url;
    p.data_dir = f->dir;
    p.stages = test_stages;
    p.n_stages = 3;
    p.stage_mask = 1;
    p.max_attempts = max_attempts;
    p.lease_ms = 5000;
    sdra_server *w = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_server_start(&w, &p, &err), 0);
    return w;
}

static const char *stage_field(json_t *call, int i, const char *key, char *buf, size_t n)
{
    json_t *v = json_object_get(json_array_get(json_object_get(call, "stages"), (size_t)i), key);
    if (json_is_integer(v))
        snprintf(buf, n, "%lld", (long long)json_integer_value(v));
    else
        sdra_strlcpy(buf, json_string_value(v) ? json_string_value(v) : "", n);
    return buf;
}

static void server_worker_only_drains_and_releases(void **state)
{
    (void)state;
    fx f;
    char id[64], path[128], b[32];
    resp r;
    atomic_store(&g_b_failures_left, 0);
    atomic_store(&g_c_permanent, 0);
    atomic_store(&g_block, 1);
    memset(g_runs, 0, sizeof g_runs);
    g_tweak = api_only;
    fx_start(&f, 10, 5000, NULL);
    g_tweak = NULL;
    sdra_server *w = worker_start(&f, 1);
    int wport = sdra_server_port(w);
    assert_true(wport > 0);
    upload(&f, NULL, id);
    snprintf(path, sizeof path, "/v1/calls/%s", id);
    json_decref(wait_status(f.port, f.rkey, id, "running"));
    for (int i = 0; i < 400 && atomic_load(&g_runs[0]) == 0; i++)
        usleep(10000);
    assert_int_equal(atomic_load(&g_runs[0]), 1); /* the worker runs it, not the API node */
    /* the worker's listener: probes and metrics, not the API */
    http(wport, "GET", "/healthz", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    http(wport, "GET", "/readyz", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    http(wport, "GET", "/metrics", NULL, NULL, NULL, &r);
    assert_non_null(strstr(r.body, "sdra_jobs_in_flight{stage=\"transcribe\"} 1"));
    http(wport, "GET", path, f.rkey, NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    /* no time to drain: the blocked job is still running, /readyz says so */
    assert_int_equal(sdra_server_drain(w, 100), 1);
    http(wport, "GET", "/readyz", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 503);
    sdra_server_stop(w); /* stopped and released: queued again, not dead on its only attempt */
    http(f.port, "GET", path, f.rkey, NULL, NULL, &r);
    json_t *d = json_loads(r.body, 0, NULL);
    assert_string_equal(stage_field(d, 0, "state", b, sizeof b), "queued");
    json_decref(d);
    /* a second worker: time to drain, and the first stage only */
    w = worker_start(&f, 1);
    json_decref(wait_status(f.port, f.rkey, id, "running"));
    for (int i = 0; i < 400 && atomic_load(&g_runs[0]) < 2; i++)
        usleep(10000);
    assert_int_equal(atomic_load(&g_runs[0]), 2);
    atomic_store(&g_block, 0);
    assert_int_equal(sdra_server_drain(w, 10000), 0); /* finished within the deadline */
    http(f.port, "GET", path, f.rkey, NULL, NULL, &r);
    d = json_loads(r.body, 0, NULL);
    assert_string_equal(stage_field(d, 0, "state", b, sizeof b), "done");
    assert_string_equal(stage_field(d, 1, "state", b, sizeof b), "queued"); /* not this worker's stage */
    json_decref(d);
    usleep(200000);
    assert_int_equal(atomic_load(&g_runs[1]), 0);
    sdra_server_stop(w);
    fx_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(server_runs_stages_with_retries),
        cmocka_unit_test(server_dead_job_is_retryable_by_hand),
        cmocka_unit_test(server_takes_over_a_dead_workers_lease),
        cmocka_unit_test(server_backpressure_and_auth),
        cmocka_unit_test(server_worker_only_drains_and_releases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
