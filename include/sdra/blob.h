/*
 * sdra/blob.h - the object store where a server keeps calls' audio and artifacts: a local
 * directory (one machine; what the data directory always was) or S3-compatible storage (API
 * nodes and workers on many machines).
 *
 * An object is named by a key relative to the store's root: "calls/<id>/transcript.json",
 * exactly the path the job store records for an artifact (sdra_store_artifact.path), so the
 * local backend rooted at the data directory keeps today's layout. Keys are [A-Za-z0-9._-/],
 * relative, without "..", "//" or a trailing "/", at most SDRA_BLOB_KEY_MAX - 1 bytes; any
 * other key is SDRA_EINVAL before anything is sent.
 *
 * Every transfer streams: a put reads its source in pieces of at most part_bytes (a larger
 * source goes to S3 as a multipart upload, aborted when a part fails), a get writes what
 * arrives. Memory stays bounded by one part whatever the object's size. A put is atomic:
 * readers see the old object or the new, never half of one (local: temporary file + rename;
 * S3: the object appears when the upload completes).
 *
 *     sdra_blob *b = NULL;
 *     if (sdra_blob_open(&b, "s3://recordings/sdra", &err) < 0)   // or "/var/lib/sdra"
 *         ... err.msg: "s3://recordings/sdra: HTTP 404 NoSuchBucket: The specified bucket does
 *             not exist" ...
 *     sdra_blob_put_file(b, "calls/c-1/audio.mp3", "/tmp/upload-1", &err);
 *     sdra_blob_get_file(b, "calls/c-1/audio.mp3", "/var/cache/sdra/calls/c-1/audio.mp3", &err);
 *     sdra_blob_delete_prefix(b, "calls/c-1/", &n, &err);        // erasure
 *     sdra_blob_close(b);
 *
 * S3 location: s3://BUCKET[/PREFIX]. Settings from the environment, never from flags (they
 * would show in `ps`): SDRA_S3_ENDPOINT (default https://s3.REGION.amazonaws.com),
 * SDRA_S3_REGION (default us-east-1), SDRA_S3_PATH_STYLE (1: ENDPOINT/BUCKET/KEY, the default
 * when an endpoint is given; 0: BUCKET.HOST/KEY, the default on AWS), and the credentials
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, each also as NAME_FILE (a file
 * holding the value). Requests are signed with AWS Signature Version 4 (libcurl's
 * CURLOPT_AWS_SIGV4). Messages name the location and what the server said, never a secret.
 *
 * Errors: SDRA_ENOTFOUND (no such object; a missing bucket is SDRA_ENOTFOUND too, with
 * NoSuchBucket in the message), SDRA_EDENIED (403: wrong credentials or no permission),
 * SDRA_ETIMEOUT, SDRA_ERETRY (connection refused or reset; 500, 503), SDRA_EUPSTREAM (other
 * answers), SDRA_EIO (local files), SDRA_EINVAL (bad key or location). Thread safety: one
 * sdra_blob may be used by many threads at once.
 */
#ifndef SDRA_BLOB_H
#define SDRA_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sdra/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SDRA_BLOB_KEY_MAX 1024
#define SDRA_BLOB_PART_BYTES_DEFAULT (8u << 20) /* S3 multipart part size (S3's minimum: 5 MiB) */

typedef struct sdra_blob sdra_blob;

/* A stream source: copies up to n bytes into buf and returns how many (0 at the end), or a
 * negative sdra_code to abandon the put. */
typedef long (*sdra_blob_read_fn)(void *user_data, char *buf, size_t n);
/* A stream sink: takes n bytes; a negative sdra_code abandons the get. */
typedef int (*sdra_blob_write_fn)(void *user_data, const char *data, size_t n);

typedef struct sdra_blob_params {
    const char *location;        /* a directory, file://DIR or s3://BUCKET[/PREFIX] */
    /* S3 only; NULL = from the environment as described above */
    const char *endpoint;        /* http(s)://host[:port] */
    const char *region;
    const char *access_key_id, *secret_access_key, *session_token;
    int path_style;              /* 1 path-style, 0 virtual-host, -1 the default */
    size_t part_bytes;           /* multipart part size; 0 = SDRA_BLOB_PART_BYTES_DEFAULT */
    long timeout_ms;             /* a request without progress for this long fails; 0 = 60000 */
    long connect_timeout_ms;     /* 0 = 5000 */
} sdra_blob_params;

sdra_blob_params sdra_blob_default_params(void);

/* Opens the store at location (sdra_blob_open) or as p says. A local directory is created
 * when missing; an S3 location is checked with one request (the bucket answers), so a wrong
 * bucket, credentials or endpoint fails here in one line. *out untouched on failure. */
int sdra_blob_open(sdra_blob **out, const char *location, sdra_error *err);
int sdra_blob_open_params(sdra_blob **out, const sdra_blob_params *p, sdra_error *err);
void sdra_blob_close(sdra_blob *b); /* accepts NULL */

/* "local" or "s3"; and the location without credentials, for logs. Borrowed. */
const char *sdra_blob_backend(const sdra_blob *b);
const char *sdra_blob_location(const sdra_blob *b);

/* True when key is a valid key (see above). */
bool sdra_blob_key_valid(const char *key);

/* Stores the file at path as key, replacing it. With the local backend, a path that already is
 * the object's file is left as it is (nothing to copy). */
int sdra_blob_put_file(sdra_blob *b, const char *key, const char *path, sdra_error *err);
/* Stores what fn reads as key. On failure the old object (if any) is unchanged. */
int sdra_blob_put_stream(sdra_blob *b, const char *key, sdra_blob_read_fn fn, void *user_data, sdra_error *err);

/* Writes the object to path (a temporary file beside it, renamed when complete), replacing
 * it; a path that already is the object's file is left as it is. */
int sdra_blob_get_file(sdra_blob *b, const char *key, const char *path, sdra_error *err);
/* Streams the object to fn. */
int sdra_blob_get_stream(sdra_blob *b, const char *key, sdra_blob_write_fn fn, void *user_data, sdra_error *err);
/* Streams len bytes from first (len < 0: to the end). A range past the end is SDRA_EINVAL. */
int sdra_blob_get_range(sdra_blob *b, const char *key, int64_t first, int64_t len, sdra_blob_write_fn fn,
                        void *user_data, sdra_error *err);

/* The object's size in bytes; SDRA_ENOTFOUND when absent. */
int sdra_blob_head(sdra_blob *b, const char *key, int64_t *size_out, sdra_error *err);

/* Calls fn with every object whose key starts with prefix (which ends in "/"), in no
 * particular order, with its key and size; fn returning non-zero stops the walk and is
 * returned. */
typedef int (*sdra_blob_list_fn)(void *user_data, const char *key, int64_t size_bytes);
int sdra_blob_list(sdra_blob *b, const char *prefix, sdra_blob_list_fn fn, void *user_data, sdra_error *err);

/* Removes the object; an absent one is not an error. */
int sdra_blob_delete(sdra_blob *b, const char *key, sdra_error *err);
/* Removes every object whose key starts with prefix (which ends in "/": "calls/c-1/"), and
 * counts them in *n_deleted (may be NULL). On failure some may be gone: run it again. */
int sdra_blob_delete_prefix(sdra_blob *b, const char *prefix, int *n_deleted, sdra_error *err);

#ifdef __cplusplus
}
#endif
#endif
