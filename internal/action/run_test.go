package action

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/groo/pat-action/internal/emulator"
	"github.com/groo/pat-action/internal/emulator/emulatortest"
	"github.com/groo/pat-action/internal/ghconform"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/testkit"
)

// These tests hold the runner contract through go-githubactions' seams: the
// inputs arrive as INPUT_* variables, commands go to the writer, outputs,
// summary and env go to the runner's files, and the emulator stands in for
// Groo and GitHub over real HTTP.

// step is one run of the Action.
type step struct {
	inputs map[string]string
	env    map[string]string // runner variables besides the files; nil: a typical run
	noEnv  bool              // no GITHUB_ENV file
	now    func() time.Time  // the engine's clock; nil: the real one
	// noGitHub lets the step make no GitHub request: the conformance check
	// otherwise fails a step through which none went (see conformingClient).
	noGitHub bool
	// wrap, when set, stands between the conformance check and the network
	// (a test's fake answers).
	wrap func(http.RoundTripper) http.RoundTripper
}

// stepResult is what the runner would see.
type stepResult struct {
	err     error
	log     string
	outputs map[string]string
	env     map[string]string
	summary string
}

func runStep(t *testing.T, s step) stepResult {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"GITHUB_OUTPUT":       filepath.Join(dir, "output"),
		"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"),
		"GITHUB_ENV":          filepath.Join(dir, "env"),
	}
	if s.noEnv {
		delete(files, "GITHUB_ENV")
	}
	vars := map[string]string{}
	if s.env == nil {
		s.env = map[string]string{"GITHUB_REPOSITORY": "octo/app", "GITHUB_RUN_ID": "4242", "GITHUB_SERVER_URL": "https://github.com"}
	}
	for k, v := range s.env {
		vars[k] = v
	}
	for k, v := range files {
		vars[k] = v
	}
	for k, v := range s.inputs {
		// The runner's naming, which GetInput reads: upper case, hyphens kept.
		vars["INPUT_"+strings.ToUpper(k)] = v
	}
	log := &testkit.Buffer{}
	a := githubactions.New(githubactions.WithGetenv(func(k string) string { return vars[k] }), githubactions.WithWriter(log))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	deps := Deps{Log: log, HTTPClient: conformingClient(t, s.noGitHub)}
	if s.wrap != nil {
		deps.HTTPClient.Transport = s.wrap(deps.HTTPClient.Transport)
	}
	deps.Engine.Now = s.now
	err := Run(ctx, a, deps)
	return stepResult{err: err, log: log.String(), outputs: readFileCommands(t, files["GITHUB_OUTPUT"]),
		env: readFileCommands(t, files["GITHUB_ENV"]), summary: readFile(t, files["GITHUB_STEP_SUMMARY"])}
}

// conformingClient is the step's HTTP client, which carries every request to
// Groo and GitHub (Deps.HTTPClient): each GitHub request, the GitHub App's
// included, is checked against GitHub's OpenAPI description, and the test
// fails at its end on one that does not conform, or when no GitHub request
// was made and noGitHub is false.
func conformingClient(t *testing.T, noGitHub bool) *http.Client {
	t.Helper()
	var opts []ghconform.Option
	if noGitHub {
		opts = append(opts, ghconform.AllowNone())
	}
	return &http.Client{Transport: ghconform.New(t, http.DefaultTransport, opts...), Timeout: time.Minute}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	if path == "" {
		return ""
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readFileCommands parses GITHUB_OUTPUT / GITHUB_ENV as the runner does:
// name=value lines and name<<DELIM heredocs.
func readFileCommands(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	lines := strings.Split(readFile(t, path), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l == "" {
			continue
		}
		if name, delim, ok := strings.Cut(l, "<<"); ok {
			var val []string
			for i++; i < len(lines) && lines[i] != delim; i++ {
				val = append(val, lines[i])
			}
			if i == len(lines) {
				t.Fatalf("%s: heredoc %s not closed", path, name)
			}
			out[name] = strings.Join(val, "\n")
			continue
		}
		name, val, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("%s: bad line %q", path, l)
		}
		out[name] = val
	}
	return out
}

// world is a seeded emulator with one use case whose secret holds oldPAT.
type world struct {
	emu    *emulator.Emulator
	url    string
	oldPAT string
	// shift moves the emulator's clock (Groo's and GitHub's) ahead of real
	// time: the retire rule reads Groo's clock, so a test that lets time
	// pass moves that one, and the engine's with now.
	shift *atomic.Int64
}

func (w *world) now() time.Time { return time.Now().Add(time.Duration(w.shift.Load())) }

const (
	writerToken   = "ghp_writerwriterwriter"
	readOnlyToken = "ghs_readonlyreadonlyreadonly"
	appID         = 42
)

func newWorld(t *testing.T, useCase, scopeKey string, mutate func(*emulator.Seed)) *world {
	t.Helper()
	old := testkit.PAT(t)
	created := time.Now().Add(-time.Hour)
	expires := time.Now().Add(6 * 24 * time.Hour)
	seed := emulator.Seed{
		Groo: emulator.GrooSeed{Tokens: []emulator.SeedToken{{ID: "tok_old", Name: useCase, Secret: old, CreatedAt: &created, ExpiresAt: &expires}}},
		GitHub: emulator.GitHubSeed{
			Tokens: []string{writerToken}, ReadOnlyTokens: []string{readOnlyToken},
			Repositories: []string{"octo/app", "octo/api", "octo/web"}, Environments: []string{"octo/app:prod/eu"},
			Apps:    []emulator.SeedApp{{ID: appID, Installations: []emulator.SeedInstallation{{ID: 7, Account: "octo"}}}, {ID: 43}},
			Secrets: []emulator.SeedSecret{{Scope: scopeKey, Name: "GROO_PAT", Value: old}},
		},
	}
	if mutate != nil {
		mutate(&seed)
	}
	w := &world{oldPAT: old, shift: &atomic.Int64{}}
	w.emu, w.url = emulatortest.NewServer(t, seed, emulator.WithClock(w.now))
	return w
}

// inputs are a typical step's inputs against the world, plus extra
// (an empty value removes an input).
func (w *world) inputs(extra map[string]string) map[string]string {
	m := map[string]string{
		inGrooToken: w.oldPAT, inGitHubToken: writerToken, inGrooAPIURL: w.url, inGitHubAPIURL: w.url,
	}
	for k, v := range extra {
		if v == "" {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return m
}

func totalHits(s emulator.State) int {
	n := 0
	for _, v := range s.Hits {
		n += v
	}
	return n
}

// assertOnlyMasked checks that secret appears in the log only in its own
// ::add-mask:: line, and that this line comes before any line that names
// id (the token's id marks where the run starts talking about it).
func assertOnlyMasked(t *testing.T, log, secret, id string) {
	t.Helper()
	maskAt, idAt := -1, -1
	for i, l := range strings.Split(log, "\n") {
		if strings.Contains(l, secret) {
			if l != "::add-mask::"+secret {
				t.Errorf("log line %d holds a secret outside its mask: %q", i, strings.ReplaceAll(l, secret, "<SECRET>"))
			} else if maskAt == -1 {
				maskAt = i
			}
		}
		if id != "" && idAt == -1 && strings.Contains(l, id) {
			idAt = i
		}
	}
	if maskAt == -1 {
		t.Errorf("no ::add-mask:: for the secret")
	}
	if id != "" && idAt != -1 && idAt < maskAt {
		t.Errorf("line %d names %s before the mask on line %d", idAt, id, maskAt)
	}
}

func TestRunRotatesRepositorySecret(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - octo/app GROO_PAT"
	w := newWorld(t, uc, "repo:octo/app", nil)
	res := runStep(t, step{inputs: w.inputs(map[string]string{inRepository: "octo/app"})})
	if res.err != nil {
		t.Fatalf("run failed: %v\n%s", res.err, res.log)
	}

	st := w.emu.State()
	sec, ok := st.Secret("repo:octo/app", "GROO_PAT")
	if !ok || sec.Value == w.oldPAT || sec.Writes != 1 {
		t.Fatalf("secret not rotated: %+v", sec)
	}
	newTok, ok := st.TokenBySecret(sec.Value)
	if !ok || !newTok.Live(st.Now) || newTok.Name != uc {
		t.Fatalf("secret holds %+v", newTok)
	}
	if live := st.LiveTokens(uc); len(live) != 1 {
		t.Errorf("%d live tokens, want 1 (I3)", len(live))
	}
	if old, _ := st.TokenBySecret(w.oldPAT); !old.Revoked {
		t.Error("old token still live")
	}
	if len(st.Violations) > 0 {
		t.Errorf("emulator violations: %v", st.Violations)
	}

	// Outputs.
	exp, err := time.Parse(time.RFC3339, res.outputs["expires-at"])
	if err != nil || exp.Sub(time.Now().Add(168*time.Hour)).Abs() > time.Minute {
		t.Errorf("expires-at = %q (%v), want about now+168h in RFC 3339", res.outputs["expires-at"], err)
	}
	want := map[string]string{"token-id": newTok.ID, "token-last4": sec.Value[len(sec.Value)-4:], "rotated": "true",
		"revoked-token-ids": "tok_old", "pending-revoke-token-ids": "", "expires-at": res.outputs["expires-at"]}
	for k, v := range want {
		if got, ok := res.outputs[k]; !ok || got != v {
			t.Errorf("output %s = %q, want %q", k, got, v)
		}
	}
	if len(res.outputs) != len(outputNames) {
		t.Errorf("outputs %v, want exactly %v", res.outputs, outputNames)
	}
	if len(res.env) != 0 {
		t.Errorf("GITHUB_ENV written without export-env: %v", res.env)
	}

	// Masks and the log: no secret anywhere but in its mask line.
	assertOnlyMasked(t, res.log, sec.Value, newTok.ID)
	assertOnlyMasked(t, res.log, w.oldPAT, "")
	assertOnlyMasked(t, res.log, writerToken, "")
	if !strings.HasPrefix(res.log, "::add-mask::") {
		t.Errorf("the log does not start with the masks: %q", firstLine(res.log))
	}
	for _, s := range []string{sec.Value, w.oldPAT, writerToken} {
		if strings.Contains(res.summary, s) || strings.Contains(strings.Join(mapValues(res.outputs), " "), s) {
			t.Error("a secret reached the summary or the outputs")
		}
	}
	if !strings.Contains(res.log, `"outcome":"succeeded"`) || !strings.Contains(res.log, `"outcome":"started"`) {
		t.Errorf("no audit JSON lines in the log:\n%s", res.log)
	}
	for _, frag := range []string{"Groo PAT rotated", "`" + newTok.ID + "`", "`tok_old`", "https://github.com/octo/app/actions/runs/4242"} {
		if !strings.Contains(res.summary, frag) {
			t.Errorf("summary lacks %q:\n%s", frag, res.summary)
		}
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func TestRunRejectsBadInputsBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - octo/app GROO_PAT"
	for _, tc := range invalidInputs {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, uc, "repo:octo/app", nil)
			in := map[string]string{inGrooAPIURL: w.url, inGitHubAPIURL: w.url}
			for k, v := range tc.in {
				in[k] = v
			}
			before := w.emu.State()
			// No GITHUB_REPOSITORY nor GITHUB_ENV: the cases that test their absence need it.
			res := runStep(t, step{inputs: in, env: map[string]string{}, noEnv: true, noGitHub: true})
			var failed *FailedError
			if !errors.As(res.err, &failed) {
				t.Fatalf("err = %v, want a reported failure", res.err)
			}
			if !strings.Contains(res.log, "::error::input "+tc.input+": ") {
				t.Errorf("no ::error:: for input %s:\n%s", tc.input, res.log)
			}
			after := w.emu.State()
			if n := totalHits(after); n != 0 {
				t.Errorf("%d requests made before validation failed: %v", n, after.Hits)
			}
			if len(after.Tokens) != len(before.Tokens) {
				t.Error("tokens changed")
			}
			for _, s := range []string{tc.in[inGrooToken], tc.in[inGitHubToken]} {
				if s != "" {
					assertOnlyMasked(t, res.log, s, "")
				}
			}
			if res.outputs["rotated"] != "" || len(res.env) != 0 {
				t.Errorf("outputs %v env %v written for a refused run", res.outputs, res.env)
			}
			// Nothing from an input starts a workflow command of its own.
			for _, l := range strings.Split(strings.TrimSpace(res.log), "\n") {
				if !strings.HasPrefix(l, "::add-mask::") && !strings.HasPrefix(l, "::error::input ") {
					t.Errorf("log line is neither a mask nor an input error: %q", l)
				}
			}
		})
	}
}

func TestRunGraceLeavesOldTokenPending(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - octo/app GROO_PAT"
	w := newWorld(t, uc, "repo:octo/app", nil)
	res := runStep(t, step{inputs: w.inputs(map[string]string{inRevokeGrace: "1h"})})
	if res.err != nil {
		t.Fatalf("run failed: %v\n%s", res.err, res.log)
	}
	if !strings.Contains(res.log, "::warning::token tok_old stays live for the revoke-grace of 1h0m0s") {
		t.Errorf("no pending warning:\n%s", res.log)
	}
	if res.outputs["pending-revoke-token-ids"] != "tok_old" || res.outputs["revoked-token-ids"] != "" || res.outputs["rotated"] != "true" {
		t.Errorf("outputs %v", res.outputs)
	}
	st := w.emu.State()
	if old, _ := st.TokenBySecret(w.oldPAT); !old.Live(st.Now) {
		t.Error("old token revoked during its grace")
	}
	sec, _ := st.Secret("repo:octo/app", "GROO_PAT")
	if sec.Value == w.oldPAT {
		t.Error("secret not rotated")
	}
}

// TestRunRevokesAfterGraceOnALaterRun is the Action's only way to honour a
// grace (it keeps no state and has no sweep): the next run revokes a token
// whose successor was written more than the grace ago, and keeps only the
// token it replaces itself.
func TestRunRevokesAfterGraceOnALaterRun(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - octo/app GROO_PAT"
	w := newWorld(t, uc, "repo:octo/app", nil)
	first := runStep(t, step{inputs: w.inputs(map[string]string{inRevokeGrace: "1h"})})
	if first.err != nil || first.outputs["pending-revoke-token-ids"] != "tok_old" {
		t.Fatalf("first run: %v %v\n%s", first.err, first.outputs, first.log)
	}
	sec, _ := w.emu.State().Secret("repo:octo/app", "GROO_PAT")

	// The next nightly run, two hours later.
	w.shift.Add(int64(2 * time.Hour))
	second := runStep(t, step{inputs: w.inputs(map[string]string{inGrooToken: sec.Value, inRevokeGrace: "1h"}), now: w.now})
	if second.err != nil {
		t.Fatalf("second run: %v\n%s", second.err, second.log)
	}
	if second.outputs["revoked-token-ids"] != "tok_old" || second.outputs["pending-revoke-token-ids"] != first.outputs["token-id"] {
		t.Errorf("second run revoked %q and left %q pending; want tok_old revoked (its successor was written 2h ago, grace 1h) and only %s pending",
			second.outputs["revoked-token-ids"], second.outputs["pending-revoke-token-ids"], first.outputs["token-id"])
	}
	if live := w.emu.State().LiveTokens(uc); len(live) != 2 {
		t.Errorf("%d live tokens after the second run, want 2 (the new one and the one in its grace)", len(live))
	}
}

func TestRunLeavesTooRecentTokenLive(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - octo/app GROO_PAT"
	w := newWorld(t, uc, "repo:octo/app", func(s *emulator.Seed) {
		s.Groo.Tokens[0].CreatedAt = nil // minted now: another run may still be writing it
	})
	res := runStep(t, step{inputs: w.inputs(nil)})
	if res.err != nil {
		t.Fatalf("run failed: %v\n%s", res.err, res.log)
	}
	if !strings.Contains(res.log, "::warning::token tok_old was left live") {
		t.Errorf("no too-recent warning:\n%s", res.log)
	}
	if res.outputs["pending-revoke-token-ids"] != "tok_old" {
		t.Errorf("outputs %v", res.outputs)
	}
}

func TestRunExportEnv(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - octo/app GROO_PAT"
	w := newWorld(t, uc, "repo:octo/app", nil)
	res := runStep(t, step{inputs: w.inputs(map[string]string{inExportEnv: "true"})})
	if res.err != nil {
		t.Fatalf("run failed: %v\n%s", res.err, res.log)
	}
	sec, _ := w.emu.State().Secret("repo:octo/app", "GROO_PAT")
	if res.env["GROO_PAT"] != sec.Value || len(res.env) != 1 {
		t.Errorf("GITHUB_ENV = %v, want GROO_PAT=<the new token>", mapKeys(res.env))
	}
	assertOnlyMasked(t, res.log, sec.Value, res.outputs["token-id"])
}

func mapKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRunFailures(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - octo/app GROO_PAT"
	tests := []struct {
		name   string
		mutate func(*emulator.Seed)
		inputs map[string]string
		want   []string // fragments of the ::error:: line
	}{
		{"read-only GitHub token", nil, map[string]string{inGitHubToken: readOnlyToken},
			[]string{"GitHub answered 403", "GITHUB_TOKEN (secrets.GITHUB_TOKEN) can never write secrets", `"Secrets: write"`, "app-id and app-private-key"}},
		{"revoked groo token", func(s *emulator.Seed) { s.Groo.Tokens[0].Revoked = true }, nil,
			[]string{"groo-token is not a live PAT", "401", "https://accounts.groo.dev", "gh secret set GROO_PAT -R octo/app"}},
		{"groo token without the tokens scope", func(s *emulator.Seed) { s.Groo.Tokens[0].Forbidden = true }, nil,
			[]string{"groo-token may not manage tokens", "403"}},
		{"unknown GitHub token", nil, map[string]string{inGitHubToken: "ghp_unknown"},
			[]string{"401", "github-token is expired, revoked or malformed"}},
		{"repository the token cannot see", nil, map[string]string{inRepository: "octo/secret-project"},
			[]string{"404", "GitHub does not show repo:octo/secret-project to github-token"}},
		{"app not installed", nil, map[string]string{inGitHubToken: "", inAppID: "43", inAppKey: testKeyPEM},
			[]string{"GitHub App 43 on octo/app", "not installed on octo/app"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, uc, "repo:octo/app", tc.mutate)
			res := runStep(t, step{inputs: w.inputs(tc.inputs)})
			var failed *FailedError
			if !errors.As(res.err, &failed) {
				t.Fatalf("err = %v, want a reported failure\n%s", res.err, res.log)
			}
			var errLine string
			for _, l := range strings.Split(res.log, "\n") {
				if strings.HasPrefix(l, "::error::") {
					errLine = l
					break
				}
			}
			t.Log(errLine)
			for _, f := range tc.want {
				if !strings.Contains(errLine, f) {
					t.Errorf("error line lacks %q:\n%s", f, errLine)
				}
			}
			st := w.emu.State()
			// I4: no new live token; the secret still holds the old value.
			for _, tok := range st.Tokens {
				if tok.ID != "tok_old" && tok.Live(st.Now) {
					t.Errorf("failed run left new token %s live", tok.ID)
				}
				assertNotInLog(t, res, tok.Secret)
			}
			if sec, _ := st.Secret("repo:octo/app", "GROO_PAT"); sec.Value != w.oldPAT {
				t.Error("secret changed by a failed run")
			}
			if res.outputs["rotated"] != "false" {
				t.Errorf("rotated = %q, want false", res.outputs["rotated"])
			}
			if !strings.Contains(res.summary, "rotation failed") {
				t.Errorf("summary:\n%s", res.summary)
			}
		})
	}
}

// assertNotInLog checks a token's value appears only masked, and never in
// the outputs or the summary.
func assertNotInLog(t *testing.T, res stepResult, secret string) {
	t.Helper()
	for i, l := range strings.Split(res.log, "\n") {
		if strings.Contains(l, secret) && l != "::add-mask::"+secret {
			t.Errorf("log line %d holds a token", i)
		}
	}
	if strings.Contains(res.summary, secret) || strings.Contains(strings.Join(mapValues(res.outputs), " "), secret) {
		t.Error("a token reached the summary or the outputs")
	}
}

func TestRunWithGitHubApp(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - org octo GROO_PAT"
	w := newWorld(t, uc, "org:octo", nil)
	res := runStep(t, step{inputs: w.inputs(map[string]string{inGitHubToken: "", inAppID: "42", inAppKey: testKeyPEM,
		inScope: "organization", inVisibility: "selected", inSelected: "app,api"})})
	if res.err != nil {
		t.Fatalf("run failed: %v\n%s", res.err, res.log)
	}
	st := w.emu.State()
	sec, _ := st.Secret("org:octo", "GROO_PAT")
	if sec.Value == w.oldPAT || sec.Visibility != "selected" || len(sec.SelectedRepositoryIDs) != 2 {
		t.Errorf("org secret %+v", sec)
	}
	if st.Hits[emulator.RouteInstallation] != 1 || st.Hits[emulator.RouteAppToken] != 1 {
		t.Errorf("hits %v: want one installation lookup and one token", st.Hits)
	}
	// The installation token is masked like the PAT: find it in the mask lines.
	var ghs string
	for _, l := range strings.Split(res.log, "\n") {
		if v, ok := strings.CutPrefix(l, "::add-mask::ghs_"); ok {
			ghs = "ghs_" + v
		}
	}
	if ghs == "" {
		t.Fatal("installation token not masked")
	}
	assertOnlyMasked(t, res.log, ghs, "")
	assertNotInLog(t, res, sec.Value)
	for _, l := range masksFor(testKeyPEM) {
		assertOnlyMasked(t, res.log, l, "")
	}
}

func TestRunPlanChangesNothing(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - octo/app GROO_PAT"
	w := newWorld(t, uc, "repo:octo/app", nil)
	res := runStep(t, step{inputs: w.inputs(map[string]string{inMode: "plan"})})
	if res.err != nil {
		t.Fatalf("run failed: %v\n%s", res.err, res.log)
	}
	st := w.emu.State()
	for _, r := range []string{emulator.RouteGrooCreate, emulator.RouteGrooRevoke, emulator.RouteSecretPut} {
		if st.Hits[r] != 0 {
			t.Errorf("plan hit %s", r)
		}
	}
	if sec, _ := st.Secret("repo:octo/app", "GROO_PAT"); sec.Value != w.oldPAT {
		t.Error("plan changed the secret")
	}
	for _, frag := range []string{"Plan for repo:octo/app GROO_PAT", "revoke tok_old at once", `"outcome":"planned"`} {
		if !strings.Contains(res.log, frag) {
			t.Errorf("log lacks %q:\n%s", frag, res.log)
		}
	}
	if res.outputs["rotated"] != "false" || !strings.Contains(res.summary, "nothing changed") {
		t.Errorf("outputs %v summary %s", res.outputs, res.summary)
	}
}

func TestRunAudit(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - octo/app GROO_PAT"
	t.Run("one live token", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, uc, "repo:octo/app", nil)
		res := runStep(t, step{inputs: w.inputs(map[string]string{inMode: "audit"})})
		if res.err != nil || strings.Contains(res.log, "::error::") || strings.Contains(res.log, "::warning::") {
			t.Fatalf("audit failed: %v\n%s", res.err, res.log)
		}
		if !strings.Contains(res.log, "tok_old") || !strings.Contains(res.summary, "None: every use case has exactly one live token") ||
			!strings.Contains(res.summary, "`tok_old` (derived)") {
			t.Errorf("log:\n%s\nsummary:\n%s", res.log, res.summary)
		}
		if st := w.emu.State(); st.Hits[emulator.RouteSecretGet] != 1 || st.Hits[emulator.RouteSecretPut] != 0 {
			t.Errorf("audit did not read the secret's metadata once, or wrote it: %v", st.Hits)
		}
	})
	t.Run("without a GitHub credential", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, uc, "repo:octo/app", nil)
		res := runStep(t, step{inputs: w.inputs(map[string]string{inMode: "audit", inGitHubToken: ""}), noGitHub: true})
		if res.err != nil || strings.Contains(res.log, "::error::") {
			t.Fatalf("audit failed: %v\n%s", res.err, res.log)
		}
		// It cannot tell which token the secret holds: infos, no annotation.
		if !strings.Contains(res.summary, "`secret-unreadable`") || !strings.Contains(res.log, "INFO     secret-unreadable") ||
			strings.Contains(res.log, "::warning::") {
			t.Errorf("log:\n%s\nsummary:\n%s", res.log, res.summary)
		}
		if st := w.emu.State(); totalGitHubHits(st) != 0 {
			t.Errorf("audit without a GitHub credential called GitHub: %v", st.Hits)
		}
	})
	t.Run("two live tokens", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, uc, "repo:octo/app", func(s *emulator.Seed) {
			s.Groo.Tokens = append(s.Groo.Tokens, emulator.SeedToken{ID: "tok_stray", Name: uc, Secret: testkit.PAT(t)})
		})
		res := runStep(t, step{inputs: w.inputs(map[string]string{inMode: "audit", inGitHubToken: ""}), noGitHub: true})
		var failed *FailedError
		if !errors.As(res.err, &failed) {
			t.Fatalf("err = %v, want the audit to fail", res.err)
		}
		if !strings.Contains(res.log, "::error::multiple-live-tokens: 2 live tokens bear the use case's name (tok_old, tok_stray)") {
			t.Errorf("log:\n%s", res.log)
		}
		if st := w.emu.State(); st.Hits[emulator.RouteGrooRevoke]+st.Hits[emulator.RouteGrooCreate] != 0 || totalGitHubHits(st) != 0 {
			t.Errorf("audit changed or read GitHub: %v", st.Hits)
		}
	})
	t.Run("a missing secret", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, uc, "repo:octo/web", nil) // the secret is elsewhere
		res := runStep(t, step{inputs: w.inputs(map[string]string{inMode: "audit"})})
		if !strings.Contains(res.log, "::error::secret-missing: secret repo:octo/app GROO_PAT does not exist") || res.err == nil {
			t.Errorf("err %v, log:\n%s", res.err, res.log)
		}
	})
}

// auditPAT is a fixed token value for a seeded id, so that the summary's
// prefixes and last fours are stable.
func auditPAT(id string) string {
	sum := sha256.Sum256([]byte("pat-action audit test " + id))
	return groo.Prefix + hex.EncodeToString(sum[:])
}

// The Action's audit end to end on a fixed clock: two live tokens for the
// use case fail the step with an error annotation, the summary is the
// audit's Markdown, and nothing changes.
func TestRunAuditEndToEnd(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - octo/app GROO_PAT"
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clockAt := now.Add(-10 * 24 * time.Hour)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return clockAt }
	set := func(t time.Time) { mu.Lock(); defer mu.Unlock(); clockAt = t }

	emu := emulator.New(emulator.WithClock(clock))
	base, shutdown, err := emulator.Start("127.0.0.1:0", emu)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = shutdown(ctx)
	})
	cur, stray := now.Add(-3*24*time.Hour), now.Add(-24*time.Hour)
	curExp, strayExp := cur.Add(7*24*time.Hour), stray.Add(30*24*time.Hour)
	if err := emu.Seed(emulator.Seed{
		Groo: emulator.GrooSeed{Users: []emulator.SeedUser{{ID: "usr_octo", Email: "octo@example.com"}}, Tokens: []emulator.SeedToken{
			{ID: "tok_cur", Name: uc, Secret: auditPAT("tok_cur"), CreatedAt: &cur, ExpiresAt: &curExp},
			// Minted by another run (or by hand) after the secret was written.
			{ID: "tok_stray", Name: uc, Secret: auditPAT("tok_stray"), CreatedAt: &stray, ExpiresAt: &strayExp},
		}},
		GitHub: emulator.GitHubSeed{Tokens: []string{writerToken}, Repositories: []string{"octo/app"}},
	}); err != nil {
		t.Fatal(err)
	}
	set(cur.Add(30 * time.Second))
	if err := emu.Seed(emulator.Seed{GitHub: emulator.GitHubSeed{Secrets: []emulator.SeedSecret{
		{Scope: "repo:octo/app", Name: "GROO_PAT", Value: auditPAT("tok_cur")}}}}); err != nil {
		t.Fatal(err)
	}
	set(now)
	before := emu.State()

	res := runStep(t, step{now: func() time.Time { return now }, inputs: map[string]string{
		inMode: "audit", inGrooToken: auditPAT("tok_cur"), inGitHubToken: writerToken, inGrooAPIURL: base, inGitHubAPIURL: base,
	}})
	var failed *FailedError
	if !errors.As(res.err, &failed) {
		t.Fatalf("err = %v, want the step to fail\n%s", res.err, res.log)
	}
	if !strings.Contains(res.log, "\n::error::multiple-live-tokens: 2 live tokens bear the use case's name (tok_cur, tok_stray); "+
		"the rule is one per use case; the secret holds tok_cur. Fix: Run the Action with `mode: rotate`") {
		t.Errorf("no error annotation for multiple-live-tokens:\n%s", res.log)
	}
	if !strings.Contains(res.log, "Groo PAT audit, generated 2026-11-27T03:00:00Z for Groo user usr_octo") {
		t.Errorf("no table in the log:\n%s", res.log)
	}
	testkit.Golden(t, filepath.Join("testdata", "summary_audit_e2e.md"), []byte(res.summary))
	if res.outputs["rotated"] != "false" {
		t.Errorf("outputs %v", res.outputs)
	}

	// Nothing changed but the credential's last use; only reads were made.
	after := emu.State()
	strip := func(st emulator.State) string {
		st.Hits = nil
		st.Tokens = append([]emulator.TokenState(nil), st.Tokens...)
		for i := range st.Tokens {
			st.Tokens[i].LastUsed = nil
		}
		b, _ := json.Marshal(st)
		return string(b)
	}
	if strip(before) != strip(after) {
		t.Errorf("the audit changed the emulator's state:\nbefore %s\nafter  %s", strip(before), strip(after))
	}
	for _, r := range []string{emulator.RouteGrooCreate, emulator.RouteGrooRevoke, emulator.RouteSecretPut, emulator.RouteSecretDelete} {
		if after.Hits[r] != 0 {
			t.Errorf("audit hit %s", r)
		}
	}
	for _, v := range []string{auditPAT("tok_cur"), auditPAT("tok_stray"), writerToken} {
		if strings.Contains(res.summary, v) {
			t.Error("a token value reached the summary")
		}
	}
	assertOnlyMasked(t, res.log, auditPAT("tok_cur"), "")
	if strings.Contains(res.log, auditPAT("tok_stray")) {
		t.Error("a token value reached the log")
	}
}

func totalGitHubHits(s emulator.State) int {
	n := 0
	for k, v := range s.Hits {
		if strings.HasPrefix(k, "gh.") {
			n += v
		}
	}
	return n
}

// TestRunWithoutRunnerDefaults runs the binary's logic as a bare container
// would: only the two credentials as inputs, the target and URLs from the
// variables, and no runner files. It must rotate all the same.
func TestRunWithoutRunnerDefaults(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - octo/app GROO_PAT"
	w := newWorld(t, uc, "repo:octo/app", nil)
	vars := map[string]string{
		"INPUT_GROO-TOKEN": w.oldPAT, "INPUT_GITHUB-TOKEN": writerToken,
		"GITHUB_REPOSITORY": "octo/app", "GITHUB_API_URL": w.url, groo.EnvBaseURL: w.url,
	}
	log := &testkit.Buffer{}
	a := githubactions.New(githubactions.WithGetenv(func(k string) string { return vars[k] }), githubactions.WithWriter(log))
	if err := Run(context.Background(), a, Deps{Log: log, HTTPClient: conformingClient(t, false)}); err != nil {
		t.Fatalf("run failed: %v\n%s", err, log)
	}
	st := w.emu.State()
	if sec, _ := st.Secret("repo:octo/app", "GROO_PAT"); sec.Value == w.oldPAT || sec.Writes != 1 {
		t.Error("secret not rotated")
	}
	if !strings.Contains(log.String(), "::notice::GITHUB_OUTPUT is not set") {
		t.Errorf("no notice about the missing outputs file:\n%s", log)
	}
}

// Right after a healthy rotation with a revoke-grace of 15m, the Action's
// audit (no store) tells the replaced token in its grace by the retire rule:
// revoke-scheduled, and the step passes. Once the grace is over, the token
// counts again.
func TestRunAuditAfterRotationWithGrace(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - octo/app GROO_PAT"
	// The bootstrap token was made by hand, without expiry.
	w := newWorld(t, uc, "repo:octo/app", func(s *emulator.Seed) { s.Groo.Tokens[0].ExpiresAt = nil })
	rot := runStep(t, step{inputs: w.inputs(map[string]string{inRevokeGrace: "15m"}), now: w.now})
	if rot.err != nil || rot.outputs["pending-revoke-token-ids"] != "tok_old" {
		t.Fatalf("rotation: %v %v\n%s", rot.err, rot.outputs, rot.log)
	}
	sec, _ := w.emu.State().Secret("repo:octo/app", "GROO_PAT")
	audit := func() stepResult {
		return runStep(t, step{inputs: w.inputs(map[string]string{inMode: "audit", inGrooToken: sec.Value, inRevokeGrace: "15m"}), now: w.now})
	}

	res := audit()
	if res.err != nil {
		t.Errorf("audit right after a healthy rotation failed: %v\n%s", res.err, res.log)
	}
	if strings.Contains(res.log, "::error::") || !strings.Contains(res.log, "revoke-scheduled") ||
		!strings.Contains(res.log, "replaced token tok_old is in its revoke grace: revoke scheduled at ") {
		t.Errorf("want tok_old revoke-scheduled and no error:\n%s", res.log)
	}

	w.shift.Add(int64(20 * time.Minute))
	res = audit()
	var failed *FailedError
	if !errors.As(res.err, &failed) || !strings.Contains(res.log, "::error::multiple-live-tokens") ||
		!strings.Contains(res.log, "::error::no-expiry: token tok_old never expires. Fix: Run the Action with `mode: rotate`") {
		t.Errorf("after the grace: err %v, want multiple-live-tokens and no-expiry errors:\n%s", res.err, res.log)
	}
}
