# syntax=docker/dockerfile:1
#
# The image of the groo/pat-action container Action (the default, last stage)
# and of the pat-rotator daemon (`--target rotator`).
#
# Base images are build arguments with real defaults so that an offline build
# can pass local stand-ins (scripts/container/build.sh does).
# The runtime default is distroless/static *without* the :nonroot tag, and no
# USER is set: the runner mounts the workspace and GITHUB_OUTPUT files for its
# default user, root, and a container Action must be able to write them.
ARG GO_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12

# The builder runs on the build machine's platform and cross-compiles for the
# target's (release.yml builds linux/amd64 and linux/arm64 images).
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH:-amd64}
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -ldflags="-s -w" -o /out/pat-action ./cmd/pat-action

# The daemon is built in its own stage so that building the Action's image
# does not pay for compiling the rotator's dependencies (SQLite).
FROM build AS build-rotator
RUN go build -trimpath -ldflags="-s -w" -o /out/pat-rotator ./cmd/pat-rotator

# The daemon runs as distroless' nonroot user (65532), which owns its state
# directory; TMPDIR points there too, so that `demo` finds a place it may
# write whatever the base image's /tmp allows.
FROM ${RUNTIME_IMAGE} AS rotator
LABEL org.opencontainers.image.source="https://github.com/groo/pat-action" \
      org.opencontainers.image.title="pat-rotator" \
      org.opencontainers.image.description="Rotates a fleet of Groo Personal Access Tokens in GitHub secrets on a schedule"
COPY --from=build-rotator /out/pat-rotator /pat-rotator
COPY --chown=65532:65532 deploy/image/state /var/lib/pat-rotator
ENV TMPDIR=/var/lib/pat-rotator
USER 65532:65532
EXPOSE 9464
ENTRYPOINT ["/pat-rotator"]

FROM ${RUNTIME_IMAGE} AS action
LABEL org.opencontainers.image.source="https://github.com/groo/pat-action" \
      org.opencontainers.image.description="Rotates a Groo Personal Access Token stored in a GitHub secret"
COPY --from=build /out/pat-action /pat-action
ENTRYPOINT ["/pat-action"]
