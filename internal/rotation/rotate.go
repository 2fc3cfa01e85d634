package rotation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
)

// Defaults for Config's zero values.
const (
	DefaultWriteWindow = 2 * time.Minute
	DefaultClockMargin = 5 * time.Second
	DefaultRevokeTries = 4
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
	Err      error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("rotate %s (%s): %s: %v", e.Target, e.UseCase, e.Step, e.Err)
	if e.OutcomeUnknown {
		s += " (write outcome unknown: the new token " + e.LeftLive + " stays live; the next run settles it)"
	} else if e.LeftLive != "" {
		s += " (could not revoke the new token " + e.LeftLive + "; the next run or an audit --prune retires it)"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ErrInvalidRequest wraps every refusal of a Request before any call.
var ErrInvalidRequest = errors.New("invalid rotation request")

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
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (r Request) useCase() string {
	if r.UseCase != "" {
		return r.UseCase
	}
	return r.Target.UseCase()
}

func (r Request) validate() error {
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
	if n := len(r.useCase()); n > 100 {
		return fmt.Errorf("%w: token name %q is %d characters; Groo allows 100: set a shorter token name", ErrInvalidRequest, r.useCase(), n)
	}
	return nil
}

func newAttemptID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "rot_" + hex.EncodeToString(b[:])
}

// description is stored on the minted token: it tells a human which tool
// and target own it, and carries the attempt id so that a mint whose answer
// was lost can be found and revoked.
func description(tool, target, attempt string) string {
	if tool == "" {
		tool = "pat-action"
	}
	return fmt.Sprintf("Managed by %s for %s (attempt %s)", tool, target, attempt)
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
	wg.Go(func() { rr.tokens, rr.tokensErr = e.Groo.List(ctx, cred) })
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

// fail records the failed attempt and returns its error.
func (a *attempt) fail(ctx context.Context, step string, err error, newTok *groo.TokenInfo, unknown bool, leftLive string) error {
	rerr := &Error{Step: step, Target: a.target, UseCase: a.useCase, OutcomeUnknown: unknown, LeftLive: leftLive, Err: err}
	a.ev.Outcome = audit.OutcomeFailed
	a.ev.Step = step
	a.ev.Error = rerr.Error()
	a.ev.OutcomeUnknown = unknown
	if newTok != nil {
		a.fillNew(*newTok)
	}
	a.log.Warn("rotation failed", "step", step, "error", rerr.Error(), "write_outcome_unknown", unknown)
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
	a.ev.Steps = copyDurations(a.res.Steps)
	// The final event must land even when the caller's context ended
	// (SIGTERM): an attempt without its outcome breaks I7.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := a.e.Recorder.Record(rctx, a.ev); err != nil {
		return fmt.Errorf("record audit event %s for %s: %w", a.ev.ID, a.useCase, err)
	}
	return nil
}

func copyDurations(m map[string]time.Duration) map[string]time.Duration {
	if m == nil {
		return nil
	}
	out := make(map[string]time.Duration, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Rotate runs the protocol once for req.Target.
func (e *Engine) Rotate(ctx context.Context, req Request) (*Result, error) {
	if e.Recorder == nil || e.Groo == nil || e.Secrets == nil {
		return nil, fmt.Errorf("%w: engine needs a Groo client, a secret writer and an audit recorder", ErrInvalidRequest)
	}
	if err := req.validate(); err != nil {
		return nil, err
	}
	cfg := e.Config.withDefaults()
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
	e, req, cfg := a.e, a.req, a.cfg
	cred := req.Credential

	// Reads in parallel with the mint: they are not on the critical path.
	readCtx, cancelReads := context.WithCancel(ctx)
	defer cancelReads()
	rr, readsDone := e.startReads(readCtx, req, cred)

	// 1. mint
	mintAt := cfg.Now()
	var expires time.Time
	if req.TTL > 0 {
		expires = mintAt.Add(req.TTL).UTC()
	}
	info, tok, err := e.Groo.Create(ctx, cred, groo.CreateRequest{
		Name:        a.useCase,
		Description: description(req.Tool, a.target, a.res.AttemptID),
		ExpiresAt:   expires,
	})
	a.step(StepMint)
	if err != nil {
		readsDone.Wait()
		err = fmt.Errorf("mint token %q: %w", a.useCase, err)
		var left string
		if mintMayHaveHappened(err) {
			var cerr error
			left, cerr = a.cleanupLostMint(ctx, cred)
			err = errors.Join(err, cerr)
		}
		return nil, a.fail(ctx, StepMint, err, nil, false, left)
	}
	if req.OnMint != nil {
		req.OnMint(tok)
	}
	a.res.New, a.res.NewToken = info, tok
	if a.res.New.LastFour == "" {
		a.res.New.LastFour = tok.LastFour()
	}
	if a.res.New.TokenPrefix == "" {
		a.res.New.TokenPrefix = tok.TokenPrefix()
	}
	a.fillNew(a.res.New)
	a.log = a.log.With("new_token_id", info.ID, "new_token_last4", a.res.New.LastFour)
	a.log.Info("minted", "expires_at", expires)
	// The started event again, now naming the new token: if this process
	// dies before the end, the store can still tie the token to its attempt.
	if err := a.record(ctx); err != nil {
		left := a.revokeNew(ctx, cred, tok)
		return nil, a.fail(ctx, StepMint, err, &a.res.New, false, left)
	}

	// 2. verify: the new token answers for the same user as the credential.
	user, verr := e.Groo.Me(ctx, tok)
	readsDone.Wait()
	a.step(StepVerify)
	if verr == nil && rr.userErr != nil {
		verr = fmt.Errorf("identify the minting credential: %w", rr.userErr)
	} else if verr == nil && user.ID != rr.user.ID {
		verr = fmt.Errorf("new token belongs to user %s, the credential to %s", user.ID, rr.user.ID)
	}
	if verr != nil {
		// The new token may not work: revoke it with the credential that minted it.
		left := a.revokeNew(ctx, cred, tok)
		return nil, a.fail(ctx, StepVerify, fmt.Errorf("verify new token %s: %w", info.ID, verr), &a.res.New, false, left)
	}
	a.log.Info("verified", "user", user.ID)
	// From here on every Groo call uses the new token: the credential may be
	// one of the tokens this rotation retires.

	tokens := rr.tokens
	if rr.tokensErr != nil {
		tokens, err = e.Groo.List(ctx, tok)
		if err != nil {
			left := a.revokeNew(ctx, tok, tok)
			return nil, a.fail(ctx, StepRead, fmt.Errorf("list tokens of %q: %w", a.useCase, errors.Join(rr.tokensErr, err)), &a.res.New, false, left)
		}
	}
	key := rr.key
	if rr.keyErr != nil {
		key, err = e.Secrets.PublicKey(ctx, req.Target)
		if err != nil {
			left := a.revokeNew(ctx, tok, tok)
			return nil, a.fail(ctx, StepRead, fmt.Errorf("public key of %s: %w", a.target, errors.Join(rr.keyErr, err)), &a.res.New, false, left)
		}
	}
	target := req.Target
	if rr.metaErr != nil {
		a.log.Warn("secret metadata unavailable", "error", rr.metaErr.Error())
	} else {
		target = keepAccess(target, rr.meta)
	}

	// 3. write, only within the write window of the mint.
	writeStart := cfg.Now()
	remaining := cfg.WriteWindow - writeStart.Sub(mintAt)
	if remaining <= 0 {
		left := a.revokeNew(ctx, tok, tok)
		return nil, a.fail(ctx, StepWrite, fmt.Errorf("write window of %s passed before the write could start", cfg.WriteWindow), &a.res.New, false, left)
	}
	wctx, cancelWrite := context.WithTimeout(ctx, remaining)
	put, err := e.Secrets.Put(wctx, target, key, []byte(tok.Reveal()))
	cancelWrite()
	a.step(StepWrite)
	if err != nil {
		var refused *ghsecret.RefusedError
		if errors.As(err, &refused) {
			left := a.revokeNew(ctx, tok, tok)
			return nil, a.fail(ctx, StepWrite, fmt.Errorf("write secret %s: %w", a.target, err), &a.res.New, false, left)
		}
		a.ev.Replaced = a.olderIDs(tokens)
		return nil, a.fail(ctx, StepWrite, fmt.Errorf("write secret %s: %w", a.target, err), &a.res.New, true, info.ID)
	}
	a.res.Written = cfg.Now()
	a.res.SecretCreated = put.Created
	written := a.res.Written
	a.ev.WrittenAt = &written
	a.ev.SecretCreated = put.Created
	a.log.Info("secret written", "created", put.Created, "key_id", put.KeyID)

	// 4. retire
	a.retire(ctx, tok, tokens, writeStart)
	a.step(StepRetire)

	a.ev.Outcome = audit.OutcomeSucceeded
	a.ev.Replaced = a.olderIDs(tokens)
	a.ev.Revoked = a.res.Revoked
	a.ev.Pending = a.res.Pending
	a.ev.TooRecent = a.res.TooRecent
	if err := a.record(ctx); err != nil {
		// The secret holds the new token already; report, do not undo.
		return a.res, err
	}
	a.log.Info("rotated", "revoked", strings.Join(a.res.Revoked, ","), "pending", strings.Join(a.res.Pending, ","),
		"too_recent", strings.Join(a.res.TooRecent, ","))
	return a.res, nil
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

// older returns the live tokens of the use case other than the new one.
func (a *attempt) older(tokens []groo.TokenInfo) []groo.TokenInfo {
	now := a.cfg.Now()
	var out []groo.TokenInfo
	for _, t := range tokens {
		if t.Name != a.useCase || t.ID == a.res.New.ID || t.Revoked {
			continue
		}
		if t.ExpiresAt != nil && !t.ExpiresAt.After(now) {
			continue
		}
		out = append(out, t)
	}
	return out
}

func (a *attempt) olderIDs(tokens []groo.TokenInfo) []string {
	var ids []string
	for _, t := range a.older(tokens) {
		ids = append(ids, t.ID)
	}
	return ids
}

// safeToRevoke is DESIGN.md's rule: every write of x ended before this
// rotation's write started, so the secret now holds our token or a newer one.
func (a *attempt) safeToRevoke(ctx context.Context, x groo.TokenInfo, writeStart time.Time) bool {
	if x.CreatedAt.Add(a.cfg.WriteWindow + a.cfg.ClockMargin).Before(writeStart) {
		return true
	}
	if a.e.History == nil {
		return false
	}
	ended, ok, err := a.e.History.WritesEnded(ctx, a.useCase, x.ID)
	if err != nil {
		a.log.Warn("write history unavailable", "token_id", x.ID, "error", err.Error())
		return false
	}
	return ok && ended.Before(writeStart)
}

func (a *attempt) retire(ctx context.Context, tok groo.Token, tokens []groo.TokenInfo, writeStart time.Time) {
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	older := a.older(tokens)
	replacedAt := a.replacedAt(older)
	now := a.cfg.Now()
	for _, x := range older {
		switch {
		case !a.safeToRevoke(ctx, x, writeStart):
			a.res.TooRecent = append(a.res.TooRecent, x.ID)
			a.log.Warn("older token too recent to revoke safely; left for a later run", "token_id", x.ID, "created_at", x.CreatedAt)
		case a.req.Grace > 0 && now.Before(replacedAt[x.ID].Add(a.req.Grace)):
			a.res.Pending = append(a.res.Pending, x.ID)
			a.log.Info("revoke pending until grace ends", "token_id", x.ID, "revoke_after", replacedAt[x.ID].Add(a.req.Grace))
		default:
			wg.Go(func() {
				err := a.revokeWithRetry(ctx, tok, x.ID)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					a.res.Pending = append(a.res.Pending, x.ID)
					a.log.Warn("revoke failed; left pending", "token_id", x.ID, "error", err.Error())
					return
				}
				a.res.Revoked = append(a.res.Revoked, x.ID)
				a.log.Info("revoked", "token_id", x.ID)
			})
		}
	}
	wg.Wait()
	slices.Sort(a.res.Revoked)
	slices.Sort(a.res.Pending)
	slices.Sort(a.res.TooRecent)
}

// replacedAt bounds when each older token stopped being the secret's value:
// when its successor in the lineage was written. The successor of the newest
// is this rotation's token, written just now; an earlier successor was
// written no later than its mint plus the write window. Grace counts from
// there, so a stateless run (the Action) retires what an earlier run left
// pending once that grace is over.
func (a *attempt) replacedAt(older []groo.TokenInfo) map[string]time.Time {
	sorted := slices.Clone(older)
	slices.SortFunc(sorted, func(x, y groo.TokenInfo) int { return x.CreatedAt.Compare(y.CreatedAt) })
	out := make(map[string]time.Time, len(sorted))
	for i, x := range sorted {
		if i+1 < len(sorted) {
			out[x.ID] = sorted[i+1].CreatedAt.Add(a.cfg.WriteWindow)
		} else {
			out[x.ID] = a.res.Written
		}
	}
	return out
}

// revokeWithRetry retries on top of the client's own retries, because a
// revoke left undone keeps a token live that nothing uses.
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
			select {
			case <-ctx.Done():
				return errors.Join(err, ctx.Err())
			case <-time.After(delay):
			}
			delay *= 2
		}
	}
	return err
}

// revokeNew revokes a new token that will not be used. It returns the
// token's id when that failed (I4 then needs a later clean-up).
func (a *attempt) revokeNew(ctx context.Context, cred, tok groo.Token) string {
	id := a.res.New.ID
	rctx := context.WithoutCancel(ctx)
	err := a.revokeWithRetry(rctx, cred, id)
	if err != nil && cred != tok {
		err = errors.Join(err, a.revokeWithRetry(rctx, tok, id))
	}
	if err != nil {
		a.log.Error("could not revoke the unused new token", "token_id", id, "error", err.Error())
		return id
	}
	a.log.Info("revoked the unused new token", "token_id", id)
	return ""
}

// mintMayHaveHappened is false only when Groo answered with a refusal: any
// other failure (a lost answer, a timeout, a 5xx) may hide a minted token.
func mintMayHaveHappened(err error) bool {
	var unknown *groo.OutcomeUnknownError
	if errors.As(err, &unknown) {
		return true
	}
	var api *groo.APIError
	return !errors.As(err, &api)
}

// cleanupLostMint finds tokens minted by this attempt whose answer was lost
// (the description carries the attempt id) and revokes them. It returns the
// ids it could not revoke.
func (a *attempt) cleanupLostMint(ctx context.Context, cred groo.Token) (string, error) {
	rctx := context.WithoutCancel(ctx)
	tokens, err := a.e.Groo.List(rctx, cred)
	if err != nil {
		a.log.Error("could not look for a token minted by this failed attempt", "error", err.Error())
		return "", fmt.Errorf("look for a token this attempt may have minted (description contains %s): %w", a.res.AttemptID, err)
	}
	var left []string
	for _, t := range tokens {
		if t.Revoked || t.Description == nil || !strings.Contains(*t.Description, a.res.AttemptID) {
			continue
		}
		a.log.Warn("revoking a token this attempt minted without seeing the answer", "token_id", t.ID)
		if err := a.revokeWithRetry(rctx, cred, t.ID); err != nil {
			left = append(left, t.ID)
		}
	}
	return strings.Join(left, ","), nil
}
