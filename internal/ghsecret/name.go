package ghsecret

import (
	"errors"
	"fmt"
	"strings"
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
