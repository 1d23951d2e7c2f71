# syntax=docker/dockerfile:1
# Driver-Call: one image holding the three binaries; a container's command picks its role:
#   driver-call-worker   the contexts in WORKER_CONTEXTS (caller, payment, catcher, dashboard)
#   driver-call-api      the HTTP API
#   payment-sandbox      an external payment service stand-in, for drills
# Build: docker build -t driver-call:latest .    (docker-compose.yml and deploy/k8s use this image)

# ---- apps ----------------------------------------------------------------------------------
# The customer app, the driver app and the operations console (web/): built with Node into
# static files the API serves from WEB_DIR (no Node at run time).
FROM node:20-bookworm-slim AS apps
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# ---- build ---------------------------------------------------------------------------------
# The workspace is edition 2024 (Rust 1.85+); the protobuf definitions compile with the vendored
# protox, so no protoc is installed. The cargo registry and target/ are BuildKit cache mounts, so a
# rebuild after a source change recompiles only the workspace crates; target/ lives in the cache,
# hence the binaries are copied out in the same step. Only the three binaries are built (not the
# test crate's load generator).
FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
       --bin driver-call-worker --bin driver-call-api --bin payment-sandbox \
    && mkdir -p /out \
    && cp target/release/driver-call-worker target/release/driver-call-api \
          target/release/payment-sandbox /out/

# ---- runtime -------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
# ca-certificates only (TLS to Temporal Cloud, PostgreSQL, webhooks, an external payment service).
# Not pinned: it must follow Debian's security updates, and a pinned bookworm version stops
# building once the archive moves on.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 driver-call \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin driver-call \
    && mkdir -p /data \
    && chown 10001:10001 /data

COPY --from=builder /out/ /usr/local/bin/
COPY --from=apps /web/dist/ /usr/local/share/driver-call/web/
# The container health check of docker-compose.yml: bash's /dev/tcp, so neither curl nor wget is
# installed (bash is an essential package of Debian, present in the slim image).
COPY --chmod=0755 deploy/docker/driver-call-healthcheck /usr/local/bin/driver-call-healthcheck

# Listen on every interface inside the container (the binaries default to 127.0.0.1); the embedded
# SQLite databases, used when no *_DATABASE_URL is set, go to /data.
ENV API_ADDR=0.0.0.0:8080 \
    WORKER_HTTP_ADDR=0.0.0.0:9090 \
    WORKER_METRICS_ADDR=0.0.0.0:9464 \
    SANDBOX_ADDR=0.0.0.0:8090 \
    DATA_DIR=/data \
    WEB_DIR=/usr/local/share/driver-call/web

USER 10001:10001
WORKDIR /data
# 8080 API (HTTP, /healthz, /readyz, /metrics); 9090 worker /healthz, /readyz, /status;
# 9464 worker Prometheus /metrics; 8090 payment sandbox.
EXPOSE 8080 9090 9464 8090
# Every context in one process; docker-compose.yml and the Kubernetes Deployments run one each.
CMD ["driver-call-worker"]
