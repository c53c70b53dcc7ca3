/*
 * hubspot.c - the HubSpot CRM connector ("hubspot"): the sdra_crm_ops table over HubSpot's CRM
 * v3 object API and v4 associations (docs/connectors.md "HubSpot").
 *
 * What goes where: the contact is searched by email and then written with batch/upsert on
 * idProperty email; the call is a call engagement (hs_call_*), associated with the contact
 * (type 194); action items are tasks (204), the agreed meeting a meeting (200), the scheduled
 * follow-up an email engagement (198), notes notes (202). Record owners are HubSpot owners found
 * by the rep's email (or SDRA_HUBSPOT_OWNER_EMAIL / SDRA_HUBSPOT_OWNER_ID).
 *
 * Idempotency: every engagement carries two custom properties, sdra_key (unique: the record's
 * natural key, "call:<id>", "task:<call>:<key>", ...) and sdra_call_id, created on first use when
 * the portal does not have them. Every write is a batch/upsert with idProperty sdra_key, so a
 * sync repeated after a crash at any point updates the records it already wrote. Opt-outs are
 * the contact properties sdra_do_not_call / sdra_do_not_email (sticky: only ever set) and, with
 * SDRA_HUBSPOT_SUBSCRIPTION_ID, an unsubscribe through the communication preferences API;
 * sync.c adds the compliance note.
 *
 * HubSpot has no transactions (begin/commit are NULL): a failed sync leaves what it wrote, and
 * the next sync completes it. Credentials: SDRA_HUBSPOT_TOKEN (a private app's token) and/or an
 * OAuth refresh token (SDRA_HUBSPOT_REFRESH_TOKEN, _CLIENT_ID, _CLIENT_SECRET), refreshed on a
 * 401. Listing is not supported (look in HubSpot); erasure of a contact uses the GDPR delete.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sdra/log.h"
#include "sdra/util.h"

#define HS_DEFAULT_URL "https://api.hubapi.com"
#define HS_SEARCH_PAGE 100
#define HS_SEARCH_MAX 10000 /* records one search collects at most */
#define HS_TEXT_MAX 65536   /* HubSpot's limit on a text property */

/* Association types, HUBSPOT_DEFINED, from the engagement to the contact. */
#define HS_ASSOC_CALL 194
#define HS_ASSOC_EMAIL 198
#define HS_ASSOC_MEETING 200
#define HS_ASSOC_NOTE 202
#define HS_ASSOC_TASK 204

enum { HS_CONTACTS, HS_CALLS, HS_TASKS, HS_MEETINGS, HS_NOTES, HS_EMAILS, HS_N_OBJ };
static const char *const obj_names[HS_N_OBJ] = {"contacts", "calls", "tasks", "meetings", "notes", "emails"};

typedef struct hubspot {
    crm_remote r;
    char token_url[1100];
    char owner_email[320]; /* the owner_id cache is for this email */
    char owner_id[64];
    unsigned props_ok; /* bit per object: the custom properties exist */
    char env_prefix[CRM_ENV_PREFIX_MAX]; /* whose settings: "" the default org's (crm_org_prefix) */
} hubspot;

/* ---- payload builders ---------------------------------------------------------------------- */

long long sdra_crm_date_ms(const char *date, const char *time_s)
{
    int y, mo, d, h = 0, mi = 0;
    char tail;
    if (!date || sscanf(date, "%4d-%2d-%2d%c", &y, &mo, &d, &tail) < 3 || mo < 1 || mo > 12 || d < 1 || d > 31)
        return -1;
    if (time_s && (sscanf(time_s, "%2d:%2d", &h, &mi) != 2 || h > 23 || mi > 59 || h < 0 || mi < 0))
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    time_t t = timegm(&tm);
    return t == (time_t)-1 ? -1 : (long long)t * 1000;
}

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v && *v)
        json_object_set_new(o, k, json_string(v));
}

static void set_ms(json_t *o, const char *k, long long ms)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", ms);
    json_object_set_new(o, k, json_string(b));
}

json_t *sdra_hubspot_call_props(const sdra_crm_activity *a, const char *key, const char *owner_id, long long now_ms)
{
    json_t *p = json_object();
    long long ts = sdra_crm_date_ms(a->call_date, NULL);
    set_ms(p, "hs_timestamp", ts >= 0 ? ts : now_ms);
    char title[160];
    snprintf(title, sizeof title, "Sales call%s%s", a->outcome ? ": " : "", a->outcome ? a->outcome : "");
    json_object_set_new(p, "hs_call_title", crm_json_cut(title, 120));
    sdra_buf b;
    crm_call_description(&b, a);
    json_object_set_new(p, "hs_call_body", crm_json_cut(b.data ? b.data : "", HS_TEXT_MAX));
    sdra_buf_release(&b);
    set_ms(p, "hs_call_duration", (long long)(a->duration_s * 1000.0 + 0.5));
    json_object_set_new(p, "hs_call_direction",
                        json_string(a->direction && !strcmp(a->direction, "inbound") ? "INBOUND" : "OUTBOUND"));
    json_object_set_new(p, "hs_call_status", json_string("COMPLETED"));
    set_str(p, "hubspot_owner_id", owner_id);
    json_object_set_new(p, "sdra_key", json_string(key));
    json_object_set_new(p, "sdra_call_id", json_string(a->call_id));
    return p;
}

json_t *sdra_hubspot_task_props(const sdra_crm_task *t, const char *key, const char *owner_id, long long now_ms)
{
    json_t *p = json_object();
    json_object_set_new(p, "hs_task_subject", crm_json_cut(t->text, 250));
    char body[SDRA_CRM_TEXT_MAX + 64];
    snprintf(body, sizeof body, "%s\n(%s, from sdra call %s)", t->text,
             sdra_crm_owner_words(t->owner),
             t->call_id);
    json_object_set_new(p, "hs_task_body", json_string(body));
    long long due = sdra_crm_date_ms(t->due_date, t->due_time);
    set_ms(p, "hs_timestamp", due >= 0 ? due : now_ms);
    json_object_set_new(p, "hs_task_status", json_string("NOT_STARTED"));
    json_object_set_new(p, "hs_task_priority", json_string(t->due_date ? "HIGH" : "MEDIUM"));
    json_object_set_new(p, "hs_task_type", json_string(!strcmp(t->kind, "meeting") ? "CALL" : "TODO"));
    set_str(p, "hubspot_owner_id", owner_id);
    json_object_set_new(p, "sdra_key", json_string(key));
    json_object_set_new(p, "sdra_call_id", json_string(t->call_id));
    return p;
}

json_t *sdra_hubspot_meeting_props(const sdra_crm_task *t, const char *key, const char *owner_id, long long now_ms)
{
    json_t *p = json_object();
    long long start = sdra_crm_date_ms(t->due_date, t->due_time ? t->due_time : "09:00");
    if (start < 0)
        start = now_ms;
    json_object_set_new(p, "hs_meeting_title", crm_json_cut(t->text, 250));
    json_object_set_new(p, "hs_meeting_body", json_string("Agreed on the call; scheduled by sdra."));
    set_ms(p, "hs_timestamp", start);
    set_ms(p, "hs_meeting_start_time", start);
    set_ms(p, "hs_meeting_end_time", start + 30LL * 60 * 1000);
    json_object_set_new(p, "hs_meeting_outcome", json_string("SCHEDULED"));
    set_str(p, "hubspot_owner_id", owner_id);
    json_object_set_new(p, "sdra_key", json_string(key));
    json_object_set_new(p, "sdra_call_id", json_string(t->call_id));
    return p;
}

json_t *sdra_hubspot_note_props(const sdra_crm_note *n, const char *key, long long now_ms)
{
    json_t *p = json_object();
    json_object_set_new(p, "hs_note_body", crm_json_cut(n->body, HS_TEXT_MAX));
    set_ms(p, "hs_timestamp", now_ms);
    json_object_set_new(p, "sdra_key", json_string(key));
    json_object_set_new(p, "sdra_call_id", json_string(n->call_id));
    return p;
}

json_t *sdra_hubspot_email_props(const sdra_crm_email *e, const char *key, long long now_ms)
{
    json_t *p = json_object();
    if (e->send_at && *e->send_at)
        json_object_set_new(p, "hs_timestamp", json_string(e->send_at));
    else
        set_ms(p, "hs_timestamp", now_ms);
    json_object_set_new(p, "hs_email_direction", json_string("EMAIL"));
    json_object_set_new(p, "hs_email_status", json_string("SCHEDULED"));
    if (e->subject)
        json_object_set_new(p, "hs_email_subject", crm_json_cut(e->subject, 250));
    if (e->to) {
        json_t *h = json_pack("{s:[{s:s}]}", "to", "email", e->to);
        char *hs = json_dumps(h, JSON_COMPACT);
        json_object_set_new(p, "hs_email_headers", json_string(hs ? hs : "{}"));
        free(hs);
        json_decref(h);
    }
    json_object_set_new(p, "sdra_key", json_string(key));
    if (e->call_id)
        json_object_set_new(p, "sdra_call_id", json_string(e->call_id));
    return p;
}

json_t *sdra_hubspot_contact_props(const sdra_crm_contact *c, bool dnc, bool dne)
{
    json_t *p = json_object();
    set_str(p, "email", c->email);
    if (c->name && *c->name) {
        const char *sp = strrchr(c->name, ' ');
        if (sp && sp > c->name) {
            json_object_set_new(p, "firstname", json_stringn(c->name, (size_t)(sp - c->name)));
            set_str(p, "lastname", sp + 1);
        } else {
            set_str(p, "firstname", c->name);
        }
    }
    set_str(p, "company", c->company);
    set_str(p, "jobtitle", c->title);
    set_str(p, "phone", c->phone);
    if (dnc)
        json_object_set_new(p, "sdra_do_not_call", json_string("true"));
    if (dne)
        json_object_set_new(p, "sdra_do_not_email", json_string("true"));
    return p;
}

/* ---- the API ------------------------------------------------------------------------------- */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* HubSpot error documents: {"status":"error","message":..,"category":..,"errors":[{"message",
 * "code","context":{"propertyName":[..]}}],"policyName":..} -> "field X: message". */
static void hs_describe(const json_t *doc, char *out, size_t n)
{
    const char *msg = json_string_value(json_object_get(doc, "message"));
    const char *cat = json_string_value(json_object_get(doc, "category"));
    const char *policy = json_string_value(json_object_get(doc, "policyName"));
    json_t *e0 = json_array_get(json_object_get(doc, "errors"), 0);
    const char *field = json_string_value(json_array_get(json_object_get(json_object_get(e0, "context"), "propertyName"), 0));
    if (!field)
        field = json_string_value(json_object_get(e0, "propertyName"));
    const char *emsg = json_string_value(json_object_get(e0, "message"));
    if (emsg)
        msg = emsg;
    snprintf(out, n, "%s%.80s%s%.200s%s%.40s%s", field ? "field " : "", field ? field : "", field ? ": " : "",
             msg ? msg : "no message", cat ? " [" : "", cat ? cat : "", cat ? "]" : "");
    if (policy) {
        size_t l = strlen(out);
        snprintf(out + l, n - l, " (policy %.40s)", policy);
    }
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
}

static int hs_refresh(crm_remote *r, sdra_error *err)
{
    hubspot *h = r->owner;
    const char *rt = crm_env_in(h->env_prefix, "SDRA_HUBSPOT_REFRESH_TOKEN"), *id = crm_env_in(h->env_prefix, "SDRA_HUBSPOT_CLIENT_ID"),
               *secret = crm_env_in(h->env_prefix, "SDRA_HUBSPOT_CLIENT_SECRET");
    if (!rt || !id || !secret)
        return sdra_error_set(err, SDRA_EINVAL,
                              "HubSpot: no access token: set SDRA_HUBSPOT_TOKEN, or SDRA_HUBSPOT_REFRESH_TOKEN with "
                              "SDRA_HUBSPOT_CLIENT_ID and SDRA_HUBSPOT_CLIENT_SECRET");
    sdra_buf form;
    sdra_buf_init(&form, 16384);
    json_t *doc = NULL;
    int rc = 0;
    if (crm_form_add(&form, "grant_type", "refresh_token") < 0 || crm_form_add(&form, "client_id", id) < 0 ||
        crm_form_add(&form, "client_secret", secret) < 0 || crm_form_add(&form, "refresh_token", rt) < 0)
        rc = sdra_error_set(err, SDRA_ENOMEM, "HubSpot token refresh: out of memory");
    else if ((rc = crm_remote_token(r, h->token_url, form.data, &doc, err)) == 0)
        rc = crm_remote_set_token(r, json_string_value(json_object_get(doc, "access_token")), err);
    if (rc == 0)
        sdra_log(SDRA_LOG_INFO, "HubSpot: access token refreshed");
    json_decref(doc);
    memset(form.data, 0, form.cap);
    sdra_buf_release(&form);
    return rc;
}

static void hs_close(void *state)
{
    hubspot *h = state;
    if (h)
        memset(h->r.token, 0, sizeof h->r.token);
    free(h);
}

/* Reads h's settings (under h->env_prefix) into h, which holds nothing else yet. */
static int hs_setup(hubspot *h, sdra_error *err)
{
    const char *base = crm_env_in(h->env_prefix, "SDRA_HUBSPOT_URL");
    int rc = crm_remote_init(&h->r, "HubSpot", base ? base : HS_DEFAULT_URL, err);
    if (rc < 0)
        return rc;
    h->r.owner = h;
    h->r.describe = hs_describe;
    snprintf(h->token_url, sizeof h->token_url, "%s/oauth/v1/token", h->r.base);
    const char *tok = crm_env_in(h->env_prefix, "SDRA_HUBSPOT_TOKEN");
    bool can_refresh = crm_env_in(h->env_prefix, "SDRA_HUBSPOT_REFRESH_TOKEN") != NULL;
    if (!tok && !can_refresh)
        return sdra_error_set(err, SDRA_EINVAL, "HubSpot: set %sHUBSPOT_TOKEN (a private app's access token) or "
                                                "%sHUBSPOT_REFRESH_TOKEN (docs/connectors.md)",
                              h->env_prefix[0] ? h->env_prefix : "SDRA_", h->env_prefix[0] ? h->env_prefix : "SDRA_");
    if (tok && (rc = crm_remote_set_token(&h->r, tok, err)) < 0)
        return rc;
    if (can_refresh)
        h->r.refresh = hs_refresh;
    return 0;
}

static int hs_open(void **state, const char *data_dir, int flags, sdra_error *err)
{
    (void)data_dir;
    (void)flags;
    *state = NULL;
    hubspot *h = calloc(1, sizeof *h);
    if (!h)
        return sdra_error_set(err, SDRA_ENOMEM, "HubSpot: out of memory");
    int rc = hs_setup(h, err);
    if (rc < 0) {
        hs_close(h);
        return rc;
    }
    *state = h;
    return 0;
}

/* Another organisation: its own settings, read again from scratch; h is unchanged on failure
 * (the caller then closes it: nothing of the default org's is used for this org's call). */
static int hs_set_org(void *state, const char *org, sdra_error *err)
{
    hubspot *h = state, *n = calloc(1, sizeof *n);
    if (!n)
        return sdra_error_set(err, SDRA_ENOMEM, "HubSpot: out of memory");
    crm_org_prefix(n->env_prefix, org);
    int rc = hs_setup(n, err);
    if (rc == 0) {
        memset(h->r.token, 0, sizeof h->r.token);
        *h = *n;
        h->r.owner = h;
    } else if (n->env_prefix[0] && err) {
        sdra_error e = *err;
        rc = sdra_error_set(err, rc, "organisation %s has no HubSpot settings of its own (%sHUBSPOT_*; the plain "
                                     "SDRA_HUBSPOT_* are the default organisation's): %s", org, n->env_prefix, e.msg);
    }
    memset(n->r.token, 0, sizeof n->r.token);
    free(n);
    return rc;
}

static const char *hs_location(void *state)
{
    return ((hubspot *)state)->r.base;
}

static int hs_call(hubspot *h, const char *method, const char *path, const json_t *body, const char *object,
                   json_t **out, long *status, sdra_error *err)
{
    return crm_remote_call(&h->r, method, path, body, object, out, status, err);
}

/* Creates a custom property unless it exists (409 from a concurrent creator is fine). */
static int create_property(hubspot *h, int obj, const char *name, const char *label, bool boolean, bool unique,
                           sdra_error *err)
{
    char path[128], what[128];
    snprintf(path, sizeof path, "/crm/v3/properties/%s", obj_names[obj]);
    snprintf(what, sizeof what, "property %s.%s", obj_names[obj], name);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "name", name, "label", label, "groupName", "sdra",
                             "type", boolean ? "bool" : "string", "fieldType", boolean ? "booleancheckbox" : "text",
                             "description", "Written by sdr-assistant (sdra)");
    if (unique)
        json_object_set_new(body, "hasUniqueValue", json_true());
    if (boolean)
        json_object_set_new(body, "options", json_pack("[{s:s, s:s}, {s:s, s:s}]", "label", "Yes", "value", "true",
                                                       "label", "No", "value", "false"));
    long status = 0;
    int rc = hs_call(h, "POST", path, body, what, NULL, &status, err);
    json_decref(body);
    if (rc < 0 && status == 409)
        rc = 0;
    if (rc == 0)
        sdra_log(SDRA_LOG_INFO, "HubSpot: custom property %s.%s is there", obj_names[obj], name);
    return rc;
}

/* Makes sure the custom properties sdra writes on obj exist (created on first use). The last
 * one created is the one checked, so a crash between two creations is repaired next time. */
static int ensure_props(hubspot *h, int obj, sdra_error *err)
{
    if (h->props_ok & (1u << obj))
        return 0;
    const char *probe = obj == HS_CONTACTS ? "sdra_do_not_email" : "sdra_key";
    char path[160], what[128];
    snprintf(path, sizeof path, "/crm/v3/properties/%s/%s", obj_names[obj], probe);
    snprintf(what, sizeof what, "property %s.%s", obj_names[obj], probe);
    long status = 0;
    sdra_error e2 = {0};
    int rc = hs_call(h, "GET", path, NULL, what, NULL, &status, &e2);
    if (rc < 0 && status != 404) {
        if (err)
            *err = e2;
        return rc;
    }
    if (rc < 0) {
        char gpath[128], gwhat[128];
        snprintf(gpath, sizeof gpath, "/crm/v3/properties/%s/groups", obj_names[obj]);
        snprintf(gwhat, sizeof gwhat, "property group %s.sdra", obj_names[obj]);
        json_t *g = json_pack("{s:s, s:s}", "name", "sdra", "label", "sdr-assistant");
        rc = hs_call(h, "POST", gpath, g, gwhat, NULL, &status, err);
        json_decref(g);
        if (rc < 0 && status != 409)
            return rc;
        if (obj == HS_CONTACTS)
            rc = create_property(h, obj, "sdra_do_not_call", "Do not call (sdra)", true, false, err);
        else
            rc = create_property(h, obj, "sdra_call_id", "sdra call id", false, false, err);
        if (rc == 0)
            rc = obj == HS_CONTACTS ? create_property(h, obj, "sdra_do_not_email", "Do not email (sdra)", true, false, err)
                                    : create_property(h, obj, "sdra_key", "sdra record key", false, true, err);
        if (rc < 0)
            return rc;
    }
    h->props_ok |= 1u << obj;
    return 0;
}

/* POST .../search with one filter group; appends every result (all pages) to *results. */
static int hs_search(hubspot *h, int obj, json_t *filters, const char *const *props, const char *what,
                     json_t *results, sdra_error *err)
{
    char path[128];
    snprintf(path, sizeof path, "/crm/v3/objects/%s/search", obj_names[obj]);
    json_t *body = json_pack("{s:[{s:O}], s:[], s:i}", "filterGroups", "filters", filters, "properties", "limit",
                             HS_SEARCH_PAGE);
    for (int i = 0; props && props[i]; i++)
        json_array_append_new(json_object_get(body, "properties"), json_string(props[i]));
    int rc = 0;
    for (;;) {
        json_t *ans = NULL;
        if ((rc = hs_call(h, "POST", path, body, what, &ans, NULL, err)) < 0)
            break;
        json_array_extend(results, json_object_get(ans, "results"));
        const char *after = json_string_value(json_object_get(json_object_get(json_object_get(ans, "paging"), "next"), "after"));
        bool more = after && json_array_size(results) < HS_SEARCH_MAX;
        if (more)
            json_object_set_new(body, "after", json_string(after));
        json_decref(ans);
        if (!more)
            break;
    }
    json_decref(body);
    return rc;
}

static json_t *eq_filter(const char *prop, const char *value)
{
    return json_pack("{s:s, s:s, s:s}", "propertyName", prop, "operator", "EQ", "value", value);
}

/* The upsert every write is: batch/upsert with one input, keyed by id_property. */
static int hs_upsert(hubspot *h, int obj, const char *id_property, const char *id, json_t *props,
                     const char *what, sdra_crm_result *out, sdra_error *err)
{
    char path[128];
    snprintf(path, sizeof path, "/crm/v3/objects/%s/batch/upsert", obj_names[obj]);
    json_t *body = json_pack("{s:[{s:s, s:s, s:O}]}", "inputs", "idProperty", id_property, "id", id, "properties", props);
    json_t *ans = NULL;
    int rc = hs_call(h, "POST", path, body, what, &ans, NULL, err);
    json_decref(body);
    if (rc < 0)
        return rc;
    json_t *r0 = json_array_get(json_object_get(ans, "results"), 0);
    const char *rid = json_string_value(json_object_get(r0, "id"));
    if (!rid) {
        char detail[360] = "no result";
        if (json_array_size(json_object_get(ans, "errors")) > 0)
            hs_describe(json_array_get(json_object_get(ans, "errors"), 0), detail, sizeof detail);
        rc = sdra_error_set(err, SDRA_EINVAL, "HubSpot %s: %s", what, detail);
    } else {
        memset(out, 0, sizeof *out);
        sdra_strlcpy(out->id, rid, sizeof out->id);
        out->created = json_is_true(json_object_get(r0, "new"));
    }
    json_decref(ans);
    return rc;
}

static int hs_associate(hubspot *h, int obj, const char *id, const char *contact_id, int type, const char *what,
                        sdra_error *err)
{
    if (!contact_id)
        return 0;
    char *eid = crm_remote_escape(id), *ecid = crm_remote_escape(contact_id), path[512];
    if (!eid || !ecid) {
        free(eid);
        free(ecid);
        return sdra_error_set(err, SDRA_ENOMEM, "HubSpot: out of memory");
    }
    snprintf(path, sizeof path, "/crm/v4/objects/%s/%s/associations/contacts/%s", obj_names[obj], eid, ecid);
    free(eid);
    free(ecid);
    json_t *body = json_pack("[{s:s, s:i}]", "associationCategory", "HUBSPOT_DEFINED", "associationTypeId", type);
    int rc = hs_call(h, "PUT", path, body, what, NULL, NULL, err);
    json_decref(body);
    return rc;
}

/* The HubSpot owner id of the rep: SDRA_HUBSPOT_OWNER_ID as given (checked once: a deleted
 * owner is a 404), else the owner whose email is the rep's (or SDRA_HUBSPOT_OWNER_EMAIL).
 * *id is "" when no owner is configured. */
static int hs_owner(hubspot *h, const char *rep_email, const char **id, sdra_error *err)
{
    *id = "";
    const char *fixed = crm_env_in(h->env_prefix, "SDRA_HUBSPOT_OWNER_ID");
    const char *email = fixed ? "#id" : rep_email ? rep_email : crm_env_in(h->env_prefix, "SDRA_HUBSPOT_OWNER_EMAIL");
    if (!email)
        return 0;
    if (!strcmp(h->owner_email, email)) {
        *id = h->owner_id;
        return 0;
    }
    json_t *ans = NULL;
    char path[512], what[400];
    int rc;
    if (fixed) {
        char *e = crm_remote_escape(fixed);
        snprintf(path, sizeof path, "/crm/v3/owners/%s", e ? e : "");
        free(e);
        snprintf(what, sizeof what, "owner %.60s (hubspot_owner_id, SDRA_HUBSPOT_OWNER_ID)", fixed);
        if ((rc = hs_call(h, "GET", path, NULL, what, &ans, NULL, err)) < 0)
            return rc;
        sdra_strlcpy(h->owner_id, fixed, sizeof h->owner_id);
    } else {
        char *e = crm_remote_escape(email);
        snprintf(path, sizeof path, "/crm/v3/owners/?email=%s&limit=1", e ? e : "");
        free(e);
        snprintf(what, sizeof what, "owner %.200s (hubspot_owner_id)", email);
        if ((rc = hs_call(h, "GET", path, NULL, what, &ans, NULL, err)) < 0)
            return rc;
        const char *oid = json_string_value(json_object_get(json_array_get(json_object_get(ans, "results"), 0), "id"));
        if (!oid) {
            json_decref(ans);
            return sdra_error_set(err, SDRA_ENOTFOUND,
                                  "HubSpot %s: no active owner has this email (deleted or deactivated?)", what);
        }
        sdra_strlcpy(h->owner_id, oid, sizeof h->owner_id);
    }
    json_decref(ans);
    sdra_strlcpy(h->owner_email, email, sizeof h->owner_email);
    *id = h->owner_id;
    return 0;
}

static bool prop_true(const json_t *rec, const char *name)
{
    const char *v = json_string_value(json_object_get(json_object_get(rec, "properties"), name));
    return v && !strcmp(v, "true");
}

static int hs_upsert_contact(void *state, const sdra_crm_contact *c, sdra_crm_result *out, sdra_error *err)
{
    hubspot *h = state;
    char what[400];
    snprintf(what, sizeof what, "contact %.300s", c->email);
    int rc = ensure_props(h, HS_CONTACTS, err);
    if (rc < 0)
        return rc;
    json_t *found = json_array(), *props = NULL;
    static const char *const want[] = {"email", "sdra_do_not_call", "sdra_do_not_email", NULL};
    json_t *filters = json_pack("[o]", eq_filter("email", c->email));
    rc = hs_search(h, HS_CONTACTS, filters, want, what, found, err);
    json_decref(filters);
    if (rc < 0)
        goto done;
    json_t *old = json_array_get(found, 0);
    bool had_dne = prop_true(old, "sdra_do_not_email");
    bool dnc = c->do_not_call || prop_true(old, "sdra_do_not_call");
    bool dne = c->do_not_email || had_dne;
    props = sdra_hubspot_contact_props(c, dnc, dne);
    if ((rc = hs_upsert(h, HS_CONTACTS, "email", c->email, props, what, out, err)) < 0)
        goto done;
    out->created = old == NULL;
    out->do_not_call = dnc;
    out->do_not_email = dne;
    const char *sub = crm_env_in(h->env_prefix, "SDRA_HUBSPOT_SUBSCRIPTION_ID");
    if (dne && !had_dne && sub) {
        /* where HubSpot allows it: the contact unsubscribed through communication preferences */
        json_t *u = json_pack("{s:s, s:s, s:s, s:s}", "emailAddress", c->email, "subscriptionId", sub, "legalBasis",
                              "LEGITIMATE_INTEREST_CLIENT", "legalBasisExplanation",
                              "The contact asked on a recorded call not to be emailed.");
        long status = 0;
        rc = hs_call(h, "POST", "/communication-preferences/v3/unsubscribe", u, what, NULL, &status, err);
        json_decref(u);
        if (rc < 0 && status == 400) /* already unsubscribed */
            rc = 0;
    }
done:
    json_decref(found);
    json_decref(props);
    return rc;
}

static int hs_log_activity(void *state, const sdra_crm_activity *a, sdra_crm_result *out, sdra_error *err)
{
    hubspot *h = state;
    char key[SDRA_CRM_ID_MAX + 256], what[300];
    snprintf(key, sizeof key, "call:%s", a->call_id);
    snprintf(what, sizeof what, "call %.200s", a->call_id);
    const char *owner = NULL;
    int rc = ensure_props(h, HS_CALLS, err);
    if (rc < 0 || (rc = hs_owner(h, a->rep_email, &owner, err)) < 0)
        return rc;
    json_t *p = sdra_hubspot_call_props(a, key, owner, now_ms());
    rc = hs_upsert(h, HS_CALLS, "sdra_key", key, p, what, out, err);
    json_decref(p);
    if (rc == 0)
        rc = hs_associate(h, HS_CALLS, out->id, a->contact_id, HS_ASSOC_CALL, what, err);
    return rc;
}

static void task_key(char *out, size_t n, const sdra_crm_task *t)
{
    snprintf(out, n, "task:%s:%s", t->call_id, t->key);
}

static int hs_upsert_task(void *state, const sdra_crm_task *t, sdra_crm_result *out, sdra_error *err)
{
    hubspot *h = state;
    char key[512], what[400];
    task_key(key, sizeof key, t);
    bool meeting = !strcmp(t->kind, "meeting") && t->due_date;
    int obj = meeting ? HS_MEETINGS : HS_TASKS;
    snprintf(what, sizeof what, "%s '%.80s' of call %.100s", meeting ? "meeting" : "task", t->text, t->call_id);
    const char *owner = NULL;
    int rc = ensure_props(h, obj, err);
    if (rc < 0 || (rc = hs_owner(h, t->rep_email, &owner, err)) < 0)
        return rc;
    json_t *p = meeting ? sdra_hubspot_meeting_props(t, key, owner, now_ms())
                        : sdra_hubspot_task_props(t, key, owner, now_ms());
    rc = hs_upsert(h, obj, "sdra_key", key, p, what, out, err);
    json_decref(p);
    if (rc == 0)
        rc = hs_associate(h, obj, out->id, t->contact_id, meeting ? HS_ASSOC_MEETING : HS_ASSOC_TASK, what, err);
    return rc;
}

static int hs_delete(hubspot *h, int obj, const char *id, const char *what, sdra_error *err)
{
    char *e = crm_remote_escape(id), path[256];
    snprintf(path, sizeof path, "/crm/v3/objects/%s/%s", obj_names[obj], e ? e : "");
    free(e);
    long status = 0;
    int rc = hs_call(h, "DELETE", path, NULL, what, NULL, &status, err);
    return rc < 0 && status == 404 ? 0 : rc; /* already gone */
}

/* Records of obj that call_id wrote (sdra_call_id), into *out. */
static int hs_of_call(hubspot *h, int obj, const char *call_id, const char *const *props, json_t *out,
                      sdra_error *err)
{
    char what[300];
    snprintf(what, sizeof what, "%s of call %.200s", obj_names[obj], call_id);
    int rc = ensure_props(h, obj, err);
    if (rc < 0)
        return rc;
    json_t *filters = json_pack("[o]", eq_filter("sdra_call_id", call_id));
    rc = hs_search(h, obj, filters, props, what, out, err);
    json_decref(filters);
    return rc;
}

static int hs_prune_tasks(void *state, const char *call_id, const char *const *keys, int n_keys, int *n_removed,
                          sdra_error *err)
{
    hubspot *h = state;
    static const char *const props[] = {"sdra_key", "hs_task_status", NULL};
    const int objs[] = {HS_TASKS, HS_MEETINGS};
    int rc = 0;
    for (int o = 0; o < 2 && rc == 0; o++) {
        json_t *recs = json_array();
        if ((rc = hs_of_call(h, objs[o], call_id, props, recs, err)) == 0) {
            size_t i;
            json_t *rec;
            json_array_foreach(recs, i, rec)
            {
                json_t *p = json_object_get(rec, "properties");
                const char *k = json_string_value(json_object_get(p, "sdra_key"));
                const char *st = json_string_value(json_object_get(p, "hs_task_status"));
                if (!k || (st && !strcmp(st, "COMPLETED")))
                    continue; /* done work is history, not a stale commitment */
                bool keep = false;
                for (int j = 0; j < n_keys && !keep; j++) {
                    char want[512];
                    snprintf(want, sizeof want, "task:%s:%s", call_id, keys[j]);
                    keep = !strcmp(want, k);
                }
                if (keep)
                    continue;
                const char *id = json_string_value(json_object_get(rec, "id"));
                if (id && (rc = hs_delete(h, objs[o], id, "stale task", err)) < 0)
                    break;
                (*n_removed)++;
            }
        }
        json_decref(recs);
    }
    return rc;
}

static int hs_schedule_email(void *state, const sdra_crm_email *e, sdra_crm_result *out, sdra_error *err)
{
    hubspot *h = state;
    char key[600], what[600];
    snprintf(key, sizeof key, "email:%s", e->message_id);
    snprintf(what, sizeof what, "email %.300s", e->message_id);
    int rc = ensure_props(h, HS_EMAILS, err);
    if (rc < 0)
        return rc;
    json_t *found = json_array(), *filters = json_pack("[o]", eq_filter("sdra_key", key));
    static const char *const props[] = {"hs_email_status", NULL};
    rc = hs_search(h, HS_EMAILS, filters, props, what, found, err);
    json_decref(filters);
    const char *st = json_string_value(
        json_object_get(json_object_get(json_array_get(found, 0), "properties"), "hs_email_status"));
    if (rc == 0 && st && strcmp(st, "SCHEDULED") != 0) {
        /* already sent (or failed): the record is history, left as it is */
        memset(out, 0, sizeof *out);
        sdra_strlcpy(out->id, json_string_value(json_object_get(json_array_get(found, 0), "id")), sizeof out->id);
    } else if (rc == 0) {
        json_t *p = sdra_hubspot_email_props(e, key, now_ms());
        rc = hs_upsert(h, HS_EMAILS, "sdra_key", key, p, what, out, err);
        json_decref(p);
        if (rc == 0)
            rc = hs_associate(h, HS_EMAILS, out->id, e->contact_id, HS_ASSOC_EMAIL, what, err);
    }
    json_decref(found);
    return rc;
}

static int hs_cancel_emails(void *state, const char *call_id, int *n_canceled, sdra_error *err)
{
    hubspot *h = state;
    static const char *const props[] = {"hs_email_status", NULL};
    json_t *recs = json_array();
    int rc = hs_of_call(h, HS_EMAILS, call_id, props, recs, err);
    size_t i;
    json_t *rec;
    json_array_foreach(recs, i, rec)
    {
        if (rc < 0)
            break;
        const char *st = json_string_value(json_object_get(json_object_get(rec, "properties"), "hs_email_status"));
        const char *id = json_string_value(json_object_get(rec, "id"));
        if (!id || !st || strcmp(st, "SCHEDULED") != 0)
            continue;
        if ((rc = hs_delete(h, HS_EMAILS, id, "scheduled email", err)) == 0)
            (*n_canceled)++;
    }
    json_decref(recs);
    return rc;
}

static int hs_add_note(void *state, const sdra_crm_note *n, sdra_crm_result *out, sdra_error *err)
{
    hubspot *h = state;
    char key[512], what[400];
    snprintf(key, sizeof key, "note:%s:%s", n->call_id, n->key);
    snprintf(what, sizeof what, "note %.60s of call %.200s", n->key, n->call_id);
    int rc = ensure_props(h, HS_NOTES, err);
    if (rc < 0)
        return rc;
    json_t *p = sdra_hubspot_note_props(n, key, now_ms());
    rc = hs_upsert(h, HS_NOTES, "sdra_key", key, p, what, out, err);
    json_decref(p);
    if (rc == 0)
        rc = hs_associate(h, HS_NOTES, out->id, n->contact_id, HS_ASSOC_NOTE, what, err);
    return rc;
}

static int hs_list(void *state, sdra_crm_kind kind, const char *contact_email, json_t **out, sdra_error *err)
{
    (void)state;
    (void)contact_email;
    *out = NULL;
    return sdra_error_set(err, SDRA_EUNSUPPORTED, "HubSpot: listing %s is not supported here; look in HubSpot",
                          sdra_crm_kind_name(kind));
}

static int hs_forget_call(void *state, const char *call_id, int *n_removed, sdra_error *err)
{
    hubspot *h = state;
    int rc = 0;
    for (int obj = HS_CALLS; obj < HS_N_OBJ && rc == 0; obj++) {
        json_t *recs = json_array();
        rc = hs_of_call(h, obj, call_id, NULL, recs, err);
        size_t i;
        json_t *rec;
        json_array_foreach(recs, i, rec)
        {
            const char *id = json_string_value(json_object_get(rec, "id"));
            if (rc < 0 || !id)
                break;
            if ((rc = hs_delete(h, obj, id, obj_names[obj], err)) == 0)
                (*n_removed)++;
        }
        json_decref(recs);
    }
    return rc;
}

static int hs_forget_contact(void *state, const char *email, int *n_removed, sdra_error *err)
{
    hubspot *h = state;
    char what[400];
    snprintf(what, sizeof what, "contact %.300s", email);
    json_t *found = json_array(), *filters = json_pack("[o]", eq_filter("email", email));
    int rc = hs_search(h, HS_CONTACTS, filters, NULL, what, found, err);
    json_decref(filters);
    const char *cid = json_string_value(json_object_get(json_array_get(found, 0), "id"));
    /* every engagement associated with the contact goes first: "every record linked to it" */
    for (int obj = HS_CALLS; rc == 0 && cid && obj < HS_N_OBJ; obj++) {
        char path[256];
        json_t *ans = NULL;
        snprintf(path, sizeof path, "/crm/v4/objects/contacts/%.40s/associations/%s", cid, obj_names[obj]);
        if ((rc = hs_call(h, "GET", path, NULL, what, &ans, NULL, err)) < 0)
            break;
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(ans, "results"), i, a)
        {
            char id[32];
            snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(a, "toObjectId")));
            if ((rc = hs_delete(h, obj, id, obj_names[obj], err)) < 0)
                break;
            (*n_removed)++;
        }
        json_decref(ans);
    }
    if (rc == 0 && cid) {
        json_t *body = json_pack("{s:s, s:s}", "objectId", email, "idProperty", "email");
        rc = hs_call(h, "POST", "/crm/v3/objects/contacts/gdpr-delete", body, what, NULL, NULL, err);
        json_decref(body);
        if (rc == 0)
            (*n_removed)++;
    }
    json_decref(found);
    return rc;
}

static int hs_check(void *state, char *what, size_t n, sdra_error *err)
{
    hubspot *h = state;
    json_t *ans = NULL;
    int rc = hs_call(h, "GET", "/crm/v3/objects/contacts?limit=1", NULL, "contacts (credentials check)", &ans, NULL, err);
    json_decref(ans);
    if (rc == 0)
        snprintf(what, n, "contacts, calls, tasks, meetings, notes, emails (upsert by sdra_key); "
                          "GDPR delete; no listing");
    return rc;
}

const struct sdra_crm_ops sdra_crm_hubspot_ops = {
    .name = "hubspot",
    .open = hs_open,
    .set_org = hs_set_org,
    .close = hs_close,
    .upsert_contact = hs_upsert_contact,
    .log_activity = hs_log_activity,
    .upsert_task = hs_upsert_task,
    .prune_tasks = hs_prune_tasks,
    .schedule_email = hs_schedule_email,
    .cancel_emails = hs_cancel_emails,
    .add_note = hs_add_note,
    .list = hs_list,
    .forget_call = hs_forget_call,
    .forget_contact = hs_forget_contact,
    .location = hs_location,
    .check = hs_check,
};
