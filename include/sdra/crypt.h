/*
 * sdra/crypt.h - encryption at rest (docs/security.md, "Encryption at rest"): master keys,
 * per-call data keys wrapped by the master, files encrypted as a stream, database fields,
 * blind indexes. libsodium underneath; key material lives in sodium_malloc'd memory (guarded,
 * locked, wiped when freed).
 *
 *   master key  32 bytes from a key file, $SDRA_MASTER_KEY or a command's stdout (the text is
 *               64 hex digits, whitespace around it ignored). Its id ("m-" + 16 hex) is a keyed
 *               hash of the key, so a data key records which master wrapped it.
 *   data key    32 random bytes per call, stored only wrapped: XChaCha20-Poly1305 (IETF) with a
 *               random nonce and the call id as associated data (a wrapped key moved to another
 *               call does not unwrap).
 *   file        "SDRAENC1", a key reference (by id, or the data key wrapped inline), then a
 *               crypto_secretstream_xchacha20poly1305 stream of 64 KiB chunks; the last chunk
 *               carries the FINAL tag, so truncation is detected. Memory: one chunk.
 *   field       "sdra:e1:<key id>:<base64(nonce || ciphertext)>", the key id as associated data.
 *   blind index "bx1:<hex BLAKE2b-256 keyed>" of a normalised value (lookups by email).
 *
 *     sdra_crypt_key *m = NULL, *dk = NULL;
 *     sdra_crypt_master_params mp = {.key_file = "master.key"};
 *     if (sdra_crypt_master_load(&m, &mp, &err) < 0) ...
 *     sdra_crypt_key_generate(&dk, "c-1", &err);
 *     unsigned char w[SDRA_CRYPT_WRAPPED_BYTES];
 *     sdra_crypt_wrap(m, dk, w, &err);          // store w; forget dk to shred
 *     sdra_crypt_writer *wr = NULL;
 *     sdra_crypt_writer_open(&wr, fd, dk, NULL, &err);
 *     sdra_crypt_writer_write(wr, buf, n, &err); ...; sdra_crypt_writer_close(wr, &err);
 */
#ifndef SDRA_CRYPT_H
#define SDRA_CRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sdra/error.h"
#include "sdra/seal.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SDRA_CRYPT_KEY_BYTES 32
#define SDRA_CRYPT_KEY_ID_MAX 64                     /* with NUL */
#define SDRA_CRYPT_WRAPPED_BYTES (24 + 32 + 16)      /* nonce + key + tag */
#define SDRA_CRYPT_MAGIC "SDRAENC1"
#define SDRA_CRYPT_MAGIC_BYTES 8
#define SDRA_CRYPT_CHUNK_BYTES 65536                 /* plaintext per secretstream chunk */
#define SDRA_CRYPT_FIELD_PREFIX "sdra:e1:"
#define SDRA_CRYPT_BLIND_PREFIX "bx1:"
#define SDRA_CRYPT_BLIND_MAX 72                      /* "bx1:" + 64 hex + NUL */
#define SDRA_CRYPT_KEY_TEXT_MAX 4096                 /* a key file or command output */

typedef struct sdra_crypt_key sdra_crypt_key;

/* Initialises libsodium (idempotent, thread-safe). SDRA_EINTERNAL when it cannot. */
int sdra_crypt_init(sdra_error *err);

/* A new random key named id (1..63 bytes). */
int sdra_crypt_key_generate(sdra_crypt_key **out, const char *id, sdra_error *err);
/* A key from 32 raw bytes. */
int sdra_crypt_key_from_bytes(sdra_crypt_key **out, const char *id, const unsigned char *bytes,
                              sdra_error *err);
/* A master key from its text (64 hex digits; surrounding whitespace ignored); its id is derived
 * from the key. SDRA_EINVAL with a message that never echoes the text. */
int sdra_crypt_key_from_text(sdra_crypt_key **out, const char *text, size_t n, sdra_error *err);
void sdra_crypt_key_destroy(sdra_crypt_key *k); /* wipes; accepts NULL */
const char *sdra_crypt_key_id(const sdra_crypt_key *k);
const unsigned char *sdra_crypt_key_bytes(const sdra_crypt_key *k); /* SDRA_CRYPT_KEY_BYTES */

/* Where the master key comes from: the first of key_file, key_cmd, env_var that is set
 * (env_var names a variable, e.g. "SDRA_MASTER_KEY"). The command runs through /bin/sh -c; its
 * stdout (at most SDRA_CRYPT_KEY_TEXT_MAX bytes) is the key text and it must exit 0. */
typedef struct sdra_crypt_master_params {
    const char *key_file;
    const char *key_cmd;
    const char *env_var;
} sdra_crypt_master_params;

/* Loads the master key. SDRA_ENOTFOUND when no source is set (or the variable is unset). A key
 * file readable by group or others is refused (SDRA_EDENIED). */
int sdra_crypt_master_load(sdra_crypt_key **out, const sdra_crypt_master_params *p, sdra_error *err);
/* Creates path (mode 0600, O_EXCL) holding a new random master key as 64 hex digits. */
int sdra_crypt_master_create_file(const char *path, sdra_crypt_key **out, sdra_error *err);

/* Wraps dk under master with dk's id as associated data. */
int sdra_crypt_wrap(const sdra_crypt_key *master, const sdra_crypt_key *dk,
                    unsigned char out[SDRA_CRYPT_WRAPPED_BYTES], sdra_error *err);
/* Unwraps a key wrapped for id. SDRA_EDENIED when it does not authenticate (wrong master,
 * wrong id, altered bytes). */
int sdra_crypt_unwrap(const sdra_crypt_key *master, const char *id, const unsigned char *wrapped,
                      size_t n, sdra_crypt_key **out, sdra_error *err);

/* ---- files ----------------------------------------------------------------------------- */

/* Resolves a file's key: by id (wrapped NULL) for keys kept in a store, or an inline wrapped
 * key (id = the master id that wrapped it). */
typedef int (*sdra_crypt_resolve_fn)(void *user_data, const char *key_id, const unsigned char *wrapped,
                                     sdra_crypt_key **out, sdra_error *err);

/* True when the first n bytes of a file start with SDRA_CRYPT_MAGIC. */
bool sdra_crypt_is_sealed(const void *head, size_t n);

typedef struct sdra_crypt_writer sdra_crypt_writer;
/* Starts an encrypted file on fd (the caller owns fd). With inline_master, the header carries dk
 * wrapped by it (a self-contained file, `sdra run --encrypt`); else it names dk's id. */
int sdra_crypt_writer_open(sdra_crypt_writer **out, int fd, const sdra_crypt_key *dk,
                           const sdra_crypt_key *inline_master, sdra_error *err);
int sdra_crypt_writer_write(sdra_crypt_writer *w, const void *data, size_t n, sdra_error *err);
/* Writes the FINAL chunk and frees w (also on failure); w NULL is a no-op. */
int sdra_crypt_writer_close(sdra_crypt_writer *w, sdra_error *err);
void sdra_crypt_writer_abort(sdra_crypt_writer *w); /* frees without finishing */
int64_t sdra_crypt_writer_plain_bytes(const sdra_crypt_writer *w);

typedef struct sdra_crypt_reader sdra_crypt_reader;
/* Reads the header from fd (positioned at the file's start) and resolves the key. */
int sdra_crypt_reader_open(sdra_crypt_reader **out, int fd, sdra_crypt_resolve_fn resolve, void *user_data,
                           sdra_error *err);
/* Up to n plaintext bytes into buf; *got 0 = end (after the FINAL chunk). SDRA_EINVAL when the
 * stream is altered, truncated (no FINAL chunk) or has bytes after it. */
int sdra_crypt_reader_read(sdra_crypt_reader *r, void *buf, size_t n, size_t *got, sdra_error *err);
void sdra_crypt_reader_close(sdra_crypt_reader *r);
/* The plaintext length of a well-formed file of file_bytes (from its chunk layout); -1 when
 * the length cannot be one. Reading still authenticates every byte. */
int64_t sdra_crypt_reader_plain_bytes(const sdra_crypt_reader *r, int64_t file_bytes);
/* The reader entries of a sealing table (sdra/seal.h) over sdra_crypt_reader: _open rewinds fd,
 * opens a reader with resolve and reports the plaintext length. */
int sdra_crypt_seal_reader_open(int fd, sdra_crypt_resolve_fn resolve, void *user_data, void **reader,
                                int64_t *plain_bytes, sdra_error *err);
int sdra_crypt_seal_reader_read(void *reader, void *buf, size_t n, size_t *got, sdra_error *err);
void sdra_crypt_seal_reader_close(void *reader);

/* Whole-buffer forms of the same file format. */
int sdra_crypt_seal_buf(const sdra_crypt_key *dk, const sdra_crypt_key *inline_master, const void *in,
                        size_t n, unsigned char **out, size_t *out_n, sdra_error *err);
int sdra_crypt_open_buf(const void *in, size_t n, size_t max_bytes, sdra_crypt_resolve_fn resolve,
                        void *user_data, char **out, size_t *out_n, sdra_error *err);
/* Copies in_fd to out_fd decrypting (decrypt) or encrypting under dk. */
int sdra_crypt_fd_decrypt(int in_fd, int out_fd, sdra_crypt_resolve_fn resolve, void *user_data,
                          sdra_error *err);

/* A memfd holding the plaintext of the encrypted file on fd: seekable, openable again through
 * /proc, never on a disk; costs the plaintext's size in memory (the worker's audio). */
int sdra_crypt_fd_plain_memfd(int fd, sdra_crypt_resolve_fn resolve, void *user_data, int *out_fd, sdra_error *err);

/* ---- fields and blind indexes ---------------------------------------------------------- */

/* "sdra:e1:<id>:<base64>" (malloc'd), NULL when out of memory. */
char *sdra_crypt_field_seal(const sdra_crypt_key *k, const char *text, size_t n);
bool sdra_crypt_field_is_sealed(const char *value);
/* The key id a sealed field names (0) or SDRA_EINVAL. */
int sdra_crypt_field_key_id(const char *value, char id[SDRA_CRYPT_KEY_ID_MAX], sdra_error *err);
/* The plaintext (malloc'd, NUL-terminated). SDRA_EDENIED when it does not authenticate. */
int sdra_crypt_field_open(const sdra_crypt_key *k, const char *value, char **out, sdra_error *err);
/* "bx1:<hex>" of text lowercased and trimmed, keyed by k. */
void sdra_crypt_blind(const sdra_crypt_key *k, const char *text, char out[SDRA_CRYPT_BLIND_MAX]);

/* ---- self-contained files (`sdra run --encrypt`, `sdra decrypt`) -------------------------- */

/* A resolver for self-contained files: user_data is the master key (const sdra_crypt_key *).
 * A file naming a stored data key instead is SDRA_EUNSUPPORTED ("needs --data"). */
int sdra_crypt_resolve_inline(void *user_data, const char *key_id, const unsigned char *wrapped,
                              sdra_crypt_key **out, sdra_error *err);

/* A sealing table (sdra/seal.h) that writes every file self-contained under master (a fresh data
 * key per file, wrapped inline) and reads such files back; fields stay plaintext. */
typedef struct sdra_crypt_sealer {
    sdra_seal_ops ops;
    const sdra_crypt_key *master;
} sdra_crypt_sealer;
void sdra_crypt_sealer_init(sdra_crypt_sealer *s, const sdra_crypt_key *master);

#ifdef __cplusplus
}
#endif
#endif
