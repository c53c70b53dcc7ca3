/*
 * test_write_targets.c - sdra_file_write_atomic() by kind of target: a regular file is
 * replaced (mode 0600 whatever the umask); a character device, a FIFO and "-" are written
 * straight through and stay what they were; so is a symbolic link to a regular file (the link
 * stays a link: /dev/stdout redirected to a file once became a regular file); a directory, a socket and a block device are
 * refused with one line before anything is written. sdra_mkdir_p() and
 * sdra_file_create_private() give what they create 0700 / 0600 whatever the umask.
 *
 * The device nodes are copies made with mknod in a scratch directory (as root), never the
 * real /dev/null: if the write regressed, only the copy would be replaced.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sdra/error.h"
#include "sdra/util.h"

#define NAME_MAX_BYTES 512 /* scratch paths: dir (< 256) + a short name */
static char dir[256];

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("SDRA_TEST_TMP");
    char b[200];
    if (snprintf(b, sizeof b, "%s", base && *base ? base : "/tmp") >= (int)sizeof b)
        return -1;
    mkdir(b, 0700);
    snprintf(dir, sizeof dir, "%s/write-targets.XXXXXX", b);
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[sizeof dir + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_in(char *out, const char *name)
{
    snprintf(out, NAME_MAX_BYTES, "%s/%.200s", dir, name);
}

static void assert_one_line(const sdra_error *err)
{
    assert_true(err->msg[0] != '\0');
    assert_null(strchr(err->msg, '\n'));
}

static void write_keeps_character_device(void **state)
{
    (void)state;
    char p[NAME_MAX_BYTES];
    path_in(p, "null");
    if (mknod(p, S_IFCHR | 0666, makedev(1, 3)) < 0) /* a copy of /dev/null */
        skip();
    sdra_error err = {0};
    assert_int_equal(sdra_file_write_atomic(p, "hello\n", 6, &err), 0);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(major(st.st_rdev), 1);
    assert_int_equal(minor(st.st_rdev), 3);
    json_t *doc = json_pack("{s:s}", "a", "b");
    assert_int_equal(sdra_json_write_file(p, doc, &err), 0);
    json_decref(doc);
    assert_int_equal(stat(p, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", p, (int)getpid());
    assert_int_equal(access(tmp, F_OK), -1); /* no temporary left behind */
}

static void write_through_fifo(void **state)
{
    (void)state;
    char p[NAME_MAX_BYTES], outp[NAME_MAX_BYTES];
    path_in(p, "fifo");
    path_in(outp, "fifo.out");
    assert_int_equal(mkfifo(p, 0600), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* the reader: copies what comes through the FIFO to a file */
        alarm(20);      /* never outlive a writer that did not come */
        int in = open(p, O_RDONLY), out = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        char buf[256];
        ssize_t n;
        if (in < 0 || out < 0)
            _exit(2);
        while ((n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n)
                _exit(3);
        _exit(n < 0 ? 4 : 0);
    }
    sdra_error err = {0};
    int rc = sdra_file_write_atomic(p, "through the pipe\n", 17, &err);
    struct stat st;
    int still_fifo = stat(p, &st) == 0 && S_ISFIFO(st.st_mode);
    if (!still_fifo) /* replaced: the reader waits on a FIFO nobody can open any more */
        kill(pid, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(rc, 0);
    assert_true(still_fifo);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *got = NULL;
    size_t n = 0;
    assert_int_equal(sdra_file_read(&got, &n, outp, 1024, &err), 0);
    assert_string_equal(got, "through the pipe\n");
    free(got);
}

static void write_dash_is_stdout(void **state)
{
    (void)state;
    char p[NAME_MAX_BYTES];
    path_in(p, "stdout.txt");
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0); /* a regression would leave a file "-" here, not in cwd */
    fflush(stdout);
    int saved = dup(STDOUT_FILENO), fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, STDOUT_FILENO);
    close(fd);
    sdra_error err = {0};
    int rc = sdra_file_write_atomic("-", "to stdout\n", 10, &err);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    assert_int_equal(rc, 0);
    int dash = access("-", F_OK);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(dash, -1); /* no file named "-" */
    char *got = NULL;
    assert_int_equal(sdra_file_read(&got, NULL, p, 1024, &err), 0);
    assert_string_equal(got, "to stdout\n");
    free(got);
}

static void write_refuses_directory_socket_block_device(void **state)
{
    (void)state;
    char d[NAME_MAX_BYTES], s[NAME_MAX_BYTES], b[NAME_MAX_BYTES];
    path_in(d, "adir");
    path_in(s, "sock");
    path_in(b, "blk");
    assert_int_equal(mkdir(d, 0700), 0);
    sdra_error err = {0};
    assert_int_equal(sdra_file_write_atomic(d, "x", 1, &err), SDRA_EINVAL);
    assert_one_line(&err);
    assert_non_null(strstr(err.msg, "directory"));
    struct stat st;
    assert_int_equal(stat(d, &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    assert_true(fd >= 0 && strlen(s) < sizeof sa.sun_path);
    memcpy(sa.sun_path, s, strlen(s) + 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    memset(&err, 0, sizeof err);
    assert_int_equal(sdra_file_write_atomic(s, "x", 1, &err), SDRA_EINVAL);
    assert_one_line(&err);
    assert_non_null(strstr(err.msg, "socket"));
    assert_int_equal(stat(s, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    close(fd);

    if (mknod(b, S_IFBLK | 0600, makedev(7, 0)) == 0) { /* a copy of a loop device node */
        memset(&err, 0, sizeof err);
        assert_int_equal(sdra_file_write_atomic(b, "x", 1, &err), SDRA_EINVAL);
        assert_one_line(&err);
        assert_non_null(strstr(err.msg, "block device"));
        assert_int_equal(stat(b, &st), 0);
        assert_true(S_ISBLK(st.st_mode));
    }
}

/* /dev/stdout is a link to /proc/self/fd/1; with stdout redirected to a file, -o /dev/stdout
 * once renamed a temporary over the link, turning the system's /dev/stdout into a file. */
static void write_through_symlink_to_file(void **state)
{
    (void)state;
    char target[NAME_MAX_BYTES], link[NAME_MAX_BYTES];
    path_in(target, "real.txt");
    path_in(link, "stdout-link");
    sdra_error err = {0};
    assert_int_equal(sdra_file_write_atomic(target, "old contents, longer than the new\n", 34, &err), 0);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(sdra_file_write_check(link, &err), 1);
    assert_int_equal(sdra_file_write_atomic(link, "new\n", 4, &err), 0);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    char *got = NULL;
    assert_int_equal(sdra_file_read(&got, NULL, target, 64, &err), 0);
    assert_string_equal(got, "new\n"); /* truncated, then written */
    free(got);
}

static void write_regular_file_0600_whatever_umask(void **state)
{
    (void)state;
    char p[NAME_MAX_BYTES];
    path_in(p, "plain.json");
    mode_t old = umask(0);
    sdra_error err = {0};
    assert_int_equal(sdra_file_write_atomic(p, "one", 3, &err), 0);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    umask(0277); /* even a umask that takes the owner's write bit away */
    assert_int_equal(sdra_file_write_atomic(p, "two", 3, &err), 0);
    umask(old);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    char *got = NULL;
    assert_int_equal(sdra_file_read(&got, NULL, p, 16, &err), 0);
    assert_string_equal(got, "two");
    free(got);
}

static void mkdir_and_create_private_whatever_umask(void **state)
{
    (void)state;
    char existing[NAME_MAX_BYTES], deep[NAME_MAX_BYTES + 8], f[NAME_MAX_BYTES + 16];
    path_in(existing, "shared");
    assert_int_equal(mkdir(existing, 0755), 0);
    chmod(existing, 0755);
    snprintf(deep, sizeof deep, "%s/a/b", existing);
    mode_t old = umask(0);
    sdra_error err = {0};
    assert_int_equal(sdra_mkdir_p(deep, &err), 0);
    snprintf(f, sizeof f, "%s/db", deep);
    assert_int_equal(sdra_file_create_private(f, &err), 0);
    umask(old);
    struct stat st;
    assert_int_equal(stat(deep, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    char a[NAME_MAX_BYTES + 8];
    snprintf(a, sizeof a, "%s/a", existing);
    assert_int_equal(stat(a, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(stat(existing, &st), 0); /* not created here: left as it was */
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_int_equal(stat(f, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_size, 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    /* an existing file is left alone (contents and mode) */
    chmod(f, 0640);
    assert_int_equal(sdra_file_create_private(f, &err), 0);
    assert_int_equal(stat(f, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(write_keeps_character_device, setup, teardown),
        cmocka_unit_test_setup_teardown(write_through_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(write_dash_is_stdout, setup, teardown),
        cmocka_unit_test_setup_teardown(write_through_symlink_to_file, setup, teardown),
        cmocka_unit_test_setup_teardown(write_refuses_directory_socket_block_device, setup, teardown),
        cmocka_unit_test_setup_teardown(write_regular_file_0600_whatever_umask, setup, teardown),
        cmocka_unit_test_setup_teardown(mkdir_and_create_private_whatever_umask, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
