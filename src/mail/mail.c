/*
 * mail.c - names, modes and configuration of the mail transports (sdra/mail.h), and the
 * dispatch of deliver / probe / check / send-draft to the transport's file:
 *   smtp.c   SMTP submission (587 STARTTLS, 465 implicit TLS), with imap.c for drafts and the
 *            sent copy when SDRA_IMAP_URL is set;
 *   imap.c   IMAP APPEND into Drafts, and the Message-ID search the outbox's probe needs;
 *   gmail.c  the Gmail API; graph.c Microsoft Graph; oauth.c their tokens.
 * The helpers every transport uses (one-line messages, base64, Message-ID check) are here too.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdra/log.h"
#include "sdra/util.h"

static const char *const transport_names[] = {"none", "smtp", "imap", "gmail", "graph"};
static const char *const mode_names[] = {"none", "draft", "send"};

static int lookup(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (!strcmp(names[i], s))
            return i;
    return -1;
}

int sdra_mail_transport_parse(const char *s)
{
    return lookup(transport_names, 5, s);
}

const char *sdra_mail_transport_name(sdra_mail_transport t)
{
    return (unsigned)t < 5 ? transport_names[t] : "?";
}

int sdra_deliver_mode_parse(const char *s)
{
    return lookup(mode_names, 3, s);
}

const char *sdra_deliver_mode_name(sdra_deliver_mode m)
{
    return (unsigned)m < 3 ? mode_names[m] : "?";
}

/* ---- shared helpers ------------------------------------------------------------------------- */

int mail_fail(sdra_error *err, int code, bool retryable, const char *fmt, ...)
{
    if (!err)
        return code;
    char msg[SDRA_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sdra_error_set(err, code, "%s", msg);
    err->retryable = retryable;
    return code;
}

void mail_fold(char *out, size_t n, const char *s, size_t len)
{
    size_t j = 0;
    if (!n)
        return;
    for (size_t i = 0; s && i < len && s[i] && j + 1 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char o = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
        if (o == ' ' && (j == 0 || out[j - 1] == ' '))
            continue;
        out[j++] = o;
    }
    while (j > 0 && out[j - 1] == ' ')
        j--;
    out[j] = '\0';
}

char *mail_base64(const void *data, size_t len, bool url)
{
    static const char std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char web[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *a = url ? web : std;
    const unsigned char *p = data;
    if (len > ((size_t)-1) / 2)
        return NULL;
    char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
    if (!out)
        return NULL;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        *o++ = a[v >> 18 & 63], *o++ = a[v >> 12 & 63], *o++ = a[v >> 6 & 63], *o++ = a[v & 63];
    }
    if (len - i == 1) {
        unsigned v = (unsigned)p[i] << 16;
        *o++ = a[v >> 18 & 63], *o++ = a[v >> 12 & 63];
        if (!url)
            *o++ = '=', *o++ = '=';
    } else if (len - i == 2) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
        *o++ = a[v >> 18 & 63], *o++ = a[v >> 12 & 63], *o++ = a[v >> 6 & 63];
        if (!url)
            *o++ = '=';
    }
    *o = '\0';
    return out;
}

bool mail_msgid_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n < 3 || n > 250 || id[0] != '<' || id[n - 1] != '>')
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] <= ' ' || (unsigned char)id[i] >= 0x7f || id[i] == '"' || id[i] == '\\')
            return false;
    return true;
}

long mail_timeout_ms(const sdra_mail_config *cfg)
{
    return cfg->timeout_ms > 0 ? cfg->timeout_ms : MAIL_DEFAULT_TIMEOUT_MS;
}

int mail_urlencode(char *out, size_t n, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t j = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '.' || c == '_' || c == '~';
        if (j + (plain ? 1 : 3) >= n)
            return -1;
        if (plain) {
            out[j++] = (char)c;
        } else {
            out[j++] = '%', out[j++] = hex[c >> 4], out[j++] = hex[c & 15];
        }
    }
    if (j >= n)
        return -1;
    out[j] = '\0';
    return 0;
}

/* ---- configuration -------------------------------------------------------------------------- */

/* Copies $name into out; 1 when set and not empty, 0 when unset, SDRA_EINVAL when too long or
 * holding a control character (the message names the variable, never its value). */
static int env_copy(char *out, size_t n, const char *name, sdra_error *err)
{
    const char *v = getenv(name);
    out[0] = '\0';
    if (!v || !*v)
        return 0;
    if (strlen(v) >= n)
        return sdra_error_set(err, SDRA_EINVAL, "%s is too long (at most %zu bytes)", name, n - 1);
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return sdra_error_set(err, SDRA_EINVAL, "%s holds a control character", name);
    sdra_strlcpy(out, v, n);
    return 1;
}

static bool has_scheme(const char *url, const char *a, const char *b)
{
    return !strncmp(url, a, strlen(a)) || !strncmp(url, b, strlen(b));
}

static int env_url(char *out, size_t n, const char *name, const char *scheme, const char *tls_scheme,
                   bool required, sdra_error *err)
{
    int rc = env_copy(out, n, name, err);
    if (rc < 0)
        return rc;
    if (!rc)
        return required ? sdra_error_set(err, SDRA_EINVAL, "%s is not set (%sHOST:PORT, see docs/connectors.md)", name,
                                         scheme)
                        : 0;
    if (!has_scheme(out, scheme, tls_scheme))
        return sdra_error_set(err, SDRA_EINVAL, "%s must start with %s or %s", name, scheme, tls_scheme);
    return 1;
}

/* The OAuth settings of Gmail or Graph: PREFIX_TOKEN, PREFIX_URL, PREFIX_USER,
 * PREFIX_REFRESH_TOKEN, PREFIX_CLIENT_ID, PREFIX_CLIENT_SECRET, PREFIX_TOKEN_URL. */
static int env_oauth(sdra_mail_config *cfg, const char *prefix, const char *def_url, sdra_error *err)
{
    char name[64];
    struct {
        const char *suffix;
        char *out;
        size_t n;
    } vars[] = {
        {"TOKEN", cfg->token, sizeof cfg->token},
        {"URL", cfg->url, sizeof cfg->url},
        {"USER", cfg->user, sizeof cfg->user},
        {"REFRESH_TOKEN", cfg->refresh_token, sizeof cfg->refresh_token},
        {"CLIENT_ID", cfg->client_id, sizeof cfg->client_id},
        {"CLIENT_SECRET", cfg->client_secret, sizeof cfg->client_secret},
        {"TOKEN_URL", cfg->token_url, sizeof cfg->token_url},
        {"TENANT", cfg->tenant, sizeof cfg->tenant},
    };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        snprintf(name, sizeof name, "%s_%s", prefix, vars[i].suffix);
        int rc = env_copy(vars[i].out, vars[i].n, name, err);
        if (rc < 0)
            return rc;
    }
    if (!cfg->url[0])
        sdra_strlcpy(cfg->url, def_url, sizeof cfg->url);
    size_t ul = strlen(cfg->url);
    while (ul > 0 && cfg->url[ul - 1] == '/')
        cfg->url[--ul] = '\0';
    if (!has_scheme(cfg->url, "http://", "https://"))
        return sdra_error_set(err, SDRA_EINVAL, "%s_URL must start with http:// or https://", prefix);
    if (!cfg->user[0])
        sdra_strlcpy(cfg->user, "me", sizeof cfg->user);
    for (const char *p = cfg->user; *p; p++)
        if (*p == '/' || *p == '?' || *p == '#' || *p == '%' || *p == ' ')
            return sdra_error_set(err, SDRA_EINVAL, "%s_USER must be a user id or an email address", prefix);
    return 0;
}

int sdra_mail_config_from_env(sdra_mail_config *cfg, const char *transport, sdra_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    int t = sdra_mail_transport_parse(transport);
    if (t < 0)
        return sdra_error_set(err, SDRA_EINVAL, "mail transport '%s' is unknown (known: none, smtp, imap, gmail, graph)",
                              transport ? transport : "");
    cfg->transport = (sdra_mail_transport)t;
    sdra_strlcpy(cfg->drafts_folder, "Drafts", sizeof cfg->drafts_folder);
    sdra_strlcpy(cfg->sent_folder, "Sent", sizeof cfg->sent_folder);
    int rc = 0;
    char tmp[32];
    if (env_copy(tmp, sizeof tmp, "SDRA_MAIL_TIMEOUT_MS", err) > 0) {
        char *end = NULL;
        long v = strtol(tmp, &end, 10);
        if (*end || v < 100 || v > 600000)
            return sdra_error_set(err, SDRA_EINVAL, "SDRA_MAIL_TIMEOUT_MS must be 100..600000");
        cfg->timeout_ms = v;
    }
    switch (cfg->transport) {
    case SDRA_MAIL_NONE:
        return 0;
    case SDRA_MAIL_SMTP:
        if ((rc = env_url(cfg->url, sizeof cfg->url, "SDRA_SMTP_URL", "smtp://", "smtps://", true, err)) < 0 ||
            (rc = env_url(cfg->imap_url, sizeof cfg->imap_url, "SDRA_IMAP_URL", "imap://", "imaps://", false, err)) < 0)
            return rc;
        break;
    case SDRA_MAIL_IMAP:
        if ((rc = env_url(cfg->imap_url, sizeof cfg->imap_url, "SDRA_IMAP_URL", "imap://", "imaps://", true, err)) < 0)
            return rc;
        sdra_strlcpy(cfg->url, cfg->imap_url, sizeof cfg->url);
        break;
    case SDRA_MAIL_GMAIL:
        if ((rc = env_oauth(cfg, "SDRA_GMAIL", "https://gmail.googleapis.com", err)) < 0)
            return rc;
        if (!cfg->token_url[0])
            sdra_strlcpy(cfg->token_url, "https://oauth2.googleapis.com/token", sizeof cfg->token_url);
        if (!cfg->token[0] && !(cfg->refresh_token[0] && cfg->client_id[0] && cfg->client_secret[0]))
            return sdra_error_set(err, SDRA_EINVAL,
                                  "SDRA_GMAIL_TOKEN is not set (or SDRA_GMAIL_REFRESH_TOKEN with SDRA_GMAIL_CLIENT_ID "
                                  "and SDRA_GMAIL_CLIENT_SECRET)");
        break;
    case SDRA_MAIL_GRAPH:
        if ((rc = env_oauth(cfg, "SDRA_GRAPH", "https://graph.microsoft.com/v1.0", err)) < 0)
            return rc;
        if (!cfg->token_url[0] && cfg->tenant[0])
            snprintf(cfg->token_url, sizeof cfg->token_url, "https://login.microsoftonline.com/%s/oauth2/v2.0/token",
                     cfg->tenant);
        if (!cfg->token[0] && !(cfg->client_id[0] && cfg->client_secret[0] && cfg->token_url[0]))
            return sdra_error_set(err, SDRA_EINVAL,
                                  "SDRA_GRAPH_TOKEN is not set (or SDRA_GRAPH_CLIENT_ID, SDRA_GRAPH_CLIENT_SECRET and "
                                  "SDRA_GRAPH_TENANT, with SDRA_GRAPH_REFRESH_TOKEN for a delegated mailbox)");
        if (!cfg->token[0] && !cfg->refresh_token[0] && !strcmp(cfg->user, "me"))
            return sdra_error_set(err, SDRA_EINVAL,
                                  "SDRA_GRAPH_USER must name the mailbox (user id or UPN) with client credentials");
        break;
    }
    if ((rc = env_copy(cfg->ca_file, sizeof cfg->ca_file, "SDRA_MAIL_CA_FILE", err)) < 0)
        return rc;
    char folder[128];
    if ((rc = env_copy(folder, sizeof folder, "SDRA_IMAP_DRAFTS", err)) < 0)
        return rc;
    if (rc)
        sdra_strlcpy(cfg->drafts_folder, folder, sizeof cfg->drafts_folder);
    if ((rc = env_copy(folder, sizeof folder, "SDRA_IMAP_SENT", err)) < 0)
        return rc;
    if (rc)
        sdra_strlcpy(cfg->sent_folder, folder, sizeof cfg->sent_folder);
    for (const char *f = cfg->drafts_folder; *f; f++)
        if (*f == '"' || *f == '\\')
            return sdra_error_set(err, SDRA_EINVAL, "SDRA_IMAP_DRAFTS must not hold '\"' or '\\'");
    for (const char *f = cfg->sent_folder; *f; f++)
        if (*f == '"' || *f == '\\')
            return sdra_error_set(err, SDRA_EINVAL, "SDRA_IMAP_SENT must not hold '\"' or '\\'");
    return 0;
}

/* ---- dispatch ------------------------------------------------------------------------------- */

static int check_message(const sdra_mail_message *m, bool smtp, sdra_error *err)
{
    if (!m || !m->eml || !m->eml_len)
        return mail_fail(err, SDRA_EINVAL, false, "the message is empty");
    if (m->eml_len > MAIL_MAX_EML_BYTES)
        return mail_fail(err, SDRA_ELIMIT, false, "the message is %zu bytes (at most %zu)", m->eml_len,
                         MAIL_MAX_EML_BYTES);
    if (m->message_id && *m->message_id && !mail_msgid_ok(m->message_id))
        return mail_fail(err, SDRA_EINVAL, false, "the Message-ID is not of the form <id@domain>");
    if (smtp) {
        if (!m->envelope_from || !*m->envelope_from || strpbrk(m->envelope_from, "<>\r\n \t"))
            return mail_fail(err, SDRA_EINVAL, false, "the envelope sender is missing or not an address");
        if (m->n_rcpt < 1 || !m->rcpt)
            return mail_fail(err, SDRA_EINVAL, false, "the message has no recipient");
        for (int i = 0; i < m->n_rcpt; i++)
            if (!m->rcpt[i] || !*m->rcpt[i] || strpbrk(m->rcpt[i], "<>\r\n \t") || !strchr(m->rcpt[i], '@'))
                return mail_fail(err, SDRA_EINVAL, false, "recipient %d is not an address", i + 1);
    }
    return 0;
}

int sdra_mail_deliver(const sdra_mail_config *cfg, sdra_deliver_mode mode, const sdra_mail_message *m,
                      sdra_mail_result *out, sdra_error *err)
{
    sdra_mail_result scratch;
    if (!out)
        out = &scratch;
    memset(out, 0, sizeof *out);
    if (mode == SDRA_DELIVER_NONE || cfg->transport == SDRA_MAIL_NONE)
        return 0;
    if (mode != SDRA_DELIVER_DRAFT && mode != SDRA_DELIVER_SEND)
        return mail_fail(err, SDRA_EINVAL, false, "delivery mode %d is unknown", (int)mode);
    int rc = check_message(m, cfg->transport == SDRA_MAIL_SMTP && mode == SDRA_DELIVER_SEND, err);
    if (rc < 0)
        return rc;
    switch (cfg->transport) {
    case SDRA_MAIL_SMTP:
        if (mode == SDRA_DELIVER_DRAFT) {
            if (!cfg->imap_url[0])
                return mail_fail(err, SDRA_EUNSUPPORTED, false,
                                 "smtp cannot leave a draft: set SDRA_IMAP_URL, or deliver with --deliver send");
            return mail_imap_append(cfg, cfg->drafts_folder, "\\Draft", m, out, err);
        }
        if ((rc = mail_smtp_send(cfg, m, out, err)) < 0)
            return rc;
        if (cfg->imap_url[0]) {
            /* The sent copy: what the outbox's probe looks for after a crash. The message went
             * out already, so a failure here is not a failed delivery. */
            sdra_mail_result copy;
            sdra_error cerr = {0};
            if (mail_imap_append(cfg, cfg->sent_folder, "\\Seen", m, &copy, &cerr) < 0)
                sdra_log(SDRA_LOG_WARN, "mail: sent, but the copy in %s failed: %s", cfg->sent_folder, cerr.msg);
        }
        return 0;
    case SDRA_MAIL_IMAP:
        if (mode == SDRA_DELIVER_SEND)
            return mail_fail(err, SDRA_EUNSUPPORTED, false, "imap cannot send: use --mail smtp (with SDRA_IMAP_URL "
                                                            "for the sent copy)");
        return mail_imap_append(cfg, cfg->drafts_folder, "\\Draft", m, out, err);
    case SDRA_MAIL_GMAIL:
        return mail_gmail_deliver(cfg, mode, m, out, err);
    case SDRA_MAIL_GRAPH:
        return mail_graph_deliver(cfg, mode, m, out, err);
    default:
        return 0;
    }
}

int sdra_mail_send_draft(const sdra_mail_config *cfg, const char *remote_id, sdra_mail_result *out, sdra_error *err)
{
    sdra_mail_result scratch;
    if (!out)
        out = &scratch;
    memset(out, 0, sizeof *out);
    if (!remote_id || !*remote_id || strlen(remote_id) >= SDRA_MAIL_REMOTE_ID_MAX ||
        strpbrk(remote_id, "/?#% \r\n\t"))
        return mail_fail(err, SDRA_EINVAL, false, "the draft id is empty or not an id");
    switch (cfg->transport) {
    case SDRA_MAIL_GMAIL:
        return mail_gmail_send_draft(cfg, remote_id, out, err);
    case SDRA_MAIL_GRAPH:
        return mail_graph_send_draft(cfg, remote_id, out, err);
    default:
        return mail_fail(err, SDRA_EUNSUPPORTED, false, "mail transport %s cannot send a draft it left (the rep sends "
                         "it from the mail client)", sdra_mail_transport_name(cfg->transport));
    }
}

int sdra_mail_probe(const sdra_mail_config *cfg, sdra_deliver_mode mode, const char *message_id, bool *found,
                    sdra_error *err)
{
    *found = false;
    if (!mail_msgid_ok(message_id))
        return mail_fail(err, SDRA_EINVAL, false, "the Message-ID is not of the form <id@domain>");
    const char *folder = mode == SDRA_DELIVER_SEND ? cfg->sent_folder : cfg->drafts_folder;
    switch (cfg->transport) {
    case SDRA_MAIL_SMTP:
        if (!cfg->imap_url[0])
            return mail_fail(err, SDRA_EUNSUPPORTED, false,
                             "smtp alone cannot tell whether a message was sent: set SDRA_IMAP_URL");
        return mail_imap_probe(cfg, folder, message_id, found, err);
    case SDRA_MAIL_IMAP:
        return mail_imap_probe(cfg, folder, message_id, found, err);
    case SDRA_MAIL_GMAIL:
        return mail_gmail_probe(cfg, mode, message_id, found, err);
    case SDRA_MAIL_GRAPH:
        return mail_graph_probe(cfg, mode, message_id, found, err);
    default:
        return mail_fail(err, SDRA_EUNSUPPORTED, false, "mail transport none delivers nothing");
    }
}

int sdra_mail_check(const sdra_mail_config *cfg, char *what, size_t what_n, sdra_error *err)
{
    if (what && what_n)
        what[0] = '\0';
    char tmp[256];
    if (!what || !what_n)
        what = tmp, what_n = sizeof tmp;
    switch (cfg->transport) {
    case SDRA_MAIL_SMTP: {
        int rc = mail_smtp_check(cfg, what, what_n, err);
        if (rc < 0 || !cfg->imap_url[0])
            return rc;
        char imap[128];
        if ((rc = mail_imap_check(cfg, imap, sizeof imap, err)) < 0)
            return rc;
        snprintf(what, what_n, "send; draft and sent copy over IMAP");
        return 0;
    }
    case SDRA_MAIL_IMAP:
        return mail_imap_check(cfg, what, what_n, err);
    case SDRA_MAIL_GMAIL:
        return mail_gmail_check(cfg, what, what_n, err);
    case SDRA_MAIL_GRAPH:
        return mail_graph_check(cfg, what, what_n, err);
    default:
        snprintf(what, what_n, "nothing (mail transport none)");
        return 0;
    }
}
