package rotation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/retire"
)

// Defaults for Config's zero values.
const (
	DefaultWriteWindow = retire.DefaultWindow
	DefaultClockMargin = retire.DefaultMargin
	DefaultRevokeTries = 4
	DefaultMintTries   = 3
	// mintRetryDelay is the first wait between two tries of a mint; it
	// doubles.
	mintRetryDelay = 200 * time.Millisecond
	// MaxNameLength is Groo's limit on a token name, in characters.
	MaxNameLength = groo.MaxNameLen
	// expiryTolerance absorbs Groo's millisecond rounding of expiresAt.
	expiryTolerance = time.Second
	// lostMintSettle is how long a failed mint's clean-up waits before it
	// looks a second time for a token the server may still be creating.
	lostMintSettle = time.Second
)

// Step names, used in errors, audit events and timings.
const (
	StepRead   = "read"
	StepMint   = "mint"
	StepVerify = "verify"
	StepWrite  = "write"
	StepRetire = "retire"
	StepRecord = "record"
)

// Error is a failed rotation. OutcomeUnknown is set when the write may have
// landed: the new token was kept live so that the secret cannot hold a
// revoked token, and the next run settles it.
type Error struct {
	Step           string
	Target         string
	UseCase        string
	OutcomeUnknown bool
	// LeftLive is the id of a new token that this failed attempt could not
	// revoke (outcome unknown, or the clean-up revoke itself failed).
	LeftLive string
	// MintUnknown is set when a mint's answer was lost and the clean-up
	// could not list the tokens, or did not find that try's token (the
	// server may act on a request after its client gave up on it): a token
	// of this attempt may be live.
	// It bears the use case's name and the attempt id in its description,
	// so the next run (or audit --prune) retires it.
	MintUnknown bool
	Err         error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("rotate %s (%s): %s: %v", e.Target, e.UseCase, e.Step, e.Err)
	if e.OutcomeUnknown {
		s += " (write outcome unknown: the new token " + e.LeftLive + " stays live; the next run settles it)"
	} else if e.LeftLive != "" {
		s += " (could not revoke the new token " + e.LeftLive + "; the next run or an audit --prune retires it)"
	} else if e.MintUnknown {
		s += " (a token minted by this attempt may be live: Groo's answer to a mint was lost and the token was not found; its description names the attempt, so the next run or an audit --prune retires it)"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ErrInvalidRequest wraps every refusal of a Request before any call.
var ErrInvalidRequest = errors.New("invalid rotation request")

// ErrShortExpiry is wrapped when Groo minted a token that expires earlier
// than asked (or never, when an expiry was asked).
var ErrShortExpiry = errors.New("minted token's expiry is not the one asked")

func (c Config) withDefaults() Config {
	if c.WriteWindow <= 0 {
		c.WriteWindow = DefaultWriteWindow
	}
	if c.ClockMargin < 0 {
		c.ClockMargin = 0
	} else if c.ClockMargin == 0 {
		c.ClockMargin = DefaultClockMargin
	}
	if c.RevokeTries <= 0 {
		c.RevokeTries = DefaultRevokeTries
	}
	if c.MintTries <= 0 {
		c.MintTries = DefaultMintTries
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = sleepContext
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (r Request) useCase() string {
	if r.UseCase != "" {
		return r.UseCase
	}
	return r.Target.UseCase()
}

func (r Request) validate(cfg Config) error {
	if err := r.Target.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	if r.Credential.IsZero() {
		return fmt.Errorf("%w: no Groo credential to mint with", ErrInvalidRequest)
	}
	if r.TTL <= 0 {
		return fmt.Errorf("%w: TTL must be positive (got %s)", ErrInvalidRequest, r.TTL)
	}
	if r.Grace < 0 {
		return fmt.Errorf("%w: revoke grace must not be negative (got %s)", ErrInvalidRequest, r.Grace)
	}
	if n := utf8.RuneCountInString(r.useCase()); n > MaxNameLength {
		return fmt.Errorf("%w: token name %q is %d characters; Groo allows %d: set a shorter token name", ErrInvalidRequest, r.useCase(), n, MaxNameLength)
	}
	if cfg.WriteWindow > retire.MaxWindow {
		// Other writers judge this token by the window its description
		// names, and trust none above the maximum.
		return fmt.Errorf("%w: write window %s is above the maximum of %s: set a shorter write window", ErrInvalidRequest, cfg.WriteWindow, retire.MaxWindow)
	}
	return nil
}

func newAttemptID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "rot_" + hex.EncodeToString(b[:])
}

// readResult collects the reads that run in parallel with the mint.
type readResult struct {
	tokens    []groo.TokenInfo
	tokensErr error
	user      groo.User
	userErr   error
	key       ghsecret.PublicKey
	keyErr    error
	meta      ghsecret.Metadata
	metaErr   error
}

func (e *Engine) startReads(ctx context.Context, req Request, cred groo.Token) (*readResult, *sync.WaitGroup) {
	var rr readResult
	var wg sync.WaitGroup
	var minted time.Time
	if req.Shared != nil {
		minted = req.Shared.lastMint(req.useCase()) // before this rotation's own mint
	}
	wg.Go(func() {
		if req.Shared != nil {
			rr.tokens, rr.tokensErr = req.Shared.read(ctx, cred, minted)
			return
		}
		rr.tokens, rr.tokensErr = e.Groo.List(ctx, cred)
	})
	wg.Go(func() { rr.user, rr.userErr = e.Groo.Me(ctx, cred) })
	wg.Go(func() { rr.key, rr.keyErr = e.Secrets.PublicKey(ctx, req.Target) })
	wg.Go(func() { rr.meta, rr.metaErr = e.Secrets.Metadata(ctx, req.Target) })
	return &rr, &wg
}

// attempt carries one rotation's state between its steps.
type attempt struct {
	e       *Engine
	cfg     Config
	req     Request
	useCase string
	target  string
	log     *slog.Logger
	ev      audit.Event
	res     *Result
	stepAt  time.Time

	reads     *readResult
	readsDone *sync.WaitGroup
	tok       groo.Token // the new token, once minted
	mintAt    time.Time  // local, before the mint was sent
	offset    retire.Offset
	tokens    []groo.TokenInfo // the use case's list, read before the write
	writeAt   time.Time        // local, when the write started
	updatedAt *time.Time       // the secret's updated_at read before the write
	// mintLost: a try's answer was lost and its token was not listed even
	// after the settle wait. The server may still act on that request, so
	// a failure of this attempt cannot promise that nothing of it is live.
	mintLost bool
}

func (a *attempt) step(name string) {
	now := a.cfg.Now()
	if a.res.Steps == nil {
		a.res.Steps = map[string]time.Duration{}
	}
	if !a.stepAt.IsZero() {
		a.res.Steps[name] += now.Sub(a.stepAt)
	}
	a.stepAt = now
}

// The three ways an attempt fails.

// failBefore: nothing of this attempt is live (or what may be could not be
// cleaned up: leftLive, or mintUnknown when it could not be looked for).
func (a *attempt) failBefore(ctx context.Context, step string, err error, leftLive string, mintUnknown bool) error {
	return a.finishFailed(ctx, &Error{Step: step, Target: a.target, UseCase: a.useCase, LeftLive: leftLive, MintUnknown: mintUnknown, Err: err})
}

// failDiscard: the new token will not be used; revoke it with cred.
func (a *attempt) failDiscard(ctx context.Context, step string, err error, cred groo.Token) error {
	left := a.revokeNew(ctx, cred)
	a.fillNew(a.res.New)
	return a.finishFailed(ctx, &Error{Step: step, Target: a.target, UseCase: a.useCase, LeftLive: left, Err: err})
}

// failUnknown: the write may have landed, so the new token stays live.
func (a *attempt) failUnknown(ctx context.Context, err error) error {
	a.fillNew(a.res.New)
	a.ev.Replaced = a.olderIDs(a.tokens)
	return a.finishFailed(ctx, &Error{Step: StepWrite, Target: a.target, UseCase: a.useCase, OutcomeUnknown: true, LeftLive: a.res.New.ID, Err: err})
}

func (a *attempt) finishFailed(ctx context.Context, rerr *Error) error {
	if a.readsDone != nil {
		a.readsDone.Wait()
	}
	rerr.MintUnknown = rerr.MintUnknown || a.mintLost
	a.ev.Outcome = audit.OutcomeFailed
	a.ev.Step = rerr.Step
	a.ev.Error = rerr.Error()
	a.ev.OutcomeUnknown = rerr.OutcomeUnknown
	a.log.Error("rotation failed", "step", rerr.Step, "error", rerr.Error(), "write_outcome_unknown", rerr.OutcomeUnknown)
	if recErr := a.record(ctx); recErr != nil {
		return errors.Join(rerr, recErr)
	}
	return rerr
}

func (a *attempt) fillNew(t groo.TokenInfo) {
	a.ev.NewTokenID = t.ID
	a.ev.NewTokenPrefix = t.TokenPrefix
	a.ev.NewTokenLast4 = t.LastFour
	a.ev.NewExpiresAt = t.ExpiresAt
}

func (a *attempt) record(ctx context.Context) error {
	now := a.cfg.Now()
	a.ev.Time = now
	a.ev.Duration = now.Sub(a.res.Started)
	a.ev.Steps = maps.Clone(a.res.Steps)
	// The final event must land even when the caller's context ended
	// (SIGTERM): an attempt without its outcome breaks I7.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := a.e.Recorder.Record(rctx, a.ev); err != nil {
		return fmt.Errorf("record audit event %s for %s: %w", a.ev.ID, a.useCase, err)
	}
	return nil
}

// Rotate runs the protocol once for req.Target.
func (e *Engine) Rotate(ctx context.Context, req Request) (*Result, error) {
	if e.Recorder == nil || e.Groo == nil || e.Secrets == nil {
		return nil, fmt.Errorf("%w: engine needs a Groo client, a secret writer and an audit recorder", ErrInvalidRequest)
	}
	cfg := e.Config.withDefaults()
	if err := req.validate(cfg); err != nil {
		return nil, err
	}
	useCase := req.useCase()
	unlock := e.guard.Lock(useCase)
	defer unlock()

	a := &attempt{e: e, cfg: cfg, req: req, useCase: useCase, target: req.Target.String()}
	id := newAttemptID()
	a.log = cfg.Logger.With("attempt", id, "use_case", useCase, "target", a.target)
	a.res = &Result{AttemptID: id, UseCase: useCase, Target: a.target, Started: cfg.Now()}
	a.ev = audit.Event{ID: id, Outcome: audit.OutcomeStarted, UseCase: useCase, Target: a.target, Actor: req.Actor, Tool: req.Tool}
	if err := a.record(ctx); err != nil {
		// Without a record of the attempt nothing may change (I7).
		return nil, err
	}
	a.stepAt = a.res.Started
	res, err := a.run(ctx)
	a.res.Duration = cfg.Now().Sub(a.res.Started)
	return res, err
}

func (a *attempt) run(ctx context.Context) (*Result, error) {
	// Reads in parallel with the mint: they are not on the critical path.
	readCtx, cancelReads := context.WithCancel(ctx)
	defer cancelReads()
	a.reads, a.readsDone = a.e.startReads(readCtx, a.req, a.req.Credential)

	if err := a.mint(ctx); err != nil {
		return nil, err
	}
	if err := a.verify(ctx); err != nil {
		return nil, err
	}
	if err := a.write(ctx); err != nil {
		return nil, err
	}
	a.retire(ctx)
	a.step(StepRetire)

	a.ev.Outcome = audit.OutcomeSucceeded
	a.ev.Replaced = a.olderIDs(a.tokens)
	a.ev.Revoked = a.res.Revoked
	a.ev.Pending = a.res.Pending
	a.ev.TooRecent = a.res.TooRecent
	if err := a.record(ctx); err != nil {
		// The secret holds the new token already; report, do not undo.
		return a.res, err
	}
	a.log.Info("rotated", "revoked", strings.Join(a.res.Revoked, ","), "pending", strings.Join(a.res.Pending, ","),
		"too_recent", strings.Join(a.res.TooRecent, ","), "kept", strings.Join(a.res.Kept, ","))
	return a.res, nil
}

// mint creates the new token and checks its answer. A mint that may have
// happened (a 5xx, a timeout, a lost or unusable answer) is retried within
// the attempt, up to MintTries, once every token of this attempt was found
// and revoked: each try names its number in the description.
func (a *attempt) mint(ctx context.Context) error {
	req, cred := a.req, a.req.Credential
	if req.Shared != nil {
		// Whatever came of it: a list asked for before now may miss it.
		defer req.Shared.Minted(a.useCase)
	}
	var (
		info     groo.TokenInfo
		tok      groo.Token
		expires  time.Time
		answered time.Time
		err      error
	)
	delay := mintRetryDelay
	for try := 1; ; try++ {
		a.mintAt = a.cfg.Now()
		expires = a.mintAt.Add(req.TTL).UTC()
		info, tok, err = a.e.Groo.Create(ctx, cred, groo.CreateRequest{
			Name:        a.useCase,
			Description: retire.Description(req.Tool, a.target, a.res.AttemptID, try, a.cfg.WriteWindow),
			ExpiresAt:   expires,
		})
		answered = a.cfg.Now()
		if err == nil {
			break
		}
		err = fmt.Errorf("mint token %q (try %d): %w", a.useCase, try, err)
		mayHave, answered := mintOutcome(err)
		if !mayHave {
			a.step(StepMint)
			return a.failBefore(ctx, StepMint, err, "", false)
		}
		var left []string
		if info.ID != "" {
			// Groo answered with an id but an answer the client refused:
			// revoke it by id, then look for others all the same.
			if rerr := a.revokeWithRetry(context.WithoutCancel(ctx), cred, info.ID); rerr != nil {
				left = append(left, info.ID)
			}
		}
		more, cerr := a.cleanupLostMint(ctx, cred, try, !answered)
		left = append(left, more...)
		if cerr != nil || len(left) > 0 || try >= a.cfg.MintTries || ctx.Err() != nil {
			a.step(StepMint)
			return a.failBefore(ctx, StepMint, errors.Join(err, cerr), strings.Join(left, ","), cerr != nil)
		}
		a.log.Warn("mint failed; nothing of it is live, trying again", "try", try, "error", err.Error(), "wait", delay)
		if serr := a.cfg.Sleep(ctx, delay); serr != nil {
			a.step(StepMint)
			return a.failBefore(ctx, StepMint, errors.Join(err, serr), "", false)
		}
		delay *= 2
	}
	a.step(StepMint)
	if req.OnMint != nil {
		req.OnMint(tok)
	}
	a.tok = tok
	a.res.New, a.res.NewToken = info, tok
	if a.res.New.LastFour == "" {
		a.res.New.LastFour = tok.LastFour()
	}
	if a.res.New.TokenPrefix == "" {
		a.res.New.TokenPrefix = tok.TokenPrefix()
	}
	a.offset = retire.MeasureOffset(a.mintAt, answered, info.CreatedAt)
	a.fillNew(a.res.New)
	a.log = a.log.With("new_token_id", info.ID, "new_token_last4", a.res.New.LastFour)
	a.log.Info("minted", "expires_at", expires)
	if err := checkExpiry(info, expires); err != nil {
		return a.failDiscard(ctx, StepMint, fmt.Errorf("mint token %q: %w", a.useCase, err), cred)
	}
	// The started event again, now naming the new token: if this process
	// dies before the end, the store can still tie the token to its attempt.
	if err := a.record(ctx); err != nil {
		return a.failDiscard(ctx, StepMint, err, cred)
	}
	return nil
}

// checkExpiry refuses a token that lives shorter than asked: a secret would
// hold a token that lapses before the schedule replaces it.
func checkExpiry(info groo.TokenInfo, asked time.Time) error {
	if info.ExpiresAt == nil {
		return fmt.Errorf("%w: Groo minted token %s without an expiry, asked %s", ErrShortExpiry, info.ID, asked.Format(time.RFC3339))
	}
	if info.ExpiresAt.Before(asked.Add(-expiryTolerance)) {
		return fmt.Errorf("%w: Groo minted token %s expiring at %s, earlier than the %s asked", ErrShortExpiry, info.ID,
			info.ExpiresAt.UTC().Format(time.RFC3339), asked.Format(time.RFC3339))
	}
	return nil
}

// verify checks that the new token answers for the credential's user, and
// completes the reads the write needs.
func (a *attempt) verify(ctx context.Context) error {
	cred, tok, rr := a.req.Credential, a.tok, a.reads
	user, verr := a.e.Groo.Me(ctx, tok)
	a.readsDone.Wait()
	a.step(StepVerify)
	if verr == nil && rr.userErr != nil {
		verr = fmt.Errorf("identify the minting credential: %w", rr.userErr)
	} else if verr == nil && user.ID != rr.user.ID {
		verr = fmt.Errorf("new token belongs to user %s, the credential to %s", user.ID, rr.user.ID)
	}
	if verr != nil {
		// The new token may not work: revoke it with the credential that minted it.
		return a.failDiscard(ctx, StepVerify, fmt.Errorf("verify new token %s: %w", a.res.New.ID, verr), cred)
	}
	a.log.Info("verified", "user", user.ID)
	// From here on every Groo call uses the new token: the credential may be
	// one of the tokens this rotation retires.

	a.tokens = rr.tokens
	// A list of its own, still before the write: when the first read
	// failed, or the shared list is older than this rotation's own look may
	// be (it could miss a token I3 needs retired); then it is shared.
	if rr.tokensErr != nil || a.req.Shared != nil && !retire.ListCovers(a.tokens, a.res.New.CreatedAt, a.cfg.WriteWindow) {
		at := a.cfg.Now()
		fresh, err := a.e.Groo.List(ctx, tok)
		if err != nil {
			return a.failDiscard(ctx, StepRead, fmt.Errorf("list tokens of %q: %w", a.useCase, errors.Join(rr.tokensErr, err)), tok)
		}
		a.tokens = fresh
		if a.req.Shared != nil {
			a.req.Shared.Offer(a.req.Credential, fresh, at)
		}
	}
	if rr.keyErr != nil {
		var err error
		if rr.key, err = a.e.Secrets.PublicKey(ctx, a.req.Target); err != nil {
			return a.failDiscard(ctx, StepRead, fmt.Errorf("public key of %s: %w", a.target, errors.Join(rr.keyErr, err)), tok)
		}
	}
	return nil
}

// write seals the new token into the secret, within the write window of
// the mint: the context's deadline is mint time + W, so no write of this
// token can land later.
func (a *attempt) write(ctx context.Context) error {
	tok, rr := a.tok, a.reads
	target := a.req.Target
	if rr.metaErr != nil {
		a.log.Warn("secret metadata unavailable", "error", rr.metaErr.Error())
	} else {
		target = keepAccess(target, rr.meta)
		if rr.meta.Exists && !rr.meta.UpdatedAt.IsZero() {
			u := rr.meta.UpdatedAt
			a.updatedAt = &u
		}
	}
	a.writeAt = a.cfg.Now()
	deadline := a.mintAt.Add(a.cfg.WriteWindow)
	if !a.writeAt.Before(deadline) {
		return a.failDiscard(ctx, StepWrite, fmt.Errorf("write window of %s passed before the write could start", a.cfg.WriteWindow), tok)
	}
	if a.req.BeforeWrite != nil {
		// The daemon's fence: a rotation whose lease was taken must not write.
		if err := a.req.BeforeWrite(ctx); err != nil {
			return a.failDiscard(ctx, StepWrite, fmt.Errorf("write secret %s: not sent: %w", a.target, err), tok)
		}
	}
	wctx, cancelWrite := context.WithTimeout(ctx, deadline.Sub(a.cfg.Now()))
	put, err := a.e.Secrets.Put(wctx, target, rr.key, []byte(tok.Reveal()))
	cancelWrite()
	a.step(StepWrite)
	if err != nil {
		err = fmt.Errorf("write secret %s: %w", a.target, err)
		if writeRefused(err) {
			return a.failDiscard(ctx, StepWrite, err, tok)
		}
		return a.failUnknown(ctx, err)
	}
	a.res.Written = a.cfg.Now()
	a.res.SecretCreated = put.Created
	written := a.res.Written
	a.ev.WrittenAt = &written
	a.ev.SecretCreated = put.Created
	a.log.Info("secret written", "created", put.Created, "key_id", put.KeyID)
	return nil
}

// writeRefused is true only for a definitive refusal of every attempt: a
// write that may have landed once stays unknown (the sticky rule).
func writeRefused(err error) bool {
	var unknown *ghsecret.OutcomeUnknownError
	if errors.As(err, &unknown) {
		return false
	}
	var refused *ghsecret.RefusedError
	return errors.As(err, &refused)
}

// keepAccess carries an organization secret's visibility and repositories,
// read in parallel with the mint, into the write when the request leaves
// them unset: the secret keeps its audience, and the write needs no second
// read on the critical path.
func keepAccess(t ghsecret.Target, md ghsecret.Metadata) ghsecret.Target {
	if t.Scope != ghsecret.ScopeOrganization && t.Scope != ghsecret.ScopeDependabotOrganization {
		return t
	}
	if t.Visibility != "" || t.SelectedRepositories != nil {
		return t
	}
	switch {
	case !md.Exists:
		t.Visibility = "private"
	case md.Visibility == "all" || md.Visibility == "private":
		t.Visibility = md.Visibility
	case md.Visibility == "selected" && md.SelectedRepositoryIDs != nil:
		t.Visibility = "selected"
		t.SelectedRepositoryIDs = md.SelectedRepositoryIDs
	}
	// Anything else stays unset, and the client reads it again itself.
	return t
}

// liveOlder returns the live tokens of the use case other than newID. A
// token counts as expired only once Groo's own clock passed its expiry
// (ref, a Groo time; zero: this machine's now).
func liveOlder(tokens []groo.TokenInfo, useCase, newID string, ref time.Time) []groo.TokenInfo {
	var out []groo.TokenInfo
	for _, t := range tokens {
		if t.Name != useCase || t.ID == newID || t.Revoked {
			continue
		}
		if t.ExpiresAt != nil && !t.ExpiresAt.After(ref) {
			continue
		}
		out = append(out, t)
	}
	return out
}

func (a *attempt) grooNow() time.Time {
	ref := a.res.New.CreatedAt
	if seen := retire.LatestSeen(a.tokens); seen.After(ref) {
		ref = seen
	}
	if ref.IsZero() {
		return a.cfg.Now()
	}
	return ref
}

func (a *attempt) older(tokens []groo.TokenInfo) []groo.TokenInfo {
	return liveOlder(tokens, a.useCase, a.res.New.ID, a.grooNow())
}

func (a *attempt) olderIDs(tokens []groo.TokenInfo) []string {
	var ids []string
	for _, t := range a.older(tokens) {
		ids = append(ids, t.ID)
	}
	return ids
}

// rule is this rotation's view for the retire rule.
func (a *attempt) rule(ctx context.Context) retire.Rotation {
	r := retire.Rotation{
		New: a.res.New, Listed: a.tokens, WriteStart: a.writeAt, Written: a.res.Written, Now: a.cfg.Now(),
		Grace: a.req.Grace, Margin: a.cfg.ClockMargin, Offset: a.offset, SecretUpdatedAt: a.updatedAt,
	}
	if h := a.e.History; h != nil {
		r.WritesEnded = func(id string) (time.Time, bool) {
			ended, ok, err := h.WritesEnded(ctx, a.useCase, id)
			if err != nil {
				a.log.Warn("write history unavailable", "token_id", id, "error", err.Error())
				return time.Time{}, false
			}
			return ended, ok
		}
	}
	if a.req.KeepCredential {
		cred := a.req.Credential
		r.Keep = func(t groo.TokenInfo) bool { return retire.Matches(t, cred) }
	}
	return r
}

func (a *attempt) retire(ctx context.Context) {
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	a.res.RevokeAfter = map[string]time.Time{}
	for _, d := range a.rule(ctx).Decide(a.older(a.tokens)) {
		x := d.Token
		switch d.Verdict {
		case retire.Keep:
			a.res.Kept = append(a.res.Kept, x.ID)
			a.log.Info("older token kept: it is the credential this tool authenticates with", "token_id", x.ID)
		case retire.TooRecent:
			a.res.TooRecent = append(a.res.TooRecent, x.ID)
			a.log.Warn("older token too recent to revoke safely; left for a later run", "token_id", x.ID, "created_at", x.CreatedAt, "why", d.Why)
		case retire.Grace:
			a.res.Pending = append(a.res.Pending, x.ID)
			a.res.RevokeAfter[x.ID] = d.RevokeAfter
			a.log.Info("revoke pending until grace ends", "token_id", x.ID, "revoke_after", d.RevokeAfter)
		case retire.Revoke:
			wg.Go(func() {
				err := a.revokeWithRetry(ctx, a.tok, x.ID)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					a.res.Pending = append(a.res.Pending, x.ID)
					a.res.RevokeAfter[x.ID] = d.RevokeAfter
					a.log.Warn("revoke failed; left pending", "token_id", x.ID, "error", err.Error())
					return
				}
				a.res.Revoked = append(a.res.Revoked, x.ID)
				a.log.Info("revoked", "token_id", x.ID)
			})
		}
	}
	wg.Wait()
	for _, ids := range []*[]string{&a.res.Revoked, &a.res.Pending, &a.res.TooRecent, &a.res.Kept} {
		slices.Sort(*ids)
	}
}

// revokeWithRetry retries on top of the client's own retries, because a
// revoke left undone keeps a token live that nothing uses. It waits on the
// engine's clock.
func (a *attempt) revokeWithRetry(ctx context.Context, cred groo.Token, id string) error {
	var err error
	delay := 100 * time.Millisecond
	for i := 0; i < a.cfg.RevokeTries; i++ {
		if err = a.e.Groo.Revoke(ctx, cred, id); err == nil {
			return nil
		}
		var unauth *groo.UnauthorizedError
		var forbidden *groo.ForbiddenError
		if errors.As(err, &unauth) || errors.As(err, &forbidden) || ctx.Err() != nil {
			return err
		}
		if i+1 < a.cfg.RevokeTries {
			if serr := a.cfg.Sleep(ctx, delay); serr != nil {
				return errors.Join(err, serr)
			}
			delay *= 2
		}
	}
	return err
}

// revokeNew revokes a new token that will not be used, with cred and, if
// that fails, with the new token itself. It returns the token's id when
// both failed (I4 then needs a later clean-up).
func (a *attempt) revokeNew(ctx context.Context, cred groo.Token) string {
	id := a.res.New.ID
	rctx := context.WithoutCancel(ctx)
	err := a.revokeWithRetry(rctx, cred, id)
	if err != nil && cred != a.tok {
		err = errors.Join(err, a.revokeWithRetry(rctx, a.tok, id))
	}
	if err != nil {
		a.log.Error("could not revoke the unused new token", "token_id", id, "error", err.Error())
		return id
	}
	a.log.Info("revoked the unused new token", "token_id", id)
	return ""
}

// mintOutcome classifies a failed mint. mayHave is false only when Groo
// answered with a refusal: any other failure (a lost answer, a timeout, a
// 5xx) may hide a minted token. answered tells whether Groo answered at all
// (a refusal, a 5xx, an unusable 2xx): then its work on the request is over.
func mintOutcome(err error) (mayHave, answered bool) {
	var unknown *groo.OutcomeUnknownError
	if errors.As(err, &unknown) {
		return true, unknown.Answered
	}
	var api *groo.APIError
	answered = errors.As(err, &api)
	return !answered, answered
}

// cleanupLostMint finds tokens minted by this attempt whose answer was lost
// (the description carries the attempt id) and revokes them. It returns the
// ids it could not revoke, and an error when it could not list at all (after
// retrying: a token of this attempt may then be live).
func (a *attempt) cleanupLostMint(ctx context.Context, cred groo.Token, try int, unanswered bool) ([]string, error) {
	rctx := context.WithoutCancel(ctx)
	var tokens []groo.TokenInfo
	var err error
	delay := 100 * time.Millisecond
	for i := 0; i < a.cfg.RevokeTries; i++ {
		if tokens, err = a.e.Groo.List(rctx, cred); err == nil {
			break
		}
		if i+1 < a.cfg.RevokeTries {
			if serr := a.cfg.Sleep(rctx, delay); serr != nil {
				break
			}
			delay *= 2
		}
	}
	if err != nil {
		a.log.Error("could not look for a token minted by this failed attempt", "error", err.Error())
		return nil, fmt.Errorf("look for a token this attempt may have minted (description contains %s): %w", a.res.AttemptID, err)
	}
	ofTry := func(t groo.TokenInfo) bool { return retire.MintedByTry(t, a.res.AttemptID, try) }
	if !slices.ContainsFunc(tokens, ofTry) {
		// A server that took the POST may still be acting on it after this
		// client gave up: look once more, a moment later.
		if serr := a.cfg.Sleep(rctx, lostMintSettle); serr == nil {
			if again, lerr := a.e.Groo.List(rctx, cred); lerr == nil {
				tokens = again
			}
		}
		// Not there yet is not never when Groo never answered: the request
		// may still be queued.
		a.mintLost = a.mintLost || unanswered && !slices.ContainsFunc(tokens, ofTry)
	}
	var left []string
	for _, t := range tokens {
		if t.Revoked || !retire.MintedBy(t, a.res.AttemptID) {
			continue
		}
		a.log.Warn("revoking a token this attempt minted without seeing the answer", "token_id", t.ID)
		if err := a.revokeWithRetry(rctx, cred, t.ID); err != nil {
			left = append(left, t.ID)
		}
	}
	return left, nil
}
