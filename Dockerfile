# syntax=docker/dockerfile:1
#
# The Portcullis image: one static binary on distroless, as a non-root
# user, with nothing else in it (no shell, no package manager).
#
#   docker build -t portcullis \
#     --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg COMMIT=$(git rev-parse HEAD) \
#     --build-arg BUILD_TIME=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
#   docker run --read-only -v portcullis-data:/var/lib/portcullis \
#     -v $PWD/portcullis.yaml:/etc/portcullis/portcullis.yaml:ro \
#     -e PORTCULLIS_MASTER_KEY -p 8080:8080 -p 8000:8000 portcullis
#
# The image holds no configuration: mount one at
# /etc/portcullis/portcullis.yaml (listen on 0.0.0.0, data_dir
# /var/lib/portcullis; examples/compose and deploy/kubernetes have
# ready ones). Without it the container exits at once, naming the file.
# docs/operations.md covers probes, backups and upgrades.
#
# Pin the two base images by digest (image@sha256:...) in a release
# pipeline; the tags below move.

ARG GO_VERSION=1.26

# ---- build: a static binary (CGO_ENABLED=0: the SQLite driver is pure Go).
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH=amd64
# The build context leaves .git out (.dockerignore), so the toolchain
# cannot stamp the revision: it comes in through these, and `portcullis
# version` prints them. Empty is fine ("(devel)").
ARG VERSION=""
ARG COMMIT=""
ARG BUILD_TIME=""
# -trimpath: no build-machine paths in the binary. -buildvcs=false: no
# .git to read. timetzdata: time zones (ratelimit.time_zone) resolve
# even on a base image without /usr/share/zoneinfo. -s -w: no symbol or
# DWARF tables (stack traces keep their function names).
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false -tags timetzdata \
      -ldflags="-s -w -X github.com/portcullis/portcullis/internal/cli.linkVersion=${VERSION} -X github.com/portcullis/portcullis/internal/cli.linkCommit=${COMMIT} -X github.com/portcullis/portcullis/internal/cli.linkBuildTime=${BUILD_TIME}" \
      -o /out/portcullis ./cmd/portcullis
# The data directory, owned by the runtime user: a named volume mounted
# here starts with this ownership.
RUN mkdir -p /out/data

# ---- run: distroless static (CA certificates, /etc/passwd with nonroot,
# tzdata; no shell). Its nonroot user is 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/portcullis /usr/local/bin/portcullis
COPY --from=build --chown=65532:65532 /out/data /var/lib/portcullis
# Numeric, so a runtime that enforces runAsNonRoot can check it without
# reading /etc/passwd.
USER 65532:65532
# The only place the process writes (SQLite, a generated master key
# file); the root file system can be read-only.
VOLUME ["/var/lib/portcullis"]
WORKDIR /var/lib/portcullis
# authz (the issuer), gateway, admin (/healthz, /readyz, /metrics: keep
# it off the public network). The config decides the real addresses.
EXPOSE 8080 8000 8081
# No HEALTHCHECK: distroless has no shell or curl to run one. Probe over
# HTTP from outside instead: GET /healthz (liveness) and /readyz
# (readiness) on the admin listener (docs/operations.md, "Probes").
ENTRYPOINT ["/usr/local/bin/portcullis"]
CMD ["serve", "--config", "/etc/portcullis/portcullis.yaml"]
