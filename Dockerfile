# ccr-sentinel container image.
#   docker build -t ccr-sentinel .
#   docker run -p 9725:9725 -v /path/to/ccr-sentinel.toml:/etc/ccr-sentinel/ccr-sentinel.toml:ro \
#     -v /path/to/secrets:/run/secrets:ro ccr-sentinel
# The image ships the example config; mount your own (see docs/operations.md, "Container"). Relative
# `password_file` / `api_key_file` names resolve against /run/secrets, where Docker and Kubernetes
# mount secrets (as they resolve against systemd's credentials directory under the unit).

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# The whole workspace: the root crate depends on the ccr-sim member (the `demo` command embeds it).
COPY . .
# Cache mounts keep the crate registry and build artifacts between builds (BuildKit, the default builder).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --package ccr-sentinel --bin ccr-sentinel \
    && install -D -m 0755 target/release/ccr-sentinel /out/ccr-sentinel

FROM debian:bookworm-slim
# TLS uses rustls with bundled root certificates, so the runtime needs no extra packages.
RUN groupadd --system --gid 10001 ccr-sentinel \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin ccr-sentinel \
    && install -d -o ccr-sentinel -g ccr-sentinel -m 0700 /var/lib/ccr-sentinel
COPY --from=build /out/ccr-sentinel /usr/local/bin/ccr-sentinel
COPY config/ccr-sentinel.example.toml /etc/ccr-sentinel/ccr-sentinel.toml
# In a container the metrics endpoint must listen on all interfaces, not the config's loopback default.
# Freed pages go back to the kernel at once, as in the systemd unit (docs/operations.md, "Resource limits").
ENV CCR_SENTINEL_HTTP__LISTEN=0.0.0.0:9725 \
    CREDENTIALS_DIRECTORY=/run/secrets \
    MIMALLOC_PURGE_DELAY=0
USER 10001:10001
WORKDIR /var/lib/ccr-sentinel
EXPOSE 9725
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["ccr-sentinel", "healthcheck"]
ENTRYPOINT ["ccr-sentinel"]
CMD ["run", "--config", "/etc/ccr-sentinel/ccr-sentinel.toml"]
