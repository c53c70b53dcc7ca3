/*
 * crypt.c - encryption at rest (sdra/crypt.h): keys in sodium_malloc'd memory, master key
 * sources (file, environment, command), wrapping data keys, the streamed file format
 * (secretstream, fixed 64 KiB chunks, FINAL tag), sealed fields and blind indexes.
 *
 * Every failure leaves no key material behind: keys are wiped by sodium_free, and plaintext
 * chunk buffers are wiped before they are freed.
 */
#include "sdra/crypt.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SS_HEADER crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SS_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define CT_CHUNK (SDRA_CRYPT_CHUNK_BYTES + SS_ABYTES)
#define MODE_BY_ID 1
#define MODE_INLINE 2
#define AEAD_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define AEAD_ABYTES crypto_aead_xchacha20poly1305_ietf_ABYTES

struct sdra_crypt_key {
    char id[SDRA_CRYPT_KEY_ID_MAX];
    unsigned char *bytes; /* sodium_malloc'd */
};

int sdra_crypt_init(sdra_error *err)
{
    if (sodium_init() < 0)
        return sdra_error_set(err, SDRA_EINTERNAL, "libsodium cannot be initialised");
    return 0;
}

static int check_id(const char *id, sdra_error *err)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= SDRA_CRYPT_KEY_ID_MAX || strchr(id, ':'))
        return sdra_error_set(err, SDRA_EINVAL, "key id: 1-63 bytes without ':'");
    return 0;
}

int sdra_crypt_key_from_bytes(sdra_crypt_key **out, const char *id, const unsigned char *bytes, sdra_error *err)
{
    int rc = sdra_crypt_init(err);
    if (rc < 0 || (rc = check_id(id, err)) < 0)
        return rc;
    sdra_crypt_key *k = calloc(1, sizeof *k);
    if (!k || !(k->bytes = sodium_malloc(SDRA_CRYPT_KEY_BYTES))) {
        free(k);
        return sdra_error_set(err, SDRA_ENOMEM, "key: out of memory");
    }
    memcpy(k->bytes, bytes, SDRA_CRYPT_KEY_BYTES);
    snprintf(k->id, sizeof k->id, "%s", id);
    *out = k;
    return 0;
}

int sdra_crypt_key_generate(sdra_crypt_key **out, const char *id, sdra_error *err)
{
    unsigned char *b = NULL;
    int rc = sdra_crypt_init(err);
    if (rc < 0)
        return rc;
    if (!(b = sodium_malloc(SDRA_CRYPT_KEY_BYTES)))
        return sdra_error_set(err, SDRA_ENOMEM, "key: out of memory");
    randombytes_buf(b, SDRA_CRYPT_KEY_BYTES);
    rc = sdra_crypt_key_from_bytes(out, id, b, err);
    sodium_free(b);
    return rc;
}

void sdra_crypt_key_destroy(sdra_crypt_key *k)
{
    if (!k)
        return;
    sodium_free(k->bytes);
    free(k);
}

const char *sdra_crypt_key_id(const sdra_crypt_key *k) { return k->id; }
const unsigned char *sdra_crypt_key_bytes(const sdra_crypt_key *k) { return k->bytes; }

int sdra_crypt_key_from_text(sdra_crypt_key **out, const char *text, size_t n, sdra_error *err)
{
    int rc = sdra_crypt_init(err);
    if (rc < 0)
        return rc;
    while (n > 0 && (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r'))
        text++, n--;
    while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t' || text[n - 1] == '\n' || text[n - 1] == '\r'))
        n--;
    if (n != 2 * SDRA_CRYPT_KEY_BYTES)
        return sdra_error_set(err, SDRA_EINVAL, "master key: expected 64 hex digits, got %zu characters", n);
    unsigned char *b = sodium_malloc(SDRA_CRYPT_KEY_BYTES);
    if (!b)
        return sdra_error_set(err, SDRA_ENOMEM, "key: out of memory");
    size_t got = 0;
    if (sodium_hex2bin(b, SDRA_CRYPT_KEY_BYTES, text, n, NULL, &got, NULL) != 0 || got != SDRA_CRYPT_KEY_BYTES) {
        sodium_free(b);
        return sdra_error_set(err, SDRA_EINVAL, "master key: not 64 hex digits");
    }
    /* the id names the key without revealing it: a keyed hash with a fixed context */
    unsigned char h[8];
    char id[24];
    crypto_generichash(h, sizeof h, (const unsigned char *)"sdra master key id", 18, b, SDRA_CRYPT_KEY_BYTES);
    memcpy(id, "m-", 2);
    sodium_bin2hex(id + 2, sizeof id - 2, h, sizeof h);
    rc = sdra_crypt_key_from_bytes(out, id, b, err);
    sodium_free(b);
    return rc;
}

/* Reads at most SDRA_CRYPT_KEY_TEXT_MAX bytes from fd into a sodium_malloc'd buffer. */
static int read_secret(int fd, char **out, size_t *n_out, const char *what, sdra_error *err)
{
    char *buf = sodium_malloc(SDRA_CRYPT_KEY_TEXT_MAX + 1);
    size_t n = 0;
    if (!buf)
        return sdra_error_set(err, SDRA_ENOMEM, "key: out of memory");
    for (;;) {
        ssize_t r = read(fd, buf + n, SDRA_CRYPT_KEY_TEXT_MAX + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            sodium_free(buf);
            return sdra_error_set(err, SDRA_EIO, "%s: read failed: %s", what, strerror(errno));
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > SDRA_CRYPT_KEY_TEXT_MAX) {
            sodium_free(buf);
            return sdra_error_set(err, SDRA_ELIMIT, "%s: longer than %d bytes", what, SDRA_CRYPT_KEY_TEXT_MAX);
        }
    }
    *out = buf;
    *n_out = n;
    return 0;
}

static int load_file(sdra_crypt_key **out, const char *path, sdra_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return sdra_error_set(err, errno == ENOENT ? SDRA_ENOTFOUND : SDRA_EIO, "master key file %s: %s", path,
                              strerror(errno));
    struct stat st;
    char *text = NULL;
    size_t n = 0;
    int rc = 0;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        rc = sdra_error_set(err, SDRA_EINVAL, "master key file %s: not a regular file", path);
    else if (st.st_mode & 077)
        rc = sdra_error_set(err, SDRA_EDENIED, "master key file %s: readable by others (mode %03o); chmod 600 it",
                            path, (unsigned)(st.st_mode & 0777));
    else if ((rc = read_secret(fd, &text, &n, path, err)) == 0) {
        rc = sdra_crypt_key_from_text(out, text, n, err);
        if (rc < 0)
            sdra_error_prefix(err, "%s", path);
    }
    close(fd);
    if (text)
        sodium_free(text);
    return rc;
}

static int load_cmd(sdra_crypt_key **out, const char *cmd, sdra_error *err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return sdra_error_set(err, SDRA_EIO, "master key command: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return sdra_error_set(err, SDRA_EIO, "master key command: %s", strerror(errno));
    }
    if (pid == 0) {
        dup2(p[1], STDOUT_FILENO);
        int nul = open("/dev/null", O_RDONLY); /* reading only: the command gets no stdin */
        if (nul >= 0)
            dup2(nul, STDIN_FILENO);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char *text = NULL;
    size_t n = 0;
    int rc = read_secret(p[0], &text, &n, "master key command", err);
    close(p[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        rc = sdra_error_set(err, SDRA_EUPSTREAM, "master key command failed (exit status %d)",
                            WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    if (rc == 0 && (rc = sdra_crypt_key_from_text(out, text, n, err)) < 0)
        sdra_error_prefix(err, "master key command");
    if (text)
        sodium_free(text);
    return rc;
}

int sdra_crypt_master_load(sdra_crypt_key **out, const sdra_crypt_master_params *p, sdra_error *err)
{
    int rc = sdra_crypt_init(err);
    if (rc < 0)
        return rc;
    if (p && p->key_file && *p->key_file)
        return load_file(out, p->key_file, err);
    if (p && p->key_cmd && *p->key_cmd)
        return load_cmd(out, p->key_cmd, err);
    const char *v = p && p->env_var ? getenv(p->env_var) : NULL;
    if (v && *v) {
        rc = sdra_crypt_key_from_text(out, v, strlen(v), err);
        if (rc < 0)
            sdra_error_prefix(err, "$%s", p->env_var);
        return rc;
    }
    return sdra_error_set(err, SDRA_ENOTFOUND, "no master key given");
}

int sdra_crypt_master_create_file(const char *path, sdra_crypt_key **out, sdra_error *err)
{
    sdra_crypt_key *k = NULL;
    char hex[2 * SDRA_CRYPT_KEY_BYTES + 2];
    unsigned char *b = NULL;
    int rc = sdra_crypt_init(err), fd = -1;
    if (rc < 0)
        return rc;
    if (!(b = sodium_malloc(SDRA_CRYPT_KEY_BYTES)))
        return sdra_error_set(err, SDRA_ENOMEM, "key: out of memory");
    randombytes_buf(b, SDRA_CRYPT_KEY_BYTES);
    sodium_bin2hex(hex, sizeof hex - 1, b, SDRA_CRYPT_KEY_BYTES);
    sodium_free(b);
    if ((rc = sdra_crypt_key_from_text(&k, hex, 2 * SDRA_CRYPT_KEY_BYTES, err)) < 0)
        goto done;
    strcat(hex, "\n");
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = sdra_error_set(err, errno == EEXIST ? SDRA_EEXISTS : SDRA_EIO, "%s: cannot create: %s", path,
                            strerror(errno));
        goto done;
    }
    if (fchmod(fd, 0600) < 0 || write(fd, hex, strlen(hex)) != (ssize_t)strlen(hex) || fsync(fd) < 0) {
        rc = sdra_error_set(err, SDRA_EIO, "%s: write failed: %s", path, strerror(errno));
        unlink(path);
        goto done;
    }
done:
    sodium_memzero(hex, sizeof hex);
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        sdra_crypt_key_destroy(k);
    else
        *out = k;
    return rc;
}

int sdra_crypt_wrap(const sdra_crypt_key *master, const sdra_crypt_key *dk, unsigned char out[SDRA_CRYPT_WRAPPED_BYTES],
                    sdra_error *err)
{
    randombytes_buf(out, AEAD_NONCE);
    unsigned long long clen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + AEAD_NONCE, &clen, dk->bytes, SDRA_CRYPT_KEY_BYTES,
                                                   (const unsigned char *)dk->id, strlen(dk->id), NULL, out,
                                                   master->bytes) != 0)
        return sdra_error_set(err, SDRA_EINTERNAL, "wrapping a data key failed");
    return 0;
}

int sdra_crypt_unwrap(const sdra_crypt_key *master, const char *id, const unsigned char *wrapped, size_t n,
                      sdra_crypt_key **out, sdra_error *err)
{
    int rc = check_id(id, err);
    if (rc < 0)
        return rc;
    if (n != SDRA_CRYPT_WRAPPED_BYTES)
        return sdra_error_set(err, SDRA_EINVAL, "wrapped key for %s: %zu bytes, expected %d", id, n,
                              SDRA_CRYPT_WRAPPED_BYTES);
    unsigned char *b = sodium_malloc(SDRA_CRYPT_KEY_BYTES);
    if (!b)
        return sdra_error_set(err, SDRA_ENOMEM, "key: out of memory");
    unsigned long long plen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(b, &plen, NULL, wrapped + AEAD_NONCE, n - AEAD_NONCE,
                                                   (const unsigned char *)id, strlen(id), wrapped,
                                                   master->bytes) != 0) {
        sodium_free(b);
        return sdra_error_set(err, SDRA_EDENIED, "data key of %s does not unwrap with master key %s", id, master->id);
    }
    rc = sdra_crypt_key_from_bytes(out, id, b, err);
    sodium_free(b);
    return rc;
}

/* ---- the file format ------------------------------------------------------------------- */

bool sdra_crypt_is_sealed(const void *head, size_t n)
{
    return n >= SDRA_CRYPT_MAGIC_BYTES && !memcmp(head, SDRA_CRYPT_MAGIC, SDRA_CRYPT_MAGIC_BYTES);
}

/* A sink is an fd, or (fd < 0) a growing heap buffer. */
struct sdra_crypt_writer {
    int fd;
    unsigned char *mem;
    size_t mem_len, mem_cap;
    crypto_secretstream_xchacha20poly1305_state st;
    unsigned char *plain; /* sodium_malloc'd, one chunk */
    size_t plain_len;
    unsigned char ct[CT_CHUNK];
    int64_t total;
};

static int sink_write(sdra_crypt_writer *w, const void *data, size_t n, sdra_error *err)
{
    if (w->fd < 0) {
        if (w->mem_len + n > w->mem_cap) {
            size_t cap = w->mem_cap ? w->mem_cap : 4096;
            while (cap < w->mem_len + n)
                cap *= 2;
            unsigned char *p = realloc(w->mem, cap);
            if (!p)
                return sdra_error_set(err, SDRA_ENOMEM, "encrypting: out of memory");
            w->mem = p;
            w->mem_cap = cap;
        }
        memcpy(w->mem + w->mem_len, data, n);
        w->mem_len += n;
        return 0;
    }
    const unsigned char *p = data;
    while (n > 0) {
        ssize_t r = write(w->fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return sdra_error_set(err, errno == ENOSPC ? SDRA_EIO : sdra_code_from_errno(errno),
                                  "writing encrypted data failed: %s", strerror(errno));
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static void writer_free(sdra_crypt_writer *w)
{
    if (!w)
        return;
    if (w->plain)
        sodium_free(w->plain);
    sodium_memzero(&w->st, sizeof w->st);
    free(w->mem);
    free(w);
}

int sdra_crypt_writer_open(sdra_crypt_writer **out, int fd, const sdra_crypt_key *dk,
                           const sdra_crypt_key *inline_master, sdra_error *err)
{
    int rc = sdra_crypt_init(err);
    if (rc < 0)
        return rc;
    sdra_crypt_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->plain = sodium_malloc(SDRA_CRYPT_CHUNK_BYTES))) {
        free(w);
        return sdra_error_set(err, SDRA_ENOMEM, "encrypting: out of memory");
    }
    w->fd = fd;
    unsigned char head[SDRA_CRYPT_MAGIC_BYTES + 2 + SDRA_CRYPT_KEY_ID_MAX + SDRA_CRYPT_WRAPPED_BYTES + SS_HEADER];
    size_t n = 0;
    const char *id = inline_master ? inline_master->id : dk->id;
    memcpy(head, SDRA_CRYPT_MAGIC, SDRA_CRYPT_MAGIC_BYTES);
    n = SDRA_CRYPT_MAGIC_BYTES;
    head[n++] = inline_master ? MODE_INLINE : MODE_BY_ID;
    head[n++] = (unsigned char)strlen(id);
    memcpy(head + n, id, strlen(id));
    n += strlen(id);
    const sdra_crypt_key *k = dk;
    sdra_crypt_key *fk = NULL;
    if (inline_master) {
        /* a self-contained file: its own key, wrapped for the master's id */
        if ((rc = sdra_crypt_key_from_bytes(&fk, inline_master->id, dk->bytes, err)) < 0 ||
            (rc = sdra_crypt_wrap(inline_master, fk, head + n, err)) < 0) {
            sdra_crypt_key_destroy(fk);
            writer_free(w);
            return rc;
        }
        n += SDRA_CRYPT_WRAPPED_BYTES;
    }
    crypto_secretstream_xchacha20poly1305_init_push(&w->st, head + n, k->bytes);
    n += SS_HEADER;
    sdra_crypt_key_destroy(fk);
    if ((rc = sink_write(w, head, n, err)) < 0) {
        writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

static int push_chunk(sdra_crypt_writer *w, unsigned char tag, sdra_error *err)
{
    unsigned long long clen = 0;
    crypto_secretstream_xchacha20poly1305_push(&w->st, w->ct, &clen, w->plain, w->plain_len, NULL, 0, tag);
    sodium_memzero(w->plain, w->plain_len);
    w->plain_len = 0;
    return sink_write(w, w->ct, (size_t)clen, err);
}

int sdra_crypt_writer_write(sdra_crypt_writer *w, const void *data, size_t n, sdra_error *err)
{
    const unsigned char *p = data;
    while (n > 0) {
        /* a full chunk goes out only when more follows: the last chunk, full or not, is FINAL */
        if (w->plain_len == SDRA_CRYPT_CHUNK_BYTES) {
            int rc = push_chunk(w, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE, err);
            if (rc < 0)
                return rc;
        }
        size_t take = SDRA_CRYPT_CHUNK_BYTES - w->plain_len;
        if (take > n)
            take = n;
        memcpy(w->plain + w->plain_len, p, take);
        w->plain_len += take;
        w->total += (int64_t)take;
        p += take;
        n -= take;
    }
    return 0;
}

int64_t sdra_crypt_writer_plain_bytes(const sdra_crypt_writer *w) { return w->total; }

int sdra_crypt_writer_close(sdra_crypt_writer *w, sdra_error *err)
{
    if (!w)
        return 0;
    int rc = push_chunk(w, crypto_secretstream_xchacha20poly1305_TAG_FINAL, err);
    writer_free(w);
    return rc;
}

void sdra_crypt_writer_abort(sdra_crypt_writer *w) { writer_free(w); }

struct sdra_crypt_reader {
    int fd;
    const unsigned char *mem;
    size_t mem_len, mem_pos;
    crypto_secretstream_xchacha20poly1305_state st;
    unsigned char ct[CT_CHUNK];
    unsigned char *plain; /* sodium_malloc'd */
    size_t plain_len, plain_pos;
    bool final;
    size_t header_bytes;
};

/* Reads up to n bytes (fewer only at the end of the input). */
static int source_read(sdra_crypt_reader *r, void *buf, size_t n, size_t *got, sdra_error *err)
{
    if (r->fd < 0) {
        size_t left = r->mem_len - r->mem_pos;
        *got = n < left ? n : left;
        memcpy(buf, r->mem + r->mem_pos, *got);
        r->mem_pos += *got;
        return 0;
    }
    size_t have = 0;
    while (have < n) {
        ssize_t k = read(r->fd, (unsigned char *)buf + have, n - have);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return sdra_error_set(err, SDRA_EIO, "reading encrypted data failed: %s", strerror(errno));
        if (k == 0)
            break;
        have += (size_t)k;
    }
    *got = have;
    return 0;
}

static int reader_start(sdra_crypt_reader *r, sdra_crypt_resolve_fn resolve, void *ud, sdra_error *err)
{
    unsigned char head[SDRA_CRYPT_MAGIC_BYTES + 2], wrapped[SDRA_CRYPT_WRAPPED_BYTES], ssh[SS_HEADER];
    char id[SDRA_CRYPT_KEY_ID_MAX];
    size_t got = 0;
    int rc = source_read(r, head, sizeof head, &got, err);
    if (rc < 0)
        return rc;
    if (got < sizeof head || !sdra_crypt_is_sealed(head, got))
        return sdra_error_set(err, SDRA_EINVAL, "not an sdra-encrypted file");
    int mode = head[SDRA_CRYPT_MAGIC_BYTES];
    size_t idlen = head[SDRA_CRYPT_MAGIC_BYTES + 1];
    if ((mode != MODE_BY_ID && mode != MODE_INLINE) || idlen == 0 || idlen >= sizeof id)
        return sdra_error_set(err, SDRA_EINVAL, "encrypted file: unknown header (mode %d)", mode);
    if ((rc = source_read(r, id, idlen, &got, err)) < 0)
        return rc;
    if (got < idlen)
        return sdra_error_set(err, SDRA_EINVAL, "encrypted file: truncated header");
    id[idlen] = '\0';
    if (mode == MODE_INLINE) {
        if ((rc = source_read(r, wrapped, sizeof wrapped, &got, err)) < 0)
            return rc;
        if (got < sizeof wrapped)
            return sdra_error_set(err, SDRA_EINVAL, "encrypted file: truncated header");
    }
    if ((rc = source_read(r, ssh, sizeof ssh, &got, err)) < 0)
        return rc;
    if (got < sizeof ssh)
        return sdra_error_set(err, SDRA_EINVAL, "encrypted file: truncated header");
    sdra_crypt_key *k = NULL;
    if (!resolve)
        return sdra_error_set(err, SDRA_EDENIED, "encrypted file (key %s): no key given to read it", id);
    if ((rc = resolve(ud, id, mode == MODE_INLINE ? wrapped : NULL, &k, err)) < 0)
        return rc;
    r->header_bytes = sizeof head + idlen + (mode == MODE_INLINE ? sizeof wrapped : 0) + sizeof ssh;
    if (crypto_secretstream_xchacha20poly1305_init_pull(&r->st, ssh, k->bytes) != 0)
        rc = sdra_error_set(err, SDRA_EINVAL, "encrypted file: bad stream header");
    sdra_crypt_key_destroy(k);
    return rc;
}

static int reader_new(sdra_crypt_reader **out, int fd, const void *mem, size_t mem_len, sdra_crypt_resolve_fn resolve,
                      void *ud, sdra_error *err)
{
    int rc = sdra_crypt_init(err);
    if (rc < 0)
        return rc;
    sdra_crypt_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->plain = sodium_malloc(SDRA_CRYPT_CHUNK_BYTES))) {
        free(r);
        return sdra_error_set(err, SDRA_ENOMEM, "decrypting: out of memory");
    }
    r->fd = fd;
    r->mem = mem;
    r->mem_len = mem_len;
    if ((rc = reader_start(r, resolve, ud, err)) < 0) {
        sdra_crypt_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

int sdra_crypt_reader_open(sdra_crypt_reader **out, int fd, sdra_crypt_resolve_fn resolve, void *user_data,
                           sdra_error *err)
{
    return reader_new(out, fd, NULL, 0, resolve, user_data, err);
}

static int next_chunk(sdra_crypt_reader *r, sdra_error *err)
{
    size_t got = 0;
    int rc = source_read(r, r->ct, CT_CHUNK, &got, err);
    if (rc < 0)
        return rc;
    if (got < SS_ABYTES)
        return sdra_error_set(err, SDRA_EINVAL, "encrypted file truncated (no final chunk)");
    unsigned long long plen = 0;
    unsigned char tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(&r->st, r->plain, &plen, &tag, r->ct, got, NULL, 0) != 0)
        return sdra_error_set(err, SDRA_EINVAL, got < CT_CHUNK ? "encrypted file truncated or altered (its last chunk "
                                                                 "does not authenticate)"
                                                               : "encrypted file altered or read with the wrong key");
    if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
        unsigned char extra;
        if ((rc = source_read(r, &extra, 1, &got, err)) < 0)
            return rc;
        if (got)
            return sdra_error_set(err, SDRA_EINVAL, "encrypted file: data after the final chunk");
        r->final = true;
    } else if (got < CT_CHUNK) {
        return sdra_error_set(err, SDRA_EINVAL, "encrypted file truncated (no final chunk)");
    }
    r->plain_len = (size_t)plen;
    r->plain_pos = 0;
    return 0;
}

int sdra_crypt_reader_read(sdra_crypt_reader *r, void *buf, size_t n, size_t *got, sdra_error *err)
{
    size_t have = 0;
    while (have < n) {
        if (r->plain_pos == r->plain_len) {
            if (r->final)
                break;
            int rc = next_chunk(r, err);
            if (rc < 0)
                return rc;
            continue;
        }
        size_t take = r->plain_len - r->plain_pos;
        if (take > n - have)
            take = n - have;
        memcpy((unsigned char *)buf + have, r->plain + r->plain_pos, take);
        r->plain_pos += take;
        have += take;
    }
    *got = have;
    return 0;
}

int64_t sdra_crypt_reader_plain_bytes(const sdra_crypt_reader *r, int64_t file_bytes)
{
    int64_t body = file_bytes - (int64_t)r->header_bytes;
    if (body < (int64_t)SS_ABYTES)
        return -1;
    int64_t chunks = (body + CT_CHUNK - 1) / CT_CHUNK;
    return body - chunks * (int64_t)SS_ABYTES;
}

void sdra_crypt_reader_close(sdra_crypt_reader *r)
{
    if (!r)
        return;
    if (r->plain)
        sodium_free(r->plain);
    sodium_memzero(&r->st, sizeof r->st);
    free(r);
}

int sdra_crypt_seal_buf(const sdra_crypt_key *dk, const sdra_crypt_key *inline_master, const void *in, size_t n,
                        unsigned char **out, size_t *out_n, sdra_error *err)
{
    sdra_crypt_writer *w = NULL;
    int rc = sdra_crypt_writer_open(&w, -1, dk, inline_master, err);
    if (rc < 0)
        return rc;
    if ((rc = sdra_crypt_writer_write(w, in, n, err)) < 0 ||
        (rc = push_chunk(w, crypto_secretstream_xchacha20poly1305_TAG_FINAL, err)) < 0) {
        writer_free(w);
        return rc;
    }
    *out = w->mem;
    *out_n = w->mem_len;
    w->mem = NULL;
    writer_free(w);
    return 0;
}

int sdra_crypt_open_buf(const void *in, size_t n, size_t max_bytes, sdra_crypt_resolve_fn resolve, void *user_data,
                        char **out, size_t *out_n, sdra_error *err)
{
    sdra_crypt_reader *r = NULL;
    int rc = reader_new(&r, -1, in, n, resolve, user_data, err);
    if (rc < 0)
        return rc;
    /* the plaintext is never longer than the ciphertext */
    size_t cap = n < max_bytes ? n : max_bytes;
    char *buf = malloc(cap + 1);
    size_t got = 0;
    if (!buf) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "decrypting: out of memory");
    } else if ((rc = sdra_crypt_reader_read(r, buf, cap, &got, err)) == 0) {
        unsigned char probe; /* anything left (or no FINAL chunk yet) is over the limit */
        size_t more = 0;
        if ((rc = sdra_crypt_reader_read(r, &probe, 1, &more, err)) == 0 && more)
            rc = sdra_error_set(err, SDRA_ELIMIT, "decrypted file larger than the limit of %zu bytes", max_bytes);
    }
    sdra_crypt_reader_close(r);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[got] = '\0';
    *out = buf;
    *out_n = got;
    return 0;
}

int sdra_crypt_fd_decrypt(int in_fd, int out_fd, sdra_crypt_resolve_fn resolve, void *user_data, sdra_error *err)
{
    sdra_crypt_reader *r = NULL;
    int rc = sdra_crypt_reader_open(&r, in_fd, resolve, user_data, err);
    if (rc < 0)
        return rc;
    unsigned char *buf = sodium_malloc(SDRA_CRYPT_CHUNK_BYTES);
    if (!buf) {
        sdra_crypt_reader_close(r);
        return sdra_error_set(err, SDRA_ENOMEM, "decrypting: out of memory");
    }
    for (;;) {
        size_t got = 0;
        if ((rc = sdra_crypt_reader_read(r, buf, SDRA_CRYPT_CHUNK_BYTES, &got, err)) < 0 || got == 0)
            break;
        for (size_t off = 0; off < got;) {
            ssize_t w = write(out_fd, buf + off, got - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                rc = sdra_error_set(err, SDRA_EIO, "writing decrypted data failed: %s", strerror(errno));
                break;
            }
            off += (size_t)w;
        }
        if (rc < 0)
            break;
    }
    sodium_free(buf);
    sdra_crypt_reader_close(r);
    return rc;
}

/* ---- fields ---------------------------------------------------------------------------- */

char *sdra_crypt_field_seal(const sdra_crypt_key *k, const char *text, size_t n)
{
    size_t raw_n = AEAD_NONCE + n + AEAD_ABYTES;
    unsigned char *raw = malloc(raw_n);
    size_t b64_n = sodium_base64_encoded_len(raw_n, sodium_base64_VARIANT_ORIGINAL);
    size_t pre = strlen(SDRA_CRYPT_FIELD_PREFIX) + strlen(k->id) + 1;
    char *out = malloc(pre + b64_n);
    if (!raw || !out) {
        free(raw);
        free(out);
        return NULL;
    }
    randombytes_buf(raw, AEAD_NONCE);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(raw + AEAD_NONCE, &clen, (const unsigned char *)text, n,
                                               (const unsigned char *)k->id, strlen(k->id), NULL, raw, k->bytes);
    snprintf(out, pre + 1, "%s%s:", SDRA_CRYPT_FIELD_PREFIX, k->id);
    sodium_bin2base64(out + pre, b64_n, raw, raw_n, sodium_base64_VARIANT_ORIGINAL);
    free(raw);
    return out;
}

bool sdra_crypt_field_is_sealed(const char *value)
{
    return value && !strncmp(value, SDRA_CRYPT_FIELD_PREFIX, strlen(SDRA_CRYPT_FIELD_PREFIX));
}

int sdra_crypt_field_key_id(const char *value, char id[SDRA_CRYPT_KEY_ID_MAX], sdra_error *err)
{
    if (!sdra_crypt_field_is_sealed(value))
        return sdra_error_set(err, SDRA_EINVAL, "not a sealed field");
    const char *p = value + strlen(SDRA_CRYPT_FIELD_PREFIX), *colon = strchr(p, ':');
    if (!colon || colon == p || (size_t)(colon - p) >= SDRA_CRYPT_KEY_ID_MAX)
        return sdra_error_set(err, SDRA_EINVAL, "sealed field without a key id");
    memcpy(id, p, (size_t)(colon - p));
    id[colon - p] = '\0';
    return 0;
}

int sdra_crypt_field_open(const sdra_crypt_key *k, const char *value, char **out, sdra_error *err)
{
    char id[SDRA_CRYPT_KEY_ID_MAX];
    int rc = sdra_crypt_field_key_id(value, id, err);
    if (rc < 0)
        return rc;
    if (strcmp(id, k->id))
        return sdra_error_set(err, SDRA_EDENIED, "sealed field is for key %s, not %s", id, k->id);
    const char *b64 = value + strlen(SDRA_CRYPT_FIELD_PREFIX) + strlen(id) + 1;
    size_t bn = strlen(b64), raw_n = 0;
    unsigned char *raw = malloc(bn + 1);
    char *plain = malloc(bn + 1);
    if (!raw || !plain) {
        free(raw);
        free(plain);
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    }
    unsigned long long plen = 0;
    if (sodium_base642bin(raw, bn, b64, bn, NULL, &raw_n, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        raw_n < AEAD_NONCE + AEAD_ABYTES ||
        crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)plain, &plen, NULL, raw + AEAD_NONCE,
                                                   raw_n - AEAD_NONCE, (const unsigned char *)id, strlen(id), raw,
                                                   k->bytes) != 0) {
        free(raw);
        free(plain);
        return sdra_error_set(err, SDRA_EDENIED, "sealed field does not open with key %s", id);
    }
    free(raw);
    plain[plen] = '\0';
    *out = plain;
    return 0;
}

void sdra_crypt_blind(const sdra_crypt_key *k, const char *text, char out[SDRA_CRYPT_BLIND_MAX])
{
    crypto_generichash_state st;
    unsigned char h[32];
    crypto_generichash_init(&st, k->bytes, SDRA_CRYPT_KEY_BYTES, sizeof h);
    while (*text == ' ' || *text == '\t')
        text++;
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        crypto_generichash_update(&st, &c, 1);
    }
    crypto_generichash_final(&st, h, sizeof h);
    memcpy(out, SDRA_CRYPT_BLIND_PREFIX, 4);
    sodium_bin2hex(out + 4, SDRA_CRYPT_BLIND_MAX - 4, h, sizeof h);
}
