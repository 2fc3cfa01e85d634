// Package statuspage is pat-rotator's read-only view for the admins: what the
// daemon is doing, what needs attention first, and the rotation history.
//
// Handler serves four routes, all read-only (GET and HEAD; any other method
// is answered 405 with Allow: GET, HEAD):
//
//   - GET /                 an HTML page, rendered on the server with
//     html/template (no JavaScript); the targets sorted worst first (a
//     failing rotation, an expired token or a stuck revoke, then a token
//     expiring soon, a revoke past due or a scheduled retry, then the
//     findings), times in UTC and relative to now ("in 3 h", "5 min ago")
//   - GET /history          the HTML history of the events, newest first
//   - GET /api/v1/status    Status as JSON; schema docs/status.schema.json
//   - GET /api/v1/history   History as JSON (format=json, the default) or
//     as CSV (format=csv): a header line and one event a line
//
// The history routes take use_case (empty: every use case) and since (in
// internal/duration's grammar: 90m, 72h, 7d, 1d12h; default 7d). A bad or
// unknown parameter is answered 400 with {"error": …, "fix": …} (an HTML
// page on /history); a use case the Source does not know (ErrUnknownUseCase)
// 404 the same way.
//
// Nothing served is ever a token value: the types hold only ids, prefixes
// and last fours, and every string from the Source is redacted
// (safetext.Redact) before it is written. The HTML page escapes everything
// and also shows each outside string as one inert line (safetext.Line); the
// CSV does too, and prefixes a cell that a spreadsheet would read as a
// formula with a quote. Every response carries a Content-Security-Policy
// that allows no script.
//
// With Options.BearerToken set, every route of the handler requires
// "Authorization: Bearer TOKEN" (compared in constant time) and answers 401
// with WWW-Authenticate otherwise. The daemon's /healthz, /readyz and
// /metrics are not this package's routes: mount the handler with
// mux.Handle("/", statuspage.Handler(src, opts)) beside them, and they stay
// unprotected. Links between the pages are relative, so the handler also
// works under a prefix ending in "/" (http.StripPrefix).
package statuspage

import (
	"context"
	"errors"
	"time"

	"github.com/groo/pat-action/internal/audit"
)

// Version is Status.Version and History.Version: bumped only when a field
// changes meaning or disappears (adding one keeps it).
const Version = 1

// ExpiringSoon is how close to its expiry a token needs attention, unless
// the next run comes later than that (a token that expires before the next
// run needs attention however far that is).
const ExpiringSoon = 24 * time.Hour

// DefaultSince is the history's window when since is not given.
const DefaultSince = 7 * 24 * time.Hour

// Source is what the daemon provides: a snapshot of its state and its
// store's history. Both are called once per request, with the request's
// context; they must not hold a token value in any field.
type Source interface {
	// Status is the daemon's state now: its credential and every configured
	// target, in configuration order. Version and GeneratedAt may be left
	// zero (the handler sets them).
	Status(ctx context.Context) (Status, error)
	// History is the store's events since since (audit.Store.History with
	// UseCase and Since): "" is every use case. A use case the daemon does
	// not know is an error wrapping ErrUnknownUseCase.
	History(ctx context.Context, useCase string, since time.Time) ([]audit.Event, error)
}

// ErrUnknownUseCase is what Source.History wraps for a use case that is not
// configured; the handler answers 404 with the error's text.
var ErrUnknownUseCase = errors.New("unknown use case")

// Status is the JSON document of GET /api/v1/status (docs/status.schema.json).
type Status struct {
	Version     int        `json:"version"`
	GeneratedAt time.Time  `json:"generated_at"`
	Credential  Credential `json:"credential"`
	Targets     []Target   `json:"targets"`
	// Replicas are the daemon's replicas sharing the store and the leases
	// each holds: only with a shared store (PostgreSQL); nil (the field is
	// left out) with SQLite.
	Replicas []Replica `json:"replicas,omitempty"`
}

// Credential is the Groo PAT the daemon authenticates with: never its value.
type Credential struct {
	User      string     `json:"user"`       // Groo user id; "" when unknown
	TokenID   string     `json:"token_id"`   // "" when unknown
	LastFour  string     `json:"last_four"`  // "" when unknown
	ExpiresAt *time.Time `json:"expires_at"` // nil: never expires, or unknown
}

// Target is one configured target.
type Target struct {
	Name    string `json:"name"`     // ghsecret.Target.String(): "repo:octo/app GROO_PAT"
	UseCase string `json:"use_case"` // the name its tokens bear
	// Secret is the token the last successful rotation wrote to the secret
	// (audit.Store.Current); empty fields when none is known.
	Secret       Secret          `json:"secret"`
	LastRotation *Rotation       `json:"last_rotation"` // nil: never rotated
	NextRun      *time.Time      `json:"next_run"`      // nil: not scheduled
	RetryAt      *time.Time      `json:"retry_at"`      // nil: no retry scheduled
	Pending      []PendingRevoke `json:"pending_revokes"`
	Findings     []audit.Finding `json:"findings"` // worst first
}

// Secret is what the secret holds, as far as the store knows.
type Secret struct {
	TokenID   string     `json:"token_id"`
	LastFour  string     `json:"last_four"`
	ExpiresAt *time.Time `json:"expires_at"` // nil: never expires, or unknown
}

// Rotation is a target's latest attempt.
type Rotation struct {
	Time    time.Time     `json:"time"`
	Outcome audit.Outcome `json:"outcome"` // started, succeeded, failed, abandoned
	Error   string        `json:"error"`   // "" unless it failed
}

// PendingRevoke is a replaced token still live (audit.PendingRevoke).
type PendingRevoke struct {
	TokenID     string     `json:"token_id"`
	RevokeAfter time.Time  `json:"revoke_after"`
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"last_error"`
	NextTry     *time.Time `json:"next_try"` // nil: at revoke_after
}

// PendingFromAudit converts the store's pending revokes.
func PendingFromAudit(ps []audit.PendingRevoke) []PendingRevoke {
	out := make([]PendingRevoke, 0, len(ps))
	for _, p := range ps {
		q := PendingRevoke{TokenID: p.TokenID, RevokeAfter: p.RevokeAfter, Attempts: p.Attempts, LastError: p.LastError}
		if !p.NextTry.IsZero() {
			t := p.NextTry
			q.NextTry = &t
		}
		out = append(out, q)
	}
	return out
}

// Replica is one process sharing the store.
type Replica struct {
	Holder string  `json:"holder"` // its lease holder id, "host/pid/random"
	Self   bool    `json:"self"`   // the replica that answered
	Leases []Lease `json:"leases"`
}

// Lease is a use case's lease a replica holds (audit.Lease).
type Lease struct {
	UseCase   string    `json:"use_case"`
	ExpiresAt time.Time `json:"expires_at"`
	Term      int64     `json:"term"`
}

// History is the JSON document of GET /api/v1/history.
type History struct {
	Version     int           `json:"version"`
	GeneratedAt time.Time     `json:"generated_at"`
	UseCase     string        `json:"use_case"` // "": every use case
	Since       time.Time     `json:"since"`
	Events      []audit.Event `json:"events"` // oldest first
}
