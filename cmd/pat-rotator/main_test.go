package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/audit/sqlitestore"
	"github.com/groo/pat-action/internal/emulator"
	"github.com/groo/pat-action/internal/emulator/emulatortest"
	"github.com/groo/pat-action/internal/ghconform"
	"github.com/groo/pat-action/internal/testkit"
)

func noEnv(string) string { return "" }

// tokenValue matches anything that could be a whole token value.
var tokenValue = regexp.MustCompile(`groo_pat_[0-9a-f]{8,}|[0-9a-f]{64}|ghs_[A-Za-z0-9]{16,}`)

// conformingServer is emulatortest.NewServer with every GitHub request it
// receives checked against GitHub's OpenAPI description, on the server side
// (the binary's HTTP client is out of the test's reach); Groo's and the
// admin API's requests pass unchecked. The test fails at its end on a
// request that does not conform, or when no GitHub request came (unless
// opts allow it). The checker is made first, so that it reports after the
// server has shut down.
func conformingServer(t *testing.T, seed emulator.Seed, opts ...ghconform.Option) (*emulator.Emulator, string) {
	t.Helper()
	chk := ghconform.New(t, nil, opts...)
	return emulatortest.NewServer(t, seed, emulator.WithRequestHook(chk.Check))
}

func TestDemo(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	// The demo's own emulator is out of reach: check its daemon's requests
	// on the client side.
	c := cli{stdout: &out, stderr: &errb, getenv: noEnv, transport: ghconform.New(t, http.DefaultTransport)}
	if err := c.run(context.Background(), []string{"demo"}); err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
	s := out.String()
	for _, want := range []string{
		"Pass 1", "Pass 2",
		"repo:octo/app GROO_PAT", "env:octo/app:prod/eu GROO_PAT", "org:octo GROO_PAT",
		"use case  GitHub Actions - octo/app GROO_PAT",
		"use case  GitHub Actions - octo/app env:prod/eu GROO_PAT",
		"use case  GitHub Actions - org octo GROO_PAT",
		"Audit history",
		"I1 every secret holds a live token:", "3/3",
		"I1 violations seen by the emulator during the run:",
		"\n  OK\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if !regexp.MustCompile(`I1 violations seen by the emulator during the run:\s+0\n`).MatchString(s) {
		t.Error("the demo does not report zero violations")
	}
	// Six rotations, each old → new with something revoked.
	if n := len(regexp.MustCompile(`token     …[0-9a-f]{4} → …[0-9a-f]{4} \(tok_`).FindAllString(s, -1)); n != 6 {
		t.Errorf("%d rotations printed as old → new, want 6", n)
	}
	if n := len(regexp.MustCompile(`revoked   tok_\w+ \(…[0-9a-f]{4}\)`).FindAllString(s, -1)); n != 6 {
		t.Errorf("%d rotations revoked their predecessor, want 6", n)
	}
	if n := strings.Count(s, "  succeeded  "); n != 6 {
		t.Errorf("audit history has %d succeeded events, want 6", n)
	}
	// Pass 2 revokes what pass 1 minted.
	p1 := regexp.MustCompile(`(?s)Pass 1.*?→ …[0-9a-f]{4} \((tok_\w+)\)`).FindStringSubmatch(s)
	if p1 == nil || !strings.Contains(s[strings.Index(s, "Pass 2"):], "revoked   "+p1[1]) {
		t.Errorf("pass 2 did not revoke pass 1's token")
	}
	if m := tokenValue.FindString(s + errb.String()); m != "" {
		t.Errorf("the demo printed a token value: %s…", m[:12])
	}
	if testing.Verbose() {
		t.Logf("demo output:\n%s", s)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	example := filepath.Join("..", "..", "examples", "rotator.yaml")
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("groo: {token: groo_pat_"+strings.Repeat("a", 64)+"}\ngithub: {token-env: T}\ntargets:\n  - {repository: octo/app, schedule: nope}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		args      []string
		wantErr   bool
		usage     bool
		stdout    []string
		stderr    []string
		notStderr string
	}{
		{"example", []string{"validate", "--config", example}, false, false,
			[]string{"valid, 4 target(s)", "repo:octo/app GROO_PAT", "dependabot:octo/docs GROO_PAT", "@every 12h"}, nil, ""},
		{"errors with file:line", []string{"validate", "--config", bad}, true, false, nil,
			[]string{bad + ":1: groo.token: a credential written inline", bad + ":4: targets[0].schedule: cron cannot parse"}, strings.Repeat("a", 64)},
		{"rotate refuses a bad file before any request", []string{"rotate", "--config", bad}, true, false, nil,
			[]string{bad + ":4: targets[0].schedule"}, ""},
		{"missing config", []string{"validate"}, true, true, nil, nil, ""},
		{"unknown command", []string{"spin"}, true, true, nil, nil, ""},
		{"no command", nil, true, true, nil, nil, ""},
		{"unknown flag", []string{"run", "--config", example, "--fast"}, true, true, nil, nil, ""},
		{"missing credential", []string{"rotate", "--config", example}, true, false, nil, nil, ""},
		{"help", []string{"help"}, false, false, []string{"usage: pat-rotator"}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			err := realMain(context.Background(), tt.args, &out, &errb, noEnv)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v\nstderr:\n%s", err, tt.wantErr, errb.String())
			}
			var u *usageError
			if errors.As(err, &u) != tt.usage {
				t.Errorf("usage error = %v, want %v (%v)", errors.As(err, &u), tt.usage, err)
			}
			for _, w := range tt.stdout {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			all := errb.String()
			if err != nil {
				all += err.Error()
			}
			for _, w := range tt.stderr {
				if !strings.Contains(all, w) {
					t.Errorf("stderr lacks %q:\n%s", w, all)
				}
			}
			if tt.notStderr != "" && strings.Contains(all+out.String(), tt.notStderr) {
				t.Error("the output echoes the inline credential")
			}
		})
	}
}

// --- child-process tests: the real binary, killed and stopped ---

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func rotatorBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pat-rotator-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "pat-rotator")
		cmd := exec.Command(goTool(), "build", "-o", binPath, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type childSetup struct {
	emu    *emulator.Emulator
	config string
	dbPath string
	env    []string
	uc     string
	values []string
}

func newChildSetup(t *testing.T) *childSetup {
	t.Helper()
	bot, ghTok, boot := testkit.PAT(t), "ghs_"+strings.Repeat("k", 36), testkit.PAT(t)
	uc := "GitHub Actions - octo/app GROO_PAT"
	hourAgo := time.Now().Add(-time.Hour)
	expires := time.Now().Add(30 * 24 * time.Hour)
	emu, url := conformingServer(t, emulator.Seed{
		Groo: emulator.GrooSeed{Tokens: []emulator.SeedToken{
			{Name: "pat-rotator bot", Secret: bot, CreatedAt: &hourAgo},
			{Name: uc, Secret: boot, CreatedAt: &hourAgo, ExpiresAt: &expires},
		}},
		GitHub: emulator.GitHubSeed{Tokens: []string{ghTok}, Repositories: []string{"octo/app"}},
	})
	dir := t.TempDir()
	db := filepath.Join(dir, "state.db")
	// Short write window and lease so that a dead holder's lease expires in
	// seconds; the PUT latency below stays inside the write window.
	cfg := fmt.Sprintf(`groo: {api-url: %q, token-env: BOT_PAT}
github: {api-url: %q, token-env: GH_TOKEN, mutation-interval: 10ms}
store: sqlite://%s
listen: 127.0.0.1:0
defaults: {schedule: "@every 1s", ttl: 1h, revoke-grace: 0s, jitter: 0s}
rotation: {write-window: 5s, clock-margin: 200ms}
daemon: {lease-margin: 1s, sweep-interval: 1s, shutdown-timeout: 20s}
targets:
  - repository: octo/app
`, url, url, db)
	path := filepath.Join(dir, "rotator.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &childSetup{emu: emu, config: path, dbPath: db, uc: uc, values: []string{bot, ghTok, boot},
		env: append(os.Environ(), "BOT_PAT="+bot, "GH_TOKEN="+ghTok)}
}

type child struct {
	cmd    *exec.Cmd
	stderr *testkit.Buffer // read while the process writes it
	done   chan error
}

func (s *childSetup) start(t *testing.T, bin string) *child {
	t.Helper()
	c := &child{stderr: &testkit.Buffer{}, done: make(chan error, 1)}
	c.cmd = exec.Command(bin, "run", "--config", s.config)
	c.cmd.Env = s.env
	c.cmd.Stderr = c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

func (c *child) wait(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-c.done:
		return err
	case <-time.After(within):
		t.Fatalf("the process did not exit within %s; stderr:\n%s", within, c.stderr.String())
		return nil
	}
}

// settled waits until the secret holds a live token and that token is the
// use case's only live one (I1 and I3).
func (s *childSetup) settled(t *testing.T, within time.Duration, c *child) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := s.emu.State()
		if sec, ok := st.Secret("repo:octo/app", "GROO_PAT"); ok {
			tok, ok := st.TokenBySecret(sec.Value)
			live := st.LiveTokens(s.uc)
			if ok && tok.Live(st.Now) && len(live) == 1 && live[0].ID == tok.ID {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the use case did not settle within %s; stderr:\n%s", within, c.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *childSetup) checkNoLeaks(t *testing.T, texts ...string) {
	t.Helper()
	logs := map[string]string{}
	for i, text := range texts {
		logs[fmt.Sprintf("output %d", i+1)] = text
	}
	testkit.NoTokenValues(t, append(s.emu.State().TokenValues(), s.values...), logs, s.dbPath+"*")
}

// kill -9 in the middle of a write, then a restart: I1 holds throughout and
// the use case settles; the restart takes its dead predecessor's lease over
// at once (same host, process gone) rather than waiting it out.
func TestKillDuringRotationThenRestart(t *testing.T) {
	t.Parallel()
	bin := rotatorBinary(t)
	s := newChildSetup(t)
	first := s.start(t, bin)
	s.settled(t, 30*time.Second, first) // one rotation done: the secret holds a token

	// The next write hangs long enough for the kill to land in it.
	s.emu.SetFaults([]emulator.Fault{{Route: emulator.RouteSecretPut, Latency: 3 * time.Second, Count: 1}})
	select {
	case <-s.emu.WaitHit(emulator.RouteSecretPut):
	case <-time.After(30 * time.Second):
		t.Fatalf("no write reached the emulator; stderr:\n%s", first.stderr.String())
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.wait(t, 10*time.Second)
	s.emu.SetFaults(nil)
	st := s.emu.State()
	if len(st.Violations) > 0 {
		t.Fatalf("I1 violated by the kill: %v", st.Violations)
	}
	if n := len(st.LiveTokens(s.uc)); n < 2 {
		t.Fatalf("%d live tokens after the kill; want the dead attempt's token left live too", n)
	}

	second := s.start(t, bin)
	s.settled(t, 60*time.Second, second)
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.wait(t, 30*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", err, second.stderr.String())
	}
	st = s.emu.State()
	if len(st.Violations) > 0 {
		t.Errorf("I1 violated: %v", st.Violations)
	}
	if strings.Contains(second.stderr.String(), "rotation skipped: lease held") {
		t.Errorf("the restart waited for its dead predecessor's lease; stderr:\n%s", second.stderr.String())
	}

	store, err := sqlitestore.Open(context.Background(), s.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	events, err := store.History(context.Background(), audit.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	abandoned, succeeded := 0, 0
	for _, e := range events {
		switch e.Outcome {
		case audit.OutcomeAbandoned:
			abandoned++
			if !strings.Contains(e.Error, "no longer running") {
				t.Errorf("abandoned attempt %s: %q, want its holder's process gone", e.ID, e.Error)
			}
		case audit.OutcomeSucceeded:
			succeeded++
		case audit.OutcomeStarted:
			t.Errorf("attempt %s still 'started' after a clean stop", e.ID)
		}
	}
	if abandoned != 1 || succeeded < 2 {
		t.Errorf("events: %d abandoned, %d succeeded; want the killed attempt abandoned and rotations before and after", abandoned, succeeded)
	}
	s.checkNoLeaks(t, first.stderr.String(), second.stderr.String())
}

// SIGTERM during a rotation: the rotation completes, its lease is released
// and the process exits 0.
func TestSIGTERMLetsTheRotationFinish(t *testing.T) {
	t.Parallel()
	bin := rotatorBinary(t)
	s := newChildSetup(t)
	s.emu.SetFaults([]emulator.Fault{{Route: emulator.RouteSecretPut, Latency: 2 * time.Second, Count: 1}})
	hit := s.emu.WaitHit(emulator.RouteSecretPut)
	c := s.start(t, bin)
	select {
	case <-hit:
	case <-time.After(30 * time.Second):
		t.Fatalf("no write reached the emulator; stderr:\n%s", c.stderr.String())
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := c.wait(t, 30*time.Second); err != nil {
		t.Fatalf("exit: %v (want 0); stderr:\n%s", err, c.stderr.String())
	}
	st := s.emu.State()
	sec, ok := st.Secret("repo:octo/app", "GROO_PAT")
	if !ok || sec.Writes != 1 {
		t.Fatalf("secret after SIGTERM = %+v, %v; want the in-flight write landed", sec, ok)
	}
	tok, ok := st.TokenBySecret(sec.Value)
	if !ok || !tok.Live(st.Now) || len(st.LiveTokens(s.uc)) != 1 || len(st.Violations) > 0 {
		t.Errorf("after SIGTERM: token %+v live %d violations %v; want one live token, in the secret", tok.ID, len(st.LiveTokens(s.uc)), st.Violations)
	}
	store, err := sqlitestore.Open(context.Background(), s.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	events, err := store.History(context.Background(), audit.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Outcome != audit.OutcomeSucceeded || events[0].NewTokenID != tok.ID {
		t.Errorf("events = %+v; want the one rotation, succeeded", events)
	}
	// The lease was released: another holder gets it at once.
	if _, err := store.AcquireLease(context.Background(), s.uc, "test", time.Minute); err != nil {
		t.Errorf("lease not released: %v", err)
	}
	s.checkNoLeaks(t, c.stderr.String())
}

// history reads the store only: it needs no credential.
func TestHistoryCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "state.db")
	store, err := sqlitestore.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, e := range []audit.Event{
		{ID: "rot_1", Time: now.Add(-48 * time.Hour), Outcome: audit.OutcomeSucceeded, UseCase: "uc", Target: "repo:octo/app GROO_PAT", NewTokenID: "tok_old", NewTokenLast4: "aaaa"},
		{ID: "rot_2", Time: now, Outcome: audit.OutcomeFailed, UseCase: "uc", Target: "repo:octo/app GROO_PAT", Error: "write secret: GitHub answered 403", Step: "write"},
	} {
		if err := store.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.AddPendingRevoke(context.Background(), audit.PendingRevoke{TokenID: "tok_old", UseCase: "uc", Target: "repo:octo/app GROO_PAT", RevokeAfter: now}); err != nil {
		t.Fatal(err)
	}
	store.Close()
	cfg := filepath.Join(dir, "r.yaml")
	if err := os.WriteFile(cfg, []byte("groo: {token-env: G}\ngithub: {token-env: T}\nstore: sqlite://"+db+"\ntargets: [{repository: octo/app}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if err := realMain(context.Background(), []string{"history", "--config", cfg, "--since", "1d"}, &out, &errb, noEnv); err != nil {
		t.Fatalf("history: %v\n%s", err, errb.String())
	}
	s := out.String()
	if !strings.Contains(s, "failed") || !strings.Contains(s, "GitHub answered 403") || strings.Contains(s, "tok_old …aaaa") {
		t.Errorf("history --since 1d:\n%s", s)
	}
	if !regexp.MustCompile(`(?m)^tok_old\s+repo:octo/app GROO_PAT`).MatchString(s) {
		t.Errorf("history does not list the pending revoke:\n%s", s)
	}
}

// goTool is the go command that runs this test: the one on PATH, else the
// toolchain's own (GOROOT from `go env` is what the test binary was built with).
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}
