/*
 * redact.c - `serve --redact CLASSES --redact-audio silence|tone`: once the transcribe stage has
 * written a redacted transcript, the spans it recorded (meta.redaction) are covered in the
 * stored audio, which is replaced; the original upload is removed and never served again
 * (docs/privacy-redaction.md). srv_call_audio_replace is the one function that rewrites stored
 * audio after upload, so whatever else must happen to stored audio (encryption at rest) has one
 * place to go.
 */
#include "internal.h"
#include "sdra/seal.h"

#include "sdra/privacy.h"
#include "sdra/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REDACTED_NAME "audio.wav"     /* sdra_redact_audio writes 16-bit PCM WAV */
#define REDACTING_NAME "audio.redacting.wav"
#define TRANSCRIPT_MAX_BYTES (256u << 20)

/* call.json names the audio the stages read. */
static int call_json_set_audio(const char *dir, const char *name, sdra_error *err)
{
    char path[PATH_MAX];
    json_t *doc = NULL;
    if (sdra_path_join(path, sizeof path, dir, "call.json") < 0)
        return sdra_error_set(err, SDRA_ELIMIT, "call directory path too long");
    int rc = sdra_json_load_file(&doc, path, 1u << 20, err);
    if (rc < 0)
        return rc;
    if (json_object_set_new(doc, "audio", json_string(name)) < 0)
        rc = sdra_error_set(err, SDRA_ENOMEM, "call.json: out of memory");
    else
        rc = sdra_json_write_file(path, doc, err);
    json_decref(doc);
    return rc;
}

/* Removes every audio.* file of the call but keep (the upload under its old name, a temporary
 * file a crash left). */
static void remove_other_audio(const char *dir, const char *keep)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "audio.", 6) || !strcmp(e->d_name, keep))
            continue;
        char path[PATH_MAX];
        if (sdra_path_join(path, sizeof path, dir, e->d_name) == 0 && unlink(path) != 0 && errno != ENOENT)
            sdra_log(SDRA_LOG_WARN, "could not remove %s: %s", e->d_name, strerror(errno));
    }
    closedir(d);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int srv_call_audio_replace(struct sdra_server *s, const char *call_id, const char *dir, const char *new_path,
                           const char *name, json_t *note, sdra_error *err)
{
    char path[PATH_MAX];
    sdra_store_call sc = {0};
    json_t *meta = NULL;
    int rc = sdra_store_call_get(s->store, NULL, call_id, &sc, err); /* the server's own call */
    if (rc == 0 && (rc = srv_meta_open(s, &sc.meta_json, err)) < 0)
        sdra_store_call_release(&sc);
    if (rc < 0)
        return rc;
    meta = json_loads(sc.meta_json ? sc.meta_json : "{}", 0, NULL);
    sdra_store_call_release(&sc);
    if (!json_is_object(meta)) {
        rc = sdra_error_set(err, SDRA_EINTERNAL, "call %s: stored metadata is not a JSON object", call_id);
        goto done;
    }
    if (sdra_path_join(path, sizeof path, dir, name) < 0) {
        rc = sdra_error_set(err, SDRA_ELIMIT, "call directory path too long");
        goto done;
    }
    /* the new file takes the name (replacing an upload of that name at once), then the
     * metadata names it, then the old upload goes: a crash in between leaves a call whose
     * metadata names a complete file, and the stage that called this runs again */
    if (rename(new_path, path) != 0) {
        rc = sdra_error_set(err, sdra_code_from_errno(errno), "replacing the stored audio: %s", strerror(errno));
        goto done;
    }
    const char *old = json_string_value(json_object_get(meta, "audio"));
    if ((!old || strcmp(old, name)) && (rc = call_json_set_audio(dir, name, err)) < 0)
        goto done;
    json_object_set_new(meta, "audio", json_string(name));
    if (note)
        json_object_set(meta, "audio_redacted", note);
    char *text = json_dumps(meta, JSON_COMPACT);
    if (!text) {
        rc = sdra_error_set(err, SDRA_ENOMEM, "call metadata: out of memory");
        goto done;
    }
    const sdra_seal_ops *seal = s->kr ? sdra_seal_get() : NULL; /* encrypted at rest: sealed again */
    if (seal && seal->seal_text) {
        char *sealed = seal->seal_text(seal->user_data, call_id, text);
        free(text);
        if (!(text = sealed)) {
            rc = sdra_error_set(err, SDRA_EINTERNAL, "call %s: sealing its metadata failed", call_id);
            goto done;
        }
    }
    rc = sdra_store_call_set_meta(s->store, NULL, call_id, text, err);
    free(text);
    if (rc < 0)
        goto done;
    remove_other_audio(dir, name);
done:
    json_decref(meta);
    return rc;
}

int srv_call_audio_redact(struct sdra_server *s, const char *call_id, const char *dir, sdra_error *err)
{
    char path[PATH_MAX], in[PATH_MAX], out[PATH_MAX], detail[96];
    json_t *doc = NULL, *meta = NULL, *note = NULL;
    sdra_redact_report rep = {0};
    sdra_store_call sc = {0};
    const char *mode = s->p.redact_audio == 2 ? "tone" : "silence";
    int rc;
    if (sdra_path_join(path, sizeof path, dir, "transcript.json") < 0 ||
        sdra_path_join(out, sizeof out, dir, REDACTING_NAME) < 0)
        return sdra_error_set(err, SDRA_ELIMIT, "call directory path too long");
    if ((rc = sdra_json_load_file(&doc, path, TRANSCRIPT_MAX_BYTES, err)) < 0)
        goto done;
    json_t *red = json_object_get(json_object_get(doc, "meta"), "redaction");
    if (!json_is_object(red)) { /* the stage redacts whenever --redact is on: a bug */
        rc = sdra_error_set(err, SDRA_EINTERNAL, "transcript.json records no redaction: the audio was not redacted");
        goto done;
    }
    if ((rc = sdra_redact_report_add_recorded(&rep, red)) < 0) {
        sdra_error_set(err, rc, "redacting the audio: out of memory");
        goto done;
    }
    if ((rc = sdra_store_call_get(s->store, NULL, call_id, &sc, err)) < 0 ||
        (rc = srv_meta_open(s, &sc.meta_json, err)) < 0)
        goto done;
    meta = json_loads(sc.meta_json ? sc.meta_json : "{}", 0, NULL);
    const char *audio = json_string_value(json_object_get(meta, "audio"));
    if (!audio || strchr(audio, '/') || audio[0] == '.' || sdra_path_join(in, sizeof in, dir, audio) < 0) {
        rc = sdra_error_set(err, SDRA_EINTERNAL, "call %s has no stored audio to redact", call_id);
        goto done;
    }
    snprintf(detail, sizeof detail, "%s over %zu spans", mode, rep.n_spans);
    if ((rc = srv_audit_write_org(s, sc.org, "server", "-", "audio.redact", call_id, detail, err)) < 0)
        goto done; /* no entry, no change */
    sdra_redact_audio_params ap = sdra_redact_audio_default_params();
    ap.tone = s->p.redact_audio == 2;
    if ((rc = sdra_redact_audio(in, out, rep.spans, rep.n_spans, &ap, err)) < 0) {
        unlink(out);
        goto done;
    }
    note = json_pack("{s:s,s:I}", "mode", mode, "spans", (json_int_t)rep.n_spans);
    if (!note) {
        unlink(out);
        rc = sdra_error_set(err, SDRA_ENOMEM, "call metadata: out of memory");
        goto done;
    }
    if ((rc = srv_call_audio_replace(s, call_id, dir, out, REDACTED_NAME, note, err)) < 0)
        unlink(out);
done:
    json_decref(note);
    json_decref(meta);
    json_decref(doc);
    sdra_store_call_release(&sc);
    sdra_redact_report_release(&rep);
    return rc;
}
