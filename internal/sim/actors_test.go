package sim

// Every call into the project's rotation, audit, groo, ghsecret and
// sqlitestore APIs is in this file, so that an API change is adapted here
// alone.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/audit/sqlitestore"
	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/prune"
	"github.com/groo/pat-action/internal/retire"
	"github.com/groo/pat-action/internal/rotation"
	"github.com/groo/pat-action/internal/testkit"
)

const ghToken = "ghs_simulation000000000000000000000000"

// simTarget is the schedules' one target.
var simTarget = ghsecret.Target{Scope: ghsecret.ScopeRepository, Owner: "octo", Repo: "app", Name: "GROO_PAT"}

// env is what the actors of one schedule share.
type env struct {
	url       string
	transport http.RoundTripper
	bot       groo.Token         // the daemon's and the prune's credential
	store     *sqlitestore.Store // nil when no daemon or prune takes part
	margin    time.Duration      // the engines' clock margin
	mu        sync.Mutex         // holder names, shared
	holders   int
	// shared is the account's list the daemon-style rotations share, as
	// a pat-rotator's rotations do (built by the first of them).
	shared *rotation.SharedList
}

func openStore(ctx context.Context, path string) (*sqlitestore.Store, error) {
	return sqlitestore.Open(ctx, path)
}

func parseToken(v string) (groo.Token, error) { return groo.ParseToken(v) }

// run is what one actor did.
type run struct {
	actor   Actor
	logs    *testkit.Buffer // the actor's log (slog JSON, debug)
	out     *testkit.Buffer // the Action's audit lines; the prune's plan
	events  *memRecorder
	err     error
	skipped bool // a daemon that found the lease held
	// Rotations only.
	attemptID      string
	credID         string // the id of the token it minted with
	outcomeUnknown bool
	leftLive       string
	// mintUnknown: the mint's answer was lost and the clean-up could not
	// list; the attempt says a token of it may be live.
	mintUnknown    bool
	hasRotationErr bool
	// Prunes only.
	pruned []string
}

func (r *run) errText() string {
	if r.err == nil {
		return ""
	}
	return r.err.Error()
}

// memRecorder keeps the events an actor recorded, besides its real
// recorder.
type memRecorder struct {
	next audit.Recorder
	mu   sync.Mutex
	evs  []audit.Event
}

func (m *memRecorder) Record(ctx context.Context, e audit.Event) error {
	m.mu.Lock()
	m.evs = append(m.evs, e)
	m.mu.Unlock()
	if m.next == nil {
		return nil
	}
	return m.next.Record(ctx, e)
}

func (m *memRecorder) json() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, _ := json.Marshal(m.evs)
	return string(b)
}

func (m *memRecorder) attemptID() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.evs) == 0 {
		return ""
	}
	return m.evs[0].ID
}

func newRun(a Actor) *run {
	return &run{actor: a, logs: &testkit.Buffer{}, out: &testkit.Buffer{}, events: &memRecorder{}}
}

func (r *run) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// clients builds the Groo and GitHub clients of one actor, as its own
// process would have them, with timeouts scaled to its write window.
func (e *env) clients(logger *slog.Logger, w time.Duration) (*groo.Client, *ghsecret.Client, error) {
	hc := &http.Client{Transport: e.transport}
	gc, err := groo.New(groo.WithBaseURL(e.url), groo.WithHTTPClient(hc), groo.WithRetry(3, 5*time.Millisecond, 20*time.Millisecond),
		groo.WithRequestTimeout(w), groo.WithMaxRetryAfter(time.Second), groo.WithLogger(logger))
	if err != nil {
		return nil, nil, err
	}
	gh, err := github.NewClient(&http.Client{Transport: e.transport, Timeout: w}).WithAuthToken(ghToken).WithEnterpriseURLs(e.url+"/", e.url+"/")
	if err != nil {
		return nil, nil, err
	}
	sc := ghsecret.NewClient(gh, ghsecret.WithMutationInterval(0), ghsecret.WithMaxRetries(2), ghsecret.WithMaxWait(2*w),
		ghsecret.WithBackoff(5*time.Millisecond, 20*time.Millisecond), ghsecret.WithLogger(logger))
	return gc, sc, nil
}

func (e *env) engine(r *run, gc *groo.Client, sc *ghsecret.Client, rec audit.Recorder, hist rotation.WriteHistory) *rotation.Engine {
	r.events.next = rec
	eng := &rotation.Engine{Groo: gc, Secrets: sc, Recorder: r.events, Config: rotation.Config{
		WriteWindow: r.actor.Window, ClockMargin: e.margin, RevokeTries: 2, Logger: r.logger(),
	}}
	if hist != nil {
		eng.History = hist
	}
	return eng
}

func request(cred groo.Token, tool string) rotation.Request {
	return rotation.Request{Target: simTarget, UseCase: simTarget.UseCase(), Credential: cred, TTL: 24 * time.Hour,
		Actor: "sim", Tool: tool}
}

// rotated fills a run from what Rotate returned.
func (r *run) rotated(err error) {
	r.err = err
	r.attemptID = r.events.attemptID()
	var rerr *rotation.Error
	if errors.As(err, &rerr) {
		r.hasRotationErr = true
		r.outcomeUnknown = rerr.OutcomeUnknown
		r.leftLive = rerr.LeftLive
		r.mintUnknown = rerr.MintUnknown
	}
}

// runAction is one stateless run of the Action, minting with cred (the
// token the secret held when the run started).
func (e *env) runAction(ctx context.Context, a Actor, cred groo.Token, credID string) *run {
	r := newRun(a)
	r.credID = credID
	gc, sc, err := e.clients(r.logger(), a.Window)
	if err != nil {
		r.err = err
		return r
	}
	eng := e.engine(r, gc, sc, audit.NewJSONLines(r.out), nil)
	_, err = eng.Rotate(ctx, request(cred, "pat-action"))
	r.rotated(err)
	return r
}

// runDaemon is one rotation by a pat-rotator replica: its lease, the engine
// over the store, the pending revokes it leaves (internal/daemon's
// rotateRunning).
func (e *env) runDaemon(ctx context.Context, a Actor) *run {
	r := newRun(a)
	r.credID = "tok_bot"
	e.mu.Lock()
	e.holders++
	holder := fmt.Sprintf("sim-replica-%d", e.holders)
	e.mu.Unlock()
	gc, sc, err := e.clients(r.logger(), a.Window)
	if err != nil {
		r.err = err
		return r
	}
	e.mu.Lock()
	if e.shared == nil {
		e.shared = rotation.NewSharedList(gc, a.Window/2, nil)
	}
	shared := e.shared
	e.mu.Unlock()
	useCase := simTarget.UseCase()
	lease, err := e.store.AcquireLease(ctx, useCase, holder, a.Window+a.Window/2)
	if err != nil {
		var held *audit.LeaseHeldError
		r.skipped = errors.As(err, &held)
		if !r.skipped {
			r.err = err
		}
		return r
	}
	defer func() { _ = e.store.ReleaseLease(context.WithoutCancel(ctx), lease) }()
	eng := e.engine(r, gc, sc, e.store, e.store)
	req := request(e.bot, "pat-rotator")
	req.KeepCredential = true // the daemon never revokes its own PAT
	req.Shared = shared
	res, err := eng.Rotate(ctx, req)
	r.rotated(err)
	if res != nil {
		for _, id := range res.Pending {
			after, ok := res.RevokeAfter[id]
			if !ok {
				after = res.Written
			}
			if perr := e.store.AddPendingRevoke(context.WithoutCancel(ctx), audit.PendingRevoke{
				TokenID: id, UseCase: useCase, Target: simTarget.String(), RevokeAfter: after,
			}); perr != nil {
				r.err = errors.Join(r.err, perr)
			}
		}
	}
	return r
}

// runPrune is `pat-rotator audit --prune --yes` over the store: the input
// as internal/daemon's AuditInput gathers it, the report, the plan per use
// case and for the orphans (PrunePlan), the revokes (Prune).
func (e *env) runPrune(ctx context.Context, a Actor) *run {
	r := newRun(a)
	gc, sc, err := e.clients(r.logger(), a.Window)
	if err != nil {
		r.err = err
		return r
	}
	in, err := e.auditInput(ctx, gc, sc, r.logger())
	if err != nil {
		r.err = err
		return r
	}
	rep := audit.Build(in)
	keep := func(t groo.TokenInfo) bool { return retire.Matches(t, e.bot) }
	plan := []audit.PruneAction{}
	for _, uc := range rep.UseCases {
		one := rep
		one.UseCases, one.Orphans = []audit.UseCaseReport{uc}, nil
		plan = append(plan, audit.PlanPrune(one, in, 0, keep)...)
	}
	orphans := rep
	orphans.UseCases = nil
	plan = append(plan, audit.PlanPrune(orphans, in, 0, keep)...)
	if err := audit.RenderPrunePlan(r.out, plan); err != nil {
		r.err = err
		return r
	}
	revoked, err := prune.Apply(ctx, gc, e.bot, plan)
	r.pruned = revoked
	for _, id := range revoked {
		if derr := e.store.RevokeDone(context.WithoutCancel(ctx), id); derr != nil {
			err = errors.Join(err, derr)
		}
	}
	r.err = err
	return r
}

func (e *env) auditInput(ctx context.Context, gc *groo.Client, sc *ghsecret.Client, log *slog.Logger) (audit.Input, error) {
	now := time.Now().UTC()
	in := audit.Input{Now: now, ToolNamePrefixes: audit.DefaultToolNamePrefixes}
	me, err := gc.Me(ctx, e.bot)
	if err != nil {
		return in, fmt.Errorf("audit: read the bot's Groo identity: %w", err)
	}
	in.Caller = me.ID
	if in.Tokens, err = gc.List(ctx, e.bot); err != nil {
		return in, fmt.Errorf("audit: list the bot's Groo tokens: %w", err)
	}
	useCase := simTarget.UseCase()
	events, err := e.store.History(ctx, audit.HistoryQuery{UseCase: useCase})
	if err != nil {
		return in, fmt.Errorf("audit: %w", err)
	}
	pending, err := e.store.PendingRevokes(ctx)
	if err != nil {
		return in, fmt.Errorf("audit: %w", err)
	}
	uc := audit.UseCaseInput{UseCase: useCase, Target: simTarget.String(), History: events, PendingRevokes: pending}
	cur, ok, err := e.store.Current(ctx, useCase)
	if err != nil {
		return in, fmt.Errorf("audit: %w", err)
	}
	if ok {
		uc.CurrentTokenID = cur.TokenID
	}
	if md, err := sc.Metadata(ctx, simTarget); err == nil {
		uc.Secret = &md
	} else {
		log.Warn("audit: could not read the secret's metadata", "target", simTarget.String(), "error", err.Error())
	}
	in.UseCases = []audit.UseCaseInput{uc}
	return in, nil
}

// prefixLen is the length of a Groo token's "groo_pat_" prefix.
const prefixLen = len(groo.Prefix)
