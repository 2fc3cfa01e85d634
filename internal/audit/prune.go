package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/groo/pat-action/internal/groo"
)

// DefaultWriteWindow is the write window W PlanPrune assumes when given
// none (DESIGN.md: a rotation writes its token only within W of minting).
const DefaultWriteWindow = 2 * time.Minute

// PruneClockMargin is added to the write window when judging whether a
// token is safe to revoke. The audit holds no lease and is never in a
// hurry, so it is generous: an extra live token for another minute costs
// nothing, a secret holding a revoked token breaks I1.
const PruneClockMargin = time.Minute

// PruneAction is one line of a prune plan: a token to revoke, or one left
// alone (Skip) and why.
type PruneAction struct {
	TokenID  string `json:"token_id"`
	Prefix   string `json:"prefix"`
	LastFour string `json:"last_four"`
	UseCase  string `json:"use_case"` // for an orphan, its token's name
	Orphan   bool   `json:"orphan"`
	// Reason says why the token is a candidate (an extra token of a use
	// case, an orphan, the one in the secret).
	Reason     string `json:"reason"`
	Skip       bool   `json:"skip"`
	SkipReason string `json:"skip_reason,omitempty"`
}

// Revoker revokes a Groo token by id; a token already gone is success.
// *groo.Client satisfies it.
type Revoker interface {
	Revoke(ctx context.Context, cred groo.Token, id string) error
}

var _ Revoker = (*groo.Client)(nil)

// PlanPrune lists the live tokens of the report's use cases and its orphans,
// and says which of them are safe to revoke now. It never revokes the token
// in a secret, and revokes nothing of a use case when it cannot tell which
// token the secret holds. A token X other than the one in the secret is
// revoked only when:
//
//   - the secret is known to exist and what wrote it last is explained (no
//     secret-written-outside finding; a store record or a derivation says
//     which token it holds);
//   - no run can still write X: X.createdAt + W + margin is before now
//     (DESIGN.md, write window);
//   - the secret's last write came after every write of X could have
//     ended (X.createdAt + W + margin before its updated_at), so that last
//     write was not X's, whichever token the derivation picked;
//   - X's grace is over: the secret's last write + grace is past, and the
//     store's pending revoke of X, if any, is due.
//
// Orphans have no secret the tool knows of: one is revoked once no run can
// still write it. The plan lists the token in each secret too, as kept.
func PlanPrune(r Report, in Input, writeWindow, grace time.Duration) []PruneAction {
	if writeWindow <= 0 {
		writeWindow = DefaultWriteWindow
	}
	now := in.Now.UTC()
	if in.Now.IsZero() {
		now = r.GeneratedAt.UTC()
	}
	settled := writeWindow + PruneClockMargin
	inputs := map[string]UseCaseInput{}
	for _, uc := range in.UseCases {
		inputs[uc.UseCase] = uc
	}

	out := []PruneAction{}
	for _, uc := range r.UseCases {
		ui := inputs[uc.UseCase]
		pendingAfter := map[string]time.Time{}
		for _, p := range ui.PendingRevokes {
			pendingAfter[p.TokenID] = p.RevokeAfter
		}
		outside := slices.ContainsFunc(uc.Findings, func(f Finding) bool { return f.Code == CodeSecretWrittenOutside })

		for _, t := range uc.Live {
			a := PruneAction{TokenID: t.ID, Prefix: t.Prefix, LastFour: t.LastFour, UseCase: uc.UseCase}
			if t.InSecret || t.ID == uc.InSecret {
				a.Reason = "the token in the secret"
				a.Skip, a.SkipReason = true, "never revoke the token in the secret"
				out = append(out, a)
				continue
			}
			a.Reason = "extra live token of the use case: not the one in the secret"
			if uc.InSecret != "" {
				a.Reason += " (" + uc.InSecret + ")"
			}
			a.SkipReason = skipExtra(uc, t, outside, pendingAfter, now, settled, writeWindow, grace)
			a.Skip = a.SkipReason != ""
			out = append(out, a)
		}
	}
	for _, t := range r.Orphans {
		a := PruneAction{TokenID: t.ID, Prefix: t.Prefix, LastFour: t.LastFour, UseCase: t.Name, Orphan: true,
			Reason: "orphan: no configured target uses its name"}
		if ready := t.CreatedAt.Add(settled); !ready.Before(now) {
			a.Skip, a.SkipReason = true, fmt.Sprintf("created %s ago: a run may still write it (write window %s + margin %s); retry after %s",
				roundDur(now.Sub(t.CreatedAt)), writeWindow, PruneClockMargin, fmtTime(ready))
		}
		out = append(out, a)
	}
	return out
}

// skipExtra says why an extra token of a use case must stay, or "".
func skipExtra(uc UseCaseReport, t TokenRow, outside bool, pendingAfter map[string]time.Time,
	now time.Time, settled, writeWindow, grace time.Duration) string {
	switch {
	case uc.InSecretSource == InSecretNone:
		return "the secret is missing: rotate first (the rotation creates it and retires the older tokens)"
	case uc.InSecretSource != InSecretStore && uc.InSecretSource != InSecretDerived:
		return "which token the secret holds is unknown, so no token of this use case is known to be safe"
	case outside:
		return "the secret was written outside the tool, so which token it holds is a guess: rotate first"
	case uc.Secret != SecretPresent || uc.SecretUpdatedAt == nil:
		return "the secret's metadata could not be read, so its last write cannot be checked"
	}
	ready := t.CreatedAt.Add(settled)
	if !ready.Before(now) {
		return fmt.Sprintf("created %s ago: a run may still write it (write window %s + margin %s); retry after %s",
			roundDur(now.Sub(t.CreatedAt)), writeWindow, PruneClockMargin, fmtTime(ready))
	}
	updated := *uc.SecretUpdatedAt
	if !ready.Before(updated) {
		return fmt.Sprintf("the secret was last written at %s, while a run could still have been writing this token: rotate first",
			fmtTime(updated))
	}
	if end := updated.Add(grace); end.After(now) {
		return fmt.Sprintf("in its grace period until %s (grace %s after the secret's last write)", fmtTime(end), grace)
	}
	if after, ok := pendingAfter[t.ID]; ok && after.After(now) {
		return fmt.Sprintf("pending revoke not due before %s (its grace)", fmtTime(after))
	}
	return ""
}

// ApplyPrune revokes the planned tokens that are not skipped, with cred.
// One failure does not stop the others: the errors are joined. A token
// matching cred (same prefix and last four) is revoked last, so that the
// credential stays usable for the rest. It returns the ids Groo confirmed
// revoked (or already gone).
func ApplyPrune(ctx context.Context, rev Revoker, cred groo.Token, actions []PruneAction) (revoked []string, err error) {
	todo := make([]PruneAction, 0, len(actions))
	seen := map[string]bool{}
	for _, a := range actions {
		if a.Skip || a.TokenID == "" || seen[a.TokenID] {
			continue
		}
		seen[a.TokenID] = true
		todo = append(todo, a)
	}
	isCred := func(a PruneAction) bool {
		return !cred.IsZero() && a.Prefix != "" && a.LastFour != "" && a.Prefix == cred.TokenPrefix() && a.LastFour == cred.LastFour()
	}
	slices.SortStableFunc(todo, func(a, b PruneAction) int {
		ab, bb := 0, 0
		if isCred(a) {
			ab = 1
		}
		if isCred(b) {
			bb = 1
		}
		return cmp.Compare(ab, bb)
	})

	var errs []error
	for _, a := range todo {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("prune stopped before token %s: %w", a.TokenID, err))
			break
		}
		if err := rev.Revoke(ctx, cred, a.TokenID); err != nil {
			errs = append(errs, fmt.Errorf("revoke token %s of %q: %w", a.TokenID, a.UseCase, err))
			continue
		}
		revoked = append(revoked, a.TokenID)
	}
	return revoked, errors.Join(errs...)
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
