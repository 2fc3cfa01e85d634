package rotation

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/groo/pat-action/internal/duration"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/retire"
)

// Plan reports what Rotate would do now. It makes only reads: no mint, no
// write, no revoke, and no audit event beyond what the caller records.
func (e *Engine) Plan(ctx context.Context, req Request) (*Plan, error) {
	cfg := e.Config.withDefaults()
	if err := req.validate(cfg); err != nil {
		return nil, err
	}
	useCase := req.useCase()
	rr, wg := e.startReads(ctx, req, req.Credential)
	wg.Wait()
	p := &Plan{UseCase: useCase, Target: req.Target.String()}
	if rr.userErr != nil {
		return nil, fmt.Errorf("plan %s: identify the Groo credential: %w", p.Target, rr.userErr)
	}
	if rr.tokensErr != nil {
		return nil, fmt.Errorf("plan %s: list tokens: %w", p.Target, rr.tokensErr)
	}
	if rr.keyErr != nil {
		return nil, fmt.Errorf("plan %s: public key: %w", p.Target, rr.keyErr)
	}
	if rr.metaErr == nil {
		p.Secret = rr.meta
	}
	now := cfg.Now()
	// The token a rotation would mint now is newer than anything the list
	// shows: Groo's latest time stands in for its createdAt.
	seen := retire.LatestSeen(rr.tokens)
	p.Live = liveOlder(rr.tokens, useCase, "", seen)

	add := func(step, format string, args ...any) {
		p.Steps = append(p.Steps, PlanStep{Step: step, Detail: fmt.Sprintf(format, args...)})
	}
	add(StepRead, "list the tokens named %q (%d live), identify user %s, read the public key %s of %s",
		useCase, len(p.Live), rr.user.ID, rr.key.KeyID, p.Target)
	add(StepMint, "mint a token named %q expiring at %s", useCase, now.Add(req.TTL).UTC().Format(time.RFC3339))
	add(StepVerify, "call /v1/auth/me with the new token and expect user %s", rr.user.ID)
	verb := "update"
	if rr.metaErr == nil && !rr.meta.Exists {
		verb = "create"
	}
	add(StepWrite, "%s secret %s sealed with key %s, within %s of the mint", verb, p.Target, rr.key.KeyID, duration.Format(cfg.WriteWindow))

	rule := retire.Rotation{Listed: rr.tokens, WriteStart: now, Written: now, Now: now, Grace: req.Grace, Margin: cfg.ClockMargin}
	if rr.metaErr == nil && rr.meta.Exists && !rr.meta.UpdatedAt.IsZero() {
		u := rr.meta.UpdatedAt
		rule.SecretUpdatedAt = &u
	}
	if req.KeepCredential {
		rule.Keep = func(t groo.TokenInfo) bool { return retire.Matches(t, req.Credential) }
	}
	ds := rule.Decide(p.Live)
	revoke, recent, kept := retire.IDs(ds, retire.Revoke), retire.IDs(ds, retire.TooRecent), retire.IDs(ds, retire.Keep)
	var later []string
	for _, d := range ds {
		if d.Verdict == retire.Grace {
			later = append(later, fmt.Sprintf("%s after %s", d.Token.ID, d.RevokeAfter.UTC().Format(time.RFC3339)))
		}
	}
	if len(revoke)+len(later) == 0 {
		add(StepRetire, "nothing to revoke")
	}
	if len(revoke) > 0 {
		add(StepRetire, "revoke %s at once", strings.Join(revoke, ", "))
	}
	if len(later) > 0 {
		add(StepRetire, "revoke %s (grace %s after each was replaced)", strings.Join(later, ", "), duration.Format(req.Grace))
	}
	if len(recent) > 0 {
		add(StepRetire, "leave %s live: too recent to revoke safely (another run may still write it)", strings.Join(recent, ", "))
	}
	if len(kept) > 0 {
		add(StepRetire, "keep %s: the credential this tool authenticates with", strings.Join(kept, ", "))
	}
	add(StepRecord, "record one audit event for the attempt")
	return p, nil
}
