package ghsecret

import (
	"errors"
	"fmt"
	"time"

	"github.com/groo/pat-action/internal/safetext"
)

// PublicKey is a scope's Curve25519 key for sealing secret values.
type PublicKey struct {
	KeyID string
	Key   [32]byte
}

// PutResult says what GitHub did with a write.
type PutResult struct {
	Created bool   // 201: the secret did not exist; false means 204, updated
	KeyID   string // the key the value was finally sealed with (differs after a 422 refetch)
}

// Metadata is what GitHub tells about a secret; it never includes the value.
type Metadata struct {
	Exists                bool
	CreatedAt             time.Time
	UpdatedAt             time.Time
	Visibility            string  // organization scopes
	SelectedRepositoryIDs []int64 // organization scopes with visibility "selected"
}

// RefusedError is a definitive refusal (401, 403 that is not a rate limit,
// 404, a 422 that survived a key refetch, other 4xx): retrying the same
// request cannot succeed. Any other error from a write means its outcome is
// unknown (the value may or may not have landed).
//
// StatusCode 0 means the write was never sent (invalid target, value too
// large, or a read it needed failed: the public key, the organization
// secret's visibility, a repository id): nothing was written either.
// Client.Put returns a plain error only when a PUT may have landed.
type RefusedError struct {
	Op         string // "put secret", "get public key", ...
	Target     string
	StatusCode int
	Message    string // GitHub's message, or why the request was not sent
	Hint       string // what to do about it
	Err        error  // the underlying error (a go-github error, or a validation error)
}

// Error is one line: GitHub's message is redacted and escaped (safetext.Clean).
func (e *RefusedError) Error() string {
	msg := safetext.Clean(e.Message)
	if e.StatusCode == 0 {
		s := fmt.Sprintf("%s %s: not sent: %s", e.Op, e.Target, msg)
		if e.Hint != "" {
			s += ": " + e.Hint
		}
		return s
	}
	s := fmt.Sprintf("%s %s: GitHub answered %d", e.Op, e.Target, e.StatusCode)
	if msg != "" {
		s += " (" + msg + ")"
	}
	if e.Hint != "" {
		s += ": " + e.Hint
	}
	return s
}

// Unwrap gives errors.Is/As access to the underlying error
// (ErrInvalidSecretName, *github.ErrorResponse, ...).
func (e *RefusedError) Unwrap() error { return e.Err }

// OutcomeUnknownError is a write that may have landed: one of its attempts
// was sent and got no definitive answer (a timeout, a dropped connection, a
// 5xx), so whatever the later attempts answered, even a refusal, the value
// may be in the secret. docs/design.md: outcome unknown is sticky.
type OutcomeUnknownError struct {
	Op       string
	Target   string
	Attempts int
	Landed   error // the first failure after which the write may have landed
	Last     error // the last attempt's failure; a refusal here does not mean nothing was written
}

func (e *OutcomeUnknownError) Error() string {
	return fmt.Sprintf("%s %s: the write may or may not have landed (an attempt got no definitive answer: %v); gave up after %d attempt(s), the last: %v",
		e.Op, e.Target, e.Landed, e.Attempts, e.Last)
}

// Unwrap exposes the failure that made the outcome unknown and the last
// one, but never a refusal: errors.As(err, **RefusedError) must not say
// "nothing was written" for a write that may have landed.
func (e *OutcomeUnknownError) Unwrap() []error {
	var refused *RefusedError
	if e.Last == nil || errors.As(e.Last, &refused) {
		return []error{e.Landed}
	}
	return []error{e.Landed, e.Last}
}
