#!/usr/bin/env python3
"""dockerfile-lint.py DOCKERFILE [--needed LIB ...]: checks sdra's Dockerfile without docker.

The rules (hadolint's that matter here, which Debian does not package, and this project's):
  - every FROM is debian:12 / bookworm, pinned (no 'latest', no untagged image);
  - multi-stage: a named build stage, and a final stage that copies from it;
  - apt-get: 'update' and 'install' in one RUN, '-y --no-install-recommends', and the lists
    removed in the same RUN;
  - the final stage installs no compilers, no -dev packages, and, with --needed, a package
    for every shared library the binary links (given as 'soname=package', from dpkg -S);
  - it runs as a non-root USER, has a HEALTHCHECK on /healthz, and exec-form ENTRYPOINT/CMD;
  - no ADD (COPY only), no sudo, no secrets in ENV/ARG.
Prints one line per problem ('Dockerfile:LINE: message') and exits 1 when there is any.
"""
import json
import re
import sys

# Packages debian:12-slim carries (essential or required by apt): libraries from these need
# no install line.
BASE = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}
BUILD_ONLY = re.compile(r"(^|-)dev$|^(build-essential|gcc|g\+\+|clang|cmake|make|pkg-config|git)$")


def instructions(text):
    """(line number, KEYWORD, argument) for each instruction, continuations joined."""
    out, buf, start = [], "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue
        if not buf:
            start = n
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        kw, _, arg = buf.strip().partition(" ")
        out.append((start, kw.upper(), arg.strip()))
        buf = ""
    if buf:
        out.append((start, "UNTERMINATED", buf))
    return out


def apt_packages(run):
    """The packages of every 'apt-get install' in a RUN argument."""
    pkgs = []
    for part in re.split(r"&&|;|\|\|", run):
        words = part.split()
        if "apt-get" in words and "install" in words:
            pkgs += [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
    return pkgs


def lint(path, needed):
    problems = []

    def bad(n, msg):
        problems.append(f"{path}:{n}: {msg}")

    try:
        text = open(path, encoding="utf-8").read()
    except OSError as e:
        return [f"{path}: cannot read: {e.strerror}"]
    ins = instructions(text)
    stages = []  # [line, name, [instructions]]
    for n, kw, arg in ins:
        if kw == "UNTERMINATED":
            bad(n, "the last instruction ends with a line continuation")
        elif kw == "FROM":
            m = re.match(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$", arg, re.I)
            if not m:
                bad(n, f"cannot read FROM '{arg}'")
                continue
            image, name = m.group(1), m.group(2)
            if not re.match(r"^(docker\.io/(library/)?)?debian:(12|bookworm)([.-][\w.-]*)?(@sha256:[0-9a-f]{64})?$", image):
                bad(n, f"base image '{image}' is not a pinned Debian 12 (debian:12-slim, debian:bookworm...)")
            stages.append([n, name, []])
        elif not stages:
            if kw != "ARG":
                bad(n, f"{kw} before the first FROM")
        else:
            stages[-1][2].append((n, kw, arg))
    if len(stages) < 2:
        bad(1, f"not multi-stage ({len(stages)} FROM): build in one stage, run in a slim one")
        return problems
    names = [s[1] for s in stages[:-1] if s[1]]
    if not names:
        bad(stages[0][0], "the build stage has no name (FROM ... AS build)")
    final = stages[-1]
    if not any(kw == "COPY" and re.search(r"--from=(\S+)", a) and re.search(r"--from=(\S+)", a).group(1) in names
               for _, kw, a in final[2]):
        bad(final[0], "the final stage copies nothing from the build stage (COPY --from=...)")

    for s in stages:
        for n, kw, arg in s[2]:
            if kw == "ADD":
                bad(n, "ADD: use COPY (no remote URLs or implicit archives)")
            if kw == "RUN":
                if "sudo " in arg:
                    bad(n, "sudo in RUN")
                if "apt-get install" in arg:
                    if "apt-get update" not in arg:
                        bad(n, "apt-get install without apt-get update in the same RUN (stale lists)")
                    if not re.search(r"apt-get install[^&;]*\s-y\b", arg) or "--no-install-recommends" not in arg:
                        bad(n, "apt-get install needs -y and --no-install-recommends")
                    if "rm -rf /var/lib/apt/lists" not in arg:
                        bad(n, "apt lists not removed in the same RUN (rm -rf /var/lib/apt/lists/*)")
                elif "apt-get update" in arg:
                    bad(n, "apt-get update alone in a RUN")
                if "apt-get upgrade" in arg or "dist-upgrade" in arg:
                    bad(n, "apt-get upgrade in an image build")
            if kw in ("ENV", "ARG") and re.search(r"(PASSWORD|SECRET|TOKEN|API_KEY)\w*\s*=", arg, re.I):
                bad(n, f"{kw} carries a secret: pass secrets at run time")

    runtime_pkgs = set()
    for n, kw, arg in final[2]:
        if kw == "RUN":
            for p in apt_packages(arg):
                runtime_pkgs.add(p)
                if BUILD_ONLY.search(p):
                    bad(n, f"the runtime stage installs the build-time package '{p}'")
    for item in needed:
        lib, _, pkg = item.partition("=")
        if pkg and pkg not in runtime_pkgs and pkg not in BASE:
            bad(final[0], f"the binary links {lib} (package {pkg}), which the runtime stage does not install")

    users = [(n, a) for n, kw, a in final[2] if kw == "USER"]
    if not users:
        bad(final[0], "the final stage runs as root (no USER)")
    else:
        n, user = users[-1]
        if user.split(":")[0] in ("root", "0"):
            bad(n, "USER is root")
        if any(kw == "RUN" and ln > n for ln, kw, _ in final[2]):
            bad(n, "RUN after USER in the final stage")
    hc = [(n, a) for n, kw, a in final[2] if kw == "HEALTHCHECK"]
    if not hc:
        bad(final[0], "no HEALTHCHECK in the final stage")
    elif "/healthz" not in hc[-1][1] or "CMD" not in hc[-1][1]:
        bad(hc[-1][0], "the HEALTHCHECK does not query /healthz")
    for want in ("ENTRYPOINT", "CMD"):
        got = [(n, a) for n, kw, a in final[2] if kw == want]
        if not got:
            bad(final[0], f"no {want}")
            continue
        try:
            ok = isinstance(json.loads(got[-1][1]), list)
        except ValueError:
            ok = False
        if not ok:
            bad(got[-1][0], f"{want} is not in exec form (a JSON array)")
    return problems


def main(argv):
    if len(argv) < 2 or argv[1].startswith("-"):
        print("usage: dockerfile-lint.py DOCKERFILE [--needed SONAME=PACKAGE ...]", file=sys.stderr)
        return 2
    needed = argv[3:] if len(argv) > 2 and argv[2] == "--needed" else []
    if len(argv) > 2 and argv[2] != "--needed":
        print(f"dockerfile-lint.py: unknown argument '{argv[2]}'", file=sys.stderr)
        return 2
    problems = lint(argv[1], needed)
    for p in problems:
        print(p, file=sys.stderr)
    if not problems:
        print(f"ok: {argv[1]}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
