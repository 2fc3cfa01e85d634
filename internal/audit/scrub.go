package audit

import (
	"regexp"
	"strings"
)

// tokenLike finds token values that must never be stored, should one slip
// into an error message: Groo PATs and GitHub tokens.
var tokenLike = regexp.MustCompile(`groo_pat_[0-9a-f]{8,}|github_pat_[0-9A-Za-z_]{8,}|gh[pousr]_[A-Za-z0-9]{8,}`)

// Scrub replaces anything shaped like a token with its prefix and last four.
func Scrub(s string) string {
	return tokenLike.ReplaceAllStringFunc(s, func(m string) string {
		head := m[:4] // ghp_, ghs_, ...
		for _, p := range []string{"groo_pat_", "github_pat_"} {
			if strings.HasPrefix(m, p) {
				head = p
			}
		}
		return head + "…" + m[len(m)-4:]
	})
}
