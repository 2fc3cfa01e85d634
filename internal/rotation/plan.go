package rotation

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Plan reports what Rotate would do now. It makes only reads: no mint, no
// write, no revoke, and no audit event beyond what the caller records.
func (e *Engine) Plan(ctx context.Context, req Request) (*Plan, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	cfg := e.Config.withDefaults()
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
	a := &attempt{cfg: cfg, useCase: useCase, res: &Result{}}
	p.Live = a.older(rr.tokens)

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
	add(StepWrite, "%s secret %s sealed with key %s, within %s of the mint", verb, p.Target, rr.key.KeyID, cfg.WriteWindow)
	writeAt := now // the write would start about now
	var revoke, recent []string
	for _, x := range p.Live {
		if x.CreatedAt.Add(cfg.WriteWindow + cfg.ClockMargin).Before(writeAt) {
			revoke = append(revoke, x.ID)
		} else {
			recent = append(recent, x.ID)
		}
	}
	switch {
	case len(revoke) == 0:
		add(StepRetire, "nothing to revoke")
	case req.Grace > 0:
		add(StepRetire, "revoke %s after a grace of %s", strings.Join(revoke, ", "), req.Grace)
	default:
		add(StepRetire, "revoke %s at once", strings.Join(revoke, ", "))
	}
	if len(recent) > 0 {
		add(StepRetire, "leave %s live: too recent to revoke safely (another run may still write it)", strings.Join(recent, ", "))
	}
	add(StepRecord, "record one audit event for the attempt")
	return p, nil
}
