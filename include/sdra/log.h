/*
 * sdra/log.h - logging and progress reporting.
 *
 * Modules never print. They call sdra_log(), which forwards to the one handler the program
 * installed with sdra_log_set_handler(); with none installed, messages below WARN are dropped
 * and the rest go to stderr as plain lines. The CLI installs a plain-text handler; the server
 * installs a JSON-lines handler (one object per line with call_id / job_id / stage fields).
 *
 * Long tasks report progress through an sdra_progress the caller passes in (may be NULL).
 * Its callback may also ask to stop: returning non-zero makes the task fail with
 * SDRA_ECANCELED.
 */
#ifndef SDRA_LOG_H
#define SDRA_LOG_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sdra_log_level {
    SDRA_LOG_DEBUG = 0,
    SDRA_LOG_INFO = 1,
    SDRA_LOG_WARN = 2,
    SDRA_LOG_ERROR = 3,
} sdra_log_level;

/* Structured context carried with a message; any field may be NULL. */
typedef struct sdra_log_ctx {
    const char *call_id;
    const char *job_id;
    const char *stage;
    double duration_ms; /* < 0 when not applicable */
} sdra_log_ctx;

typedef void (*sdra_log_fn)(void *user_data, sdra_log_level level, const sdra_log_ctx *ctx,
                            const char *msg);

/* Installs the process-wide handler and the minimum level. Thread-safe to call before threads
 * start; handlers must themselves be thread-safe. fn NULL restores the default. */
void sdra_log_set_handler(sdra_log_fn fn, void *user_data, sdra_log_level min_level);

void sdra_log(sdra_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sdra_logc(sdra_log_level level, const sdra_log_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses "debug|info|warn|error"; returns -1 when unknown. */
int sdra_log_level_parse(const char *s);

/* Ready-made handlers: plain "sdra: level: msg" lines, and JSON objects, both to stderr. */
void sdra_log_stderr_text(void *user_data, sdra_log_level level, const sdra_log_ctx *ctx,
                          const char *msg);
void sdra_log_stderr_json(void *user_data, sdra_log_level level, const sdra_log_ctx *ctx,
                          const char *msg);

/* Progress: done out of total (total 0 when unknown), in the task's own unit (seconds of audio,
 * words, ...). Return non-zero to cancel. */
typedef struct sdra_progress {
    int (*fn)(void *user_data, const char *task, double done, double total);
    void *user_data;
} sdra_progress;

/* Calls p->fn when p and p->fn are set; returns its result, else 0. */
int sdra_progress_report(const sdra_progress *p, const char *task, double done, double total);

#ifdef __cplusplus
}
#endif
#endif
