/*
 * sdra/obs.h - observability: a small metrics registry rendered in the Prometheus text format
 * (version 0.0.4), for `GET /metrics` of the server and the workers. Structured JSON logs are
 * in sdra/log.h (sdra_log_stderr_json + sdra_logc).
 *
 * A metric family is defined once (name, type, help, histogram buckets); series inside it are
 * told apart by a label string the caller formats, e.g. `stage="transcribe",state="done"`
 * (values must not contain '"', '\\' or newlines; such updates are ignored). The registry is
 * bounded: at most SDRA_OBS_MAX_SERIES series in all; updates that would add more are dropped
 * and counted in sdra_obs_dropped_series. All functions are thread-safe.
 *
 *     sdra_obs *m = NULL;
 *     sdra_obs_create(&m, &err);
 *     sdra_obs_define(m, "sdra_http_requests_total", SDRA_OBS_COUNTER, "HTTP requests", NULL, 0);
 *     sdra_obs_inc(m, "sdra_http_requests_total", "route=\"/healthz\",status=\"200\"", 1);
 *     sdra_buf b; sdra_buf_init(&b, 1 << 20); sdra_obs_render(m, &b); ...
 *     sdra_obs_destroy(m);
 */
#ifndef SDRA_OBS_H
#define SDRA_OBS_H

#include "sdra/buf.h"
#include "sdra/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SDRA_OBS_MAX_FAMILIES 64
#define SDRA_OBS_MAX_SERIES 2048
#define SDRA_OBS_MAX_BUCKETS 24
#define SDRA_OBS_MAX_LABELS 256 /* bytes of one label string */

typedef enum sdra_obs_type { SDRA_OBS_COUNTER, SDRA_OBS_GAUGE, SDRA_OBS_HISTOGRAM } sdra_obs_type;

typedef struct sdra_obs sdra_obs;

int sdra_obs_create(sdra_obs **out, sdra_error *err);
void sdra_obs_destroy(sdra_obs *m); /* accepts NULL */

/* Defines a family. buckets (ascending upper bounds) only for histograms; NULL = latency
 * buckets from 5 ms to 10 min in seconds. SDRA_EEXISTS if the name is taken, SDRA_EINVAL for
 * a name outside [a-zA-Z_:][a-zA-Z0-9_:]*, SDRA_ELIMIT past SDRA_OBS_MAX_FAMILIES. */
int sdra_obs_define(sdra_obs *m, const char *name, sdra_obs_type type, const char *help,
                    const double *buckets, int n_buckets);

/* Counter += v (v >= 0); gauge = v; gauge += v; histogram observation. Unknown names, wrong
 * types and bad labels are ignored (metrics never fail the caller's work). labels may be NULL
 * or "" for the unlabelled series. */
void sdra_obs_inc(sdra_obs *m, const char *name, const char *labels, double v);
void sdra_obs_set(sdra_obs *m, const char *name, const char *labels, double v);
void sdra_obs_add(sdra_obs *m, const char *name, const char *labels, double v);
void sdra_obs_observe(sdra_obs *m, const char *name, const char *labels, double v);

/* Drops every series of a family (for gauges recomputed from a snapshot). */
void sdra_obs_clear(sdra_obs *m, const char *name);

/* Current value of a counter or gauge series, or the observation count of a histogram series;
 * 0 when absent. For tests and health checks. */
double sdra_obs_value(sdra_obs *m, const char *name, const char *labels);

/* Number of updates dropped because the series limit was reached. */
long sdra_obs_dropped_series(sdra_obs *m);

/* Appends every family in definition order in the Prometheus text format. */
int sdra_obs_render(sdra_obs *m, sdra_buf *out);

#ifdef __cplusplus
}
#endif
#endif
