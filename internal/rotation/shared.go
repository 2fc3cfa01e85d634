package rotation

import (
	"context"
	"sync"
	"time"

	"github.com/groo/pat-action/internal/groo"
)

// SharedList is the account's token list read once for many rotations with
// one credential: a fleet lists Groo about once per write window instead of
// once per rotation. A rotation takes it with its other reads, before its
// write, and judges with it only while retire.ListCovers says it is fresh
// enough on Groo's clock; otherwise it reads a list of its own before the
// write and offers it here. It is safe for concurrent use; the lists it
// hands out are shared and read-only.
type SharedList struct {
	lister Lister
	maxAge time.Duration
	now    func() time.Time

	mu       sync.Mutex
	cred     groo.Token
	tokens   []groo.TokenInfo
	at       time.Time // this machine's clock, when the list was asked for
	inflight *sharedRead
	// minted is when each use case's last mint through this list's
	// rotations ended (this machine's clock): a list asked for before then
	// may miss that token, so the use case's next rotation reads a newer one.
	minted map[string]time.Time
}

// sharedRead is a list under way; the callers that want one meanwhile wait
// for it rather than read their own.
type sharedRead struct {
	done   chan struct{}
	at     time.Time
	cred   groo.Token
	tokens []groo.TokenInfo
	err    error
}

// NewSharedList hands out a list read with l for up to maxAge (this
// machine's clock) after it was asked for; now is the clock (nil: time.Now).
// maxAge below the write window leaves each rotation's mint time to stay
// within the window on Groo's clock, so that rotations rarely read their own.
func NewSharedList(l Lister, maxAge time.Duration, now func() time.Time) *SharedList {
	if now == nil {
		now = time.Now
	}
	return &SharedList{lister: l, maxAge: maxAge, now: now, minted: map[string]time.Time{}}
}

// lastMint is when the last mint of useCase through this list ended (zero:
// none). A rotation asks before its own mint starts: its own token is not
// among those it retires.
func (s *SharedList) lastMint(useCase string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.minted[useCase]
}

// read returns the shared list of cred's account, reading one when there is
// none for cred younger than maxAge and asked for after minted (the end of
// the last mint of the caller's use case before its own). An error is not
// kept: the next caller reads again.
func (s *SharedList) read(ctx context.Context, cred groo.Token, minted time.Time) ([]groo.TokenInfo, error) {
	s.mu.Lock()
	if s.tokens != nil && s.cred == cred && s.now().Sub(s.at) < s.maxAge && minted.Before(s.at) {
		tokens := s.tokens
		s.mu.Unlock()
		return tokens, nil
	}
	if c := s.inflight; c != nil && c.cred == cred && minted.Before(c.at) {
		s.mu.Unlock()
		select {
		case <-c.done:
			return c.tokens, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	at := s.now()
	c := &sharedRead{done: make(chan struct{}), at: at, cred: cred}
	s.inflight = c
	s.mu.Unlock()

	// Not ended with this caller's rotation: others wait for this read
	// (each can still leave on its own context; the client's request
	// timeout bounds it).
	c.tokens, c.err = s.lister.List(context.WithoutCancel(ctx), cred)
	s.mu.Lock()
	if s.inflight == c {
		s.inflight = nil
	}
	if c.err == nil {
		s.keep(cred, c.tokens, at)
	}
	s.mu.Unlock()
	close(c.done)
	return c.tokens, c.err
}

// Minted records that a mint of useCase by a rotation using this list
// ended (answered, failed or given up): the use case's next rotation must
// not judge with a list asked for before, which may not show that token
// (the daemon's store may let it revoke the token at once). Another
// process's mints are not seen here; those fall under ListCovers.
func (s *SharedList) Minted(useCase string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.minted[useCase] = s.now()
}

// Offer shares a list of cred's account that a rotation read itself, asked
// for at at (this machine's clock), when it is newer than the one held.
func (s *SharedList) Offer(cred groo.Token, tokens []groo.TokenInfo, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keep(cred, tokens, at)
}

// keep holds tokens unless a newer list of cred is held. Callers hold s.mu.
func (s *SharedList) keep(cred groo.Token, tokens []groo.TokenInfo, at time.Time) {
	if s.tokens != nil && s.cred == cred && !at.After(s.at) {
		return
	}
	s.cred, s.tokens, s.at = cred, tokens, at
}
