/*
 * cmd_blob.c - `sdra blob check|put|get|head|rm|rm-prefix`: the object store a server keeps
 * audio and artifacts in (sdra/blob.h), by hand: check that a location and its credentials
 * work before starting servers on it, copy objects in and out (moving a data directory to S3),
 * and remove them. Credentials come from the environment only (docs/deploy.md).
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sdra/blob.h"
#include "sdra/util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sdra blob [--blob URL | --data DIR] check\n"
            "       sdra blob [--blob URL | --data DIR] put KEY FILE|-\n"
            "       sdra blob [--blob URL | --data DIR] get KEY FILE|- [--range FIRST-LAST]\n"
            "       sdra blob [--blob URL | --data DIR] head KEY\n"
            "       sdra blob [--blob URL | --data DIR] rm KEY\n"
            "       sdra blob [--blob URL | --data DIR] rm-prefix PREFIX/\n\n"
            "The object store where `sdra serve --blob URL` keeps audio and artifacts, under keys\n"
            "like calls/<id>/transcript.json.\n"
            "  check       open the store (one request to S3): 'ok' or one line saying why not\n"
            "  put         store FILE (- = standard input) as KEY; large sources go in 8 MiB parts\n"
            "  get         write KEY to FILE (- = standard output), or the bytes FIRST-LAST of it\n"
            "  head        print KEY's size in bytes\n"
            "  rm          remove KEY (absent is not an error)\n"
            "  rm-prefix   remove every object under PREFIX/ and print how many\n\n"
            "options:\n"
            "  --blob URL     s3://BUCKET[/PREFIX], file://DIR or a directory (default $SDRA_BLOB,\n"
            "                 else the data directory)\n"
            "  --data DIR     data directory (default $SDRA_DATA or ~/.local/share/sdra)\n"
            "  --range A-B    get: bytes A to B inclusive (B empty: to the end)\n"
            "  -h, --help     this text\n"
            "S3 settings and credentials come from the environment: SDRA_S3_ENDPOINT, SDRA_S3_REGION,\n"
            "SDRA_S3_PATH_STYLE, SDRA_S3_TIMEOUT_MS, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,\n"
            "AWS_SESSION_TOKEN (each also NAME_FILE). Exit status: 0 done, 1 failed, 2 usage.\n");
}

static long fd_in(void *ud, char *buf, size_t n)
{
    ssize_t got = read(*(int *)ud, buf, n);
    return got < 0 ? SDRA_EIO : (long)got;
}

static int fd_out(void *ud, const char *data, size_t n)
{
    return fwrite(data, 1, n, (FILE *)ud) == n ? 0 : SDRA_EIO;
}

int cmd_blob(int argc, char **argv)
{
    static const struct option opts[] = {
        {"blob", required_argument, 0, 'b'}, {"data", required_argument, 0, 'd'},
        {"range", required_argument, 0, 'r'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *url = getenv("SDRA_BLOB"), *data = NULL, *range = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': url = optarg; break;
        case 'd': data = optarg; break;
        case 'r': range = optarg; break;
        case 'h': usage(stdout); return SDRA_EXIT_OK;
        default: return cli_usage_error("blob", "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error("blob", "which command? check, put, get, head, rm or rm-prefix");
    const char *cmd = argv[optind];
    int nargs = argc - optind - 1;
    char **args = argv + optind + 1;
    int want = !strcmp(cmd, "check") ? 0 : !strcmp(cmd, "put") || !strcmp(cmd, "get") ? 2
             : !strcmp(cmd, "head") || !strcmp(cmd, "rm") || !strcmp(cmd, "rm-prefix") ? 1 : -1;
    if (want < 0)
        return cli_usage_error("blob", "unknown command '%s'", cmd);
    if (nargs != want)
        return cli_usage_error("blob", "%s takes %d argument%s", cmd, want, want == 1 ? "" : "s");
    if (range && strcmp(cmd, "get") != 0)
        return cli_usage_error("blob", "--range is for get");
    long long first = 0, last = -1;
    if (range) {
        char *end = NULL;
        first = strtoll(range, &end, 10);
        if (!end || end == range || *end != '-' || first < 0)
            return cli_usage_error("blob", "--range: FIRST-LAST (bytes, LAST may be empty)");
        if (end[1]) {
            char *e2 = NULL;
            last = strtoll(end + 1, &e2, 10);
            if (!e2 || *e2 || last < first)
                return cli_usage_error("blob", "--range: FIRST-LAST with LAST >= FIRST");
        }
    }
    sdra_error err = {0};
    char dir[4096];
    if (!url || !*url) {
        if (sdra_user_data_dir(dir, sizeof dir, data) < 0)
            return cli_usage_error("blob", "data directory path too long");
        url = dir;
    }
    sdra_blob *b = NULL;
    if (sdra_blob_open(&b, url, &err) < 0)
        return cli_fail(&err);
    int rc = 0;
    if (!strcmp(cmd, "check")) {
        printf("ok: %s (%s)\n", sdra_blob_location(b), sdra_blob_backend(b));
    } else if (!strcmp(cmd, "put")) {
        if (!strcmp(args[1], "-")) {
            int fd = 0;
            rc = sdra_blob_put_stream(b, args[0], fd_in, &fd, &err);
        } else {
            rc = sdra_blob_put_file(b, args[0], args[1], &err);
        }
    } else if (!strcmp(cmd, "get")) {
        if (!strcmp(args[1], "-")) {
            rc = sdra_blob_get_range(b, args[0], first, last < 0 ? -1 : last - first + 1, fd_out, stdout, &err);
            if (fflush(stdout) != 0 && rc == 0)
                rc = sdra_error_set(&err, SDRA_EIO, "standard output: write failed");
        } else if (range) {
            FILE *f = NULL;
            if ((rc = sdra_file_write_check(args[1], &err)) >= 0 && !(f = fopen(args[1], "wb")))
                rc = sdra_error_set(&err, SDRA_EIO, "%s: cannot write", args[1]);
            if (f) {
                rc = sdra_blob_get_range(b, args[0], first, last < 0 ? -1 : last - first + 1, fd_out, f, &err);
                if (fclose(f) != 0 && rc == 0)
                    rc = sdra_error_set(&err, SDRA_EIO, "%s: write failed", args[1]);
            }
        } else if ((rc = sdra_file_write_check(args[1], &err)) >= 0) {
            rc = sdra_blob_get_file(b, args[0], args[1], &err);
        }
    } else if (!strcmp(cmd, "head")) {
        int64_t size = 0;
        if ((rc = sdra_blob_head(b, args[0], &size, &err)) == 0)
            printf("%lld\n", (long long)size);
    } else if (!strcmp(cmd, "rm")) {
        rc = sdra_blob_delete(b, args[0], &err);
    } else {
        int n = 0;
        if ((rc = sdra_blob_delete_prefix(b, args[0], &n, &err)) == 0)
            printf("%d\n", n);
    }
    sdra_blob_close(b);
    return rc < 0 ? cli_fail(&err) : SDRA_EXIT_OK;
}
