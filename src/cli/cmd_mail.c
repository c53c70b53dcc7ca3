/*
 * cmd_mail.c - `sdra mail send|draft|check|probe|send-draft`: the mail transports of sdra/mail.h
 * without the outbox, for people setting up a mailbox and for tests. The message is a complete
 * RFC 5322 file (compose's email.eml); the envelope sender and recipients come from its From:,
 * To: and Cc: unless --from / --to say otherwise. Settings and secrets come from the
 * environment (docs/connectors.md). A failure is one line on stderr ending in "[retryable]" or
 * "[permanent]", with exit status 75 (EX_TEMPFAIL) for the first and 1 for the second.
 */
#include "cli.h"
#include "sdra/mail.h"
#include "sdra/util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAIL_CLI_MAX_EML ((size_t)25 << 20)
#define MAIL_CLI_MAX_RCPT 50
#define MAIL_CLI_ADDR_MAX 320
#define SDRA_EXIT_TEMPFAIL 75

static void help(void)
{
    printf("usage: sdra mail send|draft EML --mail T [options]\n"
           "       sdra mail probe EML|MESSAGE-ID --mail T [--deliver draft|send]\n"
           "       sdra mail send-draft ID --mail gmail|graph\n"
           "       sdra mail check --mail T\n\n"
           "Delivers a finished message (compose's email.eml) through one mail transport: 'draft'\n"
           "leaves it in the mailbox's Drafts, 'send' sends it, 'send-draft' sends a draft an\n"
           "earlier 'draft' left (by the id it printed), 'probe' says whether a message with the\n"
           "file's Message-ID is already in Drafts (or Sent with --deliver send), 'check' proves the\n"
           "settings with one cheap call. Endpoints and secrets come from the environment\n"
           "(SDRA_SMTP_URL, SDRA_IMAP_URL, SDRA_GMAIL_TOKEN, SDRA_GRAPH_TOKEN, ...: docs/connectors.md).\n\n"
           "options:\n"
           "  --mail T          smtp | imap | gmail | graph (required)\n"
           "  --from ADDR       envelope sender (SMTP MAIL FROM; default: the From: address)\n"
           "  --to ADDR         a recipient (repeatable; default: the To: and Cc: addresses)\n"
           "  --deliver M       probe: draft (default) or send\n"
           "  -q, --quiet       print nothing on success\n\n"
           "Prints the remote id (SMTP queue id, IMAP UID, Gmail or Graph id). A failure is one\n"
           "line ending in [retryable] (exit 75: trying later may work) or [permanent] (exit 1).\n");
}

/* The value of header name (unfolded, at most n bytes) from the header block of eml; 0 when found. */
static int header_get(const char *eml, size_t len, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name), i = 0;
    out[0] = '\0';
    while (i < len) {
        size_t e = i;
        while (e < len && eml[e] != '\n')
            e++;
        size_t ll = e - i;
        if (ll > 0 && eml[i + ll - 1] == '\r')
            ll--;
        if (ll == 0)
            return -1; /* end of the header block */
        if (ll > nl && eml[i + nl] == ':' && !strncasecmp(eml + i, name, nl)) {
            size_t o = 0, p = i + nl + 1;
            for (;;) {
                for (; p < i + ll && o + 1 < n; p++)
                    out[o++] = eml[p] == '\t' ? ' ' : eml[p];
                i = e + 1;
                if (i >= len || (eml[i] != ' ' && eml[i] != '\t'))
                    break;
                e = i;
                while (e < len && eml[e] != '\n')
                    e++;
                ll = e - i;
                if (ll > 0 && eml[i + ll - 1] == '\r')
                    ll--;
                p = i;
            }
            out[o] = '\0';
            return 0;
        }
        i = e + 1;
    }
    return -1;
}

/* The addr-spec of one mailbox ("Name <a@b>" or "a@b") into out; -1 when there is none. */
static int addr_of(const char *s, size_t len, char *out, size_t n)
{
    const char *lt = NULL, *gt = NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '<')
            lt = s + i;
        else if (s[i] == '>' && lt)
            gt = s + i;
    }
    const char *b = lt && gt ? lt + 1 : s, *e = lt && gt ? gt : s + len;
    while (b < e && (*b == ' ' || *b == '"'))
        b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '"'))
        e--;
    size_t l = (size_t)(e - b);
    if (l == 0 || l >= n || !memchr(b, '@', l) || memchr(b, ' ', l))
        return -1;
    memcpy(out, b, l);
    out[l] = '\0';
    return 0;
}

/* Splits an address list at commas outside quotes and adds each address to rcpt. */
static int addr_list(const char *v, char rcpt[][MAIL_CLI_ADDR_MAX], int *n)
{
    int q = 0;
    const char *start = v;
    for (const char *p = v;; p++) {
        if (*p == '"')
            q = !q;
        if ((*p == ',' && !q) || *p == '\0') {
            const char *b = start;
            while (b < p && *b == ' ')
                b++;
            if (p > b) {
                if (*n >= MAIL_CLI_MAX_RCPT || addr_of(b, (size_t)(p - b), rcpt[*n], MAIL_CLI_ADDR_MAX) < 0)
                    return -1;
                (*n)++;
            }
            if (!*p)
                return 0;
            start = p + 1;
        }
    }
}

static int fail_line(const sdra_error *err)
{
    fprintf(stderr, "sdra: %s [%s]\n", err->msg[0] ? err->msg : sdra_strerror(err->code),
            err->retryable ? "retryable" : "permanent");
    return err->retryable ? SDRA_EXIT_TEMPFAIL : SDRA_EXIT_FAIL;
}

int cmd_mail(int argc, char **argv)
{
    static const struct option opts[] = {
        {"mail", required_argument, 0, 'm'},
        {"from", required_argument, 0, 'f'},
        {"to", required_argument, 0, 't'},
        {"deliver", required_argument, 0, 'd'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *transport = NULL, *from = NULL, *mode_s = "draft";
    const char *to[MAIL_CLI_MAX_RCPT];
    int n_to = 0, quiet = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "m:f:t:d:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': transport = optarg; break;
        case 'f': from = optarg; break;
        case 't':
            if (n_to >= MAIL_CLI_MAX_RCPT)
                return cli_usage_error("mail", "at most %d --to", MAIL_CLI_MAX_RCPT);
            to[n_to++] = optarg;
            break;
        case 'd': mode_s = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': help(); return SDRA_EXIT_OK;
        default: return cli_usage_error("mail", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error("mail", "missing the action (send, draft, send-draft, probe or check)");
    const char *action = argv[optind++];
    bool is_check = !strcmp(action, "check");
    if (!is_check && strcmp(action, "send") && strcmp(action, "draft") && strcmp(action, "probe") &&
        strcmp(action, "send-draft"))
        return cli_usage_error("mail", "unknown action '%s' (send, draft, send-draft, probe, check)", action);
    if (!is_check && optind >= argc)
        return cli_usage_error("mail", "%s needs %s", action, !strcmp(action, "send-draft") ? "the draft id" : "EML");
    if (argc - optind > (is_check ? 0 : 1))
        return cli_usage_error("mail", "too many arguments");
    if (!transport)
        return cli_usage_error("mail", "--mail is required (smtp, imap, gmail or graph)");
    int mode = sdra_deliver_mode_parse(mode_s);
    if (mode != SDRA_DELIVER_DRAFT && mode != SDRA_DELIVER_SEND)
        return cli_usage_error("mail", "--deliver must be draft or send");
    const char *arg = is_check ? NULL : argv[optind];

    sdra_error err = {0};
    sdra_mail_config *cfg = calloc(1, sizeof *cfg);
    char *eml = NULL;
    size_t eml_len = 0;
    int ret = SDRA_EXIT_FAIL;
    if (!cfg)
        return SDRA_EXIT_FAIL;
    if (sdra_mail_config_from_env(cfg, transport, &err) < 0) {
        ret = fail_line(&err);
        goto done;
    }
    if (cfg->transport == SDRA_MAIL_NONE) {
        ret = cli_usage_error("mail", "--mail none delivers nothing");
        goto done;
    }
    if (is_check) {
        char what[256];
        if (sdra_mail_check(cfg, what, sizeof what, &err) < 0) {
            ret = fail_line(&err);
            goto done;
        }
        if (!quiet)
            printf("%s: ok: %s\n", sdra_mail_transport_name(cfg->transport), what);
        ret = SDRA_EXIT_OK;
        goto done;
    }
    sdra_mail_result r = {0};
    if (!strcmp(action, "send-draft")) {
        if (sdra_mail_send_draft(cfg, arg, &r, &err) < 0) {
            ret = fail_line(&err);
            goto done;
        }
        if (!quiet)
            printf("%s\n", r.remote_id);
        ret = SDRA_EXIT_OK;
        goto done;
    }
    char msgid[512] = "";
    if (!strcmp(action, "probe") && arg[0] == '<') {
        sdra_strlcpy(msgid, arg, sizeof msgid);
    } else {
        if (sdra_file_read(&eml, &eml_len, arg, MAIL_CLI_MAX_EML, &err) < 0) {
            ret = cli_fail(&err);
            goto done;
        }
        char v[1024];
        if (header_get(eml, eml_len, "Message-ID", v, sizeof v) == 0) {
            char *b = v;
            while (*b == ' ')
                b++;
            sdra_strlcpy(msgid, b, sizeof msgid);
            for (size_t l = strlen(msgid); l > 0 && msgid[l - 1] == ' ';)
                msgid[--l] = '\0';
        }
    }
    if (!strcmp(action, "probe")) {
        bool found = false;
        if (!msgid[0]) {
            fprintf(stderr, "sdra: %s: no Message-ID header\n", arg);
            goto done;
        }
        if (sdra_mail_probe(cfg, (sdra_deliver_mode)mode, msgid, &found, &err) < 0) {
            ret = fail_line(&err);
            goto done;
        }
        printf("%s\n", found ? "found" : "absent");
        ret = SDRA_EXIT_OK;
        goto done;
    }
    /* send / draft: the envelope from the headers unless given. */
    static char rcpt[MAIL_CLI_MAX_RCPT][MAIL_CLI_ADDR_MAX];
    char sender[MAIL_CLI_ADDR_MAX] = "", v[4096];
    int n_rcpt = 0;
    const char *rcpt_p[MAIL_CLI_MAX_RCPT];
    if (from) {
        sdra_strlcpy(sender, from, sizeof sender);
    } else if (header_get(eml, eml_len, "From", v, sizeof v) < 0 || addr_of(v, strlen(v), sender, sizeof sender) < 0) {
        fprintf(stderr, "sdra: %s: no From: address (give --from)\n", arg);
        goto done;
    }
    if (n_to) {
        for (int i = 0; i < n_to; i++)
            rcpt_p[i] = to[i];
        n_rcpt = n_to;
    } else {
        static const char *const hdrs[] = {"To", "Cc"};
        for (int h = 0; h < 2; h++)
            if (header_get(eml, eml_len, hdrs[h], v, sizeof v) == 0 && addr_list(v, rcpt, &n_rcpt) < 0) {
                fprintf(stderr, "sdra: %s: the %s: header is not a list of addresses (give --to)\n", arg, hdrs[h]);
                goto done;
            }
        for (int i = 0; i < n_rcpt; i++)
            rcpt_p[i] = rcpt[i];
    }
    sdra_mail_message m = {.eml = eml, .eml_len = eml_len, .envelope_from = sender, .rcpt = rcpt_p,
                           .n_rcpt = n_rcpt, .message_id = msgid[0] ? msgid : NULL};
    sdra_deliver_mode dm = !strcmp(action, "send") ? SDRA_DELIVER_SEND : SDRA_DELIVER_DRAFT;
    if (sdra_mail_deliver(cfg, dm, &m, &r, &err) < 0) {
        ret = fail_line(&err);
        goto done;
    }
    if (!quiet)
        printf("%s\n", r.remote_id);
    ret = SDRA_EXIT_OK;
done:
    free(eml);
    explicit_bzero(cfg, sizeof *cfg);
    free(cfg);
    return ret;
}
