/*
 * main.c - `sdra`: dispatches to the subcommands. Each is a user of the library like any other
 * program; see cli.h for the conventions they share.
 */
#include "cli.h"
#include "git_rev.h" /* generated at build time: cmake/git-rev.cmake */
#include "sdra/env.h"
#include "sdra/log.h"
#include "sdra/util.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    {"run", cmd_run, "whole pipeline on one call: transcript, analysis, email, CRM, report"},
    {"transcribe", cmd_transcribe, "audio -> speaker-separated, time-stamped transcript"},
    {"analyze", cmd_analyze, "transcript -> analysis (sentiment, objections, actions, ...)"},
    {"compose", cmd_compose, "analysis -> follow-up email (MIME) and calendar invite"},
    {"crm", cmd_crm, "look at the local CRM; sync a package into local, HubSpot or Salesforce"},
    {"eval", cmd_eval, "measure quality: WER, DER, analysis precision/recall"},
    {"serve", cmd_serve, "HTTP API server with a durable job store and stage workers"},
    {"worker", cmd_worker, "stage work (transcribe, analyze, ...) on a job store shared with API nodes"},
    {"keys", cmd_keys, "create, list and revoke API keys for the server"},
    {"audit", cmd_audit, "list and verify the audit trail (reads, changes, auth failures)"},
    {"orgs", cmd_orgs, "organisations (tenants) of the server: quotas and usage"},
    {"privacy", cmd_privacy, "export or erase a person's data; retention policies and purge"},
    {"outbox", cmd_outbox, "external effects (CRM, email, webhooks): list, approve, retry, cancel, deliver"},
    {"redact", cmd_redact, "remove personal data from transcripts, analyses and audio"},
    {"encrypt", cmd_encrypt, "a file encrypted as sdra stores data at rest (self-contained)"},
    {"decrypt", cmd_decrypt, "a file sdra encrypted at rest, back to plaintext"},
    {"mail", cmd_mail, "deliver an email: SMTP, IMAP draft, Gmail or Graph (docs/connectors.md)"},
    {"connectors", cmd_connectors, "check the CRM and mail connectors' credentials: one cheap call each"},
    {"blob", cmd_blob, "the object store of audio and artifacts (directory or S3): check, put, get, rm"},
    {"live-send", cmd_live_send, "stream a recording to a live endpoint (Twilio format) and print the events"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: sdra <command> [options]\n\n"
               "sdr-assistant turns a sales call recording into a follow-up package.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'sdra <command> --help' describes each. 'sdra --version' prints the version.\n");
}

int main(int argc, char **argv)
{
    sdra_log_set_handler(sdra_log_stderr_text, NULL, SDRA_LOG_WARN);
    if (argc < 2) {
        usage(stderr);
        return SDRA_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return SDRA_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("sdra %s (git %s)\nshare directory: %s\n", SDRA_VERSION, SDRA_GIT_REV, sdra_share_dir());
        return SDRA_EXIT_OK;
    }
    sdra_error env_err = {0}; /* NAME_FILE secrets (sdra/env.h), before any thread starts */
    if (sdra_env_load_files(&env_err) < 0) {
        fprintf(stderr, "sdra: %s\n", env_err.msg);
        return SDRA_EXIT_USAGE;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "sdra: unknown command '%s' (see 'sdra --help')\n", argv[1]);
    return SDRA_EXIT_USAGE;
}
