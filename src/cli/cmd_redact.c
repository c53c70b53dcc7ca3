/*
 * cmd_redact.c - `sdra redact INPUT [-o OUT] [--classes LIST] [--audio IN --audio-out OUT]`:
 * removes personal data (cards, national ids, phones, e-mails, bank details, dates of birth)
 * from a transcript (any format sdra_transcript_load reads), an sdra.analysis/1 document or,
 * with --text, any text file; optionally writes a copy of the call's audio with the redacted
 * spans silenced or toned. Just a user of sdra/privacy.h.
 */
#include "cli.h"
#include "sdra/privacy.h"
#include "sdra/transcript.h"
#include "sdra/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_INPUT_BYTES (256u << 20)

static void help(FILE *f)
{
    fprintf(f,
            "usage: sdra redact INPUT [-o OUT] [--classes LIST] [--audio IN --audio-out OUT] [--tone]\n"
            "\n"
            "Replaces card numbers (Luhn-checked), national ids (US SSN, UK NINO), phone numbers,\n"
            "e-mail addresses, bank details (IBAN, routing, account, sort code) and dates of birth\n"
            "with markers such as [REDACTED:card], written or spoken as words ('four one one one',\n"
            "'jordan at northwind dot com'). See docs/privacy-redaction.md.\n"
            "\n"
            "INPUT  a transcript (sdra JSON, text dialogue, WebVTT, SRT), an sdra.analysis/1\n"
            "       document, or with --text any text file; '-' = stdin\n"
            "options:\n"
            "  --classes LIST   card,national_id,phone,email,bank,dob or all (default all)\n"
            "  --marker M       class ([REDACTED:card], default) or plain ([REDACTED])\n"
            "  --text           treat INPUT as plain text (an e-mail, notes)\n"
            "  --format F       transcript output: json (default), text, vtt, srt\n"
            "  -o, --output F   write to F instead of stdout\n"
            "  --audio IN       the call's recording; with --audio-out writes a copy (16-bit WAV)\n"
            "  --audio-out OUT  in which every redacted span is silence (or a tone, --tone)\n"
            "  --tone           a 1 kHz tone instead of silence\n"
            "  --pad-ms N       widen each audio span by N ms on both sides (default 150)\n"
            "  --quiet          no summary on stderr\n");
}

/* Regular files are replaced atomically; a character device or FIFO (/dev/null, a pipe) is
 * written straight through, never renamed over; other kinds of file are refused. */
static int write_out(const char *outp, const char *data, size_t len, sdra_error *err)
{
    struct stat st;
    FILE *f = stdout;
    if (outp && strcmp(outp, "-")) {
        if (stat(outp, &st) < 0 || S_ISREG(st.st_mode))
            return sdra_file_write_atomic(outp, data, len, err);
        if (!S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode))
            return sdra_error_set(err, SDRA_EINVAL, "%s: not a regular file, device or pipe", outp);
        if (!(f = fopen(outp, "wb")))
            return sdra_error_set(err, sdra_code_from_errno(errno), "%s: %s", outp, strerror(errno));
    }
    int bad = fwrite(data, 1, len, f) != len || fflush(f) != 0;
    if (f != stdout)
        bad |= fclose(f) != 0;
    if (bad)
        return sdra_error_set(err, SDRA_EIO, "%s: write failed", f == stdout ? "stdout" : outp);
    return 0;
}

int cmd_redact(int argc, char **argv)
{
    const char *in = NULL, *outp = NULL, *audio_in = NULL, *audio_out = NULL, *fmt = "json";
    bool text_mode = false, quiet = false;
    sdra_redact_params p = sdra_redact_default_params();
    sdra_redact_audio_params ap = sdra_redact_audio_default_params();
    sdra_error err = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help(stdout);
            return SDRA_EXIT_OK;
        }
        if (!strcmp(a, "--text") || !strcmp(a, "--tone") || !strcmp(a, "--quiet")) {
            text_mode |= !strcmp(a, "--text");
            ap.tone |= !strcmp(a, "--tone");
            quiet |= !strcmp(a, "--quiet");
            continue;
        }
        bool takes = !strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--classes") ||
                     !strcmp(a, "--marker") || !strcmp(a, "--format") || !strcmp(a, "--audio") ||
                     !strcmp(a, "--audio-out") || !strcmp(a, "--pad-ms");
        if (takes) {
            if (i + 1 >= argc)
                return cli_usage_error("redact", "%s needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--classes")) {
                if (sdra_redact_classes_parse(v, &p.classes, &err) < 0)
                    return cli_usage_error("redact", "--classes: %s", err.msg);
            } else if (!strcmp(a, "--marker")) {
                if (!strcmp(v, "class"))
                    p.marker = SDRA_REDACT_MARK_CLASS;
                else if (!strcmp(v, "plain"))
                    p.marker = SDRA_REDACT_MARK_PLAIN;
                else
                    return cli_usage_error("redact", "--marker is class or plain, not '%s'", v);
            } else if (!strcmp(a, "--format")) {
                if (sdra_transcript_format_parse(v) < 0)
                    return cli_usage_error("redact", "--format is json, text, vtt or srt, not '%s'", v);
                fmt = v;
            } else if (!strcmp(a, "--pad-ms")) {
                long ms = cli_parse_count(v);
                if (ms < 0 || ms > 5000)
                    return cli_usage_error("redact", "--pad-ms needs a number from 0 to 5000, not '%s'", v);
                ap.pad_s = (double)ms / 1000.0;
            } else if (!strcmp(a, "--audio"))
                audio_in = v;
            else if (!strcmp(a, "--audio-out"))
                audio_out = v;
            else
                outp = v;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("redact", "unknown option '%s'", a);
        } else if (!in) {
            in = a;
        } else {
            return cli_usage_error("redact", "more than one input given");
        }
    }
    if (!in) {
        help(stderr);
        return SDRA_EXIT_USAGE;
    }
    if (!audio_in != !audio_out)
        return cli_usage_error("redact", "--audio and --audio-out go together");
    if (audio_in && text_mode)
        return cli_usage_error("redact", "--audio needs a transcript (its word times), not --text");

    sdra_redactor *r = NULL;
    sdra_transcript *t = NULL;
    json_t *doc = NULL, *meta = NULL;
    char *text = NULL, *red = NULL, *dump = NULL;
    size_t len = 0, red_len = 0;
    sdra_redact_report rep = {0};
    FILE *mem = NULL;
    int rc = SDRA_EXIT_FAIL;
    if (sdra_redactor_create(&r, &p, &err) < 0)
        goto fail;
    if (text_mode) {
        if (sdra_file_read(&text, &len, in, MAX_INPUT_BYTES, &err) < 0 ||
            sdra_redactor_text(r, text, len, &red, &red_len, &rep, &err) < 0 ||
            write_out(outp, red, red_len, &err) < 0)
            goto fail;
        goto summary;
    }
    /* an analysis document is redacted as JSON; anything else is read as a transcript */
    if (strcmp(in, "-") && sdra_json_load_file(&doc, in, MAX_INPUT_BYTES, NULL) == 0 &&
        json_is_object(doc) && !strcmp(json_string_value(json_object_get(doc, "schema")) ?: "", "sdra.analysis/1")) {
        if (audio_in)
            return json_decref(doc), sdra_redactor_destroy(r), cli_usage_error("redact", "--audio needs a transcript, not an analysis");
        if (sdra_redactor_json(r, doc, &rep, &err) < 0 || !(dump = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER)))
            goto fail;
        size_t dl = strlen(dump);
        char *nl = realloc(dump, dl + 2);
        if (!nl)
            goto fail;
        dump = nl;
        memcpy(dump + dl, "\n", 2);
        if (write_out(outp, dump, dl + 1, &err) < 0)
            goto fail;
        goto summary;
    }
    json_decref(doc);
    doc = NULL;
    if (sdra_transcript_load(&t, in, NULL, &err) < 0 || sdra_redactor_transcript(r, t, &rep, &err) < 0)
        goto fail;
    {
        /* add the spans an earlier run recorded, and its classes, so the audio covers both */
        unsigned cls = p.classes;
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(json_object_get(t->meta, "redaction"), "classes"), i, v) {
            for (int k = 0; k < SDRA_REDACT_N_CLASSES; k++)
                if (json_is_string(v) && !strcmp(json_string_value(v), sdra_redact_class_name(1u << k)))
                    cls |= 1u << k;
        }
        if (sdra_redact_report_add_recorded(&rep, json_object_get(t->meta, "redaction")) < 0)
            goto nomem;
        if (!t->meta && !(t->meta = json_object()))
            goto nomem;
        if (!(meta = sdra_redact_report_to_json(&rep, cls, t)) || json_object_set(t->meta, "redaction", meta) < 0)
            goto nomem;
    }
    if (!(mem = open_memstream(&dump, &len)))
        goto nomem;
    if (sdra_transcript_write(t, (sdra_transcript_format)sdra_transcript_format_parse(fmt), mem, &err) < 0) {
        fclose(mem);
        mem = NULL;
        goto fail;
    }
    fclose(mem);
    mem = NULL;
    if (audio_in && sdra_redact_audio(audio_in, audio_out, rep.spans, rep.n_spans, &ap, &err) < 0)
        goto fail;
    if (write_out(outp, dump, len, &err) < 0)
        goto fail;
summary:
    if (!quiet) {
        fprintf(stderr, "sdra: redacted %zu value%s", rep.n_total, rep.n_total == 1 ? "" : "s");
        const char *sep = " (";
        for (int k = 0; k < SDRA_REDACT_N_CLASSES; k++)
            if (rep.n_by_class[k]) {
                fprintf(stderr, "%s%s %zu", sep, sdra_redact_class_name(1u << k), rep.n_by_class[k]);
                sep = ", ";
            }
        fprintf(stderr, "%s", rep.n_total ? ")" : "");
        if (audio_out)
            fprintf(stderr, "; %zu audio span%s %s in %s", rep.n_spans, rep.n_spans == 1 ? "" : "s",
                    ap.tone ? "toned" : "silenced", audio_out);
        fprintf(stderr, "\n");
    }
    rc = SDRA_EXIT_OK;
    goto done;
nomem:
    sdra_error_set(&err, SDRA_ENOMEM, "out of memory");
fail:
    if (!err.code)
        sdra_error_set(&err, SDRA_ENOMEM, "out of memory");
    rc = cli_fail(&err);
done:
    if (mem)
        fclose(mem);
    json_decref(meta);
    json_decref(doc);
    free(text);
    free(red);
    free(dump);
    sdra_redact_report_release(&rep);
    sdra_transcript_destroy(t);
    sdra_redactor_destroy(r);
    return rc;
}
