# sdr-assistant container image (docs/deploy.md). Two stages: the build (compilers, -dev
# packages, and sphinxtrain with the speech tools that make the telephone-band model) and a
# slim runtime with the shared libraries the binary needs, the PocketSphinx model and curl for
# the health check, run as an unprivileged user.
#   docker build --build-arg SDRA_GIT_REV=$(git rev-parse --short=12 HEAD) -t sdra:0.1.0 .
#   docker run -p 8080:8080 -v sdra-data:/var/lib/sdra sdra:0.1.0
# tests/integration/deploy_dockerfile.sh lints this file (tools/dockerfile-lint.py).
FROM debian:12-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      libavformat-dev libavcodec-dev libavutil-dev libswresample-dev \
      libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us \
      libjansson-dev libsqlite3-dev libsodium-dev libmicrohttpd-dev libcurl4-openssl-dev libssl-dev libpq-dev libcmocka-dev \
      sphinxtrain python3 flite festival festvox-us-slt-hts sox ffmpeg \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# .git is not in the build context (.dockerignore): the revision comes in as an argument.
ARG SDRA_GIT_REV=unknown
RUN SDRA_GIT_REV="${SDRA_GIT_REV}" cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
 && SDRA_GIT_REV="${SDRA_GIT_REV}" cmake --build /build -j "$(nproc)" --target sdra sdra-narrowband-am \
 && DESTDIR=/stage cmake --install /build --prefix /opt/sdra

FROM debian:12-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libavformat59 libavcodec59 libavutil57 libswresample4 \
      libpocketsphinx3 libsphinxbase3 pocketsphinx-en-us \
      libjansson4 libsqlite3-0 libsodium23 libmicrohttpd12 libcurl4 libssl3 libpq5 \
      ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 sdra \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/sdra --create-home --shell /usr/sbin/nologin sdra
COPY --from=build /stage/opt/sdra /opt/sdra
ENV PATH=/opt/sdra/bin:$PATH \
    SDRA_DATA=/var/lib/sdra
USER 10001:10001
WORKDIR /var/lib/sdra
VOLUME ["/var/lib/sdra"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/opt/sdra/bin/sdra"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--data", "/var/lib/sdra"]
