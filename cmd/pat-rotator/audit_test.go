package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/audit/reportschema"
	"github.com/groo/pat-action/internal/audit/sqlitestore"
	"github.com/groo/pat-action/internal/emulator"
	"github.com/groo/pat-action/internal/ghconform"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/testkit"
)

// `pat-rotator audit` end to end: the real command line, configuration,
// daemon, Groo and GitHub clients and SQLite store, against an emulator on
// a clock the test sets. The daemon runs on the same fixed clock (cli.now),
// so every rendering is reproducible byte for byte.

var auditNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

const auditGitHubToken = "ghp_auditCommandFullAccessToken000000000"

const (
	ucApp  = "GitHub Actions - octo/app GROO_PAT"
	ucProd = "GitHub Actions - octo/app env:prod GROO_PAT"
	ucDep  = "Dependabot - octo/app GROO_PAT"
	ucOrg  = "GitHub Actions - org octo GROO_PAT"
	ucAPI  = "GitHub Actions - octo/api GROO_PAT"
	ucWeb  = "GitHub Actions - octo/web GROO_PAT"
)

// patFor is a deterministic Groo PAT for a seeded id.
func patFor(id string) string { return testkit.PATFor("pat-rotator audit test " + id) }

var at, atP = testkit.Time, testkit.TimeP

type seedTok struct {
	id, name, created string
	expires           *time.Time
	revoked           bool
	usedAt            []string
}

// auditTokens tell a story per use case (now is 2026-03-10 12:00Z, the
// daily schedule's next run 2026-03-11 03:00Z; policy max-ttl 100d,
// unused-after 14d):
//   - app: the store's token in the secret, an old extra token with a
//     120-day TTL unused for a month (its revoke pending), and one created
//     by hand without expiry: prunable extras;
//   - prod: the secret was written by hand after the last rotation;
//   - dependabot: a token but no secret;
//   - org: its secret's metadata cannot be read, and its token expires
//     before the next run;
//   - api: three failed rotations in a row, a failing revoke, a token
//     expiring before the next run;
//   - web: clean;
//   - two orphans: an old one (prunable) and one a minute old (kept);
//   - the bot's own PAT, a laptop token and a revoked one, none shown.
var auditTokens = []seedTok{
	{id: "tok_bot_01", name: "pat-rotator bot", created: "2025-06-01T00:00:00Z"},
	{id: "tok_lap_01", name: "laptop", created: "2025-07-01T00:00:00Z"},
	{id: "tok_app_cur", name: ucApp, created: "2026-03-09T03:00:00Z", expires: atP("2026-03-12T03:00:00Z"), usedAt: []string{"2026-03-10T11:00:00Z"}},
	{id: "tok_app_old", name: ucApp, created: "2026-02-01T00:00:00Z", expires: atP("2026-06-01T00:00:00Z"), usedAt: []string{"2026-02-10T08:00:00Z"}},
	{id: "tok_app_hnd", name: ucApp, created: "2026-02-15T09:30:00Z"},
	{id: "tok_prd_a01", name: ucProd, created: "2026-03-08T03:00:00Z", expires: atP("2026-03-11T03:00:00Z")},
	{id: "tok_prd_b02", name: ucProd, created: "2026-03-09T15:00:00Z", expires: atP("2026-03-12T15:00:00Z"), usedAt: []string{"2026-03-10T09:00:00Z"}},
	{id: "tok_dep_01", name: ucDep, created: "2026-03-09T00:00:00Z", expires: atP("2026-03-12T00:00:00Z")},
	{id: "tok_org_01", name: ucOrg, created: "2026-03-08T02:00:00Z", expires: atP("2026-03-11T02:00:00Z"), usedAt: []string{"2026-03-10T06:00:00Z"}},
	{id: "tok_api_01", name: ucAPI, created: "2026-03-07T03:00:00Z", expires: atP("2026-03-10T18:00:00Z"), usedAt: []string{"2026-03-10T10:00:00Z"}},
	{id: "tok_web_01", name: ucWeb, created: "2026-03-10T03:00:00Z", expires: atP("2026-03-13T03:00:00Z"), usedAt: []string{"2026-03-10T08:00:00Z"}},
	{id: "tok_web_00", name: ucWeb, created: "2026-03-07T03:00:00Z", expires: atP("2026-03-10T03:00:00Z"), revoked: true},
	{id: "tok_leg_01", name: "GitHub Actions - octo/legacy GROO_PAT", created: "2025-12-01T00:00:00Z", expires: atP("2026-06-01T00:00:00Z"), usedAt: []string{"2026-01-05T00:00:00Z"}},
	{id: "tok_leg_02", name: "Dependabot - octo/old GROO_PAT", created: "2026-03-10T11:59:00Z", expires: atP("2026-03-13T11:59:00Z")},
}

// auditSecrets: scope key, the token it holds, when it was written.
var auditSecrets = []struct{ scope, token, at string }{
	{"repo:octo/api", "tok_api_01", "2026-03-07T03:00:04Z"},
	{"org:octo", "tok_org_01", "2026-03-08T02:00:05Z"},
	{"repo:octo/app", "tok_app_cur", "2026-03-09T03:00:30Z"},
	{"env:octo/app:prod", "tok_prd_b02", "2026-03-09T15:00:10Z"}, // by hand
	{"repo:octo/web", "tok_web_01", "2026-03-10T03:00:05Z"},
}

type auditSetup struct {
	emu    *emulator.Emulator
	config string
	dbPath string
	env    map[string]string
}

// newAuditSetup starts the emulator the audit runs against, in process but
// checked as the binary's is: every GitHub request it receives must conform
// to GitHub's OpenAPI description, and one must come unless opts allow none.
func newAuditSetup(t *testing.T, opts ...ghconform.Option) *auditSetup {
	t.Helper()
	ck := &testkit.Clock{}
	ck.Set(at("2025-06-01T00:00:00Z"))
	chk := ghconform.New(t, nil, opts...) // before the server: it reports after the shutdown
	emu := emulator.New(emulator.WithClock(ck.Now), emulator.WithRequestHook(chk.Check))
	base, shutdown, err := emulator.Start("127.0.0.1:0", emu)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = shutdown(ctx)
	})

	seed := emulator.Seed{Groo: emulator.GrooSeed{Users: []emulator.SeedUser{{ID: "usr_bot", Email: "bot@example.com"}}}}
	for _, st := range auditTokens {
		created := at(st.created)
		seed.Groo.Tokens = append(seed.Groo.Tokens, emulator.SeedToken{ID: st.id, Name: st.name, Secret: patFor(st.id),
			ExpiresAt: st.expires, CreatedAt: &created, Revoked: st.revoked})
	}
	seed.GitHub = emulator.GitHubSeed{Tokens: []string{auditGitHubToken},
		Repositories: []string{"octo/app", "octo/api", "octo/web"}, Environments: []string{"octo/app:prod"}}
	if err := emu.Seed(seed); err != nil {
		t.Fatal(err)
	}
	for _, s := range auditSecrets {
		ck.Set(at(s.at))
		if err := emu.Seed(emulator.Seed{GitHub: emulator.GitHubSeed{Secrets: []emulator.SeedSecret{
			{Scope: s.scope, Name: "GROO_PAT", Value: patFor(s.token)}}}}); err != nil {
			t.Fatal(err)
		}
	}
	// Tokens authenticate at chosen times, so that Groo lists their last use.
	gc, err := groo.New(groo.WithBaseURL(base))
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range auditTokens {
		for _, when := range st.usedAt {
			ck.Set(at(when))
			tok, err := groo.ParseToken(patFor(st.id))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := gc.Me(context.Background(), tok); err != nil {
				t.Fatalf("use %s at %s: %v", st.id, when, err)
			}
		}
	}
	// The organization's secret cannot be read.
	emu.SetFaults([]emulator.Fault{{Route: emulator.RouteSecretGet, Scope: "org:octo", Status: 403}})
	ck.Set(auditNow)

	dir := t.TempDir()
	db := filepath.Join(dir, "state.db")
	seedStore(t, db)
	cfg := fmt.Sprintf(`groo: {api-url: %q, token-env: BOT_PAT}
github: {api-url: %q, token-env: GH_TOKEN, mutation-interval: 10ms}
store: sqlite://%s
listen: ""
audit: {max-ttl: 100d, unused-after: 14d, failed-runs: 3}
targets:
  - repository: octo/app
  - {repository: octo/app, environment: prod}
  - {repository: octo/app, dependabot: true}
  - organization: octo
  - repository: octo/api
  - repository: octo/web
`, base, base, db)
	path := filepath.Join(dir, "rotator.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &auditSetup{emu: emu, config: path, dbPath: db,
		env: map[string]string{"BOT_PAT": patFor("tok_bot_01"), "GH_TOKEN": auditGitHubToken}}
}

// seedStore records what the daemon would have: rotations, their tokens and
// the revokes they left pending.
func seedStore(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	store.Now = func() time.Time { return auditNow }
	const actor = "pat-rotator@rotator-1"
	denied := "put secret repo:octo/api GROO_PAT: GitHub answered 403 (Resource not accessible by personal access token)"
	events := []audit.Event{
		{ID: "att_app_1", Time: at("2026-03-09T03:00:31Z"), Outcome: audit.OutcomeSucceeded, UseCase: ucApp, Target: "repo:octo/app GROO_PAT",
			NewTokenID: "tok_app_cur", WrittenAt: atP("2026-03-09T03:00:30Z")},
		{ID: "att_prd_1", Time: at("2026-03-08T03:00:05Z"), Outcome: audit.OutcomeSucceeded, UseCase: ucProd, Target: "env:octo/app:prod GROO_PAT",
			NewTokenID: "tok_prd_a01", WrittenAt: atP("2026-03-08T03:00:04Z")},
		{ID: "att_api_1", Time: at("2026-03-07T03:00:05Z"), Outcome: audit.OutcomeSucceeded, UseCase: ucAPI, Target: "repo:octo/api GROO_PAT",
			NewTokenID: "tok_api_01", WrittenAt: atP("2026-03-07T03:00:04Z")},
		{ID: "att_api_2", Time: at("2026-03-08T03:00:05Z"), Outcome: audit.OutcomeFailed, UseCase: ucAPI, Target: "repo:octo/api GROO_PAT", Error: denied, Step: "write"},
		{ID: "att_api_3", Time: at("2026-03-09T03:00:05Z"), Outcome: audit.OutcomeFailed, UseCase: ucAPI, Target: "repo:octo/api GROO_PAT", Error: denied, Step: "write"},
		{ID: "att_api_4", Time: at("2026-03-10T03:00:05Z"), Outcome: audit.OutcomeFailed, UseCase: ucAPI, Target: "repo:octo/api GROO_PAT", Error: denied, Step: "write"},
		{ID: "att_web_1", Time: at("2026-03-10T03:00:06Z"), Outcome: audit.OutcomeSucceeded, UseCase: ucWeb, Target: "repo:octo/web GROO_PAT",
			NewTokenID: "tok_web_01", WrittenAt: atP("2026-03-10T03:00:05Z"), Revoked: []string{"tok_web_00"}},
		// Outside --since 30d: left out of the report.
		{ID: "att_api_0", Time: at("2026-01-01T03:00:05Z"), Outcome: audit.OutcomeFailed, UseCase: ucAPI, Target: "repo:octo/api GROO_PAT", Error: "old failure"},
	}
	for _, e := range events {
		e.Actor, e.Tool = actor, "pat-rotator"
		if err := store.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []audit.PendingRevoke{
		{TokenID: "tok_app_old", UseCase: ucApp, Target: "repo:octo/app GROO_PAT", RevokeAfter: at("2026-03-10T11:30:00Z"), LastError: "groo revoke token tok_app_old: HTTP 503"},
		{TokenID: "tok_api_00", UseCase: ucAPI, Target: "repo:octo/api GROO_PAT", RevokeAfter: at("2026-03-07T03:15:04Z"), Attempts: 4,
			LastError: "groo revoke token tok_api_00: HTTP 403 forbidden"},
	} {
		if err := store.AddPendingRevoke(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.RevokeFailed(ctx, "tok_app_old", "groo revoke token tok_app_old: HTTP 503", at("2026-03-10T11:31:00Z")); err != nil {
		t.Fatal(err)
	}
}

type cmdResult struct {
	stdout, stderr string
	err            error
	code           int
}

func (s *auditSetup) run(t *testing.T, args ...string) cmdResult {
	t.Helper()
	var out, errb bytes.Buffer
	c := cli{stdout: &out, stderr: &errb, getenv: func(k string) string { return s.env[k] }, now: func() time.Time { return auditNow }}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := c.run(ctx, append([]string{"audit", "--config", s.config}, args...))
	return cmdResult{stdout: out.String(), stderr: errb.String(), err: err, code: exitStatus(err)}
}

// assertNoTokenValue checks that no token value the emulator knows, nor the
// GitHub credential, appears in the texts.
func (s *auditSetup) assertNoTokenValue(t *testing.T, texts ...string) {
	t.Helper()
	values := []string{auditGitHubToken}
	for _, tok := range s.emu.State().Tokens {
		values = append(values, tok.Secret, strings.TrimPrefix(tok.Secret, groo.Prefix))
	}
	for _, text := range texts {
		for _, v := range values {
			if strings.Contains(text, v) {
				t.Errorf("a token value (%s…) was printed", v[:8])
			}
		}
	}
}

// comparable is the emulator's state without what a read changes: last use
// (Groo records it on every authenticated call) and the request counters.
func comparable(st emulator.State) emulator.State {
	st.Hits = nil
	toks := slices.Clone(st.Tokens)
	for i := range toks {
		toks[i].LastUsed = nil
	}
	st.Tokens = toks
	return st
}

func assertUnchanged(t *testing.T, before, after emulator.State) {
	t.Helper()
	b, _ := json.Marshal(comparable(before))
	a, _ := json.Marshal(comparable(after))
	if !bytes.Equal(a, b) {
		t.Errorf("the emulator's state changed:\nbefore %s\nafter  %s", b, a)
	}
	for _, r := range []string{emulator.RouteGrooCreate, emulator.RouteGrooRevoke, emulator.RouteSecretPut, emulator.RouteSecretDelete, emulator.RouteSecretRepos} {
		if n := after.Hits[r]; n != 0 {
			t.Errorf("%d request(s) on the mutating route %s", n, r)
		}
	}
}

func TestAuditCommandGolden(t *testing.T) {
	t.Parallel()
	s := newAuditSetup(t)
	before := s.emu.State()
	for _, format := range []string{"table", "json", "markdown"} {
		res := s.run(t, "--format", format, "--since", "30d")
		if res.err != nil {
			t.Fatalf("--format %s: %v\nstderr:\n%s", format, res.err, res.stderr)
		}
		testkit.Golden(t, filepath.Join("testdata", "audit."+format+".golden"), []byte(res.stdout))
		s.assertNoTokenValue(t, res.stdout, res.stderr)
		// The org secret's metadata was unreadable: the log says why.
		if !strings.Contains(res.stderr, "could not read the secret's metadata") || !strings.Contains(res.stderr, "org:octo GROO_PAT") {
			t.Errorf("the log does not say why the org secret is unreadable:\n%s", res.stderr)
		}

		if format == "json" {
			schema, err := reportschema.Load(filepath.Join("..", "..", "docs", "audit-report.schema.json"), true)
			if err != nil {
				t.Fatal(err)
			}
			if err := schema.Validate([]byte(res.stdout)); err != nil {
				t.Errorf("the JSON report does not match docs/audit-report.schema.json: %v", err)
			}
			checkReport(t, []byte(res.stdout))
		}
	}
	assertUnchanged(t, before, s.emu.State())
}

// checkReport checks the story of the seed in the JSON report.
func checkReport(t *testing.T, doc []byte) {
	t.Helper()
	var r audit.Report
	if err := json.Unmarshal(doc, &r); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		ucApp:  {audit.CodeMultipleLiveTokens, audit.CodeNoExpiry, audit.CodeRevokePending, audit.CodeTTLAboveMax, audit.CodeUnused, audit.CodeUnused},
		ucProd: {audit.CodeMultipleLiveTokens, audit.CodeSecretWrittenOutside},
		ucDep:  {audit.CodeSecretMissing},
		ucOrg:  {audit.CodeExpiresBeforeNextRotation, audit.CodeInSecretUnknown, audit.CodeSecretUnreadable},
		ucAPI:  {audit.CodeExpiresBeforeNextRotation, audit.CodeRepeatedFailures, audit.CodeRevokeFailing},
		ucWeb:  nil,
	}
	in := map[string]string{ucApp: "tok_app_cur/store", ucProd: "tok_prd_b02/derived", ucDep: "/none", ucOrg: "/unknown",
		ucAPI: "tok_api_01/store", ucWeb: "tok_web_01/store"}
	if len(r.UseCases) != len(want) {
		t.Fatalf("%d use cases, want %d", len(r.UseCases), len(want))
	}
	for _, uc := range r.UseCases {
		var codes []string
		for _, f := range uc.Findings {
			codes = append(codes, f.Code)
		}
		if !slices.Equal(codes, want[uc.UseCase]) {
			t.Errorf("%s: findings %v, want %v", uc.UseCase, codes, want[uc.UseCase])
		}
		if got := uc.InSecret + "/" + uc.InSecretSource; got != in[uc.UseCase] {
			t.Errorf("%s: in secret %s, want %s", uc.UseCase, got, in[uc.UseCase])
		}
		if uc.NextRun == nil || !uc.NextRun.Equal(at("2026-03-11T03:00:00Z")) {
			t.Errorf("%s: next run %v, want the schedule's 2026-03-11T03:00:00Z", uc.UseCase, uc.NextRun)
		}
	}
	var orphans []string
	for _, o := range r.Orphans {
		orphans = append(orphans, o.ID)
	}
	if !slices.Equal(orphans, []string{"tok_leg_02", "tok_leg_01"}) {
		t.Errorf("orphans %v", orphans)
	}
	if r.Caller != "usr_bot" || r.HistorySince == nil || !r.HistorySince.Equal(auditNow.Add(-30*24*time.Hour)) {
		t.Errorf("caller %q, history since %v", r.Caller, r.HistorySince)
	}
	// The policy comes from the configuration: max-ttl 100d.
	for _, f := range r.Findings {
		if f.Code == audit.CodeTTLAboveMax && !strings.Contains(f.Message, "above the maximum of 100 days") {
			t.Errorf("ttl-above-max ignores the configured policy: %s", f.Message)
		}
	}
}

func TestAuditCommandExitCodes(t *testing.T) {
	t.Parallel()
	s := newAuditSetup(t)
	before := s.emu.State()
	tests := []struct {
		name string
		args []string
		code int
		out  string // in stdout
		msg  string // in the error or stderr
	}{
		{"no fail-on never fails", nil, 0, "8 errors, 10 warnings", ""},
		{"fail-on error", []string{"--fail-on", "error"}, 1, "ERROR", "8 error(s), 10 warning(s)"},
		{"fail-on warning", []string{"--fail-on", "warning"}, 1, "", "--fail-on warning"},
		// The account's findings (its unmanaged token, the credential's
		// lack of expiry) are warnings whatever the targets.
		{"a clean target passes fail-on error", []string{"--target", "repo:octo/web GROO_PAT", "--fail-on", "error"}, 0,
			"1 use case, 1 live token, 1 unmanaged token: 0 errors, 3 warnings, 0 infos", ""},
		{"include-unmanaged without prune", []string{"--include-unmanaged"}, 2, "", "--include-unmanaged only widens --prune"},
		{"a target by its use case", []string{"--target", ucDep, "--fail-on", "error"}, 1, "secret-missing", ""},
		{"fail-on typo", []string{"--fail-on", "errors"}, 2, "", "invalid fail-on"},
		{"unknown format", []string{"--format", "xml"}, 2, "", "use table, json or markdown"},
		{"bad since", []string{"--since", "a month"}, 2, "", "--since"},
		{"yes without prune", []string{"--yes"}, 2, "", "--yes only confirms --prune"},
		{"prune as json", []string{"--prune", "--format", "json"}, 2, "", "--prune prints a plan as text"},
		{"unknown target", []string{"--target", "repo:octo/nope GROO_PAT"}, 2, "", "no target named"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := s.run(t, tt.args...)
			if res.code != tt.code {
				t.Fatalf("exit %d, want %d (err %v)\nstdout:\n%s\nstderr:\n%s", res.code, tt.code, res.err, res.stdout, res.stderr)
			}
			if !strings.Contains(res.stdout, tt.out) {
				t.Errorf("stdout lacks %q:\n%s", tt.out, res.stdout)
			}
			msg := res.stderr
			if res.err != nil {
				msg += res.err.Error()
			}
			if !strings.Contains(msg, tt.msg) {
				t.Errorf("error/stderr lacks %q: %s", tt.msg, msg)
			}
			s.assertNoTokenValue(t, res.stdout, res.stderr, msg)
		})
	}
	// With --target, orphans are not looked for (the other targets'
	// tokens would look like orphans).
	if res := s.run(t, "--target", "repo:octo/web GROO_PAT"); strings.Contains(res.stdout, "ORPHANS") {
		t.Errorf("a --target audit reports orphans:\n%s", res.stdout)
	}
	assertUnchanged(t, before, s.emu.State())
}

func TestAuditCommandConfigurationErrors(t *testing.T) {
	t.Parallel()
	// Every audit here fails before it reads a secret.
	s := newAuditSetup(t, ghconform.AllowNone())
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("groo: {token-env: G}\ngithub: {token-env: T}\naudit: {max-ttl: 0s}\ntargets: [{repository: o/r}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	err := realMain(context.Background(), []string{"audit", "--config", bad}, &out, &errb, noEnv)
	if exitStatus(err) != 2 || !strings.Contains(errb.String(), "audit.max-ttl: 0 is not a maximum TTL") {
		t.Errorf("invalid configuration: exit %d, stderr:\n%s", exitStatus(err), errb.String())
	}

	// A credential the environment lacks.
	delete(s.env, "BOT_PAT")
	if res := s.run(t); res.code != 2 || !strings.Contains(res.err.Error(), "BOT_PAT") {
		t.Errorf("missing credential: exit %d, %v", res.code, res.err)
	}
	s.env["BOT_PAT"] = patFor("tok_bot_01")

	// Groo refuses the list: the audit cannot be made.
	s.emu.SetFaults([]emulator.Fault{{Route: emulator.RouteGrooList, Status: 401}})
	if res := s.run(t); res.code != 3 || res.stdout != "" {
		t.Errorf("Groo refusing the list: exit %d (want 3), stdout:\n%s", res.code, res.stdout)
	}
}

func TestAuditCommandPrune(t *testing.T) {
	t.Parallel()
	s := newAuditSetup(t)
	before := s.emu.State()

	// The plan alone changes nothing.
	res := s.run(t, "--prune")
	if res.err != nil {
		t.Fatalf("--prune: %v\n%s", res.err, res.stderr)
	}
	testkit.Golden(t, filepath.Join("testdata", "audit.prune.golden"), []byte(res.stdout))
	if !strings.Contains(res.stdout, "Nothing was revoked: add --yes") {
		t.Errorf("the plan does not say that nothing was revoked:\n%s", res.stdout)
	}
	assertUnchanged(t, before, s.emu.State())
	s.assertNoTokenValue(t, res.stdout, res.stderr)

	// --yes revokes exactly the safe extras and the settled orphan.
	res = s.run(t, "--prune", "--yes", "--fail-on", "error")
	if res.code != 1 {
		t.Fatalf("--prune --yes --fail-on error: exit %d, want 1 (the report before the prune has errors): %v\n%s", res.code, res.err, res.stderr)
	}
	s.assertNoTokenValue(t, res.stdout, res.stderr)
	wantRevoked := []string{"tok_app_old", "tok_app_hnd", "tok_leg_01"}
	if !strings.Contains(res.stdout, "Revoked 3 of 3:") {
		t.Errorf("output:\n%s", res.stdout)
	}
	for _, id := range wantRevoked {
		if !strings.Contains(res.stdout, "revoked  "+id+"  ") || !strings.Contains(res.stderr, `"token_id":"`+id+`"`) {
			t.Errorf("%s: not reported revoked on stdout and in the log", id)
		}
	}
	after := s.emu.State()
	if len(after.Violations) != 0 || len(s.emu.Violations()) != 0 {
		t.Errorf("I1 violations: %v", after.Violations)
	}
	if n := after.Hits[emulator.RouteGrooRevoke]; n != len(wantRevoked) {
		t.Errorf("%d revoke requests, want %d", n, len(wantRevoked))
	}
	if n := after.Hits[emulator.RouteGrooCreate] + after.Hits[emulator.RouteSecretPut]; n != 0 {
		t.Errorf("prune created a token or wrote a secret (%d requests)", n)
	}
	wasRevoked := map[string]bool{}
	for _, tok := range before.Tokens {
		wasRevoked[tok.ID] = tok.Revoked
	}
	for _, tok := range after.Tokens {
		if want := wasRevoked[tok.ID] || slices.Contains(wantRevoked, tok.ID); tok.Revoked != want {
			t.Errorf("token %s revoked = %v, want %v", tok.ID, tok.Revoked, want)
		}
	}
	// I1: every secret still holds a live token, the app's the store's one.
	for _, sec := range after.Secrets {
		tok, ok := after.TokenBySecret(sec.Value)
		if !ok || !tok.Live(after.Now) {
			t.Errorf("secret %s %s holds %s, not live", sec.Scope, sec.Name, tok.ID)
		}
	}
	if sec, _ := after.Secret("repo:octo/app", "GROO_PAT"); sec.Value != patFor("tok_app_cur") {
		t.Error("the app secret changed")
	}

	// The store forgets the pending revoke the prune did; the others stay.
	store, err := sqlitestore.Open(context.Background(), s.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	pending, err := store.PendingRevokes(context.Background())
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].TokenID != "tok_api_00" {
		t.Errorf("pending revokes after the prune: %+v; want only tok_api_00", pending)
	}

	// A second prune finds nothing more to revoke, and the app use case is
	// down to the token in its secret.
	res = s.run(t, "--prune", "--yes")
	if res.err != nil || !strings.Contains(res.stdout, "Nothing to revoke.") {
		t.Errorf("second prune: %v\n%s", res.err, res.stdout)
	}
	res = s.run(t, "--format", "json", "--target", "repo:octo/app GROO_PAT")
	var r audit.Report
	if err := json.Unmarshal([]byte(res.stdout), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.UseCases) != 1 || len(r.UseCases[0].Live) != 1 || r.UseCases[0].Live[0].ID != "tok_app_cur" {
		t.Errorf("app after the prune: %+v", r.UseCases)
	}
}

// A revoke that fails is reported, the others go on, and the exit is 3.
func TestAuditCommandPruneFailure(t *testing.T) {
	t.Parallel()
	s := newAuditSetup(t)
	s.emu.SetFaults([]emulator.Fault{
		{Route: emulator.RouteSecretGet, Scope: "org:octo", Status: 403},
		{Route: emulator.RouteGrooRevoke, Status: 403, Count: 1},
	})
	res := s.run(t, "--prune", "--yes")
	if res.code != 3 || !strings.Contains(res.stdout, "Revoked 2 of 3:") || !strings.Contains(res.stdout, "FAILED ") ||
		!strings.Contains(res.stderr, "1 revoke(s) failed") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	if v := s.emu.Violations(); len(v) != 0 {
		t.Errorf("I1 violations: %v", v)
	}
	s.assertNoTokenValue(t, res.stdout, res.stderr)
}

// docs/audit.md shows the golden table and prune plan as its sample report,
// and the README the table: they must stay what the command prints.
func TestAuditDocsSampleReport(t *testing.T) {
	t.Parallel()
	for doc, goldens := range map[string][]string{
		"docs/audit.md": {"audit.table.golden", "audit.prune.golden"},
		"README.md":     {"audit.table.golden"},
	} {
		text, err := os.ReadFile(filepath.Join("..", "..", doc))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range goldens {
			g, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(text, []byte("```\n"+string(g)+"```\n")) {
				t.Errorf("%s does not show testdata/%s as it is; copy it into its Sample report section", doc, name)
			}
		}
	}
}

// Each use case's extras wait for its own target's revoke-grace.
func TestAuditCommandPruneHonoursGrace(t *testing.T) {
	t.Parallel()
	s := newAuditSetup(t)
	b, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "  - repository: octo/app\n", "  - {repository: octo/app, revoke-grace: 48h, ttl: 4d}\n", 1)
	if err := os.WriteFile(s.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	res := s.run(t, "--prune")
	if res.err != nil {
		t.Fatalf("%v\n%s", res.err, res.stderr)
	}
	for _, id := range []string{"tok_app_old", "tok_app_hnd"} {
		want := "keep    " + ucApp + "           " + id
		if !strings.Contains(res.stdout, want) || !strings.Contains(res.stdout, "in its grace period until 2026-03-11T03:00:30Z (grace 2d") {
			t.Errorf("%s not kept for the target's grace:\n%s", id, res.stdout)
		}
	}
	if !strings.Contains(res.stdout, "Prune plan: 1 token to revoke") {
		t.Errorf("want only the orphan revoked:\n%s", res.stdout)
	}
}

// Right after a healthy rotation with the default revoke-grace (15m), the
// replaced token is still live: the audit lists it as revoke-scheduled and
// nothing else, so `audit --fail-on error` passes. The replaced token is a
// bootstrap PAT made by hand, without expiry, as a first rotation finds it.
func TestAuditAfterRotationWithGraceFailsOnNothing(t *testing.T) {
	t.Parallel()
	chk := ghconform.New(t, nil)
	emu := emulator.New(emulator.WithRequestHook(chk.Check))
	base, shutdown, err := emulator.Start("127.0.0.1:0", emu)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = shutdown(ctx)
	})
	created := time.Now().Add(-time.Hour)
	botExp := time.Now().Add(60 * 24 * time.Hour)
	if err := emu.Seed(emulator.Seed{
		Groo: emulator.GrooSeed{Users: []emulator.SeedUser{{ID: "usr_bot", Email: "bot@example.com"}}, Tokens: []emulator.SeedToken{
			{ID: "tok_bot_01", Name: "pat-rotator bot", Secret: patFor("tok_bot_01"), CreatedAt: &created, ExpiresAt: &botExp},
			{ID: "tok_boot", Name: ucApp, Secret: patFor("tok_boot"), CreatedAt: &created},
		}},
		GitHub: emulator.GitHubSeed{Tokens: []string{auditGitHubToken}, Repositories: []string{"octo/app"},
			Secrets: []emulator.SeedSecret{{Scope: "repo:octo/app", Name: "GROO_PAT", Value: patFor("tok_boot")}}},
	}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`groo: {api-url: %q, token-env: BOT_PAT}
github: {api-url: %q, token-env: GH_TOKEN, mutation-interval: 10ms}
store: sqlite://%s
listen: ""
targets:
  - repository: octo/app
`, base, base, filepath.Join(dir, "state.db"))
	path := filepath.Join(dir, "rotator.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"BOT_PAT": patFor("tok_bot_01"), "GH_TOKEN": auditGitHubToken}
	run := func(args ...string) cmdResult {
		var out, errb bytes.Buffer
		c := cli{stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := c.run(ctx, args)
		return cmdResult{stdout: out.String(), stderr: errb.String(), err: err, code: exitStatus(err)}
	}

	if res := run("rotate", "--config", path); res.code != 0 {
		t.Fatalf("rotate: exit %d (%v)\n%s\n%s", res.code, res.err, res.stdout, res.stderr)
	}
	res := run("audit", "--config", path, "--fail-on", "error")
	if res.code != 0 {
		t.Errorf("audit --fail-on error right after a healthy rotation: exit %d (%v)\n%s", res.code, res.err, res.stdout)
	}
	if !strings.Contains(res.stdout, "INFO     revoke-scheduled  "+ucApp+"  [tok_boot]") ||
		!strings.Contains(res.stdout, "replaced token tok_boot is in its revoke grace: revoke scheduled at ") {
		t.Errorf("the replaced token is not revoke-scheduled:\n%s", res.stdout)
	}
	for _, code := range []string{"multiple-live-tokens", "no-expiry", "ERROR"} {
		if strings.Contains(res.stdout, code) {
			t.Errorf("the audit reports %s after a healthy rotation:\n%s", code, res.stdout)
		}
	}
	if !strings.Contains(res.stdout, "CREDENTIAL") || !strings.Contains(res.stdout, "tok_bot_01") {
		t.Errorf("no credential row:\n%s", res.stdout)
	}
}
