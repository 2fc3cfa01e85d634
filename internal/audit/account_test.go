package audit

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
)

func codesOf(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Code+":"+f.TokenID)
	}
	slices.Sort(out)
	return out
}

// A replaced token inside its revoke grace is revoke-scheduled and nothing
// else, whether a pending revoke or the retire rule (secret's updated_at +
// the target's grace, no store) says so.
func TestGraceTokens(t *testing.T) {
	t.Parallel()
	now := fixtureNow
	desc := fxStr("Managed by pat-rotator for repo:octo/app GROO_PAT (attempt rot_0123abcd, try 1, write window 2m0s)")
	boot := groo.TokenInfo{ID: "tok_boot", Name: ucApp, TokenPrefix: "groo_pat_bo", LastFour: "boot", CreatedAt: now.Add(-24 * time.Hour)}
	newTok := func(created time.Time) groo.TokenInfo {
		exp := created.Add(30 * 24 * time.Hour)
		return groo.TokenInfo{ID: "tok_new", Name: ucApp, TokenPrefix: "groo_pat_ne", LastFour: "fnew", CreatedAt: created,
			ExpiresAt: &exp, Description: desc}
	}
	tests := []struct {
		name    string
		older   groo.TokenInfo
		written time.Duration // the secret's updated_at, before now
		grace   time.Duration
		secret  bool // metadata readable
		pending []PendingRevoke
		want    []string
		msg     string
	}{
		{name: "in grace by the retire rule", older: boot, written: 5 * time.Minute, grace: 15 * time.Minute, secret: true,
			want: []string{"revoke-scheduled:tok_boot"}, msg: "revoke scheduled at 2026-03-10T12:10:01Z"},
		{name: "grace over", older: boot, written: 20 * time.Minute, grace: 15 * time.Minute, secret: true,
			want: []string{"multiple-live-tokens:", "no-expiry:tok_boot"}},
		{name: "no grace", older: boot, written: 5 * time.Minute, secret: true,
			want: []string{"multiple-live-tokens:", "no-expiry:tok_boot"}},
		{name: "older token's writes may not have ended", older: func() groo.TokenInfo {
			b := boot
			b.CreatedAt = now.Add(-6 * time.Minute) // 1m before the new token, within its 15m window
			return b
		}(), written: 5 * time.Minute, grace: 15 * time.Minute, secret: true,
			want: []string{"multiple-live-tokens:", "no-expiry:tok_boot"}},
		{name: "secret unreadable: the rule cannot tell", older: boot, written: 5 * time.Minute, grace: 15 * time.Minute,
			want: []string{"in-secret-unknown:", "multiple-live-tokens:", "no-expiry:tok_boot", "secret-unreadable:"}},
		{name: "pending revoke not due", older: boot, written: 5 * time.Minute, secret: true,
			pending: []PendingRevoke{{TokenID: "tok_boot", UseCase: ucApp, RevokeAfter: now.Add(10 * time.Minute)}},
			want:    []string{"revoke-scheduled:tok_boot"}, msg: "revoke scheduled at 2026-03-10T12:10:00Z"},
		{name: "pending revoke due", older: boot, written: 30 * time.Minute, grace: 15 * time.Minute, secret: true,
			pending: []PendingRevoke{{TokenID: "tok_boot", UseCase: ucApp, RevokeAfter: now.Add(-10 * time.Minute)}},
			want:    []string{"multiple-live-tokens:", "no-expiry:tok_boot", "revoke-pending:tok_boot"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			written := now.Add(-tt.written)
			cur := newTok(written.Add(-time.Second))
			uc := UseCaseInput{UseCase: ucApp, Target: "repo:octo/app GROO_PAT", Grace: tt.grace, PendingRevokes: tt.pending,
				Interval: 24 * time.Hour}
			if tt.secret {
				uc.Secret = &ghsecret.Metadata{Exists: true, CreatedAt: now.Add(-48 * time.Hour), UpdatedAt: written}
			}
			r := Build(Input{Now: now, Tokens: []groo.TokenInfo{tt.older, cur}, UseCases: []UseCaseInput{uc}})
			if got := codesOf(r.Findings); !slices.Equal(got, tt.want) {
				t.Errorf("findings %v, want %v", got, tt.want)
			}
			if tt.msg != "" && !slices.ContainsFunc(r.Findings, func(f Finding) bool { return strings.Contains(f.Message, tt.msg) }) {
				t.Errorf("no finding says %q: %+v", tt.msg, r.Findings)
			}
			if len(r.UseCases[0].Live) != 2 {
				t.Errorf("a token in grace is still listed live: %+v", r.UseCases[0].Live)
			}
		})
	}
}

func TestUnmanagedTokens(t *testing.T) {
	t.Parallel()
	now := fixtureNow
	exp := func(d time.Duration) *time.Time { e := now.Add(d); return &e }
	used := func(d time.Duration) *time.Time { u := now.Add(-d); return &u }
	tok := func(name string, created time.Duration, expires, lastUsed *time.Time) groo.TokenInfo {
		return groo.TokenInfo{ID: "tok_x", Name: name, TokenPrefix: "groo_pat_xx", LastFour: "abcd", CreatedAt: now.Add(-created),
			ExpiresAt: expires, LastUsed: lastUsed}
	}
	tests := []struct {
		name      string
		tok       groo.TokenInfo
		unmanaged bool
		want      []string
	}{
		{"a fresh token with an expiry", tok("laptop", 24*time.Hour, exp(30*24*time.Hour), used(time.Hour)), true, nil},
		{"no expiry", tok("laptop", 24*time.Hour, nil, used(time.Hour)), true, []string{"unmanaged-no-expiry:tok_x"}},
		{"ttl above max", tok("deploy", 24*time.Hour, exp(100*24*time.Hour), used(time.Hour)), true, []string{"unmanaged-ttl-above-max:tok_x"}},
		{"unused", tok("deploy", 40*24*time.Hour, exp(20*24*time.Hour), used(31*24*time.Hour)), true, []string{"unmanaged-unused:tok_x"}},
		{"never used counts from creation", tok("deploy", 31*24*time.Hour, exp(20*24*time.Hour), nil), true, []string{"unmanaged-unused:tok_x"}},
		{"the tool's naming scheme is not unmanaged", tok("GitHub Actions - octo/other GROO_PAT", 24*time.Hour, nil, nil), false, nil},
		{"a configured use case is not unmanaged", tok(ucApp, 24*time.Hour, exp(24*time.Hour), nil), false, []string{"multiple-live-tokens:"}},
		{"a use case not audited is not unmanaged", tok("custom name", 24*time.Hour, nil, nil), false, nil},
		{"the credential is its own row", func() groo.TokenInfo {
			x := tok("bot", 24*time.Hour, exp(30*24*time.Hour), nil)
			x.TokenPrefix, x.LastFour = "groo_pat_cr", "cred"
			return x
		}(), false, nil},
		{"a revoked token is not listed", func() groo.TokenInfo { x := tok("old", 24*time.Hour, nil, nil); x.Revoked = true; return x }(), false, nil},
		{"an expired token is not listed", tok("old", 24*time.Hour, exp(-time.Hour), nil), false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cur := groo.TokenInfo{ID: "tok_cur", Name: ucApp, TokenPrefix: "groo_pat_cu", LastFour: "fcur", CreatedAt: now.Add(-time.Hour), ExpiresAt: exp(24 * time.Hour)}
			in := Input{Now: now, Tokens: []groo.TokenInfo{tt.tok, cur}, KnownNames: []string{"custom name"},
				Credential: CredentialRef{Prefix: "groo_pat_cr", LastFour: "cred"},
				UseCases:   []UseCaseInput{{UseCase: ucApp, Target: "repo:octo/app GROO_PAT", CurrentTokenID: "tok_cur"}}}
			r := Build(in)
			if got := len(r.Unmanaged) == 1; got != tt.unmanaged || r.Summary.Unmanaged != len(r.Unmanaged) {
				t.Errorf("unmanaged %+v (summary %d), want listed %v", r.Unmanaged, r.Summary.Unmanaged, tt.unmanaged)
			}
			var got []string
			for _, f := range r.Findings {
				if f.UseCase != ucApp || f.Code == CodeMultipleLiveTokens {
					if !strings.HasPrefix(f.Code, "credential-") && f.Code != CodeSecretUnreadable && f.Code != CodeInSecretUnknown {
						got = append(got, f.Code+":"+f.TokenID)
					}
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("findings %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCredentialRow(t *testing.T) {
	t.Parallel()
	now := fixtureNow
	exp := func(d time.Duration) *time.Time { e := now.Add(d); return &e }
	cred := func(name string, expires *time.Time) groo.TokenInfo {
		return groo.TokenInfo{ID: "tok_bot", Name: name, TokenPrefix: "groo_pat_bo", LastFour: "fbot", CreatedAt: now.Add(-24 * time.Hour), ExpiresAt: expires}
	}
	ref := CredentialRef{Prefix: "groo_pat_bo", LastFour: "fbot"}
	tests := []struct {
		name   string
		tokens []groo.TokenInfo
		ref    CredentialRef
		row    bool
		want   []string
	}{
		{"fresh", []groo.TokenInfo{cred("bot", exp(30*24*time.Hour))}, ref, true, nil},
		{"no expiry", []groo.TokenInfo{cred("bot", nil)}, ref, true, []string{"credential-no-expiry:tok_bot"}},
		{"expires within 7d", []groo.TokenInfo{cred("bot", exp(6*24*time.Hour))}, ref, true, []string{"credential-expires-soon:tok_bot"}},
		{"expires in 8d", []groo.TokenInfo{cred("bot", exp(8*24*time.Hour))}, ref, true, nil},
		{"not listed", nil, ref, false, []string{"credential-unidentified:"}},
		{"listed without its last four", []groo.TokenInfo{func() groo.TokenInfo { c := cred("bot", nil); c.LastFour = ""; return c }()}, ref, false,
			[]string{"credential-unidentified:", "unmanaged-no-expiry:tok_bot"}},
		{"revoked", []groo.TokenInfo{func() groo.TokenInfo { c := cred("bot", nil); c.Revoked = true; return c }()}, ref, false,
			[]string{"credential-unidentified:"}},
		{"a use case's token: its checks are the use case's", []groo.TokenInfo{cred(ucApp, exp(2*24*time.Hour))}, ref, true, nil},
		{"named like the tool's tokens: a rotation renews it", []groo.TokenInfo{cred("GitHub Actions - octo/admin GROO_PAT", exp(2*24*time.Hour))}, ref, true, nil},
		{"unknown credential: no row, no finding", []groo.TokenInfo{cred("bot", nil)}, CredentialRef{}, false, []string{"unmanaged-no-expiry:tok_bot"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := Build(Input{Now: now, Tokens: tt.tokens, Credential: tt.ref,
				UseCases: []UseCaseInput{{UseCase: ucApp, Target: "repo:octo/app GROO_PAT", Secret: &ghsecret.Metadata{Exists: true, UpdatedAt: now.Add(-time.Hour)}}}})
			if (r.Credential != nil) != tt.row {
				t.Errorf("credential row %+v, want one: %v", r.Credential, tt.row)
			}
			if r.Credential != nil && (r.Credential.ID != "tok_bot" || r.Credential.Prefix != "groo_pat_bo" || r.Credential.LastFour != "fbot") {
				t.Errorf("credential row %+v", r.Credential)
			}
			var got []string
			for _, f := range r.Findings {
				if f.UseCase != ucApp {
					got = append(got, f.Code+":"+f.TokenID)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("findings %v, want %v", got, tt.want)
			}
		})
	}
}

// Unmanaged tokens are kept unless included, and the credential always.
func TestPlanPruneUnmanaged(t *testing.T) {
	t.Parallel()
	now := fixtureNow
	tokens := []groo.TokenInfo{
		{ID: "tok_lap", Name: "laptop", TokenPrefix: "groo_pat_la", LastFour: "flap", CreatedAt: now.Add(-100 * 24 * time.Hour)},
		{ID: "tok_odd", Name: "no last four", TokenPrefix: "groo_pat_bo", CreatedAt: now.Add(-100 * 24 * time.Hour)},
	}
	keep := func(x groo.TokenInfo) bool { return x.TokenPrefix == "groo_pat_bo" } // as retire.Matches: no last four, maybe the credential
	tests := []struct {
		include bool
		want    map[string]bool // token -> revoked
	}{
		{false, map[string]bool{"tok_lap": false, "tok_odd": false}},
		{true, map[string]bool{"tok_lap": true, "tok_odd": false}},
	}
	for _, tt := range tests {
		in := Input{Now: now, Tokens: tokens, IncludeUnmanaged: tt.include, Credential: CredentialRef{Prefix: "groo_pat_bo", LastFour: "fbot"}}
		plan := PlanPrune(Build(in), in, 0, keep)
		if len(plan) != len(tt.want) {
			t.Fatalf("include %v: plan %+v", tt.include, plan)
		}
		for _, a := range plan {
			if !a.Unmanaged || a.Skip == tt.want[a.TokenID] {
				t.Errorf("include %v: %s skip=%v (%s), want revoked %v", tt.include, a.TokenID, a.Skip, a.SkipReason, tt.want[a.TokenID])
			}
			if a.Skip && a.TokenID == "tok_lap" && !strings.Contains(a.SkipReason, "any secret the tool does not know") {
				t.Errorf("skip reason %q", a.SkipReason)
			}
			if !a.Skip && !strings.Contains(a.Reason, "any secret the tool does not know") {
				t.Errorf("reason %q", a.Reason)
			}
		}
	}
}

// The Action's fixes name an input or Groo's UI, never pat-rotator.
func TestActionFixes(t *testing.T) {
	t.Parallel()
	in := fixtureInput()
	in.ActionFixes = true
	r := Build(in)
	all := slices.Clone(r.Findings)
	for _, uc := range r.UseCases {
		all = append(all, uc.Findings...)
	}
	for _, f := range all {
		if strings.Contains(f.Fix, "pat-rotator") || f.Fix == "" {
			t.Errorf("%s: fix %q", f.Code, f.Fix)
		}
	}
	for _, k := range FindingKinds {
		if k.ActionFix == "" || strings.Contains(k.ActionFix, "pat-rotator") {
			t.Errorf("%s: action fix %q", k.Code, k.ActionFix)
		}
	}
}
