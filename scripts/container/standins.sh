#!/usr/bin/env bash
# Builds the local stand-ins for the base images that cannot be pulled here
# (no registry is reachable): a golang builder, a static runtime and a runner
# image for act's job container. Each is assembled from this machine's own
# files with `buildah from scratch` and skipped when already tagged, so the
# script is cheap to call before every build.
#
#   GO_STANDIN       /usr/local/go + CA certificates + dash as /bin/sh + /tmp
#   RUNTIME_STANDIN  scratch + CA certificates (what distroless/static gives)
#   RUNNER_STANDIN   scratch + the few programs act runs in a job container
set -euo pipefail
# shellcheck source=scripts/container/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

bah() { buildah --storage-driver vfs "$@"; }

exists() { bah inspect --type image "$1" >/dev/null 2>&1; }

# copy_with_libs DEST BIN...: copies each program to DEST/bin (following
# symlinks) and every library ldd lists for it to the same path in DEST.
copy_with_libs() {
	local dest=$1 bin lib
	shift
	mkdir -p "$dest/bin"
	for bin in "$@"; do
		cp -L "$bin" "$dest/bin/$(basename "$bin")"
		for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
			mkdir -p "$dest$(dirname "$lib")"
			cp -L "$lib" "$dest$lib"
		done
	done
}

add_certs() {
	mkdir -p "$1/etc/ssl/certs"
	cp -L /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/ca-certificates.crt"
}

# build_image TAG FILLER [buildah config args...]: FILLER ROOTFS fills the image.
build_image() {
	local tag=$1 filler=$2 ctr mnt
	shift 2
	if exists "$tag"; then
		log "stand-in $tag present"
		return
	fi
	log "building stand-in $tag"
	ctr=$(bah from scratch)
	mnt=$(bah mount "$ctr")
	"$filler" "$mnt"
	bah unmount "$ctr" >/dev/null
	if [ $# -gt 0 ]; then
		bah config "$@" "$ctr"
	fi
	bah commit --quiet --rm "$ctr" "$tag" >/dev/null
}

fill_golang() {
	local root=$1
	mkdir -p "$root/usr/local" "$root/root" "$root/etc"
	mkdir -m 1777 "$root/tmp" # go build needs a writable TMPDIR
	cp -a /usr/local/go "$root/usr/local/go"
	add_certs "$root"
	copy_with_libs "$root" /bin/dash
	mv "$root/bin/dash" "$root/bin/sh"
	# Name resolution for `go mod download` (buildah provides resolv.conf).
	printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
}

fill_static() {
	local root=$1
	mkdir -m 1777 "$root/tmp"
	add_certs "$root"
}

fill_runner() {
	local root=$1 p progs=()
	for p in bash tail mkdir cp cat env ls rm chmod sleep tar; do
		progs+=("$(command -v "$p")")
	done
	copy_with_libs "$root" /bin/dash "${progs[@]}"
	mv "$root/bin/dash" "$root/bin/sh"
	mkdir -p "$root/usr"
	ln -s ../bin "$root/usr/bin" # steps may name /usr/bin/env
	mkdir -m 1777 "$root/tmp"
	mkdir -p "$root/root" "$root/etc"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\n' >"$root/etc/group"
	add_certs "$root"
}

build_image "$GO_STANDIN" fill_golang \
	--env PATH=/usr/local/go/bin:/bin \
	--env "GOPROXY=$(go env GOPROXY)" \
	--env GOTOOLCHAIN=local \
	--env HOME=/root
build_image "$RUNTIME_STANDIN" fill_static
build_image "$RUNNER_STANDIN" fill_runner \
	--env PATH=/bin:/usr/bin \
	--cmd /bin/sh
