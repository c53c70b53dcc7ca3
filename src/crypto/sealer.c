/*
 * sealer.c - self-contained encrypted files (sdra/crypt.h): each file carries its own data key
 * wrapped by the master, so a package written by `sdra run --encrypt` needs only the master key
 * to be read back (`sdra decrypt`), and deleting the file is deleting its key.
 */
#include "sdra/crypt.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int sdra_crypt_resolve_inline(void *user_data, const char *key_id, const unsigned char *wrapped, sdra_crypt_key **out,
                              sdra_error *err)
{
    const sdra_crypt_key *m = user_data;
    if (!wrapped)
        return sdra_error_set(err, SDRA_EUNSUPPORTED,
                              "the file is encrypted with the stored data key %s: give the server's --data DIR", key_id);
    if (strcmp(key_id, sdra_crypt_key_id(m)))
        return sdra_error_set(err, SDRA_EDENIED, "the file was encrypted under master key %s, not the one given (%s)",
                              key_id, sdra_crypt_key_id(m));
    return sdra_crypt_unwrap(m, key_id, wrapped, SDRA_CRYPT_WRAPPED_BYTES, out, err);
}

static int seal_file(void *ud, const void *in, size_t n, unsigned char **out, size_t *out_n, sdra_error *err)
{
    sdra_crypt_sealer *s = ud;
    sdra_crypt_key *dk = NULL;
    int rc = sdra_crypt_key_generate(&dk, "file", err);
    if (rc == 0)
        rc = sdra_crypt_seal_buf(dk, s->master, in, n, out, out_n, err);
    sdra_crypt_key_destroy(dk);
    return rc;
}

static int open_file(void *ud, const void *in, size_t n, size_t max, char **out, size_t *out_n, sdra_error *err)
{
    sdra_crypt_sealer *s = ud;
    return sdra_crypt_open_buf(in, n, max, sdra_crypt_resolve_inline, (void *)s->master, out, out_n, err);
}

int sdra_crypt_fd_plain_memfd(int fd, sdra_crypt_resolve_fn resolve, void *user_data, int *out_fd, sdra_error *err)
{
    int mfd = memfd_create("sdra-plain", MFD_CLOEXEC);
    if (mfd < 0)
        return sdra_error_set(err, SDRA_EIO, "memfd_create: %s", strerror(errno));
    int rc = lseek(fd, 0, SEEK_SET) == 0 ? 0 : sdra_error_set(err, SDRA_EIO, "seek: %s", strerror(errno));
    if (rc == 0)
        rc = sdra_crypt_fd_decrypt(fd, mfd, resolve, user_data, err);
    if (rc == 0 && lseek(mfd, 0, SEEK_SET) != 0)
        rc = sdra_error_set(err, SDRA_EIO, "seek: %s", strerror(errno));
    if (rc < 0) {
        close(mfd);
        return rc;
    }
    *out_fd = mfd;
    return 0;
}

static int open_fd(void *ud, int fd, int *out_fd, sdra_error *err)
{
    sdra_crypt_sealer *s = ud;
    return sdra_crypt_fd_plain_memfd(fd, sdra_crypt_resolve_inline, (void *)s->master, out_fd, err);
}

int sdra_crypt_seal_reader_open(int fd, sdra_crypt_resolve_fn resolve, void *user_data, void **reader,
                                int64_t *plain_bytes, sdra_error *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || lseek(fd, 0, SEEK_SET) != 0)
        return sdra_error_set(err, SDRA_EIO, "encrypted file: %s", strerror(errno));
    sdra_crypt_reader *r = NULL;
    int rc = sdra_crypt_reader_open(&r, fd, resolve, user_data, err);
    if (rc < 0)
        return rc;
    *plain_bytes = sdra_crypt_reader_plain_bytes(r, (int64_t)st.st_size);
    if (*plain_bytes < 0) {
        sdra_crypt_reader_close(r);
        return sdra_error_set(err, SDRA_EINVAL, "encrypted file truncated (its length fits no chunk layout)");
    }
    *reader = r;
    return 0;
}

int sdra_crypt_seal_reader_read(void *reader, void *buf, size_t n, size_t *got, sdra_error *err)
{
    return sdra_crypt_reader_read(reader, buf, n, got, err);
}

void sdra_crypt_seal_reader_close(void *reader)
{
    sdra_crypt_reader_close(reader);
}

static int reader_open(void *ud, int fd, void **reader, int64_t *plain_bytes, sdra_error *err)
{
    sdra_crypt_sealer *s = ud;
    return sdra_crypt_seal_reader_open(fd, sdra_crypt_resolve_inline, (void *)s->master, reader, plain_bytes, err);
}

/* Database fields (the local CRM of `sdra run --encrypt`): sealed under a key derived from the
 * master (so the master alone reads them back), looked up by a blind index under another. */
#define RUN_FIELDS_KEY "run-fields"
static int derived_key(const sdra_crypt_sealer *s, int which, sdra_crypt_key **out, sdra_error *err)
{
    unsigned char sub[SDRA_CRYPT_KEY_BYTES];
    crypto_kdf_derive_from_key(sub, sizeof sub, (uint64_t)which + 1, "sdrarun_", sdra_crypt_key_bytes(s->master));
    int rc = sdra_crypt_key_from_bytes(out, which ? "run-index" : RUN_FIELDS_KEY, sub, err);
    sodium_memzero(sub, sizeof sub);
    return rc;
}

static char *seal_text(void *ud, const char *key_id, const char *text)
{
    sdra_crypt_key *k = NULL;
    sdra_error e = {0};
    if (derived_key(ud, 0, &k, &e) < 0)
        return NULL;
    char *v = sdra_crypt_field_seal(k, text, strlen(text));
    sdra_crypt_key_destroy(k);
    return v;
}

static int open_text(void *ud, const char *value, char **out, sdra_error *err)
{
    char id[SDRA_CRYPT_KEY_ID_MAX];
    sdra_crypt_key *k = NULL;
    int rc = sdra_crypt_field_key_id(value, id, err);
    if (rc < 0)
        return rc;
    if (strcmp(id, RUN_FIELDS_KEY))
        return sdra_error_set(err, SDRA_EDENIED, "the value is sealed with key %s, not this master's", id);
    if ((rc = derived_key(ud, 0, &k, err)) == 0)
        rc = sdra_crypt_field_open(k, value, out, err);
    sdra_crypt_key_destroy(k);
    return rc;
}

static int blind(void *ud, const char *text, char out[SDRA_SEAL_BLIND_MAX])
{
    sdra_crypt_key *k = NULL;
    sdra_error e = {0};
    if (derived_key(ud, 1, &k, &e) < 0)
        return -1;
    sdra_crypt_blind(k, text, out);
    sdra_crypt_key_destroy(k);
    return 0;
}

void sdra_crypt_sealer_init(sdra_crypt_sealer *s, const sdra_crypt_key *master)
{
    memset(s, 0, sizeof *s);
    s->master = master;
    s->ops = (sdra_seal_ops){.user_data = s,
                             .seal_file = seal_file,
                             .open_file = open_file,
                             .open_fd = open_fd,
                             .reader_open = reader_open,
                             .reader_read = sdra_crypt_seal_reader_read,
                             .reader_close = sdra_crypt_seal_reader_close,
                             .seal_text = seal_text,
                             .open_text = open_text,
                             .blind = blind};
}
