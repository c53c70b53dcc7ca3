/*
 * local.c - the object store in a local directory: key K is the file DIR/K. What the data
 * directory of `sdra serve` always held, behind the same contract as S3: a put writes a
 * temporary file beside the object (mode 0600), fsyncs and renames it, so readers see the old
 * object or the new; a delete by prefix removes the directory the prefix names.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob/internal.h"
#include "sdra/util.h"

#define IO_CHUNK (64u << 10)

typedef struct local {
    char root[PATH_MAX];
} local;

static int path_of(sdra_blob *b, const char *key, char *out, size_t n)
{
    local *l = b->impl;
    return snprintf(out, n, "%s/%s", l->root, key) >= (int)n ? SDRA_ELIMIT : 0;
}

static int local_file_of(sdra_blob *b, const char *key, char *out, size_t n)
{
    return path_of(b, key, out, n);
}

static int errno_fail(sdra_error *err, const char *what, const char *key)
{
    int e = errno;
    return sdra_error_set(err, sdra_code_from_errno(e), "%s: %s: %s", key, what, strerror(e));
}

static int local_put(sdra_blob *b, const char *key, sdra_blob_read_fn fn, void *ud, int64_t size_hint,
                     sdra_error *err)
{
    char path[PATH_MAX], tmp[PATH_MAX + 16];
    if (path_of(b, key, path, sizeof path) < 0)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", key);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    int rc = sdra_mkdir_p(path, err);
    *slash = '/';
    if (rc < 0)
        return rc;
    snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path);
    char *buf = malloc(IO_CHUNK);
    int fd = buf ? mkstemp(tmp) : -1;
    if (fd < 0) {
        free(buf);
        return buf ? errno_fail(err, "create", key) : sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", key);
    }
    for (;;) {
        long got = fn(ud, buf, IO_CHUNK);
        if (got < 0) {
            rc = sdra_error_set(err, (int)got, "%s: the source failed: %s", key, sdra_strerror((int)got));
            break;
        }
        if (got == 0)
            break;
        for (long off = 0; off < got;) {
            ssize_t w = write(fd, buf + off, (size_t)(got - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                rc = errno_fail(err, "write", key);
                break;
            }
            off += w;
        }
        if (rc < 0)
            break;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = errno_fail(err, "fsync", key);
    if (close(fd) != 0 && rc == 0)
        rc = errno_fail(err, "close", key);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = errno_fail(err, "rename", key);
    if (rc < 0)
        unlink(tmp);
    free(buf);
    (void)size_hint;
    return rc;
}

static int local_get_range(sdra_blob *b, const char *key, int64_t first, int64_t len, sdra_blob_write_fn fn,
                           void *ud, sdra_error *err)
{
    char path[PATH_MAX];
    if (path_of(b, key, path, sizeof path) < 0)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", key);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? sdra_error_set(err, SDRA_ENOTFOUND, "%s: no such object", key)
                               : errno_fail(err, "open", key);
    struct stat st;
    int rc = 0;
    char *buf = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = sdra_error_set(err, SDRA_EIO, "%s: not a regular file", key);
        goto done;
    }
    if (first > 0 && first >= (int64_t)st.st_size) {
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: range starts at %lld, past the end (%lld bytes)", key,
                            (long long)first, (long long)st.st_size);
        goto done;
    }
    int64_t left = (int64_t)st.st_size - first;
    if (len >= 0 && len < left)
        left = len;
    if (!(buf = malloc(IO_CHUNK))) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", key);
        goto done;
    }
    int64_t off = first;
    while (left > 0) {
        size_t want = left < (int64_t)IO_CHUNK ? (size_t)left : IO_CHUNK;
        ssize_t got = pread(fd, buf, want, off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = errno_fail(err, "read", key);
            goto done;
        }
        if (got == 0) {
            rc = sdra_error_set(err, SDRA_EIO, "%s: shrank while read", key);
            goto done;
        }
        if ((rc = fn(ud, buf, (size_t)got)) < 0) {
            rc = sdra_error_set(err, rc, "%s: the sink failed: %s", key, sdra_strerror(rc));
            goto done;
        }
        off += got;
        left -= got;
    }
done:
    free(buf);
    close(fd);
    return rc;
}

static int local_head(sdra_blob *b, const char *key, int64_t *size_out, sdra_error *err)
{
    char path[PATH_MAX];
    struct stat st;
    if (path_of(b, key, path, sizeof path) < 0)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", key);
    if (stat(path, &st) != 0)
        return errno == ENOENT || errno == ENOTDIR ? sdra_error_set(err, SDRA_ENOTFOUND, "%s: no such object", key)
                                                   : errno_fail(err, "stat", key);
    if (!S_ISREG(st.st_mode))
        return sdra_error_set(err, SDRA_ENOTFOUND, "%s: no such object", key);
    *size_out = (int64_t)st.st_size;
    return 0;
}

static int local_del(sdra_blob *b, const char *key, sdra_error *err)
{
    char path[PATH_MAX];
    if (path_of(b, key, path, sizeof path) < 0)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", key);
    if (unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR)
        return errno_fail(err, "delete", key);
    return 0;
}

/* rm -rf path, counting the files removed; 0 or -errno. */
static int rm_tree(const char *path, int *n)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) != 0 && errno != ENOENT)
            return -errno;
        (*n)++;
        return 0;
    }
    DIR *d = opendir(path);
    if (!d)
        return -errno;
    int rc = 0;
    struct dirent *e;
    char sub[PATH_MAX];
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) >= (int)sizeof sub)
            rc = -ENAMETOOLONG;
        else
            rc = rm_tree(sub, n);
    }
    closedir(d);
    if (rc == 0 && rmdir(path) != 0 && errno != ENOENT)
        rc = -errno;
    return rc;
}

static int local_del_prefix(sdra_blob *b, const char *prefix, int *n_deleted, sdra_error *err)
{
    char path[PATH_MAX];
    if (path_of(b, prefix, path, sizeof path) < 0)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", prefix);
    path[strlen(path) - 1] = '\0';
    int rc = rm_tree(path, n_deleted);
    if (rc < 0)
        return sdra_error_set(err, sdra_code_from_errno(-rc), "%s: delete: %s", prefix, strerror(-rc));
    return 0;
}

/* Walks dir (the file of key prefix rel), calling fn for regular files; temporary files of a
 * put or get in progress are not objects. */
static int walk(const char *dir, char *rel, size_t rel_cap, sdra_blob_list_fn fn, void *ud, sdra_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT || errno == ENOTDIR ? 0 : sdra_error_set(err, SDRA_EIO, "%s: %s", rel, strerror(errno));
    int rc = 0;
    struct dirent *e;
    size_t rl = strlen(rel);
    char sub[PATH_MAX];
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || strstr(e->d_name, ".tmp-") ||
            strstr(e->d_name, ".part-"))
            continue;
        if (snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name) >= (int)sizeof sub ||
            rl + strlen(e->d_name) + 2 >= rel_cap)
            continue;
        struct stat st;
        if (lstat(sub, &st) != 0)
            continue;
        snprintf(rel + rl, rel_cap - rl, "%s", e->d_name);
        if (S_ISDIR(st.st_mode)) {
            snprintf(rel + rl, rel_cap - rl, "%s/", e->d_name);
            rc = walk(sub, rel, rel_cap, fn, ud, err);
        } else if (S_ISREG(st.st_mode) && sdra_blob_key_valid(rel)) {
            rc = fn(ud, rel, (int64_t)st.st_size);
        }
        rel[rl] = '\0';
    }
    closedir(d);
    return rc;
}

static int local_list(sdra_blob *b, const char *prefix, sdra_blob_list_fn fn, void *ud, sdra_error *err)
{
    char path[PATH_MAX], rel[SDRA_BLOB_KEY_MAX];
    if (path_of(b, prefix, path, sizeof path) < 0)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", prefix);
    path[strlen(path) - 1] = '\0';
    sdra_strlcpy(rel, prefix, sizeof rel);
    return walk(path, rel, sizeof rel, fn, ud, err);
}

static void local_close(sdra_blob *b)
{
    free(b->impl);
}

static const blob_ops local_ops = {
    .name = "local",
    .put_stream = local_put,
    .get_range = local_get_range,
    .head = local_head,
    .del = local_del,
    .del_prefix = local_del_prefix,
    .list = local_list,
    .file_of = local_file_of,
    .close = local_close,
};

int blob_local_open(sdra_blob *b, const char *dir, sdra_error *err)
{
    if (!*dir)
        return sdra_error_set(err, SDRA_EINVAL, "object store: empty directory");
    local *l = calloc(1, sizeof *l);
    if (!l)
        return sdra_error_set(err, SDRA_ENOMEM, "object store: out of memory");
    if (sdra_strlcpy(l->root, dir, sizeof l->root) >= sizeof l->root - SDRA_BLOB_KEY_MAX - 32) {
        free(l);
        return sdra_error_set(err, SDRA_ELIMIT, "%.200s: directory path too long", dir);
    }
    size_t n = strlen(l->root);
    while (n > 1 && l->root[n - 1] == '/')
        l->root[--n] = '\0';
    int rc = sdra_mkdir_p(l->root, err);
    struct stat st;
    if (rc == 0 && (stat(l->root, &st) != 0 || !S_ISDIR(st.st_mode)))
        rc = sdra_error_set(err, SDRA_EINVAL, "%.200s: not a directory", l->root);
    if (rc < 0) {
        free(l);
        return rc;
    }
    b->impl = l;
    b->ops = &local_ops;
    sdra_strlcpy(b->location, l->root, sizeof b->location);
    return 0;
}
