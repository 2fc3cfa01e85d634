#!/usr/bin/env bash
# Try pat-action against the emulators, as the runner would run it: start
# pat-emulator, run the Action binary with INPUT_* variables, then show what
# the emulator holds. Nothing here reaches the network.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PORT:-8080}
url=http://127.0.0.1:$port
work=$(mktemp -d)
trap 'kill "$emu" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

go build -o "$work/pat-emulator" ./cmd/pat-emulator
go build -o "$work/pat-action" ./cmd/pat-action
"$work/pat-emulator" --listen "127.0.0.1:$port" --seed examples/emulator-seed.json >"$work/emulator.log" 2>&1 &
emu=$!
for _ in $(seq 50); do grep -q listening "$work/emulator.log" && break; sleep 0.1; done

: >"$work/output"
: >"$work/summary"
# The seed's tokens (examples/emulator-seed.json): only the emulator accepts them.
env "INPUT_GROO-TOKEN=groo_pat_0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a" \
    "INPUT_GITHUB-TOKEN=ghp_emulatorwriter000000000000000000000" \
    "INPUT_REPOSITORY=octo/app" \
    "INPUT_GROO-API-URL=$url" "INPUT_GITHUB-API-URL=$url" \
    "GITHUB_OUTPUT=$work/output" "GITHUB_STEP_SUMMARY=$work/summary" \
    "$work/pat-action"

echo "--- outputs"
cat "$work/output"
echo "--- emulator: tokens of the use case (secrets shown by the emulator only)"
curl -fsS "$url/_emulator/state" >"$work/state.json"
python3 - "$work/state.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
held = {x["value"] for x in s["secrets"]}
for t in s["tokens"]:
    state = "revoked" if t["revoked"] else "live"
    where = "  <- in the secret" if t["secret"] in held else ""
    print("%-28s %-8s ...%s%s" % (t["id"], state, t["secret"][-4:], where))
print("violations:", s["violations"] or "none")
PY
