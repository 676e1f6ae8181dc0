# syntax=docker/dockerfile:1
#
# One image carries the four Azora binaries (gateway, auth, education, finance);
# the Helm chart picks one per Deployment with `command`. See deploy/helm/README.md
# for why one image rather than four.
#
#   docker build -t ghcr.io/azora-os/azora:$(git rev-parse --short HEAD) .
#   docker run --rm ghcr.io/azora-os/azora:TAG /usr/local/bin/auth migrate
#
# cgo: confluent-kafka-go links librdkafka. Its module ships librdkafka (with
# OpenSSL, SASL, zlib, zstd and lz4 inside) as a static archive per platform,
# the glibc one by default, so the build needs only a C toolchain and the
# result needs only glibc at run time: built on Debian 12 (bookworm, glibc
# 2.36), run on distroless base-debian12 (the same glibc, CA certificates and
# tzdata, no shell, no package manager), as the unprivileged user 65532.

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=1 GOFLAGS=-trimpath
# Dependencies first, so that code changes reuse this layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download && go mod verify
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags="-s -w" -o /out/ \
      ./gateway/cmd/gateway ./auth/cmd/auth ./education/cmd/education ./finance/cmd/finance
# Fail the build if a binary needs a shared library beyond glibc's own, which
# the distroless base would not have.
RUN for b in /out/*; do \
      extra=$(ldd "$b" | grep -vE 'linux-vdso|ld-linux|lib(c|m|pthread|dl|rt|resolv)\.so' || true); \
      if [ -n "$extra" ]; then echo "$b needs: $extra" >&2; exit 1; fi; \
    done

FROM gcr.io/distroless/base-debian12:nonroot
LABEL org.opencontainers.image.source="https://github.com/azora-os/azora" \
      org.opencontainers.image.description="Azora services: gateway, auth, education, finance"
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
# gateway 4000, auth 4001, education 4002, finance 4003.
EXPOSE 4000 4001 4002 4003
CMD ["/usr/local/bin/gateway"]
