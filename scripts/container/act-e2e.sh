#!/usr/bin/env bash
# The Action under a real runner (`make e2e-act`), as a release ships it:
# builds the image from the project's Dockerfile (stand-in base images,
# scripts/container/build.sh), pushes it to a local registry (crane registry
# serve on 127.0.0.1), pins a copy of action.yml to the pushed digest with the
# release's own scripts/release/pin-action-image.sh, runs
# e2e/act/.github/workflows/rotate.yml against that copy with nektos/act
# through podman's Docker API (which pulls the image by digest from the local
# registry) against pat-emulator on 127.0.0.1, then asserts:
#   - the pin: the digest written is the one podman pushed, only the image
#     line changed, a second run changes nothing, an unknown tag and a digest
#     other than the pushed one are refused;
#   - act pulled docker://127.0.0.1:PORT/groo/pat-action@sha256:… from the
#     registry, and that image has the built image's ID;
# and on the emulator's state and on act's log:
#   - the secret repo:octo/app GROO_PAT holds a new live token, not the seed's;
#   - the seed token is revoked; the emulator saw no invariant violation;
#   - the outputs (token-id, rotated=true, ...) reached a later step;
#   - a value was masked (::add-mask::) before the new token was first named;
#   - neither the seed token nor the new one appears anywhere in act's log.
# Needs root and scripts/container/deps.sh's packages. Prints the act run's
# wall time and the pin's (registry, push, pin and its checks). Work files
# live in $PAT_E2E_DIR (default /tmp/pat-e2e); the repository is not changed.
#
#   PAT_E2E_SKIP_BUILD=1  reuse the images already built (quicker reruns)
#   PAT_BUILD_ROTATOR     passed to build.sh (default here: 0)
set -euo pipefail
# shellcheck source=scripts/container/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

ACT_VERSION=v0.2.89
WORKFLOW=e2e/act/.github/workflows/rotate.yml
REPO=octo/app
SECRET=GROO_PAT
SCOPE="repo:$REPO"

for cmd in buildah podman runc jq curl; do
	command -v "$cmd" >/dev/null || die "$cmd is missing: run scripts/container/deps.sh (as root) first"
done
[ "$(id -u)" = 0 ] || die "run as root: podman with vfs storage and runc is set up for root here"

run=$PAT_E2E_DIR/act-run
rm -rf "$run"
mkdir -p "$run" "$PAT_E2E_DIR/bin"

pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# await FILE SED-SCRIPT: waits up to 10 s for `sed -n SED-SCRIPT FILE` to
# print something (the address line of a server started in the background)
# and prints it; fails when nothing comes.
await() {
	local v
	for _ in $(seq 100); do
		v=$(sed -n "$2" "$1")
		if [ -n "$v" ]; then
			printf '%s\n' "$v"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# 1. act at the pinned version.
act=$PAT_TOOLS_DIR/act
if ! "$act" --version 2>/dev/null | grep -qx "act version ${ACT_VERSION#v}"; then
	log "installing nektos/act $ACT_VERSION into $PAT_TOOLS_DIR"
	GOBIN=$PAT_TOOLS_DIR go install "github.com/nektos/act@$ACT_VERSION"
fi

# 2. The images: ghcr.io/groo/pat-action:v1 from the Dockerfile, and the runner stand-in.
if [ "${PAT_E2E_SKIP_BUILD:-0}" = 1 ] && podman image exists "$ACTION_IMAGE" && podman image exists "$RUNNER_STANDIN"; then
	log "reusing $ACTION_IMAGE (PAT_E2E_SKIP_BUILD=1)"
else
	PAT_BUILD_ROTATOR=${PAT_BUILD_ROTATOR:-0} bash "$REPO_ROOT/scripts/container/build.sh"
fi

# 2b. The release's pin. crane's registry keeps blobs in memory; the port is
# its own choice, so runs never meet a registry or a pulled name of an earlier
# run. podman (this script's and the API service's) may reach it over plain
# http through a registries.conf of this run only.
pin_start=$(date +%s.%N)
# shellcheck source=scripts/release/crane.sh
. "$REPO_ROOT/scripts/release/crane.sh"
crane_install || die "cannot install crane $CRANE_VERSION into $PAT_TOOLS_DIR"
"$CRANE" registry serve --address 127.0.0.1:0 >"$run/registry.log" 2>&1 &
pids+=($!)
port=$(await "$run/registry.log" 's/.* serving on port \([0-9]*\)$/\1/p') ||
	die "crane registry serve did not start (log: $run/registry.log)"
registry=127.0.0.1:$port
pushed=$registry/groo/pat-action:e2e
cat >"$run/registries.conf" <<CONF
[[registry]]
location = "$registry"
insecure = true
CONF
export CONTAINERS_REGISTRIES_CONF=$run/registries.conf
podman push --quiet --digestfile "$run/pushed.digest" "$ACTION_IMAGE" "docker://$pushed" >/dev/null ||
	die "podman push $ACTION_IMAGE to $pushed failed"
pushed_digest=$(cat "$run/pushed.digest")
log "pushed $ACTION_IMAGE as $pushed, digest $pushed_digest"

# A copy of the action (action.yml and the e2e workflow) for act to run: the
# pin rewrites the copy, never the repository's action.yml.
work=$run/repo
mkdir -p "$work/e2e"
cp "$REPO_ROOT/action.yml" "$work/action.yml"
cp -r "$REPO_ROOT/e2e/act" "$work/e2e/act"
# A git repository, as act expects (it takes github.sha and github.ref from it).
git -C "$work" init --quiet
git -C "$work" add --all
git -C "$work" -c user.name=e2e -c user.email=e2e@localhost commit --quiet -m "e2e copy of the action"
pin=$REPO_ROOT/scripts/release/pin-action-image.sh
if bash "$pin" --action-yml "$work/action.yml" "$registry/groo/pat-action:no-such-tag" >/dev/null 2>"$run/pin-refused.log"; then
	die "pin-action-image.sh pinned a tag the registry does not have"
fi
grep -qF "cannot resolve the digest of $registry/groo/pat-action:no-such-tag" "$run/pin-refused.log" ||
	die "pin-action-image.sh refused an unknown tag without saying so: $(cat "$run/pin-refused.log")"
zeros=sha256:$(printf '0%.0s' $(seq 64))
if bash "$pin" --expect "$zeros" --action-yml "$work/action.yml" "$pushed" >/dev/null 2>"$run/pin-refused.log"; then
	die "pin-action-image.sh pinned $pushed although the push reported another digest"
fi
grep -qF "but the push reported $zeros" "$run/pin-refused.log" ||
	die "pin-action-image.sh refused a digest mismatch without saying so: $(cat "$run/pin-refused.log")"
cmp -s "$REPO_ROOT/action.yml" "$work/action.yml" || die "a refused pin changed action.yml"
pinned=$(bash "$pin" --expect "$pushed_digest" --action-yml "$work/action.yml" "$pushed")
want="docker://$registry/groo/pat-action@$pushed_digest"
[ "$pinned" = "$want" ] || die "pin-action-image.sh pinned '$pinned', want $want (the digest podman pushed)"
grep -qxF "  image: $want" "$work/action.yml" || die "the pinned action.yml does not name $want"
changed=$(diff "$REPO_ROOT/action.yml" "$work/action.yml" | grep -c '^[<>]' || true)
[ "$changed" = 2 ] || die "the pin changed $changed lines of action.yml (diff: $(diff "$REPO_ROOT/action.yml" "$work/action.yml")), want the image line only"
cp "$work/action.yml" "$run/action.yml.pinned"
bash "$pin" --action-yml "$work/action.yml" "$pushed" >/dev/null 2>&1 || die "a second pin-action-image.sh run failed"
cmp -s "$run/action.yml.pinned" "$work/action.yml" || die "a second pin-action-image.sh run changed action.yml"
# The registry serves, under that digest, bytes that hash to it.
[ "sha256:$("$CRANE" manifest "${want#docker://}" | sha256sum | cut -d' ' -f1)" = "$pushed_digest" ] ||
	die "the registry's manifest for $want does not hash to its digest"
# The run must pull the image, every byte of it: podman records the digests an
# image was pushed or pulled under, and would find this one in its store. So
# the built image goes (its ID noted), and the pull brings it back under the
# same ID (the ID is its config's digest), tagged again after the run.
built_id=$(podman image inspect --format '{{.Id}}' "$ACTION_IMAGE")
podman rmi --force "$built_id" >/dev/null
pin_end=$(date +%s.%N)
pin_wall=$(awk -v s="$pin_start" -v e="$pin_end" 'BEGIN { printf "%.1f", e - s }')
log "action.yml (copy in $work) pins $want (${pin_wall} s)"

# 3. podman's Docker-compatible API, which act talks to.
sock=$run/podman.sock
podman system service --time=0 "unix://$sock" >"$run/podman-service.log" 2>&1 &
pids+=($!)
export DOCKER_HOST=unix://$sock
for _ in $(seq 100); do
	curl -sf --unix-socket "$sock" http://d/_ping >/dev/null 2>&1 && break
	sleep 0.1
done
curl -sf --unix-socket "$sock" http://d/_ping >/dev/null || die "podman system service did not answer on $sock (log: $run/podman-service.log)"

# 4. pat-emulator with a seed: the use case's one live token (also in the
# secret, as after an earlier rotation), created long before the write window
# so that it is safe to revoke, a token that can write secrets, the repository.
log "building pat-emulator"
(cd "$REPO_ROOT" && go build -o "$PAT_E2E_DIR/bin/pat-emulator" ./cmd/pat-emulator)
hex() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
seed_token=groo_pat_$(hex)
gh_token=ghp_e2e$(hex | cut -c1-36)
created=$(date -u -d '-3 hours' +%Y-%m-%dT%H:%M:%S.000Z)
expires=$(date -u -d '+4 days' +%Y-%m-%dT%H:%M:%S.000Z)
jq -n --arg seed "$seed_token" --arg gh "$gh_token" --arg repo "$REPO" --arg scope "$SCOPE" \
	--arg secret "$SECRET" --arg created "$created" --arg expires "$expires" '{
  groo: {
    users: [{id: "usr_e2e", email: "e2e@groo.dev"}],
    tokens: [{id: "tok_e2e_seed", name: ("GitHub Actions - " + $repo + " " + $secret), secret: $seed,
              user: "usr_e2e", createdAt: $created, expiresAt: $expires}]
  },
  github: {
    tokens: [$gh],
    repositories: [$repo],
    secrets: [{scope: $scope, name: $secret, value: $seed}]
  }
}' >"$run/seed.json"
"$PAT_E2E_DIR/bin/pat-emulator" --listen 127.0.0.1:0 --seed "$run/seed.json" >"$run/emulator.out" 2>"$run/emulator.log" &
pids+=($!)
url=$(await "$run/emulator.out" 's/^pat-emulator listening on \(http:[^ ]*\)$/\1/p') ||
	die "pat-emulator did not start (log: $run/emulator.log)"
log "pat-emulator at $url"

# 5. The workflow under act. Secrets go through a file, not the command line.
printf 'GROO_PAT=%s\nSECRETS_WRITER_TOKEN=%s\n' "$seed_token" "$gh_token" >"$run/secrets"
chmod 600 "$run/secrets"
: >"$run/empty.env"
log "act push -W $WORKFLOW"
pulls_before=$(grep -cF "GET /v2/groo/pat-action/manifests/$pushed_digest" "$run/registry.log" || true)
start=$(date +%s.%N)
set +e
(
	cd "$work" && ACT_DISABLE_VERSION_CHECK=1 HOME=$run "$act" push \
		-W "$WORKFLOW" \
		--bind --pull=false --rm \
		-P "ubuntu-latest=$RUNNER_STANDIN" \
		--container-daemon-socket - \
		--no-cache-server \
		--secret-file "$run/secrets" \
		--env-file "$run/empty.env" \
		--var-file "$run/empty.env" \
		--var "PAT_E2E_EMULATOR_URL=$url"
) >"$run/act.log" 2>&1 </dev/null
act_rc=$?
podman tag "${want#docker://}" "$ACTION_IMAGE" 2>/dev/null || true
set -e
end=$(date +%s.%N)
wall=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')
log "act run: exit $act_rc, wall time ${wall} s (log: $run/act.log)"

# 6. Assertions.
fail() {
	printf 'FAIL: %s\n' "$*" >&2
	printf -- '--- last lines of act.log (%s) ---\n' "$run/act.log" >&2
	tail -n 40 "$run/act.log" >&2
	exit 1
}
# The log must never carry a token, whatever else happened.
grep -qF "$seed_token" "$run/act.log" && fail "the seed token's value appears in act's log"
[ "$act_rc" = 0 ] || fail "act exited $act_rc"

# act ran the pinned image: podman pulled it by digest from the registry
# during the run, and it is the image that was built.
pulls_after=$(grep -cF "GET /v2/groo/pat-action/manifests/$pushed_digest" "$run/registry.log" || true)
[ "$pulls_after" -gt "$pulls_before" ] || fail "act did not pull ${want#docker://} from the local registry (log: $run/registry.log)"
pulled_id=$(podman image inspect --format '{{.Id}}' "${want#docker://}") || fail "podman has no image ${want#docker://} after the run"
[ "$pulled_id" = "$built_id" ] || fail "the image pulled by digest ($pulled_id) is not the built $ACTION_IMAGE ($built_id)"

curl -sf "$url/_emulator/state" >"$run/state.json" || fail "GET $url/_emulator/state failed"
new_token=$(jq -r --arg scope "$SCOPE" --arg name "$SECRET" \
	'.secrets[] | select(.scope == $scope and .name == $name) | .value' "$run/state.json")
[ -n "$new_token" ] || fail "the emulator has no secret $SCOPE $SECRET"
[ "$new_token" != "$seed_token" ] || fail "secret $SCOPE $SECRET still holds the seed token"
grep -qF "$new_token" "$run/act.log" && fail "the new token's value appears in act's log"

new_id=$(jq -r --arg v "$new_token" '.tokens[] | select(.secret == $v) | .id' "$run/state.json")
[ -n "$new_id" ] || fail "the secret holds a value that is no Groo token the emulator issued"
[ "$(jq -r --arg id "$new_id" '.tokens[] | select(.id == $id) | .revoked' "$run/state.json")" = false ] ||
	fail "the new token $new_id in the secret is revoked"
[ "$(jq -r '.tokens[] | select(.id == "tok_e2e_seed") | .revoked' "$run/state.json")" = true ] ||
	fail "the seed token tok_e2e_seed is still live"
live=$(jq -r '[.tokens[] | select(.revoked | not)] | length' "$run/state.json")
[ "$live" = 1 ] || fail "want exactly one live token after the rotation, found $live"
violations=$(jq -r '.violations // [] | join("; ")' "$run/state.json")
[ -z "$violations" ] || fail "the emulator recorded violations: $violations"

# act echoes each ::add-mask:: command as "⚙  ***": one must come before the
# first line that names the new token (the Action masks it before it logs).
mask_line=$(grep -n '⚙ *\*\*\*$' "$run/act.log" | head -n 1 | cut -d: -f1)
id_line=$(grep -nF "$new_id" "$run/act.log" | head -n 1 | cut -d: -f1)
if [ -z "$mask_line" ] || [ -z "$id_line" ] || [ "$mask_line" -gt "$id_line" ]; then
	fail "no ::add-mask:: before the first line naming $new_id"
fi

# act prefixes step output with "[job/step]   | ".
out() { sed -n "s/.*| e2e-output $1=\(.*\)$/\1/p" "$run/act.log" | tail -n 1 | tr -d '\r'; }
[ "$(out rotated)" = true ] || fail "the later step did not see rotated=true (saw '$(out rotated)')"
[ "$(out token-id)" = "$new_id" ] || fail "the later step saw token-id '$(out token-id)', the secret holds $new_id"
[ "$(out token-last4)" = "${new_token: -4}" ] || fail "the later step saw token-last4 '$(out token-last4)', want the new token's last four"
[ "$(out revoked-token-ids)" = tok_e2e_seed ] || fail "the later step saw revoked-token-ids '$(out revoked-token-ids)', want tok_e2e_seed"
[ -n "$(out expires-at)" ] || fail "the later step saw no expires-at"

size=$(podman image inspect --format '{{.Size}}' "$ACTION_IMAGE")
printf 'e2e-act: PASS: secret %s %s now holds %s (live), tok_e2e_seed revoked, outputs reached a later step, no token in the log\n' \
	"$SCOPE" "$SECRET" "$new_id"
printf 'e2e-act: ran %s (pulled by digest, image ID %s)\n' "$want" "$pulled_id"
printf 'e2e-act: image %s %s bytes; act run wall time %s s; registry, push and pin %s s\n' "$ACTION_IMAGE" "$size" "$wall" "$pin_wall"
