package ghsecret

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidSecretName is wrapped by ValidateSecretName's errors.
var ErrInvalidSecretName = errors.New("invalid secret name")

// ValidateSecretName applies GitHub's rules: only [A-Za-z0-9_], not starting
// with a digit or with GITHUB_ (case-insensitively).
func ValidateSecretName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty; use letters, digits and underscores, e.g. GROO_PAT", ErrInvalidSecretName)
	}
	for i, r := range name {
		if !(r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return fmt.Errorf("%w: %q has %q at position %d; GitHub allows only letters, digits and underscores",
				ErrInvalidSecretName, name, r, i+1)
		}
	}
	if name[0] >= '0' && name[0] <= '9' {
		return fmt.Errorf("%w: %q starts with a digit; GitHub refuses that, start with a letter or underscore", ErrInvalidSecretName, name)
	}
	if strings.HasPrefix(strings.ToUpper(name), "GITHUB_") {
		return fmt.Errorf("%w: %q starts with GITHUB_, which GitHub reserves; pick another name such as GROO_PAT", ErrInvalidSecretName, name)
	}
	return nil
}

// ErrInvalidTarget is wrapped by the errors of ValidateOwner, ValidateRepo
// and ValidateEnvironment.
var ErrInvalidTarget = errors.New("invalid target")

// Limits GitHub puts on the names of a target.
const (
	MaxOwnerLen       = 39  // user and organization logins
	MaxRepoLen        = 100 // repository names
	MaxEnvironmentLen = 255 // environment names
)

// ValidateOwner applies GitHub's rules for a user or organization login:
// letters, digits and single hyphens, at most 39 characters, not starting
// or ending with a hyphen. what names it in the error ("owner",
// "organization").
func ValidateOwner(what, s string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: %s %q %s; GitHub logins are letters, digits and single hyphens, at most %d characters, "+
			"not starting or ending with a hyphen (e.g. octo or octo-org)", ErrInvalidTarget, what, s, why, MaxOwnerLen)
	}
	switch {
	case s == "":
		return fmt.Errorf("%w: %s is empty; name the account, e.g. octo", ErrInvalidTarget, what)
	case len(s) > MaxOwnerLen:
		return bad(fmt.Sprintf("is %d characters long", len(s)))
	case s[0] == '-' || s[len(s)-1] == '-':
		return bad("starts or ends with a hyphen")
	case strings.Contains(s, "--"):
		return bad("has two hyphens in a row")
	}
	for i, r := range s {
		if !(r == '-' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return bad(fmt.Sprintf("has %q at position %d", r, i+1))
		}
	}
	return nil
}

// ValidateRepo applies GitHub's rules for a repository name: 1 to 100 of
// letters, digits, '.', '-' and '_', and neither "." nor "..".
func ValidateRepo(s string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: repository name %q %s; GitHub allows letters, digits, '.', '-' and '_', at most %d characters (e.g. app or app.js)",
			ErrInvalidTarget, s, why, MaxRepoLen)
	}
	switch {
	case s == "":
		return fmt.Errorf("%w: repository name is empty; write owner/name, e.g. octo/app", ErrInvalidTarget)
	case s == "." || s == "..":
		return bad("is reserved")
	case len(s) > MaxRepoLen:
		return bad(fmt.Sprintf("is %d characters long", len(s)))
	}
	for i, r := range s {
		if !(r == '.' || r == '-' || r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return bad(fmt.Sprintf("has %q at position %d", r, i+1))
		}
	}
	return nil
}

// ValidateEnvironment checks an environment name before it goes into a
// URL path: valid UTF-8, at most 255 characters, no control characters or
// line breaks, no '?' or '#' (GitHub refuses them; in a path they would cut
// it), and no leading or trailing space (GitHub trims it, so the secret
// would land in another environment than the one named).
func ValidateEnvironment(s string) error {
	bad := func(why, fix string) error {
		return fmt.Errorf("%w: environment %q %s; %s", ErrInvalidTarget, s, why, fix)
	}
	switch {
	case s == "":
		return fmt.Errorf("%w: environment is empty; name it, e.g. prod", ErrInvalidTarget)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: environment name is not valid UTF-8; write the name as GitHub shows it", ErrInvalidTarget)
	case utf8.RuneCountInString(s) > MaxEnvironmentLen:
		return bad(fmt.Sprintf("is %d characters long", utf8.RuneCountInString(s)), fmt.Sprintf("GitHub allows at most %d", MaxEnvironmentLen))
	case strings.TrimSpace(s) != s:
		return bad("starts or ends with white space", "remove it: GitHub trims environment names")
	}
	for i, r := range s {
		switch {
		case unicode.IsControl(r):
			return bad(fmt.Sprintf("has the control character %U at byte %d", r, i+1), "write it on one line, without control characters")
		case r == '?' || r == '#':
			return bad(fmt.Sprintf("has %q", r), "GitHub refuses '?' and '#' in environment names; use the name GitHub shows")
		}
	}
	return nil
}
