// Package emulator is a stateful emulator of the Groo Accounts API
// (docs/groo-api.md) and of GitHub's secrets API (GitHub's REST docs) on one
// http.Handler. pat-emulator, the demo and every end-to-end test talk to it.
//
// It is a test oracle, not a service: it keeps Groo token secrets and the
// decrypted values of GitHub secrets in memory, and its admin API
// (/_emulator/state and friends) hands them out on purpose so that tests can
// check invariants such as I1 "the secret never holds a revoked token". Serve
// it on loopback only.
//
// The emulator stays independent of the rest of the project (it imports no
// other internal package) so that it can judge the client code rather than
// share its mistakes.
//
// Routes are named (groo.me, groo.list, groo.create, groo.revoke, gh.repo,
// gh.org, gh.public-key, gh.secret.get, gh.secret.put, gh.secret.delete,
// gh.secret.list, gh.secret.repos, gh.installation, gh.app.token); faults,
// hit counts and WaitHit use these names.
//
// For simulations (internal/sim) it also runs Groo's clock offset from
// GitHub's (SetGrooClockOffset), takes ordered sequences of faults on one
// route (Fault.Skip), damages Groo's token answers (Fault.Mangle), and keeps
// a journal of every change it made, by token id (Journal). For soak tests
// it fails a seeded random fraction of requests (SetChaos, State().ChaosFaults)
// and measures from the journal how long secrets held expired tokens
// (ExpiredExposure).
package emulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/nacl/box"
)

// Route names, as used by faults, Hits and WaitHit.
const (
	RouteGrooMe        = "groo.me"
	RouteGrooList      = "groo.list"
	RouteGrooCreate    = "groo.create"
	RouteGrooRevoke    = "groo.revoke"
	RouteRepo          = "gh.repo"
	RouteOrg           = "gh.org"
	RoutePublicKey     = "gh.public-key"
	RouteSecretGet     = "gh.secret.get"
	RouteSecretPut     = "gh.secret.put"
	RouteSecretDelete  = "gh.secret.delete"
	RouteSecretList    = "gh.secret.list"
	RouteSecretRepos   = "gh.secret.repos"
	RouteInstallation  = "gh.installation"
	RouteAppToken      = "gh.app.token"
	RouteGrooUnknown   = "groo.unknown"
	RouteGitHubUnknown = "gh.unknown"
	RouteAll           = "*"
)

// Option configures New.
type Option func(*Emulator)

// WithClock sets the emulator's clock (token expiry, timestamps, rate-limit
// windows). Latency faults always sleep in real time.
func WithClock(now func() time.Time) Option { return func(e *Emulator) { e.clock = now } }

// WithGrooClockOffset runs Groo's clock d ahead of the emulator's (behind
// when negative); see SetGrooClockOffset.
func WithGrooClockOffset(d time.Duration) Option {
	return func(e *Emulator) { e.grooOffset.Store(int64(d)) }
}

// WithLogger sets the logger. Token values never reach it.
func WithLogger(l *slog.Logger) Option { return func(e *Emulator) { e.log = l } }

// WithRequestHook calls hook with every request the emulator receives
// (Groo, GitHub and admin alike), before it is handled: a test can validate
// what a client it does not hold sent, such as a built binary run as a
// subprocess (ghconform.Checker.Check fits). body is the request's body, nil
// when it has none; the handler reads it all the same. hook runs on the
// server's goroutines, concurrently, and must not keep r or body.
//
// With a hook, admin requests' bodies are buffered too, under the same 1 MiB
// limit as the APIs' (decoding them applies that limit anyway).
func WithRequestHook(hook func(r *http.Request, body []byte)) Option {
	return func(e *Emulator) { e.hook = hook }
}

// Emulator holds the state of both emulated services. Create it with New.
type Emulator struct {
	clock      func() time.Time
	grooOffset atomic.Int64 // Groo's clock minus the emulator's, in nanoseconds
	log        *slog.Logger
	hook       func(*http.Request, []byte)

	mu sync.Mutex

	// Groo
	users      map[string]*grooUser
	userOrder  []string
	tokens     []*grooToken
	tokenByID  map[string]*grooToken
	tokenBySec map[string]*grooToken

	// GitHub
	ghTokens      map[string]*ghCredential
	repos         map[string]*ghRepo // lowercase "owner/name"
	reposByID     map[int64]*ghRepo
	orgs          map[string]string // lowercase login -> login
	envs          map[string]bool   // scope key "env:owner/name:env"
	apps          map[int64]bool
	installations map[int64]*ghInstallation
	keys          map[string]*scopeKeyPair
	secrets       map[string]map[string]*ghSecret // scope key -> NAME -> secret

	faults     []*faultState
	chaos      chaosState
	limits     RateLimits
	rl         map[string]*rlState
	breaches   int
	violations []string
	hits       map[string]int
	waiters    map[string][]chan struct{}
	journal    []JournalEntry
}

type faultState struct {
	Fault
	left int // remaining hits when Count > 0
	skip int // matching requests still to let pass
}

// New returns an empty emulator. Seed it with Seed.
func New(opts ...Option) *Emulator {
	e := &Emulator{
		clock:         time.Now,
		log:           slog.New(slog.DiscardHandler),
		users:         map[string]*grooUser{},
		tokenByID:     map[string]*grooToken{},
		tokenBySec:    map[string]*grooToken{},
		ghTokens:      map[string]*ghCredential{},
		repos:         map[string]*ghRepo{},
		reposByID:     map[int64]*ghRepo{},
		orgs:          map[string]string{},
		envs:          map[string]bool{},
		apps:          map[int64]bool{},
		installations: map[int64]*ghInstallation{},
		keys:          map[string]*scopeKeyPair{},
		secrets:       map[string]map[string]*ghSecret{},
		rl:            map[string]*rlState{},
		hits:          map[string]int{},
		waiters:       map[string][]chan struct{}{},
	}
	for _, o := range opts {
		o(e)
	}
	return e
}

func (e *Emulator) now() time.Time { return e.clock().UTC() }

// grooNow is Groo's clock: the emulator's plus the Groo clock offset.
func (e *Emulator) grooNow() time.Time { return e.now().Add(e.GrooClockOffset()) }

// SetGrooClockOffset runs Groo's clock d ahead of the emulator's clock
// (behind when d is negative), from now on: tokens' createdAt, expiresAt
// checks, lastUsed, revokedAt and the Date header of Groo's answers. GitHub's
// side (secrets' created_at and updated_at, rate-limit windows, its Date
// header) keeps the emulator's clock. It models two services whose clocks
// disagree; a client must compare Groo's times with Groo's times. The I1
// monitor judges "revoked" by the revoke itself, not by any clock.
func (e *Emulator) SetGrooClockOffset(d time.Duration) { e.grooOffset.Store(int64(d)) }

// GrooClockOffset is Groo's clock minus the emulator's.
func (e *Emulator) GrooClockOffset() time.Duration { return time.Duration(e.grooOffset.Load()) }

// journalAdd appends to the journal. Callers hold e.mu.
func (e *Emulator) journalAdd(j JournalEntry) {
	j.Seq = len(e.journal) + 1
	j.Time = e.now()
	e.journal = append(e.journal, j)
}

// Journal returns every state change the emulator made so far, in order
// (see JournalEntry).
func (e *Emulator) Journal() []JournalEntry {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]JournalEntry(nil), e.journal...)
}

// SetFaults replaces the fault list.
func (e *Emulator) SetFaults(f []Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = nil
	for _, x := range f {
		e.faults = append(e.faults, &faultState{Fault: x, left: x.Count, skip: x.Skip})
	}
}

// SetRateLimits replaces the rate limits and resets their counters.
func (e *Emulator) SetRateLimits(r RateLimits) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.limits = r
	e.rl = map[string]*rlState{}
}

// Violations returns the I1 breaches observed so far.
func (e *Emulator) Violations() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.violations...)
}

// Hits returns how many requests of the named route arrived ("*": all).
func (e *Emulator) Hits(route string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if route == RouteAll {
		n := 0
		for _, v := range e.hits {
			n += v
		}
		return n
	}
	return e.hits[route]
}

// WaitHit returns a channel closed when the next request of the named route
// ("*": any route) arrives, before it is handled.
func (e *Emulator) WaitHit(route string) <-chan struct{} {
	ch := make(chan struct{})
	e.mu.Lock()
	defer e.mu.Unlock()
	e.waiters[route] = append(e.waiters[route], ch)
	return ch
}

func (e *Emulator) recordHit(route string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.hits[route]++
	for _, name := range []string{route, RouteAll} {
		for _, ch := range e.waiters[name] {
			close(ch)
		}
		delete(e.waiters, name)
	}
}

// PublicKey returns the current key of a scope ("repo:octo/app", "org:octo",
// ...), creating it if the scope has none yet. A scope of an unknown
// repository or organization gets a key all the same.
func (e *Emulator) PublicKey(scopeKey string) (keyID string, key [32]byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ref, err := e.parseScopeKey(scopeKey); err == nil {
		scopeKey = ref.key
	}
	kp := e.keyFor(scopeKey)
	return kp.id, kp.pub
}

// RotateKey gives the scope a new key pair and key_id; values sealed for the
// old key are refused from now on (422), as GitHub does.
func (e *Emulator) RotateKey(scopeKey string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	ref, err := e.parseScopeKey(scopeKey)
	if err != nil {
		return fmt.Errorf("rotate key: %w", err)
	}
	kp, err := newKeyPair()
	if err != nil {
		return fmt.Errorf("rotate key of %s: %w", scopeKey, err)
	}
	e.keys[ref.key] = kp
	return nil
}

type scopeKeyPair struct {
	id   string
	pub  [32]byte
	priv [32]byte
}

func newKeyPair() (*scopeKeyPair, error) {
	pub, priv, err := box.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	// GitHub's key ids look like "568250167242549743".
	n, err := rand.Int(rand.Reader, big.NewInt(9e17))
	if err != nil {
		return nil, err
	}
	return &scopeKeyPair{id: n.Add(n, big.NewInt(1e17)).String(), pub: *pub, priv: *priv}, nil
}

// keyFor returns the scope's key pair, creating it. Callers hold e.mu.
func (e *Emulator) keyFor(scopeKey string) *scopeKeyPair {
	kp, ok := e.keys[scopeKey]
	if !ok {
		var err error
		kp, err = newKeyPair()
		if err != nil {
			panic(fmt.Sprintf("emulator: generate key pair: %v", err)) // crypto/rand does not fail
		}
		e.keys[scopeKey] = kp
	}
	return kp
}

func randomHex(nbytes int) string {
	b := make([]byte, nbytes)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("emulator: crypto/rand: %v", err))
	}
	return hex.EncodeToString(b)
}

// State returns a snapshot of everything the emulator holds.
func (e *Emulator) State() State {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := State{
		Now:               e.now(),
		GrooNow:           e.grooNow(),
		Tokens:            []TokenState{},
		Secrets:           []SecretState{},
		Violations:        append([]string{}, e.violations...),
		Hits:              map[string]int{},
		RateLimitBreaches: e.breaches,
		ChaosFaults:       e.chaosCounts(),
		ExpiredExposure:   e.expiredExposure().Seconds(),
	}
	for k, v := range e.hits {
		st.Hits[k] = v
	}
	for _, t := range e.tokens {
		st.Tokens = append(st.Tokens, TokenState{
			ID: t.id, Name: t.name, Description: copyStr(t.description), Secret: t.secret, Revoked: t.revoked,
			RevokedAt: copyTime(t.revokedAt), ExpiresAt: copyTime(t.expiresAt), LastUsed: copyTime(t.lastUsed),
			CreatedAt: t.createdAt, User: t.user,
		})
	}
	for scope, m := range e.secrets {
		for _, s := range m {
			st.Secrets = append(st.Secrets, SecretState{
				Scope: scope, Name: s.name, Value: s.value, Visibility: s.visibility,
				SelectedRepositoryIDs: append([]int64(nil), s.selected...), CreatedAt: s.created, UpdatedAt: s.updated,
				KeyID: s.keyID, Writes: s.writes,
			})
		}
	}
	sort.Slice(st.Secrets, func(i, j int) bool {
		a, b := st.Secrets[i], st.Secrets[j]
		if a.Scope != b.Scope {
			return a.Scope < b.Scope
		}
		return a.Name < b.Name
	})
	return st
}

func copyStr(p *string) *string {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func copyTime(p *time.Time) *time.Time {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// ServeHTTP serves the Groo API under /v1/, the admin API under /_emulator/
// and GitHub's API under / and /api/v3/. Absolute-form requests (a client
// using the emulator as its HTTP proxy) are served by path.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	ghPrefix := ""
	if strings.HasPrefix(path, "/api/v3/") || path == "/api/v3" {
		ghPrefix = "/api/v3"
		path = strings.TrimPrefix(path, "/api/v3")
	}
	if !strings.HasPrefix(path, "/_emulator/") || e.hook != nil {
		body, ok := bufferBody(w, r)
		if !ok {
			return
		}
		if e.hook != nil {
			e.hook(r, body)
			if body != nil {
				r.Body = io.NopCloser(bytes.NewReader(body)) // whatever the hook did to r.Body
			}
		}
	}
	switch {
	case strings.HasPrefix(path, "/_emulator/"):
		e.serveAdmin(w, r, strings.TrimPrefix(path, "/_emulator/"))
	case ghPrefix == "" && (path == "/v1" || strings.HasPrefix(path, "/v1/")):
		e.serveGroo(w, r, path)
	default:
		e.serveGitHub(w, r, path, ghPrefix)
	}
}

// bufferBody reads the request body up front: net/http notices that a client
// went away (and cancels r.Context()) only once the body is consumed, and
// latency faults must end early when the client gives up. It returns the
// body (nil when there is none) and false when it answered the request.
func bufferBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "request body: "+err.Error(), http.StatusRequestEntityTooLarge)
		return nil, false
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, true
}

// takeFaults consumes the faults matching one request and merges them:
// latencies add up, the first status wins, any drop drops, mangles combine.
// A fault still skipping lets the request pass and counts it. A request no
// fault matched may draw one from the chaos (SetChaos).
func (e *Emulator) takeFaults(route, scope string) (f Fault, matched bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	kept := e.faults[:0]
	for _, fs := range e.faults {
		match := (fs.Route == RouteAll || fs.Route == route) && (fs.Scope == "" || fs.Scope == scope)
		if match && fs.skip > 0 {
			fs.skip--
			match = false
		}
		if match {
			matched = true
			f.Latency += fs.Latency
			if f.Status == 0 && fs.Status != 0 {
				f.Status, f.RetryAfter, f.Message = fs.Status, fs.RetryAfter, fs.Message
			}
			f.Drop = f.Drop || fs.Drop
			f.Queued = f.Queued || fs.Queued
			if fs.Mangle != "" {
				if f.Mangle != "" {
					f.Mangle += ","
				}
				f.Mangle += fs.Mangle
			}
			if fs.Count > 0 {
				fs.left--
				if fs.left <= 0 {
					continue
				}
			}
		}
		kept = append(kept, fs)
	}
	for i := len(kept); i < len(e.faults); i++ {
		e.faults[i] = nil
	}
	e.faults = kept
	if !matched {
		f, matched = e.drawChaos()
	}
	return f, matched
}

// sleep waits d or until ctx ends; it reports whether the full time passed
// with ctx still alive (a client that went away at the very end of the
// latency gets nothing done either).
// latency waits out f's latency for r: false when the client went away
// first and the request must not act (unless it is queued).
func latency(r *http.Request, f Fault) bool {
	ctx := r.Context()
	if f.Queued {
		ctx = context.WithoutCancel(ctx)
	}
	return sleep(ctx, f.Latency)
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return ctx.Err() == nil
	case <-ctx.Done():
		return false
	}
}

// discardWriter swallows the answer of a dropped request.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header {
	if d.h == nil {
		d.h = http.Header{}
	}
	return d.h
}
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// drop runs handle for its effects, then closes the connection without an
// answer: the client cannot know what happened.
func drop(w http.ResponseWriter, r *http.Request, handle func(http.ResponseWriter)) {
	handle(&discardWriter{})
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	// Not hijackable (HTTP/2): aborting the handler resets the stream.
	panic(http.ErrAbortHandler)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// decodeJSON reads a JSON body strictly enough for the emulator's purposes.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		return err
	}
	return nil
}

// errNotFound marks unknown repositories, organizations and scopes.
var errNotFound = errors.New("not found")
