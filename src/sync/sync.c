/*
 * sync.c - sdra_crm_sync: turns one call's documents (call metadata, transcript, analysis,
 * email) into CRM writes through whatever connector is open, and describes what it wrote in the
 * sdra.crm/1 document (docs/schemas/crm.md).
 *
 * Responsibilities: reading the analysis defensively (any field may be missing or of the wrong
 * type: it is then treated as absent), the compliance rules (opt-outs set sticky flags; with
 * do-not-email, or an email that needs review (email.json needs_review), no email is scheduled
 * and a scheduled one is canceled; with do-not-call no
 * meeting task), idempotent keys (task keys from kind + text, the email's own Message-ID or one
 * derived from the call id), pruning tasks a changed analysis no longer contains, and doing all
 * of it in one transaction: on any failure nothing is written.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdra/buf.h"
#include "sdra/log.h"

#define MAX_ACTION_ITEMS 200   /* more than this in one call is not a real analysis */
#define MAX_OBJECTIONS 100
#define MAX_NOTE_BYTES SDRA_CRM_TEXT_MAX
#define ANALYSIS_SCHEMA "sdra.analysis/1"

/* A non-empty string member, else NULL. */
static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && *s ? s : NULL;
}

static double jnum(const json_t *o, const char *key, double def)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : def;
}

/* Copies the address out of "Name <a@b>" or "a@b" into out; 0 when it is not an address. */
static int extract_addr(char *out, size_t n, const char *s)
{
    if (!s)
        return 0;
    const char *lt = strchr(s, '<'), *b = s, *e;
    if (lt) {
        b = lt + 1;
        e = strchr(b, '>');
        if (!e)
            return 0;
    } else {
        while (*b == ' ' || *b == '\t')
            b++;
        e = b + strlen(b);
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
    }
    size_t len = (size_t)(e - b);
    if (len == 0 || len >= n || !memchr(b, '@', len) || memchr(b, ' ', len))
        return 0;
    for (size_t i = 0; i < len; i++) /* addresses are compared case-insensitively */
        out[i] = (b[i] >= 'A' && b[i] <= 'Z') ? (char)(b[i] + 32) : b[i];
    out[len] = '\0';
    return 1;
}

/* The recipient of the email document: "to" as a string, an array of strings, or objects with
 * "email"/"address". */
static int email_recipient(char *out, size_t n, const json_t *email)
{
    json_t *to = json_object_get(email, "to");
    if (json_is_array(to))
        to = json_array_get(to, 0);
    if (json_is_object(to)) {
        const char *a = jstr(to, "email");
        return extract_addr(out, n, a ? a : jstr(to, "address"));
    }
    return extract_addr(out, n, json_string_value(to));
}

static void fmt_mmss(char *out, size_t n, double t)
{
    if (t < 0)
        t = 0;
    long s = (long)(t + 0.5);
    snprintf(out, n, "%02ld:%02ld", s / 60, s % 60);
}

static int oom(sdra_error *err)
{
    return sdra_error_set(err, SDRA_ENOMEM, "CRM sync: out of memory");
}

/* {"type","text","start"[,"learned"]} of each objection, compact JSON text (caller frees), or NULL. */
static char *objections_json(const json_t *analysis)
{
    json_t *objs = json_object_get(analysis, "objections");
    if (!json_is_array(objs) || json_array_size(objs) == 0)
        return NULL;
    json_t *arr = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(objs, i, o)
    {
        if (i >= MAX_OBJECTIONS || !json_is_object(o))
            continue;
        json_t *x = json_object();
        json_object_set_new(x, "type", json_string(jstr(o, "type") ? jstr(o, "type") : "unknown"));
        if (jstr(o, "text"))
            json_object_set_new(x, "text", json_string(jstr(o, "text")));
        if (json_is_number(json_object_get(o, "start")))
            json_object_set_new(x, "start", json_real(jnum(o, "start", 0)));
        if (json_is_true(json_object_get(o, "learned"))) /* the classifier's: a rep should check it */
            json_object_set_new(x, "learned", json_true());
        json_array_append_new(arr, x);
    }
    char *s = json_dumps(arr, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(arr);
    return s;
}

static json_t *skipped_entry(const char *what, const char *reason)
{
    return json_pack("{s:s, s:s}", "what", what, "reason", reason);
}

int sdra_crm_sync(sdra_crm *crm, const sdra_call_info *call, const json_t *transcript,
                  const json_t *analysis, const json_t *email, json_t **report, sdra_error *err)
{
    int rc = 0;
    bool in_tx = false;
    json_t *doc = NULL, *tasks_out = NULL, *emails_out = NULL, *skipped = NULL, *notes_out = NULL;
    char *objections = NULL, **keys = NULL;
    int n_keys = 0;
    sdra_buf note;
    sdra_buf_init(&note, MAX_NOTE_BYTES);
    *report = NULL;

    if (!call || !call->id || !*call->id)
        return sdra_error_set(err, SDRA_EINVAL, "CRM sync: the call has no id");
    if (!json_is_object(analysis))
        return sdra_error_set(err, SDRA_EINVAL, "CRM sync: call %s: analysis is not a JSON object", call->id);
    const char *schema = jstr(analysis, "schema");
    if (schema && strcmp(schema, ANALYSIS_SCHEMA) != 0)
        return sdra_error_set(err, SDRA_EINVAL, "CRM sync: call %s: analysis has schema '%.60s', expected %s",
                              call->id, schema, ANALYSIS_SCHEMA);
    if (email && !json_is_object(email))
        return sdra_error_set(err, SDRA_EINVAL, "CRM sync: call %s: email is not a JSON object", call->id);

    /* Who: the call's contact, else the email's recipient. */
    char addr[320] = "";
    if (call->contact_email)
        extract_addr(addr, sizeof addr, call->contact_email);
    if (!addr[0] && email)
        email_recipient(addr, sizeof addr, email);
    json_t *prefs = json_object_get(analysis, "contact_preferences");
    bool want_dnc = json_is_true(json_object_get(prefs, "do_not_call"));
    bool want_dne = json_is_true(json_object_get(prefs, "do_not_email"));
    bool dnc = want_dnc, dne = want_dne;

    doc = json_object();
    tasks_out = json_array();
    emails_out = json_array();
    skipped = json_array();
    notes_out = json_array();
    if (!doc || !tasks_out || !emails_out || !skipped || !notes_out) {
        rc = oom(err);
        goto done;
    }
    json_object_set_new(doc, "schema", json_string(SDRA_CRM_SCHEMA));
    json_object_set_new(doc, "backend", json_string(sdra_crm_backend_name(crm)));
    json_object_set_new(doc, "location", json_string(sdra_crm_location(crm)));
    json_object_set_new(doc, "call_id", json_string(call->id));

    if ((rc = sdra_crm_begin(crm, err)) < 0)
        goto done;
    in_tx = true;

    /* Contact. */
    sdra_crm_result contact = {0};
    bool have_contact = false;
    const char *contact_name = call->contact_name ? call->contact_name : jstr(analysis, "prospect_name");
    if (addr[0]) {
        sdra_crm_contact c = {.email = addr,
                              .name = contact_name,
                              .company = call->company,
                              .do_not_call = want_dnc,
                              .do_not_email = want_dne};
        if ((rc = sdra_crm_upsert_contact(crm, &c, &contact, err)) < 0)
            goto done;
        have_contact = true;
        dnc = contact.do_not_call; /* sticky: an earlier call's opt-out still holds */
        dne = contact.do_not_email;
        json_object_set_new(doc, "contact",
                            json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:b, s:b}", "id", contact.id, "email", addr,
                                      "name", contact_name, "company", call->company, "status",
                                      contact.created ? "created" : "updated", "do_not_call", dnc,
                                      "do_not_email", dne));
    } else {
        sdra_log(SDRA_LOG_WARN, "call %s: no contact email; activity logged without a contact", call->id);
        json_object_set_new(doc, "contact", json_null());
        json_array_append_new(skipped, skipped_entry("contact", "no contact email address"));
    }
    const char *contact_id = have_contact ? contact.id : NULL;

    /* Activity: the call itself. */
    objections = objections_json(analysis);
    json_t *sent = json_object_get(analysis, "sentiment");
    json_t *overall = json_object_get(sent, "overall");
    double duration = jnum(transcript, "duration", 0); /* sdra.transcript/1 */
    if (duration <= 0)
        duration = jnum(transcript, "duration_s", 0);
    if (duration <= 0)
        duration = jnum(json_object_get(analysis, "metrics"), "duration_s", 0);
    sdra_crm_activity act = {
        .call_id = call->id,
        .contact_id = contact_id,
        .call_date = call->call_date ? call->call_date : jstr(analysis, "call_date"),
        .duration_s = duration,
        .direction = call->direction ? call->direction : "outbound",
        .summary = jstr(analysis, "summary"),
        .outcome = jstr(analysis, "outcome"),
        .sentiment = json_is_number(overall) ? json_number_value(overall) : 0,
        .has_sentiment = json_is_number(overall),
        .objections = objections,
        .recording = call->audio,
        .rep_email = call->rep_email,
    };
    sdra_crm_result activity = {0};
    if ((rc = sdra_crm_log_activity(crm, &act, &activity, err)) < 0)
        goto done;
    json_object_set_new(doc, "activity",
                        json_pack("{s:s, s:s, s:s}", "id", activity.id, "type", "call", "status",
                                  activity.created ? "created" : "updated"));

    /* Tasks: one per action item, one for the agreed meeting unless the contact opted out of
     * calls. Keys are collected so that tasks the analysis no longer has are pruned. The items
     * are compose's task list when there is one (email.json "tasks": "send it to my work email"
     * resolved and in the rep's words, the rep's commitments the analysis missed), else the
     * analysis' action items as they were said. */
    json_t *items = json_object_get(email, "tasks");
    if (!json_is_array(items))
        items = json_object_get(analysis, "action_items");
    size_t n_items = json_is_array(items) ? json_array_size(items) : 0;
    if (n_items > MAX_ACTION_ITEMS) {
        sdra_log(SDRA_LOG_WARN, "call %s: %zu action items, only the first %d are synced", call->id,
                 n_items, MAX_ACTION_ITEMS);
        n_items = MAX_ACTION_ITEMS;
    }
    keys = calloc(n_items + 1, sizeof *keys);
    if (!keys) {
        rc = oom(err);
        goto done;
    }
    for (size_t i = 0; i <= n_items; i++) {
        const json_t *it = NULL;
        const char *kind = "action", *text, *owner, *due, *due_time;
        char mtext[512];
        if (i < n_items) {
            it = json_array_get(items, i);
            text = jstr(it, "text");
            if (!json_is_object(it) || !text)
                continue;
            owner = jstr(it, "owner");
            due = jstr(it, "due");
            due_time = jstr(it, "due_time");
        } else {
            json_t *m = json_object_get(analysis, "next_meeting");
            if (!json_is_object(m))
                break;
            if (dnc) {
                json_array_append_new(skipped, skipped_entry("meeting_task", "contact asked not to be called"));
                break;
            }
            kind = "meeting";
            const char *pod = jstr(m, "part_of_day");
            const char *who = contact_name ? contact_name : call->company;
            if (json_is_true(json_object_get(m, "approximate"))) /* "next week works": no day yet */
                snprintf(mtext, sizeof mtext, "Set a day to meet %s (agreed for around this date)",
                         who ? who : "the prospect");
            else
                snprintf(mtext, sizeof mtext, "Meeting with %s%s%s", who ? who : "the prospect",
                         pod && !jstr(m, "time") ? " in the " : "", pod && !jstr(m, "time") ? pod : "");
            text = mtext;
            owner = "rep";
            due = jstr(m, "date");
            due_time = jstr(m, "time");
        }
        char key[17];
        /* The meeting's key does not depend on its wording: a moved meeting updates its task. */
        sdra_crm_task_key(key, kind, i < n_items ? text : "next meeting");
        bool dup = false;
        for (int k = 0; k < n_keys && !dup; k++)
            dup = strcmp(keys[k], key) == 0;
        if (dup)
            continue; /* the same commitment said twice is one task */
        if (!(keys[n_keys] = strdup(key))) {
            rc = oom(err);
            goto done;
        }
        n_keys++;
        sdra_crm_task t = {.call_id = call->id,
                           .key = key,
                           .contact_id = contact_id,
                           .activity_id = activity.id,
                           .kind = kind,
                           .owner = owner,
                           .text = text,
                           .due_date = due,
                           .due_time = due_time,
                           .rep_email = call->rep_email};
        sdra_crm_result tr = {0};
        if ((rc = sdra_crm_upsert_task(crm, &t, &tr, err)) < 0)
            goto done;
        json_array_append_new(tasks_out,
                              json_pack("{s:s, s:s, s:s?, s:s, s:s?, s:s?, s:s}", "id", tr.id, "kind", kind,
                                        "owner", owner, "text", text, "due", due, "due_time", due_time,
                                        "status", tr.created ? "created" : "updated"));
    }
    int n_removed = 0;
    if ((rc = sdra_sync_prune_tasks(crm, call->id, (const char *const *)keys, n_keys, &n_removed, err)) < 0)
        goto done;
    json_object_set_new(doc, "tasks", tasks_out);
    tasks_out = NULL;
    json_object_set_new(doc, "tasks_removed", json_integer(n_removed));

    /* The follow-up email. */
    const char *skip_reason = NULL;
    if (email && jstr(email, "skipped"))
        skip_reason = jstr(email, "skipped");
    else if (dne)
        skip_reason = "contact asked not to be emailed";
    else if (email && !addr[0])
        skip_reason = "no recipient address";
    else if (email && json_is_true(json_object_get(email, "needs_review")))
        skip_reason = "needs review before it is sent (email.json review_reasons)";
    if (skip_reason) {
        int n_canceled = 0;
        if ((rc = sdra_sync_cancel_emails(crm, call->id, &n_canceled, err)) < 0)
            goto done;
        if (email || dne)
            json_array_append_new(skipped, skipped_entry("email", skip_reason));
        json_object_set_new(doc, "emails_canceled", json_integer(n_canceled));
    } else if (email) {
        char mid[512];
        const char *m = jstr(email, "message_id");
        if (m)
            snprintf(mid, sizeof mid, "%s", m);
        else
            snprintf(mid, sizeof mid, "<sdra-%s@local>", call->id);
        sdra_crm_email e = {.message_id = mid,
                            .call_id = call->id,
                            .contact_id = contact_id,
                            .to = addr,
                            .subject = jstr(email, "subject"),
                            .send_at = jstr(email, "send_at"),
                            .status = "scheduled"};
        sdra_crm_result er = {0};
        if ((rc = sdra_crm_schedule_email(crm, &e, &er, err)) < 0)
            goto done;
        json_array_append_new(emails_out,
                              json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s, s:s}", "id", er.id, "message_id", mid,
                                        "to", addr, "subject", e.subject, "send_at", e.send_at, "status",
                                        "scheduled", "result", er.created ? "created" : "updated"));
    }
    json_object_set_new(doc, "emails", emails_out);
    emails_out = NULL;

    /* Notes: the pain points in the prospect's words, and any opt-out said on this call. */
    json_t *pains = json_object_get(analysis, "pain_points");
    if (json_is_array(pains) && json_array_size(pains) > 0) {
        size_t i;
        json_t *p;
        sdra_buf_puts(&note, "Pain points:");
        json_array_foreach(pains, i, p)
        {
            const char *text = jstr(p, "text");
            if (!text)
                continue;
            char at[32];
            fmt_mmss(at, sizeof at, jnum(p, "start", 0));
            /* the classifier's finds (learned: true) say so: a rep should check them */
            bool learned = json_is_true(json_object_get(p, "learned"));
            if (sdra_buf_printf(&note, "\n- %s (at %s%s)", text, at, learned ? "; found by the classifier, check it" : "") < 0)
                break; /* the note is full: what fits is kept */
        }
        sdra_crm_note n = {.call_id = call->id, .key = "pain_points", .contact_id = contact_id, .body = note.data};
        sdra_crm_result nr = {0};
        if ((rc = sdra_crm_add_note(crm, &n, &nr, err)) < 0)
            goto done;
        json_array_append_new(notes_out, json_pack("{s:s, s:s, s:s}", "id", nr.id, "key", "pain_points", "status",
                                                   nr.created ? "created" : "updated"));
    }
    if (want_dnc || want_dne) {
        char body[256];
        snprintf(body, sizeof body, "Compliance: on this call the contact asked not to be %s.",
                 want_dnc && want_dne ? "called or emailed" : want_dnc ? "called" : "emailed");
        sdra_crm_note n = {.call_id = call->id, .key = "contact_preferences", .contact_id = contact_id, .body = body};
        sdra_crm_result nr = {0};
        if ((rc = sdra_crm_add_note(crm, &n, &nr, err)) < 0)
            goto done;
        json_array_append_new(notes_out, json_pack("{s:s, s:s, s:s}", "id", nr.id, "key", "contact_preferences",
                                                   "status", nr.created ? "created" : "updated"));
    }
    json_object_set_new(doc, "notes", notes_out);
    notes_out = NULL;
    json_object_set_new(doc, "skipped", skipped);
    skipped = NULL;

    if ((rc = sdra_crm_commit(crm, err)) < 0)
        goto done;
    in_tx = false;
    *report = doc;
    doc = NULL;
done:
    if (in_tx)
        sdra_crm_rollback(crm);
    if (rc < 0)
        sdra_error_prefix(err, "CRM sync of call %s", call->id);
    for (int k = 0; k < n_keys; k++)
        free(keys[k]);
    free(keys);
    free(objections);
    sdra_buf_release(&note);
    json_decref(doc);
    json_decref(tasks_out);
    json_decref(emails_out);
    json_decref(skipped);
    json_decref(notes_out);
    return rc;
}
