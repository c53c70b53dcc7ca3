#!/usr/bin/env python3
"""Builds the telephone-band (8 kHz) acoustic model: the en-us model adapted with sphinxtrain.

Usage: scripts/build-narrowband-am.py --out DIR [--work DIR] [--model DIR] [--dict FILE]
                                      [--corpus FILE] [--adapt-corpus FILE] [--librivox DIR]
                                      [--sentences N] [--copies N] [--speeds LIST] [--tau T]
                                      [--no-map-var] [--mode mllr|map|mllr+map]

The en-us model is wideband (16 kHz, filters up to 6.8 kHz); a telephone line carries
300-3400 Hz, so on 8 kHz audio most of its Gaussians sit where the features no longer are.
This adapts it to the channel (docs/asr.md, "Telephone-band recognition"):

1. Training speech: every usable sentence of data/asr/sales-corpus.txt and of
   data/asr/adapt-corpus.txt (both written for the project, never taken from a fixture or the
   evaluation data), each rendered by one voice in turn: flite (rms, slt, awb, kal16),
   festival (cmu_us_slt_arctic_hts, and kal_diphone, ked_diphone when installed); plus
   pocketsphinx-testdata's LibriVox files. The generated calls (tests/fixtures/dialogues) and
   /work/shared/eval-data are never used: they are what the adapted model is measured on.
2. Each file goes through a simulated telephone channel: 300-3400 Hz band-pass, 8 kHz, G.711
   mu-law (sox), then back to 16 kHz with FFmpeg's resampler, as sdra's reader does it.
3. Features with the model's own feat.params (sphinx_fe, dithered as sdra dithers narrowband
   audio); -cmninit set to their cepstral mean; Baum-Welch statistics (bw) against the model;
   a global MLLR transform (mllr_solve) baked into the means (mllr_transform). The default
   stops there: MAP of means and variances after it (--mode mllr+map, map_adapt) fits the
   synthetic voices and cost words on the generated calls (docs/asr.md). The mixture weights
   stay the model's own (sendump): bw needs them as a mixture_weights file, which Debian's
   model lacks, so they are decoded from sendump for the statistics only.

Deterministic. Prints one line per step; on failure one line "narrowband-am: error: ..." and
exit status 1. About 1 min of CPU to render the speech the first time (kept in --work), then
about a minute of CPU for features and statistics (docs/asr.md).
"""
import argparse
import concurrent.futures
import hashlib
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile

SPHINXTRAIN = "/usr/lib/sphinxtrain"
VOICES = ["flite:rms", "flite:slt", "flite:awb", "flite:kal16", "festival:cmu_us_slt_arctic_hts"]
# Used when installed (scripts/install-deps.sh installs them): more speakers, other synthesis.
MORE_VOICES = ["festival:kal_diphone", "festival:ked_diphone"]
MODEL_FILES = ["means", "variances", "transition_matrices", "mdef", "sendump", "noisedict",
               "feat.params"]


class BuildError(Exception):
    pass


def log(msg):
    print("narrowband-am: " + msg, flush=True)


def run(cmd, logf=None, **kw):
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)
    except OSError as e:
        raise BuildError("%s: %s" % (cmd[0], e.strerror))
    if logf:
        with open(logf, "ab") as f:
            f.write(r.stdout)
    if r.returncode != 0:
        tail = r.stdout.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise BuildError("%s failed (exit %d): %s" % (os.path.basename(cmd[0]), r.returncode,
                                                      tail[0][:200]))
    return r.stdout


def tool(name):
    p = os.path.join(SPHINXTRAIN, name)
    if not os.access(p, os.X_OK):
        raise BuildError("%s missing (apt-get install sphinxtrain; scripts/install-deps.sh)" % p)
    return p


def write_s3(path, ints, floats):
    """A sphinxtrain parameter file: s3 header, byte-order magic, int32 dims, float32 data."""
    with open(path, "wb") as f:
        # No chksum0 attribute: its mere presence makes the readers expect a checksum.
        f.write(b"s3\nversion 1.0\n  endhdr\n")  # data aligned to 4 bytes, like sphinxtrain
        f.write(struct.pack("<I", 0x11223344))
        f.write(struct.pack("<%di" % len(ints), *ints))
        f.write(struct.pack("<i", len(floats)))
        f.write(struct.pack("<%df" % len(floats), *floats))


def sendump_to_mixw(sendump, out):
    """Decodes PocketSphinx's sendump (8-bit -log mixture weights, shifted by 10 bits, log base
    1.0001, stored per feature stream and codeword for all senones) into a sphinxtrain
    mixture_weights file (per senone, stream, codeword), each distribution normalised."""
    d = open(sendump, "rb").read()
    o = 0
    while True:
        n, = struct.unpack_from("<i", d, o)
        o += 4
        if n == 0:
            break
        o += n
    n_cw, n_sen = struct.unpack_from("<ii", d, o)
    o += 8
    n_feat = (len(d) - o) // (n_cw * n_sen)
    if n_feat < 1 or o + n_feat * n_cw * n_sen != len(d):
        raise BuildError("%s: unexpected layout (%d codewords, %d senones)" % (sendump, n_cw, n_sen))
    lut = [math.exp(-(v << 10) * math.log(1.0001)) for v in range(256)]
    w = [0.0] * (n_sen * n_feat * n_cw)
    for f in range(n_feat):
        for c in range(n_cw):
            row = d[o + (f * n_cw + c) * n_sen: o + (f * n_cw + c + 1) * n_sen]
            for s, v in enumerate(row):
                w[(s * n_feat + f) * n_cw + c] = lut[v]
    for i in range(0, len(w), n_cw):
        t = sum(w[i:i + n_cw])
        for j in range(i, i + n_cw):
            w[j] /= t
    write_s3(out, [n_sen, n_feat, n_cw], w)


def set_param(path, name, value):
    """Sets "name value" in a feat.params file (replaced, or appended)."""
    lines = [l for l in open(path).read().splitlines() if l.split()[:1] != [name]]
    lines.append("%s %s" % (name, value))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def cep_mean(featd, uids):
    """Mean of the 13 cepstra over the frames of the feature files (sphinx_fe's .mfc: an int32
    count of floats, then float32 frames, in the writer's byte order)."""
    tot, n = [0.0] * 13, 0
    for uid in uids:
        d = open(os.path.join(featd, uid + ".mfc"), "rb").read()
        for e in "<>":
            cnt, = struct.unpack_from(e + "i", d, 0)
            if cnt * 4 + 4 == len(d):
                break
        else:
            raise BuildError("%s.mfc: not a feature file" % uid)
        v = struct.unpack_from("%s%df" % (e, cnt), d, 4)
        for i in range(0, cnt - cnt % 13, 13):
            for j in range(13):
                tot[j] += v[i + j]
            n += 1
    if n == 0:
        raise BuildError("no feature frames")
    return [t / n for t in tot]


def load_dict(path):
    words = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            p = line.split()
            if p:
                words.setdefault(p[0].split("(")[0], True)
    return words


def pick_sentences(corpus, words, n):
    lines = []
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "{" in line:
                continue
            toks = line.split()
            if 3 <= len(toks) <= 25 and all(t in words for t in toks):
                lines.append(toks)
    if not lines:
        raise BuildError("%s: no usable sentence" % corpus)
    if n <= 0 or n >= len(lines):
        return [" ".join(t) for t in lines]
    step = max(1, len(lines) // n)
    return [" ".join(t) for t in lines[::step][:n]]


def key(*parts):
    return hashlib.sha1("|".join("%s" % p for p in parts).encode()).hexdigest()[:12]


def synth_many(batch, tmpd):
    """Renders [(voice, text, out)]: flite one by one, festival in one process per batch."""
    fest = []
    for voice, text, out in batch:
        kind, name = voice.split(":")
        if kind == "flite":
            run(["flite", "-voice", name, "-t", text, "-o", out + ".tmp.wav"])
        else:
            if not fest:  # a batch is one voice
                fest.append("(voice_%s)\n" % name)
            fest.append("(utt.save.wave (utt.synth (Utterance Text \"%s\")) \"%s\" 'riff)\n"
                        % (text, out + ".tmp.wav"))
    if fest:
        scm = os.path.join(tmpd, "s.scm")
        with open(scm, "w", encoding="utf-8") as f:
            f.writelines(fest)
        run(["festival", "-b", scm])
    for voice, _, out in batch:
        if not os.path.exists(out + ".tmp.wav") or os.path.getsize(out + ".tmp.wav") < 1000:
            raise BuildError("%s produced no audio" % voice)
        os.rename(out + ".tmp.wav", out)


def voice_available(voice):
    kind, name = voice.split(":")
    if kind == "flite":
        return True
    return any(os.path.isdir(os.path.join("/usr/share/festival/voices", lang, name))
               for lang in ("english", "us"))


def telephone(src, out, tmpd, speed=1.0):
    """300-3400 Hz band-pass, 8 kHz G.711 mu-law, back to 16 kHz s16 mono (FFmpeg resampler);
    speed other than 1 first changes tempo and pitch by that factor (sox speed)."""
    tel = os.path.join(tmpd, "tel.wav")
    run(["sox", "-R", "-D", "-V1", src, "-c", "1", "-r", "8000", "-e", "u-law", tel]
        + (["speed", "%g" % speed] if speed != 1.0 else []) + ["sinc", "300-3400"])
    run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", tel, "-ar", "16000", "-ac", "1",
         "-c:a", "pcm_s16le", "-fflags", "+bitexact", "-flags:a", "+bitexact", out])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--work")
    ap.add_argument("--model", default="/usr/share/pocketsphinx/model/en-us/en-us")
    ap.add_argument("--dict", default="/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict")
    ap.add_argument("--corpus", default=os.path.join(os.path.dirname(__file__), "..", "data",
                                                     "asr", "sales-corpus.txt"))
    ap.add_argument("--librivox", default="/usr/share/pocketsphinx/test/data/librivox")
    ap.add_argument("--sentences", type=int, default=0,
                    help="sentences of --corpus to use (0 = all)")
    ap.add_argument("--adapt-corpus", default=os.path.join(os.path.dirname(__file__), "..",
                                                           "data", "asr", "adapt-corpus.txt"),
                    help="general phone sentences written for the adaptation, all used")
    ap.add_argument("--copies", type=int, default=1, help="voices per sentence")
    ap.add_argument("--speeds", default="1", help="speed factors, each rendering at every one (e.g. 0.9,1,1.1: three times the "
                    "speech and the time)")
    ap.add_argument("--no-map-var", dest="map_var", action="store_false",
                    help="keep the variances unadapted (MAP of the means only)")
    ap.add_argument("--tau", type=float, default=0,
                    help="MAP prior weight (0: map_adapt's Bayesian mean update)")
    ap.add_argument("--mode", default="mllr", choices=["mllr", "map", "mllr+map"],
                    help="mllr: a global transform of the means (the default: MAP on this "
                    "synthetic speech cost words on the generated calls; docs/asr.md)")
    ap.add_argument("--no-dither", dest="dither", action="store_false",
                    help="features without dither (sdra dithers narrowband audio: src/asr/sphinx.c)")
    ap.add_argument("--upperf", type=float, default=0,
                    help="upper filter frequency of the adapted model's front end (Hz; 0 = the "
                    "model's own, 6800)")
    a = ap.parse_args()

    for t in ["sphinx_fe", "pocketsphinx_mdef_convert", "flite", "festival", "sox", "ffmpeg"]:
        if shutil.which(t) is None:
            raise BuildError("%s missing (scripts/install-deps.sh)" % t)
    bw, mllr_solve, mllr_transform, map_adapt = (tool(t) for t in
                                                 ["bw", "mllr_solve", "mllr_transform", "map_adapt"])
    work = a.work or tempfile.mkdtemp(prefix="sdra-am8k-")
    os.makedirs(work, exist_ok=True)
    logf = os.path.join(work, "build.log")
    if os.path.exists(logf):
        os.unlink(logf)
    base = os.path.join(work, "base")
    os.makedirs(base, exist_ok=True)
    for f in MODEL_FILES:
        src = os.path.join(a.model, f)
        if not os.path.exists(src):
            raise BuildError("%s missing (pocketsphinx-en-us)" % src)
        shutil.copyfile(src, os.path.join(base, f))
    if a.upperf:
        set_param(os.path.join(base, "feat.params"), "-upperf", "%g" % a.upperf)
    run(["pocketsphinx_mdef_convert", "-text", os.path.join(base, "mdef"),
         os.path.join(base, "mdef.txt")], logf)
    sendump_to_mixw(os.path.join(base, "sendump"), os.path.join(base, "mixture_weights"))

    # Training speech through the telephone channel.
    wavd, rawd = os.path.join(work, "wav"), os.path.join(work, "raw")
    os.makedirs(wavd, exist_ok=True)
    os.makedirs(rawd, exist_ok=True)
    words = load_dict(a.dict)
    sents = pick_sentences(a.corpus, words, a.sentences)
    sents += pick_sentences(a.adapt_corpus, words, 0)
    voices = VOICES + [v for v in MORE_VOICES if voice_available(v)]
    speeds = [float(x) for x in a.speeds.split(",")]
    # Each sentence in `copies` voices (cycled), each rendering through the channel at every
    # speed; files are named after voice, speed and text, so a changed corpus renders only its
    # new sentences. Festival renders all its sentences of a voice in one process (its start
    # costs more than a sentence).
    renders = {}  # raw file -> (voice, text)
    jobs = []  # (id, raw file, speed, text)
    for i, text in enumerate(sents):
        for c in range(a.copies):
            voice = voices[(i * a.copies + c) % len(voices)]
            raw = os.path.join(rawd, key(voice, text) + ".wav")
            for speed in speeds:
                uid = "t" + key(voice, speed, text)
                jobs.append((uid, raw, speed, text))
                if not os.path.exists(os.path.join(wavd, uid + ".wav")):
                    renders[raw] = (voice, text)
    batches = {}
    for raw, (voice, text) in sorted(renders.items()):
        if not os.path.exists(raw):
            batches.setdefault(voice if voice.startswith("festival:") else raw, []).append(
                (voice, text, raw))
    log("rendering %d sentences with %d voices at %d speeds (%d files, %d to synthesise), and "
        "the LibriVox files, through a telephone channel"
        % (len(sents), len(voices), len(speeds), len(jobs), sum(map(len, batches.values()))))

    def synth_batch(batch):
        with tempfile.TemporaryDirectory(dir=work) as td:
            synth_many(batch, td)

    def channel(uid, raw, speed):
        out = os.path.join(wavd, uid + ".wav")
        if not os.path.exists(out):
            with tempfile.TemporaryDirectory(dir=work) as td:
                telephone(raw, out + ".tmp.wav", td, speed)
                os.rename(out + ".tmp.wav", out)

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:  # the 2 cores
        for f in [ex.submit(synth_batch, b) for b in batches.values()]:
            f.result()
        for f in [ex.submit(channel, uid, raw, sp) for uid, raw, sp, _ in jobs]:
            f.result()
    items = [(uid, text) for uid, _, _, text in jobs]
    with tempfile.TemporaryDirectory(dir=work) as tmpd:
        trans = os.path.join(a.librivox, "transcription")
        if os.path.exists(trans):
            with open(trans, encoding="utf-8") as f:
                for line in f:
                    line = line.strip()
                    if not line.endswith(")"):
                        continue
                    uid = line[line.rindex("(") + 1:-1]
                    text = line[:line.rindex("(")].replace("<s>", "").replace("</s>", "").split()
                    text = [t.lower() for t in text]
                    src = os.path.join(a.librivox, uid + ".wav")
                    if not os.path.exists(src) or not all(t in words for t in text):
                        continue
                    out = os.path.join(wavd, uid + ".wav")
                    if not os.path.exists(out):
                        telephone(src, out, tmpd)
                    items.append((uid, " ".join(text)))
    ctl = os.path.join(work, "train.fileids")
    lsn = os.path.join(work, "train.transcription")
    with open(ctl, "w") as f:
        f.writelines(uid + "\n" for uid, _ in items)
    with open(lsn, "w") as f:
        f.writelines("<s> %s </s> (%s)\n" % (t, uid) for uid, t in items)

    log("features (sphinx_fe, the model's feat.params)")
    featd = os.path.join(work, "feat")
    os.makedirs(featd, exist_ok=True)
    run(["sphinx_fe", "-argfile", os.path.join(base, "feat.params"), "-samprate", "16000",
         "-c", ctl, "-di", wavd, "-do", featd, "-ei", "wav", "-eo", "mfc", "-mswav", "yes"]
        + (["-dither", "yes", "-seed", "1"] if a.dither else []), logf)

    # The initial cepstral mean: that of the telephone speech, not of the wideband training
    # data; the decoder starts every stream from it (docs/asr.md, priming).
    set_param(os.path.join(base, "feat.params"), "-cmninit",
              ",".join("%.2f" % v for v in cep_mean(featd, [u for u, _ in items])))

    def stats(model, accd):
        """Baum-Walch statistics in two halves at once (the 2 cores); returns their dirs."""
        def part(k):
            d = os.path.join(accd, "p%d" % k)
            os.makedirs(d, exist_ok=True)
            run([bw, "-moddeffn", os.path.join(base, "mdef.txt"), "-ts2cbfn", ".ptm.",
                 "-meanfn", os.path.join(model, "means"),
                 "-varfn", os.path.join(model, "variances"),
                 "-mixwfn", os.path.join(base, "mixture_weights"),
                 "-tmatfn", os.path.join(base, "transition_matrices"),
                 "-feat", "1s_c_d_dd", "-svspec", "0-12/13-25/26-38", "-cmn", "batch",
                 "-agc", "none", "-varnorm", "no", "-dictfn", a.dict,
                 "-fdictfn", os.path.join(base, "noisedict"), "-ctlfn", ctl, "-lsnfn", lsn,
                 "-cepdir", featd, "-cepext", "mfc", "-npart", "2", "-part", str(k),
                 "-accumdir", d], logf)
            return d
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
            return [f.result() for f in [ex.submit(part, k) for k in (1, 2)]]

    model = base
    if "mllr" in a.mode:
        log("statistics (bw) and a global MLLR transform (mllr_solve)")
        acc0 = stats(base, os.path.join(work, "acc0"))
        mllr = os.path.join(work, "mllr_matrix")
        run([mllr_solve, "-meanfn", os.path.join(base, "means"),
             "-varfn", os.path.join(base, "variances"), "-outmllrfn", mllr,
             "-accumdir", ",".join(acc0)], logf)
        m1 = os.path.join(work, "mllr")
        os.makedirs(m1, exist_ok=True)
        run([mllr_transform, "-inmeanfn", os.path.join(base, "means"),
             "-outmeanfn", os.path.join(m1, "means"), "-mllrmat", mllr], logf)
        shutil.copyfile(os.path.join(base, "variances"), os.path.join(m1, "variances"))
        model = m1
    if "map" in a.mode:
        log("statistics (bw) and MAP of means and variances (map_adapt)")
        acc = stats(model, os.path.join(work, "acc1"))
        m2 = os.path.join(work, "map")
        os.makedirs(m2, exist_ok=True)
        run([map_adapt, "-moddeffn", os.path.join(base, "mdef.txt"), "-ts2cbfn", ".ptm.",
             "-meanfn", os.path.join(model, "means"), "-varfn", os.path.join(model, "variances"),
             "-mixwfn", os.path.join(base, "mixture_weights"),
             "-tmatfn", os.path.join(base, "transition_matrices"), "-accumdir", ",".join(acc),
             "-mapmeanfn", os.path.join(m2, "means"), "-mapvarfn", os.path.join(m2, "variances"),
             "-mapmixwfn", os.path.join(m2, "mixture_weights"),
             "-maptmatfn", os.path.join(m2, "transition_matrices")]
            + (["-fixedtau", "yes", "-bayesmean", "no", "-tau", "%g" % a.tau] if a.tau else []),
            logf)
        model = m2

    # The model directory PocketSphinx loads: adapted means and variances, the rest as shipped.
    tmp_out = a.out.rstrip("/") + ".tmp"
    shutil.rmtree(tmp_out, ignore_errors=True)
    os.makedirs(tmp_out)
    for f in MODEL_FILES:
        src = os.path.join(model, f) if f in ("means", "variances") else os.path.join(base, f)
        if f == "variances" and not a.map_var:
            src = os.path.join(m1 if "mllr" in a.mode else base, f)
        shutil.copyfile(src, os.path.join(tmp_out, f))
    with open(os.path.join(tmp_out, "README"), "w") as f:
        f.write("en-us adapted to the telephone band (%s) by scripts/build-narrowband-am.py on "
                "%d utterances; see docs/asr.md.\n" % (a.mode, len(items)))
    shutil.rmtree(a.out, ignore_errors=True)
    os.rename(tmp_out, a.out)
    log("wrote %s (%s, %d utterances)" % (a.out, a.mode, len(items)))


if __name__ == "__main__":
    try:
        main()
    except BuildError as e:
        print("narrowband-am: error: %s" % e, file=sys.stderr)
        sys.exit(1)
