/*
 * llm.c - the "llm" analysis backend: an OpenAI-compatible chat completions server extracts
 * objections, action items, the next meeting, pain points and a summary; the project checks
 * every item against the transcript and merges what holds into the rules engine's document.
 *
 * Steps: run the rules engine (sentiment, intents, topics, contact preferences, talk metrics
 * and the speakers' roles come from it); cut the transcript into parts of at most
 * llm_max_chars characters of "[i] ROLE: words" lines, i being the global utterance index;
 * for each part POST {base}/chat/completions (temperature 0, the prompts of data/llm/ and
 * response_format json_schema with data/llm/analysis.schema.json); check the reply (HTTP,
 * refusal, finish_reason, JSON, the schema); ground every item (an_llm_ground) and merge the
 * parts. Grounding rules (docs/models.md): the quote must be in the cited utterance (case
 * and punctuation ignored), objections and pain points must be cited from a prospect
 * utterance, an action item's kind (commitment/request) follows from the speaker's role in the
 * transcript, dates come from sdra_date_resolve() on the words the model quotes (which must be
 * in the cited utterance), never from the model. Failures of the server or of its output give
 * the rules engine's findings, with the reason in meta.warnings: the analysis never fails
 * because a model server did. Configuration errors (no URL, broken prompt files) do fail.
 */
#include "internal.h"
#include "sdra/buf.h"
#include "sdra/httpc.h"
#include "sdra/log.h"
#include "sdra/util.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MODEL "gpt-4o-mini"
#define DEFAULT_MAX_CHARS 24000
#define MIN_MAX_CHARS 200
#define DEFAULT_TIMEOUT_MS 120000
#define MAX_PARTS 500
#define MAX_FILE_BYTES (256u << 10)
#define MAX_REPLY_BYTES (2u << 20)   /* HTTP body */
#define MAX_CONTENT_BYTES (512u << 10) /* the model's JSON text */
#define MAX_SUMMARY 2000
#define TEXT_MAX 300
#define MEETING_WINDOW 2 /* "said" may come from utterances this close to the cited one */

/* ---- normalised text ------------------------------------------------------------------------ */

/* Lower-case letters and digits, one space for any run of anything else; apostrophes (ASCII and
 * U+2018/U+2019) vanish so "don't" = "dont". Returns the length written. */
static size_t norm(char *out, size_t n, const char *in)
{
    size_t o = 0;
    bool sp = true;
    const unsigned char *s = (const unsigned char *)in;
    while (*s && o + 1 < n) {
        if (s[0] == 0xE2 && s[1] == 0x80 && (s[2] == 0x98 || s[2] == 0x99)) {
            s += 3;
            continue;
        }
        unsigned char ch = *s++;
        if (isalnum(ch) || ch >= 0x80) {
            out[o++] = (char)tolower(ch);
            sp = false;
        } else if (ch == '\'') {
            continue;
        } else if (!sp) {
            out[o++] = ' ';
            sp = true;
        }
    }
    while (o && out[o - 1] == ' ')
        o--;
    out[o] = 0;
    return o;
}

static char *norm_dup(const char *in)
{
    size_t n = strlen(in) + 1;
    char *o = malloc(n);
    if (o)
        norm(o, n, in);
    return o;
}

/* q (normalised) occurs in t (normalised) on word boundaries */
static bool contains_words(const char *t, const char *q)
{
    size_t ql = strlen(q);
    if (!ql)
        return false;
    for (const char *h = strstr(t, q); h; h = strstr(h + 1, q))
        if ((h == t || h[-1] == ' ') && (h[ql] == 0 || h[ql] == ' '))
            return true;
    return false;
}

bool an_quote_in(const char *quote, const char *text)
{
    if (!quote || !text)
        return false;
    char *q = norm_dup(quote), *t = norm_dup(text);
    bool r = q && t && contains_words(t, q);
    free(q);
    free(t);
    return r;
}

/* Most content words (3+ characters, compared on their first 4) of text occur in utt: the
 * model's paraphrase of an item is kept only when it says what the utterance says. */
static bool words_grounded(const char *text, const char *utt)
{
    char *a = norm_dup(text), *b = norm_dup(utt);
    int n = 0, hit = 0;
    if (a && b) {
        char *save = NULL;
        for (char *w = strtok_r(a, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
            size_t l = strlen(w);
            if (l < 3)
                continue;
            n++;
            char pre[5] = {0};
            memcpy(pre, w, l < 4 ? l : 4);
            for (const char *p = strstr(b, pre); p; p = strstr(p + 1, pre))
                if (p == b || p[-1] == ' ') {
                    hit++;
                    break;
                }
        }
    }
    free(a);
    free(b);
    return n > 0 && hit * 3 >= n * 2;
}

/* ---- grounding ------------------------------------------------------------------------------ */

static json_t *capped(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    return json_stringn(s, n);
}

static void evidence(json_t *o, const sdra_transcript *t, const sdra_role *roles, size_t u)
{
    const sdra_utterance *ut = &t->utts[u];
    json_object_set_new(o, "speaker", json_string(t->speakers[ut->speaker].id));
    json_object_set_new(o, "role", json_string(sdra_role_name(roles[ut->speaker])));
    json_object_set_new(o, "start", json_real(round(ut->start * 1000.0) / 1000.0));
    json_object_set_new(o, "end", json_real(round(ut->end * 1000.0) / 1000.0));
    json_object_set_new(o, "i", json_integer((json_int_t)u));
}

/* The cited utterance, or -1 (counted) when the index or the quote does not hold. */
static long cited(const json_t *item, const sdra_transcript *t, an_llm_stats *st)
{
    json_int_t u = json_integer_value(json_object_get(item, "utterance"));
    if (u < 0 || (size_t)u >= t->n_utts) {
        st->dropped_bad_utterance++;
        return -1;
    }
    if (!an_quote_in(json_string_value(json_object_get(item, "quote")), t->utts[u].text ? t->utts[u].text : "")) {
        st->dropped_ungrounded++;
        return -1;
    }
    return (long)u;
}

static bool dup_in(json_t *arr, long u, const char *key, const char *val)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        if (json_integer_value(json_object_get(o, "i")) != u)
            continue;
        const char *v = json_string_value(json_object_get(o, key));
        if (!key || (v && val && an_quote_in(v, val) && an_quote_in(val, v)))
            return true;
    }
    return false;
}

/* Summary sentences naming a number the transcript never says are dropped. */
static json_t *checked_summary(const char *s, const sdra_transcript *t, an_llm_stats *st)
{
    sdra_buf all, out;
    sdra_buf_init(&all, 64u << 20);
    sdra_buf_init(&out, MAX_SUMMARY + 8);
    for (size_t u = 0; u < t->n_utts; u++)
        if (sdra_buf_puts(&all, t->utts[u].text ? t->utts[u].text : "") < 0 || sdra_buf_putc(&all, ' ') < 0)
            break;
    char *tn = all.data ? norm_dup(all.data) : NULL;
    const char *p = s;
    while (*p) {
        const char *e = p;
        while (*e && !((*e == '.' || *e == '!' || *e == '?') && (e[1] == ' ' || !e[1])))
            e++;
        if (*e)
            e++;
        char sent[MAX_SUMMARY + 1];
        size_t n = (size_t)(e - p) < sizeof sent - 1 ? (size_t)(e - p) : sizeof sent - 1;
        memcpy(sent, p, n);
        sent[n] = 0;
        bool ok = true;
        for (const char *d = sent; *d && ok;) {
            if (!isdigit((unsigned char)*d)) {
                d++;
                continue;
            }
            char num[32];
            size_t k = 0;
            while (isdigit((unsigned char)*d) && k < sizeof num - 1)
                num[k++] = *d++;
            while (isdigit((unsigned char)*d))
                d++;
            num[k] = 0;
            ok = tn && contains_words(tn, num);
        }
        if (ok) {
            while (n && sent[0] == ' ' && out.len == 0)
                memmove(sent, sent + 1, n--);
            if (sdra_buf_puts(&out, sent) < 0)
                break;
        } else
            st->summary_sentences_dropped++;
        p = e;
    }
    json_t *r = json_string(out.data ? out.data : "");
    free(tn);
    sdra_buf_release(&all);
    sdra_buf_release(&out);
    return r;
}

int an_llm_ground(json_t *acc, an_llm_stats *st, const json_t *reply, const sdra_transcript *t,
                  const sdra_role *roles, const char *call_date)
{
    json_t *objs = json_object_get(acc, "objections"), *acts = json_object_get(acc, "action_items");
    json_t *pains = json_object_get(acc, "pain_points");
    if (!json_is_array(objs) || !json_is_array(acts) || !json_is_array(pains))
        return SDRA_EINVAL;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(reply, "objections"), i, it) {
        st->items++;
        long u = cited(it, t, st);
        if (u < 0)
            continue;
        const char *type = json_string_value(json_object_get(it, "type"));
        if (roles[t->utts[u].speaker] != SDRA_ROLE_PROSPECT) {
            st->dropped_role++;
            continue;
        }
        bool dup = false;
        size_t k;
        json_t *o;
        json_array_foreach(objs, k, o) dup = dup || (json_integer_value(json_object_get(o, "i")) == u &&
                                                     !strcmp(json_string_value(json_object_get(o, "type")), type));
        if (dup) {
            st->dropped_duplicate++;
            continue;
        }
        o = json_object();
        json_object_set_new(o, "type", json_string(type));
        evidence(o, t, roles, (size_t)u);
        json_object_set_new(o, "text", capped(t->utts[u].text, TEXT_MAX));
        json_object_set_new(o, "match", json_incref(json_object_get(it, "quote")));
        json_array_append_new(objs, o);
        st->kept++;
    }
    json_array_foreach(json_object_get(reply, "pain_points"), i, it) {
        st->items++;
        long u = cited(it, t, st);
        if (u < 0)
            continue;
        if (roles[t->utts[u].speaker] != SDRA_ROLE_PROSPECT) {
            st->dropped_role++;
            continue;
        }
        const char *quote = json_string_value(json_object_get(it, "quote"));
        if (dup_in(pains, u, "match", quote)) {
            st->dropped_duplicate++;
            continue;
        }
        const char *text = json_string_value(json_object_get(it, "text"));
        bool own = text && words_grounded(text, t->utts[u].text);
        st->text_from_quote += !own;
        json_t *o = json_object();
        json_object_set_new(o, "text", capped(own ? text : quote, TEXT_MAX));
        json_object_set_new(o, "kind", json_string("problem"));
        evidence(o, t, roles, (size_t)u);
        json_object_set_new(o, "match", json_string(quote));
        json_array_append_new(pains, o);
        st->kept++;
    }
    json_array_foreach(json_object_get(reply, "action_items"), i, it) {
        st->items++;
        long u = cited(it, t, st);
        if (u < 0)
            continue;
        const char *quote = json_string_value(json_object_get(it, "quote"));
        const char *owner = json_string_value(json_object_get(it, "owner"));
        const char *text = json_string_value(json_object_get(it, "text"));
        const char *utext = t->utts[u].text;
        bool own = text && words_grounded(text, utext);
        st->text_from_quote += !own;
        if (dup_in(acts, u, "text", own ? text : quote)) {
            st->dropped_duplicate++;
            continue;
        }
        sdra_role r = roles[t->utts[u].speaker];
        bool commitment = !strcmp(owner, sdra_role_name(r));
        const char *said = json_string_value(json_object_get(it, "due_said"));
        sdra_date_match dm = {0};
        bool has_due = false;
        if (said && *said) {
            if (!an_quote_in(said, utext))
                st->dates_ungrounded++;
            else if (sdra_date_resolve(&dm, said, call_date, NULL) == 1) {
                has_due = true;
                st->dates_resolved++;
            }
        }
        json_t *o = json_object();
        json_object_set_new(o, "owner", json_string(owner));
        json_object_set_new(o, "kind", json_string(commitment ? "commitment" : "request"));
        json_object_set_new(o, "text", capped(own ? text : quote, TEXT_MAX));
        json_object_set_new(o, "due", has_due && dm.date[0] ? json_string(dm.date) : json_null());
        json_object_set_new(o, "due_time", has_due && dm.time[0] ? json_string(dm.time) : json_null());
        if (has_due)
            json_object_set_new(o, "due_said", json_string(said));
        evidence(o, t, roles, (size_t)u);
        json_object_set_new(o, "quote", capped(utext, TEXT_MAX));
        json_object_set_new(o, "match", json_string(quote));
        json_array_append_new(acts, o);
        st->kept++;
    }
    json_t *m = json_object_get(reply, "next_meeting");
    if (json_is_object(m)) {
        st->items++;
        long u = cited(m, t, st);
        const char *said = json_string_value(json_object_get(m, "said"));
        bool said_ok = false;
        for (long q = u - MEETING_WINDOW; u >= 0 && q <= u + MEETING_WINDOW && !said_ok; q++)
            if (q >= 0 && (size_t)q < t->n_utts)
                said_ok = an_quote_in(said, t->utts[q].text);
        if (u >= 0 && !said_ok) {
            st->dropped_ungrounded++;
            st->dates_ungrounded++;
        } else if (u >= 0) {
            sdra_date_match dm = {0}, du = {0};
            if (sdra_date_resolve(&dm, said, call_date, NULL) != 1)
                memset(&dm, 0, sizeof dm);
            if (sdra_date_resolve(&du, t->utts[u].text, call_date, NULL) == 1) {
                /* the cited utterance completes what "said" leaves open */
                if (!dm.date[0]) {
                    memcpy(dm.date, du.date, sizeof dm.date);
                    dm.approx = du.approx;
                }
                if (!dm.time[0] && !dm.part_of_day[0]) {
                    memcpy(dm.time, du.time, sizeof dm.time);
                    memcpy(dm.part_of_day, du.part_of_day, sizeof dm.part_of_day);
                }
            }
            /* a clock time agreed in the next replies ("Three o'clock?") completes it */
            for (long q = u + 1; !dm.time[0] && q <= u + MEETING_WINDOW && (size_t)q < t->n_utts; q++)
                if (sdra_date_resolve(&du, t->utts[q].text, call_date, NULL) == 1 && du.time[0])
                    memcpy(dm.time, du.time, sizeof dm.time);
            st->dates_resolved += dm.date[0] != 0;
            json_t *o = json_object();
            json_object_set_new(o, "date", dm.date[0] ? json_string(dm.date) : json_null());
            json_object_set_new(o, "time", dm.time[0] ? json_string(dm.time) : json_null());
            json_object_set_new(o, "part_of_day", dm.part_of_day[0] ? json_string(dm.part_of_day) : json_null());
            if (dm.date[0] && dm.approx) /* as the rules backend says it (meeting.c) */
                json_object_set_new(o, "approximate", json_true());
            json_object_set_new(o, "attendees", json_array());
            json_t *ev = json_object();
            evidence(ev, t, roles, (size_t)u);
            json_object_set_new(ev, "text", capped(t->utts[u].text, TEXT_MAX));
            json_object_set_new(o, "proposed", ev);
            json_object_set_new(o, "accepted", json_deep_copy(ev));
            json_object_set_new(o, "said", json_string(said));
            json_object_set_new(acc, "next_meeting", o); /* a later part's agreement replaces */
            st->kept++;
        }
    }
    const char *sum = json_string_value(json_object_get(reply, "summary"));
    if (sum && *sum) {
        json_t *s = checked_summary(sum, t, st);
        const char *prev = json_string_value(json_object_get(acc, "summary"));
        char *joined = NULL;
        if (prev && *prev && json_string_length(s)) {
            size_t n = strlen(prev) + json_string_length(s) + 2;
            if ((joined = malloc(n)))
                snprintf(joined, n, "%s %s", prev, json_string_value(s));
        }
        if (joined) {
            json_object_set_new(acc, "summary", capped(joined, MAX_SUMMARY));
            free(joined);
            json_decref(s);
        } else if (json_string_length(s))
            json_object_set_new(acc, "summary", s);
        else
            json_decref(s);
    }
    an_sort_by_i(objs);
    an_sort_by_i(pains);
    an_sort_by_i(acts);
    return 0;
}

/* ---- the request ------------------------------------------------------------------------------ */

typedef struct llm_ctx {
    const sdra_transcript *t;
    const sdra_analyze_params *p;
    sdra_role *roles;
    char *system, *user_tpl;
    json_t *schema, *schema_sent;
    char url[2048];
    const char *model;
    const char *key;
    int requests, parts;
    long prompt_tokens, completion_tokens;
} llm_ctx;

static int load_text(char **out, const char *dir, const char *name, sdra_error *err)
{
    char path[PATH_MAX];
    size_t len;
    if (sdra_path_join(path, sizeof path, dir, name) < 0)
        return sdra_error_set(err, SDRA_EINVAL, "llm prompts: path too long");
    int rc = sdra_file_read(out, &len, path, MAX_FILE_BYTES, err);
    if (rc < 0)
        return sdra_error_set(err, SDRA_EINVAL, "llm prompts: %s", err ? err->msg : path);
    return 0;
}

/* A copy of the schema without maxLength, which some servers' strict mode refuses; the bound
 * is applied by the validator here. */
static json_t *strip_max_length(const json_t *s)
{
    if (json_is_object(s)) {
        json_t *o = json_object();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)s, k, v) {
            if (strcmp(k, "maxLength"))
                json_object_set_new(o, k, strip_max_length(v));
        }
        return o;
    }
    if (json_is_array(s)) {
        json_t *a = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(s, i, v) json_array_append_new(a, strip_max_length(v));
        return a;
    }
    return json_deep_copy(s);
}

static int setup(llm_ctx *c, sdra_error *err)
{
    const sdra_analyze_params *p = c->p;
    char dir[PATH_MAX];
    if (!p->llm_url || !*p->llm_url)
        return sdra_error_set(err, SDRA_EINVAL, "analysis backend llm: no server URL (--llm-url)");
    if (strncmp(p->llm_url, "http://", 7) && strncmp(p->llm_url, "https://", 8))
        return sdra_error_set(err, SDRA_EINVAL, "--llm-url: expected an http:// or https:// URL");
    size_t ul = strlen(p->llm_url);
    while (ul > 0 && p->llm_url[ul - 1] == '/')
        ul--;
    const char *tail = "/chat/completions";
    bool full = ul >= strlen(tail) && !strncmp(p->llm_url + ul - strlen(tail), tail, strlen(tail));
    if ((size_t)snprintf(c->url, sizeof c->url, "%.*s%s", (int)ul, p->llm_url, full ? "" : tail) >= sizeof c->url)
        return sdra_error_set(err, SDRA_EINVAL, "--llm-url: too long");
    if (p->llm_dir)
        sdra_strlcpy(dir, p->llm_dir, sizeof dir);
    else if (sdra_share_path(dir, sizeof dir, "llm") < 0)
        return sdra_error_set(err, SDRA_EINVAL, "share directory path too long");
    int rc;
    char *schema_text = NULL;
    if ((rc = load_text(&c->system, dir, "system.txt", err)) < 0 ||
        (rc = load_text(&c->user_tpl, dir, "user.txt", err)) < 0 ||
        (rc = load_text(&schema_text, dir, "analysis.schema.json", err)) < 0)
        return rc;
    json_error_t je;
    c->schema = json_loads(schema_text, JSON_REJECT_DUPLICATES, &je);
    free(schema_text);
    if (!c->schema)
        return sdra_error_set(err, SDRA_EINVAL, "llm prompts: %s/analysis.schema.json:%d: %s", dir, je.line, je.text);
    if ((rc = an_jschema_check(c->schema, err)) < 0)
        return sdra_error_prefix(err, "%s/analysis.schema.json", dir);
    c->schema_sent = strip_max_length(c->schema);
    c->model = p->llm_model && *p->llm_model ? p->llm_model : DEFAULT_MODEL;
    c->key = p->llm_api_key ? p->llm_api_key : getenv("SDRA_LLM_API_KEY");
    if (c->key && !*c->key)
        c->key = NULL;
    return 0;
}

/* Fills the user template: {{call_date}}, {{part}}, {{first}}, {{last}}, {{transcript}}. */
static char *fill_user(const llm_ctx *c, const char *lines, size_t first, size_t last, int part, int n_parts)
{
    sdra_buf b;
    sdra_buf_init(&b, 64u << 20);
    for (const char *s = c->user_tpl; *s;) {
        const char *o = strstr(s, "{{");
        const char *e = o ? strstr(o, "}}") : NULL;
        if (!o || !e) {
            sdra_buf_puts(&b, s);
            break;
        }
        sdra_buf_append(&b, s, (size_t)(o - s));
        size_t kl = (size_t)(e - o - 2);
        const char *k = o + 2;
        if (kl == 9 && !strncmp(k, "call_date", kl))
            sdra_buf_puts(&b, c->p->call_date);
        else if (kl == 4 && !strncmp(k, "part", kl))
            sdra_buf_printf(&b, "part %d of %d", part, n_parts);
        else if (kl == 5 && !strncmp(k, "first", kl))
            sdra_buf_printf(&b, "%zu", first);
        else if (kl == 4 && !strncmp(k, "last", kl))
            sdra_buf_printf(&b, "%zu", last);
        else if (kl == 10 && !strncmp(k, "transcript", kl))
            sdra_buf_puts(&b, lines);
        else
            sdra_buf_append(&b, o, (size_t)(e + 2 - o));
        s = e + 2;
    }
    return sdra_buf_detach(&b);
}

/* One part: the request, the reply's checks, the model's JSON (valid against the schema). */
static int ask(llm_ctx *c, json_t **reply, const char *user, sdra_error *err)
{
    json_t *req = json_object(), *msgs = json_array(), *m;
    char *body = NULL;
    sdra_httpc_response r = {0};
    json_t *doc = NULL, *out = NULL;
    int rc;
    m = json_object();
    json_object_set_new(m, "role", json_string("system"));
    json_object_set_new(m, "content", json_string(c->system));
    json_array_append_new(msgs, m);
    m = json_object();
    json_object_set_new(m, "role", json_string("user"));
    json_object_set_new(m, "content", json_string(user));
    json_array_append_new(msgs, m);
    json_object_set_new(req, "model", json_string(c->model));
    json_object_set_new(req, "messages", msgs);
    json_object_set_new(req, "temperature", json_integer(0));
    json_object_set_new(req, "stream", json_false());
    json_t *rf = json_object(), *js = json_object();
    json_object_set_new(js, "name", json_string("sdra_call_analysis"));
    json_object_set_new(js, "strict", json_true());
    json_object_set_new(js, "schema", json_incref(c->schema_sent));
    json_object_set_new(rf, "type", json_string("json_schema"));
    json_object_set_new(rf, "json_schema", js);
    json_object_set_new(req, "response_format", rf);
    if (!(body = json_dumps(req, JSON_COMPACT))) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }
    sdra_httpc_request q = sdra_httpc_default_request();
    q.url = c->url;
    q.bearer = c->key;
    q.content_type = "application/json";
    q.body = body;
    q.body_len = strlen(body);
    q.timeout_ms = c->p->llm_timeout_ms > 0 ? c->p->llm_timeout_ms : DEFAULT_TIMEOUT_MS;
    q.max_response_bytes = MAX_REPLY_BYTES;
    if (c->p->llm_max_attempts > 0)
        q.max_attempts = c->p->llm_max_attempts;
    q.headers[0] = "Accept: application/json";
    c->requests++;
    if ((rc = sdra_httpc_do(&r, &q, err)) < 0)
        goto done;
    json_error_t je;
    if (!(doc = json_loadb(r.body, r.body_len, JSON_REJECT_DUPLICATES, &je))) {
        rc = sdra_error_set(err, SDRA_EUPSTREAM, "the server's reply is not JSON (%s)", je.text);
        goto done;
    }
    json_t *usage = json_object_get(doc, "usage");
    c->prompt_tokens += (long)json_integer_value(json_object_get(usage, "prompt_tokens"));
    c->completion_tokens += (long)json_integer_value(json_object_get(usage, "completion_tokens"));
    json_t *ch = json_array_get(json_object_get(doc, "choices"), 0);
    json_t *msg = json_object_get(ch, "message");
    const char *finish = json_string_value(json_object_get(ch, "finish_reason"));
    const char *refusal = json_string_value(json_object_get(msg, "refusal"));
    const char *content = json_string_value(json_object_get(msg, "content"));
    if (!json_is_object(msg)) {
        rc = sdra_error_set(err, SDRA_EUPSTREAM, "the server's reply has no choices[0].message");
        goto done;
    }
    if (refusal && *refusal) {
        rc = sdra_error_set(err, SDRA_EUPSTREAM, "the model refused: %.160s", refusal);
        goto done;
    }
    if (finish && !strcmp(finish, "content_filter")) {
        rc = sdra_error_set(err, SDRA_EUPSTREAM, "the reply was withheld by a content filter (finish_reason content_filter)");
        goto done;
    }
    if (!content) {
        rc = sdra_error_set(err, SDRA_EUPSTREAM, "the reply has no message content");
        goto done;
    }
    size_t cl = json_string_length(json_object_get(msg, "content"));
    if (cl > MAX_CONTENT_BYTES) {
        rc = sdra_error_set(err, SDRA_ELIMIT, "the model's answer is %zu bytes, more than %u", cl, MAX_CONTENT_BYTES);
        goto done;
    }
    /* tolerate a ```json fence around the object */
    const char *b0 = content, *e0 = content + cl;
    while (b0 < e0 && isspace((unsigned char)*b0))
        b0++;
    if (!strncmp(b0, "```", 3)) {
        const char *nl = memchr(b0, '\n', (size_t)(e0 - b0));
        b0 = nl ? nl + 1 : e0;
        while (e0 > b0 && isspace((unsigned char)e0[-1]))
            e0--;
        if (e0 - b0 >= 3 && !strncmp(e0 - 3, "```", 3))
            e0 -= 3;
    }
    if (!(out = json_loadb(b0, (size_t)(e0 - b0), JSON_REJECT_DUPLICATES, &je))) {
        rc = sdra_error_set(err, SDRA_EUPSTREAM, "the model's answer is not JSON (%s%s)", je.text,
                            finish && !strcmp(finish, "length") ? "; cut off at the token limit" : "");
        goto done;
    }
    char why[300];
    if (an_jschema_validate(c->schema, out, why, sizeof why) < 0) {
        rc = sdra_error_set(err, SDRA_EUPSTREAM, "the model's answer does not follow analysis.schema.json (%s)", why);
        goto done;
    }
    *reply = out;
    out = NULL;
    rc = 0;
done:
    json_decref(out);
    json_decref(doc);
    json_decref(req);
    free(body);
    sdra_httpc_response_release(&r);
    return rc;
}

/* Runs every part into acc. */
static int run_parts(llm_ctx *c, json_t *acc, an_llm_stats *st, sdra_error *err)
{
    const sdra_transcript *t = c->t;
    size_t budget = c->p->llm_max_chars ? c->p->llm_max_chars : DEFAULT_MAX_CHARS;
    if (budget < MIN_MAX_CHARS)
        budget = MIN_MAX_CHARS;
    /* part boundaries: first utterance of each part */
    size_t *starts = malloc((t->n_utts + 1) * sizeof *starts);
    if (!starts)
        return sdra_error_set(err, SDRA_ENOMEM, "out of memory");
    int n_parts = 0;
    size_t used = 0;
    for (size_t u = 0; u < t->n_utts; u++) {
        size_t l = strlen(t->utts[u].text ? t->utts[u].text : "") + 24;
        if (l > budget)
            l = budget;
        if (n_parts == 0 || used + l > budget) {
            starts[n_parts++] = u;
            used = 0;
        }
        used += l;
    }
    starts[n_parts] = t->n_utts;
    int rc = 0;
    if (n_parts > MAX_PARTS) {
        rc = sdra_error_set(err, SDRA_ELIMIT, "the call needs %d requests at --llm-max-chars %zu, more than %d", n_parts,
                            budget, MAX_PARTS);
        goto done;
    }
    c->parts = n_parts;
    for (int k = 0; k < n_parts && rc == 0; k++) {
        sdra_buf lines;
        sdra_buf_init(&lines, budget + 64);
        for (size_t u = starts[k]; u < starts[k + 1]; u++) {
            const char *txt = t->utts[u].text ? t->utts[u].text : "";
            size_t room = budget > 24 ? budget - 24 : 0, tl = strlen(txt);
            if (tl > room) { /* one utterance longer than the budget: its head only */
                tl = room;
                while (tl > 0 && ((unsigned char)txt[tl] & 0xC0) == 0x80)
                    tl--;
            }
            sdra_buf_printf(&lines, "[%zu] %s: %.*s\n", u,
                            c->roles[t->utts[u].speaker] == SDRA_ROLE_REP ? "REP" : "PROSPECT", (int)tl, txt);
        }
        char *user = fill_user(c, lines.data ? lines.data : "", starts[k], starts[k + 1] - 1, k + 1, n_parts);
        sdra_buf_release(&lines);
        if (!user) {
            rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
            break;
        }
        json_t *reply = NULL;
        rc = ask(c, &reply, user, err);
        free(user);
        if (rc == 0) {
            rc = an_llm_ground(acc, st, reply, t, c->roles, c->p->call_date);
            json_decref(reply);
            if (rc < 0)
                sdra_error_set(err, SDRA_EINTERNAL, "grounding failed");
        } else if (n_parts > 1)
            sdra_error_prefix(err, "part %d of %d", k + 1, n_parts);
    }
done:
    free(starts);
    return rc;
}

static void set_stats(json_t *o, const an_llm_stats *st)
{
    json_object_set_new(o, "items", json_integer(st->items));
    json_object_set_new(o, "kept", json_integer(st->kept));
    json_object_set_new(o, "dropped_ungrounded", json_integer(st->dropped_ungrounded));
    json_object_set_new(o, "dropped_bad_utterance", json_integer(st->dropped_bad_utterance));
    json_object_set_new(o, "dropped_role", json_integer(st->dropped_role));
    json_object_set_new(o, "dropped_duplicate", json_integer(st->dropped_duplicate));
    json_object_set_new(o, "text_from_quote", json_integer(st->text_from_quote));
    json_object_set_new(o, "dates_resolved", json_integer(st->dates_resolved));
    json_object_set_new(o, "dates_ungrounded", json_integer(st->dates_ungrounded));
    json_object_set_new(o, "summary_sentences_dropped", json_integer(st->summary_sentences_dropped));
}

static int llm_analyze(json_t **out, const sdra_transcript *t, const sdra_analyze_params *p, sdra_error *err)
{
    llm_ctx c = {.t = t, .p = p};
    json_t *doc = NULL, *acc = NULL;
    an_llm_stats st = {0};
    int rc = setup(&c, err);
    if (rc < 0)
        goto done;
    if ((rc = an_rules_backend.analyze(&doc, t, p, err)) < 0)
        goto done;
    if (!(c.roles = calloc(t->n_speakers ? t->n_speakers : 1, sizeof *c.roles))) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t s = 0; s < t->n_speakers; s++) {
        const char *r = json_string_value(json_object_get(json_array_get(json_object_get(doc, "speakers"), s), "role"));
        c.roles[s] = r && !strcmp(r, "rep") ? SDRA_ROLE_REP : SDRA_ROLE_PROSPECT;
    }
    acc = json_object();
    json_object_set_new(acc, "objections", json_array());
    json_object_set_new(acc, "action_items", json_array());
    json_object_set_new(acc, "pain_points", json_array());
    json_object_set_new(acc, "next_meeting", json_null());
    sdra_error why = {0};
    json_t *meta = json_object_get(doc, "meta");
    json_t *lm = json_object();
    char safe_url[2048];
    sdra_httpc_redact_url(c.url, safe_url, sizeof safe_url);
    json_object_set_new(lm, "url", json_string(safe_url));
    json_object_set_new(lm, "model", json_string(c.model));
    if (run_parts(&c, acc, &st, &why) < 0) {
        /* the server or its output failed: the rules engine's findings stand */
        char w[SDRA_ERROR_MSG_MAX + 80];
        snprintf(w, sizeof w, "llm analysis failed, rules engine used instead: %s", why.msg);
        sdra_log(SDRA_LOG_WARN, "%s", w);
        json_t *warn = json_object_get(meta, "warnings");
        if (!json_is_array(warn)) {
            warn = json_array();
            json_object_set_new(meta, "warnings", warn);
        }
        json_array_append_new(warn, json_string(w));
        json_object_set_new(lm, "fallback", json_true());
        json_object_set_new(lm, "error", json_string(why.msg));
    } else {
        json_t *mt = json_object_get(acc, "next_meeting");
        json_t *cp = json_object_get(doc, "contact_preferences");
        if (json_is_object(mt) && (json_is_true(json_object_get(cp, "do_not_call")) ||
                                   json_is_true(json_object_get(cp, "do_not_email")))) {
            /* an opt-out after the agreement cancels it, as in the rules engine */
            json_int_t mu = json_integer_value(json_object_get(json_object_get(mt, "proposed"), "i"));
            size_t k;
            json_t *e;
            json_array_foreach(json_object_get(cp, "evidence"), k, e) {
                if (json_integer_value(json_object_get(e, "i")) >= mu) {
                    json_object_set_new(acc, "next_meeting", json_null());
                    break;
                }
            }
        }
        static const char *keys[] = {"objections", "action_items", "pain_points", "next_meeting"};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            json_object_set(doc, keys[k], json_object_get(acc, keys[k]));
        const char *sum = json_string_value(json_object_get(acc, "summary"));
        if (sum && *sum)
            json_object_set(doc, "summary", json_object_get(acc, "summary"));
        json_object_set_new(doc, "outcome", an_outcome(doc));
        json_object_set_new(doc, "backend", json_string("llm"));
        json_object_set_new(lm, "fallback", json_false());
    }
    json_object_set_new(lm, "parts", json_integer(c.parts));
    json_object_set_new(lm, "requests", json_integer(c.requests));
    json_object_set_new(lm, "prompt_tokens", json_integer(c.prompt_tokens));
    json_object_set_new(lm, "completion_tokens", json_integer(c.completion_tokens));
    set_stats(lm, &st);
    json_object_set_new(meta, "llm", lm);
    *out = doc;
    doc = NULL;
    rc = 0;
done:
    json_decref(doc);
    json_decref(acc);
    json_decref(c.schema);
    json_decref(c.schema_sent);
    free(c.system);
    free(c.user_tpl);
    free(c.roles);
    return rc;
}

const struct sdra_analyze_ops an_llm_backend = {.name = "llm", .analyze = llm_analyze};
