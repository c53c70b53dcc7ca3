/*
 * remote.c - what the remote CRM connectors (hubspot.c, salesforce.c) share: one JSON request
 * to a CRM's REST API through sdra/httpc.h, with the policy both need around it.
 *
 * Responsibilities: building the URL from the API base, sending the access token as a bearer
 * (never formatting it into a message or a log line), refreshing the token once on a 401 when
 * the backend can (then repeating the request), honouring rate limits (HTTP 429 and Retry-After
 * are retried by httpc; a backend may declare other answers rate limits, such as Salesforce's
 * 403 REQUEST_LIMIT_EXCEEDED, which are retried here with backoff), and turning a failure into
 * one line that names the service, the object and, through the backend's describe hook, the
 * field the CRM complained about. The code says whether a retry may help: 429, 5xx and network
 * failures are retryable (SDRA_ERETRY, SDRA_EUPSTREAM, SDRA_ETIMEOUT); 400, 401 after a refresh,
 * 403, 404 and 409 are not.
 */
#include "internal.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sdra/httpc.h"
#include "sdra/log.h"
#include "sdra/util.h"

#define REMOTE_RATE_ATTEMPTS 5     /* answers a backend calls rate limits, retried here */
#define REMOTE_BACKOFF_MS 500L     /* first wait after a rate limit without Retry-After */
#define REMOTE_MAX_BACKOFF_MS 8000L

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* "api-usage=14990/15000" (Salesforce's Sforce-Limit-Info): kept for `sdra connectors test`,
 * and a warning when less than a tenth of the allowance is left. */
static void note_limit(crm_remote *r, const char *v)
{
    snprintf(r->limit_info, sizeof r->limit_info, "%s", v);
    long used = 0, max = 0;
    const char *u = strstr(v, "api-usage=");
    if (u && sscanf(u + 10, "%ld/%ld", &used, &max) == 2 && max > 0 && used * 10 > max * 9 && !r->limit_warned) {
        r->limit_warned = true;
        sdra_log(SDRA_LOG_WARN, "%s: %ld of %ld API requests used in the last 24 hours", r->service, used, max);
    }
}

int crm_remote_init(crm_remote *r, const char *service, const char *base, sdra_error *err)
{
    memset(r, 0, sizeof *r);
    r->service = service;
    r->timeout_ms = 30000;
    r->max_attempts = 4;
    r->backoff_ms = 250;
    size_t n = strlen(base);
    if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)
        return sdra_error_set(err, SDRA_EINVAL, "%s: the API URL must start with https:// or http://", service);
    while (n > 0 && base[n - 1] == '/')
        n--;
    if (n >= sizeof r->base)
        return sdra_error_set(err, SDRA_ELIMIT, "%s: the API URL is too long", service);
    memcpy(r->base, base, n);
    r->base[n] = '\0';
    return 0;
}

char *crm_remote_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s ? s : "", 0);
    char *out = e ? strdup(e) : NULL;
    curl_free(e);
    return out;
}

/* The code a final HTTP status stands for. */
static int code_for_status(long status, int httpc_rc)
{
    if (status == 0)
        return httpc_rc < 0 ? httpc_rc : SDRA_EUPSTREAM;
    if (status == 400 || status == 422)
        return SDRA_EINVAL;
    if (status == 401 || status == 403)
        return SDRA_EDENIED;
    if (status == 404 || status == 410)
        return SDRA_ENOTFOUND;
    if (status == 409)
        return SDRA_EEXISTS;
    if (status == 429)
        return SDRA_ERETRY;
    if (status == 413)
        return SDRA_ELIMIT;
    return SDRA_EUPSTREAM;
}

int crm_remote_call(crm_remote *r, const char *method, const char *path, const json_t *body, const char *object,
                    json_t **out, long *status_out, sdra_error *err)
{
    int rc = 0;
    char *payload = NULL, url[2048];
    sdra_httpc_response resp = {0};
    if (out)
        *out = NULL;
    if (status_out)
        *status_out = 0;
    if (body && !(payload = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER)))
        return sdra_error_set(err, SDRA_ENOMEM, "%s %s: out of memory", r->service, object);
    bool refreshed = false;
    int rate_tries = 0;
    for (;;) {
        if (!r->token[0] && r->refresh) {
            if ((rc = r->refresh(r, err)) < 0)
                goto done;
            refreshed = true;
        }
        /* after a refresh: the base may have moved (Salesforce's instance_url) */
        if ((size_t)snprintf(url, sizeof url, "%s%s", strncmp(path, "http", 4) == 0 ? "" : r->base, path) >= sizeof url) {
            rc = sdra_error_set(err, SDRA_ELIMIT, "%s %s: request URL too long", r->service, object);
            goto done;
        }
        sdra_httpc_request q = sdra_httpc_default_request();
        q.method = method;
        q.url = url;
        q.bearer = r->token[0] ? r->token : NULL;
        q.content_type = payload ? "application/json" : NULL;
        q.body = payload;
        q.body_len = payload ? strlen(payload) : 0;
        q.timeout_ms = r->timeout_ms;
        q.max_attempts = r->max_attempts;
        q.backoff_ms = r->backoff_ms;
        q.max_backoff_ms = REMOTE_MAX_BACKOFF_MS;
        q.headers[0] = "Accept: application/json";
        q.capture_header = r->limit_header;
        sdra_httpc_response_release(&resp);
        sdra_error herr = {0};
        int hrc = sdra_httpc_do(&resp, &q, &herr);
        r->n_requests++;
        if (resp.captured[0])
            note_limit(r, resp.captured);
        if (hrc == 0) {
            if (status_out)
                *status_out = resp.status;
            if (out && resp.body_len > 0) {
                json_error_t je;
                *out = json_loadb(resp.body, resp.body_len, 0, &je);
                if (!*out) {
                    rc = sdra_error_set(err, SDRA_EUPSTREAM, "%s %s: the answer is not JSON (%s)", r->service,
                                        object, je.text);
                    goto done;
                }
            }
            goto done;
        }
        if (resp.status == 401 && r->refresh && !refreshed) {
            sdra_log(SDRA_LOG_INFO, "%s: access token refused (401); refreshing it", r->service);
            r->token[0] = '\0';
            continue; /* refresh at the top, then the same request once more */
        }
        json_t *doc = resp.body_len > 0 ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
        bool limited = resp.status != 0 && r->rate_limited && r->rate_limited(resp.status, doc);
        if (limited && ++rate_tries < REMOTE_RATE_ATTEMPTS) {
            long wait = resp.retry_after_s >= 0 ? (long)(resp.retry_after_s * 1000) : REMOTE_BACKOFF_MS << (rate_tries - 1);
            if (wait > REMOTE_MAX_BACKOFF_MS)
                wait = REMOTE_MAX_BACKOFF_MS;
            sdra_log(SDRA_LOG_WARN, "%s %s: rate limited (HTTP %ld); waiting %ld ms", r->service, object,
                     resp.status, wait);
            json_decref(doc);
            sleep_ms(wait);
            continue;
        }
        char detail[360] = "";
        if (doc && r->describe)
            r->describe(doc, detail, sizeof detail);
        json_decref(doc);
        if (status_out)
            *status_out = resp.status;
        int code = limited ? SDRA_ERETRY : code_for_status(resp.status, hrc);
        if (resp.status == 0)
            rc = sdra_error_set(err, code, "%s %s: %s", r->service, object, herr.msg);
        else if (resp.status == 401)
            rc = sdra_error_set(err, code, "%s %s: HTTP 401: the credentials were refused%s%s%s", r->service, object,
                                r->refresh ? " (also after a token refresh)" : "", detail[0] ? ": " : "", detail);
        else
            rc = sdra_error_set(err, code, "%s %s: HTTP %ld%s%s%s", r->service, object, resp.status,
                                limited || resp.status == 429 ? " (rate limited)" : "", detail[0] ? ": " : "", detail);
        goto done;
    }
done:
    sdra_httpc_response_release(&resp);
    free(payload);
    return rc;
}

int crm_remote_token(crm_remote *r, const char *token_url, const char *form, json_t **out, sdra_error *err)
{
    *out = NULL;
    sdra_httpc_request q = sdra_httpc_default_request();
    q.method = "POST";
    q.url = token_url;
    q.content_type = "application/x-www-form-urlencoded";
    q.body = form;
    q.body_len = strlen(form);
    q.timeout_ms = r->timeout_ms;
    q.max_attempts = r->max_attempts;
    q.headers[0] = "Accept: application/json";
    sdra_httpc_response resp = {0};
    sdra_error herr = {0};
    int rc = sdra_httpc_do(&resp, &q, &herr);
    r->n_requests++;
    json_t *doc = resp.body_len > 0 ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
    if (rc < 0) {
        /* OAuth error documents: {"error": "invalid_grant", "error_description": "..."}; never the form */
        const char *e = json_string_value(json_object_get(doc, "error"));
        const char *d = json_string_value(json_object_get(doc, "error_description"));
        if (!d)
            d = json_string_value(json_object_get(doc, "message"));
        int code = resp.status == 0 ? rc : resp.status >= 500 || resp.status == 429 ? SDRA_EUPSTREAM : SDRA_EDENIED;
        if (resp.status)
            rc = sdra_error_set(err, code, "%s token refresh: HTTP %ld: %.60s%s%.200s", r->service, resp.status,
                                e ? e : "refused", d ? ": " : "", d ? d : "");
        else
            rc = sdra_error_set(err, code, "%s token refresh: %s", r->service, herr.msg);
        json_decref(doc);
    } else if (!json_is_string(json_object_get(doc, "access_token"))) {
        json_decref(doc);
        rc = sdra_error_set(err, SDRA_EUPSTREAM, "%s token refresh: the answer has no access_token", r->service);
    } else {
        *out = doc;
    }
    sdra_httpc_response_release(&resp);
    return rc;
}

int crm_remote_set_token(crm_remote *r, const char *token, sdra_error *err)
{
    if (!token || !*token || strlen(token) >= sizeof r->token)
        return sdra_error_set(err, SDRA_EUPSTREAM, "%s: the access token is empty or too long", r->service);
    sdra_strlcpy(r->token, token, sizeof r->token);
    return 0;
}

const char *crm_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

void crm_org_prefix(char *out, const char *org)
{
    out[0] = '\0';
    if (!org || !*org || !strcmp(org, "default"))
        return;
    size_t n = (size_t)snprintf(out, CRM_ENV_PREFIX_MAX, "SDRA_ORG_");
    for (const char *c = org; *c && n + 3 < CRM_ENV_PREFIX_MAX; c++)
        out[n++] = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
    snprintf(out + n, CRM_ENV_PREFIX_MAX - n, "__");
}

const char *crm_env_in(const char *prefix, const char *name)
{
    if (!prefix || !*prefix)
        return crm_env(name);
    char full[CRM_ENV_PREFIX_MAX + 128];
    snprintf(full, sizeof full, "%s%s", prefix, strncmp(name, "SDRA_", 5) ? name : name + 5);
    return crm_env(full);
}

int crm_form_add(sdra_buf *b, const char *name, const char *value)
{
    char *e = crm_remote_escape(value);
    if (!e)
        return SDRA_ENOMEM;
    int rc = sdra_buf_printf(b, "%s%s=%s", b->len ? "&" : "", name, e);
    free(e);
    return rc;
}

json_t *crm_json_cut(const char *s, size_t max_bytes)
{
    size_t n = strlen(s);
    if (n > max_bytes) {
        n = max_bytes;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    return json_stringn(s, n);
}

void crm_call_description(sdra_buf *b, const sdra_crm_activity *a)
{
    sdra_buf_init(b, SDRA_CRM_TEXT_MAX); /* what does not fit is cut */
    sdra_buf_puts(b, a->summary ? a->summary : "(no summary)");
    if (a->outcome)
        sdra_buf_printf(b, "\n\nOutcome: %s", a->outcome);
    if (a->has_sentiment)
        sdra_buf_printf(b, "\nProspect sentiment: %.2f", a->sentiment);
    if (a->recording)
        sdra_buf_printf(b, "\nRecording: %s", a->recording);
}
