package notify

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func at(d time.Duration) *time.Time { x := t0.Add(d); return &x }

func TestEvaluate(t *testing.T) {
	t.Parallel()
	const tgt, uc = "octo/app GROO_PAT", "GitHub Actions - octo/app GROO_PAT"
	type want struct {
		kind  Kind
		since time.Time
	}
	tests := []struct {
		name  string
		s     Settings
		facts Facts
		want  []want
	}{
		{"nothing", Settings{}, Facts{Targets: []TargetFacts{{Target: tgt, UseCase: uc}}}, nil},
		{"failures below the default threshold", Settings{},
			Facts{Targets: []TargetFacts{{Target: tgt, UseCase: uc, ConsecutiveFailures: 2}}}, nil},
		{"failures at the default threshold, since the last success", Settings{},
			Facts{Targets: []TargetFacts{{Target: tgt, UseCase: uc, ConsecutiveFailures: 3, LastSuccess: at(-5 * time.Hour)}}},
			[]want{{RotationFailing, t0.Add(-5 * time.Hour)}}},
		{"failures since FailingSince", Settings{},
			Facts{Targets: []TargetFacts{{Target: tgt, UseCase: uc, ConsecutiveFailures: 9, FailingSince: at(-time.Hour), LastSuccess: at(-5 * time.Hour)}}},
			[]want{{RotationFailing, t0.Add(-time.Hour)}}},
		{"failed-runs 1", Settings{FailedRuns: 1},
			Facts{Targets: []TargetFacts{{Target: tgt, UseCase: uc, ConsecutiveFailures: 1}}},
			[]want{{RotationFailing, time.Time{}}}},
		{"failed-runs 5, 4 failures", Settings{FailedRuns: 5},
			Facts{Targets: []TargetFacts{{Target: tgt, UseCase: uc, ConsecutiveFailures: 4}}}, nil},

		{"token expires just beyond the warning", Settings{},
			Facts{Targets: []TargetFacts{{Target: tgt, UseCase: uc, SecretTokenExpiresAt: at(24*time.Hour + time.Nanosecond)}}}, nil},
		{"token expires exactly at the warning", Settings{},
			Facts{Targets: []TargetFacts{{Target: tgt, UseCase: uc, SecretTokenExpiresAt: at(24 * time.Hour)}}},
			[]want{{TokenExpiring, t0}}},
		{"token expired", Settings{},
			Facts{Targets: []TargetFacts{{Target: tgt, UseCase: uc, SecretTokenExpiresAt: at(-time.Minute), LastSuccess: at(-30 * 24 * time.Hour)}}},
			[]want{{TokenExpiring, t0.Add(-time.Minute - 24*time.Hour)}}},
		{"token expiring, success before the window opened", Settings{ExpiryWarning: 2 * time.Hour},
			Facts{Targets: []TargetFacts{{Target: tgt, UseCase: uc, SecretTokenExpiresAt: at(time.Hour), LastSuccess: at(-time.Hour - time.Nanosecond)}}},
			[]want{{TokenExpiring, t0.Add(-time.Hour)}}},
		{"token expiring, success as the window opened", Settings{ExpiryWarning: 2 * time.Hour},
			Facts{Targets: []TargetFacts{{Target: tgt, UseCase: uc, SecretTokenExpiresAt: at(time.Hour), LastSuccess: at(-time.Hour)}}}, nil},
		{"TTL shorter than the warning, just rotated", Settings{},
			Facts{Targets: []TargetFacts{{Target: tgt, UseCase: uc, SecretTokenExpiresAt: at(12 * time.Hour), LastSuccess: at(-time.Minute)}}}, nil},
		{"expiry unknown", Settings{},
			Facts{Targets: []TargetFacts{{Target: tgt, UseCase: uc}}}, nil},

		{"revoke pending, exactly at grace+stuck", Settings{},
			Facts{Targets: []TargetFacts{{Target: tgt, UseCase: uc, PendingRevokes: []PendingRevoke{{TokenID: "tok_1", RevokeAfter: t0.Add(-time.Hour)}}}}}, nil},
		{"revoke pending, just past grace+stuck", Settings{},
			Facts{Targets: []TargetFacts{{Target: tgt, UseCase: uc, PendingRevokes: []PendingRevoke{{TokenID: "tok_1", RevokeAfter: t0.Add(-time.Hour - time.Nanosecond)}}}}},
			[]want{{RevokeStuck, t0.Add(-time.Nanosecond)}}},
		{"two stuck and one not: one condition, earliest since", Settings{StuckRevoke: 10 * time.Minute},
			Facts{Targets: []TargetFacts{{Target: tgt, UseCase: uc, PendingRevokes: []PendingRevoke{
				{TokenID: "tok_2", RevokeAfter: t0.Add(-20 * time.Minute)},
				{TokenID: "tok_1", RevokeAfter: t0.Add(-3 * time.Hour)},
				{TokenID: "tok_3", RevokeAfter: t0.Add(-5 * time.Minute)},
			}}}},
			[]want{{RevokeStuck, t0.Add(-3*time.Hour + 10*time.Minute)}}},

		{"credential beyond the warning", Settings{},
			Facts{Credentials: []CredentialFacts{{Name: "env GROO_TOKEN", ExpiresAt: at(24*time.Hour + time.Second)}}}, nil},
		{"credential at the warning", Settings{},
			Facts{Credentials: []CredentialFacts{{Name: "env GROO_TOKEN", ExpiresAt: at(24 * time.Hour)}}},
			[]want{{CredentialExpiring, t0}}},
		{"credential without expiry", Settings{},
			Facts{Credentials: []CredentialFacts{{Name: "env GROO_TOKEN"}}}, nil},

		{"everything at once", Settings{},
			Facts{Targets: []TargetFacts{{Target: tgt, UseCase: uc, ConsecutiveFailures: 3, SecretTokenExpiresAt: at(time.Hour),
				PendingRevokes: []PendingRevoke{{TokenID: "tok_1", RevokeAfter: t0.Add(-2 * time.Hour)}}}},
				Credentials: []CredentialFacts{{Name: "env GROO_TOKEN", ExpiresAt: at(time.Hour)}}},
			[]want{{CredentialExpiring, t0.Add(-23 * time.Hour)}, {RevokeStuck, t0.Add(-time.Hour)},
				{RotationFailing, time.Time{}}, {TokenExpiring, t0.Add(-23 * time.Hour)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Evaluate(tt.facts, tt.s, t0)
			var gotW []want
			for _, c := range got {
				gotW = append(gotW, want{c.Kind, c.Since})
				if c.Message == "" {
					t.Errorf("%s has no message", c.Kind)
				}
				if c.Kind != CredentialExpiring && (c.Target != tgt || c.UseCase != uc) {
					t.Errorf("%s names %q / %q", c.Kind, c.Target, c.UseCase)
				}
			}
			if fmt.Sprint(gotW) != fmt.Sprint(tt.want) {
				t.Errorf("Evaluate\n got %v\nwant %v", gotW, tt.want)
			}
			again := Evaluate(tt.facts, tt.s, t0)
			if fmt.Sprint(again) != fmt.Sprint(got) {
				t.Error("Evaluate is not deterministic")
			}
		})
	}
}

func TestEvaluateMessages(t *testing.T) {
	t.Parallel()
	got := Evaluate(Facts{Targets: []TargetFacts{{Target: "t", UseCase: "u", ConsecutiveFailures: 4, LastError: "mint: 503",
		SecretTokenExpiresAt: at(90 * time.Minute), PendingRevokes: []PendingRevoke{{TokenID: "tok_9", RevokeAfter: t0.Add(-2 * time.Hour)}}}},
		Credentials: []CredentialFacts{{Name: "env GROO_TOKEN", ExpiresAt: at(-time.Hour)}}}, Settings{}, t0)
	msgs := map[Kind]string{}
	for _, c := range got {
		msgs[c.Kind] = c.Message
	}
	for k, want := range map[Kind][]string{
		RotationFailing:    {"4 consecutive", "threshold 3", "last error: mint: 503"},
		TokenExpiring:      {"expires at 2026-12-01T13:30:00Z", "in 1h30m0s", "no successful rotation"},
		RevokeStuck:        {"1 replaced token", "tok_9", "1h0m0s"},
		CredentialExpiring: {"expired at 2026-12-01T11:00:00Z", "replace it"},
	} {
		for _, w := range want {
			if !strings.Contains(msgs[k], w) {
				t.Errorf("%s message %q lacks %q", k, msgs[k], w)
			}
		}
	}
}

func TestKey(t *testing.T) {
	t.Parallel()
	a := Condition{Kind: RotationFailing, Target: "a b", UseCase: "c", Message: "x", Since: t0}
	b := Condition{Kind: RotationFailing, Target: "a", UseCase: "b c", Message: "y"}
	if a.Key() == b.Key() {
		t.Errorf("%q and %q share a key", a.Target, b.Target)
	}
	c := a
	c.Message, c.Since = "other", t0.Add(time.Hour)
	if a.Key() != c.Key() {
		t.Error("the message or Since changed the key")
	}
	if claimKey(RotationFailing, a) == claimKey(RotationFailing, c) {
		t.Error("a new Since did not change the claim key")
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := Webhook{URL: "https://hooks.example.com/services/T0/B0/xyz", Source: "env PAT_ROTATOR_WEBHOOK"}
	tests := []struct {
		name string
		s    Settings
		want []string // "" for valid
	}{
		{"empty", Settings{}, nil},
		{"defaults", Settings{Webhooks: []Webhook{ok}}, nil},
		{"slack and json", Settings{Webhooks: []Webhook{ok, {URL: "http://127.0.0.1:9/x", Format: FormatSlack}}, FailedRuns: 1}, nil},
		{"empty URL", Settings{Webhooks: []Webhook{{Source: "env PAT_ROTATOR_WEBHOOK"}}},
			[]string{"notify.webhooks[0] (env PAT_ROTATOR_WEBHOOK): the URL is empty", "url-env", "url-file"}},
		{"bad format", Settings{Webhooks: []Webhook{{URL: ok.URL, Format: "teams"}}},
			[]string{`unknown format "teams"; use json or slack`}},
		{"scheme", Settings{Webhooks: []Webhook{{URL: "ftp://example.com/x"}}}, []string{`scheme is "ftp"; use https`}},
		{"relative", Settings{Webhooks: []Webhook{{URL: "/hooks/x"}}}, []string{"scheme"}},
		{"no host", Settings{Webhooks: []Webhook{{URL: "https:///x"}}}, []string{"no host"}},
		{"trailing newline from a file", Settings{Webhooks: []Webhook{{URL: ok.URL + "\n", Source: "file /run/hook"}}},
			[]string{"(file /run/hook)", "line break", "no trailing newline"}},
		{"user info", Settings{Webhooks: []Webhook{{URL: "https://u:p@example.com/x"}}}, []string{"user info"}},
		{"duplicate", Settings{Webhooks: []Webhook{ok, ok}}, []string{"notify.webhooks[1]", "same URL as notify.webhooks[0]"}},
		{"negative thresholds", Settings{FailedRuns: -1, ExpiryWarning: -time.Hour, StuckRevoke: -time.Minute},
			[]string{"notify.failed-runs: -1 is negative; use 1 or more", "notify.expiry-warning", "notify.stuck-revoke"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.s.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate = nil, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			for _, h := range tt.s.Webhooks {
				if len(h.URL) > 30 && strings.Contains(err.Error(), h.URL) {
					t.Errorf("error %q holds the URL", err)
				}
			}
			if _, err := New(Options{Settings: tt.s}); err == nil {
				t.Error("New accepted settings Validate refuses")
			}
		})
	}
}

func TestWithDefaults(t *testing.T) {
	t.Parallel()
	s := Settings{Webhooks: []Webhook{{URL: "https://x.example/y"}}}.WithDefaults()
	if s.FailedRuns != 3 || s.ExpiryWarning != 24*time.Hour || s.StuckRevoke != time.Hour || s.Webhooks[0].Format != FormatJSON {
		t.Errorf("defaults %+v", s)
	}
	s = Settings{FailedRuns: 7, ExpiryWarning: time.Hour, StuckRevoke: time.Minute}.WithDefaults()
	if s.FailedRuns != 7 || s.ExpiryWarning != time.Hour || s.StuckRevoke != time.Minute {
		t.Errorf("explicit values changed: %+v", s)
	}
}
