#!/usr/bin/env bash
# ctest-labels: slow
# (skips the ASan pass: it checks files with Python and node, no C code of ours runs)
# deploy_dockerfile.sh - the Dockerfile (docs/deploy.md), linted without docker by
# tools/dockerfile-lint.py: Debian 12 bases, multi-stage, apt hygiene, a runtime stage with no
# build packages and with a package for every shared library the built binary links (read
# from the binary here with readelf and dpkg), a non-root user, a HEALTHCHECK on /healthz; the
# .dockerignore keeps git history and build trees out of the context. Broken copies are
# refused with a line naming the problem.
set -u
: "${SDRA:?}" "${SDRA_SRC:?}"
. "$(dirname "${BASH_SOURCE[0]}")/lib/scratch.sh"
it_setup deploy_dockerfile
L="$SDRA_SRC/tools/dockerfile-lint.py"

# soname=package for each library the binary needs directly.
needed=()
for lib in $(readelf -d "$SDRA" | awk '/NEEDED/ { gsub(/[][]/, "", $5); print $5 }'); do
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l { print $NF; exit }')
  [ -n "$path" ] || fail "cannot find $lib"
  pkg=$(dpkg -S "$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")" 2>/dev/null || dpkg -S "/usr$path" 2>/dev/null)
  pkg=${pkg%%:*}
  [ -n "$pkg" ] || fail "no Debian package owns $lib ($path)"
  needed+=("$lib=$pkg")
done
[ ${#needed[@]} -ge 8 ] || fail "too few libraries found: ${needed[*]}"
echo "links: ${needed[*]}"
python3 "$L" "$SDRA_SRC/Dockerfile" --needed "${needed[@]}" > "$T/lint.log" 2>&1 || fail "Dockerfile: $(cat "$T/lint.log")"
for pat in '^\.git$' '^build\*/$' 'node_modules'; do
  grep -Eq "$pat" "$SDRA_SRC/.dockerignore" || fail ".dockerignore lacks $pat"
done

# broken NAME PYTHON-EXPR EXPECTED: the linter refuses an edited copy with a matching line.
broken() {
  python3 -c "import sys; s=open(sys.argv[1]).read(); t=$2; assert t != s, 'no change'; open(sys.argv[2],'w').write(t)" \
    "$SDRA_SRC/Dockerfile" "$T/$1.Dockerfile" || fail "$1: the edit did not apply"
  if python3 "$L" "$T/$1.Dockerfile" --needed "${needed[@]}" > "$T/$1.out" 2>&1; then fail "$1: accepted"; fi
  grep -Eq "$3" "$T/$1.out" || fail "$1: wrong message: $(cat "$T/$1.out")"
}
broken root 's.replace("USER 10001:10001\n", "")' 'runs as root'
broken latest 's.replace("FROM debian:12-slim AS runtime", "FROM debian:latest AS runtime")' "base image 'debian:latest'"
broken onestage 's[s.index("FROM debian:12-slim AS runtime"):].replace("FROM debian:12-slim AS runtime", "")' 'not multi-stage|copies nothing'
broken devpkg 's.replace("libjansson4 libsqlite3-0", "libjansson-dev libsqlite3-0")' "runtime stage installs the build-time package 'libjansson-dev'"
broken missinglib 's.replace("libsodium23 ", "")' 'links libsodium.so.23 \(package libsodium23\)'
broken health 's.replace("/healthz", "/")' 'HEALTHCHECK does not query /healthz'
broken lists 's.replace(" \\\n && rm -rf /var/lib/apt/lists/* \\\n && groupadd", " \\\n && groupadd")' 'apt lists not removed'
broken recommends 's.replace("install -y --no-install-recommends \\\n      libav", "install -y \\\n      libav")' 'no-install-recommends'
broken shellform 's.replace("ENTRYPOINT [\"/opt/sdra/bin/sdra\"]", "ENTRYPOINT /opt/sdra/bin/sdra")' 'ENTRYPOINT is not in exec form'
broken secret 's.replace("SDRA_DATA=/var/lib/sdra", "SDRA_DATA=/var/lib/sdra SDRA_API_TOKEN=abc")' 'carries a secret'
echo "PASS deploy_dockerfile"
