// Package ghsecret writes GitHub Actions and Dependabot secrets for the five
// scopes GitHub has, over go-github v60: it fetches the target's public key,
// seals the value (libsodium sealed box), writes it and reads its metadata.
package ghsecret

import (
	"fmt"
	"strings"
)

// Scope is where a secret lives on GitHub.
type Scope string

const (
	ScopeRepository             Scope = "repository"
	ScopeEnvironment            Scope = "environment"
	ScopeOrganization           Scope = "organization"
	ScopeDependabot             Scope = "dependabot"
	ScopeDependabotOrganization Scope = "dependabot-organization"
)

// Scopes lists every scope in a stable order (inputs, docs, tests).
var Scopes = []Scope{ScopeRepository, ScopeEnvironment, ScopeOrganization, ScopeDependabot, ScopeDependabotOrganization}

// DefaultSecretName is the secret pat-action keeps fresh unless told otherwise.
const DefaultSecretName = "GROO_PAT"

// Target is one secret: a scope and a name. Owner/Repo are set for the
// repository scopes, Org for the organization scopes.
type Target struct {
	Scope       Scope
	Owner       string // repository owner (repository, environment, dependabot)
	Repo        string // repository name (repository, environment, dependabot)
	Environment string // environment name, unescaped ("prod/eu")
	Org         string // organization (organization, dependabot-organization)
	Name        string // secret name

	// Organization secrets only. Empty Visibility keeps what the secret has
	// (a new one becomes "private"); nil SelectedRepositories keeps the
	// existing selection.
	Visibility           string
	SelectedRepositories []string // repository names within Org
	// SelectedRepositoryIDs, when set with visibility "selected", are the
	// ids to write as they are (what the secret had, read just before):
	// the write then needs no lookup on its critical path.
	SelectedRepositoryIDs []int64
}

// Validate checks that the fields the scope needs are present and that the
// secret name is one GitHub accepts, before any request is made.
func (t Target) Validate() error {
	need := func(field, val string) error {
		if strings.TrimSpace(val) == "" {
			return fmt.Errorf("target %s: %s is required for scope %q", t.Scope, field, t.Scope)
		}
		return nil
	}
	var err error
	switch t.Scope {
	case ScopeRepository, ScopeDependabot:
		err = firstErr(need("owner", t.Owner), need("repository", t.Repo), ValidateOwner("owner", t.Owner), ValidateRepo(t.Repo))
	case ScopeEnvironment:
		err = firstErr(need("owner", t.Owner), need("repository", t.Repo), need("environment", t.Environment),
			ValidateOwner("owner", t.Owner), ValidateRepo(t.Repo), ValidateEnvironment(t.Environment))
	case ScopeOrganization, ScopeDependabotOrganization:
		err = firstErr(need("organization", t.Org), ValidateOwner("organization", t.Org))
	default:
		return fmt.Errorf("unknown scope %q: use one of repository, environment, organization, dependabot, dependabot-organization", t.Scope)
	}
	if err != nil {
		return err
	}
	switch t.Visibility {
	case "", "all", "private", "selected":
	default:
		return fmt.Errorf("visibility %q: use all, private or selected", t.Visibility)
	}
	if t.Visibility != "" && t.Scope != ScopeOrganization && t.Scope != ScopeDependabotOrganization {
		return fmt.Errorf("visibility is only for organization secrets (scope is %q)", t.Scope)
	}
	if t.Visibility == "selected" && t.SelectedRepositories == nil && t.SelectedRepositoryIDs == nil {
		return fmt.Errorf("visibility selected needs selected-repositories (else GitHub removes every repository from the secret)")
	}
	if t.SelectedRepositories != nil && t.Scope != ScopeOrganization && t.Scope != ScopeDependabotOrganization {
		return fmt.Errorf("selected-repositories is only for organization secrets (scope is %q)", t.Scope)
	}
	if t.SelectedRepositories != nil && (t.Visibility == "all" || t.Visibility == "private") {
		// GitHub answers 422 to ids with any visibility but selected.
		return fmt.Errorf("selected-repositories needs visibility selected (visibility is %q)", t.Visibility)
	}
	return ValidateSecretName(t.Name)
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// SameSecret reports whether t and u name one secret on GitHub, which
// compares owners, repositories, organizations, environments and secret
// names without regard to case: octo/app GROO_PAT and Octo/App groo_pat
// are one secret.
func (t Target) SameSecret(u Target) bool { return t.FoldedKey() == u.FoldedKey() }

// FoldedKey is Key and the secret name with case folded, for comparisons
// (SameSecret); Key and String keep the spelling they were given.
func (t Target) FoldedKey() string { return strings.ToLower(t.Key() + " " + t.Name) }

// Key is the scope key the emulator and the audit use:
// repo:octo/app, env:octo/app:prod/eu, org:octo, dependabot:octo/app, dependabot-org:octo.
func (t Target) Key() string {
	switch t.Scope {
	case ScopeRepository:
		return "repo:" + t.Owner + "/" + t.Repo
	case ScopeEnvironment:
		return "env:" + t.Owner + "/" + t.Repo + ":" + t.Environment
	case ScopeOrganization:
		return "org:" + t.Org
	case ScopeDependabot:
		return "dependabot:" + t.Owner + "/" + t.Repo
	case ScopeDependabotOrganization:
		return "dependabot-org:" + t.Org
	}
	return string(t.Scope) + ":?"
}

// String names the target for logs and errors: "repo:octo/app GROO_PAT".
func (t Target) String() string { return t.Key() + " " + t.Name }

// UseCase is the default token name of this target's lineage (docs/design.md).
func (t Target) UseCase() string {
	switch t.Scope {
	case ScopeRepository:
		return "GitHub Actions - " + t.Owner + "/" + t.Repo + " " + t.Name
	case ScopeEnvironment:
		return "GitHub Actions - " + t.Owner + "/" + t.Repo + " env:" + t.Environment + " " + t.Name
	case ScopeOrganization:
		return "GitHub Actions - org " + t.Org + " " + t.Name
	case ScopeDependabot:
		return "Dependabot - " + t.Owner + "/" + t.Repo + " " + t.Name
	case ScopeDependabotOrganization:
		return "Dependabot - org " + t.Org + " " + t.Name
	}
	return "pat-action - " + t.Key() + " " + t.Name
}
