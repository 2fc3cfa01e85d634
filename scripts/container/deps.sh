#!/usr/bin/env bash
# Installs the Debian packages that the container scripts and scripts/lint.sh
# need on a fresh machine (as root): buildah and podman (no Docker engine runs
# here), runc (crun fails here), jq and curl for the e2e assertions, shellcheck
# for lint. Called from .ci/run before `make lint` and `make e2e`; a no-op when
# all are present.
set -euo pipefail

need=()
for pkg in buildah podman runc jq curl shellcheck; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -eq 0 ]; then
	echo "deps present: buildah podman runc jq curl shellcheck"
	exit 0
fi
echo "installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}"
