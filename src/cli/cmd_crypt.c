/*
 * cmd_crypt.c - the commands of encryption at rest (docs/security.md): `sdra decrypt FILE`
 * (a file sdra wrote encrypted, back to plaintext) and `sdra keys rotate-master` (every data
 * key of a server's data directory re-wrapped under a new master key, in one transaction; no
 * data is re-encrypted), and `sdra encrypt` (a self-contained encrypted file). The master key comes from --master-key-file, --master-key-cmd,
 * $SDRA_MASTER_KEY or, for a data directory, DATA/master.key, as for `sdra serve`.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sdra/crm.h"
#include "sdra/crypt.h"
#include "sdra/server.h"
#include "sdra/util.h"

/* Loads a master key from file, cmd or env_var, else (data_dir not NULL) DATA/master.key. */
int cli_master_load(sdra_crypt_key **out, const char *file, const char *cmd, const char *env_var,
                    const char *data_dir, sdra_error *err)
{
    sdra_crypt_master_params mp = {.key_file = file, .key_cmd = cmd, .env_var = env_var};
    int rc = sdra_crypt_master_load(out, &mp, err);
    if (rc == SDRA_ENOTFOUND && !file && data_dir) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/master.key", data_dir);
        mp = (sdra_crypt_master_params){.key_file = path};
        rc = sdra_crypt_master_load(out, &mp, err);
        if (rc == SDRA_ENOTFOUND)
            sdra_error_set(err, SDRA_ENOTFOUND, "no master key: give --master-key-file, --master-key-cmd or "
                                                "$%s (and %s does not exist)", env_var, path);
    }
    return rc;
}

/* ---- sdra decrypt ------------------------------------------------------------------------ */

typedef struct decrypt_ctx {
    sdra_crypt_key *master;
    sdra_store *store;
} decrypt_ctx;

static int decrypt_resolve(void *ud, const char *key_id, const unsigned char *wrapped, sdra_crypt_key **out,
                           sdra_error *err)
{
    decrypt_ctx *d = ud;
    if (wrapped || !d->store)
        return sdra_crypt_resolve_inline(d->master, key_id, wrapped, out, err);
    return sdra_server_data_key(d->store, d->master, key_id, out, err);
}

static void decrypt_usage(FILE *f)
{
    fprintf(f, "usage: sdra decrypt FILE [-o OUT] [--data DIR] [--master-key-file F | --master-key-cmd CMD]\n\n"
               "Writes the plaintext of a file sdra encrypted at rest: a package file of\n"
               "'sdra run --encrypt' (needs the master key) or a file under a server's data\n"
               "directory (needs --data DIR too: its data key is in DIR/sdra.db). A file whose\n"
               "call was deleted cannot be decrypted: its data key is gone.\n"
               "  -o, --output OUT        write there (0600; default: stdout)\n"
               "  --data DIR              the server's data directory (its master.key is the default key)\n"
               "  --master-key-file F     the master key (64 hex digits); else --master-key-cmd CMD,\n"
               "  --master-key-cmd CMD    whose stdout is the key, else $SDRA_MASTER_KEY\n");
}

int cmd_decrypt(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, 0, 'o'},
                                         {"data", required_argument, 0, 'd'},
                                         {"master-key-file", required_argument, 0, 'k'},
                                         {"master-key-cmd", required_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *out_path = NULL, *data = NULL, *kfile = NULL, *kcmd = NULL;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out_path = optarg; break;
        case 'd': data = optarg; break;
        case 'k': kfile = optarg; break;
        case 'c': kcmd = optarg; break;
        case 'h': decrypt_usage(stdout); return SDRA_EXIT_OK;
        default: return cli_usage_error("decrypt", "bad option");
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("decrypt", optind >= argc ? "missing FILE" : "expected one FILE");
    const char *in_path = argv[optind];
    decrypt_ctx d = {0};
    sdra_error err = {0};
    int rc = 0, in = -1, out = -1;
    char tmp[PATH_MAX] = "";
    if ((in = open(in_path, O_RDONLY | O_CLOEXEC)) < 0) {
        sdra_error_set(&err, sdra_code_from_errno(errno), "%s: %s", in_path, strerror(errno));
        rc = cli_fail(&err);
        goto done;
    }
    unsigned char head[SDRA_CRYPT_MAGIC_BYTES];
    if (pread(in, head, sizeof head, 0) != (ssize_t)sizeof head || !sdra_crypt_is_sealed(head, sizeof head)) {
        sdra_error_set(&err, SDRA_EINVAL, "%s: not an sdra-encrypted file", in_path);
        rc = cli_fail(&err);
        goto done;
    }
    if (data) {
        struct stat sb;
        char db[PATH_MAX];
        snprintf(db, sizeof db, "%s/sdra.db", data);
        if (stat(db, &sb) < 0) {
            sdra_error_set(&err, SDRA_ENOTFOUND, "%s: no data directory of sdra serve (no sdra.db)", data);
            rc = cli_fail(&err);
            goto done;
        }
    }
    if (cli_master_load(&d.master, kfile, kcmd, "SDRA_MASTER_KEY", data, &err) < 0 ||
        (data && sdra_server_store_open(&d.store, data, &err) < 0)) {
        rc = cli_fail(&err);
        goto done;
    }
    if (out_path && strcmp(out_path, "-")) {
        snprintf(tmp, sizeof tmp, "%s.tmp.%d", out_path, (int)getpid());
        out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (out < 0) {
            sdra_error_set(&err, sdra_code_from_errno(errno), "%s: cannot write: %s", out_path, strerror(errno));
            tmp[0] = '\0';
            rc = cli_fail(&err);
            goto done;
        }
    } else {
        out = STDOUT_FILENO;
    }
    /* into a temporary file renamed at the end: a file that fails to authenticate half way
     * leaves no partial plaintext under OUT */
    if (sdra_crypt_fd_decrypt(in, out, decrypt_resolve, &d, &err) < 0) {
        sdra_error_prefix(&err, "%s", in_path);
        rc = cli_fail(&err);
        goto done;
    }
    if (tmp[0]) {
        if (fsync(out) < 0 || rename(tmp, out_path) < 0) {
            sdra_error_set(&err, SDRA_EIO, "%s: cannot write: %s", out_path, strerror(errno));
            rc = cli_fail(&err);
            goto done;
        }
        tmp[0] = '\0';
    }
done:
    if (tmp[0])
        unlink(tmp);
    if (out >= 0 && out != STDOUT_FILENO)
        close(out);
    if (in >= 0)
        close(in);
    sdra_store_close(d.store);
    sdra_crypt_key_destroy(d.master);
    return rc;
}

/* ---- sdra encrypt ------------------------------------------------------------------------ */

static void encrypt_usage(FILE *f)
{
    fprintf(f, "usage: sdra encrypt FILE -o OUT [--master-key-file F | --master-key-cmd CMD]\n\n"
               "Writes FILE encrypted as a self-contained sdra file (its own data key, wrapped by the\n"
               "master key; the format of 'sdra run --encrypt'), streamed in 64 KiB chunks.\n"
               "'sdra decrypt' reads it back.\n"
               "  -o, --output OUT        write there (0600)\n"
               "  --master-key-file F     the master key (64 hex digits); else --master-key-cmd CMD,\n"
               "  --master-key-cmd CMD    whose stdout is the key, else $SDRA_MASTER_KEY\n");
}

int cmd_encrypt(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, 0, 'o'},
                                         {"master-key-file", required_argument, 0, 'k'},
                                         {"master-key-cmd", required_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *out_path = NULL, *kfile = NULL, *kcmd = NULL;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out_path = optarg; break;
        case 'k': kfile = optarg; break;
        case 'c': kcmd = optarg; break;
        case 'h': encrypt_usage(stdout); return SDRA_EXIT_OK;
        default: return cli_usage_error("encrypt", "bad option");
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("encrypt", optind >= argc ? "missing FILE" : "expected one FILE");
    if (!out_path)
        return cli_usage_error("encrypt", "give -o OUT");
    const char *in_path = argv[optind];
    sdra_crypt_key *master = NULL, *dk = NULL;
    sdra_crypt_writer *w = NULL;
    sdra_error err = {0};
    int rc = 0, in = -1, out = -1;
    char tmp[PATH_MAX] = "";
    static unsigned char buf[1 << 20];
    if ((in = open(in_path, O_RDONLY | O_CLOEXEC)) < 0) {
        sdra_error_set(&err, sdra_code_from_errno(errno), "%s: %s", in_path, strerror(errno));
        goto fail;
    }
    if (cli_master_load(&master, kfile, kcmd, "SDRA_MASTER_KEY", NULL, &err) < 0 ||
        sdra_crypt_key_generate(&dk, "file", &err) < 0)
        goto fail;
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", out_path, (int)getpid());
    if ((out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
        sdra_error_set(&err, sdra_code_from_errno(errno), "%s: cannot write: %s", out_path, strerror(errno));
        tmp[0] = '\0';
        goto fail;
    }
    if (sdra_crypt_writer_open(&w, out, dk, master, &err) < 0)
        goto fail;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            sdra_error_set(&err, SDRA_EIO, "%s: read failed: %s", in_path, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        if (sdra_crypt_writer_write(w, buf, (size_t)n, &err) < 0)
            goto fail;
    }
    sdra_crypt_writer *done_w = w;
    w = NULL;
    if (sdra_crypt_writer_close(done_w, &err) < 0)
        goto fail;
    if (fsync(out) < 0 || rename(tmp, out_path) < 0) {
        sdra_error_set(&err, SDRA_EIO, "%s: cannot write: %s", out_path, strerror(errno));
        goto fail;
    }
    tmp[0] = '\0';
    goto done;
fail:
    rc = cli_fail(&err);
done:
    sdra_crypt_writer_abort(w);
    if (tmp[0])
        unlink(tmp);
    if (out >= 0)
        close(out);
    if (in >= 0)
        close(in);
    sdra_crypt_key_destroy(dk);
    sdra_crypt_key_destroy(master);
    return rc;
}

/* ---- sdra keys rotate-master ------------------------------------------------------------- */

typedef struct rotate_ctx {
    sdra_crypt_key *old_master, *new_master;
} rotate_ctx;

static int rewrap(void *ud, const char *id, const char *master_id, const unsigned char *wrapped, size_t n,
                  char *new_master_id, unsigned char *new_wrapped, size_t *new_n, sdra_error *err)
{
    rotate_ctx *r = ud;
    const sdra_crypt_key *from = !strcmp(master_id, sdra_crypt_key_id(r->new_master)) ? r->new_master
                                 : !strcmp(master_id, sdra_crypt_key_id(r->old_master)) ? r->old_master
                                                                                          : NULL;
    if (!from)
        return sdra_error_set(err, SDRA_EDENIED, "data key %s is wrapped by master key %s, neither the old (%s) nor the new one",
                              id, master_id, sdra_crypt_key_id(r->old_master));
    sdra_crypt_key *dk = NULL;
    int rc = sdra_crypt_unwrap(from, id, wrapped, n, &dk, err);
    if (rc == 0)
        rc = sdra_crypt_wrap(r->new_master, dk, new_wrapped, err);
    sdra_crypt_key_destroy(dk);
    if (rc == 0) {
        snprintf(new_master_id, SDRA_STORE_ID_MAX, "%s", sdra_crypt_key_id(r->new_master));
        *new_n = SDRA_CRYPT_WRAPPED_BYTES;
    }
    return rc;
}

static void rotate_usage(FILE *f)
{
    fprintf(f, "usage: sdra keys rotate-master [--data DIR] [--master-key-file F | --master-key-cmd CMD]\n"
               "                              (--new-key-file F | --new-key-cmd CMD | $SDRA_NEW_MASTER_KEY)\n\n"
               "Re-wraps every data key of the data directory under a new master key, in one\n"
               "transaction; no data is re-encrypted. Afterwards start 'sdra serve' with the new key;\n"
               "the old one is no longer needed (destroy it: backups of sdra.db taken before then\n"
               "still hold the keys of deleted calls wrapped by it). The old key comes from\n"
               "--master-key-file, --master-key-cmd, $SDRA_MASTER_KEY or DIR/master.key.\n");
}

int cmd_keys_rotate_master(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},
                                         {"master-key-file", required_argument, 0, 'k'},
                                         {"master-key-cmd", required_argument, 0, 'c'},
                                         {"new-key-file", required_argument, 0, 'K'},
                                         {"new-key-cmd", required_argument, 0, 'C'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *data = NULL, *kfile = NULL, *kcmd = NULL, *nfile = NULL, *ncmd = NULL;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 'k': kfile = optarg; break;
        case 'c': kcmd = optarg; break;
        case 'K': nfile = optarg; break;
        case 'C': ncmd = optarg; break;
        case 'h': rotate_usage(stdout); return SDRA_EXIT_OK;
        default: return cli_usage_error("keys rotate-master", "bad option");
        }
    }
    if (optind < argc)
        return cli_usage_error("keys rotate-master", "unexpected argument '%s'", argv[optind]);
    char dir[1024];
    if (sdra_crm_default_data_dir(dir, sizeof dir, data) < 0)
        return cli_usage_error("keys rotate-master", "no data directory: give --data DIR");
    rotate_ctx r = {0};
    sdra_store *st = NULL;
    sdra_error err = {0};
    int rc = SDRA_EXIT_OK, n = 0;
    sdra_crypt_master_params np = {.key_file = nfile, .key_cmd = ncmd, .env_var = "SDRA_NEW_MASTER_KEY"};
    char db[PATH_MAX];
    struct stat sb;
    snprintf(db, sizeof db, "%s/sdra.db", dir);
    if (stat(db, &sb) < 0) {
        sdra_error_set(&err, SDRA_ENOTFOUND, "%s: no data directory of sdra serve (no sdra.db)", dir);
        rc = cli_fail(&err);
        goto done;
    }
    if (cli_master_load(&r.old_master, kfile, kcmd, "SDRA_MASTER_KEY", dir, &err) < 0) {
        sdra_error_prefix(&err, "old master key");
        rc = cli_fail(&err);
        goto done;
    }
    if (sdra_crypt_master_load(&r.new_master, &np, &err) < 0) {
        if (err.code == SDRA_ENOTFOUND)
            sdra_error_set(&err, SDRA_ENOTFOUND, "no new master key: give --new-key-file, --new-key-cmd or $SDRA_NEW_MASTER_KEY");
        sdra_error_prefix(&err, "new master key");
        rc = cli_fail(&err);
        goto done;
    }
    if (sdra_server_store_open(&st, dir, &err) < 0 || sdra_store_data_key_rewrap(st, rewrap, &r, &n, &err) < 0) {
        rc = cli_fail(&err);
        goto done;
    }
    sdra_store_audit_entry e = {.at_ms = sdra_store_now_ms()};
    snprintf(e.actor, sizeof e.actor, "cli:uid%u", (unsigned)getuid());
    snprintf(e.action, sizeof e.action, "master.rotate");
    snprintf(e.target, sizeof e.target, "%s", sdra_crypt_key_id(r.new_master));
    snprintf(e.ip, sizeof e.ip, "local");
    snprintf(e.detail, sizeof e.detail, "from=%s keys=%d", sdra_crypt_key_id(r.old_master), n);
    if (sdra_store_audit_append(st, &e, &err) < 0)
        sdra_log(SDRA_LOG_WARN, "master key rotated, but the audit entry failed: %s", err.msg);
    printf("re-wrapped %d data keys: master %s -> %s\n", n, sdra_crypt_key_id(r.old_master), sdra_crypt_key_id(r.new_master));
done:
    sdra_store_close(st);
    sdra_crypt_key_destroy(r.old_master);
    sdra_crypt_key_destroy(r.new_master);
    return rc;
}
