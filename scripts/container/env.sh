# shellcheck shell=bash
# Sourced by the scripts in this directory: one work directory outside the
# repository for podman's storage, its configuration, tools and logs, so that
# nothing here touches the machine's default container storage or the tree.
#
#   PAT_E2E_DIR    work directory (default /tmp/pat-e2e)
#   PAT_TOOLS_DIR  where pinned tools are installed (default $PAT_E2E_DIR/tools)

PAT_E2E_DIR=${PAT_E2E_DIR:-/tmp/pat-e2e}
PAT_TOOLS_DIR=${PAT_TOOLS_DIR:-$PAT_E2E_DIR/tools}
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PAT_E2E_DIR PAT_TOOLS_DIR REPO_ROOT

# Stand-in base images (no registry is reachable here) and the project's tags.
GO_STANDIN=localhost/pat-standin/golang:$(/usr/local/go/bin/go env GOVERSION 2>/dev/null || echo unknown)
RUNTIME_STANDIN=localhost/pat-standin/static:latest
RUNNER_STANDIN=localhost/pat-standin/runner:latest
ACTION_IMAGE=ghcr.io/groo/pat-action:v1
ROTATOR_IMAGE=ghcr.io/groo/pat-rotator:v1
export GO_STANDIN RUNTIME_STANDIN RUNNER_STANDIN ACTION_IMAGE ROTATOR_IMAGE

# podman/buildah configuration that was seen to work on these machines:
# vfs storage, runc (crun fails), explicit ulimits.
mkdir -p "$PAT_E2E_DIR/conf" "$PAT_E2E_DIR/storage" "$PAT_E2E_DIR/run" "$PAT_TOOLS_DIR"
cat >"$PAT_E2E_DIR/conf/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
CONF
cat >"$PAT_E2E_DIR/conf/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$PAT_E2E_DIR/storage"
runroot = "$PAT_E2E_DIR/run"
CONF
export CONTAINERS_CONF=$PAT_E2E_DIR/conf/containers.conf
export CONTAINERS_STORAGE_CONF=$PAT_E2E_DIR/conf/storage.conf
export PATH=/usr/local/go/bin:$PATH

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
