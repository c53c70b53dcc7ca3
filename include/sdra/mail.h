/*
 * sdra/mail.h - delivering a follow-up email: a finished RFC 5322 message (compose's
 * email.eml) goes to the rep's mailbox as a draft, or is sent, through one transport.
 *
 * Transports: SMTP submission (smtp:// on 587 with STARTTLS, smtps:// on 465), IMAP APPEND into
 * the Drafts folder, the Gmail API and Microsoft Graph. Endpoints and secrets come from the
 * environment (SDRA_SMTP_URL, SDRA_IMAP_URL, SDRA_GMAIL_TOKEN/SDRA_GMAIL_URL,
 * SDRA_GRAPH_TOKEN/SDRA_GRAPH_URL; docs/connectors.md), never from flags, and never appear in
 * an error message or a log line.
 *
 * The outbox (the delivery worker) calls sdra_mail_deliver once per effect and records the
 * remote id it returns. A failure sets err->retryable when trying again later may succeed
 * (connection refused, SMTP 4xx, HTTP 429/5xx) and leaves it false for a permanent one (bad
 * credentials after a refresh, SMTP 5xx, HTTP 400): the outbox retries the first with backoff and
 * marks the second dead with err->msg as its one-line reason.
 *
 *     sdra_mail_config mc;
 *     if (sdra_mail_config_from_env(&mc, "smtp", &err) < 0) ...
 *     sdra_mail_message m = {.eml = eml, .eml_len = n, .envelope_from = "rep@acme.example",
 *                            .rcpt = (const char *[]){"pat@prospect.example"}, .n_rcpt = 1,
 *                            .message_id = "<abc@acme.example>"};
 *     sdra_mail_result r = {0};
 *     if (sdra_mail_deliver(&mc, SDRA_DELIVER_SEND, &m, &r, &err) < 0) ...
 */
#ifndef SDRA_MAIL_H
#define SDRA_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include "sdra/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sdra_mail_transport {
    SDRA_MAIL_NONE = 0,
    SDRA_MAIL_SMTP,
    SDRA_MAIL_IMAP,
    SDRA_MAIL_GMAIL,
    SDRA_MAIL_GRAPH
} sdra_mail_transport;

/* What happens to the email: nothing, a draft in the rep's mailbox (the default), or sent. */
typedef enum sdra_deliver_mode {
    SDRA_DELIVER_NONE = 0,
    SDRA_DELIVER_DRAFT,
    SDRA_DELIVER_SEND
} sdra_deliver_mode;

#define SDRA_MAIL_URL_MAX 1024
#define SDRA_MAIL_SECRET_MAX 4096
#define SDRA_MAIL_REMOTE_ID_MAX 256

/* Where and how to deliver. Filled by sdra_mail_config_from_env; fields the transport does not
 * use stay empty. */
typedef struct sdra_mail_config {
    sdra_mail_transport transport;
    char url[SDRA_MAIL_URL_MAX];       /* smtp(s)://, imap(s)://, or the API base URL */
    char token[SDRA_MAIL_SECRET_MAX];  /* OAuth access token (Gmail, Graph) */
    char imap_url[SDRA_MAIL_URL_MAX];  /* SMTP + IMAP: where a sent copy or draft goes, if set */
    long timeout_ms;                   /* per network operation; 0 = 30 s */
    /* Added with the transports (docs/connectors.md names the variables): */
    char ca_file[SDRA_MAIL_URL_MAX];   /* SDRA_MAIL_CA_FILE: CA bundle trusted for SMTP/IMAP TLS */
    char drafts_folder[128];           /* SDRA_IMAP_DRAFTS, default "Drafts" */
    char sent_folder[128];             /* SDRA_IMAP_SENT, default "Sent" */
    char user[256];                    /* Gmail userId / Graph user id or UPN; default "me" */
    char refresh_token[SDRA_MAIL_SECRET_MAX]; /* OAuth refresh token (Gmail, Graph) */
    char client_id[256];               /* OAuth client (refresh, or Graph client credentials) */
    char client_secret[SDRA_MAIL_SECRET_MAX];
    char token_url[SDRA_MAIL_URL_MAX]; /* OAuth token endpoint */
    char tenant[128];                  /* Graph: Entra ID tenant (client credentials) */
} sdra_mail_config;

/* "none", "smtp", "imap", "gmail", "graph" <-> transport; -1 when unknown. */
int sdra_mail_transport_parse(const char *s);
const char *sdra_mail_transport_name(sdra_mail_transport t);
/* "none", "draft", "send" <-> mode; -1 when unknown. */
int sdra_deliver_mode_parse(const char *s);
const char *sdra_deliver_mode_name(sdra_deliver_mode m);

/* Reads the transport's settings from the environment. SDRA_EINVAL names the missing or
 * malformed variable (never its value); SDRA_EINVAL for an unknown transport name. */
int sdra_mail_config_from_env(sdra_mail_config *cfg, const char *transport, sdra_error *err);

/* One message to deliver. eml is the complete message (CRLF line ends); it is not copied. */
typedef struct sdra_mail_message {
    const char *eml;
    size_t eml_len;
    const char *envelope_from;   /* SMTP MAIL FROM; may differ from the From: header */
    const char *const *rcpt;     /* SMTP RCPT TO addresses */
    int n_rcpt;
    const char *message_id;      /* the message's Message-ID, with the angle brackets */
} sdra_mail_message;

typedef struct sdra_mail_result {
    char remote_id[SDRA_MAIL_REMOTE_ID_MAX]; /* draft/message id, IMAP UID, or SMTP queue id */
} sdra_mail_result;

/* Delivers m in mode (DRAFT or SEND; NONE does nothing and returns 0). */
int sdra_mail_deliver(const sdra_mail_config *cfg, sdra_deliver_mode mode, const sdra_mail_message *m,
                      sdra_mail_result *out, sdra_error *err);

/* Whether a message with this Message-ID already reached the mailbox (the Drafts or Sent folder,
 * or the API's message list): the outbox asks this before re-delivering an entry whose earlier
 * attempt was cut off, so a crash between sending and recording never sends twice. *found is set
 * on success. SDRA_EUNSUPPORTED when the transport cannot tell (plain SMTP without an IMAP URL):
 * the outbox then holds the entry for a person to decide instead of guessing. */
int sdra_mail_probe(const sdra_mail_config *cfg, sdra_deliver_mode mode, const char *message_id, bool *found,
                    sdra_error *err);

/* Sends a draft that an earlier SDRA_DELIVER_DRAFT left in the mailbox, by the remote id it
 * returned (Gmail: users.drafts.send; Graph: POST /messages/{id}/send). out->remote_id gets the
 * sent message's id. SDRA_EUNSUPPORTED for SMTP and IMAP (a draft there is sent by the rep's
 * mail client). Errors as sdra_mail_deliver. */
int sdra_mail_send_draft(const sdra_mail_config *cfg, const char *remote_id, sdra_mail_result *out,
                         sdra_error *err);

/* One cheap call that proves the configuration works (SMTP: connect, STARTTLS, AUTH, QUIT; IMAP:
 * login and SELECT of the Drafts folder; Gmail: users.getProfile; Graph: the mailbox's user).
 * On success *what gets a short line of what the transport can do here ("draft, send"). */
int sdra_mail_check(const sdra_mail_config *cfg, char *what, size_t what_n, sdra_error *err);

#ifdef __cplusplus
}
#endif
#endif
