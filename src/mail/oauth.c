/*
 * oauth.c - the bearer token of the Gmail and Graph transports and the one JSON API call they
 * both make through sdra_httpc.
 *
 * A token is refreshed at most once per operation: when none is configured, or when the API
 * answered 401 (expired). The grant is a refresh token (Gmail, and Graph for a delegated
 * mailbox) or client credentials (Graph, application permissions). The token endpoint's answer
 * {"access_token": ...} replaces the token for this operation only (the configuration is const
 * and shared; a long-lived process asks again after the next 401).
 *
 * httpc is asked for one attempt: sending a message is not idempotent, so a 5xx goes back to
 * the outbox as retryable (it probes before trying again). Only a 429, where the service says
 * it did nothing, is waited out here (Retry-After, at most 10 s, 3 attempts).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sdra/httpc.h"
#include "sdra/util.h"

#define OAUTH_MAX_429 3
#define OAUTH_MAX_WAIT_S 10.0

void mail_oauth_init(mail_oauth *o, const sdra_mail_config *cfg, const char *scope)
{
    memset(o, 0, sizeof *o);
    o->cfg = cfg;
    o->scope = scope;
    sdra_strlcpy(o->token, cfg->token, sizeof o->token);
}

bool mail_oauth_can_refresh(const mail_oauth *o)
{
    const sdra_mail_config *c = o->cfg;
    return !o->refreshed && c->token_url[0] && c->client_id[0] && c->client_secret[0] &&
           (c->refresh_token[0] || c->transport == SDRA_MAIL_GRAPH);
}

/* Appends "&name=value" (value percent-encoded) to form; -1 when it does not fit. */
static int form_add(char *form, size_t n, const char *name, const char *value)
{
    size_t l = strlen(form);
    int w = snprintf(form + l, n - l, "%s%s=", l ? "&" : "", name);
    if (w < 0 || (size_t)w >= n - l)
        return -1;
    l += (size_t)w;
    return mail_urlencode(form + l, n - l, value);
}

int mail_oauth_refresh(mail_oauth *o, sdra_error *err)
{
    const sdra_mail_config *c = o->cfg;
    char where[256];
    sdra_httpc_redact_url(c->token_url, where, sizeof where);
    char *form = calloc(1, 4 * SDRA_MAIL_SECRET_MAX);
    if (!form)
        return mail_fail(err, SDRA_ENOMEM, true, "oauth: out of memory");
    size_t fn = 4 * SDRA_MAIL_SECRET_MAX;
    int bad = 0;
    if (c->refresh_token[0])
        bad |= form_add(form, fn, "grant_type", "refresh_token") | form_add(form, fn, "refresh_token", c->refresh_token);
    else
        bad |= form_add(form, fn, "grant_type", "client_credentials");
    bad |= form_add(form, fn, "client_id", c->client_id) | form_add(form, fn, "client_secret", c->client_secret);
    if (o->scope)
        bad |= form_add(form, fn, "scope", o->scope);
    o->refreshed = true;
    if (bad) {
        free(form);
        return mail_fail(err, SDRA_EINVAL, false, "%s: the OAuth settings are too long", where);
    }
    sdra_httpc_request q = sdra_httpc_default_request();
    q.method = "POST";
    q.url = c->token_url;
    q.content_type = "application/x-www-form-urlencoded";
    q.body = form;
    q.body_len = strlen(form);
    q.timeout_ms = mail_timeout_ms(c);
    q.max_response_bytes = 64 * 1024;
    sdra_httpc_response r = {0};
    sdra_error herr = {0};
    int rc = sdra_httpc_do(&r, &q, &herr);
    json_t *doc = NULL;
    if (rc < 0) {
        bool refused = r.status >= 400 && r.status < 500 && r.status != 429;
        char code[64] = "", desc[200] = "";
        json_t *e = r.body ? json_loads(r.body, 0, NULL) : NULL;
        const char *c1 = json_string_value(json_object_get(e, "error"));
        const char *d1 = json_string_value(json_object_get(e, "error_description"));
        mail_fold(code, sizeof code, c1 ? c1 : "", c1 ? strlen(c1) : 0);
        mail_fold(desc, sizeof desc, d1 ? d1 : "", d1 ? strlen(d1) : 0);
        json_decref(e);
        rc = refused ? mail_fail(err, SDRA_EDENIED, false, "%s: the token endpoint refused the grant (HTTP %ld%s%s%s%s); "
                                 "renew the credentials", where, r.status, code[0] ? ": " : "", code,
                                 desc[0] ? ", " : "", desc)
                     : mail_fail(err, herr.code, true, "token refresh: %s", herr.msg);
        goto done;
    }
    doc = json_loadb(r.body, r.body_len, 0, NULL);
    const char *tok = json_string_value(json_object_get(doc, "access_token"));
    if (!tok || !*tok || strlen(tok) >= sizeof o->token || strpbrk(tok, "\r\n")) {
        rc = mail_fail(err, SDRA_EUPSTREAM, true, "%s: the token endpoint's answer has no usable access_token", where);
        goto done;
    }
    sdra_strlcpy(o->token, tok, sizeof o->token);
    rc = 0;
done:
    json_decref(doc);
    sdra_httpc_response_release(&r);
    explicit_bzero(form, fn);
    free(form);
    return rc;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

int mail_api_call(mail_oauth *o, const char *what, const char *method, const char *url, const char *content_type,
                  const char *body, size_t body_len, json_t **out, sdra_error *err)
{
    if (out)
        *out = NULL;
    int rc;
    if (!o->token[0]) {
        if (!mail_oauth_can_refresh(o))
            return mail_fail(err, SDRA_EDENIED, false, "%s: no access token and no way to get one", what);
        if ((rc = mail_oauth_refresh(o, err)) < 0)
            return rc;
    }
    for (int attempt = 1;; attempt++) {
        sdra_httpc_request q = sdra_httpc_default_request();
        q.method = method;
        q.url = url;
        q.bearer = o->token;
        q.content_type = body ? (content_type ? content_type : "application/json") : NULL;
        q.body = body;
        q.body_len = body_len;
        q.timeout_ms = mail_timeout_ms(o->cfg);
        q.max_attempts = 1;
        sdra_httpc_response r = {0};
        sdra_error herr = {0};
        rc = sdra_httpc_do(&r, &q, &herr);
        long status = r.status;
        double retry_after = r.retry_after_s;
        if (rc == 0) {
            if (out && r.body_len > 0) {
                json_error_t je;
                *out = json_loadb(r.body, r.body_len, 0, &je);
                if (!*out || !json_is_object(*out)) {
                    json_decref(*out);
                    *out = NULL;
                    sdra_httpc_response_release(&r);
                    return mail_fail(err, SDRA_EUPSTREAM, true, "%s: the answer is not a JSON object", what);
                }
            }
            sdra_httpc_response_release(&r);
            return 0;
        }
        sdra_httpc_response_release(&r);
        if (status == 401 && mail_oauth_can_refresh(o)) {
            if ((rc = mail_oauth_refresh(o, err)) < 0)
                return rc;
            continue;
        }
        if (status == 429 && attempt < OAUTH_MAX_429) {
            double w = retry_after >= 0 ? retry_after : 1.0 * attempt;
            if (w <= OAUTH_MAX_WAIT_S) {
                sleep_s(w);
                continue;
            }
        }
        if (status == 401)
            return mail_fail(err, SDRA_EDENIED, false, "%s: the access token was refused (expired or revoked; configure "
                             "a refresh token to renew it): %s", what, herr.msg);
        if (status == 403)
            return mail_fail(err, SDRA_EDENIED, false, "%s: not allowed (check the OAuth scopes): %s", what, herr.msg);
        if (status == 404)
            return mail_fail(err, SDRA_ENOTFOUND, false, "%s: %s", what, herr.msg);
        if (status == 429)
            return mail_fail(err, SDRA_ERETRY, true, "%s: rate limited (retry after %.0f s): %s", what,
                             retry_after >= 0 ? retry_after : 0.0, herr.msg);
        if (status >= 400 && status < 500)
            return mail_fail(err, SDRA_EINVAL, false, "%s: %s", what, herr.msg);
        return mail_fail(err, herr.code ? herr.code : SDRA_EUPSTREAM, true, "%s: %s", what, herr.msg);
    }
}

int mail_api_mailbox(mail_oauth *o, const char *what_call, const char *url, const char *key, const char *alt_key,
                     char *what, size_t what_n, sdra_error *err)
{
    json_t *doc = NULL;
    int rc = mail_api_call(o, what_call, "GET", url, NULL, NULL, 0, &doc, err);
    if (rc == 0) {
        const char *addr = json_string_value(json_object_get(doc, key));
        if (!addr && alt_key)
            addr = json_string_value(json_object_get(doc, alt_key));
        char a[200];
        mail_fold(a, sizeof a, addr ? addr : "?", addr ? strlen(addr) : 1);
        snprintf(what, what_n, "draft, send, send draft (mailbox %s)", a);
    }
    json_decref(doc);
    return rc;
}
