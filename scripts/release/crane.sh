# shellcheck shell=bash
# Sourced by scripts/release/pin-action-image.sh and
# scripts/container/act-e2e.sh: crane (go-containerregistry's registry
# client, and the local registry the e2e pushes to) at one pinned version,
# installed into the tools directory beside the other pinned tools.
#
#   PAT_TOOLS_DIR  where it is installed (default /tmp/pat-e2e/tools, as in
#                  scripts/container/env.sh)

CRANE_VERSION=v0.22.1

# crane_install: installs crane unless the pinned version is there already;
# sets CRANE to its path. Logs to stderr only (callers print results on stdout).
crane_install() {
	local tools=${PAT_TOOLS_DIR:-/tmp/pat-e2e/tools}
	CRANE=$tools/crane
	if [ "$("$CRANE" version 2>/dev/null)" = "$CRANE_VERSION" ]; then
		return 0
	fi
	printf '==> installing crane %s into %s\n' "$CRANE_VERSION" "$tools" >&2
	mkdir -p "$tools"
	PATH=/usr/local/go/bin:$PATH GOBIN=$tools go install "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION" >&2
}
