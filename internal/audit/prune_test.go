package audit

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/testkit"
)

func TestPlanPruneFixture(t *testing.T) {
	t.Parallel()
	in := fixtureInput()
	plan := PlanPrune(Build(in), in, 0, nil)
	var b bytes.Buffer
	if err := RenderPrunePlan(&b, plan); err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, filepath.Join("testdata", "report", "prune.golden"), b.Bytes())

	for _, a := range plan {
		if a.Skip == (a.SkipReason == "") {
			t.Errorf("%s: skip %v with reason %q", a.TokenID, a.Skip, a.SkipReason)
		}
		if a.Reason == "" {
			t.Errorf("%s: no reason", a.TokenID)
		}
	}
}

func TestPlanPruneRules(t *testing.T) {
	t.Parallel()
	const uc = "GitHub Actions - o/r GROO_PAT"
	now := fixtureNow
	old := fxToken("tok_old", uc, "2026-03-01T00:00:00Z", fxTimeP("2026-04-01T00:00:00Z"), nil)
	cur := fxToken("tok_cur", uc, "2026-03-10T11:00:00Z", fxTimeP("2026-04-10T00:00:00Z"), nil)
	// Minted 2m30s ago: younger than W + margin (3m).
	young := fxToken("tok_young", uc, "2026-03-10T11:57:30Z", fxTimeP("2026-04-10T00:00:00Z"), nil)
	// Minted 10m ago, after the secret's last write: a rotation whose write
	// outcome is unknown may have written it.
	newer := fxToken("tok_newer", uc, "2026-03-10T11:50:00Z", fxTimeP("2026-04-10T00:00:00Z"), nil)
	success := Event{ID: "att_cur", Time: fxTime("2026-03-10T11:00:05Z"), Outcome: OutcomeSucceeded, NewTokenID: "tok_cur", WrittenAt: fxTimeP("2026-03-10T11:00:04Z")}
	meta := &ghsecret.Metadata{Exists: true, UpdatedAt: fxTime("2026-03-10T11:00:04Z")}
	window := func(t groo.TokenInfo, w string) groo.TokenInfo {
		t.Description = fxStr("Managed by pat-action for repo:o/r GROO_PAT (attempt rot_0123456789abcdef, write window " + w + ")")
		return t
	}
	actCur := window(fxToken("tok_acur", uc, "2026-03-10T11:54:00Z", fxTimeP("2026-04-10T00:00:00Z"), nil), "1s")
	actSuccess := Event{ID: "att_acur", Time: fxTime("2026-03-10T11:54:06Z"), Outcome: OutcomeSucceeded, NewTokenID: "tok_acur", WrittenAt: fxTimeP("2026-03-10T11:54:05Z")}
	actTok := window(fxToken("tok_act", uc, "2026-03-10T11:54:30Z", fxTimeP("2026-04-10T00:00:00Z"), nil), "2m0s")
	overlap := window(fxToken("tok_ovl", uc, "2026-03-10T11:53:30Z", fxTimeP("2026-04-10T00:00:00Z"), nil), "2m0s")

	tests := []struct {
		name   string
		tokens []groo.TokenInfo
		uc     UseCaseInput
		grace  time.Duration
		want   map[string]string // token id -> "revoke" or a fragment of the skip reason
	}{
		{"store: the extra token goes, the current stays",
			[]groo.TokenInfo{old, cur}, UseCaseInput{CurrentTokenID: "tok_cur", Secret: meta, History: []Event{success}}, 0,
			map[string]string{"tok_old": "revoke", "tok_cur": "token in the secret"}},
		{"derived from updated_at alone: nothing goes (Groo's and GitHub's clocks may disagree)",
			[]groo.TokenInfo{old, cur}, UseCaseInput{Secret: meta}, 0,
			map[string]string{"tok_old": "no store record", "tok_cur": "token in the secret"}},
		{"too recent", []groo.TokenInfo{old, cur, young}, UseCaseInput{CurrentTokenID: "tok_cur", Secret: meta, History: []Event{success}}, 0,
			map[string]string{"tok_old": "revoke", "tok_cur": "token in the secret", "tok_young": "may have landed after the recorded one"}},
		{"newer than the secret's last write", []groo.TokenInfo{old, cur, newer}, UseCaseInput{CurrentTokenID: "tok_cur", Secret: meta, History: []Event{success}}, 0,
			map[string]string{"tok_old": "revoke", "tok_cur": "token in the secret", "tok_newer": "may have landed after the recorded one"}},
		// Issue 8.3: another writer (the Action, W = 2m) wrote its token a
		// few seconds after the store's record; it stays whatever this
		// tool's own window, and long after its own window passed.
		{"another writer's token written after the record stays",
			[]groo.TokenInfo{old, actCur, actTok}, UseCaseInput{CurrentTokenID: "tok_acur", History: []Event{actSuccess},
				Secret: &ghsecret.Metadata{Exists: true, UpdatedAt: fxTime("2026-03-10T11:55:00Z")}}, 0,
			map[string]string{"tok_old": "revoke", "tok_acur": "token in the secret", "tok_act": "may have landed after the recorded one"}},
		{"a token that overlapped the recorded one's mint stays",
			[]groo.TokenInfo{old, actCur, overlap}, UseCaseInput{CurrentTokenID: "tok_acur", History: []Event{actSuccess},
				Secret: &ghsecret.Metadata{Exists: true, UpdatedAt: fxTime("2026-03-10T11:54:05Z")}}, 0,
			map[string]string{"tok_old": "revoke", "tok_acur": "token in the secret", "tok_ovl": "may have landed after the recorded one"}},

		{"the credential is never revoked", []groo.TokenInfo{old, cur}, UseCaseInput{CurrentTokenID: "tok_cur", Secret: meta, History: []Event{success}}, 0,
			map[string]string{"tok_old": "credential", "tok_cur": "token in the secret"}},
		{"grace not over", []groo.TokenInfo{old, cur}, UseCaseInput{CurrentTokenID: "tok_cur", Secret: meta, History: []Event{success}}, 2 * time.Hour,
			map[string]string{"tok_old": "grace period until 2026-03-10T13:00:04Z", "tok_cur": "token in the secret"}},
		{"grace over", []groo.TokenInfo{old, cur}, UseCaseInput{CurrentTokenID: "tok_cur", Secret: meta, History: []Event{success}}, 30 * time.Minute,
			map[string]string{"tok_old": "revoke", "tok_cur": "token in the secret"}},
		{"the store's pending revoke is not due", []groo.TokenInfo{old, cur}, UseCaseInput{CurrentTokenID: "tok_cur", Secret: meta, History: []Event{success},
			PendingRevokes: []PendingRevoke{{TokenID: "tok_old", RevokeAfter: fxTime("2026-03-10T12:30:00Z")}}}, 0,
			map[string]string{"tok_old": "grace period until 2026-03-10T12:30:00Z", "tok_cur": "token in the secret"}},
		{"unknown: nothing goes", []groo.TokenInfo{old, cur}, UseCaseInput{}, 0,
			map[string]string{"tok_old": "metadata could not be read", "tok_cur": "metadata could not be read"}},
		{"store but unreadable secret", []groo.TokenInfo{old, cur}, UseCaseInput{CurrentTokenID: "tok_cur"}, 0,
			map[string]string{"tok_old": "metadata could not be read", "tok_cur": "token in the secret"}},
		{"missing secret", []groo.TokenInfo{old, cur}, UseCaseInput{CurrentTokenID: "tok_cur", Secret: &ghsecret.Metadata{}}, 0,
			map[string]string{"tok_old": "secret is missing", "tok_cur": "secret is missing"}},
		{"written outside", []groo.TokenInfo{old, cur}, UseCaseInput{CurrentTokenID: "tok_cur", History: []Event{success},
			Secret: &ghsecret.Metadata{Exists: true, UpdatedAt: fxTime("2026-03-10T11:30:00Z")}}, 0,
			map[string]string{"tok_old": "written outside", "tok_cur": "token in the secret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := tt.uc
			u.UseCase, u.Target = uc, "repo:o/r GROO_PAT"
			in := Input{Now: now, Tokens: tt.tokens, UseCases: []UseCaseInput{u}}
			var keep func(groo.TokenInfo) bool
			if strings.Contains(tt.name, "credential") {
				keep = func(t groo.TokenInfo) bool { return t.ID == "tok_old" }
			}
			plan := PlanPrune(Build(in), in, tt.grace, keep)
			if len(plan) != len(tt.want) {
				t.Fatalf("plan has %d lines, want %d: %+v", len(plan), len(tt.want), plan)
			}
			for _, a := range plan {
				want := tt.want[a.TokenID]
				switch {
				case want == "revoke" && a.Skip:
					t.Errorf("%s kept (%s), want revoked", a.TokenID, a.SkipReason)
				case want != "revoke" && !a.Skip:
					t.Errorf("%s revoked, want kept (%s)", a.TokenID, want)
				case want != "revoke" && !strings.Contains(a.SkipReason, want):
					t.Errorf("%s kept because %q, want %q", a.TokenID, a.SkipReason, want)
				}
			}
		})
	}
}
