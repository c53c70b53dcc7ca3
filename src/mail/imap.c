/*
 * imap.c - IMAP through libcurl: APPEND of a message into a folder (Drafts with \Draft, or the
 * Sent copy with \Seen) and the search by Message-ID that tells the outbox whether an earlier,
 * cut-off attempt already arrived.
 *
 * curl does the connection, STARTTLS (required for imap://: CURLUSESSL_ALL), the server's
 * certificate check and the login (CONNECT_ONLY stops after them); the commands are then spoken
 * over that session with curl_easy_send/curl_easy_recv, because curl's own APPEND always sets
 * \Seen and cannot set \Draft. Replies are read line by line with a deadline; a tagged NO names
 * what the server said ("NO [OVERQUOTA] Quota exceeded"): OVERQUOTA, a missing folder and other
 * refusals are permanent, [UNAVAILABLE] / [INUSE] / [LIMIT] and a lost connection retryable.
 * The remote id is the UID from APPENDUID (RFC 4315 UIDPLUS) when the server offers it.
 */
#include "internal.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sdra/httpc.h"
#include "sdra/util.h"

#define IMAP_LINE_MAX 8192

typedef struct imap_conn {
    CURL *c;
    curl_socket_t sock;
    char where[256];      /* the URL without userinfo, for messages */
    double deadline_s;
    char buf[IMAP_LINE_MAX];
    size_t len;
    int tag;
    mail_curl_io io;
} imap_conn;

static int imap_open(imap_conn *ic, const sdra_mail_config *cfg, sdra_error *err)
{
    char ebuf[CURL_ERROR_SIZE] = "";
    memset(ic, 0, sizeof *ic);
    ic->sock = CURL_SOCKET_BAD;
    sdra_httpc_redact_url(cfg->imap_url, ic->where, sizeof ic->where);
    char *q = strchr(ic->where + strlen("imap://"), '/');
    if (q && q[1] == '\0')
        *q = '\0';
    ic->deadline_s = sdra_clock_s() + mail_timeout_ms(cfg) / 1000.0;
    sdra_httpc_global_init(NULL);
    if (!(ic->c = curl_easy_init()))
        return mail_fail(err, SDRA_ENOMEM, true, "imap: out of memory");
    curl_easy_setopt(ic->c, CURLOPT_URL, cfg->imap_url);
    curl_easy_setopt(ic->c, CURLOPT_PROTOCOLS_STR, "imap,imaps");
    curl_easy_setopt(ic->c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (cfg->ca_file[0])
        curl_easy_setopt(ic->c, CURLOPT_CAINFO, cfg->ca_file);
    curl_easy_setopt(ic->c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(ic->c, CURLOPT_CONNECTTIMEOUT_MS, mail_timeout_ms(cfg));
    curl_easy_setopt(ic->c, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(ic->c, CURLOPT_ERRORBUFFER, ebuf);
    mail_curl_watch(ic->c, &ic->io);
    CURLcode rc = curl_easy_perform(ic->c);
    if (rc == CURLE_OK)
        rc = curl_easy_getinfo(ic->c, CURLINFO_ACTIVESOCKET, &ic->sock);
    int ret = 0;
    if (rc != CURLE_OK) {
        const char *reply = ic->io.reply; /* "A004 NO [AUTHENTICATIONFAILED] ...": curl's tag is noise */
        size_t tl = strspn(reply + (reply[0] == 'A'), "0123456789");
        if (reply[0] == 'A' && tl > 0 && reply[1 + tl] == ' ')
            reply += 2 + tl;
        ret = mail_curl_fail(ic->c, rc, ebuf, reply, cfg->imap_url, "login", err);
    }
    curl_easy_setopt(ic->c, CURLOPT_ERRORBUFFER, NULL);
    return ret;
}

static void imap_close(imap_conn *ic)
{
    if (ic->c)
        curl_easy_cleanup(ic->c); /* curl says LOGOUT */
    ic->c = NULL;
}

static int lost(imap_conn *ic, const char *why, sdra_error *err)
{
    return mail_fail(err, SDRA_ERETRY, true, "%s: %s", ic->where, why);
}

static int imap_wait(imap_conn *ic, short events, sdra_error *err)
{
    double left = ic->deadline_s - sdra_clock_s();
    if (left <= 0)
        return mail_fail(err, SDRA_ETIMEOUT, true, "%s: the server did not answer in time", ic->where);
    struct pollfd p = {.fd = (int)ic->sock, .events = events};
    int r = poll(&p, 1, (int)(left * 1000) + 1);
    if (r < 0)
        return lost(ic, "poll failed", err);
    return 0;
}

static int imap_write(imap_conn *ic, const char *p, size_t n, sdra_error *err)
{
    while (n > 0) {
        size_t sent = 0;
        CURLcode rc = curl_easy_send(ic->c, p, n, &sent);
        if (rc == CURLE_AGAIN) {
            int w = imap_wait(ic, POLLOUT, err);
            if (w < 0)
                return w;
            continue;
        }
        if (rc != CURLE_OK)
            return lost(ic, "the connection was lost while sending", err);
        p += sent;
        n -= sent;
    }
    return 0;
}

/* One reply line without its CRLF into line (n bytes; a longer line is cut). */
static int imap_line(imap_conn *ic, char *line, size_t n, sdra_error *err)
{
    size_t kept = 0;
    for (;;) {
        char *eol = ic->len ? memchr(ic->buf, '\n', ic->len) : NULL;
        size_t take = eol ? (size_t)(eol - ic->buf) + 1 : ic->len;
        if (eol || ic->len == sizeof ic->buf) {
            size_t body = eol ? take - 1 : take;
            if (eol && body > 0 && ic->buf[body - 1] == '\r')
                body--;
            size_t copy = body < n - 1 - kept ? body : n - 1 - kept;
            memcpy(line + kept, ic->buf, copy);
            kept += copy;
            memmove(ic->buf, ic->buf + take, ic->len - take);
            ic->len -= take;
            if (eol) {
                line[kept] = '\0';
                return 0;
            }
        }
        size_t got = 0;
        CURLcode rc = curl_easy_recv(ic->c, ic->buf + ic->len, sizeof ic->buf - ic->len, &got);
        if (rc == CURLE_AGAIN) {
            int w = imap_wait(ic, POLLIN, err);
            if (w < 0)
                return w;
            continue;
        }
        if (rc != CURLE_OK || got == 0)
            return lost(ic, "the server closed the connection", err);
        ic->len += got;
    }
}

typedef void (*untagged_fn)(const char *line, void *user);

/* Sends "TAG cmd CRLF"; tag gets the tag used. */
static int imap_send_cmd(imap_conn *ic, const char *cmd, char *tag, size_t tn, sdra_error *err)
{
    snprintf(tag, tn, "s%03d", ++ic->tag);
    char line[IMAP_LINE_MAX];
    int n = snprintf(line, sizeof line, "%s %s\r\n", tag, cmd);
    if (n < 0 || (size_t)n >= sizeof line)
        return mail_fail(err, SDRA_EINVAL, false, "%s: command too long", ic->where);
    return imap_write(ic, line, (size_t)n, err);
}

/* Reads to the tagged reply of tag (its text after the tag goes into status, n bytes), handing
 * untagged lines to fn. With cont, a "+" continuation ends the wait too and 1 is returned. */
static int imap_read_reply(imap_conn *ic, const char *tag, untagged_fn fn, void *user, bool cont, char *status,
                           size_t n, sdra_error *err)
{
    char line[IMAP_LINE_MAX];
    size_t tl = strlen(tag);
    for (;;) {
        int rc = imap_line(ic, line, sizeof line, err);
        if (rc < 0)
            return rc;
        if (!strncmp(line, tag, tl) && line[tl] == ' ') {
            mail_fold(status, n, line + tl + 1, strlen(line + tl + 1));
            return 0;
        }
        if (cont && line[0] == '+')
            return 1;
        if (!strncmp(line, "* BYE", 5)) {
            char why[256];
            mail_fold(why, sizeof why, line, strlen(line));
            return mail_fail(err, SDRA_ERETRY, true, "%s: the server closed the session: %s", ic->where, why);
        }
        if (fn && line[0] == '*')
            fn(line, user);
    }
}

static bool has_code(const char *status, const char *code)
{
    const char *b = strchr(status, '[');
    return b && !strncasecmp(b + 1, code, strlen(code));
}

/* Maps a tagged NO/BAD into one line; 0 when status is OK. */
static int imap_status(imap_conn *ic, const char *status, const char *what, sdra_error *err)
{
    if (!strncasecmp(status, "OK", 2))
        return 0;
    if (has_code(status, "OVERQUOTA"))
        return mail_fail(err, SDRA_ELIMIT, false, "%s: %s: the mailbox is over its quota: %s", ic->where, what, status);
    if (has_code(status, "TRYCREATE") || has_code(status, "NONEXISTENT"))
        return mail_fail(err, SDRA_ENOTFOUND, false, "%s: %s: the folder does not exist: %s", ic->where, what, status);
    if (has_code(status, "UNAVAILABLE") || has_code(status, "INUSE") || has_code(status, "LIMIT") ||
        has_code(status, "SERVERBUG"))
        return mail_fail(err, SDRA_ERETRY, true, "%s: %s: deferred, the server replied: %s", ic->where, what, status);
    return mail_fail(err, SDRA_EUPSTREAM, false, "%s: %s: refused, the server replied: %s", ic->where, what, status);
}

int mail_imap_append(const sdra_mail_config *cfg, const char *folder, const char *flags, const sdra_mail_message *m,
                     sdra_mail_result *out, sdra_error *err)
{
    imap_conn *ic = calloc(1, sizeof *ic);
    if (!ic)
        return mail_fail(err, SDRA_ENOMEM, true, "imap: out of memory");
    char cmd[512], tag[16], status[512], what[200];
    snprintf(what, sizeof what, "APPEND to %s", folder);
    int rc = imap_open(ic, cfg, err);
    if (rc < 0)
        goto done;
    snprintf(cmd, sizeof cmd, "APPEND \"%s\" (%s) {%zu}", folder, flags, m->eml_len);
    if ((rc = imap_send_cmd(ic, cmd, tag, sizeof tag, err)) < 0 ||
        (rc = imap_read_reply(ic, tag, NULL, NULL, true, status, sizeof status, err)) < 0)
        goto done;
    if (rc == 0) { /* refused before the literal (a size limit, a missing folder) */
        rc = imap_status(ic, status, what, err);
        if (rc == 0)
            rc = mail_fail(err, SDRA_EUPSTREAM, false, "%s: %s: the server did not ask for the message", ic->where, what);
        goto done;
    }
    if ((rc = imap_write(ic, m->eml, m->eml_len, err)) < 0 || (rc = imap_write(ic, "\r\n", 2, err)) < 0 ||
        (rc = imap_read_reply(ic, tag, NULL, NULL, false, status, sizeof status, err)) < 0 ||
        (rc = imap_status(ic, status, what, err)) < 0)
        goto done;
    /* "OK [APPENDUID <uidvalidity> <uid>] ..." */
    const char *a = strstr(status, "[APPENDUID ");
    unsigned long validity = 0, uid = 0;
    if (a && sscanf(a, "[APPENDUID %lu %lu]", &validity, &uid) == 2)
        snprintf(out->remote_id, sizeof out->remote_id, "%lu", uid);
    else if (m->message_id)
        sdra_strlcpy(out->remote_id, m->message_id, sizeof out->remote_id);
done:
    imap_close(ic);
    free(ic);
    return rc < 0 ? rc : 0;
}

static void search_cb(const char *line, void *user)
{
    if (!strncasecmp(line, "* SEARCH", 8)) {
        const char *p = line + 8;
        while (*p == ' ')
            p++;
        if (*p >= '0' && *p <= '9')
            *(bool *)user = true;
    }
}

int mail_imap_probe(const sdra_mail_config *cfg, const char *folder, const char *message_id, bool *found,
                    sdra_error *err)
{
    imap_conn *ic = calloc(1, sizeof *ic);
    if (!ic)
        return mail_fail(err, SDRA_ENOMEM, true, "imap: out of memory");
    char cmd[512], tag[16], status[512], what[200];
    snprintf(what, sizeof what, "search in %s", folder);
    int rc = imap_open(ic, cfg, err);
    if (rc < 0)
        goto done;
    snprintf(cmd, sizeof cmd, "EXAMINE \"%s\"", folder);
    if ((rc = imap_send_cmd(ic, cmd, tag, sizeof tag, err)) < 0 ||
        (rc = imap_read_reply(ic, tag, NULL, NULL, false, status, sizeof status, err)) < 0)
        goto done;
    if (has_code(status, "NONEXISTENT") || has_code(status, "TRYCREATE")) {
        rc = 0; /* no such folder: nothing arrived there */
        goto done;
    }
    if ((rc = imap_status(ic, status, what, err)) < 0)
        goto done;
    snprintf(cmd, sizeof cmd, "UID SEARCH HEADER Message-ID \"%s\"", message_id);
    if ((rc = imap_send_cmd(ic, cmd, tag, sizeof tag, err)) < 0 ||
        (rc = imap_read_reply(ic, tag, search_cb, found, false, status, sizeof status, err)) < 0 ||
        (rc = imap_status(ic, status, what, err)) < 0)
        goto done;
done:
    imap_close(ic);
    free(ic);
    return rc < 0 ? rc : 0;
}

int mail_imap_check(const sdra_mail_config *cfg, char *what, size_t what_n, sdra_error *err)
{
    imap_conn *ic = calloc(1, sizeof *ic);
    if (!ic)
        return mail_fail(err, SDRA_ENOMEM, true, "imap: out of memory");
    char cmd[512], tag[16], status[512], step[200];
    snprintf(step, sizeof step, "EXAMINE %s", cfg->drafts_folder);
    int rc = imap_open(ic, cfg, err);
    if (rc < 0)
        goto done;
    snprintf(cmd, sizeof cmd, "EXAMINE \"%s\"", cfg->drafts_folder);
    if ((rc = imap_send_cmd(ic, cmd, tag, sizeof tag, err)) < 0 ||
        (rc = imap_read_reply(ic, tag, NULL, NULL, false, status, sizeof status, err)) < 0 ||
        (rc = imap_status(ic, status, step, err)) < 0)
        goto done;
    snprintf(what, what_n, "draft (APPEND into %s)", cfg->drafts_folder);
done:
    imap_close(ic);
    free(ic);
    return rc < 0 ? rc : 0;
}
