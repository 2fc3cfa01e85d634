#!/usr/bin/env bash
# Installs what the container scripts need on a fresh Debian machine (as root):
# buildah and podman (no Docker engine runs here), runc (crun fails here), jq and curl.
# Called from .ci/run before `make e2e`; a no-op when all are present.
set -euo pipefail

need=()
for pkg in buildah podman runc jq curl; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -eq 0 ]; then
	echo "container deps present: buildah podman runc jq curl"
	exit 0
fi
echo "installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}"
