/*
 * detect.c - finds personal data in a token stream (transcript words or whitespace-separated
 * text). One left-to-right pass; at each token the matchers are tried in a fixed order and the
 * first that matches consumes its tokens, so spans never overlap:
 *
 *   written e-mail ("a@b.com") -> spoken e-mail ("jordan at northwind dot com") -> IBAN ->
 *   UK NINO -> date of birth (a date right after a trigger such as "born") -> digit sequence.
 *
 * A digit sequence is a maximal run of one speaker's number tokens: written groups
 * ("4111-1111", "(555)", "+44"), digit words ("four", "oh"), "double"/"triple" + digit, teens
 * and tens ("forty two" = 42) and "X hundred" ("one eight hundred" = 1800), with fillers ("uh",
 * "dash") inside. A run followed by a quantity word ("two thousand", "five five dollars") is an
 * amount and never PII. The run is then classified, in this order: card (13-19 digits passing
 * Luhn at a token boundary, or any 13-19 digits right after a card trigger), national id (9
 * digits in the SSA's issued ranges, written 3-2-4 or after an SSN trigger), bank (9-digit ABA
 * routing after "routing", 6-digit sort code after "sort code", 4-17 digits after "account"),
 * phone (7-15 digits: written with "+", written in NANP groups 3-3-4 / 1-3-3-4 / 3-4, spoken
 * with at least five single-digit words, or any of 2-5 digit groups after a phone trigger).
 * A run that is none of these is left alone whole; its parts are not tried again, so a
 * Luhn-invalid 16-digit number does not turn into a "phone" of its last 12 digits.
 *
 * A spoken run counting up or down ("one two three four five six seven") is not a phone
 * unless a phone word introduces it.
 * Triggers are looked for in the TRIGGER_WINDOW tokens before the value, whoever said them
 * (bank words: the BANK_TRIGGER_WINDOW tokens right before it).
 */
#include "internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define TRIGGER_WINDOW 10
#define BANK_TRIGGER_WINDOW 3
#define RUN_TOK_MAX 48
#define RUN_DIGITS_MAX 40
#define RUN_GROUPS_MAX 16
#define DOB_GAP_MAX 4
#define DOB_TOK_MAX 10

static int has_kind(const ptok *t, int kind)
{
    return t->lex && (t->lex->mask & (1u << kind));
}

static int kind_val(const ptok *t, int kind)
{
    return t->lex->val[kind];
}

static int is_word(const ptok *t, const char *w)
{
    return !strcmp(t->norm, w);
}

/* A trigger of class cls ends at token e (exclusive)? */
static int trigger_ends_at(const sdra_lexicon *lx, const ptok *toks, size_t e, int cls)
{
    for (size_t k = 0; k < lx->n_trig; k++) {
        const lex_trigger *tr = &lx->trig[k];
        if (tr->cls != cls || (size_t)tr->n > e)
            continue;
        int ok = 1;
        for (int w = 0; w < tr->n && ok; w++)
            ok = !strcmp(toks[e - (size_t)tr->n + (size_t)w].norm, tr->words[w]);
        if (ok)
            return 1;
    }
    return 0;
}

/* Bank words must sit right before the value ("account number is 1234"): "account" is
 * common in sales talk, and amounts follow it ("the account ... you must pay 10 000"). */
static int trigger_before(const sdra_lexicon *lx, const ptok *toks, size_t i, int cls)
{
    size_t w = cls == TR_ACCOUNT || cls == TR_ROUTING || cls == TR_SORTCODE ? BANK_TRIGGER_WINDOW : TRIGGER_WINDOW;
    size_t lo = i > w ? i - w : 0;
    for (size_t e = i; e > lo; e--)
        if (trigger_ends_at(lx, toks, e, cls))
            return 1;
    return 0;
}

/* ---- checksums ------------------------------------------------------------------------- */

static int luhn_ok(const char *d, int n)
{
    int sum = 0;
    for (int k = 0; k < n; k++) {
        int v = d[n - 1 - k] - '0';
        if (k & 1) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    return sum % 10 == 0;
}

static int aba_ok(const char *d)
{
    int v[9];
    for (int k = 0; k < 9; k++)
        v[k] = d[k] - '0';
    int prefix = v[0] * 10 + v[1];
    if (!((prefix <= 12) || (prefix >= 21 && prefix <= 32) || (prefix >= 61 && prefix <= 72) || prefix == 80))
        return 0;
    int s = 3 * (v[0] + v[3] + v[6]) + 7 * (v[1] + v[4] + v[7]) + (v[2] + v[5] + v[8]);
    return s % 10 == 0;
}

/* The SSA never issues area 000, 666 or 900-999, group 00 or serial 0000. */
static int ssn_ok(const char *d)
{
    int area = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
    if (area == 0 || area == 666 || area >= 900)
        return 0;
    if (d[3] == '0' && d[4] == '0')
        return 0;
    return !(d[5] == '0' && d[6] == '0' && d[7] == '0' && d[8] == '0');
}

static int iban_ok(const char *s, size_t n)
{
    if (n < 15 || n > 34 || !isupper((unsigned char)s[0]) || !isupper((unsigned char)s[1]) ||
        !isdigit((unsigned char)s[2]) || !isdigit((unsigned char)s[3]))
        return 0;
    unsigned rem = 0;
    for (size_t k = 0; k < n; k++) {
        char c = s[(k + 4) % n];
        if (isdigit((unsigned char)c))
            rem = (rem * 10 + (unsigned)(c - '0')) % 97;
        else if (isupper((unsigned char)c))
            rem = (rem * 100 + (unsigned)(c - 'A' + 10)) % 97;
        else
            return 0;
    }
    return rem == 1;
}

/* ---- token shapes ---------------------------------------------------------------------- */

static const char *core(const ptok *t)
{
    return t->raw + t->core_off;
}

/* Letters and digits only (of the core): 1, else 0. */
static int core_alnum(const ptok *t)
{
    if (!t->core_len)
        return 0;
    for (size_t k = 0; k < t->core_len; k++)
        if (!isalnum((unsigned char)core(t)[k]))
            return 0;
    return 1;
}

/* A written digit token: digits with '-', '.', '(' or ')' between groups and an optional
 * leading '+'. Dots only as in 555.123.4567 (3+ groups), so 1.5 and 12.50 are not. Appends the
 * digits to d (capacity cap) and the group sizes to groups. Returns the digit count, or 0. */
static int digit_token(const ptok *t, char *d, int nd, int cap, int *groups, int *ng, int *plus)
{
    const char *c = core(t);
    size_t n = t->core_len;
    int digits = 0, dots = 0, g = 0, cur = 0, loc_groups[RUN_GROUPS_MAX], nlg = 0;
    if (!n)
        return 0;
    for (size_t k = 0; k < n; k++) {
        unsigned char ch = (unsigned char)c[k];
        if (isdigit(ch)) {
            digits++;
            cur++;
        } else if (ch == '-' || ch == '.' || ch == '(' || ch == ')' || (ch == '+' && k == 0)) {
            dots += ch == '.';
            if (cur) {
                if (nlg < RUN_GROUPS_MAX)
                    loc_groups[nlg++] = cur;
                cur = 0;
            }
        } else
            return 0;
    }
    if (cur && nlg < RUN_GROUPS_MAX)
        loc_groups[nlg++] = cur;
    if (!digits || (dots && nlg < 3))
        return 0;
    if (nd + digits > cap)
        return 0;
    for (size_t k = 0; k < n; k++)
        if (isdigit((unsigned char)c[k]))
            d[nd++] = c[k];
    for (g = 0; g < nlg && *ng < RUN_GROUPS_MAX; g++)
        groups[(*ng)++] = loc_groups[g];
    if (plus && c[0] == '+')
        *plus = 1;
    return digits;
}

static int is_digit_shaped(const ptok *t)
{
    char d[RUN_DIGITS_MAX];
    int groups[RUN_GROUPS_MAX], ng = 0;
    return digit_token(t, d, 0, RUN_DIGITS_MAX, groups, &ng, NULL) > 0;
}

static int starts_number(const ptok *t)
{
    return is_digit_shaped(t) || has_kind(t, LK_DIGIT) || has_kind(t, LK_DIGITLIKE) || has_kind(t, LK_TEEN) || has_kind(t, LK_TENS) ||
           has_kind(t, LK_REPEAT);
}

/* ---- digit runs ------------------------------------------------------------------------ */

typedef struct run {
    size_t first, end;             /* tokens [first, end) */
    char d[RUN_DIGITS_MAX + 1];
    int nd;
    int bound[RUN_TOK_MAX];        /* digits so far after token first+k, or -1 mid-pair */
    int groups[RUN_GROUPS_MAX], ng;
    int spoken, written, plus, n_single, quantity;
    int vals[RUN_TOK_MAX], nvals;  /* the number each spoken word says ("ten" = 10) */
} run;

static void run_put(run *r, int v, int ndig)
{
    char tmp[4];
    if (ndig == 2) {
        tmp[0] = (char)('0' + v / 10);
        tmp[1] = (char)('0' + v % 10);
    } else
        tmp[0] = (char)('0' + v);
    for (int k = 0; k < ndig && r->nd < RUN_DIGITS_MAX; k++)
        r->d[r->nd++] = tmp[k];
}

static void parse_run(const ptok *toks, size_t n, size_t i, run *r)
{
    memset(r, 0, sizeof *r);
    r->first = i;
    size_t j = i;
    int spk = toks[i].speaker;
    while (j < n && j - i < RUN_TOK_MAX - 1 && r->nd < RUN_DIGITS_MAX - 3) {
        const ptok *t = &toks[j];
        const ptok *nx = j + 1 < n && toks[j + 1].speaker == spk ? &toks[j + 1] : NULL;
        if (t->speaker != spk)
            break;
        int got = digit_token(t, r->d, r->nd, RUN_DIGITS_MAX, r->groups, &r->ng, j == i ? &r->plus : NULL);
        if (got) {
            r->nd += got;
            r->written = 1;
            r->bound[j - i] = r->nd;
            j++;
            continue;
        }
        if (has_kind(t, LK_DIGIT)) {
            run_put(r, kind_val(t, LK_DIGIT), 1);
            r->vals[r->nvals++] = kind_val(t, LK_DIGIT);
            r->spoken = 1;
            r->n_single++;
            r->bound[j - i] = r->nd;
            j++;
            if (nx && has_kind(nx, LK_HUNDRED) && j - i < RUN_TOK_MAX - 1) {
                run_put(r, 0, 1);
                run_put(r, 0, 1);
                r->bound[j - i] = r->nd;
                j++;
                /* "five hundred sixty", "two hundred and ten": an amount */
                if (j < n && (has_kind(&toks[j], LK_TENS) || has_kind(&toks[j], LK_TEEN) || is_word(&toks[j], "and")))
                    r->quantity = 1;
            }
            continue;
        }
        if (has_kind(t, LK_DIGITLIKE) && nx && (has_kind(nx, LK_DIGIT) || is_digit_shaped(nx)) &&
            (j > i || (j + 2 < n && toks[j + 2].speaker == spk && has_kind(&toks[j + 2], LK_DIGIT)))) {
            run_put(r, kind_val(t, LK_DIGITLIKE), 1);
            r->vals[r->nvals++] = -100; /* never part of a count */
            r->spoken = 1;
            r->n_single++;
            r->bound[j - i] = r->nd;
            j++;
            continue;
        }
        if (has_kind(t, LK_REPEAT) && nx && has_kind(nx, LK_DIGIT) && j - i < RUN_TOK_MAX - 2) {
            for (int k = 0; k < kind_val(t, LK_REPEAT); k++)
                run_put(r, kind_val(nx, LK_DIGIT), 1);
            r->vals[r->nvals++] = -100;
            r->spoken = 1;
            r->n_single++;
            r->bound[j - i] = -1;
            r->bound[j + 1 - i] = r->nd;
            j += 2;
            continue;
        }
        if (has_kind(t, LK_TEEN)) {
            run_put(r, kind_val(t, LK_TEEN), 2);
            r->vals[r->nvals++] = kind_val(t, LK_TEEN);
            r->spoken = 1;
            r->bound[j - i] = r->nd;
            j++;
            continue;
        }
        if (has_kind(t, LK_TENS)) {
            r->spoken = 1;
            if (nx && has_kind(nx, LK_DIGIT) && kind_val(nx, LK_DIGIT) > 0 && !is_word(nx, "oh") &&
                !is_word(nx, "o") && j - i < RUN_TOK_MAX - 2) {
                run_put(r, kind_val(t, LK_TENS) * 10 + kind_val(nx, LK_DIGIT), 2);
                r->vals[r->nvals++] = kind_val(t, LK_TENS) * 10 + kind_val(nx, LK_DIGIT);
                r->bound[j - i] = -1;
                r->bound[j + 1 - i] = r->nd;
                j += 2;
            } else {
                run_put(r, kind_val(t, LK_TENS) * 10, 2);
                r->vals[r->nvals++] = kind_val(t, LK_TENS) * 10;
                r->bound[j - i] = r->nd;
                j++;
            }
            continue;
        }
        if (j > i && has_kind(t, LK_FILLER) && nx && starts_number(nx)) {
            r->bound[j - i] = -1; /* never end a value on a filler */
            j++;
            continue;
        }
        break;
    }
    r->end = j;
    r->d[r->nd] = '\0';
    if (j < n && toks[j].speaker == spk && has_kind(&toks[j], LK_QUANTITY))
        r->quantity = 1;
}

static int groups_are(const run *r, int a, int b, int c, int d)
{
    int want[4] = {a, b, c, d}, nw = d ? 4 : c ? 3 : b ? 2 : 1;
    if (r->ng != nw)
        return 0;
    for (int k = 0; k < nw; k++)
        if (r->groups[k] != want[k])
            return 0;
    return 1;
}

static int date_shaped(const run *r)
{
    return groups_are(r, 4, 2, 2, 0) || groups_are(r, 2, 2, 4, 0) || groups_are(r, 2, 2, 2, 0);
}

/* "one two three four five": counting (or a countdown), spoken, not a number someone owns. */
static int counting(const run *r)
{
    if (!r->spoken || r->written || r->nvals < 5)
        return 0;
    int up = 1, down = 1;
    for (int k = 1; k < r->nvals; k++) {
        up &= r->vals[k] == r->vals[k - 1] + 1;
        down &= r->vals[k] == r->vals[k - 1] - 1;
    }
    return up || down;
}

/* Classifies run r; *len gets the tokens the value covers. 0 = not PII. */
static unsigned classify_run(const sdra_lexicon *lx, const ptok *toks, const run *r, size_t *len)
{
    size_t nt = r->end - r->first;
    *len = nt;
    if (r->quantity || !nt)
        return 0;
    /* card: the longest token-boundary prefix of 13-19 digits passing Luhn */
    for (size_t k = nt; k-- > 0;) {
        int b = r->bound[k];
        if (b >= 13 && b <= 19 && luhn_ok(r->d, b)) {
            *len = k + 1;
            return SDRA_REDACT_CARD;
        }
    }
    if (r->nd >= 13 && r->nd <= 19 && trigger_before(lx, toks, r->first, TR_CARD))
        return SDRA_REDACT_CARD;
    if (r->nd == 9 && ssn_ok(r->d) &&
        ((r->written && !r->spoken && groups_are(r, 3, 2, 4, 0)) || trigger_before(lx, toks, r->first, TR_SSN)))
        return SDRA_REDACT_NATIONAL_ID;
    if (r->nd == 9 && aba_ok(r->d) && trigger_before(lx, toks, r->first, TR_ROUTING))
        return SDRA_REDACT_BANK;
    if (r->nd == 6 && trigger_before(lx, toks, r->first, TR_SORTCODE))
        return SDRA_REDACT_BANK;
    if (r->nd >= 4 && r->nd <= 17 && trigger_before(lx, toks, r->first, TR_ACCOUNT))
        return SDRA_REDACT_BANK;
    if (r->nd >= 7 && r->nd <= 15) {
        if (r->written && r->plus && r->nd >= 8)
            return SDRA_REDACT_PHONE;
        if (r->written && !r->spoken &&
            (groups_are(r, 3, 3, 4, 0) || groups_are(r, 1, 3, 3, 4) || groups_are(r, 3, 4, 0, 0)))
            return SDRA_REDACT_PHONE;
        if (r->spoken && r->n_single >= 5 && !counting(r))
            return SDRA_REDACT_PHONE;
        if (!date_shaped(r) && trigger_before(lx, toks, r->first, TR_PHONE)) {
            int ok = 1;
            for (int g = 0; g < r->ng && r->ng > 1; g++)
                ok &= r->groups[g] >= 2 && r->groups[g] <= 5;
            if (ok)
                return SDRA_REDACT_PHONE;
        }
    }
    return 0;
}

/* ---- e-mail ---------------------------------------------------------------------------- */

static int email_written(const ptok *t)
{
    const char *c = core(t);
    size_t n = t->core_len, at = n;
    for (size_t k = 0; k < n; k++)
        if (c[k] == '@') {
            if (at != n)
                return 0;
            at = k;
        }
    if (at == 0 || at >= n - 1)
        return 0;
    for (size_t k = 0; k < at; k++)
        if (!isalnum((unsigned char)c[k]) && !strchr("._%+-'", c[k]))
            return 0;
    size_t dots = 0, label = 0, alpha_tail = 0;
    for (size_t k = at + 1; k < n; k++) {
        unsigned char ch = (unsigned char)c[k];
        if (ch == '.') {
            if (!label)
                return 0;
            dots++;
            label = 0;
            alpha_tail = 0;
        } else if (isalnum(ch) || ch == '-') {
            label++;
            alpha_tail = isalpha(ch) ? alpha_tail + 1 : 0;
        } else
            return 0;
    }
    return dots >= 1 && label >= 2 && alpha_tail == label;
}

/* A word that may be part of a spoken address: letters/digits, not a function word. */
static int email_label(const ptok *t)
{
    return core_alnum(t) && !has_kind(t, LK_NOTLOCAL) && !is_word(t, "at") && !is_word(t, "dot");
}

static int is_connector(const ptok *t)
{
    return is_word(t, "dot") || is_word(t, "underscore") || is_word(t, "dash") || is_word(t, "hyphen") ||
           is_word(t, "period");
}

/* "northwind.com" as one token with a known TLD at the end. */
static int domain_token(const sdra_lexicon *lx, const ptok *t)
{
    const char *c = core(t);
    size_t n = t->core_len;
    const char *last = NULL;
    if (!n || n >= TOK_NORM_MAX)
        return 0;
    for (size_t k = 0; k < n; k++) {
        if (c[k] == '.') {
            if (k == 0 || c[k - 1] == '.' || k == n - 1)
                return 0;
            last = t->norm + k + 1;
        } else if (!isalnum((unsigned char)c[k]) && c[k] != '-')
            return 0;
    }
    if (!last)
        return 0;
    const lex_entry *e = privacy_lexicon_get(lx, last);
    return e && (e->mask & (1u << LK_TLD));
}

static size_t email_spoken(const sdra_lexicon *lx, const ptok *toks, size_t n, size_t i)
{
    int spk = toks[i].speaker;
    if (!email_label(&toks[i]))
        return 0;
    size_t j = i + 1;
    int nlocal = 1;
    while (j + 1 < n && nlocal < 4 && toks[j].speaker == spk && toks[j + 1].speaker == spk &&
           is_connector(&toks[j]) && email_label(&toks[j + 1])) {
        j += 2;
        nlocal++;
    }
    if (j >= n || toks[j].speaker != spk || !is_word(&toks[j], "at"))
        return 0;
    j++;
    if (j >= n || toks[j].speaker != spk)
        return 0;
    if (domain_token(lx, &toks[j]) && !has_kind(&toks[j], LK_NOTLOCAL))
        return j + 1 - i;
    if (!email_label(&toks[j]))
        return 0;
    j++;
    size_t best = 0;
    for (int labels = 1; labels < 5; labels++) {
        if (j + 1 >= n || toks[j].speaker != spk || toks[j + 1].speaker != spk || !is_word(&toks[j], "dot") ||
            !core_alnum(&toks[j + 1]))
            break;
        j += 2;
        if (has_kind(&toks[j - 1], LK_TLD))
            best = j - i;
    }
    return best;
}

/* ---- national ids and IBAN written as letters and digits --------------------------------- */

static int nino_ok(const char *s)
{
    static const char *bad_prefix[] = {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"};
    if (strlen(s) != 9)
        return 0;
    if (!isupper((unsigned char)s[0]) || !isupper((unsigned char)s[1]) || strchr("DFIQUV", s[0]) ||
        strchr("DFIQUVO", s[1]))
        return 0;
    for (size_t k = 0; k < sizeof bad_prefix / sizeof *bad_prefix; k++)
        if (!strncmp(s, bad_prefix[k], 2))
            return 0;
    for (int k = 2; k < 8; k++)
        if (!isdigit((unsigned char)s[k]))
            return 0;
    return s[8] >= 'A' && s[8] <= 'D';
}

/* Concatenates the upper-cased cores of up to max_tok alphanumeric tokens from i and calls ok()
 * at each token boundary; returns the longest match's token count. */
static size_t alnum_join(const ptok *toks, size_t n, size_t i, size_t max_tok, size_t max_chars,
                         int (*ok)(const char *, size_t))
{
    char s[48];
    size_t len = 0, best = 0;
    for (size_t j = i; j < n && j - i < max_tok && toks[j].speaker == toks[i].speaker; j++) {
        if (!core_alnum(&toks[j]) || len + toks[j].core_len > max_chars || len + toks[j].core_len >= sizeof s)
            break;
        for (size_t k = 0; k < toks[j].core_len; k++)
            s[len++] = (char)toupper((unsigned char)core(&toks[j])[k]);
        s[len] = '\0';
        if (ok(s, len))
            best = j + 1 - i;
    }
    return best;
}

static int nino_ok_n(const char *s, size_t n)
{
    (void)n;
    return nino_ok(s);
}

static size_t nino_at(const ptok *toks, size_t n, size_t i)
{
    const ptok *t = &toks[i];
    if (t->core_len < 2 || !isalpha((unsigned char)core(t)[0]) || !isalpha((unsigned char)core(t)[1]))
        return 0;
    return alnum_join(toks, n, i, 5, 9, nino_ok_n);
}

static size_t iban_at(const ptok *toks, size_t n, size_t i)
{
    const ptok *t = &toks[i];
    const char *c = core(t);
    if (t->core_len < 4 || !isalpha((unsigned char)c[0]) || !isalpha((unsigned char)c[1]) ||
        !isdigit((unsigned char)c[2]) || !isdigit((unsigned char)c[3]))
        return 0;
    return alnum_join(toks, n, i, 9, 34, iban_ok);
}

/* ---- dates of birth -------------------------------------------------------------------- */

/* "4th", "21st" */
static int written_ordinal(const ptok *t)
{
    const char *c = core(t);
    size_t n = t->core_len, k = 0;
    while (k < n && isdigit((unsigned char)c[k]))
        k++;
    return k >= 1 && k <= 2 && n == k + 2 &&
           (!strcmp(t->norm + k, "st") || !strcmp(t->norm + k, "nd") || !strcmp(t->norm + k, "rd") ||
            !strcmp(t->norm + k, "th"));
}

/* Digits with at most '/', '-', '.' between them; *groups gets the group count. */
static int written_datey(const ptok *t, int *groups, int *year4)
{
    const char *c = core(t);
    size_t n = t->core_len;
    int g = 0, cur = 0;
    *year4 = 0;
    if (!n || n > 10)
        return 0;
    for (size_t k = 0; k <= n; k++) {
        if (k < n && isdigit((unsigned char)c[k])) {
            cur++;
            continue;
        }
        if (k < n && !strchr("/-.", c[k]))
            return 0;
        if (!cur)
            return 0;
        if (cur == 4 && g == 0 && k == n) { /* c is not NUL-terminated: no atoi */
            int y = (c[0] - '0') * 1000 + (c[1] - '0') * 100 + (c[2] - '0') * 10 + (c[3] - '0');
            *year4 = y >= 1900 && y <= 2099;
        }
        g++;
        cur = 0;
    }
    *groups = g;
    return 1;
}

static int number_word(const ptok *t)
{
    return has_kind(t, LK_DIGIT) || has_kind(t, LK_TEEN) || has_kind(t, LK_TENS) || has_kind(t, LK_HUNDRED) ||
           is_word(t, "thousand");
}

static int date_token(const ptok *t)
{
    int g, y;
    return has_kind(t, LK_MONTH) || has_kind(t, LK_ORDINAL) || written_ordinal(t) || number_word(t) ||
           written_datey(t, &g, &y);
}

static size_t dob_at(const sdra_lexicon *lx, const ptok *toks, size_t n, size_t i)
{
    if (!date_token(&toks[i]))
        return 0;
    int trig = 0;
    for (size_t e = i, gaps = 0; gaps <= DOB_GAP_MAX; e--, gaps++) {
        if (trigger_ends_at(lx, toks, e, TR_DOB)) {
            trig = 1;
            break;
        }
        if (e == 0 || !has_kind(&toks[e - 1], LK_DATEGAP))
            break;
    }
    if (!trig)
        return 0;
    size_t j = i, last = i;
    int month = 0, num = 0, written_date = 0, year4 = 0, numwords = 0;
    int spk = toks[i].speaker;
    while (j < n && j - i < DOB_TOK_MAX && toks[j].speaker == spk) {
        const ptok *t = &toks[j];
        int g = 0, y = 0;
        if (has_kind(t, LK_MONTH))
            month = 1;
        else if (has_kind(t, LK_ORDINAL) || written_ordinal(t))
            num = 1;
        else if (number_word(t)) {
            num = 1;
            numwords++;
        } else if (written_datey(t, &g, &y)) {
            num = 1;
            written_date |= g >= 2;
            year4 |= y;
        } else if (!has_kind(t, LK_DATEJOIN))
            break;
        if (!has_kind(t, LK_DATEJOIN) || has_kind(t, LK_MONTH))
            last = j;
        j++;
    }
    if ((month && num) || written_date || year4 || numwords >= 2)
        return last + 1 - i;
    return 0;
}

/* ---- the pass -------------------------------------------------------------------------- */

static int push(pspan **spans, size_t *n, size_t *cap, size_t first, size_t last, unsigned cls)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        pspan *p = realloc(*spans, nc * sizeof *p);
        if (!p)
            return SDRA_ENOMEM;
        *spans = p;
        *cap = nc;
    }
    (*spans)[(*n)++] = (pspan){first, last, cls};
    return 0;
}

int privacy_detect(const sdra_lexicon *lx, const ptok *toks, size_t n, unsigned classes,
                   pspan **spans, size_t *n_spans, size_t *cap_spans)
{
    size_t i = 0;
    while (i < n) {
        size_t len = 0;
        unsigned cls = 0;
        if (email_written(&toks[i])) {
            len = 1;
            cls = SDRA_REDACT_EMAIL;
        } else if ((len = email_spoken(lx, toks, n, i)))
            cls = SDRA_REDACT_EMAIL;
        else if ((len = iban_at(toks, n, i)))
            cls = SDRA_REDACT_BANK;
        else if ((len = nino_at(toks, n, i)))
            cls = SDRA_REDACT_NATIONAL_ID;
        else if ((len = dob_at(lx, toks, n, i)))
            cls = SDRA_REDACT_DOB;
        else if (starts_number(&toks[i])) {
            run r;
            parse_run(toks, n, i, &r);
            cls = classify_run(lx, toks, &r, &len);
        }
        if (cls && (cls & classes) && push(spans, n_spans, cap_spans, i, i + len - 1, cls) < 0)
            return SDRA_ENOMEM;
        i += len ? len : 1;
    }
    return 0;
}

void privacy_tok_init(const sdra_lexicon *lx, ptok *t)
{
    static const char lstrip[] = "\"'([{<*", rstrip[] = ",.;:!?\"')]}>*";
    size_t a = 0, b = t->raw_len;
    while (a < b && strchr(lstrip, t->raw[a]) && t->raw[a])
        a++;
    while (b > a && strchr(rstrip, t->raw[b - 1]) && t->raw[b - 1])
        b--;
    t->core_off = a;
    t->core_len = b - a;
    size_t k = 0;
    for (; k < t->core_len && k < TOK_NORM_MAX - 1; k++)
        t->norm[k] = (char)tolower((unsigned char)t->raw[a + k]);
    t->norm[k] = '\0';
    t->lex = t->core_len < TOK_NORM_MAX ? privacy_lexicon_get(lx, t->norm) : NULL;
}
