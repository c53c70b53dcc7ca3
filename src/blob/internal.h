/*
 * internal.h - the object store's backend table (sdra/blob.h). blob.c checks keys and
 * dispatches; local.c and s3.c are the backends. Keys reaching a backend are valid.
 */
#ifndef SDRA_BLOB_INTERNAL_H
#define SDRA_BLOB_INTERNAL_H

#include "sdra/blob.h"

typedef struct blob_ops {
    const char *name;
    int (*put_stream)(sdra_blob *b, const char *key, sdra_blob_read_fn fn, void *ud, int64_t size_hint,
                      sdra_error *err);
    /* first >= 0, len < 0 = to the end */
    int (*get_range)(sdra_blob *b, const char *key, int64_t first, int64_t len, sdra_blob_write_fn fn, void *ud,
                     sdra_error *err);
    int (*head)(sdra_blob *b, const char *key, int64_t *size_out, sdra_error *err);
    int (*del)(sdra_blob *b, const char *key, sdra_error *err);
    int (*del_prefix)(sdra_blob *b, const char *prefix, int *n_deleted, sdra_error *err);
    int (*list)(sdra_blob *b, const char *prefix, sdra_blob_list_fn fn, void *ud, sdra_error *err);
    /* local only: the object's file (NULL elsewhere), so that a put or get of that very file is
     * a no-op */
    int (*file_of)(sdra_blob *b, const char *key, char *out, size_t n);
    void (*close)(sdra_blob *b);
} blob_ops;

struct sdra_blob {
    const blob_ops *ops;
    char location[SDRA_BLOB_KEY_MAX]; /* without credentials */
    void *impl;
};

int blob_local_open(sdra_blob *b, const char *dir, sdra_error *err);
int blob_s3_open(sdra_blob *b, const sdra_blob_params *p, sdra_error *err);

#endif
