# One image for the four workers (compose.yaml picks the command). The build steps are the README's:
# scripts/install-deps.sh, then swift build -c release.
ARG SWIFT_IMAGE=swift:6.3-bookworm
FROM ${SWIFT_IMAGE} AS build
WORKDIR /src
COPY . .
RUN scripts/install-deps.sh
RUN swift build -c release
RUN mkdir -p /out/bin /out/lib \
 && for p in ingest seg-worker cls-worker reporter; do cp "$(swift build -c release --show-bin-path)/$p" /out/bin/; done \
 && cp /usr/lib/swift/linux/*.so /out/lib/

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      librabbitmq4 libpq5 libopenblas0-pthread libdcmtk17 curl ca-certificates libcurl4 libxml2 tzdata \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/lib/ /usr/lib/swift/linux/
COPY --from=build /out/bin/ /usr/local/bin/
COPY scripts/env.sh /opt/mgmt/env.sh
COPY scripts/fleet-entrypoint.sh /usr/local/bin/fleet-entrypoint
ENV LD_LIBRARY_PATH=/usr/lib/swift/linux
RUN mkdir -p /var/lib/mgmt/store /var/lib/mgmt/models /var/lib/mgmt/exports
# OPENBLAS_CORETYPE must be in the environment before a process starts: the entrypoint sources env.sh.
ENTRYPOINT ["fleet-entrypoint"]
CMD ["ingest", "--help"]
