/*
 * gmail.c - the Gmail API (https://developers.google.com/gmail/api/reference/rest):
 *   draft          POST {base}/gmail/v1/users/{user}/drafts        {"message": {"raw": b64url}}
 *   send           POST {base}/gmail/v1/users/{user}/messages/send {"raw": b64url}
 *   send a draft   POST {base}/gmail/v1/users/{user}/drafts/send   {"id": draft id}
 *   probe          GET  {base}/gmail/v1/users/{user}/messages?q=rfc822msgid:<id> in:drafts|in:sent
 *   check          GET  {base}/gmail/v1/users/{user}/profile
 * The message goes as the complete RFC 5322 text in base64url ("raw"), so what arrives is
 * exactly what compose wrote. Scopes: gmail.compose (drafts and send) and gmail.readonly or
 * gmail.metadata for the probe (docs/connectors.md).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdra/util.h"

#define GMAIL_URL_MAX 4096

static void gmail_url(char *out, size_t n, const sdra_mail_config *cfg, const char *rest)
{
    snprintf(out, n, "%s/gmail/v1/users/%s/%s", cfg->url, cfg->user, rest);
}

/* Copies doc[key] (a string) into out->remote_id. */
static int take_id(const json_t *doc, const char *key, sdra_mail_result *out, const char *what, sdra_error *err)
{
    const char *id = json_string_value(json_object_get(doc, key));
    if (!id || !*id || strlen(id) >= sizeof out->remote_id)
        return mail_fail(err, SDRA_EUPSTREAM, true, "%s: the answer has no \"%s\"", what, key);
    sdra_strlcpy(out->remote_id, id, sizeof out->remote_id);
    return 0;
}

/* POSTs req (JSON, consumed) to {user}/rest and takes the answer's "id" as the remote id. */
static int gmail_post(const sdra_mail_config *cfg, const char *what, const char *rest, json_t *req,
                      sdra_mail_result *out, sdra_error *err)
{
    char url[GMAIL_URL_MAX];
    json_t *doc = NULL;
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    int rc;
    json_decref(req);
    if (!body)
        return mail_fail(err, SDRA_ENOMEM, true, "gmail: out of memory");
    gmail_url(url, sizeof url, cfg, rest);
    mail_oauth o;
    mail_oauth_init(&o, cfg, NULL);
    if ((rc = mail_api_call(&o, what, "POST", url, NULL, body, strlen(body), &doc, err)) == 0)
        rc = take_id(doc, "id", out, what, err);
    json_decref(doc);
    free(body);
    return rc;
}

int mail_gmail_deliver(const sdra_mail_config *cfg, sdra_deliver_mode mode, const sdra_mail_message *m,
                       sdra_mail_result *out, sdra_error *err)
{
    char *raw = mail_base64(m->eml, m->eml_len, true);
    if (!raw)
        return mail_fail(err, SDRA_ENOMEM, true, "gmail: out of memory");
    int rc = mode == SDRA_DELIVER_DRAFT
                 ? gmail_post(cfg, "gmail users.drafts.create", "drafts", json_pack("{s:{s:s}}", "message", "raw", raw),
                              out, err)
                 : gmail_post(cfg, "gmail users.messages.send", "messages/send", json_pack("{s:s}", "raw", raw), out,
                              err);
    free(raw);
    return rc;
}

int mail_gmail_send_draft(const sdra_mail_config *cfg, const char *draft_id, sdra_mail_result *out, sdra_error *err)
{
    return gmail_post(cfg, "gmail users.drafts.send", "drafts/send", json_pack("{s:s}", "id", draft_id), out, err);
}

int mail_gmail_probe(const sdra_mail_config *cfg, sdra_deliver_mode mode, const char *message_id, bool *found,
                     sdra_error *err)
{
    char q[600], qe[1800], rest[1900], url[GMAIL_URL_MAX];
    snprintf(q, sizeof q, "rfc822msgid:%s %s", message_id, mode == SDRA_DELIVER_SEND ? "in:sent" : "in:drafts");
    if (mail_urlencode(qe, sizeof qe, q) < 0)
        return mail_fail(err, SDRA_EINVAL, false, "gmail: the Message-ID is too long");
    snprintf(rest, sizeof rest, "messages?q=%s&maxResults=1", qe);
    gmail_url(url, sizeof url, cfg, rest);
    mail_oauth o;
    mail_oauth_init(&o, cfg, NULL);
    json_t *doc = NULL;
    int rc = mail_api_call(&o, "gmail users.messages.list", "GET", url, NULL, NULL, 0, &doc, err);
    if (rc == 0)
        *found = json_array_size(json_object_get(doc, "messages")) > 0;
    json_decref(doc);
    return rc;
}

int mail_gmail_check(const sdra_mail_config *cfg, char *what, size_t what_n, sdra_error *err)
{
    char url[GMAIL_URL_MAX];
    gmail_url(url, sizeof url, cfg, "profile");
    mail_oauth o;
    mail_oauth_init(&o, cfg, NULL);
    return mail_api_mailbox(&o, "gmail users.getProfile", url, "emailAddress", NULL, what, what_n, err);
}
