package action

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/rotation"
	"github.com/groo/pat-action/internal/testkit"
)

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

	cases := map[string]string{
		"summary_rotated.md":         renderRotation(res, repo, testRunURL),
		"summary_rotated_pending.md": renderRotation(&pending, env, ""),
		"summary_failed.md": renderFailure(repo, "rotate repo:octo/app GROO_PAT: write: put secret repo:octo/app GROO_PAT: GitHub answered 403 | <x>",
			"tok_new (the write's outcome is unknown, so the secret may hold it; the next run settles it)", testRunURL),
		"summary_plan.md": renderPlan(plan, repo, testRunURL),
	}
	for name, got := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testkit.Golden(t, filepath.Join("testdata", name), []byte(got))
			if strings.Contains(got, testPAT) {
				t.Error("the summary holds the token")
			}
		})
	}
}

// The audit's summary is audit.RenderMarkdown of the one use case, then the
// workflow run.
func TestAuditSummaryGolden(t *testing.T) {
	t.Parallel()
	repo := &Inputs{Target: ghsecret.Target{Scope: ghsecret.ScopeRepository, Owner: "octo", Repo: "app", Name: "GROO_PAT"},
		UseCase: "GitHub Actions - octo/app GROO_PAT"}
	used := t0.Add(-2 * time.Hour)
	soon := t0.Add(3 * time.Hour)
	tokens := []groo.TokenInfo{
		{ID: "tok_a", Name: repo.UseCase, TokenPrefix: "groo_pat_ab", LastFour: "c183", CreatedAt: t0.Add(-48 * time.Hour), LastUsed: &used, ExpiresAt: &exp0},
		{ID: "tok_b", Name: repo.UseCase, TokenPrefix: "groo_pat_9f", CreatedAt: t0.Add(-time.Hour), ExpiresAt: &soon},
		{ID: "tok_c", Name: repo.UseCase, TokenPrefix: "groo_pat_77", CreatedAt: t0.Add(-time.Hour)},
		{ID: "tok_gone", Name: repo.UseCase, TokenPrefix: "groo_pat_00", CreatedAt: t0.Add(-time.Hour), Revoked: true},
		{ID: "tok_other", Name: "laptop", TokenPrefix: "groo_pat_11", CreatedAt: t0},
	}
	secret := func(updated time.Time) *ghsecret.Metadata {
		return &ghsecret.Metadata{Exists: true, CreatedAt: t0.Add(-30 * 24 * time.Hour), UpdatedAt: updated}
	}
	cases := []struct {
		golden      string
		tokens      []groo.TokenInfo
		secret      *ghsecret.Metadata
		runURL      string
		errors      int
		maxSeverity string
	}{
		{"summary_audit.md", tokens, secret(t0.Add(-30 * time.Minute)), testRunURL, 2, audit.SeverityError},
		{"summary_audit_ok.md", tokens[:1], secret(t0.Add(-47 * time.Hour)), testRunURL, 0, ""},
		{"summary_audit_none.md", nil, secret(t0.Add(-time.Hour)), "", 0, audit.SeverityWarning},
		{"summary_audit_unreadable.md", tokens[:1], nil, testRunURL, 0, audit.SeverityInfo},
	}
	for _, tc := range cases {
		t.Run(tc.golden, func(t *testing.T) {
			t.Parallel()
			r := audit.Build(auditInput(repo, "usr_octo", tc.tokens, tc.secret, t0))
			got, err := renderAudit(r, tc.runURL)
			if err != nil {
				t.Fatal(err)
			}
			testkit.Golden(t, filepath.Join("testdata", tc.golden), []byte(got))
			if r.Summary.Errors != tc.errors || r.MaxSeverity() != tc.maxSeverity {
				t.Errorf("%d errors, worst %q; want %d, %q", r.Summary.Errors, r.MaxSeverity(), tc.errors, tc.maxSeverity)
			}
			if len(r.Orphans) != 0 {
				t.Errorf("the Action's audit reports orphans: %+v", r.Orphans)
			}
		})
	}
}
