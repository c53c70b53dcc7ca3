/*
 * salesforce.c - the Salesforce CRM connector ("salesforce"): the sdra_crm_ops table over the
 * Salesforce REST API (v59.0 by default; docs/connectors.md "Salesforce").
 *
 * What goes where: the person is a Contact, or a Lead (SDRA_SALESFORCE_OBJECT=Lead), found by
 * SOQL on Email (or upserted by an external id field, SDRA_SALESFORCE_PERSON_ID_FIELD), with the
 * standard opt-out fields DoNotCall and HasOptedOutOfEmail (sticky: only ever set). The call is
 * a completed Task with TaskSubtype 'Call' (CallDurationInSeconds, CallType, Description,
 * WhoId, ActivityDate); action items are open Tasks, the agreed meeting an Event, notes are
 * completed Tasks ("Note: ...") and the scheduled follow-up an open Task with TaskSubtype
 * 'Email'. Owners are Users found by the rep's email (or SDRA_SALESFORCE_OWNER_ID).
 *
 * Idempotency: every Task and Event carries two custom fields an administrator creates once
 * (docs/connectors.md): Sdra_Key__c (External ID, unique: the record's natural key) and
 * Sdra_Call_Id__c. Every write is an upsert on Sdra_Key__c (PATCH .../Task/Sdra_Key__c/<key>).
 *
 * All or nothing: between begin and commit the writes of one call are collected and sent at
 * commit as one composite request with allOrNone (25 subrequests each; more are sent as several
 * composite requests, each all or nothing). The ids reported for them are their Sdra_Key__c
 * values, known before Salesforce answers. The person is written at once (its opt-out flags
 * decide what else is written).
 *
 * Credentials: SDRA_SALESFORCE_URL + SDRA_SALESFORCE_TOKEN, or a refresh token, or the OAuth 2.0
 * JWT bearer flow (RS256 with libcrypto); a 401 gets a new token through either flow and the
 * request is repeated once. Rate limits: 403 REQUEST_LIMIT_EXCEEDED is waited out with backoff.
 */
#include "internal.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sdra/log.h"
#include "sdra/util.h"

#define SF_DEFAULT_LOGIN "https://login.salesforce.com"
#define SF_DEFAULT_VERSION "59.0"
#define SF_COMPOSITE_MAX 25     /* subrequests per composite request (the API's limit) */
#define SF_PENDING_MAX 1000     /* writes one call may queue */
#define SF_QUERY_MAX 10000      /* records one query collects at most */
#define SF_JWT_LIFETIME_S 180
#define SF_KEY_FIELD "Sdra_Key__c"
#define SF_CALL_FIELD "Sdra_Call_Id__c"

typedef struct salesforce {
    crm_remote r;
    char version[16];
    char object[16];        /* Contact or Lead */
    char person_field[128]; /* external id field on the person, or "" (SOQL on Email) */
    char login_url[1024];
    bool have_url;          /* SDRA_SALESFORCE_URL given: instance_url answers do not move it */
    char owner_email[320];
    char owner_id[64];
    json_t *pending;        /* composite subrequests between begin and commit; NULL outside */
    json_t *pending_what;   /* what each one writes, for messages */
    char env_prefix[CRM_ENV_PREFIX_MAX]; /* whose settings: "" the default org's (crm_org_prefix) */
} salesforce;

/* ---- payload builders ---------------------------------------------------------------------- */

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v && *v)
        json_object_set_new(o, k, json_string(v));
}

static void set_who_owner(json_t *o, const char *who_id, const char *owner_id)
{
    set_str(o, "WhoId", who_id);
    set_str(o, "OwnerId", owner_id);
}

json_t *sdra_salesforce_call_task(const sdra_crm_activity *a, const char *who_id, const char *owner_id)
{
    json_t *o = json_object();
    char subject[300];
    snprintf(subject, sizeof subject, "Call%s%s", a->outcome ? ": " : "", a->outcome ? a->outcome : "");
    json_object_set_new(o, "Subject", crm_json_cut(subject, 255));
    json_object_set_new(o, "TaskSubtype", json_string("Call"));
    json_object_set_new(o, "CallType", json_string(a->direction && !strcmp(a->direction, "inbound") ? "Inbound" : "Outbound"));
    json_object_set_new(o, "CallDurationInSeconds", json_integer((json_int_t)(a->duration_s + 0.5)));
    sdra_buf b;
    crm_call_description(&b, a);
    json_object_set_new(o, "Description", json_string(b.data ? b.data : ""));
    sdra_buf_release(&b);
    if (a->call_date)
        json_object_set_new(o, "ActivityDate", json_string(a->call_date));
    json_object_set_new(o, "Status", json_string("Completed"));
    json_object_set_new(o, "Priority", json_string("Normal"));
    set_who_owner(o, who_id, owner_id);
    json_object_set_new(o, SF_CALL_FIELD, json_string(a->call_id));
    return o;
}

json_t *sdra_salesforce_action_task(const sdra_crm_task *t, const char *who_id, const char *owner_id)
{
    json_t *o = json_object();
    json_object_set_new(o, "Subject", crm_json_cut(t->text, 255));
    json_object_set_new(o, "TaskSubtype", json_string("Task"));
    char d[SDRA_CRM_TEXT_MAX + 64];
    snprintf(d, sizeof d, "%s\n(%s%s%s)", t->text,
             sdra_crm_owner_words(t->owner),
             t->due_time ? ", due at " : "", t->due_time ? t->due_time : "");
    json_object_set_new(o, "Description", json_string(d));
    if (t->due_date)
        json_object_set_new(o, "ActivityDate", json_string(t->due_date));
    json_object_set_new(o, "Status", json_string("Not Started"));
    json_object_set_new(o, "Priority", json_string(t->due_date ? "High" : "Normal"));
    set_who_owner(o, who_id, owner_id);
    json_object_set_new(o, SF_CALL_FIELD, json_string(t->call_id));
    return o;
}

json_t *sdra_salesforce_meeting_event(const sdra_crm_task *t, const char *who_id, const char *owner_id)
{
    json_t *o = json_object();
    json_object_set_new(o, "Subject", crm_json_cut(t->text, 255));
    if (t->due_time) {
        long long ms = sdra_crm_date_ms(t->due_date, t->due_time);
        time_t s = (time_t)(ms / 1000), e = s + 30 * 60;
        char a[32], b[32];
        struct tm tm;
        strftime(a, sizeof a, "%Y-%m-%dT%H:%M:%S.000+0000", gmtime_r(&s, &tm));
        strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S.000+0000", gmtime_r(&e, &tm));
        json_object_set_new(o, "StartDateTime", json_string(a));
        json_object_set_new(o, "EndDateTime", json_string(b));
    } else {
        json_object_set_new(o, "IsAllDayEvent", json_true());
        json_object_set_new(o, "ActivityDate", json_string(t->due_date));
        json_object_set_new(o, "DurationInMinutes", json_integer(1440));
    }
    json_object_set_new(o, "Description", json_string("Agreed on the call; scheduled by sdra."));
    set_who_owner(o, who_id, owner_id);
    json_object_set_new(o, SF_CALL_FIELD, json_string(t->call_id));
    return o;
}

json_t *sdra_salesforce_note_task(const sdra_crm_note *n, const char *who_id)
{
    json_t *o = json_object();
    char subject[128];
    snprintf(subject, sizeof subject, "Note: %s", n->key);
    for (char *p = subject; *p; p++)
        if (*p == '_')
            *p = ' ';
    json_object_set_new(o, "Subject", json_string(subject));
    json_object_set_new(o, "TaskSubtype", json_string("Task"));
    json_object_set_new(o, "Description", crm_json_cut(n->body, 32000));
    json_object_set_new(o, "Status", json_string("Completed"));
    json_object_set_new(o, "Priority", json_string("Normal"));
    set_str(o, "WhoId", who_id);
    json_object_set_new(o, SF_CALL_FIELD, json_string(n->call_id));
    return o;
}

json_t *sdra_salesforce_email_task(const sdra_crm_email *e, const char *who_id)
{
    json_t *o = json_object();
    char subject[300];
    snprintf(subject, sizeof subject, "Email: %s", e->subject ? e->subject : "(no subject)");
    json_object_set_new(o, "Subject", crm_json_cut(subject, 255));
    json_object_set_new(o, "TaskSubtype", json_string("Email"));
    char d[1200];
    snprintf(d, sizeof d, "Follow-up email scheduled by sdra%s%.300s%s%.60s.\nMessage-ID: %.500s", e->to ? " to " : "",
             e->to ? e->to : "", e->send_at ? " for " : "", e->send_at ? e->send_at : "", e->message_id);
    json_object_set_new(o, "Description", json_string(d));
    if (e->send_at && strlen(e->send_at) >= 10)
        json_object_set_new(o, "ActivityDate", json_stringn(e->send_at, 10));
    json_object_set_new(o, "Status", json_string("Not Started"));
    json_object_set_new(o, "Priority", json_string("Normal"));
    set_str(o, "WhoId", who_id);
    if (e->call_id)
        json_object_set_new(o, SF_CALL_FIELD, json_string(e->call_id));
    return o;
}

json_t *sdra_salesforce_person(const sdra_crm_contact *c, bool lead, bool dnc, bool dne)
{
    json_t *o = json_object();
    const char *name = c->name && *c->name ? c->name : NULL, *sp = name ? strrchr(name, ' ') : NULL;
    if (sp && sp > name) {
        json_object_set_new(o, "FirstName", crm_json_cut(name, (size_t)(sp - name) < 40 ? (size_t)(sp - name) : 40));
        json_object_set_new(o, "LastName", crm_json_cut(sp + 1, 80));
    } else if (name) {
        json_object_set_new(o, "LastName", crm_json_cut(name, 80));
    } else { /* LastName is required: the address's local part stands in */
        const char *at = strchr(c->email, '@');
        json_object_set_new(o, "LastName", json_stringn(c->email, at ? (size_t)(at - c->email) : strlen(c->email)));
    }
    set_str(o, "Email", c->email);
    set_str(o, "Title", c->title);
    set_str(o, "Phone", c->phone);
    if (lead)
        json_object_set_new(o, "Company", json_string(c->company && *c->company ? c->company : "[not provided]"));
    if (dnc)
        json_object_set_new(o, "DoNotCall", json_true());
    if (dne)
        json_object_set_new(o, "HasOptedOutOfEmail", json_true());
    return o;
}

void sdra_soql_escape(char *out, size_t n, const char *s)
{
    size_t o = 0;
    for (; s && *s && o + 3 < n; s++) {
        if (*s == '\'' || *s == '\\')
            out[o++] = '\\';
        out[o++] = *s;
    }
    out[o] = '\0';
}

/* ---- credentials --------------------------------------------------------------------------- */

static void b64url(sdra_buf *b, const unsigned char *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        sdra_buf_putc(b, tbl[v >> 18 & 63]);
        sdra_buf_putc(b, tbl[v >> 12 & 63]);
        if (i + 1 < n)
            sdra_buf_putc(b, tbl[v >> 6 & 63]);
        if (i + 2 < n)
            sdra_buf_putc(b, tbl[v & 63]);
    }
}

/* The signed assertion of the JWT bearer flow: {"alg":"RS256"}.{iss, sub, aud, exp}.RS256. */
static int jwt_assertion(sdra_buf *out, const char *key_file, const char *iss, const char *sub, const char *aud,
                         sdra_error *err)
{
    int rc = 0;
    EVP_PKEY *pkey = NULL;
    EVP_MD_CTX *md = NULL;
    unsigned char *sig = NULL;
    FILE *f = fopen(key_file, "r");
    if (!f)
        return sdra_error_set(err, SDRA_EINVAL, "Salesforce JWT: SDRA_SALESFORCE_JWT_KEY_FILE: cannot open the key file");
    pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!pkey)
        return sdra_error_set(err, SDRA_EINVAL, "Salesforce JWT: SDRA_SALESFORCE_JWT_KEY_FILE is not a PEM private key");
    json_t *claims = json_pack("{s:s, s:s, s:s, s:I}", "iss", iss, "sub", sub, "aud", aud, "exp",
                               (json_int_t)time(NULL) + SF_JWT_LIFETIME_S);
    char *cj = json_dumps(claims, JSON_COMPACT);
    json_decref(claims);
    static const char hdr[] = "{\"alg\":\"RS256\"}";
    b64url(out, (const unsigned char *)hdr, strlen(hdr));
    sdra_buf_putc(out, '.');
    b64url(out, (const unsigned char *)(cj ? cj : "{}"), cj ? strlen(cj) : 2);
    free(cj);
    size_t siglen = 0;
    if (!(md = EVP_MD_CTX_new()) || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) != 1 ||
        EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)out->data, out->len) != 1 ||
        !(sig = malloc(siglen)) ||
        EVP_DigestSign(md, sig, &siglen, (const unsigned char *)out->data, out->len) != 1) {
        rc = sdra_error_set(err, SDRA_EINVAL, "Salesforce JWT: cannot sign with the key (RS256 needs an RSA key)");
        goto done;
    }
    sdra_buf_putc(out, '.');
    b64url(out, sig, siglen);
done:
    free(sig);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    return rc;
}

static void sf_hooks(crm_remote *r);

static int sf_refresh(crm_remote *r, sdra_error *err)
{
    salesforce *s = r->owner;
    const char *id = crm_env_in(s->env_prefix, "SDRA_SALESFORCE_CLIENT_ID"), *secret = crm_env_in(s->env_prefix, "SDRA_SALESFORCE_CLIENT_SECRET");
    const char *rt = crm_env_in(s->env_prefix, "SDRA_SALESFORCE_REFRESH_TOKEN"), *user = crm_env_in(s->env_prefix, "SDRA_SALESFORCE_USERNAME");
    const char *key = crm_env_in(s->env_prefix, "SDRA_SALESFORCE_JWT_KEY_FILE");
    sdra_buf form, jwt;
    sdra_buf_init(&form, 65536);
    sdra_buf_init(&jwt, 32768);
    json_t *doc = NULL;
    int rc = 0;
    char url[1100];
    snprintf(url, sizeof url, "%s/services/oauth2/token", s->login_url);
    if (!id || (!rt && (!user || !key))) {
        rc = sdra_error_set(err, SDRA_EINVAL,
                            "Salesforce: no way to get an access token: set SDRA_SALESFORCE_TOKEN, or "
                            "SDRA_SALESFORCE_CLIENT_ID with SDRA_SALESFORCE_REFRESH_TOKEN, or with "
                            "SDRA_SALESFORCE_USERNAME and SDRA_SALESFORCE_JWT_KEY_FILE");
        goto done;
    }
    if (rt) {
        if (crm_form_add(&form, "grant_type", "refresh_token") < 0 || crm_form_add(&form, "client_id", id) < 0 ||
            (secret && crm_form_add(&form, "client_secret", secret) < 0) || crm_form_add(&form, "refresh_token", rt) < 0)
            rc = sdra_error_set(err, SDRA_ENOMEM, "Salesforce token refresh: out of memory");
    } else {
        const char *aud = crm_env_in(s->env_prefix, "SDRA_SALESFORCE_AUDIENCE");
        if ((rc = jwt_assertion(&jwt, key, id, user, aud ? aud : s->login_url, err)) == 0 &&
            (crm_form_add(&form, "grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer") < 0 ||
             crm_form_add(&form, "assertion", jwt.data) < 0))
            rc = sdra_error_set(err, SDRA_ENOMEM, "Salesforce token refresh: out of memory");
    }
    if (rc < 0 || (rc = crm_remote_token(r, url, form.data, &doc, err)) < 0)
        goto done;
    if ((rc = crm_remote_set_token(r, json_string_value(json_object_get(doc, "access_token")), err)) < 0)
        goto done;
    const char *inst = json_string_value(json_object_get(doc, "instance_url"));
    if (inst && !s->have_url) {
        if (crm_remote_init(r, "Salesforce", inst, err) < 0) {
            rc = err ? err->code : SDRA_EUPSTREAM;
            goto done;
        }
        r->owner = s;
        r->token[0] = '\0';
        rc = crm_remote_set_token(r, json_string_value(json_object_get(doc, "access_token")), err);
        sf_hooks(r);
    }
    sdra_log(SDRA_LOG_INFO, "Salesforce: access token obtained (%s)", rt ? "refresh token" : "JWT bearer");
done:
    json_decref(doc);
    if (form.data)
        memset(form.data, 0, form.cap);
    sdra_buf_release(&form);
    sdra_buf_release(&jwt);
    return rc;
}

/* Salesforce error answers: [{"message", "errorCode", "fields": [...]}] -> "field X: message". */
static void sf_describe(const json_t *doc, char *out, size_t n)
{
    const json_t *e = json_is_array(doc) ? json_array_get(doc, 0) : doc;
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *code = json_string_value(json_object_get(e, "errorCode"));
    const char *field = json_string_value(json_array_get(json_object_get(e, "fields"), 0));
    if (!msg)
        msg = json_string_value(json_object_get(e, "error_description"));
    snprintf(out, n, "%s%.80s%s%.200s [%.60s]", field ? "field " : "", field ? field : "", field ? ": " : "",
             msg ? msg : "no message", code ? code : "error");
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
}

static bool sf_rate_limited(long status, const json_t *doc)
{
    const char *code = json_string_value(json_object_get(json_array_get(doc, 0), "errorCode"));
    return status == 403 && code && !strcmp(code, "REQUEST_LIMIT_EXCEEDED");
}

static void sf_hooks(crm_remote *r)
{
    salesforce *s = r->owner;
    r->limit_header = "Sforce-Limit-Info";
    r->describe = sf_describe;
    r->rate_limited = sf_rate_limited;
    if (crm_env_in(s->env_prefix, "SDRA_SALESFORCE_CLIENT_ID"))
        r->refresh = sf_refresh;
}

static void sf_close(void *state)
{
    salesforce *s = state;
    if (!s)
        return;
    json_decref(s->pending);
    json_decref(s->pending_what);
    memset(s->r.token, 0, sizeof s->r.token);
    free(s);
}

static bool field_name_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < 100 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* A connector with the settings under prefix (crm_org_prefix). */
static int sf_open_as(void **state, const char *prefix, sdra_error *err)
{
    *state = NULL;
    int rc = 0;
    salesforce *s = calloc(1, sizeof *s);
    if (!s)
        return sdra_error_set(err, SDRA_ENOMEM, "Salesforce: out of memory");
    sdra_strlcpy(s->env_prefix, prefix, sizeof s->env_prefix);
    const char *url = crm_env_in(s->env_prefix, "SDRA_SALESFORCE_URL"), *tok = crm_env_in(s->env_prefix, "SDRA_SALESFORCE_TOKEN");
    const char *login = crm_env_in(s->env_prefix, "SDRA_SALESFORCE_LOGIN_URL"), *ver = crm_env_in(s->env_prefix, "SDRA_SALESFORCE_API_VERSION");
    const char *obj = crm_env_in(s->env_prefix, "SDRA_SALESFORCE_OBJECT"), *pf = crm_env_in(s->env_prefix, "SDRA_SALESFORCE_PERSON_ID_FIELD");
    sdra_strlcpy(s->login_url, login ? login : SF_DEFAULT_LOGIN, sizeof s->login_url);
    size_t ln = strlen(s->login_url);
    while (ln > 0 && s->login_url[ln - 1] == '/')
        s->login_url[--ln] = '\0';
    s->have_url = url != NULL;
    if (ver && (strspn(ver, "0123456789.") != strlen(ver) || strlen(ver) > 8 || atof(ver) < 59.0)) {
        rc = sdra_error_set(err, SDRA_EINVAL, "Salesforce: SDRA_SALESFORCE_API_VERSION must be 59.0 or later");
        goto done;
    }
    snprintf(s->version, sizeof s->version, "%s", ver ? ver : SF_DEFAULT_VERSION);
    if (obj && strcmp(obj, "Contact") != 0 && strcmp(obj, "Lead") != 0) {
        rc = sdra_error_set(err, SDRA_EINVAL, "Salesforce: SDRA_SALESFORCE_OBJECT must be Contact or Lead");
        goto done;
    }
    snprintf(s->object, sizeof s->object, "%s", obj ? obj : "Contact");
    if (pf && !field_name_ok(pf)) {
        rc = sdra_error_set(err, SDRA_EINVAL, "Salesforce: SDRA_SALESFORCE_PERSON_ID_FIELD is not a field name");
        goto done;
    }
    snprintf(s->person_field, sizeof s->person_field, "%s", pf ? pf : "");
    if (!url && !crm_env_in(s->env_prefix, "SDRA_SALESFORCE_CLIENT_ID")) {
        rc = sdra_error_set(err, SDRA_EINVAL,
                            "Salesforce: set SDRA_SALESFORCE_URL and SDRA_SALESFORCE_TOKEN, or the refresh-token "
                            "or JWT settings (docs/connectors.md)");
        goto done;
    }
    if ((rc = crm_remote_init(&s->r, "Salesforce", url ? url : s->login_url, err)) < 0)
        goto done;
    s->r.owner = s;
    sf_hooks(&s->r);
    if (tok)
        rc = crm_remote_set_token(&s->r, tok, err);
    else if (!s->r.refresh)
        rc = sdra_error_set(err, SDRA_EINVAL, "Salesforce: set SDRA_SALESFORCE_TOKEN (or the refresh-token or JWT settings)");
done:
    if (rc < 0) {
        sf_close(s);
        return rc;
    }
    *state = s;
    return 0;
}

static int sf_open(void **state, const char *data_dir, int flags, sdra_error *err)
{
    (void)data_dir;
    (void)flags;
    return sf_open_as(state, "", err);
}

/* Another organisation: its own settings, read again from scratch; s is unchanged on failure
 * (nothing of the default org's is then used for this org's call). */
static int sf_set_org(void *state, const char *org, sdra_error *err)
{
    salesforce *s = state, *n = NULL;
    char prefix[CRM_ENV_PREFIX_MAX];
    crm_org_prefix(prefix, org);
    int rc = sf_open_as((void **)&n, prefix, err);
    if (rc == 0) {
        json_decref(s->pending);
        json_decref(s->pending_what);
        memset(s->r.token, 0, sizeof s->r.token);
        *s = *n;
        s->r.owner = s;
        memset(n->r.token, 0, sizeof n->r.token);
        free(n);
    } else if (prefix[0] && err) {
        sdra_error e = *err;
        rc = sdra_error_set(err, rc, "organisation %s has no Salesforce settings of its own (%sSALESFORCE_*; "
                                     "the plain SDRA_SALESFORCE_* are the default organisation's): %s", org, prefix, e.msg);
    }
    return rc;
}

static const char *sf_location(void *state)
{
    return ((salesforce *)state)->r.base;
}

/* ---- requests ------------------------------------------------------------------------------ */

static int sf_call(salesforce *s, const char *method, const char *rel, const json_t *body, const char *what,
                   json_t **out, long *status, sdra_error *err)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "/services/data/v%s%s", s->version, rel) >= sizeof path)
        return sdra_error_set(err, SDRA_ELIMIT, "Salesforce %s: request too long", what);
    return crm_remote_call(&s->r, method, path, body, what, out, status, err);
}

/* Runs a SOQL query (every page) and appends the records to *records. */
static int sf_query(salesforce *s, const char *soql, const char *what, json_t *records, sdra_error *err)
{
    char *q = crm_remote_escape(soql), rel[4096];
    if (!q)
        return sdra_error_set(err, SDRA_ENOMEM, "Salesforce: out of memory");
    snprintf(rel, sizeof rel, "/query?q=%s", q);
    free(q);
    json_t *ans = NULL;
    int rc = sf_call(s, "GET", rel, NULL, what, &ans, NULL, err);
    while (rc == 0) {
        json_array_extend(records, json_object_get(ans, "records"));
        const char *next = json_string_value(json_object_get(ans, "nextRecordsUrl"));
        if (!next || json_is_true(json_object_get(ans, "done")) || json_array_size(records) >= SF_QUERY_MAX)
            break;
        char path[1024];
        snprintf(path, sizeof path, "%.1000s", next);
        json_decref(ans);
        ans = NULL;
        rc = crm_remote_call(&s->r, "GET", path, NULL, what, &ans, NULL, err);
    }
    json_decref(ans);
    return rc;
}

static const char *rec_str(const json_t *rec, const char *k)
{
    return json_string_value(json_object_get(rec, k));
}

/* Queues (inside begin/commit) or sends one subrequest. rel is under /services/data/vNN. */
static int sf_write(salesforce *s, const char *method, const char *rel, json_t *body, const char *what,
                    sdra_error *err)
{
    if (!s->pending) {
        int rc = sf_call(s, method, rel, body, what, NULL, NULL, err);
        json_decref(body);
        return rc;
    }
    if (json_array_size(s->pending) >= SF_PENDING_MAX) {
        json_decref(body);
        return sdra_error_set(err, SDRA_ELIMIT, "Salesforce %s: more than %d writes in one sync", what, SF_PENDING_MAX);
    }
    char url[4096], ref[32];
    snprintf(url, sizeof url, "/services/data/v%s%s", s->version, rel);
    snprintf(ref, sizeof ref, "w%zu", json_array_size(s->pending));
    json_t *sub = json_pack("{s:s, s:s, s:s}", "method", method, "url", url, "referenceId", ref);
    if (body)
        json_object_set_new(sub, "body", body);
    json_array_append_new(s->pending, sub);
    json_array_append_new(s->pending_what, json_string(what));
    return 0;
}

/* Upserts a Task or Event by its Sdra_Key__c. */
static int sf_upsert_keyed(salesforce *s, const char *sobject, const char *key, json_t *body, const char *what,
                           sdra_crm_result *out, sdra_error *err)
{
    char *e = crm_remote_escape(key), rel[2048];
    if (!e) {
        json_decref(body);
        return sdra_error_set(err, SDRA_ENOMEM, "Salesforce: out of memory");
    }
    snprintf(rel, sizeof rel, "/sobjects/%s/%s/%s", sobject, SF_KEY_FIELD, e);
    free(e);
    memset(out, 0, sizeof *out);
    sdra_strlcpy(out->id, key, sizeof out->id);
    out->created = false; /* not known before the composite answer */
    return sf_write(s, "PATCH", rel, body, what, err);
}

static int sf_begin(void *state, sdra_error *err)
{
    salesforce *s = state;
    json_decref(s->pending);
    json_decref(s->pending_what);
    s->pending = json_array();
    s->pending_what = json_array();
    return s->pending && s->pending_what ? 0 : sdra_error_set(err, SDRA_ENOMEM, "Salesforce: out of memory");
}

static void sf_rollback(void *state)
{
    salesforce *s = state;
    json_decref(s->pending);
    json_decref(s->pending_what);
    s->pending = s->pending_what = NULL;
}

/* Sends the queued writes as composite requests with allOrNone, 25 at a time. */
static int sf_commit(void *state, sdra_error *err)
{
    salesforce *s = state;
    json_t *pending = s->pending, *whats = s->pending_what;
    s->pending = s->pending_what = NULL;
    int rc = 0;
    size_t n = json_array_size(pending);
    for (size_t at = 0; at < n && rc == 0; at += SF_COMPOSITE_MAX) {
        json_t *reqs = json_array();
        for (size_t i = at; i < n && i < at + SF_COMPOSITE_MAX; i++)
            json_array_append(reqs, json_array_get(pending, i));
        json_t *body = json_pack("{s:b, s:o}", "allOrNone", 1, "compositeRequest", reqs), *ans = NULL;
        rc = sf_call(s, "POST", "/composite", body, "composite request", &ans, NULL, err);
        json_decref(body);
        json_t *subs = json_object_get(ans, "compositeResponse");
        size_t i;
        json_t *sub;
        json_array_foreach(subs, i, sub)
        {
            if (rc < 0)
                break;
            json_int_t st = json_integer_value(json_object_get(sub, "httpStatusCode"));
            json_t *b = json_object_get(sub, "body");
            const char *code = json_string_value(json_object_get(json_array_get(b, 0), "errorCode"));
            if (st >= 200 && st < 300)
                continue;
            if (st == 404 && !strcmp(json_string_value(json_object_get(json_array_get(pending, at + i), "method")), "DELETE"))
                continue; /* deleting what is already gone */
            if (code && !strcmp(code, "PROCESSING_HALTED"))
                continue; /* rolled back because of another subrequest */
            char detail[360] = "";
            sf_describe(b, detail, sizeof detail);
            int c = st == 400 ? SDRA_EINVAL : st == 404 ? SDRA_ENOTFOUND : st == 409 ? SDRA_EEXISTS
                    : st == 401 || st == 403 ? SDRA_EDENIED : SDRA_EUPSTREAM;
            rc = sdra_error_set(err, c, "Salesforce %s: HTTP %lld: %s (nothing of this call was written)",
                                json_string_value(json_array_get(whats, at + i)), (long long)st, detail);
        }
        if (rc == 0 && !json_is_array(subs))
            rc = sdra_error_set(err, SDRA_EUPSTREAM, "Salesforce composite request: no compositeResponse in the answer");
        json_decref(ans);
    }
    json_decref(pending);
    json_decref(whats);
    return rc;
}

/* The User id of the rep (see hubspot.c's hs_owner); *id is "" when none is configured. */
static int sf_owner(salesforce *s, const char *rep_email, const char **id, sdra_error *err)
{
    *id = "";
    const char *fixed = crm_env_in(s->env_prefix, "SDRA_SALESFORCE_OWNER_ID");
    const char *email = fixed ? "#id" : rep_email ? rep_email : crm_env_in(s->env_prefix, "SDRA_SALESFORCE_OWNER_EMAIL");
    if (!email)
        return 0;
    if (!strcmp(s->owner_email, email)) {
        *id = s->owner_id;
        return 0;
    }
    char what[400];
    int rc;
    if (fixed) {
        char *e = crm_remote_escape(fixed), rel[256];
        snprintf(rel, sizeof rel, "/sobjects/User/%s", e ? e : "");
        free(e);
        snprintf(what, sizeof what, "owner %.60s (OwnerId, SDRA_SALESFORCE_OWNER_ID)", fixed);
        json_t *ans = NULL;
        if ((rc = sf_call(s, "GET", rel, NULL, what, &ans, NULL, err)) < 0)
            return rc;
        bool active = json_is_true(json_object_get(ans, "IsActive"));
        json_decref(ans);
        if (!active)
            return sdra_error_set(err, SDRA_ENOTFOUND, "Salesforce %s: the user is not active", what);
        sdra_strlcpy(s->owner_id, fixed, sizeof s->owner_id);
    } else {
        char esc[700], soql[900];
        sdra_soql_escape(esc, sizeof esc, email);
        snprintf(soql, sizeof soql, "SELECT Id FROM User WHERE Email = '%s' AND IsActive = true LIMIT 1", esc);
        snprintf(what, sizeof what, "owner %.200s (OwnerId)", email);
        json_t *recs = json_array();
        rc = sf_query(s, soql, what, recs, err);
        const char *uid = rec_str(json_array_get(recs, 0), "Id");
        if (rc == 0 && !uid)
            rc = sdra_error_set(err, SDRA_ENOTFOUND, "Salesforce %s: no active user has this email (deleted or deactivated?)",
                                what);
        if (rc == 0)
            sdra_strlcpy(s->owner_id, uid, sizeof s->owner_id);
        json_decref(recs);
        if (rc < 0)
            return rc;
    }
    sdra_strlcpy(s->owner_email, email, sizeof s->owner_email);
    *id = s->owner_id;
    return 0;
}

/* ---- the ops ------------------------------------------------------------------------------- */

static int sf_find_person(salesforce *s, const char *email, const char *what, json_t **rec, sdra_error *err)
{
    char esc[700], soql[1000];
    sdra_soql_escape(esc, sizeof esc, email);
    snprintf(soql, sizeof soql, "SELECT Id, DoNotCall, HasOptedOutOfEmail FROM %s WHERE Email = '%s'%s LIMIT 1",
             s->object, esc, !strcmp(s->object, "Lead") ? " AND IsConverted = false" : "");
    json_t *recs = json_array();
    int rc = sf_query(s, soql, what, recs, err);
    *rec = rc == 0 ? json_incref(json_array_get(recs, 0)) : NULL;
    json_decref(recs);
    return rc;
}

static int sf_upsert_contact(void *state, const sdra_crm_contact *c, sdra_crm_result *out, sdra_error *err)
{
    salesforce *s = state;
    char what[400], rel[1200];
    snprintf(what, sizeof what, "%s %.300s", s->object, c->email);
    json_t *old = NULL, *ans = NULL;
    int rc = sf_find_person(s, c->email, what, &old, err);
    if (rc < 0)
        return rc;
    bool dnc = c->do_not_call || json_is_true(json_object_get(old, "DoNotCall"));
    bool dne = c->do_not_email || json_is_true(json_object_get(old, "HasOptedOutOfEmail"));
    json_t *body = sdra_salesforce_person(c, !strcmp(s->object, "Lead"), dnc, dne);
    const char *old_id = rec_str(old, "Id");
    long status = 0;
    if (s->person_field[0]) {
        char *e = crm_remote_escape(c->email);
        snprintf(rel, sizeof rel, "/sobjects/%s/%s/%s", s->object, s->person_field, e ? e : "");
        free(e);
        json_object_del(body, s->person_field);
        rc = sf_call(s, "PATCH", rel, body, what, &ans, &status, err);
    } else if (old_id) {
        snprintf(rel, sizeof rel, "/sobjects/%s/%s", s->object, old_id);
        rc = sf_call(s, "PATCH", rel, body, what, &ans, &status, err);
    } else {
        snprintf(rel, sizeof rel, "/sobjects/%s", s->object);
        rc = sf_call(s, "POST", rel, body, what, &ans, &status, err);
    }
    if (rc == 0) {
        const char *id = rec_str(ans, "id");
        if (!id)
            id = old_id;
        if (!id)
            rc = sdra_error_set(err, SDRA_EUPSTREAM, "Salesforce %s: the answer has no id", what);
        else {
            memset(out, 0, sizeof *out);
            sdra_strlcpy(out->id, id, sizeof out->id);
            out->created = old_id == NULL;
            out->do_not_call = dnc;
            out->do_not_email = dne;
        }
    }
    json_decref(body);
    json_decref(ans);
    json_decref(old);
    return rc;
}

static int sf_log_activity(void *state, const sdra_crm_activity *a, sdra_crm_result *out, sdra_error *err)
{
    salesforce *s = state;
    char key[512], what[300];
    snprintf(key, sizeof key, "call:%s", a->call_id);
    snprintf(what, sizeof what, "call Task %.200s", a->call_id);
    const char *owner = NULL;
    int rc = sf_owner(s, a->rep_email, &owner, err);
    if (rc < 0)
        return rc;
    return sf_upsert_keyed(s, "Task", key, sdra_salesforce_call_task(a, a->contact_id, owner), what, out, err);
}

static int sf_upsert_task(void *state, const sdra_crm_task *t, sdra_crm_result *out, sdra_error *err)
{
    salesforce *s = state;
    char key[512], what[400];
    snprintf(key, sizeof key, "task:%s:%s", t->call_id, t->key);
    bool event = !strcmp(t->kind, "meeting") && t->due_date && sdra_crm_date_ms(t->due_date, t->due_time) >= 0;
    snprintf(what, sizeof what, "%s '%.80s' of call %.100s", event ? "Event" : "Task", t->text, t->call_id);
    const char *owner = NULL;
    int rc = sf_owner(s, t->rep_email, &owner, err);
    if (rc < 0)
        return rc;
    json_t *body = event ? sdra_salesforce_meeting_event(t, t->contact_id, owner)
                         : sdra_salesforce_action_task(t, t->contact_id, owner);
    return sf_upsert_keyed(s, event ? "Event" : "Task", key, body, what, out, err);
}

/* The Tasks and Events call_id wrote: Id, key, Status and the sobject type. */
static int sf_of_call(salesforce *s, const char *call_id, const char *extra, json_t *recs, sdra_error *err)
{
    char esc[400], soql[1200], what[300];
    sdra_soql_escape(esc, sizeof esc, call_id);
    snprintf(what, sizeof what, "records of call %.200s", call_id);
    snprintf(soql, sizeof soql, "SELECT Id, %s, Status, TaskSubtype FROM Task WHERE %s = '%s'%s", SF_KEY_FIELD,
             SF_CALL_FIELD, esc, extra ? extra : "");
    int rc = sf_query(s, soql, what, recs, err);
    if (rc == 0 && !extra) {
        snprintf(soql, sizeof soql, "SELECT Id, %s FROM Event WHERE %s = '%s'", SF_KEY_FIELD, SF_CALL_FIELD, esc);
        rc = sf_query(s, soql, what, recs, err);
    }
    return rc;
}

static const char *rec_type(const json_t *rec)
{
    const char *t = json_string_value(json_object_get(json_object_get(rec, "attributes"), "type"));
    return t && !strcmp(t, "Event") ? "Event" : "Task";
}

static int sf_delete(salesforce *s, const json_t *rec, const char *what, sdra_error *err)
{
    char rel[256];
    const char *id = rec_str(rec, "Id");
    if (!id)
        return 0;
    snprintf(rel, sizeof rel, "/sobjects/%s/%.100s", rec_type(rec), id);
    if (s->pending)
        return sf_write(s, "DELETE", rel, NULL, what, err);
    long status = 0;
    int rc = sf_call(s, "DELETE", rel, NULL, what, NULL, &status, err);
    return rc < 0 && status == 404 ? 0 : rc;
}

static int sf_prune_tasks(void *state, const char *call_id, const char *const *keys, int n_keys, int *n_removed,
                          sdra_error *err)
{
    salesforce *s = state;
    json_t *recs = json_array();
    int rc = sf_of_call(s, call_id, NULL, recs, err);
    char prefix[400];
    snprintf(prefix, sizeof prefix, "task:%s:", call_id);
    size_t i;
    json_t *rec;
    json_array_foreach(recs, i, rec)
    {
        const char *k = rec_str(rec, SF_KEY_FIELD), *st = rec_str(rec, "Status");
        if (rc < 0)
            break;
        if (!k || strncmp(k, prefix, strlen(prefix)) != 0 || (st && !strcmp(st, "Completed")))
            continue;
        bool keep = false;
        for (int j = 0; j < n_keys && !keep; j++)
            keep = !strcmp(k + strlen(prefix), keys[j]);
        if (!keep && (rc = sf_delete(s, rec, "stale task", err)) == 0)
            (*n_removed)++;
    }
    json_decref(recs);
    return rc;
}

static int sf_schedule_email(void *state, const sdra_crm_email *e, sdra_crm_result *out, sdra_error *err)
{
    salesforce *s = state;
    char key[600], what[600], esc[1300], soql[1600];
    snprintf(key, sizeof key, "email:%s", e->message_id);
    snprintf(what, sizeof what, "email Task %.300s", e->message_id);
    sdra_soql_escape(esc, sizeof esc, key);
    snprintf(soql, sizeof soql, "SELECT Id, Status FROM Task WHERE %s = '%s' LIMIT 1", SF_KEY_FIELD, esc);
    json_t *recs = json_array();
    int rc = sf_query(s, soql, what, recs, err);
    const char *st = rec_str(json_array_get(recs, 0), "Status");
    if (rc == 0 && st && !strcmp(st, "Completed")) { /* sent: history stays as it is */
        memset(out, 0, sizeof *out);
        sdra_strlcpy(out->id, key, sizeof out->id);
    } else if (rc == 0) {
        rc = sf_upsert_keyed(s, "Task", key, sdra_salesforce_email_task(e, e->contact_id), what, out, err);
        out->created = json_array_size(recs) == 0;
    }
    json_decref(recs);
    return rc;
}

static int sf_cancel_emails(void *state, const char *call_id, int *n_canceled, sdra_error *err)
{
    salesforce *s = state;
    json_t *recs = json_array();
    int rc = sf_of_call(s, call_id, " AND TaskSubtype = 'Email' AND Status = 'Not Started'", recs, err);
    size_t i;
    json_t *rec;
    json_array_foreach(recs, i, rec)
    {
        if (rc < 0)
            break;
        if ((rc = sf_delete(s, rec, "scheduled email Task", err)) == 0)
            (*n_canceled)++;
    }
    json_decref(recs);
    return rc;
}

static int sf_add_note(void *state, const sdra_crm_note *n, sdra_crm_result *out, sdra_error *err)
{
    salesforce *s = state;
    char key[512], what[400];
    snprintf(key, sizeof key, "note:%s:%s", n->call_id, n->key);
    snprintf(what, sizeof what, "note Task %.60s of call %.200s", n->key, n->call_id);
    return sf_upsert_keyed(s, "Task", key, sdra_salesforce_note_task(n, n->contact_id), what, out, err);
}

static int sf_list(void *state, sdra_crm_kind kind, const char *contact_email, json_t **out, sdra_error *err)
{
    (void)state;
    (void)contact_email;
    *out = NULL;
    return sdra_error_set(err, SDRA_EUNSUPPORTED, "Salesforce: listing %s is not supported here; look in Salesforce",
                          sdra_crm_kind_name(kind));
}

/* Deletes records one by one, outside any composite batch; counts them. */
static int sf_delete_all(salesforce *s, json_t *recs, const char *what, int *n_removed, sdra_error *err)
{
    size_t i;
    json_t *rec;
    json_array_foreach(recs, i, rec)
    {
        int rc = sf_delete(s, rec, what, err);
        if (rc < 0)
            return rc;
        (*n_removed)++;
    }
    return 0;
}

static int sf_forget_call(void *state, const char *call_id, int *n_removed, sdra_error *err)
{
    salesforce *s = state;
    json_t *recs = json_array();
    int rc = sf_of_call(s, call_id, NULL, recs, err);
    if (rc == 0)
        rc = sf_delete_all(s, recs, "record of the call", n_removed, err);
    json_decref(recs);
    return rc;
}

static int sf_forget_contact(void *state, const char *email, int *n_removed, sdra_error *err)
{
    salesforce *s = state;
    char what[400], soql[300];
    snprintf(what, sizeof what, "%s %.300s", s->object, email);
    json_t *person = NULL, *recs = json_array();
    int rc = sf_find_person(s, email, what, &person, err);
    const char *id = rec_str(person, "Id");
    if (rc == 0 && id) {
        snprintf(soql, sizeof soql, "SELECT Id FROM Task WHERE WhoId = '%.40s'", id);
        if ((rc = sf_query(s, soql, what, recs, err)) == 0) {
            snprintf(soql, sizeof soql, "SELECT Id FROM Event WHERE WhoId = '%.40s'", id);
            rc = sf_query(s, soql, what, recs, err);
        }
        if (rc == 0)
            rc = sf_delete_all(s, recs, "activity of the contact", n_removed, err);
        if (rc == 0) {
            char rel[200];
            snprintf(rel, sizeof rel, "/sobjects/%s/%.40s", s->object, id);
            if ((rc = sf_call(s, "DELETE", rel, NULL, what, NULL, NULL, err)) == 0)
                (*n_removed)++;
        }
    }
    json_decref(person);
    json_decref(recs);
    return rc;
}

static int sf_check(void *state, char *what, size_t n, sdra_error *err)
{
    salesforce *s = state;
    json_t *ans = NULL;
    int rc = sf_call(s, "GET", "/limits", NULL, "limits (credentials check)", &ans, NULL, err);
    if (rc == 0) {
        json_t *d = json_object_get(ans, "DailyApiRequests");
        snprintf(what, n, "%s, Task (call, action items, notes, email), Event (meeting) by %s; composite allOrNone; "
                          "delete; no listing; API requests left today: %lld of %lld (Sforce-Limit-Info %s)",
                 s->object, SF_KEY_FIELD, (long long)json_integer_value(json_object_get(d, "Remaining")),
                 (long long)json_integer_value(json_object_get(d, "Max")),
                 s->r.limit_info[0] ? s->r.limit_info : "absent");
    }
    json_decref(ans);
    return rc;
}

const struct sdra_crm_ops sdra_crm_salesforce_ops = {
    .name = "salesforce",
    .open = sf_open,
    .set_org = sf_set_org,
    .close = sf_close,
    .begin = sf_begin,
    .commit = sf_commit,
    .rollback = sf_rollback,
    .upsert_contact = sf_upsert_contact,
    .log_activity = sf_log_activity,
    .upsert_task = sf_upsert_task,
    .prune_tasks = sf_prune_tasks,
    .schedule_email = sf_schedule_email,
    .cancel_emails = sf_cancel_emails,
    .add_note = sf_add_note,
    .list = sf_list,
    .forget_call = sf_forget_call,
    .forget_contact = sf_forget_contact,
    .location = sf_location,
    .check = sf_check,
};
