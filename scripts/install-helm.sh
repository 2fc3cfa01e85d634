#!/usr/bin/env bash
# Installs the pinned helm into $PAT_TOOLS_DIR (default /tmp/pat-e2e/tools,
# outside the repository), for internal/helmchart's tests of
# deploy/helm/pat-rotator; `make test-deps` runs it. `go install` builds it
# from the Go module proxy (about 5.5 minutes on a cold cache with two
# cores); an installed build of the pinned version is kept.
set -euo pipefail

HELM_VERSION=v3.22.0

tools=${PAT_TOOLS_DIR:-/tmp/pat-e2e/tools}
export PATH=/usr/local/go/bin:$PATH
# The build information names the module version (helm version prints only v3.22).
if go version -m "$tools/helm" 2>/dev/null | grep -qE "^\s+mod\s+helm\.sh/helm/v3\s+${HELM_VERSION}\s"; then
	exit 0
fi
mkdir -p "$tools"
echo "==> installing helm $HELM_VERSION into $tools" >&2
start=$(date +%s)
GOBIN=$tools CGO_ENABLED=0 go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
echo "==> helm $HELM_VERSION installed in $(($(date +%s) - start))s" >&2
