// Package daemon is pat-rotator: given a configuration (internal/config), it
// schedules the targets' rotations with robfig/cron, serialises each use
// case with a lease in the store, paces GitHub writes per credential, sweeps
// the revokes left pending, and serves /healthz, /readyz and /metrics.
package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/audit/storeopen"
	"github.com/groo/pat-action/internal/config"
	"github.com/groo/pat-action/internal/duration"
	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/notify"
	"github.com/groo/pat-action/internal/retire"
	"github.com/groo/pat-action/internal/rotation"
	"github.com/groo/pat-action/internal/safetext"
	"github.com/groo/pat-action/internal/statuspage"
)

// Tool names pat-rotator in audit events and token descriptions.
const Tool = "pat-rotator"

// Options are what a Daemon takes besides its configuration. Zero fields
// take the defaults in parentheses.
type Options struct {
	Logger    *slog.Logger           // (discard)
	Getenv    func(string) string    // where *-env credentials are read (os.Getenv)
	Store     audit.Store            // (opened from Config.Store, closed by Close)
	Transport http.RoundTripper      // base transport of both API clients (http.DefaultTransport)
	Holder    string                 // lease holder name (host/pid/random)
	Now       func() time.Time       // (time.Now)
	OnResult  func(TargetResult)     // called after each rotation attempt (the demo prints them)
	Engine    func(*rotation.Engine) // adjusts the engine before use (tests)
	Listener  net.Listener           // Run serves HTTP on it instead of listening on Config.Listen
	// GitHubTimeout bounds each GitHub request (ghsecret.RequestTimeout).
	GitHubTimeout time.Duration
}

// Daemon rotates a fleet of targets. Build it with New; use Run for the
// scheduler, RotateOnce for one pass, Plan for a dry run.
type Daemon struct {
	cfg      *config.Config
	log      *slog.Logger
	store    audit.Store
	ownStore bool
	metrics  *Metrics
	grooC    *groo.Client
	creds    *credSource // the bot's PAT; d.cred() reads it
	credInfo credentialInfo
	// statusToken, when set, guards the status page and history routes.
	statusToken string
	notifier    *notify.Notifier // nil without webhooks
	secrets     *ghsecret.Client
	engine      *rotation.Engine
	// lists is the account's list shared by the rotations of the fleet.
	lists    *rotation.SharedList
	holder   string
	actor    string
	now      func() time.Time
	onResult func(TargetResult)
	ln       net.Listener
	limits   serverLimits // of the HTTP server; tests shorten them

	sem     chan struct{}
	targets []*target
	byName  map[string]*target

	ready    atomic.Bool
	inflight sync.WaitGroup // rotations and sweeps, waited for at shutdown
}

type target struct {
	cfg     *config.TargetConfig
	log     *slog.Logger
	running atomic.Bool
	// retryAt is when a failed or skipped rotation is tried again (nil: no
	// retry pending), for the status page.
	retryAt atomic.Pointer[time.Time]
	// failures counts the consecutive failed attempts, for the retry's
	// backoff and the notifications; lastError and failingSince go with it.
	failures     atomic.Int32
	lastError    atomic.Pointer[string]
	failingSince atomic.Pointer[time.Time]
}

// TargetResult is one attempt of one target, as the daemon saw it.
type TargetResult struct {
	Target  *config.TargetConfig
	Result  *rotation.Result // nil when the rotation did not run or failed
	Err     error
	Skipped bool // the lease was held elsewhere or a rotation was already running
}

// ErrSkipped wraps the error of a target that was not rotated because
// another rotation of its use case was under way.
var ErrSkipped = errors.New("skipped")

// New loads the credentials, opens the store and builds the clients. It
// makes no request.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Daemon, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// Every line the daemon and its clients log is redacted: any token the
	// process holds, and anything shaped like one, in any letter case.
	opts.Logger = slog.New(safetext.NewHandler(opts.Logger.Handler()))
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	if opts.Holder == "" {
		opts.Holder = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), randomHex(3))
	}
	d := &Daemon{
		cfg: cfg, log: opts.Logger, metrics: NewMetrics(useCases(cfg)...), holder: opts.Holder,
		actor: Tool + "@" + host, now: opts.Now, onResult: opts.OnResult, ln: opts.Listener,
		limits: defaultServerLimits,
		sem:    make(chan struct{}, max(cfg.Daemon.Concurrency, 1)),
		byName: map[string]*target{},
	}
	var err error
	if d.creds, err = newCredSource(cfg, opts.Getenv, func(msg string, args ...any) { d.log.Warn(msg, args...) }); err != nil {
		return nil, err
	}
	if d.grooC, err = newGrooClient(cfg, d.metrics, opts.Transport, d.log); err != nil {
		return nil, err
	}
	if opts.GitHubTimeout <= 0 {
		opts.GitHubTimeout = ghsecret.RequestTimeout
	}
	gh, err := newGitHubClient(cfg, d.metrics, opts.Transport, opts.GitHubTimeout, opts.Getenv)
	if err != nil {
		return nil, err
	}
	d.store = opts.Store
	if d.store == nil {
		if d.store, err = storeopen.Open(ctx, cfg.Store, cfg.StorePasswordFile); err != nil {
			return nil, err
		}
		d.ownStore = true
	}
	d.secrets = newSecretsClient(cfg, gh, d.store, d.log)
	d.engine = &rotation.Engine{
		Groo:     d.grooC,
		Secrets:  d.secrets,
		Recorder: audit.FencedRecorder{Store: d.store}, // fenced by the lease in the rotation's context
		History:  d.store,
		Config: rotation.Config{
			WriteWindow: cfg.Rotation.WriteWindow,
			ClockMargin: cfg.Rotation.ClockMargin,
			Now:         opts.Now,
			Logger:      d.log,
		},
	}
	if opts.Engine != nil {
		opts.Engine(d.engine)
	}
	// Half the write window: a rotation's mint then falls well within the
	// window of the list on Groo's clock, so that it rarely reads its own.
	d.lists = rotation.NewSharedList(d.engine.Groo, cfg.Rotation.WriteWindow/2, opts.Now)
	if cfg.Status.TokenEnv != "" || cfg.Status.TokenFile != "" {
		if d.statusToken, err = readSecret("status", cfg.Status.TokenEnv, cfg.Status.TokenFile, opts.Getenv); err != nil {
			return nil, err
		}
	}
	if d.notifier, err = newNotifier(cfg, opts.Getenv, storeClaimer{claims: d.store, holder: d.holder}, d.log); err != nil {
		return nil, err
	}
	for _, tc := range cfg.Targets {
		t := &target{cfg: tc, log: d.log.With("target", tc.Name, "use_case", tc.UseCase)}
		d.targets = append(d.targets, t)
		d.byName[tc.Name] = t
	}
	return d, nil
}

// Metrics exposes the daemon's registry (tests and the demo read it).
func (d *Daemon) Metrics() *Metrics { return d.metrics }

// Store is the daemon's store.
func (d *Daemon) Store() audit.Store { return d.store }

// Close closes the store if the daemon opened it.
func (d *Daemon) Close() error {
	var err error
	if d.notifier != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = d.notifier.Close(ctx)
		cancel()
	}
	if d.ownStore {
		return errors.Join(err, d.store.Close())
	}
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Select resolves target names (Target.String(), e.g. "repo:octo/app
// GROO_PAT", or a use case) to targets; no names selects all.
func (d *Daemon) Select(names []string) ([]*config.TargetConfig, error) {
	if len(names) == 0 {
		return d.cfg.Targets, nil
	}
	var out []*config.TargetConfig
	var errs []error
	for _, n := range names {
		t := d.byName[n]
		if t == nil {
			for _, c := range d.targets {
				if c.cfg.UseCase == n {
					t = c
				}
			}
		}
		if t == nil {
			errs = append(errs, fmt.Errorf("no target named %q; `pat-rotator validate` lists them (e.g. %q)", n, d.targets[0].cfg.Name))
			continue
		}
		out = append(out, t.cfg)
	}
	return out, errors.Join(errs...)
}

// rotationContext detaches a rotation from ctx: once ctx ends (SIGTERM) the
// rotation in flight may still finish, for at most the shutdown timeout, so
// that a write is not cut in the middle and the audit gets its outcome.
func (d *Daemon) rotationContext(ctx context.Context) (context.Context, func()) {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var mu sync.Mutex
	var timer *time.Timer
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		timer = time.AfterFunc(d.cfg.Daemon.ShutdownTimeout, cancel)
		mu.Unlock()
	})
	return rctx, func() {
		stop()
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// rotate runs one attempt of one target: the process-local guard, a slot of
// the concurrency bound, the use case's lease (renewed while it runs), the
// engine, and the bookkeeping (metrics, pending revokes). A lease held
// elsewhere skips the target, and so does, when activation is set (the
// activation's start), a rotation of the use case that succeeded since then.
func (d *Daemon) rotate(ctx context.Context, t *target, activation time.Time) TargetResult {
	if !t.running.CompareAndSwap(false, true) {
		tr := TargetResult{Target: t.cfg, Skipped: true,
			Err: fmt.Errorf("%s: %w: a rotation of it is already running in this process", t.cfg.Name, ErrSkipped)}
		d.metrics.rotation("skipped", t.cfg.UseCase)
		d.report(tr)
		return tr
	}
	defer t.running.Store(false)
	tr := d.rotateRunning(ctx, t, activation)
	if !tr.Skipped {
		d.settle(t, tr)
	}
	// Reported while the target is still marked running: no other rotation
	// of it starts before OnResult returns (tests check invariants there).
	d.report(tr)
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	d.observe(octx)
	cancel()
	return tr
}

func (d *Daemon) report(tr TargetResult) {
	if d.onResult != nil {
		d.onResult(tr)
	}
}

func (d *Daemon) rotateRunning(ctx context.Context, t *target, activation time.Time) (tr TargetResult) {
	tr.Target = t.cfg
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		tr.Err = fmt.Errorf("%s: not started: %w", t.cfg.Name, ctx.Err())
		return tr
	}
	defer func() { <-d.sem }()
	if ctx.Err() != nil {
		tr.Err = fmt.Errorf("%s: not started: %w", t.cfg.Name, ctx.Err())
		return tr
	}

	rctx, done := d.rotationContext(ctx)
	defer done()
	ttl := d.cfg.LeaseTTL()
	held, err := d.store.AcquireLease(rctx, t.cfg.UseCase, d.holder, ttl)
	if err != nil {
		var held *audit.LeaseHeldError
		if errors.As(err, &held) {
			tr.Skipped = true
			tr.Err = fmt.Errorf("%s: %w: %w", t.cfg.Name, ErrSkipped, err)
			d.metrics.rotation("skipped", t.cfg.UseCase)
			t.log.Info("rotation skipped: lease held", "holder", held.Holder, "lease_expires", held.Expires)
			return tr
		}
		tr.Err = fmt.Errorf("%s: %w", t.cfg.Name, err)
		d.metrics.rotation("failed", t.cfg.UseCase)
		t.log.Error("rotation not started: store", "error", err.Error())
		return tr
	}
	if !activation.IsZero() && d.rotatedSince(rctx, t, activation) {
		// Another replica rotated this activation while this one waited for
		// a slot or the lease (all replicas' schedules fire together):
		// rotating it again would only spend the credential's pacing.
		if err := d.store.ReleaseLease(context.WithoutCancel(rctx), held); err != nil {
			t.log.Warn("could not release the lease; it expires by itself", "error", err.Error(), "lease_expires", held.Expires)
		}
		tr.Skipped = true
		tr.Err = fmt.Errorf("%s: %w: another replica rotated this activation", t.cfg.Name, ErrSkipped)
		d.metrics.rotation("skipped", t.cfg.UseCase)
		t.log.Info("rotation skipped: another replica rotated this activation")
		return tr
	}
	lease := d.keepLease(rctx, t, held, ttl)
	defer func() {
		l := lease.stop()
		// Released even when the context ended: a lease left behind would
		// hold the use case until it expires.
		relCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := d.store.ReleaseLease(relCtx, l); err != nil {
			t.log.Warn("could not release the lease; it expires by itself", "error", err.Error(), "lease_expires", l.Expires)
		}
	}()

	start := d.now()
	res, err := d.engine.Rotate(audit.WithLease(rctx, held), rotation.Request{
		Target:         t.cfg.Target,
		UseCase:        t.cfg.UseCase,
		Credential:     d.cred(),
		TTL:            t.cfg.TTL,
		Grace:          t.cfg.Grace,
		Actor:          d.actor,
		Tool:           Tool,
		KeepCredential: true,
		Shared:         d.lists,
		BeforeWrite:    func(ctx context.Context) error { return lease.check(ctx) },
	})
	d.metrics.Duration.Observe(d.now().Sub(start).Seconds())
	tr.Result = res
	if err != nil {
		tr.Err = err
		d.metrics.rotation("failed", t.cfg.UseCase)
		// The engine logged its own failure (with the attempt and the step);
		// anything else is the daemon's to tell.
		var rerr *rotation.Error
		if !errors.As(err, &rerr) {
			t.log.Error("rotation failed", "error", err.Error())
		}
	} else {
		d.metrics.rotation("succeeded", t.cfg.UseCase)
		d.metrics.observeSuccess(t.cfg.UseCase, res.New.ExpiresAt, res.Written)
	}
	if res != nil && len(res.Pending) > 0 {
		// Grace not over, or the engine's revokes failed: the sweep takes them.
		for _, id := range res.Pending {
			after, ok := res.RevokeAfter[id]
			if !ok {
				after = res.Written.Add(t.cfg.Grace)
			}
			// Fenced: a replica whose lease was taken leaves the token to
			// its successor, which sees it live.
			if perr := d.store.AddPendingRevokeFenced(context.WithoutCancel(rctx), lease.current(), audit.PendingRevoke{
				TokenID: id, UseCase: t.cfg.UseCase, Target: t.cfg.Name, RevokeAfter: after,
			}); perr != nil {
				tr.Err = errors.Join(tr.Err, perr)
				t.log.Error("could not keep a pending revoke", "token_id", id, "error", perr.Error())
			}
		}
		d.refreshPendingGauge(rctx)
	}
	return tr
}

// heldLease is a lease a rotation holds, renewed every third of its TTL
// while the rotation runs. A holder that dies stops renewing, and the lease
// then expires; a holder whose lease was taken learns it at check.
type heldLease struct {
	d      *Daemon
	ttl    time.Duration
	mu     sync.Mutex
	l      audit.Lease
	lost   error
	cancel func()
	wg     sync.WaitGroup
}

func (d *Daemon) keepLease(ctx context.Context, t *target, l audit.Lease, ttl time.Duration) *heldLease {
	ctx, cancel := context.WithCancel(ctx)
	h := &heldLease{d: d, ttl: ttl, l: l, cancel: cancel}
	h.wg.Go(func() {
		tick := time.NewTicker(max(ttl/3, 10*time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if err := h.renew(ctx); err != nil && ctx.Err() == nil {
				t.log.Warn("could not renew the lease", "error", err.Error())
				if errors.Is(err, audit.ErrLeaseLost) {
					return
				}
			}
		}
	})
	return h
}

// renew extends the lease; a lost lease stays lost.
func (h *heldLease) renew(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost != nil {
		return h.lost
	}
	nl, err := h.d.store.RenewLease(ctx, h.l, h.ttl)
	if err != nil {
		if errors.Is(err, audit.ErrLeaseLost) {
			h.lost = err
		}
		return err
	}
	h.l = nl
	return nil
}

// check is the rotation's fence before its write: the lease is renewed
// now, so a rotation whose lease was taken, or that cannot tell, does not
// write.
func (h *heldLease) check(ctx context.Context) error {
	if err := h.renew(ctx); err != nil {
		return fmt.Errorf("the use case's lease could not be confirmed before the write: %w", err)
	}
	return nil
}

// current is the lease as last renewed.
func (h *heldLease) current() audit.Lease {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.l
}

// stop ends the renewals and returns the lease as last held.
func (h *heldLease) stop() audit.Lease {
	h.cancel()
	h.wg.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.l
}

// credentialMatcher reports whether a listed token may be the PAT the daemon
// authenticates with, which it never revokes.
func (d *Daemon) credentialMatcher() func(groo.TokenInfo) bool {
	cred := d.cred() // read once, not once per listed token
	return func(t groo.TokenInfo) bool { return retire.Matches(t, cred) }
}

// RotateTargets rotates the given targets once, concurrently within the
// configured bound. One failing target never blocks the others: the
// failures come back joined.
func (d *Daemon) RotateTargets(ctx context.Context, targets []*config.TargetConfig) ([]TargetResult, error) {
	results := make([]TargetResult, len(targets))
	var wg sync.WaitGroup
	for i, tc := range targets {
		t := d.byName[tc.Name]
		wg.Go(func() { results[i] = d.rotate(ctx, t, time.Time{}) })
	}
	wg.Wait()
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return results, errors.Join(errs...)
}

// RotateOnce is the `rotate` command: pending revokes that are due, one
// pass over the targets, and the revokes that pass left due.
func (d *Daemon) RotateOnce(ctx context.Context, names []string) ([]TargetResult, error) {
	targets, err := d.Select(names)
	if err != nil {
		return nil, err
	}
	if _, err := d.checkCredentialAtStart(ctx); err != nil {
		return nil, err
	}
	sweepErr := d.Sweep(ctx)
	results, err := d.RotateTargets(ctx, targets)
	return results, errors.Join(err, sweepErr, d.Sweep(ctx))
}

// Sweep retries the pending revokes that are due. A failure is counted and
// scheduled again with a backoff; a pending revoke is never dropped.
func (d *Daemon) Sweep(ctx context.Context) error {
	due, err := d.store.DueRevokes(ctx, d.now(), 500)
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	var errs []error
	var credIDs map[string]bool
	cred := d.cred()
	if len(due) > 0 {
		// The bot never revokes the PAT it authenticates with, whatever the
		// store holds (an entry from an older version, a bad merge).
		tokens, err := d.grooC.List(ctx, cred)
		if err != nil {
			d.refreshPendingGauge(ctx)
			return fmt.Errorf("sweep: list tokens to tell the credential apart: %w", err)
		}
		credIDs = map[string]bool{}
		isCred := d.credentialMatcher()
		for _, t := range tokens {
			if isCred(t) {
				credIDs[t.ID] = true
			}
		}
	}
	for _, p := range due {
		if ctx.Err() != nil {
			break
		}
		log := d.log.With("target", p.Target, "use_case", p.UseCase, "token_id", p.TokenID)
		if credIDs[p.TokenID] {
			log.Warn("pending revoke dropped: the token is the credential pat-rotator authenticates with, which it never revokes")
			if err := d.store.RevokeDone(ctx, p.TokenID); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err := d.grooC.Revoke(ctx, cred, p.TokenID); err != nil {
			d.metrics.RevokeFailures.Inc()
			next := d.now().Add(revokeBackoff(d.cfg.Daemon.SweepInterval, p.Attempts+1))
			log.Warn("pending revoke failed; retrying later", "attempts", p.Attempts+1, "next_try", next, "error", err.Error())
			if ferr := d.store.RevokeFailed(ctx, p.TokenID, err.Error(), next); ferr != nil {
				errs = append(errs, ferr)
			}
			continue
		}
		log.Info("pending revoke done", "attempts", p.Attempts+1)
		if err := d.store.RevokeDone(ctx, p.TokenID); err != nil {
			errs = append(errs, err)
		}
	}
	d.refreshPendingGauge(ctx)
	return errors.Join(errs...)
}

// revokeBackoff doubles the wait after each failure, from one sweep
// interval up to an hour.
func revokeBackoff(interval time.Duration, attempts int) time.Duration {
	d := interval
	for i := 1; i < attempts && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// loadGauges sets, for each target, the expiry of the token its secret
// holds and its last success from the store's Current (not from Groo's
// newest live token, which the secret may not hold). A use case the store
// knows nothing of has neither series until it rotates.
func (d *Daemon) loadGauges(ctx context.Context) {
	for _, t := range d.targets {
		cur, found, err := d.store.Current(ctx, t.cfg.UseCase)
		if err != nil {
			t.log.Warn("could not read the current token from the store; its gauges wait for a rotation", "error", err.Error())
			continue
		}
		if !found || cur.TokenID == "" {
			continue
		}
		d.metrics.observeHeld(t.cfg.UseCase, cur.ExpiresAt)
		if cur.WrittenAt != nil {
			d.metrics.LastSuccess.WithLabelValues(t.cfg.UseCase).Set(float64(cur.WrittenAt.Unix()))
		}
	}
}

// useCases are the configuration's use cases, in target order.
func useCases(cfg *config.Config) []string {
	var out []string
	for _, tc := range cfg.Targets {
		out = append(out, tc.UseCase)
	}
	return out
}

func (d *Daemon) refreshPendingGauge(ctx context.Context) {
	all, err := d.store.PendingRevokes(context.WithoutCancel(ctx))
	if err == nil {
		d.metrics.PendingRevokes.Set(float64(len(all)))
	}
}

// dueAtStart picks the targets whose token would expire before their next
// scheduled run (or that have no live token): they are rotated at once. One
// Groo list answers for the whole fleet; the store answers if it fails.
func (d *Daemon) dueAtStart(ctx context.Context, tokens []groo.TokenInfo) []*target {
	now := d.now()
	newest := map[string]time.Time{} // use case -> latest expiry of a live token
	known := map[string]bool{}
	var err error
	if tokens == nil { // the start's list could not be read: try once more
		tokens, err = d.grooC.List(ctx, d.cred())
	}
	if err == nil {
		for _, t := range tokens {
			if t.Revoked || (t.ExpiresAt != nil && !t.ExpiresAt.After(now)) {
				continue
			}
			known[t.Name] = true
			exp := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
			if t.ExpiresAt != nil {
				exp = *t.ExpiresAt
			}
			if exp.After(newest[t.Name]) {
				newest[t.Name] = exp
			}
		}
	} else {
		d.log.Warn("could not list tokens at start; judging expiry from the store", "error", err.Error())
	}
	var due []*target
	for _, t := range d.targets {
		exp, ok := newest[t.cfg.UseCase], known[t.cfg.UseCase]
		if err != nil {
			cur, found, serr := d.store.Current(ctx, t.cfg.UseCase)
			ok = serr == nil && found && cur.ExpiresAt != nil
			if ok {
				exp = *cur.ExpiresAt
			}
		}
		next := t.cfg.Schedule.Next(now)
		// The next run may start up to jitter late and takes up to a write
		// window; the token must outlive that.
		deadline := next.Add(duration.Sum(t.cfg.Jitter, d.cfg.Rotation.WriteWindow))
		if !ok || !exp.After(deadline) {
			reason := "no live token"
			if ok {
				reason = "token expires before the next run"
			}
			t.log.Info("rotating at start", "reason", reason, "next_run", next)
			due = append(due, t)
		}
	}
	return due
}

// Run is the daemon: HTTP endpoints, the schedule, rotations at start for
// tokens about to expire, and the sweep. It returns when ctx ends, after
// the rotations in flight finished (bounded by the shutdown timeout) and
// released their leases.
func (d *Daemon) Run(ctx context.Context) error {
	// Before the first scrape and any request: the gauges an alert reads
	// start from the store, not from nothing, so that they fire after a
	// restart.
	d.loadGauges(ctx)
	var srv *http.Server
	ln := d.ln
	if ln == nil && d.cfg.Listen != "" {
		var err error
		if ln, err = net.Listen("tcp", d.cfg.Listen); err != nil {
			return fmt.Errorf("listen on %s: %w", d.cfg.Listen, err)
		}
	}
	if ln != nil {
		srv = d.newServer()
		go func() { _ = srv.Serve(ln) }()
		d.log.Info("serving /healthz, /readyz and /metrics", "addr", ln.Addr().String())
	}
	defer func() {
		if srv != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}
	}()

	listed, err := d.checkCredentialAtStart(ctx)
	if err != nil {
		return err
	}
	c := d.newCron(ctx)
	c.Start()
	d.refreshPendingGauge(ctx)
	d.ready.Store(true)
	d.log.Info("pat-rotator running", "targets", len(d.targets), "holder", d.holder, "store", safetext.RedactURL(d.cfg.Store))

	d.inflight.Go(func() {
		due := d.dueAtStart(ctx, listed)
		if len(due) == 0 {
			return
		}
		var wg sync.WaitGroup
		for _, t := range due {
			wg.Go(func() { d.rotateWithRetry(ctx, t, time.Time{}) })
		}
		wg.Wait()
	})
	d.inflight.Go(func() { d.sweepLoop(ctx) })

	<-ctx.Done()
	d.ready.Store(false)
	d.log.Info("stopping: letting rotations in flight finish", "timeout", d.cfg.Daemon.ShutdownTimeout)
	stopped := c.Stop()
	d.inflight.Wait() // each rotation is bounded by the shutdown timeout
	<-stopped.Done()
	d.log.Info("stopped")
	return nil
}

// serverLimits bound what a client of /healthz, /readyz and /metrics may
// hold: a connection that sends its headers slowly, a request or answer
// that never ends, an idle keep-alive connection, oversized headers.
type serverLimits struct {
	readHeader, read, write, idle time.Duration
	maxHeaderBytes                int
}

var defaultServerLimits = serverLimits{
	readHeader:     5 * time.Second,
	read:           10 * time.Second,
	write:          30 * time.Second, // /metrics of a large fleet
	idle:           60 * time.Second,
	maxHeaderBytes: 16 << 10,
}

// newServer is the HTTP server of Handler, with d.limits.
func (d *Daemon) newServer() *http.Server {
	return &http.Server{
		Handler:           d.Handler(),
		ReadHeaderTimeout: d.limits.readHeader,
		ReadTimeout:       d.limits.read,
		WriteTimeout:      d.limits.write,
		IdleTimeout:       d.limits.idle,
		MaxHeaderBytes:    d.limits.maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
	}
}

// newCron schedules every target on its own schedule. Recover keeps a panic
// in one rotation from ending the daemon; SkipIfStillRunning drops an
// activation that comes while the target's previous one still runs.
func (d *Daemon) newCron(ctx context.Context) *cron.Cron {
	cl := cronLogger{l: d.log, names: map[cron.EntryID]string{}}
	c := cron.New(cron.WithChain(cron.Recover(cl), cron.SkipIfStillRunning(cl)), cron.WithLogger(cl))
	for _, t := range d.targets {
		id := c.Schedule(t.cfg.Schedule, cron.FuncJob(func() { d.scheduled(ctx, t) }))
		cl.names[id] = t.cfg.Name // filled before Start, read-only after
	}
	return c
}

// scheduled is one cron activation: a random delay up to the target's
// jitter (so a fleet on one schedule does not start in step), then a rotation.
func (d *Daemon) scheduled(ctx context.Context, t *target) {
	// cron.Stop waits for this job: no WaitGroup of ours is needed.
	if ctx.Err() != nil {
		return
	}
	// The activation begins when the schedule fires, before the jitter:
	// every replica's schedule fires then, each with its own jitter, and a
	// rotation by any of them after this moment is this activation's.
	fired := d.now()
	if j := t.cfg.Jitter; j > 0 {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(j)))
		timer := time.NewTimer(time.Duration(n.Int64()))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
	d.rotateWithRetry(ctx, t, fired)
}

// rotateWithRetry rotates t and, while that fails or is skipped, tries
// again with a capped, jittered exponential backoff (daemon.retry-min,
// retry-max) until it succeeds or the next scheduled run comes (which
// takes over). A rotation skipped because another replica holds the lease
// is not retried once a rotation of the use case succeeded after this
// activation began (began; zero: now), and no rotation starts once one
// did: each activation is rotated once.
func (d *Daemon) rotateWithRetry(ctx context.Context, t *target, began time.Time) {
	if began.IsZero() {
		began = d.now()
	}
	var next time.Time
	if t.cfg.Schedule != nil {
		next = t.cfg.Schedule.Next(began)
	}
	defer t.retryAt.Store(nil)
	for attempt := 1; ; attempt++ {
		tr := d.rotate(ctx, t, began)
		if tr.Err == nil || ctx.Err() != nil {
			return
		}
		if tr.Skipped && d.rotatedSince(ctx, t, began) {
			return
		}
		wait := retryBackoff(d.cfg.Daemon.RetryMin, d.cfg.Daemon.RetryMax, attempt)
		at := d.now().Add(wait)
		if !next.IsZero() && !at.Before(next) {
			t.log.Info("rotation not retried: the next scheduled run comes first", "next_run", next)
			return
		}
		t.retryAt.Store(&at)
		t.log.Info("rotation will be tried again", "retry_at", at, "attempt", attempt)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

// rotatedSince reports whether the store holds a successful rotation of
// t's use case that ended after since (another replica's).
func (d *Daemon) rotatedSince(ctx context.Context, t *target, since time.Time) bool {
	evs, err := d.store.History(ctx, audit.HistoryQuery{UseCase: t.cfg.UseCase, Since: since})
	if err != nil {
		return false
	}
	for _, e := range evs {
		if e.Outcome == audit.OutcomeSucceeded {
			return true
		}
	}
	return false
}

// retryBackoff is the wait before retry n (1-based): min doubling up to
// max, with up to a fifth of jitter either way so that replicas and
// targets do not retry in step.
func retryBackoff(minWait, maxWait time.Duration, n int) time.Duration {
	d := minWait
	for i := 1; i < n && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	if j := int64(d / 5); j > 0 {
		d += time.Duration(mrand.Int64N(2*j+1) - j)
	}
	return max(d, time.Millisecond)
}

func (d *Daemon) sweepLoop(ctx context.Context) {
	tick := time.NewTicker(d.cfg.Daemon.SweepInterval)
	defer tick.Stop()
	for {
		if err := d.Sweep(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("sweep failed", "error", err.Error())
		}
		d.observe(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Handler serves /healthz (the process answers), /readyz (the store is open
// and the schedule loaded) and /metrics.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !d.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", d.metrics.Handler())
	// The admins' view: read-only, never a token value, optionally behind
	// a bearer token; everything else of the mux stays open.
	mux.Handle("/", statuspage.Handler(d, statuspage.Options{BearerToken: d.statusToken, Now: d.now}))
	return mux
}

// cronLogger routes robfig/cron's logs (recovered panics, skipped runs) to slog.
type cronLogger struct {
	l     *slog.Logger
	names map[cron.EntryID]string // entry -> target name
}

func (c cronLogger) Info(msg string, kv ...any) {
	// cron logs every schedule and wake-up at Info: keep them at Debug.
	c.l.Debug("cron: "+msg, c.named(kv)...)
}

func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(c.named(kv), "error", err.Error())...)
}

// named adds the target's name beside cron's entry id.
func (c cronLogger) named(kv []any) []any {
	for i := 0; i+1 < len(kv); i += 2 {
		if k, _ := kv[i].(string); k == "entry" {
			if id, ok := kv[i+1].(cron.EntryID); ok {
				if name, ok := c.names[id]; ok {
					return append(kv, "target", name)
				}
			}
		}
	}
	return kv
}

var _ cron.Logger = cronLogger{}

// PlanAll is the `plan` command: what each target's rotation would do now.
func (d *Daemon) PlanAll(ctx context.Context, names []string) ([]*rotation.Plan, error) {
	targets, err := d.Select(names)
	if err != nil {
		return nil, err
	}
	if _, err := d.checkCredentialAtStart(ctx); err != nil {
		return nil, err
	}
	plans := make([]*rotation.Plan, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, tc := range targets {
		wg.Go(func() {
			d.sem <- struct{}{}
			defer func() { <-d.sem }()
			plans[i], errs[i] = d.engine.Plan(ctx, rotation.Request{
				Target: tc.Target, UseCase: tc.UseCase, Credential: d.cred(), TTL: tc.TTL, Grace: tc.Grace, Actor: d.actor, Tool: Tool,
				KeepCredential: true,
			})
		})
	}
	wg.Wait()
	return plans, errors.Join(errs...)
}

// cred is the bot's Groo PAT in use (token-file re-read when it changed).
func (d *Daemon) cred() groo.Token { return d.creds.current() }
