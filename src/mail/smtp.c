/*
 * smtp.c - SMTP submission through libcurl: smtp:// (port 587) with STARTTLS required
 * (CURLUSESSL_ALL: a server that does not offer it is a failure, never a plaintext send) and
 * smtps:// (port 465) with implicit TLS. AUTH comes from the URL's userinfo; MAIL FROM is the
 * envelope sender, which may differ from the message's From: header; one RCPT TO per recipient.
 *
 * The server's replies are read through curl's debug callback (CURLINFO_HEADER_IN; what we send,
 * AUTH included, is never looked at): the last reply goes into a failure's one-line message and
 * the final "250 ... queued as ID" gives the remote id. A 4xx reply is retryable, a 5xx is
 * permanent; a TLS failure is a permanent "TLS: ..." line; connection failures and timeouts are
 * retryable. The URL in messages is redacted (no userinfo).
 */
#include "internal.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "sdra/httpc.h"
#include "sdra/util.h"

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *user)
{
    mail_curl_io *io = user;
    size_t n = size * nmemb, left = io->len - io->off;
    if (n > left)
        n = left;
    memcpy(buf, io->data + io->off, n);
    io->off += n;
    return n;
}

/* Keeps the last line the server sent, and the queue id of a "250 ... queued as ID". */
static int debug_cb(CURL *c, curl_infotype type, char *data, size_t size, void *user)
{
    (void)c;
    mail_curl_io *io = user;
    if (type != CURLINFO_HEADER_IN || size == 0)
        return 0;
    mail_fold(io->reply, sizeof io->reply, data, size);
    if ((io->reply[0] == '4' || io->reply[0] == '5') && io->reply[1] >= '0' && io->reply[1] <= '9')
        sdra_strlcpy(io->refusal, io->reply, sizeof io->refusal);
    const char *q = strstr(io->reply, "queued as ");
    if (!strncmp(io->reply, "250", 3) && q) {
        q += strlen("queued as ");
        size_t n = strcspn(q, " ;,");
        if (n >= sizeof io->queued)
            n = sizeof io->queued - 1;
        memcpy(io->queued, q, n);
        io->queued[n] = '\0';
    }
    return 0;
}

void mail_curl_watch(CURL *c, mail_curl_io *io)
{
    curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, debug_cb);
    curl_easy_setopt(c, CURLOPT_DEBUGDATA, io);
}

static bool curl_tls_error(CURLcode c)
{
    switch (c) {
    case CURLE_SSL_CONNECT_ERROR: case CURLE_SSL_CERTPROBLEM: case CURLE_SSL_CIPHER:
    case CURLE_PEER_FAILED_VERIFICATION: case CURLE_SSL_CACERT_BADFILE: case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH: case CURLE_SSL_INVALIDCERTSTATUS: case CURLE_SSL_CRL_BADFILE:
    case CURLE_USE_SSL_FAILED: case CURLE_SSL_ENGINE_INITFAILED: case CURLE_SSL_SHUTDOWN_FAILED:
        return true;
    default:
        return false;
    }
}

/* Turns a failed transfer into one line with the right code and retryable flag. what names
 * the step ("send", "check"). */
int mail_curl_fail(CURL *c, CURLcode rc, const char *ebuf, const char *reply, const char *url, const char *what,
                   sdra_error *err)
{
    char where[256], detail[CURL_ERROR_SIZE + 8];
    sdra_httpc_redact_url(url, where, sizeof where);
    mail_fold(detail, sizeof detail, ebuf && *ebuf ? ebuf : curl_easy_strerror(rc), CURL_ERROR_SIZE);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (rc == CURLE_USE_SSL_FAILED)
        return mail_fail(err, SDRA_EDENIED, false, "%s: %s: the server does not offer STARTTLS (TLS is required)",
                         where, what);
    if (curl_tls_error(rc))
        return mail_fail(err, SDRA_EDENIED, false, "%s: %s: TLS: %s (set SDRA_MAIL_CA_FILE to trust a private CA)",
                         where, what, detail);
    if (rc == CURLE_LOGIN_DENIED)
        return mail_fail(err, SDRA_EDENIED, code >= 400 && code < 500, "%s: %s: the server refused the login: %s",
                         where, what, reply && *reply ? reply : detail);
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_OPERATION_TIMEDOUT ||
        rc == CURLE_GOT_NOTHING)
        return mail_fail(err, rc == CURLE_OPERATION_TIMEDOUT ? SDRA_ETIMEOUT : SDRA_ERETRY, true, "%s: %s: %s", where,
                         what, detail);
    if (code >= 400 && code < 500)
        return mail_fail(err, SDRA_ERETRY, true, "%s: %s: deferred, the server replied: %s", where, what,
                         reply && *reply ? reply : detail);
    if (code >= 500 && code < 600)
        return mail_fail(err, SDRA_EUPSTREAM, false, "%s: %s: refused, the server replied: %s", where, what,
                         reply && *reply ? reply : detail);
    return mail_fail(err, SDRA_EUPSTREAM, true, "%s: %s: %s%s%s", where, what, detail, reply && *reply ? ": " : "",
                     reply ? reply : "");
}

/* A handle with what every SMTP call shares: TLS policy, CA, deadlines, only smtp/smtps. */
static CURL *smtp_handle(const sdra_mail_config *cfg, mail_curl_io *io, char *ebuf)
{
    sdra_httpc_global_init(NULL);
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    curl_easy_setopt(c, CURLOPT_URL, cfg->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (cfg->ca_file[0])
        curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_file);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, mail_timeout_ms(cfg));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, mail_timeout_ms(cfg));
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    mail_curl_watch(c, io);
    return c;
}

int mail_smtp_send(const sdra_mail_config *cfg, const sdra_mail_message *m, sdra_mail_result *out, sdra_error *err)
{
    mail_curl_io io = {.data = m->eml, .len = m->eml_len};
    char ebuf[CURL_ERROR_SIZE] = "", from[320];
    struct curl_slist *rcpt = NULL;
    int ret = 0;
    CURL *c = smtp_handle(cfg, &io, ebuf);
    if (!c)
        return mail_fail(err, SDRA_ENOMEM, true, "smtp: out of memory");
    snprintf(from, sizeof from, "<%s>", m->envelope_from);
    for (int i = 0; i < m->n_rcpt; i++) {
        char to[320];
        snprintf(to, sizeof to, "<%s>", m->rcpt[i]);
        struct curl_slist *n = curl_slist_append(rcpt, to);
        if (!n) {
            ret = mail_fail(err, SDRA_ENOMEM, true, "smtp: out of memory");
            goto done;
        }
        rcpt = n;
    }
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &io);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)m->eml_len);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        ret = mail_curl_fail(c, rc, ebuf, io.refusal[0] ? io.refusal : io.reply, cfg->url, "send", err);
        goto done;
    }
    if (io.queued[0])
        sdra_strlcpy(out->remote_id, io.queued, sizeof out->remote_id);
    else if (m->message_id)
        sdra_strlcpy(out->remote_id, m->message_id, sizeof out->remote_id);
done:
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(c);
    return ret;
}

int mail_smtp_check(const sdra_mail_config *cfg, char *what, size_t what_n, sdra_error *err)
{
    mail_curl_io io = {0};
    char ebuf[CURL_ERROR_SIZE] = "";
    CURL *c = smtp_handle(cfg, &io, ebuf);
    if (!c)
        return mail_fail(err, SDRA_ENOMEM, true, "smtp: out of memory");
    /* Connect, TLS, EHLO and AUTH happen in the connect phase; the NOOP proves the session. */
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "NOOP");
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    CURLcode rc = curl_easy_perform(c);
    int ret = 0;
    if (rc != CURLE_OK)
        ret = mail_curl_fail(c, rc, ebuf, io.refusal[0] ? io.refusal : io.reply, cfg->url, "check", err);
    else
        snprintf(what, what_n, "send (draft needs SDRA_IMAP_URL)");
    curl_easy_cleanup(c);
    return ret;
}
