/*
 * audio_test_util.h - what the audio tests share: a scratch directory under $SDRA_TEST_TMP,
 * generating inputs with the ffmpeg command-line tool (never committed audio), feeding a file
 * to stdin through a pipe, and simple signal measures. Header-only: each test_*.c is its own
 * executable.
 */
#ifndef SDRA_AUDIO_TEST_UTIL_H
#define SDRA_AUDIO_TEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sdra/audio.h"

/* $SDRA_TEST_TMP/audio (created), or /tmp/sdra-audio-test-<pid> when run by hand. */
static inline const char *atu_dir(void)
{
    static char dir[512];
    if (!dir[0]) {
        const char *base = getenv("SDRA_TEST_TMP");
        if (base && *base)
            snprintf(dir, sizeof dir, "%s/audio", base);
        else
            snprintf(dir, sizeof dir, "/tmp/sdra-audio-test-%d", (int)getpid());
        char cmd[600];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
        if (system(cmd) != 0) {
            fprintf(stderr, "cannot create %s\n", dir);
            exit(1);
        }
    }
    return dir;
}

/* Path of a scratch file named name. */
static inline const char *atu_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", atu_dir(), name);
    return out;
}

/* Runs a shell command (printf-style); returns its exit status. */
static int atu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int atu_sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    return rc == 0 ? 0 : 1;
}

/* Writes bytes to a scratch file. */
static inline int atu_write(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, n, f);
    fclose(f);
    return w == n ? 0 : -1;
}

/* Makes stdin read the file path through a pipe (non-seekable, like `cat f | sdra ...`);
 * returns the saved stdin to hand to atu_stdin_restore. *child is the writer process. */
static inline int atu_stdin_from(const char *path, pid_t *child)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(fds[0]);
        signal(SIGPIPE, SIG_DFL);
        int in = open(path, O_RDONLY);
        char buf[65536];
        ssize_t r;
        while (in >= 0 && (r = read(in, buf, sizeof buf)) > 0) {
            char *p = buf;
            while (r > 0) {
                ssize_t w = write(fds[1], p, (size_t)r);
                if (w <= 0)
                    _exit(0);
                p += w;
                r -= w;
            }
        }
        _exit(0);
    }
    close(fds[1]);
    int saved = dup(STDIN_FILENO);
    dup2(fds[0], STDIN_FILENO);
    close(fds[0]);
    *child = pid;
    return saved;
}

static inline void atu_stdin_restore(int saved, pid_t child)
{
    dup2(saved, STDIN_FILENO);
    close(saved);
    int st;
    kill(child, SIGTERM);
    waitpid(child, &st, 0);
}

/* Normalised correlation of x and y over [from, to). */
static inline double atu_corr(const int16_t *x, const double *y, size_t from, size_t to)
{
    double xy = 0, xx = 0, yy = 0;
    for (size_t i = from; i < to; i++) {
        xy += x[i] * y[i];
        xx += (double)x[i] * x[i];
        yy += y[i] * y[i];
    }
    if (xx <= 0 || yy <= 0)
        return 0;
    return xy / sqrt(xx * yy);
}

/* RMS of x over [from, to), in sample units. */
static inline double atu_rms(const int16_t *x, size_t from, size_t to)
{
    double acc = 0;
    for (size_t i = from; i < to; i++)
        acc += (double)x[i] * x[i];
    return to > from ? sqrt(acc / (double)(to - from)) : 0;
}

#endif
