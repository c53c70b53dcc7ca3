/*
 * sdra/seal.h - the hook through which files and database fields are encrypted at rest
 * (docs/security.md, "Encryption at rest") without every module knowing about keys.
 *
 * A thread installs a table of sealing functions (the server's worker does, around a stage,
 * with the call's data key; `sdra run --encrypt` does for its whole run). While one is
 * installed on the calling thread:
 *   - sdra_file_write_atomic seals what it writes to regular files (seal_file);
 *   - sdra_file_read (and everything built on it: JSON documents, transcripts) opens files that
 *     start with the sdra magic (open_file); without a table such a file fails with a one-line
 *     "encrypted: no key" error instead of being parsed as garbage;
 *   - sdra_audio_open hands FFmpeg a plaintext descriptor that never touches the disk (open_fd);
 *   - the local CRM seals its sensitive columns (seal_text/open_text) and looks contacts up by
 *     a blind index (blind).
 * No table installed (the default): everything is plaintext, as before. Any entry may be NULL.
 * The table and its user_data must outlive the installation; sdra_seal_set(NULL) removes it.
 */
#ifndef SDRA_SEAL_H
#define SDRA_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sdra/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SDRA_SEAL_BLIND_MAX 72

typedef struct sdra_seal_ops {
    void *user_data;
    int (*seal_file)(void *user_data, const void *in, size_t n, unsigned char **out, size_t *out_n, sdra_error *err);
    int (*open_file)(void *user_data, const void *in, size_t n, size_t max_bytes, char **out, size_t *out_n,
                     sdra_error *err);
    /* a new descriptor with the plaintext of the encrypted file open on fd (not on disk) */
    int (*open_fd)(void *user_data, int fd, int *out_fd, sdra_error *err);
    /* a streaming reader of the plaintext of the encrypted file open on fd (read from its
     * start, one chunk in memory): the audio decoder's way in, seeking by reading again;
     * *plain_bytes is the plaintext length. reader_read gives *got 0 at the end. */
    int (*reader_open)(void *user_data, int fd, void **reader, int64_t *plain_bytes, sdra_error *err);
    int (*reader_read)(void *reader, void *buf, size_t n, size_t *got, sdra_error *err);
    void (*reader_close)(void *reader);
    /* key_id: whose key seals the value (a call id, or a shared key's name); malloc'd result,
     * NULL on failure (the caller then stores nothing) */
    char *(*seal_text)(void *user_data, const char *key_id, const char *text);
    /* a sealed value's plaintext (malloc'd); SDRA_ENOTFOUND when its key is gone (shredded),
     * SDRA_EDENIED when the key at hand did not wrap it (another master key) */
    int (*open_text)(void *user_data, const char *value, char **out, sdra_error *err);
    /* the keyed hash a value is looked up by */
    int (*blind)(void *user_data, const char *text, char out[SDRA_SEAL_BLIND_MAX]);
} sdra_seal_ops;

/* Installs ops on the calling thread (NULL removes); returns the previous table. */
const sdra_seal_ops *sdra_seal_set(const sdra_seal_ops *ops);
/* The calling thread's table, or NULL. */
const sdra_seal_ops *sdra_seal_get(void);
/* True when the n bytes at head begin an sdra-encrypted file ("SDRAENC1"). */
bool sdra_seal_is_sealed(const void *head, size_t n);
/* True when a text value is a sealed field ("sdra:e1:..."). */
bool sdra_seal_is_sealed_text(const char *value);

#ifdef __cplusplus
}
#endif
#endif
