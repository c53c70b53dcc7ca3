/*
 * log.c - the process-wide log sink (sdra/log.h) and progress helper. Modules call sdra_log();
 * the program decides where lines go by installing a handler once at start-up.
 */
#include "sdra/log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static sdra_log_fn g_fn = NULL;
static void *g_user = NULL;
static sdra_log_level g_min = SDRA_LOG_WARN;
static pthread_mutex_t g_stderr_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *level_names[] = {"debug", "info", "warn", "error"};

void sdra_log_set_handler(sdra_log_fn fn, void *user_data, sdra_log_level min_level)
{
    g_fn = fn;
    g_user = user_data;
    g_min = min_level;
}

int sdra_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (s && strcasecmp(s, level_names[i]) == 0)
            return i;
    if (s && strcasecmp(s, "warning") == 0)
        return SDRA_LOG_WARN;
    return -1;
}

static void vlog(sdra_log_level level, const sdra_log_ctx *ctx, const char *fmt, va_list ap)
{
    if (level < g_min)
        return;
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (g_fn)
        g_fn(g_user, level, ctx, msg);
    else
        sdra_log_stderr_text(NULL, level, ctx, msg);
}

void sdra_log(sdra_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, NULL, fmt, ap);
    va_end(ap);
}

void sdra_logc(sdra_log_level level, const sdra_log_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, ctx, fmt, ap);
    va_end(ap);
}

void sdra_log_stderr_text(void *user_data, sdra_log_level level, const sdra_log_ctx *ctx,
                          const char *msg)
{
    (void)user_data;
    pthread_mutex_lock(&g_stderr_lock);
    fprintf(stderr, "sdra: %s: ", level_names[level & 3]);
    if (ctx && ctx->call_id)
        fprintf(stderr, "[%s%s%s] ", ctx->call_id, ctx->stage ? "/" : "", ctx->stage ? ctx->stage : "");
    fprintf(stderr, "%s\n", msg);
    pthread_mutex_unlock(&g_stderr_lock);
}

void sdra_log_stderr_json(void *user_data, sdra_log_level level, const sdra_log_ctx *ctx,
                          const char *msg)
{
    (void)user_data;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[96];
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    json_t *o = json_object();
    json_object_set_new(o, "ts", json_string(when));
    json_object_set_new(o, "level", json_string(level_names[level & 3]));
    json_object_set_new(o, "msg", json_string(msg));
    if (ctx) {
        if (ctx->call_id)
            json_object_set_new(o, "call_id", json_string(ctx->call_id));
        if (ctx->job_id)
            json_object_set_new(o, "job_id", json_string(ctx->job_id));
        if (ctx->stage)
            json_object_set_new(o, "stage", json_string(ctx->stage));
        if (ctx->duration_ms >= 0)
            json_object_set_new(o, "duration_ms", json_real(ctx->duration_ms));
    }
    char *s = json_dumps(o, JSON_COMPACT);
    pthread_mutex_lock(&g_stderr_lock);
    if (s)
        fprintf(stderr, "%s\n", s);
    pthread_mutex_unlock(&g_stderr_lock);
    free(s);
    json_decref(o);
}

int sdra_progress_report(const sdra_progress *p, const char *task, double done, double total)
{
    if (p && p->fn)
        return p->fn(p->user_data, task, done, total);
    return 0;
}
