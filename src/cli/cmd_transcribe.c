/*
 * cmd_transcribe.c - `sdra transcribe AUDIO`: audio -> speaker-separated, time-stamped
 * transcript (sdra.transcript/1 JSON, text, WebVTT or SRT). AUDIO "-" reads a WAV (or, with
 * --input-format s16le, raw 16-bit PCM) stream from stdin and prints each utterance as one
 * JSON line as soon as it is final. A user of the transcribe library like any other.
 */
#include "cli.h"
#include "sdra/transcribe.h"
#include "sdra/transcript.h"
#include "sdra/util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: sdra transcribe AUDIO [options]\n\n"
        "Transcribes a call recording (WAV, FLAC, MP3, Ogg, M4A, WebM, ...; never a playlist)\n"
        "into a speaker-separated, time-stamped transcript. Stereo: one party per channel.\n"
        "Mono: speakers are found by clustering. AUDIO '-' reads a stream from stdin and\n"
        "prints one JSON line per utterance as soon as it is final.\n\n"
        "options:\n"
        "  -o, --output FILE       write the transcript there (default: stdout); a regular file is\n"
        "                          replaced atomically (0600), a device or FIFO written through\n"
        "  -f, --format F          json|text|vtt|srt (default json; txt is an alias of text)\n"
        CLI_TR_HELP
        "  --rep-name NAME         the rep's first name (helps tell rep from prospect)\n"
        "  --company NAME          the rep's company (same)\n"
        "  --contact-name NAME     the prospect's name (same: who introduces themself, who\n"
        "                          is greeted; docs/diarization.md#roles)\n"
        CLI_ASR_HELP
        "  --input-format F        stdin: FFmpeg format name (wav, s16le, ...)\n"
        "  --raw-rate HZ           s16le stdin: sample rate (default 16000)\n"
        "  --raw-channels N        s16le stdin: channels (default 1)\n"
        "  -q, --quiet             no progress output\n"
        "  --config FILE           options from FILE first (default $SDRA_CONFIG; docs/config.md)\n"
        "  -h, --help              this text\n");
}

static int print_line(void *ud, const sdra_transcript *t, const sdra_utterance *u)
{
    (void)ud;
    json_t *j = sdra_utterance_to_json(t, u);
    if (!j)
        return 1;
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    json_decref(j);
    if (!s)
        return 1;
    puts(s);
    fflush(stdout);
    free(s);
    return 0;
}

int cmd_transcribe(int argc, char **argv)
{
    enum { O_REPNAME = 256, O_COMPANY, O_CONTACT, O_INFMT, O_RAWRATE, O_RAWCH };
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"rep-name", required_argument, NULL, O_REPNAME},
        {"company", required_argument, NULL, O_COMPANY},
        {"contact-name", required_argument, NULL, O_CONTACT},
        {"input-format", required_argument, NULL, O_INFMT},
        {"raw-rate", required_argument, NULL, O_RAWRATE},
        {"raw-channels", required_argument, NULL, O_RAWCH},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        CLI_ASR_LONGOPTS,
        CLI_TR_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    sdra_transcribe_params p = sdra_transcribe_default_params();
    cli_asr asr;
    cli_asr_init(&asr);
    const char *output = NULL;
    int fmt = SDRA_TFMT_JSON;
    bool quiet = false;
    CLI_CONFIG("transcribe", opts, argc, argv);
    long v;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:f:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'f':
            if ((fmt = sdra_transcript_format_parse(optarg)) < 0)
                return cli_usage_error("transcribe", "unknown format '%s' (json|text|vtt|srt)", optarg);
            break;
        case O_REPNAME: p.rep_name = optarg; break;
        case O_COMPANY: p.company = optarg; break;
        case O_CONTACT: p.contact_name = optarg; break;
        case O_INFMT: p.format_hint = optarg; break;
        case O_RAWRATE:
            if ((v = cli_parse_count(optarg)) < 8000 || v > 192000)
                return cli_usage_error("transcribe", "--raw-rate wants 8000..192000, not '%s'", optarg);
            p.raw_rate_hz = (int)v;
            break;
        case O_RAWCH:
            if ((v = cli_parse_count(optarg)) < 1 || v > 8)
                return cli_usage_error("transcribe", "--raw-channels wants 1..8, not '%s'", optarg);
            p.raw_channels = (int)v;
            break;
        case 'q': quiet = true; break;
        case 'h': usage(stdout); return SDRA_EXIT_OK;
        case ':': return cli_usage_error("transcribe", "option '%s' needs a value", argv[optind - 1]);
        default:
            if ((v = cli_asr_option(&asr, "transcribe", c, optarg)) >= 0 ||
                (v = cli_transcribe_option(&p, "transcribe", c, optarg)) >= 0) {
                if (v)
                    return (int)v;
                break;
            }
            return cli_usage_error("transcribe", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if ((v = cli_asr_check(&asr, "transcribe")) != 0)
        return (int)v;
    p.backend = asr.backend;
    p.remote = &asr.remote;
    p.chunk_s = asr.chunk_s;
    if (optind != argc - 1)
        return cli_usage_error("transcribe", optind >= argc ? "missing AUDIO" : "one AUDIO only");
    const char *audio = argv[optind];
    sdra_error err = {0};
    sdra_transcript *t = NULL;
    int rc;
    /* a target that cannot be written fails now, not after the transcription */
    if (output && sdra_file_write_check(output, &err) < 0)
        return cli_fail(&err);

    if (!strcmp(audio, "-")) {
        rc = sdra_transcribe_stream(output ? &t : NULL, audio, &p, print_line, NULL, &err);
    } else {
        sdra_progress prog = cli_progress(quiet);
        rc = sdra_transcribe_file(&t, audio, &p, &prog, &err);
        cli_progress_done();
    }
    if (rc < 0)
        return cli_fail(&err);
    if (t && (output || strcmp(audio, "-"))) {
        if (!output) {
            rc = sdra_transcript_write(t, (sdra_transcript_format)fmt, stdout, &err);
        } else { /* rendered in memory, then written like every other output (0600, atomic) */
            char *buf = NULL;
            size_t n = 0;
            FILE *f = open_memstream(&buf, &n);
            if (!f)
                rc = sdra_error_set(&err, SDRA_ENOMEM, "%s: out of memory", output);
            else {
                rc = sdra_transcript_write(t, (sdra_transcript_format)fmt, f, &err);
                if (fclose(f) != 0 && rc == 0)
                    rc = sdra_error_set(&err, SDRA_ENOMEM, "%s: out of memory", output);
            }
            if (rc == 0) {
                fflush(stdout);
                rc = sdra_file_write_atomic(output, buf, n, &err);
            }
            free(buf);
        }
    }
    sdra_transcript_destroy(t);
    return rc < 0 ? cli_fail(&err) : SDRA_EXIT_OK;
}
