package groo

import (
	"fmt"
	"regexp"
	"unicode/utf8"

	"github.com/groo/pat-action/internal/safetext"
)

// What the client accepts of the server's token fields. A token name or
// description is printed in terminals, annotations, step summaries and
// audit reports, and an id is put in URLs and logs: an answer with a field
// outside these rules is refused like a malformed answer, before any of it
// reaches a caller.
const (
	// MaxDescriptionLen bounds a description, in characters.
	MaxDescriptionLen = 500
	maxIDLen          = 64
)

var (
	idRE       = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	prefixRE   = regexp.MustCompile(`^groo_pat_[0-9a-f]{0,16}$`)
	lastFourRE = regexp.MustCompile(`^[0-9a-f]{4}$`)
)

// InvalidFieldError is an answer refused because a field breaks the rules
// above. It names the field and why, and never holds the value: callers
// branch on it with errors.As.
type InvalidFieldError struct {
	Field   string // JSON name: "id", "name", "description", "tokenPrefix", "lastFour"
	TokenID string // the token's id when that one is valid, else ""
	Reason  string // e.g. "has a line break (\\n, U+000A) at character 5"
}

func (e *InvalidFieldError) Error() string {
	s := fmt.Sprintf("field %q refused: %s", e.Field, e.Reason)
	if e.TokenID != "" {
		s = "token " + e.TokenID + ": " + s
	}
	return s
}

// check applies the rules to one wire token. The id is checked first,
// so that later errors may name it.
func (w wireToken) check() error {
	if !idRE.MatchString(w.ID) {
		reason := fmt.Sprintf("not 1 to %d letters, digits, '_' or '-'", maxIDLen)
		if n := utf8.RuneCountInString(w.ID); n > maxIDLen {
			reason = fmt.Sprintf("%d characters, more than %d", n, maxIDLen)
		}
		return &InvalidFieldError{Field: "id", Reason: reason}
	}
	bad := func(field, reason string) error {
		return &InvalidFieldError{Field: field, TokenID: w.ID, Reason: reason}
	}
	if err := checkText(w.Name, MaxNameLen); err != "" {
		return bad("name", err)
	}
	if w.Description != nil {
		if err := checkText(*w.Description, MaxDescriptionLen); err != "" {
			return bad("description", err)
		}
	}
	if w.TokenPrefix != "" && !prefixRE.MatchString(w.TokenPrefix) {
		return bad("tokenPrefix", "not groo_pat_ followed by at most 16 lowercase hex characters")
	}
	if w.LastFour != "" && !lastFourRE.MatchString(w.LastFour) {
		return bad("lastFour", "not 4 lowercase hex characters")
	}
	return nil
}

// checkText is "" for printable text of at most limit characters, else why not.
func checkText(s string, limit int) string {
	if err := safetext.CheckLine(s); err != nil {
		return "has " + err.Error()
	}
	if n := utf8.RuneCountInString(s); n > limit {
		return fmt.Sprintf("%d characters, more than %d", n, limit)
	}
	return ""
}
