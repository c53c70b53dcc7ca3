/*
 * keys.c - API key management over HTTP (issue 14): an admin key lists, creates, revokes and
 * deletes the keys of its own organisation (GET/POST /v1/keys, DELETE /v1/keys/{id},
 * POST /v1/keys/{id}/revoke). A key of another organisation is 404, as if it did not exist.
 * The admin scope is checked by the router (http.c). Every change is audited before it is
 * made, except a creation: the key is created, then audited, and removed again (never shown)
 * when the entry cannot be written, as `sdra keys create` does.
 */
#include "internal.h"

#include "sdra/log.h"
#include "sdra/util.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define KEYS_MAX 1024 /* keys read to list one organisation's */

static json_t *key_json(const sdra_store_key *k)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:o,s:o}", "id", k->id, "name", k->name, "scope", k->scope, "org", k->org,
                     "created_at", srv_time_or_null(k->created_ms), "revoked_at", srv_time_or_null(k->revoked_ms));
}

/* The key named by the path when it belongs to the caller's organisation; else answered 404. */
static bool own_key(req *r, struct MHD_Connection *c, sdra_store_key *k, enum MHD_Result *ret)
{
    sdra_error err = {0};
    int rc = sdra_store_key_get(r->s->store, r->key_id, k, &err);
    if (rc == 0 && !strcmp(k->org, r->key.org))
        return true;
    *ret = rc < 0 && rc != SDRA_ENOTFOUND ? srv_send_sdra_error(r, c, &err)
                                          : srv_send_error(r, c, 404, "not_found", "no API key %s", r->key_id);
    return false;
}

enum MHD_Result srv_keys_list(req *r, struct MHD_Connection *c)
{
    sdra_store_key *keys = calloc(KEYS_MAX, sizeof *keys);
    if (!keys)
        return srv_send_error(r, c, 500, "internal", "out of memory");
    int n = 0;
    sdra_error err = {0};
    enum MHD_Result ret;
    if (sdra_store_key_list(r->s->store, keys, KEYS_MAX, &n, &err) < 0) {
        ret = srv_send_sdra_error(r, c, &err);
        goto done;
    }
    if (srv_audit(r, NULL, "keys.list", "", NULL) < 0) {
        ret = srv_send_audit_failed(r, c);
        goto done;
    }
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        if (!strcmp(keys[i].org, r->key.org))
            json_array_append_new(arr, key_json(&keys[i]));
    ret = srv_send_json(r, c, 200, json_pack("{s:s,s:o}", "org", r->key.org, "keys", arr));
done:
    sodium_memzero(keys, KEYS_MAX * sizeof *keys);
    free(keys);
    return ret;
}

enum MHD_Result srv_keys_create(req *r, struct MHD_Connection *c)
{
    if (r->body_too_big)
        return srv_send_error(r, c, 413, "limit_exceeded", "request body over %zu bytes", srv_route_body_max(r->route));
    json_error_t jerr;
    json_t *doc = r->body ? json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    const char *name = json_string_value(json_object_get(doc, "name"));
    const char *scope = json_string_value(json_object_get(doc, "scope"));
    enum MHD_Result ret;
    if (!json_is_object(doc) || !name || !scope) {
        ret = srv_send_error(r, c, 400, "invalid_input",
                             "send a JSON object {\"name\": \"...\", \"scope\": \"read|write|admin\"}");
        goto done;
    }
    if (strcmp(scope, "read") && strcmp(scope, "write") && strcmp(scope, "admin")) {
        ret = srv_send_error(r, c, 400, "invalid_input", "scope must be read, write or admin");
        goto done;
    }
    char key[SDRA_SERVER_KEY_MAX], detail[256];
    sdra_error err = {0};
    if (sdra_server_org_key_create(r->s->store, r->key.org, name, scope, key, sizeof key, &err) < 0) {
        ret = srv_send_sdra_error(r, c, &err);
        goto done;
    }
    sdra_store_key k;
    char id[13];
    memcpy(id, key + 5, 12); /* "sdra_<12 hex id>_<secret>" */
    id[12] = '\0';
    snprintf(detail, sizeof detail, "name=%.120s scope=%s org=%s", name, scope, r->key.org);
    if (srv_audit(r, NULL, "key.create", id, detail) < 0 || sdra_store_key_get(r->s->store, id, &k, &err) < 0) {
        /* no entry, no key: it is removed and never shown */
        if (sdra_store_key_delete(r->s->store, id, NULL, NULL) < 0)
            sdra_store_key_revoke(r->s->store, id, sdra_store_now_ms(), NULL);
        sodium_memzero(key, sizeof key);
        ret = srv_send_audit_failed(r, c);
        goto done;
    }
    json_t *o = key_json(&k);
    json_object_set_new(o, "key", json_string(key));
    sodium_memzero(key, sizeof key);
    ret = srv_send_json(r, c, 201, o);
done:
    json_decref(doc);
    return ret;
}

enum MHD_Result srv_key_delete(req *r, struct MHD_Connection *c)
{
    sdra_store_key k;
    enum MHD_Result ret;
    if (!own_key(r, c, &k, &ret))
        return ret;
    if (srv_audit(r, NULL, "key.delete", k.id, NULL) < 0)
        return srv_send_audit_failed(r, c);
    sdra_error err = {0};
    if (sdra_store_key_delete(r->s->store, k.id, NULL, &err) < 0)
        return srv_send_sdra_error(r, c, &err);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    return srv_queue(r, c, 204, resp);
}

enum MHD_Result srv_key_revoke(req *r, struct MHD_Connection *c)
{
    sdra_store_key k;
    enum MHD_Result ret;
    if (!own_key(r, c, &k, &ret))
        return ret;
    if (k.revoked_ms)
        return srv_send_error(r, c, 409, "conflict", "API key %s is already revoked", k.id);
    if (srv_audit(r, NULL, "key.revoke", k.id, NULL) < 0)
        return srv_send_audit_failed(r, c);
    sdra_error err = {0};
    if (sdra_store_key_revoke(r->s->store, k.id, sdra_store_now_ms(), &err) < 0 ||
        sdra_store_key_get(r->s->store, r->key_id, &k, &err) < 0)
        return srv_send_sdra_error(r, c, &err);
    return srv_send_json(r, c, 200, key_json(&k));
}
