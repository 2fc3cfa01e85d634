package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/groo/pat-action/internal/safetext"
)

// Claimer decides which replica sends a notification: Claim returns true to
// one caller per key at a time (the daemon backs it with its store, e.g. an
// insert that fails on a duplicate key). An error leaves the notification
// unsent and unclaimed; the next Observe tries again. Done tells it the
// claimed notification is final (delivered, refused, or not to be sent):
// until then a claim whose claimer died may be won by another (the daemon's
// store gives it to the next claimer once the holder's process is gone), so
// that a notification in flight when its sender was killed is sent again,
// by the restart or another replica, rather than lost. After Done the key
// is never won again.
type Claimer interface {
	Claim(ctx context.Context, key string) (bool, error)
	Done(ctx context.Context, key string) error
}

// MemoryClaimer is a Claimer for one process (or several Notifiers sharing
// it in a test). It forgets nothing; keys are per occurrence of a condition.
type MemoryClaimer struct {
	mu   sync.Mutex
	keys map[string]bool
}

var _ Claimer = (*MemoryClaimer)(nil)

// NewMemoryClaimer returns an empty MemoryClaimer.
func NewMemoryClaimer() *MemoryClaimer { return &MemoryClaimer{keys: map[string]bool{}} }

// Claim returns true the first time it sees key.
func (m *MemoryClaimer) Claim(_ context.Context, key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys[key] {
		return false, nil
	}
	m.keys[key] = true
	return true, nil
}

// Done does nothing: a MemoryClaimer's claimers share its process, and
// none of them outlives it to take a claim over.
func (m *MemoryClaimer) Done(context.Context, string) error { return nil }

// Options configure a Notifier. Only Settings is required.
type Options struct {
	Settings Settings
	// Claimer: nil is a MemoryClaimer of this Notifier's own.
	Claimer Claimer
	// Logger: nil is slog.Default(). It is wrapped in safetext.NewHandler.
	Logger *slog.Logger
	// HTTPClient: nil is a client with Timeout. Redirects are never followed.
	HTTPClient *http.Client
	Timeout    time.Duration // per POST, default 10s (only for the default client)
	// Now and Sleep are the clock; nil is time.Now and a timer that ends
	// early when ctx does.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// QueueSize bounds the notifications waiting for the sender (default
	// 64). Past it, Observe leaves them for its next call.
	QueueSize int
	// Attempts is how many POSTs one delivery round makes to a webhook
	// before it gives up until later (default 5), sleeping a capped
	// exponential backoff with jitter in between (BaseBackoff 1s doubling up
	// to MaxBackoff 30s; a 429's Retry-After up to MaxBackoff).
	Attempts    int
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// RetryLater is how long after a failed round Observe may start the next
	// one (default 1m), doubling per failed round up to 1h.
	RetryLater time.Duration
}

// hookState is one notification's state towards one webhook.
type hookState int

const (
	hookPending   hookState = iota // to be sent
	hookDone                       // delivered (2xx)
	hookRejected                   // a final refusal (4xx but 429, 3xx): never retried
	hookCancelled                  // not sent, and never to be: the condition cleared first
)

type claimState int

const (
	claimUnknown claimState = iota
	claimMine
	claimTheirs
)

// note is one notification: a condition's alarm or its recovery.
type note struct {
	event     Kind
	cond      Condition
	key       string    // the claim key
	at        time.Time // when observed
	claim     claimState
	hooks     []hookState
	queued    bool
	cleared   bool  // an alarm whose condition went away
	alarm     *note // for a recovery: the alarm it follows
	rounds    int   // failed delivery rounds
	notBefore time.Time
}

func (n *note) pending() bool {
	for _, h := range n.hooks {
		if h == hookPending {
			return true
		}
	}
	return false
}

// Notifier turns the set of currently-true conditions into notifications:
// each condition once while it holds, a recovery once when it clears. It is
// safe for concurrent use; Observe never waits for a webhook.
type Notifier struct {
	o     Options
	hooks []Webhook
	log   *slog.Logger

	mu     sync.Mutex
	active map[string]*note // alarms by Condition.Key
	// gens counts, per occurrence (claimKey of the alarm), the recoveries
	// created, so that a condition which clears and comes back with the
	// same Since is a new claim ("#2") on every replica that saw it clear.
	gens    map[string]int
	recover []*note // recoveries not yet final
	closed  bool
	full    bool // the queue was full at the last Observe (logged once)

	queue  chan *note
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// New validates o.Settings and starts the Notifier's sender goroutine; Close
// stops it.
func New(o Options) (*Notifier, error) {
	if err := o.Settings.Validate(); err != nil {
		return nil, err
	}
	o.Settings = o.Settings.WithDefaults()
	if o.Claimer == nil {
		o.Claimer = NewMemoryClaimer()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: o.Timeout}
	}
	c := *o.HTTPClient
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	o.HTTPClient = &c
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 64
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.RetryLater <= 0 {
		o.RetryLater = time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Notifier{
		o: o, hooks: o.Settings.Webhooks,
		log:    slog.New(safetext.NewHandler(o.Logger.Handler())).With("component", "notify"),
		active: map[string]*note{}, gens: map[string]int{}, queue: make(chan *note, o.QueueSize),
		ctx: ctx, cancel: cancel, done: make(chan struct{}),
	}
	go n.run()
	return n, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Observe takes every condition true at now (the whole set, after every
// rotation, sweep or tick) and diffs it against the last set: a new Key is
// notified once; a Key that is gone is followed by one Recovered if its alarm
// was sent (by this replica or, per the Claimer, another); a Key still there
// changes nothing (a changed Message is not sent again). Notifications whose
// delivery failed are queued again here, no sooner than RetryLater after the
// failure. Observe never blocks on a webhook; after Close it does nothing.
func (n *Notifier) Observe(ctx context.Context, now time.Time, conditions []Condition) {
	_ = ctx // claims and sends run on the sender's context, not the caller's
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed || len(n.hooks) == 0 {
		return
	}
	present := make(map[string]bool, len(conditions))
	for _, c := range conditions {
		k := c.Key()
		present[k] = true
		if _, ok := n.active[k]; ok {
			continue
		}
		n.active[k] = &note{event: c.Kind, cond: c, key: n.genKey(c.Kind, c), at: now, hooks: make([]hookState, len(n.hooks))}
	}
	for k, a := range n.active {
		if present[k] {
			continue
		}
		delete(n.active, k)
		a.cleared = true
		if a.claim == claimUnknown && !a.queued {
			// Never claimed, so never sent by this replica; a replica that
			// did send it sees the clearing too and sends the recovery.
			continue
		}
		r := &note{event: Recovered, cond: a.cond, key: n.genKey(Recovered, a.cond), at: now, alarm: a, hooks: make([]hookState, len(n.hooks))}
		n.gens[claimKey(a.cond.Kind, a.cond)]++
		n.recover = append(n.recover, r)
	}
	waiting := 0
	for _, a := range n.active {
		if !n.enqueueLocked(a, now) {
			waiting++
		}
	}
	keep := n.recover[:0]
	for _, r := range n.recover {
		if r.pending() || r.queued {
			keep = append(keep, r)
			if !n.enqueueLocked(r, now) {
				waiting++
			}
		}
	}
	n.recover = keep
	if waiting > 0 && !n.full {
		n.log.Warn("notification queue full; the rest wait for a later evaluation", "waiting", waiting, "queue", cap(n.queue))
	}
	n.full = waiting > 0
}

// genKey is the claim key of event for c's current occurrence.
func (n *Notifier) genKey(event Kind, c Condition) string {
	k := claimKey(event, c)
	if g := n.gens[claimKey(c.Kind, c)]; g > 0 {
		k += fmt.Sprintf(" #%d", g+1)
	}
	return k
}

// enqueueLocked queues x if it is due; false when the queue had no room.
func (n *Notifier) enqueueLocked(x *note, now time.Time) bool {
	if x.queued || !x.pending() || now.Before(x.notBefore) {
		return true
	}
	select {
	case n.queue <- x:
		x.queued = true
		return true
	default:
		return false
	}
}

// Close stops taking notifications and waits until the queued ones are
// delivered or ctx ends, in which case it abandons them (and interrupts any
// POST and backoff) and returns ctx's error.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		close(n.queue)
	}
	n.mu.Unlock()
	select {
	case <-n.done:
		n.cancel()
		return nil
	case <-ctx.Done():
		n.cancel()
		<-n.done
		return ctx.Err()
	}
}

func (n *Notifier) run() {
	defer close(n.done)
	for x := range n.queue {
		n.deliver(x)
	}
}

// deliver runs on the sender goroutine only, so notes are never delivered
// concurrently; n.mu guards the fields Observe reads.
func (n *Notifier) deliver(x *note) {
	ctx := n.ctx
	if ctx.Err() != nil {
		// Close gave up waiting: leave it (nothing is claimed).
		n.finishRound(x, false)
		return
	}
	n.mu.Lock()
	claim := x.claim
	// An alarm whose condition cleared while it waited, and a recovery
	// whose alarm this replica never claimed, send nothing.
	if (x.alarm == nil && x.cleared) || (x.alarm != nil && x.alarm.claim == claimUnknown) {
		for i, h := range x.hooks {
			if h == hookPending {
				x.hooks[i] = hookCancelled
			}
		}
	}
	pending := x.pending()
	n.mu.Unlock()
	if !pending {
		if claim == claimMine {
			n.claimDone(ctx, x)
		}
		n.finishRound(x, true)
		return
	}
	if claim == claimUnknown {
		cctx, cancel := context.WithTimeout(ctx, n.o.Timeout)
		ok, err := n.o.Claimer.Claim(cctx, x.key)
		cancel()
		if err != nil {
			n.log.Warn("cannot claim the notification; it is tried again later", "event", x.event, "key", x.cond.Key(), "err", err)
			n.finishRound(x, false)
			return
		}
		claim = claimTheirs
		if ok {
			claim = claimMine
		}
		n.mu.Lock()
		x.claim = claim
		if claim == claimTheirs {
			for i, h := range x.hooks {
				if h == hookPending {
					x.hooks[i] = hookCancelled
				}
			}
		}
		n.mu.Unlock()
	}
	if claim == claimTheirs {
		n.finishRound(x, true)
		return
	}
	p := payload(x.event, x.cond, x.at)
	failed := false
	for i, w := range n.hooks {
		n.mu.Lock()
		st := x.hooks[i]
		if x.alarm != nil && x.alarm.claim == claimMine && x.alarm.hooks[i] != hookDone {
			// This replica never delivered the alarm here: no recovery either.
			st, x.hooks[i] = hookCancelled, hookCancelled
		}
		n.mu.Unlock()
		if st != hookPending {
			continue
		}
		res := n.send(ctx, w, p)
		n.mu.Lock()
		x.hooks[i] = res
		n.mu.Unlock()
		if res == hookPending {
			failed = true
		}
	}
	if !failed {
		n.claimDone(ctx, x)
	}
	n.finishRound(x, !failed)
}

// claimDone tells the claimer that x, which this notifier claimed, is
// final: no other claimer may send it from now on.
func (n *Notifier) claimDone(ctx context.Context, x *note) {
	cctx, cancel := context.WithTimeout(ctx, n.o.Timeout)
	defer cancel()
	if err := n.o.Claimer.Done(cctx, x.key); err != nil {
		n.log.Warn("cannot mark the notification sent in the store; should this process die, another may send it again",
			"event", x.event, "key", x.cond.Key(), "err", err)
	}
}

func (n *Notifier) finishRound(x *note, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	x.queued = false
	if ok {
		x.rounds = 0
		return
	}
	d := n.o.RetryLater << min(x.rounds, 6)
	if d > time.Hour || d <= 0 {
		d = time.Hour
	}
	x.rounds++
	x.notBefore = n.o.Now().Add(d)
}

// send makes one delivery round to w and returns the note's new state there.
func (n *Notifier) send(ctx context.Context, w Webhook, p Payload) hookState {
	b, err := body(w.Format, p)
	if err != nil {
		n.log.Error("cannot encode the notification", "webhook", w, "event", p.Event, "err", err)
		return hookRejected
	}
	var last error
	for attempt := 1; attempt <= n.o.Attempts; attempt++ {
		err := post(ctx, n.o.HTTPClient, w, b)
		if err == nil {
			n.log.Info("notification sent", "webhook", w, "event", p.Event, "target", p.Target, "use_case", p.UseCase, "attempt", attempt)
			return hookDone
		}
		last = err
		n.log.Debug("notification attempt failed", "webhook", w, "event", p.Event, "attempt", attempt, "err", err)
		var se *sendError
		if errors.As(err, &se) && !se.retryable {
			n.log.Error("webhook refused the notification; it is not sent again", "webhook", w, "event", p.Event,
				"target", p.Target, "use_case", p.UseCase, "err", err)
			return hookRejected
		}
		if attempt == n.o.Attempts || ctx.Err() != nil {
			break
		}
		d := n.backoff(attempt)
		if se != nil && se.after > d {
			d = min(se.after, n.o.MaxBackoff)
		}
		if n.o.Sleep(ctx, d) != nil {
			break
		}
	}
	n.log.Warn("notification not delivered; it is tried again later", "webhook", w, "event", p.Event,
		"target", p.Target, "use_case", p.UseCase, "attempts", n.o.Attempts, "err", last)
	return hookPending
}

// backoff is the wait after the attempt-th failure: base doubling, capped,
// with jitter in its upper half.
func (n *Notifier) backoff(attempt int) time.Duration {
	d := n.o.BaseBackoff << min(attempt-1, 30)
	if d > n.o.MaxBackoff || d <= 0 {
		d = n.o.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}
