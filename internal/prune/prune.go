// Package prune carries out an audit's prune plan (audit.PlanPrune): the
// network side of `pat-rotator audit --prune --yes`. The audit package stays
// a model and its renderers; deciding what is safe to revoke is the retire
// rule's (internal/retire), revoking it is this package's.
package prune

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/groo"
)

// Revoker revokes a Groo token by id; a token already gone is success.
type Revoker interface {
	Revoke(ctx context.Context, cred groo.Token, id string) error
}

var _ Revoker = (*groo.Client)(nil)

// Apply revokes the planned tokens that are not skipped, with cred.
// One failure does not stop the others: the errors are joined. A token
// matching cred (same prefix and last four) is revoked last, so that the
// credential stays usable for the rest. It returns the ids Groo confirmed
// revoked (or already gone).
func Apply(ctx context.Context, rev Revoker, cred groo.Token, actions []audit.PruneAction) (revoked []string, err error) {
	todo := make([]audit.PruneAction, 0, len(actions))
	seen := map[string]bool{}
	for _, a := range actions {
		if a.Skip || a.TokenID == "" || seen[a.TokenID] {
			continue
		}
		seen[a.TokenID] = true
		todo = append(todo, a)
	}
	isCred := func(a audit.PruneAction) bool {
		return !cred.IsZero() && a.Prefix != "" && a.LastFour != "" && a.Prefix == cred.TokenPrefix() && a.LastFour == cred.LastFour()
	}
	slices.SortStableFunc(todo, func(a, b audit.PruneAction) int {
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
