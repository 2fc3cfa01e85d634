package groo

import (
	"errors"
	"net/http"
)

// ErrInvalidRequest is returned, before any request is made, for arguments
// Groo would refuse anyway (empty or long name, expiry in the past, empty id).
var ErrInvalidRequest = errors.New("invalid request")

// OutcomeUnknownError is a mint whose outcome is unknown: the POST may or may
// not have created a token (5xx, timeout, dropped connection, or a 2xx whose
// answer cannot be used). The caller must assume a live token may exist and
// clean it up, e.g. by listing tokens and matching a nonce it put in the
// description. Err is the underlying failure (an *APIError for 5xx).
type OutcomeUnknownError struct {
	Op  string
	Err error
	// Answered: Groo answered (a 5xx, or a 2xx this client could not use),
	// so its work on the request is over and a token it made is listed
	// from now on. Without an answer the request may still be queued and
	// act later: a list that lacks the token proves nothing.
	Answered bool
}

func (e *OutcomeUnknownError) Error() string {
	return e.Err.Error() + " (outcome unknown: the token may have been created)"
}

func (e *OutcomeUnknownError) Unwrap() error { return e.Err }

// typedError wraps an *APIError in the type for its status so that callers
// can branch with errors.As; other statuses stay a bare *APIError.
func typedError(e *APIError) error {
	switch e.StatusCode {
	case http.StatusBadRequest:
		return &InvalidRequestError{e}
	case http.StatusUnauthorized:
		return &UnauthorizedError{e}
	case http.StatusForbidden:
		return &ForbiddenError{e}
	case http.StatusNotFound:
		return &NotFoundError{e}
	case http.StatusTooManyRequests:
		return &RateLimitedError{e}
	}
	return e
}
