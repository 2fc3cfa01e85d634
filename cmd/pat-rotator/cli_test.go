package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/audit/sqlitestore"
	"github.com/groo/pat-action/internal/daemon"
	"github.com/groo/pat-action/internal/testkit"
)

// The command line of the built binary: help, version, exit codes, the
// store the read-only commands must not create, SIGHUP.

type binResult struct {
	stdout, stderr string
	code           int
}

// runBin runs the built pat-rotator with args and env (nil: none beyond
// PATH and HOME) and returns its output and exit code.
func runBin(t *testing.T, env []string, args ...string) binResult {
	t.Helper()
	cmd := exec.Command(rotatorBinary(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := binResult{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run pat-rotator: %v", err)
	}
	return r
}

// singleDashFlag is a flag written -flag in a help text (they are --flag).
var singleDashFlag = regexp.MustCompile(`(?m)(^|[\s\[(])-[a-z][a-z-]+`)

func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	names := []string{}
	for _, cmd := range (&cli{}).commands() {
		names = append(names, cmd.Name())
	}
	type tc struct {
		name   string
		args   []string
		code   int
		stdout []string
	}
	tests := []tc{
		{"usage", []string{"--help"}, 0, append([]string{"usage: pat-rotator COMMAND", "Exit codes", "--version"}, names...)},
		{"help", []string{"help"}, 0, []string{"usage: pat-rotator COMMAND"}},
		{"--version", []string{"--version"}, 0, []string{"pat-rotator ", "go1."}},
		{"version", []string{"version"}, 0, []string{"pat-rotator ", "go1."}},
		{"help unknown", []string{"help", "spin"}, 2, nil},
		{"help two", []string{"help", "run", "plan"}, 2, nil},
		{"unknown command", []string{"spin"}, 2, nil},
		{"no command", nil, 2, nil},
	}
	for _, n := range names {
		tests = append(tests,
			tc{"help " + n, []string{"help", n}, 0, []string{"usage: pat-rotator " + n}},
			tc{n + " -h", []string{n, "-h"}, 0, []string{"usage: pat-rotator " + n}},
			tc{n + " --help", []string{n, "--help"}, 0, []string{"usage: pat-rotator " + n}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runBin(t, nil, tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tt.code, r.stdout, r.stderr)
			}
			for _, w := range tt.stdout {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
			if m := singleDashFlag.FindString(r.stdout + r.stderr); m != "" {
				t.Errorf("help writes a flag with one dash (%q):\n%s%s", m, r.stdout, r.stderr)
			}
			if tt.code == 2 && !strings.Contains(r.stderr, "usage: pat-rotator") {
				t.Errorf("a usage error without the usage:\n%s", r.stderr)
			}
		})
	}
	// CMD -h and help CMD print the same text, with the command's flags.
	for _, want := range []struct{ cmd, flag string }{
		{"run", "--config FILE"}, {"rotate", "--target NAME"}, {"plan", "--target NAME"},
		{"audit", "--fail-on SEVERITY"}, {"history", "--use-case UC"}, {"validate", "--log-level LEVEL"}, {"demo", "--verbose"},
	} {
		a, b := runBin(t, nil, "help", want.cmd), runBin(t, nil, want.cmd, "-h")
		if a.stdout != b.stdout || !strings.Contains(a.stdout, "\n  "+want.flag+"\n") {
			t.Errorf("help %s and %s -h differ or lack %q:\n%s\n---\n%s", want.cmd, want.cmd, want.flag, a.stdout, b.stdout)
		}
	}
}

// writeConfig writes a configuration with a store in dir (not created).
func writeConfig(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "rotator.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Every command, one contract: 0 done, 1 the work failed, 2 usage or
// configuration, 3 could not run.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := writeConfig(t, filepath.Join(dir), "groo: {token-env: G}\ngithub: {token-env: T}\ntargets:\n  - {repository: octo/app, schedule: nope}\n")
	// A store that exists, Groo and GitHub that do not answer.
	storeDir := t.TempDir()
	db := filepath.Join(storeDir, "state.db")
	st, err := sqlitestore.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	down := writeConfig(t, storeDir, fmt.Sprintf("groo: {api-url: http://127.0.0.1:1, token-env: G}\ngithub: {api-url: http://127.0.0.1:1, token-env: T}\nstore: sqlite://%s\ntargets: [{repository: octo/app}]\n", db))
	// A store that does not exist.
	missing := filepath.Join(t.TempDir(), "nope", "state.db")
	noStore := writeConfig(t, t.TempDir(), fmt.Sprintf("groo: {token-env: G}\ngithub: {token-env: T}\nstore: sqlite://%s\ntargets: [{repository: octo/app}]\n", missing))
	creds := []string{"G=" + testkit.PAT(t), "T=ghs_" + strings.Repeat("k", 36)}

	tests := []struct {
		name   string
		env    []string
		args   []string
		code   int
		stderr string
	}{
		{"validate ok", nil, []string{"validate", "--config", noStore}, 0, ""},
		{"missing --config", nil, []string{"rotate"}, 2, "--config FILE is required"},
		{"unknown flag", nil, []string{"plan", "--config", noStore, "--fast"}, 2, "flag provided but not defined"},
		{"stray argument", nil, []string{"validate", "--config", noStore, "extra"}, 2, `unexpected argument "extra"`},
		{"audit bad value", nil, []string{"audit", "--config", noStore, "--format", "xml"}, 2, "--format"},
		{"history bad --since", nil, []string{"history", "--config", noStore, "--since", "soon"}, 2, "--since"},
		// --since takes internal/duration's grammar in both commands: no sign.
		{"history negative --since", nil, []string{"history", "--config", noStore, "--since", "-3d"}, 2, `--since: invalid duration "-3d": no sign allowed`},
		{"audit negative --since", nil, []string{"audit", "--config", noStore, "--since", "-3d"}, 2, `--since: invalid duration "-3d": no sign allowed`},
		{"history --since past the limit", nil, []string{"history", "--config", noStore, "--since", "99999999d"}, 2, "too long"},
		{"audit --since past the limit", nil, []string{"audit", "--config", noStore, "--since", "99999999d"}, 2, "too long"},
		{"audit --since days and a half", nil, []string{"audit", "--config", noStore, "--since", "1.5d"}, 2, "--since"},
		{"no such file", nil, []string{"validate", "--config", filepath.Join(dir, "none.yaml")}, 2, "is not valid"},
		{"invalid validate", nil, []string{"validate", "--config", bad}, 2, "targets[0].schedule"},
		{"invalid plan", nil, []string{"plan", "--config", bad}, 2, "targets[0].schedule"},
		{"invalid rotate", nil, []string{"rotate", "--config", bad}, 2, "targets[0].schedule"},
		{"invalid run", nil, []string{"run", "--config", bad}, 2, "targets[0].schedule"},
		{"invalid audit", nil, []string{"audit", "--config", bad}, 2, "targets[0].schedule"},
		{"invalid history", nil, []string{"history", "--config", bad}, 2, "targets[0].schedule"},
		{"missing credential rotate", nil, []string{"rotate", "--config", down}, 2, "environment variable G is empty"},
		{"missing credential plan", nil, []string{"plan", "--config", down}, 2, "environment variable G is empty"},
		{"missing credential run", nil, []string{"run", "--config", down}, 2, "environment variable G is empty"},
		{"missing credential audit", nil, []string{"audit", "--config", down}, 2, "environment variable G is empty"},
		{"unknown target rotate", creds, []string{"rotate", "--config", down, "--target", "repo:octo/nope GROO_PAT"}, 2, "no target named"},
		{"unknown target plan", creds, []string{"plan", "--config", down, "--target", "repo:octo/nope GROO_PAT"}, 2, "no target named"},
		{"rotate: the target failed", creds, []string{"rotate", "--config", down}, 1, "not rotated"},
		{"plan: Groo unreachable", creds, []string{"plan", "--config", down}, 3, ""},
		{"audit: Groo unreachable", creds, []string{"audit", "--config", down}, 3, ""},
		{"plan: no store", creds, []string{"plan", "--config", noStore}, 3, missing + " does not exist"},
		{"history: no store", nil, []string{"history", "--config", noStore}, 3, missing + " does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runBin(t, tt.env, tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tt.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, r.stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Dir(missing)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("plan or history created the store's directory: %v", err)
	}
}

func TestExitStatus(t *testing.T) {
	t.Parallel()
	base := errors.New("x")
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"plain", base, 1},
		{"work", &workError{base}, 1},
		{"usage", &usageError{msg: "m"}, 2},
		{"config", &configError{errReported}, 2},
		{"credential", &configError{fmt.Errorf("G: %w", daemon.ErrCredential)}, 2},
		{"could not run", &runError{base}, 3},
		{"wrapped", fmt.Errorf("ctx: %w", &runError{base}), 3},
		{"joined: usage wins", errors.Join(&runError{base}, &usageError{msg: "m"}), 2},
		{"joined: could not run before failed", errors.Join(&workError{base}, &runError{base}), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := exitStatus(tt.err); got != tt.want {
				t.Errorf("exitStatus(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

// history --use-case filters the events and the pending revokes; a use
// case neither the configuration nor the store knows is refused with the
// known ones.
func TestHistoryUseCase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "state.db")
	store, err := sqlitestore.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	const ucApp, ucWeb, ucGone = "GitHub Actions - octo/app GROO_PAT", "GitHub Actions - octo/web GROO_PAT", "GitHub Actions - octo/gone GROO_PAT"
	for _, e := range []audit.Event{
		{ID: "rot_app", Time: now.Add(-time.Hour), Outcome: audit.OutcomeSucceeded, UseCase: ucApp, Target: "repo:octo/app GROO_PAT", NewTokenID: "tok_app_new", NewTokenLast4: "aaaa"},
		{ID: "rot_web", Time: now.Add(-time.Hour), Outcome: audit.OutcomeSucceeded, UseCase: ucWeb, Target: "repo:octo/web GROO_PAT", NewTokenID: "tok_web_new", NewTokenLast4: "bbbb"},
		{ID: "rot_gone", Time: now.Add(-30 * 24 * time.Hour), Outcome: audit.OutcomeSucceeded, UseCase: ucGone, Target: "repo:octo/gone GROO_PAT", NewTokenID: "tok_gone", NewTokenLast4: "cccc"},
	} {
		if err := store.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []audit.PendingRevoke{
		{TokenID: "tok_app_old", UseCase: ucApp, Target: "repo:octo/app GROO_PAT", RevokeAfter: now},
		{TokenID: "tok_web_old", UseCase: ucWeb, Target: "repo:octo/web GROO_PAT", RevokeAfter: now},
	} {
		if err := store.AddPendingRevoke(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	store.Close()
	cfg := writeConfig(t, dir, "groo: {token-env: G}\ngithub: {token-env: T}\nstore: sqlite://"+db+"\ntargets: [{repository: octo/app}, {repository: octo/web}]\n")

	tests := []struct {
		name         string
		args         []string
		code         int
		want, reject []string
	}{
		{"all", nil, 0, []string{"tok_app_new", "tok_web_new", "tok_app_old", "tok_web_old"}, nil},
		{"app", []string{"--use-case", ucApp}, 0, []string{"tok_app_new", "tok_app_old"}, []string{"tok_web_new", "tok_web_old"}},
		{"web", []string{"--use-case", ucWeb}, 0, []string{"tok_web_new", "tok_web_old"}, []string{"tok_app", "No pending"}},
		{"no longer configured, in the store", []string{"--use-case", ucGone, "--since", "1d"}, 0, []string{"No pending revokes."}, []string{"tok_app", "tok_web"}},
		// --since in the one grammar: days and hours together, Go units alone.
		{"since days and hours", []string{"--since", "1d12h"}, 0, []string{"tok_app_new", "tok_web_new"}, []string{"tok_gone"}},
		{"since hours", []string{"--since", "90m"}, 0, []string{"tok_app_new", "tok_web_new"}, []string{"tok_gone"}},
		{"since 31 days", []string{"--since", "31d"}, 0, []string{"tok_app_new", "tok_gone"}, nil},
		{"since 30 minutes", []string{"--since", "30m"}, 0, []string{"(no events)"}, []string{"tok_app_new", "tok_gone"}},
		{"since a negative age", []string{"--since", "-3d"}, 2, []string{"no sign allowed"}, []string{"TIME"}},
		{"unknown", []string{"--use-case", "GitHub Actions - octo/ap GROO_PAT"}, 2, []string{`no such use case`, `"` + ucApp + `"`, `"` + ucWeb + `"`}, []string{"TIME"}},
		{"bad format", []string{"--format", "xml"}, 2, []string{`--format "xml": use table, json or csv`}, []string{"TIME"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runBin(t, nil, append([]string{"history", "--config", cfg}, tt.args...)...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tt.code, r.stdout, r.stderr)
			}
			all := r.stdout + r.stderr
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q:\n%s", w, all)
				}
			}
			for _, w := range tt.reject {
				if strings.Contains(all, w) {
					t.Errorf("output has %q:\n%s", w, all)
				}
			}
		})
	}
}

// TestHistoryFormats: --format csv parses back with encoding/csv under the
// status page's header; --format json decodes with its fields, the pending
// revokes filtered like the events.
func TestHistoryFormats(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "state.db")
	store, err := sqlitestore.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const uc = "GitHub Actions - octo/app GROO_PAT"
	ev := audit.Event{ID: "rot_app", Time: time.Now().Add(-time.Hour), Outcome: audit.OutcomeFailed, UseCase: uc, Target: "repo:octo/app GROO_PAT",
		Error: "=HYPERLINK(\"x\") and a\nline break", NewTokenID: "tok_app_new"}
	if err := store.Record(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := store.AddPendingRevoke(ctx, audit.PendingRevoke{TokenID: "tok_app_old", UseCase: uc, Target: ev.Target, RevokeAfter: time.Now()}); err != nil {
		t.Fatal(err)
	}
	store.Close()
	cfg := writeConfig(t, dir, "groo: {token-env: G}\ngithub: {token-env: T}\nstore: sqlite://"+db+"\ntargets: [{repository: octo/app}]\n")

	r := runBin(t, nil, "history", "--config", cfg, "--format", "csv")
	if r.code != 0 {
		t.Fatalf("csv: exit %d: %s", r.code, r.stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(rows) != 2 || !slices.Equal(rows[0], audit.HistoryCSVHeader) {
		t.Fatalf("csv does not parse back under the header (%v): %q", err, r.stdout)
	}
	col := func(name string) string { return rows[1][slices.Index(audit.HistoryCSVHeader, name)] }
	if col("attempt_id") != "rot_app" || col("outcome") != "failed" || !strings.HasPrefix(col("error"), "'=HYPERLINK") || strings.Contains(col("error"), "\n") {
		t.Errorf("csv row %q: want the attempt, its outcome, and the error as one inert line", rows[1])
	}

	r = runBin(t, nil, "history", "--config", cfg, "--format", "json", "--use-case", uc)
	if r.code != 0 {
		t.Fatalf("json: exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		Version int           `json:"version"`
		UseCase string        `json:"use_case"`
		Events  []audit.Event `json:"events"`
		Pending []struct {
			TokenID string `json:"token_id"`
		} `json:"pending_revokes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("json: %v\n%s", err, r.stdout)
	}
	if out.Version != 1 || out.UseCase != uc || len(out.Events) != 1 || out.Events[0].ID != "rot_app" || len(out.Pending) != 1 || out.Pending[0].TokenID != "tok_app_old" {
		t.Errorf("json = %+v", out)
	}
}

// SIGHUP reloads the daemon's configuration: an invalid file is logged and
// the daemon keeps running; a valid one replaces the running daemon. The
// process never dies of it, and still stops with 0 on SIGTERM.
func TestSIGHUPReloads(t *testing.T) {
	t.Parallel()
	bin := rotatorBinary(t)
	s := newChildSetup(t)
	good, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	c := s.start(t, bin)
	waitLog := func(want string, n int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for strings.Count(c.stderr.String(), want) < n {
			select {
			case err := <-c.done:
				t.Fatalf("the daemon exited (%v) waiting for %q; stderr:\n%s", err, want, c.stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log within 30s; stderr:\n%s", want, c.stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitLog(`"msg":"pat-rotator running"`, 1)
	s.settled(t, 30*time.Second, c)

	if err := os.WriteFile(s.config, append(good, []byte("  - {repository: octo/app, schedule: nope}\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog("the configuration is not valid; the daemon keeps running", 1)
	if !strings.Contains(c.stderr.String(), "targets[1].schedule") {
		t.Errorf("the log does not say why the configuration was refused; stderr:\n%s", c.stderr.String())
	}

	// Valid, but naming a credential the environment lacks: kept too.
	if err := os.WriteFile(s.config, bytes.Replace(good, []byte("token-env: BOT_PAT"), []byte("token-env: NO_SUCH_PAT"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog("the new configuration cannot be used; the daemon keeps running", 1)

	// A second target: the new daemon rotates it at start (no live token).
	if err := os.WriteFile(s.config, append(good, []byte("  - {repository: octo/app, secret: OTHER_PAT}\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(`"msg":"SIGHUP: configuration reloaded"`, 1)
	waitLog(`"msg":"pat-rotator running"`, 2)
	if !strings.Contains(c.stderr.String(), `"msg":"SIGHUP: configuration reloaded","config":"`+s.config+`","targets":2`) {
		t.Errorf("the reload does not log the new configuration's targets; stderr:\n%s", c.stderr.String())
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := s.emu.State()
		if sec, ok := st.Secret("repo:octo/app", "OTHER_PAT"); ok {
			if tok, ok := st.TokenBySecret(sec.Value); ok && tok.Live(st.Now) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reloaded configuration's new target was not rotated; stderr:\n%s", c.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.settled(t, 30*time.Second, c)

	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := c.wait(t, 30*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", err, c.stderr.String())
	}
	if v := s.emu.State().Violations; len(v) > 0 {
		t.Errorf("I1 violated across the reload: %v", v)
	}
	s.checkNoLeaks(t, c.stderr.String())
}
