/*
 * metrics.c - the metrics registry (sdra/obs.h): families of counters, gauges and histograms,
 * series keyed by a caller-formatted label string, rendered in the Prometheus text format.
 * One mutex guards the registry; lookups are linear (tens of families, hundreds of series).
 * Memory is bounded by SDRA_OBS_MAX_SERIES; metrics never fail the caller's work.
 */
#include "sdra/obs.h"
#include "sdra/util.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct series {
    char labels[SDRA_OBS_MAX_LABELS];
    double value;                                /* counter/gauge; histogram sum */
    unsigned long count;                         /* histogram observations */
    unsigned long buckets[SDRA_OBS_MAX_BUCKETS]; /* per bucket (not cumulative) */
} series;

typedef struct family {
    char name[96];
    char help[256];
    sdra_obs_type type;
    double bounds[SDRA_OBS_MAX_BUCKETS];
    int n_bounds;
    series *s;
    int n, cap;
} family;

struct sdra_obs {
    pthread_mutex_t mu;
    family fam[SDRA_OBS_MAX_FAMILIES];
    int n_fam;
    int n_series;
    long dropped;
};

static const double default_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};

int sdra_obs_create(sdra_obs **out, sdra_error *err)
{
    sdra_obs *m = calloc(1, sizeof *m);
    if (!m)
        return sdra_error_set(err, SDRA_ENOMEM, "metrics: out of memory");
    pthread_mutex_init(&m->mu, NULL);
    *out = m;
    return 0;
}

void sdra_obs_destroy(sdra_obs *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n_fam; i++)
        free(m->fam[i].s);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static int valid_name(const char *n)
{
    if (!n || !*n || strlen(n) >= 96)
        return 0;
    for (const char *p = n; *p; p++) {
        int alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == ':';
        if (!alpha && !(p > n && *p >= '0' && *p <= '9'))
            return 0;
    }
    return 1;
}

static int valid_labels(const char *l)
{
    if (strlen(l) >= SDRA_OBS_MAX_LABELS)
        return 0;
    /* name="value" pairs separated by commas; values without '\\' or newlines, quotes balanced */
    int quotes = 0;
    for (const char *p = l; *p; p++) {
        if (*p == '\n' || *p == '\\')
            return 0;
        if (*p == '"')
            quotes++;
    }
    return quotes % 2 == 0;
}

int sdra_obs_define(sdra_obs *m, const char *name, sdra_obs_type type, const char *help,
                    const double *buckets, int n_buckets)
{
    if (!valid_name(name))
        return sdra_error_set(NULL, SDRA_EINVAL, "bad metric name");
    if (type == SDRA_OBS_HISTOGRAM && buckets && (n_buckets < 1 || n_buckets > SDRA_OBS_MAX_BUCKETS))
        return SDRA_EINVAL;
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < m->n_fam; i++)
        if (!strcmp(m->fam[i].name, name)) {
            rc = SDRA_EEXISTS;
            goto done;
        }
    if (m->n_fam >= SDRA_OBS_MAX_FAMILIES) {
        rc = SDRA_ELIMIT;
        goto done;
    }
    family *f = &m->fam[m->n_fam++];
    memset(f, 0, sizeof *f);
    sdra_strlcpy(f->name, name, sizeof f->name);
    sdra_strlcpy(f->help, help ? help : "", sizeof f->help);
    for (char *p = f->help; *p; p++)
        if (*p == '\n' || *p == '\\')
            *p = ' ';
    f->type = type;
    if (type == SDRA_OBS_HISTOGRAM) {
        if (!buckets) {
            buckets = default_bounds;
            n_buckets = (int)(sizeof default_bounds / sizeof default_bounds[0]);
        }
        memcpy(f->bounds, buckets, sizeof(double) * (size_t)n_buckets);
        f->n_bounds = n_buckets;
    }
done:
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static family *find_family(sdra_obs *m, const char *name)
{
    for (int i = 0; i < m->n_fam; i++)
        if (!strcmp(m->fam[i].name, name))
            return &m->fam[i];
    return NULL;
}

/* The series for labels in f, created when absent; NULL when the limit is reached. */
static series *get_series(sdra_obs *m, family *f, const char *labels, int create)
{
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->s[i].labels, labels))
            return &f->s[i];
    if (!create)
        return NULL;
    if (m->n_series >= SDRA_OBS_MAX_SERIES) {
        m->dropped++;
        return NULL;
    }
    if (f->n == f->cap) {
        int cap = f->cap ? f->cap * 2 : 8;
        series *s = realloc(f->s, sizeof *s * (size_t)cap);
        if (!s)
            return NULL;
        f->s = s;
        f->cap = cap;
    }
    series *s = &f->s[f->n++];
    memset(s, 0, sizeof *s);
    sdra_strlcpy(s->labels, labels, sizeof s->labels);
    m->n_series++;
    return s;
}

enum { OP_INC, OP_SET, OP_ADD, OP_OBSERVE };

static void update(sdra_obs *m, const char *name, const char *labels, double v, int op)
{
    if (!m || !name || isnan(v))
        return;
    if (!labels)
        labels = "";
    if (!valid_labels(labels))
        return;
    pthread_mutex_lock(&m->mu);
    family *f = find_family(m, name);
    if (!f)
        goto done;
    int ok = (op == OP_INC && f->type == SDRA_OBS_COUNTER && v >= 0) ||
             ((op == OP_SET || op == OP_ADD) && f->type == SDRA_OBS_GAUGE) ||
             (op == OP_OBSERVE && f->type == SDRA_OBS_HISTOGRAM);
    if (!ok)
        goto done;
    series *s = get_series(m, f, labels, 1);
    if (!s)
        goto done;
    switch (op) {
    case OP_INC:
    case OP_ADD: s->value += v; break;
    case OP_SET: s->value = v; break;
    case OP_OBSERVE: {
        s->value += v;
        s->count++;
        for (int i = 0; i < f->n_bounds; i++)
            if (v <= f->bounds[i]) {
                s->buckets[i]++;
                break;
            }
        break;
    }
    }
done:
    pthread_mutex_unlock(&m->mu);
}

void sdra_obs_inc(sdra_obs *m, const char *name, const char *labels, double v) { update(m, name, labels, v, OP_INC); }
void sdra_obs_set(sdra_obs *m, const char *name, const char *labels, double v) { update(m, name, labels, v, OP_SET); }
void sdra_obs_add(sdra_obs *m, const char *name, const char *labels, double v) { update(m, name, labels, v, OP_ADD); }
void sdra_obs_observe(sdra_obs *m, const char *name, const char *labels, double v)
{
    update(m, name, labels, v, OP_OBSERVE);
}

void sdra_obs_clear(sdra_obs *m, const char *name)
{
    pthread_mutex_lock(&m->mu);
    family *f = find_family(m, name);
    if (f) {
        m->n_series -= f->n;
        f->n = 0;
    }
    pthread_mutex_unlock(&m->mu);
}

double sdra_obs_value(sdra_obs *m, const char *name, const char *labels)
{
    double v = 0;
    pthread_mutex_lock(&m->mu);
    family *f = find_family(m, name);
    series *s = f ? get_series(m, f, labels ? labels : "", 0) : NULL;
    if (s)
        v = f->type == SDRA_OBS_HISTOGRAM ? (double)s->count : s->value;
    pthread_mutex_unlock(&m->mu);
    return v;
}

long sdra_obs_dropped_series(sdra_obs *m)
{
    pthread_mutex_lock(&m->mu);
    long d = m->dropped;
    pthread_mutex_unlock(&m->mu);
    return d;
}

/* name{labels[,extra]} value */
static int put_sample(sdra_buf *b, const char *name, const char *suffix, const char *labels,
                      const char *extra, double v)
{
    int has = labels && *labels, hx = extra && *extra;
    int rc = sdra_buf_printf(b, "%s%s", name, suffix);
    if (rc == 0 && (has || hx))
        rc = sdra_buf_printf(b, "{%s%s%s}", has ? labels : "", has && hx ? "," : "", hx ? extra : "");
    if (rc == 0) {
        if (isinf(v))
            rc = sdra_buf_puts(b, v > 0 ? " +Inf\n" : " -Inf\n");
        else
            rc = sdra_buf_printf(b, " %.15g\n", v);
    }
    return rc;
}

int sdra_obs_render(sdra_obs *m, sdra_buf *out)
{
    static const char *types[] = {"counter", "gauge", "histogram"};
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < m->n_fam && rc == 0; i++) {
        family *f = &m->fam[i];
        rc = sdra_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, types[f->type]);
        for (int j = 0; j < f->n && rc == 0; j++) {
            series *s = &f->s[j];
            if (f->type != SDRA_OBS_HISTOGRAM) {
                rc = put_sample(out, f->name, "", s->labels, NULL, s->value);
                continue;
            }
            unsigned long cum = 0;
            char le[64];
            for (int k = 0; k < f->n_bounds && rc == 0; k++) {
                cum += s->buckets[k];
                snprintf(le, sizeof le, "le=\"%g\"", f->bounds[k]);
                rc = put_sample(out, f->name, "_bucket", s->labels, le, (double)cum);
            }
            if (rc == 0)
                rc = put_sample(out, f->name, "_bucket", s->labels, "le=\"+Inf\"", (double)s->count);
            if (rc == 0)
                rc = put_sample(out, f->name, "_sum", s->labels, NULL, s->value);
            if (rc == 0)
                rc = put_sample(out, f->name, "_count", s->labels, NULL, (double)s->count);
        }
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}
