#!/usr/bin/env bash
# Static checks (`make lint`, run by .ci/run): gofmt, staticcheck, test code
# kept out of the binaries (go list), actionlint on every workflow of the
# repository and shellcheck on the scripts. actionlint
# also checks action.yml, through the e2e workflow's `uses: ./` step, and the
# workflows' `run:` scripts with shellcheck. staticcheck and actionlint are
# installed at pinned versions into $PAT_TOOLS_DIR (outside the repository);
# the Debian package shellcheck comes from scripts/container/deps.sh.
set -euo pipefail

STATICCHECK_VERSION=v0.8.2 # staticcheck 2026.2.2
ACTIONLINT_VERSION=v1.7.12

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=${PAT_TOOLS_DIR:-/tmp/pat-e2e/tools}
export PATH=/usr/local/go/bin:$PATH
mkdir -p "$tools"
cd "$root"

install() { # install NAME MODULE/PATH VERSION VERSION-PATTERN
	if ! "$tools/$1" -version 2>/dev/null | grep -qF -- "$4"; then
		echo "==> installing $1 $3 into $tools"
		GOBIN=$tools go install "$2@$3"
	fi
}
install staticcheck honnef.co/go/tools/cmd/staticcheck "$STATICCHECK_VERSION" "(${STATICCHECK_VERSION#v})"
install actionlint github.com/rhysd/actionlint/cmd/actionlint "$ACTIONLINT_VERSION" "$ACTIONLINT_VERSION"

status=0

echo "==> gofmt"
unformatted=$(find . -name '*.go' -not -path '*/node_modules/*' -not -path './.git/*' -print0 | xargs -0 -r gofmt -l)
if [ -n "$unformatted" ]; then
	echo "gofmt: these files need formatting (gofmt -w):" >&2
	echo "$unformatted" >&2
	status=1
fi

echo "==> staticcheck ./..."
"$tools/staticcheck" ./... || status=1

# Test code stays out of the binaries: no command links "testing" (the
# emulator's test server lives in internal/emulator/emulatortest for this),
# the daemon does not link the emulator, and only _test.go files import
# "testing" or a test helper package (those may import each other).
echo "==> test code stays out of the binaries"
mod=$(go list -m)
helpers="$mod/internal/(testkit|pgtest|ghconform|audit/storetest|emulator/emulatortest)"
if deps=$(go list -deps ./cmd/...); then
	if grep -qx testing <<<"$deps"; then
		echo "go list -deps ./cmd/... names \"testing\": a non-test file imports it or a test helper" >&2
		status=1
	fi
else
	status=1
fi
if deps=$(go list -deps ./internal/daemon); then
	if grep -E "^$mod/internal/emulator(/|\$)" <<<"$deps" >&2; then
		echo "go list -deps ./internal/daemon names the emulator (above): the daemon must not link it" >&2
		status=1
	fi
else
	status=1
fi
# shellcheck disable=SC2016 # $p is a Go template variable
if imports=$(go list -f '{{$p := .ImportPath}}{{range .Imports}}{{$p}} {{.}}{{"\n"}}{{end}}' ./...); then
	if grep -E " (testing|$helpers)\$" <<<"$imports" | grep -Ev "^$helpers " >&2; then
		echo "these non-test files import \"testing\" or a test helper (above): move the code into a _test.go file or a test helper package" >&2
		status=1
	fi
else
	status=1
fi

workflows=()
for f in .github/workflows/*.yml examples/workflows/*.yml e2e/*/.github/workflows/*.yml; do
	[ -e "$f" ] && workflows+=("$f")
done
[ -e action.yml ] || { echo "action.yml is missing: nothing checks the Action's metadata" >&2; status=1; }
echo "==> actionlint ${workflows[*]}"
"$tools/actionlint" "${workflows[@]}" || status=1

# The runner evaluates ${{ }} even in action.yml's descriptions, where no
# context is available: the action then fails to load ("Unrecognized
# named-value: 'secrets'"), and act refuses it. actionlint does not check this.
# Only input defaults and the runs section may hold expressions.
echo "==> action.yml: expressions only in defaults and runs"
if [ -e action.yml ] && ! awk '
	/^runs:/ { inruns = 1; next }
	/^[^ #]/ { inruns = 0 }
	/\$\{\{/ && !inruns && !/^ *default:/ { printf "action.yml:%d: expression outside a default: %s\n", NR, $0; bad = 1 }
	END { exit bad }' action.yml >&2; then
	status=1
fi

if command -v shellcheck >/dev/null; then
	echo "==> shellcheck scripts"
	find scripts examples .ci -name '*.sh' -print0 | xargs -0 -r shellcheck -x || status=1
elif [ "${CI:-}" = true ]; then
	echo "shellcheck is missing: run scripts/container/deps.sh" >&2
	status=1
else
	echo "==> shellcheck not installed: scripts and run: blocks NOT shell-checked (scripts/container/deps.sh installs it)"
fi

# The systemd unit: systemd-analyze verify, against a built binary at the
# unit's ExecStart (verify checks it exists). It only warns about an unknown
# key, so any output fails too.
if command -v systemd-analyze >/dev/null; then
	echo "==> systemd-analyze verify deploy/systemd/pat-rotator.service"
	sd=$(mktemp -d)
	if go build -o "$sd/pat-rotator" ./cmd/pat-rotator; then
		sed "s#/usr/local/bin/pat-rotator#$sd/pat-rotator#" deploy/systemd/pat-rotator.service >"$sd/pat-rotator.service"
		if ! out=$(systemd-analyze verify "$sd/pat-rotator.service" 2>&1) || [ -n "$out" ]; then
			echo "$out" >&2
			echo "deploy/systemd/pat-rotator.service does not verify cleanly" >&2
			status=1
		fi
	else
		status=1
	fi
	rm -rf "$sd"
elif [ "${CI:-}" = true ]; then
	echo "systemd-analyze is missing: apt-get install systemd" >&2
	status=1
fi

if [ "$status" = 0 ]; then
	echo "lint: ok"
else
	echo "lint: FAILED" >&2
fi
exit "$status"
