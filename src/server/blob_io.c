/*
 * blob_io.c - where a server's calls meet the object store (sdra/blob.h, `serve --blob`).
 *
 * The object store holds what a call is: its audio, call.json and every file its stages
 * wrote, under calls/<id>/<name>, the same relative path the job store records for an
 * artifact. DATA/calls/<id>/ is the machine's working copy: a worker pulls the call's objects
 * into it before a stage and pushes what the stage wrote (and removes what it deleted) before
 * the stage's completion is recorded, so that another machine never sees an artifact whose
 * object is missing; an API node fetches a file it lacks when a client asks for it. With the
 * default store (the data directory itself) each object is its own working copy and all of
 * this costs a stat per file.
 *
 * A failure of the object store fails the stage or the request with one line and marks the
 * error retryable: the job waits in the queue until the store answers again.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sdra/log.h"
#include "sdra/rights.h"
#include "sdra/util.h"

int srv_blob_open(struct sdra_server *s, sdra_error *err)
{
    const char *url = s->p.blob_url && *s->p.blob_url ? s->p.blob_url : s->data_dir;
    int rc = sdra_blob_open(&s->blob, url, err);
    if (rc < 0)
        return sdra_error_prefix(err, "object store");
    return 0;
}

/* A failure of the store: retryable, and its message without the store's location (a
 * job's last error and an API answer never show where the server keeps its objects):
 * "object store: calls/<id>/audio.mp3: HTTP 403 AccessDenied: ...". */
static int store_failed(struct sdra_server *s, sdra_error *err, int rc)
{
    if (!err || rc >= 0)
        return rc;
    if (rc != SDRA_EINVAL)
        err->retryable = true;
    const char *loc = sdra_blob_location(s->blob);
    size_t ll = strlen(loc);
    char *p;
    while (ll > 1 && (p = strstr(err->msg, loc)) != NULL) {
        size_t skip = ll + (p[ll] == '/' ? 1 : 0);
        memmove(p, p + skip, strlen(p + skip) + 1);
    }
    char tmp[SDRA_ERROR_MSG_MAX + 16];
    snprintf(tmp, sizeof tmp, "object store: %s", err->msg[0] == ':' ? err->msg + 2 : err->msg);
    sdra_strlcpy(err->msg, tmp, sizeof err->msg);
    return rc;
}

/* A file of a call directory that is an object (not a temporary file being written). */
static bool is_object_name(const char *name)
{
    char key[SDRA_BLOB_KEY_MAX];
    if (name[0] == '.' || strstr(name, ".tmp-") || strstr(name, ".part-") || strstr(name, ".tmp"))
        return false;
    snprintf(key, sizeof key, "calls/x/%s", name);
    return sdra_blob_key_valid(key);
}

typedef struct pull_walk {
    struct sdra_server *s;
    const char *dir;
    size_t prefix_len;
    sdra_error *err;
} pull_walk;

static int pull_one(void *ud, const char *key, int64_t size)
{
    pull_walk *w = ud;
    const char *name = key + w->prefix_len;
    char path[PATH_MAX];
    struct stat st;
    if (strchr(name, '/') || !is_object_name(name)) /* a call's objects are flat */
        return 0;
    if (snprintf(path, sizeof path, "%s/%s", w->dir, name) >= (int)sizeof path)
        return sdra_error_set(w->err, SDRA_ELIMIT, "%s: path too long", name);
    if (stat(path, &st) == 0 && (int64_t)st.st_size == size)
        return 0; /* already here (or the object's own file) */
    return sdra_blob_get_file(w->s->blob, key, path, w->err);
}

static void snap_take(srv_blob_snap *snap, const char *dir)
{
    snap->n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL && snap->n < SRV_BLOB_SNAP_MAX) {
        char path[PATH_MAX];
        struct stat st;
        if (!is_object_name(e->d_name) || strlen(e->d_name) >= sizeof snap->f[0].name ||
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path || stat(path, &st) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        sdra_strlcpy(snap->f[snap->n].name, e->d_name, sizeof snap->f[0].name);
        snap->f[snap->n].size = (int64_t)st.st_size;
        snap->f[snap->n].mtime = st.st_mtim;
        snap->n++;
    }
    if (d)
        closedir(d);
}

int srv_blob_pull(struct sdra_server *s, const char *call_id, const char *dir, srv_blob_snap *snap, sdra_error *err)
{
    char prefix[SDRA_STORE_ID_MAX + 16];
    snprintf(prefix, sizeof prefix, "calls/%s/", call_id);
    int rc = sdra_mkdir_p(dir, err);
    if (rc < 0)
        return rc;
    pull_walk w = {s, dir, strlen(prefix), err};
    if ((rc = sdra_blob_list(s->blob, prefix, pull_one, &w, err)) < 0)
        return store_failed(s, err, rc);
    if (snap)
        snap_take(snap, dir);
    return 0;
}

static const struct srv_blob_file *snap_find(const srv_blob_snap *snap, const char *name)
{
    for (int i = 0; snap && i < snap->n; i++)
        if (!strcmp(snap->f[i].name, name))
            return &snap->f[i];
    return NULL;
}

int srv_blob_push(struct sdra_server *s, const char *call_id, const char *dir, const srv_blob_snap *snap,
                  sdra_error *err)
{
    srv_blob_snap now;
    snap_take(&now, dir);
    char key[SDRA_BLOB_KEY_MAX], path[PATH_MAX];
    int rc = 0;
    for (int i = 0; rc == 0 && i < now.n; i++) {
        const struct srv_blob_file *was = snap_find(snap, now.f[i].name);
        if (was && was->size == now.f[i].size && was->mtime.tv_sec == now.f[i].mtime.tv_sec &&
            was->mtime.tv_nsec == now.f[i].mtime.tv_nsec)
            continue; /* unchanged since the pull */
        snprintf(key, sizeof key, "calls/%s/%s", call_id, now.f[i].name);
        snprintf(path, sizeof path, "%s/%s", dir, now.f[i].name);
        rc = sdra_blob_put_file(s->blob, key, path, err);
    }
    /* what the stage removed (the original audio after redaction) goes from the store too */
    for (int i = 0; rc == 0 && snap && i < snap->n; i++) {
        if (snap_find(&now, snap->f[i].name))
            continue;
        snprintf(key, sizeof key, "calls/%s/%s", call_id, snap->f[i].name);
        rc = sdra_blob_delete(s->blob, key, err);
    }
    return rc < 0 ? store_failed(s, err, rc) : 0;
}

int srv_blob_local(struct sdra_server *s, const char *rel, const char *path, int64_t newer_than_ms, sdra_error *err)
{
    struct stat st;
    if (stat(path, &st) == 0 &&
        (newer_than_ms <= 0 || (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000 >= newer_than_ms))
        return 0;
    if (!sdra_blob_key_valid(rel))
        return sdra_error_set(err, SDRA_ENOTFOUND, "no such file");
    char dir[PATH_MAX];
    sdra_strlcpy(dir, path, sizeof dir);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        int rc = sdra_mkdir_p(dir, err);
        if (rc < 0)
            return rc;
    }
    int rc = sdra_blob_get_file(s->blob, rel, path, err);
    if (rc == SDRA_ENOTFOUND) /* the message names the object, not where the server keeps it */
        return sdra_error_set(err, SDRA_ENOTFOUND, "%s: not stored", strrchr(rel, '/') + 1);
    return rc < 0 ? store_failed(s, err, rc) : 0;
}

int srv_blob_store(struct sdra_server *s, const char *rel, const char *path, sdra_error *err)
{
    int rc = sdra_blob_put_file(s->blob, rel, path, err);
    return rc < 0 ? store_failed(s, err, rc) : 0;
}

int srv_blob_forget(struct sdra_server *s, const char *call_id, sdra_error *err)
{
    char prefix[SDRA_STORE_ID_MAX + 16];
    int n = 0;
    snprintf(prefix, sizeof prefix, "calls/%s/", call_id);
    int rc = sdra_blob_delete_prefix(s->blob, prefix, &n, err);
    return rc < 0 ? store_failed(s, err, rc) : 0;
}

static int exists_cb(void *server, const char *rel, sdra_error *err)
{
    struct sdra_server *s = server;
    int64_t size;
    int rc = sdra_blob_head(s->blob, rel, &size, err);
    return rc < 0 ? store_failed(s, err, rc) : 0;
}

static int fetch_cb(void *server, const char *rel, sdra_error *err)
{
    struct sdra_server *s = server;
    char path[PATH_MAX];
    if (sdra_path_join(path, sizeof path, s->data_dir, rel) < 0)
        return sdra_error_set(err, SDRA_ELIMIT, "path too long");
    return srv_blob_local(s, rel, path, 0, err);
}

static int remove_cb(void *server, const char *rel, sdra_error *err)
{
    struct sdra_server *s = server;
    int rc = sdra_blob_delete(s->blob, rel, err);
    return rc < 0 ? store_failed(s, err, rc) : 0;
}

void srv_blob_rights_hooks(struct sdra_server *s, struct sdra_rights_ctx *cx)
{
    cx->object_exists = exists_cb;
    cx->object_fetch = fetch_cb;
    cx->object_remove = remove_cb;
    cx->object_user = s;
}
