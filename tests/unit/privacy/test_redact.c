/* test_redact.c - PII redaction: every class written and spoken, values that must NOT be
 * redacted (prices, dates, times, quantities, years, Luhn-invalid cards), class selection and
 * markers, transcript word spans and times, the analysis pass, and audio redaction. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sdra/audio.h"
#include "sdra/privacy.h"

typedef struct {
    const char *in, *out; /* out NULL = unchanged */
} rcase;

static sdra_redactor *R;

static int setup(void **state)
{
    (void)state;
    sdra_error err = {0};
    if (sdra_redactor_create(&R, NULL, &err) < 0) {
        fprintf(stderr, "redactor: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sdra_redactor_destroy(R);
    return 0;
}

static void run_cases(const sdra_redactor *r, const rcase *c, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        char *out = NULL;
        sdra_error err = {0};
        assert_int_equal(sdra_redactor_text(r, c[i].in, strlen(c[i].in), &out, NULL, NULL, &err), 0);
        const char *want = c[i].out ? c[i].out : c[i].in;
        if (strcmp(out, want)) {
            fprintf(stderr, "  in:   %s\n  got:  %s\n  want: %s\n", c[i].in, out, want);
            bad++;
        }
        free(out);
    }
    if (bad)
        fail_msg("%d of %zu cases wrong", bad, n);
}
#define RUN(cases) run_cases(R, cases, sizeof cases / sizeof *cases)

static void redact_card(void **state)
{
    (void)state;
    static const rcase c[] = {
        {"my card is 4111 1111 1111 1111 thanks", "my card is [REDACTED:card] thanks"},
        {"card: 4111-1111-1111-1111.", "card: [REDACTED:card]."},
        {"use 5555555555554444 please", "use [REDACTED:card] please"},
        {"amex 3782 822463 10005", "amex [REDACTED:card]"},
        {"my card is four one one one one one one one one one one one one one one one",
         "my card is [REDACTED:card]"},
        {"it's four one one one, one one one one, one one one one, one one one one. expiry",
         "it's [REDACTED:card]. expiry"},
        {"number is five five five five five five five five five five five five four four four four",
         "number is [REDACTED:card]"},
        /* "double" and "triple" */
        {"card number four one one one one one one one one one one one double one triple one",
         "card number [REDACTED:card]"},
        /* ASR homophones inside a sequence */
        {"visa four one one one one one one one one one one one one one won one",
         "visa [REDACTED:card]"},
        /* card followed by other digits: the Luhn-valid prefix is the card */
        {"4111 1111 1111 1111 123", "[REDACTED:card] 123"},
        /* Luhn-invalid without a card word: left alone, and not turned into a phone */
        {"order 4111 1111 1111 1112 shipped", NULL},
        {"reference 1234567890123456", NULL},
        /* Luhn-invalid right after a card word: an ASR error must not leak the other digits */
        {"my credit card is four one one one one one one one one one one one one one one two",
         "my credit card is [REDACTED:card]"},
    };
    RUN(c);
}

static void redact_national_id(void **state)
{
    (void)state;
    static const rcase c[] = {
        {"ssn 123-45-6789", "ssn [REDACTED:national_id]"},
        {"it is 078-05-1120 ok", "it is [REDACTED:national_id] ok"},
        {"my social security number is one two three four five six seven eight nine",
         "my social security number is [REDACTED:national_id]"},
        {"NINO AB 12 34 56 C thanks", "NINO [REDACTED:national_id] thanks"},
        {"ni number ab123456c", "ni number [REDACTED:national_id]"},
        /* invalid SSA ranges and NINO prefixes stay */
        {"code 666-12-3456", NULL},
        {"code 000-12-3456", NULL},
        {"code 900-12-3456", NULL},
        {"code 123-00-4567", NULL},
        {"code 123-45-0000", NULL},
        {"ref QQ123456C", NULL},
        {"ref GB123456A", NULL},
        {"ref AB123456E", NULL},
    };
    RUN(c);
}

static void redact_phone(void **state)
{
    (void)state;
    static const rcase c[] = {
        {"call (555) 123-4567.", "call [REDACTED:phone]."},
        {"call 555-123-4567 today", "call [REDACTED:phone] today"},
        {"call 555.123.4567", "call [REDACTED:phone]"},
        {"london +44 20 7946 0958", "london [REDACTED:phone]"},
        {"us +1 415 555 0199", "us [REDACTED:phone]"},
        {"tollfree 1-800-555-0199", "tollfree [REDACTED:phone]"},
        {"+14155550199", "[REDACTED:phone]"},
        {"my number is five five five, one two three, four five six seven",
         "my number is [REDACTED:phone]"},
        {"it's double five five one two three four five six seven", "it's [REDACTED:phone]"},
        {"call me on oh two oh seven nine four six oh nine five eight", "call me on [REDACTED:phone]"},
        {"one eight hundred five five five one two one two", "[REDACTED:phone]"},
        {"my cell is 5551234567", "my cell is [REDACTED:phone]"},
        {"extension 555-0199 works", "extension [REDACTED:phone] works"},
        {"five five five uh one two three four", "[REDACTED:phone]"},
        {"my phone number is one two three four five six seven", "my phone number is [REDACTED:phone]"},
    };
    RUN(c);
}

static void redact_email(void **state)
{
    (void)state;
    static const rcase c[] = {
        {"mail jordan@northwind.com.", "mail [REDACTED:email]."},
        {"<j.lee+sales@mail.northwind.co.uk>", "<[REDACTED:email]>"},
        {"my email is jordan at northwind dot com thanks", "my email is [REDACTED:email] thanks"},
        {"jordan dot lee at northwind dot co dot uk", "[REDACTED:email]"},
        {"it's j underscore lee at northwind.io", "it's [REDACTED:email]"},
        /* not addresses */
        {"look at google dot com for that", NULL},
        {"meet at the office", NULL},
        {"we are at northwind now", NULL},
        {"jordan at northwind dot something", NULL},
        {"an @ sign alone", NULL},
        {"email me@", NULL},
    };
    RUN(c);
}

static void redact_bank(void **state)
{
    (void)state;
    static const rcase c[] = {
        {"iban GB82 WEST 1234 5698 7654 32 ok", "iban [REDACTED:bank] ok"},
        {"DE89370400440532013000", "[REDACTED:bank]"},
        {"routing number 021000021", "routing number [REDACTED:bank]"},
        {"account number 12345678 at chase", "account number [REDACTED:bank] at chase"},
        {"the account number is one two three four five six seven eight",
         "the account number is [REDACTED:bank]"},
        {"sort code 12-34-56", "sort code [REDACTED:bank]"},
        /* checksums fail: not bank details */
        {"iban GB82 WEST 1234 5698 7654 33", NULL},
        {"routing 021000022", NULL},
        /* a valid ABA number without the word routing: not redacted */
        {"ticket 021000021", NULL},
        {"sort 12-34-56", NULL},
    };
    RUN(c);
}

static void redact_dob(void **state)
{
    (void)state;
    static const rcase c[] = {
        {"I was born on March 4, 1985 in Ohio", "I was born on [REDACTED:dob] in Ohio"},
        {"date of birth is 04/03/1985", "date of birth is [REDACTED:dob]"},
        {"DOB: 1985-03-04", "DOB: [REDACTED:dob]"},
        {"born in 1985", "born in [REDACTED:dob]"},
        {"my birthday is the fourth of march nineteen eighty five",
         "my birthday is the [REDACTED:dob]"},
        {"born march fourth nineteen eighty five", "born [REDACTED:dob]"},
        /* dates without a birth word, and birth words without a date */
        {"let's meet on March 4, 2026", NULL},
        {"the company was founded in 1985", NULL},
        {"I was born in Ohio and on March 4 we signed", NULL},
        {"born two years ago", NULL},
    };
    RUN(c);
}

/* Numbers that are not personal data stay. */
static void redact_not_pii(void **state)
{
    (void)state;
    static const rcase c[] = {
        {"it costs $1,200 per month", NULL},
        {"two thousand seats at twelve dollars", NULL},
        {"we have twenty five users and fifty licences", NULL},
        {"in nineteen ninety nine we had five hundred people", NULL},
        {"let's talk on 2026-11-24 at 14:30", NULL},
        {"call me at 3 pm on Tuesday", NULL},
        {"version 1.2.3 shipped in 2024", NULL},
        {"between 2019 2020 and 2021", NULL},
        {"it grew 12.5% to 1.5 million", NULL},
        {"five five five dollars", NULL},
        {"one two three", NULL},
        {"send it to one of the team for review", NULL},
        {"five five five thousand", NULL},
        {"twenty twenty six budget", NULL},
        {"room 1234, floor 12", NULL},
        {"PO 4500012345", NULL},
        /* counting is not a phone number, and amounts after "account" are not account numbers */
        {"channels one two three four five six seven eight nine", NULL},
        {"nine eight seven six five four three two one zero", NULL},
        {"the account is fine, for the eight days you pay five hundred sixty", NULL},
        {"the Savers account has no fee. You must pay 10 000 up front", NULL},
    };
    RUN(c);
}

static void redact_classes_and_markers(void **state)
{
    (void)state;
    sdra_error err = {0};
    unsigned m = 0;
    assert_int_equal(sdra_redact_classes_parse("card,phone,email", &m, &err), 0);
    assert_int_equal(m, SDRA_REDACT_CARD | SDRA_REDACT_PHONE | SDRA_REDACT_EMAIL);
    assert_int_equal(sdra_redact_classes_parse("all", &m, &err), 0);
    assert_int_equal(m, SDRA_REDACT_ALL);
    assert_int_equal(sdra_redact_classes_parse("ssn,dob", &m, &err), 0);
    assert_int_equal(m, SDRA_REDACT_NATIONAL_ID | SDRA_REDACT_DOB);
    assert_int_equal(sdra_redact_classes_parse("card,passport", &m, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "passport"));
    assert_int_equal(sdra_redact_classes_parse("", &m, &err), SDRA_EINVAL);
    assert_int_equal(sdra_redact_classes_parse("card,,phone", &m, &err), SDRA_EINVAL);

    sdra_redact_params p = sdra_redact_default_params();
    p.classes = SDRA_REDACT_PHONE;
    p.marker = SDRA_REDACT_MARK_PLAIN;
    sdra_redactor *r = NULL;
    assert_int_equal(sdra_redactor_create(&r, &p, &err), 0);
    /* the card is not a class asked for: it stays, and is not called a phone either */
    static const rcase c[] = {
        {"card 4111 1111 1111 1111 or call 555-123-4567 or jordan@northwind.com",
         "card 4111 1111 1111 1111 or call [REDACTED] or jordan@northwind.com"},
    };
    run_cases(r, c, 1);
    sdra_redactor_destroy(r);
}

static void redact_report_counts(void **state)
{
    (void)state;
    const char *in = "card 4111111111111111, phone 555-123-4567, mail a@b.com and c@d.org";
    char *out = NULL;
    sdra_redact_report rep = {0};
    sdra_error err = {0};
    assert_int_equal(sdra_redactor_text(R, in, strlen(in), &out, NULL, &rep, &err), 0);
    assert_int_equal(rep.n_by_class[0], 1);
    assert_int_equal(rep.n_by_class[2], 1);
    assert_int_equal(rep.n_by_class[3], 2);
    assert_int_equal(rep.n_total, 4);
    free(out);
    sdra_redact_report_release(&rep);
}

static sdra_utterance *utt(sdra_transcript *t, int spk, double t0, const char *words)
{
    sdra_utterance *u = sdra_transcript_add_utterance(t, spk, t0, t0, NULL);
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", words);
    double x = t0;
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        sdra_utterance_add_word(u, w, x, x + 0.4, 0.9f);
        x += 0.5;
    }
    u->end = x;
    sdra_utterance_join_words(u);
    return u;
}

/* Spoken card across word boundaries: one marker word with the span's times; text rejoined. */
static void transcript_spans_and_times(void **state)
{
    (void)state;
    sdra_transcript *t = sdra_transcript_create();
    int rep_s = sdra_transcript_add_speaker(t, "S1", SDRA_ROLE_REP, 0);
    int pro = sdra_transcript_add_speaker(t, "S2", SDRA_ROLE_PROSPECT, 1);
    utt(t, rep_s, 0.0, "can I take a card number");
    /* words at 10.0, 10.5, ...: "four" is word 3 (11.5), the last "one" word 18 (19.0 .. 19.4) */
    utt(t, pro, 10.0, "sure my card four one one one one one one one one one one one one one one one thanks");
    sdra_redact_report rep = {0};
    sdra_error err = {0};
    assert_int_equal(sdra_redactor_transcript(R, t, &rep, &err), 0);
    sdra_utterance *u = &t->utts[1];
    assert_string_equal(u->text, "sure my card [REDACTED:card] thanks");
    assert_int_equal(u->n_words, 5);
    assert_string_equal(u->words[3].w, "[REDACTED:card]");
    assert_float_equal(u->words[3].start, 11.5, 1e-9);
    assert_float_equal(u->words[3].end, 19.0 + 0.4, 1e-9);
    assert_float_equal(u->words[4].start, 19.5, 1e-9);
    assert_int_equal(rep.n_spans, 1);
    assert_int_equal(rep.spans[0].cls, SDRA_REDACT_CARD);
    assert_int_equal(rep.spans[0].speaker, pro);
    assert_float_equal(rep.spans[0].start_s, 11.5, 1e-9);
    assert_float_equal(rep.spans[0].end_s, 19.4, 1e-9);
    assert_string_equal(t->utts[0].text, "can I take a card number");
    json_t *j = sdra_redact_report_to_json(&rep, SDRA_REDACT_ALL, t);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "spans"), 0), "speaker")), "S2");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "counts"), "card")), 1);
    json_t *doc = json_pack("{s:{s:O}}", "meta", "redaction", j);
    assert_int_equal(sdra_redact_doc_covers(doc, SDRA_REDACT_CARD | SDRA_REDACT_PHONE), 1);
    json_object_set_new(json_object_get(json_object_get(doc, "meta"), "redaction"), "classes", json_pack("[s]", "card"));
    assert_int_equal(sdra_redact_doc_covers(doc, SDRA_REDACT_CARD | SDRA_REDACT_PHONE), 0);
    assert_int_equal(sdra_redact_doc_covers(json_object_get(doc, "nothing"), SDRA_REDACT_CARD), 0);
    json_decref(doc);
    json_decref(j);
    sdra_redact_report_release(&rep);
    sdra_transcript_destroy(t);
}

/* A number split over two utterances of one speaker; a trigger said by the other speaker. */
static void transcript_across_utterances(void **state)
{
    (void)state;
    sdra_transcript *t = sdra_transcript_create();
    int a = sdra_transcript_add_speaker(t, "S1", SDRA_ROLE_REP, 0);
    int b = sdra_transcript_add_speaker(t, "S2", SDRA_ROLE_PROSPECT, 1);
    utt(t, b, 0.0, "it is five five five one");
    utt(t, b, 5.0, "two three four five six seven okay");
    utt(t, a, 10.0, "and what's your date of birth");
    utt(t, b, 14.0, "it's march fourth nineteen eighty five");
    utt(t, a, 20.0, "great and your email");
    utt(t, b, 23.0, "jordan at northwind dot com");
    sdra_redact_report rep = {0};
    sdra_error err = {0};
    assert_int_equal(sdra_redactor_transcript(R, t, &rep, &err), 0);
    assert_string_equal(t->utts[0].text, "it is [REDACTED:phone]");
    assert_string_equal(t->utts[1].text, "[REDACTED:phone] okay");
    assert_string_equal(t->utts[3].text, "it's [REDACTED:dob]");
    assert_string_equal(t->utts[5].text, "[REDACTED:email]");
    assert_int_equal(rep.n_spans, 3);
    assert_float_equal(rep.spans[0].start_s, 1.0, 1e-9);  /* "five" */
    assert_float_equal(rep.spans[0].end_s, 7.9, 1e-9);    /* "seven" = 5.0 + 5 * 0.5 + 0.4 */
    assert_int_equal(rep.spans[1].cls, SDRA_REDACT_DOB);
    assert_float_equal(rep.spans[1].start_s, 14.5, 1e-9);
    assert_float_equal(rep.spans[1].end_s, 16.9, 1e-9); /* "five" = 14.0 + 5 * 0.5 + 0.4 */
    assert_int_equal(rep.n_by_class[2], 1);
    assert_int_equal(rep.n_total, 3);
    sdra_redact_report_release(&rep);
    /* digits of two speakers never join into one number */
    sdra_transcript *t2 = sdra_transcript_create();
    a = sdra_transcript_add_speaker(t2, "S1", SDRA_ROLE_REP, 0);
    b = sdra_transcript_add_speaker(t2, "S2", SDRA_ROLE_PROSPECT, 1);
    utt(t2, a, 0.0, "one two three");
    utt(t2, b, 2.0, "four five six");
    assert_int_equal(sdra_redactor_transcript(R, t2, &rep, &err), 0);
    assert_int_equal(rep.n_total, 0);
    assert_string_equal(t2->utts[1].text, "four five six");
    sdra_redact_report_release(&rep);
    /* ... unless the words touch: a diarizer cut one number in two (mono recordings) */
    utt(t2, a, 10.0, "my card number is for one");          /* "one" ends at 12.9 */
    utt(t2, b, 13.0, "one one one one one one one one one one one one one one thanks");
    assert_int_equal(sdra_redactor_transcript(R, t2, &rep, &err), 0);
    assert_string_equal(t2->utts[2].text, "my card number is [REDACTED:card]");
    assert_string_equal(t2->utts[3].text, "[REDACTED:card] thanks");
    assert_int_equal(rep.n_spans, 1);
    assert_int_equal(rep.spans[0].speaker, a);
    assert_float_equal(rep.spans[0].start_s, 12.0, 1e-9);
    assert_float_equal(rep.spans[0].end_s, 13.0 + 13 * 0.5 + 0.4, 1e-9);
    sdra_redact_report_release(&rep);
    sdra_transcript_destroy(t2);
    sdra_transcript_destroy(t);
}

/* Words with punctuation (imported text transcripts) and text-only utterances. */
static void transcript_punctuation_and_text_only(void **state)
{
    (void)state;
    sdra_transcript *t = sdra_transcript_create();
    int a = sdra_transcript_add_speaker(t, "S1", SDRA_ROLE_PROSPECT, -1);
    utt(t, a, 0.0, "Call (555) 123-4567, please.");
    sdra_transcript_add_utterance(t, a, 5.0, 8.0, "Mail jordan@northwind.com today.");
    sdra_redact_report rep = {0};
    sdra_error err = {0};
    assert_int_equal(sdra_redactor_transcript(R, t, &rep, &err), 0);
    assert_string_equal(t->utts[0].text, "Call [REDACTED:phone], please.");
    assert_string_equal(t->utts[0].words[1].w, "[REDACTED:phone],");
    assert_string_equal(t->utts[1].text, "Mail [REDACTED:email] today.");
    assert_int_equal(rep.n_spans, 2);
    assert_float_equal(rep.spans[1].start_s, 5.0, 1e-9); /* no words: the utterance's span */
    assert_float_equal(rep.spans[1].end_s, 8.0, 1e-9);
    sdra_redact_report_release(&rep);
    sdra_transcript_destroy(t);
}

/* The analysis pass: every quote and text, never the identifiers. */
static void analysis_pass(void **state)
{
    (void)state;
    json_error_t je;
    json_t *doc = json_loads(
        "{\"schema\":\"sdra.analysis/1\",\"speakers\":[{\"id\":\"S2\",\"role\":\"prospect\",\"name\":\"Jordan\"}],"
        "\"action_items\":[{\"owner\":\"rep\",\"kind\":\"request\",\"text\":\"call me on 555-123-4567\","
        "\"quote\":\"sure, call me on 555-123-4567 or mail jordan at northwind dot com\",\"speaker\":\"S2\","
        "\"start\":1.5,\"due\":\"2026-11-24\"}],"
        "\"summary\":\"Jordan: my card is 4111 1111 1111 1111\",\"outcome\":\"No clear next step\","
        "\"topics\":[{\"text\":\"pricing\",\"kind\":\"category\",\"count\":2}]}", 0, &je);
    assert_non_null(doc);
    sdra_redact_report rep = {0};
    sdra_error err = {0};
    assert_int_equal(sdra_redactor_json(R, doc, &rep, &err), 0);
    json_t *ai = json_array_get(json_object_get(doc, "action_items"), 0);
    assert_string_equal(json_string_value(json_object_get(ai, "text")), "call me on [REDACTED:phone]");
    assert_string_equal(json_string_value(json_object_get(ai, "quote")),
                        "sure, call me on [REDACTED:phone] or mail [REDACTED:email]");
    assert_string_equal(json_string_value(json_object_get(ai, "due")), "2026-11-24");
    assert_string_equal(json_string_value(json_object_get(ai, "speaker")), "S2");
    assert_string_equal(json_string_value(json_object_get(doc, "summary")), "Jordan: my card is [REDACTED:card]");
    assert_string_equal(json_string_value(json_object_get(doc, "outcome")), "No clear next step");
    assert_int_equal(rep.n_total, 4);
    char *s = json_dumps(doc, 0);
    assert_null(strstr(s, "4567"));
    assert_null(strstr(s, "northwind"));
    free(s);
    sdra_redact_report_release(&rep);
    json_decref(doc);
    /* nesting is bounded */
    json_t *deep = json_string("555-123-4567");
    for (int i = 0; i < 100; i++) {
        json_t *a = json_array();
        json_array_append_new(a, deep);
        deep = a;
    }
    assert_int_equal(sdra_redactor_json(R, deep, NULL, &err), SDRA_ELIMIT);
    json_decref(deep);
}

static void text_limits(void **state)
{
    (void)state;
    /* the text need not be NUL-terminated: nothing may read past len (fuzz_redact found a
     * year at the very end read with atoi) */
    const char *srcs[] = {"born 1985", "card 4111111111111111", "mail a@b.com", "iban GB82WEST12345698765432",
                          "born on 04/03/1985", "call +14155550199", "ab123456c"};
    for (size_t i = 0; i < sizeof srcs / sizeof *srcs; i++) {
        size_t n = strlen(srcs[i]);
        char *exact = malloc(n), *o = NULL;
        memcpy(exact, srcs[i], n);
        sdra_error e = {0};
        assert_int_equal(sdra_redactor_text(R, exact, n, &o, NULL, NULL, &e), 0);
        assert_non_null(strstr(o, "[REDACTED:"));
        free(o);
        free(exact);
    }
    sdra_redact_params p = sdra_redact_default_params();
    p.max_text_bytes = 16;
    sdra_redactor *r = NULL;
    sdra_error err = {0};
    char *out = NULL;
    assert_int_equal(sdra_redactor_create(&r, &p, &err), 0);
    assert_int_equal(sdra_redactor_text(r, "0123456789abcdefg", 17, &out, NULL, NULL, &err), SDRA_ELIMIT);
    assert_null(out);
    assert_int_equal(sdra_redactor_text(r, "", 0, &out, NULL, NULL, &err), 0);
    assert_string_equal(out, "");
    free(out);
    sdra_redactor_destroy(r);
}

/* ---- audio ---- */

static void write_wav(const char *path, int rate, int n, int channels)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint32_t data = (uint32_t)(n * channels * 2);
    unsigned char h[44] = "RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0";
    h[22] = (unsigned char)channels;
    for (int k = 0; k < 4; k++) {
        h[4 + k] = (unsigned char)((36 + data) >> (8 * k));
        h[24 + k] = (unsigned char)((uint32_t)rate >> (8 * k));
        h[28 + k] = (unsigned char)((uint32_t)(rate * channels * 2) >> (8 * k));
        h[40 + k] = (unsigned char)(data >> (8 * k));
    }
    h[32] = (unsigned char)(channels * 2);
    h[34] = 16;
    memcpy(h + 36, "data", 4);
    fwrite(h, 1, 44, f);
    for (int i = 0; i < n; i++)
        for (int c = 0; c < channels; c++) {
            int16_t v = (int16_t)(8000 * sin(2 * M_PI * 440.0 * i / rate));
            fwrite(&v, 2, 1, f);
        }
    fclose(f);
}

static double rms(const int16_t *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return n ? sqrt(s / (double)n) : 0;
}

static void audio_silence_and_tone(void **state)
{
    (void)state;
    const char *tmpd = getenv("SDRA_TEST_TMP");
    char dir[512], in[600], out[600], out2[600];
    snprintf(dir, sizeof dir, "%s/privacy", tmpd ? tmpd : "/tmp");
    mkdir(tmpd ? tmpd : "/tmp", 0700);
    mkdir(dir, 0700);
    snprintf(in, sizeof in, "%s/in.wav", dir);
    snprintf(out, sizeof out, "%s/out.wav", dir);
    snprintf(out2, sizeof out2, "%s/tone.wav", dir);
    write_wav(in, 16000, 16000 * 4, 2); /* 4 s stereo */
    sdra_redact_span sp = {SDRA_REDACT_CARD, 1, 1.0, 2.0};
    sdra_redact_audio_params ap = sdra_redact_audio_default_params();
    ap.pad_s = 0.1;
    sdra_error err = {0};
    assert_int_equal(sdra_redact_audio(in, out, &sp, 1, &ap, &err), 0);
    int16_t **ch = NULL, *mix = NULL;
    size_t nf = 0;
    int nch = 0;
    sdra_audio_params par = sdra_audio_default_params();
    assert_int_equal(sdra_audio_load(out, &par, &ch, &mix, &nf, &nch, &err), 0);
    assert_int_equal(nch, 2);
    assert_int_equal(nf, 64000);
    for (int c = 0; c < 2; c++) {
        assert_true(rms(ch[c] + 14400, 33600 - 14400) == 0.0); /* 0.9-2.1 s: the span padded */
        assert_true(rms(ch[c] + 16000 * 3, 8000) > 5000); /* untouched after */
        assert_true(rms(ch[c], 8000) > 5000);             /* and before */
        free(ch[c]);
    }
    free(ch);
    free(mix);
    ap.tone = 1;
    assert_int_equal(sdra_redact_audio(in, out2, &sp, 1, &ap, &err), 0);
    assert_int_equal(sdra_audio_load(out2, &par, &ch, &mix, &nf, &nch, &err), 0);
    double r = rms(ch[0] + 16000, 16000);
    assert_true(r > 2000 && r < 2600); /* 3277 / sqrt(2) */
    for (int c = 0; c < nch; c++)
        free(ch[c]);
    free(ch);
    free(mix);
    /* bad inputs: a missing file, a directory as output */
    assert_true(sdra_redact_audio("/nonexistent.wav", out, &sp, 1, &ap, &err) < 0);
    assert_int_equal(sdra_redact_audio(in, dir, &sp, 1, &ap, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "not a regular file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(redact_card),
        cmocka_unit_test(redact_national_id),
        cmocka_unit_test(redact_phone),
        cmocka_unit_test(redact_email),
        cmocka_unit_test(redact_bank),
        cmocka_unit_test(redact_dob),
        cmocka_unit_test(redact_not_pii),
        cmocka_unit_test(redact_classes_and_markers),
        cmocka_unit_test(redact_report_counts),
        cmocka_unit_test(transcript_spans_and_times),
        cmocka_unit_test(transcript_across_utterances),
        cmocka_unit_test(transcript_punctuation_and_text_only),
        cmocka_unit_test(analysis_pass),
        cmocka_unit_test(text_limits),
        cmocka_unit_test(audio_silence_and_tone),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
