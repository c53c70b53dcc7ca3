/*
 * mail.c - names, modes and configuration of the mail transports (sdra/mail.h). The transports
 * themselves are not built yet: sdra_mail_deliver and sdra_mail_probe answer SDRA_EUNSUPPORTED
 * with a line that says so, and the outbox marks such an effect dead with that reason.
 */
#include "sdra/mail.h"

#include <stdlib.h>
#include <string.h>

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

int sdra_mail_config_from_env(sdra_mail_config *cfg, const char *transport, sdra_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    int t = sdra_mail_transport_parse(transport);
    if (t < 0)
        return sdra_error_set(err, SDRA_EINVAL, "mail transport '%s' is unknown (known: none, smtp, imap, gmail, graph)",
                              transport ? transport : "");
    cfg->transport = (sdra_mail_transport)t;
    return 0;
}

int sdra_mail_deliver(const sdra_mail_config *cfg, sdra_deliver_mode mode, const sdra_mail_message *m,
                      sdra_mail_result *out, sdra_error *err)
{
    (void)m;
    if (out)
        memset(out, 0, sizeof *out);
    if (mode == SDRA_DELIVER_NONE || cfg->transport == SDRA_MAIL_NONE)
        return 0;
    return sdra_error_set(err, SDRA_EUNSUPPORTED, "mail transport %s is not built yet",
                          sdra_mail_transport_name(cfg->transport));
}

int sdra_mail_probe(const sdra_mail_config *cfg, sdra_deliver_mode mode, const char *message_id, bool *found,
                    sdra_error *err)
{
    (void)mode;
    (void)message_id;
    *found = false;
    return sdra_error_set(err, SDRA_EUNSUPPORTED, "mail transport %s cannot tell whether a message was delivered",
                          sdra_mail_transport_name(cfg->transport));
}

int sdra_mail_check(const sdra_mail_config *cfg, char *what, size_t what_n, sdra_error *err)
{
    if (what && what_n)
        what[0] = '\0';
    return sdra_error_set(err, SDRA_EUNSUPPORTED, "mail transport %s is not built yet",
                          sdra_mail_transport_name(cfg->transport));
}
