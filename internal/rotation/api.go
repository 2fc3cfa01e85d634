// Package rotation is the rotation protocol of docs/design.md: read in parallel
// with the mint, verify the new token, write it sealed to the secret, retire
// the tokens it replaced once that is safe, and record one audit event per
// attempt. It consumes the small interfaces below, which the groo and
// ghsecret clients satisfy.
package rotation

import (
	"context"
	"log/slog"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
)

// Minter mints a token (POST /v1/account/tokens).
type Minter interface {
	Create(ctx context.Context, cred groo.Token, req groo.CreateRequest) (groo.TokenInfo, groo.Token, error)
}

// Identifier answers who a token belongs to (GET /v1/auth/me).
type Identifier interface {
	Me(ctx context.Context, cred groo.Token) (groo.User, error)
}

// Lister lists the caller's tokens, revoked ones included.
type Lister interface {
	List(ctx context.Context, cred groo.Token) ([]groo.TokenInfo, error)
}

// Revoker revokes a token by id; already gone is success.
type Revoker interface {
	Revoke(ctx context.Context, cred groo.Token, id string) error
}

// GrooAPI is what the engine needs from Groo; *groo.Client satisfies it.
type GrooAPI interface {
	Minter
	Identifier
	Lister
	Revoker
}

// SecretWriter is what the engine needs from GitHub; *ghsecret.Client satisfies it.
type SecretWriter interface {
	PublicKey(ctx context.Context, t ghsecret.Target) (ghsecret.PublicKey, error)
	Put(ctx context.Context, t ghsecret.Target, key ghsecret.PublicKey, plaintext []byte) (ghsecret.PutResult, error)
	Metadata(ctx context.Context, t ghsecret.Target) (ghsecret.Metadata, error)
}

// WriteHistory is optional: a store that knows when the writes of an earlier
// token's rotation ended (its rotation finished or its lease expired). It
// lets a rotation revoke a token younger than the write window.
type WriteHistory interface {
	WritesEnded(ctx context.Context, useCase, tokenID string) (time.Time, bool, error)
}

// Request is one rotation of one target.
type Request struct {
	Target     ghsecret.Target
	UseCase    string     // token name; empty: Target.UseCase()
	Credential groo.Token // the PAT that mints; often the one being replaced
	TTL        time.Duration
	Grace      time.Duration // a replaced token stays live this long after the write
	Actor      string        // workflow run URL or daemon host, for the audit
	Tool       string        // "pat-action", "pat-rotator"

	// OnMint is called with the new token as soon as it is minted, before
	// anything else is logged (the Action masks it there).
	OnMint func(groo.Token)

	// KeepCredential: never revoke a token of the use case that is the
	// Credential itself (the daemon's own PAT). The Action leaves it false:
	// there the credential is the token being replaced.
	KeepCredential bool

	// Shared, when set, is the account's list shared with other rotations
	// of the same credential (the daemon's fleet): this rotation takes it
	// instead of reading its own, while retire.ListCovers says it may.
	Shared *SharedList

	// BeforeWrite, when set, is called just before the write is sent; an
	// error stops the rotation with nothing written (the daemon checks
	// there that it still holds the use case's lease).
	BeforeWrite func(ctx context.Context) error
}

// Result is what a rotation did. NewToken is the only token value in it and
// it redacts itself wherever it is printed.
type Result struct {
	AttemptID     string
	UseCase       string
	Target        string
	New           groo.TokenInfo
	NewToken      groo.Token
	SecretCreated bool
	Revoked       []string // older tokens revoked now
	Pending       []string // older tokens left for later: grace not over, or the revoke kept failing
	TooRecent     []string // older tokens too recent to revoke safely (may still be written by another run)
	Kept          []string // older tokens never revoked by this caller (KeepCredential)
	// RevokeAfter is when each pending token's grace ends (this machine's
	// clock); the daemon's sweep revokes it then.
	RevokeAfter map[string]time.Time
	Started     time.Time
	Written     time.Time
	Duration    time.Duration
	Steps       map[string]time.Duration
}

// PlanStep is one line of a dry run.
type PlanStep struct {
	Step   string // read, mint, verify, write, retire, record
	Detail string
}

// Plan is what a rotation would do now, computed without changing anything.
type Plan struct {
	UseCase string
	Target  string
	Live    []groo.TokenInfo // live tokens of the use case
	Secret  ghsecret.Metadata
	Steps   []PlanStep
}

// Config tunes an Engine. Zero values take the defaults in parentheses.
type Config struct {
	WriteWindow time.Duration // W (2m): a token is written only within W of its mint
	ClockMargin time.Duration // (5s) added to W when judging whether a token is safe to revoke
	RevokeTries int           // (4) attempts per revoke before it is left pending
	MintTries   int           // (3) tries of a mint that may have happened (5xx, timeout, lost answer)
	Now         func() time.Time
	// Sleep waits between revoke tries (a real timer); tests move a clock.
	Sleep  func(ctx context.Context, d time.Duration) error
	Logger *slog.Logger
}

// Engine runs rotations. It is safe for concurrent use; rotations of one use
// case in one process are serialised by its guard.
type Engine struct {
	Groo     GrooAPI
	Secrets  SecretWriter
	Recorder audit.Recorder // required: I7
	History  WriteHistory   // optional
	Config   Config

	guard keyedMutex
}

// The clients the programs wire in satisfy the engine's interfaces.
var (
	_ GrooAPI      = (*groo.Client)(nil)
	_ SecretWriter = (*ghsecret.Client)(nil)
)
