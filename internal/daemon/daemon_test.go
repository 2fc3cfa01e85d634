package daemon

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/config"
	"github.com/groo/pat-action/internal/emulator"
	"github.com/groo/pat-action/internal/emulator/emulatortest"
	"github.com/groo/pat-action/internal/ghconform"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/testkit"
)

// fleet is an emulator seeded for a set of targets, with the credentials
// and a configuration pointing at it.
type fleet struct {
	emu     *emulator.Emulator
	url     string
	botPAT  string
	ghToken string
	env     map[string]string
	secrets []string // every token value seeded, for leak checks
	dir     string
}

func (f *fleet) getenv(k string) string { return f.env[k] }

// newFleet seeds repositories octo/r0..r(n-1) (plus octo/app and its
// environment prod/eu), a bot PAT, and for each use case in bootstrap a live
// token created an hour ago.
func newFleet(t testing.TB, repos int, bootstrap []string) *fleet {
	t.Helper()
	return newFleetBot(t, repos, bootstrap, "pat-rotator bot")
}

// newFleetBot is newFleet with the bot PAT's token name.
func newFleetBot(t testing.TB, repos int, bootstrap []string, botName string) *fleet {
	t.Helper()
	f := &fleet{botPAT: randomPAT(), ghToken: "ghs_" + randomHex(18), dir: t.TempDir()}
	f.env = map[string]string{"TEST_GROO_PAT": f.botPAT, "TEST_GITHUB_TOKEN": f.ghToken}
	f.secrets = []string{f.botPAT, f.ghToken}
	hourAgo := time.Now().Add(-time.Hour)
	expires := time.Now().Add(30 * 24 * time.Hour)
	seed := emulator.Seed{
		Groo: emulator.GrooSeed{Tokens: []emulator.SeedToken{{Name: botName, Secret: f.botPAT, CreatedAt: &hourAgo}}},
		GitHub: emulator.GitHubSeed{
			Tokens:       []string{f.ghToken},
			Repositories: []string{"octo/app"},
			Environments: []string{"octo/app:prod/eu"},
		},
	}
	for i := range repos {
		seed.GitHub.Repositories = append(seed.GitHub.Repositories, fmt.Sprintf("octo/r%d", i))
	}
	for _, uc := range bootstrap {
		s := randomPAT()
		f.secrets = append(f.secrets, s)
		seed.Groo.Tokens = append(seed.Groo.Tokens, emulator.SeedToken{Name: uc, Secret: s, CreatedAt: &hourAgo, ExpiresAt: &expires})
	}
	f.emu, f.url = emulatortest.NewServer(t, seed)
	return f
}

// conforming is the daemon's base transport in tests (Options.Transport,
// under both API clients): every GitHub request is checked against GitHub's
// OpenAPI description, Groo's pass unchecked, and the test fails at its end
// on a request that does not conform or, unless opts allow it, when no
// GitHub request was made. Benchmarks are not checked.
func conforming(t testing.TB, opts ...ghconform.Option) http.RoundTripper {
	t.Helper()
	if tt, ok := t.(*testing.T); ok {
		return ghconform.New(tt, http.DefaultTransport, opts...)
	}
	return http.DefaultTransport
}

// config writes a configuration for the fleet with the given extra YAML
// (rotation/daemon sections and targets) and loads it.
func (f *fleet) config(t testing.TB, extra string) *config.Config {
	t.Helper()
	return f.configStore(t, "sqlite://"+filepath.Join(f.dir, "state.db"), extra)
}

// configStore is config with the given store DSN.
func (f *fleet) configStore(t testing.TB, store, extra string) *config.Config {
	t.Helper()
	src := fmt.Sprintf("groo: {api-url: %q, token-env: TEST_GROO_PAT}\ngithub: {api-url: %q, token-env: TEST_GITHUB_TOKEN, mutation-interval: 10ms}\nstore: %s\nlisten: \"\"\n%s",
		f.url, f.url, store, extra)
	cfg, err := config.Parse(filepath.Join(f.dir, "rotator.yaml"), []byte(src), f.getenv)
	if err != nil {
		t.Fatalf("config:\n%v", err)
	}
	return cfg
}

// assertNoSecrets checks that no token value reached a log, an output or
// the store's files (I5).
func assertNoSecrets(t *testing.T, f *fleet, st emulator.State, texts map[string]string) {
	t.Helper()
	testkit.NoTokenValues(t, append(st.TokenValues(), f.secrets...), texts, filepath.Join(f.dir, "state.db*"))
}

// The daemon against the emulator: three targets on @every 1s over several
// cycles. After each rotation (while its target cannot start another) the
// invariants are checked on the emulator; at the end, the store and /metrics.
func TestDaemonRotatesOnScheduleKeepingInvariants(t *testing.T) {
	t.Parallel()
	useCases := []string{"GitHub Actions - octo/app GROO_PAT", "GitHub Actions - octo/app env:prod/eu GROO_PAT", "GitHub Actions - org octo GROO_PAT"}
	f := newFleet(t, 0, useCases)
	cfg := f.config(t, `defaults: {schedule: "@every 1s", ttl: 1h, revoke-grace: 0s, jitter: 0s}
rotation: {write-window: 2s, clock-margin: 100ms}
daemon: {lease-margin: 1s, sweep-interval: 200ms}
targets:
  - repository: octo/app
  - {repository: octo/app, environment: prod/eu}
  - {organization: octo, visibility: selected, selected-repositories: [app]}
`)
	const cycles = 3
	var (
		mu        sync.Mutex
		succeeded = map[string]int{}
		attempts  []string
		problems  []string
		enough    = make(chan struct{})
		closeOnce sync.Once
	)
	logs := &testkit.Buffer{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(context.Background(), cfg, Options{
		Logger:    slog.New(slog.NewJSONHandler(logs, nil)),
		Getenv:    f.getenv,
		Transport: conforming(t),
		Listener:  ln,
		OnResult: func(tr TargetResult) {
			// The target is still marked running: its use case is settled.
			st := f.emu.State()
			mu.Lock()
			defer mu.Unlock()
			if tr.Skipped {
				problems = append(problems, "skipped: "+tr.Err.Error())
				return
			}
			if tr.Err != nil {
				problems = append(problems, "failed: "+tr.Err.Error())
			}
			if tr.Result != nil {
				attempts = append(attempts, tr.Result.AttemptID)
			}
			if _, err := checkInvariants(st, []*config.TargetConfig{tr.Target}); err != nil {
				problems = append(problems, fmt.Sprintf("after rotation %d of %s: %v", succeeded[tr.Target.Name]+1, tr.Target.Name, err))
			}
			if len(st.Violations) > 0 {
				problems = append(problems, "violations: "+strings.Join(st.Violations, "; "))
			}
			succeeded[tr.Target.Name]++
			done := true
			for _, tc := range cfg.Targets {
				if succeeded[tc.Name] < cycles {
					done = false
				}
			}
			if done {
				closeOnce.Do(func() { close(enough) })
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- d.Run(ctx) }()
	base := "http://" + ln.Addr().String()

	select {
	case <-enough:
	case err := <-runErr:
		t.Fatalf("Run returned early: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatalf("not %d cycles within a minute; succeeded %v; logs:\n%s", cycles, succeeded, logs.String())
	}

	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", path, resp.StatusCode)
		}
	}
	mu.Lock()
	attemptsBeforeScrape := len(attempts)
	mu.Unlock()
	metrics := scrape(t, base+"/metrics")

	cancel()
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
	total := 0
	for _, n := range succeeded {
		total += n
	}
	for _, uc := range useCases {
		ok := fmt.Sprintf(`pat_rotator_rotations_total{outcome="succeeded",use_case=%q}`, uc)
		if got := metrics.value(t, ok); got < cycles {
			t.Errorf(`%s = %v, want >= %d`, ok, got, cycles)
		}
		failed := fmt.Sprintf(`pat_rotator_rotations_total{outcome="failed",use_case=%q}`, uc)
		if got := metrics.value(t, failed); got != 0 {
			t.Errorf(`%s = %v, want 0`, failed, got)
		}
	}
	if got := metrics.value(t, `pat_rotator_rotation_duration_seconds_count`); got < float64(len(cfg.Targets)*cycles) {
		t.Errorf("pat_rotator_rotation_duration_seconds_count = %v", got)
	}
	if got := metrics.value(t, `pat_rotator_pending_revokes`); got != 0 {
		t.Errorf("pat_rotator_pending_revokes = %v, want 0 (grace 0)", got)
	}
	now := float64(time.Now().Unix())
	for _, uc := range useCases {
		exp := metrics.value(t, fmt.Sprintf(`pat_rotator_token_expiry_timestamp_seconds{use_case=%q}`, uc))
		if exp < now+3500 || exp > now+3700 {
			t.Errorf("token expiry of %q = %v, want about now + 1h", uc, exp)
		}
		last := metrics.value(t, fmt.Sprintf(`pat_rotator_last_success_timestamp_seconds{use_case=%q}`, uc))
		if last < now-60 || last > now+1 {
			t.Errorf("last success of %q = %v, want about now", uc, last)
		}
	}
	for _, s := range []string{`pat_rotator_api_requests_total{api="groo",code="201"}`, `pat_rotator_api_requests_total{api="groo",code="200"}`,
		`pat_rotator_api_requests_total{api="github",code="201"}`, `pat_rotator_api_requests_total{api="github",code="204"}`, `pat_rotator_api_requests_total{api="github",code="200"}`} {
		if metrics.value(t, s) < 1 {
			t.Errorf("%s = %v, want >= 1", s, metrics.value(t, s))
		}
	}
	if got := metrics.value(t, `pat_rotator_api_requests_total{api="groo",code="201"}`); got < float64(attemptsBeforeScrape) {
		t.Errorf("groo mints counted %v, want >= %d attempts", got, attemptsBeforeScrape)
	}

	// I7: every attempt has its event, with its final outcome.
	events, err := d.Store().History(context.Background(), audit.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]audit.Event{}
	for _, e := range events {
		byID[e.ID] = e
	}
	for _, id := range attempts {
		if e, ok := byID[id]; !ok || e.Outcome != audit.OutcomeSucceeded {
			t.Errorf("attempt %s: event %+v", id, e)
		}
	}
	if len(events) != len(attempts) {
		t.Errorf("%d events for %d attempts", len(events), len(attempts))
	}
	for _, uc := range useCases {
		cur, ok, err := d.Store().Current(context.Background(), uc)
		st := f.emu.State()
		live := st.LiveTokens(uc)
		if err != nil || !ok || len(live) != 1 || cur.TokenID != live[0].ID {
			t.Errorf("store's current token of %q = %+v, %v, %v; live %v", uc, cur, ok, err, live)
		}
	}
	st := f.emu.State()
	if _, err := checkInvariants(st, cfg.Targets); err != nil {
		t.Error(err)
	}
	assertNoSecrets(t, f, st, map[string]string{"logs": logs.String(), "metrics": metrics.raw})
}

// At start, a target whose token expires before its next run (or that has
// no live token) is rotated at once; the others wait for their schedule.
func TestDaemonRotatesExpiringTokensAtStart(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 3, []string{"GitHub Actions - octo/r1 GROO_PAT"})
	soon := time.Now().Add(30 * time.Minute)
	hourAgo := time.Now().Add(-time.Hour)
	if err := f.emu.Seed(emulator.Seed{Groo: emulator.GrooSeed{Tokens: []emulator.SeedToken{
		{Name: "GitHub Actions - octo/r0 GROO_PAT", Secret: randomPAT(), CreatedAt: &hourAgo, ExpiresAt: &soon},
	}}}); err != nil {
		t.Fatal(err)
	}
	cfg := f.config(t, `defaults: {schedule: "@every 1h", ttl: 3h, revoke-grace: 0s, jitter: 0s}
targets:
  - repository: octo/r0   # expires in 30 minutes, before the next run in an hour: rotated at start
  - repository: octo/r1   # expires in 30 days: left for its schedule
  - repository: octo/r2   # no live token: rotated at start
`)
	results := make(chan TargetResult, 10)
	d, err := New(context.Background(), cfg, Options{Getenv: f.getenv, Transport: conforming(t), OnResult: func(tr TargetResult) { results <- tr }})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- d.Run(ctx) }()
	got := map[string]bool{}
	for range 2 {
		select {
		case tr := <-results:
			if tr.Err != nil {
				t.Errorf("%s: %v", tr.Target.Name, tr.Err)
			}
			got[tr.Target.Name] = true
		case <-time.After(30 * time.Second):
			t.Fatal("the start rotations did not happen")
		}
	}
	cancel()
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	if !got["repo:octo/r0 GROO_PAT"] || !got["repo:octo/r2 GROO_PAT"] {
		t.Errorf("rotated at start: %v; want r0 and r2", got)
	}
	st := f.emu.State()
	if _, ok := st.Secret("repo:octo/r1", "GROO_PAT"); ok {
		t.Error("r1 was rotated although its token outlives its next run")
	}
	if _, err := checkInvariants(st, cfg.Targets[0:1]); err != nil {
		t.Error(err)
	}
}

// A revoke left pending (grace) is done by the sweep once the grace ends;
// a failing one is retried with backoff and never dropped.
func TestSweepRevokesPendingAfterGraceAndKeepsFailures(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - octo/app GROO_PAT"
	f := newFleet(t, 0, []string{uc})
	cfg := f.config(t, `defaults: {schedule: "@daily", ttl: 72h, revoke-grace: 1h, jitter: 0s}
daemon: {sweep-interval: 1s}
targets:
  - repository: octo/app
`)
	clock := testkit.NewClock(time.Now())
	d, err := New(context.Background(), cfg, Options{Getenv: f.getenv, Transport: conforming(t), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	results, err := d.RotateOnce(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	res := results[0].Result
	if len(res.Pending) != 1 || len(res.Revoked) != 0 {
		t.Fatalf("result = revoked %v pending %v; want the bootstrap token pending for the grace", res.Revoked, res.Pending)
	}
	oldID := res.Pending[0]
	if n := len(f.emu.State().LiveTokens(uc)); n != 2 {
		t.Fatalf("%d live tokens during the grace, want 2", n)
	}
	// Grace not over: the sweep leaves it.
	if err := d.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(f.emu.State().LiveTokens(uc)); n != 2 {
		t.Fatalf("%d live tokens after an early sweep, want 2", n)
	}
	// Grace over, Groo failing: counted, kept, retried later.
	clock.Add(time.Hour + time.Second)
	f.emu.SetFaults([]emulator.Fault{{Route: emulator.RouteGrooRevoke, Status: 500}})
	for range 2 {
		if err := d.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		clock.Add(10 * time.Minute)
	}
	pending, err := d.Store().PendingRevokes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].TokenID != oldID || pending[0].Attempts != 2 || !strings.Contains(pending[0].LastError, "500") {
		t.Fatalf("pending after failures = %+v", pending)
	}
	if got := testValue(t, d, "pat_rotator_revoke_failures_total"); got != 2 {
		t.Errorf("pat_rotator_revoke_failures_total = %v, want 2", got)
	}
	if got := testValue(t, d, "pat_rotator_pending_revokes"); got != 1 {
		t.Errorf("pat_rotator_pending_revokes = %v, want 1", got)
	}
	// Groo back: the next due sweep revokes it and forgets it.
	f.emu.SetFaults(nil)
	clock.Add(time.Hour)
	if err := d.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if pending, _ := d.Store().PendingRevokes(ctx); len(pending) != 0 {
		t.Errorf("pending after success = %+v", pending)
	}
	st := f.emu.State()
	if _, err := checkInvariants(st, cfg.Targets); err != nil {
		t.Error(err)
	}
}

// One failing target never blocks the others, and the failure is reported.
func TestRotateOnceCollectsFailures(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 3, nil)
	cfg := f.config(t, `defaults: {ttl: 72h, revoke-grace: 0s}
targets:
  - repository: octo/r0
  - repository: octo/missing
  - repository: octo/r2
`)
	d, err := New(context.Background(), cfg, Options{Getenv: f.getenv, Transport: conforming(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	results, err := d.RotateOnce(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "octo/missing") {
		t.Fatalf("err = %v, want the missing repository's failure", err)
	}
	ok := 0
	for _, r := range results {
		if r.Err == nil {
			ok++
		}
	}
	if ok != 2 {
		t.Errorf("%d targets rotated, want 2", ok)
	}
	for _, r := range results {
		if failed := r.Err != nil && r.Result == nil; failed != (r.Target.Name == "repo:octo/missing GROO_PAT") {
			t.Errorf("%s: err %v, result %v", r.Target.Name, r.Err, r.Result)
		}
	}
	if _, err := d.Select([]string{"repo:octo/nope GROO_PAT"}); err == nil {
		t.Error("Select accepted an unknown target")
	}
	if sel, err := d.Select([]string{"GitHub Actions - octo/r2 GROO_PAT"}); err != nil || len(sel) != 1 {
		t.Errorf("Select by use case = %v, %v", sel, err)
	}
}

// promText is a scraped /metrics page.
type promText struct {
	raw    string
	values map[string]float64
}

func scrape(t testing.TB, url string) promText {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return parseProm(string(b))
}

func parseProm(text string) promText {
	p := promText{raw: text, values: map[string]float64{}}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndex(line, " ")
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			p.values[line[:i]] = v
		}
	}
	return p
}

func (p promText) value(t testing.TB, series string) float64 {
	t.Helper()
	v, ok := p.values[series]
	if !ok {
		t.Errorf("no series %s in /metrics", series)
	}
	return v
}

// testValue reads one series from the daemon's handler without a server.
func testValue(t testing.TB, d *Daemon, series string) float64 {
	t.Helper()
	srv := &http.Server{Handler: d.Handler()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	return scrape(t, "http://"+ln.Addr().String()+"/metrics").value(t, series)
}

// plan reads only: no mint, no write, no revoke, no event.
func TestPlanChangesNothing(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - octo/app GROO_PAT"
	f := newFleet(t, 0, []string{uc})
	cfg := f.config(t, `targets:
  - repository: octo/app
  - {repository: octo/app, environment: prod/eu}
`)
	d, err := New(context.Background(), cfg, Options{Getenv: f.getenv, Transport: conforming(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	before := f.emu.State()
	plans, err := d.PlanAll(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, p := range plans {
		fmt.Fprintf(&out, "%s (use case %q): %d live token(s)\n", p.Target, p.UseCase, len(p.Live))
		for _, s := range p.Steps {
			fmt.Fprintf(&out, "  %s %s\n", s.Step, s.Detail)
		}
	}
	for _, want := range []string{"repo:octo/app GROO_PAT (use case \"GitHub Actions - octo/app GROO_PAT\"): 1 live token(s)",
		"create secret repo:octo/app GROO_PAT", "revoke tok_", "(grace 15m after each was replaced)", "env:octo/app:prod/eu GROO_PAT", "nothing to revoke"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, out.String())
		}
	}
	after := f.emu.State()
	if len(after.Tokens) != len(before.Tokens) || len(after.Secrets) != 0 || after.Hits[emulator.RouteGrooCreate] != 0 {
		t.Errorf("plan changed something: %d→%d tokens, %d secrets", len(before.Tokens), len(after.Tokens), len(after.Secrets))
	}
	if h, _ := d.Store().History(context.Background(), audit.HistoryQuery{}); len(h) != 0 {
		t.Errorf("plan recorded %d events", len(h))
	}
}

// /readyz says not ready until Run has loaded the schedule.
func TestReadyzBeforeRun(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 0, nil)
	d, err := New(context.Background(), f.config(t, "targets: [{repository: octo/app}]\n"), Options{Getenv: f.getenv, Transport: conforming(t, ghconform.AllowNone())})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 503, "/metrics": 200} {
		rec := httptest.NewRecorder()
		d.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("GET %s = %d, want %d", path, rec.Code, want)
		}
	}
}

// The daemon as a GitHub App: ghinstallation mints the installation token
// (POST /app/installations/{id}/access_tokens, which the conformance check
// holds to GitHub's description like every other request) and the
// rotation writes the secret with it.
func TestRotateOnceAsGitHubApp(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - octo/app GROO_PAT"
	f := newFleet(t, 0, []string{uc})
	if err := f.emu.Seed(emulator.Seed{GitHub: emulator.GitHubSeed{
		Apps: []emulator.SeedApp{{ID: 42, Installations: []emulator.SeedInstallation{{ID: 7, Account: "octo"}}}}}}); err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemFile := filepath.Join(f.dir, "app.pem")
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`groo: {api-url: %q, token-env: TEST_GROO_PAT}
github: {api-url: %q, app: {id: 42, installation-id: 7, private-key-file: %q}, mutation-interval: 10ms}
store: sqlite://%s
listen: ""
defaults: {ttl: 72h, revoke-grace: 0s}
targets: [{repository: octo/app}]
`, f.url, f.url, pemFile, filepath.Join(f.dir, "state.db"))
	cfg, err := config.Parse(filepath.Join(f.dir, "rotator.yaml"), []byte(src), f.getenv)
	if err != nil {
		t.Fatalf("config:\n%v", err)
	}
	d, err := New(context.Background(), cfg, Options{Getenv: f.getenv, Transport: conforming(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	results, err := d.RotateOnce(context.Background(), nil)
	if err != nil || len(results) != 1 || results[0].Err != nil {
		t.Fatalf("RotateOnce = %+v, %v", results, err)
	}
	st := f.emu.State()
	if st.Hits[emulator.RouteAppToken] != 1 {
		t.Errorf("hits %v: want one installation token", st.Hits)
	}
	sec, ok := st.Secret("repo:octo/app", "GROO_PAT")
	if tok, found := st.TokenBySecret(sec.Value); !ok || !found || !tok.Live(st.Now) || tok.Name != uc {
		t.Errorf("secret %+v holds %+v, want a live token of %q", sec, tok, uc)
	}
}

// randomPAT is a fresh PAT value for a seed.
func randomPAT() string { return groo.Prefix + randomHex(32) }

// checkInvariants checks I1 and I3 of the targets on the emulator's state.
func checkInvariants(st emulator.State, targets []*config.TargetConfig) ([]string, error) {
	ls := make([]emulator.Lineage, len(targets))
	for i, t := range targets {
		ls[i] = emulator.Lineage{Name: t.Name, Scope: t.Target.Key(), Secret: t.Target.Name, UseCase: t.UseCase}
	}
	return st.CheckLineages(ls)
}

// store-password-file reaches the store: New opens a PostgreSQL store with
// it (here a file that does not exist, refused before any connection).
func TestNewPassesTheStorePasswordFile(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 0, nil)
	src := fmt.Sprintf("groo: {api-url: %q, token-env: TEST_GROO_PAT}\ngithub: {api-url: %q, token-env: TEST_GITHUB_TOKEN}\n"+
		"store: \"postgres://rotator@127.0.0.1:1/rotator?sslmode=disable\"\nstore-password-file: db-password\nlisten: \"\"\n"+
		"targets: [{repository: octo/app}]\n", f.url, f.url)
	cfg, err := config.Parse(filepath.Join(f.dir, "rotator.yaml"), []byte(src), f.getenv)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(context.Background(), cfg, Options{Getenv: f.getenv, Transport: conforming(t, ghconform.AllowNone())})
	if err == nil {
		d.Close()
		t.Fatal("New opened a store whose password file does not exist")
	}
	if want := filepath.Join(f.dir, "db-password"); !strings.Contains(err.Error(), "read password file") || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want the password file %s read", err, want)
	}
}

// The daemon's Groo client takes groo.api-url over GROO_ACCOUNTS_URL, and
// the variable over the default (groo.ResolveBaseURL, as the Action does);
// the variable used to beat the file.
func TestGrooURLPrecedence(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 0, nil)
	f.env[groo.EnvBaseURL] = "http://127.0.0.1:1"
	for _, tt := range []struct{ groo, want string }{
		{fmt.Sprintf("{api-url: %q, token-env: TEST_GROO_PAT}", f.url), f.url},
		{"{token-env: TEST_GROO_PAT}", "http://127.0.0.1:1"},
	} {
		src := fmt.Sprintf("groo: %s\ngithub: {api-url: %q, token-env: TEST_GITHUB_TOKEN}\nstore: sqlite://%s\nlisten: \"\"\ntargets: [{repository: octo/app}]\n",
			tt.groo, f.url, filepath.Join(t.TempDir(), "state.db"))
		cfg, err := config.Parse(filepath.Join(f.dir, "rotator.yaml"), []byte(src), f.getenv)
		if err != nil {
			t.Fatal(err)
		}
		d, err := New(context.Background(), cfg, Options{Getenv: f.getenv, Transport: conforming(t, ghconform.AllowNone())})
		if err != nil {
			t.Fatal(err)
		}
		if got := d.grooC.BaseURL(); got != tt.want {
			t.Errorf("groo: %s: client base URL %q, want %q", tt.groo, got, tt.want)
		}
		d.Close()
	}
}

// listening builds a daemon of cfg on the fleet whose HTTP server will
// serve on a free loopback port, and returns it with that address; the
// daemon is closed when the test ends.
func (f *fleet) listening(t *testing.T, cfg *config.Config) (*Daemon, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(context.Background(), cfg, Options{Getenv: f.getenv, Transport: conforming(t), Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, ln.Addr().String()
}

// running runs d (its schedule, sweeps and HTTP server) until the test
// ends; Cleanup stops it before the daemon is closed.
func running(t *testing.T, d *Daemon) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// TestHungGitHubReadDoesNotHoldTheUseCase: GitHub holds a read forever. The
// daemon gives up on the request (its GitHub timeout) and the rotation goes
// on; without the timeout the rotation, and the use case's lease with it,
// would wait for ever.
func TestHungGitHubReadDoesNotHoldTheUseCase(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1, nil)
	f.emu.SetFaults([]emulator.Fault{{Route: emulator.RoutePublicKey, Latency: time.Hour, Count: 1}})
	cfg := f.config(t, "defaults: {ttl: 72h, revoke-grace: 0s}\ntargets:\n  - repository: octo/r0\n")
	d, err := New(context.Background(), cfg, Options{Getenv: f.getenv, Transport: conforming(t), GitHubTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	done := make(chan error, 1)
	go func() {
		_, err := d.RotateOnce(context.Background(), nil)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("rotation after a hung read: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the rotation still waits for a GitHub read that never answers")
	}
	st := f.emu.State()
	if report, err := checkInvariants(st, cfg.Targets); err != nil {
		t.Fatalf("invariants: %v\n%s", err, strings.Join(report, "\n"))
	}
	if st.Hits[emulator.RoutePublicKey] < 2 {
		t.Errorf("the public key was read %d times: the hung read was not given up and tried again", st.Hits[emulator.RoutePublicKey])
	}
}
