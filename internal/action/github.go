package action

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"

	"github.com/groo/pat-action/internal/ghsecret"
)

// newGitHubClient returns a go-github client for in.GitHubURL that
// authenticates with github-token, or with an installation token of the
// GitHub App on the target's owner. The installation token is masked as soon
// as it exists: it is as powerful as a PAT.
func newGitHubClient(ctx context.Context, in *Inputs, hc *http.Client, mask func(string)) (*github.Client, error) {
	// ghsecret.NewGitHubClient refuses plain http to anything but loopback
	// before any request, and redirects to another origin.
	if !in.usesApp() {
		c, err := ghsecret.NewGitHubClient(in.GitHubURL, hc.Transport, hc.Timeout, ghsecret.TokenAuth(in.GitHubToken.reveal()))
		if err != nil {
			return nil, &InputError{Input: inGitHubAPIURL, Msg: err.Error()}
		}
		return c, nil
	}

	var atr *ghinstallation.AppsTransport
	appClient, err := ghsecret.NewGitHubClient(in.GitHubURL, hc.Transport, hc.Timeout, func(guarded http.RoundTripper) http.RoundTripper {
		atr = ghinstallation.NewAppsTransportFromPrivateKey(guarded, in.AppID, in.AppKey)
		atr.BaseURL = in.GitHubURL // ghinstallation appends /app/...: no trailing slash
		atr.Client = ghsecret.NewHTTPClient(guarded, hc.Timeout)
		return atr
	})
	if err != nil {
		return nil, &InputError{Input: inGitHubAPIURL, Msg: err.Error()}
	}

	owner := installationOwner(in.Target)
	var inst *github.Installation
	if in.Target.Org != "" {
		inst, _, err = appClient.Apps.FindOrganizationInstallation(ctx, in.Target.Org)
	} else {
		inst, _, err = appClient.Apps.FindRepositoryInstallation(ctx, in.Target.Owner, in.Target.Repo)
	}
	if err != nil {
		return nil, &appError{AppID: in.AppID, Owner: owner, Step: "find installation", Err: err}
	}

	itr := ghinstallation.NewFromAppsTransport(atr, inst.GetID())
	itr.Client = atr.Client
	emptyTokenOptions(&itr.InstallationTokenOptions)
	tok, err := itr.Token(ctx) // fetch now, to mask it before any request uses it
	if err != nil {
		return nil, &appError{AppID: in.AppID, Owner: owner, Step: fmt.Sprintf("create installation token (installation %d)", inst.GetID()), Err: err}
	}
	mask(tok)
	// itr sends through atr's guarded transport already.
	c, err := ghsecret.NewGitHubClient(in.GitHubURL, hc.Transport, hc.Timeout, func(http.RoundTripper) http.RoundTripper { return itr })
	if err != nil {
		return nil, &InputError{Input: inGitHubAPIURL, Msg: err.Error()}
	}
	return c, nil
}

// emptyTokenOptions gives an installation transport empty token options.
// Left nil, ghinstallation sends the JSON body null with
// POST /app/installations/{id}/access_tokens, which GitHub's OpenAPI
// description does not allow (the body, when there is one, is an object);
// empty options send {}: a token with all the installation's permissions
// and repositories, as before. Generic so that the options' type, from the
// go-github version ghinstallation uses, need not be imported.
func emptyTokenOptions[T any](p **T) { *p = new(T) }

func installationOwner(t ghsecret.Target) string {
	if t.Org != "" {
		return t.Org
	}
	return t.Owner + "/" + t.Repo
}

// appError is a failure to act as the GitHub App, before any secret request.
type appError struct {
	AppID int64
	Owner string
	Step  string
	Err   error
}

func (e *appError) Error() string {
	return fmt.Sprintf("GitHub App %d on %s: %s: %v", e.AppID, e.Owner, e.Step, e.Err)
}

func (e *appError) Unwrap() error { return e.Err }

// status is the HTTP status behind the error, 0 when there was none.
func (e *appError) status() int {
	var ge *github.ErrorResponse
	if errors.As(e.Err, &ge) && ge.Response != nil {
		return ge.Response.StatusCode
	}
	var he *ghinstallation.HTTPError
	if errors.As(e.Err, &he) && he.Response != nil {
		return he.Response.StatusCode
	}
	return 0
}

// fix says what to do about an appError.
func (e *appError) fix() string {
	switch e.status() {
	case http.StatusUnauthorized:
		return fmt.Sprintf("GitHub refused the App's JWT: check that app-id is %d's real ID and app-private-key is a current key of that App "+
			"(keys are listed, and can be regenerated, on the App's settings page)", e.AppID)
	case http.StatusNotFound:
		return fmt.Sprintf("App %d is not installed on %s: install it there (with the secrets permission), or use github-token", e.AppID, e.Owner)
	case http.StatusForbidden, http.StatusUnprocessableEntity:
		return "the installation may not create tokens: check that it is not suspended and that the App has the secrets permission"
	}
	return "check github-api-url and GitHub's status, then rerun"
}

// joinFix appends the fix to a failure message, one annotation for both.
func joinFix(msg, fix string) string {
	if fix == "" {
		return msg
	}
	return strings.TrimRight(msg, ". ") + ". Fix: " + fix
}
