/*
 * runner.c - the in-process runner behind `sdra run`: runs the stage table on one work
 * directory, make-style. A stage is current when its output is at least as new as call.json and
 * every earlier output, so re-running after a failure resumes, and re-running after changing the
 * call's metadata redoes only what depends on it.
 */
#include "sdra/pipeline.h"
#include "sdra/util.h"

#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

static int mtime_of(const char *dir, const char *name, struct timespec *out)
{
    char path[PATH_MAX];
    struct stat st;
    if (sdra_path_join(path, sizeof path, dir, name) < 0 || stat(path, &st) < 0)
        return -1;
    *out = st.st_mtim;
    return 0;
}

static int older(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

int sdra_pipeline_stage_is_current(const char *workdir, int stage)
{
    const sdra_stage *s = sdra_pipeline_stage(stage);
    struct timespec out, in;
    if (!s || mtime_of(workdir, s->output, &out) < 0)
        return 0;
    if (mtime_of(workdir, "call.json", &in) == 0 && older(&out, &in))
        return 0;
    for (int i = 0; i < stage; i++) {
        const sdra_stage *e = sdra_pipeline_stage(i);
        if (mtime_of(workdir, e->output, &in) < 0 || older(&out, &in))
            return 0;
    }
    return 1;
}

int sdra_pipeline_run(const sdra_stage_ctx *ctx, int force, sdra_pipeline_stage_fn on_stage,
                      void *user_data, int *failed_stage, sdra_error *err)
{
    int redo = force;
    for (int i = 0; i < SDRA_N_STAGES; i++) {
        const sdra_stage *s = sdra_pipeline_stage(i);
        if (!redo && sdra_pipeline_stage_is_current(ctx->workdir, i)) {
            if (on_stage)
                on_stage(user_data, i, SDRA_N_STAGES, 1, 1, 0.0);
            continue;
        }
        redo = 1; /* everything after a re-run stage is re-run too */
        if (on_stage)
            on_stage(user_data, i, SDRA_N_STAGES, 0, 0, 0.0);
        double t0 = sdra_clock_s();
        int rc = s->run(ctx, err);
        if (rc < 0) {
            if (failed_stage)
                *failed_stage = i;
            sdra_error_prefix(err, "stage %s", s->name);
            return rc;
        }
        if (on_stage)
            on_stage(user_data, i, SDRA_N_STAGES, 1, 0, sdra_clock_s() - t0);
    }
    return 0;
}
