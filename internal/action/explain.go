package action

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/rotation"
)

// explain turns a failure into one annotation: what happened and what to do
// about it. It branches on error types only; the messages it builds from
// never carry a token (the clients keep values out of their errors).
func explain(err error, in *Inputs) string {
	var (
		refused  *ghsecret.RefusedError
		unauth   *groo.UnauthorizedError
		forbid   *groo.ForbiddenError
		limited  *groo.RateLimitedError
		invalid  *groo.InvalidRequestError
		grooErr  *groo.APIError
		ghLimit  *github.RateLimitError
		ghAbuse  *github.AbuseRateLimitError
		app      *appError
		inputErr *InputError
		field    *groo.InvalidFieldError
	)
	msg := headline(err)
	switch {
	case errors.As(err, &inputErr):
		return inputErr.Error()
	case errors.As(err, &field):
		which := "a token"
		if field.TokenID != "" {
			which = "token " + field.TokenID
		}
		return joinFix(msg, "Groo's answer was refused: "+which+" has a "+field.Field+" this tool will not print or act on "+
			"(a line break, a control or bidi character, or too long). Rename or revoke that token at https://accounts.groo.dev, then rerun")
	case errors.As(err, &app):
		return joinFix(app.Error(), app.fix())
	case errors.As(err, &refused):
		fix := refusedFix(refused, in)
		if fix == "" {
			fix = refused.Hint
		}
		return joinFix(msg, fix)
	case errors.As(err, &unauth):
		return joinFix("groo-token is not a live PAT: "+msg,
			"Groo refused it as unknown, revoked or expired (a rotation that kept failing for longer than expires-in lets it lapse). "+
				"Create a PAT at https://accounts.groo.dev and store it in the secret: gh secret set "+in.Target.Name+secretFlags(in.Target))
	case errors.As(err, &forbid):
		return joinFix("groo-token may not manage tokens: "+msg,
			"use a PAT with the user's permissions across all apps, which may list, create and revoke its own user's tokens")
	case errors.As(err, &limited):
		return joinFix(msg, "Groo is rate-limiting this account; nothing was lost, rerun later")
	case errors.As(err, &invalid):
		return joinFix(msg, "Groo refused the new token's fields: check token-name (at most 100 characters) and expires-in")
	case errors.As(err, &grooErr) && grooErr.StatusCode >= 500:
		return joinFix(msg, "Groo failed on its side; rerun later")
	case errors.As(err, &ghLimit):
		return joinFix(msg, fmt.Sprintf("GitHub's rate limit for this credential is spent until %s; rerun after that, or use a GitHub App (its limit is separate)",
			ghLimit.Rate.Reset.UTC().Format(time.RFC3339)))
	case errors.As(err, &ghAbuse):
		return joinFix(msg, "GitHub's secondary rate limit hit this credential; rerun later and avoid rotating many secrets with one token at once")
	case errors.Is(err, context.Canceled):
		return joinFix("the run was cancelled: "+msg, "rerun; a token minted before the cancel is either in the secret or revoked, and the next run settles any leftover")
	case errors.Is(err, context.DeadlineExceeded):
		return joinFix("timed out: "+msg, "check that groo-api-url and github-api-url are reachable from the runner, then rerun")
	}
	return joinFix(msg, "rerun; if it keeps failing, run with mode: plan to see what the rotation would do")
}

// headline says what failed in one line: the step of the rotation and the
// answer behind it, without the chain of wrappers (a retried read carries
// each attempt's error) and without the client's generic hint, which the
// Action replaces with a fix that names its inputs.
func headline(err error) string {
	var rerr *rotation.Error
	if !errors.As(err, &rerr) {
		return oneLine(err.Error())
	}
	return fmt.Sprintf("rotation of %s failed at step %s: %s", rerr.Target, rerr.Step, cause(rerr.Err))
}

// cause is the innermost answer worth showing.
func cause(err error) string {
	var refused *ghsecret.RefusedError
	if errors.As(err, &refused) {
		r := *refused
		r.Hint = ""
		return r.Error()
	}
	var ge *groo.APIError
	if errors.As(err, &ge) {
		return ge.Error()
	}
	return oneLine(err.Error())
}

// oneLine keeps an annotation on one line (errors.Join uses newlines).
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// refusedFix is the advice for a definitive GitHub refusal.
func refusedFix(e *ghsecret.RefusedError, in *Inputs) string {
	cred := "github-token"
	if in.usesApp() {
		cred = fmt.Sprintf("the GitHub App %d", in.AppID)
	}
	switch e.StatusCode {
	case http.StatusUnauthorized:
		if in.usesApp() {
			return "the App's installation token was refused; check that app-id and app-private-key belong to the same App"
		}
		return "github-token is expired, revoked or malformed; create a new one and update the secret that feeds github-token"
	case http.StatusForbidden:
		return cred + " may not write this secret. GITHUB_TOKEN (secrets.GITHUB_TOKEN) can never write secrets. Use either " +
			"(1) github-token: a fine-grained PAT with " + permissionFor(in.Target.Scope) + ", or a classic PAT with " + classicScopeFor(in.Target.Scope) +
			"; or (2) app-id and app-private-key of a GitHub App with the " + appPermissionFor(in.Target.Scope) + " permission, installed on " + installationOwner(in.Target)
	case http.StatusNotFound:
		return "GitHub does not show " + in.Target.Key() + " to " + cred + ": check repository, environment and organization, " +
			"and that the credential has access to them (GitHub answers 404, not 403, for what a token cannot see)"
	}
	return "" // the client's hint applies as is
}

func permissionFor(s ghsecret.Scope) string {
	switch s {
	case ghsecret.ScopeEnvironment:
		return `repository permissions "Secrets: write" and "Environments: write"`
	case ghsecret.ScopeOrganization:
		return `organization permission "Secrets: write"`
	case ghsecret.ScopeDependabot:
		return `repository permission "Dependabot secrets: write"`
	case ghsecret.ScopeDependabotOrganization:
		return `organization permission "Dependabot secrets: write"`
	}
	return `repository permission "Secrets: write"`
}

func classicScopeFor(s ghsecret.Scope) string {
	if s == ghsecret.ScopeOrganization || s == ghsecret.ScopeDependabotOrganization {
		return "admin:org"
	}
	return "repo"
}

func appPermissionFor(s ghsecret.Scope) string {
	switch s {
	case ghsecret.ScopeEnvironment:
		return "secrets and environments"
	case ghsecret.ScopeOrganization:
		return "organization_secrets"
	case ghsecret.ScopeDependabot:
		return "dependabot_secrets"
	case ghsecret.ScopeDependabotOrganization:
		return "organization_dependabot_secrets"
	}
	return "secrets"
}

// secretFlags are gh secret set's flags for the target.
func secretFlags(t ghsecret.Target) string {
	switch t.Scope {
	case ghsecret.ScopeEnvironment:
		return " -R " + t.Owner + "/" + t.Repo + " --env " + t.Environment
	case ghsecret.ScopeOrganization:
		return " --org " + t.Org
	case ghsecret.ScopeDependabot:
		return " -R " + t.Owner + "/" + t.Repo + " --app dependabot"
	case ghsecret.ScopeDependabotOrganization:
		return " --org " + t.Org + " --app dependabot"
	}
	return " -R " + t.Owner + "/" + t.Repo
}
