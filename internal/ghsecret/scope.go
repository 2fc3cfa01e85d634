package ghsecret

import (
	"context"
	"fmt"
	"net/url"

	"github.com/google/go-github/v60/github"
)

// encrypted is one PUT body, whatever the scope.
type encrypted struct {
	name, keyID, value string
	visibility         string  // organization scopes
	ids                []int64 // organization scopes with visibility "selected"
}

// scopeAPI binds go-github's per-scope calls to one target, so the request
// logic (retries, 422, visibility) is written once for all five scopes.
type scopeAPI struct {
	publicKey    func(ctx context.Context) (*github.PublicKey, *github.Response, error)
	get          func(ctx context.Context, name string) (*github.Secret, *github.Response, error)
	put          func(ctx context.Context, e encrypted) (*github.Response, error)
	del          func(ctx context.Context, name string) (*github.Response, error)
	listSelected func(ctx context.Context, name string, opts *github.ListOptions) (*github.SelectedReposList, *github.Response, error) // organization scopes only
}

// scope returns t's calls. go-github puts path parts into URLs unescaped;
// they are escaped here so that a name cannot reach another route (an
// environment "prod/eu" must travel as prod%2Feu). Secret names need no
// escaping: Validate allows only [A-Za-z0-9_].
func (c *Client) scope(ctx context.Context, t Target) (scopeAPI, error) {
	owner, repo, org := url.PathEscape(t.Owner), url.PathEscape(t.Repo), url.PathEscape(t.Org)
	a, d := c.gh.Actions, c.gh.Dependabot
	switch t.Scope {
	case ScopeRepository:
		return scopeAPI{
			publicKey: func(ctx context.Context) (*github.PublicKey, *github.Response, error) {
				return a.GetRepoPublicKey(ctx, owner, repo)
			},
			get: func(ctx context.Context, name string) (*github.Secret, *github.Response, error) {
				return a.GetRepoSecret(ctx, owner, repo, name)
			},
			put: func(ctx context.Context, e encrypted) (*github.Response, error) {
				return a.CreateOrUpdateRepoSecret(ctx, owner, repo, &github.EncryptedSecret{Name: e.name, KeyID: e.keyID, EncryptedValue: e.value})
			},
			del: func(ctx context.Context, name string) (*github.Response, error) {
				return a.DeleteRepoSecret(ctx, owner, repo, name)
			},
		}, nil
	case ScopeEnvironment:
		// go-github v60 only has the legacy /repositories/{id}/environments/... routes.
		id, err := c.RepositoryID(ctx, t.Owner, t.Repo)
		if err != nil {
			return scopeAPI{}, fmt.Errorf("environment secret %s: %w", t, err)
		}
		repoID, env := int(id), url.PathEscape(t.Environment)
		return scopeAPI{
			publicKey: func(ctx context.Context) (*github.PublicKey, *github.Response, error) {
				return a.GetEnvPublicKey(ctx, repoID, env)
			},
			get: func(ctx context.Context, name string) (*github.Secret, *github.Response, error) {
				return a.GetEnvSecret(ctx, repoID, env, name)
			},
			put: func(ctx context.Context, e encrypted) (*github.Response, error) {
				return a.CreateOrUpdateEnvSecret(ctx, repoID, env, &github.EncryptedSecret{Name: e.name, KeyID: e.keyID, EncryptedValue: e.value})
			},
			del: func(ctx context.Context, name string) (*github.Response, error) {
				return a.DeleteEnvSecret(ctx, repoID, env, name)
			},
		}, nil
	case ScopeOrganization:
		return scopeAPI{
			publicKey: func(ctx context.Context) (*github.PublicKey, *github.Response, error) {
				return a.GetOrgPublicKey(ctx, org)
			},
			get: func(ctx context.Context, name string) (*github.Secret, *github.Response, error) {
				return a.GetOrgSecret(ctx, org, name)
			},
			put: func(ctx context.Context, e encrypted) (*github.Response, error) {
				if e.visibility == "selected" && len(e.ids) == 0 {
					return c.putEmptySelection(ctx, "orgs/"+org+"/actions/secrets/"+e.name, e)
				}
				return a.CreateOrUpdateOrgSecret(ctx, org, &github.EncryptedSecret{Name: e.name, KeyID: e.keyID, EncryptedValue: e.value,
					Visibility: e.visibility, SelectedRepositoryIDs: e.ids})
			},
			del: func(ctx context.Context, name string) (*github.Response, error) {
				return a.DeleteOrgSecret(ctx, org, name)
			},
			listSelected: func(ctx context.Context, name string, opts *github.ListOptions) (*github.SelectedReposList, *github.Response, error) {
				return a.ListSelectedReposForOrgSecret(ctx, org, name, opts)
			},
		}, nil
	case ScopeDependabot:
		return scopeAPI{
			publicKey: func(ctx context.Context) (*github.PublicKey, *github.Response, error) {
				return d.GetRepoPublicKey(ctx, owner, repo)
			},
			get: func(ctx context.Context, name string) (*github.Secret, *github.Response, error) {
				return d.GetRepoSecret(ctx, owner, repo, name)
			},
			put: func(ctx context.Context, e encrypted) (*github.Response, error) {
				return d.CreateOrUpdateRepoSecret(ctx, owner, repo, &github.DependabotEncryptedSecret{Name: e.name, KeyID: e.keyID, EncryptedValue: e.value})
			},
			del: func(ctx context.Context, name string) (*github.Response, error) {
				return d.DeleteRepoSecret(ctx, owner, repo, name)
			},
		}, nil
	case ScopeDependabotOrganization:
		return scopeAPI{
			publicKey: func(ctx context.Context) (*github.PublicKey, *github.Response, error) {
				return d.GetOrgPublicKey(ctx, org)
			},
			get: func(ctx context.Context, name string) (*github.Secret, *github.Response, error) {
				return d.GetOrgSecret(ctx, org, name)
			},
			put: func(ctx context.Context, e encrypted) (*github.Response, error) {
				if e.visibility == "selected" && len(e.ids) == 0 {
					return c.putEmptySelection(ctx, "orgs/"+org+"/dependabot/secrets/"+e.name, e)
				}
				// go-github sends these ids as JSON strings; GitHub's description accepts both.
				return d.CreateOrUpdateOrgSecret(ctx, org, &github.DependabotEncryptedSecret{Name: e.name, KeyID: e.keyID, EncryptedValue: e.value,
					Visibility: e.visibility, SelectedRepositoryIDs: e.ids})
			},
			del: func(ctx context.Context, name string) (*github.Response, error) {
				return d.DeleteOrgSecret(ctx, org, name)
			},
			listSelected: func(ctx context.Context, name string, opts *github.ListOptions) (*github.SelectedReposList, *github.Response, error) {
				return d.ListSelectedReposForOrgSecret(ctx, org, name, opts)
			},
		}, nil
	}
	return scopeAPI{}, fmt.Errorf("unknown scope %q", t.Scope)
}

// putEmptySelection writes an organization secret shared with no
// repository. go-github drops an empty selected_repository_ids (omitempty),
// and "selected" without the field is the request this package never sends.
func (c *Client) putEmptySelection(ctx context.Context, path string, e encrypted) (*github.Response, error) {
	body := struct {
		KeyID          string  `json:"key_id"`
		EncryptedValue string  `json:"encrypted_value"`
		Visibility     string  `json:"visibility"`
		IDs            []int64 `json:"selected_repository_ids"`
	}{e.keyID, e.value, e.visibility, []int64{}}
	req, err := c.gh.NewRequest("PUT", path, body)
	if err != nil {
		return nil, err
	}
	return c.gh.Do(ctx, req, nil)
}
