#!/usr/bin/env bash
# Builds the project's real Dockerfile offline: the local stand-ins are passed
# as the GO_IMAGE and RUNTIME_IMAGE build arguments, the result is tagged as
# the image action.yml names (ghcr.io/groo/pat-action:v1) and, from the
# `rotator` target, ghcr.io/groo/pat-rotator:v1. Prints the action image's size.
#
#   PAT_BUILD_CONTEXT   build context (default: the repository root)
#   PAT_BUILD_ROTATOR   0 skips the rotator image (default 1)
#   PAT_IMAGE_MAX_BYTES fail when the action image is larger (default 15000000)
set -euo pipefail
# shellcheck source=scripts/container/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

context=${PAT_BUILD_CONTEXT:-$REPO_ROOT}
max=${PAT_IMAGE_MAX_BYTES:-15000000}

bash "$REPO_ROOT/scripts/container/standins.sh"
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)

bud() {
	local target=$1 tag=$2 start
	start=$(date +%s)
	log "building $tag (target $target) from $context"
	# --isolation chroot: oci isolation fails on these machines. --layers keeps
	# the module download layer between runs. --pull never: only local images.
	# The Go build cache is a volume (never part of an image): rebuilds after a
	# source change recompile only what changed.
	mkdir -p "$PAT_E2E_DIR/gocache"
	buildah --storage-driver vfs bud \
		--isolation chroot --layers --pull=never \
		-v "$PAT_E2E_DIR/gocache:/root/.cache/go-build" \
		--build-arg "GO_IMAGE=$GO_STANDIN" \
		--build-arg "RUNTIME_IMAGE=$RUNTIME_STANDIN" \
		--target "$target" -t "$tag" \
		-f "$context/Dockerfile" "$context" >"$PAT_E2E_DIR/build-$target.log" 2>&1 ||
		{ tail -n 40 "$PAT_E2E_DIR/build-$target.log" >&2; die "build of $tag failed (log: $PAT_E2E_DIR/build-$target.log)"; }
	log "built $tag in $(($(date +%s) - start)) s"
}

bud action "$ACTION_IMAGE"
if [ "${PAT_BUILD_ROTATOR:-1}" != 0 ]; then
	bud rotator "$ROTATOR_IMAGE"
fi

# vfs stores every layer as a full copy (the builder's are ~650 MB each):
# drop the untagged images that earlier builds left. The layers this build
# reused or made stay, as parents of this build's images or as its newest.
log "pruning untagged images older than this build"
podman image prune -f --filter "until=$started" >/dev/null

report() { # report IMAGE: prints the image's size, returns it in $size
	size=$(podman image inspect --format '{{.Size}}' "$1")
	awk -v s="$size" -v t="$1" 'BEGIN { printf "image %s: %d bytes (%.1f MB)\n", t, s, s / 1e6 }'
}
if [ "${PAT_BUILD_ROTATOR:-1}" != 0 ]; then
	report "$ROTATOR_IMAGE"
fi
report "$ACTION_IMAGE"
# The runner mounts the workspace and its command files for root: an image
# that switches user cannot write GITHUB_OUTPUT.
user=$(podman image inspect --format '{{.Config.User}}' "$ACTION_IMAGE")
[ -z "$user" ] || [ "$user" = root ] || [ "$user" = 0 ] || die "action image runs as user $user, want root (no USER)"
[ "$size" -le "$max" ] || die "action image is $size bytes, over the budget of $max"
