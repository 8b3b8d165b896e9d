# syntax=docker/dockerfile:1
# The `latchkey` binary in a small Debian image. Needs BuildKit (the default
# builder of current Docker) for the cache mounts.
#
#   docker build -t latchkey:latest .
#   docker run --rm -p 8080:8080 latchkey:latest      # SQLite in /var/lib/latchkey/data
#
# The scaled-out setup (PostgreSQL, Redis, two replicas, nginx) is in
# docker-compose.yml; see docs/deployment.md.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------- build
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder

# OpenSSL headers for native-tls (sqlx) and josekit.
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Everything the workspace build reads: the manifests, every member (Cargo
# needs the `tests` member's manifest even to build one package), the
# migrations (embedded by sqlx::migrate!) and the templates (compiled in by
# askama, the stylesheet by include_str!).
COPY Cargo.toml Cargo.lock ./
COPY crates/ crates/
COPY tests/ tests/
COPY migrations/ migrations/
COPY templates/ templates/

# The registry and target/ live in BuildKit cache mounts, so a rebuild after
# a source change recompiles only the workspace crates, not the dependencies.
# A cache mount is not part of the image: copy the binary out in the same step.
RUN --mount=type=cache,id=latchkey-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=latchkey-cargo-git,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,id=latchkey-target,target=/src/target,sharing=locked \
    cargo build --release --locked -p latchkey-server --bin latchkey \
 && install -D -m 0755 target/release/latchkey /out/latchkey

# ---------------------------------------------------------------- runtime
FROM debian:${DEBIAN_RELEASE}-slim

# libssl3: the binary links OpenSSL 3; ca-certificates: TLS to PostgreSQL,
# Redis and back-channel logout URIs; curl: the health check below.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl3 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*

# A fixed uid/gid, so that volumes and runAsUser settings can name it.
RUN groupadd --system --gid 10001 latchkey \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/latchkey \
      --no-create-home --shell /usr/sbin/nologin latchkey \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/latchkey

COPY --from=builder /out/latchkey /usr/local/bin/latchkey
# Reference only: every key with its default. Pass a file of your own with
# --config or LATCHKEY_CONFIG, or use LATCHKEY_* variables.
COPY config/latchkey.example.toml /etc/latchkey/latchkey.example.toml

# Inside a container the default 127.0.0.1:8080 cannot be reached from outside.
ENV LATCHKEY_LISTEN=0.0.0.0:8080

# The default database sqlite://./data/latchkey.db lands here.
WORKDIR /var/lib/latchkey
# The `latchkey` user, by number (Kubernetes' runAsNonRoot can check a number).
USER 10001:10001
EXPOSE 8080

# On SIGTERM, `latchkey serve` stops accepting connections, finishes the
# requests in flight (30 s at most each) and exits 0: give it that long
# (docker stop -t 40, compose stop_grace_period, Kubernetes
# terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
# Readiness: 200 only while the database (and Redis, when configured) answer.
# Assumes the default port and an issuer without a path.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS -o /dev/null http://127.0.0.1:8080/readyz || exit 1

ENTRYPOINT ["latchkey"]
CMD ["serve"]
