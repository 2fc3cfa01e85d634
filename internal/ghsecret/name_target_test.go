package ghsecret

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateTargetNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want string // "" accepts; else a fragment of the error
	}{
		{"owner octo", ValidateOwner("owner", "octo"), ""},
		{"owner with single hyphens", ValidateOwner("owner", "octo-org-1"), ""},
		{"owner of 39", ValidateOwner("owner", strings.Repeat("a", 39)), ""},
		{"owner of 40", ValidateOwner("owner", strings.Repeat("a", 40)), "40 characters"},
		{"owner ending with a hyphen", ValidateOwner("owner", "octo-"), "starts or ends with a hyphen"},
		{"owner starting with a hyphen", ValidateOwner("owner", "-octo"), "starts or ends with a hyphen"},
		{"owner with two hyphens", ValidateOwner("owner", "oc--to"), "two hyphens in a row"},
		{"owner with an underscore", ValidateOwner("organization", "octo_org"), `organization "octo_org" has '_'`},
		{"owner with a dot", ValidateOwner("owner", "octo.org"), "'.'"},
		{"owner empty", ValidateOwner("owner", ""), "empty"},
		{"repo app.js", ValidateRepo("app.js"), ""},
		{"repo of 100", ValidateRepo(strings.Repeat("r", 100)), ""},
		{"repo of 101", ValidateRepo(strings.Repeat("r", 101)), "101 characters"},
		{"repo dot", ValidateRepo("."), "reserved"},
		{"repo dot dot", ValidateRepo(".."), "reserved"},
		{"repo with a space", ValidateRepo("my app"), "' '"},
		{"repo with a slash", ValidateRepo("a/b"), "'/'"},
		{"repo with a query", ValidateRepo("app?x"), "'?'"},
		{"environment prod/eu", ValidateEnvironment("prod/eu"), ""},
		{"environment with inner space", ValidateEnvironment("staging eu"), ""},
		{"environment of 255", ValidateEnvironment(strings.Repeat("é", 255)), ""},
		{"environment of 256", ValidateEnvironment(strings.Repeat("e", 256)), "256 characters"},
		{"environment with a line break", ValidateEnvironment("prod\nX-Injected: 1"), "control character"},
		{"environment with a tab", ValidateEnvironment("prod\tx"), "control character"},
		{"environment with a question mark", ValidateEnvironment("prod?x=1"), "'?'"},
		{"environment with a hash", ValidateEnvironment("prod#1"), "'#'"},
		{"environment with a leading space", ValidateEnvironment(" prod"), "white space"},
		{"environment with a trailing space", ValidateEnvironment("prod "), "white space"},
		{"environment not UTF-8", ValidateEnvironment("prod\xff"), "UTF-8"},
		{"environment empty", ValidateEnvironment(""), "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			switch {
			case tc.want == "" && tc.err != nil:
				t.Errorf("refused: %v", tc.err)
			case tc.want != "" && tc.err == nil:
				t.Error("accepted")
			case tc.want != "" && (!errors.Is(tc.err, ErrInvalidTarget) || !strings.Contains(tc.err.Error(), tc.want)):
				t.Errorf("err = %v, want ErrInvalidTarget saying %q", tc.err, tc.want)
			}
		})
	}
}

// Target.Validate applies the name rules of its scope before any request.
func TestTargetValidateNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		t    Target
		want string
	}{
		{"repository owner", Target{Scope: ScopeRepository, Owner: "octo-", Repo: "app", Name: "GROO_PAT"}, "owner"},
		{"dependabot repository", Target{Scope: ScopeDependabot, Owner: "octo", Repo: "..", Name: "GROO_PAT"}, "reserved"},
		{"environment", Target{Scope: ScopeEnvironment, Owner: "octo", Repo: "app", Environment: "prod#1", Name: "GROO_PAT"}, "'#'"},
		{"organization", Target{Scope: ScopeOrganization, Org: "oc--to", Name: "GROO_PAT"}, "organization"},
		{"dependabot organization", Target{Scope: ScopeDependabotOrganization, Org: strings.Repeat("o", 40), Name: "GROO_PAT"}, "40 characters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := tc.t.Validate(); !errors.Is(err, ErrInvalidTarget) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want ErrInvalidTarget saying %q", err, tc.want)
			}
		})
	}
}

func TestSameSecretIgnoresCase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b Target
		same bool
	}{
		{Target{Scope: ScopeRepository, Owner: "octo", Repo: "app", Name: "GROO_PAT"}, Target{Scope: ScopeRepository, Owner: "Octo", Repo: "App", Name: "groo_pat"}, true},
		{Target{Scope: ScopeEnvironment, Owner: "octo", Repo: "app", Environment: "Prod", Name: "X"}, Target{Scope: ScopeEnvironment, Owner: "OCTO", Repo: "app", Environment: "prod", Name: "x"}, true},
		{Target{Scope: ScopeOrganization, Org: "Octo", Name: "X"}, Target{Scope: ScopeOrganization, Org: "octo", Name: "X"}, true},
		{Target{Scope: ScopeRepository, Owner: "octo", Repo: "app", Name: "X"}, Target{Scope: ScopeDependabot, Owner: "octo", Repo: "app", Name: "X"}, false},
		{Target{Scope: ScopeRepository, Owner: "octo", Repo: "app", Name: "X"}, Target{Scope: ScopeRepository, Owner: "octo", Repo: "app2", Name: "X"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.a.String()+" vs "+tc.b.String(), func(t *testing.T) {
			t.Parallel()
			if got := tc.a.SameSecret(tc.b); got != tc.same {
				t.Errorf("SameSecret = %v, want %v", got, tc.same)
			}
		})
	}
}
