/*
 * graph.c - Microsoft Graph mail (https://learn.microsoft.com/graph/api/resources/mail-api-overview),
 * with the MIME message as Graph documents it: the RFC 5322 text base64-encoded, Content-Type
 * text/plain.
 *   draft          POST {base}/{me|users/{id}}/messages                -> 201 {"id": ...}
 *   send a draft   POST {base}/{me|users/{id}}/messages/{id}/send      -> 202
 *   send           POST {base}/{me|users/{id}}/sendMail                -> 202 (no id: the
 *                  remote id is the Message-ID, which Graph keeps as internetMessageId)
 *   probe          GET  {base}/{...}/mailFolders/{drafts|sentitems}/messages
 *                       ?$filter=internetMessageId eq '<id>'&$select=id
 *   check          GET  {base}/{me|users/{id}}
 * Permissions: Mail.ReadWrite and Mail.Send (delegated, with a refresh token, or application
 * with client credentials and SDRA_GRAPH_USER naming the mailbox); User.Read for the check.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdra/util.h"

#define GRAPH_URL_MAX 4096
#define GRAPH_SCOPE_APP "https://graph.microsoft.com/.default"
#define GRAPH_SCOPE_DELEGATED "https://graph.microsoft.com/Mail.ReadWrite https://graph.microsoft.com/Mail.Send offline_access"

static void graph_url(char *out, size_t n, const sdra_mail_config *cfg, const char *rest)
{
    if (!strcmp(cfg->user, "me"))
        snprintf(out, n, "%s/me%s%s", cfg->url, *rest ? "/" : "", rest);
    else
        snprintf(out, n, "%s/users/%s%s%s", cfg->url, cfg->user, *rest ? "/" : "", rest);
}

static void graph_oauth(mail_oauth *o, const sdra_mail_config *cfg)
{
    mail_oauth_init(o, cfg, cfg->refresh_token[0] ? GRAPH_SCOPE_DELEGATED : GRAPH_SCOPE_APP);
}

int mail_graph_deliver(const sdra_mail_config *cfg, sdra_deliver_mode mode, const sdra_mail_message *m,
                       sdra_mail_result *out, sdra_error *err)
{
    char url[GRAPH_URL_MAX];
    const char *what = mode == SDRA_DELIVER_DRAFT ? "graph create message" : "graph sendMail";
    char *b64 = mail_base64(m->eml, m->eml_len, false);
    if (!b64)
        return mail_fail(err, SDRA_ENOMEM, true, "graph: out of memory");
    graph_url(url, sizeof url, cfg, mode == SDRA_DELIVER_DRAFT ? "messages" : "sendMail");
    mail_oauth o;
    graph_oauth(&o, cfg);
    json_t *doc = NULL;
    int rc = mail_api_call(&o, what, "POST", url, "text/plain", b64, strlen(b64), &doc, err);
    if (rc == 0) {
        const char *id = json_string_value(json_object_get(doc, "id"));
        if (mode == SDRA_DELIVER_DRAFT && (!id || !*id || strlen(id) >= sizeof out->remote_id))
            rc = mail_fail(err, SDRA_EUPSTREAM, true, "%s: the answer has no \"id\"", what);
        else if (mode == SDRA_DELIVER_DRAFT)
            sdra_strlcpy(out->remote_id, id, sizeof out->remote_id);
        else if (m->message_id)
            sdra_strlcpy(out->remote_id, m->message_id, sizeof out->remote_id);
    }
    json_decref(doc);
    free(b64);
    return rc;
}

int mail_graph_send_draft(const sdra_mail_config *cfg, const char *id, sdra_mail_result *out, sdra_error *err)
{
    char url[GRAPH_URL_MAX], rest[SDRA_MAIL_REMOTE_ID_MAX + 32];
    snprintf(rest, sizeof rest, "messages/%s/send", id);
    graph_url(url, sizeof url, cfg, rest);
    mail_oauth o;
    graph_oauth(&o, cfg);
    /* Graph's send takes no body; an empty one with Content-Length: 0 is what it documents. */
    int rc = mail_api_call(&o, "graph send message", "POST", url, "application/json", "", 0, NULL, err);
    if (rc == 0)
        sdra_strlcpy(out->remote_id, id, sizeof out->remote_id);
    return rc;
}

int mail_graph_probe(const sdra_mail_config *cfg, sdra_deliver_mode mode, const char *message_id, bool *found,
                     sdra_error *err)
{
    char filter[600], fe[1800], rest[1900], url[GRAPH_URL_MAX];
    snprintf(filter, sizeof filter, "internetMessageId eq '%s'", message_id);
    if (mail_urlencode(fe, sizeof fe, filter) < 0)
        return mail_fail(err, SDRA_EINVAL, false, "graph: the Message-ID is too long");
    snprintf(rest, sizeof rest, "mailFolders/%s/messages?%%24filter=%s&%%24select=id",
             mode == SDRA_DELIVER_SEND ? "sentitems" : "drafts", fe);
    graph_url(url, sizeof url, cfg, rest);
    mail_oauth o;
    graph_oauth(&o, cfg);
    json_t *doc = NULL;
    int rc = mail_api_call(&o, "graph list messages", "GET", url, NULL, NULL, 0, &doc, err);
    if (rc == 0)
        *found = json_array_size(json_object_get(doc, "value")) > 0;
    json_decref(doc);
    return rc;
}

int mail_graph_check(const sdra_mail_config *cfg, char *what, size_t what_n, sdra_error *err)
{
    char url[GRAPH_URL_MAX];
    graph_url(url, sizeof url, cfg, "");
    mail_oauth o;
    graph_oauth(&o, cfg);
    return mail_api_mailbox(&o, "graph get user", url, "mail", "userPrincipalName", what, what_n, err);
}
