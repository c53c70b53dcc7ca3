/*
 * sdra/talking_points.h - the answers to objections, kept as data (data/talking_points/<type>.txt
 * and the user's playbook; format in docs/templates.md, "Talking points"). Part of the compose
 * module (src/compose/talking_points.c); public because two users read them: compose puts the
 * coaching point of each objection in the report (and a playbook point cleared for email in the
 * message), and the live coach (sdra/live.h) shows the same battlecard to the rep during the
 * call.
 *
 *     char *label = NULL, *point = NULL;
 *     if (sdra_tp_battlecard(dir, "price", said, 1, &label, &point, &err) == 0) ...
 *     free(label);
 *     free(point);
 */
#ifndef SDRA_TALKING_POINTS_H
#define SDRA_TALKING_POINTS_H

#include "sdra/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sdra_tp_set sdra_tp_set;

/* Parses a talking-points file. name is used in messages. */
int sdra_tp_parse(sdra_tp_set **out, const char *src, const char *name, sdra_error *err);
/* Loads dir/<type>.txt; SDRA_ENOTFOUND when there is none, SDRA_EINVAL for a type that is not
 * [a-z_]+. */
int sdra_tp_load(sdra_tp_set **out, const char *dir, const char *type, sdra_error *err);
/* The label for the type ("pricing"), or NULL when the file has none. */
const char *sdra_tp_label(const sdra_tp_set *s);
/* The best point for what the prospect said: the entry whose keywords occur most often in
 * said (case-insensitive), the first entry on ties; entries marked "call: yes" are skipped
 * unless allow_call. NULL when no entry is eligible. */
const char *sdra_tp_select(const sdra_tp_set *s, const char *said, int allow_call);
/* The same among the entries that answer type (entries without "type:" answer any; type NULL
 * = any entry) and, when email_only, carry "email: yes" (playbooks: cleared for the prospect).
 * NULL when none is eligible. */
const char *sdra_tp_select_email(const sdra_tp_set *s, const char *type, const char *said,
                                 int allow_call, int email_only);
void sdra_tp_destroy(sdra_tp_set *s);

/*
 * The rep's battlecard for an objection of type: the talking points of dir/<type>.txt
 * (dir/general.txt when the type has no file), their label (the type itself when the file has
 * none) and the point that best answers said (sdra_tp_select with allow_call). On success
 * *label is a new string and *point a new string or NULL (no eligible entry), both free()d by
 * the caller. On failure (no file for the type nor general.txt: SDRA_ENOTFOUND; a bad type or
 * file: SDRA_EINVAL / SDRA_ELIMIT; SDRA_ENOMEM) *label is still the label (the type) and
 * *point NULL, and err says why, so a caller can show the objection without a card.
 */
int sdra_tp_battlecard(const char *dir, const char *type, const char *said, int allow_call, char **label,
                       char **point, sdra_error *err);

#ifdef __cplusplus
}
#endif
#endif
