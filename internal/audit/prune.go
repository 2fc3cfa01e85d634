package audit

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/retire"
)

// PruneClockMargin is added to a token's write window when judging whether
// its writes have ended. The audit holds no lease and is never in a hurry,
// so it is generous: an extra live token for another minute costs nothing,
// a secret holding a revoked token breaks I1.
const PruneClockMargin = time.Minute

// PruneAction is one line of a prune plan: a token to revoke, or one left
// alone (Skip) and why.
type PruneAction struct {
	TokenID  string `json:"token_id"`
	Prefix   string `json:"prefix"`
	LastFour string `json:"last_four"`
	UseCase  string `json:"use_case"` // for an orphan or an unmanaged token, its token's name
	Orphan   bool   `json:"orphan"`
	// Unmanaged marks a token the tool does not manage: revoked only with
	// Input.IncludeUnmanaged, and never the credential.
	Unmanaged bool `json:"unmanaged"`
	// Reason says why the token is a candidate (an extra token of a use
	// case, an orphan, the one in the secret).
	Reason     string `json:"reason"`
	Skip       bool   `json:"skip"`
	SkipReason string `json:"skip_reason,omitempty"`
}

// PlanPrune lists the live tokens of the report's use cases and its orphans,
// and says which of them are safe to revoke now, by the retire rule
// (internal/retire). It never revokes a token that may be in the secret:
// the store's record of the last write (N) is trusted only when the
// secret's updated_at agrees with it, and even then every token whose
// writes had not ended when N was minted may have landed after N, so it
// stays. Each token is judged by its own writer's write window, which its
// description carries. keep, when set, marks tokens never revoked (the
// credential the tool authenticates with).
//
// Orphans have no secret the tool knows of: one is revoked once no run can
// still write it, judged on Groo's clock. The plan lists the token in each
// secret too, as kept. Unmanaged tokens come last: kept unless
// in.IncludeUnmanaged, and the credential always (keep, or in.Credential).
func PlanPrune(r Report, in Input, grace time.Duration, keep func(groo.TokenInfo) bool) []PruneAction {
	now := in.Now.UTC()
	if in.Now.IsZero() {
		now = r.GeneratedAt.UTC()
	}
	inputs := map[string]UseCaseInput{}
	for _, uc := range in.UseCases {
		inputs[uc.UseCase] = uc
	}
	byID := map[string]groo.TokenInfo{}
	for _, t := range in.Tokens {
		byID[t.ID] = t
	}

	out := []PruneAction{}
	for _, uc := range r.UseCases {
		ui := inputs[uc.UseCase]
		pendingAfter := map[string]time.Time{}
		for _, p := range ui.PendingRevokes {
			pendingAfter[p.TokenID] = p.RevokeAfter
		}
		rule := retire.Prune{Listed: in.Tokens, Now: now, Grace: grace, Margin: PruneClockMargin, Keep: keep,
			PendingAfter: func(id string) (time.Time, bool) { t, ok := pendingAfter[id]; return t, ok }}
		unknownWhy := ""
		rule.Secret, unknownWhy = recordedSecret(uc, ui, byID)

		var live []groo.TokenInfo
		for _, t := range uc.Live {
			live = append(live, byID[t.ID])
		}
		for i, d := range rule.Decide(live) {
			t := uc.Live[i]
			a := PruneAction{TokenID: t.ID, Prefix: t.Prefix, LastFour: t.LastFour, UseCase: uc.UseCase}
			switch {
			case t.InSecret || t.ID == uc.InSecret:
				a.Reason = "the token in the secret"
				a.Skip, a.SkipReason = true, "never revoke the token in the secret"
				out = append(out, a)
				continue
			}
			a.Reason = "extra live token of the use case: not the one in the secret"
			if uc.InSecret != "" {
				a.Reason += " (" + uc.InSecret + ")"
			}
			switch d.Verdict {
			case retire.Revoke:
			case retire.TooRecent:
				a.Skip, a.SkipReason = true, d.Why
				if rule.Secret == nil {
					a.SkipReason = unknownWhy
				}
			default:
				a.Skip, a.SkipReason = true, d.Why
			}
			out = append(out, a)
		}
	}
	for _, t := range r.Orphans {
		a := PruneAction{TokenID: t.ID, Prefix: t.Prefix, LastFour: t.LastFour, UseCase: t.Name, Orphan: true,
			Reason: "orphan: no configured target uses its name"}
		if d := retire.Orphan(byID[t.ID], in.Tokens, PruneClockMargin, keep); d.Verdict != retire.Revoke {
			a.Skip, a.SkipReason = true, d.Why
		}
		out = append(out, a)
	}
	for _, t := range r.Unmanaged {
		a := PruneAction{TokenID: t.ID, Prefix: t.Prefix, LastFour: t.LastFour, UseCase: t.Name, Unmanaged: true,
			Reason: "unmanaged token (included with --include-unmanaged): it may be in any secret the tool does not know"}
		switch {
		case (keep != nil && keep(byID[t.ID])) || in.Credential.matches(byID[t.ID]):
			a.Skip, a.SkipReason = true, "the credential this tool authenticates with is never revoked by it"
		case !in.IncludeUnmanaged:
			a.Skip, a.SkipReason = true, "unmanaged token: it may be in any secret the tool does not know; revoked only with --include-unmanaged"
		}
		out = append(out, a)
	}
	return out
}

// recordedSecret is the store's record of what the secret holds, when the
// report found it consistent with the secret's updated_at; otherwise nil and
// why not.
func recordedSecret(uc UseCaseReport, ui UseCaseInput, byID map[string]groo.TokenInfo) (*retire.Secret, string) {
	outside := slices.ContainsFunc(uc.Findings, func(f Finding) bool { return f.Code == CodeSecretWrittenOutside })
	switch {
	case uc.InSecretSource == InSecretNone:
		return nil, "the secret is missing: rotate first (the rotation creates it and retires the older tokens)"
	case outside:
		return nil, "the secret was written outside the tool, so which token it holds is a guess: rotate first"
	case uc.Secret != SecretPresent || uc.SecretUpdatedAt == nil:
		return nil, "the secret's metadata could not be read, so its last write cannot be checked"
	case uc.InSecretSource != InSecretStore:
		return nil, "no store record that agrees with the secret's last write says which token it holds: rotate first"
	}
	cur, ok := byID[uc.InSecret]
	if !ok || cur.CreatedAt.IsZero() {
		return nil, "Groo does not list the recorded token with its creation time, so no other token is known to be safe"
	}
	var written time.Time
	for _, e := range ui.History {
		if e.Outcome == OutcomeSucceeded && e.NewTokenID == cur.ID {
			if w := eventWrittenAt(e); w.After(written) {
				written = w
			}
		}
	}
	if written.IsZero() {
		return nil, "the store has no successful write of the recorded token: rotate first"
	}
	return &retire.Secret{Current: cur, WrittenAt: written}, ""
}

// RenderPrunePlan writes a plan for a terminal: one line per token, what
// will happen to it and why.
func RenderPrunePlan(w io.Writer, actions []PruneAction) error {
	ew := &renderWriter{w: w}
	n := 0
	for _, a := range actions {
		if !a.Skip {
			n++
		}
	}
	fmt.Fprintf(ew, "Prune plan: %s to revoke, %d left alone\n", pluralize(n, "token"), len(actions)-n)
	if len(actions) == 0 {
		return ew.err
	}
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTION\tUSE CASE\tID\tPREFIX\tLAST4\tWHY")
	for _, a := range actions {
		act, why := "revoke", a.Reason
		if a.Skip {
			act, why = "keep", a.SkipReason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", act, termSafe(a.UseCase), termSafe(a.TokenID), orDash(termSafe(a.Prefix)),
			orDash(termSafe(a.LastFour)), termSafe(why))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("render prune plan: %w", err)
	}
	if ew.err != nil {
		return fmt.Errorf("render prune plan: %w", ew.err)
	}
	return nil
}
