/*
 * sdra/privacy.h - PII redaction of transcripts, analyses, free text and stored audio.
 *
 * Finds card numbers (13-19 digits passing Luhn, or failing it right after "card"), national
 * ids (US SSN 3-2-4 within the SSA's issued ranges, UK NINO), phone numbers (7-15 digits in
 * E.164 / NANP / common shapes), e-mail addresses, bank details (IBAN with its mod-97 check,
 * US routing numbers with the ABA checksum, account numbers and sort codes after words that
 * introduce them) and dates of birth (a date after "born", "date of birth", "DOB",
 * "birthday"), written ("4111-1111-1111-1111") or spoken as words, the way speech recognition
 * spells them ("four one one one ...", "double five", "oh" for zero, "jordan at northwind dot
 * com"), and replaces each with a marker such as "[REDACTED:card]". What is and is not caught
 * is in docs/privacy-redaction.md; the word lists are data/privacy/words.txt.
 *
 * In a transcript the words of a found value become one marker word that keeps the value's
 * start and end times, utterance texts are rejoined, and the report lists the redacted time
 * spans, which sdra_redact_audio() silences (or covers with a tone) in the stored audio.
 *
 *     sdra_redact_params p = sdra_redact_default_params();
 *     sdra_redact_classes_parse("card,phone,email", &p.classes, &err);
 *     sdra_redact_report rep = {0};
 *     if (sdra_redact_transcript(t, &p, &rep, &err) < 0) ...
 *     sdra_redact_audio_params ap = sdra_redact_audio_default_params();
 *     sdra_redact_audio("call.wav", "call.redacted.wav", rep.spans, rep.n_spans, &ap, &err);
 *     sdra_redact_report_release(&rep);
 *
 * The module holds no global state; a redactor (the loaded word lists) may be shared by
 * threads once created, since redaction only reads it.
 */
#ifndef SDRA_PRIVACY_H
#define SDRA_PRIVACY_H

#include <stddef.h>
#include <jansson.h>
#include "sdra/error.h"
#include "sdra/transcript.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The classes of personal data, as bits of sdra_redact_params.classes. */
typedef enum sdra_redact_class {
    SDRA_REDACT_CARD = 1u << 0,        /* "card" */
    SDRA_REDACT_NATIONAL_ID = 1u << 1, /* "national_id" (US SSN, UK NINO) */
    SDRA_REDACT_PHONE = 1u << 2,       /* "phone" */
    SDRA_REDACT_EMAIL = 1u << 3,       /* "email" */
    SDRA_REDACT_BANK = 1u << 4,        /* "bank" (IBAN, routing, account, sort code) */
    SDRA_REDACT_DOB = 1u << 5,         /* "dob" */
} sdra_redact_class;

#define SDRA_REDACT_N_CLASSES 6
#define SDRA_REDACT_ALL 0x3fu

typedef enum sdra_redact_marker {
    SDRA_REDACT_MARK_CLASS = 0, /* "[REDACTED:card]" (default) */
    SDRA_REDACT_MARK_PLAIN,     /* "[REDACTED]": does not even say what kind of value it was */
} sdra_redact_marker;

typedef struct sdra_redact_params {
    unsigned classes;          /* SDRA_REDACT_* bits; default SDRA_REDACT_ALL */
    sdra_redact_marker marker; /* default SDRA_REDACT_MARK_CLASS */
    size_t max_text_bytes;     /* longest text redacted in one call; default 64 MiB */
} sdra_redact_params;

sdra_redact_params sdra_redact_default_params(void);

/* Parses "card,phone,email", "all" or "none" (names as in the enum comments; "ssn" and "id"
 * are accepted for national_id) into *out. SDRA_EINVAL naming the unknown class otherwise. */
int sdra_redact_classes_parse(const char *list, unsigned *out, sdra_error *err);

/* "card", "national_id", ... for one class bit; "unknown" otherwise. */
const char *sdra_redact_class_name(unsigned cls);

/* One redacted value in a transcript: its class bit, speaker index and time span (seconds). */
typedef struct sdra_redact_span {
    unsigned cls;
    int speaker;
    double start_s, end_s;
} sdra_redact_span;

/* What a redaction did. Start zeroed; calls add to it; release frees the spans. */
typedef struct sdra_redact_report {
    size_t n_by_class[SDRA_REDACT_N_CLASSES]; /* index = bit position of the class */
    size_t n_total;
    sdra_redact_span *spans; /* transcript redaction only, in time order */
    size_t n_spans, cap_spans;
} sdra_redact_report;

void sdra_redact_report_release(sdra_redact_report *rep);

/* {"classes":["card",...],"counts":{"card":1,...},"spans":[{"class":"card","speaker":"S2",
 * "start":1.2,"end":6.9}]}: what transcript meta.redaction holds. t may be NULL (speaker ids
 * then left out). New reference or NULL on ENOMEM. Holds no redacted value. */
json_t *sdra_redact_report_to_json(const sdra_redact_report *rep, unsigned classes,
                                   const sdra_transcript *t);

/* Adds the spans an earlier redaction recorded (a transcript's meta.redaction, the document
 * above) to rep, speaker -1: their words are markers now, their audio is still to be covered.
 * Spans without numeric times are skipped. 0, or SDRA_ENOMEM with rep keeping what it had. */
int sdra_redact_report_add_recorded(sdra_redact_report *rep, const json_t *redaction);

/* The loaded word lists (data/privacy/words.txt) plus params. */
typedef struct sdra_redactor sdra_redactor;

/* Loads the word lists from sdra_share_dir(). SDRA_ENOTFOUND / SDRA_EINVAL (file:line) when
 * they are missing or malformed. p NULL = defaults. */
int sdra_redactor_create(sdra_redactor **out, const sdra_redact_params *p, sdra_error *err);
void sdra_redactor_destroy(sdra_redactor *r); /* NULL is fine */

/* Redacts text (len bytes, need not be NUL-terminated) into a new NUL-terminated heap string
 * (*out, free() it; *out_len may be NULL). SDRA_ELIMIT beyond max_text_bytes; on failure *out
 * is untouched. rep may be NULL. */
int sdra_redactor_text(const sdra_redactor *r, const char *text, size_t len, char **out,
                       size_t *out_len, sdra_redact_report *rep, sdra_error *err);

/* Redacts a transcript in place. The word sequence is read across word and utterance
 * boundaries (consecutive utterances of one speaker continue a digit sequence, and so do two
 * speakers' words less than 0.3 s apart, since a diarizer may cut one breath in two; a trigger
 * phrase may be said by the other speaker, as in "what's your date of birth?"). The words of a
 * value become one marker word with the first word's start and the last word's end (a value
 * that runs over two utterances leaves one marker in each); changed utterances get their text
 * rejoined from the words; utterances without words have their text redacted. Adds each
 * value's span to rep (may be NULL). On SDRA_ENOMEM the transcript may be partly redacted. */
int sdra_redactor_transcript(const sdra_redactor *r, sdra_transcript *t, sdra_redact_report *rep,
                             sdra_error *err);

/* Redacts every string of a JSON document in place (an sdra.analysis/1 document: quotes,
 * texts, matches, summary, outcome, due_said, names), except identifiers and enumerations
 * (keys schema, backend, id, speaker, role, type, kind, owner). Depth is limited to 64. */
int sdra_redactor_json(const sdra_redactor *r, json_t *doc, sdra_redact_report *rep,
                       sdra_error *err);

/* One-shot forms: create a redactor with p, run, destroy. */
int sdra_redact_text(const char *text, size_t len, const sdra_redact_params *p, char **out,
                     size_t *out_len, sdra_redact_report *rep, sdra_error *err);
int sdra_redact_transcript(sdra_transcript *t, const sdra_redact_params *p,
                           sdra_redact_report *rep, sdra_error *err);
int sdra_redact_analysis(json_t *analysis, const sdra_redact_params *p, sdra_redact_report *rep,
                         sdra_error *err);

/* 1 when a transcript document's meta.redaction says it was redacted for (at least) classes,
 * else 0. Lets a resumed run tell a redacted transcript from one written before redaction was
 * asked for. */
int sdra_redact_doc_covers(const json_t *transcript_doc, unsigned classes);

/* ---- audio ------------------------------------------------------------------------------ */

typedef struct sdra_redact_audio_params {
    int tone;          /* 0 = silence (default), 1 = a 1 kHz tone at -20 dBFS */
    double pad_s;      /* widen each span by this much on both sides (word times are
                        * approximate); default 0.15 */
    int rate_hz;       /* output rate; 0 = the source's rate (default) */
} sdra_redact_audio_params;

sdra_redact_audio_params sdra_redact_audio_default_params(void);

/* Decodes in_path with the audio module (any format it reads; every channel) and writes
 * out_path as 16-bit PCM WAV where every span (all channels) is silence or the tone. The file
 * is written to a temporary name beside out_path and renamed, so out_path is never half
 * written; an existing out_path that is not a regular file is refused (SDRA_EINVAL). Memory
 * stays bounded: the audio is streamed. */
int sdra_redact_audio(const char *in_path, const char *out_path, const sdra_redact_span *spans,
                      size_t n_spans, const sdra_redact_audio_params *p, sdra_error *err);

#ifdef __cplusplus
}
#endif
#endif
