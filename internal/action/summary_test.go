package action

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/rotation"
)

// golden compares got with testdata/name, rewriting it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update after checking):\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

var (
	t0         = time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	exp0       = t0.Add(168 * time.Hour)
	testRunURL = "https://github.com/octo/app/actions/runs/4242"
)

func mustToken(t *testing.T) groo.Token {
	t.Helper()
	tok, err := groo.ParseToken(testPAT)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestSummaryGolden(t *testing.T) {
	t.Parallel()
	tok := mustToken(t)
	repo := &Inputs{Target: ghsecret.Target{Scope: ghsecret.ScopeRepository, Owner: "octo", Repo: "app", Name: "GROO_PAT"},
		UseCase: "GitHub Actions - octo/app GROO_PAT"}
	env := &Inputs{Target: ghsecret.Target{Scope: ghsecret.ScopeEnvironment, Owner: "octo", Repo: "app", Environment: "prod/eu", Name: "GROO_PAT"},
		UseCase: "GitHub Actions - octo/app env:prod/eu GROO_PAT", Grace: 15 * time.Minute}
	res := &rotation.Result{
		AttemptID: "rot_0011223344556677", UseCase: repo.UseCase, Target: repo.Target.String(),
		New:      groo.TokenInfo{ID: "tok_new", Name: repo.UseCase, TokenPrefix: "groo_pat_01", LastFour: "cdef", ExpiresAt: &exp0, CreatedAt: t0},
		NewToken: tok, Revoked: []string{"tok_old1", "tok_old2"}, Started: t0, Written: t0.Add(time.Second), Duration: 1234567 * time.Microsecond,
	}
	pending := *res
	pending.UseCase, pending.Target = env.UseCase, env.Target.String()
	pending.SecretCreated = true
	pending.Revoked = nil
	pending.Pending = []string{"tok_old1"}
	pending.TooRecent = []string{"tok_recent"}

	plan := &rotation.Plan{UseCase: repo.UseCase, Target: repo.Target.String(),
		Live:   []groo.TokenInfo{{ID: "tok_old1"}, {ID: "tok_old2"}},
		Secret: ghsecret.Metadata{Exists: true, CreatedAt: t0.Add(-24 * time.Hour), UpdatedAt: t0.Add(-time.Hour)},
		Steps: []rotation.PlanStep{
			{Step: "read", Detail: "list the tokens named \"GitHub Actions - octo/app GROO_PAT\" (2 live)"},
			{Step: "mint", Detail: "mint a token expiring at 2026-12-04T03:00:00Z"},
			{Step: "retire", Detail: "revoke tok_old1, tok_old2 at once"},
		}}

	used := t0.Add(-2 * time.Hour)
	soon := t0.Add(3 * time.Hour)
	tokens := []groo.TokenInfo{
		{ID: "tok_a", Name: repo.UseCase, TokenPrefix: "groo_pat_ab", LastFour: "c183", CreatedAt: t0.Add(-48 * time.Hour), LastUsed: &used, ExpiresAt: &exp0},
		{ID: "tok_b", Name: repo.UseCase, TokenPrefix: "groo_pat_9f", CreatedAt: t0.Add(-time.Hour), ExpiresAt: &soon},
		{ID: "tok_c", Name: repo.UseCase, TokenPrefix: "groo_pat_77", CreatedAt: t0.Add(-time.Hour)},
		{ID: "tok_gone", Name: repo.UseCase, TokenPrefix: "groo_pat_00", CreatedAt: t0.Add(-time.Hour), Revoked: true},
		{ID: "tok_other", Name: "laptop", TokenPrefix: "groo_pat_11", CreatedAt: t0},
	}
	live, findings := auditUseCase(repo.UseCase, tokens, t0)
	liveOne, none := auditUseCase(repo.UseCase, tokens[:1], t0)

	cases := map[string]string{
		"summary_rotated.md":         renderRotation(res, repo, testRunURL),
		"summary_rotated_pending.md": renderRotation(&pending, env, ""),
		"summary_failed.md": renderFailure(repo, "rotate repo:octo/app GROO_PAT: write: put secret repo:octo/app GROO_PAT: GitHub answered 403 | <x>",
			"tok_new (the write's outcome is unknown, so the secret may hold it; the next run settles it)", testRunURL),
		"summary_plan.md":       renderPlan(plan, repo, testRunURL),
		"summary_audit.md":      renderAudit(repo.UseCase, live, findings, testRunURL),
		"summary_audit_ok.md":   renderAudit(repo.UseCase, liveOne, none, testRunURL),
		"summary_audit_none.md": renderAudit("GitHub Actions - octo/gone GROO_PAT", nil, []auditFinding{{Msg: "no live token"}}, ""),
	}
	for name, got := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			golden(t, name, got)
			if strings.Contains(got, testPAT) {
				t.Error("the summary holds the token")
			}
		})
	}
}

func TestAuditRules(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - octo/app GROO_PAT"
	expired := t0.Add(-time.Minute)
	later := t0.Add(72 * time.Hour)
	tests := []struct {
		name           string
		tokens         []groo.TokenInfo
		live           int
		errors, warned int
	}{
		{"one live token with an expiry", []groo.TokenInfo{{ID: "a", Name: uc, ExpiresAt: &later}}, 1, 0, 0},
		{"revoked and expired ones do not count", []groo.TokenInfo{{ID: "a", Name: uc, ExpiresAt: &later},
			{ID: "b", Name: uc, Revoked: true}, {ID: "c", Name: uc, ExpiresAt: &expired}}, 1, 0, 0},
		{"other use cases do not count", []groo.TokenInfo{{ID: "a", Name: uc, ExpiresAt: &later}, {ID: "b", Name: uc + "X", ExpiresAt: &later}}, 1, 0, 0},
		{"two live tokens is an error", []groo.TokenInfo{{ID: "a", Name: uc, ExpiresAt: &later}, {ID: "b", Name: uc, ExpiresAt: &later}}, 2, 1, 0},
		{"none is a warning", nil, 0, 0, 1},
		{"no expiry is a warning", []groo.TokenInfo{{ID: "a", Name: uc}}, 1, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			live, fs := auditUseCase(uc, tc.tokens, t0)
			errs, warns := 0, 0
			for _, f := range fs {
				if f.Error {
					errs++
				} else {
					warns++
				}
			}
			if len(live) != tc.live || errs != tc.errors || warns != tc.warned {
				t.Errorf("live %d errors %d warnings %d; want %d %d %d (%+v)", len(live), errs, warns, tc.live, tc.errors, tc.warned, fs)
			}
		})
	}
}
