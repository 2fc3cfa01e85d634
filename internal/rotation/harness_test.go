package rotation_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/emulator"
	"github.com/groo/pat-action/internal/emulator/emulatortest"
	"github.com/groo/pat-action/internal/ghconform"
	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/rotation"
	"github.com/groo/pat-action/internal/testkit"
)

// Test timing: a write window short enough that a second run can settle
// what the first left without the suite waiting minutes, and long enough
// that a loaded machine (the race detector, parallel packages) still writes
// within it.
const (
	testWindow = 1500 * time.Millisecond
	testMargin = 50 * time.Millisecond
	ghToken    = "ghs_rotationtest0000000000000000000000"
)

// memRecorder keeps audit events in memory, latest per attempt id.
type memRecorder struct {
	mu     sync.Mutex
	events []audit.Event
	fail   bool
}

func (m *memRecorder) Record(_ context.Context, e audit.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errRecorderDown
	}
	m.events = append(m.events, e)
	return nil
}

var _ audit.Recorder = (*memRecorder)(nil)

type recorderErr string

func (e recorderErr) Error() string { return string(e) }

const errRecorderDown = recorderErr("audit store unavailable")

func (m *memRecorder) all() []audit.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]audit.Event(nil), m.events...)
}

type fixture struct {
	emu     *emulator.Emulator
	url     string
	cred    groo.Token
	seedID  string
	target  ghsecret.Target
	useCase string
	rec     *memRecorder
	logs    *testkit.Buffer
	// transport checks every GitHub request against GitHub's OpenAPI
	// description; shared by the fixture's engines.
	transport http.RoundTripper
	// shift moves both services' clock (the emulator's) ahead of real
	// time: the retire rule reads Groo's clock, so a test that lets time
	// pass moves that one, not only the engine's.
	shift *atomic.Int64
}

// now is the emulator's clock: real time plus the fixture's shift.
func (f *fixture) now() time.Time { return time.Now().Add(time.Duration(f.shift.Load())) }

// advance moves the emulator's clock (and engines using f.now) by d.
func (f *fixture) advance(d time.Duration) { f.shift.Add(int64(d)) }

type fixtureOpts struct {
	target ghsecret.Target
	// noSecret leaves the secret unwritten, so the first rotation creates it.
	noSecret bool
	// noConformance is for tests that must make no GitHub request at all
	// (the checker fails a test through which no request went).
	noConformance bool
}

func defaultTarget() ghsecret.Target {
	return ghsecret.Target{Scope: ghsecret.ScopeRepository, Owner: "octo", Repo: "app", Name: "GROO_PAT"}
}

// newFixture seeds an emulator with a bootstrap token of the use case that
// the secret already holds: the state every rotation starts from.
func newFixture(t testing.TB, o fixtureOpts) *fixture {
	t.Helper()
	if o.target.Scope == "" {
		o.target = defaultTarget()
	}
	secret := testkit.PAT(t)
	created := time.Now().Add(-time.Hour).UTC()
	useCase := o.target.UseCase()
	var secrets []emulator.SeedSecret
	if !o.noSecret {
		secrets = []emulator.SeedSecret{{Scope: o.target.Key(), Name: o.target.Name, Value: secret}}
	}
	shift := &atomic.Int64{}
	emu, url := emulatortest.NewServer(t, emulator.Seed{
		Groo: emulator.GrooSeed{Tokens: []emulator.SeedToken{{ID: "tok_seed", Name: useCase, Secret: secret, CreatedAt: &created}}},
		GitHub: emulator.GitHubSeed{
			Tokens:       []string{ghToken},
			Repositories: []string{"octo/app", "octo/docs"},
			Environments: []string{"octo/app:prod/eu"},
			Secrets:      secrets,
		},
	}, emulator.WithClock(func() time.Time { return time.Now().Add(time.Duration(shift.Load())) }))
	cred, err := groo.ParseToken(secret)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{emu: emu, url: url, cred: cred, seedID: "tok_seed", target: o.target, useCase: useCase,
		rec: &memRecorder{}, logs: &testkit.Buffer{}, transport: http.DefaultTransport, shift: shift}
	if tt, ok := t.(*testing.T); ok && !o.noConformance {
		f.transport = ghconform.New(tt, http.DefaultTransport)
	}
	return f
}

// engine builds an Engine with its own clients, as a separate process would.
func (f *fixture) engine(t testing.TB, timeout time.Duration) *rotation.Engine {
	t.Helper()
	return f.engineVia(t, timeout, f.transport)
}

// engineVia is engine with its GitHub requests sent through transport.
func (f *fixture) engineVia(t testing.TB, timeout time.Duration, transport http.RoundTripper) *rotation.Engine {
	t.Helper()
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	logger := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	gc, err := groo.New(groo.WithBaseURL(f.url), groo.WithRetry(3, 5*time.Millisecond, 20*time.Millisecond),
		groo.WithRequestTimeout(timeout), groo.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: transport, Timeout: timeout}
	gh, err := github.NewClient(hc).WithAuthToken(ghToken).WithEnterpriseURLs(f.url+"/", f.url+"/")
	if err != nil {
		t.Fatal(err)
	}
	sc := ghsecret.NewClient(gh, ghsecret.WithMutationInterval(0), ghsecret.WithMaxRetries(2),
		ghsecret.WithMaxWait(3*time.Second), ghsecret.WithBackoff(5*time.Millisecond, 20*time.Millisecond), ghsecret.WithLogger(logger))
	return &rotation.Engine{Groo: gc, Secrets: sc, Recorder: f.rec, Config: rotation.Config{
		WriteWindow: testWindow, ClockMargin: testMargin, RevokeTries: 2, Logger: logger,
	}}
}

func (f *fixture) request() rotation.Request {
	return rotation.Request{Target: f.target, Credential: f.cred, TTL: 24 * time.Hour, Actor: "test", Tool: "pat-action"}
}

// requestFromSecret is what the next scheduled run does: it mints with the
// token the secret holds now (groo-token: ${{ secrets.GROO_PAT }}).
func (f *fixture) requestFromSecret(t testing.TB) rotation.Request {
	t.Helper()
	req := f.request()
	sec, ok := f.emu.State().Secret(f.target.Key(), f.target.Name)
	if !ok {
		t.Fatalf("secret %s missing", f.target)
	}
	req.Credential = mustToken(t, sec.Value)
	return req
}

// checkI1 asserts the secret holds a live token of the use case and that the
// emulator never saw a revoked token in a secret (its monitor, "throughout").
func (f *fixture) checkI1(t testing.TB) emulator.State {
	t.Helper()
	st := f.emu.State()
	if len(st.Violations) > 0 {
		t.Errorf("I1 violated during the run: %v", st.Violations)
	}
	sec, ok := st.Secret(f.target.Key(), f.target.Name)
	if !ok {
		t.Fatalf("I1: secret %s missing", f.target)
	}
	tok, ok := st.TokenBySecret(sec.Value)
	if !ok {
		t.Fatalf("I1: secret %s holds a value that is no Groo token", f.target)
	}
	if !tok.Live(st.Now) {
		t.Errorf("I1: secret %s holds token %s, which is not live (revoked=%v)", f.target, tok.ID, tok.Revoked)
	}
	if tok.Name != f.useCase {
		t.Errorf("secret holds token %s named %q, want %q", tok.ID, tok.Name, f.useCase)
	}
	return st
}

// checkI2 asserts every revoked token of the use case is older than the token
// in the secret, or is a new token that never reached the secret.
func (f *fixture) checkI2(t testing.TB, st emulator.State, writtenIDs map[string]bool) {
	t.Helper()
	sec, _ := st.Secret(f.target.Key(), f.target.Name)
	holder, _ := st.TokenBySecret(sec.Value)
	for _, tok := range st.Tokens {
		if tok.Name != f.useCase || !tok.Revoked {
			continue
		}
		if tok.ID == holder.ID {
			t.Errorf("I2: token %s revoked while in the secret", tok.ID)
			continue
		}
		if writtenIDs[tok.ID] && !tok.CreatedAt.Before(holder.CreatedAt) {
			t.Errorf("I2: token %s was written and revoked, but the secret holds an older token %s", tok.ID, holder.ID)
		}
	}
}

// checkI3 asserts exactly one live token bears the use-case name: the one in the secret.
func (f *fixture) checkI3(t testing.TB) {
	t.Helper()
	st := f.checkI1(t)
	live := st.LiveTokens(f.useCase)
	sec, _ := st.Secret(f.target.Key(), f.target.Name)
	if len(live) != 1 || live[0].Secret != sec.Value {
		ids := []string{}
		for _, l := range live {
			ids = append(ids, l.ID)
		}
		t.Errorf("I3: want exactly the secret's token live, got %d live: %v", len(live), ids)
	}
}

// checkI5 asserts that no token value reached the logs, the error or the audit.
func (f *fixture) checkI5(t testing.TB, extra ...string) {
	t.Helper()
	st := f.emu.State()
	events, _ := json.Marshal(f.rec.all())
	hay := []string{f.logs.String(), string(events)}
	hay = append(hay, extra...)
	for _, tok := range st.Tokens {
		for _, h := range hay {
			if strings.Contains(h, tok.Secret) || strings.Contains(h, tok.Secret[len(groo.Prefix):]) {
				t.Errorf("I5: the value of token %s leaked into logs, an error or the audit", tok.ID)
			}
		}
	}
}

// checkI7 asserts the attempt left a started and a final event.
func (f *fixture) checkI7(t testing.TB, wantFinal audit.Outcome) {
	t.Helper()
	byID := map[string][]audit.Outcome{}
	for _, e := range f.rec.all() {
		byID[e.ID] = append(byID[e.ID], e.Outcome)
	}
	if len(byID) == 0 {
		t.Fatal("I7: no audit event recorded")
	}
	for id, outs := range byID {
		if outs[0] != audit.OutcomeStarted || outs[len(outs)-1] == audit.OutcomeStarted {
			t.Errorf("I7: attempt %s recorded %v, want started then a final outcome", id, outs)
		}
	}
	if wantFinal != "" {
		last := f.rec.all()
		if got := last[len(last)-1].Outcome; got != wantFinal {
			t.Errorf("I7: final outcome %s, want %s", got, wantFinal)
		}
	}
}
