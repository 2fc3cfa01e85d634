#!/usr/bin/env bash
# e2e-gh.sh: GitHub's own CLI (gh) writes a repository and an environment
# secret through pat-emulator, used as its HTTP proxy; the emulator's admin
# API must then hold the decrypted values. A read-only token must be refused.
# Needs: go, gh, python3. Exit status non-zero on any failure.
set -euo pipefail

cd "$(dirname "$0")/.."
command -v gh >/dev/null || { echo "e2e-gh: gh not found (apt-get install gh)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "e2e-gh: python3 not found" >&2; exit 1; }

tmp=$(mktemp -d)
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

token="ghs_e2eGhCliToken0000000000000000000000"
cat >"$tmp/seed.json" <<JSON
{"github":{"tokens":["$token"],"read_only_tokens":["ghs_e2eReadOnly"],
           "repositories":["octo/app"],"environments":["octo/app:prod/eu"]}}
JSON

go build -o "$tmp/pat-emulator" ./cmd/pat-emulator
"$tmp/pat-emulator" --listen 127.0.0.1:0 --seed "$tmp/seed.json" >"$tmp/out" 2>"$tmp/log" &
pid=$!
url=""
for _ in $(seq 1 100); do
  url=$(sed -n 's/^pat-emulator listening on //p' "$tmp/out")
  [[ -n "$url" ]] && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/log" >&2; echo "e2e-gh: emulator exited" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$url" ]] || { echo "e2e-gh: emulator did not print its address" >&2; exit 1; }
echo "e2e-gh: emulator at $url"

# gh treats *.github.localhost as a plain-http GitHub host; every request goes
# to the proxy in absolute form.
gh_() {
  env -u NO_PROXY -u no_proxy -u HTTPS_PROXY -u https_proxy \
    HTTP_PROXY="$url" http_proxy="$url" GH_CONFIG_DIR="$tmp/gh" GH_NO_UPDATE_NOTIFIER=1 \
    GH_PROMPT_DISABLED=1 GH_HOST=github.localhost gh "$@"
}

GH_TOKEN="$token" gh_ secret set E2E_REPO_SECRET -R github.localhost/octo/app --body "repo-value-1"
GH_TOKEN="$token" gh_ secret set E2E_REPO_SECRET -R github.localhost/octo/app --body "repo-value-2"
GH_TOKEN="$token" gh_ secret set E2E_ENV_SECRET --env prod -R github.localhost/octo/app --body "env-value"
GH_TOKEN="$token" gh_ secret set E2E_ENV_SECRET --env prod/eu -R github.localhost/octo/app --body "env-eu-value"
if GH_TOKEN=ghs_e2eReadOnly gh_ secret set E2E_REFUSED -R github.localhost/octo/app --body "nope" 2>"$tmp/ro.err"; then
  echo "e2e-gh: a read-only token wrote a secret" >&2; exit 1
fi
grep -q "Resource not accessible by integration" "$tmp/ro.err" || { cat "$tmp/ro.err" >&2; echo "e2e-gh: unexpected refusal" >&2; exit 1; }

curl -fsS "$url/_emulator/state" >"$tmp/state.json"
python3 - "$tmp/state.json" <<'PY'
import json, sys
state = json.load(open(sys.argv[1]))
got = {(s["scope"], s["name"]): s for s in state["secrets"]}
want = {
    ("repo:octo/app", "E2E_REPO_SECRET"): ("repo-value-2", 2),
    ("env:octo/app:prod", "E2E_ENV_SECRET"): ("env-value", 1),
    ("env:octo/app:prod/eu", "E2E_ENV_SECRET"): ("env-eu-value", 1),
}
bad = []
for key, (value, writes) in want.items():
    s = got.get(key)
    if s is None:
        bad.append(f"{key}: missing")
    elif s["value"] != value or s["writes"] != writes:
        bad.append(f"{key}: value/writes {s['value']!r}/{s['writes']}, want {value!r}/{writes}")
if ("repo:octo/app", "E2E_REFUSED") in got:
    bad.append("E2E_REFUSED was written")
if state["violations"]:
    bad.append(f"violations: {state['violations']}")
if bad:
    print("e2e-gh: FAIL\n  " + "\n  ".join(bad), file=sys.stderr)
    sys.exit(1)
print(f"e2e-gh: ok ({len(want)} secrets written by gh and decrypted by the emulator)")
PY
