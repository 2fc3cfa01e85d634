package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Chaos kinds: what a request picked by Chaos suffers.
const (
	// ChaosServerError answers 500, 502 or 503 without acting.
	ChaosServerError = "5xx"
	// ChaosRateLimit answers 429 with a short retry-after without acting.
	ChaosRateLimit = "429"
	// ChaosTimeout holds the request longer than the client waits
	// (Chaos.Timeout) before it acts: a client that gives up first leaves
	// it unacted (see Fault's latency).
	ChaosTimeout = "timeout"
	// ChaosDrop acts, then closes the connection without an answer.
	ChaosDrop = "drop"
)

// ChaosKinds lists the chaos kinds, in the order State().ChaosFaults and
// the error messages name them.
var ChaosKinds = []string{ChaosServerError, ChaosRateLimit, ChaosTimeout, ChaosDrop}

// DefaultChaosTimeout is a timeout fault's latency when Chaos.Timeout is
// unset: longer than the Groo client's own per-request timeout
// (groo.DefaultRequestTimeout, 15 s; the emulator imports no client
// package). GitHub's client (ghsecret) sets no timeout of its own: there a
// timeout fault is a stall that only the caller's deadline (a write's
// write window) ends.
const DefaultChaosTimeout = 16 * time.Second

// Chaos makes a seeded random fraction of the Groo and GitHub API requests
// fail, each with one of Kinds picked at random; the admin API and requests
// an explicit Fault matched are left alone. The zero value (Rate 0) is off.
// The random sequence is the seed's, drawn in the order requests arrive:
// with concurrent clients the same seed gives the same mix of faults, not
// the same faulted requests.
type Chaos struct {
	Rate float64 `json:"rate"` // 0..1: the fraction of requests that fail
	Seed uint64  `json:"seed"`
	// Kinds are the faults to draw from (ChaosKinds); empty: all of them.
	Kinds []string `json:"kinds,omitempty"`
	// Timeout is the latency of a timeout fault (DefaultChaosTimeout).
	Timeout time.Duration `json:"timeout,omitempty"`
	// RetryAfter is the retry-after of a 429, in seconds (1).
	RetryAfter int `json:"retry_after,omitempty"`
}

type chaosJSON struct {
	Rate       float64         `json:"rate"`
	Seed       uint64          `json:"seed"`
	Kinds      []string        `json:"kinds,omitempty"`
	Timeout    json.RawMessage `json:"timeout,omitempty"`
	RetryAfter int             `json:"retry_after,omitempty"`
}

// UnmarshalJSON reads timeout as a Go duration string ("16s") or
// nanoseconds.
func (c *Chaos) UnmarshalJSON(b []byte) error {
	var j chaosJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	d, err := parseDurationJSON(j.Timeout)
	if err != nil {
		return fmt.Errorf("chaos timeout: %w", err)
	}
	*c = Chaos{Rate: j.Rate, Seed: j.Seed, Kinds: j.Kinds, Timeout: d, RetryAfter: j.RetryAfter}
	return nil
}

// MarshalJSON writes timeout as a Go duration string.
func (c Chaos) MarshalJSON() ([]byte, error) {
	j := chaosJSON{Rate: c.Rate, Seed: c.Seed, Kinds: c.Kinds, RetryAfter: c.RetryAfter}
	if c.Timeout != 0 {
		j.Timeout, _ = json.Marshal(c.Timeout.String())
	}
	return json.Marshal(j)
}

// check refuses a setting that cannot be applied, naming the fix.
func (c Chaos) check() error {
	var errs []error
	if c.Rate < 0 || c.Rate > 1 || math.IsNaN(c.Rate) {
		errs = append(errs, fmt.Errorf("chaos rate %v is out of range; use a fraction from 0 (off) to 1, e.g. 0.1", c.Rate))
	}
	for _, k := range c.Kinds {
		if !slices.Contains(ChaosKinds, k) {
			errs = append(errs, fmt.Errorf("chaos kind %q is unknown; use %s", k, strings.Join(ChaosKinds, ", ")))
		}
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("chaos timeout %s is negative; leave it out for %s", c.Timeout, DefaultChaosTimeout))
	}
	if c.RetryAfter < 0 {
		errs = append(errs, fmt.Errorf("chaos retry_after %d is negative; use seconds, e.g. 1", c.RetryAfter))
	}
	return errors.Join(errs...)
}

// chaosState is the running chaos: its settings, its random source and the
// faults it injected by kind. Guarded by Emulator.mu.
type chaosState struct {
	c      Chaos
	kinds  []string
	rng    *rand.Rand
	counts map[string]int
}

// SetChaos turns the random faults on (Rate > 0), changes them, or turns
// them off (Rate 0). The counts of injected faults (State().ChaosFaults)
// carry on across settings.
func (e *Emulator) SetChaos(c Chaos) error {
	if err := c.check(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if c.Rate == 0 {
		e.chaos.c, e.chaos.rng = Chaos{}, nil
		return nil
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultChaosTimeout
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = 1
	}
	e.chaos.c = c
	e.chaos.kinds = c.Kinds
	if len(e.chaos.kinds) == 0 {
		e.chaos.kinds = ChaosKinds
	}
	e.chaos.rng = rand.New(rand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15))
	return nil
}

// Chaos returns the chaos in force (Rate 0: off).
func (e *Emulator) Chaos() Chaos {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.chaos.c
}

// drawChaos picks, for one API request no explicit fault matched, whether
// it fails and how. Callers hold e.mu.
func (e *Emulator) drawChaos() (Fault, bool) {
	cs := &e.chaos
	if cs.rng == nil || cs.rng.Float64() >= cs.c.Rate {
		return Fault{}, false
	}
	kind := cs.kinds[cs.rng.IntN(len(cs.kinds))]
	if cs.counts == nil {
		cs.counts = map[string]int{}
	}
	cs.counts[kind]++
	switch kind {
	case ChaosServerError:
		codes := []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}
		return Fault{Status: codes[cs.rng.IntN(len(codes))]}, true
	case ChaosRateLimit:
		return Fault{Status: http.StatusTooManyRequests, RetryAfter: cs.c.RetryAfter}, true
	case ChaosTimeout:
		return Fault{Latency: cs.c.Timeout}, true
	default: // ChaosDrop
		return Fault{Drop: true}, true
	}
}

// chaosCounts copies the injected faults by kind. Callers hold e.mu.
func (e *Emulator) chaosCounts() map[string]int {
	out := map[string]int{}
	for k, v := range e.chaos.counts {
		out[k] = v
	}
	return out
}

// ExpiredHolding is one stretch during which a secret held an expired
// token (ExpiredHoldings), on the emulator's clock.
type ExpiredHolding struct {
	Scope, Name string
	TokenID     string
	From, To    time.Time
}

// ExpiredExposure is, from the journal's history of secret writes, the
// total time secrets held a token past its expiry, up to now: the sum of
// ExpiredHoldings. It needs no polling: the history is exact.
func (e *Emulator) ExpiredExposure() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.expiredExposure()
}

// ExpiredHoldings lists, from the journal's history of secret writes, every
// stretch during which a secret held an expired token, up to now: for each
// secret, the part past the token's expiry of each stretch between a write
// (or seed) and the next write or delete of it (or now). Expiry is on
// Groo's clock and converted with the Groo clock offset in force when the
// token was created. A revoked token is I1's and the monitor's
// (Violations), not listed here; a value that is no Groo token is not
// listed either.
func (e *Emulator) ExpiredHoldings() []ExpiredHolding {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.expiredHoldings()
}

// expiredExposure is ExpiredExposure. Callers hold e.mu.
func (e *Emulator) expiredExposure() time.Duration {
	var total time.Duration
	for _, h := range e.expiredHoldings() {
		total += h.To.Sub(h.From)
	}
	return total
}

// expiredHoldings is ExpiredHoldings. Callers hold e.mu.
func (e *Emulator) expiredHoldings() []ExpiredHolding {
	type holding struct {
		token string
		since time.Time
	}
	var out []ExpiredHolding
	count := func(key string, h holding, until time.Time) {
		t, ok := e.tokenByID[h.token]
		if !ok || t.expiresAt == nil {
			return
		}
		expired := t.expiresAt.Add(-t.offset) // on the emulator's clock
		if from := maxTime(h.since, expired); until.After(from) {
			scope, name, _ := strings.Cut(key, "\x00")
			out = append(out, ExpiredHolding{Scope: scope, Name: name, TokenID: h.token, From: from, To: until})
		}
	}
	held := map[string]holding{} // scope + "\x00" + name
	for _, j := range e.journal {
		switch j.Kind {
		case JournalWrite, JournalSeedWrite, JournalDelete:
		default:
			continue
		}
		key := j.Scope + "\x00" + j.Name
		if h, ok := held[key]; ok {
			count(key, h, j.Time)
			delete(held, key)
		}
		if j.Kind != JournalDelete && j.TokenID != "" {
			held[key] = holding{token: j.TokenID, since: j.Time}
		}
	}
	now := e.now()
	for _, key := range sortedKeys(held) {
		count(key, held[key], now)
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
