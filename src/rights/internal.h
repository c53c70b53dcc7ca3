/*
 * internal.h - what the files of the rights module share (subject.c, rights.c, retention.c).
 */
#ifndef SDRA_RIGHTS_INTERNAL_H
#define SDRA_RIGHTS_INTERNAL_H

#include "sdra/rights.h"

#include <time.h>

/* The subject token of email under the deployment key in cx->data_dir. */
int rights_subject(const sdra_rights_ctx *cx, const char *email, char token[SDRA_STORE_TOKEN_HEX + 1],
                   sdra_error *err);
/* The token's pseudonym; create: make one when there is none (else SDRA_ENOTFOUND). */
int rights_pseudonym(const sdra_rights_ctx *cx, const char *token, bool create, char out[SDRA_STORE_ID_MAX],
                     sdra_error *err);
/* Appends an audit entry as cx->actor from cx->ip at cx->now_ms; SDRA_EIO when it fails. */
/* A stored call's metadata document; a sealed one (encryption at rest) is opened with the
 * calling thread's sealing table (sdra/seal.h). NULL when it cannot be read. */
json_t *rights_call_meta(const char *meta_json);
int rights_audit(const sdra_rights_ctx *cx, const char *action, const char *target, const char *detail,
                 sdra_error *err);
/* "2026-12-05T06:00:00Z", or null for 0. */
json_t *rights_time_json(int64_t ms);

#endif
