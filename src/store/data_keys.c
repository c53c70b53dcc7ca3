/*
 * data_keys.c - the public wrappers of the wrapped data keys (sdra/store.h, encryption at
 * rest): argument checks, then the backend.
 */
#include "sdra/store.h"

#include <string.h>

static int valid_key_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= SDRA_STORE_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') || id[i] == '-'))
            return 0;
    return 1;
}

int sdra_store_data_key_put(sdra_store *s, const char *id, const char *master_id, const unsigned char *wrapped,
                            size_t n, bool replace, int64_t now_ms, sdra_error *err)
{
    if (!valid_key_id(id) || !master_id || !*master_id || strlen(master_id) >= SDRA_STORE_ID_MAX || n == 0 ||
        n > SDRA_STORE_WRAPPED_MAX)
        return sdra_error_set(err, SDRA_EINVAL, "data key '%.80s': bad id, master id or length", id ? id : "");
    return s->ops->data_key_put(s, id, master_id, wrapped, n, replace, now_ms, err);
}

int sdra_store_data_key_get(sdra_store *s, const char *id, char *master_id, unsigned char *wrapped, size_t *n,
                            sdra_error *err)
{
    if (!valid_key_id(id))
        return sdra_error_set(err, SDRA_ENOTFOUND, "no data key for '%.80s'", id ? id : "");
    return s->ops->data_key_get(s, id, master_id, wrapped, n, err);
}

int sdra_store_data_key_rewrap(sdra_store *s, sdra_store_rewrap_fn fn, void *user_data, int *n_out, sdra_error *err)
{
    *n_out = 0;
    return s->ops->data_key_rewrap(s, fn, user_data, n_out, err);
}
