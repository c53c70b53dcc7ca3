/*
 * util.c - files with size limits, atomic writes, mkdir -p, the resource directory, clocks,
 * time formatting and JSON files (sdra/util.h).
 */
#include "sdra/util.h"
#include "sdra/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

size_t sdra_strlcpy(char *dst, const char *src, size_t n)
{
    size_t len = strlen(src);
    if (n) {
        size_t c = len < n - 1 ? len : n - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return len;
}

size_t sdra_utf8_decode(const char *s, size_t avail, unsigned *cp_out)
{
    const unsigned char *p = (const unsigned char *)s;
    if (!avail)
        return 0;
    unsigned c = p[0], cp;
    size_t len;
    if (c < 0x80)
        cp = c, len = 1;
    else if (c >= 0xc2 && c <= 0xdf)
        cp = c & 0x1f, len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        cp = c & 0x0f, len = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        cp = c & 0x07, len = 4;
    else
        return 0;
    if (len > avail)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    if (cp_out)
        *cp_out = cp;
    return len;
}

int sdra_text_check_line(const char *what, const char *s, sdra_error *err)
{
    const char *p = s ? s : "";
    size_t at = 0, n = strlen(p);
    while (at < n) {
        unsigned cp;
        size_t len = sdra_utf8_decode(p + at, n - at, &cp);
        if (!len)
            return sdra_error_set(err, SDRA_EINVAL, "%s: not valid UTF-8 (byte %zu)", what, at + 1);
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
            return sdra_error_set(err, SDRA_EINVAL, "%s: contains a control character (U+%04X)", what, cp);
        if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
            return sdra_error_set(err, SDRA_EINVAL, "%s: contains a bidirectional control (U+%04X)", what, cp);
        if (cp == 0x2028 || cp == 0x2029)
            return sdra_error_set(err, SDRA_EINVAL, "%s: contains a line or paragraph separator (U+%04X)", what, cp);
        at += len;
    }
    return 0;
}

int sdra_file_read(char **out, size_t *len_out, const char *path, size_t max_bytes, sdra_error *err)
{
    int is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f)
        return sdra_error_set(err, sdra_code_from_errno(errno), "%s: %s", path, strerror(errno));
    struct stat st;
    if (!is_stdin && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return sdra_error_set(err, SDRA_EINVAL, "%s: is a directory", path);
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    int rc = 0;
    if (!buf) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (;;) {
        if (len + 1 >= cap) {
            if (cap > max_bytes + 1) {
                rc = sdra_error_set(err, SDRA_ELIMIT, "%s: larger than the limit of %zu bytes", path, max_bytes);
                goto done;
            }
            char *p = realloc(buf, cap * 2);
            if (!p) {
                rc = sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", path);
                goto done;
            }
            buf = p;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (len > max_bytes) {
            rc = sdra_error_set(err, SDRA_ELIMIT, "%s: larger than the limit of %zu bytes", path, max_bytes);
            goto done;
        }
        if (n == 0) {
            if (ferror(f))
                rc = sdra_error_set(err, SDRA_EIO, "%s: read error", path);
            break;
        }
    }
done:
    if (!is_stdin)
        fclose(f);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    if (sdra_seal_is_sealed(buf, len)) { /* encrypted at rest: the installed hook opens it */
        const sdra_seal_ops *so = sdra_seal_get();
        char *plain = NULL;
        size_t plain_n = 0;
        if (!so || !so->open_file)
            rc = sdra_error_set(err, SDRA_EDENIED, "%s: encrypted (sdra) file: no key to read it", path);
        else if ((rc = so->open_file(so->user_data, buf, len, max_bytes, &plain, &plain_n, err)) < 0)
            sdra_error_prefix(err, "%s", path);
        free(buf);
        if (rc < 0)
            return rc;
        buf = plain;
        len = plain_n;
    }
    *out = buf;
    if (len_out)
        *len_out = len;
    return 0;
}

int sdra_write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    size_t left = n;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) { /* no progress: a full device; never spin */
            errno = EIO;
            return -1;
        }
        p += w;
        left -= (size_t)w;
    }
    return 0;
}

/* A character device, a FIFO or "-" (stdout) is written straight through: renaming a
 * temporary file over /dev/null would replace the device node with a regular file. So is a
 * symbolic link (/dev/stdout -> /proc/self/fd/1 redirected to a file): renaming over the link
 * would replace the link itself, and the file the link names would never get the output. */
static int write_through(const char *path, const void *data, size_t n, sdra_error *err)
{
    bool is_stdout = strcmp(path, "-") == 0;
    struct stat lst;
    bool via_link = !is_stdout && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode);
    int fd = is_stdout ? STDOUT_FILENO : open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return sdra_error_set(err, sdra_code_from_errno(errno), "%s: cannot write: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    if (!is_stdout && (fstat(fd, &st) < 0 ||
                       !(S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) || (via_link && S_ISREG(st.st_mode))))) {
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: changed while being opened", path); /* raced */
        goto done;
    }
    if (!is_stdout && S_ISREG(st.st_mode) && !(fcntl(fd, F_GETFL) & O_APPEND) && ftruncate(fd, 0) < 0) {
        rc = sdra_error_set(err, sdra_code_from_errno(errno), "%s: cannot truncate: %s", path, strerror(errno));
        goto done;
    }
    if (sdra_write_all(fd, data, n) < 0)
        rc = sdra_error_set(err, sdra_code_from_errno(errno), "%s: write failed: %s", path, strerror(errno));
done:
    if (!is_stdout && close(fd) < 0 && rc == 0)
        rc = sdra_error_set(err, SDRA_EIO, "%s: write failed: %s", path, strerror(errno));
    return rc;
}

int sdra_file_write_check(const char *path, sdra_error *err)
{
    struct stat st;
    if (!strcmp(path, "-"))
        return 1;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        return sdra_error_set(err, sdra_code_from_errno(errno), "%s: cannot write: %s", path, strerror(errno));
    }
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))
        return 1;
    if (S_ISREG(st.st_mode)) {
        struct stat lst;
        return lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode) ? 1 : 0;
    }
    return sdra_error_set(err, SDRA_EINVAL, "%s: cannot write: %s, not a file, character device or FIFO", path,
                          S_ISDIR(st.st_mode) ? "a directory" : S_ISSOCK(st.st_mode) ? "a socket"
                                                              : S_ISBLK(st.st_mode)  ? "a block device"
                                                                                     : "a special file");
}

static int file_write_plain(const char *path, const void *data, size_t n, sdra_error *err);

/* With a sealing hook installed (sdra/seal.h), regular files are written encrypted. */
int sdra_file_write_atomic(const char *path, const void *data, size_t n, sdra_error *err)
{
    const sdra_seal_ops *so = sdra_seal_get();
    if (!so || !so->seal_file || strcmp(path, "-") == 0 || sdra_file_write_check(path, NULL) != 0)
        return file_write_plain(path, data, n, err);
    unsigned char *sealed = NULL;
    size_t sealed_n = 0;
    int rc = so->seal_file(so->user_data, data, n, &sealed, &sealed_n, err);
    if (rc == 0)
        rc = file_write_plain(path, sealed, sealed_n, err);
    free(sealed);
    return rc;
}

static int file_write_plain(const char *path, const void *data, size_t n, sdra_error *err)
{
    int kind = sdra_file_write_check(path, err);
    if (kind < 0)
        return kind;
    if (kind == 1)
        return write_through(path, data, n, err);
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= sizeof tmp)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return sdra_error_set(err, sdra_code_from_errno(errno), "%s: cannot write: %s", path, strerror(errno));
    /* 0600 whatever the umask: what sdra writes is call data. */
    if (fchmod(fd, 0600) < 0 || sdra_write_all(fd, data, n) < 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return sdra_error_set(err, sdra_code_from_errno(e), "%s: write failed: %s", path, strerror(e));
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        int e = errno;
        unlink(tmp);
        return sdra_error_set(err, SDRA_EIO, "%s: write failed: %s", path, strerror(e));
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return sdra_error_set(err, sdra_code_from_errno(e), "%s: cannot replace: %s", path, strerror(e));
    }
    return 0;
}

int sdra_file_create_private(const char *path, sdra_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return 0;
        return sdra_error_set(err, sdra_code_from_errno(errno), "%s: cannot create: %s", path, strerror(errno));
    }
    int rc = 0;
    if (fchmod(fd, 0600) < 0)
        rc = sdra_error_set(err, sdra_code_from_errno(errno), "%s: cannot set mode 0600: %s", path, strerror(errno));
    close(fd);
    return rc;
}

int sdra_mkdir_p(const char *path, sdra_error *err)
{
    char buf[PATH_MAX];
    if (sdra_strlcpy(buf, path, sizeof buf) >= sizeof buf)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0700) == 0) {
                /* 0700 whatever the umask, for the directories created here only: an
                 * existing directory keeps the mode its owner gave it. */
                if (chmod(buf, 0700) < 0)
                    return sdra_error_set(err, sdra_code_from_errno(errno), "%s: cannot set mode 0700: %s", buf,
                                          strerror(errno));
            } else if (errno != EEXIST) {
                return sdra_error_set(err, sdra_code_from_errno(errno), "%s: cannot create directory: %s", buf, strerror(errno));
            }
            *p = c;
            if (c == '\0')
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return sdra_error_set(err, SDRA_EINVAL, "%s: not a directory", path);
    return 0;
}

/* The installed layout, <prefix>/bin/sdra beside <prefix>/share/sdra, wherever the tree was
 * moved: found once from /proc/self/exe. Empty when this binary is not in such a tree. */
static char installed_share[PATH_MAX];
static pthread_once_t installed_share_once = PTHREAD_ONCE_INIT;

static void find_installed_share(void)
{
    char exe[PATH_MAX], cand[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    *slash = '\0';
    struct stat st;
    if ((size_t)snprintf(cand, sizeof cand, "%s/../share/sdra", exe) < sizeof cand && stat(cand, &st) == 0 &&
        S_ISDIR(st.st_mode) && !realpath(cand, installed_share))
        installed_share[0] = '\0';
}

const char *sdra_share_dir(void)
{
    const char *e = getenv("SDRA_SHARE_DIR");
    if (e && *e)
        return e;
    pthread_once(&installed_share_once, find_installed_share);
    if (installed_share[0])
        return installed_share;
#ifdef SDRA_SOURCE_DATA_DIR
    return SDRA_SOURCE_DATA_DIR;
#else
    return "data";
#endif
}

int sdra_share_path(char *out, size_t n, const char *rel)
{
    if ((size_t)snprintf(out, n, "%s/%s", sdra_share_dir(), rel) >= n)
        return SDRA_ELIMIT;
    return 0;
}

int sdra_user_data_dir(char *out, size_t n, const char *explicit_dir)
{
    const char *e = getenv("SDRA_DATA"), *home = getenv("HOME");
    int w;
    if (explicit_dir && *explicit_dir)
        w = snprintf(out, n, "%s", explicit_dir);
    else if (e && *e)
        w = snprintf(out, n, "%s", e);
    else
        w = snprintf(out, n, "%s/.local/share/sdra", home && *home ? home : ".");
    return w < 0 || (size_t)w >= n ? SDRA_ELIMIT : 0;
}

int sdra_path_join(char *out, size_t n, const char *dir, const char *name)
{
    int w = snprintf(out, n, "%s/%s", dir, name);
    return w < 0 || (size_t)w >= n ? SDRA_ELIMIT : 0;
}

double sdra_clock_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sdra_fmt_hms(char *out, size_t n, double seconds, char ms_sep)
{
    if (seconds < 0)
        seconds = 0;
    long long ms = (long long)(seconds * 1000.0 + 0.5);
    long long h = ms / 3600000, m = (ms / 60000) % 60, s = (ms / 1000) % 60, r = ms % 1000;
    if (ms_sep)
        snprintf(out, n, "%02lld:%02lld:%02lld%c%03lld", h, m, s, ms_sep, r);
    else
        snprintf(out, n, "%02lld:%02lld:%02lld", h, m, s);
}

int sdra_json_load_file(json_t **out, const char *path, size_t max_bytes, sdra_error *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = sdra_file_read(&text, &len, path, max_bytes, err);
    if (rc < 0)
        return rc;
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!doc) {
        if (len == 0)
            return sdra_error_set(err, SDRA_EINVAL, "%s: empty file", path);
        return sdra_error_set(err, SDRA_EINVAL, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    }
    *out = doc;
    return 0;
}

int sdra_json_load_doc(json_t **out, const char *dir, const char *name, size_t max_bytes,
                       int optional, sdra_error *err)
{
    char path[PATH_MAX];
    struct stat st;
    *out = NULL;
    if (sdra_path_join(path, sizeof path, dir, name) < 0)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: path too long", dir);
    if (optional && stat(path, &st) < 0 && errno == ENOENT)
        return 0;
    int rc = sdra_json_load_file(out, path, max_bytes, err);
    if (rc == 0 && !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        rc = sdra_error_set(err, SDRA_EINVAL, "%s: not a JSON object", path);
    }
    return rc;
}

int sdra_json_write_file(const char *path, const json_t *doc, sdra_error *err)
{
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    if (!s)
        return sdra_error_set(err, SDRA_ENOMEM, "%s: cannot serialise document", path);
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (!t) {
        free(s);
        return sdra_error_set(err, SDRA_ENOMEM, "%s: out of memory", path);
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    int rc = sdra_file_write_atomic(path, t, n + 1, err);
    free(t);
    return rc;
}
