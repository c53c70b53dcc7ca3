/*
 * internal.h - what the mail transports (smtp.c, imap.c, gmail.c, graph.c) share with mail.c,
 * which reads the configuration and dispatches by transport.
 *
 * Every transport reports failures through mail_fail(), which fixes err->retryable explicitly
 * (sdra_error_set's default follows the code; a mail failure's follows the server's answer: SMTP
 * 4xx and HTTP 429/5xx may succeed later, SMTP 5xx and HTTP 4xx never will). Messages name the
 * endpoint without its userinfo and never carry a token or a password.
 */
#ifndef SDRA_MAIL_INTERNAL_H
#define SDRA_MAIL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>
#include <jansson.h>

#include "sdra/mail.h"

#define MAIL_DEFAULT_TIMEOUT_MS 30000L
#define MAIL_MAX_EML_BYTES ((size_t)25 << 20) /* what common providers accept */

/* Records code and the message, then sets err->retryable to retryable. Returns code. */
int mail_fail(sdra_error *err, int code, bool retryable, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Copies s into out (n bytes) with CR, LF and other control characters folded into spaces and
 * trailing spaces dropped: a server's reply made fit for a one-line message. */
void mail_fold(char *out, size_t n, const char *s, size_t len);

/* base64 of data (url = the base64url alphabet, no padding) into a malloc'd NUL-terminated
 * string; NULL when out of memory. */
char *mail_base64(const void *data, size_t len, bool url);

/* Whether a Message-ID is "<...>" of printable characters other than '"' and '\\' (so that it
 * can be quoted into an IMAP string or a query). */
bool mail_msgid_ok(const char *id);

long mail_timeout_ms(const sdra_mail_config *cfg);

/* SMTP submission (smtp.c). mail_curl_fail turns a failed curl transfer (SMTP or IMAP) into one
 * line: TLS -> permanent "TLS: ..."; login refused -> permanent; no connection or a timeout ->
 * retryable; a 4xx reply -> retryable, a 5xx -> permanent, with the server's reply. */
typedef struct mail_curl_io {
    const char *data;   /* upload (SMTP): the message */
    size_t len, off;
    char reply[512];    /* the last line the server sent */
    char refusal[512];  /* the last 4xx or 5xx reply line (curl's QUIT answer comes after it) */
    char queued[SDRA_MAIL_REMOTE_ID_MAX]; /* SMTP: the id of "250 ... queued as ID" */
} mail_curl_io;
/* Sets up curl's debug callback to keep the server's lines (never what we send) in io. */
void mail_curl_watch(CURL *c, mail_curl_io *io);
int mail_curl_fail(CURL *c, CURLcode rc, const char *ebuf, const char *reply, const char *url, const char *what,
                   sdra_error *err);
int mail_smtp_send(const sdra_mail_config *cfg, const sdra_mail_message *m, sdra_mail_result *out, sdra_error *err);
int mail_smtp_check(const sdra_mail_config *cfg, char *what, size_t what_n, sdra_error *err);

/* IMAP (imap.c): APPEND into folder with flags ("\\Draft" or "\\Seen"); the UID when the server
 * says it (UIDPLUS), else "". */
int mail_imap_append(const sdra_mail_config *cfg, const char *folder, const char *flags, const sdra_mail_message *m,
                     sdra_mail_result *out, sdra_error *err);
int mail_imap_probe(const sdra_mail_config *cfg, const char *folder, const char *message_id, bool *found,
                    sdra_error *err);
int mail_imap_check(const sdra_mail_config *cfg, char *what, size_t what_n, sdra_error *err);

/* Gmail API (gmail.c) and Microsoft Graph (graph.c). */
int mail_gmail_deliver(const sdra_mail_config *cfg, sdra_deliver_mode mode, const sdra_mail_message *m,
                       sdra_mail_result *out, sdra_error *err);
int mail_gmail_send_draft(const sdra_mail_config *cfg, const char *draft_id, sdra_mail_result *out, sdra_error *err);
int mail_gmail_probe(const sdra_mail_config *cfg, sdra_deliver_mode mode, const char *message_id, bool *found,
                     sdra_error *err);
int mail_gmail_check(const sdra_mail_config *cfg, char *what, size_t what_n, sdra_error *err);
int mail_graph_deliver(const sdra_mail_config *cfg, sdra_deliver_mode mode, const sdra_mail_message *m,
                       sdra_mail_result *out, sdra_error *err);
int mail_graph_send_draft(const sdra_mail_config *cfg, const char *id, sdra_mail_result *out, sdra_error *err);
int mail_graph_probe(const sdra_mail_config *cfg, sdra_deliver_mode mode, const char *message_id, bool *found,
                     sdra_error *err);
int mail_graph_check(const sdra_mail_config *cfg, char *what, size_t what_n, sdra_error *err);

/* ---- OAuth over sdra_httpc (oauth.c), shared by gmail.c and graph.c ---- */

/* A bearer token for one operation: starts as cfg->token, and is replaced by a token fetched from
 * cfg->token_url (refresh token, or Graph client credentials) when there is none or the API said
 * 401. */
typedef struct mail_oauth {
    const sdra_mail_config *cfg;
    const char *scope;   /* scope asked for (Graph); NULL = none */
    char token[SDRA_MAIL_SECRET_MAX];
    bool refreshed;
} mail_oauth;

void mail_oauth_init(mail_oauth *o, const sdra_mail_config *cfg, const char *scope);
/* Whether a new token can be fetched (a refresh token or client credentials are configured). */
bool mail_oauth_can_refresh(const mail_oauth *o);
/* Fetches a new access token into o->token. SDRA_EDENIED (permanent) when the token endpoint
 * refuses the grant. */
int mail_oauth_refresh(mail_oauth *o, sdra_error *err);

/* One JSON API call with the bearer of o: refreshes once on 401 when it can, waits out a 429's
 * Retry-After (at most 3 attempts, waits capped at 10 s), and maps the outcome: 2xx -> 0 with
 * *out the parsed body (NULL when empty; caller json_decref); 401/403 -> SDRA_EDENIED; 404 ->
 * SDRA_ENOTFOUND; other 4xx -> SDRA_EINVAL; all permanent; 429, 5xx and connection failures ->
 * retryable. what names the operation in the message ("gmail users.drafts.create"). body may be
 * NULL (GET); content_type defaults to application/json. */
int mail_api_call(mail_oauth *o, const char *what, const char *method, const char *url, const char *content_type,
                  const char *body, size_t body_len, json_t **out, sdra_error *err);

/* The check of Gmail and Graph: GETs url and says what the transport can do for the mailbox
 * named by the answer's key (or alt_key) into what. */
int mail_api_mailbox(mail_oauth *o, const char *what_call, const char *url, const char *key, const char *alt_key,
                     char *what, size_t what_n, sdra_error *err);

/* Percent-encodes s for a URL query or path segment into out (n bytes); -1 when it does not fit. */
int mail_urlencode(char *out, size_t n, const char *s);

#endif
