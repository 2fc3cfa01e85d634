package groo

import (
	"fmt"
	"time"
)

// TokenInfo is a token as Groo lists it. It never holds the secret.
//
// The client has checked every field (see InvalidFieldError): ID is 1 to 64
// of [A-Za-z0-9_-], Name and Description are printable single-line text (no
// control, line-break or bidi character; at most MaxNameLen and
// MaxDescriptionLen characters), TokenPrefix is groo_pat_ and lowercase hex
// or empty, LastFour is 4 lowercase hex characters or empty (absent).
//
// CreatedAt is the zero time when Groo's answer has no createdAt (or null):
// the zero value means "unknown", never "long ago". Check CreatedAtKnown (or
// IsZero) before comparing it: an unknown time never makes a token old.
type TokenInfo struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Description *string    `json:"description"`
	TokenPrefix string     `json:"tokenPrefix"`
	LastFour    string     `json:"lastFour,omitempty"` // assumed by docs/groo-api.md; may be absent
	LastUsed    *time.Time `json:"lastUsed"`
	ExpiresAt   *time.Time `json:"expiresAt"`
	Revoked     bool       `json:"revoked"`
	CreatedAt   time.Time  `json:"createdAt"` // zero: unknown (absent from the answer)
}

// CreatedAtKnown reports whether Groo said when the token was created.
func (t TokenInfo) CreatedAtKnown() bool { return !t.CreatedAt.IsZero() }

// User is the identity behind a token (GET /v1/auth/me).
type User struct {
	ID    string  `json:"id"`
	Email string  `json:"email"`
	Phone *string `json:"phone"`
}

// CreateRequest is the body of a mint.
type CreateRequest struct {
	Name        string
	Description string
	ExpiresAt   time.Time // zero: no expiry
}

// APIError is any non-2xx answer from Groo. The typed errors below embed it so
// callers can branch with errors.As on the kind they care about, or on
// *APIError for all of them.
type APIError struct {
	Op         string // "create token", "revoke token tok_…", ...
	StatusCode int
	Code       string // Groo's "code", may be empty
	Message    string // Groo's "error"
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("groo %s: HTTP %d", e.Op, e.StatusCode)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// UnauthorizedError is 401: no credential, or a token unknown, revoked or expired.
type UnauthorizedError struct{ *APIError }

// ForbiddenError is 403: the token lacks a scope.
type ForbiddenError struct{ *APIError }

// NotFoundError is 404: unknown token id.
type NotFoundError struct{ *APIError }

// RateLimitedError is 429 once retries are exhausted.
type RateLimitedError struct{ *APIError }

// InvalidRequestError is 400: the body was refused.
type InvalidRequestError struct{ *APIError }

func (e *UnauthorizedError) Unwrap() error   { return e.APIError }
func (e *ForbiddenError) Unwrap() error      { return e.APIError }
func (e *NotFoundError) Unwrap() error       { return e.APIError }
func (e *RateLimitedError) Unwrap() error    { return e.APIError }
func (e *InvalidRequestError) Unwrap() error { return e.APIError }
