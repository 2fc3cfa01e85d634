#!/usr/bin/env bash
# The rotator image (the Dockerfile's `rotator` target), built as release.yml
# builds it and run the way the README shows: `demo` inside the container
# starts the emulators on the container's loopback, rotates three targets
# twice through the real code path and checks I1 and I3 (`make e2e-rotator`).
set -euo pipefail
# shellcheck source=scripts/container/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

[ "$(id -u)" = 0 ] || die "run as root: podman with vfs storage and runc is set up for root here"
if [ "${PAT_E2E_SKIP_BUILD:-0}" != 1 ] || ! podman image exists "$ROTATOR_IMAGE"; then
	PAT_BUILD_ROTATOR=1 bash "$REPO_ROOT/scripts/container/build.sh"
fi

# Non-root, its port, its labels: what a deployment relies on.
user=$(podman image inspect --format '{{.Config.User}}' "$ROTATOR_IMAGE")
[ "$user" = "65532:65532" ] || die "the rotator image runs as '$user', want 65532:65532 (distroless nonroot)"
podman image inspect --format '{{json .Config.ExposedPorts}}' "$ROTATOR_IMAGE" | grep -q '9464/tcp' ||
	die "the rotator image does not EXPOSE 9464"
podman image inspect --format '{{index .Config.Labels "org.opencontainers.image.source"}}' "$ROTATOR_IMAGE" | grep -q 'github.com/groo/pat-action' ||
	die "the rotator image lacks its OCI labels"

out=$PAT_E2E_DIR/rotator-demo.log
log "podman run $ROTATOR_IMAGE demo"
podman --runtime runc run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
	"$ROTATOR_IMAGE" demo >"$out" 2>&1 || { cat "$out" >&2; die "the rotator image's demo failed"; }
tail -6 "$out"
grep -q "I1 every secret holds a live token: *3/3" "$out" || die "demo in the image: I1 not 3/3 ($out)"
grep -q "I3 one live token per use case, the secret's one: *3/3" "$out" || die "demo in the image: I3 not 3/3 ($out)"
grep -qE '^  OK$' "$out" || die "demo in the image did not end OK ($out)"
if grep -qE 'groo_pat_[0-9a-f]{64}' "$out"; then
	die "a whole token appears in the demo's output ($out)"
fi
log "rotator image: demo OK ($(podman image inspect --format '{{.Size}}' "$ROTATOR_IMAGE") bytes)"
