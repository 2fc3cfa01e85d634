package audit_test

import (
	"bytes"
	"context"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/emulator"
	"github.com/groo/pat-action/internal/ghconform"
	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/prune"
	"github.com/groo/pat-action/internal/testkit"
)

// This file runs the audit end to end against the emulator: tokens and
// secrets seeded to produce every finding, listed with the real Groo
// client, secret metadata read with the real ghsecret client, the report
// rendered (golden files) and pruned (I1 checked by the emulator).
//
// The emulator runs on a clock the test sets, so that token creation,
// last use and secret updates land at chosen times and the renderings are
// reproducible. The store's part of the input (history, pending revokes,
// schedules) is given as the store would return it: the store is tested on
// its own.

var e2eNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

const e2eGitHubToken = "ghp_auditEmulatorFullAccessToken00000000"

// Use cases, as in the package's fixture.
const (
	ucApp  = "GitHub Actions - octo/app GROO_PAT"
	ucProd = "GitHub Actions - octo/app env:prod GROO_PAT"
	ucDep  = "Dependabot - octo/app GROO_PAT"
	ucOrg  = "GitHub Actions - org octo GROO_PAT"
	ucWeb  = "GitHub Actions - octo/web GROO_PAT"
	ucAPI  = "GitHub Actions - octo/api GROO_PAT"
)

var (
	tgApp  = ghsecret.Target{Scope: ghsecret.ScopeRepository, Owner: "octo", Repo: "app", Name: "GROO_PAT"}
	tgProd = ghsecret.Target{Scope: ghsecret.ScopeEnvironment, Owner: "octo", Repo: "app", Environment: "prod", Name: "GROO_PAT"}
	tgDep  = ghsecret.Target{Scope: ghsecret.ScopeDependabot, Owner: "octo", Repo: "app", Name: "GROO_PAT"}
	tgOrg  = ghsecret.Target{Scope: ghsecret.ScopeOrganization, Org: "octo", Name: "GROO_PAT"}
	tgWeb  = ghsecret.Target{Scope: ghsecret.ScopeRepository, Owner: "octo", Repo: "web", Name: "GROO_PAT"}
	tgAPI  = ghsecret.Target{Scope: ghsecret.ScopeRepository, Owner: "octo", Repo: "api", Name: "GROO_PAT"}
)

// secretOf is a deterministic token value for a seeded id.
func secretOf(id string) string { return testkit.PATFor("pat-action audit test " + id) }

var e2eTime, e2eTimeP = testkit.Time, testkit.TimeP

type seededToken struct {
	id, name, created string
	expires           *time.Time
	revoked           bool
	usedAt            []string // times at which the token authenticates a call (lastUsed)
}

// seededTokens produce every finding (see the package fixture for the story
// of each).
var seededTokens = []seededToken{
	{id: "tok_lap_01", name: "laptop", created: "2025-06-01T00:00:00Z"}, // the caller's credential
	{id: "tok_app_cur", name: ucApp, created: "2026-03-01T12:00:00Z", expires: e2eTimeP("2026-03-15T12:00:00Z"), usedAt: []string{"2026-03-10T11:00:00Z"}},
	{id: "tok_app_old", name: ucApp, created: "2026-01-01T00:00:00Z", expires: e2eTimeP("2026-04-15T00:00:00Z"), usedAt: []string{"2026-01-20T08:00:00Z"}},
	{id: "tok_app_hnd", name: ucApp, created: "2026-02-01T09:30:00Z"},
	{id: "tok_prd_a01", name: ucProd, created: "2026-03-05T00:00:00Z", expires: e2eTimeP("2026-04-04T00:00:00Z"), usedAt: []string{"2026-03-09T10:00:00Z"}},
	{id: "tok_prd_b02", name: ucProd, created: "2026-03-09T11:00:00Z", expires: e2eTimeP("2026-04-08T11:00:00Z"), usedAt: []string{"2026-03-10T09:00:00Z"}},
	{id: "tok_dep_01", name: ucDep, created: "2026-03-09T00:00:00Z", expires: e2eTimeP("2026-04-08T00:00:00Z")},
	{id: "tok_org_01", name: ucOrg, created: "2026-02-10T00:00:00Z", expires: e2eTimeP("2026-03-12T00:00:00Z"), usedAt: []string{"2026-03-10T06:00:00Z"}},
	{id: "tok_web_01", name: ucWeb, created: "2026-01-01T00:00:00Z", expires: e2eTimeP("2026-04-01T00:00:00Z"), revoked: true},
	{id: "tok_api_01", name: ucAPI, created: "2026-02-20T00:00:00Z", expires: e2eTimeP("2026-03-09T00:00:00Z"), usedAt: []string{"2026-03-08T23:00:00Z"}},
	{id: "tok_api_02", name: ucAPI, created: "2026-03-10T11:59:30Z", expires: e2eTimeP("2026-04-09T11:59:30Z")},
	{id: "tok_leg_01", name: "GitHub Actions - octo/legacy GROO_PAT", created: "2025-12-01T00:00:00Z", expires: e2eTimeP("2026-06-01T00:00:00Z"), usedAt: []string{"2026-01-05T00:00:00Z"}},
	{id: "tok_leg_02", name: "Dependabot - octo/old GROO_PAT", created: "2026-03-10T11:59:00Z", expires: e2eTimeP("2026-04-09T11:59:00Z")},
	{id: "tok_leg_09", name: "GitHub Actions - octo/legacy GROO_PAT", created: "2025-11-01T00:00:00Z", revoked: true},
	// Unmanaged: a deploy key with a year's TTL, unused since January; a
	// script's token that never expires.
	{id: "tok_ci_01", name: "ci deploy", created: "2025-10-01T00:00:00Z", expires: e2eTimeP("2026-10-01T00:00:00Z"), usedAt: []string{"2026-01-02T00:00:00Z"}},
	{id: "tok_scr_01", name: "backup script", created: "2026-02-01T00:00:00Z", usedAt: []string{"2026-03-10T10:00:00Z"}},
}

// seededSecrets: scope key, value, and when it was (last) written.
var seededSecrets = []struct{ scope, value, at string }{
	{"repo:octo/app", secretOf("tok_app_cur"), "2026-03-01T12:00:30Z"},
	{"env:octo/app:prod", secretOf("tok_prd_b02"), "2026-03-09T12:00:00Z"}, // written by hand
	{"org:octo", secretOf("tok_org_01"), "2026-02-10T00:00:05Z"},           // unreadable (fault)
	{"repo:octo/web", "a PAT created by hand, never listed", "2026-01-01T00:00:10Z"},
	{"repo:octo/api", secretOf("tok_api_01"), "2026-02-20T00:00:02Z"},
}

type e2eEnv struct {
	emu   *emulator.Emulator
	clock *testkit.Clock
	groo  *groo.Client
	gh    *ghsecret.Client
	cred  groo.Token
}

func startEmulator(t *testing.T) e2eEnv {
	t.Helper()
	ck := &testkit.Clock{}
	ck.Set(e2eTime("2026-01-01T00:00:00Z"))
	emu := emulator.New(emulator.WithClock(ck.Now))
	base, shutdown, err := emulator.Start("127.0.0.1:0", emu)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = shutdown(ctx)
	})

	var seed emulator.Seed
	seed.Groo.Users = []emulator.SeedUser{{ID: "usr_octo", Email: "octo@example.com"}}
	for _, st := range seededTokens {
		created := e2eTime(st.created)
		desc := "seeded for the audit test"
		seed.Groo.Tokens = append(seed.Groo.Tokens, emulator.SeedToken{ID: st.id, Name: st.name, Description: &desc,
			Secret: secretOf(st.id), ExpiresAt: st.expires, CreatedAt: &created, Revoked: st.revoked})
	}
	seed.GitHub = emulator.GitHubSeed{Tokens: []string{e2eGitHubToken},
		Repositories: []string{"octo/app", "octo/web", "octo/api"}, Environments: []string{"octo/app:prod"}}
	if err := emu.Seed(seed); err != nil {
		t.Fatal(err)
	}
	for _, s := range seededSecrets {
		ck.Set(e2eTime(s.at))
		if err := emu.Seed(emulator.Seed{GitHub: emulator.GitHubSeed{Secrets: []emulator.SeedSecret{{Scope: s.scope, Name: "GROO_PAT", Value: s.value}}}}); err != nil {
			t.Fatal(err)
		}
	}

	gc, err := groo.New(groo.WithBaseURL(base), groo.WithClock(ck.Now))
	if err != nil {
		t.Fatal(err)
	}
	// Use tokens at chosen times, so that Groo lists when they were last used.
	ctx := context.Background()
	for _, st := range seededTokens {
		for _, when := range st.usedAt {
			ck.Set(e2eTime(when))
			if _, err := gc.Me(ctx, e2eToken(t, secretOf(st.id))); err != nil {
				t.Fatalf("use %s at %s: %v", st.id, when, err)
			}
		}
	}

	// Every GitHub request is checked against GitHub's OpenAPI description.
	ghc := github.NewClient(ghconform.New(t, nil).Client()).WithAuthToken(e2eGitHubToken)
	u, err := url.Parse(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	ghc.BaseURL = u
	sc := ghsecret.NewClient(ghc, ghsecret.WithMutationInterval(0),
		ghsecret.WithSleep(func(ctx context.Context, _ time.Duration) error { return ctx.Err() }))

	// The organization's secret cannot be read.
	emu.SetFaults([]emulator.Fault{{Route: emulator.RouteSecretGet, Scope: "org:octo", Status: 403}})
	ck.Set(e2eNow)
	return e2eEnv{emu: emu, clock: ck, groo: gc, gh: sc, cred: e2eToken(t, secretOf("tok_lap_01"))}
}

func e2eToken(t *testing.T, s string) groo.Token {
	t.Helper()
	tok, err := groo.ParseToken(s)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// gather fills the report's input the way pat-rotator does: the Groo list,
// the caller, each target's metadata, plus what its store would say.
func (env e2eEnv) gather(t *testing.T) audit.Input {
	t.Helper()
	ctx := context.Background()
	me, err := env.groo.Me(ctx, env.cred)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := env.groo.List(ctx, env.cred)
	if err != nil {
		t.Fatal(err)
	}
	meta := func(tg ghsecret.Target) *ghsecret.Metadata {
		md, err := env.gh.Metadata(ctx, tg)
		if err != nil {
			t.Logf("metadata of %s: %v (reported as unreadable)", tg, err)
			return nil
		}
		return &md
	}
	now := env.clock.Now()
	return audit.Input{
		Now: now, Caller: me.ID, Tokens: tokens,
		UseCases: []audit.UseCaseInput{
			{UseCase: ucApp, Target: tgApp.String(), Secret: meta(tgApp), CurrentTokenID: "tok_app_cur",
				History: []audit.Event{{ID: "att_app_1", Time: e2eTime("2026-03-01T12:00:31Z"), Outcome: audit.OutcomeSucceeded,
					NewTokenID: "tok_app_cur", WrittenAt: e2eTimeP("2026-03-01T12:00:30Z"), Actor: "rotator-1"}},
				NextRun: e2eTimeP("2026-03-20T00:00:00Z"),
				PendingRevokes: []audit.PendingRevoke{{TokenID: "tok_app_old", UseCase: ucApp, RevokeAfter: e2eTime("2026-03-01T12:00:30Z"),
					Attempts: 5, LastError: "groo revoke token tok_app_old: HTTP 403 forbidden"}}},
			{UseCase: ucProd, Target: tgProd.String(), Secret: meta(tgProd), CurrentTokenID: "tok_prd_a01",
				History: []audit.Event{
					{ID: "att_prd_1", Time: e2eTime("2026-03-05T00:00:05Z"), Outcome: audit.OutcomeSucceeded, NewTokenID: "tok_prd_a01", WrittenAt: e2eTimeP("2026-03-05T00:00:04Z"), Actor: "rotator-1"},
					{ID: "att_prd_2", Time: e2eTime("2026-03-06T00:00:05Z"), Outcome: audit.OutcomeFailed, Error: "put secret env:octo/app:prod GROO_PAT: GitHub answered 403", Actor: "rotator-1"},
					{ID: "att_prd_3", Time: e2eTime("2026-03-07T00:00:05Z"), Outcome: audit.OutcomeAbandoned, Actor: "rotator-2"},
					{ID: "att_prd_4", Time: e2eTime("2026-03-08T00:00:05Z"), Outcome: audit.OutcomeFailed, Error: "put secret env:octo/app:prod GROO_PAT: GitHub answered 403", Actor: "rotator-1"},
				},
				NextRun: e2eTimeP("2026-03-11T00:00:00Z"),
				PendingRevokes: []audit.PendingRevoke{
					{TokenID: "tok_prd_z98", UseCase: ucProd, RevokeAfter: e2eTime("2026-03-10T11:30:00Z"), Attempts: 1, LastError: "groo revoke token tok_prd_z98: HTTP 503"},
					{TokenID: "tok_prd_z99", UseCase: ucProd, RevokeAfter: e2eTime("2026-03-10T13:00:00Z")},
				}},
			{UseCase: ucDep, Target: tgDep.String(), Secret: meta(tgDep)},
			{UseCase: ucOrg, Target: tgOrg.String(), Secret: meta(tgOrg), Interval: 7 * 24 * time.Hour},
			{UseCase: ucWeb, Target: tgWeb.String(), Secret: meta(tgWeb)},
			{UseCase: ucAPI, Target: tgAPI.String(), Secret: meta(tgAPI),
				History: []audit.Event{{ID: "att_api_1", Time: e2eTime("2026-02-20T00:00:03Z"), Outcome: audit.OutcomeSucceeded,
					NewTokenID: "tok_api_01", WrittenAt: e2eTimeP("2026-02-20T00:00:02Z"), Actor: "https://github.com/octo/api/actions/runs/42"}}},
		},
		Policy:           audit.Policy{Since: now.Add(-30 * 24 * time.Hour)},
		ToolNamePrefixes: audit.DefaultToolNamePrefixes,
		Credential:       audit.CredentialRef{Prefix: env.cred.TokenPrefix(), LastFour: env.cred.LastFour()},
	}
}

func TestAuditAgainstEmulator(t *testing.T) {
	t.Parallel()
	env := startEmulator(t)
	r := audit.Build(env.gather(t))

	// Every finding code, each where the story puts it.
	want := map[string][]string{
		ucApp: {audit.CodeExpiresBeforeNextRotation, audit.CodeMultipleLiveTokens, audit.CodeNoExpiry, audit.CodeRevokeFailing,
			audit.CodeTTLAboveMax, audit.CodeUnused, audit.CodeUnused},
		ucProd: {audit.CodeMultipleLiveTokens, audit.CodeRepeatedFailures, audit.CodeRevokePending, audit.CodeSecretWrittenOutside,
			audit.CodeRevokeScheduled},
		ucDep: {audit.CodeSecretMissing},
		ucOrg: {audit.CodeExpiresBeforeNextRotation, audit.CodeInSecretUnknown, audit.CodeSecretUnreadable},
		ucWeb: {audit.CodeNoLiveToken},
		ucAPI: {audit.CodeSecretTokenNotLive},
	}
	seen := map[string]bool{}
	for _, uc := range r.UseCases {
		var codes []string
		for _, f := range uc.Findings {
			codes = append(codes, f.Code)
			seen[f.Code] = true
		}
		if !slices.Equal(codes, want[uc.UseCase]) {
			t.Errorf("%s: findings %v, want %v", uc.UseCase, codes, want[uc.UseCase])
		}
	}
	for _, o := range r.Findings {
		seen[o.Code] = true
	}
	for _, k := range audit.FindingKinds {
		// One credential, one of its findings (the others: the package's
		// table tests).
		if !seen[k.Code] && k.Code != audit.CodeCredentialExpiresSoon && k.Code != audit.CodeCredentialUnidentified {
			t.Errorf("the emulator scenario does not produce %s", k.Code)
		}
	}
	inSecret := map[string]string{}
	for _, uc := range r.UseCases {
		inSecret[uc.UseCase] = uc.InSecret + "/" + uc.InSecretSource
	}
	wantIn := map[string]string{ucApp: "tok_app_cur/store", ucProd: "tok_prd_b02/derived", ucDep: "/none", ucOrg: "/unknown",
		ucWeb: "/unknown", ucAPI: "tok_api_01/store"}
	for k, v := range wantIn {
		if inSecret[k] != v {
			t.Errorf("%s: in secret %s, want %s", k, inSecret[k], v)
		}
	}
	if r.Caller != "usr_octo" || r.Summary.LiveTokens != 10 {
		t.Errorf("caller %q, live tokens %d", r.Caller, r.Summary.LiveTokens)
	}

	// Renderings: golden, and never a token value.
	outputs := map[string]func(*bytes.Buffer) error{
		"emulator.table.golden": func(b *bytes.Buffer) error { return audit.RenderTable(b, r) },
		"emulator.json.golden":  func(b *bytes.Buffer) error { return audit.RenderJSON(b, r) },
		"emulator.md.golden":    func(b *bytes.Buffer) error { return audit.RenderMarkdown(b, r) },
	}
	for name, render := range outputs {
		var b bytes.Buffer
		if err := render(&b); err != nil {
			t.Fatal(err)
		}
		for _, st := range seededTokens {
			if v := secretOf(st.id); strings.Contains(b.String(), v) || strings.Contains(b.String(), v[len(groo.Prefix):]) {
				t.Errorf("%s holds the value of token %s", name, st.id)
			}
		}
		testkit.Golden(t, filepath.Join("testdata", "report", name), b.Bytes())
	}

	// Audit changes nothing: no token revoked or created, no secret written.
	st := env.emu.State()
	for _, tok := range st.Tokens {
		for _, s := range seededTokens {
			if s.id == tok.ID && tok.Revoked != s.revoked {
				t.Errorf("audit changed token %s (revoked %v)", tok.ID, tok.Revoked)
			}
		}
	}
	if len(st.Tokens) != len(seededTokens) {
		t.Errorf("emulator holds %d tokens, seeded %d", len(st.Tokens), len(seededTokens))
	}
	for _, s := range st.Secrets {
		if s.Writes != 0 {
			t.Errorf("audit wrote secret %s %s", s.Scope, s.Name)
		}
	}
}

func TestPruneAgainstEmulator(t *testing.T) {
	t.Parallel()
	env := startEmulator(t)
	in := env.gather(t)
	r := audit.Build(in)
	plan := audit.PlanPrune(r, in, 0, nil)

	var b bytes.Buffer
	if err := audit.RenderPrunePlan(&b, plan); err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, filepath.Join("testdata", "report", "emulator.prune.golden"), b.Bytes())

	var toRevoke []string
	for _, a := range plan {
		if !a.Skip {
			toRevoke = append(toRevoke, a.TokenID)
		}
	}
	// Only app's two extra tokens (its secret holds tok_app_cur, confirmed
	// by the store and updated_at) and the old orphan. Not: the tokens in
	// the secrets; prod (written outside); dependabot (no secret); org
	// (unknown); api's new token (a run may still write it); the orphan
	// minted a minute ago.
	wantRevoke := []string{"tok_app_old", "tok_app_hnd", "tok_leg_01"}
	if !slices.Equal(toRevoke, wantRevoke) {
		t.Fatalf("plan revokes %v, want %v\n%s", toRevoke, wantRevoke, b.String())
	}

	revoked, err := prune.Apply(context.Background(), env.groo, env.cred, plan)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(revoked, wantRevoke) {
		t.Errorf("revoked %v, want %v", revoked, wantRevoke)
	}

	st := env.emu.State()
	if len(st.Violations) != 0 {
		t.Errorf("I1 violations: %v", st.Violations)
	}
	for _, tok := range st.Tokens {
		wasRevoked := slices.ContainsFunc(seededTokens, func(s seededToken) bool { return s.id == tok.ID && s.revoked })
		if tok.Revoked != (wasRevoked || slices.Contains(wantRevoke, tok.ID)) {
			t.Errorf("token %s revoked = %v", tok.ID, tok.Revoked)
		}
	}
	// Every secret that held a live token still holds a live one.
	for _, s := range st.Secrets {
		if tok, ok := st.TokenBySecret(s.Value); ok && tok.Revoked {
			t.Errorf("secret %s %s holds revoked token %s", s.Scope, s.Name, tok.ID)
		}
	}
	app, _ := st.Secret(tgApp.Key(), tgApp.Name)
	if tok, ok := st.TokenBySecret(app.Value); !ok || !tok.Live(st.Now) || tok.ID != "tok_app_cur" {
		t.Errorf("the app secret holds %s (live %v), want the live tok_app_cur", tok.ID, tok.Live(st.Now))
	}

	// After the prune, the app use case is down to its one token.
	r2 := audit.Build(env.gather(t))
	for _, uc := range r2.UseCases {
		if uc.UseCase == ucApp && (len(uc.Live) != 1 || uc.Live[0].ID != "tok_app_cur") {
			t.Errorf("app after prune: %+v", uc.Live)
		}
	}
	if len(r2.Orphans) != 1 || r2.Orphans[0].ID != "tok_leg_02" {
		t.Errorf("orphans after prune: %+v", r2.Orphans)
	}

	// The oracle is live: revoking a token a secret holds is caught.
	if err := env.groo.Revoke(context.Background(), env.cred, "tok_app_cur"); err != nil {
		t.Fatal(err)
	}
	if v := env.emu.State().Violations; len(v) != 1 || !strings.Contains(v[0], "tok_app_cur") {
		t.Errorf("the emulator did not flag revoking the secret's token: %v", v)
	}
}
