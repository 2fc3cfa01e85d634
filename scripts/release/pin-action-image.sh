#!/usr/bin/env bash
# Pins the Action's image by digest: resolves the digest of an image reference
# just pushed (REGISTRY/REPOSITORY:TAG) from its registry with crane and
# rewrites action.yml's `runs.image` line, and only that line, to
# docker://REGISTRY/REPOSITORY@sha256:DIGEST. The release workflow
# (.github/workflows/release.yml) runs it before it commits and tags a release;
# scripts/container/act-e2e.sh runs it against a local registry.
#
#   pin-action-image.sh [--expect sha256:HEX] [--action-yml FILE] REGISTRY/REPOSITORY:TAG
#
#   --expect      the digest the push reported (build-push-action's `digest`):
#                 refuse when the registry resolves the tag to anything else
#   --action-yml  the file to rewrite (default: action.yml at the repository root)
#   PAT_TOOLS_DIR where crane is installed (scripts/release/crane.sh pins its
#                 version)
#
# It refuses, changing nothing, when the reference is malformed, when
# action.yml does not have the expected shape (a top-level `runs:` with
# `using: docker` and exactly one `image: docker://…` line), or when the
# digest cannot be resolved. Running it again with the same reference leaves
# the file as it is. Prints the pinned image on stdout.
set -euo pipefail

die() { printf 'pin-action-image: %s\n' "$*" >&2; exit 1; }
usage() { die "usage: $0 [--expect sha256:HEX] [--action-yml FILE] REGISTRY/REPOSITORY:TAG"; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
action_yml=$root/action.yml
expect=
ref=
while [ $# -gt 0 ]; do
	case "$1" in
	--expect) [ $# -ge 2 ] || usage; expect=$2; shift 2 ;;
	--action-yml) [ $# -ge 2 ] || usage; action_yml=$2; shift 2 ;;
	-*) usage ;;
	*) [ -z "$ref" ] || usage; ref=$1; shift ;;
	esac
done
[ -n "$ref" ] || usage

# 1. The reference: REGISTRY/REPOSITORY:TAG with an explicit registry host
# (a name without one would mean Docker Hub to one tool and something else to
# another), the repository in the distribution spec's grammar, and a tag.
# A digest reference is refused: the point is to resolve the tag just pushed.
host='[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?'
# A host is one with a dot, localhost, an [IPv6] address, or any with a port.
registry_re="^((localhost|$host(\.$host)+|\[[0-9a-f:]+\])(:[0-9]+)?|$host:[0-9]+)$"
component_re='^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$'
tag_re='^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$'
case "$ref" in
*@*) die "reference '$ref' is already by digest: give the REGISTRY/REPOSITORY:TAG just pushed" ;;
*/*) ;;
*) die "reference '$ref' has no registry: give REGISTRY/REPOSITORY:TAG, e.g. ghcr.io/groo/pat-action:v1.2.3" ;;
esac
registry=${ref%%/*}
rest=${ref#*/}
[[ $registry =~ $registry_re ]] ||
	die "reference '$ref': '$registry' is no registry host: give REGISTRY/REPOSITORY:TAG, e.g. ghcr.io/groo/pat-action:v1.2.3"
[[ $rest == *:* ]] || die "reference '$ref' has no tag: give REGISTRY/REPOSITORY:TAG, e.g. ghcr.io/groo/pat-action:v1.2.3"
repository=${rest%:*}
tag=${rest##*:}
[[ $tag =~ $tag_re ]] || die "reference '$ref': '$tag' is no valid tag (letters, digits, _ . -, at most 128, not starting with . or -)"
IFS=/ read -r -a components <<<"$repository"
[ ${#components[@]} -gt 0 ] || die "reference '$ref' has an empty repository"
for c in "${components[@]}"; do
	[[ $c =~ $component_re ]] ||
		die "reference '$ref': repository '$repository' is not lowercase letters and digits separated by / . _ or -"
done
[[ $repository != */ && $repository != *//* ]] || die "reference '$ref': repository '$repository' has an empty component"
if [ -n "$expect" ] && ! [[ $expect =~ ^sha256:[0-9a-f]{64}$ ]]; then
	die "--expect '$expect' is not a digest: want sha256: and 64 lowercase hex digits"
fi

# 2. action.yml's shape: the line to rewrite is the one `image:` of the
# top-level `runs:` mapping, which must say `using: docker`; the image there
# is a docker:// reference by tag or by digest (an earlier pin). Anything else
# (a Dockerfile image, a composite or node action, two image lines) is refused
# rather than guessed at.
[ -f "$action_yml" ] || die "$action_yml: no such file"
shape=$(awk '
	/^runs:[ \t]*$/ { inruns = 1; seenruns = 1; next }
	/^[^ \t#]/ { inruns = 0 }
	inruns && /^[ \t]+using:/ {
		v = $0; sub(/^[ \t]+using:[ \t]*/, "", v); sub(/[ \t]+#.*$/, "", v); gsub(/["\047]/, "", v)
		using = v
	}
	inruns && /^[ \t]+image:/ { n++; line = NR; text = $0 }
	END {
		if (!seenruns) { print "no top-level runs: mapping"; exit }
		if (using != "docker") { print "runs.using is \"" using "\", want docker"; exit }
		if (n != 1) { print "runs has " n + 0 " image: lines, want exactly one"; exit }
		print line "\t" text
	}' "$action_yml")
case "$shape" in
[0-9]*) ;;
*) die "$action_yml is not in the expected shape: $shape" ;;
esac
line=${shape%%$'\t'*}
current=${shape#*$'\t'}
image_line_re='^([[:blank:]]+)image:[[:blank:]]*"?docker://[^[:space:]"@/]+(/[^[:space:]"@:/]+)+(:[A-Za-z0-9_][A-Za-z0-9_.-]*|@sha256:[0-9a-f]{64})"?[[:blank:]]*$'
[[ $current =~ $image_line_re ]] ||
	die "$action_yml:$line is not in the expected shape: want 'image: docker://REGISTRY/REPOSITORY:TAG' (or @sha256:…), found '$current'"
indent=${BASH_REMATCH[1]}

# 3. The digest, from the registry (crane at its pinned version).
# shellcheck source=scripts/release/crane.sh
. "$root/scripts/release/crane.sh"
crane_install || die "cannot install crane $CRANE_VERSION into ${PAT_TOOLS_DIR:-/tmp/pat-e2e/tools} (needs Go and the module proxy)"
errs=$(mktemp)
trap 'rm -f "$errs"' EXIT
if ! digest=$("$CRANE" digest "$ref" 2>"$errs"); then
	die "cannot resolve the digest of $ref from $registry: $(tr '\n' ' ' <"$errs")"
fi
[[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || die "the registry answered '$digest' for the digest of $ref, which is no sha256 digest"
if [ -n "$expect" ] && [ "$digest" != "$expect" ]; then
	die "$ref resolves to $digest at $registry, but the push reported $expect: refusing to pin an image other than the one pushed"
fi

# 4. The rewrite: that one line, through a temporary file beside action.yml
# renamed over it, so that a failure leaves the old file whole.
pinned="docker://$registry/$repository@$digest"
want="${indent}image: $pinned"
if [ "$current" = "$want" ]; then
	printf 'pin-action-image: %s already pins %s\n' "$action_yml" "$pinned" >&2
else
	tmp=$(mktemp "$(dirname "$action_yml")/.action.yml.XXXXXX")
	trap 'rm -f "$errs" "$tmp"' EXIT
	awk -v n="$line" -v repl="$want" 'NR == n { print repl; next } { print }' "$action_yml" >"$tmp"
	chmod --reference="$action_yml" "$tmp"
	mv "$tmp" "$action_yml"
	printf 'pin-action-image: %s:%s now pins %s (was: %s)\n' "$action_yml" "$line" "$pinned" "${current#"${indent}"}" >&2
fi
printf '%s\n' "$pinned"
