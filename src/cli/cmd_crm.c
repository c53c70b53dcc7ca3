/*
 * cmd_crm.c - `sdra crm contacts|activities|tasks|emails|notes`: look into the CRM.
 *
 * Opens the CRM read-only (nothing is created; a missing or empty database is an empty
 * result, not an error), lists one kind of record, optionally for one contact, and prints an
 * aligned table (default) or a JSON array (--format json).
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sdra/crm.h"
#include "sdra/crypt.h"
#include "sdra/seal.h"
#include "sdra/server.h"
#include "sdra/pipeline.h"
#include "sdra/store.h"

#define CELL_MAX 200 /* bytes of one table cell before it is cut */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sdra crm contacts|activities|tasks|emails|notes [options]\n"
            "       sdra crm sync PACKAGE_DIR [--data DIR] [--backend NAME] [--org ORG]\n"
            "       sdra crm forget (--call ID | --contact EMAIL) [--data DIR] [--backend NAME] [--org ORG]\n\n"
            "Lists what the CRM holds (read-only), or (sync) writes a call package's\n"
            "call.json, analysis.json, email.json into the CRM again and rewrites crm.json,\n"
            "or (forget) erases what one call wrote, or a contact with all its records\n"
            "(its do-not-call / do-not-email flags included).\n\n"
            "options:\n"
            "  --contact EMAIL      only the records of this contact (forget: erase it)\n"
            "  --call ID            forget: erase what this call wrote\n"
            "  --data DIR           user data directory (default $SDRA_DATA or ~/.local/share/sdra)\n"
            "  --backend NAME       CRM backend: local (default), hubspot, salesforce\n"
            "                       (configured from the environment: docs/connectors.md)\n"
            "  --org ORG            the organisation whose records are listed, synced or erased\n"
            "                       (default \"default\"; another organisation's are never touched)\n"
            "  --format table|json  aligned table (default) or a JSON array\n"
            "  --master-key-file F, --master-key-cmd CMD\n"
            "                       the master key of a CRM encrypted at rest (else\n"
            "                       $SDRA_MASTER_KEY, else DIR/master.key): without it,\n"
            "                       encrypted fields list as null\n"
            "  -h, --help           this text\n");
}

typedef struct column {
    const char *key, *header;
    int width_max; /* display columns; longer cells end in "..." */
} column;

static const column cols_contacts[] = {
    {"id", "ID", 6},          {"email", "EMAIL", 36},      {"name", "NAME", 24},
    {"company", "COMPANY", 24}, {"title", "TITLE", 20},    {"phone", "PHONE", 18},
    {"do_not_call", "DNC", 3}, {"do_not_email", "DNE", 3}, {"updated_at", "UPDATED", 20},
    {0}};
static const column cols_activities[] = {
    {"id", "ID", 6},           {"call_id", "CALL", 24},        {"contact", "CONTACT", 30},
    {"call_date", "DATE", 10}, {"duration_s", "DURATION", 8}, {"direction", "DIR", 8},
    {"sentiment", "SENTIMENT", 9}, {"outcome", "OUTCOME", 50}, {0}};
static const column cols_tasks[] = {
    {"id", "ID", 6},      {"contact", "CONTACT", 30}, {"kind", "KIND", 7},  {"owner", "OWNER", 8},
    {"due_date", "DUE", 10}, {"due_time", "TIME", 5}, {"status", "STATUS", 6}, {"text", "TEXT", 60},
    {0}};
static const column cols_emails[] = {
    {"id", "ID", 6},           {"to", "TO", 30},           {"send_at", "SEND AT", 20},
    {"status", "STATUS", 9},   {"subject", "SUBJECT", 50}, {"message_id", "MESSAGE-ID", 60},
    {0}};
static const column cols_notes[] = {
    {"id", "ID", 6}, {"call_id", "CALL", 24}, {"contact", "CONTACT", 30}, {"key", "KEY", 20},
    {"body", "BODY", 70}, {0}};

static const column *const columns[SDRA_CRM_N_KINDS] = {cols_contacts, cols_activities, cols_tasks,
                                                        cols_emails, cols_notes};

/* Display width of UTF-8 text: one column per code point (good enough for names and notes). */
static int utf8_width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

/* Formats a cell into out: one line, cut at max display columns. */
static void format_cell(char *out, size_t n, const json_t *v, const char *key, int max)
{
    char tmp[CELL_MAX];
    if (!v || json_is_null(v))
        snprintf(tmp, sizeof tmp, "-");
    else if (json_is_boolean(v))
        snprintf(tmp, sizeof tmp, "%s", json_is_true(v) ? "yes" : "no");
    else if (json_is_integer(v))
        snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v) && !strcmp(key, "duration_s")) {
        long s = (long)(json_real_value(v) + 0.5);
        snprintf(tmp, sizeof tmp, "%ld:%02ld", s / 60, s % 60);
    } else if (json_is_real(v))
        snprintf(tmp, sizeof tmp, "%.2f", json_real_value(v));
    else if (json_is_string(v))
        snprintf(tmp, sizeof tmp, "%s", json_string_value(v));
    else
        snprintf(tmp, sizeof tmp, "...");
    /* One line, no control characters; back off to a UTF-8 boundary if snprintf cut one. */
    size_t len = strlen(tmp);
    while (len > 0 && ((unsigned char)tmp[len - 1] & 0xC0) == 0x80) {
        size_t start = len - 1;
        while (start > 0 && ((unsigned char)tmp[start] & 0xC0) == 0x80)
            start--;
        unsigned char lead = (unsigned char)tmp[start];
        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        if (len - start >= need)
            break;
        len = start;
    }
    tmp[len] = '\0';
    for (char *p = tmp; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    size_t i = 0, o = 0;
    int w = 0, total = utf8_width(tmp);
    int keep = total > max ? max - 3 : max;
    while (tmp[i] && o + 5 < n) {
        if (((unsigned char)tmp[i] & 0xC0) != 0x80) {
            if (w == keep)
                break;
            w++;
        }
        out[o++] = tmp[i++];
    }
    if (total > max && o + 4 < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static int print_table(const json_t *rows, sdra_crm_kind kind)
{
    const column *c = columns[kind];
    int nc = 0;
    while (c[nc].key)
        nc++;
    size_t nr = json_array_size(rows);
    if (nr == 0) {
        printf("(no %s)\n", sdra_crm_kind_name(kind));
        return 0;
    }
    int width[16] = {0};
    char cell[CELL_MAX];
    for (int j = 0; j < nc; j++)
        width[j] = utf8_width(c[j].header);
    for (size_t i = 0; i < nr; i++)
        for (int j = 0; j < nc; j++) {
            format_cell(cell, sizeof cell, json_object_get(json_array_get(rows, i), c[j].key), c[j].key,
                        c[j].width_max);
            int w = utf8_width(cell);
            if (w > width[j])
                width[j] = w;
        }
    for (int j = 0; j < nc; j++)
        printf("%s%-*s", j ? "  " : "", j == nc - 1 ? 0 : width[j], c[j].header);
    putchar('\n');
    for (size_t i = 0; i < nr; i++) {
        for (int j = 0; j < nc; j++) {
            format_cell(cell, sizeof cell, json_object_get(json_array_get(rows, i), c[j].key), c[j].key,
                        c[j].width_max);
            int pad = j == nc - 1 ? 0 : width[j] - utf8_width(cell);
            printf("%s%s%*s", j ? "  " : "", cell, pad, "");
        }
        putchar('\n');
    }
    return 0;
}

/* `sdra crm sync DIR`: the pipeline's sync stage on one package directory. */
static int crm_sync(int n, char **args, const char *data, const char *backend, const char *org)
{
    if (n != 1)
        return cli_usage_error("crm", "sync needs exactly one package directory");
    sdra_pipeline_options opts = {.crm_backend = backend};
    sdra_stage_ctx ctx = {.workdir = args[0], .data_dir = data, .options = &opts, .org = org};
    sdra_error err = {0};
    if (sdra_sync_stage(&ctx, &err) < 0)
        return cli_fail(&err);
    printf("%s/crm.json\n", args[0]);
    return SDRA_EXIT_OK;
}

/* `sdra crm forget`: erasure of one call's records or of a contact. */
static int crm_forget(const char *call_id, const char *contact, const char *data, const char *backend,
                      const char *org)
{
    if (!call_id == !contact)
        return cli_usage_error("crm", "forget needs exactly one of --call ID or --contact EMAIL");
    sdra_error err = {0};
    sdra_crm *crm = NULL;
    int n = 0, ret = SDRA_EXIT_OK;
    if (sdra_crm_open(&crm, backend, data, &err) < 0 || sdra_crm_set_org(crm, org, &err) < 0 ||
        (call_id ? sdra_crm_forget_call(crm, call_id, &n, &err) : sdra_crm_forget_contact(crm, contact, &n, &err)) < 0)
        ret = cli_fail(&err);
    else
        printf("removed %d record%s of %s %s\n", n, n == 1 ? "" : "s", call_id ? "call" : "contact",
               call_id ? call_id : contact);
    sdra_crm_close(crm);
    return ret;
}

/* Encryption at rest: a server's data directory (DIR/sdra.db) holds its CRM fields under the
 * keys of its store; a CRM written by `sdra run --encrypt` holds them under keys derived from the
 * master key. Either way the fields read back in the clear when the master key is at hand; with
 * no key anywhere the CRM is read as it is (a sealed field lists as null). */
typedef struct crm_unseal {
    sdra_store *store;
    sdra_server_unseal *server;
    sdra_crypt_key *master;
    sdra_crypt_sealer sealer;
    const sdra_seal_ops *prev;
    bool installed;
} crm_unseal;

static int crm_unseal_begin(crm_unseal *u, const char *data, const char *mk_file, const char *mk_cmd,
                            sdra_error *err)
{
    memset(u, 0, sizeof *u);
    char dir[1024], path[1100];
    if (sdra_crm_default_data_dir(dir, sizeof dir, data) < 0)
        return 0;
    snprintf(path, sizeof path, "%s/sdra.db", dir);
    bool keyed = (mk_file && *mk_file) || (mk_cmd && *mk_cmd) || (getenv("SDRA_MASTER_KEY") && *getenv("SDRA_MASTER_KEY"));
    if (access(path, F_OK) == 0) {
        int rc = sdra_server_store_open(&u->store, dir, err);
        if (rc < 0 || (rc = sdra_server_unseal_begin(&u->server, u->store, dir, mk_file, mk_cmd, err)) < 0)
            return rc;
        return 0;
    }
    snprintf(path, sizeof path, "%s/master.key", dir);
    if (!keyed && access(path, F_OK) != 0)
        return 0;
    int rc = cli_master_load(&u->master, mk_file, mk_cmd, "SDRA_MASTER_KEY", dir, err);
    if (rc < 0)
        return rc;
    sdra_crypt_sealer_init(&u->sealer, u->master);
    u->prev = sdra_seal_set(&u->sealer.ops);
    u->installed = true;
    return 0;
}

static void crm_unseal_end(crm_unseal *u)
{
    if (u->installed)
        sdra_seal_set(u->prev);
    sdra_crypt_key_destroy(u->master);
    sdra_server_unseal_end(u->server);
    sdra_store_close(u->store);
    memset(u, 0, sizeof *u);
}

int cmd_crm(int argc, char **argv)
{
    static const struct option opts[] = {
        {"contact", required_argument, NULL, 'c'}, {"data", required_argument, NULL, 'd'},
        {"format", required_argument, NULL, 'f'},  {"backend", required_argument, NULL, 'b'},
        {"call", required_argument, NULL, 'i'},    {"help", no_argument, NULL, 'h'},
        {"org", required_argument, NULL, 'o'},     {"master-key-file", required_argument, NULL, 'k'},
        {"master-key-cmd", required_argument, NULL, 'm'}, {0}};
    const char *contact = NULL, *data = NULL, *format = "table", *backend = NULL, *call_id = NULL;
    const char *org = "default", *mk_file = NULL, *mk_cmd = NULL;
    int o;
    opterr = 0;
    optind = 1; /* GNU getopt permutes: options may come before or after the record kind */
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': contact = optarg; break;
        case 'd': data = optarg; break;
        case 'f': format = optarg; break;
        case 'b': backend = optarg; break;
        case 'i': call_id = optarg; break;
        case 'o': org = optarg; break;
        case 'k': mk_file = optarg; break;
        case 'm': mk_cmd = optarg; break;
        case 'h': usage(stdout); return SDRA_EXIT_OK;
        default:
            if (optopt == 'c' || optopt == 'd' || optopt == 'f' || optopt == 'b' || optopt == 'i' || optopt == 'o' ||
                optopt == 'k' || optopt == 'm')
                return cli_usage_error("crm", "option '%s' needs a value", argv[optind - 1]);
            return cli_usage_error("crm", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error("crm", "what to list? contacts, activities, tasks, emails or notes");
    const char *what = argv[optind];
    if (!sdra_store_org_valid(org))
        return cli_usage_error("crm", "--org '%.80s': use 1-63 of [a-z0-9-], not starting with '-'", org);
    if (!strcmp(what, "sync"))
        return crm_sync(argc - optind - 1, argv + optind + 1, data, backend, org);
    if (!strcmp(what, "forget")) {
        if (optind + 1 < argc)
            return cli_usage_error("crm", "unexpected argument '%s'", argv[optind + 1]);
        return crm_forget(call_id, contact, data, backend, org);
    }
    if (call_id)
        return cli_usage_error("crm", "--call is only for 'sdra crm forget'");
    int kind = sdra_crm_kind_parse(what);
    if (kind < 0)
        return cli_usage_error("crm", "unknown record kind '%s' (contacts, activities, tasks, emails, notes)", what);
    if (optind + 1 < argc)
        return cli_usage_error("crm", "unexpected argument '%s'", argv[optind + 1]);
    bool json = false;
    if (!strcmp(format, "json"))
        json = true;
    else if (strcmp(format, "table") != 0)
        return cli_usage_error("crm", "--format must be table or json, not '%s'", format);
    if (contact && (!*contact || !strchr(contact, '@') || strlen(contact) > 319))
        return cli_usage_error("crm", "--contact needs an email address, not '%s'", contact);

    sdra_error err = {0};
    sdra_crm *crm = NULL;
    json_t *rows = NULL;
    int ret = SDRA_EXIT_OK;
    crm_unseal un;
    if (crm_unseal_begin(&un, data, mk_file, mk_cmd, &err) < 0) {
        ret = cli_fail(&err);
        goto done;
    }
    if (sdra_crm_open_ex(&crm, backend, data, SDRA_CRM_READONLY, &err) < 0 || sdra_crm_set_org(crm, org, &err) < 0 ||
        sdra_crm_list(crm, (sdra_crm_kind)kind, contact, &rows, &err) < 0) {
        ret = cli_fail(&err);
        goto done;
    }
    if (json) {
        char *s = json_dumps(rows, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        if (!s) {
            sdra_error_set(&err, SDRA_ENOMEM, "out of memory");
            ret = cli_fail(&err);
            goto done;
        }
        puts(s);
        free(s);
    } else {
        print_table(rows, (sdra_crm_kind)kind);
    }
    if (fflush(stdout) != 0) {
        sdra_error_set(&err, SDRA_EIO, "cannot write to standard output");
        ret = cli_fail(&err);
    }
done:
    json_decref(rows);
    sdra_crm_close(crm);
    crm_unseal_end(&un);
    return ret;
}
