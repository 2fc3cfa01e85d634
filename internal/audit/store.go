package audit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Store is pat-rotator's memory: rotation events (I7), the token each use
// case's secret holds, the revokes left pending, a lease per use case that
// serialises rotations across processes and replicas, and the pacing of
// GitHub mutations per credential. SQLite (sqlitestore) and PostgreSQL
// (pgstore) implement it; internal/audit/storetest is the contract both
// pass. Nothing in a Store is ever a token value.
//
// It is the sum of small interfaces, one per job, so that each user asks
// for what it uses: the rotation engine a Recorder and a write history, the
// sweep the pending revokes, the scheduler the leases, the audit the event
// log.
type Store interface {
	Recorder
	FencedWriter
	MutationPacer
	EventLog
	WriteHistory
	PendingRevokes
	Leases
	Claims
	Close() error
}

// Claims let one process of several act once: the first to claim a key
// wins (a notification sent once, whichever replica saw it). A claim names
// its holder ("host/pid/random", as leases do) and holds until the holder
// marks it done; a claim not done whose holder ran on this host in a
// process that is gone (HolderGone) is won by the next claimer, so that an
// act its holder died in the middle of (a webhook POST in flight) is not
// lost. A done claim stays won for ever.
type Claims interface {
	// Claim reports whether holder has key now: it claimed it first, it
	// held it already, or it took it over from a dead holder.
	Claim(ctx context.Context, key, holder string) (bool, error)
	// ClaimDone marks holder's claim of key done: the act is over and no
	// other claimer may win it. A key holder does not hold is left alone.
	ClaimDone(ctx context.Context, key, holder string) error
}

// EventLog reads the rotation events back.
type EventLog interface {
	// History lists events, oldest first, keeping the latest outcome of
	// each attempt.
	History(ctx context.Context, q HistoryQuery) ([]Event, error)
	// Current is what the last successful rotation of a use case wrote.
	Current(ctx context.Context, useCase string) (CurrentToken, bool, error)
}

// WriteHistory tells when a token's writes ended (rotation.WriteHistory).
type WriteHistory interface {
	// WritesEnded reports when the rotation that minted tokenID finished, so
	// that no write of that token can land after it.
	WritesEnded(ctx context.Context, useCase, tokenID string) (time.Time, bool, error)
}

// PendingRevokes are the replaced tokens still live, for the sweep.
type PendingRevokes interface {
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
}

// Leases serialise the rotations of a use case across processes.
type Leases interface {
	// AcquireLease takes the use case's lease for holder until now+ttl, on
	// the store's clock (the database's, for a shared one). A lease held by
	// another holder and not yet expired fails with a *LeaseHeldError. An
	// expired one is taken over at once, and so is one whose holder
	// ("host/pid/random") ran on this host in a process that is gone: the
	// takeover increments the lease's Term and marks the attempts the old
	// holder left "started" abandoned. A released lease is free; taking it
	// increments the Term too, so a term is never handed out twice.
	AcquireLease(ctx context.Context, useCase, holder string, ttl time.Duration) (Lease, error)
	// RenewLease extends a lease this holder still has in this term and that
	// has not expired; otherwise it fails with ErrLeaseLost.
	RenewLease(ctx context.Context, l Lease, ttl time.Duration) (Lease, error)
	// ReleaseLease gives the lease up if this holder still has it in this
	// term; otherwise it does nothing.
	ReleaseLease(ctx context.Context, l Lease) error
	// HeldLeases lists the leases held now (not released, not expired, on
	// the store's clock): which replica rotates which use case.
	HeldLeases(ctx context.Context) ([]Lease, error)
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

// FencedWriter is the rotation's store writes fenced by its lease: each
// checks, in the same transaction as the write, that l's holder still holds
// the use case's lease in l's term, and writes nothing otherwise (a paused or
// partitioned replica whose lease was taken records nothing over its
// successor). The lease need not be unexpired: a holder whose lease lapsed
// but was not taken over is still the last one to have rotated.
type FencedWriter interface {
	// RecordFenced is Record under l; e.UseCase must be l.UseCase. It fails
	// with ErrLeaseLost when the lease has another holder or term.
	RecordFenced(ctx context.Context, l Lease, e Event) error
	// AddPendingRevokeFenced is AddPendingRevoke under l; p.UseCase must be
	// l.UseCase. It fails with ErrLeaseLost when the lease has another
	// holder or term.
	AddPendingRevokeFenced(ctx context.Context, l Lease, p PendingRevoke) error
}

// MutationPacer spaces GitHub's mutating requests per credential across
// every process sharing the store (GitHub asks for one mutation at a time,
// about a second apart, per credential).
type MutationPacer interface {
	// ReserveMutationSlot reserves the next start for a mutating request on
	// key (a credential's identity, never its value): the later of now and
	// the previous reservation plus interval, on the store's clock. The
	// caller waits Slot.Wait before it sends: a replica's own clock never
	// enters.
	ReserveMutationSlot(ctx context.Context, key string, interval time.Duration) (Slot, error)
}

// Slot is a reserved start, and the store's clock when it was reserved.
type Slot struct {
	Start time.Time
	Now   time.Time
}

// Wait is how long to wait before the slot starts; never negative.
func (s Slot) Wait() time.Duration { return max(s.Start.Sub(s.Now), 0) }

// Lease is a use case's lock, held by one holder until Expires (on the
// store's clock). Term grows with every change of holder: a fence on
// (Holder, Term) tells a current holder from one whose lease was taken.
type Lease struct {
	UseCase string
	Holder  string
	Expires time.Time
	Term    int64
}

// ErrLeaseLost is returned by RenewLease when the lease expired or was
// taken, and by the fenced writes when it was taken.
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
