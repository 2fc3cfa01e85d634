#!/usr/bin/env bash
# Installs the Debian packages the test suite needs when they are missing:
# python3-nacl (interop tests), postgresql's server binaries (the store
# tests start their own cluster) and chromium (the status page's browser test). As root it installs them; otherwise it
# names the command to run and fails.
set -euo pipefail
need=()
/usr/bin/python3 -c 'import nacl.public' 2>/dev/null || need+=(python3-nacl)
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need+=(postgresql)
fi
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "the tests need Debian packages: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "installing Debian packages for the tests: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
