# pat-action: every target installs what it needs itself (see .ci/run for the
# system packages a fresh machine needs first).
SHELL := /bin/bash
GO ?= go
export CGO_ENABLED ?= 0
# An execution count, not a duration: a duration races Go 1.26's fuzz
# coordinator at its deadline (golang/go#75804, fixed in Go 1.27) and fails a
# clean run with "context deadline exceeded" on a loaded machine.
FUZZTIME ?= 100000x
NPM_DIRS := internal/ghsecret/testdata/interop internal/ghconform/testdata

.PHONY: all build test test-deps vet race fuzz e2e e2e-gh e2e-act e2e-rotator image bench lint demo

all: build test

build:
	$(GO) build ./...

# Test dependencies: npm packages (libsodium-wrappers, @octokit/openapi) into
# the repo, Debian's python3-nacl (PyNaCl, the second independent
# libsodium the interop tests open sealed boxes with) when it is missing,
# and the pinned helm (internal/helmchart) into the tools directory.
test-deps:
	@command -v node >/dev/null || { echo "node is required: apt-get install -y nodejs npm" >&2; exit 1; }
	@bash scripts/test-deps-debian.sh
	@bash scripts/install-helm.sh
	@for d in $(NPM_DIRS); do \
	  if [ ! -d $$d/node_modules ] || [ $$d/package-lock.json -nt $$d/node_modules ]; then \
	    npm ci --prefix $$d --no-audit --no-fund --loglevel=error || exit 1; \
	  fi; \
	done

vet:
	$(GO) vet ./...

test: test-deps vet
	$(GO) test -count=1 -parallel 8 -timeout 15m ./...

# The race detector needs cgo.
race: test-deps
	CGO_ENABLED=1 $(GO) test -race -count=1 -parallel 8 -timeout 15m ./...

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseToken$$' -fuzztime $(FUZZTIME) ./internal/groo/
	$(GO) test -run '^$$' -fuzz '^FuzzValidateSecretName$$' -fuzztime $(FUZZTIME) ./internal/ghsecret/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./internal/duration/

e2e: e2e-gh e2e-act e2e-rotator

e2e-gh:
	bash scripts/e2e-gh.sh

e2e-act:
	bash scripts/container/act-e2e.sh

e2e-rotator:
	bash scripts/container/rotator-smoke.sh

# Both images (action and rotator) with buildah and local stand-in base images.
image:
	PAT_BUILD_ROTATOR=1 bash scripts/container/build.sh

# Benchmarks print their headline numbers as lines of their own
# (rotation-rtts, fleet-envelope, daemon memory, fleet-ha,
# groo-list-bytes-per-rotation, the simulation's
# "sim: N schedules, F faults, V I1 violations") besides Go's ns/op.
bench: test-deps
	$(GO) test -run '^$$' -bench '^BenchmarkRotation$$' -benchtime 5x ./internal/rotation/
	$(GO) test -run '^$$' -bench 'Seal' -benchmem ./internal/ghsecret/ ./internal/rotation/
	$(GO) test -run '^$$' -bench '^Benchmark(FleetEnvelope|DaemonMemory10k)$$' -benchmem -benchtime 1x ./internal/daemon/
	$(GO) test -run '^$$' -bench '^BenchmarkFleetHA$$' -benchtime 1x ./internal/daemon/
	$(GO) test -run '^$$' -bench '^BenchmarkGrooListBytes$$' -benchtime 1x -timeout 20m ./internal/daemon/
	$(GO) test -run '^$$' -bench '^BenchmarkSimulation$$' -benchtime 1x ./internal/sim/
	$(GO) test -run '^$$' -bench '^BenchmarkSoak$$' -benchtime 1x -timeout 15m ./internal/soak/

lint:
	bash scripts/lint.sh

demo:
	$(GO) run ./cmd/pat-rotator demo
