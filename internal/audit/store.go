package audit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Store is pat-rotator's memory: rotation events (I7), the token each use
// case's secret holds, the revokes left pending, and a lease per use case
// that serialises rotations across processes. SQLite implements it; the
// queries stay portable SQL so that PostgreSQL can implement it as well.
// Nothing in a Store is ever a token value.
type Store interface {
	Recorder

	// History lists events, oldest first, keeping the latest outcome of
	// each attempt.
	History(ctx context.Context, q HistoryQuery) ([]Event, error)

	// Current is what the last successful rotation of a use case wrote.
	Current(ctx context.Context, useCase string) (CurrentToken, bool, error)

	// WritesEnded reports when the rotation that minted tokenID finished, so
	// that no write of that token can land after it (rotation.WriteHistory).
	WritesEnded(ctx context.Context, useCase, tokenID string) (time.Time, bool, error)

	// AddPendingRevoke keeps a token to revoke later; adding one already
	// pending keeps its attempts and the earlier revoke-after.
	AddPendingRevoke(ctx context.Context, p PendingRevoke) error
	// DueRevokes lists the pending revokes whose revoke-after and next try
	// are past at now.
	DueRevokes(ctx context.Context, now time.Time, limit int) ([]PendingRevoke, error)
	// PendingRevokes lists every pending revoke.
	PendingRevokes(ctx context.Context) ([]PendingRevoke, error)
	// RevokeFailed counts a failed attempt and schedules the next one; a
	// pending revoke is never dropped for failing.
	RevokeFailed(ctx context.Context, tokenID, errMsg string, nextTry time.Time) error
	// RevokeDone forgets a pending revoke once Groo confirmed it (or said
	// the token is already gone).
	RevokeDone(ctx context.Context, tokenID string) error

	// AcquireLease takes the use case's lease for holder until now+ttl. A
	// lease held by another holder and not yet expired fails with a
	// *LeaseHeldError; an expired one is taken over, and the attempts it
	// left "started" are marked abandoned.
	AcquireLease(ctx context.Context, useCase, holder string, ttl time.Duration) (Lease, error)
	// RenewLease extends a lease this holder still has.
	RenewLease(ctx context.Context, l Lease, ttl time.Duration) (Lease, error)
	// ReleaseLease gives the lease up if this holder still has it.
	ReleaseLease(ctx context.Context, l Lease) error

	Close() error
}

// HistoryQuery filters History. Zero fields do not filter.
type HistoryQuery struct {
	UseCase string
	Since   time.Time
	Limit   int // the newest Limit events, still returned oldest first
}

// CurrentToken is the token the last successful rotation wrote for a use case.
type CurrentToken struct {
	UseCase   string
	Target    string
	TokenID   string
	Prefix    string
	LastFour  string
	ExpiresAt *time.Time
	WrittenAt *time.Time
	AttemptID string
}

// PendingRevoke is a replaced token still live: its grace has not ended, or
// revoking it failed and will be retried.
type PendingRevoke struct {
	TokenID     string
	UseCase     string
	Target      string
	RevokeAfter time.Time
	Attempts    int
	LastError   string
	NextTry     time.Time
	AddedAt     time.Time
}

// Lease is a use case's lock, held by one holder until Expires.
type Lease struct {
	UseCase string
	Holder  string
	Expires time.Time
}

// ErrLeaseLost is returned by RenewLease when the lease expired and was taken.
var ErrLeaseLost = errors.New("lease lost")

// LeaseHeldError says who holds a use case's lease, and until when.
type LeaseHeldError struct {
	UseCase string
	Holder  string
	Expires time.Time
}

func (e *LeaseHeldError) Error() string {
	return fmt.Sprintf("use case %q is being rotated by %s (lease until %s)", e.UseCase, e.Holder, e.Expires.UTC().Format(time.RFC3339))
}
