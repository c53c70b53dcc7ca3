/*
 * at_rest.c - encryption at rest for the server (docs/security.md, "Encryption at rest"):
 * the master key (loaded, or created once as <data>/master.key), each call's data key (made at
 * upload, stored wrapped in the store's call_keys, unwrapped when a worker or a view needs it),
 * the two shared keys of the local CRM ("crm-fields" for contact fields, "crm-index" for the
 * blind index of email addresses), and the sealing table (sdra/seal.h) a thread installs while
 * it works on one call.
 *
 * Deleting a call deletes its call_keys row: whatever its key encrypted (audio, artifacts,
 * call.json, its metadata in the store, its CRM rows), in any copy, can no longer be read.
 */
#include "internal.h"

#include "sdra/crypt.h"
#include "sdra/log.h"
#include "sdra/seal.h"
#include "sdra/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#define CRM_FIELDS_KEY "crm-fields"
#define CRM_INDEX_KEY "crm-index"

struct srv_keyring {
    sdra_crypt_key *master;
    sdra_store *store;
    pthread_mutex_t mu;
    sdra_crypt_key *shared[2]; /* crm-fields, crm-index: made once, cached (guarded by mu) */
    char warning[PATH_MAX + 160]; /* where the master key lives, when it is next to the data */
};

int srv_keyring_open(srv_keyring **out, sdra_store *store, const char *data_dir, const char *key_file,
                     const char *key_cmd, sdra_error *err)
{
    sdra_crypt_master_params mp = {.key_file = key_file, .key_cmd = key_cmd, .env_var = "SDRA_MASTER_KEY"};
    sdra_crypt_key *m = NULL;
    char warning[PATH_MAX + 160] = "";
    int rc = sdra_crypt_master_load(&m, &mp, err);
    if (rc == SDRA_ENOTFOUND && !(key_file && *key_file)) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/master.key", data_dir);
        mp = (sdra_crypt_master_params){.key_file = path};
        sdra_error e2 = {0};
        if ((rc = sdra_crypt_master_load(&m, &mp, &e2)) == SDRA_ENOTFOUND) {
            if ((rc = sdra_crypt_master_create_file(path, &m, err)) == 0)
                snprintf(warning, sizeof warning,
                         "created the master key %s next to the data it protects: keep it elsewhere "
                         "(--master-key-file, --master-key-cmd or $SDRA_MASTER_KEY; docs/security.md)", path);
        } else if (rc < 0) {
            *err = e2;
        } else {
            snprintf(warning, sizeof warning, "the master key is %s, next to the data it protects (docs/security.md)",
                     path);
        }
    }
    if (rc < 0)
        return rc;
    srv_keyring *kr = calloc(1, sizeof *kr);
    if (!kr) {
        sdra_crypt_key_destroy(m);
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    }
    kr->master = m;
    kr->store = store;
    sdra_strlcpy(kr->warning, warning, sizeof kr->warning);
    pthread_mutex_init(&kr->mu, NULL);
    *out = kr;
    return 0;
}

const char *srv_keyring_warning(const srv_keyring *kr)
{
    return kr && kr->warning[0] ? kr->warning : NULL;
}

void srv_keyring_close(srv_keyring *kr)
{
    if (!kr)
        return;
    sdra_crypt_key_destroy(kr->master);
    for (int i = 0; i < 2; i++)
        sdra_crypt_key_destroy(kr->shared[i]);
    pthread_mutex_destroy(&kr->mu);
    free(kr);
}

const char *srv_keyring_master_id(const srv_keyring *kr) { return sdra_crypt_key_id(kr->master); }

int srv_keyring_store_key(srv_keyring *kr, const sdra_crypt_key *k, bool replace, sdra_error *err)
{
    unsigned char w[SDRA_CRYPT_WRAPPED_BYTES];
    int rc = sdra_crypt_wrap(kr->master, k, w, err);
    if (rc == 0)
        rc = sdra_store_data_key_put(kr->store, sdra_crypt_key_id(k), sdra_crypt_key_id(kr->master), w, sizeof w,
                                     replace, sdra_store_now_ms(), err);
    return rc;
}

int srv_keyring_new_key(srv_keyring *kr, const char *id, sdra_crypt_key **out, sdra_error *err)
{
    sdra_crypt_key *k = NULL;
    int rc = sdra_crypt_key_generate(&k, id, err);
    if (rc < 0 || (rc = srv_keyring_store_key(kr, k, false, err)) < 0) {
        sdra_crypt_key_destroy(k);
        return rc;
    }
    *out = k;
    return 0;
}

int sdra_server_data_key(sdra_store *store, const sdra_crypt_key *master, const char *id, sdra_crypt_key **out,
                         sdra_error *err)
{
    char mid[SDRA_STORE_ID_MAX];
    unsigned char w[SDRA_STORE_WRAPPED_MAX];
    size_t n = 0;
    int rc = sdra_store_data_key_get(store, id, mid, w, &n, err);
    if (rc < 0)
        return rc;
    if (strcmp(mid, sdra_crypt_key_id(master)))
        return sdra_error_set(err, SDRA_EDENIED, "the data key of %s is wrapped by master key %s, not the one given (%s)",
                              id, mid, sdra_crypt_key_id(master));
    return sdra_crypt_unwrap(master, id, w, n, out, err);
}

int srv_keyring_key(srv_keyring *kr, const char *id, sdra_crypt_key **out, sdra_error *err)
{
    return sdra_server_data_key(kr->store, kr->master, id, out, err);
}

/* A shared key, made on first use (a concurrent maker's key wins; both then read it). */
static int shared_key(srv_keyring *kr, int which, sdra_crypt_key **out, sdra_error *err)
{
    const char *id = which ? CRM_INDEX_KEY : CRM_FIELDS_KEY;
    pthread_mutex_lock(&kr->mu);
    int rc = 0;
    if (!kr->shared[which]) {
        sdra_crypt_key *k = NULL;
        rc = srv_keyring_key(kr, id, &k, err);
        if (rc == SDRA_ENOTFOUND) {
            rc = srv_keyring_new_key(kr, id, &k, err);
            if (rc == SDRA_EEXISTS)
                rc = srv_keyring_key(kr, id, &k, err);
        }
        if (rc == 0)
            kr->shared[which] = k;
    }
    pthread_mutex_unlock(&kr->mu);
    if (rc == 0)
        *out = kr->shared[which];
    return rc;
}

/* ---- the sealing table ----------------------------------------------------------------- */

static int resolve(void *ud, const char *key_id, const unsigned char *wrapped, sdra_crypt_key **out, sdra_error *err)
{
    srv_seal *sl = ud;
    if (wrapped)
        return sdra_error_set(err, SDRA_EUNSUPPORTED, "a self-contained encrypted file is not a server file");
    if (sl->dk && !strcmp(key_id, sdra_crypt_key_id(sl->dk)))
        return sdra_crypt_key_from_bytes(out, key_id, sdra_crypt_key_bytes(sl->dk), err);
    return srv_keyring_key(sl->kr, key_id, out, err);
}

static int seal_file(void *ud, const void *in, size_t n, unsigned char **out, size_t *out_n, sdra_error *err)
{
    srv_seal *sl = ud;
    if (!sl->dk)
        return sdra_error_set(err, SDRA_EINTERNAL, "no data key to encrypt with");
    return sdra_crypt_seal_buf(sl->dk, NULL, in, n, out, out_n, err);
}

static int open_file(void *ud, const void *in, size_t n, size_t max, char **out, size_t *out_n, sdra_error *err)
{
    return sdra_crypt_open_buf(in, n, max, resolve, ud, out, out_n, err);
}

/* The plaintext of an encrypted file in memory (a memfd), for readers that need a descriptor
 * (the audio decoder uses reader_open instead): FFmpeg may seek in it and open it
 * twice, and nothing is written to a disk. Costs the decoded file's size in memory. */
static int open_fd(void *ud, int fd, int *out_fd, sdra_error *err)
{
    return sdra_crypt_fd_plain_memfd(fd, resolve, ud, out_fd, err);
}

static int reader_open(void *ud, int fd, void **reader, int64_t *plain_bytes, sdra_error *err)
{
    return sdra_crypt_seal_reader_open(fd, resolve, ud, reader, plain_bytes, err);
}

static char *seal_text(void *ud, const char *key_id, const char *text)
{
    srv_seal *sl = ud;
    sdra_crypt_key *k = NULL, *own = NULL;
    sdra_error e = {0};
    if (!strcmp(key_id, "contact")) {
        if (shared_key(sl->kr, 0, &k, &e) < 0)
            return NULL;
    } else if (sl->dk && !strcmp(key_id, sdra_crypt_key_id(sl->dk))) {
        k = sl->dk;
    } else if (srv_keyring_key(sl->kr, key_id, &own, &e) == 0) {
        k = own;
    } else {
        return NULL;
    }
    char *v = sdra_crypt_field_seal(k, text, strlen(text));
    sdra_crypt_key_destroy(own);
    return v;
}

static int open_text(void *ud, const char *value, char **out, sdra_error *err)
{
    srv_seal *sl = ud;
    char id[SDRA_CRYPT_KEY_ID_MAX];
    sdra_crypt_key *k = NULL;
    int rc = sdra_crypt_field_key_id(value, id, err);
    if (rc < 0)
        return rc;
    if (!strcmp(id, CRM_FIELDS_KEY)) {
        sdra_crypt_key *sk = NULL;
        if ((rc = shared_key(sl->kr, 0, &sk, err)) < 0)
            return rc;
        return sdra_crypt_field_open(sk, value, out, err);
    }
    if ((rc = resolve(ud, id, NULL, &k, err)) < 0)
        return rc;
    rc = sdra_crypt_field_open(k, value, out, err);
    sdra_crypt_key_destroy(k);
    return rc;
}

static int blind(void *ud, const char *text, char out[SDRA_SEAL_BLIND_MAX])
{
    srv_seal *sl = ud;
    sdra_crypt_key *k = NULL;
    sdra_error e = {0};
    if (shared_key(sl->kr, 1, &k, &e) < 0)
        return -1;
    sdra_crypt_blind(k, text, out);
    return 0;
}

void srv_seal_init(srv_seal *sl, srv_keyring *kr, sdra_crypt_key *dk)
{
    memset(sl, 0, sizeof *sl);
    sl->kr = kr;
    sl->dk = dk;
    sl->ops = (sdra_seal_ops){.user_data = sl,
                              .seal_file = dk ? seal_file : NULL,
                              .open_file = open_file,
                              .open_fd = open_fd,
                              .reader_open = reader_open,
                              .reader_read = sdra_crypt_seal_reader_read,
                              .reader_close = sdra_crypt_seal_reader_close,
                              .seal_text = seal_text,
                              .open_text = open_text,
                              .blind = blind};
}

int srv_seal_begin(struct sdra_server *s, srv_seal *sl, const char *call_id, sdra_error *err)
{
    memset(sl, 0, sizeof *sl);
    if (!s->kr)
        return 0;
    sdra_crypt_key *dk = NULL;
    if (call_id) {
        int rc = srv_keyring_key(s->kr, call_id, &dk, err);
        if (rc == SDRA_ENOTFOUND) {
            /* a call stored without a key (before encryption was turned on, or by another
             * writer of the store) gets one now: what is written from here on is encrypted,
             * what it has in plaintext is read as it is. A deleted call gets none. */
            sdra_store_call sc;
            sdra_error e2 = {0};
            if (sdra_store_call_get(s->store, NULL, call_id, &sc, &e2) < 0)
                return rc;
            sdra_store_call_release(&sc);
            rc = srv_keyring_new_key(s->kr, call_id, &dk, err);
            if (rc == SDRA_EEXISTS)
                rc = srv_keyring_key(s->kr, call_id, &dk, err);
        }
        if (rc < 0)
            return rc;
    }
    srv_seal_init(sl, s->kr, dk);
    sl->prev = sdra_seal_set(&sl->ops);
    sl->active = true;
    return 0;
}

void srv_seal_end(srv_seal *sl)
{
    if (!sl->active)
        return;
    sdra_seal_set(sl->prev);
    sdra_crypt_key_destroy(sl->dk);
    sl->dk = NULL;
    sl->active = false;
}

struct sdra_server_unseal {
    srv_keyring *kr;
    srv_seal sl;
};

int sdra_server_unseal_begin(sdra_server_unseal **out, sdra_store *store, const char *data_dir, const char *key_file,
                             const char *key_cmd, sdra_error *err)
{
    *out = NULL;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/master.key", data_dir);
    const char *env = getenv("SDRA_MASTER_KEY");
    if (!(key_file && *key_file) && !(key_cmd && *key_cmd) && !(env && *env) && access(path, F_OK) != 0)
        return 0; /* a plaintext data directory */
    sdra_server_unseal *u = calloc(1, sizeof *u);
    if (!u)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    int rc = srv_keyring_open(&u->kr, store, data_dir, key_file, key_cmd, err);
    if (rc < 0) {
        free(u);
        return rc;
    }
    srv_seal_init(&u->sl, u->kr, NULL);
    u->sl.prev = sdra_seal_set(&u->sl.ops);
    u->sl.active = true;
    *out = u;
    return 0;
}

void sdra_server_unseal_end(sdra_server_unseal *u)
{
    if (!u)
        return;
    srv_seal_end(&u->sl);
    srv_keyring_close(u->kr);
    free(u);
}

int srv_meta_open(struct sdra_server *s, char **meta_json, sdra_error *err)
{
    if (!*meta_json || !sdra_seal_is_sealed_text(*meta_json))
        return 0;
    if (!s->kr)
        return sdra_error_set(err, SDRA_EDENIED, "call metadata is encrypted and this server has no master key");
    srv_seal sl;
    srv_seal_init(&sl, s->kr, NULL);
    char *plain = NULL;
    int rc = open_text(&sl, *meta_json, &plain, err);
    if (rc < 0)
        return rc;
    free(*meta_json);
    *meta_json = plain;
    return 0;
}

/* ---- reading encrypted files: hashes and responses ------------------------------------- */

int srv_open_plain(struct sdra_server *s, int fd, sdra_crypt_reader **out, sdra_error *err)
{
    unsigned char head[SDRA_CRYPT_MAGIC_BYTES];
    *out = NULL;
    if (pread(fd, head, sizeof head, 0) != (ssize_t)sizeof head || !sdra_crypt_is_sealed(head, sizeof head))
        return 0;
    if (!s->kr)
        return sdra_error_set(err, SDRA_EDENIED, "encrypted file and this server has no master key");
    srv_seal sl;
    srv_seal_init(&sl, s->kr, NULL);
    if (lseek(fd, 0, SEEK_SET) != 0)
        return sdra_error_set(err, SDRA_EIO, "seek: %s", strerror(errno));
    return sdra_crypt_reader_open(out, fd, resolve, &sl, err);
}

int srv_sha256_plain(struct sdra_server *s, const char *path, char hex[65], int64_t *size_out, sdra_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sdra_error_set(err, sdra_code_from_errno(errno), "%s: %s", path, strerror(errno));
    sdra_crypt_reader *r = NULL;
    int rc = srv_open_plain(s, fd, &r, err);
    if (rc < 0 || !r) {
        close(fd);
        return rc < 0 ? rc : srv_sha256_file(path, hex, size_out, err);
    }
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char *buf = malloc(SDRA_CRYPT_CHUNK_BYTES), h[32];
    int64_t total = 0;
    size_t got = 0;
    if (!buf)
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    while (rc == 0 && (rc = sdra_crypt_reader_read(r, buf, SDRA_CRYPT_CHUNK_BYTES, &got, err)) == 0 && got > 0) {
        crypto_hash_sha256_update(&st, buf, got);
        total += (int64_t)got;
    }
    if (buf)
        sodium_memzero(buf, SDRA_CRYPT_CHUNK_BYTES);
    free(buf);
    sdra_crypt_reader_close(r);
    close(fd);
    if (rc < 0)
        return rc;
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(hex, 65, h, sizeof h);
    *size_out = total;
    return 0;
}

typedef struct plain_resp {
    int fd;
    sdra_crypt_reader *r;
    int64_t skip; /* plaintext bytes before the range, still to be read and dropped */
} plain_resp;

/* A secretstream can only be decrypted from its start: the bytes before a range are decrypted
 * chunk by chunk and dropped (one chunk in memory); MHD stops reading at the range's length. */
static ssize_t plain_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    plain_resp *p = cls;
    size_t got = 0;
    sdra_error e = {0};
    (void)pos; /* MHD reads a callback response in order */
    while (p->skip > 0) {
        size_t want = p->skip < (int64_t)max ? (size_t)p->skip : max;
        if (sdra_crypt_reader_read(p->r, buf, want, &got, &e) < 0 || got == 0) {
            sdra_log(SDRA_LOG_ERROR, "serving a range of an encrypted file stopped: %s", e.msg[0] ? e.msg : "short file");
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        p->skip -= (int64_t)got;
    }
    if (sdra_crypt_reader_read(p->r, buf, max, &got, &e) < 0) {
        sdra_log(SDRA_LOG_ERROR, "serving an encrypted file stopped: %s", e.msg);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    return got ? (ssize_t)got : MHD_CONTENT_READER_END_OF_STREAM;
}

static void plain_free(void *cls)
{
    plain_resp *p = cls;
    sdra_crypt_reader_close(p->r);
    close(p->fd);
    free(p);
}

int srv_plain_response_range(sdra_crypt_reader *r, int fd, int64_t first, uint64_t len, struct MHD_Response **out,
                             sdra_error *err)
{
    plain_resp *p = calloc(1, sizeof *p);
    *out = NULL;
    if (p) {
        *p = (plain_resp){.fd = fd, .r = r, .skip = first};
        *out = MHD_create_response_from_callback(len, SDRA_CRYPT_CHUNK_BYTES, plain_read, p, plain_free);
    }
    if (!*out) {
        free(p);
        sdra_crypt_reader_close(r);
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    }
    return 1;
}

int srv_plain_response(struct sdra_server *s, int fd, int64_t file_bytes, struct MHD_Response **out, sdra_error *err)
{
    sdra_crypt_reader *r = NULL;
    *out = NULL;
    int rc = srv_open_plain(s, fd, &r, err);
    if (rc < 0 || !r)
        return rc;
    int64_t plain = sdra_crypt_reader_plain_bytes(r, file_bytes);
    if (plain < 0) {
        sdra_crypt_reader_close(r);
        return sdra_error_set(err, SDRA_EINVAL, "encrypted file truncated");
    }
    return srv_plain_response_range(r, fd, 0, (uint64_t)plain, out, err);
}
