/*
 * jschema.c - a validator for the subset of JSON Schema that data/llm/analysis.schema.json
 * uses, so that a model's reply is checked against the same file the server was given.
 *
 * Keywords: type (a name or a list of names: object, array, string, integer, number, boolean,
 * null), properties, required, additionalProperties (false only), items, enum (strings),
 * minLength / maxLength (in UTF-8 code points), minItems / maxItems, minimum / maximum;
 * description and title are ignored. an_jschema_check() refuses a schema with any other
 * keyword, so a constraint is never silently skipped. Validation stops at the first failure
 * and says where ("$.objections[2].type: 'budget' is not one of the allowed values").
 * Recursion is bounded by the schema's depth, not the instance's.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 32

static const char *const known[] = {"type", "properties", "required", "additionalProperties", "items", "enum",
                                    "minLength", "maxLength", "minItems", "maxItems", "minimum", "maximum",
                                    "description", "title", "$schema"};

static int check(const json_t *s, const char *path, int depth, sdra_error *err)
{
    if (depth > MAX_DEPTH)
        return sdra_error_set(err, SDRA_EINVAL, "schema %s: nested too deeply", path);
    if (!json_is_object(s))
        return sdra_error_set(err, SDRA_EINVAL, "schema %s: expected an object", path);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)s, k, v) {
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof known[0] && !ok; i++)
            ok = !strcmp(k, known[i]);
        if (!ok)
            return sdra_error_set(err, SDRA_EINVAL, "schema %s: keyword '%s' is not supported", path, k);
        if (!strcmp(k, "additionalProperties") && !json_is_false(v))
            return sdra_error_set(err, SDRA_EINVAL, "schema %s: additionalProperties must be false", path);
    }
    json_t *props = json_object_get(s, "properties");
    if (props) {
        if (!json_is_object(props))
            return sdra_error_set(err, SDRA_EINVAL, "schema %s: properties must be an object", path);
        json_object_foreach(props, k, v) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.%s", path, k);
            int rc = check(v, sub, depth + 1, err);
            if (rc < 0)
                return rc;
        }
    }
    json_t *items = json_object_get(s, "items");
    if (items) {
        char sub[256];
        snprintf(sub, sizeof sub, "%s[]", path);
        return check(items, sub, depth + 1, err);
    }
    return 0;
}

int an_jschema_check(const json_t *schema, sdra_error *err) { return check(schema, "$", 0, err); }

static bool type_is(const json_t *inst, const char *t)
{
    if (!strcmp(t, "object"))
        return json_is_object(inst);
    if (!strcmp(t, "array"))
        return json_is_array(inst);
    if (!strcmp(t, "string"))
        return json_is_string(inst);
    if (!strcmp(t, "integer"))
        return json_is_integer(inst);
    if (!strcmp(t, "number"))
        return json_is_number(inst);
    if (!strcmp(t, "boolean"))
        return json_is_boolean(inst);
    if (!strcmp(t, "null"))
        return json_is_null(inst);
    return false;
}

static size_t utf8_len(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            c++;
    return c;
}

static int fail(char *why, size_t n, const char *path, const char *fmt, const char *a)
{
    char msg[200];
    snprintf(msg, sizeof msg, fmt, a);
    snprintf(why, n, "%s: %s", path, msg);
    return -1;
}

static int validate(const json_t *s, const json_t *inst, const char *path, int depth, char *why, size_t n)
{
    if (depth > MAX_DEPTH)
        return fail(why, n, path, "%s", "nested too deeply");
    json_t *ty = json_object_get(s, "type");
    if (ty) {
        bool ok = false;
        if (json_is_string(ty))
            ok = type_is(inst, json_string_value(ty));
        else {
            size_t i;
            json_t *t1;
            json_array_foreach(ty, i, t1) ok = ok || (json_is_string(t1) && type_is(inst, json_string_value(t1)));
        }
        if (!ok)
            return fail(why, n, path, "%s", "wrong type");
    }
    json_t *en = json_object_get(s, "enum");
    if (en) {
        bool ok = false;
        size_t i;
        json_t *e;
        json_array_foreach(en, i, e) ok = ok || json_equal(e, (json_t *)inst);
        if (!ok)
            return fail(why, n, path, "'%.60s' is not one of the allowed values",
                        json_is_string(inst) ? json_string_value(inst) : "(value)");
    }
    if (json_is_string(inst)) {
        size_t len = utf8_len(json_string_value(inst), json_string_length(inst));
        json_t *mx = json_object_get(s, "maxLength"), *mn = json_object_get(s, "minLength");
        if (mx && (json_int_t)len > json_integer_value(mx))
            return fail(why, n, path, "%s", "string longer than maxLength");
        if (mn && (json_int_t)len < json_integer_value(mn))
            return fail(why, n, path, "%s", "string shorter than minLength");
    }
    if (json_is_number(inst)) {
        double v = json_number_value(inst);
        json_t *mx = json_object_get(s, "maximum"), *mn = json_object_get(s, "minimum");
        if (mx && v > json_number_value(mx))
            return fail(why, n, path, "%s", "above maximum");
        if (mn && v < json_number_value(mn))
            return fail(why, n, path, "%s", "below minimum");
    }
    if (json_is_array(inst)) {
        json_t *mx = json_object_get(s, "maxItems"), *mn = json_object_get(s, "minItems");
        if (mx && (json_int_t)json_array_size(inst) > json_integer_value(mx))
            return fail(why, n, path, "%s", "more items than maxItems");
        if (mn && (json_int_t)json_array_size(inst) < json_integer_value(mn))
            return fail(why, n, path, "%s", "fewer items than minItems");
        json_t *items = json_object_get(s, "items");
        size_t i;
        json_t *e;
        if (items)
            json_array_foreach(inst, i, e) {
                char sub[256];
                snprintf(sub, sizeof sub, "%s[%zu]", path, i);
                if (validate(items, e, sub, depth + 1, why, n) < 0)
                    return -1;
            }
    }
    if (json_is_object(inst)) {
        json_t *props = json_object_get(s, "properties"), *req = json_object_get(s, "required");
        size_t i;
        json_t *r;
        json_array_foreach(req, i, r) {
            if (json_is_string(r) && !json_object_get(inst, json_string_value(r)))
                return fail(why, n, path, "missing required property '%s'", json_string_value(r));
        }
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)inst, k, v) {
            json_t *ps = json_object_get(props, k);
            char sub[256];
            snprintf(sub, sizeof sub, "%s.%.40s", path, k);
            if (!ps) {
                if (json_is_false(json_object_get(s, "additionalProperties")))
                    return fail(why, n, path, "unexpected property '%.40s'", k);
                continue;
            }
            if (validate(ps, v, sub, depth + 1, why, n) < 0)
                return -1;
        }
    }
    return 0;
}

int an_jschema_validate(const json_t *schema, const json_t *inst, char *why, size_t why_n)
{
    if (why_n)
        why[0] = 0;
    return validate(schema, inst, "$", 0, why, why_n);
}
