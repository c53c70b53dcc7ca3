/*
 * blob.c - the object store's public functions (sdra/blob.h): the location parsed into a
 * backend, keys checked once here, and the file conveniences (put from a file, get into one)
 * built on the backends' two streaming operations, so that each backend has one way in and one
 * way out.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob/internal.h"
#include "sdra/util.h"

sdra_blob_params sdra_blob_default_params(void)
{
    sdra_blob_params p = {0};
    p.path_style = -1;
    return p;
}

bool sdra_blob_key_valid(const char *key)
{
    if (!key || !*key || key[0] == '/' || strlen(key) >= SDRA_BLOB_KEY_MAX)
        return false;
    for (const char *c = key; *c; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
                  *c == '_' || *c == '-' || *c == '/';
        if (!ok || (c[0] == '/' && c[1] == '/'))
            return false;
    }
    if (key[strlen(key) - 1] == '/')
        return false;
    /* no "." or ".." segment */
    for (const char *s = key; s; s = strchr(s, '/') ? strchr(s, '/') + 1 : NULL) {
        size_t len = strcspn(s, "/");
        if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
            return false;
    }
    return true;
}

static int key_check(const char *key, sdra_error *err)
{
    if (sdra_blob_key_valid(key))
        return 0;
    return sdra_error_set(err, SDRA_EINVAL, "object key \"%.80s\" is not valid ([A-Za-z0-9._-/], relative, no \"..\")",
                          key ? key : "");
}

int sdra_blob_open_params(sdra_blob **out, const sdra_blob_params *p, sdra_error *err)
{
    if (!out || !p || !p->location || !*p->location)
        return sdra_error_set(err, SDRA_EINVAL, "object store: no location given");
    sdra_blob *b = calloc(1, sizeof *b);
    if (!b)
        return sdra_error_set(err, SDRA_ENOMEM, "object store: out of memory");
    const char *loc = p->location;
    int rc;
    if (strncmp(loc, "s3://", 5) == 0)
        rc = blob_s3_open(b, p, err);
    else if (strncmp(loc, "file://", 7) == 0)
        rc = blob_local_open(b, loc + 7, err);
    else if (strstr(loc, "://"))
        rc = sdra_error_set(err, SDRA_EINVAL, "%.200s: not an object store location (a directory, file://DIR or s3://BUCKET/PREFIX)",
                            loc);
    else
        rc = blob_local_open(b, loc, err);
    if (rc < 0) {
        free(b);
        return rc;
    }
    *out = b;
    return 0;
}

int sdra_blob_open(sdra_blob **out, const char *location, sdra_error *err)
{
    sdra_blob_params p = sdra_blob_default_params();
    p.location = location;
    return sdra_blob_open_params(out, &p, err);
}

void sdra_blob_close(sdra_blob *b)
{
    if (!b)
        return;
    if (b->ops && b->ops->close)
        b->ops->close(b);
    free(b);
}

const char *sdra_blob_backend(const sdra_blob *b)
{
    return b && b->ops ? b->ops->name : "none";
}

const char *sdra_blob_location(const sdra_blob *b)
{
    return b ? b->location : "";
}

/* The same file: path is the object's own file in the local backend. */
static bool same_file(sdra_blob *b, const char *key, const char *path)
{
    char own[4096];
    struct stat a, o;
    if (!b->ops->file_of || b->ops->file_of(b, key, own, sizeof own) < 0)
        return false;
    if (stat(own, &o) != 0 || stat(path, &a) != 0)
        return false;
    return a.st_dev == o.st_dev && a.st_ino == o.st_ino;
}

static long fd_read(void *ud, char *buf, size_t n)
{
    int fd = *(int *)ud;
    for (;;) {
        ssize_t got = read(fd, buf, n);
        if (got >= 0)
            return (long)got;
        if (errno != EINTR)
            return SDRA_EIO;
    }
}

int sdra_blob_put_file(sdra_blob *b, const char *key, const char *path, sdra_error *err)
{
    int rc = key_check(key, err);
    if (rc < 0)
        return rc;
    if (same_file(b, key, path))
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sdra_error_set(err, sdra_code_from_errno(errno), "%s: %s", path, strerror(errno));
    struct stat st;
    int64_t size = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
    rc = b->ops->put_stream(b, key, fd_read, &fd, size, err);
    if (rc == SDRA_EIO && err && !err->msg[0])
        sdra_error_set(err, SDRA_EIO, "%s: read failed", path);
    close(fd);
    return rc;
}

int sdra_blob_put_stream(sdra_blob *b, const char *key, sdra_blob_read_fn fn, void *user_data, sdra_error *err)
{
    int rc = key_check(key, err);
    if (rc < 0)
        return rc;
    if (!fn)
        return sdra_error_set(err, SDRA_EINVAL, "%s: no source", key);
    return b->ops->put_stream(b, key, fn, user_data, -1, err);
}

typedef struct fd_sink {
    int fd;
    int64_t n;
} fd_sink;

static int fd_write(void *ud, const char *data, size_t n)
{
    fd_sink *s = ud;
    while (n > 0) {
        ssize_t w = write(s->fd, data, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return SDRA_EIO;
        data += w;
        n -= (size_t)w;
        s->n += w;
    }
    return 0;
}

int sdra_blob_get_file(sdra_blob *b, const char *key, const char *path, sdra_error *err)
{
    int rc = key_check(key, err);
    if (rc < 0)
        return rc;
    if (same_file(b, key, path))
        return 0;
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.part-XXXXXX", path) >= (int)sizeof tmp)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", path);
    fd_sink s = {mkstemp(tmp), 0};
    if (s.fd < 0)
        return sdra_error_set(err, sdra_code_from_errno(errno), "%s: %s", path, strerror(errno));
    rc = b->ops->get_range(b, key, 0, -1, fd_write, &s, err);
    if (rc == 0 && fsync(s.fd) != 0)
        rc = sdra_error_set(err, SDRA_EIO, "%s: %s", path, strerror(errno));
    if (close(s.fd) != 0 && rc == 0)
        rc = sdra_error_set(err, SDRA_EIO, "%s: %s", path, strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = sdra_error_set(err, sdra_code_from_errno(errno), "%s: %s", path, strerror(errno));
    if (rc < 0)
        unlink(tmp);
    return rc;
}

int sdra_blob_get_stream(sdra_blob *b, const char *key, sdra_blob_write_fn fn, void *user_data, sdra_error *err)
{
    return sdra_blob_get_range(b, key, 0, -1, fn, user_data, err);
}

int sdra_blob_get_range(sdra_blob *b, const char *key, int64_t first, int64_t len, sdra_blob_write_fn fn,
                        void *user_data, sdra_error *err)
{
    int rc = key_check(key, err);
    if (rc < 0)
        return rc;
    if (!fn || first < 0)
        return sdra_error_set(err, SDRA_EINVAL, "%s: bad range", key);
    if (len == 0)
        return 0;
    return b->ops->get_range(b, key, first, len, fn, user_data, err);
}

int sdra_blob_head(sdra_blob *b, const char *key, int64_t *size_out, sdra_error *err)
{
    int rc = key_check(key, err);
    if (rc < 0)
        return rc;
    int64_t size = 0;
    if ((rc = b->ops->head(b, key, &size, err)) == 0 && size_out)
        *size_out = size;
    return rc;
}

int sdra_blob_delete(sdra_blob *b, const char *key, sdra_error *err)
{
    int rc = key_check(key, err);
    return rc < 0 ? rc : b->ops->del(b, key, err);
}

/* A prefix ends in "/" and names a valid key without it. */
static int prefix_check(const char *prefix, sdra_error *err)
{
    char k[SDRA_BLOB_KEY_MAX];
    size_t n = prefix ? strlen(prefix) : 0;
    if (n < 2 || n >= sizeof k || prefix[n - 1] != '/')
        return sdra_error_set(err, SDRA_EINVAL, "object prefix \"%.80s\" must end in \"/\"", prefix ? prefix : "");
    memcpy(k, prefix, n - 1);
    k[n - 1] = '\0';
    return key_check(k, err);
}

int sdra_blob_list(sdra_blob *b, const char *prefix, sdra_blob_list_fn fn, void *user_data, sdra_error *err)
{
    int rc = prefix_check(prefix, err);
    return rc < 0 ? rc : b->ops->list(b, prefix, fn, user_data, err);
}

int sdra_blob_delete_prefix(sdra_blob *b, const char *prefix, int *n_deleted, sdra_error *err)
{
    int rc = prefix_check(prefix, err);
    if (rc < 0)
        return rc;
    int nd = 0;
    rc = b->ops->del_prefix(b, prefix, &nd, err);
    if (n_deleted)
        *n_deleted = nd;
    return rc;
}
