package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/emulator"
	"github.com/groo/pat-action/internal/emulator/emulatortest"
	"github.com/groo/pat-action/internal/ghconform"
)

// These tests run the built binary the way the runner runs the container:
// inputs as INPUT_<NAME> variables (upper case, hyphens kept), the runner's
// files in a temporary directory, the emulator over real HTTP, and nothing
// else from the test's environment.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pat-action-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binary = filepath.Join(dir, "pat-action")
	goTool, err := exec.LookPath("go") // go test puts its own go first on PATH
	if err != nil {
		fmt.Fprintln(os.Stderr, "no go tool to build pat-action:", err)
		os.Exit(2)
	}
	build := exec.Command(goTool, "build", "-trimpath", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build pat-action: %v\n%s", err, out)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func newPAT(t *testing.T) string {
	t.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "groo_pat_" + hex.EncodeToString(b[:])
}

const (
	writer   = "ghp_e2ewritere2ewriter"
	readOnly = "ghs_e2ereadonlye2ereadonly"
)

type run struct {
	exitCode int
	stdout   string
	stderr   string
	outputs  map[string]string
	env      map[string]string
	summary  string
}

// runBinary runs pat-action with inputs and the runner's variables.
func runBinary(t *testing.T, inputs map[string]string) run {
	t.Helper()
	dir := t.TempDir()
	out, envFile, sum := filepath.Join(dir, "output"), filepath.Join(dir, "env"), filepath.Join(dir, "summary")
	env := []string{
		"GITHUB_ACTIONS=true", "GITHUB_REPOSITORY=octo/app", "GITHUB_RUN_ID=99", "GITHUB_SERVER_URL=https://github.com",
		"GITHUB_OUTPUT=" + out, "GITHUB_ENV=" + envFile, "GITHUB_STEP_SUMMARY=" + sum,
	}
	for k, v := range inputs {
		env = append(env, "INPUT_"+strings.ToUpper(k)+"="+v)
	}
	cmd := exec.Command(binary)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := run{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.exitCode = ee.ExitCode()
	case err != nil:
		t.Fatalf("run pat-action: %v", err)
	}
	r.outputs, r.env, r.summary = fileCommands(t, out), fileCommands(t, envFile), readFile(t, sum)
	return r
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fileCommands parses a GITHUB_OUTPUT/GITHUB_ENV file as the runner does.
func fileCommands(t *testing.T, path string) map[string]string {
	t.Helper()
	m := map[string]string{}
	lines := strings.Split(readFile(t, path), "\n")
	for i := 0; i < len(lines); i++ {
		if lines[i] == "" {
			continue
		}
		name, delim, ok := strings.Cut(lines[i], "<<")
		if !ok {
			k, v, _ := strings.Cut(lines[i], "=")
			m[k] = v
			continue
		}
		var val []string
		for i++; i < len(lines) && lines[i] != delim; i++ {
			val = append(val, lines[i])
		}
		m[name] = strings.Join(val, "\n")
	}
	return m
}

// checkSecrets asserts that no secret shows anywhere but in its own mask
// line, and that the mask comes before the first line that names afterID.
func checkSecrets(t *testing.T, r run, secrets []string, afterID string) {
	t.Helper()
	lines := strings.Split(r.stdout, "\n")
	for _, s := range secrets {
		if s == "" {
			continue
		}
		maskAt, idAt := -1, -1
		for i, l := range lines {
			if strings.Contains(l, s) {
				if l != "::add-mask::"+s {
					t.Errorf("stdout line %d holds a secret outside its mask: %q", i, strings.ReplaceAll(l, s, "<SECRET>"))
				} else if maskAt < 0 {
					maskAt = i
				}
			}
			if afterID != "" && idAt < 0 && strings.Contains(l, afterID) {
				idAt = i
			}
		}
		if afterID != "" && maskAt >= 0 && idAt >= 0 && idAt < maskAt {
			t.Errorf("line %d names %s before its mask on line %d", idAt, afterID, maskAt)
		}
		for where, text := range map[string]string{"stderr": r.stderr, "summary": r.summary, "outputs": fmt.Sprint(r.outputs)} {
			if strings.Contains(text, s) {
				t.Errorf("a secret reached %s", where)
			}
		}
	}
}

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

func seed(useCase, scopeKey, old string) emulator.Seed {
	created := time.Now().Add(-time.Hour)
	expires := time.Now().Add(5 * 24 * time.Hour)
	return emulator.Seed{
		Groo: emulator.GrooSeed{Tokens: []emulator.SeedToken{{ID: "tok_old", Name: useCase, Secret: old, CreatedAt: &created, ExpiresAt: &expires}}},
		GitHub: emulator.GitHubSeed{
			Tokens: []string{writer}, ReadOnlyTokens: []string{readOnly},
			Repositories: []string{"octo/app", "octo/api"}, Environments: []string{"octo/app:prod/eu"},
			Secrets: []emulator.SeedSecret{{Scope: scopeKey, Name: "GROO_PAT", Value: old}},
		},
	}
}

func TestBinaryRotatesEveryScope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		scope    string
		inputs   map[string]string
		useCase  string
		scopeKey string
		check    func(t *testing.T, s emulator.SecretState)
	}{
		{"repository", map[string]string{"repository": "octo/app"}, "GitHub Actions - octo/app GROO_PAT", "repo:octo/app", nil},
		{"environment", map[string]string{"scope": "environment", "environment": "prod/eu"},
			"GitHub Actions - octo/app env:prod/eu GROO_PAT", "env:octo/app:prod/eu", nil},
		{"organization", map[string]string{"scope": "organization", "visibility": "selected", "selected-repositories": "app,api"},
			"GitHub Actions - org octo GROO_PAT", "org:octo", func(t *testing.T, s emulator.SecretState) {
				if s.Visibility != "selected" || len(s.SelectedRepositoryIDs) != 2 {
					t.Errorf("visibility %q repositories %v, want selected with 2", s.Visibility, s.SelectedRepositoryIDs)
				}
			}},
		{"dependabot", map[string]string{"scope": "dependabot"}, "Dependabot - octo/app GROO_PAT", "dependabot:octo/app", nil},
		{"dependabot-organization", map[string]string{"scope": "dependabot-organization", "organization": "octo"},
			"Dependabot - org octo GROO_PAT", "dependabot-org:octo", nil},
	}
	for _, tc := range tests {
		t.Run(tc.scope, func(t *testing.T) {
			t.Parallel()
			old := newPAT(t)
			emu, url := conformingServer(t, seed(tc.useCase, tc.scopeKey, old))
			in := map[string]string{"groo-token": old, "github-token": writer, "groo-api-url": url, "github-api-url": url,
				"secret-name": "GROO_PAT", "expires-in": "7d", "revoke-grace": "0s", "mode": "rotate", "export-env": "true"}
			for k, v := range tc.inputs {
				in[k] = v
			}
			r := runBinary(t, in)
			if r.exitCode != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.exitCode, r.stdout, r.stderr)
			}
			st := emu.State()
			sec, ok := st.Secret(tc.scopeKey, "GROO_PAT")
			if !ok || sec.Value == old {
				t.Fatalf("secret %s GROO_PAT not rotated", tc.scopeKey)
			}
			newTok, ok := st.TokenBySecret(sec.Value)
			if !ok || !newTok.Live(st.Now) || newTok.Name != tc.useCase {
				t.Fatalf("the secret holds %+v, want a live token named %q", newTok, tc.useCase)
			}
			if oldTok, _ := st.TokenBySecret(old); !oldTok.Revoked {
				t.Error("the old token is still live")
			}
			if live := st.LiveTokens(tc.useCase); len(live) != 1 {
				t.Errorf("%d live tokens of the use case, want 1", len(live))
			}
			if len(st.Violations) > 0 {
				t.Errorf("emulator violations: %v", st.Violations)
			}
			if tc.check != nil {
				tc.check(t, sec)
			}
			if r.outputs["token-id"] != newTok.ID || r.outputs["rotated"] != "true" || r.outputs["revoked-token-ids"] != "tok_old" ||
				r.outputs["token-last4"] != sec.Value[len(sec.Value)-4:] {
				t.Errorf("outputs %v", r.outputs)
			}
			if r.env["GROO_PAT"] != sec.Value {
				t.Error("export-env did not put the new token in GITHUB_ENV")
			}
			if !strings.Contains(r.summary, newTok.ID) {
				t.Errorf("summary lacks the new token id:\n%s", r.summary)
			}
			checkSecrets(t, r, []string{sec.Value, old, writer}, newTok.ID)
		})
	}
}

func TestBinaryFailures(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - octo/app GROO_PAT"
	tests := []struct {
		name      string
		revoked   bool
		forbid    bool
		inputs    map[string]string
		want      []string
		noTraffic bool
	}{
		{name: "read-only GitHub token (GITHUB_TOKEN)", inputs: map[string]string{"github-token": readOnly},
			want: []string{"403", "GITHUB_TOKEN", "fine-grained PAT", "app-id and app-private-key"}},
		{name: "revoked groo token", revoked: true,
			want: []string{"groo-token is not a live PAT", "401"}},
		{name: "groo token without permission", forbid: true,
			want: []string{"groo-token may not manage tokens", "403"}},
		{name: "bad secret name", inputs: map[string]string{"secret-name": "GITHUB_PAT"},
			want: []string{"::error::input secret-name: ", "GITHUB_"}, noTraffic: true},
		{name: "bad duration", inputs: map[string]string{"expires-in": "7x"},
			want: []string{`::error::input expires-in: invalid duration "7x": write e.g. 90m, 72h, 7d or 1d12h`}, noTraffic: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			old := newPAT(t)
			s := seed(uc, "repo:octo/app", old)
			s.Groo.Tokens[0].Revoked = tc.revoked
			s.Groo.Tokens[0].Forbidden = tc.forbid
			var opts []ghconform.Option
			if tc.noTraffic {
				opts = append(opts, ghconform.AllowNone())
			}
			emu, url := conformingServer(t, s, opts...)
			in := map[string]string{"groo-token": old, "github-token": writer, "groo-api-url": url, "github-api-url": url}
			for k, v := range tc.inputs {
				in[k] = v
			}
			r := runBinary(t, in)
			if r.exitCode != 1 {
				t.Fatalf("exit %d, want 1\n%s", r.exitCode, r.stdout)
			}
			var errLines []string
			for _, l := range strings.Split(r.stdout, "\n") {
				if strings.HasPrefix(l, "::error::") {
					errLines = append(errLines, l)
				}
			}
			if len(errLines) == 0 {
				t.Fatalf("no ::error:: line:\n%s", r.stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(errLines[0], w) {
					t.Errorf("error %q lacks %q", errLines[0], w)
				}
			}
			st := emu.State()
			if tc.noTraffic {
				for route, n := range st.Hits {
					if n > 0 {
						t.Errorf("%d requests to %s before the input was refused", n, route)
					}
				}
			}
			// Nothing changed: the secret holds the old value, no new token is live.
			if sec, _ := st.Secret("repo:octo/app", "GROO_PAT"); sec.Value != old || sec.Writes != 0 {
				t.Error("the secret changed")
			}
			var secrets []string
			for _, tok := range st.Tokens {
				secrets = append(secrets, tok.Secret)
				if tok.ID != "tok_old" && tok.Live(st.Now) {
					t.Errorf("failed run left token %s live", tok.ID)
				}
			}
			if r.outputs["rotated"] == "true" || len(r.env) != 0 {
				t.Errorf("outputs %v env %v", r.outputs, r.env)
			}
			checkSecrets(t, r, append(secrets, writer, readOnly), "")
		})
	}
}

// TestBinaryAsGitHubApp: the App's requests (the installation lookup with
// the App's JWT, the installation token) conform like the rest, and the
// installation token writes the secret.
func TestBinaryAsGitHubApp(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - octo/app GROO_PAT"
	old := newPAT(t)
	s := seed(uc, "repo:octo/app", old)
	s.GitHub.Apps = []emulator.SeedApp{{ID: 42, Installations: []emulator.SeedInstallation{{ID: 7, Account: "octo"}}}}
	emu, url := conformingServer(t, s)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	r := runBinary(t, map[string]string{"groo-token": old, "app-id": "42", "app-private-key": keyPEM,
		"groo-api-url": url, "github-api-url": url})
	if r.exitCode != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.exitCode, r.stdout, r.stderr)
	}
	st := emu.State()
	if st.Hits[emulator.RouteInstallation] != 1 || st.Hits[emulator.RouteAppToken] != 1 {
		t.Errorf("hits %v: want one installation lookup and one installation token", st.Hits)
	}
	sec, _ := st.Secret("repo:octo/app", "GROO_PAT")
	if tok, ok := st.TokenBySecret(sec.Value); !ok || !tok.Live(st.Now) || tok.Name != uc || sec.Value == old {
		t.Errorf("the secret holds %+v, want a new live token of %q", tok, uc)
	}
}

// Outside a runner, --help and --version print their text and exit 0
// instead of failing on missing inputs; any other argument exits 2.
func TestBinaryCommandLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string
	}{
		{"-h", []string{"-h"}, 0, "usage: pat-action [--help | --version]", ""},
		{"--help", []string{"--help"}, 0, "INPUT_*", ""},
		{"--version", []string{"--version"}, 0, "pat-action ", ""},
		{"unknown argument", []string{"rotate"}, 2, "", `unexpected argument "rotate"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(binary, tt.args...)
			cmd.Env = []string{} // no runner: no GITHUB_* and no INPUT_*
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			out := stdout.String() + stderr.String()
			if code != tt.code || !strings.Contains(stdout.String(), tt.stdout) || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("exit %d (want %d)\nstdout (want %q):\n%s\nstderr (want %q):\n%s", code, tt.code, tt.stdout, stdout.String(), tt.stderr, stderr.String())
			}
			if strings.Contains(out, "::error") {
				t.Errorf("annotations outside a runner:\n%s", out)
			}
		})
	}
}
