package notify

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Kind is a notification's event.
type Kind string

const (
	RotationFailing    Kind = "rotation-failing"
	TokenExpiring      Kind = "token-expiring"
	RevokeStuck        Kind = "revoke-stuck"
	CredentialExpiring Kind = "credential-expiring"
	// Recovered is sent, once, when a condition that was notified clears.
	Recovered Kind = "recovered"
)

// Condition is one currently-true threat to liveness (DESIGN.md L3).
type Condition struct {
	Kind    Kind
	Target  string // the target as printed ("octo/app GROO_PAT"); the credential's name for CredentialExpiring
	UseCase string // "" for CredentialExpiring
	Message string // what a person reads; redacted and made one line before it is sent
	// Since is when the condition started. It names the occurrence across
	// replicas (see Claimer), so it must be derived from facts every replica
	// sees alike (Evaluate does), not from the moment it was observed.
	Since time.Time
}

// Key is the condition's identity for deduplication: kind, target and use
// case. A condition with the same Key observed again is the same condition.
func (c Condition) Key() string {
	return string(c.Kind) + " " + strconv.Quote(c.Target) + " " + strconv.Quote(c.UseCase)
}

// claimKey names one occurrence of a condition (or of its recovery) across
// replicas: Key plus Since, so that a condition which clears and comes back
// is a new occurrence.
func claimKey(event Kind, c Condition) string {
	k := "notify " + string(event) + " " + c.Key()
	if !c.Since.IsZero() {
		k += " since " + c.Since.UTC().Format(time.RFC3339Nano)
	}
	return k
}

// Facts are what the daemon knows when it evaluates; Evaluate turns them into
// conditions.
type Facts struct {
	Targets     []TargetFacts
	Credentials []CredentialFacts
}

// TargetFacts are one target's facts, from the daemon's store.
type TargetFacts struct {
	Target  string
	UseCase string
	// ConsecutiveFailures counts the failed attempts since the last success.
	ConsecutiveFailures int
	LastError           string
	// FailingSince is when the first of those failures happened, if known;
	// else the rotation-failing condition's Since is LastSuccess.
	FailingSince *time.Time
	// SecretTokenExpiresAt is the expiry of the token the secret holds (the
	// last one written), nil when unknown.
	SecretTokenExpiresAt *time.Time
	// LastSuccess is when a rotation of this target last succeeded, nil if
	// never.
	LastSuccess    *time.Time
	PendingRevokes []PendingRevoke
}

// PendingRevoke is a replaced token still live, to be revoked once
// RevokeAfter (its successor's write plus grace) has passed.
type PendingRevoke struct {
	TokenID     string
	RevokeAfter time.Time
}

// CredentialFacts are the expiry of a credential the daemon authenticates
// with to Groo (the bot's PAT).
type CredentialFacts struct {
	Name      string // how the configuration names it, e.g. "env GROO_TOKEN"
	ExpiresAt *time.Time
}

// Evaluate returns the conditions that facts make true at now, sorted by
// Key. It is pure. With s's zero thresholds taken as defaults:
//
//   - rotation-failing: ConsecutiveFailures >= FailedRuns. Since is
//     FailingSince, else LastSuccess, else zero.
//   - token-expiring: the secret's token expires within ExpiryWarning
//     (expiresAt - now <= ExpiryWarning, an expired one included) and no
//     rotation has succeeded since the warning window opened (LastSuccess is
//     nil or before expiresAt - ExpiryWarning). The second half keeps a
//     target whose TTL is shorter than ExpiryWarning quiet right after each
//     success. Since is expiresAt - ExpiryWarning.
//   - revoke-stuck: a pending revoke with now after RevokeAfter + StuckRevoke
//     (strictly). One condition per target whatever the number of tokens;
//     Since is the earliest such RevokeAfter + StuckRevoke.
//   - credential-expiring: the credential expires within ExpiryWarning
//     (expiresAt - now <= ExpiryWarning). Since is expiresAt - ExpiryWarning.
func Evaluate(facts Facts, s Settings, now time.Time) []Condition {
	s = s.WithDefaults()
	var out []Condition
	for _, f := range facts.Targets {
		if f.ConsecutiveFailures >= s.FailedRuns {
			c := Condition{Kind: RotationFailing, Target: f.Target, UseCase: f.UseCase}
			switch {
			case f.FailingSince != nil:
				c.Since = *f.FailingSince
			case f.LastSuccess != nil:
				c.Since = *f.LastSuccess
			}
			c.Message = fmt.Sprintf("%d consecutive rotation attempts failed (threshold %d)", f.ConsecutiveFailures, s.FailedRuns)
			if f.LastError != "" {
				c.Message += "; last error: " + f.LastError
			}
			out = append(out, c)
		}
		if exp := f.SecretTokenExpiresAt; exp != nil {
			opens := exp.Add(-s.ExpiryWarning)
			if !now.Before(opens) && (f.LastSuccess == nil || f.LastSuccess.Before(opens)) {
				out = append(out, Condition{Kind: TokenExpiring, Target: f.Target, UseCase: f.UseCase, Since: opens,
					Message: expiryMessage("the secret's token", *exp, now, f.LastSuccess)})
			}
		}
		var stuck []string
		var since time.Time
		for _, r := range f.PendingRevokes {
			at := r.RevokeAfter.Add(s.StuckRevoke)
			if now.After(at) {
				stuck = append(stuck, r.TokenID)
				if since.IsZero() || at.Before(since) {
					since = at
				}
			}
		}
		if len(stuck) > 0 {
			sort.Strings(stuck)
			out = append(out, Condition{Kind: RevokeStuck, Target: f.Target, UseCase: f.UseCase, Since: since,
				Message: fmt.Sprintf("%d replaced token(s) still live more than %s after their grace ended: %s",
					len(stuck), s.StuckRevoke, strings.Join(stuck, ", "))})
		}
	}
	for _, c := range facts.Credentials {
		if c.ExpiresAt == nil {
			continue
		}
		opens := c.ExpiresAt.Add(-s.ExpiryWarning)
		if !now.Before(opens) {
			out = append(out, Condition{Kind: CredentialExpiring, Target: c.Name, Since: opens,
				Message: expiryMessage("the daemon's Groo credential", *c.ExpiresAt, now, nil) + "; replace it before then"})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

func expiryMessage(what string, exp, now time.Time, last *time.Time) string {
	var m string
	if exp.After(now) {
		m = fmt.Sprintf("%s expires at %s (in %s)", what, exp.UTC().Format(time.RFC3339), exp.Sub(now).Round(time.Second))
	} else {
		m = fmt.Sprintf("%s expired at %s", what, exp.UTC().Format(time.RFC3339))
	}
	if last != nil {
		m += fmt.Sprintf("; last successful rotation %s", last.UTC().Format(time.RFC3339))
	} else if what == "the secret's token" {
		m += "; no successful rotation recorded"
	}
	return m
}
