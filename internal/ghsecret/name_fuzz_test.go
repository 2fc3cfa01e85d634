package ghsecret

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// secretNameRule is GitHub's rule written independently of ValidateSecretName.
var secretNameRule = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func FuzzValidateSecretName(f *testing.F) {
	for _, s := range []string{"GROO_PAT", "_x", "a1", "1a", "", "GITHUB_TOKEN", "github_x", "GitHub_", "GITHUB", "A-B", "é", "A\x00", "\xff", "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateSecretName(name)
		want := secretNameRule.MatchString(name) && !strings.HasPrefix(strings.ToUpper(name), "GITHUB_")
		if (err == nil) != want {
			t.Fatalf("ValidateSecretName(%q) = %v, want accepted=%v", name, err, want)
		}
		if err != nil && !errors.Is(err, ErrInvalidSecretName) {
			t.Fatalf("ValidateSecretName(%q) error %v does not wrap ErrInvalidSecretName", name, err)
		}
	})
}
